"""Rules for the `av__` helpers of control flow and of the per-example loop, so that generated code is
batched again under an enclosing vmap (runtime_lanes.py, runtime_nested.py).

Under an enclosing batch a value of the inner code may carry the enclosing batch axis (the operand is
batched here) and, inside it, the inner lanes (the helper's own flags say which). A helper that works
lane by lane runs once on both batch axes merged (`av__.select_nested`, `av__.loop_nested`); one that reads a whole batch at once
(`highest`, `lowest`) reads every enclosing example's lanes alike, which the generated code allows for.
"""

from __future__ import annotations

import ast

from .. import runtime
from ..errors import NoPieceLoop
from ..kit import templates
from .common import emit, infers, static
from .registry import register
from .values import NO_STATIC, UNKNOWN, Kind, Operand, Val


def _give_up(msg: str) -> NoPieceLoop:
    """A lane helper's call that cannot be batched: not a loop of that call (a select's loop at an empty
    batch cannot tell its result's shape), the rewrite of the code around it gives up."""
    return NoPieceLoop(msg)


def _flags(ctx, op, what: str):
    """A helper's static flag argument (a bool or a tuple of them)."""
    value = static(op)
    if value is NO_STATIC:
        raise ctx.fail(f"{what} not known when the code is rewritten")
    return value


def _elements(ctx, op) -> list[Operand]:
    """The operands of a tuple or list argument of known length."""
    if op.val.elts is None:
        raise ctx.fail("a helper's argument list of unknown length")
    if isinstance(op.node, (ast.Tuple, ast.List)) and len(op.node.elts) == len(op.val.elts):
        return [Operand(n, v) for n, v in zip(op.node.elts, op.val.elts)]
    return [Operand(templates.index(op.node, [i]), v) for i, v in enumerate(op.val.elts)]


def _absent(op) -> bool:
    """`None` (no lane took that branch) or `av__.UNBOUND` (no value yet)."""
    return op.val.kind in (Kind.NONE, Kind.UNBOUND) or (op.is_static and op.static is runtime.UNBOUND)


# ---- lane by lane ----------------------------------------------------------------------------------------
def _select_sides(a, b, batched) -> list | None:
    """A select's sides with the batch axes each carries (None when its flags are not known)."""
    inner = (True, True) if batched is None else static(batched)
    return None if inner is NO_STATIC else [(a, int(inner[0])), (b, int(inner[1]))]


def select_facts(call, cond, a, b, batched=None, **_) -> Val:
    """Either side's value per lane: their rank and kind where they agree."""
    sides = _select_sides(a, b, batched)
    if sides is None or _select_refusal(sides) is not None:
        return UNKNOWN  # refused by the rule
    return _select_val(sides, 1).with_(batched=False)


@register(runtime.select, traits="lanes")
@infers(select_facts)
def batch_select(ctx, cond, a, b, batched=None, python=None, active=None) -> Operand:
    # per enclosing example: select(cond (B,), a, b); batched: both batch axes merged into one, a side
    # that varies only with the enclosing example spread over the lanes (then a lane value)
    inner = (True, True) if batched is None else tuple(_flags(ctx, batched, "which sides are lanes"))
    val = _select_val([(a, int(inner[0])), (b, int(inner[1]))], 1)
    cond, active = _same_lanes(ctx, cond, active)
    axes = ((cond.batched, True), (_carries(a), inner[0]), (_carries(b), inner[1]))
    lanes = ctx.expr("np.shape(c)[-1]", c=cond.node)
    sizes = ast.Tuple([ctx.batch_size(), lanes], ast.Load())
    return _select_nested(ctx, sizes, cond, a, b, axes, python, active, val)


def _same_lanes(ctx, cond, active):
    """`cond` and the enclosing branch's `active` lanes, both carrying the enclosing batch if either
    does (select_nested merges them alike)."""
    if active is not None and active.val.kind == Kind.NONE:
        active = None  # (select_nested's: every lane is active)
    if active is None or cond.batched == active.batched:
        return cond, active
    return _spread(ctx, cond), _spread(ctx, active)


def _spread(ctx, op) -> Operand:
    """`op` as a value of the enclosing batch (repeated over it where it is not one)."""
    return ctx.promote(op, op.val.with_(batched=True))


def select_nested_facts(call, sizes, cond, a, b, axes, **_) -> Val:
    """Either side's value per lane, after the batch axes the select already carries."""
    value = static(axes)
    if value is NO_STATIC:
        return UNKNOWN  # refused by the rule
    sides = [(a, sum(value[1])), (b, sum(value[2]))]
    if _select_refusal(sides) is not None:
        return UNKNOWN
    return _select_val(sides, len(value[0])).with_(batched=False)


