"""Across stages: a CA registered in a builder that the shipped stage never gets (IL401), a shipped
scratch/busybox stage that runs a program without any CA bundle (IL402), and a whole
/etc/ssl/certs directory copied into an image that lacks the files its links point to (IL403)."""
from __future__ import annotations

import posixpath
import re

from ...dockerfile.model import classify_image
from ...facts import family as family_named
from ...dockerfile.parse import split_words
from ...findings import Severity
from ...fixes import builders as fixes
from ..registry import check
from ...dockerfile.queries import chain_steps, looks_like_cert_name, registration_points, under
from ...dockerfile.queries import INSTALL_VERBS, PACKAGE_MANAGER_FAMILY, anchor_target, is_package_op, stage_facts, stage_family

TRUST_SOURCE_ROOTS = ("/etc/ssl", "/etc/pki", "/usr/local/share/ca-certificates", "/usr/share/ca-certificates",
                      "/var/lib/ca-certificates", "/usr/share/pki", "/etc/ca-certificates")
TRUST_ENV = {"SSL_CERT_FILE", "SSL_CERT_DIR", "NODE_EXTRA_CA_CERTS", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
             "AWS_CA_BUNDLE", "GIT_SSL_CAINFO", "PIP_CERT", "NODE_USE_SYSTEM_CA"}
BIN_DIRS = ("/bin", "/sbin", "/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin")
ARCHIVE = re.compile(r"\.(tar|tgz|tbz2?|txz|tar\.(gz|bz2|xz|zst|lz4))$", re.I)
HELP_ONLY = {"--help", "-h", "help", "--version", "-v", "-V", "version"}


def is_trust_source(path: str) -> bool:
    path = path.rstrip("/") or "/"
    return (path == "/" or any(under(path, r) for r in TRUST_SOURCE_ROOTS) or looks_like_cert_name(path)
            or "cacerts" in posixpath.basename(path) or "ca-bundle" in path or "ca-certificates" in path)


def command_words(inst) -> list[str]:
    """ENTRYPOINT/CMD as argv (exec form) or shell words (shell form)."""
    if inst is None:
        return []
    if inst.json_args is not None:
        return list(inst.json_args)
    return [w for w, _, _ in split_words(inst.args)]


def run_spec(stage):
    """(ENTRYPOINT instruction, CMD instruction) in effect for the stage (inherited through FROM <stage>)."""
    entry = cmd = None
    for s in stage.chain():
        entry = entry or s.entrypoint
        cmd = cmd or s.cmd
    return entry, cmd


def runs_program(stage) -> bool:
    entry, cmd = run_spec(stage)
    if entry is not None:
        return True
    if cmd is None:
        return False
    words = command_words(cmd)
    return not (len(words) >= 2 and all(w in HELP_ONLY for w in words[1:]))


def copies_binary(stage) -> bool:
    for s in stage.chain():
        for op in s.file_ops:
            if op.kind == "copy" and op.command is None and any(under(t, d) for d in BIN_DIRS for t in op.targets() + [op.path]):
                return True
    return False


def handles_trust_itself(stage) -> bool:
    """Does the stage chain bring its own trust: a CA in the anchors, a cert-like file, a trust variable?"""
    for s in stage.chain():
        for op in s.file_ops:
            if op.kind == "delete":
                continue
            if anchor_target(s, op):
                return True
            if op.kind in ("copy", "download", "write", "link") and (is_trust_source(op.path) or any(looks_like_cert_name(x) for x in op.sources)):
                if op.path != "/":
                    return True
        if any(e.name in TRUST_ENV and e.kind == "ENV" for e in s.env_settings):
            return True
    return False


def brings_custom_ca(stage) -> bool:
    """Does the stage chain get a custom CA of its own: a CA in its anchors, a certificate file from
    the build context or a download, a trust variable, or a bundle copied from a stage that itself
    registers a CA? A bundle copied from a plain stage or a public image does not count."""
    for s in stage.chain():
        if any(e.name in TRUST_ENV and e.kind == "ENV" for e in s.env_settings):
            return True
        for op in s.file_ops:
            if op.kind == "delete":
                continue
            if anchor_target(s, op):
                return True
            if op.kind not in ("copy", "download", "write"):
                continue
            trusty = is_trust_source(op.path) or any(is_trust_source(x) for x in op.sources)
            if not trusty or op.path == "/":
                continue
            if op.from_image:
                continue
            if op.from_stage is not None:
                if registration_points(op.from_stage) or any(anchor_target(x, o) for x in op.from_stage.chain() for o in x.file_ops):
                    return True
                continue
            return True
    return False


def outbound_tls(stage) -> bool:
    entry, cmd = run_spec(stage)
    texts = command_words(entry) + command_words(cmd)
    for s in stage.chain():
        texts += [e.value or e.raw for e in s.env_settings if e.kind == "ENV"]
    return any("https://" in t for t in texts)


