"""Trust variables and tool settings that point at a CA file: replacing all roots with one custom CA
(env-bundle-replaces) and pointing at a file the image does not have (env-path-missing).
Sources: requests sessions.py/certs.py, pip "HTTPS Certificates", AWS CLI --ca-bundle, npm config cafile and
Node docs NODE_EXTRA_CA_CERTS (append vs replace); a missing javax.net.ssl.trustStore observed with OpenJDK 17.0.15;
link names from /usr/sbin/update-ca-certificates (Debian) and alpinelinux/ca-certificates update-ca.c.
"""
from __future__ import annotations

import posixpath
import re
from ...records import record

from ...facts import families as all_families
from ...dockerfile.model import Stage, memoized
from ...dockerfile.parse import Instruction
from ...findings import Severity
from ...fixes import builders as fixes
from ..context import scope_severity
from ..registry import check
from ...dockerfile.queries import anchor_target, env_assignments, is_package_op, INSTALL_VERBS, stage_facts, stage_family
from ...dockerfile.context import context_sources, expand_context_source, read_context_file
from .os_store import installs_ca_tool  # the judgement IL210 makes (dependents, apt Recommends)
from .runtimes import JAVA_OPTION_VARS, TRUSTSTORE_OPTION, keytool_calls, resolve_java_path, runs_opaque_script, stage_jvm

# Variables that REPLACE the default roots of their consumer (requests sessions.py, pip and AWS CLI docs, git-config(1), npm config cafile).
REPLACING_VARS = {"REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "PIP_CERT", "AWS_CA_BUNDLE",
                  "GIT_SSL_CAINFO", "CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE", "npm_config_cafile", "NPM_CONFIG_CAFILE"}
# Variables that add to the defaults: never env-bundle-replaces, but their path must exist.
ADDITIVE_VARS = {"NODE_EXTRA_CA_CERTS", "SSL_CERT_DIR"}
STANDARD_TOP_DIRS = {"bin", "boot", "dev", "etc", "home", "lib", "lib32", "lib64", "libx32", "media", "mnt", "opt",
                     "proc", "root", "run", "sbin", "srv", "sys", "tmp", "usr", "var", "workspace"}
RUNTIME_MOUNTS = ("/run/secrets", "/var/run/secrets", "/certificates", "/mnt", "/secrets", "/media")
BUNDLE_NAME_HINTS = ("bundle", "ca-certificates", "cacert", "cacerts", "roots", "truststore", "all", "combined",
                     "full", "system", "tls-ca")
MAX_CUSTOM_CERTS = 5


@record
class TrustSetting:
    name: str  # variable, or the tool setting (`npm cafile`, `-Djavax.net.ssl.trustStore`)
    path: str
    stage: Stage
    inst: Instruction
    start: int | None
    end: int | None
    kind: str  # ENV | ARG | RUN | export | command
    replaces: bool

    @property
    def persistent(self) -> bool:
        return self.kind == "ENV"


def trust_settings(model, ctx=None) -> list[TrustSetting]:
    # Three checks ask per file; computed once per model and context (the model is not changed once built).
    cached_ctx, settings = memoized(model, "trust_settings", lambda: (ctx, _trust_settings(model, ctx)))
    if cached_ctx is not ctx:
        settings = _trust_settings(model, ctx)
    return list(settings)


