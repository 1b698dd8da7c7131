"""Runtimes that keep their own roots: Java (cacerts, keytool, Temurin's USE_SYSTEM_CA_CERTS),
Node (bundled Mozilla roots) and Python requests/certifi. A CA added to the OS store does not
reach them (Debian ca-certificates-java README.Debian, adoptium/containers entrypoint.sh, corretto/corretto-8#171,
keytool 17 as observed, Node docs --use-openssl-ca/--use-system-ca, requests certs.py).
"""
from __future__ import annotations

import posixpath
import re
from ...records import record, field

from ...dockerfile.model import FileOp, Stage, classify_image, memoized
from ...image.reference import parse_base_name
from ...dockerfile.shell import Command, ShellWord
from ...findings import Severity
from ...fixes import builders as fixes
from ..registry import check
from ...dockerfile.queries import INSTALL_VERBS, PACKAGE_MANAGER_FAMILY, anchor_target, stage_env_assignments, stage_facts
from ...dockerfile.context import context_file_for, read_context_file

SYSTEM_BIN_DIRS = ("/bin/", "/usr/", "/sbin/")
SHELL_NAMES = {"sh", "bash", "dash", "ash", "zsh", "ksh"}


# --- shared facts about a stage chain ----------------------------------------------------------------

def os_ca_additions(stage: Stage) -> list[tuple[Stage, FileOp, list[str]]]:
    """CA files put into the OS family's anchor directories in the stage chain (oldest first)."""
    out = []
    for s, op in stage.inherited_file_ops():
        if op.kind == "delete":
            continue
        paths = anchor_target(stage, op)
        if paths:
            out.append((s, op, paths))
    return out


# Build wrappers that never touch trust stores: running them is not an opaque setup step.
KNOWN_BUILD_WRAPPERS = {"mvnw", "gradlew", "configure", "sbt", "lein", "bootstrap.sh", "autogen.sh"}


def runs_opaque_script(stage: Stage) -> bool:
    """Does a RUN in the chain execute a script whose content we cannot see? It may do anything
    (import the CA, set variables in a profile), so rules about a missing step stay quiet."""
    for _s, _run, cmd in stage.inherited_commands():
        if not cmd.argv or cmd.name in KNOWN_BUILD_WRAPPERS:
            continue
        first = cmd.argv[0].value
        if cmd.name in (".", "source") and cmd.args:
            return True
        if "/" in first and not first.startswith(SYSTEM_BIN_DIRS) and not first.startswith("$"):
            return True
        if first.endswith(".sh"):
            return True
        if cmd.name in SHELL_NAMES:
            operands = [w.value for w in cmd.args if not w.value.startswith("-")]
            if operands and "-c" not in [w.value for w in cmd.args] and not cmd.stdin:
                return True
    return False


def installed_packages(stage: Stage) -> list[tuple[Command, str]]:
    """(command, package) for every package an OS package manager installs in the chain."""
    return memoized(stage, "installed_packages", lambda: _installed_packages(stage))


def _installed_packages(stage: Stage) -> list[tuple[Command, str]]:
    out = []
    for _s, _run, cmd in stage.inherited_commands():
        if cmd.name not in PACKAGE_MANAGER_FAMILY:
            continue
        values = [w.value for w in cmd.args]
        if not any(v in INSTALL_VERBS for v in values):
            continue
        verb_seen = False
        for v in values:
            if v in INSTALL_VERBS:
                verb_seen = True
                continue
            if verb_seen and v and not v.startswith("-"):
                out.append((cmd, re.split(r"[=<>~]", v, 1)[0].lower()))
    return out


def env_values(stage: Stage, names: set[str]) -> list:
    """EnvAssignments (ENV/ARG/RUN-prefix/export) of the chain whose name is in `names`."""
    chain = stage.chain()
    return [a for a in _assignments_of(stage) if a.name in names and a.stage in chain]


def _assignments_of(stage: Stage):
    return memoized(stage, "assignments_of_chain",
                    lambda: [a for s in reversed(stage.chain()) for a in stage_env_assignments(s)])


def command_text_words(stage: Stage) -> list[str]:
    """Words of CMD/ENTRYPOINT (exec or shell form) of the chain, for flag lookups."""
    out = []
    for s in stage.chain():
        for inst in (s.entrypoint, s.cmd):
            if inst is None:
                continue
            if inst.json_args is not None:
                for a in inst.json_args:
                    out.extend(a.split())
            else:
                out.extend(inst.args.split())
    return out


def base_tag(stage: Stage) -> tuple[str, str]:
    """(repository, tag) of the image at the root of the chain ('' when unknown)."""
    root = stage.chain()[-1]
    if not root.base_resolved:
        return "", ""
    ref = parse_base_name(root.base_resolved)
    return ref.repository_path, ref.tag or ""