# --- IL401 ca-lost-multistage --------------------------------------------------------------------------

@check("IL401")
def ca_lost_multistage(model, ctx):
    shipped = model.shipped
    if shipped is None or len(model.stages) < 2:
        return
    chain = shipped.chain()
    if not (runs_program(shipped) or copies_binary(shipped)):
        return
    if brings_custom_ca(shipped):
        return
    reported = set()
    for stage in model.stages:
        if stage in chain:
            continue
        points = [p for p in registration_points(stage) if p[0] not in chain]
        if not points:
            continue
        registering = points[-1][0]
        if registering.index in reported:
            continue
        derived = [s for s in model.stages if registering in s.chain()]
        if any(op.kind == "copy" and op.from_stage in derived and any(is_trust_source(x) for x in op.sources)
               for s in chain for op in s.file_ops):
            continue
        reported.add(registering.index)
        run, cmd = points[-1][1]
        what = "runs its program" if runs_program(shipped) else "ships a program"
        yield ctx.hit(
            "IL401",
            f"stage {registering.label} registers a CA with `{cmd.name}`, but the shipped stage {shipped.label}, which "
            f"{what}, is not built FROM it and copies no CA bundle from it: the program there does not trust the CA; "
            f"copy the bundle (`COPY --from={registering.label} {stage_facts(registering).bundle or '/etc/ssl/certs/ca-certificates.crt'} ...`) "
            f"or register the CA in the shipped stage too",
            shipped.from_inst, stage=shipped, fix=fixes.bundle_from_stage(model, shipped, registering),
        )


# --- IL402 no-ca-bundle ----------------------------------------------------------------------------

def _program_word(stage) -> str | None:
    entry, cmd = run_spec(stage)
    words = command_words(entry) or command_words(cmd)
    if not words:
        return None
    if posixpath.basename(words[0]) in ("sh", "ash", "bash") and len(words) >= 3 and words[1] == "-c":
        inner = words[2].split()
        return inner[0] if inner else None
    if entry is None and cmd is not None and cmd.json_args is None:
        return words[0]
    return words[0]


def _copied_program(stage, program: str) -> bool:
    for s in stage.chain():
        for op in s.file_ops:
            if op.kind not in ("copy", "download", "move", "link"):
                continue
            for target in op.targets() + [op.path]:
                if target == program or posixpath.basename(target) == posixpath.basename(program):
                    return True
                if op.is_dir and program.startswith(op.path.rstrip("/") + "/"):
                    return True
    return False


# Runtimes that carry their own roots: Node's compiled-in Mozilla bundle (Node docs --use-bundled-ca), a JRE's own
# lib/security/cacerts (adoptium/containers entrypoint.sh).
OWN_ROOTS_PROGRAMS = {"node", "nodejs", "java"}
EXTRACTORS = {"tar", "unzip", "bsdtar", "rpm2cpio", "cpio", "dpkg-deb"}


def _unknown_filesystem(stage, program: str | None = None) -> bool:
    """A root filesystem of unknown contents: ADD of an archive, a directory tree copied over `/`
    or into /etc, packages installed or archives unpacked by RUN (any of them may bring a bundle)."""
    for s in stage.chain():
        for _run, cmd in s.commands():
            values = [w.value for w in cmd.args]
            if cmd.name in ("opkg-install", "opkg") or (cmd.name in PACKAGE_MANAGER_FAMILY and any(v in INSTALL_VERBS for v in values)):
                return True
            if cmd.name in EXTRACTORS and (cmd.name != "tar" or any(v.startswith("-x") or (not v.startswith("-") and "x" in v and i == 0) or v == "--extract" or (v.startswith("-") and "x" in v) for i, v in enumerate(values))):
                return True
        for op in s.file_ops:
            if op.kind != "copy":
                continue
            if op.inst.keyword == "ADD" and any(ARCHIVE.search(x) for x in op.sources):
                return True
            if program and op.sources and all(posixpath.basename(x.rstrip("/")) == posixpath.basename(program) for x in op.sources):
                continue  # the program itself, copied to the top level
            if op.path in ("/", "/etc", "/usr", "/usr/share") and (op.from_stage is not None or op.from_image or op.is_dir
                                                                 or any(x.endswith("/") or "." not in posixpath.basename(x) for x in op.sources)):
                return True
    return False


