"""Valid code the rewrite used to refuse because it guessed what is read after a statement (issue 13):
liveness now comes from the analysis layer (astvmap/analysis), so a name is "used after" only when some
path reads it before rebinding it. And a loop counter read after a per-example `break`.

Each function is checked against the per-example loop over every batch placement and several batch
sizes (`check`: values, shape, dtype, and no PerformanceWarning).
"""

import numpy as np
import pytest
from test_controlflow import check

import astvmap

X = np.array([[1.0, 2.0, -1.0, 4.0], [1.0, 1.0, 1.0, 1.0], [-1.0, 5.0, 5.0, 5.0], [3.0, -2.0, 0.5, -7.0]])
S = np.array([7.0, 0.5, 3.0, 1.5])
T = np.array([0.5, 3.0, 0.0, 10.0])


def halve_in_while_in_for(x):
    # `y` is assigned before it is read in every iteration: not live after the `while`
    for _ in range(2):
        while x > 1.0:
            y = x * 0.5
            x = y
    return x


def assigned_after_break_point(x, t):
    i, s = 0, 0.0
    while i < 4:
        if x[i] > t:
            break
        z = x[i] * 2.0  # first assigned after the per-example break: read only in this iteration
        s = s + z
        i += 1
    return s


def assigned_before_break(x, t):
    i, s = 0, 0.0
    while i < 4:
        y = x[i] * 2.0
        if y > t:
            break
        s = s + y
        i += 1
    return s


def counter_rebound_later(x, t):
    s = 0.0
    for i in range(4):
        if x[i] > t:
            break
        s = s + x[i]
    for i in range(2):  # `i` is rebound before any read: the first loop's counter is dead
        s = s + i
    return s


def counter_unused(x, t):
    s = 0.0
    for i in range(4):
        if x[i] > t:
            break
        s = s + x[i]
    return s


def first_above(x, t):
    for i in range(4):
        if x[i] > t:
            break
    return i


def first_above_with_work(x, t):
    s = 0.0
    for k in range(1, 4):
        s = s + x[k]
        if s > t:
            break
    return k * 10 + s


def counter_and_continue(x, t):
    n = 0
    for i in range(4):
        if x[i] < 0:
            continue
        n += 1
        if x[i] > t:
            break
    return i, n


@pytest.mark.parametrize("f", [halve_in_while_in_for], ids=lambda f: f.__name__)
def test_scalar_programs_that_were_refused(f):
    check(f, S)


@pytest.mark.parametrize(
    "f",
    [assigned_after_break_point, assigned_before_break, counter_rebound_later, counter_unused],
    ids=lambda f: f.__name__,
)
def test_names_not_read_after_a_per_example_break_are_not_refused(f):
    check(f, X, T)


@pytest.mark.parametrize(
    "f", [first_above, first_above_with_work, counter_and_continue], ids=lambda f: f.__name__
)
def test_a_range_counter_read_after_a_per_example_break_is_per_lane(f):
    check(f, X, T)


def count_up(x, n):
    for i in range(n):
        if x[i] > 2.0:
            break
    return i


def test_after_an_empty_range_the_counter_is_unbound_as_in_the_loop():
    x = X[:3]
    with pytest.raises(UnboundLocalError):
        count_up(x[0], 0)
    with pytest.raises(UnboundLocalError):
        astvmap.vmap(count_up, in_axes=(0, None), fallback="error")(x, 0)
    np.testing.assert_array_equal(
        astvmap.vmap(count_up, in_axes=(0, None), fallback="error")(x, 4), [3, 3, 1]
    )


def counter_of_a_list(x, t):
    for v in [1.0, 2.0, 3.0]:
        if x[0] * v > t:
            break
    return v


def test_a_counter_of_another_iterable_read_after_the_break_still_falls_back():
    with pytest.warns(astvmap.PerformanceWarning, match="loop variable `v` is read after"):
        got = astvmap.vmap(counter_of_a_list)(X, T)
    np.testing.assert_array_equal(got, [counter_of_a_list(a, b) for a, b in zip(X, T)])


def last_value_before_break(x, t):
    for k in range(4):
        y = x[k] * 2.0  # first bound in the loop; each example's holds its value where it stopped
        if y > t:
            break
    return y


def last_value_before_break_n(x, n):
    for k in range(n):
        y = x[k] * 2.0
        if y > 3.0:
            break
    return y


def test_a_name_first_bound_in_a_loop_that_breaks_per_example_is_per_lane():
    check(last_value_before_break, X, T)


def test_after_an_empty_range_a_name_first_bound_in_it_is_unbound_as_in_the_loop():
    vf = astvmap.vmap(last_value_before_break_n, in_axes=(0, None), fallback="error")
    with pytest.raises(UnboundLocalError):
        last_value_before_break_n(X[0], 0)
    with pytest.raises(UnboundLocalError):
        vf(X, 0)
    np.testing.assert_array_equal(vf(X, 4), [last_value_before_break_n(x, 4) for x in X])


def unbatched_break_batched_continue(x, t, stop):
    s = 0.0
    for k in range(4):
        if k >= stop:  # the same for every example
            break
        if x[k] < t:  # per example: the loop is lowered to flags
            continue
        s = s + x[k]
    return s, k


@pytest.mark.parametrize("stop", [0, 2, 9])
def test_a_counter_after_a_break_shared_by_all_examples(stop):
    check(unbatched_break_batched_continue, X, T, stop, mapped=[True, True, False])
