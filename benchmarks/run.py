"""Benchmark `imagelint lint` on the shared Dockerfile corpus, side by side with hadolint, and write
benchmarks/results/lint.md.

    python benchmarks/run.py [--files 400] [--corpus DIR] [--per-file-sample 100] [--cold-runs 15] [--output FILE]

It measures the checkout it sits in, or `--checkout DIR` (PYTHONPATH is set to it; the `imagelint`
console script only supplies the entry point), so a before/after is two runs of this one script.
Measured (wall and CPU time, each command in a fresh child process):
  - throughput: `--files` corpus files (evenly spread over the corpus, 400 by default as in issue 16;
    0 for all) linted by ONE `imagelint lint TREE -f json` call, in one process (--jobs 1) and with
    a worker per CPU (--jobs N), against
    hadolint given many files per invocation (batches as large as the argument limit allows) and
    hadolint run once per file (the way most editor/CI integrations call it), on the same files;
    imagelint once per file on the same per-file sample, for symmetry;
  - the parse floor: the BuildKit-port parser and the model (tree-sitter-bash included) alone over
    the same files, in one process: what a lint without checks would cost;
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
COLD_START_FILE = "docker-library__python/3.12__slim-bookworm__Dockerfile"  # long RUN scripts
SMALL_COLD_START_FILE = "CentOS__CentOS-Dockerfiles/Django__centos6__Dockerfile"  # three short RUN lines


# The parser and the model alone (what every lint pays before its checks), in one process.
PARSE_FLOOR = """
import sys
from imagelint.commands.inputs import read_source
from imagelint.dockerfile.model import build_model
from imagelint.dockerfile.parse import parse_dockerfile
for path in sys.argv[1:]:
    try:
        build_model(parse_dockerfile(read_source(path), path), {}, None)
    except Exception:
        pass  # the files BuildKit rejects: lint reports them as errors
