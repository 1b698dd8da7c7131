"""`imagelint trust`: will this image (or this machine) trust that server, and if not, exactly why?

One verdict per runtime present: the store it really consults, the reason, the certificate at
fault, the words that runtime prints (to grep logs for), and the Dockerfile change that fixes it.
JSON contract (version 1):
  {"version": 1, "image": ..., "host": ..., "verdicts": [{"runtime", "store", "trusted", "reason",
   "certificate", "message", "error_text", "fix", "warnings", ...}]}
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping

from .findings import ImagelintError

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
        }


# --------------------------------------------------------------------------- evaluation

def parse_chain(data: bytes, source: str = "chain") -> list:
    from .certs.load import load_certificates

    loaded = load_certificates(data, source)
    if not loaded.certificates:
        raise ImagelintError("no certificate found (expected PEM or DER, leaf first)", path=source)
    return loaded.certificates


def evaluate(tree, env: Mapping[str, str], chain, host: str | None, at: datetime | None = None,
             runtimes: list[str] | None = None, family: str | None = None,
             entrypoint: list[str] | None = None) -> list[Verdict]:
    """Verdicts for every runtime in `tree` (or only `runtimes`). `chain`: records or PEM/DER bytes."""
    from .certs.runtimes import RUNTIMES, detect_family, discover

    if isinstance(chain, (bytes, bytearray)):
        chain = parse_chain(bytes(chain))
    if not chain:
        raise ImagelintError("the chain is empty")
    for name in runtimes or []:
        if name not in RUNTIMES:
            raise ImagelintError(f"unknown runtime {name!r} (choose from {', '.join(RUNTIMES)})")
    at = at or datetime.now(timezone.utc)
    family = family or detect_family(tree)
    stores = discover(tree, env, family, runtimes, entrypoint)
    python_versions = _python_versions(tree)
    return [_verdict(store, chain, host, at, family, tree, python_versions) for store in stores]


def _python_versions(tree) -> list[tuple[int, int]]:
    found = set()
    for directory in ("/usr/bin", "/usr/local/bin"):
        for name in tree.listdir(directory):
            match = re.fullmatch(r"python(3)\.(\d+)", name)
            if match:
                found.add((3, int(match.group(2))))
    return sorted(found)


def _verdict(store, chain, host, at, family, tree, python_versions) -> Verdict:
    from .certs.verify import POLICIES, verify, x509_strict_error

    policy = POLICIES[store.runtime]
    py_version = _version_tuple(store.details.get("python_version"))
    strict_python = store.runtime == "python-requests" and py_version is not None and py_version >= (3, 13)
    if strict_python:
        policy = POLICIES["curl"]  # urllib3 >= 2.3 on 3.13: partial chain (and strict, below)
    if store.runtime == "python-requests" and not str(store.details.get("urllib3_version", "2")).startswith("1."):
        # urllib3 2 turned off the Common Name fallback (observed: CN-only leaf rejected).
        from dataclasses import replace

        policy = replace(policy, cn_fallback=False)
    base = dict(runtime=store.runtime, store=store.describe(), store_size=len(store.certificates),
                warnings=list(store.notes))

    if store.details.get("startup_error"):
        line = store.details["startup_error"]
        return Verdict(trusted=False, reason="runtime-fails-to-start", certificate=chain[0].summary(),
                       message=f"{store.name} exits before any connection: {line}", error_text=line,
                       error_texts={store.runtime: line},
                       fix=f"# Node {store.details.get('node_version') or ''} predates --use-system-ca: remove it, and\n"
                           "ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt",
                       **base)
    if store.details.get("java_store_error") in ("wrong-password", "not-a-keystore"):
        return _unreadable_java_store(store, chain, base)
    if not store.certificates:
        return _no_roots(store, chain, host, family, tree, base)

    result = verify(chain, store.certificates, host, at, policy)
    error = result.first_error(policy)
    path = [c.subject for c in result.chain]
    strict_code = x509_strict_error(result.chain) if result.anchor is not None else None
    if error is None and strict_python and strict_code:
        return _strict_python_rejects(store, strict_code, path, base)
    if error is None:
        _warn_strict(base["warnings"], store, result, strict_code, chain, host, at, python_versions)
        return Verdict(trusted=True, reason=None, certificate=(result.anchor or chain[0]).summary(),
                       message=f"trusted: {' -> '.join(_short(c) for c in result.chain)}",
                       error_text=None, fix=None, path=path, **base)
    return _untrusted(store, chain, host, at, family, tree, result, error, path, base)


def _untrusted(store, chain, host, at, family, tree, result, error, path, base) -> Verdict:
    from .certs.errors import error_texts
    from .certs.verify import POLICIES, verify

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
    return Verdict(trusted=False, reason=error.reason, certificate=error.cert.summary(),
                   message=_message(error, store, result, host), error_text=primary, error_texts=texts,
                   fix=fix_for(error.reason, store, error.cert, chain, host, family, tree, result),
                   path=path, **base)


def _unreadable_java_store(store, chain, base) -> Verdict:
    from .certs.errors import JAVA_STORE_UNREADABLE, JAVA_STORE_UNREADABLE_CAUSE

    path = store.sources[0] if store.sources else "the trust store"
    if store.details["java_store_error"] == "not-a-keystore":
        fix = (f"# {path} must be a JKS or PKCS12 keystore, e.g.:\n"
               f"RUN keytool -importcert -noprompt -keystore {path}.p12 -storetype PKCS12 -storepass changeit "
               f"-alias corp-root -file {path}\n# and point -Djavax.net.ssl.trustStore at {path}.p12")
    else:
        fix = "# Set -Djavax.net.ssl.trustStorePassword to the store's real password (or drop it for a JKS store)."
    return Verdict(trusted=False, reason="truststore-unreadable", certificate=chain[0].summary(),
                   message=f"the JVM cannot open {path}: every TLS connection fails before any certificate is checked",
                   error_text=JAVA_STORE_UNREADABLE,
                   error_texts={"java": JAVA_STORE_UNREADABLE, "java-cause": JAVA_STORE_UNREADABLE_CAUSE},
                   fix=fix, **base)


def _no_roots(store, chain, host, family, tree, base) -> Verdict:
    from .certs.errors import JAVA_NO_ANCHORS, NO_ROOTS_TEXT

    leaf = chain[0]
    texts = NO_ROOTS_TEXT.get(store.runtime, {})
    if store.details.get("java_store_error") == "no-anchors":
        texts = {"java": JAVA_NO_ANCHORS}
    return Verdict(trusted=False, reason="no-roots", certificate=leaf.summary(),
                   message=f"{store.name} has no trusted certificates at all: every TLS connection fails",
                   error_text=next(iter(texts.values()), None), error_texts=texts,
                   fix=fix_for("no-roots", store, leaf, chain, host, family, tree), **base)


def _strict_python_rejects(store, strict_code, path, base) -> Verdict:
    from .certs.verify import STRICT_OPENSSL_TEXT

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
    from .certs.verify import STRICT_OPENSSL_TEXT, cryptography_strict_error

    if strict_code is not None and store.runtime in ("openssl", "python-requests"):
        from .certs.verify import x509_strict_errors

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


# --------------------------------------------------------------------------- fixes

def _slug(name: str | None) -> str:
    return re.sub(r"[^a-z0-9]+", "-", (name or "corp-root-ca").lower()).strip("-") or "corp-root-ca"


def _cn_of(rfc4514: str) -> str | None:
    match = re.search(r"(?:^|,)CN=((?:[^,\\]|\\.)+)", rfc4514)
    return match.group(1) if match else None


def _missing_ca(reason: str, cert, result) -> tuple[str, str]:
    """(file name for the certificate the store needs, what it is and where to get it)."""
    if reason == "self-signed-leaf":
        return (f"{_slug(cert.common_name)}.crt",
                f"the server's self-signed certificate {cert.subject} (better: have a CA issue it)")
    if reason == "leaf-not-ca" and result is not None:
        cert = result.chain[-1]
    if reason in ("intermediate-anchor", "leaf-not-ca") or (reason == "untrusted-root" and not cert.self_signed):
        # The store needs the issuer, which the server does not send: only its name is known.
        return (f"{_slug(_cn_of(cert.issuer))}.crt",
                f"the CA {cert.issuer} (not sent by the server: get it from its owner)")
    return f"{_slug(cert.common_name)}.crt", f"the root CA {cert.subject}\n#   sha256 {cert.fingerprint_sha256}"


def os_ca_snippet(family: str | None, filename: str, tree) -> str:
    has_sh = tree is None or any(tree.info(p) is not None for p in ("/bin/sh", "/usr/bin/sh"))
    if family in ("debian", None) and has_sh:
        lines = []
        if tree is not None and tree.info("/usr/sbin/update-ca-certificates") is None:
            lines.append("RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates "
                         "&& rm -rf /var/lib/apt/lists/*")
        lines += [f"COPY {filename} /usr/local/share/ca-certificates/{filename}", "RUN update-ca-certificates"]
        return "\n".join(lines)
    if family == "alpine" and has_sh:
        return "\n".join(["RUN apk add --no-cache ca-certificates",
                          f"COPY {filename} /usr/local/share/ca-certificates/{filename}",
                          "RUN update-ca-certificates"])
    if family == "rhel" and has_sh:
        return "\n".join(["USER root", f"COPY {filename} /etc/pki/ca-trust/source/anchors/{filename}",
                          "RUN update-ca-trust", "# then restore the image's USER"])
    if family == "suse" and has_sh:
        return "\n".join([f"COPY {filename} /etc/pki/trust/anchors/{filename}", "RUN update-ca-certificates"])
    # distroless / scratch: no shell, so build the bundle in a builder stage of the same distro.
    return "\n".join([
        "FROM debian:bookworm-slim AS cacerts",
        "RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates",
        f"COPY {filename} /usr/local/share/ca-certificates/{filename}",
        "RUN update-ca-certificates",
        "# in the final stage:",
        "COPY --from=cacerts /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt",
    ])


def fix_for(reason: str, store, cert, chain, host, family, tree, result=None) -> str:
    from .certs.runtimes import DEBIAN_BUNDLE, SYSTEM_BUNDLES

    if reason == "missing-intermediate":
        return (f"# Server-side fix: serve the full chain (leaf, then the intermediate {cert.issuer}).\n"
                "# e.g. nginx: ssl_certificate must hold leaf + intermediate; no image change helps every client.")
    if reason in ("expired", "not-yet-valid"):
        what = "renew" if reason == "expired" else "re-issue (or fix the clock of)"
        if cert.is_ca and not chain_contains(chain, cert):
            return (f"# The trusted CA {cert.subject} itself is {reason.replace('-', ' ')}: "
                    "replace it in the image with the CA's current certificate.")
        return (f"# Server-side fix: {what} {cert.subject} (valid {cert.not_before.date()} .. {cert.not_after.date()})"
                " with a realistic lifetime and monitor its expiry; nothing in the image can fix this.")
    if reason == "hostname-mismatch":
        names = ", ".join([*cert.dns_names, *cert.ip_addresses]) or f"CN={cert.common_name}"
        return (f"# Server-side fix: re-issue {cert.common_name or cert.subject} with subjectAltName DNS:{host}, "
                f"or connect with a name it carries ({names}).")
    if reason in ("issuer-not-ca", "path-length-exceeded", "not-rfc5280"):
        return f"# Server-side fix: re-issue {cert.subject} from a CA that follows RFC 5280."
    if reason == "no-roots":
        return os_ca_snippet(family, "corp-root-ca.crt", tree)

    filename, how = _missing_ca(reason, cert, result)
    alias = filename[:-4]
    header = f"# {filename} (PEM): {how}\n"
    if store.runtime == "java":
        java_home = store.details.get("java_home", "$JAVA_HOME")
        if store.details.get("configured_by") in ("javax.net.ssl.trustStore", "jssecacerts"):
            keystore = store.sources[0].split(" -> ")[0] if store.sources else "<truststore>"
            target = f"-keystore {keystore}"
        elif store.sources and " -> /etc/" in store.sources[0]:
            # Distro JDK: its cacerts is generated from the OS store (J5, J7).
            return header + os_ca_snippet(family, filename, tree) + "\n# (this JDK's cacerts is generated from the OS store)"
        elif tree is not None and tree.info(f"{java_home}/jre/lib/security/cacerts") is not None:
            target = f"-keystore {java_home}/jre/lib/security/cacerts"  # JDK 8: no -cacerts option
        else:
            target = "-cacerts"
        return header + "\n".join([
            f"COPY {filename} /tmp/{filename}",
            f"RUN {java_home}/bin/keytool -importcert -noprompt {target} -storepass changeit "
            f"-alias {alias} -file /tmp/{filename}",
        ])
    if store.runtime == "node":
        return header + "\n".join([f"COPY {filename} /usr/local/share/ca-certificates/{filename}",
                                   f"ENV NODE_EXTRA_CA_CERTS=/usr/local/share/ca-certificates/{filename}"])
    if store.runtime == "python-requests":
        bundle = SYSTEM_BUNDLES.get(family or "debian", DEBIAN_BUNDLE)
        return header + os_ca_snippet(family, filename, tree) + f"\nENV REQUESTS_CA_BUNDLE={bundle}"
    return header + os_ca_snippet(family, filename, tree)


def chain_contains(chain, cert) -> bool:
    return any(c.fingerprint_sha256 == cert.fingerprint_sha256 for c in chain)


# --------------------------------------------------------------------------- rendering

def to_json(verdicts: list[Verdict], image: str, host: str | None) -> str:
    return json.dumps({"version": 1, "image": image, "host": host,
                       "verdicts": [v.to_dict() for v in verdicts]}, indent=2, default=str)


def render_text(verdicts: list[Verdict], image: str, host: str | None, chain=None,
                at: datetime | None = None) -> str:
    lines = [f"imagelint trust {image}" + (f" (host {host})" if host else "")]
    if chain:
        leaf = chain[0]
        now = at or datetime.now(timezone.utc)
        state = " (EXPIRED)" if now > leaf.not_after else " (NOT YET VALID)" if now < leaf.not_before else ""
        lines.append(f"  server certificate: {leaf.subject}  valid {leaf.not_before:%Y-%m-%d %H:%M} .. "
                     f"{leaf.not_after:%Y-%m-%d %H:%M} UTC{state}  sha256 {leaf.fingerprint_sha256[:16]}…")
    if not verdicts:
        lines.append("  no TLS runtime found (use --runtime to ask for one)")
    for v in verdicts:
        mark = "trusted" if v.trusted else f"NOT TRUSTED ({v.reason})"
        lines.append("")
        lines.append(f"{v.runtime}: {mark}")
        lines.append(f"  store:   {v.store}")
        lines.append(f"  {'why:   ' if not v.trusted else 'path:  '}  {v.message}")
        if v.error_text:
            lines.append(f"  prints:  {v.error_text}")
        for warning in v.warnings:
            lines.append(f"  warning: {warning}")
        if v.fix:
            lines.append("  fix:")
            lines.extend(f"    {line}" for line in v.fix.splitlines())
    trusted = sum(v.trusted for v in verdicts)
    lines.append("")
    lines.append(f"{trusted} of {len(verdicts)} runtimes trust this chain")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- command entry point

def parse_at(text: str | None) -> datetime | None:
    """ISO date/time (UTC when no zone), or '+30d' / '+12h' from now."""
    if not text:
        return None
    relative = re.fullmatch(r"\+?(\d+)([dh])", text.strip())
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2)
        return datetime.now(timezone.utc) + (timedelta(days=amount) if unit == "d" else timedelta(hours=amount))
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ImagelintError(f"--at: cannot read {text!r} (use 2026-12-31, 2026-12-31T12:00:00Z or +30d)") from None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def parse_host_port(text: str, default_port: int = 443) -> tuple[str, int]:
    match = re.fullmatch(r"\[([^\]]+)\](?::(\d+))?|([^:]+)(?::(\d+))?", text.strip())
    if not match:
        raise ImagelintError(f"--connect: expected HOST:PORT, got {text!r}")
    host = match.group(1) or match.group(3)
    port = int(match.group(2) or match.group(4) or default_port)
    if not 0 < port < 65536:
        raise ImagelintError(f"--connect: port {port} out of range")
    return host, port


def _trust_keep(path: str, size: int) -> bool:
    """Beyond the scan defaults, trust needs the files that say where Python finds its roots."""
    return path.endswith(("/requests/certs.py", "/certifi/core.py", "/urllib3/_version.py")) and size < 256 * 1024


class _ImageView:
    """An ImageTree that can also extract roots compiled into libraries the scan did not stream
    through the PEM extractor (Debian's nodejs keeps them in libnode.so): one extra pass over the
    one layer that holds the file, only when asked."""

    def __init__(self, tree, image):
        self._tree = tree
        self._image = image

    def __getattr__(self, name):
        return getattr(self._tree, name)

    def embedded_certificates(self, path: str) -> bytes | None:
        found = self._tree.embedded_certificates(path)
        if found is not None:
            return found
        from .image.layers import read_layer

        real = self._tree.realpath(path)
        ref = self._tree.layer_of(real) if real else None
        if ref is None:
            return None
        layer = next((layer for layer in self._image.layers if layer.index == ref.index), None)
        if layer is None:
            return None
        record = read_layer(layer, keep=lambda p, s: False, embedded=lambda p, s, m: p == real)
        return record.embedded.get(real)


def _open_tree(ref: str):
    """(tree, env, entrypoint, label, close) for 'host' or an image reference."""
    if ref == "host":
        from .image.fs import HostTree

        return HostTree(), dict(os.environ), None, "host", lambda: None
    from .image.layers import default_keep, read_image_tree
    from .image.source import open_image

    image = open_image(ref)
    try:
        tree = read_image_tree(image, keep=lambda p, s: default_keep(p, s) or _trust_keep(p, s))
    except BaseException:
        image.close()
        raise
    config = image.config.get("config", image.config) or {}
    env = {}
    for item in config.get("Env") or []:
        key, _, value = item.partition("=")
        env[key] = value
    entrypoint = list(config.get("Entrypoint") or []) + list(config.get("Cmd") or [])
    return _ImageView(tree, image), env, entrypoint, ref, image.close


def run_trust(image_ref_or_host: str, chain_path: str | None = None, connect: str | None = None,
              host: str | None = None, at: str | datetime | None = None, runtimes: list[str] | None = None,
              fmt: str = "text", timeout: float = 10.0, tree=None, env: Mapping[str, str] | None = None
              ) -> tuple[int, str]:
    """(exit code, report): 0 when every runtime present trusts the chain, 1 when any does not.
    Bad input raises ImagelintError, which the CLI prints as one line with exit code 2."""
    if (chain_path is None) == (connect is None):
        raise ImagelintError("give exactly one of --chain FILE or --connect HOST:PORT")
    if fmt not in ("text", "json"):
        raise ImagelintError(f"unknown format {fmt!r} for trust (use text or json)")
    when = at if isinstance(at, datetime) else parse_at(at)
    if chain_path is not None:
        try:
            with open(chain_path, "rb") as fh:
                data = fh.read(16 * 1024 * 1024)
        except OSError as exc:
            raise ImagelintError(f"cannot read chain: {exc.strerror}", path=chain_path) from None
        chain = parse_chain(data, chain_path)
    else:
        from .certs.connect import fetch_chain

        connect_host, port = parse_host_port(connect)
        host = host or connect_host
        ders = fetch_chain(connect_host, port, server_name=host, timeout=timeout)
        chain = [record for der in ders for record in parse_chain(der, connect)]
    entrypoint = None
    label = image_ref_or_host
    close = None
    if tree is None:
        tree, opened_env, entrypoint, label, close = _open_tree(image_ref_or_host)
        env = opened_env if env is None else env
    try:
        verdicts = evaluate(tree, env or {}, chain, host, when, runtimes, entrypoint=entrypoint)
    finally:
        if close is not None:
            close()
    code = 0 if verdicts and all(v.trusted for v in verdicts) else 1
    if fmt == "json":
        return code, to_json(verdicts, label, host) + "\n"
    return code, render_text(verdicts, label, host, chain, when)
