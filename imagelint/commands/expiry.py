"""`imagelint expiry`: every certificate's expiry, soonest first, from files, images, endpoints and
Kubernetes manifests, for people (text), programs (JSON) and Prometheus (textfile collector).

Targets are told apart as a user would: an existing path is a file or directory (YAML/JSON with
`apiVersion` and `kind` is a manifest); `https://HOST[:PORT]` or `HOST:PORT` (digits) is an
endpoint; anything else is an image reference, as `scan` takes it. A prefix (`oci:`,
`docker-archive:`, `docker://`, ...) always means an image.
"""
from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from datetime import datetime, timezone

from ..findings import ImagelintError

MAX_FILES = 100_000  # a directory walk stops here, with a message
MAX_FILE_BYTES = 64 * 1024 * 1024
CERT_SUFFIXES = (".pem", ".crt", ".cer", ".der", ".ca-bundle", ".p7b", ".p7c", ".p12", ".pfx", ".jks", ".keystore",
                 ".truststore", ".jceks", ".key", ".cert")
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
IMAGE_PREFIXES = ("oci:", "oci-archive:", "docker-archive:", "docker-daemon:", "docker://", "daemon:", "registry:")
_ENDPOINT = re.compile(r"^(?:https://|tls://)?(\[[0-9a-fA-F:]+\]|[A-Za-z0-9_.-]+):(\d{1,5})/?$")
SMALL_BUNDLE = 100  # a file holding this many certificates is a distribution bundle: summarised


@dataclass
class Collected:
    sightings: list = field(default_factory=list)
    summaries: list = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    durations: list[dict] = field(default_factory=list)  # cert-manager Certificates: what they will issue


def classify(target: str) -> str:
    if target.startswith(IMAGE_PREFIXES):
        return "image"
    if os.path.lexists(target):
        return "path"
    if target.startswith(("https://", "tls://")) or _ENDPOINT.match(target):
        return "endpoint"
    return "image"


def collect(targets: list[str], include_public: bool = False, timeout: float = 10.0, cache=None) -> Collected:
    found = Collected()
    for target in targets:
        try:
            kind = classify(target)
            if kind == "path":
                _collect_path(target, found, include_public)
            elif kind == "endpoint":
                _collect_endpoint(target, found, timeout)
            else:
                _collect_image(target, found, include_public, cache)
        except ImagelintError as exc:
            found.errors.append(str(exc.as_input_error(target)))
    return found


# --------------------------------------------------------------------------- files and directories

def _collect_path(target: str, found: Collected, include_public: bool) -> None:
    info = os.stat(target, follow_symlinks=True) if os.path.exists(target) else None
    if info is None:
        raise ImagelintError(f"{target}: dangling link")
    if stat.S_ISDIR(info.st_mode):
        count = 0
        for root, dirs, files in os.walk(target):  # os.walk does not descend into linked directories
            dirs.sort()
            for name in sorted(files):
                count += 1
                if count > MAX_FILES:
                    found.errors.append(f"{target}: more than {MAX_FILES} files; the rest was not read")
                    return
                path = os.path.join(root, name)
                if name.lower().endswith(MANIFEST_SUFFIXES):
                    if _is_manifest(path):
                        _collect_manifest(path, found)
                    continue
                _collect_file(path, found, include_public, named=False)
        return
    if target.lower().endswith(MANIFEST_SUFFIXES) and _is_manifest(target):
        _collect_manifest(target, found)
        return
    _collect_file(target, found, include_public, named=True)


def _read_regular(path: str) -> bytes | None:
    """The bytes of a regular file (never a FIFO or device: those would block or never end)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise ImagelintError(f"{path}: cannot read ({exc.strerror})") from None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            return None
        data = fh.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise ImagelintError(f"{path}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MB; not read")
    return data


def _collect_file(path: str, found: Collected, include_public: bool, named: bool) -> None:
    from ..certs.expiry import Sighting, Summary, role_of
    from ..certs.load import load_certificates

    data = _read_regular(path)
    if data is None:
        if named:
            raise ImagelintError(f"{path}: not a regular file")
        return
    if not named and not path.lower().endswith(CERT_SUFFIXES) and b"-----BEGIN" not in data[:1 << 20]:
        return  # in a directory, only files that can hold certificates
    loaded = load_certificates(data, path)
    if not loaded.certificates:
        if named:
            raise ImagelintError(f"{path}: no certificate found (PEM, DER, PKCS#7, PKCS#12 or JKS)")
        return
    if len(loaded.certificates) >= SMALL_BUNDLE and not include_public:
        certs = loaded.certificates
        found.summaries.append(Summary("file", path, len(certs), min(c.not_after for c in certs)))
        return
    served = _served_order(loaded.certificates)
    for index, cert in enumerate(loaded.certificates):
        found.sightings.append(Sighting(cert, "file", path, role_of(cert, 0 if served and index == 0 else None)))


def _served_order(certs) -> bool:
    """A leaf followed by its issuers, as a server's certificate file holds them."""
    return bool(certs) and certs[0].is_ca is not True


