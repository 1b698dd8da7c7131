"""Differential test: our parser against BuildKit's own (PyPI `dockerfile`, the Go parser via cgo).

For every file of the shared corpus and every Dockerfile under fixtures/ (plus the deliberately
invalid ones in fixtures/parser/invalid/), both parsers must agree on instruction boundaries
(keyword, ONBUILD trigger), first/last line, heredoc names, bodies and file descriptors, builder
flags, exec (JSON) form and its argv, and the shell-form text; and when one raises, so must the
other. Files our decoder rejects before parsing (NUL bytes, invalid UTF-8) count as "ours raises".
"""
from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

import pytest

from imagelint.dockerfile.parse import decode_dockerfile, parse_dockerfile
from imagelint.findings import ImagelintError
from imagelint.commands.lint import is_dockerfile_name

ROOT = Path(__file__).resolve().parents[1]
from corpus import FULL as CORPUS, IN_CI, WHERE, full_corpus, sample_files
_WHEEL_PLATFORM = sys.platform == "linux" and platform.machine() in ("x86_64", "AMD64")

try:
    import dockerfile as buildkit
except ImportError:  # only x86-64 Linux wheels exist
    if IN_CI and _WHEEL_PLATFORM:
        raise
    pytest.skip("the `dockerfile` package (BuildKit's parser) is not installed", allow_module_level=True)

# Keywords whose shell form BuildKit keeps as one string (parseMaybeJSON).
_SHELL_FORM_STRING = {"RUN", "CMD", "ENTRYPOINT", "SHELL"}


def describe_ours(path: Path) -> list[tuple] | str:
    """Comparable tuples per instruction, or 'error: ...' when we reject the file."""
    data = path.read_bytes()
    try:
        text = decode_dockerfile(data, str(path))
        parsed = parse_dockerfile(text, str(path))
    except ImagelintError as exc:
        return f"error: {exc}"
    out = []
    for inst in parsed.instructions:
        sub = inst.sub_instruction
        keyword = inst.keyword
        json_form = inst.json_args is not None
        # BuildKit's Python binding does not expose an ONBUILD trigger's heredocs (only the lines they take).
        heredocs = None if keyword == "ONBUILD" else tuple((h.name, h.content, h.fd) for h in inst.heredocs)
        if json_form:
            value = tuple(inst.json_args)
        elif keyword in _SHELL_FORM_STRING:
            value = (inst.args,) if inst.args else ()
        else:
            value = None
        out.append((
            keyword, sub.keyword if sub else None, inst.line, inst.end_line,
            tuple("--" + f.raw for f in inst.flags), json_form, value, heredocs,
        ))
    return out


def describe_buildkit(path: Path) -> list[tuple] | str:
    data = path.read_bytes()
    try:
        commands = buildkit.parse_string(data.decode("utf-8")) if _is_utf8(data) else buildkit.parse_file(str(path))
    except (buildkit.GoParseError, buildkit.GoIOError) as exc:
        return f"error: {exc}"
    out = []
    for cmd in commands:
        keyword = cmd.cmd.upper()
        value = tuple(cmd.value)
        if cmd.json and keyword == "HEALTHCHECK":
            value = value[1:]  # drop the CMD word
        elif not cmd.json and keyword not in _SHELL_FORM_STRING:
            value = None
        heredocs = None if keyword == "ONBUILD" else tuple((h.name, h.content, h.file_descriptor) for h in cmd.heredocs)
        out.append((
            keyword, cmd.sub_cmd.upper() if cmd.sub_cmd else None, cmd.start_line, cmd.end_line,
            tuple(cmd.flags), cmd.json, value, heredocs,
        ))
    return out


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return b"\x00" not in data


_FIELDS = ("keyword", "onbuild trigger", "line", "end_line", "flags", "json form", "value", "heredocs")


