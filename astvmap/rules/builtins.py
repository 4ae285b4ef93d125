"""Python builtins and `math`, with their own semantics (DESIGN "Traps"): `max(1, nan)` is 1,
`round` and `math.floor` return int, `math.sqrt(-1)` raises, `int(nan)` raises.
"""

from __future__ import annotations

import ast
import builtins
import math

from ..pynum import MATH_UFUNCS
from .common import align, out
from .registry import register
from .values import Kind, Operand, Val


def _scalar(ctx, *ops):
    for o in ops:
        if o.val.kind not in (Kind.ARRAY, Kind.SCALAR) or o.val.ndim != 0:
            raise ctx.fail("a Python builtin applied to a per-example array")


@register(float)
def batch_float(ctx, x=None) -> Operand:
    # float(x) of per-example scalars: float64 (Python floats stack to float64)
    if x is None:
        return out(ctx.call.rebuild([], {}), False, 0, "f")
    _scalar(ctx, x)
    if x.val.dtype == "c":
        raise ctx.error("float() of a complex value: the loop raises TypeError")
    return out(ctx.expr("x.astype(np.float64)", x=x.node), True, 0, "f", py=True)


@register(complex)
def batch_complex(ctx, x=None, y=None) -> Operand:
    if x is None or y is not None:
        raise ctx.fail("complex() with two arguments")
    _scalar(ctx, x)
    return out(ctx.expr("x.astype(np.complex128)", x=x.node), True, 0, "c", py=True)


@register(bool)
def batch_bool(ctx, x=None) -> Operand:
    if x is None:
        return out(ctx.call.rebuild([], {}), False, 0, "b")
    _scalar(ctx, x)
    return out(ctx.expr("x.astype(bool)", x=x.node), True, 0, "b", py=True)


@register(int)
def batch_int(ctx, x=None, base=None) -> Operand:
    # int(x) truncates toward zero and raises for NaN/inf, as Python does
    if x is None:
        return out(ctx.call.rebuild([], {}), False, 0, "i")
    if base is not None:
        raise ctx.fail("int() with a base")
    _scalar(ctx, x)
    return out(ctx.expr("av__.to_int(x)", x=x.node), True, 0, "i", py=True)


@register(round)
def batch_round(ctx, x, ndigits=None) -> Operand:
    # round(x) -> int (half to even); round(x, n) -> same dtype
    _scalar(ctx, x)
    if ndigits is None:
        return out(ctx.expr("av__.to_round(x)", x=x.node), True, 0, "i", py=True)
    if ndigits.batched:
        raise ctx.fail("round() with per-example digits")
    return out(ctx.expr("np.round(x, n)", x=x.node, n=ndigits.node), True, 0, x.val.dtype)


def _minmax(ctx, args, kwargs, py_fn, cmp):
    if kwargs:
        raise ctx.fail(f"{py_fn.__name__}() with key= or default=")
    if len(args) == 1:
        a = args[0]
        v = a.val
        if a.batched and v.kind == Kind.ARRAY and v.ndim is not None and v.ndim >= 1:
            # max(x) iterates the per-example axis 0; the first maximum wins, as in Python
            name = "py_max" if py_fn is builtins.max else "py_min"
            return out(ctx.expr(f"av__.{name}(x)", x=a.node), True, v.ndim - 1, v.dtype)
        if v.kind in (Kind.LIST, Kind.TUPLE) and v.elts is not None:
            args = (
                [Operand(n, e) for n, e in zip(a.node.elts, v.elts)]
                if isinstance(a.node, (ast.List, ast.Tuple))
                else None
            )
            if args is None:
                raise ctx.fail(f"{py_fn.__name__}() of a sequence")
        else:
            raise ctx.fail(f"{py_fn.__name__}() of a batched iterable")
    _scalar(ctx, *args)
    # max(a, b, ...) keeps the first of equal values and ignores NaN in later positions: a fold of
    # `b if b > best else best`, exactly Python's rule
    best = args[0]
    for nxt in args[1:]:
        (bn, nn), _ = align(ctx, [best, nxt])
        node = ctx.expr(f"np.where(n {cmp} b, n, b)", n=nn, b=bn)
        best = out(node, True, 0, None)
    return best


@register(max)
def batch_max(ctx, *args, **kwargs) -> Operand:
    return _minmax(ctx, args, kwargs, builtins.max, ">")


@register(min)
def batch_min(ctx, *args, **kwargs) -> Operand:
    return _minmax(ctx, args, kwargs, builtins.min, "<")


@register(sum)
def batch_sum(ctx, iterable, start=None) -> Operand:
    # sum() adds left to right starting at 0: over a batched array's rows, or a generator of batched
    # values, Python's own sum does exactly that lane by lane
    v = iterable.val
    if v.batched and v.kind == Kind.ARRAY:
        if v.ndim == 0:
            raise ctx.error("sum() of a per-example scalar: the loop raises TypeError (not iterable)")
        node = ctx.expr("sum(np.moveaxis(x, 1, 0))", x=iterable.node)
        if start is not None:
            node.args.append(start.node)
        return out(node, True, v.ndim - 1, v.dtype)
    item = v.item
    args = [iterable.node] + ([start.node] if start is not None else [])
    return out(
        ctx.call.rebuild(args, {}),
        True,
        None if item is None else item.ndim,
        None if item is None else item.dtype,
    )


