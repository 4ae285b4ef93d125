"""A list's items keep their own batchedness (NOTE [list items], rules/values.py): while they are known one
by one each has its own facts; where they stop being known, every item the list's Val claims batched
carries the batch axis. Each case is compared with the loop (tests/oracle.py)."""

import os
import warnings

import fuzzgen
import listgen
import numpy as np
import pytest
from oracle import assert_vmap_equivalent

N_SEEDS = int(os.environ.get("ASTVMAP_LISTGEN_SEEDS", "60"))
IN_AXES = (0, None, 0, None)


def _args(seed, B, n=5, dtype="float64", c=0.5):
    r = np.random.default_rng(seed)
    x = r.normal(size=(B, n)).astype(dtype)
    w = r.normal(size=n).astype(dtype)
    s = r.normal(size=B).astype(dtype)
    return x, w, s, c


def run_program(seed, tmp_path) -> int:
    src = listgen.generate(seed)
    f = fuzzgen.load(src, "f", os.path.join(str(tmp_path), f"lists_{seed}.py"))
    count = 0
    # B == n: an unbatched vector taken for a batched one would be indexed by lane without an error
    for B, c in ((5, 0.5), (5, -0.5), (1, 0.5)):
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            try:
                assert_vmap_equivalent(f, IN_AXES, 0, *_args(seed + B, B, c=c), allow_fallback=True)
            except Exception as e:
                e.add_note(f"listgen seed {seed}, B={B}, c={c}\n{src}")
                raise
        reported = [w for w in rec if "please report" in str(w.message)]
        assert not reported, f"an error of ours in seed {seed}: {reported[0].message}\n{src}"
        count += 1
    return count


@pytest.mark.parametrize("seed", range(N_SEEDS))
def test_generated_programs(seed, tmp_path):
    assert run_program(seed, tmp_path) == 3


# ---- the forms first reported -------------------------------------------------------------------------
def _append_on_one_path(x, w):
    lst = [x]
    if w.sum() > 0:
        lst.append(w)
    t = 0
    for v in lst:
        t = t + v
    return t


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_a_list_joined_over_paths_keeps_its_unbatched_item_per_call(sign):
    r = np.random.default_rng(0)
    x, w = r.normal(size=(5, 5)), np.abs(r.normal(size=5)) * sign
    assert_vmap_equivalent(_append_on_one_path, (0, None), 0, x, w)


def _append_in_a_loop(x, w):
    lst = [x, w]
    for i in range(2):
        lst.append(x * i)
    return sum(lst)


def test_a_mixed_list_appended_in_a_loop():
    r = np.random.default_rng(1)
    assert_vmap_equivalent(_append_in_a_loop, (0, None), 0, r.normal(size=(5, 5)), r.normal(size=5))
