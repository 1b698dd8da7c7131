"""The incident, replayed on a real engine: lint -> build -> run (fails) -> scan -> trust -> fix -> rebuild -> run (works).

"orders-api" is a loopback TLS server with a private root -> intermediate -> leaf chain. The "billing"
clients run in containers built by a private dockerd from Debian bookworm root filesystems
(mmdebstrap, cached). Every scenario shows the real client error before the fix and success after it.
Run alone with `make e2e` (IMAGELINT_E2E=1 python -m pytest -m e2e).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from kubekit import incident_manifests
from pki import make_cert, make_pki, NOW, DAY, TLSServer
from services import clean_env, require

pytestmark = pytest.mark.e2e

HERE = Path(__file__).resolve().parent
BASE = "buildpack-deps:bookworm-curl"  # the clients rootfs: Debian + ca-certificates, curl, python3-requests, nodejs
JAVA_BASE = "eclipse-temurin:17-jre"  # a vendor-style JDK: its cacerts is its own file, not the OS store's


DOCKER_ENV: dict[str, str] = {}


TRANSCRIPT: list[str] = []  # IMAGELINT_E2E_TRANSCRIPT=FILE writes the commands and their output (README demo)


def record(command: list[str], result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    if os.environ.get("IMAGELINT_E2E_TRANSCRIPT"):
        TRANSCRIPT.append("$ " + " ".join(command))
        TRANSCRIPT.append((result.stdout + result.stderr).rstrip() + f"\n[exit {result.returncode}]")
    return result


def imagelint(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """The CLI as a user runs it, with this machine's CA variables removed and our engine as DOCKER_HOST."""
    return record(["imagelint", *args], subprocess.run(
        [sys.executable, "-m", "imagelint.cli", *args], capture_output=True, text=True,
        cwd=cwd, env=clean_env(**DOCKER_ENV), timeout=600))


@dataclass
class World:
    engine: object
    work: Path
    pki: object
    files: dict
    orders_port: int
    public_port: int
    attacker_port: int
    servers: list = field(default_factory=list)

    def docker(self, *args, check=True):
        return self.engine.docker(*args, check=check)

    def run_client(self, image: str, *cmd: str) -> subprocess.CompletedProcess:
        args = ["run", "--rm", "--network", "host", "--add-host", "orders-api:127.0.0.1",
                "--add-host", "public-api:127.0.0.1", image, *cmd]
        return record(["docker", *args], self.docker(*args, check=False))

    def build(self, context: Path, tag: str) -> None:
        result = self.engine.build(context, tag)
        assert result.returncode == 0, f"docker build {tag} failed:\n{result.stdout}\n{result.stderr}"


