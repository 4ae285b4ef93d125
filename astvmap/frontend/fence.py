"""Reject, at the user's line, syntax that has no batched meaning (generators, global writes, ...).

Guarantees after `run`: the function body holds only statements the transform knows.
"""

from __future__ import annotations

import ast

from ..errors import error_at

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


def run(fdef: ast.FunctionDef, filename: str, label: str) -> ast.FunctionDef:
    for node in ast.walk(fdef):
        hit = _REJECT.get(type(node))
        if hit is not None:
            what, todo = hit
            raise error_at(
                f"{label}: a batched function must be plain per-example code; got {what}. "
                f"{todo[0].upper() + todo[1:]}.",
                node,
                filename,
            )
    return fdef
