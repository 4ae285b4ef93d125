"""Rules for the `av__` helpers, so that generated code can itself be batched again (nested vmap):
a batched first argument carries one more leading batch axis, so each helper's per-example "lead"
count grows by one.
"""

from __future__ import annotations

import ast
import math

from .. import runtime
from ..kit import templates
from .common import align, emit, infers, out, rank, respell, result_kind, static
from .elementwise import PY_CHECKED
from .registry import register
from .values import NO_STATIC, UNKNOWN, Kind, MaskedSelection, Operand, Val, array, container


def broadcast_facts(call, v, **_) -> Val:
    """One more (batch) axis in front."""
    return array(False, None if v.val.ndim is None else v.val.ndim + 1, v.val.dtype)


@register(runtime.batch_broadcast)
@infers(broadcast_facts)
def batch_batch_broadcast(ctx, v, B) -> Operand:
    # per outer example: v (*s) -> (B, *s); batched: (Bo, *s) -> (Bo, B, *s)
    if B.batched:
        raise ctx.fail("an inner batch size that differs between outer examples")
    if v.val.kind not in (Kind.ARRAY, Kind.SCALAR):
        raise ctx.fail("repeating a batched container")
    node = ctx.expr("np.repeat(np.expand_dims(v, 1), n, axis=1)", v=v.node, n=B.node)
    return emit(node, broadcast_facts(ctx.call, v))


def arrays_are_facts(call, x, classinfo, **_) -> Val:
    """True or False, the same for every example."""
    return Val(False, 0, Kind.SCALAR, "b")


@register(runtime.arrays_are)
@infers(arrays_are_facts)
def batch_arrays_are(ctx, x, classinfo) -> Operand:
    # batched again: the rows of each example's batch, or classes that differ between examples
    raise ctx.fail("isinstance() of a batch of batches, or with classes that differ between examples")


@register(runtime.item_missing)
def batch_item_missing(ctx, container, key) -> Operand:
    # batched again: a container holding batched values, its keys (or length) the same for every
    # example; the key one value for all: it raises as it did, for all examples at once
    if key.batched:
        raise ctx.fail("an item missing by a key that differs between examples")
    return Operand(ctx.call.rebuild([container.node, key.node], {}), UNKNOWN)


def new_object_facts(call, cls, **_) -> Val:
    """An object of the class, before its `__init__` runs (NOTE [objects]): no attributes yet."""
    return container(Kind.RECORD, [], [], cls.static) if isinstance(cls.static, type) else UNKNOWN


@register(runtime.new_object)
@infers(new_object_facts)
def batch_new_object(ctx, cls) -> Operand:
    # one object for the batch: its rewritten `__init__` sets its attributes, batched ones whole
    if not isinstance(cls.static, type):
        raise ctx.fail("an object of a class not known when rewriting")
    return Operand(ctx.call.rebuild([cls.node], {}), new_object_facts(ctx.call, cls))


def object_with_facts(call, cls, attributes, **_) -> Val:
    """An object of the class holding these attributes (NOTE [objects])."""
    v = attributes.val
    if not isinstance(cls.static, type) or v.kind != Kind.DICT or v.keys is None or v.elts is None:
        return UNKNOWN
    return container(Kind.RECORD, v.elts, v.keys, cls.static)


@register(runtime.object_with)
@infers(object_with_facts)
def batch_object_with(ctx, cls, attributes) -> Operand:
    # one object for the batch, its batched attributes whole
    facts = object_with_facts(ctx.call, cls, attributes)
    if facts is UNKNOWN:
        raise ctx.fail("an object of a class or attributes not known when rewriting")
    return Operand(ctx.call.rebuild([cls.node, attributes.node], {}), facts)


def flatten_facts(call, x, **_) -> Val:
    """(Bi, *s) -> (Bi, prod(s))."""
    return array(False, 2 if x.val.ndim is not None else None, x.val.dtype)


@register(runtime.flatten)
@infers(flatten_facts)
def batch_flatten(ctx, x) -> Operand:
    # per outer example: (Bi, *s) -> (Bi, prod(s)); batched: keep two leading axes
    node = ctx.expr("x.reshape(x.shape[:2] + (-1,)) if x.size else x.reshape(x.shape[:2] + (0,))", x=x.node)
    if x.val.ndim is not None and x.val.ndim >= 1:
        node = ctx.expr("av__.flatten_lead(x, 2)", x=x.node)
    return emit(node, flatten_facts(ctx.call, x))


