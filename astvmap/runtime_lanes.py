"""The `av__` helpers of control flow on batched values: lanes that take a branch (`enters`,
`lanes_like_active`), selecting per lane (`select`, `merge_lanes`), and the active lanes of a batched
`while` or of a `range` whose length differs between examples (`active_lanes`, `put_lanes`, `highest`,
`lowest`). Imports NumPy only; `astvmap.runtime` re-exports them, so generated code calls `av__.select`.
"""

from __future__ import annotations

import numpy as np

from . import pytrees
from .errors import RaggedBatch
from .runtime_selection import Selection


class _Unbound:
    """A name a loop may leave unbound in Python (`y` first assigned in a loop that breaks per example):
    what it holds until a lane gives it a value. `select` takes the other side; `bound` raises as
    Python does on reading it."""

    def __repr__(self) -> str:
        return "av__.UNBOUND"


UNBOUND = _Unbound()


def bound(x, name: str):
    """`x`, or Python's error for reading the unbound local `name`."""
    if x is UNBOUND:
        raise UnboundLocalError(
            f"cannot access local variable '{name}' where it is not associated with a value"
        )
    return x


class Weak(np.ndarray):
    """A Python number repeated over the batch (every lane holds `scalar`). Per example a Python number
    is weak (NEP 50): `0.0 * x` is float32 for float32 `x`. A ufunc called on a Weak array computes with
    the number itself, so its result takes the other operands' dtype as the loop's would; between Python
    numbers only, the result is a Weak array again. Anything else sees a plain array of the number's
    default dtype (float64, int64), which is what stacking the loop's Python numbers gives.

    Selections and views of a Weak array hold the same number in every lane and stay weak; an in-place
    write makes it plain."""

    scalar: bool | int | float | complex | None

    def __array_finalize__(self, obj) -> None:
        self.scalar = getattr(obj, "scalar", None)

    def __setitem__(self, key, value) -> None:
        self.scalar = None
        super().__setitem__(key, value)

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        weak = (
            method == "__call__"
            and out is None
            and all(not isinstance(i, Weak) or i.scalar is not None for i in inputs)
        )
        if not weak:
            plain = [_plain(i) for i in inputs]
            outs = tuple(_plain(o) for o in out) if out else None
            for o in out or ():
                if isinstance(o, Weak):
                    o.scalar = None
            result = getattr(ufunc, method)(*plain, **({"out": outs} if outs else {}), **kwargs)
            return result if outs is None else (out[0] if len(out) == 1 else out)
        numbers = [i.scalar if isinstance(i, Weak) else i for i in inputs]
        shape = np.broadcast_shapes(*[np.shape(i) for i in inputs])
        result = ufunc(*numbers, **kwargs)
        if ufunc.nout > 1:
            return tuple(_weak_result(r, shape) for r in result)
        return _weak_result(result, shape)

    def __array_function__(self, func, types, args, kwargs):
        return func(*plain_tree(args, Weak), **plain_tree(kwargs, Weak))


def _plain(x):
    return x.view(np.ndarray) if isinstance(x, Weak) else x


def plain_tree(x, cls: type[np.ndarray] = np.ndarray):
    """`x` with every array of class `cls` in it (through lists, tuples and dicts) seen as a plain
    ndarray: what a NumPy function called on marked arrays computes with."""
    if isinstance(x, cls):
        return x.view(np.ndarray)
    n = pytrees.node(x) if isinstance(x, (list, tuple, dict)) else None
    if n is not None:  # (a namedtuple rebuilt as one)
        return n.rebuild(plain_tree(e, cls) for e in n.children)
    return x


_PYTHON_NUMBERS = (bool, int, float, complex)


def _weak_result(result, shape):
    """A ufunc's result on the lanes' numbers, as the batch: an array of the result's dtype (a NumPy
    function of Python numbers returns a NumPy scalar, `np.tanh(0.0)`; Python's operators between
    Python numbers are `Weak`'s own methods)."""
    result = np.asarray(result)
    if result.shape != tuple(shape):
        result = np.broadcast_to(result, shape).copy()
    return result


