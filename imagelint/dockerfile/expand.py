"""Variable expansion of Dockerfile words, as BuildKit's shell lexer does it.

Supports quotes, the escape token, $VAR, ${VAR}, ${VAR:-x}, ${VAR-x}, ${VAR:+x}, ${VAR+x},
${VAR:?x}, ${VAR#p}, ${VAR%p}. A variable whose value is not knowable at lint time (an ARG with
no default and no --build-arg, or a variable only the base image sets) is reported as unknown
instead of being guessed.

Expansion is bounded (see budget.py): a value that would pass the word or per-file limit is left
unexpanded and reported unknown, so `ARG A=${A}${A}` repeated never grows past the limit.
"""
from __future__ import annotations

import re
from ..records import record, field
from typing import Mapping

from . import budget as _budget

_NAME = re.compile("[A-Za-z0-9_]*")  # a variable name's characters, read in one match


@record(slots=True)
class Expanded:
    value: str
    unknown: set[str] = field(default_factory=set)

    @property
    def known(self) -> bool:
        return not self.unknown


class _Special:
    def __init__(self, chars: str):
        self.chars = chars
        self.pattern = re.compile("[" + re.escape(chars) + "]")


_SPECIAL_CACHE: dict[str, _Special] = {}


def _special_chars(chars: str) -> _Special:
    """The characters a lexer loop must look at one by one; everything else is copied in runs."""
    special = _SPECIAL_CACHE.get(chars)
    if special is None:
        special = _SPECIAL_CACHE[chars] = _Special(chars)
    return special


class _Lexer:
    def __init__(self, text: str, env: Mapping[str, str | None], escape: str, undeclared_unknown: bool):
        self.text = text
        self.pos = 0
        self.env = env
        self.escape = escape
        self.undeclared_unknown = undeclared_unknown
        self.unknown: set[str] = set()
        self.budget = _budget.current()
        limits = self.budget.limits if self.budget is not None else _budget.DEFAULT_LIMITS
        self.max_word = limits.max_word_chars
        self.max_total = limits.max_expansion_chars
        self.produced = 0  # characters looked up for this word

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def next(self) -> str:
        ch = self.peek()
        self.pos += 1
        return ch

    def lookup(self, name: str) -> str | None:
        """The value, or None when unset; records unknowns."""
        if name in self.env:
            value = self.env[name]
            if value is None:
                self.unknown.add(name)
                return ""
            return self.spend(name, value)
        if self.undeclared_unknown:
            self.unknown.add(name)
            return ""
        return None

    def spend(self, name: str, value: str) -> str:
        """The value, unless it passes a budget: then the variable is unknown (not expanded)."""
        size = len(value)
        if not size:
            return value
        budget = self.budget
        over_word = self.produced + size > self.max_word
        over_total = budget is not None and budget.expansion_chars + size > self.max_total
        if over_word or over_total:
            if budget is not None:
                if over_total:
                    budget.expansion_chars = self.max_total
                budget.expansion_over(name)
            self.unknown.add(name)
            return ""
        self.produced += size
        if budget is not None:
            budget.expansion_chars += size
        return value

    def word(self, stop: str = "") -> str:
        out = []
        text = self.text
        special = _special_chars("'\"$" + self.escape + stop)
        while self.pos < len(text):
            ch = text[self.pos]
            if ch not in special.chars:
                # A run of plain characters is copied in one slice.
                match = special.pattern.search(text, self.pos)
                end = match.start() if match else len(text)
                out.append(text[self.pos : end])
                self.pos = end
                continue
            if stop and ch in stop:
                break
            if ch == "'":
                self.next()
                end = self.text.find("'", self.pos)
                end = len(self.text) if end < 0 else end
                out.append(self.text[self.pos : end])
                self.pos = end + 1
            elif ch == '"':
                self.next()
                out.append(self.double_quoted())
            elif ch == "$":
                self.next()
                out.append(self.dollar())
            elif ch == self.escape:
                self.next()
                if self.pos < len(self.text):
                    out.append(self.next())
            else:
                out.append(self.next())
        return "".join(out)

    def double_quoted(self) -> str:
        out = []
        text = self.text
        special = _special_chars('"$' + self.escape)
        while self.pos < len(text):
            if text[self.pos] not in special.chars:
                match = special.pattern.search(text, self.pos)
                end = match.start() if match else len(text)
                out.append(text[self.pos : end])
                self.pos = end
                continue
            ch = self.next()
            if ch == '"':
                break
            if ch == "$":
                out.append(self.dollar())
            elif ch == self.escape and self.pos < len(self.text):
                nxt = self.next()
                out.append(nxt if nxt in ('"', "$", self.escape) else ch + nxt)
            else:
                out.append(ch)
        return "".join(out)

    def dollar(self) -> str:
        ch = self.peek()
        if ch == "{":
            self.next()
            return self.braced()
        name = self.read_name()
        if not name:
            return "$"
        value = self.lookup(name)
        return value or ""

    def read_name(self) -> str:
        end = _NAME.match(self.text, self.pos).end()
        name = self.text[self.pos:end]
        self.pos = end
        return name

    def braced(self) -> str:
        var = self.read_name()
        op = ""
        if self.peek() == "}":
            self.next()
            value = self.lookup(var)
            return value or ""
        for candidate in (":-", ":+", ":?", "##", "%%", "-", "+", "?", "#", "%", "/"):
            if self.text.startswith(candidate, self.pos):
                op = candidate
                self.pos += len(candidate)
                break
        arg = self.word_until_brace()
        unknown_before = set(self.unknown)
        value = self.lookup(var)
        is_unknown = var in self.unknown and var not in unknown_before
        if op in (":-", "-"):
            if is_unknown:
                return ""
            use_default = value is None or (op == ":-" and value == "")
            return arg if use_default else value or ""
        if op in (":+", "+"):
            if is_unknown:
                return ""
            is_set = value is not None and (op == "+" or value != "")
            return arg if is_set else ""
        if op in (":?", "?"):
            return value or ""
        if value is None:
            return ""
        if op in ("#", "##"):
            return _strip_prefix(value, arg, greedy=op == "##")
        if op in ("%", "%%"):
            return _strip_suffix(value, arg, greedy=op == "%%")
        if op == "/":
            pattern, _, repl = arg.partition("/")
            return value.replace(pattern, repl, 1) if pattern else value
        return value

    def word_until_brace(self) -> str:
        out = []
        depth = 0
        while self.pos < len(self.text):
            ch = self.peek()
            if ch == "}" and depth == 0:
                self.next()
                break
            if ch == "$" and self.text.startswith("${", self.pos):
                self.next()
                out.append(self.dollar())
                continue
            if ch == "$":
                self.next()
                out.append(self.dollar())
                continue
            if ch == "'":
                self.next()
                end = self.text.find("'", self.pos)
                end = len(self.text) if end < 0 else end
                out.append(self.text[self.pos : end])
                self.pos = end + 1
                continue
            if ch == '"':
                self.next()
                out.append(self.double_quoted())
                continue
            if ch == self.escape:
                self.next()
                out.append(self.next())
                continue
            out.append(self.next())
        return "".join(out)


