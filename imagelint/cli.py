"""The command line: wiring and exit codes only. Each command imports what it needs when it runs.

Exit codes: 0 nothing at or above the fail level; 1 findings (or, for fix, files changed/left);
2 usage error or an input that could not be read or parsed; 3 internal error.
"""
from __future__ import annotations

import os
import sys
from typing import List, Optional

import typer

from . import __version__

app = typer.Typer(
    name="imagelint",
    help="Find and fix TLS trust-store problems in Dockerfiles and container images.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

LINT_FORMATS = ["text", "json", "sarif", "github", "gitlab", "junit", "rdjsonl", "checkstyle"]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"imagelint {__version__}")
        raise typer.Exit(0)


@app.callback()
def main_options(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version and exit."),
) -> None:
    """Find and fix TLS trust-store problems in Dockerfiles and container images."""


def _fail(message: str) -> "typer.Exit":
    typer.echo(f"imagelint: error: {message}", err=True)
    return typer.Exit(2)


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

    from .config import load_config_file
    from .findings import ImagelintError

    try:
        return load_config_file(Path(config))
    except ImagelintError as exc:
        raise _fail(f"{exc.path}: {exc}")


def _fail_level(option: Optional[str], cfg, default, discover_from: Optional[str] = None):
    """--fail-level, else the configuration's (given or discovered from a linted path), else `default`."""
    from .findings import Severity

    try:
        if option:
            return Severity.parse(option)
    except ValueError as exc:
        raise _fail(str(exc))
    if cfg is None and discover_from is not None:
        from pathlib import Path

        from .config import find_config
        from .findings import ImagelintError

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


@app.command()
def lint(
    paths: List[str] = typer.Argument(..., help="Dockerfiles or directories (searched recursively); - for stdin."),
    format: str = typer.Option("text", "--format", "-f", help="text|json|sarif|github|gitlab|junit|rdjsonl|checkstyle"),
    output: Optional[str] = typer.Option(None, "--output", "-o", help="Write the report to FILE."),
    fail_level: Optional[str] = typer.Option(None, "--fail-level", help="error|warning|info (default: info)."),
    select: Optional[List[str]] = typer.Option(None, "--select", help="Only these rules (ids or prefixes)."),
    ignore: Optional[List[str]] = typer.Option(None, "--ignore", help="Skip these rules (ids or prefixes)."),
    build_arg: Optional[List[str]] = typer.Option(None, "--build-arg", help="K=V, as for docker build."),
    target: Optional[str] = typer.Option(None, "--target", help="The stage that is shipped (default: last)."),
    config: Optional[str] = typer.Option(None, "--config", help="Configuration file (default: discovered)."),
    context: Optional[str] = typer.Option(None, "--context", help="Build context directory (default: the Dockerfile's)."),
    stdin_filename: Optional[str] = typer.Option(None, "--stdin-filename", help="Name to report for -."),
    no_color: bool = typer.Option(False, "--no-color", help="Never colour the text output."),
) -> None:
    """Lint Dockerfiles for TLS trust-store problems."""
    from .findings import Severity
    from .commands.lint import LintOptions, lint_paths
    from .report import Report, render

    if format not in LINT_FORMATS:
        raise _fail(f"unknown format {format!r} (choose from {', '.join(LINT_FORMATS)})")
    cfg = _load_config(config)
    first_path = next((p for p in paths if p != "-"), ".")
    level = _fail_level(fail_level, cfg, Severity.INFO, discover_from=first_path)
    options = LintOptions(_split_ids(select), _split_ids(ignore), _build_args(build_arg), target, cfg, context)
    result = lint_paths(list(paths), options, stdin_name=stdin_filename)
    from .catalogue import load_catalogue

    report = Report(result.findings, result.errors, load_catalogue(), result.sources, __version__, "file", result.files_checked)
    _emit(render(format, report, color=_use_color(no_color, output)), output)
    for error in result.errors:
        if format != "text":
            typer.echo(f"imagelint: {error}", err=True)
    raise typer.Exit(_exit_code(result.findings, result.errors, level))


