"""Commands and tool configuration that switch TLS verification off (insecure-cmd), IL110-IL119.

Each rule covers one tool family in all the places it can be switched off: a flag on one command
(warning), the tool's own config command such as `npm config set` (persists: error in the shipped
stage), and a line written into its config file (see insecure_config.CONFIG_FILES).
"""
from __future__ import annotations

import re
from typing import Iterator

from ...dockerfile.model import memoized
from ...dockerfile.shell import Command, ShellWord
from ...findings import Severity
from ...fixes import builders as fixes
from ..registry import check
from ...dockerfile.queries import runtime_steps
from ...dockerfile.queries import anchor_target, is_cert_path, is_falsey, is_truthy, op_offset, option_values, short_flag_cluster_has
from .insecure_config import Switch, config_switches, emit, zypp_ssl_verify_off
from ...facts.insecure_env import GO_FALSE, GO_TRUE, MAVEN_INSECURE

# curl short options that take an argument: a cluster stops at them (`-ko file` is -k -o file).
CURL_SHORT_WITH_ARG = "AbcCdDeEFHKmoPQrtTuUwxXyYz"
WGET_SHORT_WITH_ARG = "oaOPeitTwQlADRIXUB"
# Commands whose arguments are data, not options of a tool.
DATA_COMMANDS = {"echo", "printf", "cat", "tee", "grep", "egrep", "sed", "awk", "test", "[", "[[", "true", ":"}


def download_purpose(cmd: Command) -> str:
    """'a CA certificate', 'a script piped to a shell' or 'a file', for messages."""
    values = [w.value for w in cmd.args]
    targets = [v for v in values if "://" in v]
    out = None
    for i, v in enumerate(values):
        if v in ("-o", "--output", "-O", "--output-document") and i + 1 < len(values):
            out = values[i + 1]
    if any(is_cert_path(t) for t in targets + ([out] if out else [])):
        return "a CA certificate"
    if cmd.redirects:
        for r in cmd.redirects:
            if r.target is not None and is_cert_path(r.target.value):
                return "a CA certificate"
    return ""


_readers: tuple[list, dict[int, list[Command]]] | None = None


def pipe_readers(cmd: Command, commands: list[Command]) -> list[Command]:
    """The commands reading `cmd`'s output through a pipe. Indexed once per command list: a RUN
    with thousands of downloads must not scan every command for each (it would be quadratic)."""
    global _readers
    if _readers is None or _readers[0] is not commands:
        index: dict[int, list[Command]] = {}
        for c in commands:
            if c.piped_from is not None:
                index.setdefault(id(c.piped_from), []).append(c)
        _readers = (commands, index)
    return _readers[1].get(id(cmd), [])


def piped_to_shell(cmd: Command, commands: list[Command]) -> bool:
    return any(c.name in ("sh", "bash", "dash", "ash", "zsh", "python", "python3", "perl")
               for c in pipe_readers(cmd, commands))


def signing_key_download(cmd: Command, commands: list[Command]) -> bool:
    """Is the download a package signing key (piped into apt-key/gpg/rpm --import, or saved as a keyring)?"""
    for c in pipe_readers(cmd, commands):
        vals = [w.value for w in c.args]
        if (c.name == "apt-key" and "add" in vals) or (c.name in ("gpg", "gpg2") and ("--import" in vals or "--dearmor" in vals)) \
                or (c.name in ("rpm", "rpmkeys") and "--import" in vals):
            return True
    for _w, value in option_values(cmd, "-o", "--output", "-O", "--output-document"):
        if value and (value.endswith((".gpg", ".asc")) or "keyring" in value or "trusted.gpg.d" in value):
            return True
    return False


def _download_text(tool: str, what: str, cmd: Command, commands: list[Command]) -> str:
    purpose = download_purpose(cmd)
    if piped_to_shell(cmd, commands):
        return f"{tool} {what} downloads a script piped to a shell without verifying the server: anyone on the path can run code in the build"
    if signing_key_download(cmd, commands):
        return (f"{tool} {what} downloads a package signing key without verifying the server: anyone on the path can "
                f"sign the packages the image will install")
    if purpose:
        return f"{tool} {what} downloads {purpose} without verifying the server: anyone on the path can substitute their own CA"
    urls = [w.value for w in cmd.args if "://" in w.value]
    if urls and all(u.startswith("http://") for u in urls):
        return (f"{tool} {what} turns off TLS certificate verification for this download: its URL is plain HTTP, so "
                f"it matters once a redirect reaches HTTPS, which is then not verified")
    return f"{tool} {what} turns off TLS certificate verification for this download"


