"""What a root filesystem with an environment trusts: the trust model every input shares.

A `TrustModel` is a filesystem view (an image, this host, a pod: an image with its volumes laid
over it) plus the environment and command its programs run with. From those alone it derives, each
once and lazily: the OS family and its facts, the system bundle and anchors, the custom CAs, the
TLS clients present and every runtime's effective store. `scan`, `trust` and the pod checks all
read the same model, so they cannot disagree about one filesystem.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Iterable, Mapping

from ..certs.load import CertRecord, load_certificates, pem_blocks
from ..facts import Family, family as family_named, family_of_filesystem, runtime_facts
from ..fs import FileView, norm
from .stores import discover, go_binaries, java_homes

# A full public set has ~140 roots; a "bundle" of fewer than this was cut down or replaced.
SMALL_BUNDLE = 100
OWN_ROOT_RUNTIMES = ("java", "python-requests", "node")


def user_ids(tree, user: str) -> tuple[int | None, int | None]:
    """(uid, gid) of the config's USER ("name", "uid", "name:group", "uid:gid"); (None, None) for root/unknown."""
    if not user:
        return None, None
    name, _, group = user.partition(":")

    def lookup(path: str, wanted: str, column: int) -> int | None:
        if wanted.isdigit():
            return int(wanted)
        for line in (tree.read(path) or b"").decode("utf-8", "replace").splitlines():
            parts = line.split(":")
            if len(parts) > column and parts[0] == wanted and parts[column].isdigit():
                return int(parts[column])
        return None

    uid = lookup("/etc/passwd", name, 2)
    gid = lookup("/etc/group", group, 2) if group else None
    if gid is None and not name.isdigit():
        for line in (tree.read("/etc/passwd") or b"").decode("utf-8", "replace").splitlines():
            parts = line.split(":")
            if len(parts) > 3 and parts[0] == name and parts[3].isdigit():
                gid = int(parts[3])
    return uid, gid


@dataclass
class CertFile:
    """Certificates loaded from one file of the image."""

    path: str
    certificates: list[CertRecord] = field(default_factory=list)
    private_keys: list[str] = field(default_factory=list)
    container: str = "unknown"

    @property
    def fingerprints(self) -> set[str]:
        return {c.fingerprint_sha256 for c in self.certificates}


_PEM_CERT = re.compile(rb"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", re.S)


def pem_fingerprints(data: bytes) -> set[str]:
    """SHA-256 fingerprints of the PEM certificates in `data`, without parsing them (the DER's hash):
    cheap enough for a whole public root set."""
    found = set()
    for match in pem_blocks(data, b"CERTIFICATE"):  # linear: the regex was quadratic on unterminated blocks
        try:
            der = base64.b64decode(b"".join(match.group(2).split()))
        except (binascii.Error, ValueError):
            continue
        found.add(hashlib.sha256(der).hexdigest())
    return found


@lru_cache(maxsize=1)
def certifi_fingerprints() -> frozenset[str]:
    try:
        import certifi

        with open(certifi.where(), "rb") as fh:
            return frozenset(pem_fingerprints(fh.read()))
    except (ImportError, OSError):
        return frozenset()


