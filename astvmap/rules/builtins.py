"""Python builtins and `math`, with their own semantics (DESIGN "Traps"): `max(1, nan)` is 1,
`round` and `math.floor` return int, `math.sqrt(-1)` raises, `int(nan)` raises. Their rules take
Python's signatures.
"""

from __future__ import annotations

import ast
import builtins
import math

import numpy as np

from ..kit import templates
from ..pynum import MATH_UFUNCS
from .common import align, emit, infers, out, static
from .registry import register
from .values import (
    NO_STATIC,
    UNKNOWN,
    Kind,
    Operand,
    Val,
    array,
    constant,
    container,
    held,
    is_constant,
    leaf_batchedness,
    list_item,
)


def _scalars(*ops) -> bool:
    """Is every operand one number per example?"""
    return all(o.val.kind in (Kind.ARRAY, Kind.SCALAR) and o.val.ndim == 0 for o in ops)


def _scalar(ctx, *ops):
    if not _scalars(*ops):
        raise ctx.fail("a Python builtin applied to a per-example array")


_CONVERTED = {float: "f", complex: "c", bool: "b", int: "i"}


def number_facts(call, x=None, real=None, imag=None, base=None, **_) -> Val:
    """`float(x)`, `int(x)`, ...: a Python number of the type's kind (`float()`: its zero)."""
    x = real if x is None else x
    kind = _CONVERTED[call.fn]
    if x is None:
        return array(False, 0, kind)
    if not _scalars(x) or imag is not None or base is not None or (call.fn is float and x.val.dtype == "c"):
        return UNKNOWN  # refused by the rule
    return Val(False, 0, Kind.ARRAY, kind, py=True)


@register(float)
@infers(number_facts)
def batch_float(ctx, x=None, /) -> Operand:
    # float(x) of per-example scalars: float64 (Python floats stack to float64)
    _scalar(ctx, x)
    if x.val.dtype == "c":
        raise ctx.error("float() of a complex value: the loop raises TypeError")
    return emit(ctx.expr("x.astype(np.float64)", x=x.node), number_facts(ctx.call, x))


@register(complex)
@infers(number_facts)
def batch_complex(ctx, real=None, imag=None) -> Operand:
    if real is None or imag is not None:
        raise ctx.fail("complex() with two arguments")
    _scalar(ctx, real)
    return emit(ctx.expr("x.astype(np.complex128)", x=real.node), number_facts(ctx.call, real))


@register(bool)
@infers(number_facts)
def batch_bool(ctx, x=None, /) -> Operand:
    _scalar(ctx, x)
    return emit(ctx.expr("x.astype(bool)", x=x.node), number_facts(ctx.call, x))


@register(int)
@infers(number_facts)
def batch_int(ctx, x=None, /, base=None) -> Operand:
    # int(x) truncates toward zero and raises for NaN/inf, as Python does
    if base is not None:
        raise ctx.fail("int() with a base")
    _scalar(ctx, x)
    return emit(ctx.expr("av__.to_int(x)", x=x.node), number_facts(ctx.call, x))


def round_facts(call, number, ndigits=None, **_) -> Val:
    """`round(x)`: an int; `round(x, n)`: x's kind."""
    if not _scalars(number):
        return UNKNOWN  # refused by the rule
    if ndigits is None:
        return Val(False, 0, Kind.ARRAY, "i", py=True)
    return array(False, 0, number.val.dtype)


@register(round)
@infers(round_facts)
def batch_round(ctx, number, ndigits=None) -> Operand:
    # round(x) -> int (half to even); round(x, n) -> same dtype
    _scalar(ctx, number)
    facts = round_facts(ctx.call, number, ndigits)
    if ndigits is None:
        return emit(ctx.expr("av__.to_round(x)", x=number.node), facts)
    if ndigits.batched:
        raise ctx.fail("round() with per-example digits")
    return emit(ctx.expr("np.round(x, n)", x=number.node, n=ndigits.node), facts)


