"""`imagelint fix` end to end: output modes, exit codes, diffs that git and patch accept, safe writes,
and the `imagelint-fix` pre-commit hook run by the real pre-commit."""
from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from imagelint.findings import ImagelintError
from imagelint.fixes.apply import parses
from imagelint.fixes.writers import unified_diff, write_atomically
from imagelint.hook import fix_main

ROOT = Path(__file__).resolve().parents[1]
FIX_DIR = ROOT / "fixtures" / "fix"

UNREGISTERED = "FROM debian:12\nRUN apt-get update && apt-get install -y ca-certificates\nCOPY corp.crt /usr/local/share/ca-certificates/corp.crt\n"
REGISTERED = UNREGISTERED + "RUN update-ca-certificates\n"
INSECURE = "FROM debian:12\nRUN curl -fsSLk https://example.com/x -o /tmp/x\n"
CLEAN = "FROM debian:12\nRUN echo hello\n"


def imagelint(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR",)}
    # Bytes, decoded by hand: text mode would turn the CRLF lines of a diff into LF.
    r = subprocess.run([sys.executable, "-m", "imagelint.cli", *args], cwd=cwd, capture_output=True,
                       input=stdin.encode() if stdin is not None else None, env=env, timeout=300)
    return subprocess.CompletedProcess(r.args, r.returncode, r.stdout.decode("utf-8"), r.stderr.decode("utf-8"))


@pytest.fixture
def repo(tmp_path):
    """A git work tree with a few Dockerfiles, committed."""
    for name in ("ca-registration", "insecure-switches", "wired-ca", "escape-crlf"):
        shutil.copy(FIX_DIR / f"{name}.Dockerfile", tmp_path / f"{name}.Dockerfile")
    (tmp_path / "Dockerfile").write_text(UNREGISTERED)
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["git", "add", "."], cwd=tmp_path, check=True)
    subprocess.run(["git", "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "init"], cwd=tmp_path, check=True)
    return tmp_path


def test_default_shows_summary_and_diff_without_writing(repo):
    r = imagelint("fix", "Dockerfile", cwd=repo)
    assert r.returncode == 1, r.stderr
    assert "IL201" in r.stdout and "+RUN update-ca-certificates" in r.stdout
    assert (repo / "Dockerfile").read_text() == UNREGISTERED


def test_nothing_to_fix_exits_0(repo):
    (repo / "Dockerfile").write_text(REGISTERED)
    r = imagelint("fix", "Dockerfile", cwd=repo)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Nothing to fix" in r.stdout


def test_bad_input_exits_2(repo):
    (repo / "Dockerfile").write_text("RUN before FROM\n")
    r = imagelint("fix", "Dockerfile", "--write", cwd=repo)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and "error" in r.stderr
    assert imagelint("fix", "missing.Dockerfile", cwd=repo).returncode == 2


def test_unsafe_fixes_only_with_the_flag(repo):
    (repo / "Dockerfile").write_text(INSECURE)
    r = imagelint("fix", "--write", "Dockerfile", cwd=repo)
    assert r.returncode == 0 and (repo / "Dockerfile").read_text() == INSECURE
    assert "--unsafe-fixes" in r.stdout
    r = imagelint("fix", "--write", "--unsafe-fixes", "Dockerfile", cwd=repo)
    assert r.returncode == 1
    assert (repo / "Dockerfile").read_text() == "FROM debian:12\nRUN curl -fsSL https://example.com/x -o /tmp/x\n"


def test_select_and_ignore(repo):
    r = imagelint("fix", "--diff", "--unsafe-fixes", "--select", "IL110", "insecure-switches.Dockerfile", cwd=repo)
    assert "--no-check-certificate" not in "".join(l for l in r.stdout.splitlines(True) if l.startswith("-"))
    r = imagelint("fix", "--diff", "--ignore", "IL201", "Dockerfile", cwd=repo)
    assert r.returncode == 0 and r.stdout == ""


def test_diff_applies_with_git_and_patch(repo):
    r = imagelint("fix", "--diff", "--unsafe-fixes", ".", cwd=repo)
    assert r.returncode == 1, r.stderr
    patch = r.stdout
    assert patch.startswith("--- a/") and "+++ b/" in patch
    assert "\\ No newline at end of file" in patch  # escape-crlf.Dockerfile has none
    (repo / "fix.patch").write_text(patch, newline="")
    subprocess.run(["git", "apply", "--check", "fix.patch"], cwd=repo, check=True)
    subprocess.run(["patch", "-p1", "--dry-run", "-i", "fix.patch"], cwd=repo, check=True, capture_output=True)
    # Applied, the patch gives exactly what --write writes.
    subprocess.run(["git", "apply", "fix.patch"], cwd=repo, check=True)
    patched = {p.name: p.read_bytes() for p in repo.glob("*Dockerfile")}
    subprocess.run(["git", "checkout", "--", "."], cwd=repo, check=True)
    assert imagelint("fix", "--write", "--unsafe-fixes", ".", cwd=repo).returncode == 1
    assert {p.name: p.read_bytes() for p in repo.glob("*Dockerfile")} == patched


def test_write_is_atomic_and_keeps_the_mode(repo):
    path = repo / "Dockerfile"
    os.chmod(path, 0o640)
    inode = path.stat().st_ino
    r = imagelint("fix", "--write", "Dockerfile", cwd=repo)
    assert r.returncode == 1
    assert path.read_text() == REGISTERED
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert path.stat().st_ino != inode  # replaced by rename, not rewritten in place
    assert not [p for p in repo.iterdir() if p.name.endswith(".imagelint")]  # no temp file left
    assert imagelint("fix", "--write", "Dockerfile", cwd=repo).returncode == 0  # second run: nothing


def test_write_refuses_a_read_only_file(repo):
    path = repo / "Dockerfile"
    os.chmod(path, 0o444)
    r = imagelint("fix", "--write", "Dockerfile", cwd=repo)
    assert r.returncode == 2 and "read-only" in r.stderr
    assert path.read_text() == UNREGISTERED
    assert stat.S_IMODE(path.stat().st_mode) == 0o444


def test_write_refuses_a_file_changed_since_read(tmp_path):
    path = tmp_path / "Dockerfile"
    path.write_text(UNREGISTERED)
    original = path.read_bytes()
    path.write_text(UNREGISTERED + "# edited meanwhile\n")
    with pytest.raises(ImagelintError, match="changed since it was read"):
        write_atomically(str(path), original, REGISTERED)
    assert path.read_text() == UNREGISTERED + "# edited meanwhile\n"


def test_write_refuses_a_result_that_would_not_parse(tmp_path):
    path = tmp_path / "Dockerfile"
    path.write_text(UNREGISTERED)
    broken = UNREGISTERED + "RUN <<EOF\nnever terminated\n"
    with pytest.raises(ImagelintError, match="would not parse"):
        write_atomically(str(path), path.read_bytes(), broken, validate=lambda t: parses(t, str(path)))
    assert path.read_text() == UNREGISTERED
    assert list(tmp_path.iterdir()) == [path]


def test_unified_diff_marks_missing_final_newlines_and_keeps_crlf():
    diff = unified_diff("Dockerfile", "FROM a\r\nRUN b", "FROM a\r\nRUN c")
    assert diff.splitlines(True)[-2:] == ["+RUN c\n", "\\ No newline at end of file\n"]
    assert "-RUN b\n\\ No newline at end of file\n" in diff
    assert " FROM a\r\n" in diff


def test_json_format(repo):
    r = imagelint("fix", "--format", "json", "--unsafe-fixes", "insecure-switches.Dockerfile", cwd=repo)
    assert r.returncode == 1
    data = json.loads(r.stdout)
    [entry] = data["files"]
    assert entry["changed"] and not entry["written"]
    assert {f["rule"] for f in entry["applied"]} >= {"IL110", "IL111", "IL101", "IL102"}
    assert entry["diff"].startswith("--- a/insecure-switches.Dockerfile")
    assert entry["remaining"] == []


def test_github_suggestions_cover_the_finding_lines(repo):
    r = imagelint("fix", "--format", "github-suggestions", "Dockerfile", cwd=repo)
    assert r.returncode == 1
    assert r.stdout.count("```suggestion") == 1
    header = json.loads(r.stdout.split("<!-- imagelint-suggestion ", 1)[1].split(" -->", 1)[0])
    assert header == {"path": "Dockerfile", "line": 3, "side": "RIGHT"}
    block = r.stdout.split("```suggestion\n", 1)[1].split("\n```", 1)[0]
    assert block == "COPY corp.crt /usr/local/share/ca-certificates/corp.crt\nRUN update-ca-certificates"
    # Unsafe fixes appear only when asked for.
    assert "```suggestion" not in imagelint("fix", "--format", "github-suggestions", "insecure-switches.Dockerfile", cwd=repo).stdout


def test_stdin_is_shown_not_written(repo):
    r = imagelint("fix", "--diff", "-", "--stdin-filename", "Dockerfile", cwd=repo, stdin=UNREGISTERED)
    assert r.returncode == 1 and "+RUN update-ca-certificates" in r.stdout
    assert imagelint("fix", "--write", "-", cwd=repo, stdin=UNREGISTERED).returncode == 2


# --- pre-commit -------------------------------------------------------------------------------------

def test_hook_main_returns_1_when_it_changed_a_file(tmp_path, capsys):
    path = tmp_path / "Dockerfile"
    path.write_text(UNREGISTERED)
    assert fix_main([str(path)]) == 1
    assert path.read_text() == REGISTERED
    assert fix_main([str(path)]) == 0
    assert fix_main([]) == 0
    other = tmp_path / "x.Dockerfile"
    other.write_text(INSECURE)
    assert fix_main([str(other)]) == 0  # unsafe fixes are not applied by default
    assert fix_main(["--unsafe-fixes", str(other)]) == 1


def test_real_pre_commit_runs_the_fix_hook(repo):
    pre_commit = shutil.which("pre-commit")
    if pre_commit is None:
        pytest.skip("pre-commit is not installed") if os.environ.get("CI") != "true" else pytest.fail("pre-commit missing in CI")
    config = (
        "repos:\n"
        "- repo: local\n"
        "  hooks:\n"
        "  - id: imagelint-fix\n"
        "    name: imagelint fix\n"
        f"    entry: {sys.executable} -m imagelint.hook\n"
        "    language: system\n"
        "    files: (^|/)(Dockerfile|Containerfile)([.].*)?$|[.]Dockerfile$\n"
    )
    (repo / ".pre-commit-config.yaml").write_text(config)
    env = dict(os.environ, PRE_COMMIT_HOME=str(repo / ".pre-commit-home"))
    run = lambda: subprocess.run([pre_commit, "run", "--files", "Dockerfile"], cwd=repo, capture_output=True,
                                 text=True, env=env, timeout=300)
    first = run()
    assert first.returncode == 1, first.stdout + first.stderr
    assert "files were modified by this hook" in first.stdout
    assert (repo / "Dockerfile").read_text() == REGISTERED
    second = run()
    assert second.returncode == 0, second.stdout + second.stderr


def test_display_only_guidance_is_shown_never_applied(tmp_path):
    """scratch with no stage that has a bundle: IL402 can only say what to add."""
    text = 'FROM scratch\nCOPY app /app\nENTRYPOINT ["/app", "--url", "https://api.example.com"]\n'
    (tmp_path / "Dockerfile").write_text(text)
    r = imagelint("fix", "--write", "--unsafe-fixes", "Dockerfile", cwd=tmp_path)
    assert r.returncode == 0
    assert "IL402 guidance:" in r.stdout and "COPY --from=certs /etc/ssl/certs/ca-certificates.crt" in r.stdout
    assert (tmp_path / "Dockerfile").read_text() == text


# --- the command line as a newcomer meets it ------------------------------------------------------------

def test_the_hint_after_a_diff_keeps_unsafe_fixes(repo):
    (repo / "Dockerfile").write_text(INSECURE)
    r = imagelint("fix", "--diff", "--unsafe-fixes", "Dockerfile", cwd=repo)
    assert r.returncode == 1
    assert "run `imagelint fix --write --unsafe-fixes` to apply" in r.stderr
    safe = imagelint("fix", "--diff", "Dockerfile", cwd=repo)
    assert "`imagelint fix --write --unsafe-fixes`" not in safe.stderr


def test_an_unreadable_input_is_never_nothing_to_fix(repo):
    r = imagelint("fix", "missing.Dockerfile", cwd=repo)
    assert r.returncode == 2
    assert "Nothing to fix." not in r.stdout
    assert "1 input could not be checked" in r.stdout
    assert r.stderr.startswith("imagelint: error: missing.Dockerfile: ")


def test_an_empty_directory_is_an_error_unless_allowed(repo):
    (repo / "empty").mkdir()
    r = imagelint("fix", "empty", cwd=repo)
    assert r.returncode == 2 and "empty: no Dockerfile or Kubernetes manifest found" in r.stderr and "--allow-empty" in r.stderr
    allowed = imagelint("fix", "empty", "--allow-empty", cwd=repo)
    assert allowed.returncode == 0 and "imagelint: warning: empty: no Dockerfile or Kubernetes manifest found" in allowed.stderr


def test_an_unknown_rule_selector_is_refused(repo):
    for option in ("--select", "--ignore"):
        r = imagelint("fix", "Dockerfile", option, "IL999", cwd=repo)
        assert r.returncode == 2 and r.stdout == ""
        assert r.stderr.strip().splitlines() == [
            f"imagelint: error: {option} IL999 matches no rule (ids look like IL110, prefixes like IL1; "
            "`imagelint rules` lists them)"]


def test_lint_and_fix_describe_the_il110_fix_alike(repo):
    """The IL110 fix passes --cacert only while the CA is unregistered; `fix` registers it first (IL201)."""
    (repo / "Dockerfile").write_text("FROM debian:12\nCOPY corp.crt /usr/local/share/ca-certificates/corp.crt\n"
                                     "RUN curl -k https://example.com/a -o /tmp/a\n")
    lint = imagelint("lint", "Dockerfile", "--select", "IL110", cwd=repo)
    assert "Replace `-k` with `--cacert /usr/local/share/ca-certificates/corp.crt` (only remove `-k` once " \
           "`update-ca-certificates` registers the CA, as the IL201 fix does)" in lint.stdout
    fixed = imagelint("fix", "--unsafe-fixes", "Dockerfile", cwd=repo)
    assert "IL110 Remove `-k`: curl verifies with the system store, which holds " \
           "/usr/local/share/ca-certificates/corp.crt (unsafe)" in fixed.stdout
    assert "+RUN curl https://example.com/a -o /tmp/a" in fixed.stdout
