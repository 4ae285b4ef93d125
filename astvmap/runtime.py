"""The few helpers generated code calls as `av__.*`.

Generated code is plain NumPy; these helpers cover the cases where a one-line NumPy form would be wrong
for an edge case (an empty batch, an unknown rank) or unreadable. Each one is small, imports only NumPy,
and states the shape case it handles. NOTE [batch axis at 0]: every batched argument has its batch axis
first.
"""

from __future__ import annotations

import abc
import math
import operator
import types
import warnings

import numpy as np
from numpy.lib.array_utils import normalize_axis_index

from . import pytrees
from .errors import AstvmapError, RaggedBatch
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
    sort_items,
    sorted_lanes,
)
from .runtime_lanes import select as _select
from .runtime_loops import loop, loop_nested, region_loop
from .runtime_nested import join_batches, split_batches
from .runtime_selection import (
    Selection,
    reduce_selection,
    select_mask,
    selection_size,
)

__all__ = [
    "UNBOUND",
    "Selection",
    "Weak",
    "active_lanes",
    "align",
    "arrays_are",
    "augment",
    "batch_broadcast",
    "bound",
    "enters",
    "enters_each",
    "example_size",
    "flatten",
    "getitem",
    "highest",
    "item_missing",
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
    "reduce_selection",
    "region_loop",
    "reshape",
    "select",
    "select_mask",
    "select_nested",
    "selection_size",
    "shift_axis",
    "sort_items",
    "sorted_lanes",
    "squeeze",
    "stack",
    "to_int",
    "to_round",
    "weak",
]


def arrays_are(x, classinfo) -> bool:
    """`isinstance(row, classinfo)` for every example `row` of batched array `x` (rank >= 1: each is an
    ndarray), with classes known only when the code runs: its class's answer where every class answers
    by the class alone (a plain class, an ABC), else each example's, which must agree."""
    if _by_class(classinfo):
        return issubclass(np.ndarray, classinfo)
    rows = list(x) if len(x) else [np.empty(x.shape[1:], x.dtype)]
    answers = {isinstance(row, classinfo) for row in rows}
    if len(answers) > 1:
        raise AstvmapError("isinstance() answers differ between the examples of a batched array")
    return answers.pop()


def item_missing(container, key):
    """`container[key]` where the rewrite found no such item (a `sys.modules` without "pandas"): Python's
    KeyError or IndexError, as then; a clear error where the item has come since (the code after it was
    rewritten for the path that raises)."""
    try:
        container[key]
    except (KeyError, IndexError):
        raise
    raise AstvmapError(f"the item {key!r} was missing when the code was rewritten, and is there now")


def _by_class(classinfo) -> bool:
    """Does `isinstance(obj, classinfo)` depend on `type(obj)` alone (classes of `type` or `ABCMeta`, in
    tuples and unions)?"""
    if isinstance(classinfo, tuple):
        return all(_by_class(c) for c in classinfo)
    if isinstance(classinfo, types.UnionType):
        return all(_by_class(c) for c in classinfo.__args__)
    return type(classinfo) in (type, abc.ABCMeta)


def new_object(cls):
    """An instance of `cls` before its `__init__` runs (NOTE [objects]: the rewritten one then does)."""
    return object.__new__(cls)


def object_with(cls, attributes):
    """An instance of `cls` holding these attributes (NOTE [objects]: one made in the code, rebuilt with
    some of them repeated over the batch)."""
    out = object.__new__(cls)
    for name, value in attributes.items():
        object.__setattr__(out, name, value)
    return out


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


def augment(t, v):
    """`t op= value` of a batched `t` whose per-example rank is known only now (`v`: the value of `t op
    value`): per example an array (rank >= 1) changes in place, keeping its dtype (every name of its
    buffer sees it); a number is rebound to `v`."""
    if isinstance(t, np.ndarray) and t.ndim > 1:
        np.copyto(t, v, casting="same_kind")
        return t
    return v


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


