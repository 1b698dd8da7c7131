"""Flattening layers into an ImageTree: whiteouts, links, keep predicate, and hostile input."""
from __future__ import annotations

import gzip
import io
import os
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import pytest

import imagekit as kit
from imagelint.findings import ImagelintError
from imagelint.fs import FileView
from imagelint.image.tree import ImageTree, read_image_tree
from imagelint.trust.keep import TRUST_FILES, keeps
from imagelint.image.limits import MIB, Limits
from imagelint.image.sources import open_image
from imagelint.image.streams import Budget

ROOT = Path(__file__).resolve().parent.parent
# Peak RSS of the measuring process itself: VmHWM starts afresh at exec, while ru_maxrss would carry
# over the high-water mark of the pytest process that forked it.
PEAK_RSS = textwrap.dedent("""
    def peak_rss_mb():
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
""")


def tree_of(tmp_path: Path, *layers: kit.Layer, limits: Limits = Limits(), **image_kwargs) -> ImageTree:
    ref = kit.write_oci(tmp_path / "layout", kit.Image(list(layers), **image_kwargs))
    with open_image(ref, limits=limits) as image:
        return read_image_tree(image, TRUST_FILES, limits=limits)


def paths(tree: ImageTree) -> list[str]:
    return [info.path for info in tree.walk()]


# --------------------------------------------------------------------------- semantics

def test_tree_implements_the_filetree_protocol(tmp_path):
    tree = tree_of(tmp_path, kit.Layer().file("etc/os-release", "ID=alpine\n"))
    protocol_methods = [name for name in vars(FileView) if not name.startswith("_")]
    for name in protocol_methods:
        assert callable(getattr(tree, name)), name
    assert tree.read("/etc/os-release") == b"ID=alpine\n"
    assert tree.info("/etc").kind == "dir"  # implicit parent directory
    assert tree.listdir("/etc") == ["os-release"]


@pytest.mark.parametrize("prefix", ["", "./"])
def test_entry_names_are_normalised(tmp_path, prefix):
    layer = kit.Layer(prefix=prefix).dir("/" if not prefix else "./").dir("etc").file("etc/alpine-release", "3.20\n")
    tree = tree_of(tmp_path, layer)
    assert paths(tree) == ["/", "/etc", "/etc/alpine-release"]
    assert tree.read("etc/alpine-release") == tree.read("/etc//alpine-release/") == b"3.20\n"


def test_whiteout_removes_file_and_subtree_from_lower_layers(tmp_path):
    base = kit.Layer().file("tmp/a", "a").file("opt/app/x", "x").file("opt/app/sub/y", "y").file("keep", "k")
    upper = kit.Layer("zstd").whiteout("tmp/a").whiteout("opt/app")
    tree = tree_of(tmp_path, base, upper)
    assert paths(tree) == ["/", "/keep", "/opt", "/tmp"]
    record = tree.layer_records[1]
    assert record.deleted == {"/tmp/a", "/opt/app", "/opt/app/x", "/opt/app/sub", "/opt/app/sub/y"}
    assert tree.layer_records[0].hidden == {"/tmp/a", "/opt/app/x", "/opt/app/sub/y"}


def test_opaque_directory_hides_lower_contents_but_keeps_its_own(tmp_path):
    base = kit.Layer().file("etc/ssl/certs/old.pem", "old").file("etc/ssl/certs/other.pem", "o")
    upper = kit.Layer("none").opaque("etc/ssl/certs").file("etc/ssl/certs/new.pem", "new")
    tree = tree_of(tmp_path, base, upper)
    assert tree.listdir("/etc/ssl/certs") == ["new.pem"]
    assert tree.read("/etc/ssl/certs/new.pem") == b"new"
    assert tree.layer_records[1].deleted == {"/etc/ssl/certs/old.pem", "/etc/ssl/certs/other.pem"}


def test_whiteout_only_hides_lower_layers_not_its_own(tmp_path):
    base = kit.Layer().file("a", "1")
    # A layer that deletes and re-creates a path (apt replacing a file) keeps the new one.
    upper = kit.Layer().whiteout("a").file("a", "2")
    tree = tree_of(tmp_path, base, upper)
    assert tree.read("/a") is None or tree.info("/a").size == 1
    assert tree.layer_of("/a").index == 1


