"""Byte streams for layer blobs: digest verification, compression sniffing and bomb caps.

Everything here is a forward-only `read(n)` stream, so a layer flows from the archive or the
network through decompression into the tar reader without ever being held whole.
"""
from __future__ import annotations

import hashlib
import io
import os
import queue
import threading
import zlib
from typing import BinaryIO, Callable

from ..findings import ImagelintError
from .limits import Limits

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
CHUNK = 1024 * 1024


class RawStream(io.RawIOBase):
    """Base for the streams below: implements readinto() on top of _read(n)."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            parts = []
            while chunk := self._read(CHUNK):
                parts.append(chunk)
            return b"".join(parts)
        return self._read(size)

    def _read(self, size: int) -> bytes:  # pragma: no cover - abstract
        raise NotImplementedError

    def close(self) -> None:
        """Closing a stream closes the one it wraps (`inner`), if any."""
        close = getattr(getattr(self, "inner", None), "close", None)
        if close:
            close()
        super().close()


class FileSlice(RawStream):
    """`length` bytes at `offset` of an open file descriptor, read with pread: many slices
    of one archive can be read at once from different threads."""

    def __init__(self, fd: int, offset: int, length: int, what: str):
        self.fd, self.pos, self.end, self.what = fd, offset, offset + length, what

    def _read(self, size: int) -> bytes:
        size = min(size, self.end - self.pos)
        if size <= 0:
            return b""
        data = os.pread(self.fd, size, self.pos)
        if not data:
            raise ImagelintError(f"{self.what}: archive is truncated")
        self.pos += len(data)
        return data


def file_range(stream: BinaryIO) -> tuple[int, int, int] | None:
    """(fd, start, end) of a stream that is a plain range of an open file (a member read in place,
    a blob file), else None."""
    if isinstance(stream, FileSlice):
        return stream.fd, stream.pos, stream.end
    if isinstance(stream, io.BufferedReader) and not stream.closed:
        try:
            fd = stream.fileno()
            st = os.fstat(fd)
        except OSError:
            return None
        import stat

        if stat.S_ISREG(st.st_mode):
            return fd, stream.tell(), st.st_size
    return None


class InPlaceBlob(RawStream):
    """An uncompressed blob read in place: the tar reader reads only what it needs and skips the
    rest (`skip_to`), while a thread of its own hashes the whole range with pread into one buffer
    (hashlib and pread release the GIL). At end of stream the digests must match, as with
    VerifyingStream; the image's byte budget is charged for the whole blob up front."""

    def __init__(self, owner: BinaryIO, fd: int, start: int, end: int, expected: list[str], what: str,
                 budget: "Budget", on_bytes: Callable[[int], None] | None = None):
        self.owner, self.fd, self.pos, self.start, self.end, self.what = owner, fd, start, start, end, what
        self.expected = [(digest, *parse_digest(digest, what)) for digest in expected]
        self.on_bytes = on_bytes
        self.count = 0
        self.done = False
        budget.spend(end - start, what)
        self.stopped = threading.Event()
        self.failure: str | None = None
        self.digests: list[str] = []
        self.thread = threading.Thread(target=self._hash, name="imagelint-hash", daemon=True)
        self.thread.start()

    def _hash(self) -> None:
        hashes = [hashlib.new(algorithm) for _digest, algorithm, _hex in self.expected]
        buffer = bytearray(CHUNK)
        view = memoryview(buffer)
        pos = self.start
        try:
            while pos < self.end and not self.stopped.is_set():
                n = os.preadv(self.fd, [view[:min(CHUNK, self.end - pos)]], pos)
                if n <= 0:
                    self.failure = f"{self.what}: archive is truncated"
                    return
                for h in hashes:
                    h.update(view[:n])
                pos += n
        except OSError as exc:
            self.failure = f"{self.what}: cannot read ({exc.strerror})"
            return
        self.digests = [h.hexdigest() for h in hashes]

    def skip_to(self, offset: int) -> None:
        """Go on reading at `offset` (forward only) of the blob: the bytes between are only hashed."""
        self.pos = max(self.pos, min(self.start + offset, self.end))

    def _read(self, size: int) -> bytes:
        if self.done:
            return b""
        size = min(size, self.end - self.pos)
        if size > 0:
            data = os.pread(self.fd, size, self.pos)
            if data:
                self.pos += len(data)
                return data
        self.done = True
        self.thread.join()
        if self.failure is None and self.pos < self.end:
            self.failure = f"{self.what}: archive is truncated"
        if self.failure is not None:
            raise ImagelintError(self.failure)
        self.count = self.end - self.start
        if self.on_bytes:
            self.on_bytes(self.count)
        for (digest, algorithm, expected_hex), actual in zip(self.expected, self.digests):
            if actual != expected_hex:
                raise ImagelintError(
                    f"{self.what}: digest mismatch (expected {digest}, got {algorithm}:{actual}); "
                    "the blob is corrupt or was tampered with")
        return b""

    def close(self) -> None:
        self.stopped.set()
        self.thread.join()
        self.owner.close()
        super().close()


