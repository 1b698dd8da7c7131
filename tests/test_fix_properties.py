"""Properties every fix must have, checked on Dockerfiles written for the fixes (fixtures/fix), on the
lint fixtures written by other people, and on real Dockerfiles of the corpus:

- minimal: every byte outside the fixed instruction stays; CRLF endings, a missing final newline
  and the escape directive are kept; added lines use the file's newline;
- the result parses identically in BuildKit's parser (the `dockerfile` package), except the edited
  instructions;
- the fixed finding is gone and nothing new appears; a second run changes nothing;
- rdjsonl suggestions cover exactly their diagnostic's range and reproduce `fix`'s output.
"""
from __future__ import annotations

import json
import os
import re
from collections import Counter
from pathlib import Path

import pytest

from imagelint.catalogue import load_catalogue
from imagelint.dockerfile.parse import parse_dockerfile
from imagelint.findings import Applicability
from imagelint.commands.fix import fix_dockerfile
from imagelint.fixes.apply import apply_edits
from imagelint.commands.lint import LintOptions, is_dockerfile_name, lint_text

dockerfile = pytest.importorskip("dockerfile")  # BuildKit's parser (test-only dependency)

ROOT = Path(__file__).resolve().parents[1]
FIX_DIR = ROOT / "fixtures" / "fix"
from corpus import FULL as CORPUS, SAMPLE
_TLS_WORDS = re.compile(r"insecure|no-check-cert|NODE_TLS|GIT_SSL|ca-certificates|keytool|anchors|CA_BUNDLE|CA_CERTS|"
                        r"SSL_CERT|strict-ssl|trusted-host|sslverify|allow-untrusted|nogpgcheck|ssl|tls|\s-[a-zA-Z]*k\b", re.I)
_FIX_MARK = re.compile(r"^\s*#\s*fix:\s*([A-Z0-9,\s]+?)\s*$")



@pytest.fixture(autouse=True)
def builders_raise(monkeypatch):
    """A fix builder that fails must fail these tests, not silently drop its fix."""
    monkeypatch.setenv("IMAGELINT_FIX_DEBUG", "1")


def read(path: Path) -> str:
    """The exact text: CRLF kept (Path.read_text would translate it)."""
    return path.read_bytes().decode("utf-8")


def fix_inputs() -> list[Path]:
    return sorted(p for p in FIX_DIR.glob("*.Dockerfile") if not p.name.endswith(".fixed.Dockerfile"))


def lint_fixtures() -> list[Path]:
    return sorted(p for p in (ROOT / "fixtures" / "lint").rglob("*") if p.is_file() and is_dockerfile_name(p.name))


def corpus_sample(limit: int = 40) -> list[Path]:
    """Real Dockerfiles that trigger at least one fixable rule (not written for imagelint): from the
    full corpus when it is next to the checkout, else from the sample vendored in tests/data/corpus."""
    root = CORPUS if CORPUS.is_dir() else SAMPLE
    out = []
    for path in sorted(root.rglob("*")):
        # Corpus names flatten the repository path (`vault__Dockerfile`), so the name check is on the last part.
        if not (path.is_file() and is_dockerfile_name(path.name.rsplit("__", 1)[-1])):
            continue
        try:
            text = path.read_text(encoding="utf-8")
            if not _TLS_WORDS.search(text):
                continue  # cheap prefilter: linting all 2,800 files takes a minute
            findings, _ = lint_text(text, str(path), LintOptions())
        except Exception:  # unparseable corpus files are the parser tests' business
            continue
        if any(f.fix is not None and f.fix.edits and f.fix.applicability > Applicability.DISPLAY_ONLY for f in findings):
            out.append(path)
        if len(out) >= limit:
            break
    return out


def lint(text: str, path: str = "Dockerfile"):
    findings, _ = lint_text(text, path, LintOptions(context_dir=str(FIX_DIR)))
    return [f for f in findings if f.suppression is None]


def buildkit(text: str) -> list[tuple]:
    """BuildKit's view of each instruction, without positions."""
    return [(c.cmd, c.sub_cmd, c.json, c.flags, c.value, c.heredocs) for c in dockerfile.parse_string(text)]


def keys(findings) -> Counter:
    return Counter((f.rule, f.message) for f in findings)


