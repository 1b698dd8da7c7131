"""Environment variables that switch TLS verification off (insecure-env).

IL101 and IL102 are the two best-known switches; IL103 is a table of every other variable a tool
reads to skip verification. Each entry says exactly which value counts, because tools differ:
Node only honours "0", git honours any value, Go tools parse booleans with strconv.ParseBool.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from ...findings import Severity
from ...fixes import builders as fixes
from ..context import scope_severity
from ..registry import check
from .common import env_assignments, stage_family

# Go's strconv.ParseBool, which helm, vault, nomad, etcdctl... use for their variables.
GO_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
GO_FALSE = {"0", "f", "F", "FALSE", "false", "False"}
MAVEN_INSECURE = re.compile(
    r"-D(maven\.wagon\.http\.ssl\.(?:insecure|allowall|ignore\.validity\.dates)=true"
    r"|aether\.connector\.https\.securityMode=insecure)\b"
)


def _set(value: str) -> bool:
    return True


def _nonempty(value: str) -> bool:
    return value.strip() != ""


def _empty(value: str) -> bool:
    return value == ""


def _go_true(value: str) -> bool:
    return value.strip() in GO_TRUE


def _go_false(value: str) -> bool:
    return value.strip() in GO_FALSE


def _lower_in(*values: str) -> Callable[[str], bool]:
    return lambda v: v.strip().lower() in values


@dataclass(frozen=True)
class EnvSwitch:
    names: tuple[str, ...]
    matches: Callable[[str], bool]
    effect: str  # what the value does, completing "NAME=value ..."
    fact: str
    ignore_case: bool = False
    max_severity: Severity | None = None  # for switches that are inert on most systems...
    effective_families: tuple[str, ...] = ()  # ...except on these OS families
    unknown_counts: bool = False  # the variable acts whatever its value (GIT_SSL_NO_VERIFY style)

    def applies(self, name: str) -> bool:
        if self.ignore_case:
            return name.lower() in (n.lower() for n in self.names)
        return name in self.names


# IL103: every other variable that switches verification off. Facts: trust-stores.md §3.
ENV_SWITCHES: tuple[EnvSwitch, ...] = (
    EnvSwitch(("PYTHONHTTPSVERIFY",), lambda v: v.strip() == "0",
              "switches off HTTPS certificate verification in Python's standard library, but only on "
              "distribution-patched Pythons (RHEL/CentOS 7, SLES Python 2.7, PEP 493); upstream CPython 3 ignores it",
              "P4", max_severity=Severity.WARNING, effective_families=("rhel", "suse")),
    EnvSwitch(("CURL_CA_BUNDLE",), _empty,
              "(empty) makes Python requests < 2.28 skip certificate verification (psf/requests#6071), "
              "a known hack to switch verification off", "S-65"),
    EnvSwitch(("REQUESTS_CA_BUNDLE",), _empty,
              "(empty) is the known hack to switch off verification in Python requests: with CURL_CA_BUNDLE "
              "empty too, requests < 2.28 skips verification; on its own requests falls back to certifi",
              "S-65", max_severity=Severity.WARNING),
    EnvSwitch(("PIP_TRUSTED_HOST",), _nonempty,
              "makes pip skip certificate verification (and accept plain HTTP) for these hosts", "P6"),
    EnvSwitch(("UV_INSECURE_HOST",), _nonempty,
              "makes uv skip certificate verification (and accept plain HTTP) for these hosts", "P6"),
    EnvSwitch(("npm_config_strict_ssl",), _lower_in("false"),
              "makes npm and pnpm skip certificate verification of the registry", "N7", ignore_case=True),
    EnvSwitch(("YARN_STRICT_SSL", "yarn_strict_ssl"), _lower_in("false"),
              "makes yarn v1 skip certificate verification of the registry", "N7"),
    EnvSwitch(("YARN_ENABLE_STRICT_SSL",), _lower_in("false", "0"),
              "makes yarn berry skip certificate verification of the registry", "N7"),
    EnvSwitch(("GOINSECURE",), _nonempty,
              "makes the go command skip TLS verification (and allow HTTP) when fetching these module paths", "G6"),
    EnvSwitch(("GOFLAGS",), lambda v: any(w in ("-insecure", "--insecure") or w.startswith(("-insecure=", "--insecure="))
                                          for w in v.split()),
              "passes -insecure to every go command: older `go get` skipped TLS verification (Go 1.17+ rejects it)", "G6"),
    EnvSwitch(("SSL_NO_VERIFY",), lambda v: v.strip().lower() not in ("", "0", "false", "no"),
              "makes conda-build (skeleton pypi) skip certificate verification", "P7"),
    EnvSwitch(("SSL_NO_VERIFY_HOSTNAME",), _set,
              "makes apk skip the server hostname check (any value counts)", "S-27", unknown_counts=True),
    EnvSwitch(("CONDA_SSL_VERIFY",), _lower_in("false", "no", "off", "0"),
              "makes conda skip certificate verification", "P7"),
    EnvSwitch(("BUNDLE_SSL_VERIFY_MODE",), lambda v: v.strip() == "0",
              "(OpenSSL::SSL::VERIFY_NONE) makes Bundler skip certificate verification", "S-95"),
    EnvSwitch(("MAVEN_OPTS", "MAVEN_CONFIG", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS"),
              lambda v: MAVEN_INSECURE.search(v) is not None,
              "makes Maven skip certificate verification of repositories (Wagon `maven.wagon.http.ssl.*`, "
              "resolver `aether.connector.https.securityMode=insecure`)", "S-92"),
    EnvSwitch(("HELM_KUBEINSECURE_SKIP_TLS_VERIFY",), _go_true,
              "makes helm skip verification of the Kubernetes API server certificate", "S-101"),
    EnvSwitch(("CLOUDSDK_AUTH_DISABLE_SSL_VALIDATION",), _lower_in("true", "1", "yes", "on"),
              "makes gcloud skip certificate verification", "LAB-10"),
    EnvSwitch(("AZURE_CLI_DISABLE_CONNECTION_VERIFICATION", "ADAL_PYTHON_SSL_NO_VERIFY"), _nonempty,
              "makes the Azure CLI skip certificate verification (any non-empty value)", "azure-cli"),
    EnvSwitch(("VAULT_SKIP_VERIFY",), _go_true,
              "makes the Vault CLI skip verification of the Vault server certificate", "vault"),
    EnvSwitch(("NOMAD_SKIP_VERIFY",), _go_true,
              "makes the Nomad CLI skip verification of the server certificate", "nomad"),
    EnvSwitch(("CONSUL_HTTP_SSL_VERIFY",), _go_false,
              "makes the Consul CLI skip verification of the server certificate", "consul"),
    EnvSwitch(("ETCDCTL_INSECURE_SKIP_TLS_VERIFY",), _go_true,
              "makes etcdctl skip verification of the server certificate", "etcd"),
)


def env_switch(name: str, value: str | None) -> EnvSwitch | None:
    """The IL103 table entry a variable assignment triggers, if any (None value: unknown)."""
    for spec in ENV_SWITCHES:
        if spec.applies(name):
            if value is None:
                return spec if spec.unknown_counts else None
            return spec if spec.matches(value) else None
    return None


def env_rule(name: str, value: str | None) -> tuple[str, str] | None:
    """(rule, what it does) for any verification-off variable: IL101, IL102 or IL103."""
    if name == "NODE_TLS_REJECT_UNAUTHORIZED":
        # Node treats only the string "0" as "off" (trust-stores.md N5); "1" or "false" keep verification on.
        if value is not None and value.strip() == "0":
            return "IL101", "disables TLS certificate verification in Node"
        return None
    if name == "GIT_SSL_NO_VERIFY":
        # git disables verification when the variable is set to any value, even 0/false/"" (trust-stores.md 3.5).
        return "IL102", "disables git's TLS verification (git honours any value, even 0 or false)"
    spec = env_switch(name, value)
    if spec is not None:
        return "IL103", spec.effect
    return None


def _shown(name: str, value: str | None) -> str:
    if value is None:
        return f"{name}=<build-arg>"
    return f'{name}=""' if value == "" else f"{name}={value}"


def _written_to_startup_files(model, ctx, rule):
    """`export X=0` written into ~/.bashrc, /etc/profile.d/*.sh... (found with the config files)."""
    from .insecure_config import config_switches, emit

    yield from emit(model, ctx, rule, config_switches(model))


@check("IL101")
def node_tls_reject_unauthorized(model, ctx):
    for a in env_assignments(model):
        if a.name != "NODE_TLS_REJECT_UNAUTHORIZED" or env_rule(a.name, a.value) is None:
            continue
        severity = scope_severity(model, a.stage, a.persistent)
        if a.persistent:
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
        severity = scope_severity(model, a.stage, a.persistent)
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
        severity = scope_severity(model, a.stage, a.persistent)
        if spec.max_severity is not None and severity > spec.max_severity and stage_family(a.stage) not in spec.effective_families:
            severity = spec.max_severity
        yield ctx.hit("IL103", f"{_shown(a.name, a.value)} {spec.effect} ({spec.fact}); {a.scope}",
                      a.inst, a.start, a.end, stage=a.stage, severity=severity,
                      fix=fixes.env_switch_fix(model, a))
    yield from _written_to_startup_files(model, ctx, "IL103")
