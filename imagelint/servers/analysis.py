"""What one configured endpoint serves, checked: its files read from the view, then the one shared
analysis of served certificates (certs/served.py)."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Sequence

from ..certs.load import CertRecord, looks_like_private_key
from ..certs.served import ServedProblem, keystore_entry, served_problems
from ..fs import FileView
from .common import TLSEndpoint, fetch_all, is_file, read_bytes

MAX_CERT_FILE_BYTES = 1024 * 1024
SERVER_LABEL = {"nginx": "nginx", "apache": "httpd", "haproxy": "haproxy", "caddy": "caddy", "tomcat": "Tomcat"}


def endpoint_files(endpoint: TLSEndpoint) -> list[str]:
    """Every file the endpoint may read (to fetch them from an image in one pass)."""
    return [p for p in (endpoint.cert_file, endpoint.key_file, endpoint.chain_file, *endpoint.key_candidates) if p]


def key_source(view: FileView, endpoint: TLSEndpoint) -> str | None:
    """The file the server takes its private key from (None: it has none to take)."""
    if endpoint.key_file:
        return endpoint.key_file
    if endpoint.keystore_password is not None:
        return endpoint.cert_file  # Tomcat: the key entry of the keystore
    data = read_bytes(view, endpoint.cert_file, MAX_CERT_FILE_BYTES)
    if data is not None and looks_like_private_key(data):
        return endpoint.cert_file
    return next((c for c in endpoint.key_candidates if is_file(view, c)), None)


def endpoint_problems(view: FileView, endpoint: TLSEndpoint, *, trusted: Sequence[CertRecord] = (),
                      at: datetime | None = None, expiring_days: int = 30,
                      where: str = "the image") -> list[ServedProblem]:
    """Problems of what `endpoint` serves; a configured file `view` lacks is `server-cert-missing`."""
    fetch_all(view, endpoint_files(endpoint))
    daemon = SERVER_LABEL.get(endpoint.server, endpoint.server)
    context = {"server": endpoint.server, "config": endpoint.config, "line": endpoint.line,
               "cert_file": endpoint.cert_file, "key_file": endpoint.key_file, "chain_file": endpoint.chain_file,
               "names": list(endpoint.names), "listen": list(endpoint.listen)}
    missing: list[ServedProblem] = []
    # Tomcat keeps running and its port open: the connector is what fails (observed with tomcat10 10.1).
    stops = "its TLS connector fails, every handshake with it fails" if endpoint.server == "tomcat" else \
        f"{daemon} will not start"

    def load(path: str | None, role: str, directive: str) -> bytes | None:
        if path is None:
            return None
        data = read_bytes(view, path, MAX_CERT_FILE_BYTES)
        if data is None:
            state = "is not in" if view.info(path) is None else "is not a readable file in"
            missing.append(ServedProblem(
                "server-cert-missing", "error",
                f"{directive} {path} ({endpoint.where}) {state} {where}: {stops} "
                f"({refusal(endpoint.server, role, directive, path)})",
                None, {"problem": "missing-file", "role": role, "file": path, **context}))
        return data

    cert = load(endpoint.cert_file, "certificate", endpoint.directive or "certificate")
    key_directive = {"nginx": "ssl_certificate_key", "apache": "SSLCertificateKeyFile",
                     "tomcat": "certificateKeyFile"}.get(endpoint.server, "key")
    chain_directive = "certificateChainFile" if endpoint.server == "tomcat" else "SSLCertificateChainFile"
    key = load(endpoint.key_file, "key", key_directive) if endpoint.key_file else None
    chain = load(endpoint.chain_file, "chain", chain_directive) if endpoint.chain_file else None
    if cert is None:
        return missing
    if endpoint.keystore_password is not None:
        opened = keystore_entry(cert, endpoint.keystore_password, endpoint.keystore_alias)
        if opened is None:
            return [ServedProblem(
                "server-cert-missing", "error",
                f"{daemon} ({endpoint.where}): {endpoint.cert_file} does not open with the configured "
                "certificateKeystorePassword or holds no key entry: the TLS connector does not start",
                None, {"problem": "no-private-key", "file": endpoint.cert_file, **context})]
        cert, key = opened
        endpoint = replace(endpoint, key_candidates=())
    # A missing key or chain file stops the server; what the certificate itself has wrong stays true.
    key_from = endpoint.key_file
    key_missing = endpoint.key_file is not None and key is None
    if key is None and not key_missing:
        # Apache and HAProxy: the key in the certificate file; HAProxy also tries <file>.key.
        key, key_from = cert, endpoint.cert_file
        if not looks_like_private_key(cert):
            beside = next((c for c in endpoint.key_candidates if is_file(view, c)), None)
            if beside is not None:
                key, key_from = read_bytes(view, beside, MAX_CERT_FILE_BYTES) or b"", beside
    problems = served_problems(cert, key, chain_pem=chain or b"", names=endpoint.names, trusted=trusted, at=at,
                               expiring_days=expiring_days, source=endpoint.cert_file,
                               chain_source=endpoint.chain_file or "", key_source=key_from or "")
    return missing + [ServedProblem(p.category, p.severity, _located(p, endpoint, daemon), p.fingerprint,
                                    {**p.properties, **context, "key_from": key_from}) for p in problems]


def refusal(server: str, role: str, directive: str, path: str) -> str:
    """What the server prints when a configured file is missing (observed with nginx 1.22,
    apache2 2.4 and haproxy 2.6 on Debian 12; tests/test_servers_real.py)."""
    if server == "nginx":
        return f'cannot load certificate{" key" if role == "key" else ""} "{path}"'
    if server == "apache":
        return f"{directive}: file '{path}' does not exist or is empty"
    if server == "caddy":
        return f"open {path}: no such file or directory"
    if server == "tomcat":
        return f"java.io.FileNotFoundException: {path} (No such file or directory)"
    return f"unable to stat SSL certificate from file '{path}'"


def _located(problem: ServedProblem, endpoint: TLSEndpoint, daemon: str) -> str:
    """The message with where the server is told to serve it."""
    if problem.problem == "no-private-key" and endpoint.server == "haproxy" and endpoint.key_candidates:
        return (f"{endpoint.cert_file} ({endpoint.where}) holds no private key and there is no "
                f"{' or '.join(endpoint.key_candidates)}: haproxy will not start "
                f"(\"No Private Key found in '{endpoint.key_candidates[-1]}'\")")
    return f"{daemon} ({endpoint.where}): {problem.message}"


def first_certificate(view: FileView, path: str) -> CertRecord | None:
    from ..certs.load import load_certificates

    data = read_bytes(view, path, MAX_CERT_FILE_BYTES)
    if data is None:
        return None
    certificates = load_certificates(data, path).certificates
    return certificates[0] if certificates else None


def endpoints_serving(view: FileView, endpoints: Sequence[TLSEndpoint], leaf: CertRecord,
                      port: int | None = None, host: str | None = None) -> tuple[list[TLSEndpoint], str]:
    """The endpoints that serve `leaf` (the certificate a handshake presented) and how they were
    matched: "certificate" when their file starts with that very leaf (those on `port` first);
    else "name" (a configured name is `host`) or "port" (they listen on `port`): the image then
    configures a different certificate than the one the live server presented."""
    from ..certs.served import served_names

    fetch_all(view, [e.cert_file for e in endpoints])
    found = [e for e in endpoints
             if (first := first_certificate(view, e.cert_file)) is not None
             and first.fingerprint_sha256 == leaf.fingerprint_sha256]
    if found:
        return sorted(found, key=lambda e: port is not None and port not in e.ports()), "certificate"
    if host:
        named = [e for e in endpoints if host.lower() in served_names(e.names)]
        if named:
            return named, "name"
    if port is not None:
        listening = [e for e in endpoints if port in e.ports()]
        if listening:
            return listening, "port"
    return [], "none"
