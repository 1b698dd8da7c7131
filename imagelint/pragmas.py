"""Inline suppression comments, at instruction, stage and file level.

    # imagelint ignore=IL110,IL111 reason...     the next instruction
    # imagelint stage ignore=IL110 reason...     the whole stage it appears in
    # imagelint global ignore=IL110 reason...    the whole file

An absence finding (e.g. "CA never registered") is anchored on an instruction of its stage, so a
stage pragma suppresses it too.
"""
from __future__ import annotations

import re
from .records import record

from .dockerfile.parse import ParsedDockerfile

_PRAGMA = re.compile(r"^imagelint\s+(?:(stage|global|file)\s+)?ignore\s*=\s*([A-Za-z0-9_,\s]+?)(?:\s+(.*))?$", re.I)


@record
class Pragma:
    scope: str  # "instruction" | "stage" | "file"
    rules: set[str]
    reason: str
    line: int


def _parse(comment: str, line: int) -> Pragma | None:
    m = _PRAGMA.match(comment.strip())
    if not m:
        return None
    scope = {"stage": "stage", "global": "file", "file": "file"}.get((m.group(1) or "").lower(), "instruction")
    ids = {r.strip().upper() for r in re.split(r"[,\s]+", m.group(2)) if r.strip()}
    return Pragma(scope, ids, (m.group(3) or "").strip(), line)


class Suppressor:
    def __init__(self, parsed: ParsedDockerfile):
        self.file: list[Pragma] = []
        self.stage_ranges: list[tuple[int, int, list[Pragma]]] = []
        self.instruction: dict[int, list[Pragma]] = {}  # instruction start line -> pragmas
        self.inst_ranges: list[tuple[int, int]] = []
        froms = [i.line for i in parsed.instructions if i.keyword == "FROM"]
        bounds = []
        for k, start in enumerate(froms):
            end = froms[k + 1] - 1 if k + 1 < len(froms) else 10**9
            bounds.append([start, end, []])
        for line, text in parsed.comments:
            pragma = _parse(text, line)
            if pragma is None:
                continue
            if pragma.scope == "file":
                self.file.append(pragma)
            elif pragma.scope == "stage":
                target = next((b for b in bounds if b[0] <= line <= b[1]), None)
                if target is None:
                    # Above the FROM it belongs to.
                    target = next((b for b in bounds if b[0] > line), None)
                if target is not None:
                    target[2].append(pragma)
        self.stage_ranges = [tuple(b) for b in bounds]  # type: ignore[misc]
        for inst in parsed.instructions:
            self.inst_ranges.append((inst.line, inst.end_line))
            for offset, text in enumerate(reversed(inst.comments)):
                pragma = _parse(text, inst.line - 1 - offset)
                if pragma and pragma.scope == "instruction":
                    self.instruction.setdefault(inst.line, []).append(pragma)

    def match(self, rule: str, line: int) -> Pragma | None:
        for pragma in self.file:
            if rule in pragma.rules:
                return pragma
        for start, end, pragmas in self.stage_ranges:
            if start <= line <= end:
                for pragma in pragmas:
                    if rule in pragma.rules:
                        return pragma
        for start, end in self.inst_ranges:
            if start <= line <= end:
                for pragma in self.instruction.get(start, []):
                    if rule in pragma.rules:
                        return pragma
                break
        return None
