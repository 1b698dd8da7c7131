"""Kubernetes manifests: the loader's budgets and marks, the pod's overlay view, the joined set,
kustomize and Helm through their real renderers, and the incident replayed against a real TLS
server started with the Secret's files (cross-checked with openssl s_client -CAfile)."""
from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from imagelint.commands.lint import LintOptions
from imagelint.commands.manifests import lint_manifest_texts
from imagelint.commands.trust import run_workload_trust
from imagelint.findings import ImagelintError
from imagelint.fs.host import HostView
from imagelint.fs.overlay import MountedFile, MountSpec, OverlayView
from imagelint.kube.load import load_documents
from kubekit import incident_manifests
from pki import DAY, NOW, TLSServer, make_cert

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures" / "lint" / "kubernetes"
NAMES = ("orders-api", "orders-api.payments", "orders-api.payments.svc", "orders-api.payments.svc.cluster.local")


def cli(*args, stdin: str | None = None, cwd=None):
    env = dict(os.environ, PYTHONPATH=str(ROOT), NO_COLOR="1")
    return subprocess.run([sys.executable, "-m", "imagelint.cli", *args], input=stdin, capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=120)


def lint(text: str, path: str = "set.yaml"):
    findings, errors = lint_manifest_texts({path: text}, LintOptions())
    assert not errors, [str(e) for e in errors]
    return findings


# --------------------------------------------------------------------------- loading

def test_alias_bomb_is_one_line_error(tmp_path):
    levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi"):
        levels.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata:\n" +
                    textwrap.indent("\n".join(levels), "  ") + "\n")
    result = cli("lint", str(bomb))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    lines = [l for l in (result.stdout + result.stderr).splitlines() if "bomb.yaml" in l]
    assert len(lines) == 1 and "alias" in lines[0], result.stdout + result.stderr


def test_syntax_error_names_file_and_line_and_other_files_still_checked(tmp_path):
    (tmp_path / "bad.yaml").write_text("apiVersion: v1\nkind: Pod\nmetadata:\n  name: [x\n")
    good = (FIXTURES / "env.yaml").read_text()
    (tmp_path / "env.yaml").write_text(good)
    result = cli("lint", str(tmp_path))
    assert result.returncode == 2
    assert f"{tmp_path / 'bad.yaml'}:" in result.stdout + result.stderr
    assert "IL604" in result.stdout


def test_python_tags_are_refused():
    with pytest.raises(ImagelintError) as err:
        load_documents("apiVersion: v1\nkind: Pod\nx: !!python/object/apply:os.system [true]\n", "evil.yaml")
    assert err.value.line == 3


def test_every_node_keeps_its_line():
    docs = load_documents("---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n", "p")
    spec = docs[0].body["spec"]
    assert docs[0].line == 2 and spec.line_of("containers") == 7 and spec["containers"][0].line == 8


def test_kubectl_list_dump_as_json_on_stdin():
    items = [doc for doc in yaml.safe_load_all((FIXTURES / "env.yaml").read_text()) if doc]
    dump = json.dumps({"apiVersion": "v1", "kind": "List", "items": items}, indent=2)
    result = cli("lint", "-", "--format", "json", stdin=dump)
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    rules = {f["rule"] for f in report["findings"]}
    assert {"IL603", "IL604", "IL608"} <= rules


def test_dockerfile_on_stdin_still_a_dockerfile():
    result = cli("lint", "-", stdin="FROM debian:12\nENV NODE_TLS_REJECT_UNAUTHORIZED=0\n")
    assert "IL101" in result.stdout


# --------------------------------------------------------------------------- overlay view

