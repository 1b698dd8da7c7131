"""Read certificates out of whatever bytes a trust store or a cert file holds.

Formats: PEM (many blocks, CRLF, UTF-8 BOM), DER, PKCS#7, OpenSSL `TRUSTED CERTIFICATE`,
JKS/JCEKS (pyjks), PKCS#12 (Java 18+ password-less cacerts, or `changeit`).
Private keys are detected and reported by type only: their bytes never leave this module.
"""
from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 #]+)-----(.*?)-----END \1-----", re.DOTALL)
_PEM_BEGIN = re.compile(rb"-----BEGIN ([A-Z0-9 #]+)-----")
_PEM_END = re.compile(rb"-----END ([A-Z0-9 #]+)-----")


class PemMatch:
    """One PEM block, shaped like PEM_BLOCK's match (group(1) label, group(2) body)."""

    __slots__ = ("label", "body", "_start", "_end")

    def __init__(self, label: bytes, body: bytes, start: int, end: int):
        self.label, self.body, self._start, self._end = label, body, start, end

    def group(self, index: int) -> bytes:
        return self.label if index == 1 else self.body

    def start(self) -> int:
        return self._start

    def end(self) -> int:
        return self._end


def pem_blocks(data: bytes, label: bytes | None = None):
    """The blocks PEM_BLOCK.finditer finds, in linear time. The regex rescans to the end of the data
    for every BEGIN line without its END (4,000 such lines took 6.6 s, 1 MB of them minutes); here
    every END is indexed once and each BEGIN finds its END by binary search."""
    import bisect

    ends: dict[bytes, list[int]] = {}
    for match in _PEM_END.finditer(data):
        ends.setdefault(match.group(1), []).append(match.start())
    resume = 0
    for match in _PEM_BEGIN.finditer(data):
        if match.start() < resume:
            continue  # inside the block just yielded
        name = match.group(1)
        if label is not None and name != label:
            continue
        positions = ends.get(name)
        if not positions:
            continue
        i = bisect.bisect_left(positions, match.end())
        if i == len(positions):
            continue
        end = positions[i]
        resume = end + len(b"-----END -----") + len(name)
        yield PemMatch(name, data[match.end():end], match.start(), resume)
PRIVATE_KEY_LABELS = {
    b"PRIVATE KEY": "pkcs8",
    b"RSA PRIVATE KEY": "rsa",
    b"EC PRIVATE KEY": "ec",
    b"DSA PRIVATE KEY": "dsa",
    b"ENCRYPTED PRIVATE KEY": "pkcs8-encrypted",
    b"OPENSSH PRIVATE KEY": "openssh",
}
PRIVATE_KEY_MARKERS = (b"PRIVATE KEY-----", b"PuTTY-User-Key-File")
UTF8_BOM = b"\xef\xbb\xbf"
JKS_MAGIC = b"\xfe\xed\xfe\xed"
JCEKS_MAGIC = b"\xce\xce\xce\xce"
# Passwords a default Java store may carry: none (JDK 18+ cacerts), "changeit" (everything else).
JAVA_STORE_PASSWORDS = (None, b"changeit", b"")


def looks_like_private_key(head: bytes) -> bool:
    """Whether these bytes (a file's first KiB is enough) hold private key material."""
    return any(marker in head for marker in PRIVATE_KEY_MARKERS)


@dataclass(frozen=True)
class CertRecord:
    """One certificate, summarised. `cert` is the cryptography object (for path building)."""

    subject: str
    issuer: str
    fingerprint_sha256: str
    not_before: datetime
    not_after: datetime
    is_ca: bool | None  # None: no basicConstraints extension at all
    path_length: int | None
    key_usage: tuple[str, ...] | None  # None: no keyUsage extension
    self_signed: bool
    key_type: str
    key_bits: int | None
    signature_hash: str | None
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]
    common_name: str | None
    has_ski: bool
    has_aki: bool
    bc_critical: bool
    version: int
    source: str = ""
    index: int = 0
    container: str = "pem"  # pem | der | pkcs7 | trusted-pem | jks | jceks | pkcs12
    alias: str | None = None
    # The certificate's DER, and its cryptography object (for path building), parsed from the DER on
    # first use when the record came from the facts store: most scans never need it.
    der: bytes = field(default=b"", compare=False, repr=False, hash=False)
    _cert: Any = field(default=None, compare=False, repr=False, hash=False)

    @property
    def cert(self) -> Any:
        if self._cert is None and self.der:
            from cryptography import x509

            try:
                object.__setattr__(self, "_cert", x509.load_der_x509_certificate(self.der))
            except ValueError:
                return None
        return self._cert

    @property
    def label(self) -> str:
        return self.common_name or self.subject or "(empty subject)"

    def summary(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "issuer": self.issuer,
            "fingerprint_sha256": self.fingerprint_sha256,
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat(),
            "is_ca": self.is_ca,
            "self_signed": self.self_signed,
            "source": self.source,
        }


