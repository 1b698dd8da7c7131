"""What a TLS server presents: problems of a served certificate file, its key and its chain file.

One implementation for every input that configures a server certificate: nginx/Apache/HAProxy
configurations inside images and build contexts, and Kubernetes `kubernetes.io/tls` Secrets.
Bytes in, `ServedProblem`s out; no I/O. Private keys are compared by public key only: their
bytes never reach a message or a property.

Categories (one each; `properties["problem"]` says which variant), in the order a fix addresses them:
  cert-expired           `expired` or `not-yet-valid`: a certificate the server sends is outside its
                         dates now (error). Clients fail with "certificate has expired".
  cert-short-lived       `short-lived`: the leaf's whole validity is 48 h or less (the incident's
                         1-day certificate); `expiring`: a served certificate ends within
                         `expiring_days` (both warnings: it works today, and stops).
  cert-key-mismatch      `key-mismatch`: the key's public key is not the leaf's; `leaf-not-first`:
                         the key belongs to a later certificate of the file (nginx, Apache, HAProxy
                         and Caddy take the first one as the server's). nginx, HAProxy and Caddy
                         refuse to start, Apache fails at start (AH02565).
  cert-chain-incomplete  `leaf-only`/`missing-intermediate`: the leaf's issuer is neither in the served
                         files nor in `trusted`, and the leaf is not self-signed. curl, OpenSSL,
                         Python, Go, Java and Node do not fetch intermediates.
  cert-san-mismatch      a configured server name that the leaf's subjectAltNames do not cover.
  server-cert-missing    `no-certificate`/`no-private-key`: the file is there but holds no
                         certificate (or no key): the server will not start.
"""
from __future__ import annotations

import binascii
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Sequence

from .load import PEM_BLOCK, PRIVATE_KEY_LABELS, CertRecord, load_certificates
from .verify import host_problem, issued_by, is_ip_host

SHORT_LIVED_HOURS = 48
EXPIRING_DAYS = 30
CATEGORY_ORDER = ("server-cert-missing", "cert-expired", "cert-short-lived", "cert-key-mismatch",
                  "cert-chain-incomplete", "cert-san-mismatch")
MAX_SERVED_CERTIFICATES = 64  # a served chain has a handful; more is not a server chain


@dataclass(frozen=True)
class ServedProblem:
    category: str
    severity: str  # error | warning | info
    message: str
    fingerprint: str | None  # SHA-256 of the certificate at fault (None: no certificate)
    properties: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def problem(self) -> str:
        return self.properties.get("problem", self.category)


def describe(cert: CertRecord) -> str:
    """'CN=orders-api,O=x (SHA-256 0123456789abcdef…)' for messages."""
    return f"{cert.subject or '(empty subject)'} (SHA-256 {cert.fingerprint_sha256[:16]}…)"


