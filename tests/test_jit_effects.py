"""`jit=True` never changes what the loop would do (issue "Never silently wrong, part 4"):

- writes into mapped arguments are applied once, also when the compiled attempt falls back to the NumPy code
  (it runs on copies and copies back on success), and the caller's arrays end as the loop leaves them, also
  when an example raises;
- `chunk_size` bounds temporaries under `jit` (peak memory measured in a subprocess) and a chunked call is
  bit-identical to the unchunked one, for every strategy and every randomness mode;
- the strategy of a call never depends on earlier calls.

The reference is the per-example loop (tests/oracle.py `loop_vmap`): values, dtype, shape, and the caller's
arrays after the call."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

pytest.importorskip("numba")

from oracle import loop_vmap

from astvmap import PerformanceWarning, vmap

pytestmark = pytest.mark.usefixtures("numba_cache_dir")  # conftest.py: compiled code kept between runs

STRATEGIES = ["auto", "loop", "numpy"]


def double_first(x):
    x[0] = x[0] * 2.0
    if x[1] > 0:
        return x[0] + 1.0
    return x[0]


def divide_first(x):
    # x[1] == 0: the compiled code raises ZeroDivisionError, Python (NumPy scalars) gives inf: the compiled
    # attempt falls back after it wrote every other example
    x[0] = x[0] / x[1]
    if x[0] > 0:
        return x[0]
    return -x[0]


def add_in_place(x):
    x += 1.0
    if x[0] > 2.0:
        return x[1]
    return x[0]


def bump_rows(x):
    for r in x:
        r[0] += r[1]
    return x[0, 0] + x[1, 0]


def scale_alias(x):
    y = x[1:]
    y *= 3.0
    return np.sum(x) if x[0] > 0 else -np.sum(x)


def with_out(x):
    np.multiply(x, 2.0, out=x)
    return x[0] - x[1] if x[2] > 0 else x[1]


def fail_on_negative(x):
    x[0] += 1.0
    if x[1] < 0:
        raise ValueError("negative input")
    return x[0] * 2.0


def write_both(x, y):
    x[0] = y[1] + 1.0
    return x[0] + y[0] if y[2] > 0 else y[0]


def write_pair(p):
    a, b = p
    a[0] = a[0] + b[1]
    return a[0] if b[0] > 0 else b[0]


# Each writes in its own way, then divides by x[1]: where it is 0 the compiled code raises and Python gives
# inf, so the compiled attempt falls back after writing; a write the analysis missed would be applied twice.
def w_item(x):
    x[0] = x[0] * 2.0
    return x[0] / x[1]


def w_in_place(x):
    x += 1.0
    return x[0] / (x[1] - 1.0)


def w_rows(x):
    for r in x:
        r[0] = r[0] * 2.0
    return x[0, 0] / x[0, 1]


def w_view(x):
    y = x[::2]
    y *= 3.0
    return x[0] / x[1]


def w_out(x):
    np.multiply(x, 2.0, x)
    return x[0] / x[1]


def w_pair(p):
    a, b = p
    a[0] = a[0] + b[0]
    return a[0] / b[1]


G = np.zeros(3)


def write_global(x):
    G[0] = x[0]
    return x[0] if x[1] > 0 else x[1]


def _arrays(args):
    return copy.deepcopy(list(args))


def _compare(got, want):
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want)
        for g, w in zip(got, want):
            _compare(g, w)
        return
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)


def check_like_loop(f, args, in_axes=0, **options):
    """vmap(f, ...)(*args) and the loop on copies of args: same result and the same arrays afterwards."""
    mine, ref = _arrays(args), _arrays(args)
    v = vmap(f, in_axes, **options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerformanceWarning)
        got = v(*mine)
    want = loop_vmap(f, in_axes, 0, ref)
    _compare(got, want)
    for a, b in zip(mine, ref):
        for x, y in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,)):
            np.testing.assert_array_equal(x, y)
    return v


# ---- writes into mapped arguments ----------------------------------------------------------------------
@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("chunk_size", [None, 3])
def test_writes_are_applied_once(strategy, chunk_size):
    x = np.arange(24.0).reshape(8, 3) - 5.0
    jit = {"strategy": strategy}
    check_like_loop(double_first, (x,), jit=jit, chunk_size=chunk_size)
    check_like_loop(add_in_place, (x,), jit=jit, chunk_size=chunk_size)
    check_like_loop(bump_rows, (x.reshape(4, 2, 3),), jit=jit, chunk_size=chunk_size)
    check_like_loop(scale_alias, (x,), jit=jit, chunk_size=chunk_size)
    check_like_loop(with_out, (x,), jit=jit, chunk_size=chunk_size)
    check_like_loop(write_both, (x, -x), jit=jit, chunk_size=chunk_size)
    check_like_loop(write_pair, ((x, x[::-1].copy()),), in_axes=((0, 0),), jit=jit, chunk_size=chunk_size)


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")  # the loop's own x[0] / 0.0
@pytest.mark.parametrize("chunk_size", [None, 3])
def test_writes_are_applied_once_when_the_compiled_loop_falls_back(chunk_size):
    x = np.arange(24.0).reshape(8, 3) + 1.0
    x[5, 1] = 0.0  # the compiled code raises there, Python does not: the call runs the NumPy code
    check_like_loop(divide_first, (x,), jit={"strategy": "loop"}, chunk_size=chunk_size)
    check_like_loop(divide_first, (x,), jit=True, chunk_size=chunk_size)


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")
@pytest.mark.parametrize("chunk_size", [None, 3])
@pytest.mark.parametrize("f", [w_item, w_in_place, w_rows, w_view, w_out, w_pair])
def test_every_kind_of_write_is_applied_once_on_a_fall_back(f, chunk_size):
    x = np.arange(1.0, 25.0).reshape(8, 3)
    x[5, 1] = 0.0
    if f is w_rows:
        args, in_axes = (np.stack([x, x + 1.0], axis=1),), 0
    elif f is w_pair:
        args, in_axes = ((x + 1.0, x),), ((0, 0),)
    else:
        args, in_axes = (x,), 0
    v = check_like_loop(f, args, in_axes, jit={"strategy": "loop"}, chunk_size=chunk_size)
    assert v.strategy == "numpy"  # the compiled attempt ran and fell back


def test_the_compiled_loop_keeps_running_for_writers():
    """Writes alone are no reason to leave the compiled loop: it runs on copies and copies back."""
    v = check_like_loop(double_first, (np.arange(24.0).reshape(8, 3) - 5.0,), jit={"strategy": "loop"})
    assert v.strategy == "loop"


def test_writes_with_in_axes_1_and_a_read_only_argument():
    x = np.arange(24.0).reshape(3, 8) - 5.0
    check_like_loop(double_first, (x,), in_axes=1, jit={"strategy": "loop"})
    check_like_loop(double_first, (np.asfortranarray(x.T),), jit={"strategy": "loop"}, chunk_size=3)
    ro = np.arange(24.0).reshape(8, 3)
    ro.setflags(write=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerformanceWarning)
        with pytest.raises(ValueError, match="read-only"):
            vmap(double_first, jit={"strategy": "loop"})(ro)
    assert np.array_equal(ro, np.arange(24.0).reshape(8, 3))


@pytest.mark.parametrize("chunk_size", [None, 3])
@pytest.mark.parametrize("parallel", [True, False])
def test_an_example_that_raises_leaves_the_arrays_as_the_loop_does(chunk_size, parallel):
    x = np.arange(24.0).reshape(8, 3) + 1.0
    x[5, 1] = -1.0
    mine, ref = x.copy(), x.copy()
    v = vmap(fail_on_negative, jit={"strategy": "loop", "parallel": parallel}, chunk_size=chunk_size)
    with pytest.raises(ValueError, match="negative input") as info:
        v(mine)
    assert any("example 5" in note for note in getattr(info.value, "__notes__", []))
    with pytest.raises(ValueError, match="negative input"):
        loop_vmap(fail_on_negative, 0, 0, (ref,))
    np.testing.assert_array_equal(mine, ref)  # examples 0..5 written once, 6 and 7 never


def test_arguments_that_share_memory():
    x = np.arange(24.0).reshape(8, 3) - 5.0
    check_like_loop(write_both, (x, x), jit={"strategy": "loop"})  # the same array twice


def _outcome(v, x):
    """What a call returns (or the type of what it raises) and the global G afterwards."""
    G[:] = 0.0
    try:
        got = v(x.copy())
    except Exception as e:
        got = type(e)
    return got, G.copy()


def test_a_write_into_a_global_is_not_compiled():
    """A global is shared by every example (a `prange` would race on it): the compiled loop is not built,
    and the call is the NumPy code's, without jit (whose own handling of the write is the transform's)."""
    x = np.arange(24.0).reshape(8, 3) - 5.0
    with pytest.warns(PerformanceWarning, match="writes into the global 'G'"):
        v = vmap(write_global, jit={"strategy": "loop"})
        got, g = _outcome(v, x)
    want, want_g = _outcome(vmap(write_global), x)
    if isinstance(want, type):
        assert got is want
    else:
        _compare(got, want)
    np.testing.assert_array_equal(g, want_g)
    assert v.strategy == "numpy"


# ---- chunk_size under jit ------------------------------------------------------------------------------
W16 = np.random.default_rng(3).normal(size=(5, 16))
B16 = np.random.default_rng(4).normal(size=16)


def neuron16(x):
    return np.sum(np.tanh(np.dot(x, W16) + B16))


def running_sums(x):
    out = np.empty(3)  # an item write: never lowered (numba_fuse), the plain compiled loop runs
    out[0] = x[0]
    for i in range(1, 3):
        out[i] = out[i - 1] + x[i]
    return out if x[0] > 0 else -out


def waves(x):
    return np.sum(np.tanh(x) * np.exp(-x * x) + np.sin(x))


@pytest.mark.parametrize("chunk_size", [1, 7, 64])
def test_chunked_jit_calls_are_bit_identical(chunk_size):
    rng = np.random.default_rng(0)
    cases = [
        (neuron16, rng.normal(size=(203, 5)), "loop", True),  # fused, with a staged tanh
        (running_sums, rng.normal(size=(203, 3)), "loop", False),  # plain compiled loop
        (waves, rng.normal(size=(203, 70)), "numpy", False),  # the batched NumPy code
    ]
    for f, x, strategy, fused in cases:
        whole = vmap(f, jit=True)
        chunked = vmap(f, jit=True, chunk_size=chunk_size)
        want, got = whole(x), chunked(x)
        assert chunked.strategy == whole.strategy == strategy and chunked.fused == fused
        assert got.dtype == want.dtype and got.shape == want.shape
        assert np.array_equal(got, want), f.__name__
        np.testing.assert_allclose(got, loop_vmap(f, 0, 0, (x,)), rtol=1e-12)


_PEAK = """
import json, sys, tracemalloc, warnings
import numpy as np
sys.path.insert(0, {tests!r})
from test_jit_effects import neuron16, waves, double_first
from astvmap import vmap

