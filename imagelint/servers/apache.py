"""Apache httpd: the certificates each TLS virtual host presents.

The configuration grammar of httpd 2.4 (server/util.c ap_cfg_getline, ap_getword_conf; httpd docs
"Configuration Files", "Include", "IfModule", "VirtualHost"; mod_ssl docs):
- one directive per line, a trailing backslash continues it, `#` starts a comment only as the
  first thing on a line; arguments are words, `"…"` or `'…'` quoted with backslash escapes;
  directive names are case-insensitive;
- sections `<Name args>` … `</Name>`; `<IfModule [!]name>` holds when the module is built in or
  loaded by an earlier `LoadModule` (by module name, `ssl_module`, or source file, `mod_ssl.c`);
  `<IfDefine [!]NAME>` by `Define`; `<IfFile [!]path>` by the file's existence;
- `Include`/`IncludeOptional` take globs (in any path component) relative to ServerRoot, read in
  alphabetical order; a directory includes every file below it; `Include` fails when nothing
  matches, `IncludeOptional` does not;
- relative `SSLCertificateFile` paths are relative to ServerRoot; several certificate/key pairs
  pair up in order; a certificate without `SSLCertificateKeyFile` must hold its key; since 2.4.8
  the certificate file may carry the chain after the leaf, `SSLCertificateChainFile` is
  deprecated but still read; directives of the main server apply to virtual hosts that set none.
Distribution layouts: Debian (`apache2.conf` including mods-enabled, ports.conf, conf-enabled and
sites-enabled), RHEL (`conf/httpd.conf` including conf.modules.d and conf.d), the httpd image.
"""
from __future__ import annotations

import posixpath
from dataclasses import dataclass, field

from ..fs import FileView
from .common import (
    MAX_INCLUDE_DEPTH,
    Budget,
    ServerConfig,
    TLSEndpoint,
    absolute,
    glob_view,
    has_magic,
    is_dir,
    is_file,
    read_config_text,
)

# main configuration -> the compiled-in ServerRoot (HTTPD_ROOT) of that build
MAIN_CONFIGS = {
    "/etc/apache2/apache2.conf": "/etc/apache2",  # Debian, Ubuntu
    "/etc/httpd/conf/httpd.conf": "/etc/httpd",  # RHEL, Fedora, Amazon Linux
    "/usr/local/apache2/conf/httpd.conf": "/usr/local/apache2",  # the official httpd image
    "/etc/apache2/httpd.conf": "/var/www",  # Alpine
    "/opt/bitnami/apache/conf/httpd.conf": "/opt/bitnami/apache",
}
# Built into every httpd 2.4 (`httpd -l`): always "loaded" for <IfModule>.
STATIC_MODULES = frozenset({"core.c", "mod_so.c", "http_core.c", "mod_watchdog.c", "mod_log_config.c",
                            "mod_logio.c", "mod_version.c", "mod_unixd.c", "core_module", "so_module",
                            "http_module", "watchdog_module", "log_config_module", "logio_module",
                            "version_module", "unixd_module"})
CONDITIONAL = ("ifmodule", "ifdefine", "iffile", "ifversion", "ifdirective", "ifsection")
# Site and configuration files a Dockerfile typically adds to a base image's httpd: read as
# fragments (every module assumed loaded) when the view lacks the main configuration.
FRAGMENT_GLOBS = {
    "/etc/apache2/sites-enabled/*.conf": "/etc/apache2", "/etc/apache2/sites-available/*.conf": "/etc/apache2",
    "/etc/apache2/conf-enabled/*.conf": "/etc/apache2", "/etc/httpd/conf.d/*.conf": "/etc/httpd",
    "/usr/local/apache2/conf/extra/*.conf": "/usr/local/apache2",
}
SSL_KEYS = ("sslengine", "sslcertificatefile", "sslcertificatekeyfile", "sslcertificatechainfile")


@dataclass
class Directive:
    name: str  # lower-cased
    args: list[str]
    file: str
    line: int


@dataclass
class Host:
    """The main server or one <VirtualHost>: the directives that matter here, in order."""

    file: str
    line: int
    addresses: list[str] = field(default_factory=list)
    directives: dict[str, list[Directive]] = field(default_factory=dict)

    def all(self, name: str) -> list[Directive]:
        return self.directives.get(name, [])

    def last(self, name: str) -> Directive | None:
        found = self.all(name)
        return found[-1] if found else None


