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

from .activity import MUTATING_METHODS
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
        if isinstance(node, ast.Delete) and not all(isinstance(t, ast.Name) for t in node.targets):
            return True  # (`del lst[0]`, `del obj.a`: an item or attribute of what it may be given)
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
    """The module globals and closure cells `fdef` (or a function it defines) may bind or change in place:
    the names a `global` or `nonlocal` statement declares where that scope also stores or deletes them,
    and the free names whose object it changes (`NAMES.add(v)`, `REGISTRY[k] = v`, `del CACHE[k]`)."""
    return frozenset(name for name, _ in _global_changes(fdef))


@functools.lru_cache(maxsize=512)
def unrepeatable_globals(fdef: ast.FunctionDef) -> frozenset[str]:
    """Those of `assigned_globals` some change of which leaves another state when run again with the
    same arguments (`COUNT += 1`, `LOG.append(v)`, `del CACHE[k]`); a plain store of a value that does not
    read what it changes (`memo[key] = value`, `X = 2.0`) and `add`, `update`, `setdefault`, `discard`
    leave what they left: run once for the batch, they leave what the loop's calls in a row leave."""
    return frozenset(name for name, repeatable in _global_changes(fdef) if not repeatable)


_REPEATABLE_METHODS = frozenset({"add", "update", "setdefault", "discard", "clear", "sort", "__setitem__"})


@functools.lru_cache(maxsize=512)
def _global_changes(fdef: ast.FunctionDef) -> tuple[tuple[str, bool], ...]:
    out: list[tuple[str, bool]] = []
    scopes = [fdef, *(n for n in ast.walk(fdef) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)))]
    outer = _own_names(fdef)  # (what a function it defines changes of these is this call's own)
    for scope in scopes:
        kinds = (ast.Global, ast.Nonlocal) if scope is fdef else (ast.Global,)
        declared = {name for n in ast.walk(scope) if isinstance(n, kinds) for name in n.names}
        own = _own_names(scope) | (outer if scope is not fdef else set())
        out += [(name, ok) for name, ok in _changes(scope) if name in declared or name not in own]
    return tuple(out)


def _own_names(scope) -> set[str]:
    """The names `scope` binds as its own locals (its parameters, names it stores, not declared
    `global` or `nonlocal`)."""
    declared = {
        name for n in ast.walk(scope) if isinstance(n, (ast.Global, ast.Nonlocal)) for name in n.names
    }
    stored = {n.id for n in ast.walk(scope) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
    return (stored - declared) | {a.arg for a in ast.walk(scope.args) if isinstance(a, ast.arg)}


def _changes(scope: ast.AST) -> list[tuple[str, bool]]:
    """(name, repeatable) for each change code in `scope` makes to what a bare name holds or is: a store
    or deletion of the name, of an item or attribute of it, a changing method's call, `setattr`."""
    out = []
    for n in ast.walk(scope):
        if isinstance(n, ast.Assign):
            reads = {m.id for m in ast.walk(n.value) if isinstance(m, ast.Name)}
            out += [(name, name not in reads) for t in n.targets for name in _stored_bases(t)]
        elif isinstance(n, (ast.AugAssign, ast.Delete)):
            targets = n.targets if isinstance(n, ast.Delete) else [n.target]
            out += [(name, False) for t in targets for name in _stored_bases(t)]
        elif (
            isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in MUTATING_METHODS
        ):
            if isinstance(n.func.value, ast.Name):
                out.append((n.func.value.id, n.func.attr in _REPEATABLE_METHODS))
        elif isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in ("setattr", "delattr"):
            first = n.args[0] if n.args else None
            out += [(first.id, n.func.id == "setattr")] if isinstance(first, ast.Name) else []
    return out


def _stored_bases(target: ast.expr) -> list[str]:
    """The bare names a store to `target` binds or changes (`x`, `x[k]`, `x.a`, and those in tuples)."""
    if isinstance(target, (ast.Tuple, ast.List)):
        return [name for e in target.elts for name in _stored_bases(e)]
    if isinstance(target, ast.Starred):
        return _stored_bases(target.value)
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Subscript, ast.Attribute)) and isinstance(target.value, ast.Name):
        return [target.value.id]
    return []
