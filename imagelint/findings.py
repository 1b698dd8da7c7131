"""The common currency of every check: findings, their fixes, severities and categories.

Dockerfile checks, image checks and every reporter speak only these types.
"""
from __future__ import annotations

from .records import record, field
from enum import IntEnum
from typing import Any


class Severity(IntEnum):
    INFO = 1
    WARNING = 2
    ERROR = 3

    @classmethod
    def parse(cls, text: str) -> "Severity":
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown severity {text!r} (use error, warning or info)") from None

    def __str__(self) -> str:
        return self.name.lower()


# The category vocabulary. Each rule has exactly one; their meaning is fixed.
CATEGORIES = {
    "insecure-env": "An environment variable switches TLS verification off",
    "insecure-cmd": "A command or tool configuration switches TLS verification off",
    "package-signature-bypass": "Package signature or integrity checks are bypassed",
    "weak-tls": "An obsolete TLS/SSL protocol version is forced",
    "ca-not-registered": "A CA is placed where the OS trust store will not pick it up",
    "ca-tool-missing": "The trust-store update tool is not installed",
    "ca-wrong-ext-or-dir": "A CA file has a name or directory the OS tool ignores",
    "bundle-overwrite": "The system CA bundle is replaced or edited directly",
    "env-bundle-replaces": "A CA variable replaces the whole root set with a single CA",
    "env-path-missing": "A CA variable points at a file that does not exist",
    "java-ca-missing": "The JVM's own trust store lacks the custom CA",
    "node-ca-missing": "Node keeps its own roots and lacks the custom CA",
    "python-ca-missing": "Python requests/certifi keeps its own roots and lacks the custom CA",
    "ca-lost-multistage": "A CA registered in one stage is missing from the shipped stage",
    "no-ca-bundle": "The shipped image has no CA bundle at all",
    "private-key-copied": "Private key material ends up in the image",
    "cert-problem": "A certificate is expired, weak, malformed or not a CA",
    "trust-store-writable": "The trust store can be modified by non-root users",
    # What a server presents (certs/served.py), shared by server configurations and TLS Secrets.
    "server-cert-missing": "A configured certificate or key file is missing: the server will not start",
    "cert-expired": "A certificate the server presents is expired or not yet valid",
    "cert-short-lived": "A served certificate is valid for 48 hours or less, or expires soon",
    "cert-key-mismatch": "The key does not belong to the served certificate, or the leaf is not first",
    "cert-chain-incomplete": "The server does not send the intermediate that issued its certificate",
    "cert-san-mismatch": "A configured server name is not covered by the certificate's SANs",
    # Kubernetes: what a pod really trusts (its image with the volumes laid over it, plus its env)
    "k8s-bundle-replaces-store": "A volume mounted over the system CA directory or bundle hides the public roots",
    "k8s-subpath-bundle": "A CA bundle mounted with subPath never receives ConfigMap or Secret updates",
    "k8s-bundle-missing-ca": "A client's CA bundle lacks the CA that issued a server's certificate",
    "k8s-missing-source": "A ConfigMap, Secret or key the pod needs is missing (the pod does not start)",
}


class Applicability(IntEnum):
    """Ordered as in Ruff: a fix applies when its applicability >= the requested threshold."""

    DISPLAY_ONLY = 0
    UNSAFE = 1
    SAFE = 2

    def __str__(self) -> str:
        return self.name.lower().replace("_", "-")

    @classmethod
    def parse(cls, text: str) -> "Applicability":
        return cls[text.strip().upper().replace("-", "_")]


@record(frozen=True)
class Edit:
    """Replace original text [start, end) (character offsets) with `text`."""

    start: int
    end: int
    text: str


@record
class Fix:
    title: str
    applicability: Applicability
    edits: list[Edit] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "applicability": str(self.applicability),
            "edits": [{"start": e.start, "end": e.end, "text": e.text} for e in self.edits],
        }


@record
class Suppression:
    kind: str  # "inSource" (pragma) or "external" (config)
    justification: str = ""


@record
class Finding:
    rule: str
    severity: Severity
    category: str
    path: str
    message: str
    line: int = 1
    end_line: int = 1
    column: int = 1
    end_column: int = 1
    stage: str | None = None
    fix: Fix | None = None
    suppression: Suppression | None = None
    # Extra structured facts (image layer, certificate fingerprint, ...), reported verbatim in JSON.
    properties: dict[str, Any] = field(default_factory=dict)

    def sort_key(self) -> tuple:
        return (self.path, self.line, self.column, self.rule, self.message)


@record
class InputError:
    """An input that could not be read or parsed: one line, never a traceback."""

    path: str
    message: str
    line: int | None = None
    internal: bool = False  # a bug in imagelint, not in the input (exit code 3)

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.message}"


class ImagelintError(Exception):
    """A user-facing error (bad input, bad option). Rendered as one line, exit code 2."""

    def __init__(self, message: str, path: str | None = None, line: int | None = None):
        super().__init__(message)
        self.path = path
        self.line = line

    def as_input_error(self, default_path: str = "-") -> InputError:
        return InputError(self.path or default_path, str(self), self.line)