def parse_digest(digest: str, what: str) -> tuple[str, str]:
    algorithm, _, hex_digest = (digest or "").partition(":")
    if algorithm not in ("sha256", "sha512") or not hex_digest or any(
            c not in "0123456789abcdef" for c in hex_digest):
        raise ImagelintError(f"{what}: unsupported or malformed digest {digest!r}")
    return algorithm, hex_digest


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def verify_bytes(data: bytes, expected: str, what: str) -> bytes:
    algorithm, hex_digest = parse_digest(expected, what)
    actual = hashlib.new(algorithm, data).hexdigest()
    if actual != hex_digest:
        raise ImagelintError(f"{what}: digest mismatch (expected {expected}, got {algorithm}:{actual})")
    return data


class _Hasher:
    """Hashes chunks in a thread of its own: hashlib releases the GIL on large buffers, so the
    digest of a layer is computed while the reading thread decompresses and parses the tar."""

    def __init__(self, algorithm: str):
        self.hash = hashlib.new(algorithm)
        self.queue: queue.Queue[bytes | None] = queue.Queue(maxsize=8)  # at most ~8 chunks in flight
        self.thread: threading.Thread | None = None

    def update(self, data: bytes) -> None:
        if self.thread is None:
            self.thread = threading.Thread(target=self._run, name="imagelint-hash", daemon=True)
            self.thread.start()
        self.queue.put(data)

    def _run(self) -> None:
        while (data := self.queue.get()) is not None:
            self.hash.update(data)

    def stop(self) -> None:
        if self.thread is not None:
            self.queue.put(None)
            self.thread.join()
            self.thread = None

    def hexdigest(self) -> str:
        self.stop()
        return self.hash.hexdigest()


class VerifyingStream(RawStream):
    """Hashes what passes through; at end of stream the digest must match `expected`."""

    def __init__(self, inner: BinaryIO, expected: str, what: str, on_bytes: Callable[[int], None] | None = None):
        algorithm, self.expected_hex = parse_digest(expected, what)
        self.inner, self.expected, self.what, self.on_bytes = inner, expected, what, on_bytes
        self.hash = _Hasher(algorithm)
        self.done = False
        self.count = 0

    def _read(self, size: int) -> bytes:
        if self.done:
            return b""
        data = self.inner.read(size)
        if data:
            self.hash.update(bytes(data))  # an immutable copy only if the inner stream lent a buffer
            self.count += len(data)
            if self.on_bytes:
                self.on_bytes(len(data))
            return data
        self.done = True
        actual = self.hash.hexdigest()
        if actual != self.expected_hex:
            raise ImagelintError(
                f"{self.what}: digest mismatch (expected {self.expected}, got "
                f"{self.expected.split(':')[0]}:{actual}); the blob is corrupt or was tampered with")
        return b""

    def close(self) -> None:
        self.hash.stop()
        super().close()


class CountingStream(RawStream):
    def __init__(self, inner: BinaryIO, on_bytes: Callable[[int], None] | None = None):
        self.inner, self.count, self.on_bytes = inner, 0, on_bytes

    def _read(self, size: int) -> bytes:
        data = self.inner.read(size)
        self.count += len(data)
        if data and self.on_bytes:
            self.on_bytes(len(data))
        return data


