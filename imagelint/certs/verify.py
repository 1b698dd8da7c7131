"""Path building the way OpenSSL does it, with per-runtime switches.

Private CAs often lack AKI/SKI or keyUsage; OpenSSL (and so curl, Python < 3.13, Node) still accept
them, so matching here is by issuer/subject name plus a real signature check, never by key ids.
Each `Policy` captures what differs between runtimes: whether any trusted certificate is an anchor
(partial chain), whether the CN is still consulted for host names, and the order checks run in
(the first error wins for most clients, the last one for Node).
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import datetime

from .load import CertRecord

MAX_DEPTH = 10


@dataclass(frozen=True)
class Policy:
    name: str
    partial_chain: bool  # any certificate in the store is a trust anchor
    cn_fallback: bool  # the subject CN is matched when the leaf has no DNS SAN
    checks_anchor_validity: bool = True  # Java does not check the anchor's dates
    # "openssl": chain, extensions, host, dates (first error wins);
    # "go": leaf dates, host, chain;  "java": chain, dates, host.
    order: str = "openssl"
    report_last_error: bool = False  # Node: its verify callback continues; the last error sticks


POLICIES = {
    # libssl defaults as used by openssl verify, Python < 3.13, wget, Ruby (curl adds partial chain).
    "openssl": Policy("openssl", partial_chain=False, cn_fallback=True),
    "python-requests": Policy("python-requests", partial_chain=False, cn_fallback=True),
    "node": Policy("node", partial_chain=False, cn_fallback=True, report_last_error=True),
    "java": Policy("java", partial_chain=True, cn_fallback=True, checks_anchor_validity=False, order="java"),
    "go": Policy("go", partial_chain=True, cn_fallback=False, order="go"),
    # curl >= 7.68 and Python >= 3.13 set X509_V_FLAG_PARTIAL_CHAIN.
    "curl": Policy("curl", partial_chain=True, cn_fallback=True),
}


@dataclass
class ChainError:
    reason: str  # imagelint reason code (see trust.REASONS)
    openssl_code: int | None
    depth: int
    cert: CertRecord
    detail: str = ""


@dataclass
class PathResult:
    chain: list[CertRecord]  # leaf first, as built
    anchor: CertRecord | None
    errors: list[ChainError] = field(default_factory=list)

    @property
    def trusted(self) -> bool:
        return not self.errors

    def first_error(self, policy: Policy) -> ChainError | None:
        if not self.errors:
            return None
        return self.errors[-1] if policy.report_last_error else self.errors[0]


def issued_by(child: CertRecord, issuer: CertRecord) -> bool:
    """Name match plus a real signature check; key ids are deliberately ignored (see module doc)."""
    if child.cert is None or issuer.cert is None or child.cert.issuer != issuer.cert.subject:
        return False
    if issuer.key_usage is not None and "key_cert_sign" not in issuer.key_usage:
        return False  # OpenSSL's check_issued: keyUsage present without keyCertSign disqualifies
    try:
        child.cert.verify_directly_issued_by(issuer.cert)
        return True
    except Exception:
        return False


def _pick(candidates: list[CertRecord], at: datetime) -> CertRecord | None:
    # Like OpenSSL, prefer an issuer that is valid now when a store holds several with one name.
    valid = [c for c in candidates if c.not_before <= at <= c.not_after]
    return (valid or candidates or [None])[0]


def build_path(presented: list[CertRecord], store: list[CertRecord], at: datetime,
               policy: Policy) -> tuple[list[CertRecord], CertRecord | None, bool]:
    """Returns (chain leaf-first, anchor or None, whether the top came from the store)."""
    leaf = presented[0]
    store_prints = {c.fingerprint_sha256 for c in store}
    untrusted = [c for c in presented[1:] if c.fingerprint_sha256 != leaf.fingerprint_sha256]
    chain = [leaf]
    top_from_store = False
    if leaf.fingerprint_sha256 in store_prints and (policy.partial_chain or leaf.self_signed):
        return chain, leaf, True
    current = leaf
    while len(chain) <= MAX_DEPTH:
        if current.self_signed:
            if current.fingerprint_sha256 in store_prints:
                return chain, current, top_from_store
            return chain, None, top_from_store
        used = {c.fingerprint_sha256 for c in chain}
        trusted_issuer = _pick([c for c in store if c.fingerprint_sha256 not in used and issued_by(current, c)], at)
        if trusted_issuer is not None:
            chain.append(trusted_issuer)
            top_from_store = True
            if trusted_issuer.self_signed or policy.partial_chain:
                return chain, trusted_issuer, True
            current = trusted_issuer
            continue
        issuer = _pick([c for c in untrusted if c.fingerprint_sha256 not in used and issued_by(current, c)], at)
        if issuer is None:
            return chain, None, top_from_store
        chain.append(issuer)
        top_from_store = False
        current = issuer
        if policy.partial_chain and issuer.fingerprint_sha256 in store_prints:
            return chain, issuer, False
    return chain, None, top_from_store


def _is_ca(cert: CertRecord) -> bool:
    if cert.is_ca is not None:
        return cert.is_ca
    # OpenSSL's X509_check_ca: v1 self-signed roots count as CAs (legacy rule).
    return cert.version == 1 and cert.self_signed


def host_problem(leaf: CertRecord, host: str, cn_fallback: bool) -> str | None:
    """None if `host` matches the leaf; otherwise why not ("no-san-match", "cn-only", "no-ip-san")."""
    host = host.rstrip(".").lower()
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        ip = None
    if ip is not None:
        if str(ip) in {str(ipaddress.ip_address(i)) for i in leaf.ip_addresses}:
            return None
        return "no-ip-san" if not leaf.ip_addresses else "no-san-match"
    if leaf.dns_names:
        return None if any(dns_matches(pattern, host) for pattern in leaf.dns_names) else "no-san-match"
    if cn_fallback and leaf.common_name and dns_matches(leaf.common_name, host):
        return None
    return "cn-only" if leaf.common_name and dns_matches(leaf.common_name, host) else "no-san-match"


def is_ip_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        return False


def dns_matches(pattern: str, host: str) -> bool:
    """RFC 6125 §6.4.3: a wildcard is the whole left-most label and matches exactly one label."""
    pattern = pattern.rstrip(".").lower()
    if pattern == host:
        return True
    if not pattern.startswith("*."):
        return False
    suffix = pattern[2:]
    if suffix.count(".") < 1:  # "*.com" style wildcards are never honoured
        return False
    head, _, rest = host.partition(".")
    return bool(head) and rest == suffix


def verify(presented: list[CertRecord], store: list[CertRecord], host: str | None, at: datetime,
           policy: Policy) -> PathResult:
    """Errors in the order `policy`'s runtime finds them (first one is what a client prints)."""
    chain, anchor, top_from_store = build_path(presented, store, at, policy)
    leaf = chain[0]
    result = PathResult(chain=chain, anchor=anchor)
    chain_errors: list[ChainError] = []
    if anchor is None:
        top = chain[-1]
        depth = len(chain) - 1
        if top.self_signed:
            if len(chain) == 1:
                # The server's own certificate is self-signed (CA:TRUE or not: `openssl req -x509` sets it).
                chain_errors.append(ChainError("self-signed-leaf", 18, 0, top))
            else:
                chain_errors.append(ChainError("untrusted-root", 19, depth, top))
        elif top_from_store:
            chain_errors.append(ChainError("intermediate-anchor", 2, depth, top))
        else:
            in_store = any(c.fingerprint_sha256 == leaf.fingerprint_sha256 for c in store)
            reason = "leaf-not-ca" if in_store else _unknown_issuer_reason(chain, presented)
            chain_errors.append(ChainError(reason, 20, depth, top))
            if len(chain) == 1 and policy.report_last_error:
                chain_errors.append(ChainError(reason, 21, 0, top))
    else:
        chain_errors.extend(_extension_errors(chain, anchor))

    host_errors = []
    if host:
        why = host_problem(leaf, host, policy.cn_fallback)
        if why is not None:
            code = 64 if is_ip_host(host) else 62  # X509_V_ERR_IP_ADDRESS_MISMATCH vs HOSTNAME_MISMATCH
            host_errors.append(ChainError("hostname-mismatch", code, 0, leaf, why))

    date_errors = []
    checked = chain if (policy.checks_anchor_validity or anchor is None) else [c for c in chain if c is not anchor]
    for depth in range(len(checked) - 1, -1, -1):  # OpenSSL walks from the top down
        cert = checked[depth]
        if at < cert.not_before:
            date_errors.append(ChainError("not-yet-valid", 9, depth, cert))
        elif at > cert.not_after:
            date_errors.append(ChainError("expired", 10, depth, cert))

    if policy.order == "go":
        leaf_dates = [e for e in date_errors if e.depth == 0]
        result.errors = leaf_dates + host_errors + chain_errors + [e for e in date_errors if e.depth != 0]
    elif policy.order == "java":
        result.errors = chain_errors + date_errors + host_errors
    else:
        result.errors = chain_errors + host_errors + date_errors
    return result


