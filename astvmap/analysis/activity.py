"""Activity: which names a piece of code reads, binds and changes in place, following Python's scopes.

    y[i] = v + t          reads {y, i, v, t}, binds {}, changes {y: item}
    t += 1                reads {t}, binds {t}
    out.append(f(k))      reads {out, f, k}, changes {out: method}
    np.copyto(y, v)       reads {np, y, v}, changes {y: call}
    g = lambda a: a * w   reads {w} (a lambda's free names), binds {g}
    [e * s for e in xs]   reads {xs, s} (the comprehension's target is its own)

Requires: any statement or expression. Guarantees: `reads` and `binds` are in source order (generated code
that lists them stays deterministic); a nested function, lambda or comprehension contributes the names it
reads from the enclosing scope (its free names) and the names its `:=` binds there; `del x` binds `x`
(it ends the old value's life). Mutation is what the syntax shows: stores into items and attributes,
the in-place methods of lists, dicts, sets and arrays, `out=` arguments and NumPy's writing functions
(`np.copyto`, `np.put`, ...); what a call does to its arguments otherwise is the caller's question (the
rules know it).
"""

from __future__ import annotations

import ast
import functools
import inspect
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

# Methods that change their receiver in place (lists, dicts, sets, arrays).
MUTATING_METHODS = frozenset(
    {
        "append",
        "extend",
        "insert",
        "pop",
        "remove",
        "clear",
        "update",
        "setdefault",
        "popitem",
        "add",
        "discard",
        "sort",
        "reverse",
        "fill",
        "resize",
        "put",
        "itemset",
        "setfield",
        "partition",
        "intersection_update",
        "difference_update",
        "symmetric_difference_update",
    }
    # (the methods behind `x[k] = v`, `del x[k]` and the augmented assignments, called by name)
    | {"__setitem__", "__delitem__", "__iadd__", "__isub__", "__imul__", "__ior__", "__iand__", "__ixor__"}
    | {"__init__"}  # (`d.__init__(b=2)` fills it again)
)

# NumPy functions that write into their first argument.
NP_WRITING_FUNCS = frozenset({"copyto", "put", "place", "putmask", "fill_diagonal", "put_along_axis"})


@dataclass
class Activity:
    """Names read, names bound, and names whose object is changed in place (name -> how: "item",
    "attr", "method", "out" or "call")."""

    reads: dict[str, None] = field(default_factory=dict)
    binds: dict[str, None] = field(default_factory=dict)
    changes: dict[str, set[str]] = field(default_factory=dict)
    sites: dict[tuple[str, str], ast.AST] = field(default_factory=dict)  # (name, how) -> first such code

    def change(self, name: str, how: str, site: ast.AST | None = None) -> None:
        self.changes.setdefault(name, set()).add(how)
        if site is not None:
            self.sites.setdefault((name, how), site)

    def read(self, name: str) -> None:
        self.reads.setdefault(name)

    def bind(self, name: str) -> None:
        self.binds.setdefault(name)

    def merge(self, other: Activity) -> Activity:
        for n in other.reads:
            self.read(n)
        for n in other.binds:
            self.bind(n)
        for n, hows in other.changes.items():
            self.changes.setdefault(n, set()).update(hows)
        for k, site in other.sites.items():
            self.sites.setdefault(k, site)
        return self

    def changed(self, *hows: str) -> list[str]:
        """Names changed in place in one of the ways `hows` (every way when none is given)."""
        return [n for n, h in self.changes.items() if not hows or h & set(hows)]


def of_nodes(nodes: Iterable[ast.AST]) -> Activity:
    """The activity of whole statements or expressions, nested blocks included."""
    act = Activity()
    for node in nodes:
        _Visitor(act).visit(node)
    return act


def of_header(stmt: ast.stmt) -> list[ast.AST]:
    """The parts of a compound statement evaluated before its body (what its CFG node runs)."""
    if isinstance(stmt, (ast.If, ast.While)):
        return [stmt.test]
    if isinstance(stmt, (ast.For, ast.AsyncFor)):
        return [stmt.iter]
    if isinstance(stmt, (ast.With, ast.AsyncWith)):
        return list(stmt.items)
    if isinstance(stmt, ast.Match):
        return [stmt.subject]
    if isinstance(stmt, ast.Try) or (hasattr(ast, "TryStar") and isinstance(stmt, ast.TryStar)):
        return []
    return [stmt]


