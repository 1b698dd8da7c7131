"""Would the runtimes of a filesystem trust a server's chain, and if not, exactly why?

One `Verdict` per runtime present: the store it really consults, the reason, the certificate at
fault, the words that runtime prints (to grep logs for), and the change that fixes it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from ..certs.errors import (
    JAVA_NO_ANCHORS,
    JAVA_STORE_UNREADABLE,
    JAVA_STORE_UNREADABLE_CAUSE,
    NO_ROOTS_TEXT,
    error_texts,
)
from ..certs.load import load_certificates
from ..certs.verify import (
    POLICIES,
    ChainError,
    STRICT_OPENSSL_TEXT,
    cryptography_strict_error,
    verify,
    x509_strict_error,
    x509_strict_errors,
)
from ..findings import ImagelintError
from .advice import fix_for
from .model import TrustModel
from .stores import RUNTIMES

REASONS = {
    "untrusted-root": "the chain ends at a CA this store does not trust",
    "missing-intermediate": "the server does not send the intermediate CA that issued its certificate",
    "expired": "a certificate in the chain has expired",
    "not-yet-valid": "a certificate in the chain is not valid yet",
    "hostname-mismatch": "the certificate is not issued for this host name",
    "leaf-not-ca": "the store holds the server's own certificate instead of the CA that issued it",
    "self-signed-leaf": "the server presents a self-signed certificate the store does not hold",
    "intermediate-anchor": "the store holds only an intermediate CA and this runtime needs the root",
    "issuer-not-ca": "a certificate that signs others is not a CA",
    "path-length-exceeded": "a CA's pathLen constraint is exceeded",
    "not-rfc5280": "a strict verifier rejects a CA that does not follow RFC 5280",
    "no-roots": "this runtime has no trusted certificates at all",
    "runtime-fails-to-start": "the runtime refuses its own configuration and never connects",
    "truststore-unreadable": "the JVM cannot open its trust store (wrong password, or not a keystore)",
}
# The order a fix addresses causes: the certificate itself first (dates, then names and CA rules:
# re-issuing may change the chain), then what the server sends, then what the client trusts.
# "Always check certificate expiry dates first" (the incident's lesson).
FIX_ORDER = ("expired", "not-yet-valid", "hostname-mismatch", "issuer-not-ca", "path-length-exceeded",
             "not-rfc5280", "missing-intermediate", "untrusted-root", "self-signed-leaf", "leaf-not-ca",
             "intermediate-anchor", "no-roots", "truststore-unreadable", "runtime-fails-to-start")
RUNTIME_CLIENTS = {
    "openssl": "curl, wget, git, Python ssl/httpx, Ruby, .NET",
    "go": "Go crypto/tls",
    "java": "the JVM (JSSE)",
    "python-requests": "requests / pip < 24.2",
    "node": "Node.js",
}


@dataclass
class Verdict:
    runtime: str
    store: str
    trusted: bool
    reason: str | None
    certificate: dict[str, Any] | None
    message: str
    error_text: str | None
    fix: str | None
    warnings: list[str] = field(default_factory=list)
    error_texts: dict[str, str] = field(default_factory=dict)  # per client the runtime stands for
    path: list[str] = field(default_factory=list)  # subjects, leaf first, as the runtime builds it
    store_size: int = 0
    # Every cause found, in fix order (FIX_ORDER: dates first); `reason` stays the one this
    # runtime reports first (what its log shows, `error_text`). Each cause: reason, message, fix.
    causes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def reasons(self) -> list[str]:
        return [c["reason"] for c in self.causes] or ([self.reason] if self.reason else [])

    def to_dict(self) -> dict[str, Any]:
        return {
            "runtime": self.runtime,
            "store": self.store,
            "trusted": self.trusted,
            "reason": self.reason,
            "certificate": self.certificate,
            "message": self.message,
            "error_text": self.error_text,
            "fix": self.fix,
            "warnings": self.warnings,
            "error_texts": self.error_texts,
            "path": self.path,
            "store_size": self.store_size,
            "reasons": self.reasons,
            "causes": self.causes,
        }


# --------------------------------------------------------------------------- evaluation

def parse_chain(data: bytes, source: str = "chain") -> list:
    loaded = load_certificates(data, source)
    if not loaded.certificates:
        raise ImagelintError("no certificate found (expected PEM or DER, leaf first)", path=source)
    return loaded.certificates


def evaluate(model: TrustModel, chain, host: str | None, at: datetime | None = None,
             runtimes: list[str] | None = None) -> list[Verdict]:
    """Verdicts for every runtime of the model (or only `runtimes`). `chain`: records or PEM/DER bytes."""
    if isinstance(chain, (bytes, bytearray)):
        chain = parse_chain(bytes(chain))
    if not chain:
        raise ImagelintError("the chain is empty")
    for name in runtimes or []:
        if name not in RUNTIMES:
            raise ImagelintError(f"unknown runtime {name!r} (choose from {', '.join(RUNTIMES)})")
    at = at or datetime.now(timezone.utc)
    python_versions = _python_versions(model.view)
    return [_verdict(store, chain, host, at, model, python_versions)
            for store in model.stores_for(runtimes)]


def _python_versions(tree) -> list[tuple[int, int]]:
    found = set()
    for directory in ("/usr/bin", "/usr/local/bin"):
        for name in tree.listdir(directory):
            match = re.fullmatch(r"python(3)\.(\d+)", name)
            if match:
                found.add((3, int(match.group(2))))
    return sorted(found)


def _verdict(store, chain, host, at, model, python_versions) -> Verdict:
    policy = POLICIES[store.runtime]
    py_version = _version_tuple(store.details.get("python_version"))
    strict_python = store.runtime == "python-requests" and py_version is not None and py_version >= (3, 13)
    if strict_python:
        policy = POLICIES["curl"]  # urllib3 >= 2.3 on 3.13: partial chain (and strict, below)
    if store.runtime == "python-requests" and not str(store.details.get("urllib3_version", "2")).startswith("1."):
        # urllib3 2 turned off the Common Name fallback (observed: CN-only leaf rejected).
        policy = replace(policy, cn_fallback=False)
    base = dict(runtime=store.runtime, store=store.describe(), store_size=len(store.certificates),
                warnings=list(store.notes))

    early = _before_any_path(store, chain, host, model, base)
    if early is not None:
        early.causes = _date_causes(store, chain, host, at, model,
                                    {"reason": early.reason, "message": early.message, "fix": early.fix})
        return early

    result = verify(chain, store.certificates, host, at, policy)
    error = result.first_error(policy)
    path = [c.subject for c in result.chain]
    strict_code = x509_strict_error(result.chain) if result.anchor is not None else None
    if error is None and strict_python and strict_code:
        verdict = _strict_python_rejects(store, strict_code, path, base)
        verdict.causes = [{"reason": verdict.reason, "message": verdict.message, "fix": verdict.fix}]
        return verdict
    if error is None:
        _warn_strict(base["warnings"], store, result, strict_code, chain, host, at, python_versions)
        return Verdict(trusted=True, reason=None, certificate=(result.anchor or chain[0]).summary(),
                       message=f"trusted: {' -> '.join(_short(c) for c in result.chain)}",
                       error_text=None, fix=None, path=path, **base)
    return _untrusted(store, chain, host, at, model, result, error, path, base)


def _before_any_path(store, chain, host, model, base) -> Verdict | None:
    """The verdict of a runtime that fails before it looks at a chain; None when it gets that far."""
    if store.details.get("startup_error"):
        line = store.details["startup_error"]
        return Verdict(trusted=False, reason="runtime-fails-to-start", certificate=chain[0].summary(),
                       message=f"{store.name} exits before any connection: {line}", error_text=line,
                       error_texts={store.runtime: line},
                       fix=f"# Node {store.details.get('node_version') or ''} predates --use-system-ca: remove it, and\n"
                           "ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt",
                       **base)
    if store.details.get("java_store_error") in ("wrong-password", "not-a-keystore", "empty", "truncated", "corrupt"):
        return _unreadable_java_store(store, chain, base)
    if not store.certificates:
        return _no_roots(store, chain, host, model, base)
    return None


def _untrusted(store, chain, host, at, model, result, error, path, base) -> Verdict:

    primary, texts = error_texts(store.runtime, error, host, at, store.details)
    warnings = base["warnings"]
    # A client prints one error; the next one only shows up after a redeploy (the incident's
    # second failure). Say now what is queued behind the first.
    seen = {error.reason}
    for later in result.errors:
        if later.reason not in seen:
            seen.add(later.reason)
            warnings.append(f"once that is fixed: {later.reason}: {_message(later, store, result, host)}")
    if store.runtime == "openssl" and error.reason in ("intermediate-anchor", "leaf-not-ca"):
        if verify(chain, store.certificates, host, at, POLICIES["curl"]).trusted:
            warnings.append("curl and Python >= 3.13 accept this chain (they allow a partial chain); "
                            "openssl, wget, Python <= 3.12 and Ruby reject it")
    causes = _causes(store, chain, host, model, result)
    fix = fix_for(error.reason, store, error.cert, chain, host, model, result)
    leaf_only = {c["reason"] for c in causes} >= {"missing-intermediate", "untrusted-root"}
    if leaf_only and error.reason in ("missing-intermediate", "untrusted-root"):
        by_reason = {c["reason"]: c["fix"] for c in causes}
        fix = (by_reason["missing-intermediate"] + "\n# or, if that issuer is a root CA, trust it in the client:\n"
               + by_reason["untrusted-root"])
    return Verdict(trusted=False, reason=error.reason, certificate=error.cert.summary(),
                   message=_message(error, store, result, host), error_text=primary, error_texts=texts,
                   fix=fix, path=path, causes=causes, **base)


def _causes(store, chain, host, model, result) -> list[dict[str, Any]]:
    """Every cause of the result, each once, in FIX_ORDER. A leaf-only chain whose issuer is
    neither sent nor trusted is two causes: the server omits the issuer (serve the full chain),
    or the issuer is a root the store lacks (trust it); nothing in the chain tells which."""
    errors: dict[str, ChainError] = {}
    for error in result.errors:
        errors.setdefault(error.reason, error)
    leaf = result.chain[0]
    if (result.anchor is None and len(result.chain) == 1 and not leaf.self_signed
            and ({"missing-intermediate", "untrusted-root"} & set(errors))):
        for reason in ("missing-intermediate", "untrusted-root"):
            errors.setdefault(reason, ChainError(reason, 20, 0, leaf))
    order = {reason: i for i, reason in enumerate(FIX_ORDER)}
    return [{"reason": reason, "message": _message(errors[reason], store, result, host),
             "fix": fix_for(reason, store, errors[reason].cert, chain, host, model, result)}
            for reason in sorted(errors, key=lambda r: order.get(r, len(order)))]


def _date_causes(store, chain, host, at, model, first: dict[str, Any]) -> list[dict[str, Any]]:
    """`first` (a verdict that stops before any path is built), then the presented chain's dates."""
    causes = []
    for cert in chain:
        reason = "expired" if at > cert.not_after else "not-yet-valid" if at < cert.not_before else None
        if reason and reason not in {c["reason"] for c in causes}:
            error = ChainError(reason, None, 0, cert)
            causes.append({"reason": reason, "message": _message(error, store, None, host),
                           "fix": fix_for(reason, store, cert, chain, host, model)})
    return causes + [first]


