"""gzip layers inflate to the same bytes, and fail with the same messages, with ISA-L (the optional
`isal` package, the `fast` extra) as with zlib."""
from __future__ import annotations

import gzip
import io
import os

import pytest

from imagelint.findings import ImagelintError
from imagelint.image import streams

pytest.importorskip("isal", reason="the `fast` extra (scripts/install-test-deps.sh installs it)")


def inflate(blob: bytes, engine: str, monkeypatch) -> tuple[str, bytes]:
    monkeypatch.setenv("IMAGELINT_INFLATE", engine)
    stream = streams.GzipStream(io.BytesIO(blob), "layer 0")
    assert type(stream.decomp).__module__.startswith("isal" if engine == "isal" else "zlib")
    out = []
    try:
        while chunk := stream.read(100_000):
            out.append(chunk)
    except ImagelintError as exc:
        # A short tail after the last member is "truncated" to one, a bad header to the other.
        assert str(exc).startswith(("layer 0: gzip stream is truncated", "layer 0: corrupt gzip data")), exc
        return "error", b"".join(out)
    return "ok", b"".join(out)


PAYLOAD = os.urandom(300_000) + b"A" * 3_000_000 + bytes(range(256)) * 4000


@pytest.mark.parametrize("blob", [
    gzip.compress(PAYLOAD),
    gzip.compress(PAYLOAD[:1000]) + gzip.compress(PAYLOAD[1000:]),  # multi-member, as pigz writes
    gzip.compress(PAYLOAD) + b"\x00" * 4096,  # zero padding after the last member
    gzip.compress(b""),
    gzip.compress(PAYLOAD)[:-100],  # truncated
    gzip.compress(PAYLOAD)[:5000] + b"\xff" * 64 + gzip.compress(PAYLOAD)[5064:],  # corrupt deflate data
    gzip.compress(PAYLOAD) + b"garbage after the member",
    gzip.compress(PAYLOAD) + b"garbage",
], ids=["one", "members", "padding", "empty", "truncated", "corrupt", "trailing", "short-trailing"])
def test_isal_inflates_as_zlib_does(blob, monkeypatch):
    isal, zlib = inflate(blob, "isal", monkeypatch), inflate(blob, "zlib", monkeypatch)
    assert isal[0] == zlib[0]
    # Until the error, the same bytes (one engine may stop a chunk earlier than the other).
    assert isal[1] == zlib[1] if isal[0] == "ok" else (zlib[1].startswith(isal[1]) or isal[1].startswith(zlib[1]))
