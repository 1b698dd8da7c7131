"""Flatten an image's layers into a read-only file tree, streaming every layer exactly once.

Each layer is read as a tar stream (gzip/zstd/none sniffed by magic bytes, capped against
decompression bombs) into a `LayerRecord`: every entry's metadata, its whiteouts, and the
contents of only the files the checks need (`keep`). Records are then merged base-up:
opaque directories and `.wh.` whiteouts remove what lower layers added, a non-directory
replaces a directory's whole subtree, and paths under a symlinked directory land where the
link points (as the engine's unpacker does). Nothing is written to disk.

Choices (tested): a tar entry with an absolute path or a `..` component is an error naming
the layer; a hardlink whose target exists in neither its layer nor below is an error too
(the engine refuses to load such a layer); symlink loops and dangling links resolve to None.
"""
from __future__ import annotations

import posixpath
import tarfile
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Callable, Iterator

from ..findings import ImagelintError
from .fs import FileInfo, norm
from .limits import DEFAULT_LIMITS, KIB, MIB, Limits
from .source import Image, Layer
from .streams import Budget, ForwardReader

KeepPredicate = Callable[[str, int], bool]
ProgressCallback = Callable[[int, str, int], None]  # (layer index, "stored" | "uncompressed", bytes)

SMALL_FILE = 64 * KIB
SNIFF_BYTES = 1024
SNIFF_MAX_SIZE = 1 * MIB
MAX_SYMLINK_HOPS = 40
WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"

# Directories whose every file matters: OS trust stores, anchors and their generated output.
TRUST_PREFIXES = (
    "/etc/ssl/", "/etc/pki/", "/usr/local/share/ca-certificates/", "/usr/share/ca-certificates/",
    "/etc/ca-certificates", "/var/lib/ca-certificates/", "/usr/share/pki/", "/etc/ca-certificates.conf",
    "/usr/lib/ssl/", "/etc/default/cacerts",
)
SYSTEM_FILES = frozenset({
    "/etc/os-release", "/usr/lib/os-release", "/etc/alpine-release", "/etc/debian_version", "/etc/lsb-release",
    "/etc/redhat-release", "/etc/system-release", "/etc/centos-release", "/etc/SuSE-release",
    "/etc/passwd", "/etc/group",  # to map the image's USER name to a uid
})
# Trust material by name, kept wherever it is (bounded by the per-file limit).
TRUST_NAMES = frozenset({"cacerts", "jssecacerts", "cacert.pem", "ca-bundle.crt", "ca-certificates.crt",
                         "tls-ca-bundle.pem", "ca-bundle.pem", "java.security"})
KEY_SUFFIXES = (".pem", ".key", ".crt", ".cer", ".der", ".p12", ".pfx", ".jks", ".keystore", ".truststore",
                ".p8", ".pk8", ".ppk", ".pkcs12", ".bks", ".csr", ".p7b", ".p7c")
KEY_NAMES = frozenset({"id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "id_ecdsa_sk", "id_ed25519_sk", "identity",
                       "server.key", "tls.key", "privkey", "private.key"})
PRIVATE_KEY_MARKERS = (b"PRIVATE KEY-----", b"PuTTY-User-Key-File")
EMBEDDED_CERT_BINARIES = frozenset({"node", "nodejs"})


def default_keep(path: str, size: int) -> bool:
    """Which file contents the checks need in memory; everything else is metadata only."""
    if path in SYSTEM_FILES or path.startswith(TRUST_PREFIXES):
        return True
    base = posixpath.basename(path)
    if base in TRUST_NAMES:
        return True
    if base == "release" and size < SMALL_FILE:  # JVM release files: JAVA_VERSION, IMPLEMENTOR
        return True
    if size < SMALL_FILE and (base in KEY_NAMES or base.lower().endswith(KEY_SUFFIXES)):
        return True
    return False


