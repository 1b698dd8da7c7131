"""Verification switches, wherever they are set: shared machinery for the IL1xx rules.

A `Switch` is one place where a Dockerfile turns TLS verification (or package signature checking,
or modern TLS) off: a flag on one command, a tool's persistent config command (`npm config set`),
or a line written into a config file (`.curlrc`, `pip.conf`, `/etc/yum.repos.d/*.repo`...).
Severity follows scope: what persists in the shipped image is an error; a one-off flag, a
builder stage, or a setting undone later in the build is a warning.

This module also holds IL118 (Python code that switches verification off globally).
"""
from __future__ import annotations

import posixpath
import re
from ...records import record
from typing import Callable, Iterable, Iterator

from ...dockerfile.model import DockerfileModel, Stage
from ...dockerfile.parse import Instruction
from ...findings import Fix, Severity
from ...fixes import builders as fixes
from ...facts.insecure_env import env_switch
from ..registry import check
from ...dockerfile.context import context_sources, copied_files, normalise_source, read_context_file
from ...dockerfile.queries import WrittenText, deleted_later, is_falsey, later_file_ops, op_offset, written_texts


@record
class Switch:
    rule: str
    text: str
    stage: Stage
    inst: Instruction
    start: int | None
    end: int | None
    order: int  # source offset, for "later in the build"
    persistent: bool = False  # saved in a config file that stays in the image
    key: str | None = None  # the setting, so that a later safe value or removal undoes it
    insecure: bool = True  # False: an event that restores the safe setting (never reported)
    severity: Severity | None = None  # fixed severity, independent of scope
    fix: Fix | None = None  # imagelint fix's change for this switch


def _restored(model: DockerfileModel, s: Switch, events: list[Switch]) -> bool:
    if s.key is None:
        return False
    for r in events:
        if r.insecure or r.key != s.key:
            continue
        if (r.stage is s.stage and r.order > s.order) or (r.stage is not s.stage and s.stage in r.stage.chain()):
            return True
    return False


def emit(model: DockerfileModel, ctx, rule: str, switches: Iterable[Switch]):
    """Hits for `rule`, with severity by scope; duplicates (same text span) reported once."""
    switches = list(switches)
    seen: set[tuple] = set()
    for s in switches:
        if s.rule != rule or not s.insecure:
            continue
        ident = (s.inst.line, s.start, s.end, s.text)
        if ident in seen:
            continue
        seen.add(ident)
        text = s.text
        persistent = s.persistent
        if persistent and _restored(model, s, switches):
            persistent = False
            text += " (undone later in the build, so it affects the build only)"
        if s.severity is not None:
            severity = s.severity
        elif persistent and model.is_shipped(s.stage):
            severity = Severity.ERROR
        else:
            severity = Severity.WARNING
        yield ctx.hit(rule, text, s.inst, s.start, s.end, stage=s.stage, severity=severity,
                      whole_instruction=s.start is None,
                      fix=s.fix if s.fix is not None else fixes.switch_fix(model, s))


# --- config files ----------------------------------------------------------------------------------

def _base(path: str) -> str:
    return posixpath.basename(path)


def _lines(text: str) -> list[str]:
    # dash's echo and printf turn "\n" into a newline; a literal backslash-n in a config line is rare.
    return text.replace("\\n", "\n").replace("\\t", "\t").splitlines()


def _ini(text: str) -> Iterator[tuple[str, str, str | None]]:
    """(section, key, value) of an INI-style text (git, pip, yum, gcloud); value None for a bare key."""
    section = ""
    for raw in _lines(text):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        m = re.match(r"^\[\s*([^\]]*?)\s*\]\s*$", line)
        if m:
            section = m.group(1)
            continue
        m = re.match(r"^([A-Za-z0-9_.\-]+)\s*(?:[=:]\s*(.*?))?\s*$", line)
        if m:
            value = m.group(2)
            if value is not None:
                value = value.split(" #")[0].split(" ;")[0].strip().strip("'\"")
            yield section, m.group(1), value


def _regex_lines(pattern: str, flags: int = re.I) -> Callable[[str, str], str | None]:
    def detect(text: str, path: str) -> str | None:
        rx = re.compile(pattern, flags)  # at first use (then from re's cache): most files write no config file
        for line in _lines(text):
            if line.lstrip().startswith(("#", ";", "//")):
                continue
            m = rx.search(line)
            if m:
                return m.group(0).strip()
        return None

    return detect


