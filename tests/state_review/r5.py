"""A review's reproducer (see tests/test_state_review.py)."""

import numpy as np

NAMES = {"numpy"}


def _register():
    NAMES.add("jax")


def f(x):
    _register()
    return x * 3 if "jax" in NAMES else x * 2


def reset():
    NAMES.clear()
    NAMES.add("numpy")


x = np.arange(12.0).reshape(4, 3) - 4.0


CASES = [
    (f, 0, (x,), reset),
]