def size_facts(call, *_, **__) -> Val:
    """A Python int, the same for every example."""
    return Val(False, 0, Kind.SCALAR, "i")


@register(runtime.example_size)
@infers(size_facts)
def batch_example_size(ctx, x) -> Operand:
    node = ctx.expr("av__.example_size(x[0]) if len(x) else av__.prod(x.shape[2:])", x=x.node)
    return Operand(node, size_facts(ctx.call))


def window_facts(call, x, start, length, axis=None, batched=None, **_) -> Val:
    """A window for every start: the starts' axes added."""
    if batched is not None or (axis is not None and not axis.is_static):
        return UNKNOWN  # refused by the rule
    nd = None if x.val.ndim is None or start.val.ndim is None else x.val.ndim + start.val.ndim
    return array(False, nd, x.val.dtype)


@register(runtime.window)
@infers(window_facts)
def batch_window(ctx, x, start, length, axis=None, batched=None) -> Operand:
    # windows of a batched array at starts shared by the examples: the same windows, one axis further
    if start.batched or length.batched or batched is not None or (axis is not None and not axis.is_static):
        raise ctx.fail("windows whose starts differ between examples of an enclosing vmap")
    ax = 0 if axis is None else axis.static
    node = ctx.expr("av__.window(x, i, n, axis=k)", x=x.node, i=start.node, n=length.node, k=ax + 1)
    return emit(node, window_facts(ctx.call, x, start, length))


@register(runtime.shift_axis)
def batch_shift_axis(ctx, axis, ndim=None) -> Operand:
    raise ctx.fail("an axis that differs between examples")


def enters_facts(call, mask, **_) -> Val:
    """A bool: does any lane take the branch?"""
    return Val(False, 0, Kind.SCALAR, "b")


@register(runtime.enters, traits="lanes")
@infers(enters_facts)
def batch_enters(ctx, mask) -> Operand:
    # a guard: "does any lane take this branch?", asked of each enclosing example. One example's lanes
    # borrow only from its own lanes (lanes_like_active), so an example none of whose lanes takes the
    # branch must skip it: the guard is a per-example test, and the enclosing rewrite makes its `if` a
    # batched one (those examples borrow a whole example that enters)
    return out(ctx.expr("av__.enters_each(m)", m=mask.node), True, 0, "b")


def enters_each_facts(call, mask, **_) -> Val:
    """The test over the last (lane) axis."""
    return array(False, None if mask.val.ndim is None else mask.val.ndim - 1, "b")


@register(runtime.enters_each, traits="lanes")
@infers(enters_each_facts)
def batch_enters_each(ctx, mask) -> Operand:
    # the test over the last (lane) axis, whatever the leading ones: the same call
    return emit(ctx.call.rebuild([mask.node], {}), enters_each_facts(ctx.call, mask))


# the checked helpers of Python's operators (rules/elementwise.py emits them), helper -> operator
_PY_OPERATOR = {getattr(runtime, name): op for op, name in PY_CHECKED.items()}


def _broadcast_rank(*ops) -> int | None:
    ranks = [rank(o) for o in ops]
    return None if None in ranks else max(r for r in ranks if r is not None)


def python_arithmetic_facts(call, a, b, **_) -> Val:
    """Python's operator, checked: the operands broadcast, the result a Python number per example."""
    kind = result_kind(_PY_OPERATOR[call.fn], [a, b])
    return Val(False, _broadcast_rank(a, b), Kind.ARRAY, kind, py=a.val.py or b.val.py)


@register(*_PY_OPERATOR)
@infers(python_arithmetic_facts)
def batch_python_arithmetic(ctx, a, b) -> Operand:
    # elementwise, its checks too (each compares an element with its own operands): the same call on
    # (Bo, ...) after aligning ranks; the result stays a Python number per example
    nodes, _ = align(ctx, [a, b])
    return emit(ctx.call.rebuild(nodes, {}), python_arithmetic_facts(ctx.call, a, b))


