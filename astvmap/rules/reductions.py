"""Reductions and scans over per-example axes.

Shape cases: (B, *s), axis=k -> reduce over k+1 (negative k unchanged); axis=None -> over every
per-example axis (never the batch axis); argmin/argmax/cumsum with axis=None flatten each example.
"""

from __future__ import annotations

import numpy as np

from .common import (
    NO_STATIC,
    axes_tuple,
    dtype_kind,
    emit,
    infers,
    options,
    out,
    refuse_out,
    respell,
    shift_axis,
    static,
)
from .registry import register
from .values import UNKNOWN, Kind, Operand, Val, array, container

_BOOL = {np.any, np.all, np.ndarray.any, np.ndarray.all}
_FLOAT = {
    np.mean,
    np.std,
    np.var,
    np.nanmean,
    np.nanstd,
    np.nanvar,
    np.median,
    np.nanmedian,
    np.average,
    np.ndarray.mean,
    np.ndarray.std,
    np.ndarray.var,
}
_SPREAD = {np.std, np.var, np.nanstd, np.nanvar, np.ndarray.std, np.ndarray.var}
_INT_PROMOTING = {np.sum, np.prod, np.nansum, np.nanprod, np.ndarray.sum, np.ndarray.prod}


def _dtype(fn, kind):
    if fn in _BOOL:
        return "b"
    if fn is np.count_nonzero:
        return "i"
    if fn in _SPREAD:
        return "f" if kind is not None else None  # (of complex values too)
    if fn in _FLOAT:
        return "c" if kind == "c" else "f" if kind is not None else None
    if fn in _INT_PROMOTING and kind in ("b", "i", "u"):
        return "i" if kind in ("b", "i") else "u"
    return kind


_MASKED = {
    np.sum: "sum",
    np.ndarray.sum: "sum",
    np.prod: "prod",
    np.ndarray.prod: "prod",
    np.mean: "mean",
    np.ndarray.mean: "mean",
    np.max: "max",
    np.amax: "max",
    np.ndarray.max: "max",
    np.min: "min",
    np.amin: "min",
    np.ndarray.min: "min",
    np.any: "any",
    np.ndarray.any: "any",
    np.all: "all",
    np.ndarray.all: "all",
    np.count_nonzero: "count_nonzero",
}


def masked_reduce(ctx, a: Operand, fn) -> Operand:
    # np.sum(x[mask]) per example -> a reduction of x over every per-example axis, where mask is True:
    # (B, *s), (B, *s) -> (B,); max/min of an empty selection raise, as NumPy does per example
    sel = a.val.selection
    assert sel is not None
    if _MASKED[fn] in ("max", "min") and sel.dtype not in ("b", "i", "u", "f"):
        raise ctx.fail("the largest or smallest of a selection of complex (or unknown) values")
    node = ctx.expr("av__.reduce_selection(x, r)", x=a.node, r=_MASKED[fn])
    for site in sel.sites:
        ctx.withdraw_fallback(site)
    return out(node, True, 0, _dtype(fn, sel.dtype))


def reduce_facts(call, a, axis=None, out=None, keepdims=None, **_) -> Val:
    """(*s), axis=k -> s without k (kept as size 1 with keepdims); axis=None -> every axis."""
    if static(out) is not None:
        return UNKNOWN  # refused by the rule
    nd = a.val.ndim
    value = static(axis) if axis is not None else None
    keep = static(keepdims, False)
    axes = axes_tuple(value, nd) if value is not NO_STATIC else None
    if keep is NO_STATIC:
        ndim = None
    elif keep:
        ndim = nd
    else:
        ndim = None if axes is None or nd is None else nd - len(set(axes))
    return array(False, ndim, _dtype(call.fn, a.val.dtype))


def _reduce(ctx, a, axis, keepdims) -> Operand:
    # (B, *s), axis=k -> (B, *s without k); keepdims keeps it as size 1. The other arguments, unbatched,
    # are passed on as the call gives them (NOTE [arguments by parameter], rules/common.py).
    others = options(ctx.call, "a", "axis")
    if a.val.selection is not None and ctx.call.fn in _MASKED and axis is None and not others:
        return masked_reduce(ctx, a, ctx.call.fn)
    if a.val.selection is not None:
        raise ctx.fail("a reduction of a selection whose length differs between examples, with options")
    refuse_out(ctx, others.get("out"))
    if any(v.batched for v in others.values()):
        raise ctx.fail("arguments that differ between examples")
    value = static(axis) if axis is not None else None
    node_axis = _all_axes(ctx, a) if value is None else shift_axis(ctx, axis, a.val.ndim)
    node = respell(ctx, {"a": a.node, "axis": node_axis}, keyword=("axis",))
    return emit(node, reduce_facts(ctx.call, a, axis, keepdims=keepdims))


