"""Every verdict checked against the real client it stands for, on real loopback TLS servers.

The image under test is a temp root filesystem whose stores hold exactly what the clients are
given (`env -i` plus an explicit CA file / keystore): openssl verify and s_client, curl,
Python ssl (and Python 3.13's strict flags, set by hand on this 3.11), requests, Node and Java.
A verdict that disagrees with the real client fails the test; so does an error text the real
client does not print. (No Go toolchain here: Go's texts come from the knowledge file only.)
"""
from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from imagelint.certs.verify import POLICIES, verify
from imagelint.trust.model import TrustModel
from imagelint.trust.verdicts import evaluate as evaluate_model, parse_chain
from pki import NOW, TLSServer, make_pki
from services import require
from test_trust_stores import build_root, debian_files, keytool_store


def evaluate(tree, env, chain, host, at=None, runtimes=None, entrypoint=None):
    """Verdicts for a bare filesystem view with this environment (the trust model of a test root)."""
    return evaluate_model(TrustModel(tree, env, entrypoint), chain, host, at, runtimes)


HOST = "localhost"
SITE = "/usr/local/lib/python3.11/site-packages"
SITE313 = "/usr/local/lib/python3.13/site-packages"
JAVA_HOME = "/opt/java/openjdk"
PATH_ONLY = {"PATH": "/usr/local/bin:/usr/bin:/bin"}

TLS_PROBE_JAVA = """
import javax.net.ssl.*;
public class TlsProbe {
    public static void main(String[] a) throws Exception {
        SSLSocketFactory f = (SSLSocketFactory) SSLSocketFactory.getDefault();
        try (SSLSocket s = (SSLSocket) f.createSocket(a[0], Integer.parseInt(a[1]))) {
            SSLParameters p = s.getSSLParameters();
            p.setEndpointIdentificationAlgorithm("HTTPS");
            s.setSSLParameters(p);
            s.startHandshake();
            System.out.println("HANDSHAKE OK");
        } catch (Exception e) {
            for (Throwable t = e; t != null; t = t.getCause()) System.out.println(t);
        }
    }
}
"""
PY_PROBE = """
import socket, ssl, sys
cafile, host, port, strict = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "strict"
ctx = ssl.create_default_context(cafile=cafile)
if strict:  # requests on Python 3.13: urllib3 2.x adds 3.13's strict flags and drops the CN fallback
    ctx.verify_flags |= ssl.VERIFY_X509_STRICT | ssl.VERIFY_X509_PARTIAL_CHAIN
    ctx.hostname_checks_common_name = False
try:
    ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=5), server_hostname=host).close()
    print("HANDSHAKE OK")
except ssl.SSLError as exc:
    print(exc)
"""
REQUESTS_PROBE = """
import sys, requests
try:
    requests.get(f"https://{sys.argv[1]}:{sys.argv[2]}/", timeout=5)
    print("HANDSHAKE OK")
except requests.exceptions.SSLError as exc:
    print(exc)
"""
GO_PROBE = """
package main

import (

	"crypto/tls"
	"fmt"
	"net"
	"os"
)

func main() {
	conn, err := tls.Dial("tcp", net.JoinHostPort("127.0.0.1", os.Args[2]), &tls.Config{ServerName: os.Args[1]})
	if err != nil {
		fmt.Println(err)
		return
	}
	conn.Close()
	fmt.Println("HANDSHAKE OK")
}
"""
NODE_PROBE = """
const tls = require('tls');
const [host, port] = process.argv.slice(-2);
const isIp = /^[0-9.]+$/.test(host);  // an IP is never sent as SNI; node then checks the IP SANs
const s = tls.connect({host: isIp ? host : '127.0.0.1', port: Number(port), servername: isIp ? undefined : host}, () => {
  console.log('HANDSHAKE OK'); s.end();
});
s.on('error', e => console.log(e.code + ': ' + e.message));
"""


@dataclass
class Scenario:
    name: str
    chain: str  # file served (leaf first)
    key: str
    store: tuple[str, ...]  # PEM files the image trusts
    host: str = HOST  # the name (or IP) clients use