def test_file_replacing_directory_drops_its_subtree(tmp_path):
    base = kit.Layer().file("opt/thing/inner", "x")
    upper = kit.Layer().file("opt/thing", "now a file")
    tree = tree_of(tmp_path, base, upper)
    assert tree.info("/opt/thing").kind == "file"
    assert "/opt/thing/inner" not in paths(tree)
    assert tree.layer_records[1].deleted == {"/opt/thing/inner"}


def test_later_layer_overwrites_and_layer_of_names_it(tmp_path):
    base = kit.Layer().file("etc/ssl/certs/ca-certificates.crt", "public roots")
    upper = kit.Layer().file("etc/ssl/certs/ca-certificates.crt", "only mine", mode=0o666)
    tree = tree_of(tmp_path, base, upper, created_by=["FROM debian", "COPY bundle /etc/ssl/certs/"])
    assert tree.read("/etc/ssl/certs/ca-certificates.crt") == b"only mine"
    ref = tree.layer_of("/etc/ssl/certs/ca-certificates.crt")
    assert (ref.index, ref.created_by) == (1, "COPY bundle /etc/ssl/certs/")
    assert ref.diff_id == upper.diff_id
    assert tree.info("/etc/ssl/certs/ca-certificates.crt").mode == 0o666
    # The overwritten version still ships in layer 0.
    assert tree.layer_records[0].read("/etc/ssl/certs/ca-certificates.crt") == b"public roots"
    assert "/etc/ssl/certs/ca-certificates.crt" in tree.layer_records[0].hidden


def test_symlinks_resolve_inside_the_image(tmp_path):
    layer = (kit.Layer()
             .file("usr/share/ca-certificates/mozilla/A.crt", "A")
             .symlink("etc/ssl/certs/A.pem", "/usr/share/ca-certificates/mozilla/A.crt")
             .symlink("etc/ssl/certs/rel.pem", "../../../usr/share/ca-certificates/mozilla/A.crt")
             .file("usr/lib/os-release", "ID=debian\n")
             .symlink("etc/os-release", "../usr/lib/os-release")
             .symlink("escape", "../../../../../etc/os-release")  # '..' stops at the image root
             .symlink("dangling", "/nowhere"))
    tree = tree_of(tmp_path, layer)
    assert tree.read("/etc/ssl/certs/A.pem") == tree.read("/etc/ssl/certs/rel.pem") == b"A"
    assert tree.realpath("/etc/os-release") == "/usr/lib/os-release"
    assert tree.read("/etc/os-release") == b"ID=debian\n"
    assert tree.realpath("/escape") == "/usr/lib/os-release"
    assert tree.realpath("/dangling") is None and tree.read("/dangling") is None
    link = tree.info("/etc/os-release", follow=False)
    assert (link.kind, link.link_target, link.path) == ("symlink", "../usr/lib/os-release", "/etc/os-release")
    assert tree.info("/etc/os-release").kind == "file"


def test_symlink_loop_resolves_to_none_without_error(tmp_path):
    layer = kit.Layer().symlink("a", "b").symlink("b", "a").symlink("self", "self").symlink("d/x", "../a")
    tree = tree_of(tmp_path, layer)
    for path in ("/a", "/b", "/self", "/d/x", "/a/below"):
        assert tree.realpath(path) is None
        assert tree.read(path) is None
        assert tree.info(path) is None
        assert tree.listdir(path) == []
    assert tree.info("/a", follow=False).kind == "symlink"


def test_entries_under_a_symlinked_directory_land_where_it_points(tmp_path):
    # usrmerge: /lib -> usr/lib; a later layer writing lib/x writes usr/lib/x, as the engine does.
    base = kit.Layer().dir("usr/lib").symlink("lib", "usr/lib")
    upper = kit.Layer().file("lib/ssl/cert.pem", "pem")
    tree = tree_of(tmp_path, base, upper)
    assert tree.info("/lib", follow=False).kind == "symlink"
    assert tree.read("/usr/lib/ssl/cert.pem") == b"pem"
    assert tree.read("/lib/ssl/cert.pem") == b"pem"


def test_hardlinks_share_contents_within_and_across_layers(tmp_path):
    base = kit.Layer().file("etc/ssl/certs/java/cacerts", b"\xfe\xed\xfe\xed store", mode=0o600)
    upper = (kit.Layer().file("etc/ssl/a.pem", "A")
             .hardlink("etc/ssl/b.pem", "etc/ssl/a.pem")
             .hardlink("opt/jdk/lib/security/cacerts", "etc/ssl/certs/java/cacerts"))
    tree = tree_of(tmp_path, base, upper)
    assert tree.read("/etc/ssl/b.pem") == b"A"
    assert tree.read("/opt/jdk/lib/security/cacerts") == b"\xfe\xed\xfe\xed store"
    info = tree.info("/opt/jdk/lib/security/cacerts")
    assert (info.kind, info.mode, info.size) == ("file", 0o600, 10)


