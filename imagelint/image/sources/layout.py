"""OCI image layouts: a directory (`oci:DIR[:tag]`) or a tar of one (`oci-archive:FILE[:tag]`)."""
from __future__ import annotations

from typing import BinaryIO, Callable

from ...findings import ImagelintError
from ..limits import Limits
from ..shapes import check_index
from ..model import REF_NAME, CONTAINERD_NAME, OpenedImage, choose_platform, load_json, resolve_descriptor
from ..streams import parse_digest, verify_bytes
from .blobs import BlobStore


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


def read_oci_layout(store: BlobStore, tag: str | None, reference: str, platform: str | None,
                    limits: Limits) -> OpenedImage:
    where = store.where
    if not store.exists("oci-layout"):
        raise ImagelintError(f"{where}: not an OCI image layout (no oci-layout file)")
    layout = load_json(store.read("oci-layout", 4096), f"{where}/oci-layout")
    if not isinstance(layout, dict) or not str(layout.get("imageLayoutVersion", "")).startswith("1."):
        raise ImagelintError(f"{where}: unsupported OCI layout version")
    index = load_json(store.read("index.json", limits.max_metadata_bytes), f"{where}/index.json")
    check_index(index, f"{where}/index.json")
    manifests = index["manifests"]
    if not manifests:
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


def _tag_matches(annotations: dict, tag: str) -> bool:
    if annotations.get(REF_NAME) == tag:
        return True
    full = annotations.get(CONTAINERD_NAME)
    return isinstance(full, str) and (full == tag or full.endswith(":" + tag))


def _tags(manifests: list) -> list[str]:
    return sorted({str((m.get("annotations") or {}).get(REF_NAME)) for m in manifests
                   if isinstance(m, dict) and (m.get("annotations") or {}).get(REF_NAME)})
