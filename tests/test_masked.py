"""Reductions of a boolean-masked selection (`np.sum(x[x > 0])`): per example the selection's length
varies, but a reduction of it has one value per example, computed with the mask instead of a loop.
Empty selections behave as the loop: max/min raise, mean is NaN."""

import warnings

import numpy as np
import pytest
from test_controlflow import check

import astvmap

POOL = np.array(
    [
        [1.0, -2.0, 3.0, 0.5],
        [-1.0, -1.0, 5.0, 2.0],
        [0.2, -0.1, 0.3, -4.0],
        [7.0, 8.0, -9.0, 1.0],
        [2.0, 2.0, 2.0, 2.0],
    ]
)


def sum_positive(x):
    return np.sum(x[x > 0])


def prod_and_count(x):
    return np.prod(x[x > 0]), np.count_nonzero(x[x > 1.0]), x[x > 0].sum()


def largest_below(x, t):
    return np.max(x[x < t]) + x[x < t].min()


def mean_of_selected(x):
    return np.mean(x[x > -5])


def any_all(x):
    return np.any(x[x > 0] > 4), np.all(x[x > 0] > 0.1)


def ints(n):
    return np.sum(n[n % 2 == 0]), np.max(n[n > -100])


def test_masked_reductions_match_the_loop():
    check(sum_positive, POOL)
    check(prod_and_count, POOL)
    check(largest_below, POOL, np.array([6.0, 3.0, 1.0, 8.0, 2.5]))
    check(mean_of_selected, POOL)
    check(any_all, POOL)
    check(ints, np.arange(20).reshape(5, 4) - 7)


def test_masked_reductions_do_not_fall_back():
    vf = astvmap.vmap(sum_positive, fallback="error")
    np.testing.assert_allclose(vf(POOL), [sum_positive(x) for x in POOL])
    assert "av__.loop" not in vf.source


def test_empty_selection_raises_like_the_loop():
    with pytest.raises(ValueError, match="zero-size array"):
        astvmap.vmap(largest_below)(POOL, np.full(5, -100.0))


def test_empty_selection_mean_is_nan_with_a_warning():
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        out = astvmap.vmap(lambda x: np.mean(x[x > 100]))(POOL)
    assert np.all(np.isnan(out))
    assert any(issubclass(w.category, RuntimeWarning) for w in rec)


# ---- per-example integer scalars inside a tuple index (found by the fuzzer: the fallback used to
# slice the index tuple itself by example, silently wrong) --------------------------------------------


def scaled_by_entry(m, i):
    return m * m[1, i]


def column(m, i):
    return m[:, i]


def row_from_end(m, i):
    return m[-1 - i, :]


@pytest.mark.parametrize("f", [scaled_by_entry, column, row_from_end])
def test_integer_scalars_in_tuple_indices(f):
    pool_m = np.arange(45.0).reshape(5, 3, 3) * 0.5 - 3
    pool_i = np.array([0, 2, 1, 2, 0])
    check(f, pool_m, pool_i)
    check(f, pool_m[0], pool_i, mapped=[False, True])


def test_fallback_slices_tuple_arguments_leaf_by_leaf():
    # a call without a rule taking a tuple that holds a batched value
    def pick(m, i):
        return np.ravel_multi_index((i, 1), (3, 3)) + m[0, 0]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", astvmap.PerformanceWarning)
        m = np.ones((4, 3, 3))
        i = np.array([0, 1, 2, 1])
        np.testing.assert_array_equal(astvmap.vmap(pick)(m, i), [pick(a, b) for a, b in zip(m, i)])


def columns(m, idx):
    return m[:, idx]


def along(m, idx):
    return np.take_along_axis(m, idx, axis=1)


def test_per_example_index_vectors():
    pool_m = np.arange(60.0).reshape(5, 3, 4)
    pool_idx = np.array([[0, 3], [1, 1], [3, 2], [2, 0], [0, 0]])
    check(columns, pool_m, pool_idx)
    check(columns, pool_m[0], pool_idx, mapped=[False, True])
    pool_j = np.stack([np.argsort(-m, axis=1)[:, :2] for m in pool_m])
    check(along, pool_m, pool_j)
    check(along, pool_m[0], pool_j, mapped=[False, True])
