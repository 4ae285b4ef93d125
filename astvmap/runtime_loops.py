"""Per-example loops the generated code runs (`av__.loop`, `av__.region_loop`): one call, or one region
of the user's statements, run once per example and stacked back into batched values.

Each loop's results are stacked as the whole-function loop stacks them (`np.stack` of each leaf), with
two refinements the rest of the batched code relies on: per-example Python numbers stay Python numbers
in arithmetic (a `pynum.PyColumn`: NEP 50 gives `x32 * k` the dtype of `x32` when `k` is a Python int),
and a batch of size 0 is answered by one probe example (NOTE [empty batch]). Imports NumPy only.
"""

from __future__ import annotations

import copy
import math
import warnings

import numpy as np

from . import pytrees
from .errors import AstvmapError, RaggedBatch
from .pynum import PyColumn, weak
from .runtime_lanes import UNBOUND
from .runtime_nested import join_batches, split_batches
from .runtime_selection import Selection, stack_selections

_PYTHON_NUMBERS = (bool, int, float, complex)


def loop(fn, B, args, batched, kwargs=None, kw_batched=None):
    """One call with no batched form: call `fn` once per example and stack the results (leaf by leaf
    for tuples). `batched[i]` says whether `args[i]` carries the batch axis (at 0)."""
    kwargs = kwargs or {}
    kw_batched = kw_batched or {}
    a, a_lanes = _lanes(args, batched, [""] * len(args))
    k = dict(kwargs)
    k_lanes = [(n, _getter(v, kw_batched[n], "")) for n, v in kwargs.items() if kw_batched.get(n)]
    outs = []
    for b in range(B):
        for i, get in a_lanes:
            a[i] = get(b)
        for n, get in k_lanes:
            k[n] = get(b)
        outs.append(fn(*a, **k))
    if not outs:
        return _empty(_probe(fn, args, batched, kwargs, kw_batched))
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


def region_loop(fn, B, args, batched, modes, names, kinds):
    """A region of the user's statements with no batched form, run once per example (NOTE [region
    loops], transform/region_loop.py). `fn` is the region lifted to a function of its live-in names
    (`args`, flagged by `batched` as in `loop`) returning its live-out `names`; each comes back
    stacked over the batch. `modes[i]`: "copy" gives each example its own deep copy of an object made
    in the function (the loop makes one per example), "view" passes a batched array's example as a
    view it may write into (a rank-0 example too), "" the example as `loop` passes it. `kinds[i]`: what
    the code after the region takes `names[i]` for ("list", "dict", else an array): an example whose
    value is of another kind raises `RaggedBatch` (the call then runs as the loop). `names` None: `fn`
    is the rest of the function, and its results, stacked, are returned."""
    outs = _lane_results(fn, B, args, batched, modes)
    if names is None:  # the region runs to the end of the function: its results are the function's
        return _empty(outs[0]) if B == 0 else _stack_leaves(outs)
    for i, (name, kind) in enumerate(zip(names, kinds)):
        values = [o[i] for o in outs]
        if any(v is UNBOUND for v in values):  # (the loop reads it on some examples only, or raises)
            raise RaggedBatch(f"`{name}` is bound for some examples only after a region run per example")
        _check_kind(name, kind, values)
    if B == 0:
        return _empty(outs[0])
    return tuple(_stack_leaves([o[i] for o in outs]) for i in range(len(names)))


def _lane_results(fn, B, args, batched, modes):
    """`fn` called on each example in turn (a probe example for B=0: NOTE [empty batch])."""
    if B == 0:
        return [_probe(fn, args, batched, {}, {})]
    a, lanes = _lanes(args, batched, modes)
    outs = []
    for b in range(B):
        for i, get in lanes:
            a[i] = get(b)
        outs.append(fn(*a))
    return outs


_KINDS = {"list": list, "dict": dict}


def _check_kind(name, kind, values):
    if kind == "any":
        return
    want = _KINDS.get(kind, (np.ndarray, np.generic, *_PYTHON_NUMBERS))
    wrong = next((v for v in values if not isinstance(v, want) and v is not UNBOUND), None)
    if wrong is not None:
        raise RaggedBatch(f"after a region run per example, `{name}` is a {type(wrong).__name__}")


def _lanes(args, batched, modes):
    """The arguments of example 0 onwards: a list holding the arguments every example shares, and
    `(index, getter)` for those that differ (`getter(b)`: example `b`'s), so a loop pays per example
    only for what differs."""
    lanes = [(i, _getter(x, f, m)) for i, (x, f, m) in enumerate(zip(args, batched, modes)) if f or m]
    return list(args), lanes