def python_divmod_facts(call, a, b, **_) -> Val:
    """A pair of Python numbers per example."""
    batched = a.batched or b.batched
    elt = Val(batched, _broadcast_rank(a, b), Kind.ARRAY, py=batched)
    return Val(batched, None, Kind.TUPLE, None, (elt, elt))


@register(runtime.py_divmod)
@infers(python_divmod_facts)
def batch_python_divmod(ctx, a, b) -> Operand:
    nodes, _ = align(ctx, [a, b])
    return emit(ctx.call.rebuild(nodes, {}), python_divmod_facts(ctx.call, a, b))


def weak_facts(call, column, **_) -> Val:
    """The same array, marked."""
    return array(False, column.val.ndim, column.val.dtype)


@register(runtime.weak)
@infers(weak_facts)
def batch_weak(ctx, column) -> Operand:
    # a mark on the array, whatever its batch axes: the same call
    return emit(ctx.call.rebuild([column.node], {}), weak_facts(ctx.call, column))


# ---- helpers of a batch's own axes: under an enclosing vmap they carry one more leading batch axis ------
def _lead_value(lead, default: int = 1) -> int | None:
    """The batch axes a helper call already skips (its `lead=`; None when not known)."""
    value = static(lead, default)
    return value if isinstance(value, int) else None


def _lead(ctx, lead, default: int = 1) -> int:
    value = _lead_value(lead, default)
    if value is None:
        raise ctx.fail("a helper's batch axes not known when the code is rewritten")
    return value


def _same(ctx, args: list, kwargs: dict, val: Val, batched: bool) -> Operand:
    """The helper's call with these operand nodes and keywords (`lead=` among them when batched)."""
    return Operand(ctx.call.rebuild(args, kwargs), val.with_(batched=batched))


def _unbatched(ctx, *ops) -> None:
    if any(op is not None and op.batched for op in ops):
        raise ctx.fail("a helper argument that differs between examples (a shape, an index, an axis)")


def reshape_facts(call, x, shape, lead=None, **_) -> Val:
    """The batch axes it skips, then the new shape."""
    n, known = _lead_value(lead), static(shape)
    if n is None:
        return UNKNOWN  # refused by the rule
    rank = None if known is NO_STATIC else n + (1 if isinstance(known, int) else len(known))
    return array(False, rank, x.val.dtype)


@register(runtime.reshape)
@infers(reshape_facts)
def batch_reshape(ctx, x, shape, order=None, lead=None) -> Operand:
    _unbatched(ctx, shape, order)
    n = _lead(ctx, lead)
    kw = {} if order is None else {"order": order.node}
    val = reshape_facts(ctx.call, x, shape, lead)
    return _same(ctx, [x.node, shape.node], {**kw, "lead": ast.Constant(n + 1)}, val, True)


def kind_facts(call, x, lead=None, **_) -> Val:
    """An array of x's kind, of a rank not known here."""
    return array(False, None, x.val.dtype) if _lead_value(lead) is not None else UNKNOWN


@register(runtime.squeeze)
@infers(kind_facts)
def batch_squeeze(ctx, x, lead=None) -> Operand:
    n = _lead(ctx, lead)
    return _same(ctx, [x.node], {"lead": ast.Constant(n + x.batched)}, kind_facts(ctx.call, x), x.batched)


def flatten_lead_facts(call, x, lead, **_) -> Val:
    """The batch axes it skips, then one."""
    n = _lead_value(lead)
    return UNKNOWN if n is None else array(False, n + 1, x.val.dtype)


@register(runtime.flatten_lead)
@infers(flatten_lead_facts)
def batch_flatten_lead(ctx, x, lead) -> Operand:
    n = _lead(ctx, lead)
    val = flatten_lead_facts(ctx.call, x, lead)
    return _same(ctx, [x.node, ast.Constant(n + x.batched)], {}, val, x.batched)


@register(runtime.getitem)
@infers(kind_facts)
def batch_getitem(ctx, x, index, lead=None) -> Operand:
    _unbatched(ctx, index)
    n = _lead(ctx, lead)
    val = kind_facts(ctx.call, x, lead)
    return _same(ctx, [x.node, index.node], {"lead": ast.Constant(n + x.batched)}, val, x.batched)


