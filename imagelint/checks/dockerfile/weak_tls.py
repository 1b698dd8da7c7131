"""An obsolete TLS/SSL protocol version forced or allowed (weak-tls), IL140.

Forcing an old protocol (curl --tls-max 1.0, wget --secure-protocol=TLSv1, OpenSSL MaxProtocol) is a
warning. Lowering only the minimum (curl --tlsv1.0 means "TLS 1.0 or later" since curl 7.54) is info:
a modern server still negotiates TLS 1.2+, but a downgrade is no longer refused.
"""
from __future__ import annotations

from typing import Iterator

from ...findings import Severity
from ..registry import check
from ...dockerfile.queries import env_assignments, option_values
from .insecure_cmd import Switch, _sw, all_commands
from .insecure_config import config_switches, emit

_CURL_MIN = {"--tlsv1": "TLS 1.0", "-1": "TLS 1.0", "--tlsv1.0": "TLS 1.0", "--tlsv1.1": "TLS 1.1"}
_CURL_SSL = {"--sslv2": "SSLv2", "-2": "SSLv2", "--sslv3": "SSLv3", "-3": "SSLv3"}
_WGET_WEAK = {"sslv2": "SSLv2", "sslv3": "SSLv3", "tlsv1": "TLS 1.0", "tlsv1_1": "TLS 1.1"}
_NODE_MIN = {"--tls-min-v1.0": "TLS 1.0", "--tls-min-v1.1": "TLS 1.1"}
_OLD = {"1.0": "TLS 1.0", "1.1": "TLS 1.1", "1": "TLS 1.0"}


def weak_tls_switches(model) -> Iterator[Switch]:
    for stage, run, cmd in all_commands(model):
        name = cmd.name
        if name == "curl":
            for w in cmd.args:
                v = w.value
                if v in _CURL_MIN:
                    yield _sw("IL140", f"curl {v} lowers the minimum protocol to {_CURL_MIN[v]} for this download "
                              f"(it means \"{_CURL_MIN[v]} or later\")", stage, run, cmd, w, severity=Severity.INFO)
                elif v in _CURL_SSL:
                    yield _sw("IL140", f"curl {v} asks for {_CURL_SSL[v]}, a broken protocol (curl >= 7.77 ignores it; "
                              f"older curl forces it)", stage, run, cmd, w)
            for w, value in option_values(cmd, "--tls-max"):
                if value in _OLD:
                    yield _sw("IL140", f"curl --tls-max {value} caps this download at {_OLD[value]}, an obsolete "
                              f"protocol version", stage, run, cmd, w)
        elif name == "wget":
            for w, value in option_values(cmd, "--secure-protocol"):
                if value and value.lower() in _WGET_WEAK:
                    yield _sw("IL140", f"wget --secure-protocol={value} forces {_WGET_WEAK[value.lower()]}, an "
                              f"obsolete protocol version", stage, run, cmd, w)
        elif name == "node":
            for w in cmd.args:
                if w.value in _NODE_MIN:
                    yield _sw("IL140", f"node {w.value} lets this process accept {_NODE_MIN[w.value]}",
                              stage, run, cmd, w, severity=Severity.INFO)
        elif name == "update-crypto-policies":
            for w, value in option_values(cmd, "--set"):
                if value and value.upper().split(":")[0] == "LEGACY":
                    yield _sw("IL140", f"update-crypto-policies --set {value} lets every program of the image use "
                              f"TLS 1.0/1.1 and weak algorithms; it persists", stage, run, cmd, w, persistent=True)
    for a in env_assignments(model):
        if a.name == "NODE_OPTIONS" and a.value:
            for flag, version in _NODE_MIN.items():
                if flag in a.value.split():
                    yield Switch("IL140", f"NODE_OPTIONS with {flag} lets every Node process accept {version}; {a.scope}",
                                 a.stage, a.inst, a.start, a.end, a.start, severity=Severity.INFO)


@check("IL140")
def weak_tls(model, ctx):
    yield from emit(model, ctx, "IL140", [*weak_tls_switches(model), *config_switches(model, ctx)])
