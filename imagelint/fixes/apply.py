"""Apply fixes to one Dockerfile text: non-overlapping fixes together, then re-lint to a fixed point.

As Ruff does: a pass applies every fix at or above the applicability threshold whose edits do not
overlap (or touch) an edit already chosen in the pass; the text is linted again and the next pass
picks up what was left, at most `max_passes` times. A pass whose result would not parse is retried
fix by fix and a fix that breaks the file is dropped, so the result always parses.
"""
from __future__ import annotations

from collections import Counter
from typing import Callable
from ..records import record, field

from ..config import Config
from ..dockerfile.model import build_model
from ..dockerfile.parse import parse_dockerfile
from ..findings import Applicability, Edit, Finding, ImagelintError

MAX_PASSES = 10


@record
class FileFixResult:
    path: str
    original: str
    fixed: str
    applied: list[Finding] = field(default_factory=list)  # findings whose fix went in (as first seen)
    unsafe_available: list[Finding] = field(default_factory=list)  # left: needs --unsafe-fixes
    display_only: list[Finding] = field(default_factory=list)  # guidance, never applied
    remaining: list[Finding] = field(default_factory=list)  # every unsuppressed finding after fixing
    broken: list[Finding] = field(default_factory=list)  # fixes dropped because the result would not parse
    initial: list[Finding] = field(default_factory=list)  # the findings of the original text
    passes: int = 0

    @property
    def changed(self) -> bool:
        return self.fixed != self.original


def threshold(unsafe: bool) -> Applicability:
    return Applicability.UNSAFE if unsafe else Applicability.SAFE


def edits_valid(edits: list[Edit], length: int) -> bool:
    ordered = sorted(edits, key=lambda e: (e.start, e.end))
    if not ordered or ordered[0].start < 0 or any(e.end < e.start or e.end > length for e in ordered):
        return False
    return all(b.start >= a.end and not (b.start == a.end == a.start) for a, b in zip(ordered, ordered[1:]))


def _conflicts(edit: Edit, taken: list[Edit]) -> bool:
    # Touching counts as overlapping: two insertions at one point, or a deletion next to a
    # whole-instruction replacement, go in separate passes so each sees the other's result.
    return any(edit.start <= t.end and t.start <= edit.end for t in taken)


def choose(findings: list[Finding], level: Applicability, length: int) -> list[Finding]:
    """The findings whose fixes apply together in one pass, in source order."""
    chosen: list[Finding] = []
    taken: list[Edit] = []
    candidates = [f for f in findings if f.suppression is None and f.fix is not None and f.fix.edits
                  and f.fix.applicability >= level and f.fix.applicability > Applicability.DISPLAY_ONLY]
    # Safe fixes go first, on their own: they can change what an unsafe fix should do (a CA that is
    # now registered needs no --cacert).
    if any(f.fix.applicability == Applicability.SAFE for f in candidates):
        candidates = [f for f in candidates if f.fix.applicability == Applicability.SAFE]
    candidates.sort(key=lambda f: (min(e.start for e in f.fix.edits), f.rule))
    for finding in candidates:
        edits = finding.fix.edits
        if not edits_valid(edits, length):
            continue
        if any(_conflicts(e, taken) for e in edits):
            continue
        chosen.append(finding)
        taken.extend(edits)
    return chosen


def apply_edits(text: str, edits: list[Edit]) -> str:
    out = []
    pos = 0
    for edit in sorted(edits, key=lambda e: (e.start, e.end)):
        out.append(text[pos:edit.start])
        out.append(edit.text)
        pos = edit.end
    out.append(text[pos:])
    return "".join(out)


def parses(text: str, path: str, build_args: dict[str, str] | None = None, target: str | None = None) -> str | None:
    """None when imagelint's parser and model accept `text`, else the error message."""
    try:
        model = build_model(parse_dockerfile(text, path), build_args or {}, target)
    except ImagelintError as exc:
        return f"line {exc.line}: {exc}" if exc.line else str(exc)
    if model.unknown_instructions:
        return f"unknown instruction {model.unknown_instructions[0].original_keyword}"
    return None


def _key(f: Finding) -> tuple:
    return (f.rule, f.message)


Linter = Callable[[str, str, object, "Config | None"], tuple[list[Finding], object]]


def fix_text(text: str, path: str, options, lint_text: Linter, config: Config | None = None, unsafe: bool = False,
             max_passes: int = MAX_PASSES) -> FileFixResult:
    """Lint and fix `text`, re-linting with `lint_text` after each pass until nothing changes
    (raises ImagelintError when the input itself cannot be linted)."""
    level = threshold(unsafe)
    result = FileFixResult(path, text, text)
    seen = {text}
    current = text
    blocked: set[tuple] = set()  # fixes that did not remove their finding: never re-applied
    findings, _ = lint_text(current, path, options, config)
    result.initial = findings
    for _ in range(max_passes):
        chosen = [f for f in choose([f for f in findings if _key(f) not in blocked], level, len(current))]
        if not chosen:
            break
        new = apply_edits(current, [e for f in chosen for e in f.fix.edits])
        if parses(new, path, options.build_args, options.target) is not None:
            # One of the fixes breaks the file: keep those that do not, drop the rest.
            good: list[Finding] = []
            for finding in chosen:
                trial = apply_edits(current, [e for f in good + [finding] for e in f.fix.edits])
                if parses(trial, path, options.build_args, options.target) is None:
                    good.append(finding)
                else:
                    result.broken.append(finding)
            chosen = good
            if not chosen:
                break
            new = apply_edits(current, [e for f in chosen for e in f.fix.edits])
        if new in seen:
            break  # a cycle: fixes that undo each other
        seen.add(new)
        result.applied.extend(chosen)
        result.passes += 1
        before = Counter(_key(f) for f in findings if f.suppression is None)
        current = new
        findings, _ = lint_text(current, path, options, config)
        after = Counter(_key(f) for f in findings if f.suppression is None)
        for f in chosen:
            if after[_key(f)] >= before[_key(f)]:
                blocked.add(_key(f))
    result.fixed = current
    active = [f for f in findings if f.suppression is None]
    result.remaining = active
    broken = {(_key(f)) for f in result.broken}
    for f in active:
        if f.fix is None or not f.fix.edits or _key(f) in broken:
            if f.fix is not None and f.fix.applicability == Applicability.DISPLAY_ONLY:
                result.display_only.append(f)
            continue
        if f.fix.applicability == Applicability.DISPLAY_ONLY:
            result.display_only.append(f)
        elif f.fix.applicability < level:
            result.unsafe_available.append(f)
    return result