def _unknown_issuer_reason(chain: list[CertRecord], presented: list[CertRecord]) -> str:
    """The top's issuer is nowhere. If the server sent intermediates, the root is what is missing;
    if it sent only the leaf and the leaf points at its issuer (AIA caIssuers, as every public and
    most managed CAs do), the server omitted the intermediate."""
    top = chain[-1]
    if len(chain) > 1:
        return "untrusted-root"
    if _has_aia_ca_issuers(top):
        return "missing-intermediate"
    return "untrusted-root"


def _has_aia_ca_issuers(cert: CertRecord) -> bool:
    from cryptography import x509
    from cryptography.x509.oid import AuthorityInformationAccessOID, ExtensionOID

    try:
        aia = cert.cert.extensions.get_extension_for_oid(ExtensionOID.AUTHORITY_INFORMATION_ACCESS).value
    except (x509.ExtensionNotFound, ValueError):
        return False
    return any(d.access_method == AuthorityInformationAccessOID.CA_ISSUERS for d in aia)


def _extension_errors(chain: list[CertRecord], anchor: CertRecord) -> list[ChainError]:
    """OpenSSL check_chain_extensions: every issuer must be a CA, pathLen respected."""
    errors = []
    for depth, cert in enumerate(chain):
        if depth == 0:
            continue
        if not _is_ca(cert):
            errors.append(ChainError("issuer-not-ca", 79, depth, cert))
            break
        below = sum(1 for c in chain[1:depth] if not c.self_signed)
        if cert.path_length is not None and below > cert.path_length:
            errors.append(ChainError("path-length-exceeded", 25, depth, cert))
            break
    return errors


