"""Benchmark fleet scanning on a real loopback registry: images/s with 1 and 3 shards, and the
layer cache's hit rate, and write benchmarks/results/fleet.md.

    python benchmarks/fleet.py [--images 40] [--output benchmarks/results/fleet.md]

The registry (Debian's docker-registry, htpasswd auth) holds `--images` images built on four base
layers of 8 MB each (incompressible, as real binaries mostly are), each with its own small app
layer. Runs, each from a cold cache: one process over the whole registry; three `--shard I/3`
processes at once over one shared cache. The registry's access log counts the blob fetches.
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

USER, PASSWORD = "bench", "fleet-bench-42"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=40)
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "results" / "fleet.md"))
    args = parser.parse_args()

    import imagekit as kit
    from services import CA_ENV_VARS, RegistryFactory

    work = Path(tempfile.mkdtemp(prefix="imagelint-fleet-bench-"))
    registries = RegistryFactory(work)
    try:
        registry = registries(users={USER: PASSWORD},
                              extra_config={"log": {"level": "info", "accesslog": {"disabled": False}}})
        corp = kit.make_ca("Corp Root CA")[0]
        bases = [kit.Layer().file("etc/os-release", "ID=debian\n").file("etc/ssl/certs/ca-certificates.crt", corp)
                 .file(f"usr/lib/base-{i}.so", os.urandom(8 * 1024 * 1024)) for i in range(4)]
        print(f"pushing {args.images} images ...", flush=True)
        for n in range(args.images):
            app = kit.Layer().file(f"app/{n}.txt", f"{n}\n")
            layout = kit.write_oci(work / f"oci-{n}", kit.Image([bases[n % 4], app]))
            subprocess.run(["skopeo", "copy", "--quiet", "--dest-tls-verify=false", "--dest-creds",
                            f"{USER}:{PASSWORD}", layout, f"docker://{registry.host_port}/app{n}:1"],
                           check=True, capture_output=True)
            shutil.rmtree(work / f"oci-{n}")
        config = work / "docker"
        config.mkdir()
        auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        (config / "config.json").write_text(json.dumps({"auths": {registry.host_port: {"auth": auth}}}))
        env = {k: v for k, v in os.environ.items() if k not in CA_ENV_VARS}
        env.update(DOCKER_CONFIG=str(config), CI="true", PYTHONPYCACHEPREFIX=str(work / "pycache"))
        scan = [sys.executable, "-m", "imagelint.cli", "scan", f"docker://{registry.host_port}/", "--all",
                "-f", "json", "--no-progress"]
        log = registry.root / "registry.log"

        def fetches(since: int) -> Counter:
            return Counter(re.findall(r'"GET /v2/[^ ]+/blobs/(sha256:[0-9a-f]{64})', log.read_text()[since:]))

        subprocess.run(scan + ["--no-cache", "--repo-glob", "app0"], env=env, capture_output=True)  # bytecode

        rows = {}
        for label, shards in (("1 process", 1), ("3 shards in parallel", 3)):
            cache = work / f"cache-{shards}"
            since = len(log.read_text())
            start = time.perf_counter()
            procs = [subprocess.Popen(scan + ["--cache-dir", str(cache)] + (["--shard", f"{i}/{shards}"] if shards > 1
                                                                              else []),
                                      env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                     for i in range(1, shards + 1)]
            for proc in procs:
                _, err = proc.communicate()
                if proc.returncode not in (0, 1):
                    raise SystemExit(err.decode(errors="replace")[-2000:])
            wall = time.perf_counter() - start
            got = fetches(since)
            layer_fetches = sum(got.values()) - args.images  # one config blob per image
            references = 2 * args.images  # base + app layer per image
            rows[shards] = {"label": label, "wall": wall, "rate": args.images / wall,
                            "fetches": layer_fetches, "hit_rate": 1 - layer_fetches / references}
            print(f"{label:<24} {wall:6.2f} s  {args.images / wall:6.1f} images/s  layer blobs fetched "
                  f"{layer_fetches} of {references} references (hit rate {rows[shards]['hit_rate']:.0%})", flush=True)
    finally:
        registries.stop_all()
        shutil.rmtree(work, ignore_errors=True)
    speedup = rows[1]["wall"] / rows[3]["wall"]
    lines = [
        "# Fleet scan benchmark",
        "",
        f"{args.images} images on a loopback docker-registry (htpasswd auth), built on 4 base layers of 8 MB "
        "each plus one small app layer each; every run starts from an empty layer cache. "
        f"Machine: {os.cpu_count()} CPUs, shared. Produced by `python benchmarks/fleet.py`.",
        "",
        "| run | wall (s) | images/s | layer blobs fetched | layer cache hit rate |",
        "|---|---:|---:|---:|---:|",
        *[f"| {r['label']} | {r['wall']:.2f} | {r['rate']:.1f} | {r['fetches']} of {2 * args.images} | "
          f"{r['hit_rate']:.0%} |" for r in rows.values()],
        "",
        f"Speed-up from 1 to 3 shards: {speedup:.2f}x. Each layer blob is fetched once in both runs: the shards "
        "share the cache directory and wait for the one reading a layer.",
        "",
    ]
    Path(args.output).write_text("\n".join(lines))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
