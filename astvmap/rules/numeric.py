"""Numerical helpers of NumPy's `lib`: `cross` (and `linalg.cross`), `kron`, `vander`, `trapezoid`,
`ediff1d`, `unwrap`, `gradient`, `select` and `piecewise`.

Each rule writes the per-example computation of NumPy's own source (numpy/lib, numpy/_core/numeric.py)
over the batch, in plain NumPy, so that the code it emits is batched again by the same rules under an
enclosing vmap. Per-example axis k is batch axis k + 1, or stays negative; operands of mixed per-example
ranks are padded after the batch axis (NOTE [mixed ranks], `common.align`). Where NumPy casts a value
into an array (`y[cond] = value`), the rule casts the same way (`np.array(v, dtype=...)`, `.astype`).

`piecewise` batches only functions that work element by element (NOTE [elementwise callables]).
"""

from __future__ import annotations

import ast
import operator
import types

import numpy as np

from ..errors import NoPieceLoop, NotBatchable
from ..kit import templates
from .common import NO_STATIC, align, emit, infers, rank, result_kind, static
from .registry import has, register
from .values import UNKNOWN, Kind, Operand, Val, array

_ORDER = "biufc"  # NumPy's kinds, lowest first (promotion between arrays, apart from signed + unsigned)


def _promote(*kinds) -> str | None:
    """The kind NumPy's promotion of arrays of these kinds gives (None when not known)."""
    if any(k is None or k not in _ORDER for k in kinds):
        return None
    if "i" in kinds and "u" in kinds:
        return None  # an int or a float, by their widths
    return max(kinds, key=_ORDER.index)


def _index(value) -> int | None:
    """A static integer (an axis, a length) as an int; None for anything else."""
    if value is NO_STATIC or value is None or isinstance(value, (bool, np.bool_)):
        return None
    try:
        return operator.index(value)
    except TypeError:
        return None


def _axis(ctx, op, default: int, ndim: int) -> int:
    """A static per-example axis of a rank-`ndim` array, non-negative (out of range: the loop raises)."""
    value = default if op is None else _index(static(op))
    if value is None:
        raise ctx.fail("an axis that is not a static integer")
    if not -ndim <= value < ndim:
        raise ctx.fail("an axis out of range (the loop raises)")
    return value % ndim


def _ranked(ctx, *ops) -> list[int]:
    """The per-example ranks of numeric operands (a batched one must be an array)."""
    ranks = []
    for o in ops:
        if o.batched and o.val.kind != Kind.ARRAY:
            raise ctx.fail("a batched operand that is not an array")
        r = rank(o) if o.val.kind in (Kind.ARRAY, Kind.SCALAR, Kind.LIST, Kind.TUPLE) else None
        if r is None:
            raise ctx.fail("an operand whose per-example rank is not known when the code is rewritten")
        ranks.append(r)
    return ranks


def _strong(ctx, o: Operand) -> Operand:
    """`o` as NumPy's `asarray(o)` sees it: a Python number is no longer weak (NEP 50)."""
    if o.batched and o.val.py_some:  # per example float64 on some lanes, a NumPy scalar's on others
        raise NoPieceLoop("an array of a value that is a Python number for some examples only", ctx.node)
    if o.val.kind == Kind.ARRAY and not o.val.py:
        return o
    v = o.val.with_(kind=Kind.ARRAY, ndim=rank(o), py=False, py_some=False, elts=None, item=None)
    return Operand(ctx.expr("np.asarray(x)", x=o.node), v)


def _refuse(ctx, msg: str, *ops) -> NotBatchable:
    """The rule gives up. A loop of this one call would see a batched Python number as a NumPy scalar,
    which NumPy treats otherwise (NEP 50): then the whole function runs as the loop."""
    if any(isinstance(o, Operand) and o.batched and (o.val.py or o.val.py_some) for o in ops):
        return NoPieceLoop(f"{msg}, of a value that is a Python number per example", ctx.node)
    return ctx.fail(msg)


def _weak(ctx, o: Operand) -> Operand:
    """`o`, per example a Python number beside arrays: marked so that they decide its dtype (NEP 50)."""
    if not (o.batched and o.val.py):
        return o
    return Operand(ast.Call(ctx.expr("av__.weak"), [o.node], []), o.val)


def _items(ctx, seq: Operand, what: str) -> list[Operand]:
    """The items of a list or tuple argument whose length is known when the code is rewritten."""
    v = seq.val
    if v.kind not in (Kind.LIST, Kind.TUPLE) or v.elts is None:
        raise ctx.fail(f"a {what} whose length is not known when the code is rewritten")
    if isinstance(seq.node, (ast.List, ast.Tuple)) and len(seq.node.elts) == len(v.elts):
        return [Operand(n, e) for n, e in zip(seq.node.elts, v.elts)]
    return [Operand(templates.index(seq.node, [i]), e) for i, e in enumerate(v.elts)]


