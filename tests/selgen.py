"""A generator of programs over masked selections (`s = x[x > t]`, NOTE [masked selections]): the
selection is read by elementwise arithmetic, reductions, sizes, a branch on its size, per-example calls
with no rule, and returned whole; before it is read, the names and buffers it was made from may be
rebound or written in place (the selection is the values as they were when it was made). Each program
is compared with the loop (`check`); `python tests/selgen.py LO HI` runs seeds by hand."""

from __future__ import annotations

import importlib.util
import sys
import tempfile
import textwrap
import warnings
from pathlib import Path

import numpy as np

import astvmap

MASKS = ["x > t", "x < t", "(x > 0) & (y < 0.5)", "~np.isnan(x)", "y > t", "np.abs(x) >= 1.0"]
BASES = ["x", "y", "x * 2.0", "x + y"]
CHANGES = ["x = x * 3.0", "m = ~m", "x[..., 0] = 5.0", "y[...] = -1.0", "t = t + 1.0", "x += 1.0"]
ELEMENTWISE = ["s * 2.0", "np.abs(s) + t", "s - s.mean()", "np.exp(-s)", "s * s", "np.clip(s, -1.0, None)"]
REDUCE = [
    "np.sum({a})",
    "{a}.sum()",
    "np.mean({a})",
    "np.max({a})",
    "np.count_nonzero({a} > 0)",
    "len({a})",
    "{a}.size",
    "np.median({a})",
    "np.any({a} > 1.0)",
    "{a}.prod()",
]
WHOLE = ["np.sum(s) + np.sum(x[m])", "sorted(s)[0] if len(s) else 0.0", "s"]


def program(seed: int) -> str:
    r = np.random.default_rng(seed)
    lines = [f"m = {r.choice(MASKS)}", f"s = ({r.choice(BASES)})[m]"]
    if r.random() < 0.2:  # a selection chosen per lane (a branch on a batched condition)
        lines += ["if np.sum(y) > 2.5:", f"    s = ({r.choice(BASES)})[{r.choice(MASKS)}]"]
    if r.random() < 0.5:
        lines.append(str(r.choice(CHANGES)))
    a = "s"
    if r.random() < 0.6:
        lines.append(f"a = {r.choice(ELEMENTWISE)}")
        a = "a"
    red = str(r.choice(REDUCE)).format(a=a)
    if r.random() < 0.3:
        lines += ["if s.size == 0:", "    r = -1.0", "else:", f"    r = {red}"]
    elif r.random() < 0.15:
        lines.append(f"r = {r.choice(WHOLE)}")
    else:
        lines.append(f"r = {red}")
    lines.append("return r")
    return "def f(x, y, t):\n" + textwrap.indent("\n".join(lines), "    ") + "\n"


def load(src: str, seed: int, where: Path):
    path = where / f"selgen_{seed}.py"
    path.write_text("import numpy as np\n\n\n" + src)
    spec = importlib.util.spec_from_file_location(f"selgen_{seed}", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.f


def data(seed: int, B: int):
    r = np.random.default_rng(seed + 10_000)
    shape = (B, 5) if r.random() < 0.7 else (B, 3, 2)
    x = np.round(r.normal(size=shape), 1)
    x[r.random(shape) < 0.1] = 0.0
    if r.random() < 0.2:
        x[r.random(shape) < 0.1] = np.nan
    y = r.random(shape)
    t = np.round(r.normal(size=B), 1) if r.random() < 0.5 else 0.3
    return x, y, t


def _loop(f, x, y, t):
    ts = t if np.ndim(t) else [t] * len(x)
    outs = [f(xi.copy(), yi.copy(), ti) for xi, yi, ti in zip(x, y, ts)]
    return np.stack([np.asarray(o) for o in outs])


def check(seed: int, where: Path, B: int = 7) -> str:
    """ "ok", "both raise", "clear error" (NOTE [masked selections]: a ragged value needed whole in a
    function that changes its arguments), or raises AssertionError with the program."""
    src = program(seed)
    f = load(src, seed, where)
    x, y, t = data(seed, B)
    in_axes = (0, 0, 0 if np.ndim(t) else None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            want = _loop(f, x, y, t)
        except Exception as e:
            want = e
        try:
            got = astvmap.vmap(f, in_axes=in_axes)(x.copy(), y.copy(), t)
        except Exception as e:
            got = e
    if isinstance(want, Exception):
        assert isinstance(got, Exception), f"seed {seed}: the loop raises {want!r}, vmap returns\n{src}"
        return "both raise"
    if isinstance(got, astvmap.AstvmapError) and "cannot run again as the per-example loop" in str(got):
        return "clear error"  # ragged where the batched code needs one array, in a function with effects
    assert not isinstance(got, Exception), f"seed {seed}: vmap raises {got!r}, the loop does not\n{src}"
    got = np.asarray(got)
    assert got.shape == want.shape and got.dtype == want.dtype, (
        f"seed {seed}: {got.shape} {got.dtype} vs the loop's {want.shape} {want.dtype}\n{src}"
    )
    np.testing.assert_allclose(
        got, want, rtol=1e-12, atol=1e-12, equal_nan=True, err_msg=f"seed {seed}\n{src}"
    )
    return "ok"


if __name__ == "__main__":
    lo, hi = int(sys.argv[1]), int(sys.argv[2])
    counts: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(lo, hi):
            try:
                outcome = check(seed, Path(tmp), B=int(np.random.default_rng(seed).choice([0, 1, 3, 7])) or 3)
            except AssertionError as e:
                outcome = "WRONG"
                print(e, file=sys.stderr)
            counts[outcome] = counts.get(outcome, 0) + 1
    print(counts)
