"""What an image check receives: the image's trust model (trust/model.py) plus what only an image
has: its config, its history and the layer that put each path there.

Checks never open files or images: they read through `ImageContext` and return `Hit`s made by
`ctx.hit(...)`, which records the layer (index and digest) and the history entry that put the
path there, so every finding can be traced back to a build step.
"""
from __future__ import annotations

import re
from functools import cached_property
from typing import Any

from ...certs.load import CertRecord
from ...findings import Severity
from ...fs import FileInfo
from ...trust.model import ImageTrustModel
from ..registry import Hit


def short_digest(digest: str | None) -> str:
    return (digest or "").split(":")[-1][:12]


class ImageContext(ImageTrustModel):
    """An image's trust model as the image checks see it: with `hit()` to report on a path."""

    def __init__(self, tree, config: dict[str, Any], reference: str = "", expiring_days: int = 30):
        super().__init__(tree, config, reference)
        self.expiring_days = expiring_days

    # ---- the TLS servers the image configures

    @cached_property
    def servers(self) -> list:
        """nginx/Apache/HAProxy configurations of the image with their TLS endpoints."""
        from ...servers import find_servers

        cwd = str(self.config.get("WorkingDir") or "/")
        return find_servers(self.view, cwd=cwd, env=self.env)

    @cached_property
    def server_trusted_cas(self) -> list[CertRecord]:
        """CAs a leaf may be issued by directly without an intermediate: the image's own bundle and
        anchors (a private root installed here is the organisation's)."""
        found = [cert for cert, _ in self.custom_cas.values()]
        if self.bundle is not None:
            found.extend(self.bundle.certificates)
        return found

    @cached_property
    def server_key_files(self) -> dict[str, str]:
        """Real path of each private key a server configuration uses -> "nginx (file:line)"."""
        from ...servers.analysis import key_source

        keys: dict[str, str] = {}
        for config in self.servers:
            for endpoint in config.endpoints:
                path = key_source(self.view, endpoint)
                real = self.view.realpath(path) if path else None
                if real:
                    keys.setdefault(real, f"{config.server} ({endpoint.config}:{endpoint.key_config_line or endpoint.line})")
        return keys

    # ---- linking back to layers

    def layer_ref(self, path: str | None):
        if not path:
            return None
        ref = self.view.layer_of(path)
        if ref is None:
            real = self.view.realpath(path)
            ref = self.view.layer_of(real) if real else None
        return ref

    def created_by_env(self, name: str) -> str | None:
        """The last history entry that set variable `name` (ENV in this image or its base)."""
        pattern = re.compile(rf"(?:^|[\s\"'])(?:ENV\s+)?{re.escape(name)}[=\s]")
        for entry in reversed(self.history):
            text = str(entry.get("created_by") or "")
            if "ENV" in text and pattern.search(text):
                return text
        return None

    def hit(self, rule: str, message: str, path: str | None = None, layer=None,
            severity: Severity | None = None, **props) -> Hit:
        """A finding on a path of the image (or on its config when path is None).

        `layer` is a LayerRecord/LayerRef (or its index); by default, the layer that put `path` there."""
        if isinstance(layer, int):
            layer = self.view.layer_records[layer]
        if layer is None:
            layer = self.layer_ref(path)
        properties: dict[str, Any] = {}
        if path:
            properties["image_path"] = path
        if layer is not None:
            properties["layer"] = {"index": layer.index, "digest": layer.digest or layer.diff_id,
                                   "diff_id": layer.diff_id}
            if layer.created_by:
                properties["created_by"] = layer.created_by
        properties.update({k: v for k, v in props.items() if v is not None})
        return Hit(rule, message, 1, 1, 1, 1, None, severity, None, properties)


def describe_layer(properties: dict) -> str:
    """'layer 3 (sha256:abc123def456) `COPY x /y`' for messages."""
    layer = properties.get("layer")
    if not layer:
        return "the image config"
    text = f"layer {layer['index']} (sha256:{short_digest(layer['digest'])})"
    created_by = properties.get("created_by")
    if created_by:
        text += f" `{shorten(created_by)}`"
    return text


def shorten(text: str, width: int = 100) -> str:
    text = re.sub(r"\s+", " ", re.sub(r"\s*# buildkit\s*$", "", text)).strip()
    return text if len(text) <= width else text[: width - 3] + "..."


def fingerprint_label(cert: CertRecord) -> str:
    return f"{cert.label} (SHA-256 {cert.fingerprint_sha256[:16]}...)"


def is_writable_by_others(info: FileInfo, uid: int | None, gid: int | None) -> str | None:
    """Why a file or directory can be changed by someone other than root; None when it cannot."""
    mode = info.mode
    if mode & 0o002:
        return f"world-writable (mode {mode:04o})"
    if info.uid != 0:
        if uid is not None and info.uid == uid:
            return f"owned by the image's USER (uid {info.uid})"
        return f"owned by uid {info.uid}, not root"
    if mode & 0o020 and info.gid != 0:
        if gid is not None and info.gid == gid:
            return f"group-writable by the image's USER group (gid {info.gid}, mode {mode:04o})"
        return f"group-writable by gid {info.gid} (mode {mode:04o})"
    return None

