"""Elementwise operations: operators, every NumPy ufunc, and broadcasting n-ary functions.

Shape case: per-example operands broadcast against each other; batched ones carry `(B, ...)` and are
aligned first (NOTE [mixed ranks]): `(B,)` with `(n,)` -> `x[:, None] + y` -> `(B, n)`.
"""

from __future__ import annotations

import ast
import operator

import numpy as np

from ..errors import NoPieceLoop
from ..kit import templates
from .common import align, arrays, kw_nodes, out, rank, require_unbatched, result_kind
from .registry import register, register_family
from .values import Kind, MaskedSelection, Operand, Val, python_number

OPERATORS = [
    operator.add,
    operator.sub,
    operator.mul,
    operator.truediv,
    operator.floordiv,
    operator.mod,
    operator.pow,
    operator.and_,
    operator.or_,
    operator.xor,
    operator.lshift,
    operator.rshift,
    operator.lt,
    operator.le,
    operator.gt,
    operator.ge,
    operator.eq,
    operator.ne,
    operator.neg,
    operator.pos,
    operator.invert,
]
# Python's arithmetic: on Python numbers its result is a Python number; these raise where NumPy's give
# a special value (pynum.py)
_PY_ARITH = {operator.add, operator.sub, operator.mul, operator.neg, operator.pos}
PY_CHECKED = {
    operator.truediv: "py_truediv",
    operator.floordiv: "py_floordiv",
    operator.mod: "py_mod",
    operator.pow: "py_pow",
}
# NumPy's elementwise ufuncs (a gufunc, `signature` not None, works on core dimensions: batch_gufunc)
UFUNCS = sorted(
    {
        getattr(np, n)
        for n in dir(np)
        if isinstance(getattr(np, n), np.ufunc) and getattr(np, n).signature is None
    },
    key=lambda u: u.__name__,
)
BROADCASTING = [
    np.where,
    np.clip,
    np.isclose,
    np.round,
    np.around,
    np.nan_to_num,
    np.real,
    np.imag,
    np.angle,
    np.conj,
    np.sinc,
    np.i0,
    np.isreal,
    np.iscomplex,
    np.real_if_close,
    abs,
    np.ndarray.clip,
    np.ndarray.round,
    np.ndarray.conj,
    np.ndarray.conjugate,
]


_COMPARISONS = {
    operator.lt,
    operator.le,
    operator.gt,
    operator.ge,
    operator.eq,
    operator.ne,
    np.less,
    np.less_equal,
    np.greater,
    np.greater_equal,
    np.equal,
    np.not_equal,
    np.logical_and,
    np.logical_or,
    np.logical_not,
    np.logical_xor,
    np.isnan,
    np.isinf,
    np.isfinite,
    np.signbit,
    np.isclose,
}


def _elementwise_ufunc(obj: object) -> bool:
    """Any library's elementwise ufunc of one output (`scipy.special.expit`): it broadcasts like `np.add`."""
    return isinstance(obj, np.ufunc) and obj.signature is None and obj.nout == 1


def _elementwise_ufunc_multi(obj: object) -> bool:
    """Any library's elementwise ufunc of several outputs (`np.modf`'s kind)."""
    return isinstance(obj, np.ufunc) and obj.signature is None and obj.nout > 1


