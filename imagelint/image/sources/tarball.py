"""docker-archive: `docker save` (classic), skopeo/podman and Docker >= 25 (an OCI layout inside)."""
from __future__ import annotations

import re

from ...findings import ImagelintError
from ..limits import Limits
from ..model import DOCKER_LAYER, OCI_LAYER, Layer, OpenedImage, diff_ids_of, load_json, summarize_config
from ..reference import parse_name
from ..shapes import check_archive_manifest
from ..streams import digest_of
from .blobs import TarStore
from .layout import read_oci_layout


def read_docker_archive(store: TarStore, selector: str | None, reference: str, platform: str | None,
                        limits: Limits) -> OpenedImage:
    where = store.where
    if not store.exists("manifest.json"):
        if store.exists("oci-layout"):  # an oci-archive passed as docker-archive: read it anyway
            return read_oci_layout(store, selector, reference, platform, limits)
        raise ImagelintError(f"{where}: not a docker-archive (no manifest.json)")
    entries = load_json(store.read("manifest.json", limits.max_metadata_bytes), f"{where}: manifest.json")
    check_archive_manifest(entries, where)
    if not entries:
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
                            raw_digest=blob_digest, location=store.location(path)))
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
