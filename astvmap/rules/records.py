"""Records built in the code: a namedtuple class or a dataclass called with batched fields (NOTE [pytrees]).

`P(a, b)` or `P(w=a, b=b)` is written as it is and builds a record of batched fields: a namedtuple is a
TUPLE Val that keeps its type (`p.w`, `p[0]` and unpacking read its fields, and a result rebuilt from
it is a `P`), a dataclass a RECORD Val whose fields are read by name. The call's arguments bind to the
fields as the class's generated constructor binds them; a field left out takes its default (one made by
a `default_factory` is not known when rewriting: that call runs as the loop). Classes whose constructor
is the user's own, and registered types, are calls like any other.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

from .. import pytrees
from .common import infers
from .registry import register_family
from .values import UNKNOWN, Kind, Operand, Val, container, val_of


def _constructed(cls: Any) -> bool:
    """A namedtuple class or a dataclass whose constructor is the one Python generated for it (its code
    made from a string, `<string>`), so a call binds its arguments to the fields and runs nothing else
    (but a dataclass's `__post_init__`, which every rebuild runs too)."""
    if not pytrees.is_record_type(cls):
        return False
    made = cls.__new__ if issubclass(cls, tuple) else cls.__init__
    code = getattr(made, "__code__", None)
    return code is not None and code.co_filename == "<string>"


def _field_names(cls: Any) -> list[str]:
    """The fields of a record class, in the order its instances hold them (pytrees.node's)."""
    if issubclass(cls, tuple):
        return list(cls._fields)
    return [f.name for f in dataclasses.fields(cls)]


def _made_by_factory(cls: Any) -> set[str]:
    """A dataclass's fields whose default a `default_factory` makes anew on each call."""
    if issubclass(cls, tuple):
        return set()
    return {f.name for f in dataclasses.fields(cls) if f.default_factory is not dataclasses.MISSING}


def record_of(cls: type, elts: list[Val]) -> Val:
    """The Val of a `cls` holding fields of Vals `elts` (in field order)."""
    if issubclass(cls, tuple):
        return container(Kind.TUPLE, elts, cls=cls)
    return container(Kind.RECORD, elts, _field_names(cls), cls)


def record_facts(call, args=(), kwargs=None, **_) -> Val:
    """`cls(*args, **kwargs)`: the record of the Vals bound to its fields, as its constructor binds
    them; UNKNOWN where they do not bind (Python raises TypeError) or a field left out is made by a
    `default_factory`."""
    cls = call.fn
    try:
        bound = inspect.signature(cls).bind(*(args or ()), **(kwargs or {}))
    except (TypeError, ValueError):
        return UNKNOWN
    vals = {name: a.val for name, a in bound.arguments.items()}
    if _made_by_factory(cls) - set(vals):
        return UNKNOWN
    bound.apply_defaults()
    for name, default in bound.arguments.items():
        if name not in vals:
            vals[name] = val_of(default)
    names = _field_names(cls)
    if set(vals) != set(names):
        return UNKNOWN
    return record_of(cls, [vals[name] for name in names])


@register_family(_constructed)
@infers(record_facts)
def batch_record(ctx, *args, **kwargs) -> Operand:
    facts = record_facts(ctx.call, args, kwargs)
    if facts.kind not in (Kind.TUPLE, Kind.RECORD):
        raise ctx.fail(
            "arguments that do not bind to the record's fields, or a field made by a default_factory"
        )
    return Operand(ctx.call.rebuild([a.node for a in args], {k: a.node for k, a in kwargs.items()}), facts)
