"""Which lists (and dicts) a function alone holds (NOTE [list items], rules/values.py).

The rewrite follows a list's items one by one while the function alone holds the list and changes it
only by its own statements. Two questions, read from the function's code once (cached):

- `escapes(fdef, name)`: may the list change other than by this function's `name.append(v)` statements
  (so its length is not the one the rewrite followed)?
- `held_elsewhere(fdef, name)`: may another name, another object or the caller hold the list `name`
  holds (so a change made through `name` is seen through a name whose facts the rewrite did not change)?
  `held_before(fdef, name, end)` asks it of one read: only what may have kept the list before counts.
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass

from .activity import MUTATING_METHODS

# calls that read a list's items and keep nothing of it
# (an iterator over a list cannot change it)
_READERS = frozenset(
    {"len", "tuple", "list", "dict", "set", "frozenset", "sum", "sorted", "min", "max", "any", "all"}
    | {"zip", "enumerate", "iter", "reversed", "map", "filter", "isinstance", "type", "id", "repr", "str"}
)
_NUMPY = frozenset({"np", "numpy"})
Span = tuple[tuple[int, int], tuple[int, int]]  # (line, column) where code starts and ends
Site = tuple[tuple[int, int], int]  # (line, column) of a node, and the node's id


def escapes(fdef: ast.FunctionDef, name: str) -> bool:
    """May the list `name` holds change other than by this function's own `name.append(v)` statements
    (so that its length is not the one the rewrite followed)? Only these uses keep it: `name.append(v)`
    as a statement of the function itself (not of a nested function, lambda or comprehension),
    `name[i]` read, `len(name)`, `tuple(name)`, `*name`, an operand of `+` or `*` (a new list), iterating
    it, returning it, its truth, a comparison, and binding the name anew; a parameter never bound anew may
    be held by the caller too."""
    sites = _escape_sites(fdef, name)
    return sites is None or bool(sites)


def escapes_before(
    fdef: ast.FunctionDef, name: str, end: tuple[int, int], not_run: frozenset[int] = frozenset()
) -> bool:
    """`escapes(fdef, name)` for a read in the statement ending at `end` (as `held_before` asks it)."""
    sites = _escape_sites(fdef, name)
    return sites is None or _any_before(sites, end, _loop_spans(fdef), not_run)


def _any_before(
    sites: tuple[Site, ...], end: tuple[int, int], loops: tuple[Span, ...], not_run: frozenset[int]
) -> bool:
    """Does any of `sites` run before `end` (earlier in the code, or in a loop around both), other than
    the nodes `not_run`?"""
    return any(
        (site <= end or any(lo <= site <= hi and lo <= end <= hi for lo, hi in loops)) and node not in not_run
        for site, node in sites
    )


@functools.lru_cache(maxsize=512)  # (asked at every `len()` and comprehension over a list)
def _escape_sites(fdef: ast.FunctionDef, name: str) -> tuple[Site, ...] | None:
    """Where `escapes` finds the list `name` holds may change (line, column); None where the caller
    may change it (a parameter never bound anew)."""
    rebound = any(
        isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Store) for n in ast.walk(fdef)
    )
    if not rebound and any(a.arg == name for a in ast.walk(fdef.args) if isinstance(a, ast.arg)):
        return None  # (the caller's list, which another argument may name too)
    quiet: set[int] = set()
    for n in ast.walk(fdef):
        if isinstance(n, ast.Expr) and isinstance(n.value, ast.Call):
            f = n.value.func
            if isinstance(f, ast.Attribute) and f.attr == "append" and isinstance(f.value, ast.Name):
                quiet.add(id(f.value))
        elif isinstance(n, ast.Subscript) and not isinstance(n.ctx, ast.Load):
            continue  # (an item stored: changed, though not its length; read as a change)
        elif isinstance(n, ast.UnaryOp) and not isinstance(n.op, ast.Not):
            continue
        elif isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in ("len", "tuple"):
            quiet.update(id(a) for a in n.args)
        elif isinstance(n, ast.BinOp):
            quiet.update((id(n.left), id(n.right)))  # (`lst + [v]`: a new list; `lst` is as it was)
        else:
            quiet |= _read_whole(n)
    nested = _nested_code(fdef)
    return tuple(
        ((getattr(n, "lineno", 0), getattr(n, "col_offset", 0)), id(n))
        for n in ast.walk(fdef)
        if isinstance(n, ast.Name)
        and n.id == name
        and (
            id(n) in nested
            or (isinstance(n.ctx, ast.Load) and id(n) not in quiet)
            or isinstance(n.ctx, ast.Del)
        )
    )


@functools.lru_cache(maxsize=256)  # (asked for every name a rewrite follows)
def nested_scopes(fdef: ast.FunctionDef) -> tuple[ast.AST, ...]:
    """The nested functions, lambdas and comprehensions of `fdef` (their code runs apart from its own)."""
    kinds = (
        ast.FunctionDef,
        ast.AsyncFunctionDef,
        ast.Lambda,
        ast.ListComp,
        ast.SetComp,
        ast.DictComp,
        ast.GeneratorExp,
    )
    return tuple(n for n in ast.walk(fdef) if n is not fdef and isinstance(n, kinds))


@functools.lru_cache(maxsize=512)  # (asked at every change of a list)
def held_elsewhere(
    fdef: ast.FunctionDef,
    name: str,
    caller: bool = True,
    fresh_calls: frozenset[int] = frozenset(),
    unkept: frozenset[int] = frozenset(),
) -> bool:
    """May another name, another object or the caller hold the list `name` holds? No where every binding
    of `name` makes a new list or dict (a display, a comprehension, `list(...)`, `dict(...)`, `a + b`) and every
    read of it keeps nothing of it: a method call on it, an item or slice of it, iterating it, `*name`,
    `**name`,
    a comparison, its truth, an operand of an operator, an argument of `len`/`sum`/... or of a NumPy
    function, returning it."""
    starred = {a.arg for a in (fdef.args.vararg, fdef.args.kwarg) if a is not None}
    params = {a.arg for a in ast.walk(fdef.args) if isinstance(a, ast.arg)}
    if caller and name in params - starred:
        return True  # (the caller's list; `*args` and `**kwargs` are the call's own tuple and dict)
    if name not in params and not rebinds(fdef, name):
        return True  # (a global's or a closure's: not this function's)
    index = _holders(fdef, fresh_calls, unkept)
    return name in index.bound_otherwise or name in index.kept


def held_before(
    fdef: ast.FunctionDef, name: str, end: tuple[int, int], not_run: frozenset[int] = frozenset()
) -> bool:
    """`held_elsewhere(fdef, name, caller=False)` for a read of the items in the statement ending at
    `end`: only a read that may keep the object and comes before that point (in the code's order, or
    anywhere in a loop around both) counts; another holder can change nothing before it has it. The
    nodes `not_run` (of the branches a rewrite decided are not taken) keep nothing."""
    if not held_elsewhere(fdef, name, caller=False):
        return False
    params = {a.arg for a in ast.walk(fdef.args) if isinstance(a, ast.arg)}
    if name not in params and not rebinds(fdef, name):
        return True  # (a global's or a closure's)
    index = _holders(fdef, frozenset(), frozenset())
    if name in index.bound_otherwise:
        return True
    return _any_before(index.kept_at.get(name, ()), end, _loop_spans(fdef), not_run)


def _plain_parameters(fdef: ast.FunctionDef) -> set[str]:
    a = fdef.args
    starred = {p.arg for p in (a.vararg, a.kwarg) if p is not None}
    return {p.arg for p in ast.walk(a) if isinstance(p, ast.arg)} - starred


@functools.lru_cache(maxsize=256)
def parameters_changed(fdef: ast.FunctionDef) -> frozenset[str]:
    """The parameters (not `*args`, `**kwargs`: the call's own) whose object `fdef` may change: by its own
    code, or by giving it to a call or a nested function. A caller may give one object to two of them:
    what one changes, the other holds too."""
    return frozenset(
        _plain_parameters(fdef) & (changed_in(fdef) | _holders(fdef, frozenset(), frozenset()).kept)
    )


@functools.lru_cache(maxsize=128)
def _loop_spans(fdef: ast.FunctionDef) -> tuple[Span, ...]:
    """Where each loop of `fdef` (its own or a nested scope's) starts and ends."""
    return tuple(
        ((n.lineno, n.col_offset), (n.end_lineno or n.lineno, n.end_col_offset or 0))
        for n in ast.walk(fdef)
        if isinstance(n, (ast.For, ast.AsyncFor, ast.While))
    )


@dataclass(frozen=True)
class _Holders:
    bound_otherwise: frozenset[str]  # names bound to what is not a new list or dict, or with another name
    kept: frozenset[str]  # names read where the read may keep the object (or in a nested scope)
    kept_at: dict[str, tuple[Site, ...]]  # where each read that may keep the object is


@functools.lru_cache(maxsize=128)
def _holders(fdef: ast.FunctionDef, fresh_calls: frozenset[int], unkept: frozenset[int]) -> _Holders:
    """`held_elsewhere`'s answers for every name of `fdef` at once (one walk of it, not one per name)."""
    quiet: set[int] = set()
    bound_otherwise: set[str] = set()
    for n in ast.walk(fdef):
        if isinstance(n, ast.Assign):
            names = [t.id for t in n.targets if isinstance(t, ast.Name)]
            if not (_fresh(n.value) or id(n.value) in fresh_calls):
                bound_otherwise.update(names)
            if len(n.targets) > 1:
                bound_otherwise.update(names)  # (`a = b = []`)
            quiet.update(id(t) for t in n.targets if isinstance(t, ast.Name))
        elif isinstance(n, ast.AugAssign):
            quiet.add(id(n.target))
        elif isinstance(n, ast.Call):
            f = n.func
            if isinstance(f, ast.Attribute):
                quiet.add(id(f.value))
            quiet.update(id(k.value) for k in n.keywords if k.arg is None)  # (`**d`: the callee's own dict)
            quiet.update(id(a) for a in [*n.args, *(k.value for k in n.keywords)] if id(a) in unkept)
            if (isinstance(f, ast.Name) and f.id in _READERS) or (
                isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id in _NUMPY
            ):
                quiet.update(id(a) for a in n.args)
        elif isinstance(n, ast.BinOp):
            quiet.update((id(n.left), id(n.right)))
        else:
            quiet |= _read_whole(n)
    nested, later = _nested_code(fdef), _nested_code(fdef, inline=False)
    kept = {
        n.id for n in ast.walk(fdef) if isinstance(n, ast.Name) and (id(n) in nested or id(n) not in quiet)
    }
    kept_at: dict[str, list[Site]] = {}
    for n in ast.walk(fdef):  # (a comprehension runs where it stands: its quiet reads keep nothing)
        if isinstance(n, ast.Name) and (id(n) in later or id(n) not in quiet):
            kept_at.setdefault(n.id, []).append(
                ((getattr(n, "lineno", 0), getattr(n, "col_offset", 0)), id(n))
            )
    return _Holders(frozenset(bound_otherwise), frozenset(kept), {k: tuple(v) for k, v in kept_at.items()})


def _read_whole(n: ast.AST) -> set[int]:
    """The expressions node `n` reads and keeps nothing of: what it takes an item or a slice of, spreads
    with `*`, iterates, returns, tests the truth of, negates or compares."""
    if isinstance(n, (ast.Subscript, ast.Starred)):
        return {id(n.value)}
    if isinstance(n, (ast.For, ast.comprehension)):
        return {id(n.iter)}
    if isinstance(n, ast.Return) and n.value is not None:
        return {id(n.value)}
    if isinstance(n, (ast.If, ast.While, ast.IfExp)):
        return {id(n.test)}
    if isinstance(n, ast.UnaryOp):
        return {id(n.operand)}
    if isinstance(n, ast.Compare):
        return {id(e) for e in [n.left, *n.comparators]}
    return set()


@functools.lru_cache(maxsize=256)
def _nested_code(fdef: ast.FunctionDef, inline: bool = True) -> frozenset[int]:
    """The nodes of the functions, lambdas and comprehensions `fdef` defines (run apart from its own
    code: a comprehension's first iterable is read where it stands); not `inline`: only the code that
    may run later than where it stands (functions, lambdas, generator expressions)."""
    scopes = nested_scopes(fdef)
    if not inline:
        scopes = tuple(s for s in scopes if not isinstance(s, (ast.ListComp, ast.SetComp, ast.DictComp)))
    nested = {id(m) for s in scopes for m in ast.walk(s)}
    for s in nested_scopes(fdef):
        if isinstance(s, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            nested -= {id(m) for m in ast.walk(s.generators[0].iter)}
    return frozenset(nested)


@functools.lru_cache(maxsize=256)
def returns_fresh(fdef: ast.FunctionDef) -> bool:
    """Does every `return` of `fdef` give a list or dict it made and holds alone (a display, a
    comprehension, or a local name bound only to such and kept by nothing else)?"""
    returns = [n for n in ast.walk(fdef) if isinstance(n, ast.Return) and n not in _nested_returns(fdef)]
    if not returns:
        return False
    for r in returns:
        v = r.value
        if v is None:
            return False
        if isinstance(v, ast.Name):
            if held_elsewhere(fdef, v.id):
                return False
        elif not _fresh(v):
            return False
    return True


@functools.lru_cache(maxsize=256)
def kept_parameters(fdef: ast.FunctionDef) -> frozenset[str]:
    """The parameters of `fdef` whose object it may keep (bind to another name, put in a container,
    return, give on): what it changes in the others, it changes while it runs."""
    params = [a.arg for a in ast.walk(fdef.args) if isinstance(a, ast.arg)]
    return frozenset(p for p in params if held_elsewhere(fdef, p, caller=False))


def _nested_returns(fdef: ast.FunctionDef) -> list[ast.AST]:
    return [m for s in nested_scopes(fdef) for m in ast.walk(s) if isinstance(m, ast.Return)]


@functools.lru_cache(maxsize=256)
def rebinds(fdef: ast.FunctionDef, name: str) -> bool:
    """Does `fdef` bind `name` anew anywhere (a parameter then names another object)?"""
    return any(
        isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, (ast.Store, ast.Del))
        for n in ast.walk(fdef)
    )


def _fresh(value: ast.expr) -> bool:
    """Does `value` make a new list or dict?"""
    if isinstance(value, (ast.List, ast.ListComp, ast.Dict, ast.DictComp, ast.BinOp)):
        return True
    if isinstance(value, ast.IfExp):
        return _fresh(value.body) and _fresh(value.orelse)
    if isinstance(value, ast.Subscript) and isinstance(value.slice, ast.Slice):
        return True  # (a slice of a list is a new list)
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and value.func.attr == "copy":
        return True
    f = value.func if isinstance(value, ast.Call) else None
    if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id in _NUMPY:
        return True  # (`np.split(x, 2)`: NumPy returns a list of its own)
    return (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Name)
        and value.func.id in ("list", "sorted", "dict")
    )


def changed_in(node: ast.AST) -> set[str]:
    """The names whose list or dict code inside `node` may change: the bases of its method calls that
    change one (`lst.pop()`), of its item stores and deletions."""
    out = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in MUTATING_METHODS:
            base = n.func.value
        elif isinstance(n, ast.Subscript) and isinstance(n.ctx, (ast.Store, ast.Del)):
            base = n.value
        else:
            continue
        while isinstance(base, (ast.Subscript, ast.Attribute)):
            base = base.value
        if isinstance(base, ast.Name):
            out.add(base.id)
    return out


@functools.lru_cache(maxsize=256)
def may_change_containers(fdef: ast.FunctionDef) -> bool:
    """May a call of `fdef` change a list or dict it is given? No where it has no item store or `del`, no
    augmented assignment, no call of a method that changes a list or dict, and passes its parameters to
    no function but `len`/`sum`/... and NumPy's (conservatively: any name counts as a parameter)."""
    params = {a.arg for a in ast.walk(fdef.args) if isinstance(a, ast.arg)}
    for n in ast.walk(fdef):
        if isinstance(n, (ast.AugAssign, ast.Global, ast.Nonlocal)):
            return True
        if isinstance(n, (ast.Subscript, ast.Attribute)) and isinstance(n.ctx, (ast.Store, ast.Del)):
            return True
        if not isinstance(n, ast.Call):
            continue
        f = n.func
        if isinstance(f, ast.Attribute) and f.attr in MUTATING_METHODS:
            return True
        reader = (isinstance(f, ast.Name) and f.id in _READERS) or (
            isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id in _NUMPY
        )
        given = [
            a.value if isinstance(a, ast.Starred) else a for a in [*n.args, *(k.value for k in n.keywords)]
        ]
        if not reader and any(isinstance(a, ast.Name) and a.id in params for a in given):
            return True
    return False