def fixable(findings, unsafe=True):
    level = Applicability.UNSAFE if unsafe else Applicability.SAFE
    return [f for f in findings if f.fix is not None and f.fix.edits and f.fix.applicability >= level]


def instruction_regions(text: str):
    """[start, end) of each instruction with the newline before it and its own lines."""
    parsed = parse_dockerfile(text)
    regions = []
    for inst in parsed.instructions:
        line_start = text.rfind("\n", 0, inst.start) + 1
        start = line_start - 1 if line_start > 0 else 0
        if start > 0 and text[start - 1] == "\r":
            start -= 1
        regions.append((start, inst.end))
    return parsed, regions


# --- properties of one fix applied alone to the original text --------------------------------------

def check_single_fix(text: str, finding) -> list[str]:
    problems = []
    edits = finding.fix.edits
    new = apply_edits(text, edits)
    parsed, regions = instruction_regions(text)
    touched = [i for i, (s, e) in enumerate(regions) if any(ed.start < e and s < max(ed.end, ed.start + 1) for ed in edits)]
    where = f"{finding.rule} line {finding.line}"
    if not touched:
        return [f"{where}: edits touch no instruction"]
    lo, hi = regions[touched[0]][0], regions[touched[-1]][1]
    if any(ed.start < lo or ed.end > hi for ed in edits):
        problems.append(f"{where}: an edit leaves the instructions it fixes")
    tail = len(text) - hi
    if new[:lo] != text[:lo] or new[len(new) - tail:] != text[hi:]:
        problems.append(f"{where}: bytes outside the fixed instruction changed")
    nl = "\r\n" if "\r\n" in text else "\n"
    if nl == "\r\n" and re.search(r"(?<!\r)\n", new[lo:len(new) - tail]):
        problems.append(f"{where}: added a bare LF to a CRLF file")
    if text.endswith("\n") != new.endswith("\n"):
        problems.append(f"{where}: final newline changed")
    if parsed.directives != parse_dockerfile(new).directives:
        problems.append(f"{where}: parser directives changed")
    old_bk, new_bk = buildkit(text), buildkit(new)
    assert len(old_bk) == len(parsed.instructions)
    first, last = touched[0], touched[-1]
    after = len(old_bk) - last - 1
    if old_bk[:first] != new_bk[:first] or old_bk[len(old_bk) - after:] != new_bk[len(new_bk) - after:]:
        problems.append(f"{where}: BuildKit sees other instructions change")
    before, now = keys(lint(text)), keys(lint(new))
    if now[(finding.rule, finding.message)] >= before[(finding.rule, finding.message)]:
        problems.append(f"{where}: the finding is still reported after its fix")
    new_ones = now - before
    if new_ones:
        problems.append(f"{where}: the fix brings new findings {sorted(new_ones)}")
    return problems


# --- properties of the whole fix run ---------------------------------------------------------------

def check_file(text: str, path: str, unsafe: bool = True) -> list[str]:
    problems = []
    original = lint(text, path)
    result = fix_dockerfile(text, path, LintOptions(context_dir=str(FIX_DIR)), unsafe=unsafe)
    fixed = result.fixed
    parse_dockerfile(fixed)  # imagelint accepts it
    buildkit(fixed)  # and so does BuildKit
    again = fix_dockerfile(fixed, path, LintOptions(context_dir=str(FIX_DIR)), unsafe=unsafe)
    if again.fixed != fixed:
        problems.append(f"{path}: not idempotent: a second fix changes the file")
    if text.endswith("\n") != fixed.endswith("\n"):
        problems.append(f"{path}: final newline changed")
    if "\r\n" in text and not re.search(r"(?<!\r)\n", text) and re.search(r"(?<!\r)\n", fixed):
        problems.append(f"{path}: bare LF in a CRLF file")
    after = keys(lint(fixed, path))
    before = keys(original)
    if after - before:
        problems.append(f"{path}: fixing brings new findings {sorted(after - before)}")
    gone = keys(fixable(original, unsafe))
    for key, count in gone.items():
        if after[key] > before[key] - count:
            problems.append(f"{path}: {key[0]} still reported after fixing: {key[1]}")
    return problems


