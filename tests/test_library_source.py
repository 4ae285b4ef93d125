"""NumPy functions with no rule of their own whose implementation is Python are rewritten from NumPy's
source where that batches whole (NOTE [library source], transform/nesting.py); elsewhere the one call
runs as the loop, warned at the user's line."""

import importlib.util
import os
import warnings

import numpy as np
import pytest
from oracle import assert_vmap_equivalent

import astvmap

RNG = np.random.default_rng(3)
C = np.array([1.0, -2.0, 0.5])


def polyval(x):
    return np.polyval(C, x)


def polyval_batched_coefficients(c, x):
    return np.polyval(c, x)


def lower(m):
    return np.tril(m, -1) + np.triu(m, 1)


def turned(m):
    # (not np.rot90: NumPy 2.5 added a `try` to it, which #19's verbatim statements will batch)
    return np.fliplr(m) - np.flipud(m)


def norms(m):
    return np.linalg.matrix_norm(m), np.linalg.svdvals(m), np.linalg.trace(m)


@pytest.mark.parametrize("B", [0, 1, 3, 7])
@pytest.mark.parametrize("in_axes", [0, 1])
@pytest.mark.parametrize("f", [polyval, lower, turned, norms])
def test_numpy_source_batches_whole(f, in_axes, B):
    x = RNG.normal(size=(B, 4)) if f is polyval else RNG.normal(size=(B, 4, 4))
    x = np.moveaxis(x, 0, in_axes).copy()
    assert_vmap_equivalent(f, in_axes, 0, x, fallback="error")


@pytest.mark.parametrize("dtype", ["float32", "int64", "complex128"])
def test_numpy_source_keeps_dtypes(dtype):
    x = (RNG.normal(size=(5, 4)) * 3).astype(dtype)
    assert_vmap_equivalent(polyval_batched_coefficients, (None, 0), 0, C.astype(dtype), x, fallback="error")
    assert_vmap_equivalent(polyval_batched_coefficients, (0, 0), 0, x[:, :3].copy(), x, fallback="error")


def test_numpy_source_under_nesting():
    xs = RNG.normal(size=(2, 3, 4, 4))
    for f in (polyval, lower, turned):
        assert_vmap_equivalent(astvmap.vmap(f, fallback="error"), 0, 0, xs, fallback="error")


def is_in(x):
    return np.isin(x, [1, 2])


def test_numpy_source_that_does_not_batch_whole_is_one_loop_at_the_users_line():
    x = RNG.integers(0, 4, size=(5, 6))
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        out = astvmap.vmap(is_in)(x)
    np.testing.assert_array_equal(out, [is_in(r) for r in x])
    perf = [w for w in rec if w.category is astvmap.PerformanceWarning]
    assert len(perf) == 1 and os.path.abspath(perf[0].filename) == os.path.abspath(__file__), perf
    assert "np.isin(x, [1, 2])" in str(perf[0].message)


class Other:
    pass


def checks(x):
    if isinstance(x, Other):
        return x
    if isinstance(x, (list, tuple)):
        return x[0]
    return x * 2 if isinstance(x, np.ndarray) else x


@pytest.mark.parametrize("shape", [(4, 3), (4, 3, 2)])
def test_isinstance_of_a_batched_array_is_static(shape):
    assert_vmap_equivalent(checks, 0, 0, RNG.normal(size=shape), fallback="error")


def number_or_array(x):
    return 1.0 if isinstance(x, np.ndarray) else 0.0


def test_isinstance_of_a_per_example_scalar_differs_by_value_and_loops():
    # a rank-0 example may be a NumPy scalar or a 0-d array: the loop decides
    assert_vmap_equivalent(number_or_array, 0, 0, RNG.normal(size=5), allow_fallback=True)


def test_the_source_check_reads_an_installed_modules_cached_bytecode():
    """An installed module's `.pyc`, compiled from the file as it is, stands for compiling its text (the
    source check's cost); a text that is not the file's never uses it."""
    import numpy.lib._function_base_impl as fb

    from astvmap.frontend import source

    if not os.path.exists(importlib.util.cache_from_source(fb.__file__)):
        pytest.skip("numpy installed without its bytecode")
    with open(fb.__file__) as fh:
        text = fh.read()
    cached = source._cached_code(fb.__file__, text, 0)
    assert cached is not None
    assert cached.co_code == compile(text, fb.__file__, "exec", dont_inherit=True).co_code
    assert source._cached_code(fb.__file__, text + "\n# edited\n", 0) is None
