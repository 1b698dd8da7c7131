"""Bad input through the real command line: exit code 2 and one clear line naming the file (and the
line), never a traceback; everything else that was asked for is still linted and reported.
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, cwd: Path, timeout: float = 300, limit_memory: int | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), NO_COLOR="1")

    def cap_memory():  # a blow-up must fail this test, not take the machine down
        if limit_memory:
            resource.setrlimit(resource.RLIMIT_AS, (limit_memory, limit_memory))

    return subprocess.run(
        [sys.executable, "-m", "imagelint.cli", *args], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=timeout, preexec_fn=cap_memory,
    )


def assert_no_traceback(proc: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr


def error_lines(proc: subprocess.CompletedProcess, name: str) -> list[str]:
    """The error lines about `name`: on stderr only (the report on stdout just counts them)."""
    assert not [line for line in proc.stdout.splitlines() if name in line and "error" in line], proc.stdout
    prefix = "imagelint: error: "
    return [line[len(prefix):] for line in proc.stderr.splitlines() if line.startswith(prefix) and name in line]


def assert_one_error(proc: subprocess.CompletedProcess, name: str, message: str, line: int | None) -> str:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert_no_traceback(proc)
    lines = error_lines(proc, name)
    assert len(lines) == 1, lines
    where = f"{name}:{line}:" if line else f"{name}:"
    assert lines[0].startswith(where) and message in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize(
    "content, message, line",
    [
        pytest.param(b"", "no instructions", None, id="empty"),
        pytest.param(b"# only a comment\n\n   # and another\n", "no instructions", None, id="comments-only"),
        pytest.param(b"FROM alpine\nRUN echo \x00\x01\x02\n\x7fELF\x00", "binary file", None, id="nul-bytes"),
        pytest.param(b"FROM alpine\nRUN echo caf\xe9\n", "invalid UTF-8", 2, id="invalid-utf8"),
        pytest.param(b"FROM alpine\nRUN <<EOF\necho never ends\n", "unterminated heredoc", 2, id="unterminated-heredoc"),
        pytest.param(b"FROM alpine\nRUN echo ok\nRUNN echo typo\n", "unknown instruction", 3, id="unknown-instruction"),
        pytest.param(b"FROM alpine\nCMD [\"sleep\", 10]\n", "array of strings", 2, id="json-non-string"),
    ],
)
def test_unreadable_dockerfile_is_one_error_line(tmp_path: Path, content: bytes, message: str, line):
    (tmp_path / "Dockerfile").write_bytes(content)
    proc = run_cli("lint", "Dockerfile", cwd=tmp_path)
    assert_one_error(proc, "Dockerfile", message, line)
    # The same error in the JSON contract.
    proc = run_cli("lint", "Dockerfile", "-f", "json", cwd=tmp_path)
    assert proc.returncode == 2
    assert_no_traceback(proc)
    report = json.loads(proc.stdout)
    assert report["findings"] == []
    (error,) = report["errors"]
    assert error["path"] == "Dockerfile" and message in error["message"]


def test_crlf_line_endings_lint_normally(tmp_path: Path):
    (tmp_path / "Dockerfile").write_bytes(b"FROM alpine:3.20\r\nRUN apk add curl \\\r\n && curl -k https://example.com/x\r\n")
    proc = run_cli("lint", "Dockerfile", "-f", "json", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert report["errors"] == []
    (finding,) = [f for f in report["findings"] if f["rule"] == "IL110"]
    # The finding points at `-k` itself, on the continuation line; CR characters never shift columns.
    assert (finding["line"], finding["end_line"], finding["column"], finding["end_column"]) == (3, 3, 10, 12)


def test_continuation_at_end_of_file_lints_normally(tmp_path: Path):
    # BuildKit ends the instruction at EOF; so do we.
    (tmp_path / "Dockerfile").write_bytes(b"FROM alpine:3.20\nRUN wget --no-check-certificate https://example.com/x \\")
    proc = run_cli("lint", "Dockerfile", "-f", "json", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert report["errors"] == [] and [f["rule"] for f in report["findings"]] == ["IL111"]


@pytest.mark.parametrize("bad", ["missing.Dockerfile", "binary.Dockerfile", "utf16.Dockerfile"])
def test_bad_input_next_to_a_good_file_reports_both(tmp_path: Path, bad: str):
    (tmp_path / "good.Dockerfile").write_text("FROM alpine:3.20\nRUN curl -k https://example.com/x\n")
    (tmp_path / "binary.Dockerfile").write_bytes(b"\x7fELF\x02\x01\x01\x00\x00\x00")
    (tmp_path / "utf16.Dockerfile").write_bytes("FROM alpine\n".encode("utf-16"))
    proc = run_cli("lint", bad, "good.Dockerfile", "-f", "json", cwd=tmp_path)
    assert proc.returncode == 2
    assert_no_traceback(proc)
    report = json.loads(proc.stdout)
    assert [(f["path"], f["rule"]) for f in report["findings"]] == [("good.Dockerfile", "IL110")]
    assert [e["path"] for e in report["errors"]] == [bad]
    assert len(proc.stderr.strip().splitlines()) == 1 and bad in proc.stderr


def test_missing_file_in_text_format(tmp_path: Path):
    (tmp_path / "good.Dockerfile").write_text("FROM alpine:3.20\nRUN curl -k https://example.com/x\n")
    proc = run_cli("lint", "good.Dockerfile", "missing.Dockerfile", cwd=tmp_path)
    assert_one_error(proc, "missing.Dockerfile", "no such file", None)
    assert "good.Dockerfile:2:" in proc.stdout


# --- size ------------------------------------------------------------------------------------------

_BLOCK = (
    "# step {i}\n"
    "RUN apt-get update \\\n"
    "    && apt-get install -y --no-install-recommends ca-certificates curl \\\n"
    "    && curl -fsSL https://example.com/{i}.tgz -o /tmp/{i}.tgz \\\n"
    "    && rm -rf /var/lib/apt/lists/*\n"
    "COPY <<EOF /etc/app{i}.conf\nkey = {i}\nEOF\n"
    "ENV STEP={i}\n"
)


def dense_dockerfile(n_bytes: int) -> str:
    """Typical instructions, repeated: one insecure curl every 500 blocks."""
    parts = ["# syntax=docker/dockerfile:1\nFROM debian:bookworm\n"]
    size, i = len(parts[0]), 0
    while size < n_bytes:
        block = _BLOCK.format(i=i)
        if i % 500 == 0:
            block += f"RUN curl -k https://insecure.example.com/{i}\n"
        parts.append(block)
        size += len(block)
        i += 1
    return "".join(parts)


def lint_timed(tmp_path: Path, name: str, text: str, timeout: float) -> tuple[float, dict]:
    (tmp_path / name).write_text(text)
    start = time.perf_counter()
    proc = run_cli("lint", name, "-f", "json", "--select", "IL110", cwd=tmp_path, timeout=timeout,
                   limit_memory=4 * 1024**3)
    elapsed = time.perf_counter() - start
    assert proc.returncode == 1, proc.stderr[-2000:]
    return elapsed, json.loads(proc.stdout)


def test_lint_time_grows_linearly_with_file_size(tmp_path: Path):
    small_time, small = lint_timed(tmp_path, "small.Dockerfile", dense_dockerfile(50_000), 120)
    big_time, big = lint_timed(tmp_path, "big.Dockerfile", dense_dockerfile(500_000), 300)
    assert len(big["findings"]) == 10 * len(small["findings"]) or len(big["findings"]) > len(small["findings"])
    # Ten times the text; interpreter start-up is in both, so linear is at most ~10x.
    assert big_time < 20 * small_time + 2, (small_time, big_time)


@pytest.mark.xfail(strict=False, reason="linear, but ~1.7 s of CPU per MB of dense RUN instructions: 10 MB takes about "
                                        "17-25 s of wall time against the 20 s goal (load dependent, so not strict); "
                                       "see benchmarks/README.md, 'Where the time goes'")
def test_ten_megabyte_dockerfile(tmp_path: Path):
    one_time, _ = lint_timed(tmp_path, "one.Dockerfile", dense_dockerfile(1024 * 1024), 60)
    try:
        ten_time, report = lint_timed(tmp_path, "ten.Dockerfile", dense_dockerfile(10 * 1024 * 1024), 25)
    except subprocess.TimeoutExpired:
        pytest.fail("a 10 MB Dockerfile took more than 25 s")
    assert report["errors"] == [] and report["findings"]
    assert ten_time < 20, ten_time
    assert ten_time < 15 * one_time, (one_time, ten_time)


def test_wide_env_with_many_runs_does_not_multiply_memory(tmp_path: Path):
    env = "ENV" + "".join(f" \\\n    VAR_{i}=value_{i}" for i in range(20_000)) + "\n"
    runs = "".join(f"RUN echo {i} && curl -k https://example.com/{i}\n" for i in range(3_000))
    (tmp_path / "Dockerfile").write_text("FROM debian:bookworm\n" + env + runs)
    try:
        proc = run_cli("lint", "Dockerfile", "-f", "json", "--select", "IL110", cwd=tmp_path, timeout=60,
                       limit_memory=2 * 1024**3)
    except subprocess.TimeoutExpired:
        pytest.fail("20,000 ENV variables and 3,000 RUNs took more than 60 s")
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert len(json.loads(proc.stdout)["findings"]) == 3_000


# --- many files ------------------------------------------------------------------------------------

def test_directory_with_thousands_of_files(tmp_path: Path):
    repo = tmp_path / "repo"
    expected = set()
    for i in range(5_000):
        directory = repo / f"pkg{i // 50:03d}"
        directory.mkdir(parents=True, exist_ok=True)
        if i % 25 == 0:  # 200 Dockerfiles under every naming convention
            name = ["Dockerfile", "Containerfile", f"svc{i}.Dockerfile", f"svc{i}.dockerfile",
                    f"Dockerfile.{i}", f"Containerfile.{i}", f"dockerfile", f"{i}.Dockerfile"][(i // 25) % 8]
            (directory / name).write_text(f"FROM alpine:3.20\nRUN curl -k https://example.com/{i}\n")
            expected.add(f"repo/{directory.name}/{name}")
        else:
            (directory / f"file{i}.txt").write_text("FROM alpine\nRUN curl -k https://x\n")  # not a Dockerfile name
    # Never descended into: .git, and the configured exclude.
    (repo / ".git" / "objects").mkdir(parents=True)
    (repo / ".git" / "objects" / "Dockerfile").write_text("FROM alpine\nRUN curl -k https://x\n")
    (repo / "vendor" / "lib").mkdir(parents=True)
    (repo / "vendor" / "lib" / "Dockerfile").write_text("FROM alpine\nRUN curl -k https://x\n")
    (repo / ".imagelint.toml").write_text('exclude = ["vendor/**", "vendor"]\n')
    start = time.perf_counter()
    proc = run_cli("lint", "repo", "-f", "json", "--select", "IL110", cwd=tmp_path, timeout=300)
    elapsed = time.perf_counter() - start
    assert_no_traceback(proc)
    assert proc.returncode == 1, proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    assert report["errors"] == []
    assert {f["path"] for f in report["findings"]} == expected
    assert len(expected) == 200
    assert elapsed < 120, elapsed
