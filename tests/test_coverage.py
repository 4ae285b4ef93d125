"""The coverage ratchet: every public NumPy callable has a batching rule or a stated reason why not.

Walked: `np.*` functions and ufuncs (classes such as scalar types, `np.vectorize`, `np.errstate` are not
walked), public `np.linalg.*` functions, public `np.ndarray` methods and attributes. Each one either has a
rule (`astvmap.rules.registry.lookup(obj) is not None`) or is listed in `UNSUPPORTED` below with a reason.

- A NumPy function in neither place fails `test_every_callable_is_classified`: add a rule, or an
  `UNSUPPORTED` entry with one of the `REASONS`.
- An `UNSUPPORTED` entry that has a rule now fails `test_unsupported_entries_have_no_rule`: delete it.
- The README's `## NumPy coverage` section is generated from this file:
  `python tests/test_coverage.py --write` rewrites it (`python tests/test_coverage.py` prints it).

Entries naming something the installed NumPy does not have are ignored (other NumPy versions).
"""

from __future__ import annotations

import pathlib
import re
import sys
import types

import numpy as np
import pytest

import astvmap  # noqa: F401  (fills the registry)
from astvmap.rules.registry import lookup

LOOP = "falls back to a per-example loop"
VARIES = "no batched form (result shape varies per example)"
WRITES = "in-place / writes"
NOT_MATH = "not array math (I/O, printing, dtype utilities)"
DEPRECATED = "deprecated"
REASONS = (LOOP, VARIES, WRITES, NOT_MATH, DEPRECATED)  # a reason is one of these, optionally + ": detail"

