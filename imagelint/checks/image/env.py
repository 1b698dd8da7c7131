"""The image config's Env: switches that turn TLS verification off (IL701) and CA variables that
point at files the image does not have (IL702). The config holds what the base image set too."""
from __future__ import annotations

import posixpath
import re
from typing import Callable

from ...findings import Severity
from ...fs import norm
from ...trust.stores import java_options
from ..registry import check
from .context import ImageContext


def _false(value: str) -> bool:
    return value.strip().lower() in ("0", "false", "no", "off")


def _true(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


# name -> (does this value disable verification?, what it switches off, severity). Sources per entry.
INSECURE_VARIABLES: dict[str, tuple[Callable[[str], bool], str, Severity]] = {
    # Node treats only the string "0" as "off" (Node docs NODE_TLS_REJECT_UNAUTHORIZED; observed with Node v20.20.2).
    "NODE_TLS_REJECT_UNAUTHORIZED": (lambda v: v.strip() == "0",
                                     "switches off certificate verification in every Node process", Severity.ERROR),
    # git honours any value, even 0, false or "" (git(1) GIT_SSL_NO_VERIFY; observed with git 2.39.5).
    "GIT_SSL_NO_VERIFY": (lambda v: True, "switches off git's TLS verification (git honours any value, even 0)",
                          Severity.ERROR),
    # PEP 493: only RHEL/SLES Python 2.7 builds read it (https://peps.python.org/pep-0493/).
    "PYTHONHTTPSVERIFY": (lambda v: v.strip() == "0",
                          "switches off certificate verification in RHEL/SLES Python 2.7 builds (PEP 493)",
                          Severity.WARNING),
    # requests < 2.28 read an empty CURL_CA_BUNDLE as "do not verify" (requests#6071).
    "CURL_CA_BUNDLE": (lambda v: v == "", "is empty: requests < 2.28 then skips certificate verification",
                       Severity.WARNING),
    "REQUESTS_CA_BUNDLE": (lambda v: v == "", "is empty: older requests releases then skip verification",
                           Severity.WARNING),
    "PIP_TRUSTED_HOST": (lambda v: bool(v.strip()), "makes pip accept any certificate (and plain HTTP) from these hosts",
                         Severity.ERROR),
    "NPM_CONFIG_STRICT_SSL": (_false, "switches off npm's certificate verification", Severity.ERROR),
    "YARN_ENABLE_STRICT_SSL": (_false, "switches off yarn's certificate verification", Severity.ERROR),
    "YARN_STRICT_SSL": (_false, "switches off yarn's certificate verification", Severity.ERROR),
    "GOINSECURE": (lambda v: bool(v.strip()), "lets the go command fetch these modules without TLS verification",
                   Severity.WARNING),
    "SSL_NO_VERIFY": (_true, "switches off certificate verification in conda-build", Severity.WARNING),
    "CONDA_SSL_VERIFY": (_false, "switches off conda's certificate verification", Severity.ERROR),
    "SSL_NO_VERIFY_HOSTNAME": (lambda v: True, "switches off host name verification in apk (any value)",
                               Severity.WARNING),
    "CLOUDSDK_AUTH_DISABLE_SSL_VALIDATION": (_true, "switches off gcloud's certificate verification", Severity.ERROR),
    "HELM_KUBEINSECURE_SKIP_TLS_VERIFY": (_true, "switches off helm's Kubernetes API certificate verification",
                                          Severity.ERROR),
    "BUNDLE_SSL_VERIFY_MODE": (lambda v: v.strip() == "0", "switches off Bundler's certificate verification",
                               Severity.ERROR),
}
# Java/Maven switches hidden in option variables.
INSECURE_OPTIONS = (
    (re.compile(r"-Dmaven\.wagon\.http\.ssl\.(insecure|allowall)=true"), "makes Maven accept any certificate"),
    (re.compile(r"-Daether\.connector\.https\.securityMode=insecure"), "makes Maven accept any certificate"),
)
OPTION_VARIABLES = ("MAVEN_OPTS", "JAVA_TOOL_OPTIONS", "JAVA_OPTS", "JDK_JAVA_OPTIONS", "MAVEN_CONFIG")


def _env_hit(ctx: ImageContext, rule: str, name: str, value: str, message: str, severity: Severity | None):
    created_by = ctx.created_by_env(name)
    return ctx.hit(rule, message, None, severity=severity, variable=name, value=value, created_by=created_by)


@check("IL701", kind="image")
def insecure_env(ctx: ImageContext):
    for name, value in ctx.env.items():
        # npm reads npm_config_* in any case; every other variable is case-sensitive.
        key = name.upper() if name.lower().startswith("npm_config_") else name
        entry = INSECURE_VARIABLES.get(key)
        if entry is not None:
            disables, what, severity = entry
            if disables(value):
                yield _env_hit(ctx, "IL701", name, value, f"{name}={value} in the image config {what}", severity)
            continue
        if name in OPTION_VARIABLES or name == "GOFLAGS":
            if name == "GOFLAGS" and re.search(r"(^|\s)-insecure\b", value):
                yield _env_hit(ctx, "IL701", name, value, f"GOFLAGS={value} fetches modules without TLS verification",
                               Severity.WARNING)
            for pattern, what in INSECURE_OPTIONS:
                match = pattern.search(value)
                if match:
                    yield _env_hit(ctx, "IL701", name, value, f"{name} holds {match.group(0)}, which {what}",
                                   Severity.ERROR)


# Variables that name a CA file or directory; a client given a missing path fails every handshake
# (or, for NODE_EXTRA_CA_CERTS, silently runs without the CA).
CA_PATH_VARIABLES = {
    "REQUESTS_CA_BUNDLE": "requests raises OSError (Could not find a suitable TLS CA certificate bundle)",
    "SSL_CERT_FILE": "OpenSSL and Go clients load no CA file",
    "SSL_CERT_DIR": "OpenSSL and Go clients load no CA directory",
    "NODE_EXTRA_CA_CERTS": "node prints 'Warning: Ignoring extra certs' and runs without the CA",
    "CURL_CA_BUNDLE": "curl and requests fail every handshake",
    "GIT_SSL_CAINFO": "git fails every HTTPS fetch",
    "PIP_CERT": "pip fails every HTTPS request",
    "AWS_CA_BUNDLE": "the AWS CLI and SDKs fail every request",
}


def _resolve(ctx: ImageContext, value: str) -> str:
    if value.startswith("/"):
        return norm(value)
    return norm(posixpath.join(ctx.config.get("WorkingDir") or "/", value))


@check("IL702", kind="image")
def env_path_missing(ctx: ImageContext):
    for name, consequence in CA_PATH_VARIABLES.items():
        value = ctx.env.get(name, "")
        if not value.strip():
            continue
        paths = value.split(":") if name == "SSL_CERT_DIR" else [value]
        for raw in paths:
            if not raw or "$" in raw:
                continue
            path = _resolve(ctx, raw)
            if ctx.view.info(path) is None:
                yield ctx.hit("IL702", f"{name}={raw} names a path that is not in the image: {consequence}",
                              None, variable=name, value=value, missing_path=path,
                              created_by=ctx.created_by_env(name))
    props = java_options(ctx.env)
    store = props.get("javax.net.ssl.trustStore")
    if store and "$" not in store:
        path = _resolve(ctx, store)
        if ctx.view.info(path) is None:
            variable = next((v for v in ("JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "JAVA_OPTS")
                             if "javax.net.ssl.trustStore=" in ctx.env.get(v, "")), "JAVA_TOOL_OPTIONS")
            yield ctx.hit("IL702", f"-Djavax.net.ssl.trustStore={store} (in {variable}) is not in the image: every "
                          "Java handshake fails with PKIX path building failed", None, variable=variable,
                          missing_path=path, created_by=ctx.created_by_env(variable))