def _sw(rule: str, text: str, stage, run, cmd: Command, word: ShellWord | None, **kw) -> Switch:
    start, end = (word.start, word.end) if word is not None else (cmd.start, cmd.end)
    return Switch(rule, text, stage, run.inst, start, end, cmd.start, **kw)


def tool_args(cmd: Command) -> tuple[str, list[ShellWord]]:
    """The tool and its arguments: `python -m pip install` is pip, `php composer.phar` is composer."""
    name, args = cmd.name, cmd.args
    if (name.startswith("python") or name == "py") and len(args) >= 2 and args[0].value == "-m":
        return args[1].value, args[2:]
    if name == "php" and args and args[0].value.endswith("composer.phar"):
        return "composer", args[1:]
    if name == "composer.phar":
        return "composer", args
    return name, args


def _positionals(args: list[ShellWord], with_arg: set[str] = frozenset()) -> list[ShellWord]:
    out, skip = [], False
    for w in args:
        if skip:
            skip = False
            continue
        if w.value in with_arg:
            skip = True
            continue
        if w.value.startswith("-") and w.value != "-":
            continue
        out.append(w)
    return out


def _commands_with_runtime(model) -> list[tuple[object, object, Command]]:
    """Every RUN command, then the CMD/ENTRYPOINT/HEALTHCHECK commands (which run in every container)."""
    out = [(stage, run, cmd) for stage in model.stages for run, cmd in stage.commands()]
    out.extend((stage, run, cmd) for stage in model.stages for run in runtime_steps(stage) for cmd in run.commands)
    return out


def all_commands(model) -> Iterator[tuple[object, object, Command]]:
    if getattr(model, "memo", None) is None:
        return iter(_commands_with_runtime(model))
    # Eight checks walk every command; the model does not change once built.
    return iter(memoized(model, "all_commands", lambda: _commands_with_runtime(model)))


# --- IL110 curl, IL111 wget ---------------------------------------------------------------------------

_LOOPBACK = re.compile(r"^[a-z]+://(?:[^@/]*@)?(?:localhost|127(?:\.\d+){3}|\[::1\])(?::\d+)?(?:/|$)", re.I)


def loopback_only(cmd: Command) -> bool:
    """Every URL of the command is on this host: there is no network path for anyone to intercept."""
    urls = [w.value for w in cmd.args if "://" in w.value]
    return bool(urls) and all(_LOOPBACK.match(u) for u in urls)


def _literal_urls(cmd: Command) -> list[str]:
    return [w.value for w in cmd.args if w.known and "://" in w.value]


def _plain_http_only(cmd: Command) -> bool:
    urls = [w.value for w in cmd.args if "://" in w.value]
    follows = any(w.value in ("-L", "--location", "--location-trusted") or short_flag_cluster_has(w.value, "L", CURL_SHORT_WITH_ARG)
                  for w in cmd.args)
    return bool(urls) and all(u.startswith("http://") for u in urls) and not follows


def curl_switches(model) -> Iterator[Switch]:
    for stage, run, cmd in all_commands(model):
        if cmd.name != "curl":
            continue
        for w in cmd.args:
            v = w.value
            if v in ("-k", "--insecure") or short_flag_cluster_has(v, "k", CURL_SHORT_WITH_ARG):
                what = "--insecure" if v == "--insecure" else "-k"
            elif v in ("--proxy-insecure", "--doh-insecure"):
                what = v
            else:
                continue
            if v not in ("--proxy-insecure", "--doh-insecure") and run.inst.keyword == "HEALTHCHECK" \
                    and (loopback_only(cmd) or not _literal_urls(cmd)):
                # A health probe runs inside the container and checks its own service: against its own
                # address (or a URL only known at run time) nothing crosses a network.
                yield _sw("IL110", f"curl {what} in a HEALTHCHECK that probes the container's own address"
                          + ("" if loopback_only(cmd) else " (the URL is only known at run time)")
                          + ": nothing crosses a network, so this is information only",
                          stage, run, cmd, w, severity=Severity.INFO)
                continue
            if v not in ("--proxy-insecure", "--doh-insecure") and (_plain_http_only(cmd) or loopback_only(cmd)):
                continue  # no TLS to verify (http:// without redirects), or nothing between curl and the server
            yield _sw("IL110", _download_text("curl", what, cmd, run.commands), stage, run, cmd, w,
                      fix=fixes.curl_insecure(model, stage, run, cmd, w))


def wget_switches(model) -> Iterator[Switch]:
    for stage, run, cmd in all_commands(model):
        if cmd.name != "wget" or loopback_only(cmd):
            continue
        for w in cmd.args:
            if w.value == "--no-check-certificate":
                yield _sw("IL111", _download_text("wget", "--no-check-certificate", cmd, run.commands), stage, run, cmd, w,
                          fix=fixes.wget_no_check(model, stage, run, cmd, w))
        for w, value in option_values(cmd, "-e", "--execute"):
            if value and re.fullmatch(r"check[_-]?certificate\s*=\s*(off|no|0|false)", value.strip(), re.I):
                yield _sw("IL111", _download_text("wget", f"-e {value}", cmd, run.commands), stage, run, cmd, w)


