"""A Dockerfile parser that splits instructions exactly as BuildKit does.

A port of moby/buildkit frontend/dockerfile/parser (parser.go, line_parsers.go, directives):
parser directives, the escape token, line continuations with comments and blank lines inside,
heredocs (`<<EOF`, `<<-EOF`, quoted names, several per instruction), builder flags, JSON form.
Unlike BuildKit it keeps every character offset, so findings point at exact columns and fixes
can rewrite one instruction while leaving every other byte alone.
"""
from __future__ import annotations

import bisect
import json
import operator
import re
from functools import partial
from ..records import record, field

from ..findings import ImagelintError

_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_ALLOWED_DIRECTIVES = {"escape", "syntax", "check"}
_NON_SPACE_RUN = re.compile(r"\S+")
_HEREDOC_WORD = re.compile(r"^(\d*)<<(-?)([^<]*)$")
HEREDOC_INSTRUCTIONS = {"RUN", "COPY", "ADD"}
KNOWN_INSTRUCTIONS = {
    "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL",
    "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
}
_SPACE = " \t\n\r\v\f"
# Go's unicode.IsSpace: ASCII blanks, NEL, NBSP, the Zs spaces, line and paragraph separators.
_GO_SPACE = _SPACE + "\u0085\u00a0\u1680" + "".join(chr(c) for c in range(0x2000, 0x200B)) + "\u2028\u2029\u202f\u205f\u3000"


@record(slots=True)
class Flag:
    name: str  # without the leading dashes, e.g. "from"
    value: str | None  # None for a bare boolean flag such as --link
    raw: str
    start: int  # offsets in the source text
    end: int


@record(slots=True)
class Heredoc:
    name: str
    content: str
    chomp: bool  # <<- strips leading tabs
    expand: bool  # False when the name was quoted
    fd: int
    start: int  # source offset of the first content character
    end: int  # source offset just after the content (start of the terminator line)
    line: int  # line of the first content line (1-based)
    end_line: int  # line of the terminator


@record(slots=True)
class Word:
    """A word of an instruction's arguments, quotes kept (BuildKit parseWords)."""

    raw: str
    start: int  # source offsets
    end: int


class PiecewiseShift:
    """Offsets in a joined logical line -> source offsets: each continuation line has its own shift.
    The shell builder reads `starts` and `shifts` to map word offsets inline."""

    __slots__ = ("starts", "shifts")

    def __init__(self, starts: list[int], shifts: list[int]):
        self.starts = starts  # where each segment starts, ascending
        self.shifts = shifts  # what to add to an offset inside it

    def __call__(self, i: int) -> int:
        k = bisect.bisect_right(self.starts, i) - 1
        return i + self.shifts[k if k > 0 else 0]


@record(slots=True)
class Instruction:
    keyword: str  # upper case, e.g. "RUN"
    original_keyword: str
    line: int  # 1-based first line, as BuildKit reports it
    end_line: int  # last line, including heredoc terminators
    start: int  # source offset of the instruction's first character
    end: int  # source offset just past the instruction's last line (its newline included)
    logical: str  # the joined logical line: continuations removed, inner comments dropped
    flags: list[Flag]
    args: str  # the text after the keyword and flags, stripped
    args_offset: int  # offset of `args` inside `logical`
    json_args: list[str] | None  # exec form, when the arguments are a JSON array of strings
    heredocs: list[Heredoc]
    comments: list[str]  # comment lines directly above (for pragmas)
    sub_instruction: Instruction | None = None  # ONBUILD's trigger instruction
    _segments: list[tuple[int, int]] = field(default_factory=list, repr=False)
    _starts: list[int] = field(default_factory=list, repr=False)

    def source_offset(self, logical_offset: int) -> int:
        """Map an offset in `logical` back to the source text."""
        i = bisect.bisect_right(self._starts, logical_offset) - 1
        if i < 0:
            i = 0
        lstart, sstart = self._segments[i]
        return sstart + (logical_offset - lstart)

    def args_source_offset(self, args_offset: int) -> int:
        return self.source_offset(self.args_offset + args_offset)

    def args_mapper(self):
        """A fast args-offset -> source-offset function (a plain shift when there is no continuation)."""
        base = self.args_offset
        segments = self._segments
        if len(segments) == 1:
            # A plain shift, in the form the shell builder adds inline (shell.linear).
            return partial(operator.add, segments[0][1] - segments[0][0] + base)
        return PiecewiseShift([lstart - base for lstart, _ in segments],
                              [sstart - lstart + base for lstart, sstart in segments])

    def flag(self, name: str) -> Flag | None:
        for flag in self.flags:
            if flag.name == name:
                return flag
        return None

    def words(self, escape: str = "\\") -> list[Word]:
        return [
            Word(raw, self.args_source_offset(s), self.args_source_offset(max(e - 1, s)) + 1)
            for raw, s, e in split_words(self.args, escape)
        ]


