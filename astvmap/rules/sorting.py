"""Sorting, searching, padding and 1-D signal functions.

Shape cases: per-example axis k is batch axis k+1 (negative axes unchanged, the default -1 included);
axis=None sorts each flattened example: (B, *s) -> (B, prod(s)). `searchsorted` with a per-example sorted
array counts comparisons; `convolve`/`correlate` build the full correlation from a sliding window and one
contraction, then slice the mode's window.
"""

from __future__ import annotations

import ast

import numpy as np

from ..kit import templates
from .common import (
    NO_STATIC,
    emit,
    infers,
    kw_nodes,
    out,
    rank,
    require_unbatched,
    respell,
    result_kind,
    shift_axis,
    static,
)
from .linalg import contract
from .registry import register
from .values import UNKNOWN, Kind, Operand, Val, array

_sliding_window_view = np.lib.stride_tricks.sliding_window_view
_LAST = object()  # "axis not given": NumPy's default axis=-1


def _named(ctx, node, hint):
    """`node`, bound to a fresh name first unless it already is one (it is used more than once)."""
    return node if isinstance(node, ast.Name) else ctx.temp(node, hint)


def _as_array(ctx, op: Operand) -> ast.expr:
    """An unbatched list/tuple/Python number as an array expression (batched values are arrays)."""
    if op.batched or op.val.kind == Kind.ARRAY:
        return op.node
    return ctx.expr("np.asarray(x)", x=op.node)


# --------------------------------------------------------------------------- sort, argsort, partition


def _flattened(axis) -> bool:
    return axis is not _LAST and axis is not None and static(axis) is None


def along_facts(call, a, axis=_LAST, **_) -> Val:
    """Sorted or partitioned along an axis: the same shape (axis=None: each flattened, a vector); the
    values' kind, or indices."""
    nd = a.val.ndim
    kind = a.val.dtype if call.fn in (np.sort, np.partition) else "i"
    if _flattened(axis):
        return array(False, 1, kind)
    return UNKNOWN if nd is None or nd == 0 else array(False, nd, kind)  # (refused by the rule)


def _along_axis(ctx, a, axis, extra, args=()):
    """The call again along the shifted axis: sort-like functions that keep the per-example shape."""
    nd, facts = a.val.ndim, along_facts(ctx.call, a, axis)
    if _flattened(axis):
        # (B, *s), axis=None -> each flattened example: (B, prod(s)), along axis 1
        x = a.node if nd == 1 else ctx.expr("av__.flatten(x)", x=a.node)
        return emit(ctx.call.rebuild([x, *args], {"axis": templates.const(1), **extra}), facts)
    if nd is None:
        raise ctx.fail("sorting a per-example array of unknown rank (axis -1 could reach the batch axis)")
    if nd == 0:
        raise ctx.fail("sorting a per-example scalar along an axis (the loop raises)")
    # (B, *s), axis=k -> along k+1; axis omitted -> -1: (B, *s)
    ax = templates.const(-1) if axis is _LAST else shift_axis(ctx, axis, nd)
    return emit(ctx.call.rebuild([a.node, *args], {"axis": ax, **extra}), facts)


@register(np.sort, np.argsort)
@infers(along_facts)
def batch_sort(ctx, a, axis=_LAST, kind=None, order=None, *, stable=None) -> Operand:
    # (B, *s), axis=k -> (B, *s) sorted along k+1; axis=None -> (B, prod(s))
    # `np.ndarray.sort` is in place (a write) and has no rule.
    require_unbatched(ctx, kind=kind, order=order, stable=stable)
    extra = kw_nodes(
        {k: v for k, v in (("kind", kind), ("order", order), ("stable", stable)) if v is not None}
    )
    return _along_axis(ctx, a, axis, extra)


@register(np.ndarray.argsort)
@infers(along_facts)
def batch_argsort_method(ctx, a, /, axis=_LAST, kind=None, order=None, *, stable=None) -> Operand:
    return batch_sort(ctx, a, axis, kind, order, stable=stable)


