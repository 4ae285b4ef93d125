"""A review's reproducer (see tests/test_state_review.py)."""

import numpy as np


def f(x):
    lst = [x]
    list(map(lst.append, [x * 2]))
    return x * len(lst)  # loop: x * 2


def g(x):  # with 7f017ba's item_missing, a handler now silently takes over
    lst = [x]
    list(map(lst.append, [x * 2]))
    try:
        v = lst[1]
    except IndexError:
        v = x * 0
    return v


x = np.arange(12.0).reshape(4, 3) - 4.0


CASES = [
    (f, 0, (x,)),
    (g, 0, (x,)),
]
