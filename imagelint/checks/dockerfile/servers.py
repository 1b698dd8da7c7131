"""What the TLS servers configured by a Dockerfile's build context will present (IL520-IL525):
nginx, Apache httpd and HAProxy configurations and the certificate/key files COPY'd from the
context (or written inline), read as the predicted image (dockerfile/predicted.py), checked by the
one shared analysis of served certificates (certs/served.py) that `scan` uses for images.

The base image's files are unknown here: a site file COPY'd into a base image's conf.d is read on
its own, and a configured file that neither the context nor the Dockerfile provides may still
come from the base image or a run-time mount (reported at info level).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ...findings import Severity
from ..registry import check

if TYPE_CHECKING:
    from ...dockerfile.predicted import PredictedView

RULE_OF = {
    "server-cert-missing": "IL520",
    "cert-expired": "IL521",
    "cert-short-lived": "IL522",
    "cert-key-mismatch": "IL523",
    "cert-chain-incomplete": "IL524",
    "cert-san-mismatch": "IL525",
}
SEVERITY = {"error": Severity.ERROR, "warning": Severity.WARNING, "info": Severity.INFO}
CONFIG_HINTS = ("nginx", "apache2", "httpd", "haproxy", "caddy", "tomcat")
# Docker and Compose mount secrets here (docs.docker.com, "Manage sensitive data with Docker secrets").
SECRET_DIRS = ("/run/secrets", "/var/run/secrets")


def _mounted_dirs(stage) -> tuple[str, ...]:
    """Directories the shipped stage declares as mount points (VOLUME), plus the secret mounts."""
    dirs = list(SECRET_DIRS)
    for chained in stage.chain():
        for inst in chained.instructions:
            if inst.keyword == "VOLUME":
                dirs.extend(inst.json_args if inst.json_args is not None else inst.args.split())
    return tuple(d.rstrip("/") for d in dirs if d.startswith("/"))


def _under(path: str, dirs: tuple[str, ...]) -> bool:
    return any(path == d or path.startswith(d + "/") for d in dirs)


def _may_configure_a_server(view: PredictedView) -> bool:
    return any(hint in path for path in view.origins for hint in CONFIG_HINTS)


def _writes_server_paths(stage) -> bool:
    """Cheap first test (no context read): does any file op of the stage chain land in a server's tree?"""
    return any(hint in op.path for _, op in stage.inherited_file_ops() for hint in CONFIG_HINTS)


@check("IL520", "IL521", "IL522", "IL523", "IL524", "IL525")
def served_from_context(model, ctx):
    stage = model.shipped
    if stage is None or not _writes_server_paths(stage):
        return
    from ...dockerfile.predicted import PredictedView  # only for a build that writes a server's files

    view = PredictedView(model, ctx.context_dir)
    if not view.origins or not _may_configure_a_server(view):
        return
    from ...servers import find_servers
    from ...servers.analysis import endpoint_problems

    expiring_days = ctx.config.cert_expiry_days
    mounted = _mounted_dirs(stage)
    reported: set[tuple] = set()

    def located(path: str | None, fallback: str | None):
        origin = view.origin(path) if path else None
        if origin is None and fallback:
            origin = view.origin(fallback)
        return origin

    for config in find_servers(view, cwd=stage.workdir, fragments=True):
        for text in config.fatal:
            origin = located(text.split(":")[0], config.main)
            if origin is not None:
                yield ctx.hit("IL520", f"{config.server} will not start: {text}", origin.op.inst,
                              origin.op.start, origin.op.end, stage=stage, severity=Severity.ERROR,
                              problem="config-error")
        for endpoint in config.endpoints:
            for problem in endpoint_problems(view, endpoint, expiring_days=expiring_days,
                                             where="the build context or written by the Dockerfile"):
                props = problem.properties
                key = (problem.category, problem.problem, problem.fingerprint,
                       props.get("file") or endpoint.cert_file, props.get("name"))
                if key in reported:
                    continue
                reported.add(key)
                severity = SEVERITY.get(problem.severity)
                message = problem.message
                if problem.problem == "missing-file" and _under(props.get("file") or "", mounted):
                    continue  # mounted at run time, as a server key should be
                if problem.problem == "missing-file":
                    # The base image may ship it, or a Secret be mounted there at run time.
                    severity = Severity.INFO
                    message += "; unless the base image has it or it is mounted at run time"
                origin = located(endpoint.cert_file if problem.category != "server-cert-missing" else None,
                                 endpoint.config)
                if origin is None:
                    continue
                yield ctx.hit(RULE_OF[problem.category], message, origin.op.inst, origin.op.start, origin.op.end,
                              stage=stage, severity=severity, **{k: v for k, v in props.items() if v is not None})


def server_keys_copied_by(model, ctx, op) -> list[str]:
    """'nginx (/etc/nginx/conf.d/x.conf:5)' for each server configured by the build context that
    takes its private key from a file this COPY/ADD brings (IL501 then says to mount it instead)."""
    from ...dockerfile.model import memoized

    def compute() -> dict[int, list[str]]:
        if model.shipped is None or not _writes_server_paths(model.shipped):
            return {}
        from ...dockerfile.predicted import PredictedView

        view = PredictedView(model, ctx.context_dir)
        if not view.origins or not _may_configure_a_server(view):
            return {}
        from ...servers import find_servers
        from ...servers.analysis import key_source

        uses: dict[int, list[str]] = {}
        stage = model.shipped
        for config in find_servers(view, cwd=stage.workdir if stage else "/", fragments=True):
            for endpoint in config.endpoints:
                path = key_source(view, endpoint)
                origin = view.origin(path) if path else None
                if origin is not None:
                    where = f"{config.server} ({endpoint.config}:{endpoint.key_config_line or endpoint.line})"
                    if where not in uses.setdefault(id(origin.op), []):
                        uses[id(origin.op)].append(where)
        return uses

    return memoized(model, ("server-keys", ctx.context_dir), compute).get(id(op), [])
