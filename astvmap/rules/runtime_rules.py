"""Rules for the `av__` helpers, so that generated code can itself be batched again (nested vmap):
a batched first argument carries one more leading batch axis, so each helper's per-example "lead"
count grows by one.
"""

from __future__ import annotations

import ast
import math

from .. import runtime
from ..kit import templates
from .common import align, out, result_kind, static
from .elementwise import PY_CHECKED
from .registry import register
from .values import NO_STATIC, UNKNOWN, Kind, Operand, Val, container


@register(runtime.batch_broadcast)
def batch_batch_broadcast(ctx, v, B) -> Operand:
    # per outer example: v (*s) -> (B, *s); batched: (Bo, *s) -> (Bo, B, *s)
    if B.batched:
        raise ctx.fail("an inner batch size that differs between outer examples")
    if not v.batched:
        return out(
            ctx.call.rebuild([v.node, B.node], {}), False, None if v.val.ndim is None else v.val.ndim + 1
        )
    if v.val.kind not in (Kind.ARRAY, Kind.SCALAR):
        raise ctx.fail("repeating a batched container")
    node = ctx.expr("np.repeat(np.expand_dims(v, 1), n, axis=1)", v=v.node, n=B.node)
    return out(node, True, None if v.val.ndim is None else v.val.ndim + 1, v.val.dtype)


@register(runtime.flatten)
def batch_flatten(ctx, x) -> Operand:
    # per outer example: (Bi, *s) -> (Bi, prod(s)); batched: keep two leading axes
    node = ctx.expr("x.reshape(x.shape[:2] + (-1,)) if x.size else x.reshape(x.shape[:2] + (0,))", x=x.node)
    if x.val.ndim is not None and x.val.ndim >= 1:
        node = ctx.expr("av__.flatten_lead(x, 2)", x=x.node)
    return out(node, True, 2 if x.val.ndim is not None else None, x.val.dtype)


@register(runtime.example_size)
def batch_example_size(ctx, x) -> Operand:
    return Operand(
        ctx.expr("av__.example_size(x[0]) if len(x) else av__.prod(x.shape[2:])", x=x.node),
        Val(False, 0, Kind.SCALAR, "i"),
    )


@register(runtime.window)
def batch_window(ctx, x, start, length, axis=None, batched=None) -> Operand:
    # windows of a batched array at starts shared by the examples: the same windows, one axis further
    if start.batched or length.batched or batched is not None or (axis is not None and not axis.is_static):
        raise ctx.fail("windows whose starts differ between examples of an enclosing vmap")
    ax = 0 if axis is None else axis.static
    node = ctx.expr("av__.window(x, i, n, axis=k)", x=x.node, i=start.node, n=length.node, k=ax + 1)
    nd = None if x.val.ndim is None or start.val.ndim is None else x.val.ndim + start.val.ndim
    return out(node, True, nd, x.val.dtype)


@register(runtime.shift_axis)
def batch_shift_axis(ctx, axis) -> Operand:
    raise ctx.fail("an axis that differs between examples")


@register(runtime.enters)
def batch_enters(ctx, mask) -> Operand:
    # a guard: "does any lane take this branch?", asked of each enclosing example. One example's lanes
    # borrow only from its own lanes (lanes_like_active), so an example none of whose lanes takes the
    # branch must skip it: the guard is a per-example test, and the enclosing rewrite makes its `if` a
    # batched one (those examples borrow a whole example that enters)
    if not mask.batched:
        return Operand(ctx.call.rebuild([mask.node], {}), Val(False, 0, Kind.SCALAR, "b"))
    return out(ctx.expr("av__.enters_each(m)", m=mask.node), True, 0, "b")


@register(runtime.enters_each)
def batch_enters_each(ctx, mask) -> Operand:
    # the test over the last (lane) axis, whatever the leading ones: the same call
    rank = None if mask.val.ndim is None else mask.val.ndim - 1
    return out(ctx.call.rebuild([mask.node], {}), mask.batched, rank, "b")


