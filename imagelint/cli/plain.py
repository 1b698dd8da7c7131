"""The one parser of plain invocations (`imagelint lint|scan [OPTION]... ARG...`) for the typer-free
fast paths. It knows only the options it is given; for anything else (-h, --help, `-`, `--`, `-fjson`,
an unknown or abbreviated option, a missing or unusual value) it answers None and typer parses the
command line, so help, usage errors and every option behave as they do there.
"""
from __future__ import annotations

import re

_PLAIN_FLOAT = re.compile(r"[0-9]+(\.[0-9]+)?")


def parse_plain(args: list[str], positional: str, *, values: dict[str, str], flags: dict[str, str],
                lists: dict[str, str] | None = None, ints: dict[str, str] | None = None,
                floats: dict[str, str] | None = None, dash_is_positional: bool = False) -> dict | None:
    """Keyword arguments for the command (each table maps an option spelling to its keyword), the
    operands under `positional`; None when typer must parse `args`."""
    lists, ints, floats = lists or {}, ints or {}, floats or {}
    options: dict = {positional: []}
    tokens = iter(args)
    for token in tokens:
        if not token.startswith("-") or (dash_is_positional and token == "-"):
            options[positional].append(token)
            continue
        name, eq, value = token.partition("=")
        if name in flags and not eq:
            options[flags[name]] = True
            continue
        key = values.get(name) or lists.get(name) or ints.get(name) or floats.get(name)
        if key is None or (eq and not name.startswith("--")):
            return None
        if not eq:
            value = next(tokens, None)
            if value is None:
                return None  # "requires an argument": typer says it
        if name in lists:
            options.setdefault(key, []).append(value)
        elif name in ints:
            if not value.isdigit():
                return None  # typer says what is wrong with it
            options[key] = int(value)
        elif name in floats:
            if not _PLAIN_FLOAT.fullmatch(value):
                return None
            options[key] = float(value)
        else:
            options[key] = value  # click keeps the last one too
    return options if options[positional] else None
