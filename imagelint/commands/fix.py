"""`imagelint fix`: show, diff or write the fixes of Dockerfile findings.

Applicability decides what goes in: safe fixes by default, unsafe ones with --unsafe-fixes,
display-only ones never (they are printed as guidance). Exit codes: 0 nothing to fix; 1 fixes
applied (--write) or available; 2 an input that could not be read, parsed or written.
"""
from __future__ import annotations

import copy
import json
from ..records import record, field
from pathlib import Path

from .. import __version__
from ..catalogue import load_catalogue
from ..config import find_config
from ..dockerfile.parse import decode_dockerfile
from ..findings import Finding, ImagelintError, InputError
from ..fixes.apply import FileFixResult, fix_text, parses, threshold
from ..fixes.writers import read_bytes, unified_diff, write_atomically
from ..report import Report, render
from .inputs import MAX_BYTES, read_stdin
from .lint import InternalCheckError, LintOptions, discover, lint_text

MODES = ("show", "diff", "write")
FORMATS = ("text", "json", "github-suggestions")


@record
class FixRun:
    results: list[FileFixResult] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    empty_dirs: list[str] = field(default_factory=list)

    @property
    def changed(self) -> list[FileFixResult]:
        return [r for r in self.results if r.changed]

    def exit_code(self) -> int:
        if any(getattr(e, "internal", False) for e in self.errors):
            return 3
        if self.errors:
            return 2
        return 1 if self.changed else 0


def fix_dockerfile(text: str, path: str, options: LintOptions, config=None, unsafe: bool = False,
                   max_passes: int | None = None) -> FileFixResult:
    """Fix one Dockerfile's text with imagelint's own linter."""
    extra = {"max_passes": max_passes} if max_passes else {}
    return fix_text(text, path, options, lint_text, config, unsafe, **extra)


def fix_paths(paths: list[str], options: LintOptions, mode: str = "show", unsafe: bool = False,
              stdin_text: str | None = None, stdin_name: str | None = None) -> FixRun:
    run = FixRun()
    manifests: list[str] = []
    files = discover(paths, run.errors, options.config, manifests, [], run.empty_dirs)
    if manifests:
        _fix_manifests(run, manifests, options, mode, unsafe)
    for path in files:
        shown = (stdin_name or "-") if path == "-" else path
        try:
            if path == "-":
                if mode == "write":
                    raise ImagelintError("--write needs files, not standard input", path=shown)
                text = stdin_text if stdin_text is not None else read_stdin(shown)
                original = text.encode("utf-8", "surrogateescape")
            else:
                original = read_bytes(path, MAX_BYTES)  # the limit lint has; a FIFO is an error
                text = decode_dockerfile(original, path)
            cfg = options.config or find_config(Path(stdin_name or ".") if path == "-" else Path(path))
            result = fix_dockerfile(text, shown, options, cfg, unsafe)
            run.sources[shown] = text
            if mode == "write" and result.changed:
                write_atomically(path, original, result.fixed,
                                 validate=lambda t, p=shown: parses(t, p, options.build_args, options.target))
                run.written.append(shown)
            run.results.append(result)
        except ImagelintError as exc:
            run.errors.append(exc.as_input_error(shown))
        except InternalCheckError as exc:
            run.errors.extend(exc.errors)  # a check crashed: the file is left alone
        except RecursionError:
            run.errors.append(InputError(shown, "input too deeply nested to analyse"))
    return run


def _fix_manifests(run: FixRun, paths: list[str], options: LintOptions, mode: str, unsafe: bool) -> None:
    """Kubernetes manifests are fixed as one set (a fix may edit a ConfigMap for a Deployment's finding)."""
    from .manifests import fix_manifest_files, yaml_problem

    results, texts, errors = fix_manifest_files(paths, options, unsafe)
    run.errors.extend(errors)
    run.sources.update(texts)
    for result in results:
        if mode == "write" and result.changed:
            try:
                write_atomically(result.path, read_bytes(result.path), result.fixed,
                                 validate=lambda t, p=result.path: yaml_problem(t, p))
                run.written.append(result.path)
            except ImagelintError as exc:
                run.errors.append(exc.as_input_error(result.path))
        run.results.append(result)


