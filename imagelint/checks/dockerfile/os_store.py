"""Registering a CA with the OS store: the tool must exist, the file must have the name and the
directory the family's tool reads, the generated bundles must not be replaced or appended to, and
the store must stay root-owned. Everything family-dependent comes from the trust facts (imagelint/facts/) via
stage_family/stage_facts: an unknown family keeps these rules quiet."""
from __future__ import annotations

import fnmatch
import posixpath
import re
from functools import lru_cache

from ...findings import Severity
from ...fixes import builders as fixes
from ..registry import check
from ...dockerfile.queries import chain_steps, is_conditional, looks_like_cert_name, registers_trust, step_key, under
from ...facts import families as all_families
from ...dockerfile.context import copied_files, read_context_file
from ...dockerfile.queries import INSTALL_VERBS, PACKAGE_MANAGER_FAMILY, anchor_target, basename, is_package_op, op_paths, stage_facts, stage_family

# --- the build context -------------------------------------------------------------------------------

def read_head(ctx, rel: str, limit: int = 256 * 1024) -> bytes:
    """The first `limit` bytes of a build-context file (b"" when unreadable)."""
    return read_context_file(ctx.context_dir, rel, limit, head=True) or b""


def is_certificate_content(data: bytes) -> bool:
    return b"-----BEGIN CERTIFICATE-----" in data or b"-----BEGIN TRUSTED CERTIFICATE-----" in data or data[:2] in (b"\x30\x82", b"\x30\x81")


def landing_files(ctx, op) -> list[tuple[str, str | None]] | None:
    """(image path, build-context path or None) for each file the op puts in place, or None when unknown
    (a directory copy whose sources cannot be seen)."""
    seen = copied_files(ctx.context_dir, op)
    if seen is not None:
        return seen
    if op.kind in ("write", "append", "download"):
        return [(op.path, None)]
    if op.kind in ("copy", "move"):
        if op.from_stage is not None or op.from_image or op.recursive and op.command is not None:
            if not all(looks_like_cert_name(s) for s in op.sources):
                return None
        if not op.is_dir and not op.path.endswith("/"):
            return [(op.path, None)]
        # Named files, or globs such as `certs/*.pem` whose matches share the pattern's extension.
        if op.sources and all(posixpath.splitext(basename(s))[1] and not any(c in posixpath.splitext(basename(s))[1] for c in "*?[")
                              for s in op.sources):
            return [(posixpath.join(op.path, basename(s)), None) for s in op.sources]
    return None


# --- IL210 ca-tool-missing ---------------------------------------------------------------------------

def _apt_recommends_off(stage, at) -> bool:
    for s, item in chain_steps(stage):
        if isinstance(item, tuple) or step_key(s, item) > at:
            continue
        if item.content and re.search(r"Install-Recommends\s+\"?(0|false|no)\"?", item.content, re.I):
            return True
    return False


def installs_ca_tool(stage, s, cmd, facts, at) -> bool:
    """Does this command (maybe) install the package that provides the family's update tool?"""
    if cmd.name not in PACKAGE_MANAGER_FAMILY:
        return False
    values = [w.value for w in cmd.args]
    if not any(v in INSTALL_VERBS for v in values):
        return False
    if any(not w.known for w in cmd.args):
        return True  # a package list we cannot see may hold it
    package = facts.ca_package or "ca-certificates"
    if is_package_op(cmd, INSTALL_VERBS, package):
        return True
    packages = [v.split("=")[0] for v in values if not v.startswith("-") and v not in INSTALL_VERBS]
    if any(fnmatch.fnmatchcase(p, pat) for p in packages for pat in facts.ca_package_dependents):
        return True
    if cmd.name in ("apt-get", "apt", "aptitude") and packages:
        # apt installs Recommends by default, and nearly every networked package recommends
        # ca-certificates (directly or through libcurl/openssl/gnupg): not provably missing.
        no_recommends = any(v in ("--no-install-recommends", "--no-install-suggests") and v == "--no-install-recommends" for v in values)
        no_recommends = no_recommends or any(re.search(r"Install-Recommends=(0|false|no)", v, re.I) for v in values)
        if not no_recommends and not _apt_recommends_off(stage, at):
            return True
    return False


