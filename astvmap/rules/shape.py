"""Shape functions and array attributes.

Shape cases: per-example axis k is batch axis k+1 (negative axes unchanged); `.shape`, `.ndim`,
`.size`, `len()` of a batched value are per-example (unbatched) values. Methods whose receiver NumPy
takes positionally only (`x.swapaxes(0, 1)`) have rules of their own, with that signature.
"""

from __future__ import annotations

import ast

import numpy as np

from ..kit import templates
from .attributes import batch_T
from .common import (
    NO_STATIC,
    dtype_kind,
    emit,
    infers,
    kw_nodes,
    refuse_out,
    require_unbatched,
    respell,
    shift_axis,
    static,
)
from .registry import register
from .values import UNKNOWN, Kind, Operand, Val, array, container


def same_facts(call, a, **_) -> Val:
    """The operand's rank and kind (axes moved, reversed or rolled)."""
    return array(False, a.val.ndim, a.val.dtype)


def _static_axes(value) -> int | None:
    """How many axes a static axis argument names (None when not known)."""
    if value is NO_STATIC:
        return None
    return len(value) if isinstance(value, tuple) else 1


@register(np.transpose, traits="shaped")
@infers(same_facts)
def batch_transpose(ctx, a, axes=None) -> Operand:
    return _transpose(ctx, a, () if axes is None else (axes,))


@register(np.ndarray.transpose, traits="shaped")
@infers(same_facts)
def batch_transpose_method(ctx, a, /, *axes) -> Operand:
    return _transpose(ctx, a, axes)


def _transpose(ctx, x, axes) -> Operand:
    # (B, *s) with a per-example permutation p -> (0, *(p + 1))
    nd = x.val.ndim
    if len(axes) == 1 and static(axes[0]) is None:
        axes = ()
    if not axes:
        return batch_T(ctx, x)
    facts = same_facts(ctx.call, x)
    perm = static(axes[0]) if len(axes) == 1 else tuple(static(a) for a in axes)
    if perm is NO_STATIC or (isinstance(perm, tuple) and NO_STATIC in perm) or nd is None:
        if any(a.batched for a in axes):
            raise ctx.fail("a transpose whose axes differ between examples")
        p = axes[0].node if len(axes) == 1 else ast.Tuple([a.node for a in axes], ast.Load())
        return emit(ctx.expr("np.transpose(x, av__.shift_perm(p))", x=x.node, p=p), facts)
    perm = (0,) + tuple(int(p) % nd + 1 for p in perm)
    return emit(ctx.expr("np.transpose(x, p)", x=x.node, p=perm), facts)


@register(np.swapaxes, traits="shaped")
@infers(same_facts)
def batch_swapaxes(ctx, a, axis1, axis2) -> Operand:
    nd = a.val.ndim
    node = ctx.call.rebuild([a.node, shift_axis(ctx, axis1, nd), shift_axis(ctx, axis2, nd)], {})
    return emit(node, same_facts(ctx.call, a))


@register(np.ndarray.swapaxes, traits="shaped")
@infers(same_facts)
def batch_swapaxes_method(ctx, a, axis1, axis2, /) -> Operand:
    return batch_swapaxes(ctx, a, axis1, axis2)


@register(np.moveaxis, traits="shaped")
@infers(same_facts)
def batch_moveaxis(ctx, a, source, destination) -> Operand:
    nd = a.val.ndim
    node = ctx.call.rebuild([a.node, shift_axis(ctx, source, nd), shift_axis(ctx, destination, nd)], {})
    return emit(node, same_facts(ctx.call, a))


def expand_dims_facts(call, a, axis, **_) -> Val:
    """One more axis for every axis named."""
    nd, n_new = a.val.ndim, _static_axes(static(axis))
    return array(False, None if nd is None or n_new is None else nd + n_new, a.val.dtype)


@register(np.expand_dims, traits="shaped")
@infers(expand_dims_facts)
def batch_expand_dims(ctx, a, axis) -> Operand:
    facts = expand_dims_facts(ctx.call, a, axis)  # (its axes are the result's)
    if facts.ndim is None:
        raise ctx.fail("np.expand_dims at axes not known when rewriting (their range is the result's rank)")
    node = ctx.call.rebuild([a.node, shift_axis(ctx, axis, facts.ndim)], {})
    return emit(node, facts)


