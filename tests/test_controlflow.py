"""Control flow on batched values (issue 4): `if`/`elif`/`else`, ternaries, `and`/`or`/`not`, early
`return`, `while`, masked lanes that never fault.

Every function is checked against the per-example loop (``oracle.assert_vmap_equivalent``: same values,
shape and dtype, no ``PerformanceWarning``), for every placement of the batch axis and batch sizes 0, 1, 3,
7 and each per-example length. Inputs are chosen per test, in two flavours:

- *mixed*: lanes take different branches (pools interleave the branches, so B = 3 already mixes them);
- *same*: every lane takes one branch, so the result must be that branch's own value, dtype included.

Tests marked "spec" stay even where the package does not do it yet: the issue says they must work.
"""

import math
import os
import warnings

import numpy as np
import pytest
from oracle import DEFAULT_BATCH_SIZES, assert_vmap_equivalent, loop_vmap

import astvmap
from astvmap import vmap

THIS_FILE = os.path.abspath(__file__)


# --------------------------------------------------------------------------- helpers


def _axis_choices(ndim):
    return list(range(ndim + 1)) + list(range(-1, -ndim - 2, -1))


def _batch_sizes(pools, mapped, extra=()):
    sizes = set(DEFAULT_BATCH_SIZES) | set(extra)
    for p, m in zip(pools, mapped):
        shape = np.shape(p)[1:] if m else np.shape(p)
        sizes.update(int(d) for d in shape if d > 0)
    return sorted(sizes)


def _take(pool, B):
    pool = np.asarray(pool)
    idx = np.arange(B) % len(pool)
    return pool[idx]


def check(f, *pools, mapped=None, out_axes=0, sizes=None, **kw):
    """Oracle check of ``f`` over chosen inputs.

    ``pools[j]``: for a mapped argument, an array of per-example values along axis 0 (the batch of size B
    takes examples ``0, 1, ..., B-1`` cyclically); for an unmapped argument, the value itself. Every
    placement of the batch axis (0..ndim and the negative forms) and batch sizes 0, 1, 3, 7 and every
    per-example length are checked.
    """
    if mapped is None:
        mapped = [True] * len(pools)
    sizes = _batch_sizes(pools, mapped) if sizes is None else sizes
    nds = [np.ndim(p) - 1 for p, m in zip(pools, mapped) if m]
    n_place = max((len(_axis_choices(nd)) for nd in nds), default=1)
    for j in range(n_place):
        for B in sizes:
            in_axes, args = [], []
            for p, m in zip(pools, mapped):
                if not m:
                    in_axes.append(None)
                    args.append(p)
                    continue
                c = _axis_choices(np.ndim(p) - 1)
                ax = c[j % len(c)]
                in_axes.append(ax)
                args.append(np.moveaxis(_take(p, B), 0, ax))
            try:
                assert_vmap_equivalent(f, tuple(in_axes), out_axes, *args, skip_unprobeable=False, **kw)
            except Exception as e:
                raise AssertionError(
                    f"{f.__name__} with B={B}, in_axes={tuple(in_axes)}: {type(e).__name__}: {e}"
                ) from e


def check_no_warnings(f, *pools, mapped=None, sizes=None):
    """Call the vmapped ``f`` directly with every warning an error and NumPy floating-point errors as
    warnings (the defaults), so a masked lane that computes something the loop never computes (1/0,
    log(-1), exp(800)) fails; then compare with the loop."""
    if mapped is None:
        mapped = [True] * len(pools)
    sizes = _batch_sizes(pools, mapped) if sizes is None else sizes
    in_axes = tuple(0 if m else None for m in mapped)
    vf = vmap(f, in_axes)
    for B in sizes:
        if B == 0:
            continue
        args = [_take(p, B) if m else p for p, m in zip(pools, mapped)]
        expected = loop_vmap(f, in_axes, 0, args)
        with warnings.catch_warnings(), np.errstate(all="warn"):
            warnings.simplefilter("error")
            got = vf(*args)
        assert np.asarray(got).dtype == np.asarray(expected).dtype
        np.testing.assert_array_equal(got, expected)


