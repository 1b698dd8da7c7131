"""Check registration. A check is a function registered under a rule id from the catalogue.

Checks never do I/O and never format output: they yield `Hit`s, and the runner turns them into
`Finding`s with the catalogue's metadata, so one rule's facts live in one place.
"""
from __future__ import annotations

import importlib
import os
from ..records import record, field
from typing import Any, Callable, Iterable

from ..catalogue import RuleDoc, load_catalogue
from ..findings import Finding, Fix, Severity


@record(slots=True)
class Hit:
    rule: str
    message: str
    line: int
    end_line: int
    column: int = 1
    end_column: int = 1
    stage: str | None = None
    severity: Severity | None = None  # None: the catalogue's default; checks raise/lower by scope
    fix: Fix | None = None
    properties: dict[str, Any] = field(default_factory=dict)


CheckFn = Callable[..., Iterable[Hit]]
_CHECKS: dict[str, tuple[str, CheckFn]] = {}


def check(rule_id: str, *more_ids: str, kind: str = "dockerfile") -> Callable[[CheckFn], CheckFn]:
    """Register `fn` as the check for `rule_id` (and any further ids it reports)."""

    def register(fn: CheckFn) -> CheckFn:
        for rid in (rule_id, *more_ids):
            if rid in _CHECKS:
                raise ValueError(f"duplicate check for {rid}")
            _CHECKS[rid] = (kind, fn)
        fn.rule_ids = (rule_id, *more_ids)  # type: ignore[attr-defined]
        return fn

    return register


_loaded: set[str] = set()


def _load(kind: str) -> None:
    if kind in _loaded:
        return
    package = importlib.import_module(f"{__package__}.{kind}")
    # A directory listing, not pkgutil.iter_modules: that imports inspect (~7 ms of every start).
    for directory in package.__path__:
        for name in sorted(os.listdir(directory)):
            if name.endswith(".py") and not name.startswith("_"):
                importlib.import_module(f"{package.__name__}.{name[:-3]}")
    _loaded.add(kind)


_by_kind: dict[str, tuple[int, list[CheckFn]]] = {}  # kind -> (registrations seen, checks)


def checks_for(kind: str) -> list[CheckFn]:
    """Every distinct check function of a kind ("dockerfile", "image" or "manifest"), in registration order."""
    _load(kind)
    cached = _by_kind.get(kind)
    if cached is not None and cached[0] == len(_CHECKS):
        return cached[1]
    checks = list(dict.fromkeys(fn for k, fn in _CHECKS.values() if k == kind))
    _by_kind[kind] = (len(_CHECKS), checks)
    return checks


def registered_ids(kind: str | None = None) -> set[str]:
    for k in ("dockerfile", "image", "manifest"):
        _load(k)
    return {rid for rid, (k, _) in _CHECKS.items() if kind is None or k == kind}


MAX_MESSAGE_CHARS = 2000  # messages quote input (an env value, a path): a 4 MB value must not make 4 MB of output


def _bounded(message: str) -> str:
    if len(message) <= MAX_MESSAGE_CHARS:
        return message
    return f"{message[:MAX_MESSAGE_CHARS]}… ({len(message) - MAX_MESSAGE_CHARS:,} more characters not shown)"


def to_finding(hit: Hit, path: str, docs: dict[str, RuleDoc] | None = None) -> Finding:
    doc = (docs or load_catalogue())[hit.rule]
    return Finding(
        rule=hit.rule,
        severity=hit.severity or doc.severity,
        category=doc.category,
        path=path,
        message=_bounded(hit.message),
        line=hit.line,
        end_line=hit.end_line,
        column=hit.column,
        end_column=hit.end_column,
        stage=hit.stage,
        fix=hit.fix,
        properties=hit.properties,
    )
