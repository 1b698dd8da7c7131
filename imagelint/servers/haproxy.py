"""HAProxy: the certificates each `bind … ssl` presents.

The grammar of haproxy 2.6's configuration (doc/configuration.txt, "2.2 Quoting and escaping",
"5.1 Bind options" crt / crt-list, "3.1" crt-base, ssl-load-extra-files, ssl-load-extra-del-ext):
- a line is words separated by blanks; `#` starts a comment unless quoted or escaped; `"…"`
  (with `$VAR` expansion) and `'…'` quote, `\\` escapes; a section keyword (`global`, `defaults`,
  `frontend`, `listen`, `backend`, …) as the first word starts a section;
- `bind ADDR[,ADDR…] [param …]`: `crt FILE|DIR` (repeatable) and `crt-list FILE`; relative
  paths are relative to `crt-base`, else to the working directory haproxy starts in;
- a PEM holds the leaf, its intermediates and, unless a `<file>.key` is beside it (without the
  `.crt` extension under `ssl-load-extra-del-ext`), the key; a directory loads every file in
  alphabetical order except the reserved `.key`, `.ocsp`, `.issuer` and `.sctl` extensions;
- a crt-list line is `FILE [\\[bind options\\]] [[!]SNI filter …]`.
"""
from __future__ import annotations

import posixpath
from dataclasses import dataclass

from ..fs import FileView
from .common import Budget, ServerConfig, TLSEndpoint, absolute, is_dir, is_file, read_config_text, read_text

MAIN_CONFIGS = (
    "/etc/haproxy/haproxy.cfg",  # Debian, Alpine, RHEL
    "/usr/local/etc/haproxy/haproxy.cfg",  # the official haproxy image
    "/opt/bitnami/haproxy/conf/haproxy.cfg",
)
SECTIONS = frozenset({"global", "defaults", "frontend", "backend", "listen", "peers", "resolvers", "userlist",
                      "program", "http-errors", "ring", "mailers", "cache", "fcgi-app", "crt-store"})
RESERVED_EXTENSIONS = (".key", ".ocsp", ".issuer", ".sctl")
MAX_DIR_CERTIFICATES = 1024


@dataclass
class Line:
    number: int
    words: list[str]


def split_line(text: str, env: dict[str, str] | None = None) -> list[str]:
    """One configuration line into words, as haproxy's parse_line does (quotes, escapes, comments)."""
    env = env or {}
    words: list[str] = []
    word: list[str] = []
    in_word = False
    quote = ""
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if quote:
            if c == quote:
                quote = ""
            elif c == "\\" and quote == '"' and i + 1 < n:
                i += 1
                word.append(text[i])
            elif c == "$" and quote == '"':
                i = _expand(text, i, env, word)
                continue
            else:
                word.append(c)
            i += 1
            continue
        if c in " \t":
            if in_word:
                words.append("".join(word))
                word, in_word = [], False
            i += 1
            continue
        if c == "#":
            break
        in_word = True
        if c in "\"'":
            quote = c
        elif c == "\\" and i + 1 < n:
            i += 1
            word.append(text[i])
        elif c == "$":
            i = _expand(text, i, env, word)
            continue
        else:
            word.append(c)
        i += 1
    if quote:
        raise ValueError(f"unmatched quote ({quote})")
    if in_word:
        words.append("".join(word))
    return words


def _expand(text: str, i: int, env: dict[str, str], word: list[str]) -> int:
    """$NAME or ${NAME}: the value (unknown: empty, as haproxy does); returns the next index."""
    j = i + 1
    if j < len(text) and text[j] == "{":
        end = text.find("}", j)
        if end < 0:
            word.append("$")
            return i + 1
        name = text[j + 1:end].split("[")[0]
        word.append(env.get(name, ""))
        return end + 1
    k = j
    while k < len(text) and (text[k].isalnum() or text[k] == "_"):
        k += 1
    if k == j:
        word.append("$")
        return j
    word.append(env.get(text[j:k], ""))
    return k