def _along(node: ast.expr, ax: int, ndim: int, sl: slice) -> ast.expr:
    """`node[..., sl, :, ...]`: `sl` on per-example axis `ax` (of `ndim`), counted from the end."""
    return templates.index(node, [Ellipsis, sl] + [slice(None)] * (ndim - 1 - ax))


# ---- cross ----------------------------------------------------------------------------------------


def _cross_axes(a_rank, b_rank, axisa, axisb, axisc, axis):
    """(axisa, axisb, axisc) of a per-example cross product as negative axes, or a reason it is
    refused: axes not static, or out of range (the loop raises)."""
    top = max(a_rank, b_rank)
    found = []
    given = static(axis) if axis is not None else None
    for op, n in ((axisa, a_rank), (axisb, b_rank), (axisc, top)):
        value = -1 if op is None else _index(static(op))
        if given is not None:
            value = _index(given)
        if value is None:
            return "cross product axes that are not static integers"
        if not -n <= value < n:
            return "a cross product axis out of range (the loop raises)"
        found.append(value - n if value >= 0 else value)
    return tuple(found)


def cross_facts(call, a=None, b=None, axisa=None, axisb=None, axisc=None, axis=None, x1=None, x2=None, **_):
    """The operands' broadcast vectors: a vector axis more than the leading axes (`np.cross` of two
    2-vectors gives scalars, so its rank is known only for `np.linalg.cross`); the arrays' promotion."""
    a, b = (x1, x2) if a is None else (a, b)
    if a is None or b is None:
        return UNKNOWN
    ra, rb = rank(a), rank(b)
    if ra is None or rb is None or min(ra, rb) < 1:
        return UNKNOWN  # refused by the rule (NumPy raises for a scalar)
    ndim = max(ra, rb) if call.fn is np.linalg.cross else None
    return array(False, ndim, _promote(a.val.dtype, b.val.dtype))


def _cross(ctx, a, b, axes: tuple, linalg: bool) -> Operand:
    # a (B, *s, 3) with b (*t, 3): vector axes as negative axes, leading axes padded after the batch
    ra, rb = _ranked(ctx, a, b)
    if min(ra, rb) < 1:
        raise ctx.fail("a cross product of a per-example scalar (the loop raises)")
    found = _cross_axes(ra, rb, *axes)
    if isinstance(found, str):
        raise ctx.fail(found)
    na, nb, nc = found
    nodes, _ = align(ctx, [a, b])
    facts = cross_facts(ctx.call, a, b)
    if linalg:
        if not na == nb == nc:
            raise ctx.fail("linalg.cross with a non-negative axis and operands of different ranks")
        node = ctx.expr("np.linalg.cross(a, b, axis=k)", a=nodes[0], b=nodes[1], k=na)
        return emit(node, facts)
    kw = {k: v for k, v in (("axisa", na), ("axisb", nb), ("axisc", nc)) if v != -1}
    return emit(templates.call(ctx.expr("np.cross"), nodes, kw), facts)


@register(np.cross)
@infers(cross_facts)
def batch_cross(ctx, a, b, axisa=None, axisb=None, axisc=None, axis=None) -> Operand:
    return _cross(ctx, a, b, (axisa, axisb, axisc, axis), linalg=False)


@register(np.linalg.cross)
@infers(cross_facts)
def batch_linalg_cross(ctx, x1, x2, /, *, axis=None) -> Operand:
    return _cross(ctx, x1, x2, (axis, axis, axis, None), linalg=True)


# ---- kron -----------------------------------------------------------------------------------------


def kron_facts(call, a, b, **_) -> Val:
    """The larger rank; the arrays' promotion (Python numbers are made arrays first)."""
    ra, rb = rank(a), rank(b)
    if ra is None or rb is None:
        return UNKNOWN
    return array(False, max(ra, rb), _promote(a.val.dtype, b.val.dtype))


@register(np.kron)
@infers(kron_facts)
def batch_kron(ctx, a, b) -> Operand:
    # numpy/lib/_shape_base_impl.py: ranks padded to equal, an outer product with each axis of a
    # followed by the same axis of b, then merged: (B, *s) with (B, *t) -> (B, s0*t0, s1*t1, ...)
    ra, rb = _ranked(ctx, a, b)
    a, b = _strong(ctx, a), _strong(ctx, b)
    facts = kron_facts(ctx.call, a, b)
    if rb == 0:  # NumPy multiplies
        nodes, _ = align(ctx, [a, b])
        return emit(ctx.expr("np.multiply(a, b)", a=nodes[0], b=nodes[1]), facts)
    nd = max(ra, rb)
    sides = []  # each axis of a then the same axis of b; padded axes are new ones
    for o, r, pair in ((a, ra, [slice(None), None]), (b, rb, [None, slice(None)])):
        lead = [slice(None) if o.batched else None] + [None, None] * (nd - r)
        sides.append(templates.index(o.node, lead + pair * r))
    left, right = sides
    prod = ctx.temp(ctx.expr("np.multiply(a, b)", a=left, b=right), "kron")
    dims: list[ast.expr] = [templates.index(ctx.expr("p.shape", p=prod), [0])]
    for i in range(nd):
        n, m = (templates.index(ctx.expr("p.shape", p=prod), [j]) for j in (2 * i + 1, 2 * i + 2))
        dims.append(ast.BinOp(n, ast.Mult(), m))
    return emit(ctx.expr("p.reshape(s)", p=prod, s=ast.Tuple(dims, ast.Load())), facts)


