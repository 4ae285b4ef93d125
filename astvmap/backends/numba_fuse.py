"""Allocation-free lowering of a per-example function for the Numba loop strategy.

A naive `prange` loop over an `njit`-compiled per-example function loses to hand-written NumPy because every
example allocates its small temporaries (`np.dot(x, W) + b` makes two arrays). This pass rewrites the
per-example function so that array expressions of small per-example size become scalar loops:

    def neuron(x):                               def _av_pe(x, W, b):
        return np.sum(np.tanh(np.dot(x, W) + b))     _av_s1 = 0.0
                                                     for _av_i1 in range(3):
                                                         _av_d2 = 0.0
                                                         for _av_i2 in range(5):
                                                             _av_d2 += x[_av_i2] * W[_av_i2, _av_i1]
                                                         _av_s1 += np.tanh(_av_d2 + b[_av_i1])
                                                     return _av_s1

An array value is a *view* (`Arr`): its shape (ints where the example's shapes fix them, source expressions
otherwise) and a function giving the source of one element, emitting any loop it needs (a dot product's
sum) in the block where the element is used. Elementwise operators, ufuncs and `np.where` compose views;
`np.dot`/`@` (ranks 1 and 2) and full reductions (`sum`, `max`, `min`, `mean`, `prod`) become loops; basic
slices shift indices; an array result is written straight into the output row `_av_out`; a list filled by
one `append` per iteration of a `for ... in range(...)` loop and returned as `np.array(list)` is written
into the output row too. A named array used once is inlined; otherwise it is computed once into an array of
its own (one allocation, still correct).

The domain is kept to what pays and what can be checked: float64 arrays (NumPy and the scalar loop then
agree on every dtype), arrays of rank 1 and 2, scalars of any type. Anything else raises `NotFused`, and the
plain per-example function is compiled instead. Shapes that depend on values are checked when the code runs
(a mismatch raises, the driver records it, and the example is re-run in Python, which raises the user's
error or shows the compiled code cannot be used): never a silently wrong element.
"""
from __future__ import annotations

import ast
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

UNARY = {"tanh", "exp", "log", "sqrt", "sin", "cos", "tan", "abs", "absolute", "negative", "exp2", "log2",
         "log10", "log1p", "expm1", "arctan", "arcsin", "arccos", "sinh", "cosh", "arcsinh", "arctanh",
         "floor", "ceil", "square", "sign", "fabs", "reciprocal"}
BINARY = {"maximum", "minimum", "add", "subtract", "multiply", "divide", "true_divide", "power", "arctan2",
          "hypot", "fmax", "fmin"}
# NumPy runs these with SIMD on whole arrays; a scalar loop calls libm once per element and loses (measured:
# neuron D=5, tanh on 3 elements per example: fused loop 5.7 ms, hand NumPy 4.0 ms, B=100k, one thread).
TRANSCENDENTAL = {"tanh", "exp", "log", "sin", "cos", "tan", "exp2", "log2", "log10", "log1p", "expm1",
                  "arctan", "arcsin", "arccos", "sinh", "cosh", "arcsinh", "arctanh", "power", "arctan2"}
REDUCTIONS = {"sum", "max", "min", "amax", "amin", "mean", "prod"}
_OPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%",
        ast.Pow: "**"}
_CMP = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}

HELPERS = '''
@_av_numba.njit(inline="always")
def _av_clip(i, n):
    j = i + n if i < 0 else i
    return 0 if j < 0 else (n if j > n else j)


@_av_numba.njit(inline="always")
def _av_range_len(start, stop, step):
    if step > 0:
        return max(0, (stop - start + step - 1) // step)
    return max(0, (start - stop - step - 1) // -step)
'''


class NotFused(Exception):
    """The function (or this call's values) is outside the lowering's domain."""


class _StageEnd(Exception):
    """A staging pass reached its site (NOTE [staging])."""


_MAX_STAGES = 8


@dataclass
class Scalar:
    src: str
    kind: str = "?"                 # "f" float, "b" bool, "i" int, "?" unknown (left to Numba)


