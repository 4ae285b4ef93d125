"""Array creation: `*_like`, `np.array`/`asarray` of batched values and of lists, `full` with a batched
fill value. Creation from unbatched shapes never reaches a rule (NOTE [unbatched stays unbatched]); the
rules still report the rank of what they make.
"""

from __future__ import annotations

import ast

import numpy as np

from ..kit import templates
from .common import NO_STATIC, kw_nodes, out, static
from .registry import register
from .values import FRESH_ROWS, Kind, Operand, list_item


def _shape_ndim(shape) -> int | None:
    value = static(shape)
    if isinstance(value, (int, np.integer)):
        return 1
    if isinstance(value, tuple):
        return len(value)
    if isinstance(shape, Operand) and shape.val.kind == Kind.TUPLE and shape.val.elts is not None:
        return len(shape.val.elts)
    if isinstance(shape, Operand) and shape.val.kind in (Kind.SCALAR, Kind.ARRAY) and shape.val.ndim == 0:
        return 1  # one computed length, `np.zeros(len(x) - k + 1)`
    return None


def _dtype_kind(dtype):
    value = static(dtype)
    if value is NO_STATIC or value is None:
        return None
    try:
        return np.dtype(value).kind
    except TypeError:
        return None


@register(np.zeros, np.ones, np.empty)
def batch_zeros(ctx, shape, dtype=None, **kwargs) -> Operand:
    if shape.batched:
        raise ctx.fail("an array whose shape differs between examples")
    kind = _dtype_kind(dtype) or "f"
    return out(
        ctx.call.rebuild([shape.node] + ([dtype.node] if dtype else []), kw_nodes(kwargs)),
        False,
        _shape_ndim(shape),
        kind,
    )


@register(np.full)
def batch_full(ctx, shape, fill_value, dtype=None, **kwargs) -> Operand:
    # full(shape, v) with a batched fill value -> full((B, *shape), v aligned)
    if shape.batched:
        raise ctx.fail("an array whose shape differs between examples")
    nd = _shape_ndim(shape)
    if not fill_value.batched:
        return out(
            ctx.call.rebuild(
                [shape.node, fill_value.node] + ([dtype.node] if dtype else []), kw_nodes(kwargs)
            ),
            False,
            nd,
            _dtype_kind(dtype) or fill_value.val.dtype,
        )
    if nd is None or fill_value.val.ndim is None:
        raise ctx.fail("np.full with a batched fill value and a shape of unknown rank")
    value = static(shape)
    dims = [ctx.batch_size()] + (
        [templates.const(value)]
        if isinstance(value, int)
        else [templates.const(v) for v in value]
        if isinstance(value, tuple)
        else [shape.node]
        if shape.val.kind in (Kind.SCALAR, Kind.ARRAY) and shape.val.ndim == 0  # one computed length
        else [ast.Starred(shape.node, ast.Load())]
    )
    fill = templates.batch_slice_prefix(fill_value.node, nd - fill_value.val.ndim)
    args = [ast.Tuple(dims, ast.Load()), fill] + ([dtype.node] if dtype else [])
    return out(ctx.call.rebuild(args, kw_nodes(kwargs)), True, nd, _dtype_kind(dtype) or fill_value.val.dtype)


@register(np.zeros_like, np.ones_like, np.empty_like)
def batch_like(ctx, a, dtype=None, *args, **kwargs) -> Operand:
    # (B, *s) -> (B, *s): the same call
    if "shape" in kwargs:
        raise ctx.fail("*_like with shape=")
    return out(
        ctx.call.rebuild(
            [a.node] + ([dtype.node] if dtype else []) + [x.node for x in args], kw_nodes(kwargs)
        ),
        a.batched,
        a.val.ndim,
        _dtype_kind(dtype) or a.val.dtype,
    )


@register(np.full_like)
def batch_full_like(ctx, a, fill_value, dtype=None, **kwargs) -> Operand:
    if "shape" in kwargs:
        raise ctx.fail("full_like with shape=")
    if not a.batched and fill_value.batched:
        raise ctx.fail("full_like of an unbatched array with a batched fill value")
    nodes = [a.node, fill_value.node]
    if fill_value.batched:
        if a.val.ndim is None or fill_value.val.ndim is None:
            raise ctx.fail("full_like of unknown rank")
        nodes[1] = templates.batch_slice_prefix(fill_value.node, a.val.ndim - fill_value.val.ndim)
    return out(
        ctx.call.rebuild(nodes + ([dtype.node] if dtype else []), kw_nodes(kwargs)),
        a.batched,
        a.val.ndim,
        _dtype_kind(dtype) or a.val.dtype,
    )


@register(np.arange, np.linspace, np.logspace, np.eye, np.identity)
def batch_range_like(ctx, *args, **kwargs) -> Operand:
    # their sizes must be the same for every example
    if any(a.batched for a in list(args) + list(kwargs.values())):
        fn = ctx.call.fn
        if (
            fn in (np.linspace, np.logspace)
            and len(args) >= 3
            and not args[2].batched
            and "num" not in kwargs
        ):
            return _batched_linspace(ctx, *args, **kwargs)
        raise ctx.fail(f"{ctx.call.fn.__name__} whose size differs between examples")
    nd = 2 if ctx.call.fn in (np.eye, np.identity) else 1
    kind = "f" if ctx.call.fn not in (np.arange,) else None
    return out(ctx.call.rebuild([a.node for a in args], kw_nodes(kwargs)), False, nd, kind)


