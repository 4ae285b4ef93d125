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
from .common import (
    align,
    arguments,
    arrays,
    emit,
    infers,
    options,
    rank,
    refuse_out,
    require_unbatched,
    respell,
    result_kind,
    static,
)
from .registry import register, register_family
from .values import UNKNOWN, Kind, MaskedSelection, Operand, Val, array, python_number

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
_UNARY = {operator.neg, operator.pos, operator.invert}
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


# a method's function, for the kind of its result (`x.round()` of bools is float16, as `np.round`'s)
_FUNCTION_OF = {
    np.ndarray.clip: np.clip,
    np.ndarray.round: np.round,
    np.ndarray.conj: np.conj,
    np.ndarray.conjugate: np.conjugate,
}


def _elementwise_ufunc(obj: object) -> bool:
    """Any library's elementwise ufunc of one output (`scipy.special.expit`): it broadcasts like `np.add`."""
    return isinstance(obj, np.ufunc) and obj.signature is None and obj.nout == 1


def _elementwise_ufunc_multi(obj: object) -> bool:
    """Any library's elementwise ufunc of several outputs (`np.modf`'s kind)."""
    return isinstance(obj, np.ufunc) and obj.signature is None and obj.nout > 1


def _refusal(call, args) -> str | None:
    """Why an elementwise call has no batched form (None: it has one)."""
    if not arrays(*args):
        return "an elementwise operation on a container"
    if call.fn is np.where and len(args) != 3:
        return "np.where with one argument (per-example results of different lengths)"
    if call.fn is operator.mod and args and args[0].val.kind not in (Kind.ARRAY, Kind.SCALAR):
        return "`%` formatting"
    return None


# Parameters of elementwise functions that are options, the same for every example: a ufunc's keywords and
# the named options of the other functions; every other parameter is an operand that broadcasts
_OPTIONS = frozenset(
    ["out", "where", "casting", "order", "dtype", "subok", "signature"]
    + ["decimals", "equal_nan", "copy", "nan", "posinf", "neginf", "deg", "tol"]
)


def _operands(call) -> tuple[dict, dict]:
    """The call's operands and its options, each by the parameter it binds to, however it is passed
    (`np.clip(a=x, a_min=0, a_max=1)`: three operands; NOTE [arguments by parameter], rules/common.py)."""
    given = arguments(call)
    operands = {
        k: v
        for k, v in given.items()
        if not (isinstance(k, str) and k in _OPTIONS) and v.val.kind != Kind.NONE  # (None: not given)
    }
    return operands, {k: v for k, v in given.items() if isinstance(k, str) and k not in operands}


def elementwise_facts(call, **_) -> Val:
    """The call's operands broadcast: the highest of their ranks (NOTE [mixed ranks]), NumPy's promotion of
    their kinds (a comparison's: bool; a method's: its array's); Python's arithmetic on Python numbers
    gives a Python number (Val.py, a SCALAR when nothing is batched)."""
    operands, kwargs = _operands(call)
    args = list(operands.values())
    if static(kwargs.get("out")) is not None or _refusal(call, args) is not None:
        return UNKNOWN  # refused by the rule
    ranks = [rank(a) for a in args]
    ndim = None if None in ranks else max([r for r in ranks if r is not None], default=0)
    if call.fn in _COMPARISONS:
        dtype: str | None = "b"
    else:
        dtype = result_kind(_FUNCTION_OF.get(call.fn, call.fn), args)
    py = _python_arithmetic(call, args, kwargs)
    if py and not any(a.batched for a in args):
        return Val(False, 0, Kind.SCALAR, dtype)
    return Val(False, ndim, Kind.ARRAY, dtype, py=py)


