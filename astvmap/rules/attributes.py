"""Array attributes and sizes: `.shape`, `.ndim`, `.size`, `len()`, `.T`, `.mT`, `.real`, `.imag`,
`.dtype`. Of a batched value they are per-example (unbatched) values: `(B, *s).shape` is `s`.
"""

from __future__ import annotations

import ast

import numpy as np

from .common import out
from .registry import register
from .values import Kind, Operand, Val

_INT = Val(False, 0, Kind.SCALAR, "i")


@register(np.ndarray.shape)
def batch_shape(ctx, x) -> Operand:
    # (B, *s).shape -> s
    v = x.val
    elts = None if v.ndim is None else (_INT,) * v.ndim
    node = ctx.expr("x.shape[1:]", x=x.node) if x.batched else ctx.expr("x.shape", x=x.node)
    return Operand(node, Val(False, None, Kind.TUPLE, None, elts))


@register(np.shape)
def batch_np_shape(ctx, x) -> Operand:
    return (
        batch_shape(ctx, x)
        if x.batched
        else Operand(ctx.call.rebuild([x.node], {}), Val(False, None, Kind.TUPLE))
    )


@register(np.ndarray.ndim)
def batch_ndim(ctx, x) -> Operand:
    # the per-example rank is known when rewriting
    if x.val.ndim is not None:
        node = ctx.expr("x.ndim - 1", x=x.node) if x.batched else ctx.expr("x.ndim", x=x.node)
        return Operand(node, _INT)
    return Operand(ctx.expr("x.ndim - 1", x=x.node), _INT)


@register(np.ndim)
def batch_np_ndim(ctx, x) -> Operand:
    return Operand(
        ctx.expr("np.ndim(x) - 1", x=x.node) if x.batched else ctx.call.rebuild([x.node], {}), _INT
    )


@register(np.ndarray.size)
def batch_size_attr(ctx, x) -> Operand:
    # (B, *s).size -> prod(s)
    return Operand(
        ctx.expr("av__.example_size(x)", x=x.node) if x.batched else ctx.expr("x.size", x=x.node), _INT
    )


@register(np.size)
def batch_np_size(ctx, x, axis=None) -> Operand:
    if not x.batched:
        return Operand(ctx.call.rebuild([x.node] + ([axis.node] if axis else []), {}), _INT)
    if axis is None:
        return Operand(ctx.expr("av__.example_size(x)", x=x.node), _INT)
    return Operand(ctx.expr("x.shape[1:][k]", x=x.node, k=axis.node), _INT)


@register(len)
def batch_len(ctx, x) -> Operand:
    # len of a batched array: its per-example first axis (axis 1 of the batch)
    v = x.val
    if v.kind in (Kind.TUPLE, Kind.LIST, Kind.DICT) or not x.batched:
        return Operand(ctx.call.rebuild([x.node], {}), _INT)
    if v.ndim == 0:
        raise ctx.error("len() of a per-example scalar: the loop raises TypeError (len() of unsized object)")
    return Operand(ctx.expr("x.shape[1]", x=x.node), _INT)


@register(np.ndarray.T)
def batch_T(ctx, x) -> Operand:
    # (B, *s).T per example reverses s: (B, *reversed(s))
    nd = x.val.ndim
    if not x.batched:
        return out(ctx.expr("x.T", x=x.node), False, nd, x.val.dtype)
    if nd is None:
        raise ctx.fail("`.T` of a per-example array of unknown rank")
    if nd < 2:
        return out(x.node, True, nd, x.val.dtype)
    if nd == 2:
        return out(ctx.expr("x.mT", x=x.node), True, nd, x.val.dtype)
    return out(ctx.expr("x.transpose(p)", x=x.node, p=(0,) + tuple(range(nd, 0, -1))), True, nd, x.val.dtype)


@register(np.ndarray.mT, np.ndarray.real, np.ndarray.imag)
def batch_same_attr(ctx, x) -> Operand:
    # attributes that act on trailing axes or elementwise: the same attribute of the batch
    node = (
        ast.Attribute(x.node, ctx.call.node.attr, ast.Load())
        if isinstance(ctx.call.node, ast.Attribute)
        else ctx.call.rebuild([x.node], {})
    )
    kind = "f" if ctx.call.fn is not np.ndarray.mT and x.val.dtype == "c" else x.val.dtype
    return out(node, x.batched, x.val.ndim, kind)


@register(np.ndarray.dtype)
def batch_dtype(ctx, x) -> Operand:
    return Operand(ctx.expr("x.dtype", x=x.node), Val(False, None, Kind.OTHER))
