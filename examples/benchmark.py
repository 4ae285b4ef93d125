"""Time the WORKLOADS.md benchmark rows: Python loop, np.vectorize, hand-written NumPy, astvmap.

    python examples/benchmark.py                 # full sizes (a few minutes)
    python examples/benchmark.py --quick         # smaller sizes, under 30 s
    python examples/benchmark.py --workload neuron --workload mm

Single-threaded (BLAS, OpenMP and Numba pinned to one thread). Each time is the median of repeated runs
within a small time budget. The loop and np.vectorize run on at most ~2,000 per-example calls and are
scaled up to the full size; such times are marked "est.". "hand" is the WORKLOADS.md reference exactly.
astvmap is timed warm (called once first); its first call (transform + compile, unless an earlier row
already cached the same specialization) is reported separately.
"""
import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import math
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
from astvmap import vmap
from numpy.lib.stride_tricks import sliding_window_view

# ---------------------------------------------------------------------------------------------------------
# The per-example functions, as in WORKLOADS.md.

_rng = np.random.default_rng(0)
W = _rng.normal(size=(5, 3))
b = _rng.normal(size=3)
PREDICT_PARAMS = (_rng.normal(size=(64, 128)), _rng.normal(size=64))
RBF_PARAMS = {"gamma": 0.1}


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


vv = lambda x, y: np.vdot(x, y)


def custom_dot(x, y):
    return np.dot(x, y) ** 2


def convolve(x, w):
    output = []
    for i in range(1, len(x) - 1):
        output.append(np.dot(x[i - 1:i + 2], w))
    return np.array(output)


def convolve_k(x, w):
    k = len(w)
    output = []
    for i in range(len(x) - k + 1):
        output.append(np.dot(x[i:i + k], w))
    return np.array(output)


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


# ---------------------------------------------------------------------------------------------------------
# The workloads. `loop(k, *args)` and `vectorized(k, *args)` compute the first k of `outer` examples; each
# example costs about `inner` per-example Python calls, which sets how many are sampled.


@dataclass
class Workload:
    name: str
    size: str
    make_args: Callable[[np.random.Generator], tuple]
    hand: Callable[..., Any]
    build: Callable[[], Callable[..., Any]]       # a fresh astvmap callable
    loop: Callable[..., Any]
    vectorized: Callable[..., Any]
    outer: int
    inner: int = 1


def _stack_zip(fn, k, *arrays):
    return np.stack([fn(*example) for example in zip(*(a[:k] for a in arrays))])


def neuron_workload(B):
    return Workload(
        "neuron", f"B={B:,}", lambda rng: (rng.normal(size=(B, 5)),),
        hand=lambda X: np.tanh(X @ W + b).sum(axis=1),
        build=lambda: vmap(neuron),
        loop=lambda k, X: _stack_zip(neuron, k, X),
        vectorized=lambda k, X: np.vectorize(neuron, signature="(n)->()")(X[:k]),
        outer=B)


def predict_workload(B):
    w, bias = PREDICT_PARAMS
    per_example = partial(predict, PREDICT_PARAMS)
    return Workload(
        "predict", f"128->64, B={B:,}", lambda rng: (PREDICT_PARAMS, rng.normal(size=(B, 128))),
        hand=lambda params, X: np.tanh(X @ w.T + bias),
        build=lambda: vmap(predict, in_axes=(None, 0)),
        loop=lambda k, params, X: _stack_zip(per_example, k, X),
        vectorized=lambda k, params, X: np.vectorize(per_example, signature="(n)->(m)")(X[:k]),
        outer=B)


def custom_dot_workload(D, B):
    return Workload(
        "custom_dot", f"D={D}, B={B:,}", lambda rng: (rng.normal(size=(B, D)), rng.normal(size=(B, D))),
        hand=lambda X, Y: np.einsum("bi,bi->b", X, Y) ** 2,
        build=lambda: vmap(custom_dot, in_axes=[0, 0]),
        loop=lambda k, X, Y: _stack_zip(custom_dot, k, X, Y),
        vectorized=lambda k, X, Y: np.vectorize(custom_dot, signature="(n),(n)->()")(X[:k], Y[:k]),
        outer=B)


def convolve_workload(fn, n, k, B):
    return Workload(
        fn.__name__, f"{n}/{k}, B={B:,}", lambda rng: (rng.normal(size=(B, n)), rng.normal(size=(B, k))),
        hand=lambda X, Wt: np.einsum("bij,bj->bi", sliding_window_view(X, k, axis=1), Wt),
        build=lambda: vmap(fn),
        loop=lambda m, X, Wt: _stack_zip(fn, m, X, Wt),
        vectorized=lambda m, X, Wt: np.vectorize(fn, signature="(n),(k)->(m)")(X[:m], Wt[:m]),
        outer=B, inner=n - k + 1)


