"""A list's items keep their own batchedness (NOTE [list items], rules/values.py): while they are known one
by one each has its own facts; where they stop being known, every item the list's Val claims batched
carries the batch axis. Each case is compared with the loop (tests/oracle.py)."""

import os

import follow_review
import fuzzgen
import listgen
import lists_review
import numpy as np
import pytest
from oracle import assert_generated_program, assert_vmap_equivalent

import astvmap

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
        assert_generated_program(
            f, IN_AXES, _args(seed + B, B, c=c), f"listgen seed {seed}, B={B}, c={c}\n{src}"
        )
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


# ---- the values of a list's items (NOTE [constants]) ----------------------------------------------------
def _result_type_of(*args):
    """scipy's xp_result_type, in short: decided item by item from the values it was given."""
    args = [a for a in args if a is not None]
    args.append(1.0)
    floats = []
    for a in args:
        arr = np.asarray(a) if np.isscalar(a) else a
        if np.isdtype(arr.dtype, ("real floating", "complex floating")):
            floats.append(a)
    return np.result_type(*floats)


def _promoted(x, w):
    return x.astype(_result_type_of(x, None, w)) * 2


def test_items_a_list_alone_holds_keep_their_values_and_decide():
    r = np.random.default_rng(2)
    x, w = r.normal(size=(5, 5)).astype("float32"), r.normal(size=5)
    assert_vmap_equivalent(_promoted, (0, None), 0, x, w)  # (no fallback: each `if` decided)


def _replaced_through_an_alias(x):
    lst = [x, None]
    alias = lst
    alias[1] = 2.0
    return x * 3.0 if lst[1] is None else x * lst[1]


def _replaced_by_a_helper(x):
    lst = [x, None]
    _set_second(lst, 2.0)
    return x * 3.0 if lst[1] is None else x * lst[1]


def _set_second(items, v):
    items[1] = v


def _replaced_by_a_closure(x):
    lst = [1.0, None]

    def inner():
        lst[1] = 2.0

    inner()
    return x * 3.0 if lst[1] is None else x * lst[1]


def _replaced_by_a_kept_bound_method(x):
    lst = [1.0, None]
    put = lst.__setitem__
    put(1, 2.0)
    return x * 3.0 if lst[1] is None else x * lst[1]


@pytest.mark.parametrize(
    "f",
    [
        _replaced_through_an_alias,
        _replaced_by_a_helper,
        _replaced_by_a_closure,
        _replaced_by_a_kept_bound_method,
    ],
)
def test_items_another_holder_replaces_are_not_constants(f):
    x = np.random.default_rng(3).normal(size=(5, 5))
    assert_vmap_equivalent(f, 0, 0, x, allow_fallback=True)


# ---- found by review: lists of mixed items in every form (tests/test_list_items.py) ------------------------


def review_A1(x, w, s, c):
    lst = [w]
    for i in range(2):
        lst.append(w)
    lst.append(s)
    return lst[1] * 3 + x * 0


def review_A2(x, w, s, c):
    lst = [w]
    if c > 0:
        lst.append(w)
    lst.append(s)
    return sum(lst)


def review_A3(x, w, s, c):
    lst = [w, None]
    for i in range(2):
        lst.append(w)
    lst.append(x)
    n = 0
    for v in lst:
        if v is None:
            n = n + 1
    return x * n


def review_B1(x, w, s, c):
    lst = [w, x]
    t = 0
    for i, v in enumerate(lst):
        t = t + v * (i + 1)
    return t


def review_B2(x, w, s, c):
    lst = [w, x]
    return list(zip(lst, lst))


def review_C1(x, w, s, c):
    lst = [x, w]
    k = 1 if c > 0 else 0
    lst[k] = w
    t = 0
    for v in lst:
        t = t + v
    return t


def review_D1(x, w, s, c):
    lst = [w, x]
    n = 2 if c > 0 else 1
    return lst * n


def review_E1(x, w, s, c):
    lst = [w, x, w]
    return lst[int(c > 0) :]


def review_F1(x, w, s, c):
    lst = [w]
    return [x] + lst.copy()


def review_G1(x, w, s, c):
    lst = [w, w * 2].copy()
    v = w * 10  # noqa: F841 - the comprehension's own `v` shadows it: a temporary bound outside would read this one
    return [v + x for v in lst]


def review_H1(x, w, s, c):
    d = {}
    d["a"] = w
    d["b"] = x
    return d["a"]


REVIEW = [v for k, v in sorted(globals().items()) if k.startswith("review_")]


@pytest.mark.parametrize("f", REVIEW, ids=lambda f: f.__name__)
@pytest.mark.parametrize("c", [0.5, -0.5])
def test_review_cases(f, c):
    assert_vmap_equivalent(f, IN_AXES, 0, *_args(7, 5, c=c), allow_fallback=True)


def review_G2(x, w, s, c):
    lst = [w, c]
    v = w * 10  # noqa: F841 - the comprehension's own `v` shadows it: a temporary bound outside would read this one
    return [v + x for v in lst]


def review_G3(x, w, s, c):
    lst = [w, c]
    return sum([v * x for v in lst if v is not None])


