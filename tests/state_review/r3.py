"""A review's reproducer (see tests/test_state_review.py)."""

import numpy as np


def f(x):
    k = 2.0
    if x.sum() > 0 and (k := 3.0) > 0:
        pass
    return x * k


x = np.arange(12.0).reshape(4, 3) - 4.0  # rows 0 and 1 have sum <= 0


CASES = [
    (f, 0, (x,)),
]