def _git_detect(text: str, path: str) -> str | None:
    for section, key, value in _ini(text):
        if section.split(" ")[0].lower() == "http" and key.lower() == "sslverify":
            # git's bool: "false/no/off/0" or an empty value mean false; a bare key means true.
            if value is not None and (value == "" or is_falsey(value)):
                return f"sslVerify = {value or 'false'} in [{section}]"
    return None


def _pip_detect(text: str, path: str) -> str | None:
    for section, key, value in _ini(text):
        if key.lower().replace("_", "-") == "trusted-host" and value:
            return f"trusted-host = {value}"
    return None


_LOCAL_URL = ("file:", "copy:", "cdrom:", "/")


def _repo_sections(text: str) -> list[tuple[str, dict[str, str]]]:
    sections: dict[str, dict[str, str]] = {}
    order: list[str] = []
    for section, key, value in _ini(text):
        if section not in sections:
            sections[section] = {}
            order.append(section)
        sections[section][key.lower()] = value or ""
    return [(s, sections[s]) for s in order]


def _yum_detect(key: str) -> Callable[[str, str], str | None]:
    """`key=0` in a yum/dnf/zypper conf or repo section; local (file://) repositories are fine."""

    def detect(text: str, path: str) -> str | None:
        for section, items in _repo_sections(text):
            if key in items and is_falsey(items[key]):
                urls = (items.get("baseurl", "") + " " + items.get("mirrorlist", "") + " " + items.get("metalink", "")).split()
                if urls and all(u.startswith(_LOCAL_URL) for u in urls):
                    continue  # a repository of local files: nothing travels over the network
                where = f" in [{section}]" if section else ""
                return f"{key}={items[key]}{where}"
        return None

    return detect


_ZYPP_SSL_VERIFY = re.compile(r"[?&]ssl_verify=([^&#\s'\"]*)", re.I)


def zypp_ssl_verify_off(url: str) -> str | None:
    """`ssl_verify=...` in a libzypp https URL that turns a check off (libzypp MediaCurl: empty or
    `yes` verifies both; `no` neither; a flag list verifies only the `host`/`peer` it names)."""
    if not url.lower().startswith("https://"):
        return None
    m = _ZYPP_SSL_VERIFY.search(url)
    if m is None:
        return None
    value = m.group(1)
    if value in ("", "yes"):
        return None
    flags = set(value.split(","))
    if value == "no" or not {"host", "peer"} <= flags:
        return f"ssl_verify={value}"
    return None


def _zypp_url_detect(text: str, path: str) -> str | None:
    for section, items in _repo_sections(text):
        for key in ("baseurl", "url", "mirrorlist"):
            off = zypp_ssl_verify_off(items.get(key, ""))
            if off:
                return f"{off} in [{section}]" if section else off
    return None


def _apt_sources_detect(text: str, path: str) -> str | None:
    for line in _lines(text):
        m = re.match(r"^\s*deb(?:-src)?\s+\[([^\]]*)\]\s+(\S+)", line)
        if m and re.search(r"(?:^|\s)(trusted|allow-insecure)\s*=\s*yes\b", m.group(1)):
            if not m.group(2).startswith(_LOCAL_URL):
                return f"[{m.group(1).strip()}] for {m.group(2)}"
    # deb822 .sources paragraphs
    for para in re.split(r"\n\s*\n", "\n".join(_lines(text))):
        if re.search(r"^\s*Trusted:\s*yes\s*$", para, re.M | re.I):
            uris = re.search(r"^\s*URIs:\s*(.+)$", para, re.M | re.I)
            if uris and not all(u.startswith(_LOCAL_URL) for u in uris.group(1).split()):
                return f"Trusted: yes for {uris.group(1).strip()}"
    return None


def _apt_conf_verify(text: str, path: str) -> str | None:
    joined = "\n".join(_lines(text))
    if "https" not in joined.lower():
        return None
    m = re.search(r'verify-(peer|host)"?\s*[= ]?\s*"?(false|no|off|0)"?', joined, re.I)
    return m.group(0) if m else None


