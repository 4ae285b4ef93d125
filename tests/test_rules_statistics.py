"""Statistics (astvmap/rules/statistics.py and `np.average` with weights) against the per-example loop.

percentile/quantile and their nan forms, histogram, bincount, average, cov and corrcoef: every placement
of the batch axis, batch sizes 0, 1, 3, 7 and the per-example lengths, with ``fallback="error"`` where the
rule batches (a fallback to the loop is a failure); data with NaN, inf and values on the bin edges, the
cases NumPy refuses (the batched call raises too), the cases the rules leave to the loop, and nested vmaps.
"""

import warnings

import numpy as np
import pytest
from oracle import assert_vmap_equivalent, check_all_placements

import astvmap

RNG = np.random.default_rng(18)
VEC = RNG.normal(size=6)
MAT = RNG.normal(size=(3, 5))
INTS = np.array([0, 2, 1, 2, 0, 4])  # values 0..4, with ties
SIZES = (0, 1, 3, 7, 11)


def check(f, args, mapped=None, batch_sizes=SIZES, **kw):
    check_all_placements(f, args, mapped=mapped, batch_sizes=batch_sizes, fallback="error", **kw)


def equivalent(f, in_axes, *args, **kw):
    assert_vmap_equivalent(f, in_axes, 0, *args, fallback="error", **kw)


def falls_back(f, in_axes, *args):
    """The call runs as the per-example loop (warned), and equals it."""
    with pytest.warns(astvmap.PerformanceWarning):
        astvmap.vmap(f, in_axes)(*args)
    assert_vmap_equivalent(f, in_axes, 0, *args, allow_fallback=True)


def with_nan(shape, rng=RNG, dtype=np.float64):
    """Normal values with NaN and inf here and there (a lane of only NaN too)."""
    x = rng.normal(size=shape)
    x[rng.random(shape) < 0.2] = np.nan
    x[rng.random(shape) < 0.1] = np.inf
    x[0] = np.nan
    return x.astype(dtype)


# --------------------------------------------------------------------------- percentile, quantile


def pct_default(x):
    return np.percentile(x, 30), np.quantile(x, [0.1, 0.5, 0.9]), np.quantile(x, q=np.array([[0.2], [0.7]]))


def pct_axis(x):
    return np.percentile(x, 50, axis=0), np.quantile(x, [0.25, 0.75], -1), np.percentile(x, 40, (0, 1))


def pct_options(x):
    return (
        np.quantile(x, [0.3, 0.6], axis=1, keepdims=True),
        np.percentile(x, 75, method="lower"),
        np.quantile(x, 0.4, axis=None, method="midpoint", keepdims=True),
        np.percentile(x, np.float64(35.0), axis=0),  # a NumPy q: its promotion (a helper)
    )


def nanpct(x):
    return (
        np.nanpercentile(x, 30),
        np.nanquantile(x, [0.1, 0.9], axis=-1),
        np.nanquantile(x, 0.5, axis=0, keepdims=True, method="nearest"),
        np.nanpercentile(x, [[10.0], [90.0]], axis=1),
    )


@pytest.mark.parametrize("f", [pct_default, pct_axis, pct_options, nanpct])
def test_quantiles(f):
    check(f, [MAT])


@pytest.mark.parametrize("dtype", [np.float32, np.int64])
def test_quantiles_of_other_dtypes(dtype):
    check(pct_default, [(MAT * 10).astype(dtype)])
    check(nanpct, [(MAT * 10).astype(dtype)])


def quantiles_of_vector(v):
    return np.quantile(v, 0.5), np.nanpercentile(v, [5, 95]), np.percentile(v, np.float64(20.0))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_quantiles_with_nan(dtype):
    # NaN propagates (np.quantile) or is skipped (nan forms; a lane of only NaN gives NaN, of a's dtype)
    check(quantiles_of_vector, [VEC.astype(dtype)])
    for f in (pct_default, nanpct):
        equivalent(f, 0, with_nan((7, 3, 5), dtype=dtype))
    equivalent(quantiles_of_vector, 0, with_nan((5, 6), dtype=dtype))
    every_lane = np.full((3, 6), np.nan, dtype)  # every lane has a NaN: q's promotion does not happen
    every_lane[:, 1:] = 1.5
    equivalent(quantiles_of_vector, 0, every_lane)
    equivalent(quantiles_of_vector, 0, np.full((3, 6), np.nan, dtype))


