"""The test services are real: dockerd runs containers, registries speak TLS and auth, rootfs tars are cached."""

import os
import subprocess
import tarfile
import time
from pathlib import Path

import pytest
import requests

from services import (
    build_rootfs,
    clean_env,
    make_oci_layout,
    require,
    running_dockerd,
)

pytestmark = pytest.mark.services


def _mounts_under(root: Path) -> list[str]:
    prefix = str(root) + "/"
    with open("/proc/mounts") as mounts:
        return [line.split()[1] for line in mounts if line.split()[1].startswith(prefix)]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it is gone for our purposes.
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


# --------------------------------------------------------------------------- dockerd

def test_dockerd_answers_the_docker_cli(dockerd):
    server = dockerd.docker("version", "--format", "{{.Server.Version}}").stdout.strip()
    assert server.split(".")[0].isdigit()
    assert dockerd.docker("info", "--format", "{{.Driver}}").stdout.strip() == dockerd.storage_driver
    assert dockerd.env["DOCKER_HOST"] == dockerd.host and dockerd.host.startswith("unix:///tmp/ild-")


def test_dockerd_runs_an_imported_debian_rootfs(dockerd, debian_rootfs):
    tag = dockerd.import_rootfs(debian_rootfs, "imagelint-test/debmin:bookworm")
    result = dockerd.docker("run", "--rm", "--network", "none", tag, "cat", "/etc/os-release")
    assert 'VERSION_CODENAME=bookworm' in result.stdout


def test_dockerd_builds_a_dockerfile_on_host_network(dockerd, debian_rootfs, tmp_path):
    base = dockerd.import_rootfs(debian_rootfs, "imagelint-test/debmin:bookworm")
    (tmp_path / "Dockerfile").write_text(f"FROM {base}\nRUN test -s /etc/ssl/certs/ca-certificates.crt\n"
                                         "RUN echo built > /built\n")
    dockerd.build(tmp_path, "imagelint-test/built:1")
    assert dockerd.docker("run", "--rm", "--network", "none", "imagelint-test/built:1",
                          "cat", "/built").stdout == "built\n"


def test_dockerd_is_stopped_by_pid_and_leaves_nothing_behind():
    with running_dockerd() as engine:
        pid, root = engine.proc.pid, engine.root
        engine.docker("version")
        assert _alive(pid)
    assert not _alive(pid)
    assert not _mounts_under(root)
    assert not root.exists()


# --------------------------------------------------------------------------- registry

def test_tls_registry_with_htpasswd_challenges_and_accepts_credentials(registry_factory):
    registry = registry_factory(tls=True, users={"alice": "s3cret-pass"})
    assert registry.url.startswith("https://127.0.0.1:")

    anonymous = requests.get(f"{registry.url}/v2/", verify=str(registry.ca_file), timeout=10)
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Basic ")

    authed = requests.get(f"{registry.url}/v2/", verify=str(registry.ca_file), auth=("alice", "s3cret-pass"),
                          timeout=10)
    assert authed.status_code == 200

    wrong = requests.get(f"{registry.url}/v2/", verify=str(registry.ca_file), auth=("alice", "nope"), timeout=10)
    assert wrong.status_code == 401

    # Without our CA the certificate is untrusted: the TLS is real, not a pass-through.
    session = requests.Session()
    session.trust_env = False  # ignore this machine's REQUESTS_CA_BUNDLE
    with pytest.raises(requests.exceptions.SSLError):
        session.get(f"{registry.url}/v2/", timeout=10)


def test_token_auth_registry_sends_a_bearer_challenge(registry_factory):
    plain = registry_factory(tls=True)  # only to get a CA cert file to hand over as rootcertbundle
    registry = registry_factory(token={
        "realm": "https://127.0.0.1:1/token", "service": "imagelint-registry",
        "issuer": "imagelint-test-issuer", "rootcertbundle": str(plain.ca_file),
    })
    response = requests.get(f"{registry.url}/v2/", timeout=10)
    assert response.status_code == 401
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert 'realm="https://127.0.0.1:1/token"' in challenge and 'service="imagelint-registry"' in challenge


