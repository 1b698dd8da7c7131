"""Reading what users name on the command line: one size limit and one decoding for every command."""
from __future__ import annotations

from ..dockerfile.parse import decode_dockerfile
from ..findings import ImagelintError

MAX_BYTES = 64 * 1024 * 1024


def read_source(path: str, stdin_text: str | None = None) -> str:
    if path == "-" or stdin_text is not None:
        return stdin_text or ""
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except IsADirectoryError:
        raise ImagelintError("is a directory", path=path) from None
    except OSError as exc:
        raise ImagelintError(exc.strerror or str(exc), path=path) from None
    if len(data) > MAX_BYTES:
        raise ImagelintError(f"file larger than {MAX_BYTES // (1024 * 1024)} MB", path=path)
    return decode_dockerfile(data, path)
