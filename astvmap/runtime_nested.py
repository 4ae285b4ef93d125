"""Generated code batched again (a vmap inside a vmap): a helper that works lane by lane runs once on
every batch axis merged into one, and its result splits back (`runtime.select_nested`,
`runtime.loop_nested`). Imports NumPy only.

`sizes` are the batch sizes, the outermost first and the helper's own lanes last. An argument's `axes`
says which of those batch axes it carries, in that order, before its own axes; `None` marks an argument
that is no batch's (passed as it is). An argument missing a batch axis holds the same value along it:
it is repeated there, so every merged lane sees exactly its own examples' values.
"""

from __future__ import annotations

import math

import numpy as np

from . import pytrees
from .runtime_lanes import UNBOUND, Weak, weak


def join_batches(a, axes, sizes):
    """`a`, carrying the batch axes flagged in `axes`, with all of `sizes` as one leading axis (None
    and UNBOUND, "no value", and arguments of no batch pass as they are)."""
    if a is None or a is UNBOUND or not any(axes):
        return a
    n = None if isinstance(a, np.ndarray) else pytrees.node(a)
    if n is not None:  # (NOTE [pytrees])
        return n.rebuild(join_batches(e, axes, sizes) for e in n.children)
    n = math.prod(sizes)
    carried = sum(axes)
    if isinstance(a, Weak) and a.scalar is not None:  # one Python number everywhere: it stays weak
        return weak(a.scalar, (n,) + a.shape[carried:])
    a = np.asarray(a)
    own = a.shape[carried:]
    expanded = a.reshape(tuple(s if f else 1 for s, f in zip(sizes, axes)) + own)
    return np.broadcast_to(expanded, tuple(sizes) + own).reshape((n,) + own)


def split_batches(r, sizes):
    """A helper's result on the merged lanes, with its batch axes apart again."""
    n = None if isinstance(r, np.ndarray) else pytrees.node(r)
    if n is not None:
        return n.rebuild(split_batches(e, sizes) for e in n.children)
    if isinstance(r, np.ndarray) and r.ndim and r.shape[0] == math.prod(sizes):
        return r.reshape(tuple(sizes) + r.shape[1:])
    return r
