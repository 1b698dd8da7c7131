"""A pod's filesystem: a base view (the image, or nothing) with volumes mounted over it.

A volume mounted at a directory hides whatever the base had below that path (Kubernetes docs,
"Volumes"); a `subPath` mount replaces exactly one path with one file. Mounted files hold no
links here: kubelet's `..data` indirection is invisible to the programs that read them. Files whose
contents are unknown (a Secret that cert-manager will write, an emptyDir) exist with no data.
"""
from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import Iterable, Iterator

from .view import FileInfo, FileView, norm

MAX_LINK_HOPS = 40


@dataclass
class MountedFile:
    data: bytes | None  # None: the file exists but its contents are not known here
    mode: int = 0o644


@dataclass
class MountSpec:
    """One volume mount: `files` by path relative to the mount (None: contents unknown).
    With `single_file`, the mount is a file (subPath) and `files` holds it under ""."""

    path: str
    files: dict[str, MountedFile] | None = field(default_factory=dict)
    single_file: bool = False
    label: str = ""  # "configMap billing-ca", for messages


class EmptyView:
    """No filesystem at all: a pod whose image was not read."""

    def read(self, path: str) -> bytes | None:
        return None

    def info(self, path: str, follow: bool = True) -> FileInfo | None:
        return FileInfo("/", "dir", 0o755) if norm(path) == "/" else None

    def listdir(self, path: str) -> list[str]:
        return []

    def realpath(self, path: str) -> str | None:
        return "/" if norm(path) == "/" else None

    def embedded_certificates(self, path: str) -> bytes | None:
        return None

    def walk(self) -> Iterator[FileInfo]:
        yield FileInfo("/", "dir", 0o755)

    def files_containing(self, paths: Iterable[str], marker: bytes) -> set[str]:
        return set()


def _under(path: str, top: str) -> str | None:
    """`path` relative to `top` ("" for top itself), or None when it is not below it."""
    if path == top:
        return ""
    prefix = top.rstrip("/") + "/"
    return path[len(prefix):] if path.startswith(prefix) else None


class OverlayView:
    """`base` with `mounts` laid over it; later mounts win over earlier ones at the same path."""

    def __init__(self, base: FileView | None, mounts: list[MountSpec]):
        self.base = base if base is not None else EmptyView()
        self.mounts = [MountSpec(norm(m.path), m.files, m.single_file, m.label) for m in mounts]

    # ---- which mount owns a path

    def mount_of(self, path: str) -> tuple[MountSpec, str] | None:
        """The innermost mount covering the (resolved) path, with the path relative to it."""
        best: tuple[MountSpec, str] | None = None
        for mount in self.mounts:
            rel = _under(path, mount.path)
            if rel is None or (mount.single_file and rel):
                continue
            if best is None or len(mount.path) >= len(best[0].path):
                best = (mount, rel)
        return best

    def _mount_ancestor(self, path: str) -> bool:
        """A directory kubelet creates because a mount lies below it."""
        return any(_under(m.path, path) not in (None, "") for m in self.mounts)

    def _mounted_info(self, path: str, mount: MountSpec, rel: str) -> FileInfo | None:
        if mount.single_file:
            entry = (mount.files or {}).get("")
            if entry is None:
                return FileInfo(path, "dir", 0o755)  # kubelet mounts an empty directory (kubernetes/kubernetes#54514)
            size = len(entry.data) if entry is not None and entry.data is not None else 0
            return FileInfo(path, "file", entry.mode if entry else 0o644, size=size)
        if rel == "":
            return FileInfo(path, "dir", 0o755)
        files = mount.files or {}
        if rel in files:
            entry = files[rel]
            return FileInfo(path, "file", entry.mode, size=len(entry.data or b""))
        if any(name.startswith(rel + "/") for name in files):
            return FileInfo(path, "dir", 0o755)
        return None

    # ---- FileView

    def realpath(self, path: str) -> str | None:
        pending = [p for p in norm(path).split("/") if p]
        resolved = "/"
        hops = 0
        while pending:
            part = pending.pop(0)
            candidate = norm(resolved + "/" + part)
            if self.mount_of(candidate) is not None or self._mount_ancestor(candidate):
                resolved = candidate  # mounted content holds no links
                continue
            info = self.base.info(candidate, follow=False)
            if info is not None and info.kind == "symlink" and info.link_target is not None:
                hops += 1
                if hops > MAX_LINK_HOPS:
                    return None
                start = "/" if info.link_target.startswith("/") else resolved
                pending = [p for p in norm(posixpath.join(start, info.link_target)).split("/") if p] + pending
                resolved = "/"
                continue
            resolved = candidate
        return resolved if self._info_resolved(resolved) is not None else None

    def _info_resolved(self, real: str) -> FileInfo | None:
        owner = self.mount_of(real)
        if owner is not None:
            return self._mounted_info(real, *owner)
        if self._mount_ancestor(real):
            return self.base.info(real, follow=False) or FileInfo(real, "dir", 0o755)
        return self.base.info(real, follow=False)

    def info(self, path: str, follow: bool = True) -> FileInfo | None:
        if follow:
            real = self.realpath(path)
            return None if real is None else self._info_resolved(real)
        wanted = norm(path)
        parent = self.realpath(posixpath.dirname(wanted)) if wanted != "/" else "/"
        if parent is None:
            return None
        return self._info_resolved(norm(parent + "/" + posixpath.basename(wanted)) if wanted != "/" else "/")

    def read(self, path: str) -> bytes | None:
        real = self.realpath(path)
        if real is None:
            return None
        owner = self.mount_of(real)
        if owner is None:
            return self.base.read(real)
        mount, rel = owner
        entry = (mount.files or {}).get(rel)
        return entry.data if entry is not None else None

    def listdir(self, path: str) -> list[str]:
        real = self.realpath(path)
        if real is None:
            return []
        owner = self.mount_of(real)
        names: set[str] = set()
        if owner is None:
            names.update(self.base.listdir(real))
        else:
            mount, rel = owner
            if mount.single_file:
                return []
            for name in mount.files or {}:
                inner = _under(name, rel) if rel else name
                if inner:
                    names.add(inner.split("/")[0])
        for mount in self.mounts:
            below = _under(mount.path, real)
            if below:
                names.add(below.split("/")[0])
        return sorted(names)

    def embedded_certificates(self, path: str) -> bytes | None:
        real = self.realpath(path)
        if real is None or self.mount_of(real) is not None:
            return None
        return self.base.embedded_certificates(real)

    def walk(self) -> Iterator[FileInfo]:
        for info in self.base.walk():
            if self.mount_of(info.path) is None:
                yield info
        for mount in self.mounts:
            if mount.single_file:
                yield self._mounted_info(mount.path, mount, "")
                continue
            yield FileInfo(mount.path, "dir", 0o755)
            for name, entry in sorted((mount.files or {}).items()):
                yield FileInfo(norm(mount.path + "/" + name), "file", entry.mode, size=len(entry.data or b""))

    def files_containing(self, paths: Iterable[str], marker: bytes) -> set[str]:
        found: set[str] = set()
        rest = []
        for path in paths:
            real = self.realpath(path)
            if real is not None and self.mount_of(real) is not None:
                if marker in (self.read(real) or b""):
                    found.add(path)
            else:
                rest.append(path)
        return found | self.base.files_containing(rest, marker)
