"""Sets: what a rewrite knows of their items, and forgets when they change (NOTE [sets]).

A set of constants is known member by member (`set(d)` of a dict of known keys, `{"a", "b"}`), so
`if key in s`, `if s & t:` and `len(s)` decide as Python does; every change of the set in place (a
method, an alias's method, a helper it is given, a closure) forgets what was known. Its members have no
order a rewrite may rely on: a comprehension over a set is never written out item by item.
"""

import numpy as np
import pytest
from oracle import assert_vmap_equivalent


def _added(x):
    s = {x.shape}
    s.add((1, 2, 3))
    return x * 2 if len(s) == 1 else x * 3


def _added_through_an_alias(x):
    s = {"a"}
    alias = s
    alias.add("b")
    return x * 2 if len(s) == 1 else x * 3


def _added_by_a_helper(x):
    s = {"a"}
    _add_b(s)
    return x * 2 if "b" not in s else x * 3


def _add_b(items):
    items.add("b")


def _added_by_a_closure(x):
    s = {"a"}

    def inner():
        s.add("b")

    inner()
    return x * 2 if len(s) == 1 else x * 3


def _discarded(x):
    s = {"a", "b"}
    s.discard("a")
    return x * 2 if "a" in s else x * 3


def _updated(x):
    s = set()
    s.update(["a", "b"])
    return x * 2 if not s else x * 3


def _cleared(x):
    s = {"a"}
    s.clear()
    return x * 2 if s else x * 3


def _or_assigned(x):
    s = {"a"}
    s |= {"b"}
    return x * 2 if len(s) == 1 else x * 3


def _popped(x):
    s = {"a"}
    s.pop()
    return x * 2 if s else x * 3


def _kept_bound_method(x):
    s = {"a"}
    put = s.add
    put("b")
    return x * 2 if len(s) == 1 else x * 3


@pytest.mark.parametrize(
    "f",
    [
        _added,
        _added_through_an_alias,
        _added_by_a_helper,
        _added_by_a_closure,
        _discarded,
        _updated,
        _cleared,
        _or_assigned,
        _popped,
        _kept_bound_method,
    ],
)
def test_a_set_changed_in_place_is_not_what_it_was(f):
    x = np.random.default_rng(0).normal(size=(4, 3))
    assert_vmap_equivalent(f, 0, 0, x, allow_fallback=True)


def _keys_of_a_dict(x):
    d = {"a": x, "axis": 0}
    both = set(d) & {"axis", "keepdims"}
    if both:
        return x * 2
    return x * 3


def _members(x, names=("a", "b")):
    s = set(names)
    if "c" in s or "a" not in s:
        return x * 2
    return x * 3


def _difference(x):
    s = {"a", "b", "c"} - {"b"}
    if len(s) == 2 and "b" not in s:
        return x * 3
    return x * 2


def _frozen_union(x):
    s = frozenset(["a"]) | {"b"}
    return x * 3 if s == {"a", "b"} else x * 2


@pytest.mark.parametrize("f", [_keys_of_a_dict, _members, _difference, _frozen_union])
def test_sets_of_constants_decide_as_python_does(f):
    x = np.random.default_rng(1).normal(size=(4, 3))
    assert_vmap_equivalent(f, 0, 0, x)  # (no fallback: each test decided or run as written)


def _comprehension_over_a_set(x):
    shapes = {x.shape}
    return [np.zeros(s) + x for s in shapes if s is not None][0]  # noqa: RUF015 (the comprehension is the point)


def test_a_comprehension_over_a_set_is_not_written_out_by_index():
    x = np.random.default_rng(2).normal(size=(4, 3))
    assert_vmap_equivalent(_comprehension_over_a_set, 0, 0, x, allow_fallback=True)
