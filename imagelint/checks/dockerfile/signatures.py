"""Package signature or integrity checks bypassed (package-signature-bypass), IL130.

These are not TLS switches (apk(8) --allow-untrusted and sources.list(5) [trusted=yes] are about
repository signatures), but they have the same effect: whoever serves the package decides what runs.
A repository of local files (`file:`) built in the same RUN is not a bypass: nothing crosses a network.
"""
from __future__ import annotations

import fnmatch
import posixpath
import re
from typing import Iterator

from ..registry import check
from ...dockerfile.queries import is_falsey, is_truthy, option_values
from .insecure_cmd import APT, YUM, Switch, _positionals, _sw, all_commands, apt_options, yum_setopt_persists, yum_setopts
from .insecure_config import config_switches, emit

_APT_ALLOW = re.compile(r"(acquire::allowinsecurerepositories|acquire::allowdowngradetoinsecurerepositories"
                        r"|apt::get::allowunauthenticated)", re.I)
_APT_FLAGS = {
    "--allow-unauthenticated": "installs packages whose signatures cannot be verified",
    "--allow-insecure-repositories": "accepts repositories without a valid signature",
    "--force-yes": "(deprecated) also installs unauthenticated packages without asking",
}
# apt subcommands that download and install packages (where the unauthenticated-package switches act).
_APT_INSTALLING = {"install", "upgrade", "dist-upgrade", "full-upgrade", "reinstall", "build-dep", "source", "download",
                   "satisfy", "safe-upgrade", "markauto"}
_APT_OPTS_WITH_ARG = {"-o", "--option", "-t", "--target-release", "--default-release", "-c", "--config-file",
                      "-a", "--host-architecture"}
_RPM_INSTALL = re.compile(r"^-[a-zA-Z]*[iUF][a-zA-Z]*$")
_RPM_FLAGS = {"--nosignature": "skips the package signature check", "--nodigest": "skips the package digest check",
              "--nofiledigest": "skips the per-file digest check"}
_APK_NON_INSTALL = {"index", "verify", "fetch", "info", "search", "list", "dot", "policy", "stats", "manifest"}


def downloads(stage) -> list[tuple[str | None, str]]:
    """(absolute path or None, basename) of files the stage chain downloads (curl/wget/ADD URLs, -o/-O targets)."""
    out: list[tuple[str | None, str]] = []
    for s in stage.chain():
        for _run, cmd in s.commands():
            if cmd.name in ("curl", "wget", "aria2c", "fetch"):
                for w in cmd.args:
                    if "://" in w.value:
                        out.append((None, posixpath.basename(w.value.split("?")[0])))
        for op in s.file_ops:
            if op.kind == "download" or any("://" in src for src in op.sources):
                out.append((op.path, posixpath.basename(op.path)))
    return out


def _downloaded(stage, path: str) -> bool:
    globbing = any(c in path for c in "*?[")
    for full, base in downloads(stage):
        if globbing:
            # `/tmp/*.apk` matches a download saved under that pattern, not any .apk fetched anywhere.
            if full is not None and path.startswith("/") and fnmatch.fnmatchcase(full, path):
                return True
        elif base == posixpath.basename(path) or full == path:
            return True
    return False


def _from_network(stage, operands: list[str], repos: list[str]) -> bool:
    """Do the packages come over a network? Local files built or copied in the build do not."""
    if any("://" in r for r in repos) or any("://" in o for o in operands):
        return True
    files = [o for o in operands if "/" in o or o.endswith((".apk", ".rpm", ".deb"))]
    if len(files) < len(operands):
        return True  # package names: resolved from the configured (remote) repositories
    return any(_downloaded(stage, f) for f in files)


