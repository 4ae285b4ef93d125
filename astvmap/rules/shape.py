"""Shape functions and array attributes.

Shape cases: per-example axis k is batch axis k+1 (negative axes unchanged); `.shape`, `.ndim`,
`.size`, `len()` of a batched value are per-example (unbatched) values.
"""

from __future__ import annotations

import ast

import numpy as np

from ..kit import templates
from .attributes import batch_T
from .common import NO_STATIC, kw_nodes, out, shift_axis, static
from .registry import register
from .values import Kind, Operand, Val


@register(np.transpose, np.ndarray.transpose)
def batch_transpose(ctx, x, *axes) -> Operand:
    # (B, *s) with a per-example permutation p -> (0, *(p + 1))
    nd = x.val.ndim
    if len(axes) == 1 and static(axes[0]) is None:
        axes = ()
    if not axes:
        return batch_T(ctx, x)
    perm = static(axes[0]) if len(axes) == 1 else tuple(static(a) for a in axes)
    if perm is NO_STATIC or (isinstance(perm, tuple) and NO_STATIC in perm) or nd is None:
        if any(a.batched for a in axes):
            raise ctx.fail("a transpose whose axes differ between examples")
        p = axes[0].node if len(axes) == 1 else ast.Tuple([a.node for a in axes], ast.Load())
        return out(ctx.expr("np.transpose(x, av__.shift_perm(p))", x=x.node, p=p), True, nd, x.val.dtype)
    perm = (0,) + tuple(int(p) % nd + 1 for p in perm)
    return out(ctx.expr("np.transpose(x, p)", x=x.node, p=perm), True, nd, x.val.dtype)


@register(np.swapaxes, np.ndarray.swapaxes)
def batch_swapaxes(ctx, x, axis1, axis2) -> Operand:
    nd = x.val.ndim
    return out(
        ctx.call.rebuild([x.node, shift_axis(ctx, axis1, nd), shift_axis(ctx, axis2, nd)], {}),
        True,
        nd,
        x.val.dtype,
    )


@register(np.moveaxis)
def batch_moveaxis(ctx, x, source, destination) -> Operand:
    nd = x.val.ndim
    return out(
        ctx.call.rebuild([x.node, shift_axis(ctx, source, nd), shift_axis(ctx, destination, nd)], {}),
        True,
        nd,
        x.val.dtype,
    )


@register(np.expand_dims)
def batch_expand_dims(ctx, x, axis) -> Operand:
    nd = x.val.ndim
    a = static(axis)
    n_new = len(a) if isinstance(a, tuple) else 1 if a is not NO_STATIC else None
    return out(
        ctx.call.rebuild([x.node, shift_axis(ctx, axis, nd)], {}),
        True,
        None if nd is None or n_new is None else nd + n_new,
        x.val.dtype,
    )


@register(np.squeeze, np.ndarray.squeeze)
def batch_squeeze(ctx, x, axis=None) -> Operand:
    # axis=None must never squeeze the batch axis (B may be 1)
    nd = x.val.ndim
    if axis is None or static(axis) is None:
        return out(ctx.expr("av__.squeeze(x)", x=x.node), True, None, x.val.dtype)
    a = static(axis)
    n = len(a) if isinstance(a, tuple) else 1
    return out(
        ctx.call.rebuild([x.node], {"axis": shift_axis(ctx, axis, nd)}),
        True,
        None if nd is None or a is NO_STATIC else nd - n,
        x.val.dtype,
    )


@register(np.reshape, np.ndarray.reshape)
def batch_reshape(ctx, x, *shape, **kwargs) -> Operand:
    # (B, *s).reshape(t) -> (B, *t); -1 resolved per example (works for B == 0)
    if "shape" in kwargs:
        shape = (kwargs.pop("shape"),)
    if "newshape" in kwargs:
        shape = (kwargs.pop("newshape"),)
    if set(kwargs) - {"order"} or any(s.batched for s in shape):
        raise ctx.fail("a reshape whose shape differs between examples")
    if not shape:
        raise ctx.fail("reshape without a shape")
    order = {"order": kwargs["order"].node} if "order" in kwargs else {}
    if len(shape) == 1:
        value, node = static(shape[0]), shape[0].node
    else:
        value = tuple(static(s) for s in shape)
        value = NO_STATIC if NO_STATIC in value else value
        node = ast.Tuple([s.node for s in shape], ast.Load())
    if isinstance(value, int):
        value = (value,)
    ndim = len(value) if isinstance(value, tuple) else None
    if ndim is None and len(shape) == 1 and shape[0].val.kind == Kind.TUPLE and shape[0].val.elts is not None:
        ndim = len(shape[0].val.elts)
    if isinstance(value, tuple) and -1 not in value:
        new = ast.Tuple([ctx.batch_size()] + [templates.const(v) for v in value], ast.Load())
        return out(
            ctx.expr("x.reshape(s)", x=x.node, s=new)
            if not order
            else ctx.expr("x.reshape(s, order=o)", x=x.node, s=new, o=order["order"]),
            True,
            ndim,
            x.val.dtype,
        )
    call = ctx.expr("av__.reshape(x, s)", x=x.node, s=node)
    call.keywords += [ast.keyword(k, v) for k, v in order.items()]
    return out(call, True, ndim, x.val.dtype)