def _python_operator(name: str, op):
    """`Weak.__add__` and its kind: between Python numbers, Python's own operator (its result a Python
    number again, its errors Python's: `1.0 / 0.0` raises); with anything else, NumPy's."""

    def method(self, other):
        if self.scalar is not None and (
            type(other) in _PYTHON_NUMBERS or (isinstance(other, Weak) and other.scalar is not None)
        ):
            b = other.scalar if isinstance(other, Weak) else other
            shape = np.broadcast_shapes(self.shape, np.shape(other))
            return weak(op(self.scalar, b), shape)
        return getattr(np.ndarray, name)(self, other)

    method.__name__ = name
    return method


def _install_operators() -> None:
    import operator

    ops = {
        "add": operator.add,
        "sub": operator.sub,
        "mul": operator.mul,
        "truediv": operator.truediv,
        "floordiv": operator.floordiv,
        "mod": operator.mod,
        "pow": operator.pow,
        "and": operator.and_,
        "or": operator.or_,
        "xor": operator.xor,
    }
    for short, op in ops.items():
        setattr(Weak, f"__{short}__", _python_operator(f"__{short}__", op))
        setattr(Weak, f"__r{short}__", _python_operator(f"__r{short}__", lambda a, b, op=op: op(b, a)))
    for short in ("lt", "le", "gt", "ge", "eq", "ne"):
        setattr(Weak, f"__{short}__", _python_operator(f"__{short}__", getattr(operator, short)))
    for short in ("neg", "pos", "abs"):  # (not `~`: generated code writes `~c` for `not c`)
        setattr(Weak, f"__{short}__", _python_unary(f"__{short}__", getattr(operator, short)))


def _python_unary(name: str, op):
    def method(self):
        if self.scalar is not None:
            return weak(op(self.scalar), self.shape)
        return getattr(np.ndarray, name)(self)

    method.__name__ = name
    return method


_install_operators()


def weak(v, shape):
    """The Python number `v` in every lane of a batch of `shape` (an int: `(B,)`)."""
    shape = (int(shape),) if np.ndim(shape) == 0 else tuple(shape)
    a = np.empty(shape, dtype=np.asarray(v).dtype).view(Weak)
    a.view(np.ndarray)[...] = v
    a.scalar = v
    return a


def batch_broadcast(v, B):
    """An unbatched value repeated over the batch: a fresh, writable `(B, *shape)` array (lists and
    tuples element by element); a Python number stays weak (`Weak`)."""
    if type(v) is list:
        return [batch_broadcast(e, B) for e in v]
    if type(v) in _PYTHON_NUMBERS:
        return weak(v, B)
    if isinstance(v, Weak) and v.scalar is not None:  # a nested batch of one Python number
        return weak(v.scalar, (B, *v.shape))
    n = None if isinstance(v, np.ndarray) else pytrees.node(v)
    if n is not None:  # (a tuple, a namedtuple, a record: each leaf; NOTE [pytrees])
        return n.rebuild(batch_broadcast(e, B) for e in n.children)
    a = np.asarray(v)
    out = np.empty((B,) + a.shape, dtype=a.dtype)
    out[...] = a
    return out


def lanes_like_active(x, mask):
    """`x` with every lane outside `mask` replaced by the first lane inside it (NOTE [batched if]):
    masked lanes then repeat a computation the loop really does, so they cannot fault. Under an
    enclosing vmap `mask` is `(*outer, B)` and each outer example borrows from its own lanes."""
    if mask.size == 0 or (isinstance(x, Weak) and x.scalar is not None):
        return x  # (every lane of a Weak array holds the same Python number: it stays weak)
    if isinstance(x, Selection):
        return Selection(lanes_like_active(x.data, mask), lanes_like_active(x.mask, mask), x.lead)
    if mask.ndim > 1:
        return _lanes_like_active_within(x, mask)
    first = int(mask.argmax())
    if not mask[first] or mask.all():
        return x  # no lane to borrow from (the region is skipped), or nothing to replace
    x = np.asarray(x)
    return np.where(mask.reshape(mask.shape + (1,) * (x.ndim - 1)), x, x[first])


def _lanes_like_active_within(x, mask):
    """`lanes_like_active` for `(*outer, B)` masks: the first active lane of each outer example (one
    with no active lane keeps its own values: its region is skipped for it)."""
    if mask.all():
        return x
    x = np.asarray(x)
    lead = mask.ndim
    first = mask.argmax(axis=-1)[..., None]  # (*outer, 1)
    first = first.reshape(first.shape + (1,) * (x.ndim - lead))
    borrowed = np.take_along_axis(x, first, axis=lead - 1)
    keep = mask | ~mask.any(axis=-1, keepdims=True)
    return np.where(keep.reshape(keep.shape + (1,) * (x.ndim - lead)), x, borrowed)


