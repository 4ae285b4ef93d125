"""Property tests: random shapes, batch-axis placements, batch sizes and dtypes against the loop oracle.

Batch sizes always include 0 and a size equal to a per-example length (the mixed-ranks trap).
Kept small (25 examples each, no deadline) so the suite stays fast.
"""

from functools import partial

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import assert_vmap_equivalent as _assert_vmap_equivalent


def assert_vmap_equivalent(*args, **kwargs):
    # inside hypothesis a B == 0 probe failure must not skip the whole test
    _assert_vmap_equivalent(*args, skip_unprobeable=False, **kwargs)


SETTINGS = settings(max_examples=25, deadline=None)

ALL_DTYPES = ["bool", "int32", "int64", "float32", "float64", "complex128"]
NUMERIC = ["int32", "int64", "float32", "float64", "complex128"]
REAL = ["bool", "int32", "int64", "float32", "float64"]


def _rand(rng, shape, dtype):
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return rng.random(shape) < 0.5
    if dtype.kind in "iu":
        return rng.integers(-4, 5, size=shape).astype(dtype)
    if dtype.kind == "c":
        return (rng.normal(size=shape) + 1j * rng.normal(size=shape)).astype(dtype)
    return rng.normal(size=shape).astype(dtype)


def _example(rng, shape, dtype):
    a = _rand(rng, shape, dtype)
    return a[()] if a.ndim == 0 else a


def _batched(rng, per_shape, dtype, B, axis):
    data = _rand(rng, (B,) + tuple(per_shape), dtype)
    return np.moveaxis(data, 0, axis)


shapes = st.lists(st.integers(1, 4), min_size=0, max_size=3).map(tuple)


@st.composite
def batch_size(draw, *shapes_):
    lengths = sorted({d for s in shapes_ for d in s})
    return draw(st.sampled_from([0, 1, 2, 5] + lengths))


@st.composite
def placement(draw, ndim):
    """A batch axis for a per-example value of rank ndim: 0..ndim or -1..-(ndim+1)."""
    return draw(st.integers(-(ndim + 1), ndim))


# --------------------------------------------------------------------------- elementwise, broadcasting


def op_add(a, b):
    return a + b


def op_mul_add(a, b):
    return a * b + a


def op_maximum(a, b):
    return np.maximum(a, b)


def op_sub(a, b):
    return a - b


def op_where(a, b):
    return np.where(a > b, a, b * 2)


def op_divide(a, b):
    return a / (b * b + 1)


def op_mixed(a, b):
    return np.multiply(a, 2) - np.add(b, a) * 3


ELEMENTWISE = {
    "add": (op_add, ALL_DTYPES),
    "mul_add": (op_mul_add, ALL_DTYPES),
    "maximum": (op_maximum, ALL_DTYPES),
    "sub": (op_sub, NUMERIC),
    "where": (op_where, REAL),
    "divide": (op_divide, ALL_DTYPES),
    "mixed": (op_mixed, NUMERIC),
}


@st.composite
def broadcast_pair(draw):
    """Two per-example shapes that broadcast, of possibly different ranks."""
    sa = draw(shapes)
    rb = draw(st.integers(0, 3))
    sb = []
    for pos in range(rb):  # align from the right
        back = rb - pos
        if back <= len(sa):
            d = sa[-back]
            sb.append(draw(st.sampled_from([d, 1])))
        else:
            sb.append(draw(st.integers(1, 4)))
    sb = tuple(sb)
    if draw(st.booleans()):
        sa, sb = sb, sa
    return sa, sb


@SETTINGS
@given(data=st.data())
def test_elementwise_broadcasting(data):
    name = data.draw(st.sampled_from(sorted(ELEMENTWISE)), label="op")
    fn, dtypes = ELEMENTWISE[name]
    sa, sb = data.draw(broadcast_pair(), label="shapes")
    da = data.draw(st.sampled_from(dtypes), label="dtype a")
    db = data.draw(st.sampled_from(dtypes), label="dtype b")
    mapped = data.draw(st.sampled_from([(True, False), (False, True), (True, True)]), label="mapped")
    B = data.draw(batch_size(sa, sb), label="B")
    axa = data.draw(placement(len(sa)), label="axis a")
    axb = data.draw(placement(len(sb)), label="axis b")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    a = _batched(rng, sa, da, B, axa) if mapped[0] else _example(rng, sa, da)
    b = _batched(rng, sb, db, B, axb) if mapped[1] else _example(rng, sb, db)
    in_axes = (axa if mapped[0] else None, axb if mapped[1] else None)
    out_axes = data.draw(st.sampled_from([0, -1]), label="out_axes")
    assert_vmap_equivalent(fn, in_axes, out_axes, a, b)


