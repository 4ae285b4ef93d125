"""Seed 001: distances between vectors, pair by pair and all pairs (nested vmap)."""

from functools import partial

import numpy as np
from _check import check, finish

from astvmap import vmap

rng = np.random.default_rng(0)


def sqeuclidean_distance(x, y):
    return np.sum((x - y) ** 2)


def euclidean_distance(x, y, square=False):
    d = np.sum((x - y) ** 2)
    return d if square else np.sqrt(d)


if __name__ == "__main__":
    N, M, D = 5, 4, 3
    X = rng.normal(size=(N, D))
    Y = rng.normal(size=(M, D))
    Z = rng.normal(size=(N, D))

    # Row by row: distance between X[i] and Z[i].
    check(
        "vmap(sqeuclidean_distance)(X, Z)",
        vmap(sqeuclidean_distance)(X, Z),
        np.stack([sqeuclidean_distance(x, z) for x, z in zip(X, Z)]),
    )
    check(
        "vmap(euclidean_distance)(X, Z)",
        vmap(euclidean_distance)(X, Z),
        np.stack([euclidean_distance(x, z) for x, z in zip(X, Z)]),
    )
    check(
        "vmap(partial(euclidean_distance, square=True))(X, Z)",
        vmap(partial(euclidean_distance, square=True))(X, Z),
        np.stack([euclidean_distance(x, z, square=True) for x, z in zip(X, Z)]),
    )

    # From one point to many: in_axes=(None, 0).
    check(
        "vmap(euclidean_distance, in_axes=(None, 0))(X[0], Y)",
        vmap(euclidean_distance, in_axes=(None, 0))(X[0], Y),
        np.stack([euclidean_distance(X[0], y) for y in Y]),
    )

    # All pairs: the inner vmap maps Y, the outer one maps X.  Result (N, M).
    pairwise = vmap(vmap(partial(euclidean_distance, square=True), in_axes=(None, 0)), in_axes=(0, None))
    loop = np.array([[euclidean_distance(x, y, square=True) for y in Y] for x in X])
    check("pairwise squared distances, nested vmap", pairwise(X, Y), loop)
    check(
        "  ... equals the hand-written ((X[:, None, :] - Y[None, :, :]) ** 2).sum(-1)",
        pairwise(X, Y),
        ((X[:, None, :] - Y[None, :, :]) ** 2).sum(-1),
    )

    pairwise_sq = vmap(vmap(sqeuclidean_distance, in_axes=(None, 0)), in_axes=(0, None))
    check(
        "pairwise sqeuclidean_distance, nested vmap",
        pairwise_sq(X, Y),
        np.array([[sqeuclidean_distance(x, y) for y in Y] for x in X]),
    )

    pairwise_euclid = vmap(vmap(euclidean_distance, in_axes=(None, 0)), in_axes=(0, None))
    check(
        "pairwise euclidean_distance, nested vmap",
        pairwise_euclid(X, Y),
        np.array([[euclidean_distance(x, y) for y in Y] for x in X]),
    )

    print("\n" + pairwise.source)
    finish()
