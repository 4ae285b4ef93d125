"""Seed 002: a squared dot product, batched with in_axes=[0, 0]; integers stay integers."""

import numpy as np
from _check import check, finish

from astvmap import vmap

rng = np.random.default_rng(0)


def custom_dot(x, y):
    return np.dot(x, y) ** 2


if __name__ == "__main__":
    batched_dot = vmap(custom_dot, in_axes=[0, 0])

    x = np.asarray([[2, 2, 2], [3, 3, 3]])
    y = np.asarray([[4, 4, 4], [5, 5, 5]])
    result = batched_dot(x, y)
    print(repr(result))  # array([ 576, 2025])
    check(
        "vmap(custom_dot, in_axes=[0, 0]) on integer rows",
        result,
        np.stack([custom_dot(a, b) for a, b in zip(x, y)]),
    )

    # Per-example scalars: x, y of shape (B,).
    xs, ys = rng.normal(size=6), rng.normal(size=6)
    check(
        "vmap(custom_dot, in_axes=[0, 0]) on scalars",
        batched_dot(xs, ys),
        np.stack([custom_dot(a, b) for a, b in zip(xs, ys)]),
    )

    # Per-example vectors of length D = 3, float.
    X, Y = rng.normal(size=(7, 3)), rng.normal(size=(7, 3))
    check(
        "vmap(custom_dot, in_axes=[0, 0]) on float rows",
        batched_dot(X, Y),
        np.stack([custom_dot(a, b) for a, b in zip(X, Y)]),
    )
    check(
        '  ... equals the hand-written np.einsum("bi,bi->b", X, Y) ** 2',
        batched_dot(X, Y),
        np.einsum("bi,bi->b", X, Y) ** 2,
    )

    # One vector against many.
    check(
        "vmap(custom_dot, in_axes=[None, 0])(X[0], Y)",
        vmap(custom_dot, in_axes=[None, 0])(X[0], Y),
        np.stack([custom_dot(X[0], b) for b in Y]),
    )

    print("\n" + batched_dot.source)
    finish()
