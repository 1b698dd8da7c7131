"""The pre-commit hooks, for real: `pre-commit try-repo` installs this repository (a snapshot of the
working tree, untracked files included) into its own virtualenv with pip and runs the hooks on a
temporary git repository.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from imagelint.commands.lint import is_dockerfile_name

ROOT = Path(__file__).resolve().parents[1]
HOOKS = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
GIT_ENV = {
    "GIT_AUTHOR_NAME": "imagelint tests", "GIT_AUTHOR_EMAIL": "tests@imagelint.invalid",
    "GIT_COMMITTER_NAME": "imagelint tests", "GIT_COMMITTER_EMAIL": "tests@imagelint.invalid",
    "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
}
CLEAN = "FROM alpine:3.20\nRUN apk add --no-cache curl\n"
INSECURE = "FROM alpine:3.20\nRUN curl -k https://example.com/tool -o /usr/local/bin/tool\n"


def git(*args: str, cwd: Path) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, env={**os.environ, **GIT_ENV}, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def hook(hook_id: str) -> dict:
    return next(h for h in HOOKS if h["id"] == hook_id)


# --- the hook definitions ----------------------------------------------------------------------------

NAMES = [
    "Dockerfile", "Containerfile", "dockerfile", "api.Dockerfile", "api.dockerfile", "Dockerfile.dev",
    "Containerfile.prod", "sub/dir/Dockerfile", "sub/web.Dockerfile", "README.md", "Dockerfile.d/notes.txt",
    "Dockerfiles/readme.txt", "notDockerfile", "app.Dockerfile.bak", "docker-compose.yml", "src/Dockerfile.py",
]


@pytest.mark.parametrize("hook_id", ["imagelint", "imagelint-fix"])
def test_hook_files_match_exactly_what_lint_discovers(hook_id: str):
    pattern = re.compile(hook(hook_id)["files"])
    for name in NAMES:
        assert bool(pattern.search(name)) == is_dockerfile_name(name.rsplit("/", 1)[-1]), name


def test_hook_definitions():
    lint, fix = hook("imagelint"), hook("imagelint-fix")
    assert lint["entry"] == "imagelint lint" and fix["entry"] == "imagelint fix --write"
    for h in (lint, fix):
        assert h["language"] == "python" and h["types"] == ["file"]


# --- pre-commit try-repo -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory) -> Path:
    """A git repository holding the current working tree (tracked and untracked files, .gitignore honoured)."""
    snapshot = tmp_path_factory.mktemp("hook-repo")
    listed = git("ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=ROOT).split("\0")
    for relative in filter(None, listed):
        source = ROOT / relative
        if source.is_file() and "__pycache__" not in source.parts:
            target = snapshot / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    git("init", "-q", cwd=snapshot)
    git("add", "-A", cwd=snapshot)
    git("commit", "-q", "-m", "snapshot of the working tree", cwd=snapshot)
    return snapshot


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("pre-commit-home")


def try_repo(project: Path, hook_repo: Path, home: Path, hook_id: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **GIT_ENV, "PRE_COMMIT_HOME": str(home), "NO_COLOR": "1", "PRE_COMMIT_COLOR": "never"}
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(hook_repo), hook_id, "--all-files", "--color", "never"],
        cwd=project, env=env, capture_output=True, text=True, timeout=850,
    )


def make_project(root: Path, files: dict[str, str]) -> Path:
    root.mkdir()
    git("init", "-q", cwd=root)
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    git("add", "-A", cwd=root)
    return root


def test_lint_hook_passes_on_a_clean_dockerfile(tmp_path: Path, hook_repo: Path, pre_commit_home: Path):
    project = make_project(tmp_path / "clean", {"Dockerfile": CLEAN, "services/api.Dockerfile": CLEAN, "notes.txt": INSECURE})
    proc = try_repo(project, hook_repo, pre_commit_home, "imagelint")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"^imagelint\.+Passed$", proc.stdout, re.M), proc.stdout


def test_lint_hook_fails_on_an_insecure_dockerfile_and_shows_the_finding(tmp_path: Path, hook_repo: Path, pre_commit_home: Path):
    project = make_project(tmp_path / "insecure", {"Dockerfile": CLEAN, "deploy/Containerfile.prod": INSECURE})
    proc = try_repo(project, hook_repo, pre_commit_home, "imagelint")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert re.search(r"^imagelint\.+Failed$", proc.stdout, re.M), proc.stdout
    assert re.search(r"^deploy/Containerfile\.prod:2:\d+: IL110 warning ", proc.stdout, re.M), proc.stdout


def _fix_command_exists() -> bool:
    proc = subprocess.run([sys.executable, "-m", "imagelint.cli", "fix", "--help"], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    return proc.returncode == 0 and "--write" in proc.stdout


def test_fix_hook_rewrites_the_dockerfile(tmp_path: Path, hook_repo: Path, pre_commit_home: Path):
    assert _fix_command_exists()
    unregistered = "FROM debian:bookworm\nCOPY corp.crt /usr/local/share/ca-certificates/corp.crt\n"
    project = make_project(tmp_path / "fix", {"Dockerfile": unregistered, "corp.crt": "not read by the fix\n"})
    proc = try_repo(project, hook_repo, pre_commit_home, "imagelint-fix")
    # pre-commit fails a hook that modified files; the file now registers the CA.
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "files were modified by this hook" in proc.stdout
    fixed = (project / "Dockerfile").read_text()
    assert "update-ca-certificates" in fixed and fixed.startswith("FROM debian:bookworm\nCOPY corp.crt")
    # Run again: nothing left to fix.
    git("add", "-A", cwd=project)
    again = try_repo(project, hook_repo, pre_commit_home, "imagelint-fix")
    assert again.returncode == 0, again.stdout + again.stderr
