"""One narrow image interface, many sources (the shape of go-containerregistry's v1.Image).

`open_image(reference)` reads all metadata eagerly (manifest, config, which blobs exist), so a bad
reference fails at once; layer blobs are opened lazily, as streams, one at a time or concurrently.

Sources: docker-archive (classic `docker save`, skopeo/podman, Docker >= 25), OCI layout
directories and oci-archive tars, the local Docker engine, and registries (registry.py).
"""
from __future__ import annotations

import json
import os
import platform as host_platform
import posixpath
import re
import tarfile
import tempfile
import threading
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Callable, Iterable, Protocol

from ..findings import ImagelintError
from .limits import DEFAULT_LIMITS, Limits
from .reference import ImageReference, RegistryName, parse_name, parse_reference
from .streams import (
    Budget,
    FileSlice,
    RawStream,
    VerifyingStream,
    decompressed,
    digest_of,
    parse_digest,
    verify_bytes,
)

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

    @property
    def name(self) -> str:
        short = (self.digest or self.diff_id).split(":")[-1][:12]
        return f"layer {self.index} (sha256:{short})"

    def open_raw(self, on_bytes: Callable[[int], None] | None = None) -> BinaryIO:
        stream = self.opener()
        if self.raw_digest and self.raw_digest != self.diff_id:
            return VerifyingStream(stream, self.raw_digest, self.name, on_bytes)
        return stream

    def open(self, limits: Limits = DEFAULT_LIMITS, budget: Budget | None = None,
             on_bytes: Callable[[int], None] | None = None,
             on_raw_bytes: Callable[[int], None] | None = None) -> BinaryIO:
        """Uncompressed tar bytes (gzip/zstd sniffed from magic bytes), capped by `limits`,
        verified against the blob digest and the diff ID when the stream is read to its end.
        The callbacks see byte counts as they flow (stored bytes, uncompressed bytes): progress bars."""
        raw = self.open_raw()
        plain = decompressed(raw, limits, budget or Budget(limits), self.name, on_bytes, on_raw_bytes)
        return VerifyingStream(plain, self.diff_id, self.name)


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

    def layer_by_diff_id(self, diff_id: str) -> Layer | None:
        return next((layer for layer in self.layers if layer.diff_id == diff_id), None)


# --------------------------------------------------------------------------- shared helpers

def load_json(data: bytes, what: str) -> Any:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ImagelintError(f"{what} is not valid JSON ({exc.__class__.__name__}: {str(exc)[:80]})") from None


