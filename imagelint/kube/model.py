"""Kubernetes resources joined as the API server and the kubelet would join them.

Within a namespace: a pod's volumes resolve to ConfigMaps and Secrets (`items`, `defaultMode`,
`optional`, projected sources), its env to `envFrom`/`valueFrom` values, and a Service's selector
to the pods it serves. ConfigMaps written by a trust-manager `Bundle` and Secrets a cert-manager
`Certificate` will issue count as present. Every object keeps the YAML node it came from, so a
finding lands on the line that causes it.
"""
from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from typing import Iterable, Iterator

from ..findings import ImagelintError
from ..fs.overlay import MountedFile, MountSpec
from ..fs.view import norm
from .load import Document, Map

WORKLOAD_KINDS = ("Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob",
                  "ReplicationController")
DEFAULT_MODE = 0o644
TLS_SECRET_TYPE = "kubernetes.io/tls"


def _map(value) -> Map:
    return value if isinstance(value, Map) else Map()


def _seq(value) -> list:
    return value if isinstance(value, list) else []


def line_of(node, key: str | None = None) -> int:
    if isinstance(node, Map):
        return node.line_of(key) if key else node.line
    return getattr(node, "line", 1)


@dataclass
class Resource:
    kind: str
    api_version: str
    name: str
    namespace: str  # "" for cluster-scoped kinds; "default" when a namespaced object names none
    body: Map
    path: str
    line: int

    @property
    def group(self) -> str:
        return self.api_version.split("/")[0] if "/" in self.api_version else ""

    @property
    def label(self) -> str:
        return f"{self.kind} {self.namespace + '/' if self.namespace else ''}{self.name}"


CLUSTER_SCOPED = {"ClusterIssuer", "Bundle", "Namespace", "ClusterRole", "ClusterRoleBinding"}


@dataclass
class DataSource:
    """A ConfigMap or Secret as a volume or env source sees it: its keys (bytes or unknown)."""

    kind: str  # "ConfigMap" | "Secret"
    name: str
    namespace: str
    resource: Resource | None  # None: written by trust-manager/cert-manager, or absent
    keys: dict[str, bytes | None] | None  # None: absent from the linted set
    origin: str = "manifest"  # manifest | trust-manager | cert-manager | absent
    full_bundle: bool = False  # trust-manager with useDefaultCAs: true
    producer: Resource | None = None  # the Bundle or Certificate that writes it

    @property
    def label(self) -> str:
        return f"{'configMap' if self.kind == 'ConfigMap' else 'secret'} {self.name}"

    def key_line(self, key: str) -> int | None:
        if self.resource is None:
            return None
        for section in ("data", "binaryData", "stringData"):
            node = self.resource.body.get(section)
            if isinstance(node, Map) and key in node:
                return node.line_of(key)
        return None


@dataclass
class SourceUse:
    """One reference to a ConfigMap/Secret: a volume (or projected source), envFrom or valueFrom."""

    source: DataSource
    optional: bool
    node: Map  # the referencing YAML node (its name: line is where a finding lands)
    items: list[tuple[str, str, int | None, int]] | None = None  # (key, path, mode, line); None: all keys
    default_mode: int = DEFAULT_MODE


@dataclass
class Volume:
    name: str
    type: str  # configMap | secret | projected | emptyDir | csi | hostPath | persistentVolumeClaim | ...
    node: Map
    uses: list[SourceUse] = field(default_factory=list)

    @property
    def known(self) -> bool:
        """Its files are known (every source present in the set)."""
        return self.type in ("configMap", "secret", "projected") and all(
            u.source.keys is not None for u in self.uses)

    def files(self) -> dict[str, MountedFile] | None:
        """Relative path -> file, as kubelet writes the volume; None when its contents are unknown."""
        if self.type not in ("configMap", "secret", "projected"):
            return None
        out: dict[str, MountedFile] = {}
        for use in self.uses:
            keys = use.source.keys
            if keys is None:
                return None  # not in the linted set: its contents are unknown here
            if use.items is None:
                for key, data in keys.items():
                    out[key] = MountedFile(data, use.default_mode)
            else:
                for key, path, mode, _line in use.items:
                    if key in keys:
                        out[norm(path).lstrip("/")] = MountedFile(keys[key], mode if mode is not None else use.default_mode)
        return out

    def label(self) -> str:
        if self.uses:
            return ", ".join(u.source.label for u in self.uses)
        return f"{self.type} volume {self.name}"


