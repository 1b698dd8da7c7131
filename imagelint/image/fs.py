"""A read-only view of a root filesystem: an image's flattened layers, or this machine ("host").

Trust and certificate code read files only through this protocol, so the same logic answers
"what does this image trust?" and "what does this machine trust?".
Paths are absolute POSIX paths inside the tree; links are resolved inside the tree only.
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Iterator, Protocol


@dataclass(frozen=True, slots=True)  # slots: an image tree holds one per path, often 100,000s
class FileInfo:
    path: str
    kind: str  # "file" | "dir" | "symlink" | "other"
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    size: int = 0
    link_target: str | None = None


class FileTree(Protocol):
    def read(self, path: str) -> bytes | None:
        """Contents of a regular file (links followed inside the tree); None if absent or not kept."""

    def info(self, path: str, follow: bool = True) -> FileInfo | None:
        """Metadata of a path; None if absent."""

    def listdir(self, path: str) -> list[str]:
        """Names in a directory (links followed); [] if absent."""

    def realpath(self, path: str) -> str | None:
        """Resolve every link inside the tree; None on a loop or a dangling link."""

    def embedded_certificates(self, path: str) -> bytes | None:
        """PEM certificate blocks found inside a (large, binary) file such as the node executable."""

    def walk(self) -> Iterator[FileInfo]:
        """Every path in the tree (metadata only)."""


def norm(path: str) -> str:
    """'./etc//x', 'etc/x', '/etc/x/' -> '/etc/x' (never above '/')."""
    parts: list[str] = []
    for part in path.replace("\\", "/").split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return "/" + "/".join(parts)


class HostTree:
    """This machine's filesystem under `root` (default '/'), read-only, for `imagelint trust host`."""

    MAX_READ = 64 * 1024 * 1024

    def __init__(self, root: str = "/"):
        self.root = os.path.realpath(root)

    def _host(self, path: str) -> str:
        return os.path.join(self.root, norm(path).lstrip("/"))

    def realpath(self, path: str) -> str | None:
        real = os.path.realpath(self._host(path))
        if self.root != "/" and not (real == self.root or real.startswith(self.root + os.sep)):
            return None
        return norm(os.path.relpath(real, self.root)) if self.root != "/" else real

    def info(self, path: str, follow: bool = True) -> FileInfo | None:
        host = self._host(path)
        try:
            st = os.stat(host) if follow else os.lstat(host)
        except OSError:
            return None
        if stat.S_ISLNK(st.st_mode):
            kind, target = "symlink", os.readlink(host)
        elif stat.S_ISDIR(st.st_mode):
            kind, target = "dir", None
        elif stat.S_ISREG(st.st_mode):
            kind, target = "file", None
        else:
            kind, target = "other", None
        return FileInfo(norm(path), kind, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, st.st_size, target)

    def read(self, path: str) -> bytes | None:
        info = self.info(path)
        if info is None or info.kind != "file" or info.size > self.MAX_READ:
            return None
        try:
            with open(self._host(path), "rb") as fh:
                return fh.read()
        except OSError:
            return None

    def listdir(self, path: str) -> list[str]:
        try:
            return sorted(os.listdir(self._host(path)))
        except OSError:
            return []

    def embedded_certificates(self, path: str) -> bytes | None:
        from ..certs.embedded import pem_blocks_in_stream  # lazy: only trust needs it

        try:
            with open(self._host(path), "rb") as fh:
                return pem_blocks_in_stream(fh)
        except OSError:
            return None

    def walk(self) -> Iterator[FileInfo]:  # pragma: no cover - host walk is never needed whole
        raise NotImplementedError("walking the whole host filesystem is not supported")


def posix_parent(path: str) -> str:
    return str(PurePosixPath(path).parent)
