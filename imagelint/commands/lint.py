"""`imagelint lint`: discover Dockerfiles, parse, model, run checks, apply policy.

Data flows one way: text -> parse -> model -> checks -> findings -> config/pragmas -> report.
"""
from __future__ import annotations

import fnmatch
import os
from ..records import record, field
from pathlib import Path

from ..checks.context import CheckContext
from ..checks.runner import run_checks, to_findings
from ..config import Config, find_config
from ..dockerfile.context import unreadable_context
from ..dockerfile.model import DockerfileModel, build_model
from ..dockerfile.parse import parse_dockerfile
from ..findings import Finding, ImagelintError, InputError, Suppression
from ..pragmas import Suppressor
from .inputs import read_source, read_stdin

_SKIP_DIRS = {".git", ".hg", ".svn", "node_modules", ".venv", "venv", "__pycache__", ".tox", ".mypy_cache", ".pytest_cache"}


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


@record
class LintOptions:
    select: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    build_args: dict[str, str] = field(default_factory=dict)
    target: str | None = None
    config: Config | None = None  # explicit --config; otherwise discovered per file
    context_dir: str | None = None
    jobs: int | None = None  # worker processes for many files (--jobs); None: IMAGELINT_JOBS, else one per CPU


@record
class LintResult:
    findings: list[Finding] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    files_checked: int = 0
    notes: list[str] = field(default_factory=list)  # "charts/x is a Helm chart: ...", what lets more checks run
    empty_dirs: list[str] = field(default_factory=list)  # directories given that held no Dockerfile or manifest


def discover(paths: list[str], errors: list[InputError], config: Config | None = None,
             manifests: list[str] | None = None, notes: list[str] | None = None,
             empty_dirs: list[str] | None = None) -> list[str]:
    """Expand directories into Dockerfiles (recursively); keep explicit files as given.

    With `manifests`, Kubernetes YAML/JSON files found in directories go there (explicit
    .yaml/.yml/.json files too); chart and kustomization directories are skipped with a note
    (an explicit one is an error) saying how to render them. A directory that yields nothing is
    added to `empty_dirs`: the caller decides if that is an error."""
    from .manifests import is_manifest_name, looks_like_manifest, render_hint

    out: list[str] = []
    for path in paths:
        found_before = len(out)
        manifests_before = len(manifests) if manifests is not None else 0
        if path == "-":
            out.append(path)
            continue
        if os.path.isdir(path):
            cfg = config or find_config(Path(path))
            if manifests is not None and (hint := render_hint(path)):
                errors.append(InputError(path, hint.split(" is ", 1)[1]))
                continue
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not _excluded(os.path.join(root, d), cfg))
                if manifests is not None:
                    for d in list(dirs):
                        hint = render_hint(os.path.join(root, d))
                        if hint:
                            dirs.remove(d)
                            if notes is not None:
                                notes.append(hint)
                for name in sorted(files):
                    full = os.path.join(root, name)
                    if is_dockerfile_name(name) and not _excluded(full, cfg):
                        out.append(full)
                    elif manifests is not None and is_manifest_name(name) and not _excluded(full, cfg) \
                            and _sniff_file(full, looks_like_manifest):
                        manifests.append(full)
            if len(out) == found_before and (manifests is None or len(manifests) == manifests_before) \
                    and empty_dirs is not None:
                empty_dirs.append(path)
        elif manifests is not None and os.path.isfile(path) and is_manifest_name(path):
            chart = _chart_of(path)
            if not _sniff_file(path, looks_like_manifest):
                pass  # pre-commit passes every YAML file: CI workflows, CloudFormation... are not manifests
            elif chart is None:
                manifests.append(path)
            elif notes is not None:
                notes.append(render_hint(chart) or chart)  # a template, not a manifest (pre-commit passes them)
        elif os.path.exists(path):
            out.append(path)
        else:
            errors.append(InputError(path, "no such file or directory"))
    return out


def _chart_of(path: str) -> str | None:
    """The Helm chart directory a file belongs to (its templates are not YAML until rendered)."""
    directory = os.path.dirname(os.path.abspath(path))
    for _ in range(8):
        if os.path.isfile(os.path.join(directory, "Chart.yaml")):
            return os.path.relpath(directory)
        parent = os.path.dirname(directory)
        if parent == directory:
            break
        directory = parent
    return None


def _sniff_file(path: str, test) -> bool:
    try:
        with open(path, "rb") as fh:
            head = fh.read(1_000_000)
    except OSError:
        return True  # reported when it is read
    return test(head.decode("utf-8", "replace"))


