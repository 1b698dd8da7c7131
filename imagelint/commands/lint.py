"""`imagelint lint`: discover Dockerfiles, parse, model, run checks, apply policy.

Data flows one way: text -> parse -> model -> checks -> findings -> config/pragmas -> report.
"""
from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..checks.context import CheckContext
from ..checks.runner import run_checks, to_findings
from ..config import Config, find_config
from ..dockerfile.model import DockerfileModel, build_model
from ..dockerfile.parse import decode_dockerfile, parse_dockerfile
from ..findings import Finding, ImagelintError, InputError, Suppression
from ..fs.regular import read_regular_file, read_stream
from ..pragmas import Suppressor

_SKIP_DIRS = {".git", ".hg", ".svn", "node_modules", ".venv", "venv", "__pycache__", ".tox", ".mypy_cache", ".pytest_cache"}
MAX_BYTES = 64 * 1024 * 1024


def is_dockerfile_name(name: str) -> bool:
    lower = name.lower()
    return (
        lower in ("dockerfile", "containerfile")
        or lower.endswith(".dockerfile")
        or lower.startswith(("dockerfile.", "containerfile."))
    )


class InternalCheckError(Exception):
    """Some checks crashed; the findings of the others are still valid."""

    def __init__(self, findings, model, errors):
        super().__init__(errors[0].message)
        self.findings, self.model, self.errors = findings, model, errors


@dataclass
class LintOptions:
    select: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    build_args: dict[str, str] = field(default_factory=dict)
    target: str | None = None
    config: Config | None = None  # explicit --config; otherwise discovered per file
    context_dir: str | None = None


@dataclass
class LintResult:
    findings: list[Finding] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    files_checked: int = 0


def discover(paths: list[str], errors: list[InputError], config: Config | None = None) -> list[str]:
    """Expand directories into Dockerfiles (recursively); keep explicit files as given."""
    out: list[str] = []
    for path in paths:
        if path == "-":
            out.append(path)
            continue
        if os.path.isdir(path):
            cfg = config or find_config(Path(path))
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not _excluded(os.path.join(root, d), cfg))
                for name in sorted(files):
                    full = os.path.join(root, name)
                    if is_dockerfile_name(name) and not _excluded(full, cfg):
                        out.append(full)
        elif os.path.exists(path):
            out.append(path)
        else:
            errors.append(InputError(path, "no such file or directory"))
    return out


def _excluded(path: str, cfg: Config) -> bool:
    if not cfg.exclude:
        return False
    rel = cfg._relative(path)
    return any(fnmatch.fnmatch(rel, pat) or fnmatch.fnmatch(os.path.basename(path), pat) for pat in cfg.exclude)


def read_source(path: str, stdin_text: str | None = None) -> str:
    """A Dockerfile's text: a regular file of at most MAX_BYTES (a FIFO or device is an error, not a hang)."""
    if path == "-" or stdin_text is not None:
        return stdin_text if stdin_text is not None else read_stdin()
    return decode_dockerfile(read_regular_file(path, MAX_BYTES), path)


def read_stdin(shown: str = "-") -> str:
    """Standard input as bytes, decoded like a file (invalid UTF-8 is a one-line error), at most MAX_BYTES."""
    import sys

    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:  # a text stream swapped in (tests): no size trouble there
        return sys.stdin.read()
    return decode_dockerfile(read_stream(stream, MAX_BYTES, shown), shown)


def lint_text(text: str, path: str, options: LintOptions, config: Config | None = None) -> tuple[list[Finding], DockerfileModel]:
    """Lint one Dockerfile's text. Raises ImagelintError for input BuildKit would reject."""
    cfg = config or options.config or (find_config(Path(path)) if path != "-" else Config())
    parsed = parse_dockerfile(text, path)
    build_args = dict(cfg.build_args)
    build_args.update(options.build_args)
    model = build_model(parsed, build_args, options.target, cfg.limits)
    if model.unknown_instructions:
        inst = model.unknown_instructions[0]
        raise ImagelintError(f"unknown instruction: {inst.original_keyword}", path=path, line=inst.line)
    context_dir = options.context_dir or (os.path.dirname(os.path.abspath(path)) if path != "-" else None)
    ctx = CheckContext(model, cfg, context_dir)
    run = run_checks("dockerfile", (model, ctx), lambda rule: cfg.enabled(rule, path, options.select, options.ignore))
    internal = [InputError(path, message, internal=True) for message in run.errors]
    findings = to_findings(run.hits, lambda hit: path, cfg.severity)
    suppressor = Suppressor(parsed)
    for finding in findings:
        pragma = suppressor.match(finding.rule, finding.line)
        if pragma is not None:
            finding.suppression = Suppression("inSource", pragma.reason)
    findings.sort(key=Finding.sort_key)
    limit = cfg.limits.max_findings
    if len(findings) > limit:
        model.budget_notes.append((findings[limit].line, f"more than {limit:,} findings; {len(findings) - limit:,} not listed"))
        del findings[limit:]
    if internal:
        raise InternalCheckError(findings, model, internal)
    return findings, model


def _lint_one(path: str, options: LintOptions, stdin_text: str | None, stdin_name: str | None):
    """(shown name, source text or None, findings, errors, 1 if checked else 0) for one input."""
    shown = (stdin_name or "-") if path == "-" else path
    text = None
    try:
        if path == "-":
            text = stdin_text if stdin_text is not None else read_stdin(shown)
        else:
            text = read_source(path)
        cfg = options.config or (find_config(Path(stdin_name or ".")) if path == "-" else find_config(Path(path)))
        findings, model = lint_text(text, shown, options, cfg)
        return shown, text, findings, _budget_errors(shown, model), 1
    except InternalCheckError as exc:
        return shown, text, exc.findings, _budget_errors(shown, exc.model) + exc.errors, 1
    except ImagelintError as exc:
        return shown, text, [], [exc.as_input_error(shown)], 0
    except RecursionError:
        return shown, text, [], [InputError(shown, "input too deeply nested to analyse")], 0


def _budget_errors(shown: str, model: DockerfileModel) -> list[InputError]:
    """One line per work budget the file hit (its other findings still stand)."""
    return [InputError(shown, message, line or None) for line, message in model.budget_notes]


_worker_options: LintOptions | None = None


def _worker(path: str):
    assert _worker_options is not None
    return _lint_one(path, _worker_options, None, None)


PARALLEL_MIN_FILES = 64


def _parallel_results(files: list[str], options: LintOptions):
    """Lint many files on every CPU (forked workers share the loaded modules); order is kept."""
    import multiprocessing

    global _worker_options
    _worker_options = options
    workers = min(os.cpu_count() or 1, 8)
    context = multiprocessing.get_context("fork")
    with context.Pool(workers) as pool:
        yield from pool.imap(_worker, files, chunksize=16)


def lint_paths(paths: list[str], options: LintOptions, stdin_text: str | None = None, stdin_name: str | None = None) -> LintResult:
    result = LintResult()
    files = discover(paths, result.errors, options.config)
    parallel = (len(files) >= PARALLEL_MIN_FILES and "-" not in files and (os.cpu_count() or 1) > 1
                and os.environ.get("IMAGELINT_JOBS") != "1")
    outcomes = _parallel_results(files, options) if parallel else (
        _lint_one(path, options, stdin_text, stdin_name) for path in files)
    for shown, text, findings, errors, checked in outcomes:
        if text is not None:
            result.sources[shown] = text
        result.findings.extend(findings)
        result.errors.extend(errors)
        result.files_checked += checked
    return result
