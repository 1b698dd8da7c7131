"""The layer cache: a second scan reads no layer it has seen, and a bad entry is never trusted."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from imagekit import Image, Layer, make_ca, write_oci
from imagelint.image.cache import LayerCache, _encode
from imagelint.image.layers import KeepPolicy, LayerRecord
from imagelint.image.model import Layer as ImageLayer


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "imagelint.cli", *args], capture_output=True, text=True, timeout=120)


@pytest.fixture
def image(tmp_path):
    corp = make_ca("Corp Root CA")[0]
    base = Layer().file("etc/os-release", "ID=debian\n").file("etc/ssl/certs/ca-certificates.crt", corp)
    app = Layer().file("usr/local/share/ca-certificates/corp.crt", corp).file("app/main.py", "print(1)\n")
    reference = write_oci(tmp_path / "layout", Image([base, app]))
    return reference, tmp_path / "layout"


def blobs(layout: Path) -> list[Path]:
    index = json.loads((layout / "index.json").read_text())
    manifest_digest = index["manifests"][0]["digest"].split(":")[1]
    manifest = json.loads((layout / "blobs" / "sha256" / manifest_digest).read_text())
    return [layout / "blobs" / "sha256" / layer["digest"].split(":")[1] for layer in manifest["layers"]]


def entries(cache: Path) -> list[Path]:
    return sorted(e for e in cache.glob("??/*") if not e.name.startswith("."))  # not the lock files


def inventory(reference: str, *extra: str) -> subprocess.CompletedProcess:
    return cli("scan", reference, "--inventory", "-f", "json", *extra)


def test_a_cached_layer_is_not_read_again(tmp_path, image):
    reference, layout = image
    cache = tmp_path / "cache"
    cold = inventory(reference, "--cache-dir", str(cache))
    assert cold.returncode == 0, cold.stderr
    assert len(entries(cache)) == 2  # one record per layer
    for blob in blobs(layout):  # break every layer blob: only a read would notice
        blob.write_bytes(b"\x00" * blob.stat().st_size)
    warm = inventory(reference, "--cache-dir", str(cache))
    assert warm.returncode == 0, warm.stderr
    assert json.loads(warm.stdout) == json.loads(cold.stdout)
    uncached = inventory(reference, "--cache-dir", str(cache), "--no-cache")
    assert uncached.returncode == 2 and "Traceback" not in uncached.stderr


def test_a_corrupt_entry_is_ignored_and_rewritten(tmp_path, image):
    reference, _layout = image
    cache = tmp_path / "cache"
    first = inventory(reference, "--cache-dir", str(cache))
    found = entries(cache)
    good = {e: e.read_bytes() for e in found}
    for entry in found:
        data = bytearray(good[entry])
        data[-5] ^= 0xFF  # one flipped bit in the compressed body
        entry.write_bytes(bytes(data))
    again = inventory(reference, "--cache-dir", str(cache))
    assert json.loads(again.stdout) == json.loads(first.stdout)
    assert {e: e.read_bytes() for e in entries(cache)} == good  # rewritten, valid again


def test_a_tampered_entry_with_a_matching_checksum_still_must_parse(tmp_path):
    layer = ImageLayer(index=0, digest="sha256:" + "a" * 64, diff_id="sha256:" + "b" * 64, size=1,
                       media_type="application/vnd.oci.image.layer.v1.tar", opener=None)
    cache = LayerCache(tmp_path)
    key = cache.key(layer, KeepPolicy(cache_key="test:1"))
    entry = cache._path(key)
    entry.parent.mkdir(parents=True)
    import hashlib
    import zlib

    body = zlib.compress(b'{"added": [["../../etc/passwd", "file", 420, 0, 0, 1, null]]}')
    entry.write_bytes(b"imagelint-layer-cache 1 " + hashlib.sha256(body).hexdigest().encode() + b"\n" + body)
    assert cache.load(key, layer) is None and not entry.exists()


def test_keys_change_with_policy_and_layer(tmp_path):
    def layer(digest: str) -> ImageLayer:
        return ImageLayer(index=0, digest=digest, diff_id="sha256:" + "c" * 64, size=1,
                          media_type="application/vnd.oci.image.layer.v1.tar", opener=None)

    cache = LayerCache(tmp_path)
    one, two = layer("sha256:" + "1" * 64), layer("sha256:" + "2" * 64)
    assert cache.key(one, KeepPolicy(cache_key="a")) != cache.key(one, KeepPolicy(cache_key="b"))
    assert cache.key(one, KeepPolicy(cache_key="a")) != cache.key(two, KeepPolicy(cache_key="a"))
    assert cache.key(one, KeepPolicy()) is None  # a policy without a key is never cached


def test_the_cache_stays_under_its_bound(tmp_path):
    cache = LayerCache(tmp_path, max_bytes=200_000)
    for i in range(20):
        record = LayerRecord(index=0, diff_id="d", digest="g")
        record.kept["/blob"] = bytes([i]) * 1 + __import__("os").urandom(20_000)
        cache.store(f"{i:02d}" + "0" * 62, record)
    total = sum(p.stat().st_size for p in entries(tmp_path))
    assert 0 < total <= 200_000


def test_records_round_trip_exactly(tmp_path):
    from imagelint.fs import FileInfo
    from imagelint.image.cache import _decode

    record = LayerRecord(index=3, diff_id="sha256:" + "d" * 64, digest="sha256:" + "e" * 64)
    record.added = {"/a": FileInfo("/a", "file", 0o4755, 1, 2, 3), "/l": FileInfo("/l", "symlink", 0o777, 0, 0, 0, "a")}
    record.whiteouts, record.opaque_dirs = ["/gone"], ["/etc/ssl"]
    record.kept, record.embedded = {"/a": b"\x00\xffdata"}, {"/usr/bin/node": b"-----BEGIN CERTIFICATE-----"}
    record.searched, record.found = {b"\xff Go buildinf:": {"/app", "/b"}}, {b"\xff Go buildinf:": {"/app"}}
    record.hardlinks, record.notes, record.uncompressed_size = {"/h": "/a"}, ["note"], 12345
    layer = ImageLayer(index=7, digest=record.digest, diff_id=record.diff_id, size=1,
                       media_type="application/vnd.oci.image.layer.v1.tar", opener=None)
    back = _decode(_encode(record), layer)
    for name in ("added", "whiteouts", "opaque_dirs", "kept", "embedded", "searched", "found", "hardlinks", "notes",
                 "uncompressed_size"):
        assert getattr(back, name) == getattr(record, name), name
    assert back.index == 7