def _trust_settings(model, ctx=None) -> list[TrustSetting]:
    out: list[TrustSetting] = []
    for a in env_assignments(model):
        if a.value is None:
            continue
        if a.name in REPLACING_VARS or a.name in ADDITIVE_VARS:
            out.append(TrustSetting(a.name, a.value.strip(), a.stage, a.inst, a.start, a.end, a.kind,
                                    a.name in REPLACING_VARS))
        elif a.name in JAVA_OPTION_VARS:
            for m in TRUSTSTORE_OPTION.finditer(a.value):
                out.append(TrustSetting(f"-Djavax.net.ssl.trustStore ({a.name})", m.group(1).strip("\"'"), a.stage,
                                        a.inst, a.start, a.end, a.kind, True))
    for stage in model.stages:
        for run, cmd in stage.commands():
            values = [w.value for w in cmd.args]
            lowered = [v.lower() for v in values]
            found = None
            if cmd.name in ("npm", "yarn", "pnpm") and lowered[:2] == ["config", "set"] and len(values) > 2:
                key, _, val = values[2].partition("=")
                if key.lower() == "cafile":
                    found = ("npm cafile", val or (values[3] if len(values) > 3 else ""), cmd.args[3] if not val and len(values) > 3 else cmd.args[2])
            elif cmd.name.startswith("pip") and lowered[:2] == ["config", "set"] and len(values) > 3:
                if lowered[2].endswith(".cert"):
                    found = ("pip config cert", values[3], cmd.args[3])
            elif cmd.name == "git" and "config" in lowered:
                for i, v in enumerate(lowered):
                    if v == "http.sslcainfo" and i + 1 < len(values):
                        found = ("git http.sslCAInfo", values[i + 1], cmd.args[i + 1])
            if found and found[1]:
                name, value, word = found
                out.append(TrustSetting(name, value, stage, run.inst, word.start, word.end, "command", True))
            for w in cmd.args:
                m = TRUSTSTORE_OPTION.search(w.value)
                if m and cmd.name in ("java", "mvn", "gradle", "sbt", "mvnw", "gradlew") or (m and cmd.name.startswith("java")):
                    out.append(TrustSetting("-Djavax.net.ssl.trustStore", m.group(1).strip("\"'"), stage, run.inst,
                                            w.start, w.end, "RUN", True))
        for op in stage.file_ops:
            if posixpath.basename(op.path) not in (".npmrc", "npmrc") or op.kind not in ("write", "append", "copy"):
                continue
            content = op.content
            if content is None and ctx is not None:
                sources = context_sources(op)
                data = read_context_file(ctx.context_dir, sources[0]) if len(sources) == 1 else None
                content = data.decode("utf-8", "replace") if data else None
            if content:
                for m in re.finditer(r"^\s*cafile\s*=\s*(\S+)", content, re.M):
                    out.append(TrustSetting("npm cafile (.npmrc)", m.group(1), stage, op.inst, op.start or None,
                                            op.end or None, "ENV", True))
    return [s for s in out if s.path]


# --- what a path holds ------------------------------------------------------------------------------

def system_bundle_paths() -> set[str]:
    families = all_families()
    paths = {p for fam in families.values() for p in fam.bundle_paths}
    paths |= {fam.java_system_store for fam in families.values() if fam.java_system_store}
    paths |= {"/etc/ssl/certs/java/cacerts", "/etc/pki/java/cacerts", "/usr/lib/ssl/cert.pem", "/etc/ssl/cert.pem",
              "/etc/ssl/ca-bundle.pem", "/etc/pki/tls/cacert.pem"}
    return paths


def _is_system_store(path: str, stage: Stage) -> bool:
    if path in system_bundle_paths() or re.search(r"certifi(?![a-z])", path):
        return True
    if path.endswith("/lib/security/cacerts") or path.endswith("/lib/security/jssecacerts"):
        return True
    jvm = stage_jvm(stage)
    return bool(jvm and jvm.java_home and path.startswith(jvm.java_home + "/"))


def _bundle_name(path: str) -> bool:
    name = posixpath.basename(path).lower()
    return any(h in name for h in BUNDLE_NAME_HINTS)


def _count_certs(data: bytes) -> int:
    return data.count(b"-----BEGIN CERTIFICATE-----") + data.count(b"-----BEGIN TRUSTED CERTIFICATE-----")


def _ops_in_order(stage: Stage):
    items = []
    for s in reversed(stage.chain()):
        for op in s.file_ops:
            items.append((s.index, op.command.start if op.command else op.inst.start, "op", s, op))
        for _s2, _run, kt in keytool_calls(s):
            items.append((s.index, kt.cmd.start, "keytool", s, kt))
    items.sort(key=lambda x: (x[0], x[1]))
    return items


def classify_path(stage: Stage, path: str, ctx, depth: int = 0) -> tuple[str, str]:
    """('bundle' | 'custom' | 'unknown', detail) for what `path` holds at the end of the stage chain."""
    if _is_system_store(path, stage):
        return "bundle", "the system store"
    if depth > 3:
        return "unknown", ""
    verdict: tuple[str, str] = ("unknown", "")
    for _idx, _off, kind, s, item in _ops_in_order(stage):
        if kind == "keytool":
            target = item.options.get("-keystore")
            if item.action == "import" and target is not None and resolve_java_path(target, None) == path:
                if verdict[0] == "unknown" and not verdict[1]:
                    verdict = ("custom", "a keystore keytool creates holding only the imported CA")
            elif item.action == "importkeystore":
                dest = item.options.get("-destkeystore")
                if dest is not None and resolve_java_path(dest, None) == path:
                    verdict = ("bundle", "")
            continue
        op = item
        if op.kind in ("delete", "chmod", "chown", "edit", "mkdir"):
            continue
        targets = op.targets() if op.is_dir else [op.path]
        if path not in targets:
            continue
        if op.kind == "append":
            if any(_is_system_store(src, stage) for src in op.sources):
                verdict = ("bundle", "")
            continue
        verdict = _classify_creator(s, op, path, ctx, depth)
    return verdict