@check("IL210")
def ca_tool_missing(model, ctx):
    for stage in model.stages:
        facts = stage_facts(stage)
        update = facts.update_command
        if not update or stage.image.get("ca_tool") is not False:
            continue  # the base ships the tool, or we do not know
        for run, cmd in stage.commands():
            if cmd.name != update or cmd.conditional:
                continue
            at = (stage.index, cmd.start)
            if any(isinstance(item, tuple) and step_key(s, item) < at and installs_ca_tool(stage, s, item[1], facts, at)
                   for s, item in chain_steps(stage)):
                continue
            package = facts.ca_package or "ca-certificates"
            base = stage.chain()[-1].base
            hidden = ""
            if cmd.guarded or any(r.fd == 2 and r.target is not None and r.target.value == "/dev/null" for r in cmd.redirects):
                hidden = "; the error is hidden (`|| true` / `2>/dev/null`), so the build passes and the CA is silently not trusted"
            later = any(isinstance(item, tuple) and step_key(s, item) > at and is_package_op(item[1], INSTALL_VERBS, package)
                        for s, item in chain_steps(stage))
            order = f"; `{package}` is installed only after it" if later else ""
            yield ctx.hit(
                "IL210",
                f"`{update}` is not in {base}: the image does not ship the {package} package and nothing installs it "
                f"before this command, so it fails with `{update}: not found`{order}{hidden}; install it first: "
                f"`{facts.install_ca_tool or 'install ' + package}`",
                run.inst, cmd.argv[0].start, cmd.argv[0].end, stage=stage,
                fix=fixes.install_tool_before(model, stage, cmd),
            )


# --- IL220-IL224 ca-wrong-ext-or-dir -----------------------------------------------------------------

def placed_files(ctx, stage):
    """(op, image path, build-context path or None) for files written into the CA directories by the stage's ops
    (unknown directory copies are left out)."""
    dirs = _known_dirs()
    for op in stage.file_ops:
        if op.kind not in ("copy", "move", "write", "download", "link") or is_conditional(op):
            continue
        if not any(under(op.path, d) for d in dirs):
            continue  # only CA directories are worth reading the build context for
        files = landing_files(ctx, op)
        if files is None:
            continue
        for path, source in files:
            yield op, path, source


def _is_cert_file(ctx, path: str, source: str | None) -> bool:
    """A certificate by name, or by content when the build context shows it."""
    if source is not None:
        data = read_head(ctx, source)
        return is_certificate_content(data) or (looks_like_cert_name(path) and not data.strip() == b"")
    return looks_like_cert_name(path)


@check("IL220")
def ca_name_ignored(model, ctx):
    for stage in model.stages:
        facts = stage_facts(stage)
        anchors = facts.anchor_dirs or []
        ext = facts.anchor_extension
        flat = facts.anchor_recursive is False
        if not anchors or not (ext or flat):
            continue
        for op, path, source in placed_files(ctx, stage):
            if op.kind == "link":
                continue
            anchor = next((d for d in anchors if path.startswith(d + "/")), None)
            if anchor is None or not _is_cert_file(ctx, path, source):
                continue
            family = stage_family(stage)
            if ext and not path.endswith(ext):
                yield ctx.hit(
                    "IL220",
                    f"{path} does not end in `{ext}`: {family}'s update-ca-certificates reads only `*{ext}` files "
                    f"under {anchor}, so this CA is silently ignored; name it `{posixpath.splitext(basename(path))[0]}{ext}`",
                    op.inst, op.start or None, op.end or None, stage=stage,
                    fix=fixes.rename_destination(model, op, fixes.crt_name(path, ext), f"Name it {fixes.crt_name(basename(path), ext)}"),
                )
            elif flat and posixpath.dirname(path) != anchor:
                yield ctx.hit(
                    "IL220",
                    f"{path} is in a subdirectory of {anchor}: {family}'s update-ca-certificates reads only the top "
                    f"level of {anchor}, so this CA is silently ignored; copy it to {anchor}/ directly",
                    op.inst, op.start or None, op.end or None, stage=stage,
                    fix=fixes.rename_destination(model, op, posixpath.join(anchor, basename(path)), f"Copy it to {anchor}/ directly"),
                )