@register(np.ravel, np.ndarray.ravel, np.ndarray.flatten)
def batch_ravel(ctx, x, *args, **kwargs) -> Operand:
    # (B, *s) -> (B, prod(s))
    if args or kwargs:
        raise ctx.fail("ravel/flatten with an order")
    if x.val.ndim == 1:
        node = ctx.expr("x.copy()", x=x.node) if ctx.call.fn is np.ndarray.flatten else x.node
        return out(node, True, 1, x.val.dtype)
    node = ctx.expr("av__.flatten(x)", x=x.node)
    if ctx.call.fn is np.ndarray.flatten:
        node = ctx.expr("av__.flatten(x).copy()", x=x.node)
    return out(node, True, 1, x.val.dtype)


def _seq(ctx, seq: Operand):
    """The items of a sequence argument, or None for a list built by appends whose items are all
    batched (then the list itself is passed on)."""
    v = seq.val
    if v.kind == Kind.LIST and v.elts is None and v.item is not None:
        return None
    if v.kind not in (Kind.TUPLE, Kind.LIST) or v.elts is None:
        if v.batched and v.kind == Kind.ARRAY:
            raise ctx.fail("joining the rows of a batched array")
        raise ctx.fail("joining a sequence whose length is not known when the code is rewritten")
    if isinstance(seq.node, (ast.Tuple, ast.List)) and len(seq.node.elts) == len(v.elts):
        return [Operand(n, e) for n, e in zip(seq.node.elts, v.elts)]
    return [Operand(templates.index(seq.node, [i]), e) for i, e in enumerate(v.elts)]


def _batched_items(ctx, items, at_least=None):
    """Every item as a batched array (unbatched ones repeated over the batch), per-example rank >= at_least."""
    nodes = []
    for it in items:
        node = it.node
        nd = it.val.ndim
        if at_least is not None and (nd is None or nd < at_least):
            if nd is None:
                raise ctx.fail("stacking items of unknown rank")
            if it.batched:
                node = (
                    templates.batch_slice_prefix(node, at_least - nd)
                    if at_least == 1 or nd == 0
                    else templates.index(node, [slice(None), None])
                )
            else:
                node = ctx.expr(f"np.atleast_{at_least}d(x)", x=node)
            nd = at_least
        if not it.batched:
            node = ctx.expr("av__.batch_broadcast(x, B)", x=node, B=ctx.batch_size())
        nodes.append((node, nd))
    return nodes


@register(np.concatenate)
def batch_concatenate(ctx, seq, axis=None, **kwargs) -> Operand:
    # items (B, *s_i) joined along per-example axis k -> k+1; axis=None flattens each example
    if kwargs.get("out") is not None:
        raise ctx.fail("`out=`")
    items = _seq(ctx, seq)
    if items is None:
        if axis is not None and static(axis) is None:
            raise ctx.fail("concatenate(axis=None) of a list built by appends")
        ax = shift_axis(ctx, axis, seq.val.item.ndim) if axis is not None else templates.const(1)
        return out(
            ctx.call.rebuild([seq.node], {"axis": ax, **kw_nodes(kwargs)}), True, seq.val.item.ndim, None
        )
    if axis is not None and static(axis) is None:
        flat = []
        for it in items:
            f = ctx.expr("av__.flatten(x)", x=it.node) if it.batched else ctx.expr("np.ravel(x)", x=it.node)
            flat.append(Operand(f, Val(it.batched, 1, Kind.ARRAY, it.val.dtype)))
        items, ax = flat, templates.const(1)
    else:
        ax = shift_axis(ctx, axis, items[0].val.ndim) if axis is not None else templates.const(1)
    nodes = _batched_items(ctx, items)
    return out(
        ctx.call.rebuild([ast.List([n for n, _ in nodes], ast.Load())], {"axis": ax, **kw_nodes(kwargs)}),
        True,
        nodes[0][1],
        None,
    )