@dataclass
class Mount:
    volume: Volume | None  # None: the pod has no volume of that name
    volume_name: str
    path: str
    sub_path: str | None
    node: Map

    @property
    def line(self) -> int:
        return self.node.line_of("mountPath")

    def spec(self) -> MountSpec:
        files = self.volume.files() if self.volume is not None else None
        if self.sub_path is not None:
            if files is None:
                single = {"": MountedFile(None)}  # contents unknown
            else:
                # A subPath the volume lacks: kubelet mounts an empty directory there
                # (https://github.com/kubernetes/kubernetes/issues/54514).
                entry = files.get(norm(self.sub_path).lstrip("/"))
                single = {"": entry} if entry is not None else {}
            return MountSpec(self.path, single, single_file=True,
                             label=self.volume.label() if self.volume else self.volume_name)
        return MountSpec(self.path, files, label=self.volume.label() if self.volume else self.volume_name)

    def file_source(self, rel: str) -> tuple[SourceUse, str] | None:
        """The source and key that put `rel` (relative to the volume root) there."""
        if self.volume is None:
            return None
        for use in self.volume.uses:
            keys = use.source.keys or {}
            if use.items is None:
                if rel in keys:
                    return use, rel
            else:
                for key, path, _mode, _line in use.items:
                    if norm(path).lstrip("/") == rel:
                        return use, key
        return None


@dataclass
class EnvVar:
    name: str
    value: str | None  # None: not known here (a Secret not in the set, a fieldRef)
    node: Map  # the env entry, or the envFrom entry
    origin: str  # "env" | "valueFrom" | "envFrom"
    use: SourceUse | None = None

    @property
    def line(self) -> int:
        return self.node.line_of("value") if self.origin == "env" and "value" in self.node else self.node.line


@dataclass
class Container:
    name: str
    image: str
    init: bool
    node: Map
    workload: "Workload"
    env: dict[str, EnvVar] = field(default_factory=dict)
    mounts: list[Mount] = field(default_factory=list)
    env_uses: list[SourceUse] = field(default_factory=list)  # envFrom and valueFrom references

    @property
    def command(self) -> list[str]:
        return [str(w) for w in _seq(self.node.get("command")) if not isinstance(w, (dict, list))]

    @property
    def args(self) -> list[str]:
        return [str(w) for w in _seq(self.node.get("args")) if not isinstance(w, (dict, list))]

    @property
    def env_values(self) -> dict[str, str]:
        return {k: v.value for k, v in self.env.items() if v.value is not None}

    def mount_specs(self) -> list[MountSpec]:
        return [m.spec() for m in self.mounts]

    def mount_for(self, path: str) -> tuple[Mount, str] | None:
        """The mount whose file or directory holds `path` (innermost wins), and the path relative to it."""
        path = norm(path)
        best = None
        for mount in self.mounts:
            if mount.sub_path is not None:
                if path == mount.path:
                    best = (mount, "")
                continue
            prefix = mount.path.rstrip("/") + "/"
            if path == mount.path or path.startswith(prefix):
                rel = "" if path == mount.path else path[len(prefix):]
                if best is None or len(mount.path) >= len(best[0].path):
                    best = (mount, rel)
        return best

    @property
    def label(self) -> str:
        return f"{self.workload.resource.label}, {'init container' if self.init else 'container'} {self.name}"


@dataclass
class Workload:
    resource: Resource
    pod_spec: Map
    labels: dict[str, str]
    volumes: dict[str, Volume] = field(default_factory=dict)
    containers: list[Container] = field(default_factory=list)

    @property
    def namespace(self) -> str:
        return self.resource.namespace


def pod_spec_of(resource: Resource) -> tuple[Map, dict] | None:
    """(pod spec, pod labels) of a workload kind."""
    body = resource.body
    if resource.kind == "Pod":
        return _map(body.get("spec")), dict(_map(_map(body.get("metadata")).get("labels")))
    spec = _map(body.get("spec"))
    if resource.kind == "CronJob":
        spec = _map(_map(spec.get("jobTemplate")).get("spec"))
    template = _map(spec.get("template"))
    return _map(template.get("spec")), dict(_map(_map(template.get("metadata")).get("labels")))