def def_line(fn, text):
    """Line number (in this file) of the first line of ``fn``'s source containing ``text``."""
    import inspect

    lines, start = inspect.getsourcelines(fn)
    for k, line in enumerate(lines):
        if text in line:
            return start + k
    raise AssertionError(f"{text!r} not in {fn.__name__}")


MIXED = np.array([-2.0, 0.5, 3.0, -0.25, 1.5, 0.0, 7.0, -9.0])
POS = np.array([0.5, 3.0, 1.5, 7.0, 2.25])
NEG = np.array([-2.0, -0.25, -9.0, -1.0])


# =========================================================================== if / elif / else


def sign3(s):
    if s > 0:
        y = 1.0
    elif s < 0:
        y = -1.0
    else:
        y = 0.0
    return y


@pytest.mark.parametrize("pool", [MIXED, POS, NEG, np.zeros(3)], ids=["mixed", "pos", "neg", "zero"])
def test_if_elif_else_scalars(pool):
    check(sign3, pool)


def piece_dtypes(s):
    if s > 0:
        y = 1  # int in the then-branch
    else:
        y = 0.5  # float in the else-branch
    return y


# B = 0 is left out where the dtype depends on the branch: with no example the oracle probes a zero-filled
# example, whose branch need not be the one the pool's lanes take.
@pytest.mark.parametrize("pool", [MIXED, POS, NEG], ids=["mixed", "pos", "neg"])
def test_if_dtype_is_the_branch_own_when_all_lanes_agree(pool):
    check(piece_dtypes, pool, sizes=[1, 3, 7])


def test_if_dtype_all_then_is_int():
    out = vmap(piece_dtypes)(POS)
    assert out.dtype == np.asarray(1).dtype
    np.testing.assert_array_equal(out, np.ones(len(POS), dtype=int))
    out = vmap(piece_dtypes)(NEG)
    assert out.dtype == np.float64


def int_branches(k):
    if k > 1:
        y = k * 2  # stays int
    else:
        y = k / 2  # float
    return y


@pytest.mark.parametrize(
    "pool",
    [np.array([0, 3, 1, 5, 2]), np.array([2, 3, 4]), np.array([0, 1, -3])],
    ids=["mixed", "then", "else"],
)
def test_if_int_vs_float_branches(pool):
    check(int_branches, pool, sizes=[1, 3, 7])


def nested3(s, t):
    if s > 0:
        if t > 0:
            if s > t:
                y = s - t
            else:
                y = t - s
        else:
            y = s * t
    elif s < -1:
        if t > 1:
            y = s + t
        else:
            y = -s
    else:
        y = 0.0
    return y


def test_nested_if_depth3_mixed():
    s = np.array([1.0, 2.0, 0.5, -3.0, -2.0, -0.5, 3.0, 1.0])
    t = np.array([0.5, 3.0, -1.0, 2.0, 0.0, 9.0, 1.0, 1.0])
    check(nested3, s, t)


@pytest.mark.parametrize(
    "s,t",
    [
        (np.array([2.0, 3.0, 4.0]), np.array([0.5, 1.0, 2.0])),  # every lane: s > 0, t > 0, s > t
        (np.array([-2.0, -3.0, -5.0]), np.array([0.5, 0.0, -2.0])),  # every lane: s < -1, t <= 1
    ],
)
def test_nested_if_depth3_same_path(s, t):
    check(nested3, s, t)


def vec_branches(x, s):
    if s > 0:
        y = x * s
    else:
        y = -x
    return y + 1.0


def test_if_assigns_per_example_vectors():
    x = np.arange(8 * 4, dtype=float).reshape(8, 4) - 10.0
    check(vec_branches, x, MIXED)
    check(vec_branches, x[:5], POS)
    check(vec_branches, x[:4], NEG)


def test_if_assigns_vectors_unbatched_vector():
    check(vec_branches, np.array([1.0, -2.0, 3.0]), MIXED, mapped=[False, True])


def vec_test(x):
    if np.sum(x) > 0:
        y = x - 1.0
    else:
        y = x * 2.0
    return y


def test_if_on_reduction_of_vector():
    x = np.array([[1.0, 2.0, 3.0], [-1.0, -2.0, 0.0], [5.0, -1.0, 0.5], [-4.0, 1.0, 1.0]])
    check(vec_test, x)


