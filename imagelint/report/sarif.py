"""SARIF 2.1.0 for GitHub code scanning and reviewdog (`-f=sarif`).

GitHub reads rules[], regions, partialFingerprints and suppressions and ignores `fixes`;
reviewdog turns `fixes` into review suggestions. A suggestion must cover exactly the lines of its
comment, so each fix is one replacement of whole lines, and the result's region is widened to
those lines. Fixes sit inside each result (semgrep#5421: elsewhere, GitHub rejects the upload).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ..findings import Severity
from . import INFORMATION_URI, TOOL_NAME
from ._common import (
    SourceIndex,
    SourceIndexes,
    applicable_fix,
    finding_region,
    fingerprints,
    fix_line_span,
    fixed_span_text,
    help_uri,
    is_source_path,
    path_uri,
    relative_path,
)

if TYPE_CHECKING:
    from ..catalogue import RuleDoc
    from ..findings import Finding
    from . import Report

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
SRCROOT = "%SRCROOT%"
LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
# GitHub maps security-severity > 7 to high, 4-7 to medium, below 4 to low.
SECURITY_SEVERITY = {Severity.ERROR: "8.0", Severity.WARNING: "5.0", Severity.INFO: "2.0"}


def render(report: Report, *, color: bool = False) -> str:
    rules, rule_index = _rules(report)
    findings = report.sorted_findings(include_suppressed=True)
    hashes = fingerprints(report, findings)
    indexes = SourceIndexes(report.sources)
    results = [_result(report, f, rule_index[f.rule], hashes[id(f)], indexes.get(f.path)) for f in findings]

    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": TOOL_NAME,
                "version": report.tool_version,
                "semanticVersion": report.tool_version,
                "informationUri": INFORMATION_URI,
                "rules": rules,
            }
        },
        "invocations": [_invocation(report)],
        "columnKind": "unicodeCodePoints",
        "results": results,
    }
    run["originalUriBaseIds"] = {SRCROOT: {"description": {"text": "The directory imagelint was run from."}}}
    log = {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}
    # No indent: json's C encoder only runs without one, and SARIF logs can be large.
    return json.dumps(log, ensure_ascii=True, default=str, separators=(",", ":")) + "\n"


def _rules(report: Report) -> tuple[list[dict[str, Any]], dict[str, int]]:
    # Only the rules that fired (suppressed results too): the whole catalogue made a 230 KB log of
    # one finding. Ruff and Trivy do the same.
    ids = sorted({f.rule for f in report.findings})
    rules = [_rule(report, rule_id, report.rules.get(rule_id)) for rule_id in ids]
    return rules, {rule_id: i for i, rule_id in enumerate(ids)}


def _rule(report: Report, rule_id: str, doc: RuleDoc | None) -> dict[str, Any]:
    if doc is None:  # a finding whose rule is missing from the catalogue still gets a descriptor
        severity = max((f.severity for f in report.findings if f.rule == rule_id), default=Severity.WARNING)
        category = next((f.category for f in report.findings if f.rule == rule_id), "")
        return {
            "id": rule_id,
            "shortDescription": {"text": rule_id},
            "helpUri": help_uri(report, rule_id),
            "defaultConfiguration": {"level": LEVEL[severity]},
            "properties": _rule_properties(severity, category, None),
        }
    text, markdown = short_help(doc)
    return {
        "id": doc.id,
        "name": doc.name,
        "shortDescription": {"text": doc.title},
        "fullDescription": {"text": _at_most(doc.summary, FULL_DESCRIPTION_MAX)},
        "help": {"text": text, "markdown": markdown},
        "helpUri": doc.help_uri(),
        "defaultConfiguration": {"level": LEVEL[doc.severity]},
        "properties": _rule_properties(doc.severity, doc.category, doc.kind),
    }


# GitHub code scanning limits fullDescription.text to 1000 characters (github/docs,
# code-security/.../sarif-support.md, reportingDescriptor object).
FULL_DESCRIPTION_MAX = 1000


def _at_most(text: str, limit: int) -> str:
    """`text` cut at the last sentence end (else word) that fits, with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    end = max(cut.rfind(". "), cut.rfind("; "))
    if end < limit // 2:
        end = cut.rfind(" ")
    return cut[: end + 1].rstrip() + "…"


def short_help(doc: RuleDoc) -> tuple[str, str]:
    """(text, markdown) help GitHub code scanning shows under an alert: what the rule flags, why,
    the fix, and a link to the full page with its examples (`imagelint rules ID` prints it too)."""
    sections = doc.sections
    parts = [("", doc.summary)]
    for title, section in (("Why", "Why is this bad?"), ("Fix", "Fix")):
        first = " ".join(sections.get(section, "").split("\n\n")[0].split())
        if first:
            parts.append((title, first))
    more = f"Examples and references: {doc.help_uri()} (or `imagelint rules {doc.id}`)."
    text = "\n\n".join((f"{title}: {body}" if title else body) for title, body in parts) + "\n\n" + more
    markdown = "\n\n".join((f"**{title}:** {body}" if title else body) for title, body in parts)
    markdown += f"\n\n[Examples and references]({doc.help_uri()}) (or `imagelint rules {doc.id}`)."
    return text, markdown