def root_name(node: ast.expr) -> str:
    """`y` for `y`, `y[i]`, `y.a[i].b`: the name whose object a store through `node` changes ("" when
    no name holds it: `f()[0] = v`)."""
    while isinstance(node, (ast.Subscript, ast.Attribute, ast.Starred)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else ""


def augmented_names(nodes: Iterable[ast.AST]) -> dict[str, ast.Name]:
    """The names `t op= v` targets in `nodes` (each with its first target node): an array changes in
    place there, a number is rebound."""
    found: dict[str, ast.Name] = {}
    for node in nodes:
        for n in ast.walk(node):
            if isinstance(n, ast.AugAssign) and isinstance(n.target, ast.Name):
                found.setdefault(n.target.id, n.target)
    return found


def written_argument(call: ast.Call) -> ast.expr | None:
    """The array `np.copyto(y, v)` and its kind (`np.put`, `np.fill_diagonal`, ...) write into."""
    f = call.func
    if (
        isinstance(f, ast.Attribute)
        and isinstance(f.value, ast.Name)
        and f.value.id in ("np", "numpy")
        and f.attr in NP_WRITING_FUNCS
        and call.args
    ):
        return call.args[0]
    return None


def out_arguments(call: ast.Call) -> list[ast.expr]:
    """The arguments a call writes its results into: `out=` (a tuple too), the positional outputs of a
    NumPy ufunc (`np.multiply(x, 2.0, x)`), and a NumPy function's `out` given by position
    (`np.sum(a, 0, None, o)`)."""
    found: list[ast.expr] = []
    for kw in call.keywords:
        if kw.arg == "out":
            found += kw.value.elts if isinstance(kw.value, ast.Tuple) else [kw.value]
    f = call.func
    if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id in ("np", "numpy"):
        fn = getattr(np, f.attr, None)
        first = fn.nin if isinstance(fn, np.ufunc) else _out_position(f.attr)
        if first is not None and not any(isinstance(a, ast.Starred) for a in call.args[:first]):
            outs = call.args[first:] if isinstance(fn, np.ufunc) else call.args[first : first + 1]
            found += [a for a in outs if not isinstance(a, ast.Starred)]
    return [e for e in found if not isinstance(e, ast.Constant)]  # `out=None`


@functools.cache
def _out_position(name: str) -> int | None:
    """The position of NumPy function `np.<name>`'s `out` parameter, where it may be given by position."""
    try:
        params = list(inspect.signature(getattr(np, name)).parameters.values())
    except (AttributeError, TypeError, ValueError):
        return None
    for i, p in enumerate(params):
        if p.name == "out":
            return i if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) else None
        if p.kind in (p.VAR_POSITIONAL, p.KEYWORD_ONLY, p.VAR_KEYWORD):
            return None
    return None