def squeeze_facts(call, a, axis=None, **_) -> Val:
    """One axis fewer for every axis named; without an axis, as many as have length 1 (unknown)."""
    nd = a.val.ndim
    n = None if axis is None or static(axis) is None else _static_axes(static(axis))
    return array(False, None if nd is None or n is None else nd - n, a.val.dtype)


@register(np.squeeze, traits="shaped")
@infers(squeeze_facts)
def batch_squeeze(ctx, a, axis=None) -> Operand:
    # axis=None must never squeeze the batch axis (B may be 1)
    facts = squeeze_facts(ctx.call, a, axis)
    if axis is None or static(axis) is None:
        return emit(ctx.expr("av__.squeeze(x)", x=a.node), facts)
    return emit(ctx.call.rebuild([a.node], {"axis": shift_axis(ctx, axis, a.val.ndim)}), facts)


@register(np.ndarray.squeeze, traits="shaped")
@infers(squeeze_facts)
def batch_squeeze_method(ctx, a, /, axis=None) -> Operand:
    return batch_squeeze(ctx, a, axis)


def reshape_facts(call, a, shape=(), **_) -> Val:
    """As many axes as the new shape has."""
    shape = shape if isinstance(shape, tuple) else (shape,)
    value = _shape_value(shape)
    ndim = len(value) if isinstance(value, tuple) else None
    if ndim is None and len(shape) == 1 and shape[0].val.kind == Kind.TUPLE and shape[0].val.elts is not None:
        ndim = len(shape[0].val.elts)
    return array(False, ndim, a.val.dtype)


def _shape_value(shape: tuple):
    """The static new shape as a tuple (NO_STATIC when not known)."""
    if len(shape) == 1:
        value = static(shape[0])
    else:
        value = tuple(static(s) for s in shape)
        value = NO_STATIC if NO_STATIC in value else value
    return (value,) if isinstance(value, int) else value


@register(np.reshape, traits="shaped")
@infers(reshape_facts)
def batch_reshape(ctx, a, /, shape, order=None, *, copy=None) -> Operand:
    return _reshape(ctx, a, (shape,), order, copy)


@register(np.ndarray.reshape, traits="shaped")
@infers(reshape_facts)
def batch_reshape_method(ctx, a, /, *shape, order=None, copy=None) -> Operand:
    return _reshape(ctx, a, shape, order, copy)


def _reshape(ctx, x, shape: tuple, order, copy) -> Operand:
    # (B, *s).reshape(t) -> (B, *t); -1 resolved per example (works for B == 0)
    if copy is not None or any(s.batched for s in shape) or (order is not None and order.batched):
        raise ctx.fail("a reshape whose shape differs between examples, or with copy=")
    if not shape:
        raise ctx.fail("reshape without a shape")
    facts = reshape_facts(ctx.call, x, shape)
    value = _shape_value(shape)
    node = shape[0].node if len(shape) == 1 else ast.Tuple([s.node for s in shape], ast.Load())
    if isinstance(value, tuple) and -1 not in value:
        new = ast.Tuple([ctx.batch_size()] + [templates.const(v) for v in value], ast.Load())
        if order is None:
            return emit(ctx.expr("x.reshape(s)", x=x.node, s=new), facts)
        return emit(ctx.expr("x.reshape(s, order=o)", x=x.node, s=new, o=order.node), facts)
    call = ctx.expr("av__.reshape(x, s)", x=x.node, s=node)
    if order is not None:
        call.keywords.append(ast.keyword("order", order.node))
    return emit(call, facts)


def ravel_facts(call, a, **_) -> Val:
    """One axis."""
    return array(False, 1, a.val.dtype)


@register(np.ravel, traits="shaped")
@infers(ravel_facts)
def batch_ravel(ctx, a, order=None) -> Operand:
    # (B, *s) -> (B, prod(s))
    if order is not None:
        raise ctx.fail("ravel/flatten with an order")
    if a.val.kind not in (Kind.ARRAY, Kind.SCALAR):  # (a list holding per-example values: not an array)
        raise ctx.fail("ravel of a container of per-example values")
    copy = ctx.call.fn is np.ndarray.flatten
    if a.val.ndim == 1:
        node = ctx.expr("x.copy()", x=a.node) if copy else a.node
    else:
        node = ctx.expr("av__.flatten(x).copy()" if copy else "av__.flatten(x)", x=a.node)
    return emit(node, ravel_facts(ctx.call, a))


