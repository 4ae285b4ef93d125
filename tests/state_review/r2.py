"""A review's reproducer (see tests/test_state_review.py)."""

import numpy as np


def f(x, flag):
    k = 2.0
    if flag.sum() > 0 and (k := 3.0) > 0:
        pass
    if k > 2.5:  # folded: k is "3.0"
        return x * 3
    return x * 2


def g(x, flag):
    k = 2.0
    y = (k := 3.0) if flag.sum() > 0 else 1.0
    return x * (10 if k == 3.0 else 1) + y


x = np.arange(12.0).reshape(4, 3) - 4.0
flag = np.zeros(3)  # flag.sum() > 0 is False: the walrus never runs


CASES = [
    (f, (0, None), (x, flag)),
    (g, (0, None), (x, flag)),
]