def _unreadable_java_store(store, chain, base) -> Verdict:
    path = store.sources[0] if store.sources else "the trust store"
    if store.details["java_store_error"] == "not-a-keystore":
        fix = (f"# {path} must be a JKS or PKCS12 keystore, e.g.:\n"
               f"RUN keytool -importcert -noprompt -keystore {path}.p12 -storetype PKCS12 -storepass changeit "
               f"-alias corp-root -file {path}\n# and point -Djavax.net.ssl.trustStore at {path}.p12")
    elif store.details["java_store_error"] in ("empty", "truncated", "corrupt"):
        fix = (f"# {path} {store.details['java_store_error']}: rebuild it (Debian: update-ca-certificates -f with "
               "ca-certificates-java installed), or copy the JDK's own cacerts back")
    else:
        fix = "# Set -Djavax.net.ssl.trustStorePassword to the store's real password (or drop it for a JKS store)."
    return Verdict(trusted=False, reason="truststore-unreadable", certificate=chain[0].summary(),
                   message=f"the JVM cannot open {path}: every TLS connection fails before any certificate is checked",
                   error_text=JAVA_STORE_UNREADABLE,
                   error_texts={"java": JAVA_STORE_UNREADABLE, "java-cause": JAVA_STORE_UNREADABLE_CAUSE},
                   fix=fix, **base)


