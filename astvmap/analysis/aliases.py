"""Aliases: which local names may hold the same buffer, and which buffers are changed in place.

    y = np.zeros(5)       y: a fresh buffer
    r = y[1:3]            r views y            (one class: {y, r})
    t = y[0]              t may view y         (a row per example, a column of the batch)
    z = y * 2.0           z: a fresh buffer
    r[0] = 5.0            the class {y, r} is written in place

Per example, Python decides what aliases what: `r = y` names the same array, a basic slice is a view, an
integer index down to a scalar is a copy, arithmetic and `.copy()` make new arrays. The batched code must
keep those relations wherever a buffer is written: a write through `r` must change `y`, an element read
before a write must not see it. This module answers, flow-insensitively and conservatively (two names
are in one class when some binding may make them share memory):

- `Aliases.members(name)`: the names of `name`'s class (itself included);
- `Aliases.written(name)`: is some member changed in place (an item or attribute store, an augmented
  assignment, an in-place method, a ufunc's `out=`, `np.copyto` and its kind)?
- `Aliases.layout_dependent(name)`: is some member derived by `reshape`/`ravel`-like code, which views or
  copies depending on the memory layout (per example and batched layouts differ)?

Names bound in nested functions and comprehensions are their own scope's and are not tracked; what a
nested function does to a captured array is the rules' question.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

import numpy as np

from .activity import NP_WRITING_FUNCS, out_arguments, root_name

# Attributes that are never a buffer (numbers, tuples, dtypes); any other may view the array (`.T`, `.real`).
VALUE_ATTRS = frozenset({"shape", "ndim", "size", "dtype", "itemsize", "nbytes", "strides"})
# Array methods whose result is a view of the receiver.
VIEW_METHODS = frozenset({"view", "transpose", "swapaxes", "squeeze", "diagonal", "__getitem__", "__array__"})
# Methods and functions that view or copy depending on the layout.
LAYOUT_METHODS = frozenset({"reshape", "ravel"})
# Array methods whose result is a new array or a number.
FRESH_METHODS = frozenset(
    {
        "copy",
        "astype",
        "flatten",
        "tolist",
        "item",
        "sum",
        "mean",
        "std",
        "var",
        "max",
        "min",
        "argmax",
        "argmin",
        "prod",
        "cumsum",
        "cumprod",
        "dot",
        "round",
        "clip",
        "any",
        "all",
        "nonzero",
        "argsort",
        "conj",
        "conjugate",
        "trace",
        "repeat",
        "take",
        "compress",
        "searchsorted",
        "ptp",
        "tobytes",
        "count",
        "index",
        "keys",
        "items",
        "values",
    }
)
# NumPy functions whose result views their first argument (or is it).
NP_VIEW_FUNCS = frozenset(
    {
        "asarray",
        "asanyarray",
        "asarray_chkfinite",
        "ascontiguousarray",
        "asfortranarray",
        "transpose",
        "permute_dims",
        "matrix_transpose",
        "swapaxes",
        "moveaxis",
        "rollaxis",
        "squeeze",
        "expand_dims",
        "atleast_1d",
        "atleast_2d",
        "atleast_3d",
        "broadcast_to",
        "diagonal",
        "real",
        "imag",
        "flip",
        "fliplr",
        "flipud",
        "rot90",
    }
)
NP_LAYOUT_FUNCS = frozenset({"reshape", "ravel"})
# NumPy functions (besides ufuncs) whose result is always a new array: reductions, creation,
# combination, sorting, products. Any other NumPy function may return a view of an argument
# (`np.trim_zeros` returns a slice, `np.split` a list of views), as the user's functions may.
NP_FRESH_FUNCS = frozenset(
    """
    sum nansum prod nanprod mean nanmean std nanstd var nanvar max min amax amin nanmax nanmin ptp
    argmax argmin nanargmax nanargmin any all median nanmedian average percentile nanpercentile quantile
    nanquantile cumsum cumprod nancumsum nancumprod count_nonzero
    array copy zeros ones empty full zeros_like ones_like empty_like full_like arange linspace logspace
    geomspace eye identity tri triu tril vander fromfunction fromiter indices
    concatenate concat stack vstack hstack dstack column_stack block append insert delete tile repeat pad
    kron outer inner dot vdot matmul vecdot tensordot cross convolve correlate
    where select piecewise clip sort argsort lexsort partition argpartition unique searchsorted nonzero
    argwhere flatnonzero take compress choose roll diff ediff1d gradient interp polyval cov corrcoef
    histogram histogram2d histogramdd bincount digitize isclose allclose array_equal array_equiv
    isin round around trapezoid cumulative_sum cumulative_prod angle apply_along_axis bartlett blackman
    hamming hanning kaiser i0 sinc fix extract diagflat histogram_bin_edges intersect1d setdiff1d setxor1d
    union1d unique_all unique_counts unique_inverse unique_values isneginf isposinf iscomplex isreal
    packbits unpackbits poly polyadd polyder polydiv polyfit polyint polymul polysub roots resize
    sort_complex take_along_axis trace unwrap
    """.split()  # noqa: SIM905
)
# Methods that write into an array's buffer (a list's `append` changes the list, whose `np.asarray`
# is a new array).
ARRAY_MUTATING_METHODS = frozenset({"sort", "fill", "resize", "put", "itemset", "setfield", "partition"})
# Builtins whose result never holds an argument's buffer.
FRESH_BUILTINS = frozenset(
    {"float", "int", "bool", "complex", "len", "abs", "round", "str", "repr", "range", "sum", "print"}
)
_NUMPY = frozenset({"np", "numpy"})
PARAMETER, UNKNOWN, AUGMENTED = "parameter", "unknown", "augmented"


@dataclass
class Aliases:
    """Classes of local names that may share a buffer (union-find), and what is known of each class."""

    parent: dict[str, str] = field(default_factory=dict)
    changed: set[str] = field(default_factory=set)  # names changed in place
    layout: set[str] = field(default_factory=set)  # names bound by layout-dependent code
    held: set[int] = field(default_factory=set)  # id() of the subscripts whose value is held, not consumed
    # every value a name is bound to, with the statement binding it (None for a parameter): an
    # expression, or PARAMETER, UNKNOWN (a loop target, an unpacked element, a `with` target) or
    # AUGMENTED (`t op= v`: what `t` held before, changed in place or rebound to a number)
    bindings: dict[str, list[tuple[ast.expr | str, ast.AST | None]]] = field(default_factory=dict)

    def find(self, name: str) -> str:
        self.parent.setdefault(name, name)
        while self.parent[name] != name:
            self.parent[name] = self.parent[self.parent[name]]
            name = self.parent[name]
        return name

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra

    # ---- queries ------------------------------------------------------------------------------------
    def members(self, name: str) -> frozenset[str]:
        root = self.find(name)
        return frozenset(n for n in list(self.parent) if self.find(n) == root)

    def is_held(self, node: ast.AST) -> bool:
        """Is the value of this read kept (bound to a name, put in a container, returned, passed to a
        function that may keep it) rather than consumed at once by an operator or a NumPy function?"""
        return id(node) in self.held

    def written(self, name: str) -> bool:
        return any(n in self.changed for n in self.members(name))

    def layout_dependent(self, name: str) -> bool:
        return any(n in self.layout for n in self.members(name))

    def shared(self, name: str) -> bool:
        """Does another name possibly hold `name`'s buffer?"""
        return len(self.members(name)) > 1


