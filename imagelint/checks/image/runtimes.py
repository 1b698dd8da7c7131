"""Runtimes that keep their own roots and so miss a custom CA the OS store has: the JVM (IL705),
Python requests/certifi (IL706) and Node (IL707). Stores are the effective ones
(certs/runtimes.py: jssecacerts over cacerts, links followed, JKS and PKCS12; certifi next to
requests; Node's compiled-in roots plus NODE_EXTRA_CA_CERTS / --use-system-ca)."""
from __future__ import annotations

from ...trust.stores import BROKEN_JAVA_STORE
from ..registry import check
from .context import ImageContext, fingerprint_label


def _store_path(store) -> str | None:
    """The first file a store was read from ('a -> b' keeps the path the runtime opens)."""
    for source in store.sources:
        path = source.split(" -> ")[0].split(" (")[0]
        if path.startswith("/"):
            return path
    return None


def _missing(ctx: ImageContext, store) -> list:
    have = {c.fingerprint_sha256 for c in store.certificates}
    return [cert for fp, (cert, _) in ctx.registered_custom_cas.items() if fp not in have]


def _names(certs: list) -> str:
    shown = ", ".join(fingerprint_label(c) for c in certs[:3])
    return shown + (f" and {len(certs) - 3} more" if len(certs) > 3 else "")


@check("IL705", kind="image")
def java_ca_missing(ctx: ImageContext):
    for store in ctx.stores:
        if store.runtime != "java":
            continue
        broken = store.details.get("java_store_error")
        if broken in BROKEN_JAVA_STORE:
            home = store.details.get("java_home", store.name)
            path = _store_path(store)
            yield ctx.hit("IL705", f"the JVM in {home} reads {path}, which {BROKEN_JAVA_STORE[broken]}: every TLS "
                          "connection fails with \"problem accessing trust store\" before any certificate is checked",
                          path, java_home=home, problem=broken)
            continue
        if not ctx.registered_custom_cas:
            continue
        missing = _missing(ctx, store)
        if not missing:
            continue
        home = store.details.get("java_home", store.name)
        path = _store_path(store)
        real = ctx.view.realpath(path) if path else None
        by = store.details.get("configured_by") or "cacerts"
        where = f"{path}" + (f" -> {real}" if real and real != path else "") if path else "no trust store file"
        yield ctx.hit("IL705", f"the JVM in {home} reads {where} ({by}), which lacks the custom CA(s) the OS "
                      f"store trusts: {_names(missing)}; Java clients fail with PKIX path building failed",
                      real or path, java_home=home, fingerprints=[c.fingerprint_sha256 for c in missing])


@check("IL706", kind="image")
def python_ca_missing(ctx: ImageContext):
    if not ctx.registered_custom_cas:
        return
    for store in ctx.stores:
        if store.runtime != "python-requests":
            continue
        if store.details.get("configured_by") in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
            continue  # the user chose the bundle; IL702 covers a missing one
        missing = _missing(ctx, store)
        if not missing:
            continue
        path = _store_path(store)
        site = store.name.split(" ", 1)[-1]
        yield ctx.hit("IL706", f"requests in {site} verifies against certifi's own bundle "
                      f"({path or 'not found'}), which lacks the custom CA(s) the OS store trusts: {_names(missing)}; "
                      f"set REQUESTS_CA_BUNDLE={ctx.bundle_path or '/etc/ssl/certs/ca-certificates.crt'}",
                      path, site_packages=site, fingerprints=[c.fingerprint_sha256 for c in missing])


@check("IL707", kind="image")
def node_ca_missing(ctx: ImageContext):
    if not ctx.registered_custom_cas:
        return
    for store in ctx.stores:
        if store.runtime != "node":
            continue
        missing = _missing(ctx, store)
        if not missing:
            continue
        binary = store.name.split(" ", 1)[-1]
        configured = []
        if ctx.env.get("NODE_EXTRA_CA_CERTS"):
            configured.append(f"NODE_EXTRA_CA_CERTS={ctx.env['NODE_EXTRA_CA_CERTS']}")
        configured += store.details.get("flags") or []
        how = (f"its configuration ({', '.join(configured)}) does not bring them in" if configured
               else "neither NODE_EXTRA_CA_CERTS nor --use-system-ca / NODE_USE_SYSTEM_CA is set")
        yield ctx.hit("IL707", f"{binary} uses its compiled-in roots and {how}: it lacks {_names(missing)}; "
                      f"set NODE_EXTRA_CA_CERTS={ctx.bundle_path or '/etc/ssl/certs/ca-certificates.crt'}",
                      binary, fingerprints=[c.fingerprint_sha256 for c in missing])