@register(np.ndarray.ravel, np.ndarray.flatten, traits="shaped")
@infers(ravel_facts)
def batch_ravel_method(ctx, a, /, order=None) -> Operand:
    return batch_ravel(ctx, a, order)


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
    if any(e.batched and e.kind in (Kind.LIST, Kind.TUPLE) for e in v.elts):
        # (a batched list is a Python list of batched items: as an array per example it is stacked)
        raise ctx.fail("joining sequences that are lists of per-example values")
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


def _item_vals(seq: Operand) -> list[Val] | None:
    """The Vals of a sequence argument's items (one, the joined item, for a list built by appends);
    None when its length is not known."""
    v = seq.val
    if v.kind == Kind.LIST and v.elts is None and v.item is not None:
        return [v.item]
    if v.kind not in (Kind.TUPLE, Kind.LIST) or not v.elts:
        return None
    return list(v.elts)


def concatenate_facts(call, arrays, axis=None, dtype=None, **_) -> Val:
    """The items' rank (axis=None: each flattened, a vector); the kind is their promotion (not known)."""
    items = _item_vals(arrays)
    kind = dtype_kind(dtype)
    if axis is not None and static(axis) is None:
        return array(False, 1, kind)
    return array(False, None if items is None else items[0].ndim, kind)


@register(np.concatenate, traits="fresh shaped")
@infers(concatenate_facts)
def batch_concatenate(ctx, arrays, /, axis=None, out=None, *, dtype=None, casting=None) -> Operand:
    # items (B, *s_i) joined along per-example axis k -> k+1; axis=None flattens each example
    refuse_out(ctx, out)
    facts = concatenate_facts(ctx.call, arrays, axis, dtype)
    options = kw_nodes({k: v for k, v in (("dtype", dtype), ("casting", casting)) if v is not None})
    items = _seq(ctx, arrays)
    if items is None:
        if axis is not None and static(axis) is None:
            raise ctx.fail("concatenate(axis=None) of a list built by appends")
        nd = arrays.val.item.ndim
        ax = shift_axis(ctx, axis, nd) if axis is not None else templates.const(1)
        return emit(ctx.call.rebuild([arrays.node], {"axis": ax, **options}), facts)
    if axis is not None and static(axis) is None:
        flat = []
        for it in items:
            f = ctx.expr("av__.flatten(x)", x=it.node) if it.batched else ctx.expr("np.ravel(x)", x=it.node)
            flat.append(Operand(f, Val(it.batched, 1, Kind.ARRAY, it.val.dtype)))
        items, ax = flat, templates.const(1)
    else:
        ax = shift_axis(ctx, axis, items[0].val.ndim) if axis is not None else templates.const(1)
    nodes = _batched_items(ctx, items)
    node = ctx.call.rebuild([ast.List([n for n, _ in nodes], ast.Load())], {"axis": ax, **options})
    return emit(node, facts)


def stack_facts(call, arrays, dtype=None, **_) -> Val:
    """One axis more than the items; a list built by appends has its item's kind."""
    items = _item_vals(arrays)
    nd = None if items is None or items[0].ndim is None else items[0].ndim + 1
    appended = arrays.val.elts is None and items is not None
    return array(False, nd, dtype_kind(dtype, items[0].dtype if appended and items else None))


@register(np.stack, traits="fresh shaped")
@infers(stack_facts)
def batch_stack(ctx, arrays, axis=None, out=None, *, dtype=None, casting=None) -> Operand:
    # items (B, *s) stacked at per-example axis k -> k+1 (negative k unchanged)
    refuse_out(ctx, out)
    facts = stack_facts(ctx.call, arrays, dtype)
    options = kw_nodes({k: v for k, v in (("dtype", dtype), ("casting", casting)) if v is not None})
    items = _seq(ctx, arrays)
    ax = shift_axis(ctx, axis, facts.ndim) if axis is not None else templates.const(1)  # (the result's)
    if items is None:
        return emit(ctx.call.rebuild([arrays.node], {"axis": ax, **options}), facts)
    nodes = _batched_items(ctx, items)
    node = ctx.call.rebuild([ast.List([n for n, _ in nodes], ast.Load())], {"axis": ax, **options})
    return emit(node, facts)


def hvstack_facts(call, tup, dtype=None, **_) -> Val:
    """hstack: the items' rank (at least 1); vstack: at least 2."""
    items = _item_vals(tup)
    ranks = [v.ndim for v in items or () if v.ndim is not None]
    least = {np.hstack: 1, np.vstack: 2}.get(call.fn)
    if items is None or tup.val.elts is None or len(ranks) != len(items) or least is None:
        return UNKNOWN  # column_stack, dstack: refused by the rule
    return array(False, max(least, *ranks), dtype_kind(dtype))