def _decode_secret(resource: Resource) -> dict[str, bytes]:
    keys: dict[str, bytes] = {}
    data = _map(resource.body.get("data"))
    for key, value in data.items():
        try:
            keys[key] = base64.b64decode(str(value or ""), validate=True)
        except (binascii.Error, ValueError):
            raise ImagelintError(f"Secret {resource.name}: data.{key} is not base64", path=resource.path,
                                 line=data.line_of(key)) from None
    for key, value in _map(resource.body.get("stringData")).items():
        keys[key] = str(value if value is not None else "").encode()
    return keys


def _configmap_keys(resource: Resource) -> dict[str, bytes]:
    keys: dict[str, bytes] = {}
    for key, value in _map(resource.body.get("data")).items():
        keys[key] = str(value if value is not None else "").encode()
    binary = _map(resource.body.get("binaryData"))
    for key, value in binary.items():
        if isinstance(value, bytes):
            keys[key] = value
            continue
        try:
            keys[key] = base64.b64decode(str(value or ""), validate=True)
        except (binascii.Error, ValueError):
            raise ImagelintError(f"ConfigMap {resource.name}: binaryData.{key} is not base64",
                                 path=resource.path, line=binary.line_of(key)) from None
    return keys


def _int_mode(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class KubeSet:
    """Every resource of a lint run, joined per namespace."""

    def __init__(self, resources: list[Resource]):
        self.resources = resources
        self.configmaps: dict[tuple[str, str], Resource] = {}
        self.secrets: dict[tuple[str, str], Resource] = {}
        self.services: list[Resource] = []
        self.certificates: list[Resource] = []
        self.issuers: list[Resource] = []
        self.bundles: list[Resource] = []
        for r in resources:
            if r.kind == "ConfigMap" and r.api_version == "v1":
                self.configmaps[(r.namespace, r.name)] = r
            elif r.kind == "Secret" and r.api_version == "v1":
                self.secrets[(r.namespace, r.name)] = r
            elif r.kind == "Service" and r.api_version == "v1":
                self.services.append(r)
            elif r.group == "cert-manager.io" and r.kind == "Certificate":
                self.certificates.append(r)
            elif r.group == "cert-manager.io" and r.kind in ("Issuer", "ClusterIssuer"):
                self.issuers.append(r)
            elif r.group == "trust.cert-manager.io" and r.kind == "Bundle":
                self.bundles.append(r)
        self._sources: dict[tuple[str, str, str], DataSource] = {}
        self.workloads = [w for r in resources if r.kind in WORKLOAD_KINDS and (w := self._workload(r))]

    @property
    def namespaces_with_data(self) -> set[str]:
        """Namespaces whose ConfigMaps/Secrets are in the set: there, an absent one is really absent."""
        return {ns for ns, _ in self.configmaps} | {ns for ns, _ in self.secrets}

    # ---- sources

    def source(self, kind: str, namespace: str, name: str) -> DataSource:
        key = (kind, namespace, name)
        if key not in self._sources:
            self._sources[key] = self._make_source(kind, namespace, name)
        return self._sources[key]

    def _make_source(self, kind: str, namespace: str, name: str) -> DataSource:
        table = self.configmaps if kind == "ConfigMap" else self.secrets
        resource = table.get((namespace, name))
        if resource is not None:
            keys = _configmap_keys(resource) if kind == "ConfigMap" else _decode_secret(resource)
            return DataSource(kind, name, namespace, resource, keys)
        if kind == "ConfigMap":
            for bundle in self.bundles:
                target = _map(_map(_map(bundle.body.get("spec")).get("target")).get("configMap"))
                if bundle.name == name and target.get("key"):
                    data, full = self.bundle_contents(bundle)
                    return DataSource(kind, name, namespace, None, {str(target["key"]): data},
                                      origin="trust-manager", full_bundle=full, producer=bundle)
        else:
            for bundle in self.bundles:
                target = _map(_map(_map(bundle.body.get("spec")).get("target")).get("secret"))
                if bundle.name == name and target.get("key"):
                    data, full = self.bundle_contents(bundle)
                    return DataSource(kind, name, namespace, None, {str(target["key"]): data},
                                      origin="trust-manager", full_bundle=full, producer=bundle)
            for cert in self.certificates:
                spec = _map(cert.body.get("spec"))
                if cert.namespace == namespace and spec.get("secretName") == name:
                    return DataSource(kind, name, namespace, None, {"tls.crt": None, "tls.key": None, "ca.crt": None},
                                      origin="cert-manager", producer=cert)
        return DataSource(kind, name, namespace, None, None, origin="absent")

    def bundle_contents(self, bundle: Resource) -> tuple[bytes | None, bool]:
        """(PEM a trust-manager Bundle writes, is it a full public set). Sources not in the set: unknown."""
        parts: list[bytes] = []
        full = False
        unknown = False
        for src in _seq(_map(bundle.body.get("spec")).get("sources")):
            src = _map(src)
            if src.get("useDefaultCAs") is True:
                full = True
                continue
            if "inLine" in src:
                parts.append(str(src.get("inLine") or "").encode())
                continue
            for kind, section in (("ConfigMap", "configMap"), ("Secret", "secret")):
                ref = _map(src.get(section))
                if not ref:
                    continue
                table = self.configmaps if kind == "ConfigMap" else self.secrets
                found = [r for (ns, n), r in table.items() if n == ref.get("name")]
                if not found:
                    unknown = True
                    continue
                keys = _configmap_keys(found[0]) if kind == "ConfigMap" else _decode_secret(found[0])
                if ref.get("key") in keys:
                    parts.append(keys[ref["key"]] or b"")
                else:
                    unknown = True
        if unknown and not parts:
            return None, full
        return b"\n".join(p.rstrip(b"\n") for p in parts) + b"\n" if parts else b"", full

    def _use(self, kind: str, namespace: str, ref: Map, default_mode: int = DEFAULT_MODE) -> SourceUse:
        name = str(ref.get("name") or ref.get("secretName") or "")
        items = None
        if isinstance(ref.get("items"), list):
            items = []
            for i, item in enumerate(ref["items"]):
                item = _map(item)
                items.append((str(item.get("key", "")), str(item.get("path", item.get("key", ""))),
                              _int_mode(item.get("mode")), item.line))
        mode = _int_mode(ref.get("defaultMode"))
        return SourceUse(self.source(kind, namespace, name), ref.get("optional") is True, ref, items,
                         mode if mode is not None else default_mode)

    # ---- workloads

    def _workload(self, resource: Resource) -> Workload | None:
        found = pod_spec_of(resource)
        if found is None:
            return None
        spec, labels = found
        ns = resource.namespace
        workload = Workload(resource, spec, {str(k): str(v) for k, v in labels.items()})
        for vol in _seq(spec.get("volumes")):
            vol = _map(vol)
            name = str(vol.get("name", ""))
            volume = Volume(name, next((k for k in vol if k != "name"), "emptyDir"), vol)
            if volume.type == "configMap":
                volume.uses.append(self._use("ConfigMap", ns, _map(vol.get("configMap"))))
            elif volume.type == "secret":
                volume.uses.append(self._use("Secret", ns, _map(vol.get("secret"))))
            elif volume.type == "projected":
                projected = _map(vol.get("projected"))
                mode = _int_mode(projected.get("defaultMode"))
                for src in _seq(projected.get("sources")):
                    src = _map(src)
                    for kind, section in (("ConfigMap", "configMap"), ("Secret", "secret")):
                        if section in src:
                            volume.uses.append(self._use(kind, ns, _map(src.get(section)),
                                                         mode if mode is not None else DEFAULT_MODE))
                    if not any(s in src for s in ("configMap", "secret")):
                        volume.type = "projected+other"  # tokens, downwardAPI: not all files known
            workload.volumes[name] = volume
        for section, init in (("initContainers", True), ("containers", False)):
            for node in _seq(spec.get(section)):
                node = _map(node)
                workload.containers.append(self._container(workload, node, init))
        return workload

    def _container(self, workload: Workload, node: Map, init: bool) -> Container:
        ns = workload.namespace
        container = Container(str(node.get("name", "")), str(node.get("image", "")), init, node, workload)
        for entry in _seq(node.get("envFrom")):
            entry = _map(entry)
            prefix = str(entry.get("prefix") or "")
            for kind, section in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
                if section not in entry:
                    continue
                use = self._use(kind, ns, _map(entry.get(section)))
                container.env_uses.append(use)
                for key, data in (use.source.keys or {}).items():
                    if re.fullmatch(r"[-._a-zA-Z][-._a-zA-Z0-9]*", key):
                        value = data.decode("utf-8", "replace") if data is not None else None
                        container.env[prefix + key] = EnvVar(prefix + key, value, entry, "envFrom", use)
        for entry in _seq(node.get("env")):
            entry = _map(entry)
            name = str(entry.get("name", ""))
            if "valueFrom" in entry:
                value_from = _map(entry.get("valueFrom"))
                value = None
                use = None
                for kind, section in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
                    if section in value_from:
                        ref = _map(value_from.get(section))
                        use = self._use(kind, ns, ref)
                        use.items = [(str(ref.get("key", "")), str(ref.get("key", "")), None, ref.line)]
                        container.env_uses.append(use)
                        data = (use.source.keys or {}).get(str(ref.get("key", "")))
                        value = data.decode("utf-8", "replace") if data is not None else None
                container.env[name] = EnvVar(name, value, entry, "valueFrom", use)
            else:
                raw = entry.get("value")
                value = "" if raw is None else str(raw).lower() if isinstance(raw, bool) else str(raw)
                container.env[name] = EnvVar(name, _expand(value, container.env), entry, "env")
        for m in _seq(node.get("volumeMounts")):
            m = _map(m)
            name = str(m.get("name", ""))
            sub = m.get("subPath")
            container.mounts.append(Mount(workload.volumes.get(name), name, norm(str(m.get("mountPath", "/"))),
                                          str(sub) if sub not in (None, "") else None, m))
        return container

    # ---- lookups

    def services_in(self, namespace: str) -> list[Resource]:
        return [s for s in self.services if s.namespace == namespace]

    def pods_of(self, service: Resource) -> list[Workload]:
        """Workloads whose pod labels match the Service's selector (in its namespace)."""
        cache = self.__dict__.setdefault("_pods_cache", {})
        if id(service) not in cache:
            cache[id(service)] = self._select(service)
        return cache[id(service)]

    def _select(self, service: Resource) -> list[Workload]:
        selector = _map(_map(service.body.get("spec")).get("selector"))
        if not selector:
            return []
        wanted = {str(k): str(v) for k, v in selector.items()}
        return [w for w in self.workloads if w.namespace == service.namespace
                and all(w.labels.get(k) == v for k, v in wanted.items())]

    def find_workload(self, namespace: str | None, kind: str, name: str) -> Workload | None:
        for w in self.workloads:
            r = w.resource
            if r.kind.lower() == kind.lower() and r.name == name and (namespace is None or r.namespace == namespace):
                return w
        return None

    def tls_secrets_of(self, workload: Workload) -> list[DataSource]:
        """Secrets the pod mounts that hold a serving certificate (tls.crt)."""
        found = []
        for volume in workload.volumes.values():
            for use in volume.uses:
                src = use.source
                if src.kind == "Secret" and src.keys and "tls.crt" in src.keys and src not in found:
                    found.append(src)
        return found


def _expand(value: str, env: dict[str, EnvVar]) -> str | None:
    """`$(VAR)` references to earlier variables, as kubelet expands them (`$$` escapes)."""
    if "$(" not in value:
        return value
    unknown = False

    def sub(match: re.Match) -> str:
        nonlocal unknown
        if match.group(0) == "$$":
            return "$"
        var = env.get(match.group(1))
        if var is None:
            return match.group(0)
        if var.value is None:
            unknown = True
            return ""
        return var.value

    out = re.sub(r"\$\$|\$\(([-._a-zA-Z][-._a-zA-Z0-9]*)\)", sub, value)
    return None if unknown else out


def resources_from(documents: Iterable[Document]) -> Iterator[Resource]:
    for doc in documents:
        body = doc.body
        if not (isinstance(body.get("apiVersion"), str) and isinstance(body.get("kind"), str)):
            continue
        meta = _map(body.get("metadata"))
        kind = body["kind"]
        namespace = "" if kind in CLUSTER_SCOPED else str(meta.get("namespace") or "default")
        yield Resource(kind, body["apiVersion"], str(meta.get("name") or ""), namespace, body, doc.path, doc.line)
