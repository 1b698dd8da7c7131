"""A tiny writer of container images for tests: OCI layouts, oci-archives and docker-archives
(classic `docker save`, skopeo/podman, Docker >= 25), in milliseconds, with the standard library
(plus zstandard for zstd layers, pyjks/cryptography for Java and PKCS12 stores).

    layer = Layer().file("etc/ssl/certs/ca.pem", pem).symlink("etc/alt", "ssl").whiteout("tmp/x")
    image = Image([layer], env=["A=1"], user="app")
    ref = write_oci(tmp_path / "layout", image)                      # "oci:/.../layout:latest"
    ref = write_docker_archive(tmp_path / "x.tar", image, style="skopeo")
"""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
LAYER_TYPES = {
    "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
    "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
    "none": "application/vnd.oci.image.layer.v1.tar",
}
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
MTIME = 1_700_000_000  # fixed: identical inputs give identical digests


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def compress(data: bytes, compression: str) -> bytes:
    if compression == "gzip":
        return gzip.compress(data, compresslevel=1, mtime=0)
    if compression == "zstd":
        import zstandard

        return zstandard.ZstdCompressor(level=1).compress(data)
    return data


class Layer:
    """Tar entries in the order given. Names are written as passed (use prefix="./" for the
    mmdebstrap style); `raw()` writes any TarInfo, including hostile ones."""

    def __init__(self, compression: str = "gzip", prefix: str = ""):
        self.compression = compression
        self.prefix = prefix
        self.entries: list[tuple[tarfile.TarInfo, bytes | None]] = []
        self._tar: bytes | None = None

    def _info(self, name: str, kind: bytes, mode: int, uid: int = 0, gid: int = 0) -> tarfile.TarInfo:
        info = tarfile.TarInfo(self.prefix + name.lstrip("/") if name not in ("/", "./") else name)
        info.type, info.mode, info.uid, info.gid, info.mtime = kind, mode, uid, gid, MTIME
        return info

    def raw(self, info: tarfile.TarInfo, data: bytes | None = None) -> "Layer":
        self.entries.append((info, data))
        self._tar = None
        return self

    def file(self, name: str, data: bytes | str = b"", mode: int = 0o644, uid: int = 0, gid: int = 0) -> "Layer":
        data = data.encode() if isinstance(data, str) else data
        info = self._info(name, tarfile.REGTYPE, mode, uid, gid)
        info.size = len(data)
        return self.raw(info, data)

    def dir(self, name: str, mode: int = 0o755, uid: int = 0, gid: int = 0) -> "Layer":
        return self.raw(self._info(name, tarfile.DIRTYPE, mode, uid, gid))

    def symlink(self, name: str, target: str) -> "Layer":
        info = self._info(name, tarfile.SYMTYPE, 0o777)
        info.linkname = target
        return self.raw(info)

    def hardlink(self, name: str, target: str) -> "Layer":
        info = self._info(name, tarfile.LNKTYPE, 0o644)
        info.linkname = self.prefix + target.lstrip("/")
        return self.raw(info)

    def whiteout(self, name: str) -> "Layer":
        parent, base = os.path.split(name.strip("/"))
        return self.file(os.path.join(parent, ".wh." + base), b"", 0o600)

    def opaque(self, directory: str) -> "Layer":
        return self.file(os.path.join(directory.strip("/"), ".wh..wh..opq"), b"", 0o600)

    def tar(self) -> bytes:
        if self._tar is None:
            buffer = io.BytesIO()
            with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
                for info, data in self.entries:
                    archive.addfile(info, io.BytesIO(data) if data is not None else None)
            self._tar = buffer.getvalue()
        return self._tar

    def blob(self) -> bytes:
        return compress(self.tar(), self.compression)

    @property
    def diff_id(self) -> str:
        return sha256(self.tar())

    @property
    def media_type(self) -> str:
        return LAYER_TYPES[self.compression]