def _compared(args) -> list[Operand] | None:
    """The numbers `max`/`min` compare: its arguments, or the items of one written-out sequence."""
    if len(args) != 1:
        return list(args)
    a, v = args[0], args[0].val
    if v.kind in (Kind.LIST, Kind.TUPLE) and v.elts is not None and isinstance(a.node, (ast.List, ast.Tuple)):
        return [Operand(n, e) for n, e in zip(a.node.elts, v.elts)]
    return None


def minmax_facts(call, args=(), key=None, default=None, **_) -> Val:
    """The largest (smallest) of numbers: one of them (a number of unknown kind when they are several);
    of a per-example array: a row."""
    v = args[0].val if len(args) == 1 else None
    if v is not None and args[0].batched and v.kind == Kind.ARRAY and v.ndim is not None and v.ndim >= 1:
        return array(False, v.ndim - 1, v.dtype)
    items = _compared(args)
    if key is not None or default is not None or not items or not _scalars(*items):
        return UNKNOWN  # refused by the rule
    return items[0].val.with_(batched=False) if len(items) == 1 else array(False, 0)


def _minmax(ctx, args, key, default, py_fn, cmp):
    if key is not None or default is not None:
        raise ctx.fail(f"{py_fn.__name__}() with key= or default=")
    facts = minmax_facts(ctx.call, args)
    if len(args) == 1 and args[0].batched and args[0].val.kind == Kind.ARRAY and facts.kind == Kind.ARRAY:
        # max(x) iterates the per-example axis 0; the first maximum wins, as in Python
        name = "py_max" if py_fn is builtins.max else "py_min"
        return emit(ctx.expr(f"av__.{name}(x)", x=args[0].node), facts)
    items = _compared(args)
    if items is None:
        raise ctx.fail(f"{py_fn.__name__}() of a batched iterable or sequence")
    _scalar(ctx, *items)
    # max(a, b, ...) keeps the first of equal values and ignores NaN in later positions: a fold of
    # `b if b > best else best`, exactly Python's rule
    best = items[0]
    for nxt in items[1:]:
        (bn, nn), _ = align(ctx, [best, nxt])
        best = out(ctx.expr(f"np.where(n {cmp} b, n, b)", n=nn, b=bn), True, 0, None)
    return best


@register(max, traits="reduction quiet")
@infers(minmax_facts)
def batch_max(ctx, *args, key=None, default=None) -> Operand:
    return _minmax(ctx, args, key, default, builtins.max, ">")


@register(min, traits="reduction quiet")
@infers(minmax_facts)
def batch_min(ctx, *args, key=None, default=None) -> Operand:
    return _minmax(ctx, args, key, default, builtins.min, "<")


def sum_facts(call, iterable, **_) -> Val:
    """The rows of a per-example array added: a row; items added: an item."""
    v = iterable.val
    if v.batched and v.kind == Kind.ARRAY:
        return UNKNOWN if v.ndim == 0 else array(False, None if v.ndim is None else v.ndim - 1, v.dtype)
    item = v.item
    return array(False, None if item is None else item.ndim, None if item is None else item.dtype)


@register(sum, traits="reduction quiet")
@infers(sum_facts)
def batch_sum(ctx, iterable, /, start=None) -> Operand:
    # sum() adds left to right starting at 0: over a batched array's rows, or a generator of batched
    # values, Python's own sum does exactly that lane by lane
    v, facts = iterable.val, sum_facts(ctx.call, iterable)
    if v.batched and v.kind == Kind.ARRAY:
        if v.ndim == 0:
            raise ctx.error("sum() of a per-example scalar: the loop raises TypeError (not iterable)")
        node = ctx.expr("sum(np.moveaxis(x, 1, 0))", x=iterable.node)
        if start is not None:
            node.args.append(start.node)
        return emit(node, facts)
    elts = v.elts if v.kind in (Kind.LIST, Kind.TUPLE) else None
    if elts is not None and len({(e.batched, e.ndim) for e in elts}) > 1:
        return _sum_of_items(ctx, iterable, elts, start, facts)
    item = list_item(v)
    if v.batched and (item is None or (item.ndim is None and elts is None)):
        raise ctx.fail("sum() of per-example items whose ranks differ")
    return emit(ctx.call.rebuild([iterable.node] + ([start.node] if start is not None else []), {}), facts)


