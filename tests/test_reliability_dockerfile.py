"""The hostile Dockerfiles of issue 18, each in a fresh `imagelint lint` process under a 2 GB
address-space cap and a time limit: every one ends within its budget, with one line for the limit
it hit, exit 0/1/2 and no traceback; and what can still be checked is checked."""
from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from imagelint.commands.lint import LintOptions, lint_text
from imagelint.config import Config, DockerfileLimits, load_config_file
from imagelint.findings import ImagelintError

ROOT = Path(__file__).resolve().parents[1]
CAP = 2 * 1024 ** 3


def _cap() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (CAP, CAP))


def lint_capped(tmp_path: Path, text: str, timeout: float = 90) -> tuple[subprocess.CompletedProcess, float]:
    path = tmp_path / "Dockerfile"
    path.write_text(text)
    env = dict(os.environ, PYTHONPATH=str(ROOT), IMAGELINT_JOBS="1")
    start = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "imagelint.cli", "lint", str(path)], capture_output=True, text=True,
                       env=env, timeout=timeout, preexec_fn=_cap)
    assert "Traceback" not in r.stderr + r.stdout, r.stderr[-2000:]
    assert r.returncode in (0, 1, 2), (r.returncode, r.stderr[-2000:])
    return r, time.monotonic() - start


def doubling(kind: str, times: int = 40) -> str:
    return "\n".join(["FROM alpine", f"{kind} A=x"] + [f"{kind} A=${{A}}${{A}}"] * times
                     + ["RUN curl $A", "RUN curl -k https://example.com/x -o /tmp/x"]) + "\n"


@pytest.mark.parametrize("kind", ["ARG", "ENV"])
def test_doubling_a_variable_forty_times_is_one_line_and_the_rest_is_checked(tmp_path, kind):
    r, seconds = lint_capped(tmp_path, doubling(kind))
    assert r.returncode == 2
    lines = [line for line in r.stderr.splitlines() if "exceeds" in line]
    assert len(lines) == 1 and lines[0].startswith("imagelint: error: ")
    assert lines[0].endswith(f"Dockerfile:23: expansion of {kind} A exceeds 1 MiB; not expanded further")
    assert "IL1" in r.stdout  # the curl -k on the last line is still found
    assert seconds < 30


def test_five_thousand_chained_stages(tmp_path):
    text = "FROM alpine AS s0\n" + "".join(f"FROM s{i} AS s{i + 1}\n" for i in range(5000))
    r, seconds = lint_capped(tmp_path, text)
    assert r.returncode == 2 and "more than 1,000 stages" in r.stdout + r.stderr
    assert seconds < 30


@pytest.mark.slow
def test_a_thousand_chained_stages_with_a_run_each_are_checked_whole(tmp_path):
    text = "FROM alpine AS s0\n" + "".join(f"FROM s{i} AS s{i + 1}\nRUN curl -k https://x/{i}\n" for i in range(999))
    r, seconds = lint_capped(tmp_path, text)
    assert r.returncode == 1, r.stdout[-500:] + r.stderr[-500:]
    assert "999 problems" in r.stdout
    assert seconds < 60


@pytest.mark.slow
def test_a_hundred_thousand_lines_are_linear_and_small(tmp_path):
    r, seconds = lint_capped(tmp_path, "FROM alpine\n" + "RUN true\n" * 100_000, timeout=120)
    assert r.returncode == 0, r.stderr[-500:]
    assert seconds < 60


def test_ten_thousand_heredocs_in_one_run(tmp_path):
    text = ("FROM alpine\nRUN " + " ".join(f"<<E{i}" for i in range(10_000)) + " cat\n"
            + "".join(f"x\nE{i}\n" for i in range(10_000)))
    r, seconds = lint_capped(tmp_path, text)
    assert r.returncode == 2 and "more than 500 heredocs" in r.stdout + r.stderr
    assert seconds < 30


def test_a_flat_and_chain_of_two_thousand_commands_is_checked_not_refused(tmp_path):
    r, seconds = lint_capped(tmp_path, "FROM alpine\nRUN " + " && ".join(["curl -k https://x"] * 2000) + "\n")
    assert r.returncode == 1
    assert "2000 problems" in r.stdout and "too deeply nested" not in r.stdout + r.stderr
    assert seconds < 30


def test_deep_subshell_nesting_keeps_the_rest_of_the_file_checked(tmp_path):
    text = "FROM alpine\nRUN " + "(" * 3000 + "true" + ")" * 3000 + "\nRUN curl -k https://example.com/x\n"
    r, _ = lint_capped(tmp_path, text)
    assert "IL1" in r.stdout


def test_a_word_budget_from_configuration(tmp_path):
    (tmp_path / ".imagelint.toml").write_text("[limits]\nmax-word-chars = 1024\n")
    cfg = load_config_file(tmp_path / ".imagelint.toml")
    assert cfg.limits.max_word_chars == 1024
    _, model = lint_text(doubling("ARG", 12), "Dockerfile", LintOptions(), cfg)
    assert model.budget_notes == [(13, "expansion of ARG A exceeds 1 KiB; not expanded further")]


def test_an_unknown_limit_is_a_configuration_error(tmp_path):
    (tmp_path / ".imagelint.toml").write_text("[limits]\nmax-bogus = 1\n")
    with pytest.raises(ImagelintError, match="unknown limit"):
        load_config_file(tmp_path / ".imagelint.toml")


def test_findings_per_file_are_capped():
    cfg = Config(limits=DockerfileLimits(max_findings=10))
    text = "FROM alpine\n" + "RUN curl -k https://example.com/x\n" * 30
    findings, model = lint_text(text, "Dockerfile", LintOptions(), cfg)
    assert len(findings) == 10
    assert any("more than 10 findings" in message for _, message in model.budget_notes)
