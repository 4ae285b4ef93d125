"""A review's reproducer (see tests/test_state_review.py)."""

import numpy as np

MODE = None


def _set_mode():
    global MODE
    MODE = 3.0


def f(x):
    for i in range(2):
        r = x * 2 if MODE is None else x * 3
        _set_mode()
    return r


def reset():
    global MODE
    MODE = None


x = np.arange(12.0).reshape(4, 3) - 4.0


CASES = [
    (f, 0, (x,), reset),
]
