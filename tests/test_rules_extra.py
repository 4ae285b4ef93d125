"""Sorting, searching, interpolation, padding, convolution (astvmap/rules/sorting.py) against the loop.

Every function runs through ``oracle.check_all_placements``: every placement of the batch axis, batch
sizes 0, 1, 3, 7 and every per-example length, with every argument mapped and each one alone, and
``fallback="error"``: a fallback to the per-example loop is a failure, so these prove real rules.
"""

import warnings

import numpy as np
import pytest
from oracle import assert_vmap_equivalent, check_all_placements

import astvmap
from astvmap.rules.registry import lookup

RNG = np.random.default_rng(5)
VEC = RNG.normal(size=5)
MAT = RNG.normal(size=(3, 4))
INTS = np.array([0, 2, 1, 2, 0, 1])  # ties: sorts must agree on the order of equal keys
INT_MAT = np.array([[0, 2, 1, 2], [1, 1, 0, 2], [2, 0, 0, 1]])
CPLX = RNG.normal(size=4) + 1j * RNG.normal(size=4)


def check(f, args, patterns=None, **kw):
    """Every argument mapped, then (for several arguments) each one mapped alone; never a fallback."""
    patterns = patterns or [None] + (
        [[i == j for i in range(len(args))] for j in range(len(args))] if len(args) > 1 else []
    )
    for mapped in patterns:
        check_all_placements(f, args, mapped=mapped, fallback="error", **kw)


# --------------------------------------------------------------------------- sort, argsort, partition


def sort_default(m):
    return np.sort(m)


def sort_axis0(m):
    return np.sort(m, axis=0)


def sort_neg(m):
    return np.sort(m, -2)


def sort_none(m):
    return np.sort(m, axis=None)


def argsort_default(m):
    return np.argsort(m)


def argsort_stable(m):
    return np.argsort(m, axis=0, kind="stable")


def argsort_none(m):
    return np.argsort(m, axis=None)


def argsort_method(m):
    return m.argsort(axis=-1)


def argsort_method_none(m):
    return m.argsort(None)


def sort_stable_kw(m):
    return np.sort(m, axis=1, stable=True)


def partition_kth(m):
    return np.partition(m, 1)


def partition_axis0(m):
    return np.partition(m, -1, axis=0)


def argpartition_none(m):
    return np.argpartition(m, 2, axis=None)


def argpartition_method(m):
    return m.argpartition(1)


def sort_complex_(c):
    return np.sort_complex(c)


def sort_then_reduce(x):
    return np.sort(x)[1:-1].mean()  # trimmed mean: a sort inside a larger expression


@pytest.mark.parametrize(
    "f",
    [
        sort_default,
        sort_axis0,
        sort_neg,
        sort_none,
        argsort_default,
        argsort_stable,
        argsort_none,
        argsort_method,
        argsort_method_none,
        sort_stable_kw,
        partition_kth,
        partition_axis0,
        argpartition_none,
        argpartition_method,
    ],
)
@pytest.mark.parametrize("data", [MAT, INT_MAT], ids=["float", "int-ties"])
def test_sort_family(f, data):
    check(f, [data])


@pytest.mark.parametrize(
    "f", [sort_default, sort_none, argsort_default, argsort_none, argsort_method, partition_kth]
)
def test_sort_family_vector(f):
    check(f, [INTS])
    check(f, [VEC])


def test_sort_complex_and_in_expressions():
    check(sort_complex_, [CPLX])
    check(sort_then_reduce, [VEC])


def sort_scalar(s):
    return np.sort(s)