# ---------------------------------------------------------------------------------------------
# Strict verifiers: what still breaks after a runtime upgrade.

STRICT_OPENSSL_TEXT = {
    85: "Missing Authority Key Identifier",
    86: "Missing Subject Key Identifier",
    89: "Basic Constraints of CA cert not marked critical",
    92: "CA cert does not include key usage extension",
}


def x509_strict_errors(chain: list[CertRecord]) -> list[tuple[int, CertRecord]]:
    """What OpenSSL's X509_V_FLAG_X509_STRICT (Python 3.13's default) adds, in the order
    `openssl verify -x509_strict` reports it: leaf first; per certificate 89, 92, 85, 86."""
    found: list[tuple[int, CertRecord]] = []
    if len(chain) < 2:
        return found
    for depth, cert in enumerate(chain):
        if cert.is_ca and not cert.bc_critical:
            found.append((89, cert))
        if cert.is_ca and cert.key_usage is None:
            found.append((92, cert))
        if not cert.has_aki and not (cert.self_signed and depth == len(chain) - 1):
            found.append((85, cert))
        if cert.is_ca and not cert.has_ski:
            found.append((86, cert))
    return found


def x509_strict_error(chain: list[CertRecord]) -> tuple[int, CertRecord] | None:
    """The error a strict client stops at (the first one), or None."""
    found = x509_strict_errors(chain)
    return found[0] if found else None


def cryptography_strict_error(presented: list[CertRecord], anchors: list[CertRecord], host: str | None,
                              at: datetime) -> str | None:
    """cryptography's WebPKI verifier (x509.verification) message, or None when it accepts."""
    from cryptography.x509 import DNSName, IPAddress
    from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

    certs = [c.cert for c in anchors if c.cert is not None]
    if not certs or not host:
        return None
    try:
        subject = IPAddress(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        subject = DNSName(host.rstrip("."))
    try:
        verifier = PolicyBuilder().store(Store(certs)).time(at).build_server_verifier(subject)
        verifier.verify(presented[0].cert, [c.cert for c in presented[1:]])
        return None
    except VerificationError as exc:
        return str(exc)
    except (ValueError, TypeError) as exc:
        return str(exc)