@register_family(_elementwise_ufunc)
@register(*OPERATORS, *[u for u in UFUNCS if u.nout == 1], *BROADCASTING, numba=True)
def batch_elementwise(ctx, *args, **kwargs) -> Operand:
    # (B, *s), t, ... -> (B, *broadcast(s, t, ...)) after aligning per-example ranks
    if "out" in kwargs or ("where" in kwargs and kwargs["where"].batched):
        raise ctx.fail("`out=`/batched `where=` of an elementwise function")
    require_unbatched(ctx, **{k: v for k, v in kwargs.items() if k != "where"})
    if not arrays(*args):
        raise ctx.fail("an elementwise operation on a container")
    if ctx.call.fn is np.where and len(args) != 3:
        raise ctx.fail("np.where with one argument (per-example results of different lengths)")
    if ctx.call.fn is operator.mod and args and args[0].val.kind not in (Kind.ARRAY, Kind.SCALAR):
        raise ctx.fail("`%` formatting")
    selection = _through_selection(ctx, args, kwargs)
    if selection is None:
        nodes, ndim = align(ctx, args)
    else:  # only a reduction reads this (or the loop fails loudly on the ragged selection): no temporaries
        nodes, ndim = [a.node for a in args], None
    batched = any(a.batched for a in args)
    dtype: str | None
    if ctx.call.fn in _COMPARISONS:
        dtype = "b"
    else:
        dtype = result_kind(ctx.call.fn, args) if not ctx.call.method else args[0].val.dtype
    py = _python_arithmetic(ctx, args, kwargs)
    py_some = _python_on_some_lanes(ctx, args, kwargs)
    if not py:
        nodes = _weak_columns(ctx, args, nodes)
    node = ctx.call.rebuild(nodes, kw_nodes(kwargs))
    if py and batched and ctx.call.fn in PY_CHECKED:
        node = ast.Call(ctx.expr(f"av__.{PY_CHECKED[ctx.call.fn]}"), nodes, [])
    result = out(node, batched, ndim, dtype, py=py, py_some=py_some)
    if py and not batched:  # Python's arithmetic on unbatched Python numbers: a Python number
        result = Operand(node, Val(False, 0, Kind.SCALAR, dtype))
    return result if selection is None else Operand(result.node, result.val.with_(obj=selection))


def _weak_columns(ctx, args, nodes):
    """Per example a Python number beside NumPy operands takes their dtype (NEP 50: `float(k) * x` is
    float32 for a float32 `x`); the batch holds the numbers as a float64 or int64 column, which
    `av__.weak(column)` marks so that the ufunc casts it as NumPy casts each number. (A column that
    holds Python numbers on some lanes only carries its own mark, pynum.SomePyColumn, from the select
    that made it; unmarked, it computes as NumPy scalars of its dtype would, which is then exact.)"""
    if all(python_number(a.val) for a in args):
        return nodes
    return [
        ast.Call(ctx.expr("av__.weak"), [n], []) if a.batched and a.val.py else n for a, n in zip(args, nodes)
    ]


def _python_on_some_lanes(ctx, args, kwargs) -> bool:
    """Is this Python's arithmetic on numbers of which some are Python numbers on some lanes only (and
    the rest Python numbers)? Its result is such a number; an operator that raises on Python numbers
    only (`/` by zero) would raise on some lanes only: no batched form nor piece's loop is exact (a
    piece's loop sees NumPy scalars), the whole function runs as the loop."""
    if not any(a.val.py_some for a in args) or not all(python_number(a.val) or a.val.py_some for a in args):
        return False
    if ctx.call.fn in PY_CHECKED or ctx.call.fn is divmod:
        raise NoPieceLoop(
            "Python's arithmetic on a number that is a Python number for some examples and a NumPy "
            "scalar for others (they raise differently)"
        )
    return not kwargs and not ctx.call.method and ctx.call.fn in _PY_ARITH


def _python_arithmetic(ctx, args, kwargs) -> bool:
    """Is this Python's arithmetic on numbers that are Python numbers per example (`1.0 / float(k)`)?"""
    fn = ctx.call.fn
    return (
        not kwargs
        and not ctx.call.method
        and (fn in _PY_ARITH or fn in PY_CHECKED)
        and all(python_number(a.val) for a in args)
    )


def _through_selection(ctx, args, kwargs):
    """`x[mask] > 4` is `(x > 4)[mask]`: an elementwise operation of a masked selection with values
    shared by every element (per-example scalars, constants) keeps the selection for a reduction."""
    sels = [a for a in args if isinstance(a.val.obj, MaskedSelection)]
    if len(sels) != 1 or kwargs:
        return None
    sel = sels[0].val.obj
    others = [a for a in args if a is not sels[0]]
    if any(a.val.kind not in (Kind.ARRAY, Kind.SCALAR) or a.val.ndim != 0 for a in others):
        return None
    inner = [sel.x if a is sels[0] else a for a in args]
    nodes, ndim = align(ctx, inner)
    x = out(ctx.call.rebuild(nodes, {}), any(a.batched for a in inner), ndim, result_kind(ctx.call.fn, inner))
    return MaskedSelection(x, sel.mask, sel.site)


