"""Reporting a benchmark run: a terminal table, a Markdown table, JSON, and a log-log plot.

Every function takes the run as `astvmap bench --json` writes it (a dict: "environment", "peers", "rows"),
so a saved JSON file can be rendered again.
"""

from __future__ import annotations

import importlib.util
import json

from .runner import LABELS, VARIANTS

MISSING_MATPLOTLIB = (
    "--plot needs matplotlib, which is not installed: pip install 'astvmap[bench]' "
    "(or pip install matplotlib)"
)


def fmt_time(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def fmt_ratio(r: float) -> str:
    return f"{r:.2f}x" if r < 10 else f"{r:.0f}x"


def _median(row, name):
    v = row["variants"].get(name, {})
    return v.get("median") if v.get("status") == "ok" else None


class _Notes:
    """Footnotes: each distinct reason once, numbered."""

    def __init__(self):
        self.texts: list[str] = []

    def mark(self, text: str) -> str:
        if text not in self.texts:
            self.texts.append(text)
        return f"[{self.texts.index(text) + 1}]"


def _shown_peers(run: dict) -> list[str]:
    return [p for p, info in run.get("peers", {}).items() if "skipped" not in info]


def _cell(row: dict, name: str, notes: _Notes) -> str:
    v = row["variants"].get(name)
    if v is None:
        return "-"
    status = v.get("status")
    label = f"{LABELS[name]} on {row['workload']} {row['size']}"
    if status == "ok":
        text = fmt_time(v["median"]) + (" est." if v.get("estimated") else "")
        if v.get("fallback"):
            text += " (fallback) " + notes.mark(f"{label}: " + "; ".join(v["fallback"]))
        return text
    if status == "skipped":
        return "skipped " + notes.mark(f"{LABELS[name]} on {row['workload']}: {v['reason']}")
    if status == "mismatch":
        return "MISMATCH " + notes.mark(f"{label}: {v['check'].get('detail', 'differs')}")
    return "error " + notes.mark(f"{label}: {v.get('reason', 'failed')}")


def _ratio(row: dict, name: str, over: str = "hand") -> str:
    """Time of `name` over time of `over` in the same run."""
    a, b = _median(row, name), _median(row, over)
    return fmt_ratio(a / b) if a is not None and b else "-"


def _first(row: dict, name: str) -> str:
    v = row["variants"].get(name, {})
    return fmt_time(v["first_call"]) if v.get("first_call") is not None else "-"


def table_rows(run: dict) -> tuple[list[str], list[list[str]], list[str]]:
    """(header, rows, notes below the table)."""
    peers = _shown_peers(run)
    header = [
        "workload",
        "size",
        "loop",
        "np.vectorize",
        "hand",
        "astvmap",
        "astvmap/hand",
        "loop/astvmap",
        "astvmap 1st call",
    ]
    for p in peers:
        header += [LABELS[p], f"{p}/hand"] + ([f"{p} 1st call"] if p == "jax" else [])
    header.append("check")
    notes = _Notes()
    rows = []
    for row in run["rows"]:
        cells = [
            row["workload"],
            row["size"],
            *(_cell(row, v, notes) for v in ("loop", "vectorize", "hand", "astvmap")),
            _ratio(row, "astvmap"),
            _ratio(row, "loop", over="astvmap"),
            _first(row, "astvmap"),
        ]
        for p in peers:
            cells += [_cell(row, p, notes), _ratio(row, p)] + ([_first(row, p)] if p == "jax" else [])
        cells.append("ok" if row.get("checks_passed") else "FAILED")
        rows.append(cells)
    below = [f"{mark} {text}" for mark, text in ((f"[{i}]", t) for i, t in enumerate(notes.texts, 1))]
    for p, info in run.get("peers", {}).items():
        if "skipped" in info:
            below.append(f"{LABELS[p]}: skipped, {info['skipped']}")
    return header, rows, below


def summary_lines(run: dict) -> list[str]:
    env = run["environment"]
    peers = ", ".join(
        f"{p} {info['version']}" for p, info in run.get("peers", {}).items() if "version" in info
    )
    return [
        (
            f"astvmap {env['astvmap']}, numpy {env['numpy']}{', ' + peers if peers else ''}, Python {env['python']}, "
            f"{env['machine']}, {env['cpu_count']} CPUs, threads: {env['threads']} ({env['thread_pinning']})"
        ),
        (
            f"Times: median of repeats within {env['budget_s']} s (min-max in --json). loop and np.vectorize run at "
            f"most {env['max_calls']:,} per-example calls, scaled up (est.). x/hand: time over hand-written "
            f"NumPy's in the same run (1.00x = as fast, lower is better); loop/astvmap: speedup over the loop. "
            f"1st call: transform + compile + one run. Every variant was checked equal to hand before timing."
        ),
    ]


def _footer(run: dict, below: list[str]) -> list[str]:
    failed = [f"{r['workload']} {r['size']}" for r in run["rows"] if not r.get("checks_passed")]
    status = (
        "All correctness checks passed."
        if not failed
        else f"Correctness checks FAILED on: {', '.join(failed)}."
    )
    return below + [status]


def terminal(run: dict) -> str:
    header, rows, below = table_rows(run)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    left = {0, 1}

    def line(cells):
        return "  ".join(
            c.ljust(w) if i in left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))
        )

    out = summary_lines(run) + ["", line(header), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in rows]
    return "\n".join(out + [""] + _footer(run, below)) + "\n"


