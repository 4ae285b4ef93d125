"""The values of the allocation-free lowering (numba_fuse.py) and the array operations on them.

`Scalar` is a source expression; `Arr` a per-example array as a *view*: its shape (ints where the example's
shapes fix them, source expressions otherwise) and a function giving the source of one element, which may
emit the loop it needs (a dot product's sum) into the block where the element is used. `ArrayOps` builds
views (broadcasting, contraction, reduction, indexing, staging) and emits loops through an `Emitter`.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

UNARY = {
    "tanh",
    "exp",
    "log",
    "sqrt",
    "sin",
    "cos",
    "tan",
    "abs",
    "absolute",
    "negative",
    "exp2",
    "log2",
    "log10",
    "log1p",
    "expm1",
    "arctan",
    "arcsin",
    "arccos",
    "sinh",
    "cosh",
    "arcsinh",
    "arctanh",
    "floor",
    "ceil",
    "square",
    "sign",
    "fabs",
    "reciprocal",
}
BINARY = {
    "maximum",
    "minimum",
    "add",
    "subtract",
    "multiply",
    "divide",
    "true_divide",
    "power",
    "arctan2",
    "hypot",
    "fmax",
    "fmin",
}
# Python's `math` functions that fail otherwise than Numba's: floor, ceil and trunc return an int and raise
# like int() for NaN and inf (Numba returns a float); the predicates never raise (the others raise where
# a result is NaN or infinite from finite arguments, pynum.math_ok)
MATH_INT = {"floor", "ceil", "trunc"}
MATH_BOOL = {"isnan", "isinf", "isfinite"}
REDUCTIONS = {"sum", "max", "min", "amax", "amin", "mean", "prod"}
_OPS = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.Pow: "**",
}
_CMP = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}


class NotFused(Exception):
    """The function (or this call's values) is outside the lowering's domain."""


class _StageEnd(Exception):
    """A staging pass reached its site (NOTE [staging])."""


@dataclass
class Scalar:
    src: str
    kind: str = "?"  # "f" float, "b" bool, "i" int, "?" unknown (left to Numba)


@dataclass
class Arr:
    shape: tuple  # ints, or source expressions (str) evaluated where the array is defined
    elem: Callable  # (index sources, Emitter) -> source of that element
    kind: str = "f"  # "f" float64 or "b" bool
    name: str | None = None  # a real array variable (a parameter, a global, or one this pass allocated)
    reads: frozenset = frozenset()  # the names its elements read


@dataclass
class Emitter:
    lines: list = field(default_factory=list)
    depth: int = 1
    counter: list = field(default_factory=lambda: [0])

    def fresh(self, stem: str) -> str:
        self.counter[0] += 1
        return f"_av_{stem}{self.counter[0]}"

    def emit(self, line: str):
        self.lines.append("    " * self.depth + line)

    def fail(self, cond: str):
        """Where Python would raise: mark the example and stop (an exception inside `prange` would stop
        Numba from running the loop in parallel; the driver's caller re-runs marked examples in Python)."""
        self.emit(f"if {cond}:")
        self.emit("    _av_bad[_av_i] = True")
        self.emit("    return")

    def index(self, i: str, n: str) -> str:
        """A checked scalar index (Python's negative indices included)."""
        j = self.fresh("j")
        self.emit(f"{j} = {i} + {n} if {i} < 0 else {i}")
        self.fail(f"{j} < 0 or {j} >= {n}")
        return j


# NOTE [kinds]. A scalar's kind is the Python type it has on *every* path: "b" bool, "i" int (Python int or
# int64), "f" float (Python float or float64), "?" unknown or path-dependent. Numba gives a variable one type
# for the whole function (`s = 0` then `s += x[k]`: float), while Python's type follows the path taken
# (an example with no iteration returns the int 0). The loop oracle stacks per-example results, so a result
# whose type differs between examples would be written into example 0's dtype with a cast: a silently wrong
# value. `lower` therefore requires every return site's kind to be known and equal to example 0's dtype, and
# names assigned with different kinds read as "?".
def arith_kind(*kinds) -> str:
    """The kind of +, -, *, //, % (and min/max of numbers, np.maximum, ...) of operands of these kinds."""
    if any(k not in ("i", "f") for k in kinds):
        return "?"  # bool arithmetic differs (True + True: 2 in Python, True for np.bool_), unknown
    return "f" if "f" in kinds else "i"


def float_kind(*kinds) -> str:
    """The kind of /, math.sqrt, np.exp, ... (float for int or float operands)."""
    return "f" if all(k in ("i", "f") for k in kinds) else "?"


def same_kind(*kinds) -> str:
    """The kind of a choice between values (`a if c else b`, `a or b`)."""
    return kinds[0] if len(set(kinds)) == 1 else "?"


def _dim_src(d) -> str:
    return str(d)


class ArrayOps:
    """Array building blocks of `_Lower` (numba_fuse.py): needs `self.em`, `self.transcendental`,
    `self.macs`, `self.longest`, `self.mapped`, `self.stage`, `self.sites`, `self.loop_depth`."""

    # The state of one lowering pass, set by `_Lower.__init__` (numba_fuse_stmts.py) and `_passes`
    # (numba_fuse.py); declared here for the mixins that share it (annotations only: no class attributes).
    em: Emitter
    env: dict  # name -> Scalar, Arr, a tuple of those, "list" or "returned"
    mapped: set[str]  # the names that carry the batch
    modules: dict[str, str]  # module name -> "numpy", "math" or "cmath"
    stores: dict[str, int]  # name -> how often the function stores it
    transcendental: int
    macs: int
    longest: int
    loop_depth: int
    stage: int | None
    sites: list[tuple[str, tuple]]

    if TYPE_CHECKING:

        def scalar(self, node: ast.expr) -> str:
            """The source of a scalar expression (defined by `Expressions`, numba_fuse_exprs.py)."""
            ...

        def value(self, node: ast.expr) -> Scalar | Arr | tuple:
            """The value of an expression (defined by `Expressions`, numba_fuse_exprs.py)."""
            ...

    # ---- loops ------------------------------------------------------------------------------------------
    def loops(self, shape, inner):
        idx = []
        for d in shape:
            i = self.em.fresh("i")
            self.em.emit(f"for {i} in range({_dim_src(d)}):")
            self.em.depth += 1
            idx.append(i)
        inner(tuple(idx))
        self.em.depth -= len(shape)

    def stage_site(self, ufunc: str, a: Arr):
        """NOTE [staging]. A transcendental ufunc on a per-example array of static shape, outside loops,
        runs in NumPy (SIMD) on the whole batch: pass j of the lowering ends at site j, writing its argument
        into the buffer `_av_T<j>[_av_i]` and returning; NumPy applies the ufunc to the buffer in place; later
        passes read the buffer instead (everything before the site is computed again, and what only fed the
        site is dead code). Each site runs at most once per example, and an example that returns before a
        site never reads its buffer, because every pass takes the same path on the same values."""
        if (
            self.stage is None
            or self.loop_depth
            or not all(isinstance(d, int) for d in a.shape)
            or not a.shape
        ):
            return None
        j = len(self.sites)
        self.sites.append((ufunc, a.shape))
        buf = f"_av_T{j}"
        if j < self.stage:
            return Arr(
                a.shape, lambda idx, em: f"{buf}[_av_i, {', '.join(idx)}]", "f", None, frozenset({buf})
            )
        self.loops(
            a.shape, lambda idx: self.em.emit(f"{buf}[_av_i, {', '.join(idx)}] = {a.elem(idx, self.em)}")
        )
        self.em.emit("return")
        raise _StageEnd

    # ---- array building blocks -------------------------------------------------------------------------
    def elementwise(self, form, vals, kind, bool_at=None, skind="?") -> Scalar | Arr:
        """`form` applied element by element, NumPy's broadcasting; only argument `bool_at` (np.where's
        condition) may be a boolean array. `kind` is the result's for arrays, `skind` for scalars (NOTE
        [kinds])."""
        if all(isinstance(v, Scalar) for v in vals):
            return Scalar(form(*(v.src for v in vals)), skind)
        if any(not isinstance(v, (Scalar, Arr)) for v in vals):
            raise NotFused("a tuple in an element-wise operation")
        arrays = [v for v in vals if isinstance(v, Arr)]
        if any(isinstance(v, Arr) and (v.kind == "b") != (k == bool_at) for k, v in enumerate(vals)):
            raise NotFused("a boolean array outside np.where's condition, or a float condition")
        rank = max(len(a.shape) for a in arrays)
        shape: list | tuple  # built as a list, then frozen
        shape = []
        for k in range(rank):
            dims = [a.shape[len(a.shape) - rank + k] for a in arrays if len(a.shape) - rank + k >= 0]
            shape.append(self.broadcast_dim(dims))
        shape = tuple(shape)

        def elem(idx, em):
            srcs = []
            for v in vals:
                if isinstance(v, Scalar):
                    srcs.append(v.src)
                    continue
                off = rank - len(v.shape)
                sub = tuple(
                    "0" if v.shape[k] == 1 and shape[off + k] != 1 else idx[off + k]
                    for k in range(len(v.shape))
                )
                srcs.append(v.elem(sub, em))
            return form(*srcs)

        reads = frozenset().union(
            *(a.reads for a in arrays), *(_names(v.src) for v in vals if isinstance(v, Scalar))
        )
        return Arr(shape, elem, kind, None, reads)

    def broadcast_dim(self, dims):
        ints = {d for d in dims if isinstance(d, int)}
        syms = [d for d in dims if not isinstance(d, int)]
        if len(ints - {1}) > 1:
            raise NotFused(f"shapes that do not broadcast ({sorted(ints)})")
        if syms:
            # sizes that depend on values: checked equal where the array is made (a size-1 one that would
            # broadcast fails the check, and the example is re-run in Python)
            first = syms[0]
            for other in syms[1:] + sorted(ints - {1}):
                self.check_equal(first, other)
            fixed = sorted(ints - {1})
            return fixed[0] if fixed else first
        return max(ints) if ints else 1

    def check_equal(self, a, b):
        if str(a) != str(b):
            self.em.fail(f"{_dim_src(a)} != {_dim_src(b)}")

    def contract(self, a, b):
        if not (isinstance(a, Arr) and isinstance(b, Arr)) or a.kind != "f" or b.kind != "f":
            raise NotFused("a contraction of scalars or booleans")
        if len(a.shape) not in (1, 2) or len(b.shape) not in (1, 2):
            raise NotFused("a contraction beyond rank 2")
        ka = self.check_static(a.shape[-1], b.shape[0])
        self.note_extent([ka])
        out_shape = a.shape[:-1] + b.shape[1:]
        if (a.name and a.name not in self.mapped) or (b.name and b.name not in self.mapped):
            # a batched contraction with a shared operand has a GEMM form: count its work
            sizes = [d for d in a.shape + b.shape[1:] if isinstance(d, int)]
            if len(sizes) == len(a.shape) + len(b.shape) - 1:
                self.macs += math.prod(sizes)

        def elem(idx, em):
            acc, k = em.fresh("d"), em.fresh("k")
            ai = idx[: len(a.shape) - 1] + (k,)
            bi = (k,) + idx[len(a.shape) - 1 :]
            em.emit(f"{acc} = 0.0")
            em.emit(f"for {k} in range({_dim_src(ka)}):")
            em.depth += 1
            em.emit(f"{acc} += {a.elem(ai, em)} * {b.elem(bi, em)}")
            em.depth -= 1
            return acc

        if not out_shape:
            return Scalar(elem((), self.em), "f")
        return Arr(out_shape, elem, "f", None, a.reads | b.reads)

    def check_static(self, x, y):
        """The contracted size: equal sizes, checked now when both are known, else where it runs."""
        if isinstance(x, int) and isinstance(y, int):
            if x != y:
                raise NotFused(f"contracted sizes differ ({x} and {y})")
            return x
        self.check_equal(x, y)
        return x if isinstance(x, int) else y

    def note_extent(self, dims):
        if all(isinstance(d, int) for d in dims):
            self.longest = max(self.longest, math.prod(dims))

    def reduce(self, name, a: Arr) -> Scalar:
        em = self.em
        self.note_extent(a.shape)
        acc = em.fresh("s")
        if name in ("sum", "mean", "prod"):
            em.emit(f"{acc} = {'1' if name == 'prod' else '0'}{'' if a.kind == 'b' else '.0'}")
            op = "*=" if name == "prod" else "+="
            self.loops(a.shape, lambda idx: em.emit(f"{acc} {op} {a.elem(idx, em)}"))
            if name == "mean":
                em.emit(f"{acc} = {acc} / ({' * '.join(map(_dim_src, a.shape))})")
            return Scalar(acc, "f" if a.kind == "f" or name == "mean" else "i")
        if a.kind != "f":
            raise NotFused(f"{name} of a boolean array")
        size = " * ".join(map(_dim_src, a.shape))
        em.fail(f"({size}) == 0")  # NumPy: zero-size array to reduction operation
        em.emit(f"{acc} = {'-' if name in ('max', 'amax') else ''}_av_np.inf")
        cmp = ">" if name in ("max", "amax") else "<"

        def inner(idx):
            e = em.fresh("e")
            em.emit(f"{e} = {a.elem(idx, em)}")
            em.emit(f"if {e} {cmp} {acc} or {e} != {e}:")  # NaN sticks, as in np.max
            em.emit(f"    {acc} = {e}")
            em.emit(f"if {acc} != {acc}:")
            em.emit("    break")

        self.loops(a.shape, inner)
        return Scalar(acc, "f")

    def index(self, base: Arr, sl):
        items = list(sl.elts) if isinstance(sl, ast.Tuple) else [sl]
        if len(items) > len(base.shape) or any(isinstance(i, ast.Starred) for i in items):
            raise NotFused("an index with more entries than the array's rank")
        shape: list | tuple  # built as a list, then frozen
        fixed, shape = [], []  # per axis: ("at", src) or ("slice", start src, length)
        for k, item in enumerate(items):
            dim = base.shape[k]
            if isinstance(item, ast.Slice):
                start, length = self._axis_slice(item, dim)
                fixed.append(("slice", start))
                shape.append(length)
            else:
                fixed.append(("at", self._axis_at(item, dim)))
        for dim in base.shape[len(items) :]:
            fixed.append(("slice", "0"))
            shape.append(dim)
        shape = tuple(shape)

        def elem(idx, em):
            it = iter(idx)
            full = []
            for how, src in fixed:
                if how == "at":
                    full.append(src)
                else:
                    i = next(it)
                    full.append(i if src == "0" else f"{src} + {i}")
            return base.elem(tuple(full), em)

        reads = base.reads | {src for how, src in fixed}
        if not shape:
            return Scalar(elem((), self.em), base.kind)
        return Arr(shape, elem, base.kind, None, frozenset(reads))

    def _axis_slice(self, item: ast.Slice, dim) -> tuple[str, object]:
        """A basic slice of an axis of length `dim`: the source of its start and its length (an int where
        both are known, else a source expression; its bounds clipped as Python clips them)."""
        if item.step is not None:
            raise NotFused("a slice with a step")
        if item.lower is None and item.upper is None:
            return "0", dim
        lo = self.scalar(item.lower) if item.lower is not None else None
        hi = self.scalar(item.upper) if item.upper is not None else None
        static = _static_slice(lo, hi, dim)
        if static is not None:
            return str(static[0]), static[1]
        lo_name, hi_name = self.em.fresh("lo"), self.em.fresh("hi")
        self.em.emit(f"{lo_name} = {'0' if lo is None else f'_av_clip({lo}, {_dim_src(dim)})'}")
        self.em.emit(f"{hi_name} = {_dim_src(dim) if hi is None else f'_av_clip({hi}, {_dim_src(dim)})'}")
        self.em.emit(f"{hi_name} = max({hi_name}, {lo_name})")
        return lo_name, f"({hi_name} - {lo_name})"

    def _axis_at(self, item: ast.expr, dim) -> str:
        """The source of an integer index into an axis of length `dim`, checked unless a constant in range."""
        i = self.value(item)
        if not isinstance(i, Scalar) or i.kind in ("f", "b"):
            raise NotFused("an index that is not an integer scalar")
        if (
            isinstance(item, ast.Constant)
            and isinstance(item.value, int)  # always: `i` is an integer Scalar (for the type checker)
            and isinstance(dim, int)
            and 0 <= item.value < dim
        ):
            return str(item.value)
        return self.em.index(i.src, _dim_src(dim))


# ---- helpers -----------------------------------------------------------------------------------------
def _real(name, shape, kind="f") -> Arr:
    return Arr(tuple(shape), lambda idx, em: f"{name}[{', '.join(idx)}]", kind, name, frozenset({name}))


def _static_slice(lo, hi, dim):
    if not isinstance(dim, int):
        return None
    try:
        a = None if lo is None else int(lo)
        b = None if hi is None else int(hi)
    except ValueError:
        return None
    start, stop, _ = slice(a, b).indices(dim)
    return start, max(stop - start, 0)


def _constant(src: str):
    """The value of an expression of literals only (`1 == 1`), else None."""
    try:
        tree = ast.parse(src, mode="eval")
    except SyntaxError:
        return None
    if any(isinstance(n, (ast.Name, ast.Call, ast.Attribute, ast.Subscript)) for n in ast.walk(tree)):
        return None
    try:
        return eval(compile(tree, "<astvmap>", "eval"), {"__builtins__": {}})  # literals and operators only
    except Exception:
        return None


def _names(src: str) -> set:
    try:
        return {n.id for n in ast.walk(ast.parse(src, mode="eval")) if isinstance(n, ast.Name)}
    except SyntaxError:
        return set()


def _module_name(node, low) -> bool:
    return isinstance(node, ast.Name) and node.id in low.modules


def _np_attr(f, low):
    """`np.tanh` -> "tanh" when `np` is NumPy in the function's globals."""
    if (
        isinstance(f, ast.Attribute)
        and isinstance(f.value, ast.Name)
        and low.modules.get(f.value.id) == "numpy"
    ):
        return f.attr
    return None


def _is_np(f, attr, low) -> bool:
    return _np_attr(f, low) == attr