# ---- vander ---------------------------------------------------------------------------------------


def vander_facts(call, x, **_) -> Val:
    """A matrix of the kind of `promote_types(x.dtype, int)`."""
    kind = {"b": "i", "i": "i", "f": "f", "c": "c"}.get(x.val.dtype or "")  # uint64 gives float64
    return array(False, 2, kind) if rank(x) == 1 else UNKNOWN


@register(np.vander)
@infers(vander_facts)
def batch_vander(ctx, x, N=None, increasing=None) -> Operand:
    # (B, n) -> (B, n, N): columns 1, x, x*x, ... as NumPy's `multiply.accumulate` makes them
    if _ranked(ctx, x)[0] != 1:
        raise ctx.fail("vander of a per-example array that is not 1-D (the loop raises)")
    n = None if N is None or static(N) is None else _index(static(N))
    if (N is not None and static(N) is not None and n is None) or (n is not None and n < 0):
        raise ctx.fail("vander with N not a static non-negative integer")
    rising = False if increasing is None else static(increasing)
    if not isinstance(rising, (bool, int, np.bool_, np.integer)):
        raise ctx.fail("vander with `increasing` not a static flag")
    xd = ctx.temp(ctx.expr("x.astype(np.promote_types(x.dtype, np.int_))", x=_strong(ctx, x).node), "x")
    count = ctx.expr("x.shape[-1]", x=xd) if n is None else templates.const(n)
    powers = ctx.expr(
        "np.concatenate([np.ones(x.shape + (1,), dtype=x.dtype),"
        " np.cumprod(np.repeat(x[..., None], m, axis=-1)[..., 1:], axis=-1)], axis=-1)",
        x=xd,
        m=count,
    )
    if n is None or n == 0:
        powers = templates.index(powers, [Ellipsis, ast.Slice(None, count, None)])
    if not rising:
        powers = ctx.expr("np.flip(v, axis=-1)", v=powers)
    return emit(powers, vander_facts(ctx.call, x))


# ---- trapezoid ------------------------------------------------------------------------------------


def _float_kind(*kinds) -> str | None:
    """The kind of `d * (y + y) / 2.0`: complex if any operand is, else float."""
    if any(k is None or k not in _ORDER for k in kinds):
        return None
    return "c" if "c" in kinds else "f"


def trapezoid_facts(call, y, x=None, dx=None, axis=None, **_) -> Val:
    """The rank of `d * (y[1:] + y[:-1])` less the axis summed; float or complex."""
    ry = rank(y)
    d = x if x is not None and static(x) is not None else dx
    rd = 0 if d is None else rank(d)
    if ry is None or rd is None or ry < 1:
        return UNKNOWN
    if x is not None and static(x) is not None and rd == 1:
        rd = ry  # a 1-D x spaces the summed axis
    return array(False, max(ry, rd) - 1, _float_kind(y.val.dtype, "f" if d is None else d.val.dtype))


@register(np.trapezoid)
@infers(trapezoid_facts)
def batch_trapezoid(ctx, y, x=None, dx=None, axis=None) -> Operand:
    # numpy/lib/_function_base_impl.py: `(d * (y[1:] + y[:-1]) / 2.0).sum(axis)` along the axis
    ry = _ranked(ctx, y)[0]
    if ry < 1:
        raise ctx.fail("trapezoid of a per-example scalar (the loop raises)")
    ax = _axis(ctx, axis, -1, ry)
    yo = _strong(ctx, y) if not y.batched else y
    ends = [_along(yo.node, ax, ry, slice(1, None)), _along(yo.node, ax, ry, slice(None, -1))]
    total = Operand(ast.BinOp(ends[0], ast.Add(), ends[1]), Val(y.batched, ry, Kind.ARRAY, y.val.dtype))
    if x is not None and static(x) is not None:
        d = _spacing(ctx, x, axis, ax, ry)
    elif dx is None:
        d = Operand(ast.Constant(1.0), Val(False, 0, Kind.SCALAR, "f"))
    else:
        _ranked(ctx, dx)
        d = _weak(ctx, dx)
    nodes, top = align(ctx, [d, total])
    if top is None:
        raise ctx.fail("a spacing whose per-example rank is not known")
    whole = _axis(ctx, axis, -1, top)
    node = ctx.expr("(d * (t) / 2.0).sum(axis=k)", d=nodes[0], t=nodes[1], k=whole + 1)
    return emit(node, trapezoid_facts(ctx.call, y, x, dx))