# --------------------------------------------------------------------------- reductions


def r_sum(a, axis=None, keepdims=False):
    return np.sum(a, axis=axis, keepdims=keepdims)


def r_sum_method(a, axis=None, keepdims=False):
    return a.sum(axis=axis, keepdims=keepdims)


def r_mean(a, axis=None, keepdims=False):
    return np.mean(a, axis=axis, keepdims=keepdims)


def r_max(a, axis=None, keepdims=False):
    return np.max(a, axis=axis, keepdims=keepdims)


def r_min_method(a, axis=None, keepdims=False):
    return a.min(axis=axis, keepdims=keepdims)


def r_prod(a, axis=None, keepdims=False):
    return np.prod(a, axis=axis, keepdims=keepdims)


def r_any(a, axis=None, keepdims=False):
    return np.any(a, axis=axis, keepdims=keepdims)


def r_all_method(a, axis=None, keepdims=False):
    return a.all(axis=axis, keepdims=keepdims)


def r_std(a, axis=None, keepdims=False):
    return np.std(a, axis=axis, keepdims=keepdims)


def r_var_method(a, axis=None, keepdims=False):
    return a.var(axis=axis, keepdims=keepdims)


def r_argmax(a, axis=None, keepdims=False):
    return np.argmax(a, axis=axis, keepdims=keepdims)


def r_argmin_method(a, axis=None, keepdims=False):
    return a.argmin(axis=axis, keepdims=keepdims)


def r_cumsum(a, axis=None):
    return np.cumsum(a, axis=axis)


def r_cumprod_method(a, axis=None):
    return a.cumprod(axis=axis)


# name -> (function, takes a tuple axis, takes keepdims, dtypes)
REDUCERS = {
    "sum": (r_sum, True, True, ALL_DTYPES),
    "sum_method": (r_sum_method, True, True, ALL_DTYPES),
    "mean": (r_mean, True, True, ALL_DTYPES),
    "max": (r_max, True, True, REAL),
    "min_method": (r_min_method, True, True, REAL),
    "prod": (r_prod, True, True, ALL_DTYPES),
    "any": (r_any, True, True, ALL_DTYPES),
    "all_method": (r_all_method, True, True, ALL_DTYPES),
    "std": (r_std, True, True, NUMERIC),
    "var_method": (r_var_method, True, True, NUMERIC),
    "argmax": (r_argmax, False, True, REAL),
    "argmin_method": (r_argmin_method, False, True, REAL),
    "cumsum": (r_cumsum, False, False, ALL_DTYPES),
    "cumprod_method": (r_cumprod_method, False, False, NUMERIC),
}


@SETTINGS
@given(data=st.data())
def test_reductions(data):
    name = data.draw(st.sampled_from(sorted(REDUCERS)), label="reducer")
    fn, tuple_ok, keepdims_ok, dtypes = REDUCERS[name]
    shape = data.draw(st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple), label="shape")
    r = len(shape)
    axis_choices = [st.none(), st.integers(-r, r - 1)]
    if tuple_ok:
        axis_choices.append(
            st.lists(st.integers(0, r - 1), min_size=1, max_size=r, unique=True).flatmap(
                lambda axes: st.tuples(*[st.sampled_from([a, a - r]) for a in axes])
            )
        )
    axis = data.draw(st.one_of(*axis_choices), label="axis")
    kwargs = {"axis": axis}
    if keepdims_ok:
        kwargs["keepdims"] = data.draw(st.booleans(), label="keepdims")
    dtype = data.draw(st.sampled_from(dtypes), label="dtype")
    B = data.draw(batch_size(shape), label="B")
    ax = data.draw(placement(r), label="in axis")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    a = _batched(rng, shape, dtype, B, ax)
    f = partial(fn, **kwargs)
    out_axes = data.draw(st.sampled_from([0, -1]), label="out_axes")
    assert_vmap_equivalent(f, ax, out_axes, a)


# --------------------------------------------------------------------------- matmul of ranks 1-2


