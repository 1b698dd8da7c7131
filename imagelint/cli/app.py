"""The command line: wiring and exit codes only. Each command imports what it needs when it runs.

Exit codes: 0 nothing at or above the fail level; 1 findings (or, for fix, files changed/left);
2 usage error or an input that could not be read or parsed; 3 internal error.
"""
from __future__ import annotations

import os
import sys
from typing import List, Optional

import typer

from typer.core import TyperCommand, TyperGroup

from .. import __version__
from .common import EXPIRY_FORMATS, FAIL_LEVELS, FIX_FORMATS, LINT_FORMATS, RUNTIMES, TRUST_FORMATS
from .common import (_build_args, _emit, _empty_inputs, _fail, _lint_kinds,
                     _load_config, _rule_selection, _split_ids)


class _Command(TyperCommand):
    """Usage lines as users read them: `imagelint lint [OPTIONS] PATH...`, not `{paths}...`."""

    def collect_usage_pieces(self, ctx) -> list[str]:
        return [piece[1:-1] if piece.startswith("{") and piece.endswith("}") else piece
                for piece in super().collect_usage_pieces(ctx)]


class _TrustCommand(_Command):
    """`trust` needs one source of the server's certificates: the usage line says so."""

    def collect_usage_pieces(self, ctx) -> list[str]:
        return super().collect_usage_pieces(ctx) + ["(--chain FILE | --connect HOST:PORT | --manifests PATH --workload NAME)"]


class _Group(TyperGroup):
    """Subcommands listed in the order they are learnt, with their whole one-line summary."""

    def list_commands(self, ctx) -> list[str]:
        return list(self.commands)

    def format_commands(self, ctx, formatter) -> None:
        rows = [(name, self.commands[name].get_short_help_str(limit=200)) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


app = typer.Typer(
    name="imagelint",
    help="Find and fix TLS trust-store problems in Dockerfiles and container images.",
    epilog=("\b\nFirst run:\n"
            "  imagelint lint Dockerfile            find the problems\n"
            "  imagelint rules IL201                what a rule means, with examples\n"
            "  imagelint fix --diff Dockerfile      the fixes as a patch\n"
            "\nExit codes: 0 clean, 1 findings (fix: changes), 2 usage or input error, 3 internal error."),
    cls=_Group,
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)

def _choices(values) -> str:
    """The metavar that shows the choices instead of <str>."""
    return "[" + "|".join(values) + "]"


def _examples(*lines: str) -> str:
    # "\b" keeps click from re-wrapping the example lines into one paragraph.
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"imagelint {__version__}")
        raise typer.Exit(0)


@app.callback()
def main_options(
    version: bool = typer.Option(False, "--version", "-V", callback=_version, is_eager=True, help="Show the version and exit."),
) -> None:
    """Find and fix TLS trust-store problems in Dockerfiles and container images."""


_FORMAT_HELP = "Report format."
_SELECT_HELP = "Only these rules: ids or prefixes (IL110, IL1), repeatable or comma-separated."
_IGNORE_HELP = "Skip these rules: ids or prefixes, repeatable or comma-separated."
_ALLOW_EMPTY_HELP = "Warn instead of failing when a directory holds no Dockerfile or the rule selection is empty."