def shift_axis(axis, ndim=None):
    """A per-example axis (int or tuple, possibly negative) of a per-example array of rank `ndim` as an
    axis of the batched array; one outside the rank raises NumPy's AxisError, as the loop does (of a rank
    not known when rewriting: a negative axis is kept as it is)."""
    if axis is None:
        return None
    if isinstance(axis, tuple):
        return tuple(shift_axis(a, ndim) for a in axis)
    if isinstance(axis, (bool, np.bool_)):
        raise TypeError("an integer is required for the axis")
    if ndim is None:
        axis = operator.index(axis)
        return axis + 1 if axis >= 0 else axis
    return normalize_axis_index(operator.index(axis), ndim) + 1


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
    """`v[index]` per example for a per-example loop's result: a tuple, list or dict of stacked leaves
    (index the container: runtime_loops stacks them leaf by leaf) or one stacked array (index every
    example past its `lead` batch axes)."""
    if isinstance(x, (tuple, list, dict)):
        return x[index]
    return x[(slice(None),) * lead + (index if isinstance(index, tuple) else (index,))]


def as_shape(size):
    """A `size=` argument as a shape tuple."""
    return tuple(size) if isinstance(size, (tuple, list)) else (int(size),)


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
    n = pytrees.node(tree)
    if n is None:
        return np.moveaxis(np.asarray(tree), axes + lead if axes >= 0 else axes, lead)
    children = (
        [axes.get(k) for k in n.keys]
        if isinstance(axes, dict) and n.kind == "dict"
        else pytrees.axes_children(axes, n)
    )
    if children is None:
        raise ValueError(f"in_axes entry {axes!r} does not match the structure of a {type(tree).__name__}")
    return n.rebuild(move_tree(t, a, lead) for t, a in zip(n.children, children))


# ---- np.linalg.lstsq ------------------------------------------------------------------------------
# LAPACK's machine precision (dlamch 'E', half NumPy's eps): gelsd's cutoff for an rcond <= 0 or >= 1
_LAPACK_EPS = float(np.finfo(np.float64).eps) / 2


def _lstsq_types(*arrays):
    """NumPy's lstsq types: the working type (float64, complex128) and the result's (single precision
    only when every operand is)."""
    single, cplx = True, False
    for x in arrays:
        kind, size = x.dtype.kind, x.dtype.itemsize
        if kind in "fc":
            if size not in ((4, 8) if kind == "f" else (8, 16)):
                raise TypeError(f"array type {x.dtype.name} is unsupported in linalg")
            single, cplx = single and size == (4 if kind == "f" else 8), cplx or kind == "c"
        else:
            single = False
    work = np.dtype(np.complex128 if cplx else np.float64)
    result = np.dtype(np.complex64 if cplx else np.float32) if single else work
    return work, result, np.dtype(np.float32 if single else np.float64)


def _lstsq_cutoff(rcond, m, n):
    """The relative cutoff of singular values: NumPy's default, or gelsd's reading of `rcond`."""
    if rcond is None:
        return float(np.finfo(np.float64).eps) * max(m, n)
    given = np.asarray(rcond)
    if given.ndim or given.dtype.kind not in "biuf":
        raise TypeError(f"lstsq: rcond must be a real number, got {rcond!r}")
    r = float(given)
    return _LAPACK_EPS if r <= 0 or r >= 1 else r  # (NaN kept, as gelsd keeps it)