@app.command()
def rules(
    ids: Optional[List[str]] = typer.Argument(None, help="Rule ids to explain (default: list all)."),
    format: str = typer.Option("text", "--format", "-f", help="text|json"),
) -> None:
    """List the rules, or explain some of them with their examples."""
    import json

    from .catalogue import load_catalogue

    docs = load_catalogue()
    wanted = _split_ids(ids)
    for rid in wanted:
        if rid not in docs:
            raise _fail(f"unknown rule {rid}")
    if format == "json":
        selected = [docs[r] for r in (wanted or sorted(docs))]
        typer.echo(json.dumps([
            {"id": d.id, "name": d.name, "title": d.title, "category": d.category, "severity": str(d.severity),
             "kind": d.kind, "fix": d.fix, "references": d.references} for d in selected
        ], indent=2))
        return
    if not wanted:
        width = max(len(d.name) for d in docs.values())
        for d in sorted(docs.values(), key=lambda d: d.id):
            typer.echo(f"{d.id}  {d.name:<{width}}  {str(d.severity):<7}  {d.kind:<10}  {d.category:<24}  {d.title}")
        return
    for i, rid in enumerate(wanted):
        d = docs[rid]
        if i:
            typer.echo("\n" + "-" * 72 + "\n")
        typer.echo(f"{d.id} {d.name}: {d.title}")
        typer.echo(f"category: {d.category}   severity: {d.severity}   kind: {d.kind}   fix: {d.fix}\n")
        typer.echo(d.body.strip())


@app.command()
def trust(
    image: str = typer.Argument(..., help="Image reference (docker-archive:, oci:, docker-daemon:, docker://, name:tag) or 'host'."),
    chain: Optional[str] = typer.Option(None, "--chain", help="The certificates the server presents (PEM or DER)."),
    connect: Optional[str] = typer.Option(None, "--connect", help="HOST:PORT: fetch the chain with a TLS handshake."),
    host: Optional[str] = typer.Option(None, "--host", help="The name clients use (checked against the SANs)."),
    at: Optional[str] = typer.Option(None, "--at", help="Evaluate at this time (ISO 8601, or +30d)."),
    runtime: Optional[List[str]] = typer.Option(None, "--runtime", help="openssl|go|java|python-requests|node (default: all present)."),
    format: str = typer.Option("text", "--format", "-f", help="text|json"),
    output: Optional[str] = typer.Option(None, "--output", "-o", help="Write the report to FILE."),
    timeout: float = typer.Option(10.0, "--timeout", help="Seconds for --connect."),
) -> None:
    """Would this image trust that server? Per runtime, and if not, exactly why."""
    from .findings import ImagelintError
    from .commands.trust import run_trust

    runtimes = [r for value in runtime or [] for r in value.split(",") if r]
    try:
        code, text = run_trust(image, chain, connect, host, at, runtimes or None, format, timeout)
    except ImagelintError as exc:
        raise _fail(str(exc.as_input_error(image)))
    _emit(text, output)
    raise typer.Exit(code)


@app.command()
def fix(
    paths: List[str] = typer.Argument(..., help="Dockerfiles or directories (searched recursively); - for stdin."),
    diff: bool = typer.Option(False, "--diff", help="Print only a unified diff (for git apply / patch -p1)."),
    write: bool = typer.Option(False, "--write", help="Edit the files in place."),
    unsafe_fixes: bool = typer.Option(False, "--unsafe-fixes", help="Also apply fixes marked unsafe."),
    format: str = typer.Option("text", "--format", "-f", help="text|json|github-suggestions"),
    select: Optional[List[str]] = typer.Option(None, "--select", help="Only these rules (ids or prefixes)."),
    ignore: Optional[List[str]] = typer.Option(None, "--ignore", help="Skip these rules (ids or prefixes)."),
    build_arg: Optional[List[str]] = typer.Option(None, "--build-arg", help="K=V, as for docker build."),
    target: Optional[str] = typer.Option(None, "--target", help="The stage that is shipped (default: last)."),
    config: Optional[str] = typer.Option(None, "--config", help="Configuration file (default: discovered)."),
    context: Optional[str] = typer.Option(None, "--context", help="Build context directory (default: the Dockerfile's)."),
    stdin_filename: Optional[str] = typer.Option(None, "--stdin-filename", help="Name to report for -."),
) -> None:
    """Fix Dockerfiles: show the changes (default), print a diff, or write them in place."""
    from .commands.fix import FORMATS as FIX_FORMATS
    from .commands.fix import fix_paths, render_json, render_suggestions, render_text
    from .commands.lint import LintOptions

    if diff and write:
        raise _fail("--diff and --write cannot be combined")
    if format not in FIX_FORMATS:
        raise _fail(f"unknown format {format!r} (choose from {', '.join(FIX_FORMATS)})")
    mode = "write" if write else "diff" if diff else "show"
    cfg = _load_config(config)
    options = LintOptions(_split_ids(select), _split_ids(ignore), _build_args(build_arg), target, cfg, context)
    run = fix_paths(list(paths), options, mode=mode, unsafe=unsafe_fixes, stdin_name=stdin_filename)
    if format == "json":
        sys.stdout.write(render_json(run, mode))
        for error in run.errors:
            typer.echo(f"imagelint: error: {error}", err=True)
    elif format == "github-suggestions":
        sys.stdout.write(render_suggestions(run, unsafe_fixes))
        for error in run.errors:
            typer.echo(f"imagelint: error: {error}", err=True)
    else:
        stdout, stderr = render_text(run, mode, unsafe_fixes)
        sys.stdout.write(stdout)
        sys.stderr.write(stderr)
    sys.stdout.flush()
    raise typer.Exit(run.exit_code())