@pytest.fixture(scope="module")
def world(dockerd, clients_rootfs, java_rootfs, tmp_path_factory):
    require("javac")
    DOCKER_ENV["DOCKER_HOST"] = dockerd.host
    work = tmp_path_factory.mktemp("incident")
    pki = make_pki("orders-api")
    files = pki.write(work / "pki")
    # A "public" CA that the base image trusts as if it were a Mozilla root, and its server.
    public_root = make_cert("Public Root CA", ca=True)
    public_leaf = make_cert("public-api", public_root, dns=("public-api",), ips=("127.0.0.1",))
    (work / "pki" / "public-root.crt").write_bytes(public_root.pem)
    (work / "pki" / "public-chain.pem").write_bytes(public_leaf.pem)
    (work / "pki" / "public.key").write_bytes(public_leaf.key_pem)

    servers = [
        TLSServer(files["chain-full.pem"], files["leaf.key"]),
        TLSServer(work / "pki" / "public-chain.pem", work / "pki" / "public.key"),
        TLSServer(files["chain-other.pem"], files["other.key"]),  # an attacker's certificate for orders-api
    ]
    for server in servers:
        server.__enter__()

    # Base images, as the official ones would be: the clients base trusts the "public" root.
    dockerd.import_rootfs(clients_rootfs, "imagelint-e2e/clients-rootfs:latest")
    dockerd.import_rootfs(java_rootfs, "imagelint-e2e/java-rootfs:latest")
    base_ctx = work / "base"
    base_ctx.mkdir()
    shutil.copy(work / "pki" / "public-root.crt", base_ctx / "public-root.crt")
    (base_ctx / "Dockerfile").write_text(
        "FROM imagelint-e2e/clients-rootfs:latest\n"
        "COPY public-root.crt /usr/local/share/ca-certificates/public-root.crt\n"
        "RUN update-ca-certificates\n"
    )
    result = dockerd.build(base_ctx, BASE)
    assert result.returncode == 0, result.stderr
    java_ctx = work / "java-base"
    java_ctx.mkdir()
    # Temurin-style: JAVA_HOME=/opt/java/openjdk with a cacerts file of its own (adoptium/containers Dockerfiles).
    (java_ctx / "Dockerfile").write_text(
        "FROM imagelint-e2e/java-rootfs:latest\n"
        "RUN jdk=$(dirname $(dirname $(readlink -f /usr/bin/java))) "
        "&& rm $jdk/lib/security/cacerts && cp /etc/ssl/certs/java/cacerts $jdk/lib/security/cacerts "
        "&& mkdir -p /opt/java && ln -s $jdk /opt/java/openjdk\n"
        "ENV JAVA_HOME=/opt/java/openjdk\n"
    )
    result = dockerd.build(java_ctx, JAVA_BASE)
    assert result.returncode == 0, result.stderr
    subprocess.run(["javac", "-d", str(work / "classes"), str(HERE / "clients" / "Client.java")], check=True)

    yield World(dockerd, work, pki, files, servers[0].port, servers[1].port, servers[2].port, servers)
    for server in servers:
        server.__exit__(None, None, None)
    if os.environ.get("IMAGELINT_E2E_TRANSCRIPT"):
        Path(os.environ["IMAGELINT_E2E_TRANSCRIPT"]).write_text("\n".join(TRANSCRIPT) + "\n")


@dataclass
class Scenario:
    name: str
    dockerfile: str
    client: list[str]  # the command that reaches orders-api ({orders}, {public}, {attacker} = ports)
    lint_categories: set[str]  # lint must report at least one of these
    scan_categories: set[str]  # scan must report at least one of these
    trust_runtime: str | None  # the runtime whose verdict must predict the failure
    error_text: str  # what the real client prints before the fix
    unsafe: bool = False
    extra_files: dict[str, str] = field(default_factory=dict)
    after_also: list[list[str]] = field(default_factory=list)  # more commands that must succeed after the fix
    before_must_succeed: bool = False  # (d): the insecure image "works"... even against an attacker
    after_must_fail: list[list[str]] = field(default_factory=list)


CURL = ["curl", "-sS", "--max-time", "10", "https://orders-api:{orders}/"]
NODE = ["node", "-e", "require('https').get('https://orders-api:{port}/', r => console.log('status', r.statusCode))"
        ".on('error', e => { console.error(e.code + ': ' + e.message); process.exit(1) })"]
PYTHON = ["python3", "-c", "import requests; print('status', requests.get('https://{host}:{port}/', timeout=10).status_code)"]

