"""A real Debian image with OpenJDK (mmdebstrap, ~350 MB unpacked, a real JKS store) through every
kind of source: what the reader finds, and that memory stays flat (measured in a fresh process)."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import imagekit as kit
from services import require

ROOT = Path(__file__).resolve().parent.parent
JDK = "/usr/lib/jvm/java-17-openjdk-amd64"

PROBE = textwrap.dedent("""
    import json, sys, time

    def peak_rss_mb():  # VmHWM starts afresh at exec; ru_maxrss would carry pytest's over
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024

    sys.path[:0] = [ROOT, ROOT + "/tests"]
    from imagelint.image.tree import read_image_tree
    from imagelint.trust.keep import TRUST_FILES
    from imagelint.image.sources import open_image
    start = time.monotonic()
    with open_image(REF, ca_file=CA) as image:
        tree = read_image_tree(image, TRUST_FILES)
    seconds = time.monotonic() - start
    cacerts = JDK + "/lib/security/cacerts"
    bundle = tree.read("/etc/ssl/certs/ca-certificates.crt") or b""
    print(json.dumps({
        "seconds": seconds,
        "peak_mb": peak_rss_mb(),
        "paths": len(tree),
        "cacerts_real": tree.realpath(cacerts),
        "cacerts_magic": (tree.read(cacerts) or b"")[:4].hex(),
        "bundle_certs": bundle.count(b"BEGIN CERTIFICATE"),
        "anchor_links": sum(1 for n in tree.listdir("/etc/ssl/certs") if n.endswith(".pem")),
        "os_release": (tree.read("/etc/os-release") or b"").decode().splitlines()[:1],
        "java": tree.realpath("/usr/bin/java"),
        "release": (tree.read(JDK + "/release") or b"")[:40].decode(errors="replace"),
    }))
""")


def probe(ref: str, ca_file: str | None = None) -> dict:
    script = f"ROOT = {str(ROOT)!r}; REF = {ref!r}; CA = {ca_file!r}; JDK = {JDK!r}\n" + PROBE
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def java_layout(java_rootfs, tmp_path_factory) -> str:
    return kit.write_oci_from_rootfs(tmp_path_factory.mktemp("java") / "layout", java_rootfs, "17")


def check_java_image(found: dict) -> None:
    assert found["cacerts_real"] == "/etc/ssl/certs/java/cacerts"  # the JDK's cacerts is a symlink
    assert found["cacerts_magic"] == "feedfeed"  # JKS
    assert found["bundle_certs"] > 100
    assert found["anchor_links"] > 100  # /etc/ssl/certs/*.pem -> /usr/share/ca-certificates/...
    assert found["os_release"] == ['PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"']
    assert found["java"] == f"{JDK}/bin/java"  # through /etc/alternatives
    assert found["release"].startswith("IMPLEMENTOR") or "JAVA_VERSION" in found["release"]
    assert found["peak_mb"] < 150, f"peak RSS {found['peak_mb']:.0f} MB"


def test_real_java_image_from_an_oci_layout(java_layout):
    check_java_image(probe(java_layout))


def test_real_java_image_from_a_docker_archive(java_layout, tmp_path):
    require("skopeo")
    archive = tmp_path / "java.tar"
    subprocess.run(["skopeo", "copy", "--quiet", java_layout, f"docker-archive:{archive}:debian/java:17"],
                   check=True, capture_output=True, timeout=600)
    check_java_image(probe(f"docker-archive:{archive}"))


def test_real_java_image_from_a_tls_registry(java_layout, registry_factory):
    require("skopeo")
    registry = registry_factory(tls=True)
    subprocess.run(["skopeo", "copy", "--quiet", "--dest-cert-dir", str(registry.cert_dir), java_layout,
                    f"docker://{registry.host_port}/debian/java:17"], check=True, capture_output=True, timeout=600)
    check_java_image(probe(f"docker://{registry.host_port}/debian/java:17", str(registry.ca_file)))
