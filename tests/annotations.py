"""Semgrep-style annotated fixtures: comments mark where a rule must and must not fire.

    # ruleid: IL110          the next instruction (or the one this comment sits in) must get IL110
    # ok: IL110              ... must not get IL110
    # todoruleid: IL110      a known false negative (documented, not enforced)
    # todook: IL110          a known false positive (documented, not enforced)
    # info: IL110            ... must get IL110, at info severity only (no error or warning)
Several ids may be given, separated by commas.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from imagelint.dockerfile.parse import parse_dockerfile

_ANNOTATION = re.compile(r"^\s*#\s*(ruleid|ok|todoruleid|todook|info)\s*:\s*([A-Z0-9,\s]+?)\s*$")


@dataclass
class Expectation:
    kind: str  # ruleid | ok | todoruleid | todook
    rule: str
    comment_line: int
    start_line: int  # the instruction the annotation applies to
    end_line: int


def expectations(text: str, path: str = "Dockerfile") -> list[Expectation]:
    parsed = parse_dockerfile(text, path)
    spans = [(i.line, i.end_line) for i in parsed.instructions]
    out = []
    for lineno, line in enumerate(text.splitlines(), 1):
        m = _ANNOTATION.match(line)
        if not m:
            continue
        span = next(((s, e) for s, e in spans if e >= lineno), None)
        if span is None:
            raise AssertionError(f"{path}:{lineno}: annotation with no instruction after it")
        for rule in re.split(r"[,\s]+", m.group(2).strip()):
            if rule:
                out.append(Expectation(m.group(1), rule, lineno, span[0], span[1]))
    return out


def annotated_files(root: Path) -> list[Path]:
    from imagelint.commands.lint import is_dockerfile_name

    return sorted(p for p in root.rglob("*") if p.is_file() and is_dockerfile_name(p.name)
                  and re.search(r"^\s*#\s*(ruleid|ok|todoruleid|todook|info)\s*:", p.read_text(encoding="utf-8", errors="replace"), re.M) is not None
                  if True) if root.exists() else []


def check_expectations(findings, exps: list[Expectation], where: str) -> list[str]:
    problems = []
    for exp in exps:
        hits = [f for f in findings if f.rule == exp.rule and exp.start_line <= f.line <= exp.end_line]
        if exp.kind == "ruleid" and not hits:
            problems.append(f"{where}:{exp.comment_line}: expected {exp.rule} on lines {exp.start_line}-{exp.end_line}, got none")
        if exp.kind == "info" and (not hits or any(str(f.severity).lower() != "info" for f in hits)):
            problems.append(f"{where}:{exp.comment_line}: expected {exp.rule} at info severity only on lines "
                            f"{exp.start_line}-{exp.end_line}, got {[str(f.severity) for f in hits]}")
        if exp.kind == "ok" and hits:
            problems.append(f"{where}:{exp.comment_line}: {exp.rule} must not fire on lines {exp.start_line}-{exp.end_line}: {hits[0].message}")
    return problems
