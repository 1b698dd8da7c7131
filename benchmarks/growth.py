"""Growth benchmark: `imagelint lint` time and peak memory against Dockerfile size, and the hostile
files of issue 18. Each run is a fresh process under a 2 GB address-space cap and a time limit, so
a regression shows up as a number here, not as a dead CI runner.

    PYTHONPATH=. python benchmarks/growth.py            # markdown table on stdout
    PYTHONPATH=. python benchmarks/growth.py --quick    # 1k and 10k lines only

CPU seconds (user+sys) are reported next to wall time: on a shared machine they are the stable figure.
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MEMORY_CAP = 2 * 1024 ** 3
TIME_LIMIT = 120

_MIXED = [
    "RUN apt-get update && apt-get install -y --no-install-recommends curl ca-certificates",
    "RUN curl -fsSL https://example.com/tool-{i}.tgz | tar -xz -C /opt",
    "ENV PATH=/opt/tool{i}/bin:$PATH",
    "COPY conf/{i}.conf /etc/app/{i}.conf",
    "RUN echo {i} > /tmp/marker-{i} && rm -f /tmp/marker-{i}",
    "WORKDIR /srv/{i}",
    "ARG VERSION_{i}=1.{i}",
    "RUN pip install --no-cache-dir package-{i}==${{VERSION_{i}}}",
    "# comment {i}",
    "LABEL org.example.step{i}=yes",
]


def mixed(lines: int) -> str:
    body = [_MIXED[i % len(_MIXED)].format(i=i) for i in range(lines - 1)]
    return "FROM debian:12\n" + "\n".join(body) + "\n"


def run_true(lines: int) -> str:
    return "FROM alpine\n" + "RUN true\n" * (lines - 1)


def doubling(kind: str) -> str:
    return "\n".join(["FROM alpine", f"{kind} A=x"] + [f"{kind} A=${{A}}${{A}}"] * 40 + ["RUN curl $A"]) + "\n"


def chained_stages(n: int) -> str:
    return "FROM alpine AS s0\n" + "".join(f"FROM s{i} AS s{i + 1}\n" for i in range(n))


def heredocs(n: int) -> str:
    return ("FROM alpine\nRUN " + " ".join(f"<<E{i}" for i in range(n)) + " cat\n"
            + "".join(f"x\nE{i}\n" for i in range(n)))


def and_chain(n: int) -> str:
    return "FROM alpine\nRUN " + " && ".join(["curl -k https://example.com/x"] * n) + "\n"


def cases(quick: bool) -> list[tuple[str, str]]:
    sizes = [1_000, 10_000] if quick else [1_000, 10_000, 100_000]
    out = [(f"{n:,} lines, mixed instructions", mixed(n)) for n in sizes]
    out += [(f"{n:,} lines of `RUN true`", run_true(n)) for n in sizes]
    out += [
        ("`ARG A=${A}${A}` 40 times", doubling("ARG")),
        ("`ENV A=${A}${A}` 40 times", doubling("ENV")),
        ("5,000 chained stages", chained_stages(5_000)),
        ("10,000 heredocs in one RUN", heredocs(10_000)),
        ("2,000 `&&` commands in one RUN", and_chain(2_000)),
    ]
    return out


def _cap() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def measure(text: str) -> dict:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "Dockerfile"
        path.write_text(text)
        code = ("import resource, runpy, sys\n"
                "sys.argv = ['imagelint', 'lint', sys.argv[1]]\n"
                "try:\n    runpy.run_module('imagelint.cli', run_name='__main__')\n"
                "finally:\n"
                "    u = resource.getrusage(resource.RUSAGE_SELF)\n"
                "    sys.stderr.write(f'\\nRUSAGE {u.ru_utime + u.ru_stime} {u.ru_maxrss}\\n')\n")
        env = dict(os.environ, PYTHONPATH=str(ROOT), IMAGELINT_JOBS="1")
        start = time.monotonic()
        try:
            r = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, env=env,
                               timeout=TIME_LIMIT, preexec_fn=_cap)
        except subprocess.TimeoutExpired:
            return {"exit": f"killed after {TIME_LIMIT} s", "wall": TIME_LIMIT, "cpu": None, "mb": None, "note": ""}
        wall = time.monotonic() - start
        cpu = mb = None
        for line in r.stderr.splitlines():
            if line.startswith("RUSAGE "):
                _, cpu_s, rss = line.split()
                cpu, mb = float(cpu_s), int(rss) // 1024
        notes = [line for line in (r.stdout + r.stderr).splitlines() if "error:" in line]
        traceback = "Traceback" in r.stderr
        return {"exit": r.returncode, "wall": wall, "cpu": cpu, "mb": mb,
                "note": "traceback" if traceback else (notes[0].split("error: ", 1)[-1][:90] if notes else "")}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    print("| input | size | exit | wall s | CPU s | peak MB | note |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for name, text in cases(args.quick):
        m = measure(text)
        cpu = f"{m['cpu']:.2f}" if m["cpu"] is not None else "-"
        mb = m["mb"] if m["mb"] is not None else "-"
        size = f"{len(text.encode()) / 1024:,.0f} KB"
        print(f"| {name} | {size} | {m['exit']} | {m['wall']:.2f} | {cpu} | {mb} | {m['note']} |", flush=True)


if __name__ == "__main__":
    main()
