"""Reading what users name on the command line: one size limit and one decoding for every command.
A FIFO, device or socket is an error, never waited on."""
from __future__ import annotations

from ..dockerfile.parse import decode_dockerfile
from ..fs.regular import read_regular_file, read_stream

MAX_BYTES = 64 * 1024 * 1024


def read_source(path: str, stdin_text: str | None = None) -> str:
    """A Dockerfile's (or manifest's) text: a regular file of at most MAX_BYTES."""
    if path == "-" or stdin_text is not None:
        return stdin_text if stdin_text is not None else read_stdin()
    return decode_dockerfile(read_regular_file(path, MAX_BYTES), path)


def read_stdin(shown: str = "-") -> str:
    """Standard input as bytes, decoded like a file (invalid UTF-8 is a one-line error), at most MAX_BYTES."""
    import sys

    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:  # a text stream swapped in (tests): no size trouble there
        return sys.stdin.read()
    return decode_dockerfile(read_stream(stream, MAX_BYTES, shown), shown)
