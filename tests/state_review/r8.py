"""A review's reproducer (see tests/test_state_review.py)."""

import numpy as np


class CIDict(dict):
    def __contains__(self, k):
        return super().__contains__(k.lower())


CI = CIDict(a=2.0)


class Falsy(dict):
    def __bool__(self):
        return False


EMPTYISH = Falsy(a=1)
REGISTRY = {}


def _register():
    REGISTRY["k"] = 3.0


def f(x):
    return x * 3 if "A" in CI else x * 2


def g(x):
    return x * 2 if EMPTYISH else x * 3


def h(x):
    _register()
    return x * 3 if "k" in REGISTRY else x * 2


x = np.arange(12.0).reshape(4, 3) - 4.0


CASES = [
    (f, 0, (x,)),
    (g, 0, (x,)),
    (h, 0, (x,), REGISTRY.clear),
]