# One rule per NumPy signature, each a thin wrapper of `_reduce`: the dispatcher refuses what NumPy does


@register(np.sum, traits="reduction quiet selections")
@register(np.prod, traits="reduction selections")
@register(np.nansum, np.nanprod, traits="reduction")
@infers(reduce_facts)
def batch_sum(ctx, a, axis=None, dtype=None, out=None, keepdims=None, initial=None, where=None) -> Operand:
    return _reduce(ctx, a, axis, keepdims)


@register(np.max, np.min, traits="reduction quiet selections")
@register(np.amax, np.amin, traits="reduction selections")
@register(np.nanmax, np.nanmin, traits="reduction")
@infers(reduce_facts)
def batch_extremum(ctx, a, axis=None, out=None, keepdims=None, initial=None, where=None) -> Operand:
    return _reduce(ctx, a, axis, keepdims)


@register(np.mean, traits="reduction selections")
@register(np.nanmean, traits="reduction")
@infers(reduce_facts)
def batch_mean(ctx, a, axis=None, dtype=None, out=None, keepdims=None, *, where=None) -> Operand:
    return _reduce(ctx, a, axis, keepdims)


@register(np.std, np.var, np.nanstd, np.nanvar, traits="reduction")
@infers(reduce_facts)
def batch_spread(
    ctx,
    a,
    axis=None,
    dtype=None,
    out=None,
    ddof=None,
    keepdims=None,
    *,
    where=None,
    mean=None,
    correction=None,
) -> Operand:
    _std_of_exact_kind(ctx, a, axis, dtype, keepdims)
    return _reduce(ctx, a, axis, keepdims)


_ROOTS = {np.std, np.nanstd, np.ndarray.std}


def _std_of_exact_kind(ctx, a, axis, dtype, keepdims) -> None:
    """NumPy's std takes its root in place on an array result (`np.sqrt(v, out=v)`: an integer dtype=
    raises) and converts a scalar's (`dtype.type(np.sqrt(v))`): per example a scalar, batched an array,
    so a dtype that is not inexact (or not known) runs per example."""
    if ctx.call.fn in _ROOTS and dtype_kind(dtype, "f") not in ("f", "c"):
        if (reduce_facts(ctx.call, a, axis, keepdims=keepdims).ndim or 0) > 0:
            return  # (per example an array too: it raises as the batch's does)
        raise ctx.fail("std() of a scalar with a dtype= that is not a float's (NumPy converts it)")


@register(np.any, np.all, traits="reduction quiet selections")
@infers(reduce_facts)
def batch_any_all(ctx, a, axis=None, out=None, keepdims=None, *, where=None) -> Operand:
    return _reduce(ctx, a, axis, keepdims)


@register(np.median, np.nanmedian, traits="reduction")
@infers(reduce_facts)
def batch_median(ctx, a, axis=None, out=None, overwrite_input=None, keepdims=None) -> Operand:
    return _reduce(ctx, a, axis, keepdims)


@register(np.ptp, traits="reduction")
@infers(reduce_facts)
def batch_ptp(ctx, a, axis=None, out=None, keepdims=None) -> Operand:
    return _reduce(ctx, a, axis, keepdims)


def average_facts(call, a, axis=None, weights=None, returned=None, keepdims=None, **_) -> Val:
    """A mean's shape; with weights NumPy's promotion of both (complex, else float). `returned`: a pair,
    the averages and the sums of the weights (of the averages' shape and type)."""
    ret = static(returned, False)
    if ret is NO_STATIC:
        return UNKNOWN  # refused by the rule
    avg = reduce_facts(call, a, axis, keepdims=keepdims)
    if weights is not None and static(weights) is not None:
        kinds = {a.val.dtype, weights.val.dtype}
        avg = array(False, avg.ndim, None if None in kinds else "c" if "c" in kinds else "f")
    return container(Kind.TUPLE, [avg, avg]) if ret else avg