@dataclass
class Image:
    layers: list[Layer]
    env: list[str] = field(default_factory=lambda: [DEFAULT_PATH])
    entrypoint: list[str] | None = None
    cmd: list[str] | None = None
    user: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    created_by: list[str] | None = None  # one per layer; defaults to "imagekit layer N"
    os: str = "linux"
    architecture: str = "amd64"
    variant: str | None = None
    docker_media_types: bool = False  # Docker schema 2 instead of OCI media types
    manifest_media_type: bool = True  # OCI manifests may omit the top-level mediaType

    def config(self) -> bytes:
        created_by = self.created_by or [f"imagekit layer {i}" for i in range(len(self.layers))]
        history = [{"created": "2024-01-01T00:00:00Z", "created_by": text} for text in created_by]
        # A metadata-only step (as ENV makes) between layers: history and layers are not 1:1.
        history.insert(min(1, len(history)), {"created": "2024-01-01T00:00:00Z", "created_by": "ENV A=1",
                                              "empty_layer": True})
        container = {"Env": self.env, "User": self.user, "Labels": self.labels or None}
        if self.entrypoint is not None:
            container["Entrypoint"] = self.entrypoint
        if self.cmd is not None:
            container["Cmd"] = self.cmd
        config = {
            "created": "2024-01-01T00:00:00Z", "architecture": self.architecture, "os": self.os,
            "config": container, "history": history,
            "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in self.layers]},
        }
        if self.variant:
            config["variant"] = self.variant
        return json.dumps(config, sort_keys=True).encode()

    @property
    def platform(self) -> dict:
        plat = {"os": self.os, "architecture": self.architecture}
        if self.variant:
            plat["variant"] = self.variant
        return plat


# --------------------------------------------------------------------------- blob writers

class _Blobs:
    """Writes content-addressed blobs into a layout directory."""

    def __init__(self, root: Path):
        self.root = root
        (root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)

    def put(self, data: bytes) -> str:
        digest = sha256(data)
        path = self.root / "blobs" / "sha256" / digest.split(":")[1]
        if not path.exists():
            path.write_bytes(data)
        return digest


def _manifest(blobs: _Blobs, image: Image, compressed: bool = True) -> tuple[bytes, dict]:
    config = image.config()
    layers = []
    for layer in image.layers:
        data = layer.blob() if compressed else layer.tar()
        media_type = layer.media_type if compressed else LAYER_TYPES["none"]
        if image.docker_media_types:
            gzipped = compressed and layer.compression == "gzip"
            media_type = "application/vnd.docker.image.rootfs.diff.tar" + (".gzip" if gzipped else "")
        layers.append({"mediaType": media_type, "digest": blobs.put(data), "size": len(data)})
    config_type = DOCKER_CONFIG if image.docker_media_types else OCI_CONFIG
    manifest: dict = {"schemaVersion": 2,
                      "config": {"mediaType": config_type, "digest": blobs.put(config), "size": len(config)},
                      "layers": layers}
    media_type = DOCKER_MANIFEST if image.docker_media_types else OCI_MANIFEST
    if image.docker_media_types or image.manifest_media_type:
        manifest = {"schemaVersion": 2, "mediaType": media_type, "config": manifest["config"],
                    "layers": manifest["layers"]}
    data = json.dumps(manifest).encode()
    descriptor = {"mediaType": media_type, "digest": blobs.put(data), "size": len(data)}
    return data, descriptor


