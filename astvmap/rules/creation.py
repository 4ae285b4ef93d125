"""Array creation: `*_like`, `np.array`/`asarray` of batched values and of lists, `full` with a batched
fill value. Creation from unbatched shapes never reaches a rule (NOTE [unbatched stays unbatched]); the
rules still report the rank of what they make.
"""

from __future__ import annotations

import ast

import numpy as np

from ..errors import NotBatchable
from ..kit import templates
from .common import dtype_kind, emit, infers, options, rank, require_unbatched, respell, static
from .registry import register
from .values import UNKNOWN, Kind, Operand, Val, array, list_item


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


def _as_given(ctx) -> ast.expr:
    """The call exactly as written (a creation touching the batch only through an option)."""
    return respell(ctx, {})


def zeros_facts(call, shape, dtype=None, **_) -> Val:
    """A new array of the shape's length, float unless a dtype says otherwise."""
    return array(False, _shape_ndim(shape), dtype_kind(dtype, "f"))


@register(np.zeros, np.ones, np.empty, traits="fresh")
@infers(zeros_facts)
def batch_zeros(ctx, shape, dtype=None, order=None, *, device=None, like=None) -> Operand:
    if shape.batched:
        raise ctx.fail("an array whose shape differs between examples")
    return emit(_as_given(ctx), zeros_facts(ctx.call, shape, dtype), batched=False)


def full_facts(call, shape, fill_value, dtype=None, **_) -> Val:
    """A new array of the shape's length, of the fill value's kind unless a dtype says otherwise."""
    return array(False, _shape_ndim(shape), dtype_kind(dtype, fill_value.val.dtype))


@register(np.full, traits="fresh")
@infers(full_facts)
def batch_full(ctx, shape, fill_value, dtype=None, order=None, *, device=None, like=None) -> Operand:
    # full(shape, v) with a batched fill value -> full((B, *shape), v aligned)
    if shape.batched:
        raise ctx.fail("an array whose shape differs between examples")
    facts = full_facts(ctx.call, shape, fill_value, dtype)
    if not fill_value.batched:
        return emit(_as_given(ctx), facts, batched=False)
    nd = facts.ndim
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
    return emit(respell(ctx, {"shape": ast.Tuple(dims, ast.Load()), "fill_value": fill}), facts)


def like_facts(call, a=None, dtype=None, shape=None, prototype=None, **_) -> Val:
    """An array shaped as `a` (or `shape`), of its kind unless a dtype says otherwise."""
    a = prototype if a is None else a
    if shape is not None:
        return UNKNOWN  # refused by the rule
    return array(False, a.val.ndim, dtype_kind(dtype, a.val.dtype))


def _like(ctx, a, dtype, shape) -> Operand:
    # (B, *s) -> (B, *s): the same call
    if shape is not None:
        raise ctx.fail("*_like with shape=")
    return emit(_as_given(ctx), like_facts(ctx.call, a, dtype), batched=a.batched)


@register(np.zeros_like, np.ones_like, traits="quiet fresh")
@infers(like_facts)
def batch_like(ctx, a, dtype=None, order=None, subok=None, shape=None, *, device=None) -> Operand:
    return _like(ctx, a, dtype, shape)


@register(np.empty_like, traits="quiet fresh")
@infers(like_facts)
def batch_empty_like(ctx, prototype, /, dtype=None, order=None, subok=None, shape=None, *, device=None):
    return _like(ctx, prototype, dtype, shape)


@register(np.full_like, traits="fresh")
@infers(like_facts)
def batch_full_like(
    ctx, a, fill_value, dtype=None, order=None, subok=None, shape=None, *, device=None
) -> Operand:
    if shape is not None:
        raise ctx.fail("full_like with shape=")
    if not a.batched and fill_value.batched:
        raise ctx.fail("full_like of an unbatched array with a batched fill value")
    node = _as_given(ctx)
    if fill_value.batched:
        if a.val.ndim is None or fill_value.val.ndim is None:
            raise ctx.fail("full_like of unknown rank")
        fill = templates.batch_slice_prefix(fill_value.node, a.val.ndim - fill_value.val.ndim)
        node = respell(ctx, {"fill_value": fill})
    return emit(node, like_facts(ctx.call, a, dtype), batched=a.batched)


