"""Environment variables that switch TLS verification off, per tool, with the exact values that count.

Tools differ: Node honours only "0", git any value, Go tools parse booleans with strconv.ParseBool.
Dockerfile ENV/ARG, shell startup files and pod specs are all judged by this one table.
"""
from __future__ import annotations

import re
from ..records import record
from typing import Callable

from ..findings import Severity

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


def _truthy(value: str) -> bool:
    return value.strip().lower() in ("1", "t", "true", "yes", "y", "on")


def _falsy(value: str) -> bool:
    return value.strip().lower() in ("0", "f", "false", "no", "n", "off")


# Names that follow a verify-off convention but mean something else. The docker CLI turns TLS
# verification ON for any non-empty DOCKER_TLS_VERIFY, even "0" (docker CLI docs, environment variables).
NOT_VERIFY_SWITCHES = {"DOCKER_TLS_VERIFY"}


def _lower_in(*values: str) -> Callable[[str], bool]:
    return lambda v: v.strip().lower() in values


@record(frozen=True)
class EnvSwitch:
    names: tuple[str, ...]
    matches: Callable[[str], bool]
    effect: str  # what the value does, completing "NAME=value ..."
    source: str  # the public document that states it
    ignore_case: bool = False
    max_severity: Severity | None = None  # for switches that are inert on most systems...
    effective_families: tuple[str, ...] = ()  # ...except on these OS families
    unknown_counts: bool = False  # the variable acts whatever its value (GIT_SSL_NO_VERIFY style)
    pattern: re.Pattern | None = None  # a naming convention instead of a list of names

    def applies(self, name: str) -> bool:
        if self.pattern is not None:
            return self.pattern.fullmatch(name) is not None and name not in NOT_VERIFY_SWITCHES
        if self.ignore_case:
            return name.lower() in (n.lower() for n in self.names)
        return name in self.names


