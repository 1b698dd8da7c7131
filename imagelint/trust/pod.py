"""A pod container's trust model: its image's filesystem (or none) with the pod's volumes laid
over it, and the container's env applied over the image's. Family, bundle and stores come from
the same `TrustModel` code `scan` and `trust` use.

Without an image there are no binaries to find, so the runtimes come from the env (each CA
variable names the runtime that reads it) or from `--runtime`; their stores then hold only what
the pod mounts and configures, and say so.
"""
from __future__ import annotations

from typing import Mapping

from ..fs.overlay import OverlayView
from ..fs.view import FileView
from .model import TrustModel
from .stores import TrustStore, java_options, java_store, node_store, requests_store

# Which runtime reads each CA variable (the trust facts' per-runtime variables).
RUNTIME_OF_VARIABLE = {
    "SSL_CERT_FILE": ("openssl", "go"),
    "SSL_CERT_DIR": ("openssl", "go"),
    "REQUESTS_CA_BUNDLE": ("python-requests",),
    "CURL_CA_BUNDLE": ("python-requests",),
    "NODE_EXTRA_CA_CERTS": ("node",),
}
# Stand-in locations when the image was not read: only the configured files are consulted there.
_NO_IMAGE_SITE = "/usr/local/lib/python3/site-packages"
_NO_IMAGE_NODE = "/usr/local/bin/node"
_NO_IMAGE_JAVA = "/opt/java/openjdk"


def implied_runtimes(env: Mapping[str, str]) -> list[str]:
    """The runtimes an env configures, in a fixed order."""
    found: list[str] = []
    for variable, runtimes in RUNTIME_OF_VARIABLE.items():
        if env.get(variable):
            found.extend(r for r in runtimes if r not in found)
    if java_options(env).get("javax.net.ssl.trustStore") and "java" not in found:
        found.append("java")
    return found


class PodTrustModel(TrustModel):
    """`TrustModel` of one container: `base` (the image's view, or None) plus mounts and env."""

    kind = "pod"

    def __init__(self, base: FileView | None, mounts: list, env: Mapping[str, str],
                 entrypoint: list[str] | None = None, user: str = "", image_read: bool = False):
        super().__init__(OverlayView(base, mounts), env, entrypoint, user)
        self.image_read = image_read

    def stores_for(self, runtimes: list[str] | None = None) -> list:
        if self.image_read:
            return super().stores_for(runtimes)
        wanted = list(runtimes) if runtimes is not None else implied_runtimes(self.env) or ["openssl"]
        stores = [s for s in super().stores_for([r for r in wanted if r in ("openssl", "go")])]
        for runtime in wanted:
            if runtime in ("openssl", "go"):
                continue
            store = self._configured_store(runtime)
            store.notes.append("the image was not read: only what the pod mounts and configures is known "
                               "(pass --image to include the image's own stores)")
            stores.append(store)
        order = {r: i for i, r in enumerate(wanted)}
        return sorted(stores, key=lambda s: order.get(s.runtime, 99))

    def _configured_store(self, runtime: str) -> TrustStore:
        if runtime == "python-requests":
            return requests_store(self.view, self.env, _NO_IMAGE_SITE, self.family)
        if runtime == "node":
            store = node_store(self.view, self.env, _NO_IMAGE_NODE, self.family, self.entrypoint)
            store.notes = [n for n in store.notes if not n.startswith("could not read the roots")]
            store.notes.append("node's bundled public roots are not included (no image)")
            return store
        return java_store(self.view, self.env, _NO_IMAGE_JAVA, self.family, self.entrypoint)


def container_model(container, base: FileView | None = None, image_config: dict | None = None) -> PodTrustModel:
    """The trust model of a `kube.model.Container`, over its image's view when one was read."""
    config = image_config or {}
    env: dict[str, str] = {}
    for item in config.get("Env") or []:
        key, _, value = str(item).partition("=")
        env[key] = value
    env.update(container.env_values)
    # command replaces the image's Entrypoint, args its Cmd (Kubernetes docs, "Define a Command").
    entrypoint = container.command or [str(w) for w in config.get("Entrypoint") or []]
    cmd = container.args or ([] if container.command else [str(w) for w in config.get("Cmd") or []])
    return PodTrustModel(base, container.mount_specs(), env, entrypoint + cmd, str(config.get("User") or ""),
                         image_read=base is not None)