@register(np.partition, np.argpartition)
@infers(along_facts)
def batch_partition(ctx, a, kth, axis=_LAST, kind=None, order=None) -> Operand:
    # (B, *s), kth shared, axis=k -> (B, *s) partitioned along k+1; axis=None -> (B, prod(s))
    # `np.ndarray.partition` is in place (a write) and has no rule.
    if kth.batched:
        raise ctx.fail("a `kth` that differs between examples")
    require_unbatched(ctx, kind=kind, order=order)
    extra = kw_nodes({k: v for k, v in (("kind", kind), ("order", order)) if v is not None})
    return _along_axis(ctx, a, axis, extra, args=(kth.node,))


@register(np.ndarray.argpartition)
@infers(along_facts)
def batch_argpartition_method(ctx, a, kth, /, axis=_LAST, kind=None, order=None) -> Operand:
    return batch_partition(ctx, a, kth, axis, kind, order)


def sort_complex_facts(call, a, **_) -> Val:
    """Sorted along the last axis: the same shape, complex."""
    nd = a.val.ndim
    return UNKNOWN if nd is None or nd == 0 else array(False, nd, "c")  # (refused by the rule)


@register(np.sort_complex)
@infers(sort_complex_facts)
def batch_sort_complex(ctx, a) -> Operand:
    # (B, *s) -> (B, *s) sorted along the last axis, complex
    facts = sort_complex_facts(ctx.call, a)
    if facts.ndim is None:
        raise ctx.fail("sort_complex of a per-example scalar or of unknown rank")
    return emit(ctx.call.rebuild([a.node], {}), facts)


# --------------------------------------------------------------------------- searchsorted


def searchsorted_facts(call, a, v, **_) -> Val:
    """An index for every search value: their shape."""
    return array(False, rank(v), "i")


@register(np.searchsorted)
@infers(searchsorted_facts)
def batch_searchsorted(ctx, a, v, side=None, sorter=None) -> Operand:
    require_unbatched(ctx, side=side)
    rv, facts = rank(v), searchsorted_facts(ctx.call, a, v)
    if not a.batched:
        # a (n,) shared, v (B, *t): searchsorted is elementwise in v -> (B, *t), the same call
        require_unbatched(ctx, sorter=sorter)
        return emit(respell(ctx, {}), facts)
    if rank(a) != 1:
        raise ctx.fail("searchsorted of a per-example array that is not 1-D (the loop raises)")
    if sorter is not None:
        raise ctx.fail("`sorter=` with a per-example sorted array")
    side_value = "left" if side is None else static(side)
    if side_value not in ("left", "right"):
        raise ctx.fail("a `side` not known when the code is rewritten")
    if rv is None:
        raise ctx.fail("search values of unknown rank")
    kinds = (a.val.dtype, v.val.dtype)
    if "c" in kinds:
        raise ctx.fail("searchsorted of complex values in a per-example array")
    # a (B, n) sorted per example, v (B, *t) or (*t,): the insertion index is the number of entries
    # before v: A (B, 1.., n) against V (.., *t, 1) -> count over n -> (B, *t). NaN sorts last, as in NumPy.
    exact = all(k in ("b", "i", "u") for k in kinds)
    anode = a.node if exact or side_value == "right" else _named(ctx, a.node, "sorted_")
    A = templates.index(anode, [slice(None)] + [None] * rv + [slice(None)]) if rv else anode
    vnode = _as_array(ctx, v) if exact else _named(ctx, _as_array(ctx, v), "values")
    V = templates.index(vnode, [Ellipsis, None])
    if side_value == "left":
        template = (
            "np.count_nonzero(A < V, axis=-1)"
            if exact
            else "np.count_nonzero((A < V) | np.isnan(V) & ~np.isnan(A), axis=-1)"
        )
    else:
        template = (
            "np.count_nonzero(A <= V, axis=-1)"
            if exact
            else "np.count_nonzero((A <= V) | np.isnan(V), axis=-1)"
        )
    return emit(ctx.expr(template, A=A, V=V), facts)


