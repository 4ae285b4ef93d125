"""Array attributes and sizes: `.shape`, `.ndim`, `.size`, `len()`, `.T`, `.mT`, `.real`, `.imag`,
`.dtype`. Of a batched value they are per-example (unbatched) values: `(B, *s).shape` is `s`.
"""

from __future__ import annotations

import ast
import itertools
import math

import numpy as np

from .common import emit, infers
from .registry import register
from .values import DTYPES_OF_KIND, Kind, Operand, Val, array, constant, dtype_object, dtypes_of

_INT = Val(False, 0, Kind.SCALAR, "i")


def shape_facts(call, a, **_) -> Val:
    """A tuple of as many ints as the operand has axes."""
    return Val(False, None, Kind.TUPLE, None, None if a.val.ndim is None else (_INT,) * a.val.ndim)


def int_facts(call, *_, **__) -> Val:
    """A Python int (a rank, a size, a length)."""
    return _INT


@register(np.ndarray.shape)
@infers(shape_facts)
def batch_shape(ctx, a) -> Operand:
    # (B, *s).shape -> s
    node = ctx.expr("x.shape[1:]", x=a.node) if a.batched else ctx.expr("x.shape", x=a.node)
    return Operand(node, shape_facts(ctx.call, a))


@register(np.shape)
@infers(shape_facts)
def batch_np_shape(ctx, a) -> Operand:
    return batch_shape(ctx, a)


@register(np.ndarray.ndim)
@infers(int_facts)
def batch_ndim(ctx, a) -> Operand:
    # the per-example rank is known when rewriting: a constant (NOTE [constants])
    return Operand(ctx.expr("x.ndim - 1", x=a.node), _rank(a))


@register(np.ndim)
@infers(int_facts)
def batch_np_ndim(ctx, a) -> Operand:
    return Operand(ctx.expr("np.ndim(x) - 1", x=a.node), _rank(a))


def _rank(a) -> Val:
    nd = a.val.ndim
    v = a.val
    known = a.batched and v.kind == Kind.ARRAY and nd is not None and not (v.py or v.py_some)
    return constant(nd) if known else _INT


def _selection_size(ctx, a) -> Operand:
    """The size of `x[mask]` (NOTE [masked selections]): a count per lane, a Python int per example."""
    for site in a.val.selection.sites:
        ctx.withdraw_fallback(site)
    return Operand(ctx.expr("av__.selection_size(x)", x=a.node), Val(True, 0, Kind.ARRAY, "i", py=True))


@register(np.ndarray.size, traits="selections")
@infers(int_facts)
def batch_size_attr(ctx, a) -> Operand:
    # (B, *s).size -> prod(s)
    if a.val.selection is not None:
        return _selection_size(ctx, a)
    return Operand(ctx.expr("av__.example_size(x)", x=a.node), _INT)


@register(np.size, traits="selections")
@infers(int_facts)
def batch_np_size(ctx, a, axis=None) -> Operand:
    if a.val.selection is not None and axis is None:
        return _selection_size(ctx, a)
    if a.val.selection is not None:
        raise ctx.fail("np.size of a selection along an axis")
    if axis is None:
        return Operand(ctx.expr("av__.example_size(x)", x=a.node), _INT)
    return Operand(ctx.expr("x.shape[1:][k]", x=a.node, k=axis.node), _INT)


@register(len, traits="selections")
@infers(int_facts)
def batch_len(ctx, obj, /) -> Operand:
    # len of a batched array: its per-example first axis (axis 1 of the batch)
    v = obj.val
    if v.selection is not None:
        return _selection_size(ctx, obj)
    if v.kind in (Kind.TUPLE, Kind.LIST, Kind.DICT):
        return Operand(ctx.call.rebuild([obj.node], {}), _INT)
    if v.ndim == 0:
        raise ctx.error("len() of a per-example scalar: the loop raises TypeError (len() of unsized object)")
    return Operand(ctx.expr("x.shape[1]", x=obj.node), _INT)


def same_attr_facts(call, a, **_) -> Val:
    """The same rank; `.real`/`.imag` of complex values are float."""
    kind = "f" if call.fn in (np.ndarray.real, np.ndarray.imag) and a.val.dtype == "c" else a.val.dtype
    return array(False, a.val.ndim, kind)


@register(np.ndarray.T)
@infers(same_attr_facts)
def batch_T(ctx, a) -> Operand:
    # (B, *s).T per example reverses s: (B, *reversed(s))
    nd, facts = a.val.ndim, same_attr_facts(ctx.call, a)
    if nd is None:
        raise ctx.fail("`.T` of a per-example array of unknown rank")
    if nd < 2:
        return emit(a.node, facts)
    if nd == 2:
        return emit(ctx.expr("x.mT", x=a.node), facts)
    return emit(ctx.expr("x.transpose(p)", x=a.node, p=(0,) + tuple(range(nd, 0, -1))), facts)


