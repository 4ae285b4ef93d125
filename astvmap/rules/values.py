"""What the rewriter knows about a value: `Val` (batched? per-example rank? kind?) and `Operand`.

NOTE [static batchedness]: batchedness is decided at transform time from `in_axes` and the per-example
rank and dtype kind of every argument; generated code never tests it at run time.
"""

from __future__ import annotations

import ast
import enum
import functools
import types
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..runtime_lanes import UNBOUND


class Kind(enum.Enum):
    ARRAY = "array"  # ndarray or NumPy scalar
    SCALAR = "scalar"  # Python bool/int/float/complex
    TUPLE = "tuple"
    LIST = "list"
    DICT = "dict"
    NONE = "none"
    CALLABLE = "callable"
    MODULE = "module"
    OTHER = "other"
    UNBOUND = "unbound"  # no value yet on some path (a name first assigned in a loop that may break)


NUMERIC = (Kind.ARRAY, Kind.SCALAR)


@dataclass(frozen=True, slots=True)
class Val:
    batched: bool = False
    ndim: int | None = None  # per-example rank (batch axis excluded); None when unknown
    kind: Kind = Kind.ARRAY
    dtype: str | None = None  # NumPy dtype kind: 'b' 'i' 'u' 'f' 'c'; None when unknown
    elts: tuple | None = None  # TUPLE/LIST/DICT elements, when known
    keys: tuple | None = None  # DICT keys
    item: Val | None = None  # LIST built by appends: the (joined) element
    obj: Any = field(default=None, compare=False)  # the object, known when rewriting (modules, callables)
    # batched, and per example a Python number (made by float(), int(), round(), math, or Python
    # arithmetic on such numbers and literals): its `/`, `//`, `%` by zero raise (pynum.py)
    py: bool = False
    # batched, and per example a Python number on some paths and not on others (`y = 0.0`, then
    # `y = x[0]` under a batched `if`): which lanes hold one is known only per example
    py_some: bool = False
    # what is known of how the value was made (never part of its identity as a Val):
    # a vectorized loop's list of rows, a fresh array that only `np.array()` reads (loops.py)
    fresh_rows: bool = field(default=False, compare=False)
    # a vector whose items the code reads one at a time, each a Python number per example (a `range`'s
    # counters, mapped by a vectorized loop): mapped, each is a Python number (Val.py)
    python_items: bool = field(default=False, compare=False)
    # None on some paths and of this Val on the others (a skipped branch's placeholder for "no lane took
    # it", which `av__.select` reads as such)
    or_none: Val | None = field(default=None, compare=False)
    # `x[mask]` of a per-example length, run as a loop unless a reduction consumes it
    selection: MaskedSelection | None = field(default=None, compare=False)

    def with_(self, **kw) -> Val:
        return replace(self, **kw)

    @property
    def numeric(self) -> bool:
        return self.kind in NUMERIC


UNKNOWN = Val(False, None, Kind.OTHER)


@functools.cache
def array(batched: bool, ndim: int | None, dtype: str | None = None) -> Val:
    """The Val of an array (one object per fact: every call binds its arguments' Vals, and a Val shared
    by calls compares by identity in the specialization cache)."""
    return Val(batched, ndim, Kind.ARRAY, dtype)


def container(kind: Kind, elts, keys=None) -> Val:
    elts = tuple(elts)
    return Val(any(e.batched for e in elts), None, kind, None, elts, None if keys is None else tuple(keys))


def val_of(obj) -> Val:
    """The Val of a value known at transform time (a global, a closure cell, an unmapped argument)."""
    if isinstance(obj, (np.ndarray, np.generic)):
        return array(False, obj.ndim, obj.dtype.kind)
    if isinstance(obj, (bool, int, float, complex)):
        return Val(False, 0, Kind.SCALAR, np.asarray(obj).dtype.kind)
    if obj is UNBOUND:  # generated code's "no value yet" (rewritten again under an enclosing vmap)
        return Val(False, None, Kind.UNBOUND)
    if obj is None:
        return Val(False, None, Kind.NONE)
    if isinstance(obj, tuple):
        return container(Kind.TUPLE, [val_of(o) for o in obj])
    if isinstance(obj, list):
        return container(Kind.LIST, [val_of(o) for o in obj])
    if isinstance(obj, dict):
        return container(Kind.DICT, [val_of(v) for v in obj.values()], obj.keys())
    if isinstance(obj, types.ModuleType):
        return Val(False, None, Kind.MODULE, obj=obj)
    if callable(obj):
        return Val(False, None, Kind.CALLABLE, obj=obj)
    return Val(False, None, Kind.OTHER, obj=obj)


def python_number(v: Val) -> bool:
    """Is `v` a Python number per example (an unbatched Python scalar, or a batched column of them)?"""
    return v.py or (not v.batched and v.kind == Kind.SCALAR)


def merged_py(vals) -> dict:
    """`py`/`py_some` of a batched value each lane of which takes one of `vals` (the paths of a batched
    `if`, the iterations of a batched `while`): a Python number where every path gives one, one "on
    some lanes" where some path does. (A path every lane takes alike, a `for` over a per-example
    length, is `join`'s: its lanes agree.)"""
    vals = [v for v in vals if v.kind != Kind.NONE] or vals  # (None: "no lane took that path")
    py = all(python_number(v) for v in vals)
    return {"py": py, "py_some": not py and any(python_number(v) or v.py_some for v in vals)}


