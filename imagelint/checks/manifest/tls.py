"""TLS Secrets and cert-manager Certificates: what the pods behind a Service serve.

The Secret's `tls.crt`/`tls.key`/`ca.crt` go through the one served-certificate analysis
(certs/served.py) that server configurations use, with the Service names clients type
(`svc`, `svc.ns`, `svc.ns.svc`, `svc.ns.svc.cluster.local`) as the names to cover. A
Certificate's `duration` of 48 h or less, or a `renewBefore` that leaves no time to renew, is the
incident's 1-day certificate before it is issued.
"""
from __future__ import annotations

from datetime import timedelta

from ...certs.load import load_certificates
from ...certs.served import SHORT_LIVED_HOURS, served_problems
from ...findings import Severity
from ...kube.certificates import parse_duration
from ...kube.model import KubeSet, Map, Resource
from ..registry import check
from .clients import service_names
from .context import ManifestContext

RULE_OF_CATEGORY = {
    "cert-expired": "IL610",
    "cert-short-lived": "IL611",
    "cert-chain-incomplete": "IL612",
    "cert-key-mismatch": "IL613",
    "cert-san-mismatch": "IL614",
    "server-cert-missing": "IL615",
}
_KEY_OF_CATEGORY = {"cert-key-mismatch": "tls.key", "server-cert-missing": "tls.crt"}
MIN_RENEW_MARGIN = timedelta(hours=1)


def _tls_secrets(kset: KubeSet):
    for (ns, name), resource in kset.secrets.items():
        source = kset.source("Secret", ns, name)
        if resource.body.get("type") == "kubernetes.io/tls" or (source.keys and "tls.crt" in source.keys):
            yield resource, source


def _names_for(kset: KubeSet, secret: Resource) -> list[str]:
    names: list[str] = []
    for service in kset.services_in(secret.namespace):
        for workload in kset.pods_of(service):
            if any(s.name == secret.name for s in kset.tls_secrets_of(workload)):
                names.extend(n for n in service_names(service) if n not in names)
    return names


@check("IL610", "IL611", "IL612", "IL613", "IL614", "IL615", kind="manifest")
def tls_secret_problems(kset: KubeSet, ctx: ManifestContext):
    for resource, source in _tls_secrets(kset):
        keys = source.keys or {}
        cert = keys.get("tls.crt")
        if cert is None:
            continue
        ca = keys.get("ca.crt") or b""
        trusted = load_certificates(ca, f"secret {resource.name} ca.crt").certificates if ca else []
        problems = served_problems(cert, keys.get("tls.key"), names=_names_for(kset, resource), trusted=trusted,
                                   at=ctx.at, expiring_days=ctx.expiring_days, source=f"secret {resource.name} tls.crt",
                                   key_source=f"secret {resource.name} tls.key")
        for problem in problems:
            rule = RULE_OF_CATEGORY.get(problem.category)
            if rule is None:
                continue
            key = _KEY_OF_CATEGORY.get(problem.category, "tls.crt")
            line = source.key_line(key) or source.key_line("tls.crt") or resource.line
            severity = Severity.parse(problem.severity)
            yield ctx.hit(rule, f"{resource.label}: {problem.message}", resource, line, severity=severity,
                          **problem.properties)
    yield from _certificate_durations(kset, ctx)




def _hours(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:g}h"


def _certificate_durations(kset: KubeSet, ctx: ManifestContext):
    # cert-manager docs, "Certificate resource": duration defaults to 2160h, renewBefore to 1/3 of it.
    for cert in kset.certificates:
        spec = cert.body.get("spec")
        if not isinstance(spec, Map):
            continue
        duration = parse_duration(spec.get("duration")) if "duration" in spec else timedelta(hours=2160)
        if duration is None:
            continue
        if "duration" in spec and duration <= timedelta(hours=SHORT_LIVED_HOURS):
            yield ctx.hit("IL611", f"{cert.label}: duration {spec['duration']} issues certificates valid for only "
                          f"{_hours(duration)}: one missed renewal (an issuer outage, a pod that does not reload the "
                          "Secret) and clients fail with \"certificate has expired\"", cert, spec.line_of("duration"),
                          problem="short-duration", duration=str(spec["duration"]))
        if "renewBefore" not in spec:
            continue
        renew = parse_duration(spec.get("renewBefore"))
        if renew is None:
            continue
        if renew >= duration:
            yield ctx.hit("IL611", f"{cert.label}: renewBefore {spec['renewBefore']} is not shorter than the duration "
                          f"({_hours(duration)}): cert-manager requires renewBefore < duration and does not issue it",
                          cert, spec.line_of("renewBefore"), severity=Severity.ERROR, problem="renew-before-too-long")
        elif renew < MIN_RENEW_MARGIN:
            yield ctx.hit("IL611", f"{cert.label}: renewBefore {spec['renewBefore']} leaves under an hour before expiry "
                          "to renew, store and reload the certificate: a short issuer outage lets it expire",
                          cert, spec.line_of("renewBefore"), problem="renew-before-no-margin")
