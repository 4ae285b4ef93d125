"""Timing the variants of each workload, after checking that each one equals the hand reference.

For each case (a workload at one batch size): make the arguments, run the hand reference (its result is the
expected one), then for each variant: run it once and compare with the expected result (the Python loop
and np.vectorize on the examples they run, the others on all of them), and only if equal, time it. A time is
the median (with min and max) of samples taken until a time budget is spent; fast calls are grouped so that
a sample lasts at least 5 ms. The hand reference, astvmap and the peers are timed together, in rounds of
one sample each, so that a change in the machine's load hits them alike and their ratios hold. The Python loop and np.vectorize run on at most `max_calls` per-example calls
and are scaled up to the whole batch (`estimated`). The first call of astvmap (transform + compile + one
run, with astvmap's specialization cache emptied first) and of jax (trace + compile + one run) is its own
number: `first_call`.
"""

from __future__ import annotations

import gc
import math
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from . import peers as peers_mod
from .workloads import Case, Workload

if TYPE_CHECKING:
    from typing import TypeAlias

    # a variant's first call: its entry in the row, and the function to time (None: not timed)
    _Checked: TypeAlias = tuple[dict, Callable[[], Any] | None]

VARIANTS = ("loop", "vectorize", "hand", "astvmap", *peers_mod.PEERS)
LABELS = {
    "loop": "Python loop",
    "vectorize": "np.vectorize",
    "hand": "hand NumPy",
    "astvmap": "astvmap",
    **peers_mod.LABELS,
}
RTOL, ATOL = 1e-6, 1e-9


@dataclass
class Settings:
    budget: float = 0.5  # seconds of samples per measurement
    max_calls: int = 2000  # per-example calls the loop and np.vectorize run (then scaled)
    quick: bool = False
    peers: tuple[str, ...] = peers_mod.PEERS
    threads: int = 1
    progress: Callable[[str], None] | None = None
    loaded: dict = field(default_factory=dict)  # peer name -> Peer, or the reason it is skipped


# ---------------------------------------------------------------------------------------------------------
def measure(fn: Callable[[], Any], budget: float, min_sample: float = 0.005, max_samples: int = 50) -> dict:
    """Seconds per call of fn() (already warmed up by the caller): median, min, max over the samples."""
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        fn()
        one = time.perf_counter() - start
        number = max(1, math.ceil(min_sample / max(one, 1e-9)))
        samples = [] if number > 1 else [one]  # a slow call is a sample already (one, if over budget)
        deadline = start + budget
        while not samples or (time.perf_counter() < deadline and len(samples) < max_samples):
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            samples.append((time.perf_counter() - t0) / number)
    finally:
        if gc_was_enabled:
            gc.enable()
    return {
        "median": statistics.median(samples),
        "min": min(samples),
        "max": max(samples),
        "samples": len(samples),
        "calls_per_sample": number,
    }


def measure_together(
    fns: dict[str, Callable[[], Any]], budget: float, min_sample: float = 0.005, max_rounds: int = 50
) -> tuple[dict, dict]:
    """Time several functions (already warmed up) in rounds, one sample of each per round, until
    `budget` seconds per function are spent: a change in the machine's load hits every variant alike, so
    their ratios hold. ({name: median, min, max...}, {name: the exception that stopped it})."""
    samples: dict = {name: [] for name in fns}
    numbers, errors = {}, {}
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        for name, fn in fns.items():
            t0 = time.perf_counter()
            try:
                fn()
            except Exception as e:
                errors[name] = e
                continue
            numbers[name] = max(1, math.ceil(min_sample / max(time.perf_counter() - t0, 1e-9)))
        deadline, rounds = start + budget * len(fns), 0
        while numbers and (rounds == 0 or (time.perf_counter() < deadline and rounds < max_rounds)):
            for name, number in list(numbers.items()):
                fn = fns[name]
                t0 = time.perf_counter()
                try:
                    for _ in range(number):
                        fn()
                except Exception as e:
                    errors[name] = e
                    del numbers[name]
                    continue
                samples[name].append((time.perf_counter() - t0) / number)
            rounds += 1
    finally:
        if gc_was_enabled:
            gc.enable()
    return (
        {
            name: {
                "median": statistics.median(v),
                "min": min(v),
                "max": max(v),
                "samples": len(v),
                "calls_per_sample": numbers[name],
            }
            for name, v in samples.items()
            if name in numbers
        },
        errors,
    )


