"""`imagelint trust`: will this image (or this machine) trust that server, and if not, exactly why?

JSON contract (version 1):
  {"version": 1, "image": ..., "host": ..., "verdicts": [{"runtime", "store", "trusted", "reason",
   "certificate", "message", "error_text", "fix", "warnings", "reasons", "causes", ...}]}
  `reason` is the error the runtime reports first (its log line is `error_text`); `reasons` lists
  every cause found in the order to fix them, dates first; `causes` gives each one's message and fix.
"""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

from ..certs.connect import fetch_chain
from ..findings import ImagelintError
from ..image.cache import LayerCache
from ..fs.regular import read_regular_file
from ..trust.model import TrustModel
from ..trust.subjects import host_model, image_model
from ..trust.verdicts import Verdict, evaluate, parse_chain

# --------------------------------------------------------------------------- rendering

def to_json(verdicts: list[Verdict], image: str, host: str | None, model: TrustModel | None = None,
            server: dict | None = None) -> str:
    subject = {"family": model.family, "bundle": model.bundle_path} if model is not None else {}
    doc = {"version": 1, "image": image, "host": host, **subject, "verdicts": [v.to_dict() for v in verdicts]}
    if server is not None:
        doc["server"] = server
    return json.dumps(doc, indent=2, default=str)


def date_line(cert, now: datetime, role: str) -> str:
    """'server certificate CN=…: valid 2026-12-01 09:15 .. 2026-12-02 09:15 UTC (1 day) EXPIRED' ."""
    span = cert.not_after - cert.not_before
    length = f"{span.days} days" if span.days >= 2 else f"{round(span.total_seconds() / 3600)} hours"
    if now > cert.not_after:
        state = "  EXPIRED"
    elif now < cert.not_before:
        state = "  NOT YET VALID"
    else:
        left = cert.not_after - now
        state = f"  expires in {left.days} day(s)" if left.days < 30 else ""
    return (f"  {role}: {cert.subject}  valid {cert.not_before:%Y-%m-%d %H:%M} .. {cert.not_after:%Y-%m-%d %H:%M} "
            f"UTC ({length}){state}  sha256 {cert.fingerprint_sha256[:16]}…")


def render_text(verdicts: list[Verdict], image: str, host: str | None, chain=None,
                at: datetime | None = None, server: dict | None = None) -> str:
    """Dates first (the incident's lesson: check expiry first), then one block per runtime."""
    lines = [f"imagelint trust {image}" + (f" (host {host})" if host else "")]
    if chain:
        now = at or datetime.now(timezone.utc)
        lines.append(date_line(chain[0], now, "server certificate"))
        lines.extend(date_line(cert, now, f"sent #{i}") for i, cert in enumerate(chain[1:], 1))
    if server is not None:
        lines.append(f"  served by {server['image']}: " + (", ".join(
            f"{e['server']} {e['cert_file']} ({e['config']}:{e['line']})" for e in server["endpoints"])
            or "no configuration of that image serves this certificate"))
        if server["matched_by"] in ("name", "port"):
            lines.append(f"    (matched by {server['matched_by']}: that file holds another certificate than the one "
                         "the server presented; the running server is not this image's build)")
        lines.extend(f"    {p['category']}: {p['message']}" for p in server["problems"])
    if not verdicts:
        lines.append("  no TLS runtime found (use --runtime to ask for one)")
    for v in verdicts:
        mark = "trusted" if v.trusted else f"NOT TRUSTED ({v.reason})"
        lines.append("")
        lines.append(f"{v.runtime}: {mark}")
        lines.append(f"  store:   {v.store}")
        lines.append(f"  {'why:   ' if not v.trusted else 'path:  '}  {v.message}")
        if v.error_text:
            lines.append(f"  prints:  {v.error_text}")
        if len(v.causes) > 1:
            lines.append("  causes (fix in this order):")
            lines.extend(f"    {i}. {c['reason']}: {c['message']}" for i, c in enumerate(v.causes, 1))
        for warning in v.warnings:
            lines.append(f"  warning: {warning}")
        if v.fix:
            lines.append("  fix:")
            lines.extend(f"    {line}" for line in v.fix.splitlines())
    trusted = sum(v.trusted for v in verdicts)
    lines.append("")
    lines.append(f"{trusted} of {len(verdicts)} runtimes trust this chain")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- command entry point

