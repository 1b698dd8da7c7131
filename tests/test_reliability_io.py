"""Hostile host input never hangs or floods (FIFOs, devices, huge files, invalid stdin), and
`fix --write` is safe: symlinks, mode bits with setuid/setgid, CRLF, OS errors, concurrency."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from imagelint.findings import ImagelintError
from imagelint.fixes.apply import parses
from imagelint.fixes.writers import write_atomically

ROOT = Path(__file__).resolve().parents[1]
INSECURE = "FROM debian:12\nRUN curl -fsSLk https://example.com/x -o /tmp/x\n"


def run(*args: str, cwd: Path, stdin: bytes | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-m", "imagelint.cli", *args], cwd=cwd, capture_output=True,
                       input=stdin, env=env, timeout=timeout)
    return subprocess.CompletedProcess(r.args, r.returncode, r.stdout.decode("utf-8", "replace"),
                                       r.stderr.decode("utf-8", "replace"))


def assert_one_line_error(r: subprocess.CompletedProcess, needle: str) -> None:
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr + r.stdout
    assert needle in r.stderr + r.stdout


@pytest.fixture
def fifo(tmp_path) -> Path:
    path = tmp_path / "Dockerfile"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("command", [["lint"], ["fix"], ["fix", "--write"]])
def test_a_fifo_is_refused_not_waited_on(tmp_path, fifo, command):
    r = run(*command, str(fifo), cwd=tmp_path, timeout=30)
    assert_one_line_error(r, "FIFO")


def test_a_fifo_found_while_walking_a_directory_is_refused(tmp_path, fifo):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "Dockerfile").write_text(INSECURE)
    r = run("lint", str(tmp_path), cwd=tmp_path, timeout=30)
    assert_one_line_error(r, "FIFO")
    assert "IL1" in r.stdout  # the regular file next to it is still checked


def test_a_fifo_in_the_build_context_is_skipped(tmp_path):
    os.mkfifo(tmp_path / ".dockerignore")
    os.mkfifo(tmp_path / "corp.crt")
    (tmp_path / "Dockerfile").write_text("FROM debian:12\nCOPY corp.crt /usr/local/share/ca-certificates/\n")
    r = run("lint", "Dockerfile", cwd=tmp_path, timeout=30)
    assert r.returncode in (0, 1), r.stderr
    assert "Traceback" not in r.stderr


def test_trust_chain_from_a_fifo_is_refused(tmp_path, fifo):
    r = run("trust", "host", "--chain", str(fifo), cwd=tmp_path, timeout=30)
    assert_one_line_error(r, "FIFO")


def test_trust_chain_larger_than_the_limit_is_an_error_not_a_silent_head(tmp_path):
    big = tmp_path / "chain.pem"
    with open(big, "wb") as fh:
        fh.truncate(17 * 1024 * 1024)
    r = run("trust", "host", "--chain", str(big), cwd=tmp_path, timeout=60)
    assert_one_line_error(r, "larger than 16 MB")


@pytest.mark.parametrize("command", [["lint"], ["fix"]])
def test_dev_zero_is_refused(tmp_path, command):
    r = run(*command, "/dev/zero", cwd=tmp_path, timeout=30)
    assert_one_line_error(r, "character device")


def test_fix_reads_with_the_lint_size_limit(tmp_path):
    big = tmp_path / "Dockerfile"
    with open(big, "wb") as fh:
        fh.write(INSECURE.encode())
        fh.write(b"#" * (65 * 1024 * 1024))
    for command in (["lint"], ["fix"]):
        assert_one_line_error(run(*command, str(big), cwd=tmp_path), "larger than 64 MB")


def test_invalid_utf8_on_stdin_is_one_line(tmp_path):
    r = run("lint", "-", cwd=tmp_path, stdin=b"FROM alpine\nRUN echo \xff\xfe\n")
    assert_one_line_error(r, "invalid UTF-8")


# --- fix --write -------------------------------------------------------------------------------

def test_write_through_a_symlink_writes_the_target(tmp_path):
    target = tmp_path / "real.Dockerfile"
    target.write_text(INSECURE)
    link = tmp_path / "Dockerfile"
    link.symlink_to(target.name)
    r = run("fix", "--write", "--unsafe-fixes", "Dockerfile", cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    assert link.is_symlink() and os.readlink(link) == target.name
    assert "-k" not in target.read_text().split("\n")[1]


@pytest.mark.skipif(os.geteuid() != 0, reason="setuid/setgid on a file of another owner needs root")
def test_write_keeps_owner_and_setuid_setgid_bits(tmp_path):
    path = tmp_path / "Dockerfile"
    path.write_text(INSECURE)
    os.chown(path, 1234, 5678)
    os.chmod(path, 0o6754)
    write_atomically(str(path), path.read_bytes(), INSECURE.replace("-fsSLk", "-fsSL"))
    st = path.stat()
    assert (st.st_uid, st.st_gid) == (1234, 5678)
    assert stat.S_IMODE(st.st_mode) == 0o6754


def test_write_keeps_crlf(tmp_path):
    path = tmp_path / "Dockerfile"
    path.write_bytes(INSECURE.replace("\n", "\r\n").encode())
    r = run("fix", "--write", "--unsafe-fixes", "Dockerfile", cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    data = path.read_bytes()
    assert b"-fsSLk" not in data and data.count(b"\r\n") == 2 and b"\n" not in data.replace(b"\r\n", b"")


def test_write_refuses_a_read_only_file_with_one_line(tmp_path):
    path = tmp_path / "Dockerfile"
    path.write_text(INSECURE)
    path.chmod(0o444)
    assert_one_line_error(run("fix", "--write", "--unsafe-fixes", "Dockerfile", cwd=tmp_path), "read-only")
    assert path.read_text() == INSECURE


def test_an_os_error_while_writing_is_one_line_and_leaves_no_temp_file(tmp_path):
    # A directory we may not create files in (the temp file cannot be made): exit 2, one line.
    path = tmp_path / "d" / "Dockerfile"
    path.parent.mkdir()
    path.write_text(INSECURE)
    path.parent.chmod(0o555)
    try:
        if os.geteuid() == 0:
            pytest.skip("root creates files in a read-only directory")
        assert_one_line_error(run("fix", "--write", "--unsafe-fixes", str(path), cwd=tmp_path), "not written")
    finally:
        path.parent.chmod(0o755)
    assert sorted(os.listdir(path.parent)) == ["Dockerfile"]


def test_a_full_disk_is_one_line_and_leaves_the_file_and_no_temp_file(tmp_path):
    """A real ENOSPC: a 1 MiB tmpfs would need root; a loop-free way is RLIMIT_FSIZE, which makes
    the temp file's write fail (EFBIG) exactly as a full disk does for this code path."""
    path = tmp_path / "Dockerfile"
    path.write_text(INSECURE + "RUN echo " + "x" * 200_000 + "\n")
    code = (
        "import resource, signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))\n"
        "from imagelint.cli import main\n"
        "sys.argv = ['imagelint', 'fix', '--write', '--unsafe-fixes', sys.argv[1]]\n"
        "main()\n"
    )
    r = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, cwd=tmp_path,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=60)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and "not written" in r.stderr
    assert path.read_text().startswith(INSECURE)
    assert sorted(os.listdir(tmp_path)) == ["Dockerfile"]