def shipped_severity(model, stage: Stage) -> Severity:
    return Severity.ERROR if model.is_shipped(stage) else Severity.WARNING


# --- Java ---------------------------------------------------------------------------------------------

# Distro JDK packages: their cacerts follows the OS store (Debian ca-certificates-java, update-ca-trust(8)); Corretto's packages
# do not (corretto/corretto-8#171).
_DISTRO_JDK = re.compile(r"^(?:openjdk-?(\d+)(?:-jdk|-jre)?(?:-headless)?|default-(?:jdk|jre)(?:-headless)?|"
                         r"java-(?:1\.(\d+)\.0|(\d+))-openjdk(?:-headless|-devel)?|temurin-(\d+)-(?:jdk|jre)|"
                         r"openjdk(\d+)(?:-jre|-jdk)?(?:-headless)?)$")
_VENDOR_JDK = re.compile(r"^(?:java-(\d+)-amazon-corretto(?:-devel|-headless|-jdk)?|amazon-corretto-(\d+))$")
OTHER_JAVA_STORES = ("/etc/ssl/certs/java/cacerts", "/etc/pki/java/cacerts", "/etc/pki/ca-trust/extracted/java/cacerts",
                     "/var/lib/ca-certificates/java-cacerts")
JAVA_OPTION_VARS = {"JAVA_TOOL_OPTIONS", "JAVA_OPTS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS", "MAVEN_OPTS",
                    "GRADLE_OPTS", "CATALINA_OPTS", "JAVA_OPTIONS"}
TRUSTSTORE_OPTION = re.compile(r"-Djavax\.net\.ssl\.trustStore=(\"[^\"]*\"|'[^']*'|\S+)")


@record
class Jvm:
    kind: str  # "vendor" (own cacerts) | "os" (follows the OS store)
    java_home: str | None
    version: int | None
    origin: str  # for messages


def java_version_from_tag(repo: str, tag: str) -> int | None:
    name = repo.rsplit("/", 1)[-1]
    if name in ("eclipse-temurin", "amazoncorretto", "openjdk", "adoptopenjdk", "ibmjava", "ibm-semeru-runtimes", "sapmachine"):
        m = re.match(r"^(?:1\.)?(\d+)", tag)
        return int(m.group(1)) if m else None
    m = re.search(r"(?:temurin|corretto|jdk|jre|openjdk|java)-?(\d+)", tag)
    return int(m.group(1)) if m else None


def stage_jvm(stage: Stage) -> Jvm | None:
    """The JVM the stage runs, when one kind is knowable (checks only read it: computed once)."""
    return memoized(stage, "jvm", lambda: _stage_jvm(stage))


def _stage_jvm(stage: Stage) -> Jvm | None:
    repo, tag = base_tag(stage)
    image_kind = stage.image.get("jvm")
    image_jvm = None
    if image_kind:
        image_jvm = Jvm(image_kind, stage.image.get("java_home"), java_version_from_tag(repo, tag), repo or "the base image")
    distro = None
    vendor_pkg = None
    for _cmd, pkg in installed_packages(stage):
        m = _DISTRO_JDK.match(pkg)
        if m:
            digits = next((g for g in m.groups() if g), None)
            distro = Jvm("os", None, int(digits) if digits else None, f"the {pkg} package")
        m = _VENDOR_JDK.match(pkg)
        if m:
            digits = next((g for g in m.groups() if g), None)
            vendor_pkg = Jvm("vendor", None, int(digits) if digits else None, f"the {pkg} package")
    copied = _copied_vendor_jvm(stage)
    candidates = [j for j in (image_jvm, distro, vendor_pkg, copied) if j is not None]
    if not candidates:
        return None
    kinds = {j.kind for j in candidates}
    if len(kinds) > 1:
        return None  # two JVMs of different kinds: which one runs is not knowable here
    return next(j for j in (copied, vendor_pkg, image_jvm, distro) if j is not None)


def _copied_vendor_jvm(stage: Stage) -> Jvm | None:
    """`COPY --from=eclipse-temurin:17 /opt/java/openjdk /opt/java/openjdk` brings a vendor JVM."""
    for _s, op in stage.inherited_file_ops():
        if op.kind != "copy" or op.inst.keyword != "COPY":
            continue
        if op.from_image:
            image = classify_image(op.from_image)
            ref = parse_base_name(op.from_image)
            version = java_version_from_tag(ref.repository_path, ref.tag or "")
        elif op.from_stage is not None:
            image = op.from_stage.image
            version = java_version_from_tag(*base_tag(op.from_stage))
        else:
            continue
        if image.get("jvm") != "vendor":
            continue
        home = image.get("java_home")
        if home and any(posixpath.normpath(s) == home for s in op.sources if s.startswith("/")):
            return Jvm("vendor", op.path, version, f"the JVM copied from {op.from_image or op.from_stage.label}")
    return None


