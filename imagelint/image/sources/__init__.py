"""Image sources: `open_image(reference)` picks one by the reference's transport.

docker-archive and oci-archive files, OCI layout directories, the local Docker engine and
registries. Metadata is read at open, so a bad reference fails at once; layers are read later.
"""
from __future__ import annotations

import os
from typing import Iterable

from ...findings import ImagelintError
from ..limits import DEFAULT_LIMITS, Limits
from ..model import OpenedImage, parse_platform
from ..reference import ImageReference, RegistryName, parse_reference
from .blobs import DirStore, TarStore
from .daemon import engine_reachable, open_daemon_image
from .layout import read_oci_layout
from .tarball import read_docker_archive

__all__ = ["open_image", "engine_reachable"]


def open_image(ref: str | ImageReference, *, platform: str | None = None, ca_file: str | None = None,
               insecure_registries: Iterable[str] = (), limits: Limits = DEFAULT_LIMITS,
               clients: dict | None = None, timeout: float | None = None) -> OpenedImage:
    """Open an image by containers-image reference; metadata is read now, layer blobs later.

    Close it (or use `with`) to release archive handles and the daemon's temp file. `clients`
    keeps registry clients between calls (a fleet scan reuses connections, auth and tokens);
    `timeout`: seconds for everything read from a registry for this image (default RegistryOptions.deadline).
    """
    reference = ref if isinstance(ref, ImageReference) else parse_reference(ref)
    if platform:
        parse_platform(platform)
    text = reference.text
    if reference.transport in ("oci", "oci-archive", "docker-archive"):
        path = reference.path or ""
        if reference.transport == "oci":
            if not os.path.isdir(path):
                raise ImagelintError(f"{path}: no such OCI layout directory")
            opened = read_oci_layout(DirStore(path), reference.selector, text, platform, limits)
            opened.source = "oci"
            return opened
        if not os.path.isfile(path):
            raise ImagelintError(f"{path}: no such archive")
        store = TarStore(path, path=path)
        try:
            if reference.transport == "oci-archive":
                opened = read_oci_layout(store, reference.selector, text, platform, limits)
            else:
                opened = read_docker_archive(store, reference.selector, text, platform, limits)
        except BaseException:
            store.close()
            raise
        opened._closers.append(store.close)
        opened.source = reference.transport
        return opened
    if reference.transport == "docker-daemon":
        opened = open_daemon_image(reference.selector or "", text, platform, limits)
        assert opened is not None
        return opened

    assert reference.name is not None
    # The registry client (ssl, http.client: ~20 ms of imports) only for registry references.
    from .remote import open_registry_image

    if reference.transport == "docker":
        return open_registry_image(reference.name, text, platform=platform, ca_file=ca_file,
                                   insecure_registries=tuple(insecure_registries), limits=limits,
                                   options=_registry_options(ca_file, insecure_registries, timeout), clients=clients)
    # A bare name: the local engine if it has the image, else the registry (as Trivy does).
    if engine_reachable():
        local = open_daemon_image(_daemon_name(reference.name, text), text, platform, limits, missing_ok=True)
        if local is not None:
            return local
    return open_registry_image(reference.name, text, platform=platform, ca_file=ca_file,
                               insecure_registries=tuple(insecure_registries), limits=limits,
                                   options=_registry_options(ca_file, insecure_registries, timeout))


def _registry_options(ca_file: str | None, insecure_registries: Iterable[str], timeout: float | None):
    from .remote import RegistryOptions

    options = RegistryOptions(ca_file=ca_file, insecure_registries=tuple(insecure_registries))
    if timeout is not None:
        from dataclasses import replace

        options = replace(options, deadline=timeout)
    return options


def _daemon_name(name: RegistryName, text: str) -> str:
    return text if "@" in text else name.familiar
