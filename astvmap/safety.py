"""The safety switches: run every vmapped function as the plain loop, or check sampled examples against it.

`astvmap.disable()` (a context manager) or the environment variable `ASTVMAP_DISABLE=1` makes every call
of a vmapped function run the per-example loop, as `jax.disable_jit` serves jax users who debug: the
user's own code runs, so prints, breakpoints and tracebacks are theirs. The switch is a context variable,
so it holds for the thread (or task) that set it.

`vmap(f, check=k)` compares `k` examples of every call's result, the first and the last among them and
the others drawn with a fixed seed, with what `f` returns for each of them alone, and raises
`AstvmapError` on a difference of shape, dtype, container or value. Floating-point values agree within a
relative 1e-7 (float64) or 1e-4 (lower precision): a batched reduction may add in another order.
"""

from __future__ import annotations

import contextlib
import contextvars
import copy
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from . import axes as axes_mod
from . import pytrees
from .errors import AstvmapError

if TYPE_CHECKING:
    from collections.abc import Callable

    from .axes import Call

_DISABLED = contextvars.ContextVar("astvmap_disabled", default=False)


@contextlib.contextmanager
def disable() -> Iterator[None]:
    """Within this block, every vmapped function runs as the plain per-example loop."""
    token = _DISABLED.set(True)
    try:
        yield
    finally:
        _DISABLED.reset(token)


def disabled() -> bool:
    """Whether vmapped functions run as the plain loop now (`disable()`, or `ASTVMAP_DISABLE=1`)."""
    return _DISABLED.get() or os.environ.get("ASTVMAP_DISABLE", "") not in ("", "0")


def sample(B: int, k: int) -> list[int]:
    """`k` example indices of a batch of `B`: the first, the last, and the rest drawn with a fixed seed."""
    if k >= B:
        return list(range(B))
    ends = sorted({0, B - 1})[:k]
    rest = np.random.default_rng(B).permutation(np.arange(1, B - 1))[: k - len(ends)]
    return sorted(ends + [int(b) for b in rest])


def take_examples(call: Call, k: int) -> list[tuple[int, list[Any], dict[str, Any]]]:
    """Copies of `k` sampled examples' arguments, taken before the batched call runs (it may write into
    them): (index, positional arguments, keyword arguments)."""
    moved = {id(leaf) for leaf in call.leaves}
    return [
        (
            b,
            [copy.deepcopy(axes_mod.slice_example(a, b, moved)) for a in call.args],
            {n: copy.deepcopy(axes_mod.slice_example(v, b, moved)) for n, v in call.kwargs.items()},
        )
        for b in sample(call.B, k)
    ]


def compare(
    fn: Callable[..., Any],
    out_axes: Any,
    label: str,
    B: int,
    examples: list[tuple[int, list[Any], dict[str, Any]]],
    out: Any,
) -> None:
    """Raise if `out`, a batched result, differs from `fn` run on each of the sampled examples."""
    for b, args, kwargs in examples:
        problem = _difference(axes_mod.example_of(out, out_axes, b), fn(*args, **kwargs), "the result")
        if problem is not None:
            raise AstvmapError(
                f"{label}: check= found example {b} of {B} differing from the loop: {problem}. "
                "Please report this with the function; astvmap.disable() runs the loop meanwhile"
            )


def _difference(got: Any, expected: Any, path: str) -> str | None:
    """How `got` (one example of the batched result) differs from the loop's `expected`, or None."""
    e_node = pytrees.node(expected)
    if e_node is not None:
        g_node = pytrees.node(got)
        if g_node is None or type(got) is not type(expected) or len(g_node) != len(e_node):
            return f"{path} is {_what(got)} where the loop returns {_what(expected)}"
        if set(g_node.keys) != set(e_node.keys):
            return f"{path} has keys {sorted(map(str, g_node.keys))} where the loop's has {sorted(map(str, e_node.keys))}"
        by_key = dict(zip(g_node.keys, g_node.children))
        for i, (key, e) in enumerate(zip(e_node.keys, e_node.children)):
            problem = _difference(by_key[key], e, e_node.path(path, i))
            if problem is not None:
                return problem
        return None
    g, e = np.asarray(got), np.asarray(expected)
    if g.shape != e.shape or g.dtype != e.dtype:
        return f"{path} has shape {g.shape} and dtype {g.dtype} where the loop's has {e.shape} and {e.dtype}"
    if e.dtype.kind in "fc":
        rtol = 1e-7 if e.dtype.itemsize >= (16 if e.dtype.kind == "c" else 8) else 1e-4
        same = np.allclose(g, e, rtol=rtol, atol=0.0, equal_nan=True)
    else:
        same = bool(np.array_equal(g, e))
    if not same:
        return f"{path} is {g!r} where the loop's is {e!r}"
    return None


def _what(value: Any) -> str:
    n = pytrees.node(value)
    if n is not None:
        return f"a {type(value).__name__} of {len(n)}"
    return f"a {type(value).__name__}"
