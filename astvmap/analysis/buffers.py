"""Is a per-example 0-d value an array (a buffer `t += 1` changes in place) or a NumPy scalar (a value
`t += 1` rebinds)?

    y = np.asarray(np.sum(x))   a 0-d array: `z = y; z += 1` changes y too
    s = x[0]                    a NumPy scalar: `t = s; t += 1` leaves s as it was
    r = x[1, ...]               a 0-d view of x: `r += 1` writes into x

NumPy decides by how a value is made, not by its rank: a full integer index, an operator, a ufunc and a
reduction give scalars; `np.array`/`np.asarray`, an index with `...` or a slice, `np.where` give arrays;
`.copy()`, `.astype()`, `.T`, `.reshape()` keep what their receiver is when it is 0-d, and give an
array when it is not. The batched code holds both as a column of the batch, so the rewriter asks here
before it writes through one. `holds_buffer` answers from the bindings of the name that reach the
statement asking (reaching definitions), or from all of them when no statement is given: True when
each makes an array, False when each makes a scalar, None when it cannot tell.
"""

from __future__ import annotations

import ast
from collections.abc import Callable

from .aliases import AUGMENTED, PARAMETER, UNKNOWN, Aliases

_NUMPY = frozenset({"np", "numpy"})
# NumPy functions whose 0-d result is an array, whatever they are given.
NP_ARRAY_FUNCS = frozenset(
    {
        "array",
        "asarray",
        "asanyarray",
        "ascontiguousarray",
        "asfortranarray",
        "require",
        "copy",
        "zeros",
        "ones",
        "empty",
        "full",
        "zeros_like",
        "ones_like",
        "empty_like",
        "full_like",
        "where",
        "select",
        "tensordot",
        "broadcast_to",
        "sort",
    }
)
# NumPy functions whose 0-d result is what their first argument is (an array when it has a rank).
NP_SAME_FUNCS = frozenset({"reshape", "squeeze", "transpose", "real", "imag"})
# Array methods and attributes whose 0-d result is what their receiver is.
SAME_METHODS = frozenset({"copy", "astype", "view", "reshape", "squeeze", "transpose", "conj", "conjugate"})
SAME_ATTRS = frozenset({"T", "mT", "real", "imag"})
# Builtins whose result is a Python number (or a new container).
NUMBER_BUILTINS = frozenset(
    {"float", "int", "bool", "complex", "len", "abs", "round", "sum", "divmod", "pow"}
)

_NEUTRAL = object()  # the answer of a binding that defers to the name's other bindings (`y = y.copy()`)
Rank = Callable[[str], "int | None"]  # a name's per-example rank, None when unknown or not an array
# binders(stmt, name, after): the statements whose binding of `name` reaches the start of `stmt` (its
# end, `after`; None: the parameters), or None when unknown (Facts.binders)
Binders = Callable[[ast.AST, str, bool], "list[ast.AST | None] | None"]


def holds_buffer(
    aliases: Aliases,
    name: str,
    rank: Rank,
    scalar_params: frozenset[str],
    at: ast.AST | None = None,
    binders: Binders | None = None,
    after: bool = False,
) -> bool | None:
    """Does `name`, 0-d per example, hold an array (True), a scalar (False), or either (None)?
    `rank(n)`: the per-example rank of array `n` (None when unknown or not an array); `scalar_params`: the parameters
    that are 0-d NumPy scalars per example (mapped arguments: an example of a 1-d array is a scalar).
    With `at` and `binders`, only the bindings reaching statement `at` count (reaching its end, `after`)."""
    classifier = _Classifier(aliases, rank, scalar_params, binders)
    if at is not None and after:
        bindings = classifier.reaching(name, at, after=True)
        answer = _all([classifier.binding(name, value, stmt) for value, stmt in bindings])
    else:
        answer = classifier.name(name, at)
    return None if answer is _NEUTRAL else answer


