"""nginx: the certificates each `server` with a TLS listener presents.

Tokens come from crossplane's lexer (the maintained nginx grammar), fed with text read from the
view; includes are followed here, inside the view, with the budgets of servers/common.py.
Facts (nginx docs, "Configuring HTTPS servers", ngx_http_ssl_module, ngx_core_module "include"):
- `include` takes a glob; relative paths, like relative `ssl_certificate` paths, are relative
  to the configuration prefix (the directory of nginx.conf);
- `ssl_certificate` holds the server certificate first, then the intermediates; several
  `ssl_certificate`/`ssl_certificate_key` pairs (RSA and ECDSA) pair up in order;
- `ssl_certificate` set in `http` (or `stream`) applies to every server that sets none;
- a `listen … ssl` makes that address:port TLS for every server on it; `ssl on` (before 1.25)
  makes the whole server TLS; `quic` listeners are TLS too.
"""
from __future__ import annotations

import io
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
    is_file,
    read_config_text,
)

MAIN_CONFIGS = (
    "/etc/nginx/nginx.conf",  # Debian, Alpine, RHEL, the official nginx image
    "/usr/local/nginx/conf/nginx.conf",  # built from source
    "/usr/local/openresty/nginx/conf/nginx.conf",  # openresty images
    "/opt/bitnami/nginx/conf/nginx.conf",  # bitnami/nginx
    "/etc/openresty/nginx.conf",
)
SERVER_CONTEXTS = ("http", "stream")
# Where distributions and the official image include site files from inside http {}: read as
# fragments when the main configuration comes from a base image this view does not hold.
FRAGMENT_GLOBS = ("/etc/nginx/conf.d/*.conf", "/etc/nginx/sites-enabled/*", "/etc/nginx/http.d/*.conf")


@dataclass
class Statement:
    directive: str
    args: list[str]
    file: str
    line: int
    block: list["Statement"] | None = None


@dataclass
class _Reader:
    view: FileView
    prefix: str
    config: ServerConfig
    budget: Budget = field(init=False)
    stack: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.budget = Budget(self.config)

    def parse_file(self, path: str) -> list[Statement]:
        if path in self.stack:
            self.config.notes.append(f"{path}: includes itself (through {' -> '.join(self.stack)}); not read again")
            return []
        if len(self.stack) >= MAX_INCLUDE_DEPTH:
            self.config.notes.append(f"{path}: includes nested deeper than {MAX_INCLUDE_DEPTH}; not read")
            return []
        if not self.budget.take_file(path):
            return []
        text = read_config_text(self.view, path, self.config)
        if text is None:
            return []
        self.stack.append(path)
        try:
            return self._statements(path, _tokens(text, path, self.config))
        finally:
            self.stack.pop()

    def _statements(self, path: str, tokens) -> list[Statement]:
        out: list[Statement] = []
        for token, line, quoted in tokens:
            if token == "}" and not quoted:
                break
            if token.startswith("#") and not quoted:
                continue
            if token in ("{", ";") and not quoted:
                self.config.fatal.append(f"{path}:{line}: unexpected \"{token}\"")
                continue
            statement = Statement(token, [], path, line)
            term = None
            for arg, _, arg_quoted in tokens:
                if arg in ("{", ";", "}") and not arg_quoted:
                    term = arg
                    break
                if arg.startswith("#") and not arg_quoted:
                    continue
                statement.args.append(arg)
            if term is None:
                self.config.fatal.append(f"{path}:{line}: \"{token}\" is not terminated by \";\"")
                break
            if term == "}":
                self.config.fatal.append(f"{path}:{line}: unexpected \"}}\" after \"{token}\"")
                break
            if term == "{":
                statement.block = self._statements(path, tokens)
            if statement.directive == "include" and statement.block is None and statement.args:
                out.extend(self._include(statement))
                continue
            out.append(statement)
        return out

    def _include(self, statement: Statement) -> list[Statement]:
        pattern = absolute(statement.args[0], self.prefix)
        if has_magic(pattern):
            files = [p for p in glob_view(self.view, pattern, dot_files=True) if is_file(self.view, p)]
        elif is_file(self.view, pattern):
            files = [pattern]
        else:
            # nginx: open() "…" failed (2: No such file or directory): nginx -t fails.
            self.config.fatal.append(f"{statement.file}:{statement.line}: include {statement.args[0]}: "
                                     f"{pattern} does not exist; nginx will not start")
            return []
        out: list[Statement] = []
        for path in files:
            out.extend(self.parse_file(path))
        return out


def _tokens(text: str, path: str, config: ServerConfig):
    """(token, line, quoted) from crossplane's lexer; a syntax error ends the file with a note."""
    from crossplane.errors import NgxParserBaseException
    from crossplane.lexer import _balance_braces, _lex_file_object

    try:
        yield from _balance_braces(_lex_file_object(io.StringIO(text)), path)
    except NgxParserBaseException as exc:
        config.fatal.append(f"{path}:{getattr(exc, 'lineno', None) or '?'}: {getattr(exc, 'strerror', exc)}")