@register(np.hstack, np.vstack, traits="fresh shaped")
@infers(hvstack_facts)
def batch_hvstack(ctx, tup, *, dtype=None, casting=None) -> Operand:
    # hstack: 1-D examples join on axis 0, others on axis 1; vstack: rows (atleast_2d) on axis 0
    require_unbatched(ctx, dtype=dtype, casting=casting)
    options = kw_nodes({k: v for k, v in (("dtype", dtype), ("casting", casting)) if v is not None})
    items = _seq(ctx, tup)
    if items is None:
        raise ctx.fail(f"{ctx.call.fn.__name__} of a list built by appends")
    if any(it.val.ndim is None for it in items):
        raise ctx.fail("stacking items of unknown rank")
    if ctx.call.fn is np.hstack:
        top = max(it.val.ndim for it in items)
        nodes, ax = _batched_items(ctx, items, at_least=1), (1 if top <= 1 else 2)
    else:
        nodes, ax = _batched_items(ctx, [_as_row(ctx, it) for it in items]), 1
    node = ctx.expr("np.concatenate(xs, axis=k)", xs=ast.List([n for n, _ in nodes], ast.Load()), k=ax)
    assert isinstance(node, ast.Call)  # the template is a call
    node.keywords += [ast.keyword(k, v) for k, v in options.items()]  # NumPy's own hstack passes them on
    return emit(node, hvstack_facts(ctx.call, tup, dtype))


def _as_row(ctx, it: Operand) -> Operand:
    """An item of vstack as a per-example matrix (atleast_2d)."""
    if it.val.ndim == 0:
        node = (
            templates.batch_slice_prefix(it.node, 2)
            if it.batched
            else ctx.expr("np.atleast_2d(x)", x=it.node)
        )
    elif it.val.ndim == 1:
        node = (
            templates.index(it.node, [slice(None), None])
            if it.batched
            else ctx.expr("np.atleast_2d(x)", x=it.node)
        )
    else:
        return it
    return Operand(node, Val(it.batched, 2))


@register(np.column_stack, np.dstack, traits="shaped")
@infers(hvstack_facts)
def batch_column_stack(ctx, tup) -> Operand:
    raise ctx.fail(f"{ctx.call.fn.__name__} of batched values")


def broadcast_to_facts(call, array, shape, **_) -> Val:
    """As many axes as the shape has (a tuple whose length is known, if not its sizes: `y.shape`)."""
    value = static(shape)
    value = (value,) if isinstance(value, int) else value
    if isinstance(value, tuple):
        n = len(value)
    elif shape.val.kind == Kind.TUPLE and shape.val.elts is not None and not shape.batched:
        n = len(shape.val.elts)
    else:
        n = None
    return Val(False, n, Kind.ARRAY, array.val.dtype)


@register(np.broadcast_to, traits="shaped")
@infers(broadcast_to_facts)
def batch_broadcast_to(ctx, array, shape, subok=None) -> Operand:
    # (B, *s) -> (B, *shape) after aligning s to len(shape); subok= is moot: batched values are ndarrays
    facts = broadcast_to_facts(ctx.call, array, shape)
    if facts.ndim is None or array.val.ndim is None or shape.batched or array.val.ndim > facts.ndim:
        raise ctx.fail("broadcast_to a shape whose length is known only at run time")
    if subok is not None and not (subok.val.is_const or subok.is_static):
        raise ctx.fail("broadcast_to with a subok= known only at run time")
    node = templates.batch_slice_prefix(array.node, facts.ndim - array.val.ndim)
    value = static(shape)
    if isinstance(value, (int, tuple)):
        value = (value,) if isinstance(value, int) else value
        full = ast.Tuple([ctx.batch_size()] + [templates.const(v) for v in value], ast.Load())
        return emit(ctx.expr("np.broadcast_to(x, s)", x=node, s=full), facts)
    return emit(ctx.expr("np.broadcast_to(x, (B, *s))", x=node, B=ctx.batch_size(), s=shape.node), facts)


