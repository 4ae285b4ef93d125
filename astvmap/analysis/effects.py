"""Effects: could running a function change something its caller sees, other than by its result?

Asked when batched code finds at run time that it needs a value whose shape differs between examples
(`errors.RaggedBatch`): the call is then run again as the per-example loop, which is only the user's
code if the batched run left nothing behind. The answer is conservative (True when unsure): a `global`
or `nonlocal`, a change in place (an item or attribute store, an augmented assignment, `out=`: the
aliases analysis) of a buffer a parameter or a free name may hold, a method that changes its receiver
or draws random numbers, I/O, or a call of one of the user's functions (which is not looked into here).
"""

from __future__ import annotations

import ast

import numpy as np

from .aliases import PARAMETER, analyze

# Methods that change their receiver (lists, dicts, sets, arrays) or draw random numbers.
_MUTATING = frozenset(
    {"append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse", "update", "setdefault"}
    | {"popitem", "add", "discard", "fill", "put", "resize", "itemset", "setflags", "partition", "byteswap"}
    | {n for n in dir(np.random.Generator) if not n.startswith("_")}
    | {n for n in dir(np.random.RandomState) if not n.startswith("_")}
)


def may_act_outside(fdef: ast.FunctionDef, calls_user_code: bool) -> bool:
    """Could running `fdef` change what its caller sees besides its result (conservatively)?
    `calls_user_code`: it calls functions of the user's, rewritten or run as written."""
    if calls_user_code or any(_acts(node) for node in ast.walk(fdef)):
        return True
    al = analyze(fdef)

    def outside(name: str) -> bool:  # a parameter's or a free name's buffer: the caller's
        binds = al.bindings.get(name)
        return binds is None or any(value is PARAMETER for value, _ in binds)

    return any(outside(m) for n in al.changed for m in al.members(n))


def _acts(node: ast.AST) -> bool:
    if isinstance(node, (ast.Global, ast.Nonlocal)):
        return True
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in _MUTATING:
            return True
        if isinstance(func, ast.Name) and func.id in (
            "print",
            "exec",
            "eval",
            "setattr",
            "delattr",
            "open",
            "input",
        ):
            return True
    return False
