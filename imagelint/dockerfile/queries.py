"""Questions about a Dockerfile model that several checks and fixes ask (never answered from raw text):
the stage's family and facts, ENV assignments, where file ops land, the order of steps, trust registration."""
from __future__ import annotations

import posixpath
import re
from ..records import record, replace
from typing import Iterator

from .model import DockerfileModel, FileOp, RunStep, Stage, _run_step, memoized
from ..facts import Family, family, package_manager_families
from .parse import Instruction
from .shell import Command, ShellWord

PACKAGE_MANAGER_FAMILY = package_manager_families()
INSTALL_VERBS = {"install", "add", "reinstall"}
REMOVE_VERBS = {"remove", "purge", "del", "erase", "autoremove"}


def stage_family(stage: Stage) -> str | None:
    """The base image's family; else the family the stage's own package manager proves."""
    return memoized(stage, "family", lambda: _stage_family(stage))


def _stage_family(stage: Stage) -> str | None:
    for s in stage.chain():
        if s.family:
            return s.family
    for s in stage.chain():
        for _run, cmd in s.commands():
            fam = PACKAGE_MANAGER_FAMILY.get(cmd.name)
            if fam:
                return fam
    return None


def stage_facts(stage: Stage) -> Family:
    return family(stage_family(stage))


@record
class EnvAssignment:
    """A variable set by ENV, ARG, a RUN prefix (`X=1 cmd`) or `export` in a RUN."""

    name: str
    value: str | None
    kind: str  # "ENV" | "ARG" | "RUN" | "export"
    stage: Stage
    inst: Instruction
    start: int
    end: int
    command: Command | None = None
    inert: bool = False  # `export X=0` with no command after it in the RUN: it affects nothing

    @property
    def persistent(self) -> bool:
        # ENV persists; a CMD/ENTRYPOINT/HEALTHCHECK prefix acts in every container of the image
        return self.kind in ("ENV", "CMD", "ENTRYPOINT", "HEALTHCHECK")

    @property
    def scope(self) -> str:
        if self.inert:
            return "exported with no command after it in this RUN, so it affects nothing"
        return {
            "ENV": "set by ENV, it persists into every process of the image",
            "ARG": "set by ARG, it applies to every RUN of the stage at build time",
            "RUN": "set for one command at build time",
            "export": "exported for the rest of this RUN only",
            "CMD": "set on the CMD, it applies to the main process of every container",
            "ENTRYPOINT": "set on the ENTRYPOINT, it applies to the main process of every container",
            "HEALTHCHECK": "set on the HEALTHCHECK, it applies to every health probe",
        }[self.kind]


# Shell builtins and output commands that make no network connection: an exported switch followed
# only by these changes nothing.
INERT_COMMANDS = {"export", "echo", "printf", "true", ":", "set", "unset", "cd", "exit", "readonly", "local",
                  "test", "[", "sleep", "umask", "alias", "shopt", "declare", "typeset", ""}


RUNTIME_KEYWORDS = ("CMD", "ENTRYPOINT", "HEALTHCHECK")


def runtime_steps(stage: Stage) -> list[RunStep]:
    """CMD, ENTRYPOINT and HEALTHCHECK commands of the stage, parsed like RUNs (shell and exec form):
    they run in every container, with the stage's final environment."""
    return memoized(stage, "runtime_steps", lambda: _runtime_steps(stage))


def _runtime_steps(stage: Stage) -> list[RunStep]:
    env = {name: setting.value for name, setting in stage.env.items()}
    out = []
    for inst in stage.instructions:
        if inst.keyword not in RUNTIME_KEYWORDS:
            continue
        if inst.keyword == "HEALTHCHECK":
            # `HEALTHCHECK [flags] CMD <command>` or `NONE`: the command follows the CMD word.
            m = re.match(r"(?i)CMD\s+", inst.args)
            if m is None:
                continue
            inst_for_parse = replace(inst, args=inst.args[m.end():], args_offset=inst.args_offset + m.end())
        else:
            inst_for_parse = inst
        step = _run_step(inst_for_parse, stage, env, "\\")
        step.inst = inst
        step.workdir = stage.workdir
        out.append(step)
    return out