@check("IL402")
def no_ca_bundle(model, ctx):
    shipped = model.shipped
    if shipped is None:
        return
    family = stage_family(shipped)
    facts = family_named(family)
    if not facts.no_bundle:
        return  # scratch and busybox only; distroless ships /etc/ssl/certs/ca-certificates.crt
    entry, cmd = run_spec(shipped)
    if entry is None and cmd is None:
        return  # no program: static files or an artifact image for COPY --from
    if not runs_program(shipped):
        return  # the default command only prints help or a version
    program = _program_word(shipped)
    if program is not None:
        name = posixpath.basename(program)
        if name in OWN_ROOTS_PROGRAMS:
            return  # the runtime carries its own roots
        if name.endswith(".wasm"):
            return  # a WebAssembly module for a wasm runtime, not a Linux program reading /etc/ssl
    if family == "busybox":
        if program is None or not _copied_program(shipped, program):
            return  # busybox's own applets
    if handles_trust_itself(shipped) or _unknown_filesystem(shipped, program):
        return
    tls = outbound_tls(shipped)
    inst = entry or cmd
    yield ctx.hit(
        "IL402",
        f"the shipped image is FROM {family} and runs a program, but no CA bundle is copied in"
        + (" while its command line or environment names https:// URLs" if tls else "")
        + ": if the program makes TLS connections and does not embed its own roots (as Go programs do with "
        "golang.org/x/crypto/x509roots/fallback), each one fails (`x509: certificate signed by unknown authority`, "
        "`unable to get local issuer certificate`); `imagelint scan` on the built image looks for embedded roots "
        "and settles it; otherwise add `COPY --from=<builder> /etc/ssl/certs/ca-certificates.crt "
        "/etc/ssl/certs/ca-certificates.crt`",
        # Without https:// evidence the need is a guess (the program may make no TLS connection, or embed
        # its roots): information only, for `imagelint scan` on the built image to settle.
        inst, stage=shipped, severity=Severity.ERROR if tls else Severity.INFO,
        fix=fixes.no_bundle_fix(model, shipped),
    )


# --- IL403 whole /etc/ssl/certs copied ----------------------------------------------------------------

def _store_is_links(source_stage, image: str | None) -> bool:
    """Is the source's /etc/ssl/certs made of symlinks into package directories? Debian/Ubuntu and
    RHEL stores always are (when present); Alpine's only once the ca-certificates package is in."""
    if image is not None:
        entry = classify_image(image)
        family, has_tool = entry.get("family"), entry.get("ca_tool")
        stage = None
    else:
        family, has_tool, stage = stage_family(source_stage), source_stage.image.get("ca_tool"), source_stage
    if family in ("debian", "ubuntu", "rhel"):
        return True
    if family in ("alpine", "wolfi"):
        if has_tool:
            return True
        if stage is not None:
            package = family_named(family).ca_package or "ca-certificates"
            return any(isinstance(item, tuple) and is_package_op(item[1], INSTALL_VERBS, package) for _s, item in chain_steps(stage))
    return False


def _lacks_ca_package(stage, facts) -> bool:
    """A distribution stage known not to have the ca-certificates package (ca_tool = false) that
    does not install it: /usr/share/ca-certificates is not there."""
    if stage.image.get("ca_tool") is not False or not facts.ca_package:
        return False
    return not any(isinstance(item, tuple) and (is_package_op(item[1], INSTALL_VERBS, facts.ca_package)
                                                or any(not w.known for w in item[1].args) and item[1].name in PACKAGE_MANAGER_FAMILY)
                   for _s, item in chain_steps(stage))


@check("IL403")
def etc_ssl_certs_dir_copied(model, ctx):
    shipped = model.shipped
    if shipped is None:
        return
    family = stage_family(shipped)
    facts = family_named(family)
    if not (facts.no_bundle or facts.no_shell or _lacks_ca_package(shipped, facts)):
        return  # the package directories the links point to are there (or we do not know)
    for s in shipped.chain():
        copied_targets = [x for op in s.file_ops if op.kind == "copy" for x in op.sources]
        for op in s.file_ops:
            if op.kind != "copy" or (op.from_stage is None and not op.from_image):
                continue
            whole = [x for x in op.sources if x.rstrip("/") in ("/etc/ssl/certs", "/etc/ssl")]
            if not whole:
                continue
            if any(under(x, "/usr/share/ca-certificates") or under(x, "/etc/pki") for x in copied_targets):
                continue  # the link targets come along
            if not _store_is_links(op.from_stage, op.from_image):
                continue
            source = op.from_stage.label if op.from_stage is not None else op.from_image
            yield ctx.hit(
                "IL403",
                f"copying the whole {whole[0]} from {source} into this {family} image copies symlinks into "
                f"/usr/share/ca-certificates (or /etc/pki) that do not exist here: the per-CA files and hash links "
                f"dangle, so `SSL_CERT_DIR`/CApath readers find nothing; copy the bundle file "
                f"`/etc/ssl/certs/ca-certificates.crt` instead",
                op.inst, op.start or None, op.end or None, stage=s,
                fix=fixes.bundle_file_instead_of_dir(model, op, whole[0]),
            )