def pairwise_workload(N, M, D):
    return Workload(
        "pairwise", f"N=M={N:,}, D={D}", lambda rng: (rng.normal(size=(N, D)), rng.normal(size=(M, D))),
        hand=lambda X, Y: ((X[:, None, :] - Y[None, :, :]) ** 2).sum(-1),
        build=lambda: vmap(vmap(sqeuclidean_distance, in_axes=(None, 0)), in_axes=(0, None)),
        loop=lambda k, X, Y: np.array([[sqeuclidean_distance(x, y) for y in Y] for x in X[:k]]),
        vectorized=lambda k, X, Y: np.vectorize(sqeuclidean_distance, signature="(d),(d)->()")(
            X[:k, None, :], Y[None, :, :]),
        outer=N, inner=M)


def gram_workload(N, M, D):
    kernel = partial(rbf_kernel, RBF_PARAMS)
    return Workload(
        "rbf_gram", f"{N:,}x{M:,}x{D}", lambda rng: (rng.normal(size=(N, D)), rng.normal(size=(M, D))),
        hand=lambda X, Y: np.exp(-RBF_PARAMS["gamma"] * ((X[:, None, :] - Y[None, :, :]) ** 2).sum(-1)),
        build=lambda: partial(gram, rbf_kernel, RBF_PARAMS),
        loop=lambda k, X, Y: np.array([[rbf_kernel(RBF_PARAMS, x, y) for y in Y] for x in X[:k]]),
        vectorized=lambda k, X, Y: np.vectorize(kernel, signature="(d),(d)->()")(X[:k, None, :], Y[None]),
        outer=N, inner=M)


def mm_workload(n):
    def build():
        mv = vmap(vv, (0, None), 0)
        return vmap(mv, (None, 1), 1)

    # The loop's outer examples are the columns of the second matrix (mm's batch), each one a mat-vec.
    return Workload(
        "mm", f"{n}x{n}x{n}", lambda rng: (rng.normal(size=(n, n)), rng.normal(size=(n, n))),
        hand=lambda A, B: A @ B,
        build=build,
        loop=lambda k, A, B: np.stack([np.stack([vv(row, col) for row in A]) for col in B.T[:k]], axis=1),
        vectorized=lambda k, A, B: np.vectorize(vv, signature="(a),(a)->()")(A[:, None, :], B.T[None, :k]),
        outer=n, inner=n)


def scalar_workload(name, fn, hand, make, B):
    """A per-example scalar function with control flow (a batched `if` or `while`)."""
    return Workload(
        name, f"B={B:,}", lambda rng: (make(rng, B),), hand=hand, build=lambda: vmap(fn),
        loop=lambda k, X: _stack_zip(fn, k, X),
        vectorized=lambda k, X: np.vectorize(fn, otypes=[float])(X[:k]), outer=B)


def control_flow_workloads(B):
    return [
        scalar_workload("piecewise", piecewise,
                        lambda x: np.where(x < -1.0, -x - 0.5, np.where(x < 1.0, 0.5 * x * x, x - 0.5)),
                        lambda rng, n: rng.normal(scale=2.0, size=n), B),
        scalar_workload("newton_sqrt", newton_sqrt, newton_hand, lambda rng, n: rng.uniform(0.1, 100.0, size=n), B),
        scalar_workload("bisection", bisection, bisection_hand, lambda rng, n: rng.uniform(0.0, 100.0, size=n), B),
    ]


def workloads(quick: bool) -> list[Workload]:
    if quick:
        return [
            neuron_workload(1_000), neuron_workload(10_000),
            predict_workload(1_000), predict_workload(10_000),
            custom_dot_workload(3, 10_000), custom_dot_workload(256, 2_000),
            convolve_workload(convolve, 5, 3, 10_000), convolve_workload(convolve_k, 1000, 9, 100),
            pairwise_workload(256, 256, 16), gram_workload(256, 256, 16), mm_workload(64),
            *control_flow_workloads(10_000),
        ]
    return [
        neuron_workload(1_000), neuron_workload(100_000),
        predict_workload(1_000), predict_workload(100_000),
        custom_dot_workload(3, 100_000), custom_dot_workload(256, 20_000),
        convolve_workload(convolve, 5, 3, 100_000), convolve_workload(convolve_k, 1000, 9, 1_000),
        pairwise_workload(1024, 1024, 16), gram_workload(1024, 1024, 16), mm_workload(256),
        *control_flow_workloads(100_000),
    ]


# ---------------------------------------------------------------------------------------------------------
# Timing.


