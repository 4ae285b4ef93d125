"""Seed 001: predict with fixed parameters, batched over inputs (partial, or in_axes=(None, 0))."""

from functools import partial

import numpy as np
from _check import check, finish

from astvmap import vmap

rng = np.random.default_rng(0)
params = (rng.normal(size=(64, 128)), rng.normal(size=64))  # w: (64, 128), b: (64,)


def predict(params, input_vec):
    w, b = params
    output_vec = np.dot(w, input_vec) + b
    return np.tanh(output_vec)


if __name__ == "__main__":
    X = rng.normal(size=(10, 128))  # 10 input vectors
    loop = np.stack([predict(params, x) for x in X])

    check("vmap(partial(predict, params))(X)", vmap(partial(predict, params))(X), loop)

    batched_predict = vmap(predict, in_axes=(None, 0))
    check("vmap(predict, in_axes=(None, 0))(params, X)", batched_predict(params, X), loop)

    # A keyword argument takes its parameter's in_axes entry.
    check("vmap(predict, in_axes=(None, 0))(params, input_vec=X)", batched_predict(params, input_vec=X), loop)

    w, b = params
    check(
        "  ... equals the hand-written np.tanh(X @ w.T + b)", batched_predict(params, X), np.tanh(X @ w.T + b)
    )

    print("\n" + batched_predict.source)
    finish()