# the checked helpers of Python's operators (rules/elementwise.py emits them), helper -> operator
_PY_OPERATOR = {getattr(runtime, name): op for op, name in PY_CHECKED.items()}


@register(*_PY_OPERATOR)
def batch_python_arithmetic(ctx, a, b) -> Operand:
    # elementwise, its checks too (each compares an element with its own operands): the same call on
    # (Bo, ...) after aligning ranks; the result stays a Python number per example
    nodes, ndim = align(ctx, [a, b])
    op = _PY_OPERATOR[ctx.call.fn]
    return out(ctx.call.rebuild(nodes, {}), True, ndim, result_kind(op, [a, b]), py=a.val.py or b.val.py)


@register(runtime.py_divmod)
def batch_python_divmod(ctx, a, b) -> Operand:
    nodes, ndim = align(ctx, [a, b])
    elt = Val(True, ndim, Kind.ARRAY, py=True)
    return Operand(ctx.call.rebuild(nodes, {}), Val(True, None, Kind.TUPLE, None, (elt, elt)))


@register(runtime.weak)
def batch_weak(ctx, column) -> Operand:
    # a mark on the array, whatever its batch axes: the same call
    return out(ctx.call.rebuild([column.node], {}), column.batched, column.val.ndim, column.val.dtype)


# ---- helpers of a batch's own axes: under an enclosing vmap they carry one more leading batch axis ------
def _lead(ctx, lead, default: int = 1) -> int:
    """The batch axes a helper call already skips (its `lead=`)."""
    value = static(lead, default)
    if not isinstance(value, int):
        raise ctx.fail("a helper's batch axes not known when the code is rewritten")
    return value


def _same(ctx, args: list, kwargs: dict, val: Val, batched: bool) -> Operand:
    """The helper's call with these operand nodes and keywords (`lead=` among them when batched)."""
    return Operand(ctx.call.rebuild(args, kwargs), val.with_(batched=batched))


def _unbatched(ctx, *ops) -> None:
    if any(op is not None and op.batched for op in ops):
        raise ctx.fail("a helper argument that differs between examples (a shape, an index, an axis)")


@register(runtime.reshape)
def batch_reshape(ctx, x, shape, order=None, lead=None) -> Operand:
    _unbatched(ctx, shape, order)
    n = _lead(ctx, lead)
    known = static(shape)
    rank = None if known is NO_STATIC else n + (1 if isinstance(known, int) else len(known))
    kw = {} if order is None else {"order": order.node}
    val = Val(False, rank, Kind.ARRAY, x.val.dtype)
    if not x.batched:
        return _same(
            ctx, [x.node, shape.node], {**kw, **({} if lead is None else {"lead": lead.node})}, val, False
        )
    return _same(ctx, [x.node, shape.node], {**kw, "lead": ast.Constant(n + 1)}, val, True)


@register(runtime.squeeze)
def batch_squeeze(ctx, x, lead=None) -> Operand:
    n = _lead(ctx, lead)
    val = Val(False, None, Kind.ARRAY, x.val.dtype)
    return _same(ctx, [x.node], {"lead": ast.Constant(n + x.batched)}, val, x.batched)


@register(runtime.flatten_lead)
def batch_flatten_lead(ctx, x, lead) -> Operand:
    n = _lead(ctx, lead)
    val = Val(False, n + 1, Kind.ARRAY, x.val.dtype)
    return _same(ctx, [x.node, ast.Constant(n + x.batched)], {}, val, x.batched)


@register(runtime.getitem)
def batch_getitem(ctx, x, index, lead=None) -> Operand:
    _unbatched(ctx, index)
    n = _lead(ctx, lead)
    val = Val(False, None, Kind.ARRAY, x.val.dtype)
    return _same(ctx, [x.node, index.node], {"lead": ast.Constant(n + x.batched)}, val, x.batched)


@register(runtime.getitem_any)
def batch_getitem_any(ctx, x, index, lead=None) -> Operand:
    # a tuple of stacked arrays (each carries the enclosing batch axis too) or one stacked array
    _unbatched(ctx, index)
    n = _lead(ctx, lead)
    val = Val(False, None, Kind.OTHER)
    return _same(ctx, [x.node, index.node], {"lead": ast.Constant(n + x.batched)}, val, x.batched)


