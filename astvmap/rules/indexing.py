"""Indexing: `x[i]` with batched `x` and/or batched integer indices.

Shape cases:
  batched x, unbatched index        x[idx]      -> x[:, idx]  (advanced indices separated by a slice move
                                                   to the front: the batch axis is moved back after them)
  unbatched x, batched int index    w[i]        -> w[i]       ((B,) ints pick rows: (B, *w.shape[1:]))
  batched x, batched int index      x[i]        -> x[arange(B), i]
Out-of-range indices raise as the loop's would (NumPy checks every index).
"""

from __future__ import annotations

import ast
import operator

import numpy as np

from ..kit import templates
from .common import NO_STATIC, emit, infers, out, shift_axis, static
from .registry import register
from .values import UNKNOWN, Kind, Operand, Val, Window, array, val_of


def components(index: Operand):
    """The index as a list of component operands (a tuple index splits)."""
    node = index.node
    if isinstance(node, ast.Tuple):
        elts = index.val.elts or (None,) * len(node.elts)
        statics = index.static if index.is_static else (NO_STATIC,) * len(node.elts)
        return [Operand(n, e or Val(False, None, Kind.OTHER), s) for n, e, s in zip(node.elts, elts, statics)]
    if index.is_static and isinstance(index.static, tuple):
        # a tuple known when rewriting (a global `IDX = (0, 1)`): each element indexes an axis of its own
        return [Operand(templates.index(node, [i]), val_of(s), s) for i, s in enumerate(index.static)]
    return [index]


def _classify(c: Operand):
    """'int', 'slice', 'none', 'ellipsis', 'array' (advanced), or None when unknown."""
    if isinstance(c.node, ast.Slice):
        return "slice"
    if isinstance(c.node, ast.Constant) and (c.node.value is Ellipsis or c.node.value is None):
        return "ellipsis" if c.node.value is Ellipsis else "none"  # (in a tuple of non-static parts)
    if c.is_static:
        v = c.static
        if v is None:
            return "none"
        if v is Ellipsis:
            return "ellipsis"
        if isinstance(v, bool):
            return "array"
        if isinstance(v, (int, np.integer)):
            return "int"
        if isinstance(v, slice):
            return "slice"
        if isinstance(v, (list, tuple)):
            return "array"
    v = c.val
    if v.kind == Kind.SCALAR and v.dtype in ("i", "u"):
        return "int"
    if v.kind in (Kind.ARRAY, Kind.SCALAR) and v.ndim == 0 and v.dtype in ("i", "u"):
        return "int"
    if v.kind == Kind.ARRAY and v.ndim is not None and v.ndim >= 1:
        return "array"
    if v.kind == Kind.LIST:
        return "array"
    if v.kind == Kind.NONE:
        return "none"
    return None


def selection_ndim(ndim, index: Operand):
    """The per-example rank of `x[index]` for basic indexes (None when unknown)."""
    if ndim is None:
        return None
    comps = components(index)
    kinds = [_classify(c) for c in comps]
    if None in kinds or kinds.count("array") > 1 or ("array" in kinds and _separated(kinds)):
        return None  # (separated advanced indices move their axes first)
    added = 0
    if "array" in kinds:  # one integer array: its axes replace the axis it indexes
        k = _int_array_ndim(comps[kinds.index("array")])
        if k is None:
            return None
        added = k - 1
    consumed = sum(k in ("int", "slice", "array") for k in kinds)
    return ndim - kinds.count("int") + kinds.count("none") + added if consumed <= ndim else None


def _int_array_ndim(c: Operand) -> int | None:
    """The rank of an integer array index (`[0, 2]`, an int array), None for masks or when unknown."""
    if c.is_static and isinstance(c.static, (list, tuple)):
        try:
            a = np.asarray(c.static)
        except ValueError:  # a ragged list: NumPy refuses it as an index
            return None
        return a.ndim if a.dtype.kind in "iu" else None
    v = c.val
    return v.ndim if v.kind == Kind.ARRAY and v.dtype in ("i", "u") else None


