"""RUN bodies as commands: a real shell parse (tree-sitter-bash) into simple commands with argv.

What is quoted, echoed, printf'ed or commented stays data. `sh -c`/`bash -c`/`eval` strings and
scripts fed to a shell on stdin (heredocs) are parsed recursively. Every word keeps its offsets in
the Dockerfile, so findings land on exact columns and fixes can delete exactly one flag.
"""
from __future__ import annotations

import bisect
import operator
import posixpath
import re
from ..records import record, field
from functools import partial
from typing import Callable, Iterator, Mapping

from . import budget as _budget
from .envmap import Overlay
from .expand import expand
from .parse import PiecewiseShift

SHELLS = {"sh", "bash", "dash", "ash", "zsh", "ksh", "busybox-sh"}
# Wrappers that run their operand as the real command: (name, how many option words they take).
_WRAPPERS = {"sudo", "exec", "nohup", "time", "command", "builtin", "nice", "ionice", "stdbuf", "doas", "setsid"}
_WRAPPERS_WITH_ARG = {"gosu": 1, "su-exec": 1, "chroot": 1, "timeout": 1, "chpst": 0}
_CODE_CONTAINERS = {"command_substitution", "process_substitution", "arithmetic_expansion"}

_parser = None


def _ts_parser():
    global _parser
    if _parser is None:
        import tree_sitter
        import tree_sitter_bash

        _parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_bash.language()))
    return _parser


@record(slots=True)
class ShellWord:
    raw: str
    value: str  # quotes removed, known variables expanded, unknown parts empty
    start: int  # offsets in the Dockerfile source
    end: int
    known: bool = True  # False if an unknown variable or a command substitution contributed
    quoted: bool = False

    def __str__(self) -> str:
        return self.value


@record(slots=True)
class Redirect:
    op: str  # ">", ">>", "<", "&>", ">|", "<<", "<<-", "<<<"
    fd: int | None
    target: ShellWord | None
    content: str | None = None  # heredoc / herestring text
    start: int = 0
    end: int = 0
    extra: list[ShellWord] = field(default_factory=list)  # `echo >>f a b`: words after the target are arguments


@record(slots=True)
class Command:
    argv: list[ShellWord]
    assignments: dict[str, ShellWord] = field(default_factory=dict)  # VAR=x cmd (this command only)
    redirects: list[Redirect] = field(default_factory=list)
    start: int = 0
    end: int = 0
    stdin: str | None = None  # heredoc/herestring content, or what an echo/printf/cat pipes in
    piped_from: "Command | None" = None
    guarded: bool = False  # failure ignored: `cmd || true`, `cmd || :`
    conditional: bool = False  # runs only on some paths: after `||`, inside if/case/while
    parent: "Command | None" = None  # the `sh -c` / `eval` that ran this command
    env: dict[str, str | None] = field(default_factory=dict)  # variables visible (ARG/ENV/exports)

    name: str = field(default="", init=False)  # basename of argv[0]; set by _unwrap (rules ask for it a lot)

    def __post_init__(self) -> None:
        self.name = posixpath.basename(self.argv[0].value) if self.argv else ""

    @property
    def args(self) -> list[ShellWord]:
        return self.argv[1:]

    def values(self) -> list[str]:
        return [w.value for w in self.argv]

    def output_files(self) -> list[tuple[Redirect, ShellWord]]:
        return [(r, r.target) for r in self.redirects if r.target is not None and r.op in (">", ">>", "&>", ">|", "&>>")]

@record
class Script:
    commands: list[Command]
    exports: dict[str, ShellWord]  # `export X=...` in this RUN (lasts for this RUN only)
    parse_error: bool = False
    inline_code: list[tuple[str, str, int]] = field(default_factory=list)  # (language, code, source offset)