SCENARIOS = [
    Scenario("full-chain", "chain-full.pem", "leaf.key", ("root.pem",)),
    Scenario("root-sent", "chain-with-root.pem", "leaf.key", ("root.pem",)),
    Scenario("leaf-only", "chain-leaf-only.pem", "leaf.key", ("root.pem",)),
    Scenario("expired-1-day-leaf", "chain-expired.pem", "expired.key", ("root.pem",)),
    Scenario("wrong-hostname", "chain-wrong-host.pem", "wrong-host.key", ("root.pem",)),
    Scenario("self-signed-untrusted", "chain-self-signed.pem", "self-signed.key", ("root.pem",)),
    Scenario("self-signed-pinned", "chain-self-signed.pem", "self-signed.key", ("self-signed.pem",)),
    Scenario("ca-without-keyusage", "chain-legacy.pem", "legacy.key", ("legacy-root.pem",)),
    Scenario("intermediate-only-anchor", "chain-full.pem", "leaf.key", ("int.pem",)),
    Scenario("untrusted-root-sent", "chain-with-root.pem", "leaf.key", ("other-root.pem",)),
    Scenario("unknown-private-ca", "chain-other.pem", "other.key", ("root.pem",)),
    Scenario("server-cert-as-anchor", "chain-full.pem", "leaf.key", ("chain-leaf-only.pem",)),
    # Two faults: which one each runtime prints first differs (Go and Node say "expired").
    Scenario("expired-and-untrusted", "chain-expired.pem", "expired.key", ("other-root.pem",)),
    Scenario("cn-only-no-san", "chain-cn-only.pem", "cn-only.key", ("root.pem",)),
    Scenario("ip-in-sans", "chain-full.pem", "leaf.key", ("root.pem",), host="127.0.0.1"),
    Scenario("ip-not-in-sans", "chain-wrong-host.pem", "wrong-host.key", ("root.pem",), host="127.0.0.1"),
]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    require("openssl", "curl", "node", "java", "javac", "keytool")
    base = tmp_path_factory.mktemp("trust-lab")
    pki = make_pki(HOST)
    files = pki.write(base / "pki")
    java_dir = base / "java"
    java_dir.mkdir()
    (java_dir / "TlsProbe.java").write_text(TLS_PROBE_JAVA)
    subprocess.run(["javac", "TlsProbe.java"], cwd=java_dir, check=True, env=PATH_ONLY, capture_output=True)
    require("go")
    go_dir = base / "go"
    go_dir.mkdir()
    (go_dir / "probe.go").write_text(GO_PROBE)
    subprocess.run(["go", "build", "-o", "probe", "probe.go"], cwd=go_dir, check=True, capture_output=True,
                   env={**PATH_ONLY, "HOME": str(go_dir), "GOCACHE": str(go_dir / "cache"), "GO111MODULE": "off"})
    (go_dir / "empty").mkdir()
    return base, pki, files, java_dir


def _run(args, env=None, timeout=60) -> str:
    done = subprocess.run(args, capture_output=True, text=True, env=env or PATH_ONLY, timeout=timeout,
                          stdin=subprocess.DEVNULL)
    return done.stdout + done.stderr


_IMAGES: dict[tuple[str, str], tuple] = {}


def _image_for(lab, scenario: Scenario) -> tuple:
    key = (str(lab[0]), scenario.name)
    if key not in _IMAGES:
        _IMAGES[key] = _build_image(lab, scenario)
    return _IMAGES[key]


def _build_image(lab, scenario: Scenario) -> tuple:
    base, pki, files, _ = lab
    work = base / scenario.name
    store_pem = b"".join(files[name].read_bytes() for name in scenario.store)
    (work / "client").mkdir(parents=True, exist_ok=True)
    ca_file = work / "client" / "store.pem"
    ca_file.write_bytes(store_pem)
    # One store certificate per keystore entry (keytool imports only the first of a PEM file).
    assert len(scenario.store) == 1
    keystore = keytool_store(work / "keytool", _Issued(store_pem))
    (work / "client" / "store.p12").write_bytes(keystore)
    tree = build_root(work / "root", {
        **debian_files(pki, store_pem),
        f"{JAVA_HOME}/bin/java": b"\x7fELF",
        f"{JAVA_HOME}/lib/security/cacerts": keystore,
        f"{SITE}/requests/__init__.py": b"", f"{SITE}/certifi/cacert.pem": store_pem,
        f"{SITE313}/requests/__init__.py": b"", f"{SITE313}/certifi/cacert.pem": store_pem,
        # node's bundled roots (an unrelated CA) + the store via NODE_EXTRA_CA_CERTS
        "/usr/local/bin/node": b"\x7fELF" + pki.other_leaf.pem,
        "/ca/extra.pem": store_pem,
        "/usr/local/go/bin/go": b"\x7fELF",
    })
    return tree, {"NODE_EXTRA_CA_CERTS": "/ca/extra.pem"}, ca_file, work / "client" / "store.p12"