@app.command()
def scan(
    images: List[str] = typer.Argument(..., help="Image references: docker-archive:PATH, oci:DIR[:tag], oci-archive:PATH, docker-daemon:name:tag, docker://registry/repo:tag, name:tag."),
    format: str = typer.Option("text", "--format", "-f", help="text|json|sarif|github|gitlab|junit|rdjsonl|checkstyle (--inventory: text|json)"),
    output: Optional[str] = typer.Option(None, "--output", "-o", help="Write the report to FILE."),
    fail_level: Optional[str] = typer.Option(None, "--fail-level", help="error|warning|info (default: warning: info-level notes such as expired public roots a distribution still ships do not fail a scan)."),
    select: Optional[List[str]] = typer.Option(None, "--select", help="Only these rules (ids or prefixes)."),
    ignore: Optional[List[str]] = typer.Option(None, "--ignore", help="Skip these rules (ids or prefixes)."),
    platform: Optional[str] = typer.Option(None, "--platform", help="os/arch[/variant] of a multi-platform image (default: this machine's)."),
    ca_file: Optional[str] = typer.Option(None, "--ca-file", help="Extra CA (PEM) to verify the registry's TLS certificate."),
    insecure_registry: Optional[List[str]] = typer.Option(None, "--insecure-registry", help="HOST[:PORT] reachable over plain HTTP."),
    dockerfile: Optional[str] = typer.Option(None, "--dockerfile", help="The Dockerfile that built the image: findings land on its lines."),
    inventory: bool = typer.Option(False, "--inventory", help="Report what the image trusts (stores, counts, custom CAs) instead of problems."),
    expiring_days: int = typer.Option(30, "--expiring-days", help="Report certificates expiring within this many days."),
    config: Optional[str] = typer.Option(None, "--config", help="Configuration file (default: discovered)."),
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress bars (they only show on a terminal anyway)."),
    no_color: bool = typer.Option(False, "--no-color", help="Never colour the text output."),
    timeout: float = typer.Option(600.0, "--timeout", help="Seconds for everything read from a registry for one image (manifests, config, layers); a stalled or trickling registry is given up on after it."),
) -> None:
    """Scan built images: what they really trust, and what is wrong with it."""
    from .findings import Severity
    from .report import Report, render
    from .commands.scan import ScanOptions, render_inventory, scan_images, show_progress

    allowed = ["text", "json"] if inventory else LINT_FORMATS
    if format not in allowed:
        raise _fail(f"unknown format {format!r}{' for --inventory' if inventory else ''} (choose from {', '.join(allowed)})")
    if ca_file and not os.path.isfile(ca_file):
        raise _fail(f"{ca_file}: --ca-file does not exist")
    cfg = _load_config(config)
    level = _fail_level(fail_level, cfg, Severity.WARNING)
    options = ScanOptions(_split_ids(select), _split_ids(ignore), platform, ca_file, list(insecure_registry or []),
                          dockerfile, expiring_days, show_progress(no_progress), cfg, inventory,
                          timeout if timeout > 0 else None)
    result = scan_images(list(images), options)
    for error in result.errors:
        typer.echo(f"imagelint: error: {error}", err=True)
    if not result.images:
        raise typer.Exit(2)
    if inventory:
        _emit(render_inventory(result.inventories, format), output)
        raise typer.Exit(2 if result.errors else 0)
    from .catalogue import load_catalogue

    shown = result.images[0] if len(result.images) == 1 else ", ".join(result.images)
    report = Report(result.findings, [], load_catalogue(), result.sources, __version__, "image",
                    len(result.images), image=shown)
    _emit(render(format, report, color=_use_color(no_color, output)), output)
    raise typer.Exit(_exit_code(result.findings, result.errors, level))


def main() -> None:
    """Console entry point: one line for user errors, exit 3 for internal errors."""
    from .findings import ImagelintError

    try:
        app(standalone_mode=True)
    except ImagelintError as exc:  # pragma: no cover - commands convert these themselves
        typer.echo(f"imagelint: error: {exc.as_input_error()}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:  # pragma: no cover
        sys.exit(130)


if __name__ == "__main__":  # pragma: no cover
    main()
