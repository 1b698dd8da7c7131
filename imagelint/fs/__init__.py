"""The filesystem view every input yields (image, host, Dockerfile prediction, pod)."""
from .view import FileInfo, FileView, norm

__all__ = ["FileInfo", "FileView", "norm"]