def peak(f, x, **options):
    v = vmap(f, **options)
    v(x[:50].copy())  # compiles; the measured call runs compiled code only
    tracemalloc.start()
    tracemalloc.reset_peak()
    v(x)
    used = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return used / 2**20, v.strategy

rng = np.random.default_rng(0)
out = {{}}
cases = [
    ("fused", neuron16, rng.normal(size=(400_000, 5))),
    ("numpy", waves, rng.normal(size=(100_000, 64))),
    ("writes", double_first, rng.normal(size=(2_000_000, 3))),
]
for name, f, x in cases:
    for chunk in (None, 4000):
        mb, strategy = peak(f, x, jit=True, chunk_size=chunk)
        out[f"{{name}} {{chunk}}"] = [mb, strategy, x.nbytes / 2**20]
print(json.dumps(out))
"""


def test_chunk_size_bounds_peak_memory_under_jit(numba_cache_dir):
    """Peak memory of the call above its inputs (tracemalloc), in a fresh process: chunked, the temporaries
    (fused staging buffers, the NumPy code's arrays, copies of written arguments) are a few chunks; the
    result itself (B numbers, 3 MB here) is the floor."""
    env = {**os.environ, "ASTVMAP_CACHE_DIR": str(numba_cache_dir), "NUMBA_NUM_THREADS": "1"}
    code = textwrap.dedent(_PEAK.format(tests=os.path.dirname(__file__)))
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    peaks = json.loads(run.stdout.strip().splitlines()[-1])
    for name in ("fused", "numpy", "writes"):
        whole_mb, whole_strategy, _ = peaks[f"{name} None"]
        chunk_mb, chunk_strategy, _ = peaks[f"{name} 4000"]
        assert whole_strategy == chunk_strategy
        assert whole_mb > 40.0, peaks  # the measurement sees the unchunked temporaries
        assert chunk_mb < 25.0, peaks  # B results (<= 16 MB) plus a few chunks


# ---- the strategy depends on this call only ------------------------------------------------------------
def first_or_zero(x):
    if x[0] > 0:
        return x[0] * 1.1
    return 0


def raise_on_negative(x):
    if x < 0:
        raise ValueError("negative input")
    return 2.0 * x


@pytest.mark.parametrize("order", ["this call first", "other call first"])
def test_the_strategy_does_not_depend_on_earlier_calls(order):
    this = np.array([[1.5, 0.25], [0.25, 1.0], [-1.0, 2.0]])  # example 0 returns a float: the loop's dtype
    other = np.array([[-1.5, 0.25], [0.25, 1.0]])  # example 0 returns an int: the compiled dtype is wrong
    v = vmap(first_or_zero, jit={"strategy": "loop"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerformanceWarning)
        if order == "other call first":
            _compare(v(other), loop_vmap(first_or_zero, 0, 0, (other,)))
        _compare(v(this), loop_vmap(first_or_zero, 0, 0, (this,)))
    assert v.strategy == "loop"

    bad, good = np.array([-1.0, 2.0]), np.arange(5.0)
    v = vmap(raise_on_negative, jit=True)
    if order == "other call first":
        with pytest.raises(ValueError, match="negative input"):
            v(bad)
    _compare(v(good), 2.0 * good)
    assert v.strategy == "loop"


# ---- chunks and randomness ------------------------------------------------------------------------------
GEN = np.random.default_rng(1)


def jitter(x):
    return x + GEN.normal(0.0, 1.0, size=3)


def two_draws(x):
    return x * GEN.uniform() + np.random.normal(x, 0.1)


def _draw(f, x, randomness, **options):
    global GEN
    GEN = np.random.default_rng(7)
    np.random.seed(7)
    return vmap(f, randomness=randomness, **options)(x)


@pytest.mark.parametrize("randomness", ["same", "different"])
@pytest.mark.parametrize("jit", [False, True])
def test_chunked_draws_equal_unchunked_draws(randomness, jit):
    x = np.arange(30.0).reshape(10, 3)
    for f in (jitter, two_draws):
        if f is two_draws and randomness == "same":
            continue  # np.random.normal(x, 0.1) has per-example parameters
        want = _draw(f, x, randomness, jit=jit)
        for chunk_size in (1, 3, 4):
            got = _draw(f, x, randomness, jit=jit, chunk_size=chunk_size)
            assert got.dtype == want.dtype and got.shape == want.shape
            assert np.array_equal(got, want), (f.__name__, chunk_size)
    same = _draw(jitter, np.zeros((10, 3)), "same", jit=jit, chunk_size=3)
    assert np.all(same == same[0])  # one draw for the whole batch
