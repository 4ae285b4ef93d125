"""What the rewriter knows about a value: `Val` (batched? per-example rank? kind?) and `Operand`.

NOTE [static batchedness]: batchedness is decided at transform time from `in_axes` and the per-example
rank and dtype kind of every argument; generated code never tests it at run time.
"""

from __future__ import annotations

import ast
import collections
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
    RECORD = "record"  # a dataclass or registered pytree's instance: `elts` its children (pytrees.py)
    NONE = "none"
    CALLABLE = "callable"
    MODULE = "module"
    OTHER = "other"
    SET = "set"  # a set or frozenset: `elts` its members where known (no order), `item` one it holds
    UNBOUND = "unbound"  # no value yet on some path (a name first assigned in a loop that may break)


NUMERIC = (Kind.ARRAY, Kind.SCALAR)

_NO_STATIC = object()
# The values a rewrite may fold (NOTE [constants]): immutable, compared by value, hashable.
_CONSTANT_TYPES = (type(None), bool, int, float, complex, str, bytes, type(Ellipsis))


@dataclass(frozen=True, slots=True)
class Val:
    batched: bool = False
    ndim: int | None = None  # per-example rank (batch axis excluded); None when unknown
    kind: Kind = Kind.ARRAY
    dtype: str | None = None  # NumPy dtype kind: 'b' 'i' 'u' 'f' 'c'; None when unknown
    elts: tuple | None = None  # TUPLE/LIST/DICT elements, when known
    keys: tuple | None = None  # DICT keys
    item: Val | None = (
        None  # LIST built by appends: the (joined) element; a set's, where it holds one at least
    )
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
    # the value itself, the same on every call the specialization serves (NOTE [constants]); Vals compare
    # it by `const_key`, its type and value (0.0 and -0.0, 1 and an IntEnum member 1 are different)
    const: Any = field(default=_NO_STATIC, compare=False)
    # a record's type (NOTE [pytrees]): a namedtuple's (a TUPLE) or a RECORD's, whose `keys` then name
    # the attribute each element is read by (None for a child no attribute holds)
    cls: type | None = None
    # the values it may have, one of which each call has (NOTE [constants]: `type(x.dtype)` of a dtype
    # known by its kind is one of its kind's classes), where a pure function of them may agree
    choices: tuple | None = field(default=None, compare=False)
    const_key: Any = field(default=None, init=False)
    choices_key: Any = field(default=None, init=False)  # (the choices, told apart as constants are)

    def __post_init__(self) -> None:
        object.__setattr__(self, "const_key", const_key(self.const) if self.const is not _NO_STATIC else None)
        if self.choices is not None:
            object.__setattr__(self, "choices_key", const_key(self.choices))

    def with_(self, **kw) -> Val:
        """The Val with some facts changed: no longer a constant, unless `const=` says so."""
        return replace(self, **{"const": _NO_STATIC, **kw})

    @property
    def is_const(self) -> bool:
        return self.const is not _NO_STATIC

    @property
    def numeric(self) -> bool:
        return self.kind in NUMERIC


UNKNOWN = Val(False, None, Kind.OTHER)


@functools.cache
def array(batched: bool, ndim: int | None, dtype: str | None = None) -> Val:
    """The Val of an array (one object per fact: every call binds its arguments' Vals, and a Val shared
    by calls compares by identity in the specialization cache)."""
    return Val(batched, ndim, Kind.ARRAY, dtype)


# NOTE [list items]
# A list Val with `elts` knows each item's own facts: `[x, None]` holds a batched array and None. One
# without (`item` only) promises that every item is what `item` says: if `item` is batched, every item
# object carries the batch axis. Code that drops a list's elements keeps that promise by repeating its
# per-call items over the batch (context.promote), or refuses; see docs/architecture.md, "Lists of
# batched and unbatched items". A list's or dict's items keep their values (NOTE [constants]) only while
# the one function that holds it reads them (ExpressionsMixin.items_read); elsewhere they are never
# constants.