def _different_sizes(ctx) -> NotBatchable:
    return ctx.fail(f"{ctx.call.fn.__name__} whose size differs between examples")


def arange_facts(call, dtype=None, **_) -> Val:
    """A vector, of the kind a dtype says (else of the bounds' promotion: not known here)."""
    return array(False, 1, dtype_kind(dtype))


@register(np.arange, traits="fresh")
@infers(arange_facts)
def batch_arange(ctx, start_or_stop, /, stop=None, step=None, *, dtype=None, device=None, like=None):
    # reached only with a batched operand: a size per example
    raise _different_sizes(ctx)


def eye_facts(call, dtype=None, **_) -> Val:
    """A matrix, float unless a dtype says otherwise."""
    return array(False, 2, dtype_kind(dtype, "f"))


@register(np.eye, traits="fresh")
@infers(eye_facts)
def batch_eye(ctx, N, M=None, k=None, dtype=None, order=None, *, device=None, like=None) -> Operand:
    raise _different_sizes(ctx)


@register(np.identity, traits="fresh")
@infers(eye_facts)
def batch_identity(ctx, n, dtype=None, *, like=None) -> Operand:
    raise _different_sizes(ctx)


def linspace_facts(call, start, stop, dtype=None, retstep=None, **_) -> Val:
    """Scalar endpoints: a vector (with `retstep`, a pair); array endpoints add their axes. Float unless
    a dtype says otherwise."""
    if retstep is not None:
        return UNKNOWN
    ranks = [rank(start), rank(stop)]
    ndim = None if ranks[0] is None or ranks[1] is None else 1 + max(ranks[0], ranks[1])
    return array(False, ndim, dtype_kind(dtype, "f"))


def _spaced(ctx, start, stop, num, dtype) -> Operand:
    # linspace(start, stop, n) with per-example scalar endpoints -> axis=-1 after the batch: (B, n)
    others = options(ctx.call, "start", "stop", "num")
    if (num is not None and num.batched) or set(others) - {"endpoint", "dtype"}:
        raise _different_sizes(ctx)
    require_unbatched(ctx, **others)
    if (start.val.ndim or 0) != 0 or (stop.val.ndim or 0) != 0:
        raise ctx.fail("linspace with array endpoints")
    node = respell(ctx, {"axis": templates.const(-1)})
    return emit(node, linspace_facts(ctx.call, start, stop, dtype))


@register(np.linspace, traits="fresh")
@infers(linspace_facts)
def batch_linspace(
    ctx, start, stop, num=None, endpoint=None, retstep=None, dtype=None, axis=None, *, device=None
) -> Operand:
    return _spaced(ctx, start, stop, num, dtype)


@register(np.logspace, traits="fresh")
@infers(linspace_facts)
def batch_logspace(ctx, start, stop, num=None, endpoint=None, base=None, dtype=None, axis=None) -> Operand:
    return _spaced(ctx, start, stop, num, dtype)


def array_facts(call, a=None, dtype=None, ndmin=None, ndmax=None, object=None, **_) -> Val:
    """An array of the operand's rank (a list's: its items' plus one; `ascontiguousarray`: at least one)
    and kind, unless a dtype says otherwise (`ndmin`/`ndmax` leave the rank unknown)."""
    facts = _array_facts(object if a is None else a, dtype, ndmin, ndmax)
    if call.fn is np.ascontiguousarray and facts.ndim is not None:
        return facts.with_(ndim=max(facts.ndim, 1))
    return facts