@check("IL110")
def curl_insecure(model, ctx):
    yield from emit(model, ctx, "IL110", [*curl_switches(model), *config_switches(model, ctx)])


@check("IL111")
def wget_no_check_certificate(model, ctx):
    yield from emit(model, ctx, "IL111", [*wget_switches(model), *config_switches(model, ctx)])


# --- IL112 git -------------------------------------------------------------------------------------

_GIT_SSLVERIFY = re.compile(r"http\.(?:.+\.)?sslverify", re.I)
_GIT_OPTS_WITH_ARG = {"-C", "--git-dir", "--work-tree", "--namespace", "--exec-path", "--config-env"}


def _git_false(value: str | None) -> bool:
    return value is not None and (value.strip() == "" or is_falsey(value))


def git_switches(model) -> Iterator[Switch]:
    for stage, run, cmd in all_commands(model):
        if cmd.name != "git":
            continue
        args = cmd.args
        i = 0
        while i < len(args) and args[i].value.startswith("-"):
            v = args[i].value
            if v == "-c" and i + 1 < len(args):
                key, eq, value = args[i + 1].value.partition("=")
                if _GIT_SSLVERIFY.fullmatch(key) and eq and _git_false(value):
                    yield _sw("IL112", f"git -c {key}={value} turns off TLS certificate verification for this git command",
                              stage, run, cmd, args[i + 1])
                i += 2
                continue
            i += 2 if v in _GIT_OPTS_WITH_ARG else 1
        if i >= len(args) or args[i].value != "config":
            continue
        rest = args[i + 1 :]
        scope = "local"
        unset = False
        words = []
        skip = False
        for j, w in enumerate(rest):
            if skip:
                skip = False
                continue
            v = w.value
            if v in ("--global", "--system", "--local", "--worktree"):
                scope = v[2:]
            elif v in ("-f", "--file"):
                scope = rest[j + 1].value if j + 1 < len(rest) else "file"
                skip = True
            elif v.startswith("--file="):
                scope = v[7:]
            elif v in ("--unset", "--unset-all") or v == "unset" and not words:
                unset = True
            elif v in ("--type", "--default", "--comment"):
                skip = True
            elif v == "set" and not words:
                continue
            elif v.startswith("-"):
                continue
            else:
                words.append(w)
        if not words or not _GIT_SSLVERIFY.fullmatch(words[0].value):
            continue
        key = f"git:{scope}:{words[0].value.lower()}"
        if unset:
            yield Switch("IL112", "", stage, run.inst, None, None, cmd.start, key=key, insecure=False)
        elif len(words) >= 2 and _git_false(words[1].value):
            yield _sw("IL112", f"git config {words[0].value} {words[1].value or 'false'} turns off TLS certificate "
                      f"verification for git; saved in the {scope} git config, it persists", stage, run, cmd, words[0],
                      persistent=True, key=key)
        elif len(words) >= 2:
            yield Switch("IL112", "", stage, run.inst, None, None, cmd.start, key=key, insecure=False)


@check("IL112")
def git_ssl_verify_off(model, ctx):
    yield from emit(model, ctx, "IL112", [*git_switches(model), *config_switches(model, ctx)])


# --- IL113 pip, uv, poetry -----------------------------------------------------------------------------

def _is_pip(name: str) -> bool:
    return re.fullmatch(r"pip[0-9.]*", name) is not None


def _index_is_http(cmd: Command, host: str) -> bool:
    for _w, value in option_values(cmd, "-i", "--index-url", "--extra-index-url", "--index", "--default-index"):
        if value and value.startswith("http://") and host.split(":")[0] in value:
            return True
    return False


