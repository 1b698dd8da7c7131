"""OS families: how each one registers a CA and where its bundle lands, and how to tell which
family a base image name or a filesystem belongs to."""
from __future__ import annotations

import fnmatch
from ..records import record, fields
from functools import lru_cache
from typing import TYPE_CHECKING

from .data import trust_facts

if TYPE_CHECKING:  # pragma: no cover
    from ..fs import FileView


@record(frozen=True)
class Family:
    """One OS family's trust-store facts. The unknown family is `UNKNOWN`, which is falsy."""

    name: str
    like: str | None = None  # the family whose tooling and layout this one shares
    os_release_ids: tuple[str, ...] = ()
    anchor_dirs: tuple[str, ...] = ()
    anchor_extension: str | None = None  # the only name the update tool reads (Debian: .crt)
    anchor_recursive: bool = True
    update_command: str | None = None
    update_rehashes_store_dir: bool = False
    bundle: str | None = None  # the file clients open
    generated_bundle: str | None = None  # the file the update tool writes, when `bundle` links to it
    bundle_paths: tuple[str, ...] = ()
    ca_package: str | None = None
    ca_package_dependents: tuple[str, ...] = ()
    install_ca_tool: str | None = None
    package_manager: str | None = None
    java_system_store: str | None = None
    conf_listed_dir: str | None = None
    certs_conf: str | None = None
    purge_removes_bundle: bool = False
    neutral_dirs: tuple[str, ...] = ()
    no_shell: bool = False
    no_bundle: bool = False
    openssl_dir: str | None = None
    public_sources: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.name)

    @property
    def lineage(self) -> str | None:
        """The family whose packaging this one follows: ubuntu and distroless are debian."""
        return self.like or self.name or None

    @property
    def crt_only(self) -> bool:
        """The update tool reads only `*.crt` in the anchor directories (Debian's find -name '*.crt')."""
        return self.anchor_extension == ".crt"

    @property
    def ships_public_set(self) -> bool:
        """Its ca-certificates package carries the public (Mozilla-derived) root set."""
        return bool(self.public_sources)

    @property
    def system_bundle(self) -> str | None:
        """The file that holds the whole store as the update tool generated it."""
        return self.generated_bundle or self.bundle


UNKNOWN = Family("")
_FIELDS = {f.name for f in fields(Family)} - {"name"}


def _family_from(name: str, table: dict) -> Family:
    unknown = set(table) - _FIELDS
    if unknown:  # the data file and this record must not drift apart
        raise ValueError(f"trust-facts.toml: [family.{name}] has unknown keys {sorted(unknown)}")
    return Family(name, **{k: tuple(v) if isinstance(v, list) else v for k, v in table.items()})


@lru_cache(maxsize=1)
def families() -> dict[str, Family]:
    return {name: _family_from(name, table) for name, table in trust_facts()["family"].items()}


def family(name: str | None) -> Family:
    """The facts of a family by name; `UNKNOWN` for None or a name the data file lacks."""
    if not name:
        return UNKNOWN
    return families().get(name, UNKNOWN)


def package_manager_families() -> dict[str, str]:
    """`apt-get` -> "debian": a stage that runs a package manager proves its family."""
    return dict(trust_facts()["package_managers"])


# --------------------------------------------------------------------------- base image names

def glob_match(name: str, pattern: str) -> bool:
    """fnmatch.fnmatchcase(name, pattern), without compiling a regex for the patterns made of
    literal text and `*` (nearly all of the trust facts'): a lint run would otherwise compile
    every [[image]] pattern for its first FROM line."""
    return _glob_matcher(pattern)(name)


@lru_cache(maxsize=1024)
def _glob_matcher(pattern: str):
    if "?" in pattern or "[" in pattern:
        return lambda name: fnmatch.fnmatchcase(name, pattern)
    parts = pattern.split("*")
    if len(parts) == 1:
        return pattern.__eq__
    head, tail, middles = parts[0], parts[-1], parts[1:-1]
    shortest = len(head) + len(tail)

    def match(name: str) -> bool:
        if len(name) < shortest or not name.startswith(head) or not name.endswith(tail):
            return False
        position, end = len(head), len(name) - len(tail)
        for middle in middles:
            found = name.find(middle, position, end)
            if found < 0:
                return False
            position = found + len(middle)
        return True

    return match