def _getter(x, batched, mode):
    """Example `b` of argument `x` as a function of `b` (`modes` of `region_loop`)."""
    if mode == "view" and batched is True and isinstance(x, np.ndarray):
        return lambda b: x[b, ...]
    if mode == "copy":
        if not batched:
            return lambda b: _own_copy(x)
        return lambda b: _own_copy(_example(x, batched, b))
    if batched is True and type(x) is np.ndarray:
        return x.__getitem__
    return lambda b: _example(x, batched, b)


_ATOMS = frozenset({bool, int, float, complex, str, bytes, type(None)})


def _fresh(value, strict=False):
    """A deep copy of `value` (a list or dict of numbers and strings, or an array, copied directly), or
    `value` itself when it cannot be copied (a module), unless `strict` (then the error)."""
    t = type(value)
    if t is np.ndarray:
        return value.copy()
    if (t is list and all(type(e) in _ATOMS for e in value)) or (
        t is dict and all(type(e) in _ATOMS for e in (*value, *value.values()))
    ):
        return value.copy()
    try:
        return copy.deepcopy(value)
    except Exception:
        if strict:
            raise
        return value


def _own_copy(value):
    """Each example's own copy of an object made in the function (one per example in the loop): one
    that cannot be copied (a generator, an open file) cannot be given to each example, and the call
    runs as the loop."""
    try:
        copied = _fresh(value, strict=True)
    except Exception as e:
        raise RaggedBatch(f"a {type(value).__name__} cannot be copied for each example ({e})") from None
    return copied


def _example(x, batched, b):
    """Example `b` of an argument (`batched` as in `_each_leaf`)."""

    def leaf(v):
        if type(v) is PyColumn and v.ndim == 1:
            return v[b].item()  # per example a Python number
        return v[b]

    return _each_leaf(x, batched, leaf)


def _each_leaf(x, batched, leaf):
    """`x` rebuilt with `leaf(v)` for each of its batched leaves. `batched` is a bool ("py": batched,
    per example a Python number), or a tuple of flags for a tuple, list or record (one per item or
    child, NOTE [pytrees]), or of `(key, flag)` pairs for a dict. A batched list, tuple or dict flagged
    whole holds batched values (a list appended to per example); a record flagged whole does not say
    which of its fields are (`_whole_record`)."""
    if isinstance(batched, tuple):
        if isinstance(x, dict):
            flags = dict(batched)
            if flags.keys() != x.keys():
                raise RaggedBatch(f"a dict has keys {sorted(map(str, x))}, not those the code expected")
            return {k: _each_leaf(v, flags[k], leaf) for k, v in x.items()}
        n = pytrees.node(x)
        if n is None and not isinstance(x, type):
            return _each_attribute(x, dict(batched), leaf)
        if n is None or len(n) != len(batched):
            raise RaggedBatch(
                f"a {type(x).__name__} is not the container of {len(batched)} the code expected"
            )
        return n.rebuild(_each_leaf(e, f, leaf) for e, f in zip(n.children, batched))
    if not batched:
        return x
    n = pytrees.node(x)
    if n is not None:
        if n.kind in ("dataclass", "registered"):
            _whole_record(x)
        return n.rebuild(_each_leaf(e, True, leaf) for e in n.children)
    value = leaf(x)
    if batched == "py" and isinstance(value, (np.generic, np.ndarray)) and value.ndim == 0:
        return value.item()  # (per example a Python number: `isinstance(k, int)` holds in the loop)
    return value


def _each_attribute(x, flags: dict, leaf):
    """A copy of an object made in the code (NOTE [objects]) with `leaf(v)` for each batched attribute:
    each example's own object, as the loop makes one per example."""
    have = _attributes(x)
    if flags.keys() != have.keys():
        raise RaggedBatch(f"a {type(x).__name__} has attributes {sorted(have)}, not those the code expected")
    out = object.__new__(type(x))
    for k, v in have.items():
        object.__setattr__(out, k, _each_leaf(v, flags[k], leaf))
    return out


def _attributes(x) -> dict:
    """The attributes an object holds, in its `__dict__` and its slots, in the order they were set (the
    `__dict__`'s) or declared (the slots')."""
    have = dict(getattr(x, "__dict__", {}))
    for k in type(x).__mro__:
        slots = vars(k).get("__slots__", ())
        for name in (slots,) if isinstance(slots, str) else slots:
            if name not in ("__dict__", "__weakref__") and hasattr(x, name):
                have[name] = getattr(x, name)
    return have


