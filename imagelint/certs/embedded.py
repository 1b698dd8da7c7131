"""PEM certificate blocks embedded in large binaries (node keeps its root store compiled in).

The file is streamed in chunks; only the certificate blocks are kept, so a 100 MB executable
costs a few hundred kilobytes of memory.
"""
from __future__ import annotations

import re
from typing import BinaryIO

BEGIN = b"-----BEGIN CERTIFICATE-----"
END = b"-----END CERTIFICATE-----"
# A base64 body between the markers; a real certificate is a few kilobytes at most.
MAX_BLOCK = 64 * 1024
CHUNK = 1024 * 1024
_BLOCK = re.compile(re.escape(BEGIN) + rb"[A-Za-z0-9+/=\r\n\\nt \"]{16,%d}?" % MAX_BLOCK + re.escape(END))


def _clean(block: bytes) -> bytes:
    """Node stores each line as a C string literal; compiled, the lines end in '\\n' bytes already.
    Sources that kept the escapes literally ("...\\n" "...") are normalised too."""
    body = block[len(BEGIN):-len(END)]
    body = body.replace(b"\\n", b"\n").replace(b'"', b"")
    lines = [line.strip() for line in body.splitlines() if line.strip()]
    return BEGIN + b"\n" + b"\n".join(lines) + b"\n" + END + b"\n"


def pem_blocks_in_stream(fileobj: BinaryIO, chunk_size: int = CHUNK) -> bytes:
    """Every PEM certificate block in the stream, concatenated (b"" when there is none)."""
    found: list[bytes] = []
    seen: set[bytes] = set()
    carry = b""
    while True:
        chunk = fileobj.read(chunk_size)
        data = carry + chunk if chunk else carry
        last_end = 0
        for match in _BLOCK.finditer(data):
            block = _clean(match.group(0))
            if block not in seen:
                seen.add(block)
                found.append(block)
            last_end = match.end()
        if not chunk:
            break
        # Keep an unfinished block (or a marker split across chunks) for the next round.
        start = data.rfind(BEGIN, last_end)
        if start != -1 and len(data) - start <= MAX_BLOCK + len(BEGIN) + len(END):
            carry = data[start:]
        else:
            carry = data[max(last_end, len(data) - len(BEGIN)):]
    return b"".join(found)
