"""The stable, versioned JSON contract (version 1).

Keys never change meaning within a version. Optional keys ("properties" on findings, "line" on
errors) appear only when they carry a value; consumers must ignore keys they do not know.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from . import TOOL_NAME

if TYPE_CHECKING:
    from ..findings import Finding, InputError
    from . import Report

CONTRACT_VERSION = 1


def finding_dict(finding: Finding) -> dict[str, Any]:
    data: dict[str, Any] = {
        "rule": finding.rule,
        "category": finding.category,
        "severity": str(finding.severity),
        "path": finding.path,
        "line": finding.line,
        "end_line": finding.end_line,
        "column": finding.column,
        "end_column": finding.end_column,
        "stage": finding.stage,
        "message": finding.message,
        "fix": finding.fix.to_dict() if finding.fix is not None else None,
    }
    if finding.properties:
        data["properties"] = finding.properties
    return data


def error_dict(error: InputError) -> dict[str, Any]:
    data: dict[str, Any] = {"path": error.path, "message": error.message}
    if error.line:
        data["line"] = error.line
    return data


def render(report: Report, *, color: bool = False) -> str:
    document = {
        "version": CONTRACT_VERSION,
        "tool": {"name": TOOL_NAME, "version": report.tool_version},
        "findings": [finding_dict(f) for f in report.sorted_findings()],
        "errors": [error_dict(e) for e in report.errors],
    }
    # ASCII escapes: the output survives any console encoding and file names that are not UTF-8;
    # default=str: properties may hold paths or enums, and the contract must never crash on them.
    return json.dumps(document, indent=2, ensure_ascii=True, default=str) + "\n"
