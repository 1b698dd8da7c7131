"""Every reporter, on hand-built reports: the JSON contract, SARIF and rdjsonl schema validity,
fixes and suggestions that reproduce the fixed file, escaping, and XML that parses."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from imagelint.catalogue import RuleDoc
from imagelint.findings import (
    Applicability,
    Edit,
    Finding,
    Fix,
    ImagelintError,
    InputError,
    Severity,
    Suppression,
)
from imagelint.report import FORMATS, Report, render
from imagelint.report._common import apply_edits

SCHEMAS = Path(__file__).resolve().parent / "data" / "schemas"  # vendored: see its README.md

RULES = {
    "IL001": RuleDoc(
        id="IL001",
        name="node-tls-reject-unauthorized",
        title="NODE_TLS_REJECT_UNAUTHORIZED=0 disables TLS verification",
        category="insecure-env",
        severity=Severity.ERROR,
        kind="dockerfile",
        fix="unsafe",
        body="## What it does\nFlags `NODE_TLS_REJECT_UNAUTHORIZED=0`.\n\n## Why is this bad?\nEvery TLS peer is trusted.\n",
    ),
    "IL003": RuleDoc(
        id="IL003",
        name="curl-insecure",
        title="curl -k disables certificate verification",
        category="insecure-cmd",
        severity=Severity.WARNING,
        kind="dockerfile",
        fix="unsafe",
        body="## What it does\nFlags `curl -k`.\n",
    ),
    "IL010": RuleDoc(
        id="IL010",
        name="ca-not-registered",
        title="CA copied but never registered",
        category="ca-not-registered",
        severity=Severity.WARNING,
        kind="dockerfile",
        fix="safe",
        body="## What it does\nFlags a CA copied into the anchor directory without `update-ca-certificates`.\n",
    ),
    "IL701": RuleDoc(
        id="IL701",
        name="expired-ca",
        title="Expired certificate in the trust store",
        category="cert-problem",
        severity=Severity.INFO,
        kind="image",
        fix="none",
    ),
}

# Non-ASCII before the flagged text makes byte, code-point and UTF-16 columns all differ.
DOCKERFILE = (
    "FROM debian:12\n"
    "LABEL maintainer=\"Zoë 𝄞\"\n"
    "COPY corp.crt /usr/local/share/ca-certificates/corp.crt\n"
    "RUN apt-get update && \\\n"
    "    curl -fsSLk https://example.com/install.sh | sh\n"
    "ENV NODE_TLS_REJECT_UNAUTHORIZED=0 GREETING=héllo\n"
)


def _span(text: str, needle: str, start: int = 0) -> tuple[int, int]:
    begin = text.index(needle, start)
    return begin, begin + len(needle)


def _position(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def finding_at(text: str, needle: str, rule: str, *, path: str = "Dockerfile", whole_lines: tuple[int, int] | None = None, **kw) -> Finding:
    """A finding on `needle` in `text` (or on whole lines), with the rule's catalogue metadata."""
    start, end = _span(text, needle)
    line, column = _position(text, start)
    end_line, end_column = _position(text, end)
    if whole_lines:  # the finding spans the whole instruction; it ends where the needle ends
        (line, end_line), column = whole_lines, 1
    doc = RULES[rule]
    kw.setdefault("severity", doc.severity)
    return Finding(rule=rule, category=doc.category, path=path, message=kw.pop("message", doc.title), line=line, end_line=end_line, column=column, end_column=end_column, **kw)


def sample_findings(text: str = DOCKERFILE, path: str = "Dockerfile") -> list[Finding]:
    copy_start, copy_end = _span(text, "COPY corp.crt /usr/local/share/ca-certificates/corp.crt")
    newline = "\r\n" if "\r\n" in text else "\n"
    register = Fix(
        "Run update-ca-certificates after the copy",
        Applicability.SAFE,
        [Edit(copy_start, copy_end, text[copy_start:copy_end] + newline + "RUN update-ca-certificates")],
    )
    k_start, k_end = _span(text, "-fsSLk")
    no_k = Fix("Remove -k", Applicability.UNSAFE, [Edit(k_start, k_end, "-fsSL")])
    env_start, env_end = _span(text, "NODE_TLS_REJECT_UNAUTHORIZED=0 ")
    no_env = Fix("Remove NODE_TLS_REJECT_UNAUTHORIZED", Applicability.UNSAFE, [Edit(env_start, env_end, "")])
    run_line = _position(text, text.index("RUN "))[0]
    return [
        finding_at(text, "COPY corp.crt /usr/local/share/ca-certificates/corp.crt", "IL010", path=path, message="corp.crt is copied but update-ca-certificates never runs", stage="0", fix=register),
        # The finding spans the whole RUN instruction (two lines); the fix edits the second only.
        finding_at(text, "-fsSLk", "IL003", path=path, message="curl -k: certificate verification is off", whole_lines=(run_line, run_line + 1), fix=no_k),
        finding_at(text, "NODE_TLS_REJECT_UNAUTHORIZED=0", "IL001", path=path, message='NODE_TLS_REJECT_UNAUTHORIZED=0 trusts every "peer" – ünicode', fix=no_env, properties={"variable": "NODE_TLS_REJECT_UNAUTHORIZED"}),
    ]