def _kubeconfig_path(path: str) -> bool:
    return "/.kube/" in path or _base(path) in ("kubeconfig", "config.yaml") and "kube" in path


@record(frozen=True)
class ConfigFile:
    rule: str
    matches_path: Callable[[str], bool]
    detect: Callable[[str, str], str | None]
    effect: str  # what the setting does


CONFIG_FILES: tuple[ConfigFile, ...] = (
    ConfigFile("IL110", lambda p: _base(p) in (".curlrc", "_curlrc") or p.endswith("/.config/curlrc"),
               _regex_lines(r"^\s*(?:--)?(?:proxy-|doh-)?insecure\b|^\s*-k\s*$"),
               "makes every curl call of that user skip certificate verification"),
    ConfigFile("IL111", lambda p: _base(p) in (".wgetrc", "wgetrc"),
               _regex_lines(r"^\s*check[_-]?certificate\s*=\s*(off|no|0|false)\s*$"),
               "makes every wget call skip certificate verification"),
    ConfigFile("IL112", lambda p: _base(p) in (".gitconfig", "gitconfig") or p.endswith(("/git/config", "/.git/config")),
               _git_detect, "makes git skip certificate verification"),
    ConfigFile("IL113", lambda p: _base(p) in ("pip.conf", "pip.ini"),
               _pip_detect, "makes pip skip certificate verification (and accept plain HTTP) for that host"),
    ConfigFile("IL114", lambda p: _base(p) in (".npmrc", "npmrc"),
               _regex_lines(r"^\s*strict[-_]ssl\s*=\s*false\s*$"),
               "makes npm and pnpm skip certificate verification of the registry"),
    ConfigFile("IL114", lambda p: _base(p) == ".yarnrc",
               _regex_lines(r"""^\s*["']?strict-ssl["']?\s+["']?false["']?\s*$"""),
               "makes yarn v1 skip certificate verification of the registry"),
    ConfigFile("IL114", lambda p: _base(p) == ".yarnrc.yml",
               _regex_lines(r"""^\s*enableStrictSsl\s*:\s*["']?false["']?\s*$"""),
               "makes yarn berry skip certificate verification of the registry"),
    ConfigFile("IL115", lambda p: p == "/etc/apt/apt.conf" or p.startswith("/etc/apt/apt.conf.d/"),
               _apt_conf_verify, "makes apt skip certificate verification of HTTPS repositories"),
    ConfigFile("IL115", lambda p: p in ("/etc/yum.conf", "/etc/dnf/dnf.conf", "/etc/tdnf/tdnf.conf")
               or (p.endswith(".repo") and ("/yum.repos.d/" in p or "/zypp/repos.d/" in p or "/distro.repos.d/" in p)),
               _yum_detect("sslverify"), "makes yum/dnf skip certificate verification of the repositories"),
    ConfigFile("IL115", lambda p: p.endswith((".repo", ".service")) and "/zypp/" in p,
               _zypp_url_detect, "makes zypper skip certificate verification of that repository"),
    ConfigFile("IL115", lambda p: p == "/etc/apk/config",
               _regex_lines(r"^\s*(?:--)?no-check-certificate\s*$"),
               "makes every apk call skip certificate verification"),
    ConfigFile("IL116", lambda p: p.endswith(("/.mvn/maven.config", "/.mvn/jvm.config")) or _base(p) in (".mavenrc", "mavenrc"),
               _regex_lines(r"-D(?:maven\.wagon\.http\.ssl\.(?:insecure|allowall|ignore\.validity\.dates)=true"
                            r"|aether\.connector\.https\.securityMode=insecure)\b", 0),
               "makes every Maven build skip certificate verification of repositories"),
    ConfigFile("IL116", lambda p: _base(p) in (".gemrc", "gemrc"),
               _regex_lines(r"^\s*:?ssl_verify_mode:?\s*:?\s*0\s*$"),
               "makes RubyGems skip certificate verification (OpenSSL::SSL::VERIFY_NONE)"),
    ConfigFile("IL116", lambda p: p.endswith("/.bundle/config"),
               _regex_lines(r"""^\s*BUNDLE_SSL_VERIFY_MODE\s*:\s*["']?0["']?\s*$"""),
               "makes Bundler skip certificate verification"),
    ConfigFile("IL116", lambda p: _base(p) in (".condarc", "condarc", ".mambarc"),
               _regex_lines(r"""^\s*ssl_verify\s*:\s*["']?(false|no|off|0)["']?\s*$"""),
               "makes conda skip certificate verification"),
    ConfigFile("IL116", lambda p: _base(p) == "composer.json" or (_base(p) == "config.json" and "composer" in p),
               _regex_lines(r""""disable-tls"\s*:\s*true|"secure-http"\s*:\s*false|"verify_peer"\s*:\s*false"""),
               "makes Composer download without TLS or without verifying it"),
    ConfigFile("IL117", _kubeconfig_path,
               _regex_lines(r"""^\s*insecure-skip-tls-verify\s*:\s*["']?true["']?\s*$"""),
               "makes kubectl/helm skip verification of the Kubernetes API server certificate"),
    ConfigFile("IL117", lambda p: _base(p) == "repositories.yaml" and "helm" in p,
               _regex_lines(r"^\s*insecure_skip_tls_verify\s*:\s*true\s*$"),
               "makes helm skip certificate verification of that chart repository"),
    ConfigFile("IL117", lambda p: "containers/registries.conf" in p,
               _regex_lines(r"^\s*insecure\s*=\s*true\s*$"),
               "makes podman/skopeo/buildah accept untrusted certificates (and plain HTTP) from that registry"),
    ConfigFile("IL117", lambda p: "/gcloud/" in p and (_base(p) == "properties" or _base(p).startswith("config_")),
               _regex_lines(r"^\s*disable_ssl_validation\s*=\s*(true|1|yes|on)\s*$"),
               "makes gcloud skip certificate verification"),
    ConfigFile("IL117", lambda p: _base(p) in ("ldap.conf", ".ldaprc", "ldaprc"),
               _regex_lines(r"^\s*TLS_REQCERT\s+(never|allow)\s*$"),
               "makes OpenLDAP clients accept any server certificate"),
    ConfigFile("IL130", lambda p: p == "/etc/apt/sources.list" or (p.startswith("/etc/apt/sources.list.d/") and p.endswith((".list", ".sources"))),
               _apt_sources_detect, "makes apt install packages from that repository without checking signatures"),
    ConfigFile("IL130", lambda p: p == "/etc/apt/apt.conf" or p.startswith("/etc/apt/apt.conf.d/"),
               _regex_lines(r'(AllowInsecureRepositories|AllowUnauthenticated|AllowDowngradeToInsecureRepositories)"?\s*[= ]?\s*"?(true|yes|on|1)"?'),
               "makes apt accept unsigned repositories or packages"),
    ConfigFile("IL130", lambda p: p in ("/etc/yum.conf", "/etc/dnf/dnf.conf", "/etc/tdnf/tdnf.conf")
               or (p.endswith(".repo") and ("/yum.repos.d/" in p or "/zypp/repos.d/" in p or "/distro.repos.d/" in p)),
               _yum_detect("gpgcheck"), "makes yum/dnf install packages without checking their signatures"),
    ConfigFile("IL130", lambda p: p == "/etc/apk/config",
               _regex_lines(r"^\s*(?:--)?allow-untrusted\s*$"),
               "makes apk install packages with untrusted or missing signatures"),
    ConfigFile("IL130", lambda p: p == "/etc/pacman.conf" or p.startswith("/etc/pacman.d/"),
               _regex_lines(r"^\s*SigLevel\s*=\s*Never\b", 0),
               "makes pacman install packages without checking signatures"),
    ConfigFile("IL140", lambda p: _base(p) == "openssl.cnf" or p.startswith("/etc/ssl/openssl.cnf.d/") or "/crypto-policies/" in p,
               _regex_lines(r"^\s*MinProtocol\s*=\s*(SSLv3|TLSv1|TLSv1\.0|TLSv1\.1)\s*$|^\s*MaxProtocol\s*=\s*(SSLv3|TLSv1|TLSv1\.0|TLSv1\.1)\s*$"),
               "lets every OpenSSL client and server of the image use an obsolete protocol version"),
)

