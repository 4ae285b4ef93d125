"""Reductions and scans over per-example axes.

Shape cases: (B, *s), axis=k -> reduce over k+1 (negative k unchanged); axis=None -> over every
per-example axis (never the batch axis); argmin/argmax/cumsum with axis=None flatten each example.
"""

from __future__ import annotations

import numpy as np

from .common import NO_STATIC, axes_tuple, emit, infers, options, out, refuse_out, respell, shift_axis, static
from .registry import register
from .values import UNKNOWN, MaskedSelection, Operand, Val, array

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


def masked_reduce(ctx, sel: MaskedSelection, fn, kind):
    # np.sum(x[mask]) per example -> a reduction of x over every per-example axis, where mask is True:
    # (B, *s), (B, *s) -> (B,); max/min of an empty selection raise, as NumPy does per example
    name = _MASKED[fn]
    x = (
        sel.x.node
        if sel.x.batched
        else ctx.expr("av__.batch_broadcast(x, B)", x=sel.x.node, B=ctx.batch_size())
    )
    node = ctx.expr("av__.masked_reduce(x, m, r)", x=x, m=sel.mask.node, r=name)
    ctx.withdraw_fallback(sel.site)
    return out(node, True, 0, _dtype(fn, kind))


def reduce_facts(call, a, axis=None, out=None, keepdims=None, weights=None, **_) -> Val:
    """(*s), axis=k -> s without k (kept as size 1 with keepdims); axis=None -> every axis."""
    if static(out) is not None or (call.fn is np.average and static(weights) is not None):
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
        return masked_reduce(ctx, a.val.selection, ctx.call.fn, a.val.selection.x.val.dtype)
    refuse_out(ctx, others.get("out"))
    if any(v.batched for v in others.values()):
        raise ctx.fail("arguments that differ between examples")
    if ctx.call.fn is np.average and static(others.get("weights")) is not None:
        raise ctx.fail("np.average with weights")
    value = static(axis) if axis is not None else None
    node_axis = _all_axes(ctx, a) if value is None else shift_axis(ctx, axis, a.val.ndim)
    node = respell(ctx, {"a": a.node, "axis": node_axis}, keyword=("axis",))
    return emit(node, reduce_facts(ctx.call, a, axis, keepdims=keepdims))


# One rule per NumPy signature, each a thin wrapper of `_reduce`: the dispatcher refuses what NumPy does


@register(np.sum, traits="reduction quiet")
@register(np.prod, np.nansum, np.nanprod, traits="reduction")
@infers(reduce_facts)
def batch_sum(ctx, a, axis=None, dtype=None, out=None, keepdims=None, initial=None, where=None) -> Operand:
    return _reduce(ctx, a, axis, keepdims)


@register(np.max, np.min, traits="reduction quiet")
@register(np.amax, np.amin, np.nanmax, np.nanmin, traits="reduction")
@infers(reduce_facts)
def batch_extremum(ctx, a, axis=None, out=None, keepdims=None, initial=None, where=None) -> Operand:
    return _reduce(ctx, a, axis, keepdims)


@register(np.mean, np.nanmean, traits="reduction")
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
    return _reduce(ctx, a, axis, keepdims)


@register(np.any, np.all, traits="reduction quiet")
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


@register(np.average, traits="reduction")
@infers(reduce_facts)
def batch_average(ctx, a, axis=None, weights=None, returned=None, *, keepdims=None) -> Operand:
    return _reduce(ctx, a, axis, keepdims)


@register(np.count_nonzero, traits="reduction")
@infers(reduce_facts)
def batch_count_nonzero(ctx, a, axis=None, *, keepdims=None) -> Operand:
    return _reduce(ctx, a, axis, keepdims)


# NumPy's reduction methods pass their positional arguments on to numpy/_core/_methods.py in its order
# (`x.any(axis, dtype, out, keepdims)`): every one of those is positional, whatever the docstring shows


@register(np.ndarray.sum, traits="reduction quiet")
@register(np.ndarray.prod, traits="reduction")
@infers(reduce_facts)
def batch_sum_method(ctx, a, /, axis=None, dtype=None, out=None, keepdims=None, initial=None, where=None):
    return _reduce(ctx, a, axis, keepdims)


@register(np.ndarray.max, np.ndarray.min, traits="reduction quiet")
@infers(reduce_facts)
def batch_extremum_method(ctx, a, /, axis=None, out=None, keepdims=None, initial=None, where=None):
    return _reduce(ctx, a, axis, keepdims)


@register(np.ndarray.mean, traits="reduction")
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
    return _reduce(ctx, a, axis, keepdims)


@register(np.ndarray.any, np.ndarray.all, traits="reduction quiet")
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