@register(any, all)
def batch_any_all(ctx, iterable) -> Operand:
    # any(x) over a per-example vector: its truth values along axis 1; over batched items: a fold
    v = iterable.val
    fn = "any" if ctx.call.fn is builtins.any else "all"
    if v.batched and v.kind == Kind.ARRAY:
        if v.ndim != 1:
            raise ctx.fail(
                f"{fn}() over the rows of a per-example array (the loop takes each row's truth value)"
            )
        return out(ctx.expr(f"np.{fn}(x, axis=1)", x=iterable.node), True, 0, "b")
    item = v.item if v.item is not None else None
    if item is None or item.ndim != 0:
        raise ctx.fail(f"{fn}() of items that are not one value per example")
    return out(ctx.expr(f"av__.{fn}_of(x, B)", x=iterable.node, B=ctx.batch_size()), True, 0, "b")


@register(range)
def batch_range(ctx, *args) -> Operand:
    if any(a.batched for a in args):
        raise ctx.fail("a range whose length differs between examples needs the control-flow rewrite")
    return Operand(
        ctx.call.rebuild([a.node for a in args], {}),
        Val(False, None, Kind.LIST, item=Val(False, 0, Kind.SCALAR, "i")),
    )


@register(enumerate)
def batch_enumerate(ctx, iterable, start=None) -> Operand:
    v = iterable.val
    node = ctx.call.rebuild([iterable.node] + ([start.node] if start is not None else []), {})
    if v.batched and v.kind == Kind.ARRAY:
        node = ctx.call.rebuild(
            [ctx.expr("np.moveaxis(x, 1, 0)", x=iterable.node)] + ([start.node] if start is not None else []),
            {},
        )
        elt = Val(True, None if v.ndim is None else v.ndim - 1, Kind.ARRAY, v.dtype)
    else:
        from .values import list_item

        item = list_item(v) if v.kind in (Kind.LIST, Kind.TUPLE) else v.item
        if item is not None:
            elt = item
        elif v.kind == Kind.ARRAY:
            elt = Val(False, None if v.ndim is None else v.ndim - 1, Kind.ARRAY)
        else:
            elt = Val(False, None, Kind.OTHER)
    pair = Val(elt.batched, None, Kind.TUPLE, None, (Val(False, 0, Kind.SCALAR, "i"), elt))
    return Operand(node, Val(elt.batched, None, Kind.LIST, item=pair))


@register(zip)
def batch_zip(ctx, *iterables) -> Operand:
    from .values import list_item

    nodes, elts = [], []
    for it in iterables:
        v = it.val
        if v.batched and v.kind == Kind.ARRAY:
            nodes.append(ctx.expr("np.moveaxis(x, 1, 0)", x=it.node))
            elts.append(Val(True, None if v.ndim is None else v.ndim - 1, Kind.ARRAY, v.dtype))
        else:
            nodes.append(it.node)
            e = list_item(v) if v.kind in (Kind.LIST, Kind.TUPLE) else v.item
            if e is None and v.kind == Kind.ARRAY:
                e = Val(False, None if v.ndim is None else v.ndim - 1, Kind.ARRAY, v.dtype)
            elts.append(e or Val(False, None, Kind.OTHER))
    item = Val(any(e.batched for e in elts), None, Kind.TUPLE, None, tuple(elts))
    return Operand(ctx.call.rebuild(nodes, {}), Val(item.batched, None, Kind.LIST, item=item))


@register(isinstance)
def batch_isinstance(ctx, obj, cls) -> Operand:
    raise ctx.fail("isinstance() of a batched value (its type differs from one example's)")


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


@register(*[f for f in _MATH_FLOAT if f in MATH_UFUNCS])
def batch_math(ctx, *args) -> Operand:
    # math.f on per-example scalars: float64 results, ValueError/OverflowError where math raises
    ufunc = MATH_UFUNCS[ctx.call.fn]
    if len(args) != ufunc.nin:  # (math.hypot takes any number: two batch here)
        raise ctx.fail(f"math.{ctx.call.fn.__name__} of {len(args)} arguments")
    _scalar(ctx, *args)
    nodes, _ = align(ctx, list(args))
    fn = ctx.expr(f"np.{ufunc.__name__}")
    return out(ast.Call(ctx.expr("av__.math_fn"), [fn] + nodes, []), True, 0, "f", py=True)


@register(math.floor, math.ceil, math.trunc)
def batch_floor(ctx, x) -> Operand:
    # math.floor/ceil/trunc return int (and raise for NaN/inf)
    _scalar(ctx, x)
    name = {math.floor: "floor", math.ceil: "ceil", math.trunc: "trunc"}[ctx.call.fn]
    if x.val.dtype in ("i", "u", "b"):
        return out(ctx.expr("x.astype(np.int64)", x=x.node), True, 0, "i", py=True)
    return out(ctx.expr(f"av__.to_int(np.{name}(x))", x=x.node), True, 0, "i", py=True)


@register(math.isnan, math.isinf, math.isfinite)
def batch_isnan(ctx, x) -> Operand:
    _scalar(ctx, x)
    name = ctx.call.fn.__name__
    return out(ctx.expr(f"np.{name}(x)", x=x.node), True, 0, "b")
