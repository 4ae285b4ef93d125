"""A review's reproducer (see tests/test_state_review.py)."""

import numpy as np

MODE = None


def _set_mode():
    global MODE
    MODE = 3.0


def f(x):
    _set_mode()
    if MODE is None:
        return x * 2
    return x * MODE


def g(x):
    _set_mode()
    return x * 3 if MODE else x * 2


def reset():
    global MODE
    MODE = None


x = np.arange(12.0).reshape(4, 3) - 4.0


CASES = [
    (f, 0, (x,), reset),
    (g, 0, (x,), reset),
]
