"""Would each client trust the servers it names? (IL605)

A client is a container whose env values or arguments name a Service of the set
(`https://orders-api:8443`, `orders-api.payments.svc`); the server's chain is the TLS Secret its
pods mount. The client's bundle is what the pod mounts where its CA variables or the system store
point. A bundle holding no CA the chain reaches is the incident: "x509: certificate signed by
unknown authority".
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from ...certs.load import load_certificates
from ...certs.verify import POLICIES, verify
from ...fixes.kube import ca_to_add
from ...kube.model import Container, DataSource, KubeSet, Resource
from ..registry import check
from .common import covered_store_paths, mounted_data, trust_paths
from .context import ManifestContext


def service_names(service: Resource) -> list[str]:
    """The names clients use for a Service, longest first (Kubernetes docs, "DNS for Services and Pods")."""
    name, ns = service.name, service.namespace
    return [f"{name}.{ns}.svc.cluster.local", f"{name}.{ns}.svc", f"{name}.{ns}", name]


def service_ports(service: Resource) -> set[str]:
    ports = set()
    for port in (service.body.get("spec") or {}).get("ports") or []:
        if isinstance(port, dict) and port.get("port") is not None:
            ports.add(str(port["port"]))
    return ports


@dataclass
class Reference:
    service: Resource
    host: str  # the name as the client typed it
    line: int
    text: str


def references(kset: KubeSet, container: Container) -> list[Reference]:
    """Services of the container's namespace (or named with theirs) that it names in env or args."""
    texts: list[tuple[str, int]] = [(v.value, v.line) for v in container.env.values() if v.value]
    node = container.node
    for key in ("command", "args"):
        for word in node.get(key) or []:
            if isinstance(word, str):
                texts.append((word, node.line_of(key)))
    found: list[Reference] = []
    for service in kset.services:
        hit = _first_reference(service, container, texts)
        if hit is not None:
            found.append(hit)
    return found


@lru_cache(maxsize=4096)
def _name_pattern(name: str) -> re.Pattern:
    return re.compile(r"(?<![\w.-])(https://)?" + re.escape(name) + r"(?::(\d+))?(?![\w-]|\.[\w-])")


def _first_reference(service: Resource, container: Container, texts: list[tuple[str, int]]) -> Reference | None:
    texts = [(text, line) for text, line in texts if service.name in text]  # most texts name no Service
    if not texts:
        return None
    ports = service_ports(service)
    same_namespace = service.namespace == container.workload.namespace
    for name in service_names(service):
        if name == service.name and not same_namespace:
            continue  # a bare name resolves in the client's own namespace only
        pattern = _name_pattern(name)
        for text, line in texts:
            for match in pattern.finditer(text):
                https, port = match.group(1), match.group(2)
                # A bare word "orders-api" may be anything; a URL, a qualified name or a port is a connection.
                if https or name != service.name or (port and port in ports):
                    return Reference(service, name, line, text)
    return None


@dataclass
class ClientBundle:
    path: str  # where the client reads it
    how: str  # "SSL_CERT_FILE", "the system bundle", ...
    data: bytes
    source: DataSource | None
    key: str | None
    mount_line: int


def client_bundles(container: Container) -> list[ClientBundle]:
    """Mounted CA files the container's clients read: named by a CA variable, or mounted over the
    system store. Files from the image are not here (imagelint trust --workload --image reads them)."""
    out: list[ClientBundle] = []
    seen: set[str] = set()
    candidates = [(var, path) for var, path, _line in trust_paths(container) if var != "-Djavax.net.ssl.trustStore"]
    for mount in container.mounts:
        for path in covered_store_paths(mount):
            candidates.append(("the system store", path))
    for how, path in candidates:
        found = mounted_data(container, path)
        if found is None:
            continue
        mount, rel, data, known = found
        files = mount.spec().files or {}
        entries = [(path, rel)] if (mount.sub_path is not None or rel in files) else [
            (f"{mount.path}/{name}", name) for name in files if rel == "" or name.startswith(rel + "/")]
        for full, relative in entries:
            entry = files.get(relative) if mount.sub_path is None else files.get("")
            if entry is None or entry.data is None or full in seen:
                continue
            seen.add(full)
            origin = mount.file_source(relative) if mount.sub_path is None else mount.file_source(mount.sub_path)
            use, key = origin if origin else (None, None)
            out.append(ClientBundle(full, how, entry.data, use.source if use else None, key, mount.line))
    return out


def server_chain(kset: KubeSet, service: Resource):
    """(chain, Secret) served by the Service's pods: tls.crt of the TLS Secret they mount."""
    for workload in kset.pods_of(service):
        for secret in kset.tls_secrets_of(workload):
            data = secret.keys.get("tls.crt") if secret.keys else None
            if data:
                chain = load_certificates(data, f"secret {secret.name} tls.crt").certificates
                if chain:
                    return chain, secret
    return None, None


@check("IL605", kind="manifest")
def bundle_missing_ca(kset: KubeSet, ctx: ManifestContext):
    chains: dict[int, tuple] = {}  # id(service) -> (chain, secret): each Secret parsed once
    for workload in kset.workloads:
        for container in workload.containers:
            refs = references(kset, container)
            if not refs:
                continue
            bundles = client_bundles(container)
            if not bundles:
                continue
            for ref in refs:
                if id(ref.service) not in chains:
                    chains[id(ref.service)] = server_chain(kset, ref.service)
                chain, secret = chains[id(ref.service)]
                if chain is None:
                    continue
                for bundle in bundles:
                    store = load_certificates(bundle.data, bundle.path).certificates
                    result = verify(chain, store, None, ctx.at, POLICIES["curl"])
                    if result.anchor is not None:
                        continue
                    top = result.chain[-1]
                    missing = top.subject if top.self_signed else top.issuer
                    where = (f"{bundle.source.label}, key {bundle.key}" if bundle.source is not None and bundle.key
                             else "the mounted file")
                    target = bundle.source.resource if bundle.source is not None and bundle.source.resource else None
                    line = (bundle.source.key_line(bundle.key) if target is not None and bundle.key else None)
                    resource = target if line else workload.resource
                    fix_props = {}
                    if target is not None and target.kind == "ConfigMap" and bundle.key:
                        pem = ca_to_add(chain, (secret.keys or {}).get("ca.crt"))
                        if pem is not None:
                            fix_props = {"bundle_source": f"{target.namespace}/configmap/{target.name}",
                                         "bundle_key": bundle.key, "add_ca": pem.decode()}
                    yield ctx.hit(
                        "IL605",
                        f"{container.label} reaches {ref.host} ({ref.service.label}), whose pods serve secret "
                        f"{secret.name}, but {bundle.path} ({bundle.how}; {where}) lacks the CA that issued it "
                        f"({missing}): every handshake fails with \"x509: certificate signed by unknown authority\" "
                        "(OpenSSL: \"self-signed certificate in certificate chain\"); add that CA to the bundle",
                        resource, line or bundle.mount_line, container=container, service=ref.service.name,
                        host=ref.host, bundle=bundle.path, missing_ca=missing,
                        client=f"{workload.resource.namespace}/{workload.resource.kind.lower()}/{workload.resource.name}",
                        **fix_props)
