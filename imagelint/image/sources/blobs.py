"""Where a source's blobs are read from: a directory (OCI layout) or a tar archive, read in place."""
from __future__ import annotations

import os
import posixpath
import tarfile
import threading
from typing import BinaryIO, Iterable, Protocol

from ...findings import ImagelintError
from ..streams import FileSlice, RawStream


class BlobStore(Protocol):
    where: str

    def exists(self, name: str) -> bool: ...

    def size(self, name: str) -> int: ...

    def read(self, name: str, limit: int) -> bytes: ...

    def open(self, name: str) -> BinaryIO: ...


class DirStore:
    """Files under a directory (an OCI layout); names never resolve outside it."""

    def __init__(self, root: str):
        self.root = os.path.realpath(root)
        self.where = root

    def _path(self, name: str) -> str:
        path = os.path.realpath(os.path.join(self.root, name))
        if not path.startswith(self.root + os.sep):
            raise ImagelintError(f"{self.where}: {name!r} points outside the layout")
        return path

    def exists(self, name: str) -> bool:
        return os.path.isfile(self._path(name))

    def size(self, name: str) -> int:
        return os.path.getsize(self._path(name))

    def read(self, name: str, limit: int) -> bytes:
        try:
            with open(self._path(name), "rb") as fh:
                data = fh.read(limit + 1)
        except OSError as exc:
            raise ImagelintError(f"{self.where}: cannot read {name} ({exc.strerror})") from None
        if len(data) > limit:
            raise ImagelintError(f"{self.where}: {name} is larger than {limit} bytes")
        return data

    def open(self, name: str) -> BinaryIO:
        try:
            return open(self._path(name), "rb")
        except OSError as exc:
            raise ImagelintError(f"{self.where}: cannot read {name} ({exc.strerror})") from None


class _LockedMember(RawStream):
    """A member of a compressed outer tar: reads share one decompressor, so they take turns."""

    def __init__(self, tar: tarfile.TarFile, member: tarfile.TarInfo, lock: threading.Lock):
        self.lock = lock
        with lock:
            self.inner = tar.extractfile(member)

    def _read(self, size: int) -> bytes:
        with self.lock:
            return self.inner.read(size)


class TarStore:
    """Members of a tar archive, read in place: the archive is indexed once (headers only) and each
    member is read with pread at its offset. Nothing is extracted."""

    def __init__(self, where: str, path: str | None = None, fileobj: BinaryIO | None = None):
        self.where = where
        self.lock = threading.Lock()
        try:
            self.file = fileobj if fileobj is not None else open(path, "rb")
        except OSError as exc:
            raise ImagelintError(f"{where}: cannot open ({exc.strerror})") from None
        self.owns_file = fileobj is None
        self.path = os.path.realpath(path) if path is not None else None
        head = self.file.read(6)
        self.file.seek(0)
        self.compressed = head.startswith(b"\x1f\x8b") or head.startswith(b"BZh") or head.startswith(b"\xfd7zXZ")
        try:
            self.tar = tarfile.open(fileobj=self.file, mode="r:*" if self.compressed else "r:")
            self.members = {}
            for member in self.tar:
                self.members[_member_name(member.name)] = member
        except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
            self.close()
            raise ImagelintError(f"{where}: not a readable tar archive ({exc})") from None
        # A truncated archive still lists its headers: check every member's data is there.
        if not self.compressed:
            end = os.fstat(self.file.fileno()).st_size
            for member in self.members.values():
                if member.isreg() and member.offset_data + member.size > end:
                    self.close()
                    raise ImagelintError(f"{where}: archive is truncated (member {member.name} is cut off)")

    def close(self) -> None:
        if self.owns_file:
            self.file.close()

    def _resolve(self, name: str, depth: int = 0) -> tarfile.TarInfo | None:
        member = self.members.get(_member_name(name))
        if member is None or depth > 16:
            return None
        if member.issym():
            target = posixpath.join(posixpath.dirname(_member_name(name)), member.linkname)
            return self._resolve(target, depth + 1)
        if member.islnk():
            return self._resolve(member.linkname, depth + 1)
        return member if member.isreg() else None

    def names(self) -> Iterable[str]:
        return self.members.keys()

    def exists(self, name: str) -> bool:
        return self._resolve(name) is not None

    def size(self, name: str) -> int:
        member = self._resolve(name)
        return member.size if member else -1

    def read(self, name: str, limit: int) -> bytes:
        member = self._resolve(name)
        if member is None:
            raise ImagelintError(f"{self.where}: {name} is missing from the archive")
        if member.size > limit:
            raise ImagelintError(f"{self.where}: {name} is larger than {limit} bytes")
        with self.open(name) as stream:
            return stream.read()

    def location(self, name: str) -> tuple[str, int, int] | None:
        """(archive, offset, length) of a member (offsets of the decompressed stream if compressed)."""
        member = self._resolve(name)
        if member is None or self.path is None:
            return None
        return self.path, member.offset_data, member.size

    def open(self, name: str) -> BinaryIO:
        member = self._resolve(name)
        if member is None:
            raise ImagelintError(f"{self.where}: {name} is missing from the archive")
        if self.compressed:
            return _LockedMember(self.tar, member, self.lock)
        return FileSlice(self.file.fileno(), member.offset_data, member.size, f"{self.where}: {name}")


def _member_name(name: str) -> str:
    """'./manifest.json', '/manifest.json', 'x/../manifest.json' -> 'manifest.json'."""
    return posixpath.normpath("/" + name).lstrip("/")
