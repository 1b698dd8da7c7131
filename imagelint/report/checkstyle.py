"""Checkstyle XML, read by reviewdog (`-f=checkstyle`), Jenkins warnings-ng and many CI tools."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from ._common import is_source_path, relative_path
from .junit import xml_text

if TYPE_CHECKING:
    from . import Report


def render(report: Report, *, color: bool = False) -> str:
    root = ET.Element("checkstyle", version="4.3")
    files: dict[str, ET.Element] = {}

    def file_element(name: str) -> ET.Element:
        if name not in files:
            files[name] = ET.SubElement(root, "file", name=xml_text(name))
        return files[name]

    for finding in report.sorted_findings():
        on_file = is_source_path(report, finding.path)
        name = relative_path(finding.path) if on_file else (report.image or finding.path)
        attributes = {}
        if on_file:
            attributes = {"line": str(finding.line), "column": str(finding.column)}
        message = finding.message if on_file else f"{finding.path}: {finding.message}"
        ET.SubElement(
            file_element(name),
            "error",
            severity=str(finding.severity),
            message=xml_text(message),
            source=f"imagelint.{finding.rule}",
            **attributes,
        )
    for error in report.errors:
        attributes = {"line": str(error.line)} if error.line else {}
        ET.SubElement(
            file_element(relative_path(error.path)),
            "error",
            severity="error",
            message=xml_text(error.message),
            source="imagelint.input-error",
            **attributes,
        )
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
