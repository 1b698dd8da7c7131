"""`imagelint trust` end to end over temp root filesystems and real loopback TLS servers:
verdicts, the JSON contract, fixes per family, --at, --connect and its clean timeout."""
from __future__ import annotations

import json
import socket
import time

import pytest

from imagelint.findings import ImagelintError
from imagelint.commands.trust import parse_at, run_trust
from imagelint.trust.model import TrustModel
from imagelint.trust.verdicts import evaluate as evaluate_model, parse_chain
from pki import DAY, NOW, TLSServer, make_pki
from test_trust_stores import build_root, debian_files


def evaluate(tree, env, chain, host, at=None, runtimes=None, entrypoint=None):
    """Verdicts for a bare filesystem view with this environment (the trust model of a test root)."""
    return evaluate_model(TrustModel(tree, env, entrypoint), chain, host, at, runtimes)


VERDICT_KEYS = {"runtime", "store", "trusted", "reason", "certificate", "message", "error_text", "fix", "warnings"}


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    pki = make_pki()
    pki.write(tmp_path_factory.mktemp("pki"))
    return pki


def chain(pki, name):
    return parse_chain(pki.files[name].read_bytes())


def debian_with(tmp_path, pki, bundle: bytes, extra: dict | None = None):
    return build_root(tmp_path, {**debian_files(pki, bundle), **(extra or {})})


def by_runtime(verdicts):
    return {v.runtime: v for v in verdicts}


def test_incident_replayed(tmp_path, pki):
    """billing -> orders-api: first 'signed by unknown authority', then, CA added, 'has expired'."""
    served = parse_chain(pki.expired_leaf.pem + pki.intermediate.pem + pki.root.pem)
    before = debian_with(tmp_path / "before", pki, pki.other_root.pem, {"/usr/local/go/bin/go": b"\x7fELF"})
    # 09:20, the 1-day certificate still valid: the CA is what is missing.
    go = by_runtime(evaluate(before, {}, served, "localhost", NOW - 1.5 * DAY))["go"]
    assert (go.trusted, go.reason) == (False, "untrusted-root")
    assert go.error_text == "x509: certificate signed by unknown authority"
    assert go.error_texts["go"] == "tls: failed to verify certificate: x509: certificate signed by unknown authority"
    assert "COPY test-root-ca.crt /usr/local/share/ca-certificates/test-root-ca.crt" in go.fix
    assert "RUN update-ca-certificates" in go.fix

    # Had it already expired, Go would say so first: it checks the leaf's dates before the chain.
    assert by_runtime(evaluate(before, {}, served, "localhost", NOW))["go"].reason == "expired"

    # The CA added; the next morning the certificate has expired.
    after = debian_with(tmp_path / "after", pki, pki.other_root.pem + pki.root.pem, {"/usr/local/go/bin/go": b"\x7fELF"})
    verdicts = by_runtime(evaluate(after, {}, served, "localhost", NOW))
    go, openssl = verdicts["go"], verdicts["openssl"]
    assert go.reason == openssl.reason == "expired"
    assert go.error_text.startswith("x509: certificate has expired or is not yet valid: current time ")
    assert openssl.error_text == "certificate has expired"
    assert "Server-side fix: renew" in go.fix
    assert go.certificate["not_after"] == pki.expired_leaf.cert.not_valid_after_utc.isoformat()


def test_json_contract_and_exit_codes(tmp_path, pki):
    tree = debian_with(tmp_path, pki, pki.root.pem)
    code, out = run_trust("host", chain_path=str(pki.files["chain-full.pem"]), host="localhost", fmt="json",
                          model=TrustModel(tree, {}))
    doc = json.loads(out)
    assert code == 0 and doc["version"] == 1 and doc["host"] == "localhost" and doc["image"] == "host"
    (verdict,) = doc["verdicts"]
    assert VERDICT_KEYS <= set(verdict) and verdict["trusted"] is True and verdict["reason"] is None
    code, out = run_trust("host", chain_path=str(pki.files["chain-wrong-host.pem"]), host="localhost", fmt="json",
                          model=TrustModel(tree, {}))
    (verdict,) = json.loads(out)["verdicts"]
    assert code == 1 and verdict["reason"] == "hostname-mismatch"
    assert verdict["error_texts"]["python"].endswith("Hostname mismatch, certificate is not valid for 'localhost'.")
    assert "subjectAltName DNS:localhost" in verdict["fix"]
    # "Will this still work in 400 days?"
    code, out = run_trust("host", chain_path=str(pki.files["chain-full.pem"]), host="localhost", at="+400d",
                          model=TrustModel(tree, {}))
    assert code == 1 and "NOT TRUSTED (expired)" in out


