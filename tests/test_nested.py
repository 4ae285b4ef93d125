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


def mean_of_positives(x):
    n = int(np.sum(x > 0))
    m = 0.0
    if n > 0:  # an enclosing example none of whose lanes enters must not run it (1.0 / 0 raises)
        m = float(np.sum(np.where(x > 0, x, 0))) / n
    return m


def accumulate_while(x):
    s = 0.0
    n = 0
    while n < x[0] * 3:  # a Python float accumulator over float32 data, in a masked while
        s = s + x[1]
        n += 1
    return s


def scaled_rows(x):
    s = float(x[0]) + 0.1
    out = []
    for j in range(3):
        out.append(x[j] * s)  # a Python number beside float32, through rank alignment
    return np.array(out)


@pytest.mark.parametrize(
    "f, shape, dtype",
    [
        (mean_of_positives, (2, 3, 4), np.float64),
        (accumulate_while, (2, 3, 2), np.float32),
        (scaled_rows, (2, 3, 4), np.float32),
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
    if f is mean_of_positives:
        x[1] = -x[1]  # an enclosing example with no positive entry
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