def nan_empty(x):
    return np.nanpercentile(x, [10, 90], axis=1)


def test_quantiles_of_empty_examples_and_refusals():
    # NumPy's nan forms give an empty example its nanmean (no q axes); the plain forms raise
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        equivalent(nan_empty, 0, np.zeros((3, 2, 0)))
    equivalent(lambda x: np.quantile(x, 0.5), 0, np.zeros((3, 0)))
    equivalent(lambda x: np.quantile(x, 1.5), 0, MAT)  # q out of range: NumPy raises
    # q per example, weights, overwrite_input: the loop
    falls_back(lambda x, q: np.quantile(x, q), (0, 0), RNG.normal(size=(3, 5)), RNG.random(3))
    g = lambda x: np.quantile(x, 0.5, weights=np.ones(5), method="inverted_cdf")
    falls_back(g, 0, RNG.normal(size=(3, 5)))
    falls_back(lambda x: np.percentile(x, 50, overwrite_input=True), 0, RNG.normal(size=(3, 5)))
    h = lambda x: np.percentile(x, [10, 90], axis=(1, 2))  # (the plain form is batched)
    equivalent(h, 0, RNG.normal(size=(3, 2, 4, 5)))
    n = lambda x: np.nanpercentile(x, [[10, 90]], axis=(1, 2))  # NumPy's nan forms reorder q's axes here
    falls_back(n, 0, RNG.normal(size=(3, 2, 4, 5)))


# --------------------------------------------------------------------------- histogram


def hist_range(x):
    return np.histogram(x, bins=4, range=(-2, 2))


def hist_edges(x):
    counts, edges = np.histogram(x, np.array([-1.0, 0.0, 0.5, 2.0]))
    return counts, edges, np.histogram(x, [-3, -1, 1, 1, 3], density=True)[0]


def hist_weighted(x, w):
    return (
        np.histogram(x, 3, (-1.5, 1.5), weights=w),
        np.histogram(x, bins=[-2.0, 0.0, 2.0], weights=w, density=True)[0],
    )