def test_bad_input_is_one_clean_error(tmp_path, pki):
    tree = debian_with(tmp_path, pki, pki.root.pem)
    with pytest.raises(ImagelintError, match="exactly one of --chain"):
        run_trust("host", model=TrustModel(tree, {}))
    with pytest.raises(ImagelintError, match="no certificate found"):
        (tmp_path / "empty.pem").write_text("nothing here")
        run_trust("host", chain_path=str(tmp_path / "empty.pem"), model=TrustModel(tree, {}))
    with pytest.raises(ImagelintError, match="cannot read chain"):
        run_trust("host", chain_path=str(tmp_path / "absent.pem"), model=TrustModel(tree, {}))
    with pytest.raises(ImagelintError, match="--at"):
        parse_at("next tuesday")
    with pytest.raises(ImagelintError, match="unknown runtime"):
        evaluate(tree, {}, chain(pki, "chain-full.pem"), "localhost", NOW, runtimes=["perl"])
    assert parse_at("2030-01-02").isoformat() == "2030-01-02T00:00:00+00:00"


def test_partial_chain_differs_per_runtime(tmp_path, pki):
    home = "/opt/java/openjdk"
    from test_trust_stores import keytool_store

    tree = debian_with(tmp_path / "root", pki, pki.intermediate.pem, {
        f"{home}/bin/java": b"\x7fELF",
        f"{home}/lib/security/cacerts": keytool_store(tmp_path / "kt", pki.intermediate),
    })
    verdicts = by_runtime(evaluate(tree, {}, chain(pki, "chain-full.pem"), "localhost", NOW))
    assert verdicts["java"].trusted  # any trusted certificate is an anchor (observed with OpenJDK 17.0.15)
    openssl = verdicts["openssl"]
    assert (openssl.trusted, openssl.reason, openssl.error_text) == (False, "intermediate-anchor",
                                                                     "unable to get issuer certificate")
    assert any("curl and Python >= 3.13 accept" in w for w in openssl.warnings)
    # The Temurin JDK has its own cacerts: the fix is keytool, not the OS store (adoptium/containers entrypoint.sh).
    assert "keytool -importcert -noprompt -cacerts -storepass changeit" in (
        by_runtime(evaluate(debian_with(tmp_path / "r2", pki, pki.root.pem, {
            f"{home}/bin/java": b"\x7fELF",
            f"{home}/lib/security/cacerts": keytool_store(tmp_path / "kt2", pki.other_root)}),
            {}, chain(pki, "chain-full.pem"), "localhost", NOW))["java"].fix)


def test_strict_python_and_cryptography_warnings(tmp_path, pki):
    site313 = "/usr/local/lib/python3.13/site-packages"
    tree = debian_with(tmp_path, pki, pki.legacy_root.pem, {
        f"{site313}/requests/__init__.py": b"",
        f"{site313}/certifi/cacert.pem": pki.legacy_root.pem,
        "/usr/local/bin/python3.13": b"\x7fELF",
    })
    verdicts = by_runtime(evaluate(tree, {}, chain(pki, "chain-legacy.pem"), "localhost", NOW))
    openssl, requests = verdicts["openssl"], verdicts["python-requests"]
    assert openssl.trusted
    assert any(w.startswith("works with curl today, fails on this image's Python 3.13: orders-api: "
                            "Missing Authority Key Identifier") for w in openssl.warnings)
    assert any("cryptography x509.verification" in w for w in openssl.warnings)
    assert (requests.trusted, requests.reason) == (False, "not-rfc5280")
    assert requests.error_text.endswith("certificate verify failed: Missing Authority Key Identifier")


@pytest.mark.parametrize("family,os_release,expect", [
    ("alpine", b"ID=alpine\n", ["RUN apk add --no-cache ca-certificates", "RUN update-ca-certificates"]),
    ("rhel", b'ID="rocky"\nID_LIKE="rhel centos fedora"\n',
     ["COPY test-root-ca.crt /etc/pki/ca-trust/source/anchors/test-root-ca.crt", "RUN update-ca-trust"]),
])
def test_fix_follows_the_family(tmp_path, pki, family, os_release, expect):
    tree = build_root(tmp_path, {"/etc/os-release": os_release, "/bin/sh": b"#!", "/usr/bin/curl": b"\x7fELF",
                                 "/etc/ssl/cert.pem": pki.other_root.pem})
    (verdict,) = evaluate(tree, {}, chain(pki, "chain-with-root.pem"), "localhost", NOW)
    assert verdict.reason == "untrusted-root"
    for line in expect:
        assert line in verdict.fix


