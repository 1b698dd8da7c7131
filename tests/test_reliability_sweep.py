"""Hostile inputs of an adversarial sweep (issue 18) across lint, fix, expiry and trust, each in a
capped process: exit 0, 1 or 2, no traceback, within seconds; an error is one line naming the file.
The first group broke before (a 1M-line .dockerignore took 54 s, JSON 100k deep crashed libyaml
with a segfault, deep block YAML raised UnboundLocalError, a FIFO as --config hung); the rest are
kept so they stay fixed."""
from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

import pki

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ("FROM debian:12\nRUN apt-get update && apt-get install -y ca-certificates\n"
              "COPY corp.crt /usr/local/share/ca-certificates/corp.crt\nRUN update-ca-certificates\n")


def _cap():
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


def run(argv, cwd: Path) -> tuple[subprocess.CompletedProcess, float]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    start = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "imagelint.cli", *argv], cwd=cwd, capture_output=True, text=True,
                       env=env, timeout=60, preexec_fn=_cap, errors="replace")
    return r, time.monotonic() - start


@pytest.fixture(scope="module")
def ca() -> bytes:
    return pki.make_pki().root.pem


def _dockerfile(d: Path, ca: bytes, extra: str = "") -> None:
    (d / "Dockerfile").write_text(DOCKERFILE + extra)
    (d / "corp.crt").write_bytes(ca)


def _setup(name: str, d: Path, ca: bytes) -> list[str]:
    """Writes case `name` into `d`; returns the command line."""
    if name == "dockerignore-over-the-pattern-limit":
        _dockerfile(d, ca, "RUN curl -k https://example.com/tool.tgz -o /tmp/tool.tgz\n")
        (d / ".dockerignore").write_text("".join(f"dir{i}/file{i}\n" for i in range(10_001)))
        return ["lint", "Dockerfile"]
    if name == "json-manifest-100k-deep":
        (d / "m.json").write_text('{"apiVersion": "v1", "kind": "ConfigMap", "data": ' + "[" * 100_000
                                  + "]" * 100_000 + "}")
        return ["lint", "m.json"]
    if name == "yaml-block-sequence-50k-deep":
        (d / "m.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: d}\ndata:\n" + "- " * 50_000 + "x\n")
        return ["lint", "m.yaml"]
    if name == "yaml-flow-50k-deep":
        (d / "m.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: d}\ndata: " + "{a: " * 50_000
                                  + "1" + "}" * 50_000 + "\n")
        return ["expiry", "m.yaml"]
    if name == "config-is-a-fifo":
        _dockerfile(d, ca)
        os.mkfifo(d / "cfg.toml")
        return ["lint", "--config", "cfg.toml", "Dockerfile"]
    if name == "config-of-wrong-types":
        _dockerfile(d, ca)
        (d / "pyproject.toml").write_text('[tool.imagelint]\nselect = "IL1"\n')
        return ["lint", "Dockerfile"]
    if name == "context-symlink-loops":
        _dockerfile(d, ca, "COPY . /app\n")
        os.symlink("b", d / "a")
        os.symlink("a", d / "b")
        (d / "loop").mkdir()
        os.symlink("..", d / "loop" / "up")
        return ["lint", "Dockerfile"]
    if name == "dockerfile-symlink-loop":
        os.symlink("D2", d / "Dockerfile")
        os.symlink("Dockerfile", d / "D2")
        return ["lint", "Dockerfile"]
    if name == "dockerignore-pathological-globs":
        _dockerfile(d, ca, "COPY . /usr/local/share/ca-certificates/\n")
        (d / ".dockerignore").write_text("**/" * 40 + "x\n!" + "*a" * 50 + "\n")
        return ["lint", "Dockerfile"]
    if name == "copied-crt-is-dev-zero":
        _dockerfile(d, ca)
        (d / "corp.crt").unlink()
        os.symlink("/dev/zero", d / "corp.crt")
        return ["lint", "Dockerfile"]
    if name == "copied-crt-links-out-of-the-context":
        _dockerfile(d, ca)
        (d / "corp.crt").unlink()
        os.symlink("/etc/shadow", d / "corp.crt")
        return ["lint", "Dockerfile"]
    if name == "copied-crt-200mb-sparse":
        _dockerfile(d, ca)
        with open(d / "corp.crt", "wb") as fh:
            fh.truncate(200 * 1024 * 1024)
        return ["lint", "Dockerfile"]
    if name == "pem-30mb-base64-line":
        _dockerfile(d, ca)
        (d / "corp.crt").write_bytes(b"-----BEGIN CERTIFICATE-----\n" + b"A" * (30 << 20) + b"\n-----END CERTIFICATE-----\n")
        return ["lint", "Dockerfile"]
    if name == "manifest-100k-documents":
        (d / "m.yaml").write_text("---\n".join(f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{i}}}\n"
                                               for i in range(100_000)))
        return ["lint", "m.yaml"]
    if name == "kustomization-includes-itself":
        (d / "kustomization.yaml").write_text("resources:\n- .\n- kustomization.yaml\n")
        return ["lint", "."]
    if name == "expiry-directory-symlink-loop":
        (d / "x").mkdir()
        os.symlink("../x", d / "x" / "loop")
        (d / "x" / "c.pem").write_bytes(ca)
        return ["expiry", "x"]
    if name == "expiry-fifo":
        os.mkfifo(d / "f.pem")
        return ["expiry", "f.pem"]
    if name == "trust-chain-random-der-in-pem":
        (d / "chain.pem").write_bytes(b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(os.urandom(3000))
                                      + b"-----END CERTIFICATE-----\n")
        return ["trust", "host", "--chain", "chain.pem"]
    if name == "trust-chain-only-a-key":
        (d / "chain.pem").write_bytes(pki.make_pki().root.key_pem)
        return ["trust", "host", "--chain", "chain.pem"]
    if name == "secret-not-base64":
        (d / "m.yaml").write_text("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ntype: kubernetes.io/tls\n"
                                  "data:\n  tls.crt: '!!!%%%'\n  tls.key: 5\n")
        return ["lint", "m.yaml"]
    if name == "yaml-python-tag":
        (d / "m.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: !!python/object:os.system x}\n")
        return ["lint", "m.yaml"]
    if name == "deployment-wrong-types":
        (d / "m.yaml").write_text("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: p}\nspec:\n  template:\n"
                                  "    spec:\n      containers:\n      - name: c\n        env: {a: b}\n"
                                  "        volumeMounts: [5, null]\n      - 7\n")
        return ["fix", "--diff", "m.yaml"]
    if name == "cr-only-line-endings":
        (d / "Dockerfile").write_bytes(b"FROM alpine\rRUN curl -k https://x\rRUN true\r")
        return ["fix", "--diff", "Dockerfile"]
    if name == "5mb-comment-line":
        (d / "Dockerfile").write_text("FROM alpine\n# " + "x" * 5_000_000 + "\nRUN curl -k https://x\n")
        return ["lint", "Dockerfile"]
    raise KeyError(name)