@pytest.mark.parametrize("f", [hist_range, hist_edges])
def test_histogram(f):
    check(f, [MAT])
    check(f, [VEC])
    check(f, [(MAT * 2).astype(np.int64)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # (NumPy's, converting bools to uint8)
        check(f, [MAT > 0])


def test_histogram_weights():
    check(hist_weighted, [MAT, MAT], mapped=(True, True))
    check(hist_weighted, [MAT, MAT], mapped=(True, False))
    check(hist_weighted, [MAT, MAT], mapped=(False, True))
    w = RNG.normal(size=(4, 6)) + 1j  # complex and int weights keep their dtype
    equivalent(hist_weighted, 0, RNG.normal(size=(4, 6)), w)
    equivalent(hist_weighted, 0, RNG.normal(size=(4, 6)), RNG.integers(0, 5, size=(4, 6)))


def test_histogram_edges_nan_and_inf():
    # values on every edge (the last bin is closed), outside the range, NaN and inf (ignored with a range)
    x = RNG.integers(-3, 4, size=(9, 8)).astype(float) / 2
    x[1, :3] = [np.nan, np.inf, -np.inf]
    for f in (hist_range, hist_edges):
        equivalent(f, 0, x)
    equivalent(hist_weighted, 0, x, RNG.random(size=(9, 8)))
    equivalent(lambda v: np.histogram(v, 2, (1, 1)), 0, x)  # an empty range: widened by 0.5 each side
    ties = np.repeat(RNG.integers(0, 3, size=(4, 1, 40)), 3, axis=1).reshape(4, 120) / 2
    equivalent(hist_weighted, 0, ties, RNG.normal(size=(4, 120)))  # weights summed in NumPy's order


def test_histogram_fallbacks_and_errors():
    # edges from each example's values (no range, or an estimator): the loop, whose edges differ
    x = RNG.normal(size=(3, 6))
    for f in (lambda v: np.histogram(v), lambda v: np.histogram(v, 5), lambda v: np.histogram(v, "auto")):
        falls_back(f, 0, x)
    equivalent(lambda v: np.histogram(v, 3, (2, 1)), 0, x)  # NumPy raises for a reversed range
    equivalent(lambda v: np.histogram(v, [1.0, 0.0]), 0, x)  # and for edges that decrease
    equivalent(lambda v, w: np.histogram(v, 3, (0, 1), weights=w), 0, x, x[:, :5])  # weights' shape


# --------------------------------------------------------------------------- bincount


def bincounts(x, w):
    return np.bincount(x, minlength=5), np.bincount(x, w, 6), np.bincount(x, weights=w, minlength=5)


def test_bincount():
    # values 0..4 with minlength 5: every example's result has the same length
    check(bincounts, [INTS, VEC], mapped=(True, True))
    check(bincounts, [INTS, VEC], mapped=(True, False))
    check(bincounts, [INTS, VEC], mapped=(False, True), batch_sizes=(1, 3, 7))
    equivalent(bincounts, 0, INTS.astype(np.uint8)[None].repeat(3, 0), VEC[None].repeat(3, 0))
    equivalent(lambda b: np.bincount(b), 0, RNG.random((4, 5)) < 0.5)  # bools: 0 and 1


def mode(v):
    return np.bincount(v).argmax()


def test_bincount_lengths_per_example():
    x = np.array([[0, 3, 1], [3, 3, 2], [1, 0, 3]])  # every example's max is 3: length 4
    equivalent(lambda v: np.bincount(v), 0, x)
    ragged = np.array([[0, 3, 1], [0, 1, 1]])  # lengths 4 and 2: the call runs as the per-example loop,
    with pytest.raises(astvmap.AstvmapError, match=r"lengths \[2, 4\]"):
        astvmap.vmap(lambda v: np.bincount(v), fallback="error")(ragged)
    equivalent(lambda v: np.bincount(v), 0, ragged, allow_fallback=True)  # which cannot stack them either
    with pytest.warns(astvmap.PerformanceWarning, match="lengths"):
        astvmap.vmap(mode)(ragged)
    assert_vmap_equivalent(mode, 0, 0, ragged, allow_fallback=True)  # but stacks their modes
    equivalent(mode, 0, x)
    equivalent(lambda v: np.bincount(v), 0, np.array([[0, -1], [1, 1]]))  # negative: NumPy raises
    empty = np.zeros((3, 0), dtype=np.int64)  # no values: `minlength` zeros (ints, even with weights)
    equivalent(lambda v: np.bincount(v, minlength=3), 0, empty)
    equivalent(lambda v: np.bincount(v, np.ones(0), minlength=3), 0, empty)
    equivalent(lambda v: np.bincount(v, minlength=2), 0, empty[:0])
    equivalent(lambda v: np.bincount(v, minlength=2), 0, x[:0])  # no example: one of zeros tells
    equivalent(lambda v: np.bincount(v, minlength=-1), 0, x)  # NumPy's refusals
    equivalent(lambda v, w: np.bincount(v, w), 0, x, x[:, :2] * 1.0)
    falls_back(lambda v, n: np.bincount(v, minlength=n), 0, x, np.array([5, 5, 5]))  # per example: the loop


# --------------------------------------------------------------------------- average


def averages(x, w):
    return (
        np.average(x, weights=w),
        np.average(x, axis=1, weights=w),
        np.average(x, 0, w, True),
        np.average(x, axis=(0, 1), weights=w, keepdims=True),
        np.average(x, axis=-1, weights=w[0]),  # 1-D along the axis
        np.average(x, axis=0, weights=w[:, 0], returned=True, keepdims=True),
    )


def test_average_weights():
    w = RNG.random((3, 5)) + 0.1
    check(averages, [MAT, w], mapped=(True, True))
    check(averages, [MAT, w], mapped=(True, False))
    check(averages, [MAT, w], mapped=(False, True))
    check(averages, [(MAT * 5).astype(np.int64), (w * 3).astype(np.int64) + 1])
    check(averages, [MAT.astype(np.complex128) * 1j, w.astype(np.float32)])


def test_average_weights_per_axes_and_errors():
    x, w = RNG.normal(size=(4, 2, 3, 5)), RNG.random((4, 5, 2)) + 0.1
    equivalent(lambda a, v: np.average(a, axis=(2, 0), weights=v), 0, x, w)  # transposed as NumPy does
    equivalent(lambda a, v: np.average(a, axis=-1, weights=v, returned=True), 0, x, w[..., 0])
    w0 = RNG.random((4, 5))
    w0[2] = 0.0  # one example's weights sum to zero: NumPy raises ZeroDivisionError, so does the batch
    with pytest.raises(ZeroDivisionError):
        astvmap.vmap(lambda a, v: np.average(a, weights=v), fallback="error")(x[:, 0, 0], w0)
    equivalent(lambda a, v: np.average(a, weights=v), 0, x[:, 0, 0], w0)
    equivalent(lambda a, v: np.average(a, weights=v), 0, x[:, 0], w0)  # shapes differ, no axis
    equivalent(lambda a, v: np.average(a, axis=1, weights=v), 0, x[:, 0], w0[:, :1])  # not broadcast
    check(lambda a: np.average(a, returned=True), [MAT])  # without weights: (average, count)


# --------------------------------------------------------------------------- cov, corrcoef


def covs(m, y):
    return (
        np.cov(m),
        np.cov(m, rowvar=False, bias=True),
        np.cov(m, y, ddof=0),
        np.cov(m[0]),
        np.cov(m, fweights=[1, 2, 0, 1, 3], aweights=None),
        np.cov(m, aweights=np.linspace(0.5, 1.5, 5), ddof=2),
    )


def corrs(m, y):
    return np.corrcoef(m), np.corrcoef(m, rowvar=False), np.corrcoef(m, y), np.corrcoef(m[0], m[1])


@pytest.mark.parametrize("f", [covs, corrs])
def test_cov_corrcoef(f):
    y = RNG.normal(size=(2, 5))
    check(f, [MAT, y], mapped=(True, True))
    check(f, [MAT, y], mapped=(False, True))
    check(f, [(MAT * 4).astype(np.int64), y.astype(np.float32)])
    check(f, [MAT + 1j * MAT[::-1], y])


def one_variable(v):
    return np.cov(v), np.corrcoef(v), np.cov(v, ddof=7), np.corrcoef(v, v + 1)


def test_cov_corrcoef_edges():
    check(one_variable, [VEC])  # a scalar per example (c / c for corrcoef)
    x = with_nan((5, 3, 6))
    x[2] = 4.0  # a constant example: zero variance, NaN correlations
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        equivalent(corrs, (0, None), x, RNG.normal(size=(2, 6)))
        equivalent(one_variable, 0, x[:, 0])
        equivalent(lambda m: np.cov(m), 0, np.zeros((3, 0, 4)))  # no variables: NumPy's empty matrix
    equivalent(lambda m: np.cov(m), 0, RNG.normal(size=(3, 2, 2, 2)))  # more than 2-D: NumPy raises
    equivalent(lambda m: np.cov(m, fweights=[1, -1, 1]), 0, RNG.normal(size=(3, 2, 3)))
    fw = lambda m, w: np.cov(m, fweights=w)  # weights per example: the loop
    falls_back(fw, 0, RNG.normal(size=(3, 2, 3)), np.ones((3, 3), int))
    both = lambda m: np.cov(m, fweights=[1, 2, 1], aweights=[0.5, 1.0, 2.0])
    falls_back(both, 0, RNG.normal(size=(3, 2, 3)))


# --------------------------------------------------------------------------- nested vmaps


def everything(x, w):
    return (
        np.percentile(x, [20, 80]),
        np.nanquantile(x, 0.5, axis=0),
        np.quantile(x, np.float64(0.3)),
        np.histogram(x, 3, (-1, 1), weights=w),
        np.average(x, axis=1, weights=w),
        np.cov(x),
        np.corrcoef(x, w),
        np.bincount((np.abs(x[0]) < 1).astype(int), minlength=3),
    )


def test_nested_vmap():
    x, w = RNG.normal(size=(2, 3, 3, 5)), RNG.random((2, 3, 3, 5))
    x[0, 1, 0, 2] = np.nan
    inner = astvmap.vmap(everything, fallback="error")
    equivalent(inner, 0, x, w)
    equivalent(inner, (1, None), x, w[0])
    equivalent(astvmap.vmap(everything, in_axes=(0, None), fallback="error"), (0, 0), x, w[:, 0])
