"""A review's reproducer (see tests/test_state_review.py)."""

import numpy as np


class Holder:
    pass


HOLDER = Holder()


def _configure():
    HOLDER.scale = 5.0


def f(x):
    _configure()
    if hasattr(HOLDER, "scale"):
        return x * 2
    return x * 3


def g(x):  # no helper needed
    setattr(HOLDER, "scale", 5.0)  # noqa: B010 (the call is what is followed)
    return x * 2 if hasattr(HOLDER, "scale") else x * 3


def h(x):  # getattr's default
    _configure()
    s = getattr(HOLDER, "scale", None)
    if s is None:
        return x * 3
    return x * s


def reset():
    HOLDER.__dict__.pop("scale", None)


x = np.arange(12.0).reshape(4, 3) - 4.0


CASES = [
    (f, 0, (x,), reset),
    (g, 0, (x,), reset),
    (h, 0, (x,), reset),
]