def _elementwise(ctx) -> Operand:
    # (B, *s), t, ... -> (B, *broadcast(s, t, ...)) after aligning per-example ranks. Options are the same
    # for every example (`_operands`).
    operands, kwargs = _operands(ctx.call)
    args = list(operands.values())
    refuse_out(ctx, kwargs.get("out"))
    if "where" in kwargs and kwargs["where"].batched:
        raise ctx.fail("a batched `where=` of an elementwise function")
    require_unbatched(ctx, **{k: v for k, v in kwargs.items() if k != "where"})
    reason = _refusal(ctx.call, args)
    if reason is not None:
        raise ctx.fail(reason)
    facts = elementwise_facts(ctx.call)
    selection = _through_selection(ctx, args, {k: v for k, v in kwargs.items() if v.val.kind != Kind.NONE})
    if selection is None and any(a.val.selection is not None for a in args):
        raise ctx.fail("a selection whose length differs between examples, with per-example arrays")
    if selection is None:
        nodes, _ = align(ctx, args)
    else:  # only a reduction reads this (or the loop fails loudly on the ragged selection): no temporaries
        nodes, facts = [a.node for a in args], facts.with_(ndim=None)
    facts = facts.with_(py_some=_python_on_some_lanes(ctx.call, args, kwargs))
    if not facts.py:
        nodes = _weak_columns(ctx, args, nodes)
    node = respell(ctx, dict(zip(operands, nodes)))
    if facts.py and ctx.call.fn in PY_CHECKED:
        node = ast.Call(ctx.expr(f"av__.{PY_CHECKED[ctx.call.fn]}"), nodes, [])
    result = emit(node, facts)
    return result if selection is None else Operand(result.node, result.val.with_(selection=selection))


# One rule per NumPy signature, each a thin wrapper of `_elementwise`: the dispatcher refuses what NumPy does


@register(*[op for op in OPERATORS if op not in _UNARY], traits="elementwise numba selections")
@infers(elementwise_facts)
def batch_operator(ctx, a, b, /) -> Operand:
    return _elementwise(ctx)


@register(*_UNARY, traits="elementwise numba selections")
@infers(elementwise_facts)
def batch_unary_operator(ctx, a, /) -> Operand:
    return _elementwise(ctx)


@register_family(_elementwise_ufunc, traits="elementwise selections")
@register(
    np.tanh, np.sin, np.cos, np.arctan, np.exp2, traits="elementwise transcendental quiet numba selections"
)
@register(
    np.exp,
    np.log,
    np.log2,
    np.log10,
    np.log1p,
    np.expm1,
    np.tan,
    np.arcsin,
    np.arccos,
    np.sinh,
    np.cosh,
    np.arcsinh,
    np.arctanh,
    np.power,
    np.arctan2,
    traits="elementwise transcendental numba selections",
)
@register(
    np.conj,
    np.maximum,
    np.minimum,
    np.fmax,
    np.fmin,
    np.sign,
    np.square,
    np.negative,
    np.positive,
    np.floor,
    np.ceil,
    np.trunc,
    np.rint,
    np.logical_and,
    np.logical_or,
    np.logical_not,
    np.isnan,
    np.isfinite,
    np.isinf,
    traits="elementwise quiet numba selections",
)
@register(*[u for u in UFUNCS if u.nout == 1], traits="elementwise numba selections")
@infers(elementwise_facts)
def batch_ufunc(
    ctx, *args, out=None, where=None, casting=None, order=None, dtype=None, subok=None, signature=None
) -> Operand:
    return _elementwise(ctx)


@register(abs, traits="elementwise quiet numba selections")
@infers(elementwise_facts)
def batch_abs(ctx, x, /) -> Operand:
    return _elementwise(ctx)


@register(np.where, traits="elementwise quiet numba")
@infers(elementwise_facts)
def batch_where(ctx, condition, x=None, y=None, /) -> Operand:
    return _elementwise(ctx)


@register(np.real, np.imag, traits="elementwise quiet numba")
@infers(elementwise_facts)
def batch_real(ctx, val) -> Operand:
    return _elementwise(ctx)


@register(np.sinc, np.i0, np.isreal, np.iscomplex, traits="elementwise numba")
@infers(elementwise_facts)
def batch_one_operand(ctx, x) -> Operand:
    return _elementwise(ctx)


@register(np.ndarray.conj, traits="elementwise quiet numba")
@register(np.ndarray.conjugate, traits="elementwise numba")
@infers(elementwise_facts)
def batch_conj_method(ctx, a, /) -> Operand:
    return _elementwise(ctx)


@register(np.clip, traits="elementwise quiet numba selections")
@infers(elementwise_facts)
def batch_clip(
    ctx,
    a,
    a_min=None,
    a_max=None,
    out=None,
    *,
    min=None,
    max=None,
    where=None,
    casting=None,
    order=None,
    dtype=None,
    subok=None,
    signature=None,
) -> Operand:
    return _elementwise(ctx)