BROKE_BEFORE = ["dockerignore-over-the-pattern-limit", "json-manifest-100k-deep", "yaml-block-sequence-50k-deep",
                "yaml-flow-50k-deep", "config-is-a-fifo", "config-of-wrong-types"]
STAYS_FIXED = ["context-symlink-loops", "dockerfile-symlink-loop", "dockerignore-pathological-globs",
               "copied-crt-is-dev-zero", "copied-crt-links-out-of-the-context", "copied-crt-200mb-sparse",
               "pem-30mb-base64-line", "manifest-100k-documents", "kustomization-includes-itself",
               "expiry-directory-symlink-loop", "expiry-fifo", "trust-chain-random-der-in-pem",
               "trust-chain-only-a-key", "secret-not-base64", "yaml-python-tag", "deployment-wrong-types",
               "cr-only-line-endings", "5mb-comment-line"]


@pytest.mark.parametrize("name", BROKE_BEFORE + STAYS_FIXED)
def test_hostile_input_ends_cleanly(tmp_path, ca, name):
    argv = _setup(name, tmp_path, ca)
    r, elapsed = run(argv, tmp_path)
    assert r.returncode in (0, 1, 2), (r.returncode, r.stderr[-2000:])
    assert "Traceback" not in r.stdout + r.stderr and "internal error" not in r.stderr, r.stderr[-2000:]
    assert elapsed < 20
    errors = [line for line in r.stderr.splitlines() if line.startswith("imagelint: error:")]
    if name in BROKE_BEFORE:
        assert r.returncode == 2 and len(errors) == 1, r.stderr
    for line in errors:
        assert any(n in line for n in (argv[-1].rstrip("/"), "cfg.toml", ".dockerignore", "pyproject.toml")), line
    if name == "config-of-wrong-types":
        assert "select must be an array of strings" in r.stderr
    if name == "dockerignore-over-the-pattern-limit":  # the Dockerfile itself is still checked
        assert "the Dockerfile is checked without it" in r.stderr and re.search(r"\bIL\d{3}\b", r.stdout), r.stdout


def test_a_large_json_manifest_still_uses_the_fast_loader(tmp_path):
    """The nesting bound sends a deep text to PyYAML's Python loader; a big but shallow JSON List
    (kubectl get -o json) stays on libyaml."""
    import json

    from imagelint.kube.load import _loader_for

    items = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"c{i}"}, "data": {"k": "v"}}
             for i in range(8000)]
    text = json.dumps({"apiVersion": "v1", "kind": "List", "items": items}, indent=2)
    import yaml

    assert _loader_for(text, "x.json") is yaml.CSafeLoader
    assert _loader_for("a: " + "[" * 30_000 + "]" * 30_000, "x.yaml") is yaml.SafeLoader


def test_a_finding_quoting_a_huge_value_stays_short(tmp_path):
    """A message quotes its input (here a 300,000-character file name): the report must not grow with it."""
    name = "a" * 300_000
    (tmp_path / "Dockerfile").write_text(f"FROM debian:12\nCOPY {name}.crt /usr/local/share/ca-certificates/\n")
    r, _elapsed = run(["lint", "Dockerfile"], tmp_path)
    assert r.returncode == 1, r.stderr[-2000:]
    assert "IL201" in r.stdout and "more characters not shown" in r.stdout
    assert len(r.stdout) < 20_000, len(r.stdout)
