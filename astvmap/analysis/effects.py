"""Effects: could running a function change something its caller sees, other than by its result?

Asked when batched code finds at run time that it needs a value whose shape differs between examples
(`errors.RaggedBatch`): the call is then run again as the per-example loop, which is only the user's
code if the batched run left nothing behind. The answer is conservative (True when unsure): a `global`
or `nonlocal`, a change in place (an item or attribute store, an augmented assignment, `out=`: the
aliases analysis) of a buffer a parameter or a free name may hold, a call not known to be pure (the
caller says which are: those whose batching rule is pure and draws no random numbers; any other call
may write its arguments, draw, or do I/O), or a call of one of the user's functions.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Callable

from .aliases import PARAMETER, analyze


def may_act_outside(
    fdef: ast.FunctionDef, calls_user_code: bool, pure: Callable[[ast.Call], bool], modules=frozenset()
) -> bool:
    """Could running `fdef` change what its caller sees besides its result (conservatively)?
    `calls_user_code`: it calls functions of the user's, rewritten or run as written; `pure(call)`: is
    this call known to change nothing? `modules`: free names that hold modules (`np.sort(x)` is no
    in-place sort of `np`: the call itself is judged by `pure`)."""
    if calls_user_code:
        return True
    al = analyze(fdef)
    for node in ast.walk(fdef):
        if isinstance(node, (ast.Global, ast.Nonlocal)):
            return True
        if isinstance(node, ast.Call) and not pure(node) and not _of_own_container(node, al):
            return True

    def outside(name: str) -> bool:  # a parameter's or a free name's buffer: the caller's
        binds = al.bindings.get(name)
        return binds is None or any(value == PARAMETER for value, _ in binds)

    return any(outside(m) for n in al.changed - set(modules) for m in al.members(n))


_CONTAINER_METHODS = frozenset(
    {"append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse", "copy", "index", "count"}
    | {"get", "keys", "values", "items", "update", "setdefault", "popitem", "add", "discard"}
)
_DISPLAYS = {
    ast.List: list,
    ast.ListComp: list,
    ast.Dict: dict,
    ast.DictComp: dict,
    ast.Set: set,
    ast.SetComp: set,
}


_MAKERS = {"list": list, "sorted": list, "dict": dict, "set": set}


def fresh_container(value: object) -> type | None:
    """The type of the new container `value` makes (a list, dict or set display or comprehension, a
    list display repeated: `[0.0] * n`, `list(...)`, `sorted(...)`, `dict(...)`, `set(...)`, an array's
    `.tolist()`), or None. (The builtins by their names: a function of the user's named `list` is
    taken for the builtin.)"""
    if isinstance(value, ast.BinOp) and isinstance(value.op, ast.Mult):
        made = fresh_container(value.left) or fresh_container(value.right)
        return made if made is list else None
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Name):
        return _MAKERS.get(value.func.id)
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and value.func.attr == "tolist":
        return list
    return _DISPLAYS.get(type(value))


def _of_own_container(call: ast.Call, al) -> bool:
    """`acc.append(v)` where every binding of `acc` is a new list, dict or set of the function: the
    call changes only the function's own container (what it holds is read, never changed)."""
    f = call.func
    if not (isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.attr in _CONTAINER_METHODS):
        return False
    binds = al.bindings.get(f.value.id)
    return bool(binds) and all(fresh_container(value) is not None for value, _ in binds)


@functools.lru_cache(maxsize=512)
def assigned_globals(fdef: ast.FunctionDef) -> frozenset[str]:
    """The module globals `fdef` (or a function it defines) may bind: the names a `global` statement
    declares where that scope also stores or deletes them."""
    out: set[str] = set()
    for scope in [
        fdef,
        *(n for n in ast.walk(fdef) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))),
    ]:
        declared = {name for n in ast.walk(scope) if isinstance(n, ast.Global) for name in n.names}
        if declared:
            stored = {
                n.id for n in ast.walk(scope) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)
            }
            out |= declared & stored
    return frozenset(out)