def _excluded(path: str, cfg: Config) -> bool:
    if not cfg.exclude:
        return False
    rel = cfg._relative(path)
    return any(fnmatch.fnmatch(rel, pat) or fnmatch.fnmatch(os.path.basename(path), pat) for pat in cfg.exclude)


def lint_text(text: str, path: str, options: LintOptions, config: Config | None = None) -> tuple[list[Finding], DockerfileModel]:
    """Lint one Dockerfile's text. Raises ImagelintError for input BuildKit would reject."""
    cfg = config or options.config or (find_config(Path(path)) if path != "-" else Config())
    parsed = parse_dockerfile(text, path)
    build_args = dict(cfg.build_args)
    build_args.update(options.build_args)
    checked_selectors(cfg)
    model = build_model(parsed, build_args, options.target, checked_base_images(cfg), cfg.limits)
    if model.unknown_instructions:
        inst = model.unknown_instructions[0]
        raise ImagelintError(f"unknown instruction: {inst.original_keyword}", path=path, line=inst.line)
    context_dir = options.context_dir or (os.path.dirname(os.path.abspath(path)) if path != "-" else None)
    problem = unreadable_context(context_dir) if context_dir else None
    if problem is not None:
        model.budget_notes.append((0, problem))
        context_dir = None
    ctx = CheckContext(model, cfg, context_dir)
    run = run_checks("dockerfile", (model, ctx), cfg.selection(path, options.select, options.ignore))
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


def checked_base_images(cfg: Config) -> dict[str, str]:
    """The configuration's [base-images], every family one the trust facts know."""
    from ..facts import families

    known = families()
    for pattern, name in cfg.base_images.items():
        if name not in known:
            raise ImagelintError(f"[base-images] {pattern!r}: unknown family {name!r} "
                                 f"(choose from {', '.join(sorted(known))})", path=str(cfg.source or "configuration"))
    return cfg.base_images


def checked_selectors(cfg: Config) -> None:
    """A rule id or prefix in the configuration that names no rule is an error, as on the command
    line (Ruff does the same): a typo must not switch a rule off, or on, unnoticed."""
    from ..catalogue import load_catalogue

    if cfg.source is None or not (cfg.select or cfg.ignore or cfg.per_path_ignores or cfg.severity):
        return
    rules = load_catalogue()
    named = [("select", v) for v in cfg.select] + [("ignore", v) for v in cfg.ignore]
    named += [(f"per-path-ignores {pattern!r}", v) for pattern, values in cfg.per_path_ignores.items() for v in values]
    named += [("severity", v) for v in cfg.severity]
    for key, value in named:
        if not any(rule.startswith(str(value)) for rule in rules):
            raise ImagelintError(f"{key}: {value!r} matches no rule (`imagelint rules` lists them)", path=str(cfg.source))


_TRUST_COMMANDS = {"update-ca-certificates", "update-ca-trust", "trust", "keytool", "c_rehash"}


def unknown_family_notes(model: DockerfileModel, path: str) -> list[str]:
    """One note per stage whose trust work imagelint cannot judge because nothing tells the base
    image's OS family: neither the trust facts, nor the configuration, nor a package manager."""
    from ..dockerfile.queries import stage_family
    from ..facts import families
    from ..image.reference import DOCKER_HUB, parse_base_name

    trust_dirs = {d for fam in families().values() for d in fam.anchor_dirs} | {"/etc/ssl/certs"}
    notes = []
    for stage in model.stages:
        if stage.base_stage is not None or not stage.base_resolved or stage_family(stage) is not None:
            continue
        touches = any(any(op.path == d or op.path.startswith(d.rstrip("/") + "/") for d in trust_dirs)
                      for op in stage.file_ops)
        touches = touches or any(cmd.name in _TRUST_COMMANDS for _run, cmd in stage.commands())
        if not touches:
            continue
        name = parse_base_name(stage.base_resolved)
        pattern = f"{name.registry}/*" if name.registry != DOCKER_HUB else name.short_repository
        notes.append(f"{path}:{stage.from_inst.line}: the OS family of base image {stage.base_resolved} is unknown, so "
                     "the checks that need it (anchor directory, update command, bundle) stay quiet for this stage; "
                     f'declare it: [tool.imagelint.base-images] "{pattern}" = "debian" (or alpine, rhel, ...)')
    return notes