def split_words(text: str) -> list[str]:
    """ap_getword_conf over a whole line: whitespace-separated words, quotes with backslash escapes."""
    words: list[str] = []
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            break
        if text[i] in "\"'":
            quote = text[i]
            i += 1
            word = []
            while i < n and text[i] != quote:
                if text[i] == "\\" and i + 1 < n and text[i + 1] in (quote, "\\"):
                    i += 1
                word.append(text[i])
                i += 1
            i += 1
            words.append("".join(word))
        else:
            start = i
            while i < n and not text[i].isspace():
                i += 1
            words.append(text[start:i])
    return words


def logical_lines(text: str):
    """(first line number, text) per configuration line, continuations joined, comments dropped."""
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip("\r")
        if not pending:
            start = number
        if line.endswith("\\") and not line.endswith("\\\\"):
            pending.append(line[:-1])
            continue
        pending.append(line)
        joined = " ".join(part.strip() for part in pending).strip()
        pending = []
        if joined and not joined.startswith("#"):
            yield start, joined
    if pending:
        joined = " ".join(part.strip() for part in pending).strip()
        if joined and not joined.startswith("#"):
            yield start, joined


class _Reader:
    def __init__(self, view: FileView, main: str, server_root: str, assume_modules: bool = False):
        self.view = view
        self.assume_modules = assume_modules
        self.root = server_root
        self.config = ServerConfig("apache", main)
        self.budget = Budget(self.config)
        self.modules: set[str] = set(STATIC_MODULES)
        self.defines: dict[str, str] = {}
        self.main_host = Host(main, 1)
        self.hosts: list[Host] = []
        self.stack: list[str] = []

    # ---- reading files, sections skipped or entered

    def read(self, path: str) -> None:
        if path in self.stack:
            self.config.fatal.append(f"{path}: includes itself (through {' -> '.join(self.stack)}): "
                                     "httpd will not start")
            return
        if len(self.stack) >= MAX_INCLUDE_DEPTH:
            self.config.notes.append(f"{path}: includes nested deeper than {MAX_INCLUDE_DEPTH}; not read")
            return
        if not self.budget.take_file(path):
            return
        text = read_config_text(self.view, path, self.config)
        if text is None:
            return
        self.stack.append(path)
        try:
            self._lines(path, list(logical_lines(text)))
        finally:
            self.stack.pop()

    def _lines(self, path: str, lines: list[tuple[int, str]]) -> None:
        host = self.hosts[-1] if self._in_vhost else self.main_host
        skip: list[str] = []  # closing tags of sections being skipped (false conditions)
        opened: list[str] = []  # sections entered in this file
        for number, text in lines:
            text = self._substitute(text)
            if text.startswith("</"):
                name = text[2:].rstrip(">").strip().lower()
                if skip:
                    if skip[-1] == name:
                        skip.pop()
                    continue
                if opened and opened[-1] == name:
                    opened.pop()
                    if name == "virtualhost":
                        self._in_vhost = False
                        host = self.main_host
                else:
                    self.config.fatal.append(f"{path}:{number}: </{name}> without matching <{name}> section: "
                                             "httpd will not start")
                continue
            if text.startswith("<"):
                inner = text[1:]
                if inner.endswith(">"):
                    inner = inner[:-1]
                words = split_words(inner)
                name = (words[0] if words else "").lower()
                args = words[1:]
                if skip:
                    skip.append(name)
                    continue
                if name in CONDITIONAL and not self._holds(name, args):
                    skip.append(name)
                    continue
                opened.append(name)
                if name == "virtualhost":
                    host = Host(path, number, addresses=args)
                    self.hosts.append(host)
                    self._in_vhost = True
                continue
            if skip:
                continue
            words = split_words(text)
            if not words:
                continue
            name, args = words[0].lower(), words[1:]
            self._directive(Directive(name, args, path, number), host)
        if opened:
            self.config.fatal.append(f"{path}: <{opened[-1]}> is not closed: httpd will not start")
            if "virtualhost" in opened:
                self._in_vhost = False

    _in_vhost = False

    def _substitute(self, text: str) -> str:
        if "${" not in text:
            return text
        for name, value in self.defines.items():
            text = text.replace("${" + name + "}", value)
        return text

    def _holds(self, name: str, args: list[str]) -> bool:
        arg = args[0] if args else ""
        negate = arg.startswith("!")
        arg = arg[1:] if negate else arg
        if name == "ifmodule":
            result = arg in self.modules or self.assume_modules
        elif name == "ifdefine":
            result = arg in self.defines
        elif name == "iffile":
            result = self.view.info(absolute(arg, self.root)) is not None
        else:  # IfVersion, IfDirective, IfSection: true for a stock httpd 2.4
            result = True
        return result != negate

    # ---- directives

    def _directive(self, directive: Directive, host: Host) -> None:
        name, args = directive.name, directive.args
        if name == "serverroot" and args and host is self.main_host:
            self.root = args[0].rstrip("/") or "/"
        elif name == "define" and args:
            self.defines[args[0]] = args[1] if len(args) > 1 else ""
        elif name == "undefine" and args:
            self.defines.pop(args[0], None)
        elif name == "loadmodule" and len(args) >= 2:
            self.modules.add(args[0])
            base = posixpath.basename(args[1])
            if base.endswith(".so"):
                self.modules.add(base[:-3] + ".c")
        elif name in ("include", "includeoptional") and args:
            self._include(directive, optional=name == "includeoptional")
        elif name in SSL_KEYS or name in ("servername", "serveralias"):
            host.directives.setdefault(name, []).append(directive)

    def _include(self, directive: Directive, optional: bool) -> None:
        pattern = absolute(directive.args[0], self.root)
        if has_magic(pattern):
            matches = glob_view(self.view, pattern)
            if not matches and not optional:
                self.config.fatal.append(f"{directive.file}:{directive.line}: Include {directive.args[0]}: no "
                                         "file matches: httpd will not start")
        elif self.view.info(pattern) is not None:
            matches = [pattern]
        else:
            if not optional:
                self.config.fatal.append(f"{directive.file}:{directive.line}: Include {directive.args[0]}: "
                                         f"{pattern} does not exist: httpd will not start")
            return
        for path in matches:
            for file in self._files_below(path):
                self.read(file)

    def _files_below(self, path: str, depth: int = 0) -> list[str]:
        if is_file(self.view, path):
            return [path]
        if not is_dir(self.view, path) or depth > MAX_INCLUDE_DEPTH:
            return []
        out: list[str] = []
        for name in self.view.listdir(path):
            out.extend(self._files_below(posixpath.join(path, name), depth + 1))
        return out

    # ---- endpoints

    def endpoints(self) -> None:
        main = self.main_host
        hosts = [main] + self.hosts if _engine_on(main, None) else self.hosts
        for host in hosts:
            if not _engine_on(host, main if host is not main else None):
                continue
            inherit = host is not main
            certs = host.all("sslcertificatefile") or (main.all("sslcertificatefile") if inherit else [])
            keys = host.all("sslcertificatekeyfile") or (main.all("sslcertificatekeyfile") if inherit else [])
            chain = host.last("sslcertificatechainfile") or (main.last("sslcertificatechainfile") if inherit else None)
            names = [a for d in host.all("servername") for a in d.args[:1]]
            if not names and inherit:
                names = [a for d in main.all("servername") for a in d.args[:1]]
            names += [a for d in host.all("serveralias") for a in d.args]
            if not certs:
                self.config.fatal.append(f"{host.file}:{host.line}: SSLEngine on without SSLCertificateFile: "
                                         "httpd will not start (AH02572)")
                continue
            for index, cert in enumerate(certs):
                if not cert.args:
                    continue
                key = keys[index] if index < len(keys) else None
                self.budget.add_endpoint(TLSEndpoint(
                    server="apache", config=cert.file, line=cert.line,
                    cert_file=absolute(cert.args[0], self.root),
                    key_file=absolute(key.args[0], self.root) if key is not None and key.args else None,
                    chain_file=absolute(chain.args[0], self.root) if chain is not None and chain.args else None,
                    names=tuple(names), listen=tuple(host.addresses), key_config_line=key.line if key else None,
                    directive="SSLCertificateFile"))


def _engine_on(host: Host, main: Host | None) -> bool:
    engine = host.last("sslengine") or (main.last("sslengine") if main is not None else None)
    return engine is not None and bool(engine.args) and engine.args[0].lower() == "on"


def read_apache(view: FileView, main: str, server_root: str | None = None) -> ServerConfig:
    reader = _Reader(view, main, server_root or MAIN_CONFIGS.get(main) or posixpath.dirname(main))
    reader.read(main)
    reader.endpoints()
    return reader.config


def find_apache(view: FileView, fragments: bool = False) -> list[ServerConfig]:
    found = [read_apache(view, main, root) for main, root in MAIN_CONFIGS.items() if is_file(view, main)]
    if fragments and not found:
        for pattern, root in FRAGMENT_GLOBS.items():
            paths = [p for p in glob_view(view, pattern) if is_file(view, p)]
            if paths:
                reader = _Reader(view, paths[0], root, assume_modules=True)
                for path in paths:
                    reader.read(path)
                reader.endpoints()
                found.append(reader.config)
    return found
