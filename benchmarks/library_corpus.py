"""The library corpus (tests/library_corpus.py) timed against the loop, case by case.

    OPENBLAS_NUM_THREADS=1 python benchmarks/library_corpus.py [--batch 2000] [--only NAME ...]

For each case: how it runs (batched; batched with a piece per example, a call with no Python source such
as a BLAS routine; a call or region run as the loop; the whole function as the loop; an error), its
speed over the loop at `--batch` examples (best of three), and its first call over the loop: the
transform, the compilation and one run, measured in a fresh process so nothing is cached (after one
example has run, as in a user's session: the library is imported). The loop is the plain Python loop
over the examples, stacking the results (the oracle's `loop_vmap`). The table is Markdown, to paste into
notes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))

import numpy as np  # noqa: E402
from library_corpus import CASES  # noqa: E402
from oracle import loop_vmap  # noqa: E402

import astvmap  # noqa: E402


def batch(case, B: int, seed: int = 0) -> list:
    r = np.random.default_rng(seed)
    examples = [case.make(r) for _ in range(B)]
    n = len(examples[0])
    axes = case.in_axes if isinstance(case.in_axes, tuple) else (case.in_axes,) * n
    return [examples[0][i] if axes[i] is None else np.stack([e[i] for e in examples]) for i in range(n)]


def _best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def how_it_runs(messages: list[str]) -> str:
    if any("whole function" in m for m in messages):
        return "whole loop"
    if any("runs a piece per example" in m for m in messages) and not any(
        "runs as a per-example loop" in m or "run as a per-example loop" in m for m in messages
    ):
        return "batched (piece)"
    if messages:
        return "region/call loop"
    return "batched"


def measure(name: str, B: int) -> dict:
    """One case, in this process: first call, then steady speed, against the loop."""
    case = next(c for c in CASES if c.name == name)
    args = batch(case, B)
    one = batch(case, 1)
    axes = case.in_axes if isinstance(case.in_axes, tuple) else (case.in_axes,) * len(args)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (one example, as the user has: the library is imported)
        case.fn(*[a if ax is None else a[0] for a, ax in zip(one, axes)])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        f = astvmap.vmap(case.fn, in_axes=case.in_axes)
        t = time.perf_counter()
        try:
            f(*args)
            first = time.perf_counter() - t
        except Exception as e:
            return {"name": name, "how": f"error: {type(e).__name__}", "speed": None, "first": None}
    ours = [str(w.message) for w in caught if issubclass(w.category, astvmap.PerformanceWarning)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loop = _best(lambda: loop_vmap(case.fn, case.in_axes, 0, args), 3)
        vec = _best(lambda: f(*args), 3)
    return {"name": name, "how": how_it_runs(ours), "speed": loop / vec, "first": first / loop}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=2000)
    ap.add_argument("--only", nargs="*", default=None)
    ap.add_argument("--one", help=argparse.SUPPRESS)  # (the child process's case)
    opts = ap.parse_args()
    if opts.one:
        print(json.dumps(measure(opts.one, opts.batch)))
        return
    print(f"| case | how it runs | speed over the loop (B={opts.batch}) | first call over the loop |")
    print("|---|---|---|---|")
    for case in CASES:
        if opts.only and not any(o in case.name for o in opts.only):
            continue
        try:
            __import__(case.needs)
        except ImportError:
            continue
        cmd = [sys.executable, __file__, "--batch", str(opts.batch), "--one", case.name]
        out = subprocess.run(cmd, capture_output=True, text=True, check=False)
        try:
            row = json.loads(out.stdout.strip().splitlines()[-1])
        except (json.JSONDecodeError, IndexError):
            row = {"name": case.name, "how": "error (process)", "speed": None, "first": None}
        speed = f"{row['speed']:.1f}x" if row["speed"] else "-"
        first = f"{row['first']:.2f}" if row["first"] else "-"
        print(f"| {case.name} | {row['how']} | {speed} | {first} |", flush=True)


if __name__ == "__main__":
    main()