@app.command(
    cls=_Command,
    short_help="Lint Dockerfiles for TLS trust-store problems.",
    epilog=_examples(
        "imagelint lint Dockerfile",
        "imagelint lint --select IL1 --fail-level warning docker/",
        "imagelint lint -f sarif -o imagelint.sarif .",
    ),
)
def lint(
    paths: List[str] = typer.Argument(..., metavar="PATH...", help="Dockerfiles, Kubernetes YAML/JSON files or directories (searched recursively); - for stdin (a Dockerfile or a manifest stream)."),
    format: str = typer.Option("text", "--format", "-f", metavar=_choices(LINT_FORMATS), help=_FORMAT_HELP),
    output: Optional[str] = typer.Option(None, "--output", "-o", metavar="FILE", help="Write the report to FILE."),
    fail_level: Optional[str] = typer.Option(None, "--fail-level", metavar=_choices(FAIL_LEVELS), help="Lowest severity that fails (default: info, or the configuration's)."),
    select: Optional[List[str]] = typer.Option(None, "--select", metavar="RULE", help=_SELECT_HELP),
    ignore: Optional[List[str]] = typer.Option(None, "--ignore", metavar="RULE", help=_IGNORE_HELP),
    build_arg: Optional[List[str]] = typer.Option(None, "--build-arg", metavar="NAME=VALUE", help="As for docker build; NAME alone takes the environment's value."),
    target: Optional[str] = typer.Option(None, "--target", metavar="STAGE", help="The stage that is shipped (default: the last)."),
    config: Optional[str] = typer.Option(None, "--config", metavar="FILE", help="Configuration file (default: the nearest .imagelint.toml or pyproject.toml)."),
    context: Optional[str] = typer.Option(None, "--context", metavar="DIR", help="Build context directory (default: the Dockerfile's)."),
    stdin_filename: Optional[str] = typer.Option(None, "--stdin-filename", metavar="NAME", help="Name to report for -."),
    allow_empty: bool = typer.Option(False, "--allow-empty", help=_ALLOW_EMPTY_HELP),
    no_color: bool = typer.Option(False, "--no-color", help="Never colour the text output."),
    jobs: Optional[int] = typer.Option(None, "--jobs", "-j", min=0, metavar="N", help="Worker processes for 64 files or more (default: IMAGELINT_JOBS, else one per CPU; 1: one process)."),
) -> None:
    """Lint Dockerfiles and Kubernetes manifests for TLS trust-store problems: verification switched
    off, CAs added but never trusted, trust lost between stages or replaced by a mounted bundle,
    bad certificates in the build context and in TLS Secrets."""
    from .lint import run_lint

    raise typer.Exit(run_lint(paths, format, output, fail_level, select, ignore, build_arg, target, config, context,
                              stdin_filename, allow_empty, no_color, jobs))


@app.command(
    cls=_Command,
    short_help="List the rules, or explain some of them with their examples.",
    epilog=_examples(
        "imagelint rules",
        "imagelint rules IL201",
        "imagelint rules IL110 IL111 --format json",
    ),
)
def rules(
    ids: Optional[List[str]] = typer.Argument(None, metavar="[RULE]...", help="Rule ids to explain (default: list all)."),
    format: str = typer.Option("text", "--format", "-f", metavar=_choices(TRUST_FORMATS), help=_FORMAT_HELP),
) -> None:
    """List the rules, or explain some of them: what the rule checks, why, a bad and a good example, the fix."""
    import json

    from ..catalogue import load_catalogue

    if format not in TRUST_FORMATS:
        raise _fail(f"unknown format {format!r} (choose from {', '.join(TRUST_FORMATS)})")
    docs = load_catalogue()
    wanted = _split_ids(ids)
    for rid in wanted:
        if rid not in docs:
            close = sorted(r for r in docs if r.startswith(rid))
            hint = f" (did you mean {', '.join(close[:5])}?)" if close else " (`imagelint rules` lists them)"
            raise _fail(f"unknown rule {rid}{hint}")
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


