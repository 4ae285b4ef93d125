"""The fused Numba lowering (`backends/numba_fuse.py`, run by `numba_plan.FusedPlan`) against the loop oracle.

Every case compares `astvmap.vmap(f, in_axes, jit={"strategy": "loop"})(*args)` with
`np.stack([f(*example_b) for b in range(B)])` (tests/oracle.py `loop_vmap`): same shape, dtype and values
(allclose, NaNs equal), or, when the loop raises for some example, the same exception type. Where the
lowering is documented to apply (float64 arrays of rank <= 2, the constructs listed in numba_fuse's
docstring) the tests also assert `v.fused`, so they fail if the lowering silently stops applying.

Raising cases first call the vmapped function on good data (the fused plan is built and checked), then on
data where some example raises: the compiled code must mark that example and re-run it in Python.

Tests marked with `bug(...)` (`xfail(strict=True)`) record bugs found here, the reason saying what goes
wrong; they are expected to fail until the bug is fixed, and then fail the suite until the mark is removed.
"""

import pytest

numba = pytest.importorskip("numba")

import math
import warnings

import numpy as np
from oracle import loop_vmap

import astvmap

LOOP = {"strategy": "loop"}
BATCHES = (1, 3, 7)
WRONG = (AssertionError, pytest.fail.Exception)  # how a differing result or a missing exception fails

_g = np.random.default_rng(1234)
GV = _g.normal(size=3)  # globals read by the functions below
GM = _g.normal(size=(3, 2))
GSCALE = 1.5
GSWAP = _g.normal(size=(4, 2))  # rebound by test_global_changing_shape


pytestmark = pytest.mark.usefixtures("numba_cache_dir")  # conftest.py: compiled code kept between runs


# ---- helpers ---------------------------------------------------------------------------------------------
def bug(reason, raises=WRONG):
    """A known bug: the test fails, with one of `raises`, until it is fixed."""
    return pytest.mark.xfail(strict=True, raises=raises, reason=reason)


def oracle(f, args, in_axes=0):
    """(stacked loop result, None) or (None, the exception the loop raised)."""
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return loop_vmap(f, in_axes, 0, list(args)), None
    except Exception as e:
        return None, e


def assert_same(got, want):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, f"shape {got.shape} != loop's {want.shape}"
    assert got.dtype == want.dtype, f"dtype {got.dtype} != loop's {want.dtype}"
    assert np.allclose(got, want, rtol=1e-9, atol=1e-12, equal_nan=True), f"values differ:\n{got}\n{want}"


def jit(f, in_axes=0):
    return astvmap.vmap(f, in_axes, jit=LOOP)


def check(f, args, in_axes=0, *, fused=True, v=None, allow_fallback=False):
    """The jit call equals the loop (or raises the loop's exception type); returns the vmapped function.
    `fused`: True asserts the lowering ran (and no fallback warning), False that it did not, None either."""
    want, err = oracle(f, args, in_axes)
    v = jit(f, in_axes) if v is None else v
    with warnings.catch_warnings(record=True) as rec, np.errstate(all="ignore"):
        warnings.simplefilter("always")
        if err is not None:
            with pytest.raises(Exception) as got:
                v(*args)
            assert type(got.value) is type(err), f"loop raises {err!r}, jit raised {got.value!r}"
            return v
        got = v(*args)
    assert_same(got, want)
    # the NumPy transform's own notes (a per-example loop in the batched code) are not fallbacks of the jit
    perf = [
        w
        for w in rec
        if issubclass(w.category, astvmap.PerformanceWarning) and "jit fell back" in str(w.message)
    ]
    if fused:
        assert v.strategy == "loop" and v.fused, f"the fused lowering did not run (strategy {v.strategy})"
        if not allow_fallback:
            assert not perf, perf[0].message
    elif fused is False:
        assert not v.fused
    return v


def check_raises(f, good, bad, in_axes=0, fused=True):
    """Good data runs fused; then bad data (the loop raises for some example) raises the same type, from
    the compiled loop's re-run of the failing example in Python (its note says so)."""
    v = check(f, good, in_axes, fused=fused)
    want, err = oracle(f, bad, in_axes)
    assert err is not None, f"the loop does not raise on the bad data ({want})"
    with pytest.raises(Exception) as got, np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        v(*bad)
    assert type(got.value) is type(err), f"loop raises {err!r}, jit raised {got.value!r}"
    assert any("re-run in Python" in n for n in getattr(got.value, "__notes__", ())), got.value


