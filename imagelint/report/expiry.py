"""`imagelint expiry` reports: a soonest-first table, JSON, and the Prometheus text exposition format.

The Prometheus gauges keep the names and per-certificate labels of x509-certificate-exporter
(`x509_cert_not_after`, `x509_cert_not_before`, `x509_cert_expired`; `serial_number`, `subject_*`,
`issuer_*`, `filename`, `filepath`, `secret_*`, `configmap_*`), so alerts written for it keep
working; `image`, `endpoint` and `role` say where imagelint found the certificate. Every series has
the same label set (empty strings where a label does not apply), as that exporter does.
"""
from __future__ import annotations

import json
import posixpath
from datetime import datetime

from ..certs.expiry import Sighting, Summary, days_left, status_of

NAME_FIELDS = ("C", "ST", "L", "O", "OU", "CN")
PLACE_LABELS = ("filename", "filepath", "secret_namespace", "secret_name", "secret_key", "configmap_namespace",
                "configmap_name", "configmap_key", "image", "endpoint", "role")


def _row(s: Sighting, at: datetime, warn_days: int) -> dict:
    r = s.record
    return {"source": s.source, "path": s.path, "subject": r.subject, "issuer": r.issuer,
            "fingerprint_sha256": r.fingerprint_sha256, "not_after": r.not_after.isoformat(),
            "days_left": days_left(r, at), "status": status_of(r, at, warn_days), "role": s.role,
            **({"origin": s.labels["image"]} if "image" in s.labels else {})}


def render_json(sightings: list[Sighting], summaries: list[Summary], at: datetime, warn_days: int,
                errors: list[str], durations: list[dict] | None = None) -> str:
    return json.dumps({
        "version": 1,
        "generated_at": at.isoformat(),
        "warn_days": warn_days,
        "certificates": [_row(s, at, warn_days) for s in sightings],
        "summarised": [{"source": m.source, "path": m.path, "count": m.count, "role": "anchor",
                        "soonest_not_after": m.soonest.isoformat() if m.soonest else None,
                        **({"origin": m.labels["image"]} if "image" in m.labels else {})} for m in summaries],
        "cert_manager": durations or [],
        "errors": errors,
    }, indent=2) + "\n"


def _hours(value: float) -> str:
    return f"{value:g}h" if value < 48 else f"{value / 24:g} days"


def render_text(sightings: list[Sighting], summaries: list[Summary], at: datetime, warn_days: int,
                durations: list[dict] | None = None) -> str:
    planned = [f"~ cert-manager Certificate {d['certificate']} issues certificates valid {_hours(d['duration_hours'])}, "
               f"renewed {_hours(d['renew_before_hours'])} before they expire"
               + (f" (Secret {d['secret']})" if d["secret"] else "") for d in durations or []]
    if not sightings and not summaries:
        return "\n".join([*planned, "No certificates found."]) + "\n"
    header = ("STATUS", "DAYS", "NOT AFTER", "ROLE", "SUBJECT", "WHERE")
    rows = []
    for s in sightings:
        where = s.path if "image" not in s.labels else f"{s.labels['image']}:{s.path}"
        rows.append((status_of(s.record, at, warn_days), str(days_left(s.record, at)),
                     f"{s.record.not_after:%Y-%m-%d %H:%M}", s.role, s.record.label, where))
    widths = [max(len(x[i]) for x in [header, *rows]) for i in range(len(header) - 1)]
    lines = ["  ".join(col.ljust(w) for col, w in zip(row[:-1], widths)) + "  " + row[-1] for row in [header, *rows]]
    for m in summaries:
        where = m.path if "image" not in m.labels else f"{m.labels['image']}:{m.path}"
        soonest = f", soonest {m.soonest:%Y-%m-%d}" if m.soonest else ""
        lines.append(f"+ {m.count} public roots in {where}{soonest} (summarised; --all lists them)")
    lines.extend(planned)
    counts = {k: sum(1 for s in sightings if status_of(s.record, at, warn_days) == k) for k in ("expired", "expiring")}
    lines.append(f"{len(sightings)} certificate(s): {counts['expired']} expired, {counts['expiring']} expiring "
                 f"within {warn_days} days.")
    return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _name_fields(name) -> dict[str, str]:
    from cryptography.x509.oid import NameOID

    oids = {"C": NameOID.COUNTRY_NAME, "ST": NameOID.STATE_OR_PROVINCE_NAME, "L": NameOID.LOCALITY_NAME,
            "O": NameOID.ORGANIZATION_NAME, "OU": NameOID.ORGANIZATIONAL_UNIT_NAME, "CN": NameOID.COMMON_NAME}
    out = {}
    for key, oid in oids.items():
        values = name.get_attributes_for_oid(oid) if name is not None else []
        out[key] = ",".join(str(v.value) for v in values)
    return out


def _labels(s: Sighting) -> dict[str, str]:
    cert = s.record.cert
    subject = _name_fields(cert.subject if cert is not None else None)
    issuer = _name_fields(cert.issuer if cert is not None else None)
    labels = {"serial_number": str(cert.serial_number) if cert is not None else ""}
    labels.update({f"subject_{k}": subject[k] for k in NAME_FIELDS})
    labels.update({f"issuer_{k}": issuer[k] for k in NAME_FIELDS})
    place = {key: "" for key in PLACE_LABELS}
    if s.source in ("file", "image"):
        place["filepath"] = s.path
        place["filename"] = posixpath.basename(s.path)
    place.update({k: v for k, v in s.labels.items() if k in place})
    place["role"] = s.role
    labels.update(place)
    return labels


def render_prometheus(sightings: list[Sighting], at: datetime) -> str:
    series = []
    seen: dict[tuple, int] = {}
    for s in sightings:
        labels = _labels(s)
        key = tuple(sorted(labels.items()))
        seen[key] = seen.get(key, 0) + 1
        series.append((s, labels, key))
    out: list[str] = []
    metrics = (
        ("x509_cert_not_after", "Unix time of the certificate's notAfter.", lambda s: int(s.record.not_after.timestamp())),
        ("x509_cert_not_before", "Unix time of the certificate's notBefore.",
         lambda s: int(s.record.not_before.timestamp())),
        ("x509_cert_expired", "1 if the certificate has expired, else 0.", lambda s: int(at > s.record.not_after)),
    )
    for name, help_text, value in metrics:
        out.append(f"# HELP {name} {help_text}")
        out.append(f"# TYPE {name} gauge")
        for s, labels, key in series:
            shown = dict(labels)
            if seen[key] > 1:  # two certificates with one label set: tell them apart, as the exporter does
                shown["discriminator"] = s.record.fingerprint_sha256[:8]
            text = ",".join(f'{k}="{_escape(v)}"' for k, v in shown.items())
            out.append(f"{name}{{{text}}} {value(s)}")
    out.append("# HELP imagelint_expiry_scan_timestamp_seconds Unix time of this imagelint expiry run.")
    out.append("# TYPE imagelint_expiry_scan_timestamp_seconds gauge")
    out.append(f"imagelint_expiry_scan_timestamp_seconds {int(at.timestamp())}")
    return "\n".join(out) + "\n"