def _classify_creator(stage: Stage, op, path: str, ctx, depth: int) -> tuple[str, str]:
    if op.kind == "download":
        return "unknown", "downloaded"
    if op.kind == "write":
        if op.sources:  # cat a b > path
            kinds = [classify_path(stage, src, ctx, depth + 1)[0] for src in op.sources]
            if any(k == "bundle" for k in kinds) or any(_is_system_store(s, stage) for s in op.sources):
                return "bundle", ""
            if kinds and all(k == "custom" for k in kinds):
                return "custom", f"a concatenation of custom CA files ({', '.join(op.sources)})"
            return "unknown", ""
        if op.content:
            n = op.content.count("BEGIN CERTIFICATE")
            if 0 < n <= MAX_CUSTOM_CERTS:
                return "custom", f"{n} certificate(s) written by the Dockerfile"
        return "unknown", ""
    if op.kind == "link":
        src = op.sources[0] if op.sources else ""
        target = src if src.startswith("/") else posixpath.normpath(posixpath.join(posixpath.dirname(path), src))
        return classify_path(stage, target, ctx, depth + 1) if src else ("unknown", "")
    if op.kind in ("copy", "move"):
        if op.command is not None:  # cp/mv/install inside a RUN
            srcs = [s for s in op.sources if s.startswith("/")]
            if len(srcs) == 1:
                return classify_path(stage, srcs[0], ctx, depth + 1)
            return "unknown", ""
        if op.from_stage is not None:
            srcs = [s for s in op.sources if s.startswith("/")]
            if len(srcs) == 1 and not op.is_dir:
                return classify_path(op.from_stage, posixpath.normpath(srcs[0]), ctx, depth + 1)
            if op.is_dir:
                name = posixpath.basename(path)
                match = [s for s in srcs if posixpath.basename(s.rstrip("/")) == name]
                if match:
                    return classify_path(op.from_stage, posixpath.normpath(match[0]), ctx, depth + 1)
            return "unknown", ""
        if op.from_image:
            srcs = [s for s in op.sources if s.startswith("/")]
            if srcs and all(s in system_bundle_paths() for s in srcs):
                return "bundle", ""
            return "unknown", ""
        if op.content is not None:  # COPY <<EOF
            n = op.content.count("BEGIN CERTIFICATE")
            return ("custom", f"{n} certificate(s) written inline") if 0 < n <= MAX_CUSTOM_CERTS else ("unknown", "")
        sources = context_sources(op)
        if len(sources) != 1:
            return "unknown", ""
        source = sources[0]
        files = expand_context_source(ctx.context_dir, source)
        if op.is_dir:
            files = [f for f in files if posixpath.basename(f) == posixpath.basename(path)]
        if len(files) == 1:
            data = read_context_file(ctx.context_dir, files[0])
            if data is not None:
                n = _count_certs(data)
                if 0 < n <= MAX_CUSTOM_CERTS:
                    return "custom", f"{files[0]} from the build context ({n} certificate(s))"
                return ("bundle", "") if n > MAX_CUSTOM_CERTS else ("unknown", "")
        if files:
            return "unknown", ""
        # Not in the context we can see: decide by the name, as a reader of the Dockerfile would.
        name = posixpath.basename(source.rstrip("/")).lower()
        if any(c in name for c in "*?[") or _bundle_name(name) or _bundle_name(path):
            return "unknown", ""
        if anchor_target(stage, op) or name.endswith((".crt", ".pem", ".cer")):
            return "custom", f"the single CA file {source}"
        return "unknown", ""
    return "unknown", ""


