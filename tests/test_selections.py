"""Masked selections used whole (NOTE [masked selections]): `s = x[x > t]` is the values of x and the
mask when it is made; its size is a count per lane, reductions and elementwise arithmetic read it per
lane, and where the batched code needs it as one array and the lanes differ, the call is the loop.
Also `sorted(x)`/`list(x)` of a per-example vector, and axes outside the per-example rank."""

import operator
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
import selgen
from oracle import assert_vmap_equivalent

import astvmap

RNG = np.random.default_rng(7)
X = np.round(RNG.normal(size=(7, 6)), 1)
X[2] = -1.0  # a lane that selects nothing


def entropy(p):
    nz = p > 0
    return -np.sum(p[nz] * np.log(p[nz]))


def mean_above(x):
    sel = x[x > 0.5]
    if sel.size == 0:
        return 0.0
    return sel.mean()


def count_and_spread(x, t):
    s = x[x > t]
    return len(s), np.max(np.abs(s) + t) if len(s) else -1.0


def made_before_a_rebinding(x):
    m = x > 0
    a = x[m]
    x = x * 10
    m = x < 0
    return a.sum()


def made_before_a_write(x):
    a = x[x > 0]
    x[...] = 100.0
    return a.sum() + x[0]


def median_of_selection(x):
    s = x[x > 0]
    return np.median(s) if s.size else 0.0


@pytest.mark.parametrize("B", [0, 1, 3, 7])
@pytest.mark.parametrize("f", [entropy, mean_above, made_before_a_rebinding])
def test_selections_batch_without_a_loop(f, B):
    x = np.abs(X[:B]) * (X[:B] > -0.5) if f is entropy else X[:B]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # (the loop's own: log(0) never runs in it)
        assert_vmap_equivalent(f, 0, 0, x)


@pytest.mark.parametrize("in_axes", [(0, None), (1, 0), (0, 0)])
def test_sizes_and_reductions_over_placements(in_axes):
    x = X if in_axes[0] == 0 else X.T.copy()
    t = 0.2 if in_axes[1] is None else np.linspace(-1, 1, 7)
    assert_vmap_equivalent(count_and_spread, in_axes, 0, x, t)


def test_a_selection_is_the_values_when_it_was_made():
    # (the oracle calls the function more than once: each call writes its argument)
    want = [made_before_a_write(x) for x in X.copy()]
    np.testing.assert_allclose(astvmap.vmap(made_before_a_write, fallback="error")(X.copy()), want)


def test_a_per_example_call_reads_each_lanes_selection():
    assert_vmap_equivalent(median_of_selection, 0, 0, X, allow_fallback=True)


def test_nested_selections():
    xs = np.round(RNG.normal(size=(3, 4, 6)), 1)
    inner = astvmap.vmap(mean_above)
    got = astvmap.vmap(inner)(xs)
    np.testing.assert_allclose(got, [[mean_above(r) for r in x] for x in xs])


def smallest_selected(x):
    s = x[x > 0]
    return sorted(s)[0] if len(s) else 0.0  # (per example a list of its own length)


def test_a_ragged_value_needed_whole_runs_the_call_as_the_loop():
    with pytest.warns(astvmap.PerformanceWarning, match="this call runs as the per-example loop"):
        got = astvmap.vmap(smallest_selected)(X)
    np.testing.assert_allclose(got, [smallest_selected(x) for x in X])


def writes_then_ragged(x):
    x[0] = 1.0
    s = x[x > 0]
    return sorted(s)[0] if len(s) else 0.0


def test_a_ragged_value_in_a_function_with_effects_is_a_clear_error():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", astvmap.PerformanceWarning)
        with pytest.raises(astvmap.AstvmapError, match="cannot run again as the per-example loop"):
            astvmap.vmap(writes_then_ragged)(X.copy())


def branch_merged(x, c):
    s = x[x > 0] if c > 0 else x[x < 0]
    return s.sum() + np.max(s) if s.size else 0.0


def test_a_selection_chosen_per_lane_batches():
    c = np.array([1.0, -1, 1, 1, -1, 1, 1])
    assert_vmap_equivalent(branch_merged, 0, 0, X, c)


def returns_the_selection(x):
    return x[x > 0]


def test_a_ragged_result_raises_as_the_loop_does():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", astvmap.PerformanceWarning)
        with pytest.raises(ValueError):
            astvmap.vmap(returns_the_selection)(X)
        uniform = np.array([[1.0, -1.0], [-2.0, 3.0]])
        np.testing.assert_array_equal(astvmap.vmap(returns_the_selection)(uniform), [[1.0], [3.0]])


