"""Allocation-free lowering of a per-example function for the Numba loop strategy.

A naive `prange` loop over an `njit`-compiled per-example function loses to hand-written NumPy because every
example allocates its small temporaries (`np.dot(x, y)` makes nothing, but `np.dot(x, W) + b` makes two
arrays, and `np.dot` of 3 numbers calls BLAS). This pass rewrites the per-example function so that array
expressions of small per-example size become scalar loops, writing the result into the output row:

    def custom_dot(x, y):                 def _av_pe(x, y, _av_out, _av_bad, _av_i):
        return np.dot(x, y) ** 2              _av_d1 = 0.0
                                              for _av_k2 in range(3):
                                                  _av_d1 += x[_av_k2] * y[_av_k2]
                                              _av_out[_av_i] = (_av_d1 ** 2)
                                              return

An array value is a *view* (`Arr`, numba_fuse_values.py): its shape (ints where the example's shapes fix
them, source expressions otherwise) and a function giving the source of one element, emitting any loop it
needs (a dot product's sum) in the block where the element is used. Elementwise operators, ufuncs and
`np.where` compose views; `np.dot`/`@` (ranks 1 and 2) and full reductions (`sum`, `max`, `min`, `mean`,
`prod`) become loops; basic slices shift indices; an array result is written straight into the output row;
a list filled by one `append` per iteration of a `for ... in range(...)` loop and returned as
`np.array(list)` is written into the output row too. A named array used once is inlined; otherwise it is
computed once into an array of its own (one allocation, still correct). A transcendental ufunc on a small
array (`np.tanh(np.dot(x, W) + b)`) is *staged*: NumPy's SIMD ufunc runs on a batch buffer between two
compiled passes (NOTE [staging] in numba_fuse_values.py).

The domain is kept to what pays and what can be checked: float64 arrays (NumPy and the scalar loop then
agree on every dtype), arrays of rank 1 and 2, scalars of any type. Anything else raises `NotFused`, and the
plain per-example function is compiled instead. Where Python would raise (an index out of range, sizes that
differ, the max of nothing, a failed `assert`), the code marks the example in `_av_bad` and returns; the
caller re-runs the first marked example in Python (numba_plan.py), which raises the user's error or shows
the compiled code cannot be used: never a silently wrong element.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

import numpy as np

from .numba_fuse_stmts import _Lower
from .numba_fuse_values import NotFused, Scalar, _is_np, _real, _StageEnd

_MAX_STAGES = 8

HELPERS = """
@_av_numba.njit(inline="always")
def _av_clip(i, n):
    j = i + n if i < 0 else i
    return 0 if j < 0 else (n if j > n else j)