@dataclass
class _Issued:
    pem: bytes


def _client_outputs(lab, scenario, ca_file: Path, p12: Path, port: int, host: str = HOST) -> dict[str, str]:
    base, pki, files, java_dir = lab
    chain_file = files[scenario.chain]
    is_ip = host.replace(".", "").isdigit()
    name_check = ["-verify_ip", host] if is_ip else ["-verify_hostname", host]
    url = f"https://{host}:{port}/"
    out = {
        "openssl": _run(["openssl", "verify", "-CAfile", str(ca_file), "-untrusted", str(chain_file),
                         *name_check, str(chain_file)]),
        "s_client": _run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}",
                          *([] if is_ip else ["-servername", host]),
                          "-CAfile", str(ca_file), "-verify_return_error", *name_check]),
        "curl": _run(["curl", "-sS", "-o", "/dev/null", "--cacert", str(ca_file),
                      *([] if is_ip else ["--resolve", f"{host}:{port}:127.0.0.1"]), url]),
        "python": _run([sys.executable, "-c", PY_PROBE, str(ca_file), host, str(port), "default"]),
        "python313": _run([sys.executable, "-c", PY_PROBE, str(ca_file), host, str(port), "strict"]),
        "requests": _run([sys.executable, "-c", REQUESTS_PROBE, host, str(port)],
                         env={**PATH_ONLY, "REQUESTS_CA_BUNDLE": str(ca_file)}),
        "node": _run(["node", "-e", NODE_PROBE, host, str(port)],
                     env={**PATH_ONLY, "NODE_EXTRA_CA_CERTS": str(ca_file)}),
        "java": _run(["java", "-cp", str(java_dir), f"-Djavax.net.ssl.trustStore={p12}",
                      "-Djavax.net.ssl.trustStorePassword=changeit", "TlsProbe", host, str(port)]),
        # Go reads SSL_CERT_FILE instead of its file list, SSL_CERT_DIR instead of its dirs.
        "go": _run([str(base / "go" / "probe"), host, str(port)],
                   env={**PATH_ONLY, "SSL_CERT_FILE": str(ca_file), "SSL_CERT_DIR": str(base / "go" / "empty")}),
    }
    return out


def _no_current_time(text: str) -> str:
    import re

    return re.sub(r"current time \S+ ", "current time T ", text)


def _succeeded(client: str, output: str) -> bool:
    if client == "openssl":
        return output.rstrip().endswith(": OK")
    if client == "s_client":
        return "Verify return code: 0 (ok)" in output
    if client == "curl":
        return "curl:" not in output
    return "HANDSHAKE OK" in output


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_verdicts_match_real_clients(lab, scenario):
    base, pki, files, _ = lab
    from imagelint.certs.connect import fetch_chain

    tree, env, ca_file, p12 = _image_for(lab, scenario)
    with TLSServer(files[scenario.chain], files[scenario.key]) as server:
        # The chain as --connect fetches it (one handshake, no verification), judged, then the clients.
        presented = [record for der in fetch_chain("127.0.0.1", server.port, scenario.host, timeout=5)
                     for record in parse_chain(der)]
        outputs = _client_outputs(lab, scenario, ca_file, p12, server.port, scenario.host)
    assert [c.fingerprint_sha256 for c in presented] == [
        c.fingerprint_sha256 for c in parse_chain(files[scenario.chain].read_bytes())]
    verdicts = evaluate(tree, env, presented, scenario.host, NOW)
    by_store = {v.store.split(":")[0]: v for v in verdicts}
    openssl = next(v for v in verdicts if v.runtime == "openssl")
    java = next(v for v in verdicts if v.runtime == "java")
    node = next(v for v in verdicts if v.runtime == "node")
    go = next(v for v in verdicts if v.runtime == "go")
    requests_311 = by_store[f"python-requests {SITE}"]
    requests_313 = by_store[f"python-requests {SITE313}"]

    checks = [
        # (verdict, client, key in verdict.error_texts)
        (openssl, "openssl", "openssl"), (openssl, "s_client", None), (openssl, "python", "python"),
        (requests_311, "requests", "python"), (requests_313, "python313", "python"),
        (node, "node", "node"), (java, "java", "java"), (go, "go", None),
    ]
    problems = []
    for verdict, client, key in checks:
        output = outputs[client]
        ok = _succeeded(client, output)
        if ok != verdict.trusted:
            problems.append(f"{client}: verdict trusted={verdict.trusted} ({verdict.reason}) but client says:\n{output}")
            continue
        if not verdict.trusted:
            # s_client prints the bare OpenSSL string: "verify error:num=20:unable to get ..."
            expected = verdict.error_texts.get(key) if key else verdict.error_text
            if client == "go":  # the clock moved on since the verdict: compare around "current time"
                expected, output = _no_current_time(expected), _no_current_time(output)
            if expected not in output:
                problems.append(f"{client}: expected {expected!r} in:\n{output}")
    # curl allows a partial chain (libcurl CURLOPT_SSL_OPTIONS, CURLSSLOPT_NO_PARTIALCHAIN): compare it with that policy, and its texts with the verdict's.
    curl_trusted = verify(presented, parse_chain(ca_file.read_bytes()), scenario.host, NOW, POLICIES["curl"]).trusted
    if _succeeded("curl", outputs["curl"]) != curl_trusted:
        problems.append(f"curl: predicted trusted={curl_trusted}, got:\n{outputs['curl']}")
    elif not curl_trusted and openssl.error_texts.get("curl") not in outputs["curl"]:
        problems.append(f"curl: expected {openssl.error_texts.get('curl')!r} in:\n{outputs['curl']}")
    if curl_trusted and not openssl.trusted:
        assert any("curl" in w for w in openssl.warnings), openssl.warnings
    assert not problems, "\n\n".join(problems)