def _spacing(ctx, x, axis, ax: int, ry: int) -> Operand:
    """`d` of trapezoid for sample points `x`: the differences of a 1-D x shaped along the axis, else
    `diff(x, axis=axis)`."""
    rx = _ranked(ctx, x)[0]
    xo = _strong(ctx, x) if not x.batched else x
    if rx == 1:
        d = ctx.expr("np.diff(x, axis=-1)", x=xo.node)
        others = tuple(i + x.batched for i in range(ry) if i != ax)
        if others:
            d = ctx.expr("np.expand_dims(d, k)", d=d, k=others)
        return Operand(d, Val(x.batched, ry, Kind.ARRAY, x.val.dtype))
    if rx < 1:
        raise ctx.fail("trapezoid with per-example scalar sample points (the loop raises)")
    k = _axis(ctx, axis, -1, rx)
    d = ctx.expr("np.diff(x, axis=k)", x=xo.node, k=k + x.batched)
    return Operand(d, Val(x.batched, rx, Kind.ARRAY, x.val.dtype))


# ---- ediff1d --------------------------------------------------------------------------------------

_SAME_KIND = {"b": "biufc", "u": "uifc", "i": "ifc", "f": "fc", "c": "c"}  # can_cast(.., "same_kind")


def ediff1d_facts(call, ary, **_) -> Val:
    """A vector of the operand's kind."""
    return array(False, 1, ary.val.dtype)


@register(np.ediff1d)
@infers(ediff1d_facts)
def batch_ediff1d(ctx, ary, to_end=None, to_begin=None) -> Operand:
    # each example flattened: (B, *s) -> (B, n - 1), with to_begin/to_end (shared) cast to its dtype
    nd = _ranked(ctx, ary)[0]
    a = _strong(ctx, ary).node
    if nd == 1:
        flat = a
    elif nd > 1:
        flat = ctx.expr("av__.flatten(x)", x=a)
    else:
        flat = templates.index(a, [slice(None), None])
    flat = ctx.temp(flat, "flat") if to_begin is not None or to_end is not None else flat
    diff = ctx.expr("x[:, 1:] - x[:, :-1]", x=flat)
    parts: list[ast.expr | None] = []
    for end in (to_begin, to_end):
        if end is None or static(end) is None:
            parts.append(None)
            continue
        if end.batched:
            raise ctx.fail("ediff1d with to_begin/to_end that differ between examples")
        kind = np.asarray(static(end)).dtype.kind if end.is_static else end.val.dtype
        if kind is None or ary.val.dtype is None or ary.val.dtype not in _SAME_KIND.get(kind, ""):
            raise ctx.fail("to_begin/to_end not castable to the array's dtype (the loop raises)")
        cast = ctx.expr("np.asarray(v).ravel().astype(x.dtype)", v=end.node, x=flat)
        parts.append(ctx.expr("av__.batch_broadcast(v, B)", v=cast, B=ctx.batch_size()))
    if parts == [None, None]:
        return emit(diff, ediff1d_facts(ctx.call, ary))
    items = [p for p in (parts[0], diff, parts[1]) if p is not None]
    node = ctx.expr("np.concatenate(xs, axis=1)", xs=ast.List(items, ast.Load()))
    return emit(node, ediff1d_facts(ctx.call, ary))


# ---- unwrap ---------------------------------------------------------------------------------------

_WIDTHS = {"b": ("?", "?"), "u": ("u1", "u8"), "i": ("i1", "i8"), "f": ("f2", "f8"), "c": ("c8", "c16")}


def _unwrap_kind(kind, period) -> str | None:
    """The kind of `result_type(diff(p), period)` when every width of p's kind agrees on it."""
    if kind not in _WIDTHS or period is NO_STATIC:
        return None
    try:
        found = {np.result_type(np.empty(0, w), period).kind for w in _WIDTHS[kind]}
    except (TypeError, ValueError, OverflowError):
        return None
    return found.pop() if len(found) == 1 else None


def unwrap_facts(call, p, discont=None, axis=None, period=None, **_) -> Val:
    """The same rank; of `result_type(diff(p), period)`."""
    nd = rank(p)
    value = 2 * np.pi if period is None else static(period)
    return array(False, nd, _unwrap_kind(p.val.dtype, value)) if nd else UNKNOWN