def parse_at(text: str | None) -> datetime | None:
    """ISO date/time (UTC when no zone), or '+30d' / '+12h' from now."""
    if not text:
        return None
    relative = re.fullmatch(r"\+?(\d+)([dh])", text.strip())
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2)
        return datetime.now(timezone.utc) + (timedelta(days=amount) if unit == "d" else timedelta(hours=amount))
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ImagelintError(f"--at: cannot read {text!r} (use 2026-12-31, 2026-12-31T12:00:00Z or +30d)") from None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def parse_host_port(text: str, default_port: int = 443) -> tuple[str, int]:
    match = re.fullmatch(r"\[([^\]]+)\](?::(\d+))?|([^:]+)(?::(\d+))?", text.strip())
    if not match:
        raise ImagelintError(f"--connect: expected HOST:PORT, got {text!r}")
    host = match.group(1) or match.group(3)
    port = int(match.group(2) or match.group(4) or default_port)
    if not 0 < port < 65536:
        raise ImagelintError(f"--connect: port {port} out of range")
    return host, port


MAX_CHAIN_BYTES = 16 * 1024 * 1024


def read_chain(chain_path: str | None, connect: str | None, host: str | None, timeout: float):
    """(chain, host) from --chain FILE or --connect HOST:PORT (one handshake, never verified)."""
    if chain_path is not None:
        # A regular file only (a FIFO would hang), and all of it or an error: never a silent head.
        try:
            data = read_regular_file(chain_path, MAX_CHAIN_BYTES)
        except ImagelintError as exc:
            raise ImagelintError(f"cannot read chain: {exc}", path=chain_path) from None
        return parse_chain(data, chain_path), host
    connect_host, port = parse_host_port(connect or "")
    ders = fetch_chain(connect_host, port, server_name=host or connect_host, timeout=timeout)
    return [record for der in ders for record in parse_chain(der, connect)], host or connect_host


def run_trust(subject: str, chain_path: str | None = None, connect: str | None = None,
              host: str | None = None, at: str | datetime | None = None, runtimes: list[str] | None = None,
              fmt: str = "text", timeout: float = 10.0, model: TrustModel | None = None,
              cache: LayerCache | None = None, server_image: str | None = None,
              server_model: TrustModel | None = None) -> tuple[int, str]:
    """(exit code, report): 0 when every runtime present trusts the chain, 1 when any does not.
    `subject` is an image reference or "host"; `model` gives the trust model directly (tests).
    `server_image`: the image the server runs; its configuration names the file that serves the
    presented certificate, and what is wrong with it (`server_model` gives it directly).
    Bad input raises ImagelintError, which the CLI prints as one line with exit code 2."""
    if (chain_path is None) == (connect is None):
        raise ImagelintError("give exactly one of --chain FILE or --connect HOST:PORT")
    if fmt not in ("text", "json"):
        raise ImagelintError(f"unknown format {fmt!r} for trust (use text or json)")
    when = at if isinstance(at, datetime) else parse_at(at)
    chain, host = read_chain(chain_path, connect, host, timeout)
    server = None
    if server_image is not None:
        port = parse_host_port(connect)[1] if connect else None
        if server_model is not None:
            server = served_by(server_model, server_image, chain, port, host, when)
        else:
            with image_model(server_image, cache=cache) as opened:
                server = served_by(opened, server_image, chain, port, host, when)
    if model is not None:
        verdicts = evaluate(model, chain, host, when, runtimes)
    elif subject == "host":
        model = host_model()
        verdicts = evaluate(model, chain, host, when, runtimes)
    else:
        with image_model(subject, cache=cache) as model:
            verdicts = evaluate(model, chain, host, when, runtimes)
    code = 0 if verdicts and all(v.trusted for v in verdicts) else 1
    if server is not None:
        name_the_served_file(verdicts, server)
    if fmt == "json":
        return code, to_json(verdicts, subject, host, model, server) + "\n"
    return code, render_text(verdicts, subject, host, chain, when, server)