def other_facts(call, x, lead=None, **_) -> Val:
    """A value of a kind not known here (a stacked array, or a tuple of them)."""
    return Val(False, None, Kind.OTHER) if _lead_value(lead) is not None else UNKNOWN


@register(runtime.getitem_any)
@infers(other_facts)
def batch_getitem_any(ctx, x, index, lead=None) -> Operand:
    # a tuple of stacked arrays (each carries the enclosing batch axis too) or one stacked array
    _unbatched(ctx, index)
    n = _lead(ctx, lead)
    val = other_facts(ctx.call, x, lead)
    return _same(ctx, [x.node, index.node], {"lead": ast.Constant(n + x.batched)}, val, x.batched)


_MASKED_KIND = {"any": "b", "all": "b", "count_nonzero": "i"}


def _masked_kind(reducer, kind):
    """The kind of `np.<reducer>` of elements of this kind."""
    if reducer in _MASKED_KIND:
        return _MASKED_KIND[reducer]
    if reducer == "mean" and kind in ("b", "i", "u"):
        return "f"
    if reducer in ("sum", "prod") and kind == "b":
        return "i"
    return kind


def _spread(ctx, op) -> ast.expr:
    """An operand as a value of the enclosing batch (repeated over it when it is not one)."""
    return ctx.promote(op, op.val.with_(batched=True)).node


def arg_flat_facts(call, fn, x, keepdims, lead=None, **_) -> Val:
    """Indices: one per lane, or x's rank with keepdims."""
    n, keep = _lead_value(lead), static(keepdims)
    if n is None:
        return UNKNOWN  # refused by the rule
    return array(False, None if keep is NO_STATIC else (x.val.ndim if keep else n), "i")


@register(runtime.arg_flat)
@infers(arg_flat_facts)
def batch_arg_flat(ctx, fn, x, keepdims, lead=None) -> Operand:
    _unbatched(ctx, fn, keepdims)
    n = _lead(ctx, lead)
    val = arg_flat_facts(ctx.call, fn, x, keepdims, lead)
    return _same(ctx, [fn.node, x.node, keepdims.node], {"lead": ast.Constant(n + x.batched)}, val, x.batched)


def diag_matrix_facts(call, v, **_) -> Val:
    """(..., n) -> (..., m, m)."""
    return array(False, None if v.val.ndim is None else v.val.ndim + 1, v.val.dtype)


@register(runtime.diag_matrix)
@infers(diag_matrix_facts)
def batch_diag_matrix(ctx, v, k=None) -> Operand:
    # (..., n) -> (..., m, m) whatever the leading axes: the same call
    _unbatched(ctx, k)
    val = diag_matrix_facts(ctx.call, v)
    return _same(ctx, [v.node] + ([] if k is None else [k.node]), {}, val, v.batched)


def rows_facts(call, values, lead=None, **_) -> Val:
    """The same array, each row its lane's."""
    return array(False, values.val.ndim, values.val.dtype) if _lead_value(lead) is not None else UNKNOWN


@register(runtime.rows)
@infers(rows_facts)
def batch_rows(ctx, values, B, lead=None) -> Operand:
    _unbatched(ctx, B)
    n = _lead(ctx, lead)
    val = rows_facts(ctx.call, values, lead)
    return _same(ctx, [values.node, B.node], {"lead": ast.Constant(n + values.batched)}, val, values.batched)


def stack_facts(call, items, axis=None, **_) -> Val:
    """The items stacked: one axis more than theirs, their kind (where they agree)."""
    elts = items.val.elts
    if elts is None or _lead_value(axis) is None:
        return UNKNOWN  # refused by the rule
    ranks, dtypes = {e.ndim for e in elts}, {e.dtype for e in elts}
    rank = None if len(ranks) != 1 or None in ranks else next(iter(ranks)) + 1
    return array(False, rank, dtypes.pop() if len(dtypes) == 1 else None)


