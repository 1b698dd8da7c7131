"""Volume mounts that change what a pod trusts: over the system store (IL601), with subPath
(IL602), into an anchor directory nothing processes (IL607), and references the kubelet cannot
resolve (IL606)."""
from __future__ import annotations

from ...findings import Severity
from ...kube.model import KubeSet, SourceUse
from ..registry import check
from .common import CERT_NAME, anchor_dirs, covered_store_paths, holds_full_set, mounted_data, trust_paths, uses_of
from .context import ManifestContext


def _containers(kset: KubeSet):
    for workload in kset.workloads:
        for container in workload.containers:
            yield workload, container


@check("IL601", kind="manifest")
def bundle_replaces_store(kset: KubeSet, ctx: ManifestContext):
    for workload, container in _containers(kset):
        for mount in container.mounts:
            hidden = covered_store_paths(mount)
            if not hidden or mount.volume is None:
                continue
            files = mount.spec().files
            if files is None:
                if any(c.init and any(m.volume_name == mount.volume_name for m in c.mounts)
                       for c in workload.containers):
                    continue  # an init container fills it (the usual update-ca-certificates pattern)
                what = f"{mount.volume.type} volume {mount.volume_name}"
                full = False
            else:
                datas = [f.data for f in files.values()]
                full = any(holds_full_set(u.source, d) for u in uses_of(mount) for d in datas) or \
                    any(holds_full_set(None, d) for d in datas)
                what = mount.volume.label()
            if full:
                continue  # a full public set (trust-manager useDefaultCAs: true) keeps the public roots
            verb = "replaces" if mount.sub_path is not None else "hides"
            yield ctx.hit("IL601", f"{container.label}: {what} mounted at {mount.path} {verb} the image's "
                          f"{', '.join(hidden)}: the public roots (and the hashed links OpenSSL uses) are gone, so every "
                          "public HTTPS endpoint fails; mount the private CA elsewhere and add it (or use a "
                          "trust-manager Bundle with useDefaultCAs: true)", workload.resource, mount.line,
                          container=container, mount_path=mount.path)


def _is_ca_file(container, mount, data: bytes | None) -> bool:
    if data is not None and b"-----BEGIN CERTIFICATE-----" in data:
        return True
    if CERT_NAME.search(mount.path) or CERT_NAME.search(mount.sub_path or ""):
        return True
    return any(path == mount.path for _var, path, _line in trust_paths(container))


@check("IL602", kind="manifest")
def subpath_bundle(kset: KubeSet, ctx: ManifestContext):
    for workload, container in _containers(kset):
        for mount in container.mounts:
            if mount.sub_path is None or mount.volume is None or not mount.volume.uses:
                continue
            found = mounted_data(container, mount.path)
            data = found[2] if found else None
            if not _is_ca_file(container, mount, data):
                continue
            line = mount.node.line_of("subPath")
            yield ctx.hit("IL602", f"{container.label}: {mount.volume.label()} is mounted at {mount.path} with "
                          f"subPath {mount.sub_path}: the kubelet never updates a subPath mount, so a rotated or "
                          "added CA reaches this container only when the pod is recreated (\"updated the ConfigMap, "
                          "still failing\")", workload.resource, line, container=container,
                          mount_path=mount.path, sub_path=mount.sub_path)


def _missing(kset: KubeSet, use: SourceUse, namespace: str) -> list[tuple[str, int]]:
    """(what is missing, line) for a reference the kubelet cannot resolve without optional: true."""
    if use.optional:
        return []
    source = use.source
    if source.keys is None:
        if source.origin == "absent" and namespace in kset.namespaces_with_data:
            return [(f"{source.kind} {source.name} is not in namespace {namespace}", use.node.line_of("name"))]
        return []
    out = []
    for key, _path, _mode, line in use.items or []:
        if key not in source.keys:
            out.append((f"{source.kind} {source.name} has no key {key!r}", line))
    return out


@check("IL606", kind="manifest")
def missing_source(kset: KubeSet, ctx: ManifestContext):
    for workload in kset.workloads:
        ns = workload.namespace
        used = {m.volume_name for c in workload.containers for m in c.mounts}
        for volume in workload.volumes.values():
            if volume.name not in used:
                continue
            for use in volume.uses:
                for what, line in _missing(kset, use, ns):
                    yield ctx.hit("IL606", f"{workload.resource.label}: volume {volume.name}: {what} and the "
                                  "reference is not optional: the kubelet cannot mount the volume and the pod "
                                  "stays in ContainerCreating", workload.resource, line)
        for container in workload.containers:
            for use in container.env_uses:
                for what, line in _missing(kset, use, ns):
                    yield ctx.hit("IL606", f"{container.label}: {what} and the reference is not optional: the "
                                  "container does not start (CreateContainerConfigError)", workload.resource, line,
                                  container=container)


def _runs(container, command: str) -> bool:
    words = " ".join(container.command + container.args)
    return command in words


@check("IL607", kind="manifest")
def ca_into_anchor_dir(kset: KubeSet, ctx: ManifestContext):
    for workload, container in _containers(kset):
        for mount in container.mounts:
            if mount.volume is None or not mount.volume.uses:
                continue
            for directory, command in anchor_dirs().items():
                if mount.path != directory and not mount.path.startswith(directory.rstrip("/") + "/"):
                    continue
                if _runs(container, command) or any(_runs(c, command) for c in workload.containers if c.init):
                    continue
                yield ctx.hit("IL607", f"{container.label}: {mount.volume.label()} is mounted into {directory} at run "
                              f"time, but nothing runs {command}: the bundle clients read was generated when the "
                              "image was built and does not hold this CA", workload.resource, mount.line,
                              container=container, severity=Severity.WARNING, mount_path=mount.path)
                break