def median_time(fn: Callable[[], Any], budget: float, min_batch: float = 0.005) -> float:
    """Median seconds per call of fn(): batches of calls lasting >= min_batch, repeated within budget."""
    start = time.perf_counter()
    fn()
    first = time.perf_counter() - start
    if first >= budget:
        return first
    number = max(1, math.ceil(min_batch / max(first, 1e-9)))
    samples = []
    deadline = time.perf_counter() + budget
    while len(samples) < 3 or (time.perf_counter() < deadline and len(samples) < 50):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - t0) / number)
    return statistics.median(samples)


def fmt_time(seconds: float | None, estimated: bool = False) -> str:
    if seconds is None:
        return "error"
    if seconds < 1e-3:
        text = f"{seconds * 1e6:.1f} µs"
    elif seconds < 1:
        text = f"{seconds * 1e3:.2f} ms"
    else:
        text = f"{seconds:.2f} s"
    return f"{text} est." if estimated else text


def sampled_time(work: Workload, fn, args, budget: float, max_calls: int) -> tuple[float, bool]:
    """Time fn(k, *args) on the first k examples and scale to all of them; True when extrapolated."""
    k = max(1, min(work.outer, max_calls // work.inner))
    seconds = median_time(lambda: fn(k, *args), budget)
    return seconds * work.outer / k, k < work.outer


def run_workload(work: Workload, budget: float, max_calls: int, errors: list[str]) -> list[str]:
    args = work.make_args(np.random.default_rng(1))
    expected = work.hand(*args)

    def attempt(what, thunk):
        try:
            return thunk()
        except Exception as error:  # noqa: BLE001 - report and go on with the next column
            errors.append(f"{work.name} {work.size}, {what}: {type(error).__name__}: {error}")
            return None

    loop = attempt("loop", lambda: sampled_time(work, work.loop, args, budget, max_calls))
    vect = attempt("vectorize", lambda: sampled_time(work, work.vectorized, args, budget, max_calls))
    hand = median_time(lambda: work.hand(*args), budget)

    fast, first, note = None, None, ""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        batched = attempt("astvmap build", work.build)
        if batched is not None:
            t0 = time.perf_counter()
            got = attempt("astvmap first call", lambda: batched(*args))
            first = time.perf_counter() - t0
            if got is not None:
                got = np.asarray(got)
                if got.shape != np.shape(expected) or not np.allclose(got, expected):
                    print(f"MISMATCH: {work.name} {work.size}: astvmap differs from the hand reference "
                          f"(shape {got.shape} vs {np.shape(expected)})")
                    note = " MISMATCH"
                fast = attempt("astvmap", lambda: median_time(lambda: batched(*args), budget))
            else:
                first = None
    if any(type(w.message).__name__ == "PerformanceWarning" for w in caught):
        note += " (fallback)"

    ratio = f"{fast / hand:.2f}x" if fast is not None else "-"
    return [work.name, work.size, fmt_time(*loop) if loop else "error", fmt_time(*vect) if vect else "error",
            fmt_time(hand), fmt_time(fast) + note, ratio, f"{first * 1e3:.1f}" if first is not None else "error"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes and budgets (under 30 s)")
    parser.add_argument("--workload", action="append", metavar="NAME",
                        help="run only this workload (repeatable): " + ", ".join(
                            dict.fromkeys(w.name for w in workloads(quick=True))))
    parser.add_argument("--budget", type=float, default=None, help="seconds of repeats per measurement")
    options = parser.parse_args(argv)

    chosen = workloads(options.quick)
    if options.workload:
        known = {w.name for w in chosen}
        unknown = sorted(set(options.workload) - known)
        if unknown:
            parser.error(f"unknown workload {', '.join(unknown)}; choose from {', '.join(sorted(known))}")
        chosen = [w for w in chosen if w.name in options.workload]
    budget = options.budget if options.budget is not None else (0.1 if options.quick else 0.5)
    max_calls = 500 if options.quick else 2000

    print(f"numpy {np.__version__}, Python {sys.version.split()[0]}, "
          f"OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}; median of repeats, "
          f"budget {budget} s each; loop and vectorize sample <= {max_calls} calls (est. = scaled up)\n")
    header = ["workload", "size", "loop", "vectorize", "hand", "astvmap", "astvmap/hand", "first call ms"]
    rows, errors = [], []
    for work in chosen:
        rows.append(run_workload(work, budget, max_calls, errors))
        print("  done:", " | ".join(rows[-1]), file=sys.stderr)

    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    for error in errors:
        print("error:", error.splitlines()[0])
    return 1 if errors or any("MISMATCH" in row[5] for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
