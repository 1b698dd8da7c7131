"""Shared fixtures. Real services live in tests/services.py; keep this file small."""

import os
import sys
from pathlib import Path

import pytest

# tests/ is not a package: make `import services` work from here and from test modules alike.
_TESTS_DIR = str(Path(__file__).resolve().parent)
if _TESTS_DIR not in sys.path:
    sys.path.insert(0, _TESTS_DIR)

# Layer caches of the commands tests start land in a throwaway directory, never in ~/.cache.
if "IMAGELINT_TEST_KEEP_XDG" not in os.environ:
    import tempfile

    os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="imagelint-test-cache-")

# Every `python -m imagelint.cli` a test starts runs this checkout, whatever is installed globally.
_ROOT = str(Path(__file__).resolve().parent.parent)
os.environ["PYTHONPATH"] = os.pathsep.join([_ROOT, *[p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep)
                                                      if p and p != _ROOT]])

from services import (  # noqa: E402,F401  (re-exported fixtures)
    SERVICE_FIXTURES,
    clients_rootfs,
    debian_rootfs,
    dockerd,
    java_rootfs,
    registry_factory,
)


# Modules whose tests each take seconds: the whole shared corpus, real clients, subprocess memory caps.
SLOW_MODULES = {"test_parse_buildkit", "test_trust_clients", "test_fix_properties", "test_bad_input", "test_precommit"}


def pytest_collection_modifyitems(items):
    # A test that uses a real service is a services test, whether or not it says so.
    for item in items:
        if SERVICE_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.services)
            item.add_marker(pytest.mark.slow)
        elif item.module.__name__ in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