@dataclass
class LoadResult:
    certificates: list[CertRecord] = field(default_factory=list)
    private_keys: list[str] = field(default_factory=list)  # key types, never key bytes
    notes: list[str] = field(default_factory=list)  # "bom", "crlf", "trusted-certificate", "der", ...
    container: str = "unknown"


# Parsed certificates by sha256 of their DER: an image's roots come in the bundle, the anchor
# files and the Java store, and each is parsed and summarised once. Records are immutable.
_PARSED: dict[bytes, CertRecord] = {}
_PARSED_MAX = 8192


def _cached_record(der: bytes, source: str, index: int, container: str, alias: str | None = None) -> CertRecord:
    """record_from_cert(load_der_x509_certificate(der)) with where it was found; ValueError if unparsable."""
    import hashlib  # loads OpenSSL's libcrypto: paid when a certificate is read, not by every lint

    key = hashlib.sha256(der).digest()
    template = _PARSED.get(key)
    if template is None and _STORE is not None:
        template = _STORE.get(key)
    if template is None:
        from cryptography import x509

        template = record_from_cert(x509.load_der_x509_certificate(der))
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.clear()
        _PARSED[key] = template
        if _STORE is not None:
            _STORE.add(key, template)
    return replace(template, source=source, index=index, container=container, alias=alias, der=der)


# --------------------------------------------------------------------------- the facts store

# The facts record_from_cert derives from a certificate, in CertRecord's field order.
_FACT_FIELDS = ("subject", "issuer", "fingerprint_sha256", "not_before", "not_after", "is_ca", "path_length",
                "key_usage", "self_signed", "key_type", "key_bits", "signature_hash", "dns_names", "ip_addresses",
                "common_name", "has_ski", "has_aki", "bc_critical", "version")
_STORE_MAGIC = b"imagelint-certificate-facts"
_STORE_MAX = _PARSED_MAX


class _FactsStore:
    """What record_from_cert found in each certificate (by the SHA-256 of its DER), kept in one file
    across runs: an image's trust store is the same hundred-odd roots scan after scan, and parsing
    them (and importing cryptography to do so) was most of a warm scan. The file carries a checksum
    and is keyed by imagelint's version and this module's source: a corrupt, foreign or older file
    is ignored (and replaced), never trusted."""

    def __init__(self, path):
        import hashlib
        from pathlib import Path

        from .. import __version__

        self.path = Path(path)
        self.version = f"{__version__}:{hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:20]}"
        self.entries: dict[bytes, CertRecord] | None = None
        self.dirty = False

    def _load(self) -> dict[bytes, CertRecord]:
        import hashlib
        import json

        entries: dict[bytes, CertRecord] = {}
        try:
            data = self.path.read_bytes()
            head, sep, body = data.partition(b"\n")
            if (not sep or head != b"%s %s %s" % (_STORE_MAGIC, self.version.encode(),
                                                   hashlib.sha256(body).hexdigest().encode())):
                raise ValueError("not this version's facts")
            for key, facts in json.loads(body).items():
                values = dict(zip(_FACT_FIELDS, facts, strict=True))
                for name in ("not_before", "not_after"):
                    values[name] = datetime.fromisoformat(values[name])
                for name in ("key_usage", "dns_names", "ip_addresses"):
                    if values[name] is not None:
                        values[name] = tuple(values[name])
                if not (values["fingerprint_sha256"] == key and _well_typed(values)):
                    raise ValueError("not facts record_from_cert writes")
                entries[bytes.fromhex(key)] = CertRecord(**values)
        except (OSError, ValueError, TypeError, AttributeError):
            entries = {}
            self.dirty = self.path.exists()  # rewrite a bad file even if nothing new is parsed
        return entries

    def get(self, key: bytes) -> CertRecord | None:
        if self.entries is None:
            self.entries = self._load()
        return self.entries.get(key)

    def add(self, key: bytes, record: CertRecord) -> None:
        if self.entries is None:
            self.entries = self._load()
        if len(self.entries) < _STORE_MAX:
            self.entries[key] = record
            self.dirty = True

    def save(self) -> None:
        """Atomically, best effort: a store that cannot be written only costs time."""
        if not self.dirty or self.entries is None:
            return
        import hashlib
        import json
        import os
        import tempfile

        def facts(record: CertRecord) -> list:
            values = [getattr(record, name) for name in _FACT_FIELDS]
            return [v.isoformat() if isinstance(v, datetime) else v for v in values]

        body = json.dumps({key.hex(): facts(r) for key, r in self.entries.items()}, separators=(",", ":")).encode()
        data = b"%s %s %s\n" % (_STORE_MAGIC, self.version.encode(), hashlib.sha256(body).hexdigest().encode()) + body
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, temp = tempfile.mkstemp(prefix=".tmp-", dir=self.path.parent)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                os.replace(temp, self.path)
            except BaseException:
                os.unlink(temp)
                raise
        except OSError:
            return
        self.dirty = False


