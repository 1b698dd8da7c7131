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


# ---- digest-less docker-archive layers: hashed before a cached record is used, unless the stat memo knows the file

@pytest.fixture
def archive(tmp_path):
    """A classic `docker save` archive (layers named by v1 ids, no blob digest), old enough for a memo."""
    from imagekit import write_docker_archive

    corp = make_ca("Corp Root CA")[0]
    layer = Layer().file("etc/os-release", "ID=debian\n").file("etc/ssl/certs/ca-certificates.crt", corp)
    reference = write_docker_archive(tmp_path / "app.tar", Image([layer]), style="classic")
    return reference, tmp_path / "app.tar"


def make_old(path: Path) -> None:
    """Wait until the file's ctime is RACY_NS old: a memo is only written for a file not changed within it."""
    import os
    import time

    from imagelint.image.cache import RACY_NS

    wait = (path.stat().st_ctime_ns + RACY_NS - time.time_ns()) / 1e9 + 0.05
    if wait > 0:
        time.sleep(wait)
    assert time.time_ns() - os.stat(path).st_ctime_ns > RACY_NS


def read_tree(reference: str, cache: LayerCache):
    from imagelint.image.sources import open_image
    from imagelint.image.tree import read_image_tree
    from imagelint.trust.keep import TRUST_FILES

    with open_image(reference) as image:
        assert image.layers[0].digest is None and image.layers[0].location is not None
        return read_image_tree(image, TRUST_FILES, cache=cache)


def test_an_unchanged_archive_is_known_by_its_stat_memo(tmp_path, archive):
    reference, path = archive
    make_old(path)
    cold = LayerCache(tmp_path / "cache")
    tree = read_tree(reference, cold)
    assert cold.misses == 1 and cold.hashed == 0
    warm = LayerCache(tmp_path / "cache")
    again = read_tree(reference, warm)
    assert (warm.hits, warm.memo_hits, warm.hashed) == (1, 1, 0)  # the record, and no hash of the blob
    assert sorted(again._infos) == sorted(tree._infos) and again._data == tree._data


def test_a_touched_archive_is_hashed_again(tmp_path, archive):
    import os

    reference, path = archive
    make_old(path)
    read_tree(reference, LayerCache(tmp_path / "cache"))
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # same mtime, but the ctime moves: no memo matches
    warm = LayerCache(tmp_path / "cache")
    read_tree(reference, warm)
    assert (warm.hits, warm.memo_hits, warm.hashed) == (1, 0, 1)
    # Hashed just now (the ctime is not RACY_NS old): no memo yet, so the next run hashes too.
    again = LayerCache(tmp_path / "cache")
    read_tree(reference, again)
    assert (again.memo_hits, again.hashed) == (0, 1)


def test_an_archive_changed_in_place_is_not_scanned_from_the_cache(tmp_path, archive):
    reference, path = archive
    cache = tmp_path / "cache"
    cold = inventory(reference, "--cache-dir", str(cache))
    assert cold.returncode == 0, cold.stderr
    data = path.read_bytes()
    assert data.count(b"ID=debian") == 1
    path.write_bytes(data.replace(b"ID=debian", b"ID=ubuntu"))  # same size, a valid tar: only a hash tells
    warm = inventory(reference, "--cache-dir", str(cache))
    assert warm.returncode == 2 and "digest mismatch" in warm.stderr and "Traceback" not in warm.stderr
    assert "ubuntu" not in warm.stdout


def test_a_corrupt_memo_entry_is_ignored_and_rewritten(tmp_path, archive):
    from imagelint.image.cache import MEMO_MAGIC

    reference, path = archive
    make_old(path)
    read_tree(reference, LayerCache(tmp_path / "cache"))
    memos = [e for e in entries(tmp_path / "cache") if e.read_bytes().startswith(MEMO_MAGIC)]
    assert len(memos) == 1
    good = memos[0].read_bytes()
    for corrupt in (good[:-3] + b"xyz", good.replace(MEMO_MAGIC, b"imagelint-stat-mem0"), b"", b"\x00" * 90):
        memos[0].write_bytes(corrupt)
        warm = LayerCache(tmp_path / "cache")
        read_tree(reference, warm)
        assert (warm.memo_hits, warm.hashed) == (0, 1)
        assert memos[0].read_bytes() == good  # rewritten after the hash
    # A memo of another diff ID (a valid entry under this file's key) is not this layer's proof either.
    import hashlib

    body = b"sha256:" + b"0" * 64
    memos[0].write_bytes(MEMO_MAGIC + b" 1 " + hashlib.sha256(body).hexdigest().encode() + b"\n" + body)
    warm = LayerCache(tmp_path / "cache")
    read_tree(reference, warm)
    assert (warm.memo_hits, warm.hashed) == (0, 1)


# ---- the certificate facts kept beside the layer cache

def _bundle() -> bytes:
    import certifi

    return Path(certifi.where()).read_bytes()


def _fresh(data: bytes):
    from imagelint.certs import load

    load._PARSED.clear()
    return load.load_certificates(data, "/etc/ssl/certs/ca-certificates.crt").certificates


def test_certificate_facts_come_back_exactly_from_the_store(tmp_path):
    from imagelint.certs.load import facts_store

    data = _bundle()
    parsed = _fresh(data)
    with facts_store(tmp_path / "certificates"):
        written = _fresh(data)
    assert (tmp_path / "certificates").exists()
    with facts_store(tmp_path / "certificates") as store:
        stored = _fresh(data)
        assert not store.dirty  # every certificate was known
    assert len(stored) == len(parsed) > 100
    assert stored == parsed == written  # every summarised field (dataclass equality)
    assert all(s._cert is None for s in stored)  # not parsed ...
    assert stored[0].cert.subject.rfc4514_string() == parsed[0].subject  # ... until asked for
    assert [s.der for s in stored] == [p.der for p in parsed]


def test_a_corrupt_or_tampered_facts_file_is_ignored_and_rewritten(tmp_path):
    import hashlib

    from imagelint.certs.load import facts_store

    data = _bundle()
    parsed = _fresh(data)
    path = tmp_path / "certificates"
    with facts_store(path):
        _fresh(data)
    good = path.read_bytes()
    head, _, body = good.partition(b"\n")
    # Cut short; a valid checksum over facts that do not belong to their certificate (another
    # certificate's fingerprint: the store's key is the SHA-256 of the DER, so they must agree).
    facts = json.loads(body)
    facts[parsed[0].fingerprint_sha256][2] = parsed[1].fingerprint_sha256
    forged = json.dumps(facts, separators=(",", ":")).encode()
    assert forged != body
    forged_head = head.rsplit(b" ", 1)[0] + b" " + hashlib.sha256(forged).hexdigest().encode()
    for bad in (good[:-10] + b"0" * 10, forged_head + b"\n" + forged, b"imagelint-certificate-facts"):
        path.write_bytes(bad)
        with facts_store(path):
            assert _fresh(data) == parsed
        assert path.read_bytes() == good  # replaced by the facts parsed again


def test_a_warm_scan_reports_what_a_cold_one_does(tmp_path, image):
    reference, _layout = image
    cache = tmp_path / "cache"
    cold = cli("scan", reference, "-f", "json", "--no-cache")
    first = cli("scan", reference, "-f", "json", "--cache-dir", str(cache))
    assert (cache / "certificates").exists()
    warm = cli("scan", reference, "-f", "json", "--cache-dir", str(cache))
    assert cold.returncode == first.returncode == warm.returncode == 1, cold.stderr
    assert json.loads(cold.stdout) == json.loads(first.stdout) == json.loads(warm.stdout)
