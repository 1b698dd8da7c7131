"""Markdown review-comment bodies with ```suggestion blocks, for bots that post comments themselves.

Each comment starts with an HTML comment carrying where it goes, in the fields of GitHub's
"create a review comment" API (path, start_line, line, side): a ```suggestion block replaces
exactly lines start_line..line of the pull request's version of the file.
"""
from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from ._common import SourceIndexes, applicable_fix, fix_line_span, fixed_span_text, relative_path, rule_title

if TYPE_CHECKING:
    from . import Report


def suggestion_comments(report: Report) -> list[dict[str, Any]]:
    """One review comment per applicable fix: {path, start_line, line, side, body}."""
    indexes = SourceIndexes(report.sources)
    comments = []
    for finding in report.sorted_findings():
        index = indexes.get(finding.path)
        fix = applicable_fix(finding, index)
        if index is None or fix is None:
            continue
        span = fix_line_span(finding, index)
        last_line = index.line_of(span.end)
        # A suggestion replaces whole lines: carry on to the end of the line the span stops in.
        replacement = fixed_span_text(index, span, fix.edits) + index.text[span.end : index.content_end(last_line)]
        replacement = replacement.replace("\r\n", "\n")
        fence = "`" * max(3, 1 + max((len(run) for run in re.findall("`+", replacement)), default=0))
        body = (
            f"**{finding.rule}** {rule_title(report, finding.rule)} ({finding.severity})\n\n"
            f"{finding.message}\n\n"
            f"Suggested fix ({fix.applicability}): {fix.title}\n\n"
            f"{fence}suggestion\n{replacement}\n{fence}\n"
        )
        comment: dict[str, Any] = {"path": relative_path(finding.path), "line": last_line, "side": "RIGHT", "body": body}
        if span.first_line < last_line:
            comment = {"path": comment["path"], "start_line": span.first_line, "start_side": "RIGHT", **comment}
        comments.append(comment)
    return comments


def render(report: Report, *, color: bool = False) -> str:
    sections = []
    for comment in suggestion_comments(report):
        where = {key: value for key, value in comment.items() if key != "body"}
        sections.append(f"<!-- imagelint-suggestion {json.dumps(where, ensure_ascii=True)} -->\n{comment['body']}")
    return "\n".join(sections)