def batched_index(ctx, index: Operand) -> ast.expr:
    """`(slice(None), *index)` as an index node: the same selection in every example."""
    comps = components(index)
    kinds = [_classify(c) for c in comps]
    if None in kinds and len(comps) == 1 and index.val.kind not in (Kind.TUPLE,):
        kinds = ["int"] if index.val.kind == Kind.SCALAR else kinds
    if None in kinds:
        raise ctx.fail("an index of unknown kind (a tuple would index several axes)")
    if kinds.count("array") > 1 and _separated(kinds):
        raise ctx.fail("advanced indices separated by a slice")
    elts = [ast.Slice()] + [c.node for c in comps]
    return ast.Tuple(elts, ast.Load())


def _separated(kinds):
    pos = [i for i, k in enumerate(kinds) if k in ("array", "int")]
    return any(kinds[i] in ("slice", "none", "ellipsis") for i in range(pos[0], pos[-1])) if pos else False


def getitem_facts(call, x, index, **_) -> Val:
    """`x[index]` with an index the same for every example: x's kind, the rank the index leaves (not known
    where advanced indices separated by a slice move their axes first). A batched index: not stated
    here (the gathers below know their ranks)."""
    v = x.val
    if v.kind != Kind.ARRAY or v.ndim == 0 or index.batched:
        return UNKNOWN  # refused by the rule
    comps = components(index)
    kinds = [_classify(c) for c in comps]
    if kinds.count("array") + kinds.count("int") > 1 and "array" in kinds and _separated(kinds):
        known = None not in [_adv_rank(c) for c in comps if _classify(c) in ("array", "int")]
        return array(False, None, v.dtype) if known else UNKNOWN
    if None in kinds and len(comps) == 1:
        return array(False, None, v.dtype)
    if None in kinds:
        return UNKNOWN
    return array(False, selection_ndim(v.ndim, index), v.dtype)


@register(operator.getitem)
@infers(getitem_facts)
def batch_getitem(ctx, x, index, /) -> Operand:
    v = x.val
    if v.kind == Kind.OTHER and x.batched and not index.batched:
        # a per-example loop's result: a stacked array, or a tuple of them (known only at run time)
        return Operand(
            ctx.expr("av__.getitem_any(x, i)", x=x.node, i=_index_value(ctx, index)),
            Val(True, None, Kind.OTHER),
        )
    if v.kind not in (Kind.ARRAY,):
        raise ctx.fail(f"indexing a batched {v.kind.value}")
    if not index.batched:
        # (B, *s)[idx] -> x[:, idx]
        if v.ndim == 0:
            raise ctx.error(
                "indexing a per-example scalar: the loop raises IndexError (invalid index to a "
                "scalar variable)"
            )
        comps = components(index)
        kinds = [_classify(c) for c in comps]
        if kinds.count("array") + kinds.count("int") > 1 and "array" in kinds and _separated(kinds):
            return _moved_advanced(ctx, x, index)
        facts = getitem_facts(ctx.call, x, index)
        if None in kinds and len(comps) == 1:
            return emit(ctx.expr("av__.getitem(x, i)", x=x.node, i=index.node), facts)
        return emit(ast.Subscript(x.node, batched_index(ctx, index), ast.Load()), facts)
    if isinstance(index.static, Window):
        return _window(ctx, x, index.static)
    comps = components(index)
    if len(comps) > 1 and _full_slices_then_array(comps):
        return _gather_along(ctx, x, comps)
    if len(comps) > 1:
        return _scalar_gather(ctx, x, comps)
    if len(comps) != 1 or comps[0].val.ndim is None or comps[0].val.dtype not in ("i", "u"):
        raise ctx.fail("a batched index other than one integer (array) per example")
    i = comps[0]
    k = i.val.ndim
    nd = None if v.ndim is None else v.ndim - 1 + k
    if v.ndim == 0:
        raise ctx.error(
            "indexing a per-example scalar: the loop raises IndexError (invalid index to a scalar variable)"
        )
    if not x.batched:
        # w[i] with (B, *k) integers: w's rows, (B, *k, *w.shape[1:])
        return out(ast.Subscript(x.node, i.node, ast.Load()), True, nd, v.dtype)
    # (B, n, ...)[i] with (B, *k) integers -> x[arange(B) shaped (B, 1, ...), i]
    rows = ctx.expr("np.arange(B)", B=ctx.batch_size())
    rows = templates.index(rows, [slice(None)] + [None] * k) if k else rows
    return out(ctx.expr("x[r, i]", x=x.node, r=rows, i=i.node), True, nd, v.dtype)