@register(runtime.select_nested, traits="lanes")
@infers(select_nested_facts)
def batch_select_nested(ctx, sizes, cond, a, b, axes, python=None, active=None) -> Operand:
    # a select already under enclosing batches: one more enclosing batch axis in front
    axes_value = _flags(ctx, axes, "a select's batch axes")
    if sizes.batched:
        raise _give_up("batch sizes that differ between examples")
    val = _select_val([(a, sum(axes_value[1])), (b, sum(axes_value[2]))], len(axes_value[0]))
    cond, active = _same_lanes(ctx, cond, active)
    new_axes = tuple((_carries(op), *ax) for op, ax in zip((cond, a, b), axes_value, strict=True))
    new_sizes = ctx.expr("(B,) + s", B=ctx.batch_size(), s=sizes.node)
    return _select_nested(ctx, new_sizes, cond, a, b, new_axes, python, active, val)


def _select_nested(ctx, sizes, cond, a, b, axes, python, active, val) -> Operand:
    if python is not None and python.batched:
        raise _give_up("which side holds Python numbers differs between examples")
    node = ctx.expr(
        "av__.select_nested(s, c, a, b, axes, py, act)",
        s=sizes,
        c=cond.node,
        a=a.node,
        b=b.node,
        axes=templates.const(axes),
        py=ast.Constant(None) if python is None else python.node,
        act=ast.Constant(None) if active is None else active.node,
    )
    return Operand(node, val)


def _carries(op) -> bool:
    """Does a select's side carry the enclosing batch axis? A name with no value yet (UNBOUND, passed
    through as it is) holds the select's own result, which does, from the next iteration on."""
    return op.batched or _absent(op)


def _unless_none(op) -> Operand:
    """A side that may be None (no lane took it) as the value it holds otherwise."""
    return Operand(op.node, op.val.or_none) if op.val.or_none is not None else op


def _select_refusal(sides) -> str | None:
    """Why a select cannot be batched (None: it can)."""
    present = [_unless_none(op).val.kind for op, _ in sides if not _absent(op)]
    if not present:
        return "a select with no value on either side"
    containers = any(k in (Kind.TUPLE, Kind.LIST, Kind.DICT) for k in present)
    if not containers and not any(k in (Kind.ARRAY, Kind.SCALAR) for k in present):
        return "a select of values of unknown kind"  # (its result's rank unknown, later code could not batch)
    return None


def _select_val(sides, lead: int) -> Val:
    """The Val of `select`'s result per enclosing example: its `lead` batch axes, then a side's own
    axes (each side carries the given number of those batch axes)."""
    reason = _select_refusal(sides)
    if reason is not None:
        raise _give_up(reason)
    present = [(_unless_none(op), f) for op, f in sides if not _absent(op)]
    if any(op.val.kind in (Kind.TUPLE, Kind.LIST, Kind.DICT) for op, _ in present):
        return Val(True, None, Kind.OTHER)  # (tuples are selected element by element: any structure)
    # A side of unknown kind beside an array is an array or None (a branch no lane took): the inner
    # code selects arrays with arrays
    present = [(op, f) for op, f in present if op.val.kind in (Kind.ARRAY, Kind.SCALAR)]
    ranks = {None if op.val.ndim is None else op.val.ndim - f for op, f in present}
    rank = ranks.pop() if len(ranks) == 1 else None
    dtypes = {op.val.dtype for op, _ in present}
    dtype = dtypes.pop() if len(dtypes) == 1 else None
    return Val(True, None if rank is None else rank + lead, Kind.ARRAY, dtype)


def lanes_like_active_facts(call, x, **_) -> Val:
    """The same lanes, each inactive one a copy of an active one: an array of x's rank and kind (or a
    masked selection, NOTE [masked selections])."""
    if x.val.selection is not None:
        return x.val.with_(batched=False)
    if x.val.kind not in (Kind.ARRAY, Kind.SCALAR):
        return UNKNOWN  # refused by the rule
    return x.val.with_(batched=False, kind=Kind.ARRAY, py=False, py_some=False)


@register(runtime.lanes_like_active, traits="lanes selections")
@infers(lanes_like_active_facts)
def batch_lanes_like_active(ctx, x, mask) -> Operand:
    # per enclosing example: x (B, ...) borrows its first active lane; batched: each enclosing example
    # borrows from its own lanes (the helper reads the mask's batch axes), so both carry them
    if x.val.kind not in (Kind.ARRAY, Kind.SCALAR) and x.val.selection is None:
        raise _give_up("lanes of a container")
    nodes = [_spread(ctx, op).node for op in (x, mask)]
    node = ctx.expr("av__.lanes_like_active(x, m)", x=nodes[0], m=nodes[1])
    return emit(node, lanes_like_active_facts(ctx.call, x))


