"""JUnit XML: one testsuite per checked file, one failing testcase per rule and location,
inputs that could not be checked as <error>; files without problems pass."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from ._common import is_source_path, relative_path, rule_title

if TYPE_CHECKING:
    from . import Report

# Characters XML 1.0 cannot carry at all, even escaped.
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}", text)


def render(report: Report, *, color: bool = False) -> str:
    suites: dict[str, list[ET.Element]] = {}
    counts: dict[str, list[int]] = {}  # suite -> [failures, errors]

    def suite(name: str) -> list[ET.Element]:
        counts.setdefault(name, [0, 0])
        return suites.setdefault(name, [])

    for path in sorted(report.sources):
        suite(relative_path(path))
    for finding in report.sorted_findings():
        on_file = is_source_path(report, finding.path)
        name = relative_path(finding.path) if on_file else (report.image or "image")
        where = f"{relative_path(finding.path)}:{finding.line}:{finding.column}" if on_file else finding.path
        case = ET.Element(
            "testcase",
            name=xml_text(f"{finding.rule} {where}"),
            classname=xml_text(name),
        )
        failure = ET.SubElement(
            case,
            "failure",
            message=xml_text(finding.message),
            type=xml_text(f"{finding.rule} {rule_title(report, finding.rule)}"),
        )
        details = [f"{where}: {finding.rule} {finding.severity} {finding.message}", f"category: {finding.category}"]
        if finding.stage is not None:
            details.append(f"stage: {finding.stage}")
        if finding.fix is not None:
            details.append(f"fix ({finding.fix.applicability}): {finding.fix.title}")
        failure.text = xml_text("\n".join(details))
        suite(name).append(case)
        counts[name][0] += 1
    for error in report.errors:
        name = relative_path(error.path)
        case = ET.Element("testcase", name=xml_text(f"{name} could not be checked"), classname=xml_text(name))
        ET.SubElement(case, "error", message=xml_text(error.message), type="InputError").text = xml_text(str(error))
        suite(name).append(case)
        counts[name][1] += 1

    root = ET.Element("testsuites", name="imagelint")
    totals = [0, 0, 0]
    for name in sorted(suites):
        cases = suites[name]
        if not cases:  # a clean file: one passing case, so CI shows it was checked
            cases = [ET.Element("testcase", name=xml_text(f"{name} has no problems"), classname=xml_text(name))]
        failures, errors = counts[name]
        element = ET.SubElement(
            root, "testsuite", name=xml_text(name), tests=str(len(cases)), failures=str(failures), errors=str(errors), skipped="0"
        )
        element.extend(cases)
        totals[0] += len(cases)
        totals[1] += failures
        totals[2] += errors
    root.set("tests", str(totals[0]))
    root.set("failures", str(totals[1]))
    root.set("errors", str(totals[2]))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
