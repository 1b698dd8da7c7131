"""`imagelint scan` on real Debian images (mmdebstrap root filesystems, cached by tests/services.py):
the real bundle of ~142 roots and the real JKS cacerts scan clean; planted problem layers on top are
found. The daemon source runs against a real dockerd, including a real `docker build` whose history
maps findings back to the Dockerfile's lines."""
from __future__ import annotations

import json
import subprocess
import tarfile
from pathlib import Path

import pytest

from imagekit import Layer, make_ca, private_key_pem
from services import require
from test_scan_support import PATH_ENV, run_cli, scan, write_layered_oci

CORP_PEM, CORP_CERT, CORP_KEY = make_ca("Corp Root CA")
# Public roots of Debian bookworm's bundle have expired since (e.g. Baltimore CyberTrust Root):
# those are info by design; "clean" means nothing at warning or above.
SERIOUS = ("warning", "error")


def serious(findings):
    return [f for f in findings if str(f.severity) in SERIOUS]


def member_bytes(tar_path: Path, name: str) -> bytes:
    with tarfile.open(tar_path, "r|") as tar:
        for member in tar:
            if member.name.lstrip("./") == name.lstrip("/"):
                return tar.extractfile(member).read()
    raise AssertionError(f"{name} not in {tar_path}")


@pytest.fixture(scope="module")
def debian_image(debian_rootfs, tmp_path_factory) -> str:
    return write_layered_oci(tmp_path_factory.mktemp("debian") / "layout", [debian_rootfs],
                             created_by=["mmdebstrap bookworm minbase + ca-certificates"])


@pytest.fixture(scope="module")
def java_image(java_rootfs, tmp_path_factory) -> str:
    return write_layered_oci(tmp_path_factory.mktemp("java") / "layout", [java_rootfs],
                             created_by=["mmdebstrap bookworm + openjdk-17-jre-headless"])


def test_real_debian_image_scans_clean(debian_image):
    findings = scan(debian_image)
    assert serious(findings) == [], [f.message for f in serious(findings)]
    assert {f.rule for f in findings} <= {"IL708"}
    result = run_cli("scan", "--fail-level", "warning", debian_image)
    assert result.returncode == 0, result.stdout + result.stderr


def test_real_debian_inventory(debian_image):
    result = run_cli("scan", "--inventory", "--format", "json", debian_image)
    [inventory] = json.loads(result.stdout)["images"]
    assert inventory["family"] == "debian" and inventory["public_roots_known"]
    os_store = next(s for s in inventory["stores"] if s["runtime"] == "os")
    assert 130 <= os_store["count"] <= 160
    assert inventory["custom_cas"] == []


def test_real_debian_with_planted_problem_layers(debian_rootfs, tmp_path):
    anchor = Layer().file("usr/local/share/ca-certificates/corp.crt", CORP_PEM)
    key = Layer().file("root/deploy/server.key", private_key_pem(CORP_KEY), mode=0o600)
    removal = Layer().whiteout("root/deploy/server.key")
    ref = write_layered_oci(tmp_path / "layout", [debian_rootfs, anchor, key, removal],
                            env=[PATH_ENV, "NODE_TLS_REJECT_UNAUTHORIZED=0"],
                            created_by=["mmdebstrap", "COPY corp.crt /usr/local/share/ca-certificates/corp.crt",
                                        "COPY server.key /root/deploy/", "RUN /bin/sh -c rm /root/deploy/server.key"])
    findings = serious(scan(ref))
    by_rule = {f.rule: f for f in findings}
    assert set(by_rule) == {"IL701", "IL703", "IL710"}, [f.message for f in findings]
    assert by_rule["IL703"].properties["layer"]["index"] == 1
    assert by_rule["IL710"].properties["layer"]["index"] == 2
    assert by_rule["IL710"].properties["deleted_by_layer"] == 3


def test_real_docker_archive_from_skopeo(debian_image, tmp_path):
    require("skopeo")
    archive = tmp_path / "debian.tar"
    subprocess.run(["skopeo", "copy", debian_image, f"docker-archive:{archive}:debian:real"], check=True,
                   capture_output=True, timeout=300)
    assert serious(scan(f"docker-archive:{archive}")) == []


def test_real_java_image_scans_clean(java_image):
    findings = scan(java_image)
    assert serious(findings) == [], [f.message for f in serious(findings)]
    result = run_cli("scan", "--inventory", "--format", "json", java_image)
    [inventory] = json.loads(result.stdout)["images"]
    java = [s for s in inventory["stores"] if s["runtime"] == "java"]
    assert java and all(130 <= s["count"] <= 160 for s in java)
    assert any("-> /etc/ssl/certs/java/cacerts" in src for s in java for src in s["sources"])


def test_real_java_image_os_store_updated_but_not_the_jvm(java_rootfs, tmp_path):
    # What `update-ca-certificates` does without the Java hook: the OS bundle gains the CA, cacerts does not.
    bundle = member_bytes(java_rootfs, "etc/ssl/certs/ca-certificates.crt")
    registered = (Layer().file("usr/local/share/ca-certificates/corp.crt", CORP_PEM)
                  .file("etc/ssl/certs/ca-certificates.crt", bundle + CORP_PEM))
    ref = write_layered_oci(tmp_path / "layout", [java_rootfs, registered],
                            created_by=["mmdebstrap", "RUN cp corp.crt ... && update-ca-certificates"])
    findings = serious(scan(ref))
    assert {f.rule for f in findings} == {"IL705"}, [f.message for f in findings]
    assert all(f.path == "/etc/ssl/certs/java/cacerts" for f in findings)
    assert "Corp Root CA" in findings[0].message


# ---- the daemon source, against a real dockerd

DOCKERFILE = """\
FROM imagelint-test/debian:real
COPY corp.crt /usr/local/share/ca-certificates/corp.crt
COPY server.key /srv/server.key
RUN rm /srv/server.key
ENV NODE_TLS_REJECT_UNAUTHORIZED=0
"""


@pytest.fixture(scope="module")
def daemon_base(dockerd, debian_rootfs) -> str:
    return dockerd.import_rootfs(debian_rootfs, "imagelint-test/debian:real")


def test_daemon_image_scans_clean(dockerd, daemon_base):
    result = run_cli("scan", "--fail-level", "warning", f"docker-daemon:{daemon_base}", env=dockerd.env)
    assert result.returncode == 0, result.stdout + result.stderr


def test_daemon_built_image_maps_to_dockerfile_lines(dockerd, daemon_base, tmp_path):
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text(DOCKERFILE)
    (context / "corp.crt").write_bytes(CORP_PEM)
    (context / "server.key").write_bytes(private_key_pem(CORP_KEY))
    dockerd.build(context, "imagelint-test/planted:1")
    result = run_cli("scan", "--format", "json", "--fail-level", "warning", "--dockerfile",
                     str(context / "Dockerfile"), "docker-daemon:imagelint-test/planted:1", env=dockerd.env)
    assert result.returncode == 1, result.stderr
    findings = [f for f in json.loads(result.stdout)["findings"] if f["severity"] in SERIOUS]
    lines = {f["rule"]: f["line"] for f in findings}
    assert lines == {"IL703": 2, "IL710": 3, "IL701": 5}, findings
    assert all(f["path"].endswith("Dockerfile") for f in findings)


def test_daemon_missing_image_is_one_line(dockerd):
    result = run_cli("scan", "docker-daemon:imagelint-test/nope:0", env=dockerd.env)
    assert result.returncode == 2 and "not found" in result.stderr and "Traceback" not in result.stderr