def matrix_branches(m, s):
    if s > 1.0:
        r = m.T @ m
    else:
        r = np.eye(3) * s
    return r


def test_if_assigns_per_example_matrices():
    m = np.arange(8 * 2 * 3, dtype=float).reshape(8, 2, 3) / 10.0
    check(matrix_branches, m, MIXED)


def tuple_branches(s, t):
    if s > t:
        a, b = s, t
    else:
        a, b = t * 2.0, s
    return a, b


def test_if_assigns_tuples_unpacked():
    check(tuple_branches, MIXED, MIXED[::-1].copy())


def tuple_value(s):
    if s > 0:
        pair = (s, s + 1.0)
    else:
        pair = (-s, 0.0)
    return pair[0] * pair[1]


def test_if_assigns_tuple_value():
    check(tuple_value, MIXED)
    check(tuple_value, POS)


def tuple_return(s):
    if s > 0:
        return s, 1.0
    return -s, 2.0


def test_if_returns_tuples():
    check(tuple_return, MIXED)
    check(tuple_return, NEG)


def first_defined_in_both(s, t):
    if s + t > 0:
        u = s * t
        w = s
    else:
        w = t
        u = s - t
    return u + w


def test_names_first_defined_in_both_branches():
    check(first_defined_in_both, MIXED, MIXED[::-1].copy())


def modifies_existing(s):
    y = s * 2.0
    z = 1.0
    if s > 0:
        y = y + 1.0
    else:
        z = s
    return y * z


def test_if_modifies_existing_names_on_one_path():
    check(modifies_existing, MIXED)


# --------------------------------------------------------------------------- ternary


def ternary_scalar(s):
    return s if s > 0 else -2.0 * s


def ternary_dtype(s):
    return 1 if s > 0 else 0.5


def ternary_vec(x, s):
    y = x * s if s > 0 else x - s
    return y


def ternary_nested(s):
    return 1.0 if s > 1 else (2.0 if s > 0 else 3.0)


@pytest.mark.parametrize("pool", [MIXED, POS, NEG], ids=["mixed", "pos", "neg"])
def test_ternary(pool):
    check(ternary_scalar, pool)
    check(ternary_nested, pool)
    check(ternary_dtype, pool, sizes=[1, 3, 7])
    x = np.arange(len(pool) * 3, dtype=float).reshape(len(pool), 3)
    check(ternary_vec, x, pool)


def ternary_masked(x):
    return 1.0 / x if x != 0 else 0.0


def test_ternary_masked_never_faults():
    pool = np.array([0.0, 2.0, -4.0, 0.0, 8.0])
    check(ternary_masked, pool)
    check_no_warnings(ternary_masked, pool)


# --------------------------------------------------------------------------- batched / unbatched nesting


def unbatched_in_batched(s, n):
    if s > 0:
        if n > 2:
            y = s * n
        else:
            y = s + 100.0
    else:
        y = -s
    return y


def batched_in_unbatched(s, n):
    if n > 2:
        if s > 0:
            y = s * n
        else:
            y = s - 1.0
    else:
        y = s * 0.5
    return y


@pytest.mark.parametrize("n", [1, 3])
@pytest.mark.parametrize("fn", [unbatched_in_batched, batched_in_unbatched])
def test_if_batched_unbatched_nesting(fn, n):
    check(fn, MIXED, n, mapped=[True, False])
    check(fn, POS, n, mapped=[True, False])


def if_in_for(x):
    acc = 0.0
    for i in range(len(x)):
        if x[i] > 0:
            acc = acc + x[i]
        else:
            acc = acc - 1.0
    return acc


def test_if_on_batched_test_in_for_range():
    x = np.array(
        [[1.0, -2.0, 3.0, 0.5], [-1.0, -1.0, -1.0, -1.0], [2.0, 2.0, 2.0, 2.0], [0.0, 5.0, -5.0, 1.0]]
    )
    check(if_in_for, x)
    check(if_in_for, np.abs(x[:3]) + 1.0)  # every lane, every i: then-branch


def if_in_for_n(s, n):
    out = []
    for i in range(n):
        if s > i:
            v = s - i
        else:
            v = float(i)
        out.append(v)
    return np.array(out)


