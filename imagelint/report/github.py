"""GitHub Actions workflow commands: `::error file=…,line=…,endLine=…,title=…::message`.

Escaping follows the runner (actions/toolkit command.ts): in the message %, CR and LF are
percent-encoded; in properties also ":" and ",".
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..findings import Severity
from ._common import SourceIndexes, finding_region, is_source_path, relative_path, rule_title

if TYPE_CHECKING:
    from . import Report

COMMAND = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render(report: Report, *, color: bool = False) -> str:
    lines = []
    indexes = SourceIndexes(report.sources)
    for finding in report.sorted_findings():
        properties: list[tuple[str, str]] = []
        message = finding.message
        if is_source_path(report, finding.path):
            region = finding_region(finding, indexes.get(finding.path))
            properties += [("file", relative_path(finding.path)), ("line", str(region.start_line)), ("endLine", str(region.end_line))]
            # GitHub honours columns only on single-line annotations.
            if region.end_line == region.start_line and region.end_column > region.start_column:
                properties += [("col", str(region.start_column)), ("endColumn", str(region.end_column))]
        else:
            where = f"{report.image}:{finding.path}" if report.image else finding.path
            message = f"{where}: {message}"
        properties.append(("title", f"{finding.rule} {rule_title(report, finding.rule)}"))
        lines.append(_command(COMMAND[finding.severity], properties, message))
    for error in report.errors:
        properties = [("file", relative_path(error.path))]
        if error.line:
            properties.append(("line", str(error.line)))
        properties.append(("title", "imagelint could not check this input"))
        lines.append(_command("error", properties, error.message))
    return "".join(line + "\n" for line in lines)


def _command(name: str, properties: list[tuple[str, str]], message: str) -> str:
    props = ",".join(f"{key}={escape_property(value)}" for key, value in properties)
    return f"::{name} {props}::{escape_data(message)}"
