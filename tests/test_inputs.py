"""Inputs the batched code cannot carry, and outputs that must not share memory (against the loop).

ndarray subclasses other than `np.memmap` (masked arrays, matrices) and object arrays run as the
per-example loop with one PerformanceWarning: the batched code would drop a mask, a matrix's rank-2
semantics, or Python objects' own behaviour. Two outputs never share memory where the loop's would not.
"""

import warnings

import numpy as np
import pytest
from oracle import assert_vmap_equivalent, loop_vmap

import astvmap
from astvmap import vmap


def row_mean(x):
    return x.mean()


def scaled_sum(x, w):
    return (x * w).sum()


def test_a_masked_array_keeps_its_mask(rng):
    X = np.ma.masked_array(rng.normal(size=(4, 5)), mask=rng.random((4, 5)) < 0.3)
    with pytest.warns(astvmap.PerformanceWarning, match="numpy.ma.MaskedArray"):
        out = vmap(row_mean)(X)
    np.testing.assert_allclose(out, [x.mean() for x in X])
    np.testing.assert_allclose(out, X.mean(axis=1))  # not the mean over masked values too


def test_a_masked_array_shared_by_every_example(rng):
    W = np.ma.masked_array(rng.normal(size=5), mask=[0, 1, 0, 0, 1])
    X = rng.normal(size=(3, 5))
    with pytest.warns(astvmap.PerformanceWarning):
        out = vmap(scaled_sum, in_axes=(0, None))(X, W)
    np.testing.assert_allclose(out, [(x * W).sum() for x in X])


def test_a_matrix_keeps_its_semantics():
    M = np.matrix([[1.0, 2.0], [3.0, 4.0]])

    def square(m):
        return np.asarray(m * m)  # a matrix product for np.matrix (np.stack cannot stack matrices)

    with pytest.warns(astvmap.PerformanceWarning, match="matrix"):
        out = vmap(square, in_axes=None, axis_size=2)(M)
    np.testing.assert_allclose(out, np.stack([np.asarray(M * M)] * 2))
    assert not np.allclose(out[0], np.asarray(M) * np.asarray(M))


def test_object_arrays_run_as_the_loop():
    O = np.array([[1, "a"], [2, "b"], [3, "c"]], dtype=object)

    def label(row):
        return str(row[0]) + row[1]

    with pytest.warns(astvmap.PerformanceWarning, match="object array"):
        out = vmap(label)(O)
    assert list(out) == ["1a", "2b", "3c"]


def test_a_memmap_batches_like_an_ndarray(tmp_path, rng):
    mm = np.memmap(tmp_path / "x.dat", dtype=np.float64, mode="w+", shape=(4, 3))
    mm[:] = rng.normal(size=(4, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error", astvmap.PerformanceWarning)
        out = vmap(row_mean)(mm)
    np.testing.assert_allclose(out, np.asarray(mm).mean(axis=1))


def test_fallback_error_refuses_the_loop_for_special_inputs(rng):
    X = np.ma.masked_array(rng.normal(size=(2, 3)))
    with pytest.raises(astvmap.AstvmapError, match="MaskedArray"):
        vmap(row_mean, fallback="error")(X)


def both(x):
    y = x * 2.0
    return y, y


def both_in_a_dict(x):
    y = x + 1.0
    return {"a": y, "b": [y, y[0]]}


def same_unbatched(x):
    z = np.zeros(3)
    return z, z


@pytest.mark.parametrize("f", [both, both_in_a_dict, same_unbatched])
def test_outputs_never_share_memory_with_each_other(rng, f):
    X = rng.normal(size=(4, 3))
    out = vmap(f)(X)
    leaves = []

    def collect(v):
        if isinstance(v, (tuple, list)):
            for e in v:
                collect(e)
        elif isinstance(v, dict):
            for e in v.values():
                collect(e)
        else:
            leaves.append(v)

    collect(out)
    for i, a in enumerate(leaves):
        for b in leaves[i + 1 :]:
            assert not np.shares_memory(a, b)
    expected = loop_vmap(f, 0, 0, (X,))
    assert_vmap_equivalent(f, 0, 0, X)
    assert type(out) is type(expected)
