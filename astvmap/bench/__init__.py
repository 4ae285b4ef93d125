"""`astvmap bench`: time astvmap against a Python loop, np.vectorize, hand-written NumPy, and jax and torch
when they are installed, on the workloads of WORKLOADS.md, control flow, and two ML ones.

    astvmap bench                          # every workload at its sizes (a few minutes)
    astvmap bench --quick                  # smaller sizes and budgets (under a minute)
    astvmap bench --workload mlp attention --batch 1000,10000,100000
    astvmap bench --markdown --json results.json --plot bench.png

Every variant's result is checked equal to the hand-written NumPy reference before it is timed; the
exit code is 1 if any check failed or a variant raised, 0 otherwise. The headline is each variant's time
over hand NumPy's in the same run (machines are noisy, ratios less so).
"""

from __future__ import annotations

import argparse
import sys

from . import peers as peers_mod
from . import report, runner, threads, workloads

__all__ = ["add_arguments", "peers_mod", "report", "run", "runner", "workloads"]


def _batches(text: str) -> list[int]:
    try:
        values = [int(v.replace("_", "")) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"batch sizes are integers separated by commas: {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"batch sizes must be positive integers: {text!r}")
    return values


def _peers(text: str) -> list[str]:
    names = [p.strip() for p in text.split(",") if p.strip()]
    if names in ([], ["none"]):
        return []
    unknown = [p for p in names if p not in peers_mod.PEERS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown peer {', '.join(unknown)}; choose from {', '.join(peers_mod.PEERS)} (or none)"
        )
    return names


def add_arguments(p: argparse.ArgumentParser):
    p.add_argument(
        "--quick",
        action="store_true",
        help="smaller sizes, shorter budgets, no jax on convolve_k: under a minute",
    )
    p.add_argument(
        "--workload",
        nargs="+",
        action="extend",
        metavar="NAME",
        help="only these workloads: "
        + ", ".join(workloads.NAMES)
        + "; or a group: "
        + ", ".join(workloads.GROUPS),
    )
    p.add_argument(
        "--batch",
        type=_batches,
        metavar="B,B,...",
        help="batch sizes for every workload (e.g. 1000,10000,100000) instead of each workload's own; "
        "for pairwise and rbf_gram B is the number of pairs (N = M = sqrt(B)), for mm n*n",
    )
    p.add_argument(
        "--peers",
        type=_peers,
        default=list(peers_mod.PEERS),
        metavar="NAME,...",
        help="libraries to compare with when installed (default: jax,torch; none for none)",
    )
    p.add_argument("--json", metavar="FILE", help="write every measurement, check and setting to FILE")
    p.add_argument(
        "--plot",
        metavar="FILE.png",
        help="log-log plot of time vs batch size per workload "
        "(needs matplotlib: pip install 'astvmap[bench]')",
    )
    p.add_argument("--markdown", action="store_true", help="print the table as Markdown (for a README)")
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        metavar="N",
        help="pin BLAS, OpenMP, MKL, Numba and XLA to N threads (default 1; 0 leaves them alone). "
        "Set before numpy loads: the benchmark re-starts itself with the variables set unless "
        "they were already set or threadpoolctl is installed",
    )
    p.add_argument(
        "--budget",
        type=float,
        metavar="SECONDS",
        help="seconds of repeats per measurement (default 0.5; 0.1 with --quick)",
    )


def to_argv(args) -> list[str]:
    """The command line (after `bench`) that gives these options again."""
    argv = ["--quick"] if args.quick else []
    if args.workload:
        argv += ["--workload", *args.workload]
    if args.batch:
        argv += ["--batch", ",".join(map(str, args.batch))]
    argv += ["--peers", ",".join(args.peers) or "none"]
    if args.json:
        argv += ["--json", args.json]
    if args.plot:
        argv += ["--plot", args.plot]
    if args.markdown:
        argv.append("--markdown")
    argv += ["--threads", str(args.threads)]
    if args.budget is not None:
        argv += ["--budget", repr(args.budget)]
    return argv


def _progress(text: str):
    print(f"astvmap bench: {text}", file=sys.stderr, flush=True)


def run(args, own_process: bool = False) -> int:
    """Run `astvmap bench` with parsed options. 0: every check passed; 1: a check failed or a variant
    raised; 2: usage error."""
    try:
        chosen = workloads.select(args.workload)
    except ValueError as e:
        print(f"astvmap bench: error: {e}", file=sys.stderr)
        return 2
    if args.plot and not report.have_matplotlib():
        print(f"astvmap bench: error: {report.MISSING_MATPLOTLIB}", file=sys.stderr)
        return 2
    how, context = threads.pin(args.threads, to_argv(args), own_process)
    if how is None:
        return context  # ran in a child process: its exit code
    settings = runner.Settings(
        budget=args.budget if args.budget is not None else (0.1 if args.quick else 0.5),
        max_calls=500 if args.quick else 2000,
        quick=args.quick,
        peers=tuple(args.peers),
        threads=args.threads,
        progress=_progress,
    )
    with context:
        peer_info = runner.load_peers(settings)
        rows = runner.run(chosen, args.batch, settings)
    result = {
        "environment": runner.environment(settings, how),
        "peers": peer_info,
        "command": "astvmap bench " + " ".join(to_argv(args)),
        "rows": rows,
        "checks_passed": all(r.get("checks_passed") for r in rows),
    }
    sys.stdout.write(report.markdown(result) if args.markdown else report.terminal(result))
    sys.stdout.flush()
    if args.json:
        report.write_json(result, args.json)
        print(f"astvmap bench: wrote {args.json}", file=sys.stderr)
    if args.plot:
        report.plot(result, args.plot)
        print(f"astvmap bench: wrote {args.plot}", file=sys.stderr)
    return 0 if result["checks_passed"] else 1
