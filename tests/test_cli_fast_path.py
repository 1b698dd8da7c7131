"""The typer-free `imagelint lint` path (imagelint/cli/lint.py) against the typer app it stands in
for: the same output, errors and exit code for every option it parses, and no typer, click, rich,
cryptography or yaml imported by a plain lint of a Dockerfile."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

INSECURE = """\
FROM alpine:3.20
RUN curl -k https://example.com/a -o /tmp/a
RUN wget --no-check-certificate https://example.com/b
ENV NODE_TLS_REJECT_UNAUTHORIZED=0
"""

ENTRY = {
    "fast": "import sys; sys.argv[0] = 'imagelint'; from imagelint.cli import main; main()",
    "typer": "import sys; sys.argv[0] = 'imagelint'; from imagelint.cli.app import main; main()",
}


def run(entry: str, args: list[str], cwd: Path, stdin: str | None = None) -> tuple[int, str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), NO_COLOR="1")
    proc = subprocess.run([sys.executable, "-c", ENTRY[entry], *args], cwd=cwd, env=env, input=stdin,
                          capture_output=True, text=True, timeout=120)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, proc.stdout, proc.stderr


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fast")
    (root / "Dockerfile").write_text(INSECURE)
    (root / "clean.Dockerfile").write_text("FROM alpine:3.20\nRUN echo hi\n")
    (root / "empty").mkdir()
    (root / ".imagelint.toml").write_text('fail-level = "error"\n')
    return root


@pytest.mark.parametrize("args", [
    ["lint", "Dockerfile"],
    ["lint", "Dockerfile", "clean.Dockerfile", "-f", "json"],
    ["lint", "--format=sarif", "Dockerfile"],
    ["lint", "-f", "github", "--select", "IL110,IL111", "--select", "IL101", "Dockerfile"],
    ["lint", "Dockerfile", "--ignore", "IL11", "--fail-level", "warning"],
    ["lint", "Dockerfile", "--fail-level", "fatal"],
    ["lint", "Dockerfile", "-f", "yaml"],
    ["lint", "Dockerfile", "--select", "IL999"],
    ["lint", "Dockerfile", "--select", "IL8", "--allow-empty"],
    ["lint", "Dockerfile", "--build-arg", "A=1", "--build-arg", "B", "--target", "nope"],
    ["lint", "empty"],
    ["lint", "empty", "--allow-empty"],
    ["lint", "missing.Dockerfile", "Dockerfile"],
    ["lint", "-", "--stdin-filename", "svc/Dockerfile", "-f", "json"],
    ["lint", "Dockerfile", "--config", "nope.toml"],
    ["lint", "Dockerfile", "--context", "empty", "--no-color", "-j", "1"],
    ["lint", "Dockerfile", "-o", "report.txt"],
    # Not parsed by the fast path: typer answers, and the fast entry must answer the same.
    ["lint"],
    ["lint", "-h"],
    ["lint", "--format"],
    ["lint", "--form", "json", "Dockerfile"],
    ["lint", "-fjson", "Dockerfile"],
    ["lint", "--", "Dockerfile"],
    ["lint", "--jobs", "two", "Dockerfile"],
    ["lint", "--no-color=1", "Dockerfile"],
])
def test_fast_path_answers_as_typer_does(project: Path, args: list[str]):
    fast = run("fast", args, project, stdin=INSECURE)
    report = project / "report.txt"
    fast_report = report.read_text() if report.exists() else None
    report.unlink(missing_ok=True)
    typer = run("typer", args, project, stdin=INSECURE)
    typer_report = report.read_text() if report.exists() else None
    report.unlink(missing_ok=True)
    assert fast == typer
    assert fast_report == typer_report


def test_plain_lint_imports_no_heavy_module(project: Path):
    # dataclasses (with inspect) costs ~8 ms to import and ~0.5 ms a class: lint uses imagelint.records.
    heavy = ("typer", "click", "rich", "cryptography", "yaml", "ruamel", "docker", "argparse", "dataclasses",
             "inspect", "pkgutil")
    code = ("import sys; sys.argv = ['imagelint', 'lint', 'Dockerfile', '-f', 'json']\n"
            "from imagelint.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            f"print(sorted(m for m in sys.modules if m.split('.')[0] in {heavy!r}), file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=project, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=120)
    assert proc.stderr.strip().splitlines()[-1] == "[]", proc.stderr


def test_lint_without_a_configuration_file_reads_no_toml(tmp_path: Path):
    (tmp_path / "Dockerfile").write_text("FROM alpine:3.20\nRUN echo hi\n")  # no finding: no rule doc read
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "app"\n')  # no [tool.imagelint]
    code = ("import sys; sys.argv = ['imagelint', 'lint', 'Dockerfile']\n"
            "from imagelint.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print('tomllib' in sys.modules, file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=120)
    assert proc.stderr.strip().splitlines()[-1] == "False", proc.stderr


def test_jobs_gives_the_same_report(tmp_path: Path):
    for i in range(70):  # over PARALLEL_MIN_FILES
        (tmp_path / f"d{i:02}").mkdir()
        (tmp_path / f"d{i:02}" / "Dockerfile").write_text(INSECURE if i % 3 else "FROM alpine:3.20\n")
    one = run("fast", ["lint", ".", "-f", "json", "--jobs", "1"], tmp_path)
    two = run("fast", ["lint", ".", "-f", "json", "--jobs", "2"], tmp_path)
    assert one == two and one[0] == 1