def test_hardlink_to_missing_target_is_a_clear_error(tmp_path):
    layer = kit.Layer().file("a", "a").hardlink("etc/link", "etc/missing")
    with pytest.raises(ImagelintError, match=r"layer 0 .*hardlink /etc/link points at /etc/missing"):
        tree_of(tmp_path, layer)


def test_metadata_of_every_path_is_recorded(tmp_path):
    layer = (kit.Layer().dir("etc/ssl/private", mode=0o700, uid=0, gid=101)
             .file("etc/ssl/certs/ca-certificates.crt", "x", mode=0o664, uid=1000, gid=1000)
             .file("usr/bin/curl", b"\x7fELF", mode=0o755))
    tree = tree_of(tmp_path, layer)
    bundle = tree.info("/etc/ssl/certs/ca-certificates.crt")
    assert (bundle.mode, bundle.uid, bundle.gid, bundle.size) == (0o664, 1000, 1000, 1)
    assert tree.info("/etc/ssl/private").gid == 101
    assert tree.info("/usr/bin/curl").mode == 0o755
    assert tree.read("/usr/bin/curl") is None  # not kept: metadata only


def test_keep_predicate_and_private_key_sniffing(tmp_path):
    key = b"-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----\n"
    layer = (kit.Layer()
             .file("etc/os-release", "ID=debian\n")
             .file("usr/lib/jvm/java-17/release", 'JAVA_VERSION="17.0.9"\n')
             .file("usr/lib/python3/dist-packages/certifi/cacert.pem", "certifi")
             .file("opt/app/config/settings.txt", key)  # a key under an innocent name
             .file("home/u/.ssh/id_ed25519", key)
             .file("srv/big.pem", b"x" * (70 * 1024))  # too big for the small-key-file rule
             .file("srv/readme.txt", "hello"))
    tree = tree_of(tmp_path, layer)
    assert tree.read("/usr/lib/jvm/java-17/release").startswith(b"JAVA_VERSION")
    assert tree.read("/usr/lib/python3/dist-packages/certifi/cacert.pem") == b"certifi"
    assert tree.read("/opt/app/config/settings.txt") == key
    assert tree.read("/home/u/.ssh/id_ed25519") == key
    assert tree.read("/srv/big.pem") is None and tree.info("/srv/big.pem").size == 70 * 1024
    assert tree.read("/srv/readme.txt") is None
    assert keeps("/etc/pki/ca-trust/source/anchors/x.crt", 10 ** 6)
    assert keeps("/opt/java/openjdk/lib/security/cacerts", 200_000)
    assert not keeps("/usr/bin/python3", 5_000_000)


def test_deleted_key_still_ships_in_its_layer(tmp_path):
    key = b"-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\n"
    base = kit.Layer().file("build/server.key", key)
    upper = kit.Layer().whiteout("build")
    tree = tree_of(tmp_path, base, upper, created_by=["COPY . /build", "RUN rm -rf /build"])
    assert tree.info("/build/server.key") is None
    first = tree.layer_records[0]
    assert first.read("/build/server.key") == key
    assert "/build/server.key" in first.hidden
    assert first.created_by == "COPY . /build"
    assert tree.layer_records[1].deleted == {"/build", "/build/server.key"}


def test_node_binary_keeps_only_embedded_certificates(tmp_path):
    pem, _, _ = kit.make_ca("Embedded Root")
    binary = os.urandom(300_000) + b"\x00" + pem + os.urandom(300_000)
    layer = kit.Layer().file("usr/local/bin/node", binary, mode=0o755)
    tree = tree_of(tmp_path, layer)
    assert tree.read("/usr/local/bin/node") is None
    assert tree.embedded_certificates("/usr/local/bin/node") == pem
    assert tree.info("/usr/local/bin/node").size == len(binary)


def test_empty_kept_file_reads_as_empty(tmp_path):
    tree = tree_of(tmp_path, kit.Layer().file("etc/ssl/certs/ca-certificates.crt", b""))
    assert tree.read("/etc/ssl/certs/ca-certificates.crt") == b""