def broadcast_shapes_facts(call, args=(), **_) -> Val:
    """A tuple as long as the longest shape: each shape an int or a tuple of known length, or a starred
    collection of them (a set or list known to hold one at least: `np.broadcast_shapes(*shapes)`)."""
    lengths = []
    for a in args:
        v = a.val
        if isinstance(a.node, ast.Starred):
            # (items known one by one, or a set's `item`, which it holds one of at least; a list built
            # by appends may be empty)
            items = v.elts if v.elts is not None else (v.item,) if v.kind == Kind.SET and v.item else None
            if items is None:
                return UNKNOWN
        else:
            items = (v,)
        for item in items:
            if item.kind == Kind.TUPLE and item.elts is not None:
                lengths.append(len(item.elts))
            elif item.kind in (Kind.SCALAR, Kind.ARRAY) and item.ndim == 0 and item.dtype in ("i", "u"):
                lengths.append(1)
            else:
                return UNKNOWN
    if not lengths:
        return UNKNOWN
    return container(Kind.TUPLE, [Val(False, 0, Kind.SCALAR, "i")] * max(lengths))


@register(np.broadcast_shapes)
@infers(broadcast_shapes_facts)
def batch_broadcast_shapes(ctx, *args) -> Operand:
    # shapes are the same for every example: reached only with a shape that differs between them
    raise ctx.fail("broadcast_shapes of shapes that differ between examples")


def atleast_facts(call, arys, **_) -> Val:
    """At least 1 (2) axes."""
    least = 1 if call.fn is np.atleast_1d else 2
    if len(arys) != 1 or arys[0].val.ndim is None:
        return UNKNOWN  # several arrays give a tuple (refused by the rule)
    return array(False, max(arys[0].val.ndim, least), arys[0].val.dtype)


@register(np.atleast_1d, np.atleast_2d, traits="shaped")
@infers(atleast_facts)
def batch_atleast(ctx, *arys) -> Operand:
    if len(arys) != 1:
        raise ctx.fail("atleast_nd of several arrays")
    x = arys[0]
    nd = x.val.ndim
    if nd is None:
        raise ctx.fail("atleast_nd of unknown rank")
    facts = atleast_facts(ctx.call, arys)
    if nd >= facts.ndim:
        return emit(x.node, facts)
    if facts.ndim == 2 and nd == 1:
        return emit(templates.index(x.node, [slice(None), None]), facts)
    return emit(templates.batch_slice_prefix(x.node, facts.ndim - nd), facts)


def flip_facts(call, m, **_) -> Val:
    """The operand's rank and kind."""
    return array(False, m.val.ndim, m.val.dtype)


@register(np.flip, traits="shaped")
@infers(flip_facts)
def batch_flip(ctx, m, axis=None) -> Operand:
    # axis=None flips every per-example axis (not the batch)
    nd = m.val.ndim
    if axis is None or static(axis) is None:
        if nd is None:
            raise ctx.fail("flip of unknown rank")
        ax = templates.const(tuple(range(1, nd + 1)))
    else:
        ax = shift_axis(ctx, axis, nd)
    return emit(ctx.call.rebuild([m.node], {"axis": ax}), flip_facts(ctx.call, m))


@register(np.roll)
@infers(same_facts)
def batch_roll(ctx, a, shift, axis=None) -> Operand:
    # axis=None rolls each flattened example
    if shift.batched:
        raise ctx.fail("a roll whose shift differs between examples")
    nd, facts = a.val.ndim, same_facts(ctx.call, a)
    if axis is None or static(axis) is None:
        if nd == 1:
            return emit(ctx.call.rebuild([a.node, shift.node], {"axis": templates.const(1)}), facts)
        node = ctx.expr("np.roll(av__.flatten(x), s, axis=1).reshape(x.shape)", x=a.node, s=shift.node)
        return emit(node, facts)
    return emit(ctx.call.rebuild([a.node, shift.node], {"axis": shift_axis(ctx, axis, nd)}), facts)


def tile_facts(call, A, reps, **_) -> Val:
    """As many axes as the operand or the repetitions have, whichever are more."""
    value, nd = static(reps), A.val.ndim
    if value is NO_STATIC or nd is None:
        return UNKNOWN
    return array(False, max(nd, 1 if isinstance(value, int) else len(value)), A.val.dtype)


@register(np.tile, traits="shaped")
@infers(tile_facts)
def batch_tile(ctx, A, reps) -> Operand:
    # tile prepends reps for every axis: (B, *s) needs a 1 for the batch axis, after aligning ranks
    facts = tile_facts(ctx.call, A, reps)
    if facts.ndim is None:
        raise ctx.fail("tile with repetitions known only at run time")
    value = static(reps)
    value = (value,) if isinstance(value, int) else tuple(value)
    total = facts.ndim
    node = templates.batch_slice_prefix(A.node, total - A.val.ndim)
    full = (1,) + (1,) * (total - len(value)) + value
    return emit(ctx.expr("np.tile(x, r)", x=node, r=full), facts)