@register(np.unwrap)
@infers(unwrap_facts)
def batch_unwrap(ctx, p, discont=None, axis=None, *, period=None) -> Operand:
    # numpy/lib/_function_base_impl.py with the axis shifted; its `copyto(..., where=)` become `np.where`
    nd = _ranked(ctx, p)[0]
    if not p.batched or nd < 1 or (period is not None and not period.is_static):
        raise _refuse(
            ctx, "unwrap of a shared p, a per-example scalar, or a period not static", period, discont
        )
    k = _axis(ctx, axis, -1, nd) + 1
    value = 2 * np.pi if period is None else static(period)
    kind = _unwrap_kind(p.val.dtype, value)
    if kind is None:
        raise ctx.fail("unwrap whose result dtype is not known when the code is rewritten")
    per = templates.const(value) if period is None else period.node
    integer = kind in "iu"
    if integer and not isinstance(value, (int, np.integer)):
        raise ctx.fail("unwrap with an integer result and a period that is not an integer")
    dd = ctx.temp(ctx.expr("np.diff(x, axis=k)", x=p.node, k=k), "dd")
    high = ctx.temp(ctx.expr("t // 2" if integer else "t / 2", t=per), "high")
    low = ctx.temp(ctx.expr("-h", h=high), "low")
    ddmod = ctx.temp(ctx.expr("np.mod(d - lo, t) + lo", d=dd, lo=low, t=per), "ddmod")
    if not integer or value % 2 == 0:  # boundary_ambiguous
        ddmod = ctx.temp(
            ctx.expr("np.where((m == lo) & (d > 0), h, m)", m=ddmod, lo=low, d=dd, h=high), "ddmod"
        )
    if discont is None or static(discont) is None:
        limit = ctx.expr("t / 2", t=per)
    else:
        if _ranked(ctx, discont)[0] != 0:
            raise ctx.fail("unwrap with a discontinuity that is not a scalar")
        limit = align(ctx, [_weak(ctx, discont), Operand(dd, Val(True, nd, Kind.ARRAY))])[0][0]
    fix = ctx.temp(ctx.expr("np.where(np.abs(d) < c, 0, m - d)", d=dd, c=limit, m=ddmod), "ph_correct")
    dt = ctx.temp(ctx.expr("np.result_type(d.dtype, t)", d=dd, t=per), "dtype")
    first = _along(p.node, k - 1, nd, slice(None, 1))
    rest = ctx.expr("x + f.cumsum(axis=k)", x=_along(p.node, k - 1, nd, slice(1, None)), f=fix, k=k)
    node = ctx.expr("np.concatenate([a.astype(t), b.astype(t)], axis=k)", a=first, b=rest, t=dt, k=k)
    return emit(node, unwrap_facts(ctx.call, p, period=period))


# ---- gradient -------------------------------------------------------------------------------------


def _gradient_axes(f, axis) -> tuple[int, ...] | None:
    """The per-example axes of gradient (non-negative), None when not static or out of range."""
    nd = rank(f)
    value = None if axis is None else static(axis)
    if nd is None or nd < 1 or value is NO_STATIC:
        return None
    values = range(nd) if value is None else value if isinstance(value, (tuple, list)) else (value,)
    found = [_index(v) for v in values]
    if any(v is None or not -nd <= v < nd for v in found):
        return None
    return tuple(v % nd for v in found if v is not None)


def gradient_facts(call, f, varargs=(), axis=None, **_) -> Val:
    """One array of f's rank per axis (a tuple for several, NumPy 2); float for integers."""
    axes = _gradient_axes(f, axis)
    if axes is None:
        return UNKNOWN
    kind = {"i": "f", "u": "f", "f": "f", "c": "c"}.get(f.val.dtype or "")
    one = array(False, rank(f), kind)
    return one if len(axes) == 1 else Val(False, None, Kind.TUPLE, None, (one,) * len(axes))


@register(np.gradient)
@infers(gradient_facts)
def batch_gradient(ctx, f, *varargs, axis=None, edge_order=None) -> Operand:
    # every axis is differenced on its own: the same call over the batch, the axes shifted past it
    axes = _gradient_axes(f, axis)
    if not f.batched or axes is None or not axes:
        raise ctx.fail("gradient of a per-example scalar, or axes not static or out of range")
    if any(v.batched for v in varargs) or (edge_order is not None and edge_order.batched):
        raise _refuse(ctx, "gradient spacings or edge_order that differ between examples", *varargs)
    kw = {"axis": templates.const(tuple(a + 1 for a in axes))}
    if edge_order is not None:
        kw["edge_order"] = edge_order.node
    node = ctx.call.rebuild([f.node] + [v.node for v in varargs], kw)
    facts = gradient_facts(ctx.call, f, varargs, axis)
    if facts.kind == Kind.TUPLE:
        return Operand(
            node, facts.with_(batched=True, elts=tuple(e.with_(batched=True) for e in facts.elts or ()))
        )
    return emit(node, facts)


# ---- select ---------------------------------------------------------------------------------------


def _result_dtype(*xs):
    return np.empty(0, np.result_type(*xs))


def select_facts(call, condlist, choicelist, default=None, **_) -> Val:
    """The broadcast of every condition and choice; `result_type` of the choices and the default (Python
    numbers weak)."""
    conds, choices = condlist.val.elts, choicelist.val.elts
    if conds is None or choices is None or len(conds) != len(choices) or not conds:
        return UNKNOWN
    zero = Operand(ast.Constant(0), Val(False, 0, Kind.SCALAR, "i"))
    ops = [Operand(ast.Constant(None), v) for v in conds + choices] + [zero if default is None else default]
    ranks = [rank(o) for o in ops]
    ndim = None if any(r is None for r in ranks) else max(r for r in ranks if r is not None)
    return array(False, ndim, result_kind(_result_dtype, ops[len(conds) :]))


