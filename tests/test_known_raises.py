"""Code the rewrite knows raises, whatever the values, and the paths that end there.

A call whose arguments do not fit the callee's parameters raises TypeError before its body runs; an item
a dict of known keys does not hold (`sys.modules["pandas"]` where pandas was never imported) raises
KeyError. The rewrite keeps such code as written (it raises when it runs, as the loop's does) and knows
what follows it on its path never runs: a `try` whose body raises takes its handlers' paths only, and a
function whose every path returns has no implicit `return None`.
"""

import json
import sys

import numpy as np
import pytest
from oracle import assert_vmap_equivalent

import astvmap


def _takes_one(a):
    return a * 2


def _bad_call_in_an_unused_handler(x):
    d = {"a": x}
    try:
        y = d.pop("a")
    except KeyError:
        _takes_one(x, a=x)  # (TypeError if it ran: it never does)
        y = x * 0
    return y * 3


def _no_such_module(x):
    try:
        mod = sys.modules["astvmap_no_such_module_anywhere"]
    except KeyError:
        return False
    return isinstance(x, mod.Thing)


def _skips_what_no_module_makes(x):
    kept = []
    for a in (x,):
        if _no_such_module(a):
            continue
        kept.append(a)
    return np.add(*kept, 1.0)  # (`*kept` of a length known when rewriting: one item, batched)


def _item_of_a_tuple_or_the_default(x):
    t = (x, x * 2)
    try:
        return t[2]
    except IndexError:
        return t[1] + 1


@pytest.mark.parametrize(
    "f", [_bad_call_in_an_unused_handler, _skips_what_no_module_makes, _item_of_a_tuple_or_the_default]
)
def test_paths_that_raise_are_known_and_end(f):
    x = np.random.default_rng(0).normal(size=(5, 3))
    assert_vmap_equivalent(f, 0, 0, x)  # (batched: no per-example loop)


def _bad_call(x):
    return _takes_one(x, a=x)


def _missing_key(x):
    d = {"a": x}
    return d["b"]


@pytest.mark.parametrize("f, error", [(_bad_call, TypeError), (_missing_key, KeyError)])
def test_code_that_raises_raises_as_the_loop_does(f, error):
    x = np.random.default_rng(1).normal(size=(5, 3))
    with pytest.raises(error):
        f(x[0])
    with pytest.raises(error):
        astvmap.vmap(f)(x)


REGISTRY: dict = {}


def _register():
    REGISTRY["k"] = 3.0


def _reads_what_a_helper_registers(x):
    _register()
    try:
        v = REGISTRY["k"]
    except KeyError:
        return x * 2
    return x * v


def test_an_item_a_helper_stores_before_the_read_is_read_as_it_is_then():
    # (the rewrite reads REGISTRY before `_register()` runs; the helper's store is repeatable, so the
    # call runs once for the batch, and what follows reads REGISTRY as it is when read: Context.touched)
    x = np.ones((4, 3))
    REGISTRY.clear()
    got = astvmap.vmap(_reads_what_a_helper_registers)(x)
    REGISTRY.clear()
    want = np.stack([_reads_what_a_helper_registers(e) for e in x])
    REGISTRY.clear()
    np.testing.assert_array_equal(got, want)


def _copied_per_example(x):
    d = json.loads(json.dumps({"a": float(x[0])}))  # (per example: a dict, made where no rule reaches)
    e = d.copy()
    return x * e["a"]


def test_a_method_of_a_value_of_unknown_kind_is_each_examples_own():
    # (the per-example loop of `d.copy()` calls each example's own `copy`, not `np.ndarray.copy`)
    x = np.random.default_rng(2).normal(size=(4, 3))
    assert_vmap_equivalent(_copied_per_example, 0, 0, x, allow_fallback=True)