@register(np.ndarray.searchsorted)
@infers(searchsorted_facts)
def batch_searchsorted_method(ctx, a, v, /, side=None, sorter=None) -> Operand:
    return batch_searchsorted(ctx, a, v, side, sorter)


# --------------------------------------------------------------------------- interp


def interp_facts(call, x, xp, fp, **_) -> Val:
    """Elementwise in x: its shape; float (complex for complex values)."""
    kind = "c" if fp.val.dtype == "c" else "f" if fp.val.dtype is not None else None
    return array(False, rank(x), kind)


@register(np.interp)
@infers(interp_facts)
def batch_interp(ctx, x, xp, fp, left=None, right=None, period=None) -> Operand:
    # x (B, *s) with shared xp, fp: interp is elementwise in x -> (B, *s), the same call
    if any(o is not None and o.batched for o in (xp, fp, left, right, period)):
        raise ctx.fail("np.interp with sample points or values that differ between examples")
    node = respell(ctx, {})
    return emit(node, interp_facts(ctx.call, x, xp, fp))


# --------------------------------------------------------------------------- pad

_PAIRS = ("constant_values", "end_values", "stat_length")  # per-axis (before, after) pairs, like pad_width
_MODES = {
    "constant",
    "edge",
    "linear_ramp",
    "maximum",
    "mean",
    "median",
    "minimum",
    "reflect",
    "symmetric",
    "wrap",
    "empty",
}


def _pairs(ctx, op, nd, what, batch_row):
    """A static per-axis pair argument for the batched array: one more row, `batch_row`, in front when
    it gives one pair per axis (scalars and single pairs broadcast over the batch axis as they are)."""
    value = static(op)
    if value is NO_STATIC:
        raise ctx.fail(f"`{what}` not known when the code is rewritten")
    try:
        arr = np.asarray(value)
        if arr.size == 1 or (arr.size == 2 and arr.shape != (2, 1)):
            return op.node  # one value, or one (before, after) pair, for every axis
        rows = np.broadcast_to(arr, (nd, 2)).tolist()
    except (TypeError, ValueError):  # NumPy's refusal of values that do not fit
        raise ctx.fail(f"`{what}` that does not fit the per-example rank") from None
    return templates.const(tuple(tuple(r) for r in [batch_row(rows)] + rows))


def _pair_nodes(op):
    """The two nodes of a literal `(before, after)` whose items are known scalars, else None."""
    v = op.val
    if (
        isinstance(op.node, (ast.Tuple, ast.List))
        and len(op.node.elts) == 2
        and v.elts is not None
        and all(e.kind == Kind.SCALAR or (e.kind == Kind.ARRAY and e.ndim == 0) for e in v.elts)
    ):
        return op.node.elts
    return None


def pad_facts(call, array, **_) -> Val:
    """Padded: the same rank and kind."""
    return Val(False, array.val.ndim, Kind.ARRAY, array.val.dtype)


