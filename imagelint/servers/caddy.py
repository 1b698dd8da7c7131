"""Caddy: the certificates a Caddyfile's sites load from files (`tls <cert_file> <key_file>`).

The Caddyfile grammar of Caddy 2.6 (caddyconfig/caddyfile lexer and parser; caddyserver.com docs
"Caddyfile concepts", "tls" directive):
- tokens are separated by whitespace; `"…"` quotes (with `\\"`), `` `…` `` quotes raw; `#` at the
  start of a token comments out the rest of the line; `{$VAR}` / `{$VAR:default}` take the
  environment before parsing;
- an optional global options block `{ … }` first; `(name) { … }` defines a snippet, `import` pastes a
  snippet or the files a glob (relative to the Caddyfile's directory) matches;
- a site block is its addresses (space or comma separated), then `{ … }`; a file with one site may
  leave the braces out;
- `tls <cert_file> <key_file>` serves that PEM (leaf first, then the chain) with that key; relative
  paths are relative to the directory Caddy starts in. Sites without it get certificates at run time
  (ACME or the internal CA): nothing in the image to check.
"""
from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from ..fs import FileView
from .common import (
    MAX_INCLUDE_DEPTH,
    Budget,
    ServerConfig,
    TLSEndpoint,
    absolute,
    glob_view,
    has_magic,
    is_file,
    read_config_text,
)

MAIN_CONFIGS = ("/etc/caddy/Caddyfile",)  # Debian and the official caddy image
ENV_PLACEHOLDER = re.compile(r"\{\$([A-Za-z_][A-Za-z0-9_]*)(?::([^}]*))?\}")


@dataclass
class Token:
    text: str
    line: int
    file: str
    quoted: bool = False


@dataclass
class Segment:
    """One directive (or site address line) with its nested block."""

    tokens: list[Token]
    block: list["Segment"] | None = None


def lex(text: str, path: str, env: dict[str, str]) -> list[list[Token]]:
    """Lines of tokens (a quoted token may span lines; it belongs to the line it starts on)."""
    text = ENV_PLACEHOLDER.sub(lambda m: env.get(m.group(1), m.group(2) or ""), text)
    lines: list[list[Token]] = []
    current: list[Token] = []
    line = 1
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\n":
            if current:
                lines.append(current)
                current = []
            line += 1
            i += 1
            continue
        if c.isspace():
            i += 1
            continue
        if c == "#":
            while i < n and text[i] != "\n":
                i += 1
            continue
        start_line = line
        if c in "\"`":
            quote = c
            i += 1
            word = []
            while i < n and text[i] != quote:
                if quote == '"' and text[i] == "\\" and i + 1 < n and text[i + 1] == '"':
                    i += 1
                if text[i] == "\n":
                    line += 1
                word.append(text[i])
                i += 1
            if i >= n:
                raise ValueError(f"{path}:{start_line}: unterminated quoted string")
            i += 1
            current.append(Token("".join(word), start_line, path, True))
            continue
        start = i
        while i < n and not text[i].isspace():
            i += 1
        current.append(Token(text[start:i], start_line, path))
    if current:
        lines.append(current)
    return lines


def _is(token: Token, text: str) -> bool:
    return not token.quoted and token.text == text


def parse(lines: list[list[Token]], path: str) -> list[Segment]:
    """Nested segments: a line ending in `{` opens a block, a line `}` closes it."""
    root: list[Segment] = []
    stack: list[list[Segment]] = [root]
    for tokens in lines:
        if len(tokens) == 1 and _is(tokens[0], "}"):
            if len(stack) == 1:
                raise ValueError(f"{path}:{tokens[0].line}: unexpected '}}'")
            stack.pop()
            continue
        opens = _is(tokens[-1], "{")
        closes_inline = len(tokens) >= 2 and _is(tokens[-1], "}") and any(_is(t, "{") for t in tokens)
        if closes_inline:  # `tls a b { }` style one-liner: keep only what is before the brace
            cut = next(i for i, t in enumerate(tokens) if _is(t, "{"))
            stack[-1].append(Segment(tokens[:cut], []))
            continue
        segment = Segment(tokens[:-1] if opens else tokens, [] if opens else None)
        stack[-1].append(segment)
        if opens:
            stack.append(segment.block)  # type: ignore[arg-type]
    if len(stack) > 1:
        raise ValueError(f"{path}: a block is not closed (missing '}}')")
    return root


