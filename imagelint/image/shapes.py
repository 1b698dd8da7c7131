"""The JSON shapes of image metadata, checked in one place for every source (OCI layout,
docker-archive, registry, daemon): an image config, a manifest, an index and their descriptors,
as the OCI image spec (image-spec config.md, manifest.md, image-index.md, descriptor.md) and
Docker's image spec v1.2 define them. A wrong type is one line naming the image and the JSON path
(`config.Env must be an array of strings, not a number`), never a traceback deeper in."""
from __future__ import annotations

from typing import Any

from ..findings import ImagelintError

_JSON_NAMES = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "a number",
               float: "a number", type(None): "null"}


def _kind(value: Any) -> str:
    return _JSON_NAMES.get(type(value), type(value).__name__)


def _fail(what: str, path: str, expected: str, value: Any) -> None:
    raise ImagelintError(f"{what}: {path} must be {expected}, not {_kind(value)}")


def _optional(document: dict, key: str, path: str, what: str, check) -> None:
    if key in document and document[key] is not None:
        check(document[key], f"{path}.{key}" if path else key, what)


def _string(value: Any, path: str, what: str) -> None:
    if not isinstance(value, str):
        _fail(what, path, "a string", value)


def _strings(value: Any, path: str, what: str) -> None:
    if not isinstance(value, list):
        _fail(what, path, "an array of strings", value)
    for i, item in enumerate(value):
        if not isinstance(item, str):
            _fail(what, f"{path}[{i}]", "a string", item)


def _object(value: Any, path: str, what: str) -> None:
    if not isinstance(value, dict):
        _fail(what, path, "an object", value)


def _string_map(value: Any, path: str, what: str) -> None:
    _object(value, path, what)
    for key, item in value.items():
        if not isinstance(item, str):
            _fail(what, f"{path}[{key!r}]", "a string", item)


def _size(value: Any, path: str, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        _fail(what, path, "a non-negative integer", value)


def check_config(raw: Any, what: str) -> None:
    """An image config (image-spec config.md): the fields imagelint reads, each of its type."""
    if not isinstance(raw, dict):
        _fail(what, "image config", "a JSON object", raw)
    for key in ("os", "architecture", "variant", "created"):
        _optional(raw, key, "", what, _string)
    _optional(raw, "history", "", what, _history)
    if "rootfs" not in raw or not isinstance(raw["rootfs"], dict):
        _fail(what, "rootfs", "an object with diff_ids", raw.get("rootfs"))
    if not isinstance(raw["rootfs"].get("diff_ids"), list):
        _fail(what, "rootfs.diff_ids", "an array of digests", raw["rootfs"].get("diff_ids"))
    _strings(raw["rootfs"]["diff_ids"], "rootfs.diff_ids", what)
    container = raw.get("config")
    if container is None:
        return
    _object(container, "config", what)
    for key in ("Env", "Entrypoint", "Cmd"):
        _optional(container, key, "config", what, _strings)
    for key in ("User", "WorkingDir", "StopSignal"):
        _optional(container, key, "config", what, _string)
    _optional(container, "Labels", "config", what, _string_map)
    for key in ("ExposedPorts", "Volumes"):
        _optional(container, key, "config", what, _object)


def _history(value: Any, path: str, what: str) -> None:
    if not isinstance(value, list):
        _fail(what, path, "an array of objects", value)
    for i, item in enumerate(value):
        _object(item, f"{path}[{i}]", what)
        for key in ("created_by", "comment", "created"):
            _optional(item, key, f"{path}[{i}]", what, _string)


def check_descriptor(value: Any, path: str, what: str) -> None:
    """A content descriptor (image-spec descriptor.md): mediaType, digest, size; platform and
    annotations when present."""
    _object(value, path, what)
    _optional(value, "mediaType", path, what, _string)
    if not isinstance(value.get("digest"), str):
        _fail(what, f"{path}.digest", "a string", value.get("digest"))
    if "size" in value:
        _size(value["size"], f"{path}.size", what)
    _optional(value, "annotations", path, what, _string_map)
    _optional(value, "platform", path, what, _platform)
    _optional(value, "urls", path, what, _strings)


def _platform(value: Any, path: str, what: str) -> None:
    _object(value, path, what)
    for key in ("os", "architecture", "variant", "os.version"):
        _optional(value, key, path, what, _string)


def check_manifest(document: dict, what: str) -> None:
    """An image manifest (image-spec manifest.md; Docker schema 2)."""
    _optional(document, "mediaType", "", what, _string)
    if "config" not in document:
        raise ImagelintError(f"{what}: manifest has no config descriptor")
    check_descriptor(document["config"], "config", what)
    if "layers" not in document:
        raise ImagelintError(f"{what}: manifest has no layers array")
    if not isinstance(document["layers"], list):
        _fail(what, "layers", "an array of descriptors", document["layers"])
    for i, layer in enumerate(document["layers"]):
        check_descriptor(layer, f"layers[{i}]", what)
    _optional(document, "annotations", "", what, _string_map)


def check_index(document: Any, what: str) -> None:
    """An image index (image-spec image-index.md; a Docker manifest list; an OCI layout's index.json)."""
    _object(document, "index", what)
    _optional(document, "mediaType", "", what, _string)
    if not isinstance(document.get("manifests"), list):
        _fail(what, "manifests", "an array of descriptors", document.get("manifests"))
    for i, descriptor in enumerate(document["manifests"]):
        check_descriptor(descriptor, f"manifests[{i}]", what)


def check_archive_manifest(entries: Any, what: str) -> None:
    """A docker-archive manifest.json (moby image/tarexport): an array of {Config, RepoTags, Layers}."""
    if not isinstance(entries, list):
        _fail(what, "manifest.json", "an array of images", entries)
    for i, entry in enumerate(entries):
        _object(entry, f"manifest.json[{i}]", what)
        if not isinstance(entry.get("Config"), str):
            _fail(what, f"manifest.json[{i}].Config", "a string", entry.get("Config"))
        if not isinstance(entry.get("Layers"), list):
            _fail(what, f"manifest.json[{i}].Layers", "an array of paths", entry.get("Layers"))
        _strings(entry["Layers"], f"manifest.json[{i}].Layers", what)
        _optional(entry, "RepoTags", f"manifest.json[{i}]", what, _strings)