def lstsq(a, b, rcond=None, vector=False, lead=1):
    """`np.linalg.lstsq(a, b, rcond)` of every lane: `a` (*L, m, n), `b` (*L, m) when `vector` else
    (*L, m, k); their `lead` leading axes broadcast (size 1 where an operand is every lane's). The
    minimum-norm solution from one stacked SVD, with gelsd's cutoff (singular values <= cutoff * s_max are
    zero); the residuals as NumPy gives them per lane: (k,) where the lane has rank n and m > n, else
    empty. Lanes that differ there give results of different shapes: `RaggedBatch` (the call runs as the
    loop, which fails to stack the residuals only where they are used)."""
    a, b = np.asarray(a), np.asarray(b)
    if vector:
        b = b[..., None]
    if a.ndim != lead + 2 or b.ndim != lead + 2:
        raise np.linalg.LinAlgError("lstsq: a must be a matrix and b a vector or a matrix per example")
    work, result, real = _lstsq_types(a, b)
    (m, n), k = a.shape[-2:], b.shape[-1]
    if b.shape[-2] != m:
        raise np.linalg.LinAlgError("Incompatible dimensions")
    lanes = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    A, Y = a.astype(work, casting="same_kind"), b.astype(work, casting="same_kind")
    cutoff = _lstsq_cutoff(rcond, m, n)
    u, s, vh = np.linalg.svd(A, full_matrices=False)
    keep = ~(s <= cutoff * np.max(s, axis=-1, keepdims=True, initial=0.0))
    inv = np.divide(1.0, s, out=np.zeros_like(s), where=keep)
    x = vh.conj().swapaxes(-1, -2) @ (inv[..., None] * (u.conj().swapaxes(-1, -2) @ Y))
    ranks = np.count_nonzero(keep, axis=-1)  # (one for every lane of `a`: of none, none is full)
    residuals = np.zeros(lanes + (0,), real)
    if m > n and k:
        full = ranks == n
        if full.all() and full.size:
            residuals = np.sum(np.square(np.abs(Y - A @ x)), axis=-2).astype(real)
        elif full.any():  # (the call then runs as the loop: NOTE [masked selections])
            raise RaggedBatch(
                "np.linalg.lstsq: some examples have full column rank and others do not, so their "
                "residuals differ in shape"
            )
    x = np.broadcast_to(x, lanes + x.shape[-2:]).astype(result)
    s = np.broadcast_to(s, lanes + s.shape[-1:]).astype(real)
    rank = np.broadcast_to(ranks, lanes).astype(np.intc)
    return (x[..., 0] if vector else x), residuals, rank, s


# ---- statistics (rules/statistics.py, reductions.py `np.average`): every array argument carries `lead`
# batch axes, each of the batch's size or of size 1 (shared by those lanes: an unbatched operand is passed
# as `x[None]`); under an enclosing vmap one more, in front. Each helper checks per example what NumPy
# checks, and computes as NumPy computes, so that every lane is the example's result.
_HIST_BLOCK = 65536  # numpy/lib/_histograms_impl.py adds weighted counts up in blocks of this many values


def _stat_lanes(lead, *arrays):
    """The batch shape of `arrays` (None: absent) and each broadcast to it (views)."""
    arrays = tuple(None if x is None else np.asarray(x) for x in arrays)
    batch = np.broadcast_shapes(*(x.shape[:lead] for x in arrays if x is not None))
    return batch, [None if x is None else np.broadcast_to(x, batch + x.shape[lead:]) for x in arrays]


def weighted_average(a, weights, axis=None, returned=False, keepdims=False, lead=1):
    """`np.average(a, axis, weights, returned, keepdims=keepdims)` of every example (numpy/lib/
    _function_base_impl.py `average`): weights of a's per-example shape, or 1-D along `axis`, checked as
    NumPy checks them; a lane whose weights sum to zero raises ZeroDivisionError, as that example does."""
    batch, (a, wgt) = _stat_lanes(lead, a, weights)
    shape, nd = a.shape[lead:], a.ndim - lead
    if axis is not None:
        axis = np.lib.array_utils.normalize_axis_tuple(axis, nd, argname="axis")
    if wgt.shape[lead:] != shape:
        if axis is None:
            raise TypeError("Axis must be specified when shapes of a and weights differ.")
        if wgt.shape[lead:] != tuple(shape[ax] for ax in axis):
            raise ValueError("Shape of weights must be consistent with shape of a along specified axis.")
        order = tuple(lead + int(p) for p in np.argsort(axis))
        wgt = wgt.transpose(tuple(range(lead)) + order)
        wgt = wgt.reshape(batch + tuple(s if ax in axis else 1 for ax, s in enumerate(shape)))
    axes = tuple(range(lead, lead + nd)) if axis is None else tuple(lead + ax for ax in axis)
    if issubclass(a.dtype.type, (np.integer, np.bool_)):
        result_dtype = np.result_type(a.dtype, wgt.dtype, "f8")
    else:
        result_dtype = np.result_type(a.dtype, wgt.dtype)
    scl = wgt.sum(axis=axes, dtype=result_dtype, keepdims=keepdims)
    if np.any(scl == 0.0):
        raise ZeroDivisionError("Weights sum to zero, can't be normalized")
    avg = np.multiply(a, wgt, dtype=result_dtype).sum(axes, keepdims=keepdims) / scl
    if not returned:
        return avg
    if scl.shape != avg.shape:
        scl = np.broadcast_to(scl, avg.shape).copy()
    return avg, scl