def _sum_of_items(ctx, iterable: Operand, elts, start: Operand | None, facts: Val) -> Operand:
    """sum() of items batched on some lanes or of different ranks, as Python adds them: `start + a0`,
    then `+ a1`, ..., each pair's per-example axes lined up (NOTE [mixed ranks])."""
    items = iterable.node if isinstance(iterable.node, ast.Name) else ctx.temp(iterable.node, "items")
    acc = start if start is not None else Operand(ast.Constant(0), constant(0))
    for k, e in enumerate(elts):
        (a, b), top = align(ctx, [acc, Operand(templates.index(items, [k]), e)])
        acc = out(ctx.expr("a + b", a=a, b=b), acc.batched or e.batched, top, facts.dtype)
    return acc


def any_all_facts(call, iterable, **_) -> Val:
    """A bool per example (of a vector, or of items that are one value per example)."""
    v = iterable.val
    if v.batched and v.kind == Kind.ARRAY:
        return array(False, 0, "b") if v.ndim == 1 else UNKNOWN
    return array(False, 0, "b") if v.item is not None and v.item.ndim == 0 else UNKNOWN


@register(any, all, traits="reduction quiet")
@infers(any_all_facts)
def batch_any_all(ctx, iterable, /) -> Operand:
    # any(x) over a per-example vector: its truth values along axis 1; over batched items: a fold
    v, facts = iterable.val, any_all_facts(ctx.call, iterable)
    fn = "any" if ctx.call.fn is builtins.any else "all"
    if v.batched and v.kind == Kind.ARRAY:
        if v.ndim != 1:
            raise ctx.fail(
                f"{fn}() over the rows of a per-example array (the loop takes each row's truth value)"
            )
        return emit(ctx.expr(f"np.{fn}(x, axis=1)", x=iterable.node), facts)
    if facts.kind != Kind.ARRAY:
        raise ctx.fail(f"{fn}() of items that are not one value per example")
    return emit(ctx.expr(f"av__.{fn}_of(x, B)", x=iterable.node, B=ctx.batch_size()), facts)


def range_facts(call, *_, **__) -> Val:
    """A sequence of ints."""
    return Val(False, None, Kind.LIST, item=Val(False, 0, Kind.SCALAR, "i"))


@register(range)
@infers(range_facts)
def batch_range(ctx, start, stop=None, step=None, /) -> Operand:
    raise ctx.fail("a range whose length differs between examples needs the control-flow rewrite")


def _item(v: Val) -> Val:
    """The Val of one item of an iterable (a batched array's: a per-example row)."""
    if v.batched and v.kind == Kind.ARRAY:
        return Val(True, None if v.ndim is None else v.ndim - 1, Kind.ARRAY, v.dtype)
    item = list_item(v) if v.kind in (Kind.LIST, Kind.TUPLE) else v.item
    if item is None and v.kind == Kind.ARRAY:
        return Val(False, None if v.ndim is None else v.ndim - 1, Kind.ARRAY, v.dtype)
    return item or Val(False, None, Kind.OTHER)


def enumerate_facts(call, iterable, start=None, **_) -> Val:
    """Pairs of a counter and an item (of a tuple or list of known items, each pair known: NOTE [list
    items])."""
    elts = _known_items(iterable.val)
    if elts is not None:
        first = static(start, 0)
        count = [
            constant(first + k) if isinstance(first, int) else Val(False, 0, Kind.SCALAR, "i")
            for k in range(len(elts))
        ]
        return _pairs_of([count, list(elts)])
    elt = _item(iterable.val)
    pair = Val(elt.batched, None, Kind.TUPLE, None, (Val(False, 0, Kind.SCALAR, "i"), elt))
    return Val(elt.batched, None, Kind.LIST, item=pair)


