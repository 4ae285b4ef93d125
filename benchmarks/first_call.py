"""First call of functions with a region loop, against their whole-function loop (issue 19's bound).

    OPENBLAS_NUM_THREADS=1 python benchmarks/first_call.py [--batch 2000] [--repeat 5]

Each function has one statement with no batched form (a `try` around a per-example `LinAlgError`, an
unknown context manager, a `match` on a per-example value, writes into objects made per example), so
its vmap runs that statement as a per-example loop and the rest batched. Every measurement runs in a
fresh process, so the first call pays the whole transform: reading the source, the analysis, code
generation and compilation. The reference is the plain loop over examples, the fastest a whole-function
fallback could be (it pays no transform at all); ratios above 1.05 are flagged.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys

import numpy as np


def gaussian_logpdf(x, cov):
    """A Gaussian log-density whose covariance may not be positive definite for some examples."""
    d = x.shape[0]
    s = cov + np.outer(x, x) * 0.1
    try:
        chol = np.linalg.cholesky(s)
    except np.linalg.LinAlgError:
        return -np.inf
    z = np.linalg.solve(chol, x)
    return -0.5 * (z @ z) - np.log(np.diag(chol)).sum() - 0.5 * d * np.log(2 * np.pi)


def suppressed_ratio(x, cov):
    y = x @ cov
    r = np.zeros_like(y)
    with contextlib.suppress(ZeroDivisionError):
        r = y / float(int(abs(y[0])))
    return np.tanh(r).sum() + y.max()


def mode_by_sign(x, cov):
    y = np.abs(x @ cov)
    match int(np.sign(x[0])):
        case 1:
            z = np.sqrt(y)
        case -1:
            z = np.log1p(y)
        case _:
            z = y
    return z / np.linalg.norm(z)


def per_example_lists(x, cov):
    parts = []
    y = x @ cov
    try:
        for v in y[:4]:
            parts.append(np.sqrt(v) if v > 0 else 0.0)  # (`float(np.sqrt(-1.0))` would be nan)
    except ValueError:
        parts = [0.0] * 4
    return np.array(parts) @ y[:4]


FUNCTIONS = [gaussian_logpdf, suppressed_ratio, mode_by_sign, per_example_lists]

_CHILD = """
import sys, time, warnings
import numpy as np
sys.path.insert(0, {here!r})
import first_call as bench
import astvmap
f = getattr(bench, sys.argv[1])
x, cov = bench.data(int(sys.argv[3]))
warnings.simplefilter("ignore")
t = time.perf_counter()
if sys.argv[2] == "loop":
    np.stack([np.asarray(f(e, cov)) for e in x])
else:
    astvmap.vmap(f, (0, None))(x, cov)
print(time.perf_counter() - t)
"""


def data(batch: int, d: int = 8):
    rng = np.random.default_rng(0)
    a = rng.normal(size=(d, d))
    return rng.normal(size=(batch, d)), a @ a.T - 2.0 * np.eye(d)  # (some examples not definite)


def _time(name: str, mode: str, batch: int, repeat: int) -> float:
    child = _CHILD.format(here=os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    best = float("inf")
    for _ in range(repeat):
        out = subprocess.run(
            [sys.executable, "-c", child, name, mode, str(batch)], capture_output=True, text=True, env=env
        )
        if out.returncode:
            raise SystemExit(out.stderr)
        best = min(best, float(out.stdout.split()[-1]))
    return best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=2000)
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args()
    print(f"{'function':22s} {'loop ms':>9s} {'first call ms':>14s} {'ratio':>6s}")
    for f in FUNCTIONS:
        loop = _time(f.__name__, "loop", args.batch, args.repeat)
        first = _time(f.__name__, "vmap", args.batch, args.repeat)
        flag = "  > 1.05" if first > 1.05 * loop else ""
        print(f"{f.__name__:22s} {loop * 1e3:9.1f} {first * 1e3:14.1f} {first / loop:6.2f}{flag}")


if __name__ == "__main__":
    main()