def test_if_in_for_range_n_builds_list():
    check(if_in_for_n, np.array([-1.0, 0.5, 2.5, 1.5, 9.0]), 3, mapped=[True, False])


# =========================================================================== early return


def piecewise3(s):
    if s < -1.0:
        return -s - 0.5
    if s < 1.0:
        return 0.5 * s * s
    return s - 0.5


@pytest.mark.parametrize(
    "pool",
    [np.array([-3.0, 0.2, 4.0, -0.7, 1.0, -1.0]), POS + 5.0, NEG - 5.0, np.array([-0.5, 0.0, 0.5])],
    ids=["mixed", "right", "left", "middle"],
)
def test_piecewise_three_returns(pool):
    check(piecewise3, pool)


def return_in_nested_if(s, t):
    if s > 0:
        if t > 0:
            return s + t
        y = s - t
    else:
        y = s * t
    return y * 2.0


def test_return_inside_nested_if():
    s = np.array([1.0, 1.0, -1.0, 2.0, -3.0, 0.0])
    t = np.array([1.0, -1.0, 2.0, 0.0, -1.0, 4.0])
    check(return_in_nested_if, s, t)
    check(return_in_nested_if, POS, POS)


def return_different_ranks(x, s):
    if s > 0:
        return x * s
    return x + s


def test_early_return_vectors():
    x = np.arange(8 * 3, dtype=float).reshape(8, 3)
    check(return_different_ranks, x, MIXED)


def return_dtype(k):
    if k > 2:
        return k
    return k * 0.5


@pytest.mark.parametrize("pool", [np.array([0, 5, 1, 7]), np.array([3, 4, 9])], ids=["mixed", "int"])
def test_early_return_dtype(pool):
    check(return_dtype, pool, sizes=[1, 3, 7])


# =========================================================================== while


def newton_sqrt(a):
    x = a
    while abs(x * x - a) > 1e-12 * a:
        x = 0.5 * (x + a / x)
    return x


def test_while_newton_sqrt():
    check(newton_sqrt, np.array([1.0, 2.0, 1e6, 0.01, 9.0, 123.456, 4.0]))
    check(newton_sqrt, np.array([1.0, 4.0, 9.0]))  # no lane iterates more than a step or two


def bisect_cuberoot(a):
    lo = 0.0
    hi = max(a, 1.0)
    while hi - lo > 1e-10:
        mid = 0.5 * (lo + hi)
        if mid * mid * mid > a:
            hi = mid
        else:
            lo = mid
    return 0.5 * (lo + hi)


def test_while_bisection():
    check(bisect_cuberoot, np.array([8.0, 0.5, 27.0, 1000.0, 2.0, 0.001]))


def collatz_steps(n):
    steps = 0
    while n > 1:
        if n % 2 == 0:
            n = n // 2
        else:
            n = 3 * n + 1
        steps += 1
    return steps


def test_while_collatz_int_result():
    pool = np.array([1, 7, 27, 2, 97, 6, 1, 3])
    check(collatz_steps, pool)
    out = vmap(collatz_steps)(pool)
    assert out.dtype.kind == "i"
    np.testing.assert_array_equal(out, [0, 16, 111, 1, 118, 8, 0, 7])


def collatz_peak(n):
    peak = n
    while n != 1:
        n = n // 2 if n % 2 == 0 else 3 * n + 1
        peak = max(peak, n)
    return peak


def test_while_collatz_peak_ternary():
    check(collatz_peak, np.array([1, 7, 27, 2, 97, 6, 3]), sizes=[1, 3, 7])


def fixed_point(a):
    x = 1.0
    it = 0
    err = np.inf
    while err > 1e-12 and it < 50:
        xn = a * np.cos(x)
        err = abs(xn - x)
        x = xn
        it += 1
    return x, it


def test_while_fixed_point_with_cap():
    # a = 2 does not converge (|f'| > 1 at the fixed point): those lanes stop at the cap
    pool = np.array([0.5, 2.0, 1.0, 0.1, 2.0, 0.9])
    check(fixed_point, pool)
    x, it = vmap(fixed_point)(pool)
    assert it.dtype.kind == "i"
    assert it[1] == 50 and it[0] < 50


