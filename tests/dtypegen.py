"""Random programs that read the dtype a `dtype=` argument gives (rules/common.with_given_dtype).

NumPy's rule: a function with a `dtype=` parameter returns arrays of the dtype given, whatever its
operands are (`np.sum(x, dtype=float)` of integers is a float, `np.var` of complex values with a complex
dtype is complex). The rewrite knows a result's dtype kind as a fact and takes paths by it, so a fact
that missed the argument takes the wrong path with no error. ``generate(seed)`` writes a module whose
``f(x, w)`` (x a batched vector, w an unmapped one) calls one function with a `dtype=` argument — a
literal, a dtype object, or the dtype of `x` or `w`, known only by its kind — on x, on w or on both, and
branches on the result's dtype through the ways code asks it (`.dtype.kind`, `np.issubdtype`,
`np.isdtype`, `isinstance` of an item), returning the result and the branch it took.
"""

from __future__ import annotations

import random

DTYPES = ["bool", "int32", "int64", "float32", "float64", "complex128"]

# `D` is the dtype argument, `a` the operand (x: batched; w: unmapped)
_CALLS = [
    "np.sum(a, dtype=D)",
    "a.sum(dtype=D)",
    "np.prod(a, dtype=D)",
    "np.mean(a, dtype=D)",
    "a.mean(dtype=D)",
    "np.var(a, dtype=D)",
    "np.std(a, dtype=D)",
    "np.nansum(a, dtype=D)",
    "np.cumsum(a, dtype=D)",
    "a.cumprod(dtype=D)",
    "np.zeros(3, dtype=D) + 0 * a[0]",
    "np.ones(a.shape, dtype=D)",
    "np.full(3, 2, dtype=D)",
    "np.zeros_like(a, dtype=D)",
    "np.ones_like(a, dtype=D)",
    "np.full_like(a, 1, dtype=D)",
    "np.array(a, dtype=D)",
    "np.asarray(a, dtype=D)",
    "np.ascontiguousarray(a, dtype=D)",
    "a.astype(D)",
    "np.add(a, x, dtype=D)",
    "np.multiply(a, 2, dtype=D)",
    "np.negative(a, dtype=D)",
    "np.einsum('i->', a, dtype=D)",
    "np.einsum('i,i->', a, x, dtype=D)",
    "np.linspace(0, 1, 3, dtype=D)",
    "np.arange(3, dtype=D)",
    "np.eye(2, dtype=D)",
    "np.identity(2, dtype=D)",
    "np.concatenate([a, x], dtype=D)",
    "np.stack([a, x], dtype=D)",
    "np.hstack([a, a], dtype=D)",
    "np.vstack([a, x], dtype=D)",
    "np.trace(np.outer(a, a), dtype=D)",
    "np.matmul(a, x, dtype=D)",
    "np.clip(a, 0, 1, dtype=D)",
    "np.cov(a, dtype=D)",
]
_DTYPE_ARGS = [
    "np.float64",
    "np.float32",
    "float",
    "int",
    "np.int32",
    "complex",
    "np.complex64",
    "bool",
    "'f8'",
    "np.dtype('i4')",
    "None",
    "x.dtype",
    "w.dtype",
    "(x * w).dtype",
    "np.result_type(x, w)",
    "np.result_type(x, 1.0)",
    "np.result_type(w, x, 2)",
    "np.result_type(x.dtype, np.float32)",
    "np.result_type(x.sum(), True)",
    "np.result_type(float(w[0]), x)",
    "np.result_type(w, 1.0)",
    "np.result_type(*[w, w.dtype])",
]
_ASKS = [
    "r.dtype.kind == 'f'",
    "r.dtype.kind in 'iu'",
    "r.dtype.kind == 'c'",
    "r.dtype.kind == 'b'",
    "np.issubdtype(r.dtype, np.floating)",
    "np.issubdtype(r.dtype, np.integer)",
    "np.isdtype(r.dtype, 'complex floating')",
    "np.isdtype(r.dtype, ('real floating', 'bool'))",
    "isinstance(r.dtype.type(0), np.floating)",
    "r.dtype == np.float64",
]


def generate(seed: int) -> tuple[str, str, str]:
    """(source, x's dtype, w's dtype) of program `seed`."""
    r = random.Random(seed)
    operand = r.choice(["x", "w"])
    call = _with_operand(r.choice(_CALLS), operand).replace("D", r.choice(_DTYPE_ARGS))
    asks = r.sample(_ASKS, 3)
    lines = ["import numpy as np", "", "", "def f(x, w):", f"    r = {call}"]
    for i, ask in enumerate(asks):
        lines.append(f"    {'if' if i == 0 else 'elif'} {ask}:")
        lines.append(f"        tag = {i + 1}")
    lines += ["    else:", "        tag = 0", "    return r, tag", ""]
    return "\n".join(lines), r.choice(DTYPES), r.choice(DTYPES)


def _with_operand(call: str, name: str) -> str:
    """`call` with its operand `a` (a whole word) spelled `name`."""
    out, i = [], 0
    while i < len(call):
        word = call[i] == "a" and not (i and (call[i - 1].isalnum() or call[i - 1] in "_.'"))
        if word and (i + 1 == len(call) or not (call[i + 1].isalnum() or call[i + 1] in "_")):
            out.append(name)
        else:
            out.append(call[i])
        i += 1
    return "".join(out)
