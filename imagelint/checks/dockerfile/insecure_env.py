"""Environment variables that switch TLS verification off (insecure-env).

IL101 and IL102 are the two best-known switches; IL103 is a table of every other variable a tool
reads to skip verification. Each entry says exactly which value counts, because tools differ:
Node only honours "0", git honours any value, Go tools parse booleans with strconv.ParseBool.
"""
from __future__ import annotations

from ...dockerfile.queries import env_assignments, stage_family
from ...facts.insecure_env import env_switch
from ...findings import Severity
from ...fixes import builders as fixes
from ..context import scope_severity
from ..registry import check
from .insecure_config import config_switches, emit, env_rule


def _shown(name: str, value: str | None) -> str:
    if value is None:
        return f"{name}=<build-arg>"
    return f'{name}=""' if value == "" else f"{name}={value}"


def _severity(model, a) -> Severity:
    if a.inert:
        return Severity.INFO  # nothing runs with it
    return scope_severity(model, a.stage, a.persistent)


def _written_to_startup_files(model, ctx, rule):
    """`export X=0` written into ~/.bashrc, /etc/profile.d/*.sh... (found with the config files)."""
    yield from emit(model, ctx, rule, config_switches(model, ctx))


@check("IL101")
def node_tls_reject_unauthorized(model, ctx):
    for a in env_assignments(model):
        if a.name != "NODE_TLS_REJECT_UNAUTHORIZED" or env_rule(a.name, a.value) is None:
            continue
        severity = _severity(model, a)
        if a.persistent and a.kind != "ENV":
            text = f"NODE_TLS_REJECT_UNAUTHORIZED=0 disables TLS certificate verification in Node; {a.scope}"
        elif a.persistent:
            where = "every Node process of the shipped image" if severity == Severity.ERROR else f"every Node process of stage {a.stage.label}"
            text = f"NODE_TLS_REJECT_UNAUTHORIZED=0 disables TLS certificate verification for {where}"
        else:
            text = f"NODE_TLS_REJECT_UNAUTHORIZED=0 disables TLS certificate verification in Node; {a.scope}"
        yield ctx.hit("IL101", text,
                      a.inst, a.start, a.end, stage=a.stage, severity=severity, fix=fixes.node_tls_reject(model, a))
    yield from _written_to_startup_files(model, ctx, "IL101")


@check("IL102")
def git_ssl_no_verify(model, ctx):
    for a in env_assignments(model):
        if a.name != "GIT_SSL_NO_VERIFY":
            continue
        severity = _severity(model, a)
        written = model.parsed.text[a.start:a.end]
        # An unknown value ($VAR with no default) is shown as written: set to anything, it still disables.
        label = written if a.value is None and written.startswith("GIT_SSL_NO_VERIFY") else f"GIT_SSL_NO_VERIFY={a.value or ''}"
        yield ctx.hit("IL102", f"{label} disables git's TLS verification (git honours any value, "
                      f"even 0 or false); {a.scope}", a.inst, a.start, a.end, stage=a.stage, severity=severity,
                      fix=fixes.git_ssl_no_verify(model, a))
    yield from _written_to_startup_files(model, ctx, "IL102")


@check("IL103")
def insecure_environment(model, ctx):
    for a in env_assignments(model):
        spec = env_switch(a.name, a.value)
        if spec is None:
            continue
        severity = _severity(model, a)
        if spec.max_severity is not None and severity > spec.max_severity and stage_family(a.stage) not in spec.effective_families:
            severity = spec.max_severity
        yield ctx.hit("IL103", f"{_shown(a.name, a.value)} {spec.effect}; {a.scope}",
                      a.inst, a.start, a.end, stage=a.stage, severity=severity,
                      fix=fixes.env_switch_fix(model, a))
    yield from _written_to_startup_files(model, ctx, "IL103")