@lru_cache(maxsize=2)
def _known_dirs(kind: str = "all") -> dict[str, str]:
    """Every CA directory of every family -> the family it belongs to. kind="read": only the
    directories whose whole subtree the tools read (anchors, Debian's listed directory)."""
    out: dict[str, str] = {}
    for name, facts in all_families().items():
        dirs = list(facts.anchor_dirs) + ([facts.conf_listed_dir] if facts.conf_listed_dir else [])
        if kind == "all":
            dirs = dirs + list(facts.neutral_dirs)
        for d in dirs:
            out.setdefault(d, name)
    return out


def _distance(a: str, b: str, limit: int = 3) -> int:
    """Optimal-string-alignment edit distance (transpositions count 1), capped at `limit`."""
    if abs(len(a) - len(b)) >= limit:
        return limit
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) >= limit and min(prev) + 1 >= limit:
            return limit  # every later cell grows from these two rows: the cap is reached already
        prev2, prev = prev, cur
    return min(prev[-1], limit)


def typo_of(directory: str, known: dict[str, str]) -> str | None:
    return _typo_of(directory, tuple(known))


@lru_cache(maxsize=4096)
def _typo_of(directory: str, known: tuple[str, ...]) -> str | None:
    """The known CA directory `directory` is a misspelling of, or None. A typo is a path that is not
    itself a known directory (nor an ancestor of one) and is within two character edits of one, has
    the same components in another order, or lacks one inner component of it."""
    if directory in known or any(k.startswith(directory + "/") for k in known):
        return None
    if any(directory.startswith(k + "/") for k in _known_dirs("read")):
        return None  # a subdirectory of a directory the tools read recursively
    parts = [p for p in directory.split("/") if p]
    for k in known:
        kparts = [p for p in k.split("/") if p]
        if _distance(directory, k) <= 2:
            return k
        if sorted(parts) == sorted(kparts) and parts != kparts:
            return k
        if len(parts) == len(kparts) - 1 and len(parts) >= 3 and parts[-1] == kparts[-1]:
            if any(kparts[:i] + kparts[i + 1:] == parts for i in range(1, len(kparts) - 1)):
                return k
    return None


@check("IL221")
def ca_dir_typo(model, ctx):
    known = _known_dirs()
    for stage in model.stages:
        for op in stage.file_ops:
            if op.kind not in ("copy", "move", "write", "download") or is_conditional(op):
                continue
            if not (looks_like_cert_name(op.path) or any(looks_like_cert_name(s) for s in op.sources) or op.is_dir):
                continue
            candidates = [op.path] if (op.is_dir or op.path.endswith("/")) else [posixpath.dirname(op.path), op.path]
            for directory in candidates:
                intended = typo_of(directory.rstrip("/"), known)
                if intended is None:
                    continue
                yield ctx.hit(
                    "IL221",
                    f"{directory} looks like a misspelling of {intended}: no trust tool reads it, so the CA copied "
                    f"there is not trusted",
                    op.inst, op.start or None, op.end or None, stage=stage,
                    fix=fixes.move_destination_dir(model, op, directory.rstrip("/"), intended, f"Use {intended}", fixes.UNSAFE),
                )
                break


@check("IL222")
def ca_other_family_dir(model, ctx):
    known = _known_dirs()
    for stage in model.stages:
        facts = stage_facts(stage)
        own = facts.anchor_dirs or []
        if not own:
            continue
        family = stage_family(stage)
        own_all = set(own) | set(facts.neutral_dirs) | ({facts.conf_listed_dir} if facts.conf_listed_dir else set())
        # Another family's anchor directories, worked out once per stage (not per op and directory).
        foreign = [d for d, fam in known.items() if d not in own_all and d in all_families()[fam].anchor_dirs]
        if not stage.file_ops or anchor_ops_any(stage):
            continue  # the CA also goes where this family looks (portable scripts write both)
        for op in stage.file_ops:
            if op.kind not in ("copy", "move", "write", "download") or is_conditional(op):
                continue
            for target in op_paths(op) or [op.path]:
                other = next((d for d in foreign if under(target, d)), None)
                if other is None or any(under(target, o) for o in own_all):
                    continue
                if other in own:
                    continue
                yield ctx.hit(
                    "IL222",
                    f"{other} is where {_family_label(other)} looks for CAs, but this stage is {family}: "
                    f"`{facts.update_command}` reads {', '.join(own)}, so the CA is not trusted",
                    op.inst, op.start or None, op.end or None, stage=stage,
                    fix=fixes.move_into_anchors(model, stage, op, f"Use {own[0]} and `{facts.update_command}`"),
                )
                break


