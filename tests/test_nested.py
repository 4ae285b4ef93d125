"""Generated code batched again: random programs (tests/fuzzgen.py) under nested vmaps, against the nested
loops. Each level's generated code goes through the next level's rewrite, every `av__` helper through its
own batching rule (tests/test_runtime_rules.py ratchets that they have one), so nesting is as exact as one
level. Fallbacks are allowed; a wrong value, dtype or shape, or an error the loops do not raise, is not.

More seeds: ``ASTVMAP_NESTED_SEEDS=0-999`` (depth 2), ``ASTVMAP_NESTED3_SEEDS=0-299`` (depth 3).
"""

import os

import fuzzgen
import numpy as np
import pytest

import astvmap


def _seeds(env: str, default: str) -> list[int]:
    lo, _, hi = os.environ.get(env, default).partition("-")
    return list(range(int(lo), int(hi or lo) + 1))


# found by longer runs: a per-example list reaching a piece's loop (870, 1467)
REGRESSIONS = [870, 1467]


@pytest.mark.parametrize("seed", _seeds("ASTVMAP_NESTED_SEEDS", "0-59") + REGRESSIONS)
def test_nested_programs(seed, tmp_path):
    fuzzgen.run_nested(seed, tmp_path)


# 418: `r op= v` on a view of unknown kind (a piece's loop's result indexed) rebound the name
@pytest.mark.parametrize("seed", _seeds("ASTVMAP_NESTED_STORE_SEEDS", "0-29") + [418])
def test_nested_programs_with_stores(seed, tmp_path):
    fuzzgen.run_nested(seed, tmp_path, extra=("stores",))


@pytest.mark.parametrize("seed", _seeds("ASTVMAP_NESTED3_SEEDS", "0-14"))
def test_three_nested_vmaps(seed, tmp_path):
    fuzzgen.run_nested(seed, tmp_path, depth=3)


# ---- the helpers each form emits -------------------------------------------------------------------------
def newton(x):
    y = x
    n = 0
    while abs(y * y - x) > 1e-9 and n < 50:  # a batched `while`: masked when batched again
        y = 0.5 * (y + x / y)
        n += 1
    return y, n


def branchy(x):
    if x[0] > 0:  # astvmap: partition
        y = np.sum(np.exp(x))
    else:
        y = 0.0
    return y


def clipped_log(x):
    if x > 0.5:
        y = np.log(x)  # may warn on lanes that do not take it: borrowed from one that does
    else:
        y = x - 1.0
    return y


def counter_times_float32(m):
    v = np.mean(m)
    out = []
    for j in range(3):
        out.append(v - (j - v))  # `j` a Python int per iteration: float32 stays float32
    return np.array(out)


def python_or_numpy(x):
    scale = 1.0
    if x[0] > 0:
        scale = x[0]  # a NumPy float32 on some examples, a Python float on others
    return x * scale


@pytest.mark.parametrize(
    "f, shape, dtype",
    [
        (newton, (2, 3), np.float64),
        (branchy, (3, 4, 5), np.float64),
        (clipped_log, (2, 5), np.float64),
        (counter_times_float32, (2, 3, 4), np.float32),
        (python_or_numpy, (2, 3, 4), np.float32),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_nested_vmaps_batch_every_helper(f, shape, dtype):
    """vmap of vmap batches with no fallback: a batched `while` (masked when its code is batched again),
    `# astvmap: partition` (not followed there), selects and borrowed lanes, a vectorized loop's
    counter, a number that is a Python float on some examples only."""
    x = (np.random.default_rng(0).standard_normal(shape) ** 2 + 0.1).astype(dtype)
    x.flat[::3] *= -1 if f in (branchy, python_or_numpy) else 1
    with np.errstate(all="ignore"):
        want = _loops(f, x)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", astvmap.PerformanceWarning)
        with np.errstate(all="ignore"):
            got = astvmap.vmap(astvmap.vmap(f))(x)
    for g, w in zip(got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,)):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=1e-6)


def _loops(f, x):
    rows = [[f(e) for e in row] for row in x]
    if isinstance(rows[0][0], tuple):
        return tuple(
            np.stack([np.stack([np.asarray(e[k]) for e in r]) for r in rows]) for k in range(len(rows[0][0]))
        )
    return np.stack([np.stack([np.asarray(e) for e in r]) for r in rows])
