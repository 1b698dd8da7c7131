"""The rule catalogue: one Markdown file per rule under `rules/`, TOML front matter between `+++` lines.

The front matter is the single source of a rule's metadata (id, name, title, category, severity,
kind, fix availability); code registers only the check function under the id.
Sections follow Ruff's docs: What it does / Why is this bad? / Example / Use instead / Fix / References.
"""
from __future__ import annotations

import re
import sys
from collections.abc import Iterator, Mapping
from .records import record, field
from functools import lru_cache
from pathlib import Path

from .findings import CATEGORIES, Applicability, Severity

RULE_ID = re.compile(r"^IL\d{3,4}$")
_FENCE = re.compile(r"^```(\w+)[^\n]*\n(.*?)^```", re.M | re.S)
_SECTION = re.compile(r"^## +(.+?)\s*$", re.M)


def catalogue_dir() -> Path:
    """rules/ in a source checkout, or the copy packed into the wheel."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_catalogue", here.parent / "rules"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("the rule catalogue (rules/) is missing from this installation")


@record
class RuleDoc:
    id: str
    name: str
    title: str
    category: str
    severity: Severity
    kind: str  # "dockerfile" or "image"
    fix: str  # "safe" | "unsafe" | "display-only" | "none"
    references: list[str] = field(default_factory=list)
    since: str = "0.1.0"
    body: str = ""
    path: Path | None = None
    data: dict = field(default_factory=dict)

    @property
    def sections(self) -> dict[str, str]:
        parts = _SECTION.split(self.body)
        return {parts[i].strip(): parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}

    def examples(self, section: str, lang: str = "dockerfile") -> list[str]:
        text = self.sections.get(section, "")
        return [m.group(2) for m in _FENCE.finditer(text) if m.group(1) == lang]

    @property
    def summary(self) -> str:
        what = self.sections.get("What it does", "")
        return what.split("\n\n")[0].replace("\n", " ").strip() or self.title

    @property
    def fix_applicability(self) -> Applicability | None:
        return None if self.fix == "none" else Applicability.parse(self.fix)

    def help_uri(self) -> str:
        return f"https://imagelint.dev/rules/{self.id}"


def parse_rule_doc(path: Path) -> RuleDoc:
    text = path.read_text(encoding="utf-8")
    if not text.startswith("+++\n"):
        raise ValueError(f"{path}: missing +++ front matter")
    end = text.index("\n+++\n", 4)
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib

    meta = tomllib.loads(text[4:end])
    body = text[end + 5 :]
    doc = RuleDoc(
        id=meta["id"],
        name=meta["name"],
        title=meta["title"],
        category=meta["category"],
        severity=Severity.parse(meta["severity"]),
        kind=meta.get("kind", "dockerfile"),
        fix=meta.get("fix", "none"),
        references=list(meta.get("references", [])),
        since=meta.get("since", "0.1.0"),
        body=body,
        path=path,
        data=meta,
    )
    if not RULE_ID.match(doc.id) or path.stem != doc.id:
        raise ValueError(f"{path}: id {doc.id!r} must match the file name and IL + digits")
    if doc.category not in CATEGORIES:
        raise ValueError(f"{path}: unknown category {doc.category!r}")
    if doc.fix not in ("safe", "unsafe", "display-only", "none"):
        raise ValueError(f"{path}: fix must be safe, unsafe, display-only or none")
    return doc


class Catalogue(Mapping):
    """Rule id -> RuleDoc, in id order. The ids come from the file names; a rule's document is read
    and parsed when it is first looked up, so a lint run reads only the rules it reports (a
    Dockerfile lint pays for two or three documents, not for every one)."""

    def __init__(self, directory: Path) -> None:
        self._paths = {path.name[:-3]: path for path in sorted(directory.glob("IL*.md"))}
        self._docs: dict[str, RuleDoc] = {}

    def __getitem__(self, rule_id: str) -> RuleDoc:
        doc = self._docs.get(rule_id)
        if doc is None:
            doc = self._docs[rule_id] = parse_rule_doc(self._paths[rule_id])
        return doc

    def __contains__(self, rule_id: object) -> bool:
        return rule_id in self._paths

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)


@lru_cache(maxsize=1)
def load_catalogue() -> Catalogue:
    return Catalogue(catalogue_dir())
