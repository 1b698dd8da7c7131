"""Shared facts for the manifest checks: where the system store lives (from the trust facts),
which variables name CA files, and what a mounted file holds."""
from __future__ import annotations

import re
from functools import lru_cache

from ...facts import runtime_facts
from ...facts.families import families
from ...fs.view import norm
from ...kube.model import Container, DataSource, Mount
from ...trust.model import SMALL_BUNDLE, pem_fingerprints
from ...trust.stores import java_options
from ..image.env import CA_PATH_VARIABLES

CERT_NAME = re.compile(r"\.(crt|pem|cer|der)$", re.I)


@lru_cache(maxsize=1)
def system_store_paths() -> tuple[str, ...]:
    """Every system bundle file and CA directory clients read by default, over all families."""
    paths: list[str] = [*runtime_facts().go_cert_files, *runtime_facts().go_cert_dirs]
    for fam in families().values():
        for path in (fam.bundle, fam.generated_bundle, *fam.bundle_paths, fam.openssl_dir and f"{fam.openssl_dir}/certs"):
            if path:
                paths.append(path)
    return tuple(dict.fromkeys(norm(p) for p in paths))


@lru_cache(maxsize=1)
def anchor_dirs() -> dict[str, str]:
    """Anchor directory -> the command that turns its files into the bundle."""
    out: dict[str, str] = {}
    for fam in families().values():
        for directory in fam.anchor_dirs:
            if fam.update_command:
                out.setdefault(norm(directory), fam.update_command)
    return out


def covered_store_paths(mount: Mount) -> list[str]:
    """System store paths the mount hides or replaces (the mount path itself, or below it)."""
    top = mount.path
    out = []
    for path in system_store_paths():
        if path == top or (mount.sub_path is None and path.startswith(top.rstrip("/") + "/")):
            out.append(path)
    return out


def holds_full_set(source: DataSource | None, data: bytes | None) -> bool:
    """A whole public root set: trust-manager with useDefaultCAs, or a file with that many roots."""
    if source is not None and source.full_bundle:
        return True
    return data is not None and len(pem_fingerprints(data)) >= SMALL_BUNDLE


def trust_paths(container: Container) -> list[tuple[str, str, int]]:
    """(variable, path, line) for every CA path the container's env names (SSL_CERT_DIR split)."""
    out = []
    for name in CA_PATH_VARIABLES:
        var = container.env.get(name)
        if var is None or not var.value or not var.value.strip():
            continue
        for raw in (var.value.split(":") if name == "SSL_CERT_DIR" else [var.value]):
            if raw and "$" not in raw and raw.startswith("/"):
                out.append((name, norm(raw), var.line))
    store = java_options(container.env_values).get("javax.net.ssl.trustStore")
    if store and store.startswith("/") and "$" not in store:
        variable = next((v for v in ("JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "JAVA_OPTS")
                         if "javax.net.ssl.trustStore=" in (container.env_values.get(v) or "")), "JAVA_TOOL_OPTIONS")
        var = container.env.get(variable)
        out.append(("-Djavax.net.ssl.trustStore", norm(store), var.line if var else container.node.line))
    return out


def mounted_data(container: Container, path: str) -> tuple[Mount, str, bytes | None, bool] | None:
    """(mount, relative path, data, known) of a path inside one of the container's mounts."""
    found = container.mount_for(path)
    if found is None:
        return None
    mount, rel = found
    spec = mount.spec()
    files = spec.files
    if files is None:
        return mount, rel, None, False
    entry = files.get(rel)
    if entry is None:
        return mount, rel, None, True
    return mount, rel, entry.data, entry.data is not None


def uses_of(mount: Mount):
    return mount.volume.uses if mount.volume is not None else []
