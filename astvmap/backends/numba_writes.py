"""Which parameters and globals the per-example function may write into (NOTE [compiled writes]).

NOTE [compiled writes]: Python writes through a parameter into the caller's array (`x[0] = 0`, `x += 1`,
`np.multiply(x, 2, out=x)`, `r[0] = 0` for `r` in `x`), once per example. A compiled attempt may still
fall back to the NumPy code (numba_plan: example 0 differs from Python's, an example raises where Python
does not), which writes again: so the compiled code runs on copies of the mapped arguments it may write,
and they are copied back only when every example succeeded. A write into a global or an unmapped argument
is shared by every example (the loop's example b sees the writes of examples before it, a `prange` would
race): such a function is not compiled. With `chunk_size`, copies are made a chunk at a time (numba_plan).

The analysis is conservative and flow-insensitive: a name may alias every parameter or global that any
value assigned to it (or iterated by a `for` over it) may come from, a view, an element or the object
itself, unless the value is surely fresh (arithmetic, a comparison, a NumPy function that allocates its
result). A write through a name is a write into everything it may alias; a call the analysis does not know
(a Numba function, a method it cannot name) may write into every argument it is given.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import types

import numpy as np

from ..analysis import activity

# Word lists (read better than lists of strings: noqa SIM905).
# NumPy functions whose result is always a new array (or a number), whatever they are given
_FRESH_NUMPY = frozenset(
    """zeros ones empty full zeros_like ones_like empty_like full_like arange linspace copy sum prod mean
    std var dot vdot inner outer cross cumsum cumprod diff sort argsort argmax argmin max min amax amin
    any all where concatenate stack vstack hstack trace kron eye identity interp convolve polyval
    searchsorted count_nonzero nonzero unique allclose isclose array_equal median percentile quantile
    average nansum nanmean nanmax nanmin round around clip isnan isinf isfinite shape ndim size""".split()  # noqa: SIM905
)
# NumPy functions that write into their first argument
_WRITING_NUMPY = frozenset("copyto put place putmask fill_diagonal put_along_axis".split())  # noqa: SIM905
_FRESH_BUILTINS = frozenset("len int float bool complex abs range round pow divmod isinstance sum".split())  # noqa: SIM905
_FRESH_METHODS = frozenset(
    "copy sum prod mean std var max min argmax argmin astype item dot cumsum cumprod any all round".split()  # noqa: SIM905
)
_WRITING_METHODS = frozenset("sort fill put itemset partition resize setfield byteswap setflags".split())  # noqa: SIM905
# methods that never write into their receiver or arguments (`lst.append(x)` makes lst hold x: `flow`)
_READING_METHODS = _FRESH_METHODS | frozenset(
    """append reshape transpose ravel flatten view nonzero argsort conj conjugate tolist index count
    swapaxes squeeze diagonal""".split()  # noqa: SIM905
)


class _Aliases:
    """The fixed point of what each name may alias (module docstring). `containers` are the parameters
    that are tuples: `p + (1.0,)` holds p's arrays, while `a + b` of arrays is a new array."""

    def __init__(self, fdef: ast.FunctionDef, roots: list[str], inject: dict, containers: set[str]) -> None:
        self.inject = inject
        self.may: dict[str, set[str]] = {r: {r} for r in roots}
        self.local = activity.local_names(fdef)
        self.listy = set(containers)  # names that may hold a list or tuple
        size = -1
        while size != (size := sum(map(len, self.may.values())) + len(self.listy)):
            for node in ast.walk(fdef):
                self.flow(node)

    def bind(self, target: ast.AST, found: set[str], listy: bool = False) -> None:
        if isinstance(target, ast.Name):
            self.may.setdefault(target.id, set()).update(found)
            if listy:
                self.listy.add(target.id)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for t in target.elts:
                self.bind(t, found, True)  # an element of a tuple may be a tuple
        elif isinstance(target, ast.Starred):
            self.bind(target.value, found, True)
        elif isinstance(target, (ast.Subscript, ast.Attribute)):
            # `lst[0] = x`: a list holds x (an array copies the values it is given)
            base = _base(target)
            if isinstance(base, ast.Name) and base.id in self.listy:
                self.bind(base, found)

    def flow(self, node: ast.AST) -> None:
        if isinstance(node, ast.Assign):
            for t in node.targets:
                self.bind(t, self.roots(node.value), self.container(node.value))
        elif isinstance(node, (ast.AnnAssign, ast.NamedExpr)) and node.value is not None:
            self.bind(node.target, self.roots(node.value), self.container(node.value))
        elif isinstance(node, ast.AugAssign):
            # `a += v` keeps `a` (an array, in place) or makes a number; a list or tuple takes v's elements
            if isinstance(node.target, ast.Name) and node.target.id in self.listy:
                self.bind(node.target, self.roots(node.value))
        elif isinstance(node, (ast.For, ast.comprehension)):
            self.bind(node.target, self.roots(node.iter), True)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            # `lst.append(x)`: a list holds what it is given
            base = _base(node.func)
            if isinstance(base, ast.Name) and base.id in self.listy:
                self.bind(base, set().union(*(self.roots(a) for a in _call_args(node))))

    def container(self, node: ast.AST) -> bool:
        """Whether the value of `node` may be a list or tuple (whose `+` and `*` keep its elements)."""
        if isinstance(node, (ast.List, ast.Tuple, ast.ListComp)):
            return True
        if isinstance(node, ast.Name):
            return node.id in self.listy
        if isinstance(node, ast.BinOp):
            return self.container(node.left) or self.container(node.right)
        if isinstance(node, (ast.Subscript, ast.IfExp, ast.BoolOp)):
            return any(self.container(c) for c in ast.iter_child_nodes(node) if isinstance(c, ast.expr))
        if isinstance(node, ast.Call):
            return self.callee(node.func) in (list, tuple) or not self.fresh(node)
        return False

    def names(self, node: ast.AST) -> set[str]:
        found = [self.may.get(n.id, set()) for n in ast.walk(node) if isinstance(n, ast.Name)]
        return set().union(*found)

    def roots(self, node: ast.AST) -> set[str]:
        """What the value of `node` may alias."""
        if isinstance(node, (ast.Constant, ast.JoinedStr, ast.UnaryOp, ast.Compare)):
            return set()
        if isinstance(node, ast.BinOp):
            parts = [self.roots(p) for p in (node.left, node.right) if self.container(p)]
            return set().union(*parts)
        if isinstance(node, ast.Name):
            return set(self.may.get(node.id, ()))
        if isinstance(node, (ast.Subscript, ast.Attribute, ast.Starred, ast.NamedExpr)):
            return self.roots(node.value)
        if isinstance(node, ast.IfExp):
            return self.roots(node.body) | self.roots(node.orelse)
        if isinstance(node, ast.Call):
            return set() if self.fresh(node) else self.names(node)
        if isinstance(node, (ast.ListComp, ast.GeneratorExp, ast.SetComp)):
            return self.roots(node.elt)
        return self.names(node)  # containers, `a or b`, anything else: every name it reads

    def callee(self, func: ast.AST) -> object:
        """The object a call's function names (a module function, a builtin), or None."""
        if isinstance(func, ast.Name):
            if func.id in self.local:
                return None
            if func.id in self.inject:
                return self.inject[func.id]
            return getattr(builtins, func.id, None)
        if isinstance(func, ast.Attribute):
            owner = self.callee(func.value)
            if isinstance(owner, types.ModuleType):
                return getattr(owner, func.attr, None)
        return None

    def fresh(self, call: ast.Call) -> bool:
        """The call's result is surely a new object (or a number)."""
        fn = self.callee(call.func)
        if fn is None:
            method = call.func.attr if isinstance(call.func, ast.Attribute) else None
            return method in _FRESH_METHODS and not call.keywords
        if isinstance(fn, np.ufunc):
            return len(call.args) <= fn.nin and not call.keywords
        if getattr(fn, "__module__", None) in ("math", "cmath"):
            return True
        if _is_builtin(fn):
            return getattr(fn, "__name__", "") in _FRESH_BUILTINS
        name = getattr(fn, "__name__", "")
        if name == "array":
            return not call.keywords  # np.array copies unless told not to
        out = _out_position(fn)
        if any(k.arg == "out" for k in call.keywords) or (out is not None and len(call.args) > out):
            return False
        return name in _FRESH_NUMPY and (getattr(fn, "__module__", "") or "").startswith("numpy")