def analyze(
    fdef: ast.FunctionDef,
    bufferless: frozenset[str] = frozenset(),
    fresh: frozenset[int] = frozenset(),
    own: frozenset[int] = frozenset(),
) -> Aliases:
    """The classes of `fdef`'s names. What the caller may know besides the syntax (NOTE [fresh values],
    transform/feedback.py): `bufferless`, local names that never hold a buffer nor parts that may
    (joined with no other); `fresh`, the ids of call nodes that return a new array; `own`, of calls of
    functions (a module's, an object's method) that return only what they made or were given."""
    al = Aliases()
    for p in ast.walk(fdef.args):
        if isinstance(p, ast.arg):
            al.find(p.arg)
            al.bindings.setdefault(p.arg, []).append((PARAMETER, None))
    _Visitor(al, _Known(bufferless, fresh, own)).visit_body(fdef.body)
    return al


@dataclass(frozen=True)
class _Known:
    bufferless: frozenset[str] = frozenset()
    fresh: frozenset[int] = frozenset()
    own: frozenset[int] = frozenset()


def sources(e: ast.expr) -> set[str]:
    """The local names whose buffer the value of `e` may be or view."""
    return _Sources().of(e)


class _Sources:
    def __init__(self, known: _Known | None = None) -> None:
        self.layout = False
        self.known = known or _Known()

    def of(self, e: ast.expr) -> set[str]:
        if isinstance(e, ast.Name):
            return set() if e.id in self.known.bufferless else {e.id}
        if isinstance(e, ast.Subscript):
            if isinstance(e.slice, (ast.List, ast.Compare)):  # `w[[0, 2]]`, `w[w > 0]`: a copy
                return set()
            return self.of(e.value)
        if isinstance(e, ast.Starred):
            return self.of(e.value)
        if isinstance(e, ast.Attribute):
            return set() if e.attr in VALUE_ATTRS else self.of(e.value)
        if isinstance(e, (ast.Tuple, ast.List, ast.Set)):
            return set().union(*(self.of(x) for x in e.elts)) if e.elts else set()
        if isinstance(e, ast.Dict):
            return set().union(*(self.of(v) for v in e.values)) if e.values else set()
        if isinstance(e, ast.IfExp):
            return self.of(e.body) | self.of(e.orelse)
        if isinstance(e, ast.BoolOp):  # `a or b` is one of its operands
            return set().union(*(self.of(v) for v in e.values))
        if isinstance(e, ast.NamedExpr):
            return {e.target.id} | self.of(e.value)
        if isinstance(e, ast.Call):
            return self.call(e)
        return set()  # arithmetic, comparisons, constants, comprehensions: new objects

    def call(self, e: ast.Call) -> set[str]:
        f = e.func
        out = set()
        for o in out_arguments(e):  # a ufunc's result is its `out=` (or its positional outputs)
            out |= self.of(o)
        if id(e) in self.known.fresh:
            return out  # (a new array, as the rewrite found: NOTE [fresh values])
        if id(e) in self.known.own:
            return out | self._args(e)  # (what it was given, never its receiver's or a global's)
        if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id in _NUMPY:
            if f.attr in NP_LAYOUT_FUNCS:
                self.layout = True
            if f.attr in NP_VIEW_FUNCS | NP_LAYOUT_FUNCS and e.args:
                return out | self.of(e.args[0])
            fresh = f.attr in NP_FRESH_FUNCS and not _given_as_is(f.attr, e)
            if fresh or isinstance(getattr(np, f.attr, None), np.ufunc):
                return out  # a new array (or its `out=`)
            return out | self._args(e)  # NumPy's other functions may return a view of an argument
        if isinstance(f, ast.Attribute):
            if f.attr in LAYOUT_METHODS:
                self.layout = True
                return out | self.of(f.value)
            if f.attr in VIEW_METHODS:
                return out | self.of(f.value)
            if f.attr in FRESH_METHODS:
                return out
            # unknown methods (`d.get("w")`, a library's): may return the receiver or its parts
            return out | self.of(f.value) | self._args(e)
        if isinstance(f, ast.Name) and f.id in FRESH_BUILTINS and not (f.id == "sum" and len(e.args) > 1):
            return out  # (`sum(items, start)` of no items is `start`)
        return out | self._args(e)  # the user's functions may return their arguments

    def _args(self, e: ast.Call) -> set[str]:
        found: set[str] = set()
        for a in e.args:
            found |= self.of(a)
        for kw in e.keywords:
            if kw.arg != "out":
                found |= self.of(kw.value)
        return found


