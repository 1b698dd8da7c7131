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
    return sightings, summaries
