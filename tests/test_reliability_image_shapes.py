"""Image metadata of the wrong JSON type (issue 18), in every source: an OCI layout, a
docker-archive and a registry on loopback. Each is one line naming the image and the JSON path
(imagelint/image/shapes.py), never a traceback; well-typed images still open."""
from __future__ import annotations

import hashlib
import http.server
import json
import os
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import pytest

from imagekit import Image, Layer, write_docker_archive, write_oci

ROOT = Path(__file__).resolve().parents[1]


def scan(ref: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "imagelint.cli", "scan", "--no-cache", ref], cwd=cwd,
                          capture_output=True, text=True, env=env, timeout=120)


def assert_shape_error(r: subprocess.CompletedProcess, *needles: str) -> None:
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stdout + r.stderr
    [line] = [x for x in r.stderr.splitlines() if x.startswith("imagelint: error:")]
    for needle in needles:
        assert needle in line, line


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _set_config(key, value):
    return lambda index, manifest, config: config["config"].__setitem__(key, value)


# (mutation of index.json, the manifest and the config) -> the JSON path the error names
CASES = {
    "env-a-number": (_set_config("Env", 5), "config.Env must be an array of strings, not a number"),
    "env-a-string": (_set_config("Env", "A=1"), "config.Env must be an array of strings, not a string"),
    "labels-a-list": (_set_config("Labels", ["a"]), "config.Labels must be an object, not an array"),
    "label-value-a-number": (_set_config("Labels", {"a": 1}), "config.Labels['a'] must be a string"),
    "entrypoint-a-dict": (_set_config("Entrypoint", {"a": 1}), "config.Entrypoint must be an array of strings"),
    "cmd-a-number": (_set_config("Cmd", 7), "config.Cmd must be"),
    "user-a-list": (_set_config("User", ["root"]), "config.User must be a string"),
    "history-an-object": (lambda i, m, c: c.__setitem__("history", {}), "history must be an array"),
    "os-a-list": (lambda i, m, c: c.__setitem__("os", ["linux"]), "os must be a string"),
    "diff-ids-a-string": (lambda i, m, c: c["rootfs"].__setitem__("diff_ids", "sha256:0"),
                          "rootfs.diff_ids must be an array"),
    "size-huge": (lambda i, m, c: m["layers"][0].__setitem__("size", "huge"),
                  "layers[0].size must be a non-negative integer, not a string"),
    "size-negative": (lambda i, m, c: m["layers"][0].__setitem__("size", -1), "layers[0].size"),
    "layers-missing": (lambda i, m, c: m.pop("layers"), "manifest has no layers array"),
    "layer-a-string": (lambda i, m, c: m.__setitem__("layers", ["sha256:0"]), "layers[0] must be an object"),
    "layer-media-type-a-number": (lambda i, m, c: m["layers"][0].__setitem__("mediaType", 5),
                                  "layers[0].mediaType must be a string"),
    "index-entry-a-string": (lambda i, m, c: i.__setitem__("manifests", ["sha256:0"]),
                             "index.json: manifests[0] must be an object, not a string"),
    "index-annotations-a-list": (lambda i, m, c: i["manifests"][0].__setitem__("annotations", ["x"]),
                                 "manifests[0].annotations must be an object"),
    "index-platform-a-string": (lambda i, m, c: i["manifests"][0].__setitem__("platform", "linux/amd64"),
                                "manifests[0].platform must be an object"),
}