def while_with_if(x):
    n = 0
    while x > 1.0:
        if x > 10.0:
            x = x / 3.0
        else:
            x = x - 1.0
        n = n + 1
    return x, n


def test_while_body_with_batched_if():
    check(while_with_if, np.array([0.5, 100.0, 5.5, 12.0, 1.0, 1e4]))


def while_vec(x, s):
    k = 0
    while np.sum(x) < s:
        x = x * 2.0
        k += 1
    return x, k


def test_while_carries_vector():
    x = np.array([[1.0, 2.0], [0.5, 0.5], [3.0, 1.0], [0.1, 0.0]])
    s = np.array([10.0, 1.0, 100.0, 50.0])
    check(while_vec, x, s)


def while_no_iter(s):
    while s > 1e9:
        s = s / 2.0
    return s


def test_while_no_lane_enters():
    check(while_no_iter, MIXED)


# =========================================================================== masked lanes never fault


def safe_div(s):
    if s != 0:
        y = 1.0 / s
    else:
        y = 0.0
    return y


def safe_floordiv(k):
    if k != 0:
        y = 100 // k
    else:
        y = -1
    return y


def safe_index(v, i):
    if i < len(v):
        y = v[i]
    else:
        y = -1.0
    return y


def safe_log(s):
    if s > 0:
        y = np.log(s)
    else:
        y = -1.0
    return y


def safe_exp(s):
    if s < 700:
        y = np.exp(s)
    else:
        y = np.inf
    return y


def test_masked_divide_by_zero():
    pool = np.array([0.0, 2.0, -4.0, 0.0, 0.5])
    check(safe_div, pool)
    check_no_warnings(safe_div, pool)


def test_masked_int_floordiv_by_zero():
    pool = np.array([0, 3, -7, 0, 1])
    check(safe_floordiv, pool)
    check_no_warnings(safe_floordiv, pool)


def test_masked_index_out_of_range():
    v = np.arange(7 * 4, dtype=float).reshape(7, 4)
    i = np.array([0, 9, 3, 4, 1, 100, 2])
    check(safe_index, v, i)
    check_no_warnings(safe_index, v, i)
    check(safe_index, v[0], i, mapped=[False, True])


def test_masked_log():
    pool = np.array([-1.0, 2.0, 0.0, 5.0, -3.0])
    check(safe_log, pool)
    check_no_warnings(safe_log, pool)


def test_masked_exp_overflow():
    pool = np.array([800.0, 1.0, 710.0, -5.0, 1e4])
    check(safe_exp, pool)
    check_no_warnings(safe_exp, pool)


def test_masked_while_body_never_faults():
    def halve_log(s):
        n = 0
        while s > 1.0:
            s = np.log(s)  # only lanes with s > 1 take a log
            n += 1
        return s, n

    pool = np.array([-5.0, 1e6, 0.0, 20.0, -1.0])
    check(halve_log, pool)
    check_no_warnings(halve_log, pool)


def test_region_no_lane_enters_is_skipped():
    def never(v, s):
        if s > 100.0:
            y = v[10]  # IndexError for every lane, but no lane comes here
        else:
            y = s
        return y

    v = np.ones((6, 4))
    check(never, v, MIXED[:6])
    check_no_warnings(never, v, MIXED[:6])


def test_region_no_lane_enters_exp():
    pool = np.array([800.0, 900.0, 1e4])
    check(safe_exp, pool)
    check_no_warnings(safe_exp, pool)


def shapes_differ(s):
    if s > 0:
        y = np.zeros(2)
    else:
        y = np.zeros(3)
    return y


def shapes_differ_batched(x, s):
    if s > 0:
        y = x[:2] * s
    else:
        y = x * s
    return y


def test_branch_shapes_differ_raise_when_both_meet():
    with pytest.raises(Exception):
        vmap(shapes_differ)(MIXED)
    x = np.ones((8, 3))
    with pytest.raises(Exception):
        vmap(shapes_differ_batched)(x, MIXED)
    # the oracle agrees (the loop's np.stack raises, so vmap must raise)
    check(shapes_differ, MIXED, sizes=[3, 7])
    check(shapes_differ_batched, x, MIXED, sizes=[3, 7])