def fix_marks(text: str) -> list[tuple[str, int, int]]:
    """(rule, first line, last line) of each instruction under a `# fix: ILxxx` comment."""
    parsed = parse_dockerfile(text)
    out = []
    for lineno, line in enumerate(text.splitlines(), 1):
        m = _FIX_MARK.match(line)
        if not m:
            continue
        inst = next(i for i in parsed.instructions if i.end_line >= lineno)
        for rule in re.split(r"[,\s]+", m.group(1).strip()):
            out.append((rule, inst.line, inst.end_line))
    return out


def variants(text: str) -> dict[str, str]:
    """The same Dockerfile with CRLF endings, and without its final newline."""
    lf = text.replace("\r\n", "\n")
    return {
        "lf": lf,
        "crlf": lf.replace("\n", "\r\n"),
        "no-final-newline": lf.rstrip("\n"),
    }


def to_variant(name: str, text: str) -> str:
    lf = text.replace("\r\n", "\n")
    if name == "crlf":
        return lf.replace("\n", "\r\n")
    if name == "no-final-newline":
        return lf.rstrip("\n")
    return lf


# ==================================================================================================

@pytest.mark.parametrize("path", fix_inputs(), ids=lambda p: p.name)
def test_fixture_output_is_the_expected_file(path):
    text = read(path)
    expected = read(path.with_name(path.name.replace(".Dockerfile", ".fixed.Dockerfile")))
    result = fix_dockerfile(text, str(path), LintOptions(context_dir=str(FIX_DIR)), unsafe=True)
    assert result.fixed == expected


@pytest.mark.parametrize("path", fix_inputs(), ids=lambda p: p.name)
def test_every_fix_mark_has_a_working_fix(path):
    text = read(path)
    marks = fix_marks(text)
    assert marks, "a fix fixture without `# fix:` marks"
    findings = lint(text, str(path))
    docs = load_catalogue()
    for rule, first, last in marks:
        hits = [f for f in findings if f.rule == rule and first <= f.line <= last]
        assert hits, f"{rule} does not fire on lines {first}-{last}"
        for f in hits:
            assert f.fix is not None and f.fix.edits, f"{rule} line {f.line}: no fix"
            assert f.fix.title
            # The rule's documented applicability is the fix's (Ruff: declared fixability holds).
            assert str(f.fix.applicability) == docs[rule].fix, f"{rule}: fix is {f.fix.applicability}, doc says {docs[rule].fix}"
            assert not check_single_fix(text, f)


@pytest.mark.parametrize("variant", ["lf", "crlf", "no-final-newline"])
@pytest.mark.parametrize("path", fix_inputs(), ids=lambda p: p.name)
def test_fix_commutes_with_line_endings(path, variant):
    """fix(crlf(x)) == crlf(fix(x)), and the same without a final newline."""
    text = read(path)
    base = fix_dockerfile(to_variant("lf", text), "Dockerfile", LintOptions(context_dir=str(FIX_DIR)), unsafe=True).fixed
    source = to_variant(variant, text)
    fixed = fix_dockerfile(source, "Dockerfile", LintOptions(context_dir=str(FIX_DIR)), unsafe=True).fixed
    assert fixed == to_variant(variant, base)
    assert not check_file(source, "Dockerfile")


def _backtick_rewritable(path) -> bool:
    # Heredocs, backticks and existing directives would change meaning under the rewrite.
    text = read(path)
    return not ("<<" in text or "`" in text or "escape=" in text)


@pytest.mark.parametrize("path", [p for p in fix_inputs() if _backtick_rewritable(p)], ids=lambda p: p.name)
def test_fix_respects_the_escape_directive(path):
    """With `# escape=\\``, continuations use the backtick and the fix keeps them."""
    text = read(path).replace("\r\n", "\n")
    tick = "# escape=`\n" + re.sub(r"\\\n", "`\n", text)
    base = fix_dockerfile(text, "Dockerfile", LintOptions(context_dir=str(FIX_DIR)), unsafe=True).fixed
    fixed = fix_dockerfile(tick, "Dockerfile", LintOptions(context_dir=str(FIX_DIR)), unsafe=True).fixed
    assert fixed == "# escape=`\n" + re.sub(r"\\\n", "`\n", base)
    assert not check_file(tick, "Dockerfile")


@pytest.mark.parametrize("unsafe", [False, True], ids=["safe", "unsafe"])
@pytest.mark.parametrize("path", fix_inputs() + lint_fixtures(), ids=lambda p: p.name)
def test_whole_file_properties(path, unsafe):
    text = read(path)
    assert not check_file(text, str(path), unsafe)