def _array_facts(op, dtype, ndmin, ndmax) -> Val:
    """`np.array`'s facts for the operand `op`."""
    kind, v = dtype_kind(dtype), op.val
    if ndmin is not None or ndmax is not None:
        return array(False, None, kind)
    if v.kind == Kind.ARRAY:
        return array(False, v.ndim, dtype_kind(dtype, v.dtype))
    if v.kind not in (Kind.LIST, Kind.TUPLE):
        return array(False, None, kind)
    if op.batched and _display(op):
        return array(False, _display_rank(op), kind)
    item = list_item(v)
    if item is None or item.ndim is None or item.kind not in (Kind.ARRAY, Kind.SCALAR):
        return array(False, None, dtype_kind(dtype, item.dtype if op.batched and item is not None else None))
    return array(False, item.ndim + 1, dtype_kind(dtype, item.dtype if op.batched else None))


def _display(op: Operand) -> bool:
    """A list or tuple written out in the code, its items known."""
    return op.val.elts is not None and isinstance(op.node, (ast.List, ast.Tuple))


def _array(ctx, obj, dtype) -> Operand:
    # a batched array: the same call; a list of per-example values -> stacked along per-example axis 0
    # the operand is `object` of np.array, `a` of the others (NOTE [arguments by parameter], rules/common.py)
    others = options(ctx.call, "object", "a")
    facts = array_facts(ctx.call, obj, dtype, **{k: v for k, v in others.items() if k in ("ndmin", "ndmax")})
    v = obj.val
    if facts.ndim != v.ndim and v.kind == Kind.ARRAY:
        raise ctx.fail("ascontiguousarray of a per-example scalar (a vector per example)")
    if v.kind == Kind.ARRAY and v.fresh_rows and not others:
        return emit(obj.node, facts)  # a vectorized loop's fresh rows: no copy
    if v.kind not in (Kind.LIST, Kind.TUPLE) and obj.batched and v.kind != Kind.ARRAY:
        raise ctx.fail(f"np.array of a batched {v.kind.value}")
    if any(o.batched for o in others.values()):
        raise ctx.fail("np.array with options that differ between examples")
    if v.kind == Kind.ARRAY or not obj.batched:
        return emit(_as_given(ctx), facts, batched=obj.batched)
    if set(others) - {"dtype", "copy"}:
        raise ctx.fail("np.array of batched values with options")
    if _display(obj):
        # [a, b, c] with some batched: stack per element (nested displays too), unbatched ones repeated
        node, nd = _stack_display(ctx, obj)
        node = node if dtype is None else ctx.expr("x.astype(d)", x=node, d=dtype.node)
        return emit(node, facts.with_(ndim=nd))
    item = list_item(v)
    if item is None or not item.batched or any(not e.batched for e in v.elts or ()):
        raise ctx.fail("np.array of a list mixing batched and unbatched values")
    if item.kind in (Kind.LIST, Kind.TUPLE):  # (lists of lists: each stacked per example first)
        raise ctx.fail("np.array of a list of sequences of per-example values")
    node = ctx.expr("av__.stack(xs, B)", xs=obj.node, B=ctx.batch_size())
    node = node if dtype is None else ctx.expr("x.astype(d)", x=node, d=dtype.node)
    return emit(node, facts)


@register(np.array, traits="shaped")
@infers(array_facts)
def batch_array(
    ctx, object, dtype=None, *, copy=None, order=None, subok=None, ndmin=None, ndmax=None, like=None
) -> Operand:
    return _array(ctx, object, dtype)


@register(np.asarray, np.asanyarray, traits="shaped")
@infers(array_facts)
def batch_asarray(ctx, a, dtype=None, order=None, *, device=None, copy=None, like=None) -> Operand:
    return _array(ctx, a, dtype)


@register(np.ascontiguousarray, traits="shaped")
@infers(array_facts)
def batch_ascontiguousarray(ctx, a, dtype=None, *, like=None) -> Operand:
    return _array(ctx, a, dtype)


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