def _no_roots(store, chain, host, model, base) -> Verdict:
    leaf = chain[0]
    if store.details.get("too_large"):
        unread = ", ".join(store.details["too_large"])
        return Verdict(trusted=False, reason="no-roots", certificate=leaf.summary(),
                       message=f"{unread} is too large to check: no certificate of {store.name} was read, so "
                               "whether it trusts this chain is unknown", error_text=None, fix=None, **base)
    texts = NO_ROOTS_TEXT.get(store.runtime, {})
    if store.details.get("java_store_error") == "no-anchors":
        texts = {"java": JAVA_NO_ANCHORS}
    return Verdict(trusted=False, reason="no-roots", certificate=leaf.summary(),
                   message=f"{store.name} has no trusted certificates at all: every TLS connection fails",
                   error_text=next(iter(texts.values()), None), error_texts=texts,
                   fix=fix_for("no-roots", store, leaf, chain, host, model), **base)


def _strict_python_rejects(store, strict_code, path, base) -> Verdict:
    code, cert = strict_code
    text = STRICT_OPENSSL_TEXT[code]
    line = f"[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: {text}"
    return Verdict(trusted=False, reason="not-rfc5280", certificate=cert.summary(),
                   message=f"Python {store.details['python_version']} verifies strictly (VERIFY_X509_STRICT) "
                           f"and rejects {cert.label}: {text}",
                   error_text=line, error_texts={"python": line},
                   fix=f"# Re-issue the CA {cert.subject} with keyUsage (keyCertSign, critical), critical "
                       "basicConstraints, SKI and AKI (RFC 5280); older clients keep working.",
                   path=path, **base)


