"""The image model every source yields, as go-containerregistry has it: an `Image` is its config
and its layers, base first; a `Layer` opens as its uncompressed tar stream, verified against its
digests on the way. Sources (sources/) implement only how to find the manifest and the blobs.
"""
from __future__ import annotations

import json
import os
import platform as host_platform
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Callable, Protocol

from ..findings import ImagelintError
from .limits import DEFAULT_LIMITS, Limits
from .shapes import check_config, check_index, check_manifest
from .streams import Budget, InPlaceBlob, VerifyingStream, decompressed, detect_compression, file_range, parse_digest

# Media types (OCI and Docker schema 2).
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_SCHEMA1 = ("application/vnd.docker.distribution.manifest.v1+json",
                  "application/vnd.docker.distribution.manifest.v1+prettyjws")
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
REF_NAME = "org.opencontainers.image.ref.name"
CONTAINERD_NAME = "io.containerd.image.name"


# --------------------------------------------------------------------------- the interface

@dataclass
class Layer:
    """One layer, base first. `open()` gives the uncompressed tar stream, verified on the way."""

    index: int
    diff_id: str
    digest: str | None  # the stored blob's digest (compressed), when the source has one
    media_type: str
    size: int  # stored size in bytes, -1 when unknown
    opener: Callable[[], BinaryIO] = field(repr=False)
    source: str = ""  # where the blob lives, for messages
    raw_digest: str | None = None  # what the stored bytes must hash to, when known
    # (file, offset, length) of the stored blob inside a local archive: the layer cache's stat memo.
    location: tuple[str, int, int] | None = None

    @property
    def name(self) -> str:
        short = (self.digest or self.diff_id).split(":")[-1][:12]
        return f"layer {self.index} (sha256:{short})"

    def open_raw(self, on_bytes: Callable[[int], None] | None = None, stream: BinaryIO | None = None) -> BinaryIO:
        """The stored bytes (`stream`, when the caller has opened the blob already), verified."""
        stream = self.opener() if stream is None else stream
        if self.raw_digest and self.raw_digest != self.diff_id:
            return VerifyingStream(stream, self.raw_digest, self.name, on_bytes)
        return stream

    def open(self, limits: Limits = DEFAULT_LIMITS, budget: Budget | None = None,
             on_bytes: Callable[[int], None] | None = None,
             on_raw_bytes: Callable[[int], None] | None = None, raw: BinaryIO | None = None) -> BinaryIO:
        """Uncompressed tar bytes (gzip/zstd sniffed from magic bytes), capped by `limits`,
        verified against the blob digest and the diff ID when the stream is read to its end.
        The callbacks see byte counts as they flow (stored bytes, uncompressed bytes): progress bars."""
        raw = self.open_raw(stream=raw)
        plain = decompressed(raw, limits, budget or Budget(limits), self.name, on_bytes, on_raw_bytes)
        return VerifyingStream(plain, self.diff_id, self.name)


    def open_in_place(self, raw: BinaryIO, budget: Budget, on_bytes: Callable[[int], None] | None = None,
                      on_raw_bytes: Callable[[int], None] | None = None) -> BinaryIO | None:
        """For an uncompressed blob in a local file (a docker-archive member, an OCI layout blob),
        `raw` being the opened blob: a stream the tar reader can skip through while the whole blob is
        hashed beside it (InPlaceBlob). None for anything else, with `raw` untouched, for `open(raw=...)`:
        a registry blob is fetched once, not opened to look and fetched again."""
        where = file_range(raw)
        if where is None or detect_compression(os.pread(where[0], 4, where[1])) != "none":
            return None
        fd, start, end = where
        expected = list(dict.fromkeys(d for d in (self.raw_digest, self.diff_id) if d))
        callbacks = [c for c in (on_raw_bytes, on_bytes) if c]

        def on_both(n: int) -> None:  # stored and uncompressed bytes are the same bytes here
            for callback in callbacks:
                callback(n)

        return InPlaceBlob(raw, fd, start, end, expected, self.name, budget, on_both if callbacks else None)