def make_report(findings=None, errors=None, sources=None, **kw) -> Report:
    sources = {"Dockerfile": DOCKERFILE} if sources is None else sources
    findings = sample_findings() if findings is None else findings
    kw.setdefault("files_checked", len(sources))
    return Report(findings=findings, errors=errors or [], rules=RULES, sources=sources, tool_version="0.1.0", **kw)


def suppressed_finding() -> Finding:
    return finding_at(
        DOCKERFILE,
        "NODE_TLS_REJECT_UNAUTHORIZED=0",
        "IL001",
        message="suppressed inline",
        suppression=Suppression("inSource", "build-time only, removed in the next stage"),
    )


# --- schemas -----------------------------------------------------------------------------------


def _schema_dir() -> Path:
    assert SCHEMAS.is_dir(), f"the vendored schemas are missing: {SCHEMAS}"
    return SCHEMAS


def sarif_validator():
    import jsonschema

    schema = json.loads((_schema_dir() / "sarif-schema-2.1.0.json").read_text())
    return jsonschema.Draft4Validator(schema)


def rdf_validator():
    import jsonschema
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4

    rdf = _schema_dir() / "rdf"
    resources = []
    for path in sorted(rdf.glob("*.json")):
        contents = json.loads(path.read_text())
        # Sibling $refs resolve by file name and by absolute URI under the directory.
        resource = Resource.from_contents(contents, default_specification=DRAFT4)
        resources += [(path.name, resource), (path.as_uri(), resource)]
    registry = Registry().with_resources(resources)
    schema = json.loads((rdf / "Diagnostic.json").read_text())
    schema.setdefault("id", (rdf / "Diagnostic.json").as_uri())
    return jsonschema.Draft4Validator(schema, registry=registry)


def assert_valid(validator, document) -> None:
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])


# --- dispatch ----------------------------------------------------------------------------------


def test_every_format_renders_an_empty_report():
    report = Report(rules=RULES, tool_version="0.1.0", files_checked=0)
    for fmt in FORMATS:
        assert isinstance(render(fmt, report), str)


def test_unknown_format_is_a_user_error():
    with pytest.raises(ImagelintError, match="unknown output format 'xml'"):
        render("xml", make_report())