UNSUPPORTED = {
    # ---- np.* functions
    "np.allclose": LOOP,
    "np.append": LOOP,
    "np.apply_along_axis": LOOP + ": calls a Python function per 1-D slice",
    "np.apply_over_axes": LOOP,
    "np.argwhere": VARIES,
    "np.array2string": NOT_MATH,
    "np.array_equal": LOOP,
    "np.array_equiv": LOOP,
    "np.array_repr": NOT_MATH,
    "np.array_split": LOOP,
    "np.array_str": NOT_MATH,
    "np.asarray_chkfinite": LOOP,
    "np.asfortranarray": LOOP,
    "np.asmatrix": DEPRECATED + ": np.matrix is no longer recommended",
    "np.astype": LOOP,
    "np.atleast_3d": LOOP,
    "np.bartlett": VARIES + " when the window length is per example",
    "np.base_repr": NOT_MATH,
    "np.binary_repr": NOT_MATH,
    "np.blackman": VARIES + " when the window length is per example",
    "np.block": LOOP,
    "np.bmat": DEPRECATED + ": np.matrix is no longer recommended",
    "np.broadcast_arrays": LOOP,
    "np.busday_count": NOT_MATH + ": datetime",
    "np.busday_offset": NOT_MATH + ": datetime",
    "np.choose": LOOP,
    "np.common_type": NOT_MATH,
    "np.compress": LOOP + "; the result shape varies with a per-example condition",
    "np.copyto": WRITES,
    "np.cumulative_prod": LOOP,
    "np.cumulative_sum": LOOP,
    "np.datetime_as_string": NOT_MATH + ": datetime",
    "np.datetime_data": NOT_MATH + ": datetime",
    "np.delete": LOOP,
    "np.diag_indices": LOOP,
    "np.diag_indices_from": LOOP,
    "np.diagflat": LOOP,
    "np.digitize": LOOP,
    "np.dsplit": LOOP,
    "np.einsum_path": NOT_MATH + ": contraction planning",
    "np.extract": VARIES,
    "np.fill_diagonal": WRITES,
    "np.fix": LOOP,
    "np.flatnonzero": VARIES,
    "np.fliplr": LOOP,
    "np.flipud": LOOP,
    "np.format_float_positional": NOT_MATH,
    "np.format_float_scientific": NOT_MATH,
    "np.from_dlpack": NOT_MATH,
    "np.frombuffer": NOT_MATH,
    "np.fromfile": NOT_MATH,
    "np.fromfunction": LOOP,
    "np.fromiter": NOT_MATH,
    "np.frompyfunc": NOT_MATH + ": makes a ufunc",
    "np.fromregex": NOT_MATH,
    "np.fromstring": NOT_MATH,
    "np.genfromtxt": NOT_MATH,
    "np.geomspace": LOOP,
    "np.get_include": NOT_MATH,
    "np.get_printoptions": NOT_MATH,
    "np.getbufsize": NOT_MATH,
    "np.geterr": NOT_MATH,
    "np.geterrcall": NOT_MATH,
    "np.hamming": VARIES + " when the window length is per example",
    "np.hanning": VARIES + " when the window length is per example",
    "np.histogram2d": LOOP,
    "np.histogram_bin_edges": LOOP,
    "np.histogramdd": LOOP,
    "np.hsplit": LOOP,
    "np.indices": LOOP,
    "np.info": NOT_MATH,
    "np.insert": LOOP,
    "np.intersect1d": VARIES,
    "np.is_busday": NOT_MATH + ": datetime",
    "np.iscomplexobj": NOT_MATH,
    "np.isdtype": NOT_MATH,
    "np.isfortran": NOT_MATH,
    "np.isin": LOOP,
    "np.isneginf": LOOP,
    "np.isposinf": LOOP,
    "np.isrealobj": NOT_MATH,
    "np.issubdtype": NOT_MATH,
    "np.ix_": LOOP,
    "np.kaiser": VARIES + " when the window length is per example",
    "np.lexsort": LOOP,
    "np.load": NOT_MATH,
    "np.loadtxt": NOT_MATH,
    "np.mask_indices": LOOP,
    "np.matrix_transpose": LOOP,
    "np.may_share_memory": NOT_MATH,
    "np.meshgrid": LOOP,
    "np.min_scalar_type": NOT_MATH,
    "np.mintypecode": NOT_MATH,
    "np.nested_iters": NOT_MATH,
    "np.nonzero": VARIES,
    "np.packbits": LOOP,
    "np.place": WRITES,
    "np.poly": LOOP,
    "np.polyadd": LOOP,
    "np.polyder": LOOP,
    "np.polydiv": LOOP,
    "np.polyfit": LOOP,
    "np.polyint": LOOP,
    "np.polymul": LOOP,
    "np.polysub": LOOP,
    "np.polyval": LOOP,
    "np.printoptions": NOT_MATH,
    "np.promote_types": NOT_MATH,
    "np.put": WRITES,
    "np.put_along_axis": WRITES,
    "np.putmask": WRITES,
    "np.ravel_multi_index": LOOP,
    "np.require": LOOP,
    "np.resize": LOOP,
    "np.rollaxis": LOOP,
    "np.roots": VARIES + ": leading zeros drop roots",
    "np.rot90": LOOP,
    "np.row_stack": DEPRECATED + ": use np.vstack",
    "np.save": NOT_MATH,
    "np.savetxt": NOT_MATH,
    "np.savez": NOT_MATH,
    "np.savez_compressed": NOT_MATH,
    "np.set_printoptions": NOT_MATH,
    "np.setbufsize": NOT_MATH,
    "np.setdiff1d": VARIES,
    "np.seterr": NOT_MATH,
    "np.seterrcall": NOT_MATH,
    "np.setxor1d": VARIES,
    "np.shares_memory": NOT_MATH,
    "np.show_config": NOT_MATH,
    "np.show_runtime": NOT_MATH,
    "np.split": LOOP,
    "np.test": NOT_MATH,
    "np.tri": LOOP,
    "np.tril": LOOP,
    "np.tril_indices": LOOP,
    "np.tril_indices_from": LOOP,
    "np.trim_zeros": VARIES,
    "np.triu": LOOP,
    "np.triu_indices": LOOP,
    "np.triu_indices_from": LOOP,
    "np.typename": NOT_MATH,
    "np.union1d": VARIES,
    "np.unique": VARIES,
    "np.unique_all": VARIES,
    "np.unique_counts": VARIES,
    "np.unique_inverse": VARIES,
    "np.unique_values": VARIES,
    "np.unpackbits": LOOP,
    "np.unravel_index": LOOP,
    "np.unstack": LOOP,
    "np.vsplit": LOOP,
    # ---- np.linalg
    "np.linalg.cond": LOOP,
    "np.linalg.diagonal": LOOP,
    "np.linalg.matmul": LOOP,
    "np.linalg.matrix_norm": LOOP,
    "np.linalg.matrix_transpose": LOOP,
    "np.linalg.multi_dot": LOOP,
    "np.linalg.outer": LOOP,
    "np.linalg.svdvals": LOOP,
    "np.linalg.tensordot": LOOP,
    "np.linalg.tensorinv": LOOP,
    "np.linalg.tensorsolve": LOOP,
    "np.linalg.test": NOT_MATH,
    "np.linalg.trace": LOOP,
    "np.linalg.vecdot": LOOP,
    "np.linalg.vector_norm": LOOP,
    # ---- np.ndarray methods and attributes
    "np.ndarray.base": NOT_MATH + ": memory",
    "np.ndarray.byteswap": NOT_MATH + ": byte order",
    "np.ndarray.choose": LOOP,
    "np.ndarray.compress": LOOP + "; the result shape varies with a per-example condition",
    "np.ndarray.ctypes": NOT_MATH + ": memory",
    "np.ndarray.data": NOT_MATH + ": memory",
    "np.ndarray.device": NOT_MATH,
    "np.ndarray.dump": NOT_MATH,
    "np.ndarray.dumps": NOT_MATH,
    "np.ndarray.fill": WRITES,
    "np.ndarray.flags": NOT_MATH + ": memory",
    "np.ndarray.flat": LOOP,
    "np.ndarray.getfield": NOT_MATH + ": dtype views",
    "np.ndarray.itemsize": NOT_MATH + ": memory",
    "np.ndarray.nbytes": NOT_MATH + ": memory",
    "np.ndarray.nonzero": VARIES,
    "np.ndarray.partition": WRITES,
    "np.ndarray.put": WRITES,
    "np.ndarray.resize": WRITES,
    "np.ndarray.setfield": WRITES,
    "np.ndarray.setflags": WRITES,
    "np.ndarray.sort": WRITES + ": use np.sort, which has a rule",
    "np.ndarray.strides": NOT_MATH + ": memory",
    "np.ndarray.take": LOOP,
    "np.ndarray.to_device": NOT_MATH,
    "np.ndarray.tobytes": NOT_MATH,
    "np.ndarray.tofile": NOT_MATH,
    "np.ndarray.tolist": LOOP,
    "np.ndarray.view": NOT_MATH + ": dtype views",
}

