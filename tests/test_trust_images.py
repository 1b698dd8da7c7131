"""`imagelint trust` on real images: Debian bookworm root filesystems (mmdebstrap) made into OCI
layouts, read through open_image + the layer reader; the CA is installed by the image's own
update-ca-certificates (run in a chroot), and the verdicts are compared with the image's own
curl, python3-requests and node (run in the same chroot against a loopback TLS server).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from imagelint.commands.trust import run_trust
from pki import TLSServer, make_pki
from services import require, require_root

pytestmark = pytest.mark.services
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def oci_from_directory(rootfs: Path, layout: Path, env: list[str], tag: str = "latest") -> str:
    """A one-layer OCI layout (uncompressed layer) of `rootfs`, written by streaming, not in memory."""
    blobs = layout / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    layer = layout / "layer.tar"
    subprocess.run(["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(layer), "."], check=True)
    layer_digest = _sha256_file(layer)
    size = layer.stat().st_size
    os.replace(layer, blobs / layer_digest)

    def put(doc: dict) -> tuple[str, int]:
        data = json.dumps(doc).encode()
        digest = hashlib.sha256(data).hexdigest()
        (blobs / digest).write_bytes(data)
        return digest, len(data)

    config = {"architecture": "amd64", "os": "linux", "config": {"Env": env},
              "rootfs": {"type": "layers", "diff_ids": [f"sha256:{layer_digest}"]},
              "history": [{"created_by": "mmdebstrap + update-ca-certificates"}]}
    config_digest, config_size = put(config)
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                           "digest": f"sha256:{config_digest}", "size": config_size},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                            "digest": f"sha256:{layer_digest}", "size": size}]}
    manifest_digest, manifest_size = put(manifest)
    (layout / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": manifest["mediaType"], "digest": f"sha256:{manifest_digest}", "size": manifest_size,
         "annotations": {"org.opencontainers.image.ref.name": tag}}]}))
    return f"oci:{layout}:{tag}"


def chroot_run(rootfs: Path, command: str, env: dict[str, str] | None = None) -> str:
    variables = [PATH_ENV, *(f"{k}={v}" for k, v in (env or {}).items())]
    done = subprocess.run(["env", "-i", *variables, shutil.which("chroot") or "/usr/sbin/chroot", str(rootfs),
                           "/bin/sh", "-c", command], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    return done.stdout + done.stderr


CLIENTS = {
    "curl": "curl -sS -o /dev/null https://{host}:{port}/ && echo HANDSHAKE OK",
    "python-requests": "python3 -c 'import requests; requests.get(\"https://{host}:{port}/\"); print(\"HANDSHAKE OK\")'",
    "node": ("node -e 'require(\"https\").get(\"https://{host}:{port}/\", r => console.log(\"HANDSHAKE OK\"))"
             ".on(\"error\", e => console.log(e.code + \": \" + e.message))'"),
}


@pytest.fixture(scope="module")
def debian_clients(tmp_path_factory, clients_rootfs):
    """The clients rootfs, before and after installing the test root CA the Debian way."""
    require_root()
    require("chroot", "tar")
    base = tmp_path_factory.mktemp("debian-clients")
    pki = make_pki("localhost")
    files = pki.write(base / "pki")
    rootfs = base / "rootfs"
    rootfs.mkdir()
    subprocess.run(["tar", "-C", str(rootfs), "-xf", str(clients_rootfs)], check=True)
    (rootfs / "etc" / "hosts").write_text("127.0.0.1 localhost\n")  # what the engine would inject
    before = oci_from_directory(rootfs, base / "before", [PATH_ENV])
    shutil.copy(files["root.pem"], rootfs / "usr/local/share/ca-certificates/test-root-ca.crt")
    output = chroot_run(rootfs, "update-ca-certificates")
    assert "1 added" in output, output
    after = oci_from_directory(rootfs, base / "after", [PATH_ENV])
    with_node_env = oci_from_directory(rootfs, base / "node-env",
                                       [PATH_ENV, "NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt"])
    yield {"pki": pki, "files": files, "rootfs": rootfs, "before": before, "after": after, "node-env": with_node_env}


def verdicts_for(ref: str, chain: Path, host: str = "localhost") -> tuple[int, dict]:
    code, out = run_trust(ref, chain_path=str(chain), host=host, fmt="json")
    doc = json.loads(out)
    return code, {v["runtime"]: v for v in doc["verdicts"]}


def test_before_the_ca_is_installed(debian_clients):
    code, verdicts = verdicts_for(debian_clients["before"], debian_clients["files"]["chain-full.pem"])
    assert code == 1
    assert set(verdicts) == {"openssl", "python-requests", "node"}
    for runtime in ("openssl", "python-requests", "node"):
        assert verdicts[runtime]["reason"] == "untrusted-root", verdicts[runtime]
    # Debian's python3-certifi points at the system bundle (Debian python3-certifi 2022.9.24-1), so the OS fix suffices there.
    assert "/etc/ssl/certs/ca-certificates.crt" in verdicts["python-requests"]["store"]
    assert "COPY test-root-ca.crt /usr/local/share/ca-certificates/test-root-ca.crt" in verdicts["openssl"]["fix"]
    # Debian's nodejs reads the OS store by default (observed below with the image's own node).
    assert any("Debian's nodejs package uses the system OpenSSL store" in w for w in verdicts["node"]["warnings"])
    assert verdicts["node"]["store_size"] > 100


@pytest.mark.parametrize("image,chain,expect", [
    # Debian's node follows update-ca-certificates (unlike official Node builds).
    ("after", "chain-full.pem", {"curl": None, "python-requests": None, "node": None}),
    ("node-env", "chain-full.pem", {"curl": None, "python-requests": None, "node": None}),
    ("after", "chain-expired.pem", {"curl": "expired", "python-requests": "expired", "node": "expired"}),
    ("after", "chain-leaf-only.pem", {"curl": "missing-intermediate", "python-requests": "missing-intermediate",
                                      "node": "missing-intermediate"}),
    ("node-env", "chain-wrong-host.pem", {"curl": "hostname-mismatch", "python-requests": "hostname-mismatch",
                                          "node": "hostname-mismatch"}),
])
def test_verdicts_match_the_images_own_clients(debian_clients, image, chain, expect):
    files = debian_clients["files"]
    code, verdicts = verdicts_for(debian_clients[image], files[chain])
    key = {"chain-full.pem": "leaf.key", "chain-expired.pem": "expired.key", "chain-leaf-only.pem": "leaf.key",
           "chain-wrong-host.pem": "wrong-host.key"}[chain]
    node_env = {"NODE_EXTRA_CA_CERTS": "/etc/ssl/certs/ca-certificates.crt"} if image == "node-env" else {}
    with TLSServer(files[chain], files[key]) as server:
        outputs = {client: chroot_run(debian_clients["rootfs"], command.format(host="localhost", port=server.port),
                                      node_env if client == "node" else None)
                   for client, command in CLIENTS.items()}
    for client, reason in expect.items():
        verdict = verdicts["openssl" if client == "curl" else client]
        output = outputs[client]
        assert verdict["reason"] == reason, (client, verdict["message"])
        assert ("HANDSHAKE OK" in output) == verdict["trusted"], (client, output)
        if reason is not None:
            text = verdict["error_texts"]["curl" if client == "curl" else
                                          "python" if client == "python-requests" else "node"]
            assert text in output, (client, text, output)
    assert code == (0 if all(r is None for r in expect.values()) else 1)


def test_java_image_store_is_the_debian_jks(tmp_path, java_rootfs):
    """Debian's JDK reads /etc/ssl/certs/java/cacerts (JKS, Debian ca-certificates-java); the verdict and the fix say so, and
    the host's java, given the store extracted from the image, agrees."""
    require_root()
    require("java", "javac", "tar")
    pki = make_pki("localhost")
    files = pki.write(tmp_path / "pki")
    rootfs = tmp_path / "rootfs"
    rootfs.mkdir()
    subprocess.run(["tar", "-C", str(rootfs), "-xf", str(java_rootfs)], check=True)
    ref = oci_from_directory(rootfs, tmp_path / "layout", [PATH_ENV])
    code, verdicts = verdicts_for(ref, files["chain-full.pem"])
    java = verdicts["java"]
    assert code == 1 and java["reason"] == "untrusted-root"
    assert "-> /etc/ssl/certs/java/cacerts" in java["store"] and java["store_size"] > 100
    assert "RUN update-ca-certificates" in java["fix"] and "generated from the OS store" in java["fix"]

    from test_trust_clients import TLS_PROBE_JAVA

    (tmp_path / "TlsProbe.java").write_text(TLS_PROBE_JAVA)
    subprocess.run(["javac", "TlsProbe.java"], cwd=tmp_path, check=True, capture_output=True,
                   env={"PATH": "/usr/bin:/bin"})
    store = rootfs / "etc/ssl/certs/java/cacerts"
    with TLSServer(files["chain-full.pem"], files["leaf.key"]) as server:
        done = subprocess.run(["java", "-cp", str(tmp_path), f"-Djavax.net.ssl.trustStore={store}",
                               "-Djavax.net.ssl.trustStoreType=JKS", "-Djavax.net.ssl.trustStorePassword=changeit",
                               "TlsProbe", "localhost", str(server.port)],
                              capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"}, timeout=60)
    assert java["error_text"] in done.stdout, done.stdout
