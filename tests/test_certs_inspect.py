"""Per-certificate and per-file problems (used by lint and scan)."""
from __future__ import annotations

import pytest

from imagelint.certs.inspect import certificate_problems, file_problems
from imagelint.certs.load import load_certificates
from pki import DAY, NOW, make_cert


def codes(problems):
    return sorted(p.code for p in problems)


def record(issued):
    return load_certificates(issued.pem).certificates[0]


@pytest.fixture(scope="module")
def root():
    return make_cert("Inspect Root", ca=True)


def test_good_root_has_no_problem(root):
    assert certificate_problems(record(root), NOW) == []


def test_dates(root):
    expired = make_cert("Old CA", ca=True, not_before=NOW - 10 * DAY, not_after=NOW - DAY)
    future = make_cert("Future CA", ca=True, not_before=NOW + DAY, not_after=NOW + 10 * DAY)
    soon = make_cert("Soon CA", ca=True, not_after=NOW + 5 * DAY)
    assert codes(certificate_problems(record(expired), NOW)) == ["expired"]
    assert codes(certificate_problems(record(future), NOW)) == ["not-yet-valid"]
    assert codes(certificate_problems(record(soon), NOW, expiring_days=30)) == ["expiring"]
    assert certificate_problems(record(soon), NOW, expiring_days=3) == []


def test_leaf_and_self_signed_leaf_as_anchor(root):
    leaf = make_cert("svc.test", root, dns=("svc.test",))
    self_signed = make_cert("pinned.test", None, dns=("pinned.test",))
    assert codes(certificate_problems(record(leaf), NOW)) == ["leaf-as-anchor"]
    assert codes(certificate_problems(record(self_signed), NOW)) == ["self-signed-leaf"]
    assert certificate_problems(record(leaf), NOW, as_anchor=False) == []


def test_weak_rsa_key():
    weak = make_cert("Weak CA", ca=True, rsa_bits=1024)
    problems = certificate_problems(record(weak), NOW)
    assert codes(problems) == ["weak-key"] and "1024 bits" in problems[0].message


def test_file_problems_of_anchors(root):
    other = make_cert("Second CA", ca=True)
    anchor = dict(in_trust_dir=True, concatenated=True, at=NOW)
    assert codes(file_problems("/usr/local/share/ca-certificates/a.crt", root.der, **anchor)) == ["der-in-crt"]
    multi = file_problems("/usr/local/share/ca-certificates/b.crt", root.pem + other.pem, **anchor)
    assert codes(multi) == ["multiple-certs"]
    assert codes(file_problems("b.pem", root.pem + other.pem, keytool_input=True, at=NOW)) == ["multiple-certs"]
    bom = file_problems("corp.crt", b"\xef\xbb\xbf" + root.pem, keytool_input=True, at=NOW)
    assert codes(bom) == ["utf8-bom"] and "keytool" in bom[0].message
    assert file_problems("corp.crt", b"\xef\xbb\xbf" + root.pem, in_trust_dir=True, at=NOW) == []  # OpenSSL reads it
    key = file_problems("bundle.pem", root.pem + root.key_pem, in_trust_dir=True, at=NOW)
    assert codes(key) == ["private-key"]
    assert "BEGIN" not in key[0].message  # the type is reported, never key material
    assert codes(file_problems("junk.crt", b"not a certificate", in_trust_dir=True, at=NOW)) == ["no-certificate"]
    assert file_problems("README.md", b"not a certificate", in_trust_dir=True, at=NOW) == []


def test_sha1_signature_made_by_openssl(tmp_path):
    import subprocess

    env = {"PATH": "/usr/bin:/bin"}

    def run(*args):
        subprocess.run(["openssl", *args], cwd=tmp_path, check=True, capture_output=True, env=env)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=SHA1 CA",
        "-days", "30")
    run("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "int.key", "-out", "int.csr", "-subj", "/CN=Old Int")
    (tmp_path / "ext.cnf").write_text("basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n")
    run("x509", "-req", "-in", "int.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-sha1",
        "-days", "365", "-extfile", "ext.cnf", "-out", "int.pem")
    problems = file_problems("int.pem", (tmp_path / "int.pem").read_bytes())
    assert codes(problems) == ["weak-signature"] and "SHA1" in problems[0].message