def bound_facts(call, x, **_) -> Val:
    """The value itself (where it has one)."""
    return x.val


@register(runtime.bound)
@infers(bound_facts)
def batch_bound(ctx, x, name) -> Operand:
    # the value, or Python's error where the name has none: the same check on the whole value
    return Operand(ctx.call.rebuild([x.node, name.node], {}), x.val)


def range_bound_facts(call, *_, **__) -> Val:
    """An int, the same for every example."""
    return Val(False, 0, Kind.SCALAR, "i")


@register(runtime.highest, runtime.lowest, traits="lanes")
@infers(range_bound_facts)
def batch_range_bound(ctx, bound, start=None) -> Operand:
    # the largest stop (smallest start) of every example's range over every enclosing example too: the
    # counter runs over their union and each lane tests its own range (transform/loops.py)
    nodes = [bound.node] + ([] if start is None else [start.node])
    return Operand(ctx.call.rebuild(nodes, {}), range_bound_facts(ctx.call))


# ---- the per-example loop ------------------------------------------------------------------------------
@register(runtime.loop, traits="lanes")
def batch_loop(ctx, fn, B, args, batched, kwargs=None, kw_batched=None) -> Operand:
    # per enclosing example: fn over B examples; batched: one loop over both batches merged
    flags = _flags(ctx, batched, "which arguments are batched")
    kw_flags = {} if kw_batched is None else _flags(ctx, kw_batched, "which arguments are batched")
    return _merged_loop(
        ctx, fn, [B], args, [(f,) for f in flags], kwargs, {k: (f,) for k, f in kw_flags.items()}
    )


@register(runtime.loop_nested, traits="lanes")
def batch_loop_nested(ctx, fn, sizes, args, axes, kwargs=None, kw_axes=None) -> Operand:
    # a loop already under enclosing batches: one more in front
    kw_value = {} if kw_axes is None else _flags(ctx, kw_axes, "which arguments are batched")
    if sizes.batched:
        raise ctx.fail("batch sizes that differ between examples")
    sizes_node = ast.Starred(sizes.node, ast.Load())
    return _merged_loop(ctx, fn, [sizes_node], args, _flags(ctx, axes, "batch axes"), kwargs, kw_value)


def _merged_loop(ctx, fn, sizes, args, axes, kwargs, kw_axes) -> Operand:
    if fn.batched or any(isinstance(s, Operand) and s.batched for s in sizes):
        raise ctx.fail("a function or batch size that differs between examples")
    if any(not isinstance(f, bool) for ax in [*axes, *kw_axes.values()] for f in ax):
        raise ctx.fail("a container argument of the per-example loop")
    elts = _elements(ctx, args)
    kw_elts = {} if kwargs is None else _keyed(ctx, kwargs)
    new_axes = tuple((e.batched, *ax) for e, ax in zip(elts, axes, strict=True))
    new_kw = {k: (v.batched, *kw_axes.get(k, (False,))) for k, v in kw_elts.items()}
    node = ctx.expr(
        "av__.loop_nested(f, s, args, axes)",
        f=fn.node,
        s=ast.Tuple(
            [ctx.batch_size()] + [s.node if isinstance(s, Operand) else s for s in sizes], ast.Load()
        ),
        args=ast.Tuple([e.node for e in elts], ast.Load()),
        axes=templates.const(new_axes),
    )
    assert isinstance(node, ast.Call)  # the template is a call
    if kw_elts:
        node.args.append(ast.Dict([ast.Constant(k) for k in kw_elts], [v.node for v in kw_elts.values()]))
        node.args.append(templates.const(new_kw))
    batched = any(e.batched for e in elts) or any(v.batched for v in kw_elts.values())
    return Operand(node, Val(batched, None, Kind.OTHER))


def _keyed(ctx, op) -> dict[str, Operand]:
    if op.val.kind != Kind.DICT or op.val.keys is None or op.val.elts is None:
        raise ctx.fail("keyword arguments of unknown names")
    if isinstance(op.node, ast.Dict) and len(op.node.values) == len(op.val.elts):
        return {k: Operand(n, v) for k, n, v in zip(op.val.keys, op.node.values, op.val.elts)}
    return {k: Operand(templates.index(op.node, [k]), v) for k, v in zip(op.val.keys, op.val.elts)}