class _Visitor:
    """Walks the statements of one scope, uniting the classes each binding may join."""

    def __init__(self, al: Aliases, known: _Known):
        self.al = al
        self.known = known
        self.current: ast.AST | None = None  # the statement being visited

    def visit_body(self, stmts: list[ast.stmt]) -> None:
        for s in stmts:
            self.stmt(s)

    def stmt(self, s: ast.stmt) -> None:
        self.current = s
        if isinstance(s, ast.Assign):
            for t in s.targets:
                self.bind(t, s.value)
            names = [t.id for t in s.targets if isinstance(t, ast.Name)]
            for n in names[1:]:  # `a = b = v`: one object, two names
                self.al.union(names[0], n)
        elif isinstance(s, ast.AnnAssign) and s.value is not None:
            self.bind(s.target, s.value)
        elif isinstance(s, ast.AugAssign):
            self.bind(s.target, s.value, augmented=True)
        elif isinstance(s, (ast.For, ast.AsyncFor)):
            self.bind(s.target, s.iter, element=True)  # iterating an array yields views of its rows
        elif isinstance(s, (ast.With, ast.AsyncWith)):
            for item in s.items:
                if item.optional_vars is not None:
                    self.bind(item.optional_vars, item.context_expr, element=True)
        for e in _expressions(s):
            self.effects(e)
        for e in _held_roots(s):
            _mark_held(e, self.al.held)
        if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            return  # a nested scope's names are its own
        for f in ("body", "orelse", "finalbody"):
            self.visit_body(getattr(s, f, []) or [])
        for h in getattr(s, "handlers", []) or []:
            self.visit_body(h.body)
        for c in getattr(s, "cases", []) or []:
            self.visit_body(c.body)

    def bind(self, target: ast.expr, value: ast.expr, augmented: bool = False, element: bool = False) -> None:
        al = self.al
        if isinstance(target, (ast.Tuple, ast.List)):
            pairs = _pairs(target, value)
            if pairs is not None:
                for t, v in pairs:
                    self.bind(t, v)
            else:
                for t in target.elts:
                    self.bind(t.value if isinstance(t, ast.Starred) else t, value, element=True)
            return
        src = _Sources(self.known)
        names = src.of(value)
        if isinstance(target, ast.Name):
            al.find(target.id)
            if augmented:
                al.changed.add(target.id)  # `r += v` writes into an array (rebinds a number)
                al.bindings.setdefault(target.id, []).append((AUGMENTED, self.current))
                return  # `r += v` never makes `r` hold `v`'s buffer
            al.bindings.setdefault(target.id, []).append((UNKNOWN if element else value, self.current))
            if src.layout:
                al.layout.add(target.id)
            if target.id not in self.known.bufferless:
                for n in names:
                    al.union(target.id, n)
            return
        base = root_name(target)
        if base:  # `y[i] = v`, `o.a = v`: y changes (an array copies v's values into its own buffer)
            al.changed.add(base)

    def effects(self, e: ast.AST) -> None:
        """In-place changes made by calls: methods, `out=`, np.copyto and its kind; walrus bindings."""
        for n in ast.walk(e):
            if isinstance(n, ast.NamedExpr):
                self.bind(n.target, n.value)
            if not isinstance(n, ast.Call):
                continue
            f = n.func
            if isinstance(f, ast.Attribute) and f.attr in ARRAY_MUTATING_METHODS:
                self._change(f.value)
            if isinstance(f, ast.Attribute) and f.attr == "shuffle" and n.args:
                self._change(n.args[0])
            if (
                isinstance(f, ast.Attribute)
                and isinstance(f.value, ast.Name)
                and f.value.id in _NUMPY
                and f.attr in NP_WRITING_FUNCS
                and n.args
            ):
                self._change(n.args[0])
            for x in out_arguments(n):
                self._change(x)

    def _change(self, e: ast.expr) -> None:
        base = root_name(e)
        if base:
            self.al.changed.add(base)


