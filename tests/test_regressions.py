"""Regressions found outside the focused suites (benchmarks, the fuzzer): each failed before its fix."""

import statistics

import numpy as np
import pytest

import astvmap
from astvmap.bench import workloads


def test_functions_of_the_astvmap_package_itself_are_rewritten():
    # only astvmap's runtime helpers are never rewritten; user functions that happen to live in the
    # package (the benchmark workloads) are (rbf_gram ran as a loop when this was a path prefix)
    X = np.random.default_rng(0).normal(size=(5, 3))
    vf = astvmap.vmap(workloads.sqeuclidean_distance, in_axes=(0, None), fallback="error")
    np.testing.assert_allclose(vf(X, X[0]), ((X - X[0]) ** 2).sum(-1))


SETTINGS = {"scale": 2.0}


def scaled(x):
    return x * SETTINGS["scale"]


def test_a_global_dict_changed_in_place_is_seen():
    x = np.arange(6.0).reshape(3, 2)
    vf = astvmap.vmap(scaled)
    np.testing.assert_allclose(vf(x), x * 2.0)
    SETTINGS["scale"] = np.array([1.0, 10.0])  # same dict object, a value of another rank
    try:
        np.testing.assert_allclose(vf(x), x * np.array([1.0, 10.0]))
    finally:
        SETTINGS["scale"] = 2.0


def pair_stats(x, w):
    return np.sum(x * w), (x - w, np.max(w))


@pytest.mark.parametrize("chunk", [1, 3, 4, 100])
def test_chunk_size_gives_the_same_results(chunk):
    rng = np.random.default_rng(3)
    x, w = rng.normal(size=(10, 4)), rng.normal(size=4)
    whole = astvmap.vmap(pair_stats, in_axes=(0, None), out_axes=(0, (1, None)))(x, w)
    chunked = astvmap.vmap(pair_stats, in_axes=(0, None), out_axes=(0, (1, None)), chunk_size=chunk)(x, w)
    np.testing.assert_allclose(chunked[0], whole[0])
    np.testing.assert_allclose(chunked[1][0], whole[1][0])
    np.testing.assert_allclose(chunked[1][1], whole[1][1])


def test_chunk_size_must_be_positive():
    with pytest.raises(ValueError, match="chunk_size"):
        astvmap.vmap(pair_stats, chunk_size=0)


def moving_average(x, k=3):
    out = np.zeros(len(x) - k + 1)
    for i in range(len(x) - k + 1):
        out[i] = np.mean(x[i : i + k])
    return out


def test_arrays_sized_by_a_computed_length_are_written_without_a_loop():
    x = np.random.default_rng(0).normal(size=(5, 8))
    vf = astvmap.vmap(moving_average, fallback="error")
    np.testing.assert_allclose(vf(x), [moving_average(r) for r in x])


def first_positive_or_param(x, returned):
    for i in range(3):
        if x[i] > 0:
            return i
    return returned


def first_positive_or_result(x, result):
    for i in range(3):
        if x[i] > 0:
            return i * 1.0
    return result


def test_a_lowered_loop_return_never_takes_a_users_name():
    # the flags of `return` inside a loop were the fixed names `returned`/`result`: a parameter so
    # named was overwritten (the loop gives [1, 9], the rewrite gave [1, 0])
    from oracle import assert_vmap_equivalent

    x = np.array([[-1.0, 2.0, 3.0], [-1.0, -2.0, -3.0]])
    out = astvmap.vmap(first_positive_or_param)(x, np.array([9, 9]))
    np.testing.assert_array_equal(out, [1, 9])
    assert_vmap_equivalent(first_positive_or_param, 0, 0, x, np.array([9, 9]))
    assert_vmap_equivalent(first_positive_or_result, (0, None), 0, x, 7.5)


def test_astvmaps_own_helpers_are_rewritten_when_installed_among_packages(monkeypatch):
    # installed from a wheel, astvmap lives among the installed packages; the workloads must still be
    # rewritten, the runtime helpers never are (each has a batching rule: test_runtime_rules.py)
    import os

    from astvmap.transform import calls

    monkeypatch.setattr(calls, "_LIBRARY_DIRS", (os.path.dirname(calls._OWN),))
    from astvmap import runtime, runtime_lanes

    assert calls.is_library_code(runtime_lanes.select)
    assert not calls.is_library_code(workloads.sqeuclidean_distance)
    assert calls.is_library_code(runtime.math_fn)
    assert calls.is_library_code(np.linalg.norm)


