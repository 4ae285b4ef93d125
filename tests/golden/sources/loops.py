"""Golden source: a per-example `while` (a masked loop) and a `for` over `range` building a list."""

import numpy as np

from astvmap import vmap


@vmap
def newton_sqrt(a):
    x = a
    while abs(x * x - a) > 1e-12 * a:
        x = 0.5 * (x + a / x)
    return x


def running_max(x):
    out = []
    best = x[0]
    for i in range(len(x)):
        best = max(best, x[i])
        out.append(best)
    return np.array(out)


cumulative_max = vmap(running_max)


def sum_until_negative(x):
    """`break` under a per-example condition: lowered to a per-lane flag."""
    s = 0.0
    for i in range(len(x)):
        if x[i] < 0:
            break
        s = s + x[i]
    return s


def clip_in_place(x, t):
    """In-place updates under a per-example condition: only that branch's lanes change."""
    y = x.copy()
    for i in range(len(y)):
        if y[i] > t:
            y[i] = t
    return y