@check("IL330")
def env_bundle_replaces(model, ctx):
    for setting in trust_settings(model, ctx):
        if not setting.replaces or not setting.path.startswith("/") or "$" in setting.path:
            continue
        stage = setting.stage
        # For the image at run time the whole chain counts; for one RUN, what exists before it would,
        # but a CA copied later still shows the intent, so the chain is used for both.
        kind, detail = classify_path(stage, posixpath.normpath(setting.path), ctx)
        if kind != "custom":
            continue
        bundle = stage_facts(stage).bundle or "the system bundle"
        severity = scope_severity(model, stage, setting.persistent)
        if setting.name == "SSL_CERT_FILE":
            # OpenSSL keeps its default directory next to SSL_CERT_FILE (a union, observed with OpenSSL 3.0.19); httpx and
            # Go's file list are replaced. Real but narrower damage: at most a warning.
            severity = Severity.WARNING
            effect = ("it replaces the default CA file (httpx, Go, curl's CA file; OpenSSL clients keep the hashed "
                      "directory), so public hosts fail for those clients")
        else:
            effect = "it replaces the default roots, so every public host fails verification"
        yield ctx.hit(
            "IL330",
            f"{setting.name} points at {setting.path}, which holds only {detail}: {effect}; point it at the "
            f"regenerated system bundle ({bundle}) after registering the CA",
            setting.inst, setting.start, setting.end, stage=stage, severity=severity,
            fix=fixes.point_at_bundle(model, setting),
        )


# --- IL331 env-path-missing ----------------------------------------------------------------------

def _edit_distance(a: str, b: str, limit: int = 3) -> int:
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def _created_paths(stage: Stage) -> set[str]:
    """Files the chain creates, including the links update-ca-certificates derives (Debian: <name>.pem; Alpine update-ca.c: ca-cert-<name>.pem)."""
    out: set[str] = set()
    family = stage_family(stage)
    updates = any(cmd.name in ("update-ca-certificates", "update-ca-trust") for _s, _r, cmd in stage.inherited_commands())
    for _s, op in stage.inherited_file_ops():
        if op.kind in ("delete", "chmod", "chown", "edit"):
            continue
        for target in (op.targets() if op.is_dir else [op.path]):
            out.add(target)
            if updates and target.startswith("/usr/local/share/ca-certificates/") and target.endswith(".crt"):
                base = posixpath.basename(target)[:-4]
                out.add(f"/etc/ssl/certs/{'ca-cert-' if family in ('alpine', 'wolfi') else ''}{base}.pem")
    return out


def _possibly_created(stage: Stage, path: str, created: set[str]) -> bool:
    if path in created:
        return True
    parent = posixpath.dirname(path)
    for _s, op in stage.inherited_file_ops():
        if op.kind in ("delete", "chmod", "chown", "edit"):
            continue
        if op.kind in ("copy", "move", "link") and (path.startswith(op.path.rstrip("/") + "/")):
            return True  # a directory copied onto an ancestor
    for _s, run, cmd in stage.inherited_commands():
        for w in cmd.argv:
            v = w.value
            if not w.known or path in v or v.rstrip("/") == parent or (parent not in ("/", "/etc", "/usr") and parent + "/" in v):
                if not w.known and "/" not in v:
                    continue
                return True
        for flag in run.inst.flags:
            if flag.name == "mount" and flag.value and path.startswith(_mount_target(flag.value)):
                return True
    return False


def _mount_target(spec: str) -> str:
    for part in spec.split(","):
        key, _, value = part.partition("=")
        if key in ("target", "dst", "destination") and value:
            return value.rstrip("/") + "/" if not value.endswith((".crt", ".pem")) else value
    return "\0"


def _volumes(model, stage: Stage) -> list[str]:
    out = []
    for s in stage.chain():
        for inst in s.instructions:
            if inst.keyword == "VOLUME":
                vals = inst.json_args if inst.json_args is not None else inst.args.split()
                out.extend(v.rstrip("/") for v in vals)
    return out


def _ca_installed(stage: Stage) -> bool | None:
    if stage.image.get("ca_tool") is True or stage_family(stage) == "distroless":
        return True
    facts = stage_facts(stage)
    package = facts.ca_package or "ca-certificates"
    end = (len(stage.chain()) + stage.index + 1, 1 << 62)  # after every step of the chain
    for s, _r, cmd in stage.inherited_commands():
        if is_package_op(cmd, INSTALL_VERBS, package) or installs_ca_tool(stage, s, cmd, facts, end):
            return True
    return False if stage.image.get("ca_tool") is False else None