def _is_builtin(fn: object) -> bool:
    return any(fn is v for v in vars(builtins).values())


def _base(node: ast.AST) -> ast.AST:
    """The name a subscript/attribute chain starts from (`x` in `x[0].real[1]`)."""
    while isinstance(node, (ast.Subscript, ast.Attribute, ast.Starred)):
        node = node.value
    return node


def _call_args(call: ast.Call) -> list[ast.expr]:
    return [*call.args, *(k.value for k in call.keywords)]


def _out_position(fn: object) -> int | None:
    """The position of a NumPy function's `out` parameter (2 when its signature is unknown: `dot(a, b,
    out)`), or None."""
    try:
        params = list(inspect.signature(fn).parameters)  # type: ignore[arg-type]  # any object: TypeError
    except (TypeError, ValueError):
        return 2
    return params.index("out") if "out" in params else None


def _call_writes(al: _Aliases, call: ast.Call) -> set[str]:
    """What a call may write into: `out=`, a ufunc's output arguments, a writing NumPy function's first
    argument, a writing method's receiver, and every argument of a call the analysis does not know."""
    fn = al.callee(call.func)
    found: set[str] = set()
    for k in call.keywords:
        if k.arg == "out" or k.arg is None:
            found |= al.roots(k.value)
    everything = found.union(*(al.roots(a) for a in _call_args(call)))
    if fn is None:
        if not isinstance(call.func, ast.Attribute):
            return everything  # a function held in a variable
        if call.func.attr in _WRITING_METHODS:
            return found | al.roots(call.func.value)
        return found if call.func.attr in _READING_METHODS else everything | al.roots(call.func.value)
    if isinstance(fn, np.ufunc):
        return found.union(*(al.roots(a) for a in call.args[fn.nin :]))
    if getattr(fn, "__module__", None) in ("math", "cmath") or _is_builtin(fn):
        return found
    if not (getattr(fn, "__module__", "") or "").startswith("numpy"):
        return everything  # a Numba function may write into what it is given
    if getattr(fn, "__name__", "") in _WRITING_NUMPY and call.args:
        found |= al.roots(call.args[0])
    out = _out_position(fn)
    if out is not None:
        found = found.union(*(al.roots(a) for a in call.args[out:]))
    return found


def written(fdef: ast.FunctionDef, roots: list[str], inject: dict, containers: set[str]) -> set[str]:
    """The parameters and globals (`roots`) the function may write into (module docstring)."""
    al = _Aliases(fdef, roots, inject, containers)
    found: set[str] = set()
    for node in ast.walk(fdef):
        if isinstance(node, (ast.Subscript, ast.Attribute)) and isinstance(node.ctx, (ast.Store, ast.Del)):
            found |= al.roots(node.value)
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            found |= al.roots(node.target)  # in place on an array
        elif isinstance(node, ast.Call):
            found |= _call_writes(al, node)
    return found & set(roots)
