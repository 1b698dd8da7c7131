"""Output of `imagelint fix`: unified diffs that `git apply` and `patch -p1` accept, and safe in-place writes."""
from __future__ import annotations

import difflib
import os
import stat
import tempfile

from ..findings import ImagelintError

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


def read_bytes(path: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise ImagelintError(exc.strerror or str(exc), path=path) from None


def write_atomically(path: str, original: bytes, new_text: str, validate=None) -> None:
    """Replace `path` by `new_text` through a temp file in its directory and os.replace.

    Refuses (ImagelintError, file untouched) when the file changed since `original` was read, when it
    is not writable, or when `validate(new_text)` returns an error message.
    """
    if validate is not None:
        problem = validate(new_text)
        if problem:
            raise ImagelintError(f"not written: the fixed file would not parse ({problem})", path=path)
    real = os.path.realpath(path)
    try:
        st = os.stat(real)
    except OSError as exc:
        raise ImagelintError(exc.strerror or str(exc), path=path) from None
    # Root passes os.access checks on read-only files; the mode bits say what the user meant.
    if not (st.st_mode & stat.S_IWUSR) or not os.access(real, os.W_OK):
        raise ImagelintError("not written: the file is read-only", path=path)
    directory = os.path.dirname(real) or "."
    if read_bytes(real) != original:
        raise ImagelintError("not written: the file changed since it was read", path=path)
    data = new_text.encode("utf-8", "surrogateescape")
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(real) + ".", suffix=".imagelint")
    except OSError as exc:
        raise ImagelintError(f"not written: cannot create a temporary file next to it ({exc.strerror})", path=path) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, stat.S_IMODE(st.st_mode))
        if hasattr(os, "chown") and os.geteuid() == 0:
            try:
                os.chown(tmp, st.st_uid, st.st_gid)
            except OSError:
                pass
        # Last look before the swap: someone may have saved the file meanwhile.
        if read_bytes(real) != original:
            raise ImagelintError("not written: the file changed since it was read", path=path)
        os.replace(tmp, real)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
