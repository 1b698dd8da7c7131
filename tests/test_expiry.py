"""`imagelint expiry`: soonest first, per place, for files, images and endpoints; JSON and Prometheus.

The Prometheus output is read back by a real Prometheus through a real node_exporter's textfile
collector, as users deploy it.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from imagekit import Image, Layer, write_oci
from pki import DAY, NOW, TLSServer, make_cert, make_pki
from services import running_prometheus


def expiry(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "imagelint.cli", "expiry", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


def fingerprint(issued) -> str:
    from cryptography.hazmat.primitives import hashes

    return issued.cert.fingerprint(hashes.SHA256()).hex()


@pytest.fixture(scope="module")
def pki():
    return make_pki()


@pytest.fixture
def files(tmp_path, pki):
    """The incident's server file (expired 1-day leaf + intermediate), a CA bundle and a soon-expiring CA."""
    one_day = make_cert("orders-api", pki.intermediate, dns=("orders-api",), not_before=NOW - 2 * DAY,
                        not_after=NOW - DAY)
    soon = make_cert("Partner CA", ca=True, not_after=NOW + 10 * DAY)
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "orders-api.pem").write_bytes(one_day.pem + pki.intermediate.pem)
    (tmp_path / "certs" / "partner.crt").write_bytes(soon.pem)
    (tmp_path / "certs" / "notes.txt").write_text("not a certificate")
    (tmp_path / "root.pem").write_bytes(pki.root.pem)
    return tmp_path, one_day, soon


def test_files_soonest_first_with_roles_and_status(files, pki):
    root, one_day, soon = files
    result = expiry(str(root / "certs"), str(root / "root.pem"), "-f", "json")
    assert result.returncode == 1, result.stderr  # something expired
    report = json.loads(result.stdout)
    rows = report["certificates"]
    assert [r["fingerprint_sha256"] for r in rows][:2] == [fingerprint(one_day), fingerprint(soon)]
    leaf = next(r for r in rows if "CN=orders-api" in r["subject"])
    assert leaf["status"] == "expired" and leaf["role"] == "leaf" and leaf["days_left"] == -1
    partner = next(r for r in rows if "Partner CA" in r["subject"])
    assert partner["status"] == "expiring" and partner["role"] == "anchor" and partner["days_left"] in (9, 10)
    intermediate = next(r for r in rows if "Intermediate" in r["subject"])
    assert intermediate["role"] == "intermediate" and intermediate["status"] == "ok"
    assert any("Test Root CA" in r["subject"] for r in rows) and len(rows) == 4  # notes.txt is not read
    assert set(rows[0]) >= {"source", "path", "subject", "issuer", "fingerprint_sha256", "not_after", "days_left",
                            "status", "role"}
    assert report["version"] == 1


def test_exit_codes_and_warn_days(files, pki):
    root, _one_day, _soon = files
    assert expiry(str(root / "root.pem")).returncode == 0
    assert expiry(str(root / "certs" / "partner.crt")).returncode == 1  # expiring within 30 days
    assert expiry(str(root / "certs" / "partner.crt"), "--warn-days", "5").returncode == 0
    bad = expiry(str(root / "certs" / "notes.txt"), str(root / "root.pem"), "-f", "json")
    assert bad.returncode == 2 and "notes.txt" in bad.stderr and "Traceback" not in bad.stderr
    assert len(json.loads(bad.stdout)["certificates"]) == 1  # the other input is still reported
    text = expiry(str(root / "certs")).stdout
    assert text.index("orders-api") < text.index("Partner CA")  # soonest first in text too


def test_bundle_public_roots_are_summarised_unless_all(tmp_path, pki):
    roots = b"".join(make_cert(f"Public Root {i}", ca=True).pem for i in range(120))
    (tmp_path / "bundle.crt").write_bytes(roots)
    text = expiry(str(tmp_path / "bundle.crt")).stdout
    assert "120 public roots" in text and "Public Root 7" not in text
    listed = json.loads(expiry(str(tmp_path / "bundle.crt"), "--all", "-f", "json").stdout)
    assert len(listed["certificates"]) == 120