@register(np.select)
@infers(select_facts)
def batch_select(ctx, condlist, choicelist, default=None) -> Operand:
    # the same select over the batch, every operand's per-example axes lined up after the batch axis
    conds, choices = _items(ctx, condlist, "condition list"), _items(ctx, choicelist, "choice list")
    if len(conds) != len(choices) or not conds:
        raise ctx.fail("select with lists of different or no length (the loop raises)")
    ops = conds + choices + ([] if default is None else [default])
    if any(o.batched and (o.val.kind != Kind.ARRAY or o.val.py or o.val.py_some) for o in ops):
        raise _refuse(ctx, "select of batched values that are not arrays (Python numbers stay weak)", *ops)
    nodes, _ = align(ctx, ops)
    n = len(conds)
    args = [ast.List(nodes[:n], ast.Load()), ast.List(nodes[n : 2 * n], ast.Load()), *nodes[2 * n :]]
    return emit(
        templates.call(ctx.expr("np.select"), args), select_facts(ctx.call, condlist, choicelist, default)
    )


# ---- piecewise ------------------------------------------------------------------------------------

# NOTE [elementwise callables]: per example `piecewise` calls each function on `x[cond]`, the selected
# elements only, and casts what it returns into a zeros_like(x) at those places. The batched form calls
# it once on every element of the batch and keeps the selected places, which is the same only for a
# function that works element by element: one expression of its single parameter, numbers, static
# names of numbers, operators and calls of NumPy functions whose rule has the "elementwise" trait.
# Anything else (`lambda v: v - v.mean()` sees the selection as a whole) runs as the loop. The loop
# calls a function only where some element is selected, and on those elements only: the batched form
# calls it only when some element of the batch is selected (a function may raise whatever values it
# gets), and unless it is quiet (it can neither raise nor warn by the values, `registry` trait
# "quiet"), on a copy of x whose other elements hold the first selected element (`log` never sees the
# values the condition excluded).

_BINOPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow, ast.LShift, ast.RShift)
_BITOPS = (ast.BitAnd, ast.BitOr, ast.BitXor)
_QUIET_BINOPS = (ast.Add, ast.Sub, ast.Mult, *_BITOPS)
_COMPARE = (ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE)
_NUMBERS = (bool, int, float, complex, np.bool_, np.number)
_NOT_ELEMENTWISE = {np.real_if_close}  # its dtype depends on every value it gets


class _NotElementwise(Exception):
    pass


def _elementwise_function(fn, nargs: int) -> bool:
    """Does NumPy's `fn` of `nargs` operands give one array of their broadcast shape, element by element?"""
    if not has(fn, "elementwise") or fn in _NOT_ELEMENTWISE or (fn is np.where and nargs != 3):
        return False
    if isinstance(fn, np.ufunc):
        return fn.nout == 1
    return fn is abs or (getattr(fn, "__module__", None) or "").split(".")[0] == "numpy"


class _Elementwise:
    """Checks one expression of a function's parameter (NOTE [elementwise callables]); `local`: names the
    function must not read (locals of the function it was made in); `deps`: the static names it read."""

    def __init__(self, param: str, src, local=frozenset()):
        self.param, self.src, self.local = param, src, local
        self.quiet = True
        self.deps: list = []

    def check(self, node) -> None:
        if isinstance(node, ast.Constant):
            if type(node.value) not in (bool, int, float, complex):
                raise _NotElementwise("a constant that is not a number")
        elif isinstance(node, (ast.Name, ast.Attribute)):
            parameter = isinstance(node, ast.Name) and node.id == self.param
            if not parameter and not isinstance(self.lookup(node), _NUMBERS):
                raise _NotElementwise("a value that is not a number")
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd, ast.Invert)):
            self.check(node.operand)
        elif isinstance(node, ast.BinOp) and isinstance(node.op, _BINOPS + _BITOPS):
            right = node.right.value if isinstance(node.right, ast.Constant) else None
            by_constant = type(right) in (int, float) and right != 0  # division by a nonzero constant
            if not isinstance(node.op, _QUIET_BINOPS) and not (
                isinstance(node.op, (ast.Div, ast.FloorDiv, ast.Mod)) and by_constant
            ):
                self.quiet = False
            self.check(node.left)
            self.check(node.right)
        elif isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], _COMPARE):
            self.check(node.left)
            self.check(node.comparators[0])
        elif isinstance(node, ast.Call) and not node.keywords:
            self.call(node)
        else:
            raise _NotElementwise(f"`{ast.unparse(node)}`")

    def call(self, node: ast.Call) -> None:
        fn = self.lookup(node.func)
        if not _elementwise_function(fn, len(node.args)):
            raise _NotElementwise(f"a call of `{ast.unparse(node.func)}`")
        self.quiet = self.quiet and has(fn, "quiet")
        for a in node.args:
            if isinstance(a, ast.Starred):
                raise _NotElementwise("a call with *args")
            self.check(a)

    def lookup(self, node):
        """The static object a name or a dotted name stands for."""
        if isinstance(node, ast.Attribute):
            base = self.lookup(node.value)
            try:
                obj = getattr(base, node.attr)
            except AttributeError:
                raise _NotElementwise(f"`{ast.unparse(node)}`") from None
            self.deps.append(("attr", base, node.attr, obj))
            return obj
        if not isinstance(node, ast.Name) or node.id == self.param or node.id in self.local:
            raise _NotElementwise(f"`{ast.unparse(node)}`")
        found, obj, where = self.src.resolve(node.id)
        if not found:
            raise _NotElementwise(f"`{node.id}` is not known when the code is rewritten")
        self.deps.append((where, self.src, node.id, obj))
        return obj