# A store inside an `if` or a loop of a batched branch may not run on every path through the branch: the
# branch's name must then hold the value from before the branch (it held a stale value from the previous
# iteration, silently wrong, or was unbound). Found by the jumps fuzzer (tests/fuzzgen.py, extra="jumps").
def store_under_unbatched_if_in_branch(x, flag):
    y = 0.0
    for k in range(3):
        if x[k] > 0:  # noqa: SIM102 (a batched `if` around an unbatched one is the point)
            if flag > k:
                y = x[k] * 10
    return y


def store_in_loop_in_branch(x, n):
    y = -1.0
    if x[0] > 0:
        for k in range(n):
            y = x[k]
    return y


def partitioned_store_under_unbatched_if(x, flag):
    y = x[1]
    if x[0] > 0:  # astvmap: partition
        if flag > 0:
            y = x[2] * 3.0
    else:
        y = y + 1.0
    return y


@pytest.mark.parametrize("flag", [0, 1, 3])
@pytest.mark.parametrize(
    "f", [store_under_unbatched_if_in_branch, store_in_loop_in_branch, partitioned_store_under_unbatched_if]
)
def test_a_store_some_path_through_a_branch_skips_keeps_the_value_before_it(f, flag):
    from test_controlflow import check

    x = np.array([[1.0, 2.0, 3.0], [-1.0, 2.0, 3.0], [1.0, -2.0, 3.0], [2.0, 2.0, -3.0]])
    check(f, x, flag, mapped=[True, False])


# Found by an adversarial review of the analysis layer: a loop rewritten again (its fixed point) inside a
# batched branch forgot the branch's names for its stores, and an inner branch reused one (silently
# wrong); a `for ... else` ran its `else` for examples that broke out of the loop.
def loop_redone_in_branch(x):
    c = 0.0
    if x[0] < 0.5:
        for _ in range(1):
            t = 0.0
            if x[1] < 0.8:
                t = 5.0
            c = t
    return c


def counter_of_loop_redone_in_branch(x):
    c = 0
    if x[0] < 0.5:
        for _ in range(1):
            for j in range(3):
                if x[1] < 0.8:
                    break
            c = j
    return c


def loop_in_else_reads_its_own_stores(x):
    c = x[1] + 0.0
    if x[0] > 0.5:
        c = x[0] * 2.0
    else:
        for j in range(2):
            if x[j] < 0.1:
                c = x[j] + 1.0
    return c


def for_else_with_per_example_break(x):
    s = 0.0
    for i in range(2):
        if x[i] > 1.0:
            break
    else:
        s = -100.0
    return s


@pytest.mark.parametrize(
    "f",
    [
        loop_redone_in_branch,
        counter_of_loop_redone_in_branch,
        loop_in_else_reads_its_own_stores,
        for_else_with_per_example_break,
    ],
)
def test_loops_rewritten_again_and_for_else(f):
    from test_controlflow import check

    check(f, np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, 2.0]]))


# A local function called with unbatched arguments ran as written, reading its free names by the user's
# names, while a batched branch held them under its own (`b_then`): it read the value from before the
# branch (found by the review's random programs).
def closure_called_in_branch(x):
    b = 0.5
    if x[0] > 0.3:
        b = 0.25
        g = lambda t: t * b + b
        b = g(2.0)
    return b


def test_a_closure_called_in_a_branch_reads_the_branch_values():
    from test_controlflow import check

    check(closure_called_in_branch, np.array([[0.0, 1.0], [1.0, 2.0], [0.5, 0.0]]))


# A `break` under a condition shared by every example left a name batched that the loop's normal end left
# unbatched: after the loop the name was taken for unbatched and repeated over the batch, a (B, B) result
# (silently wrong). Each exit of a loop now leaves the join of what all its exits leave.
def first_match(x, k):
    found = 0.0
    for i in range(3):
        if i == k:
            found = x[i] * 2.0
            break
    return found + 1.0


def first_match_while(x, k):
    found, i = 0.0, 0
    while i < 3:
        if i == k:
            found = x[i] * 2.0
            break
        i += 1
    return found


@pytest.mark.parametrize("k", [0, 2, 7])
@pytest.mark.parametrize("f", [first_match, first_match_while])
def test_a_break_and_the_normal_end_of_a_loop_leave_the_same_batchedness(f, k):
    from test_controlflow import check

    check(f, np.array([[0.0, 1.0, 2.0], [1.0, 2.0, 3.0], [0.5, 4.0, 5.0]]), k, mapped=[True, False])


