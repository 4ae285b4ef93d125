"""Expressions of the allocation-free lowering (numba_fuse.py): each Python expression node becomes a
`Scalar` (a source expression) or an `Arr` view, or raises NotFused."""

from __future__ import annotations

import ast
import math

import numpy as np

from .. import pynum
from ..rules import registry
from .numba_fuse_values import (
    _CMP,
    _OPS,
    BINARY,
    MATH_BOOL,
    MATH_INT,
    REDUCTIONS,
    UNARY,
    Arr,
    ArrayOps,
    NotFused,
    Scalar,
    _dim_src,
    _module_name,
    _np_attr,
    arith_kind,
    float_kind,
    same_kind,
)

_BUILTIN_KINDS = {"float": "f", "int": "i", "bool": "b"}
# math functions Numba compiles without raising (Python's errors are checked: `checked_call`)
_MATH = (
    MATH_INT
    | MATH_BOOL
    | {
        "sqrt",
        "exp",
        "expm1",
        "log",
        "log2",
        "log10",
        "log1p",
        "sin",
        "cos",
        "tan",
        "asin",
        "acos",
        "atan",
        "atan2",
        "sinh",
        "cosh",
        "tanh",
        "asinh",
        "acosh",
        "atanh",
        "hypot",
        "fabs",
        "copysign",
        "erf",
        "erfc",
        "degrees",
        "radians",
    }
)


