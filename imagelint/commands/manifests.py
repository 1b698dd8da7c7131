"""`imagelint lint` on Kubernetes manifests: every manifest file of a run is one set of resources,
joined per namespace as the API server would, then checked by the "manifest" checks.

Helm charts and kustomizations are not rendered here (their output depends on values, overlays and
plugins): discovery says how to render them, and the rendered stream is linted from stdin.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from ..findings import Finding, ImagelintError, InputError

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
_SNIFF = re.compile(r'^\s*(?:-\s+)?(?:apiVersion|kind)\s*:|"apiVersion"\s*:', re.M)
RENDERERS = {
    "Chart.yaml": "a Helm chart: lint what it renders: helm template {path} | imagelint lint -",
    "kustomization.yaml": "a kustomization: lint what it renders: kubectl kustomize {path} | imagelint lint -",
    "kustomization.yml": "a kustomization: lint what it renders: kubectl kustomize {path} | imagelint lint -",
    "Kustomization": "a kustomization: lint what it renders: kubectl kustomize {path} | imagelint lint -",
}


def is_manifest_name(name: str) -> bool:
    return name.lower().endswith(MANIFEST_SUFFIXES)


def looks_like_manifest(text: str) -> bool:
    return _SNIFF.search(text[:1_000_000]) is not None


def render_hint(directory: str) -> str | None:
    """One line saying how to render a chart or kustomization directory; None for other directories."""
    for marker, hint in RENDERERS.items():
        if os.path.isfile(os.path.join(directory, marker)):
            return f"{directory} is {hint.format(path=directory)}"
    return None


def lint_manifest_texts(texts: dict[str, str], options, config=None) -> tuple[list[Finding], list[InputError]]:
    """Findings and errors of one set of manifest files (name -> text). A file that cannot be read
    is one error; the others are still joined and checked."""
    from ..checks.manifest.context import ManifestContext
    from ..checks.runner import run_checks, to_findings
    from ..config import Config, find_config
    from ..kube.load import expand_lists, load_documents
    from ..kube.model import KubeSet, resources_from

    errors: list[InputError] = []
    resources = []
    for path, text in texts.items():
        try:
            documents = expand_lists(load_documents(text, path))
            resources.extend(resources_from(documents))
        except ImagelintError as exc:
            errors.append(exc.as_input_error(path))
        except RecursionError:
            errors.append(InputError(path, "input too deeply nested to analyse"))
    if not resources:
        return [], errors
    first = next(iter(texts))
    cfg = config or options.config or (find_config(Path(first)) if first != "-" else Config())
    try:
        kset = KubeSet(resources)
    except ImagelintError as exc:
        errors.append(exc.as_input_error(first))
        return [], errors
    ctx = ManifestContext(kset)
    run = run_checks("manifest", (kset, ctx), lambda rule: cfg.enabled(rule, first, options.select, options.ignore))
    errors.extend(InputError(first, message, internal=True) for message in run.errors)
    findings = to_findings(run.hits, ctx.path_of, cfg.severity)
    findings = [f for f in findings if cfg.enabled(f.rule, f.path, options.select, options.ignore)]
    from ..fixes.kube import mark_fixes

    mark_fixes(findings)
    findings.sort(key=Finding.sort_key)
    return findings, errors


def fix_manifest_files(paths: list[str], options, unsafe: bool):
    """FileFixResults of one set of manifest files: lint, apply the fixes at the level asked, lint again."""
    from ..findings import Applicability
    from ..fixes.apply import FileFixResult
    from ..fixes.kube import fixed_texts
    from ..checks.manifest.common import system_store_paths
    from .inputs import read_source

    texts: dict[str, str] = {}
    errors: list[InputError] = []
    for path in paths:
        try:
            texts[path] = read_source(path)
        except ImagelintError as exc:
            errors.append(exc.as_input_error(path))
    findings, lint_errors = lint_manifest_texts(texts, options)
    errors.extend(lint_errors)
    if any(not e.internal for e in lint_errors):
        return [], texts, errors
    level = Applicability.UNSAFE if unsafe else Applicability.SAFE
    fixed, applied = fixed_texts(texts, findings, level, system_store_paths())
    after, _ = lint_manifest_texts(fixed, options) if fixed != texts else (findings, [])
    results = []
    for path, original in texts.items():
        result = FileFixResult(path, original, fixed[path])
        result.initial = [f for f in findings if f.path == path]
        result.applied = [f for f in applied if f.path == path]
        result.remaining = [f for f in after if f.path == path and f.suppression is None]
        for f in result.remaining:
            if f.fix is not None and f.fix.applicability < level:
                result.unsafe_available.append(f)
        result.passes = 1 if result.changed else 0
        results.append(result)
    return results, texts, errors


def yaml_problem(text: str, path: str) -> str | None:
    """None when the fixed text still loads as manifests."""
    from ..kube.load import load_documents

    try:
        load_documents(text, path)
    except ImagelintError as exc:
        return str(exc)
    return None