class Image(Protocol):
    reference: str
    digest: str  # manifest digest; the config digest (image ID) where there is no manifest
    config: dict[str, Any]  # Env, Entrypoint, Cmd, User, Labels, WorkingDir, history, os, architecture
    raw_config: dict[str, Any]
    layers: list[Layer]
    platform: str

    def close(self) -> None: ...


@dataclass
class OpenedImage:
    reference: str
    digest: str
    config: dict[str, Any]
    raw_config: dict[str, Any]
    layers: list[Layer]
    platform: str = ""
    source: str = ""  # which transport answered (for "auto" references)
    # How many layers to read at once: the network likes several, a local file one or two.
    concurrency: int = 2
    _closers: list[Callable[[], None]] = field(default_factory=list, repr=False)

    def close(self) -> None:
        while self._closers:
            self._closers.pop()()

    def __enter__(self) -> "OpenedImage":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

# --------------------------------------------------------------------------- manifests and configs

def load_json(data: bytes, what: str) -> Any:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ImagelintError(f"{what} is not valid JSON ({exc.__class__.__name__}: {str(exc)[:80]})") from None
    except RecursionError:
        raise ImagelintError(f"{what}: JSON nested too deeply") from None


def summarize_config(raw: dict[str, Any], what: str) -> dict[str, Any]:
    check_config(raw, f"{what}: image config")
    container = raw.get("config") or {}
    if not isinstance(container, dict):
        raise ImagelintError(f"{what}: image config has a malformed 'config' section")
    history = raw.get("history") or []
    return {
        "Env": list(container.get("Env") or []),
        "Entrypoint": container.get("Entrypoint"),
        "Cmd": container.get("Cmd"),
        "User": container.get("User") or "",
        "WorkingDir": container.get("WorkingDir") or "",
        "Labels": dict(container.get("Labels") or {}),
        "history": [h for h in history if isinstance(h, dict)],
        "os": raw.get("os", ""),
        "architecture": raw.get("architecture", ""),
        "variant": raw.get("variant", ""),
    }


def diff_ids_of(raw_config: dict[str, Any], what: str) -> list[str]:
    check_config(raw_config, f"{what}: image config")
    rootfs = raw_config.get("rootfs") or {}
    diff_ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if not isinstance(diff_ids, list) or not all(isinstance(d, str) for d in diff_ids):
        raise ImagelintError(f"{what}: image config has no rootfs.diff_ids")
    for diff_id in diff_ids:
        parse_digest(diff_id, what)
    return diff_ids


def host_platform_string() -> str:
    machine = host_platform.machine().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "armv7l": "arm/v7",
            "armv6l": "arm/v6", "i386": "386", "i686": "386", "ppc64le": "ppc64le", "s390x": "s390x",
            "riscv64": "riscv64"}.get(machine, machine)
    return f"linux/{arch}"


def parse_platform(text: str) -> tuple[str, str, str]:
    parts = text.strip().lower().split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise ImagelintError(f"invalid platform {text!r} (use os/arch[/variant], e.g. linux/arm64/v8)")
    os_name, arch = parts[0], parts[1]
    variant = parts[2] if len(parts) == 3 else ""
    if arch == "arm64" and variant == "v8":
        variant = ""  # the default arm64 variant; indexes write it or not
    return os_name, arch, variant


def choose_platform(manifests: list[dict], wanted: str | None, what: str) -> dict:
    """The manifest of an index that matches os/arch[/variant] (default: this machine's)."""
    os_name, arch, variant = parse_platform(wanted or host_platform_string())
    available = []
    for descriptor in manifests:
        plat = descriptor.get("platform") or {}
        if not isinstance(plat, dict):
            continue
        d_os, d_arch = str(plat.get("os", "")).lower(), str(plat.get("architecture", "")).lower()
        d_variant = str(plat.get("variant", "")).lower()
        if d_arch == "arm64" and d_variant == "v8":
            d_variant = ""
        if d_os == "unknown":  # buildkit attestations
            continue
        available.append("/".join(p for p in (d_os, d_arch, d_variant) if p))
        if d_os == os_name and d_arch == arch and (not variant or variant == d_variant):
            return descriptor
    raise ImagelintError(
        f"{what}: no image for platform {'/'.join(p for p in (os_name, arch, variant) if p)} "
        f"(available: {', '.join(available) or 'none'}); pass --platform")