def _family_label(directory: str) -> str:
    users = [name for name, f in all_families().items() if directory in f.anchor_dirs]
    return "/".join(users) or "another distribution"


def anchor_ops_any(stage) -> bool:
    return any(not isinstance(item, tuple) and item.kind != "delete" and anchor_target(s, item) for s, item in chain_steps(stage))


@check("IL223")
def rhel_neutral_source(model, ctx):
    for stage in model.stages:
        facts = stage_facts(stage)
        neutral = facts.neutral_dirs or []
        if not neutral:
            continue
        for op, path, source in placed_files(ctx, stage):
            directory = posixpath.dirname(path)
            if directory not in neutral or not _is_cert_file(ctx, path, source) or path.endswith(".p11-kit"):
                continue
            if source is not None and b"TRUSTED CERTIFICATE" in read_head(ctx, source):
                continue  # OpenSSL trust format carries its own flags: this is where it belongs (update-ca-trust(8))
            yield ctx.hit(
                "IL223",
                f"{path} sits directly in {directory}/: update-ca-trust gives plain certificates there neutral trust "
                f"(neither trusted nor distrusted), so the CA is not trusted; use {directory}/anchors/"
                if not directory.endswith("ca-trust-source") else
                f"{path} sits directly in {directory}/: update-ca-trust gives plain certificates there neutral trust, "
                f"so the CA is not trusted; use {directory}/anchors/",
                op.inst, op.start or None, op.end or None, stage=stage,
                fix=fixes.move_destination_dir(model, op, directory, directory + "/anchors", f"Use {directory}/anchors/"),
            )


@check("IL224")
def debian_share_unlisted(model, ctx):
    for stage in model.stages:
        facts = stage_facts(stage)
        listed_dir, conf = facts.conf_listed_dir, facts.certs_conf
        if not listed_dir or not conf:
            continue
        if _conf_touched(stage, conf):
            continue
        for op, path, source in placed_files(ctx, stage):
            if op.from_stage is not None or op.from_image or op.kind == "link":
                continue
            if not path.startswith(listed_dir + "/") or not _is_cert_file(ctx, path, source):
                continue
            anchor = (facts.anchor_dirs or ["/usr/local/share/ca-certificates"])[0]
            yield ctx.hit(
                "IL224",
                f"{path} is under {listed_dir}/, whose files update-ca-certificates uses only when listed in {conf}, "
                f"and nothing edits that file: the CA is not trusted; copy it to {anchor}/ instead",
                op.inst, op.start or None, op.end or None, stage=stage,
                fix=fixes.move_destination_dir(model, op, listed_dir, anchor, f"Copy it to {anchor}/ instead"),
            )


def _conf_touched(stage, conf: str) -> bool:
    for s, item in chain_steps(stage):
        if isinstance(item, tuple):
            values = [w.value for w in item[1].args]
            if item[1].name in ("dpkg-reconfigure", "debconf-set-selections") or any(conf in v for v in values):
                if item[1].name != "dpkg-reconfigure" or "ca-certificates" in values:
                    return True
        elif item.path == conf and item.kind in ("write", "append", "edit", "copy", "move"):
            return True
    return False


# --- IL230/IL231 bundle-overwrite --------------------------------------------------------------------

JVM_STORE = re.compile(r"(^|/)(cacerts|java-cacerts)$")
FULL_BUNDLE_NAMES = re.compile(r"(^|/)(ca-certificates\.crt|ca-bundle(\.trust)?\.crt|tls-ca-bundle\.pem|cacert\.pem|ca-bundle\.pem|cacerts|java-cacerts|[^/]*\.jks|[^/]*\.p12|[^/]*\.pfx|[^/]*bundle[^/]*)$", re.I)
STORE_GLOB_DIRS = ("/etc/ssl/certs", "/usr/share/ca-certificates", "/etc/pki/ca-trust/extracted", "/etc/pki/tls/certs",
                   "/var/lib/ca-certificates")


@lru_cache(maxsize=1)
def generated_bundles() -> set[str]:
    out = set()
    for facts in all_families().values():
        out.update(facts.bundle_paths)
        if facts.java_system_store:
            out.add(facts.java_system_store)
    out.update({"/etc/ssl/cert.pem", "/etc/pki/java/cacerts", "/var/lib/ca-certificates/ca-bundle.pem", "/etc/ssl/ca-bundle.pem"})
    return out


