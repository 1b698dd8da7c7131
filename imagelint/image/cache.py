"""A per-layer cache: what reading a layer under a keep policy found, keyed by the layer's digest.

A layer blob is content-addressed, so its record under one keep policy never changes: a second
scan (and every image sharing a base layer) skips downloading and decompressing it. The key also
holds imagelint's version, the record format and the policy's own key, so a new release or a
changed policy never reads an old record. Entries are written atomically, checked against their
own SHA-256 on every read (a corrupt or tampered entry is ignored and rewritten, never trusted),
and the directory is pruned, least recently used first, to stay under its size bound.

A layer of a classic docker-archive has no digest of its own: its record is keyed by the diff ID
the image config declares, which says nothing about the bytes the archive holds now (an archive
rewritten in place, or a layer tar swapped for another). So before such a record is used the blob
is hashed, unless a stat memo (as git's index does for the work tree) says this very file was
hashed to this diff ID already: the memo's key is the archive's real path, st_dev, st_ino, st_size,
st_mtime_ns and st_ctime_ns, and the member's offset and length. Any write to the file, a rename
over it or a utime() call sets its ctime to the current time, and ctime cannot be set by an
unprivileged process, so a changed archive never matches its old memo and is hashed again. A memo
is only written when the file's ctime was at least RACY_NS older than the stat taken before the
hash (a write in the same clock tick as the stat would not move ctime: git's "racily clean" case).
"""
from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
import time
import zlib
from pathlib import Path

from .. import __version__
from ..fs import FileInfo
from .layers import KeepPolicy, LayerRecord
from .model import Layer

FORMAT = 1
MAGIC = b"imagelint-layer-cache"
DEFAULT_MAX_BYTES = 2 * 1024 ** 3
_KINDS = frozenset({"file", "dir", "symlink", "other"})
MEMO_MAGIC = b"imagelint-stat-memo"
RACY_NS = 2_000_000_000  # coarser than any file system's ctime granularity this runs on

FileState = tuple  # (os.stat facts of the archive and the member's place, when they were taken)


