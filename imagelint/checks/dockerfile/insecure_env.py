"""Environment variables that switch TLS verification off (insecure-env)."""
from __future__ import annotations

from ...findings import Severity
from ...fixes import builders as fixes
from ..context import scope_severity
from ..registry import check
from .common import env_assignments


@check("IL101")
def node_tls_reject_unauthorized(model, ctx):
    for a in env_assignments(model):
        if a.name != "NODE_TLS_REJECT_UNAUTHORIZED":
            continue
        if a.value is None:
            continue  # unknown at lint time: not provably insecure
        # Node treats only the string "0" as "off" (trust-stores.md N5); "1" or "false" keep verification on.
        if a.value.strip() != "0":
            continue
        severity = scope_severity(model, a.stage, a.persistent)
        if a.persistent:
            where = "every Node process of the shipped image" if severity == Severity.ERROR else f"every Node process of stage {a.stage.label}"
            text = f"NODE_TLS_REJECT_UNAUTHORIZED=0 disables TLS certificate verification for {where}"
        else:
            text = f"NODE_TLS_REJECT_UNAUTHORIZED=0 disables TLS certificate verification in Node; {a.scope}"
        yield ctx.hit("IL101", text,
                      a.inst, a.start, a.end, stage=a.stage, severity=severity, fix=fixes.node_tls_reject(model, a))


@check("IL102")
def git_ssl_no_verify(model, ctx):
    for a in env_assignments(model):
        if a.name != "GIT_SSL_NO_VERIFY":
            continue
        # git disables verification when the variable is set to any value, even 0/false/"" (trust-stores.md 3.5).
        severity = scope_severity(model, a.stage, a.persistent)
        shown = "" if a.value is None else a.value
        yield ctx.hit("IL102", f"GIT_SSL_NO_VERIFY={shown} disables git's TLS verification (git honours any value, "
                      f"even 0 or false); {a.scope}", a.inst, a.start, a.end, stage=a.stage, severity=severity,
                      fix=fixes.git_ssl_no_verify(model, a))