def test_expected_reasons(lab):
    """The reasons themselves, per scenario (the client test above proves they are the clients')."""
    base, pki, files, _ = lab
    expected = {
        "full-chain": {"openssl": None, "java": None, "node": None, "go": None},
        "leaf-only": {"openssl": "missing-intermediate", "java": "missing-intermediate", "node": "missing-intermediate",
                      "go": "missing-intermediate"},
        "expired-1-day-leaf": {"openssl": "expired", "java": "expired", "node": "expired", "go": "expired"},
        "wrong-hostname": {"openssl": "hostname-mismatch", "java": "hostname-mismatch", "node": "hostname-mismatch",
                           "go": "hostname-mismatch"},
        "self-signed-untrusted": {"openssl": "self-signed-leaf", "java": "self-signed-leaf", "go": "self-signed-leaf"},
        "intermediate-only-anchor": {"openssl": "intermediate-anchor", "java": None, "node": "intermediate-anchor",
                                     "go": None},
        "untrusted-root-sent": {"openssl": "untrusted-root", "java": "untrusted-root", "go": "untrusted-root"},
        "server-cert-as-anchor": {"openssl": "leaf-not-ca", "java": None, "go": None},
        "cn-only-no-san": {"openssl": None, "java": None, "node": None, "go": "hostname-mismatch"},
        "expired-and-untrusted": {"openssl": "untrusted-root", "java": "untrusted-root", "go": "expired",
                                  "node": "expired"},
    }
    for scenario in SCENARIOS:
        if scenario.name not in expected:
            continue
        tree, env, _, _ = _image_for(lab, scenario)
        verdicts = {v.runtime: v for v in evaluate(tree, env, parse_chain(files[scenario.chain].read_bytes()), HOST, NOW)}
        for runtime, reason in expected[scenario.name].items():
            assert verdicts[runtime].reason == reason, (scenario.name, runtime, verdicts[runtime].message)


@pytest.mark.parametrize("case", ["jks-wrong-password", "pem-as-truststore", "pkcs12-without-password",
                                  "missing-file", "jks-without-password"])