def is_bundle_path(path: str) -> bool:
    return path in generated_bundles() or path.startswith("/etc/pki/ca-trust/extracted/") or bool(JVM_STORE.search(path) and "/lib/security/" in path) \
        or path.endswith("/lib/security/jssecacerts")


def _complete_source(source: str, written: set[str], placed: set[str] | frozenset[str] = frozenset()) -> bool:
    """A source that holds a whole root set: a store path, a glob over a store directory (a rebuild
    from the system's own certificates), a file named like a full bundle or keystore, or a file built
    earlier from such sources. One file the Dockerfile itself put into a store directory is not;
    `cert.pem`, the commonest name for a single certificate, is not assumed to be a bundle."""
    if source in written:
        return True
    if source in placed:
        return False
    if is_bundle_path(source):
        return True
    if any(under(source, d) for d in STORE_GLOB_DIRS):
        return source.rstrip("/") in STORE_GLOB_DIRS or any(c in source for c in "*?[") \
            or bool(FULL_BUNDLE_NAMES.search(source))
    return bool(FULL_BUNDLE_NAMES.search(source.split("?")[0]))


def _context_cert_count(ctx, rel: str) -> int | None:
    data = read_head(ctx, rel, 4 * 1024 * 1024)
    if b"-----BEGIN" in data:
        return data.count(b"-----BEGIN CERTIFICATE-----") + data.count(b"-----BEGIN TRUSTED CERTIFICATE-----")
    if len(data) > 20 * 1024:
        return 100  # a binary keystore of this size holds a full root set (one CA is ~1-2 KB)
    return None


@check("IL230", "IL231")
def bundle_overwrite(model, ctx):
    for stage in model.stages:
        facts = stage_facts(stage)
        written: set[str] = set()  # files built from complete sources, e.g. `cat bundle corp.crt > /tmp/all.pem`
        placed: set[str] = set()  # files the Dockerfile itself put somewhere (`COPY one-ca.pem /etc/ssl/certs/`)
        for s, item in chain_steps(stage):
            if isinstance(item, tuple):
                continue
            if s is not stage:
                if item.kind == "write" and item.sources and all(_complete_source(x, written, placed) for x in item.sources[:1]):
                    written.add(item.path)
                elif item.from_stage is None and not item.from_image \
                        and not (item.sources and all(_complete_source(x, written, placed) for x in item.sources)):
                    placed.update(_placed_paths(item))
                continue
            op = item
            if op.kind == "write" and op.sources and _complete_source(op.sources[0], written, placed):
                written.add(op.path)
            targets = op_paths(op) if op.kind in ("copy", "move", "link") else [op.path]
            # The op's own paths count from the next op on; no copy of `placed` per op (quadratic).
            before = placed
            places = op.path not in written and op.from_stage is None and not op.from_image \
                and not (op.sources and all(_complete_source(x, written, before) for x in op.sources))
            yield from _overwrite_hits(model, ctx, stage, op, targets, written, before, facts)
            if places:
                placed.update(_placed_paths(op))


