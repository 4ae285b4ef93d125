"""A review's reproducers (tests/wrapper_review.py), each a wrong result once: sets changed in place by
`|=`, one dict given as two parameters, a one-item `for` whose body grows its list, a `return` in a
`try` under a batched `if`, conversions of strings and helpers that raise for some examples only inside
a `try`, parts of an introspection's answer changed, containers inside containers changed through
another name, `__init__` called again, and `inspect.signature` of a wrapper whose wrapped function
changed. Each is compared with the loop."""

import numpy as np
import pytest
import wrapper_review as R
from oracle import assert_vmap_equivalent

import astvmap

CASES = sorted(n for n in dir(R) if n.startswith("r") and n[1].isdigit() and "_" in n and n != "r9_f")


@pytest.mark.parametrize("name", CASES)
def test_review_cases(name):
    x = np.arange(12.0).reshape(4, 3)
    assert_vmap_equivalent(getattr(R, name), 0, 0, x, allow_fallback=True)


def test_a_signature_follows_the_wrapped_function_it_reads():
    x = np.arange(6.0).reshape(2, 3)
    v = astvmap.vmap(R.r9_f)
    saved = R.r9_inner.__defaults__
    try:
        np.testing.assert_array_equal(v(x), np.stack([R.r9_f(r) for r in x]))
        R.r9_inner.__defaults__ = (5.0,)  # (signature(r9_outer) reports b=5.0 now)
        np.testing.assert_array_equal(v(x), np.stack([R.r9_f(r) for r in x]))
    finally:
        R.r9_inner.__defaults__ = saved