def _full_slices_then_array(comps) -> bool:
    """`x[:, :, idx]`: full slices, then one per-example integer vector."""
    *lead, last = comps
    return (
        last.batched
        and last.val.ndim == 1
        and last.val.dtype in ("i", "u")
        and all(
            isinstance(c.node, ast.Slice)
            and c.node.lower is None
            and c.node.upper is None
            and c.node.step is None
            for c in lead
        )
    )


def _gather_along(ctx, x: Operand, comps) -> Operand:
    # x[:, idx] per example is np.take(x, idx, axis=1): with (B, k) indices, take_along_axis of the batch
    # with idx shaped (B, 1, k, 1...) (size-1 axes broadcast): (B, n, k, ...)
    v = x.val
    p = len(comps) - 1
    if v.ndim is None or v.ndim <= p:
        raise ctx.fail("an index of unknown rank")
    idx = ctx.expr(
        "i.reshape(i.shape[:1] + (1,) * p + i.shape[1:] + (1,) * q)", i=comps[-1].node, p=p, q=v.ndim - p - 1
    )
    arr = x.node if x.batched else ctx.expr("x[None]", x=x.node)
    return out(ctx.expr("np.take_along_axis(a, i, axis=k)", a=arr, i=idx, k=p + 1), True, v.ndim, v.dtype)


def take_along_axis_facts(call, arr, indices, axis=None, **_) -> Val:
    """Along a given axis: the operand's rank and kind (refused otherwise)."""
    if axis is None or static(axis) is None or static(axis) is NO_STATIC:
        return UNKNOWN  # refused by the rule
    if arr.val.ndim is None or indices.val.ndim != arr.val.ndim:
        return UNKNOWN
    return array(False, arr.val.ndim, arr.val.dtype)


@register(np.take_along_axis)
@infers(take_along_axis_facts)
def batch_take_along_axis(ctx, arr, indices, axis=None) -> Operand:
    # per example take_along_axis(a, idx, axis=k) -> the same along k + 1 (an unbatched side broadcasts
    # over the batch with a leading size-1 axis); axis=None flattens each example
    if axis is None or static(axis) is None or axis.batched or static(axis) is NO_STATIC:
        raise ctx.fail("take_along_axis with axis=None or an axis known only at run time")
    k = static(axis)
    if arr.val.ndim is None or indices.val.ndim != arr.val.ndim:
        raise ctx.fail("take_along_axis of unknown or different ranks")
    a = arr.node if arr.batched else ctx.expr("x[None]", x=arr.node)
    i = indices.node if indices.batched else ctx.expr("x[None]", x=indices.node)
    node = ctx.expr("np.take_along_axis(a, i, axis=k)", a=a, i=i, k=k + 1 if k >= 0 else k)
    return emit(node, take_along_axis_facts(ctx.call, arr, indices, axis))


def _scalar_gather(ctx, x: Operand, comps) -> Operand:
    # x[c, i, :] with per-example integer scalars i (B,): with a batched x, prepend arange(B) as one more
    # integer index; the (B,) broadcast of the integer indices then comes first whether or not slices
    # separate them, and the sliced axes follow in order: (B, *sliced). An unbatched x has no batch
    # axis to index, so the (B,) axis lands where NumPy puts it and is moved to the front.
    kinds = [_classify(c) for c in comps]
    v = x.val
    if (
        any(c.batched and (c.val.ndim != 0 or c.val.dtype not in ("i", "u")) for c in comps)
        or any(k not in ("int", "slice") for k in kinds)
        or v.ndim is None
        or len(comps) > v.ndim
    ):
        raise ctx.fail("an index mixing per-example values with arrays, None or Ellipsis")
    nd = v.ndim - kinds.count("int")
    parts = [c.node for c in comps]
    if x.batched:
        rows = ctx.expr("np.arange(B)", B=ctx.batch_size())
        node = ast.Subscript(x.node, ast.Tuple([rows] + parts, ast.Load()), ast.Load())
        return out(node, True, nd, v.dtype)
    node = ast.Subscript(x.node, ast.Tuple(parts, ast.Load()), ast.Load())
    advanced = [j for j, k in enumerate(kinds) if k == "int"]
    adjacent = advanced == list(range(advanced[0], advanced[-1] + 1))
    first = advanced[0] if adjacent else 0
    if first:
        node = ctx.expr("np.moveaxis(y, k, 0)", y=node, k=first)
    return out(node, True, nd, v.dtype)