def _rule_properties(severity: Severity, category: str, kind: str | None) -> dict[str, Any]:
    tags = ["security", "tls"]
    for tag in (category, kind):
        if tag and tag not in tags:
            tags.append(tag)
    return {"security-severity": SECURITY_SEVERITY[severity], "tags": tags, "precision": "high"}


def _result(report: Report, finding: Finding, rule_index: int, fingerprint: str, index: SourceIndex | None) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": finding.rule,
        "ruleIndex": rule_index,
        "level": LEVEL[finding.severity],
        "message": {"text": finding.message},
    }
    on_file = is_source_path(report, finding.path)
    fix = applicable_fix(finding, index) if (on_file and finding.suppression is None) else None
    region = _region_dict(finding, index if on_file else None)
    if fix is not None:
        span = fix_line_span(finding, index)
        deleted = _offsets_region(index, span.start, span.end)
        if span.end == index.content_end(span.last_line):
            # Absent endColumn means "to the end of the line" (SARIF 3.30.8): reviewdog then posts a
            # line-based suggestion, and no consumer has to agree with us on column units.
            del deleted["endColumn"]
        _widen_to_lines(region, deleted)
        fixes = [
            {
                "description": {"text": fix.title},
                "artifactChanges": [
                    {
                        "artifactLocation": file_location(finding.path),
                        "replacements": [
                            {
                                "deletedRegion": deleted,
                                "insertedContent": {"text": fixed_span_text(index, span, fix.edits)},
                            }
                        ],
                    }
                ],
            }
        ]
    location: dict[str, Any] = {"physicalLocation": {"artifactLocation": _artifact(report, finding, on_file), "region": region}}
    if not on_file:
        location["logicalLocations"] = [{"fullyQualifiedName": finding.path, "kind": "resource"}]
    result["locations"] = [location]
    result["partialFingerprints"] = {"primaryLocationLineHash": fingerprint}
    if fix is not None:
        result["fixes"] = fixes
    if finding.suppression is not None:
        suppression: dict[str, Any] = {"kind": finding.suppression.kind or "inSource", "status": "accepted"}
        if finding.suppression.justification:
            suppression["justification"] = finding.suppression.justification
        result["suppressions"] = [suppression]
    properties: dict[str, Any] = {"category": finding.category}
    if finding.stage is not None:
        properties["stage"] = finding.stage
    properties.update(finding.properties)
    result["properties"] = properties
    return result


def file_location(path: str) -> dict[str, Any]:
    """A path below the working directory is relative to %SRCROOT%; any other is a file: URI."""
    relative = relative_path(path)
    if os.path.isabs(relative):
        return {"uri": Path(relative).as_uri()}
    return {"uri": path_uri(relative), "uriBaseId": SRCROOT}


def _artifact(report: Report, finding: Finding, on_file: bool) -> dict[str, Any]:
    if on_file:
        return file_location(finding.path)
    # An image is no file in the repository; its reference is the artifact, the path inside it
    # goes into logicalLocations. ":" is escaped so "alpine:3.20" is not read as a URI scheme.
    return {"uri": quote(report.image or "image", safe="/@-._~")}


def _region_dict(finding: Finding, index: SourceIndex | None) -> dict[str, Any]:
    if index is None and finding.line <= 1 and finding.end_line <= 1 and finding.end_column <= 1:
        return {"startLine": max(finding.line, 1)}
    region = finding_region(finding, index)
    data = {"startLine": region.start_line, "startColumn": region.start_column, "endLine": region.end_line}
    if region.end_line > region.start_line or region.end_column > region.start_column:
        data["endColumn"] = region.end_column
    return data


def _offsets_region(index: SourceIndex, start: int, end: int) -> dict[str, int]:
    start_line, start_column = index.position(start)
    end_line, end_column = index.position(end)
    return {"startLine": start_line, "startColumn": start_column, "endLine": end_line, "endColumn": end_column}


def _widen_to_lines(region: dict[str, Any], span: dict[str, int]) -> None:
    """Grow the result region to the lines a fix replaces, keeping its own columns where it can."""
    if span["startLine"] < region["startLine"]:
        region["startLine"], region["startColumn"] = span["startLine"], span["startColumn"]
    if span["endLine"] > region["endLine"]:
        region["endLine"] = span["endLine"]
        region.pop("endColumn", None)
        if "endColumn" in span:
            region["endColumn"] = span["endColumn"]


def _invocation(report: Report) -> dict[str, Any]:
    notifications = []
    for error in report.errors:
        notification: dict[str, Any] = {"level": "error", "message": {"text": error.message}}
        physical: dict[str, Any] = {"artifactLocation": file_location(error.path)}
        if error.line:
            physical["region"] = {"startLine": error.line}
        notification["locations"] = [{"physicalLocation": physical}]
        notifications.append(notification)
    invocation: dict[str, Any] = {"executionSuccessful": not report.errors}
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    return invocation
