"""A review's reproducer (see tests/test_state_review.py)."""

import numpy as np


def f(x):
    a = [1.0]
    if b := a:
        b.append(5.0)
    return x * len(a)  # loop: x * 2; vmap: x * (1 + B)


x = np.arange(12.0).reshape(4, 3) - 4.0


CASES = [
    (f, 0, (x,)),
]
