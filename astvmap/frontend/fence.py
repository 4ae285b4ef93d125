"""Reject, at the user's line, syntax that has no batched meaning (generators, global writes, ...).

The first pass (passes.py). Requires: a `FunctionDef` whose positions are the user's. Guarantees after
`run`: the function body holds only statements the transform knows; the tree is returned unchanged.

    def f(x):                   AstvmapError at line 2:
        global total     ->     vmap: a batched function must be plain per-example code; got a
        total = x               `global` statement. Return the value instead of writing a module global.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from ..errors import error_at

if TYPE_CHECKING:
    from .pass_context import PassContext

_REJECT = {
    ast.Yield: ("a generator (`yield`)", "return an array instead"),
    ast.YieldFrom: ("a generator (`yield from`)", "return an array instead"),
    ast.Await: ("`await`", "call the function synchronously"),
    ast.AsyncFor: ("`async for`", "use a plain loop"),
    ast.AsyncWith: ("`async with`", "use a plain `with` outside the function"),
    ast.Global: ("a `global` statement", "return the value instead of writing a module global"),
    ast.Nonlocal: ("a `nonlocal` statement", "return the value instead of writing an enclosing variable"),
    ast.ClassDef: ("a class definition", "define the class outside the function"),
}


def run(tree: ast.FunctionDef, ctx: PassContext) -> ast.FunctionDef:
    """`tree` itself, or an `AstvmapError` at the first construct with no batched meaning."""
    for node in ast.walk(tree):
        hit = _REJECT.get(type(node))
        if hit is not None:
            what, todo = hit
            raise error_at(
                f"{ctx.label}: a batched function must be plain per-example code; got {what}. "
                f"{todo[0].upper() + todo[1:]}.",
                node,
                ctx.filename,
            )
    return tree