def _lint_one(path: str, options: LintOptions, stdin_text: str | None, stdin_name: str | None):
    """(shown name, source text or None, findings, errors, 1 if checked else 0, notes) for one input."""
    shown = (stdin_name or "-") if path == "-" else path
    text = None
    try:
        if path == "-":
            text = stdin_text if stdin_text is not None else read_stdin(shown)
        else:
            text = read_source(path)
        cfg = options.config or (find_config(Path(stdin_name or ".")) if path == "-" else find_config(Path(path)))
        findings, model = lint_text(text, shown, options, cfg)
        return shown, text, findings, _budget_errors(shown, model), 1, unknown_family_notes(model, shown)
    except InternalCheckError as exc:
        return shown, text, exc.findings, _budget_errors(shown, exc.model) + exc.errors, 1, []
    except ImagelintError as exc:
        return shown, text, [], [exc.as_input_error(shown)], 0, []
    except RecursionError:
        return shown, text, [], [InputError(shown, "input too deeply nested to analyse")], 0, []


def _budget_errors(shown: str, model: DockerfileModel) -> list[InputError]:
    """One line per work budget the file hit (its other findings still stand)."""
    return [InputError(shown, message, line or None) for line, message in model.budget_notes]


_worker_options: LintOptions | None = None


def _worker(path: str):
    assert _worker_options is not None
    return _lint_one(path, _worker_options, None, None)


PARALLEL_MIN_FILES = 64


def worker_count(jobs: int | None) -> int:
    """--jobs N, else IMAGELINT_JOBS=N, else one worker per CPU (at most 8); 0 means one per CPU."""
    if jobs is None:
        value = os.environ.get("IMAGELINT_JOBS", "").strip()
        jobs = int(value) if value.isdigit() else 0
    return jobs if jobs > 0 else min(os.cpu_count() or 1, 8)


def _parallel_results(files: list[str], options: LintOptions, workers: int):
    """Lint many files in forked workers (they share the loaded modules); order is kept."""
    import multiprocessing

    from ..checks.registry import checks_for
    from ..dockerfile.shell import _ts_parser

    global _worker_options
    _worker_options = options
    # Load the check modules and tree-sitter before forking: the workers inherit them instead of
    # each importing and setting them up again.
    checks_for("dockerfile")
    _ts_parser()
    context = multiprocessing.get_context("fork")
    with context.Pool(workers) as pool:
        yield from pool.imap(_worker, files, chunksize=16)


def _lint_manifests(result: LintResult, manifests: list[str], options: LintOptions, stdin_text: str | None) -> None:
    from .manifests import lint_manifest_texts

    texts: dict[str, str] = {}
    for shown, path in manifests:
        try:
            texts[shown] = stdin_text if path == "-" else read_source(path)
        except ImagelintError as exc:
            result.errors.append(exc.as_input_error(shown))
    findings, errors = lint_manifest_texts(texts, options)
    result.sources.update(texts)
    result.findings.extend(findings)
    result.errors.extend(errors)
    result.files_checked += len(texts) - len({e.path for e in errors if not e.internal} & set(texts))


def lint_paths(paths: list[str], options: LintOptions, stdin_text: str | None = None, stdin_name: str | None = None) -> LintResult:
    from .manifests import is_manifest_name, looks_like_manifest

    result = LintResult()
    manifest_files: list[str] = []
    files = discover(paths, result.errors, options.config, manifest_files, result.notes, result.empty_dirs)
    manifests = [(path, path) for path in manifest_files]
    if "-" in files and stdin_text is None:
        try:
            stdin_text = read_stdin(stdin_name or "-")
        except ImagelintError as exc:
            result.errors.append(exc.as_input_error(stdin_name or "-"))
            files = [f for f in files if f != "-"]
    if "-" in files:
        if is_manifest_name(stdin_name or "") or looks_like_manifest(stdin_text):
            files = [f for f in files if f != "-"]
            manifests.append((stdin_name or "-", "-"))
    if manifests:
        _lint_manifests(result, manifests, options, stdin_text)
    workers = worker_count(options.jobs)
    parallel = len(files) >= PARALLEL_MIN_FILES and "-" not in files and workers > 1
    outcomes = _parallel_results(files, options, workers) if parallel else (
        _lint_one(path, options, stdin_text, stdin_name) for path in files)
    for shown, text, findings, errors, checked, notes in outcomes:
        result.notes.extend(notes)
        if text is not None:
            result.sources[shown] = text
        result.findings.extend(findings)
        result.errors.extend(errors)
        result.files_checked += checked
    return result