@record
class Keytool:
    cmd: Command
    action: str  # "import" | "importkeystore" | other keytool command name
    options: dict[str, ShellWord] = field(default_factory=dict)  # lower-case option -> value word
    flags: set[str] = field(default_factory=set)


_KEYTOOL_VALUE_OPTS = {
    "-alias", "-file", "-keystore", "-storepass", "-storetype", "-keypass", "-srckeystore", "-srcstorepass",
    "-deststorepass", "-destkeystore", "-srcstoretype", "-deststoretype", "-providername", "-providerclass",
    "-providerpath", "-ext", "-dname", "-keyalg", "-keysize", "-validity", "-sigalg", "-startdate", "-infile",
    "-outfile", "-srcalias", "-destalias", "-srckeypass", "-destkeypass", "-groupname", "-addprovider",
    "-storepass:env", "-storepass:file", "-keypass:env", "-keypass:file", "-srcstorepass:env",
    "-deststorepass:env", "-new", "-providerarg", "-srcprovidername", "-destprovidername", "-J",
}


def keytool_calls(stage: Stage, chain: bool = False):
    """(stage, run, Keytool) for every keytool invocation of the stage (or its chain)."""
    items = stage.inherited_commands() if chain else ((stage, r, c) for r, c in stage.commands())
    for s, run, cmd in items:
        if cmd.name != "keytool":
            continue
        kt = Keytool(cmd, "")
        args = cmd.args
        i = 0
        while i < len(args):
            v = args[i].value
            low = v.lower()
            if low.startswith("-"):
                # keytool matches option names loosely: `--noprompt` and `-NoPrompt` are `-noprompt`.
                low = "-" + low.lstrip("-")
                if low in _KEYTOOL_VALUE_OPTS and i + 1 < len(args):
                    kt.options[low] = args[i + 1]
                    i += 2
                    continue
                if low in ("-importcert", "-import"):
                    kt.action = "import"
                elif low == "-importkeystore":
                    kt.action = "importkeystore"
                elif not kt.action and low not in ("-noprompt", "-trustcacerts", "-cacerts", "-v", "-rfc", "-protected"):
                    kt.action = low
                kt.flags.add(low)
            i += 1
        yield s, run, kt


_WHOLE_VARIABLE = re.compile(r"^\$(?:\{(\w+)\}|(\w+))$")


def resolve_java_path(word: ShellWord, java_home: str | None, run=None) -> str | None:
    """A keytool path argument as an absolute path; $JAVA_HOME becomes the JVM's home, and a variable
    exported earlier in the same RUN (`export KEYSTORE=$JAVA_HOME/...`) is replaced by its text."""
    if word.known and word.value.startswith("/"):
        return posixpath.normpath(word.value)
    raw = word.raw.strip("\"'")
    m = _WHOLE_VARIABLE.match(raw)
    if m and run is not None:
        exported = run.script.exports.get(m.group(1) or m.group(2))
        if exported is not None and exported.start < word.start:
            return resolve_java_path(exported, java_home)
    if java_home:
        raw = raw.replace("${JAVA_HOME}", java_home).replace("$JAVA_HOME", java_home)
    if "$" in raw or "`" in raw or not raw.startswith("/"):
        return None
    return posixpath.normpath(raw)


def _truststore_settings(stage: Stage) -> list[str]:
    values = []
    for a in env_values(stage, JAVA_OPTION_VARS):
        if a.value:
            values.extend(m.group(1).strip("\"'") for m in TRUSTSTORE_OPTION.finditer(a.value))
    for w in command_text_words(stage):
        m = TRUSTSTORE_OPTION.search(w)
        if m:
            values.append(m.group(1).strip("\"'"))
    for _s, _r, cmd in stage.inherited_commands():
        for w in cmd.args:
            m = TRUSTSTORE_OPTION.search(w.value)
            if m:
                values.append(m.group(1).strip("\"'"))
    return values


def _use_system_ca_certs(stage: Stage) -> list:
    return [a for a in env_values(stage, {"USE_SYSTEM_CA_CERTS"}) if a.kind == "ENV" and (a.value is None or a.value != "")]