def held(v: Val) -> Val:
    """A list or dict Val as another container that holds it sees it (NOTE [list items]): a change made
    through the list's own name is not followed there, so per-call items are one joined item and
    per-example ones (whose changes are refused once it is held) keep their facts but not their values."""
    if v.kind not in (Kind.LIST, Kind.DICT) or v.elts is None:
        return v
    if not v.batched:
        return Val(False, None, v.kind, item=list_item(v) if v.kind == Kind.LIST else None)
    return replace(v, elts=tuple(unfixed(e) for e in v.elts))


def loosened(v: Val, itself: bool = True) -> Val:
    """`v` after a change made through another holder of it (`itself`) or of a container inside it: the
    lists, dicts and sets changed known by their kind only, a list's item joined with anything per call
    (another holder may have put anything in); the containers inside those, too."""
    if v.batched:
        return v  # (NOTE [list items]: items of their own batchedness are refused a change, never forgotten)
    if v.kind == Kind.LIST and itself:
        item = list_item(v)
        came = [loosened(item)] if item is not None else []
        return Val(False, None, Kind.LIST, item=unfixed(join_all([*came, UNKNOWN])))
    if v.kind in (Kind.DICT, Kind.SET) and itself:
        return Val(False, None, v.kind)
    if v.kind in (Kind.TUPLE, Kind.RECORD, Kind.LIST, Kind.DICT):  # (its parts)
        elts = None if v.elts is None else tuple(loosened(e) for e in v.elts)
        return replace(v, elts=elts, item=None if v.item is None else loosened(v.item), const=_NO_STATIC)
    return v


def placed(item: Operand) -> Val:
    """The Val of `item` placed in a container or an object (NOTE [list items]): a list or dict another
    name, object or call holds too is seen as another holder sees it (`held`); one made where it stands
    (`[[a, b], [c, d]]`) is the container's own."""
    if isinstance(item.node, (ast.Name, ast.Attribute, ast.Subscript, ast.Call)):
        return held(item.val)
    return item.val


def container(kind: Kind, elts, keys=None, cls: type | None = None) -> Val:
    elts = tuple(elts)
    if kind == Kind.RECORD:  # (a record's fields may be replaced: never constants)
        elts = tuple(unfixed(e) for e in elts)
    v = Val(
        any(e.batched for e in elts), None, kind, None, elts, None if keys is None else tuple(keys), cls=cls
    )
    if kind == Kind.TUPLE and cls is None and all(e.is_const for e in elts):
        return replace(v, const=tuple(e.const for e in elts))
    return v


def field_of(v: Val, attr: str) -> Val | None:
    """The Val of the field `attr` of a record (a namedtuple's, a dataclass's or a registered type's
    child read as an attribute, NOTE [pytrees]), or None where `v` is none or has no such field."""
    if v.cls is None or v.elts is None:
        return None
    names = getattr(v.cls, "_fields", None) if v.kind == Kind.TUPLE else v.keys
    if not isinstance(names, tuple) or attr not in names or len(names) != len(v.elts):
        return None
    return v.elts[names.index(attr)]


def const_key(obj):
    """What tells constants apart: their type and value (a float's or complex's by `repr`: -0.0 is not 0.0)."""
    if type(obj) is tuple:
        return tuple(const_key(o) for o in obj)
    if type(obj) is slice:  # (hashable only from Python 3.12)
        return (slice, const_key((obj.start, obj.stop, obj.step)))
    if isinstance(obj, (float, complex)):
        return (type(obj), repr(obj))
    return (type(obj), obj)


def unfixed(v: Val) -> Val:
    """`v` without its value (and its tuple items without theirs): what an item of a list holds."""
    if not v.is_const and (v.kind != Kind.TUPLE or v.elts is None):
        return v
    elts = None if v.elts is None else tuple(unfixed(e) for e in v.elts)
    return replace(v, const=_NO_STATIC, elts=elts)


