"""A review's reproducer (see tests/test_state_review.py)."""

import numpy as np

D = {"a": 1.0}
S = {"a"}
T = (1.0,)


def _rebind():
    global D, S, T
    D = {"a": 1.0, "b": 2.0}
    S = {"a", "b"}
    T = (1.0, 2.0)


def reset():
    global D, S, T
    D, S, T = {"a": 1.0}, {"a"}, (1.0,)


def f(x):  # dict keys
    _rebind()
    return x * 2 if "b" in D else x * 3


def g(x):  # set members
    _rebind()
    return x * 2 if "b" in S else x * 3


def h(x):  # item_missing's guard, swallowed by a broad handler
    _rebind()
    try:
        v = T[1]
    except Exception:
        v = 0.0
    return x * v


def k(x):  # the same with the exact handler: a clear error where the loop works
    _rebind()
    try:
        v = D["b"]
    except KeyError:
        v = 0.0
    return x * v


x = np.arange(12.0).reshape(4, 3) - 4.0


CASES = [
    (f, 0, (x,), reset),
    (g, 0, (x,), reset),
    (h, 0, (x,), reset),
    (k, 0, (x,), reset),
]
