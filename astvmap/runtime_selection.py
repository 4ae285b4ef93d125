"""Masked selections at run time: `x[mask]` of a per-example boolean mask, for every example at once.

NOTE [masked selections]: per example `x[mask]` is a new 1-D array whose length is that example's count
of True. The lengths may differ between examples, so the batch of them is no array: a `Selection` keeps
the batch's data and masks instead, as they are when the selection is made (copies, unless the code
made them afresh: any later write, through any name or call, would otherwise reach them).

- Per lane it is what the loop reads, `data[b][mask[b]]`: a per-example loop that reads it is exact.
- Elementwise arithmetic with per-lane scalars keeps it a selection (`x[m] * 2` is `(x * 2)[m]`), as
  do ufuncs of selections made by one mask and `np.clip`.
- Reductions read it masked (`reduce_selection`); its size and `len` are a count per lane
  (`selection_size`); a batched `if` chooses between two by lane (`runtime_lanes.select`).
- Anything else needs the stacked array, which exists when every lane selects as many elements: then it
  is `(B, count)`, else `RaggedBatch`, and the call runs as the per-example loop (`api.run_numpy`), or
  raises a clear error where the batched run may have changed its arguments (`analysis/effects.py`).

At rewrite time a selection's Val carries `Val.selection`; only rules with the "selections" trait are
given one (the dispatcher runs any other call that reads it as the loop, `calls.apply`).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from numpy.lib.mixins import NDArrayOperatorsMixin

from . import pytrees
from .errors import RaggedBatch

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
        acc = np.float64 if x.dtype.kind in "biu" else np.float32 if x.dtype == np.float16 else None
        total = np.sum(np.where(mask, x, 0), axis=axes, dtype=acc)  # (NumPy's accumulator for a mean)
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


def stack_selections(parts: list[Selection]) -> Selection:
    """Selections of one shape, one per example of an enclosing batch, as one (a per-example loop's
    results stacked)."""
    return Selection(np.stack([p.data for p in parts]), np.stack([p.mask for p in parts]), parts[0].lead + 1)


class Selection(NDArrayOperatorsMixin):
    """The batch of `x[mask]` (`lead` batch axes on both)."""

    __slots__ = ("data", "lead", "mask")

    def __init__(self, data: np.ndarray, mask: np.ndarray, lead: int = 1) -> None:
        self.data, self.mask, self.lead = data, mask, lead

    def counts(self) -> np.ndarray:
        return np.count_nonzero(self.mask, axis=tuple(range(self.lead, self.mask.ndim)))

    def stacked(self) -> np.ndarray:
        """The batch as one array `(*batch, count)`, when every lane selects `count` elements."""
        counts = np.asarray(self.counts())
        if counts.size and np.any(counts != counts.flat[0]):
            low, high = int(counts.min()), int(counts.max())
            raise RaggedBatch(f"a selection `x[mask]` has {low} to {high} elements per example")
        count = int(counts.flat[0]) if counts.size else 0
        return self.data[self.mask].reshape(self.mask.shape[: self.lead] + (count,))

    def _clipped(self, a_min=None, a_max=None, **kwargs):
        """`np.clip` of each lane's selection: elementwise, with bounds shared or one per lane."""
        lo, hi = kwargs.pop("min", a_min), kwargs.pop("max", a_max)
        bounds = [None if v is None else _lane_operand(v, self.data.ndim, self.lead) for v in (lo, hi)]
        if kwargs or any(b is None and v is not None for b, v in zip(bounds, (lo, hi))):
            raise RaggedBatch("np.clip of a selection `x[mask]` with options or per-example arrays")
        return Selection(np.clip(self.data, *bounds), self.mask, self.lead)

    def __getitem__(self, b):
        if self.lead == 1 and isinstance(b, (int, np.integer)):
            return self.data[b][self.mask[b]]  # one lane: what the per-example loop reads
        if isinstance(b, (int, np.integer)):
            return Selection(self.data[b], self.mask[b], self.lead - 1)  # one enclosing example's
        if self.lead == 1 and (isinstance(b, slice) or (isinstance(b, np.ndarray) and b.ndim == 1)):
            return Selection(self.data[b], self.mask[b])  # some lanes (a gathered region's)
        return self.stacked()[b]

    def __len__(self) -> int:  # (per lane: `selection_size`; a Selection is never iterated as a batch)
        raise RaggedBatch("the length of a selection `x[mask]`, which differs between examples")

    def __iter__(self):
        raise RaggedBatch("iterating a selection `x[mask]`, whose length differs between examples")

    def __setitem__(self, index, value):
        raise RaggedBatch("a write into a selection `x[mask]`")

    def __array__(self, dtype=None, copy=None):
        out = self.stacked()
        return out if dtype is None else out.astype(dtype, copy=False)

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.stacked(), name)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if method != "__call__" or kwargs or ufunc.nout != 1:
            plain = [i.stacked() if isinstance(i, Selection) else i for i in inputs]
            return getattr(ufunc, method)(*plain, **kwargs)
        masks = [i.mask for i in inputs if isinstance(i, Selection)]
        spread = [_lane_operand(i, self.data.ndim, self.lead) for i in inputs]
        if not _one_mask(masks) or any(s is None for s in spread):
            # selections by different masks pair their elements by position: only the loop knows how
            raise RaggedBatch("selections `x[mask]` by different masks, or with per-example arrays")
        return Selection(ufunc(*spread), masks[0], self.lead)

    def clip(self, min=None, max=None):
        return np.clip(self, min, max)

    def __array_function__(self, func, types, args, kwargs):
        if func is np.clip and isinstance(args[0], Selection):
            return args[0]._clipped(*args[1:], **kwargs)

        def plain(v):
            if isinstance(v, Selection):
                return v.stacked()
            n = pytrees.node(v) if isinstance(v, (list, tuple)) else None
            return n.rebuild(plain(e) for e in n.children) if n is not None else v

        return func(*plain(args), **{k: plain(v) for k, v in kwargs.items()})