def _batched_linspace(ctx, start, stop, num, *rest, **kwargs):
    # linspace(start, stop, n) with per-example scalar endpoints -> axis=-1 after the batch: (B, n)
    if rest or set(kwargs) - {"endpoint", "dtype"}:
        raise ctx.fail("linspace with options")
    if (start.val.ndim or 0) != 0 or (stop.val.ndim or 0) != 0:
        raise ctx.fail("linspace with array endpoints")
    node = ctx.call.rebuild(
        [start.node, stop.node, num.node], {**kw_nodes(kwargs), "axis": templates.const(-1)}
    )
    return out(node, True, 1, "f")


@register(np.array, np.asarray, np.asanyarray, np.ascontiguousarray)
def batch_array(ctx, obj, dtype=None, *args, **kwargs) -> Operand:
    # a batched array: the same call; a list of per-example values -> stacked along per-example axis 0
    extra = ([dtype.node] if dtype is not None else []) + [a.node for a in args]
    kind = _dtype_kind(dtype)
    v = obj.val
    if v.kind == Kind.ARRAY and v.obj == FRESH_ROWS and not extra and not kwargs:
        return out(obj.node, True, v.ndim, v.dtype)  # a vectorized loop's fresh rows: no copy
    if v.kind == Kind.ARRAY:
        return out(
            ctx.call.rebuild([obj.node] + extra, kw_nodes(kwargs)), obj.batched, v.ndim, kind or v.dtype
        )
    if v.kind not in (Kind.LIST, Kind.TUPLE):
        if obj.batched:
            raise ctx.fail(f"np.array of a batched {v.kind.value}")
        return out(ctx.call.rebuild([obj.node] + extra, kw_nodes(kwargs)), False, None, kind)
    if not obj.batched:
        item = list_item(v)
        nd = (
            None
            if item is None or item.ndim is None or item.kind not in (Kind.ARRAY, Kind.SCALAR)
            else item.ndim + 1
        )
        return out(ctx.call.rebuild([obj.node] + extra, kw_nodes(kwargs)), False, nd, kind)
    if args or (set(kwargs) - {"copy"} and not (set(kwargs) <= {"dtype"})):
        raise ctx.fail("np.array of batched values with options")
    dtype_kw = {} if dtype is None else {"dtype": dtype.node}
    if "dtype" in kwargs:
        dtype_kw = {"dtype": kwargs["dtype"].node}
        kind = _dtype_kind(kwargs["dtype"])
    if v.elts is not None and (isinstance(obj.node, (ast.List, ast.Tuple))):
        # [a, b, c] with some batched: stack per element (nested displays too), unbatched ones repeated
        node, nd = _stack_display(ctx, obj)
        if dtype_kw:
            node = ctx.expr("x.astype(d)", x=node, d=dtype_kw["dtype"])
        return out(node, True, nd, kind)
    item = list_item(v)
    if item is None or not item.batched or any(not e.batched for e in v.elts or ()):
        raise ctx.fail("np.array of a list mixing batched and unbatched values")
    node = ctx.expr("av__.stack(xs, B)", xs=obj.node, B=ctx.batch_size())
    if dtype_kw:
        node = ctx.expr("av__.stack(xs, B).astype(d)", xs=obj.node, B=ctx.batch_size(), d=dtype_kw["dtype"])
    return out(node, True, None if item.ndim is None else item.ndim + 1, kind or item.dtype)


def _display_rank(op: Operand):
    v = op.val
    if v.kind in (Kind.LIST, Kind.TUPLE):
        if v.elts is None or not v.elts:
            return None
        ranks = {_display_rank(Operand(op.node, e)) for e in v.elts}
        return None if len(ranks) != 1 or None in ranks else ranks.pop() + 1
    return 0 if v.kind == Kind.SCALAR else v.ndim


def _stack_display(ctx, op: Operand):
    """(node, per-example rank) of `np.array(display)` for a list/tuple display holding batched values.

    Items are stacked along per-example axis 0 (axis 1 of the batch); unbatched items are repeated over
    the batch first. `np.array([1.5, x_f32])` is float64 per example, and so is the stack of a float32
    batch with a float64 repeat: dtypes agree with the loop."""
    v = op.val
    if not (
        isinstance(op.node, (ast.List, ast.Tuple)) and v.elts is not None and len(op.node.elts) == len(v.elts)
    ):
        raise ctx.fail("np.array of a sequence whose items are not written out")
    items = [Operand(n, e) for n, e in zip(op.node.elts, v.elts)]
    if not items:
        raise ctx.fail("np.array of an empty display")
    nodes, ranks = [], set()
    for it in items:
        if it.batched and it.val.kind in (Kind.LIST, Kind.TUPLE):
            node, r = _stack_display(ctx, it)
        elif it.batched:
            node, r = it.node, it.val.ndim
        else:
            r = _display_rank(it)
            node = ctx.expr(
                "av__.batch_broadcast(np.array(x), B)"
                if it.val.kind in (Kind.LIST, Kind.TUPLE)
                else "av__.batch_broadcast(x, B)",
                x=it.node,
                B=ctx.batch_size(),
            )
        ranks.add(r)
        nodes.append(node)
    if None in ranks or len(ranks) != 1:
        raise ctx.fail(
            "np.array of items of different or unknown ranks (the loop may raise or build objects)"
        )
    return ctx.expr("np.stack(xs, axis=1)", xs=ast.List(nodes, ast.Load())), ranks.pop() + 1