@app.command(
    cls=_TrustCommand,
    short_help="Would this image trust that server? Per runtime, and if not, why.",
    epilog=_examples(
        "imagelint trust docker-archive:app.tar --connect api.internal:443",
        "imagelint trust oci:build/app --chain server-chain.pem --host api.internal",
        "imagelint trust host --connect example.com:443 --runtime openssl,python-requests",
    ),
)
def trust(
    image: Optional[str] = typer.Argument(None, metavar="IMAGE", help="Image reference (docker-archive:PATH, oci:DIR, docker-daemon:NAME:TAG, docker://REF, NAME:TAG) or 'host' for this machine (not with --manifests)."),
    chain: Optional[str] = typer.Option(None, "--chain", metavar="FILE", help="The certificates the server presents (PEM or DER). One of --chain/--connect is needed (with --workload: optional, the Service's TLS Secret serves)."),
    connect: Optional[str] = typer.Option(None, "--connect", metavar="HOST:PORT", help="Fetch the chain with a TLS handshake. One of --chain/--connect is needed (with --workload: optional, the Service's TLS Secret serves)."),
    host: Optional[str] = typer.Option(None, "--host", metavar="NAME", help="The name clients use (checked against the SANs)."),
    at: Optional[str] = typer.Option(None, "--at", metavar="WHEN", help="Evaluate at this time (2026-12-31, 2026-12-31T12:00:00Z, or +30d)."),
    runtime: Optional[List[str]] = typer.Option(None, "--runtime", metavar=_choices(RUNTIMES), help="Only these runtimes, repeatable or comma-separated (default: all present)."),
    format: str = typer.Option("text", "--format", "-f", metavar=_choices(TRUST_FORMATS), help=_FORMAT_HELP),
    output: Optional[str] = typer.Option(None, "--output", "-o", metavar="FILE", help="Write the report to FILE."),
    timeout: float = typer.Option(10.0, "--timeout", metavar="SECONDS", help="Seconds for --connect."),
    cache_dir: Optional[str] = typer.Option(None, "--cache-dir", metavar="DIR", help="Layer cache directory (default: $XDG_CACHE_HOME/imagelint/layers)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Read every layer, and do not keep what was read."),
    manifests: Optional[str] = typer.Option(None, "--manifests", metavar="PATH", help="Kubernetes manifests (file, directory or -): check a workload of them."),
    workload: Optional[str] = typer.Option(None, "--workload", metavar="[NS/]KIND/NAME", help="The client workload, e.g. payments/deployment/billing."),
    image_option: Optional[str] = typer.Option(None, "--image", "--server-image", metavar="IMAGE",
                                               help="The server's image: name the file it serves the chain from. "
                                                    "With --workload: the client's image, read instead of the container's "
                                                    "(e.g. docker-archive:billing.tar)."),
) -> None:
    """Would this image (this machine, or a workload of these manifests) trust that server? Per
    runtime (OpenSSL, Go, Java, Python requests, Node), and if not, every reason and what to change."""
    from ..findings import ImagelintError
    from ..commands.trust import run_trust, run_workload_trust
    from ..image.cache import layer_cache

    if format not in TRUST_FORMATS:
        raise _fail(f"unknown format {format!r} (choose from {', '.join(TRUST_FORMATS)})")
    runtimes = [r.strip() for value in runtime or [] for r in value.split(",") if r.strip()]
    for name in runtimes:
        if name not in RUNTIMES:
            raise _fail(f"unknown runtime {name!r} (choose from {', '.join(RUNTIMES)})")
    if chain is not None and connect is not None:
        raise _fail("--chain and --connect cannot be combined: give one of them")
    if manifests or workload:
        if not (manifests and workload):
            raise _fail("--manifests and --workload go together")
        if image:
            raise _fail("with --manifests, name the image with --image")
        try:
            code, text = run_workload_trust(manifests, workload, host, image_option, chain, connect, at,
                                            runtimes or None, format, timeout)
        except ImagelintError as exc:
            raise _fail(str(exc.as_input_error(manifests)))
        _emit(text, output)
        raise typer.Exit(code)
    if not image:
        raise _fail("name an image (or 'host'), or give --manifests and --workload")
    if chain is None and connect is None:
        raise _fail("trust needs the server's certificates: add --chain FILE or --connect HOST:PORT")
    try:
        code, text = run_trust(image, chain, connect, host, at, runtimes or None, format, timeout,
                               cache=layer_cache(cache_dir, not no_cache), server_image=image_option)
    except ImagelintError as exc:
        raise _fail(str(exc.as_input_error(image)))
    _emit(text, output)
    raise typer.Exit(code)