@register_family(_elementwise_ufunc_multi)
@register(*[u for u in UFUNCS if u.nout > 1], divmod, numba=True)
def batch_elementwise_multi(ctx, *args, **kwargs) -> Operand:
    # like batch_elementwise, but the result is a tuple of arrays (np.modf, np.frexp, np.divmod, divmod)
    if "out" in kwargs:
        raise ctx.fail("`out=`")
    require_unbatched(ctx, **kwargs)
    nodes, ndim = align(ctx, args)
    nout = getattr(ctx.call.fn, "nout", 2)
    if ctx.call.fn is divmod:
        _python_on_some_lanes(ctx, args, kwargs)
    py = ctx.call.fn is divmod and all(python_number(a.val) for a in args)
    elt = Val(True, ndim, Kind.ARRAY, py=py)
    node = ctx.call.rebuild(nodes, kw_nodes(kwargs))
    if py:  # divmod(a, 0) of Python numbers raises
        node = ast.Call(ctx.expr("av__.py_divmod"), nodes, [])
    return Operand(node, Val(True, None, Kind.TUPLE, None, (elt,) * nout))


@register(operator.not_)
def batch_not(ctx, x) -> Operand:
    # `not x` of a per-example scalar: (B,) -> (B,) bool. The loop raises for arrays of size > 1.
    if x.val.ndim != 0:
        raise ctx.fail("`not` of a per-example array (the loop would raise unless it has one element)")
    if x.val.dtype == "b":
        return out(ast.UnaryOp(ast.Invert(), x.node), True, 0, "b")
    return out(ctx.expr("np.logical_not(x)", x=x.node), True, 0, "b")


# ---- generalized ufuncs: broadcasting over loop dimensions, core dimensions last --------------------
def _core_dims(signature: str) -> tuple[list[int], list[int]] | None:
    """Core ranks of the inputs and outputs of a gufunc signature: "(m,n),(n)->(m)" -> [2, 1], [1]. None
    for optional dimensions ("n?", matmul's: they change the core rank per call)."""
    if "?" in signature or "->" not in signature:
        return None
    ins, outs = signature.replace(" ", "").split("->")

    def ranks(part: str) -> list[int]:
        groups = part[1:-1].split("),(") if part else []
        return [len([d for d in g.split(",") if d]) for g in groups]

    return ranks(ins), ranks(outs)


def _gufunc(obj: object) -> bool:
    return isinstance(obj, np.ufunc) and obj.signature is not None and obj.nout == 1


@register_family(_gufunc)
def batch_gufunc(ctx, *args, **kwargs) -> Operand:
    # A gufunc broadcasts its loop dimensions and works on core dimensions (the last ones):
    # np.matvec (m,n),(n)->(m): (m, n) shared, (B, n) -> (B, m). The batch axis is a loop dimension, so a
    # batched operand gets new axes after it up to the largest per-example loop rank (NOTE [mixed ranks]).
    core = _core_dims(ctx.call.fn.signature)
    if core is None or kwargs:
        raise ctx.fail("a generalized ufunc with optional core dimensions or keyword arguments")
    ins, (out_core,) = core
    ranks = [r for r in (rank(a) for a in args) if r is not None]
    if len(ranks) != len(args) or len(args) != len(ins):
        raise ctx.fail("a generalized ufunc's operands of unknown rank")
    loop_ranks = [r - c for r, c in zip(ranks, ins)]
    if min(loop_ranks) < 0:
        raise ctx.fail("an operand with fewer axes than the generalized ufunc's core dimensions")
    top = max(loop_ranks)
    nodes = [
        templates.batch_slice_prefix(a.node, top - lr) if a.batched else a.node
        for a, lr in zip(args, loop_ranks)
    ]
    return out(
        ctx.call.rebuild(nodes, {}),
        any(a.batched for a in args),
        top + out_core,
        result_kind(ctx.call.fn, args),
    )