def test_overlay_hides_what_the_mount_covers(tmp_path):
    (tmp_path / "etc/ssl/certs").mkdir(parents=True)
    (tmp_path / "etc/ssl/certs/ca-certificates.crt").write_text("public roots")
    (tmp_path / "etc/ssl/cert.pem").symlink_to("certs/ca-certificates.crt")
    (tmp_path / "etc/hostname").write_text("image")
    view = OverlayView(HostView(str(tmp_path)), [
        MountSpec("/etc/ssl/certs", {"corp.crt": MountedFile(b"corp")}),
        MountSpec("/etc/hostname", {"": MountedFile(b"pod")}, single_file=True),
    ])
    assert view.listdir("/etc/ssl/certs") == ["corp.crt"]
    assert view.read("/etc/ssl/certs/ca-certificates.crt") is None  # hidden by the mount
    assert view.read("/etc/ssl/cert.pem") is None  # the image's link now dangles into the mount
    assert view.read("/etc/hostname") == b"pod"
    assert view.info("/etc/ssl/certs/corp.crt").kind == "file"
    empty = OverlayView(None, [MountSpec("/etc/billing-ca", {"ca.crt": MountedFile(b"x")})])
    assert empty.listdir("/etc") == ["billing-ca"] and empty.read("/etc/billing-ca/ca.crt") == b"x"


# --------------------------------------------------------------------------- schemas, renderers

def _manifest_texts():
    from imagelint.catalogue import load_catalogue

    texts = {str(p.relative_to(ROOT)): p.read_text() for p in sorted(FIXTURES.glob("*.yaml"))}
    for rid, doc in sorted(load_catalogue().items()):
        if doc.kind == "manifest":
            for section in ("Example", "Use instead"):
                for i, example in enumerate(doc.examples(section, "yaml")):
                    if "(certificate goes here)" not in example:
                        texts[f"rules/{rid}.md {section} {i}"] = example
    return texts


@pytest.mark.parametrize("name", sorted(_manifest_texts()))
def test_fixture_manifests_are_valid_kubernetes(name):
    """Every fixture and rule example passes the Kubernetes schemas (kubernetes-validate, offline):
    no test relies on a manifest the API server would reject. CRDs (cert-manager, trust-manager) are
    not in those schemas and are skipped."""
    kubernetes_validate = pytest.importorskip("kubernetes_validate") if not os.environ.get("CI") else __import__("kubernetes_validate")
    for doc in yaml.safe_load_all(_manifest_texts()[name]):
        if not doc or "cert-manager.io" in doc.get("apiVersion", ""):
            continue
        kubernetes_validate.validate(doc, "1.30", strict=True)


def test_kustomize_rendered_stream_is_linted(tmp_path):
    base = tmp_path / "base"
    base.mkdir()
    (base / "incident.yaml").write_text((FIXTURES / "incident.yaml").read_text())
    (base / "kustomization.yaml").write_text("resources:\n- incident.yaml\n")
    direct = cli("lint", str(base))
    assert direct.returncode == 2
    assert "kubectl kustomize" in direct.stdout + direct.stderr
    rendered = subprocess.run(["kubectl", "kustomize", str(base)], capture_output=True, text=True, check=True)
    result = cli("lint", "-", "--stdin-filename", "rendered.yaml", stdin=rendered.stdout)
    assert result.returncode == 1
    assert {"IL605", "IL610", "IL611"} <= {line.split()[1] for line in result.stdout.splitlines() if " IL6" in line}


def test_helm_chart_in_a_tree_is_a_note_not_a_guess(tmp_path):
    chart = tmp_path / "charts" / "billing"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: billing\nversion: 0.1.0\n")
    (chart / "templates" / "deploy.yaml").write_text("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\n")
    (tmp_path / "env.yaml").write_text((FIXTURES / "env.yaml").read_text())
    result = cli("lint", str(tmp_path))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "helm template" in result.stderr and "charts/billing" in result.stderr


def test_sarif_points_at_yaml_lines():
    result = cli("lint", str(FIXTURES / "incident.yaml"), "--format", "sarif")
    sarif = json.loads(result.stdout)
    results = sarif["runs"][0]["results"]
    il605 = next(r for r in results if r["ruleId"] == "IL605")
    text = (FIXTURES / "incident.yaml").read_text().splitlines()
    line = il605["locations"][0]["physicalLocation"]["region"]["startLine"]
    assert text[line - 1].strip() == "ca.crt: |"


# --------------------------------------------------------------------------- the incident

def _pem(issued) -> str:
    return issued.pem.decode()


def incident_set(client_ca: bytes, leaf, root) -> str:
    """billing (bundle `client_ca` mounted, SSL_CERT_FILE) -> Service orders-api -> Secret with leaf+root."""
    return incident_manifests(client_ca, leaf, leaf.pem + root.pem, root.pem)