@dataclass
class Arr:
    shape: tuple                    # ints, or source expressions (str) evaluated where the array is defined
    elem: Callable                  # (index sources, Emitter) -> source of that element
    kind: str = "f"                 # "f" float64 or "b" bool
    name: str | None = None         # a real array variable (a parameter, a global, or one this pass allocated)
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


@dataclass
class Fused:
    text: str                       # the source of `_av_pe`
    mode: str                       # "scalar": returns the result; "array": writes `_av_out`
    transcendental: int = 0         # element-wise transcendental calls on array elements
    macs: int = 0                   # multiply-adds of contractions with an unmapped operand (static sizes)
    longest: int = 0                # the longest static extent a contraction or reduction runs over
    stages: list = field(default_factory=list)  # (text of `_av_pe_s<j>`, ufunc name, per-example shape)


def _dim_src(d) -> str:
    return str(d)


class _Lower:
    """One pass over the function body; `env` maps names to Scalar, Arr, tuples of those, or "list"."""

    def __init__(self, fdef: ast.FunctionDef, env: dict, mode: str, mapped: set):
        self.fdef = fdef
        self.env = env
        self.mode = mode
        self.mapped = mapped
        self.em = Emitter()
        self.transcendental = 0
        self.loop_depth = 0
        self.stage: int | None = None   # staging (see `stage_site`): the site this pass ends at
        self.sites: list = []           # (ufunc name, shape) of the staged sites met so far
        self.macs = 0
        self.longest = 0
        self.stores = _store_counts(fdef)
        self.loads = _load_counts(fdef)
        self.item_writes = _item_writes(fdef)
        self.lists: dict = {}           # list name -> ("out" | array name, counter name)
        self.made: set = set()          # arrays this function allocates (the only ones it may write)

    # ---- statements ------------------------------------------------------------------------------------
    def body(self, stmts):
        for s in stmts:
            self.stmt(s)

    def stmt(self, s):
        em = self.em
        if isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant):
            return
        if isinstance(s, (ast.Pass, ast.Break, ast.Continue)):
            em.emit(ast.unparse(s))
        elif isinstance(s, ast.Assign):
            self.assign(s)
        elif isinstance(s, ast.AugAssign):
            self.augassign(s)
        elif isinstance(s, ast.Expr):
            self.expr_stmt(s.value)
        elif isinstance(s, ast.Assert):
            test = self.scalar(s.test)
            if _constant(test) is not True:         # `assert x.ndim == 1` is known here: nothing to check
                em.fail(f"not {test}")
        elif isinstance(s, ast.If):
            em.emit(f"if {self.scalar(s.test)}:")
            self.block(s.body)
            if s.orelse:
                em.emit("else:")
                self.block(s.orelse)
        elif isinstance(s, ast.While):
            if s.orelse:
                raise NotFused("while ... else")
            cond = self.scalar_expr_inline(s.test)
            em.emit(f"while {cond}:")
            self.loop_depth += 1
            self.block(s.body)
            self.loop_depth -= 1
        elif isinstance(s, ast.For):
            self.for_(s)
        elif isinstance(s, ast.Return):
            self.return_(s)
        else:
            raise NotFused(f"a {type(s).__name__} statement")

    def block(self, stmts):
        self.em.depth += 1
        n = len(self.em.lines)
        self.body(stmts)
        if len(self.em.lines) == n:
            self.em.emit("pass")
        self.em.depth -= 1

    def scalar_expr_inline(self, node) -> str:
        """A loop condition: re-evaluated every iteration, so it may not emit statements."""
        n = len(self.em.lines)
        src = self.scalar(node)
        if len(self.em.lines) != n:
            raise NotFused("a loop condition that needs statements")
        return src

    def assign(self, s):
        if len(s.targets) != 1:
            raise NotFused("chained assignment")
        t = s.targets[0]
        if isinstance(t, ast.Name):
            if isinstance(s.value, ast.List) and not s.value.elts:
                if self.env.get(t.id) is not None:
                    raise NotFused("a list name reused")
                self.env[t.id] = "list"
                return
            v = self.value(s.value)
            old = self.env.get(t.id)
            if isinstance(v, Scalar):
                if isinstance(old, (Arr, tuple)) or old == "list":
                    raise NotFused(f"{t.id!r} changes from an array to a scalar")
                self.em.emit(f"{t.id} = {v.src}")
                self.env[t.id] = Scalar(t.id, v.kind)
            elif isinstance(v, Arr):
                if old is not None:
                    raise NotFused(f"array {t.id!r} assigned twice")
                self.env[t.id] = self.bind_array(t.id, v)
            else:
                raise NotFused("a tuple value")
        elif isinstance(t, ast.Tuple) and all(isinstance(e, ast.Name) for e in t.elts):
            v = self.value(s.value)
            if not isinstance(v, tuple) or len(v) != len(t.elts) or not isinstance(s.value, ast.Name):
                raise NotFused("tuple unpacking of something other than a tuple argument")
            for e, part in zip(t.elts, v):
                if self.stores.get(e.id, 0) != 1 or not isinstance(part, Arr):
                    raise NotFused("tuple unpacking into names stored again, or of scalars")
            self.em.emit(f"{ast.unparse(t)} = {s.value.id}")
            for e, part in zip(t.elts, v):
                self.env[e.id] = _real(e.id, part.shape, part.kind)
                if s.value.id in self.mapped:
                    self.mapped.add(e.id)
        elif isinstance(t, ast.Subscript):
            self.item_store(t, self.scalar(s.value), "=")
        else:
            raise NotFused("an assignment target")

    def bind_array(self, name, v: Arr) -> Arr:
        """Inline a named array used once (when nothing it reads changes), else compute it into an array."""
        single = self.stores.get(name, 0) == 1 and self.loads.get(name, 0) == 1 and self.em.depth == 1
        stable = all(self.stores.get(r, 0) <= 1 and r not in self.item_writes for r in v.reads)
        if v.name is not None or (single and stable):
            return v
        self.made.add(name)
        self.em.emit(f"{name} = _av_np.empty(({', '.join(map(_dim_src, v.shape))},))")
        self.loops(v.shape, lambda idx: self.em.emit(f"{name}[{', '.join(idx)}] = {v.elem(idx, self.em)}"))
        return _real(name, v.shape, v.kind)

    def augassign(self, s):
        op = _OPS.get(type(s.op))
        if op is None:
            raise NotFused("an augmented operator")
        t = s.target
        if isinstance(t, ast.Name) and isinstance(self.env.get(t.id), Scalar):
            self.em.emit(f"{t.id} {op}= {self.scalar(s.value)}")
        elif isinstance(t, ast.Subscript):
            self.item_store(t, self.scalar(s.value), op + "=")
        else:
            raise NotFused("an augmented assignment to an array")

    def item_store(self, t: ast.Subscript, value: str, op: str):
        base = self.env.get(t.value.id) if isinstance(t.value, ast.Name) else None
        if not isinstance(base, Arr) or base.name not in self.made:
            raise NotFused("an item write outside arrays this function made")
        idx = self.indices(t.slice, base)
        if idx is None:
            raise NotFused("a slice write")
        self.em.emit(f"{base.name}[{', '.join(idx)}] {op} {value}")

    def expr_stmt(self, node):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "append"
                and isinstance(node.func.value, ast.Name) and node.func.value.id in self.lists
                and len(node.args) == 1 and not node.keywords):
            dest, counter = self.lists[node.func.value.id]
            value = self.scalar(node.args[0])
            self.em.emit(f"{dest}[{counter}] = {value}")
            self.em.emit(f"{counter} += 1")
            return
        raise NotFused("an expression statement")

    def for_(self, s):
        if s.orelse or not isinstance(s.target, ast.Name):
            raise NotFused("for ... else, or a target that is not a name")
        it = s.iter
        if not (isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "range"
                and self.env.get("range") is None and not it.keywords and 1 <= len(it.args) <= 3):
            raise NotFused("a for loop over something other than range(...)")
        args = [self.scalar(a) for a in it.args]
        start, stop, step = (["0"] + args + ["1"])[:3] if len(args) == 1 else (args + ["1"])[:3]
        filled = self.lists_filled_by(s)
        for name in filled:
            n = self.em.fresh("n")
            counter = self.em.fresh("c")
            self.em.emit(f"{n} = _av_range_len({start}, {stop}, {step})")
            if self.returned_list == name:
                self.em.fail(f"{n} != _av_out.shape[1]")      # another length than example 0's
                dest = "_av_out[_av_i]"
            else:
                dest = name
                self.made.add(name)
                self.em.emit(f"{name} = _av_np.empty({n})")
            self.em.emit(f"{counter} = 0")
            self.lists[name] = (dest, counter)
        self.env[s.target.id] = Scalar(s.target.id, "i")
        self.em.emit(f"for {s.target.id} in range({start}, {stop}, {step}):")
        self.loop_depth += 1
        self.block(s.body)
        self.loop_depth -= 1
        for name in filled:
            dest, counter = self.lists.pop(name)
            if dest != "_av_out[_av_i]":
                self.env[name] = _real(name, (counter,), "f")
            else:
                self.env[name] = "returned"

    def lists_filled_by(self, s: ast.For) -> list:
        """Lists appended once per iteration, at the loop body's top level, with no jump in the loop."""
        pending = [n for n, v in self.env.items() if v == "list"]
        filled = []
        for name in pending:
            appends = [n for n in ast.walk(s) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                       and n.func.attr == "append" and isinstance(n.func.value, ast.Name) and n.func.value.id == name]
            if not appends:
                continue
            top = [st for st in s.body if isinstance(st, ast.Expr) and st.value in appends]
            jumps = any(isinstance(n, (ast.Break, ast.Continue, ast.Return)) for n in ast.walk(s))
            if len(appends) != 1 or len(top) != 1 or jumps:
                raise NotFused("a list filled other than once per iteration")
            filled.append(name)
        return filled

    def return_(self, s):
        node = s.value
        if node is None:
            raise NotFused("a bare return")
        if (self.returned_list is not None and isinstance(node, ast.Call) and _is_np(node.func, "array", self)
                and len(node.args) == 1 and isinstance(node.args[0], ast.Name)
                and node.args[0].id == self.returned_list):
            if self.env.get(self.returned_list) != "returned":
                raise NotFused("the returned list is not filled by a loop before the return")
            self.em.emit("return")
            return
        v = self.value(node)
        if self.mode == "scalar":
            if not isinstance(v, Scalar):
                raise NotFused("an array returned where example 0 returned a scalar")
            self.em.emit(f"_av_out[_av_i] = {v.src}")
            self.em.emit("return")
            return
        if not isinstance(v, Arr) or len(v.shape) != self.out_rank:
            raise NotFused("a result of another rank than example 0's")
        for k, d in enumerate(v.shape):
            self.em.fail(f"_av_out.shape[{k + 1}] != {_dim_src(d)}")    # another shape than example 0's
        self.loops(v.shape, lambda idx: self.em.emit(f"_av_out[_av_i, {', '.join(idx)}] = {v.elem(idx, self.em)}"))
        self.em.emit("return")

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

    # ---- expressions ------------------------------------------------------------------------------------
    def scalar(self, node) -> str:
        v = self.value(node)
        if not isinstance(v, Scalar):
            raise NotFused("an array where a scalar is needed")
        return v.src

    def value(self, node):
        m = getattr(self, "v_" + type(node).__name__, None)
        if m is None:
            raise NotFused(f"a {type(node).__name__} expression")
        return m(node)

    def v_Constant(self, node):
        if isinstance(node.value, bool):
            return Scalar(repr(node.value), "b")
        if isinstance(node.value, (int, float)):
            return Scalar(repr(node.value), "i" if isinstance(node.value, int) else "f")
        raise NotFused("a constant that is not a number")

    def v_Name(self, node):
        v = self.env.get(node.id)
        if v is None:
            if self.stores.get(node.id):
                raise NotFused(f"{node.id!r} read before it is assigned")
            raise NotFused(f"the name {node.id!r} as a value")
        if isinstance(v, str):
            raise NotFused(f"the list {node.id!r} read as a value")
        return v

    def v_BinOp(self, node):
        if isinstance(node.op, ast.MatMult):
            return self.contract(self.value(node.left), self.value(node.right))
        op = _OPS.get(type(node.op))
        if op is None:
            raise NotFused("a bitwise operator")
        a, b = self.value(node.left), self.value(node.right)
        if op == "**" and isinstance(a, Arr) and not (isinstance(node.right, ast.Constant)
                                                     and type(node.right.value) is int):
            self.transcendental += 1        # x ** 2 is multiplications; x ** 0.5 calls pow
        return self.elementwise(lambda x, y: f"({x} {op} {y})", [a, b], "f")

    def v_UnaryOp(self, node):
        v = self.value(node.operand)
        if isinstance(node.op, ast.Not):
            if isinstance(v, Arr):
                raise NotFused("not on an array")
            return Scalar(f"(not {v.src})", "b")
        op = {ast.USub: "-", ast.UAdd: "+"}.get(type(node.op))
        if op is None:
            raise NotFused("~")
        return self.elementwise(lambda x: f"({op}{x})", [v], v.kind)

    def v_Compare(self, node):
        if len(node.ops) != 1 or type(node.ops[0]) not in _CMP:
            raise NotFused("a chained or identity comparison")
        op = _CMP[type(node.ops[0])]
        a, b = self.value(node.left), self.value(node.comparators[0])
        return self.elementwise(lambda x, y: f"({x} {op} {y})", [a, b], "b")

    def v_BoolOp(self, node):
        vals = [self.value(v) for v in node.values]
        if any(not isinstance(v, Scalar) for v in vals):
            raise NotFused("and/or on arrays")
        op = " and " if isinstance(node.op, ast.And) else " or "
        return Scalar("(" + op.join(v.src for v in vals) + ")")

    def v_IfExp(self, node):
        t, a, b = self.value(node.test), self.value(node.body), self.value(node.orelse)
        if not all(isinstance(v, Scalar) for v in (t, a, b)):
            raise NotFused("a conditional expression on arrays")
        return Scalar(f"({a.src} if {t.src} else {b.src})")

    def v_Attribute(self, node):
        if _module_name(node.value, self):
            if isinstance(getattr(np if self.modules[node.value.id] == "numpy" else math, node.attr, None), float):
                return Scalar(ast.unparse(node), "f")           # np.pi, math.inf, ...
            raise NotFused(f"the attribute {ast.unparse(node)}")
        base = self.value(node.value)
        if isinstance(base, Arr):
            if node.attr == "T":
                if len(base.shape) == 1:
                    return base
                if len(base.shape) != 2:
                    raise NotFused(".T of rank > 2")
                return Arr(base.shape[::-1], lambda idx, em, b=base: b.elem(idx[::-1], em), base.kind, None,
                           base.reads)
            if node.attr == "ndim":
                return Scalar(str(len(base.shape)), "i")
            if node.attr == "size":
                return Scalar("(" + " * ".join(map(_dim_src, base.shape)) + ")" if base.shape else "1", "i")
            raise NotFused(f"the attribute .{node.attr} of an array")
        raise NotFused(f"the attribute {ast.unparse(node)}")

    def v_Subscript(self, node):
        if isinstance(node.value, ast.Attribute) and node.value.attr == "shape":
            base = self.value(node.value.value)
            k = node.slice
            if isinstance(base, Arr) and isinstance(k, ast.Constant) and isinstance(k.value, int) \
                    and -len(base.shape) <= k.value < len(base.shape):
                return Scalar(_dim_src(base.shape[k.value]), "i")
            raise NotFused("a shape entry that is not a constant index")
        base = self.value(node.value)
        if not isinstance(base, Arr):
            raise NotFused("indexing a scalar or tuple")
        return self.index(base, node.slice)

    def v_Call(self, node):
        f = node.func
        if node.keywords:
            raise NotFused("keyword arguments")
        if isinstance(f, ast.Attribute) and not _module_name(f.value, self):
            base = self.value(f.value)
            if isinstance(base, Arr) and f.attr in REDUCTIONS and not node.args:
                return self.reduce(f.attr, base)
            raise NotFused(f"the method .{f.attr}")
        name = _np_attr(f, self)
        args = [self.value(a) for a in node.args]
        if name is not None:
            if name in UNARY and len(args) == 1:
                if isinstance(args[0], Arr) and name in TRANSCENDENTAL:
                    staged = self.stage_site(name, args[0])
                    if staged is not None:
                        return staged
                    self.transcendental += 1
                fn = {"absolute": "abs", "fabs": "abs"}.get(name, name)
                if name in ("square", "reciprocal"):
                    form = (lambda x: f"({x} * {x})") if name == "square" else (lambda x: f"(1.0 / {x})")
                    return self.elementwise(form, args, "f")
                return self.elementwise(lambda x: f"_av_np.{fn}({x})", args, "f")
            if name in BINARY and len(args) == 2:
                if any(isinstance(a, Arr) for a in args) and name in TRANSCENDENTAL:
                    self.transcendental += 1
                return self.elementwise(lambda x, y: f"_av_np.{name}({x}, {y})", args, "f")
            if name == "where" and len(args) == 3:
                return self.elementwise(lambda c, x, y: f"({x} if {c} else {y})", args, "f", bool_at=0)
            if name in ("dot", "matmul", "vdot", "inner") and len(args) == 2:
                if name in ("vdot", "inner") and not all(isinstance(a, Arr) and len(a.shape) == 1 for a in args):
                    raise NotFused(f"np.{name} beyond vectors")
                return self.contract(*args)
            if name in REDUCTIONS and len(args) == 1 and isinstance(args[0], Arr):
                return self.reduce(name, args[0])
            raise NotFused(f"np.{name}")
        if isinstance(f, ast.Name) and f.id == "len" and len(args) == 1 and isinstance(args[0], Arr):
            return Scalar(_dim_src(args[0].shape[0]), "i")
        if all(isinstance(a, Scalar) for a in args) and isinstance(f, (ast.Name, ast.Attribute)):
            return Scalar(f"{ast.unparse(f)}({', '.join(a.src for a in args)})")
        raise NotFused(f"the call {ast.unparse(f)}(...)")

    def stage_site(self, ufunc: str, a: Arr):
        """NOTE [staging]. A transcendental ufunc on a per-example array of static shape, outside loops,
        runs in NumPy (SIMD) on the whole batch: pass j of the lowering ends at site j, writing its argument
        into the buffer `_av_T<j>[_av_i]` and returning; NumPy applies the ufunc to the buffer in place; later
        passes read the buffer instead (everything before the site is computed again, and what only fed the
        site is dead code). Each site runs at most once per example, and an example that returns before a
        site never reads its buffer, because every pass takes the same path on the same values."""
        if self.stage is None or self.loop_depth or not all(isinstance(d, int) for d in a.shape) or not a.shape:
            return None
        j = len(self.sites)
        self.sites.append((ufunc, a.shape))
        buf = f"_av_T{j}"
        if j < self.stage:
            return Arr(a.shape, lambda idx, em: f"{buf}[_av_i, {', '.join(idx)}]", "f", None, frozenset({buf}))
        self.loops(a.shape, lambda idx: self.em.emit(f"{buf}[_av_i, {', '.join(idx)}] = {a.elem(idx, self.em)}"))
        self.em.emit("return")
        raise _StageEnd

    # ---- array building blocks -------------------------------------------------------------------------
    def elementwise(self, form, vals, kind, bool_at=None) -> Scalar | Arr:
        """`form` applied element by element, NumPy's broadcasting; only argument `bool_at` (np.where's
        condition) may be a boolean array."""
        if all(isinstance(v, Scalar) for v in vals):
            return Scalar(form(*(v.src for v in vals)), kind if kind == "b" else "?")
        if any(not isinstance(v, (Scalar, Arr)) for v in vals):
            raise NotFused("a tuple in an element-wise operation")
        arrays = [v for v in vals if isinstance(v, Arr)]
        if any(isinstance(v, Arr) and (v.kind == "b") != (k == bool_at) for k, v in enumerate(vals)):
            raise NotFused("a boolean array outside np.where's condition, or a float condition")
        rank = max(len(a.shape) for a in arrays)
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
                sub = tuple("0" if v.shape[k] == 1 and shape[off + k] != 1 else idx[off + k]
                            for k in range(len(v.shape)))
                srcs.append(v.elem(sub, em))
            return form(*srcs)
        reads = frozenset().union(*(a.reads for a in arrays), *(_names(v.src) for v in vals if isinstance(v, Scalar)))
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
            ai = idx[:len(a.shape) - 1] + (k,)
            bi = (k,) + idx[len(a.shape) - 1:]
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
        em.fail(f"({size}) == 0")             # NumPy: zero-size array to reduction operation
        em.emit(f"{acc} = {'-' if name in ('max', 'amax') else ''}_av_np.inf")
        cmp = ">" if name in ("max", "amax") else "<"

        def inner(idx):
            e = em.fresh("e")
            em.emit(f"{e} = {a.elem(idx, em)}")
            em.emit(f"if {e} {cmp} {acc} or {e} != {e}:")      # NaN sticks, as in np.max
            em.emit(f"    {acc} = {e}")
            em.emit(f"if {acc} != {acc}:")
            em.emit("    break")
        self.loops(a.shape, inner)
        return Scalar(acc, "f")

    def index(self, base: Arr, sl):
        items = list(sl.elts) if isinstance(sl, ast.Tuple) else [sl]
        if len(items) > len(base.shape) or any(isinstance(i, ast.Starred) for i in items):
            raise NotFused("an index with more entries than the array's rank")
        fixed, shape = [], []                   # per axis: ("at", src) or ("slice", start src, length)
        for k, item in enumerate(items):
            dim = base.shape[k]
            if isinstance(item, ast.Slice):
                if item.step is not None:
                    raise NotFused("a slice with a step")
                if item.lower is None and item.upper is None:
                    fixed.append(("slice", "0"))
                    shape.append(dim)
                    continue
                lo = self.scalar(item.lower) if item.lower is not None else None
                hi = self.scalar(item.upper) if item.upper is not None else None
                static = _static_slice(lo, hi, dim)
                if static is not None:
                    fixed.append(("slice", str(static[0])))
                    shape.append(static[1])
                    continue
                l, h = self.em.fresh("lo"), self.em.fresh("hi")
                self.em.emit(f"{l} = {'0' if lo is None else f'_av_clip({lo}, {_dim_src(dim)})'}")
                self.em.emit(f"{h} = {_dim_src(dim) if hi is None else f'_av_clip({hi}, {_dim_src(dim)})'}")
                self.em.emit(f"{h} = max({h}, {l})")
                fixed.append(("slice", l))
                shape.append(f"({h} - {l})")
            else:
                i = self.value(item)
                if not isinstance(i, Scalar) or i.kind in ("f", "b"):
                    raise NotFused("an index that is not an integer scalar")
                if isinstance(item, ast.Constant) and isinstance(dim, int) and 0 <= item.value < dim:
                    fixed.append(("at", str(item.value)))
                else:
                    fixed.append(("at", self.em.index(i.src, _dim_src(dim))))
        for dim in base.shape[len(items):]:
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

    def indices(self, sl, base: Arr):
        """Source indices of one element of a real array (item writes), or None for a slice."""
        items = list(sl.elts) if isinstance(sl, ast.Tuple) else [sl]
        if len(items) != len(base.shape) or any(isinstance(i, ast.Slice) for i in items):
            return None
        out = []
        for item, dim in zip(items, base.shape):
            i = self.value(item)
            if not isinstance(i, Scalar) or i.kind in ("f", "b"):
                raise NotFused("an index that is not an integer scalar")
            out.append(self.em.index(i.src, _dim_src(dim)))
        return out


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
        return eval(compile(tree, "<astvmap>", "eval"), {"__builtins__": {}})   # literals and operators only
    except Exception:       # noqa: BLE001 - 1 // 0 and the like: not a constant we can use
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
    if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and low.modules.get(f.value.id) == "numpy":
        return f.attr
    return None