_MASKED_KIND = {"any": "b", "all": "b", "count_nonzero": "i"}


@register(runtime.masked_reduce)
def batch_masked_reduce(ctx, x, mask, name, lead=None) -> Operand:
    # np.<name>(x[mask]) per lane: both carry every batch axis, the reduction skips one more
    _unbatched(ctx, name)
    n = _lead(ctx, lead)
    reducer = static(name)
    kind = x.val.dtype
    if reducer in _MASKED_KIND:
        kind = _MASKED_KIND[reducer]
    elif reducer == "mean" and kind in ("b", "i", "u"):
        kind = "f"
    elif reducer in ("sum", "prod") and kind == "b":
        kind = "i"
    val = Val(False, n, Kind.ARRAY, kind)
    if not (x.batched or mask.batched):
        return _same(ctx, [x.node, mask.node, name.node], {"lead": ast.Constant(n)}, val, False)
    nodes = [_spread(ctx, op) for op in (x, mask)]
    return _same(ctx, nodes + [name.node], {"lead": ast.Constant(n + 1)}, val, True)


def _spread(ctx, op) -> ast.expr:
    """An operand as a value of the enclosing batch (repeated over it when it is not one)."""
    return ctx.promote(op, op.val.with_(batched=True)).node


@register(runtime.arg_flat)
def batch_arg_flat(ctx, fn, x, keepdims, lead=None) -> Operand:
    _unbatched(ctx, fn, keepdims)
    n = _lead(ctx, lead)
    keep = static(keepdims)
    rank = None if keep is NO_STATIC else (x.val.ndim if keep else n)
    val = Val(False, rank, Kind.ARRAY, "i")
    return _same(ctx, [fn.node, x.node, keepdims.node], {"lead": ast.Constant(n + x.batched)}, val, x.batched)


@register(runtime.diag_matrix)
def batch_diag_matrix(ctx, v, k=None) -> Operand:
    # (..., n) -> (..., m, m) whatever the leading axes: the same call
    _unbatched(ctx, k)
    val = Val(False, None if v.val.ndim is None else v.val.ndim + 1, Kind.ARRAY, v.val.dtype)
    return _same(ctx, [v.node] + ([] if k is None else [k.node]), {}, val, v.batched)


@register(runtime.rows)
def batch_rows(ctx, values, B, lead=None) -> Operand:
    _unbatched(ctx, B)
    n = _lead(ctx, lead)
    val = Val(False, values.val.ndim, Kind.ARRAY, values.val.dtype)
    return _same(ctx, [values.node, B.node], {"lead": ast.Constant(n + values.batched)}, val, values.batched)


@register(runtime.stack)
def batch_stack(ctx, items, B, axis=None) -> Operand:
    # np.array of a list of (B, ...) values: stacked one axis further; every item then carries the
    # enclosing batch (one that does not is repeated over it)
    _unbatched(ctx, B, axis)
    a = _lead(ctx, axis)
    elts = items.val.elts
    if elts is None:
        raise ctx.fail("a helper's list of unknown length")
    ranks = {e.ndim for e in elts}
    dtypes = {e.dtype for e in elts}
    val = Val(
        False,
        None if len(ranks) != 1 or None in ranks else ranks.pop() + 1,
        Kind.ARRAY,
        dtypes.pop() if len(dtypes) == 1 else None,
    )
    if not items.batched:
        kw = {} if axis is None else {"axis": axis.node}
        return _same(ctx, [items.node, B.node], kw, val, False)
    parts = [_spread(ctx, Operand(templates.index(items.node, [i]), e)) for i, e in enumerate(elts)]
    node = ctx.expr(
        "av__.stack(xs, B, axis=k)", xs=ast.List(parts, ast.Load()), B=B.node, k=ast.Constant(a + 1)
    )
    return Operand(node, val.with_(batched=True))


