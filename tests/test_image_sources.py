"""Every image source gives the same image: references, archive formats, OCI layouts, indexes,
the local engine, and bad archives."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

import imagekit as kit
from imagelint.findings import ImagelintError
from imagelint.image.layers import KeepPolicy
from imagelint.image.tree import ImageTree, read_image_tree
from imagelint.trust.keep import TRUST_FILES
from imagelint.image.reference import parse_name, parse_reference
from imagelint.image.model import host_platform_string
from imagelint.image.sources import open_image

KEY = b"-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----\n"


def sample_image(compressions=("gzip", "zstd", "none"), **kwargs) -> kit.Image:
    """Three layers touching every feature a reader must get right."""
    pem, _, _ = kit.make_ca("Conformance CA")
    base = (kit.Layer(compressions[0], prefix="./").dir("./")
            .file("etc/os-release", "ID=debian\nVERSION_ID=12\n")
            .file("usr/share/ca-certificates/mozilla/Root.crt", pem)
            .symlink("etc/ssl/certs/Root.pem", "/usr/share/ca-certificates/mozilla/Root.crt")
            .file("etc/ssl/certs/ca-certificates.crt", pem)
            .file("tmp/build/secret.key", KEY)
            .file("opt/old/a", "a").file("opt/old/b", "b")
            .file("usr/bin/curl", b"\x7fELF curl", mode=0o755))
    middle = (kit.Layer(compressions[1])
              .whiteout("tmp/build")
              .opaque("opt/old").file("opt/old/c", "c")
              .file("usr/local/share/ca-certificates/corp.crt", pem, mode=0o664, uid=1000, gid=1000)
              .hardlink("etc/ssl/corp-copy.crt", "usr/local/share/ca-certificates/corp.crt"))
    top = (kit.Layer(compressions[2])
           .file("etc/ssl/certs/ca-certificates.crt", pem + pem)
           .symlink("loop", "loop"))
    defaults = dict(env=["PATH=/usr/bin", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"],
                    entrypoint=["/usr/bin/curl"], cmd=["https://example.com"], user="1000:1000",
                    labels={"org.opencontainers.image.title": "sample"},
                    created_by=["FROM debian", "RUN update-ca-certificates", "COPY bundle /etc/ssl/certs/"])
    return kit.Image([base, middle, top], **{**defaults, **kwargs})


def flatten(tree: ImageTree) -> list[tuple]:
    return [(i.path, i.kind, i.mode, i.uid, i.gid, i.size, i.link_target, tree.read(i.path))
            for i in tree.walk() if i.kind != "symlink" or tree.realpath(i.path)] + [
        (i.path, i.link_target) for i in tree.walk() if i.kind == "symlink"]


def read(ref: str, policy=TRUST_FILES, **kwargs) -> tuple[ImageTree, dict]:
    with open_image(ref, **kwargs) as image:
        tree = read_image_tree(image, policy)
        return tree, {"config": image.config, "layers": [(l.diff_id, l.index) for l in image.layers],
                      "digest": image.digest, "platform": image.platform}


def all_local_refs(tmp_path: Path, image: kit.Image) -> dict[str, str]:
    return {
        "oci": kit.write_oci(tmp_path / "layout", image, "v1"),
        "oci-archive": kit.write_oci_archive(tmp_path / "oci.tar", image, "v1"),
        "docker-classic": kit.write_docker_archive(tmp_path / "classic.tar", image, "classic"),
        "docker-skopeo": kit.write_docker_archive(tmp_path / "skopeo.tar", image, "skopeo"),
        "docker-25": kit.write_docker_archive(tmp_path / "d25.tar", image, "docker25"),
    }


# --------------------------------------------------------------------------- conformance

def test_every_local_source_gives_the_same_image(tmp_path):
    image = sample_image()
    results = {name: read(ref) for name, ref in all_local_refs(tmp_path, image).items()}
    reference_tree, reference_meta = results["oci"]
    expected = flatten(reference_tree)
    for name, (tree, meta) in results.items():
        assert flatten(tree) == expected, name
        assert meta["config"] == reference_meta["config"], name
        assert meta["layers"] == reference_meta["layers"], name
        assert [r.created_by for r in tree.layer_records] == [
            "FROM debian", "RUN update-ca-certificates", "COPY bundle /etc/ssl/certs/"], name
        # A key deleted by a later layer still ships in layer 0, in every source.
        assert tree.layer_records[0].read("/tmp/build/secret.key") == KEY, name
    tree = reference_tree
    assert tree.info("/tmp/build") is None
    assert tree.listdir("/opt/old") == ["c"]
    assert tree.read("/etc/ssl/corp-copy.crt") == tree.read("/usr/local/share/ca-certificates/corp.crt")
    assert tree.read("/etc/ssl/certs/Root.pem").startswith(b"-----BEGIN CERTIFICATE-----")
    assert tree.realpath("/loop") is None
    config = reference_meta["config"]
    assert config["Env"][1] == "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"
    assert (config["Entrypoint"], config["Cmd"], config["User"]) == (["/usr/bin/curl"], ["https://example.com"],
                                                                     "1000:1000")
    assert config["Labels"] == {"org.opencontainers.image.title": "sample"}
    assert len(config["history"]) == 4  # three layers plus one metadata-only step


def test_docker_archive_digest_is_the_image_id_and_oci_digest_the_manifest(tmp_path):
    image = sample_image()
    refs = all_local_refs(tmp_path, image)
    _, docker = read(refs["docker-classic"])
    _, oci = read(refs["oci"])
    assert docker["digest"] == kit.sha256(image.config())
    index = json.loads((tmp_path / "layout" / "index.json").read_text())
    assert oci["digest"] == index["manifests"][0]["digest"]


@pytest.mark.parametrize("docker_media_types,manifest_media_type", [(False, False), (True, True)])
def test_manifest_media_type_variants(tmp_path, docker_media_types, manifest_media_type):
    image = sample_image(docker_media_types=docker_media_types, manifest_media_type=manifest_media_type)
    manifest_has_type = docker_media_types or manifest_media_type
    ref = kit.write_oci(tmp_path / "layout", image)
    tree, _ = read(ref)
    assert tree.read("/etc/os-release").startswith(b"ID=debian")
    blobs = [json.loads(p.read_bytes()) for p in (tmp_path / "layout" / "blobs" / "sha256").iterdir()
             if p.stat().st_size < 4096 and p.read_bytes()[:1] == b"{"]
    manifests = [b for b in blobs if "layers" in b]
    assert ("mediaType" in manifests[0]) == manifest_has_type


# --------------------------------------------------------------------------- platforms

def _platform_images():
    amd = kit.Image([kit.Layer().file("arch", "amd64")], architecture="amd64")
    arm = kit.Image([kit.Layer().file("arch", "arm64")], architecture="arm64", variant="v8")
    armv7 = kit.Image([kit.Layer().file("arch", "armv7")], architecture="arm", variant="v7")
    return [amd, arm, armv7]


@pytest.mark.parametrize("as_index,docker_list", [(True, False), (True, True), (False, False)])
def test_index_chooses_the_platform(tmp_path, as_index, docker_list):
    ref = kit.write_oci(tmp_path / "layout", _platform_images(), as_index=as_index, docker_list=docker_list)
    host_arch = host_platform_string().split("/")[1]
    if host_arch in ("amd64", "arm64"):
        tree, meta = read(ref, KeepPolicy(keep=lambda path, size: path == "/arch"))
        assert tree.read("/arch") == {"amd64": b"amd64", "arm64": b"arm64"}[host_arch]
        assert meta["platform"].startswith(f"linux/{host_arch}")
    for wanted, expected in (("linux/amd64", "amd64"), ("linux/arm64", "arm64"), ("linux/arm64/v8", "arm64"),
                             ("linux/arm/v7", "arm")):
        _, meta = read(ref, platform=wanted)
        assert meta["platform"].split("/")[1] == expected, wanted
    with pytest.raises(ImagelintError, match=r"no image for platform linux/s390x \(available: linux/amd64, "
                                             r"linux/arm64, linux/arm/v7\); pass --platform"):
        read(ref, platform="linux/s390x")


def test_bad_platform_syntax(tmp_path):
    ref = kit.write_oci(tmp_path / "layout", sample_image())
    with pytest.raises(ImagelintError, match="invalid platform"):
        read(ref, platform="amd64")


# --------------------------------------------------------------------------- selecting images

def test_layout_and_archive_selection_by_tag(tmp_path):
    one = kit.Image([kit.Layer().file("which", "one")])
    two = kit.Image([kit.Layer().file("which", "two")])
    kit.write_oci(tmp_path / "layout", one, "one")
    kit.write_oci(tmp_path / "layout", two, "two")
    assert read(f"oci:{tmp_path / 'layout'}:two")[0].layer_records[0].added.keys() >= {"/which"}
    with pytest.raises(ImagelintError, match=r"holds several images; name one as .*:TAG \(tags: one, two\)"):
        read(f"oci:{tmp_path / 'layout'}")
    with pytest.raises(ImagelintError, match=r"no image tagged 'three' \(tags: one, two\)"):
        read(f"oci:{tmp_path / 'layout'}:three")

    archive = tmp_path / "multi.tar"
    kit.write_docker_archive(archive, [one, two], "classic", tags=["corp/app:1", "docker.io/library/alpine:3"])
    _, meta = read(f"docker-archive:{archive}:corp/app:1")
    assert meta["layers"][0][0] == one.layers[0].diff_id
    _, meta = read(f"docker-archive:{archive}:alpine:3")  # Docker Hub names normalise
    assert meta["layers"][0][0] == two.layers[0].diff_id
    _, meta = read(f"docker-archive:{archive}:@1")
    assert meta["layers"][0][0] == two.layers[0].diff_id
    with pytest.raises(ImagelintError, match=r"holds 2 images"):
        read(f"docker-archive:{archive}")
    with pytest.raises(ImagelintError, match=r"no image named 'corp/app:2'"):
        read(f"docker-archive:{archive}:corp/app:2")


def test_gzipped_docker_archive_is_read(tmp_path):
    import gzip

    ref = kit.write_docker_archive(tmp_path / "a.tar", sample_image(), "classic")
    with open(tmp_path / "a.tar", "rb") as plain, gzip.open(tmp_path / "a.tar.gz", "wb") as packed:
        shutil.copyfileobj(plain, packed)
    expected = flatten(read(ref)[0])
    assert flatten(read(f"docker-archive:{tmp_path / 'a.tar.gz'}")[0]) == expected


# --------------------------------------------------------------------------- references

@pytest.mark.parametrize("text,expected", [
    ("alpine", "registry-1.docker.io/library/alpine:latest"),
    ("alpine:3.20", "registry-1.docker.io/library/alpine:3.20"),
    ("docker.io/bitnami/nginx", "registry-1.docker.io/bitnami/nginx:latest"),
    ("index.docker.io/library/debian:12", "registry-1.docker.io/library/debian:12"),
    ("ghcr.io/org/app:v1", "ghcr.io/org/app:v1"),
    ("localhost/app", "localhost/app:latest"),
    ("127.0.0.1:5000/team/app:dev", "127.0.0.1:5000/team/app:dev"),
    ("quay.io/a/b@sha256:" + "a" * 64, "quay.io/a/b@sha256:" + "a" * 64),
])
def test_registry_name_normalisation(text, expected):
    assert str(parse_name(text)) == expected
    assert str(parse_reference("docker://" + text).name) == expected
    bare = parse_reference(text)
    assert bare.transport == "auto" and str(bare.name) == expected


def test_transport_references():
    ref = parse_reference("docker-archive:/tmp/x.tar:corp/app:1")
    assert (ref.transport, ref.path, ref.selector) == ("docker-archive", "/tmp/x.tar", "corp/app:1")
    ref = parse_reference("oci:/tmp/layout:v1")
    assert (ref.transport, ref.path, ref.selector) == ("oci", "/tmp/layout", "v1")
    ref = parse_reference("oci-archive:/tmp/a.tar")
    assert (ref.transport, ref.path, ref.selector) == ("oci-archive", "/tmp/a.tar", None)
    ref = parse_reference("docker-daemon:alpine:3.20")
    assert (ref.transport, ref.selector, ref.name.familiar) == ("docker-daemon", "alpine:3.20", "alpine:3.20")
    assert parse_reference("docker://alpine@sha256:" + "b" * 64).name.reference == "sha256:" + "b" * 64


def test_bare_paths_are_archives_or_layouts(tmp_path, monkeypatch):
    image = sample_image()
    kit.write_oci(tmp_path / "layout", image)
    kit.write_docker_archive(tmp_path / "image.tar", image, "skopeo")
    kit.write_oci_archive(tmp_path / "oci.tar", image)
    monkeypatch.chdir(tmp_path)
    assert parse_reference("layout").transport == "oci"
    assert parse_reference("./image.tar").transport == "docker-archive"
    expected = flatten(read(f"oci:{tmp_path / 'layout'}")[0])
    for bare in ("layout", "./image.tar", str(tmp_path / "oci.tar")):
        assert flatten(read(bare)[0]) == expected, bare


@pytest.mark.parametrize("text,message", [
    ("", "empty image reference"),
    ("docker:alpine", "docker://registry/repo:tag"),
    ("Alpine!", "invalid"),
    ("alpine@sha256:xyz", "invalid digest"),
    ("docker-daemon:", "needs an image name"),
    ("oci:", "needs a path"),
])
def test_bad_references(text, message):
    with pytest.raises(ImagelintError, match=message):
        parse_reference(text)


# --------------------------------------------------------------------------- bad archives and layouts

def test_missing_paths(tmp_path):
    with pytest.raises(ImagelintError, match="no such archive"):
        open_image(f"docker-archive:{tmp_path / 'nope.tar'}")
    with pytest.raises(ImagelintError, match="no such OCI layout directory"):
        open_image(f"oci:{tmp_path / 'nope'}")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ImagelintError, match="not an OCI image layout"):
        open_image(f"oci:{tmp_path / 'empty'}")


def test_not_a_tar(tmp_path):
    (tmp_path / "x.tar").write_bytes(b"this is not a tar archive at all" * 40)
    with pytest.raises(ImagelintError, match="not a readable tar archive|not a docker-archive"):
        open_image(f"docker-archive:{tmp_path / 'x.tar'}")


@pytest.mark.parametrize("style", ["classic", "skopeo", "docker25"])
def test_truncated_docker_archive(tmp_path, style):
    kit.write_docker_archive(tmp_path / "a.tar", sample_image(), style)
    data = (tmp_path / "a.tar").read_bytes()
    (tmp_path / "cut.tar").write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(ImagelintError) as error:
        with open_image(f"docker-archive:{tmp_path / 'cut.tar'}") as image:
            read_image_tree(image, TRUST_FILES)
    assert "truncated" in str(error.value) or "missing" in str(error.value)


def test_manifest_naming_a_missing_layer_blob_fails_at_open(tmp_path):
    image = sample_image()
    kit.write_oci(tmp_path / "layout", image)
    missing = image.layers[1].blob()
    (tmp_path / "layout" / "blobs" / "sha256" / kit.sha256(missing).split(":")[1]).unlink()
    with pytest.raises(ImagelintError, match=r"manifest names layer 1 blob sha256:[0-9a-f]{64}, which is missing"):
        open_image(f"oci:{tmp_path / 'layout'}")


def test_manifest_naming_a_missing_config_fails_at_open(tmp_path):
    image = sample_image()
    kit.write_oci(tmp_path / "layout", image)
    (tmp_path / "layout" / "blobs" / "sha256" / kit.sha256(image.config()).split(":")[1]).unlink()
    with pytest.raises(ImagelintError, match=r"names blob sha256:[0-9a-f]{64} which is missing"):
        open_image(f"oci:{tmp_path / 'layout'}")


def test_docker_archive_naming_a_missing_layer(tmp_path):
    kit.write_docker_archive(tmp_path / "a.tar", sample_image(), "classic")
    staged = tmp_path / "x"
    with tarfile.open(tmp_path / "a.tar") as archive:
        archive.extractall(staged, filter="data")
    manifest = json.loads((staged / "manifest.json").read_text())
    shutil.rmtree(staged / manifest[0]["Layers"][2].split("/")[0])
    kit._tar_directory(staged, tmp_path / "b.tar")
    with pytest.raises(ImagelintError, match="manifest.json names layer 2 .* which is missing"):
        open_image(f"docker-archive:{tmp_path / 'b.tar'}")


def test_wrong_layer_digest(tmp_path):
    image = sample_image()
    kit.write_oci(tmp_path / "layout", image)
    blob_path = tmp_path / "layout" / "blobs" / "sha256" / kit.sha256(image.layers[2].blob()).split(":")[1]
    data = bytearray(blob_path.read_bytes())
    data[600] ^= 0x01  # a flipped bit inside a file's contents: the tar still parses
    blob_path.write_bytes(bytes(data))
    with open_image(f"oci:{tmp_path / 'layout'}") as opened:
        with pytest.raises(ImagelintError, match=r"layer 2 \(sha256:[0-9a-f]{12}\): digest mismatch"):
            read_image_tree(opened, TRUST_FILES)


def test_wrong_manifest_digest(tmp_path):
    kit.write_oci(tmp_path / "layout", sample_image())
    index = json.loads((tmp_path / "layout" / "index.json").read_text())
    blob = tmp_path / "layout" / "blobs" / "sha256" / index["manifests"][0]["digest"].split(":")[1]
    blob.write_bytes(blob.read_bytes().replace(b'"schemaVersion": 2', b'"schemaVersion":  2'))
    with pytest.raises(ImagelintError, match="digest mismatch"):
        open_image(f"oci:{tmp_path / 'layout'}")


def test_garbage_index_json(tmp_path):
    kit.write_oci(tmp_path / "layout", sample_image())
    (tmp_path / "layout" / "index.json").write_text("{not json")
    with pytest.raises(ImagelintError, match="index.json is not valid JSON"):
        open_image(f"oci:{tmp_path / 'layout'}")


def test_layer_count_mismatch(tmp_path):
    image = sample_image()
    kit.write_oci(tmp_path / "layout", image)
    layout = tmp_path / "layout"
    index = json.loads((layout / "index.json").read_text())
    manifest_path = layout / "blobs" / "sha256" / index["manifests"][0]["digest"].split(":")[1]
    manifest = json.loads(manifest_path.read_bytes())
    manifest["layers"].pop()
    data = json.dumps(manifest).encode()
    digest = kit._Blobs(layout).put(data)
    index["manifests"][0].update(digest=digest, size=len(data))
    (layout / "index.json").write_text(json.dumps(index))
    with pytest.raises(ImagelintError, match="manifest lists 2 layers but the config has 3 diff IDs"):
        open_image(f"oci:{layout}")


def test_layout_blob_symlink_cannot_escape(tmp_path):
    image = sample_image()
    kit.write_oci(tmp_path / "layout", image)
    blob = tmp_path / "layout" / "blobs" / "sha256" / kit.sha256(image.layers[0].blob()).split(":")[1]
    blob.unlink()
    blob.symlink_to("/etc/passwd")
    with pytest.raises(ImagelintError, match="outside the layout"):
        open_image(f"oci:{tmp_path / 'layout'}")


# --------------------------------------------------------------------------- the local engine

def test_docker_daemon_source(tmp_path, dockerd, monkeypatch):
    image = sample_image()
    archive = tmp_path / "in.tar"
    kit.write_docker_archive(archive, image, "classic", tags=["imagelint-test/sample:v1"])
    dockerd.docker("load", "-i", str(archive))
    monkeypatch.setenv("DOCKER_HOST", dockerd.host)
    expected = flatten(read(f"docker-archive:{archive}")[0])

    tree, meta = read("docker-daemon:imagelint-test/sample:v1")
    assert flatten(tree) == expected
    assert meta["config"]["Env"] == image.env
    # A bare name prefers the engine when it has the image.
    with open_image("imagelint-test/sample:v1") as opened:
        assert opened.source == "docker-daemon"
        assert flatten(read_image_tree(opened, TRUST_FILES)) == expected
    with pytest.raises(ImagelintError, match="not found in the Docker engine"):
        open_image("docker-daemon:imagelint-test/absent:v1")
    # Nothing is left behind: the saved archive lived in an unlinked temp file.
    assert not [p for p in Path(os.environ.get("TMPDIR", "/tmp")).glob("imagelint-save-*")]


def test_docker_daemon_unreachable(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no.sock")
    with pytest.raises(ImagelintError) as info:
        open_image("docker-daemon:alpine:3.20")
    # Words, not the Python exception chain the docker SDK wraps (FileNotFoundError(2, ...)).
    assert str(info.value) == (f"no Docker engine at unix://{tmp_path}/no.sock (no socket there); start it, set "
                               "DOCKER_HOST, or read the image without one: docker-archive:PATH, oci:DIR or docker://REF")
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()  # nothing listens there now
    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{port}")
    with pytest.raises(ImagelintError, match=r"^no Docker engine at tcp://127\.0\.0\.1:\d+ \(connection refused\)"):
        open_image("docker-daemon:alpine:3.20")


def test_docker_daemon_image_built_by_the_engine(tmp_path, dockerd, monkeypatch):
    """An image the engine built itself (its own layer tars, whiteouts), read back via docker save."""
    base = tmp_path / "base.tar"
    kit.write_docker_archive(base, kit.Image([kit.Layer("none").file("etc/os-release", "ID=test\n")
                                              .file("bin/placeholder", "x")]), "classic",
                             tags=["imagelint-test/base:v1"])
    dockerd.docker("load", "-i", str(base))
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "corp.crt").write_bytes(kit.make_ca("Engine CA")[0])
    (context / "Dockerfile").write_text("FROM imagelint-test/base:v1\nCOPY corp.crt /usr/local/share/ca-certificates/\n"
                                        "ENV SSL_CERT_DIR=/etc/ssl/certs\n")
    dockerd.build(context, "imagelint-test/built:v1")
    monkeypatch.setenv("DOCKER_HOST", dockerd.host)
    tree, meta = read("docker-daemon:imagelint-test/built:v1")
    assert tree.read("/usr/local/share/ca-certificates/corp.crt").startswith(b"-----BEGIN CERTIFICATE-----")
    assert "SSL_CERT_DIR=/etc/ssl/certs" in meta["config"]["Env"]
    assert tree.layer_of("/usr/local/share/ca-certificates/corp.crt").index == 1
    assert "COPY" in tree.layer_of("/usr/local/share/ca-certificates/corp.crt").created_by


def test_skopeo_written_archives_are_read(tmp_path):
    """Archives written by skopeo itself (not our writer) from our OCI layout."""
    from services import require

    require("skopeo")
    image = sample_image(compressions=("gzip", "gzip", "none"))  # skopeo's docker-archive refuses zstd
    ref = kit.write_oci(tmp_path / "layout", image, "v1")
    expected = flatten(read(ref)[0])
    for target in (f"docker-archive:{tmp_path / 'd.tar'}:corp/app:v1", f"oci-archive:{tmp_path / 'o.tar'}:v1",
                   f"oci:{tmp_path / 'copy'}:v1"):
        subprocess.run(["skopeo", "copy", "--quiet", f"oci:{tmp_path / 'layout'}:v1", target], check=True,
                       capture_output=True)
        assert flatten(read(target)[0]) == expected, target