def test_debian_without_ca_certificates_installs_it_first(tmp_path, pki):
    files = debian_files(pki, pki.other_root.pem)
    del files["/usr/sbin/update-ca-certificates"]
    (verdict,) = evaluate(build_root(tmp_path, files), {}, chain(pki, "chain-with-root.pem"), "localhost", NOW)
    assert verdict.fix.splitlines()[2].startswith("RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates")


def test_missing_intermediate_is_fixed_on_the_server(tmp_path, pki):
    tree = debian_with(tmp_path, pki, pki.root.pem)
    (verdict,) = evaluate(tree, {}, chain(pki, "chain-leaf-only.pem"), "localhost", NOW)
    assert verdict.reason == "missing-intermediate"
    # Nothing in a leaf-only chain says whether its issuer is an intermediate or a root: both causes,
    # both fixes, the server's first (the one that helps every client).
    assert verdict.reasons == ["missing-intermediate", "untrusted-root"]
    server_fix, client_fix = verdict.fix.split("# or, if that issuer is a root CA, trust it in the client:")
    assert "serve the full chain" in server_fix and "COPY" not in server_fix
    assert "COPY test-intermediate-ca.crt /usr/local/share/ca-certificates/" in client_fix
    assert [c["reason"] for c in verdict.to_dict()["causes"]] == verdict.reasons


def test_leaf_only_without_aia_is_both_causes(tmp_path, pki):
    """Today's verdict said only untrusted-root for a leaf without AIA; the server omitting its
    intermediate is as likely, and the fix the server side can make for every client."""
    from pki import make_cert
    leaf = make_cert("orders-api", pki.intermediate, dns=("localhost",))
    tree = debian_with(tmp_path, pki, pki.root.pem)
    (verdict,) = evaluate(tree, {}, parse_chain(leaf.pem), "localhost", NOW)
    assert verdict.reason == "untrusted-root"
    assert verdict.reasons == ["missing-intermediate", "untrusted-root"]
    assert "serve the full chain" in verdict.fix and "COPY test-intermediate-ca.crt" in verdict.fix


def test_reasons_put_expiry_first(tmp_path, pki):
    """The incident at 09:45: the CA missing and the 1-day certificate expired. OpenSSL reports the
    CA first (reason); the fix order starts with the dates (reasons)."""
    served = parse_chain(pki.expired_leaf.pem + pki.intermediate.pem + pki.root.pem)
    tree = debian_with(tmp_path, pki, pki.other_root.pem)
    (openssl,) = evaluate(tree, {}, served, "localhost", NOW)
    assert openssl.reason == "untrusted-root"
    assert openssl.reasons == ["expired", "untrusted-root"]
    assert openssl.to_dict()["reasons"] == ["expired", "untrusted-root"]
    assert "Server-side fix: renew" in openssl.causes[0]["fix"]
    code, out = run_trust("host", chain_path=str(pki.files["chain-expired.pem"]), host="localhost",
                          model=TrustModel(tree, {}))
    lines = out.splitlines()
    assert lines[1].startswith("  server certificate: CN=orders-api") and "EXPIRED" in lines[1]
    assert "  causes (fix in this order):" in lines
    causes = lines[lines.index("  causes (fix in this order):") + 1:]
    assert causes[0].startswith("    1. expired: ") and causes[1].startswith("    2. untrusted-root: ")


def test_node_and_requests_fixes(tmp_path, pki):
    site = "/usr/local/lib/python3.11/site-packages"
    tree = debian_with(tmp_path, pki, pki.root.pem, {
        "/usr/local/bin/node": b"\x7fELF" + pki.other_root.pem,
        f"{site}/requests/__init__.py": b"", f"{site}/certifi/cacert.pem": pki.other_root.pem,
    })
    verdicts = by_runtime(evaluate(tree, {}, chain(pki, "chain-full.pem"), "localhost", NOW))
    assert verdicts["openssl"].trusted
    node, requests = verdicts["node"], verdicts["python-requests"]
    assert node.error_text == "UNABLE_TO_GET_ISSUER_CERT_LOCALLY: unable to get local issuer certificate"
    assert "ENV NODE_EXTRA_CA_CERTS=/usr/local/share/ca-certificates/test-root-ca.crt" in node.fix
    assert "ENV REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt" in requests.fix
    tree_fixed = debian_with(tmp_path / "fixed", pki, pki.root.pem, {
        "/usr/local/bin/node": b"\x7fELF" + pki.other_root.pem, "/ca/root.crt": pki.root.pem})
    (node,) = evaluate(tree_fixed, {"NODE_EXTRA_CA_CERTS": "/ca/root.crt"}, chain(pki, "chain-full.pem"),
                       "localhost", NOW, runtimes=["node"])
    assert node.trusted


