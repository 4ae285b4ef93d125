"""Shared pieces of batching rules: rank alignment (NOTE [mixed ranks]), axis shifting, result Vals, and
the declaration of a rule's abstract evaluation.

NOTE [abstract evaluation]: a rule states what its result is, apart from the code it writes. A `facts`
function takes the call (its `fn`, `method`, and operands as written) and the rule's arguments by name
(those it does not read as `**_`), reads only their Vals and static values, and returns the result's
Val (UNKNOWN where the rule refuses the call); it never writes code and never raises. A rule declares
its facts with `@infers(facts)` under its `@register`, and uses the same function for the Val of the
code it emits, so the shape logic is written once:

    def flip_facts(call, m, **_):
        return array(False, m.val.ndim, m.val.dtype)

    @register(np.flip)
    @infers(flip_facts)
    def batch_flip(ctx, m, axis=None):
        ...
        return emit(node, flip_facts(ctx.call, m))

The dispatcher (transform/calls.py `_infer`) asks the facts for the Val of a call with no batched
operand, which it passes through unchanged; a rule without facts gives UNKNOWN there.
"""

from __future__ import annotations

import ast
import operator
from typing import Any

import numpy as np

from ..kit import templates
from .registry import lookup
from .values import NO_STATIC, Kind, Operand, Val, dtypes_of

_DUMMY = {
    "b": np.bool_(True),
    "i": np.int64(1),
    "u": np.uint64(1),
    "f": np.float64(0.5),
    "c": np.complex128(0.5),
}
_PY_DUMMY = {"b": True, "i": 1, "f": 0.5, "c": 0.5j}


def out(
    node: ast.expr,
    batched: bool,
    ndim: int | None,
    dtype: str | None = None,
    py: bool = False,
    py_some: bool = False,
) -> Operand:
    """A rule's array result; `py`: per example a Python number, `py_some`: one on some lanes only
    (values.Val.py, Val.py_some)."""
    return Operand(
        node, Val(batched, ndim, Kind.ARRAY, dtype, py=py and batched, py_some=py_some and batched)
    )


def infers(facts):
    """Declare `facts` the decorated rule's abstract evaluation (NOTE [abstract evaluation])."""

    def deco(rule_fn):
        rule_fn.infer = facts
        return rule_fn

    return deco


def emit(node: ast.expr, facts: Val, batched: bool = True) -> Operand:
    """The rule's result: the code it wrote, with the Val its facts give (batched as it is)."""
    if facts.kind == Kind.TUPLE:
        return Operand(node, facts)
    return Operand(node, facts.with_(batched=batched))


def arrays(*ops) -> bool:
    """Can NumPy treat every operand as an array? Batched values are arrays; an unbatched tuple or list
    meets an array as an array (`x + (1, 2)`), but two containers concatenate."""
    if any(o.val.kind in (Kind.NONE, Kind.DICT, Kind.CALLABLE, Kind.MODULE) for o in ops):
        return False
    return any(o.val.kind == Kind.ARRAY or o.batched for o in ops) or all(
        o.val.kind in (Kind.ARRAY, Kind.SCALAR) for o in ops
    )


def rank(o) -> int | None:
    """Per-example rank of a numeric operand (a flat tuple/list of numbers counts as a vector)."""
    v = o.val
    if v.kind == Kind.SCALAR:
        return 0
    if v.kind in (Kind.TUPLE, Kind.LIST) and v.elts is not None:
        if all(e.kind == Kind.SCALAR for e in v.elts):
            return 1
        return None
    return v.ndim


def result_kind(fn, ops) -> str | None:
    """The dtype kind `fn` gives for operands of these kinds, by calling it on one-element stand-ins
    (Python numbers stay Python numbers, so NumPy 2's weak-scalar promotion is what decides)."""
    args = []
    for o in ops:
        k = o.val.dtype
        if k is None or k not in _DUMMY:
            return None
        args.append(_PY_DUMMY.get(k, _DUMMY[k]) if o.val.kind == Kind.SCALAR else _DUMMY[k])
    if {np.asarray(a).dtype.kind for a in args if isinstance(a, np.generic)} >= {"i", "u"}:
        return None  # signed with unsigned: an int or a float, by their widths (not known here)
    try:
        with np.errstate(all="ignore"):
            r = fn(*args)
    except (TypeError, ValueError, ArithmeticError):  # what NumPy (or Python) raises for such operands
        return None
    return np.asarray(r).dtype.kind if not isinstance(r, tuple) else None


