"""Path building and host matching, per runtime policy (no network: the real clients are in
test_trust_clients.py)."""
from __future__ import annotations

import pytest

from imagelint.certs.load import load_certificates
from imagelint.certs.verify import (
    POLICIES,
    cryptography_strict_error,
    dns_matches,
    host_problem,
    verify,
    x509_strict_error,
)
from pki import DAY, NOW, make_cert, make_pki


def records(*issued):
    return [load_certificates(i.pem).certificates[0] for i in issued]


@pytest.fixture(scope="module")
def pki():
    return make_pki()


def outcome(presented, store, policy, host="localhost", at=NOW):
    result = verify(records(*presented), records(*store), host, at, POLICIES[policy])
    error = result.first_error(POLICIES[policy])
    return "ok" if error is None else f"{error.reason}:{error.openssl_code}"


@pytest.mark.parametrize("policy", ["openssl", "node", "java", "go", "curl"])
def test_good_chain_in_any_order(pki, policy):
    assert outcome([pki.leaf, pki.intermediate], [pki.root], policy) == "ok"
    # Servers send chains out of order, with the root, or with duplicates: all fine.
    assert outcome([pki.leaf, pki.root, pki.intermediate, pki.intermediate], [pki.root], policy) == "ok"


@pytest.mark.parametrize("policy,expected", [
    ("openssl", "missing-intermediate:20"), ("curl", "missing-intermediate:20"),
    ("node", "missing-intermediate:21"),  # Node's callback continues: internal_verify sets 21 last
    ("java", "missing-intermediate:20"), ("go", "missing-intermediate:20"),
])
def test_leaf_only_chain(pki, policy, expected):
    assert outcome([pki.leaf], [pki.root], policy) == expected


@pytest.mark.parametrize("policy,expected", [
    ("openssl", "intermediate-anchor:2"), ("node", "intermediate-anchor:2"),
    ("curl", "ok"), ("java", "ok"), ("go", "ok"),
])
def test_intermediate_as_anchor(pki, policy, expected):
    assert outcome([pki.leaf, pki.intermediate], [pki.intermediate], policy) == expected


def test_untrusted_root_sent_vs_not_sent(pki):
    assert outcome([pki.leaf, pki.intermediate, pki.root], [pki.other_root], "openssl") == "untrusted-root:19"
    assert outcome([pki.leaf, pki.intermediate], [pki.other_root], "openssl") == "untrusted-root:20"
    # A leaf without AIA, issued straight by an unknown root: the root is what is missing.
    assert outcome([pki.other_leaf], [pki.root], "openssl") == "untrusted-root:20"


def test_self_signed_leaf(pki):
    assert outcome([pki.self_signed_leaf], [pki.root], "openssl") == "self-signed-leaf:18"
    for policy in ("openssl", "node", "java", "go"):
        assert outcome([pki.self_signed_leaf], [pki.self_signed_leaf], policy) == "ok"


def test_server_certificate_installed_instead_of_ca(pki):
    assert outcome([pki.leaf, pki.intermediate], [pki.leaf], "openssl") == "leaf-not-ca:20"
    assert outcome([pki.leaf, pki.intermediate], [pki.leaf], "java") == "ok"


def test_dates_and_order(pki):
    assert outcome([pki.expired_leaf, pki.intermediate], [pki.root], "openssl") == "expired:10"
    assert outcome([pki.leaf, pki.intermediate], [pki.root], "openssl", at=NOW + 400 * DAY) == "expired:10"
    assert outcome([pki.leaf, pki.intermediate], [pki.root], "openssl", at=NOW - 30 * DAY) == "not-yet-valid:9"
    # OpenSSL checks the host before dates; Go checks the leaf's dates before the host.
    assert outcome([pki.expired_leaf, pki.intermediate], [pki.root], "openssl", host="x.test") == "hostname-mismatch:62"
    assert outcome([pki.expired_leaf, pki.intermediate], [pki.root], "go", host="x.test") == "expired:10"


def test_expired_anchor_java_does_not_care():
    old_root = make_cert("Old Root", ca=True, not_before=NOW - 400 * DAY, not_after=NOW - DAY)
    leaf = make_cert("svc", old_root, dns=("localhost",), not_before=NOW - 2 * DAY)
    assert outcome([leaf], [old_root], "openssl") == "expired:10"
    assert outcome([leaf], [old_root], "java") == "ok"


def test_issuer_must_be_ca_and_path_length():
    root = make_cert("R", ca=True)
    not_ca = make_cert("NotCA", root, ca=False, key_usage=False)
    leaf = make_cert("svc", not_ca, dns=("localhost",))
    assert outcome([leaf, not_ca], [root], "openssl") == "issuer-not-ca:79"
    int0 = make_cert("I0", root, ca=True, path_length=0)
    int1 = make_cert("I1", int0, ca=True, path_length=0)
    leaf2 = make_cert("svc", int1, dns=("localhost",))
    assert outcome([leaf2, int1, int0], [root], "openssl") == "path-length-exceeded:25"


def test_hostnames():
    assert dns_matches("*.example.com", "api.example.com")
    assert not dns_matches("*.example.com", "a.b.example.com")
    assert not dns_matches("*.example.com", "example.com")
    assert not dns_matches("*.com", "example.com")
    assert dns_matches("API.Example.com.", "api.example.com")
    root = make_cert("R", ca=True)
    cn_only = records(make_cert("legacy.test", root))[0]
    assert host_problem(cn_only, "legacy.test", cn_fallback=True) is None
    assert host_problem(cn_only, "legacy.test", cn_fallback=False) == "cn-only"  # Go since 1.15
    with_ip = records(make_cert("x", root, dns=("a.test",), ips=("127.0.0.1",)))[0]
    assert host_problem(with_ip, "127.0.0.1", True) is None
    assert host_problem(with_ip, "10.0.0.1", True) == "no-san-match"
    # An IP is never matched against the CN.
    assert host_problem(records(make_cert("10.0.0.2", root))[0], "10.0.0.2", True) == "no-ip-san"


def test_private_ca_without_key_ids_validates_but_strict_rejects(pki):
    chain = records(pki.legacy_leaf)
    store = records(pki.legacy_root)
    result = verify(chain, store, "localhost", NOW, POLICIES["openssl"])
    assert result.trusted and [c.common_name for c in result.chain] == ["orders-api", "Legacy Corp CA"]
    code, cert = x509_strict_error(result.chain)
    assert (code, cert.common_name) == (85, "orders-api")  # leaf first, as OpenSSL's strict mode
    assert "2.5.29.35" in cryptography_strict_error(chain, store, "localhost", NOW)


def test_ca_without_key_usage_strict_code():
    root = make_cert("NoKU Root", ca=True, key_usage=False)
    leaf = make_cert("svc", root, dns=("localhost",))
    result = verify(records(leaf), records(root), "localhost", NOW, POLICIES["openssl"])
    assert result.trusted
    code, cert = x509_strict_error(result.chain)
    assert (code, cert.common_name) == (92, "NoKU Root")


def test_openssl_req_x509_style_self_signed_server_cert():
    """`openssl req -x509` marks the certificate CA:TRUE; served as the leaf it is still a self-signed leaf."""
    server = make_cert("localhost", None, ca=True, dns=("localhost",))
    assert outcome([server], [make_cert("R", ca=True)], "openssl") == "self-signed-leaf:18"
    assert outcome([server], [server], "openssl") == "ok"
