"""Certificates that manifests carry: TLS Secrets and CA bundles in ConfigMaps and Secrets.

For `imagelint expiry`: each key holding certificates is one place, labelled as
x509-certificate-exporter labels Secrets and ConfigMaps (`secret_namespace`, `secret_name`,
`secret_key`; `configmap_*`).
"""
from __future__ import annotations

import re
from datetime import timedelta
from typing import Iterator

from .load import expand_lists, load_documents
from .model import _configmap_keys, _decode_secret, resources_from

_GO_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)(h|m|s|ms))+$")

def parse_duration(text) -> timedelta | None:
    """A Go duration (`2160h`, `1h30m`, `90m0s`) as cert-manager takes it; None if unreadable."""
    if not isinstance(text, str) or not _GO_DURATION.match(text.strip()):
        return None
    total = timedelta()
    for amount, unit in re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", text.strip()):
        value = float(amount)
        total += {"h": timedelta(hours=value), "m": timedelta(minutes=value), "s": timedelta(seconds=value),
                  "ms": timedelta(milliseconds=value)}[unit]
    return total
_MARKERS = (b"-----BEGIN CERTIFICATE-----", b"-----BEGIN TRUSTED CERTIFICATE-----")


def certificate_durations(text: str, path: str) -> Iterator[tuple[str, str, timedelta, timedelta]]:
    """(Certificate NAMESPACE/NAME, its Secret, duration, renewBefore) of every cert-manager Certificate,
    with cert-manager's defaults (2160h, and a third of the duration) where the spec names none."""
    for resource in resources_from(expand_lists(load_documents(text, path))):
        if resource.group != "cert-manager.io" or resource.kind != "Certificate":
            continue
        spec = resource.body.get("spec") if isinstance(resource.body.get("spec"), dict) else {}
        duration = parse_duration(spec.get("duration")) if "duration" in spec else timedelta(hours=2160)
        if duration is None:
            continue
        renew = parse_duration(spec.get("renewBefore")) if "renewBefore" in spec else duration / 3
        yield (f"{resource.namespace}/{resource.name}", str(spec.get("secretName") or ""), duration,
               renew if renew is not None else duration / 3)


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