def test_java_trust_store_configuration_matches_the_jvm(lab, tmp_path, case):
    """-Djavax.net.ssl.trustStore/-Password from JAVA_TOOL_OPTIONS, judged as the JVM does (observed with OpenJDK 17.0.15)."""
    base, pki, files, java_dir = lab
    jks = keytool_store(tmp_path / "kt1", pki.root, password="s3cret-pw", store_type="JKS")
    p12 = keytool_store(tmp_path / "kt2", pki.root, password="s3cret-pw")
    store_path, password, content = {
        "jks-wrong-password": ("/stores/app.jks", "changeit", jks),
        "pem-as-truststore": ("/stores/root.pem", "changeit", pki.root.pem),
        "pkcs12-without-password": ("/stores/app.p12", None, p12),
        "missing-file": ("/stores/absent.jks", "changeit", None),
        "jks-without-password": ("/stores/app.jks", None, jks),
    }[case]
    layout = {f"{JAVA_HOME}/bin/java": b"\x7fELF", f"{JAVA_HOME}/lib/security/cacerts": keytool_store(
        tmp_path / "kt3", pki.other_root)}
    if content is not None:
        layout[store_path] = content
    root = tmp_path / "root"
    tree = build_root(root, layout)
    options = f"-Djavax.net.ssl.trustStore={store_path}" + (
        f" -Djavax.net.ssl.trustStorePassword={password}" if password else "")
    (verdict,) = evaluate(tree, {"JAVA_TOOL_OPTIONS": options}, parse_chain(files["chain-full.pem"].read_bytes()),
                          HOST, NOW, runtimes=["java"])
    host_options = [f"-Djavax.net.ssl.trustStore={root}{store_path}"] + (
        [f"-Djavax.net.ssl.trustStorePassword={password}"] if password else [])
    with TLSServer(files["chain-full.pem"], files["leaf.key"]) as server:
        output = _run(["java", "-cp", str(java_dir), *host_options, "TlsProbe", HOST, str(server.port)])
    assert _succeeded("java", output) == verdict.trusted, (verdict.reason, output)
    if not verdict.trusted:
        assert verdict.error_text in output, (verdict.error_text, output)
    expected = {"jks-wrong-password": "truststore-unreadable", "pem-as-truststore": "truststore-unreadable",
                "pkcs12-without-password": "no-roots", "missing-file": "no-roots", "jks-without-password": None}
    assert verdict.reason == expected[case]


def test_strict_errors_in_openssl_order(lab, tmp_path):
    """x509_strict_errors lists what `openssl verify -x509_strict` reports, in its order."""
    import re

    from imagelint.certs.verify import x509_strict_errors
    from pki import make_cert

    root = make_cert("Hand Rolled CA", ca=True, key_usage=False, key_ids=False, bc_critical=False)
    intermediate = make_cert("Hand Rolled Int", root, ca=True, key_usage=False, key_ids=False)
    leaf = make_cert("svc", intermediate, dns=(HOST,), key_ids=False)
    (tmp_path / "root.pem").write_bytes(root.pem)
    (tmp_path / "chain.pem").write_bytes(leaf.pem + intermediate.pem)
    output = _run(["openssl", "verify", "-x509_strict", "-CAfile", str(tmp_path / "root.pem"),
                   "-untrusted", str(tmp_path / "chain.pem"), str(tmp_path / "chain.pem")])
    reported = [(int(code), int(depth)) for code, depth in re.findall(r"error (\d+) at (\d+) depth", output)]
    chain = verify(parse_chain(leaf.pem + intermediate.pem), parse_chain(root.pem), HOST, NOW, POLICIES["openssl"]).chain
    predicted = [(code, [c.fingerprint_sha256 for c in chain].index(cert.fingerprint_sha256))
                 for code, cert in x509_strict_errors(chain)]
    assert predicted == reported, output


@pytest.mark.parametrize("node_env,starts", [
    ({"NODE_OPTIONS": "--use-system-ca"}, False),  # Node 20: refuses to start
    ({"NODE_USE_SYSTEM_CA": "1"}, True),  # Node 20: silently ignored
])
def test_node_use_system_ca_on_an_old_node(lab, tmp_path, node_env, starts):
    base, pki, files, _ = lab
    version = _run(["node", "--version"]).strip().lstrip("v")
    tree = build_root(tmp_path, {**debian_files(pki, pki.root.pem),
                                 "/usr/local/bin/node": b"\x7fELF" + pki.other_root.pem})
    (verdict,) = evaluate(tree, {**node_env, "NODE_VERSION": version}, parse_chain(files["chain-full.pem"].read_bytes()),
                          HOST, NOW, runtimes=["node"])
    with TLSServer(files["chain-full.pem"], files["leaf.key"]) as server:
        output = _run(["node", "-e", NODE_PROBE, HOST, str(server.port)], env={**PATH_ONLY, **node_env})
    if tuple(int(x) for x in version.split(".")[:2]) >= (22, 19):  # a newer node here: the system store counts
        assert verdict.trusted and _succeeded("node", output), output
        return
    assert not verdict.trusted
    if starts:
        assert verdict.reason == "untrusted-root" and verdict.error_texts["node"] in output
    else:
        assert verdict.reason == "runtime-fails-to-start" and verdict.error_text in output, output