def _is_np(f, attr, low) -> bool:
    return _np_attr(f, low) == attr


def _store_counts(fdef) -> dict:
    out: dict = {}
    for n in ast.walk(fdef):
        if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load):
            out[n.id] = out.get(n.id, 0) + 1
        elif isinstance(n, ast.arg):
            out[n.arg] = out.get(n.arg, 0) + 1
        elif isinstance(n, ast.AugAssign) and isinstance(n.target, ast.Name):
            out[n.target.id] = out.get(n.target.id, 0) + 1
    return out


def _load_counts(fdef) -> dict:
    out: dict = {}
    for n in ast.walk(fdef):
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load):
            out[n.id] = out.get(n.id, 0) + 1
    # a name read inside a loop body is read once per iteration: never "used once"
    for loop in ast.walk(fdef):
        if isinstance(loop, (ast.For, ast.While)):
            for n in ast.walk(loop):
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load):
                    out[n.id] = out.get(n.id, 0) + 2
    return out


def _item_writes(fdef) -> set:
    out = set()
    for n in ast.walk(fdef):
        targets = n.targets if isinstance(n, ast.Assign) else [n.target] if isinstance(n, ast.AugAssign) else []
        for t in targets:
            if isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name):
                out.add(t.value.id)
    return out


def _returned_list(fdef, low) -> str | None:
    """The list `r` when the function returns `np.array(r)` (then it is written into the output row)."""
    names = set()
    for n in ast.walk(fdef):
        if isinstance(n, ast.Return) and isinstance(n.value, ast.Call) and _is_np(n.value.func, "array", low) \
                and len(n.value.args) == 1 and isinstance(n.value.args[0], ast.Name) and not n.value.keywords:
            names.add(n.value.args[0].id)
    return names.pop() if len(names) == 1 else None


