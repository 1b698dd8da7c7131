"""Every certificate a filesystem holds for trust, as expiry sightings: the system bundle, the
anchors it is built from and each runtime's own store. Works on any trust model (image, host, pod).

Public roots (the distribution's set, or a store of the size of one) are summarised per store
unless `include_public`: a public root expiring is the distribution's business, a custom CA
expiring is the user's.
"""
from __future__ import annotations

from ..certs.expiry import Sighting, Summary, role_of
from ..certs.load import CertRecord
from .model import SMALL_BUNDLE, TrustModel


def model_sightings(model: TrustModel, source: str, labels: dict[str, str],
                    include_public: bool = False) -> tuple[list[Sighting], list[Summary]]:
    public = model.public_fingerprints or model.reference_public_fingerprints
    custom = set(model.custom_cas)
    sightings: list[Sighting] = []
    summaries: list[Summary] = []

    def add_store(path: str, certificates: list[CertRecord]) -> None:
        # A store of the size of a public set whose members we cannot tell apart is summarised whole.
        unknown_public = not public and len(certificates) >= SMALL_BUNDLE
        counted = []
        for cert in certificates:
            is_public = cert.fingerprint_sha256 not in custom and (cert.fingerprint_sha256 in public or unknown_public)
            if is_public and not include_public:
                counted.append(cert)
            else:
                sightings.append(Sighting(cert, source, path, role_of(cert), labels))
        if counted:
            summaries.append(Summary(source, path, len(counted), min(c.not_after for c in counted), labels))

    if model.bundle is not None:
        add_store(model.bundle.path, model.bundle.certificates)
    for anchor in model.anchor_files:
        for cert in anchor.certificates:
            sightings.append(Sighting(cert, source, anchor.path, role_of(cert), labels))
    for store in model.all_stores:
        if store.runtime == "os" or not store.certificates:
            continue
        path = store.sources[0] if len(store.sources) == 1 else store.name
        add_store(path, store.certificates)
    sightings.extend(served_sightings(model, source, labels))
    return sightings, summaries


def served_sightings(model: TrustModel, source: str, labels: dict[str, str]) -> list[Sighting]:
    """What the nginx, Apache and HAProxy configurations of the filesystem serve: the leaf first,
    then its chain, from the certificate file (and Apache's chain file)."""
    from ..certs.load import load_certificates
    from ..servers import find_servers
    from ..servers.analysis import MAX_CERT_FILE_BYTES, endpoint_files
    from ..servers.common import fetch_all, read_bytes

    found: list[Sighting] = []
    configs = find_servers(model.view, cwd=str(getattr(model, "config", {}).get("WorkingDir") or "/"), env=model.env)
    endpoints = [e for config in configs for e in config.endpoints]
    fetch_all(model.view, [p for e in endpoints for p in endpoint_files(e)])
    for endpoint in endpoints:
        position = 0
        for path in (endpoint.cert_file, endpoint.chain_file):
            data = read_bytes(model.view, path, MAX_CERT_FILE_BYTES) if path else None
            if data is None:
                continue
            for cert in load_certificates(data, path).certificates:
                found.append(Sighting(cert, source, path, role_of(cert, position), labels))
                position += 1
    return found