def is_constant(obj) -> bool:
    """Can a rewrite fold `obj` (NOTE [constants])? Numbers, strings, None, classes, enum members, and
    tuples and slices of them: values that cannot change, compared by value or by identity."""
    if type(obj) is tuple:
        return all(is_constant(o) for o in obj)
    if type(obj) is slice:
        return is_constant((obj.start, obj.stop, obj.step))
    return type(obj) in _CONSTANT_TYPES or isinstance(obj, (type, enum.Enum))


# NumPy's dtypes of each kind: a dtype object known only by its kind (`x.dtype` of a batched float array:
# float32 or float64?) is each of these, and a pure function of it whose value is the same for all of
# them is a constant (NOTE [constants]: `np.isdtype(x.dtype, "real floating")`, `x.dtype.kind`).
def _both_orders(types_) -> tuple:
    native = [np.dtype(t) for t in types_]
    return tuple(native + [d.newbyteorder() for d in native if d.itemsize > 1])


DTYPES_OF_KIND = {
    "b": (np.dtype(bool),),
    "i": _both_orders((np.int8, np.int16, np.int32, np.int64)),
    "u": _both_orders((np.uint8, np.uint16, np.uint32, np.uint64)),
    "f": _both_orders((np.float16, np.float32, np.float64, np.longdouble)),
    "c": _both_orders((np.complex64, np.complex128, np.clongdouble)),
}


def dtype_object(kind: str | None) -> Val:
    """The Val of a dtype object (`x.dtype`) of a known kind, or of any kind (None)."""
    return Val(False, None, Kind.OTHER, kind if kind in DTYPES_OF_KIND else None)


def dtypes_of(v: Val) -> tuple | None:
    """The dtypes a dtype-object Val may be (`dtype_object`), or None for any other Val."""
    if v.kind != Kind.OTHER or v.batched or v.obj is not None or v.dtype is None:
        return None
    return DTYPES_OF_KIND.get(v.dtype)


def truth(v: Val) -> bool | None:
    """`bool()` of every value of Val `v`, where the rewrite knows it (NOTE [constants]): a constant's,
    None's, a tuple's of known length, a module's or a function's; None where only running tells."""
    if v.kind == Kind.TUPLE and v.elts is not None and v.cls is None:  # (whatever its items are)
        return bool(v.elts)
    if v.kind == Kind.SET and v.elts is not None:  # (NOTE [sets]: its members, where known, are all)
        return bool(v.elts)
    if v.choices is not None and not v.batched and len({bool(c) for c in v.choices}) == 1:
        return bool(v.choices[0])
    if v.batched:
        return None
    if v.is_const:
        return bool(v.const)
    if v.kind == Kind.NONE:
        return False
    if v.kind in (Kind.MODULE, Kind.CALLABLE) and isinstance(v.obj, (types.ModuleType, types.FunctionType)):
        return True
    return None


def set_of(items: list[Val]) -> Val:
    """NOTE [sets]: the Val of a set of items with these Vals. Of constants, its members as Python's
    equality makes them (`{1, True}` is one); of one item, that one; of more, one of them at least
    (equal items make one: its `item` is theirs, joined)."""
    if all(v.is_const for v in items):
        try:
            members = dict.fromkeys(v.const for v in items)
        except TypeError:  # (a constant that cannot be hashed: the set raises when it runs)
            return Val(False, None, Kind.SET)
        return Val(False, None, Kind.SET, elts=tuple(constant(m) for m in members))
    if len(items) <= 1:
        return Val(False, None, Kind.SET, elts=tuple(items))
    return Val(False, None, Kind.SET, item=unfixed(join_all(items)))


def members(v: Val) -> frozenset | None:
    """The members of a set Val known to be constants, as a frozenset; None where any is not known."""
    if v.kind != Kind.SET or v.elts is None or not all(e.is_const for e in v.elts):
        return None
    return frozenset(e.const for e in v.elts)


def constant(obj) -> Val:
    """The Val of a value the rewrite may fold: a literal, a default, a global constant."""
    v = val_of(obj)
    return replace(v, const=obj) if is_constant(obj) and not v.is_const else v