MODULES = ("functions", "ufuncs", "linalg", "ndarray")

# Hand-kept: the gaps a user is most likely to meet (the generated table counts the rest).
KNOWN_GAPS = [
    "`x.sort()` and `x.partition()` sort in place (a write): use `np.sort(x)` / `np.partition(x, k)`.",
    (
        "`np.searchsorted(a, v)` with a per-example `a` counts entries (`np.count_nonzero(a < v)`): exact for a "
        "sorted `a` (NaN last, as NumPy sorts); for an unsorted `a`, where NumPy's answer is unspecified, it "
        "may differ from the loop. `sorter=` with a per-example `a` falls back."
    ),
    "`np.interp` with per-example sample points `xp`/`fp` falls back (per-example `x` has a rule).",
    "`np.convolve`/`np.correlate` of an empty per-example `a` return an array where NumPy raises.",
    (
        "Results whose shape depends on the data (`np.unique`, `np.nonzero`, `np.argwhere`, set operations, "
        "`np.trim_zeros`) have no batched form: they run as the per-example loop. `np.bincount` batches when "
        "every example's result has one length, and `x[mask]` where what reads it is a reduction, its size or "
        "elementwise arithmetic (another call that reads it runs as that call's loop)."
    ),
    (
        "`np.linalg.lstsq` on tall matrices whose examples differ in rank (the residuals' length differs), "
        "`np.histogram` without a fixed range or edges, `np.isin` and `np.apply_along_axis` run as the loop."
    ),
    (
        "NumPy functions without a rule whose implementation is Python (`np.polyval`, `np.tril`, "
        "`np.fliplr`, `np.linalg.matrix_norm`) are rewritten from NumPy's source where that batches whole."
    ),
]


# --------------------------------------------------------------------------- the walk


def numpy_callables():
    """(module, qualified name, object) for every public NumPy callable the ratchet covers."""
    out = []
    for name in sorted(dir(np)):
        obj = getattr(np, name, None)
        if (
            name.startswith("_")
            or obj is None
            or isinstance(obj, (types.ModuleType, type))
            or not callable(obj)
        ):
            continue
        out.append(("ufuncs" if isinstance(obj, np.ufunc) else "functions", f"np.{name}", obj))
    for name in sorted(dir(np.linalg)):
        obj = getattr(np.linalg, name, None)
        if (
            name.startswith("_")
            or obj is None
            or isinstance(obj, (types.ModuleType, type))
            or not callable(obj)
        ):
            continue
        out.append(("linalg", f"np.linalg.{name}", obj))
    for name in sorted(dir(np.ndarray)):
        if not name.startswith("_"):
            out.append(("ndarray", f"np.ndarray.{name}", getattr(np.ndarray, name)))
    return out


def coverage():
    """{module: (with rule, unsupported, unclassified names)}."""
    table = {m: [0, 0, []] for m in MODULES}
    for module, name, obj in numpy_callables():
        if lookup(obj) is not None:
            table[module][0] += 1
        elif name in UNSUPPORTED:
            table[module][1] += 1
        else:
            table[module][2].append(name)
    return table