@register(np.pad)
@infers(pad_facts)
def batch_pad(ctx, array, pad_width, mode=None, **kwargs) -> Operand:
    # (NumPy's own signature: `kwargs` are the mode's options)
    if (
        not array.batched
        or pad_width.batched
        or any(v.batched for v in kwargs.values())
        or (mode is not None and mode.batched)
    ):
        raise ctx.fail("pad widths or values that differ between examples")
    mode_value = "constant" if mode is None else static(mode)
    if mode_value not in _MODES:
        raise ctx.fail("a pad mode that is a function or not known when the code is rewritten")
    nd = array.val.ndim
    if nd is None:
        raise ctx.fail("padding a per-example array of unknown rank")
    # (B, *s), pad_width w -> (B, *(s + w)): the batch axis gets (0, 0)
    widths = static(pad_width)
    pair = _pair_nodes(pad_width)
    if widths is NO_STATIC and pair is not None:
        # a literal (before, after) of per-call scalars: the same pair for every per-example axis
        pw: ast.expr = ast.Tuple(
            [templates.const((0, 0))] + [ast.Tuple(list(pair), ast.Load()) for _ in range(nd)], ast.Load()
        )
    elif (
        widths is NO_STATIC
        and isinstance(pad_width.node, (ast.Tuple, ast.List))
        and pad_width.val.elts is not None
        and len(pad_width.node.elts) == nd == len(pad_width.val.elts)
        and all(
            _pair_nodes(Operand(n, e)) is not None for n, e in zip(pad_width.node.elts, pad_width.val.elts)
        )
    ):
        # a literal ((before, after), ...) with one pair per per-example axis: (0, 0) in front
        pw = ast.Tuple([templates.const((0, 0))] + list(pad_width.node.elts), ast.Load())
    elif widths is NO_STATIC:
        pw = ctx.expr("((0, 0),) + tuple(map(tuple, np.broadcast_to(w, (n, 2))))", w=pad_width.node, n=nd)
    else:
        try:
            rows = np.broadcast_to(np.asarray(widths), (nd, 2)).tolist()
        except (TypeError, ValueError):  # NumPy's refusal of widths that do not fit
            raise ctx.fail("pad widths that do not fit the per-example rank") from None
        pw = templates.const(((0, 0),) + tuple(tuple(r) for r in rows))
    kw = {}
    for k, v in kwargs.items():
        # per-axis values: the batch axis is never padded, any valid row will do (the first)
        kw[k] = _pairs(ctx, v, nd, k, lambda rows: rows[0]) if k in _PAIRS else v.node
    node = respell(ctx, {"array": array.node, "pad_width": pw, **kw})  # (mode as given)
    return emit(node, pad_facts(ctx.call, array))


# --------------------------------------------------------------------------- convolve, correlate

_CONV_MODES = {0: "valid", 1: "same", 2: "full", "valid": "valid", "same": "same", "full": "full"}


def _vector(ctx, op, hint, scalar_ok):
    """A 1-D-per-example operand (0-d ones become length 1, as np.convolve's `ndmin=1` does), named."""
    nd = rank(op)
    if nd not in ((0, 1) if scalar_ok else (1,)):
        raise ctx.fail("convolve/correlate of per-example arrays that are not 1-D (the loop raises)")
    node = _as_array(ctx, op)
    if nd == 0:
        node = (
            templates.index(node, [slice(None), None]) if op.batched else ctx.expr("np.atleast_1d(x)", x=node)
        )
    return _named(ctx, node, hint)


def _conv_mode(call, mode) -> str | None:
    """The mode's name ('full', 'same', 'valid'; None when not known)."""
    value = ("full" if call.fn is np.convolve else "valid") if mode is None else static(mode)
    try:
        return _CONV_MODES[value]
    except (KeyError, TypeError):
        return None


def convolve_facts(call, a, v, mode=None, **_) -> Val:
    """A vector (of 1-D operands; convolve takes scalars as length 1), NumPy's promotion of the kinds."""
    allowed = (0, 1) if call.fn is np.convolve else (1,)
    if rank(a) not in allowed or rank(v) not in allowed or _conv_mode(call, mode) is None:
        return UNKNOWN  # refused by the rule
    return array(False, 1, result_kind(call.fn, [a, v]))


