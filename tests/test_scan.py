"""`imagelint scan` end to end on fixture images: exit codes, every output format, --inventory,
--dockerfile mapping, --select/--ignore, bad input (one line, exit 2), and a TLS registry with a
private CA (--ca-file works; without it a certificate error, not a traceback)."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from imagekit import Image, Layer, make_ca, private_key_pem, write_docker_archive, write_oci
from services import clean_env, require
from test_scan_support import PATH_ENV, debian_layer, public_bundle, run_cli

CORP_PEM, CORP_CERT, CORP_KEY = make_ca("Corp Root CA")
SCHEMAS = Path(__file__).resolve().parent / "data" / "schemas"  # vendored: see its README.md
FORMATS = ["text", "json", "sarif", "github", "gitlab", "junit", "rdjsonl", "checkstyle"]

DOCKERFILE = """\
FROM debian:12
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl
COPY corp.crt /usr/local/share/ca-certificates/corp.crt
COPY server.key /srv/server.key
RUN rm /srv/server.key
ENV NODE_TLS_REJECT_UNAUTHORIZED=0
"""


def planted_image() -> Image:
    """Base layer + the four steps of DOCKERFILE, with BuildKit's history texts."""
    return Image(
        [debian_layer(), Layer().file("usr/local/share/ca-certificates/corp.crt", CORP_PEM),
         Layer().file("srv/server.key", private_key_pem(CORP_KEY), mode=0o600),
         Layer().whiteout("srv/server.key")],
        env=[PATH_ENV, "NODE_TLS_REJECT_UNAUTHORIZED=0"],
        created_by=[
            "RUN /bin/sh -c apt-get update && apt-get install -y --no-install-recommends ca-certificates curl # buildkit",
            "COPY corp.crt /usr/local/share/ca-certificates/corp.crt # buildkit",
            "COPY server.key /srv/server.key # buildkit",
            "RUN /bin/sh -c rm /srv/server.key # buildkit",
        ],
    )


def clean_image() -> Image:
    return Image([debian_layer(), Layer().file("usr/local/share/ca-certificates/corp.crt", CORP_PEM)
                  .file("etc/ssl/certs/ca-certificates.crt", public_bundle() + CORP_PEM)])


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    base = tmp_path_factory.mktemp("images")
    return {
        "planted-archive": write_docker_archive(base / "planted.tar", planted_image()),
        "planted-oci": write_oci(base / "planted-layout", planted_image()),
        "clean-archive": write_docker_archive(base / "clean.tar", clean_image(), style="skopeo"),
        "clean-oci": write_oci(base / "clean-layout", clean_image()),
    }


def scan_json(*args: str):
    result = run_cli("scan", "--format", "json", *args)
    return result, json.loads(result.stdout) if result.stdout.strip() else None


PLANTED_RULES = {"IL701", "IL703", "IL710"}


@pytest.mark.parametrize("kind", ["planted-archive", "planted-oci"])
def test_planted_problems_found(images, kind):
    result, report = scan_json(images[kind])
    assert result.returncode == 1, result.stderr
    rules = {f["rule"] for f in report["findings"]}
    assert rules == PLANTED_RULES
    key = next(f for f in report["findings"] if f["rule"] == "IL710")
    assert key["properties"]["layer"]["index"] == 2
    assert key["properties"]["created_by"].startswith("COPY server.key")
    assert key["properties"]["image"] == images[kind]


@pytest.mark.parametrize("kind", ["clean-archive", "clean-oci"])
def test_clean_images_stay_clean(images, kind):
    result = run_cli("scan", images[kind])
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == f"No problems found in image {images[kind]}."


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_renders(images, fmt, tmp_path):
    out = tmp_path / f"report.{fmt}"
    result = run_cli("scan", "--format", fmt, "--output", str(out), images["planted-oci"])
    assert result.returncode == 1, result.stderr
    assert out.read_text().strip()
    assert "Traceback" not in result.stderr


def test_sarif_is_valid_and_names_the_image(images):
    import jsonschema

    result = run_cli("scan", "--format", "sarif", images["planted-archive"])
    log = json.loads(result.stdout)
    schema = json.loads((SCHEMAS / "sarif-schema-2.1.0.json").read_text())
    jsonschema.Draft4Validator(schema).validate(log)
    [run] = log["runs"]
    locations = [r["locations"][0] for r in run["results"]]
    assert all("docker-archive" in loc["physicalLocation"]["artifactLocation"]["uri"] for loc in locations)
    names = {loc["logicalLocations"][0]["fullyQualifiedName"] for loc in locations}
    assert "/srv/server.key" in names