def mm_at(a, b):
    return a @ b


def mm_matmul(a, b):
    return np.matmul(a, b)


def mm_dot(a, b):
    return np.dot(a, b)


def mm_scaled(a, b):
    return (a @ b) * 2 + 1


MATMULS = {"at": mm_at, "matmul": mm_matmul, "dot": mm_dot, "scaled": mm_scaled}


@SETTINGS
@given(data=st.data())
def test_matmul_ranks(data):
    name = data.draw(st.sampled_from(sorted(MATMULS)), label="op")
    ra = data.draw(st.integers(1, 2), label="rank a")
    rb = data.draw(st.integers(1, 2), label="rank b")
    n, k, p = (data.draw(st.integers(1, 4), label=lbl) for lbl in "nkp")
    sa = (n, k) if ra == 2 else (k,)
    sb = (k, p) if rb == 2 else (k,)
    da = data.draw(st.sampled_from(NUMERIC), label="dtype a")
    db = data.draw(st.sampled_from(NUMERIC), label="dtype b")
    mapped = data.draw(st.sampled_from([(True, False), (False, True), (True, True)]), label="mapped")
    B = data.draw(batch_size(sa, sb), label="B")
    axa = data.draw(placement(ra), label="axis a")
    axb = data.draw(placement(rb), label="axis b")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    a = _batched(rng, sa, da, B, axa) if mapped[0] else _example(rng, sa, da)
    b = _batched(rng, sb, db, B, axb) if mapped[1] else _example(rng, sb, db)
    in_axes = (axa if mapped[0] else None, axb if mapped[1] else None)
    assert_vmap_equivalent(MATMULS[name], in_axes, 0, a, b)


# --------------------------------------------------------------------------- reshape / transpose


def t_reshape_method(a, shape):
    return a.reshape(shape)


def t_reshape(a, shape):
    return np.reshape(a, shape)


def t_transpose(a, axes):
    return np.transpose(a, axes)


def t_transpose_method(a, axes):
    return a.transpose(axes)


def t_T(a):
    return a.T


def t_ravel(a):
    return a.ravel()


def t_swapaxes(a, axis1, axis2):
    return np.swapaxes(a, axis1, axis2)


def t_moveaxis(a, source, destination):
    return np.moveaxis(a, source, destination)


def t_reshape_then_sum(a, shape):
    return a.reshape(shape).sum(axis=0)


@st.composite
def new_shape(draw, shape):
    size = int(np.prod(shape))
    divisors = [d for d in range(1, size + 1) if size % d == 0]
    first = draw(st.sampled_from(divisors))
    rest = size // first
    form = draw(st.sampled_from(["flat", "two", "two_neg", "reversed", "reversed_neg"]))
    if form == "flat":
        return draw(st.sampled_from([(size,), (-1,)]))
    if form == "two":
        return (first, rest)
    if form == "two_neg":
        return draw(st.sampled_from([(first, -1), (-1, rest)]))
    rev = tuple(reversed(shape))
    if form == "reversed":
        return rev
    i = draw(st.integers(0, len(rev) - 1))
    return rev[:i] + (-1,) + rev[i + 1 :]


@SETTINGS
@given(data=st.data())
def test_reshape_transpose(data):
    shape = data.draw(st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple), label="shape")
    r = len(shape)
    kind = data.draw(
        st.sampled_from(
            [
                "reshape_method",
                "reshape",
                "transpose",
                "transpose_method",
                "T",
                "ravel",
                "swapaxes",
                "moveaxis",
                "reshape_sum",
            ]
        ),
        label="op",
    )
    if kind in ("reshape_method", "reshape", "reshape_sum"):
        fn = {"reshape_method": t_reshape_method, "reshape": t_reshape, "reshape_sum": t_reshape_then_sum}[
            kind
        ]
        f = partial(fn, shape=data.draw(new_shape(shape), label="new shape"))
    elif kind in ("transpose", "transpose_method"):
        perm = tuple(data.draw(st.permutations(range(r)), label="perm"))
        f = partial(t_transpose if kind == "transpose" else t_transpose_method, axes=perm)
    elif kind == "swapaxes":
        i, j = (data.draw(st.integers(-r, r - 1), label=lbl) for lbl in ("axis1", "axis2"))
        f = partial(t_swapaxes, axis1=i, axis2=j)
    elif kind == "moveaxis":
        i, j = (data.draw(st.integers(-r, r - 1), label=lbl) for lbl in ("source", "destination"))
        f = partial(t_moveaxis, source=i, destination=j)
    else:
        f = t_T if kind == "T" else t_ravel
    dtype = data.draw(st.sampled_from(ALL_DTYPES), label="dtype")
    B = data.draw(batch_size(shape), label="B")
    ax = data.draw(placement(r), label="in axis")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    a = _batched(rng, shape, dtype, B, ax)
    out_axes = data.draw(st.sampled_from([0, -1]), label="out_axes")
    assert_vmap_equivalent(f, ax, out_axes, a)


