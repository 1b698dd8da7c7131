"""Reporters: one pure module per output format, each with `render(report, *, color=False) -> str`.

Reporter modules are imported only when their format is asked for, so `imagelint lint` pays
for json/xml/hashlib only when it writes that format.
"""
from __future__ import annotations

import importlib
from ..records import record, field
from typing import TYPE_CHECKING

from ..findings import ImagelintError

if TYPE_CHECKING:
    from ..catalogue import RuleDoc
    from ..findings import Finding, InputError

TOOL_NAME = "imagelint"
INFORMATION_URI = "https://imagelint.dev"

# format name -> module under imagelint.report
FORMATS = {
    "text": "text",
    "json": "json_format",
    "sarif": "sarif",
    "github": "github",
    "gitlab": "gitlab",
    "junit": "junit",
    "rdjsonl": "rdjsonl",
    "checkstyle": "checkstyle",
    "github-suggestions": "github_suggestions",
}


@record
class Report:
    """Everything a reporter needs; reporters never read files or the catalogue themselves.

    `sources` maps a finding's path to the exact text the offsets of its fixes refer to.
    `image` is the scanned image reference when `artifact_kind == "image"`.
    """

    findings: list[Finding] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)
    rules: dict[str, RuleDoc] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    tool_version: str = "0.0.0"
    artifact_kind: str = "file"  # "file" | "image"
    files_checked: int = 0
    image: str | None = None

    def sorted_findings(self, *, include_suppressed: bool = False) -> list[Finding]:
        chosen = [f for f in self.findings if include_suppressed or f.suppression is None]
        return sorted(chosen, key=lambda f: f.sort_key())


def render(fmt: str, report: Report, color: bool = False) -> str:
    module_name = FORMATS.get(fmt)
    if module_name is None:
        choices = ", ".join(FORMATS)
        raise ImagelintError(f"unknown output format {fmt!r} (choose one of {choices})")
    module = importlib.import_module(f"{__name__}.{module_name}")
    return module.render(report, color=color)
