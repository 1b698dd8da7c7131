"""Shared helpers for reporters: offsets to line/column, whole-line spans, paths and fingerprints."""
from __future__ import annotations

import os
import re
from bisect import bisect_right
from ..records import record
from typing import TYPE_CHECKING, Iterable
from urllib.parse import quote

from ..findings import Applicability, Edit, Severity

if TYPE_CHECKING:
    from ..findings import Finding
    from . import Report

RULES_URI = "https://imagelint.dev/rules/"

# The Dockerfile naming conventions `imagelint lint` discovers.
_DOCKERFILE_NAME = re.compile(r"^(Dockerfile|Containerfile)(\..+)?$|.+\.(Dockerfile|dockerfile)$")


class SourceIndex:
    """Line/column arithmetic over one source text.

    Offsets are Python string indices (code points). Lines end at "\\n"; a "\\r" before it
    belongs to the terminator, not to the line's content.
    """

    def __init__(self, text: str):
        self.text = text
        self.line_starts = [0]
        for match in re.finditer("\n", text):
            self.line_starts.append(match.end())

    @property
    def line_count(self) -> int:
        return len(self.line_starts)

    def line_of(self, offset: int) -> int:
        offset = max(0, min(offset, len(self.text)))
        return bisect_right(self.line_starts, offset)

    def line_start(self, line: int) -> int:
        return self.line_starts[self._clamp(line) - 1]

    def content_end(self, line: int) -> int:
        """Offset just past the last content character of `line` (before "\\r\\n" / "\\n")."""
        line = self._clamp(line)
        end = self.line_starts[line] - 1 if line < self.line_count else len(self.text)
        if end > self.line_start(line) and self.text[end - 1] == "\r":
            end -= 1
        return end

    def line_text(self, line: int) -> str:
        return self.text[self.line_start(line) : self.content_end(line)]

    def position(self, offset: int) -> tuple[int, int]:
        """1-based (line, code-point column) of an offset."""
        offset = max(0, min(offset, len(self.text)))
        line = self.line_of(offset)
        return line, offset - self.line_starts[line - 1] + 1

    def byte_position(self, offset: int) -> tuple[int, int]:
        """1-based (line, UTF-8 byte column) of an offset, as reviewdog counts."""
        line, column = self.position(offset)
        return line, self.byte_column(line, column)

    def byte_column(self, line: int, column: int) -> int:
        start = self.line_start(line)
        prefix = self.text[start : start + max(column - 1, 0)]
        return utf8_len(prefix) + 1

    def offset(self, line: int, column: int) -> int:
        """Offset of a 1-based (line, code-point column); columns past the content clamp to it."""
        start = self.line_start(line)
        return min(start + max(column - 1, 0), self.content_end(line))

    def _clamp(self, line: int) -> int:
        return max(1, min(line, self.line_count))


class SourceIndexes(dict):
    """path -> SourceIndex, built on first use so each source is indexed once per report."""

    def __init__(self, sources: dict[str, str]):
        super().__init__()
        self._sources = sources

    def get(self, path: str, default=None):  # type: ignore[override]
        if path not in self._sources:
            return default
        if not dict.__contains__(self, path):
            self[path] = SourceIndex(self._sources[path])
        return dict.__getitem__(self, path)


def to_utf8(text: str) -> bytes:
    try:
        # surrogateescape restores the original bytes of input that was not valid UTF-8
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace")


def utf8_len(text: str) -> int:
    return len(to_utf8(text))


def apply_edits(text: str, edits: Iterable[Edit]) -> str:
    """Apply non-overlapping edits (offsets into `text`); later edits first keeps offsets valid."""
    ordered = sorted(edits, key=lambda e: (e.start, e.end))
    for earlier, later in zip(ordered, ordered[1:]):
        if later.start < earlier.end:
            raise ValueError(f"overlapping edits at offsets {earlier.start}-{earlier.end} and {later.start}-{later.end}")
    for edit in reversed(ordered):
        text = text[: edit.start] + edit.text + text[edit.end :]
    return text


@record
class Region:
    """A 1-based region; end_column is exclusive. Columns are code points."""

    start_line: int
    start_column: int
    end_line: int
    end_column: int


def finding_region(finding: Finding, index: SourceIndex | None) -> Region:
    """The finding's own region, widened to whole line content when it came without columns."""
    start_line = max(finding.line, 1)
    end_line = max(finding.end_line, start_line)
    start_column = max(finding.column, 1)
    end_column = finding.end_column
    if index is not None:
        start_line = min(start_line, index.line_count)
        end_line = min(end_line, index.line_count)
    zero_width = end_line == start_line and end_column <= start_column
    if index is not None and (zero_width or end_column < 1):
        # A check that gave no end column meant the whole line(s): never report a zero-width region.
        end_column = index.content_end(end_line) - index.line_start(end_line) + 1
        if end_line == start_line and end_column <= start_column:
            start_column = 1
    end_column = max(end_column, 1)
    return Region(start_line, start_column, end_line, end_column)