class SourceMap:
    """Maps offsets in a synthesized script back to Dockerfile offsets."""

    def __init__(self, pieces: list[tuple[str, Callable[[int], int]]]):
        self.text = "".join(p for p, _ in pieces)
        self._bounds = []
        pos = 0
        for piece, mapper in pieces:
            self._bounds.append((pos, pos + len(piece), mapper))
            pos += len(piece)
        self._starts = [lo for lo, _, _ in self._bounds]
        self._byte_to_char: list[int] | None = None
        if not self.text.isascii():
            index = []
            for i, ch in enumerate(self.text):
                index.extend([i] * len(ch.encode("utf-8")))
            index.append(len(self.text))
            self._byte_to_char = index
        # The common case (one piece): a plain clamp and shift, no loop.
        self._single = (self._bounds[0][1], self._bounds[0][2]) if len(self._bounds) == 1 else None

    def char(self, byte_offset: int) -> int:
        if self._byte_to_char is None:
            return byte_offset
        return self._byte_to_char[min(byte_offset, len(self._byte_to_char) - 1)]

    def source(self, char_offset: int) -> int:
        if self._single is not None:
            hi, mapper = self._single
            return mapper(char_offset if char_offset < hi else hi)
        if len(self._bounds) == 1:
            lo, hi, mapper = self._bounds[0]
            return mapper(min(char_offset, hi))
        # Binary search over the pieces: a RUN with 10,000 heredocs has 30,000 of them.
        if char_offset >= len(self.text):
            lo, hi, mapper = self._bounds[-1]
            return mapper(min(char_offset, hi) - lo)
        # The last piece starting at or before the offset holds it (pieces are contiguous).
        i = bisect.bisect_right(self._starts, char_offset) - 1
        lo, hi, mapper = self._bounds[max(i, 0)]
        return mapper(char_offset - lo)


def linear(base: int) -> Callable[[int], int]:
    """A plain shift. Built from C parts (partial of operator.add), so the builder can see the shift
    and add it inline instead of calling a Python function for every word offset."""
    return partial(operator.add, base)


def shift_of(mapper: Callable[[int], int]) -> int | None:
    """The constant a mapper adds, when it is a plain shift made by `linear`."""
    if type(mapper) is partial and mapper.func is operator.add and len(mapper.args) == 1 and not mapper.keywords:
        return mapper.args[0]
    return None


class _OverBudget(Exception):
    """The RUN has more shell nodes than the budget allows: keep what was built so far."""


