"""Hostile image layers (issue 18): a gzip layer of thousands of concatenated gzip members, paths
thousands of directories deep. No RecursionError in decompression, tree building, walks, the keep
filter or the layer cache; scan and trust end with exit 0/1."""
from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import pytest

import imagekit as kit
from imagelint.image.cache import LayerCache
from imagelint.image.sources import open_image
from imagelint.image.tree import read_image_tree
from imagelint.trust.keep import TRUST_FILES
from test_scan_support import debian_layer

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "imagelint.cli", *args], cwd=cwd, capture_output=True,
                          text=True, env=env, timeout=300)


class MemberPerRecordLayer(kit.Layer):
    """A gzip layer written as one gzip member per tar record block (as `cat a.gz b.gz` makes)."""

    def blob(self) -> bytes:
        tar = self.tar()
        return b"".join(gzip.compress(tar[i:i + 1024], compresslevel=1, mtime=0) for i in range(0, len(tar), 1024))


def concatenated_layer(members: int = 1500) -> kit.Layer:
    layer = MemberPerRecordLayer()
    for i in range(members):
        layer.file(f"usr/share/doc/many/f{i}", b"x")
    layer.file("etc/ssl/certs/ca-certificates.crt", kit.make_ca()[0])
    return layer


def deep_layer(depth: int) -> kit.Layer:
    chain = "/".join(["d"] * depth)
    return kit.Layer().file(f"etc/ssl/certs/{chain}/deep.pem", b"not a certificate\n").file(f"{chain}/x", b"x")


@pytest.fixture(scope="module")
def hostile_images(tmp_path_factory):
    base = tmp_path_factory.mktemp("hostile")
    images = {"concatenated": kit.write_oci(base / "concat", kit.Image([debian_layer(), concatenated_layer()]))}
    for depth in (995, 5000):
        images[f"deep{depth}"] = kit.write_oci(base / f"deep{depth}", kit.Image([debian_layer(), deep_layer(depth)]))
    return images


def test_thousands_of_gzip_members_decompress(tmp_path):
    layer = concatenated_layer(1500)
    assert layer.blob().count(b"\x1f\x8b\x08") > 1000
    ref = kit.write_oci(tmp_path / "layout", kit.Image([layer]))
    with open_image(ref) as image:
        tree = read_image_tree(image, TRUST_FILES)
    assert tree.info("/usr/share/doc/many/f1499") is not None


@pytest.mark.parametrize("depth", [995, 5000])
def test_deep_paths_build_walk_and_cache(tmp_path, depth):
    ref = kit.write_oci(tmp_path / "layout", kit.Image([deep_layer(depth)]))
    cache = LayerCache(str(tmp_path / "cache"))
    for _ in range(2):  # the second read comes from the cache record written by the first
        with open_image(ref) as image:
            tree = read_image_tree(image, TRUST_FILES, cache=cache)
        deepest = "/" + "/".join(["d"] * depth) + "/x"
        assert tree.info(deepest) is not None
        assert any(info.path == deepest for info in tree.walk())
        pem = "/etc/ssl/certs/" + "/".join(["d"] * depth) + "/deep.pem"
        assert tree.files_containing([pem, deepest], b"certificate") == {pem}


@pytest.mark.parametrize("name", ["concatenated", "deep995", "deep5000"])
@pytest.mark.parametrize("command", [["scan"], ["scan", "--inventory"]])
def test_scan_ends_cleanly(tmp_path, hostile_images, name, command):
    r = run(*command, "--cache-dir", str(tmp_path / "cache"), hostile_images[name], cwd=tmp_path)
    assert r.returncode in (0, 1), (r.stdout[-1000:], r.stderr[-3000:])
    assert "Traceback" not in r.stderr
    r = run(*command, "--cache-dir", str(tmp_path / "cache"), hostile_images[name], cwd=tmp_path)  # cached
    assert r.returncode in (0, 1) and "Traceback" not in r.stderr, r.stderr[-3000:]


@pytest.mark.parametrize("name", ["concatenated", "deep5000"])
def test_trust_ends_cleanly(tmp_path, hostile_images, name):
    import pki

    (tmp_path / "chain.pem").write_bytes(pki.make_pki().leaf.pem)
    r = run("trust", hostile_images[name], "--chain", "chain.pem", "--no-cache", cwd=tmp_path)
    assert r.returncode in (0, 1), (r.stdout[-1000:], r.stderr[-3000:])
    assert "Traceback" not in r.stderr