# --------------------------------------------------------------------------- --connect


def test_connect_fetches_the_presented_chain(tmp_path, pki):
    tree = debian_with(tmp_path, pki, pki.root.pem)
    with TLSServer(pki.files["chain-leaf-only.pem"], pki.files["leaf.key"]) as server:
        code, out = run_trust("host", connect=f"127.0.0.1:{server.port}", host="localhost", fmt="json",
                              model=TrustModel(tree, {}))
    (verdict,) = json.loads(out)["verdicts"]
    assert code == 1 and verdict["reason"] == "missing-intermediate"
    with TLSServer(pki.files["chain-with-root.pem"], pki.files["leaf.key"]) as server:
        code, out = run_trust("host", connect=f"localhost:{server.port}", fmt="json", model=TrustModel(tree, {}))
    doc = json.loads(out)
    assert code == 0 and doc["host"] == "localhost"
    assert doc["verdicts"][0]["path"][-1] == "CN=Test Root CA,O=imagelint test"


def test_connect_sends_sni(tmp_path, pki):
    seen = []
    with TLSServer(pki.files["chain-full.pem"], pki.files["leaf.key"]) as server:
        server.context.sni_callback = lambda sock, name, ctx: seen.append(name)
        run_trust("host", connect=f"127.0.0.1:{server.port}", host="orders-api.test", model=TrustModel(debian_with(
            tmp_path, pki, pki.root.pem), {}))
    assert seen == ["orders-api.test"]


def test_connect_times_out_cleanly_against_a_silent_port():
    silent = socket.create_server(("127.0.0.1", 0))  # accepts into the backlog, never answers
    port = silent.getsockname()[1]
    try:
        started = time.monotonic()
        with pytest.raises(ImagelintError, match=r"timed out after 1s waiting for the TLS handshake"):
            run_trust("host", connect=f"127.0.0.1:{port}", timeout=1.0)
        assert time.monotonic() - started < 5
    finally:
        silent.close()