@register(runtime.stack)
@infers(stack_facts)
def batch_stack(ctx, items, B, axis=None) -> Operand:
    # np.array of a list of (B, ...) values: stacked one axis further; every item then carries the
    # enclosing batch (one that does not is repeated over it)
    _unbatched(ctx, B, axis)
    a = _lead(ctx, axis)
    elts = items.val.elts
    if elts is None:
        raise ctx.fail("a helper's list of unknown length")
    val = stack_facts(ctx.call, items, axis)
    parts = [_spread(ctx, Operand(templates.index(items.node, [i]), e)) for i, e in enumerate(elts)]
    node = ctx.expr(
        "av__.stack(xs, B, axis=k)", xs=ast.List(parts, ast.Load()), B=B.node, k=ast.Constant(a + 1)
    )
    return Operand(node, val.with_(batched=True))


def align_facts(call, values, batched, lead=None, **_) -> Val:
    """The values, the batched ones of a rank not known here."""
    flags, elts = static(batched), values.val.elts
    if flags is NO_STATIC or elts is None or (lead is not None and static(lead) is NO_STATIC):
        return UNKNOWN  # refused by the rule
    return container(
        Kind.TUPLE, [Val(e.batched, None, Kind.ARRAY, e.dtype) if f else e for e, f in zip(elts, flags)]
    )


@register(runtime.align)
@infers(align_facts)
def batch_align(ctx, values, batched, lead=None) -> Operand:
    # rank alignment of the inner lanes: a value carrying the enclosing batch too skips one more axis
    facts = align_facts(ctx.call, values, batched, lead)
    if facts.kind != Kind.TUPLE:
        raise ctx.fail("rank alignment of values not known when the code is rewritten")
    leads = tuple(int(f) for f in static(batched)) if lead is None else static(lead)
    new = tuple(n + e.batched for n, e in zip(leads, values.val.elts or ()))
    node = ctx.call.rebuild([values.node, batched.node], {"lead": templates.const(new)})
    return Operand(node, facts)


def move_tree_facts(call, tree, **_) -> Val:
    """The same container, its mapped leaves' axes moved."""
    return tree.val


@register(runtime.move_tree)
@infers(move_tree_facts)
def batch_move_tree(ctx, tree, axes, lead=None) -> Operand:
    # a container argument's mapped leaves: under an enclosing batch each leaf carries it first
    _unbatched(ctx, axes)
    n = _lead(ctx, lead, 0)
    if tree.batched and not _all_batched(tree.val):
        raise ctx.fail("a container argument some of whose leaves carry the enclosing batch")
    return _same(
        ctx, [tree.node, axes.node], {"lead": ast.Constant(n + tree.batched)}, tree.val, tree.batched
    )


def _all_batched(v: Val) -> bool:
    if v.elts is not None:
        return all(_all_batched(e) for e in v.elts)
    return v.batched


# ---- per-example numbers and math -------------------------------------------------------------------------
def to_int_facts(call, x, ndigits=None, **_) -> Val:
    """Elementwise: ints (rounding to digits keeps the kind)."""
    return array(False, x.val.ndim, "i" if ndigits is None or static(ndigits) is None else x.val.dtype)


@register(runtime.to_int, runtime.to_round)
@infers(to_int_facts)
def batch_to_int(ctx, x, ndigits=None) -> Operand:
    # elementwise, its checks too: the same call on every lane of every enclosing example
    _unbatched(ctx, ndigits)
    nodes = [x.node] + ([] if ndigits is None else [ndigits.node])
    return emit(ctx.call.rebuild(nodes, {}), to_int_facts(ctx.call, x, ndigits))


def math_fn_facts(call, fn, args=(), **_) -> Val:
    """Elementwise: floats, the operands broadcast."""
    return array(False, _broadcast_rank(*args) if args else 0, "f")


@register(runtime.math_fn)
@infers(math_fn_facts)
def batch_math_fn(ctx, fn, *args) -> Operand:
    _unbatched(ctx, fn)
    nodes, _ = align(ctx, list(args))
    return emit(ctx.call.rebuild([fn.node, *nodes], {}), math_fn_facts(ctx.call, fn, args))


def prod_rows_facts(call, x, **_) -> Val:
    """The product along the last axis."""
    return array(False, None if x.val.ndim is None else x.val.ndim - 1)


