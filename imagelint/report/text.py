"""Human-readable report: `path:line:col: RULE severity message`, fix hints, a summary line.

Input errors only count in the summary; their lines go to stderr (the command prints them)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..findings import Applicability, Severity
from ._common import is_source_path, plural, severity_counts

if TYPE_CHECKING:
    from . import Report

_RESET = "\033[0m"
_BOLD = "\033[1m"
_DIM = "\033[2m"
_SEVERITY_COLOR = {Severity.ERROR: "\033[1;31m", Severity.WARNING: "\033[33m", Severity.INFO: "\033[36m"}


def render(report: Report, *, color: bool = False) -> str:
    def paint(text: str, code: str) -> str:
        return f"{code}{text}{_RESET}" if color else text

    findings = report.sorted_findings()
    lines: list[str] = []
    for finding in findings:
        where = finding.path
        if is_source_path(report, finding.path):
            where = f"{finding.path}:{finding.line}:{finding.column}"
        severity = paint(str(finding.severity), _SEVERITY_COLOR[finding.severity])
        lines.append(f"{paint(where, _BOLD)}: {paint(finding.rule, _BOLD)} {severity} {finding.message}")
        if finding.fix is not None:
            if finding.fix.applicability == Applicability.DISPLAY_ONLY:
                label = "hint"
            else:
                label = f"fix ({finding.fix.applicability})"
            lines.append(paint(f"  {label}: {finding.fix.title}", _DIM))
        layer = finding.properties.get("layer")
        if isinstance(layer, dict) and "index" in layer:
            # Image findings: which layer brought the file in, and the history step that made it.
            digest = str(layer.get("digest") or "")[:19]
            created_by = str(finding.properties.get("created_by") or "").strip()
            if len(created_by) > 100:
                created_by = created_by[:99] + "…"
            lines.append(paint(f"  layer {layer['index']} ({digest}): {created_by}".rstrip(": "), _DIM))
    # Input errors are not part of the report: the command prints each one on stderr.
    lines.append(_summary(report, findings))
    return "\n".join(lines) + "\n"


def _summary(report: Report, findings: list) -> str:
    if report.artifact_kind == "image":
        scope = f"image {report.image}" if report.image else "the image"
    else:
        scope = plural(report.files_checked, "file")
    unreadable = ""
    if report.errors:
        unreadable = f"; {plural(len(report.errors), 'input')} could not be checked"
    if not findings:
        return f"No problems found in {scope}{unreadable}."

    counts = severity_counts(findings)
    by_severity = ", ".join(
        plural(counts[severity], str(severity), "info" if severity == Severity.INFO else None)
        for severity in sorted(Severity, reverse=True)
        if counts[severity]
    )
    if report.artifact_kind != "image":
        scope = plural(len({f.path for f in findings}), "file")
    text = f"Found {plural(len(findings), 'problem')} ({by_severity}) in {scope}{unreadable}"

    # Only fixes with edits in a source file can be applied by `imagelint fix`.
    fixable = [f.fix for f in findings if f.fix and f.fix.edits and f.path in report.sources]
    safe = sum(1 for fix in fixable if fix.applicability == Applicability.SAFE)
    unsafe = sum(1 for fix in fixable if fix.applicability == Applicability.UNSAFE)
    if safe:
        text += f"; {safe} fixable with `imagelint fix`"
        if unsafe:
            text += f" ({unsafe} more with --unsafe-fixes)"
    elif unsafe:
        text += f"; {unsafe} fixable with `imagelint fix --unsafe-fixes`"
    return text + "."