def kind_of(value, name: str, mapped: bool):
    """The lowering's view of one argument's per-example value (None: outside the domain)."""
    if isinstance(value, tuple):
        parts = tuple(kind_of(v, name, mapped) for v in value)
        return None if any(p is None for p in parts) else parts
    if isinstance(value, np.ndarray):
        if value.dtype != np.float64 or value.ndim > 2:
            return None
        return _real(name, value.shape) if value.ndim else Scalar(name, "f")
    if isinstance(value, (bool, np.bool_)):
        return Scalar(name, "b")
    if isinstance(value, (int, np.integer)):
        return Scalar(name, "i")
    if isinstance(value, (float, np.floating)):
        return Scalar(name, "f")
    return None


def lower(fdef: ast.FunctionDef, names: list, values: list, mapped: set, modules: dict, out_rank: int) -> Fused:
    """Lower `fdef` (its parameters renamed to `names` = parameters + globals read, with example 0's
    `values`) into `_av_pe(..., _av_out, _av_bad, _av_i)`, which writes example `_av_i`'s result (of rank
    `out_rank`, as example 0's) into `_av_out[_av_i]` or marks `_av_bad[_av_i]`; `mapped` names carry the
    batch; `modules` maps module names to "numpy", "math" or "cmath". Raises NotFused outside the domain."""
    mode = "scalar" if out_rank == 0 else "array"
    env = {}
    for n, v in zip(names, values):
        k = kind_of(v, n, n in mapped)
        if k is None:
            raise NotFused(f"{n!r} is not a float64 array of rank <= 2 or a number")
        if isinstance(k, tuple) and not isinstance(v, tuple):
            raise NotFused("a tuple")
        env[n] = k
    stages = []
    while True:
        low = _Lower(fdef, dict(env), mode, set(mapped))
        low.modules = modules
        low.out_rank = out_rank
        low.returned_list = _returned_list(fdef, low)
        low.stage = len(stages)
        for n in low.stores:
            if n in modules:
                raise NotFused(f"the module name {n!r} is assigned")
        try:
            low.body(fdef.body)
        except _StageEnd:
            if len(stages) == _MAX_STAGES:
                raise NotFused("too many transcendental ufuncs to stage") from None
            ufunc, shape = low.sites[-1]
            stages.append((low, ufunc, shape))
            continue
        break
    k = len(stages)
    texts = [(_function(f"_av_pe_s{j}", names, lj, k), ufunc, shape) for j, (lj, ufunc, shape) in enumerate(stages)]
    return Fused(_function("_av_pe", names, low, k), mode, low.transcendental, low.macs, low.longest, texts)


def _function(fname, names, low, n_buffers) -> str:
    """Every pass's function takes all the staging buffers (one driver signature)."""
    params = names + [f"_av_T{j}" for j in range(n_buffers)] + ["_av_out", "_av_bad", "_av_i"]
    return f"def {fname}({', '.join(params)}):\n" + "\n".join(low.em.lines) + "\n"
