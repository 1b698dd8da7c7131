"""`@record`: the dataclass subset imagelint uses, at a fraction of the cost to define.

pre-commit starts imagelint on every commit. `dataclasses` imports `inspect` (about 8 ms) and
compiles `__init__`, `__repr__` and `__eq__` for every class when the module is imported (about
0.5 ms a class on Python 3.11), and a plain `imagelint lint` defines some 45 of them before it
reads a byte. A record compiles only its `__init__`, on first construction (classes a run never
builds cost nothing), and shares one `__eq__`, `__hash__` and `__repr__` for all records.

Supported: annotations with defaults, `field(default=..., default_factory=..., init=..., repr=...)`,
`__post_init__`, `frozen`, `eq` and `slots`, inheritance from other records; `replace()` and
`fields()`. The modules on the `lint` path use it; the rest of imagelint keeps `dataclasses`.
"""
from __future__ import annotations

from operator import attrgetter
from typing import Any, Callable, TypeVar

__all__ = ["record", "field", "fields", "replace", "FrozenInstanceError", "MISSING"]

T = TypeVar("T")


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


class FrozenInstanceError(AttributeError):
    """Assignment to a field of a frozen record."""


class Field:
    __slots__ = ("name", "default", "default_factory", "init", "repr")

    def __init__(self, default: Any = MISSING, default_factory: Callable[[], Any] | Any = MISSING,
                 init: bool = True, repr: bool = True):  # noqa: A002 - the dataclasses spelling
        self.name = ""
        self.default = default
        self.default_factory = default_factory
        self.init = init
        self.repr = repr

    def __repr__(self) -> str:
        return f"Field(name={self.name!r})"


def field(*, default: Any = MISSING, default_factory: Callable[[], Any] | Any = MISSING,
          init: bool = True, repr: bool = True) -> Any:  # noqa: A002
    return Field(default, default_factory, init, repr)


def fields(class_or_record: Any) -> tuple[Field, ...]:
    cls = class_or_record if isinstance(class_or_record, type) else type(class_or_record)
    return tuple(cls.__record_fields__.values())


def replace(obj: T, **changes: Any) -> T:
    """A copy of `obj` with some fields changed (as `dataclasses.replace`)."""
    kwargs = {}
    for f in fields(obj):
        if not f.init:
            if f.name in changes:
                raise ValueError(f"field {f.name} is not an __init__ argument and cannot be replaced")
            continue
        kwargs[f.name] = changes.pop(f.name) if f.name in changes else getattr(obj, f.name)
    if changes:
        raise TypeError(f"{type(obj).__name__} has no field {next(iter(changes))!r}")
    return type(obj)(**kwargs)


def record(cls: type | None = None, /, *, frozen: bool = False, eq: bool = True, slots: bool = False):
    """Make `cls` a record (use like `@dataclass`, `@dataclass(frozen=True)`, ...)."""

    def wrap(cls: type) -> type:
        return _make_record(cls, frozen, eq, slots)

    return wrap if cls is None else wrap(cls)


def _own_fields(cls: type) -> dict[str, Field]:
    own: dict[str, Field] = {}
    for name, annotation in cls.__dict__.get("__annotations__", {}).items():
        if isinstance(annotation, str) and annotation.startswith(("ClassVar", "typing.ClassVar")):
            continue
        value = cls.__dict__.get(name, MISSING)
        f = value if isinstance(value, Field) else Field(default=value)
        f.name = name
        own[name] = f
    return own