def _jvm_store_handled(model, stage: Stage, jvm: Jvm) -> bool:
    """Is the CA (or the OS store) put into this JVM's trust store somewhere in the chain or in a
    stage built FROM it?"""
    stages = [s for s in model.stages if stage in s.chain()]
    for s in stages:
        for _s, run, kt in keytool_calls(s, chain=True):
            if kt.action not in ("import", "importkeystore"):
                continue
            target = kt.options.get("-keystore") or kt.options.get("-destkeystore")
            if target is None:
                return True  # -cacerts, or the default keystore of the user: assume the author meant it
            path = resolve_java_path(target, jvm.java_home, run)
            if path is None or path not in OTHER_JAVA_STORES:
                return True
        for _s, _r, cmd in s.inherited_commands():
            if cmd.name == "trust" and any(w.value.startswith("--format=java-cacerts") or w.value == "java-cacerts" for w in cmd.args):
                return True
        for _s, op in s.inherited_file_ops():
            if op.kind in ("copy", "move", "link", "write") and (op.path.endswith("/cacerts") or op.path.endswith("/lib/security")):
                return True
        if _truststore_settings(s):
            return True
        if _use_system_ca_certs(s) and s.image.get("temurin_entrypoint"):
            return True  # IL304 checks that the entrypoint still runs
        if runs_opaque_script(s):
            return True
    return False


@check("IL301")
def java_ca_missing(model, ctx):
    reported = set()
    for stage in model.stages:
        jvm = stage_jvm(stage)
        if jvm is None or jvm.kind != "vendor":
            continue
        additions = os_ca_additions(stage)
        if not additions:
            continue
        _s, op, paths = additions[-1]
        if id(op) in reported:
            continue
        if _jvm_store_handled(model, stage, jvm):
            continue
        reported.add(id(op))
        home = f" at {jvm.java_home}" if jvm.java_home else ""
        yield ctx.hit(
            "IL301",
            f"CA {paths[0]} goes only to the OS trust store, but the JVM{home} ({jvm.origin}) keeps its own cacerts "
            f"and never reads it: Java clients fail with `PKIX path building failed`; import it with "
            f"`keytool -importcert -noprompt -cacerts -storepass changeit -alias <name> -file {paths[0]}`",
            op.inst, op.start or None, op.end or None, stage=stage, severity=shipped_severity(model, stage),
            whole_instruction=True, fix=fixes.java_import(model, stage, op, paths[0], jvm.version, jvm.java_home),
        )


def _answers_on_stdin(cmd: Command) -> bool:
    """Does the command read something other than EOF on stdin? `< /dev/null` is EOF, like no stdin."""
    if cmd.stdin is not None or cmd.piped_from is not None:
        return True
    for r in cmd.redirects:
        if r.op in ("<<<", "<<", "<<-") or (r.op == "<" and r.fd in (None, 0, "0")
                                             and not (r.target is not None and r.target.value == "/dev/null")):
            return True
    return False


@check("IL302")
def keytool_without_noprompt(model, ctx):
    for stage in model.stages:
        for _s, run, kt in keytool_calls(stage):
            if kt.action != "import" or "-noprompt" in kt.flags:
                continue
            cmd = kt.cmd
            if _answers_on_stdin(cmd):
                continue  # the answer comes from a pipe, heredoc, herestring or file (`yes | keytool ...`)
            word = cmd.argv[0]
            yield ctx.hit(
                "IL302",
                "keytool -importcert without -noprompt: docker build gives RUN no stdin, so keytool reads EOF at "
                "`Trust this certificate? [no]:`, prints `Certificate was not added to keystore` and exits 0; "
                "the build succeeds without the CA",
                run.inst, word.start, word.end, stage=stage, fix=fixes.keytool_noprompt(model, run, cmd),
            )