class _Reader:
    def __init__(self, view: FileView, main: str, env: dict[str, str]):
        self.view = view
        self.env = env
        self.config = ServerConfig("caddy", main)
        self.budget = Budget(self.config)
        self.snippets: dict[str, list[Segment]] = {}
        self.stack: list[str] = []

    def read(self, path: str) -> list[Segment]:
        if path in self.stack or len(self.stack) >= MAX_INCLUDE_DEPTH:
            self.config.fatal.append(f"{path}: imported in a loop (through {' -> '.join(self.stack)}): "
                                     "caddy will not start")
            return []
        if not self.budget.take_file(path):
            return []
        text = read_config_text(self.view, path, self.config)
        if text is None:
            return []
        try:
            segments = parse(lex(text, path, self.env), path)
        except ValueError as exc:
            self.config.fatal.append(f"{exc}: caddy will not start")
            return []
        self.stack.append(path)
        try:
            return self.expand(segments, posixpath.dirname(path))
        finally:
            self.stack.pop()

    def expand(self, segments: list[Segment], base: str, depth: int = 0) -> list[Segment]:
        """Snippets recorded, imports pasted in place (recursively, inside the budgets)."""
        out: list[Segment] = []
        for segment in segments:
            head = segment.tokens[0].text if segment.tokens else ""
            if segment.block is not None and len(segment.tokens) == 1 and head.startswith("(") and head.endswith(")"):
                self.snippets[head[1:-1]] = segment.block
                continue
            if head == "import" and len(segment.tokens) >= 2 and segment.block is None:
                out.extend(self._import(segment, base, depth))
                continue
            if segment.block is not None and depth < MAX_INCLUDE_DEPTH:
                segment = Segment(segment.tokens, self.expand(segment.block, base, depth + 1))
            out.append(segment)
        return out

    def _import(self, segment: Segment, base: str, depth: int) -> list[Segment]:
        name = segment.tokens[1].text
        if name in self.snippets:
            return self.expand(self.snippets[name], base, depth + 1) if depth < MAX_INCLUDE_DEPTH else []
        pattern = absolute(name, base)
        files = glob_view(self.view, pattern) if has_magic(pattern) else ([pattern] if is_file(self.view, pattern) else [])
        if not files and not has_magic(pattern):
            self.config.fatal.append(f"{segment.tokens[1].file}:{segment.tokens[1].line}: import {name}: "
                                     f"{pattern} does not exist: caddy will not start")
        out: list[Segment] = []
        for path in files:
            out.extend(self.read(path))
        return out


def _addresses(tokens: list[Token]) -> list[str]:
    return [a for t in tokens for a in t.text.split(",") if a]


def _host_and_port(address: str) -> tuple[str, str]:
    rest = address.split("://", 1)[-1].split("/", 1)[0]
    if rest.startswith("["):
        host, _, port = rest[1:].partition("]")
        return host, port.lstrip(":")
    host, _, port = rest.rpartition(":") if rest.count(":") == 1 else (rest, "", "")
    return host, port


def read_caddy(view: FileView, main: str, cwd: str = "/", env: dict[str, str] | None = None) -> ServerConfig:
    reader = _Reader(view, main, env or {})
    segments = reader.read(main)
    if segments and segments[0].block is not None and not segments[0].tokens:
        segments = segments[1:]  # the global options block
    sites = [s for s in segments if s.block is not None and s.tokens]
    if not sites and segments:
        # One site without braces: its address line, then its directives.
        sites = [Segment(segments[0].tokens, segments[1:])]
    for site in sites:
        addresses = _addresses(site.tokens)
        names = tuple(h for h, _ in map(_host_and_port, addresses) if h)
        ports = tuple(f"*:{p}" for _, p in map(_host_and_port, addresses) if p)
        for directive in _walk(site.block or []):
            words = [t.text for t in directive.tokens]
            if len(words) >= 3 and words[0] == "tls" and words[1] != "internal" and "@" not in words[1]:
                token = directive.tokens[0]
                reader.budget.add_endpoint(TLSEndpoint(
                    server="caddy", config=token.file, line=token.line, cert_file=absolute(words[1], cwd),
                    key_file=absolute(words[2], cwd), names=names, listen=ports,
                    key_config_line=token.line, directive="tls"))
    return reader.config


def _walk(segments: list[Segment]):
    """Directives of a site, including those inside `route`/`handle` blocks (not the tls sub-block)."""
    for segment in segments:
        yield segment
        if segment.block and segment.tokens and segment.tokens[0].text != "tls":
            yield from _walk(segment.block)


def find_caddy(view: FileView, cwd: str = "/", env: dict[str, str] | None = None) -> list[ServerConfig]:
    return [read_caddy(view, main, cwd, env) for main in MAIN_CONFIGS if is_file(view, main)]
