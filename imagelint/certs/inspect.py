"""Per-certificate and per-file problems, shared by `lint` (build context) and `scan` (images).

Pure functions: bytes and records in, `CertProblem`s out. Classification follows
RFC 5280 and the pyca/cryptography x509 API (CHANGELOG 39.0.0-42.0.0); the Debian tooling facts (only
*.crt is read, one certificate per file for openssl rehash, DER is not PEM) are from update-ca-certificates(8)
as observed with ca-certificates 20230311+deb12u1; keytool rejects a UTF-8 BOM (observed with keytool 17).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from .load import UNSUPPORTED_KEY, CertRecord, LoadResult, load_certificates

WEAK_HASHES = {"sha1", "md5"}
MIN_RSA_BITS = 2048


@dataclass(frozen=True)
class CertProblem:
    code: str
    message: str
    certificate: dict[str, Any] | None = None
    severity: str = "warning"  # error | warning | info
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


def certificate_problems(cert: CertRecord, at: datetime | None = None, expiring_days: int = 30,
                         as_anchor: bool = True) -> list[CertProblem]:
    """Problems of one certificate. `as_anchor`: it sits in a trust store (so it must be a CA)."""
    at = at or datetime.now(timezone.utc)
    summary = cert.summary()
    problems: list[CertProblem] = []

    def add(code: str, message: str, severity: str = "warning") -> None:
        problems.append(CertProblem(code, f"{cert.label}: {message}", summary, severity))

    if at > cert.not_after:
        add("expired", f"expired on {cert.not_after:%Y-%m-%d}", "error")
    elif at < cert.not_before:
        add("not-yet-valid", f"not valid before {cert.not_before:%Y-%m-%d}", "error")
    elif cert.not_after - at <= timedelta(days=expiring_days):
        days = max(0, (cert.not_after - at).days)
        add("expiring", f"expires in {days} day(s), on {cert.not_after:%Y-%m-%d}")
    if as_anchor:
        if cert.self_signed and cert.is_ca is not True:
            add("self-signed-leaf", "self-signed certificate that is not a CA: trusting it pins one server's "
                                    "certificate, it cannot issue others")
        elif cert.is_ca is not True and not (cert.version == 1 and cert.self_signed):
            add("leaf-as-anchor", "not a CA (basicConstraints CA:FALSE or absent): the server's certificate was "
                                  "installed instead of the CA that issued it", "error")
    if cert.key_type == "rsa" and cert.key_bits is not None and cert.key_bits < MIN_RSA_BITS:
        add("weak-key", f"RSA key of {cert.key_bits} bits (< {MIN_RSA_BITS}; rejected at OpenSSL security level 2)")
    elif cert.key_type == "dsa":
        add("weak-key", "DSA key (no longer accepted for TLS)")
    elif cert.key_type.startswith(UNSUPPORTED_KEY):
        add("unsupported-key", f"{cert.key_type}: counted as a certificate, but no signature made with this key "
                               "is checked here", "info")
    if cert.signature_hash in WEAK_HASHES and not cert.self_signed:
        add("weak-signature", f"signed with {cert.signature_hash.upper()} (CA signature digest algorithm too weak)")
    return problems


CERT_EXTENSIONS = (".crt", ".pem", ".cer", ".der", ".ca-bundle")


def file_problems(path: str, data: bytes, *, in_trust_dir: bool = False, keytool_input: bool = False,
                  java_reads: bool = False, concatenated: bool = False, at: datetime | None = None,
                  expiring_days: int = 30, loaded: LoadResult | None = None) -> list[CertProblem]:
    """Problems of one file that is installed as a trust anchor or read as one.

    `in_trust_dir`: it sits where the OS or a trust variable reads anchors; `keytool_input`: keytool
    imports it; `java_reads`: a JVM reads the anchors; `concatenated`: the update tool appends the
    file to the bundle as it is (Debian/Alpine update-ca-certificates on a `.crt`). A problem about one
    certificate carries its record in `extra["record"]`; messages never hold key material."""
    loaded = loaded or load_certificates(data, path)
    as_anchor = in_trust_dir or keytool_input
    problems: list[CertProblem] = []

    def add(code: str, message: str, severity: str) -> None:
        problems.append(CertProblem(code, message, None, severity))

    if not loaded.certificates:
        if in_trust_dir and loaded.private_keys:
            add("private-key", "it holds a private key, not a certificate", "error")
        elif in_trust_dir and path.lower().endswith(CERT_EXTENSIONS):
            # only a file named as a certificate: a README in the directory is not one
            add("no-certificate", "no certificate could be read from it", "error")
        return problems
    if loaded.private_keys and as_anchor:
        add("private-key", "a private key sits inside this certificate file", "error")
    if "bom" in loaded.notes and (keytool_input or java_reads and as_anchor):
        add("utf8-bom", "starts with a UTF-8 BOM, which keytool and Java reject (Input not an X.509 certificate)",
            "warning")
    if concatenated:
        if loaded.container == "der":
            add("der-in-crt", "DER (binary) content in a .crt: update-ca-certificates appends the raw bytes and "
                              "OpenSSL never trusts it (convert with openssl x509 -inform DER)", "error")
        elif len(loaded.certificates) > 1:
            add("multiple-certs", f"{len(loaded.certificates)} certificates in one .crt: rehash skips the file "
                                  "(CApath clients miss them) and Java imports only the first; use one certificate "
                                  "per file", "warning")
    elif keytool_input and len(loaded.certificates) > 1:
        add("multiple-certs", f"{len(loaded.certificates)} certificates in one file: keytool -importcert imports "
                              "only the first", "warning")
    for cert in loaded.certificates:
        for problem in certificate_problems(cert, at, expiring_days, as_anchor=as_anchor):
            if problem.code == "weak-signature" and cert.subject == cert.issuer:
                continue  # a root's own signature is never checked (it is the anchor)
            problems.append(CertProblem(problem.code, problem.message, problem.certificate, problem.severity,
                                        {"record": cert}))
    return problems
