"""The command line: wiring and exit codes only. Each command imports what it needs when it runs.

`main` runs a plain `imagelint lint ...` (the call pre-commit, editors and CI make, once per commit
or save) and a plain `imagelint scan ...` without importing typer or click: cli/lint.py and
cli/scan.py parse the options they know. Everything
else, --help and usage errors included, goes to the typer app in cli/app.py.

Exit codes: 0 nothing at or above the fail level; 1 findings (or, for fix, files changed/left);
2 usage error or an input that could not be read or parsed; 3 internal error.
"""
from __future__ import annotations

import gc
import sys


def main() -> None:
    """Console entry point: one line for user errors, exit 3 for internal errors."""
    # A Dockerfile model keeps every word and command until the checks end; at the default threshold
    # (700 allocations) the cyclic collector rescans them so often that it is ~30% of a 40k-line lint.
    gc.set_threshold(50_000, 20, 100)
    args = sys.argv[1:]
    if args[:1] == ["lint"]:
        from .lint import plain_lint_arguments

        options = plain_lint_arguments(args[1:])
        if options is not None:
            sys.exit(_run_plain(options, "lint"))
    if args[:1] == ["scan"]:
        from .scan import plain_scan_arguments

        options = plain_scan_arguments(args[1:])
        if options is not None:
            sys.exit(_run_plain(options, "scan"))
    from .app import main as typer_main

    typer_main()


def _run_plain(options: dict, command: str) -> int:
    """run_lint or run_scan, with the console handling click gives the typer commands (Ctrl-C, a closed pipe)."""
    import errno

    from ..findings import ImagelintError

    if command == "lint":
        from .lint import run_lint as run
    else:
        from .scan import run_scan as run
    try:
        return run(**options)
    except ImagelintError as exc:  # pragma: no cover - commands convert these themselves
        sys.stderr.write(f"imagelint: error: {exc.as_input_error()}\n")
        return 2
    except (EOFError, KeyboardInterrupt):
        sys.stderr.write("\nAborted!\n")  # as click says it
        return 1
    except OSError as exc:
        if exc.errno != errno.EPIPE:
            raise
        sys.stdout = _Pacified(sys.stdout)  # `imagelint lint . | head`: no second error at exit
        return 1


class _Pacified:
    """A stdout whose flush at exit ignores the closed pipe (click's PacifyFlushWrapper)."""

    def __init__(self, wrapped) -> None:
        self.wrapped = wrapped

    def flush(self) -> None:
        try:
            self.wrapped.flush()
        except OSError:
            pass

    def __getattr__(self, name):
        return getattr(self.wrapped, name)