def _one_mask(masks) -> bool:
    return all(m is masks[0] or np.array_equal(m, masks[0]) for m in masks[1:])


def _lane_operand(v, ndim: int, lead: int):
    """An operand of an elementwise operation with a selection, as the selection's data reads it: its
    data, a per-lane scalar spread over the example's axes, or a value shared by every element; None
    for anything else (a per-example array would pair with the selected elements by position)."""
    if isinstance(v, Selection):
        return v.data
    a = np.asanyarray(v) if not isinstance(v, (int, float, complex, bool)) else v
    if isinstance(a, np.ndarray) and a.ndim == lead:
        return a.reshape(a.shape + (1,) * (ndim - lead))
    if not isinstance(a, np.ndarray) or a.ndim == 0:
        return v
    return None


def select_mask(x, mask, copy_x: bool, copy_mask: bool, lead: int = 1) -> Selection:
    """`x[mask]` per example, where `mask` is a batched boolean array of x's per-example shape (x carries
    the enclosing batch axes, the first `lead - 1`, or all `lead`). Per example `x[mask]` is a copy:
    `copy_x`/`copy_mask` unless the code made them afresh."""
    data = np.array(x, copy=True) if copy_x else np.asarray(x)
    mask = np.array(mask, dtype=bool, copy=True) if copy_mask else np.asarray(mask)
    if data.ndim < mask.ndim:  # the same for every lane of the innermost batch
        data = np.broadcast_to(np.expand_dims(data, lead - 1), mask.shape)
    return Selection(data, mask, lead)


def selection_size(sel: Selection):
    """`x[mask].size` (and `len`) per lane: its count of selected elements."""
    return sel.counts()


def reduce_selection(sel: Selection, name: str):
    """`np.<name>(x[mask])` per lane (`masked_reduce`)."""
    return masked_reduce(sel.data, sel.mask, name, sel.lead)