def _single_expression(fdef) -> tuple[str, ast.expr] | None:
    """(parameter, expression) of a lambda or def of one parameter whose body returns one expression."""
    a = fdef.args
    params = a.posonlyargs + a.args
    if a.vararg or a.kwarg or a.kwonlyargs or a.defaults or len(params) != 1:
        return None
    if isinstance(fdef, ast.Lambda):
        return params[0].arg, fdef.body
    doc = fdef.body and isinstance(fdef.body[0], ast.Expr) and isinstance(fdef.body[0].value, ast.Constant)
    body = fdef.body[1:] if doc else fdef.body
    if fdef.decorator_list or len(body) != 1 or not isinstance(body[0], ast.Return) or body[0].value is None:
        return None
    return params[0].arg, body[0].value


def _bound_names(fdef) -> set[str]:
    """Every name a function binds anywhere (its locals, and some more)."""
    names: set[str] = set()
    for n in ast.walk(fdef):
        if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load):
            names.add(n.id)
        elif isinstance(n, ast.arg):
            names.add(n.arg)
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(n.name)
        elif isinstance(n, ast.alias):
            names.add((n.asname or n.name).split(".")[0])
        elif isinstance(n, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)) and n.name:
            names.add(n.name)
        elif isinstance(n, (ast.Global, ast.Nonlocal)):
            names.update(n.names)
    return names


def _made_in(node, fdef) -> bool:
    """Is the lambda or def `node` written in `fdef` (the rewrite works on a copy of its tree)?"""

    def where(n):
        return tuple(getattr(n, k, None) for k in ("lineno", "col_offset", "end_lineno", "end_col_offset"))

    if None in where(node):
        return False
    text = ast.dump(node)
    return any(
        type(n) is type(node) and where(n) == where(node) and ast.dump(n) == text for n in ast.walk(fdef)
    )


def _callable_quiet(ctx, fn: Operand) -> bool:
    """Is `fn`, a function of piecewise's list, elementwise (NOTE [elementwise callables])? Then whether
    it is quiet; else the rule gives up."""
    from ..frontend.source import function_source
    from ..transform.callsites import LocalFunction

    obj = fn.val.obj if fn.val.kind == Kind.CALLABLE else static(fn)
    if isinstance(obj, LocalFunction):
        if not _made_in(obj.node, ctx.src.fdef):
            raise ctx.fail("piecewise of a function made in another function")
        src, local, fdef = ctx.src, _bound_names(ctx.src.fdef), obj.node
    elif _elementwise_function(obj, 1):
        return has(obj, "quiet")
    elif isinstance(obj, types.FunctionType) and not (obj.__module__ or "").startswith("numpy"):
        try:
            src = function_source(obj)
        except Exception:
            raise ctx.fail("piecewise of a function whose source is not known") from None
        local, fdef = set(), src.fdef
    else:
        raise ctx.fail("piecewise of a callable that is not a function of its own")
    found = _single_expression(fdef)
    if found is None:
        raise ctx.fail("piecewise of a function that is not one expression of one parameter")
    checker = _Elementwise(found[0], src, local)
    try:
        checker.check(found[1])
    except _NotElementwise as e:
        raise ctx.fail(f"piecewise of a function that may not work element by element: {e}") from None
    if not any(isinstance(n, ast.Name) and n.id == found[0] for n in ast.walk(found[1])):
        raise ctx.fail("piecewise of a function that does not read its parameter")
    ctx.deps.extend(checker.deps)
    return checker.quiet


def piecewise_facts(call, x, **_) -> Val:
    """x's rank and kind (the functions' values are cast into `zeros_like(x)`)."""
    return array(False, rank(x), x.val.dtype) if x.val.kind in (Kind.ARRAY, Kind.SCALAR) else UNKNOWN