@lru_cache(maxsize=1)
def _image_entries() -> list[tuple[dict, tuple[tuple[str, ...], tuple[str, ...]]]]:
    """The [[image]] entries, each with the literal heads and tails of its repo patterns."""
    out = []
    for entry in trust_facts()["image"]:
        heads, tails = [], []
        for pat in entry.get("repo") or ():
            if "?" in pat or "[" in pat:
                heads.append(""), tails.append("")
                continue
            parts = pat.split("*")
            heads.append(parts[0])
            tails.append(parts[-1] if len(parts) > 1 else parts[0])
        out.append((entry, (tuple(heads), tuple(tails))))
    return out


@lru_cache(maxsize=512)
def base_image_facts(repository_path: str, repository: str, tag: str) -> dict:
    """The first [[image]] entry matching a base image, or {} when unknown.

    `repository_path` is the repository with its registry unless that is Docker Hub
    ("gcr.io/distroless/static", "python"); `repository` is without the registry."""
    for entry, ends in _image_entries():
        repos = entry.get("repo")
        tags = entry.get("tag")
        if repos is None and tags is None:
            continue
        if repos is not None:
            heads, tails = ends
            # A pattern can only match a name that starts with its text before the first wildcard and
            # ends with its text after the last: one C call rejects most entries for most names.
            if not ((repository_path.startswith(heads) and repository_path.endswith(tails))
                    or (repository.startswith(heads) and repository.endswith(tails))):
                continue
            if not any(glob_match(repository_path, pat) or glob_match(repository, pat) for pat in repos):
                continue
        if tags is not None and not any(glob_match(tag, pat) for pat in tags):
            continue
        return dict(entry)
    return {}


# --------------------------------------------------------------------------- filesystems

def parse_os_release(data: bytes | None) -> dict[str, str]:
    fields_: dict[str, str] = {}
    for line in (data or b"").decode("utf-8", "replace").splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() and not key.startswith("#"):
            fields_[key.strip()] = value.strip().strip("\"'")
    return fields_


@lru_cache(maxsize=1)
def _os_release_ids() -> dict[str, str]:
    ids = {}
    for fam in families().values():
        for ident in fam.os_release_ids:
            ids.setdefault(ident, fam.name)
    return ids


def family_of_filesystem(view: "FileView") -> tuple[str | None, dict[str, str]]:
    """(family, os-release fields) of a root filesystem: os-release ID then ID_LIKE, distroless
    markers, release files and package databases, then busybox or nothing at all (scratch)."""
    release = parse_os_release(view.read("/etc/os-release") or view.read("/usr/lib/os-release"))
    ids = [release.get("ID", "").lower()] + release.get("ID_LIKE", "").lower().split()
    known = _os_release_ids()
    for ident in ids:
        name = known.get(ident) or ("suse" if "suse" in ident else None)
        if name is None:
            continue
        if name == "debian" and _is_distroless(view, release):
            return "distroless", release
        return name, release
    for path, name in trust_facts()["detect"]["probes"]:
        if view.info(path) is not None:
            return name, release
    if view.info("/bin/busybox") is not None:
        return "busybox", release
    if view.info("/bin/sh") is None:
        return "scratch", release
    return None, release


def _is_distroless(view: "FileView", release: dict[str, str]) -> bool:
    # Google's distroless images keep per-package files in status.d and no dpkg status file.
    return ("distroless" in release.get("PRETTY_NAME", "").lower()
            or "distroless" in release.get("HOME_URL", "").lower()
            or (view.info("/var/lib/dpkg/status.d") is not None and view.info("/var/lib/dpkg/status") is None))