def pip_switches(model) -> Iterator[Switch]:
    for stage, run, cmd in all_commands(model):
        name, args = tool_args(cmd)
        if name == "uv" and args and args[0].value == "pip":
            name, args = "uv pip", args[1:]
        if _is_pip(name) or name in ("uv", "uv pip", "uvx"):
            flags = ("--trusted-host",) if _is_pip(name) else ("--trusted-host", "--allow-insecure-host")
            for w, value in option_values(cmd, *flags):
                host = value or ""
                if _index_is_http(cmd, host):
                    text = (f"{name} {w.value.split('=')[0]} {host} lets {name} use the plain-HTTP index on {host}: "
                            f"packages travel without TLS")
                else:
                    text = f"{name} {w.value.split('=')[0]} {host} turns off certificate verification for {host}"
                yield _sw("IL113", text, stage, run, cmd, w)
            vals = [a.value for a in args]
            if _is_pip(name) and vals[:1] == ["config"] and len(vals) >= 2:
                pos = _positionals(args[1:])
                if len(pos) >= 2 and pos[0].value in ("set", "unset") and \
                        pos[1].value.split(".")[-1].replace("_", "-") == "trusted-host":
                    key = f"pip:{pos[1].value}"
                    if pos[0].value == "set" and len(pos) >= 3 and pos[2].value.strip():
                        yield _sw("IL113", f"pip config set {pos[1].value} {pos[2].value} turns off certificate "
                                  f"verification for {pos[2].value}; saved in pip.conf, it persists", stage, run, cmd,
                                  pos[1], persistent=True, key=key)
                    else:
                        yield Switch("IL113", "", stage, run.inst, None, None, cmd.start, key=key, insecure=False)
        elif name == "poetry":
            pos = _positionals(args)
            if len(pos) >= 2 and pos[0].value == "config" and re.fullmatch(r"certificates\.[^.]+\.cert", pos[1].value):
                key = f"poetry:{pos[1].value}"
                if any(a.value == "--unset" for a in args):
                    yield Switch("IL113", "", stage, run.inst, None, None, cmd.start, key=key, insecure=False)
                elif len(pos) >= 3 and is_falsey(pos[2].value):
                    yield _sw("IL113", f"poetry config {pos[1].value} false turns off certificate verification for that "
                              f"repository; saved in poetry's config, it persists", stage, run, cmd, pos[1],
                              persistent=True, key=key)


@check("IL113")
def pip_trusted_host(model, ctx):
    yield from emit(model, ctx, "IL113", [*pip_switches(model), *config_switches(model, ctx)])


# --- IL114 npm, yarn, pnpm -------------------------------------------------------------------------

_NPM_KEYS = {"strict-ssl", "strict_ssl", "strictssl", "enablestrictssl"}


def npm_switches(model) -> Iterator[Switch]:
    for stage, run, cmd in all_commands(model):
        name, args = cmd.name, cmd.args
        if name not in ("npm", "pnpm", "yarn", "npx", "corepack"):
            continue
        if name == "corepack" and args and args[0].value in ("npm", "pnpm", "yarn"):
            name, args = args[0].value, args[1:]
        tool = "npm" if name in ("npm", "npx", "pnpm") else "yarn"
        for i, w in enumerate(args):
            v = w.value
            if v == "--no-strict-ssl" or v.lower() in ("--strict-ssl=false",) or \
                    (v == "--strict-ssl" and i + 1 < len(args) and args[i + 1].value == "false"):
                yield _sw("IL114", f"{name} {v}{' false' if v == '--strict-ssl' else ''} turns off certificate "
                          f"verification of the registry for this command", stage, run, cmd, w)
        pos = _positionals(args)
        vals = [p.value for p in pos]
        if vals[:2] == ["config", "set"] or (vals[:1] == ["set"] and name in ("npm", "pnpm")):
            rest = pos[2:] if vals[0] == "config" else pos[1:]
            if not rest:
                continue
            key, eq, value = rest[0].value.partition("=")
            if not eq:
                value = rest[1].value if len(rest) > 1 else ""
            if key.lower() not in _NPM_KEYS:
                continue
            setting = f"{tool}:{key.lower().replace('_', '-')}"
            if value.strip().lower() in ("false", "0" if key.lower() == "enablestrictssl" else "false"):
                yield _sw("IL114", f"{name} config set {key} {value} turns off certificate verification of the "
                          f"registry; saved in the user's {'.npmrc' if tool == 'npm' else 'yarn config'}, it persists",
                          stage, run, cmd, rest[0], persistent=True, key=setting)
            else:
                yield Switch("IL114", "", stage, run.inst, None, None, cmd.start, key=setting, insecure=False)
        elif vals[:1] == ["config"] and len(vals) >= 3 and vals[1] in ("delete", "rm", "unset") and vals[2].lower() in _NPM_KEYS:
            yield Switch("IL114", "", stage, run.inst, None, None, cmd.start,
                         key=f"{tool}:{vals[2].lower().replace('_', '-')}", insecure=False)


@check("IL114")
def npm_strict_ssl_off(model, ctx):
    yield from emit(model, ctx, "IL114", [*npm_switches(model), *config_switches(model, ctx)])


# --- IL115 OS package managers ---------------------------------------------------------------------

APT = {"apt-get", "apt", "aptitude", "apt-cache"}
YUM = {"yum", "dnf", "dnf5", "microdnf", "tdnf", "yum-config-manager", "dnf-3"}
_APT_VERIFY = re.compile(r"acquire::https::(?:.+::)?verify-(peer|host)", re.I)