def _known_items(v: Val) -> tuple | None:
    """The items of a tuple or list known one by one, else None."""
    return v.elts if v.kind in (Kind.TUPLE, Kind.LIST) and v.cls is None else None


def _pairs_of(columns: list[list[Val]]) -> Val:
    """A list of tuples, the k-th of the k-th item of each column (as `zip` makes them)."""
    n = min(len(c) for c in columns)
    made = container(Kind.LIST, [container(Kind.TUPLE, [held(c[k]) for c in columns]) for k in range(n)])
    return made.with_(item=list_item(made))


@register(enumerate, traits="shaped")
@infers(enumerate_facts)
def batch_enumerate(ctx, iterable, start=None) -> Operand:
    v = iterable.val
    source = (
        ctx.expr("np.moveaxis(x, 1, 0)", x=iterable.node)
        if v.batched and v.kind == Kind.ARRAY
        else iterable.node
    )
    node = ctx.call.rebuild([source] + ([start.node] if start is not None else []), {})
    return Operand(node, enumerate_facts(ctx.call, iterable))


def zip_facts(call, iterables=(), **_) -> Val:
    """Tuples of one item of each (of tuples or lists of known items, each tuple known)."""
    columns = [_known_items(it.val) for it in iterables]
    if columns and all(c is not None for c in columns):
        return _pairs_of([list(c) for c in columns if c is not None])
    item = Val(False, None, Kind.TUPLE, None, tuple(_item(it.val) for it in iterables))
    item = item.with_(batched=any(e.batched for e in item.elts or ()))
    return Val(item.batched, None, Kind.LIST, item=item)


@register(zip, traits="shaped")
@infers(zip_facts)
def batch_zip(ctx, *iterables, strict=None) -> Operand:
    if strict is not None:
        raise ctx.fail("zip() with strict=")
    columns = [_known_items(it.val) for it in iterables]
    if not all(c is not None for c in columns) and any(
        c is not None and len({leaf_batchedness(e) for e in c}) > 1 for c in columns
    ):  # (NOTE [list items]: its pairs would join items batched on some lanes with others)
        raise ctx.fail("zip() of a list of batched and unbatched items with an iterable of unknown length")
    nodes = [
        ctx.expr("np.moveaxis(x, 1, 0)", x=it.node) if it.batched and it.val.kind == Kind.ARRAY else it.node
        for it in iterables
    ]
    return Operand(ctx.call.rebuild(nodes, {}), zip_facts(ctx.call, iterables))


def items_facts(call, iterable=None, **_) -> Val:
    """A list of the items of a batched array: its per-example rows."""
    if iterable is None:
        return Val(False, None, Kind.LIST)
    return Val(iterable.batched, None, Kind.LIST, item=_item(iterable.val))


def sequence_facts(call, iterable=None, **_) -> Val:
    """`list(x)`, `tuple(x)`: of a tuple or list of known items, those items; of an array its rows."""
    kind = Kind.TUPLE if call.fn is tuple else Kind.LIST
    if (
        iterable is not None
        and iterable.val.kind in (Kind.TUPLE, Kind.LIST)
        and iterable.val.elts is not None
    ):
        made = container(kind, [held(e) for e in iterable.val.elts])
        return made if kind == Kind.TUPLE else made.with_(item=list_item(made))
    if iterable is not None and iterable.val.kind == Kind.DICT and iterable.val.keys is not None:
        made = container(kind, [constant(k) for k in iterable.val.keys])  # (a dict's items are its keys)
        return made if kind == Kind.TUPLE else made.with_(item=list_item(made))
    facts = items_facts(call, iterable)
    return facts if kind == Kind.LIST else Val(facts.batched, None, Kind.TUPLE, item=facts.item)