def _is_manifest(path: str) -> bool:
    data = _read_regular(path) or b""
    return b"apiVersion" in data and b"kind" in data


def _collect_manifest(path: str, found: Collected) -> None:
    from ..certs.expiry import Sighting, role_of
    from ..certs.load import load_certificates
    from ..kube.certificates import certificate_durations, manifest_certificates
    from .inputs import read_source

    text = read_source(path)
    for name, secret, duration, renew in certificate_durations(text, path):
        found.durations.append({"certificate": name, "secret": secret, "duration_hours": duration.total_seconds() / 3600,
                                "renew_before_hours": renew.total_seconds() / 3600, "path": path})
    for place, labels, data in manifest_certificates(text, path):
        loaded = load_certificates(data, place)
        served = _served_order(loaded.certificates) and labels.get("secret_key") == "tls.crt"
        for index, cert in enumerate(loaded.certificates):
            found.sightings.append(Sighting(cert, labels.get("_source", "secret"), place,
                                            role_of(cert, 0 if served and index == 0 else None),
                                            {k: v for k, v in labels.items() if not k.startswith("_")}))


# --------------------------------------------------------------------------- endpoints and images

def _collect_endpoint(target: str, found: Collected, timeout: float) -> None:
    from ..certs.connect import fetch_chain
    from ..certs.expiry import Sighting, role_of
    from ..trust.verdicts import parse_chain

    match = _ENDPOINT.match(target if "://" not in target or target.count(":") > 1 else target + ":443")
    if not match:
        raise ImagelintError(f"{target}: not HOST:PORT")
    host, port = match.group(1).strip("[]"), int(match.group(2))
    try:
        ders = fetch_chain(host, port, timeout=timeout)
    except OSError as exc:
        hint = f" (an image? write docker://{target})" if not target.startswith(("https://", "tls://")) else ""
        raise ImagelintError(f"{target}: cannot fetch the served chain: {exc}{hint}") from None
    endpoint = f"{host}:{port}"
    for index, der in enumerate(ders):
        for cert in parse_chain(der, endpoint):
            found.sightings.append(Sighting(cert, "endpoint", endpoint, role_of(cert, index), {"endpoint": endpoint}))


def _collect_image(reference: str, found: Collected, include_public: bool, cache=None) -> None:
    from ..trust.inventory import model_sightings
    from ..trust.subjects import image_model

    with image_model(reference, cache=cache) as model:
        sightings, summaries = model_sightings(model, "image", {"image": reference}, include_public)
    found.sightings.extend(sightings)
    found.summaries.extend(summaries)


# --------------------------------------------------------------------------- the command

def run_expiry(targets: list[str], warn_days: int = 30, fmt: str = "text", include_public: bool = False,
               at: datetime | None = None, timeout: float = 10.0, cache=None) -> tuple[int, str, list[str]]:
    """(exit code, report, errors). 0: nothing expired or expiring; 1: something is; 2: bad input."""
    from ..certs.expiry import status_of, unique
    from ..report.expiry import render_json, render_prometheus, render_text

    if fmt not in ("text", "json", "prometheus"):
        raise ImagelintError(f"unknown format {fmt!r} for expiry (use text, json or prometheus)")
    if warn_days < 0:
        raise ImagelintError("--warn-days must be 0 or more")
    at = at or datetime.now(timezone.utc)
    found = collect(targets, include_public, timeout, cache)
    sightings = unique(found.sightings)
    summaries = list({(m.source, m.path, tuple(sorted(m.labels.items()))): m for m in found.summaries}.values())
    if fmt == "json":
        text = render_json(sightings, summaries, at, warn_days, found.errors, found.durations)
    elif fmt == "prometheus":
        text = render_prometheus(sightings, at)
    else:
        text = render_text(sightings, summaries, at, warn_days, found.durations)
    if found.errors:
        return 2, text, found.errors
    bad = any(status_of(s.record, at, warn_days) != "ok" for s in sightings)
    return (1 if bad else 0), text, found.errors
