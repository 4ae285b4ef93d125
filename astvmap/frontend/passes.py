"""The frontend as a pipeline of passes, each one job, each `run(tree, ctx) -> tree`, in this order:

    fence          reject syntax with no batched meaning, at the user's line     (fence.py)
    loop_returns   a `return` in a loop -> flag + `break`, then `if flag: return`  (normalize.py)
    single_exit    statements after an `if` that returns move into its other branch (normalize.py)

A pass never changes its input: it returns a new tree, or its input when it has nothing to do.
Requires: a `FunctionDef` whose positions are the user's (`source.py`). Guarantees after `run`: a new
tree (the input, e.g. the cached `FunctionSource.fdef`, is never changed) with the same behaviour for
every input, no rejected syntax, the returns in top-level loops lowered to flags, and every `return`
ending a branch. `ctx.stages` holds the code as written ("frontend"), after each pass (by its name) and
after the last one ("normalize", what `astvmap show --stage normalize` prints):

    def f(x):                        def f(x):
        if x > 0:                        if x > 0:
            return x          ->             return x
        return -x                        else:
                                             return -x

Fresh names (the flags of lowered loop returns) come from `ctx.namer`, the specialization's `Namer`,
which already holds every name the function uses, its parameters and its closure cells: a flag never
shadows one of the user's (a parameter may be called `returned`).

On demand, not in this list: `breaks.lower` turns a loop's `break`/`continue` into per-lane flags. A
loop needs it only when a jump sits under a batched condition, and only the walker knows which values
are batched, so the walker (transform/loops.py) calls it per loop, with names from the same namer.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass

from ..kit import templates
from . import fence, normalize
from .pass_context import PassContext

__all__ = ["PASSES", "Pass", "PassContext", "run"]


@dataclass(frozen=True)
class Pass:
    name: str
    run: Callable[[ast.FunctionDef, PassContext], ast.FunctionDef]


PASSES: tuple[Pass, ...] = (
    Pass("fence", fence.run),
    Pass("loop_returns", normalize.loop_returns),
    Pass("single_exit", normalize.single_exit),
)


def run(fdef: ast.FunctionDef, ctx: PassContext) -> ast.FunctionDef:
    """`fdef` through every pass, on a copy; records the code after each in `ctx.stages`."""
    tree = templates.clone(fdef)
    text = ctx.stages["frontend"] = ast.unparse(tree)
    for p in PASSES:
        new = p.run(tree, ctx)
        if new is not tree:  # a pass that changes nothing returns its input: no need to unparse again
            text, tree = ast.unparse(new), new
        ctx.stages[p.name] = text
    ctx.stages["normalize"] = text
    return tree
