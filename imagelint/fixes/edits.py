"""Text edits on a Dockerfile that touch only the instruction being fixed.

Every builder here returns `Edit`s (offsets into the original text) or None when it cannot prove
that the edit is exact (for example a word whose source text is not what the shell saw, such as a
flag that came from an ARG). Whatever lies outside the edited instruction (comments, indentation,
continuation style, the escape directive, CRLF endings, a missing final newline) is never touched.

Insertions are whole-instruction replacements: the anchor instruction is replaced by itself plus
the new lines, so a review suggestion built from the edit covers exactly the anchor's lines.
"""
from __future__ import annotations

import json
import re
from bisect import bisect_right
from ..records import record

from ..dockerfile.parse import Instruction, ParsedDockerfile
from ..findings import Edit

_HSPACE = " \t"
# Characters that end a shell word without being part of the next one.
_WORD_END = set(";|&)\"'`")


@record
class Source:
    """Line arithmetic and style facts of one Dockerfile text."""

    text: str
    escape: str
    line_starts: list[int]
    heredoc_spans: list[tuple[int, int]]

    @classmethod
    def of(cls, parsed: ParsedDockerfile) -> "Source":
        spans = [(h.start, h.end) for inst in parsed.instructions for h in inst.heredocs]
        starts = [0] + [m.end() for m in re.finditer("\n", parsed.text)]
        return cls(parsed.text, parsed.escape, starts, spans)

    # -- style -------------------------------------------------------------------------------
    @property
    def newline(self) -> str:
        """The file's own line ending (the first one it uses)."""
        nl = self.text.find("\n")
        return "\r\n" if nl > 0 and self.text[nl - 1] == "\r" else "\n"

    def indent_of(self, offset: int) -> str:
        start = self.line_start(offset)
        line = self.text[start:self.content_end(offset)]
        return line[: len(line) - len(line.lstrip(_HSPACE))]

    def continuation_at(self, offset: int) -> str:
        """The line-continuation character at `offset`: the shell's inside a heredoc, else the escape."""
        if any(s <= offset < e for s, e in self.heredoc_spans):
            return "\\"
        return self.escape

    # -- lines -------------------------------------------------------------------------------
    def line_index(self, offset: int) -> int:
        return bisect_right(self.line_starts, offset) - 1

    def line_start(self, offset: int) -> int:
        return self.line_starts[self.line_index(offset)]

    def next_line_start(self, offset: int) -> int:
        i = self.line_index(offset) + 1
        return self.line_starts[i] if i < len(self.line_starts) else len(self.text)

    def content_end(self, offset: int) -> int:
        """End of the line's content (before "\\r\\n" / "\\n")."""
        end = self.next_line_start(offset)
        if end > 0 and end <= len(self.text) and self.text[end - 1:end] == "\n":
            end -= 1
            if end > self.line_start(offset) and self.text[end - 1] == "\r":
                end -= 1
        return end

    def instruction_end(self, inst: Instruction) -> int:
        """End of the instruction's last line content (its line terminator excluded)."""
        return self.content_end(max(inst.end - 1, inst.start))

    def is_continuation_tail(self, offset: int) -> bool:
        """Is text[offset:] (on this line) only blanks, a continuation character, blanks?"""
        rest = self.text[offset:self.content_end(offset)].strip(_HSPACE)
        return rest == self.continuation_at(offset)


def _skip_hspace(text: str, pos: int, limit: int) -> int:
    while pos < limit and text[pos] in _HSPACE:
        pos += 1
    return pos


def _skip_hspace_back(text: str, pos: int, limit: int) -> int:
    while pos > limit and text[pos - 1] in _HSPACE:
        pos -= 1
    return pos


def delete_span(src: Source, start: int, end: int) -> list[Edit]:
    """Delete a word-like span [start, end) and the whitespace it leaves behind.

    - inside a line, the word and the blanks after it go (`curl -k URL` -> `curl URL`);
    - at the end of a line's code, the blanks before it go (`curl URL -k \\` -> `curl URL \\`);
    - alone on a continuation line, the whole line goes;
    - alone on the instruction's last line, the line goes with the continuation before it.
    """
    text = src.text
    line_start = src.line_start(start)
    line_end = src.content_end(end - 1 if end > start else end)
    before = _skip_hspace_back(text, start, line_start)
    after = _skip_hspace(text, end, line_end)
    at_line_end = after >= line_end
    continues = not at_line_end and src.is_continuation_tail(after)
    next_char = text[after] if not at_line_end else ""
    first_on_line = before == line_start

    if not first_on_line:
        if at_line_end or continues or next_char in _WORD_END:
            return [Edit(before, end, "")]
        return [Edit(start, after, "")]
    # The span starts its line (after indentation).
    if not at_line_end and not continues:
        return [Edit(start, after, "")]
    if continues:
        return [Edit(line_start, src.next_line_start(start), "")]
    # Last line of the instruction: drop it with the continuation that led to it.
    prev = line_start
    while prev > 0:
        prev_line = src.line_start(prev - 1)
        content_end = src.content_end(prev_line)
        code = text[prev_line:content_end]
        stripped = code.strip(_HSPACE)
        if stripped and not stripped.startswith("#"):
            marker = src.continuation_at(prev_line)
            if not stripped.endswith(marker):
                return [Edit(line_start, end, "")]  # not a continuation after all: keep the line empty
            cut = content_end
            cut = _skip_hspace_back(text, cut, prev_line)
            cut -= len(marker)
            cut = _skip_hspace_back(text, cut, prev_line)
            return [Edit(cut, end, "")]
        prev = prev_line
    return [Edit(start, end, "")]


