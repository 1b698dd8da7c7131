"""The OS trust store as built: anchors missing from the generated bundle (IL703), no usable
bundle while TLS clients exist (IL704), and a bundle replaced by a few custom CAs (IL709).
Sources: Debian update-ca-certificates(8), alpinelinux/ca-certificates update-ca.c, update-ca-trust(8),
openSUSE/ca-certificates README (anchor dirs, update tools, outputs); golang/go src/crypto/x509/root_linux.go
(Go's file list)."""
from __future__ import annotations

from ...findings import Severity
from ..registry import check
from ...trust.model import SMALL_BUNDLE
from ...trust.stores import too_large_text, unread_size
from .context import ImageContext, fingerprint_label


@check("IL703", kind="image")
def ca_not_registered(ctx: ImageContext):
    if not ctx.anchor_files:
        return
    tool = ctx.facts.update_command or "the trust-store update"
    bundle = ctx.bundle_path or ctx.facts.bundle or "the bundle"
    if ctx.bundle is None and ctx.bundle_path and unread_size(ctx.view, ctx.bundle_path) is not None:
        return  # the bundle is there but too large to read (IL704 says so): nothing to compare with
    for anchor in ctx.anchor_files:
        missing = [c for c in anchor.certificates if c.fingerprint_sha256 not in ctx.bundle_fingerprints]
        if not missing:
            continue
        names = ", ".join(fingerprint_label(c) for c in missing[:3])
        where = f"{bundle} does not exist" if ctx.bundle is None else f"it is not in {bundle}"
        yield ctx.hit("IL703", f"{anchor.path} holds {names}, but {where}: `{tool}` did not run after the CA "
                      "was added, so no client trusts it",
                      anchor.path, fingerprints=[c.fingerprint_sha256 for c in missing], bundle=ctx.bundle_path)


@check("IL712", kind="image")
def anchor_name_ignored(ctx: ImageContext):
    tool = ctx.facts.update_command or "the trust-store update"
    bundle = ctx.bundle_path or ctx.facts.bundle or "the bundle"
    for anchor in ctx.ignored_anchor_files:
        missing = [c for c in anchor.certificates if c.fingerprint_sha256 not in ctx.bundle_fingerprints]
        if not missing:
            continue
        names = ", ".join(fingerprint_label(c) for c in missing[:3])
        yield ctx.hit("IL712", f"{anchor.path} holds {names}, but `{tool}` on {ctx.family} reads only *.crt "
                      f"files, so it is not in {bundle} and no client trusts it; rename it to .crt",
                      anchor.path, fingerprints=[c.fingerprint_sha256 for c in missing], bundle=ctx.bundle_path)


# Go programs that import golang.org/x/crypto/x509roots/fallback embed Mozilla's roots and use them
# when the system has none (x509.SetFallbackRoots, Go 1.20); the module path is in the build info.
GO_FALLBACK_ROOTS = b"golang.org/x/crypto/x509roots/fallback"


@check("IL704", kind="image")
def no_ca_bundle(ctx: ImageContext):
    if ctx.family == "windows":
        return
    size = unread_size(ctx.view, ctx.bundle_path) if ctx.bundle is None and ctx.bundle_path else None
    if size is not None:
        yield ctx.hit("IL704", f"{too_large_text(ctx.bundle_path, size)}; whether TLS clients can verify "
                      "anything is unknown", ctx.bundle_path, severity=Severity.WARNING, problem="too-large",
                      size=size)
        return
    count = len(ctx.bundle.certificates) if ctx.bundle else 0
    small = 0 < count < SMALL_BUNDLE and ctx.ships_public_set
    if count and not small:
        return
    if small and not (ctx.bundle.fingerprints & ctx.reference_public_fingerprints):
        return  # only custom CAs: that is a replaced bundle (IL709), not a missing one
    clients = ctx.tls_clients or ctx.go_binaries
    if not clients:
        return
    embedding = [] if ctx.tls_clients else sorted(ctx.view.files_containing(clients, GO_FALLBACK_ROOTS))
    if embedding and len(embedding) == len(clients):
        return  # every Go program carries its own roots (golang.org/x/crypto/x509roots/fallback)
    clients = [c for c in clients if c not in embedding]
    shown = ", ".join(clients[:4]) + (f" and {len(clients) - 4} more" if len(clients) > 4 else "")
    if ctx.bundle is None:
        expected = ctx.facts.bundle or "/etc/ssl/certs/ca-certificates.crt"
        install = ctx.facts.ca_package
        hint = f"; install {install}" if install else "; copy a CA bundle in from a builder stage"
        yield ctx.hit("IL704", f"no CA bundle ({expected} is missing) but the image has TLS clients ({shown}): "
                      f"every HTTPS connection fails verification{hint}", expected, severity=Severity.ERROR, clients=clients)
    elif count == 0:
        yield ctx.hit("IL704", f"{ctx.bundle_path} holds no certificate but the image has TLS clients ({shown})",
                      ctx.bundle_path, severity=Severity.ERROR, clients=clients)
    else:
        yield ctx.hit("IL704", f"{ctx.bundle_path} holds only {count} root{'s' if count != 1 else ''} (the public set has about 140): "
                      f"TLS clients ({shown}) will reject most public servers", ctx.bundle_path,
                      severity=Severity.WARNING, clients=clients, roots=count)


@check("IL709", kind="image")
def bundle_overwrite(ctx: ImageContext):
    if not ctx.ships_public_set or ctx.bundle is None or not ctx.bundle.certificates:
        return
    count = len(ctx.bundle.certificates)
    if count >= SMALL_BUNDLE or ctx.bundle.fingerprints & ctx.reference_public_fingerprints:
        return
    names = ", ".join(fingerprint_label(c) for c in ctx.bundle.certificates[:3])
    tool = ctx.facts.update_command
    how = f"; add the CA to {ctx.facts.anchor_dirs[0]} and run `{tool}` instead" if tool and ctx.facts.anchor_dirs else ""
    yield ctx.hit("IL709", f"{ctx.bundle_path} holds only {count} custom certificate(s) ({names}) and none of the "
                  f"public roots a {ctx.family} image ships: every public HTTPS server fails verification{how}",
                  ctx.bundle_path, fingerprints=sorted(ctx.bundle.fingerprints))
