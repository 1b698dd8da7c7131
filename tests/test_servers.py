"""Server-side checks IL801-IL806 on images that carry nginx, Apache httpd and HAProxy
configurations (tests/server_scenarios.py): each planted problem is reported with where it is
configured, clean full-chain configurations stay quiet. The same scenarios run on the real
servers in tests/test_servers_real.py."""
from __future__ import annotations

import pytest

from imagekit import Image, Layer, write_oci
from pki import make_pki
from server_scenarios import Scenario, apache_scenarios, haproxy_scenarios, nginx_scenarios
from test_scan_support import PATH_ENV, debian_layer, scan

PKI = make_pki()
SCENARIOS = nginx_scenarios(PKI) + apache_scenarios(PKI) + haproxy_scenarios(PKI)
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
