"""The filesystem view: the one read-only protocol every input yields.

An image's flattened layers, this machine ("host"), a Dockerfile's predicted result and a pod (an
image with its volumes laid over it) are all read through `FileView`, so the trust model answers
"what does this filesystem trust?" the same way for each. Paths are absolute POSIX paths inside
the view; links resolve inside the view only.
"""
from __future__ import annotations

from ..records import record
from typing import Iterable, Iterator, Protocol


@record(frozen=True, slots=True)  # slots: an image tree holds one per path, often 100,000s
class FileInfo:
    path: str
    kind: str  # "file" | "dir" | "symlink" | "other"
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    size: int = 0
    link_target: str | None = None


class FileView(Protocol):
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

    def files_containing(self, paths: Iterable[str], marker: bytes) -> set[str]:
        """Which of `paths` (regular files, possibly too large to keep) contain `marker`."""


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
