"""A review's reproducer (see tests/test_state_review.py)."""

import numpy as np

COUNT = 0


def _tick():
    global COUNT
    COUNT += 1
    return COUNT


def f(x):
    return x * _tick()


def reset():
    global COUNT
    COUNT = 0


x = np.arange(12.0).reshape(4, 3) - 4.0


CASES = [
    (f, 0, (x,), reset),
]