@record
class ParsedDockerfile:
    path: str
    text: str
    instructions: list[Instruction]
    directives: dict[str, str]
    escape: str
    line_starts: list[int]
    comments: list[tuple[int, str]]  # (line, text after '#') for every comment line

    def position(self, offset: int) -> tuple[int, int]:
        """1-based (line, column) of a source offset."""
        line = bisect.bisect_right(self.line_starts, offset)
        return line, offset - self.line_starts[line - 1] + 1

    def line_text(self, line: int) -> str:
        start = self.line_starts[line - 1]
        end = self.line_starts[line] if line < len(self.line_starts) else len(self.text)
        return self.text[start:end].rstrip("\r\n")


def _trim_newline(s: str) -> str:
    return s.rstrip("\r\n")


def _split_lines(text: str) -> list[tuple[int, str]]:
    """(offset, line including its '\n') like BuildKit's scanLines."""
    out = []
    pos = 0
    parts = text.split("\n")
    last = parts.pop()
    for part in parts:
        line = part + "\n"
        out.append((pos, line))
        pos += len(line)
    if last:
        out.append((pos, last))
    return out


def _continuation_start(line: str, escape: str) -> int:
    """Where a trailing escape (then only blanks) starts, or -1: the regex escape + `[ \t]*$`."""
    body = line.rstrip(" \t")
    if body.endswith(escape):
        return len(body) - 1
    return -1


def parse_dockerfile(text: str, path: str = "Dockerfile") -> ParsedDockerfile:
    """Parse Dockerfile text. Raises ImagelintError (with a line) for input BuildKit rejects."""
    if "\x00" in text:
        raise ImagelintError("binary file (contains NUL bytes), not a Dockerfile", path=path)
    lines = _split_lines(text)
    line_starts = [off for off, _ in lines] or [0]  # before the BOM shift: offsets in the text
    if lines and lines[0][1].startswith("\ufeff"):
        # BuildKit drops a byte-order mark on the first line.
        off, first = lines[0]
        lines[0] = (off + 1, first[1:])

    directives: dict[str, str] = {}
    directives_done = False
    escape = "\\"

    def directive(line: str, lineno: int) -> None:
        nonlocal directives_done, escape
        if directives_done:
            return
        m = _DIRECTIVE.match(line)
        if not m or m.group(1).lower() not in _ALLOWED_DIRECTIVES:
            directives_done = True
            return
        key, value = m.group(1).lower(), m.group(2)
        if key in directives:
            raise ImagelintError(f"only one {key} parser directive can be used", path=path, line=lineno)
        directives[key] = value
        if key == "escape":
            if value not in ("\\", "`"):
                raise ImagelintError(f"invalid escape token '{value}' does not match ` or \\", path=path, line=lineno)
            escape = value

    instructions: list[Instruction] = []
    comments_above: list[str] = []
    all_comments: list[tuple[int, str]] = []
    i = 0
    n = len(lines)
    while i < n:
        offset, raw = lines[i]
        lineno = i + 1
        stripped = raw.rstrip("\r\n")
        token = stripped.lstrip(_SPACE)
        lead = len(stripped) - len(token)
        is_comment = token.startswith("#")
        if is_comment:
            comment = raw.strip(_SPACE)[1:].strip()
            all_comments.append((lineno, comment))
            if comment == "":
                comments_above = []
            else:
                comments_above.append(comment)  # in place: 100k comment lines stay linear
        if not directives_done:
            directive(token, lineno)
        if is_comment:
            token = ""
        i += 1
        start_line = lineno
        cut = _continuation_start(token, escape) if token else -1
        segments: list[tuple[int, int]] = []
        logical = token[:cut] if cut >= 0 else token
        if cut < 0 and not logical:
            continue
        segments.append((0, offset + lead))
        end_of_line = cut < 0
        while not end_of_line and i < n:
            c_off, c_raw = lines[i]
            i += 1
            c_line = c_raw.rstrip("\r\n")
            if not directives_done:
                directive(c_line, i)
            if c_line.lstrip(_SPACE).startswith("#"):
                all_comments.append((i, c_raw.strip(_SPACE)[1:].strip()))
                continue
            if not c_line.strip(_SPACE):
                continue
            c_cut = _continuation_start(c_line, escape)
            piece = c_line[:c_cut] if c_cut >= 0 else c_line
            end_of_line = c_cut < 0
            segments.append((len(logical), c_off))
            logical += piece
        end_index = i  # lines consumed so far
        inst = _make_instruction(logical, segments, start_line, escape, path)
        inst.comments = comments_above
        comments_above = []
        # BuildKit canContainHeredoc: RUN/COPY/ADD, also as an ONBUILD trigger, unless exec form.
        heredoc_keyword = inst.sub_instruction.keyword if inst.sub_instruction else inst.keyword
        if heredoc_keyword in HEREDOC_INSTRUCTIONS and inst.json_args is None and "<<" in logical:
            for name, chomp, expand, fd in _heredocs_from_line(logical):
                content_parts = []
                content_start = lines[i][0] if i < n else len(text)
                first_line = i + 1
                terminated = False
                while i < n:
                    h_off, h_raw = lines[i]
                    i += 1
                    candidate = _trim_newline(h_raw)
                    if chomp:
                        candidate = candidate.lstrip("\t")
                    if candidate == name:
                        terminated = True
                        inst.heredocs.append(
                            Heredoc(name, "".join(content_parts), chomp, expand, fd, content_start, h_off, first_line, i)
                        )
                        break
                    content_parts.append(h_raw)
                if not terminated:
                    raise ImagelintError(f"unterminated heredoc <<{name}", path=path, line=start_line)
            end_index = i
        inst.end_line = max(end_index, start_line)
        last_off, last_raw = lines[end_index - 1]
        inst.end = last_off + len(last_raw)
        instructions.append(inst)

    if not instructions:
        raise ImagelintError("file with no instructions", path=path)
    return ParsedDockerfile(path, text, instructions, directives, escape, line_starts, all_comments)


