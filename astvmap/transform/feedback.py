"""What a pass of the rewrite learns that the alias analysis may use (NOTE [fresh values]).

NOTE [fresh values]
The alias analysis (analysis/aliases.py) reads the syntax alone, so it must assume that any call may
return its arguments, and that any name may hold any buffer. A pass of the rewrite knows more, from the
facts of the values themselves:

- a call whose result is, per example, a new array (`Operand.fresh`: a ufunc's, an operator's, a
  reduction's, a NumPy function declared "fresh", or a call of a function every return of which gives
  one) shares no buffer with its arguments;
- a local name every binding of which gives a value that holds no buffer, nor has parts that do (None, a
  number, a string, a dtype, a tuple of those: not a module or a class, whose attributes may be
  arrays) shares no buffer with anything;
- a call of a module's function each return of which gives what it made or was given
  (`Specialization.returns_own`, never a global's or a closure's object) holds its arguments' buffers at
  most, never the module's (`xpx.atleast_nd(a)` may return `a`).

These are facts of every binding and every call the pass saw: a name one of whose bindings the pass did
not reach, or which is bound some other way (an import, `del`, `except ... as`, a nested definition, an
assignment expression anywhere, `nonlocal` in a nested function), learns nothing. Where a pass would
batch names from their birth or run the whole function as the loop, the walker rewrites the function
again with the analysis told what was learned (Vectorizer._passes): fewer names then share a buffer.
"""

from __future__ import annotations

import ast

from .. import analysis
from ..analysis.activity import local_names
from ..rules.values import Kind, Operand, Val, dtypes_of

_OTHER, _BUFFERLESS = 0, 1


_NO_PARTS = (type(None), bool, int, float, complex, str, bytes)


def holds_no_buffer(v: Val) -> bool:
    """Is every value of Val `v` one that holds no array buffer, nor has parts that may (its attributes
    or items)?"""
    if v.batched:
        return False
    if v.is_const:
        return isinstance(v.const, _NO_PARTS) or (
            type(v.const) is tuple and all(isinstance(c, _NO_PARTS) for c in v.const)
        )
    if v.kind in (Kind.NONE, Kind.SCALAR) or dtypes_of(v) is not None:
        return True
    return v.kind == Kind.TUPLE and v.elts is not None and all(holds_no_buffer(e) for e in v.elts)


