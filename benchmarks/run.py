"""Benchmark `imagelint lint` on the shared Dockerfile corpus, side by side with hadolint, and write
benchmarks/results/lint.md.

    python benchmarks/run.py [--corpus DIR] [--per-file-sample 100] [--cold-runs 15] [--output FILE]

Measured (wall time, each command in a fresh child process):
  - throughput: every corpus file linted by ONE `imagelint lint TREE -f json` call, in one process
    (IMAGELINT_JOBS=1) and with its default worker per CPU, against
    hadolint given many files per invocation (batches as large as the argument limit allows) and
    hadolint run once per file (the way most editor/CI integrations call it), on the same files;
    imagelint once per file on the same per-file sample, for symmetry;
  - cold start: `imagelint lint one/Dockerfile` vs `hadolint one/Dockerfile`, median of N runs
    (both called through their real executables, not the pyenv shims, which add a bash script);
  - bytecode: this machine sets PYTHONDONTWRITEBYTECODE=1; runs use a bytecode cache in the temporary
    directory (PYTHONPYCACHEPREFIX), as an installed package has, and cold start is also measured without;
  - the Python interpreter's own start-up on this machine, with and without site (site imports
    certifi through a .pth file here), and `python -X importtime` top entries for `imagelint.cli`
    and for a whole `imagelint lint` run.
The corpus files are copied to a temporary tree, one directory per file named `Dockerfile`, so each
file has its own (empty) build context, as a real project has; the temporary tree is removed.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus" / "dockerfiles"
COLD_START_FILE = "docker-library__python/3.12__slim-bookworm__Dockerfile"


def real_executable(name: str) -> str:
    """The executable itself, not a pyenv shim (a bash script that costs tens of milliseconds)."""
    found = shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} not found on PATH")
    if "/shims/" in found and shutil.which("pyenv"):
        proc = subprocess.run(["pyenv", "which", name], capture_output=True, text=True)
        if proc.returncode == 0 and proc.stdout.strip():
            return proc.stdout.strip()
    return found


_CPU = {"total": 0.0}  # CPU seconds (user + system) of the last timed() child


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


_ENV: dict[str, str] = dict(os.environ)  # set in main(): bytecode cached in a temporary directory


def timed(command: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> tuple[float, subprocess.CompletedProcess]:
    """Wall seconds of one child; its CPU seconds are left in _CPU["total"] (2 shared CPUs: steadier)."""
    cpu_before = _children_cpu()
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env or _ENV)
    elapsed = time.perf_counter() - start
    _CPU["total"] = _children_cpu() - cpu_before
    return elapsed, proc


def copy_corpus(corpus: Path, tree: Path) -> list[Path]:
    files = []
    for source in sorted(p for p in corpus.rglob("*") if p.is_file()):
        target_dir = tree / source.parent.name / source.name
        target_dir.mkdir(parents=True)
        target = target_dir / "Dockerfile"
        shutil.copyfile(source, target)
        files.append(target)
    return files


def batches(files: list[Path], limit: int = 100_000) -> list[list[str]]:
    """Split a file list so each command line stays well under ARG_MAX."""
    out, current, size = [], [], 0
    for path in map(str, files):
        if current and size + len(path) + 1 > limit:
            out.append(current)
            current, size = [], 0
        current.append(path)
        size += len(path) + 1
    if current:
        out.append(current)
    return out


def sample(files: list[Path], n: int) -> list[Path]:
    if n >= len(files):
        return list(files)
    step = len(files) / n
    return [files[int(i * step)] for i in range(n)]


def import_times(command: list[str], top: int) -> list[tuple[int, str]]:
    """(cumulative microseconds, module) for the slowest imports of `python -X importtime ...`."""
    proc = subprocess.run(command, capture_output=True, text=True, env=_ENV)
    rows = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _self_us, cumulative, name = line.split(":", 1)[1].split("|")
        rows.append((int(cumulative), name.strip()))
    return sorted(rows, reverse=True)[:top]


def median_ms(command: list[str], runs: int, cwd: Path | None = None, env: dict[str, str] | None = None) -> tuple[float, float, float]:
    """(median wall ms, min wall ms, median CPU ms)."""
    timed(command, cwd, env)  # warm the page cache (and write the bytecode cache)
    walls, cpus = [], []
    for _ in range(runs):
        walls.append(timed(command, cwd, env)[0] * 1000)
        cpus.append(_CPU["total"] * 1000)
    return statistics.median(walls), min(walls), statistics.median(cpus)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--per-file-sample", type=int, default=100, help="files for the once-per-file runs")
    parser.add_argument("--cold-runs", type=int, default=15)
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "lint.md")
    args = parser.parse_args()
    if not args.corpus.is_dir():
        raise SystemExit(f"corpus not found: {args.corpus}")

    imagelint = real_executable("imagelint")
    hadolint = real_executable("hadolint")
    hadolint_version = subprocess.run([hadolint, "--version"], capture_output=True, text=True).stdout.strip()
    python = sys.executable
    env_note = f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs"

    with tempfile.TemporaryDirectory(prefix="imagelint-bench-") as tmp:
        # An installed package has its bytecode cached; this machine sets PYTHONDONTWRITEBYTECODE=1,
        # which makes every run recompile imagelint's sources. Cache it in the temporary directory
        # (never in the source tree), and measure the uncached cold start separately.
        _ENV.pop("PYTHONDONTWRITEBYTECODE", None)
        _ENV["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        no_bytecode_env = {k: v for k, v in os.environ.items() if k != "PYTHONPYCACHEPREFIX"}
        no_bytecode_env["PYTHONDONTWRITEBYTECODE"] = "1"
        tree = Path(tmp) / "corpus"
        files = copy_corpus(args.corpus, tree)
        total_bytes = sum(p.stat().st_size for p in files)
        print(f"{len(files)} Dockerfiles, {total_bytes / 1e6:.1f} MB", file=sys.stderr)

        # Throughput: imagelint, one process for the whole tree.
        report_path = Path(tmp) / "imagelint.json"
        # `imagelint lint` forks one worker per CPU for many files; IMAGELINT_JOBS=1 keeps one process,
        # which is the like-for-like comparison with (single-threaded) hadolint.
        il_time, proc = timed([imagelint, "lint", str(tree), "-f", "json", "-o", str(report_path)], cwd=Path(tmp),
                              env={**_ENV, "IMAGELINT_JOBS": "1"})
        il_cpu = _CPU["total"]
        il_par_time, _ = timed([imagelint, "lint", str(tree), "-f", "json", "-o", str(report_path) + ".par"], cwd=Path(tmp))
        il_par_cpu = _CPU["total"]
        if proc.returncode not in (0, 1, 2) or not report_path.exists():
            raise SystemExit(f"imagelint failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        report = json.loads(report_path.read_text())
        il_files = len(files) - len(report["errors"])
        print(f"imagelint one process: {il_time:.1f} s", file=sys.stderr)

        # hadolint, many files per invocation.
        hl_many_time = hl_many_cpu = 0.0
        for batch in batches(files):
            elapsed, proc = timed([hadolint, "--no-fail", "-f", "json", *batch], cwd=Path(tmp))
            hl_many_time += elapsed
            hl_many_cpu += _CPU["total"]
        print(f"hadolint many files per call: {hl_many_time:.1f} s", file=sys.stderr)

        # Once per file, on the same sample for both tools.
        picked = sample(files, args.per_file_sample)
        hl_each = hl_each_cpu = il_each = il_each_cpu = 0.0
        for p in picked:
            hl_each += timed([hadolint, "--no-fail", "-f", "json", str(p)], cwd=Path(tmp))[0]
            hl_each_cpu += _CPU["total"]
            il_each += timed([imagelint, "lint", str(p), "-f", "json"], cwd=Path(tmp))[0]
            il_each_cpu += _CPU["total"]
        print(f"per file ({len(picked)}): hadolint {hl_each:.1f} s, imagelint {il_each:.1f} s", file=sys.stderr)

        # Cold start on one file.
        one = tree / COLD_START_FILE / "Dockerfile"
        if not one.exists():
            one = files[0]
        il_cold = median_ms([imagelint, "lint", str(one)], args.cold_runs, Path(tmp))
        hl_cold = median_ms([hadolint, "--no-fail", str(one)], args.cold_runs, Path(tmp))
        il_cold_nopyc = median_ms([imagelint, "lint", str(one)], args.cold_runs, Path(tmp), no_bytecode_env)
        il_help = median_ms([imagelint, "--version"], args.cold_runs, Path(tmp))
        py_site = median_ms([python, "-c", "pass"], args.cold_runs)
        py_nosite = median_ms([python, "-S", "-c", "pass"], args.cold_runs)
        py_isolated = median_ms([python, "-I", "-c", "pass"], args.cold_runs)
        cli_imports = import_times([python, "-X", "importtime", "-c", "import imagelint.cli"], 12)
        lint_imports = import_times([python, "-X", "importtime", "-m", "imagelint.cli", "lint", str(one)], 15)
        site_imports = import_times([python, "-X", "importtime", "-c", "pass"], 5)

    il_rate = il_files / il_time
    hl_many_rate = len(files) / hl_many_time
    hl_each_rate = len(picked) / hl_each
    il_each_rate = len(picked) / il_each
    lines = [
        "# `imagelint lint` benchmark",
        "",
        f"Written by `python benchmarks/run.py` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
        f"{env_note}; {hadolint_version}.",
        f"Corpus: {len(files)} Dockerfiles ({total_bytes / 1e6:.1f} MB) from `{args.corpus.name}/`, "
        f"each copied to its own directory; imagelint could not parse {len(report['errors'])} "
        f"(reported as errors, as BuildKit rejects them too).",
        "",
        "## Throughput (same files)",
        "",
        "| run | files | wall time | CPU time | files/s (wall) | imagelint ÷ this (wall) | files/s (CPU) | imagelint ÷ this (CPU) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        f"| imagelint, one process (`IMAGELINT_JOBS=1 imagelint lint TREE -f json`) | {len(files)} | {il_time:.1f} s | {il_cpu:.1f} s | {il_rate:.1f} | 1.0x | {len(files) / il_cpu:.1f} | 1.0x |",
        f"| imagelint, one call, a worker per CPU (`imagelint lint TREE -f json`) | {len(files)} | {il_par_time:.1f} s | {il_par_cpu:.1f} s | {len(files) / il_par_time:.1f} | {il_rate / (len(files) / il_par_time):.2f}x | {len(files) / il_par_cpu:.1f} | {il_par_cpu / il_cpu:.2f}x |",
        f"| hadolint, many files per call ({len(batches(files))} calls) | {len(files)} | {hl_many_time:.1f} s | {hl_many_cpu:.1f} s | {hl_many_rate:.1f} | {il_rate / hl_many_rate:.2f}x | {len(files) / hl_many_cpu:.1f} | {hl_many_cpu / il_cpu:.2f}x |",
        f"| hadolint, one call per file (sample) | {len(picked)} | {hl_each:.1f} s | {hl_each_cpu:.1f} s | {hl_each_rate:.1f} | {il_rate / hl_each_rate:.2f}x | {len(picked) / hl_each_cpu:.1f} | {(hl_each_cpu / len(picked)) / (il_cpu / len(files)):.2f}x |",
        f"| imagelint, one call per file (same sample) | {len(picked)} | {il_each:.1f} s | {il_each_cpu:.1f} s | {il_each_rate:.1f} | {il_rate / il_each_rate:.2f}x | {len(picked) / il_each_cpu:.1f} | {(il_each_cpu / len(picked)) / (il_cpu / len(files)):.2f}x |",
        "",
        f"Goal from the issue: at least 20x hadolint's files/s. Measured (wall): **{il_rate / hl_each_rate:.1f}x** hadolint "
        f"called per file, **{il_rate / hl_many_rate:.1f}x** hadolint given many files per call "
        f"({1000 / il_rate:.1f} ms per file for imagelint in one process). With a worker per CPU ({os.cpu_count()} here), "
        f"one `imagelint lint` call reaches {len(files) / il_par_time:.0f} files/s: "
        f"**{len(files) / il_par_time / hl_each_rate:.1f}x** hadolint per file, "
        f"**{len(files) / il_par_time / hl_many_rate:.1f}x** hadolint with many files (hadolint's runtime also uses more than one CPU: compare its CPU and wall times). "
        f"The CPUs are shared with other work, so CPU time is the steadier figure.",
        "",
        f"## Cold start ({args.cold_runs} runs each)",
        "",
        "| command | median wall | min wall | median CPU |",
        "|---|---:|---:|---:|",
        *[f"| {label} | {m[0]:.0f} ms | {m[1]:.0f} ms | {m[2]:.0f} ms |" for label, m in (
            ("`imagelint lint one/Dockerfile` (bytecode cached, as installed)", il_cold),
            ("`imagelint lint one/Dockerfile` (PYTHONDONTWRITEBYTECODE=1: no .pyc)", il_cold_nopyc),
            ("`hadolint one/Dockerfile`", hl_cold),
            ("`imagelint --version`", il_help),
            ("`python -c pass` (interpreter + site)", py_site),
            ("`python -I -c pass` (isolated: no user site, no env)", py_isolated),
            ("`python -S -c pass` (no site: no .pth files)", py_nosite),
        )],
        "",
        f"`one/Dockerfile` is `{COLD_START_FILE}`. Goal: near hadolint's. The interpreter alone costs "
        f"{py_site[0]:.0f} ms here, {py_site[0] - py_nosite[0]:.0f} ms of it in site (.pth files; one imports certifi).",
        "",
        "### Slowest imports: `python -X importtime -c 'pass'` (site only)",
        "",
        "| cumulative | module |",
        "|---:|---|",
        *[f"| {us / 1000:.1f} ms | `{name}` |" for us, name in site_imports],
        "",
        "### Slowest imports: `python -X importtime -c 'import imagelint.cli'`",
        "",
        "| cumulative | module |",
        "|---:|---|",
        *[f"| {us / 1000:.1f} ms | `{name}` |" for us, name in cli_imports],
        "",
        "### Slowest imports during `imagelint lint one/Dockerfile`",
        "",
        "| cumulative | module |",
        "|---:|---|",
        *[f"| {us / 1000:.1f} ms | `{name}` |" for us, name in lint_imports],
        "",
    ]
    text = "\n".join(lines)
    print(text)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    print(f"written to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