@register(runtime.align)
def batch_align(ctx, values, batched, lead=None) -> Operand:
    # rank alignment of the inner lanes: a value carrying the enclosing batch too skips one more axis
    flags = static(batched)
    elts = values.val.elts
    if flags is NO_STATIC or elts is None:
        raise ctx.fail("rank alignment of values not known when the code is rewritten")
    leads = tuple(int(f) for f in flags) if lead is None else static(lead)
    if leads is NO_STATIC:
        raise ctx.fail("rank alignment of values not known when the code is rewritten")
    new = tuple(n + e.batched for n, e in zip(leads, elts))
    parts = tuple(Val(e.batched, None, Kind.ARRAY, e.dtype) if f else e for e, f in zip(elts, flags))
    node = ctx.call.rebuild([values.node, batched.node], {"lead": templates.const(new)})
    return Operand(node, container(Kind.TUPLE, parts))


@register(runtime.move_tree)
def batch_move_tree(ctx, tree, axes, lead=None) -> Operand:
    # a container argument's mapped leaves: under an enclosing batch each leaf carries it first
    _unbatched(ctx, axes)
    n = _lead(ctx, lead, 0)
    if tree.batched and not _all_batched(tree.val):
        raise ctx.fail("a container argument some of whose leaves carry the enclosing batch")
    return _same(
        ctx, [tree.node, axes.node], {"lead": ast.Constant(n + tree.batched)}, tree.val, tree.batched
    )


def _all_batched(v: Val) -> bool:
    if v.elts is not None:
        return all(_all_batched(e) for e in v.elts)
    return v.batched


# ---- per-example numbers and math -------------------------------------------------------------------------
@register(runtime.to_int, runtime.to_round)
def batch_to_int(ctx, x, ndigits=None) -> Operand:
    # elementwise, its checks too: the same call on every lane of every enclosing example
    _unbatched(ctx, ndigits)
    kind = "i" if ndigits is None or static(ndigits) is None else x.val.dtype
    nodes = [x.node] + ([] if ndigits is None else [ndigits.node])
    return out(ctx.call.rebuild(nodes, {}), x.batched, x.val.ndim, kind)


@register(runtime.math_fn)
def batch_math_fn(ctx, fn, *args) -> Operand:
    _unbatched(ctx, fn)
    nodes, ndim = align(ctx, list(args))
    return out(ctx.call.rebuild([fn.node, *nodes], {}), any(a.batched for a in args), ndim, "f")


@register(runtime.prod_rows)
def batch_prod_rows(ctx, x, start=None) -> Operand:
    # the product along the last axis, whatever the leading ones: the same call
    _unbatched(ctx, start)
    nodes = [x.node] + ([] if start is None else [start.node])
    rank = None if x.val.ndim is None else x.val.ndim - 1
    return out(ctx.call.rebuild(nodes, {}), x.batched, rank, None)


@register(math.prod)
def batch_math_prod(ctx, iterable, start=None) -> Operand:
    # math.prod of a per-example vector: its elements multiplied in order from `start`, as Python does
    _unbatched(ctx, start)
    v = iterable.val
    if not iterable.batched:
        return Operand(
            ctx.call.rebuild([iterable.node] + ([] if start is None else [start.node]), {}), UNKNOWN
        )
    if v.kind != Kind.ARRAY or v.ndim != 1 or v.py:
        raise ctx.fail("math.prod of a per-example value that is not a NumPy vector")
    node = ctx.expr("av__.prod_rows(x)", x=iterable.node)
    if start is not None:
        node = ctx.expr("av__.prod_rows(x, s)", x=iterable.node, s=start.node)
    return out(node, True, 0, None)  # (an empty vector's product is `start`, of its own type)


# ---- values that must be the same for every example ------------------------------------------------------
@register(runtime.as_shape, runtime.shift_perm)
def batch_static_tuple(ctx, value) -> Operand:
    # a `size=` or a permutation: per-example values of different sizes would give ragged results
    _unbatched(ctx, value)
    return Operand(ctx.call.rebuild([value.node], {}), Val(False, None, Kind.TUPLE))
