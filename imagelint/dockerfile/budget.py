"""Work budgets for one Dockerfile: hostile input must not grow time or memory without bound.

`ARG A=${A}${A}` forty times would expand to 2**40 characters; 5,000 chained stages or a
million shell words multiply the work of every check. Each way work can grow has a limit
(documented in README, set under `[tool.imagelint.limits]`). Hitting one never stops the
file: the builder records one clear line, stops growing that part, and checks the rest.
"""
from __future__ import annotations

import contextvars
from ..records import record, field

from ..config import DEFAULT_LIMITS, KIB, MIB, DockerfileLimits

__all__ = ["DEFAULT_LIMITS", "DockerfileLimits", "Budget", "spending", "current", "human"]


def human(n: int) -> str:
    if n >= MIB and n % MIB == 0:
        return f"{n // MIB} MiB"
    if n >= KIB and n % KIB == 0:
        return f"{n // KIB} KiB"
    return f"{n:,}"


@record
class Budget:
    """What one file may still spend, and the limits it hit (one note per limit)."""

    limits: DockerfileLimits = DEFAULT_LIMITS
    expansion_chars: int = 0
    where: tuple[int, str] = (0, "")  # (line, what is being expanded), set by the model builder
    notes: dict[str, tuple[int, str]] = field(default_factory=dict)  # limit name -> (line, message)

    def note(self, limit: str, line: int, message: str) -> None:
        self.notes.setdefault(limit, (line, message))

    def exhausted(self, limit: str) -> bool:
        return limit in self.notes

    def expansion_over(self, what: str) -> None:
        """A variable's value would pass a limit: it is left unexpanded (unknown)."""
        line, where = self.where
        subject = where or what
        if self.expansion_chars >= self.limits.max_expansion_chars:
            self.note("max_expansion_chars", line,
                      f"variable expansions exceed {human(self.limits.max_expansion_chars)} in this file at "
                      f"{subject}; later expansions are not done")
        else:
            self.note("max_word_chars", line,
                      f"expansion of {subject} exceeds {human(self.limits.max_word_chars)}; not expanded further")


_current: contextvars.ContextVar[Budget | None] = contextvars.ContextVar("dockerfile_budget", default=None)


def current() -> Budget | None:
    return _current.get()


class spending:
    """`with spending(budget):` makes expansions during the model build count against it."""

    def __init__(self, budget: Budget):
        self.budget = budget
        self._token = None

    def __enter__(self) -> Budget:
        self._token = _current.set(self.budget)
        return self.budget

    def __exit__(self, *exc) -> None:
        _current.reset(self._token)