class _Builder:
    def __init__(self, smap: SourceMap, env: dict[str, str | None], depth: int, parent: Command | None,
                 nodes_left: list[int]):
        self.nodes_left = nodes_left  # shared with nested scripts of the same RUN
        self.smap = smap
        self.env = env
        self.depth = depth
        self.parent = parent
        self.commands: list[Command] = []
        self.exports: dict[str, ShellWord] = {}
        self.inline_code: list[tuple[str, str, int]] = []
        self.src = smap.text.encode("utf-8")
        # ASCII text in one piece that is a plain shift (nearly every RUN without continuation lines):
        # byte offset == char offset, and a source offset is one addition.
        self._shift: tuple[int, int] | None = None
        self._piecewise: tuple[int, list[int], list[int]] | None = None  # the same across continuation lines
        if smap._byte_to_char is None and smap._single is not None:
            hi, mapper = smap._single
            delta = shift_of(mapper)
            if delta is not None:
                self._shift = (hi, delta)
            elif type(mapper) is PiecewiseShift:
                self._piecewise = (hi, mapper.starts, mapper.shifts)

    # -- words -------------------------------------------------------------------------------
    def text(self, node) -> str:
        return self.src[node.start_byte : node.end_byte].decode("utf-8", "replace")

    def span(self, node) -> tuple[int, int]:
        return self.byte_span(node.start_byte, node.end_byte)

    def byte_span(self, start_byte: int, end_byte: int) -> tuple[int, int]:
        shift = self._shift
        if shift is not None:
            hi, delta = shift
            s = (start_byte if start_byte < hi else hi) + delta
            if end_byte <= start_byte:
                return s, s
            last = end_byte - 1
            return s, (last if last < hi else hi) + delta + 1
        piecewise = self._piecewise
        if piecewise is not None:
            hi, starts, shifts = piecewise
            first = start_byte if start_byte < hi else hi
            k = bisect.bisect_right(starts, first) - 1
            s = first + shifts[k if k > 0 else 0]
            if end_byte <= start_byte:
                return s, s
            last = end_byte - 1 if end_byte - 1 < hi else hi
            k = bisect.bisect_right(starts, last) - 1
            return s, last + shifts[k if k > 0 else 0] + 1
        smap = self.smap
        if smap._byte_to_char is None and smap._single is not None:
            # ASCII text in one piece (nearly every RUN): byte offset == char offset, one shift.
            hi, mapper = smap._single
            s = mapper(start_byte if start_byte < hi else hi)
            if end_byte <= start_byte:
                return s, s
            last = end_byte - 1
            return s, mapper(last if last < hi else hi) + 1
        s = smap.source(smap.char(start_byte))
        e = smap.source(smap.char(end_byte) - 1) + 1 if end_byte > start_byte else s
        return s, e

    def spend_node(self) -> None:
        self.nodes_left[0] -= 1
        if self.nodes_left[0] < 0:
            raise _OverBudget

    def word(self, node, node_type: str | None = None) -> ShellWord:
        nodes_left = self.nodes_left
        nodes_left[0] -= 1
        if nodes_left[0] < 0:
            raise _OverBudget
        t = node.type if node_type is None else node_type
        start_byte = node.start_byte
        end_byte = node.end_byte
        raw = self.src[start_byte:end_byte].decode("utf-8", "replace")
        start, end = self.byte_span(start_byte, end_byte)
        # A command/process substitution or arithmetic needs `$(`, `$[`, a backquote, `<(` or `>(` in the
        # text; without them skip the subtree walk (most words: `$VAR`, `${VAR}`, plain text).
        dynamic = (
            ("(" in raw and ("$(" in raw or "<(" in raw or ">(" in raw) or "`" in raw or "$[" in raw)
            and node.child_count > 0
            and _contains(node, _CODE_CONTAINERS)
        )
        if dynamic:
            # An unquoted `$(...)` is the word node itself; a quoted one sits inside a string.
            subs = [node] if t in _CODE_CONTAINERS else _descendants(node, _CODE_CONTAINERS)
            for sub in subs:
                self.walk_children(sub, conditional=False)
            if t == "number":
                return ShellWord(raw, raw, start, end)
            quoted = t in ("string", "raw_string", "ansi_c_string") or (
                t == "concatenation" and any(c.type in ("string", "raw_string") for c in node.children)
            )
            return ShellWord(raw, "", start, end, known=False, quoted=quoted)
        if t == "number" or t == "word" and not ("$" in raw or "'" in raw or '"' in raw or "\\" in raw):
            return ShellWord(raw, raw, start, end)  # a plain word (most of them): nothing to expand
        exp = expand(raw, self.env)
        quoted = t in ("string", "raw_string", "ansi_c_string") or (
            t == "concatenation" and any(c.type in ("string", "raw_string") for c in node.children)
        )
        return ShellWord(raw, exp.value, start, end, not exp.unknown, quoted)

    def words(self, node, node_type: str | None = None) -> list[ShellWord]:
        """A word, split into fields when it is an unquoted expansion (as the shell does)."""
        t = node.type if node_type is None else node_type
        word = self.word(node, t)
        if t in ("simple_expansion", "expansion") and word.known and any(c.isspace() for c in word.value):
            return [ShellWord(word.raw, part, word.start, word.end, True, False) for part in word.value.split()]
        return [word]

    # -- statements --------------------------------------------------------------------------
    def walk_children(self, node, conditional: bool, guarded: bool = False) -> None:
        for child in node.named_children:
            self.walk(child, conditional, guarded)

    def walk(self, node, conditional: bool = False, guarded: bool = False, redirects=None, stdin=None) -> list[Command]:
        t = node.type
        if t == "comment":
            return []
        if t == "command":
            return [self.command(node, conditional, guarded, redirects or [], stdin)]
        if t == "redirected_statement":
            body = node.child_by_field_name("body")
            reds = []
            for child in node.children:
                if child is not body:
                    reds.extend(self.redirects(child))
            heredoc = next((r.content for r in reds if r.op in ("<<", "<<-", "<<<")), None)
            if body is None:
                return []
            if body.type == "command":
                return self.walk(body, conditional, guarded, reds, heredoc)
            # `a && b > f`, `a | b > f`: tree-sitter hangs the redirect on the list or pipeline; the
            # shell gives it to the command it follows in the text.
            cmds = self.walk(body, conditional, guarded)
            if cmds:
                for r in reds:
                    owner = max((c for c in cmds if c.start <= r.start), key=lambda c: c.start, default=cmds[-1])
                    owner.redirects.append(r)
                    owner.argv.extend(r.extra)
                    if r.content is not None and owner.stdin is None:
                        owner.stdin = r.content
            return cmds
        if t == "pipeline":
            previous: Command | None = None
            out = []
            for child in node.named_children:
                cmds = self.walk(child, conditional, guarded)
                if cmds and previous is not None:
                    cmds[0].piped_from = previous
                    if cmds[0].stdin is None:
                        cmds[0].stdin = _output_text(previous)
                if cmds:
                    previous = cmds[-1]
                out.extend(cmds)
            return out
        if t == "list":
            out = []
            # tree-sitter-bash nests `a && b && c` to the left, one level per operator: flatten it
            # without recursion, so a 10,000-command chain is no deeper than a short one.
            children = _flat_list(node)
            # `a || b`: b runs only when a fails. The operators group to the left, so `a && b || true`
            # ignores the failure of a and b: every operand before a `|| true` is guarded.
            operands = [c for c in children if c.is_named]
            ops = []  # the operator after each operand ("" for `;`, `&` or none)
            for child in children:
                if child.is_named:
                    ops.append("")
                elif child.type in ("&&", "||") and ops:
                    ops[-1] = child.type
            guards = [False] * len(operands)
            later_guard = False
            for i in range(len(operands) - 1, -1, -1):
                if ops[i] == "||" and i + 1 < len(operands):
                    text = operands[i + 1].text.decode("utf-8", "replace").strip()
                    later_guard = later_guard or text in ("true", ":", "exit 0", "/bin/true")
                guards[i] = later_guard
            next_conditional = conditional
            for i, child in enumerate(operands):
                cmds = self.walk(child, next_conditional, guarded or guards[i])
                out.extend(cmds)
                if ops[i] == "||":
                    next_conditional = True
            return out
        if t == "variable_assignment":
            self.assign(node, export=False)
            return []
        if t == "declaration_command":
            is_export = self.text(node).startswith(("export", "declare -x"))
            for child in node.named_children:
                if child.type == "variable_assignment":
                    self.assign(child, export=is_export)
            return []
        if t in ("if_statement", "while_statement", "for_statement", "case_statement", "elif_clause", "else_clause",
                 "case_item", "c_style_for_statement"):
            out = []
            for child in node.named_children:
                out.extend(self.walk(child, True, guarded))
            return out
        if t == "function_definition":
            return []  # defined, not run; calls appear as commands elsewhere
        out = []
        for child in node.named_children:
            out.extend(self.walk(child, conditional, guarded))
        return out

    def assign(self, node, export: bool) -> None:
        name_node = node.child_by_field_name("name")
        value_node = node.child_by_field_name("value")
        if name_node is None:
            return
        name = self.text(name_node)
        if value_node is not None:
            word = self.word(value_node)
        else:
            start, end = self.span(node)
            word = ShellWord("", "", start, end)
        self.env = Overlay(self.env, {name: word.value if word.known else None})  # commands share snapshots
        if export:
            self.exports[name] = word

    def redirects(self, node) -> list[Redirect]:
        t = node.type
        out: list[Redirect] = []
        if t == "file_redirect":
            fd = None
            op = ""
            target = None
            extra: list[ShellWord] = []
            for child in node.children:
                if child.type == "file_descriptor":
                    fd = int(self.text(child))
                elif not child.is_named:
                    op = child.type
                elif child.type != "file_descriptor":
                    word = self.word(child)
                    # tree-sitter reads `>>f "x"` as two destinations; the shell's target is the first.
                    if target is None:
                        target = word
                    else:
                        extra.append(word)
            s, e = self.span(node)
            out.append(Redirect(op, fd, target, None, s, e, extra))
        elif t == "heredoc_redirect":
            body = next((c for c in node.children if c.type == "heredoc_body"), None)
            op = "<<-" if any(c.type == "<<-" for c in node.children) else "<<"
            content = self.text(body)  # expansions inside are left as written if body is not None else ""
            s, e = self.span(node)
            out.append(Redirect(op, None, None, content, s, e))
            for child in node.named_children:
                if child.type in ("file_redirect", "herestring_redirect"):
                    out.extend(self.redirects(child))
            if body is not None:
                out[0].start = self.span(body)[0]
        elif t == "herestring_redirect":
            target = next((c for c in node.named_children), None)
            word = self.word(target) if target is not None else None
            s, e = self.span(node)
            out.append(Redirect("<<<", None, word, (word.value + "\n") if word else "", s, e))
        return out

    def command(self, node, conditional: bool, guarded: bool, redirects: list[Redirect], stdin: str | None) -> Command:
        self.spend_node()
        assignments: dict[str, ShellWord] = {}
        argv: list[ShellWord] = []
        src = self.src
        nodes_left = self.nodes_left
        for child in node.named_children:
            child_type = child.type
            if child_type == "word":
                # A plain word (most arguments): what word() does for it, without its calls.
                start_byte = child.start_byte
                end_byte = child.end_byte
                raw = src[start_byte:end_byte].decode("utf-8", "replace")
                if not ("$" in raw or "'" in raw or '"' in raw or "\\" in raw or "`" in raw or "(" in raw):
                    nodes_left[0] -= 1
                    if nodes_left[0] < 0:
                        raise _OverBudget
                    start, end = self.byte_span(start_byte, end_byte)
                    argv.append(ShellWord(raw, raw, start, end))
                    continue
                argv.extend(self.words(child, child_type))
            elif child_type == "variable_assignment":
                name_node = child.child_by_field_name("name")
                value_node = child.child_by_field_name("value")
                if name_node is not None:
                    if value_node is not None:
                        assignments[self.text(name_node)] = self.word(value_node)
                    else:
                        s, e = self.span(child)
                        assignments[self.text(name_node)] = ShellWord("", "", s, e)
            elif child_type == "command_name":
                named = child.named_children
                argv.extend(self.words(named[0]) if named else self.words(child, child_type))
            elif child_type in ("file_redirect", "heredoc_redirect", "herestring_redirect"):
                redirects = redirects + self.redirects(child)
            else:
                argv.extend(self.words(child, child_type))
        for r in redirects:
            argv.extend(r.extra)
        start, end = self.span(node)
        env = self.env  # a shared snapshot; assignments make a new one (copy on write)
        if assignments:
            env = Overlay(env, {k: (w.value if w.known else None) for k, w in assignments.items()})
        cmd = Command(argv, assignments, list(redirects), start, end, stdin, None, guarded, conditional, self.parent, env)
        _unwrap(cmd)
        self.commands.append(cmd)
        self.recurse(cmd)
        return cmd

    # -- nested scripts ----------------------------------------------------------------------
    def recurse(self, cmd: Command) -> None:
        if self.depth > 4 or not cmd.argv:
            return
        name = cmd.name
        script_word: ShellWord | None = None
        if name in SHELLS:
            args = cmd.args
            for i, w in enumerate(args):
                if w.value == "-c" or (w.value.startswith("-") and not w.value.startswith("--") and "c" in w.value[1:]):
                    if i + 1 < len(args):
                        script_word = args[i + 1]
                    break
                if not w.value.startswith("-"):
                    break  # `sh script.sh`: a file we cannot see
            else:
                if cmd.stdin is not None:
                    heredoc = next((r for r in cmd.redirects if r.op in ("<<", "<<-")), None)
                    base = heredoc.start if heredoc else cmd.start
                    self.nested(cmd.stdin, linear(base), cmd)
                    return
        elif name == "eval" and cmd.args:
            script_word = cmd.args[0] if len(cmd.args) == 1 else None
            if script_word is None:
                text = " ".join(w.value for w in cmd.args)
                self.nested(text, lambda i, s=cmd.args[0].start: s, cmd)
                return
        elif name == "su" and cmd.args:
            for i, w in enumerate(cmd.args):
                if w.value in ("-c", "--command") and i + 1 < len(cmd.args):
                    script_word = cmd.args[i + 1]
        elif name in ("python", "python3", "python2") or name.startswith("python3."):
            self.python_code(cmd)
        if script_word is not None and script_word.known:
            self.nested(script_word.value, _word_mapper(script_word), cmd)

    def python_code(self, cmd: Command) -> None:
        args = cmd.args
        for i, w in enumerate(args):
            if w.value == "-c" and i + 1 < len(args):
                self.inline_code.append(("python", args[i + 1].value, args[i + 1].start))
                return
        if cmd.stdin is not None and not any(not a.value.startswith("-") for a in args):
            self.inline_code.append(("python", cmd.stdin, cmd.start))

    def nested(self, text: str, mapper: Callable[[int], int], parent: Command) -> None:
        sub = parse_script([(text, mapper)], self.env, self.depth + 1, parent, self.nodes_left)
        self.commands.extend(sub.commands)
        self.inline_code.extend(sub.inline_code)
        for k, w in sub.exports.items():
            self.exports[k] = w