def read_haproxy(view: FileView, main: str, cwd: str = "/", env: dict[str, str] | None = None) -> ServerConfig:
    config = ServerConfig("haproxy", main)
    budget = Budget(config)
    text = read_config_text(view, main, config) if budget.take_file(main) else None
    if text is None:
        return config
    section = ""
    crt_base = ""
    extra_key = True
    del_ext = False
    binds: list[Line] = []
    for number, raw in enumerate(text.splitlines(), 1):
        try:
            words = split_line(raw, env)
        except ValueError as exc:
            config.fatal.append(f"{main}:{number}: {exc}: haproxy will not start")
            continue
        if not words:
            continue
        keyword = words[0]
        if keyword in SECTIONS:
            section = keyword
            continue
        if section == "global":
            if keyword == "crt-base" and len(words) > 1:
                crt_base = absolute(words[1], cwd)
            elif keyword == "ssl-load-extra-files":
                extra_key = any(w in ("all", "key") for w in words[1:])
            elif keyword == "ssl-load-extra-del-ext":
                del_ext = True
        elif section in ("frontend", "listen") and keyword == "bind":
            binds.append(Line(number, words))
    base = crt_base or cwd
    for line in binds:
        addresses = tuple(a for a in line.words[1].split(",")) if len(line.words) > 1 else ()
        params = line.words[2:]
        if "ssl" not in params:
            continue
        for index, param in enumerate(params):
            value = params[index + 1] if index + 1 < len(params) else None
            if value is None:
                if param in ("crt", "crt-list"):
                    config.fatal.append(f"{main}:{line.number}: '{param}' without a file: haproxy will not start")
                continue
            if param == "crt":
                for cert in _crt_files(view, absolute(value, base), config, main, line.number):
                    budget.add_endpoint(_endpoint(main, line.number, cert, addresses, (), extra_key, del_ext))
            elif param == "crt-list":
                _crt_list(view, absolute(value, base), base, config, budget, main, line.number, addresses,
                          extra_key, del_ext)
    return config


def _crt_files(view: FileView, path: str, config: ServerConfig, main: str, line: int) -> list[str]:
    if not is_dir(view, path):
        return [path]  # a missing file is reported by the check (server-cert-missing)
    files = [posixpath.join(path, name) for name in view.listdir(path)
             if not name.startswith(".") and not name.endswith(RESERVED_EXTENSIONS)]
    files = [f for f in files if is_file(view, f)]
    if len(files) > MAX_DIR_CERTIFICATES:
        config.notes.append(f"{main}:{line}: {path} holds more than {MAX_DIR_CERTIFICATES} files; the rest are "
                            "not checked")
        files = files[:MAX_DIR_CERTIFICATES]
    if not files:
        config.fatal.append(f"{main}:{line}: crt {path} is an empty directory: haproxy will not start")
    return files


def _crt_list(view: FileView, path: str, base: str, config: ServerConfig, budget: Budget, main: str, line: int,
              addresses: tuple[str, ...], extra_key: bool, del_ext: bool) -> None:
    if not is_file(view, path):
        config.fatal.append(f"{main}:{line}: crt-list {path} does not exist: haproxy will not start")
        return
    if not budget.take_file(path):
        return
    text = read_text(view, path) or ""
    for number, raw in enumerate(text.splitlines(), 1):
        try:
            words = split_line(raw)
        except ValueError as exc:
            config.fatal.append(f"{path}:{number}: {exc}: haproxy will not start")
            continue
        if not words:
            continue
        cert = absolute(words[0], base)
        rest = words[1:]
        if rest and rest[0].startswith("["):  # bind options in brackets, possibly several words
            while rest and not rest[0].endswith("]"):
                rest = rest[1:]
            rest = rest[1:]
        names = tuple(w for w in rest if not w.startswith("!"))
        for file in _crt_files(view, cert, config, path, number):
            budget.add_endpoint(_endpoint(path, number, file, addresses, names, extra_key, del_ext))


def _endpoint(config_file: str, line: int, cert: str, addresses: tuple[str, ...], names: tuple[str, ...],
              extra_key: bool, del_ext: bool) -> TLSEndpoint:
    candidates: list[str] = []
    if extra_key:
        if del_ext and cert.endswith(".crt"):
            candidates.append(cert[:-4] + ".key")
        else:
            candidates.append(cert + ".key")
    return TLSEndpoint(server="haproxy", config=config_file, line=line, cert_file=cert, key_file=None,
                       names=names, listen=addresses, directive="crt", key_candidates=tuple(candidates))


def find_haproxy(view: FileView, cwd: str = "/", env: dict[str, str] | None = None) -> list[ServerConfig]:
    return [read_haproxy(view, main, cwd, env) for main in MAIN_CONFIGS if is_file(view, main)]
