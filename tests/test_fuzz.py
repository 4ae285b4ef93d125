"""Random programs (tests/fuzzgen.py) run through the loop oracle: astvmap.vmap must equal the loop.

Each seed is one generated per-example function ``f(x, m, s, i)`` (2-8 statements: arithmetic, ufuncs,
reductions, contractions, indexing with the batched int ``i``, ``np.where``, reshapes, ``if``/ternaries,
``and``/``or``, ``for`` accumulations and list building, capped ``while`` loops, helper calls, tuple
returns), checked for 3 random ``in_axes`` placements (mapped or ``None``, negative axes too) and batch sizes
from {0, 1, 3, 7, n}. Fallbacks (``PerformanceWarning``) are allowed; an internal error masked as a
fallback ("please report this") is a failure.

``SEEDS`` are seeds that pass today. ``KNOWN_FAILING`` are seeds below max(SEEDS) that fail today (most on
``m[i, 0]`` / ``m[:, i]``: a batched int inside a tuple index); they run only with ASTVMAP_FUZZ_KNOWN=1:
move a seed into ``SEEDS`` once its bug is fixed. More seeds: ``ASTVMAP_FUZZ_SEEDS=1000-1200``.
"""
import os

import pytest

import fuzzgen

SEEDS = [
    0, 3, 5, 6, 13, 14, 16, 19, 22, 24, 25, 26, 27, 29, 30, 31, 32, 38, 41, 42, 43, 44, 45, 47, 48, 50,
    51, 53, 56, 58, 59, 61, 62, 63, 64, 65, 68, 71, 73, 75, 76, 81, 83, 85, 86, 87, 90, 92, 93, 94, 97,
    99, 100, 101, 104, 105, 106, 108, 110, 111, 113, 115, 117, 118, 119, 120, 121, 122, 123, 124, 125,
    126, 127, 129, 130, 131, 134, 138, 141, 142, 145, 151, 153, 154, 156, 158, 159, 160, 161, 162, 164,
    165, 166, 169, 170, 171, 173, 175, 176, 177, 178, 179, 180, 181, 184, 187, 191, 192, 194, 195, 197,
    198, 200, 203, 204, 206, 207, 208, 209, 211, 213, 216, 217, 223, 225, 228, 230, 233, 234, 236, 239,
    243, 244, 245, 247, 248, 251, 253, 257, 262, 263, 264, 267, 268, 269, 271, 272, 274, 275, 276
]

KNOWN_FAILING = [
    1, 2, 4, 7, 8, 9, 10, 11, 12, 15, 17, 18, 20, 21, 23, 28, 33, 34, 35, 36, 37, 39, 40, 46, 49, 52,
    54, 55, 57, 60, 66, 67, 69, 70, 72, 74, 77, 78, 79, 80, 82, 84, 88, 89, 91, 95, 96, 98, 102, 103,
    107, 109, 112, 114, 116, 128, 132, 133, 135, 136, 137, 139, 140, 143, 144, 146, 147, 148, 149, 150,
    152, 155, 157, 163, 167, 168, 172, 174, 182, 183, 185, 186, 188, 189, 190, 193, 196, 199, 201, 202,
    205, 210, 212, 214, 215, 218, 219, 220, 221, 222, 224, 226, 227, 229, 231, 232, 235, 237, 238, 240,
    241, 242, 246, 249, 250, 252, 254, 255, 256, 258, 259, 260, 261, 265, 266, 270, 273
]


def _extra_seeds():
    spec = os.environ.get("ASTVMAP_FUZZ_SEEDS")
    if not spec:
        return []
    lo, _, hi = spec.partition("-")
    return list(range(int(lo), int(hi or lo) + 1))


@pytest.mark.parametrize("seed", SEEDS + _extra_seeds())
def test_fuzz(seed, tmp_path):
    assert fuzzgen.run_case(seed, tmp_path) > 0


@pytest.mark.skipif(not os.environ.get("ASTVMAP_FUZZ_KNOWN"), reason="known astvmap bugs; ASTVMAP_FUZZ_KNOWN=1")
@pytest.mark.parametrize("seed", KNOWN_FAILING)
def test_fuzz_known_failing(seed, tmp_path):
    fuzzgen.run_case(seed, tmp_path)


def test_generator_is_deterministic():
    assert fuzzgen.generate(12345) == fuzzgen.generate(12345)