def test_dockerfile_mapping_lands_on_lines(images, tmp_path):
    import jsonschema

    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(DOCKERFILE)
    result, report = scan_json("--dockerfile", str(dockerfile), images["planted-oci"])
    assert result.returncode == 1, result.stderr
    lines = {f["rule"]: f["line"] for f in report["findings"]}
    assert lines == {"IL703": 3, "IL710": 4, "IL701": 6}
    assert all(f["path"] == str(dockerfile) for f in report["findings"])
    key = next(f for f in report["findings"] if f["rule"] == "IL710")
    assert key["properties"]["image_location"] == "/srv/server.key"

    sarif = json.loads(run_cli("scan", "--format", "sarif", "--dockerfile", str(dockerfile),
                               images["planted-oci"]).stdout)
    jsonschema.Draft4Validator(json.loads((SCHEMAS / "sarif-schema-2.1.0.json").read_text())).validate(sarif)
    regions = {r["ruleId"]: r["locations"][0]["physicalLocation"] for r in sarif["runs"][0]["results"]}
    assert regions["IL703"]["region"]["startLine"] == 3
    assert regions["IL703"]["artifactLocation"]["uri"].endswith("Dockerfile")


def test_dockerfile_mapping_base_image_findings_land_on_from(tmp_path):
    # The base image set the variable: no ENV in this Dockerfile, so the FROM line carries it.
    image = Image([debian_layer()], env=[PATH_ENV, "GIT_SSL_NO_VERIFY=1"],
                  created_by=["/bin/sh -c #(nop) ADD file:0123 in / "])
    ref = write_oci(tmp_path / "l", image)
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("# syntax=docker/dockerfile:1\nFROM corp/base:1\nRUN true\n")
    _, report = scan_json("--dockerfile", str(dockerfile), ref)
    [finding] = report["findings"]
    assert finding["line"] == 2 and finding["properties"]["from_base_image"] is True


def test_history_normalisation():
    from imagelint.commands.scan import normalize_history

    assert normalize_history("RUN /bin/sh -c update-ca-certificates # buildkit") == ("RUN", "update-ca-certificates")
    assert normalize_history("RUN |2 A=1 B=two /bin/sh -c make # buildkit") == ("RUN", "make")
    assert normalize_history("|1 VERSION=3 /bin/sh -c echo hi") == ("RUN", "echo hi")
    assert normalize_history("/bin/sh -c #(nop) COPY file:abc in /usr/local/share/ca-certificates/ ") == (
        "COPY", "file:abc in /usr/local/share/ca-certificates/")
    assert normalize_history("/bin/sh -c #(nop)  ENV A=1") == ("ENV", "A=1")
    assert normalize_history("/bin/sh -c apt-get update") == ("RUN", "apt-get update")
    assert normalize_history("ENV NODE_TLS_REJECT_UNAUTHORIZED=0") == ("ENV", "NODE_TLS_REJECT_UNAUTHORIZED=0")


def test_inventory_json_and_text(images):
    result = run_cli("scan", "--inventory", "--format", "json", images["clean-oci"])
    assert result.returncode == 0, result.stderr
    [inventory] = json.loads(result.stdout)["images"]
    assert inventory["family"] == "debian"
    [custom] = inventory["custom_cas"]
    assert custom["subject"] == "CN=Corp Root CA"
    assert custom["fingerprint_sha256"] == CORP_CERT.fingerprint(__import__("cryptography.hazmat.primitives.hashes",
                                                                           fromlist=["SHA256"]).SHA256()).hex()
    os_store = next(s for s in inventory["stores"] if s["runtime"] == "os")
    assert os_store["count"] > 100 and len(os_store["custom"]) == 1
    assert {s["runtime"] for s in inventory["stores"]} >= {"os", "openssl"}
    text = run_cli("scan", "--inventory", images["clean-oci"]).stdout
    assert "custom CAs (1):" in text and "CN=Corp Root CA" in text and "expires" in text


def test_select_ignore_and_fail_level(images):
    _, report = scan_json("--select", "IL710", images["planted-oci"])
    assert {f["rule"] for f in report["findings"]} == {"IL710"}
    _, report = scan_json("--ignore", "IL71", "--ignore", "IL701", images["planted-oci"])
    assert {f["rule"] for f in report["findings"]} == {"IL703"}
    warn_only = run_cli("scan", "--select", "IL704", "--fail-level", "error", images["clean-oci"])
    assert warn_only.returncode == 0


def test_several_images_in_one_run(images):
    result, report = scan_json(images["planted-oci"], images["clean-archive"])
    assert result.returncode == 1
    assert all(f["path"].startswith(images["planted-oci"] + ":") for f in report["findings"])


# ---- bad input: exit 2, one line, no traceback

def assert_one_line_error(result: subprocess.CompletedProcess, *words: str) -> str:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def test_missing_archive(tmp_path):
    assert_one_line_error(run_cli("scan", f"docker-archive:{tmp_path}/nope.tar"), "no such archive")