_FIRST_WORD = re.compile(r"\S+")


def _make_instruction(logical: str, segments, start_line: int, escape: str, path: str) -> Instruction:
    stripped = logical.strip(_SPACE)
    lead = len(logical) - len(logical.lstrip(_SPACE))
    m = _FIRST_WORD.match(stripped)
    keyword = m.group(0) if m else ""
    rest_offset = lead + len(keyword)
    rest = logical[rest_offset:]
    flags_raw, args_rel = _extract_builder_flags(rest, path, start_line)
    args_start = rest_offset + args_rel
    args_text = logical[args_start:]
    # BuildKit trims the arguments with Go's strings.TrimSpace (unicode.IsSpace: NBSP too; found by
    # fuzzing against it), while words split on ASCII blanks only.
    args = args_text.strip(_GO_SPACE)
    args_start += len(args_text) - len(args_text.lstrip(_GO_SPACE))
    inst = Instruction(
        keyword=keyword.upper(),
        original_keyword=keyword,
        line=start_line,
        end_line=start_line,
        start=segments[0][1] if segments else 0,
        end=0,
        logical=logical,
        flags=[],
        args=args,
        args_offset=args_start,
        json_args=None,
        heredocs=[],
        comments=[],
        _segments=segments,
        _starts=[s for s, _ in segments],
    )
    for raw, s, e in flags_raw:
        name, eq, value = raw.partition("=")
        inst.flags.append(
            Flag(name, value if eq else None, raw, inst.source_offset(rest_offset + s), inst.source_offset(rest_offset + e - 1) + 1)
        )
    if inst.keyword in _MAYBE_JSON:
        inst.json_args = _json_array(args, path, start_line)
    elif inst.keyword == "HEALTHCHECK":
        # BuildKit parseHealthConfig: the first word (CMD/NONE), then maybe-JSON.
        kind = re.match(r"\S*\s*", args)
        inst.json_args = _json_array(args[kind.end():], path, start_line)
    elif inst.keyword == "ONBUILD" and args:
        # BuildKit parseSubCommand: the trigger is parsed as an instruction of its own.
        sub_segments = [(0, inst.args_source_offset(0))] + [
            (lstart - args_start, sstart) for lstart, sstart in segments if lstart > args_start
        ]
        sub = _make_instruction(args, sub_segments, start_line, escape, path)
        inst.sub_instruction = sub
        inst.json_args = sub.json_args
    return inst