@register(np.ndarray.clip, traits="elementwise quiet numba selections")
@infers(elementwise_facts)
def batch_clip_method(
    ctx,
    a,
    /,
    min=None,
    max=None,
    out=None,
    *,
    where=None,
    casting=None,
    order=None,
    dtype=None,
    subok=None,
    signature=None,
) -> Operand:
    return _elementwise(ctx)


@register(np.isclose, traits="elementwise numba")
@infers(elementwise_facts)
def batch_isclose(ctx, a, b, rtol=None, atol=None, equal_nan=None) -> Operand:
    return _elementwise(ctx)


@register(np.round, np.around, traits="elementwise numba")
@infers(elementwise_facts)
def batch_round(ctx, a, decimals=None, out=None) -> Operand:
    return _elementwise(ctx)


@register(np.ndarray.round, traits="elementwise numba")
@infers(elementwise_facts)
def batch_round_method(ctx, a, /, decimals=None, out=None) -> Operand:
    return _elementwise(ctx)


@register(np.nan_to_num, traits="elementwise numba")
@infers(elementwise_facts)
def batch_nan_to_num(ctx, x, copy=None, nan=None, posinf=None, neginf=None) -> Operand:
    return _elementwise(ctx)


@register(np.angle, traits="elementwise numba")
@infers(elementwise_facts)
def batch_angle(ctx, z, deg=None) -> Operand:
    return _elementwise(ctx)


@register(np.real_if_close, traits="elementwise numba")
@infers(elementwise_facts)
def batch_real_if_close(ctx, a, tol=None) -> Operand:
    return _elementwise(ctx)


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


def _python_on_some_lanes(call, args, kwargs) -> bool:
    """Is this Python's arithmetic on numbers of which some are Python numbers on some lanes only (and
    the rest Python numbers)? Its result is such a number; an operator that raises on Python numbers
    only (`/` by zero) would raise on some lanes only: no batched form nor piece's loop is exact (a
    piece's loop sees NumPy scalars), the whole function runs as the loop."""
    if not any(a.val.py_some for a in args) or not all(python_number(a.val) or a.val.py_some for a in args):
        return False
    if call.fn in PY_CHECKED or call.fn is divmod:
        raise NoPieceLoop(
            "Python's arithmetic on a number that is a Python number for some examples and a NumPy "
            "scalar for others (they raise differently)"
        )
    return not kwargs and not call.method and call.fn in _PY_ARITH


def _python_arithmetic(call, args, kwargs) -> bool:
    """Is this Python's arithmetic on numbers that are Python numbers per example (`1.0 / float(k)`)?"""
    fn = call.fn
    return (
        not kwargs
        and not call.method
        and (fn in _PY_ARITH or fn in PY_CHECKED)
        and all(python_number(a.val) for a in args)
    )


def _through_selection(ctx, args, kwargs):
    """`x[mask] > 4` is `(x > 4)[mask]`: an elementwise operation of masked selections by one mask with
    values shared by every element (per-example scalars, constants) is a selection (NOTE [masked
    selections]; selections by different masks pair by position: the run time checks, `Selection`)."""
    sels = [a.val.selection for a in args if a.val.selection is not None]
    if not sels or kwargs:
        return None
    others = [a for a in args if a.val.selection is None]
    if any(a.val.kind not in (Kind.ARRAY, Kind.SCALAR) or a.val.ndim != 0 for a in others):
        return None
    elements = [
        Operand(a.node, array(True, 0, a.val.selection.dtype)) if a.val.selection is not None else a
        for a in args
    ]
    return MaskedSelection(result_kind(ctx.call.fn, elements), tuple(w for s in sels for w in s.sites))


def multi_facts(call, **_) -> Val:
    """Like `elementwise_facts`, a tuple of `nout` such arrays (`divmod` of Python numbers: Python
    numbers)."""
    operands, kwargs = _operands(call)
    args = list(operands.values())
    if static(kwargs.get("out")) is not None:
        return UNKNOWN  # refused by the rule
    ranks = [rank(a) for a in args]
    ndim = None if None in ranks else max([r for r in ranks if r is not None], default=0)
    batched = any(a.batched for a in args)
    py = call.fn is divmod and all(python_number(a.val) for a in args)
    elt = Val(batched, ndim, Kind.ARRAY, py=py and batched)
    if py and not batched:
        elt = Val(False, 0, Kind.SCALAR)
    return Val(batched, None, Kind.TUPLE, None, (elt,) * getattr(call.fn, "nout", 2))