def _overwrite_hits(model, ctx, stage, op, targets, written, before, facts):
    """IL230/IL231 for one op of the stage: a trust store replaced by something less than a full set."""
    for target in targets:
        if not is_bundle_path(target):
            continue
        if op.kind == "append" and not target.endswith("cacerts"):
            yield from _append_hit(model, ctx, stage, op, target, facts)
            break
        if op.kind not in ("copy", "move", "write", "download", "link") or is_conditional(op):
            continue
        if op.from_stage is not None or op.from_image:
            continue  # a full store from another stage or image
        if op.kind == "write":
            if op.sources and _complete_source(op.sources[0], written, before):
                continue
        elif op.kind == "download":
            if any(_complete_source(u, written, before) for u in op.sources):
                continue
        elif op.content is not None and any(x.startswith("<<") for x in op.sources):
            if op.content.count("-----BEGIN CERTIFICATE-----") >= 10:
                continue  # a heredoc holding a whole bundle
        else:
            seen = copied_files(ctx.context_dir, op)
            if seen:
                counts = [_context_cert_count(ctx, rel) for _path, rel in seen]
                if all(c is not None and c >= 10 for c in counts):
                    continue
                if any(c is None for c in counts) and all(_complete_source(x, written, before) for x in op.sources):
                    continue
            elif all(_complete_source(x, written, before) for x in op.sources):
                continue
        what = "the JVM trust store" if "cacerts" in target else "the generated CA bundle"
        shown = ", ".join(op.sources) or "this content"
        if "cacerts" in target:
            text = (f"{target} is {what}; replacing it with {shown} drops every root the JDK ships; "
                    f"import the CA with `keytool -importcert -noprompt -cacerts` instead")
        elif facts.update_command and _regenerated_after(model, stage, op, facts):
            text = (f"{target} is {what}; replacing it with {shown} is undone: the later "
                    f"`{facts.update_command}` regenerates the bundle from the anchors and drops this CA; "
                    f"add the CA to {facts.anchor_dirs[0] if facts.anchor_dirs else 'the anchor directory'} instead")
        elif facts.update_command and facts.anchor_dirs:
            text = (f"{target} is {what}; replacing it with {shown} drops every public root (and the next "
                    f"`{facts.update_command}` overwrites it anyway); add the CA to {facts.anchor_dirs[0]} "
                    f"and run `{facts.update_command}`")
        elif stage_family(stage) is None:
            text = (f"{target} is {what}; replacing it with {shown} drops every public root; add the CA to "
                    f"the distribution's anchor directory and run its trust-store update instead (the base "
                    f"image's family is not known, so neither can be named)")
        else:
            text = (f"{target} is {what}; replacing it with {shown} drops every public root; build the "
                    f"bundle in a stage that has the distribution's CA tooling and copy it over whole")
        yield ctx.hit(
            "IL230", text,
            op.inst, op.start or None, op.end or None, stage=stage,
            severity=Severity.ERROR if model.is_shipped(stage) else Severity.WARNING,
            fix=None if "cacerts" in target else fixes.move_into_anchors(
                model, stage, op, "Copy the CA into the anchor directory and run the update instead",
                name=basename(op.sources[0]) if len(op.sources) == 1 else None),
        )
        break


def _placed_paths(op) -> list[str]:
    if op.kind in ("copy", "move", "link", "write", "download"):
        return op_paths(op) if op.kind in ("copy", "move", "link") else [op.path]
    return []


def _regenerated_after(model, stage, op, facts) -> bool:
    """Does the family's update command run after `op`, in this stage or a stage built on it?"""
    at = step_key(stage, op)
    if any(isinstance(item, tuple) and step_key(s, item) > at and registers_trust(s, item[1], facts)
           for s, item in chain_steps(stage)):
        return True
    return any(other is not stage and stage in other.chain()
               and any(registers_trust(other, cmd, stage_facts(other)) for _r, cmd in other.commands())
               for other in model.stages)


def _append_hit(model, ctx, stage, op, target, facts):
    if not facts.update_command:
        return  # no tool regenerates the bundle in this family (scratch, distroless, busybox)
    at = step_key(stage, op)
    regenerated = any(isinstance(item, tuple) and step_key(s, item) > at and registers_trust(s, item[1], facts)
                      for s, item in chain_steps(stage))
    if not regenerated:
        for other in model.stages:
            if other is not stage and stage in other.chain():
                if any(registers_trust(other, cmd, stage_facts(other)) for _r, cmd in other.commands()):
                    regenerated = True
    anchor = (facts.anchor_dirs or ["the anchor directory"])[0]
    update = facts.update_command
    if regenerated:
        text = (f"appending to {target} is undone: `{update}` (or the ca-certificates trigger) later in the build "
                f"regenerates it without the appended CA; add the CA to {anchor} instead")
        severity = Severity.ERROR if model.is_shipped(stage) else Severity.WARNING
    else:
        text = (f"appending to {target} edits a generated file: the next `{update}` or ca-certificates upgrade "
                f"rewrites it and drops the CA, and the hashed directory and Java never see it; add the CA to {anchor} "
                f"and run `{update}`")
        severity = Severity.WARNING
    yield ctx.hit("IL231", text, op.inst, op.start or None, op.end or None, stage=stage, severity=severity,
                  fix=fixes.anchor_instead_of_append(model, stage, op))


# --- IL240 trust-store-writable ----------------------------------------------------------------------