@register(np.stack)
def batch_stack(ctx, seq, axis=None, **kwargs) -> Operand:
    # items (B, *s) stacked at per-example axis k -> k+1 (negative k unchanged)
    if kwargs.get("out") is not None:
        raise ctx.fail("`out=`")
    items = _seq(ctx, seq)
    ax = shift_axis(ctx, axis, None) if axis is not None else templates.const(1)
    if items is None:
        nd = seq.val.item.ndim
        return out(
            ctx.call.rebuild([seq.node], {"axis": ax, **kw_nodes(kwargs)}),
            True,
            None if nd is None else nd + 1,
            seq.val.item.dtype,
        )
    nodes = _batched_items(ctx, items)
    nd = nodes[0][1]
    return out(
        ctx.call.rebuild([ast.List([n for n, _ in nodes], ast.Load())], {"axis": ax, **kw_nodes(kwargs)}),
        True,
        None if nd is None else nd + 1,
        None,
    )


@register(np.hstack, np.vstack, np.column_stack, np.dstack)
def batch_hvstack(ctx, seq, **kwargs) -> Operand:
    # hstack: 1-D examples join on axis 0, others on axis 1; vstack: rows (atleast_2d) on axis 0
    fn = ctx.call.fn
    items = _seq(ctx, seq)
    if items is None:
        raise ctx.fail(f"{fn.__name__} of a list built by appends")
    if any(it.val.ndim is None for it in items):
        raise ctx.fail("stacking items of unknown rank")
    if fn is np.hstack:
        top = max(it.val.ndim for it in items)
        nodes = _batched_items(ctx, items, at_least=1)
        ax, nd = (1 if top <= 1 else 2), max(top, 1)
    elif fn is np.vstack:
        prepared = []
        for it in items:
            if it.val.ndim == 0:
                prepared.append(
                    Operand(
                        templates.batch_slice_prefix(it.node, 2)
                        if it.batched
                        else ctx.expr("np.atleast_2d(x)", x=it.node),
                        Val(it.batched, 2),
                    )
                )
            elif it.val.ndim == 1:
                prepared.append(
                    Operand(
                        templates.index(it.node, [slice(None), None])
                        if it.batched
                        else ctx.expr("np.atleast_2d(x)", x=it.node),
                        Val(it.batched, 2),
                    )
                )
            else:
                prepared.append(it)
        nodes = _batched_items(ctx, prepared)
        ax, nd = 1, max(2, max(it.val.ndim for it in items))
    else:
        raise ctx.fail(f"{fn.__name__} of batched values")
    return out(
        ctx.expr("np.concatenate(xs, axis=k)", xs=ast.List([n for n, _ in nodes], ast.Load()), k=ax), True, nd
    )


@register(np.broadcast_to)
def batch_broadcast_to(ctx, x, shape, **kwargs) -> Operand:
    # (B, *s) -> (B, *shape) after aligning s to len(shape)
    value = static(shape)
    if isinstance(value, int):
        value = (value,)
    if not isinstance(value, tuple) or x.val.ndim is None:
        raise ctx.fail("broadcast_to a shape known only at run time")
    node = templates.batch_slice_prefix(x.node, len(value) - x.val.ndim)
    full = ast.Tuple([ctx.batch_size()] + [templates.const(v) for v in value], ast.Load())
    return out(ctx.expr("np.broadcast_to(x, s)", x=node, s=full), True, len(value), x.val.dtype)


@register(np.atleast_1d, np.atleast_2d)
def batch_atleast(ctx, x) -> Operand:
    n = 1 if ctx.call.fn is np.atleast_1d else 2
    nd = x.val.ndim
    if nd is None:
        raise ctx.fail("atleast_nd of unknown rank")
    if nd >= n:
        return out(x.node, True, nd, x.val.dtype)
    if n == 2 and nd == 1:
        return out(templates.index(x.node, [slice(None), None]), True, 2, x.val.dtype)
    return out(templates.batch_slice_prefix(x.node, n - nd), True, n, x.val.dtype)


@register(np.flip)
def batch_flip(ctx, x, axis=None) -> Operand:
    # axis=None flips every per-example axis (not the batch)
    nd = x.val.ndim
    if axis is None or static(axis) is None:
        if nd is None:
            raise ctx.fail("flip of unknown rank")
        ax = templates.const(tuple(range(1, nd + 1)))
    else:
        ax = shift_axis(ctx, axis, nd)
    return out(ctx.call.rebuild([x.node], {"axis": ax}), True, nd, x.val.dtype)