def apt_options(cmd: Command) -> Iterator[tuple[ShellWord, str, str]]:
    """(word, key, value) for every `-o Key=Value` of an apt command."""
    args = cmd.args
    for i, w in enumerate(args):
        v = w.value
        if v in ("-o", "--option") and i + 1 < len(args):
            kv, word = args[i + 1].value, args[i + 1]
        elif v.startswith("-o") and not v.startswith("--") and len(v) > 2:
            kv, word = v[2:], w
        elif v.startswith("--option="):
            kv, word = v[9:], w
        else:
            continue
        key, _, value = kv.partition("=")
        yield word, key.strip(), value.strip().strip("'\"")


def yum_setopts(cmd: Command) -> Iterator[tuple[ShellWord, str, str]]:
    """(word, key, value) for every `--setopt=key=value` (and dnf5 `config-manager setopt key=value`)."""
    args = cmd.args
    for i, w in enumerate(args):
        v = w.value
        kv = None
        if v == "--setopt" and i + 1 < len(args):
            kv, word = args[i + 1].value, args[i + 1]
        elif v.startswith("--setopt="):
            kv, word = v[9:], w
        if kv is not None:
            key, _, value = kv.partition("=")
            yield word, key.strip(), value.strip()
    vals = [a.value for a in args]
    if "config-manager" in vals and "setopt" in vals:
        for w in args[vals.index("setopt") + 1 :]:
            if "=" in w.value and not w.value.startswith("-"):
                key, _, value = w.value.partition("=")
                yield w, key.strip(), value.strip()


def yum_setopt_persists(cmd: Command) -> bool:
    vals = [a.value for a in cmd.args]
    if cmd.name == "yum-config-manager" or "config-manager" in vals:
        return "--save" in vals or "setopt" in vals
    return False


def os_package_switches(model) -> Iterator[Switch]:
    for stage, run, cmd in all_commands(model):
        name = cmd.name
        if name in APT:
            for w, key, value in apt_options(cmd):
                if _APT_VERIFY.fullmatch(key) and is_falsey(value):
                    yield _sw("IL115", f"{name} -o {key}={value} turns off certificate verification of HTTPS repositories "
                              f"for this command", stage, run, cmd, w)
        elif name in YUM:
            persists = yum_setopt_persists(cmd)
            for w, key, value in yum_setopts(cmd):
                if key.split(".")[-1].lower() == "sslverify" and is_falsey(value):
                    where = "; saved in the repository configuration, it persists" if persists else " for this command"
                    yield _sw("IL115", f"{name} --setopt={key}={value} turns off certificate verification of the "
                              f"repositories{where}", stage, run, cmd, w, persistent=persists)
        elif name == "zypper":
            sub = next((w.value for w in cmd.args if not w.value.startswith("-")), "")
            persists = sub in ("ar", "addrepo", "mr", "modifyrepo", "addservice", "as")
            for w in cmd.args:
                off = zypp_ssl_verify_off(w.value)
                if off:
                    where = "; saved in its repo file, it persists" if persists else " for this command"
                    yield _sw("IL115", f"zypper {sub} with {off} in the repository URL turns off certificate "
                              f"verification of that repository{where}", stage, run, cmd, w, persistent=persists)
        elif name == "apk":
            for w in cmd.args:
                if w.value == "--no-check-certificate":
                    yield _sw("IL115", "apk --no-check-certificate turns off certificate verification of the "
                              "repositories for this command", stage, run, cmd, w)


@check("IL115")
def package_manager_tls_off(model, ctx):
    yield from emit(model, ctx, "IL115", [*os_package_switches(model), *config_switches(model, ctx)])


# --- IL116 build tools and language package managers ---------------------------------------------

_BUILD_TOOLS = {"composer", "bundle", "bundler", "conda", "mamba", "micromamba", "go", "ansible-galaxy", "deno"}