SCENARIOS = [
    Scenario(
        "a-not-registered",
        f"FROM {BASE}\nCOPY orders-root.crt /usr/local/share/ca-certificates/orders-root.crt\n",
        CURL, {"ca-not-registered"}, {"ca-not-registered"}, "openssl",
        "SSL certificate problem: unable to get local issuer certificate",
    ),
    Scenario(
        "b-pem-extension",
        f"FROM {BASE}\nCOPY orders-root.crt /usr/local/share/ca-certificates/orders-root.pem\nRUN update-ca-certificates\n",
        CURL, {"ca-wrong-ext-or-dir"}, {"ca-not-registered", "ca-wrong-ext-or-dir"}, "openssl",
        "SSL certificate problem: unable to get local issuer certificate",
    ),
    Scenario(
        "c-builder-stage-only",
        f"FROM {BASE} AS build\nCOPY orders-root.crt /usr/local/share/ca-certificates/orders-root.crt\n"
        "RUN update-ca-certificates && printf '#!/bin/sh\\nexec curl -sS --max-time 10 \"$@\"\\n' > /usr/local/bin/billing-client "
        "&& chmod +x /usr/local/bin/billing-client\n\n"
        f"FROM {BASE}\nCOPY --from=build /usr/local/bin/billing-client /usr/local/bin/billing-client\n"
        'CMD ["billing-client", "https://orders-api:8443/"]\n',
        ["billing-client", "https://orders-api:{orders}/"], {"ca-lost-multistage"}, set(), "openssl",
        "SSL certificate problem: unable to get local issuer certificate", unsafe=True,
    ),
    Scenario(
        "d-node-tls-reject-unauthorized",
        f"FROM {BASE}\nCOPY orders-root.crt /usr/local/share/ca-certificates/orders-root.crt\nRUN update-ca-certificates\n"
        "ENV NODE_TLS_REJECT_UNAUTHORIZED=0\n",
        [a.replace("{port}", "{attacker}") for a in NODE], {"insecure-env"}, {"insecure-env"}, None,
        "", unsafe=True, before_must_succeed=True,
        after_also=[[a.replace("{port}", "{orders}") for a in NODE]],
        after_must_fail=[[a.replace("{port}", "{attacker}") for a in NODE]],
    ),
    Scenario(
        "e-java-own-store",
        f"FROM {JAVA_BASE}\nCOPY orders-root.crt /usr/local/share/ca-certificates/orders-root.crt\nRUN update-ca-certificates\n"
        "COPY Client.class /app/Client.class\n",
        ["java", "-cp", "/app", "Client", "https://orders-api:{orders}/"], {"java-ca-missing"}, {"java-ca-missing"}, "java",
        "PKIX path building failed", unsafe=True,
    ),
    Scenario(
        "f-single-ca-requests-bundle",
        f"FROM {BASE}\nCOPY orders-root.crt /usr/local/share/ca-certificates/orders-root.crt\nRUN update-ca-certificates\n"
        "ENV REQUESTS_CA_BUNDLE=/usr/local/share/ca-certificates/orders-root.crt\n",
        [a.replace("{host}", "public-api").replace("{port}", "{public}") for a in PYTHON],
        {"env-bundle-replaces"}, set(), "python-requests", "CERTIFICATE_VERIFY_FAILED", unsafe=True,
        after_also=[[a.replace("{host}", "orders-api").replace("{port}", "{orders}") for a in PYTHON]],
    ),
]


def _fill(cmd: list[str], world: World) -> list[str]:
    return [c.replace("{orders}", str(world.orders_port)).replace("{public}", str(world.public_port))
            .replace("{attacker}", str(world.attacker_port)) for c in cmd]