def bincount(x, weights=None, minlength=0, lead=1):
    """`np.bincount(x, weights, minlength)` of every example's vector. The result's length is each
    example's `max(x) + 1` (at least `minlength`): examples that differ in it give results of different
    lengths (`RaggedBatch`, naming them: the call then runs as the per-example loop, which stacks them
    only if the code reduces them first). A batch of size 0 has no length to tell (unless the examples
    are empty): an error, which `api` answers with one zero-filled example, as for other empty batches."""
    batch, (x, w) = _stat_lanes(lead, x, weights)
    if x.ndim != lead + 1:
        np.bincount(np.empty((0,) * (x.ndim - lead), x.dtype))  # NumPy's error for that rank
    empty = np.bincount(np.empty(0, x.dtype), minlength=minlength)  # NumPy's checks of the dtype, minlength
    lanes, n = math.prod(batch), x.shape[-1]
    if n == 0:
        return np.zeros(batch + empty.shape, empty.dtype)  # (NumPy ignores the weights of no values)
    if lanes == 0:
        raise ValueError(
            "astvmap: the length of np.bincount's result depends on each example's values, and with a "
            "batch of size 0 it is unknown; pass at least one example"
        )
    xi = x.reshape(lanes, n).astype(np.intp)
    if xi.min() < 0:
        raise ValueError("'list' argument must have no negative elements")
    lengths = np.maximum(xi.max(axis=1) + 1, minlength)
    size = int(lengths[0])
    if (lengths != size).any():
        raise RaggedBatch(f"np.bincount gives results of lengths {sorted({int(v) for v in lengths})}")
    if w is not None:
        if w.ndim != lead + 1:
            raise ValueError("object too deep for desired array")
        if w.shape[-1] != n:
            raise ValueError("The weights and list don't have the same length.")
        w = w.reshape(-1)
    slots = xi + (np.arange(lanes) * size)[:, None]
    return np.bincount(slots.reshape(-1), weights=w, minlength=lanes * size).reshape(batch + (size,))


def histogram(a, bins=10, value_range=None, density=None, weights=None, lead=1):
    """`np.histogram(a, bins, range, density, weights)` of every example whose bin edges are the same for
    every example (`bins` an array of edges, or a count with a `range`): (counts (*batch, nbins), edges).
    Computed as NumPy computes it (numpy/lib/_histograms_impl.py): a count of bins with a range bins each
    value within the range (the last bin closed), an array of edges counts cumulatively, weights summed in
    the order NumPy sums them; a case NumPy would sum in blocks runs NumPy per example."""
    batch, (a, w) = _stat_lanes(lead, a, weights)
    if w is not None and w.shape[lead:] != a.shape[lead:]:
        raise ValueError("weights should have the same shape as a.")
    if isinstance(bins, str) or (np.ndim(bins) == 0 and value_range is None):
        raise ValueError("astvmap: histogram bin edges that depend on each example's values")
    probe = None if w is None else np.empty(0, w.dtype)
    zeros, edges = np.histogram(np.empty(0, a.dtype), bins, value_range, weights=probe)  # NumPy's checks
    if a.dtype == np.bool_:
        a = a.astype(np.uint8)  # (as NumPy converts it, with its warning given by the probe)
    lanes, size, nbins = math.prod(batch), math.prod(a.shape[lead:]), len(edges) - 1
    flat = a.reshape(lanes, size)
    wf = None if w is None else w.reshape(lanes, size)
    simple = w is None or np.can_cast(w.dtype, np.double) or np.can_cast(w.dtype, complex)
    odd = a.dtype.kind not in "iuf" or (edges.dtype.kind in "fc" and bool(np.isnan(edges).any()))
    if not lanes or not size:  # (NumPy counts no block of values)
        n = np.zeros((lanes, nbins), zeros.dtype)
    elif odd or (w is not None and (size > _HIST_BLOCK or not simple)):  # NumPy's own, example by example
        rows = [
            np.histogram(flat[i], bins, value_range, weights=None if wf is None else wf[i])
            for i in range(lanes)
        ]
        n = np.stack([row[0] for row in rows])
    elif np.ndim(bins) == 0:
        n = _hist_equal_bins(flat, wf, edges, value_range, zeros.dtype)
    else:
        n = _hist_cumulative(flat, wf, edges, zeros.dtype)
    if density:
        n = n / np.array(np.diff(edges), float) / n.sum(axis=-1, keepdims=True)
    return n.reshape(batch + (nbins,)), edges