def build_tool_switches(model) -> Iterator[Switch]:
    for stage, run, cmd in all_commands(model):
        name, args = tool_args(cmd)
        if name not in DATA_COMMANDS:
            for w in args:
                if w.value.startswith("-D") and MAVEN_INSECURE.search(w.value):
                    yield _sw("IL116", f"{w.value} makes Maven skip certificate verification of repositories for this "
                              f"build", stage, run, cmd, w)
        if name not in _BUILD_TOOLS:
            continue
        pos = _positionals(args)
        vals = [p.value for p in pos]
        if name == "composer" and "config" in vals:
            rest = pos[vals.index("config") + 1 :]
            glob = any(a.value in ("-g", "--global") for a in args) or "global" in vals
            if not rest:
                continue
            key = rest[0].value
            setting = f"composer:{glob}:{key}"
            value = rest[1].value if len(rest) > 1 else None
            if any(a.value == "--unset" for a in args):
                yield Switch("IL116", "", stage, run.inst, None, None, cmd.start, key=setting, insecure=False)
            elif key == "disable-tls" and is_truthy(value):
                yield _sw("IL116", "composer config disable-tls true makes Composer download over plain HTTP, without "
                          "TLS; saved in its config, it persists", stage, run, cmd, rest[0], persistent=True, key=setting)
            elif key == "secure-http" and is_falsey(value):
                yield _sw("IL116", "composer config secure-http false lets Composer download packages over plain HTTP; "
                          "saved in its config, it persists", stage, run, cmd, rest[0], persistent=True, key=setting)
            elif key in ("disable-tls", "secure-http"):
                yield Switch("IL116", "", stage, run.inst, None, None, cmd.start, key=setting, insecure=False)
        elif name in ("bundle", "bundler") and vals[:1] == ["config"]:
            rest = [p for p in pos[1:] if p.value not in ("set",)]
            if rest and rest[0].value == "unset" and len(rest) > 1 and rest[1].value == "ssl_verify_mode":
                yield Switch("IL116", "", stage, run.inst, None, None, cmd.start, key="bundle:ssl_verify_mode", insecure=False)
            elif len(rest) >= 2 and rest[0].value == "ssl_verify_mode":
                if rest[1].value.strip() == "0":
                    yield _sw("IL116", "bundle config ssl_verify_mode 0 makes Bundler skip certificate verification; "
                              "saved in its config, it persists", stage, run, cmd, rest[0], persistent=True,
                              key="bundle:ssl_verify_mode")
                else:
                    yield Switch("IL116", "", stage, run.inst, None, None, cmd.start, key="bundle:ssl_verify_mode", insecure=False)
        elif name in ("conda", "mamba", "micromamba"):
            for i, w in enumerate(args):
                v = w.value
                if v in ("--set", "set") and i + 2 < len(args) and args[i + 1].value == "ssl_verify":
                    value = args[i + 2].value
                    if is_falsey(value):
                        yield _sw("IL116", f"{name} config {v} ssl_verify {value} makes {name} skip certificate "
                                  f"verification; saved in .condarc, it persists", stage, run, cmd, args[i + 1],
                                  persistent=True, key="conda:ssl_verify")
                    else:
                        yield Switch("IL116", "", stage, run.inst, None, None, cmd.start, key="conda:ssl_verify", insecure=False)
                elif v == "--remove-key" and i + 1 < len(args) and args[i + 1].value == "ssl_verify":
                    yield Switch("IL116", "", stage, run.inst, None, None, cmd.start, key="conda:ssl_verify", insecure=False)
                elif v in ("--insecure", "-k") and "config" not in vals:
                    yield _sw("IL116", f"{name} {v} makes {name} skip certificate verification for this command",
                              stage, run, cmd, w)
        elif name == "go":
            if vals[:1] == ["get"]:
                for w in args:
                    if w.value in ("-insecure", "--insecure", "-insecure=true"):
                        yield _sw("IL116", "go get -insecure skips TLS verification (and allows HTTP) for this fetch "
                                  "(removed in Go 1.17; use neither)", stage, run, cmd, w)
            elif vals[:1] == ["env"]:
                if any(a.value == "-w" for a in args):
                    for p in pos[1:]:
                        k, _, value = p.value.partition("=")
                        if (k == "GOINSECURE" and value.strip()) or (k == "GOFLAGS" and "-insecure" in value.split()):
                            yield _sw("IL116", f"go env -w {k}={value} makes the go command skip TLS verification for "
                                      f"module downloads; saved in the go env file, it persists", stage, run, cmd, p,
                                      persistent=True, key=f"go:{k}")
                elif any(a.value == "-u" for a in args):
                    for p in pos[1:]:
                        yield Switch("IL116", "", stage, run.inst, None, None, cmd.start, key=f"go:{p.value}", insecure=False)
        elif name == "ansible-galaxy":
            for w in args:
                if w.value in ("--ignore-certs", "-c"):
                    yield _sw("IL116", f"ansible-galaxy {w.value} skips certificate verification of the Galaxy server "
                              f"for this command", stage, run, cmd, w)
        elif name == "deno":
            for w in args:
                if w.value == "--unsafely-ignore-certificate-errors" or w.value.startswith("--unsafely-ignore-certificate-errors="):
                    yield _sw("IL116", f"deno {w.value} turns off certificate verification", stage, run, cmd, w)


@check("IL116")
def build_tool_tls_off(model, ctx):
    yield from emit(model, ctx, "IL116", [*build_tool_switches(model), *config_switches(model, ctx)])


