"""Reading host files that may be hostile: a FIFO, a device or a socket must never hang or flood a read.

`open()` on a FIFO blocks until a writer appears, and `/dev/zero` never ends. Every host input
(a Dockerfile, a --chain file, a build-context file) goes through `read_regular_file`: only a
regular file is opened (non-blocking, checked again after the open), and at most `max_bytes` are read.
"""
from __future__ import annotations

import os
import stat

from ..findings import ImagelintError

_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISDIR, "a directory"),
)


class NotRegularFile(ImagelintError):
    """The path is a FIFO, device, socket or directory."""


class FileTooLarge(ImagelintError):
    """The file has more than the allowed bytes."""


def kind_of(mode: int) -> str:
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def _megabytes(n: int) -> str:
    return f"{n // (1024 * 1024)} MB" if n >= 1024 * 1024 and n % (1024 * 1024) == 0 else f"{n:,} bytes"


def read_regular_file(path: str, max_bytes: int, shown: str | None = None) -> bytes:
    """The bytes of a regular file of at most `max_bytes`; ImagelintError (one line) otherwise."""
    shown = shown or path
    try:
        st = os.stat(path)
    except OSError as exc:
        raise ImagelintError(exc.strerror or str(exc), path=shown) from None
    if stat.S_ISDIR(st.st_mode):
        raise NotRegularFile("is a directory", path=shown)
    if not stat.S_ISREG(st.st_mode):
        raise NotRegularFile(f"{kind_of(st.st_mode)}, not a regular file", path=shown)
    if st.st_size > max_bytes:
        raise FileTooLarge(f"file larger than {_megabytes(max_bytes)}", path=shown)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise ImagelintError(exc.strerror or str(exc), path=shown) from None
    try:
        st = os.fstat(fd)  # the path may have been swapped for a FIFO between stat and open
        if not stat.S_ISREG(st.st_mode):
            raise NotRegularFile(f"{kind_of(st.st_mode)}, not a regular file", path=shown)
        chunks = []
        left = max_bytes + 1
        want = st.st_size + 1  # the size as it is now, and one byte more to see it grow: a 1 MB read buffer per small file costs more than the read
        while left > 0:
            chunk = os.read(fd, min(left, want))
            want = 1 << 20
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as exc:
        raise ImagelintError(exc.strerror or str(exc), path=shown) from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > max_bytes:  # it grew after the stat
        raise FileTooLarge(f"file larger than {_megabytes(max_bytes)}", path=shown)
    return data


def is_regular_file(path: str) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def read_stream(stream, max_bytes: int, shown: str = "-") -> bytes:
    """At most `max_bytes` from a binary stream (standard input); ImagelintError past that."""
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise FileTooLarge(f"input larger than {_megabytes(max_bytes)}", path=shown)
    return data