_MAYBE_JSON = {"RUN", "CMD", "ENTRYPOINT", "SHELL", "COPY", "ADD", "VOLUME"}


def _reject_constant(name: str):
    raise ValueError(name)  # Go's encoding/json has no NaN/Infinity


_GO_JSON = json.JSONDecoder(parse_constant=_reject_constant)


def _json_array(args: str, path: str, line: int) -> list[str] | None:
    """BuildKit parseJSON: a JSON array of strings, text after it ignored (json.Decoder)."""
    if not args.startswith("["):
        return None
    try:
        parsed, _ = _GO_JSON.raw_decode(args)
    except ValueError:
        return None
    if not isinstance(parsed, list):
        return None
    if not all(isinstance(x, str) for x in parsed):
        raise ImagelintError("JSON arguments must be an array of strings", path=path, line=line)
    return parsed


def _extract_builder_flags(line: str, path: str, lineno: int) -> tuple[list[tuple[str, int, int]], int]:
    """BuildKit extractBuilderFlags: leading `--flag[=value]` words. Returns (flags, offset of the rest)."""
    words: list[tuple[str, int, int]] = []
    pos = 0
    n = len(line)
    while True:
        while pos < n and line[pos] in _SPACE:
            pos += 1
        if pos >= n or not line.startswith("--", pos):
            return words, pos
        start = pos
        word = ""
        quote = ""
        blank_ok = False
        while pos < n:
            ch = line[pos]
            if quote:
                if ch == quote:
                    quote = ""
                elif ch == "\\" and pos + 1 < n:
                    pos += 1
                    word += line[pos]
                elif ch != "\\":
                    word += ch
                pos += 1
                continue
            if ch in _SPACE:
                break
            if ch in "'\"":
                quote = ch
                blank_ok = True
            elif ch == "\\":
                if pos + 1 < n:
                    pos += 1
                    word += line[pos]
            else:
                word += ch
            pos += 1
        if word == "--":
            return words, pos
        if blank_ok or word:
            words.append((word[2:], start, pos))
        if pos >= n:
            return words, n


def split_words(rest: str, escape: str = "\\") -> list[tuple[str, int, int]]:
    """BuildKit parseWords: split on whitespace, quotes and escapes kept. (word, start, end)."""
    if "'" not in rest and '"' not in rest and escape not in rest:
        # Nothing to keep together: the words are the runs of non-space (re's \s is str.isspace).
        return [(m.group(), m.start(), m.end()) for m in _NON_SPACE_RUN.finditer(rest)]
    words = []
    pos = 0
    n = len(rest)
    while pos < n:
        while pos < n and rest[pos].isspace():
            pos += 1
        if pos >= n:
            break
        start = pos
        quote = ""
        blank_ok = False
        word = []
        while pos < n:
            ch = rest[pos]
            if quote:
                if ch == quote:
                    quote = ""
                elif ch == escape and quote != "'":
                    if pos + 1 == n:
                        pos += 1
                        break
                    word.append(ch)
                    pos += 1
                    ch = rest[pos]
                word.append(ch)
                pos += 1
                continue
            if ch.isspace():
                break
            if ch in "'\"":
                quote = ch
                blank_ok = True
            if ch == escape:
                if pos + 1 == n:
                    pos += 1
                    continue
                word.append(ch)
                pos += 1
                ch = rest[pos]
            word.append(ch)
            pos += 1
        if blank_ok or word:
            words.append(("".join(word), start, pos))
    return words


def _shell_words_raw(line: str) -> list[str]:
    """BuildKit's shell lexer with RawQuotes and RawEscapes: split into words, keep quoting."""
    words: list[str] = []
    word: list[str] = []
    in_word = False
    i = 0
    n = len(line)
    while i < n:
        ch = line[i]
        if ch in " \t\r\n":
            if in_word:
                words.append("".join(word))
                word, in_word = [], False
            i += 1
            continue
        in_word = True
        if ch == "\\" and i + 1 < n:
            word.append(line[i : i + 2])
            i += 2
            continue
        if ch in "'\"":
            j = i + 1
            while j < n and line[j] != ch:
                j += 2 if (ch == '"' and line[j] == "\\") else 1
            word.append(line[i : j + 1])
            i = j + 1
            continue
        word.append(ch)
        i += 1
    if in_word:
        words.append("".join(word))
    return words