def align(ctx, ops) -> tuple[list[ast.expr], int | None]:
    """Nodes of `ops` with batched ones expanded so that per-example axes line up as per-example
    broadcasting lines them up: `(B,)` meeting `(n,)` becomes `x[:, None]` (NOTE [mixed ranks])."""
    ranks = [rank(o) for o in ops]
    if any(r is None for r in ranks):
        if sum(o.batched for o in ops) == len(ops) == 1:
            return [ops[0].node], None
        values = ast.Tuple([o.node for o in ops], ast.Load())
        flags = templates.const(tuple(o.batched for o in ops))
        tmp = ctx.temp(ctx.expr("av__.align(values, flags)", values=values, flags=flags), "aligned")
        return [templates.index(tmp, [i]) for i in range(len(ops))], None
    known = [r for r in ranks if r is not None]  # every rank, now that none is unknown
    top = max(known) if known else 0
    nodes = [
        templates.batch_slice_prefix(o.node, top - r) if o.batched else o.node for o, r in zip(ops, known)
    ]
    return nodes, top


def static(op, default=NO_STATIC):
    """The static value of an operand (or a plain Python default), else NO_STATIC."""
    if op is None or not isinstance(op, Operand):
        return op if op is not None else default if default is not NO_STATIC else None
    if op.val.kind == Kind.NONE:
        return None  # a None-valued name: the specialization is keyed on it being None
    return op.static


def dtype_kind(dtype, otherwise: str | None = None) -> str | None:
    """The kind of the arrays a `dtype=` argument asks for: `otherwise` where it is not given (absent or
    None); None where it is given but not known. A dtype known by its kind (`x.dtype`) gives its kind."""
    value: Any = NO_STATIC if dtype is None else static(dtype)
    if dtype is None or value is None:
        return otherwise
    if value is NO_STATIC:
        kinds = {d.kind for d in dtypes_of(dtype.val) or ()}
        return kinds.pop() if len(kinds) == 1 else None
    try:
        return np.dtype(value).kind
    except (TypeError, ValueError):
        return None


def with_given_dtype(facts: Val, dtype) -> Val:
    """NumPy's rule for every function with a `dtype=` parameter, whatever else its rule says: the array
    it returns is of the dtype given (`np.sum(x, dtype=float)` of integers is a float; `np.var` of complex
    values with a complex dtype is complex). Its kind, or not known where the argument is not."""
    if dtype is None or static(dtype) is None or facts.kind != Kind.ARRAY:
        return facts
    kind = dtype_kind(dtype)
    return facts if facts.dtype == kind and kind is not None else facts.with_(dtype=kind)


def shift_axis(ctx, axis, ndim: int | None = None) -> ast.expr:
    """A per-example axis (int/tuple, negative kept) as an axis of the batched array. A negative axis
    past the per-example rank would name the batch axis, where the loop raises AxisError: one outside
    the rank is refused (the loop raises); one known only at run time is checked there
    (`av__.shift_axis(a, ndim)`)."""
    value = static(axis)
    if value is NO_STATIC:
        if axis.batched:
            raise ctx.fail("an axis that differs between examples")
        if ndim is None:  # (checked against the rank as the batch has it)
            return ctx.expr("av__.shift_axis(a)", a=axis.node)
        return ctx.expr("av__.shift_axis(a, n)", a=axis.node, n=ndim)
    if any(not _in_rank(v, ndim) for v in (value if isinstance(value, tuple) else (value,)) if v is not None):
        raise ctx.fail("an axis that is not one of the per-example array's")
    return templates.const(_shift(value, ndim))


def _in_rank(value, ndim: int | None) -> bool:
    """Is `value` an axis of a per-example array of rank `ndim`? (Of a rank not known, any integer: a
    negative one past the rank would name the batch axis where the loop raises, a known gap.)"""
    if isinstance(value, (bool, np.bool_)):
        return False
    try:
        value = operator.index(value)
    except TypeError:
        return False
    return ndim is None or -ndim <= value < ndim


def _shift(value, ndim):
    if value is None:
        return None
    if isinstance(value, tuple):
        return tuple(_shift(v, ndim) for v in value)
    value = int(value)
    return value + 1 if value >= 0 else value