@record
class LineSpan:
    """Whole lines [first_line, last_line]: from column 1 to the end of the last line's content,
    or to the start of the line after when an edit removes the last line's terminator."""

    start: int  # offset
    end: int  # offset
    first_line: int
    last_line: int


def fix_line_span(finding: Finding, index: SourceIndex) -> LineSpan:
    """The whole lines covering the finding and every edit of its fix."""
    first = max(min(finding.line, index.line_count), 1)
    last = max(min(max(finding.end_line, finding.line), index.line_count), 1)
    furthest_end = 0
    for edit in finding.fix.edits if finding.fix else ():
        first = min(first, index.line_of(edit.start))
        # An edit ending exactly at a line start touches only the line before it.
        end_probe = edit.end - 1 if edit.end > edit.start else edit.end
        last = max(last, index.line_of(end_probe))
        furthest_end = max(furthest_end, edit.end)
    start = index.line_start(first)
    end = max(index.content_end(last), furthest_end)
    return LineSpan(start, end, first, index.line_of(end) if end > index.content_end(last) else last)


def fixed_span_text(index: SourceIndex, span: LineSpan, edits: Iterable[Edit]) -> str:
    """The span's text after the edits (all inside it): only the span is copied, never the file,
    so a large Dockerfile with many fixes stays linear."""
    shifted = [Edit(e.start - span.start, e.end - span.start, e.text) for e in edits]
    return apply_edits(index.text[span.start : span.end], shifted)


def applicable_fix(finding: Finding, index: SourceIndex | None):
    """The finding's fix when it can be shown as a change (safe or unsafe, with edits that fit the
    source and do not overlap), else None: a broken fix is left out, never a crash of the report."""
    fix = finding.fix
    if index is None or fix is None or fix.applicability < Applicability.UNSAFE or not fix.edits:
        return None
    ordered = sorted(fix.edits, key=lambda e: (e.start, e.end))
    if ordered[0].start < 0 or max(e.end for e in ordered) > len(index.text) or any(e.end < e.start for e in ordered):
        return None
    if any(later.start < earlier.end for earlier, later in zip(ordered, ordered[1:])):
        return None
    return fix


def is_source_path(report: Report, path: str) -> bool:
    """True when `path` names a file in the working tree (a Dockerfile), not a path inside an image."""
    if report.artifact_kind != "image":
        return True
    return path in report.sources or bool(_DOCKERFILE_NAME.match(os.path.basename(path)))


def relative_path(path: str) -> str:
    """A forward-slash path relative to the working directory when it lies below it."""
    if os.path.isabs(path):
        try:
            rel = os.path.relpath(path)
        except ValueError:  # another drive on Windows
            rel = path
        if not rel.startswith(".."):
            path = rel
    path = path.replace(os.sep, "/")
    while path.startswith("./"):
        path = path[2:]
    return path


def path_uri(path: str) -> str:
    return quote(relative_path(path), safe="/-._~")


def normalised_snippet(finding: Finding, index: SourceIndex | None) -> str:
    """The finding's instruction text with whitespace and line continuations collapsed,
    so its fingerprint survives re-indentation and lines moving up or down."""
    if index is None:
        # A path inside an image: messages may carry dates or counts, so only the path is stable.
        return finding.path
    first = min(max(finding.line, 1), index.line_count)
    last = min(max(finding.end_line, first), index.line_count)
    snippet = index.text[index.line_start(first) : index.content_end(last)]
    return " ".join(snippet.replace("\\\r\n", " ").replace("\\\n", " ").split())


def fingerprints(report: Report, findings: Iterable[Finding]) -> dict[int, str]:
    """`id(finding) -> "hash:occurrence"`, as GitHub's primaryLocationLineHash is formed.

    The hash covers rule and normalised instruction text; the counter tells apart identical
    instructions in one file.
    """
    import hashlib  # loads OpenSSL's libcrypto: only the formats with fingerprints pay for it

    indexes = SourceIndexes(report.sources)
    seen: dict[tuple[str, str], int] = {}
    result: dict[int, str] = {}
    for finding in findings:
        snippet = normalised_snippet(finding, indexes.get(finding.path))
        digest = hashlib.sha256(to_utf8(f"{finding.rule}\0{snippet}")).hexdigest()[:16]
        key = (finding.path, digest)
        seen[key] = seen.get(key, 0) + 1
        result[id(finding)] = f"{digest}:{seen[key]}"
    return result


def rule_title(report: Report, rule: str) -> str:
    doc = report.rules.get(rule)
    return doc.title if doc is not None else rule


def help_uri(report: Report, rule: str) -> str:
    doc = report.rules.get(rule)
    return doc.help_uri() if doc is not None else f"{RULES_URI}{rule}"


def plural(count: int, word: str, many: str | None = None) -> str:
    return f"{count} {word if count == 1 else (many or word + 's')}"


def severity_counts(findings: Iterable[Finding]) -> dict[Severity, int]:
    counts = {s: 0 for s in Severity}
    for finding in findings:
        counts[finding.severity] += 1
    return counts