def test_branch_shapes_differ_fine_when_all_lanes_agree():
    check(shapes_differ, POS, sizes=[1, 3, 7])
    check(shapes_differ, NEG, sizes=[1, 3, 7])
    assert vmap(shapes_differ)(POS).shape == (len(POS), 2)
    assert vmap(shapes_differ)(NEG).shape == (len(NEG), 3)
    x = np.ones((5, 3))
    assert vmap(shapes_differ_batched)(x, POS).shape == (5, 2)


# =========================================================================== and / or / not, any / all


def in_unit(s):
    if (s > 0) and (s < 1):
        y = 1.0
    else:
        y = 0.0
    return y


def bool_ops(s, t):
    if (s > 0 and t > 0) or not (s < -1):
        y = s + t
    else:
        y = s - t
    return y


def not_test(s):
    if not s > 0:
        return -s
    return s


def and_value(s):
    return (s > 0) and (s < 1)


def test_and_or_not_on_batched_bools():
    check(in_unit, MIXED)
    check(in_unit, np.array([0.25, 0.5, 0.75]))
    check(bool_ops, MIXED, MIXED[::-1].copy())
    check(not_test, MIXED)
    check(and_value, MIXED)


def and_ints(k):
    return k and 5


def or_floats(s):
    return s or 1.5


def test_and_or_python_semantics_on_non_bool():
    # `2 and 5` is 5, `0 and 5` is 0; `0.0 or 1.5` is 1.5, `2.0 or 1.5` is 2.0 (not bitwise & / |)
    check(and_ints, np.array([0, 2, 1, 0, 3]))
    check(or_floats, np.array([0.0, 2.0, -1.0, 0.0]))


def short_circuit_index(v, i):
    if i < len(v) and v[i] > 0:
        y = 1.0
    else:
        y = 0.0
    return y


def test_and_short_circuit_protects_index():
    v = np.array([[1.0, -1.0, 2.0, -2.0]] * 6)
    i = np.array([0, 7, 1, 4, 2, 100])
    check(short_circuit_index, v, i)


def short_circuit_div(s):
    return s != 0 and 1.0 / s > 0.5


def test_and_short_circuit_protects_division():
    pool = np.array([0.0, 1.0, 4.0, 0.0, -1.0])
    check(short_circuit_div, pool)
    check_no_warnings(short_circuit_div, pool)


def any_builtin(x):
    if any(x > 1.0):
        y = np.max(x)
    else:
        y = np.min(x)
    return y


def all_builtin(x):
    if all(x > 0.0):
        return np.sum(x)
    return 0.0


def np_any_test(x):
    if np.any(x < 0.0):
        y = x * 0.0
    else:
        y = x
    return y


def np_all_test(x):
    return 1 if np.all(x > 0.0) else 0


def any_list(s, t):
    if any([s > 1.0, t > 1.0]):
        return s * t
    return s + t


@pytest.mark.parametrize("fn", [any_builtin, all_builtin, np_any_test, np_all_test])
def test_any_all_tests(fn):
    x = np.array([[2.0, 0.5, 0.1], [0.5, 0.5, 0.5], [-1.0, 3.0, 1.0], [0.1, 0.2, 0.3]])
    check(fn, x)
    check(fn, np.abs(x) + 2.0)  # every lane: any/all true


def test_any_of_list_of_batched():
    check(any_list, MIXED, MIXED[::-1].copy())


# =========================================================================== one-branch name: error


def one_branch_only(s):
    if s > 0:
        y = s * 2.0
    return y


def test_name_assigned_on_one_branch_is_an_error():
    with pytest.raises(astvmap.AstvmapError, match="both branches run for every example") as ei:
        vmap(one_branch_only)(MIXED)
    err = ei.value
    assert err.lineno == def_line(one_branch_only, "if s > 0")
    assert os.path.abspath(err.filename) == THIS_FILE
    assert "`y`" in str(err.msg) or " y " in str(err.msg)


def one_branch_else(s):
    if s > 0:
        pass
    else:
        z = -s
    return z + 1.0


def test_name_assigned_in_else_only_is_an_error():
    with pytest.raises(astvmap.AstvmapError, match="both branches run for every example") as ei:
        vmap(one_branch_else)(MIXED)
    assert ei.value.lineno == def_line(one_branch_else, "if s > 0")


