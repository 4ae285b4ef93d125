"""Quickstart: write `predict` for one input vector, get it for a batch of them.

pip install -e . && python examples/quickstart.py
"""

import numpy as np

import astvmap

rng = np.random.default_rng(0)
w = rng.normal(size=(64, 128))
b = rng.normal(size=64)
params = (w, b)


@astvmap.vmap(in_axes=(None, 0))  # params: the same for every example; x: mapped along axis 0
def predict(params, x):
    w, b = params
    return np.tanh(np.dot(w, x) + b)


if __name__ == "__main__":
    X = rng.normal(size=(1000, 128))  # 1000 input vectors of length 128

    Y = predict(params, X)
    print("result shape:", Y.shape)  # (1000, 64)

    # The promise: exactly what a Python loop over the examples returns.
    Y_loop = np.stack([np.tanh(np.dot(w, x) + b) for x in X])
    same = np.allclose(Y, Y_loop)
    print("same as the Python loop:", same)

    print("\nThe code that ran (predict.source):\n")
    print(predict.source)
    raise SystemExit(0 if same else 1)
