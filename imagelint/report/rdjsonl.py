"""reviewdog Diagnostic Format, one Diagnostic per line (`reviewdog -f=rdjsonl`).

Columns are 1-based UTF-8 byte counts. reviewdog's GitHub reporter posts a suggestion only when
its line range equals the comment's, so a fix becomes one suggestion replacing whole lines
(column 1 to the end of the last line's content), and the diagnostic gets exactly that range.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ..findings import Severity
from . import INFORMATION_URI, TOOL_NAME
from ._common import (
    SourceIndex,
    SourceIndexes,
    applicable_fix,
    finding_region,
    fix_line_span,
    fixed_span_text,
    help_uri,
    is_source_path,
    relative_path,
)

if TYPE_CHECKING:
    from ..findings import Finding
    from . import Report

SEVERITY = {Severity.ERROR: "ERROR", Severity.WARNING: "WARNING", Severity.INFO: "INFO"}
SOURCE = {"name": TOOL_NAME, "url": INFORMATION_URI}


def render(report: Report, *, color: bool = False) -> str:
    indexes = SourceIndexes(report.sources)
    lines = [
        json.dumps(diagnostic(report, f, indexes.get(f.path)), ensure_ascii=True, default=str)
        for f in report.sorted_findings()
    ]
    for error in report.errors:
        location: dict[str, Any] = {"path": relative_path(error.path)}
        if error.line:
            location["range"] = {"start": {"line": error.line}}
        lines.append(json.dumps({"message": f"error: {error.message}", "location": location, "severity": "ERROR", "source": SOURCE}, ensure_ascii=True))
    return "".join(line + "\n" for line in lines)


def diagnostic(report: Report, finding: Finding, index: SourceIndex | None) -> dict[str, Any]:
    on_file = is_source_path(report, finding.path)
    location: dict[str, Any] = {"path": relative_path(finding.path)}
    data: dict[str, Any] = {
        "message": finding.message,
        "location": location,
        "severity": SEVERITY[finding.severity],
        "source": SOURCE,
        "code": {"value": finding.rule, "url": help_uri(report, finding.rule)},
    }
    if not on_file:
        return data  # a path inside an image: no lines to comment on

    fix = applicable_fix(finding, index)
    if fix is not None:
        span = fix_line_span(finding, index)
        suggestion_range = _byte_range(index, span.start, span.end)
        location["range"] = suggestion_range
        data["suggestions"] = [{"range": dict(suggestion_range), "text": fixed_span_text(index, span, fix.edits)}]
    else:
        region = finding_region(finding, index)
        if index is None:
            start = {"line": region.start_line, "column": region.start_column}
            end = {"line": region.end_line, "column": region.end_column}
        else:
            start = {"line": region.start_line, "column": index.byte_column(region.start_line, region.start_column)}
            end = {"line": region.end_line, "column": index.byte_column(region.end_line, region.end_column)}
        location["range"] = {"start": start, "end": end}
    return data


def _byte_range(index: SourceIndex, start: int, end: int) -> dict[str, Any]:
    start_line, start_column = index.byte_position(start)
    end_line, end_column = index.byte_position(end)
    return {"start": {"line": start_line, "column": start_column}, "end": {"line": end_line, "column": end_column}}
