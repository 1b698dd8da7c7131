"""Loading certificates from every container format trust stores use, with real files
(keytool-made keystores, openssl-made TRUSTED CERTIFICATE / PKCS7)."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from imagelint.certs.load import load_certificates
from pki import make_cert

CLEAN_ENV = {"PATH": "/usr/bin:/bin"}


@pytest.fixture(scope="module")
def root():
    return make_cert("Load Root CA", ca=True)


@pytest.fixture(scope="module")
def leaf(root):
    return make_cert("load.test", root, dns=("load.test",))


def test_pem_bundle_with_crlf_and_bom(root, leaf):
    data = b"\xef\xbb\xbf" + (root.pem + leaf.pem).replace(b"\n", b"\r\n")
    loaded = load_certificates(data, "bundle.crt")
    assert [c.common_name for c in loaded.certificates] == ["Load Root CA", "load.test"]
    assert {"bom", "crlf"} <= set(loaded.notes)
    first = loaded.certificates[0]
    assert first.is_ca and first.self_signed and "key_cert_sign" in first.key_usage
    assert first.source == "bundle.crt" and len(first.fingerprint_sha256) == 64
    assert loaded.certificates[1].dns_names == ("load.test",) and not loaded.certificates[1].self_signed


def test_der(root):
    loaded = load_certificates(root.der)
    assert loaded.container == "der" and loaded.certificates[0].common_name == "Load Root CA"


def test_garbage_never_raises():
    assert load_certificates(b"\x30\x03\x02\x01\x00").certificates == []
    assert load_certificates(b"hello").certificates == []
    assert load_certificates(b"-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n").certificates == []


def test_private_keys_reported_by_type_never_bytes(root, leaf):
    loaded = load_certificates(leaf.pem + leaf.key_pem)
    assert loaded.private_keys == ["pkcs8"]
    assert len(loaded.certificates) == 1
    assert b"PRIVATE" not in repr(loaded).encode()


def test_trusted_certificate_and_pkcs7_made_by_openssl(tmp_path, root, leaf):
    (tmp_path / "root.pem").write_bytes(root.pem)
    (tmp_path / "leaf.pem").write_bytes(leaf.pem)
    subprocess.run(["openssl", "x509", "-in", "root.pem", "-trustout", "-addtrust", "serverAuth", "-out", "t.pem"],
                   cwd=tmp_path, check=True, env=CLEAN_ENV)
    trusted = load_certificates((tmp_path / "t.pem").read_bytes())
    assert b"BEGIN TRUSTED CERTIFICATE" in (tmp_path / "t.pem").read_bytes()
    assert "trusted-certificate" in trusted.notes
    assert trusted.certificates[0].fingerprint_sha256 == load_certificates(root.pem).certificates[0].fingerprint_sha256

    for form in ("PEM", "DER"):
        subprocess.run(["openssl", "crl2pkcs7", "-nocrl", "-certfile", "root.pem", "-certfile", "leaf.pem",
                        "-outform", form, "-out", f"b.p7{form}"], cwd=tmp_path, check=True, env=CLEAN_ENV)
        p7 = load_certificates((tmp_path / f"b.p7{form}").read_bytes())
        assert sorted(c.common_name for c in p7.certificates) == ["Load Root CA", "load.test"]


needs_keytool = pytest.mark.skipif(shutil.which("keytool") is None, reason="keytool not installed")


def _keytool(*args, cwd):
    subprocess.run(["keytool", *args], cwd=cwd, check=True, capture_output=True, env=CLEAN_ENV)


@needs_keytool
@pytest.mark.parametrize("store_type,extra", [
    ("JKS", []),
    ("PKCS12", []),  # changeit-protected, like JDK 9-17 cacerts
    # JDK 18+ cacerts: PKCS12 without a MAC and without encryption (JDK-8275252)
    ("PKCS12", ["-J-Dkeystore.pkcs12.certProtectionAlgorithm=NONE", "-J-Dkeystore.pkcs12.macAlgorithm=NONE"]),
])
def test_java_keystores(tmp_path, root, store_type, extra):
    (tmp_path / "root.pem").write_bytes(root.pem)
    _keytool(*extra, "-importcert", "-noprompt", "-alias", "corp-root", "-file", "root.pem", "-keystore", "store",
             "-storetype", store_type, "-storepass", "changeit", cwd=tmp_path)
    loaded = load_certificates((tmp_path / "store").read_bytes(), "store")
    assert loaded.container == store_type.lower()
    assert [(c.common_name, c.alias) for c in loaded.certificates] == [("Load Root CA", "corp-root")]


@needs_keytool
def test_keystore_passwords_as_the_jvm_applies_them(tmp_path, root):
    from imagelint.certs.load import load_java_trust_store

    (tmp_path / "root.pem").write_bytes(root.pem)
    _keytool("-importcert", "-noprompt", "-alias", "r", "-file", "root.pem", "-keystore", "s.jks", "-storetype", "JKS",
             "-storepass", "s3cret-pass", cwd=tmp_path)
    _keytool("-importcert", "-noprompt", "-alias", "r", "-file", "root.pem", "-keystore", "s.p12",
             "-storetype", "PKCS12", "-storepass", "s3cret-pass", cwd=tmp_path)
    jks_data, p12_data = (tmp_path / "s.jks").read_bytes(), (tmp_path / "s.p12").read_bytes()
    # A JKS without a password: integrity unchecked, entries readable (as the JVM does).
    assert load_certificates(jks_data).certificates
    assert "unreadable-keystore" in load_certificates(jks_data, passwords=(b"wrong-pass",)).notes
    assert load_java_trust_store(jks_data, None)[1] is None
    assert load_java_trust_store(jks_data, b"wrong-pass")[1] == "wrong-password"
    assert load_java_trust_store(p12_data, None)[1] == "no-anchors"
    assert load_java_trust_store(p12_data, b"s3cret-pass")[0].certificates
    assert load_java_trust_store(root.pem, b"changeit")[1] == "not-a-keystore"


def test_host_java_cacerts_if_present():
    import os

    path = "/etc/ssl/certs/java/cacerts"
    if not os.path.exists(path):
        from services import _skip_or_fail

        _skip_or_fail("no Debian Java cacerts on this machine (ca-certificates-java)")
    loaded = load_certificates(open(path, "rb").read(), path)
    assert len(loaded.certificates) > 50 and all(c.alias for c in loaded.certificates)