def manifest_kind(document: dict, media_type: str | None) -> str:
    media_type = media_type or document.get("mediaType")
    if media_type in DOCKER_SCHEMA1 or document.get("schemaVersion") == 1:
        return "schema1"
    if media_type in INDEX_TYPES or (media_type is None and "manifests" in document):
        return "index"
    if media_type in MANIFEST_TYPES or (media_type is None and "layers" in document and "config" in document):
        return "manifest"
    return "unknown"



def image_from_manifest(manifest: dict, manifest_digest: str, reference: str,
                        read_json: Callable[[dict, str], tuple[dict, bytes]],
                        layer_opener: Callable[[dict, int], tuple[Callable[[], BinaryIO], str]],
                        what: str) -> OpenedImage:
    """Config and layers of an OCI / Docker schema 2 manifest, from any blob source."""
    check_manifest(manifest, f"{what}: manifest {manifest_digest}")
    config_descriptor = manifest.get("config")
    if not isinstance(config_descriptor, dict):
        raise ImagelintError(f"{what}: manifest has no config descriptor")
    raw_config, _ = read_json(config_descriptor, f"{what}: config")
    descriptors = manifest.get("layers")
    if not isinstance(descriptors, list):
        raise ImagelintError(f"{what}: manifest has no layer list")
    diff_ids = diff_ids_of(raw_config, what)
    if len(diff_ids) != len(descriptors):
        raise ImagelintError(f"{what}: manifest lists {len(descriptors)} layers but the config "
                             f"has {len(diff_ids)} diff IDs")
    layers = []
    for index, (descriptor, diff_id) in enumerate(zip(descriptors, diff_ids)):
        if not isinstance(descriptor, dict) or not isinstance(descriptor.get("digest"), str):
            raise ImagelintError(f"{what}: layer {index} has a malformed descriptor")
        parse_digest(descriptor["digest"], what)
        opener, source = layer_opener(descriptor, index)
        layers.append(Layer(index=index, diff_id=diff_id, digest=descriptor["digest"],
                            media_type=str(descriptor.get("mediaType") or OCI_LAYER),
                            size=int(descriptor.get("size") or -1), opener=opener, source=source,
                            raw_digest=descriptor["digest"]))
    config = summarize_config(raw_config, what)
    plat = "/".join(p for p in (config["os"], config["architecture"], config["variant"]) if p)
    return OpenedImage(reference=reference, digest=manifest_digest, config=config, raw_config=raw_config,
                       layers=layers, platform=plat)


def resolve_descriptor(descriptor: dict, reference: str, platform: str | None,
                       read_json: Callable[[dict, str], tuple[dict, bytes]],
                       layer_opener: Callable[[dict, int], tuple[Callable[[], BinaryIO], str]],
                       where: str, depth: int = 0) -> OpenedImage:
    if depth > 4:
        raise ImagelintError(f"{where}: indexes nested too deeply")
    document, _ = read_json(descriptor, f"{where}: manifest {descriptor.get('digest')}")
    kind = manifest_kind(document, descriptor.get("mediaType"))
    if kind == "index":
        check_index(document, f"{where}: index {descriptor.get('digest')}")
        manifests = document.get("manifests")
        if not isinstance(manifests, list):
            raise ImagelintError(f"{where}: malformed image index")
        child = choose_platform(manifests, platform, where)
        return resolve_descriptor(child, reference, platform, read_json, layer_opener, where, depth + 1)
    if kind == "schema1":
        raise ImagelintError(f"{where}: Docker schema 1 manifests are not supported; re-push the image")
    if kind != "manifest":
        raise ImagelintError(f"{where}: {descriptor.get('digest')} is neither an image manifest nor an index")
    return image_from_manifest(document, descriptor["digest"], reference, read_json, layer_opener, where)