@register(runtime.prod_rows)
@infers(prod_rows_facts)
def batch_prod_rows(ctx, x, start=None) -> Operand:
    # the product along the last axis, whatever the leading ones: the same call
    _unbatched(ctx, start)
    nodes = [x.node] + ([] if start is None else [start.node])
    return emit(ctx.call.rebuild(nodes, {}), prod_rows_facts(ctx.call, x))


@register(math.prod)
def batch_math_prod(ctx, iterable, /, *, start=None) -> Operand:
    # math.prod of a per-example vector: its elements multiplied in order from `start`, as Python does
    _unbatched(ctx, start)
    v = iterable.val
    if not iterable.batched:
        return Operand(
            ctx.call.rebuild([iterable.node] + ([] if start is None else [start.node]), {}), UNKNOWN
        )
    if v.kind != Kind.ARRAY or v.ndim != 1 or v.py:
        raise ctx.fail("math.prod of a per-example value that is not a NumPy vector")
    node = ctx.expr("av__.prod_rows(x)", x=iterable.node)
    if start is not None:
        node = ctx.expr("av__.prod_rows(x, s)", x=iterable.node, s=start.node)
    return out(node, True, 0, None)  # (an empty vector's product is `start`, of its own type)


# ---- values that must be the same for every example ------------------------------------------------------
def static_tuple_facts(call, value, **_) -> Val:
    """A tuple of ints."""
    return Val(False, None, Kind.TUPLE)


@register(runtime.as_shape, runtime.shift_perm)
@infers(static_tuple_facts)
def batch_static_tuple(ctx, value) -> Operand:
    # a `size=` or a permutation: per-example values of different sizes would give ragged results
    raise ctx.fail("a helper argument that differs between examples (a shape, an index, an axis)")


# ---- np.linalg.lstsq ------------------------------------------------------------------------------
def lstsq_helper_facts(call, a, b, rcond=None, vector=None, lead=None, **_) -> Val:
    """(x, residuals, rank, s), each with the batch axes it skips in front."""
    n, vec = _lead_value(lead), static(vector, False)
    if n is None or not isinstance(vec, bool):
        return UNKNOWN  # refused by the rule
    kinds = (a.val.dtype, b.val.dtype)
    kind = "c" if "c" in kinds else "f" if all(k in ("b", "i", "u", "f") for k in kinds) else None
    real = array(False, n + 1, "f")
    elts = (array(False, n + (1 if vec else 2), kind), real, array(False, n, "i"), real)
    return Val(False, None, Kind.TUPLE, None, elts)


@register(runtime.lstsq)
@infers(lstsq_helper_facts)
def batch_lstsq_helper(ctx, a, b, rcond=None, vector=None, lead=None) -> Operand:
    # every lane of every enclosing example: an operand the enclosing examples share gets a leading axis
    # of 1, and the lanes skip one more batch axis
    _unbatched(ctx, rcond, vector)
    n = _lead(ctx, lead)
    val = lstsq_helper_facts(ctx.call, a, b, rcond, vector, lead)
    if val.elts is None:
        raise ctx.fail("lstsq of a vector or a matrix not known when the code is rewritten")
    nodes = [op.node if op.batched else ctx.expr("np.expand_dims(x, 0)", x=op.node) for op in (a, b)]
    options = {k: op.node for k, op in (("rcond", rcond), ("vector", vector)) if op is not None}
    node = ctx.call.rebuild(nodes, {**options, "lead": ast.Constant(n + 1)})
    return Operand(node, val.with_(batched=True, elts=tuple(e.with_(batched=True) for e in val.elts)))


# ---- masked selections (runtime_selection.py, NOTE [masked selections]): a `Selection` knows its batch
# axes, so under an enclosing batch only `select_mask` changes: its operands carry every batch axis


def select_mask_facts(call, x, mask, copy_x, copy_mask, lead=None, **_) -> Val:
    if _lead_value(lead) is None:
        return UNKNOWN  # refused by the rule
    return Val(False, None, Kind.OTHER, selection=MaskedSelection(x.val.dtype, ()))