# The same for `continue`: the next iteration starts from each `continue` too, which now promotes to what
# the loop's start expects (a batched value the fall-through path left unbatched was repeated again).
def carried_through_continue(x, k):
    c = 0.5
    for i in range(3):
        if i == k:
            c = x[i] + c
            continue
        c = c * 1.0
    return c


@pytest.mark.parametrize("k", [0, 2, 7])
def test_a_continue_leaves_what_the_next_iteration_expects(k):
    from test_controlflow import check

    check(carried_through_continue, np.array([[0.0, 1.0, 2.0], [1.0, 2.0, 3.0]]), k, mapped=[True, False])


# Per example a 0-d value is a scalar, and `t += v` rebinds it; batched, `t` was a view (of the caller's
# array, or of another local) and `+=` wrote through it (issue 15's first cases).
def augmented_mapped_scalar(x, s):
    s += 1.0
    return s * x[0]


def augmented_scalar_read(x):
    t = x[0]
    t -= 1.0
    return t + x[0]


def augmented_scalar_of_local(x):
    y = x * 2.0
    t = y[0]
    t += 1.0
    return y, t


@pytest.mark.parametrize("f", [augmented_mapped_scalar, augmented_scalar_read, augmented_scalar_of_local])
def test_augmented_assignment_of_a_scalar_never_writes_into_an_array(f):
    x = np.arange(6.0).reshape(3, 2)
    s = np.array([1.0, 2.0, 3.0])
    args = (x, s) if f is augmented_mapped_scalar else (x,)
    before = [a.copy() for a in args]
    want = [f(*[a[b] for a in args]) for b in range(3)]
    got = astvmap.vmap(f, fallback="error")(*args)
    for a, b in zip(args, before):
        np.testing.assert_array_equal(a, b)  # the caller's arrays are unchanged, as in the loop
    if isinstance(got, tuple):
        for k, g in enumerate(got):
            np.testing.assert_allclose(g, np.stack([w[k] for w in want]))
    else:
        np.testing.assert_allclose(got, np.stack(want))


# A batched `while` whose every lane was active put back a value the body left unbatched (the `skip` flag
# of a lowered `continue`) as that one value, not one per lane; the next iteration failed to gather it.
def while_with_continue(x):
    w = 0
    while w < 2 and x[1] < 0.5:
        w = w + 1
        continue
    return x[0] + w


def test_a_while_whose_lanes_are_all_active_keeps_a_value_per_lane():
    from test_controlflow import check

    check(while_with_continue, np.array([[0.0, 0.1], [1.0, 0.2], [0.5, 0.3]]))


# A comprehension's target inside a batched branch was kept as one of the branch's stores, though it
# leaves the comprehension's scope never: the branch's end then failed on it (an internal KeyError,
# reported as a fallback "please report this").
def comprehension_in_lowered_loop(x):
    s = 0.0
    for i in range(3):
        if x[i] > 1.0:
            break
        s = s + sum([x[k] for k in range(2)])
    return s


def test_a_comprehension_in_a_branch_leaves_no_store():
    from test_controlflow import check

    check(comprehension_in_lowered_loop, np.array([[0.0, 1.0, 2.0], [1.0, 2.0, 3.0], [0.5, 0.4, 5.0]]))


# A list built per example and passed to a function without a batching rule: the per-example loop of
# that call indexed the list itself (example b got the list's b-th element) instead of each element's
# lane b. Found by the nested-vmap fuzzer (tests/test_nested.py, seed 870).
def median_of_a_list(x):
    values = []
    for j in range(3):
        values.append(float(x[j] * 2))
        values.append(float(x[j]))
    return statistics.median(values)


def test_a_per_example_list_reaches_a_functions_loop_lane_by_lane():
    x = np.random.default_rng(0).random((5, 3))
    want = np.array([median_of_a_list(e) for e in x])
    with pytest.warns(astvmap.PerformanceWarning):
        got = astvmap.vmap(median_of_a_list)(x)
    np.testing.assert_allclose(got, want)


# A select inside a batched branch decided "every lane took one side" over lanes the branch masks too:
# the result was promoted (int64 and a Python float -> float64) though no example that reaches it took
# the float side, and 2**60 + 1 came back rounded. Found by an adversarial review.
def kept_unless_both(x):
    s = x[3]
    if x[0] > 0:  # noqa: SIM102 (a select inside a batched branch is the point)
        if x[1] > 0:
            s = 0.5
    return s


def test_a_select_in_a_branch_keeps_the_dtype_of_the_side_its_lanes_took():
    x = np.array([[1, -1, 1, 2**60 + 1, 1], [-1, 1, 1, 2**60 + 1, 1]])
    want = np.stack([np.asarray(kept_unless_both(e)) for e in x])
    got = astvmap.vmap(kept_unless_both)(x)
    assert got.dtype == want.dtype == np.int64
    np.testing.assert_array_equal(got, want)


