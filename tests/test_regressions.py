"""Regressions found outside the focused suites (benchmarks, the fuzzer): each failed before its fix."""
import numpy as np

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
    SETTINGS["scale"] = np.array([1.0, 10.0])          # same dict object, a value of another rank
    try:
        np.testing.assert_allclose(vf(x), x * np.array([1.0, 10.0]))
    finally:
        SETTINGS["scale"] = 2.0
