"""Hand-written `numba.njit(parallel=True)` kernels for the benchmark workloads: the peer "numba_hand",
what a Numba user writes by hand (one `prange` over the batch, scalar loops inside, outputs allocated
once). They are the yardstick for astvmap's jit backend: same compiler, written by a person.

Imported only by the benchmark when the peer is asked for (it imports numba).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numba import njit, prange

from . import workloads as wl

if TYPE_CHECKING:
    from typing import Literal, TypedDict

    class _Flags(TypedDict):
        """The `njit` options of every kernel (a TypedDict, so the type checker matches `**_FLAGS`)."""

        parallel: bool
        error_model: Literal["python", "numpy"]
        cache: bool


_FLAGS: _Flags = {"parallel": True, "error_model": "numpy", "cache": True}


@njit(**_FLAGS)
def _neuron(X, W, b, out):
    for i in prange(X.shape[0]):
        acc = 0.0
        for j in range(W.shape[1]):
            s = b[j]
            for k in range(X.shape[1]):
                s += X[i, k] * W[k, j]
            acc += np.tanh(s)
        out[i] = acc


@njit(**_FLAGS)
def _predict(w, bias, X, out):
    for i in prange(X.shape[0]):
        for j in range(w.shape[0]):
            s = 0.0
            for k in range(w.shape[1]):
                s += w[j, k] * X[i, k]
            out[i, j] = np.tanh(s + bias[j])


@njit(**_FLAGS)
def _custom_dot(X, Y, out):
    for i in prange(X.shape[0]):
        s = 0.0
        for k in range(X.shape[1]):
            s += X[i, k] * Y[i, k]
        out[i] = s * s


@njit(**_FLAGS)
def _convolve(X, Wt, out):
    for i in prange(X.shape[0]):
        for j in range(out.shape[1]):
            s = 0.0
            for k in range(Wt.shape[1]):
                s += X[i, j + k] * Wt[i, k]
            out[i, j] = s


@njit(**_FLAGS)
def _gram(X, Y, gamma, rbf, out):
    for i in prange(X.shape[0]):
        for j in range(Y.shape[0]):
            s = 0.0
            for k in range(X.shape[1]):
                d = X[i, k] - Y[j, k]
                s += d * d
            out[i, j] = np.exp(-gamma * s) if rbf else s


@njit(**_FLAGS)
def _mm(A, B, out):
    for i in prange(A.shape[0]):
        for k in range(A.shape[1]):
            a = A[i, k]
            for j in range(B.shape[1]):
                out[i, j] += a * B[k, j]


@njit(**_FLAGS)
def _piecewise(x, out):
    for i in prange(x.shape[0]):
        v = x[i]
        out[i] = -v - 0.5 if v < -1.0 else (0.5 * v * v if v < 1.0 else v - 0.5)


@njit(**_FLAGS)
def _newton(a, out):
    for i in prange(a.shape[0]):
        x = a[i]
        while abs(x * x - a[i]) > 1e-12 * a[i]:
            x = 0.5 * (x + a[i] / x)
        out[i] = x


@njit(**_FLAGS)
def _bisection(c, out):
    for i in prange(c.shape[0]):
        lo, hi = 0.0, max(c[i], 1.0)
        while hi - lo > 1e-9:
            mid = 0.5 * (lo + hi)
            if mid * mid > c[i]:
                hi = mid
            else:
                lo = mid
        out[i] = lo


def _into(kernel, shape_of):
    def run(*args):
        out = np.empty(shape_of(*args))
        kernel(*args, out)
        return out

    return run


def functions() -> dict:
    """workload name -> function taking the hand reference's arguments."""
    gamma = float(wl.RBF_PARAMS["gamma"])

    def convolve(X, Wt):
        out = np.empty((X.shape[0], X.shape[1] - Wt.shape[1] + 1))
        _convolve(X, Wt, out)
        return out

    def gram(X, Y, rbf):
        out = np.empty((X.shape[0], Y.shape[0]))
        _gram(X, Y, gamma, rbf, out)
        return out

    def mm(A, B):
        out = np.zeros((A.shape[0], B.shape[1]))
        _mm(A, B, out)
        return out

    def predict(params, X):
        w, bias = params
        out = np.empty((X.shape[0], w.shape[0]))
        _predict(w, bias, X, out)
        return out

    return {
        "neuron": lambda X: _into(_neuron, lambda X, W, b: X.shape[0])(X, wl.W, wl.b),
        "predict": predict,
        "custom_dot_d3": _into(_custom_dot, lambda X, Y: X.shape[0]),
        "custom_dot_d256": _into(_custom_dot, lambda X, Y: X.shape[0]),
        "convolve": convolve,
        "convolve_k": convolve,
        "pairwise": lambda X, Y: gram(X, Y, False),
        "rbf_gram": lambda X, Y: gram(X, Y, True),
        "mm": mm,
        "piecewise": _into(_piecewise, lambda x: x.shape),
        "newton_sqrt": _into(_newton, lambda a: a.shape),
        "bisection": _into(_bisection, lambda c: c.shape),
    }
