"""Which store each runtime really consults, read from a root filesystem built in a temp dir
(HostView(root=...)) with the layouts real images have."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from imagelint.facts import family_of_filesystem
from imagelint.trust.stores import discover, go_store, java_store, openssl_store
from imagelint.fs.host import HostView
from pki import make_pki

DEBIAN_OS_RELEASE = b'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n'


class Link(str):
    """A relative symlink target (absolute ones would leave the temp root on the host)."""


def build_root(root: Path, files: dict) -> HostView:
    for path, content in files.items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Link):
            target.symlink_to(content)
        else:
            target.write_bytes(content)
            if path.endswith(("/bin/java", "/bin/node", "/usr/bin/curl", "update-ca-certificates", "/bin/sh")):
                target.chmod(0o755)
    return HostView(str(root))


def keytool_store(workdir: Path, issued, password: str | None = "changeit", store_type: str = "PKCS12") -> bytes:
    """A trust store exactly as keytool writes it; password None: JDK 18+ password-less PKCS12."""
    workdir.mkdir(parents=True, exist_ok=True)
    store = workdir / f"store-{os.urandom(4).hex()}"
    (workdir / "ca.pem").write_bytes(issued.pem)
    extra = (["-J-Dkeystore.pkcs12.certProtectionAlgorithm=NONE", "-J-Dkeystore.pkcs12.macAlgorithm=NONE"]
             if password is None else [])
    subprocess.run(["keytool", *extra, "-importcert", "-noprompt", "-alias", "ca", "-file", str(workdir / "ca.pem"),
                    "-keystore", str(store), "-storetype", store_type, "-storepass", password or "changeit"],
                   check=True, capture_output=True, env={"PATH": "/usr/bin:/bin"})
    return store.read_bytes()


def subject_hash(pem: bytes) -> str:
    return subprocess.run(["openssl", "x509", "-noout", "-subject_hash"], input=pem, capture_output=True,
                          check=True, env={"PATH": "/usr/bin:/bin"}).stdout.decode().strip()


@pytest.fixture(scope="module")
def pki():
    return make_pki()


def debian_files(pki, bundle: bytes | None = None) -> dict:
    bundle = pki.other_root.pem if bundle is None else bundle
    return {
        "/etc/os-release": DEBIAN_OS_RELEASE,
        "/bin/sh": b"#!",
        "/usr/bin/curl": b"\x7fELF",
        "/usr/sbin/update-ca-certificates": b"#!/bin/sh",
        "/etc/ssl/certs/ca-certificates.crt": bundle,
        "/usr/lib/ssl/cert.pem": Link("../../../etc/ssl/certs/ca-certificates.crt"),
        "/usr/lib/ssl/certs": Link("../../../etc/ssl/certs"),
    }


def names(store) -> set[str]:
    return {c.common_name for c in store.certificates}


def detect_family(view):
    return family_of_filesystem(view)[0]


def test_family_detection(tmp_path, pki):
    assert detect_family(build_root(tmp_path / "d", debian_files(pki))) == "debian"
    assert detect_family(build_root(tmp_path / "a", {"/etc/os-release": b"ID=alpine\n"})) == "alpine"
    assert detect_family(build_root(tmp_path / "r", {"/etc/os-release": b'ID="rocky"\nID_LIKE="rhel centos fedora"\n'})) == "rhel"
    # One detector for lint, scan and trust: an empty root filesystem is scratch.
    assert detect_family(build_root(tmp_path / "n", {})) == "scratch"
    assert detect_family(build_root(tmp_path / "x", {"/etc/os-release": b"ID=arch\n", "/bin/sh": b""})) == "arch"


def test_openssl_file_and_hashed_dir_are_a_union(tmp_path, pki):
    files = debian_files(pki)
    # A CA reachable only through the hashed directory (as update-ca-certificates links it).
    files["/etc/ssl/certs/corp.pem"] = pki.root.pem
    files[f"/etc/ssl/certs/{subject_hash(pki.root.pem)}.0"] = Link("corp.pem")
    # A CA copied into /etc/ssl/certs without rehash: OpenSSL never opens it (golang/go src/crypto/x509/root_linux.go vs openssl-rehash(1)).
    files["/etc/ssl/certs/unhashed.pem"] = pki.legacy_root.pem
    files["/custom.pem"] = pki.self_signed_leaf.pem
    tree = build_root(tmp_path, files)
    store = openssl_store(tree, {}, "debian")
    assert names(store) == {"Unrelated Root CA", "Test Root CA"}
    # SSL_CERT_FILE replaces the default file only; the default hashed dir still counts (observed with OpenSSL 3.0.19).
    replaced = openssl_store(tree, {"SSL_CERT_FILE": "/custom.pem"}, "debian")
    assert names(replaced) == {"orders-api self-signed", "Test Root CA"}
    assert any("still trusted" in n for n in replaced.notes)
    both = openssl_store(tree, {"SSL_CERT_FILE": "/custom.pem", "SSL_CERT_DIR": "/nowhere"}, "debian")
    assert names(both) == {"orders-api self-signed"}


def test_go_reads_first_file_and_every_dir_file(tmp_path, pki):
    files = {
        "/etc/ssl/ca-bundle.pem": pki.root.pem,  # 3rd in Go's list
        "/etc/ssl/cert.pem": pki.other_root.pem,  # 6th: never read while the 3rd exists
        "/etc/ssl/certs/dropped-in.crt": pki.legacy_root.pem,  # Go reads dirs wholesale, no hash needed
        "/etc/ssl/certs/binary.der": pki.intermediate.der,  # DER is silently ignored
    }
    tree = build_root(tmp_path, files)
    store = go_store(tree, {})
    assert names(store) == {"Test Root CA", "Legacy Corp CA"}
    assert store.sources[0] == "/etc/ssl/ca-bundle.pem"
    only_env = go_store(tree, {"SSL_CERT_FILE": "/etc/ssl/cert.pem", "SSL_CERT_DIR": "/empty"})
    assert names(only_env) == {"Unrelated Root CA"}
    empty = go_store(build_root(tmp_path / "scratch", {}), {})
    assert not empty.certificates and "failed to load system roots" in empty.notes[-1]


def test_java_store_precedence(tmp_path, pki):
    home = "/usr/lib/jvm/java-21-openjdk-amd64"
    work = tmp_path / "keytool"
    files = {
        f"{home}/bin/java": b"\x7fELF",
        f"{home}/release": b'JAVA_VERSION="21"\n',
        f"{home}/lib/security/cacerts": keytool_store(work, pki.other_root, password=None),
        "/opt/java/openjdk/bin/java": b"\x7fELF",
        "/opt/java/openjdk/lib/security/cacerts": keytool_store(work, pki.root, store_type="JKS"),
        "/opt/java/openjdk/lib/security/jssecacerts": keytool_store(work, pki.legacy_root),
        "/etc/app-truststore.p12": keytool_store(work, pki.intermediate, password="s3cret-pw"),
    }
    tree = build_root(tmp_path / "root", files)
    stores = discover(tree, {}, only=["java"])
    assert [s.details["java_home"] for s in stores] == ["/opt/java/openjdk", home]
    temurin, distro = stores
    assert names(distro) == {"Unrelated Root CA"}  # JDK 18+ password-less PKCS12
    assert names(temurin) == {"Legacy Corp CA"}  # jssecacerts shadows cacerts (JSSE Reference Guide)
    assert any("shadows cacerts" in n for n in temurin.notes)
    env = {"JAVA_TOOL_OPTIONS": "-Xmx1g -Djavax.net.ssl.trustStore=/etc/app-truststore.p12 "
                                "-Djavax.net.ssl.trustStorePassword=s3cret-pw"}
    assert names(java_store(tree, env, home)) == {"Test Intermediate CA"}  # replaces cacerts (observed with OpenJDK 17.0.15)
    missing = java_store(tree, {"JAVA_OPTS": "-Djavax.net.ssl.trustStore=/nope.jks"}, home)
    assert not missing.certificates and "PKIX path building failed" in missing.notes[0]


def test_python_requests_uses_certifi_and_its_variables(tmp_path, pki):
    site = "/usr/local/lib/python3.12/site-packages"
    files = {**debian_files(pki, pki.root.pem),
             f"{site}/requests/__init__.py": b"",
             f"{site}/certifi/cacert.pem": pki.other_root.pem,
             "/usr/lib/python3/dist-packages/requests/__init__.py": b"",
             # Debian's python3-certifi: no cacert.pem, where() returns the system bundle (python3-certifi 2022.9.24-1)
             "/usr/lib/python3/dist-packages/certifi/core.py": b"def where():\n    return '/etc/ssl/certs/ca-certificates.crt'\n"}
    tree = build_root(tmp_path, files)
    stores = {s.name.split()[-1]: s for s in discover(tree, {}, only=["python-requests"])}
    assert names(stores[site]) == {"Unrelated Root CA"}
    assert stores[site].details["python_version"] == "3.12"
    assert names(stores["/usr/lib/python3/dist-packages"]) == {"Test Root CA"}
    env = {"SSL_CERT_FILE": "/etc/ssl/certs/ca-certificates.crt"}
    ignored = {s.name.split()[-1]: s for s in discover(tree, env, only=["python-requests"])}[site]
    assert names(ignored) == {"Unrelated Root CA"} and any("ignores it" in n for n in ignored.notes)
    env = {"CURL_CA_BUNDLE": "/usr/local/lib/python3.12/site-packages/certifi/cacert.pem",
           "REQUESTS_CA_BUNDLE": "/etc/ssl/certs/ca-certificates.crt"}
    replaced = {s.name.split()[-1]: s for s in discover(tree, env, only=["python-requests"])}[site]
    assert names(replaced) == {"Test Root CA"} and replaced.details["configured_by"] == "REQUESTS_CA_BUNDLE"


def test_node_bundled_roots_plus_extra_ca_certs(tmp_path, pki):
    # The node executable embeds its roots as PEM text between code (as the real binary does).
    fake_node = b"\x7fELF" + os.urandom(4096) + pki.other_root.pem + os.urandom(1024)
    files = {**debian_files(pki, pki.root.pem), "/usr/local/bin/node": fake_node,
             "/certs/extra.pem": pki.legacy_root.pem, "/certs/extra.der": pki.legacy_root.der,
             "/etc/ssl/cert.pem": pki.intermediate.pem}
    tree = build_root(tmp_path, files)
    (store,) = discover(tree, {}, only=["node"])
    assert names(store) == {"Unrelated Root CA"}  # the OS store is not consulted by default (Node docs --use-openssl-ca)
    (store,) = discover(tree, {"NODE_EXTRA_CA_CERTS": "/certs/extra.pem"}, only=["node"])
    assert names(store) == {"Unrelated Root CA", "Legacy Corp CA"}  # appended, not replaced
    (store,) = discover(tree, {"NODE_EXTRA_CA_CERTS": "/certs/extra.der"}, only=["node"])
    assert names(store) == {"Unrelated Root CA"} and "ignores it silently" in store.notes[-1]
    (store,) = discover(tree, {"NODE_EXTRA_CA_CERTS": "/nope.pem"}, only=["node"])
    assert "Warning: Ignoring extra certs from `/nope.pem`" in store.notes[-1]
    # Official builds: --use-openssl-ca reads OPENSSLDIR=/etc/ssl (cert.pem + certs/) (observed with Node v20.20.2).
    (store,) = discover(tree, {"NODE_OPTIONS": "--use-openssl-ca"}, only=["node"])
    assert names(store) == {"Test Intermediate CA"}
    (store,) = discover(tree, {"NODE_USE_SYSTEM_CA": "1", "NODE_VERSION": "24.6.0"}, only=["node"])
    assert names(store) == {"Unrelated Root CA", "Test Intermediate CA"}
    (store,) = discover(tree, {"NODE_USE_SYSTEM_CA": "1", "NODE_VERSION": "20.20.2"}, only=["node"])
    assert names(store) == {"Unrelated Root CA"} and "needs Node" in store.notes[-1]


def test_discover_finds_what_is_there(tmp_path, pki):
    tree = build_root(tmp_path, {**debian_files(pki), "/usr/local/go/bin/go": b"\x7fELF"})
    assert [s.runtime for s in discover(tree, {})] == ["openssl", "go"]
    assert discover(build_root(tmp_path / "scratch", {}), {}) == []


def test_temurin_use_system_ca_certs(tmp_path, pki):
    """USE_SYSTEM_CA_CERTS works only through the image's own entrypoint (adoptium/containers entrypoint.sh)."""
    home = "/opt/java/openjdk"
    tree = build_root(tmp_path / "root", {
        **debian_files(pki, pki.root.pem),
        f"{home}/bin/java": b"\x7fELF",
        f"{home}/lib/security/cacerts": keytool_store(tmp_path / "kt", pki.other_root),
        "/__cacert_entrypoint.sh": b"#!/bin/sh",
    })
    env = {"USE_SYSTEM_CA_CERTS": "1"}
    assert names(java_store(tree, {}, home, "debian", ["/__cacert_entrypoint.sh"])) == {"Unrelated Root CA"}
    with_entrypoint = java_store(tree, env, home, "debian", ["/__cacert_entrypoint.sh", "java", "-jar", "app.jar"])
    assert names(with_entrypoint) == {"Unrelated Root CA", "Test Root CA"}
    overridden = java_store(tree, env, home, "debian", ["java", "-jar", "app.jar"])
    assert names(overridden) == {"Unrelated Root CA"} and "no effect" in overridden.notes[-1]


def test_scratch_image_running_a_static_program_is_judged_as_go(tmp_path, pki):
    tree = build_root(tmp_path, {"/app/billing": b"\x7fELF static", "/etc/ssl/certs/ca-certificates.crt": pki.root.pem})
    (store,) = discover(tree, {}, entrypoint=["/app/billing", "serve"])
    assert store.runtime == "go" and names(store) == {"Test Root CA"} and "assumed Go" in store.notes[-1]
    assert discover(tree, {}, entrypoint=["/app/missing"]) == []