class PeekStream(RawStream):
    """Lets the first bytes be looked at without consuming them."""

    def __init__(self, inner: BinaryIO):
        self.inner, self.head = inner, b""

    def peek(self, size: int) -> bytes:
        while len(self.head) < size:
            more = self.inner.read(size - len(self.head))
            if not more:
                break
            self.head += more
        return self.head[:size]

    def _read(self, size: int) -> bytes:
        if self.head:
            data, self.head = self.head[:size], self.head[size:]
            return data
        return self.inner.read(size)


def detect_compression(head: bytes) -> str:
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return "none"


def _inflater():
    """(decompressobj, its error) for gzip: ISA-L's inflate (`isal`, about twice zlib's speed) where
    that optional package is installed (`pip install 'imagelint[fast]'`), zlib otherwise or with
    IMAGELINT_INFLATE=zlib. Both take the same calls and give the same bytes."""
    if os.environ.get("IMAGELINT_INFLATE", "").lower() != "zlib":
        try:
            from isal import isal_zlib
        except ImportError:
            pass
        else:
            return isal_zlib.decompressobj, isal_zlib.error
    return zlib.decompressobj, zlib.error


class GzipStream(RawStream):
    """Multi-member gzip, inflated directly (zlib or ISA-L): one forward pass, no seeking."""

    def __init__(self, inner: BinaryIO, what: str):
        self.inner, self.what = inner, what
        self.new_decomp, self.error = _inflater()
        self.decomp = self.new_decomp(16 + zlib.MAX_WBITS)
        self.in_member = False
        self.pending = b""
        self.eof = False

    def _read(self, size: int) -> bytes:
        while not self.pending and not self.eof:
            data = self.decomp.unconsumed_tail or self.inner.read(256 * 1024)
            if not data:
                if self.in_member:
                    raise ImagelintError(f"{self.what}: gzip stream is truncated")
                self.eof = True
                break
            if not self.in_member:
                if not data.strip(b"\x00"):
                    continue  # zero padding after the last member
                self.in_member = True
            self._feed(data)
        data, self.pending = self.pending[:size], self.pending[size:]
        return data

    def _feed(self, data: bytes) -> None:
        # A loop over the gzip members in `data`: a layer may hold thousands of them.
        while True:
            try:
                self.pending += self.decomp.decompress(data, CHUNK)
            except self.error as exc:
                raise ImagelintError(f"{self.what}: corrupt gzip data ({exc})") from None
            if not self.decomp.eof:
                return
            data = self.decomp.unused_data
            self.decomp = self.new_decomp(16 + zlib.MAX_WBITS)
            self.in_member = False
            if not data.strip(b"\x00"):
                return
            self.in_member = True


class ZstdStream(RawStream):
    def __init__(self, inner: BinaryIO, what: str):
        import zstandard  # only zstd layers need it

        self.what = what
        self.reader = zstandard.ZstdDecompressor().stream_reader(inner, read_across_frames=True,
                                                                  read_size=256 * 1024)
        self.error = zstandard.ZstdError

    def _read(self, size: int) -> bytes:
        try:
            return self.reader.read(size)
        except self.error as exc:
            raise ImagelintError(f"{self.what}: corrupt or truncated zstd data ({exc})") from None

    def close(self) -> None:
        self.reader.close()
        super().close()


class BudgetStream(RawStream):
    """Counts decompressed bytes against the image-wide total and the layer's expansion ratio."""

    def __init__(self, inner: BinaryIO, compressed: CountingStream | None, limits: Limits, budget: "Budget",
                 what: str, on_bytes: Callable[[int], None] | None = None):
        self.inner, self.compressed, self.limits, self.budget, self.what = inner, compressed, limits, budget, what
        self.on_bytes = on_bytes
        self.count = 0

    def _read(self, size: int) -> bytes:
        data = self.inner.read(size)
        if data:
            self.count += len(data)
            self.budget.spend(len(data), self.what)
            if self.compressed is not None and self.count > self.limits.ratio_floor_bytes:
                ratio = self.count / max(self.compressed.count, 1)
                if ratio > self.limits.max_expansion_ratio:
                    raise ImagelintError(
                        f"{self.what}: decompression bomb: expands more than "
                        f"{self.limits.max_expansion_ratio:g}x ({self.count} bytes from {self.compressed.count}); "
                        "raise the expansion-ratio limit if this image is trusted")
            if self.on_bytes:
                self.on_bytes(len(data))
        return data


