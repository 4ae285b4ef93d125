"""Real library calls (tests/library_corpus.py) against the loop at B in {0, 1, 7}, and how each runs:
the cases listed in BATCHED batch whole, those in PIECES batch but for a call with no Python source
run per example (NOTE [library source]); every other case is only compared with the loop. The timed
size is `benchmarks/library_corpus.py`'s."""

import importlib.util
import warnings

import numpy as np
import pytest
from library_corpus import CASES
from oracle import assert_vmap_equivalent

import astvmap

BATCHED = {
    "special_logsumexp",
    "special_logsumexp_axis",
    "special_logsumexp_weighted",
    "special_softmax",
    "special_softmax_axis",
    "special_log_softmax",
    "integrate_trapezoid",
    "special_rel_entr",
    "special_expit_dot",
    "distance_sqeuclidean",
    "distance_cityblock",
    "distance_chebyshev",
    "distance_cosine",
    "distance_correlation",
    "distance_braycurtis",
    "distance_canberra",
    "distance_jensenshannon",
    "distance_hamming",
    "distance_jaccard",
    "distance_minkowski",
    "distance_mahalanobis",
    "linalg_norm",
    "numpy_cov",
    "numpy_corrcoef",
    "numpy_median",
    "numpy_percentile",
    "numpy_average_weighted",
    "numpy_gradient",
    "numpy_trapezoid",
    "numpy_cross",
    "numpy_kron",
    "numpy_unwrap",
    "numpy_histogram",
    "numpy_linalg_norm",
    "numpy_ptp_and_var",
    "numpy_polyval",
    "numpy_nanmean",
    "method_call",
    "method_loss",
    "namedtuple_fields",
    "dataclass_fields",
    "dict_config",
    "namedtuple_result",
}
# (`integrate_simpson` batches on Python 3.11 with scipy 1.17, not yet on 3.12/3.13 with scipy 1.18, whose
# `xp_result_type` added a handler: compared with the loop only, until that is understood)
PIECES = {"distance_euclidean", "distance_seuclidean", "distance_minkowski_weighted"}  # (BLAS nrm2)


def _available(case) -> bool:
    return importlib.util.find_spec(case.needs) is not None


def batch(case, B: int, seed: int) -> list:
    """B examples of the case's arguments, stacked along axis 0 where mapped (one shared where not)."""
    r = np.random.default_rng(seed)
    examples = [case.make(r) for _ in range(max(B, 1))]
    n = len(examples[0])
    axes = case.in_axes if isinstance(case.in_axes, tuple) else (case.in_axes,) * n
    return [examples[0][i] if axes[i] is None else np.stack([e[i] for e in examples])[:B] for i in range(n)]


@pytest.mark.parametrize("B", [0, 1, 7])
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_corpus_case_equals_the_loop(case, B):
    if not _available(case):
        pytest.skip(f"{case.needs} is not installed")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (the libraries' own warnings, and ours: checked below)
        assert_vmap_equivalent(
            case.fn, case.in_axes, 0, *batch(case, B, B + 1), allow_fallback=True, rtol=case.rtol
        )


@pytest.mark.parametrize("case", [c for c in CASES if c.name in BATCHED | PIECES], ids=lambda c: c.name)
def test_corpus_case_batches(case):
    if not _available(case):
        pytest.skip(f"{case.needs} is not installed")
    astvmap.clear_cache()  # (the warnings come with the rewrite)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        astvmap.vmap(case.fn, in_axes=case.in_axes)(*batch(case, 5, 0))
    ours = [str(w.message) for w in caught if issubclass(w.category, astvmap.PerformanceWarning)]
    if case.name in BATCHED:
        assert not ours, ours
    else:
        assert len(ours) == 1 and "runs a piece per example" in ours[0], ours
        assert "whole function" not in ours[0]


def test_corpus_is_large_enough():
    assert len(CASES) >= 60
    assert {c.needs for c in CASES} >= {"numpy", "scipy", "sklearn"}
    assert {c.name for c in CASES} >= BATCHED | PIECES