def test_image_lists_custom_cas_and_summarises_the_public_set(tmp_path, pki):
    public = [make_cert(f"Mozilla Root {i}", ca=True) for i in range(5)]
    corp = make_cert("Corp Root CA", ca=True, not_after=NOW + 3 * DAY)
    layer = (Layer().file("etc/os-release", "ID=debian\n")
             .file("usr/share/ca-certificates/mozilla/all.crt", b"".join(c.pem for c in public))
             .file("usr/local/share/ca-certificates/corp.crt", corp.pem)
             .file("etc/ssl/certs/ca-certificates.crt", b"".join(c.pem for c in public) + corp.pem))
    reference = write_oci(tmp_path / "layout", Image([layer]))
    report = json.loads(expiry(reference, "-f", "json").stdout)
    places = {(r["path"], r["role"]) for r in report["certificates"] if "Corp Root CA" in r["subject"]}
    assert places == {("/usr/local/share/ca-certificates/corp.crt", "anchor"),
                      ("/etc/ssl/certs/ca-certificates.crt", "anchor")}  # once per place it lives
    assert not any("Mozilla" in r["subject"] for r in report["certificates"])
    assert {(m["path"], m["count"]) for m in report["summarised"]} == {("/etc/ssl/certs/ca-certificates.crt", 5)}
    assert all(r["status"] == "expiring" for r in report["certificates"])
    everything = json.loads(expiry(reference, "-f", "json", "--all").stdout)
    assert sum("Mozilla" in r["subject"] for r in everything["certificates"]) == 5


def test_endpoint_chain_as_served(tmp_path, pki):
    (tmp_path / "chain.pem").write_bytes(pki.leaf.pem + pki.intermediate.pem)
    (tmp_path / "key.pem").write_bytes(pki.leaf.key_pem)
    with TLSServer(tmp_path / "chain.pem", tmp_path / "key.pem") as server:
        report = json.loads(expiry(f"127.0.0.1:{server.port}", "-f", "json").stdout)
    roles = [(r["role"], r["path"]) for r in report["certificates"]]
    assert sorted(roles) == sorted([("leaf", f"127.0.0.1:{server.port}"), ("intermediate", f"127.0.0.1:{server.port}")])
    refused = expiry("127.0.0.1:1")
    assert refused.returncode == 2 and "127.0.0.1:1" in refused.stderr and "Traceback" not in refused.stderr


@pytest.mark.slow
def test_prometheus_reads_every_planted_certificate(tmp_path, files, pki):
    root, one_day, soon = files
    with running_prometheus(tmp_path / "prom") as prometheus:
        out = prometheus.textfile_dir / "imagelint.prom"
        result = expiry(str(root / "certs"), str(root / "root.pem"), "-f", "prometheus", "-o", str(out))
        assert result.returncode == 1, result.stderr
        expected = {"orders-api": int(one_day.cert.not_valid_after_utc.timestamp()),
                    "Partner CA": int(soon.cert.not_valid_after_utc.timestamp()),
                    "Test Intermediate CA": int(pki.intermediate.cert.not_valid_after_utc.timestamp()),
                    "Test Root CA": int(pki.root.cert.not_valid_after_utc.timestamp())}
        deadline = time.monotonic() + 60
        got: dict[str, int] = {}
        while time.monotonic() < deadline and got != expected:
            got = {r["metric"]["subject_CN"]: int(float(r["value"][1])) for r in prometheus.query("x509_cert_not_after")}
            time.sleep(0.5)
        assert got == expected
        expired = {r["metric"]["subject_CN"]: r["value"][1] for r in prometheus.query("x509_cert_expired")}
        assert expired["orders-api"] == "1" and expired["Test Root CA"] == "0"
        sample = prometheus.query('x509_cert_not_after{subject_CN="Partner CA"}')[0]["metric"]
        assert sample["filepath"].endswith("partner.crt") and sample["filename"] == "partner.crt"
        assert sample["issuer_CN"] == "Partner CA" and sample["serial_number"] == str(soon.cert.serial_number)
        assert prometheus.query("imagelint_expiry_scan_timestamp_seconds")