# Every other variable a tool reads to skip verification (IL103 in Dockerfiles, the same in pod specs).
ENV_SWITCHES: tuple[EnvSwitch, ...] = (
    EnvSwitch(("PYTHONHTTPSVERIFY",), lambda v: v.strip() == "0",
              "switches off HTTPS certificate verification in Python's standard library, but only on "
              "distribution-patched Pythons (RHEL/CentOS 7, SLES Python 2.7, PEP 493); upstream CPython 3 ignores it",
              "PEP 493", max_severity=Severity.WARNING, effective_families=("rhel", "suse")),
    EnvSwitch(("CURL_CA_BUNDLE",), _empty,
              "(empty) makes Python requests < 2.28 skip certificate verification (psf/requests#6071), "
              "a known hack to switch verification off", "psf/requests#6071"),
    EnvSwitch(("REQUESTS_CA_BUNDLE",), _empty,
              "(empty) is the known hack to switch off verification in Python requests: with CURL_CA_BUNDLE "
              "empty too, requests < 2.28 skips verification; on its own requests falls back to certifi",
              "psf/requests#6071", max_severity=Severity.WARNING),
    EnvSwitch(("PIP_TRUSTED_HOST",), _nonempty,
              "makes pip skip certificate verification (and accept plain HTTP) for these hosts", "pip docs, HTTPS Certificates"),
    EnvSwitch(("UV_INSECURE_HOST",), _nonempty,
              "makes uv skip certificate verification (and accept plain HTTP) for these hosts", "pip docs, HTTPS Certificates"),
    EnvSwitch(("npm_config_strict_ssl",), _lower_in("false"),
              "makes npm and pnpm skip certificate verification of the registry", "npm config docs, strict-ssl", ignore_case=True),
    EnvSwitch(("YARN_STRICT_SSL", "yarn_strict_ssl"), _lower_in("false"),
              "makes yarn v1 skip certificate verification of the registry", "npm config docs, strict-ssl"),
    EnvSwitch(("YARN_ENABLE_STRICT_SSL",), _lower_in("false", "0"),
              "makes yarn berry skip certificate verification of the registry", "npm config docs, strict-ssl"),
    EnvSwitch(("GOINSECURE",), _nonempty,
              "makes the go command skip TLS verification (and allow HTTP) when fetching these module paths", "go help environment, GOINSECURE"),
    EnvSwitch(("GOFLAGS",), lambda v: any(w in ("-insecure", "--insecure") or w.startswith(("-insecure=", "--insecure="))
                                          for w in v.split()),
              "passes -insecure to every go command: older `go get` skipped TLS verification (Go 1.17+ rejects it)", "go help environment, GOINSECURE"),
    EnvSwitch(("SSL_NO_VERIFY",), lambda v: v.strip().lower() not in ("", "0", "false", "no"),
              "makes conda-build (skeleton pypi) skip certificate verification", "conda docs, ssl_verify"),
    EnvSwitch(("SSL_NO_VERIFY_HOSTNAME",), _set,
              "makes apk skip the server hostname check (any value counts)", "apk(8), SSL_NO_VERIFY_HOSTNAME", unknown_counts=True),
    EnvSwitch(("CONDA_SSL_VERIFY",), _lower_in("false", "no", "off", "0"),
              "makes conda skip certificate verification", "conda docs, ssl_verify"),
    EnvSwitch(("BUNDLE_SSL_VERIFY_MODE",), lambda v: v.strip() == "0",
              "(OpenSSL::SSL::VERIFY_NONE) makes Bundler skip certificate verification", "Bundler config docs, ssl_verify_mode"),
    EnvSwitch(("MAVEN_OPTS", "MAVEN_CONFIG", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS"),
              lambda v: MAVEN_INSECURE.search(v) is not None,
              "makes Maven skip certificate verification of repositories (Wagon `maven.wagon.http.ssl.*`, "
              "resolver `aether.connector.https.securityMode=insecure`)", "Maven Wagon HTTP docs"),
    EnvSwitch(("HELM_KUBEINSECURE_SKIP_TLS_VERIFY",), _go_true,
              "makes helm skip verification of the Kubernetes API server certificate", "helm/helm commit 687852e"),
    EnvSwitch(("CLOUDSDK_AUTH_DISABLE_SSL_VALIDATION",), _lower_in("true", "1", "yes", "on"),
              "makes gcloud skip certificate verification", "observed with gcloud"),
    EnvSwitch(("AZURE_CLI_DISABLE_CONNECTION_VERIFICATION", "ADAL_PYTHON_SSL_NO_VERIFY"), _nonempty,
              "makes the Azure CLI skip certificate verification (any non-empty value)", "Azure CLI docs"),
    EnvSwitch(("VAULT_SKIP_VERIFY",), _go_true,
              "makes the Vault CLI skip verification of the Vault server certificate", "Vault CLI docs, VAULT_SKIP_VERIFY"),
    EnvSwitch(("NOMAD_SKIP_VERIFY",), _go_true,
              "makes the Nomad CLI skip verification of the server certificate", "Nomad CLI docs, NOMAD_SKIP_VERIFY"),
    EnvSwitch(("CONSUL_HTTP_SSL_VERIFY",), _go_false,
              "makes the Consul CLI skip verification of the server certificate", "Consul CLI docs, CONSUL_HTTP_SSL_VERIFY"),
    EnvSwitch(("ETCDCTL_INSECURE_SKIP_TLS_VERIFY",), _go_true,
              "makes etcdctl skip verification of the server certificate", "etcdctl docs"),
    # Naming conventions (Go CLIs bind flags such as --insecure-skip-tls-verify to PREFIX_* variables):
    # a tool not listed above, so a warning whatever the scope.
    EnvSwitch((), _truthy,
              "by its name switches off TLS certificate verification for the tool that reads it",
              "kubectl/helm --insecure-skip-tls-verify naming convention", pattern=re.compile(r"(?:[A-Za-z0-9_]*_)?(?:(?:INSECURE_)?SKIP_(?:TLS|SSL)_VERIFY(?:ICATION)?|(?:TLS|SSL)_SKIP_VERIFY)", re.I),
              max_severity=Severity.WARNING),
    EnvSwitch((), _truthy,
              "by its name switches off TLS certificate verification for the tool that reads it",
              "kubectl/helm --insecure-skip-tls-verify naming convention", pattern=re.compile(r"(?:[A-Za-z0-9_]*_)?INSECURE_SKIP_VERIFY", re.I),
              max_severity=Severity.WARNING),
    EnvSwitch((), _falsy,
              "by its name switches off TLS certificate verification for the tool that reads it",
              "kubectl/helm --insecure-skip-tls-verify naming convention", pattern=re.compile(r"[A-Za-z0-9_]*_(?:TLS|SSL)_VERIFY", re.I),
              max_severity=Severity.WARNING),
)


def env_switch(name: str, value: str | None) -> EnvSwitch | None:
    """The table entry a variable assignment triggers, if any (None value: unknown)."""
    for spec in ENV_SWITCHES:
        if spec.applies(name):
            if value is None:
                return spec if spec.unknown_counts else None
            return spec if spec.matches(value) else None
    return None