class TrustModel:
    """The trust facts of `view` as seen by programs started with `env` and `entrypoint`."""

    kind = "filesystem"  # "image", "host", "pod": who the fix advice is for

    def __init__(self, view: FileView, env: Mapping[str, str] | None = None, entrypoint: list[str] | None = None,
                 user: str = "", kind: str | None = None):
        self.view = view
        if kind:
            self.kind = kind
        self.env = dict(env or {})
        self.entrypoint = list(entrypoint or [])
        self.user = user

    @cached_property
    def user_ids(self) -> tuple[int | None, int | None]:
        return user_ids(self.view, self.user)

    # ---- OS family

    @cached_property
    def _os(self) -> tuple[str | None, dict[str, str]]:
        return family_of_filesystem(self.view)

    @property
    def family(self) -> str | None:
        return self._os[0]

    @property
    def os_release(self) -> dict[str, str]:
        return self._os[1]

    @cached_property
    def facts(self) -> Family:
        return family_named(self.family)

    @property
    def ships_public_set(self) -> bool:
        return self.facts.ships_public_set

    # ---- certificate files

    def load(self, path: str) -> CertFile | None:
        """Certificates in one file of the image (links followed), cached; None when absent or not kept."""
        real = self.view.realpath(path)
        if real is None:
            return None
        cache = self.__dict__.setdefault("_cert_cache", {})
        if real not in cache:
            data = self.view.read(real)
            if data is None:
                cache[real] = None
            else:
                loaded = load_certificates(data, path)
                cache[real] = CertFile(path, loaded.certificates, loaded.private_keys, loaded.container)
        found = cache[real]
        return None if found is None else CertFile(path, found.certificates, found.private_keys, found.container)

    @cached_property
    def bundle_path(self) -> str | None:
        """The generated OS bundle the family's clients read: the first existing of its bundle paths
        (unknown family: Go's list, which covers every family)."""
        go_files = runtime_facts().go_cert_files
        candidates = list(self.facts.bundle_paths) or list(go_files)
        if self.family in ("scratch", "busybox", None):
            candidates += [p for p in go_files if p not in candidates]
        for path in candidates:
            info = self.view.info(path)
            if info is not None and info.kind == "file":
                return path
        return None

    @cached_property
    def bundle(self) -> CertFile | None:
        return self.load(self.bundle_path) if self.bundle_path else None

    @cached_property
    def bundle_fingerprints(self) -> set[str]:
        return self.bundle.fingerprints if self.bundle else set()

    @cached_property
    def ignored_anchor_files(self) -> list[CertFile]:
        """Certificates in the anchor directories under a name the family's tool skips (Debian update-ca-certificates(8): only *.crt)."""
        if not self.facts.crt_only:
            return []
        files = []
        for directory in self.facts.anchor_dirs or []:
            for path in self.walk_files(directory, 8):
                if path.endswith(".crt") or path.rsplit("/", 1)[-1].startswith("."):
                    continue
                loaded = self.load(path)
                if loaded is not None and loaded.certificates:
                    files.append(loaded)
        return files

    @cached_property
    def anchor_files(self) -> list[CertFile]:
        """Certificates the family's update tool would add to the bundle (its anchor directories)."""
        files = []
        crt_only = self.facts.crt_only
        # Alpine's update-ca reads the top level only (alpinelinux/ca-certificates update-ca.c); Debian's
        # find -L descends (/usr/sbin/update-ca-certificates, ca-certificates 20230311+deb12u1).
        depth = 8 if self.facts.anchor_recursive else 0
        for directory in self.facts.anchor_dirs or []:
            for path in self.walk_files(directory, depth):
                if crt_only and not path.endswith(".crt"):
                    continue
                loaded = self.load(path)
                if loaded is not None and loaded.certificates:
                    files.append(loaded)
        return files

    def walk_files(self, directory: str, depth: int = 8) -> list[str]:
        """Regular files under a directory of the image, links followed inside it, sorted."""
        out: list[str] = []
        if depth < 0:
            return out
        for name in self.view.listdir(directory):
            path = f"{directory.rstrip('/')}/{name}"
            info = self.view.info(path)
            if info is None:
                continue
            if info.kind == "dir":
                out.extend(self.walk_files(path, depth - 1))
            elif info.kind == "file":
                out.append(path)
        return out

    @cached_property
    def public_fingerprints(self) -> set[str]:
        """The family's public root set as the image ships it (its ca-certificates package data)."""
        fingerprints: set[str] = set()
        for source in self.facts.public_sources:
            info = self.view.info(source)
            paths = self.walk_files(source) if info is not None and info.kind == "dir" else [source]
            for path in paths:
                fingerprints |= pem_fingerprints(self.view.read(path) or b"")
        return fingerprints

    @cached_property
    def reference_public_fingerprints(self) -> set[str]:
        """Well-known public roots: the image's own public set, else certifi's Mozilla bundle
        (only ever used to tell "holds no public root at all")."""
        if self.public_fingerprints:
            return self.public_fingerprints
        return certifi_fingerprints()

    @cached_property
    def custom_cas(self) -> dict[str, tuple[CertRecord, str]]:
        """fingerprint -> (certificate, where it was found): every anchor, plus bundle certificates
        outside the family's public set (when the image ships that set, so "outside" is known)."""
        custom: dict[str, tuple[CertRecord, str]] = {}
        for anchor in self.anchor_files:
            for cert in anchor.certificates:
                custom.setdefault(cert.fingerprint_sha256, (cert, anchor.path))
        if self.bundle and self.public_fingerprints:
            for cert in self.bundle.certificates:
                if cert.fingerprint_sha256 not in self.public_fingerprints:
                    custom.setdefault(cert.fingerprint_sha256, (cert, self.bundle.path))
        return custom

    @cached_property
    def registered_custom_cas(self) -> dict[str, tuple[CertRecord, str]]:
        """Custom CAs the OS store really trusts (they are in the generated bundle)."""
        return {fp: v for fp, v in self.custom_cas.items() if fp in self.bundle_fingerprints}

    # ---- runtimes

    @cached_property
    def path_dirs(self) -> list[str]:
        return [norm(p) for p in self.env.get("PATH", runtime_facts().default_path).split(":") if p]

    def which(self, name: str) -> str | None:
        for directory in self.path_dirs:
            info = self.view.info(f"{directory}/{name}")
            if info is not None and info.kind == "file":
                return f"{directory}/{name}"
        return None

    @cached_property
    def tls_clients(self) -> list[str]:
        """Programs that verify TLS against the OS store (Go binaries looked for only when needed)."""
        found = [path for name in runtime_facts().tls_clients if (path := self.which(name))]
        for directory in self.path_dirs:
            for name in self.view.listdir(directory):
                if re.match(r"^python3\.\d+$", name) and f"{directory}/{name}" not in found:
                    found.append(f"{directory}/{name}")
        found += [f"{home}/bin/java" for home in java_homes(self.view, self.env)]
        return list(dict.fromkeys(found))

    @cached_property
    def go_binaries(self) -> list[str]:
        """Executables with Go build info, in the usual app locations."""
        return go_binaries(self.view, self.env)

    @cached_property
    def all_stores(self) -> list:
        """Every runtime's effective trust store (certs/runtimes.py), read from the image (the inventory)."""
        return discover(self.view, self.env, self.family, entrypoint=self.entrypoint or None)

    def stores_for(self, runtimes: list[str] | None = None) -> list:
        """The stores of every runtime present, or of exactly these runtimes (present or not)."""
        if runtimes is None:
            return self.all_stores
        return discover(self.view, self.env, self.family, only=list(runtimes), entrypoint=self.entrypoint or None)

    @cached_property
    def stores(self) -> list:
        """The stores of the runtimes that keep their own roots (JVMs, requests, Node): what the checks
        compare with the OS store. OpenSSL's and Go's are the OS store itself, read by the checks directly."""
        if "all_stores" in self.__dict__:
            return [s for s in self.all_stores if s.runtime in OWN_ROOT_RUNTIMES]
        return discover(self.view, self.env, self.family, only=list(OWN_ROOT_RUNTIMES),
                        entrypoint=self.entrypoint or None)


def env_dict(env_list: Iterable[str]) -> dict[str, str]:
    """`["K=V", ...]` (an image config's Env) as a mapping; later entries win."""
    env: dict[str, str] = {}
    for item in env_list or []:
        key, _, value = str(item).partition("=")
        env[key] = value
    return env


class ImageTrustModel(TrustModel):
    """An image's trust model: its flattened tree plus its config (Env, Entrypoint, Cmd, User)."""

    kind = "image"
    image = None  # the opened image (layers, digest), set by trust.subjects.image_model

    def __init__(self, tree, config: dict, reference: str = ""):
        entrypoint = [str(w) for w in (config.get("Entrypoint") or []) + (config.get("Cmd") or [])]
        super().__init__(tree, env_dict(config.get("Env") or []), entrypoint, str(config.get("User") or ""))
        self.config = config
        self.reference = reference

    @property
    def env_list(self) -> list[str]:
        return list(self.config.get("Env") or [])

    @cached_property
    def history(self) -> list[dict]:
        return list(self.config.get("history") or [])