# --------------------------------------------------------------------------- composite: mixed ranks


def affine_tanh(w, x, s):
    return np.tanh(w @ x + s) * s


@SETTINGS
@given(data=st.data())
def test_affine_mixed_ranks(data):
    """Unbatched weights, batched vector and per-example scalar; B often equal to len(x) or len(w)."""
    n = data.draw(st.integers(1, 4), label="n")
    k = data.draw(st.integers(1, 4), label="k")
    mapped = data.draw(
        st.sampled_from(
            [
                (False, True, True),
                (False, True, False),
                (False, False, True),
                (True, True, True),
                (True, False, False),
            ]
        ),
        label="mapped",
    )
    B = data.draw(st.sampled_from([0, 1, 3, n, k]), label="B")
    dtype = data.draw(st.sampled_from(["float32", "float64"]), label="dtype")
    axes = [data.draw(placement(r), label=f"axis {j}") for j, r in enumerate((2, 1, 0))]
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    shapes_ = [(n, k), (k,), ()]
    args = [
        _batched(rng, sh, dtype, B, ax) if m else _example(rng, sh, dtype)
        for sh, ax, m in zip(shapes_, axes, mapped)
    ]
    in_axes = tuple(ax if m else None for ax, m in zip(axes, mapped))
    assert_vmap_equivalent(affine_tanh, in_axes, 0, *args)


# --------------------------------------------------------------------------- nested vmap

NESTABLE = {"add": op_add, "mul_add": op_mul_add, "where": op_where, "at": mm_at, "dot": mm_dot}


def _insert(shape, axis, size):
    shape = list(shape)
    pos = axis if axis >= 0 else len(shape) + 1 + axis
    shape.insert(pos, size)
    return tuple(shape)


@SETTINGS
@given(data=st.data())
def test_nested_vmap(data):
    """vmap(vmap(f, inner axes), outer axes) against the loop over the inner vmapped function."""
    from astvmap import vmap

    name = data.draw(st.sampled_from(sorted(NESTABLE)), label="op")
    fn = NESTABLE[name]
    if name in ("at", "dot"):
        k = data.draw(st.integers(1, 3), label="k")
        sa = data.draw(st.sampled_from([(k,), (2, k)]), label="shape a")
        sb = data.draw(st.sampled_from([(k,), (k, 3)]), label="shape b")
        dtype = data.draw(st.sampled_from(["int64", "float64", "complex128"]), label="dtype")
    else:
        sa, sb = data.draw(broadcast_pair(), label="shapes")
        dtype = data.draw(st.sampled_from(REAL), label="dtype")
    inner = data.draw(st.sampled_from([(True, False), (False, True), (True, True)]), label="inner mapped")
    outer = data.draw(st.sampled_from([(True, False), (False, True), (True, True)]), label="outer mapped")
    B1 = data.draw(batch_size(sa, sb), label="B inner")
    B2 = data.draw(st.sampled_from([0, 1, 3, B1 if B1 else 2]), label="B outer")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    args, in_inner, in_outer = [], [], []
    for shape, mi, mo in zip((sa, sb), inner, outer):
        ai = ao = None
        if mi:
            ai = data.draw(placement(len(shape)), label="inner axis")
            shape = _insert(shape, ai, B1)
        if mo:
            ao = data.draw(placement(len(shape)), label="outer axis")
            shape = _insert(shape, ao, B2)
        a = _rand(rng, shape, dtype)
        args.append(a[()] if a.ndim == 0 else a)
        in_inner.append(ai)
        in_outer.append(ao)
    inner_vf = vmap(fn, in_axes=tuple(in_inner))
    assert_vmap_equivalent(inner_vf, tuple(in_outer), 0, *args)
