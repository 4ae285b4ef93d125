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