def _categories(stdout: str) -> set[str]:
    return {f["category"] for f in json.loads(stdout)["findings"] if f.get("suppression") is None}


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_incident_loop(world: World, scenario: Scenario):
    ctx = world.work / scenario.name
    ctx.mkdir()
    shutil.copy(world.files["root.pem"], ctx / "orders-root.crt")
    shutil.copy(world.work / "classes" / "Client.class", ctx / "Client.class")
    dockerfile = ctx / "Dockerfile"
    dockerfile.write_text(scenario.dockerfile)
    tag = f"billing-{scenario.name}:broken"

    # 1. lint reports the problem.
    lint = imagelint("lint", str(dockerfile), "--format", "json")
    assert lint.returncode == 1, lint.stderr
    assert _categories(lint.stdout) & scenario.lint_categories, lint.stdout

    # 2. the build succeeds and the real client fails with its real error (or, for the insecure switch,
    #    "works" even against an attacker's certificate).
    world.build(ctx, tag)
    before = world.run_client(tag, *_fill(scenario.client, world))
    if scenario.before_must_succeed:
        assert before.returncode == 0, before.stderr
    else:
        assert before.returncode != 0, before.stdout
        assert scenario.error_text in before.stdout + before.stderr, before.stderr

    # 3. scan reports the same problem from the image.
    if scenario.scan_categories:
        scan = imagelint("scan", f"docker-daemon:{tag}", "--format", "json")
        assert scan.returncode == 1, scan.stdout + scan.stderr
        assert _categories(scan.stdout) & scenario.scan_categories, scan.stdout

    # 4. trust predicts the failure and its reason.
    if scenario.trust_runtime:
        host = "public-api" if scenario.name.startswith("f-") else "orders-api"
        port = world.public_port if host == "public-api" else world.orders_port
        trust = imagelint("trust", f"docker-daemon:{tag}", "--connect", f"127.0.0.1:{port}", "--host", host,
                          "--runtime", scenario.trust_runtime, "--format", "json")
        assert trust.returncode == 1, trust.stdout + trust.stderr
        verdicts = json.loads(trust.stdout)["verdicts"]
        assert verdicts and not any(v["trusted"] for v in verdicts), trust.stdout
        assert verdicts[0]["reason"] == "untrusted-root", trust.stdout

    # 5. fix --write patches the Dockerfile.
    fix_args = ["fix", "--write", str(dockerfile)] + (["--unsafe-fixes"] if scenario.unsafe else [])
    fixed = imagelint(*fix_args)
    assert fixed.returncode in (0, 1), fixed.stdout + fixed.stderr
    assert dockerfile.read_text() != scenario.dockerfile, fixed.stdout

    # 6. after a rebuild: lint is clean of the problem, the same client succeeds, scan and trust agree.
    lint_after = imagelint("lint", str(dockerfile), "--format", "json")
    assert not (_categories(lint_after.stdout) & scenario.lint_categories), lint_after.stdout
    fixed_tag = f"billing-{scenario.name}:fixed"
    world.build(ctx, fixed_tag)
    commands = [scenario.client] if not scenario.before_must_succeed else []
    for cmd in commands + scenario.after_also:
        after = world.run_client(fixed_tag, *_fill(cmd, world))
        assert after.returncode == 0, f"{cmd}: {after.stdout}{after.stderr}\n{dockerfile.read_text()}"
    for cmd in scenario.after_must_fail:
        after = world.run_client(fixed_tag, *_fill(cmd, world))
        assert after.returncode != 0, f"{cmd} must now reject the attacker: {after.stdout}"
    if scenario.scan_categories:
        scan = imagelint("scan", f"docker-daemon:{fixed_tag}", "--format", "json")
        assert not (_categories(scan.stdout) & scenario.scan_categories), scan.stdout
    if scenario.trust_runtime:
        trust = imagelint("trust", f"docker-daemon:{fixed_tag}", "--connect", f"127.0.0.1:{port}", "--host", host,
                          "--runtime", scenario.trust_runtime, "--format", "json")
        assert trust.returncode == 0, trust.stdout + trust.stderr


def test_expired_certificate_half(world: World, tmp_path):
    """orders-api serves a 1-day certificate that expired overnight; trust says so before any container runs."""
    expired = world.files["chain-expired.pem"]
    with TLSServer(expired, world.files["expired.key"]) as server:
        trust = imagelint("trust", f"docker-daemon:{BASE}", "--connect", f"127.0.0.1:{server.port}",
                          "--host", "orders-api", "--runtime", "openssl", "--format", "json")
    # The base image does not trust the orders root either; build one that does.
    ctx = tmp_path / "trusting"
    ctx.mkdir()
    shutil.copy(world.files["root.pem"], ctx / "orders-root.crt")
    (ctx / "Dockerfile").write_text(f"FROM {BASE}\nCOPY orders-root.crt /usr/local/share/ca-certificates/orders-root.crt\n"
                                    "RUN update-ca-certificates\n")
    world.build(ctx, "billing-expiry:latest")
    with TLSServer(expired, world.files["expired.key"]) as server:
        trust = imagelint("trust", "docker-daemon:billing-expiry:latest", "--connect", f"127.0.0.1:{server.port}",
                          "--host", "orders-api", "--runtime", "openssl", "--format", "json")
        run = world.run_client("billing-expiry:latest", "curl", "-sS", f"https://orders-api:{server.port}/")
    assert trust.returncode == 1, trust.stdout + trust.stderr
    verdict = json.loads(trust.stdout)["verdicts"][0]
    assert verdict["reason"] == "expired", verdict
    assert verdict["certificate"]["not_after"], verdict
    assert "certificate has expired" in run.stderr, run.stderr
    # Re-issue with 1 year validity: everything passes.
    renewed = make_cert("orders-api", world.pki.intermediate, dns=("orders-api",), ips=("127.0.0.1",),
                        not_before=NOW - DAY, not_after=NOW + 365 * DAY)
    chain = tmp_path / "renewed.pem"
    key = tmp_path / "renewed.key"
    chain.write_bytes(renewed.pem + world.pki.intermediate.pem)
    key.write_bytes(renewed.key_pem)
    with TLSServer(chain, key) as server:
        trust = imagelint("trust", "docker-daemon:billing-expiry:latest", "--connect", f"127.0.0.1:{server.port}",
                          "--host", "orders-api", "--runtime", "openssl", "--format", "json")
        run = world.run_client("billing-expiry:latest", "curl", "-sS", f"https://orders-api:{server.port}/")
    assert trust.returncode == 0, trust.stdout
    assert run.returncode == 0, run.stderr