@register(runtime.select_mask, traits="selections lanes")
@infers(select_mask_facts)
def batch_select_mask(ctx, x, mask, copy_x, copy_mask, lead=None) -> Operand:
    _unbatched(ctx, copy_x, copy_mask)
    n = _lead(ctx, lead)
    val = select_mask_facts(ctx.call, x, mask, copy_x, copy_mask, lead)
    nodes = [_spread(ctx, op) for op in (x, mask)]
    return _same(ctx, nodes + [copy_x.node, copy_mask.node], {"lead": ast.Constant(n + 1)}, val, True)


def selection_size_facts(call, sel, **_) -> Val:
    return Val(False, None, Kind.ARRAY, "i")


@register(runtime.selection_size, traits="selections")
@infers(selection_size_facts)
def batch_selection_size(ctx, sel) -> Operand:
    return _same(ctx, [sel.node], {}, selection_size_facts(ctx.call, sel), True)


def reduce_selection_facts(call, sel, name, **_) -> Val:
    kind = sel.val.selection.dtype if sel.val.selection is not None else None
    return Val(False, None, Kind.ARRAY, _masked_kind(static(name), kind))


@register(runtime.reduce_selection, traits="selections lanes")
@infers(reduce_selection_facts)
def batch_reduce_selection(ctx, sel, name) -> Operand:
    _unbatched(ctx, name)
    return _same(ctx, [sel.node, name.node], {}, reduce_selection_facts(ctx.call, sel, name), True)


def same_rank_facts(call, x, lead=None, **_) -> Val:
    """An array of x's rank and kind."""
    return array(False, x.val.ndim, x.val.dtype) if _lead_value(lead) is not None else UNKNOWN


@register(runtime.sorted_lanes)
@infers(same_rank_facts)
def batch_sorted_lanes(ctx, x, reverse=None, lead=None) -> Operand:
    # every lane's vector sorted: under an enclosing batch, one more lane axis
    _unbatched(ctx, reverse)
    n = _lead(ctx, lead)
    val = same_rank_facts(ctx.call, x, lead)
    args = [x.node] + ([reverse.node] if reverse is not None else [ast.Constant(False)])
    return _same(ctx, args, {"lead": ast.Constant(n + 1)}, val, True)


# ---- statistics helpers (rules/statistics.py, `np.average` in reductions.py): every array operand carries
# `lead` batch axes, each of the batch's size or 1; under an enclosing vmap it carries one more in front (of
# size 1 when the enclosing examples share it), and the other arguments must be the same for every one
def _stat_call(ctx, arrays: dict, lead, facts: Val, **shared) -> Operand:
    """The helper's call again with its array operands over the enclosing batch too, `lead` one more."""
    _unbatched(ctx, *shared.values())
    n = _lead(ctx, lead)
    nodes: dict = {"lead": ast.Constant(n + 1)}
    for name, op in arrays.items():
        if op is not None and static(op) is not None:
            nodes[name] = op.node if op.batched else ctx.expr("np.asarray(x)[None]", x=op.node)
    elts = facts.elts
    if facts.kind == Kind.TUPLE and elts is not None:  # (counts, edges): the edges are shared
        return Operand(respell(ctx, nodes), container(Kind.TUPLE, [elts[0].with_(batched=True), *elts[1:]]))
    return Operand(respell(ctx, nodes), facts.with_(batched=True))


def _stat_kind(*ops) -> str | None:
    """Float, or complex, of real or complex operands (None when a kind is not known)."""
    kinds = {op.val.dtype for op in ops if op is not None and static(op) is not None}
    return None if None in kinds else "c" if "c" in kinds else "f"


def weighted_average_facts(call, a, weights, axis=None, returned=None, keepdims=None, lead=None, **_) -> Val:
    """The lanes' averages (and the sums of their weights, with `returned`)."""
    n, value, keep, ret = _lead_value(lead), static(axis), static(keepdims, False), static(returned, False)
    if ret is NO_STATIC:
        return UNKNOWN  # refused by the rule
    nd = a.val.ndim
    if n is None or nd is None or value is NO_STATIC or keep is NO_STATIC:
        ndim = None
    elif keep:
        ndim = nd
    else:
        ndim = n if value is None else nd - (len(set(value)) if isinstance(value, tuple) else 1)
    avg = array(False, ndim, _stat_kind(a, weights))
    return container(Kind.TUPLE, [avg, avg]) if ret else avg