_STORE: _FactsStore | None = None
_TEXT_FIELDS = ("subject", "issuer", "fingerprint_sha256", "key_type")
_FLAG_FIELDS = ("self_signed", "has_ski", "has_aki", "bc_critical")


def _well_typed(values: dict) -> bool:
    def optional(value, kind) -> bool:
        return value is None or (isinstance(value, kind) and not (kind is int and isinstance(value, bool)))

    return (all(isinstance(values[n], str) for n in _TEXT_FIELDS) and all(values[n] in (True, False) for n in _FLAG_FIELDS)
            and values["is_ca"] in (None, True, False) and optional(values["path_length"], int)
            and optional(values["key_bits"], int) and optional(values["signature_hash"], str)
            and optional(values["common_name"], str) and optional(values["version"], int)
            and all(values[n] is None or all(isinstance(v, str) for v in values[n])
                    for n in ("key_usage", "dns_names", "ip_addresses")))


class facts_store:
    """`with facts_store(path):` certificates read meanwhile are looked up in, and added to, the facts
    file at `path` (saved on leaving); `path` None: in memory only, as without it."""

    def __init__(self, path):
        self.store = _FactsStore(path) if path is not None else None

    def __enter__(self):
        global _STORE
        self.previous, _STORE = _STORE, self.store
        return self.store

    def __exit__(self, *exc) -> None:
        global _STORE
        _STORE = self.previous
        if self.store is not None:
            self.store.save()


def record_from_cert(cert: Any, source: str = "", index: int = 0, container: str = "pem",
                     alias: str | None = None) -> CertRecord:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
    from cryptography.x509.oid import ExtensionOID, NameOID

    def ext(oid):
        try:
            return cert.extensions.get_extension_for_oid(oid)
        except x509.ExtensionNotFound:
            return None
        except ValueError:  # malformed extensions: treat as absent rather than crash a scan
            return None

    bc = ext(ExtensionOID.BASIC_CONSTRAINTS)
    ku = ext(ExtensionOID.KEY_USAGE)
    san = ext(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    key_usage = None
    if ku is not None:
        names = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
                 "key_agreement", "key_cert_sign", "crl_sign")
        key_usage = tuple(n for n in names if getattr(ku.value, n))
    from cryptography.exceptions import UnsupportedAlgorithm

    try:
        key = cert.public_key()
    except (UnsupportedAlgorithm, ValueError):  # GOST R 34.10, SM2, ...: a certificate all the same
        key = None
    if key is None:
        key_type, key_bits = unsupported_key_type(cert), None
    elif isinstance(key, rsa.RSAPublicKey):
        key_type, key_bits = "rsa", key.key_size
    elif isinstance(key, ec.EllipticCurvePublicKey):
        key_type, key_bits = f"ec-{key.curve.name}", key.curve.key_size
    elif isinstance(key, dsa.DSAPublicKey):
        key_type, key_bits = "dsa", key.key_size
    elif isinstance(key, ed25519.Ed25519PublicKey):
        key_type, key_bits = "ed25519", 256
    elif isinstance(key, ed448.Ed448PublicKey):
        key_type, key_bits = "ed448", 448
    else:
        key_type, key_bits = type(key).__name__, None
    try:
        sig_hash = cert.signature_hash_algorithm
        signature_hash = sig_hash.name if sig_hash is not None else None
    except Exception:  # UnsupportedAlgorithm for exotic OIDs
        signature_hash = "unknown"
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    dns_names: tuple[str, ...] = ()
    ips: tuple[str, ...] = ()
    if san is not None:
        dns_names = tuple(san.value.get_values_for_type(x509.DNSName))
        ips = tuple(str(ip) for ip in san.value.get_values_for_type(x509.IPAddress))
    import hashlib

    der = cert.public_bytes(serialization.Encoding.DER)
    return CertRecord(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        fingerprint_sha256=hashlib.sha256(der).hexdigest(),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        is_ca=None if bc is None else bool(bc.value.ca),
        path_length=None if bc is None else bc.value.path_length,
        key_usage=key_usage,
        self_signed=_is_self_signed(cert),
        key_type=key_type,
        key_bits=key_bits,
        signature_hash=signature_hash,
        dns_names=dns_names,
        ip_addresses=ips,
        common_name=str(cns[0].value) if cns else None,
        has_ski=ext(ExtensionOID.SUBJECT_KEY_IDENTIFIER) is not None,
        has_aki=ext(ExtensionOID.AUTHORITY_KEY_IDENTIFIER) is not None,
        bc_critical=bool(bc is not None and bc.critical),
        version=cert.version.value + 1,
        source=source,
        index=index,
        container=container,
        alias=alias,
        der=der,
        _cert=cert,
    )