def test_twenty_concurrent_fixes_leave_one_parseable_fixed_file(tmp_path):
    path = tmp_path / "Dockerfile"
    path.write_text(INSECURE)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    procs = [subprocess.Popen([sys.executable, "-m", "imagelint.cli", "fix", "--write", "--unsafe-fixes", "Dockerfile"],
                              cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(20)]
    results = [(p.wait(timeout=300), p.stderr.read().decode()) for p in procs]
    for code, err in results:
        assert code in (0, 1, 2) and "Traceback" not in err, err
    assert any(code == 1 for code, _ in results)
    text = path.read_text()
    assert parses(text, "Dockerfile") is None
    assert text == INSECURE.replace("-fsSLk", "-fsSL")
    assert sorted(os.listdir(tmp_path)) == ["Dockerfile"]


def test_write_atomically_refuses_a_fifo(tmp_path, fifo):
    with pytest.raises(ImagelintError):
        write_atomically(str(fifo), b"", "FROM alpine\n")


def _root_tool(*argv: str) -> bool:
    if os.geteuid() != 0:
        return False
    return subprocess.run(argv, capture_output=True).returncode == 0


def test_write_in_an_append_only_directory_rewrites_in_place_and_leaves_no_temp_file(tmp_path):
    directory = tmp_path / "ao"
    directory.mkdir()
    path = directory / "Dockerfile"
    path.write_text(INSECURE)
    if not _root_tool("chattr", "+a", str(directory)):
        pytest.skip("chattr +a needs root (CAP_LINUX_IMMUTABLE) on a file system that supports it")
    try:
        r = run("fix", "--write", "--unsafe-fixes", str(path), cwd=tmp_path)
        assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
        assert sorted(os.listdir(directory)) == ["Dockerfile"]
        assert path.read_text() == INSECURE.replace("-fsSLk", "-fsSL")
    finally:
        subprocess.run(["chattr", "-a", str(directory)])


def test_write_to_a_bind_mounted_single_file(tmp_path):
    """`docker run -v $PWD/Dockerfile:/src/Dockerfile`: rename over a mount point fails with EBUSY."""
    source = tmp_path / "host.Dockerfile"
    source.write_text(INSECURE)
    (tmp_path / "src").mkdir()
    mounted = tmp_path / "src" / "Dockerfile"
    mounted.write_text("")
    if not _root_tool("mount", "--bind", str(source), str(mounted)):
        pytest.skip("bind mounts need root")
    try:
        r = run("fix", "--write", "--unsafe-fixes", str(mounted), cwd=tmp_path)
        assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
        assert source.read_text() == INSECURE.replace("-fsSLk", "-fsSL")
        assert sorted(os.listdir(mounted.parent)) == ["Dockerfile"]
    finally:
        subprocess.run(["umount", str(mounted)])