def default_directory() -> Path:
    """$XDG_CACHE_HOME/imagelint/layers, else ~/.cache/imagelint/layers (the XDG base directory spec)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "imagelint" / "layers"


def layer_cache(directory: str | None = None, enabled: bool = True) -> "LayerCache | None":
    """The cache the commands use: on by default, `--cache-dir DIR` moves it, `--no-cache` turns it off."""
    return LayerCache(directory) if enabled else None


class LayerCache:
    def __init__(self, directory: str | os.PathLike | None = None, max_bytes: int = DEFAULT_MAX_BYTES):
        self.directory = Path(directory) if directory else default_directory()
        self.max_bytes = max_bytes
        self.hits = 0
        self.misses = 0
        self.memo_hits = 0  # digest-less layers known by their file's stat memo
        self.hashed = 0  # digest-less layers hashed before their cached record was used

    def key(self, layer: Layer, policy: KeepPolicy) -> str | None:
        identity = layer.digest or layer.diff_id
        if not policy.cache_key or not identity:
            return None
        text = f"{FORMAT}|{__version__}|{policy.cache_key}|{identity}"
        return hashlib.sha256(text.encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / key

    # ---- the stat memo of digest-less archive layers (see the module's docstring)

    @staticmethod
    def needs_identity(layer: Layer) -> bool:
        """Whether a record keyed by this layer may be used only once its blob is known to hash to
        its diff ID: a layer without a digest of its own (a stored name that is a content address)."""
        return not layer.digest

    def file_state(self, layer: Layer) -> FileState | None:
        if layer.location is None or not self.needs_identity(layer):
            return None
        path, offset, length = layer.location
        try:
            st = os.stat(path)
        except OSError:
            return None
        return (path, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, offset, length), time.time_ns()

    @staticmethod
    def _memo_key(state: FileState) -> str:
        facts, _taken = state
        text = f"stat-memo|{FORMAT}|{__version__}|" + "|".join(str(fact) for fact in facts)
        return hashlib.sha256(text.encode()).hexdigest()

    def identity_known(self, layer: Layer) -> bool:
        """True when the layer's blob needs no hashing to be its diff ID: it has a digest of its own,
        or its archive is unchanged since it was hashed to this very diff ID."""
        if not self.needs_identity(layer):
            return True
        state = self.file_state(layer)
        if state is None:
            return False
        path = self._path(self._memo_key(state))
        try:
            data = path.read_bytes()
        except OSError:
            return False
        head, sep, body = data.partition(b"\n")
        if head != MEMO_MAGIC + b" %d " % FORMAT + hashlib.sha256(body).hexdigest().encode() or not sep:
            with _quiet():
                path.unlink()  # corrupt: ignored, rewritten after the next hash
            return False
        if body != layer.diff_id.encode():
            return False
        with _quiet():
            os.utime(path)
        self.memo_hits += 1
        return True

    def remember(self, layer: Layer, before: FileState | None) -> None:
        """After the blob was read to its end and matched its diff ID: note it under the state of its
        file taken before the read, if the file did not change meanwhile and that state is not racy."""
        if before is None:
            return
        after = self.file_state(layer)
        if after is None or after[0] != before[0]:
            return
        ctime_ns, taken_ns = before[0][5], before[1]
        if taken_ns - ctime_ns < RACY_NS:
            return
        body = layer.diff_id.encode()
        self._write(self._memo_key(before), MEMO_MAGIC + b" %d " % FORMAT + hashlib.sha256(body).hexdigest().encode()
                    + b"\n" + body)

    def load(self, key: str, layer: Layer, count: bool = True) -> LayerRecord | None:
        """The record, or None (absent, corrupt: a corrupt entry is removed). `count`: tally it in
        hits/misses (the first, unlocked look of a read is not counted)."""
        path = self._path(key)
        try:
            data = path.read_bytes()
        except OSError:
            record = None
        else:
            record = _decode(data, layer)
            if record is None:
                with _quiet():
                    path.unlink()
        if record is None:
            if count:
                self.misses += 1
            return None
        with _quiet():
            os.utime(path)  # recently used: pruned last
        self.hits += 1
        return record

    @contextlib.contextmanager
    def claim(self, key: str):
        """Hold the key while reading its layer: other processes sharing this cache (the shards of a
        fleet scan) wait, then find the record instead of reading the layer a second time."""
        lock = None
        with _quiet():
            self._path(key).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            lock = open(self.directory / key[:2] / f".{key}.lock", "wb")
            fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            if lock is not None:
                with _quiet():
                    fcntl.flock(lock, fcntl.LOCK_UN)
                lock.close()

    def store(self, key: str, record: LayerRecord) -> None:
        """Best effort: a cache that cannot be written only costs time."""
        self._write(key, _encode(record))

    def _write(self, key: str, data: bytes) -> None:
        path = self._path(key)
        with _quiet():
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, temp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                os.replace(temp, path)
            except BaseException:
                with _quiet():
                    os.unlink(temp)
                raise
            self.prune()

    def prune(self) -> None:
        entries = []
        total = 0
        for sub in self.directory.glob("??"):
            for entry in sub.iterdir():
                if entry.name.startswith("."):
                    continue  # locks and temporary files
                with _quiet():
                    st = entry.stat()
                    entries.append((st.st_mtime, st.st_size, entry))
                    total += st.st_size
        if total <= self.max_bytes:
            return
        for _mtime, size, entry in sorted(entries):
            with _quiet():
                entry.unlink()
                total -= size
            if total <= self.max_bytes * 0.8:
                break


class _quiet:
    """Swallow OS errors: the cache is an optimisation, never a reason to fail."""

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        return kind is not None and issubclass(kind, OSError)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _encode(record: LayerRecord) -> bytes:
    payload = {
        "added": [[i.path, i.kind, i.mode, i.uid, i.gid, i.size, i.link_target] for i in record.added.values()],
        "whiteouts": record.whiteouts,
        "opaque_dirs": record.opaque_dirs,
        "kept": {p: _b64(d) for p, d in record.kept.items()},
        "embedded": {p: _b64(d) for p, d in record.embedded.items()},
        "searched": {_b64(m): sorted(p) for m, p in record.searched.items()},
        "found": {_b64(m): sorted(p) for m, p in record.found.items()},
        "hardlinks": record.hardlinks,
        "notes": record.notes,
        "uncompressed_size": record.uncompressed_size,
    }
    body = zlib.compress(json.dumps(payload, separators=(",", ":")).encode(), 6)
    return MAGIC + b" %d " % FORMAT + hashlib.sha256(body).hexdigest().encode() + b"\n" + body


def _decode(data: bytes, layer: Layer) -> LayerRecord | None:
    """The record, or None for anything that is not exactly what `_encode` wrote."""
    head, sep, body = data.partition(b"\n")
    parts = head.split(b" ")
    if not sep or len(parts) != 3 or parts[0] != MAGIC or parts[1] != b"%d" % FORMAT:
        return None
    if hashlib.sha256(body).hexdigest().encode() != parts[2]:
        return None
    try:
        payload = json.loads(zlib.decompress(body))
        record = LayerRecord(index=layer.index, diff_id=layer.diff_id, digest=layer.digest)
        added = record.added
        for path, kind, mode, uid, gid, size, target in payload["added"]:
            # Spelt out rather than all(...): this loop runs once per file of the layer.
            if not (type(path) is str and path.startswith("/") and kind in _KINDS and type(mode) is int
                    and type(uid) is int and type(gid) is int and type(size) is int
                    and (target is None or type(target) is str)):
                return None
            added[path] = FileInfo(path, kind, mode, uid, gid, size, target)
        record.whiteouts = [_str(p) for p in payload["whiteouts"]]
        record.opaque_dirs = [_str(p) for p in payload["opaque_dirs"]]
        record.kept = {_str(p): base64.b64decode(d, validate=True) for p, d in payload["kept"].items()}
        record.embedded = {_str(p): base64.b64decode(d, validate=True) for p, d in payload["embedded"].items()}
        record.searched = {base64.b64decode(m, validate=True): {_str(p) for p in v}
                           for m, v in payload["searched"].items()}
        record.found = {base64.b64decode(m, validate=True): {_str(p) for p in v} for m, v in payload["found"].items()}
        record.hardlinks = {_str(k): _str(v) for k, v in payload["hardlinks"].items()}
        record.notes = [_str(n) for n in payload["notes"]]
        record.uncompressed_size = int(payload["uncompressed_size"])
    except (ValueError, TypeError, KeyError, AttributeError, zlib.error):
        return None
    return record


def _str(value) -> str:
    if not isinstance(value, str):
        raise TypeError("not a string")
    return value
