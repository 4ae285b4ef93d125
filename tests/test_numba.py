"""The Numba backend (`vmap(..., jit=True)`): results equal the NumPy backend's (dtype, shape, values), the
strategy the heuristic documents, the fallback warning, options. Compiled code is cached in
.pytest_cache, so a second run mostly loads it."""

from __future__ import annotations

import math
import sys
import warnings
from functools import partial

import numpy as np
import pytest

pytest.importorskip("numba")

import astvmap
from astvmap import PerformanceWarning, vmap

pytestmark = pytest.mark.usefixtures("numba_cache_dir")  # conftest.py: compiled code kept between runs


rng = np.random.default_rng(0)
W = rng.normal(size=(5, 3))
b = rng.normal(size=3)
PARAMS = (rng.normal(size=(8, 6)), rng.normal(size=8))


def neuron(x):
    assert x.ndim == 1
    return np.sum(np.tanh(np.dot(x, W) + b))


def predict(params, input_vec):
    w, b = params
    output_vec = np.dot(w, input_vec) + b
    return np.tanh(output_vec)


def custom_dot(x, y):
    return np.dot(x, y) ** 2


def convolve(x, w):
    output = []
    for i in range(1, len(x) - 1):
        output.append(np.dot(x[i - 1 : i + 2], w))
    return np.array(output)


def softplus(x):
    if x > 20.0:
        y = x
    else:
        y = np.log1p(np.exp(x))
    return y


def newton_sqrt(a):
    x = a
    while abs(x * x - a) > 1e-12 * a:
        x = 0.5 * (x + a / x)
    return x


def collatz(n):
    k = 0
    while n != 1:
        if n % 2 == 0:
            n = n // 2
        else:
            n = 3 * n + 1
        k += 1
    return k


def stats(x, y):
    s = x + y
    if s > 0:
        return s, x * y
    return -s, x - y


def scaled(x, y):
    return x * y + SCALE


SCALE = 1.0


def heaviside_if(x):
    if x > 0:
        return np.heaviside(x, 0.5)
    return x


def _same(got, want):
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want)
        for g, w in zip(got, want):
            _same(g, w)
        return
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape
    assert np.allclose(got, want, equal_nan=True)


def check(f, args, in_axes=0, out_axes=0, strategy=None, jit=True):
    want = vmap(f, in_axes, out_axes)(*args)
    v = vmap(f, in_axes, out_axes, jit=jit)
    got = v(*args)
    _same(got, want)
    if strategy is not None:
        assert v.strategy == strategy
    return v


# ---- seed examples: the heuristic picks NumPy for contractions; the forced loop must be right too ----
@pytest.mark.parametrize("strategy", ["auto", "loop"])
def test_seed_examples(strategy):
    jit = {"strategy": strategy}

    def expect(auto):
        return auto if strategy == "auto" else "loop"

    X = rng.normal(size=(50, 5))
    check(neuron, (X,), jit=jit, strategy=expect("loop"))  # tanh staged: NumPy's SIMD on a buffer
    check(predict, (PARAMS, rng.normal(size=(50, 6))), in_axes=(None, 0), jit=jit, strategy=expect("loop"))
    check(partial(predict, PARAMS), (rng.normal(size=(50, 6)),), jit=jit, strategy=expect("loop"))
    big = (rng.normal(size=(64, 128)), rng.normal(size=64))  # 8,192 multiply-adds: one GEMM
    check(predict, (big, rng.normal(size=(20, 128))), in_axes=(None, 0), jit=jit, strategy=expect("numpy"))
    check(custom_dot, (rng.normal(size=(50, 3)), rng.normal(size=(50, 3))), jit=jit, strategy=expect("loop"))
    check(convolve, (X, rng.normal(size=(50, 3))), jit=jit, strategy=expect("loop"))
    check(convolve, (X, rng.normal(size=3)), in_axes=(0, None), jit=jit, strategy=expect("loop"))


def test_inner_products_by_size_and_dtype():
    long = (rng.normal(size=(20, 300)), rng.normal(size=(20, 300)))
    check(custom_dot, long, strategy="numpy")  # 300 elements per dot: NumPy's SIMD
    check(custom_dot, tuple(a.astype(np.int64) for a in long), strategy="numpy")  # Numba: no int dot
    v = check(custom_dot, (long[0][:, :3], long[1][:, :3]), strategy="loop")  # tiny: the fused loop
    assert v.fused