def env_assignments(model: DockerfileModel) -> Iterator[EnvAssignment]:
    # Many checks ask; the model does not change once built, so walk it once.
    if getattr(model, "memo", None) is None:
        return _env_assignments(model)
    return iter(memoized(model, "env_assignments", lambda: list(_env_assignments(model))))


def _env_assignments(model: DockerfileModel) -> Iterator[EnvAssignment]:
    for stage in model.stages:
        yield from stage_env_assignments(stage)


def stage_env_assignments(stage: Stage) -> list[EnvAssignment]:
    """The assignments of one stage, not of its chain: walked once, for the model and for every chain it is in."""
    return memoized(stage, "env_assignments", lambda: list(_stage_env_assignments(stage)))


def _stage_env_assignments(stage: Stage) -> Iterator[EnvAssignment]:
    for setting in stage.env_settings:
        yield EnvAssignment(setting.name, setting.value, setting.kind, stage, setting.inst, setting.start, setting.end)
    for run in stage.runs:
        for name, word in run.script.exports.items():
            start = word.start - len(name) - 1 if word.raw else word.start
            inert = not any(c.start >= word.end and c.name not in INERT_COMMANDS for c in run.commands)
            yield EnvAssignment(name, word.value if word.known else None, "export", stage, run.inst, start, word.end,
                                inert=inert)
        for cmd in run.commands:
            for name, word in cmd.assignments.items():
                yield EnvAssignment(name, word.value if word.known else None, "RUN", stage, run.inst,
                                    word.start - len(name) - 1 if word.raw else word.start, word.end, cmd)
    for run in runtime_steps(stage):
        for cmd in run.commands:
            for name, word in cmd.assignments.items():
                yield EnvAssignment(name, word.value if word.known else None, run.inst.keyword, stage, run.inst,
                                    word.start - len(name) - 1 if word.raw else word.start, word.end, cmd)


def anchor_target(stage: Stage, op: FileOp) -> list[str]:
    """Paths an op puts into the family's CA anchor directories."""
    facts = stage_facts(stage)
    dirs = facts.anchor_dirs
    out = []
    for target in _op_paths(op):
        for d in dirs:
            if target == d or target.startswith(d + "/"):
                out.append(target)
    return out


def _op_paths(op: FileOp) -> list[str]:
    if op.kind in ("copy", "move", "write", "append", "download", "link"):
        if op.is_dir or (op.kind in ("copy", "move") and op.path.endswith("/")):
            return op.targets()
        return [op.path]
    return []


def op_paths(op: FileOp) -> list[str]:
    return _op_paths(op)


def ordered_steps(stage: Stage):
    """(offset, item) for every file op and command of the stage, in execution order."""
    return memoized(stage, "ordered_steps", lambda: _ordered_steps(stage))


def _ordered_steps(stage: Stage):
    items = []
    for op in stage.file_ops:
        items.append((op.command.start if op.command else op.inst.start, op))
    for run in stage.runs:
        for cmd in run.commands:
            items.append((cmd.start, (run, cmd)))
    items.sort(key=lambda x: x[0])
    return items


def is_package_op(cmd: Command, verbs: set[str], package: str) -> bool:
    """`apt-get install ... package`, `apk add package`, `dnf install package`..."""
    if cmd.name not in PACKAGE_MANAGER_FAMILY:
        return False
    values = [w.value for w in cmd.args]
    if not any(v in verbs for v in values):
        return False
    return any(v == package or v.startswith(package + "=") or v.startswith(package + "-2") for v in values)


def short_flag_cluster_has(word: str, letter: str, takes_arg: str) -> bool:
    """Is short option `letter` in a cluster like -fsSLk (stopping at an option that takes an argument)?"""
    if not word.startswith("-") or word.startswith("--") or len(word) < 2:
        return False
    for ch in word[1:]:
        if ch == letter:
            return True
        if ch in takes_arg:
            return False
    return False


def is_cert_path(path: str) -> bool:
    lower = path.lower()
    return lower.endswith((".crt", ".pem", ".cer", ".der")) or "ca-certificates" in lower or "/anchors" in lower or "cacert" in lower


def basename(path: str) -> str:
    return posixpath.basename(path.rstrip("/"))


# --- text written into files (config files, scripts) -----------------------------------------------

