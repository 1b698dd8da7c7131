"""Hostile and unusual certificate input (issue 18): CA certificates with key algorithms the
cryptography library cannot load (GOST R 34.10-2012, SM2), bundles over the size limit, corrupt JVM
stores. Each is counted or reported in one line; checks never crash (exit 3), trust never tracebacks."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import pki
from imagekit import Image, Layer, write_oci
from test_scan_support import PATH_ENV, debian_layer, public_bundle

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "imagelint.cli", *args], cwd=cwd, capture_output=True,
                          text=True, env=env, timeout=timeout)


def assert_clean_exit(r: subprocess.CompletedProcess, codes=(0, 1)) -> None:
    assert r.returncode in codes, (r.returncode, r.stdout[-2000:], r.stderr[-2000:])
    assert "Traceback" not in r.stdout + r.stderr
    assert "internal error" not in r.stdout + r.stderr


@pytest.fixture(scope="module")
def national_cas() -> dict[str, bytes]:
    return {"gost.crt": pki.unknown_algorithm_ca_pem("GOST Root CA", pki.GOST_2012_256),
            "sm2.crt": pki.unknown_algorithm_ca_pem("SM2 Root CA", pki.SM2)}


def test_unknown_key_algorithms_load_as_certificates(national_cas):
    from imagelint.certs.load import load_certificates

    gost, sm2 = (load_certificates(national_cas[name]).certificates for name in ("gost.crt", "sm2.crt"))
    assert len(gost) == 1 and len(sm2) == 1
    assert gost[0].key_type == "unsupported key algorithm (GOST R 34.10-2012 256-bit, 1.2.643.7.1.1.1.1)"
    assert sm2[0].key_type == "unsupported key algorithm (SM2, 1.2.156.10197.1.301)"
    assert gost[0].is_ca and gost[0].self_signed and gost[0].key_bits is None


def test_an_openssl_made_sm2_ca_loads(tmp_path):
    key, crt = tmp_path / "sm2.key", tmp_path / "sm2.crt"
    made = subprocess.run(["openssl", "genpkey", "-algorithm", "SM2", "-out", str(key)], capture_output=True)
    if made.returncode != 0:
        pytest.skip("this openssl has no SM2")
    subprocess.run(["openssl", "req", "-new", "-x509", "-key", str(key), "-out", str(crt), "-days", "30",
                    "-subj", "/CN=SM2 OpenSSL CA", "-sm3", "-addext", "basicConstraints=critical,CA:TRUE"],
                   check=True, capture_output=True)
    from imagelint.certs.load import load_certificates

    [record] = load_certificates(crt.read_bytes()).certificates
    assert "SM2" in record.key_type and record.is_ca


def test_lint_counts_them_with_a_note(tmp_path, national_cas):
    for name, pem in national_cas.items():
        (tmp_path / name).write_bytes(pem)
    (tmp_path / "Dockerfile").write_text("FROM debian:12\nRUN apt-get update && apt-get install -y ca-certificates\n"
                                         "COPY gost.crt sm2.crt /usr/local/share/ca-certificates/\n"
                                         "RUN update-ca-certificates\n")
    r = run("lint", "--format", "json", "Dockerfile", cwd=tmp_path)
    assert_clean_exit(r)
    findings = json.loads(r.stdout)["findings"]
    notes = [f for f in findings if f.get("properties", {}).get("problem") == "unsupported-key"]
    assert len(notes) == 2 and all(f["severity"] == "info" for f in notes), findings


@pytest.mark.parametrize("name", ["gost.crt", "sm2.crt"])
def test_trust_chain_with_an_unknown_key_algorithm(tmp_path, national_cas, name):
    (tmp_path / name).write_bytes(national_cas[name])
    r = run("trust", "host", "--chain", name, cwd=tmp_path)
    assert_clean_exit(r)
    assert "NOT TRUSTED" in r.stdout


def test_scan_lists_them_in_the_bundle_and_anchor_dir(tmp_path, national_cas):
    gost, sm2 = national_cas["gost.crt"], national_cas["sm2.crt"]
    bundle = public_bundle() + gost + sm2
    image = Image([debian_layer(bundle), Layer().file("usr/local/share/ca-certificates/gost.crt", gost)
                   .file("usr/local/share/ca-certificates/sm2.crt", sm2)], env=[PATH_ENV])
    ref = write_oci(tmp_path / "layout", image)
    assert_clean_exit(run("scan", "--no-cache", ref, cwd=tmp_path))
    r = run("scan", "--no-cache", "--inventory", "--format", "json", ref, cwd=tmp_path)
    assert_clean_exit(r, (0,))
    [inventory] = json.loads(r.stdout)["images"]
    notes = sorted(c.get("note", "") for c in inventory["custom_cas"])
    assert len(notes) == 2 and all(n.startswith("unsupported key algorithm") for n in notes), inventory


def test_a_served_chain_with_an_unknown_key_algorithm(national_cas):
    from imagelint.certs.served import served_problems

    key = pki.make_cert("k").key_pem
    problems = served_problems(national_cas["gost.crt"], key, names=["example.com"])
    assert all("Traceback" not in p.message for p in problems)  # ran to the end: the pair cannot be compared


@pytest.fixture(scope="module")
def oversized_bundle_image(tmp_path_factory) -> str:
    """A Debian image whose CA bundle is over the 32 MiB per-file limit (sparse in spirit: the
    public roots repeated), with OpenSSL's cert.pem linked to it as on Debian."""
    bundle = public_bundle()
    big = bundle * (33 * 1024 * 1024 // len(bundle) + 1)
    layer = Layer().file("etc/ssl/certs/ca-certificates.crt", big) \
        .symlink("usr/lib/ssl/cert.pem", "/etc/ssl/certs/ca-certificates.crt")
    return write_oci(tmp_path_factory.mktemp("big") / "layout", Image([debian_layer(), layer], env=[PATH_ENV]))


def test_a_bundle_over_the_limit_is_too_large_not_missing(tmp_path, oversized_bundle_image):
    r = run("scan", "--no-cache", "--format", "json", oversized_bundle_image, cwd=tmp_path)
    assert_clean_exit(r)
    findings = json.loads(r.stdout)["findings"]
    [il704] = [f for f in findings if f["rule"] == "IL704"]
    assert il704["properties"]["problem"] == "too-large" and il704["severity"] == "warning"
    assert "too large to check" in il704["message"] and "missing" not in il704["message"]
    assert not [f for f in findings if f["rule"] == "IL703"]


def test_trust_with_a_bundle_over_the_limit_says_unknown(tmp_path, oversized_bundle_image):
    (tmp_path / "chain.pem").write_bytes(pki.make_pki().leaf.pem)
    r = run("trust", "--no-cache", oversized_bundle_image, "--chain", "chain.pem", "--runtime", "openssl", cwd=tmp_path)
    assert_clean_exit(r)
    assert "too large to check" in r.stdout and "no trusted certificates at all" not in r.stdout, r.stdout


def test_trust_chain_over_16_mib_is_one_line(tmp_path):
    chain = tmp_path / "chain.pem"
    chain.write_bytes(pki.make_pki().leaf.pem + b"\n" * (17 * 1024 * 1024))
    r = run("trust", "host", "--chain", str(chain), cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert "chain.pem" in r.stderr and "larger than 16 MB" in r.stderr


def _jvm_stores() -> dict[str, bytes]:
    from imagekit import jks_store, make_ca, pkcs12_store

    cas = [make_ca(f"Root {i}")[1] for i in range(3)]
    jks, p12 = jks_store(cas), pkcs12_store(cas)
    return {"empty": b"", "corrupt": os.urandom(64).replace(b"\x30", b"\x31"), "truncated-jks": jks[:len(jks) // 2],
            "truncated-jks-digest": jks[:-10], "truncated-p12": p12[:len(p12) // 2],
            "corrupt-jks": jks[:4] + b"\x00\x00\x00\x07" + jks[8:]}


JVM_PROBLEM = {"empty": "empty", "corrupt": "corrupt", "truncated-jks": "truncated",
               "truncated-jks-digest": "truncated", "truncated-p12": "truncated", "corrupt-jks": "corrupt"}


@pytest.mark.parametrize("case", sorted(JVM_PROBLEM))
def test_a_broken_jvm_cacerts_is_a_finding(tmp_path, case):
    data = _jvm_stores()[case]
    layer = Layer().file("opt/java/openjdk/bin/java", b"\x7fELF", mode=0o755) \
        .file("opt/java/openjdk/lib/security/cacerts", data)
    ref = write_oci(tmp_path / "layout", Image([debian_layer(), layer], env=[PATH_ENV, "JAVA_HOME=/opt/java/openjdk"]))
    r = run("scan", "--no-cache", "--format", "json", ref, cwd=tmp_path)
    assert_clean_exit(r)
    [hit] = [f for f in json.loads(r.stdout)["findings"] if f["rule"] == "IL705"]
    assert hit["properties"]["problem"] == JVM_PROBLEM[case]
    assert hit["severity"] == "error" and "password" not in hit["message"], hit
    (tmp_path / "chain.pem").write_bytes(pki.make_pki().leaf.pem)
    r = run("trust", "--no-cache", ref, "--chain", "chain.pem", "--runtime", "java", "--format", "json", cwd=tmp_path)
    assert_clean_exit(r)
    [verdict] = json.loads(r.stdout)["verdicts"]
    assert verdict["reason"] == "truststore-unreadable" and "password" not in verdict["fix"], verdict


def test_load_java_trust_store_tells_truncation_from_a_wrong_password():
    from imagelint.certs.load import load_java_trust_store

    stores = _jvm_stores()
    assert load_java_trust_store(stores["truncated-jks"], b"changeit")[1] == "truncated"
    assert load_java_trust_store(stores["truncated-p12"], b"changeit")[1] == "truncated"
    assert load_java_trust_store(stores["empty"], b"changeit")[1] == "empty"


@pytest.mark.parametrize("cut", ["half", "header"])
def test_a_truncated_keystore_with_a_private_key_is_truncated_not_a_password_problem(cut):
    import jks
    from cryptography.hazmat.primitives import serialization

    from imagelint.certs.load import load_certificates

    ca = pki.make_pki().root
    key = ca.key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                               serialization.NoEncryption())
    data = jks.KeyStore.new("jks", [jks.PrivateKeyEntry.new("server", [ca.der], key, "pkcs8"),
                                    jks.TrustedCertEntry.new("ca", ca.der)]).saves("changeit")
    whole = load_certificates(data, "keystore.jks", passwords=(None, b"changeit"))
    assert whole.notes == [] and len(whole.certificates) == 1
    end = {"half": len(data) // 2, "header": 20}[cut]
    cut_store = load_certificates(data[:end], "keystore.jks", passwords=(None, b"changeit"))
    assert "truncated-keystore" in cut_store.notes and "unreadable-keystore" not in cut_store.notes
    assert "unreadable-keystore" in load_certificates(data, "keystore.jks", passwords=(b"wrong",)).notes