def _when(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC")


def _validity_text(cert: CertRecord) -> str:
    span = cert.not_after - cert.not_before
    if span < timedelta(days=2):
        hours = round(span.total_seconds() / 3600)
        return f"{hours} hour(s)" if hours < 24 or hours % 24 else f"{hours // 24} day(s)"
    return f"{span.days} day(s)"


def served_names(names: Iterable[str]) -> list[str]:
    """The configured names a client can type: drop nginx's catch-alls (`_`, ``), regexes (`~…`)
    and turn `.example.com` into its two names. Lower-cased, each once, in order."""
    out: list[str] = []
    for raw in names:
        name = (raw or "").strip().strip('"\'').rstrip(".").lower()
        if not name or name in ("_", "*") or name.startswith("~"):
            continue
        if ":" in name and not is_ip_host(name) and name.count(":") == 1:
            name = name.split(":")[0]  # Apache ServerName host:port
        candidates = [name[1:], "*" + name] if name.startswith(".") else [name]
        for candidate in candidates:
            if candidate and candidate not in out:
                out.append(candidate)
    return out


def name_covered(leaf: CertRecord, name: str) -> str | None:
    """None if a client connecting to `name` accepts the leaf's names; otherwise why not.
    A configured wildcard (`*.example.com`) needs the same wildcard among the SANs. The CN is
    not consulted: Go, urllib3 2 and browsers ignore it."""
    if name.startswith("*."):
        if any(p.rstrip(".").lower() == name for p in leaf.dns_names):
            return None
        return "no-san-match"
    if "*" in name:
        return None  # nginx "www.*" style: no single name to check
    return host_problem(leaf, name, cn_fallback=False)


def _private_keys(data: bytes) -> tuple[list[Any], int]:
    """(loaded private keys, how many were encrypted or unreadable) from PEM (or DER) bytes."""
    from cryptography.hazmat.primitives import serialization

    keys: list[Any] = []
    unreadable = 0
    blocks = [m for m in PEM_BLOCK.finditer(data) if m.group(1) in PRIVATE_KEY_LABELS]
    for match in blocks:
        try:
            keys.append(serialization.load_pem_private_key(match.group(0), password=None))
        except (TypeError, ValueError, binascii.Error):  # TypeError: encrypted, no password
            unreadable += 1
        except Exception:  # UnsupportedAlgorithm (OpenSSH, exotic curves)
            unreadable += 1
    if not blocks and b"-----BEGIN " not in data and data[:1] == b"\x30":
        try:
            keys.append(serialization.load_der_private_key(data, password=None))
        except Exception:
            pass
    return keys, unreadable


def _public_der(public_key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _cert_public_der(cert: Any) -> bytes | None:
    """The certificate's SubjectPublicKeyInfo, None for a key algorithm cryptography cannot load
    (GOST, SM2): no private key read here can be its pair, and the pair cannot be compared."""
    from cryptography.exceptions import UnsupportedAlgorithm

    try:
        return _public_der(cert.public_key())
    except (UnsupportedAlgorithm, ValueError):
        return None


def served_problems(cert_pem: bytes, key_pem: bytes | None, *, chain_pem: bytes = b"",
                    names: Iterable[str] = (), trusted: Sequence[CertRecord] = (),
                    at: datetime | None = None, expiring_days: int = EXPIRING_DAYS,
                    short_lived_hours: int = SHORT_LIVED_HOURS, source: str = "",
                    chain_source: str = "", key_source: str = "") -> list[ServedProblem]:
    """Problems of what a server presents: `cert_pem` is the configured certificate file (leaf
    first, then intermediates), `key_pem` its key file (the same bytes when the key sits in the
    certificate file, as HAProxy allows; None: not checked), `chain_pem` a separate chain file
    (Apache's SSLCertificateChainFile). `names` are the configured server names, `trusted` CAs
    the clients are known to hold (a leaf issued by one of them needs no intermediate).
    Sorted in fix order (CATEGORY_ORDER), then by position in the file."""
    at = at or datetime.now(timezone.utc)
    problems: list[ServedProblem] = []
    where = {"file": source} if source else {}

    def add(category: str, severity: str, message: str, cert: CertRecord | None, problem: str, **props) -> None:
        properties = {"problem": problem, **where, **props}
        if cert is not None:
            properties.update(subject=cert.subject, fingerprint_sha256=cert.fingerprint_sha256,
                              not_before=cert.not_before.isoformat(), not_after=cert.not_after.isoformat())
        problems.append(ServedProblem(category, severity, message, cert.fingerprint_sha256 if cert else None,
                                      properties))

    loaded = load_certificates(cert_pem, source)
    served = loaded.certificates[:MAX_SERVED_CERTIFICATES]
    extra = load_certificates(chain_pem, chain_source).certificates[:MAX_SERVED_CERTIFICATES] if chain_pem else []
    if not served:
        add("server-cert-missing", "error", f"{source or 'the certificate file'} holds no certificate: the server "
                                            "will not start", None, "no-certificate")
        return problems
    if key_pem is not None:
        owner = _key_problems(key_pem, served, add, source, key_source)
        if owner:  # the leaf is further down the file: judge the chain and names of that one
            served = [served[owner], *served[:owner], *served[owner + 1:]]
    leaf = served[0]

    # Dates of everything sent: expired first (what clients print), then what is about to stop.
    for position, cert in enumerate(served + extra):
        role = "server certificate" if position == 0 else "chain certificate"
        if at > cert.not_after:
            add("cert-expired", "error", f"the {role} {describe(cert)} expired on {_when(cert.not_after)} "
                                         f"(validity {_validity_text(cert)}, from {_when(cert.not_before)}): "
                                         "clients fail with \"certificate has expired\"",
                cert, "expired", position=position, validity_hours=_hours(cert))
        elif at < cert.not_before:
            add("cert-expired", "error", f"the {role} {describe(cert)} is not valid before {_when(cert.not_before)}: "
                                         "clients fail with \"certificate is not yet valid\"",
                cert, "not-yet-valid", position=position)
    short = leaf.not_after - leaf.not_before <= timedelta(hours=short_lived_hours)
    if short:
        add("cert-short-lived", "warning", f"the server certificate {describe(leaf)} is valid for only "
                                           f"{_validity_text(leaf)} ({_when(leaf.not_before)} .. {_when(leaf.not_after)}): "
                                           "it expires before anyone notices unless something renews it and "
                                           "reloads the server", leaf, "short-lived", position=0,
            validity_hours=_hours(leaf))
    for position, cert in enumerate(served + extra):
        if position == 0 and short:
            continue
        left = cert.not_after - at
        if cert.not_before <= at <= cert.not_after and left <= timedelta(days=expiring_days):
            role = "server certificate" if position == 0 else "chain certificate"
            add("cert-short-lived", "warning", f"the {role} {describe(cert)} expires in {max(0, left.days)} day(s), "
                                               f"on {_when(cert.not_after)}", cert, "expiring", position=position,
                days_left=max(0, left.days))

    # The chain: the leaf's issuer must be sent (or be a CA the clients hold), unless self-signed.
    if not leaf.self_signed:
        pool = served[1:] + extra
        sent_issuer = next((c for c in pool if issued_by(leaf, c)), None)
        trusted_issuer = next((c for c in trusted if issued_by(leaf, c)), None)
        if sent_issuer is None and trusted_issuer is None:
            what = "holds only the server certificate" if not pool else "does not hold the issuer of"
            add("cert-chain-incomplete", "error",
                f"{source or 'the served file'} {what} {describe(leaf)}: its issuer {leaf.issuer} is neither sent "
                "nor known to the clients; curl, OpenSSL, Python, Go, Java and Node fail with "
                "\"unable to get local issuer certificate\" (browsers may fetch it through AIA)",
                leaf, "leaf-only" if not pool else "missing-intermediate", issuer=leaf.issuer)

    for name in served_names(names):
        why = name_covered(leaf, name)
        if why is None:
            continue
        carried = ", ".join([*leaf.dns_names, *leaf.ip_addresses]) or f"no subjectAltName (CN={leaf.common_name})"
        add("cert-san-mismatch", "error", f"the server name {name} is not covered by {describe(leaf)}, which is "
                                          f"valid for {carried}: clients connecting to {name} fail with a "
                                          "hostname mismatch", leaf, why, name=name,
            dns_names=list(leaf.dns_names))
    order = {c: i for i, c in enumerate(CATEGORY_ORDER)}
    problems.sort(key=lambda p: (order.get(p.category, len(order)), p.properties.get("position", 0)))
    return problems


def _hours(cert: CertRecord) -> float:
    return round((cert.not_after - cert.not_before).total_seconds() / 3600, 2)


def _key_problems(key_pem: bytes, served: list[CertRecord], add, source: str, key_source: str) -> int | None:
    """Reports a key that is not the leaf's; returns the position of the certificate the key
    belongs to (0: the first, as it must be; None: none, or it cannot be told)."""
    keys, unreadable = _private_keys(key_pem)
    if not keys:
        if unreadable:
            return None  # encrypted (the server needs its passphrase): the pair cannot be compared here
        what = "holds no private key the server can read" if key_pem.strip() else "is empty"
        add("server-cert-missing", "error", f"{key_source or 'the key file'} {what}: the server will not start",
            None, "no-private-key", key_file=key_source or None)
        return None
    leaf = served[0]
    if leaf.cert is None:
        return None
    leaf_public = _cert_public_der(leaf.cert)
    if leaf_public is None:
        return None
    key_publics = [_public_der(k.public_key()) for k in keys]
    if leaf_public in key_publics:
        return 0
    owner = next((i for i, cert in enumerate(served[1:], 1)
                  if cert.cert is not None and _cert_public_der(cert.cert) in key_publics), None)
    if owner is not None:
        add("cert-key-mismatch", "error",
            f"{source or 'the certificate file'} starts with {describe(leaf)}, but the key belongs to certificate "
            f"{owner + 1} ({describe(served[owner])}): the server certificate must come first, then the "
            "intermediates (nginx: \"key values mismatch\"; Caddy: \"tls: private key does not match public key\")",
            leaf, "leaf-not-first", key_matches_position=owner)
        return owner
    add("cert-key-mismatch", "error",
        f"the private key does not belong to {describe(leaf)}: nginx stops with \"key values mismatch\", "
        "HAProxy with \"inconsistencies between private key and certificate\", Caddy with \"tls: private key "
        "does not match public key\", Apache fails at start (AH02565), Tomcat starts and every handshake fails (the client "
        "reports a bad signature)",
        leaf, "key-mismatch")
    return None


def keystore_entry(data: bytes, password: str, alias: str | None = None) -> tuple[bytes, bytes] | None:
    """(certificate chain PEM, private key PEM) of the key entry a Java server (Tomcat) serves
    from a PKCS#12 or JKS keystore: the first key entry, or `alias`. The key stays in memory and is
    only compared by public key. None when the password does not open it or it holds no key."""
    from cryptography.hazmat.primitives import serialization

    from .load import JCEKS_MAGIC, JKS_MAGIC

    none = serialization.NoEncryption()
    if data.startswith((JKS_MAGIC, JCEKS_MAGIC)):
        import base64

        import jks

        try:
            store = jks.KeyStore.loads(data, password)
        except Exception:
            return None
        entries = store.private_keys
        entry = entries.get(alias) if alias else next(iter(entries.values()), None)
        if entry is None:
            return None
        chain = b"".join(b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(der) + b"-----END CERTIFICATE-----\n"
                         for _type, der in entry.cert_chain)
        key = serialization.load_der_private_key(entry.pkey_pkcs8, password=None)
        return chain, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, none)
    from cryptography.hazmat.primitives.serialization import pkcs12

    try:
        store = pkcs12.load_pkcs12(data, password.encode())
    except (ValueError, TypeError):
        return None
    if store.key is None or store.cert is None:
        return None
    certs = [store.cert.certificate] + [c.certificate for c in store.additional_certs]
    chain = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)
    return chain, store.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, none)