def verified(src: Source, start: int, end: int, expected: str) -> bool:
    return 0 <= start < end <= len(src.text) and src.text[start:end] == expected


def delete_instruction(src: Source, inst: Instruction) -> list[Edit]:
    """Remove an instruction with its line(s); the file's final-newline state is kept."""
    start = src.line_start(inst.start)
    end = inst.end
    if end >= len(src.text) and not src.text.endswith("\n") and start > 0:
        # The last instruction without a final newline: take the newline before it instead.
        prev_end = src.content_end(start - 1)
        return [Edit(prev_end, end, "")]
    return [Edit(start, end, "")]


def insert_after(src: Source, inst: Instruction, lines: list[str]) -> Edit:
    """Insert whole lines after `inst`, as a replacement of `inst` by itself plus the lines.

    New lines take the anchor's indentation and the file's newline.
    """
    end = src.instruction_end(inst)
    indent = src.indent_of(inst.start)
    nl = src.newline
    added = "".join(nl + indent + line for line in lines)
    return Edit(inst.start, end, src.text[inst.start:end] + added)


def append_to_run(src: Source, inst: Instruction, command: str) -> Edit | None:
    """Chain `command` after a shell-form RUN with `&&`, in the RUN's own continuation style.

    Returns None when the RUN cannot take it safely (exec form, heredocs, a trailing comment).
    """
    if inst.keyword != "RUN" or inst.json_args is not None or inst.heredocs:
        return None
    end = src.instruction_end(inst)
    last_line_start = src.line_start(end if end == len(src.text) else max(end - 1, inst.start))
    last_line = src.text[last_line_start:end]
    if "#" in last_line:
        return None  # a trailing comment would swallow the new command
    marker = src.escape
    nl = src.newline
    code_lines = []
    pos = src.line_start(inst.start)
    while pos < end:
        line = src.text[pos:src.content_end(pos)]
        if line.strip(_HSPACE) and not line.strip(_HSPACE).startswith("#"):
            code_lines.append(line)
        pos = src.next_line_start(pos)
    if len(code_lines) < 2:
        return Edit(inst.start, end, src.text[inst.start:end] + " && " + command)
    last = code_lines[-1]
    indent = last[: len(last) - len(last.lstrip(_HSPACE))]
    # The blanks the file puts before its continuation character.
    prev = code_lines[-2].rstrip(_HSPACE)
    body = prev[: -len(marker)] if prev.endswith(marker) else prev
    gap = body[len(body.rstrip(_HSPACE)):] or " "
    leading_ops = last.lstrip(_HSPACE).startswith(("&&", "||", ";", "|"))
    if leading_ops:
        addition = f"{gap}{marker}{nl}{indent}&& {command}"
    else:
        addition = f" &&{gap}{marker}{nl}{indent}{command}"
    return Edit(inst.start, end, src.text[inst.start:end] + addition)


# --- exec form ---------------------------------------------------------------------------------

_JSON_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"')


def exec_form_tokens(src: Source, inst: Instruction) -> list[tuple[int, int, str]] | None:
    """(start, end, value) of each JSON string of an exec-form instruction, or None if unsure."""
    if inst.json_args is None:
        return None
    end = src.instruction_end(inst)
    first = src.text.find("[", inst.start, end)
    if first < 0:
        return None
    tokens = []
    for m in _JSON_STRING.finditer(src.text, first, end):
        try:
            tokens.append((m.start(), m.end(), json.loads(m.group(0))))
        except ValueError:
            return None
    if [t[2] for t in tokens] != inst.json_args:
        return None
    return tokens


def json_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


# --- words inside a string (sh -c scripts in exec form) --------------------------------------------

def delete_word_in_string(script: str, raw: str) -> str | None:
    """Remove the only occurrence of the shell word `raw` from a one-line script, or None."""
    pattern = re.compile(r"(?<![^\s;|&(])" + re.escape(raw) + r"(?![^\s;|&)])")
    found = list(pattern.finditer(script))
    if len(found) != 1:
        return None
    m = found[0]
    mini = Source(script, "\\", [0] + [x.end() for x in re.finditer("\n", script)], [])
    edits = delete_span(mini, m.start(), m.end())
    out = script
    for edit in sorted(edits, key=lambda x: x.start, reverse=True):
        out = out[:edit.start] + edit.text + out[edit.end:]
    return out


def replace_word_in_string(script: str, raw: str, new: str) -> str | None:
    pattern = re.compile(r"(?<![^\s;|&(])" + re.escape(raw) + r"(?![^\s;|&)])")
    found = list(pattern.finditer(script))
    if len(found) != 1:
        return None
    m = found[0]
    return script[:m.start()] + new + script[m.end():]