def test_progress_callback_sees_every_byte(tmp_path):
    layers = [kit.Layer().file("a", os.urandom(50_000)), kit.Layer("zstd").file("b", b"z" * 100_000)]
    ref = kit.write_oci(tmp_path / "layout", kit.Image(layers))
    seen: dict[tuple[int, str], int] = {}

    def progress(index: int, kind: str, amount: int) -> None:
        seen[index, kind] = seen.get((index, kind), 0) + amount

    with open_image(ref) as image:
        read_image_tree(image, TRUST_FILES, progress=progress)
    assert seen[0, "uncompressed"] == len(layers[0].tar())
    assert seen[1, "stored"] == len(layers[1].blob())


# --------------------------------------------------------------------------- hostile layers

def _raw_entry(name: str, data: bytes = b"x", kind=tarfile.REGTYPE, linkname: str = "") -> tuple:
    info = tarfile.TarInfo(name)
    info.type, info.size, info.linkname = kind, (len(data) if kind == tarfile.REGTYPE else 0), linkname
    return info, (data if kind == tarfile.REGTYPE else None)


@pytest.mark.parametrize("name", ["../etc/passwd", "etc/../../root/x", "./../x"])
def test_dotdot_entry_is_refused_naming_the_layer(tmp_path, name):
    layer = kit.Layer().file("ok", "fine")
    layer.raw(*_raw_entry(name))
    with pytest.raises(ImagelintError, match=r"layer 1 \(sha256:[0-9a-f]{12}\): tar entry .* escapes"):
        tree_of(tmp_path, kit.Layer().file("base", "b"), layer)


def test_absolute_entry_is_refused(tmp_path):
    layer = kit.Layer()
    layer.raw(*_raw_entry("/etc/shadow"))
    with pytest.raises(ImagelintError, match=r"layer 0 .*'/etc/shadow' has an absolute path"):
        tree_of(tmp_path, layer)


def test_hardlink_escaping_the_root_is_refused(tmp_path):
    layer = kit.Layer().file("a", "a")
    layer.raw(*_raw_entry("link", kind=tarfile.LNKTYPE, linkname="../../etc/passwd"))
    with pytest.raises(ImagelintError, match="escapes the image root"):
        tree_of(tmp_path, layer)


def test_decompression_bomb_is_stopped_by_the_expansion_ratio(tmp_path):
    # 200 MB of zeros gzip to ~200 KB: a ratio of ~1000, stopped after the 64 MB floor by default.
    zeros = tarfile.TarInfo("zeros")
    zeros.size = 200 * MIB

    class Zeros(io.RawIOBase):
        remaining = zeros.size

        def readinto(self, buffer):
            n = min(len(buffer), self.remaining)
            buffer[:n] = bytes(n)
            self.remaining -= n
            return n

    raw = io.BytesIO()
    with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0) as gz:
        with tarfile.open(fileobj=gz, mode="w") as archive:
            archive.addfile(zeros, Zeros())
    blob = raw.getvalue()
    assert len(blob) < 1 * MIB
    layout = _layout_with_blob(tmp_path, blob, diff_id="sha256:" + "0" * 64)
    with open_image(f"oci:{layout}") as image, pytest.raises(ImagelintError, match="decompression bomb: expands"):
        read_image_tree(image, TRUST_FILES)


def test_total_size_cap(tmp_path):
    layer = kit.Layer("none").file("big", os.urandom(3 * MIB))
    with pytest.raises(ImagelintError, match="decompression bomb: the image expands beyond"):
        tree_of(tmp_path, layer, limits=Limits(max_total_bytes=2 * MIB))


