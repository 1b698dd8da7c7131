"""pre-commit entry for the `imagelint-fix` hook: apply safe fixes in place.

As pre-commit fixers do, it returns 1 when it changed a file (pre-commit then fails the hook and
the user stages the result), 0 when nothing needed fixing, 2 when a file could not be handled.
"""
from __future__ import annotations

import argparse
import sys


def fix_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="imagelint-fix", description="Apply imagelint's fixes to Dockerfiles in place.")
    parser.add_argument("filenames", nargs="*", help="Dockerfiles to fix")
    parser.add_argument("--unsafe-fixes", action="store_true", help="also apply fixes marked unsafe")
    parser.add_argument("--select", action="append", default=[], help="only these rules (ids or prefixes)")
    parser.add_argument("--ignore", action="append", default=[], help="skip these rules (ids or prefixes)")
    parser.add_argument("--build-arg", action="append", default=[], help="K=V, as for docker build")
    parser.add_argument("--target", default=None, help="the stage that is shipped (default: last)")
    args = parser.parse_args(argv)

    from .commands.fix import fix_paths, render_text
    from .commands.lint import LintOptions

    def ids(values: list[str]) -> list[str]:
        return [v.strip().upper() for value in values for v in value.split(",") if v.strip()]

    build_args = dict(v.partition("=")[::2] for v in args.build_arg if "=" in v)
    options = LintOptions(ids(args.select), ids(args.ignore), build_args, args.target)
    if not args.filenames:
        return 0
    run = fix_paths(args.filenames, options, mode="write", unsafe=args.unsafe_fixes)
    stdout, stderr = render_text(run, "write", args.unsafe_fixes)
    if run.changed or run.errors:
        sys.stdout.write(stdout)
    sys.stderr.write(stderr)
    return run.exit_code()


if __name__ == "__main__":
    raise SystemExit(fix_main())
