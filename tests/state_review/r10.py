"""A review's reproducer (see tests/test_state_review.py)."""

import numpy as np

from . import r10_helper as helper


def f(x):
    helper.bump()
    return x * 3 if helper.X > 1.5 else x * 2


def reset():
    helper.X = 1.0


x = np.arange(12.0).reshape(4, 3) - 4.0


CASES = [
    (f, 0, (x,), reset),
]
