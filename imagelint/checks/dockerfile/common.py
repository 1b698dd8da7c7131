"""Facts several Dockerfile checks share, derived from the model (never from raw text)."""
from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Iterator

from ...dockerfile.model import DockerfileModel, FileOp, RunStep, Stage, family_facts
from ...dockerfile.parse import Instruction
from ...dockerfile.shell import Command, ShellWord

PACKAGE_MANAGER_FAMILY = {
    "apt-get": "debian", "apt": "debian", "dpkg": "debian", "aptitude": "debian",
    "apk": "alpine",
    "yum": "rhel", "dnf": "rhel", "microdnf": "rhel", "tdnf": "rhel",
    "zypper": "suse",
    "pacman": "arch",
}
INSTALL_VERBS = {"install", "add", "reinstall"}
REMOVE_VERBS = {"remove", "purge", "del", "erase", "autoremove"}


def stage_family(stage: Stage) -> str | None:
    """The base image's family; else the family the stage's own package manager proves."""
    for s in stage.chain():
        if s.family:
            return s.family
    for s in stage.chain():
        for _run, cmd in s.commands():
            fam = PACKAGE_MANAGER_FAMILY.get(cmd.name)
            if fam:
                return fam
    return None


def stage_facts(stage: Stage) -> dict:
    return family_facts(stage_family(stage))


@dataclass
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

    @property
    def persistent(self) -> bool:
        return self.kind == "ENV"

    @property
    def scope(self) -> str:
        return {
            "ENV": "set by ENV, it persists into every process of the image",
            "ARG": "set by ARG, it applies to every RUN of the stage at build time",
            "RUN": "set for one command at build time",
            "export": "exported for the rest of this RUN only",
        }[self.kind]


def env_assignments(model: DockerfileModel) -> Iterator[EnvAssignment]:
    for stage in model.stages:
        for setting in stage.env_settings:
            yield EnvAssignment(setting.name, setting.value, setting.kind, stage, setting.inst, setting.start, setting.end)
        for run in stage.runs:
            for name, word in run.script.exports.items():
                start = word.start - len(name) - 1 if word.raw else word.start
                yield EnvAssignment(name, word.value if word.known else None, "export", stage, run.inst, start, word.end)
            for cmd in run.commands:
                for name, word in cmd.assignments.items():
                    yield EnvAssignment(name, word.value if word.known else None, "RUN", stage, run.inst,
                                        word.start - len(name) - 1 if word.raw else word.start, word.end, cmd)


def anchor_target(stage: Stage, op: FileOp) -> list[str]:
    """Paths an op puts into the family's CA anchor directories."""
    facts = stage_facts(stage)
    dirs = facts.get("anchor_dirs", [])
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


def flag_words(cmd: Command) -> list[ShellWord]:
    return [w for w in cmd.args if w.value.startswith("-")]


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
