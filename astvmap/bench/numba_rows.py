"""Benchmark rows for the Numba backend (`vmap(..., jit=True)`): hand NumPy, the NumPy backend, jit (its
chosen strategy, warm), jit forced to the loop strategy, a hand-written `prange` kernel (numba_hand.py),
and the first-call latency (cold: empty disk
cache, and in a fresh process with a warm disk cache, `import numba` included).

    python -m astvmap.bench.numba_rows                    # B = 100,000 (custom_dot D=256: 20,000)
    python -m astvmap.bench.numba_rows --threads 2 --markdown

Thread variables (OPENBLAS/OMP/MKL/NUMBA_NUM_THREADS) are set by re-starting the process with them set.
`rows(names, threads)` returns the measurements as dicts, for `astvmap bench` to show.
"""

from __future__ import annotations

import argparse
import functools
import os
import subprocess
import sys
import tempfile
import time

WORKLOADS = {
    # name: (function, in_axes, hand, args factory source, size text)
    "neuron": ("neuron", "0", "neuron_hand", "(rng.normal(size=(B, 5)),)", "D=5"),
    "predict": (
        "predict",
        "(None, 0)",
        "predict_hand",
        "(w.PREDICT_PARAMS, rng.normal(size=(B, 128)))",
        "128->64",
    ),
    "custom_dot_d3": (
        "custom_dot",
        "0",
        "custom_dot_hand",
        "(rng.normal(size=(B, 3)), rng.normal(size=(B, 3)))",
        "D=3",
    ),
    "custom_dot_d256": (
        "custom_dot",
        "0",
        "custom_dot_hand",
        "(rng.normal(size=(B, 256)), rng.normal(size=(B, 256)))",
        "D=256",
    ),
    "convolve": (
        "convolve",
        "0",
        "convolve_hand",
        "(rng.normal(size=(B, 5)), rng.normal(size=(B, 3)))",
        "5/3",
    ),
    "convolve_k": (
        "convolve_k",
        "0",
        "convolve_hand",
        "(rng.normal(size=(B, 1000)), rng.normal(size=(B, 9)))",
        "1000/9",
    ),
    "newton_sqrt": ("newton_sqrt", "0", "newton_hand", "(rng.uniform(0.1, 100.0, size=B),)", "while"),
    "piecewise": ("piecewise", "0", "piecewise_hand", "(rng.normal(scale=2.0, size=B),)", "if/elif"),
}
BATCH = {"custom_dot_d256": 20_000, "convolve_k": 1_000}


def _timeit(fn, budget=0.5, max_calls=200) -> float:
    fn()
    times: list[float]
    times, start = [], time.perf_counter()
    while len(times) < max_calls and (time.perf_counter() - start < budget or len(times) < 3):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    times.sort()
    return times[len(times) // 2]


_FIRST_CALL = """
import time, numpy as np
from astvmap.bench import workloads as w
from astvmap import vmap
rng = np.random.default_rng(0); B = {B}
args = {args}
t = time.perf_counter()
f = vmap(w.{fn}, in_axes={in_axes}, jit=True)
f(*args)
print(time.perf_counter() - t, f.strategy)
"""


def _first_call(name, B, cache_dir, env):
    fn, in_axes, _, args, _ = WORKLOADS[name]
    code = _FIRST_CALL.format(B=B, args=args, fn=fn, in_axes=in_axes)
    out = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code],
        env={**env, "ASTVMAP_CACHE_DIR": cache_dir},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return float(out[0]), out[1]