def _pattern_tokens(pattern: str) -> list[str]:
    """A shell pattern as regex pieces: `*`, `?`, or one escaped literal character (BuildKit has no [...])."""
    tokens = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            i += 1
            tokens.append(re.escape(pattern[i]))
        elif ch in "*?":
            tokens.append(ch)
        else:
            tokens.append(re.escape(ch))
        i += 1
    return tokens


def _pattern_regex(tokens: list[str], greedy: bool) -> re.Pattern:
    star = ".*" if greedy else ".*?"
    return re.compile("".join(star if t == "*" else "." if t == "?" else t for t in tokens), re.DOTALL)


def _strip_prefix(value: str, pattern: str, greedy: bool) -> str:
    # One anchored regex match (linear), not one fnmatch per prefix length (quadratic).
    match = _pattern_regex(_pattern_tokens(pattern), greedy).match(value)
    return value[match.end():] if match else value


def _strip_suffix(value: str, pattern: str, greedy: bool) -> str:
    # The shortest/longest suffix is the shortest/longest prefix of the reversed value.
    tokens = _pattern_tokens(pattern)
    tokens.reverse()
    match = _pattern_regex(tokens, greedy).match(value[::-1])
    return value[: len(value) - match.end()] if match else value


def expand(word: str, env: Mapping[str, str | None], escape: str = "\\", undeclared_unknown: bool = True) -> Expanded:
    """Expand one word (quotes removed)."""
    if "$" not in word and "'" not in word and '"' not in word and escape not in word:
        return Expanded(word)
    lexer = _Lexer(word, env, escape, undeclared_unknown)
    try:
        value = lexer.word()
    except RecursionError:
        # `${a:-${a:-${a:-...}}}` a thousand deep: not expanded, the word is unknown.
        budget = lexer.budget
        if budget is not None:
            line, where = budget.where
            budget.note("nesting", line, f"{where or 'a word'} nests variable expansions too deeply; not expanded")
        return Expanded("", lexer.unknown | {"<nested>"})
    return Expanded(value, lexer.unknown)
