"""The rule catalogue is the single source of rule metadata, and its examples run as tests."""
from __future__ import annotations

from pathlib import Path

import pytest

from annotations import annotated_files, check_expectations, expectations
from imagelint.catalogue import CATEGORIES, load_catalogue
from imagelint.checks.registry import registered_ids
from imagelint.commands.lint import LintOptions, lint_text

ROOT = Path(__file__).resolve().parents[1]
DOCS = load_catalogue()
DOCKERFILE_RULES = sorted(rid for rid, d in DOCS.items() if d.kind == "dockerfile")
REQUIRED_SECTIONS = ("What it does", "Why is this bad?", "Example", "Use instead", "Fix", "References")


MANIFEST_RULES = sorted(rid for rid, d in DOCS.items() if d.kind == "manifest")


def lint(text: str):
    findings, _ = lint_text(text, "Dockerfile", LintOptions())
    return findings


def lint_manifest(text: str, path: str = "example.yaml"):
    from imagelint.commands.manifests import lint_manifest_texts

    findings, errors = lint_manifest_texts({path: text}, LintOptions())
    assert not errors, [str(e) for e in errors]
    return findings


def test_every_rule_has_a_doc_and_every_doc_a_check():
    assert set(DOCS) == registered_ids(), "rules/ and registered checks differ"


@pytest.mark.parametrize("rid", sorted(DOCS))
def test_doc_is_complete(rid):
    doc = DOCS[rid]
    assert doc.category in CATEGORIES
    for section in REQUIRED_SECTIONS:
        assert doc.sections.get(section), f"{rid}: missing section {section!r}"
    if doc.kind == "dockerfile":
        assert doc.examples("Example"), f"{rid}: no dockerfile block under Example"
        assert doc.examples("Use instead"), f"{rid}: no dockerfile block under Use instead"
    if doc.kind == "manifest":
        assert doc.examples("Example", "yaml"), f"{rid}: no yaml block under Example"
        assert doc.examples("Use instead", "yaml"), f"{rid}: no yaml block under Use instead"


@pytest.mark.parametrize("rid", MANIFEST_RULES)
def test_manifest_bad_example_fires(rid):
    for example in DOCS[rid].examples("Example", "yaml"):
        assert rid in {f.rule for f in lint_manifest(example)}, f"{rid}: its Example does not trigger it:\n{example}"


@pytest.mark.parametrize("rid", MANIFEST_RULES)
def test_manifest_good_example_is_clean(rid):
    for example in DOCS[rid].examples("Use instead", "yaml"):
        hits = [f for f in lint_manifest(example) if f.rule == rid]
        assert not hits, f"{rid}: its 'Use instead' example triggers it: {hits[0].message}"


@pytest.mark.parametrize("rid", DOCKERFILE_RULES)
def test_bad_example_fires(rid):
    for example in DOCS[rid].examples("Example"):
        assert rid in {f.rule for f in lint(example)}, f"{rid}: its Example does not trigger it:\n{example}"


@pytest.mark.parametrize("rid", DOCKERFILE_RULES)
def test_good_example_is_clean(rid):
    for example in DOCS[rid].examples("Use instead"):
        hits = [f for f in lint(example) if f.rule == rid]
        assert not hits, f"{rid}: its 'Use instead' example triggers it: {hits[0].message}"


def test_every_dockerfile_rule_has_annotated_fixtures():
    kinds: dict[str, set[str]] = {}
    for path in annotated_files(ROOT / "fixtures"):
        for exp in expectations(path.read_text(encoding="utf-8"), str(path)):
            kinds.setdefault(exp.rule, set()).add(exp.kind)
    missing = [rid for rid in DOCKERFILE_RULES + MANIFEST_RULES if not {"ruleid", "ok"} <= kinds.get(rid, set())]
    assert not missing, f"rules without both a ruleid and an ok fixture annotation: {missing}"


ANNOTATED = annotated_files(ROOT / "fixtures")


@pytest.mark.parametrize("path", ANNOTATED, ids=[str(p.relative_to(ROOT)) for p in ANNOTATED])
def test_annotated_fixture(path):
    text = path.read_text(encoding="utf-8")
    if path.suffix in (".yaml", ".yml"):
        findings = lint_manifest(text, str(path))
    else:
        findings, _ = lint_text(text, str(path), LintOptions(context_dir=str(path.parent)))
    problems = check_expectations(findings, expectations(text, str(path)), str(path.relative_to(ROOT)))
    assert not problems, "\n".join(problems)


def test_readme_lists_every_rule():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [rid for rid in DOCS if f"[{rid}](rules/{rid}.md)" not in readme]
    assert not missing, f"README's rule table lacks {missing}"