def summarize_config(raw: dict[str, Any], what: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ImagelintError(f"{what}: image config is not a JSON object")
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


def _kind_of(document: dict, media_type: str | None) -> str:
    media_type = media_type or document.get("mediaType")
    if media_type in DOCKER_SCHEMA1 or document.get("schemaVersion") == 1:
        return "schema1"
    if media_type in INDEX_TYPES or (media_type is None and "manifests" in document):
        return "index"
    if media_type in MANIFEST_TYPES or (media_type is None and "layers" in document and "config" in document):
        return "manifest"
    return "unknown"


# --------------------------------------------------------------------------- blob stores

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


# --------------------------------------------------------------------------- OCI layout

def _read_blob_json(store: BlobStore, descriptor: dict, limits: Limits, what: str) -> tuple[dict, bytes]:
    digest = descriptor.get("digest") if isinstance(descriptor, dict) else None
    if not isinstance(digest, str):
        raise ImagelintError(f"{what}: descriptor without a digest")
    algorithm, hex_digest = parse_digest(digest, what)
    name = f"blobs/{algorithm}/{hex_digest}"
    if not store.exists(name):
        raise ImagelintError(f"{what}: names blob {digest} which is missing from {store.where}")
    data = verify_bytes(store.read(name, limits.max_metadata_bytes), digest, f"{store.where}: blob {digest}")
    document = load_json(data, f"{store.where}: blob {digest}")
    if not isinstance(document, dict):
        raise ImagelintError(f"{store.where}: blob {digest} is not a JSON object")
    return document, data


def image_from_manifest(manifest: dict, manifest_digest: str, reference: str,
                        read_json: Callable[[dict, str], tuple[dict, bytes]],
                        layer_opener: Callable[[dict, int], tuple[Callable[[], BinaryIO], str]],
                        what: str) -> OpenedImage:
    """Config and layers of an OCI / Docker schema 2 manifest, from any blob source."""
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


def read_oci_layout(store: BlobStore, tag: str | None, reference: str, platform: str | None,
                    limits: Limits) -> OpenedImage:
    where = store.where
    if not store.exists("oci-layout"):
        raise ImagelintError(f"{where}: not an OCI image layout (no oci-layout file)")
    layout = load_json(store.read("oci-layout", 4096), f"{where}/oci-layout")
    if not isinstance(layout, dict) or not str(layout.get("imageLayoutVersion", "")).startswith("1."):
        raise ImagelintError(f"{where}: unsupported OCI layout version")
    index = load_json(store.read("index.json", limits.max_metadata_bytes), f"{where}/index.json")
    manifests = index.get("manifests") if isinstance(index, dict) else None
    if not isinstance(manifests, list) or not manifests:
        raise ImagelintError(f"{where}: index.json lists no images")
    if tag:
        chosen = [m for m in manifests if isinstance(m, dict) and _tag_matches(m.get("annotations") or {}, tag)]
        if not chosen:
            raise ImagelintError(f"{where}: no image tagged {tag!r} (tags: {', '.join(_tags(manifests)) or 'none'})")
        if len(chosen) > 1 and all((m.get("platform") or {}) for m in chosen):
            descriptor = choose_platform(chosen, platform, f"{where}:{tag}")
        else:
            descriptor = chosen[0]
    elif len(manifests) == 1:
        descriptor = manifests[0]
    elif all(isinstance(m, dict) and m.get("platform") for m in manifests):
        descriptor = choose_platform(manifests, platform, where)
    else:
        raise ImagelintError(f"{where}: holds several images; name one as {where}:TAG "
                             f"(tags: {', '.join(_tags(manifests)) or 'none'})")

    def read_json(descriptor: dict, what: str) -> tuple[dict, bytes]:
        return _read_blob_json(store, descriptor, limits, what)

    def layer_opener(descriptor: dict, index: int) -> tuple[Callable[[], BinaryIO], str]:
        algorithm, hex_digest = parse_digest(descriptor["digest"], where)
        name = f"blobs/{algorithm}/{hex_digest}"
        if not store.exists(name):
            raise ImagelintError(f"{where}: manifest names layer {index} blob {descriptor['digest']}, "
                                 "which is missing from the layout")
        return (lambda: store.open(name)), f"{where}/{name}"

    return resolve_descriptor(descriptor, reference, platform, read_json, layer_opener, where)


def resolve_descriptor(descriptor: dict, reference: str, platform: str | None,
                       read_json: Callable[[dict, str], tuple[dict, bytes]],
                       layer_opener: Callable[[dict, int], tuple[Callable[[], BinaryIO], str]],
                       where: str, depth: int = 0) -> OpenedImage:
    if depth > 4:
        raise ImagelintError(f"{where}: indexes nested too deeply")
    document, _ = read_json(descriptor, f"{where}: manifest {descriptor.get('digest')}")
    kind = _kind_of(document, descriptor.get("mediaType"))
    if kind == "index":
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


def _tag_matches(annotations: dict, tag: str) -> bool:
    if annotations.get(REF_NAME) == tag:
        return True
    full = annotations.get(CONTAINERD_NAME)
    return isinstance(full, str) and (full == tag or full.endswith(":" + tag))


def _tags(manifests: list) -> list[str]:
    return sorted({str((m.get("annotations") or {}).get(REF_NAME)) for m in manifests
                   if isinstance(m, dict) and (m.get("annotations") or {}).get(REF_NAME)})


# --------------------------------------------------------------------------- docker-archive

def read_docker_archive(store: TarStore, selector: str | None, reference: str, platform: str | None,
                        limits: Limits) -> OpenedImage:
    where = store.where
    if not store.exists("manifest.json"):
        if store.exists("oci-layout"):  # an oci-archive passed as docker-archive: read it anyway
            return read_oci_layout(store, selector, reference, platform, limits)
        raise ImagelintError(f"{where}: not a docker-archive (no manifest.json)")
    entries = load_json(store.read("manifest.json", limits.max_metadata_bytes), f"{where}: manifest.json")
    if not isinstance(entries, list) or not entries or not all(isinstance(e, dict) for e in entries):
        raise ImagelintError(f"{where}: manifest.json lists no images")
    entry = _choose_archive_entry(entries, selector, where)

    config_path = entry.get("Config")
    if not isinstance(config_path, str) or not store.exists(config_path):
        raise ImagelintError(f"{where}: manifest.json names config {config_path!r}, which is missing")
    config_bytes = store.read(config_path, limits.max_metadata_bytes)
    config_digest = digest_of(config_bytes)
    expected = _digest_from_name(config_path)
    if expected and expected != config_digest:
        raise ImagelintError(f"{where}: config {config_path}: digest mismatch (got {config_digest})")
    raw_config = load_json(config_bytes, f"{where}: config {config_path}")
    diff_ids = diff_ids_of(raw_config, where)
    layer_paths = entry.get("Layers")
    if not isinstance(layer_paths, list) or len(layer_paths) != len(diff_ids):
        raise ImagelintError(f"{where}: manifest.json lists {len(layer_paths or [])} layers but the config "
                             f"has {len(diff_ids)} diff IDs")
    layers = []
    for index, (path, diff_id) in enumerate(zip(layer_paths, diff_ids)):
        if not isinstance(path, str) or not store.exists(path):
            raise ImagelintError(f"{where}: manifest.json names layer {index} {path!r}, which is missing "
                                 "from the archive")
        blob_digest = _digest_from_name(path)
        layers.append(Layer(index=index, diff_id=diff_id, digest=blob_digest,
                            media_type=OCI_LAYER if blob_digest else DOCKER_LAYER, size=store.size(path),
                            opener=(lambda p=path: store.open(p)), source=f"{where}:{path}",
                            raw_digest=blob_digest))
    config = summarize_config(raw_config, where)
    plat = "/".join(p for p in (config["os"], config["architecture"], config["variant"]) if p)
    return OpenedImage(reference=reference, digest=config_digest, config=config, raw_config=raw_config,
                       layers=layers, platform=plat)


def _digest_from_name(path: str) -> str | None:
    """`blobs/sha256/<hex>` and classic `<hex>.json` names carry the digest of their content."""
    match = (re.search(r"(?:^|/)blobs/(sha256)/([0-9a-f]{64})$", path)
             or re.search(r"(?:^|/)()([0-9a-f]{64})\.json$", path))
    if not match:
        return None
    return f"{match.group(1) or 'sha256'}:{match.group(2)}"


def _choose_archive_entry(entries: list[dict], selector: str | None, where: str) -> dict:
    if selector is None:
        if len(entries) == 1:
            return entries[0]
        tags = [t for e in entries for t in (e.get("RepoTags") or [])]
        raise ImagelintError(f"{where}: holds {len(entries)} images; name one as {where}:NAME:TAG or "
                             f"{where}:@INDEX (tags: {', '.join(tags) or 'none'})")
    if selector.startswith("@"):
        try:
            return entries[int(selector[1:])]
        except (ValueError, IndexError):
            raise ImagelintError(f"{where}: no image at index {selector[1:]!r}") from None
    wanted = parse_name(selector)
    for entry in entries:
        for tag in entry.get("RepoTags") or []:
            try:
                if parse_name(tag) == wanted:
                    return entry
            except ImagelintError:
                continue
    tags = [t for e in entries for t in (e.get("RepoTags") or [])]
    raise ImagelintError(f"{where}: no image named {selector!r} (tags: {', '.join(tags) or 'none'})")


# --------------------------------------------------------------------------- local engine

def _docker_client(timeout: float = 60):
    try:
        import docker  # heavy: only the daemon source needs it
    except ImportError:
        raise ImagelintError("the docker Python package is needed to read from the Docker engine "
                             "(pip install docker)") from None
    try:
        return docker.from_env(timeout=timeout)
    except docker.errors.DockerException as exc:
        raise ImagelintError(f"cannot reach the Docker engine ({_short(exc)}); set DOCKER_HOST "
                             "or use docker-archive:/oci: references") from None


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else exc.__class__.__name__


def engine_reachable() -> bool:
    """True when a Docker engine answers (DOCKER_HOST or the default socket), within 2 seconds."""
    if not os.environ.get("DOCKER_HOST") and not os.path.exists("/var/run/docker.sock"):
        return False
    try:
        client = _docker_client(timeout=2)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # any failure just means "not reachable": fall back to the registry
        return False


def open_daemon_image(name: str, reference: str, platform: str | None, limits: Limits,
                      missing_ok: bool = False) -> OpenedImage | None:
    """`docker save` through the SDK, spooled into an anonymous temp file, read as a docker-archive."""
    import docker

    client = _docker_client()
    try:
        try:
            image = client.images.get(name)
        except docker.errors.ImageNotFound:
            if missing_ok:
                return None
            raise ImagelintError(f"image {name!r} not found in the Docker engine") from None
        except docker.errors.APIError as exc:
            raise ImagelintError(f"Docker engine error for {name!r}: {_short(exc)}") from None
        # TemporaryFile is unlinked at once: nothing stays on disk, even if we are killed.
        spool = tempfile.TemporaryFile(prefix="imagelint-save-")
        try:
            for chunk in image.save(named=False):
                spool.write(chunk)
            spool.flush()
            spool.seek(0)
            store = TarStore(f"docker-daemon:{name}", fileobj=spool)
            opened = read_docker_archive(store, None, reference, platform, limits)
        except docker.errors.APIError as exc:
            spool.close()
            raise ImagelintError(f"Docker engine error saving {name!r}: {_short(exc)}") from None
        except BaseException:
            spool.close()
            raise
        opened._closers.append(spool.close)
        opened.source = "docker-daemon"
        return opened
    finally:
        client.close()


# --------------------------------------------------------------------------- entry point

def open_image(ref: str | ImageReference, *, platform: str | None = None, ca_file: str | None = None,
               insecure_registries: Iterable[str] = (), limits: Limits = DEFAULT_LIMITS) -> OpenedImage:
    """Open an image by containers-image reference; metadata is read now, layer blobs later.

    Close it (or use `with`) to release archive handles and the daemon's temp file.
    """
    reference = ref if isinstance(ref, ImageReference) else parse_reference(ref)
    if platform:
        parse_platform(platform)
    text = reference.text
    if reference.transport in ("oci", "oci-archive", "docker-archive"):
        path = reference.path or ""
        if reference.transport == "oci":
            if not os.path.isdir(path):
                raise ImagelintError(f"{path}: no such OCI layout directory")
            opened = read_oci_layout(DirStore(path), reference.selector, text, platform, limits)
            opened.source = "oci"
            return opened
        if not os.path.isfile(path):
            raise ImagelintError(f"{path}: no such archive")
        store = TarStore(path, path=path)
        try:
            if reference.transport == "oci-archive":
                opened = read_oci_layout(store, reference.selector, text, platform, limits)
            else:
                opened = read_docker_archive(store, reference.selector, text, platform, limits)
        except BaseException:
            store.close()
            raise
        opened._closers.append(store.close)
        opened.source = reference.transport
        return opened
    if reference.transport == "docker-daemon":
        opened = open_daemon_image(reference.selector or "", text, platform, limits)
        assert opened is not None
        return opened

    from .registry import open_registry_image  # requests is only needed for registries

    assert reference.name is not None
    if reference.transport == "docker":
        return open_registry_image(reference.name, text, platform=platform, ca_file=ca_file,
                                   insecure_registries=tuple(insecure_registries), limits=limits)
    # A bare name: the local engine if it has the image, else the registry (as Trivy does).
    if engine_reachable():
        local = open_daemon_image(_daemon_name(reference.name, text), text, platform, limits, missing_ok=True)
        if local is not None:
            return local
    return open_registry_image(reference.name, text, platform=platform, ca_file=ca_file,
                               insecure_registries=tuple(insecure_registries), limits=limits)


def _daemon_name(name: RegistryName, text: str) -> str:
    return text if "@" in text else name.familiar
