"""Fleet scanning on a real registry: every image once per digest, sharded, merged, base layers read once.

A real docker-registry on loopback, behind htpasswd auth, holds 30+ images that share base layers,
some of them multi-platform. Three shard processes run in parallel on one layer cache; their merged
report equals a single-process run finding for finding, and the registry's own access log shows
each layer blob fetched once.
"""
from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

import imagekit as kit
from services import CA_ENV_VARS, require

USER, PASSWORD = "fleet", "shard-secret-31"


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.Popen([sys.executable, "-m", "imagelint.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def finish(proc) -> subprocess.CompletedProcess:
    out, err = proc.communicate(timeout=600)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def push(layout_ref: str, registry, target: str, all_images: bool = False) -> None:
    cmd = ["skopeo", "copy", "--quiet", "--dest-tls-verify=false", "--dest-creds", f"{USER}:{PASSWORD}",
           *(["--all"] if all_images else []), layout_ref, f"docker://{registry.host_port}/{target}"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def bases():
    expired = kit.make_ca("Expired Corp CA", days=-1, not_before_days=-30)[0]
    corp = kit.make_ca("Corp Root CA")[0]
    debian = kit.Layer().file("etc/os-release", "ID=debian\n").file("etc/ssl/certs/ca-certificates.crt", corp)
    alpine = kit.Layer().file("etc/os-release", "ID=alpine\n").file("etc/ssl/certs/ca-certificates.crt", corp)
    # a CA copied into the anchors but never registered: IL703 on every image built on it
    unregistered = (kit.Layer().file("etc/os-release", "ID=debian\n").file("etc/ssl/certs/ca-certificates.crt", corp)
                    .file("usr/local/share/ca-certificates/expired.crt", expired))
    return {"debian": debian, "alpine": alpine, "unregistered": unregistered}


@pytest.fixture(scope="module")
def fleet(tmp_path_factory, registry_factory):
    require("skopeo")
    work = tmp_path_factory.mktemp("fleet")
    registry = registry_factory(users={USER: PASSWORD},
                                extra_config={"log": {"level": "info", "accesslog": {"disabled": False}}})
    layers = bases()
    count = 0
    for number in range(10):
        base = list(layers.values())[number % 3]
        for version in range(3):
            app = kit.Layer().file(f"app/app-{number}-{version}.txt", f"{number}.{version}\n")
            env = ["PATH=/usr/bin:/bin"] + (["NODE_TLS_REJECT_UNAUTHORIZED=0"] if version == 2 else [])
            image = kit.Image([base, app], env=env)
            if number % 4 == 0:  # multi-platform: the same app for arm64 too
                arm = kit.Image([base, app], env=env, architecture="arm64")
                layout = kit.write_oci(work / f"oci-{number}-{version}", [image, arm], as_index=True)
                push(layout, registry, f"team{number % 2}/app{number}:1.{version}", all_images=True)
            else:
                layout = kit.write_oci(work / f"oci-{number}-{version}", image)
                push(layout, registry, f"team{number % 2}/app{number}:1.{version}")
            count += 1
        # a second tag naming the newest image: scanned once
        layout = kit.write_oci(work / f"oci-{number}-latest", kit.Image([base, kit.Layer().file(
            f"app/app-{number}-2.txt", f"{number}.2\n")], env=["PATH=/usr/bin:/bin", "NODE_TLS_REJECT_UNAUTHORIZED=0"]))
        push(layout, registry, f"team{number % 2}/app{number}:latest")
    assert count >= 30
    config = work / "docker-config"
    config.mkdir()
    auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    (config / "config.json").write_text(json.dumps({"auths": {registry.host_port: {"auth": auth}}}))
    env = {k: v for k, v in os.environ.items() if k not in CA_ENV_VARS and k != "JOB_COMPLETION_INDEX"}
    env.update(DOCKER_CONFIG=str(config), CI="true")
    return registry, env, work


def blob_gets(registry, since: int) -> Counter:
    log = (registry.root / "registry.log").read_text(errors="replace")[since:]
    return Counter(re.findall(r'"GET /v2/[^ ]+/blobs/(sha256:[0-9a-f]{64})', log))


def log_size(registry) -> int:
    return len((registry.root / "registry.log").read_text(errors="replace"))


def layer_digests(registry, env) -> set[str]:
    """Every layer blob the registry's images use (from their manifests, not from imagelint)."""
    from imagelint.image.fleet import list_fleet
    from imagelint.image.sources.remote import RegistryClient, RegistryOptions

    old = os.environ.get("DOCKER_CONFIG")
    os.environ["DOCKER_CONFIG"] = env["DOCKER_CONFIG"]
    try:
        client = RegistryClient(registry.host_port, RegistryOptions())
        digests = set()
        for image in list_fleet(registry.host_port, platform="all"):
            body, _, _ = client.manifest(image.repository, image.digest)
            digests.update(layer["digest"] for layer in json.loads(body)["layers"])
        return digests
    finally:
        if old is None:
            os.environ.pop("DOCKER_CONFIG")
        else:
            os.environ["DOCKER_CONFIG"] = old


def findings_of(report: dict) -> list[tuple]:
    return sorted((f["rule"], f["message"], f["properties"]["image_digest"], f["properties"].get("image_path") or "")
                  for f in report["findings"])


def test_sharded_fleet_scan_equals_one_process_and_reads_each_layer_once(fleet, tmp_path):
    registry, env, _work = fleet
    root = f"docker://{registry.host_port}/"
    common = ["scan", root, "--all", "--platform", "all", "-f", "json", "--no-progress"]

    start = log_size(registry)
    single = finish(cli(*common, "--cache-dir", str(tmp_path / "single-cache"), "-o", str(tmp_path / "single.json"),
                        env=env))
    assert single.returncode == 1, single.stderr  # findings: the unregistered CA, NODE_TLS_REJECT_UNAUTHORIZED
    single_gets = blob_gets(registry, start)
    layers = layer_digests(registry, env)
    assert {d: n for d, n in single_gets.items() if d in layers} == {d: 1 for d in layers}  # each layer read once
    report = json.loads((tmp_path / "single.json").read_text())
    digests = {f["properties"]["image_digest"] for f in report["findings"]}
    assert len(digests) >= 10

    start = log_size(registry)
    shards = [cli(*common, "--shard", f"{i}/3", "--cache-dir", str(tmp_path / "shared-cache"),
                  "-o", str(tmp_path / f"shard-{i}.json"), env=env) for i in (1, 2, 3)]
    results = [finish(p) for p in shards]
    assert all(r.returncode in (0, 1) for r in results), [r.stderr for r in results]
    shard_gets = blob_gets(registry, start)
    assert {d: n for d, n in shard_gets.items() if d in layers} == {d: 1 for d in layers}  # once across 3 processes

    merged = subprocess.run([sys.executable, "-m", "imagelint.cli", "merge",
                             *[str(tmp_path / f"shard-{i}.json") for i in (1, 2, 3)]],
                            capture_output=True, text=True, env=env, timeout=120)
    assert merged.returncode == 0, merged.stderr
    assert findings_of(json.loads(merged.stdout)) == findings_of(report)
    parts = [json.loads((tmp_path / f"shard-{i}.json").read_text()) for i in (1, 2, 3)]
    assert sum(len(p["findings"]) for p in parts) == len(report["findings"])  # a partition: no image twice


def test_indexed_job_index_and_progress(fleet, tmp_path):
    registry, env, _work = fleet
    root = f"docker://{registry.host_port}/"
    seen = []
    for index in range(2):
        job_env = {**env, "JOB_COMPLETION_INDEX": str(index)}
        job_env.pop("CI")
        result = finish(cli("scan", root, "--all", "--shards", "2", "--progress", "-f", "json", "--no-progress",
                            "--repo-glob", "team0/*", "--tag-glob", "1.*", "--cache-dir", str(tmp_path / "c"),
                            env=job_env))
        assert result.returncode in (0, 1), result.stderr
        lines = [line for line in result.stderr.splitlines() if re.match(r"imagelint: \[\d+/\d+\]", line)]
        seen.append(len(lines))
        assert all("/team0/" in line for line in lines)
    assert sum(seen) == 15  # 5 repositories of team0, tags 1.0-1.2; the index picks this machine's platform
    quiet = finish(cli("scan", root, "--all", "--progress", "-f", "json", "--repo-glob", "team0/app0",
                       "--cache-dir", str(tmp_path / "c"), env=env))  # CI=true: no progress lines
    assert "imagelint: [" not in quiet.stderr
    needs_all = finish(cli("scan", root, env=env))
    assert needs_all.returncode == 2 and "--all" in needs_all.stderr


def test_merge_refuses_what_it_cannot_read(tmp_path):
    (tmp_path / "a.json").write_text("{}")
    (tmp_path / "b.txt").write_text("not json")
    for name in ("a.json", "b.txt", "missing.json"):
        result = subprocess.run([sys.executable, "-m", "imagelint.cli", "merge", str(tmp_path / name)],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 2 and name in result.stderr and "Traceback" not in result.stderr


DEPLOY = Path(__file__).resolve().parent.parent / "deploy"


def test_deploy_manifests_pass_the_kubernetes_schemas():
    import yaml

    kubernetes_validate = pytest.importorskip("kubernetes_validate") if not os.environ.get("CI") else \
        __import__("kubernetes_validate")
    documents = [doc for path in sorted((DEPLOY / "kubernetes").glob("*.yaml"))
                 for doc in yaml.safe_load_all(path.read_text()) if doc]
    assert {d["kind"] for d in documents} >= {"CronJob", "PersistentVolumeClaim"}
    for document in documents:
        kubernetes_validate.validate(document, "1.30", strict=True)
    scan = next(d for d in documents if d["metadata"]["name"] == "imagelint-fleet-scan")["spec"]["jobTemplate"]["spec"]
    assert scan["completionMode"] == "Indexed" and scan["completions"] == scan["parallelism"]
    args = scan["template"]["spec"]["containers"][0]["args"]
    assert f"--shards={scan['completions']}" in args


def test_workflow_pins_every_action_by_commit():
    import yaml

    workflow = yaml.safe_load((DEPLOY / "github" / "fleet-scan.yml").read_text())
    uses = [step["uses"] for job in workflow["jobs"].values() for step in job["steps"] if "uses" in step]
    assert uses and all(re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", u) for u in uses), uses
    assert workflow["jobs"]["scan"]["strategy"]["matrix"]["shard"] == [1, 2, 3]