def test_registry_stop_frees_its_port(registry_factory):
    registry = registry_factory()
    assert requests.get(f"{registry.url}/v2/", timeout=10).status_code == 200
    registry.stop()
    assert not _alive(registry.proc.pid)
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"{registry.url}/v2/", timeout=5)


def test_skopeo_pushes_an_umoci_layout_to_the_tls_registry(registry_factory, tmp_path):
    require("skopeo", "umoci")
    registry = registry_factory(tls=True, users={"bob": "pa55word"})
    rootfs = tmp_path / "rootfs"
    (rootfs / "etc").mkdir(parents=True)
    (rootfs / "etc" / "hello").write_text("hello from imagelint\n")
    ref = make_oci_layout(rootfs, tmp_path / "layout", "v1", env={"SSL_CERT_FILE": "/etc/hello"})
    dest = f"docker://{registry.host_port}/imagelint/hello:v1"
    env = clean_env()  # Go honours SSL_CERT_FILE/SSL_CERT_DIR: trust must come only from --dest-cert-dir

    untrusted = subprocess.run(["skopeo", "copy", "--dest-creds", "bob:pa55word", f"oci:{ref}", dest],
                               env=env, capture_output=True, text=True, timeout=120)
    assert untrusted.returncode != 0
    assert "x509" in untrusted.stderr

    subprocess.run(["skopeo", "copy", "--dest-cert-dir", str(registry.cert_dir), "--dest-creds", "bob:pa55word",
                    f"oci:{ref}", dest], env=env, check=True, capture_output=True, timeout=120)

    tags = requests.get(f"{registry.url}/v2/imagelint/hello/tags/list", verify=str(registry.ca_file),
                        auth=("bob", "pa55word"), timeout=10)
    assert tags.json() == {"name": "imagelint/hello", "tags": ["v1"]}
    inspect = subprocess.run(["skopeo", "inspect", "--config", "--cert-dir", str(registry.cert_dir),
                              "--creds", "bob:pa55word", dest], env=env, check=True, capture_output=True,
                             text=True, timeout=60)
    assert "SSL_CERT_FILE=/etc/hello" in inspect.stdout


# --------------------------------------------------------------------------- root filesystems

def test_debian_rootfs_is_real_and_cached(debian_rootfs):
    before = debian_rootfs.stat().st_mtime_ns
    started = time.monotonic()
    again = build_rootfs("debian")
    assert again == debian_rootfs
    assert again.stat().st_mtime_ns == before
    assert time.monotonic() - started < 1  # no second mmdebstrap run
    names = subprocess.run(["tar", "-tf", str(debian_rootfs)], check=True, capture_output=True,
                           text=True).stdout.splitlines()
    assert "./etc/ssl/certs/ca-certificates.crt" in names
    assert not any(name.startswith("./usr/share/doc/") and name != "./usr/share/doc/" for name in names)


def test_java_rootfs_has_the_debian_jks_store(java_rootfs):
    with tarfile.open(java_rootfs) as tar:
        for member in tar:
            if member.name == "./etc/ssl/certs/java/cacerts":
                assert tar.extractfile(member).read(4) == bytes.fromhex("feedfeed")
                break
        else:
            pytest.fail("no ./etc/ssl/certs/java/cacerts in the java rootfs")


# --------------------------------------------------------------------------- require()

def test_require_skips_locally_but_fails_where_services_must_run(monkeypatch):
    for name in ("CI", "IMAGELINT_E2E", "IMAGELINT_SERVICES"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(pytest.skip.Exception):
        require("imagelint-no-such-binary")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="imagelint-no-such-binary"):
        require("imagelint-no-such-binary")
    require("sh")  # present: no skip, no failure
