"""Read one layer's tar stream to its end (so its digests are verified) into a `LayerRecord`.

The stream is gzip, zstd or plain (sniffed by magic bytes, capped against decompression bombs).
The record holds every entry's metadata and whiteouts, and only the contents a `KeepPolicy`
asks for. Nothing is written to disk. A tar entry with an absolute path or a `..` component is
an error naming the layer (it would write outside the root).
"""
from __future__ import annotations

import posixpath
import tarfile
import threading
from dataclasses import dataclass, field
from typing import Callable

from ..findings import ImagelintError
from ..fs import FileInfo, norm
from ..certs.embedded import pem_blocks_in_stream
from .limits import DEFAULT_LIMITS, MIB, Limits
from .model import Layer
from .streams import Budget, ForwardReader

ProgressCallback = Callable[[int, str, int], None]  # (layer index, "stored" | "uncompressed", bytes)

SNIFF_BYTES = 1024
SNIFF_MAX_SIZE = 1 * MIB
WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"

@dataclass(frozen=True)
class KeepPolicy:
    """What the reader keeps of a layer's files besides their metadata. The caller decides (the
    trust model knows which files it reads); by default nothing is kept.

    keep(path, size): keep the whole file.
    embedded(path, size, mode): keep only the PEM certificate blocks found inside (node's roots).
    markers: (marker, predicate(path, size, mode)): note whether such files contain the marker,
        while the bytes stream past (Go build info in executables), without keeping them.
    sniff(head): keep a file of at most SNIFF_MAX_SIZE bytes whose first SNIFF_BYTES this accepts.
    cache_key: names this policy's behaviour for the layer cache; None: records are not cached.
    """

    keep: Callable[[str, int], bool] = lambda path, size: False
    embedded: Callable[[str, int, int], bool] = lambda path, size, mode: False
    markers: tuple[tuple[bytes, Callable[[str, int, int], bool]], ...] = ()
    sniff: Callable[[bytes], bool] | None = None
    cache_key: str | None = None


NOTHING = KeepPolicy()


# --------------------------------------------------------------------------- one layer

@dataclass
class LayerRecord:
    """What one layer ships, whether or not the final image shows it."""

    index: int
    diff_id: str
    digest: str | None
    created_by: str = ""
    # Every entry of the layer (last one wins within the layer), hardlinks as regular files.
    added: dict[str, FileInfo] = field(default_factory=dict)
    whiteouts: list[str] = field(default_factory=list)
    opaque_dirs: list[str] = field(default_factory=list)
    # Contents kept from this layer, and PEM blocks extracted from embedded-store binaries.
    kept: dict[str, bytes] = field(default_factory=dict)
    embedded: dict[str, bytes] = field(default_factory=dict)
    # marker -> the files looked into for it while streaming, and those that contain it.
    searched: dict[bytes, set[str]] = field(default_factory=dict)
    found: dict[bytes, set[str]] = field(default_factory=dict)
    hardlinks: dict[str, str] = field(default_factory=dict)  # link path -> target path
    # Filled by the merge: lower-layer paths this layer removed, and paths of this layer that the
    # final image no longer shows (deleted or overwritten later) although the blob still ships them.
    deleted: set[str] = field(default_factory=set)
    hidden: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    uncompressed_size: int = 0

    @property
    def name(self) -> str:
        short = (self.digest or self.diff_id).split(":")[-1][:12]
        return f"layer {self.index} (sha256:{short})"

    def read(self, path: str) -> bytes | None:
        return self.kept.get(norm(path))


def entry_path(name: str, layer_name: str) -> str:
    """A tar entry name as an absolute image path; './etc', 'etc' and '/' roots are all fine,
    absolute paths and '..' components are refused (they would write outside the root)."""
    plain = "/" + (name[2:] if name.startswith("./") else name)
    if "//" not in plain and "/." not in plain and not plain.endswith("/"):
        return plain  # the usual 'etc/ssl' or './etc/ssl': nothing to normalise or refuse
    if name.startswith("/"):
        if name.strip("/") in ("", "."):
            return "/"
        raise ImagelintError(f"{layer_name}: tar entry {name!r} has an absolute path; refusing the image")
    parts = []
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            raise ImagelintError(f"{layer_name}: tar entry {name!r} escapes the image root with '..'; "
                                 "refusing the image")
        parts.append(part)
    return "/" + "/".join(parts)


