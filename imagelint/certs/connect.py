"""Fetch the chain a server presents: one TLS handshake, no verification, nothing sent after it.

Verification is off on purpose: the point is to judge the chain offline, per runtime. The stdlib
exposes the presented chain as `SSLSocket.get_unverified_chain()` from 3.13; 3.10-3.12 have the
same method on the private `_sslobj` (checked on 3.11). If neither exists, `openssl s_client
-showcerts` is the fallback.
"""
from __future__ import annotations

import socket
import ssl
import subprocess

from ..findings import ImagelintError


def fetch_chain(host: str, port: int, server_name: str | None = None, timeout: float = 10.0) -> list[bytes]:
    """DER certificates as the server sent them (leaf first)."""
    server_name = server_name or host
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    target = f"{host}:{port}"
    try:
        raw = socket.create_connection((host, port), timeout=timeout)
    except socket.timeout:
        raise ImagelintError(f"--connect {target}: timed out after {timeout:g}s while connecting") from None
    except ConnectionRefusedError:
        raise ImagelintError(f"--connect {target}: connection refused") from None
    except socket.gaierror as exc:
        raise ImagelintError(f"--connect {target}: cannot resolve {host} ({exc.strerror})") from None
    except OSError as exc:
        raise ImagelintError(f"--connect {target}: {exc.strerror or exc}") from None
    try:
        raw.settimeout(timeout)
        sni = None if _is_ip(server_name) else server_name
        with context.wrap_socket(raw, server_hostname=sni) as tls:
            chain = _unverified_chain(tls)
            if chain is None:
                return _s_client_chain(host, port, server_name, timeout)
            return chain
    except socket.timeout:
        raise ImagelintError(f"--connect {target}: timed out after {timeout:g}s waiting for the TLS handshake") from None
    except ssl.SSLError as exc:
        raise ImagelintError(f"--connect {target}: TLS handshake failed: {exc.reason or exc}") from None
    except OSError as exc:
        raise ImagelintError(f"--connect {target}: {exc.strerror or exc}") from None
    finally:
        raw.close()


def _is_ip(name: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(name.strip("[]"))
        return True
    except ValueError:
        return False


def _unverified_chain(tls: ssl.SSLSocket) -> list[bytes] | None:
    getter = getattr(tls, "get_unverified_chain", None) or getattr(getattr(tls, "_sslobj", None),
                                                                    "get_unverified_chain", None)
    if getter is None:
        return None
    chain = getter() or []
    out = []
    for cert in chain:
        if isinstance(cert, bytes):
            out.append(cert)
        else:  # _ssl.Certificate (3.10-3.12)
            out.append(cert.public_bytes(ssl._ssl.ENCODING_DER))  # type: ignore[attr-defined]
    return out


def _s_client_chain(host: str, port: int, server_name: str, timeout: float) -> list[bytes]:
    from .load import load_certificates
    from cryptography.hazmat.primitives.serialization import Encoding

    args = ["openssl", "s_client", "-connect", f"{host}:{port}", "-showcerts"]
    if not _is_ip(server_name):
        args += ["-servername", server_name]
    try:
        done = subprocess.run(args, input=b"", capture_output=True, timeout=timeout, env={"PATH": "/usr/bin:/bin"})
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ImagelintError(f"--connect {host}:{port}: openssl s_client failed: {exc}") from None
    records = load_certificates(done.stdout).certificates
    if not records:
        raise ImagelintError(f"--connect {host}:{port}: the server sent no certificate")
    return [r.cert.public_bytes(Encoding.DER) for r in records]
