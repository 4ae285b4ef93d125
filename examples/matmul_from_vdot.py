"""Seed 001: matrix-vector and matrix-matrix products built from a dot product by vmap alone."""

import numpy as np
from _check import check, finish

from astvmap import vmap

rng = np.random.default_rng(0)

vv = lambda x, y: np.vdot(x, y)
mv = vmap(vv, (0, None), 0)  # ([b, a], [a]) -> [b]      (b maps over rows of the matrix)
mm = vmap(mv, (None, 1), 1)  # ([b, a], [a, c]) -> [b, c] (c maps over columns of the second)


if __name__ == "__main__":
    A = rng.normal(size=(4, 3))  # b = 4, a = 3
    B = rng.normal(size=(3, 5))  # a = 3, c = 5
    x = rng.normal(size=3)

    check("vv(x, x)", vv(x, x), x @ x)
    check("mv(A, x)", mv(A, x), np.stack([vv(row, x) for row in A]))
    check("  ... equals A @ x", mv(A, x), A @ x)
    check("mm(A, B)", mm(A, B), np.stack([np.stack([vv(row, col) for row in A]) for col in B.T], axis=1))
    check("  ... equals A @ B", mm(A, B), A @ B)

    print("\n" + mm.source)
    finish()