def _hist_equal_bins(flat, wf, edges, value_range, ntype):
    # NumPy's equal-bins path: values within the range (compared as given), as the edges' type, each in the
    # bin whose edges hold it (the last one closed), counted lane by lane with one bincount
    lanes, nbins = flat.shape[0], len(edges) - 1
    first, last = value_range
    if first == last:
        first, last = first - 0.5, last + 0.5
    keep = (flat >= first) & (flat <= last)
    x = flat.astype(edges.dtype, copy=False)
    bins = np.minimum(np.searchsorted(edges, x, side="right") - 1, nbins - 1)
    slots = (bins + (np.arange(lanes) * nbins)[:, None])[keep]
    n = np.zeros((lanes, nbins), ntype)
    total = lanes * nbins
    if wf is None:
        n += np.bincount(slots, minlength=total).reshape(lanes, nbins).astype(ntype)
    elif ntype.kind == "c":
        n.real += np.bincount(slots, weights=wf[keep].real, minlength=total).reshape(lanes, nbins)
        n.imag += np.bincount(slots, weights=wf[keep].imag, minlength=total).reshape(lanes, nbins)
    else:
        n += np.bincount(slots, weights=wf[keep], minlength=total).reshape(lanes, nbins).astype(ntype)
    return n


def _hist_cumulative(flat, wf, edges, ntype):
    # NumPy's path for an array of edges: at each edge, how many values lie below it (at the last edge: at
    # or below it); the weights summed over the values sorted as NumPy sorts them
    lanes, ne = flat.shape[0], len(edges)
    above = np.searchsorted(edges, flat, side="right")  # how many edges lie at or below each value
    lane_slots = (above + (np.arange(lanes) * (ne + 1))[:, None]).reshape(-1)
    below = np.cumsum(np.bincount(lane_slots, minlength=lanes * (ne + 1)).reshape(lanes, ne + 1), axis=1)
    counts = below[:, :ne]
    counts[:, -1] = np.count_nonzero(flat <= edges[-1], axis=1)
    if wf is None:
        return np.diff(counts.astype(ntype), axis=1)
    order = np.argsort(flat, axis=1)
    sw = np.take_along_axis(wf, order, axis=1)
    cw = np.concatenate((np.zeros((lanes, 1), ntype), np.cumsum(sw, axis=1)), axis=1)
    cum = np.zeros((lanes, ne), ntype)
    cum += np.take_along_axis(cw, counts, axis=1)
    return np.diff(cum, axis=1)


def _cov_rows(m, lead, rowvar, dtype):
    """`np.array(m, ndmin=2, dtype=dtype)` of every example, its variables in rows."""
    nd = m.ndim - lead
    X = np.array(m.reshape(m.shape[:lead] + (1,) * (2 - nd) + m.shape[lead:]), dtype=dtype)
    return X if rowvar or nd == 1 else X.swapaxes(-1, -2)