class _Visitor(ast.NodeVisitor):
    def __init__(self, act: Activity):
        self.act = act

    # ---- names --------------------------------------------------------------------------------------
    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self.act.read(node.id)
        else:
            self.act.bind(node.id)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.visit(node.value)
        if isinstance(node.target, ast.Name):
            self.act.read(node.target.id)
        self._store(node.target)

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)  # the whole right side is evaluated before any target
        for t in node.targets:
            self._store(t)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)
            self._store(node.target)

    def visit_Delete(self, node: ast.Delete) -> None:
        for t in node.targets:
            if isinstance(t, (ast.Subscript, ast.Attribute)):
                self._store(t)
            else:
                self.visit(t)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        self.act.bind(node.target.id)

    def _store(self, target: ast.expr) -> None:
        """A store target: names bound, and objects changed through items and attributes."""
        if isinstance(target, (ast.Subscript, ast.Attribute)):
            self.visit(target.value)
            if isinstance(target, ast.Subscript):
                self.visit(target.slice)
            how = "item" if isinstance(target, ast.Subscript) else "attr"
            self.act.change(root_name(target), how, target)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for e in target.elts:
                self._store(e)
        elif isinstance(target, ast.Starred):
            self._store(target.value)
        else:
            self.visit(target)

    def visit_For(self, node: ast.For) -> None:
        self.visit(node.iter)
        self._store(node.target)
        for s in node.body + node.orelse:
            self.visit(s)

    def visit_withitem(self, node: ast.withitem) -> None:
        self.visit(node.context_expr)
        if node.optional_vars is not None:
            self._store(node.optional_vars)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.type is not None:
            self.visit(node.type)
        if node.name:
            self.act.bind(node.name)
        for s in node.body:
            self.visit(s)

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        for alias in node.names:
            self.act.bind(alias.asname or alias.name.split(".")[0])

    visit_ImportFrom = visit_Import

    def visit_MatchAs(self, node: ast.MatchAs) -> None:
        if node.pattern is not None:
            self.visit(node.pattern)
        if node.name:
            self.act.bind(node.name)

    def visit_MatchStar(self, node: ast.MatchStar) -> None:
        if node.name:
            self.act.bind(node.name)

    def visit_MatchMapping(self, node: ast.MatchMapping) -> None:
        self.generic_visit(node)
        if node.rest:
            self.act.bind(node.rest)

    # ---- calls that change their receiver or their `out=` --------------------------------------------
    def visit_Call(self, node: ast.Call) -> None:
        self.generic_visit(node)
        f = node.func
        if isinstance(f, ast.Attribute) and f.attr in MUTATING_METHODS:
            self.act.change(root_name(f.value), "method", node)
        target = written_argument(node)
        if target is not None:
            self.act.change(root_name(target), "call", node)
        for e in out_arguments(node):
            self.act.change(root_name(e), "out", node)

    # ---- nested scopes: their free names are read here -----------------------------------------------
    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for d in node.decorator_list + node.args.defaults + [d for d in node.args.kw_defaults if d]:
            self.visit(d)
        self._nested(node.args, node.body)
        self.act.bind(node.name)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        for d in node.args.defaults + [d for d in node.args.kw_defaults if d]:
            self.visit(d)
        self._nested(node.args, [node.body])

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for d in node.decorator_list + node.bases + [k.value for k in node.keywords]:
            self.visit(d)
        self._nested(None, node.body)
        self.act.bind(node.name)

    def _nested(self, args: ast.arguments | None, body: list) -> None:
        inner = of_nodes(body)
        own = set(inner.binds)
        if args is not None:
            own |= {a.arg for a in ast.walk(args) if isinstance(a, ast.arg)}
        for n in inner.reads:
            if n not in own:
                self.act.read(n)
        for n, hows in inner.changes.items():
            if n not in own:
                for how in hows:
                    self.act.change(n, how, inner.sites.get((n, how)))

    def _comprehension(self, node, elts: list[ast.expr]) -> None:
        gens: list[ast.comprehension] = node.generators
        self.visit(gens[0].iter)  # evaluated in the enclosing scope
        inner = Activity()
        v = _Visitor(inner)
        for i, g in enumerate(gens):
            if i:
                v.visit(g.iter)
            v._store(g.target)
            for cond in g.ifs:
                v.visit(cond)
        for e in elts:
            v.visit(e)
        targets = {n.id for g in gens for n in ast.walk(g.target) if isinstance(n, ast.Name)}
        walrus = {n.target.id for n in ast.walk(node) if isinstance(n, ast.NamedExpr)}
        for n in inner.reads:
            if n not in targets:
                self.act.read(n)
        for n in walrus:  # `:=` in a comprehension binds in the enclosing scope
            self.act.bind(n)
        for n, hows in inner.changes.items():
            if n not in targets:
                for how in hows:
                    self.act.change(n, how, inner.sites.get((n, how)))

    def visit_ListComp(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp) -> None:
        self._comprehension(node, [node.elt])

    visit_SetComp = visit_GeneratorExp = visit_ListComp

    def visit_DictComp(self, node: ast.DictComp) -> None:
        self._comprehension(node, [node.key, node.value])


def local_names(fdef: ast.FunctionDef | ast.Lambda) -> set[str]:
    """The names a function binds: its parameters and every name it assigns, its own scope only."""
    params = {a.arg for a in ast.walk(fdef.args) if isinstance(a, ast.arg)}
    body = fdef.body if isinstance(fdef.body, list) else [fdef.body]
    return params | set(of_nodes(body).binds)


def occurrences(fdef: ast.FunctionDef) -> tuple[dict[str, int], dict[str, int]]:
    """(stores, loads): how many times each name is bound (a parameter once, `x += 1` twice: it reads the
    old value) and read in the function's text, a read inside a loop counting 2 more (it runs once per
    iteration): "assigned once, read once" is what lets a compiler inline a name."""
    stores: dict[str, int] = {}
    loads: dict[str, int] = {}
    for n in ast.walk(fdef):
        if isinstance(n, ast.AugAssign) and isinstance(n.target, ast.Name):
            stores[n.target.id] = stores.get(n.target.id, 0) + 1
        name = n.arg if isinstance(n, ast.arg) else n.id if isinstance(n, ast.Name) else None
        if name is None:
            continue
        table = loads if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) else stores
        table[name] = table.get(name, 0) + 1
    for loop in ast.walk(fdef):
        if isinstance(loop, (ast.For, ast.While)):
            for n in ast.walk(loop):
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load):
                    loads[n.id] = loads.get(n.id, 0) + 2
    return stores, loads
