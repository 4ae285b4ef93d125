"""Seed 003: x * x, and a 1-D convolution written as a Python loop, batched over signals and windows."""

import numpy as np
from _check import check, check_raises, finish
from numpy.lib.stride_tricks import sliding_window_view

from astvmap import vmap

rng = np.random.default_rng(0)

square = lambda x: x * x


def convolve(x, w):  # window fixed at 3: w has length 3
    output = []
    for i in range(1, len(x) - 1):
        output.append(np.dot(x[i - 1 : i + 2], w))
    return np.array(output)


def convolve_k(x, w):  # general window: len(w) = k
    k = len(w)
    output = []
    for i in range(len(x) - k + 1):
        output.append(np.dot(x[i : i + k], w))
    return np.array(output)


if __name__ == "__main__":
    check(
        "vmap(lambda x: x * x, in_axes=(0,))(np.array([1, 2, 3]))",
        vmap(square, in_axes=(0,))(np.array([1, 2, 3])),
        np.array([square(v) for v in [1, 2, 3]]),
    )

    B = 4
    xs = rng.normal(size=(B, 5))
    ws = rng.normal(size=(B, 3))
    w = np.array([2.0, 3.0, 4.0])

    batched_convolve = vmap(convolve)
    check(
        "vmap(convolve)(xs, ws)",
        batched_convolve(xs, ws),
        np.stack([convolve(x, wi) for x, wi in zip(xs, ws)]),
    )
    check(
        '  ... equals np.einsum("bij,bj->bi", sliding_window_view(xs, 3, axis=1), ws)',
        batched_convolve(xs, ws),
        np.einsum("bij,bj->bi", sliding_window_view(xs, 3, axis=1), ws),
    )
    check(
        "vmap(convolve, in_axes=[0, None])(xs, w)",
        vmap(convolve, in_axes=[0, None])(xs, w),
        np.stack([convolve(x, w) for x in xs]),
    )

    k = 4
    long_xs = rng.normal(size=(B, 12))
    long_ws = rng.normal(size=(B, k))
    check(
        "vmap(convolve_k)(long_xs, long_ws)",
        vmap(convolve_k)(long_xs, long_ws),
        np.stack([convolve_k(x, wi) for x, wi in zip(long_xs, long_ws)]),
    )
    check(
        "vmap(convolve_k, in_axes=[0, None])(long_xs, long_ws[0])",
        vmap(convolve_k, in_axes=[0, None])(long_xs, long_ws[0]),
        np.stack([convolve_k(x, long_ws[0]) for x in long_xs]),
    )

    # Two mistakes of the seed tutorial that must not be imitated:
    # a 1-D argument has no axis 1 to map over ...
    check_raises(
        "vmap(convolve, in_axes=(0, 1))(x, w) with 1-D x, w is an error",
        lambda: vmap(convolve, in_axes=(0, 1))(xs[0], w),
    )
    # ... and with nothing mapped, the batch size must be given (axis_size=), as in jax.
    check_raises(
        "vmap(convolve, in_axes=None)(x, w) without axis_size is an error",
        lambda: vmap(convolve, in_axes=None)(xs[0], w),
    )
    check(
        "vmap(convolve, in_axes=None, axis_size=2)(x, w) repeats the one result",
        vmap(convolve, in_axes=None, axis_size=2)(xs[0], w),
        np.stack([convolve(xs[0], w)] * 2),
    )

    print("\n" + batched_convolve.source)
    finish()
