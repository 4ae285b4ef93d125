"""A review's reproducer (see tests/test_state_review.py)."""

import numpy as np

REGISTRY = {}


def _register():
    REGISTRY["k"] = 3.0


def f(x):
    _register()
    try:
        v = REGISTRY["k"]
    except Exception:
        return x * 2
    return x * v


x = np.arange(12.0).reshape(4, 3) - 4.0


CASES = [
    (f, 0, (x,), REGISTRY.clear),
]