# --- IL117 cloud, cluster, registry and other CLIs -------------------------------------------------

# (tools, flag, value kind) -- "bare": the flag alone switches off; "gobool": `--flag` or `--flag=<true>`;
# "gofalse": only `--flag=<false>` switches off; "no": `--flag=no|false`.
CLI_FLAGS: tuple[tuple[frozenset, str, str, str], ...] = (
    (frozenset({"aws"}), "--no-verify-ssl", "bare", "skips certificate verification of AWS endpoints"),
    (frozenset({"helm"}), "--insecure-skip-tls-verify", "gobool", "skips certificate verification of the chart repository or registry"),
    (frozenset({"helm"}), "--kube-insecure-skip-tls-verify", "gobool", "skips verification of the Kubernetes API server certificate"),
    (frozenset({"kubectl", "oc", "kubecolor"}), "--insecure-skip-tls-verify", "gobool", "skips verification of the Kubernetes API server certificate"),
    (frozenset({"skopeo", "podman", "buildah"}), "--tls-verify", "gofalse", "skips certificate verification of the registry"),
    (frozenset({"skopeo"}), "--src-tls-verify", "gofalse", "skips certificate verification of the source registry"),
    (frozenset({"skopeo"}), "--dest-tls-verify", "gofalse", "skips certificate verification of the destination registry"),
    (frozenset({"crane", "gcrane", "oras", "argocd", "mc"}), "--insecure", "gobool", "skips certificate verification of the server"),
    (frozenset({"vault"}), "-tls-skip-verify", "gobool", "skips verification of the Vault server certificate"),
    (frozenset({"vault"}), "--tls-skip-verify", "gobool", "skips verification of the Vault server certificate"),
    (frozenset({"etcdctl"}), "--insecure-skip-tls-verify", "gobool", "skips verification of the etcd server certificate"),
    (frozenset({"jf", "jfrog"}), "--insecure-tls", "gobool", "skips certificate verification of the Artifactory server"),
    (frozenset({"aria2c"}), "--check-certificate", "no", "skips certificate verification of this download"),
    (frozenset({"http", "https"}), "--verify", "no", "skips certificate verification of this request (HTTPie)"),
    (frozenset({"svn"}), "--trust-server-cert", "bare", "accepts the server certificate without verifying its CA"),
)
# Commands that save the flag in a config file that stays in the image.
_PERSISTING = {("helm", "repo", "add"), ("kubectl", "config", "set-cluster"), ("oc", "config", "set-cluster"), ("oc", "login", ""),
               ("argocd", "login", "")}


def _flag_hits(cmd: Command, flag: str, kind: str) -> Iterator[ShellWord]:
    for w in cmd.args:
        v = w.value
        if v == flag:
            if kind in ("bare", "gobool"):
                yield w
        elif v.startswith(flag + "="):
            value = v[len(flag) + 1 :]
            if kind == "gobool" and value in GO_TRUE:
                yield w
            elif kind == "gofalse" and value in GO_FALSE:
                yield w
            elif kind == "no" and value.lower() in ("no", "false"):
                yield w
        elif kind == "no" and v == flag:
            continue


_CLI_NAMES = frozenset().union(*(tools for tools, _f, _k, _e in CLI_FLAGS)) | {"gcloud"}


def cli_switches(model) -> Iterator[Switch]:
    for stage, run, cmd in all_commands(model):
        name = cmd.name
        if name not in _CLI_NAMES:
            continue
        vals = [a.value for a in cmd.args]
        pos = [v for v in vals if not v.startswith("-")]
        sub = tuple((pos + ["", ""])[:2])
        persists = (name, *sub) in _PERSISTING or (name, sub[0], "") in _PERSISTING
        for tools, flag, kind, effect in CLI_FLAGS:
            if name not in tools:
                continue
            for w in _flag_hits(cmd, flag, kind):
                if persists:
                    yield _sw("IL117", f"{name} {' '.join(p for p in sub if p)} {w.value} {effect}; saved in its config, "
                              f"it persists", stage, run, cmd, w, persistent=True)
                else:
                    yield _sw("IL117", f"{name} {w.value} {effect} for this command", stage, run, cmd, w)
        if name in ("kubectl", "oc") and vals[:2] == ["config", "set"] and len(vals) >= 4 and \
                vals[2].endswith(".insecure-skip-tls-verify") and vals[3] in GO_TRUE:
            yield _sw("IL117", f"{name} config set {vals[2]} {vals[3]} skips verification of the Kubernetes API server "
                      f"certificate; saved in the kubeconfig, it persists", stage, run, cmd, cmd.args[2], persistent=True)
        if name == "gcloud" and len(pos) >= 3 and pos[0] == "config" and pos[1] in ("set", "unset") and \
                pos[2] in ("auth/disable_ssl_validation", "disable_ssl_validation"):
            key = "gcloud:auth/disable_ssl_validation"
            if pos[1] == "set" and len(pos) >= 4 and is_truthy(pos[3]):
                word = next(a for a in cmd.args if a.value == pos[2])
                yield _sw("IL117", f"gcloud config set {pos[2]} {pos[3]} makes gcloud skip certificate verification; "
                          f"saved in its properties, it persists", stage, run, cmd, word, persistent=True, key=key)
            else:
                yield Switch("IL117", "", stage, run.inst, None, None, cmd.start, key=key, insecure=False)