def test_keystores_and_der(tmp_path, pki):
    from imagekit import jks_store, pkcs12_store

    (tmp_path / "truststore.jks").write_bytes(jks_store([pki.root.cert]))
    (tmp_path / "store.p12").write_bytes(pkcs12_store([pki.intermediate.cert]))
    (tmp_path / "root.der").write_bytes(pki.root.der)
    rows = json.loads(expiry(str(tmp_path), "-f", "json").stdout)["certificates"]
    assert sorted((Path(r["path"]).name, r["role"]) for r in rows) == [
        ("root.der", "anchor"), ("store.p12", "intermediate"), ("truststore.jks", "anchor")]


def test_manifests_secrets_and_configmap_bundles(tmp_path, pki):
    import base64

    one_day = make_cert("orders-api", pki.intermediate, dns=("orders-api",), not_before=NOW - 2 * DAY,
                        not_after=NOW - DAY)
    b64 = lambda data: base64.b64encode(data).decode()  # noqa: E731
    (tmp_path / "set.yaml").write_text(f"""\
apiVersion: v1
kind: Secret
metadata: {{name: orders-api-tls, namespace: payments}}
type: kubernetes.io/tls
data:
  tls.crt: {b64(one_day.pem + pki.intermediate.pem)}
  tls.key: {b64(b"not shown")}
  ca.crt: {b64(pki.root.pem)}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: billing-ca, namespace: payments}}
data:
  ca-bundle.crt: |
{chr(10).join('    ' + line for line in pki.other_root.pem.decode().splitlines())}
  note: "just text"
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {{name: orders-api, namespace: payments}}
spec:
  secretName: orders-api-tls
  duration: 24h
  dnsNames: [orders-api]
  issuerRef: {{name: payments-ca, kind: Issuer}}
""")
    report = json.loads(expiry(str(tmp_path / "set.yaml"), "-f", "json").stdout)
    rows = {(r["path"], r["role"], r["status"]) for r in report["certificates"]}
    assert rows == {("payments/orders-api-tls/tls.crt", "leaf", "expired"),
                    ("payments/orders-api-tls/tls.crt", "intermediate", "ok"),
                    ("payments/orders-api-tls/ca.crt", "anchor", "ok"),
                    ("payments/billing-ca/ca-bundle.crt", "anchor", "ok")}
    metrics = expiry(str(tmp_path / "set.yaml"), "-f", "prometheus").stdout
    assert 'secret_namespace="payments",secret_name="orders-api-tls",secret_key="tls.crt"' in metrics
    assert 'configmap_name="billing-ca",configmap_key="ca-bundle.crt"' in metrics
    assert "not shown" not in metrics
    assert report["cert_manager"][0] | {"path": None} == {"certificate": "payments/orders-api", "secret": "orders-api-tls",
                                                          "duration_hours": 24.0, "renew_before_hours": 8.0, "path": None}
    text = expiry(str(tmp_path / "set.yaml")).stdout
    assert "cert-manager Certificate payments/orders-api issues certificates valid 24h, renewed 8h before" in text


def test_image_server_configuration_certificates(tmp_path, pki):
    """orders-api's image serves an expired 1-day certificate: expiry lists it as the served leaf."""
    one_day = make_cert("orders-api", pki.intermediate, dns=("orders-api",), not_before=NOW - 2 * DAY,
                        not_after=NOW - DAY)
    nginx = ("events {}\nhttp {\n  server {\n    listen 443 ssl;\n    server_name orders-api;\n"
             "    ssl_certificate /etc/nginx/tls/orders.pem;\n    ssl_certificate_key /etc/nginx/tls/orders.key;\n"
             "  }\n}\n")
    layer = (Layer().file("etc/os-release", "ID=debian\n").file("etc/nginx/nginx.conf", nginx)
             .file("etc/nginx/tls/orders.pem", one_day.pem + pki.intermediate.pem)
             .file("etc/nginx/tls/orders.key", one_day.key_pem, mode=0o600))
    reference = write_oci(tmp_path / "layout", Image([layer]))
    result = expiry(reference, "-f", "json")
    rows = {(r["path"], r["role"], r["status"]) for r in json.loads(result.stdout)["certificates"]}
    assert ("/etc/nginx/tls/orders.pem", "leaf", "expired") in rows
    assert ("/etc/nginx/tls/orders.pem", "intermediate", "ok") in rows
    assert result.returncode == 1
