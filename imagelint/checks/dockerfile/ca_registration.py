"""A CA placed in the family's anchor directory must be followed by the family's update command."""
from __future__ import annotations

import posixpath
import re

from ...findings import Severity
from ...fixes import builders as fixes
from ..registry import check
from ...dockerfile.context import copied_files, read_context_file
from ...dockerfile.queries import (STORE_DIR, anchor_ops, anchor_target, basename, chain_steps, is_conditional,
                                   looks_like_cert_name, op_paths, ordered_steps, registers_trust, stage_facts,
                                   stage_family, step_key)
from ...facts import families as all_families


def unregistered_anchor_ops(model, stage):
    """(last op, paths) when anchors are added in `stage` and no update follows in it or a stage built FROM it."""
    facts = stage_facts(stage)
    if not facts.anchor_dirs:
        return None
    last = None
    paths: list[str] = []
    registered_after = False
    for _offset, item in ordered_steps(stage):
        if isinstance(item, tuple):
            _run, cmd = item
            if last is not None and registers_trust(stage, cmd, facts):
                registered_after = True
            continue
        targets = anchor_target(stage, item)
        if targets and item.kind != "delete":
            last = item
            paths = targets
            registered_after = False
    if last is None or registered_after:
        return None
    # A stage built FROM this one may run the update.
    for other in model.stages:
        if other is not stage and stage in other.chain():
            if any(registers_trust(other, cmd, stage_facts(other)) for _run, cmd in other.commands()):
                return None
    return last, paths


@check("IL201")
def ca_not_registered(model, ctx):
    for stage in model.stages:
        found = unregistered_anchor_ops(model, stage)
        if found is None:
            continue
        op, paths = found
        facts = stage_facts(stage)
        update = f"`{facts.update_command}`" if facts.update_command else "the trust-store update"
        bundle = facts.bundle or "the system bundle"
        severity = Severity.ERROR if model.is_shipped(stage) else Severity.WARNING
        family = stage_family(stage)
        yield ctx.hit(
            "IL201",
            f"CA certificate {paths[0]} is added to the {family} trust anchors but {update} never runs after it "
            f"in this stage, so {bundle} will not contain it",
            op.inst, op.start or None, op.end or None, stage=stage, severity=severity, whole_instruction=True,
            fix=fixes.register_ca(model, stage, op),
        )


@check("IL202")
def ca_only_in_etc_ssl_certs(model, ctx):
    """A CA dropped straight into /etc/ssl/certs: Go reads it (golang/go src/crypto/x509/root_linux.go), OpenSSL's bundle never gets it."""
    for stage in model.stages:
        facts = stage_facts(stage)
        if not facts.anchor_dirs or STORE_DIR in facts.anchor_dirs:
            continue  # unknown family, or one whose drop-in directory is /etc/ssl/certs itself
        all_bundles = {p for f in all_families().values() for p in f.bundle_paths}
        anchored_names = {basename(t) for s, op in anchor_ops(stage) for t in anchor_target(s, op)}
        for op in stage.file_ops:
            if op.kind not in ("copy", "move", "write", "download") or is_conditional(op):
                continue
            if op.from_stage is not None or op.from_image:
                continue  # a store copied from another stage or image, not a lone CA
            if any(src.startswith(("/etc/ssl", "/etc/pki", "/usr/share/ca-certificates")) for src in op.sources):
                continue  # moving parts of an existing store around
            for target in op_paths(op):
                if posixpath.dirname(target) != STORE_DIR or target in all_bundles:
                    continue
                if not looks_like_cert_name(target) or basename(target) == "java":
                    continue
                stem = posixpath.splitext(basename(target))[0]
                if any(posixpath.splitext(n)[0] == stem for n in anchored_names):
                    continue  # the same CA also goes through the anchor directory
                if _server_certificate(ctx, stage, op, stem):
                    continue  # a server's own certificate (Debian's ssl-cert layout), not a CA
                if _rehashed_after(stage, op):
                    continue  # hashed for CApath readers; documented as the remaining gap
                update = facts.update_command
                anchor = facts.anchor_dirs[0]
                run_update = f" and run `{update}`" if update else ""
                over = _copied_over_bundle(stage, op, target, all_bundles)
                if over is not None:
                    bundle_text = (f"a later {over.inst.keyword} copies it over the bundle {over_target(over, all_bundles)}, "
                                   f"which replaces every public root with this one CA; no hash link is made")
                else:
                    bundle_text = (f"the bundle {facts.bundle or 'file'} that OpenSSL, curl, Python and git read never "
                                   f"gets it and no hash link is made")
                yield ctx.hit(
                    "IL202",
                    f"CA {target} is put straight into {STORE_DIR}: Go reads it, but {bundle_text}; "
                    f"put it in {anchor}/{run_update}",
                    op.inst, op.start or None, op.end or None, stage=stage,
                    severity=Severity.ERROR if model.is_shipped(stage) else Severity.WARNING,
                    fix=fixes.move_into_anchors(model, stage, op, f"Put it in {anchor}/{run_update}"),
                )
                break