def cov(m, y=None, rowvar=True, bias=False, ddof=None, fweights=None, aweights=None, dtype=None, lead=1):
    """`np.cov` of every example (numpy/lib/_function_base_impl.py `cov`); the frequency and analytic
    weights, if any, are the same for every example."""
    if ddof is not None and ddof != int(ddof):
        raise ValueError("ddof must be integer")
    batch, (m, y) = _stat_lanes(lead, m, y)
    if m.ndim - lead > 2:
        raise ValueError("m has more than 2 dimensions")
    if y is not None and y.ndim - lead > 2:
        raise ValueError("y has more than 2 dimensions")
    if dtype is None:
        dtype = np.result_type(m, np.float64) if y is None else np.result_type(m, y, np.float64)
    X = _cov_rows(m, lead, rowvar, dtype)
    if X.shape[-2] == 0:
        return np.zeros(batch + (0, 0))
    if y is not None:
        Y = np.array(y.reshape(y.shape[:lead] + (1,) * (2 - y.ndim + lead) + y.shape[lead:]), dtype=dtype)
        X = np.concatenate((X, Y if rowvar or Y.shape[-2] == 1 else Y.swapaxes(-1, -2)), axis=-2)
    if ddof is None:
        ddof = 1 if bias == 0 else 0
    w, fact = _cov_weights(X, fweights, aweights, ddof)
    if fact <= 0:
        warnings.warn("Degrees of freedom <= 0 for slice", RuntimeWarning, stacklevel=2)
        fact = 0.0
    X -= (X.mean(axis=-1) if w is None else _cov_mean(X, w))[..., None]
    c = np.matmul(X, (X if w is None else X * w).swapaxes(-1, -2).conj())
    c *= np.true_divide(1, fact)
    return squeeze(c, lead)


def _cov_weights(X, fweights, aweights, ddof):
    """NumPy's checks of `fweights`/`aweights` (shared by every example), their product, and the
    normalization `fact` (weights summed once, as NumPy sums them for each example)."""
    w = None
    if fweights is not None:
        fweights = np.asarray(fweights, dtype=float)
        if not np.all(fweights == np.around(fweights)):
            raise TypeError("fweights must be integer")
        if fweights.ndim > 1:
            raise RuntimeError("cannot handle multidimensional fweights")
        if fweights.shape[0] != X.shape[-1]:
            raise RuntimeError("incompatible numbers of samples and fweights")
        if any(fweights < 0):
            raise ValueError("fweights cannot be negative")
        w = fweights
    if aweights is not None:
        aweights = np.asarray(aweights, dtype=float)
        if aweights.ndim > 1:
            raise RuntimeError("cannot handle multidimensional aweights")
        if aweights.shape[0] != X.shape[-1]:
            raise RuntimeError("incompatible numbers of samples and aweights")
        if any(aweights < 0):
            raise ValueError("aweights cannot be negative")
        w = aweights if w is None else w * aweights
    if w is None:
        return None, X.shape[-1] - ddof
    w_sum = w.reshape(1, -1).sum(axis=1, dtype=np.result_type(X.dtype, w.dtype))
    if X.size and np.any(w_sum == 0.0):
        raise ZeroDivisionError("Weights sum to zero, can't be normalized")
    w_sum = w_sum[0]
    if ddof == 0:
        return w, w_sum
    if aweights is None:
        return w, w_sum - ddof
    return w, w_sum - ddof * sum(w * aweights) / w_sum


def _cov_mean(X, w):
    """`np.average(X, axis=1, weights=w)` of every example's rows."""
    rdt = np.result_type(X.dtype, w.dtype)
    return np.multiply(X, w, dtype=rdt).sum(axis=-1) / w.reshape(1, -1).sum(axis=1, dtype=rdt)


def corrcoef(x, y=None, rowvar=True, dtype=None, lead=1):
    """`np.corrcoef` of every example (numpy/lib/_function_base_impl.py `corrcoef`): the covariances
    scaled by the standard deviations, real and imaginary parts clipped to [-1, 1]."""
    c = cov(x, y, rowvar, dtype=dtype, lead=lead)
    if c.ndim == lead:  # one variable: a scalar covariance
        return c / c
    stddev = np.sqrt(np.diagonal(c, axis1=-2, axis2=-1).real)
    c /= stddev[..., :, None]
    c /= stddev[..., None, :]
    np.clip(c.real, -1, 1, out=c.real)
    if np.iscomplexobj(c):
        np.clip(c.imag, -1, 1, out=c.imag)
    return c


