"""IL501 private-key-copied and IL510 cert-problem: key material and certificates a Dockerfile puts
into the image, read from the build context where the rule needs contents."""
from __future__ import annotations

import os
import posixpath
import re

from ...dockerfile.context import (context_sources, expand_context_source, image_path_of, normalise_source,
                                   read_context_file)
from ...dockerfile.model import Stage
from ...dockerfile.queries import anchor_target, stage_facts
from ...facts import families
from ...findings import Severity
from ..registry import check
from .servers import server_keys_copied_by
from .ca_env import trust_settings

# --- IL501 private-key-copied ----------------------------------------------------------------------


_KEYSTORE_EXTS = (".p12", ".pfx", ".jks", ".keystore", ".jceks", ".bks")
_SSH_KEYS = {"id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "id_ecdsa_sk", "id_ed25519_sk", "identity"}
# `.key` files that are conventionally public: apt/yum repository signing keys (GPG).
_PUBLIC_KEY_HINTS = ("gpg", "pgp", "signing", "release", "archive", "repo", "apt", "yum", "rpm", "pubkey", "public")
_READABLE_KEY_EXTS = (".pem", ".key", ".crt", ".cer", ".p12", ".pfx", ".jks", ".keystore", ".jceks", "")


def key_name_kind(path: str) -> str | None:
    """What kind of key material a file name announces: 'private key', 'SSH private key',
    'keystore', or None. Public keys (`*.pub`), certificates and trust stores are not keys."""
    name = posixpath.basename(path.rstrip("/")).lower()
    if not name or name.endswith((".pub", ".crt", ".cer", ".csr", ".der")):
        return None
    if name in _SSH_KEYS or re.fullmatch(r"ssh_host_[a-z0-9]+_key", name) or re.search(r"(^|[._-])id_(rsa|dsa|ecdsa|ed25519)(_sk)?$", name):
        return "SSH private key"
    if any(h in name for h in ("license", "licence")):
        return None  # product license keys, not cryptographic private keys
    if name.endswith(_KEYSTORE_EXTS):
        stem = name.rsplit(".", 1)[0]
        if "trust" in stem or "cacert" in stem:
            return None  # a trust store holds certificates only
        return "keystore"
    if name.endswith(".ppk"):
        return "PuTTY private key"
    if name.endswith(".key"):
        if any(h in name for h in _PUBLIC_KEY_HINTS):
            return None
        return "private key"
    if name.endswith((".pem",)):
        stem = name[:-4]
        if stem in ("key", "privkey", "private", "private-key", "private_key") or stem.endswith(("-key", "_key", ".key")):
            return "private key"
        if in_private_dir(path):
            return "private key"  # /etc/ssl/private, /etc/pki/tls/private: OpenSSL's layout for keys
    return None


def in_private_dir(path: str) -> bool:
    """A path with a `private` directory component (`/etc/ssl/private/site.pem`, `tls/private/x.pem`)."""
    return "private" in [p.lower() for p in posixpath.dirname(path.rstrip("/")).split("/")]


def content_key_kinds(data: bytes) -> list[str]:
    """Key types found in file content (never the bytes themselves)."""
    from ...certs.load import PRIVATE_KEY_LABELS, PEM_BLOCK

    if b"-----BEGIN " in data:
        if b"PRIVATE KEY-----" not in data:
            return []
        return sorted({PRIVATE_KEY_LABELS[m.group(1)] for m in PEM_BLOCK.finditer(data) if m.group(1) in PRIVATE_KEY_LABELS})
    if data[:1] == b"\x30" or data[:4] in (b"\xfe\xed\xfe\xed", b"\xce\xce\xce\xce"):
        from ...certs.load import load_certificates

        return sorted(set(load_certificates(data).private_keys))
    return []


# Where package managers read repository signing keys (public by definition).
_KEYRING_DIRS = ("/etc/apt/trusted.gpg.d", "/etc/apt/keyrings", "/usr/share/keyrings", "/etc/pki/rpm-gpg",
                 "/etc/apk/keys", "/usr/share/pki/rpm-gpg", "/etc/zypp/keys")


def _public_destination(op) -> bool:
    """A COPY destination that says its files are public keys (a keyring, `*.pub`, `*.gpg`, `*.asc`)."""
    path = op.path.rstrip("/")
    if _under(path, _KEYRING_DIRS):
        return True
    return not (op.is_dir or op.path.endswith("/")) and path.lower().endswith((".pub", ".gpg", ".asc"))


def _into_private_dir(op, source: str) -> bool:
    """A PEM copied into a `private` directory (`COPY site.pem /etc/ssl/private/`): key material by
    where it lands, unless its content shows a certificate."""
    if not source.lower().endswith(".pem"):
        return False
    dest = op.path if (op.is_dir or op.path.endswith("/")) else posixpath.dirname(op.path)
    return in_private_dir(dest.rstrip("/") + "/x")


def _context_key_files(ctx, op) -> list[tuple[str, str]]:
    """(context file, kind) for key material a COPY/ADD takes from the build context."""
    found = []
    public_dest = _public_destination(op)
    for source in context_sources(op):
        files = expand_context_source(ctx.context_dir, source)
        if not files:
            # Not visible in the context: judge by the names, the source's and the destination's
            # (`ADD deploy_key /root/.ssh/id_rsa`), unless the destination says it is public.
            dest_name = "" if (op.is_dir or op.path.endswith("/")) else op.path
            if public_dest:
                continue
            kind = key_name_kind(source) or (key_name_kind(dest_name) if dest_name else None)
            if kind is None and _into_private_dir(op, source):
                kind = "private key"
            if kind is None and posixpath.basename(source.rstrip("/")) == ".ssh":
                kind = "SSH private key"  # a user's .ssh directory: where ssh keeps its private keys
            if kind:
                found.append((source, kind))
            continue
        classified = _key_files(ctx.context_dir, tuple(files))
        if _into_private_dir(op, source):
            named = {rel for rel, _k in classified}
            for rel in files:
                if rel in named or not rel.lower().endswith(".pem"):
                    continue
                data = read_context_file(ctx.context_dir, rel)
                if data is not None and _public_content(data) and not content_key_kinds(data):
                    continue  # a certificate, whatever directory it lands in
                found.append((rel, "private key"))
        for rel, kind in classified:
            # Into a keyring only content that shows a private key counts; a name alone does not.
            if not public_dest or kind.startswith("private key ("):
                found.append((rel, kind))
    return found


_KEY_CACHE: dict[tuple, list[tuple[str, str]]] = {}


def _key_files(context_dir: str, files: tuple[str, ...]) -> list[tuple[str, str]]:
    # Large directory copies repeat across Dockerfiles sharing a context; classify them once.
    key = (context_dir, files, tuple(_mtime(context_dir, f) for f in files if f.lower().endswith(_KEY_CANDIDATE_EXTS)))
    if key not in _KEY_CACHE:
        if len(_KEY_CACHE) > 256:
            _KEY_CACHE.clear()
        _KEY_CACHE[key] = _classify_key_files(context_dir, files)
    return _KEY_CACHE[key]


def _mtime(context_dir: str, rel: str) -> int:
    try:
        return os.stat(os.path.join(context_dir, rel)).st_mtime_ns
    except OSError:
        return 0


_KEY_CANDIDATE_EXTS = (".pem", ".key", ".p12", ".pfx", ".jks", ".keystore", ".jceks")


def _classify_key_files(context_dir: str, files: tuple[str, ...]) -> list[tuple[str, str]]:
    found = []
    for rel in files:
        kind = key_name_kind(rel)
        name = posixpath.basename(rel).lower()
        ext = posixpath.splitext(name)[1]
        if ext in _READABLE_KEY_EXTS and (ext or name.startswith("id_") or kind):
            data = read_context_file(context_dir, rel)
            kinds = content_key_kinds(data) if data else []
            if kinds:
                kind = "private key (" + ", ".join(kinds) + ")"
            elif data is not None and (kind == "keystore" or _public_content(data)):
                kind = None  # the content shows a trust store or a public key, whatever the name says
        if kind:
            found.append((rel, kind))
    return found


_PUBLIC_MARKERS = (b"-----BEGIN PGP PUBLIC KEY BLOCK-----", b"-----BEGIN PUBLIC KEY-----",
                   b"-----BEGIN RSA PUBLIC KEY-----", b"-----BEGIN CERTIFICATE-----", b"-----BEGIN SSH2 PUBLIC KEY-----")


def _public_content(data: bytes) -> bool:
    """Content that is recognisably public: PGP/PEM public keys, certificates, OpenSSH public keys."""
    head = data.lstrip()[:200]
    return any(m in data for m in _PUBLIC_MARKERS) or head.startswith((b"ssh-rsa ", b"ssh-ed25519 ", b"ecdsa-sha2-"))


_GEN_FLAGS = {
    # command -> (subcommand words that generate a key, option naming the key file)
    "genrsa": "-out", "genpkey": "-out", "gendsa": "-out", "ecparam": "-out",
}


def generated_keys(stage: Stage) -> list[str]:
    """Image paths where a RUN of this stage writes a freshly generated private key."""
    out = []
    for run, cmd in stage.commands():
        values = [w.value for w in cmd.args]
        lowered = [v.lower() for v in values]

        def option(*names: str) -> str | None:
            for i, v in enumerate(values):
                for n in names:
                    if v == n and i + 1 < len(values):
                        return values[i + 1]
                    if v.startswith(n + "="):
                        return v.split("=", 1)[1]
            return None

        path = None
        if cmd.name == "openssl" and values:
            sub = values[0]
            if sub in _GEN_FLAGS and (sub != "ecparam" or "-genkey" in values):
                path = option("-out")
            elif sub == "req":
                path = option("-keyout")
        elif cmd.name == "ssh-keygen" and not any(v in ("-y", "-l", "-R", "-F", "-H", "-e", "-i", "-s") for v in values):
            path = option("-f")
        elif cmd.name == "keytool" and any(v in ("-genkeypair", "-genkey", "-genseckey") for v in lowered):
            path = option("-keystore")
        elif cmd.name == "mkcert":
            path = option("-key-file")
        if path and not path.startswith(("$", "~")):
            # a relative -out/-keyout lands in the RUN's WORKDIR
            out.append(posixpath.normpath(posixpath.join(getattr(run, "workdir", "/"), path)))
    return out


@check("IL501")
def private_key_copied(model, ctx):
    shipped = set(model.shipped_chain())
    for stage in model.stages:
        if stage not in shipped:
            continue  # a builder stage's files never reach the image (documented in IL501)
        for op in stage.file_ops:
            if op.command is not None and op.kind == "write":
                yield from _key_written_by_run(ctx, stage, op)
                continue
            if op.kind != "copy" or op.inst.keyword not in ("COPY", "ADD"):
                continue
            if op.from_stage is not None or op.from_image:
                yield from _copied_from_stage(model, ctx, stage, op)
                continue
            hits = _context_key_files(ctx, op)
            if not hits:
                continue
            shown = ", ".join(rel for rel, _ in hits[:3]) + (f" and {len(hits) - 3} more" if len(hits) > 3 else "")
            kinds = sorted({k for _, k in hits})
            message = (f"{op.inst.keyword} puts {' / '.join(kinds)} material into the image ({shown}): "
                       "anyone who can pull the image can read it; mount it at build time "
                       "(RUN --mount=type=secret/ssh) or at run time instead")
            servers = server_keys_copied_by(model, ctx, op)
            if servers:  # a server's own TLS key: the run-time mount is the fix
                message += (f"; it is the TLS key of {', '.join(servers)}: mount it as a Kubernetes Secret of type "
                            "kubernetes.io/tls (or a Docker secret) where the configuration points")
            yield ctx.hit("IL501", message, op.inst, op.start or None, op.end or None, stage=stage,
                          severity=Severity.ERROR, files=[rel for rel, _ in hits],
                          **({"server_key_of": servers} if servers else {}))


def _key_written_by_run(ctx, stage, op):
    """`RUN echo "$SSH_KEY" > /root/.ssh/id_rsa`: key material brought in from a build argument lands in
    a layer of the shipped image. Downloads are left alone: a `.key` fetched from a URL is nearly
    always a repository's public signing key."""
    kind = key_name_kind(op.path)
    if kind is None or op.path.endswith("/") or _under(op.path, _KEYRING_DIRS):
        return
    if op.kind == "write" and op.sources:
        return  # `cat a b > key`: made from files in the image, judged where those came from
    if op.kind == "write":
        from_variable = op.command is not None and any(not w.known for w in op.command.args)
        if not from_variable and "PRIVATE KEY" not in (op.content or ""):
            return  # literal text that is not a key, or output we cannot judge
    yield ctx.hit("IL501", f"RUN writes {kind} material into {op.path} in the shipped image: it stays in the layer "
                           "even if a later step deletes it; use RUN --mount=type=secret or type=ssh",
                  op.inst, op.start or None, op.end or None, stage=stage, severity=Severity.ERROR, files=[op.path])


def _copied_from_stage(model, ctx, stage, op):
    if _public_destination(op):
        return
    source_stage = op.from_stage
    generated = []
    if source_stage is not None:
        for s in source_stage.chain():
            generated.extend(generated_keys(s))
    for source in op.sources:
        if "$" in source:
            continue
        # COPY --from resolves a relative source against the source stage's root, not its WORKDIR.
        src = posixpath.normpath("/" + source.lstrip("/")) if not source.startswith("/") else posixpath.normpath(source)
        gen = [g for g in generated if g == src or g.startswith(src.rstrip("/") + "/")]
        kind = key_name_kind(src) or ("private key" if _into_private_dir(op, src) else None)
        if gen:
            where = f"stage {source_stage.label}"
            yield ctx.hit("IL501", f"COPY --from={source_stage.label} copies a private key generated in {where} "
                                   f"({gen[0]}) into the shipped image: every container of the image shares it",
                          op.inst, op.start or None, op.end or None, stage=stage, severity=Severity.ERROR, files=gen)
        elif kind:
            origin = source_stage.label if source_stage is not None else op.from_image
            yield ctx.hit("IL501", f"COPY --from={origin} copies {kind} material ({src}) into the shipped image: "
                                   "anyone who can pull the image can read it",
                          op.inst, op.start or None, op.end or None, stage=stage, severity=Severity.ERROR, files=[src])


# --- IL510 cert-problem -----------------------------------------------------------------------------

_CERT_EXTS = (".crt", ".pem", ".cer", ".der", ".ca-bundle")
_TRUST_DIRS = ("/etc/ssl/certs", "/certificates", "/etc/pki/ca-trust/source", "/usr/share/pki/ca-trust-source",
               "/etc/pki/trust", "/usr/share/pki/trust", "/usr/local/share/ca-certificates",
               "/usr/share/ca-certificates", "/etc/ca-certificates/trust-source")


def _under(path: str, dirs) -> bool:
    return any(path == d or path.startswith(d.rstrip("/") + "/") for d in dirs)


def _java_in_stage(stage: Stage) -> bool:
    if any(s.image.get("jvm") for s in stage.chain()):
        return True
    return any(cmd.name == "keytool" for _s, _r, cmd in stage.inherited_commands())


def _keytool_files(stage: Stage) -> set[str]:
    files = set()
    for _s, _r, cmd in stage.inherited_commands():
        if cmd.name != "keytool":
            continue
        values = [w.value for w in cmd.args]
        for i, v in enumerate(values):
            if v.lower() == "-file" and i + 1 < len(values):
                files.add(posixpath.normpath(values[i + 1]) if values[i + 1].startswith("/") else values[i + 1])
    return files


def _certificate_inputs(ctx, op):
    """(source, shown name, image path, bytes or None) for each file a COPY/ADD brings in: build
    context files (read later) and inline heredoc content (`COPY <<EOF /path`)."""
    if op.inst.keyword in ("COPY", "ADD") and op.command is None and op.content is not None \
            and op.from_stage is None and not op.from_image:
        dest = op.path
        yield op.sources[0] if op.sources else "<<EOF", f"heredoc {op.sources[0] if op.sources else ''}".strip(), dest, op.content.encode()
        return
    sources = context_sources(op)
    if not sources:
        return
    into_trust_dir = _under(op.path, _TRUST_DIRS) or any(
        _under(op.path, facts_dirs) for facts_dirs in [stage_facts_anchor_dirs(op)])
    for source in sources:
        norm = normalise_source(source)
        globbed = norm is not None and any(c in norm for c in "*?[")
        for rel in expand_context_source(ctx.context_dir, source):
            if not into_trust_dir and not rel.lower().endswith(_CERT_EXTS):
                continue  # cheap filter before mapping paths: most context files are not certificates
            # A file named by the COPY (or matched by its glob) is chosen; one swept in with a directory
            # (`COPY . /app`) may be a test fixture nobody uses.
            named = rel == norm or globbed
            yield source, rel if named else ("\0" + rel), image_path_of(op, source, rel), None


def stage_facts_anchor_dirs(op) -> list[str]:
    """Every family's anchor directories (the op's stage is not known here; a superset is fine
    because the per-file check below uses the stage's own family)."""
    return [d for fam in families().values() for d in fam.anchor_dirs]


@check("IL510")
def cert_problem(model, ctx):
    days = getattr(ctx.config, "cert_expiry_days", 30)
    trust_paths_memo: list = []

    def trust_paths_of(stage) -> set[str]:
        if not trust_paths_memo:  # computed only when a certificate is actually copied
            trust_paths_memo.append(_trust_setting_paths(model, ctx))
        return trust_paths_memo[0].get(id(stage), set())

    for stage in model.stages:
        keytool_files = None
        for op in stage.file_ops:
            for source, rel, dest, data in _certificate_inputs(ctx, op):
                swept_in = rel.startswith("\0")
                rel = rel.lstrip("\0")
                name = rel.lower()
                anchors = anchor_target(stage, _DestOnly(dest))
                trust_dest = bool(anchors) or _under(dest, _TRUST_DIRS) or dest in trust_paths_of(stage)
                if keytool_files is None:
                    keytool_files = _keytool_files(stage)
                if swept_in and not trust_dest and dest not in keytool_files:
                    continue  # part of a copied tree, and nothing in the Dockerfile uses it
                if not (name.endswith(_CERT_EXTS) or dest.lower().endswith(_CERT_EXTS)) and not trust_dest:
                    continue
                if data is None:
                    data = read_context_file(ctx.context_dir, rel)
                if data is None:
                    continue
                facts = stage_facts(stage)
                # update-ca-certificates concatenates each file of this directory into the bundle as it is
                concatenated = facts.update_command == "update-ca-certificates" and dest.endswith(".crt") and \
                    "/usr/local/share/ca-certificates" in facts.anchor_dirs and \
                    _under(dest, ("/usr/local/share/ca-certificates",))
                from ...certs.inspect import file_problems  # only when a certificate is copied

                problems = file_problems(rel, data, in_trust_dir=trust_dest, keytool_input=dest in keytool_files,
                                         java_reads=_java_in_stage(stage), concatenated=concatenated,
                                         expiring_days=days)
                for problem in problems:
                    cert = problem.extra.get("record")
                    code, message, severity = problem.code, problem.message, problem.severity
                    text = f"{rel} (copied to {dest}): {message}"
                    if cert is not None:
                        text += f" [subject {cert.subject}, SHA-256 {cert.fingerprint_sha256}]"
                    yield ctx.hit("IL510", text, op.inst, op.start or None, op.end or None, stage=stage,
                                  severity=Severity.parse(severity), problem=code, file=rel,
                                  fingerprint_sha256=cert.fingerprint_sha256 if cert is not None else None)


def _trust_setting_paths(model, ctx) -> dict[int, set[str]]:
    """Per stage (by id), the files trust variables and settings point at: anchors like the OS ones
    (`NODE_EXTRA_CA_CERTS=/certs/corp.pem`). A setting applies to its stage and the stages built on it."""
    out: dict[int, set[str]] = {}
    settings = [t for t in trust_settings(model, ctx) if t.path.startswith("/") and "$" not in t.path]
    for stage in model.stages:
        chain = stage.chain()
        out[id(stage)] = {posixpath.normpath(t.path) for t in settings if t.stage in chain}
    return out


class _DestOnly:
    """A stand-in FileOp for anchor_target(): one copied file at `path`."""

    kind = "copy"
    is_dir = False

    def __init__(self, path: str):
        self.path = path
        self.sources: list[str] = []

    def targets(self) -> list[str]:
        return [self.path]
