"""Certificates that manifests carry: TLS Secrets and CA bundles in ConfigMaps and Secrets.

For `imagelint expiry`: each key holding certificates is one place, labelled as
x509-certificate-exporter labels Secrets and ConfigMaps (`secret_namespace`, `secret_name`,
`secret_key`; `configmap_*`).
"""
from __future__ import annotations

from typing import Iterator

from .load import expand_lists, load_documents
from .model import _configmap_keys, _decode_secret, resources_from

_MARKERS = (b"-----BEGIN CERTIFICATE-----", b"-----BEGIN TRUSTED CERTIFICATE-----")


def manifest_certificates(text: str, path: str) -> Iterator[tuple[str, dict[str, str], bytes]]:
    """(place, labels, bytes) for every Secret or ConfigMap key whose value holds certificates."""
    for resource in resources_from(expand_lists(load_documents(text, path))):
        if resource.api_version != "v1" or resource.kind not in ("Secret", "ConfigMap"):
            continue
        prefix = "secret" if resource.kind == "Secret" else "configmap"
        keys = _decode_secret(resource) if resource.kind == "Secret" else _configmap_keys(resource)
        for key, data in sorted(keys.items()):
            if not any(marker in data for marker in _MARKERS) and not data[:2] == b"\x30\x82":
                continue
            labels = {f"{prefix}_namespace": resource.namespace, f"{prefix}_name": resource.name,
                      f"{prefix}_key": key, "_source": prefix}
            yield f"{resource.namespace}/{resource.name}/{key}", labels, data
