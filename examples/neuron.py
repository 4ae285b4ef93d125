"""Seed 000: a single neuron, written for one input vector, run on a batch."""

import numpy as np
from _check import check, finish

from astvmap import vmap

rng = np.random.default_rng(0)
W = rng.normal(size=(5, 3))
b = rng.normal(size=3)


def neuron(x):  # x: (5,)
    assert x.ndim == 1
    return np.sum(np.tanh(np.dot(x, W) + b))


if __name__ == "__main__":
    X = rng.normal(size=(8, 5))  # 8 examples

    batched_neuron = vmap(neuron)
    check("vmap(neuron)(X)", batched_neuron(X), np.stack([neuron(x) for x in X]))
    check(
        "  ... equals the hand-written np.tanh(X @ W + b).sum(axis=1)",
        batched_neuron(X),
        np.tanh(X @ W + b).sum(axis=1),
    )

    # The batch along another axis: in_axes=1 reads examples from the columns.
    check("vmap(neuron, in_axes=1)(X.T)", vmap(neuron, in_axes=1)(X.T), np.stack([neuron(x) for x in X]))

    print("\n" + batched_neuron.source)
    finish()
