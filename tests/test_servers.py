"""Server-side checks IL801-IL806 on images that carry nginx, Apache httpd and HAProxy
configurations (tests/server_scenarios.py): each planted problem is reported with where it is
configured, clean full-chain configurations stay quiet. The same scenarios run on the real
servers in tests/test_servers_real.py."""
from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes

from imagekit import Image, Layer, write_oci
from pki import make_pki
from server_scenarios import (Scenario, apache_scenarios, caddy_scenarios, haproxy_scenarios, nginx_scenarios,
                              tomcat_scenarios)
from test_scan_support import PATH_ENV, debian_layer, scan

PKI = make_pki()
SCENARIOS = (nginx_scenarios(PKI) + apache_scenarios(PKI) + haproxy_scenarios(PKI) + caddy_scenarios(PKI)
             + tomcat_scenarios(PKI))
SERVER_RULES = {"IL801", "IL802", "IL803", "IL804", "IL805", "IL806"}


def server_layer(scenario: Scenario, port: int = 8443) -> Layer:
    layer = Layer()
    for path, data in sorted(scenario.rendered("", port).items()):
        layer.file(path.lstrip("/"), data)
    for link, target in scenario.links.items():
        layer.symlink(link.replace("{root}", "").lstrip("/"), target)
    return layer


def image_of(tmp_path, scenario: Scenario, **kwargs) -> str:
    return write_oci(tmp_path / "layout", Image([debian_layer(), server_layer(scenario)], env=[PATH_ENV], **kwargs))


def served(findings):
    return {(f.rule, f.properties.get("problem")) for f in findings if f.rule in SERVER_RULES}


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[f"{s.server}-{s.name}" for s in SCENARIOS])
def test_prediction(tmp_path, scenario):
    findings = scan(image_of(tmp_path, scenario))
    assert served(findings) == scenario.expect, [f.message for f in findings if f.rule in SERVER_RULES]


def nginx_image(tmp_path, files: dict[str, bytes | str], site: str, links: dict[str, str] | None = None) -> str:
    from server_scenarios import nginx_main

    layer = Layer().file("etc/nginx/nginx.conf", nginx_main().replace("{root}", ""))
    layer.file("etc/nginx/sites-enabled/site", site.replace("{port}", "443"))
    for path, data in files.items():
        layer.file(path.lstrip("/"), data)
    for link, target in (links or {}).items():
        layer.symlink(link.lstrip("/"), target)
    return write_oci(tmp_path / "layout", Image([debian_layer(), layer], env=[PATH_ENV]))


def test_incident_orders_api_image_serves_an_expired_one_day_certificate(tmp_path):
    """The incident's server half, before anything is deployed: orders-api's image serves a
    certificate issued for one day that has expired. Expiry comes first."""
    from server_scenarios import nginx_site

    ref = nginx_image(tmp_path, {"/etc/nginx/tls/orders.pem": PKI.expired_leaf.pem + PKI.intermediate.pem,
                                 "/etc/nginx/tls/orders.key": PKI.expired_leaf.key_pem},
                      nginx_site("/etc/nginx/tls/orders.pem", "/etc/nginx/tls/orders.key"))
    findings = [f for f in scan(ref) if f.rule in SERVER_RULES]
    assert [f.rule for f in findings] == ["IL802", "IL803"]
    expired = next(f for f in findings if f.rule == "IL802")
    assert expired.path == "/etc/nginx/tls/orders.pem" and expired.properties["config"] == "/etc/nginx/sites-enabled/site"
    assert "validity 1 day(s)" in expired.message and "CN=orders-api" in expired.message
    assert expired.properties["fingerprint_sha256"] == PKI.expired_leaf.cert.fingerprint(hashes.SHA256()).hex()
    short = next(f for f in findings if f.rule == "IL803")
    assert short.properties["problem"] == "short-lived" and short.properties["validity_hours"] == 24.0


def test_server_key_in_the_image_gets_the_secret_fix(tmp_path):
    from server_scenarios import nginx_site

    ref = nginx_image(tmp_path, {"/etc/nginx/tls/orders.pem": PKI.leaf.pem + PKI.intermediate.pem,
                                 "/etc/nginx/tls/orders.key": PKI.leaf.key_pem,
                                 "/root/unrelated.key": PKI.other_leaf.key_pem},
                      nginx_site("/etc/nginx/tls/orders.pem", "/etc/nginx/tls/orders.key"))
    keys = {f.path: f for f in scan(ref) if f.rule == "IL710"}
    assert set(keys) == {"/etc/nginx/tls/orders.key", "/root/unrelated.key"}
    server_key = keys["/etc/nginx/tls/orders.key"]
    assert "Kubernetes Secret of type kubernetes.io/tls" in server_key.message
    assert server_key.properties["server_key_of"] == "nginx (/etc/nginx/sites-enabled/site:5)"
    assert "Secret" not in keys["/root/unrelated.key"].message
    assert PKI.leaf.key_pem.decode().splitlines()[1] not in server_key.message


def test_files_outside_the_kept_set_are_read_on_a_second_pass(tmp_path):
    """An include and a certificate file named without any known suffix, outside the server's
    configuration tree: the first pass does not keep them, the check rereads their layer."""
    site = "include /opt/app/tls-site;\n"
    included = ("server {\n    listen 443 ssl;\n    server_name localhost;\n"
                "    ssl_certificate /opt/app/served-chain;\n    ssl_certificate_key /opt/app/tls/key.pem;\n}\n")
    ref = nginx_image(tmp_path, {"/opt/app/tls-site": included, "/opt/app/served-chain": PKI.leaf.pem,
                                 "/opt/app/tls/key.pem": PKI.leaf.key_pem}, site)
    findings = [f for f in scan(ref) if f.rule in SERVER_RULES]
    assert [(f.rule, f.properties["problem"], f.properties["config"]) for f in findings] == [
        ("IL805", "leaf-only", "/opt/app/tls-site")]