def served_by(model: TrustModel, reference: str, chain, port: int | None, host: str | None,
              at: datetime | None) -> dict:
    """Which configuration of the server's image serves the presented leaf, and what is wrong
    with it (the static checks of `scan`, IL801-IL806, for that endpoint only). `matched_by`:
    "certificate" (the image's file holds that leaf), "name" or "port" (the image configures
    another certificate there than the server presented), "none"."""
    from ..servers import find_servers
    from ..servers.analysis import endpoint_problems, endpoints_serving

    cwd = str((getattr(model, "config", None) or {}).get("WorkingDir") or "/")
    endpoints = [e for config in find_servers(model.view, cwd=cwd, env=model.env) for e in config.endpoints]
    serving, matched = endpoints_serving(model.view, endpoints, chain[0], port, host)
    problems = endpoint_problems(model.view, serving[0], at=at) if serving else []
    return {"image": reference, "matched_by": matched,
            "endpoints": [{"server": e.server, "config": e.config, "line": e.line, "cert_file": e.cert_file,
                           "key_file": e.key_file, "chain_file": e.chain_file, "names": list(e.names),
                           "listen": list(e.listen)} for e in serving],
            "problems": [{"category": p.category, "severity": p.severity, "message": p.message,
                          "problem": p.problem} for p in problems]}


def name_the_served_file(verdicts: list[Verdict], server: dict) -> None:
    """A missing intermediate is fixed in one file of the server's image: say which."""
    if not server["endpoints"]:
        return
    endpoint = server["endpoints"][0]
    target = endpoint["chain_file"] or endpoint["cert_file"]
    line = (f"# In {server['image']}: {target} ({endpoint['server']}, {endpoint['config']}:{endpoint['line']}) "
            "is the file to fix: append the intermediate after the leaf (cat leaf.pem intermediate.pem > "
            f"{target}).")
    for verdict in verdicts:
        for cause in verdict.causes:
            if cause["reason"] == "missing-intermediate":
                cause["fix"] = cause["fix"] + "\n" + line
                cause["file"] = target
        if verdict.fix and "missing-intermediate" in verdict.reasons:
            head, sep, rest = verdict.fix.partition("\n# or, if")
            verdict.fix = head + "\n" + line + sep + rest


# --------------------------------------------------------------------------- a workload of a manifest set

def load_manifest_set(path: str, stdin_text: str | None = None):
    """The joined `KubeSet` of a manifest file, a directory of them, or - (stdin)."""
    import os

    from ..findings import InputError
    from ..kube.load import expand_lists, load_documents
    from ..kube.model import KubeSet, resources_from
    from .inputs import read_source, read_stdin
    from .lint import discover

    if path == "-":
        texts = {"-": stdin_text if stdin_text is not None else read_stdin("-")}
    else:
        if not os.path.exists(path):
            raise ImagelintError("no such file or directory", path=path)
        files: list[str] = []
        errors: list[InputError] = []
        if os.path.isdir(path):
            discover([path], errors, manifests=files)
        else:
            files = [path]
        if errors:
            raise ImagelintError(errors[0].message, path=errors[0].path, line=errors[0].line)
        texts = {f: read_source(f) for f in files}
    resources = []
    for name, text in texts.items():
        resources.extend(resources_from(expand_lists(load_documents(text, name))))
    if not resources:
        raise ImagelintError("no Kubernetes resources found", path=path)
    return KubeSet(resources)


def parse_workload(text: str) -> tuple[str | None, str, str]:
    """`[NAMESPACE/]KIND/NAME` (KIND case-insensitive, as kubectl takes it)."""
    parts = text.strip().split("/")
    if len(parts) == 2 and all(parts):
        return None, parts[0], parts[1]
    if len(parts) == 3 and all(parts):
        return parts[0], parts[1], parts[2]
    raise ImagelintError(f"--workload: expected [NAMESPACE/]KIND/NAME, got {text!r}")


_KIND_ALIASES = {"deploy": "deployment", "deployments": "deployment", "sts": "statefulset", "ds": "daemonset",
                 "rs": "replicaset", "po": "pod", "pods": "pod", "cj": "cronjob", "jobs": "job"}