@register(np.average, traits="reduction")
@infers(average_facts)
def batch_average(ctx, a, axis=None, weights=None, returned=None, *, keepdims=None) -> Operand:
    # without weights a mean; with weights of s, or 1-D along `axis` (per example or shared): a helper
    # checks them per example as NumPy does, averages each lane as NumPy averages that example, and
    # raises ZeroDivisionError when a lane's weights sum to zero, as that example does
    facts = average_facts(ctx.call, a, axis, weights, returned, keepdims)
    if facts.kind == Kind.OTHER:
        raise ctx.fail("np.average with a `returned=` not known when the code is rewritten")
    if weights is None or static(weights) is None:
        node = _reduce(ctx, a, axis, keepdims).node
    else:
        if any(op is not None and op.batched for op in (axis, returned, keepdims)):
            raise ctx.fail("arguments that differ between examples")
        k, r, d = (
            default if op is None else op.node
            for op, default in zip((axis, returned, keepdims), (None, False, False))
        )
        template = "av__.weighted_average(a, w, axis=k, returned=r, keepdims=d)"
        node = ctx.expr(template, a=_lanes(ctx, a), w=_lanes(ctx, weights), k=k, r=r, d=d)
    if facts.kind == Kind.TUPLE:
        return Operand(node, container(Kind.TUPLE, [e.with_(batched=True) for e in facts.elts or ()]))
    return emit(node, facts)


def _lanes(ctx, op: Operand):
    # an array operand of a helper (runtime.py `weighted_average`): unbatched, with a batch axis of size 1
    kinds = (Kind.ARRAY,) if op.batched else (Kind.ARRAY, Kind.SCALAR, Kind.TUPLE, Kind.LIST)
    if op.val.kind not in kinds:
        raise ctx.fail("np.average of values that are not arrays")
    return op.node if op.batched else ctx.expr("np.asarray(x)[None]", x=op.node)


@register(np.count_nonzero, traits="reduction selections")
@infers(reduce_facts)
def batch_count_nonzero(ctx, a, axis=None, *, keepdims=None) -> Operand:
    return _reduce(ctx, a, axis, keepdims)


# NumPy's reduction methods pass their positional arguments on to numpy/_core/_methods.py in its order
# (`x.any(axis, dtype, out, keepdims)`): every one of those is positional, whatever the docstring shows


@register(np.ndarray.sum, traits="reduction quiet selections")
@register(np.ndarray.prod, traits="reduction selections")
@infers(reduce_facts)
def batch_sum_method(ctx, a, /, axis=None, dtype=None, out=None, keepdims=None, initial=None, where=None):
    return _reduce(ctx, a, axis, keepdims)


@register(np.ndarray.max, np.ndarray.min, traits="reduction quiet selections")
@infers(reduce_facts)
def batch_extremum_method(ctx, a, /, axis=None, out=None, keepdims=None, initial=None, where=None):
    return _reduce(ctx, a, axis, keepdims)


@register(np.ndarray.mean, traits="reduction selections")
@infers(reduce_facts)
def batch_mean_method(ctx, a, /, axis=None, dtype=None, out=None, keepdims=None, *, where=None) -> Operand:
    return _reduce(ctx, a, axis, keepdims)


@register(np.ndarray.std, np.ndarray.var, traits="reduction")
@infers(reduce_facts)
def batch_spread_method(
    ctx,
    a,
    /,
    axis=None,
    dtype=None,
    out=None,
    ddof=None,
    keepdims=None,
    *,
    where=None,
    mean=None,
) -> Operand:
    _std_of_exact_kind(ctx, a, axis, dtype, keepdims)
    return _reduce(ctx, a, axis, keepdims)


@register(np.ndarray.any, np.ndarray.all, traits="reduction quiet selections")
@infers(reduce_facts)
def batch_any_all_method(ctx, a, /, axis=None, dtype=None, out=None, keepdims=None, *, where=None) -> Operand:
    return _reduce(ctx, a, axis, keepdims)


def _all_axes(ctx, a):
    # axis=None per example: every per-example axis, 1..ndim of the batch
    nd = a.val.ndim
    if nd is None:
        return ctx.expr("tuple(range(1, x.ndim))", x=a.node)
    return ctx.expr(repr(tuple(range(1, nd + 1))) if nd != 1 else "1")


