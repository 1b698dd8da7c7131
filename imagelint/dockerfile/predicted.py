"""The files a Dockerfile's shipped stage puts into the image, as a `FileView`: build-context files
at their COPY/ADD destinations, `COPY <<EOF` and `RUN cat > file <<EOF` contents, minus what a
later `RUN rm` deletes. The base image's own files are unknown here: checks on this view speak
only of what the Dockerfile and its context bring. Contents are read from the context lazily,
through dockerfile/context.py (never through a link out of the context, .dockerignore respected).
"""
from __future__ import annotations

import posixpath
from ..records import record
from typing import Iterable, Iterator

from ..fs import FileInfo, norm
from .context import copied_files, read_context_file
from .model import DockerfileModel, FileOp

MAX_PREDICTED_FILES = 20000


@record(frozen=True)
class Origin:
    """Where a predicted file comes from: the op (and so the instruction) and the context file."""

    op: FileOp
    context_file: str | None  # context-relative path; None for inline content


class PredictedView:
    def __init__(self, model: DockerfileModel, context_dir: str | None):
        self.context_dir = context_dir
        self.origins: dict[str, Origin] = {}
        self._inline: dict[str, bytes] = {}
        stage = model.shipped
        if stage is None:
            return
        for _stage, op in stage.inherited_file_ops():
            self._apply(op)

    def _apply(self, op: FileOp) -> None:
        if op.kind == "delete":
            for path in [p for p in self.origins if p == op.path or p.startswith(op.path.rstrip("/") + "/")]:
                self.origins.pop(path, None)
                self._inline.pop(path, None)
            return
        if op.kind in ("write", "copy") and op.content is not None and op.known:
            path = norm(op.path)
            self.origins[path] = Origin(op, None)
            self._inline[path] = op.content.encode()
            return
        if op.kind == "link" and op.known and op.sources:
            target = norm(posixpath.join(posixpath.dirname(op.path), op.sources[0]))
            if target in self.origins:  # `ln -s ../sites-available/x sites-enabled/x`
                self.origins[norm(op.path)] = self.origins[target]
                if target in self._inline:
                    self._inline[norm(op.path)] = self._inline[target]
            return
        if op.kind != "copy" or not op.known:
            return
        for image_path, rel in copied_files(self.context_dir, op) or []:
            if len(self.origins) >= MAX_PREDICTED_FILES:
                return
            path = norm(image_path)
            self.origins[path] = Origin(op, rel)
            self._inline.pop(path, None)

    # ---- FileView

    def realpath(self, path: str) -> str | None:
        path = norm(path)
        return path if path in self.origins or self._is_dir(path) else None

    def _is_dir(self, path: str) -> bool:
        prefix = path.rstrip("/") + "/"
        return path == "/" or any(p.startswith(prefix) for p in self.origins)

    def info(self, path: str, follow: bool = True) -> FileInfo | None:
        path = norm(path)
        if path in self.origins:
            data = self.read(path)
            return FileInfo(path, "file", 0o644, 0, 0, len(data) if data is not None else 0)
        if self._is_dir(path):
            return FileInfo(path, "dir", 0o755)
        return None

    def read(self, path: str) -> bytes | None:
        path = norm(path)
        if path in self._inline:
            return self._inline[path]
        origin = self.origins.get(path)
        if origin is None or origin.context_file is None:
            return None
        return read_context_file(self.context_dir, origin.context_file)

    def listdir(self, path: str) -> list[str]:
        prefix = norm(path).rstrip("/") + "/"
        return sorted({p[len(prefix):].split("/", 1)[0] for p in self.origins if p.startswith(prefix)})

    def embedded_certificates(self, path: str) -> bytes | None:
        return None

    def walk(self) -> Iterator[FileInfo]:
        for path in sorted(self.origins):
            info = self.info(path)
            if info is not None:
                yield info

    def files_containing(self, paths: Iterable[str], marker: bytes) -> set[str]:
        return {p for p in paths if marker in (self.read(p) or b"")}

    def origin(self, path: str) -> Origin | None:
        return self.origins.get(norm(path))