class Expressions(ArrayOps):
    def python_numbers(self, op, a, b, natural):
        """Python raises on numbers where Numba (error_model="numpy") goes on: x / 0, x // 0, x % 0,
        0.0 ** -1; an int to a negative int power is a float in Python, 0 in Numba. Such an example is
        marked (the driver's caller re-runs it in Python, which raises, or shows NumPy's scalars gave inf)."""
        if op in ("/", "//", "%"):
            d = self.em.fresh("q")
            self.em.emit(f"{d} = {b.src}")
            self.em.fail(pynum.divisor_bad(d))
            return a, Scalar(d, b.kind)
        if op == "**" and (a.kind == "f" or not natural):
            if a.kind != "f":
                raise NotFused("a power of a number that may be an integer, to a computed exponent")
            x, e, r = self.em.fresh("p"), self.em.fresh("q"), self.em.fresh("r")
            self.em.emit(f"{x} = {a.src}")
            if natural:
                # x ** 2 stays multiplications, unchecked: for a NumPy float past 1e154 inf is right; for a
                # Python float Python raises OverflowError (a known gap: a check here made custom_dot 5x slower,
                # its branch keeps LLVM from vectorizing the batch loop)
                return Scalar(f"({x} ** {b.src})", "f"), None
            self.em.emit(f"{e} = float({b.src})")
            self.em.fail(pynum.power_bad(x, e))  # raises, complex
            self.em.emit(f"{r} = {x} ** {e}")
            self.em.fail(pynum.power_overflow(r, x, e))  # OverflowError
            return Scalar(r, "f"), None
        return a, b

    def float_of(self, v):
        return Scalar(f"float({v.src})", "f") if isinstance(v, Scalar) else v

    def checked_call(self, f, args, kind) -> Scalar:
        """A call of numbers passed through to Numba, with Python's errors kept: `int()` of NaN, inf or
        a number past int64, and a math function giving a non-finite result from finite arguments (Python
        raises ValueError or OverflowError there; Numba returns it)."""
        srcs = [a.src for a in args]
        call = f"{ast.unparse(f)}({', '.join(srcs)})"
        if isinstance(f, ast.Name) and f.id == "int" and args[0].kind != "i":
            t = self.em.fresh("t")
            self.em.emit(f"{t} = {srcs[0]}")
            self.em.fail(pynum.int_bad(t))
            return Scalar(f"int({t})", "i")
        if isinstance(f, ast.Attribute) and f.attr not in MATH_BOOL:
            ts = []
            for src in srcs:
                ts.append(self.em.fresh("t"))
                self.em.emit(f"{ts[-1]} = {src}")
            if f.attr in MATH_INT:  # floor(nan): ValueError; floor(1e20): a big int
                self.em.fail(" or ".join(pynum.int_bad(t) for t in ts))
                return Scalar(f"{ast.unparse(f)}({', '.join(ts)})", kind)
            r = self.em.fresh("r")
            self.em.emit(f"{r} = {ast.unparse(f)}({', '.join(ts)})")
            # Python's math raises where a result is NaN from no NaN (sqrt(-1), sin(inf)) or infinite from
            # finite arguments (log(0), exp(1000)); Numba returns them
            self.em.fail(pynum.math_bad(r, ts))
            return Scalar(r, kind)
        return Scalar(call, kind)

    def call_kind(self, f, args) -> str:
        """The kind of a call of numbers passed through to Numba (NOTE [kinds])."""
        kinds = [a.kind for a in args]
        if isinstance(f, ast.Name) and self.env.get(f.id) is None:
            if f.id in _BUILTIN_KINDS and len(args) == 1:
                return _BUILTIN_KINDS[f.id]
            if f.id in ("abs", "min", "max") and args:
                return arith_kind(*kinds) if f.id == "abs" else same_kind(*kinds)
        elif (
            isinstance(f, ast.Attribute)
            and isinstance(f.value, ast.Name)
            and self.modules.get(f.value.id) == "math"
            and f.attr in _MATH
        ):
            if f.attr in MATH_BOOL:
                return "b"
            return "i" if f.attr in MATH_INT else float_kind(*kinds)
        # anything else might raise inside the compiled loop, where Numba's threads lose the exception
        raise NotFused(f"the call {ast.unparse(f)}(...)")

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
        natural = (
            isinstance(node.right, ast.Constant) and type(node.right.value) is int and node.right.value >= 0
        )
        if op == "**" and isinstance(a, Arr) and not natural:
            self.transcendental += 1  # x ** 2 is multiplications; x ** 0.5 calls pow
        if isinstance(a, Scalar) and isinstance(b, Scalar):
            if "b" in (a.kind, b.kind):  # np.bool_ + np.bool_ is a logical or; Numba adds ints
                raise NotFused("arithmetic on booleans")
            a, b = self.python_numbers(op, a, b, natural)
            if b is None:  # the power, computed and checked
                return a
        elif op == "**" and not natural and b.kind != "f":
            # Numba's float ** negative int raises ZeroDivisionError for 0.0 (inside prange: lost);
            # NumPy's array ** int is a float power (inf)
            b = self.float_of(b)
        if op == "/":
            skind = float_kind(a.kind, b.kind)
        elif op == "**":  # int ** negative int is a float in Python
            skind = "f" if "f" in (a.kind, b.kind) and arith_kind(a.kind, b.kind) == "f" else "?"
        else:
            skind = arith_kind(a.kind, b.kind)
        return self.elementwise(lambda x, y: f"({x} {op} {y})", [a, b], "f", skind=skind)

    def v_UnaryOp(self, node):
        v = self.value(node.operand)
        if isinstance(node.op, ast.Not):
            if isinstance(v, Arr):
                raise NotFused("not on an array")
            return Scalar(f"(not {v.src})", "b")
        op = {ast.USub: "-", ast.UAdd: "+"}.get(type(node.op))
        if op is None:
            raise NotFused("~")
        if v.kind == "b":
            raise NotFused("arithmetic on booleans")
        return self.elementwise(lambda x: f"({op}{x})", [v], v.kind, skind=arith_kind(v.kind))

    def v_Compare(self, node):
        if len(node.ops) != 1 or type(node.ops[0]) not in _CMP:
            raise NotFused("a chained or identity comparison")
        op = _CMP[type(node.ops[0])]
        a, b = self.value(node.left), self.value(node.comparators[0])
        return self.elementwise(lambda x, y: f"({x} {op} {y})", [a, b], "b", skind="b")

    def lazy(self, node) -> Scalar:
        """A scalar operand Python may not evaluate (a branch of `a if c else b`, the right of and/or):
        its checks and loops go into the branch that evaluates it (`branch`)."""
        v = self.value(node)
        if not isinstance(v, Scalar):
            raise NotFused("a conditional expression or and/or on arrays")
        return v

    def branch(self, head: str, node, result: str, orelse=None) -> tuple:
        """Emit `if head: result = <node>` [`else: result = <orelse>`]; the values' Scalars, and whether
        any statement was needed besides the assignments."""
        em = self.em
        start = len(em.lines)
        vals = []
        for _k, (line, part) in enumerate(((f"if {head}:", node), ("else:", orelse))):
            if part is None:
                continue
            em.emit(line)
            em.depth += 1
            n = len(em.lines)
            v = self.lazy(part)
            em.emit(f"{result} = {v.src}")
            em.depth -= 1
            vals.append((v, len(em.lines) - n > 1))
        return [v for v, _ in vals], any(s for _, s in vals), start

    def v_BoolOp(self, node):
        first = self.lazy(node.values[0])
        r = self.em.fresh("v")
        self.em.emit(f"{r} = {first.src}")
        start, simple, kinds, srcs = len(self.em.lines) - 1, True, [first.kind], [first.src]
        for part in node.values[1:]:
            head = r if isinstance(node.op, ast.And) else f"not {r}"
            (v,), stmts, _ = self.branch(head, part, r)
            simple, kinds, srcs = simple and not stmts, kinds + [v.kind], srcs + [v.src]
        if simple:  # nothing to keep lazy: the expression as written
            del self.em.lines[start:]
            op = " and " if isinstance(node.op, ast.And) else " or "
            return Scalar("(" + op.join(srcs) + ")", same_kind(*kinds))
        return Scalar(r, same_kind(*kinds))

    def v_IfExp(self, node):
        t = self.value(node.test)
        if not isinstance(t, Scalar):
            raise NotFused("a conditional expression on arrays")
        r = self.em.fresh("v")
        (a, b), stmts, start = self.branch(t.src, node.body, r, node.orelse)
        if not stmts:
            del self.em.lines[start:]
            return Scalar(f"({a.src} if {t.src} else {b.src})", same_kind(a.kind, b.kind))
        return Scalar(r, same_kind(a.kind, b.kind))

    def v_Attribute(self, node):
        if _module_name(node.value, self):
            if isinstance(
                getattr(np if self.modules[node.value.id] == "numpy" else math, node.attr, None), float
            ):
                return Scalar(ast.unparse(node), "f")  # np.pi, math.inf, ...
            raise NotFused(f"the attribute {ast.unparse(node)}")
        base = self.value(node.value)
        if isinstance(base, Arr):
            if node.attr == "T":
                if len(base.shape) == 1:
                    return base
                if len(base.shape) != 2:
                    raise NotFused(".T of rank > 2")
                return Arr(
                    base.shape[::-1],
                    lambda idx, em, b=base: b.elem(idx[::-1], em),
                    base.kind,
                    None,
                    base.reads,
                )
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
            if (
                isinstance(base, Arr)
                and isinstance(k, ast.Constant)
                and isinstance(k.value, int)
                and -len(base.shape) <= k.value < len(base.shape)
            ):
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
            return self.numpy_call(name, args)
        if isinstance(f, ast.Name) and f.id == "len" and len(args) == 1 and isinstance(args[0], Arr):
            return Scalar(_dim_src(args[0].shape[0]), "i")
        if all(isinstance(a, Scalar) for a in args) and isinstance(f, (ast.Name, ast.Attribute)):
            return self.checked_call(f, args, self.call_kind(f, args))
        raise NotFused(f"the call {ast.unparse(f)}(...)")

    def numpy_call(self, name: str, args: list):
        """`np.<name>(*args)`: an elementwise function, `where`, a contraction or a reduction."""
        if name in UNARY and len(args) == 1:
            return self.unary(name, args[0])
        if name in BINARY and len(args) == 2:
            return self.binary(name, args)
        if name == "where" and len(args) == 3:
            skind = same_kind(args[1].kind, args[2].kind)
            skind = skind if skind != "?" else arith_kind(args[1].kind, args[2].kind)
            return self.elementwise(
                lambda c, x, y: f"({x} if {c} else {y})", args, "f", bool_at=0, skind=skind
            )
        if name in ("dot", "matmul", "vdot", "inner") and len(args) == 2:
            if name in ("vdot", "inner") and not all(isinstance(a, Arr) and len(a.shape) == 1 for a in args):
                raise NotFused(f"np.{name} beyond vectors")
            return self.contract(*args)
        if name in REDUCTIONS and len(args) == 1 and isinstance(args[0], Arr):
            return self.reduce(name, args[0])
        raise NotFused(f"np.{name}")

    def unary(self, name: str, arg):
        """`np.<name>(arg)` element by element; a transcendental one on an array is staged where it can
        be (NOTE [staging]), else counted against the lowering (`Fused.transcendental`)."""
        if isinstance(arg, Arr) and _transcendental(name):
            staged = self.stage_site(name, arg)
            if staged is not None:
                return staged
            self.transcendental += 1
        fn = {"absolute": "abs", "fabs": "abs"}.get(name, name)
        k = arg.kind
        skind = arith_kind(k) if name in ("abs", "absolute", "negative", "square", "sign") else float_kind(k)
        if name == "reciprocal" and k != "f":
            raise NotFused("np.reciprocal of a number that may be an integer")
        if name in ("square", "reciprocal"):
            form = (lambda x: f"({x} * {x})") if name == "square" else (lambda x: f"(1.0 / {x})")
            return self.elementwise(form, [arg], "f", skind=skind)
        return self.elementwise(lambda x: f"_av_np.{fn}({x})", [arg], "f", skind=skind)

    def binary(self, name: str, args: list):
        """`np.<name>(a, b)` element by element (a transcendental one on arrays counted, as in `unary`)."""
        if any(isinstance(a, Arr) for a in args) and _transcendental(name):
            self.transcendental += 1
        kinds = [a.kind for a in args]
        skind = (
            arith_kind(*kinds)
            if name in ("maximum", "minimum", "fmax", "fmin", "add", "subtract", "multiply")
            else float_kind(*kinds)
        )
        if name == "power":
            skind = "f" if arith_kind(*kinds) == "f" else "?"
            if all(isinstance(a, Scalar) for a in args) and skind != "f":
                raise NotFused("np.power of numbers that may be integers (negative powers raise)")
        return self.elementwise(lambda x, y: f"_av_np.{name}({x}, {y})", args, "f", skind=skind)


def _transcendental(name: str) -> bool:
    """Does NumPy's `name` call libm per element (its rule's "transcendental" trait, NOTE [rule traits])?
    NumPy runs those with SIMD on whole arrays; a scalar loop calls libm once per element and loses
    (measured: neuron D=5, tanh on 3 elements per example: fused loop 5.7 ms, hand NumPy 4.0 ms, B=100k,
    one thread)."""
    return registry.has(getattr(np, name, None), "transcendental")