def _word_mapper(word: ShellWord) -> Callable[[int], int]:
    """Exact offsets inside a simple quoted literal; the word's start otherwise."""
    raw = word.raw
    if len(raw) >= 2 and raw[0] in "'\"" and raw[-1] == raw[0] and raw[1:-1] == word.value:
        return linear(word.start + 1)
    if raw == word.value:
        return linear(word.start)
    return lambda i: word.start


def _unwrap(cmd: Command) -> None:
    """`sudo -E env X=1 nohup curl ...` -> argv starts at curl; env assignments kept."""
    for _ in range(8):
        cmd.name = posixpath.basename(cmd.argv[0].value) if cmd.argv else ""
        if not cmd.argv:
            return
        name = cmd.name
        if name == "env":
            rest = cmd.argv[1:]
            while rest and (rest[0].value.startswith("-") or "=" in rest[0].value):
                w = rest.pop(0)
                if "=" in w.value and not w.value.startswith("-"):
                    key, _, val = w.value.partition("=")
                    cmd.assignments[key] = ShellWord(w.raw, val, w.start, w.end, w.known, w.quoted)
                    cmd.env = Overlay(cmd.env, {key: val if w.known else None})  # snapshots are shared
            cmd.argv = rest
        elif name in _WRAPPERS:
            rest = cmd.argv[1:]
            while rest and rest[0].value.startswith("-"):
                flag = rest.pop(0).value
                if name == "sudo" and flag in ("-u", "-g", "-C", "-h", "-p", "-U") and rest:
                    rest.pop(0)
            cmd.argv = rest
        elif name in _WRAPPERS_WITH_ARG:
            rest = cmd.argv[1:]
            while rest and rest[0].value.startswith("-"):
                rest.pop(0)
            cmd.argv = rest[_WRAPPERS_WITH_ARG[name] :]
        else:
            return