def test_custom_dot_int_runs_numpy():
    x, y = np.asarray([[2, 2, 2], [3, 3, 3]]), np.asarray([[4, 4, 4], [5, 5, 5]])
    v = check(custom_dot, (x, y), strategy="numpy")
    assert v(x, y).tolist() == [576, 2025]
    with warnings.catch_warnings(record=True) as rec:  # forced: Numba has no integer np.dot
        warnings.simplefilter("always")
        check(custom_dot, (x, y), jit={"strategy": "loop"}, strategy="numpy")
    assert any("jit fell back" in str(r.message) for r in rec)


def test_square_scalars_loop():
    v = check(lambda x: x * x, (np.array([1, 2, 3]),), in_axes=(0,), strategy="loop")
    assert v(np.array([1, 2, 3])).tolist() == [1, 4, 9]


# ---- control flow: the loop strategy ---------------------------------------------------------------
def test_control_flow():
    check(softplus, (np.array([-800.0, -1.0, 0.0, 3.0, 25.0, 900.0]),), strategy="loop")
    check(newton_sqrt, (rng.uniform(0.1, 100.0, size=200),), strategy="loop")
    v = check(collatz, (np.arange(1, 40),), strategy="loop")
    assert v(np.arange(1, 40)).dtype == np.asarray(collatz(3)).dtype


def test_tuple_outputs_and_out_axes():
    x, y = rng.normal(size=(30,)), rng.normal(size=(30,))
    check(stats, (x, y), strategy="loop")
    check(stats, (x, y), out_axes=(0, 0), strategy="loop")
    X = rng.normal(size=(4, 30))
    check(
        lambda x: (x + 1.0, np.sum(x)),
        (X,),
        in_axes=1,
        out_axes=(1, 0),
        jit={"strategy": "loop"},
        strategy="loop",
    )
    check(
        predict,
        (PARAMS, rng.normal(size=(6, 20))),
        in_axes=(None, 1),
        out_axes=1,
        jit={"strategy": "loop"},
        strategy="loop",
    )


def test_batch_sizes_zero_and_one():
    for B in (0, 1):
        check(newton_sqrt, (rng.uniform(0.1, 10.0, size=B),))
        check(stats, (rng.normal(size=B), rng.normal(size=B)))
        check(neuron, (rng.normal(size=(B, 5)),), jit={"strategy": "loop"})


def test_globals_are_read_per_call():
    global SCALE
    v = vmap(scaled, jit=True)
    x = np.arange(4.0)
    assert v(x, x).tolist() == (x * x + 1.0).tolist() and v.strategy == "loop"
    SCALE = 5.0
    try:
        assert v(x, x).tolist() == (x * x + 5.0).tolist()
    finally:
        SCALE = 1.0


def test_unmapped_scalar_and_array_arguments():
    check(lambda x, c: x * c if x > 0 else c, (rng.normal(size=10), 2.5), in_axes=(0, None), strategy="loop")
    check(
        predict,
        (PARAMS, rng.normal(size=(7, 6))),
        in_axes=((None, None), 0),
        jit={"strategy": "loop"},
        strategy="loop",
    )


def test_mapped_container_argument():
    pairs = (rng.normal(size=9), rng.normal(size=9))
    check(lambda p: p[0] - p[1] if p[0] > p[1] else p[1] - p[0], (pairs,), in_axes=((0, 0),), strategy="loop")


# ---- fallback and options -------------------------------------------------------------------------------
def test_fallback_when_numba_cannot_compile():
    x = np.linspace(-2.0, 2.0, 9)
    with pytest.warns(
        PerformanceWarning,
        match=r"jit fell back to the batched NumPy code: Numba could not "
        r"compile it .*heaviside",
    ):
        v = check(heaviside_if, (x,), strategy="numpy")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once: later calls are quiet
        v(x)


def test_fallback_for_python_helpers_and_lists():
    def helper(x):
        return x + 1.0

    def calls_helper(x):
        return helper(x) if x > 0 else x

    with pytest.warns(PerformanceWarning, match="a Python function"):
        check(calls_helper, (np.linspace(-1, 1, 5),), strategy="numpy")