def default_embedded(path: str, size: int, mode: int) -> bool:
    """Executables whose root store is compiled in: only their PEM blocks are kept."""
    return posixpath.basename(path) in EMBEDDED_CERT_BINARIES and bool(mode & 0o111) and size > 0


def looks_like_private_key(head: bytes) -> bool:
    return any(marker in head for marker in PRIVATE_KEY_MARKERS)


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
        reader.seek(offset)
    member = tar.next()
    tar.members.clear()  # tarfile would otherwise keep every TarInfo of the layer
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

    def may_keep(self, size: int) -> bool:
        with self.lock:
            if size > self.limits.max_kept_file_bytes or self.kept_bytes + size > self.limits.max_kept_total_bytes:
                return False
            self.kept_bytes += size
            return True


def read_layer(layer: Layer, keep: KeepPredicate = default_keep, limits: Limits = DEFAULT_LIMITS,
               shared: _Shared | None = None, progress: ProgressCallback | None = None,
               embedded: Callable[[str, int, int], bool] = default_embedded) -> LayerRecord:
    """Stream one layer to its end (so its digests get verified) and record what it holds."""
    from ..certs.embedded import pem_blocks_in_stream

    shared = shared or _Shared(limits)
    record = LayerRecord(index=layer.index, diff_id=layer.diff_id, digest=layer.digest)
    name = layer.name
    on_plain = (lambda n: progress(layer.index, "uncompressed", n)) if progress else None
    on_raw = (lambda n: progress(layer.index, "stored", n)) if progress else None
    stream = layer.open(limits, shared.budget, on_plain, on_raw)
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
            base = posixpath.basename(path)
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
            if kind != "file":
                continue
            if member.size == 0:
                if keep(path, 0):
                    record.kept[path] = b""
                continue
            if keep(path, member.size):
                if shared.may_keep(member.size):
                    record.kept[path] = _read_member(tar, reader, member, name, member.size)
                else:
                    record.notes.append(f"{path}: too large to keep in memory ({member.size} bytes)")
            elif embedded(path, member.size, member.mode):
                if member.issparse():
                    fileobj = tar.extractfile(member)
                    assert fileobj is not None
                else:
                    fileobj = _Slice(reader, member.offset_data, member.size)
                record.embedded[path] = pem_blocks_in_stream(fileobj)
            elif member.size <= SNIFF_MAX_SIZE:
                head = _read_member(tar, reader, member, name, SNIFF_BYTES)
                if looks_like_private_key(head) and shared.may_keep(member.size):
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


# --------------------------------------------------------------------------- the merged tree

@dataclass(frozen=True)
class LayerRef:
    index: int
    diff_id: str
    digest: str | None
    created_by: str