def _mutated_layout(root: Path, mutate) -> str:
    write_oci(root, Image([Layer().file("etc/hostname", "x\n")]))
    blobs = root / "blobs" / "sha256"

    def put(document) -> tuple[str, int]:
        data = json.dumps(document).encode()
        (blobs / _digest(data).split(":")[1]).write_bytes(data)
        return _digest(data), len(data)

    index = json.loads((root / "index.json").read_text())
    manifest = json.loads((blobs / index["manifests"][0]["digest"].split(":")[1]).read_bytes())
    config = json.loads((blobs / manifest["config"]["digest"].split(":")[1]).read_bytes())
    config_descriptor = manifest["config"]
    config_descriptor["digest"], config_descriptor["size"] = put(config)
    mutate(index, manifest, config)
    config_descriptor["digest"], config_descriptor["size"] = put(config)
    top = index["manifests"][0] if isinstance(index["manifests"][0], dict) else {}
    top["digest"], top["size"] = put(manifest)
    (root / "index.json").write_text(json.dumps(index))
    return f"oci:{root}:latest"


@pytest.mark.parametrize("case", sorted(CASES))
def test_oci_layout(tmp_path, case):
    mutate, needle = CASES[case]
    ref = _mutated_layout(tmp_path / "layout", mutate)
    assert_shape_error(scan(ref, tmp_path), str(tmp_path / "layout"), needle)


def test_a_well_typed_layout_still_opens(tmp_path):
    ref = _mutated_layout(tmp_path / "layout", lambda i, m, c: None)
    r = scan(ref, tmp_path)
    assert r.returncode == 0, r.stderr


def _mutated_archive(path: Path, tmp_path: Path, mutate_entries=None, mutate_config=None) -> str:
    write_docker_archive(path, Image([Layer().file("etc/hostname", "x\n")]), style="skopeo")
    with tarfile.open(path) as tar:
        members = {m.name: (m, tar.extractfile(m).read() if m.isreg() else None) for m in tar.getmembers()}
    entries = json.loads(members["manifest.json"][1])
    config_name = entries[0]["Config"]
    config = json.loads(members[config_name][1])
    if mutate_config:
        mutate_config(config)
    data = json.dumps(config).encode()
    new_name = _digest(data).split(":")[1] + ".json"
    members.pop(config_name)
    entries[0]["Config"] = new_name
    if mutate_entries:
        entries = mutate_entries(entries)
    members[new_name] = (tarfile.TarInfo(new_name), data)
    members["manifest.json"] = (members["manifest.json"][0], json.dumps(entries).encode())
    out = tmp_path / "mutated.tar"
    with tarfile.open(out, "w") as tar:
        for name, (info, body) in members.items():
            if body is not None:
                info.size = len(body)
                tar.addfile(info, __import__("io").BytesIO(body))
            else:
                tar.addfile(info)
    return f"docker-archive:{out}"


@pytest.mark.parametrize("mutate_config, needle", [
    (lambda c: c["config"].__setitem__("Env", 5), "config.Env must be an array of strings, not a number"),
    (lambda c: c["config"].__setitem__("Labels", ["a"]), "config.Labels must be an object"),
    (lambda c: c["config"].__setitem__("Entrypoint", {"sh": 1}), "config.Entrypoint must be"),
    (lambda c: c["rootfs"].__setitem__("diff_ids", {}), "rootfs.diff_ids must be an array"),
])
def test_docker_archive_config(tmp_path, mutate_config, needle):
    ref = _mutated_archive(tmp_path / "x.tar", tmp_path, mutate_config=mutate_config)
    assert_shape_error(scan(ref, tmp_path), "mutated.tar", needle)


@pytest.mark.parametrize("mutate_entries, needle", [
    (lambda e: ["x"], "manifest.json[0] must be an object, not a string"),
    (lambda e: {"a": e}, "manifest.json must be an array of images, not an object"),
    (lambda e: [dict(e[0], Layers="a.tar")], "manifest.json[0].Layers must be an array of paths"),
    (lambda e: [dict(e[0], Layers=[5])], "manifest.json[0].Layers[0] must be a string"),
    (lambda e: [dict(e[0], RepoTags="x:1")], "manifest.json[0].RepoTags must be an array of strings"),
])
def test_docker_archive_manifest(tmp_path, mutate_entries, needle):
    ref = _mutated_archive(tmp_path / "x.tar", tmp_path, mutate_entries=mutate_entries)
    assert_shape_error(scan(ref, tmp_path), "mutated.tar", needle)


