"""Where the corpus tests find real Dockerfiles (no tests here).

`SAMPLE`: 50 files vendored under tests/data/corpus (attribution in its SOURCES.md): always there.
`full_corpus()`: the whole corpus (2,853 files), which is not vendored: `$IMAGELINT_CORPUS`, else
../shared/corpus/dockerfiles next to the checkout. Without it a test skips with one line saying where
to put it; under CI=true it fails instead, so CI never goes green without the corpus.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "tests" / "data" / "corpus" / "dockerfiles"
FULL = Path(os.environ.get("IMAGELINT_CORPUS") or ROOT.parent / "shared" / "corpus" / "dockerfiles")
IN_CI = os.environ.get("CI", "").lower() == "true"
WHERE = f"the full corpus is not at {FULL} (set IMAGELINT_CORPUS=DIR or put it at ../shared/corpus/dockerfiles)"


def full_corpus_present() -> bool:
    return FULL.is_dir()


def full_corpus() -> Path:
    """The full corpus directory; skips (fails under CI=true) when it is missing."""
    if not FULL.is_dir():
        if IN_CI:
            pytest.fail(WHERE)
        pytest.skip(WHERE)
    return FULL


def sample_files() -> list[Path]:
    files = sorted(p for p in SAMPLE.rglob("*") if p.is_file())
    assert len(files) >= 50, f"the vendored corpus sample is missing: {SAMPLE}"
    return files