def signature_switches(model) -> Iterator[Switch]:
    for stage, run, cmd in all_commands(model):
        name = cmd.name
        vals = [w.value for w in cmd.args]
        if name in APT:
            positionals = _positionals(cmd.args, _APT_OPTS_WITH_ARG)
            sub = positionals[0].value if positionals else ""
            installs = sub in _APT_INSTALLING or not positionals[:1] or not positionals[0].known
            for w in cmd.args:
                if w.value in ("--allow-unauthenticated", "--force-yes") and not installs:
                    continue  # `apt-get update --force-yes`: nothing is installed; repositories are checked as usual
                if w.value in _APT_FLAGS:
                    yield _sw("IL130", f"{name} {w.value} {_APT_FLAGS[w.value]}", stage, run, cmd, w)
            for w, key, value in apt_options(cmd):
                if _APT_ALLOW.fullmatch(key) and is_truthy(value):
                    yield _sw("IL130", f"{name} -o {key}={value} accepts unsigned repositories or packages for this "
                              f"command", stage, run, cmd, w)
        elif name in YUM:
            persists = yum_setopt_persists(cmd)
            operands = [w.value for w in _positionals(cmd.args, {"--setopt", "-c", "--config", "--installroot",
                                                                 "--releasever", "--enablerepo", "--disablerepo"})]
            local_only = bool(operands[1:]) and not _from_network(stage, operands[1:], [])
            for w in cmd.args:
                if w.value in ("--nogpgcheck", "--no-gpgcheck") and not local_only:
                    yield _sw("IL130", f"{name} {w.value} installs packages without checking their signatures",
                              stage, run, cmd, w)
            for w, key, value in yum_setopts(cmd):
                if key.split(".")[-1].lower() == "gpgcheck" and is_falsey(value):
                    where = "; saved in the repository configuration, it persists" if persists else " for this command"
                    yield _sw("IL130", f"{name} --setopt={key}={value} turns off package signature checks{where}",
                              stage, run, cmd, w, persistent=persists)
        elif name == "add-apt-repository":
            for w in cmd.args:
                m = re.search(r"\[([^\]]*)\]\s+(\S+)", w.value)
                if m and re.search(r"(?:^|\s)(trusted|allow-insecure)\s*=\s*yes\b", m.group(1)) and "://" in m.group(2) \
                        and not m.group(2).startswith("file:"):
                    yield _sw("IL130", f"add-apt-repository with [{m.group(1).strip()}] makes apt install packages from "
                              f"{m.group(2)} without checking signatures; saved in sources.list, it persists",
                              stage, run, cmd, w, persistent=True)
        elif name == "zypper":
            sub = next((v for v in vals if not v.startswith("-")), "")
            for w in cmd.args:
                v = w.value
                if v in ("--no-gpg-checks", "--gpgcheck-allow-unsigned", "--gpgcheck-allow-unsigned-repo",
                         "--gpgcheck-allow-unsigned-package"):
                    yield _sw("IL130", f"zypper {v} accepts packages or repositories without a valid signature",
                              stage, run, cmd, w)
                elif sub in ("ar", "addrepo", "mr", "modifyrepo") and v in ("--no-gpgcheck", "-G"):
                    yield _sw("IL130", f"zypper {sub} {v} turns off signature checks for that repository; saved in its "
                              f"repo file, it persists", stage, run, cmd, w, persistent=True)
        elif name == "apk":
            sub = next((v for v in vals if not v.startswith("-")), "")
            if sub in _APK_NON_INSTALL:
                continue
            repos = [v for _w, v in option_values(cmd, "-X", "--repository") if v]
            operands = [w.value for w in _positionals(cmd.args, {"-X", "--repository", "-p", "--root", "--arch", "-t", "--virtual",
                                                                 "--keys-dir", "--repositories-file", "--cache-dir"})]
            if not _from_network(stage, operands[1:], repos):
                continue  # packages built or copied in this build: nothing crosses a network
            for w in cmd.args:
                if w.value == "--allow-untrusted":
                    yield _sw("IL130", "apk --allow-untrusted installs packages with untrusted or missing signatures",
                              stage, run, cmd, w)
        elif name == "rpm":
            if not any(v in ("--install", "--upgrade", "--freshen", "--reinstall") or _RPM_INSTALL.match(v) for v in vals):
                continue
            if not _from_network(stage, [w.value for w in _positionals(cmd.args, {"--root", "--dbpath", "--prefix"})], []):
                continue
            for w in cmd.args:
                if w.value in _RPM_FLAGS:
                    yield _sw("IL130", f"rpm {w.value} {_RPM_FLAGS[w.value]} while installing", stage, run, cmd, w)
        elif name == "dpkg":
            for w in cmd.args:
                if w.value in ("--force-bad-verify",):
                    yield _sw("IL130", "dpkg --force-bad-verify installs a package whose signature check failed",
                              stage, run, cmd, w)


@check("IL130")
def package_signature_bypass(model, ctx):
    yield from emit(model, ctx, "IL130", [*signature_switches(model), *config_switches(model, ctx)])