def repeat_facts(call, a, axis=None, **_) -> Val:
    """axis=None: each flattened example repeated, a vector; else the same rank."""
    return array(False, 1 if axis is None or static(axis) is None else a.val.ndim, a.val.dtype)


@register(np.repeat)
@infers(repeat_facts)
def batch_repeat(ctx, a, repeats, axis=None) -> Operand:
    if repeats.batched:
        raise ctx.fail("repeat counts that differ between examples")
    nd, facts = a.val.ndim, repeat_facts(ctx.call, a, axis)
    if axis is None or static(axis) is None:
        src = a.node if nd == 1 else ctx.expr("av__.flatten(x)", x=a.node)
        return emit(ctx.expr("np.repeat(x, r, axis=1)", x=src, r=repeats.node), facts)
    node = ctx.expr("np.repeat(x, r, axis=k)", x=a.node, r=repeats.node, k=shift_axis(ctx, axis, nd))
    return emit(node, facts)


@register(np.ndarray.repeat)
@infers(repeat_facts)
def batch_repeat_method(ctx, a, repeats, /, axis=None) -> Operand:
    return batch_repeat(ctx, a, repeats, axis)


def astype_facts(call, a, dtype, **_) -> Val:
    """The same rank, of the dtype's kind."""
    return array(False, a.val.ndim, dtype_kind(dtype))


@register(np.ndarray.astype, traits="quiet shaped")
@infers(astype_facts)
def batch_astype(ctx, a, /, dtype, order=None, casting=None, subok=None, copy=None) -> Operand:
    if dtype.batched:
        raise ctx.fail("astype with a batched dtype")
    require_unbatched(ctx, order=order, casting=casting, subok=subok, copy=copy)
    node = respell(ctx, {})
    return emit(node, astype_facts(ctx.call, a, dtype))


@register(np.copy, traits="quiet fresh shaped")
@infers(same_facts)
def batch_copy(ctx, a, order=None, subok=None) -> Operand:
    require_unbatched(ctx, order=order, subok=subok)
    node = respell(ctx, {})
    return emit(node, same_facts(ctx.call, a))


@register(np.ndarray.copy, traits="quiet fresh shaped")
@infers(same_facts)
def batch_copy_method(ctx, a, /, order=None) -> Operand:
    return batch_copy(ctx, a, order)


_PY_TYPE = {"b": "bool", "i": "int", "u": "int", "f": "float", "c": "complex"}


def item_facts(call, a, args=(), **_) -> Val:
    """`x.item()` of a scalar: a Python number of its kind (an int for unsigned ones)."""
    if args or a.val.ndim != 0 or a.val.dtype not in _PY_TYPE:
        return UNKNOWN  # refused by the rule
    return Val(False, 0, Kind.ARRAY, np.dtype(_PY_TYPE[a.val.dtype]).kind, py=True)


@register(np.ndarray.item)
@infers(item_facts)
def batch_item(ctx, a, /, *args) -> Operand:
    # x.item() of a per-example scalar is a Python number: stacked, that is bool/int64/float64/complex128
    facts = item_facts(ctx.call, a, args)
    if facts.ndim != 0:
        raise ctx.fail("item() of a per-example array (the loop raises unless it has one element)")
    return emit(ctx.expr(f"x.astype({_PY_TYPE[a.val.dtype]})", x=a.node), facts)


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


def scalar_type_facts(call, value=None, **_) -> Val:
    """A cast, element by element: the operand's rank (a scalar without one), the type's kind."""
    kind = np.dtype(call.fn).kind
    if value is None:
        return array(False, 0, kind)
    return array(False, value.val.ndim if value.val.kind in (Kind.ARRAY, Kind.SCALAR) else None, kind)


@register(*_SCALAR_TYPES)
@infers(scalar_type_facts)
def batch_scalar_type(ctx, value=None, /) -> Operand:
    # np.float32(x): a cast, element by element (per example it returns an array for arrays)
    facts = scalar_type_facts(ctx.call, value)
    node = ctx.expr("np.asarray(x, dtype=t)", x=value.node, t=ctx.call.node.func)
    return emit(node, facts)