# NumPy functions that return their argument itself for some options: `np.array(a, copy=False)`,
# `np.diff(a, n=0)`, `np.polyder(p, 0)` (parameter name, position)
_AS_IS = {"array": ("copy", 2), "diff": ("n", 1), "polyder": ("m", 1)}


def _given_as_is(name: str, call: ast.Call) -> bool:
    """May NumPy function `np.<name>` return an argument itself, given the options of `call`?"""
    option = _AS_IS.get(name)
    if option is None:
        return False
    keyword, position = option
    return len(call.args) > position or any(k.arg in (keyword, None) for k in call.keywords)


def _pairs(target: ast.Tuple | ast.List, value: ast.expr) -> list[tuple[ast.expr, ast.expr]] | None:
    """`a, *rest, b = (e1, e2, e3, e4)` element by element (`rest` takes a list of e2, e3), or None
    when the right side is not a display of known length."""
    if not isinstance(value, (ast.Tuple, ast.List)) or any(isinstance(v, ast.Starred) for v in value.elts):
        return None
    elts, vals = target.elts, value.elts
    star = [k for k, t in enumerate(elts) if isinstance(t, ast.Starred)]
    if not star:
        return list(zip(elts, vals)) if len(elts) == len(vals) else None
    k, after = star[0], len(elts) - star[0] - 1
    if len(vals) < len(elts) - 1:
        return None
    middle = ast.List(vals[k : len(vals) - after], ast.Load())
    rest = elts[k].value  # type: ignore[attr-defined]  # a Starred target
    return [*zip(elts[:k], vals[:k]), (rest, middle), *zip(elts[k + 1 :], vals[len(vals) - after :])]


