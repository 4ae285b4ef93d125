"""The `av__` helpers of control flow on batched values: lanes that take a branch (`enters`,
`lanes_like_active`), selecting per lane (`select`, `merge_lanes`), and the active lanes of a batched
`while` or of a `range` whose length differs between examples (`active_lanes`, `put_lanes`, `highest`,
`lowest`). Imports NumPy only; `astvmap.runtime` re-exports them, so generated code calls `av__.select`.
"""

from __future__ import annotations

import numpy as np


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


def batch_broadcast(v, B):
    """An unbatched value (array or number) repeated over the batch: a fresh `(B, *shape)` array."""
    a = np.asarray(v)
    out = np.empty((B,) + a.shape, dtype=a.dtype)
    out[...] = a
    return out


def lanes_like_active(x, mask):
    """`x` with every lane outside `mask` replaced by the first lane inside it (NOTE [batched if]):
    masked lanes then repeat a computation the loop really does, so they cannot fault."""
    if mask.size == 0:
        return x
    first = int(mask.argmax())
    if not mask[first] or mask.all():
        return x  # no lane to borrow from (the region is skipped), or nothing to replace
    x = np.asarray(x)
    return np.where(mask.reshape(mask.shape + (1,) * (x.ndim - 1)), x, x[first])


def enters(mask):
    """Does any lane take this branch? (An empty batch runs it too, on no lanes: its empty result gives
    the output its shape.)"""
    return mask.size == 0 or bool(mask.any())


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

    def full(v, kind, lanes):
        return v if kind == "all" else batch_broadcast(v, B) if kind == "one" else None

    if (a is None or not lanes_a.size) and (b is None or not lanes_b.size) and (a is None or b is None):
        raise ValueError(
            "astvmap: no lane took either branch (an empty batch): the result's shape is unknown"
        )
    if a is None or not lanes_a.size:
        return full(b, kinds[1], lanes_b) if kinds[1] != "lanes" else b
    if b is None or not lanes_b.size:
        return full(a, kinds[0], lanes_a) if kinds[0] != "lanes" else a
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


def select(cond, a, b, batched=(True, True)):
    """Per lane, `a` where `cond` else `b`, as the loop's stacked results would be: a branch's own value
    (dtype included) when every lane took it; per-example shapes must agree when lanes of both meet."""
    B = cond.shape[0]
    if a is UNBOUND or b is UNBOUND:  # a name with no value before the branch
        if B and not (cond.all() if b is UNBOUND else not cond.any()):
            raise UnboundLocalError("a local variable is unbound for some examples after a per-example `if`")
        value, is_batched = (a, batched[0]) if b is UNBOUND else (b, batched[1])
        return value if is_batched else batch_broadcast(value, B)
    if a is None or b is None:  # a branch no lane took (only an empty batch skips both)
        if a is None and b is None:
            raise ValueError(
                "astvmap: with a batch of size 0 neither branch of an `if` ran, so the shape of "
                "its result is unknown; pass at least one example"
            )
        return select(cond, b, b, (batched[1],) * 2) if a is None else select(cond, a, a, (batched[0],) * 2)
    if isinstance(a, tuple) and isinstance(b, tuple):
        if len(a) != len(b):
            raise ValueError("the branches of an `if` give tuples of different lengths")
        return tuple(select(cond, x, y, batched) for x, y in zip(a, b))
    if B and cond.all():
        return a if batched[0] else batch_broadcast(a, B)
    if B and not cond.any():
        return b if batched[1] else batch_broadcast(b, B)
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


def highest(stop, start=0):
    """The largest per-example stop of a range (the start when the batch is empty)."""
    stop = np.asarray(stop)
    return int(stop.max()) if stop.size else int(np.min(start)) if np.size(start) else 0


def lowest(start):
    """The smallest per-example start of a range."""
    start = np.asarray(start)
    return int(start.min()) if start.size else 0