def test_options_and_errors(monkeypatch):
    x = rng.normal(size=50)
    check(softplus, (x,), jit={"parallel": False, "fastmath": False, "cache": True}, strategy="loop")
    with pytest.raises(ValueError, match="unknown jit option"):
        vmap(softplus, jit={"paralel": True})
    monkeypatch.setitem(sys.modules, "numba", None)
    with pytest.raises(ImportError, match=r"pip install 'astvmap\[jit\]'"):
        vmap(softplus, jit=True)


def test_float32_keeps_its_dtype():
    # Numba types some float32 expressions as float64: the check on example 0 sees it and runs NumPy
    x = rng.normal(size=20).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerformanceWarning)
        check(softplus, (x,))
        check(lambda x: x * 2.5 if x > 0 else x, (x,))
    check(lambda x: x * 2.5 if x > 0 else x, (x.astype(np.float64),), strategy="loop")


def test_math_module_and_strategy_before_call():
    v = vmap(lambda x: math.sqrt(x) if x > 0 else 0.0, jit=True)
    assert v.strategy is None
    check(lambda x: math.sqrt(x) if x > 0 else 0.0, (rng.normal(size=20),), strategy="loop")


def test_cache_files_are_separate_for_parallel(tmp_path, monkeypatch):
    monkeypatch.setenv("ASTVMAP_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(
        astvmap.backends.numba_codegen, "_LOADED", {}
    )  # the in-process memo of loaded modules
    x = rng.uniform(1.0, 2.0, size=5)
    vmap(newton_sqrt, jit={"parallel": True})(x)
    vmap(newton_sqrt, jit={"parallel": False})(x)
    assert len(list((tmp_path / "numba" / "parallel").glob("*.py"))) == 1
    assert len(list((tmp_path / "numba" / "serial").glob("*.py"))) == 1
    assert astvmap.backends.numba.cache_dir() == str(tmp_path)


def raise_on_negative(x):
    if x < 0:
        raise ValueError("negative input")
    return 2.0 * x


def pick(x, k):
    return x[int(k)] * 2.0


@pytest.mark.parametrize("parallel", [True, False])
def test_an_example_that_raises_raises_like_the_loop(parallel):
    """Inside `prange`, Numba loses an exception raised on another thread (the result was garbage): the
    driver marks the example and Python re-runs it, raising the user's error with a note."""
    x = np.arange(64.0)
    x[40] = -1.0
    v = vmap(raise_on_negative, jit={"strategy": "loop", "parallel": parallel})
    with pytest.raises(ValueError, match="negative input") as info:
        v(x)
    assert any("example 40" in note for note in getattr(info.value, "__notes__", []))
    assert np.array_equal(v(np.abs(x)), 2.0 * np.abs(x))
    # the fused lowering checks indices as Python does: out of range raises IndexError, -1 is the last
    xs = rng.normal(size=(32, 5))
    k = np.zeros(32)
    k[7] = 5.0
    f = vmap(pick, jit={"strategy": "loop", "parallel": parallel})
    with pytest.raises(IndexError):
        f(xs, k)
    k[7] = -1.0
    np.testing.assert_array_equal(f(xs, k), np.where(np.arange(32) == 7, xs[:, -1], xs[:, 0]) * 2.0)
    assert f.fused


def first_or_zero(x):
    if x[0] > 0:
        return x[0]
    return 0  # an int on this path: the loop's result is float64 only when some example is


def running_sum(x, n):
    s = 0  # stays an int for an example with n == 0
    for k in range(int(n)):
        s += x[k]
    return s


def loop_oracle(f, *args):
    return np.stack([np.asarray(f(*example)) for example in zip(*args)])


@pytest.mark.parametrize("first", [1.5, -1.5])
def test_results_whose_type_depends_on_the_path_keep_the_loops_dtype(first):
    """Numba gives a variable one type; Python's depends on the path. Example 0's dtype must not be used
    for the others when they may differ (the cast lost 0.25 before)."""
    x = np.array([[first, 0.25], [0.25, 1.0], [-1.0, 2.0]])
    v = vmap(first_or_zero, jit={"strategy": "loop"})
    got, want = v(x), loop_oracle(first_or_zero, x)
    assert got.dtype == want.dtype and np.array_equal(got, want)
    n = np.array([0.0, 2.0, 1.0]) if first < 0 else np.array([2.0, 0.0, 1.0])
    v = vmap(running_sum, jit={"strategy": "loop"})
    got, want = v(x, n), loop_oracle(running_sum, x, n)
    assert got.dtype == want.dtype and np.array_equal(got, want)