@check("IL303")
def keytool_wrong_store(model, ctx):
    for stage in model.stages:
        jvm = stage_jvm(stage)
        for _s, run, kt in keytool_calls(stage):
            if kt.action != "import":
                continue
            cmd = kt.cmd
            word = cmd.argv[0]
            target_word = kt.options.get("-keystore")
            version = jvm.version if jvm else None
            path = resolve_java_path(target_word, jvm.java_home if jvm else None, run) if target_word else None
            default_store = "-cacerts" in kt.flags
            if default_store and version == 8:
                yield ctx.hit("IL303", "keytool -cacerts does not exist in Java 8 (`Illegal option: -cacerts`); use "
                                       "-keystore $JAVA_HOME/jre/lib/security/cacerts",
                              run.inst, word.start, word.end, stage=stage, severity=Severity.ERROR,
                              fix=fixes.keytool_store(model, run, cmd, "java8-cacerts", jvm.java_home if jvm else None))
                continue
            if path and "/jre/lib/security/cacerts" in path and version is not None and version >= 9:
                yield ctx.hit("IL303", f"{path} is the Java 8 layout; this is Java {version}, whose store is "
                                       "$JAVA_HOME/lib/security/cacerts (use -cacerts): the import goes to a file "
                                       "the JVM never reads, or fails",
                              run.inst, target_word.start, target_word.end, stage=stage, severity=Severity.ERROR,
                              fix=fixes.keytool_store(model, run, cmd, "use-cacerts"))
                continue
            if (path and jvm is not None and jvm.kind == "vendor" and jvm.java_home
                    and (path in OTHER_JAVA_STORES or path.startswith("/usr/lib/jvm/"))
                    and path not in _truststore_settings(stage)):
                yield ctx.hit("IL303", f"keytool imports into {path}, but the JVM that runs here is {jvm.java_home} "
                                       f"({jvm.origin}) with its own cacerts: it never sees this CA (use -cacerts "
                                       "with that JVM's keytool)",
                              run.inst, target_word.start, target_word.end, stage=stage, severity=Severity.ERROR,
                              fix=fixes.keytool_store(model, run, cmd, "use-cacerts"))
                continue
            # -storepass: only where the store is known to be a JKS store with password `changeit`: the
            # OS-generated Java stores, which distro JDKs link their cacerts to (Debian ca-certificates-java, update-ca-trust(8)). Vendor JDK
            # stores may be password-less PKCS12 (adoptium/adoptium-support#1145, JDK-8275252), where any password may do.
            os_store = path in OTHER_JAVA_STORES or (
                jvm is not None and jvm.kind == "os" and (default_store or (path or "").endswith("/lib/security/cacerts")))
            if not os_store:
                continue
            if any(k in kt.options for k in ("-storepass:env", "-storepass:file")):
                continue
            storepass = kt.options.get("-storepass")
            if storepass is None:
                yield ctx.hit("IL303", "keytool imports into the default cacerts without -storepass: it asks for the "
                                       "password, reads EOF, gives up (`Too many failures - try later`) and exits 0 "
                                       "without adding the CA; add -storepass changeit",
                              run.inst, word.start, word.end, stage=stage, severity=Severity.ERROR,
                              fix=fixes.keytool_store(model, run, cmd, "add-storepass"))
            elif storepass.known and storepass.value != "changeit":
                yield ctx.hit("IL303", f"-storepass {storepass.value!r} is not the default cacerts password "
                                       "`changeit`: keytool fails with `Keystore was tampered with, or password was "
                                       "incorrect`",
                              run.inst, storepass.start, storepass.end, stage=stage, severity=Severity.ERROR,
                              fix=fixes.keytool_store(model, run, cmd, "storepass"))


def _entrypoint_calls_cacert_script(stage: Stage, ctx) -> bool:
    """Does the effective ENTRYPOINT run /__cacert_entrypoint.sh (directly, or from a script whose
    content the Dockerfile or the build context shows)?"""
    inst = next((s.entrypoint for s in stage.chain() if s.entrypoint is not None), None)
    if inst is None:
        return True  # the image's own entrypoint is kept
    text = " ".join(inst.json_args) if inst.json_args is not None else inst.args
    if "__cacert_entrypoint" in text:
        return True
    words = inst.json_args if inst.json_args is not None else inst.args.split()
    for w in words[:3]:
        if not w.startswith("/") and not w.startswith("./"):
            continue
        path = posixpath.normpath(w)
        for _s, op in stage.inherited_file_ops():
            if op.path == path and op.content and "__cacert_entrypoint" in op.content:
                return True
        rel = context_file_for(stage, path, ctx.context_dir)
        data = read_context_file(ctx.context_dir, rel) if rel else None
        if data and b"__cacert_entrypoint" in data:
            return True
    return False


@check("IL304")
def temurin_system_ca_ignored(model, ctx):
    for stage in model.stages:
        settings = [a for a in _use_system_ca_certs(stage) if a.stage is stage]
        if not settings:
            continue
        setting = settings[-1]
        if stage.image.get("jvm") and not stage.image.get("temurin_entrypoint"):
            yield ctx.hit("IL304", "USE_SYSTEM_CA_CERTS is read only by eclipse-temurin's /__cacert_entrypoint.sh, "
                                   "which this base image does not use: the variable does nothing here",
                          setting.inst, setting.start, setting.end, stage=stage, fix=fixes.guidance("Start the ENTRYPOINT with /__cacert_entrypoint.sh, or import the CA at build time with `keytool -importcert -noprompt -cacerts -storepass changeit -alias <name> -file <ca>`"))
            continue
        if not stage.image.get("temurin_entrypoint"):
            continue
        if not model.is_shipped(stage):
            if any(r.inst.start > setting.inst.start for r in stage.runs):
                yield ctx.hit("IL304", "USE_SYSTEM_CA_CERTS acts only when a container starts (through "
                                       "/__cacert_entrypoint.sh); the RUN steps of this build stage never get the CA",
                              setting.inst, setting.start, setting.end, stage=stage, severity=Severity.WARNING,
                              fix=fixes.guidance("Start the ENTRYPOINT with /__cacert_entrypoint.sh, or import the CA at build time with `keytool -importcert -noprompt -cacerts -storepass changeit -alias <name> -file <ca>`"))
            continue
        if not _entrypoint_calls_cacert_script(stage, ctx):
            inst = next(s.entrypoint for s in stage.chain() if s.entrypoint is not None)
            yield ctx.hit("IL304", "ENTRYPOINT replaces eclipse-temurin's /__cacert_entrypoint.sh, so "
                                   "USE_SYSTEM_CA_CERTS does nothing: the CAs are never imported; start the "
                                   "entrypoint with /__cacert_entrypoint.sh or import at build time with keytool",
                          inst, stage=stage, severity=shipped_severity(model, stage), whole_instruction=True,
                          fix=fixes.guidance("Start the ENTRYPOINT with /__cacert_entrypoint.sh, or import the CA at build time with `keytool -importcert -noprompt -cacerts -storepass changeit -alias <name> -file <ca>`"))