def batch(rng, B, *shapes, nan=False):
    """One float64 array per per-example shape, batch axis first; `nan` sprinkles NaNs."""
    out = []
    for shape in shapes:
        a = rng.normal(size=(B,) + tuple(shape))
        if nan and a.size:
            a.flat[rng.integers(0, a.size, size=max(1, a.size // 5))] = np.nan
        out.append(a)
    return out


# ---- element-wise ----------------------------------------------------------------------------------------
def ew_arith(x, y):
    return (x * 2.0 - y) / (1.0 + y * y) + 3 - x**2 + (x // 0.75) - (y % 0.5)


def ew_unary(x):
    return (
        np.abs(x) + np.sqrt(np.abs(x)) + np.square(x) - np.negative(x) + np.floor(x) * np.sign(x) - np.fabs(x)
    )


def ew_transcendental(x):
    return np.tanh(x) + np.exp(-np.abs(x)) * np.log1p(np.abs(x))  # staged (NumPy on the batch)


def ew_minmax(x, y):
    return np.maximum(x, y) - np.minimum(x, 0.25) + np.fmax(x, y) * np.fmin(y, 0.0)


def ew_where(x, y):
    return np.where(x > y, x - y, np.where(y > 0.5, y, -1.0))


def ew_compare(x, y):
    return x >= y


def ew_compare_scalar(x):
    return -x < 0.5


def ew_scalar_mix(x, c):
    return c * x + c / 2.0 - x / (c * c + 1.0) + 2 * x - 1


ELEMENTWISE = [  # (function, number of array arguments, per-example shape)
    (ew_arith, 2, (2, 3)),
    (ew_unary, 1, (2, 3)),
    (ew_transcendental, 1, (3, 2)),
    (ew_minmax, 2, (4,)),
    (ew_where, 2, (2, 3)),
    (ew_compare, 2, (4,)),
    (ew_compare_scalar, 1, (2, 3)),
]


@pytest.mark.parametrize("B", BATCHES)
@pytest.mark.parametrize("f, n, shape", ELEMENTWISE, ids=[f"{f.__name__}-{s}" for f, _, s in ELEMENTWISE])
def test_elementwise(f, n, shape, B):
    rng = np.random.default_rng(B)
    check(f, batch(rng, B, *[shape] * n, nan=f in (ew_minmax, ew_where, ew_compare)))


@pytest.mark.parametrize("B", BATCHES)
def test_scalars_mixed_with_arrays(B):
    rng = np.random.default_rng(B)
    x, c = batch(rng, B, (3,), ())
    check(ew_scalar_mix, (x, c))  # a per-example scalar
    check(ew_scalar_mix, (x, 2.5), in_axes=(0, None))  # a Python float
    check(ew_scalar_mix, (x, np.int64(-2)), in_axes=(0, None))  # an int


def bc_add(a, b):
    return a + b * 2.0


BROADCASTS = [  # (shape of a, shape of b, b shared by every example)
    ((2, 3), (3,), True),
    ((3, 1), (1, 4), False),
    ((1, 3), (2, 1), True),
    ((4,), (1,), False),
    ((2, 1), (3,), False),
    ((1, 1), (3,), False),
]


@pytest.mark.parametrize("sa, sb, shared", BROADCASTS, ids=[f"{a}+{b}" for a, b, _ in BROADCASTS])
def test_broadcasting(sa, sb, shared):
    rng = np.random.default_rng(len(sa) * 10 + len(sb))
    a, b = batch(rng, 3, sa, sb)
    check(bc_add, (a, b))
    check(bc_add, (a[:1], b[:1]))  # B = 1
    if shared:
        check(bc_add, (a, b[0]), in_axes=(0, None))


# ---- contractions ----------------------------------------------------------------------------------------
def dot_fn(a, b):
    return np.dot(a, b)


def matmul_fn(a, b):
    return a @ b


def matmul_t(a, b):
    return a.T @ b.T


def dot_global_vec(a):
    return np.dot(a, GV)


def dot_global_mat(a):
    return a @ GM


def dot_global_left(a):
    return GM.T @ a


RANKS = {(1, 1): ((3,), (3,)), (1, 2): ((3,), (3, 2)), (2, 1): ((2, 3), (3,)), (2, 2): ((2, 3), (3, 4))}


DOT_CASES = [(r, "both") for r in RANKS] + [((2, 1), "left-none"), ((1, 2), "right-none")]


@pytest.mark.parametrize("ranks, mode", DOT_CASES, ids=[f"{a}x{b}-{m}" for (a, b), m in DOT_CASES])
def test_dot_ranks(ranks, mode):
    rng = np.random.default_rng(sum(ranks))
    sa, sb = RANKS[ranks]
    a, b = batch(rng, 3, sa, sb)
    in_axes = {"both": 0, "left-none": (None, 0), "right-none": (0, None)}[mode]
    if mode == "left-none":
        a = a[0]
    elif mode == "right-none":
        b = b[0]
    check(dot_fn if mode != "left-none" else matmul_fn, (a, b), in_axes)


@pytest.mark.parametrize("B", BATCHES)
def test_dot_transposes_and_globals(B):
    rng = np.random.default_rng(B)
    a, b = batch(rng, B, (3, 2), (4, 3))
    check(matmul_t, (a, b))  # (2,3) @ (3,4)
    x, m = batch(rng, B, (3,), (3, 5))
    check(dot_global_vec, (m.transpose(0, 2, 1),))  # (5,3) @ (3,)
    check(dot_global_mat, (x,))  # (3,) @ (3,2)
    check(dot_global_left, (m,))  # (2,3) @ (3,5)


def test_dot_mismatched_sizes_raise_like_python():
    rng = np.random.default_rng(0)
    a, b = batch(rng, 3, (3,), (4,))
    check(dot_fn, (a, b), fused=None)  # every example raises ValueError


# ---- reductions ------------------------------------------------------------------------------------------
def reductions(x):
    return (
        np.sum(x) + np.max(x) - np.min(x) + np.mean(x) * np.prod(x) + x.sum() - x.max() + x.min() * x.mean()
    )


def red_max(x):
    return np.max(x)


def red_min_method(x):
    return x.min()


def red_bool(x):
    return np.sum(x > 0.0) + np.mean(x < 0.5)


def red_of_product(x, y):
    return np.sum(x * y) / (1.0 + np.max(np.abs(x - y)))


@pytest.mark.parametrize("shape", [(5,), (2, 3), (1, 1)], ids=str)
@pytest.mark.parametrize("B", BATCHES)
def test_reductions(B, shape):
    rng = np.random.default_rng(B)
    x, y = batch(rng, B, shape, shape)
    check(reductions, (x,))
    if shape != (1, 1):
        check(red_bool, (x,))
        check(red_of_product, (x, y))


@pytest.mark.parametrize("where", ["first", "middle", "last", "all"])
def test_max_min_propagate_nan(where):
    x = np.random.default_rng(0).normal(size=(4, 2, 3))
    pos = {"first": (0, 0), "middle": (1, 1), "last": (1, 2), "all": (slice(None), slice(None))}[where]
    x[(slice(1, 3),) + pos] = np.nan  # examples 1, 2 have NaNs, 0 and 3 not
    check(red_max, (x,))
    check(red_min_method, (x,))


def test_reductions_of_empty_arrays():
    check(reductions, (np.zeros((3, 0)),), fused=None)  # max of empty: ValueError for every example
    check(red_bool, (np.zeros((3, 0)),), fused=None)  # sum 0, mean NaN


def red_tail_max(x, k):
    return np.max(x[int(k) :])


def red_tail_sum_mean(x, k):
    return np.sum(x[int(k) :]) + np.prod(x[int(k) :]) + np.mean(x[int(k) :] * 0.0 + 1.0)


def test_reductions_of_data_dependent_empty_slices():
    x = np.random.default_rng(0).normal(size=(3, 4))
    check(red_tail_sum_mean, (x, np.array([0.0, 4.0, 9.0])))  # empty slices: sum 0, prod 1, mean NaN
    check_raises(red_tail_max, (x, np.array([0.0, 1.0, 3.0])), (x, np.array([0.0, 4.0, 1.0])))


# ---- indexing and slicing --------------------------------------------------------------------------------
def idx_data(x, k):
    return x[int(k)] * 2.0


def idx_int(x, k):
    return x[k] - x[-1] + x[0]


def idx_negative(x):
    return x[-1] + 2.0 * x[-4] - x[1]


def idx_const_out_of_range(x):
    return x[4] + x[0]


def idx_rows_cols(m, i, j):
    return m[int(i), :] * 2.0 + m[:, int(j)] - m[int(i)]


def idx_element(m, i, j):
    return m[int(i), int(j)] + m[-1, -1]


def slices(x):
    return (
        np.sum(x[1:])
        + np.sum(x[:-1]) * 2.0
        + np.sum(x[-3:-1])
        + np.sum(x[-10:10])
        + np.sum(x[3:1])
        + np.sum(x[5:])
        + np.sum(x[:-9])
    )


def slice_array(x):
    return x[1:-1] * 2.0 + x[:-2] - x[2:]


def slice_data(x, a, b):
    return np.sum(x[int(a) : int(b)]) * 10.0 + np.sum(x[int(a) :]) - np.sum(x[: int(b)])


def slice_2d(m):
    return m[1:, :-1] - m[:-1, 1:]


def test_integer_indexing():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 4))
    check(idx_negative, (x,))
    check(idx_data, (x, np.array([0.0, -1.0, 3.7])))
    check(idx_int, (x, np.array([0, -4, 3])))
    check(idx_int, (x, np.array([1, 2, 3], dtype=np.int32)))
    check(idx_const_out_of_range, (x,), fused=None)  # IndexError for every example


@pytest.mark.parametrize("bad", [4.0, -5.0, 100.0])
def test_index_out_of_range_from_data_raises(bad):
    x = np.random.default_rng(0).normal(size=(3, 4))
    check_raises(idx_data, (x, np.array([0.0, 1.0, 2.0])), (x, np.array([0.0, bad, 1.0])))


@pytest.mark.parametrize("bad", [4, -5])
def test_int_index_out_of_range_raises(bad):
    x = np.random.default_rng(0).normal(size=(3, 4))
    check_raises(idx_int, (x, np.array([0, 1, 2])), (x, np.array([1, 2, bad])))


def test_two_dimensional_indexing():
    rng = np.random.default_rng(0)
    m = rng.normal(size=(3, 3, 3))
    check(idx_rows_cols, (m, np.array([0.0, -1.0, 2.0]), np.array([1.0, 2.0, -3.0])))
    check(idx_element, (m, np.array([0.0, -1.0, 2.0]), np.array([1.0, 2.0, -3.0])))
    check(slice_2d, (rng.normal(size=(3, 2, 4)),))
    check_raises(idx_rows_cols, (m, np.zeros(3), np.zeros(3)), (m, np.array([0.0, 3.0, 1.0]), np.zeros(3)))
    check_raises(idx_element, (m, np.zeros(3), np.zeros(3)), (m, np.zeros(3), np.array([0.0, -4.0, 1.0])))


@pytest.mark.parametrize("n", [3, 6])
def test_static_slices(n):
    x = np.random.default_rng(n).normal(size=(3, n))
    check(slices, (x,))
    if n > 3:
        check(slice_array, (x,))


def test_data_dependent_slices():
    x = np.random.default_rng(0).normal(size=(7, 5))
    a = np.array([0.0, -2.0, 3.0, 9.0, -9.0, 4.0, 1.0])
    b = np.array([5.0, -1.0, 1.0, 2.0, 2.0, -9.0, 9.0])
    check(slice_data, (x, a, b))  # negative, clamped and empty bounds


# ---- loops filling a list --------------------------------------------------------------------------------
def convolve(x, w):
    out = []
    for i in range(1, len(x) - 1):
        out.append(np.dot(x[i - 1 : i + 2], w))
    return np.array(out)


def window_sums(x):
    out = []
    for i in range(len(x)):
        out.append(np.sum(x[i - 1 : i + 2]))  # x[-1:2] is empty at i = 0
    return np.array(out)


def strided_list(x):
    out = []
    for i in range(len(x) - 1, -1, -2):
        out.append(x[i] * i)
    return np.array(out)


def list_then_reduce(x, k):
    acc = []
    for i in range(int(k)):
        acc.append(x[i] * x[i])
    return np.sum(acc) + x[0]


def ragged_list(x, n):
    out = []
    for i in range(int(n)):
        out.append(x[i])
    return np.array(out)


@pytest.mark.parametrize("B", BATCHES)
def test_list_building_loops(B):
    rng = np.random.default_rng(B)
    x, w = batch(rng, B, (6,), (3,))
    check(convolve, (x, w))
    check(convolve, (x, w[0]), in_axes=(0, None))
    check(window_sums, (x,))
    check(window_sums, (x[:, :1],))
    check(strided_list, (x,))


def test_list_of_data_dependent_length_reduced():
    x = np.random.default_rng(0).normal(size=(4, 5))
    check(list_then_reduce, (x, np.array([2.0, 0.0, 5.0, 3.0])))
    check_raises(list_then_reduce, (x, np.array([2.0, 0.0, 5.0, 3.0])), (x, np.array([2.0, 6.0, 1.0, 1.0])))


def test_returned_list_of_data_dependent_length():
    x = np.random.default_rng(0).normal(size=(3, 5))
    v = check(ragged_list, (x, np.array([2.0, 2.0, 2.0])))  # same length everywhere: fused
    check(ragged_list, (x, np.array([3.0, 3.0, 3.0])), v=v, fused=None)  # another length than the plan's
    check(ragged_list, (x, np.array([2.0, 3.0, 2.0])), v=v, fused=None)  # ragged: the loop cannot stack
    check(ragged_list, (x, np.array([2.0, 0.0, 2.0])), v=v, fused=None)
    check(ragged_list, (x, np.array([2.0, 6.0, 2.0])), v=v, fused=None)  # IndexError in the loop


def list_in_if(x):
    out = []
    if x[0] > 0:
        for i in range(3):
            out.append(x[i])
    return np.array(out)


def list_in_while(x, n):
    out = []
    j = 0
    while j < int(n):
        for i in range(3):
            out.append(x[i])
        j += 1
    return np.array(out)


def test_returned_list_filled_under_if_or_while():
    # an example that skips the loop (or runs it twice) returns another length: the loop cannot stack, and
    # the jit call must not return a row left unwritten (or overwritten); bc080e6 fixed both
    x = np.array([[1.0, 2.0, 3.0], [-1.0, 2.0, 3.0], [3.0, 4.0, 5.0]])
    check(list_in_if, (x,), fused=None)
    check(list_in_if, (np.abs(x),), fused=None)
    check(list_in_while, (x, np.array([1.0, 2.0, 1.0])), fused=None)
    check(list_in_while, (x, np.array([1.0, 1.0, 1.0])), fused=None)


# ---- named temporaries and inlining ----------------------------------------------------------------------
def temps(x, y):
    d = x - y  # used twice: computed once
    s = d * d  # used twice
    t = np.sum(s)
    u = s / (t + 1.0)  # used once: inlined
    return u + d


def temp_in_loop(x):
    d = x * 2.0
    acc = 0.0
    for i in range(len(x)):
        acc += np.dot(d, x) * i + d[i]
    return acc + np.sum(d)


def temp_defined_in_loop(x):
    for i in range(1, 3):
        y = x[i:] * float(i)
    return np.sum(y) + y[0]


def reassigned_scalar(x, c):
    y = x * c
    c = 5.0
    return y + c


def reassigned_from_array(x):
    c = x[0]
    y = x + c
    c = c * 10.0
    z = y - c
    return z


def reassigned_in_loop(x):
    c = 1.0
    y = x * c
    while c < 4.0:
        c = c * 2.0
    return y - c


def loop_var_reused(x):
    i = 2
    y = x * i
    for i in range(3):
        pass
    return y + i


def item_writes(x):
    y = x * 2.0
    y[0] = -1.0
    y[-1] += y[1]
    for i in range(1, len(x) - 1):
        y[i] = y[i] * y[i - 1]
    return y + 0.5


def item_writes_2d(m):
    y = m * 1.0
    y[0, -1] = 7.0
    y[-1, 0] -= 1.0
    return y.T * 2.0


def item_write_index(x, k):
    y = x + 1.0
    y[int(k)] = 0.0
    return y * y


def zeros_and_empty(x):
    y = np.zeros(len(x))
    z = np.empty(len(x))
    for i in range(len(x)):
        y[i] = x[i] * i
        z[i] = y[i] + 1.0
    return y - z


@pytest.mark.parametrize("B", BATCHES)
def test_named_temporaries(B):
    rng = np.random.default_rng(B)
    x, y, c = batch(rng, B, (4,), (4,), ())
    check(temps, (x, y))
    check(temp_in_loop, (x,))
    check(temp_defined_in_loop, (x,))
    check(reassigned_scalar, (x, c))
    check(reassigned_from_array, (x,))
    check(reassigned_in_loop, (x,))
    check(loop_var_reused, (x,))


@pytest.mark.parametrize("B", BATCHES)
def test_item_writes(B):
    rng = np.random.default_rng(B)
    x, m = batch(rng, B, (5,), (2, 3))
    # item writes are left to the plain loop (the lowering's views would not alias the written array)
    check(item_writes, (x,), fused=False)
    check(item_writes_2d, (m,), fused=False)
    check(item_write_index, (x, np.arange(B) % 5 - 2.0), fused=False)
    check(zeros_and_empty, (x,), fused=None)  # np.zeros/np.empty are outside the lowering


def test_item_write_out_of_range_raises():
    x = np.random.default_rng(0).normal(size=(3, 5))
    check_raises(
        item_write_index, (x, np.array([0.0, 1.0, -5.0])), (x, np.array([0.0, 5.0, 1.0])), fused=False
    )


def write_via_alias(x):
    y = x * 2.0
    a = y
    b = y + 0.0
    if x[0] > 0:
        a[0] = 9.0
    return b


def write_after_view(x):
    y = x * 2.0
    z = y[1:]
    if x[0] > 0:
        y[1] = 100.0
    return z + 0.0


def write_into_view(x):
    y = x * 2.0
    z = y[1:]
    if x[0] > 0:
        z[0] = 100.0
    return y + z[0]


def write_after_full_view(x):
    y = x * 2.0
    z = y[:]
    if x[0] > 0:
        y[0] = 100.0
    return z * 1.0


ALIASING_X = np.array([[-1.0, 2.0, 3.0, 4.0], [1.0, -2.0, 3.0, 4.0], [2.0, 3.0, -1.0, 0.5]])


def test_write_through_alias_after_use():
    # `a = y; b = y + 0.0; a[0] = 9.0; return b`: b was inlined and saw the write made through a
    check(write_via_alias, (ALIASING_X,), fused=False)


@pytest.mark.parametrize(
    "f", [write_after_view, write_into_view, write_after_full_view], ids=lambda f: f.__name__
)
def test_writes_and_slice_views(f):
    # basic slices are views in NumPy; the lowering copied `z = y[1:]`, so writes were not shared
    check(f, (ALIASING_X,), fused=False)


# ---- tuple parameters, globals ---------------------------------------------------------------------------
def predict(params, x):
    w, b = params
    return np.dot(w, x) + b


def predict_scaled(params, x):
    w, b = params
    return (w @ x + b) * GSCALE


@pytest.mark.parametrize("B", BATCHES)
def test_tuple_parameters(B):
    rng = np.random.default_rng(B)
    w, b = rng.normal(size=(2, 4)), rng.normal(size=2)
    (x,) = batch(rng, B, (4,))
    check(predict, ((w, b), x), in_axes=(None, 0))
    check(predict, ((w, b), x), in_axes=((None, None), 0))
    check(predict, ((w, b[None].repeat(B, 0)), x), in_axes=((None, 0), 0))
    check(predict, ((w[None].repeat(B, 0), b[None].repeat(B, 0)), x), in_axes=0)
    check(predict_scaled, ((w, b), x), in_axes=(None, 0))


def test_globals_are_read_on_every_call(monkeypatch):
    x = np.random.default_rng(0).normal(size=(3, 3))
    monkeypatch.setitem(globals(), "GM", GM.copy())
    v = check(dot_global_mat, (x,))
    GM[...] = GM * 2.0 + 1.0  # changed in place
    check(dot_global_mat, (x,), v=v)
    monkeypatch.setitem(globals(), "GM", GM[::-1].copy())  # rebound, same shape
    check(dot_global_mat, (x,), v=v)
    params = (np.ones((2, 3)), GV[:2])
    v = check(predict_scaled, (params, x), in_axes=(None, 0))
    monkeypatch.setitem(globals(), "GSCALE", -3.0)
    check(predict_scaled, (params, x), in_axes=(None, 0), v=v)
    monkeypatch.setitem(globals(), "GSCALE", 2)  # an int now
    check(predict_scaled, (params, x), in_axes=(None, 0), v=v)


def dot_swap(a):
    return a @ GSWAP


GPARAMS = (_g.normal(size=(2, 3)), _g.normal(size=2))


def predict_global_tuple(x):
    w, b = GPARAMS
    return w @ x + b


@pytest.mark.parametrize("shape", [(4, 5), (5, 2)], ids=str)
def test_global_changing_shape(monkeypatch, shape):
    x = np.random.default_rng(0).normal(size=(3, 4))
    v = check(dot_swap, (x,))
    monkeypatch.setitem(globals(), "GSWAP", np.random.default_rng(1).normal(size=shape))
    check(dot_swap, (x,), v=v, fused=None)


def test_global_tuple_changing_shape(monkeypatch):
    x = np.random.default_rng(0).normal(size=(3, 3))
    v = check(predict_global_tuple, (x,))
    rng = np.random.default_rng(1)
    monkeypatch.setitem(globals(), "GPARAMS", (rng.normal(size=(4, 3)), rng.normal(size=4)))
    check(predict_global_tuple, (x,), v=v, fused=None)


# ---- a large batch (prange threads), strided and read-only inputs ------------------------------------------
def test_large_batch_and_strided_inputs():
    rng = np.random.default_rng(0)
    x, y, w = batch(rng, 500, (4,), (4,), (3,))
    check(temps, (x, y))
    x.flags.writeable = False
    check(temps, (x, y[::-1]))
    x6 = rng.normal(size=(6, 500)).T  # per-example rows with a stride
    check(convolve, (x6[::-1], w))


# ---- dtypes outside the lowering -------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.int64])
def test_other_dtypes_are_not_fused_but_correct(dtype):
    rng = np.random.default_rng(0)
    x, y = (a * 4 for a in batch(rng, 3, (4,), (4,)))
    check(temps, (x.astype(dtype), y.astype(dtype)), fused=False)


# ---- scalar per-example functions with if / while / assert -----------------------------------------------
def newton(a):
    assert a > 0
    x = a
    n = 0
    while abs(x * x - a) > 1e-12 * a and n < 100:
        x = 0.5 * (x + a / x)
        n += 1
    return x


def piecewise(x, y):
    if x > 1.0:
        r = x * y
    elif x < -1.0:
        r = -y
    else:
        r = x + 0.5 * y
    return r if r > 0 else r * r


def counter(x):
    k = 0
    s = 0.0
    while s < x[0] and k < 50:
        s += abs(x[1]) + 0.1
        k += 1
    return k


def shapes_as_scalars(x):
    return x.shape[0] * 1.0 + len(x) + x.size + x.ndim + x.shape[1]


def array_early_return(x):
    if np.sum(x) > 0:
        return x * 2.0
    for i in range(len(x)):
        if x[i] > 0.5:
            return x - x[i]
    return -x


@pytest.mark.parametrize("B", BATCHES)
def test_scalar_functions_with_control_flow(B):
    rng = np.random.default_rng(B)
    a = rng.uniform(0.1, 50.0, size=B)
    x, y = batch(rng, B, (), ())
    check(newton, (a,))
    check(piecewise, (x * 2, y))
    (v2,) = batch(rng, B, (2,))
    check(counter, (v2 * 3,))
    check(shapes_as_scalars, (rng.normal(size=(B, 2, 3)),))
    check(array_early_return, (rng.normal(size=(B, 4)),))


def test_assert_failing_in_some_example_raises():
    check_raises(newton, (np.array([1.0, 2.0, 3.0]),), (np.array([1.0, -2.0, 3.0]),))


# ---- values Python computes lazily -----------------------------------------------------------------------
def eager_ifexp(x, k):
    return x[int(k)] if k < 3 else -1.0


def short_circuit(x, k):
    if k >= 4 or np.max(x[int(k) :]) > 0:
        return 1.0
    return 0.0


def broadcast_data_dependent(x, k, y):
    return np.sum(x[: int(k)] + y)


def test_lazily_evaluated_values_stay_correct():
    # the lowering evaluates both sides eagerly; an example failing where Python does not must not be a
    # wrong result or an error (the call may fall back to the NumPy code)
    x = np.random.default_rng(0).normal(size=(3, 4))
    check(eager_ifexp, (x, np.array([0.0, 5.0, 1.0])), fused=None, allow_fallback=True)
    check(short_circuit, (x, np.array([0.0, 5.0, 1.0])), fused=None, allow_fallback=True)
    check(
        broadcast_data_dependent,
        (x, np.array([3.0, 1.0, 3.0]), np.ones((3, 3))),
        fused=None,
        allow_fallback=True,
    )


# ---- result types, staging, exceptions inside the driver, Numba's scalar semantics -----------------------
def int_or_float(x):
    return 1 if x[0] > 0 else 0.5


def bool_or_float(x):
    return x[0] > 0 and x[1]


def list_int_or_float(x):
    out = []
    for i in range(3):
        out.append(i if x[i] > 0 else x[i])
    return np.array(out)


TYPE_X = np.array([[1.0, 2.0, 3.0], [-1.0, 2.5, 3.0], [1.0, -2.5, 3.0]])
TYPE_CASES = [  # (function, a batch where every example returns floats, one where none does)
    (int_or_float, -np.abs(TYPE_X), np.abs(TYPE_X)),
    (bool_or_float, np.abs(TYPE_X), -np.abs(TYPE_X)),
    (list_int_or_float, -np.abs(TYPE_X), np.abs(TYPE_X)),
]


@pytest.mark.parametrize("f, floats, others", TYPE_CASES, ids=[f.__name__ for f, _, _ in TYPE_CASES])
def test_result_type_depends_on_values(f, floats, others):
    # example 0 returns an int (a bool), later ones a float: the loop stacks to float64; the fused output
    # took example 0's dtype and truncated 0.5 to 0 before bc080e6
    check(f, (TYPE_X,), fused=None)
    v = check(f, (others,), fused=None)
    check(f, (floats,), v=v, fused=None)


@pytest.mark.parametrize("f, floats, others", TYPE_CASES, ids=[f.__name__ for f, _, _ in TYPE_CASES])
def test_result_type_across_calls(f, floats, others):
    v = check(f, (floats,), fused=None)
    check(f, (others,), v=v, fused=None)


def staged_log_in_branch(x):
    if x[0] > 0:
        return np.sum(np.log(x))
    return -1.0


def test_staged_ufunc_runs_only_where_python_does():
    x = np.array([[1.0, 2.0, 3.0], [-1.0, 0.0, 0.0], [2.0, 3.0, 4.0]])
    want = oracle(staged_log_in_branch, (x,))[0]
    v = jit(staged_log_in_branch)
    with np.errstate(divide="raise", invalid="raise"), warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        np.stack([staged_log_in_branch(r) for r in x])  # the loop: no warning, no error
        got = v(x)
    assert_same(got, want)
    assert v.fused


def range_step_from_data(x, k):
    s = 0.0
    for i in range(0, 3, int(k)):
        s += x[i]
    return s


def reciprocal_power(x):
    return x**-1 + x[0] ** -2


UNGUARDED = [  # (function, good arguments, arguments making Numba raise in some example)
    (
        range_step_from_data,
        (np.ones((3, 4)), np.array([1.0, 2.0, 1.0])),
        (np.ones((3, 4)), np.array([1.0, 0.0, 2.0])),
    ),
    (reciprocal_power, (np.ones((3, 2)),), (np.array([[1.0, 2.0], [0.0, 1.0], [2.0, 0.0]]),)),
]


@pytest.mark.parametrize("f, good, bad", UNGUARDED, ids=[f.__name__ for f, _, _ in UNGUARDED])
def test_numba_exceptions_inside_the_fused_driver(f, good, bad):
    v = check(f, good)
    check(f, bad, v=v, fused=None)


# Numba's scalar semantics (error_model="numpy", 64-bit ints) where Python raises or differs. The plain
# (unfused) loop shares these; they are recorded here because the fused path gives the wrong result too.
def math_domain(x):
    return math.sqrt(x[0]) + math.log(x[1])


def python_float_division(x, k):
    s = 0.0
    for i in range(int(k), 3):
        s += 1.0 / i
    return s + x[0]


def python_int_floordiv(x, k):
    return x[0] + 7 // int(k)


def int_of_nan(x):
    return x[1] + int(x[0])


def huge_slice_start(x):
    return np.sum(x[int(x[0] * 1e20) :])


def int_power_negative(x, k):
    s = 0.0
    for i in range(int(k), 2):
        s += 2**i
    return s + x[0]


def python_int_overflow(x, k):
    s = 1
    for i in range(int(k)):
        s *= 1000
    return x[0] * s


NUMBA_SEMANTICS = [
    (math_domain, np.array([[1.0, 2.0, 3.0], [-1.0, 2.0, 3.0], [4.0, 0.0, 1.0]]), None),
    (python_float_division, np.ones((3, 3)), np.array([1.0, -1.0, 2.0])),
    (python_int_floordiv, np.ones((3, 3)), np.array([1.0, 0.0, 2.0])),
    (int_of_nan, np.array([[1.0, 2.0, 3.0], [np.nan, 2.0, 3.0], [np.inf, 1.0, 1.0]]), None),
    (huge_slice_start, np.array([[0.0, 2.0, 3.0], [1.0, 2.0, 3.0], [-1.0, 1.0, 1.0]]), None),
    (int_power_negative, np.ones((3, 3)), np.array([0.0, -2.0, 1.0])),
    (python_int_overflow, np.ones((3, 3)), np.array([1.0, 8.0, 2.0])),
]


@pytest.mark.parametrize(
    "f, x, k", NUMBA_SEMANTICS[:-1], ids=[f.__name__ for f, _, _ in NUMBA_SEMANTICS[:-1]]
)
def test_python_scalar_semantics(f, x, k):
    # math.sqrt/log of a negative number or 0, 1.0 / 0 and 7 // 0 on Python numbers, int(nan), int(inf),
    # int(1e20) and 2 ** -1 gave Numba's answers (NaN, inf, 0, INT64_MIN) where Python raises or differs;
    # the lowering now marks such examples (re-run in Python) or leaves the function to NumPy
    args = (x,) if k is None else (x, k)
    check(f, args, fused=None, allow_fallback=True)


@bug(
    "Python ints are unbounded; compiled ints (and the batched NumPy code's) are int64, so 1000 ** 7 "
    "wraps (a known gap, README)"
)
def test_python_int_overflow():
    f, x, k = NUMBA_SEMANTICS[-1]
    check(f, (x, k), fused=None, allow_fallback=True)


# ---- review: kinds, lazy values, Python number errors, staging, globals, the plain loop -------------------
# Each case runs the jit call against the loop oracle; bugs found here are marked `bug(...)` (strict xfail).
F32 = np.float32


def lazy_nested(x, k):
    a = x[int(k)] if k < 4 else (x[int(k) - 4] if k < 8 else -1.0)
    b = (k >= 0 and x[int(k) % 4] > 0) or (k < -4 and x[int(-k) - 5] < 0)
    return a + (2.0 if b else 0.0)


def lazy_in_loop(x, k):
    s = 0.0
    for i in range(4):
        s += x[i + int(k)] if i + k < 4 else 0.5
        s += 1.0 if (i < k and x[int(k) - i] > 0) else 0.0
    return s


def lazy_guards(x, k):
    a = 1.0 / k if k != 0 else x[0]  # the division only where k != 0
    b = x[1] if (k == 0 or 1.0 / k > 0.3) else -x[1]
    c = int(x[2]) if x[3] > 0 else 1  # int(nan) only where x[3] > 0
    return a + b + c


def lazy_reductions(x, k):
    return np.dot(x[int(k) :], x[: 4 - int(k)]) if k < 4 else np.max(x[int(k) - 4 :])


def test_review_lazy_values():
    x = np.random.default_rng(0).normal(size=(7, 4))
    check(lazy_nested, (x, np.array([0.0, 3.0, 5.0, 9.0, -2.0, -3.0, 1.0])))
    check(lazy_in_loop, (x, np.array([0.0, 3.0, 2.0, 1.0, 0.0, 3.0, 1.0])))
    check(lazy_reductions, (x, np.array([0.0, 3.0, 2.0, 6.0, 7.0, 3.0, 1.0])))
    v = check(lazy_guards, (x, np.array([0.0, 3.0, 0.0, 1.0, 2.0, 0.0, 1.0])))
    x2 = x.copy()
    x2[:, 2] = np.nan  # int(nan) never runs: x[3] <= 0 there
    x2[:, 3] = -1.0
    check(lazy_guards, (x2, np.array([1.0, 0.0, 0.0, 1.0, 2.0, 0.0, 1.0])), v=v)
    check_raises(lazy_nested, (x, np.zeros(7)), (x, np.array([0.0, 1.0, -9.5, 1.0, 0.0, 0.0, 0.0])))


def scalar_ufunc_kinds(x):
    return (
        np.maximum(x[0], x[1])
        + np.minimum(x[1], x[0]) * 2
        + np.fmax(x[0], x[1]) * 3
        + np.sign(x[0]) * 5
        + np.abs(x[1]) * 7
        + np.where(x[0] > 0, 1, 0.5)
    )


def scalar_int_kinds(x):
    return np.where(x[0] > 0, 1, 2) + abs(int(x[1])) + np.negative(int(x[2]))


def test_review_scalar_ufunc_kinds():
    x = np.array([[1.0, 2.0, 3.0], [np.nan, 4.0, -2.0], [0.5, np.nan, 1.0], [-1.0, -2.0, 0.0]])
    check(scalar_ufunc_kinds, (x,))
    check(scalar_int_kinds, (np.nan_to_num(x),))


def staged_paths(x, c):
    t = np.tanh(x)  # used in three places
    if c > 0:
        return np.sum(np.exp(t * c)) + t[0]  # a site fed by a site, in a branch
    u = np.log(np.abs(x) + 1.0)
    if c < -1:
        return np.sum(u * t)  # an early return before the last site
    s = np.sum(np.exp(-u))
    for i in range(len(x)):  # staged values read in loops after the sites
        s += t[i] * i
    while s < 3.0 + c:
        s += 1.0
    return s + np.sum(t)


def staged_array_result(m, c):
    if c > 0:
        return np.tanh(m @ m.T) * c
    return np.exp(m @ m.T) - c


def test_review_staging():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(7, 3))
    c = np.array([1.0, -2.0, 0.0, 0.5, -0.5, -3.0, 2.0])
    check(staged_paths, (x, c))
    check(staged_array_result, (rng.normal(size=(7, 3, 2)), c))


GK = 2
GA = np.array([1.0, 2.0, 3.0])


def global_result(x):
    return GK if x[0] > 0 else GK * 2


def global_range(x):
    out = []
    for i in range(GK):
        out.append(x[i] * 2.0)
    return np.array(out)


def global_staged(x):
    return np.tanh(x * GA) + GA


def test_review_globals_change_type_value_shape(monkeypatch):
    x = np.random.default_rng(0).normal(size=(4, 3))
    v = check(global_result, (x,))
    monkeypatch.setitem(globals(), "GK", 2.5)  # int -> float: the result's dtype follows
    check(global_result, (x,), v=v, fused=None, allow_fallback=True)
    monkeypatch.setitem(globals(), "GK", 2)
    v = check(global_range, (x,))
    monkeypatch.setitem(globals(), "GK", 3)  # the returned list's length follows the global
    check(global_range, (x,), v=v, fused=None, allow_fallback=True)
    v = check(global_staged, (x,))
    monkeypatch.setitem(globals(), "GA", np.ones((2, 3)))  # another shape: the result's too
    check(global_staged, (x,), v=v, fused=None, allow_fallback=True)


# Python number errors the lowering does not keep (each: good data runs fused, then one example is bad)
def pyfloat_power_overflow(x):
    return float(x[0]) ** 2 + 2.0 ** float(x[1])


def math_of_infinity(x):
    return math.sqrt(x[0]) + math.sin(x[1])


def math_floor_huge(x):
    return math.floor(x[0]) * 0.5 + x[1]


def np_power_negative_int(x):
    return x[1] if np.power(2, int(x[0])) > 0 else -x[1]


def loop_var_after_empty_range(x, n):
    for i in range(int(n)):
        pass
    return x[0] + i


GOOD2 = np.array([[1.0, 2.0], [3.0, 4.0], [0.5, 1.0]])
PY_ERRORS = [  # (function, bad first row of example 1, extra arguments)
    pytest.param(
        pyfloat_power_overflow,
        [1e200, 1.0],
        marks=bug(
            "float(x) ** 2 past 1e308: Python floats raise OverflowError, the fused code gives inf (as NumPy "
            "floats do); not checked for literal exponents (the branch made custom_dot 5x slower)"
        ),
    ),
    pytest.param(pyfloat_power_overflow, [1.0, 1e5]),
    pytest.param(math_of_infinity, [-np.inf, 1.0]),
    pytest.param(math_of_infinity, [1.0, np.inf]),
    pytest.param(np_power_negative_int, [-1.0, 1.0]),
]


@pytest.mark.parametrize("f, bad_row", PY_ERRORS, ids=lambda p: getattr(p, "__name__", str(p)))
def test_review_python_number_errors(f, bad_row):
    v = check(f, (GOOD2,), fused=None if f is np_power_negative_int else True)  # np.power of ints: not fused
    bad = GOOD2.copy()
    bad[1] = bad_row
    check(f, (bad,), v=v, fused=None, allow_fallback=True)


def test_review_loop_variable_after_empty_range():
    # read after its loop: neither fused nor the plain loop (unbound after an empty range in Python)
    v = check(loop_var_after_empty_range, (GOOD2, np.array([2.0, 1.0, 1.0])), fused=False)
    check(
        loop_var_after_empty_range, (GOOD2, np.array([2.0, 0.0, 1.0])), v=v, fused=None, allow_fallback=True
    )


def staged_in_while_condition(x, c):
    while np.tanh(x * c)[0] < 0.5 and c < 10.0:
        c += 1.0
    return c


def test_review_staged_site_in_while_condition():
    # example 0 runs no iteration (the plan's validation agrees); example 1 iterates
    check(staged_in_while_condition, (np.array([[1.0, 2.0], [0.1, 4.0]]), np.ones(2)))


def bool_sum_condition(x):
    if (x[0] > 0) + (x[1] > 0) > 1:  # np.bool_ + np.bool_ is np.True_ (logical or)
        return 1.0
    return 0.0


BOOL_X = np.array([[-1.0, 2.0], [3.0, 4.0], [0.5, -1.0]])


def test_review_numpy_bool_addition_fused():
    check(bool_sum_condition, (BOOL_X,), fused=False)  # arithmetic on booleans: left to NumPy


def test_review_numpy_bool_addition_plain():
    check(bool_sum_condition, (BOOL_X.astype(F32),), fused=False)


def pyfloat_complex_root(x):
    return float(x[0]) ** 0.5 + 1.0


def test_review_numbers_whose_type_differs_per_example_raise_a_clear_error():
    # the loop gives a Python int past int64 or a complex number for one example only: the compiled
    # attempt falls back and the batched NumPy code raises a clear error (no wrapped or NaN values)
    for f, row in [
        (pyfloat_complex_root, [-4.0, 1.0]),
        (math_floor_huge, [1e20, 1.0]),
        (plain_math, [1.0, 1e20]),
    ]:
        bad = GOOD2.copy()
        bad[1] = row
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises((OverflowError, TypeError), match="astvmap:"):
                astvmap.vmap(f, jit=True)(bad)


# ---- review: the plain loop -----------------------------------------------------------------------------
def plain_ragged(x, k):
    return x[:k] * 2


def plain_ragged_tuple(x, k):
    return x[0] * 2, x[:k] + 1


@pytest.mark.parametrize(
    "f",
    [
        pytest.param(plain_ragged),
        pytest.param(plain_ragged_tuple),
    ],
    ids=lambda f: f.__name__,
)
def test_review_plain_loop_ragged_results(f):
    check(f, (np.arange(12).reshape(3, 4), np.array([3, 1, 3])), fused=False)


def test_review_plain_loop_raising_examples():
    xi = np.arange(12).reshape(3, 4)
    check(plain_ragged, (xi, np.array([3, 0, 3])), fused=None, allow_fallback=True)  # Numba raises too
    check_raises(
        python_int_floordiv, (xi, np.array([1.0, 2.0, 1.0])), (xi, np.array([1.0, 0.0, 2.0])), fused=False
    )  # 7 // 0


# float32 is left to the batched NumPy code (NEP 50: Numba computes in float64), where `range(0, 3,
# int(k))` with a per-example step gives a result of a length per example: the call runs as the loop
# (errors.RaggedBatch), which returns [3, 2, 3]; it raised "all input arrays must have the same shape".
def test_review_range_step_from_data_float32():
    check(
        range_step_from_data,
        (np.ones((3, 4), F32), np.array([1.0, 2.0, 1.0])),
        fused=None,
        allow_fallback=True,
    )


def plain_int_of(x):
    return float(x[1]) + int(x[0])


def plain_math(x):
    return math.sqrt(x[0]) + math.floor(x[1]) * 0.5


def plain_float_of_f32(x):
    return float(x[0]) + float(x[1])


def plain_weak_scalar(x):
    return 1.0 if x[0] * 0.1 > 0.3 else 0.0


PLAIN_F32 = [  # (function, example 1 of a float32 batch whose example 0 is [1, 2])
    pytest.param(plain_int_of, [np.nan, 1.0]),
    pytest.param(plain_int_of, [np.inf, 1.0]),
    pytest.param(plain_math, [-1.0, 1.0]),
    pytest.param(plain_float_of_f32, [16777216.0, 1.0]),
    pytest.param(plain_weak_scalar, [3.0, 1.0]),
]


@pytest.mark.parametrize("f, row", PLAIN_F32, ids=lambda p: getattr(p, "__name__", str(p)))
def test_review_plain_loop_python_scalars(f, row):
    x = np.array([[1.0, 2.0], row, [0.5, 1.0]], dtype=F32)
    check(f, (x,), fused=False)
