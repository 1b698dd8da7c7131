"""Where each TLS runtime lives in a root filesystem and which files it reads for its roots."""
from __future__ import annotations

from ..records import record
from functools import lru_cache

from .data import trust_facts

RUNTIMES = ("openssl", "go", "java", "python-requests", "node")
GO_BUILDINFO = b"\xff Go buildinf:"  # the marker the Go linker writes into every binary


@record(frozen=True)
class RuntimeFacts:
    tls_clients: tuple[str, ...]
    default_path: str
    openssl_clients: tuple[str, ...]
    openssl_lib_dirs: tuple[str, ...]
    openssl_dirs: tuple[str, ...]
    go_cert_files: tuple[str, ...]
    go_cert_dirs: tuple[str, ...]
    go_app_dirs: tuple[str, ...]
    go_max_entries_per_dir: int
    go_min_size: int
    java_homes: tuple[str, ...]
    java_parents: tuple[str, ...]
    java_name_markers: tuple[str, ...]
    temurin_entrypoint: str
    python_site_roots: tuple[str, ...]
    python_distro_site: str
    node_binaries: tuple[str, ...]
    node_lib_dirs: tuple[str, ...]
    node_official_openssl_dir: str


@lru_cache(maxsize=1)
def runtime_facts() -> RuntimeFacts:
    data = trust_facts()["runtimes"]
    openssl, go, java, python, node = (data[k] for k in ("openssl", "go", "java", "python", "node"))
    return RuntimeFacts(
        tls_clients=tuple(data["tls_clients"]),
        default_path=data["default_path"],
        openssl_clients=tuple(openssl["clients"]),
        openssl_lib_dirs=tuple(openssl["lib_dirs"]),
        openssl_dirs=tuple(openssl["dirs"]),
        go_cert_files=tuple(go["cert_files"]),
        go_cert_dirs=tuple(go["cert_dirs"]),
        go_app_dirs=tuple(go["app_dirs"]),
        go_max_entries_per_dir=int(go["max_entries_per_dir"]),
        go_min_size=int(go["min_size"]),
        java_homes=tuple(java["homes"]),
        java_parents=tuple(java["parents"]),
        java_name_markers=tuple(java["name_markers"]),
        temurin_entrypoint=java["temurin_entrypoint"],
        python_site_roots=tuple(python["site_roots"]),
        python_distro_site=python["distro_site"],
        node_binaries=tuple(node["binaries"]),
        node_lib_dirs=tuple(node["lib_dirs"]),
        node_official_openssl_dir=node["official_openssl_dir"],
    )