def val_of(obj) -> Val:
    """The Val of a value known at transform time (a global, a closure cell, an unmapped argument)."""
    if isinstance(obj, (np.ndarray, np.generic)):
        return array(False, obj.ndim, obj.dtype.kind)
    if isinstance(obj, bool):  # (two values, each its own rewrite: `if flag:` takes one path)
        return Val(False, 0, Kind.SCALAR, "b", const=obj)
    if isinstance(obj, (int, float, complex)):
        return Val(False, 0, Kind.SCALAR, np.asarray(obj).dtype.kind)
    if obj is UNBOUND:  # generated code's "no value yet" (rewritten again under an enclosing vmap)
        return Val(False, None, Kind.UNBOUND)
    if obj is None:
        return Val(False, None, Kind.NONE, const=None)
    if isinstance(obj, range):  # (as `range(n)` written out: rules/builtins.range_facts)
        return Val(False, None, Kind.LIST, item=Val(False, 0, Kind.SCALAR, "i"))
    if isinstance(obj, tuple):
        cls = type(obj) if isinstance(getattr(type(obj), "_fields", None), tuple) else None
        return container(Kind.TUPLE, [val_of(o) for o in obj], cls=cls)
    if isinstance(obj, list):  # (an object from outside: its items may be replaced between calls)
        return container(Kind.LIST, [unfixed(val_of(o)) for o in obj])
    if type(obj) in (dict, collections.OrderedDict):  # (a subclass may answer `in`, truth, items its way)
        return container(Kind.DICT, [unfixed(val_of(v)) for v in obj.values()], obj.keys())
    if type(obj) in (set, frozenset):  # (NOTE [sets]: its members where each is a constant)
        return (
            set_of([constant(o) for o in obj])
            if all(is_constant(o) for o in obj)
            else Val(False, None, Kind.SET)
        )
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
        and (a.kind != Kind.RECORD or a.cls is b.cls)  # (a record's children are its type's)
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
    if parallel(a, b, (Kind.TUPLE, Kind.DICT, Kind.RECORD)):
        assert a.elts is not None and b.elts is not None  # parallel() checked
        cls = a.cls if a.cls is b.cls else None  # (a namedtuple on one path, a tuple on another: a tuple)
        return container(a.kind, [join(x, y) for x, y in zip(a.elts, b.elts)], a.keys, cls)
    if Kind.RECORD in (a.kind, b.kind):  # (records of other fields or types: which, not known)
        return Val(batched, None, Kind.RECORD)
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


def leaf_batchedness(v: Val):
    """Which leaves of `v` are batched, as a hashable shape: a bool, or a tuple of those for a tuple,
    list, dict or record of known items (NOTE [list items]: items whose shapes differ cannot share one
    Val)."""
    if v.kind in (Kind.TUPLE, Kind.LIST, Kind.DICT, Kind.RECORD) and v.elts is not None:
        return tuple(leaf_batchedness(e) for e in v.elts)
    return v.batched


def list_item(v: Val) -> Val | None:
    """The element Val of a list/tuple Val (joined over its elements; None when it has none)."""
    items = [*(v.elts or ()), *([v.item] if v.item is not None else [])]
    return unfixed(join_all(items)) if items else None


@dataclass(frozen=True, slots=True)
class Operand:
    """An expression of the generated code and what is known about its value."""

    node: ast.expr
    val: Val
    static: Any = _NO_STATIC  # the Python value, when the expression is a literal or static object
    # per example a new array the expression itself made, held by nothing else yet (a NumPy function's
    # or an operator's result; a call of a function that returns only such): the alias analysis's
    # feedback (NOTE [fresh values], transform/vectorize.py). Never a name's: names are not fresh.
    fresh: bool = False
    # a call whose result is new or given to it (its arguments, a method's object, their parts), never a
    # global's, a closure's or a default's object: a NumPy function's (any rule's), or a function's each
    # return of which is such (NOTE [fresh values])
    own: bool = False
    # evaluating it always raises, whatever the values: a call whose arguments do not fit the callee's
    # parameters (Python's TypeError); a statement of it alone ends its path (vectorize.merge)
    raises: bool = False

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