def compare(got, expected) -> dict:
    """The correctness check of one variant: same shape, equal within RTOL/ATOL (NaN equal to NaN)."""
    got = np.asarray(got)
    expected = np.asarray(expected)
    if got.shape != expected.shape:
        return {"passed": False, "detail": f"shape {got.shape}, expected {expected.shape}"}
    equal = np.allclose(got, expected, rtol=RTOL, atol=ATOL, equal_nan=True)
    with np.errstate(invalid="ignore"):
        err = float(np.nanmax(np.abs(got - expected))) if got.size else 0.0
    return {
        "passed": bool(equal),
        "max_abs_error": err,
        **({} if equal else {"detail": f"differs from the hand reference (max abs error {err:.3g})"}),
    }


def _clear_astvmap_cache():
    """Empty astvmap's caches, so that a first call transforms and compiles afresh."""
    from .. import clear_cache

    clear_cache()


def _error(e: BaseException) -> dict:
    text = f"{type(e).__name__}: {e}".strip()
    return {"status": "error", "reason": text.splitlines()[0][:300]}


# ---------------------------------------------------------------------------------------------------------
def _sampled(case: Case, fn, args, expected, settings: Settings) -> dict:
    k = max(1, min(case.outer, settings.max_calls // case.inner))
    got = fn(k, *args)
    check = compare(got, case.prefix(expected, k))
    check["compared"] = "all" if k == case.outer else f"first {k:,} of {case.outer:,}"
    if not check["passed"]:
        return {"status": "mismatch", "check": check}
    t = measure(lambda: fn(k, *args), settings.budget)
    scale = case.outer / k
    t.update(median=t["median"] * scale, min=t["min"] * scale, max=t["max"] * scale)
    return {"status": "ok", "check": check, **t, "estimated": k < case.outer, "sampled": k}


def _astvmap(case: Case, args, expected, settings: Settings) -> _Checked:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _clear_astvmap_cache()
        t0 = time.perf_counter()
        batched = case.astvmap()
        got = batched(*args)
        first = time.perf_counter() - t0
        check = compare(got, expected)
        check["compared"] = "all"
        out: dict[str, object] = {"first_call": first}
    fallbacks = sorted(
        {str(w.message).splitlines()[0] for w in caught if type(w.message).__name__ == "PerformanceWarning"}
    )
    if fallbacks:
        out["fallback"] = fallbacks
    result = {"status": "ok" if check["passed"] else "mismatch", "check": check, **out}
    return result, (lambda: batched(*args)) if check["passed"] else None


def _astvmap_jit(case: Case, args, expected, settings: Settings) -> _Checked:
    """The workload's vmapped function built again with jit=True (the Numba backend)."""
    from ..api import VmappedFunction

    plain = case.astvmap()
    if not isinstance(plain, VmappedFunction):
        return {"status": "skipped", "reason": "not one vmapped function (its vmaps are made inside)"}, None
    jitted = VmappedFunction(plain.__wrapped__, plain.in_axes, plain.out_axes, plain.axis_size, jit=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        got = jitted(*args)
        first = time.perf_counter() - t0
    check = compare(got, expected)
    check["compared"] = "all"
    if not check["passed"]:
        return {"status": "mismatch", "check": check, "first_call": first}, None
    return (
        {"status": "ok", "check": check, "first_call": first, "strategy": jitted.strategy},
        lambda: jitted(*args),
    )


def _peer(name: str, case: Case, args, expected, settings: Settings) -> _Checked:
    if name == "numba":
        return _astvmap_jit(case, args, expected, settings)
    peer = settings.loaded[name]
    fn = peer.functions.get(case.workload)
    if fn is None:
        return {"status": "skipped", "reason": f"no {name} version of {case.workload}"}, None
    converted = peer.convert(args)
    t0 = time.perf_counter()
    got = peer.block(fn(*converted))
    first = time.perf_counter() - t0
    check = compare(peer.to_numpy(got), expected)
    check["compared"] = "all"
    if not check["passed"]:
        return {"status": "mismatch", "check": check, "first_call": first}, None
    return {"status": "ok", "check": check, "first_call": first}, lambda: peer.block(fn(*converted))


def load_peers(settings: Settings) -> dict:
    """{peer: {"version": ...} or {"skipped": why}}; the loaded ones go to settings.loaded."""
    info = {}
    for name in settings.peers:
        version, why = peers_mod.status(name)
        if why is None:
            try:
                settings.loaded[name] = peers_mod.load(name, settings.threads)
                version = settings.loaded[name].version
            except Exception as e:
                why = f"{name} failed to import: {type(e).__name__}: {e}".splitlines()[0]
        info[name] = {"version": version} if why is None else {"skipped": why}
    return info


def run_case(case: Case, settings: Settings) -> dict:
    args = case.make_args(np.random.default_rng(1))
    row: dict[str, Any] = {
        "workload": case.workload,
        "size": case.size,
        "batch": case.batch,
        "params": case.params,
        "variants": {},
    }
    variants: dict[str, dict] = row["variants"]
    try:
        expected = case.hand(*args)
    except Exception as e:
        variants["hand"] = _error(e)
        row["checks_passed"] = False
        return row
    variants["hand"] = {"status": "ok"}
    timers = {"hand": lambda: case.hand(*args)}
    for name, fn in (("loop", case.loop), ("vectorize", case.vectorize)):  # sampled: timed on their own
        try:
            variants[name] = _sampled(case, fn, args, expected, settings)
        except Exception as e:
            variants[name] = _error(e)
    # called without arguments (`...`: the lambdas' defaults bind loop variables)
    steps: list[tuple[str, Callable[..., _Checked]]] = [
        ("astvmap", lambda: _astvmap(case, args, expected, settings))
    ]
    for name in settings.peers:
        if name not in settings.loaded:
            continue
        why = peers_mod.skip_reason(name, case.workload, settings.quick)
        steps.append(
            (
                name,
                (lambda why=why: ({"status": "skipped", "reason": why}, None))
                if why
                else (lambda name=name: _peer(name, case, args, expected, settings)),
            )
        )
    for name, step in steps:  # first call and check; timed below, together with hand
        try:
            variants[name], timer = step()
        except Exception as e:
            variants[name], timer = _error(e), None
        if timer is not None:
            timers[name] = timer
    times, errors = measure_together(timers, settings.budget)
    for name, t in times.items():
        variants[name].update(t)
    for name, err in errors.items():
        variants[name] = _error(err)
    row["checks_passed"] = all(v["status"] in ("ok", "skipped") for v in variants.values())
    return row


def run(workloads: list[Workload], batches: list[int] | None, settings: Settings) -> list[dict]:
    cases = [(w, b) for w in workloads for b in (batches or (w.quick if settings.quick else w.sizes))]
    rows = []
    for i, (work, batch) in enumerate(cases, 1):
        case = work.case(batch)
        t0 = time.perf_counter()
        row = run_case(case, settings)
        rows.append(row)
        if settings.progress:
            v = row["variants"]
            ratio = (
                f"astvmap/hand {v['astvmap']['median'] / v['hand']['median']:.2f}x"
                if "median" in v.get("astvmap", {}) and "median" in v["hand"]
                else "astvmap: see table"
            )
            bad = "" if row["checks_passed"] else "  CHECK FAILED"
            settings.progress(
                f"[{i}/{len(cases)}] {case.workload} {case.size}: {ratio} "
                f"({time.perf_counter() - t0:.1f} s){bad}"
            )
    return rows


def environment(settings: Settings, pinning: str) -> dict:
    import os
    import platform

    from .. import __version__

    return {
        "astvmap": __version__,
        "numpy": np.__version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "threads": settings.threads,
        "thread_pinning": pinning,
        "quick": settings.quick,
        "budget_s": settings.budget,
        "max_calls": settings.max_calls,
        "rtol": RTOL,
        "atol": ATOL,
    }