"""


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


def _git_head(checkout: Path) -> str:
    proc = subprocess.run(["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(checkout), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    return (proc.stdout.strip() or "?") + (" (uncommitted changes)" if dirty else "")


def timed(command: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> tuple[float, subprocess.CompletedProcess]:
    """Wall seconds of one child; its CPU seconds are left in _CPU["total"] (2 shared CPUs: steadier)."""
    cpu_before = _children_cpu()
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env or _ENV)
    elapsed = time.perf_counter() - start
    _CPU["total"] = _children_cpu() - cpu_before
    return elapsed, proc


def copy_corpus(corpus: Path, tree: Path, count: int = 0) -> list[Path]:
    files = []
    sources = sorted(p for p in corpus.rglob("*") if p.is_file())
    picked = sample(sources, count) if count else sources
    for name in (COLD_START_FILE, SMALL_COLD_START_FILE):  # the cold-start files are always among them
        if (corpus / name).is_file() and corpus / name not in picked:
            picked[-1 if name == COLD_START_FILE else -2] = corpus / name
    for source in sorted(picked):
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
    parser.add_argument("--files", type=int, default=400, help="corpus files, evenly spread (0: all)")
    parser.add_argument("--checkout", type=Path, default=ROOT,
                        help="the imagelint checkout to measure (default: this one), e.g. another worktree for a before/after")
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
        _ENV["PYTHONPATH"] = str(args.checkout.resolve())  # whatever the console script was installed from
        no_bytecode_env = {k: v for k, v in _ENV.items() if k != "PYTHONPYCACHEPREFIX"}
        no_bytecode_env["PYTHONDONTWRITEBYTECODE"] = "1"
        tree = Path(tmp) / "corpus"
        files = copy_corpus(args.corpus, tree, args.files)
        total_bytes = sum(p.stat().st_size for p in files)
        print(f"{len(files)} Dockerfiles, {total_bytes / 1e6:.1f} MB", file=sys.stderr)

        # Throughput: imagelint, one process for the whole tree (after one run that writes the bytecode).
        report_path = Path(tmp) / "imagelint.json"
        timed([imagelint, "lint", str(files[0])], cwd=Path(tmp))
        # `imagelint lint` forks one worker per CPU for many files; --jobs 1 (IMAGELINT_JOBS=1 on
        # versions without --jobs) keeps one process: the like-for-like comparison with hadolint.
        il_time, proc = timed([imagelint, "lint", str(tree), "-f", "json", "-o", str(report_path)], cwd=Path(tmp),
                              env={**_ENV, "IMAGELINT_JOBS": "1"})
        il_cpu = _CPU["total"]
        jobs = os.cpu_count() or 1
        il_par_time, _ = timed([imagelint, "lint", str(tree), "-f", "json", "-o", str(report_path) + ".par"],
                               cwd=Path(tmp), env={**_ENV, "IMAGELINT_JOBS": str(jobs)})
        il_par_cpu = _CPU["total"]
        floor_time, floor_proc = timed([python, "-c", PARSE_FLOOR, *map(str, files)], cwd=Path(tmp))
        floor_cpu = _CPU["total"]
        if floor_proc.returncode != 0:
            raise SystemExit(f"parse floor run failed:\n{floor_proc.stderr[-3000:]}")
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
        small = tree / SMALL_COLD_START_FILE / "Dockerfile"
        if not small.exists():
            small = files[1]
        il_cold = median_ms([imagelint, "lint", str(one)], args.cold_runs, Path(tmp))
        hl_cold = median_ms([hadolint, "--no-fail", str(one)], args.cold_runs, Path(tmp))
        il_cold_small = median_ms([imagelint, "lint", str(small)], args.cold_runs, Path(tmp))
        hl_cold_small = median_ms([hadolint, "--no-fail", str(small)], args.cold_runs, Path(tmp))
        il_cold_nopyc = median_ms([imagelint, "lint", str(one)], args.cold_runs, Path(tmp), no_bytecode_env)
        il_help = median_ms([imagelint, "--version"], args.cold_runs, Path(tmp))
        py_site = median_ms([python, "-c", "pass"], args.cold_runs)
        py_nosite = median_ms([python, "-S", "-c", "pass"], args.cold_runs)
        py_isolated = median_ms([python, "-I", "-c", "pass"], args.cold_runs)
        cli_imports = import_times([python, "-X", "importtime", "-c", "import imagelint.cli"], 12)
        lint_imports = import_times([python, "-X", "importtime", "-m", "imagelint.cli", "lint", str(one)], 15)
        site_imports = import_times([python, "-X", "importtime", "-c", "pass"], 5)

    n = len(files)
    rate = lambda seconds, count=n: count / seconds  # noqa: E731
    hl_wall, hl_cpu = rate(hl_many_time), rate(hl_many_cpu)  # hadolint's best mode: many files per call

    def row(label: str, count: int, wall: float, cpu: float) -> str:
        return (f"| {label} | {count} | {wall:.2f} s | {cpu:.2f} s | {rate(wall, count):.0f} | {rate(cpu, count):.0f} | "
                f"{rate(wall, count) / hl_wall:.1f}x | {rate(cpu, count) / hl_cpu:.1f}x |")

    own_cold = (il_cold[0] - py_site[0], il_cold[2] - py_site[2])
    lines = [
        "# `imagelint lint` benchmark",
        "",
        f"Written by `python benchmarks/run.py --files {args.files}` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
        f"{env_note}; {hadolint_version}; imagelint from `{args.checkout.resolve().name}` at {_git_head(args.checkout)}.",
        f"Corpus: {n} Dockerfiles ({total_bytes / 1e6:.2f} MB) spread evenly over `{args.corpus.name}/`, "
        f"each copied to its own directory; imagelint could not parse {len(report['errors'])} "
        f"(reported as errors, as BuildKit rejects them too). Every figure below comes from this one run: "
        "the CPUs are shared with other work, so compare within the run, and prefer the CPU columns.",
        "",
        "## Goals (issue 16)",
        "",
        "| goal | measured (wall) | measured (CPU) |",
        "|---|---:|---:|",
        f"| cold one-file lint ≤ 3x hadolint (moonshot 2x): `one/Dockerfile` | **{il_cold[0] / hl_cold[0]:.2f}x** ({il_cold[0]:.0f} ms vs {hl_cold[0]:.0f} ms) "
        f"| **{il_cold[2] / hl_cold[2]:.2f}x** ({il_cold[2]:.0f} ms vs {hl_cold[2]:.0f} ms) |",
        f"| … of which imagelint's own (minus `python -c pass`, {py_site[0]:.0f} ms here) | {own_cold[0] / hl_cold[0]:.2f}x ({own_cold[0]:.0f} ms) "
        f"| {own_cold[1] / hl_cold[2]:.2f}x ({own_cold[1]:.0f} ms) |",
        f"| cold one-file lint: `small/Dockerfile` | **{il_cold_small[0] / hl_cold_small[0]:.2f}x** ({il_cold_small[0]:.0f} ms vs {hl_cold_small[0]:.0f} ms) "
        f"| **{il_cold_small[2] / hl_cold_small[2]:.2f}x** ({il_cold_small[2]:.0f} ms vs {hl_cold_small[2]:.0f} ms) |",
        f"| … of which imagelint's own | {(il_cold_small[0] - py_site[0]) / hl_cold_small[0]:.2f}x ({il_cold_small[0] - py_site[0]:.0f} ms) "
        f"| {(il_cold_small[2] - py_site[2]) / hl_cold_small[2]:.2f}x ({il_cold_small[2] - py_site[2]:.0f} ms) |",
        f"| throughput ≥ 25x hadolint, one process | **{rate(il_time) / hl_wall:.1f}x** | **{rate(il_cpu) / hl_cpu:.1f}x** |",
        f"| throughput with {jobs} workers (`--jobs {jobs}`) | **{rate(il_par_time) / hl_wall:.1f}x** | {rate(il_par_cpu) / hl_cpu:.1f}x |",
        f"| parse floor (parser + model, no checks) share of a one-process lint | {floor_time / il_time:.0%} | {floor_cpu / il_cpu:.0%} |",
        "",
        "hadolint's reference is its fastest mode, many files per call. Its runtime uses more than one CPU "
        "(compare its CPU and wall times).",
        "",
        "## Throughput (same files)",
        "",
        "| run | files | wall | CPU | files/s (wall) | files/s (CPU) | x hadolint (wall) | x hadolint (CPU) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        row("imagelint, one process (`IMAGELINT_JOBS=1 imagelint lint TREE -f json`, or `--jobs 1`)", n, il_time, il_cpu),
        row(f"imagelint, a worker per CPU (`IMAGELINT_JOBS={jobs}`, or `--jobs {jobs}`)", n, il_par_time, il_par_cpu),
        row("parse floor: parser + model only, one process", n, floor_time, floor_cpu),
        row(f"hadolint, many files per call ({len(batches(files))} calls)", n, hl_many_time, hl_many_cpu),
        row("hadolint, one call per file (sample)", len(picked), hl_each, hl_each_cpu),
        row("imagelint, one call per file (same sample)", len(picked), il_each, il_each_cpu),
        "",
        f"## Cold start ({args.cold_runs} runs each)",
        "",
        "| command | median wall | min wall | median CPU |",
        "|---|---:|---:|---:|",
        *[f"| {label} | {m[0]:.0f} ms | {m[1]:.0f} ms | {m[2]:.0f} ms |" for label, m in (
            ("`imagelint lint one/Dockerfile` (bytecode cached, as installed)", il_cold),
            ("`imagelint lint one/Dockerfile` (PYTHONDONTWRITEBYTECODE=1: no .pyc)", il_cold_nopyc),
            ("`hadolint one/Dockerfile`", hl_cold),
            ("`imagelint lint small/Dockerfile`", il_cold_small),
            ("`hadolint small/Dockerfile`", hl_cold_small),
            ("`imagelint --version` (the typer app)", il_help),
            ("`python -c pass` (interpreter + site)", py_site),
            ("`python -I -c pass` (isolated: no user site, no env)", py_isolated),
            ("`python -S -c pass` (no site: no .pth files)", py_nosite),
        )],
        "",
        f"`one/Dockerfile` is `{COLD_START_FILE}` (long RUN scripts: hadolint runs ShellCheck on each), "
        f"`small/Dockerfile` is `{SMALL_COLD_START_FILE}` (three short RUN lines). The interpreter alone costs "
        f"{py_site[0]:.0f} ms here, {py_site[0] - py_nosite[0]:.0f} ms of it in site (.pth files; on this machine one "
        "imports certifi, which no change to imagelint can remove). A plain `imagelint lint` imports neither "
        "typer/click nor rich, cryptography or yaml (`tests/test_cli_fast_path.py`).",
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
