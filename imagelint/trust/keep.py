"""Which files of an image the trust model reads: one keep policy for `scan`, `trust` and pods.

The image reader keeps only these contents in memory; every other file is metadata only.
"""
from __future__ import annotations

import hashlib
import posixpath
from pathlib import Path

from ..certs.load import looks_like_private_key
from ..facts.runtimes import GO_BUILDINFO, runtime_facts
from ..image.layers import KeepPolicy
from ..image.limits import KIB
from ..servers import is_server_config

SMALL_FILE = 64 * KIB

# Directories whose every file matters: OS trust stores, anchors and their generated output.
TRUST_PREFIXES = (
    "/etc/ssl/", "/etc/pki/", "/usr/local/share/ca-certificates/", "/usr/share/ca-certificates/",
    "/etc/ca-certificates", "/var/lib/ca-certificates/", "/usr/share/pki/", "/etc/ca-certificates.conf",
    "/usr/lib/ssl/", "/etc/default/cacerts",
)
SYSTEM_FILES = frozenset({
    "/etc/os-release", "/usr/lib/os-release", "/etc/alpine-release", "/etc/debian_version", "/etc/lsb-release",
    "/etc/redhat-release", "/etc/system-release", "/etc/centos-release", "/etc/SuSE-release",
    "/etc/passwd", "/etc/group",  # to map the image's USER name to a uid
})
# Trust material by name, kept wherever it is (bounded by the per-file limit).
TRUST_NAMES = frozenset({"cacerts", "jssecacerts", "cacert.pem", "ca-bundle.crt", "ca-certificates.crt",
                         "tls-ca-bundle.pem", "ca-bundle.pem", "java.security"})
KEY_SUFFIXES = (".pem", ".key", ".crt", ".cer", ".der", ".p12", ".pfx", ".jks", ".keystore", ".truststore",
                ".p8", ".pk8", ".ppk", ".pkcs12", ".bks", ".csr", ".p7b", ".p7c")
KEY_NAMES = frozenset({"id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "id_ecdsa_sk", "id_ed25519_sk", "identity",
                       "server.key", "tls.key", "privkey", "private.key"})
# Where Python's requests finds its roots, and which urllib3 it runs on.
PYTHON_TRUST_FILES = ("/requests/certs.py", "/certifi/core.py", "/urllib3/_version.py")
EMBEDDED_CERT_BINARIES = frozenset({"node", "nodejs"})


def keeps(path: str, size: int) -> bool:
    """Whether the trust model (or the server checks) needs this file's contents. Server
    configurations are kept by path; the certificates, keys and includes they name elsewhere are
    read on a second pass (ImageTree.fetch)."""
    if path in SYSTEM_FILES or path.startswith(TRUST_PREFIXES) or is_server_config(path, size):
        return True
    base = posixpath.basename(path)
    if base in TRUST_NAMES:
        return True
    if size < SMALL_FILE:
        if base == "release":  # JVM release files: JAVA_VERSION, IMPLEMENTOR
            return True
        if base in KEY_NAMES or base.lower().endswith(KEY_SUFFIXES):
            return True
    return size < 256 * KIB and path.endswith(PYTHON_TRUST_FILES)


def has_embedded_roots(path: str, size: int, mode: int) -> bool:
    """Executables whose root store is compiled in: only their PEM blocks are kept."""
    return posixpath.basename(path) in EMBEDDED_CERT_BINARIES and bool(mode & 0o111) and size > 0


def may_be_go_program(path: str, size: int, mode: int) -> bool:
    facts = runtime_facts()
    return (bool(mode & 0o111) and size >= facts.go_min_size
            and posixpath.dirname(path) in facts.go_app_dirs)


def _behaviour_key(name: str) -> str:
    """Changes whenever the code or data deciding what is kept changes: cached layer records of an
    older policy are never read."""
    package = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for part in ("trust/keep.py", "facts/trust-facts.toml", "facts/runtimes.py", "certs/load.py",
                 "certs/embedded.py", "image/layers.py",
                 # the server configuration trees kept by path (servers.CONFIG_PREFIXES)
                 "servers/__init__.py", "servers/nginx.py", "servers/apache.py", "servers/haproxy.py",
                 "servers/caddy.py", "servers/tomcat.py"):
        digest.update((package / part).read_bytes())
    return f"{name}:{digest.hexdigest()[:20]}"


TRUST_FILES = KeepPolicy(keep=keeps, embedded=has_embedded_roots, markers=((GO_BUILDINFO, may_be_go_program),),
                         sniff=looks_like_private_key, cache_key=_behaviour_key("trust-files"))