def _listen_key(args: list[str]) -> str:
    address = args[0] if args else "80"
    if address.startswith("unix:"):
        return address
    if address.isdigit():
        return f"*:{address}"
    if ":" not in address.replace("[::]", "").strip("[]") and not address.startswith("["):
        return f"{address}:80"
    return address


def _is_tls_listen(args: list[str]) -> bool:
    return any(a in ("ssl", "quic") for a in args[1:])


def _directives(block: list[Statement], name: str) -> list[Statement]:
    return [s for s in block if s.directive == name]


def read_nginx(view: FileView, main: str) -> ServerConfig:
    """Every certificate nginx configured by `main` presents."""
    config = ServerConfig("nginx", main)
    reader = _Reader(view, posixpath.dirname(main), config)
    top = reader.parse_file(main)
    _endpoints(config, reader, view, [(s.directive, s.block) for s in top
                                      if s.directive in SERVER_CONTEXTS and s.block is not None])
    return config


def read_nginx_fragments(view: FileView, paths: list[str], prefix: str = "/etc/nginx") -> ServerConfig:
    """Site files read as the inside of http {} (their nginx.conf is the base image's)."""
    config = ServerConfig("nginx", paths[0] if paths else prefix)
    reader = _Reader(view, prefix, config)
    blocks = [("http", reader.parse_file(path)) for path in paths]
    _endpoints(config, reader, view, blocks)
    return config


def _endpoints(config: ServerConfig, reader: "_Reader", view: FileView,
               contexts: list[tuple[str, list[Statement]]]) -> None:
    for directive, block in contexts:
        context = Statement(directive, [], config.main, 0, block)
        servers = [s for s in context.block if s.directive == "server" and s.block is not None]
        tls_addresses = {_listen_key(l.args) for srv in servers for l in _directives(srv.block, "listen")
                         if _is_tls_listen(l.args)}
        inherited_certs = _directives(context.block, "ssl_certificate")
        inherited_keys = _directives(context.block, "ssl_certificate_key")
        inherited_ssl_on = any(s.args[:1] == ["on"] for s in _directives(context.block, "ssl"))
        for server in servers:
            listens = _directives(server.block, "listen")
            ssl_on = [s.args[:1] == ["on"] for s in _directives(server.block, "ssl")]
            tls = (any(_listen_key(l.args) in tls_addresses for l in listens)
                   or (ssl_on[-1] if ssl_on else inherited_ssl_on))
            if not tls:
                continue
            certs = _directives(server.block, "ssl_certificate") or inherited_certs
            keys = _directives(server.block, "ssl_certificate_key") or inherited_keys
            names = tuple(a for s in _directives(server.block, "server_name") for a in s.args)
            listen = tuple(_listen_key(l.args) for l in listens if _listen_key(l.args) in tls_addresses) or \
                tuple(_listen_key(l.args) for l in listens)
            if not certs:
                where = listens[0] if listens else server
                config.fatal.append(f"{where.file}:{where.line}: a TLS listener without ssl_certificate "
                                    "(nginx: no \"ssl_certificate\" is defined for the \"listen ... ssl\" directive)")
                continue
            for index, cert in enumerate(certs):
                key = keys[index] if index < len(keys) else None
                _add(config, reader, view, cert, key, names, listen, context.directive)


def _add(config: ServerConfig, reader: _Reader, view: FileView, cert: Statement, key: Statement | None,
         names: tuple[str, ...], listen: tuple[str, ...], context: str) -> None:
    if not cert.args:
        return
    path = cert.args[0]
    key_path = key.args[0] if key is not None and key.args else None
    for value in (path, key_path):
        if value is not None and ("$" in value or value.startswith(("data:", "engine:"))):
            config.notes.append(f"{cert.file}:{cert.line}: {value} is chosen at run time (variable, data: or "
                                "engine:); not checked")
            return
    if key_path is None:
        config.fatal.append(f"{cert.file}:{cert.line}: ssl_certificate {path} has no ssl_certificate_key: "
                            "nginx will not start")
        return
    reader.budget.add_endpoint(TLSEndpoint(
        server="nginx", config=cert.file, line=cert.line, cert_file=absolute(path, reader.prefix),
        key_file=absolute(key_path, reader.prefix), names=names if context == "http" else (),
        listen=listen, key_config_line=key.line if key is not None else None, directive="ssl_certificate"))


def find_nginx(view: FileView, fragments: bool = False) -> list[ServerConfig]:
    """Every nginx configuration of the view; with `fragments`, site files whose nginx.conf the
    view lacks (a Dockerfile's COPY into a base image's conf.d) are read on their own."""
    found = [read_nginx(view, main) for main in MAIN_CONFIGS if is_file(view, main)]
    if fragments and not found:
        paths = [p for pattern in FRAGMENT_GLOBS for p in glob_view(view, pattern) if is_file(view, p)]
        if paths:
            found.append(read_nginx_fragments(view, paths))
    return found