def enters(mask):
    """Does any lane take this branch? (An empty batch runs it too, on no lanes: its empty result gives
    the output its shape.)"""
    return mask.size == 0 or bool(mask.any())


def enters_each(mask):
    """`enters` for each enclosing example (generated code batched again): `mask` is `(*outer, B)`."""
    return np.any(mask, axis=-1) | (np.shape(mask)[-1] == 0)


def active_lanes(active):
    """The lanes a masked loop still runs: `slice(None)` (gathers are views) when every lane is active,
    else their indices."""
    return slice(None) if active.all() else np.flatnonzero(active)


def put_lanes(x, lanes, values):
    """`x` with `lanes` set to `values` (a loop's results for its active lanes); the dtype widens as
    the loop's own values would (an int counter that becomes float stays float)."""
    values = np.asarray(values)
    if isinstance(lanes, slice):  # every lane active
        # one value for all of them (the body left it unbatched, `skip = True`): one per lane
        return batch_broadcast(values, np.shape(x)[0]) if values.ndim < np.ndim(x) else values
    out = np.array(x, dtype=np.result_type(x, values))  # a copy: `x` may be a caller's array
    out[lanes] = values
    return out


def merge_lanes(cond, lanes_a, a, lanes_b, b, kinds):
    """A partitioned `if`'s value per lane: `a` on `lanes_a` and `b` on `lanes_b`. A kind says what a
    side holds: "lanes" (its own lanes' values), "all" (the whole batch) or "one" (one unbatched value);
    a side no lane took is None."""
    B = cond.shape[0]

    def whole(v, kind):
        """One side's value for the whole batch ("lanes": every lane took it, so it has them all), an
        array as when lanes of both sides meet (an unbatched list or tuple is one `(B, n)` array)."""
        if kind != "one":
            return v
        return batch_broadcast(np.asarray(v) if isinstance(v, (list, tuple)) else v, B)

    if (a is None or not lanes_a.size) and (b is None or not lanes_b.size) and (a is None or b is None):
        raise ValueError(
            "astvmap: no lane took either branch (an empty batch): the result's shape is unknown"
        )
    if a is None or not lanes_a.size:
        return whole(b, kinds[1])
    if b is None or not lanes_b.size:
        return whole(a, kinds[0])
    va = a[lanes_a] if kinds[0] == "all" else a
    vb = b[lanes_b] if kinds[1] == "all" else b
    va, vb = np.asarray(va), np.asarray(vb)
    sa = va.shape[1:] if kinds[0] != "one" else va.shape
    sb = vb.shape[1:] if kinds[1] != "one" else vb.shape
    if sa != sb:
        raise ValueError(
            f"the branches of an `if` on a batched condition give per-example shapes {sa} and {sb}; "
            "the loop's results could not be stacked"
        )
    out = np.empty((B,) + sa, dtype=np.result_type(va, vb))
    out[lanes_a] = va
    out[lanes_b] = vb
    return out


def _array_side(v):
    """A branch's container as the one array the rewrite's Val says it is (a list of numbers on one side,
    a tuple on the other); None and UNBOUND stay what they are."""
    return np.asarray(v) if isinstance(v, (tuple, list)) else v


