"""The one data file of trust facts, parsed once.

Every lint needs the facts, and parsing the TOML costs more than the rest of a small lint. So the
parsed tables are kept the way Python keeps bytecode: a marshal file in the data file's __pycache__
(or under PYTHONPYCACHEPREFIX), valid while the data file's size and mtime are those it was made
from, written atomically, never written under PYTHONDONTWRITEBYTECODE, and ignored (then rewritten)
when it cannot be read back as it was written. The cache sits where Python already keeps the code
it runs, so it adds no new place to trust.
"""
from __future__ import annotations

import marshal
import os
import sys
from functools import lru_cache
from pathlib import Path

DATA_FILE = Path(__file__).with_name("trust-facts.toml")
_CACHE_FORMAT = 1


def _cache_path() -> str | None:
    from importlib.util import cache_from_source

    try:  # __pycache__/trust-facts.cpython-311.pyc, with the prefix when one is set
        return cache_from_source(str(DATA_FILE.with_suffix(".py")))[:-len(".pyc")] + ".facts"
    except NotImplementedError:  # no bytecode caching on this interpreter
        return None


def _read_cache(path: str, stamp: tuple) -> dict | None:
    try:
        with open(path, "rb") as fh:
            kept = marshal.loads(fh.read())
    except (OSError, EOFError, ValueError, TypeError):
        return None
    if isinstance(kept, tuple) and len(kept) == 2 and kept[0] == stamp and isinstance(kept[1], dict):
        return kept[1]
    return None


def _write_cache(path: str, stamp: tuple, facts: dict) -> None:
    if sys.dont_write_bytecode:
        return
    try:
        blob = marshal.dumps((stamp, facts))
    except ValueError:  # a value marshal cannot keep (a TOML date): parse every time
        return
    temp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(temp, "wb") as fh:
            fh.write(blob)
        os.replace(temp, path)
    except OSError:  # a read-only installation: parse every time
        try:
            os.unlink(temp)
        except OSError:
            pass


@lru_cache(maxsize=1)
def trust_facts() -> dict:
    with open(DATA_FILE, "rb") as fh:
        info = os.fstat(fh.fileno())
        stamp = (_CACHE_FORMAT, sys.version_info[:2], info.st_size, info.st_mtime_ns)
        cache = _cache_path()
        facts = _read_cache(cache, stamp) if cache else None
        if facts is not None:
            return facts
        if sys.version_info >= (3, 11):
            import tomllib
        else:  # pragma: no cover
            import tomli as tomllib

        facts = tomllib.load(fh)
    if cache:
        _write_cache(cache, stamp, facts)
    return facts