def missing_reason(model, stage: Stage, path: str, ctx) -> str | None:
    """Why `path` is knowably absent from the image, or None when it exists or may exist."""
    family = stage_family(stage)
    if not family or not path.startswith("/") or runs_opaque_script(stage):
        return None
    if any(path == m or path.startswith(m + "/") for m in RUNTIME_MOUNTS + tuple(_volumes(model, stage))):
        return None
    created = _created_paths(stage)
    if _possibly_created(stage, path, created):
        return None
    jvm = stage_jvm(stage)
    if jvm and jvm.java_home and path.startswith(jvm.java_home + "/"):
        return None
    facts = stage_facts(stage)
    anchors = facts.anchor_dirs or ["/usr/local/share/ca-certificates"]
    bundles = set(facts.bundle_paths)
    if any(path.startswith(d + "/") for d in anchors):
        return "nothing in the Dockerfile puts it in the anchor directory, which base images ship empty"
    if path in bundles:
        # Only Debian/Ubuntu bases lack the bundle itself; Alpine/Wolfi bases ship ca-certificates-bundle
        # (alpinelinux/aports main/ca-certificates/APKBUILD) even without the update tool.
        if family in ("debian", "ubuntu") and _ca_installed(stage) is False:
            return "the base image has no ca-certificates package and the Dockerfile never installs it"
        return None
    if path.startswith("/etc/ssl/certs/") and posixpath.dirname(path) == "/etc/ssl/certs":
        known = {posixpath.basename(b) for b in bundles if b.startswith("/etc/ssl/certs/")}
        known |= {posixpath.basename(c) for c in created if c.startswith("/etc/ssl/certs/")}
        name = posixpath.basename(path)
        stem = posixpath.splitext(name)[0]
        if any(0 < _edit_distance(name, k) <= 2 or (k != name and posixpath.splitext(k)[0] == stem) for k in known):
            return "no such file is shipped or created in /etc/ssl/certs"
        return None
    top = path.strip("/").split("/", 1)[0]
    parent = posixpath.dirname(path)
    if top not in STANDARD_TOP_DIRS and any(posixpath.dirname(c) == parent for c in created):
        # The Dockerfile fills this directory itself, so it is image content, not a run-time mount
        # point: a missing file there is a typo. An untouched directory may be mounted at run time.
        return f"the Dockerfile puts other files in {parent} but never this one"
    return None


def _similar(path: str, created: set[str]) -> str | None:
    stem = posixpath.splitext(posixpath.basename(path))[0]
    best = None
    for c in sorted(created):
        if c == path:
            continue
        if posixpath.splitext(posixpath.basename(c))[0] == stem or (
                posixpath.dirname(c) == posixpath.dirname(path) and _edit_distance(posixpath.basename(c), posixpath.basename(path)) <= 2):
            best = c
    return best


@check("IL331")
def env_path_missing(model, ctx):
    for a in env_assignments(model):
        if a.name == "SSL_CERT_FILE" and a.value is not None and a.value.strip() == "":
            # OpenSSL loads the file the variable names, even "", instead of the default bundle
            # (X509_STORE_set_default_paths); only a hashed certificate directory is left.
            yield ctx.hit(
                "IL331",
                'SSL_CERT_FILE="" makes OpenSSL clients (Python ssl, Ruby, PHP, .NET, curl with OpenSSL) load no CA '
                "file instead of the default bundle: only a hashed certificate directory is left, and where there is "
                f"none (Alpine's base image, RHEL) every verification fails; {a.scope}",
                a.inst, a.start, a.end, stage=a.stage, severity=Severity.INFO if a.inert else Severity.WARNING,
                fix=fixes.guidance("Remove the empty SSL_CERT_FILE, or point it at the system bundle"),
            )
    for setting in trust_settings(model, ctx):
        stage = setting.stage
        paths = setting.path.split(":") if setting.name == "SSL_CERT_DIR" else [setting.path]
        for raw in paths:
            if not raw.startswith("/") or "$" in raw or any(c in raw for c in " *?"):
                continue
            path = posixpath.normpath(raw)
            reason = missing_reason(model, stage, path, ctx)
            if reason is None:
                continue
            # The variable is inherited: a base stage may name a file the stages built on it add.
            descendants = [s for s in model.stages if s is not stage and stage in s.chain()]
            if any(missing_reason(model, s, path, ctx) is None for s in descendants):
                continue
            similar = _similar(path, _created_paths(stage))
            hint = f"; did you mean {similar}?" if similar else ""
            yield ctx.hit(
                "IL331",
                f"{setting.name} points at {path}, but {reason}{hint}",
                setting.inst, setting.start, setting.end, stage=stage,
                fix=fixes.guidance(f"Point {setting.name} at {similar}" if similar else f"Point {setting.name} at a file the image has"),
                severity=scope_severity(model, stage, setting.persistent),
            )