def mismatch(path: Path) -> str | None:
    """None when both parsers agree, otherwise a one-paragraph description of the first difference."""
    ours, theirs = describe_ours(path), describe_buildkit(path)
    if isinstance(ours, str) or isinstance(theirs, str):
        if isinstance(ours, str) and isinstance(theirs, str):
            return None
        return f"{path}: imagelint says {_short(ours)}, BuildKit says {_short(theirs)}"
    for ours_inst, theirs_inst in zip(ours, theirs):
        if ours_inst != theirs_inst:
            diffs = [
                f"{name}: ours={a!r} buildkit={b!r}"
                for name, a, b in zip(_FIELDS, ours_inst, theirs_inst) if a != b
            ]
            return f"{path}:{theirs_inst[2]}: {theirs_inst[0]}: " + "; ".join(diffs)
    if len(ours) != len(theirs):
        return f"{path}: {len(ours)} instructions here, {len(theirs)} in BuildKit"
    return None


def _short(described) -> str:
    if isinstance(described, str):
        return described
    return f"{len(described)} instructions"


def _corpus_directories() -> list[Path]:
    if not CORPUS.is_dir():
        if IN_CI:
            return [CORPUS]  # the test then fails on the missing directory
        return [pytest.param(CORPUS, marks=pytest.mark.skip(reason=WHERE))]
    return sorted(p for p in CORPUS.iterdir() if p.is_dir())


def _fixture_files() -> list[Path]:
    fixtures = ROOT / "fixtures"
    files = {p for p in fixtures.rglob("*") if p.is_file() and is_dockerfile_name(p.name)}
    files |= {p for p in (fixtures / "parser").rglob("*") if p.is_file()}
    return sorted(files)


@pytest.mark.parametrize("directory", _corpus_directories(), ids=lambda p: p.name)
def test_corpus_directory_parses_like_buildkit(directory: Path):
    assert directory.is_dir(), WHERE
    files = sorted(p for p in directory.rglob("*") if p.is_file())
    assert files, f"no files in {directory}"
    problems = [m for m in map(mismatch, files) if m]
    assert not problems, f"{len(problems)} of {len(files)} files differ from BuildKit:\n" + "\n".join(problems)


def test_shared_corpus_is_present():
    assert sum(1 for p in full_corpus().rglob("*") if p.is_file()) > 1000


def test_vendored_corpus_sample_parses_like_buildkit():
    """Runs on a plain clone: 50 real Dockerfiles vendored under tests/data/corpus."""
    files = sample_files()
    problems = [m for m in map(mismatch, files) if m]
    assert not problems, f"{len(problems)} of {len(files)} files differ from BuildKit:\n" + "\n".join(problems)


@pytest.mark.parametrize("path", _fixture_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_fixture_parses_like_buildkit(path: Path):
    assert mismatch(path) is None, mismatch(path)


def test_fixtures_cover_the_parser_edge_cases():
    # The hand-written cases must stay in the differential set.
    names = {p.relative_to(ROOT / "fixtures" / "parser").as_posix() for p in _fixture_files() if "parser" in p.parts}
    for expected in (
        "escape-backtick.Dockerfile", "heredoc-chomp.Dockerfile", "heredoc-quoted.Dockerfile",
        "heredoc-multiple.Dockerfile", "heredoc-copy.Dockerfile", "heredoc-fd.Dockerfile",
        "continuation-comments.Dockerfile", "continuation-at-eof.Dockerfile", "crlf.Dockerfile",
        "bom.Dockerfile", "directives.Dockerfile", "directives-after-blank.Dockerfile", "flags.Dockerfile",
        "exec-form.Dockerfile", "onbuild-healthcheck.Dockerfile", "invalid/unknown-instruction.txt",
        "invalid/unterminated-heredoc.txt",
    ):
        assert expected in names


@pytest.mark.parametrize("name", ["unterminated-heredoc.txt", "json-not-strings.txt", "duplicate-directive.txt", "comments-only.txt"])
def test_both_parsers_reject_invalid_fixtures(name: str):
    path = ROOT / "fixtures" / "parser" / "invalid" / name
    assert str(describe_ours(path)).startswith("error: ")
    assert str(describe_buildkit(path)).startswith("error: ")


def test_unknown_instruction_parses_in_both():
    # BuildKit's parser accepts unknown keywords (the build rejects them later); so does ours,
    # and `imagelint lint` reports them (tests/test_bad_input.py).
    path = ROOT / "fixtures" / "parser" / "invalid" / "unknown-instruction.txt"
    ours, theirs = describe_ours(path), describe_buildkit(path)
    assert ours[-1][0] == theirs[-1][0] == "COPYY"