# --- Node ---------------------------------------------------------------------------------------------

_NODE_CODENAMES = {"argon": 4, "boron": 6, "carbon": 8, "dubnium": 10, "erbium": 12, "fermium": 14,
                   "gallium": 16, "hydrogen": 18, "iron": 20, "jod": 22, "krypton": 24}
NODE_PACKAGES = {"nodejs", "nodejs-current", "npm", "nodejs-lts"}
NODE_COMMANDS = {"node", "npm", "npx", "yarn", "pnpm", "nvm", "corepack"}


def node_version(stage: Stage) -> tuple[int, int | None] | None:
    repo, tag = base_tag(stage)
    if not stage.image.get("node") or not tag:
        return None
    m = re.match(r"^v?(\d+)(?:\.(\d+))?", tag)
    if m:
        return int(m.group(1)), int(m.group(2)) if m.group(2) else None
    for name, major in _NODE_CODENAMES.items():
        if tag.startswith(name):
            return major, None
    return None


def node_in_stage(stage: Stage) -> str | None:
    """Why we believe an official Node build (bundled Mozilla roots: Node docs --use-bundled-ca) runs in this stage, or None.
    Distribution packages (apt/apk/dnf `nodejs`) are left alone: distributions may build Node to
    use the OS store, which the knowledge base does not settle."""
    if stage.image.get("node"):
        return "the base image"
    for _s, op in stage.inherited_file_ops():
        if op.from_image and classify_image(op.from_image).get("node"):
            return f"files copied from {op.from_image}"
        if op.from_stage is not None and op.from_stage.image.get("node") and any("node" in src for src in op.sources):
            return f"files copied from stage {op.from_stage.label}"
        if op.kind == "download" and any(_OFFICIAL_NODE.search(u) for u in op.sources):
            return "the official Node download"
    for _s, _r, cmd in stage.inherited_commands():
        if cmd.name in ("nvm", "fnm", "volta", "n") and any(w.value in ("install", "use") or re.match(r"^v?\d", w.value) for w in cmd.args):
            return f"`{cmd.name}` (official Node binaries)"
        if any(_OFFICIAL_NODE.search(w.value) for w in cmd.argv):
            return "the official Node binaries (nodejs.org / NodeSource)"
    return None


_OFFICIAL_NODE = re.compile(r"nodejs\.org/dist|deb\.nodesource\.com|rpm\.nodesource\.com|unofficial-builds\.nodejs\.org")


def system_ca_supported(version: tuple[int, int | None] | None) -> bool:
    """--use-system-ca / NODE_USE_SYSTEM_CA work from v22.19, v23.9 and v24.6 (nodejs/node PR #57009, #59276)."""
    if version is None:
        return True
    major, minor = version
    if major < 22:
        return False
    floor = {22: 19, 23: 9, 24: 6}.get(major)
    return floor is None or minor is None or minor >= floor


