"""Expiry of certificates wherever they live: one sighting per certificate and place.

A sighting says where a certificate was found (a file, a path in an image, an endpoint's chain, a
Kubernetes Secret key), what it does there (trust anchor, intermediate, served leaf) and, against a
moment and a warning window, whether it is expired, expiring or fine. Validity includes `notAfter`
itself (RFC 5280 4.1.2.5), so a certificate is expired only after that second.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from .load import CertRecord

ROLES = ("leaf", "intermediate", "anchor")


@dataclass(frozen=True)
class Sighting:
    record: CertRecord
    source: str  # file | image | endpoint | secret | configmap
    path: str  # the file, the path inside the image, HOST:PORT, or NAMESPACE/NAME/KEY
    role: str  # leaf | intermediate | anchor
    labels: dict[str, str] = field(default_factory=dict, compare=False)  # image, endpoint, secret_name, ...


@dataclass(frozen=True)
class Summary:
    """Public roots of a distribution bundle or store, counted instead of listed."""

    source: str
    path: str
    count: int
    soonest: datetime | None
    labels: dict[str, str] = field(default_factory=dict, compare=False)


def status_of(record: CertRecord, at: datetime, warn_days: int) -> str:
    if at > record.not_after:
        return "expired"
    if (record.not_after - at).total_seconds() <= warn_days * 86400:
        return "expiring"
    return "ok"


def days_left(record: CertRecord, at: datetime) -> int:
    """Whole days until notAfter, counted towards zero: 0 on its last day and its first day past."""
    return int((record.not_after - at).total_seconds() / 86400)


def role_of(record: CertRecord, position: int | None = None) -> str:
    """What a certificate does where it sits. `position`: its index in a served chain (0: the leaf)."""
    if record.is_ca is not True and not (record.version == 1 and record.self_signed):
        return "leaf"
    if position == 0:
        return "leaf"
    return "anchor" if record.self_signed else "intermediate"


def unique(sightings: list[Sighting]) -> list[Sighting]:
    """Once per certificate and place, soonest expiry first."""
    seen: set[tuple] = set()
    out = []
    for s in sightings:
        key = (s.record.fingerprint_sha256, s.source, s.path, tuple(sorted(s.labels.items())))
        if key not in seen:
            seen.add(key)
            out.append(s)
    return sorted(out, key=lambda s: (s.record.not_after, s.path, s.record.subject))