def markdown(run: dict) -> str:
    header, rows, below = table_rows(run)
    out = [" ".join(summary_lines(run)), ""]
    out.append("| " + " | ".join(header) + " |")
    out.append("|" + "|".join("---" if i < 2 else "---:" for i in range(len(header))) + "|")
    out += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]
    return (
        "\n".join(out + [""] + [f"{t}  " if i < len(below) else t for i, t in enumerate(_footer(run, below))])
        + "\n"
    )


def write_json(run: dict, path: str):
    with open(path, "w") as f:
        json.dump(run, f, indent=1)
        f.write("\n")


def have_matplotlib() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def plot(run: dict, path: str):
    """A log-log PNG: time vs batch size, one panel per workload, one line per variant."""
    if not have_matplotlib():
        raise RuntimeError(MISSING_MATPLOTLIB)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    names = list(dict.fromkeys(r["workload"] for r in run["rows"]))
    ncols = min(4, len(names))
    nrows = -(-len(names) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.3 * nrows), squeeze=False)
    colors = dict(zip(VARIANTS, plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    drawn: dict[str, object] = {}  # variant -> its first line (for the legend)
    for ax, name in zip(axes.flat, names):
        rows = sorted((r for r in run["rows"] if r["workload"] == name), key=lambda r: r["batch"])
        for variant in VARIANTS:
            points = [
                (r["batch"], r["variants"][variant])
                for r in rows
                if r["variants"].get(variant, {}).get("status") == "ok"
            ]
            if not points:
                continue
            xs = [b for b, _ in points]
            ys = [v["median"] for _, v in points]
            estimated = any(v.get("estimated") for _, v in points)
            (h,) = ax.plot(
                xs,
                ys,
                marker="o",
                color=colors[variant],
                linestyle="--" if estimated else "-",
                label=LABELS[variant] + (" (est.)" if estimated else ""),
            )
            drawn.setdefault(variant, h)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())  # no crowded labels on a short decade
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("batch (per-example calls)", fontsize=8)
        ax.set_ylabel("seconds per batched call", fontsize=8)
        ax.tick_params(labelsize=8)
        ax.grid(True, which="major", alpha=0.3)
    for ax in list(axes.flat)[len(names) :]:
        ax.set_visible(False)
    env = run["environment"]
    fig.suptitle(
        f"astvmap bench: time vs batch size (log-log; lower is better), numpy {env['numpy']}, "
        f"{env['threads']} thread(s)",
        fontsize=11,
    )
    fig.legend(
        [drawn[v] for v in VARIANTS if v in drawn],
        [LABELS[v] for v in VARIANTS if v in drawn],
        loc="lower center",
        ncol=len(drawn),
        fontsize=9,
        frameon=False,
    )
    fig.tight_layout(rect=(0, 0.05, 1, 0.96))
    fig.savefig(path, dpi=110)
    plt.close(fig)