def lane_join(a: Val, b: Val) -> Val:
    """`join` for a name whose lanes each take one of two paths (a batched `while`'s carries)."""
    v = join(a, b)
    if v.batched and v.numeric:
        return v.with_(**merged_py([a, b]))
    return v


def parallel(a: Val, b: Val, kinds=(Kind.TUPLE, Kind.LIST)) -> bool:
    """Are `a` and `b` containers of one kind among `kinds` whose elements (and keys) are known and line
    up? Then a value that is `a` on some lanes and `b` on others is that container of per-lane parts."""
    return (
        a.kind == b.kind
        and a.kind in kinds
        and a.elts is not None
        and b.elts is not None
        and len(a.elts) == len(b.elts)
        and a.keys == b.keys
    )


def join(a: Val, b: Val) -> Val:
    """The Val of a name that holds `a` on one path and `b` on another."""
    if Kind.UNBOUND in (a.kind, b.kind):  # the value it gets is the only one it can be read as
        return b if a.kind == Kind.UNBOUND else a
    batched = a.batched or b.batched
    if a.selection is not None or b.selection is not None:  # (not part of a Val's equality)
        if a.selection is None or b.selection is None:  # a selection on some lanes only: the loop
            return Val(batched, None, Kind.OTHER)
        dtype = a.selection.dtype if a.selection.dtype == b.selection.dtype else None
        return Val(
            batched, None, Kind.OTHER, selection=MaskedSelection(dtype, a.selection.sites + b.selection.sites)
        )
    if a == b:
        return a
    if parallel(a, b, (Kind.TUPLE, Kind.DICT)):
        assert a.elts is not None and b.elts is not None  # parallel() checked
        return container(a.kind, [join(x, y) for x, y in zip(a.elts, b.elts)], a.keys)
    if a.kind == b.kind == Kind.LIST:
        items = [v for v in (a.item, b.item) if v is not None] + list(a.elts or ()) + list(b.elts or ())
        item = None
        for v in items:
            item = v if item is None else join(item, v)
        return Val(batched, None, Kind.LIST, item=item)
    if a.numeric and b.numeric:
        kind = Kind.ARRAY if Kind.ARRAY in (a.kind, b.kind) or batched else Kind.SCALAR
        return Val(
            batched,
            a.ndim if a.ndim == b.ndim else None,
            kind,
            a.dtype if a.dtype == b.dtype else None,
            py=batched and python_number(a) and python_number(b),
            # lanes that already differ in kind still do (either path may be taken)
            py_some=batched and (a.py_some or b.py_some) and not (python_number(a) and python_number(b)),
        )
    if a.kind == b.kind:
        same = a.or_none if a.or_none is b.or_none else None
        return Val(batched, None, a.kind, obj=a.obj if a.obj is b.obj else None, or_none=same)
    if Kind.NONE in (a.kind, b.kind):  # unknown, but where it is not None it is the other path's value
        return Val(batched, None, Kind.OTHER, or_none=b if a.kind == Kind.NONE else a)
    return Val(batched, None, Kind.OTHER)


def join_all(vals) -> Val:
    """The Val of a name that holds one of `vals` (`join` over them; UNKNOWN when there are none)."""
    out = None
    for v in vals:
        out = v if out is None else join(out, v)
    return UNKNOWN if out is None else out


def unbatched(v: Val) -> Val:
    """`v` as the value one example sees (an `in_axes` None argument, an inner vmap's unmapped one)."""
    elts = None if v.elts is None else tuple(unbatched(e) for e in v.elts)
    return v.with_(batched=False, elts=elts, item=None if v.item is None else unbatched(v.item))


def list_item(v: Val) -> Val | None:
    """The element Val of a list/tuple Val (joined over its elements; None when it has none)."""
    items = [*(v.elts or ()), *([v.item] if v.item is not None else [])]
    return join_all(items) if items else None


_NO_STATIC = object()


@dataclass(frozen=True, slots=True)
class Operand:
    """An expression of the generated code and what is known about its value."""

    node: ast.expr
    val: Val
    static: Any = _NO_STATIC  # the Python value, when the expression is a literal or static object

    @property
    def batched(self) -> bool:
        return self.val.batched

    @property
    def ndim(self) -> int | None:
        return self.val.ndim

    @property
    def is_static(self) -> bool:
        return self.static is not _NO_STATIC


NO_STATIC = _NO_STATIC


def static_value(node: ast.expr):
    """The Python value of a literal expression (`1`, `-1`, `(0, 2)`, `None`), else NO_STATIC."""
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return NO_STATIC


@dataclass(frozen=True)
class Window:
    """A slice `x[i + a : i + b]` whose start differs between examples but whose length `b - a` does
    not: a window of a sliding-window view (the `static` of its index Operand)."""

    start: Operand
    length: int | Operand  # an unbatched expression when not a literal


@dataclass(frozen=True)
class MaskedSelection:
    """`x[mask]` with a per-example boolean mask of x's shape (NOTE [masked selections],
    runtime_selection.py): its length differs between examples, so at run time the value is a
    `Selection`, which only rules with the "selections" trait read whole; `dtype` is its elements' kind,
    `sites` the loop warnings such a rule withdraws."""

    dtype: str | None
    sites: tuple  # (line, col) of each selection it reads