def env_rule(name: str, value: str | None) -> tuple[str, str] | None:
    """(rule, what it does) for any verification-off variable: IL101, IL102 or IL103."""
    if name == "NODE_TLS_REJECT_UNAUTHORIZED":
        # Node treats only the string "0" as "off"; "1" or "false" keep verification on (Node docs, NODE_TLS_REJECT_UNAUTHORIZED).
        if value is not None and value.strip() == "0":
            return "IL101", "disables TLS certificate verification in Node"
        return None
    if name == "GIT_SSL_NO_VERIFY":
        # git disables verification when the variable is set to any value, even 0/false/"" (git(1), GIT_SSL_NO_VERIFY).
        return "IL102", "disables git's TLS verification (git honours any value, even 0 or false)"
    spec = env_switch(name, value)
    if spec is not None:
        return "IL103", spec.effect
    return None



RC_FILES = (".bashrc", ".bash_profile", ".profile", ".zshrc", "bash.bashrc", "environment", "profile")


def _is_rc_file(path: str) -> bool:
    return _base(path) in RC_FILES and (path.startswith("/etc/") or "/." in path or path.startswith("/root/")) \
        or (path.startswith("/etc/profile.d/") and path.endswith(".sh"))


def _rewritten_later(model: DockerfileModel, stage: Stage, op, cfg: ConfigFile) -> bool:
    """Deleted, or overwritten with text that no longer has the setting."""
    if deleted_later(model, stage, op):
        return True
    for _s, other in later_file_ops(model, stage, op):
        if other.path == op.path and other.kind in ("write", "copy", "move", "download") and \
                (other.content is None or cfg.detect(other.content, other.path) is None):
            return True
    return False