@app.command(
    cls=_Command,
    short_help="Fix Dockerfiles: show the changes, print a diff, or write them in place.",
    epilog=_examples(
        "imagelint fix Dockerfile",
        "imagelint fix --diff . | git apply",
        "imagelint fix --write --unsafe-fixes --select IL201 Dockerfile",
    ),
)
def fix(
    paths: List[str] = typer.Argument(..., metavar="PATH...", help="Dockerfiles or directories (searched recursively); - for stdin."),
    diff: bool = typer.Option(False, "--diff", help="Print only a unified diff (for git apply / patch -p1)."),
    write: bool = typer.Option(False, "--write", help="Edit the files in place."),
    unsafe_fixes: bool = typer.Option(False, "--unsafe-fixes", help="Also apply fixes marked unsafe (they may change what the image does)."),
    format: str = typer.Option("text", "--format", "-f", metavar=_choices(FIX_FORMATS), help=_FORMAT_HELP),
    select: Optional[List[str]] = typer.Option(None, "--select", metavar="RULE", help=_SELECT_HELP),
    ignore: Optional[List[str]] = typer.Option(None, "--ignore", metavar="RULE", help=_IGNORE_HELP),
    build_arg: Optional[List[str]] = typer.Option(None, "--build-arg", metavar="NAME=VALUE", help="As for docker build; NAME alone takes the environment's value."),
    target: Optional[str] = typer.Option(None, "--target", metavar="STAGE", help="The stage that is shipped (default: the last)."),
    config: Optional[str] = typer.Option(None, "--config", metavar="FILE", help="Configuration file (default: the nearest .imagelint.toml or pyproject.toml)."),
    context: Optional[str] = typer.Option(None, "--context", metavar="DIR", help="Build context directory (default: the Dockerfile's)."),
    stdin_filename: Optional[str] = typer.Option(None, "--stdin-filename", metavar="NAME", help="Name to report for -."),
    allow_empty: bool = typer.Option(False, "--allow-empty", help=_ALLOW_EMPTY_HELP),
) -> None:
    """Fix Dockerfiles: show the changes (default), print only a diff, or write them in place.
    Safe fixes by default; unsafe ones with --unsafe-fixes; guidance is printed, never applied."""
    from ..commands.fix import fix_paths, render_json, render_suggestions, render_text
    from ..commands.lint import LintOptions

    if diff and write:
        raise _fail("--diff and --write cannot be combined: --diff prints the patch, --write applies it")
    if format not in FIX_FORMATS:
        raise _fail(f"unknown format {format!r} (choose from {', '.join(FIX_FORMATS)})")
    selected, ignored = _split_ids(select), _split_ids(ignore)
    _rule_selection(selected, ignored, _lint_kinds, "fix", allow_empty)
    mode = "write" if write else "diff" if diff else "show"
    cfg = _load_config(config)
    options = LintOptions(selected, ignored, _build_args(build_arg), target, cfg, context)
    run = fix_paths(list(paths), options, mode=mode, unsafe=unsafe_fixes, stdin_name=stdin_filename)
    _empty_inputs(run.empty_dirs, allow_empty, run.errors)
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


