"""`imagelint lint` without typer: what the command does once its options are known, and a parser
for the plain invocations pre-commit, editors and CI make (`imagelint lint [-f FORMAT] ... FILE...`).

Anything the plain parser does not know (--help, `--`, an unknown or abbreviated option, a missing
value or path) goes to the typer app, so help, usage errors and every option behave as they do there.
"""
from __future__ import annotations

from typing import List, Optional

from .common import (LINT_FORMATS, _build_args, _echo_err, _emit, _empty_inputs, _exit_code, _fail,
                     _fail_level, _lint_kinds, _load_config, _rule_selection, _split_ids, _use_color)
from .plain import parse_plain

# `imagelint lint` options: (long, short) -> run_lint keyword. Keep in step with cli/app.py's `lint`.
_VALUE_OPTIONS = {"--format": "format", "-f": "format", "--output": "output", "-o": "output",
                  "--fail-level": "fail_level", "--target": "target", "--config": "config",
                  "--context": "context", "--stdin-filename": "stdin_filename"}
_LIST_OPTIONS = {"--select": "select", "--ignore": "ignore", "--build-arg": "build_arg"}
_INT_OPTIONS = {"--jobs": "jobs", "-j": "jobs"}
_FLAGS = {"--allow-empty": "allow_empty", "--no-color": "no_color"}


def plain_lint_arguments(args: list[str]) -> dict | None:
    """run_lint's keywords for the arguments after `lint`, or None when typer must parse them."""
    return parse_plain(args, "paths", values=_VALUE_OPTIONS, flags=_FLAGS, lists=_LIST_OPTIONS, ints=_INT_OPTIONS,
                       dash_is_positional=True)


def run_lint(paths: List[str], format: str = "text", output: Optional[str] = None, fail_level: Optional[str] = None,
             select: Optional[List[str]] = None, ignore: Optional[List[str]] = None,
             build_arg: Optional[List[str]] = None, target: Optional[str] = None, config: Optional[str] = None,
             context: Optional[str] = None, stdin_filename: Optional[str] = None, allow_empty: bool = False,
             no_color: bool = False, jobs: Optional[int] = None) -> int:
    """Lint, write the report, say the errors on stderr; the exit code (a usage error raises SystemExit(2))."""
    from .. import __version__
    from ..catalogue import load_catalogue
    from ..commands.lint import LintOptions, lint_paths
    from ..findings import Severity
    from ..report import Report, render

    if format not in LINT_FORMATS:
        raise _fail(f"unknown format {format!r} (choose from {', '.join(LINT_FORMATS)})")
    selected, ignored = _split_ids(select), _split_ids(ignore)
    _rule_selection(selected, ignored, _lint_kinds, "lint", allow_empty)
    cfg = _load_config(config)
    first_path = next((p for p in paths if p != "-"), ".")
    level = _fail_level(fail_level, cfg, Severity.INFO, discover_from=first_path)
    options = LintOptions(selected, ignored, _build_args(build_arg), target, cfg, context, jobs)
    result = lint_paths(list(paths), options, stdin_name=stdin_filename)
    _empty_inputs(result.empty_dirs, allow_empty, result.errors)
    for note in result.notes:
        _echo_err(f"imagelint: note: {note}")
    report = Report(result.findings, result.errors, load_catalogue(), result.sources, __version__, "file", result.files_checked)
    _emit(render(format, report, color=_use_color(no_color, output)), output)
    # The report keeps errors where its format has a place for them; the human line goes to stderr.
    for error in result.errors:
        _echo_err(f"imagelint: error: {error}")
    return _exit_code(result.findings, result.errors, level)
