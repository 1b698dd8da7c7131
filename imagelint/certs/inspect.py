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

from .load import CertRecord, LoadResult, load_certificates

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
    if cert.signature_hash in WEAK_HASHES and not cert.self_signed:
        add("weak-signature", f"signed with {cert.signature_hash.upper()} (CA signature digest algorithm too weak)")
    return problems


def file_problems(path: str, data: bytes, debian_anchor: bool = False, at: datetime | None = None,
                  expiring_days: int = 30, loaded: LoadResult | None = None) -> list[CertProblem]:
    """Problems of one file holding certificates. `debian_anchor`: it is a source for Debian/Alpine
    update-ca-certificates (/usr/local/share/ca-certificates/*.crt)."""
    loaded = loaded or load_certificates(data, path)
    problems: list[CertProblem] = []
    if loaded.private_keys:
        kinds = ", ".join(sorted(set(loaded.private_keys)))
        problems.append(CertProblem("private-key", f"{path}: contains private key material ({kinds})", None, "error"))
    if "bom" in loaded.notes:
        problems.append(CertProblem("utf8-bom", f"{path}: starts with a UTF-8 BOM; keytool rejects it "
                                                "(Input not an X.509 certificate)"))
    if "trusted-certificate" in loaded.notes:
        problems.append(CertProblem("trusted-certificate", f"{path}: OpenSSL 'TRUSTED CERTIFICATE' format; only "
                                                           "OpenSSL and RHEL's ca-trust/source read it", None, "info"))
    if debian_anchor:
        if loaded.container == "der":
            problems.append(CertProblem("der-in-crt", f"{path}: DER (binary) certificate; update-ca-certificates "
                                                      "appends the raw bytes and OpenSSL never trusts it "
                                                      "(convert: openssl x509 -inform DER -out x.crt)", None, "error"))
        elif len(loaded.certificates) > 1:
            problems.append(CertProblem("multiple-certs", f"{path}: {len(loaded.certificates)} certificates in one "
                                                          "file; rehash skips it (CApath clients miss them) and "
                                                          "Java imports only the first", None, "warning"))
    if not loaded.certificates and not loaded.private_keys:
        problems.append(CertProblem("no-certificate", f"{path}: no certificate could be read", None, "error"))
    for cert in loaded.certificates:
        problems.extend(certificate_problems(cert, at, expiring_days, as_anchor=True))
    return problems
