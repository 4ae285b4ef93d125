"""The few helpers generated code calls as `av__.*`.

Generated code is plain NumPy; these helpers cover the cases where a one-line NumPy form would be wrong
for an edge case (an empty batch, an unknown rank) or unreadable. Each one is small, imports only NumPy,
and states the shape case it handles. NOTE [batch axis at 0]: every batched argument has its batch axis
first.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from .pynum import (
    math_fn,
    py_divmod,
    py_floordiv,
    py_mod,
    py_pow,
    py_truediv,
    some_python,
    to_int,
    to_round,
    weak,
)
from .runtime_lanes import (
    UNBOUND,
    Weak,
    active_lanes,
    batch_broadcast,
    bound,
    enters,
    enters_each,
    highest,
    lanes_like_active,
    lowest,
    merge_lanes,
    put_lanes,
)
from .runtime_lanes import select as _select
from .runtime_nested import join_batches, split_batches

__all__ = [
    "UNBOUND",
    "Weak",
    "active_lanes",
    "align",
    "batch_broadcast",
    "bound",
    "enters",
    "enters_each",
    "example_size",
    "flatten",
    "getitem",
    "highest",
    "lanes_like_active",
    "loop",
    "loop_nested",
    "lowest",
    "math_fn",
    "merge_lanes",
    "move_tree",
    "prod_rows",
    "put_lanes",
    "py_divmod",
    "py_floordiv",
    "py_max",
    "py_min",
    "py_mod",
    "py_pow",
    "py_truediv",
    "reshape",
    "select",
    "select_nested",
    "shift_axis",
    "squeeze",
    "stack",
    "to_int",
    "to_round",
    "weak",
]


def select(cond, a, b, batched=(True, True), python=None, active=None):
    """Per lane, `a` where `cond` else `b` (runtime_lanes.select; `active`: the lanes an enclosing
    branch runs). `python`: which side holds Python numbers per example, when one does and the other
    NumPy scalars: the result then remembers which lanes hold which (pynum.SomePyColumn)."""
    result = _select(cond, a, b, batched, active)
    if python is None or python[0] == python[1]:
        return result
    python_lanes = cond if python[0] else ~cond
    numpy_lanes = ~python_lanes
    if active is not None:
        python_lanes, numpy_lanes = python_lanes & active, numpy_lanes & active
    sides = (a, b) if python[0] else (b, a)
    return some_python(result, *sides, python_lanes, numpy_lanes)


def select_nested(sizes, cond, a, b, axes, python=None, active=None):
    """`select` under enclosing batches (runtime_nested): `axes` flags the batch axes (the enclosing
    ones, then the lanes) that `cond`, `a` and `b` carry (`active`, when given, as `cond`); all merge
    into `prod(sizes)` lanes, on which a side that carries any batch axis is a lane value."""
    c, x, y = (join_batches(v, ax, sizes) for v, ax in zip((cond, a, b), axes, strict=True))
    if active is not None:
        active = join_batches(active, axes[0], sizes)
    batched = (any(axes[1]), any(axes[2]))
    return split_batches(select(c, x, y, batched, python, active), sizes)


def align(values, batched, lead=None):
    """Align per-example ranks for broadcasting when some rank is unknown statically.

    Batched operands get size-1 axes after the batch axis so that their per-example axes line up with
    the trailing axes of the others, exactly as per-example broadcasting aligns them. `lead`: how many
    leading batch axes each value carries (default: one where batched); under an enclosing vmap a value
    carries the enclosing batch axes too, and only `batched` ones are expanded, after all their batch
    axes."""
    lead = tuple(int(b) for b in batched) if lead is None else lead
    ranks = [np.ndim(v) - n for v, n in zip(values, lead)]
    top = max(ranks)
    return tuple(
        _expand_after(np.asanyarray(v), n, top - r) if b else v  # (a Python-number column stays one)
        for v, b, n, r in zip(values, batched, lead, ranks)
    )


def _expand_after(x, lead, extra):
    """`x` with `extra` size-1 axes after its `lead` batch axes."""
    return x.reshape(x.shape[:lead] + (1,) * extra + x.shape[lead:]) if extra > 0 else x


def example_size(x):
    """`x.size` of one example: (B, *s) -> prod(s)."""
    return math.prod(x.shape[1:])


def flatten(x):
    """(B, *s) -> (B, prod(s)); works for B == 0, unlike `reshape(B, -1)`."""
    return x.reshape(x.shape[0], math.prod(x.shape[1:]))


def flatten_lead(x, lead):
    """(*lead axes, *s) -> (*lead axes, prod(s)) (a flatten under nested batches)."""
    return x.reshape(x.shape[:lead] + (math.prod(x.shape[lead:]),))


prod = math.prod


def prod_rows(x, start=1):
    """`math.prod(v, start=start)` of every example's vector `v` (the last axis): the elements multiplied
    in order from `start`, as Python multiplies them (a Python `start` is weak beside NumPy's)."""
    x = np.asarray(x)
    if x.shape[-1] == 0:
        return np.full(x.shape[:-1], start)
    acc = start
    for column in np.moveaxis(x, -1, 0):
        acc = acc * column
    return acc


def reshape(x, shape, order="C", lead=1):
    """Per-example `reshape(shape)` of a batched array, `-1` included, for any batch size (`lead`: its
    batch axes, more than one under an enclosing vmap)."""
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    shape = tuple(int(d) for d in shape)
    if -1 in shape:
        known = math.prod(d for d in shape if d != -1)
        size = math.prod(x.shape[lead:])
        if known == 0 or size % known:
            raise ValueError(f"cannot reshape array of size {size} into shape {shape}")
        shape = tuple(size // known if d == -1 else d for d in shape)
    return x.reshape(x.shape[:lead] + shape, order=order)


def window(x, start, length, axis=0, batched=False):
    """`x[start:start + length]` along `axis` for an array of starts (one window per start): a gather from
    a sliding-window view, `(*starts.shape, length, ...)` placed at `axis`. `batched`: `x` carries the
    batch axis first and `start` has one start per example. Starts whose window would not fit raise
    (a Python slice would silently be shorter there)."""
    from numpy.lib.stride_tricks import sliding_window_view

    start = np.asarray(start)
    n = x.shape[axis + batched]
    if start.size and (start.min() < 0 or start.max() + length > n):
        raise IndexError(
            f"astvmap: a slice of length {length} starting at {start.min()}..{start.max()} does not fit "
            f"in an axis of length {n}; the per-example loop would take a shorter slice there"
        )
    view = sliding_window_view(x, length, axis=axis + batched)  # window axis last
    if (
        not batched
        and start.ndim == 1
        and start.size
        and start[-1] - start[0] == start.size - 1
        and (start.size < 3 or np.all(np.diff(start) == 1))
    ):
        # consecutive starts (a loop over a range): a view, no gather
        out = view[(slice(None),) * axis + (slice(int(start[0]), int(start[-1]) + 1),)]
        return np.moveaxis(out, -1, axis + 1)
    if batched:
        if axis:
            raise NotImplementedError("per-example windows along an axis other than 0")
        lanes = np.arange(x.shape[0]).reshape((-1,) + (1,) * (start.ndim - 1))
        return np.moveaxis(view[lanes, start], -1, start.ndim)
    out = view[(slice(None),) * axis + (start,)]
    return np.moveaxis(out, -1, axis + start.ndim)


def squeeze(x, lead=1):
    """Per-example `squeeze()`: drops size-1 axes but never the `lead` batch axes (B may be 1)."""
    return x.reshape(x.shape[:lead] + tuple(d for d in x.shape[lead:] if d != 1))


def shift_axis(axis):
    """A per-example axis (int or tuple, possibly negative) as an axis of the batched array."""
    if axis is None:
        return None
    if isinstance(axis, tuple):
        return tuple(shift_axis(a) for a in axis)
    axis = int(axis)
    return axis + 1 if axis >= 0 else axis


def arg_flat(fn, x, keepdims, lead=1):
    """`argmax(x, axis=None, keepdims=k)` per example: over each flattened example, with k keeping
    every per-example axis as size 1 (`lead`: the batch axes)."""
    out = fn(flatten_lead(x, lead), axis=lead)
    return out.reshape(out.shape + (1,) * (x.ndim - lead)) if keepdims else out


def diag_matrix(v, k=0):
    """`np.diag(v, k)` of every example's vector: (*batch, n) -> (*batch, n + |k|, n + |k|)."""
    n = v.shape[-1]
    m = n + abs(k)
    out = np.zeros(v.shape[:-1] + (m, m), dtype=v.dtype)
    i = np.arange(n)
    out[..., i + max(-k, 0), i + max(k, 0)] = v
    return out


def shift_perm(axes):
    """A per-example permutation as a permutation of the batched array (batch axis stays first)."""
    axes = tuple(int(a) for a in axes)
    n = len(axes)
    return (0,) + tuple(a % n + 1 for a in axes)


def stack(items, B, axis=1):
    """`np.array(list_of_batched)`: stacks along the per-example axis 0 (batch axis stays first).

    An empty list gives `(B, 0)` float64, as `np.array([])` does per example."""
    if len(items) == 0:
        return np.zeros((B, 0))
    return np.stack(items, axis=axis)


def any_of(items, B):
    """Python's `any(iterable)` over batched per-example values (each item's truth value per lane)."""
    out = np.zeros(B, dtype=bool)
    for it in items:
        out |= np.asarray(it, dtype=bool)
    return out


def all_of(items, B):
    """Python's `all(iterable)` over batched per-example values."""
    out = np.ones(B, dtype=bool)
    for it in items:
        out &= np.asarray(it, dtype=bool)
    return out


def getitem_any(x, index, lead=1):
    """`v[index]` per example for a per-example loop's result: a tuple of stacked arrays (index the
    tuple) or one stacked array (index every example past its `lead` batch axes)."""
    if isinstance(x, (tuple, list)):
        return x[index]
    return x[(slice(None),) * lead + (index if isinstance(index, tuple) else (index,))]


def as_shape(size):
    """A `size=` argument as a shape tuple."""
    return tuple(size) if isinstance(size, (tuple, list)) else (int(size),)


_IDENTITY = {"sum": 0, "prod": 1, "any": False, "all": True, "count_nonzero": 0}


def masked_reduce(x, mask, name, lead=1):
    """`np.<name>(x[mask])` for every example at once: the reduction over all per-example axes of x with
    the unselected elements replaced by the reduction's identity. Empty selections behave as NumPy's:
    max/min raise, mean is NaN with a RuntimeWarning. `lead`: the batch axes of both."""
    axes = tuple(range(lead, x.ndim))
    if name in _IDENTITY:
        return getattr(np, name)(np.where(mask, x, _IDENTITY[name]), axis=axes)
    if name == "mean":
        count = np.count_nonzero(mask, axis=axes)
        total = np.sum(np.where(mask, x, 0), axis=axes)
        if np.any(count == 0):
            warnings.warn("Mean of empty slice.", RuntimeWarning, stacklevel=2)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = total / count
        return mean.astype(x.dtype if x.dtype.kind in "fc" else np.float64, copy=False)
    if math.prod(x.shape[:lead]) and not np.all(np.any(mask, axis=axes)):
        op = "maximum" if name == "max" else "minimum"
        raise ValueError(f"zero-size array to reduction operation {op} which has no identity")
    if x.dtype.kind == "f":
        fill = -np.inf if name == "max" else np.inf
    elif x.dtype.kind == "b":
        fill = name != "max"
    elif x.dtype.kind in "iu":
        info = np.iinfo(x.dtype)
        fill = info.min if name == "max" else info.max
    else:
        raise TypeError(f"masked {name} of {x.dtype}")
    return getattr(np, name)(np.where(mask, x, fill), axis=axes)


def rows(values, B, lead=1):
    """A vectorized `for ... append` loop's rows as `np.array(out)` of each example would be: with no
    iteration, the loop's empty list gives float64 `(0,)` per example (`lead`: the batch axes)."""
    if values.shape[lead] == 0:
        return np.zeros(values.shape[:lead] + (0,))
    return values if values.flags.owndata else values.copy()  # `np.array(out)` is never a view


def getitem(x, index, lead=1):
    """`x[index]` per example for a batched `x` (`lead` batch axes) and an unbatched index of unknown
    kind."""
    if not isinstance(index, tuple):
        index = (index,)
    return x[(slice(None),) * lead + index]


def py_max(items):
    """Python's `max(iterable)` over a batched array's per-example axis 0 (first maximum wins, so NaN
    behaves as in Python)."""
    rows = np.moveaxis(np.asarray(items), 1, 0)
    if len(rows) == 0:
        raise ValueError("max() arg is an empty sequence")
    best = rows[0]
    for r in rows[1:]:
        best = np.where(r > best, r, best)
    return best


def py_min(items):
    """Python's `min(iterable)` over a batched array's per-example axis 0."""
    rows = np.moveaxis(np.asarray(items), 1, 0)
    if len(rows) == 0:
        raise ValueError("min() arg is an empty sequence")
    best = rows[0]
    for r in rows[1:]:
        best = np.where(r < best, r, best)
    return best


def move_tree(tree, axes, lead=0):
    """Move the batch axis of every mapped leaf of a container argument to 0 (axes mirrors tree); under
    an enclosing vmap every leaf carries `lead` batch axes first, and the axis moves just after them."""
    if axes is None:
        return tree
    if isinstance(axes, int):
        if isinstance(tree, (tuple, list)):
            return type(tree)(move_tree(t, axes, lead) for t in tree)
        if isinstance(tree, dict):
            return {k: move_tree(v, axes, lead) for k, v in tree.items()}
        return np.moveaxis(np.asarray(tree), axes + lead if axes >= 0 else axes, lead)
    if isinstance(axes, dict):
        return {k: move_tree(v, axes.get(k), lead) for k, v in tree.items()}
    return type(tree)(move_tree(t, a, lead) for t, a in zip(tree, axes))


def loop(fn, B, args, batched, kwargs=None, kw_batched=None):
    """The fallback: call `fn` once per example and stack the results (leaf by leaf for tuples).

    `batched[i]` says whether `args[i]` carries the batch axis (at 0)."""
    kwargs = kwargs or {}
    kw_batched = kw_batched or {}
    outs = []
    for b in range(B):
        a = [_example(x, f, b) for x, f in zip(args, batched)]
        k = {n: _example(v, kw_batched.get(n, False), b) for n, v in kwargs.items()}
        outs.append(fn(*a, **k))
    if not outs:
        raise ValueError(
            f"astvmap: {getattr(fn, '__name__', fn)!r} runs as a per-example loop here, and with a batch of "
            "size 0 the shape of its result is unknown; pass at least one example"
        )
    return _stack_leaves(outs)


def loop_nested(fn, sizes, args, axes, kwargs=None, kw_axes=None):
    """`loop` under enclosing batches (runtime_nested): one per-example loop over the `prod(sizes)`
    merged examples; `axes[i]` flags the batch axes argument `i` carries."""
    kwargs, kw_axes = kwargs or {}, kw_axes or {}
    merged = [join_batches(a, ax, sizes) for a, ax in zip(args, axes, strict=True)]
    kw = {k: join_batches(v, kw_axes.get(k, ()), sizes) for k, v in kwargs.items()}
    flags = [any(ax) for ax in axes]
    kw_flags = {k: any(kw_axes.get(k, ())) for k in kwargs}
    return split_batches(loop(fn, math.prod(sizes), merged, flags, kw, kw_flags), sizes)


def _example(x, batched, b):
    """Example `b` of an argument: `batched` is a bool, or a tuple of those for a tuple/list argument.
    A batched list, tuple or dict holds batched values (a list appended to per example): its example
    is each one's."""
    if isinstance(batched, tuple):
        return type(x)(_example(e, f, b) for e, f in zip(x, batched))
    if not batched:
        return x
    if isinstance(x, (list, tuple)):
        return type(x)(_example(e, True, b) for e in x)
    if isinstance(x, dict):
        return {k: _example(v, True, b) for k, v in x.items()}
    return x[b]


def _stack_leaves(outs):
    first = outs[0]
    if isinstance(first, tuple):
        return tuple(_stack_leaves([o[i] for o in outs]) for i in range(len(first)))
    if isinstance(first, list):
        return [_stack_leaves([o[i] for o in outs]) for i in range(len(first))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return np.stack([np.asarray(o) for o in outs])