@register(np.ndarray.mT, np.ndarray.real, np.ndarray.imag)
@infers(same_attr_facts)
def batch_same_attr(ctx, a) -> Operand:
    # attributes that act on trailing axes or elementwise: the same attribute of the batch
    node = (
        ast.Attribute(a.node, ctx.call.node.attr, ast.Load())
        if isinstance(ctx.call.node, ast.Attribute)
        else ctx.call.rebuild([a.node], {})
    )
    return emit(node, same_attr_facts(ctx.call, a), batched=a.batched)


def dtype_facts(call, a, **_) -> Val:
    """A dtype object, the same for every example, of the array's kind (NOTE [constants])."""
    v = a.val
    return dtype_object(None if v.py or v.py_some or v.kind != Kind.ARRAY else v.dtype)


@register(np.ndarray.dtype)
@infers(dtype_facts)
def batch_dtype(ctx, a) -> Operand:
    return Operand(ctx.expr("x.dtype", x=a.node), dtype_facts(ctx.call, a))


def _same_type_per_example(ctx, ops, what) -> None:
    """Every batched operand is per example an array or NumPy scalar of the batch's dtype (not a Python
    number, whose promotion is weak: NEP 50): then a function of dtypes alone is the same for all."""
    for o in ops:
        v = o.val
        if o.batched and (v.kind != Kind.ARRAY or v.py or v.py_some or v.or_none or v.selection):
            raise ctx.fail(f"{what} of a batched value whose type may differ from one example's")


def result_type_facts(call, arrays_and_dtypes=(), **_) -> Val:
    """A dtype object, the same for every example, of the kind NumPy 2's promotion (NEP 50) gives every
    combination of dtypes the operands' kinds allow, where all agree: an array promotes as its dtype
    does, a Python number weakly (`float32` and `1.0` give `float32`)."""
    found = [_promoted_as(o) for o in arrays_and_dtypes]
    choices = [c for c in found if c is not None]
    if not choices or len(choices) != len(found) or math.prod(map(len, choices)) > _MOST:
        return dtype_object(None)
    kinds = set()
    for picked in itertools.product(*choices):
        try:
            kinds.add(np.result_type(*picked).kind)
        except (TypeError, ValueError):  # (NumPy refuses some combination: the call may raise)
            return dtype_object(None)
    return dtype_object(kinds.pop() if len(kinds) == 1 else None)


_MOST = 256  # the most combinations of dtypes a promotion tries


def _promoted_as(o: Operand) -> tuple | None:
    """What stands for operand `o` in `np.result_type`: its value, each native dtype of its kind, or a
    Python number of its kind; None where that is not known."""
    v = o.val
    if o.is_static and not v.batched:
        return (o.static,)
    if v.is_const:
        return (v.const,)
    kind = v.dtype if v.kind in (Kind.ARRAY, Kind.SCALAR) and not (v.or_none or v.selection) else None
    if dtypes_of(v) is not None:
        kind = v.dtype
    elif v.kind == Kind.SCALAR or v.py:
        return (_PYTHON_NUMBER[kind],) if kind in _PYTHON_NUMBER and not v.py_some else None
    elif v.py_some:
        return None
    if kind not in DTYPES_OF_KIND:
        return None
    return tuple(dict.fromkeys(d.newbyteorder("=") for d in DTYPES_OF_KIND[kind]))


_PYTHON_NUMBER = {"b": True, "i": 1, "f": 0.5, "c": 0.5j}


@register(np.result_type)
@infers(result_type_facts)
def batch_result_type(ctx, *arrays_and_dtypes) -> Operand:
    # NumPy 2 promotes by dtypes, never by values: the batch's dtype is every example's
    _same_type_per_example(ctx, arrays_and_dtypes, "np.result_type()")
    node = ctx.call.rebuild([a.node for a in arrays_and_dtypes], {})
    return Operand(node, result_type_facts(ctx.call, arrays_and_dtypes))


@register(np.can_cast)
def batch_can_cast(ctx, from_, to, casting=None) -> Operand:
    _same_type_per_example(ctx, (from_, to), "np.can_cast()")
    node = ctx.call.rebuild([from_.node, to.node], {"casting": casting.node} if casting is not None else {})
    return Operand(node, Val(False, 0, Kind.SCALAR, "b"))