@register(np.roll)
def batch_roll(ctx, x, shift, axis=None) -> Operand:
    # axis=None rolls each flattened example
    if shift.batched:
        raise ctx.fail("a roll whose shift differs between examples")
    nd = x.val.ndim
    if axis is None or static(axis) is None:
        if nd == 1:
            return out(
                ctx.call.rebuild([x.node, shift.node], {"axis": templates.const(1)}), True, 1, x.val.dtype
            )
        node = ctx.expr("np.roll(av__.flatten(x), s, axis=1).reshape(x.shape)", x=x.node, s=shift.node)
        return out(node, True, nd, x.val.dtype)
    return out(
        ctx.call.rebuild([x.node, shift.node], {"axis": shift_axis(ctx, axis, nd)}), True, nd, x.val.dtype
    )


@register(np.tile)
def batch_tile(ctx, x, reps) -> Operand:
    # tile prepends reps for every axis: (B, *s) needs a 1 for the batch axis, after aligning ranks
    value = static(reps)
    nd = x.val.ndim
    if value is NO_STATIC or nd is None:
        raise ctx.fail("tile with repetitions known only at run time")
    value = (value,) if isinstance(value, int) else tuple(value)
    total = max(nd, len(value))
    node = templates.batch_slice_prefix(x.node, total - nd)
    full = (1,) + (1,) * (total - len(value)) + value
    return out(ctx.expr("np.tile(x, r)", x=node, r=full), True, total, x.val.dtype)


@register(np.repeat, np.ndarray.repeat)
def batch_repeat(ctx, x, repeats, axis=None) -> Operand:
    if repeats.batched:
        raise ctx.fail("repeat counts that differ between examples")
    nd = x.val.ndim
    if axis is None or static(axis) is None:
        src = x.node if nd == 1 else ctx.expr("av__.flatten(x)", x=x.node)
        return out(ctx.expr("np.repeat(x, r, axis=1)", x=src, r=repeats.node), True, 1, x.val.dtype)
    return out(
        ctx.expr("np.repeat(x, r, axis=k)", x=x.node, r=repeats.node, k=shift_axis(ctx, axis, nd)),
        True,
        nd,
        x.val.dtype,
    )


@register(np.ndarray.astype)
def batch_astype(ctx, x, dtype, *args, **kwargs) -> Operand:
    if dtype.batched:
        raise ctx.fail("astype with a batched dtype")
    kind = None
    if dtype.is_static:
        try:
            kind = np.dtype(dtype.static).kind
        except TypeError:
            kind = None
    return out(
        ctx.call.rebuild([x.node, dtype.node] + [a.node for a in args], kw_nodes(kwargs)),
        True,
        x.val.ndim,
        kind,
    )


@register(np.ndarray.copy, np.copy)
def batch_copy(ctx, x, *args, **kwargs) -> Operand:
    return out(
        ctx.call.rebuild([x.node] + [a.node for a in args], kw_nodes(kwargs)), True, x.val.ndim, x.val.dtype
    )


_PY_TYPE = {"b": "bool", "i": "int", "u": "int", "f": "float", "c": "complex"}


@register(np.ndarray.item)
def batch_item(ctx, x, *args) -> Operand:
    # x.item() of a per-example scalar is a Python number: stacked, that is bool/int64/float64/complex128
    if args or x.val.ndim != 0 or x.val.dtype not in _PY_TYPE:
        raise ctx.fail("item() of a per-example array (the loop raises unless it has one element)")
    py = _PY_TYPE[x.val.dtype]
    return out(ctx.expr(f"x.astype({py})", x=x.node), True, 0, np.dtype(py).kind)


_SCALAR_TYPES = [
    np.float16,
    np.float32,
    np.float64,
    np.int8,
    np.int16,
    np.int32,
    np.int64,
    np.uint8,
    np.uint16,
    np.uint32,
    np.uint64,
    np.complex64,
    np.complex128,
    np.bool_,
]


@register(*_SCALAR_TYPES)
def batch_scalar_type(ctx, x=None) -> Operand:
    # np.float32(x): a cast, element by element (per example it returns an array for arrays)
    kind = np.dtype(ctx.call.fn).kind
    if x is None:
        return out(ctx.call.rebuild([], {}), False, 0, kind)
    if not x.batched:
        nd = x.val.ndim if x.val.kind in (Kind.ARRAY, Kind.SCALAR) else None
        return out(ctx.call.rebuild([x.node], {}), False, nd, kind)
    return out(ctx.expr("np.asarray(x, dtype=t)", x=x.node, t=ctx.call.node.func), True, x.val.ndim, kind)