def one_branch_unused(s):
    if s > 0:
        tmp = s * 2.0
        s = tmp
    return s


def test_name_assigned_on_one_branch_not_used_after_is_fine():
    check(one_branch_unused, MIXED)


def test_math_in_branches():
    def f(s):
        if s >= 0:
            y = math.sqrt(s)
        else:
            y = -math.sqrt(-s)
        return y

    check(f, MIXED)
    check_no_warnings(f, MIXED)


# =========================================================================== more tests of truth values


def chained(s):
    if 0 < s < 1:
        return s
    return 0.0


def truthy_int(k):
    if k:
        y = 10 // k
    else:
        y = -1
    return y


def truthy_bool(flag, s):
    if flag:
        return s
    return -s


def not_value(k):
    return not k


def and_masks_int_division(k):
    return k and 10 // k


def or_protects_index(v, i):
    return i >= len(v) or v[i] > 0


def test_chained_comparison_test():
    check(chained, MIXED)


def test_truthiness_of_per_example_int_and_bool():
    pool = np.array([0, 3, -2, 0, 5])
    check(truthy_int, pool)
    check_no_warnings(truthy_int, pool)
    check(truthy_bool, np.array([True, False, False, True]), MIXED[:4])
    check(not_value, pool)


def test_and_right_operand_is_masked_for_non_bool():
    pool = np.array([0, 3, -2, 0, 5])
    check(and_masks_int_division, pool)
    check_no_warnings(and_masks_int_division, pool)


def test_or_right_operand_is_masked():
    v = np.array([[1.0, -1.0, 2.0, -2.0]] * 6)
    i = np.array([0, 7, 1, 4, 2, 100])
    check(or_protects_index, v, i)


def ternary_in_while(s):
    n = 0
    while s > 1.0:
        s = s / 2.0 if s > 8.0 else s - 1.0
        n += 1
    return s, n


def test_ternary_in_while():
    check(ternary_in_while, np.array([0.5, 100.0, 5.5, 12.0, 1.0]))


# =========================================================================== more shapes of control flow


def batched_vs_unbatched_vector(x, s):
    if s > 0:
        y = x
    else:
        y = np.zeros(4)
    return y


def test_branch_batched_vs_unbatched_vector_b_equals_n():
    # B == 4 == per-example length: a wrong broadcast of the unbatched branch would go unnoticed by shape
    x = np.arange(8 * 4, dtype=float).reshape(8, 4) + 1.0
    check(batched_vs_unbatched_vector, x, MIXED)
    check(batched_vs_unbatched_vector, x[:4], NEG)


def test_branch_results_with_other_out_axes():
    x = np.arange(8 * 3, dtype=float).reshape(8, 3)
    check(vec_branches, x, MIXED, out_axes=1)
    check(vec_branches, x, MIXED, out_axes=-1)
    check(tuple_branches, MIXED, MIXED[::-1].copy(), out_axes=-1)


def complex_branches(c):
    if c.real > 0:
        y = c * 1j
    else:
        y = np.conj(c)
    return y


def test_complex_branches():
    check(complex_branches, np.array([1 + 2j, -1 + 1j, 2 - 3j, -0.5 - 0.5j]))


def _helper_abs(s):
    if s < 0:
        return -s
    return s


def calls_helper_with_if(s, t):
    if t > 0:
        y = _helper_abs(s) + t
    else:
        y = _helper_abs(t)
    return y


def test_batched_if_calling_helper_with_batched_if():
    check(calls_helper_with_if, MIXED, MIXED[::-1].copy())


def nested_while(n):
    total = 0
    while n > 0:
        m = n
        while m > 0:
            total += m
            m -= 1
        n -= 2
    return total


def test_nested_while():
    pool = np.array([0, 5, 1, 8, 3, 2])
    check(nested_while, pool)
    np.testing.assert_array_equal(vmap(nested_while)(pool), [0, 15 + 6 + 1, 1, 36 + 21 + 10 + 3, 6 + 1, 3])


def first_positive(x):
    for i in range(len(x)):
        if x[i] > 0:
            return i
    return -1