@register(tuple, traits="shaped")
@infers(sequence_facts)
def batch_tuple(ctx, iterable=None, /) -> Operand:
    # tuple(x) of a tuple or list of known items: the same items (each batched as it is)
    facts = sequence_facts(ctx.call, iterable)
    if facts.elts is None:
        raise ctx.fail("tuple() of a batched value whose items are not known one by one")
    return Operand(ctx.call.rebuild([iterable.node], {}), facts)


@register(list, traits="shaped")
@infers(sequence_facts)
def batch_list(ctx, iterable=None, /) -> Operand:
    # list(x) of a batched array: the list of its per-example rows, each a batched value (a batched
    # list holds batched items, as a comprehension's does); of a tuple or list of known items, those
    if (
        iterable is not None
        and iterable.val.kind in (Kind.TUPLE, Kind.LIST)
        and iterable.val.elts is not None
    ):
        return Operand(ctx.call.rebuild([iterable.node], {}), sequence_facts(ctx.call, iterable))
    if iterable is None or iterable.val.kind != Kind.ARRAY or not iterable.val.ndim:
        raise ctx.fail("list() of a value that is not a per-example array")
    # the items of a vector are numbers (copies), of an array its rows (views, as the batch's are)
    rows = "np.moveaxis(x, 1, 0).copy()" if iterable.val.ndim == 1 else "np.moveaxis(x, 1, 0)"
    node = ctx.expr(f"list({rows})", x=iterable.node)
    return Operand(node, items_facts(ctx.call, iterable))


@register(sorted)
@infers(items_facts)
def batch_sorted(ctx, iterable, /, *, key=None, reverse=None) -> Operand:
    # sorted(x) of a per-example vector of real numbers: NumPy's stable sort, which orders them as
    # Python's comparisons do, except where a lane holds NaN (`<` is no order then: that lane runs
    # Python's sorted, av__.sorted_lanes)
    v = iterable.val
    if key is not None and static(key) is not None:
        raise ctx.fail("sorted() with a key function")
    flag = static(reverse, False) if reverse is not None else False
    if not isinstance(flag, bool):
        raise ctx.fail("sorted() with a reverse= that is not a constant")
    if v.kind != Kind.ARRAY or v.ndim != 1 or v.dtype not in ("b", "i", "u", "f"):
        raise ctx.fail("sorted() of anything but a per-example vector of real numbers")
    node = ctx.expr("list(np.moveaxis(av__.sorted_lanes(x, r), 1, 0))", x=iterable.node, r=flag)
    return Operand(node, items_facts(ctx.call, iterable))


_NUMBERS = (np.ndarray, np.generic, int, float, complex, bool)


@register(isinstance)
def batch_isinstance(ctx, obj, class_or_tuple, /) -> Operand:
    # a batched array's examples are arrays (of a rank >= 1) or numbers: whether each is an instance
    # of classes unrelated to those, or of a superclass of every one, is the same for every example
    v, classes = obj.val, static(class_or_tuple)
    if classes is NO_STATIC and not class_or_tuple.batched and _plain_rows(v):
        # classes known only when the code runs (`pd.DataFrame` of a module found in sys.modules)
        node = ctx.expr("av__.arrays_are(x, c)", x=obj.node, c=class_or_tuple.node)
        return Operand(node, Val(False, 0, Kind.SCALAR, "b"))
    if not isinstance(classes, tuple):
        classes = (classes,)
    if (
        class_or_tuple.batched
        or not all(isinstance(c, type) for c in classes)
        or v.kind != Kind.ARRAY
        or v.dtype not in ("b", "i", "u", "f", "c")  # (strings, objects, values of a kind not known)
        or v.or_none is not None
        or v.selection is not None
    ):
        raise ctx.fail("isinstance() of a batched value (its type differs from one example's)")
    kinds = (np.ndarray,) if v.ndim else _NUMBERS  # (rank 0: a NumPy scalar, a 0-d array or a number)
    if any(all(issubclass(k, c) for k in kinds) for c in classes):
        answer = True
    elif all(not issubclass(k, c) and not issubclass(c, k) for k in kinds for c in classes):
        answer = False
    else:
        raise ctx.fail("isinstance() of a batched value (its type differs from one example's)")
    return Operand(ast.Constant(answer), constant(answer), answer)


