"""An image's flattened filesystem: its layer records merged base first into one `FileView`.

Opaque directories and `.wh.` whiteouts remove what lower layers added, a non-directory replaces a
directory's whole subtree, and paths under a symlinked directory land where the link points (as
the engine's unpacker does). A hardlink whose target exists in neither its layer nor below is an
error (the engine refuses such a layer); symlink loops and dangling links resolve to None.
Contents the reader did not keep can still be looked into: the tree re-reads only the layers that
hold the files asked about, once for all of them.
"""
from __future__ import annotations

import io
import posixpath
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

from ..certs.embedded import pem_blocks_in_stream
from ..findings import ImagelintError
from ..records import replace
from ..fs import FileInfo, norm
from .layers import NOTHING, KeepPolicy, LayerRecord, ProgressCallback, _Shared, read_layer
from .limits import DEFAULT_LIMITS, Limits
from .model import Image

if TYPE_CHECKING:
    from .cache import LayerCache

MAX_SYMLINK_HOPS = 40


@dataclass(frozen=True)
class LayerRef:
    index: int
    diff_id: str
    digest: str | None
    created_by: str


class ImageTree:
    """The flattened filesystem of an image (a `FileView`).

    Every path's metadata is here; contents only for files the keep predicate chose.
    `layer_records` keeps each layer's own view, including files later layers hide.
    """

    def __init__(self, *, reference: str = "", digest: str = "", config: dict | None = None,
                 policy: KeepPolicy = NOTHING, reread: Callable[[int, KeepPolicy], LayerRecord] | None = None):
        self.reference = reference
        self.policy = policy
        # Reads one layer again with another policy, for files the first pass did not keep.
        self._reread = reread
        self.digest = digest
        self.config = config or {}
        self.layer_records: list[LayerRecord] = []
        self._infos: dict[str, FileInfo] = {"/": FileInfo("/", "dir", 0o755)}
        self._layer: dict[str, int] = {}
        self._children: dict[str, set[str]] = {"/": set()}
        self._data: dict[str, bytes] = {}
        self._embedded: dict[str, bytes] = {}
        self.notes: list[str] = []

    # ---- FileView protocol

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
            return pem_blocks_in_stream(io.BytesIO(self._data[real]))
        index = self._layer.get(real)
        if index is None or self._reread is None:
            return None
        record = self._reread(index, KeepPolicy(embedded=lambda p, s, m: p == real))
        self._embedded[real] = record.embedded.get(real, b"")
        return self._embedded[real]

    def files_containing(self, paths: Iterable[str], marker: bytes) -> set[str]:
        """Which regular files contain `marker`: from what the first pass noted, else by reading
        again only the layers that hold the rest (each once)."""
        found: set[str] = set()
        pending: dict[int, dict[str, str]] = {}  # layer -> {real path: path asked about}
        for path in paths:
            real = self.realpath(path)
            index = self._layer.get(real) if real else None
            if real is None or index is None or self._infos[real].kind != "file":
                continue
            record = self.layer_records[index]
            if real in self._data:
                if marker in self._data[real]:
                    found.add(path)
            elif real in record.searched.get(marker, ()):
                if real in record.found.get(marker, ()):
                    found.add(path)
            else:
                pending.setdefault(index, {})[real] = path
        if self._reread is not None:
            for index, asked in sorted(pending.items()):
                record = self._reread(index, KeepPolicy(markers=((marker, lambda p, s, m, r=asked: p in r),)))
                found.update(asked[real] for real in record.found.get(marker, ()) if real in asked)
        return found

    def fetch(self, paths: Iterable[str]) -> None:
        """Make regular files the first pass did not keep readable: reread only the layers that
        hold them, each once for all (server certificates and includes named by a config)."""
        pending: dict[int, set[str]] = {}
        for path in paths:
            real = self.realpath(path)
            index = self._layer.get(real) if real else None
            if real is None or index is None or real in self._data or self._infos[real].kind != "file":
                continue
            pending.setdefault(index, set()).add(real)
        if self._reread is None:
            return
        for index, wanted in sorted(pending.items()):
            record = self._reread(index, KeepPolicy(keep=lambda p, s, w=wanted: p in w))
            for real in wanted:
                if real in record.kept:
                    self._data[real] = record.kept[real]

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
        """Where an entry lands: its parents made directories if missing, and followed if symlinks.
        A loop, not recursion: a path may be thousands of directories deep."""
        missing = []  # the path and its ancestors whose parent is not yet a directory, deepest first
        current = path
        while current != "/":
            parent = posixpath.dirname(current)
            info = self._infos.get(parent)
            if info is not None and info.kind == "dir":
                break
            missing.append(current)
            current = parent
        placed = current
        for child in reversed(missing):
            parent = placed
            info = self._infos.get(parent)
            if info is not None and info.kind == "symlink":
                real = self.realpath(parent)
                if real is not None and self._infos[real].kind == "dir":
                    placed = posixpath.join(real, posixpath.basename(child))
                    continue
            if info is None or info.kind != "dir":
                if info is not None:
                    self._remove_subtree(parent, record)
                self._set(FileInfo(parent, "dir", 0o755), record.index)
            placed = posixpath.join(parent, posixpath.basename(child))
        return placed

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
            elif self.policy.keep(link, source.size):
                record.notes.append(f"{link}: hardlink to {target}, whose contents were not kept")
        relocated: dict[str, FileInfo] = {}
        infos = self._infos
        for path, info in record.added.items():
            # _place's common case inline (the parent is a directory already): most of a merge.
            parent_info = infos.get(path.rpartition("/")[0] or "/")
            placed = path if parent_info is not None and parent_info.kind == "dir" else self._place(path, record)
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