class _Header:
    """A plain ustar header parsed without tarfile (the common case): the attributes and
    predicates of tarfile.TarInfo that read_layer uses."""

    __slots__ = ("name", "linkname", "mode", "uid", "gid", "size", "type", "offset_data")

    def isdir(self) -> bool:
        return self.type == tarfile.DIRTYPE

    def issym(self) -> bool:
        return self.type == tarfile.SYMTYPE

    def islnk(self) -> bool:
        return self.type == tarfile.LNKTYPE

    def isreg(self) -> bool:
        return self.type in (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE)

    def issparse(self) -> bool:
        return False


_FAST_TYPES = frozenset(b"0\x00725")  # regular, old regular, contiguous, symlink, hardlink, directory
_MAGICS = (b"ustar\x0000", b"ustar  \x00")
_NO_CHECKSUM = b" " * 8


def _octal(field: bytes) -> int:
    """tarfile's nti() for octal fields; base-256 and garbage raise ValueError (tarfile decides then)."""
    if field[-1] in (0, 32) and field[:-1].isdigit():  # the usual "0000644\0": digits and a terminator
        return int(field[:-1], 8)
    end = field.find(b"\x00")
    text = (field if end < 0 else field[:end]).strip()
    if not text:
        return 0
    if not text.isdigit():
        raise ValueError(field)
    return int(text, 8)


def _fast_header(block: bytes, offset: int, encoding: str) -> _Header | None:
    """Parse a plain ustar/GNU header block exactly as tarfile would, or None for anything else
    (pax and GNU long-name records, sparse files, devices, base-256 numbers, a bad checksum,
    end-of-archive zeros, truncation, a ustar prefix): tarfile itself reads those."""
    if len(block) != tarfile.BLOCKSIZE or block[156] not in _FAST_TYPES or block[257:265] not in _MAGICS:
        return None
    if block[345:500].strip(b"\x00"):  # ustar prefix (or GNU atime/ctime): rare, tarfile rebuilds the name
        return None
    try:
        checksum = _octal(block[148:156])
        # Unsigned sum with the checksum field as spaces; tarfile also accepts a signed sum (delegated).
        if checksum != sum(block) - sum(block[148:156]) + sum(_NO_CHECKSUM):
            return None
        header = _Header()
        header.mode = _octal(block[100:108])
        header.uid = _octal(block[108:116])
        header.gid = _octal(block[116:124])
        header.size = _octal(block[124:136])
    except ValueError:
        return None
    name = block[0:100]
    end = name.find(b"\x00")
    header.name = (name if end < 0 else name[:end]).decode(encoding, "surrogateescape")
    link = block[157:257]
    end = link.find(b"\x00")
    header.linkname = (link if end < 0 else link[:end]).decode(encoding, "surrogateescape")
    kind = bytes(block[156:157])
    if kind == tarfile.AREGTYPE and header.name.endswith("/"):  # old V7 directories
        kind = tarfile.DIRTYPE
    if kind == tarfile.DIRTYPE:
        header.name = header.name.rstrip("/")
    header.type = kind
    header.offset_data = offset + tarfile.BLOCKSIZE
    return header


