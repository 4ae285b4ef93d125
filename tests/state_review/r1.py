"""A review's reproducer (see tests/test_state_review.py)."""

import numpy as np


def f(x):
    k = x  # an array
    if (k := 2.0) > 1:
        pass
    return x * k  # loop: x * 2.0; vmap: x * x


def g(x):  # same through a conditional expression
    k = 2.0
    y = x if (k := 3.0) else -x
    return y * k  # loop: x * 3; vmap: x * 2


def h(x):  # and through a `while` test that is false on entry
    k = 2.0
    while (k := k + 1.0) < 2:
        pass
    return x * k  # loop: x * 3; vmap: x * 2


x = np.arange(12.0).reshape(4, 3) - 4.0


CASES = [
    (f, 0, (x,)),
    (g, 0, (x,)),
    (h, 0, (x,)),
]