def _layout_with_blob(tmp_path: Path, blob: bytes, diff_id: str) -> Path:
    """An OCI layout whose single layer is exactly `blob` (any bytes) with the given diff ID."""
    import hashlib
    import json

    layout = tmp_path / "raw-layout"
    blobs = kit._Blobs(layout)
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    config = json.dumps({"os": "linux", "architecture": "amd64", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": [diff_id]}}).encode()
    manifest = json.dumps({"schemaVersion": 2, "config": {"digest": blobs.put(config), "size": len(config)},
                           "layers": [{"mediaType": kit.LAYER_TYPES["gzip"], "digest": blobs.put(blob),
                                       "size": len(blob)}]}).encode()
    digest = blobs.put(manifest)
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": kit.OCI_MANIFEST, "digest": digest, "size": len(manifest)}]}))
    assert hashlib.sha256(blob).hexdigest() in os.listdir(layout / "blobs" / "sha256")
    return layout


def test_truncated_layer_tar_is_an_error(tmp_path):
    layer = kit.Layer("none").file("etc/a", os.urandom(10_000)).file("etc/b", "b")
    blob = layer.tar()[:6000]  # cut inside the first file's data
    layout = _layout_with_blob(tmp_path, blob, diff_id=layer.diff_id)
    with open_image(f"oci:{layout}") as image, pytest.raises(ImagelintError, match="layer 0 .*(truncated|corrupt)"):
        read_image_tree(image, TRUST_FILES)


def test_truncated_gzip_layer_is_an_error(tmp_path):
    layer = kit.Layer("gzip").file("etc/a", os.urandom(10_000))
    layout = _layout_with_blob(tmp_path, layer.blob()[:-50], diff_id=layer.diff_id)
    with open_image(f"oci:{layout}") as image, pytest.raises(ImagelintError, match="truncated"):
        read_image_tree(image, TRUST_FILES)


@pytest.mark.parametrize("cut", [700, 6000, 10_000, 10_600, 11_000])
def test_truncated_layers_are_errors(tmp_path, cut):
    """Cut anywhere, in members nothing keeps or searches too, with a diff ID that matches the cut
    bytes (as a registry serving the short blob with its own digest would): always an error."""
    layer = kit.Layer("none").file("data/big", os.urandom(10_000)).file("data/b", "b")
    blob = layer.tar()[:cut]
    layout = _layout_with_blob(tmp_path, blob, diff_id=kit.sha256(blob))
    with open_image(f"oci:{layout}") as image, pytest.raises(ImagelintError, match="layer 0 .*(truncated|corrupt)"):
        read_image_tree(image, TRUST_FILES)


def test_diff_id_mismatch_is_an_error(tmp_path):
    layer = kit.Layer("gzip").file("etc/a", "a")
    layout = _layout_with_blob(tmp_path, layer.blob(), diff_id="sha256:" + "1" * 64)
    with open_image(f"oci:{layout}") as image, pytest.raises(ImagelintError, match="digest mismatch"):
        read_image_tree(image, TRUST_FILES)


def test_garbage_after_end_of_archive_is_an_error(tmp_path):
    layer = kit.Layer("none").file("etc/a", "a")
    blob = layer.tar() + b"\x01hidden entries our reader and the engine would disagree on"
    layout = _layout_with_blob(tmp_path, blob, diff_id=kit.sha256(blob))
    with open_image(f"oci:{layout}") as image, pytest.raises(ImagelintError, match="corrupt tar"):
        read_image_tree(image, TRUST_FILES)


def test_empty_layer_blob_is_an_empty_layer(tmp_path):
    layout = _layout_with_blob(tmp_path, b"", diff_id=kit.sha256(b""))
    with open_image(f"oci:{layout}") as image:
        tree = read_image_tree(image, TRUST_FILES)
    assert paths(tree) == ["/"]


def test_many_tiny_files_are_quick_with_flat_memory(tmp_path):
    """100,000 files: seconds, and memory for metadata only (read in a fresh process)."""
    layer = kit.Layer()
    for i in range(100_000):
        layer.file(f"data/d{i % 100}/f{i}.txt", b"x")
    ref = kit.write_oci(tmp_path / "many", kit.Image([layer]))
    del layer
    script = textwrap.dedent(f"""
        import sys, time
        sys.path[:0] = [{str(ROOT)!r}]
        from imagelint.image.sources import open_image
        from imagelint.image.tree import read_image_tree
        from imagelint.trust.keep import TRUST_FILES
        start = time.monotonic()
        with open_image({ref!r}) as image:
            tree = read_image_tree(image, TRUST_FILES)
        peak_mb = peak_rss_mb()
        print(time.monotonic() - start, len(tree), peak_mb)
    """)
    result = subprocess.run([sys.executable, "-c", PEAK_RSS + script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    seconds, count, peak_mb = result.stdout.split()
    assert int(count) == 100_000 + 102  # files, 100 dirs, /data and /
    assert float(seconds) < 60  # about 4 s on an idle 2-core machine
    assert float(peak_mb) < 150, f"peak RSS {peak_mb} MB"


def test_peak_memory_stays_flat_for_a_large_layer(tmp_path):
    """A 300 MB layer of incompressible data streams through in a few MB (fresh process)."""
    script = textwrap.dedent(f"""
        import hashlib, json, os, sys
        sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / 'tests')!r}]
        import imagekit as kit
        from imagelint.image.sources import open_image
        from imagelint.image.tree import read_image_tree
        from imagelint.trust.keep import TRUST_FILES
        layout = {str(tmp_path / 'big')!r}
        blobs = kit._Blobs(__import__("pathlib").Path(layout))
        path = os.path.join(layout, "layer.tar")
        import tarfile
        with tarfile.open(path, "w") as archive:
            for i in range(30):
                info = tarfile.TarInfo(f"blob{{i}}")
                info.size = 10 * 1024 * 1024
                archive.addfile(info, open("/dev/urandom", "rb"))
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
        diff_id = "sha256:" + digest.hexdigest()
        os.rename(path, os.path.join(layout, "blobs", "sha256", digest.hexdigest()))
        size = os.path.getsize(os.path.join(layout, "blobs", "sha256", digest.hexdigest()))
        config = json.dumps({{"os": "linux", "architecture": "amd64",
                              "rootfs": {{"type": "layers", "diff_ids": [diff_id]}}}}).encode()
        manifest = json.dumps({{"schemaVersion": 2, "config": {{"digest": blobs.put(config), "size": len(config)}},
                               "layers": [{{"digest": diff_id, "size": size,
                                           "mediaType": kit.LAYER_TYPES["none"]}}]}}).encode()
        open(os.path.join(layout, "oci-layout"), "w").write('{{"imageLayoutVersion": "1.0.0"}}')
        open(os.path.join(layout, "index.json"), "w").write(json.dumps({{"schemaVersion": 2, "manifests": [
            {{"mediaType": kit.OCI_MANIFEST, "digest": blobs.put(manifest), "size": len(manifest)}}]}}))
        before = peak_rss_mb()
        with open_image("oci:" + layout) as image:
            tree = read_image_tree(image, TRUST_FILES)
        after = peak_rss_mb()
        print(before, after, len(tree))
    """)
    result = subprocess.run([sys.executable, "-c", PEAK_RSS + script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    before, after, count = result.stdout.split()
    assert int(count) == 31
    assert float(after) - float(before) < 40, f"peak RSS grew from {before} to {after} MB"


# --------------------------------------------------------------------------- uncompressed blobs read in place

def _mixed_layer(compression: str) -> kit.Layer:
    """Kept files between large files nobody reads (skipped in place, only hashed)."""
    layer = kit.Layer(compression)
    for i in range(40):
        layer.file(f"data/big{i}", os.urandom(200_000 + i * 5_000))
        layer.file(f"etc/ssl/certs/c{i}.pem", f"pem {i}\n" * (i + 1))
        layer.file(f"data/small{i}", b"s" * i)
    return layer.file("etc/os-release", "ID=debian\n")


def _tree_fields(tree: ImageTree):
    return sorted(tree._infos.items()), tree._data


@pytest.mark.parametrize("style", ["oci", "docker-archive"])
def test_an_uncompressed_blob_read_in_place_gives_the_streamed_tree(tmp_path, style):
    plain, gz = _mixed_layer("none"), _mixed_layer("gzip")
    gz.entries = plain.entries  # the same files
    streamed = kit.write_oci(tmp_path / "gz", kit.Image([gz]))
    if style == "oci":
        in_place = kit.write_oci(tmp_path / "plain", kit.Image([plain]))
    else:
        in_place = kit.write_docker_archive(tmp_path / "plain.tar", kit.Image([plain]))
    with open_image(in_place) as image:
        probe = image.layers[0].open_in_place(image.layers[0].opener(), Budget(Limits()))
        assert probe is not None
        probe.close()
        seen: dict[str, int] = {}
        tree = read_image_tree(image, TRUST_FILES, progress=lambda i, kind, n: seen.update({kind: seen.get(kind, 0) + n}))
    with open_image(streamed) as image:
        reference = read_image_tree(image, TRUST_FILES)
    assert _tree_fields(tree) == _tree_fields(reference)
    assert len(tree._data) == 41  # the 40 PEM files and os-release
    assert seen == {"stored": len(plain.tar()), "uncompressed": len(plain.tar())}


def test_an_in_place_blob_with_another_digest_is_an_error(tmp_path):
    layer = _mixed_layer("none")
    layout = _layout_with_blob(tmp_path, layer.tar(), diff_id="sha256:" + "1" * 64)
    with open_image(f"oci:{layout}") as image, pytest.raises(ImagelintError, match="digest mismatch"):
        read_image_tree(image, TRUST_FILES)
