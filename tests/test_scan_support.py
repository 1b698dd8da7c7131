"""Helpers shared by the scan tests (no tests here): fixture images that look like real distributions,
a layout writer that stacks a real root filesystem tar under imagekit layers, and a scan runner."""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

from imagekit import Layer, sha256

ROOT = Path(__file__).resolve().parents[1]
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEBIAN_OS_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n'
PASSWD = "root:x:0:0:root:/root:/bin/bash\napp:x:1000:1000::/home/app:/bin/sh\n"
GROUP = "root:x:0:\napp:x:1000:\n"


@lru_cache(maxsize=1)
def public_roots() -> tuple[tuple[str, bytes], ...]:
    """A real public root set (certifi's Mozilla bundle): (file name, PEM) pairs."""
    import certifi

    text = Path(certifi.where()).read_bytes()
    blocks = re.findall(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----\n?", text, re.S)
    return tuple((f"root_{i:03d}.crt", block if block.endswith(b"\n") else block + b"\n") for i, block in enumerate(blocks))


def public_bundle() -> bytes:
    return b"".join(pem for _, pem in public_roots())


def debian_layer(bundle: bytes | None = None, *, clients: tuple[str, ...] = ("curl",), public_set: bool = True,
                 compression: str = "gzip") -> Layer:
    """A Debian-like base layer: os-release, /bin/sh, TLS clients, ca-certificates' public set and bundle."""
    layer = Layer(compression)
    layer.dir("etc").file("etc/os-release", DEBIAN_OS_RELEASE).file("etc/debian_version", "12.8\n")
    layer.file("etc/passwd", PASSWD).file("etc/group", GROUP)
    layer.dir("bin").file("bin/sh", b"\x7fELF", mode=0o755)
    layer.dir("usr/bin")
    for client in clients:
        layer.file(f"usr/bin/{client}", b"\x7fELF", mode=0o755)
    if public_set:
        layer.dir("usr/share/ca-certificates/mozilla")
        for name, pem in public_roots():
            layer.file(f"usr/share/ca-certificates/mozilla/{name}", pem)
    layer.dir("usr/local/share/ca-certificates").dir("etc/ssl/certs")
    if bundle is None and public_set:
        bundle = public_bundle()
    if bundle is not None:
        layer.file("etc/ssl/certs/ca-certificates.crt", bundle)
    return layer


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def write_layered_oci(root: Path, layers: list, *, env: list[str] | None = None, user: str = "",
                      created_by: list[str] | None = None, entrypoint: list[str] | None = None,
                      tag: str = "latest", gzip_files: bool = False) -> str:
    """An OCI layout whose layers are imagekit Layers or paths of uncompressed tar files (e.g. a
    mmdebstrap root filesystem), linked or copied into the blob store as they are."""
    root.mkdir(parents=True, exist_ok=True)
    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)

    def put_bytes(data: bytes) -> str:
        digest = sha256(data)
        target = blobs / digest.split(":")[1]
        if not target.exists():
            target.write_bytes(data)
        return digest

    descriptors, diff_ids = [], []
    for layer in layers:
        if isinstance(layer, Layer):
            data = layer.blob()
            descriptors.append({"mediaType": layer.media_type, "digest": put_bytes(data), "size": len(data)})
            diff_ids.append(layer.diff_id)
            continue
        path = Path(layer)
        diff_id = file_digest(path)
        diff_ids.append(diff_id)
        if gzip_files:
            packed = root / "tmp.gz"
            with open(packed, "wb") as out:
                subprocess.run(["gzip", "-1", "-c", str(path)], stdout=out, check=True)
            digest = file_digest(packed)
            os.replace(packed, blobs / digest.split(":")[1])
            descriptors.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest,
                                "size": (blobs / digest.split(":")[1]).stat().st_size})
            continue
        target = blobs / diff_id.split(":")[1]
        if not target.exists():
            try:
                os.link(path, target)
            except OSError:
                shutil.copyfile(path, target)
        descriptors.append({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": diff_id,
                            "size": target.stat().st_size})
    created_by = created_by or [f"layer {i}" for i in range(len(layers))]
    history = [{"created": "2024-01-01T00:00:00Z", "created_by": text} for text in created_by]
    container = {"Env": env or [PATH_ENV], "User": user}
    if entrypoint is not None:
        container["Entrypoint"] = entrypoint
    config = json.dumps({"created": "2024-01-01T00:00:00Z", "architecture": "amd64", "os": "linux",
                         "config": container, "history": history,
                         "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": put_bytes(config), "size": len(config)},
                           "layers": descriptors}).encode()
    (root / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": put_bytes(manifest),
                            "size": len(manifest), "annotations": {"org.opencontainers.image.ref.name": tag}}]}
    (root / "index.json").write_text(json.dumps(index))
    return f"oci:{root}:{tag}"


def scan(ref: str, **options):
    """Findings of one image, through the same engine the CLI uses."""
    from imagelint.commands.scan import ScanOptions, scan_images

    result = scan_images([ref], ScanOptions(**options))
    assert not result.errors, [str(e) for e in result.errors]
    return result.findings


def rules_of(findings) -> set[str]:
    return {f.rule for f in findings}


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """`imagelint ARGS` in a child process (stdout/stderr captured, text)."""
    return subprocess.run([sys.executable, "-m", "imagelint.cli", *args], capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=ROOT)