def _held_roots(s: ast.stmt) -> list[ast.expr]:
    """The expressions whose values a statement keeps: a right side, a returned value, the arguments of
    calls that may keep them (methods such as `append`, the user's functions)."""
    roots: list[ast.expr] = []
    if isinstance(s, (ast.Assign, ast.AnnAssign, ast.Return)) and s.value is not None:
        roots.append(s.value)
    for e in _expressions(s):
        for n in ast.walk(e):
            if isinstance(n, ast.Call) and not _consumes(n):
                roots += n.args + [k.value for k in n.keywords]
    return roots


def _consumes(call: ast.Call) -> bool:
    """Does this call only read its arguments (NumPy's functions and the numeric builtins)?"""
    f = call.func
    if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id in _NUMPY:
        return True
    return isinstance(f, ast.Name) and f.id in FRESH_BUILTINS | {"min", "max"}


def _mark_held(e: ast.expr, held: set[int]) -> None:
    if isinstance(e, ast.Subscript):
        held.add(id(e))
    elif isinstance(e, (ast.Tuple, ast.List, ast.Set)):
        for x in e.elts:
            _mark_held(x, held)
    elif isinstance(e, ast.Dict):
        for x in e.values:
            _mark_held(x, held)
    elif isinstance(e, ast.IfExp):
        _mark_held(e.body, held)
        _mark_held(e.orelse, held)
    elif isinstance(e, ast.BoolOp):
        for x in e.values:
            _mark_held(x, held)
    elif isinstance(e, (ast.NamedExpr, ast.Starred)):
        _mark_held(e.value, held)


def _expressions(s: ast.stmt) -> list[ast.AST]:
    """The expressions a statement evaluates itself (not those of its nested blocks)."""
    out: list[ast.AST] = []
    for name, value in ast.iter_fields(s):
        if name in ("body", "orelse", "finalbody", "handlers", "cases"):
            continue
        if isinstance(value, ast.AST):
            out.append(value)
        elif isinstance(value, list):
            out += [v for v in value if isinstance(v, ast.AST)]
    return out
