"""Seed 001: an RBF kernel, its Gram matrix by nested vmap of lambdas, and a covariance matrix."""

from functools import partial

import numpy as np
from _check import check, finish

from astvmap import vmap

rng = np.random.default_rng(0)


def sqeuclidean_distance(x, y):
    return np.sum((x - y) ** 2)


def rbf_kernel(params, x, y):
    return np.exp(-params["gamma"] * sqeuclidean_distance(x, y))


def gram(kernel_func, params, X, Y):
    return vmap(lambda x: vmap(lambda y: kernel_func(params, x, y))(Y))(X)


def covariance_matrix(kernel_func, x, y):
    mapx1 = vmap(lambda x, y: kernel_func(x, y), in_axes=(0, None), out_axes=0)
    mapx2 = vmap(lambda x, y: mapx1(x, y), in_axes=(None, 0), out_axes=1)
    return mapx2(x, y)


if __name__ == "__main__":
    N, M, D = 5, 4, 3
    params = {"gamma": 0.5}
    X = rng.normal(size=(N, D))
    Y = rng.normal(size=(M, D))
    loop = np.array([[rbf_kernel(params, x, y) for y in Y] for x in X])

    check(
        "vmap(rbf_kernel, in_axes=(None, 0, None))(params, X, Y[0])",
        vmap(rbf_kernel, in_axes=(None, 0, None))(params, X, Y[0]),
        np.stack([rbf_kernel(params, x, Y[0]) for x in X]),
    )

    check("gram(rbf_kernel, params, X, Y)", gram(rbf_kernel, params, X, Y), loop)
    check(
        "  ... equals the hand-written np.exp(-gamma * ((X[:, None] - Y[None]) ** 2).sum(-1))",
        gram(rbf_kernel, params, X, Y),
        np.exp(-params["gamma"] * ((X[:, None] - Y[None]) ** 2).sum(-1)),
    )

    # The same Gram matrix with the parameters bound first, and out_axes=1 doing the transposing.
    check(
        "covariance_matrix(partial(rbf_kernel, params), X, Y)",
        covariance_matrix(partial(rbf_kernel, params), X, Y),
        loop,
    )

    # A different kernel through the same code: the transform must not be shared with rbf_kernel's.
    def linear_kernel(params, x, y):
        return params["scale"] * np.dot(x, y)

    check(
        "gram(linear_kernel, {'scale': 2.0}, X, Y)",
        gram(linear_kernel, {"scale": 2.0}, X, Y),
        np.array([[linear_kernel({"scale": 2.0}, x, y) for y in Y] for x in X]),
    )
    finish()