def service_for_host(kset, host: str, namespace: str):
    """The Service a client reaches by `host` (`svc`, `svc.ns`, `svc.ns.svc[.cluster.local]`)."""
    from ..checks.manifest.clients import service_names

    for service in kset.services:
        for name in service_names(service):
            if host == name and (name != service.name or service.namespace == namespace):
                return service
    return None


def run_workload_trust(manifests: str, workload: str, host: str | None, image: str | None = None,
                       chain_path: str | None = None, connect: str | None = None,
                       at: str | datetime | None = None, runtimes: list[str] | None = None,
                       fmt: str = "text", timeout: float = 10.0, stdin_text: str | None = None) -> tuple[int, str]:
    """Would the workload's container trust the server `host`? Its image's stores (when it can be read)
    with the pod's volumes laid over them and its env applied; the chain from the Service's TLS Secret."""
    from ..checks.manifest.clients import server_chain
    from ..trust.pod import container_model

    if fmt not in ("text", "json"):
        raise ImagelintError(f"unknown format {fmt!r} for trust (use text or json)")
    if chain_path is not None and connect is not None:
        raise ImagelintError("give at most one of --chain FILE or --connect HOST:PORT")
    when = at if isinstance(at, datetime) else parse_at(at)
    kset = load_manifest_set(manifests, stdin_text)
    namespace, kind, name = parse_workload(workload)
    kind = _KIND_ALIASES.get(kind.lower(), kind.lower())
    found = kset.find_workload(namespace, kind, name)
    if found is None:
        raise ImagelintError(f"no {kind} {namespace + '/' if namespace else ''}{name} in the manifests", path=manifests)
    containers = [c for c in found.containers if not c.init] or found.containers
    if not containers:
        raise ImagelintError(f"{found.resource.label} has no containers", path=found.resource.path)
    container = containers[0]
    notes: list[str] = []
    hostname = host
    if chain_path is not None or connect is not None:
        chain, hostname = read_chain(chain_path, connect, host, timeout)
    else:
        if not host:
            raise ImagelintError("--host NAME[:PORT] names the Service to check (or give --chain/--connect)")
        hostname = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        service = service_for_host(kset, hostname, found.namespace)
        if service is None:
            raise ImagelintError(f"no Service answers to {hostname} from namespace {found.namespace}", path=manifests)
        chain, secret = server_chain(kset, service)
        if chain is None:
            raise ImagelintError(f"the pods of {service.label} mount no TLS Secret with a tls.crt in the manifests "
                                 "(give --chain or --connect)", path=manifests)
        notes.append(f"chain: {service.label} -> secret {secret.name} tls.crt")
    reference = image or _local_image(container.image)
    subject = f"{found.resource.label}, container {container.name}"
    if reference is None:
        model = container_model(container)
        notes.append(f"image {container.image or '(none)'} not read (not in the local engine; pass --image): "
                     "stores are what the pod mounts and its env configures")
        verdicts = evaluate(model, chain, hostname, when, runtimes)
    else:
        from ..trust.subjects import image_model

        with image_model(reference) as opened:
            model = container_model(container, opened.view, opened.config)
            verdicts = evaluate(model, chain, hostname, when, runtimes)
        notes.append(f"image: {reference}, with the pod's volumes and env laid over it")
    code = 0 if verdicts and all(v.trusted for v in verdicts) else 1
    if fmt == "json":
        data = json.loads(to_json(verdicts, subject, hostname, model))
        data["workload"] = f"{found.resource.namespace}/{found.resource.kind.lower()}/{found.resource.name}"
        data["container"] = container.name
        data["notes"] = notes
        return code, json.dumps(data, indent=2, default=str) + "\n"
    text = render_text(verdicts, subject, hostname, chain, when)
    head, _, rest = text.partition("\n")
    return code, "\n".join([head, *(f"  {n}" for n in notes), rest])


def _local_image(name: str) -> str | None:
    """`docker-daemon:NAME` when the local engine has the image; never a registry pull."""
    if not name:
        return None
    try:
        from ..image.sources import engine_reachable, open_image

        if not engine_reachable():
            return None
        with open_image(f"docker-daemon:{name}"):
            return f"docker-daemon:{name}"
    except Exception:  # noqa: BLE001 - an image that cannot be read is "not readable", not an error
        return None
