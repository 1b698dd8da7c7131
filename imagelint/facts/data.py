"""The one data file of trust facts, parsed once."""
from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DATA_FILE = Path(__file__).with_name("trust-facts.toml")


@lru_cache(maxsize=1)
def trust_facts() -> dict:
    with open(DATA_FILE, "rb") as fh:
        return tomllib.load(fh)