@_av_numba.njit(inline="always")
def _av_range_len(start, stop, step):
    if step > 0:
        return max(0, (stop - start + step - 1) // step)
    return max(0, (start - stop - step - 1) // -step)
"""


@dataclass
class Fused:
    text: str  # the source of `_av_pe`
    mode: str  # "scalar": returns the result; "array": writes `_av_out`
    transcendental: int = 0  # element-wise transcendental calls on array elements
    macs: int = 0  # multiply-adds of contractions with an unmapped operand (static sizes)
    longest: int = 0  # the longest static extent a contraction or reduction runs over
    stages: list = field(default_factory=list)  # (text of `_av_pe_s<j>`, ufunc name, per-example shape)
    out_kind: str = "f"  # the result's kind: "f", "i" or "b" (float64, int64, bool)


def _returned_list(fdef, low) -> str | None:
    """The list `r` when the function returns `np.array(r)` (then it is written into the output row)."""
    names = set()
    for n in ast.walk(fdef):
        if (
            isinstance(n, ast.Return)
            and isinstance(n.value, ast.Call)
            and _is_np(n.value.func, "array", low)
            and len(n.value.args) == 1
            and isinstance(n.value.args[0], ast.Name)
            and not n.value.keywords
        ):
            names.add(n.value.args[0].id)
    return names.pop() if len(names) == 1 else None


def kind_of(value, name: str):
    """The lowering's view of one argument's per-example value (None: outside the domain)."""
    if isinstance(value, tuple):
        parts = tuple(kind_of(v, name) for v in value)
        return None if any(p is None for p in parts) else parts
    if isinstance(value, np.ndarray):
        if value.dtype != np.float64 or not 1 <= value.ndim <= 2:
            return None
        return _real(name, value.shape)
    if isinstance(value, (bool, np.bool_)):
        return Scalar(name, "b")
    if isinstance(value, (int, np.integer)):
        return Scalar(name, "i" if isinstance(value, (int, np.int64)) else "?")
    if isinstance(value, (float, np.floating)):
        return Scalar(name, "f" if isinstance(value, (float, np.float64)) else "?")
    return None


def lower(
    fdef: ast.FunctionDef, names: list, values: list, mapped: set, modules: dict, out_rank: int, out_kind: str
) -> Fused:
    """Lower `fdef` (its parameters renamed to `names` = parameters + globals read, with example 0's
    `values`) into `_av_pe(..., _av_out, _av_bad, _av_i)`, which writes example `_av_i`'s result (of rank
    `out_rank` and kind `out_kind`, as example 0's) into `_av_out[_av_i]` or marks `_av_bad[_av_i]`;
    `mapped` names carry the batch; `modules` maps module names to "numpy", "math" or "cmath". Raises
    NotFused outside the domain."""
    mode = "scalar" if out_rank == 0 else "array"
    env = {}
    for n, v in zip(names, values):
        k = kind_of(v, n)
        if k is None:
            raise NotFused(f"{n!r} is not a float64 array of rank <= 2 or a number")
        if isinstance(k, tuple) and not isinstance(v, tuple):
            raise NotFused("a tuple")
        env[n] = k
    unstable: set = set()
    while True:
        stages, low = _passes(fdef, env, mode, mapped, modules, out_rank, unstable)
        conflicts = {
            n
            for n, kinds in low.kinds_seen.items()
            if len(kinds) > 1 or (isinstance(env.get(n), Scalar) and kinds != {env[n].kind})
        }
        if conflicts <= unstable:
            break
        unstable |= conflicts
    if any(k != out_kind for k in low.return_kinds):
        raise NotFused(
            f"a result whose type may differ between examples ({sorted(set(low.return_kinds))}; "
            f"example 0: {out_kind})"
        )
    k = len(stages)
    texts = [
        (_function(f"_av_pe_s{j}", names, lj, k), ufunc, shape) for j, (lj, ufunc, shape) in enumerate(stages)
    ]
    text = _function("_av_pe", names, low, k)
    return Fused(text, mode, low.transcendental, low.macs, low.longest, texts, out_kind)


def _passes(fdef, env, mode, mapped, modules, out_rank, unstable):
    """The staging passes and the final one (NOTE [staging]): ([(pass, ufunc, shape)], final pass)."""
    stages: list[tuple[_Lower, str, tuple]] = []
    while True:
        low = _Lower(fdef, dict(env), mode, set(mapped))
        low.modules = modules
        low.out_rank = out_rank
        low.returned_list = _returned_list(fdef, low)
        low.stage = len(stages)
        low.unstable = unstable
        for n in low.stores:
            if n in modules:
                raise NotFused(f"the module name {n!r} is assigned")
        try:
            low.body(fdef.body)
        except _StageEnd:
            if len(stages) == _MAX_STAGES:
                raise NotFused("too many transcendental ufuncs to stage") from None
            ufunc, shape = low.sites[-1]
            stages.append((low, ufunc, shape))
            continue
        return stages, low


def _function(fname, names, low, n_buffers) -> str:
    """Every pass's function takes all the staging buffers (one driver signature)."""
    params = names + [f"_av_T{j}" for j in range(n_buffers)] + ["_av_out", "_av_bad", "_av_i"]
    return f"def {fname}({', '.join(params)}):\n" + "\n".join(low.em.lines) + "\n"
