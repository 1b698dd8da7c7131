"""`lint`, `scan` and `trust` see one image the same way: the same family, bundle and stores.

Each image below is what its Dockerfile's base names; lint predicts from the name, scan and trust
read the image's files. All three answer from the one trust model, so they must agree.
"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from imagekit import Image, Layer, make_ca, write_oci
from imagelint.dockerfile.model import build_model
from imagelint.dockerfile.parse import parse_dockerfile
from imagelint.dockerfile.queries import stage_facts

ROOTS = b"".join(make_ca(f"Public Root {i}")[0] for i in range(3))

# (Dockerfile base, os-release, bundle file the family's update tool writes, extra files)
IMAGES = {
    "debian": ("debian:12", 'ID=debian\nVERSION_ID="12"\n', "/etc/ssl/certs/ca-certificates.crt", {}),
    "ubuntu": ("ubuntu:24.04", "ID=ubuntu\nID_LIKE=debian\n", "/etc/ssl/certs/ca-certificates.crt", {}),
    "alpine": ("alpine:3.20", "ID=alpine\n", "/etc/ssl/certs/ca-certificates.crt", {}),
    "rhel": ("registry.access.redhat.com/ubi9/ubi:9.4", 'ID="rhel"\nID_LIKE="fedora"\n',
             "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", {}),
    "arch": ("archlinux:latest", "ID=arch\n", "/etc/ssl/certs/ca-certificates.crt", {}),
    "python": ("python:3.12-slim", 'ID=debian\nVERSION_ID="12"\n', "/etc/ssl/certs/ca-certificates.crt", {
        "usr/local/lib/python3.12/site-packages/certifi/cacert.pem": ROOTS,
        "usr/local/lib/python3.12/site-packages/requests/__init__.py": b"",
        "usr/local/bin/python3.12": b"\x7fELF python",
    }),
}


def cli(*args: str) -> dict:
    result = subprocess.run([sys.executable, "-m", "imagelint.cli", *args], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode in (0, 1), result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_lint_scan_and_trust_agree(tmp_path, name):
    base, os_release, bundle, extra = IMAGES[name]
    layer = Layer().file("etc/os-release", os_release).file(bundle.lstrip("/"), ROOTS)
    for path, data in extra.items():
        layer.file(path, data)
    reference = write_oci(tmp_path / "layout", Image([layer]))
    chain = tmp_path / "chain.pem"
    chain.write_bytes(make_ca("Some Server", ca=False)[0])

    predicted = stage_facts(build_model(parse_dockerfile(f"FROM {base}\n")).stages[0])
    scanned = cli("scan", reference, "--format", "json", "--inventory")
    trusted = cli("trust", reference, "--chain", str(chain), "--format", "json")

    inventory = scanned["images"][0]
    assert predicted.name == inventory["family"] == trusted["family"], (predicted.name, inventory, trusted)
    assert predicted.system_bundle == inventory["bundle"] == trusted["bundle"] == bundle
    scan_runtimes = {store["runtime"] for store in inventory["stores"]}
    trust_runtimes = {verdict["runtime"] for verdict in trusted["verdicts"]}
    assert trust_runtimes <= scan_runtimes | {"openssl"}, (scan_runtimes, trust_runtimes)
    if name == "python":
        assert "python-requests" in trust_runtimes and "python-requests" in scan_runtimes