@record
class WrittenText:
    """Known text an instruction puts into a file: echo/printf/heredoc/tee/COPY <<EOF, or what `sed -i` inserts."""

    stage: Stage
    op: FileOp
    text: str
    how: str  # "write" | "append" | "copy" | "edit"
    context_file: str | None = None  # the build-context file a COPY/ADD takes the text from
    target: str | None = None  # where that file lands, when the COPY copies a directory or glob

    @property
    def path(self) -> str:
        return self.target or self.op.path


def op_offset(op: FileOp) -> int:
    return op.command.start if op.command else op.inst.start


def written_texts(stage: Stage) -> Iterator[WrittenText]:
    for op in stage.file_ops:
        if op.content is None:
            continue
        if op.kind in ("write", "append"):
            yield WrittenText(stage, op, op.content, op.kind)
        elif op.kind == "copy" and any(s.startswith("<<") for s in op.sources) and not op.is_dir:
            yield WrittenText(stage, op, op.content, "copy")
        elif op.kind == "edit":
            inserted = sed_inserted_text(op.content)
            if inserted:
                yield WrittenText(stage, op, inserted, "edit")


def later_file_ops(model: DockerfileModel, stage: Stage, op: FileOp) -> Iterator[tuple[Stage, FileOp]]:
    """File ops that run after `op`: later in its stage, or in any stage built FROM it."""
    at = op_offset(op)
    for other in stage.file_ops:
        if other is not op and op_offset(other) > at:
            yield stage, other
    for s in model.stages:
        if s is not stage and stage in s.chain():
            for other in s.file_ops:
                yield s, other


def deleted_later(model: DockerfileModel, stage: Stage, op: FileOp) -> bool:
    """Is the file `op` writes removed again (rm of it or of a directory holding it) afterwards?"""
    path = op.path
    for _s, other in later_file_ops(model, stage, op):
        if other.kind == "delete" and (other.path == path or (other.recursive and path.startswith(other.path.rstrip("/") + "/"))):
            return True
    return False


def _sed_skip_address(expr: str, i: int) -> int:
    """Skip a sed address (`$`, `12`, `/re/`, `\\%re%`, with an optional `,addr2` and `!`)."""
    def one(i: int) -> int:
        if i < len(expr) and expr[i] == "$":
            return i + 1
        if i < len(expr) and expr[i].isdigit():
            while i < len(expr) and (expr[i].isdigit() or expr[i] == "~"):
                i += 1
            return i
        if i < len(expr) and expr[i] in "/\\":
            delim = "/"
            if expr[i] == "\\" and i + 1 < len(expr):
                delim = expr[i + 1]
                i += 1
            i += 1
            while i < len(expr) and expr[i] != delim:
                i += 2 if expr[i] == "\\" else 1
            i += 1
            while i < len(expr) and expr[i] in "IM":
                i += 1
        return i

    i = one(i)
    if i < len(expr) and expr[i] == ",":
        i = one(i + 1)
    while i < len(expr) and expr[i] in " \t!":
        i += 1
    return i


def sed_inserted_text(expr: str) -> str:
    """The text a sed script writes into a file: replacements of `s` commands and `a`/`i`/`c` text.

    Deletions (`/x/d`) insert nothing. Good enough to see `s/gpgcheck=1/gpgcheck=0/` or
    `$a sslverify=false`, never a parser of every sed program.
    """
    out: list[str] = []
    i, n = 0, len(expr)
    while i < n:
        while i < n and expr[i] in " \t\n;{}":
            i += 1
        if i >= n:
            break
        i = _sed_skip_address(expr, i)
        if i >= n:
            break
        c = expr[i]
        if c == "s" and i + 1 < n:
            delim = expr[i + 1]
            j = i + 2
            parts = []
            for _ in range(2):
                buf = []
                while j < n and expr[j] != delim:
                    if expr[j] == "\\" and j + 1 < n:
                        nxt = expr[j + 1]
                        buf.append("\n" if nxt == "n" else ("\t" if nxt == "t" else (nxt if nxt == delim else "\\" + nxt)))
                        j += 2
                        continue
                    buf.append(expr[j])
                    j += 1
                parts.append("".join(buf))
                j += 1
            out.append(parts[1] if len(parts) > 1 else "")
            while j < n and expr[j] not in ";\n}":
                j += 1
            i = j
        elif c in "aic":
            j = i + 1
            if j < n and expr[j] == "\\":
                j += 1
            end = expr.find("\n", j)
            end = n if end < 0 else end
            out.append(expr[j:end].lstrip().replace("\\n", "\n"))
            i = end
        else:
            j = expr.find(";", i)
            k = expr.find("\n", i)
            ends = [x for x in (j, k) if x >= 0]
            i = min(ends) if ends else n
            i += 1
    return "\n".join(out)


