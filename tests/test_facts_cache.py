"""The parsed trust facts kept beside the bytecode (imagelint/facts/data.py): the same tables as the
TOML, a corrupt or stale copy ignored and rewritten, nothing written under PYTHONDONTWRITEBYTECODE."""
from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "imagelint" / "facts" / "trust-facts.toml"
PRINT = ("import sys; from imagelint.facts.data import trust_facts, _cache_path; "
         "print(repr(trust_facts())); print(_cache_path(), file=sys.stderr); "
         "print(sorted(m for m in sys.modules if m.startswith('tomllib')), file=sys.stderr)")


def facts_in_child(prefix: Path, no_write: bool = False) -> tuple[dict, Path, list[str]]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(PYTHONPATH=str(ROOT), PYTHONPYCACHEPREFIX=str(prefix))
    if no_write:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    proc = subprocess.run([sys.executable, "-c", PRINT], env=env, capture_output=True, text=True, timeout=60, check=True)
    cache, modules = proc.stderr.strip().splitlines()[-2:]
    return eval(proc.stdout), Path(cache), eval(modules)  # noqa: S307 - our own repr of plain data


def test_cached_facts_are_the_toml(tmp_path: Path):
    parsed = tomllib.loads(DATA.read_text(encoding="utf-8"))
    first, cache, modules = facts_in_child(tmp_path)
    assert first == parsed and cache.is_file() and str(cache).startswith(str(tmp_path))
    assert modules  # parsed: tomllib was needed
    second, _, modules = facts_in_child(tmp_path)
    assert second == parsed and modules == []  # read back without parsing the TOML


def test_corrupt_or_stale_cache_is_ignored_and_rewritten(tmp_path: Path):
    parsed = tomllib.loads(DATA.read_text(encoding="utf-8"))
    _, cache, _ = facts_in_child(tmp_path)
    for bad in (b"", b"\x00garbage", cache.read_bytes()[:-7]):
        cache.write_bytes(bad)
        facts, _, modules = facts_in_child(tmp_path)
        assert facts == parsed and modules
        assert facts_in_child(tmp_path)[2] == []  # rewritten
    import marshal

    stamp, kept = marshal.loads(cache.read_bytes())
    cache.write_bytes(marshal.dumps(((*stamp[:-1], stamp[-1] + 1), {"family": {}})))  # another mtime: stale
    facts, _, modules = facts_in_child(tmp_path)
    assert facts == parsed and modules


def test_nothing_written_without_bytecode(tmp_path: Path):
    facts, cache, _ = facts_in_child(tmp_path, no_write=True)
    assert facts == tomllib.loads(DATA.read_text(encoding="utf-8"))
    assert not cache.exists()