def _next_member(tar: tarfile.TarFile, reader: ForwardReader) -> "tarfile.TarInfo | _Header | None":
    """The next tar entry: plain headers parsed here (tarfile's header parsing was most of a layer's
    CPU time), everything else by tarfile from the same offset, so both agree on every byte."""
    if tar.firstmember is None and not tar.pax_headers:  # global pax headers apply to all later members
        offset = tar.offset
        reader.seek(offset)
        header = _fast_header(reader.read(tarfile.BLOCKSIZE), offset, tar.encoding)
        if header is not None:
            # tarfile skips data only after regular files (and unknown types); mirror it exactly.
            data = -(-header.size // tarfile.BLOCKSIZE) * tarfile.BLOCKSIZE if header.isreg() else 0
            tar.offset = header.offset_data + data
            return header
    pending_first = tar.firstmember is not None  # tarfile hands it out without reading
    offset = tar.offset
    if offset > 0 and not pending_first:
        # tarfile checks that the member data it skipped was there only when its file position
        # lags behind; ours often does not. A layer cut inside a member nothing reads (not kept,
        # not searched) is as truncated as one cut inside a kept member.
        reader.seek(offset - 1)
        if not reader.read(1):
            raise tarfile.ReadError("unexpected end of data")
    member = tar.next()
    tar.members.clear()  # tarfile would otherwise keep every TarInfo of the layer
    if member is None and not pending_first:
        # tarfile takes a header cut short for the end of the archive; Go's archive/tar (the
        # engine's) says unexpected EOF. So do we.
        reader.seek(offset)
        block = reader.read(tarfile.BLOCKSIZE)
        if 0 < len(block) < tarfile.BLOCKSIZE:
            raise tarfile.ReadError("unexpected end of data in a tar header")
    return member


class _Slice:
    """`size` bytes of the layer stream from `start`: a plain member's body, read forward."""

    def __init__(self, reader: ForwardReader, start: int, size: int):
        self.reader, self.pos, self.end = reader, start, start + size

    def read(self, size: int = -1) -> bytes:
        left = self.end - self.pos
        size = left if size is None or size < 0 else min(size, left)
        if size <= 0:
            return b""
        self.reader.seek(self.pos)
        data = self.reader.read(size)
        if not data:
            raise tarfile.ReadError("unexpected end of data")
        self.pos += len(data)
        return data


def _kind(member: "tarfile.TarInfo | _Header") -> str:
    if member.isdir():
        return "dir"
    if member.issym():
        return "symlink"
    if member.isreg():
        return "file"
    return "other"


class _Shared:
    """State shared by the layer readers of one image: budgets and cancellation."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.budget = Budget(limits)
        self.lock = threading.Lock()
        self.entries = 0
        self.kept_bytes = 0
        self.cancelled = threading.Event()

    def count_entry(self, layer_name: str) -> None:
        with self.lock:
            self.entries += 1
            over = self.entries > self.limits.max_entries
        if over:
            raise ImagelintError(f"{layer_name}: more than {self.limits.max_entries} files in the image")

    def count_cached(self, record: "LayerRecord") -> None:
        """A record from the cache counts against the image's budgets as if it had been read."""
        with self.lock:
            self.entries += len(record.added)
            self.kept_bytes += sum(len(d) for d in record.kept.values())
            entries, kept = self.entries, self.kept_bytes
        if entries > self.limits.max_entries:
            raise ImagelintError(f"{record.name}: more than {self.limits.max_entries} files in the image")
        if kept > self.limits.max_kept_total_bytes:
            raise ImagelintError(f"{record.name}: more than {self.limits.max_kept_total_bytes} bytes of kept files")

    def may_keep(self, size: int) -> bool:
        with self.lock:
            if size > self.limits.max_kept_file_bytes or self.kept_bytes + size > self.limits.max_kept_total_bytes:
                return False
            self.kept_bytes += size
            return True


def read_layer(layer: Layer, policy: KeepPolicy = NOTHING, limits: Limits = DEFAULT_LIMITS,
               shared: _Shared | None = None, progress: ProgressCallback | None = None) -> LayerRecord:
    """Stream one layer to its end (so its digests get verified) and record what it holds."""
    shared = shared or _Shared(limits)
    record = LayerRecord(index=layer.index, diff_id=layer.diff_id, digest=layer.digest)
    name = layer.name
    on_plain = (lambda n: progress(layer.index, "uncompressed", n)) if progress else None
    on_raw = (lambda n: progress(layer.index, "stored", n)) if progress else None
    # An uncompressed blob in a local file is read in place, skipping what nobody reads.
    raw = layer.opener()
    try:
        stream = layer.open_in_place(raw, shared.budget, on_plain, on_raw) or layer.open(
            limits, shared.budget, on_plain, on_raw, raw=raw)
    except BaseException:
        raw.close()
        raise
    reader = ForwardReader(stream)
    try:
        try:
            tar = tarfile.open(fileobj=reader, mode="r:")
        except tarfile.ReadError as exc:
            if "empty file" not in str(exc):
                raise
            tar = None  # an empty layer blob: no entries at all
        while tar is not None:
            member = _next_member(tar, reader)
            if member is None:
                break
            if shared.cancelled.is_set():
                raise ImagelintError(f"{name}: cancelled")
            shared.count_entry(name)
            path = entry_path(member.name, name)
            base = path.rpartition("/")[2]  # posixpath.basename of a normalised path
            if base.startswith(WHITEOUT):
                parent = posixpath.dirname(path)
                if base == OPAQUE:
                    record.opaque_dirs.append(parent)
                elif not base.startswith(WHITEOUT + WHITEOUT):  # .wh..wh.* other than opq: aufs metadata
                    record.whiteouts.append(posixpath.join(parent, base[len(WHITEOUT):]))
                continue
            if member.islnk():
                target = entry_path(member.linkname, name)
                record.hardlinks[path] = target
                record.added.pop(path, None)
                continue
            record.hardlinks.pop(path, None)
            kind = _kind(member)
            info = FileInfo(path, kind, member.mode & 0o7777, member.uid, member.gid,
                            member.size if kind == "file" else 0, member.linkname if kind == "symlink" else None)
            record.added[path] = info
            record.kept.pop(path, None)
            record.embedded.pop(path, None)
            for paths in (*record.searched.values(), *record.found.values()):
                paths.discard(path)
            if kind != "file":
                continue
            if member.size == 0:
                if policy.keep(path, 0):
                    record.kept[path] = b""
                continue
            if policy.keep(path, member.size):
                if shared.may_keep(member.size):
                    record.kept[path] = _read_member(tar, reader, member, name, member.size)
                else:
                    record.notes.append(f"{path}: too large to keep in memory ({member.size} bytes)")
            elif policy.embedded(path, member.size, member.mode):
                record.embedded[path] = pem_blocks_in_stream(_member_stream(tar, reader, member))
            elif markers := [m for m, wanted in policy.markers if wanted(path, member.size, member.mode)]:
                for marker in markers:
                    record.searched.setdefault(marker, set()).add(path)
                for marker in stream_contains(_member_stream(tar, reader, member), markers):
                    record.found.setdefault(marker, set()).add(path)
            elif policy.sniff is not None and member.size <= SNIFF_MAX_SIZE:
                head = _read_member(tar, reader, member, name, SNIFF_BYTES)
                if policy.sniff(head) and shared.may_keep(member.size):
                    record.kept[path] = _read_member(tar, reader, member, name, member.size)
        # Read past the end-of-archive marker: the digests are only checked at end of stream,
        # and anything but zero padding there is a tar our reader and the engine's would disagree on.
        while chunk := reader.read(1 << 20):
            if chunk.strip(b"\x00"):
                raise ImagelintError(f"{name}: corrupt tar (data after the end-of-archive marker)")
    except ImagelintError:
        raise
    except (tarfile.TarError, EOFError, OSError, ValueError, UnicodeDecodeError) as exc:
        raise ImagelintError(f"{name}: truncated or corrupt layer tar ({exc})") from None
    finally:
        stream.close()
    record.uncompressed_size = getattr(stream, "count", 0)
    return record


def _read_member(tar: tarfile.TarFile, reader: ForwardReader, member: "tarfile.TarInfo | _Header", layer_name: str,
                 limit: int) -> bytes:
    """The first `limit` bytes of a regular member. Plain members are read straight from the stream
    (tarfile's per-member file objects cost more than the read for small files); sparse ones via tarfile."""
    wanted = min(limit, member.size)
    if member.issparse():
        fileobj = tar.extractfile(member)
        assert fileobj is not None
        data = fileobj.read(wanted)
    else:
        reader.seek(member.offset_data)
        data = reader.read(wanted)
    if len(data) != wanted:
        raise ImagelintError(f"{layer_name}: truncated layer tar ({member.name} is cut off)")
    return data


def _member_stream(tar: tarfile.TarFile, reader: ForwardReader, member: "tarfile.TarInfo | _Header"):
    if member.issparse():
        fileobj = tar.extractfile(member)
        assert fileobj is not None
        return fileobj
    return _Slice(reader, member.offset_data, member.size)


def stream_contains(stream, markers: list[bytes], chunk_size: int = 1 << 20) -> set[bytes]:
    """Which markers occur in the stream (read in chunks; a marker may straddle two)."""
    found: set[bytes] = set()
    overlap = max(len(m) for m in markers) - 1
    tail = b""
    while len(found) < len(markers) and (chunk := stream.read(chunk_size)):
        window = tail + chunk
        found.update(m for m in markers if m not in found and m in window)
        tail = window[-overlap:] if overlap else b""
    return found