def axes_tuple(value, ndim):
    """Normalized per-example axes (non-negative) or None when unknown."""
    if ndim is None:
        return None
    if value is None:
        return tuple(range(ndim))
    vals = value if isinstance(value, tuple) else (value,)
    try:
        return tuple(int(v) % ndim if ndim else int(v) for v in vals)
    except TypeError:
        return None


def kw_nodes(kwargs) -> dict:
    return {k: v.node for k, v in kwargs.items()}


def refuse_out(ctx, out) -> None:
    """`out=` other than None reaches a rule only where the store path (transform/stores.py `out_call`)
    could not lower it (passed through `**kwargs`); refused there as the store path refuses it."""
    if out is not None and static(out) is not None:
        raise ctx.fail("`out=` of several outputs or into an expression, with batched values")


def require_unbatched(ctx, **named):
    for name, op in named.items():
        if isinstance(op, Operand) and op.batched:
            raise ctx.fail(f"`{name}` differs between examples")


# NOTE [arguments by parameter]: a rule reads the call's arguments by the parameter they bind to, never by
# where they stand: `np.sum(a=x)` passes its operand by keyword, `x.sum(0, None, None, True)` its keepdims
# positionally. `arguments` gives what the call passes to each parameter of its rule (NumPy's names);
# `respell` writes the call again in the user's spelling with new nodes for some parameters, so an operand
# passed by keyword is written once, by keyword, and never counted among the options. A rule never reads
# `ctx.call.args` or `ctx.call.kwargs` by position or by keyword for this (NumPy's signatures, test:
# tests/test_rule_contract.py `test_arguments_by_keyword_batch_as_positional_ones`).


def _params(call) -> list:
    """The parameters of `call`'s rule after its context."""
    rule = lookup(call.fn)
    return list(rule.signature.parameters.values())[1:] if rule is not None and rule.signature else []


def _slots(call) -> list:
    """For each positional argument of `call`, the name of its rule's parameter (an int: the index into a
    `*args` parameter; None: no parameter takes it)."""
    names: list = []
    var = False
    for p in _params(call):
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            names.append(p.name)
        elif p.kind == p.VAR_POSITIONAL:
            var = True
    return [names[i] if i < len(names) else i - len(names) if var else None for i in range(len(call.args))]


def arguments(call) -> dict:
    """What `call` passes to each parameter of its rule, by name, however it is passed (NOTE [arguments by
    parameter]), in the order of the rule's parameters; the items of a `*args` parameter by their index, a
    `**kwargs` parameter's by keyword."""
    found = {slot: op for slot, op in zip(_slots(call), call.args) if slot is not None}
    found.update(call.kwargs)
    params = _params(call)
    order = [p.name for p in params]
    var = next((i for i, p in enumerate(params) if p.kind == p.VAR_POSITIONAL), 0)

    def place(key):
        return (var, key) if isinstance(key, int) else (order.index(key) if key in order else len(order), 0)

    return dict(sorted(found.items(), key=lambda item: place(item[0])))


def options(call, *operands) -> dict:
    """The call's arguments other than those of the parameters named in `operands` (and `*args` items)."""
    return {k: v for k, v in arguments(call).items() if isinstance(k, str) and k not in operands}


def respell(ctx, nodes: dict, keyword: tuple = ()) -> ast.expr:
    """The call written again as the user wrote it, each argument positionally or by keyword as given, with
    `nodes[name]` for the argument of parameter `name` (an int: a `*args` item). A parameter in `nodes` that
    the call does not pass is added by keyword, and so is one named in `keyword` that the call passes as its
    last positional argument (`np.sum(x, 0)` -> `np.sum(x, axis=1)`). NOTE [arguments by parameter]."""
    call = ctx.call
    args = [
        (slot, nodes.get(slot, op.node) if slot is not None else op.node)
        for slot, op in zip(_slots(call), call.args)
    ]
    moved = {}
    while len(args) > 1 and args[-1][0] in keyword and args[-1][0] in nodes:
        slot, node = args.pop()
        moved[slot] = node
    kwargs = {k: nodes.get(k, op.node) for k, op in call.kwargs.items()}
    given = {slot for slot, _ in args} | set(kwargs) | set(moved)
    extra = {k: n for k, n in nodes.items() if isinstance(k, str) and k not in given}
    return call.rebuild([n for _, n in args], {**moved, **extra, **kwargs})