def write_oci(root: Path | str, image: Image | list[Image], tag: str = "latest", *,
              as_index: bool = False, docker_list: bool = False) -> str:
    """An OCI layout. A list of images becomes a multi-platform index (nested under index.json,
    or listed directly in index.json with platforms when as_index=False)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    blobs = _Blobs(root)
    (root / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    images = image if isinstance(image, list) else [image]
    descriptors = []
    for one in images:
        _, descriptor = _manifest(blobs, one)
        if len(images) > 1:
            descriptor["platform"] = one.platform
        descriptors.append(descriptor)
    index_path = root / "index.json"
    existing = json.loads(index_path.read_text())["manifests"] if index_path.exists() else []
    existing = [m for m in existing if (m.get("annotations") or {}).get("org.opencontainers.image.ref.name") != tag]
    if len(images) > 1 and as_index:
        nested = {"schemaVersion": 2, "mediaType": DOCKER_LIST if docker_list else OCI_INDEX, "manifests": descriptors}
        data = json.dumps(nested).encode()
        descriptors = [{"mediaType": nested["mediaType"], "digest": blobs.put(data), "size": len(data)}]
    for descriptor in descriptors:
        descriptor["annotations"] = {"org.opencontainers.image.ref.name": tag}
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": existing + descriptors}
    index_path.write_text(json.dumps(index))
    return f"oci:{root}:{tag}"


def _tar_directory(source: Path, target: Path, extra: dict[str, str] | None = None) -> None:
    """Tar a directory (sorted, relative names); `extra` adds symlinks name -> target."""
    with tarfile.open(target, "w", format=tarfile.PAX_FORMAT) as archive:
        for path in sorted(source.rglob("*")):
            archive.add(path, arcname=str(path.relative_to(source)), recursive=False)
        for name, link in (extra or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname, info.mtime = tarfile.SYMTYPE, link, MTIME
            archive.addfile(info)


def write_oci_archive(path: Path | str, image: Image | list[Image], tag: str = "latest", **kwargs) -> str:
    path = Path(path)
    staging = path.with_name(path.name + ".layout")
    write_oci(staging, image, tag, **kwargs)
    _tar_directory(staging, path)
    _remove_tree(staging)
    return f"oci-archive:{path}:{tag}"


def write_docker_archive(path: Path | str, image: Image | list[Image], style: str = "classic",
                         tags: list[str] | None = None) -> str:
    """A docker-archive as `docker save` (classic: <id>/layer.tar, uncompressed), skopeo/podman
    (top-level <diffid>.tar plus <id>/layer.tar symlinks) or Docker >= 25 (an OCI layout inside)."""
    path = Path(path)
    images = image if isinstance(image, list) else [image]
    tags = tags or [f"imagekit/test{i or ''}:latest" for i in range(len(images))]
    staging = path.with_name(path.name + ".staging")
    staging.mkdir(parents=True, exist_ok=True)
    entries, links = [], {}
    blobs = _Blobs(staging) if style == "docker25" else None
    for one, tag in zip(images, tags):
        config = one.config()
        config_digest = sha256(config)
        layer_paths = []
        parent = ""
        for layer in one.layers:
            tar_bytes = layer.tar()
            # Legacy v1 layer IDs: a chain hash; any stable unique hex works for readers.
            layer_id = hashlib.sha256((parent + layer.diff_id).encode()).hexdigest()
            parent = layer_id
            if style == "classic":
                (staging / layer_id).mkdir(exist_ok=True)
                (staging / layer_id / "layer.tar").write_bytes(tar_bytes)
                (staging / layer_id / "VERSION").write_text("1.0")
                (staging / layer_id / "json").write_text(json.dumps({"id": layer_id}))
                layer_paths.append(f"{layer_id}/layer.tar")
            elif style == "skopeo":
                name = layer.diff_id.split(":")[1] + ".tar"
                (staging / name).write_bytes(tar_bytes)
                links[f"{layer_id}/layer.tar"] = f"../{name}"
                layer_paths.append(name)
            elif style == "docker25":
                digest = blobs.put(tar_bytes)
                links[f"{layer_id}/layer.tar"] = f"../blobs/sha256/{digest.split(':')[1]}"
                layer_paths.append(f"blobs/sha256/{digest.split(':')[1]}")
            else:
                raise ValueError(style)
        if style == "docker25":
            config_name = f"blobs/sha256/{blobs.put(config).split(':')[1]}"
            _, descriptor = _manifest(blobs, one, compressed=False)
            descriptor["annotations"] = {"io.containerd.image.name": f"docker.io/{tag}",
                                         "org.opencontainers.image.ref.name": tag.rsplit(":", 1)[1]}
            index_path = staging / "index.json"
            index = json.loads(index_path.read_text()) if index_path.exists() else {
                "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}
            index["manifests"].append(descriptor)
            index_path.write_text(json.dumps(index))
            (staging / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
        else:
            config_name = config_digest.split(":")[1] + ".json"
            (staging / config_name).write_bytes(config)
        entries.append({"Config": config_name, "RepoTags": [tag], "Layers": layer_paths})
    (staging / "manifest.json").write_text(json.dumps(entries))
    if style == "classic":
        (staging / "repositories").write_text(json.dumps({}))
    for link in links:
        (staging / link.split("/")[0]).mkdir(exist_ok=True)
    _tar_directory(staging, path, extra=links)
    _remove_tree(staging)
    return f"docker-archive:{path}"


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


# --------------------------------------------------------------------------- certificates and stores

def make_ca(common_name: str = "Imagekit Test CA", days: int = 3650, ca: bool = True, not_before_days: int = -1):
    """A self-signed certificate and its key: (cert_pem, certificate, private_key)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now + datetime.timedelta(days=not_before_days))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM), cert, key


