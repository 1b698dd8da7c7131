"""A throw-away PKI for trust tests: root -> intermediate -> leaves, plus every broken variant
the incident and issue 6 need. Certificates are real (cryptography) and served by real TLS servers.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
DAY = dt.timedelta(days=1)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "imagelint test"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


@dataclass
class Issued:
    cert: x509.Certificate
    key: object

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())


def make_cert(cn: str, issuer: Issued | None = None, *, ca: bool = False, path_length: int | None = None,
              dns: tuple[str, ...] = (), ips: tuple[str, ...] = (), not_before: dt.datetime | None = None,
              not_after: dt.datetime | None = None, key_usage: bool = True, key_ids: bool = True,
              bc: bool | None = True, bc_critical: bool = True, rsa_bits: int | None = None, aia: str | None = None) -> Issued:
    """One certificate. `issuer=None` makes it self-signed. Flags strip extensions to mimic
    hand-rolled private CAs (no keyUsage, no SKI/AKI, non-critical basicConstraints)."""
    key = rsa.generate_private_key(65537, rsa_bits) if rsa_bits else ec.generate_private_key(ec.SECP256R1())
    signer_key = issuer.key if issuer else key
    issuer_name = issuer.cert.subject if issuer else _name(cn)
    builder = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(issuer_name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(not_before or NOW - DAY).not_valid_after(not_after or NOW + 365 * DAY))
    if bc:
        builder = builder.add_extension(x509.BasicConstraints(ca=ca, path_length=path_length if ca else None),
                                        critical=bc_critical)
    if key_usage:
        if ca:
            usage = x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                  data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                  crl_sign=True, encipher_only=False, decipher_only=False)
        else:
            usage = x509.KeyUsage(digital_signature=True, content_commitment=False,
                                  key_encipherment=rsa_bits is not None, data_encipherment=False,
                                  key_agreement=False, key_cert_sign=False, crl_sign=False,
                                  encipher_only=False, decipher_only=False)
        builder = builder.add_extension(usage, critical=True)
    if key_ids:
        builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        if issuer is not None or not ca:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_key.public_key()), critical=False)
    if not ca:
        builder = builder.add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                                        critical=False)
    if issuer is not None and not ca and aia:
        builder = builder.add_extension(x509.AuthorityInformationAccess([x509.AccessDescription(
            x509.oid.AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier(aia))]), critical=False)
    names = [x509.DNSName(d) for d in dns] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return Issued(builder.sign(signer_key, hashes.SHA256()), key)


@dataclass
class PKI:
    """root -> int -> leaf plus the broken variants. Write it with `write(dir)`."""

    root: Issued
    intermediate: Issued
    leaf: Issued
    expired_leaf: Issued  # the incident: a 1-day certificate that expired overnight
    wrong_host_leaf: Issued
    self_signed_leaf: Issued
    legacy_root: Issued  # a CA without keyUsage, SKI/AKI, basicConstraints not critical
    legacy_leaf: Issued
    other_root: Issued  # a CA the image does not trust
    other_leaf: Issued
    cn_only_leaf: Issued  # the host name only in the subject CN, no subjectAltName (pre-2017 style)
    files: dict[str, Path] = field(default_factory=dict)

    def write(self, directory: Path) -> dict[str, Path]:
        directory.mkdir(parents=True, exist_ok=True)
        blobs = {
            "root.pem": self.root.pem,
            "int.pem": self.intermediate.pem,
            "legacy-root.pem": self.legacy_root.pem,
            "other-root.pem": self.other_root.pem,
            "self-signed.pem": self.self_signed_leaf.pem,
            # Chains as servers present them (leaf first).
            "chain-full.pem": self.leaf.pem + self.intermediate.pem,
            "chain-with-root.pem": self.leaf.pem + self.intermediate.pem + self.root.pem,
            "chain-leaf-only.pem": self.leaf.pem,
            "chain-expired.pem": self.expired_leaf.pem + self.intermediate.pem,
            "chain-wrong-host.pem": self.wrong_host_leaf.pem + self.intermediate.pem,
            "chain-self-signed.pem": self.self_signed_leaf.pem,
            "chain-legacy.pem": self.legacy_leaf.pem,
            "chain-other.pem": self.other_leaf.pem,
            "chain-cn-only.pem": self.cn_only_leaf.pem + self.intermediate.pem,
        }
        keys = {
            "leaf.key": self.leaf.key_pem, "expired.key": self.expired_leaf.key_pem,
            "wrong-host.key": self.wrong_host_leaf.key_pem, "self-signed.key": self.self_signed_leaf.key_pem,
            "legacy.key": self.legacy_leaf.key_pem, "other.key": self.other_leaf.key_pem,
            "cn-only.key": self.cn_only_leaf.key_pem,
        }
        for name, blob in {**blobs, **keys}.items():
            (directory / name).write_bytes(blob)
            self.files[name] = directory / name
        return self.files


def make_pki(host: str = "localhost") -> PKI:
    sans = dict(dns=(host,), ips=("127.0.0.1",))
    # Leaves under the intermediate name their issuer (AIA caIssuers), as managed CAs do.
    from_int = dict(aia="http://pki.invalid/int.crt")
    root = make_cert("Test Root CA", ca=True)
    intermediate = make_cert("Test Intermediate CA", root, ca=True, path_length=0)
    legacy_root = make_cert("Legacy Corp CA", ca=True, key_usage=False, key_ids=False, bc_critical=False)
    other_root = make_cert("Unrelated Root CA", ca=True)
    return PKI(
        root=root,
        intermediate=intermediate,
        leaf=make_cert("orders-api", intermediate, **sans, **from_int),
        expired_leaf=make_cert("orders-api", intermediate, not_before=NOW - 2 * DAY, not_after=NOW - DAY,
                               **sans, **from_int),
        wrong_host_leaf=make_cert("other.test", intermediate, dns=("other.test",), **from_int),
        self_signed_leaf=make_cert("orders-api self-signed", None, **sans),
        legacy_root=legacy_root,
        legacy_leaf=make_cert("orders-api", legacy_root, key_ids=False, **sans),
        other_root=other_root,
        other_leaf=make_cert("orders-api", other_root, **sans),
        cn_only_leaf=make_cert(host, intermediate, **from_int),
    )


class TLSServer:
    """A real TLS server on 127.0.0.1 presenting `chain_file` (leaf first). Answers each
    connection with a tiny HTTP response so real clients (curl, node, java) finish cleanly."""

    def __init__(self, chain_file: Path, key_file: Path):
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(str(chain_file), str(key_file))
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> "TLSServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self.sock.close()
        self.thread.join(timeout=5)

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        try:
            with self.context.wrap_socket(conn, server_side=True) as tls:
                try:
                    tls.recv(4096)
                    tls.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
                except (OSError, ssl.SSLError):
                    pass
        except (OSError, ssl.SSLError):
            pass  # clients that reject the chain abort the handshake: expected
        finally:
            conn.close()


# GOST R 34.10-2012 (RFC 9215) and SM2 (GB/T 32918, OID 1.2.156.10197.1.301) CA certificates, as
# found in national and corporate bundles. cryptography parses them but has no key type for them.
GOST_2012_256 = ("1.2.643.7.1.1.1.1", "1.2.643.7.1.2.1.1.1", "1.2.643.7.1.1.3.2")  # key, params, signature
SM2 = ("1.2.840.10045.2.1", "1.2.156.10197.1.301", "1.2.156.10197.1.501")  # id-ecPublicKey on the SM2 curve


def unknown_algorithm_ca(cn: str, algorithm: tuple[str, str, str] = GOST_2012_256) -> bytes:
    """DER of a self-issued CA whose key and signature use `algorithm` (key OID, parameters OID,
    signature OID): a real P-256 CA with its algorithm identifiers rewritten (the signature no
    longer verifies, as no library here can check a GOST signature anyway)."""
    from pyasn1.codec.der import decoder, encoder
    from pyasn1.type import univ
    from pyasn1_modules import rfc5280

    base = make_cert(cn, ca=True)
    cert, _ = decoder.decode(base.der, asn1Spec=rfc5280.Certificate())
    key_oid, params_oid, sig_oid = algorithm
    tbs = cert["tbsCertificate"]
    spki = tbs["subjectPublicKeyInfo"]
    spki["algorithm"]["algorithm"] = univ.ObjectIdentifier(key_oid)
    params = univ.Sequence()
    params.setComponentByPosition(0, univ.ObjectIdentifier(params_oid))
    spki["algorithm"]["parameters"] = encoder.encode(params) if key_oid != SM2[0] else \
        encoder.encode(univ.ObjectIdentifier(params_oid))
    for holder in (tbs["signature"], cert["signatureAlgorithm"]):
        holder["algorithm"] = univ.ObjectIdentifier(sig_oid)  # ecdsa-with-SHA256 had no parameters
    return encoder.encode(cert)


def unknown_algorithm_ca_pem(cn: str, algorithm: tuple[str, str, str] = GOST_2012_256) -> bytes:
    import base64

    body = base64.encodebytes(unknown_algorithm_ca(cn, algorithm)).replace(b"\n", b"")
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return b"-----BEGIN CERTIFICATE-----\n" + b"\n".join(lines) + b"\n-----END CERTIFICATE-----\n"