_PRINTF_CONVERSION = re.compile(r"%(%|[-+ #0]*[0-9]*(?:\.[0-9]*)?([sbdiouxXcfeEgG]))")


def _printf_escapes(text: str) -> str:
    return text.replace("\\n", "\n").replace("\\t", "\t").replace("\\\\", "\\")


def printf_text(fmt: str, args: list[str], max_rounds: int = 1000) -> str:
    """What printf(1) prints: the format is reused until every argument is consumed (POSIX printf)."""
    fmt = _printf_escapes(fmt)
    out: list[str] = []
    rest = list(args)
    for _ in range(max_rounds):
        used = 0

        def convert(m: re.Match) -> str:
            nonlocal used
            if m.group(1) == "%":
                return "%"
            value = rest[used] if used < len(rest) else ""
            used += 1
            return _printf_escapes(value) if m.group(2) == "b" else value

        out.append(_PRINTF_CONVERSION.sub(convert, fmt))
        rest = rest[used:]
        if not rest or used == 0:
            break
    return "".join(out)


def _output_text(cmd: Command) -> str | None:
    """What `echo`/`printf`/`cat <<EOF` writes to stdout, when it is literal."""
    if cmd.name == "echo":
        words = [w for w in cmd.args if not (w.value in ("-e", "-n", "-E", "-ne", "-en"))]
        return " ".join(w.value for w in words) + "\n"
    if cmd.name == "printf" and cmd.args:
        args = cmd.args[1:] if cmd.args[0].value == "--" and len(cmd.args) > 1 else cmd.args
        return printf_text(args[0].value, [w.value for w in args[1:]])
    if cmd.name == "cat" and not cmd.args and cmd.stdin is not None:
        return cmd.stdin
    return None


