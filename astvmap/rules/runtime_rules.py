"""Rules for the `av__` helpers, so that generated code can itself be batched again (nested vmap):
a batched first argument carries one more leading batch axis, so each helper's per-example "lead"
count grows by one.
"""

from __future__ import annotations

from .. import runtime
from .common import align, out, result_kind
from .elementwise import PY_CHECKED
from .registry import register
from .values import Kind, Operand, Val


@register(runtime.batch_broadcast)
def batch_batch_broadcast(ctx, v, B) -> Operand:
    # per outer example: v (*s) -> (B, *s); batched: (Bo, *s) -> (Bo, B, *s)
    if B.batched:
        raise ctx.fail("an inner batch size that differs between outer examples")
    if not v.batched:
        return out(
            ctx.call.rebuild([v.node, B.node], {}), False, None if v.val.ndim is None else v.val.ndim + 1
        )
    if v.val.kind not in (Kind.ARRAY, Kind.SCALAR):
        raise ctx.fail("repeating a batched container")
    node = ctx.expr("np.repeat(np.expand_dims(v, 1), n, axis=1)", v=v.node, n=B.node)
    return out(node, True, None if v.val.ndim is None else v.val.ndim + 1, v.val.dtype)


@register(runtime.flatten)
def batch_flatten(ctx, x) -> Operand:
    # per outer example: (Bi, *s) -> (Bi, prod(s)); batched: keep two leading axes
    node = ctx.expr("x.reshape(x.shape[:2] + (-1,)) if x.size else x.reshape(x.shape[:2] + (0,))", x=x.node)
    if x.val.ndim is not None and x.val.ndim >= 1:
        node = ctx.expr("av__.flatten_lead(x, 2)", x=x.node)
    return out(node, True, 2 if x.val.ndim is not None else None, x.val.dtype)


@register(runtime.example_size)
def batch_example_size(ctx, x) -> Operand:
    return Operand(
        ctx.expr("av__.example_size(x[0]) if len(x) else av__.prod(x.shape[2:])", x=x.node),
        Val(False, 0, Kind.SCALAR, "i"),
    )


@register(runtime.window)
def batch_window(ctx, x, start, length, axis=None, batched=None) -> Operand:
    # windows of a batched array at starts shared by the examples: the same windows, one axis further
    if start.batched or length.batched or batched is not None or (axis is not None and not axis.is_static):
        raise ctx.fail("windows whose starts differ between examples of an enclosing vmap")
    ax = 0 if axis is None else axis.static
    node = ctx.expr("av__.window(x, i, n, axis=k)", x=x.node, i=start.node, n=length.node, k=ax + 1)
    nd = None if x.val.ndim is None or start.val.ndim is None else x.val.ndim + start.val.ndim
    return out(node, True, nd, x.val.dtype)


@register(runtime.shift_axis)
def batch_shift_axis(ctx, axis) -> Operand:
    raise ctx.fail("an axis that differs between examples")


@register(runtime.enters)
def batch_enters(ctx, mask) -> Operand:
    # a guard: "does any lane take this branch?" over every lane of every outer example (lanes that do
    # not take it are borrowed or masked inside the branch, so a wider guard is still exact)
    return Operand(ctx.call.rebuild([mask.node], {}), Val(False, 0, Kind.SCALAR, "b"))


# the checked helpers of Python's operators (rules/elementwise.py emits them), helper -> operator
_PY_OPERATOR = {getattr(runtime, name): op for op, name in PY_CHECKED.items()}


@register(*_PY_OPERATOR)
def batch_python_arithmetic(ctx, a, b) -> Operand:
    # elementwise, its checks too (each compares an element with its own operands): the same call on
    # (Bo, ...) after aligning ranks; the result stays a Python number per example
    nodes, ndim = align(ctx, [a, b])
    op = _PY_OPERATOR[ctx.call.fn]
    return out(ctx.call.rebuild(nodes, {}), True, ndim, result_kind(op, [a, b]), py=a.val.py or b.val.py)


@register(runtime.py_divmod)
def batch_python_divmod(ctx, a, b) -> Operand:
    nodes, ndim = align(ctx, [a, b])
    elt = Val(True, ndim, Kind.ARRAY, py=True)
    return Operand(ctx.call.rebuild(nodes, {}), Val(True, None, Kind.TUPLE, None, (elt, elt)))


@register(runtime.weak)
def batch_weak(ctx, column) -> Operand:
    # a mark on the array, whatever its batch axes: the same call
    return out(ctx.call.rebuild([column.node], {}), column.batched, column.val.ndim, column.val.dtype)
