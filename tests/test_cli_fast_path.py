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


def _after_main(argv: list[str], cwd: Path, expression: str, env: dict[str, str] | None = None) -> str:
    """What `expression` (over sys.modules) is once `imagelint ARGV` has run in a fresh interpreter."""
    code = (f"import sys; sys.argv = {['imagelint', *argv]!r}\n"
            "from imagelint.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            f"print({expression}, file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True,
                          env=env or dict(os.environ, PYTHONPATH=str(ROOT)), timeout=120)
    return proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.stderr


def test_plain_lint_imports_no_heavy_module(project: Path):
    # dataclasses (with inspect) costs ~8 ms to import and ~0.5 ms a class: lint uses imagelint.records.
    heavy = ("typer", "click", "rich", "cryptography", "yaml", "ruamel", "docker", "argparse", "dataclasses",
             "inspect", "pkgutil")
    loaded = _after_main(["lint", "Dockerfile", "-f", "json"], project,
                         f"sorted(m for m in sys.modules if m.split('.')[0] in {heavy!r})")
    assert loaded == "[]"


def test_lint_without_a_configuration_file_reads_no_toml(tmp_path: Path):
    (tmp_path / "Dockerfile").write_text("FROM alpine:3.20\nRUN echo hi\n")  # no finding: no rule doc read
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "app"\n')  # no [tool.imagelint]
    # As installed: bytecode (and the parsed trust facts beside it) written by the first run. This
    # machine and CI set PYTHONDONTWRITEBYTECODE, under which the facts are parsed (with tomllib) each run.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(PYTHONPATH=str(ROOT), PYTHONPYCACHEPREFIX=str(tmp_path / "pycache"))
    _after_main(["lint", "Dockerfile"], tmp_path, "0", env)
    assert _after_main(["lint", "Dockerfile"], tmp_path, "'tomllib' in sys.modules", env) == "False"


def test_jobs_gives_the_same_report(tmp_path: Path):
    for i in range(70):  # over PARALLEL_MIN_FILES
        (tmp_path / f"d{i:02}").mkdir()
        (tmp_path / f"d{i:02}" / "Dockerfile").write_text(INSECURE if i % 3 else "FROM alpine:3.20\n")
    one = run("fast", ["lint", ".", "-f", "json", "--jobs", "1"], tmp_path)
    two = run("fast", ["lint", ".", "-f", "json", "--jobs", "2"], tmp_path)
    assert one == two and one[0] == 1


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    """An image with an expired custom CA and a private key (findings of several severities)."""
    from imagekit import Image, Layer, make_ca, private_key_pem, write_docker_archive

    root = tmp_path_factory.mktemp("scan-fast")
    expired, _cert, key = make_ca("Expired Corp CA", days=-1, not_before_days=-30)
    layer = (Layer().file("etc/os-release", "ID=debian\nVERSION_ID=12\n")
             .file("etc/ssl/certs/ca-certificates.crt", expired)
             .file("usr/local/share/ca-certificates/corp.crt", expired)
             .file("app/server.key", private_key_pem(key)))
    write_docker_archive(root / "app.tar", Image([layer]))
    return root


@pytest.mark.parametrize("args", [
    ["scan", "docker-archive:app.tar", "--no-cache"],
    ["scan", "docker-archive:app.tar", "-f", "json", "--cache-dir", "cache"],
    ["scan", "--format=sarif", "docker-archive:app.tar", "--no-cache", "--no-progress"],
    ["scan", "docker-archive:app.tar", "--no-cache", "--select", "IL708,IL710", "--ignore", "IL710"],
    ["scan", "docker-archive:app.tar", "--no-cache", "--fail-level", "error", "--expiring-days", "5"],
    ["scan", "docker-archive:app.tar", "--no-cache", "--inventory", "-f", "json"],
    ["scan", "docker-archive:app.tar", "--no-cache", "--inventory", "-f", "sarif"],
    ["scan", "docker-archive:app.tar", "--no-cache", "-f", "yaml"],
    ["scan", "docker-archive:app.tar", "--no-cache", "--select", "IL999"],
    ["scan", "docker-archive:app.tar", "missing.tar", "--no-cache", "--timeout", "30.5"],
    ["scan", "docker-archive:app.tar", "--no-cache", "--ca-file", "nope.pem"],
    ["scan", "docker-archive:app.tar", "--no-cache", "--shard", "1/2"],
    ["scan", "docker-archive:app.tar", "--no-cache", "--shards", "2"],
    ["scan", "docker-archive:app.tar", "--no-cache", "-o", "report.txt", "--no-color"],
    # Not parsed by the fast path: typer answers, and the fast entry must answer the same.
    ["scan"],
    ["scan", "-h"],
    ["scan", "--timeout", "1e9", "docker-archive:app.tar", "--no-cache"],
    ["scan", "--timeout", "soon", "docker-archive:app.tar"],
    ["scan", "--expiring-days", "-3", "docker-archive:app.tar"],
    ["scan", "--inv", "docker-archive:app.tar"],
    ["scan", "--", "docker-archive:app.tar"],
])
def test_scan_fast_path_answers_as_typer_does(images: Path, args: list[str]):
    answers = []
    for entry in ("fast", "typer"):
        answer = run(entry, args, images)
        report = images / "report.txt"
        answers.append((answer, report.read_text() if report.exists() else None))
        report.unlink(missing_ok=True)
    assert answers[0] == answers[1]


def test_plain_scan_imports_no_typer_nor_registry_client(images: Path):
    loaded = _after_main(["scan", "docker-archive:app.tar", "-f", "json", "--no-cache"], images,
                         "sorted(m for m in sys.modules if m.split('.')[0] in ('typer', 'click', 'ssl', 'rich')"
                         " or m in ('imagelint.image.sources.remote', 'imagelint.dockerfile.model'))")
    assert loaded == "[]"
