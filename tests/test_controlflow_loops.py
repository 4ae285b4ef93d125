"""Control flow on batched values, part 2 (issue 6): loops whose trip count differs between examples,
`break`/`continue` under batched conditions, writes into arrays under batched conditions.

Each function is checked against the per-example loop (the oracle: values, shape, dtype, no
PerformanceWarning) over every batch placement and batch sizes 0, 1, 3, 7 and the per-example lengths,
and without spurious NumPy warnings on lanes that do not take a path.
"""

import numpy as np
import pytest
from test_controlflow import check, check_no_warnings

POOL_X = np.array(
    [
        [1.0, 2.0, -1.0, 4.0],
        [1.0, 1.0, 1.0, 1.0],
        [-1.0, 5.0, 5.0, 5.0],
        [3.0, -2.0, 0.5, -7.0],
        [0.0, 0.0, 9.0, 2.0],
    ]
)
POOL_N = np.array([0, 3, 4, 2, 1])


def sum_first_n(x, n):
    acc = 0.0
    for i in range(n):
        acc = acc + x[i] * 2.0
    return acc


def fill_first_n(x, n):
    out = np.zeros(4)
    for i in range(n):
        out[i] = x[i] * i
    return out


def range_with_start(x, n):
    acc = 0.0
    for i in range(n - 1, 4):
        acc = acc + x[i]
    return acc


def sum_until_negative(x):
    s = 0.0
    for i in range(len(x)):
        if x[i] < 0:
            break
        s = s + x[i]
    return s


def sum_skipping_large(x):
    s = 0.0
    for v in x:
        if v > 2:
            continue
        if v < -2:
            break
        s += v
    return s


def halve_at_most_three_times(a):
    k = 0
    while a > 1.0:
        a = a / 2.0
        k += 1
        if k >= 3:
            break
    return a, k


def clip_in_place(x, t):
    y = x.copy()
    for i in range(4):
        if y[i] > t:
            y[i] = t
        else:
            y[i] += 1.0
    return y


def safe_reciprocals(x):
    y = np.zeros(4)
    for i in range(4):
        if x[i] != 0.0:
            y[i] = 1.0 / x[i]
    return y


def test_per_example_trip_count_accumulates():
    check(sum_first_n, POOL_X, POOL_N)


def test_per_example_trip_count_writes():
    check(fill_first_n, POOL_X, POOL_N)


def test_per_example_range_start():
    check(range_with_start, POOL_X, POOL_N + 1)


def test_break_under_batched_condition():
    check(sum_until_negative, POOL_X)


def test_continue_and_break_under_batched_conditions():
    check(sum_skipping_large, POOL_X)


def test_break_in_batched_while():
    check(halve_at_most_three_times, np.array([0.5, 3.0, 100.0, 7.0, 1e6]))


def test_writes_under_batched_condition():
    check(clip_in_place, POOL_X, np.array([0.5, 2.0, -1.0, 3.0, 0.0]))


def test_writes_under_batched_condition_never_fault():
    check(safe_reciprocals, POOL_X)
    check_no_warnings(safe_reciprocals, POOL_X)


def test_unmapped_argument_written_under_batched_condition_is_an_error():
    import astvmap

    def bad(x, y):
        if x[0] > 0:
            y[0] = x[0]
        return y

    with pytest.raises(astvmap.AstvmapError, match="unmapped argument `y`"):
        astvmap.vmap(bad, in_axes=(0, None))(POOL_X, np.zeros(4))


def zero_negatives(x):
    y = x.copy()
    y[y < 0] = 0.0
    return y


def cap_at_threshold(x, t):
    y = x * 1.0
    y[y > t] = t
    return y


def test_write_through_a_per_example_mask():
    check(zero_negatives, POOL_X)
    check(cap_at_threshold, POOL_X, np.array([0.5, 2.0, -1.0, 3.0, 0.0]))


def partitioned(x, t):
    if x[0] > t:  # astvmap: partition
        y = x
        for k in range(5):
            y = np.sin(y) * 1.01 + 0.1
    else:
        y = x * 2.0
    return y


def partitioned_returns(s):
    if s > 0.5:  # astvmap: partition
        return np.log(s)
    return s - 1


def test_partition_directive_runs_each_branch_on_its_lanes():
    check(partitioned, POOL_X, np.array([0.5, 2.0, -1.0, 3.0, 0.0]))
    check(partitioned_returns, np.array([0.1, 2.0, 0.7, -3.0, 0.5]))
    check_no_warnings(partitioned_returns, np.array([0.1, 2.0, 0.7, -3.0, 0.5]))
    import astvmap

    vf = astvmap.vmap(partitioned)
    vf(POOL_X, np.zeros(5))
    assert "lanes_then = np.flatnonzero(cond)" in vf.source and "av__.merge_lanes(" in vf.source


def fill_until(x, t):
    y = np.zeros(4)
    k = 0
    while k < 4 and x[k] < t:
        y[k] = x[k] * 2.0
        if x[k] < 0:
            y[k] += 1.0
        k += 1
    return y, k


def test_writes_in_a_batched_while():
    check(fill_until, POOL_X, np.array([2.0, 5.0, 0.0, 10.0, 1.0]))