@pytest.mark.parametrize("path", fix_inputs() + lint_fixtures(), ids=lambda p: p.name)
def test_each_fix_alone_is_minimal_and_parses_identically(path):
    text = read(path)
    problems = []
    for f in fixable(lint(text, str(path))):
        problems += check_single_fix(text, f)
    assert not problems, "\n".join(problems)


def test_corpus_files_with_fixable_findings():
    """Real Dockerfiles, not written for imagelint: every fixable file keeps every property.
    (One test, not one per file: finding the files means linting the corpus, too slow for collection.)"""
    files = corpus_sample()
    assert files, "no corpus file has a fixable finding"
    problems = []
    for path in files:
        text = read(path)
        problems += check_file(text, str(path))
        for f in fixable(lint(text, str(path))):
            problems += check_single_fix(text, f)
    assert not problems, "\n".join(problems)


# --- rdjsonl suggestions ---------------------------------------------------------------------------

def _offset(text: str, line: int, byte_column: int) -> int:
    starts = [0] + [m.end() for m in re.finditer("\n", text)]
    start = starts[line - 1]
    line_bytes = text[start:].encode("utf-8")
    return start + len(line_bytes[: byte_column - 1].decode("utf-8", "ignore"))


def apply_suggestions(text: str, diagnostics: list[dict]) -> str:
    replacements = []
    for d in diagnostics:
        for s in d.get("suggestions", []):
            r = s["range"]
            replacements.append((_offset(text, r["start"]["line"], r["start"]["column"]),
                                 _offset(text, r["end"]["line"], r["end"]["column"]), s["text"]))
    for start, end, new in sorted(replacements, reverse=True):
        text = text[:start] + new + text[end:]
    return text


@pytest.mark.parametrize("path", fix_inputs() + lint_fixtures(), ids=lambda p: p.name)
def test_rdjsonl_suggestions_match_diagnostics_and_fix(path):
    from imagelint import __version__
    from imagelint.report import Report, render

    text = read(path)
    findings = lint(text, str(path))
    report = Report(findings, [], load_catalogue(), {str(path): text}, __version__, "file", 1)
    diagnostics = [json.loads(line) for line in render("rdjsonl", report).splitlines()]
    with_suggestions = [d for d in diagnostics if d.get("suggestions")]
    assert len(with_suggestions) == len(fixable(findings))
    for d in with_suggestions:
        for s in d["suggestions"]:
            assert s["range"] == d["location"]["range"]
    # Suggestions on separate lines apply together; they must give what one pass of `fix` gives.
    spans = sorted((d["location"]["range"]["start"]["line"], d["location"]["range"]["end"]["line"]) for d in with_suggestions)
    if any(b[0] <= a[1] for a, b in zip(spans, spans[1:])):
        return  # overlapping lines: fix needs several passes, suggestions are alternatives
    one_pass = apply_edits(text, [e for f in fixable(findings) for e in f.fix.edits])
    assert apply_suggestions(text, with_suggestions) == one_pass
    result = fix_dockerfile(text, str(path), LintOptions(context_dir=str(FIX_DIR)), unsafe=True)
    if result.passes == 1:
        assert apply_suggestions(text, with_suggestions) == result.fixed


@pytest.mark.parametrize("path", fix_inputs(), ids=lambda p: p.name)
def test_sarif_and_rdjsonl_with_real_fixes_are_schema_valid(path):
    """The fixes of every family, as the reporters carry them, validate against SARIF 2.1.0 and reviewdog's rdf."""
    from test_report_formats import assert_valid, rdf_validator, sarif_validator

    from imagelint import __version__
    from imagelint.report import Report, render

    text = read(path)
    findings = lint(text, str(path))
    report = Report(findings, [], load_catalogue(), {str(path): text}, __version__, "file", 1)
    sarif = json.loads(render("sarif", report))
    assert_valid(sarif_validator(), sarif)
    results = sarif["runs"][0]["results"]
    assert sum(1 for r in results if r.get("fixes")) == len(fixable(findings))
    validator = rdf_validator()
    for line in render("rdjsonl", report).splitlines():
        assert_valid(validator, json.loads(line))
