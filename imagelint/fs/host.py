"""This machine's filesystem (or a directory as a root filesystem) as a `FileView`."""
from __future__ import annotations

import os
import stat
from typing import Iterable, Iterator

from ..certs.embedded import pem_blocks_in_stream
from .regular import is_regular_file
from .view import FileInfo, norm


class HostView:
    """This machine's filesystem under `root` (default '/'), read-only, for `imagelint trust host`."""

    MAX_READ = 64 * 1024 * 1024

    def __init__(self, root: str = "/"):
        self.root = os.path.realpath(root)

    def _host(self, path: str) -> str:
        return os.path.join(self.root, norm(path).lstrip("/"))

    def _resolve(self, path: str, follow_last: bool = True) -> str | None:
        """The tree path `path` names, every link resolved inside the root (an absolute link target
        means root-relative, `..` stops at the root), as chroot would; None on a loop."""
        if self.root == "/":
            return os.path.realpath(norm(path)) if follow_last else norm(path)
        pending = [p for p in norm(path).split("/") if p]
        done: list[str] = []
        hops = 0
        while pending:
            part = pending.pop(0)
            if part == "..":
                if done:
                    done.pop()
                continue
            candidate = os.path.join(self.root, *done, part)
            if os.path.islink(candidate) and (pending or follow_last):
                hops += 1
                if hops > 40:
                    return None
                target = os.readlink(candidate)
                if target.startswith("/"):
                    done = []
                pending = [p for p in target.split("/") if p and p != "."] + pending
                continue
            done.append(part)
        return "/" + "/".join(done)

    def _host_resolved(self, path: str, follow_last: bool = True) -> str | None:
        resolved = self._resolve(path, follow_last)
        return None if resolved is None else self._host(resolved)

    def realpath(self, path: str) -> str | None:
        resolved = self._resolve(path)
        if resolved is None or not os.path.lexists(self._host(resolved)):
            return None
        return resolved

    def info(self, path: str, follow: bool = True) -> FileInfo | None:
        host = self._host_resolved(path, follow_last=follow)
        if host is None:
            return None
        try:
            st = os.lstat(host)
        except OSError:
            return None
        if stat.S_ISLNK(st.st_mode):
            if follow:
                return None  # a dangling link
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
        host = self._host_resolved(path)
        if info is None or host is None or info.kind != "file" or info.size > self.MAX_READ:
            return None
        try:
            with open(host, "rb") as fh:
                return fh.read()
        except OSError:
            return None

    def listdir(self, path: str) -> list[str]:
        host = self._host_resolved(path)
        if host is None:
            return []
        try:
            return sorted(os.listdir(host))
        except OSError:
            return []

    def embedded_certificates(self, path: str) -> bytes | None:
        host = self._host_resolved(path)
        if host is None or not is_regular_file(host):  # a FIFO would block the open forever
            return None
        try:
            with open(host, "rb") as fh:
                return pem_blocks_in_stream(fh)
        except OSError:
            return None

    def walk(self) -> Iterator[FileInfo]:  # pragma: no cover - host walk is never needed whole
        raise NotImplementedError("walking the whole host filesystem is not supported")

    def files_containing(self, paths: Iterable[str], marker: bytes, chunk_size: int = 1 << 20) -> set[str]:
        found = set()
        for path in paths:
            host = self._host_resolved(path)
            if host is None or not is_regular_file(host):
                continue
            try:
                with open(host, "rb") as fh:
                    tail = b""
                    while chunk := fh.read(chunk_size):
                        if marker in tail + chunk:
                            found.add(path)
                            break
                        tail = chunk[-len(marker):]
            except OSError:
                continue
        return found
