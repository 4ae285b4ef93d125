"""A review's reproducer (see tests/test_state_review.py)."""

import numpy as np


def f(x):
    lst = [[1.0], [2.0]]
    lst[0:1] = [None]
    return x * 2 if lst[0] is None else x * 3


def g(x):  # the same through the method
    lst = [[1.0], [2.0]]
    lst.__setitem__(slice(0, 1), [None])
    return x * 2 if lst[0] is None else x * 3


x = np.arange(12.0).reshape(4, 3) - 4.0


CASES = [
    (f, 0, (x,)),
    (g, 0, (x,)),
]