def command_output(cmd: Command) -> str | None:
    return _output_text(cmd)


def _flat_list(node) -> list:
    """The operands and operators of nested `list` nodes, in source order (iteratively)."""
    out = []
    todo = [node]
    while todo:
        current = todo.pop()
        if current.type == "list":
            todo.extend(reversed(current.children))
        else:
            out.append(current)
    return out


def _contains(node, types: set[str]) -> bool:
    if node.type in types:
        return True
    return any(_contains(c, types) for c in node.children)


def _descendants(node, types: set[str]) -> Iterator:
    for child in node.children:
        if child.type in types:
            yield child
        else:
            yield from _descendants(child, types)


def parse_script(pieces: list[tuple[str, Callable[[int], int]]], env: Mapping[str, str | None],
                 depth: int = 0, parent: Command | None = None, nodes_left: list[int] | None = None) -> Script:
    """Parse shell text given as (text, offset mapper) pieces into commands.

    Bounded: past the shell-node budget, or nesting deeper than Python's stack, the commands built
    so far are kept, the script is marked as a parse error and the budget notes it once.
    """
    smap = SourceMap(pieces)
    if not smap.text.strip():
        return Script([], {})
    tree = _ts_parser().parse(smap.text.encode("utf-8"))
    budget = _budget.current()
    if nodes_left is None:
        limits = budget.limits if budget is not None else _budget.DEFAULT_LIMITS
        nodes_left = [limits.max_shell_nodes]
    builder = _Builder(smap, env, depth, parent, nodes_left)  # copy on write: never mutated in place
    try:
        builder.walk(tree.root_node)
    except _OverBudget:
        if depth:
            raise
        if budget is not None:
            line, where = budget.where
            budget.note("max_shell_nodes", line, f"{where or 'a RUN'} has more than "
                        f"{budget.limits.max_shell_nodes:,} shell commands and words; the rest is not checked")
        return Script(builder.commands, builder.exports, True, builder.inline_code)
    except RecursionError:
        if depth:
            raise
        if budget is not None:
            line, where = budget.where
            budget.note("nesting", line, f"{where or 'a RUN'} is nested too deeply to analyse; the rest is not checked")
        return Script(builder.commands, builder.exports, True, builder.inline_code)
    return Script(builder.commands, builder.exports, tree.root_node.has_error, builder.inline_code)