@app.command(
    cls=_Command,
    short_help="Every certificate's expiry, soonest first: files, images, manifests, endpoints.",
    epilog=_examples(
        "imagelint expiry certs/ k8s/ingress.yaml",
        "imagelint expiry docker-archive:app.tar api.internal:443 --warn-days 60",
        "imagelint expiry -f prometheus -o /var/lib/node_exporter/imagelint.prom oci:build/app",
    ),
)
def expiry(
    targets: List[str] = typer.Argument(..., metavar="TARGET...", help="Certificate files or directories, Kubernetes manifests, image references, or HOST:PORT."),
    warn_days: int = typer.Option(30, "--warn-days", metavar="DAYS", help="Report certificates expiring within DAYS as 'expiring'."),
    format: str = typer.Option("text", "--format", "-f", metavar=_choices(EXPIRY_FORMATS), help=_FORMAT_HELP),
    output: Optional[str] = typer.Option(None, "--output", "-o", metavar="FILE", help="Write the report to FILE (atomically: safe for node_exporter's textfile collector)."),
    all_certs: bool = typer.Option(False, "--all", help="List public roots of distribution bundles one by one too."),
    at: Optional[str] = typer.Option(None, "--at", metavar="WHEN", help="Judge at this time (2026-12-31, 2026-12-31T12:00:00Z, or +30d)."),
    timeout: float = typer.Option(10.0, "--timeout", metavar="SECONDS", help="Seconds for each HOST:PORT."),
    cache_dir: Optional[str] = typer.Option(None, "--cache-dir", metavar="DIR", help="Layer cache directory (default: $XDG_CACHE_HOME/imagelint/layers)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Read every layer, and do not keep what was read."),
) -> None:
    """Every certificate's expiry, soonest first: certificate files, images, Kubernetes manifests
    and TLS endpoints, for people (text), programs (json) and Prometheus."""
    from ..commands.expiry import run_expiry
    from ..image.cache import layer_cache
    from ..commands.trust import parse_at
    from ..findings import ImagelintError

    try:
        code, text, errors = run_expiry(list(targets), warn_days, format, all_certs, parse_at(at), timeout,
                                        cache=layer_cache(cache_dir, not no_cache))
    except ImagelintError as exc:
        raise _fail(str(exc.as_input_error()))
    for error in errors:
        typer.echo(f"imagelint: error: {error}", err=True)
    if output:
        _write_atomically(output, text)
    else:
        _emit(text, None)
    raise typer.Exit(code)