@register(runtime.weighted_average)
@infers(weighted_average_facts)
def batch_weighted_average(ctx, a, weights, axis=None, returned=None, keepdims=None, lead=None) -> Operand:
    facts = weighted_average_facts(ctx.call, a, weights, axis, returned, keepdims, lead)
    if facts.kind == Kind.OTHER:
        raise ctx.fail("an average whose `returned` is not known when the code is rewritten")
    if facts.kind == Kind.TUPLE:
        facts = container(Kind.TUPLE, [e.with_(batched=True) for e in facts.elts or ()])
    arrays = {"a": a, "weights": weights}
    return _stat_call(ctx, arrays, lead, facts, axis=axis, returned=returned, keepdims=keepdims)


def stat_bincount_facts(call, x, weights=None, **_) -> Val:
    """Counts (or sums of weights) per lane."""
    given = weights is not None and static(weights) is not None
    return array(False, x.val.ndim, None if given else "i")


@register(runtime.bincount)
@infers(stat_bincount_facts)
def batch_stat_bincount(ctx, x, weights=None, minlength=None, lead=None) -> Operand:
    facts = stat_bincount_facts(ctx.call, x, weights)
    return _stat_call(ctx, {"x": x, "weights": weights}, lead, facts, minlength=minlength)


def stat_histogram_facts(call, a, bins=None, value_range=None, density=None, weights=None, lead=None, **_):
    """(counts per lane, the edges)."""
    n = _lead_value(lead)
    return container(Kind.TUPLE, [array(False, None if n is None else n + 1), array(False, 1)])


@register(runtime.histogram)
@infers(stat_histogram_facts)
def batch_stat_histogram(ctx, a, bins=None, value_range=None, density=None, weights=None, lead=None):
    facts = stat_histogram_facts(ctx.call, a, lead=lead)
    shared = {"bins": bins, "value_range": value_range, "density": density}
    return _stat_call(ctx, {"a": a, "weights": weights}, lead, facts, **shared)


def stat_cov_facts(call, m=None, y=None, dtype=None, x=None, **_) -> Val:
    """A matrix (a scalar for one variable) per lane: float or complex."""
    m = x if m is None else m
    return array(False, None, _stat_kind(m, y) if dtype is None or static(dtype) is None else None)


@register(runtime.cov)
@infers(stat_cov_facts)
def batch_stat_cov(
    ctx, m, y=None, rowvar=None, bias=None, ddof=None, fweights=None, aweights=None, dtype=None, lead=None
) -> Operand:
    facts = stat_cov_facts(ctx.call, m, y, dtype)
    shared = {"rowvar": rowvar, "bias": bias, "ddof": ddof, "fw": fweights, "aw": aweights, "dtype": dtype}
    return _stat_call(ctx, {"m": m, "y": y}, lead, facts, **shared)


@register(runtime.corrcoef)
@infers(stat_cov_facts)
def batch_stat_corrcoef(ctx, x, y=None, rowvar=None, dtype=None, lead=None) -> Operand:
    facts = stat_cov_facts(ctx.call, x, y, dtype)
    return _stat_call(ctx, {"x": x, "y": y}, lead, facts, rowvar=rowvar, dtype=dtype)


def stat_quantile_facts(call, name, a, q, **_) -> Val:
    """Quantiles per lane (of a rank and dtype this does not follow)."""
    return array(False, None, None)


@register(runtime.quantile)
@infers(stat_quantile_facts)
def batch_stat_quantile(ctx, name, a, q, axis=None, lead=None, **options) -> Operand:
    facts = stat_quantile_facts(ctx.call, name, a, q)
    return _stat_call(ctx, {"a": a}, lead, facts, name=name, q=q, axis=axis, **options)


@register(runtime.sort_items)
def batch_sort_items(ctx, items, reverse=None) -> Operand:
    # the items carry the enclosing batch axis too: each (outer, inner) lane's items sorted alike
    _unbatched(ctx, reverse)
    if items.val.kind != Kind.LIST:
        raise ctx.fail("sorting items that are not a list")
    args = [items.node] + ([reverse.node] if reverse is not None else [])
    return _same(ctx, args, {}, Val(False, None, Kind.NONE), False)