def test_connect_refused_is_clean():
    from imagelint.certs.connect import fetch_chain

    probe = socket.create_server(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    with pytest.raises(ImagelintError, match="connection refused"):
        fetch_chain("127.0.0.1", port, timeout=2)


# --------------------------------------------------------------------------- images built in tests


def test_image_env_and_java_trust_store_from_image_config(tmp_path, pki):
    """A Temurin-style image (JDK with its own cacerts) written by imagekit and read through
    open_image: JAVA_TOOL_OPTIONS and NODE_EXTRA_CA_CERTS come from the image's Env, not ours."""
    from imagekit import Image, Layer, write_oci
    from test_trust_stores import keytool_store

    base = (Layer()
            .file("etc/os-release", b"ID=ubuntu\nID_LIKE=debian\n")
            .file("bin/sh", b"#!", mode=0o755)
            .file("etc/ssl/certs/ca-certificates.crt", pki.other_root.pem)
            .file("opt/java/openjdk/bin/java", b"\x7fELF", mode=0o755)
            .file("opt/java/openjdk/release", b'JAVA_VERSION="21.0.4"\n')
            .file("opt/java/openjdk/lib/security/cacerts", keytool_store(tmp_path / "kt1", pki.other_root,
                                                                        store_type="JKS"))
            .file("usr/local/bin/node", b"\x7fELF" + pki.other_root.pem, mode=0o755))
    app = (Layer()
           .file("app/truststore.p12", keytool_store(tmp_path / "kt2", pki.root, password="app-pass"))
           .file("app/corp-root.crt", pki.root.pem))
    path = ["PATH=/usr/local/bin:/usr/bin:/bin", "JAVA_HOME=/opt/java/openjdk"]
    plain = write_oci(tmp_path / "plain", Image([base, app], env=path))
    configured = write_oci(tmp_path / "configured", Image([base, app], env=path + [
        "JAVA_TOOL_OPTIONS=-Djavax.net.ssl.trustStore=/app/truststore.p12 -Djavax.net.ssl.trustStorePassword=app-pass",
        "NODE_EXTRA_CA_CERTS=/app/corp-root.crt"]))

    code, out = run_trust(plain, chain_path=str(pki.files["chain-full.pem"]), host="localhost", fmt="json")
    verdicts = {v["runtime"]: v for v in json.loads(out)["verdicts"]}
    assert code == 1 and set(verdicts) == {"java", "node"}
    assert verdicts["java"]["reason"] == "untrusted-root"
    assert ("RUN /opt/java/openjdk/bin/keytool -importcert -noprompt -cacerts -storepass changeit "
            "-alias test-root-ca -file /tmp/test-root-ca.crt") in verdicts["java"]["fix"]
    assert "ENV NODE_EXTRA_CA_CERTS=" in verdicts["node"]["fix"]

    code, out = run_trust(configured, chain_path=str(pki.files["chain-full.pem"]), host="localhost", fmt="json")
    verdicts = {v["runtime"]: v for v in json.loads(out)["verdicts"]}
    assert code == 0, verdicts
    assert verdicts["java"]["store"].endswith("/app/truststore.p12")
    assert "/app/corp-root.crt (NODE_EXTRA_CA_CERTS)" in verdicts["node"]["store"]


def test_s_client_fallback_reads_the_same_chain(pki):
    """Where the stdlib cannot hand out the presented chain, `openssl s_client -showcerts` does."""
    from imagelint.certs.connect import _s_client_chain, fetch_chain

    with TLSServer(pki.files["chain-with-root.pem"], pki.files["leaf.key"]) as server:
        via_ssl = fetch_chain("127.0.0.1", server.port, "localhost", timeout=5)
        via_openssl = _s_client_chain("127.0.0.1", server.port, "localhost", timeout=10)
    assert via_ssl == via_openssl and len(via_ssl) == 3


def test_host_port_parsing():
    from imagelint.commands.trust import parse_host_port

    assert parse_host_port("orders-api:8443") == ("orders-api", 8443)
    assert parse_host_port("orders-api") == ("orders-api", 443)
    assert parse_host_port("[::1]:8443") == ("::1", 8443)
    with pytest.raises(ImagelintError, match="out of range"):
        parse_host_port("x:70000")


def test_cli_exit_codes(tmp_path, pki):
    """Through the real command line: 1 when a runtime does not trust, 2 (one line) on bad input."""
    import subprocess
    import sys

    env = {"PATH": "/usr/bin:/bin", "SSL_CERT_FILE": str(pki.files["root.pem"])}
    run = lambda *args: subprocess.run([sys.executable, "-m", "imagelint.cli", "trust", *args], capture_output=True,
                                       text=True, env=env, timeout=120)
    done = run("host", "--chain", str(pki.files["chain-expired.pem"]), "--host", "localhost", "--runtime", "openssl",
               "--format", "json")
    assert done.returncode == 1, done.stderr
    (verdict,) = json.loads(done.stdout)["verdicts"]
    assert verdict["reason"] == "expired"
    done = run("host", "--chain", str(pki.files["chain-full.pem"]), "--host", "localhost", "--runtime", "openssl")
    assert done.returncode == 0 and "1 of 1 runtimes trust this chain" in done.stdout
    done = run("host", "--chain", str(tmp_path / "absent.pem"))
    assert done.returncode == 2 and "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("served", ["chain-with-root.pem", "chain-full.pem"])
def test_a_ca_already_anchored_needs_only_the_update(tmp_path, pki, served):
    """The CA sits in /usr/local/share/ca-certificates but the bundle was never regenerated:
    the advice is the update command, not a second copy of a CA the image holds."""
    files = debian_files(pki, pki.other_root.pem)
    files["/usr/local/share/ca-certificates/corp-root.crt"] = pki.root.pem
    files["/etc/passwd"] = b"root:x:0:0::/root:/bin/sh\n"
    tree = build_root(tmp_path, files)
    (verdict,) = evaluate(tree, {}, chain(pki, served), "localhost", NOW, runtimes=["openssl"])
    assert verdict.reason == "untrusted-root"
    assert "COPY" not in verdict.fix
    assert verdict.fix.splitlines() == [
        "# /usr/local/share/ca-certificates/corp-root.crt is already in the anchor directory but not in "
        "/etc/ssl/certs/ca-certificates.crt: only `update-ca-certificates` is missing",
        "RUN update-ca-certificates"]