def private_key_pem(key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def jks_store(certificates: list, password: str = "changeit") -> bytes:
    """A JKS trust store (magic FEEDFEED) with one trusted entry per certificate, as Debian's."""
    import jks
    from cryptography.hazmat.primitives import serialization

    entries = [jks.TrustedCertEntry.new(f"debian:cert{i}.pem", cert.public_bytes(serialization.Encoding.DER))
               for i, cert in enumerate(certificates)]
    return jks.KeyStore.new("jks", entries).saves(password)


def pkcs12_store(certificates: list, password: str | None = "changeit") -> bytes:
    """A PKCS12 trust store as keytool writes (trusted certificate bags, no key)."""
    from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, NoEncryption, pkcs12

    encryption = BestAvailableEncryption(password.encode()) if password else NoEncryption()
    entries = [pkcs12.PKCS12Certificate(cert, f"cert{i}".encode()) for i, cert in enumerate(certificates)]
    return pkcs12.serialize_java_truststore(entries, encryption)


def write_oci_from_rootfs(root: Path | str, rootfs_tar: Path | str, tag: str = "latest", compression: str = "gzip",
                          env: list[str] | None = None, created_by: str = "mmdebstrap") -> str:
    """A one-layer OCI image from a root filesystem tar (e.g. mmdebstrap's), streamed: never in memory."""
    import shutil

    root = Path(root)
    blobs = _Blobs(root)
    (root / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    diff = hashlib.sha256()
    partial = root / "blob.partial"
    with open(rootfs_tar, "rb") as source, open(partial, "wb") as target:
        sink = gzip.GzipFile(fileobj=target, mode="wb", compresslevel=1, mtime=0) if compression == "gzip" else target
        while chunk := source.read(1 << 20):
            diff.update(chunk)
            sink.write(chunk)
        if sink is not target:
            sink.close()
    blob_digest = hashlib.sha256()
    with open(partial, "rb") as blob:
        while chunk := blob.read(1 << 20):
            blob_digest.update(chunk)
    size = partial.stat().st_size
    shutil.move(partial, root / "blobs" / "sha256" / blob_digest.hexdigest())
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "config": {"Env": env or [DEFAULT_PATH]},
                         "rootfs": {"type": "layers", "diff_ids": ["sha256:" + diff.hexdigest()]},
                         "history": [{"created_by": created_by}]}).encode()
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                           "config": {"mediaType": OCI_CONFIG, "digest": blobs.put(config), "size": len(config)},
                           "layers": [{"mediaType": LAYER_TYPES[compression], "size": size,
                                       "digest": "sha256:" + blob_digest.hexdigest()}]}).encode()
    (root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": blobs.put(manifest), "size": len(manifest),
         "annotations": {"org.opencontainers.image.ref.name": tag}}]}))
    return f"oci:{root}:{tag}"