def test_cluster_half(dockerd, clients_rootfs, tmp_path):
    """The incident as it happened in the cluster: billing's CA bundle is a mounted ConfigMap that lacks
    orders-api's CA, and orders-api's Secret holds a 1-day certificate that expired. lint reports both in
    one run; trust --workload over the image built on the real engine lists both causes; the real client in
    that image, with the ConfigMap's file mounted where the pod mounts it, fails as predicted; the fixes
    (CA appended to the ConfigMap, then a renewed certificate) make it work."""
    import base64
    import textwrap

    DOCKER_ENV["DOCKER_HOST"] = dockerd.host
    pki = make_pki("orders-api")
    old_ca = make_cert("payments old CA", ca=True)
    names = ("orders-api", "orders-api.payments", "orders-api.payments.svc", "orders-api.payments.svc.cluster.local")
    expired = make_cert("orders-api", pki.intermediate, dns=names, ips=("127.0.0.1",),
                        not_before=NOW - 2 * DAY, not_after=NOW - DAY)

    def manifests(leaf) -> str:
        return incident_manifests(old_ca.pem, leaf, leaf.pem + pki.intermediate.pem, pki.root.pem,
                                  client_image="billing-k8s:latest")

    k8s = tmp_path / "k8s.yaml"
    k8s.write_text(manifests(expired))
    dockerd.import_rootfs(clients_rootfs, "imagelint-e2e/clients-rootfs:latest")
    ctx = tmp_path / "billing"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM imagelint-e2e/clients-rootfs:latest\n")
    assert dockerd.build(ctx, "billing-k8s:latest").returncode == 0

    lint = imagelint("lint", str(k8s), "--format", "json")
    rules = {f["rule"] for f in json.loads(lint.stdout)["findings"]}
    assert {"IL605", "IL610"} <= rules, lint.stdout

    def serve_and_check(text: str):
        """(trust verdict of openssl, what the real client printed) with the Secret's files served."""
        secret = next(d for d in __import__("yaml").safe_load_all(text) if d["kind"] == "Secret")
        config = next(d for d in __import__("yaml").safe_load_all(text) if d["kind"] == "ConfigMap")
        served = tmp_path / "served"
        served.mkdir(exist_ok=True)
        (served / "tls.crt").write_bytes(base64.b64decode(secret["data"]["tls.crt"]))
        (served / "tls.key").write_bytes(base64.b64decode(secret["data"]["tls.key"]))
        mounted = tmp_path / "billing-ca"
        mounted.mkdir(exist_ok=True)
        (mounted / "ca.crt").write_text(config["data"]["ca.crt"])
        with TLSServer(served / "tls.crt", served / "tls.key") as server:
            trust = imagelint("trust", "--manifests", str(k8s), "--workload", "payments/deployment/billing",
                              "--image", "docker-daemon:billing-k8s:latest", "--host", "orders-api",
                              "--connect", f"127.0.0.1:{server.port}", "--runtime", "openssl", "--format", "json")
            client = dockerd.docker("run", "--rm", "--network", "host", "--add-host", "orders-api:127.0.0.1",
                                    "-v", f"{mounted}:/etc/billing-ca:ro", "-e", "SSL_CERT_FILE=/etc/billing-ca/ca.crt",
                                    "billing-k8s:latest", "python3", "-c",
                                    "import urllib.request; print(urllib.request.urlopen("
                                    f"'https://orders-api:{server.port}/', timeout=10).status)", check=False)
        return json.loads(trust.stdout)["verdicts"][0], client

    verdict, client = serve_and_check(k8s.read_text())
    assert {"untrusted-root", "expired"} <= set(verdict["reasons"]), verdict
    assert client.returncode != 0 and "unable to get local issuer certificate" in client.stderr, client.stderr

    fix = imagelint("fix", str(k8s), "--write", "--unsafe-fixes")
    assert "IL605" in fix.stdout, fix.stdout + fix.stderr
    verdict, client = serve_and_check(k8s.read_text())
    assert verdict["reasons"] == ["expired"], verdict
    assert client.returncode != 0 and "certificate has expired" in client.stderr, client.stderr

    renewed = make_cert("orders-api", pki.intermediate, dns=names, ips=("127.0.0.1",),
                        not_before=NOW - DAY, not_after=NOW + 365 * DAY)
    fixed_ca = next(d for d in __import__("yaml").safe_load_all(k8s.read_text()) if d["kind"] == "ConfigMap")
    text = manifests(renewed).replace(textwrap.indent(old_ca.pem.decode().strip(), "    "),
                                      textwrap.indent(fixed_ca["data"]["ca.crt"].strip(), "    "))
    k8s.write_text(text)
    verdict, client = serve_and_check(text)
    assert verdict["trusted"], verdict
    assert client.returncode == 0 and "200" in client.stdout, client.stderr
    lint = imagelint("lint", str(k8s), "--format", "json")
    assert not {"IL605", "IL610", "IL611"} & {f["rule"] for f in json.loads(lint.stdout)["findings"]}, lint.stdout