def _elementwise_multi(ctx) -> Operand:
    # like `_elementwise`, but the result is a tuple of arrays (np.modf, np.frexp, np.divmod, divmod)
    operands, kwargs = _operands(ctx.call)
    args = list(operands.values())
    refuse_out(ctx, kwargs.get("out"))
    require_unbatched(ctx, **kwargs)
    nodes, _ = align(ctx, args)
    if ctx.call.fn is divmod:
        _python_on_some_lanes(ctx.call, args, kwargs)
    facts = multi_facts(ctx.call)
    node = respell(ctx, dict(zip(operands, nodes)))
    if facts.elts and facts.elts[0].py:  # divmod(a, 0) of Python numbers raises
        node = ast.Call(ctx.expr("av__.py_divmod"), nodes, [])
    return emit(node, facts)


@register_family(_elementwise_ufunc_multi, traits="elementwise")
@register(*[u for u in UFUNCS if u.nout > 1], traits="elementwise numba")
@infers(multi_facts)
def batch_ufunc_multi(
    ctx, *args, out=None, where=None, casting=None, order=None, dtype=None, subok=None, signature=None
) -> Operand:
    return _elementwise_multi(ctx)


@register(divmod, traits="elementwise numba")
@infers(multi_facts)
def batch_divmod(ctx, x, y, /) -> Operand:
    return _elementwise_multi(ctx)


def not_facts(call, a, **_) -> Val:
    """`not x` of a scalar: a bool."""
    return array(False, 0, "b") if a.val.ndim == 0 else UNKNOWN


@register(operator.not_)
@infers(not_facts)
def batch_not(ctx, a, /) -> Operand:
    # `not x` of a per-example scalar: (B,) -> (B,) bool. The loop raises for arrays of size > 1.
    if a.val.ndim != 0:
        raise ctx.fail("`not` of a per-example array (the loop would raise unless it has one element)")
    if a.val.dtype == "b":
        return emit(ast.UnaryOp(ast.Invert(), a.node), not_facts(ctx.call, a))
    return emit(ctx.expr("np.logical_not(x)", x=a.node), not_facts(ctx.call, a))


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


def gufunc_facts(call, args=(), **options) -> Val:
    """Loop dimensions broadcast, core dimensions last: the highest loop rank plus the output's core rank;
    NumPy's promotion of the operands' kinds."""
    core = _core_dims(call.fn.signature)
    ranks = [rank(a) for a in args]
    if (
        core is None
        or any(v is not None for v in options.values())
        or None in ranks
        or len(args) != len(core[0])
    ):
        return UNKNOWN  # refused by the rule
    loop_ranks = [r - c for r, c in zip(ranks, core[0]) if r is not None]
    if min(loop_ranks, default=0) < 0:
        return UNKNOWN
    return array(False, max(loop_ranks, default=0) + core[1][0], result_kind(call.fn, args))


@register_family(_gufunc)
@infers(gufunc_facts)
def batch_gufunc(
    ctx,
    *args,
    out=None,
    axes=None,
    axis=None,
    keepdims=None,
    casting=None,
    order=None,
    dtype=None,
    subok=None,
    signature=None,
) -> Operand:
    # A gufunc broadcasts its loop dimensions and works on core dimensions (the last ones):
    # np.matvec (m,n),(n)->(m): (m, n) shared, (B, n) -> (B, m). The batch axis is a loop dimension, so a
    # batched operand gets new axes after it up to the largest per-example loop rank (NOTE [mixed ranks]).
    facts = gufunc_facts(ctx.call, args, **options(ctx.call))
    if facts.ndim is None:
        raise ctx.fail(
            "a generalized ufunc with optional core dimensions, keyword arguments, operands of unknown "
            "rank or with fewer axes than its core dimensions"
        )
    core = _core_dims(ctx.call.fn.signature)
    assert core is not None  # the facts know the rank
    loop_ranks = [(rank(a) or 0) - c for a, c in zip(args, core[0])]
    top = max(loop_ranks)
    nodes = [
        templates.batch_slice_prefix(a.node, top - lr) if a.batched else a.node
        for a, lr in zip(args, loop_ranks)
    ]
    return emit(ctx.call.rebuild(nodes, {}), facts)