def test_truncated_archive(images, tmp_path):
    data = Path(images["planted-archive"].split(":", 1)[1]).read_bytes()
    cut = tmp_path / "cut.tar"
    cut.write_bytes(data[: len(data) // 2])
    assert_one_line_error(run_cli("scan", f"docker-archive:{cut}"), str(cut))


def test_bad_format_and_missing_ca_file(images):
    assert_one_line_error(run_cli("scan", "--format", "xml", images["clean-oci"]), "unknown format")
    assert_one_line_error(run_cli("scan", "--inventory", "--format", "sarif", images["clean-oci"]), "--inventory")
    assert_one_line_error(run_cli("scan", "--ca-file", "/nonexistent/ca.pem", images["clean-oci"]), "--ca-file")


def test_missing_dockerfile(images, tmp_path):
    assert_one_line_error(run_cli("scan", "--dockerfile", str(tmp_path / "Dockerfile"), images["clean-oci"]),
                          "Dockerfile")


def test_progress_stays_quiet_without_a_terminal(images):
    result = run_cli("scan", images["clean-oci"], env={**clean_env(), "CI": ""})
    assert result.stderr == ""


# ---- a TLS registry with a private CA

@pytest.fixture(scope="module")
def tls_registry_image(registry_factory, images, tmp_path_factory):
    require("skopeo")
    registry = registry_factory(tls=True)
    layout = images["planted-oci"].split(":", 1)[1]
    target = f"docker://{registry.host_port}/imagelint/planted:1"
    home = tmp_path_factory.mktemp("home")
    subprocess.run(["skopeo", "copy", "--dest-cert-dir", str(registry.cert_dir), f"oci:{layout}", target],
                   check=True, capture_output=True, env=clean_env(HOME=str(home)), timeout=300)
    return registry, target, home


def test_registry_with_ca_file(tls_registry_image):
    registry, target, home = tls_registry_image
    result = run_cli("scan", "--format", "json", "--ca-file", str(registry.ca_file), target,
                     env=clean_env(HOME=str(home)))
    assert result.returncode == 1, result.stderr
    assert {f["rule"] for f in json.loads(result.stdout)["findings"]} == PLANTED_RULES


def test_registry_without_ca_is_a_certificate_error(tls_registry_image):
    _, target, home = tls_registry_image
    line = assert_one_line_error(run_cli("scan", target, env=clean_env(HOME=str(home))), "--ca-file")
    assert "certificate" in line.lower()


# ---- platforms and progress

def test_platform_selects_from_an_index(tmp_path):
    amd64 = Image([debian_layer()], env=[PATH_ENV, "GIT_SSL_NO_VERIFY=1"], architecture="amd64")
    arm64 = Image([debian_layer()], env=[PATH_ENV], architecture="arm64")
    ref = write_oci(tmp_path / "multi", [amd64, arm64], as_index=True)
    assert run_cli("scan", "--platform", "linux/amd64", ref).returncode == 1
    assert run_cli("scan", "--platform", "linux/arm64", ref).returncode == 0
    assert_one_line_error(run_cli("scan", "--platform", "linux/s390x", ref), "linux/s390x", "available")
    assert_one_line_error(run_cli("scan", "--platform", "nonsense", ref), "platform")


def test_progress_bars_on_a_terminal(images):
    """With stderr on a terminal (and not in CI) rich draws progress; the report on stdout is unchanged."""
    import os
    import pty

    primary, secondary = pty.openpty()
    env = {**clean_env(), "CI": "", "TERM": "xterm"}
    env.pop("NO_PROGRESS", None)
    try:
        result = subprocess.run([__import__("sys").executable, "-m", "imagelint.cli", "scan", images["clean-oci"]],
                                stdout=subprocess.PIPE, stderr=secondary, env=env, timeout=120,
                                cwd=Path(__file__).resolve().parents[1])
        os.close(secondary)
        drawn = b""
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:
                break
            if not chunk:
                break
            drawn += chunk
    finally:
        os.close(primary)
    assert result.returncode == 0
    assert result.stdout.decode().startswith("No problems found")
    assert b"layer 0" in drawn and b"Traceback" not in drawn


def test_plain_http_registry_on_loopback(registry_factory, images, tmp_path):
    """Loopback registries may speak plain HTTP without --insecure-registry."""
    require("skopeo")
    registry = registry_factory()
    layout = images["clean-oci"].split(":", 1)[1]
    subprocess.run(["skopeo", "copy", "--dest-tls-verify=false", f"oci:{layout}",
                    f"docker://{registry.host_port}/imagelint/clean:1"], check=True, capture_output=True,
                   env=clean_env(HOME=str(tmp_path)), timeout=300)
    result = run_cli("scan", f"docker://{registry.host_port}/imagelint/clean:1", env=clean_env(HOME=str(tmp_path)))
    assert result.returncode == 0, result.stdout + result.stderr