def _unquote(word: str) -> str:
    out = []
    i = 0
    quote = ""
    while i < len(word):
        ch = word[i]
        if quote:
            if ch == quote:
                quote = ""
            elif ch == "\\" and quote == '"' and i + 1 < len(word):
                i += 1
                out.append(word[i])
            else:
                out.append(ch)
        elif ch in "'\"":
            quote = ch
        elif ch == "\\" and i + 1 < len(word):
            i += 1
            out.append(word[i])
        else:
            out.append(ch)
        i += 1
    return "".join(out)


class _LexError(Exception):
    pass


def _lexes(line: str) -> bool:
    """Whether BuildKit's shell lexer (ProcessWords, escape `\\`) accepts the line. When it does not
    (an open quote, `${` without its `}`, a bad substitution), BuildKit's heredocsFromLine finds no
    heredoc at all: `RUN <<EOF ${` is a plain RUN (found by fuzzing against BuildKit)."""
    try:
        _lex_until(line, 0, "")
    except _LexError:
        return False
    except RecursionError:
        return True
    return True


def _lex_until(text: str, i: int, stop: str) -> int:
    n = len(text)
    while i < n:
        ch = text[i]
        if stop and ch == stop:
            return i + 1
        if ch == "'":
            end = text.find("'", i + 1)
            if end < 0:
                raise _LexError("unterminated single quote")
            i = end + 1
        elif ch == '"':
            i += 1
            while True:
                if i >= n:
                    raise _LexError("unterminated double quote")
                c = text[i]
                if c == '"':
                    i += 1
                    break
                if c == "$":
                    i = _lex_dollar(text, i)
                elif c == "\\":
                    i += 2 if i + 1 < n and text[i + 1] in '"$\\' else 1
                else:
                    i += 1
        elif ch == "$":
            i = _lex_dollar(text, i)
        elif ch == "\\":
            i += 2
        else:
            i += 1
    if stop:
        raise _LexError(f"missing {stop}")
    return i


def _lex_dollar(text: str, i: int) -> int:
    """At a `$`: the index after the expansion (BuildKit processDollar's syntax errors raise)."""
    n = len(text)
    i += 1
    if i >= n or text[i] != "{":
        while i < n and (text[i].isalnum() or text[i] == "_"):
            i += 1
        return i
    i += 1
    if i >= n:
        raise _LexError("missing }")
    if text[i] in "{}:":
        raise _LexError("bad substitution")
    if text[i].isdigit():
        while i < n and text[i].isdigit():
            i += 1
    elif text[i] in "@*#?-$!0":
        i += 1
    else:
        while i < n and (text[i].isalnum() or text[i] == "_"):
            i += 1
    if i >= n:
        raise _LexError("missing }")
    ch = text[i]
    i += 1
    if ch == "}":
        return i
    if ch == ":":
        if i >= n:
            raise _LexError("missing }")
        return _lex_until(text, i + 1, "}")  # any modifier after `:` lexes (observed with dockerfile 3.4)
    if ch in "+-?#%":
        return _lex_until(text, i, "}")
    if ch == "/":
        # Current BuildKit (lex.go) has ${x/pattern/replacement}; the older one in PyPI dockerfile
        # 3.4 rejects it. We follow the BuildKit docker build runs today.
        if i < n and text[i] == "/":
            i += 1
        return _lex_until(text, _lex_until(text, i, "/"), "}")
    raise _LexError("unsupported modifier")


def _heredocs_from_line(line: str) -> list[tuple[str, bool, bool, int]]:
    if "$" in line or "'" in line or '"' in line:
        if not _lexes(line):
            return []
    docs = []
    for word in _shell_words_raw(line):
        m = _HEREDOC_WORD.match(word)
        if not m or not m.group(3):
            continue
        rest = m.group(3)
        if len(_shell_words_raw(rest)) != 1:
            continue
        name = _unquote(rest)
        if not name:
            continue
        docs.append((name, m.group(2) == "-", name == rest, int(m.group(1) or 0)))
    return docs


def decode_dockerfile(data: bytes, path: str) -> str:
    """Bytes to text, refusing binary files and invalid UTF-8 with a clear message."""
    if b"\x00" in data[:8192] or b"\x00" in data:
        raise ImagelintError("binary file (contains NUL bytes), not a Dockerfile", path=path)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ImagelintError(f"invalid UTF-8 (byte 0x{data[exc.start]:02x})", path=path, line=line) from None
