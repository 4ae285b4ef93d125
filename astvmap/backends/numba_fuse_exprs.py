"""Expressions of the allocation-free lowering (numba_fuse.py): each Python expression node becomes a
`Scalar` (a source expression) or an `Arr` view, or raises NotFused."""
from __future__ import annotations

import ast
import math

import numpy as np

from .numba_fuse_values import (
    _CMP,
    _OPS,
    BINARY,
    REDUCTIONS,
    TRANSCENDENTAL,
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
_MATH_INT = {"floor", "ceil", "trunc", "factorial", "gcd", "comb", "perm", "isqrt"}
_MATH_BOOL = {"isnan", "isinf", "isfinite", "isclose"}


class Expressions(ArrayOps):
    def call_kind(self, f, args) -> str:
        """The kind of a call of numbers passed through to Numba (NOTE [kinds])."""
        kinds = [a.kind for a in args]
        if isinstance(f, ast.Name) and self.env.get(f.id) is None:
            if f.id in _BUILTIN_KINDS and len(args) == 1:
                return _BUILTIN_KINDS[f.id]
            if f.id in ("abs", "min", "max"):
                return arith_kind(*kinds) if f.id == "abs" else same_kind(*kinds)
            return "?"
        if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and self.modules.get(f.value.id) == "math":
            if f.attr in _MATH_BOOL:
                return "b"
            return "i" if f.attr in _MATH_INT else float_kind(*kinds)
        return "?"

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
        if op == "/":
            skind = float_kind(a.kind, b.kind)
        elif op == "**":                    # int ** negative int is a float in Python
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
        return self.elementwise(lambda x: f"({op}{x})", [v], v.kind, skind=arith_kind(v.kind))

    def v_Compare(self, node):
        if len(node.ops) != 1 or type(node.ops[0]) not in _CMP:
            raise NotFused("a chained or identity comparison")
        op = _CMP[type(node.ops[0])]
        a, b = self.value(node.left), self.value(node.comparators[0])
        return self.elementwise(lambda x, y: f"({x} {op} {y})", [a, b], "b", skind="b")

    def v_BoolOp(self, node):
        vals = [self.value(v) for v in node.values]
        if any(not isinstance(v, Scalar) for v in vals):
            raise NotFused("and/or on arrays")
        op = " and " if isinstance(node.op, ast.And) else " or "
        return Scalar("(" + op.join(v.src for v in vals) + ")", same_kind(*(v.kind for v in vals)))

    def v_IfExp(self, node):
        t, a, b = self.value(node.test), self.value(node.body), self.value(node.orelse)
        if not all(isinstance(v, Scalar) for v in (t, a, b)):
            raise NotFused("a conditional expression on arrays")
        return Scalar(f"({a.src} if {t.src} else {b.src})", same_kind(a.kind, b.kind))

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
                k = args[0].kind
                skind = arith_kind(k) if name in ("abs", "absolute", "negative", "square", "sign") else float_kind(k)
                if name == "reciprocal" and k != "f":
                    raise NotFused("np.reciprocal of a number that may be an integer")
                if name in ("square", "reciprocal"):
                    form = (lambda x: f"({x} * {x})") if name == "square" else (lambda x: f"(1.0 / {x})")
                    return self.elementwise(form, args, "f", skind=skind)
                return self.elementwise(lambda x: f"_av_np.{fn}({x})", args, "f", skind=skind)
            if name in BINARY and len(args) == 2:
                if any(isinstance(a, Arr) for a in args) and name in TRANSCENDENTAL:
                    self.transcendental += 1
                kinds = [a.kind for a in args]
                skind = (arith_kind(*kinds) if name in ("maximum", "minimum", "fmax", "fmin", "add", "subtract",
                                                         "multiply") else float_kind(*kinds))
                if name == "power":
                    skind = "f" if arith_kind(*kinds) == "f" else "?"
                return self.elementwise(lambda x, y: f"_av_np.{name}({x}, {y})", args, "f", skind=skind)
            if name == "where" and len(args) == 3:
                skind = same_kind(args[1].kind, args[2].kind)
                skind = skind if skind != "?" else arith_kind(args[1].kind, args[2].kind)
                return self.elementwise(lambda c, x, y: f"({x} if {c} else {y})", args, "f", bool_at=0,
                                        skind=skind)
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
            return Scalar(f"{ast.unparse(f)}({', '.join(a.src for a in args)})", self.call_kind(f, args))
        raise NotFused(f"the call {ast.unparse(f)}(...)")