def test_early_return_inside_for_loop():
    x = np.array([[-1.0, 2.0, 3.0], [-1.0, -2.0, -3.0], [4.0, -1.0, 0.0], [0.0, 0.0, 5.0]])
    check(first_positive, x)


# --------------------------------------------------------------------------- containers chosen per lane
# The rewrite keeps a batched tuple or list as a container of batched parts; selecting and merging one per
# lane must give that form whether the lanes split or all take one side (a list selected into one (B, n)
# array was then stacked as (n, B), silently).


def list_chosen_per_lane(x):
    if x[0] > 0:
        r = [1.0, 2.0]
    else:
        r = [3.0, 4.0]
    return np.array(r)


def list_partitioned(x):
    if x[0] > 0:  # astvmap: partition
        r = [1.0, 2.0]
    else:
        r = [3.0, 4.0]
    return np.array(r) + x[:2]


def tuple_partitioned(x):
    if x[0] > 0:  # astvmap: partition
        r = (1.0, 2.0)
    else:
        r = (x[1], x[2])
    return np.array(r)


def partitioned_pair_summed(x):
    if x[0] > 100:  # astvmap: partition
        r = [x[0], 2.0]
    else:
        r = [1.0, 3.0]
    return r[0] + r[1]


MIXED_X3 = np.array([[1.0, 5.0, 8.0], [-2.0, 6.0, 9.0], [3.0, -7.0, 10.0], [-4.0, 2.0, -1.0]])


@pytest.mark.parametrize(
    "f", [list_chosen_per_lane, list_partitioned, tuple_partitioned, partitioned_pair_summed]
)
@pytest.mark.parametrize("flavour", ["mixed", "then", "else"])
def test_containers_chosen_per_lane(f, flavour):
    x = {"mixed": MIXED_X3, "then": np.abs(MIXED_X3), "else": -np.abs(MIXED_X3)}[flavour]
    for B in (1, 2, 3, 4):
        xs = x[:B]
        np.testing.assert_array_equal(vmap(f)(xs), np.stack([f(e) for e in xs]))


_SIDES = {"const": "{o}1.0, 2.0{c}", "batched": "{o}x[1], x[2]{c}", "mixed": "{o}x[1], 2.0{c}"}
_USES = {"array": "np.array(r)", "sum": "r[0] + r[1]", "itself": "r"}


def _container_programs():
    """Every combination of container (a tuple on one side and a list on the other too), what each side
    holds, select or partition, and how the result is used: a small generator of the programs the rule
    above covers."""
    brackets = {"list": "[]", "tuple": "()"}
    for kind_a, kind_b in (("list", "list"), ("tuple", "tuple"), ("tuple", "list")):
        (oa, ca), (ob, cb) = brackets[kind_a], brackets[kind_b]
        for a in _SIDES:
            for b in _SIDES:
                for directive in ("", "  # astvmap: partition"):
                    for use in _USES:
                        if use == "itself" and kind_a != kind_b:
                            continue  # (the loop's results are of two types: nothing to stack)
                        yield (
                            f"def f(x):\n    if x[0] > 0:{directive}\n        r = {_SIDES[a].format(o=oa, c=ca)}\n"
                            f"    else:\n        r = {_SIDES[b].format(o=ob, c=cb)}\n    return {_USES[use]}\n"
                        )


@pytest.mark.parametrize("src", list(_container_programs()))
def test_generated_containers_chosen_per_lane(src, tmp_path):
    path = tmp_path / "prog.py"
    path.write_text("import numpy as np\n\n" + src)
    namespace: dict = {}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    import linecache

    linecache.checkcache(str(path))
    f = namespace["f"]
    for x in (MIXED_X3, np.abs(MIXED_X3), -np.abs(MIXED_X3)):
        for B in (1, 3, 4):
            xs = x[:B]
            want = [f(e) for e in xs]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", astvmap.PerformanceWarning)
                got = vmap(f)(xs)
            if isinstance(want[0], (list, tuple)):
                assert type(got) is type(want[0]) and len(got) == len(want[0])
                for k, part in enumerate(got):
                    np.testing.assert_array_equal(part, np.stack([w[k] for w in want]))
            else:
                np.testing.assert_array_equal(got, np.stack(want))