def _hash_to_end(layer, limits: Limits, shared: _Shared) -> None:
    """Read a layer's blob to its end: its digests are checked there (ImagelintError if they differ)."""
    stream = layer.open(limits, shared.budget)
    try:
        while stream.read(1 << 20):
            if shared.cancelled.is_set():
                raise ImagelintError(f"{layer.name}: cancelled")
    finally:
        stream.close()


def read_image_tree(image: Image, policy: KeepPolicy = NOTHING, *, limits: Limits = DEFAULT_LIMITS,
                    workers: int | None = None, progress: ProgressCallback | None = None,
                    cache: "LayerCache | None" = None) -> ImageTree:
    """Read every layer once (several at a time) and merge them base first into an ImageTree.
    With a cache, a layer already read under this policy is taken from it and not read at all."""

    def reread(index: int, again: KeepPolicy) -> LayerRecord:
        return read_layer(image.layers[index], again, limits)

    tree = ImageTree(reference=image.reference, digest=image.digest, config=image.config, policy=policy,
                     reread=reread)
    created_by = _created_by(image.config)
    shared = _Shared(limits)
    workers = max(1, workers or getattr(image, "concurrency", 2))
    if not image.layers:
        return tree.finish()
    def read(layer) -> LayerRecord:
        key = cache.key(layer, policy) if cache is not None else None
        if not key:
            return read_layer(layer, policy, limits, shared, progress)
        record = cache.load(key, layer, count=False)
        if record is None:
            with cache.claim(key):  # another process may be reading this very layer: wait for it
                record = cache.load(key, layer)
                if record is None:
                    before = cache.file_state(layer)
                    record = read_layer(layer, policy, limits, shared, progress)
                    cache.store(key, record)  # only a layer read to its end, digests verified, is stored
                    cache.remember(layer, before)
                    return record
        if not cache.identity_known(layer):
            # Keyed by the diff ID the config declares: the archive must still hold that blob.
            before = cache.file_state(layer)
            _hash_to_end(layer, limits, shared)
            cache.hashed += 1
            cache.remember(layer, before)
        shared.count_cached(record)
        return record

    if len(image.layers) == 1:  # nothing to overlap: no pool (concurrent.futures costs ~10 ms to import)
        layer = image.layers[0]
        record = read(layer)
        record.created_by = created_by[0] if created_by else ""
        tree.apply(record)
        return tree.finish()
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=min(workers, len(image.layers)), thread_name_prefix="imagelint-layer")
    try:
        futures = [pool.submit(read, layer) for layer in image.layers]
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