# the function by its name, and the one it is where no value is NaN
_QUANTILES = {"quantile": np.quantile, "percentile": np.percentile}
_QUANTILES.update(nanquantile=np.quantile, nanpercentile=np.percentile)


def quantile(name, a, q, axis=None, lead=1, **options):
    """`np.quantile`, `np.percentile` or their nan forms (by `name`) of every example, q's axes first per
    example (then the `lead` batch axes, moved back in front). Without NaN the nan forms are the plain
    ones, computed once for the batch; with one, NumPy's, which takes each slice in turn (over one axis:
    the reduced ones merged, as NumPy merges them for one example); an empty example gives NumPy's result
    for it (the nan forms' nanmean). Where NumPy's dtype depends on the values (one quantile of an
    example that has a NaN: a's dtype, not q's promotion), the loop's stacked dtype."""
    a = np.asarray(a)
    nd, k, fn = a.ndim - lead, np.ndim(q), getattr(np, name)
    if not math.prod(a.shape[lead:]):  # every example is empty
        one = np.asarray(fn(np.empty(a.shape[lead:], a.dtype), q, axis=axis, **options))
        return np.array(np.broadcast_to(one, a.shape[:lead] + one.shape))
    if axis is None:
        axes = tuple(range(lead, a.ndim))
    else:
        axes = tuple(lead + ax for ax in np.lib.array_utils.normalize_axis_tuple(axis, nd, argname="axis"))
    keepdims = options.pop("keepdims", False)
    plain = _QUANTILES[name]
    nan = a.dtype.kind in "fc" and bool(np.isnan(a).any())
    if not nan or fn is plain:
        result = np.asarray(plain(a, q, axis=axes, **options))
        if nan and not k and len(axes) == nd and result.dtype != a.dtype and np.isnan(a).any(axis=axes).all():
            result = result.astype(a.dtype)  # (every example's quantile is its NaN, of a's dtype)
    elif np.asarray(plain(np.zeros(1, a.dtype), q, **options)).dtype != a.dtype:
        # a slice of only NaN gives a's dtype and the others q's promotion: each example's own result
        # (its first slice decides its dtype in NumPy), stacked as the loop stacks them
        rows = [fn(x, q, axis=axis, keepdims=keepdims, **options) for x in a.reshape((-1,) + a.shape[lead:])]
        return np.stack(rows).reshape(a.shape[:lead] + np.shape(rows[0]))
    else:
        rest = a.ndim - len(axes)
        merged = np.moveaxis(a, axes, tuple(range(rest, a.ndim)))
        slices = np.sort(merged.reshape(-1, math.prod(merged.shape[rest:])), axis=-1)  # NaN last
        result = _nan_slices(plain, slices, q, options, a.dtype).reshape(np.shape(q) + merged.shape[:rest])
    if keepdims:
        result = np.reshape(
            result, np.shape(result)[:k] + tuple(1 if i in axes else s for i, s in enumerate(a.shape))
        )
    return np.moveaxis(result, tuple(range(k, k + lead)), tuple(range(lead))) if k else np.asarray(result)


def _nan_slices(plain, slices, q, options, dtype):
    """The nan form of `plain` of every row of `slices` (sorted, NaN last), as NumPy computes it for one
    slice: `plain` of its values without NaN (their order does not matter), NaN for a slice of only NaN
    (with NumPy's warning). The rows with as many values are one batched call."""
    counts = slices.shape[1] - np.count_nonzero(np.isnan(slices), axis=1)
    out = np.empty(np.shape(q) + (len(slices),), dtype)
    for n in np.unique(counts):
        rows = counts == n
        out[..., rows] = plain(slices[rows, :n], q, axis=1, **options) if n else np.nan
    if not counts.all():
        warnings.warn("All-NaN slice encountered", RuntimeWarning, stacklevel=3)
    return out