def _make_record(cls: type, frozen: bool, eq: bool, slots: bool) -> type:
    all_fields: dict[str, Field] = {}
    for base in reversed(cls.__mro__[1:]):
        all_fields.update(getattr(base, "__record_fields__", {}))
    own = _own_fields(cls)
    all_fields.update(own)

    namespace = dict(cls.__dict__)
    for name, f in own.items():
        if isinstance(namespace.get(name), Field) or slots:
            namespace.pop(name, None)  # defaults live in __init__ (slots forbid class attributes)
    namespace["__record_fields__"] = all_fields
    if slots:
        namespace["__slots__"] = tuple(n for n in own if n not in _slot_names(cls.__mro__[1:]))
        namespace.pop("__dict__", None)
        namespace.pop("__weakref__", None)
        if frozen:
            namespace["__getstate__"] = _getstate
            namespace["__setstate__"] = _setstate
        qualname = cls.__qualname__
        cls = type(cls)(cls.__name__, cls.__bases__, namespace)
        cls.__qualname__ = qualname
    else:
        cls.__record_fields__ = all_fields
        for name in own:
            if name not in namespace and name in cls.__dict__:
                delattr(cls, name)

    compared = [f.name for f in all_fields.values()]
    cls.__record_key__ = attrgetter(*compared) if compared else staticmethod(_no_key)
    cls.__init__ = _lazy_init(cls)
    if "__repr__" not in cls.__dict__:
        cls.__repr__ = _repr
    if eq and "__eq__" not in cls.__dict__:
        cls.__eq__ = _eq
        if frozen:
            cls.__hash__ = _hash
        elif "__hash__" not in cls.__dict__:
            cls.__hash__ = None  # as dataclasses: mutable and compared by value, so unhashable
    if frozen:
        cls.__setattr__ = _frozen_setattr
        cls.__delattr__ = _frozen_delattr
    cls.__record_frozen__ = frozen
    return cls


def _slot_names(bases) -> set[str]:
    out: set[str] = set()
    for base in bases:
        out.update(getattr(base, "__slots__", ()))
    return out


def _no_key(_obj: Any) -> tuple:
    return ()


def _lazy_init(cls: type) -> Callable[..., None]:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        real = _compile_init(cls)
        cls.__init__ = real
        real(self, *args, **kwargs)

    return __init__


def _compile_init(cls: type) -> Callable[..., None]:
    """The `__init__` dataclasses would write, compiled once."""
    frozen = cls.__record_frozen__
    params = ["self"]
    body = []
    env: dict[str, Any] = {"_MISSING": MISSING, "_set": object.__setattr__}
    for f in cls.__record_fields__.values():
        name = f.name
        has_factory = f.default_factory is not MISSING
        if has_factory:
            env[f"_factory_{name}"] = f.default_factory
        if f.init:
            if has_factory:
                params.append(f"{name}=_MISSING")
                value = f"_factory_{name}() if {name} is _MISSING else {name}"
            elif f.default is not MISSING:
                env[f"_default_{name}"] = f.default
                params.append(f"{name}=_default_{name}")
                value = name
            else:
                if any("=" in p for p in params):
                    raise TypeError(f"non-default argument {name!r} follows default argument")
                params.append(name)
                value = name
        elif has_factory:
            value = f"_factory_{name}()"
        elif f.default is not MISSING:
            env[f"_default_{name}"] = f.default
            value = f"_default_{name}"
        else:
            continue
        body.append(f"    _set(self, {name!r}, {value})" if frozen else f"    self.{name} = {value}")
    if hasattr(cls, "__post_init__"):
        body.append("    self.__post_init__()")
    source = f"def __init__({', '.join(params)}):\n" + ("\n".join(body) or "    pass") + "\n"
    exec(compile(source, f"<record {cls.__qualname__}>", "exec"), env)  # noqa: S102 - our own generated code
    init = env["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    return init


def _repr(self: Any) -> str:
    parts = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in self.__record_fields__.values() if f.repr)
    return f"{type(self).__qualname__}({parts})"


def _eq(self: Any, other: Any) -> Any:
    if other.__class__ is self.__class__:
        key = self.__record_key__
        return key(self) == key(other)
    return NotImplemented


def _hash(self: Any) -> int:
    return hash(self.__record_key__(self))


def _frozen_setattr(self: Any, name: str, value: Any) -> None:
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def _frozen_delattr(self: Any, name: str) -> None:
    raise FrozenInstanceError(f"cannot delete field {name!r}")


def _getstate(self: Any) -> tuple:
    return tuple(getattr(self, n) for n in self.__record_fields__)


def _setstate(self: Any, state: tuple) -> None:
    for name, value in zip(self.__record_fields__, state):
        object.__setattr__(self, name, value)