def select(cond, a, b, batched=(True, True), active=None):
    """Per lane, `a` where `cond` else `b`, as the loop's stacked results would be: a branch's own value
    (dtype included) when every lane took it; per-example shapes must agree when lanes of both meet.
    `active`: the lanes an enclosing batched branch runs (the others' values are never read): only
    they decide whether every lane took one side."""
    B = cond.shape[0]
    na = pytrees.node(a) if type(a) is type(b) else None
    nb = pytrees.node(b) if na is not None else None
    if na is not None and nb is not None and na.keys == nb.keys:
        # part by part, as the rewrite's Val of the selected value has them (values.parallel); a record
        # is rebuilt as `a`'s (NOTE [pytrees])
        return na.rebuild(select(cond, x, y, batched, active) for x, y in zip(na.children, nb.children))
    if isinstance(a, (tuple, list)) or isinstance(b, (tuple, list)):
        a, b = _array_side(a), _array_side(b)  # containers that do not line up: one array each
    taken = np.count_nonzero(cond if active is None else cond & active)  # lanes that take `a`
    all_a = taken == (B if active is None else np.count_nonzero(active))
    all_b = taken == 0
    if a is UNBOUND or b is UNBOUND:  # a name with no value before the branch
        if B and not (all_a if b is UNBOUND else all_b):
            raise UnboundLocalError("a local variable is unbound for some examples after a per-example `if`")
        value, is_batched = (a, batched[0]) if b is UNBOUND else (b, batched[1])
        return value if is_batched else batch_broadcast(value, B)
    if a is None or b is None:  # a branch no lane took
        if a is None and b is None and B:  # neither: no lane has a value here (an enclosing branch's
            return None  # placeholder, batched again by an enclosing vmap), nor will one read it
        if a is None and b is None:  # (an empty batch skips both)
            raise ValueError(
                "astvmap: with a batch of size 0 neither branch of an `if` ran, so the shape of "
                "its result is unknown; pass at least one example"
            )
        side, flag = (b, batched[1]) if a is None else (a, batched[0])
        return side if flag else batch_broadcast(side, B)
    if B and all_a:
        return a if batched[0] else batch_broadcast(a, B)
    if B and all_b:
        return b if batched[1] else batch_broadcast(b, B)
    if isinstance(a, Selection) or isinstance(b, Selection):
        return _select_selections(cond, a, b)
    a, b = np.asarray(a), np.asarray(b)
    sa = a.shape[1:] if batched[0] else a.shape
    sb = b.shape[1:] if batched[1] else b.shape
    if sa != sb:
        raise ValueError(
            f"the branches of an `if` on a batched condition give per-example shapes {sa} and {sb}; "
            "the loop's results could not be stacked"
        )
    nd = len(sa)
    return np.where(
        cond.reshape((B,) + (1,) * nd), a if batched[0] else a[None], b if batched[1] else b[None]
    )


def _select_selections(cond, a, b):
    """Per lane one of two masked selections: its data and mask (NOTE [masked selections]); anything
    else needs the selection as one array (`RaggedBatch`: the loop)."""
    if cond.size == 0:  # (an empty batch: no lane reads either)
        return a if isinstance(a, Selection) else b
    if not (isinstance(a, Selection) and isinstance(b, Selection)) or a.lead != 1 or b.lead != 1:
        raise RaggedBatch("a selection `x[mask]` chosen per example against another value")
    if a.data.shape != b.data.shape or a.data.dtype != b.data.dtype:
        raise RaggedBatch("selections `x[mask]` of different shapes or dtypes chosen per example")
    c = cond.reshape(cond.shape + (1,) * (a.data.ndim - 1))
    return Selection(np.where(c, a.data, b.data), np.where(c, a.mask, b.mask))


def highest(stop, start=0):
    """The largest per-example stop of a range (the start when the batch is empty)."""
    stop = np.asarray(stop)
    return int(stop.max()) if stop.size else int(np.min(start)) if np.size(start) else 0


def lowest(start):
    """The smallest per-example start of a range."""
    start = np.asarray(start)
    return int(start.min()) if start.size else 0


def sorted_lanes(x, reverse=False, lead=1):
    """Python's `sorted(v, reverse=reverse)` of every lane's vector `v` (the last axis of x, after `lead`
    batch axes), as an array: NumPy's stable sort (reversed stably), except in a lane that holds NaN,
    which `<` does not order: that lane is sorted by Python, as the loop sorts it."""
    out = (
        np.flip(np.sort(np.flip(x, -1), axis=-1, kind="stable"), -1)
        if reverse
        else np.sort(x, -1, kind="stable")
    )
    if x.dtype.kind == "f":
        for lane in zip(*np.nonzero(np.isnan(x).any(axis=-1))):
            out[lane] = sorted(x[lane], reverse=reverse)
    return out


def sort_items(items, reverse=False):
    """`items.sort(reverse=reverse)` of a list of per-lane numbers (each item one value per lane): every
    lane's items sorted (`sorted_lanes`), in place."""
    if items:
        lanes = np.stack(np.broadcast_arrays(*items), axis=-1)
        items[:] = list(np.moveaxis(sorted_lanes(lanes, reverse), -1, 0))