def _where(f: Finding) -> str:
    return f"{f.path}:{f.line}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def render_text(run: FixRun, mode: str, unsafe: bool) -> tuple[str, str]:
    """(stdout, stderr). With --diff, stdout is only the patch so it can be piped to git apply."""
    out: list[str] = []
    notes: list[str] = []
    fixed_findings = 0
    for r in run.results:
        if r.changed:
            fixed_findings += len(r.applied)
            verb = "fixed" if mode == "write" else "would fix"
            header = f"{r.path}: {verb} {_plural(len(r.applied), 'finding')}"
            lines = [header] + [f"  {f.line}: {f.rule} {f.fix.title} ({f.fix.applicability})" for f in r.applied]
            if mode == "diff":
                notes.extend(lines)
                out.append(unified_diff(r.path, r.original, r.fixed))
            elif mode == "show":
                out.append("\n".join(lines) + "\n")
                out.append(unified_diff(r.path, r.original, r.fixed))
            else:
                out.append("\n".join(lines) + "\n")
        for f in r.unsafe_available:
            notes.append(f"{_where(f)}: {f.rule} unsafe fix available with --unsafe-fixes: {f.fix.title}")
        for f in r.display_only:
            notes.append(f"{_where(f)}: {f.rule} guidance: {f.fix.title}")
        for f in r.broken:
            notes.append(f"{_where(f)}: {f.rule} fix left out: it would make the file unparseable")
    files = len(run.changed)
    if files:
        if mode == "write":
            summary = f"Fixed {_plural(fixed_findings, 'finding')} in {_plural(files, 'file')}."
        else:
            apply = "imagelint fix --write --unsafe-fixes" if unsafe else "imagelint fix --write"
            summary = (f"{_plural(fixed_findings, 'finding')} fixable in {_plural(files, 'file')}; "
                       f"run `{apply}` to apply.")
    elif run.errors:
        # Never a plain "Nothing to fix." when some input was not even read.
        summary = (f"Nothing to fix in {_plural(len(run.results), 'file')}; "
                   f"{_plural(len(run.errors), 'input')} could not be checked.")
    else:
        summary = "Nothing to fix."
    if not unsafe and any(r.unsafe_available for r in run.results):
        summary += " More fixes are available with --unsafe-fixes."
    notes.append(summary)
    for error in run.errors:
        notes.append(f"imagelint: error: {error}")
    if mode == "diff":
        return "".join(out), "\n".join(notes) + "\n"
    stdout = "".join(out) + "\n".join(n for n in notes if not n.startswith("imagelint: error:")) + "\n"
    stderr = "".join(f"{e}\n" for e in notes if e.startswith("imagelint: error:"))
    return stdout, stderr


def _finding_json(f: Finding) -> dict:
    data = {"rule": f.rule, "line": f.line, "message": f.message, "severity": str(f.severity)}
    if f.fix is not None:
        data["fix"] = {"title": f.fix.title, "applicability": str(f.fix.applicability)}
    return data


def render_json(run: FixRun, mode: str) -> str:
    files = []
    for r in run.results:
        files.append({
            "path": r.path,
            "changed": r.changed,
            "written": r.path in run.written,
            "applied": [_finding_json(f) for f in r.applied],
            "unsafe_available": [_finding_json(f) for f in r.unsafe_available],
            "display_only": [_finding_json(f) for f in r.display_only],
            "remaining": [_finding_json(f) for f in r.remaining],
            "diff": unified_diff(r.path, r.original, r.fixed),
            "passes": r.passes,
        })
    data = {"mode": mode, "files": files,
            "errors": [{"path": e.path, "line": e.line, "message": e.message} for e in run.errors]}
    return json.dumps(data, indent=2) + "\n"


def render_suggestions(run: FixRun, unsafe: bool) -> str:
    """Review-comment bodies (```suggestion blocks) for the fixes that would be applied."""
    level = threshold(unsafe)
    findings = []
    for r in run.results:
        for f in r.initial:
            if f.suppression is not None or f.fix is None or not f.fix.edits or f.fix.applicability < level:
                continue
            findings.append(copy.copy(f))
    report = Report(findings, run.errors, load_catalogue(), run.sources, __version__, "file", len(run.results))
    return render("github-suggestions", report)
