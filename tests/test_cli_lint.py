"""`imagelint lint`, `imagelint rules` and `--version` through the real command line (a subprocess):
exit codes, rule selection, build args, targets, stdin, output files, configuration, inline pragmas and
every output format on a real lint run.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = Path(__file__).resolve().parent / "data" / "schemas"  # vendored: see its README.md

INSECURE = """\
FROM alpine:3.20
RUN curl -k https://example.com/a -o /tmp/a
RUN wget --no-check-certificate https://example.com/b
ENV NODE_TLS_REJECT_UNAUTHORIZED=0
"""
CLEAN = "FROM alpine:3.20\nRUN apk add --no-cache curl && curl -fsSL https://example.com/a -o /tmp/a\n"


def run_cli(*args: str, cwd: Path, stdin: str | None = None, console_script: bool = False) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), NO_COLOR="1")
    command = ["imagelint"] if console_script else [sys.executable, "-m", "imagelint.cli"]
    proc = subprocess.run([*command, *args], cwd=cwd, env=env, input=stdin, capture_output=True, text=True, timeout=300)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def findings(proc: subprocess.CompletedProcess) -> list[tuple[str, int, str]]:
    report = json.loads(proc.stdout)
    return sorted((f["rule"], f["line"], f["severity"]) for f in report["findings"])


def rules_of(proc: subprocess.CompletedProcess) -> set[str]:
    return {rule for rule, _, _ in findings(proc)}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "insecure.Dockerfile").write_text(INSECURE)
    (tmp_path / "clean.Dockerfile").write_text(CLEAN)
    return tmp_path


# --- exit codes --------------------------------------------------------------------------------------

def test_exit_codes(project: Path):
    assert run_cli("lint", "clean.Dockerfile", cwd=project).returncode == 0
    proc = run_cli("lint", "insecure.Dockerfile", cwd=project)
    assert proc.returncode == 1
    assert re.search(r"^insecure\.Dockerfile:2:\d+: IL110 warning ", proc.stdout, re.M)
    assert proc.stdout.strip().splitlines()[-1].startswith("Found ")
    assert run_cli("lint", "missing.Dockerfile", cwd=project).returncode == 2
    usage = run_cli("lint", "clean.Dockerfile", "--format", "yaml", cwd=project)
    assert usage.returncode == 2 and "yaml" in usage.stderr
    assert run_cli("lint", "clean.Dockerfile", "--fail-level", "fatal", cwd=project).returncode == 2
    assert run_cli("lint", cwd=project).returncode == 2  # no path


def test_fail_level(project: Path):
    # IL110/IL111 are warnings, IL101 is an error.
    assert run_cli("lint", "insecure.Dockerfile", "--fail-level", "error", cwd=project).returncode == 1
    only_warnings = ["--ignore", "IL101"]
    assert run_cli("lint", "insecure.Dockerfile", *only_warnings, "--fail-level", "error", cwd=project).returncode == 0
    assert run_cli("lint", "insecure.Dockerfile", *only_warnings, "--fail-level", "warning", cwd=project).returncode == 1
    assert run_cli("lint", "insecure.Dockerfile", *only_warnings, "--fail-level", "info", cwd=project).returncode == 1


def test_select_and_ignore_take_ids_and_prefixes(project: Path):
    everything = rules_of(run_cli("lint", "insecure.Dockerfile", "-f", "json", cwd=project))
    assert {"IL101", "IL110", "IL111"} <= everything
    assert rules_of(run_cli("lint", "insecure.Dockerfile", "-f", "json", "--select", "IL110", cwd=project)) == {"IL110"}
    assert rules_of(run_cli("lint", "insecure.Dockerfile", "-f", "json", "--select", "IL11", cwd=project)) == {"IL110", "IL111"}
    assert rules_of(run_cli("lint", "insecure.Dockerfile", "-f", "json", "--select", "IL110,IL101", cwd=project)) == {"IL101", "IL110"}
    assert rules_of(run_cli("lint", "insecure.Dockerfile", "-f", "json", "--select", "il111", "--select", "IL101", cwd=project)) == {"IL101", "IL111"}
    ignored = rules_of(run_cli("lint", "insecure.Dockerfile", "-f", "json", "--ignore", "IL11", cwd=project))
    assert "IL101" in ignored and not {"IL110", "IL111"} & ignored
    proc = run_cli("lint", "insecure.Dockerfile", "--select", "IL11", "--ignore", "IL110", "-f", "json", cwd=project)
    assert rules_of(proc) == {"IL111"}


def test_build_arg_changes_results(tmp_path: Path):
    (tmp_path / "Dockerfile").write_text(
        "FROM alpine:3.20\nARG CURL_FLAGS=-fsSL\nRUN curl $CURL_FLAGS https://example.com/x -o /tmp/x\n"
    )
    assert run_cli("lint", "Dockerfile", "--select", "IL110", cwd=tmp_path).returncode == 0
    proc = run_cli("lint", "Dockerfile", "--select", "IL110", "--build-arg", "CURL_FLAGS=-k", "-f", "json", cwd=tmp_path)
    assert proc.returncode == 1 and findings(proc) == [("IL110", 3, "warning")]
    bundled = run_cli("lint", "Dockerfile", "--select", "IL110", "--build-arg", "CURL_FLAGS=-fsSLk", cwd=tmp_path)
    assert bundled.returncode == 1


def test_target_picks_the_shipped_stage(tmp_path: Path):
    (tmp_path / "Dockerfile").write_text(
        "FROM debian:bookworm AS build\n"
        "COPY corp.crt /usr/local/share/ca-certificates/corp.crt\n"
        "RUN echo built\n\n"
        "FROM debian:bookworm AS final\n"
        "RUN echo final\n"
    )
    default = findings(run_cli("lint", "Dockerfile", "--select", "IL201", "-f", "json", cwd=tmp_path))
    targeted = findings(run_cli("lint", "Dockerfile", "--select", "IL201", "--target", "build", "-f", "json", cwd=tmp_path))
    # The unregistered CA matters more when its stage is the one shipped.
    assert default == [("IL201", 2, "warning")]
    assert targeted == [("IL201", 2, "error")]
    missing = run_cli("lint", "Dockerfile", "--target", "nope", cwd=tmp_path)
    assert missing.returncode == 2 and "nope" in missing.stdout + missing.stderr


def test_stdin_with_stdin_filename(project: Path):
    proc = run_cli("lint", "-", "--stdin-filename", "services/api/Dockerfile", "-f", "json", cwd=project, stdin=INSECURE)
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    assert {f["path"] for f in report["findings"]} == {"services/api/Dockerfile"}
    plain = run_cli("lint", "-", cwd=project, stdin=CLEAN)
    assert plain.returncode == 0
    text = run_cli("lint", "-", "--stdin-filename", "x/Dockerfile", cwd=project, stdin=INSECURE)
    assert re.search(r"^x/Dockerfile:2:\d+: IL110", text.stdout, re.M)


def test_output_file(project: Path):
    proc = run_cli("lint", "insecure.Dockerfile", "-f", "json", "--output", "report.json", cwd=project)
    assert proc.returncode == 1
    assert proc.stdout == ""
    report = json.loads((project / "report.json").read_text())
    assert report["version"] == 1 and report["findings"]
    bad = run_cli("lint", "insecure.Dockerfile", "--output", "no/such/dir/report.txt", cwd=project)
    assert bad.returncode == 2 and "report.txt" in bad.stderr


def test_console_script_is_installed(project: Path):
    proc = run_cli("lint", "insecure.Dockerfile", cwd=project, console_script=True)
    assert proc.returncode == 1 and "IL110" in proc.stdout


# --- configuration -----------------------------------------------------------------------------------

def test_discovered_imagelint_toml(project: Path):
    (project / ".imagelint.toml").write_text(
        'ignore = ["IL111"]\n'
        'fail-level = "error"\n'
        "[severity]\n"
        'IL110 = "error"\n'
    )
    proc = run_cli("lint", "insecure.Dockerfile", "-f", "json", "--ignore", "IL101", cwd=project)
    assert findings(proc) == [("IL110", 2, "error")]
    assert proc.returncode == 1  # IL110 raised to error meets fail-level error
    (project / ".imagelint.toml").write_text('ignore = ["IL101"]\nfail-level = "error"\n')
    assert run_cli("lint", "insecure.Dockerfile", cwd=project).returncode == 0  # only warnings left


def test_config_is_found_walking_up_from_the_linted_file(project: Path):
    nested = project / "services" / "api"
    nested.mkdir(parents=True)
    (nested / "Dockerfile").write_text(INSECURE)
    (project / "pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.imagelint]\nselect = ["IL110"]\n')
    assert rules_of(run_cli("lint", "services/api/Dockerfile", "-f", "json", cwd=project)) == {"IL110"}
    # A nearer .imagelint.toml wins over the pyproject further up.
    (project / "services" / ".imagelint.toml").write_text('select = ["IL111"]\n')
    assert rules_of(run_cli("lint", "services/api/Dockerfile", "-f", "json", cwd=project)) == {"IL111"}


def test_select_in_config(project: Path):
    (project / ".imagelint.toml").write_text('select = ["IL101"]\n')
    assert rules_of(run_cli("lint", "insecure.Dockerfile", "-f", "json", cwd=project)) == {"IL101"}
    # The command line wins over the file.
    assert rules_of(run_cli("lint", "insecure.Dockerfile", "-f", "json", "--select", "IL110", cwd=project)) == {"IL110"}


def test_per_path_ignores(project: Path):
    (project / "test").mkdir()
    (project / "test" / "Dockerfile").write_text(INSECURE)
    (project / ".imagelint.toml").write_text('[per-path-ignores]\n"test/*" = ["IL11"]\n')
    proc = run_cli("lint", ".", "-f", "json", cwd=project)
    by_path = {}
    for f in json.loads(proc.stdout)["findings"]:
        by_path.setdefault(f["path"].removeprefix("./"), set()).add(f["rule"])
    assert {"IL110", "IL111"} <= by_path["insecure.Dockerfile"]
    assert not {"IL110", "IL111"} & by_path["test/Dockerfile"] and "IL101" in by_path["test/Dockerfile"]


def test_explicit_config_file(project: Path):
    (project / "ci.toml").write_text('select = ["IL111"]\n[severity]\nIL111 = "info"\n')
    proc = run_cli("lint", "insecure.Dockerfile", "--config", "ci.toml", "-f", "json", cwd=project)
    assert findings(proc) == [("IL111", 3, "info")]
    assert run_cli("lint", "insecure.Dockerfile", "--config", "ci.toml", "--fail-level", "warning", cwd=project).returncode == 0
    (project / "broken.toml").write_text("select = [\n")
    broken = run_cli("lint", "insecure.Dockerfile", "--config", "broken.toml", cwd=project)
    assert broken.returncode == 2 and "broken.toml" in broken.stderr
    assert len(broken.stderr.strip().splitlines()) == 1
    (project / "typo.toml").write_text('selct = ["IL111"]\n')
    typo = run_cli("lint", "insecure.Dockerfile", "--config", "typo.toml", cwd=project)
    assert typo.returncode == 2 and "selct" in typo.stderr
    assert run_cli("lint", "insecure.Dockerfile", "--config", "missing.toml", cwd=project).returncode == 2


# --- inline pragmas ----------------------------------------------------------------------------------

PRAGMAS = """\
FROM alpine:3.20 AS build
# imagelint ignore=IL110 the mirror only speaks self-signed TLS, tracked in OPS-12
RUN curl -k https://mirror.internal/a -o /tmp/a
RUN curl -k https://example.com/b -o /tmp/b