UNSUPPORTED_KEY = "unsupported key algorithm"
# Names for the key algorithms of national and corporate CA bundles (OIDs from RFC 9215 for
# GOST R 34.10-2012, GM/T 0006 for SM2), so a listing says more than a bare OID.
_KEY_ALGORITHM_NAMES = {
    "1.2.643.7.1.1.1.1": "GOST R 34.10-2012 256-bit",
    "1.2.643.7.1.1.1.2": "GOST R 34.10-2012 512-bit",
    "1.2.643.2.2.19": "GOST R 34.10-2001",
    "1.2.156.10197.1.301": "SM2",
}


def unsupported_key_type(cert: Any) -> str:
    """'unsupported key algorithm (SM2, 1.2.156.10197.1.301)' from the raw SubjectPublicKeyInfo:
    the algorithm OID, or for id-ecPublicKey the named curve."""
    from cryptography.hazmat.primitives import serialization

    oid = None
    try:
        spki = _tbs_spki(cert.public_bytes(serialization.Encoding.DER))
        oid = _first_oids(spki)
    except (ValueError, IndexError):
        pass
    if not oid:
        return UNSUPPORTED_KEY
    if oid[0] == "1.2.840.10045.2.1" and len(oid) > 1:  # id-ecPublicKey: the curve says what it is
        oid = oid[1:]
    name = _KEY_ALGORITHM_NAMES.get(oid[0])
    return f"{UNSUPPORTED_KEY} ({name + ', ' if name else ''}{oid[0]})"


def _der_items(data: bytes, start: int, end: int):
    """(tag, content start, content end) of each DER item in data[start:end]."""
    at = start
    while at < end:
        tag, first = data[at], data[at + 1]
        at += 2
        if first < 0x80:
            length = first
        else:
            count = first & 0x7F
            if count == 0 or count > 4:
                raise ValueError("bad DER length")
            length = int.from_bytes(data[at:at + count], "big")
            at += count
        if at + length > end:
            raise ValueError("DER item past its end")
        yield tag, at, at + length
        at += length


def _tbs_spki(der: bytes) -> bytes:
    """The SubjectPublicKeyInfo of a DER certificate (RFC 5280 4.1: the 7th field of the
    TBSCertificate when the [0] version is present, else the 6th)."""
    _, cert_start, cert_end = next(_der_items(der, 0, len(der)))
    _, tbs_start, tbs_end = next(_der_items(der, cert_start, cert_end))
    fields = list(_der_items(der, tbs_start, tbs_end))
    index = 6 if fields and fields[0][0] == 0xA0 else 5
    _, start, end = fields[index]
    return der[start:end]


def _first_oids(spki: bytes) -> list[str]:
    """The OIDs in the AlgorithmIdentifier at the start of a SubjectPublicKeyInfo body."""
    _, start, end = next(_der_items(spki, 0, len(spki)))
    oids = []
    for tag, item_start, item_end in _der_items(spki, start, end):
        if tag == 0x06:
            oids.append(_oid_text(spki[item_start:item_end]))
        elif tag == 0x30:  # GOST parameters: a SEQUENCE of OIDs
            oids.extend(_oid_text(spki[s:e]) for t, s, e in _der_items(spki, item_start, item_end) if t == 0x06)
    return oids