# Config files a tool reads from the project directory: a copied tree brings them into effect.
PROJECT_CONFIGS = (".npmrc", ".yarnrc", ".yarnrc.yml", "composer.json", "maven.config", "jvm.config")
MAX_CONTEXT_CONFIG_BYTES = 256 * 1024


def _context_texts(stage: Stage, ctx) -> Iterator[WrittenText]:
    """Config files a COPY/ADD takes from the build context, read like the ones RUN writes. A file
    the COPY names (or matches by glob) counts wherever it lands; one swept in with a directory
    counts only where the tool reads it from the project (`COPY . /app` bringing `.npmrc`)."""
    context_dir = getattr(ctx, "context_dir", None)
    if not context_dir:
        return
    for op in stage.file_ops:
        if not context_sources(op):
            continue
        named = {normalise_source(x) for x in op.sources}
        globbed = any(c in x for x in op.sources for c in "*?[")
        for image_path, rel in copied_files(context_dir, op) or []:
            if not (any(cfg.matches_path(image_path) for cfg in CONFIG_FILES) or _is_rc_file(image_path)):
                continue
            if rel not in named and not globbed:
                # swept in with a directory: only a project config at the top of the copied tree
                # (or in its .mvn/) is where the tool looks; deeper ones are fixtures or examples
                top = op.path.rstrip("/") or "/"
                parent = posixpath.dirname(image_path)
                if _base(image_path) not in PROJECT_CONFIGS or parent not in (top, posixpath.join(top, ".mvn")):
                    continue
            data = read_context_file(context_dir, rel, MAX_CONTEXT_CONFIG_BYTES)
            if data:
                yield WrittenText(stage, op, data.decode("utf-8", "replace"), "copy", context_file=rel, target=image_path)


