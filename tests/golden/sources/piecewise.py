"""Golden source: a per-example `if` (both branches run, selected per lane)."""

import numpy as np

from astvmap import vmap


@vmap
def softplus(x):
    if x > 20.0:
        y = x
    else:
        y = np.log1p(np.exp(x))
    return y


@vmap(in_axes=(0, None))
def clip_norm(v, limit):
    n = np.sqrt(np.sum(v * v))
    if n > limit:
        v = v * (limit / n)
    return v


def piecewise3(x):
    """Three branches, early returns."""
    if x < -1.0:
        return -x - 0.5
    elif x < 1.0:
        return 0.5 * x * x
    return x - 0.5


def nested_if(x, y):
    """An unbatched-shape `if` inside batched ones."""
    if x > 0:
        if y > x:
            z = y - x
        else:
            z = x - y
    else:
        z = 0.0
    return z