def _oid_text(body: bytes) -> str:
    parts, value = [], 0
    for byte in body:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(value)
            value = 0
    if not parts:
        raise ValueError("empty OID")
    first = min(parts[0] // 40, 2)
    return ".".join(str(p) for p in [first, parts[0] - 40 * first, *parts[1:]])


def _is_self_signed(cert: Any) -> bool:
    """Issued by its own key. When the key identifiers already say so (the authority key id is
    the certificate's own subject key id, as OpenSSL's EXFLAG_SS test reads it) the signature
    check is skipped: it costs a millisecond per root, on every run, for every bundle."""
    if cert.issuer != cert.subject:
        return False
    from cryptography import x509

    try:
        ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    except (x509.ExtensionNotFound, ValueError):
        ski = aki = None
    if ski is not None and aki is not None and aki != ski:
        return False  # the same name, another key: a re-keyed or cross-signed certificate
    from cryptography.exceptions import UnsupportedAlgorithm

    try:
        key = cert.public_key()
    except (UnsupportedAlgorithm, ValueError):
        # GOST, SM2: no signature check is possible here; the name and key ids say self-issued,
        # which is OpenSSL's EXFLAG_SS test for a key it cannot use either
        return True
    if ski is not None and aki is not None:
        try:
            if x509.SubjectKeyIdentifier.from_public_key(key).digest == ski:
                return True  # the identifiers are the certificate's own key (RFC 5280 4.2.1.2 method 1)
        except (ValueError, TypeError):
            pass
    try:
        cert.verify_directly_issued_by(cert)
        return True
    except Exception:
        return False


def _der_sequence_length(data: bytes) -> int | None:
    """Total length of the DER SEQUENCE at the start of `data` (tag + length + content)."""
    if len(data) < 2 or data[0] != 0x30:
        return None
    first = data[1]
    if first < 0x80:
        return 2 + first
    count = first & 0x7F
    if count == 0 or count > 4 or len(data) < 2 + count:
        return None
    return 2 + count + int.from_bytes(data[2:2 + count], "big")


def load_certificates(data: bytes, source: str = "", passwords: tuple = JAVA_STORE_PASSWORDS) -> LoadResult:
    """Every certificate in `data`, whatever the container. Never raises on garbage."""
    import warnings

    with warnings.catch_warnings():
        # Real stores hold a few legacy roots (e.g. negative serials); they are still roots.
        warnings.simplefilter("ignore")
        return _load_any(data, source, passwords)


def _load_any(data: bytes, source: str, passwords: tuple) -> LoadResult:
    result = LoadResult()
    if data.startswith(UTF8_BOM):
        result.notes.append("bom")
    if b"-----BEGIN " in data:
        _load_pem(data, source, result)
        return result
    if data.startswith(JKS_MAGIC) or data.startswith(JCEKS_MAGIC):
        _load_java_keystore(data, source, passwords, result)
        return result
    if data[:1] == b"\x30":
        _load_binary(data, source, passwords, result)
    return result


def _load_pem(data: bytes, source: str, result: LoadResult) -> None:
    result.container = "pem"
    if b"\r\n" in data:
        result.notes.append("crlf")
    index = 0
    for match in pem_blocks(data):
        label, body = match.group(1), match.group(2)
        if label in PRIVATE_KEY_LABELS:
            result.private_keys.append(PRIVATE_KEY_LABELS[label])
            continue
        try:
            der = base64.b64decode(b"".join(body.split()), validate=False)
        except (binascii.Error, ValueError):
            result.notes.append("bad-base64")
            continue
        try:
            if label == b"CERTIFICATE":
                records = [_cached_record(der, source, index, "pem")]
            elif label == b"TRUSTED CERTIFICATE":
                # OpenSSL trust format: the certificate followed by X509_CERT_AUX trust settings.
                length = _der_sequence_length(der)
                records = [_cached_record(der[:length], source, index, "trusted-pem")] if length else []
                if "trusted-certificate" not in result.notes:
                    result.notes.append("trusted-certificate")
            elif label == b"PKCS7":
                from cryptography.hazmat.primitives.serialization import pkcs7  # imports email.*: only when needed

                records = [record_from_cert(cert, source, index + i, "pkcs7")
                           for i, cert in enumerate(pkcs7.load_der_pkcs7_certificates(der))]
            else:
                continue
        except ValueError:
            result.notes.append("unparsable-certificate")
            continue
        result.certificates.extend(records)
        index += len(records)


def _load_binary(data: bytes, source: str, passwords: tuple, result: LoadResult) -> None:
    from cryptography.hazmat.primitives.serialization import pkcs7

    length = _der_sequence_length(data)
    try:
        record = _cached_record(data[:length] if length else data, source, 0, "der")
        result.container = "der"
        result.notes.append("der")
        result.certificates.append(record)
        return
    except ValueError:
        pass
    try:
        certs = pkcs7.load_der_pkcs7_certificates(data)
        result.container = "pkcs7"
        for i, cert in enumerate(certs):
            result.certificates.append(record_from_cert(cert, source, i, "pkcs7"))
        return
    except ValueError:
        pass
    _load_pkcs12(data, source, passwords, result)


def _load_pkcs12(data: bytes, source: str, passwords: tuple, result: LoadResult) -> None:
    from cryptography.hazmat.primitives.serialization import pkcs12

    for password in passwords:
        try:
            store = pkcs12.load_pkcs12(data, password)
        except (ValueError, TypeError):
            continue
        result.container = "pkcs12"
        if store.key is not None:
            result.private_keys.append("pkcs12-key")
        certs = ([store.cert] if store.cert is not None else []) + list(store.additional_certs)
        for i, item in enumerate(certs):
            alias = item.friendly_name.decode("utf-8", "replace") if item.friendly_name else None
            result.certificates.append(record_from_cert(item.certificate, source, i, "pkcs12", alias))
        return
    declared = _der_sequence_length(data)
    if declared is not None and declared > len(data):
        result.container = "pkcs12"
        result.notes.append("truncated-keystore")  # the outer SEQUENCE says more bytes than there are
        return
    result.notes.append("unreadable-keystore")


class TruncatedStore(ValueError):
    """A keystore that ends before its declared contents: no password can open it."""


def _trusted_entries(data: bytes, password: str | None) -> dict[str, bytes] | None:
    """alias -> certificate DER of a JKS/JCEKS store that holds trusted certificates only, read
    exactly as pyjks reads it (version 2, the integrity digest checked when a password is given).
    None when the store holds keys too (pyjks reads those); ValueError where pyjks would refuse it.
    Every OS cacerts is certificates only, and importing pyjks costs more than parsing the store."""
    import struct

    try:
        if struct.unpack_from(">L", data, 4)[0] != 2:
            raise ValueError("unsupported keystore version")
        count = struct.unpack_from(">L", data, 8)[0]
        pos = 12
        entries: dict[str, bytes] = {}
        for _ in range(count):
            tag, alias_size = struct.unpack_from(">LH", data, pos)
            if tag != 2:
                return None
            pos += 6
            alias = data[pos:pos + alias_size].decode("utf-8")
            pos += alias_size + 8  # the alias, then the entry's timestamp
            (type_size,) = struct.unpack_from(">H", data, pos)
            data[pos + 2:pos + 2 + type_size].decode("utf-8")  # certificate type ("X.509"): must decode
            pos += 2 + type_size
            (cert_size,) = struct.unpack_from(">L", data, pos)
            pos += 4
            if pos + cert_size > len(data):
                raise struct.error("certificate past the end of the store")
            if alias in entries:
                raise ValueError(f"duplicate alias {alias!r}")
            entries[alias] = data[pos:pos + cert_size]
            pos += cert_size
    except struct.error as exc:
        raise TruncatedStore(str(exc)) from None
    if len(data) < pos + 20:
        raise TruncatedStore("no integrity digest at the end")
    if password is not None:
        import hashlib

        expected = hashlib.sha1(password.encode("utf-16be") + b"Mighty Aphrodite" + data[:pos]).digest()
        if data[pos:pos + 20] != expected:
            raise ValueError("keystore integrity check failed")
    return entries


def _load_java_keystore(data: bytes, source: str, passwords: tuple, result: LoadResult) -> None:
    container = "jks" if data.startswith(JKS_MAGIC) else "jceks"
    result.container = container
    certificates: dict[str, bytes] | None = None
    private_keys: list[str] = []
    opened = False
    for password in passwords:
        try:
            certificates = _trusted_entries(data, password.decode() if password is not None else None)
        except TruncatedStore:
            result.notes.append("truncated-keystore")  # not a password problem: no password opens it
            return
        except ValueError:
            continue
        opened = certificates is not None
        break
    if not opened:
        certificates = _load_keystore_with_pyjks(data, passwords, container, private_keys)
    if certificates is None:
        result.notes.append("truncated-keystore" if _ends_early(data) else "unreadable-keystore")
        return
    index = 0
    for alias, der in sorted(certificates.items()):
        try:
            record = _cached_record(der, source, index, container, alias)
        except ValueError:
            result.notes.append("unparsable-certificate")
            continue
        result.certificates.append(record)
        index += 1
    result.private_keys.extend(private_keys)


def _ends_early(data: bytes) -> bool:
    """A JKS/JCEKS store with key entries that ends before its declared entries or its digest (no
    password opens it: not a password problem). False when it cannot tell (a JCEKS secret key is a
    serialised Java object)."""
    import struct

    try:
        count = struct.unpack_from(">L", data, 8)[0]
        pos = 12
        for _ in range(count):
            tag, alias_size = struct.unpack_from(">LH", data, pos)
            pos += 6 + alias_size + 8  # the alias, then the entry's timestamp
            if tag == 1:  # private key: the protected key, then its certificate chain
                (key_size,) = struct.unpack_from(">L", data, pos)
                pos += 4 + key_size
                (chain,) = struct.unpack_from(">L", data, pos)
                pos += 4
            elif tag == 2:  # trusted certificate
                chain = 1
            else:
                return False
            for _ in range(chain):
                (type_size,) = struct.unpack_from(">H", data, pos)
                pos += 2 + type_size
                (cert_size,) = struct.unpack_from(">L", data, pos)
                pos += 4 + cert_size
            if pos > len(data):
                return True
    except struct.error:
        return True
    return len(data) < pos + 20


def _load_keystore_with_pyjks(data: bytes, passwords: tuple, container: str,
                              private_keys: list[str]) -> dict[str, bytes] | None:
    """Stores with key entries: alias -> certificate DER of their trusted entries, key kinds into
    `private_keys`; None when no password opens the store."""
    import jks

    for password in passwords:
        try:
            # No password: pyjks skips the integrity check, which is what the JVM does for trust stores.
            store = jks.KeyStore.loads(data, password.decode() if password is not None else None,
                                       try_decrypt_keys=False)
            break
        except Exception:
            continue
    else:
        return None
    private_keys.extend(f"{container}-private-key" for _alias in store.private_keys)
    private_keys.extend(f"{container}-secret-key" for _alias in getattr(store, "secret_keys", {}))
    return {alias: entry.cert for alias, entry in store.certs.items()}


def load_java_trust_store(data: bytes, password: bytes | None, source: str = "") -> tuple[LoadResult, str | None]:
    """The store as the JVM opens it with `javax.net.ssl.trustStorePassword` = `password`.

    Observed with JDK 17 (tests/test_trust_clients.py): a JKS opened without a password skips the
    integrity check and works; with a wrong password, or when the file is not a keystore at all
    (a PEM bundle), the JVM fails ("problem accessing trust store"). A password-protected PKCS12
    opened without its password yields no anchors; a password-less PKCS12 (JDK 18+ cacerts)
    opens with any password.
    Returns (certificates, None | "wrong-password" | "not-a-keystore" | "no-anchors" | "empty" | "truncated").
    An empty, truncated or corrupt store fails the same way ("problem accessing trust store",
    observed with OpenJDK 17.0.15), but is not a password problem.
    """
    if not data:
        return LoadResult(), "empty"
    is_keystore = data.startswith(JKS_MAGIC) or data.startswith(JCEKS_MAGIC) or (
        data[:1] == b"\x30" and b"-----BEGIN" not in data[:64])
    loaded = load_certificates(data, source, passwords=(password,))
    if "truncated-keystore" in loaded.notes:
        return LoadResult(container=loaded.container), "truncated"
    if not is_keystore or loaded.container not in ("jks", "jceks", "pkcs12", "unknown"):
        return LoadResult(container=loaded.container), "not-a-keystore"
    if "unreadable-keystore" in loaded.notes:
        return LoadResult(container=loaded.container), "wrong-password" if password is not None else "no-anchors"
    return loaded, None if loaded.certificates else "no-anchors"