def test_budgets_and_loops_are_one_line_notes(tmp_path):
    from server_scenarios import nginx_site

    looping = "include /etc/nginx/sites-enabled/site;\n"
    ref = nginx_image(tmp_path, {"/etc/nginx/tls/a.pem": PKI.leaf.pem + PKI.intermediate.pem,
                                 "/etc/nginx/tls/a.key": PKI.leaf.key_pem},
                      looping + nginx_site("/etc/nginx/tls/a.pem", "/etc/nginx/tls/a.key"))
    findings = [f for f in scan(ref) if f.rule == "IL801"]
    assert [f.properties["problem"] for f in findings] == ["not-checked"]
    assert "includes itself" in findings[0].message and "\n" not in findings[0].message
    many = "".join(f"include /etc/nginx/conf.d/part{i}.conf;\n" for i in range(300))
    parts = {f"/etc/nginx/conf.d/part{i}.conf": "# empty\n" for i in range(300)}
    ref = nginx_image(tmp_path / "many", parts, many)
    notes = [f.message for f in scan(ref) if f.rule == "IL801"]
    assert any("more than 256 configuration files" in n for n in notes), notes


def test_expiring_days(tmp_path):
    from pki import DAY, NOW, make_cert
    from server_scenarios import nginx_site

    leaf = make_cert("orders-api", PKI.intermediate, dns=("localhost",), not_before=NOW - 300 * DAY,
                     not_after=NOW + 20 * DAY)
    ref = nginx_image(tmp_path, {"/etc/nginx/tls/a.pem": leaf.pem + PKI.intermediate.pem,
                                 "/etc/nginx/tls/a.key": leaf.key_pem},
                      nginx_site("/etc/nginx/tls/a.pem", "/etc/nginx/tls/a.key"))
    assert served(scan(ref)) == {("IL803", "expiring")}
    assert served(scan(ref, expiring_days=10)) == set()


def test_a_link_out_of_the_configuration_stays_inside_the_image(tmp_path):
    """sites-enabled/site -> ../../../../../etc/shadow resolves to the image's own /etc/shadow (absent):
    nothing of this machine is read."""
    layer_files = {"/etc/nginx/tls/a.pem": PKI.leaf.pem + PKI.intermediate.pem}
    ref = nginx_image(tmp_path, layer_files, "# replaced by the link\n",
                      links={"/etc/nginx/sites-enabled/other": "../../../../../../etc/hostname"})
    assert served(scan(ref)) == set()


@pytest.mark.parametrize("path, text", [
    ("etc/nginx/nginx.conf", "events {}\nhttp {\n    server {\n        listen 443 ssl;\n"),  # unclosed
    ("etc/nginx/nginx.conf", "http { server { listen 443 ssl } }\n"),  # no ';'
    ("etc/nginx/nginx.conf", b"\xff\xfe\x00garbage {{{ }}} ;;; \x00"),
    ("etc/apache2/apache2.conf", "<VirtualHost *:443>\nSSLEngine on\n"),  # unclosed section
    ("etc/apache2/apache2.conf", "</VirtualHost>\nInclude /nowhere/*.conf\n"),
    ("etc/haproxy/haproxy.cfg", "frontend x\n  bind :443 ssl crt\n  bind \"unterminated ssl crt /x.pem\n"),
])
def test_broken_configurations_are_one_line_findings(tmp_path, path, text):
    layer = Layer().file(path, text)
    ref = write_oci(tmp_path / "layout", Image([debian_layer(), layer], env=[PATH_ENV]))
    findings = [f for f in scan(ref) if f.rule in SERVER_RULES]
    assert findings, "a broken configuration must be reported"
    for finding in findings:
        assert "\n" not in finding.message and "Traceback" not in finding.message


def test_trust_with_the_server_image_names_the_file_or_says_it_differs(tmp_path):
    """`trust --chain … --image SERVER`: the presented leaf found in the image's nginx configuration
    (matched by certificate); a chain the image does not hold is matched by name, and said so."""
    from imagelint.commands.trust import run_trust
    from imagelint.trust.model import TrustModel
    from test_trust_stores import build_root, debian_files
    import json

    scenario = next(s for s in SCENARIOS if (s.server, s.name) == ("nginx", "leaf-only"))
    server_image = image_of(tmp_path / "image", scenario)
    client = TrustModel(build_root(tmp_path / "client", debian_files(PKI, PKI.root.pem)), {})
    leaf_only = tmp_path / "leaf.pem"
    leaf_only.write_bytes(PKI.leaf.pem)
    code, out = run_trust("host", chain_path=str(leaf_only), host="localhost", fmt="json", model=client,
                          server_image=server_image)
    doc = json.loads(out)
    assert code == 1 and doc["server"]["matched_by"] == "certificate"
    assert "/etc/nginx/tls/server.pem (nginx, /etc/nginx/sites-enabled/orders:4) is the file to fix" in \
        doc["verdicts"][0]["fix"]
    other = tmp_path / "other.pem"
    other.write_bytes(PKI.wrong_host_leaf.pem + PKI.intermediate.pem)
    _, text = run_trust("host", chain_path=str(other), host="localhost", model=client, server_image=server_image)
    assert "(matched by name: that file holds another certificate" in text
