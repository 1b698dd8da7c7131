"""What every server configuration reader shares: the endpoint record, budgets, reading a file
through a view (a second pass for image files the first one did not keep) and glob expansion
inside the view. Readers never touch the real filesystem: every path is a path of the view, and
links resolve inside it."""
from __future__ import annotations

import fnmatch
import posixpath
from dataclasses import dataclass, field
from typing import Iterable

from ..fs import FileView, norm

# Budgets: hostile configurations include themselves, glob thousands of files or nest forever.
MAX_INCLUDE_DEPTH = 16
MAX_CONFIG_FILES = 256
MAX_CONFIG_BYTES = 1024 * 1024
MAX_ENDPOINTS = 1024
MAX_GLOB_MATCHES = 1024


@dataclass(frozen=True)
class TLSEndpoint:
    """One certificate a server presents, as its configuration says."""

    server: str  # "nginx" | "apache" | "haproxy"
    config: str  # the file and line that configure the certificate
    line: int
    cert_file: str  # absolute path inside the view
    key_file: str | None  # None: the key is expected inside cert_file (HAProxy)
    chain_file: str | None = None  # Apache SSLCertificateChainFile
    names: tuple[str, ...] = ()  # server_name / ServerName+ServerAlias / crt-list SNI filters
    listen: tuple[str, ...] = ()  # "443", "127.0.0.1:8443", "*:443"
    key_config_line: int | None = None
    directive: str = ""  # the directive that names cert_file, for messages
    key_candidates: tuple[str, ...] = ()  # HAProxy: files tried for the key when the PEM has none
    keystore_password: str | None = None  # Tomcat: cert_file is a PKCS#12/JKS keystore opened with this
    keystore_alias: str | None = None

    @property
    def where(self) -> str:
        return f"{self.config}:{self.line}"

    def ports(self) -> list[int]:
        out = []
        for item in self.listen:
            tail = item.rsplit(":", 1)[-1].split()[0] if item else ""
            if tail.isdigit():
                out.append(int(tail))
        return out


@dataclass
class ServerConfig:
    """What one reader found: endpoints, the config files it read, and one-line "file:line: what"
    texts: `fatal` for what stops the server from starting (a missing include, a syntax error,
    a certificate without its key), `notes` for what was not checked (budgets, run-time values)."""

    server: str
    main: str
    endpoints: list[TLSEndpoint] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    fatal: list[str] = field(default_factory=list)


class Budget:
    """Counts files read for one configuration tree."""

    def __init__(self, config: ServerConfig):
        self.config = config
        self.exhausted = False

    def take_file(self, path: str) -> bool:
        if len(self.config.files) >= MAX_CONFIG_FILES:
            if not self.exhausted:
                self.config.notes.append(f"{path}: more than {MAX_CONFIG_FILES} configuration files; "
                                         "the rest are not read")
                self.exhausted = True
            return False
        self.config.files.append(path)
        return True

    def add_endpoint(self, endpoint: TLSEndpoint) -> None:
        if len(self.config.endpoints) < MAX_ENDPOINTS:
            self.config.endpoints.append(endpoint)
        elif not self.exhausted:
            self.config.notes.append(f"{endpoint.where}: more than {MAX_ENDPOINTS} TLS certificates; "
                                     "the rest are not checked")
            self.exhausted = True


def is_file(view: FileView, path: str) -> bool:
    info = view.info(path)
    return info is not None and info.kind == "file"


def is_dir(view: FileView, path: str) -> bool:
    info = view.info(path)
    return info is not None and info.kind == "dir"


def read_bytes(view: FileView, path: str, limit: int = MAX_CONFIG_BYTES) -> bytes | None:
    """A regular file's contents; image files the first pass did not keep are read again (the
    view's `fetch`, when it has one). None when absent, not a file, or over `limit`."""
    info = view.info(path)
    if info is None or info.kind != "file" or info.size > limit:
        return None
    data = view.read(path)
    if data is None and hasattr(view, "fetch"):
        view.fetch([path])
        data = view.read(path)
    return data


def fetch_all(view: FileView, paths: Iterable[str]) -> None:
    """Ask the view for several files at once (an image rereads each layer once for all)."""
    if hasattr(view, "fetch"):
        wanted = [p for p in paths if is_file(view, p) and view.read(p) is None]
        if wanted:
            view.fetch(wanted)


def read_text(view: FileView, path: str) -> str | None:
    data = read_bytes(view, path)
    return None if data is None else data.decode("utf-8", "replace")


def read_config_text(view: FileView, path: str, config: ServerConfig) -> str | None:
    """A configuration file's text; None, with the one note every reader gives, when it cannot be read."""
    text = read_text(view, path)
    if text is None:
        config.notes.append(f"{path}: cannot be read (not a regular file, or too large)")
    return text


def absolute(path: str, base: str) -> str:
    return norm(path if path.startswith("/") else posixpath.join(base, path))


def has_magic(pattern: str) -> bool:
    return any(c in pattern for c in "*?[")


def glob_view(view: FileView, pattern: str, dot_files: bool = False) -> list[str]:
    """glob(3) over the view: every component may hold wildcards, results sorted, at most
    MAX_GLOB_MATCHES. `*` does not match a leading dot unless `dot_files`."""
    parts = [p for p in norm(pattern).split("/") if p]
    found = ["/"]
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        nxt: list[str] = []
        for base in found:
            if not has_magic(part):
                candidate = posixpath.join(base, part)
                if view.info(candidate) is not None and (last or is_dir(view, candidate)):
                    nxt.append(candidate)
                continue
            for name in view.listdir(base):
                if name.startswith(".") and not part.startswith(".") and not dot_files:
                    continue
                if fnmatch.fnmatchcase(name, part):
                    candidate = posixpath.join(base, name)
                    if last or is_dir(view, candidate):
                        nxt.append(candidate)
            if len(nxt) > MAX_GLOB_MATCHES:
                break
        found = nxt[:MAX_GLOB_MATCHES]
        if not found:
            return []
    return sorted(found)
