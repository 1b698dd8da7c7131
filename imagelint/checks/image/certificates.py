"""Certificates and keys the image ships: problems of trusted certificates (IL708) and private
keys in any layer, including ones a later layer deletes (IL710). Classification: RFC 5280 and
pyca/cryptography's x509 API."""
from __future__ import annotations

from ...certs.inspect import certificate_problems
from ...certs.load import load_certificates
from ...findings import Severity
from ...certs.load import looks_like_private_key
from ..registry import check
from ...trust.model import CertFile
from .context import ImageContext, describe_layer

# The problems this rule reports; weak keys and signatures are another rule's business.
VALIDITY_CODES = ("expired", "not-yet-valid", "expiring")
ANCHOR_CODES = ("leaf-as-anchor", "self-signed-leaf")
KEYSTORE_SUFFIXES = (".p12", ".pfx", ".jks", ".keystore", ".bks", ".pkcs12")


def _trusted_files(ctx: ImageContext):
    """Every trust store in the image (bundle, anchors, runtime stores) as CertFiles, each file once.
    Runtime stores reuse the certificates their discovery already parsed."""
    seen: set[str] = set()

    def first_time(path: str | None) -> bool:
        real = ctx.view.realpath(path) if path else None
        if real is None or real in seen:
            return False
        seen.add(real)
        return True

    if first_time(ctx.bundle_path) and ctx.bundle is not None:
        yield ctx.bundle
    for anchor in ctx.anchor_files:
        if first_time(anchor.path):
            yield anchor
    for store in ctx.stores:
        by_source: dict[str, list] = {}
        for cert in store.certificates:
            by_source.setdefault(cert.source, []).append(cert)
        for source, certs in by_source.items():
            path = source.split(" (")[0]
            if path.startswith("/") and first_time(path):
                yield CertFile(path, certs)


@check("IL708", kind="image")
def cert_problem(ctx: ImageContext):
    reported: set[tuple[str, str]] = set()
    for cert_file in _trusted_files(ctx):
        for cert in cert_file.certificates:
            custom = cert.fingerprint_sha256 in ctx.custom_cas
            for problem in certificate_problems(cert, expiring_days=ctx.expiring_days, as_anchor=True):
                if problem.code not in VALIDITY_CODES + ANCHOR_CODES:
                    continue
                if problem.code in ANCHOR_CODES and not custom:
                    continue  # public roots are CAs; a v1 legacy root is not a leaf
                key = (cert.fingerprint_sha256, problem.code)
                if key in reported:
                    continue
                reported.add(key)
                if custom:
                    severity = Severity.WARNING if problem.code == "expiring" else Severity.ERROR
                    scope = "custom CA"
                else:
                    severity = Severity.INFO
                    scope = "public root"
                yield ctx.hit("IL708", f"{scope} in {cert_file.path}: {problem.message}", cert_file.path,
                              severity=severity, problem=problem.code, fingerprint=cert.fingerprint_sha256,
                              subject=cert.subject, not_after=cert.not_after.isoformat())


def _private_key_kinds(path: str, data: bytes) -> list[str]:
    if looks_like_private_key(data[:1 << 20]) or path.lower().endswith(KEYSTORE_SUFFIXES):
        return sorted(set(load_certificates(data, path).private_keys)) or (
            ["putty"] if b"PuTTY-User-Key-File" in data[:64] else [])
    return []


@check("IL710", kind="image")
def private_key_copied(ctx: ImageContext):
    records = ctx.view.layer_records
    for record in records:
        for path, data in sorted(record.kept.items()):
            kinds = _private_key_kinds(path, data)
            if not kinds:
                continue
            deleted_by = next((later for later in records[record.index + 1:] if path in later.deleted), None)
            hidden = path in record.hidden
            props = {}
            hit = ctx.hit("IL710", "", path, layer=record, key_types=kinds)
            where = describe_layer(hit.properties)
            if deleted_by is not None:
                text = (f"private key ({', '.join(kinds)}) at {path} is added by {where} and deleted by layer "
                        f"{deleted_by.index}, but it is still shipped in layer {record.index}'s blob: anyone who "
                        "pulls the image can read it")
                props["deleted_by_layer"] = deleted_by.index
            elif hidden:
                text = (f"private key ({', '.join(kinds)}) at {path} is added by {where}; a later layer replaces it, "
                        "but the original is still shipped in this layer's blob")
            else:
                text = f"private key ({', '.join(kinds)}) at {path}, added by {where}, ships with the image"
            used_by = ctx.server_key_files.get(ctx.view.realpath(path) or path) if not hidden and deleted_by is None \
                else None
            if used_by:
                # A server's own key: the fix is to mount it, not just to drop it.
                text += (f"; it is the TLS key {used_by} serves with: mount it at run time instead (a Kubernetes "
                         "Secret of type kubernetes.io/tls, or a Docker secret) and rotate it")
                props["server_key_of"] = used_by
            hit.message = text
            hit.properties.update(props, still_shipped=True, visible=not hidden)
            yield hit