def coverage_markdown() -> str:
    """The README's `## NumPy coverage` section."""
    table = coverage()
    rows = ["| NumPy | with a rule | unsupported | total |", "|---|---:|---:|---:|"]
    labels = {
        "functions": "`np.*` functions",
        "ufuncs": "`np.*` ufuncs",
        "linalg": "`np.linalg.*`",
        "ndarray": "`np.ndarray` methods and attributes",
    }
    tot = [0, 0]
    for m in MODULES:
        ok, no, missing = table[m]
        tot[0] += ok
        tot[1] += no + len(missing)
        rows.append(f"| {labels[m]} | {ok} | {no + len(missing)} | {ok + no + len(missing)} |")
    rows.append(f"| all | {tot[0]} | {tot[1]} | {sum(tot)} |")
    reasons = {}
    for name, why in UNSUPPORTED.items():
        reasons[why.split(":")[0].split(";")[0].split(" when ")[0]] = (
            reasons.get(why.split(":")[0].split(";")[0].split(" when ")[0], 0) + 1
        )
    why_rows = [f"- {n} {r}" for r, n in sorted(reasons.items(), key=lambda kv: -kv[1])]
    return "\n".join(
        [
            "## NumPy coverage",
            "",
            f"Counted over the public callables of NumPy {np.__version__}. Generated: regenerate with",
            "`python tests/test_coverage.py --write`. `tests/test_coverage.py` fails when NumPy grows a function",
            "nobody classified, or when an entry of its `UNSUPPORTED` table gains a rule. Calls with no rule still",
            "work: they run as the per-example loop, with a `PerformanceWarning`.",
            "",
            *rows,
            "",
            "Why the unsupported ones are unsupported:",
            "",
            *why_rows,
            "",
            "Known gaps:",
            "",
            *[f"- {g}" for g in KNOWN_GAPS],
            "",
        ]
    )


README = pathlib.Path(__file__).resolve().parent.parent / "README.md"
_SECTION = re.compile(r"## NumPy coverage\n.*?(?=\n## |\Z)", re.S)


def write_readme(path=README):
    text = path.read_text()
    section = coverage_markdown().rstrip("\n") + "\n"
    if _SECTION.search(text):
        text = _SECTION.sub(lambda m: section, text, count=1)
    else:
        anchor = text.find("\n## How it works")
        text = (
            text[: anchor + 1] + section + "\n" + text[anchor + 1 :] if anchor >= 0 else text + "\n" + section
        )
    path.write_text(text)


# --------------------------------------------------------------------------- the tests


def test_every_callable_is_classified():
    missing = [n for m in MODULES for n in coverage()[m][2]]
    assert not missing, (
        f"NumPy {np.__version__} has {len(missing)} public callable(s) with neither a batching rule nor an entry "
        f"in UNSUPPORTED (tests/test_coverage.py): {', '.join(missing)}. Classify each: register a rule "
        f'(astvmap/rules/) or add `"name": <one of {REASONS}>` to UNSUPPORTED; then run '
        f"`python tests/test_coverage.py --write` to refresh the README."
    )


def test_unsupported_entries_have_no_rule():
    walked = {name: obj for _, name, obj in numpy_callables()}
    stale = [n for n in UNSUPPORTED if n in walked and lookup(walked[n]) is not None]
    assert not stale, (
        f"these UNSUPPORTED entries now have a batching rule: {', '.join(stale)}. Delete them from UNSUPPORTED "
        f"(tests/test_coverage.py) and run `python tests/test_coverage.py --write` to refresh the README."
    )


def test_reasons_are_from_the_list():
    bad = {n: r for n, r in UNSUPPORTED.items() if not r.startswith(REASONS)}
    assert not bad, f"UNSUPPORTED reasons must start with one of {REASONS}: {bad}"


def test_readme_coverage_is_current():
    text = README.read_text()
    m = _SECTION.search(text)
    if m is None:
        pytest.fail(
            "README.md has no `## NumPy coverage` section: run `python tests/test_coverage.py --write`"
        )
    if f"NumPy {np.__version__}." not in m.group(0):
        pytest.skip("README.md's coverage counts were generated with another NumPy version")
    assert m.group(0).strip() == coverage_markdown().strip(), (
        "README.md's `## NumPy coverage` section is out of date: run `python tests/test_coverage.py --write`"
    )


def test_coverage_summary(capsys):
    table = coverage()
    with capsys.disabled():
        print("\nNumPy coverage (with rule / unsupported):")
        for m in MODULES:
            ok, no, missing = table[m]
            print(f"  {m:10s} {ok:4d} / {no + len(missing):4d}")
    assert sum(table[m][0] for m in MODULES) > 0


if __name__ == "__main__":
    if "--write" in sys.argv:
        write_readme()
        print(f"rewrote the `## NumPy coverage` section of {README}")
    else:
        print(coverage_markdown())
