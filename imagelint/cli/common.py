"""What every command of the command line shares, without typer: option checks, rule selection,
writing the report, exit codes. `imagelint lint` runs on these alone (see cli/lint.py), so a plain
lint never imports typer or click.

Exit codes: 0 nothing at or above the fail level; 1 findings (or, for fix, files changed/left);
2 usage error or an input that could not be read or parsed; 3 internal error.
"""
from __future__ import annotations

import os
import sys
from typing import Callable, List, Optional

LINT_FORMATS = ["text", "json", "sarif", "github", "gitlab", "junit", "rdjsonl", "checkstyle"]
FIX_FORMATS = ["text", "json", "github-suggestions"]
TRUST_FORMATS = ["text", "json"]
EXPIRY_FORMATS = ["text", "json", "prometheus"]
FAIL_LEVELS = ["error", "warning", "info"]
RUNTIMES = ["openssl", "go", "java", "python-requests", "node"]


def _echo_err(line: str) -> None:
    """One line on stderr, flushed at once (as click.echo writes it)."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def _fail(message: str) -> SystemExit:
    """Say what is wrong on stderr; the caller raises the returned exit (code 2)."""
    _echo_err(f"imagelint: error: {message}")
    return SystemExit(2)


def _split_ids(values: Optional[List[str]]) -> list[str]:
    out: list[str] = []
    for value in values or []:
        out.extend(v.strip().upper() for v in value.split(",") if v.strip())
    return out


def _build_args(values: Optional[List[str]]) -> dict[str, str]:
    out = {}
    for value in values or []:
        if "=" not in value:
            # `--build-arg NAME` takes the value from the environment, as docker build does.
            if value in os.environ:
                out[value] = os.environ[value]
            continue
        k, _, v = value.partition("=")
        out[k] = v
    return out


def _use_color(no_color: bool, output: Optional[str]) -> bool:
    return not no_color and output is None and "NO_COLOR" not in os.environ and sys.stdout.isatty()


def _emit(text: str, output: Optional[str]) -> None:
    if output:
        try:
            with open(output, "w", encoding="utf-8") as fh:
                fh.write(text)
        except OSError as exc:
            raise _fail(f"{output}: cannot write: {exc.strerror}")
    else:
        sys.stdout.write(text)
        if text and not text.endswith("\n"):
            sys.stdout.write("\n")


def _load_config(config: Optional[str]):
    if not config:
        return None
    from pathlib import Path

    from ..config import load_config_file
    from ..findings import ImagelintError

    try:
        return load_config_file(Path(config))
    except ImagelintError as exc:
        raise _fail(f"{exc.path}: {exc}")


def _fail_level(option: Optional[str], cfg, default, discover_from: Optional[str] = None):
    """--fail-level, else the configuration's (given or discovered from a linted path), else `default`."""
    from ..findings import Severity

    try:
        if option:
            return Severity.parse(option)
    except ValueError as exc:
        raise _fail(str(exc))
    if cfg is None and discover_from is not None:
        from pathlib import Path

        from ..config import find_config
        from ..findings import ImagelintError

        try:
            cfg = find_config(Path(discover_from))
        except ImagelintError:
            cfg = None  # reported once per file by lint itself
    return cfg.fail_level if cfg is not None and cfg.fail_level else default


def _exit_code(findings, errors, fail_level) -> int:
    if any(getattr(e, "internal", False) for e in errors):
        return 3
    if errors:
        return 2
    if any(f.suppression is None and f.severity >= fail_level for f in findings):
        return 1
    return 0


def _rule_selection(select: list[str], ignore: list[str], kinds: Callable[[], set[str]], command: str,
                    allow_empty: bool) -> None:
    """Refuse a --select/--ignore that names no rule (Ruff does the same), and a selection that
    leaves no rule for this command's inputs: both would turn a CI job green for nothing.
    `kinds()` gives the rule kinds the command runs (asked only when there is a selection: it reads
    every rule document)."""
    from ..catalogue import load_catalogue

    docs = load_catalogue()
    for option, values in (("--select", select), ("--ignore", ignore)):
        for value in values:
            if not any(rule.startswith(value) for rule in docs):
                raise _fail(f"{option} {value} matches no rule (ids look like IL110, prefixes like IL1; "
                            "`imagelint rules` lists them)")
    if not select and not ignore:
        return
    kinds = kinds()
    enabled = [d for d in docs.values() if d.kind in kinds
               and (not select or any(d.id.startswith(p) for p in select))
               and not any(d.id.startswith(p) for p in ignore)]
    if enabled:
        return
    other = "`imagelint scan` checks image rules" if "image" not in kinds else "`imagelint lint` checks Dockerfile rules"
    message = f"--select/--ignore leave no rule that `imagelint {command}` runs ({other})"
    if not allow_empty:
        raise _fail(message + "; pass --allow-empty if that is intended")
    _echo_err(f"imagelint: warning: {message}")


def _lint_kinds() -> set[str]:
    from ..catalogue import load_catalogue

    return {d.kind for d in load_catalogue().values()} - {"image"}


def _empty_inputs(empty_dirs: list[str], allow_empty: bool, errors: list) -> None:
    """A directory with no Dockerfile in it is an error (a CI job pointed at the wrong folder must
    not pass), or a warning with --allow-empty."""
    from ..findings import InputError

    for directory in empty_dirs:
        message = ("no Dockerfile or Kubernetes manifest found (looked for Dockerfile, Containerfile, "
                   "*.Dockerfile, Dockerfile.*, and *.yaml/*.yml/*.json with apiVersion and kind, "
                   "outside excluded paths)")
        if allow_empty:
            _echo_err(f"imagelint: warning: {directory}: {message}")
        else:
            errors.append(InputError(directory, message + "; name the file, or pass --allow-empty"))
