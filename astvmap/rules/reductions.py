"""Reductions and scans over per-example axes.

Shape cases: (B, *s), axis=k -> reduce over k+1 (negative k unchanged); axis=None -> over every
per-example axis (never the batch axis); argmin/argmax/cumsum with axis=None flatten each example.
"""

from __future__ import annotations

import numpy as np

from .common import NO_STATIC, axes_tuple, out, shift_axis, static
from .registry import register
from .values import MaskedSelection, Operand

REDUCERS = [
    np.sum,
    np.prod,
    np.mean,
    np.std,
    np.var,
    np.max,
    np.min,
    np.amax,
    np.amin,
    np.any,
    np.all,
    np.nansum,
    np.nanprod,
    np.nanmean,
    np.nanstd,
    np.nanvar,
    np.nanmax,
    np.nanmin,
    np.ptp,
    np.median,
    np.nanmedian,
    np.count_nonzero,
    np.average,
    np.ndarray.sum,
    np.ndarray.prod,
    np.ndarray.mean,
    np.ndarray.std,
    np.ndarray.var,
    np.ndarray.max,
    np.ndarray.min,
    np.ndarray.any,
    np.ndarray.all,
]
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
_INT_PROMOTING = {np.sum, np.prod, np.nansum, np.nanprod, np.ndarray.sum, np.ndarray.prod}


def _dtype(fn, kind):
    if fn in _BOOL:
        return "b"
    if fn is np.count_nonzero:
        return "i"
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


@register(*REDUCERS, numba=False)
def batch_reduce(ctx, a, axis=None, *rest, **kwargs) -> Operand:
    # (B, *s), axis=k -> (B, *s without k); keepdims keeps it as size 1
    if (
        isinstance(a.val.obj, MaskedSelection)
        and ctx.call.fn in _MASKED
        and axis is None
        and not rest
        and not kwargs
    ):
        return masked_reduce(ctx, a.val.obj, ctx.call.fn, a.val.obj.x.val.dtype)
    if "out" in kwargs or any(v.batched for v in list(kwargs.values()) + list(rest)):
        raise ctx.fail("`out=` or arguments that differ between examples")
    if ctx.call.fn is np.average and ("weights" in kwargs or rest):
        raise ctx.fail("np.average with weights")
    nd = a.val.ndim
    value = static(axis) if axis is not None else None
    keepdims = static(kwargs.get("keepdims"), False)
    node_axis = _all_axes(ctx, a) if value is None else shift_axis(ctx, axis, nd)
    axes = axes_tuple(value, nd) if value is not NO_STATIC else None
    if keepdims is NO_STATIC:
        ndim = None
    elif keepdims:
        ndim = nd
    else:
        ndim = None if axes is None or nd is None else nd - len(set(axes))
    args = [a.node]
    kw = {k: v.node for k, v in kwargs.items()}
    if (ctx.call.method is None and rest) or rest:
        args += [node_axis] + [r.node for r in rest]
    else:
        kw = {"axis": node_axis, **kw}
    return out(ctx.call.rebuild(args, kw), True, ndim, _dtype(ctx.call.fn, a.val.dtype))


def _all_axes(ctx, a):
    # axis=None per example: every per-example axis, 1..ndim of the batch
    nd = a.val.ndim
    if nd is None:
        return ctx.expr("tuple(range(1, x.ndim))", x=a.node)
    return ctx.expr(repr(tuple(range(1, nd + 1))) if nd != 1 else "1")


@register(np.argmax, np.argmin, np.nanargmax, np.nanargmin, np.ndarray.argmax, np.ndarray.argmin)
def batch_argreduce(ctx, a, axis=None, out_=None, **kwargs) -> Operand:
    # (B, *s), axis=None -> argmax of each flattened example: (B,); axis=k -> over k+1
    if out_ is not None or "out" in kwargs or set(kwargs) - {"keepdims"}:
        raise ctx.fail("`out=` of an arg-reduction")
    nd = a.val.ndim
    keep = kwargs.get("keepdims")
    keep_value = static(keep, False)
    if axis is None or static(axis) is None:
        if keep_value is not False and keep_value != 0:
            fn = ctx.call.node.func if ctx.call.method is None else ctx.expr(f"np.{ctx.call.fn.__name__}")
            assert keep is not None  # a static keepdims that is not False was given
            node = ctx.expr("av__.arg_flat(f, x, k)", f=fn, x=a.node, k=keep.node)
            return out(node, True, None if keep_value is NO_STATIC else nd, "i")
        x = a.node if nd == 1 else ctx.expr("av__.flatten(x)", x=a.node)
        return out(ctx.call.rebuild([x], {"axis": ctx.expr("1")}), True, 0, "i")
    extra = {} if keep is None else {"keepdims": keep.node}
    ndim = None if nd is None or keep_value is NO_STATIC else nd if keep_value else nd - 1
    return out(ctx.call.rebuild([a.node], {"axis": shift_axis(ctx, axis, nd), **extra}), True, ndim, "i")


@register(np.cumsum, np.cumprod, np.nancumsum, np.nancumprod, np.ndarray.cumsum, np.ndarray.cumprod)
def batch_scan(ctx, a, axis=None, dtype=None, out_=None, **kwargs) -> Operand:
    # (B, *s), axis=None -> scan of each flattened example: (B, prod(s)); axis=k -> over k+1
    if out_ is not None or kwargs:
        raise ctx.fail("`out=` of a scan")
    nd = a.val.ndim
    extra = {} if dtype is None else {"dtype": dtype.node}
    kind = (
        _dtype(np.sum, a.val.dtype)
        if ctx.call.fn
        in (np.cumsum, np.nancumsum, np.ndarray.cumsum, np.cumprod, np.nancumprod, np.ndarray.cumprod)
        else None
    )
    if axis is None or static(axis) is None:
        x = a.node if nd == 1 else ctx.expr("av__.flatten(x)", x=a.node)
        return out(ctx.call.rebuild([x], {"axis": ctx.expr("1"), **extra}), True, 1, kind)
    return out(ctx.call.rebuild([a.node], {"axis": shift_axis(ctx, axis, nd), **extra}), True, nd, kind)


@register(np.diff)
def batch_diff(ctx, a, n=None, axis=None, **kwargs) -> Operand:
    # (B, *s), axis=k (default -1) -> differences along k+1
    if kwargs:
        raise ctx.fail("prepend/append of np.diff")
    kw = {} if n is None else {"n": n.node}
    node_axis = ctx.expr("-1") if axis is None else shift_axis(ctx, axis, a.val.ndim)
    return out(ctx.call.rebuild([a.node], {**kw, "axis": node_axis}), True, a.val.ndim, a.val.dtype)