class Feedback:
    """The bindings and calls of one function's passes, and the analysis they allow."""

    def __init__(self, fdef: ast.FunctionDef):
        self.fdef = fdef
        self.targets = _binding_targets(fdef)
        # id(name node) -> the value a plain `name = value` binds (for `returns_own`)
        self.values = {
            id(s.targets[0]): s.value
            for s in ast.walk(fdef)
            if isinstance(s, ast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], ast.Name)
        }
        self.local = local_names(fdef)
        self.defaulted = _with_defaults(fdef)
        self.kinds: dict[int, int] = {}  # id(name node) -> the least of what its bindings gave
        self.fresh: dict[int, bool] = {}  # id(call node) -> every result it gave was a new array
        self.own: dict[int, bool] = {}  # id(call node) -> every result it gave was new or given to it
        self.of_module: set[int] = set()  # ids of calls of a module's function (its module not given)

    def bound(self, target: ast.Name, val: Val) -> None:
        kind = _BUFFERLESS if holds_no_buffer(val) else _OTHER
        self.kinds[id(target)] = min(kind, self.kinds.get(id(target), kind))

    def called(self, node: ast.Call, out: Operand | None, of_module: bool) -> None:
        """A pass rewrote call `node` (of a module's function: `of_module`) to `out`."""
        fresh = out is not None and out.fresh
        self.fresh[id(node)] = fresh and self.fresh.get(id(node), True)
        own = out is not None and (out.own or out.fresh)
        self.own[id(node)] = own and self.own.get(id(node), True)
        if of_module:
            self.of_module.add(id(node))

    def gives_own(self, value: ast.expr) -> bool:
        """Does `return value` give, per example, what the function made or its caller gave (never a
        global's, a closure's or a default's object)? A constant, what operators and displays make of
        such, an item or attribute of such, a parameter the caller must give, a local every binding of
        which the passes reached gives such, or a call they found fresh, or own on such arguments (a
        method's object among them): `Specialization.returns_own`."""
        return self._given_or_made(value, set())

    def _given_or_made(self, e: ast.expr, seen: set[str]) -> bool:
        if isinstance(e, ast.Constant):
            return True
        if isinstance(e, ast.Name):
            return self._name_given_or_made(e.id, seen)
        if isinstance(e, (ast.Attribute, ast.Subscript, ast.Starred)):
            return self._given_or_made(e.value, seen)
        if isinstance(e, ast.Call):
            if self.fresh.get(id(e)):
                return True
            args = [*e.args, *(k.value for k in e.keywords)]
            if isinstance(e.func, ast.Attribute) and id(e) not in self.of_module:
                args.append(e.func.value)  # (a method's object is given to it)
            return bool(self.own.get(id(e))) and all(self._given_or_made(a, seen) for a in args)
        if isinstance(e, (ast.Tuple, ast.List, ast.BinOp, ast.UnaryOp, ast.Compare, ast.BoolOp, ast.IfExp)):
            return all(
                self._given_or_made(c, seen) for c in ast.iter_child_nodes(e) if isinstance(c, ast.expr)
            )
        return False

    def _name_given_or_made(self, name: str, seen: set[str]) -> bool:
        if name in seen:
            return True  # (its other bindings decide)
        seen.add(name)
        nodes = self.targets.get(name)
        if name not in self.local or nodes is None or name in self.defaulted:
            return False  # (a global's, a closure's, bound out of sight, or a default: shared by calls)
        reached = [n for n in nodes if id(n) in self.kinds]
        values = [self.values.get(id(n)) for n in reached]
        return all(v is not None and self._given_or_made(v, seen) for v in values)

    def facts(self, immutable_params=frozenset(), base: analysis.Facts | None = None) -> analysis.Facts:
        """The function's facts, with what the passes so far have learned (`base`'s flow facts kept)."""
        bufferless = set()
        params = {a.arg for a in ast.walk(self.fdef.args) if isinstance(a, ast.arg)}
        for name, nodes in self.targets.items():
            if nodes is None or (name in params and name not in immutable_params):
                continue
            kinds = [self.kinds.get(id(n), _OTHER) for n in nodes]
            if (kinds or name in params) and min(kinds, default=_BUFFERLESS) >= _BUFFERLESS:
                bufferless.add(name)
        fresh = frozenset(k for k, v in self.fresh.items() if v)
        own = frozenset(
            k for k, v in self.own.items() if v and k in self.of_module
        )  # (a method's self is given)
        inputs = (frozenset(bufferless), fresh, own)
        return base.told(inputs) if base is not None else analysis.analyze(self.fdef, *inputs)


def _binding_targets(fdef: ast.FunctionDef) -> dict[str, list[ast.Name] | None]:
    """Each name the function's own scope binds: the name nodes that bind it, or None where it is bound
    some other way too (the parameters are there, with the nodes that bind them anew)."""
    out: dict[str, list[ast.Name] | None] = {a.arg: [] for a in ast.walk(fdef.args) if isinstance(a, ast.arg)}

    def other(name: str) -> None:
        out[name] = None

    for n in ast.walk(fdef):  # (an assignment expression in a comprehension binds the function's name;
        # a nested function's `nonlocal` rebinds it)
        if isinstance(n, ast.NamedExpr):
            other(n.target.id)
        elif isinstance(n, ast.Nonlocal):
            for name in n.names:
                other(name)
    todo: list[ast.AST] = list(fdef.body)
    while todo:
        n = todo.pop()
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            other(n.name)
            continue
        if isinstance(n, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            continue  # (a scope of its own)
        if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load):
            found = out.setdefault(n.id, [])
            if isinstance(n.ctx, ast.Del) or found is None:
                other(n.id)
            else:
                found.append(n)
        elif isinstance(n, (ast.Import, ast.ImportFrom)):
            for alias in n.names:
                other((alias.asname or alias.name).split(".")[0])
        elif isinstance(n, ast.Global):  # (a `nonlocal` anywhere is the walk's above)
            for name in n.names:
                other(name)
        elif (isinstance(n, ast.ExceptHandler) and n.name) or (
            isinstance(n, (ast.MatchAs, ast.MatchStar)) and n.name
        ):
            other(n.name)
        elif isinstance(n, ast.MatchMapping) and n.rest:
            other(n.rest)
        todo.extend(ast.iter_child_nodes(n))
    return out


def _with_defaults(fdef: ast.FunctionDef) -> set[str]:
    """The parameters of `fdef` that have a default value."""
    a = fdef.args
    positional = [*a.posonlyargs, *a.args]
    named = positional[len(positional) - len(a.defaults) :] if a.defaults else []
    return {p.arg for p in named} | {p.arg for p, d in zip(a.kwonlyargs, a.kw_defaults) if d is not None}