def argreduce_facts(call, a, axis=None, out=None, keepdims=None, **_) -> Val:
    """axis=None -> the index into each flattened example (with keepdims, every axis kept as size 1);
    axis=k -> s without k."""
    if static(out) is not None:
        return UNKNOWN  # refused by the rule
    nd = a.val.ndim
    keep = static(keepdims, False)
    if keep is NO_STATIC:
        return array(False, None, "i")
    if axis is None or static(axis) is None:
        return array(False, nd if keep else 0, "i")
    return array(False, None if nd is None else nd if keep else nd - 1, "i")


def _argreduce(ctx, a, axis, out, keepdims) -> Operand:
    # (B, *s), axis=None -> argmax of each flattened example: (B,); axis=k -> over k+1
    refuse_out(ctx, out)
    facts = argreduce_facts(ctx.call, a, axis, keepdims=keepdims)
    keep_value = static(keepdims, False)
    if axis is None or static(axis) is None:
        if keep_value is not False and keep_value != 0:
            fn = ctx.call.node.func if ctx.call.method is None else ctx.expr(f"np.{ctx.call.fn.__name__}")
            assert keepdims is not None  # a static keepdims that is not False was given
            return emit(ctx.expr("av__.arg_flat(f, x, k)", f=fn, x=a.node, k=keepdims.node), facts)
        x = a.node if a.val.ndim == 1 else ctx.expr("av__.flatten(x)", x=a.node)
        return emit(ctx.call.rebuild([x], {"axis": ctx.expr("1")}), facts)
    extra = {} if keepdims is None else {"keepdims": keepdims.node}
    return emit(ctx.call.rebuild([a.node], {"axis": shift_axis(ctx, axis, a.val.ndim), **extra}), facts)


@register(np.argmax, np.argmin, np.nanargmax, np.nanargmin)
@infers(argreduce_facts)
def batch_argreduce(ctx, a, axis=None, out=None, *, keepdims=None) -> Operand:
    return _argreduce(ctx, a, axis, out, keepdims)


@register(np.ndarray.argmax, np.ndarray.argmin)
@infers(argreduce_facts)
def batch_argreduce_method(ctx, a, /, axis=None, out=None, *, keepdims=None) -> Operand:
    return _argreduce(ctx, a, axis, out, keepdims)


def scan_facts(call, a, axis=None, out=None, **_) -> Val:
    """axis=None -> each flattened example: a vector; axis=k -> the same shape."""
    if static(out) is not None:
        return UNKNOWN  # refused by the rule
    return array(
        False, 1 if axis is None or static(axis) is None else a.val.ndim, _dtype(np.sum, a.val.dtype)
    )


@register(np.cumsum, np.cumprod, np.nancumsum, np.nancumprod)
@infers(scan_facts)
def batch_scan(ctx, a, axis=None, dtype=None, out=None) -> Operand:
    # (B, *s), axis=None -> scan of each flattened example: (B, prod(s)); axis=k -> over k+1
    refuse_out(ctx, out)
    facts = scan_facts(ctx.call, a, axis)
    extra = {} if dtype is None else {"dtype": dtype.node}
    if axis is None or static(axis) is None:
        x = a.node if a.val.ndim == 1 else ctx.expr("av__.flatten(x)", x=a.node)
        return emit(ctx.call.rebuild([x], {"axis": ctx.expr("1"), **extra}), facts)
    return emit(ctx.call.rebuild([a.node], {"axis": shift_axis(ctx, axis, a.val.ndim), **extra}), facts)


@register(np.ndarray.cumsum, np.ndarray.cumprod)
@infers(scan_facts)
def batch_scan_method(ctx, a, /, axis=None, dtype=None, out=None) -> Operand:
    return batch_scan(ctx, a, axis, dtype, out)


def diff_facts(call, a, **_) -> Val:
    """The same rank and kind (shorter along the axis)."""
    return array(False, a.val.ndim, a.val.dtype)


@register(np.diff)
@infers(diff_facts)
def batch_diff(ctx, a, n=None, axis=None, prepend=None, append=None) -> Operand:
    # (B, *s), axis=k (default -1) -> differences along k+1
    if prepend is not None or append is not None:
        raise ctx.fail("prepend/append of np.diff")
    kw = {} if n is None else {"n": n.node}
    node_axis = ctx.expr("-1") if axis is None else shift_axis(ctx, axis, a.val.ndim)
    return emit(ctx.call.rebuild([a.node], {**kw, "axis": node_axis}), diff_facts(ctx.call, a))