def _window(ctx, x: Operand, w: Window) -> Operand:
    # x[i:i+L] with (B,) starts: windows of a sliding-window view, (B, L, *rest); the loop's slice would be
    # shorter at the ends, so starts out of range raise instead of clipping
    v = x.val
    if v.ndim == 0:
        raise ctx.error("slicing a per-example scalar: the loop raises IndexError")
    length = w.length.node if isinstance(w.length, Operand) else w.length
    node = ctx.expr("av__.window(x, i, n)", x=x.node, i=w.start.node, n=length)
    if x.batched:
        node.keywords.append(ast.keyword("batched", ast.Constant(True)))
    return out(node, True, v.ndim, v.dtype)


def _index_value(ctx, index: Operand) -> ast.expr:
    """The index as an ordinary expression (slices written as `slice(...)`)."""

    def conv(n):
        if isinstance(n, ast.Slice):
            return ast.Call(
                ast.Name("slice", ast.Load()),
                [p if p is not None else ast.Constant(None) for p in (n.lower, n.upper, n.step)],
                [],
            )
        return n

    node = index.node
    if isinstance(node, ast.Tuple):
        return ast.Tuple([conv(e) for e in node.elts], ast.Load())
    return conv(node)


def _moved_advanced(ctx, x, index):
    # per example, advanced indices separated by a slice put their dims first; batched, the batch axis
    # would come after them: move it back to 0
    comps = components(index)
    arrays = [c for c in comps if _classify(c) in ("array", "int")]
    ranks = [_adv_rank(c) for c in arrays]
    if None in ranks:
        raise ctx.fail("advanced indices of unknown rank")
    adv = max(ranks)
    node = ast.Subscript(x.node, ast.Tuple([ast.Slice()] + [c.node for c in comps], ast.Load()), ast.Load())
    return out(ctx.expr("np.moveaxis(y, k, 0)", y=node, k=adv), True, None, x.val.dtype)


def _adv_rank(c: Operand):
    if _classify(c) == "int":
        return 0
    if c.is_static:
        return np.ndim(c.static)
    return c.val.ndim


def take_facts(call, a, indices, axis=None, out=None, mode=None, **_) -> Val:
    """axis=None: the indices' shape (of the flattened operand); axis=k: the operand's axes with k
    replaced by the indices'."""
    nd, k = a.val.ndim, indices.val.ndim
    if static(out) is not None or mode is not None:
        return UNKNOWN  # refused by the rule
    if axis is None:
        return array(False, k, a.val.dtype)
    return array(False, None if nd is None or k is None else nd - 1 + k, a.val.dtype)


@register(np.take)
@infers(take_facts)
def batch_take(ctx, a, indices, axis=None, out=None, mode=None) -> Operand:
    # take(x, idx, axis=k) with unbatched idx -> take(x, idx, axis=k+1); axis=None flattens each example
    if out is not None or mode is not None:
        raise ctx.fail("np.take with mode/out")
    nd, facts = a.val.ndim, take_facts(ctx.call, a, indices, axis)
    if indices.batched:
        if axis is not None or indices.val.ndim is None or indices.val.dtype not in ("i", "u"):
            raise ctx.fail("np.take with batched indices and an axis")
        if not a.batched:
            return emit(ctx.expr("np.take(x, i)", x=a.node, i=indices.node), facts)
        # take(x, i) is x.flat[i]: gather from each flattened example
        flat = a.node if nd == 1 else ctx.expr("av__.flatten(x)", x=a.node)
        k = indices.val.ndim
        rows = ctx.expr("np.arange(B)", B=ctx.batch_size())
        rows = templates.index(rows, [slice(None)] + [None] * k) if k else rows
        return emit(ctx.expr("x[r, i]", x=flat, r=rows, i=indices.node), facts)
    if axis is None:
        src = a.node if nd == 1 else ctx.expr("av__.flatten(x)", x=a.node)
        return emit(ctx.expr("np.take(x, i, axis=1)", x=src, i=indices.node), facts)
    return emit(
        ctx.expr("np.take(x, i, axis=k)", x=a.node, i=indices.node, k=shift_axis(ctx, axis, nd)), facts
    )