# A `return` inside a loop on a batched test: the value it returns starts as None and was gathered with the
# loop's active lanes (`None[lanes]`: TypeError). It runs as the loop now. Found while testing nested vmaps.
def count_down_or_return(x):
    n = 0
    while x > 0:
        x = x - 1.0
        n += 1
        if n > 3:
            return x
    return x


def test_a_return_inside_a_batched_while_runs_as_the_loop():
    x = np.array([0.5, 5.0, 2.0, 9.0])
    want = np.array([count_down_or_return(e) for e in x])
    with pytest.warns(astvmap.PerformanceWarning):
        got = astvmap.vmap(count_down_or_return)(x)
    np.testing.assert_array_equal(got, want)


# The split of the rules (one per NumPy signature) made the reduction methods' later parameters keyword-only,
# though NumPy takes them positionally: these ran as the loop. NumPy's methods pass them on to
# numpy/_core/_methods.py in its order (`z.any(axis, dtype, out, keepdims)`).
def sum_keepdims(z):
    return z.sum(0, None, None, True)


def sum_initial(z):
    return z.sum(None, None, None, False, 2.0)


def mean_keepdims(z):
    return z.mean(0, None, None, True)


def max_keepdims(z):
    return z.max(0, None, True)


def max_initial(z):
    return z.max(None, None, False, 9.0)


def min_initial(z):
    return z.min(0, None, False, 9.0)


def prod_keepdims(z):
    return z.prod(0, None, None, True)


def any_keepdims(z):
    return z.any(0, None, None, True)


def all_positional(z):
    return (z > 0).all(1, None, None, False)


def std_keepdims(z):
    return z.std(1, None, None, 1, True)


# An operand passed by keyword was passed twice (TypeError) or counted among the options (the loop).
def sum_a(z):
    return np.sum(a=z)


def mean_a(z):
    return np.mean(a=z, axis=0)


def max_a(z):
    return np.max(a=z, axis=1)


def average_a(z):
    return np.average(a=z, axis=0)


def std_a(z):
    return np.std(a=z)


def any_a(z):
    return np.any(a=z > 0)


def svd_a(z):
    return np.linalg.svd(a=z, compute_uv=False)


def qr_a(z):
    return np.linalg.qr(a=z, mode="r")


def asarray_a(z):
    return np.asarray(a=z)


def asarray_a_dtype(z):
    return np.asarray(a=z, dtype=int)


def array_object(z):
    return np.array(object=z)


def ascontiguousarray_a(z):
    return np.ascontiguousarray(a=z)


def full_fill_value(z):
    return np.full(3, fill_value=z[0, 0])


def full_shape_fill_value(z):
    return np.full(shape=3, fill_value=z[0, 0])


def full_like_a(z):
    return np.full_like(a=z, fill_value=z[0, 0])


def clip_a(z):
    return np.clip(a=z, a_min=z[0], a_max=1.0)


def hstack_dtype(z):
    return np.hstack((z, z), dtype=np.float32)


@pytest.mark.parametrize(
    "f",
    [sum_keepdims, sum_initial, mean_keepdims, max_keepdims, max_initial, min_initial, prod_keepdims]
    + [any_keepdims, all_positional, std_keepdims, sum_a, mean_a, max_a, average_a, std_a, any_a, svd_a]
    + [qr_a, asarray_a, asarray_a_dtype, array_object, ascontiguousarray_a, full_fill_value]
    + [full_shape_fill_value, full_like_a, clip_a, hstack_dtype],
    ids=lambda f: f.__name__,
)
def test_arguments_as_numpy_takes_them_batch(f):
    from oracle import assert_vmap_equivalent

    z = np.random.default_rng(8).normal(size=(4, 3, 3)) + 3 * np.eye(3)
    assert_vmap_equivalent(f, 0, 0, z)  # no PerformanceWarning


# `np.clip(x[mask], 0, None)`: a None operand is no operand (NumPy: no bound), so the clip keeps the masked
# selection for the reduction after it; it was taken for a container and the loop of the ragged selection
# raised. Found while fixing operands passed by keyword.
def clip_selection_sum(z):
    return np.clip(z[z > 0], 0, None).sum()


def test_a_none_bound_of_clip_keeps_a_masked_selection():
    from oracle import assert_vmap_equivalent

    assert_vmap_equivalent(clip_selection_sum, 0, 0, np.random.default_rng(8).normal(size=(4, 3)))