def rows(names=None, threads=1, budget=0.5):
    import warnings

    import numpy as np

    from ..api import vmap
    from . import workloads as w

    out = []
    for name in names or WORKLOADS:
        fn_name, in_axes, hand_name, args_src, size = WORKLOADS[name]
        B = BATCH.get(name, 100_000)
        rng = np.random.default_rng(0)
        args = eval(args_src, {"rng": rng, "B": B, "w": w})
        fn, hand = getattr(w, fn_name), getattr(w, hand_name)
        ia = eval(in_axes)
        expected = hand(*args)
        row = {"workload": name, "size": size, "B": B, "threads": threads}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from .numba_hand import functions as hand_kernels

            kernel = hand_kernels()[name]
            variants = {
                "hand": functools.partial(hand, *args),
                "numpy backend": vmap(fn, in_axes=ia),
                "hand numba": functools.partial(kernel, *args),
            }
            jit = vmap(fn, in_axes=ia, jit=True)
            loop = vmap(fn, in_axes=ia, jit={"strategy": "loop"})
            variants["jit"], variants["jit loop"] = jit, loop
            for label, f in variants.items():
                call = f if label in ("hand", "hand numba") else functools.partial(f, *args)
                try:
                    got = call()
                    ok = np.allclose(got, expected) and np.shape(got) == np.shape(expected)
                    row[label] = _timeit(call, budget) if ok else None
                    if not ok:
                        row[label + " error"] = "differs from hand"
                except Exception as e:
                    row[label] = None
                    row[label + " error"] = f"{type(e).__name__}: {e}"
            row["strategy"], row["fused"] = jit.strategy, jit.fused
            row["loop strategy"] = loop.strategy
        with tempfile.TemporaryDirectory() as d:
            env = dict(os.environ)
            row["first cold"], _ = _first_call(name, B, d, env)
            row["first warm disk"], _ = _first_call(name, B, d, env)
        out.append(row)
    return out


def _fmt(t):
    if t is None:
        return "-"
    return f"{t * 1e3:.2f} ms" if t < 1 else f"{t:.2f} s"


def table(rs, markdown=True) -> str:
    head = [
        "workload",
        "B",
        "hand",
        "numpy backend",
        "jit (strategy)",
        "jit loop",
        "hand numba prange",
        "jit/hand",
        "jit/numpy backend",
        "first call cold",
        "first call, warm disk",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rs:
        ratio = f"{r['jit'] / r['numpy backend']:.2f}" if r.get("jit") and r.get("numpy backend") else "-"
        vs_hand = f"{r['jit'] / r['hand']:.2f}" if r.get("jit") and r.get("hand") else "-"
        loop = _fmt(r.get("jit loop")) if r.get("loop strategy") == "loop" else "fell back"
        strategy = r["strategy"] + (", fused" if r.get("fused") else "")
        lines.append(
            "| "
            + " | ".join(
                [
                    f"{r['workload']} {r['size']}",
                    f"{r['B']:,}",
                    _fmt(r["hand"]),
                    _fmt(r["numpy backend"]),
                    f"{_fmt(r['jit'])} ({strategy})",
                    loop,
                    _fmt(r.get("hand numba")),
                    vs_hand,
                    ratio,
                    _fmt(r["first cold"]),
                    _fmt(r["first warm disk"]),
                ]
            )
            + " |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m astvmap.bench.numba_rows")
    p.add_argument("--threads", type=int, default=1, help="NUMBA_NUM_THREADS (BLAS and OpenMP stay at 1)")
    p.add_argument("--workload", nargs="+", choices=list(WORKLOADS))
    p.add_argument("--budget", type=float, default=0.5)
    p.add_argument("--markdown", action="store_true")
    a = p.parse_args(argv)
    want = {
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "NUMBA_NUM_THREADS": str(a.threads),
    }
    if any(os.environ.get(k) != v for k, v in want.items()):
        env = {**os.environ, **want}
        return subprocess.call(
            [sys.executable, "-m", "astvmap.bench.numba_rows", *(argv or sys.argv[1:])], env=env
        )
    rs = rows(a.workload, a.threads, a.budget)
    print(f"NUMBA_NUM_THREADS={a.threads}, OPENBLAS_NUM_THREADS=OMP_NUM_THREADS=1")
    print(table(rs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