class _Classifier:
    def __init__(self, aliases: Aliases, rank: Rank, scalar_params: frozenset[str], binders: Binders | None):
        self.aliases, self.rank, self.scalar_params, self.binders = aliases, rank, scalar_params, binders
        self.visiting: set[tuple[str, int]] = set()
        self.at: ast.AST | None = None  # the statement whose expressions are being classified

    def name(self, name: str, at: ast.AST | None):
        key = (name, id(at))
        if key in self.visiting:  # `y = y.copy()`: the other bindings decide
            return _NEUTRAL
        self.visiting.add(key)
        outer = self.at
        try:
            return _all([self.binding(name, value, stmt) for value, stmt in self.reaching(name, at)])
        finally:
            self.visiting.discard(key)
            self.at = outer

    def reaching(
        self, name: str, at: ast.AST | None, after: bool = False
    ) -> list[tuple[ast.expr | str, ast.AST | None]]:
        """The bindings of `name` that reach statement `at` (its end, `after`; all of them without
        flow facts)."""
        every = self.aliases.bindings.get(name, [])
        stmts = None if at is None or self.binders is None else self.binders(at, name, after)
        if stmts is None:
            return every or [(UNKNOWN, None)]
        found: list[tuple[ast.expr | str, ast.AST | None]] = []
        for s in stmts:
            mine = [b for b in every if b[1] is s]
            found += mine or [(UNKNOWN, s)]  # bound by code the aliases did not see (`del`, an import)
        return found or [(UNKNOWN, None)]

    def binding(self, name: str, value: ast.expr | str, stmt: ast.AST | None):
        if value == PARAMETER:
            return False if name in self.scalar_params else None
        if value == AUGMENTED:  # what `name` held before `name op= v`: an array stays, a number rebinds
            return self.name(name, stmt) if stmt is not None else None
        if isinstance(value, str):
            return None
        self.at = stmt
        return self.expr(value)

    def expr(self, e: ast.expr):
        if isinstance(e, ast.Name):
            return self.name(e.id, self.at)
        if isinstance(e, (ast.Constant, ast.BinOp, ast.UnaryOp, ast.Compare, ast.JoinedStr)):
            return False  # operators give scalars (also on 0-d arrays)
        if isinstance(e, ast.Subscript):
            if keeps_an_axis(e.slice):
                return True
            # integers down to 0-d give a scalar; an item of a list or dict is whatever was put there
            return False if self._rank(e.value) is not None else None
        if isinstance(e, ast.Attribute):
            return self.same_as(e.value) if e.attr in SAME_ATTRS else None
        if isinstance(e, (ast.IfExp, ast.BoolOp)):
            parts = [e.body, e.orelse] if isinstance(e, ast.IfExp) else e.values
            return _all([self.expr(p) for p in parts])
        if isinstance(e, ast.NamedExpr):
            return self.expr(e.value)
        if isinstance(e, ast.Call):
            return self.call(e)
        return None

    def call(self, e: ast.Call):
        f = e.func
        if any(k.arg == "out" for k in e.keywords):
            return True  # the result is the `out=` array
        if _numpy_root(f):
            attr = f.attr if isinstance(f, ast.Attribute) else ""
            if attr in NP_ARRAY_FUNCS:
                return True
            if attr in NP_SAME_FUNCS:
                return self.same_as(e.args[0]) if e.args else None
            return False  # ufuncs, reductions, scalar types, np.linalg's numbers
        if isinstance(f, ast.Attribute):
            if f.attr in SAME_METHODS:
                return self.same_as(f.value)
            if f.attr in ("item", "tolist", "sum", "mean", "max", "min", "prod", "dot", "round", "clip"):
                return False
            return None
        if isinstance(f, ast.Name) and f.id in NUMBER_BUILTINS:
            return False
        if isinstance(f, ast.Name) and f.id in ("min", "max") and len(e.args) > 1:
            return _all([self.expr(a) for a in e.args])  # one of its arguments
        return None  # the user's functions

    def same_as(self, receiver: ast.expr):
        """A view or copy of `receiver`: an array when the receiver has a rank, else what it is."""
        r = self._rank(receiver)
        if r is not None and r > 0:
            return True
        return self.expr(receiver) if r == 0 else None

    def _rank(self, e: ast.expr) -> int | None:
        if isinstance(e, ast.Name):
            return self.rank(e.id)
        return None


def _all(answers: list):
    decided = [a for a in answers if a is not _NEUTRAL]
    if not decided:  # every binding defers (a cycle through this name): the other bindings decide
        return _NEUTRAL if answers else None
    if all(a is True for a in decided):
        return True
    if all(a is False for a in decided):
        return False
    return None


def keeps_an_axis(index: ast.expr) -> bool:
    """Does this index leave an array even at 0-d (`...`, a slice, `None`, `np.newaxis`)?"""
    parts = index.elts if isinstance(index, ast.Tuple) else [index]
    return any(
        isinstance(p, ast.Slice)
        or (isinstance(p, ast.Constant) and (p.value is Ellipsis or p.value is None))
        or (isinstance(p, ast.Attribute) and p.attr == "newaxis")
        for p in parts
    )


def _numpy_root(f: ast.expr) -> bool:
    while isinstance(f, ast.Attribute):
        f = f.value
    return isinstance(f, ast.Name) and f.id in _NUMPY