class ImageTree:
    """The flattened filesystem of an image (implements imagelint.image.fs.FileTree).

    Every path's metadata is here; contents only for files the keep predicate chose.
    `layer_records` keeps each layer's own view, including files later layers hide.
    """

    def __init__(self, *, reference: str = "", digest: str = "", config: dict | None = None):
        self.reference = reference
        self.digest = digest
        self.config = config or {}
        self.layer_records: list[LayerRecord] = []
        self._infos: dict[str, FileInfo] = {"/": FileInfo("/", "dir", 0o755)}
        self._layer: dict[str, int] = {}
        self._children: dict[str, set[str]] = {"/": set()}
        self._data: dict[str, bytes] = {}
        self._embedded: dict[str, bytes] = {}
        self.notes: list[str] = []

    # ---- FileTree protocol

    def realpath(self, path: str) -> str | None:
        """Resolve links inside the image ('..' stops at '/'); None on a loop, a dangling link or a missing path."""
        parts = deque(norm(path).split("/")[1:])
        resolved = "/"
        hops = 0
        while parts:
            name = parts.popleft()
            if name in ("", "."):
                continue
            if name == "..":
                resolved = posixpath.dirname(resolved)
                continue
            candidate = resolved.rstrip("/") + "/" + name
            info = self._infos.get(candidate)
            if info is None:
                return None
            if info.kind == "symlink":
                hops += 1
                if hops > MAX_SYMLINK_HOPS:
                    return None
                target = info.link_target or ""
                if target.startswith("/"):
                    resolved = "/"
                parts.extendleft(reversed(target.split("/")))
                continue
            if parts and info.kind != "dir":
                return None
            resolved = candidate
        return resolved

    def info(self, path: str, follow: bool = True) -> FileInfo | None:
        wanted = norm(path)
        if follow:
            real = self.realpath(wanted)
        else:
            parent = self.realpath(posixpath.dirname(wanted))
            if parent is None:
                real = None
            else:
                real = posixpath.join(parent, posixpath.basename(wanted)) if wanted != "/" else "/"
        info = self._infos.get(real) if real else None
        if info is None:
            return None
        return info if info.path == wanted else replace(info, path=wanted)

    def read(self, path: str) -> bytes | None:
        real = self.realpath(path)
        return self._data.get(real) if real else None

    def listdir(self, path: str) -> list[str]:
        real = self.realpath(path)
        return sorted(self._children.get(real, ())) if real else []

    def embedded_certificates(self, path: str) -> bytes | None:
        real = self.realpath(path)
        if real is None:
            return None
        if real in self._embedded:
            return self._embedded[real]
        if real in self._data:
            from ..certs.embedded import pem_blocks_in_stream
            import io

            return pem_blocks_in_stream(io.BytesIO(self._data[real]))
        return None

    def walk(self) -> Iterator[FileInfo]:
        for path in sorted(self._infos):
            yield self._infos[path]

    # ---- image specifics

    def exists(self, path: str) -> bool:
        return self.info(path, follow=False) is not None

    def layer_of(self, path: str, follow: bool = False) -> LayerRef | None:
        """The layer that put the visible version of `path` there (links not followed by default)."""
        real = self.realpath(path) if follow else norm(path)
        index = self._layer.get(real) if real else None
        if index is None:
            return None
        record = self.layer_records[index]
        return LayerRef(index, record.diff_id, record.digest, record.created_by)

    def __len__(self) -> int:
        return len(self._infos)

    # ---- building

    def _remove_subtree(self, path: str, record: LayerRecord, keep_root: bool = False) -> None:
        stack = [path]
        while stack:
            current = stack.pop()
            for child in self._children.pop(current, ()):
                stack.append(current.rstrip("/") + "/" + child)
            if current == path and keep_root:
                self._children[path] = set()
                continue
            if current in self._infos and current != "/":
                del self._infos[current]
                self._layer.pop(current, None)
                self._data.pop(current, None)
                self._embedded.pop(current, None)
                record.deleted.add(current)
                self._children.get(posixpath.dirname(current), set()).discard(posixpath.basename(current))

    def _place(self, path: str, record: LayerRecord) -> str:
        """Where an entry lands: its parent made a directory if missing, and followed if a symlink."""
        if path == "/":
            return path
        parent = posixpath.dirname(path)
        info = self._infos.get(parent)
        if info is not None and info.kind == "dir":
            return path
        parent = self._place(parent, record)
        info = self._infos.get(parent)
        if info is not None and info.kind == "symlink":
            real = self.realpath(parent)
            if real is not None and self._infos[real].kind == "dir":
                return posixpath.join(real, posixpath.basename(path))
        if info is None or info.kind != "dir":
            if info is not None:
                self._remove_subtree(parent, record)
            self._set(FileInfo(parent, "dir", 0o755), record.index)
        return posixpath.join(parent, posixpath.basename(path))

    def _set(self, info: FileInfo, layer_index: int) -> None:
        path = info.path
        self._infos[path] = info
        self._layer[path] = layer_index
        if info.kind == "dir":
            self._children.setdefault(path, set())
        if path != "/":
            # Paths here are normalised ("/a/b"): the split is posixpath's dirname/basename, cheaper.
            parent, _, base = path.rpartition("/")
            self._children.setdefault(parent or "/", set()).add(base)

    def apply(self, record: LayerRecord) -> None:
        """Merge one layer on top of the tree (layers must be applied base first)."""
        record.index = len(self.layer_records)
        self.layer_records.append(record)
        # Deletions only hide what lower layers hold, so they go first.
        for directory in record.opaque_dirs:
            real = self.realpath(directory)
            if real is not None and self._infos[real].kind == "dir":
                self._remove_subtree(real, record, keep_root=True)
        for path in record.whiteouts:
            parent = self.realpath(posixpath.dirname(path))
            if parent is None:
                continue
            target = posixpath.join(parent, posixpath.basename(path))
            if target in self._infos:
                self._remove_subtree(target, record)
        # Hardlinks are regular files sharing their target's metadata and contents.
        for link, target in record.hardlinks.items():
            source = record.added.get(target) or self._infos.get(target)
            if source is None or source.kind == "dir":
                raise ImagelintError(f"{record.name}: hardlink {link} points at {target}, which is not in the image")
            record.added[link] = replace(source, path=link)
            data = record.kept.get(target, self._data.get(target))
            if data is not None:
                record.kept[link] = data
            elif default_keep(link, source.size):
                record.notes.append(f"{link}: hardlink to {target}, whose contents were not kept")
        relocated: dict[str, FileInfo] = {}
        for path, info in record.added.items():
            placed = self._place(path, record)
            if placed != path:  # written through a symlinked directory
                info = replace(info, path=placed)
                for contents in (record.kept, record.embedded):
                    if path in contents:
                        contents[placed] = contents.pop(path)
            relocated[placed] = info
            existing = self._infos.get(placed)
            if existing is not None and not (existing.kind == "dir" and info.kind == "dir"):
                if existing.kind == "dir":
                    self._remove_subtree(placed, record)
                self._data.pop(placed, None)
                self._embedded.pop(placed, None)
            if placed == "/":
                self._infos["/"] = replace(info, kind="dir")
                self._layer["/"] = record.index
                continue
            self._set(info, record.index)
            if placed in record.kept:
                self._data[placed] = record.kept[placed]
            if placed in record.embedded:
                self._embedded[placed] = record.embedded[placed]
        record.added = relocated
        # "deleted" means removed from below, not replaced by this very layer.
        record.deleted -= {p for p in record.deleted if self._layer.get(p) == record.index}
        self.notes.extend(f"{record.name}: {note}" for note in record.notes)

    def finish(self) -> "ImageTree":
        """After the last layer: which paths each layer ships that the final image hides."""
        for record in self.layer_records:
            record.hidden = {path for path in record.added if self._layer.get(path) != record.index}
        return self


def _created_by(config: dict) -> list[str]:
    """history[].created_by of the entries that made a layer (empty_layer ones made none)."""
    return [str(h.get("created_by") or "") for h in config.get("history") or [] if not h.get("empty_layer")]


def read_image_tree(image: Image, *, keep: KeepPredicate = default_keep, limits: Limits = DEFAULT_LIMITS,
                    workers: int | None = None, progress: ProgressCallback | None = None) -> ImageTree:
    """Read every layer once (several at a time) and merge them base first into an ImageTree."""
    tree = ImageTree(reference=image.reference, digest=image.digest, config=image.config)
    created_by = _created_by(image.config)
    shared = _Shared(limits)
    workers = max(1, workers or getattr(image, "concurrency", 2))
    if not image.layers:
        return tree.finish()
    pool = ThreadPoolExecutor(max_workers=min(workers, len(image.layers)), thread_name_prefix="imagelint-layer")
    try:
        futures = [pool.submit(read_layer, layer, keep, limits, shared, progress) for layer in image.layers]
        for layer, future in zip(image.layers, futures):
            record = future.result()
            record.created_by = created_by[layer.index] if layer.index < len(created_by) else ""
            tree.apply(record)
    except BaseException:
        shared.cancelled.set()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return tree.finish()