REVIEW += [review_G2, review_G3]


def review_G4(x, w, s, c):
    lst = []
    for i in range(3):
        lst.append(w * i)
    lst.append(c)
    v = w * 10  # noqa: F841 - the comprehension's own `v` shadows it: a temporary bound outside would read this one
    return [v + x for v in lst]


REVIEW += [review_G4]


def review_H2(x, w, s, c):
    d = {}
    d["a"] = w
    d["b"] = float(x[0])  # (per example only: a region loop changes `d`)
    return d["a"] + d["b"]


def review_H3(x, w, s, c):
    lst = [w]
    lst.append(float(x[0]))
    return lst[0] * lst[1]


REVIEW += [review_H2, review_H3]


# ---- found by a third review (tests/lists_review.py) ---------------------------------------------------
_GAPS = {  # (a clear error where the loop returns: strict, so that a fix is noticed)
    "f_ternary_ranks": "a value of different ranks on two per-example paths is one array only per example",
}
THIRD = [
    pytest.param(f, marks=pytest.mark.xfail(strict=True, reason=_GAPS[n])) if n in _GAPS else f
    for n, f in ((n, getattr(lists_review, n)) for n in dir(lists_review) if n.startswith("f_"))
]


@pytest.mark.parametrize("f", THIRD, ids=lambda f: f.__name__)
def test_third_review_cases(f):
    assert_vmap_equivalent(f, IN_AXES, 0, *_args(11, 5, c=0.7), allow_fallback=True)


def test_a_default_list_a_helper_appends_to_grows_once_per_example():
    """The loop appends to the one default list once per example: so must vmap (it runs per example)."""
    acc = lists_review._dflt.__defaults__[0]
    acc.clear()
    astvmap.vmap(lists_review.mutable_default, IN_AXES)(*_args(12, 5, c=0.7))
    assert len(acc) == 2 * 5


ACROSS_HELPERS = [
    "r_helper_list_append",
    "r_helper_list_then_append",
    "r_np_split_append",
    "r_helper_fills_given_list",
    "r_helper_appends_to_given",
]
GIVEN_TO_HELPERS = ["r_accumulator_none_default", "r_reversed_mixed_list"]


@pytest.mark.parametrize("name", ACROSS_HELPERS + GIVEN_TO_HELPERS)
def test_lists_built_across_helpers(name):
    """A list a helper made and returned is the caller's alone, and a helper's appends to a list it is
    given (and keeps nothing of) are followed back: both batch. A helper that returns the list it was
    given, and `reversed` of a mixed list, run per example."""
    f = getattr(lists_review, name)
    r = np.random.default_rng(3)
    x, w = r.normal(size=(5, 8)), r.normal(size=8)
    in_axes = (0, None) if "w" in f.__code__.co_varnames[: f.__code__.co_argcount] else (0,)
    args = (x, w)[: len(in_axes)]
    assert_vmap_equivalent(f, in_axes, 0, *args, allow_fallback=name in GIVEN_TO_HELPERS)


# ---- found by a fourth review: lists followed across calls (tests/follow_review.py) ---------------------
FOLLOW = [getattr(follow_review, n) for n in dir(follow_review) if n.startswith("f_")]


@pytest.mark.parametrize("f", FOLLOW, ids=lambda f: f.__name__)
def test_follow_review_cases(f):
    assert_vmap_equivalent(f, IN_AXES, 0, *_args(13, 5, c=0.7), allow_fallback=True)


def test_a_list_a_helper_returns_from_a_global_grows_once_per_example():
    follow_review._BUF.clear()
    astvmap.vmap(follow_review.global_returned, IN_AXES)(*_args(14, 5, c=0.7))
    assert len(follow_review._BUF) == 5


def _replaced_by_its_own_method(x):
    lst = [None]
    lst.__setitem__(0, 2.0)
    return x * 3 if lst[0] is None else x * lst[0]


def _inserted_before(x):
    lst = [None]
    lst.insert(0, 2.0)
    return x * 3 if lst[0] is None else x * lst[0]


def _replaced_in_a_comprehension(x):
    lst = [None]
    [lst.__setitem__(0, 2.0) for _ in range(1)]
    return x * 3 if lst[0] is None else x * lst[0]


def _appended_in_a_comprehension(x):
    lst = [x]
    [lst.append(x * 2) for _ in range(3)]
    return lst[3] + lst[0]


def _popped_in_a_comprehension(x):
    d = {"a": x}
    ys = [d.pop("a", x * 3) for _ in range(2)]
    return ys[1] + len(d)


@pytest.mark.parametrize(
    "f",
    [
        _replaced_by_its_own_method,
        _inserted_before,
        _replaced_in_a_comprehension,
        _appended_in_a_comprehension,
        _popped_in_a_comprehension,
    ],
)
def test_a_method_that_puts_items_in_forgets_what_they_were(f):
    # (a method that adds or replaces items leaves the list's item unknown: `None` may be a number now)
    x = np.random.default_rng(4).normal(size=(4, 3))
    assert_vmap_equivalent(f, 0, 0, x, allow_fallback=True)
