"""`--threads N`: pin BLAS, OpenMP, MKL, Numba and XLA to N threads so that ratios compare like with like.

The variables are read once, when the library loads, so they must be set before numpy (or jax, torch,
numba) is imported. `astvmap bench` is started after numpy has been imported (astvmap imports it), so:

1. if the variables already hold N (you exported them, or this is the re-started process), nothing to do;
2. else, if threadpoolctl is installed, it limits the BLAS and OpenMP pools already loaded, for the run, and
   the variables are set for what is imported later (jax reads XLA_FLAGS, numba NUMBA_NUM_THREADS);
3. else the benchmark starts over in a fresh interpreter, `python -m astvmap bench ...`, with the variables
   set: by `os.execv` when it runs as the `astvmap` command, in a child process when `astvmap.cli.main` is
   called from Python (so the caller's process is not replaced).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import subprocess
import sys

THREAD_VARS = (
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMBA_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)
XLA_ONE_THREAD = "--xla_cpu_multi_thread_eigen=false"
MARK = "ASTVMAP_BENCH_THREADS"  # set in the re-started process: the variables were there at start
_AT_IMPORT = {v: os.environ.get(v) for v in (*THREAD_VARS, MARK)}  # before pin() sets any of them


def wanted_env(threads: int, env=None) -> dict:
    env = dict(os.environ if env is None else env)
    for var in THREAD_VARS:
        env[var] = str(threads)
    if threads == 1 and XLA_ONE_THREAD not in env.get("XLA_FLAGS", ""):
        env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " " + XLA_ONE_THREAD).strip()
    env[MARK] = str(threads)
    return env


def _already_pinned(threads: int) -> bool:
    return _AT_IMPORT[MARK] == str(threads) or all(_AT_IMPORT[v] == str(threads) for v in THREAD_VARS)


def pin(threads: int, argv: list[str], own_process: bool):
    """Pin to `threads` (0: leave everything as it is). Returns (how, context manager to run the benchmark
    in), or (None, exit code) when the benchmark ran in a child process instead."""
    if threads <= 0:
        return "not pinned (--threads 0)", contextlib.nullcontext()
    env = wanted_env(threads)
    if _already_pinned(threads) or "numpy" not in sys.modules:
        os.environ.update(env)  # for what loads later: jax reads XLA_FLAGS, numba its own
        how = (
            "re-started with the variables set"
            if _AT_IMPORT[MARK] == str(threads)
            else "variables set before numpy was imported"
        )
        return how, contextlib.nullcontext()
    if importlib.util.find_spec("threadpoolctl") is not None:
        return "threadpoolctl (numpy was already imported)", _pinned_here(threads, env)
    command = [sys.executable, "-m", "astvmap", "bench", *argv]
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    sys.stdout.flush()
    sys.stderr.flush()
    if own_process:
        os.execve(sys.executable, command, env)  # does not return
    return None, subprocess.run(command, env=env, check=False).returncode


@contextlib.contextmanager
def _pinned_here(threads: int, env: dict):
    """The benchmark run in this process with `threads` threads: the BLAS and OpenMP pools limited by
    threadpoolctl, the variables set for what is imported during the run, Numba's threads limited by
    `numba.set_num_threads` (its pool, once started, keeps the size it started with: setting
    NUMBA_NUM_THREADS here would break every later parallel compilation), and all of it undone after."""
    from threadpoolctl import threadpool_limits

    saved = {k: os.environ.get(k) for k in env}
    os.environ.update({k: v for k, v in env.items() if k != "NUMBA_NUM_THREADS"})
    numba_threads = None
    try:
        if importlib.util.find_spec("numba") is not None:
            import numba

            numba_threads = numba.get_num_threads()
            numba.set_num_threads(min(threads, int(getattr(numba.config, "NUMBA_NUM_THREADS", threads))))
        with threadpool_limits(limits=threads):
            yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        if numba_threads is not None:
            import numba

            numba.set_num_threads(numba_threads)