FROM alpine:3.20
# imagelint stage ignore=IL111 legacy stage, removed in Q3
RUN wget --no-check-certificate https://example.com/c
RUN wget --no-check-certificate https://example.com/d
"""


def test_inline_pragmas_suppress_without_failing(tmp_path: Path):
    (tmp_path / "Dockerfile").write_text(PRAGMAS)
    proc = run_cli("lint", "Dockerfile", "-f", "json", "--select", "IL11", cwd=tmp_path)
    assert proc.returncode == 1  # line 4 is not covered
    report = json.loads(proc.stdout)
    by_line = {f["line"]: f for f in report["findings"]}
    assert 4 in by_line
    unsuppressed = sorted(line for line, f in by_line.items() if not f.get("suppression") and not f.get("suppressed"))
    assert unsuppressed == [4]
    # Once line 4 is ignored file-wide for IL110, only suppressed findings remain: exit 0.
    (tmp_path / "Dockerfile").write_text("# imagelint global ignore=IL110 internal mirrors\n" + PRAGMAS)
    quiet = run_cli("lint", "Dockerfile", "--select", "IL11", cwd=tmp_path)
    assert quiet.returncode == 0, quiet.stdout


def test_suppressed_findings_appear_in_sarif_with_suppressions(tmp_path: Path):
    (tmp_path / "Dockerfile").write_text(PRAGMAS)
    proc = run_cli("lint", "Dockerfile", "-f", "sarif", "--select", "IL11", cwd=tmp_path)
    sarif = json.loads(proc.stdout)
    results = sarif["runs"][0]["results"]
    lines = {r["locations"][0]["physicalLocation"]["region"]["startLine"]: r for r in results}
    assert set(lines) == {3, 4, 8, 9}
    assert "suppressions" not in lines[4] or lines[4]["suppressions"] == []
    for line in (3, 8, 9):
        (suppression,) = lines[line]["suppressions"]
        assert suppression["kind"] == "inSource"
    assert "OPS-12" in lines[3]["suppressions"][0].get("justification", "")


# --- every format on a real run ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def formats_project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("formats")
    (root / "Dockerfile").write_text(INSECURE)
    (root / "broken.Dockerfile").write_text("FROM alpine\nRUN <<EOF\nnever ends\n")
    return root


def _lint_format(root: Path, fmt: str) -> subprocess.CompletedProcess:
    proc = run_cli("lint", "Dockerfile", "-f", fmt, cwd=root)
    assert proc.returncode == 1, proc.stderr
    return proc


def test_format_text(formats_project: Path):
    out = _lint_format(formats_project, "text").stdout
    assert re.search(r"^Dockerfile:2:\d+: IL110 warning .+", out, re.M)
    assert "\033[" not in out  # not a TTY: no colour


def test_format_json(formats_project: Path):
    report = json.loads(_lint_format(formats_project, "json").stdout)
    assert report["version"] == 1 and report["tool"]["name"] == "imagelint"
    finding = next(f for f in report["findings"] if f["rule"] == "IL110")
    assert set(finding) >= {"rule", "category", "severity", "path", "line", "end_line", "column", "end_column", "stage", "message", "fix"}
    assert finding["category"] == "insecure-cmd" and finding["path"] == "Dockerfile"


def test_format_sarif_validates(formats_project: Path):
    jsonschema = pytest.importorskip("jsonschema")
    sarif = json.loads(_lint_format(formats_project, "sarif").stdout)
    schema = json.loads((SCHEMAS / "sarif-schema-2.1.0.json").read_text())
    jsonschema.validate(sarif, schema)
    run = sarif["runs"][0]
    rule_ids = {r["id"] for r in run["tool"]["driver"]["rules"]}
    assert {"IL101", "IL110", "IL111"} <= rule_ids
    for result in run["results"]:
        assert result["partialFingerprints"]["primaryLocationLineHash"]
        region = result["locations"][0]["physicalLocation"]["region"]
        assert region["startLine"] >= 1 and region["startColumn"] >= 1


def test_format_github(formats_project: Path):
    out = _lint_format(formats_project, "github").stdout
    assert re.search(r"^::warning file=Dockerfile,line=2,.*title=IL110.*::", out, re.M), out
    assert re.search(r"^::error file=Dockerfile,line=4,", out, re.M)


def test_format_gitlab(formats_project: Path):
    issues = json.loads(_lint_format(formats_project, "gitlab").stdout)
    assert {i["check_name"] for i in issues} >= {"IL110", "IL111", "IL101"}
    for issue in issues:
        assert issue["location"]["path"] == "Dockerfile" and issue["location"]["lines"]["begin"] >= 1
        assert issue["fingerprint"] and issue["severity"] in ("info", "minor", "major", "critical", "blocker")


def test_format_junit(formats_project: Path):
    tree = ET.fromstring(_lint_format(formats_project, "junit").stdout)
    failures = tree.findall(".//failure")
    assert len(failures) >= 3
    assert any("IL110" in (f.get("message", "") + (f.text or "") + f.get("type", "")) for f in failures)


def test_format_rdjsonl_validates(formats_project: Path):
    jsonschema = pytest.importorskip("jsonschema")
    lines = _lint_format(formats_project, "rdjsonl").stdout.strip().splitlines()
    assert len(lines) >= 3
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4

    rdf = SCHEMAS / "rdf"
    resources = []
    for path in sorted(rdf.glob("*.json")):
        resource = Resource.from_contents(json.loads(path.read_text()), default_specification=DRAFT4)
        resources += [(path.name, resource), (path.as_uri(), resource)]
    schema = json.loads((rdf / "Diagnostic.json").read_text())
    schema.setdefault("id", (rdf / "Diagnostic.json").as_uri())
    validator = jsonschema.Draft4Validator(schema, registry=Registry().with_resources(resources))
    for line in lines:
        diagnostic = json.loads(line)
        errors = [e.message for e in validator.iter_errors(diagnostic)]
        assert not errors, errors
        assert diagnostic["location"]["path"] == "Dockerfile"


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "github", "gitlab", "junit", "rdjsonl"])
def test_every_format_reports_an_unreadable_file(formats_project: Path, fmt: str):
    proc = run_cli("lint", "Dockerfile", "broken.Dockerfile", "-f", fmt, cwd=formats_project)
    assert proc.returncode == 2
    assert "broken.Dockerfile" in proc.stdout + proc.stderr
    assert "IL110" in proc.stdout


# --- rules and version -------------------------------------------------------------------------------

def test_rules_lists_every_rule(tmp_path: Path):
    proc = run_cli("rules", cwd=tmp_path)
    assert proc.returncode == 0
    ids = [line.split()[0] for line in proc.stdout.splitlines() if line.strip()]
    from imagelint.catalogue import load_catalogue

    assert ids == sorted(load_catalogue()), "every rule of the catalogue, once each, in order"


def test_rules_explains_one_rule_with_examples(tmp_path: Path):
    proc = run_cli("rules", "IL110", cwd=tmp_path)
    assert proc.returncode == 0
    assert proc.stdout.startswith("IL110 ")
    for section in ("What it does", "Why is this bad?", "Example", "Use instead"):
        assert section in proc.stdout
    assert "curl" in proc.stdout
    unknown = run_cli("rules", "IL999", cwd=tmp_path)
    assert unknown.returncode == 2 and "IL999" in unknown.stderr


def test_version(tmp_path: Path):
    from imagelint import __version__

    proc = run_cli("--version", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout.strip() == f"imagelint {__version__}"


# --- help, usage, no silent greens, stderr vs stdout ----------------------------------------------------

COMMANDS = ["lint", "rules", "trust", "fix", "scan", "expiry"]


@pytest.mark.parametrize("command", COMMANDS)
def test_help_has_examples_choices_and_reads_well(command: str, tmp_path: Path):
    short = run_cli(command, "-h", cwd=tmp_path)
    long = run_cli(command, "--help", cwd=tmp_path)
    assert short.returncode == 0 and short.stdout == long.stdout
    text = short.stdout
    assert text.startswith(f"Usage: imagelint {command} [OPTIONS] ")
    assert "{" not in text.splitlines()[0] and "<str>" not in text
    examples = text.split("Examples:\n", 1)[1].splitlines()
    assert 2 <= len([line for line in examples if line.strip().startswith(f"imagelint {command}")]) <= 3
    if command in ("lint", "scan"):
        assert "--format [text|json|sarif|github|gitlab|junit|rdjsonl|checkstyle]" in " ".join(text.split())
        assert "--fail-level [error|warning|info]" in text
    if command == "fix":
        assert "--format [text|json|github-suggestions]" in text
    if command == "expiry":
        assert "--format [text|json|prometheus]" in text
    if command == "trust":
        assert " ".join(text.split()).startswith("Usage: imagelint trust [OPTIONS] [IMAGE] (--chain FILE | --connect "
                                                 "HOST:PORT | --manifests PATH --workload NAME) ")
        assert "--runtime [openssl|go|java|python-requests|node]" in text
        assert "One of --chain/--connect is needed" in " ".join(text.split())


def test_top_level_help_lists_whole_summaries_and_a_first_run(tmp_path: Path):
    proc = run_cli("-h", cwd=tmp_path)
    assert proc.returncode == 0
    assert "..." not in proc.stdout.split("Commands:", 1)[1]
    assert "imagelint rules IL201" in proc.stdout and "imagelint fix --diff" in proc.stdout


def test_trust_without_a_chain_says_what_is_needed(tmp_path: Path):
    proc = run_cli("trust", "host", cwd=tmp_path)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.splitlines() == [
        "imagelint: error: trust needs the server's certificates: add --chain FILE or --connect HOST:PORT"]
    both = run_cli("trust", "host", "--chain", "x.pem", "--connect", "example.com:443", cwd=tmp_path)
    assert both.returncode == 2 and len(both.stderr.splitlines()) == 1 and "cannot be combined" in both.stderr
    runtime = run_cli("trust", "host", "--chain", "x.pem", "--runtime", "perl", cwd=tmp_path)
    assert runtime.returncode == 2 and "unknown runtime 'perl'" in runtime.stderr


def test_a_directory_without_dockerfiles_is_not_green(tmp_path: Path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "README.md").write_text("no Dockerfile here\n")
    proc = run_cli("lint", "docs", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "imagelint: error: docs: no Dockerfile or Kubernetes manifest found (looked for Dockerfile, Containerfile, "
        "*.Dockerfile, Dockerfile.*, and *.yaml/*.yml/*.json with apiVersion and kind, outside excluded paths); "
        "name the file, or pass --allow-empty"]
    assert proc.stdout == "No problems found in 0 files; 1 input could not be checked.\n"
    allowed = run_cli("lint", "docs", "--allow-empty", cwd=tmp_path)
    assert allowed.returncode == 0 and allowed.stderr.startswith("imagelint: warning: docs: no Dockerfile or Kubernetes manifest found")
    # A directory with a Dockerfile next to an empty one still fails: the empty one was named on purpose.
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "Dockerfile").write_text(CLEAN)
    assert run_cli("lint", "app", "docs", cwd=tmp_path).returncode == 2
    assert run_cli("lint", "app", cwd=tmp_path).returncode == 0


def test_rule_selectors_that_match_nothing_are_refused(project: Path):
    for option in ("--select", "--ignore"):
        proc = run_cli("lint", "insecure.Dockerfile", option, "IL11,XX1", cwd=project)
        assert proc.returncode == 2 and proc.stdout == ""
        assert proc.stderr.splitlines() == [
            f"imagelint: error: {option} XX1 matches no rule (ids look like IL110, prefixes like IL1; "
            "`imagelint rules` lists them)"]
    # Image rules only: lint would check nothing.
    image_only = run_cli("lint", "insecure.Dockerfile", "--select", "IL7", cwd=project)
    assert image_only.returncode == 2 and "leave no rule that `imagelint lint` runs" in image_only.stderr
    warned = run_cli("lint", "insecure.Dockerfile", "--select", "IL7", "--allow-empty", cwd=project)
    assert warned.returncode == 0 and "imagelint: warning:" in warned.stderr
    everything_ignored = run_cli("lint", "insecure.Dockerfile", "--ignore", "IL", cwd=project)
    assert everything_ignored.returncode == 2


@pytest.mark.parametrize("fmt", ["text", "json", "sarif"])
def test_input_errors_go_to_stderr_and_stay_in_machine_reports(project: Path, fmt: str):
    proc = run_cli("lint", "insecure.Dockerfile", "missing.Dockerfile", "-f", fmt, cwd=project)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == ["imagelint: error: missing.Dockerfile: no such file or directory"]
    if fmt == "text":
        assert "missing.Dockerfile" not in proc.stdout
        assert "; 1 input could not be checked" in proc.stdout.splitlines()[-1]
    elif fmt == "json":
        assert json.loads(proc.stdout)["errors"] == [{"path": "missing.Dockerfile", "message": "no such file or directory"}]
    else:
        invocation = json.loads(proc.stdout)["runs"][0]["invocations"][0]
        assert invocation["executionSuccessful"] is False
        assert invocation["toolExecutionNotifications"][0]["message"]["text"] == "no such file or directory"


def test_sarif_of_one_finding_is_a_few_kb_and_shows_rule_help(tmp_path: Path):
    import jsonschema

    (tmp_path / "Dockerfile").write_text("FROM alpine:3.20\nRUN curl -k https://example.com/a -o /tmp/a\n")
    proc = run_cli("lint", "Dockerfile", "-f", "sarif", cwd=tmp_path)
    assert proc.returncode == 1
    assert len(proc.stdout.encode()) < 8_000, len(proc.stdout)
    sarif = json.loads(proc.stdout)
    jsonschema.Draft4Validator(json.loads((SCHEMAS / "sarif-schema-2.1.0.json").read_text())).validate(sarif)
    run = sarif["runs"][0]
    assert [r["ruleId"] for r in run["results"]] == ["IL110"]
    (rule,) = run["tool"]["driver"]["rules"]  # only the rule that fired
    # What GitHub code scanning reads for the alert's rule panel.
    assert rule["id"] == "IL110" and rule["shortDescription"]["text"] and rule["fullDescription"]["text"]
    assert "**Fix:** Remove the flag" in rule["help"]["markdown"] and "Fix: Remove the flag" in rule["help"]["text"]
    assert rule["helpUri"] == "https://imagelint.dev/rules/IL110"


# --- private base images --------------------------------------------------------------------------------

PRIVATE_BASE = "FROM registry.corp/base:1\nCOPY corp.crt /usr/local/share/ca-certificates/corp.crt\nRUN echo done\n"


def test_a_private_base_image_family_comes_from_the_configuration(tmp_path: Path):
    (tmp_path / "Dockerfile").write_text(PRIVATE_BASE)
    unknown = run_cli("lint", "Dockerfile", "--select", "IL201", cwd=tmp_path)
    assert unknown.returncode == 0  # nothing tells what the base image is: the check stays quiet, and says why
    assert unknown.stderr.splitlines() == [
        "imagelint: note: Dockerfile:1: the OS family of base image registry.corp/base:1 is unknown, so the checks "
        "that need it (anchor directory, update command, bundle) stay quiet for this stage; declare it: "
        '[tool.imagelint.base-images] "registry.corp/*" = "debian" (or alpine, rhel, ...)']
    (tmp_path / "pyproject.toml").write_text('[tool.imagelint.base-images]\n"registry.corp/*" = "debian"\n')
    known = run_cli("lint", "Dockerfile", "--select", "IL201", "-f", "json", cwd=tmp_path)
    assert known.returncode == 1 and known.stderr == ""
    (finding,) = json.loads(known.stdout)["findings"]
    assert "added to the debian trust anchors but `update-ca-certificates` never runs" in finding["message"]
    # A glob with the tag, in .imagelint.toml (nearer than pyproject.toml).
    (tmp_path / ".imagelint.toml").write_text('[base-images]\n"registry.corp/base:1*" = "alpine"\n')
    alpine = run_cli("lint", "Dockerfile", "--select", "IL201", "-f", "json", cwd=tmp_path)
    assert "added to the alpine trust anchors" in json.loads(alpine.stdout)["findings"][0]["message"]


def test_a_base_image_family_must_be_one_imagelint_knows(tmp_path: Path):
    (tmp_path / "Dockerfile").write_text(PRIVATE_BASE)
    (tmp_path / ".imagelint.toml").write_text('[base-images]\n"registry.corp/*" = "debain"\n')
    proc = run_cli("lint", "Dockerfile", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"imagelint: error: {tmp_path / '.imagelint.toml'}: [base-images] 'registry.corp/*': unknown family 'debain' "
        "(choose from alpine, arch, busybox, debian, distroless, rhel, scratch, suse, ubuntu, windows, wolfi)"]


def test_the_readme_first_run_is_what_imagelint_prints():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    proc = run_cli("lint", "fixtures/first-run/Dockerfile", cwd=ROOT)
    assert proc.returncode == 1 and proc.stderr == ""
    assert f"$ imagelint lint fixtures/first-run/Dockerfile\n{proc.stdout}```" in readme
    assert "imagelint rules IL201" in readme and "imagelint fix --diff fixtures/first-run/Dockerfile" in readme
    # Installs that work under PEP 668, and a pre-commit rev that exists.
    assert "pipx install ." in readme and "python3 -m venv .venv" in readme
    assert "rev: v0.1.0" not in readme


def test_a_configuration_naming_no_rule_is_refused(project: Path):
    (project / ".imagelint.toml").write_text('ignore = ["IL11O"]\n')  # letter O, not zero
    proc = run_cli("lint", "insecure.Dockerfile", cwd=project)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"imagelint: error: {project / '.imagelint.toml'}: ignore: 'IL11O' matches no rule (`imagelint rules` lists them)"]