def _warn_strict(warnings, store, result, strict_code, chain, host, at, python_versions) -> None:
    if strict_code is not None and store.runtime in ("openssl", "python-requests"):
        code, cert = strict_code
        newer = [f"{a}.{b}" for a, b in python_versions if (a, b) >= (3, 13)]
        who = f"this image's Python {', '.join(newer)}" if newer else "Python 3.13"
        also = [f"{c.label}: {STRICT_OPENSSL_TEXT[n]}" for n, c in x509_strict_errors(result.chain)[1:]]
        warnings.append(f"works with curl today, fails on {who}: {cert.label}: {STRICT_OPENSSL_TEXT[code]} "
                        f"(VERIFY_X509_STRICT, error {code})" + (f"; also {'; '.join(also)}" if also else ""))
    anchors = [result.anchor] if result.anchor is not None else []
    strict = cryptography_strict_error(chain, anchors, host, at) if anchors else None
    if strict:
        warnings.append(f"strict WebPKI verifiers (cryptography x509.verification) reject this chain: {strict}")


def _version_tuple(text: str | None) -> tuple[int, ...] | None:
    if not text:
        return None
    try:
        return tuple(int(x) for x in text.split("."))
    except ValueError:
        return None


def _short(cert) -> str:
    return cert.common_name or cert.subject


def _message(error, store, result, host) -> str:
    cert = error.cert
    if error.reason == "untrusted-root":
        if cert.self_signed:
            return f"the chain ends at {_short(cert)}, which this store does not trust"
        return f"the issuer of {_short(cert)} ({cert.issuer}) is not in this store"
    if error.reason == "missing-intermediate":
        return (f"the server sent only {_short(cert)}; its issuer {cert.issuer} is neither sent nor trusted "
                "(clients here do not fetch intermediates)")
    if error.reason == "expired":
        return f"{_short(cert)} expired on {cert.not_after.isoformat()}"
    if error.reason == "not-yet-valid":
        return f"{_short(cert)} is not valid before {cert.not_before.isoformat()}"
    if error.reason == "hostname-mismatch":
        names = ", ".join([*cert.dns_names, *cert.ip_addresses]) or f"CN={cert.common_name}"
        if error.detail == "cn-only":
            return f"{host} matches only the legacy Common Name; {store.runtime} requires a subjectAltName"
        return f"{_short(cert)} is valid for {names}, not {host}"
    if error.reason == "self-signed-leaf":
        return f"the server presents the self-signed certificate {_short(cert)}, which {store.name} does not hold"
    if error.reason == "intermediate-anchor":
        return (f"{store.name} trusts the intermediate {_short(cert)} but not its root ({cert.issuer}); "
                f"{store.runtime} needs a self-signed root as anchor")
    if error.reason == "leaf-not-ca":
        return (f"{store.name} holds the server certificate {_short(result.chain[0])} itself, not the CA that issued "
                f"it ({result.chain[-1].issuer}); {store.runtime} does not accept it as an anchor")
    return f"{_short(cert)}: {REASONS.get(error.reason, error.reason)}"


