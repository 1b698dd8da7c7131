"""The one check runner for every input kind (Dockerfile, image, and the kinds to come).

It runs the registered checks of a kind over one subject, skips checks whose rules are all
disabled, keeps one hit per (rule, place, message), and turns a crashing check into an internal
error (exit code 3) while the other checks still run. Policy (selection, severity overrides,
pragmas) stays outside the checks: `enabled` decides selection, `to_findings` applies the rest.
"""
from __future__ import annotations

from ..records import record, field
from typing import Callable

from ..catalogue import load_catalogue
from ..findings import Finding, ImagelintError, Severity
from .registry import Hit, checks_for, to_finding


@record
class CheckRun:
    hits: list[Hit] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # "internal error in check IL123: ..." (a bug)


def run_checks(kind: str, args: tuple, enabled: Callable[[str], bool]) -> CheckRun:
    """Every enabled check of `kind`, called as check(*args)."""
    run = CheckRun()
    seen: set[tuple] = set()
    answers: dict[str, bool] = {}  # `enabled` matches prefixes and path globs: ask once per rule

    def on(rule: str) -> bool:
        answer = answers.get(rule)
        if answer is None:
            answer = answers[rule] = enabled(rule)
        return answer

    for check in checks_for(kind):
        ids = getattr(check, "rule_ids", ())
        if ids and not any(on(rid) for rid in ids):
            continue  # skip the work of rules nobody asked for
        try:
            found = list(check(*args))
        except ImagelintError:
            raise  # bad input found while checking: the whole input is reported, not one rule
        except Exception as exc:  # noqa: BLE001 - a bug in one check must not hide the others' findings
            run.errors.append(f"internal error in check {'/'.join(ids)}: {type(exc).__name__}: {exc} "
                              "(please report this)")
            continue
        for hit in found:
            if not on(hit.rule):
                continue
            key = (hit.rule, hit.line, hit.column, hit.message, hit.properties.get("image_path"))
            if key not in seen:
                seen.add(key)
                run.hits.append(hit)
    return run


def to_findings(hits: list[Hit], path_of: Callable[[Hit], str],
                severity_overrides: dict[str, Severity] | None = None) -> list[Finding]:
    """Findings with the catalogue's metadata; configured severities win over the check's."""
    docs = load_catalogue()
    findings = []
    for hit in hits:
        finding = to_finding(hit, path_of(hit), docs)
        if severity_overrides and hit.rule in severity_overrides:
            finding.severity = severity_overrides[hit.rule]
        findings.append(finding)
    return findings
