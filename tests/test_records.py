"""imagelint.records against dataclasses: the same behaviour for the subset the lint path uses."""
from __future__ import annotations

import dataclasses
import pickle

import pytest

from imagelint.records import FrozenInstanceError, field, fields, record, replace


def _pair(**options):
    """The same class made by dataclasses and by record."""
    def body(decorator, field_fn):
        class Sample:
            name: str
            count: int = 0
            tags: list = field_fn(default_factory=list)
            note: str = field_fn(default="", repr=False)
            derived: int = field_fn(default=0, init=False)

            def __post_init__(self) -> None:
                if not options.get("frozen"):
                    self.derived = self.count * 2
        return decorator(**options)(Sample)
    return body(dataclasses.dataclass, dataclasses.field), body(record, field)


@pytest.mark.parametrize("options", [{}, {"eq": False}, {"frozen": True}, {"slots": True},
                                     {"frozen": True, "slots": True}])
def test_a_record_behaves_as_the_dataclass(options):
    dc, rc = _pair(**options)
    for args, kwargs in [(("a",), {}), (("a", 3), {}), (("a",), {"tags": ["x"], "note": "n"})]:
        d, r = dc(*args, **kwargs), rc(*args, **kwargs)
        assert repr(r) == repr(d)
        assert (r == rc(*args, **kwargs)) == (d == dc(*args, **kwargs))
        assert (r == rc("other")) == (d == dc("other"))
        assert (d.__hash__ is None) == (r.__hash__ is None)
        if options.get("frozen"):
            with pytest.raises(TypeError):  # a list field: unhashable, as with dataclasses
                hash(d)
            with pytest.raises(TypeError):
                hash(r)
            with pytest.raises(FrozenInstanceError):
                r.count = 9
            with pytest.raises(AttributeError):
                r.count = 9
        assert [f.name for f in fields(r)] == [f.name for f in dataclasses.fields(d)]
        assert replace(r, count=7).count == dataclasses.replace(d, count=7).count == 7
    assert rc("a").tags is not rc("a").tags  # a factory per instance
    with pytest.raises(TypeError):
        rc()
    with pytest.raises(TypeError):
        rc("a", derived=1)  # init=False
    with pytest.raises(ValueError):
        replace(rc("a"), derived=1)
    if options.get("slots"):
        assert not hasattr(rc("a"), "__dict__")


@record(frozen=True, slots=True)
class FrozenSlotted:
    a: int
    b: str = "b"


@record
class Plain:
    a: int
    items: list = field(default_factory=list)


@pytest.mark.parametrize("value", [FrozenSlotted(1), Plain(2, [3])])
def test_records_survive_pickling(value):  # --jobs sends findings between processes
    assert pickle.loads(pickle.dumps(value)) == value


def test_inheritance_adds_fields_after_the_base():
    @record
    class Base:
        a: int
        b: int = 1

    @record
    class Child(Base):
        c: int = 2

    assert repr(Child(0, c=5)).endswith("Child(a=0, b=1, c=5)")
    assert Child(0) != Base(0)  # another class never compares equal


def test_a_required_field_after_a_default_is_refused_on_construction():
    @record
    class Bad:
        a: int = 0
        b: int  # type: ignore[misc]

    with pytest.raises(TypeError, match="non-default"):
        Bad(1, 2)
