"""Trust facts: OS families, where their CA bundles and anchors live, and where each TLS runtime
keeps its roots. The bottom layer: every input (Dockerfile stage, image, host, pod) answers from
here, and here answers from one data file, `trust-facts.toml`.
"""
from .families import (
    UNKNOWN,
    Family,
    base_image_facts,
    families,
    family,
    family_of_filesystem,
    package_manager_families,
    parse_os_release,
)
from .runtimes import RUNTIMES, runtime_facts

__all__ = [
    "RUNTIMES",
    "UNKNOWN",
    "Family",
    "base_image_facts",
    "families",
    "family",
    "family_of_filesystem",
    "package_manager_families",
    "parse_os_release",
    "runtime_facts",
]
