"""The benchmark workloads: plain per-example NumPy functions and their hand-vectorized references.

Every row of `WORKLOADS.md` (neuron, predict, custom_dot, convolve, convolve_k, pairwise, rbf_gram, mm), three
with per-example control flow (piecewise `if`, Newton `while`, bisection), and two realistic ML ones (a
per-example MLP forward pass with softmax, single-sequence attention with a causal mask).

A `Workload` makes a `Case` for a batch size. The batch size is the number of calls of the innermost
per-example function: B for the plain workloads, N*M pairs for pairwise and rbf_gram (N = M = sqrt(B)), the
n*n dot products of an n x n x n mm. "hand" is the reference exactly as WORKLOADS.md writes it; every other
variant must equal it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..api import vmap

# ---------------------------------------------------------------------------------------------------------
# Module-level data the per-example functions use (unbatched: the same for every example).

_rng = np.random.default_rng(0)
W = _rng.normal(size=(5, 3))
b = _rng.normal(size=3)
PREDICT_PARAMS = (_rng.normal(size=(64, 128)), _rng.normal(size=64))
RBF_PARAMS = {"gamma": 0.1}
MLP_SIZES = (64, 128, 10)
MLP_PARAMS = {
    "w1": _rng.normal(size=(MLP_SIZES[1], MLP_SIZES[0])) / math.sqrt(MLP_SIZES[0]),
    "b1": 0.1 * _rng.normal(size=MLP_SIZES[1]),
    "w2": _rng.normal(size=(MLP_SIZES[2], MLP_SIZES[1])) / math.sqrt(MLP_SIZES[1]),
    "b2": 0.1 * _rng.normal(size=MLP_SIZES[2]),
}
SEQ_LEN, HEAD_DIM = 32, 16
CAUSAL = np.triu(np.ones((SEQ_LEN, SEQ_LEN), dtype=bool), k=1)  # True above the diagonal: masked out


# ---------------------------------------------------------------------------------------------------------
# The per-example functions, as in WORKLOADS.md.


def neuron(x):
    assert x.ndim == 1
    return np.sum(np.tanh(np.dot(x, W) + b))


def predict(params, input_vec):
    w, b = params
    output_vec = np.dot(w, input_vec) + b
    return np.tanh(output_vec)


def sqeuclidean_distance(x, y):
    return np.sum((x - y) ** 2)


def rbf_kernel(params, x, y):
    return np.exp(-params["gamma"] * sqeuclidean_distance(x, y))


def gram(kernel_func, params, X, Y):
    return vmap(lambda x: vmap(lambda y: kernel_func(params, x, y))(Y))(X)


vv = lambda x, y: np.vdot(x, y)  # noqa: E731 (as the seed writes it)


def custom_dot(x, y):
    return np.dot(x, y) ** 2


def convolve(x, w):
    output = []
    for i in range(1, len(x) - 1):
        output.append(np.dot(x[i - 1 : i + 2], w))
    return np.array(output)


def convolve_k(x, w):
    k = len(w)
    output = []
    for i in range(len(x) - k + 1):
        output.append(np.dot(x[i : i + k], w))
    return np.array(output)


# Control flow: a batched `if`, and two batched `while`s.


def piecewise(x):
    if x < -1.0:
        return -x - 0.5
    elif x < 1.0:
        return 0.5 * x * x
    return x - 0.5


def newton_sqrt(a):
    x = a
    while abs(x * x - a) > 1e-12 * a:
        x = 0.5 * (x + a / x)
    return x


def bisection(c):
    lo, hi = 0.0, max(c, 1.0)
    while hi - lo > 1e-9:
        mid = 0.5 * (lo + hi)
        if mid * mid > c:
            hi = mid
        else:
            lo = mid
    return lo


# Realistic ML: a per-example MLP forward pass with a softmax, and single-sequence causal attention.


def mlp(params, x):
    h = np.tanh(params["w1"] @ x + params["b1"])
    logits = params["w2"] @ h + params["b2"]
    z = logits - np.max(logits)
    e = np.exp(z)
    return e / np.sum(e)


def attention(q, k, v):
    d = q.shape[-1]
    scores = q @ k.T / np.sqrt(d)
    scores = np.where(CAUSAL, -np.inf, scores)
    scores = scores - np.max(scores, axis=-1, keepdims=True)
    weights = np.exp(scores)
    weights = weights / np.sum(weights, axis=-1, keepdims=True)
    return weights @ v


# ---------------------------------------------------------------------------------------------------------
# Hand-vectorized references (the ones of WORKLOADS.md; the masked loops a careful NumPy user writes for
# the `while`s).


def neuron_hand(X):
    return np.tanh(X @ W + b).sum(axis=1)


def predict_hand(params, X):
    w, bias = params
    return np.tanh(X @ w.T + bias)


def custom_dot_hand(X, Y):
    return np.einsum("bi,bi->b", X, Y) ** 2


def convolve_hand(X, Wt):
    return np.einsum("bij,bj->bi", sliding_window_view(X, Wt.shape[1], axis=1), Wt)


def pairwise_hand(X, Y):
    return ((X[:, None, :] - Y[None, :, :]) ** 2).sum(-1)


def gram_hand(X, Y):
    return np.exp(-RBF_PARAMS["gamma"] * ((X[:, None, :] - Y[None, :, :]) ** 2).sum(-1))


def mm_hand(A, B):
    return A @ B


def piecewise_hand(x):
    return np.where(x < -1.0, -x - 0.5, np.where(x < 1.0, 0.5 * x * x, x - 0.5))


def newton_hand(a):
    x = a.copy()
    active = np.abs(x * x - a) > 1e-12 * a
    while active.any():
        x = np.where(active, 0.5 * (x + a / x), x)
        active &= np.abs(x * x - a) > 1e-12 * a
    return x


def bisection_hand(c):
    lo, hi = np.zeros_like(c), np.maximum(c, 1.0)
    active = hi - lo > 1e-9
    while active.any():
        mid = 0.5 * (lo + hi)
        up = mid * mid > c
        hi = np.where(active & up, mid, hi)
        lo = np.where(active & ~up, mid, lo)
        active = hi - lo > 1e-9
    return lo


def mlp_hand(params, X):
    h = np.tanh(X @ params["w1"].T + params["b1"])
    logits = h @ params["w2"].T + params["b2"]
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def attention_hand(Q, K, V):
    scores = Q @ K.transpose(0, 2, 1) / np.sqrt(Q.shape[-1])
    scores = np.where(CAUSAL, -np.inf, scores)
    scores = scores - scores.max(axis=-1, keepdims=True)
    weights = np.exp(scores)
    weights /= weights.sum(axis=-1, keepdims=True)
    return weights @ V


# ---------------------------------------------------------------------------------------------------------
# Workloads and cases.


@dataclass
class Case:
    """One workload at one size. `loop(k, *args)` and `vectorize(k, *args)` compute the first k of the
    `outer` examples (each costing about `inner` per-example calls); `prefix(expected, k)` is the part of
    the hand result they must equal."""

    workload: str
    size: str
    batch: int
    make_args: Callable[[np.random.Generator], tuple]
    hand: Callable[..., Any]
    astvmap: Callable[[], Callable[..., Any]]  # a fresh astvmap callable, taking the hand's args
    loop: Callable[..., Any]
    vectorize: Callable[..., Any]
    outer: int
    inner: int = 1
    prefix: Callable[[Any, int], Any] = lambda expected, k: expected[:k]
    params: dict = field(default_factory=dict)


@dataclass
class Workload:
    name: str
    what: str  # one line: the per-example function and its shapes
    case: Callable[[int], Case]  # batch size -> Case
    sizes: tuple[int, ...]  # default batch sizes of a full run
    quick: tuple[int, ...]  # and of --quick
    group: str | None = None  # --workload GROUP selects every workload of the group


def _stack_zip(fn, k, *arrays):
    return np.stack([fn(*example) for example in zip(*(a[:k] for a in arrays))])


def _side(batch: int) -> int:
    """N = M for a pair workload of `batch` pairs."""
    return max(1, round(math.sqrt(batch)))


def _neuron(B):
    return Case(
        "neuron",
        f"B={B:,}",
        B,
        lambda rng: (rng.normal(size=(B, 5)),),
        neuron_hand,
        astvmap=lambda: vmap(neuron),
        loop=lambda k, X: _stack_zip(neuron, k, X),
        vectorize=lambda k, X: np.vectorize(neuron, signature="(n)->()")(X[:k]),
        outer=B,
        params={"B": B},
    )


def _predict(B):
    per_example = partial(predict, PREDICT_PARAMS)
    return Case(
        "predict",
        f"128->64, B={B:,}",
        B,
        lambda rng: (PREDICT_PARAMS, rng.normal(size=(B, 128))),
        predict_hand,
        astvmap=lambda: vmap(predict, in_axes=(None, 0)),
        loop=lambda k, params, X: _stack_zip(per_example, k, X),
        vectorize=lambda k, params, X: np.vectorize(per_example, signature="(n)->(m)")(X[:k]),
        outer=B,
        params={"B": B},
    )


def _custom_dot(D):
    def case(B):
        return Case(
            f"custom_dot_d{D}",
            f"D={D}, B={B:,}",
            B,
            lambda rng: (rng.normal(size=(B, D)), rng.normal(size=(B, D))),
            custom_dot_hand,
            astvmap=lambda: vmap(custom_dot, in_axes=[0, 0]),
            loop=lambda k, X, Y: _stack_zip(custom_dot, k, X, Y),
            vectorize=lambda k, X, Y: np.vectorize(custom_dot, signature="(n),(n)->()")(X[:k], Y[:k]),
            outer=B,
            params={"B": B, "D": D},
        )

    return case


def _convolve(fn, n, k):
    def case(B):
        return Case(
            fn.__name__,
            f"{n}/{k}, B={B:,}",
            B,
            lambda rng: (rng.normal(size=(B, n)), rng.normal(size=(B, k))),
            convolve_hand,
            astvmap=lambda: vmap(fn),
            loop=lambda m, X, Wt: _stack_zip(fn, m, X, Wt),
            vectorize=lambda m, X, Wt: np.vectorize(fn, signature="(n),(k)->(m)")(X[:m], Wt[:m]),
            outer=B,
            inner=n - k + 1,
            params={"B": B, "n": n, "k": k},
        )

    return case


def _pairwise(batch, D=16):
    N = _side(batch)
    return Case(
        "pairwise",
        f"N=M={N:,}, D={D}",
        N * N,
        lambda rng: (rng.normal(size=(N, D)), rng.normal(size=(N, D))),
        pairwise_hand,
        astvmap=lambda: vmap(vmap(sqeuclidean_distance, in_axes=(None, 0)), in_axes=(0, None)),
        loop=lambda k, X, Y: np.array([[sqeuclidean_distance(x, y) for y in Y] for x in X[:k]]),
        vectorize=lambda k, X, Y: np.vectorize(sqeuclidean_distance, signature="(d),(d)->()")(
            X[:k, None, :], Y[None, :, :]
        ),
        outer=N,
        inner=N,
        params={"N": N, "M": N, "D": D},
    )


def _rbf_gram(batch, D=16):
    N = _side(batch)
    kernel = partial(rbf_kernel, RBF_PARAMS)
    return Case(
        "rbf_gram",
        f"N=M={N:,}, D={D}",
        N * N,
        lambda rng: (rng.normal(size=(N, D)), rng.normal(size=(N, D))),
        gram_hand,
        astvmap=lambda: partial(gram, rbf_kernel, RBF_PARAMS),
        loop=lambda k, X, Y: np.array([[rbf_kernel(RBF_PARAMS, x, y) for y in Y] for x in X[:k]]),
        vectorize=lambda k, X, Y: np.vectorize(kernel, signature="(d),(d)->()")(X[:k, None, :], Y[None]),
        outer=N,
        inner=N,
        params={"N": N, "M": N, "D": D},
    )


def _mm_build():
    mv = vmap(vv, (0, None), 0)
    return vmap(mv, (None, 1), 1)


def _mm(batch):
    n = _side(batch)
    # The loop's outer examples are the columns of the second matrix (mm's batch), each one a mat-vec.
    return Case(
        "mm",
        f"{n}x{n}x{n}",
        n * n,
        lambda rng: (rng.normal(size=(n, n)), rng.normal(size=(n, n))),
        mm_hand,
        astvmap=_mm_build,
        loop=lambda k, A, B: np.stack([np.stack([vv(row, col) for row in A]) for col in B.T[:k]], axis=1),
        vectorize=lambda k, A, B: np.vectorize(vv, signature="(a),(a)->()")(A[:, None, :], B.T[None, :k]),
        outer=n,
        inner=n,
        prefix=lambda expected, k: expected[:, :k],
        params={"n": n},
    )


def _scalar(name, fn, hand, make):
    """A per-example scalar function with control flow (a batched `if` or `while`)."""

    def case(B):
        return Case(
            name,
            f"B={B:,}",
            B,
            lambda rng: (make(rng, B),),
            hand,
            astvmap=lambda: vmap(fn),
            loop=lambda k, X: _stack_zip(fn, k, X),
            vectorize=lambda k, X: np.vectorize(fn, otypes=[float])(X[:k]),
            outer=B,
            params={"B": B},
        )

    return case


def _mlp(B):
    per_example = partial(mlp, MLP_PARAMS)
    n_in, n_hidden, n_out = MLP_SIZES
    return Case(
        "mlp",
        f"{n_in}-{n_hidden}-{n_out}, B={B:,}",
        B,
        lambda rng: (MLP_PARAMS, rng.normal(size=(B, n_in))),
        mlp_hand,
        astvmap=lambda: vmap(mlp, in_axes=(None, 0)),
        loop=lambda k, params, X: _stack_zip(per_example, k, X),
        vectorize=lambda k, params, X: np.vectorize(per_example, signature="(n)->(m)")(X[:k]),
        outer=B,
        params={"B": B, "sizes": list(MLP_SIZES)},
    )


def _attention(B):
    T, d = SEQ_LEN, HEAD_DIM
    return Case(
        "attention",
        f"T={T}, d={d}, B={B:,}",
        B,
        lambda rng: tuple(rng.normal(size=(B, T, d)) for _ in range(3)),
        attention_hand,
        astvmap=lambda: vmap(attention),
        loop=lambda k, Q, K, V: _stack_zip(attention, k, Q, K, V),
        vectorize=lambda k, Q, K, V: np.vectorize(attention, signature="(t,d),(t,d),(t,d)->(t,d)")(
            Q[:k], K[:k], V[:k]
        ),
        outer=B,
        params={"B": B, "T": T, "d": d},
    )


_STEP = (1_000, 10_000, 100_000)

WORKLOADS: list[Workload] = [
    Workload("neuron", "sum(tanh(x @ W + b)), x: (5,)", _neuron, _STEP, (1_000, 10_000)),
    Workload("predict", "tanh(w @ x + b), w: (64, 128) unbatched", _predict, _STEP, (1_000, 10_000)),
    Workload(
        "custom_dot_d3", "dot(x, y) ** 2, x, y: (3,)", _custom_dot(3), _STEP, (10_000,), group="custom_dot"
    ),
    Workload(
        "custom_dot_d256",
        "dot(x, y) ** 2, x, y: (256,)",
        _custom_dot(256),
        (1_000, 20_000),
        (2_000,),
        group="custom_dot",
    ),
    Workload(
        "convolve",
        "window-3 convolution as a Python loop, x: (5,)",
        _convolve(convolve, 5, 3),
        _STEP,
        (10_000,),
    ),
    Workload(
        "convolve_k",
        "window-9 convolution as a Python loop of 992 steps, x: (1000,)",
        _convolve(convolve_k, 1000, 9),
        (100, 1_000),
        (100,),
    ),
    Workload("pairwise", "nested vmap of sum((x - y) ** 2), D=16", _pairwise, (128**2, 1024**2), (256**2,)),
    Workload(
        "rbf_gram", "gram(rbf_kernel): nested vmap of lambdas, D=16", _rbf_gram, (128**2, 1024**2), (256**2,)
    ),
    Workload(
        "mm", "vmap(vmap(vdot, (0, None)), (None, 1), 1): matrix product", _mm, (64**2, 256**2), (64**2,)
    ),
    Workload(
        "piecewise",
        "if/elif/else on a per-example scalar",
        _scalar("piecewise", piecewise, piecewise_hand, lambda rng, n: rng.normal(scale=2.0, size=n)),
        _STEP,
        (10_000,),
    ),
    Workload(
        "newton_sqrt",
        "while on a per-example condition (Newton's sqrt)",
        _scalar("newton_sqrt", newton_sqrt, newton_hand, lambda rng, n: rng.uniform(0.1, 100.0, size=n)),
        _STEP,
        (10_000,),
    ),
    Workload(
        "bisection",
        "while with an if inside (bisection for sqrt)",
        _scalar("bisection", bisection, bisection_hand, lambda rng, n: rng.uniform(0.0, 100.0, size=n)),
        _STEP,
        (10_000,),
    ),
    Workload("mlp", "MLP 64-128-10 forward with softmax, params unbatched", _mlp, _STEP, (1_000, 10_000)),
    Workload(
        "attention", "causal attention, q, k, v: (32, 16)", _attention, (100, 1_000, 10_000), (100, 1_000)
    ),
]

NAMES = [w.name for w in WORKLOADS]
GROUPS = sorted({w.group for w in WORKLOADS if w.group})


def select(names: list[str] | None) -> list[Workload]:
    """The workloads named (a name or a group such as custom_dot), in the standard order; ValueError for
    an unknown name."""
    if not names:
        return list(WORKLOADS)
    unknown = [n for n in names if n not in NAMES and n not in GROUPS]
    if unknown:
        raise ValueError(f"unknown workload {', '.join(unknown)}; choose from {', '.join(NAMES + GROUPS)}")
    return [w for w in WORKLOADS if w.name in names or w.group in names]
