"""certs/served.py: what a server presents, from the bytes of its certificate, key and chain files.
One implementation for server configurations in images and contexts and for Kubernetes TLS Secrets."""
from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes

from imagelint.certs.load import load_certificates
from imagelint.certs.served import CATEGORY_ORDER, served_names, served_problems
from pki import DAY, NOW, make_cert, make_pki


@pytest.fixture(scope="module")
def pki():
    return make_pki("orders-api.payments.svc")


def kinds(problems):
    return [(p.category, p.problem) for p in problems]


def test_full_chain_with_its_key_is_quiet(pki):
    assert served_problems(pki.leaf.pem + pki.intermediate.pem, pki.leaf.key_pem,
                           names=["orders-api.payments.svc"], at=NOW) == []


def test_the_incident_certificate_is_expired_first_then_short_lived(pki):
    problems = served_problems(pki.expired_leaf.pem + pki.intermediate.pem, pki.expired_leaf.key_pem, at=NOW)
    assert kinds(problems) == [("cert-expired", "expired"), ("cert-short-lived", "short-lived")]
    expired, short = problems
    assert expired.severity == "error" and short.severity == "warning"
    assert expired.fingerprint == pki.expired_leaf.cert.fingerprint(hashes.SHA256()).hex()
    assert "CN=orders-api" in expired.message and "SHA-256 " in expired.message
    assert "validity 1 day(s)" in expired.message
    assert expired.properties["validity_hours"] == 24.0


def test_short_lived_before_it_expires_and_expiring(pki):
    one_day = make_cert("orders-api", pki.intermediate, dns=("orders-api",), not_before=NOW - DAY / 4,
                        not_after=NOW + DAY * 3 / 4)
    assert kinds(served_problems(one_day.pem + pki.intermediate.pem, None, at=NOW)) == [
        ("cert-short-lived", "short-lived")]
    monthly = make_cert("orders-api", pki.intermediate, not_before=NOW - 60 * DAY, not_after=NOW + 10 * DAY)
    (problem,) = served_problems(monthly.pem + pki.intermediate.pem, None, at=NOW)
    assert (problem.category, problem.problem, problem.properties["days_left"]) == ("cert-short-lived", "expiring", 10)
    assert served_problems(monthly.pem + pki.intermediate.pem, None, at=NOW, expiring_days=5) == []
    # 48 h exactly is short-lived; 49 h is not.
    for hours, expect in ((48, ["short-lived"]), (49, [])):
        cert = make_cert("x", pki.intermediate, not_before=NOW - DAY, not_after=NOW - DAY + hours * DAY / 24)
        assert [p.problem for p in served_problems(cert.pem + pki.intermediate.pem, None, at=NOW,
                                                   expiring_days=0)] == expect


def test_key_mismatch_and_leaf_not_first(pki):
    (mismatch,) = served_problems(pki.leaf.pem + pki.intermediate.pem, pki.other_leaf.key_pem, at=NOW)
    assert (mismatch.category, mismatch.problem) == ("cert-key-mismatch", "key-mismatch")
    assert "key values mismatch" in mismatch.message
    assert "PRIVATE" not in mismatch.message and pki.other_leaf.key_pem.decode() not in str(mismatch.properties)
    (order,) = served_problems(pki.intermediate.pem + pki.leaf.pem, pki.leaf.key_pem, at=NOW)
    assert (order.category, order.problem) == ("cert-key-mismatch", "leaf-not-first")
    # HAProxy style: the key in the same PEM.
    combined = pki.leaf.pem + pki.intermediate.pem + pki.leaf.key_pem
    assert served_problems(combined, combined, at=NOW) == []


def test_no_key_or_no_certificate(pki):
    assert kinds(served_problems(b"", pki.leaf.key_pem, at=NOW)) == [("server-cert-missing", "no-certificate")]
    assert kinds(served_problems(pki.leaf.pem + pki.intermediate.pem, pki.leaf.pem, at=NOW, key_source="/k.pem")) == [
        ("server-cert-missing", "no-private-key")]


def test_chain_incomplete_unless_self_signed_or_issuer_trusted(pki):
    (problem,) = served_problems(pki.leaf.pem, pki.leaf.key_pem, at=NOW, source="/etc/nginx/tls/orders.pem")
    assert (problem.category, problem.problem) == ("cert-chain-incomplete", "leaf-only")
    assert problem.message.startswith("/etc/nginx/tls/orders.pem holds only the server certificate CN=orders-api")
    assert "unable to get local issuer certificate" in problem.message
    # A separate chain file (Apache SSLCertificateChainFile) completes it.
    assert served_problems(pki.leaf.pem, pki.leaf.key_pem, chain_pem=pki.intermediate.pem, at=NOW) == []
    # Self-signed: nothing to send.
    assert served_problems(pki.self_signed_leaf.pem, pki.self_signed_leaf.key_pem, at=NOW) == []
    # Issued straight by a CA the clients hold.
    trusted = load_certificates(pki.other_root.pem).certificates
    assert served_problems(pki.other_leaf.pem, pki.other_leaf.key_pem, at=NOW, trusted=trusted) == []
    # Intermediates sent but not the leaf's issuer.
    (wrong,) = served_problems(pki.leaf.pem + pki.other_root.pem, None, at=NOW)
    assert wrong.problem == "missing-intermediate"


def test_san_mismatch_per_configured_name(pki):
    problems = served_problems(pki.leaf.pem + pki.intermediate.pem, None, at=NOW,
                               names=["orders-api.payments.svc", "orders-api", "_", "~^api\\d+$", "127.0.0.1"])
    assert [(p.category, p.properties["name"]) for p in problems] == [("cert-san-mismatch", "orders-api")]
    cn_only = pki.cn_only_leaf
    (cn,) = served_problems(cn_only.pem + pki.intermediate.pem, None, names=["orders-api.payments.svc"], at=NOW)
    assert cn.problem == "cn-only"


def test_served_names():
    assert served_names(["_", "", ".example.com", "www.example.com:443", "~x", "A.Example.COM."]) == [
        "example.com", "*.example.com", "www.example.com", "a.example.com"]


def test_categories_come_in_fix_order(pki):
    problems = served_problems(pki.expired_leaf.pem, pki.other_leaf.key_pem, names=["nope.test"], at=NOW)
    order = [CATEGORY_ORDER.index(p.category) for p in problems]
    assert order == sorted(order)
    assert [p.category for p in problems] == ["cert-expired", "cert-short-lived", "cert-key-mismatch",
                                              "cert-chain-incomplete", "cert-san-mismatch"]


def test_keystore_entries_of_java_servers(pki):
    """Tomcat's keystores: the key entry's chain and key, PKCS#12 and JKS; a wrong password opens nothing."""
    import jks
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12

    from imagelint.certs.served import keystore_entry

    p12 = pkcs12.serialize_key_and_certificates(b"tomcat", pki.leaf.key, pki.leaf.cert, [pki.intermediate.cert],
                                                BestAvailableEncryption(b"pw"))
    der_key = pki.leaf.key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption())
    entry = jks.PrivateKeyEntry.new("tomcat", [pki.leaf.der, pki.intermediate.der], der_key, "pkcs8")
    jks_store = jks.KeyStore.new("jks", [entry]).saves("pw")
    for data in (p12, jks_store):
        chain, key = keystore_entry(data, "pw")
        assert served_problems(chain, key, at=NOW) == []
        assert keystore_entry(data, "wrong") is None