def _copied_over_bundle(stage, op, target: str, bundles: set[str]):
    """A later step of the stage that copies `target` over a generated bundle (`cp x.pem ca-certificates.crt`)."""
    at = step_key(stage, op)
    for s, item in chain_steps(stage):
        if isinstance(item, tuple) or step_key(s, item) <= at or item.kind not in ("copy", "move", "write"):
            continue
        if target in item.sources and over_target(item, bundles):
            return item
    return None


def over_target(op, bundles: set[str]) -> str | None:
    paths = op_paths(op) if op.kind in ("copy", "move") else [op.path]
    return next((p for p in paths if p in bundles), None)


KEY_NAME = re.compile(r"(\.key|[-_.]key\.pem|\.p12|\.pfx)$", re.I)


def _server_certificate(ctx, stage, op, stem: str) -> bool:
    """Is the file a server's own certificate rather than a CA? Its private key is installed too
    under the same name (`app.crt` + `app.key`), or the build context shows a
    certificate that is not a CA (basicConstraints CA:FALSE or absent)."""
    for s in stage.chain():
        for other in s.file_ops:
            for target in op_paths(other) or [other.path]:
                name = basename(target)
                if KEY_NAME.search(name) and KEY_NAME.sub("", name) == stem:
                    return True
    if op.kind == "copy" and op.command is None and op.from_stage is None and not op.from_image and ctx.context_dir and len(op.sources) == 1:
        seen = copied_files(ctx.context_dir, op)
        if seen and len(seen) == 1:
            return _is_leaf_certificate(read_context_file(ctx.context_dir, seen[0][1]) or b"")
    return False


def _is_leaf_certificate(data: bytes) -> bool:
    from cryptography import x509

    try:
        cert = x509.load_pem_x509_certificate(data) if b"-----BEGIN CERTIFICATE-----" in data else x509.load_der_x509_certificate(data)
    except ValueError:
        return False
    try:
        return not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return cert.issuer != cert.subject  # a v1 self-signed root is a CA by OpenSSL's legacy rules


def _rehashed_after(stage, op) -> bool:
    at = step_key(stage, op)
    facts = stage_facts(stage)
    for s, item in chain_steps(stage):
        if not isinstance(item, tuple) or step_key(s, item) < at:
            continue
        cmd = item[1]
        values = [w.value for w in cmd.args]
        if facts.update_rehashes_store_dir and cmd.name == facts.update_command:
            return True
        if cmd.name in ("c_rehash", "rehash_ca_certificates.sh") or (cmd.name == "openssl" and values[:1] == ["rehash"]):
            return True
        if cmd.name == "update-ca-certificates" and any(v in ("-f", "--fresh") for v in values):
            return True
    return False


PURGE_FLAGS = {"--purge"}


def removes_ca_package(cmd, facts) -> str | None:
    """'purge' / 'del' when the command deletes the ca-certificates package, else None."""
    package = facts.ca_package or "ca-certificates"
    values = [w.value for w in cmd.args]
    if package not in values:
        return None
    if cmd.name in ("apt-get", "apt", "aptitude") and facts.purge_removes_bundle:
        if "purge" in values or (("remove" in values or "autoremove" in values) and "--purge" in values):
            return "purge"
    if cmd.name == "dpkg" and facts.purge_removes_bundle and any(v in ("-P", "--purge") for v in values):
        return "purge"
    if cmd.name == "apk" and "del" in values and facts.package_manager == "apk":
        return "del"
    return None


@check("IL203")
def ca_package_purged(model, ctx):
    """The shipped image registers a CA, then deletes the ca-certificates package."""
    stage = model.shipped
    if stage is None:
        return
    facts = stage_facts(stage)
    if not facts.anchor_dirs:
        return
    placed = registered = False
    for s, item in chain_steps(stage):
        if not isinstance(item, tuple):
            placed = placed or bool(anchor_target(s, item) and item.kind != "delete")
            continue
        run, cmd = item
        if placed and registers_trust(s, cmd, facts):
            registered = True
            continue
        if not registered:
            continue
        how = removes_ca_package(cmd, facts)
        if how is None:
            continue
        word = next(w for w in cmd.args if w.value == (facts.ca_package or "ca-certificates"))
        if how == "purge":
            text = ("purging ca-certificates after `update-ca-certificates` deletes the generated bundle "
                    f"{facts.bundle}: the image ends up with no CA bundle at all, the custom CA included")
            severity = Severity.ERROR
        else:
            text = ("`apk del ca-certificates` after `update-ca-certificates` removes the update tool and the "
                    "certificates the per-CA links point to; the next upgrade of ca-certificates-bundle rewrites "
                    "the bundle without the custom CA")
            severity = Severity.WARNING
        yield ctx.hit("IL203", text, run.inst, word.start, word.end, stage=s, severity=severity,
                      fix=fixes.keep_package(model, run, cmd, word))