def _node_trust(stage: Stage, shipped: bool = False) -> tuple[str | None, list[str]]:
    """('ok' reason or None, flags that need a newer Node). In the shipped stage only ENV counts for
    the variables: an ARG, a RUN prefix or an export covers build commands, not the running app."""
    needs_new: list[str] = []

    def settings(names: set[str]):
        return [a for a in env_values(stage, names) if a.kind == "ENV" or not shipped]

    for a in settings({"NODE_EXTRA_CA_CERTS"}):
        if a.value is None or a.value.strip():
            return "NODE_EXTRA_CA_CERTS", []
    for a in settings({"NODE_USE_SYSTEM_CA"}):
        if a.value is None or a.value.strip() == "1":
            needs_new.append("NODE_USE_SYSTEM_CA=1")
    words = []
    for a in settings({"NODE_OPTIONS"}):
        if a.value is None:
            return "NODE_OPTIONS", []
        words.extend(a.value.split())
    words.extend(command_text_words(stage))
    for _s, _r, cmd in stage.inherited_commands():
        words.extend(w.value for w in cmd.args)
        if cmd.name in ("npm", "yarn", "pnpm") and any(w.value in ("cafile", "ca") or w.value.startswith(("cafile=", "ca=")) for w in cmd.args):
            return "npm cafile", []
    for a in env_values(stage, {"npm_config_cafile", "NPM_CONFIG_CAFILE", "npm_config_ca", "NPM_CONFIG_CA"}):
        return "npm cafile", []
    for _s, op in stage.inherited_file_ops():
        if posixpath.basename(op.path) in (".npmrc", "npmrc", ".yarnrc") and (op.content is None or "cafile" in op.content):
            return "npmrc", []
    if "--use-openssl-ca" in words:
        return "--use-openssl-ca", []
    if "--use-system-ca" in words:
        needs_new.append("--use-system-ca")
    if needs_new and system_ca_supported(node_version(stage)):
        return needs_new[0], []
    return None, needs_new


@check("IL310")
def node_ca_missing(model, ctx):
    reported = set()
    for stage in model.stages:
        why = node_in_stage(stage)
        if why is None:
            continue
        additions = os_ca_additions(stage)
        if not additions:
            continue
        _s, op, paths = additions[-1]
        if id(op) in reported:
            continue
        descendants = [s for s in model.stages if stage in s.chain()]
        # A stage that is shipped, or declares its own CMD/ENTRYPOINT (a --target), runs the app.
        results = [_node_trust(s, model.is_shipped(s) or s.cmd is not None or s.entrypoint is not None)
                   for s in descendants]
        if any(ok for ok, _ in results) or any(runs_opaque_script(s) for s in descendants):
            continue
        reported.add(id(op))
        needs_new = sorted({f for _, flags in results for f in flags})
        version = node_version(stage)
        if needs_new:
            detail = (f"; {' and '.join(needs_new)} need Node v22.19+/v23.9+/v24.6+, this stage has Node "
                      f"{version[0]}{'.' + str(version[1]) if version and version[1] is not None else ''}")
        else:
            detail = ""
        yield ctx.hit(
            "IL310",
            f"CA {paths[0]} goes only to the OS trust store, but Node ({why}) uses its bundled roots: set "
            f"`ENV NODE_EXTRA_CA_CERTS={paths[0]}` (adds to the bundled roots){detail}",
            op.inst, op.start or None, op.end or None, stage=stage, severity=shipped_severity(model, stage),
            whole_instruction=True, fix=fixes.node_extra_ca(model, op, paths[0]),
        )


# --- Python requests / certifi ----------------------------------------------------------------------

PYTHON_CA_PACKAGES = {"requests", "certifi", "httpx"}
SYSTEM_CERTIFI_PACKAGES = {"truststore", "pip-system-certs", "certifi-system-store", "python-certifi-win32",
                           "system-certifi"}
_CERTIFI = re.compile(r"certifi(?![a-z])")  # not "ca-certificates"
_REQ_NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)")


def _pip_args(cmd: Command) -> list[ShellWord] | None:
    """The words after `install` for pip/pip3/python -m pip/uv pip; None when not a pip install."""
    values = [w.value for w in cmd.argv]
    name = cmd.name
    start = None
    if re.match(r"^pip(\d(\.\d+)?)?$", name):
        start = 1
    elif re.match(r"^python(\d(\.\d+)?)?$", name) and values[1:3] == ["-m", "pip"]:
        start = 3
    elif name == "uv" and values[1:2] == ["pip"]:
        start = 2
    elif name in ("pipx", "poetry", "pipenv") and len(values) > 1:
        start = 1
    if start is None or len(values) <= start or values[start] not in ("install", "add"):
        return None
    return cmd.argv[start + 1:]


def _normalise_req(text: str) -> str | None:
    m = _REQ_NAME.match(text.strip())
    return m.group(1).lower().replace("_", "-") if m else None


def requirements_names(data: bytes) -> set[str]:
    names = set()
    for line in data.decode("utf-8", "replace").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        name = _normalise_req(line)
        if name:
            names.add(name)
    return names


def python_packages(stage: Stage, ctx) -> set[str]:
    """Python distributions pip (or uv/poetry/pipenv) installs in the chain, including what a
    requirements file from the build context lists."""
    names: set[str] = set()
    for _s, _r, cmd in stage.inherited_commands():
        args = _pip_args(cmd)
        if args is None:
            continue
        i = 0
        while i < len(args):
            v = args[i].value
            if v in ("-r", "--requirement", "-c", "--constraint") and i + 1 < len(args):
                names |= _requirements_from(stage, args[i + 1].value, ctx)
                i += 2
                continue
            if v.startswith("--requirement="):
                names |= _requirements_from(stage, v.split("=", 1)[1], ctx)
            elif not v.startswith("-") and "/" not in v and v not in (".",):
                name = _normalise_req(v)
                if name:
                    names.add(name)
            i += 1
    return names


