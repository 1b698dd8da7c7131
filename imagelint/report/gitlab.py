"""GitLab Code Quality report (a JSON array in the CodeClimate subset GitLab reads).

The fingerprint is an MD5 (as GitLab's examples use) of path, rule and the line-shift-stable
primary fingerprint, so an issue keeps its identity between pipelines.
"""
from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from ..findings import Severity
from ._common import fingerprints, is_source_path, relative_path, to_utf8

if TYPE_CHECKING:
    from . import Report

SEVERITY = {Severity.ERROR: "critical", Severity.WARNING: "major", Severity.INFO: "info"}


def render(report: Report, *, color: bool = False) -> str:
    findings = report.sorted_findings()
    hashes = fingerprints(report, findings)
    issues: list[dict[str, Any]] = []
    for finding in findings:
        on_file = is_source_path(report, finding.path)
        path = relative_path(finding.path) if on_file else (report.image or finding.path)
        description = finding.message if on_file else f"{finding.path}: {finding.message}"
        begin = max(finding.line, 1) if on_file else 1
        issues.append(
            {
                "type": "issue",
                "check_name": finding.rule,
                "description": description,
                "categories": ["Security"],
                "severity": SEVERITY[finding.severity],
                "fingerprint": _md5(f"{path}\0{finding.rule}\0{hashes[id(finding)]}"),
                "location": {"path": path, "lines": {"begin": begin, "end": max(finding.end_line, begin) if on_file else begin}},
            }
        )
    for error in report.errors:
        path = relative_path(error.path)
        issues.append(
            {
                "type": "issue",
                "check_name": "imagelint-input-error",
                "description": f"imagelint could not check this input: {error.message}",
                "categories": ["Bug Risk"],
                "severity": "critical",
                "fingerprint": _md5(f"{path}\0input-error\0{error.message}"),
                "location": {"path": path, "lines": {"begin": error.line or 1, "end": error.line or 1}},
            }
        )
    return json.dumps(issues, indent=2, ensure_ascii=True) + "\n"


def _md5(text: str) -> str:
    # Not a security use: GitLab only needs a stable identifier.
    return hashlib.md5(to_utf8(text), usedforsecurity=False).hexdigest()