def test_sort_of_per_example_scalar_raises_as_the_loop():
    # np.sort of a 0-d array raises per example; batched, axis -1 would sort the batch axis instead
    x = np.arange(3.0)
    with pytest.raises(Exception):
        sort_scalar(x[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(Exception):
            astvmap.vmap(sort_scalar)(x)


def test_ndarray_sort_has_no_rule():
    # in place: a write into the array, not a value; it stays unsupported (see test_coverage)
    assert lookup(np.ndarray.sort) is None and lookup(np.ndarray.partition) is None


# --------------------------------------------------------------------------- searchsorted


def ss_left(x, v):
    return np.searchsorted(np.sort(x), v)


def ss_right(x, v):
    return np.searchsorted(np.sort(x), v, side="right")


def ss_scalar(x, s):
    return np.searchsorted(np.sort(x), s)


def ss_matrix_values(x, m):
    return np.searchsorted(np.sort(x), m, "right")


def ss_method(x, v):
    return np.sort(x).searchsorted(v, side="left")


def ss_nan(x, v):
    a = np.sort(np.where(x > 0.5, np.nan, x))  # NaN sorts last; searchsorted treats it as largest
    w = np.where(v < -0.5, np.nan, v)
    return np.searchsorted(a, w), np.searchsorted(a, w, side="right")


def ss_ties(i, j):
    return np.searchsorted(np.sort(i), j), np.searchsorted(np.sort(i), j, side="right")


def ss_list_values(x):
    return np.searchsorted(np.sort(x), [0.0, 0.5]), np.searchsorted(np.sort(x), 0.25, side="right")


def ss_unbatched_a(x, v):
    return np.searchsorted(x, v)  # x unmapped: sorted once, v per example


SORTED = np.sort(VEC)


@pytest.mark.parametrize(
    "f,args",
    [
        (ss_left, [VEC, RNG.normal(size=3)]),
        (ss_right, [VEC, RNG.normal(size=3)]),
        (ss_scalar, [VEC, 0.1]),
        (ss_matrix_values, [VEC, MAT]),
        (ss_method, [VEC, RNG.normal(size=2)]),
        (ss_nan, [VEC, RNG.normal(size=6)]),
        (ss_ties, [INTS, np.array([0, 1, 2, 3])]),
    ],
)
def test_searchsorted_batched_sorted_array(f, args):
    check(f, args)


def test_searchsorted_constant_values():
    check(ss_list_values, [VEC])


def test_searchsorted_unbatched_array():
    check(ss_unbatched_a, [SORTED, MAT], patterns=[[False, True]])
    check(ss_unbatched_a, [SORTED, 0.3], patterns=[[False, True]])


# --------------------------------------------------------------------------- interp

XP = np.linspace(-2, 2, 7)
FP = np.sin(XP)


def interp_shared(x):
    return np.interp(x, XP, FP)


def interp_kw(x):
    return np.interp(x, XP, FP, left=-9.0, right=9.0)


def interp_complex(x):
    return np.interp(x, XP, FP + 1j * XP)


def interp_args(x, xp, fp):
    return np.interp(x, xp, fp)


def test_interp_shared_points():
    check(interp_shared, [MAT])
    check(interp_shared, [VEC])
    check(interp_kw, [VEC * 3])
    check(interp_complex, [VEC])
    check(interp_args, [MAT, XP, FP], patterns=[[True, False, False]])


def test_interp_batched_points_fall_back():
    # per-example sample points: a documented fallback (correct, warns)
    xs, xps, fps = RNG.normal(size=(3, 5)), np.sort(RNG.normal(size=(3, 7)), axis=1), RNG.normal(size=(3, 7))
    assert_vmap_equivalent(interp_args, 0, 0, xs, xps, fps, allow_fallback=True)
    with pytest.warns(astvmap.PerformanceWarning):
        astvmap.vmap(interp_args, in_axes=(None, 0, 0))(VEC, xps, fps)


# --------------------------------------------------------------------------- pad


def pad_const(x):
    return np.pad(x, (1, 2))


def pad_const_values(m):
    return np.pad(m, ((1, 0), (2, 1)), constant_values=((7, 8), (9, 10)))


def pad_edge(m):
    return np.pad(m, 1, mode="edge")


def pad_reflect(m):
    return np.pad(m, ((0, 2), (1, 1)), "reflect")


def pad_symmetric(x):
    return np.pad(x, 2, mode="symmetric")


def pad_wrap(m):
    return np.pad(m, (1, 2), mode="wrap")


def pad_mean(m):
    return np.pad(m, 1, mode="mean", stat_length=2)


def pad_ramp(x):
    return np.pad(x, (2, 3), mode="linear_ramp", end_values=(5, -5))


def pad_runtime_width(x):
    return np.pad(x, (0, 8 - len(x)))  # pad widths computed per call (but not per example)


def pad_scalar(s):
    return np.pad(s, 0)


@pytest.mark.parametrize(
    "f,data",
    [
        (pad_const, VEC),
        (pad_const_values, MAT),
        (pad_edge, MAT),
        (pad_reflect, MAT),
        (pad_symmetric, VEC),
        (pad_wrap, INT_MAT),
        (pad_mean, MAT),
        (pad_ramp, VEC),
        (pad_runtime_width, VEC),
        (pad_edge, INTS),
    ],
)
def test_pad(f, data):
    check(f, [data])


# --------------------------------------------------------------------------- convolve, correlate


def conv_full(x, v):
    return np.convolve(x, v)


def conv_same(x, v):
    return np.convolve(x, v, mode="same")


def conv_valid(x, v):
    return np.convolve(x, v, "valid")


def corr_valid(x, v):
    return np.correlate(x, v)


def corr_same(x, v):
    return np.correlate(x, v, "same")


def corr_full(x, v):
    return np.correlate(x, v, mode="full")


def smooth(x):
    return np.convolve(x, np.ones(3) / 3, mode="same")  # the usual moving average


CONV = [conv_full, conv_same, conv_valid, corr_valid, corr_same, corr_full]


@pytest.mark.parametrize("f", CONV)
@pytest.mark.parametrize("n,m", [(5, 3), (6, 4), (4, 4), (3, 5), (4, 6), (1, 3), (3, 1)])
def test_convolve_correlate(f, n, m):
    # NumPy swaps the arguments when v is longer than a; 'same' centres differently for correlate then
    check(f, [RNG.normal(size=n), RNG.normal(size=m)])


@pytest.mark.parametrize("f", CONV)
def test_convolve_correlate_dtypes(f):
    check(f, [np.array([1, 0, 2, 3, 1]), np.array([2, 1, 0])])  # ints stay ints
    check(f, [CPLX, RNG.normal(size=3) - 1j * RNG.normal(size=3)])  # correlate conjugates v
    check(f, [VEC, 0.5])  # a scalar acts as length 1


def test_moving_average():
    check(smooth, [VEC])


def windows_sum(x):
    return np.lib.stride_tricks.sliding_window_view(x, 3).sum(axis=-1)


def windows_2d(m):
    return np.lib.stride_tricks.sliding_window_view(m, (2, 2)).max(axis=(-2, -1))


def windows_axis(m):
    return np.lib.stride_tricks.sliding_window_view(m, 2, axis=0).mean(axis=-1)


def test_sliding_window_view():
    check(windows_sum, [VEC])
    check(windows_2d, [MAT])
    check(windows_axis, [MAT])


# --------------------------------------------------------------------------- real rules, not fallbacks


@pytest.mark.parametrize(
    "fn",
    [
        np.sort,
        np.argsort,
        np.ndarray.argsort,
        np.partition,
        np.argpartition,
        np.sort_complex,
        np.searchsorted,
        np.ndarray.searchsorted,
        np.interp,
        np.pad,
        np.convolve,
        np.correlate,
        np.lib.stride_tricks.sliding_window_view,
    ],
)
def test_registered(fn):
    assert lookup(fn) is not None


def test_generated_code_has_no_loop():
    vf = astvmap.vmap(ss_left, fallback="error")
    vf(RNG.normal(size=(4, 5)), RNG.normal(size=(4, 3)))
    assert "count_nonzero" in vf.source and "av__.loop" not in vf.source
    vf = astvmap.vmap(conv_same, fallback="error")
    vf(RNG.normal(size=(4, 5)), RNG.normal(size=(4, 3)))
    assert "sliding_window_view" in vf.source and "loop" not in vf.source


def nested_body(x, v):
    return (
        np.sort(x),
        np.convolve(x, v, "same"),
        np.searchsorted(np.sort(x), v),
        np.pad(x, (1, len(v)), mode="edge"),
    )


def test_nested_vmap_fuses():
    # the inner vmap's generated code (einsum over sliding windows, count_nonzero, pad) batches again
    X, V = RNG.normal(size=(2, 3, 5)), RNG.normal(size=(2, 3, 3))
    got = astvmap.vmap(astvmap.vmap(nested_body), fallback="error")(X, V)
    for i in range(2):
        for j in range(3):
            for g, e in zip(got, nested_body(X[i, j], V[i, j])):
                np.testing.assert_allclose(g[i, j], e)