TRUST_ROOTS = ("/etc/ssl", "/etc/pki", "/usr/local/share/ca-certificates", "/usr/share/ca-certificates",
               "/usr/share/pki", "/var/lib/ca-certificates", "/etc/ca-certificates")
# Directories whose contents decide trust (a file of the right name placed there is trusted, or
# the tools regenerate from them). A single other file below /etc/pki (a server's own certificate
# or key) is not the trust store.
TRUST_DIRS = {"/etc/ssl", "/etc/ssl/certs", "/etc/ssl/certs/java", "/etc/pki", "/etc/pki/ca-trust", "/etc/pki/tls",
              "/etc/pki/tls/certs", "/etc/pki/java", "/etc/pki/trust", "/var/lib/ca-certificates", "/usr/share/pki",
              "/usr/share/ca-certificates", "/etc/ca-certificates"}
ROOT_USERS = {"root", "0", ""}


@lru_cache(maxsize=1)
def _trust_dirs() -> set[str]:
    out = set(TRUST_DIRS)
    for facts in all_families().values():
        out.update(facts.anchor_dirs)
        out.update(facts.neutral_dirs)
    return out


def trust_path_touched(path: str, recursive: bool, reliable: bool = True) -> str | None:
    """The trust-store path a chmod/chown of `path` affects, or None. `reliable` is False when the
    path came from a relative word or an unknown variable: then only an exact trust path counts."""
    path = path.rstrip("/") or "/"
    dirs = _trust_dirs()
    if path in dirs or path.startswith("/etc/pki/ca-trust/") or path.startswith("/var/lib/ca-certificates/"):
        return path if (path in dirs or recursive or is_bundle_path(path)) else None
    if is_bundle_path(path) or JVM_STORE.search(path) and "/security/" in path or path.endswith("/lib/security"):
        return path
    if recursive and reliable and path in ("/", "/etc", "/usr", "/usr/share", "/usr/local", "/usr/local/share", "/var", "/var/lib"):
        return next(r for r in TRUST_ROOTS if under(r, path))
    return None


def world_writable(mode: str) -> bool:
    mode = mode.strip()
    if re.fullmatch(r"[0-7]{3,4}", mode):
        return bool(int(mode[-1]) & 2)
    for clause in mode.split(","):
        m = re.fullmatch(r"([ugoa]*)([+=])([rwxXst]*)", clause)
        if m and "w" in m.group(3) and (("o" in m.group(1)) or ("a" in m.group(1))):
            return True
    return False


def non_root_owner(owner: str) -> str | None:
    user = re.split(r"[:.]", owner.strip(), 1)[0]
    return None if user in ROOT_USERS else user


@check("IL240")
def trust_store_writable(model, ctx):
    for stage in model.shipped_chain():
        for op in stage.file_ops:
            problems = []
            raw = model.parsed.text[op.start:op.end] if op.end > op.start else ""
            reliable = raw.lstrip("\"'").startswith("/") and "$" not in raw
            if op.kind in ("chmod", "chown"):
                touched = trust_path_touched(op.path, op.recursive, reliable)
                if touched is None:
                    continue
                if op.kind == "chmod" and op.mode and world_writable(op.mode):
                    problems.append(f"`chmod {op.mode}` makes {touched} writable by every user")
                if op.kind == "chown" and op.owner and non_root_owner(op.owner):
                    problems.append(f"`chown {op.owner}` gives {touched} to the non-root user {non_root_owner(op.owner)}")
            elif op.kind == "copy" and op.command is None:
                touched = trust_path_touched(op.path, False, reliable)
                if touched is None:
                    continue
                if op.mode and world_writable(op.mode):
                    problems.append(f"`--chmod={op.mode}` makes {touched} writable by every user")
                if op.owner and non_root_owner(op.owner):
                    problems.append(f"`--chown={op.owner}` gives {touched} to the non-root user {non_root_owner(op.owner)}")
            for problem in problems:
                yield ctx.hit(
                    "IL240",
                    f"{problem}: a process running as that user can add a CA (directly, or for the next trust-store update) and "
                    f"intercept TLS; keep the trust store owned by root and not world-writable",
                    op.inst, op.start or None, op.end or None, stage=stage,
                    fix=fixes.guidance("Keep the trust store owned by root and not writable by others: drop the chmod/chown; register CAs as root at build time (USER root, RUN update-ca-certificates, USER app)"),
                )