class _StaticRegistry(http.server.BaseHTTPRequestHandler):
    """A registry on loopback answering from `server.content` (path -> (media type, body))."""
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):  # noqa: N802
        if self.path == "/v2/":
            media_type, body = "application/json", b"{}"
        elif self.path in self.server.content:
            media_type, body = self.server.content[self.path]
        else:
            media_type, body = "application/json", b'{"errors": [{"code": "NOT_FOUND"}]}'
            self.send_response(404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(200)
        self.send_header("Content-Type", media_type)
        self.send_header("Docker-Content-Digest", _digest(body))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_HEAD = do_GET


@pytest.fixture
def static_registry():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _StaticRegistry)
    server.daemon_threads = True
    server.content = {}
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _publish(server, mutate, as_index: bool = False) -> str:
    layer = Layer().file("etc/hostname", "x\n")
    blob = layer.blob()
    config = json.loads(Image([layer]).config())
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "", "size": 0},
                "layers": [{"mediaType": layer.media_type, "digest": _digest(blob), "size": len(blob)}]}
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": [{"mediaType": manifest["mediaType"], "digest": "", "size": 0,
                            "platform": {"os": "linux", "architecture": "amd64"}}]}
    config_data = json.dumps(config).encode()
    manifest["config"].update(digest=_digest(config_data), size=len(config_data))
    mutate(index, manifest, config)
    config_data = json.dumps(config).encode()
    if isinstance(manifest.get("config"), dict) and manifest["config"].get("digest"):
        manifest["config"].update(digest=_digest(config_data), size=len(config_data))
    manifest_data = json.dumps(manifest).encode()
    if isinstance(index["manifests"], list) and isinstance(index["manifests"][0], dict):
        index["manifests"][0].update(digest=_digest(manifest_data), size=len(manifest_data))
    index_data = json.dumps(index).encode()
    server.content = {f"/v2/repo/blobs/{_digest(config_data)}": ("application/octet-stream", config_data),
                      f"/v2/repo/blobs/{_digest(blob)}": ("application/octet-stream", blob),
                      f"/v2/repo/manifests/{_digest(manifest_data)}": (manifest["mediaType"], manifest_data)}
    top = (index["mediaType"], index_data) if as_index else (manifest["mediaType"], manifest_data)
    server.content["/v2/repo/manifests/latest"] = top
    return f"docker://127.0.0.1:{server.server_address[1]}/repo:latest"


REGISTRY_CASES = ["env-a-number", "labels-a-list", "entrypoint-a-dict", "size-huge", "layers-missing",
                  "layer-a-string", "diff-ids-a-string"]


@pytest.mark.parametrize("case", REGISTRY_CASES)
def test_registry(tmp_path, static_registry, case):
    mutate, needle = CASES[case]
    ref = _publish(static_registry, mutate)
    assert_shape_error(scan(ref, tmp_path), "127.0.0.1", needle)


@pytest.mark.parametrize("mutate, needle", [
    (lambda i, m, c: i.__setitem__("manifests", ["sha256:0"]), "manifests[0] must be an object, not a string"),
    (lambda i, m, c: i.__setitem__("manifests", {}), "manifests must be an array of descriptors"),
    (lambda i, m, c: i["manifests"][0].__setitem__("platform", ["linux"]), "manifests[0].platform must be"),
])
def test_registry_index(tmp_path, static_registry, mutate, needle):
    ref = _publish(static_registry, mutate, as_index=True)
    assert_shape_error(scan(ref, tmp_path), "127.0.0.1", needle)


def test_a_well_typed_registry_image_still_opens(tmp_path, static_registry):
    ref = _publish(static_registry, lambda i, m, c: None, as_index=True)
    r = scan(ref, tmp_path)
    assert r.returncode == 0, r.stderr