def _conditions(ctx, condlist: Operand, nd: int) -> list[ast.expr]:
    """piecewise's conditions, each as a boolean `(B, *s)` array."""
    if condlist.val.kind == Kind.ARRAY and condlist.val.ndim == 1 == nd:
        # one condition, not in a list (NumPy wraps it, after reading its first element)
        items = [condlist]
        ctx.temp(templates.index(condlist.node, [Ellipsis, 0]), "first")
    else:
        items = _items(ctx, condlist, "condition list")
    nodes = []
    for c in items:
        if (
            c.val.kind not in (Kind.ARRAY, Kind.SCALAR)
            or c.val.ndim != nd
            or (c.batched and c.val.kind != Kind.ARRAY)
        ):
            raise ctx.fail("piecewise conditions not of x's per-example rank")
        node = ctx.expr("np.asarray(c, dtype=np.bool_)", c=c.node)
        if not c.batched:
            node = ctx.expr("av__.batch_broadcast(c, B)", c=node, B=ctx.batch_size())
        nodes.append(node)
    return nodes


def _piece(ctx, fn: Operand, x: ast.expr, mask: ast.expr, y: ast.expr) -> ast.expr:
    """`y` with the places of `mask` set as piecewise sets them from `fn`: a value cast into x's dtype,
    or what a function returns for them (NOTE [elementwise callables])."""
    if fn.batched:
        raise _refuse(ctx, "piecewise of values that differ between examples", fn)
    if fn.val.kind == Kind.SCALAR or (fn.val.kind == Kind.ARRAY and fn.val.ndim == 0):
        return ctx.expr("np.where(m, np.array(v, dtype=x.dtype), y)", m=mask, v=fn.node, x=x, y=y)
    if fn.val.kind != Kind.CALLABLE and not callable(static(fn)):
        raise ctx.fail("piecewise of a function list item that is neither a number nor a function")
    quiet = _callable_quiet(ctx, fn)
    arg = x if quiet else ctx.expr("np.where(m, x, np.ravel(x)[np.argmax(np.ravel(m))])", m=mask, x=x)
    value = ctx.expr("f(a).astype(x.dtype, copy=False)", f=fn.node, a=arg, x=x)
    return ctx.expr("np.where(m, v, y) if np.any(m) else y", m=mask, v=value, y=y)


@register(np.piecewise)
@infers(piecewise_facts)
def batch_piecewise(ctx, x, condlist, funclist, *args, **kw) -> Operand:
    try:
        return _piecewise(ctx, x, condlist, funclist, args, kw)
    except NoPieceLoop:
        raise
    except NotBatchable as e:
        if _reads_locals(ctx, funclist):
            # a loop of this call would run the function with the batch's values of those names
            raise NoPieceLoop(f"{e.msg}, and of a function that reads local values", ctx.node) from None
        raise


def _reads_locals(ctx, funclist: Operand) -> bool:
    """Does a function of the list read a value of the function being rewritten, or of the one that made
    it (a lambda or def made in another function, a partial, an inner vmap)?"""
    from ..transform.callsites import InnerVmap, LocalFunction, LocalPartial

    local = None
    for v in funclist.val.elts or (funclist.val.item,):
        if v is None or not isinstance(v.obj, (LocalFunction, LocalPartial, InnerVmap)):
            continue
        if not isinstance(v.obj, LocalFunction) or not _made_in(v.obj.node, ctx.src.fdef):
            return True
        local = _bound_names(ctx.src.fdef) if local is None else local
        own = _bound_names(v.obj.node)
        if any(isinstance(n, ast.Name) and n.id in local - own for n in ast.walk(v.obj.node)):
            return True
    return False


def _piecewise(ctx, x, condlist, funclist, args, kw) -> Operand:
    # numpy/lib/_function_base_impl.py: conditions stacked (their shapes must be x's), then each piece
    # written over zeros_like(x) in order, a later condition winning; the last function, one more than
    # the conditions, takes the places no condition selects
    if args or kw:
        raise ctx.fail("piecewise passing arguments to its functions")
    nd = _ranked(ctx, x)[0]
    conds = _conditions(ctx, condlist, nd)
    funcs = _items(ctx, funclist, "function list")
    if len(funcs) not in (len(conds), len(conds) + 1):
        raise ctx.fail("piecewise with a number of functions that does not fit the conditions")
    xs = _strong(ctx, x).node
    if not x.batched:
        xs = ctx.expr("av__.batch_broadcast(x, B)", x=xs, B=ctx.batch_size())
    xs = xs if isinstance(xs, ast.Name) else ctx.temp(xs, "x")
    shape = ctx.expr("np.zeros_like(x, dtype=np.bool_)", x=xs)
    stacked = ctx.temp(ctx.expr("np.stack(cs)", cs=ast.List([shape, *conds], ast.Load())), "conds")
    masks = [templates.index(stacked, [i + 1]) for i in range(len(conds))]
    if len(funcs) > len(conds):
        masks.append(ctx.temp(ctx.expr("~np.any(c[1:], axis=0)", c=stacked), "otherwise"))
    y = ctx.temp(ctx.expr("np.zeros_like(x)", x=xs), "y")
    for fn, mask in zip(funcs, masks):
        y = ctx.temp(_piece(ctx, fn, xs, mask, y), "y")
    return emit(y, piecewise_facts(ctx.call, x))
