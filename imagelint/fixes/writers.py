"""Output of `imagelint fix`: unified diffs that `git apply` and `patch -p1` accept, and safe in-place writes."""
from __future__ import annotations

import difflib
import errno
import os
import stat
import tempfile

from ..findings import ImagelintError
from ..fs.regular import read_regular_file

NO_NEWLINE = "\\ No newline at end of file\n"


def split_lines(text: str) -> list[str]:
    """Lines with their terminators, split on "\\n" only (a lone "\\r" or form feed is content)."""
    parts = text.split("\n")
    lines = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def diff_path(path: str) -> str:
    """A forward-slash path relative to the working directory, as git and patch -p1 expect."""
    rel = os.path.relpath(path) if os.path.isabs(path) else os.path.normpath(path)
    if rel.startswith(".."):
        rel = os.path.abspath(path).lstrip("/")
    return rel.replace(os.sep, "/")


def unified_diff(path: str, old: str, new: str, context: int = 3) -> str:
    """`--- a/<path>` / `+++ b/<path>`, original line endings kept, missing final newlines marked."""
    if old == new:
        return ""
    name = diff_path(path)
    out = []
    for line in difflib.unified_diff(split_lines(old), split_lines(new), f"a/{name}", f"b/{name}", n=context):
        if line.endswith("\n"):
            out.append(line)
        else:
            out.append(line + "\n" + NO_NEWLINE)
    return "".join(out)


MAX_FIX_BYTES = 64 * 1024 * 1024  # the limit lint reads with


def read_bytes(path: str, max_bytes: int = MAX_FIX_BYTES) -> bytes:
    """A regular file's bytes (FIFOs and devices are refused, never read), at most `max_bytes`."""
    return read_regular_file(path, max_bytes)


def write_atomically(path: str, original: bytes, new_text: str, validate=None) -> None:
    """Replace `path` by `new_text` through a temp file in its directory and os.replace.

    Through a symlink the target is written (the link stays). Owner, group and every mode bit
    (setuid/setgid included: the owner is set first, because chown clears them) are kept.
    Refuses (ImagelintError, one line, file untouched, no temp file left) when the file changed
    since `original` was read, when it is not writable, when `validate(new_text)` returns an error
    message, or on any OS error. Concurrent fixes of one file are serialised by a lock on it.
    A file that cannot be replaced by rename (a single bind-mounted file: EBUSY; an append-only
    directory) is rewritten in place instead.
    """
    if validate is not None:
        problem = validate(new_text)
        if problem:
            raise ImagelintError(f"not written: the fixed file would not parse ({problem})", path=path)
    real = os.path.realpath(path)
    try:
        st = os.stat(real)
    except OSError as exc:
        raise ImagelintError(f"not written: {exc.strerror or exc}", path=path) from None
    if not stat.S_ISREG(st.st_mode):
        raise ImagelintError("not written: not a regular file", path=path)
    # Root passes os.access checks on read-only files; the mode bits say what the user meant.
    if not (st.st_mode & stat.S_IWUSR) or not os.access(real, os.W_OK):
        raise ImagelintError("not written: the file is read-only", path=path)
    data = new_text.encode("utf-8", "surrogateescape")
    try:
        lock = os.open(real, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise ImagelintError(f"not written: {exc.strerror or exc}", path=path) from None
    try:
        _lock(lock)
        # Under the lock: a concurrent fix may have written the file meanwhile.
        if read_bytes(real) != original:
            raise ImagelintError("not written: the file changed since it was read", path=path)
        directory = os.path.dirname(real) or "."
        if _append_only(directory):
            _rewrite_in_place(real, data, original, path)
            return
        _replace(real, directory, data, original, st, path)
    finally:
        os.close(lock)  # releases the lock


def _lock(fd: int) -> None:
    try:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX)
    except (ImportError, OSError):
        pass  # no flock here: the changed-since-read checks still guard the write


def _append_only(directory: str) -> bool:
    """chattr +a: files can be created there but never renamed over or removed (Linux only)."""
    try:
        import array
        import fcntl

        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except (ImportError, OSError):
        return False
    try:
        flags = array.array("l", [0])
        fcntl.ioctl(fd, 0x80086601, flags, True)  # FS_IOC_GETFLAGS
        return bool(flags[0] & 0x20)  # FS_APPEND_FL
    except OSError:
        return False
    finally:
        os.close(fd)


def _replace(real: str, directory: str, data: bytes, original: bytes, st: os.stat_result, path: str) -> None:
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(real) + ".", suffix=".imagelint")
    except OSError as exc:
        raise ImagelintError(f"not written: cannot create a temporary file next to it ({exc.strerror})", path=path) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        # Owner first: chown clears setuid/setgid, so the mode (with them) comes after it.
        if hasattr(os, "chown") and (st.st_uid, st.st_gid) != _owner(tmp):
            try:
                os.chown(tmp, st.st_uid, st.st_gid)
            except OSError:
                pass  # not root: the file keeps our owner, as any editor's save would
        os.chmod(tmp, stat.S_IMODE(st.st_mode))
        try:
            os.replace(tmp, real)
        except OSError as exc:
            if exc.errno not in (errno.EBUSY, errno.EXDEV, errno.EPERM):
                raise
            # A bind-mounted single file cannot be renamed over: write it in place.
            _remove(tmp)
            _rewrite_in_place(real, data, original, path)
    except ImagelintError:
        _remove(tmp)
        raise
    except OSError as exc:
        _remove(tmp)
        raise ImagelintError(f"not written: {exc.strerror or exc}", path=path) from None
    except BaseException:
        _remove(tmp)
        raise


def _owner(path: str) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_uid, st.st_gid


def _remove(tmp: str) -> None:
    try:
        os.unlink(tmp)
    except OSError:
        pass


def _rewrite_in_place(real: str, data: bytes, original: bytes, path: str) -> None:
    """Not atomic, so used only where rename cannot work; owner and mode are untouched.
    A failed write (a full disk) puts the original bytes back."""
    try:
        _write_all(real, data)
    except OSError as exc:
        try:
            _write_all(real, original)
        except OSError:
            pass
        raise ImagelintError(f"not written: {exc.strerror or exc}", path=path) from None


def _write_all(real: str, data: bytes) -> None:
    fd = os.open(real, os.O_WRONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.ftruncate(fd, len(data))
        os.fsync(fd)
    finally:
        os.close(fd)