def middle(x):
    s = sorted(x)
    return s[len(s) // 2]


def spread_desc(x):
    s = sorted(x, reverse=True)
    return s[0] - s[-1], s[1]


def second_row(x):
    return list(x)[1]


def sorted_in_place(x):
    s = list(x)
    s.sort()
    return s[len(s) // 2]


def doubled_descending(x):
    s = [v * 2 for v in x]
    s.sort(reverse=True)
    return s[0] - s[-1], s[1]


@pytest.mark.parametrize("B", [0, 1, 3, 7])
@pytest.mark.parametrize("f", [middle, spread_desc, second_row, sorted_in_place, doubled_descending])
@pytest.mark.parametrize("dtype", ["float64", "float32", "int32", "bool"])
def test_sorted_and_list_of_a_per_example_vector(f, B, dtype):
    x = (X[:B] * 3).astype(dtype)
    assert_vmap_equivalent(f, 0, 0, x)


def test_sorted_of_a_lane_with_nan_is_pythons_order():
    x = X.copy()
    x[1, 2] = x[4, 0] = np.nan
    for f in (middle, spread_desc, sorted_in_place, doubled_descending):
        assert_vmap_equivalent(f, 0, 0, x)
        assert_vmap_equivalent(astvmap.vmap(f), 0, 0, np.stack([x, x[::-1]]))


def test_sorted_with_a_key_or_of_complex_values_runs_as_the_loop():
    def by_key(x):
        return sorted(x, key=abs)[0]

    assert_vmap_equivalent(by_key, 0, 0, X, allow_fallback=True)
    with pytest.raises(astvmap.AstvmapError):
        astvmap.vmap(middle, fallback="error")(X + 1j)


def flip_second_last(v):
    return np.flip(v, axis=-2)


def sum_second_last(v, k):
    return np.sum(v, axis=k)


def test_an_axis_outside_the_per_example_rank_raises_as_the_loop_does():
    # a negative axis past the per-example rank named the batch axis: a result where the loop raises
    v = RNG.normal(size=(3, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", astvmap.PerformanceWarning)
        with pytest.raises(np.exceptions.AxisError):
            astvmap.vmap(flip_second_last)(v)
        with pytest.raises(np.exceptions.AxisError):
            astvmap.vmap(sum_second_last, in_axes=(0, None))(v, -2)
    assert_vmap_equivalent(sum_second_last, (0, None), 0, v, -1)


@pytest.mark.parametrize("seed", range(40))
def test_generated_selection_programs_match_the_loop(seed):
    with tempfile.TemporaryDirectory() as tmp:
        selgen.check(seed, Path(tmp), B=[0, 1, 3, 7][seed % 4] or 3)


# ---- found by review: each was silently wrong or an internal error


def _overwrite(a):
    a[0] = 100.0


def written_by_a_callee(x):
    s = x[x > 0]
    _overwrite(x)
    return s.sum()


def written_by_operator(x):
    s = x[x > 0]
    operator.setitem(x, slice(None), 100.0)
    return s.sum()


def counted_by_iteration(x):
    n = 0
    for _ in x[x > 0]:
        n += 1
    return n


def items_before_a_write(x):
    r = list(x)
    x[0] = 99.0
    return r[0]


def a_string_per_example(x):
    s = "pos" if x[0] > 0 else "neg"
    return isinstance(s, str)


def clipped_by_keyword(x):
    return x[x > 0].clip(max=0.5).sum()


def products_of_two_masks(x, y):
    return (x[x > 0] * y[y > 0]).sum()


def appended(x, t):
    return np.append(x, [t, 1.0])


def sorted_then_selected(x):
    y = np.sort(x)
    s = y[y > 0]
    return sorted(s)[0] if len(s) else 0.0


R = np.array([[1.0, 2, -3, -1], [4, -5, 6, 7], [-1, 8, 9, -10]])
Q = np.array([[1.0, -2, 3, 1], [4, 5, 6, -7], [1, 8, -9, 10]])


@pytest.mark.parametrize(
    "f, args",
    [
        (written_by_a_callee, (R,)),
        (written_by_operator, (R,)),
        (counted_by_iteration, (R,)),
        (items_before_a_write, (R,)),
        (a_string_per_example, (R,)),
        (clipped_by_keyword, (R,)),
        (clipped_by_keyword, (R[:1],)),
        (products_of_two_masks, (np.abs(R) * np.sign(Q), Q)),
        (appended, (R, np.array([1.0, 2.0, 3.0]))),
        (sorted_then_selected, (R,)),
    ],
)
def test_review_cases_match_the_loop(f, args):
    want = [f(*[a[i].copy() for a in args]) for i in range(len(args[0]))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", astvmap.PerformanceWarning)
        got = astvmap.vmap(f)(*[a.copy() for a in args])
    np.testing.assert_array_equal(got, np.stack([np.asarray(w) for w in want]))


def test_an_empty_batch_of_selections_chosen_per_lane():
    def f(x, t):
        s = x[x > 0] if t > 0 else x[:2][x[:2] < 0]
        return s.sum()

    out = astvmap.vmap(f)(np.zeros((0, 4)), np.zeros(0))
    assert out.shape == (0,)


def test_a_bool_or_float_axis_raises_as_the_loop_does():
    m = RNG.normal(size=(3, 2, 2))
    for axis in (True, 1.0):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", astvmap.PerformanceWarning)
            with pytest.raises(TypeError):
                astvmap.vmap(lambda v, a=axis: np.sum(v, axis=a))(m)


# A list of per-example values (`list(x)`, `sorted(x)`, a comprehension) given to NumPy is, per example,
# the array of its items: stacked along per-example axis 0 (as a Python list of batched items NumPy
# would stack them along the batch's axis: transposed or wrong shapes, found by review)
LISTS_AS_ARRAYS = [
    lambda x: np.concatenate([list(x), list(x)]),
    lambda x: np.array([list(r) for r in x]),
    lambda x: np.sum(list(x)),
    lambda x: np.mean(list(x), axis=0),
    lambda x: np.max(sorted(x[0])),
    lambda x: np.add(list(x[0]), 1.0),
    lambda x: np.multiply(list(x), 2.0),
    lambda x: np.dot(list(x[0]), x[0]),
]


@pytest.mark.parametrize("i", range(len(LISTS_AS_ARRAYS)))
@pytest.mark.parametrize("B", [0, 1, 3])
def test_lists_of_per_example_values_as_arrays(i, B):
    assert_vmap_equivalent(LISTS_AS_ARRAYS[i], 0, 0, RNG.normal(size=(B, 3, 4)), allow_fallback=True)