def test_reporter_modules_are_imported_only_when_used():
    code = (
        "import sys, imagelint.report as r\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('imagelint.report.'))\n"
        "assert not loaded, loaded\n"
        "r.render('text', r.Report())\n"
        "assert 'imagelint.report.sarif' not in sys.modules\n"
        "assert 'imagelint.report.text' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])


# --- text --------------------------------------------------------------------------------------


def test_text_lines_fix_hints_errors_and_summary():
    findings = sample_findings() + [suppressed_finding()]
    findings.append(finding_at(DOCKERFILE, "FROM debian:12", "IL701", message="advice only", fix=Fix("Pin the base image", Applicability.DISPLAY_ONLY)))
    errors = [InputError("broken/Dockerfile", "not valid UTF-8", 3), InputError("missing/Dockerfile", "no such file")]
    out = render("text", make_report(findings, errors, files_checked=3))
    assert out.splitlines() == [
        "Dockerfile:1:1: IL701 info advice only",
        "  hint: Pin the base image",
        "Dockerfile:3:1: IL010 warning corp.crt is copied but update-ca-certificates never runs",
        "  fix (safe): Run update-ca-certificates after the copy",
        "Dockerfile:4:1: IL003 warning curl -k: certificate verification is off",
        "  fix (unsafe): Remove -k",
        'Dockerfile:6:5: IL001 error NODE_TLS_REJECT_UNAUTHORIZED=0 trusts every "peer" – ünicode',
        "  fix (unsafe): Remove NODE_TLS_REJECT_UNAUTHORIZED",
        # input errors are only counted here: their lines go to stderr (tests/test_cli_lint.py)
        "Found 4 problems (1 error, 2 warnings, 1 info) in 1 file; 2 inputs could not be checked; "
        "1 fixable with `imagelint fix` (2 more with --unsafe-fixes).",
    ]
    assert "\033[" not in out
    assert "suppressed inline" not in out


def test_text_colour_marks_severity_and_rule():
    out = render("text", make_report(), color=True)
    assert "\033[1;31merror\033[0m" in out and "\033[33mwarning\033[0m" in out
    assert "\033[1mIL001\033[0m" in out


def test_text_clean_run_and_image_summary():
    assert render("text", make_report([], sources={}, files_checked=4)) == "No problems found in 4 files.\n"
    assert render("text", make_report([], sources={}, files_checked=1)) == "No problems found in 1 file.\n"
    expired = Finding("IL701", Severity.INFO, "cert-problem", "/etc/ssl/certs/old.pem", "expired on 2020-01-01")
    out = render("text", make_report([expired], sources={}, artifact_kind="image", image="alpine:3.20"))
    assert out.splitlines() == [
        "/etc/ssl/certs/old.pem: IL701 info expired on 2020-01-01",
        "Found 1 problem (1 info) in image alpine:3.20.",
    ]


# --- json --------------------------------------------------------------------------------------


def test_json_contract_keys_exactly():
    findings = sample_findings() + [suppressed_finding()]
    data = json.loads(render("json", make_report(findings, [InputError("bad", "binary file"), InputError("worse", "unterminated heredoc", 7)])))
    assert list(data) == ["version", "tool", "findings", "errors"]
    assert data["version"] == 1
    assert data["tool"] == {"name": "imagelint", "version": "0.1.0"}
    base_keys = ["rule", "category", "severity", "path", "line", "end_line", "column", "end_column", "stage", "message", "fix"]
    assert [list(f) for f in data["findings"]] == [base_keys, base_keys, base_keys + ["properties"]]
    copy, curl, env = data["findings"]
    assert copy["fix"] == {
        "title": "Run update-ca-certificates after the copy",
        "applicability": "safe",
        "edits": [{"start": 40, "end": 95, "text": "COPY corp.crt /usr/local/share/ca-certificates/corp.crt\nRUN update-ca-certificates"}],
    }
    assert (copy["line"], copy["end_line"], copy["column"], copy["end_column"], copy["stage"]) == (3, 3, 1, 56, "0")
    assert (curl["line"], curl["end_line"], curl["severity"], curl["category"]) == (4, 5, "warning", "insecure-cmd")
    assert env["message"] == 'NODE_TLS_REJECT_UNAUTHORIZED=0 trusts every "peer" – ünicode'
    assert env["properties"] == {"variable": "NODE_TLS_REJECT_UNAUTHORIZED"}
    assert data["errors"] == [{"path": "bad", "message": "binary file"}, {"path": "worse", "message": "unterminated heredoc", "line": 7}]


def test_json_without_fix_has_null_and_output_is_ascii():
    finding = Finding("IL001", Severity.ERROR, "insecure-env", "dir/Dockerfile", "ü")
    out = render("json", make_report([finding]))
    assert out.isascii()
    assert json.loads(out)["findings"][0]["fix"] is None


# --- sarif -------------------------------------------------------------------------------------


def _sarif(report: Report) -> dict:
    log = json.loads(render("sarif", report))
    assert_valid(sarif_validator(), log)
    return log


def _apply_sarif_replacements(text: str, replacements: list[dict]) -> str:
    """Apply deletedRegion/insertedContent with code-point columns (the run's columnKind)."""
    lines = text.split("\n")
    starts = [0]
    for line in lines[:-1]:
        starts.append(starts[-1] + len(line) + 1)

    def offset(line: int, column: int) -> int:
        return starts[line - 1] + column - 1

    def end_offset(region: dict) -> int:
        if "endColumn" in region:
            return offset(region["endLine"], region["endColumn"])
        # Absent endColumn: the end of the line's content (SARIF 3.30.8).
        return starts[region["endLine"] - 1] + len(lines[region["endLine"] - 1].rstrip("\r"))

    edits = [Edit(offset(r["deletedRegion"]["startLine"], r["deletedRegion"]["startColumn"]), end_offset(r["deletedRegion"]), r["insertedContent"]["text"]) for r in replacements]
    return apply_edits(text, edits)


def test_sarif_validates_and_carries_rules_regions_fingerprints():
    errors = [InputError("broken/Dockerfile", "binary file", 2)]
    log = _sarif(make_report(sample_findings() + [suppressed_finding()], errors))
    assert log["version"] == "2.1.0"
    run = log["runs"][0]
    assert run["columnKind"] == "unicodeCodePoints"
    driver = run["tool"]["driver"]
    assert (driver["name"], driver["version"]) == ("imagelint", "0.1.0") and driver["informationUri"]
    rules = driver["rules"]
    # Only the rules that fired (IL701 did not), each with short help and a link to its page.
    assert [r["id"] for r in rules] == ["IL001", "IL003", "IL010"]
    il001 = rules[0]
    assert il001["shortDescription"]["text"] == RULES["IL001"].title
    assert il001["fullDescription"]["text"] == "Flags `NODE_TLS_REJECT_UNAUTHORIZED=0`."
    assert il001["help"]["markdown"] == (
        "Flags `NODE_TLS_REJECT_UNAUTHORIZED=0`.\n\n**Why:** Every TLS peer is trusted.\n\n"
        "[Examples and references](https://imagelint.dev/rules/IL001) (or `imagelint rules IL001`).")
    assert il001["help"]["text"].startswith("Flags `NODE_TLS_REJECT_UNAUTHORIZED=0`.\n\nWhy: Every TLS peer is trusted.")
    assert il001["helpUri"] == "https://imagelint.dev/rules/IL001"
    assert il001["defaultConfiguration"]["level"] == "error"
    assert il001["properties"]["security-severity"] == "8.0"
    assert {"security", "insecure-env"} <= set(il001["properties"]["tags"])
    assert [r["properties"]["security-severity"] for r in rules] == ["8.0", "5.0", "5.0"]

    results = run["results"]
    assert len(results) == 4
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        location = result["locations"][0]["physicalLocation"]
        assert location["artifactLocation"] == {"uri": "Dockerfile", "uriBaseId": "%SRCROOT%"}
        assert re.fullmatch(r"[0-9a-f]{16}:\d+", result["partialFingerprints"]["primaryLocationLineHash"])
    by_rule = {r["ruleId"]: r for r in results if "suppressions" not in r}
    # Code-point columns: "𝄞" is one column although it is two UTF-16 units and four bytes.
    assert by_rule["IL001"]["locations"][0]["physicalLocation"]["region"] == {"startLine": 6, "startColumn": 5, "endLine": 6, "endColumn": 35}
    assert by_rule["IL001"]["level"] == "error" and by_rule["IL010"]["level"] == "warning"
    # The same instruction, suppressed: a separate occurrence of the same hash.
    suppressed = next(r for r in results if "suppressions" in r)
    assert suppressed["suppressions"] == [{"kind": "inSource", "status": "accepted", "justification": "build-time only, removed in the next stage"}]
    assert "fixes" not in suppressed
    assert suppressed["partialFingerprints"]["primaryLocationLineHash"].split(":")[0] == by_rule["IL001"]["partialFingerprints"]["primaryLocationLineHash"].split(":")[0]

    invocation = run["invocations"][0]
    assert invocation["executionSuccessful"] is False
    notification = invocation["toolExecutionNotifications"][0]
    assert notification["message"]["text"] == "binary file"
    assert notification["locations"][0]["physicalLocation"]["region"] == {"startLine": 2}


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_sarif_fixes_sit_inside_results_and_reproduce_the_fixed_file(newline):
    text = DOCKERFILE.replace("\n", newline)
    findings = sample_findings(text)
    log = _sarif(make_report(findings, sources={"Dockerfile": text}))
    assert "fixes" not in log["runs"][0]
    results = {r["ruleId"]: r for r in log["runs"][0]["results"]}
    for finding in findings:
        result = results[finding.rule]
        (fix,) = result["fixes"]
        assert fix["description"]["text"] == finding.fix.title
        (change,) = fix["artifactChanges"]
        assert change["artifactLocation"] == {"uri": "Dockerfile", "uriBaseId": "%SRCROOT%"}
        assert _apply_sarif_replacements(text, change["replacements"]) == apply_edits(text, finding.fix.edits)
        # reviewdog needs the replacement on exactly the lines of the result's region.
        (replacement,) = change["replacements"]
        region = result["locations"][0]["physicalLocation"]["region"]
        deleted = replacement["deletedRegion"]
        assert (deleted["startLine"], deleted["endLine"]) == (region["startLine"], region["endLine"])
        assert deleted["startColumn"] == 1
        assert "endColumn" not in deleted  # whole lines: reviewdog posts a line-based suggestion


def test_sarif_fix_deleting_a_whole_line_ends_at_the_next_line_start():
    text = DOCKERFILE + "USER app\n"
    start = text.index("ENV NODE_TLS")
    fix = Fix("Remove the ENV", Applicability.UNSAFE, [Edit(start, text.index("USER app"), "")])
    finding = finding_at(text, "NODE_TLS_REJECT_UNAUTHORIZED=0", "IL001", fix=fix)
    (result,) = _sarif(make_report([finding], sources={"Dockerfile": text}))["runs"][0]["results"]
    (replacement,) = result["fixes"][0]["artifactChanges"][0]["replacements"]
    assert replacement == {"deletedRegion": {"startLine": 6, "startColumn": 1, "endLine": 7, "endColumn": 1}, "insertedContent": {"text": ""}}
    assert result["locations"][0]["physicalLocation"]["region"] == {"startLine": 6, "startColumn": 5, "endLine": 7, "endColumn": 1}
    assert _apply_sarif_replacements(text, [replacement]) == apply_edits(text, fix.edits)


def test_sarif_fingerprint_survives_line_shifts_and_counts_duplicates():
    shifted_text = "# syntax=docker/dockerfile:1\n\n" + DOCKERFILE.replace("RUN apt-get update && \\\n    curl", "RUN   apt-get update && \\\n        curl")

    def hashes(text):
        log = _sarif(make_report(sample_findings(text), sources={"Dockerfile": text}))
        return {r["ruleId"]: r["partialFingerprints"]["primaryLocationLineHash"] for r in log["runs"][0]["results"]}

    assert hashes(DOCKERFILE) == hashes(shifted_text)
    twice = DOCKERFILE + "ENV NODE_TLS_REJECT_UNAUTHORIZED=0 GREETING=héllo\n"
    second_start = twice.rindex("NODE_TLS_REJECT_UNAUTHORIZED=0")
    first = finding_at(twice, "NODE_TLS_REJECT_UNAUTHORIZED=0", "IL001")
    second = Finding("IL001", Severity.ERROR, "insecure-env", "Dockerfile", "again", line=7, end_line=7, column=5, end_column=35)
    assert twice.count("\n", 0, second_start) + 1 == 7
    log = _sarif(make_report([first, second], sources={"Dockerfile": twice}))
    prints = [r["partialFingerprints"]["primaryLocationLineHash"] for r in log["runs"][0]["results"]]
    assert prints[0].split(":")[0] == prints[1].split(":")[0]
    assert [p.split(":")[1] for p in prints] == ["1", "2"]


def test_sarif_display_only_fix_and_missing_columns():
    hint = Finding("IL010", Severity.WARNING, "ca-not-registered", "Dockerfile", "hint", line=3, end_line=3, fix=Fix("Read the docs", Applicability.DISPLAY_ONLY))
    log = _sarif(make_report([hint]))
    (result,) = log["runs"][0]["results"]
    assert "fixes" not in result
    # No columns from the check: the whole line, never a zero-width region.
    assert result["locations"][0]["physicalLocation"]["region"] == {"startLine": 3, "startColumn": 1, "endLine": 3, "endColumn": 56}
    assert log["runs"][0]["invocations"][0] == {"executionSuccessful": True}


def test_sarif_image_findings_point_at_the_image():
    expired = Finding("IL701", Severity.INFO, "cert-problem", "/etc/ssl/certs/old.pem", "expired", properties={"sha256": "ab" * 32})
    in_dockerfile = finding_at(DOCKERFILE, "COPY corp.crt", "IL010")
    report = make_report([expired, in_dockerfile], artifact_kind="image", image="registry.example.com:5000/team/app:1.2")
    results = {r["ruleId"]: r for r in _sarif(report)["runs"][0]["results"]}
    image_location = results["IL701"]["locations"][0]
    assert image_location["physicalLocation"]["artifactLocation"] == {"uri": "registry.example.com%3A5000/team/app%3A1.2"}
    assert image_location["logicalLocations"] == [{"fullyQualifiedName": "/etc/ssl/certs/old.pem", "kind": "resource"}]
    assert results["IL701"]["properties"]["sha256"] == "ab" * 32
    assert results["IL010"]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "Dockerfile"


def test_sarif_with_the_real_catalogue_validates():
    from imagelint.catalogue import load_catalogue

    catalogue = load_catalogue()
    # One finding of every real rule: each descriptor carries what GitHub code scanning shows
    # (shortDescription, fullDescription, help text and markdown, helpUri), and stays short.
    findings = [Finding(rule=doc.id, severity=doc.severity, category=doc.category, path="Dockerfile",
                        message=doc.title, line=1, end_line=1) for doc in catalogue.values()]
    report = Report(findings=findings, rules=catalogue, sources={"Dockerfile": DOCKERFILE}, tool_version="0.1.0", files_checked=1)
    log = _sarif(report)
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == sorted(catalogue)
    for rule in rules:
        doc = catalogue[rule["id"]]
        assert rule["shortDescription"]["text"] == doc.title
        full = rule["fullDescription"]["text"]
        # GitHub code scanning takes at most 1000 characters here (github/docs sarif-support.md).
        assert len(full) <= 1000 and (full == doc.summary or (full.endswith("…") and doc.summary.startswith(full[:-1])))
        assert rule["help"]["text"] and rule["help"]["markdown"].endswith(f"(or `imagelint rules {doc.id}`).")
        assert rule["helpUri"] == doc.help_uri() and doc.help_uri() in rule["help"]["markdown"]
        assert len(json.dumps(rule)) < 6000, rule["id"]


# --- rdjsonl -----------------------------------------------------------------------------------


def _rdjsonl(report: Report) -> list[dict]:
    out = render("rdjsonl", report)
    assert out.endswith("\n") or out == ""
    validator = rdf_validator()
    diagnostics = [json.loads(line) for line in out.splitlines()]
    for diagnostic in diagnostics:
        assert_valid(validator, diagnostic)
    return diagnostics


def _apply_suggestion(text: str, suggestion: dict) -> str:
    """Splice a suggestion into the source the way reviewdog does: 1-based UTF-8 byte columns."""
    data = text.encode()
    starts = [0] + [m.end() for m in re.finditer(b"\n", data)]

    def offset(position):
        return starts[position["line"] - 1] + position["column"] - 1

    rng = suggestion["range"]
    return (data[: offset(rng["start"])] + suggestion["text"].encode() + data[offset(rng["end"]) :]).decode()


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_rdjsonl_suggestions_cover_the_diagnostic_lines_and_reproduce_the_fix(newline):
    text = DOCKERFILE.replace("\n", newline)
    findings = sample_findings(text)
    diagnostics = _rdjsonl(make_report(findings, sources={"Dockerfile": text}))
    assert len(diagnostics) == 3
    for finding, diagnostic in zip(sorted(findings, key=lambda f: f.sort_key()), diagnostics):
        assert diagnostic["code"] == {"value": finding.rule, "url": f"https://imagelint.dev/rules/{finding.rule}"}
        assert diagnostic["source"]["name"] == "imagelint"
        (suggestion,) = diagnostic["suggestions"]
        assert suggestion["range"] == diagnostic["location"]["range"]
        rng = suggestion["range"]
        assert rng["start"]["column"] == 1
        assert (rng["start"]["line"], rng["end"]["line"]) == (min(finding.line, rng["start"]["line"]), max(finding.end_line, rng["end"]["line"]))
        assert _apply_suggestion(text, suggestion) == apply_edits(text, finding.fix.edits)
    copy, curl, env = diagnostics
    assert copy["severity"] == "WARNING" and env["severity"] == "ERROR"
    # The RUN finding spans lines 4-5, so its suggestion replaces both lines.
    assert (curl["location"]["range"]["start"]["line"], curl["location"]["range"]["end"]["line"]) == (4, 5)
    assert curl["suggestions"][0]["text"] == "RUN apt-get update && \\" + newline + "    curl -fsSL https://example.com/install.sh | sh"
    # The end column is the end of the last line's content, in bytes ("é" is two).
    env_line = "ENV NODE_TLS_REJECT_UNAUTHORIZED=0 GREETING=héllo"
    assert env["location"]["range"] == {"start": {"line": 6, "column": 1}, "end": {"line": 6, "column": len(env_line.encode()) + 1}}
    assert env["suggestions"][0]["text"] == "ENV GREETING=héllo"


def test_rdjsonl_expands_the_range_to_edits_outside_the_finding():
    # Finding on line 5 only; the fix also edits line 4 (joins the continuation).
    start, end = _span(DOCKERFILE, "apt-get update && \\\n    curl -fsSLk")
    fix = Fix("Drop -k", Applicability.UNSAFE, [Edit(start, end, "apt-get update && \\\n    curl -fsSL")])
    finding = finding_at(DOCKERFILE, "-fsSLk", "IL003", fix=fix)
    assert (finding.line, finding.end_line) == (5, 5)
    (diagnostic,) = _rdjsonl(make_report([finding]))
    (suggestion,) = diagnostic["suggestions"]
    assert suggestion["range"] == diagnostic["location"]["range"]
    assert (suggestion["range"]["start"]["line"], suggestion["range"]["end"]["line"]) == (4, 5)
    assert _apply_suggestion(DOCKERFILE, suggestion) == apply_edits(DOCKERFILE, fix.edits)


def test_rdjsonl_deleting_a_whole_line_ends_at_the_next_line_start():
    start = DOCKERFILE.index("ENV NODE_TLS")
    fix = Fix("Remove the ENV", Applicability.UNSAFE, [Edit(start, len(DOCKERFILE), "")])
    text = DOCKERFILE + "USER app\n"
    finding = finding_at(text, "NODE_TLS_REJECT_UNAUTHORIZED=0", "IL001", fix=fix)
    (diagnostic,) = _rdjsonl(make_report([finding], sources={"Dockerfile": text}))
    (suggestion,) = diagnostic["suggestions"]
    assert suggestion["range"] == diagnostic["location"]["range"] == {"start": {"line": 6, "column": 1}, "end": {"line": 7, "column": 1}}
    assert _apply_suggestion(text, suggestion) == apply_edits(text, fix.edits) == DOCKERFILE.replace("ENV NODE_TLS_REJECT_UNAUTHORIZED=0 GREETING=héllo\n", "") + "USER app\n"


def test_rdjsonl_without_applicable_fix_uses_byte_columns_and_no_suggestion():
    hint = finding_at(DOCKERFILE, "𝄞", "IL010", fix=Fix("Read the docs", Applicability.DISPLAY_ONLY))
    plain = finding_at(DOCKERFILE, "-fsSLk", "IL003")
    suppressed = suppressed_finding()
    errors = [InputError("missing/Dockerfile", "no such file")]
    diagnostics = _rdjsonl(make_report([hint, plain, suppressed], errors))
    assert len(diagnostics) == 3  # the suppressed finding is left out
    label, curl, error = diagnostics
    assert "suggestions" not in label and "suggestions" not in curl
    # 'LABEL maintainer="Zoë ' is 22 characters but 23 bytes; the clef is 4 bytes.
    assert label["location"]["range"] == {"start": {"line": 2, "column": 24}, "end": {"line": 2, "column": 28}}
    assert curl["location"]["range"] == {"start": {"line": 5, "column": 10}, "end": {"line": 5, "column": 16}}
    assert error["severity"] == "ERROR" and error["location"]["path"] == "missing/Dockerfile"


def test_rdjsonl_image_finding_has_no_range():
    expired = Finding("IL701", Severity.INFO, "cert-problem", "/etc/ssl/certs/old.pem", "expired")
    (diagnostic,) = _rdjsonl(make_report([expired], sources={}, artifact_kind="image", image="alpine:3.20"))
    assert diagnostic["location"] == {"path": "/etc/ssl/certs/old.pem"}
    assert diagnostic["severity"] == "INFO"


# --- github ------------------------------------------------------------------------------------


def test_github_workflow_commands_and_escaping():
    text = "FROM scratch\nENV A=1\n"
    tricky = Finding(
        "IL001",
        Severity.ERROR,
        "insecure-env",
        "dir,with:odd/Dockerfile",
        "100% broken\r\nsecond line",
        line=2,
        end_line=2,
        column=5,
        end_column=8,
    )
    info = Finding("IL701", Severity.INFO, "cert-problem", "Dockerfile", "multi-line", line=1, end_line=2, column=1, end_column=3)
    warning = finding_at(DOCKERFILE, "-fsSLk", "IL003")
    out = render(
        "github",
        make_report([tricky, info, warning, suppressed_finding()], [InputError("gone", "no such file: a,b", 3)], sources={"dir,with:odd/Dockerfile": text, "Dockerfile": DOCKERFILE}),
    )
    assert out.splitlines() == [
        "::notice file=Dockerfile,line=1,endLine=2,title=IL701 Expired certificate in the trust store::multi-line",
        "::warning file=Dockerfile,line=5,endLine=5,col=10,endColumn=16,title=IL003 curl -k disables certificate verification::"
        "curl -k disables certificate verification",
        "::error file=dir%2Cwith%3Aodd/Dockerfile,line=2,endLine=2,col=5,endColumn=8,"
        "title=IL001 NODE_TLS_REJECT_UNAUTHORIZED=0 disables TLS verification::100%25 broken%0D%0Asecond line",
        "::error file=gone,line=3,title=imagelint could not check this input::no such file: a,b",
    ]


def test_github_image_findings_have_no_file():
    expired = Finding("IL701", Severity.INFO, "cert-problem", "/etc/ssl/certs/old.pem", "expired")
    out = render("github", make_report([expired], sources={}, artifact_kind="image", image="alpine:3.20"))
    assert out == "::notice title=IL701 Expired certificate in the trust store::alpine:3.20:/etc/ssl/certs/old.pem: expired\n"


# --- gitlab ------------------------------------------------------------------------------------


def test_gitlab_code_quality():
    findings = sample_findings() + [suppressed_finding(), Finding("IL701", Severity.INFO, "cert-problem", "Dockerfile", "info", line=1, end_line=1)]
    issues = json.loads(render("gitlab", make_report(findings, [InputError("bad", "binary")])))
    assert len(issues) == 5
    for issue in issues:
        assert {"description", "check_name", "fingerprint", "severity", "location"} <= set(issue)
        assert re.fullmatch(r"[0-9a-f]{32}", issue["fingerprint"])
        assert issue["severity"] in {"blocker", "critical", "major", "minor", "info"}
    assert len({i["fingerprint"] for i in issues}) == 5
    by_rule = {i["check_name"]: i for i in issues}
    assert by_rule["IL001"]["severity"] == "critical" and by_rule["IL010"]["severity"] == "major" and by_rule["IL701"]["severity"] == "info"
    assert by_rule["IL003"]["location"] == {"path": "Dockerfile", "lines": {"begin": 4, "end": 5}}
    assert by_rule["imagelint-input-error"]["location"]["path"] == "bad"
    # Stable between runs.
    assert issues == json.loads(render("gitlab", make_report(findings, [InputError("bad", "binary")])))


# --- junit -------------------------------------------------------------------------------------


def test_junit_parses_and_counts():
    nasty = Finding("IL001", Severity.ERROR, "insecure-env", "Dockerfile", 'a <b> & "c" \x00\x1b[31m end', line=6, end_line=6)
    report = make_report(
        sample_findings() + [nasty, suppressed_finding()],
        [InputError("broken/Dockerfile", "unterminated heredoc", 4)],
        sources={"Dockerfile": DOCKERFILE, "clean/Dockerfile": "FROM scratch\n"},
    )
    root = ET.fromstring(render("junit", report))
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("6", "4", "1")
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert set(suites) == {"Dockerfile", "broken/Dockerfile", "clean/Dockerfile"}
    assert suites["Dockerfile"].get("failures") == "4"
    failures = [case.find("failure") for case in suites["Dockerfile"].findall("testcase")]
    assert all(f is not None for f in failures)
    messages = [f.get("message") for f in failures]
    assert 'a <b> & "c" \\x00\\x1b[31m end' in messages
    assert suites["broken/Dockerfile"].find("testcase/error").get("message") == "unterminated heredoc"
    (clean_case,) = suites["clean/Dockerfile"].findall("testcase")
    assert clean_case.find("failure") is None and clean_case.find("error") is None


def test_the_validators_are_not_vacuous():
    log = json.loads(render("sarif", make_report()))
    log["runs"][0]["fixes"] = []  # where semgrep#5421 put them: GitHub rejects it
    assert list(sarif_validator().iter_errors(log))
    (diagnostic, *_) = [json.loads(line) for line in render("rdjsonl", make_report()).splitlines()]
    diagnostic["location"]["range"]["start"]["line"] = "4"
    diagnostic["severity"] = "FATAL"
    assert len(list(rdf_validator().iter_errors(diagnostic))) == 2


# --- checkstyle --------------------------------------------------------------------------------


def test_checkstyle_parses():
    report = make_report(sample_findings() + [suppressed_finding()], [InputError("bad", "binary <file>", 2)])
    root = ET.fromstring(render("checkstyle", report))
    files = {f.get("name"): f for f in root.findall("file")}
    assert set(files) == {"Dockerfile", "bad"}
    errors = files["Dockerfile"].findall("error")
    assert [(e.get("line"), e.get("column"), e.get("severity"), e.get("source")) for e in errors] == [
        ("3", "1", "warning", "imagelint.IL010"),
        ("4", "1", "warning", "imagelint.IL003"),
        ("6", "5", "error", "imagelint.IL001"),
    ]
    assert files["bad"].find("error").get("message") == "binary <file>"


# --- scale -------------------------------------------------------------------------------------


def test_large_files_with_many_fixes_render_in_linear_time():
    import time

    line = "RUN curl -fsSLk https://example.com/x -o /tmp/x\n"
    text = line * 100_000  # about 5 MB
    findings = []
    for i in range(0, 100_000, 10):
        start = i * len(line) + line.index("-fsSLk")
        fix = Fix("Remove -k", Applicability.UNSAFE, [Edit(start, start + 6, "-fsSL")])
        findings.append(Finding("IL003", Severity.WARNING, "insecure-cmd", "Dockerfile", "curl -k", line=i + 1, end_line=i + 1, column=10, end_column=16, fix=fix))
    report = make_report(findings, sources={"Dockerfile": text})
    for fmt in FORMATS:
        started = time.perf_counter()
        render(fmt, report)
        assert time.perf_counter() - started < 10, fmt


def test_sarif_paths_relative_to_srcroot_or_file_uris(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    inside = tmp_path / "svc" / "Dockerfile"
    outside = "/elsewhere/my app/Dockerfile"
    findings = [
        Finding("IL001", Severity.ERROR, "insecure-env", str(inside), "inside", line=1, end_line=1, column=1, end_column=2),
        Finding("IL001", Severity.ERROR, "insecure-env", "./a b/Dockerfile", "relative", line=1, end_line=1, column=1, end_column=2),
        Finding("IL001", Severity.ERROR, "insecure-env", outside, "outside", line=1, end_line=1, column=1, end_column=2),
    ]
    log = _sarif(make_report(findings, sources={}))
    locations = {r["message"]["text"]: r["locations"][0]["physicalLocation"]["artifactLocation"] for r in log["runs"][0]["results"]}
    assert locations == {
        "inside": {"uri": "svc/Dockerfile", "uriBaseId": "%SRCROOT%"},
        "relative": {"uri": "a%20b/Dockerfile", "uriBaseId": "%SRCROOT%"},
        "outside": {"uri": "file:///elsewhere/my%20app/Dockerfile"},
    }


# --- github-suggestions ------------------------------------------------------------------------


def _apply_review_suggestion(text: str, newline: str, comment: dict) -> str:
    """Replace lines start_line..line by the ```suggestion block, as GitHub's "commit suggestion" does."""
    block = re.search(r"^(`{3,})suggestion\n(.*?)\n\1$", comment["body"], re.S | re.M).group(2)
    lines = text.split(newline)
    first = comment.get("start_line", comment["line"])
    lines[first - 1 : comment["line"]] = block.split("\n")
    return newline.join(lines)


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_github_suggestions_reproduce_each_fix(newline):
    from imagelint.report.github_suggestions import suggestion_comments

    text = DOCKERFILE.replace("\n", newline) + "USER app" + newline
    findings = sample_findings(text)
    env_line_start = text.index("ENV NODE_TLS")
    delete_env = Fix("Remove the ENV", Applicability.UNSAFE, [Edit(env_line_start, text.index("USER app"), "")])
    findings.append(finding_at(text, "GREETING", "IL001", fix=delete_env))
    findings.append(finding_at(text, "FROM", "IL701", fix=Fix("Read the docs", Applicability.DISPLAY_ONLY)))
    report = make_report(findings, sources={"Dockerfile": text})
    comments = suggestion_comments(report)
    assert len(comments) == 4  # the display-only hint has nothing to suggest
    for finding, comment in zip([f for f in sorted(findings, key=lambda f: f.sort_key()) if f.rule != "IL701"], comments):
        assert comment["path"] == "Dockerfile" and comment["side"] == "RIGHT"
        assert _apply_review_suggestion(text, newline, comment) == apply_edits(text, finding.fix.edits)
    run_comment = comments[1]
    assert (run_comment["start_line"], run_comment["line"]) == (4, 5)
    markdown = render("github-suggestions", report)
    assert markdown.count("```suggestion\n") == 4
    assert markdown.count("<!-- imagelint-suggestion {") == 4


def test_a_broken_fix_is_left_out_not_a_crash():
    overlapping = Fix("Overlaps", Applicability.SAFE, [Edit(0, 10, "x"), Edit(5, 12, "y")])
    beyond = Fix("Past the end", Applicability.SAFE, [Edit(len(DOCKERFILE) - 1, len(DOCKERFILE) + 5, "z")])
    findings = [
        finding_at(DOCKERFILE, "FROM debian:12", "IL010", fix=overlapping),
        finding_at(DOCKERFILE, "GREETING=héllo", "IL001", fix=beyond),
    ]
    report = make_report(findings)
    assert all("fixes" not in r for r in _sarif(report)["runs"][0]["results"])
    assert all("suggestions" not in d for d in _rdjsonl(report))
    assert render("github-suggestions", report) == ""
    assert [f["fix"]["title"] for f in json.loads(render("json", report))["findings"]] == ["Overlaps", "Past the end"]
