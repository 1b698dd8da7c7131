"""The rule catalogue is the single source of rule metadata, and its examples run as tests."""
from __future__ import annotations

import re
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


# Private research ids users cannot follow: the knowledge file's name, its source/lab tags ([S-105],
# LAB-10), fact ids in parentheses ("(P6)", "(D5, J6)", "(G1-G3)"), a string that is only a fact id
# ("P6", printed in a message), and section signs that are not an RFC's. Cite the public source.
FACT_ID = r"(?:[DARJKTNPGXC]\d{1,2}(?:[-\u2013][DARJKTNPGXC]?\d{1,2})?|N-table)"
PRIVATE_CITATION = re.compile(
    r"trust-stores\.md"
    r"|\[?\b(?:S|LAB)-\d+\]?"
    rf"|\((?:[^()\n]*?[\s,;/])?{FACT_ID}(?:[\s,;/:][^()\n]*)?\)"
    rf"|([\"']){FACT_ID}\1"
    r"|(?<!RFC )(?<!\d )\u00a7\s?\d"
)


def _cited_files() -> list[Path]:
    files = sorted((ROOT / "rules").glob("*.md")) + [ROOT / "README.md"]
    files += sorted(p for ext in ("*.py", "*.toml") for p in (ROOT / "imagelint").rglob(ext))
    return files


def _private_citations(text: str) -> list[str]:
    return [m.group(0) for m in PRIVATE_CITATION.finditer(text)]


def test_private_citation_pattern():
    for cited in ("trust-stores.md \u00a73.1", "[S-105]", "LAB-10", "(P6)", "(D5, J6)", "(G1\u2013G3)",
                  "(2.1 J3, 3.1)", "(bundled roots, N1)", "(N1: it adds)", '"P6"', "(\u00a73.1)"):
        assert _private_citations(cited), cited
    for public in ("RFC 6125 \u00a76.4.3", "CN=Corp Root G2, notAfter", "(IL101)", "OPS-12", "(P256)",
                   "(Go 1.17+ rejects it)", "(K8s)", "pyca/cryptography CHANGELOG 42.0.0"):
        assert not _private_citations(public), public


def test_no_private_citations_in_rule_docs_or_package():
    found = []
    for path in _cited_files():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            found += [f"{path.relative_to(ROOT)}:{number}: {hit}" for hit in _private_citations(line)]
    assert not found, "cite the public source instead:\n" + "\n".join(found)


def test_no_private_citations_in_messages():
    texts = [(rid, ex, "Dockerfile", None) for rid, doc in DOCS.items() if doc.kind == "dockerfile"
             for ex in doc.examples("Example") + doc.examples("Use instead")]
    texts += [(str(p.relative_to(ROOT)), p.read_text(encoding="utf-8"), str(p), str(p.parent)) for p in ANNOTATED]
    found = []
    texts += [(rid, ex, "example.yaml", None) for rid, doc in DOCS.items() if doc.kind == "manifest"
              for ex in doc.examples("Example", "yaml") + doc.examples("Use instead", "yaml")]
    for where, text, name, context in texts:
        if name.endswith((".yaml", ".yml")):
            findings = lint_manifest(text, name)
        else:
            findings, _ = lint_text(text, name, LintOptions(context_dir=context) if context else LintOptions())
        for f in findings:
            shown = " ".join([f.message] + ([f.fix.title] + [e.text for e in f.fix.edits] if f.fix else []))
            found += [f"{where}: {f.rule}: {hit}" for hit in _private_citations(shown)]
    assert not found, "messages cite private ids:\n" + "\n".join(found)