@pytest.fixture(scope="module")
def incident(tmp_path_factory):
    root = make_cert("payments new CA", ca=True)
    old = make_cert("payments old CA", ca=True)
    leaf = make_cert("orders-api", root, dns=NAMES + ("localhost",), ips=("127.0.0.1",),
                     not_before=NOW - 2 * DAY, not_after=NOW - DAY)  # a 1-day certificate, expired overnight
    work = tmp_path_factory.mktemp("incident")
    (work / "set.yaml").write_text(incident_set(old.pem, leaf, root))
    (work / "fixed-ca.yaml").write_text(incident_set(old.pem + root.pem, leaf, root))
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    for name in ("set.yaml", "fixed-ca.yaml"):
        for doc in yaml.safe_load_all((work / name).read_text()):
            kubernetes_validate.validate(doc, "1.30", strict=True)
    return work, root, old, leaf


def test_incident_lint_reports_missing_ca_and_expired_certificate_in_one_run(incident):
    work, *_ = incident
    findings = lint((work / "set.yaml").read_text())
    rules = {f.rule for f in findings}
    assert {"IL605", "IL610", "IL611"} <= rules
    il605 = next(f for f in findings if f.rule == "IL605")
    assert "billing-ca" in il605.message and "payments new CA" in il605.message
    assert "IL605" not in {f.rule for f in lint((work / "fixed-ca.yaml").read_text())}


def test_incident_trust_workload_lists_every_cause(incident):
    work, *_ = incident
    code, text = run_workload_trust(str(work / "set.yaml"), "payments/Deployment/billing", "orders-api:8443",
                                    fmt="json")
    assert code == 1
    report = json.loads(text)
    openssl = next(v for v in report["verdicts"] if v["runtime"] == "openssl")
    assert {"untrusted-root", "expired"} <= set(openssl["reasons"])
    assert report["workload"] == "payments/deployment/billing"
    code, text = run_workload_trust(str(work / "fixed-ca.yaml"), "payments/deploy/billing", "orders-api", fmt="json")
    openssl = next(v for v in json.loads(text)["verdicts"] if v["runtime"] == "openssl")
    assert openssl["reasons"] == ["expired"]


def _s_client_errors(port: int, cafile: Path) -> set[int]:
    """Every verify error openssl s_client meets (its callback goes on after the first one)."""
    out = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-CAfile", str(cafile),
                          "-servername", "orders-api"], input="", capture_output=True, text=True, timeout=30)
    return {int(m) for m in re.findall(r"verify error:num=(\d+)", out.stdout + out.stderr)}


OPENSSL_CODES = {19: "untrusted-root", 10: "expired"}


def test_incident_against_a_real_server_started_with_the_secret(incident, tmp_path):
    """The Secret's files serve on 127.0.0.1; openssl s_client -CAfile <the mounted bundle> meets the same
    causes imagelint lists: the unknown root (19) and the expired certificate (10); once the CA is in the
    bundle, only the expired certificate."""
    work, root, old, leaf = incident
    secret = next(d for d in yaml.safe_load_all((work / "set.yaml").read_text()) if d["kind"] == "Secret")
    (tmp_path / "tls.crt").write_bytes(base64.b64decode(secret["data"]["tls.crt"]))
    (tmp_path / "tls.key").write_bytes(base64.b64decode(secret["data"]["tls.key"]))
    with TLSServer(tmp_path / "tls.crt", tmp_path / "tls.key") as server:
        for name, expected in (("set.yaml", {"untrusted-root", "expired"}), ("fixed-ca.yaml", {"expired"})):
            bundle = next(d for d in yaml.safe_load_all((work / name).read_text()) if d["kind"] == "ConfigMap")
            cafile = tmp_path / f"{name}.ca.crt"
            cafile.write_text(bundle["data"]["ca.crt"])
            assert {OPENSSL_CODES[c] for c in _s_client_errors(server.port, cafile)} == expected
            code, text = run_workload_trust(str(work / name), "payments/deployment/billing", "orders-api",
                                            connect=f"127.0.0.1:{server.port}", fmt="json", runtimes=["openssl"])
            assert set(json.loads(text)["verdicts"][0]["reasons"]) == expected