_FALSEY = {"false", "no", "off", "0"}
_TRUTHY = {"true", "yes", "on", "1"}


def is_falsey(value: str | None) -> bool:
    return value is not None and value.strip().strip("'\"").lower() in _FALSEY


def is_truthy(value: str | None) -> bool:
    return value is not None and value.strip().strip("'\"").lower() in _TRUTHY


def option_values(cmd: Command, *names: str) -> Iterator[tuple[ShellWord, str | None]]:
    """(word, value) for each `--name value`, `--name=value` or bare `--name` (value None) in argv."""
    args = cmd.args
    for i, w in enumerate(args):
        v = w.value
        for name in names:
            if v == name:
                nxt = args[i + 1].value if i + 1 < len(args) else None
                yield w, nxt
            elif v.startswith(name + "="):
                yield w, v[len(name) + 1 :]


# --- trust registration and step order (the OS-store, multi-stage and fix code share these) ---------

def registers_trust(stage, cmd, facts) -> bool:
    """Does this command regenerate the system trust store?"""
    update = facts.update_command
    if update and cmd.name == update:
        return True
    if cmd.name == "update-ca-trust" and update == "update-ca-trust":
        return True
    if cmd.name == "trust" and any(w.value in ("anchor", "extract-compat") for w in cmd.args):
        return True
    # Installing the ca-certificates package runs its trigger, which regenerates the bundle, but only
    # when the package was absent before (alpinelinux/aports ca-certificates APKBUILD trigger; Debian update-ca-certificates(8)).
    if stage.image.get("ca_tool") is False and is_package_op(cmd, INSTALL_VERBS, facts.ca_package or "ca-certificates"):
        return True
    return False


CERT_EXTENSIONS = (".crt", ".pem", ".cer", ".der", ".cert", ".ca", ".ca-bundle", ".p7b", ".p7c")
STORE_DIR = "/etc/ssl/certs"


def looks_like_cert_name(path: str) -> bool:
    return path.lower().endswith(CERT_EXTENSIONS)


def under(path: str, directory: str) -> bool:
    directory = directory.rstrip("/") or "/"
    return path == directory or path.startswith(directory + "/") or directory == "/"


def step_key(stage, item) -> tuple[int, int]:
    """Execution order across a stage chain: the stage's index first (a chain is built base first),
    then the source offset of the op or command."""
    if isinstance(item, tuple):
        return stage.index, item[1].start
    return stage.index, item.command.start if item.command else item.inst.start


def chain_steps(stage) -> tuple:
    """(stage, item) for every file op and command of the stage and the stages it is built FROM, in order."""
    return memoized(stage, "chain_steps", lambda: tuple(
        (s, item) for s in reversed(stage.chain()) for _offset, item in ordered_steps(s)))


def is_conditional(item) -> bool:
    cmd = item[1] if isinstance(item, tuple) else item.command
    return bool(cmd is not None and cmd.conditional)


def registration_points(stage):
    """Keys of the commands in the stage chain that regenerate the trust store after a CA was
    placed in an anchor directory (a CA registered with the OS)."""
    facts = stage_facts(stage)
    points = []
    pending = False
    for s, item in chain_steps(stage):
        if isinstance(item, tuple):
            if pending and registers_trust(s, item[1], facts):
                points.append((s, item))
                pending = False
        elif anchor_target(s, item) and item.kind != "delete":
            pending = True
    return points


def anchor_ops(stage):
    """(stage, op) for every CA put into the family's anchor directories in the stage chain."""
    return [(s, item) for s, item in chain_steps(stage)
            if not isinstance(item, tuple) and item.kind != "delete" and anchor_target(s, item)]
