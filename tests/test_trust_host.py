"""`imagelint trust host`: this machine's own stores, with the environment passed explicitly
(this machine presets SSL_CERT_FILE, NODE_EXTRA_CA_CERTS, REQUESTS_CA_BUNDLE...)."""
from __future__ import annotations

import json
import os

import pytest

from imagelint.commands.trust import run_trust
from imagelint.fs.host import HostView
from imagelint.trust.model import TrustModel
from pki import make_pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    pki = make_pki()
    pki.write(tmp_path_factory.mktemp("pki"))
    return pki


def host_verdicts(pki, env, runtimes=None):
    model = TrustModel(HostView(), env, kind="host")
    code, out = run_trust("host", chain_path=str(pki.files["chain-full.pem"]), host="localhost", fmt="json",
                          runtimes=runtimes, model=model)
    doc = json.loads(out)
    assert doc["image"] == "host"
    return code, doc["verdicts"]


def test_host_does_not_trust_a_private_ca(pki):
    if not os.path.exists("/etc/ssl/certs/ca-certificates.crt"):
        from services import _skip_or_fail

        _skip_or_fail("no Debian-style system bundle on this machine")
    code, verdicts = host_verdicts(pki, {"PATH": "/usr/bin:/bin"}, ["openssl"])
    (openssl,) = verdicts
    assert code == 1 and openssl["reason"] == "untrusted-root" and openssl["store_size"] > 50


def test_host_env_is_the_one_passed(pki):
    """SSL_CERT_FILE replaces the default file only: the system dir stays trusted (union)."""
    env = {"PATH": "/usr/bin:/bin", "SSL_CERT_FILE": str(pki.files["root.pem"]),
           "REQUESTS_CA_BUNDLE": str(pki.files["root.pem"])}
    code, verdicts = host_verdicts(pki, env, ["openssl", "python-requests"])
    by_runtime = {v["runtime"]: v for v in verdicts}
    assert by_runtime["openssl"]["trusted"]
    assert str(pki.files["root.pem"]) in by_runtime["openssl"]["store"]
    assert all(v["trusted"] for v in verdicts if v["runtime"] == "python-requests")


def test_host_fix_is_shell_commands_not_a_dockerfile(pki):
    if not os.path.exists("/etc/ssl/certs/ca-certificates.crt"):
        from services import _skip_or_fail

        _skip_or_fail("no Debian-style system bundle on this machine")
    _code, verdicts = host_verdicts(pki, {"PATH": "/usr/bin:/bin"}, ["openssl"])
    (openssl,) = verdicts
    fix = openssl["fix"].splitlines()
    assert not [line for line in fix if line.split(" ", 1)[0] in ("COPY", "RUN", "ENV", "USER", "FROM")], fix
    assert any(line.startswith("sudo cp ") and "/usr/local/share/ca-certificates/" in line for line in fix), fix
    assert "sudo update-ca-certificates" in fix