def test_trust_workload_cli_errors_are_one_line(incident):
    work, *_ = incident
    result = cli("trust", "--manifests", str(work / "set.yaml"), "--workload", "payments/deployment/nope",
                 "--host", "orders-api")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "no deployment payments/nope" in result.stderr
    result = cli("trust", "--manifests", str(work / "set.yaml"), "--workload", "payments/deployment/billing",
                 "--host", "orders-api:8443")
    assert result.returncode == 1
    assert "causes (fix in this order)" in result.stdout and "expired" in result.stdout


def test_trust_workload_reads_the_image_under_the_pod(incident, tmp_path):
    """With --image, the image's own bundle trusts orders-api's CA, but the pod's SSL_CERT_FILE points
    at the mounted bundle that lacks it: the verdict is the pod's, not the image's."""
    from imagekit import Image, Layer, write_oci

    from imagelint.commands.trust import run_trust

    work, root, old, leaf = incident
    layer = (Layer().file("etc/os-release", b'ID=debian\nVERSION_ID="12"\n')
             .file("etc/ssl/certs/ca-certificates.crt", root.pem).file("usr/bin/openssl", b"\x7fELF")
             .symlink("usr/lib/ssl/cert.pem", "/etc/ssl/certs/ca-certificates.crt"))  # Debian's layout
    ref = write_oci(tmp_path / "billing", Image([layer], env=["PATH=/usr/local/bin:/usr/bin:/bin"]))
    chain = tmp_path / "chain.pem"
    chain.write_bytes(leaf.pem + root.pem)
    _code, image_only = run_trust(ref, str(chain), host="orders-api", runtimes=["openssl"], fmt="json")
    assert json.loads(image_only)["verdicts"][0]["reasons"] == ["expired"]
    _code, pod = run_workload_trust(str(work / "set.yaml"), "payments/deployment/billing", "orders-api",
                                    image=ref, fmt="json", runtimes=["openssl"])
    verdict = json.loads(pod)["verdicts"][0]
    assert {"untrusted-root", "expired"} <= set(verdict["reasons"])
    assert "/etc/billing-ca/ca.crt" in verdict["store"]


# --------------------------------------------------------------------------- fixes

def test_manifest_fixes_keep_layout_and_remove_their_findings(tmp_path, incident):
    work, *_ = incident
    mounts = tmp_path / "mounts.yaml"
    mounts.write_text((FIXTURES / "mounts.yaml").read_text())
    tls = tmp_path / "tls.yaml"
    tls.write_text((FIXTURES / "tls.yaml").read_text())
    inc = tmp_path / "incident.yaml"
    inc.write_text((work / "set.yaml").read_text())

    safe_only = cli("fix", str(mounts), str(tls), str(inc), "--write")
    assert "unsafe fix available with --unsafe-fixes" in safe_only.stdout
    assert mounts.read_text() == (FIXTURES / "mounts.yaml").read_text()

    before = {p: p.read_text() for p in (mounts, tls, inc)}
    result = cli("fix", str(mounts), str(tls), str(inc), "--write", "--unsafe-fixes")
    assert result.returncode == 1, result.stdout + result.stderr
    after = {p: p.read_text() for p in (mounts, tls, inc)}
    # Comments and untouched documents stay as they were.
    assert after[mounts].count("# ruleid:") == before[mounts].count("# ruleid:")
    assert after[tls].split("kind: Certificate")[0] == before[tls].split("kind: Certificate")[0]
    rules = {p: {f.rule for f in lint(after[p], str(p))} for p in after}
    assert "IL602" not in rules[mounts] and "/etc/billing/corp-ca/corp-ca.crt" in after[mounts]
    assert "duration: 2160h" in after[tls] and "renewBefore: 720h" in after[tls]
    certificate_hits = [f for f in lint(after[tls], str(tls)) if f.rule == "IL611" and "Certificate" in f.message]
    assert not certificate_hits
    assert "IL605" not in rules[inc] and "IL610" in rules[inc]  # the CA is in; the expired certificate is not fixed here
    for text in after.values():
        for doc in yaml.safe_load_all(text):
            if doc and "cert-manager.io" not in doc.get("apiVersion", ""):
                __import__("kubernetes_validate").validate(doc, "1.30", strict=True)
    assert cli("fix", str(mounts), str(tls), str(inc), "--write", "--unsafe-fixes").stdout.strip().endswith(
        "Nothing to fix."), "fixes are idempotent"