def _write_atomically(path: str, text: str) -> None:
    """Readers (a textfile collector) see the old file or the new one, never half of one."""
    import tempfile

    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, temp = tempfile.mkstemp(prefix=".imagelint-", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.chmod(temp, 0o644)
            os.replace(temp, path)
        except BaseException:
            os.unlink(temp)
            raise
    except OSError as exc:
        raise _fail(f"{path}: cannot write: {exc.strerror}")


@app.command(
    cls=_Command,
    short_help="Merge the reports of a sharded fleet scan into one.",
    epilog=_examples(
        "imagelint merge shard-1.json shard-2.json shard-3.json -o fleet.json",
        "imagelint merge shard-*.sarif -o fleet.sarif",
    ),
)
def merge(
    reports: List[str] = typer.Argument(..., metavar="REPORT...", help="JSON or SARIF reports of shard scans (one format)."),
    output: Optional[str] = typer.Option(None, "--output", "-o", metavar="FILE", help="Write the merged report to FILE."),
) -> None:
    """Merge the reports of a sharded fleet scan: each finding once (by image digest and fingerprint)."""
    from ..commands.merge import run_merge
    from ..findings import ImagelintError

    try:
        _kind, text = run_merge(list(reports))
    except ImagelintError as exc:
        raise _fail(str(exc))
    if output:
        _write_atomically(output, text)
    else:
        _emit(text, None)
    raise typer.Exit(0)


@app.command(
    cls=_Command,
    short_help="Scan built images: what they really trust, and what is wrong with it.",
    epilog=_examples(
        "imagelint scan docker-archive:app.tar",
        "imagelint scan oci:build/app --dockerfile Dockerfile -f sarif -o scan.sarif",
        "imagelint scan docker://registry.example.com/ --all --shard 1/3 -f json -o shard-1.json",
    ),
)
def scan(
    images: List[str] = typer.Argument(..., metavar="IMAGE...", help="docker-archive:PATH, oci:DIR[:tag], oci-archive:PATH, docker-daemon:NAME:TAG, docker://REGISTRY/REPO:TAG, NAME:TAG."),
    format: str = typer.Option("text", "--format", "-f", metavar=_choices(LINT_FORMATS), help="Report format (--inventory: text or json)."),
    output: Optional[str] = typer.Option(None, "--output", "-o", metavar="FILE", help="Write the report to FILE."),
    fail_level: Optional[str] = typer.Option(None, "--fail-level", metavar=_choices(FAIL_LEVELS), help="Lowest severity that fails (default: warning: info-level notes such as expired public roots a distribution still ships do not fail a scan)."),
    select: Optional[List[str]] = typer.Option(None, "--select", metavar="RULE", help=_SELECT_HELP),
    ignore: Optional[List[str]] = typer.Option(None, "--ignore", metavar="RULE", help=_IGNORE_HELP),
    platform: Optional[str] = typer.Option(None, "--platform", metavar="OS/ARCH[/VARIANT]", help="Platform of a multi-platform image (default: this machine's); 'all' with --all: every platform."),
    ca_file: Optional[str] = typer.Option(None, "--ca-file", metavar="FILE", help="Extra CA (PEM) to verify the registry's TLS certificate."),
    insecure_registry: Optional[List[str]] = typer.Option(None, "--insecure-registry", metavar="HOST[:PORT]", help="A registry reachable over plain HTTP."),
    dockerfile: Optional[str] = typer.Option(None, "--dockerfile", metavar="FILE", help="The Dockerfile that built the image: findings land on its lines."),
    all_images: bool = typer.Option(False, "--all", help="With docker://REGISTRY/: every repository and tag (once per digest)."),
    repo_glob: str = typer.Option("*", "--repo-glob", metavar="GLOB", help="With --all: only repositories matching this glob."),
    tag_glob: str = typer.Option("*", "--tag-glob", metavar="GLOB", help="With --all: only tags matching this glob."),
    shard: Optional[str] = typer.Option(None, "--shard", metavar="I/N", help="Scan only this worker's share (a stable partition by digest)."),
    shards: Optional[int] = typer.Option(None, "--shards", metavar="N", help="N shards, this one from JOB_COMPLETION_INDEX (Kubernetes Indexed Jobs)."),
    progress: bool = typer.Option(False, "--progress", help="Say which image is being scanned, out of how many (quiet in CI)."),
    inventory: bool = typer.Option(False, "--inventory", help="Report what the image trusts (stores, counts, custom CAs) instead of problems."),
    expiring_days: int = typer.Option(30, "--expiring-days", metavar="DAYS", help="Report certificates expiring within this many days."),
    config: Optional[str] = typer.Option(None, "--config", metavar="FILE", help="Configuration file (default: the nearest .imagelint.toml or pyproject.toml)."),
    allow_empty: bool = typer.Option(False, "--allow-empty", help="Warn instead of failing when the rule selection leaves no image rule."),
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress bars (they only show on a terminal anyway)."),
    no_color: bool = typer.Option(False, "--no-color", help="Never colour the text output."),
    cache_dir: Optional[str] = typer.Option(None, "--cache-dir", metavar="DIR", help="Layer cache directory (default: $XDG_CACHE_HOME/imagelint/layers)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Read every layer, and do not keep what was read."),
    timeout: float = typer.Option(600.0, "--timeout", metavar="SECONDS", help="Seconds for everything read from a registry for one image (manifests, config, layers); a stalled or trickling registry is given up on after it."),
) -> None:
    """Scan built images: what they really trust (OS bundle, Java, Python, Node stores), and what is
    wrong with it. Reads the layers; never runs the image."""
    from .scan import run_scan

    raise typer.Exit(run_scan(images, format, output, fail_level, select, ignore, platform, ca_file, insecure_registry,
                              dockerfile, all_images, repo_glob, tag_glob, shard, shards, progress, inventory,
                              expiring_days, config, allow_empty, no_progress, no_color, cache_dir, no_cache, timeout))


def main() -> None:
    """Console entry point: one line for user errors, exit 3 for internal errors."""
    from ..findings import ImagelintError

    try:
        app(prog_name="imagelint", standalone_mode=True)
    except ImagelintError as exc:  # pragma: no cover - commands convert these themselves
        typer.echo(f"imagelint: error: {exc.as_input_error()}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:  # pragma: no cover
        sys.exit(130)


if __name__ == "__main__":  # pragma: no cover
    main()