def _requirements_from(stage: Stage, path: str, ctx) -> set[str]:
    if not ctx.context_dir:
        return set()
    candidates = []
    if path.startswith("/"):
        candidates.append(posixpath.normpath(path))
    else:
        for _s, op in stage.inherited_file_ops():
            for target in op.targets() if op.is_dir else [op.path]:
                if target.endswith("/" + path.lstrip("./")):
                    candidates.append(target)
            if any(posixpath.basename(src.rstrip("/")) == posixpath.basename(path) for src in op.sources):
                candidates.append(posixpath.join(op.path, posixpath.basename(path)))
            candidates.append(posixpath.join(op.path, path))
    for image_path in candidates:
        rel = context_file_for(stage, image_path, ctx.context_dir)
        data = read_context_file(ctx.context_dir, rel) if rel else None
        if data is not None:
            return requirements_names(data)
    return set()


# Which variables each client reads instead of certifi (requests sessions.py; observed with httpx 0.28.1): requests reads
# REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE and ignores SSL_CERT_FILE; httpx reads SSL_CERT_FILE/SSL_CERT_DIR only.
_CLIENT_CA_VARS = {"requests": {"REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"}, "httpx": {"SSL_CERT_FILE", "SSL_CERT_DIR"}}
_ANY_CA_VAR = set().union(*_CLIENT_CA_VARS.values())


def _client_vars(package: str) -> set[str]:
    if package == "requests" or package.startswith(("requests-", "requests_")):
        return _CLIENT_CA_VARS["requests"]
    return _CLIENT_CA_VARS.get(package, _ANY_CA_VAR)  # certifi used directly: any of them may be how


def _uncovered_clients(stage: Stage, evidence: list[str]) -> list[str]:
    names = {a.name for a in env_values(stage, _ANY_CA_VAR)}
    return [p for p in evidence if not (_client_vars(p) & names)]


def _python_trust_handled(stage: Stage, packages: set[str]) -> bool:
    if packages & SYSTEM_CERTIFI_PACKAGES:
        return True
    if any(pkg in ("python3-certifi", "python-certifi") for _c, pkg in installed_packages(stage)):
        return True
    for _s, _r, cmd in stage.inherited_commands():
        if _pip_args(cmd) is not None:
            continue
        if any(_CERTIFI.search(w.value) for w in cmd.argv):
            return True  # certifi's bundle is patched or located (python -m certifi, certifi.where())
    for _s, op in stage.inherited_file_ops():
        if _CERTIFI.search(op.path) or any(_CERTIFI.search(s) for s in op.sources):
            return True
    return runs_opaque_script(stage)


@check("IL320")
def python_ca_missing(model, ctx):
    reported = set()
    for stage in model.stages:
        additions = os_ca_additions(stage)
        if not additions:
            continue
        _s, op, paths = additions[-1]
        if id(op) in reported:
            continue
        packages = python_packages(stage, ctx)
        evidence = sorted(p for p in packages if p in PYTHON_CA_PACKAGES or p.startswith(("requests-", "requests_")))
        if not evidence:
            continue
        descendants = [s for s in model.stages if stage in s.chain()]
        if any(_python_trust_handled(s, python_packages(s, ctx) if s is not stage else packages) for s in descendants):
            continue
        uncovered = [_uncovered_clients(s, evidence) for s in descendants]
        if any(not u for u in uncovered):
            continue
        evidence = uncovered[0]
        reported.add(id(op))
        bundle = stage_facts(stage).bundle
        wanted = sorted({next(iter(sorted(_client_vars(p) - {"CURL_CA_BUNDLE", "SSL_CERT_DIR"}))) for p in evidence})
        if bundle:
            settings = " and ".join(f"`ENV {name}={bundle}`" for name in wanted)
        else:  # unknown family: no path to name, and no placeholder in backticks
            settings = " and ".join(wanted) + " to the system's regenerated bundle"
        yield ctx.hit(
            "IL320",
            f"CA {paths[0]} goes only to the OS trust store, but {', '.join(evidence)} (pip-installed) verify with "
            f"certifi's own bundle and ignore it: set {settings} (the whole regenerated bundle, not the single CA) "
            "or use truststore",
            op.inst, op.start or None, op.end or None, stage=stage, severity=shipped_severity(model, stage),
            whole_instruction=True,
            fix=fixes.requests_bundle(model, stage, op) if "REQUESTS_CA_BUNDLE" in wanted else None,
        )