class Budget:
    """Uncompressed bytes shared by all layers of an image (thread-safe)."""

    def __init__(self, limits: Limits):
        self.limits, self.used = limits, 0
        self.lock = threading.Lock()

    def spend(self, amount: int, what: str) -> None:
        with self.lock:
            self.used += amount
            over = self.used > self.limits.max_total_bytes
        if over:
            raise ImagelintError(
                f"{what}: decompression bomb: the image expands beyond {self.limits.max_total_bytes} bytes; "
                "raise the total-size limit if this image is trusted")


def decompressed(raw: BinaryIO, limits: Limits, budget: Budget, what: str,
                 on_bytes: Callable[[int], None] | None = None,
                 on_raw_bytes: Callable[[int], None] | None = None) -> BinaryIO:
    """The uncompressed layer tar from a stored blob, whatever its compression (sniffed, not trusted)."""
    counted = CountingStream(raw, on_raw_bytes)
    peek = PeekStream(counted)
    kind = detect_compression(peek.peek(4))
    if kind == "gzip":
        inner: BinaryIO = GzipStream(peek, what)
    elif kind == "zstd":
        inner = ZstdStream(peek, what)
    else:
        return BudgetStream(peek, None, limits, budget, what, on_bytes)
    return BudgetStream(inner, counted, limits, budget, what, on_bytes)


class ForwardReader:
    """A forward-only stream that looks seekable to tarfile's "r:" mode.

    tarfile's own stream mode ("r|") copies its whole buffer on every header read; its random-access
    mode only ever seeks forward (plus one byte back, to check for truncation), which this supports
    by discarding skipped bytes and keeping a short tail of the previous chunk.
    """

    LOOKBACK = 4096
    SKIP_READ = 64 * 1024

    def __init__(self, inner: BinaryIO, chunk_size: int = CHUNK):
        self.inner, self.chunk_size = inner, chunk_size
        # The current chunk, and the last bytes before it (kept apart: joining them would copy every chunk).
        self.buf = b""
        self.buf_start = 0
        self.tail = b""
        self.pos = 0
        self.eof = False

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence == 1:
            offset += self.pos
        elif whence != 0:
            raise OSError("cannot seek relative to the end of a stream")
        if offset < self.buf_start - len(self.tail):
            raise OSError("cannot seek backwards in a stream")
        self.pos = offset
        return offset

    def _fill(self) -> bool:
        skip_to = getattr(self.inner, "skip_to", None)
        target = self.pos - self.LOOKBACK  # tarfile steps back one byte to check a skipped member was there
        if skip_to is not None and target > self.buf_start + len(self.buf):
            skip_to(target)  # nobody reads the bytes between: do not copy them
            self.buf, self.buf_start, self.tail = b"", target, b""
            chunk = self.inner.read(self.SKIP_READ)  # likely another skip soon: read less
        else:
            chunk = self.inner.read(self.chunk_size)
        if not chunk:
            self.eof = True
            return False
        end = self.buf_start + len(self.buf)
        self.tail = self.buf[-self.LOOKBACK:] if len(self.buf) >= self.LOOKBACK else (self.tail + self.buf)[-self.LOOKBACK:]
        self.buf = chunk
        self.buf_start = end
        return True

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = 1 << 62
        parts = []
        while size > 0:
            start = self.pos - self.buf_start
            if 0 <= start < len(self.buf):
                piece = self.buf[start:start + size]
            elif -len(self.tail) <= start < 0:  # a step back into the previous chunk
                piece = self.tail[len(self.tail) + start:][:min(size, -start)]
            elif self.eof or not self._fill():
                break
            else:
                continue
            parts.append(piece)
            self.pos += len(piece)
            size -= len(piece)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if close:
            close()
