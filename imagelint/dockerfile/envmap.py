"""Environment snapshots that cost O(1) to take: every RUN keeps the variables it sees.

Rebuilding a dict per ARG/ENV made 10,000 distinct ARGs cost 10,000 x 10,000 entries (gigabytes);
a versioned store gives each instruction a read-only view of "the variables as of version v".
"""
from __future__ import annotations

import bisect
from typing import Iterator, Mapping


class VersionedEnv:
    """The variables of one stage, with every value each one had (append-only)."""

    def __init__(self, initial: Mapping[str, str | None] = ()):
        self.version = 0
        self._versions: dict[str, list[int]] = {}
        self._values: dict[str, list[str | None]] = {}
        for name, value in dict(initial).items():
            self.set(name, value)

    def set(self, name: str, value: str | None) -> None:
        self.version += 1
        self._versions.setdefault(name, []).append(self.version)
        self._values.setdefault(name, []).append(value)

    def snapshot(self) -> "EnvSnapshot":
        return EnvSnapshot(self, self.version)


class EnvSnapshot(Mapping):
    """The variables of a VersionedEnv as of one version (read-only)."""

    __slots__ = ("_store", "_version")

    def __init__(self, store: VersionedEnv, version: int):
        self._store, self._version = store, version

    def __getitem__(self, name: str) -> str | None:
        versions = self._store._versions.get(name)
        if versions is None or versions[0] > self._version:
            raise KeyError(name)
        if versions[-1] <= self._version:
            return self._store._values[name][-1]
        return self._store._values[name][bisect.bisect_right(versions, self._version) - 1]

    def __contains__(self, name: object) -> bool:
        versions = self._store._versions.get(name)  # type: ignore[arg-type]
        return versions is not None and versions[0] <= self._version

    def __iter__(self) -> Iterator[str]:
        return (name for name, versions in self._store._versions.items() if versions[0] <= self._version)

    def __len__(self) -> int:
        return sum(1 for _ in self)


class Overlay(Mapping):
    """`base` with a few names changed (shell assignments inside one RUN), without copying `base`."""

    __slots__ = ("_base", "_changes")

    def __init__(self, base: Mapping[str, str | None], changes: Mapping[str, str | None]):
        if isinstance(base, Overlay):  # keep one level: lookups stay O(1)
            changes = {**base._changes, **changes}
            base = base._base
        self._base, self._changes = base, dict(changes)

    def __getitem__(self, name: str) -> str | None:
        if name in self._changes:
            return self._changes[name]
        return self._base[name]

    def __contains__(self, name: object) -> bool:
        return name in self._changes or name in self._base

    def __iter__(self) -> Iterator[str]:
        yield from self._changes
        for name in self._base:
            if name not in self._changes:
                yield name

    def __len__(self) -> int:
        return sum(1 for _ in self)