@check("IL117")
def cli_tls_off(model, ctx):
    yield from emit(model, ctx, "IL117", [*cli_switches(model), *config_switches(model, ctx)])


# --- IL119 openssl s_client: trust on first use ------------------------------------------------------

TRUST_DIRS = ("/usr/local/share/ca-certificates/", "/usr/share/ca-certificates/", "/etc/ssl/certs/",
              "/etc/pki/ca-trust/source/", "/etc/pki/trust/anchors/", "/usr/share/pki/trust/anchors/",
              "/etc/ca-certificates/trust-source/", "/etc/docker/certs.d/", "/etc/containers/certs.d/")


def _is_trust_path(stage, path: str) -> bool:
    return path.startswith(TRUST_DIRS) or path.endswith(("/cacerts", "/ca-certificates.crt", "/ca-bundle.crt", "/cert.pem"))


def _fetch_outputs(cmd: Command, run) -> tuple[list[Command], list[str]]:
    """The pipeline fed by `cmd` and the files it writes (redirects, tee, `openssl x509 -out`)."""
    chain = [cmd]
    for c in run.commands:
        if c.piped_from in chain:
            chain.append(c)
    files: list[str] = []
    for c in chain:
        for _r, target in c.output_files():
            if target.known:
                files.append(target.value)
        if c.name == "tee":
            files += [w.value for w in c.args if not w.value.startswith("-")]
        if c.name == "openssl":
            for _w, value in option_values(c, "-out"):
                if value:
                    files.append(value)
    return chain, files


def _imports_file(cmd: Command, files: list[str]) -> bool:
    vals = [w.value for w in cmd.args]
    if cmd.name == "keytool" and any(v in ("-importcert", "-import") for v in vals):
        return any(v in files for _w, v in option_values(cmd, "-file"))
    if cmd.name == "trust" and vals[:1] == ["anchor"]:
        return any(v in files for v in vals[1:])
    if cmd.name == "certutil" and "-A" in vals:
        return any(v in files for _w, v in option_values(cmd, "-i"))
    return False


def tofu_switches(model) -> Iterator[Switch]:
    for stage in model.stages:
        for run in stage.runs:
            for cmd in run.commands:
                vals = [w.value for w in cmd.args]
                if cmd.name != "openssl" or vals[:1] != ["s_client"] or "-verify_return_error" in vals:
                    continue
                chain, files = _fetch_outputs(cmd, run)
                # Follow the certificate through later conversions (`openssl x509 -in f -out g`, `cp f g`).
                for _run, later in stage.commands():
                    if later.start > cmd.start and later not in chain and later.name in ("openssl", "cat", "sed", "awk", "cp", "mv", "tee") \
                            and any(w.value in files for w in later.args):
                        if later.name in ("cp", "mv"):
                            files.append(later.args[-1].value)
                        else:
                            files.extend(_fetch_outputs(later, _run)[1])
                installed = [f for f in files if _is_trust_path(stage, f)]
                installed += ["the Java trust store" for c in chain if c.name == "keytool"
                              and any(v in ("-importcert", "-import") for v in (w.value for w in c.args))]
                for op in stage.file_ops:
                    if op.kind in ("copy", "move") and op_offset(op) > cmd.start and any(s in files for s in op.sources) \
                            and (anchor_target(stage, op) or _is_trust_path(stage, op.path)):
                        installed.append(op.path)
                for _run, later in stage.commands():
                    if later.start > cmd.start and _imports_file(later, files):
                        installed.append(f"{later.name}'s trust store")
                if not installed:
                    continue
                host = next((v for _w, v in option_values(cmd, "-connect") if v), "the server")
                yield Switch("IL119", f"openssl s_client fetches the certificate of {host} without verifying it and the "
                             f"build installs it as a trusted CA ({installed[0]}): whoever answered that connection "
                             f"becomes a CA of the image", stage, run.inst, cmd.argv[0].start, cmd.argv[1].end, cmd.start,
                             persistent=True)


@check("IL119")
def openssl_s_client_tofu(model, ctx):
    yield from emit(model, ctx, "IL119", tofu_switches(model))