def _whole_record(x):
    """A record (a dataclass's or a registered type's instance, NOTE [pytrees]) passed whole to a
    per-example loop as batched, its fields not flagged one by one: which of them are batched is not
    known here (an unmapped array may have as many rows as the batch), so the call runs as the loop."""
    raise RaggedBatch(
        f"a {type(x).__name__} is passed whole to a per-example loop, its batched fields not known"
    )


def _alike(m, n):
    """Do two examples' containers stack child by child (rebuilt as the first's)? Sequences of one
    length do (a tuple in one example and a list in another stacked as a tuple); records must be of
    one type."""
    if m.kind == n.kind == "sequence":
        return len(m) == len(n)
    return m.type is n.type and len(m) == len(n)


def _stack_leaves(outs):
    first = outs[0]
    if isinstance(first, (tuple, list)) and any(len(o) != len(first) for o in outs):
        raise RaggedBatch(
            f"a per-example {type(first).__name__} has {min(map(len, outs))} to {max(map(len, outs))} items"
        )
    if isinstance(first, Selection) and all(
        isinstance(o, Selection) and o.data.shape == first.data.shape for o in outs
    ):
        return stack_selections(outs)
    if isinstance(first, dict):
        if not all(isinstance(o, dict) and o.keys() == first.keys() for o in outs):
            raise RaggedBatch("a per-example dict has different keys in different examples")
        return {k: _stack_leaves([o[k] for o in outs]) for k in first}
    n = pytrees.node(first)
    if n is not None:  # (a tuple, a list, a record: NOTE [pytrees])
        nodes = [pytrees.node(o) for o in outs]
        children = [m.children for m in nodes if m is not None and _alike(m, n)]
        if len(children) != len(outs):
            raise RaggedBatch(f"a per-example {type(first).__name__} is of another type in another example")
        return n.rebuild(_stack_leaves([c[i] for c in children]) for i in range(len(n)))
    why = pytrees.refusal(first)
    if why is not None:  # (the loop's results could not be stacked either)
        raise AstvmapError(f"astvmap: a per-example result is {why}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        arrays = [np.asarray(o) for o in outs]
    other = next((a.shape for a in arrays if a.shape != arrays[0].shape), None)
    if other is not None:  # (the call then runs as the loop, or raises)
        raise RaggedBatch(
            f"a per-example result has shape {arrays[0].shape} in one example, {other} in another"
        )
    stacked = np.stack(arrays)
    if all(type(o) in _PYTHON_NUMBERS for o in outs) and len({type(o) for o in outs}) == 1:
        return weak(stacked)  # per example a Python number: NumPy operands decide its dtype
    return stacked


# ---- NOTE [empty batch] ------------------------------------------------------------------------------
# A loop over a batch of size 0 runs nothing, yet its stacked result has a shape and a dtype the code
# after it reads. They come from one probe: the loop's function run on an example of zeros (each batched
# leaf's per-example shape and dtype), on copies of every argument (the probe must not write into the
# caller's arrays) with warnings and floating-point errors silenced. Its result, stacked zero times, is
# the answer; a probe that raises is a clear error, as before. The probe runs the code once where the
# loop runs it zero times: effects outside the arrays it is given (printing, a global list) happen once.
def _probe(fn, args, batched, kwargs, kw_batched):
    try:
        a = [_fresh(_zero_example(x, f)) for x, f in zip(args, batched)]
        k = {n: _fresh(_zero_example(v, kw_batched.get(n, False))) for n, v in kwargs.items()}
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            return fn(*a, **k)
    except Exception as e:
        raise ValueError(
            f"astvmap: {getattr(fn, '__name__', fn)!r} runs as a per-example loop here, and with a batch of "
            f"size 0 the shape of its result is unknown (one example of zeros raised {type(e).__name__}: "
            f"{e}); pass at least one example"
        ) from None


def _zero_example(x, batched):
    """An example of zeros of `x`'s per-example shape and dtype (`batched` as in `_each_leaf`)."""

    def leaf(v):
        v = np.asarray(v)
        return np.zeros(v.shape[1:], v.dtype)[()] if v.ndim == 1 else np.zeros(v.shape[1:], v.dtype)

    return _each_leaf(x, batched, leaf)


def _empty(out):
    """`out`, one example's result, stacked over a batch of size 0."""
    n = pytrees.node(out)
    if n is not None:
        return n.rebuild(_empty(o) for o in n.children)
    a = np.asarray(out)
    empty = np.empty((0,) + a.shape, a.dtype)
    return weak(empty) if type(out) in _PYTHON_NUMBERS else empty