@register(np.convolve, np.correlate)
@infers(convolve_facts)
def batch_convolve(ctx, a, v, mode=None) -> Operand:
    conv = ctx.call.fn is np.convolve
    if mode is not None and mode.batched:
        raise ctx.fail("a mode that differs between examples")
    value = _conv_mode(ctx.call, mode)
    if value is None:
        raise ctx.fail("a mode not known when the code is rewritten")
    dtype = result_kind(ctx.call.fn, [a, v])
    A, V = _vector(ctx, a, "signal", conv), _vector(ctx, v, "kernel", conv)
    n = ctx.temp(ctx.expr("x.shape[-1]", x=A), "n")
    m = ctx.temp(ctx.expr("x.shape[-1]", x=V), "m")
    # full correlation of a (B, n) with a window w (B, m): pad a by m - 1 on both sides, slide a window
    # of m: (B, n + m - 1, m), contract with w -> (B, n + m - 1). convolve: w = v reversed; correlate:
    # w = conj(v). (An empty `a` does not raise here as in NumPy: a known gap.)
    pad = ctx.expr("(0, 0), (m - 1, m - 1)", m=m) if a.batched else ctx.expr("(m - 1, m - 1)", m=m)
    windows = ctx.expr("np.lib.stride_tricks.sliding_window_view(np.pad(x, p), m, axis=-1)", x=A, p=pad, m=m)
    if conv:
        w = ctx.expr("x[..., ::-1]", x=V)
    else:
        w = V if v.val.dtype in ("b", "i", "u", "f") else ctx.expr("np.conj(x)", x=V)
    full = contract(
        ctx, ["kj", "j"], "k", [Operand(windows, Val(a.batched, 2)), Operand(w, Val(v.batched, 1))], dtype
    )
    if value == "full":
        # (B, n), (B, m), mode='full' -> (B, n + m - 1)
        return full
    full_name = ctx.temp(full.node, "full")
    if value == "valid":
        # mode='valid' -> (B, |n - m| + 1): where the shorter one lies wholly inside the longer one
        lo = ctx.expr("min(n, m) - 1", n=n, m=m)
        hi = ctx.expr("max(n, m)", n=n, m=m)
    else:
        # mode='same' -> (B, max(n, m)), centred as NumPy centres it (it swaps a and v when v is
        # longer; correlate then reverses, which moves the centre by one for an even shorter length)
        lo = (
            ctx.expr("(min(n, m) - 1) // 2", n=n, m=m)
            if conv
            else ctx.expr("(min(n, m) - (n >= m)) // 2", n=n, m=m)
        )
        lo = ctx.temp(lo, "start")
        hi = ctx.expr("s + max(n, m)", s=lo, n=n, m=m)
    return out(templates.index(full_name, [slice(None), slice(lo, hi)]), True, 1, dtype)


# --------------------------------------------------------------------------- sliding windows


def _window_rank(window_shape) -> int | None:
    """How many axes a window shape has (None when not known)."""
    ws = static(window_shape)
    if ws is not NO_STATIC:
        return 1 if isinstance(ws, (int, np.integer)) else len(ws) if isinstance(ws, (tuple, list)) else None
    wv = window_shape.val
    if wv.kind in (Kind.SCALAR, Kind.ARRAY) and wv.ndim == 0:
        return 1
    return len(wv.elts) if wv.kind in (Kind.TUPLE, Kind.LIST) and wv.elts is not None else None


def sliding_window_facts(call, x, window_shape, axis=None, **_) -> Val:
    """Windows: the operand's axes, then the window's."""
    nd, n_win = x.val.ndim, _window_rank(window_shape)
    return array(False, None if nd is None or n_win is None else nd + n_win, x.val.dtype)


@register(_sliding_window_view)
@infers(sliding_window_facts)
def batch_sliding_window_view(ctx, x, window_shape, axis=None, *, subok=None, writeable=None) -> Operand:
    # (B, *s), window w along per-example axes k -> windows along k+1: (B, *s', *w)
    if window_shape.batched or any(o is not None and o.batched for o in (axis, subok, writeable)):
        raise ctx.fail("a window that differs between examples")
    nd = x.val.ndim
    if axis is None or static(axis) is None:
        # axis=None: a window over every per-example axis, 1..nd
        if nd is None:
            raise ctx.fail("sliding windows over every axis of unknown rank")
        ax = templates.const(tuple(range(1, nd + 1)))
    else:
        ax = shift_axis(ctx, axis, nd)
    extra = kw_nodes({k: o for k, o in (("subok", subok), ("writeable", writeable)) if o is not None})
    node = ctx.call.rebuild([x.node, window_shape.node], {"axis": ax, **extra})
    return emit(node, sliding_window_facts(ctx.call, x, window_shape, axis))