def test_orders_api_image_reported_before_deploy(world: World, tmp_path):
    """The server half: orders-api's image serves its 1-day certificate, expired, through nginx.
    `lint` says so from the build context and `scan` from the built image, before any container runs;
    the key baked next to it gets the mount-it-as-a-Secret fix."""
    ctx = tmp_path / "orders-api"
    ctx.mkdir()
    (ctx / "orders.conf").write_text(
        "server {\n    listen 8443 ssl;\n    server_name orders-api;\n"
        "    ssl_certificate     /etc/nginx/tls/orders.pem;\n    ssl_certificate_key /etc/nginx/tls/orders.key;\n}\n")
    (ctx / "nginx.conf").write_text("events {}\nhttp {\n    include /etc/nginx/conf.d/*.conf;\n}\n")
    shutil.copy(world.files["chain-expired.pem"], ctx / "orders.pem")
    shutil.copy(world.files["expired.key"], ctx / "orders.key")
    (ctx / "Dockerfile").write_text(f"FROM {BASE}\n"
                                    "COPY nginx.conf /etc/nginx/nginx.conf\n"
                                    "COPY orders.conf /etc/nginx/conf.d/orders.conf\n"
                                    "COPY orders.pem /etc/nginx/tls/orders.pem\n"
                                    "COPY orders.key /etc/nginx/tls/orders.key\n")
    lint = imagelint("lint", str(ctx / "Dockerfile"), "--format", "json")
    lint_rules = {f["rule"]: f for f in json.loads(lint.stdout)["findings"]}
    assert {"IL521", "IL522", "IL501"} <= set(lint_rules), lint.stdout
    assert lint_rules["IL521"]["line"] == 4 and "validity 1 day(s)" in lint_rules["IL521"]["message"]
    assert "kubernetes.io/tls" in lint_rules["IL501"]["message"]
    world.build(ctx, "orders-api:latest")
    scan = imagelint("scan", "docker-daemon:orders-api:latest", "--format", "json")
    findings = [f for f in json.loads(scan.stdout)["findings"] if f["rule"].startswith("IL8")]
    assert [(f["rule"], f["properties"]["problem"]) for f in findings] == [
        ("IL802", "expired"), ("IL803", "short-lived")], scan.stdout
    assert findings[0]["properties"]["config"] == "/etc/nginx/conf.d/orders.conf"
    assert findings[0]["properties"]["not_after"] == world.pki.expired_leaf.cert.not_valid_after_utc.isoformat()
    key = next(f for f in json.loads(scan.stdout)["findings"] if f["rule"] == "IL710")
    assert key["properties"]["server_key_of"].startswith("nginx (/etc/nginx/conf.d/orders.conf:")