def _plain_rows(v: Val) -> bool:
    """Is every example of `v` an ndarray (a row of a batched array of rank >= 1, of a known kind)?"""
    plain = v.or_none is None and v.selection is None and not v.py and not v.py_some
    return (
        plain and v.batched and v.kind == Kind.ARRAY and bool(v.ndim) and v.dtype in ("b", "i", "u", "f", "c")
    )


_KIND_TYPES = {
    "b": (bool, np.bool_),
    "i": (int, np.int64),
    "u": (int, np.uint64),
    "f": (float, np.float64),
    "c": (complex, np.complex128),
}


def _examples(v: Val) -> list:
    """Objects of every type an example of a batched numeric value may have (for its type and
    attributes); empty where that is not known: a per-example array of a known rank >= 1, a Python
    number, or, per example a number that is not one, a NumPy scalar or a 0-d array."""
    if v.kind != Kind.ARRAY or v.or_none is not None or v.selection is not None or v.py_some:
        return []
    if v.ndim is not None and v.ndim > 0:  # (of any dtype)
        return [np.zeros((1,) * v.ndim, _KIND_TYPES.get(v.dtype or "f", (0, np.float64))[1])]
    if v.dtype not in _KIND_TYPES:  # (per example an object array's item may be anything)
        return []
    python, numpy = _KIND_TYPES[v.dtype]
    if v.ndim == 0:
        return [python(0)] if v.py else [numpy(0), np.zeros((), numpy)]
    return []


@register(type)
def batch_type(ctx, obj, /) -> Operand:
    # per example the type of an array is np.ndarray, of a Python number its class: the same for all
    kinds = {type(e) for e in _examples(obj.val)}
    if len(kinds) != 1:
        raise ctx.fail("type() of a batched value (its type may differ from one example's)")
    (cls,) = kinds
    return Operand(ctx.bind(cls, cls.__name__), Val(False, None, Kind.CALLABLE, obj=cls), cls)


def examples_have(v: Val, attr) -> bool | None:
    """Does every example of batched Val `v` have attribute `attr` (True), none (False)? None where
    that is not known (the examples' types differ, or are not known)."""
    answers = {hasattr(e, attr) for e in _examples(v)} if isinstance(attr, str) else set()
    return answers.pop() if len(answers) == 1 else None


_TYPE_ATTRIBUTES = frozenset({"device"})  # attributes of an array its type alone decides


def examples_attribute(v: Val, attr: str):
    """The attribute `attr` every example of array Val `v` has alike, and the batch has too, where it is a
    constant (`x.device`: "cpu"); NO_STATIC elsewhere."""
    examples = _examples(v)
    if attr not in _TYPE_ATTRIBUTES or not examples or not v.batched or v.ndim is None:
        return NO_STATIC  # (`x.itemsize`, `x.base`: the examples' dtype and layout decide them)
    try:
        values = [getattr(e, attr) for e in examples] + [getattr(np.zeros((1,) * (v.ndim + 1)), attr)]
    except AttributeError:
        return NO_STATIC
    first = values[0]
    if is_constant(first) and all(type(x) is type(first) and x == first for x in values):
        return first
    return NO_STATIC


@register(hasattr)
def batch_hasattr(ctx, obj, name, /) -> Operand:
    # every example's type has the same attributes
    answer = examples_have(obj.val, static(name))
    if answer is None or name.batched:
        raise ctx.fail("hasattr() of a batched value (its type may differ from one example's)")
    return Operand(ast.Constant(answer), constant(answer), answer)