def config_switches(model: DockerfileModel, ctx=None) -> list[Switch]:
    """Every verification switch written into a config file, by RUN or copied from the build
    context (cached on the model per build context)."""
    key = getattr(ctx, "context_dir", None)
    cached = model.__dict__.get("_il1xx_config_switches")
    if cached is not None and cached[0] == key:
        return cached[1]
    out: list[Switch] = []
    for stage in model.stages:
        for wt in [*written_texts(stage), *_context_texts(stage, ctx)]:
            path = wt.path
            op = wt.op
            # The whole instruction: a config text is often built over several lines (printf
            # arguments, heredocs, continuation lines), not only on the line of its redirect.
            start, end = None, None
            for cfg in CONFIG_FILES:
                if not cfg.matches_path(path):
                    continue
                found = cfg.detect(wt.text, path)
                if found is None:
                    continue
                undone = _rewritten_later(model, stage, op, cfg)
                verb = {"edit": "edited into", "append": "appended to"}.get(wt.how, "written to")
                if wt.context_file is not None:
                    text = f"`{found}` in {wt.context_file}, copied to {path}, {cfg.effect}"
                else:
                    text = f"`{found}` {verb} {path} {cfg.effect}"
                if undone:
                    text += " (removed again later in the build, so it affects the build only)"
                out.append(Switch(cfg.rule, text, stage, op.inst, start, end, op_offset(op), persistent=not undone,
                                  fix=fixes.config_line_fix(model, stage, op, found, _lines(wt.text),
                                                            context_file=wt.context_file, path=path)))
            if _is_rc_file(path):
                for line in _lines(wt.text):
                    m = re.match(r"""^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(["']?)(.*?)\2\s*;?\s*$""", line)
                    if not m:
                        continue
                    found_rule = env_rule(m.group(1), m.group(3))
                    if found_rule is None:
                        continue
                    rule, effect = found_rule
                    # Shell start-up files act only in shells that read them, not in the image's main process.
                    out.append(Switch(rule, f"`{line.strip()}` written to {path} {effect} in every shell that reads "
                                      f"that file", stage, op.inst, start, end, op_offset(op), severity=Severity.WARNING))
    model.__dict__["_il1xx_config_switches"] = (key, out)
    return out


# --- IL118: Python code that switches verification off -------------------------------------------

PY_SWITCHES = (
    (re.compile(r"\b_create_unverified_context\b"), "ssl._create_unverified_context"),
    (re.compile(r"\bverify\s*=\s*False\b"), "verify=False"),
    (re.compile(r"""\[\s*['"]verify['"]\s*\]\s*=\s*False\b"""), "verify=False"),
    (re.compile(r"\bCERT_NONE\b"), "ssl.CERT_NONE"),
    (re.compile(r"\bcheck_hostname\s*=\s*False\b"), "check_hostname = False"),
)
PYTHON_HOOKS = ("sitecustomize.py", "usercustomize.py")


def _strip_py_comment(line: str) -> str:
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#":
            return line[:i]
    return line


def python_switch(code: str) -> str | None:
    """The verification-off construct in Python code, ignoring comments; None when there is none."""
    for line in code.replace("\\n", "\n").splitlines():
        stripped = _strip_py_comment(line)
        for rx, what in PY_SWITCHES:
            if rx.search(stripped):
                return what
    return None


@check("IL118")
def python_code_disables_verification(model, ctx):
    switches: list[Switch] = []
    for stage in model.stages:
        for wt in written_texts(stage):
            path = wt.path
            hook = _base(path) in PYTHON_HOOKS or path.endswith(".pth")
            # A library patched in place (`sed -i 's/verify=True/verify=False/' .../requests/sessions.py`).
            library = path.endswith(".py") and ("/site-packages/" in path or "/dist-packages/" in path)
            if not (hook or library):
                continue
            if path.endswith(".pth"):
                # .pth files run only their `import` lines.
                code = "\n".join(line for line in _lines(wt.text) if line.startswith("import"))
            else:
                code = wt.text
            what = python_switch(code)
            if what is None:
                continue
            op = wt.op
            undone = deleted_later(model, stage, op)
            if hook:
                text = (f"{what} in {path}: Python runs this file at every start, so every Python program of the "
                        f"image stops verifying TLS certificates")
            else:
                text = (f"{what} {'edited into' if wt.how == 'edit' else 'written to'} the installed library file "
                        f"{path}: every program using it stops verifying TLS certificates")
            if undone:
                text += " (removed again later in the build, so it affects the build only)"
            start, end = (op.start, op.end) if op.end > op.start else (None, None)
            switches.append(Switch("IL118", text, stage, op.inst, start, end, op_offset(op), persistent=not undone))
        for run in stage.runs:
            for lang, code, offset in run.script.inline_code:
                if lang != "python":
                    continue
                what = python_switch(code)
                if what is None:
                    continue
                switches.append(Switch("IL118", f"{what} in Python code run at build time: its HTTPS requests "
                                       f"skip certificate verification", stage, run.inst, offset, offset + 1, offset))
    yield from emit(model, ctx, "IL118", switches)