@register(np.iterable)
def batch_iterable(ctx, y) -> Operand:
    return _type_predicate(ctx, y)


@register(np.isscalar)
def batch_isscalar(ctx, element) -> Operand:
    return _type_predicate(ctx, element)


def _type_predicate(ctx, y) -> Operand:
    # a predicate of the examples' type: an array of rank >= 1 is iterable and not a scalar, a NumPy
    # scalar is a scalar and a 0-d array is not (the same answer for every example, or no answer)
    fn = ctx.call.fn
    answers = {fn(e) for e in _examples(y.val)}
    if len(answers) != 1:
        raise ctx.fail(f"np.{fn.__name__}() of a batched value (its type may differ from one example's)")
    (answer,) = answers
    return Operand(ast.Constant(answer), constant(answer), answer)


# ---- math -----------------------------------------------------------------------------------------
_MATH_FLOAT = [
    math.exp,
    math.log,
    math.log10,
    math.log2,
    math.log1p,
    math.expm1,
    math.sqrt,
    math.sin,
    math.cos,
    math.tan,
    math.asin,
    math.acos,
    math.atan,
    math.sinh,
    math.cosh,
    math.tanh,
    math.asinh,
    math.acosh,
    math.atanh,
    math.atan2,
    math.hypot,
    math.pow,
    math.fabs,
    math.erf,
    math.erfc,
]


def math_facts(call, args=(), **_) -> Val:
    """A Python float."""
    if len(args) != MATH_UFUNCS[call.fn].nin or not _scalars(*args):
        return UNKNOWN  # refused by the rule
    return Val(False, 0, Kind.ARRAY, "f", py=True)


@register(*[f for f in _MATH_FLOAT if f in MATH_UFUNCS], traits="elementwise")
@infers(math_facts)
def batch_math(ctx, *args) -> Operand:
    # math.f on per-example scalars: float64 results, ValueError/OverflowError where math raises.
    # (math's functions take their arguments positionally only, `log` and `hypot` one or more)
    ufunc = MATH_UFUNCS[ctx.call.fn]
    if len(args) != ufunc.nin:  # (math.hypot takes any number: two batch here)
        raise ctx.fail(f"math.{ctx.call.fn.__name__} of {len(args)} arguments")
    _scalar(ctx, *args)
    nodes, _ = align(ctx, list(args))
    fn = ctx.expr(f"np.{ufunc.__name__}")
    return emit(ast.Call(ctx.expr("av__.math_fn"), [fn] + nodes, []), math_facts(ctx.call, args))


def floor_facts(call, x, **_) -> Val:
    """A Python int."""
    return Val(False, 0, Kind.ARRAY, "i", py=True) if _scalars(x) else UNKNOWN


@register(math.floor, math.ceil, math.trunc, traits="elementwise")
@infers(floor_facts)
def batch_floor(ctx, x, /) -> Operand:
    # math.floor/ceil/trunc return int (and raise for NaN/inf)
    _scalar(ctx, x)
    name = {math.floor: "floor", math.ceil: "ceil", math.trunc: "trunc"}[ctx.call.fn]
    if x.val.dtype in ("i", "u", "b"):
        return emit(ctx.expr("x.astype(np.int64)", x=x.node), floor_facts(ctx.call, x))
    return emit(ctx.expr(f"av__.to_int(np.{name}(x))", x=x.node), floor_facts(ctx.call, x))


def isnan_facts(call, x, **_) -> Val:
    """A bool."""
    return array(False, 0, "b") if _scalars(x) else UNKNOWN


@register(math.isnan, math.isinf, math.isfinite, traits="elementwise quiet")
@infers(isnan_facts)
def batch_isnan(ctx, x, /) -> Operand:
    _scalar(ctx, x)
    return emit(ctx.expr(f"np.{ctx.call.fn.__name__}(x)", x=x.node), isnan_facts(ctx.call, x))
