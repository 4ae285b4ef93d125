"""NOTE [constants]: what a rewrite may compute while it rewrites.

A Val may carry its value (`Val.const`): a number, a string, None or a tuple of them that is the same on
every call its specialization serves. Constants come from literals, from the defaults of parameters left
out, from globals and closure cells (each read is a dependency whose signature holds the value:
specialize.signature), and from a caller's literal arguments (part of the callee's cache key). They
never come from the top-level call's arguments: a new value there would be a new rewrite.

Python computes what constants decide: operators on constants, `is` between objects known when
rewriting, `not` and `bool` of values whose truth the rewrite knows (a tuple of known length, None),
and calls of functions that only compute on their arguments (`isinstance`, `len`, `operator`, `math`,
NumPy's dtype functions, `np.any`/`np.all`, and any `functools.cache`/`lru_cache` function: caching is its author's word
that a call depends on its arguments alone) when every argument is known. An `if` or a conditional
expression whose test is known takes one path, and the other is never rewritten; `a and b` with `a`
known never rewrites `b` when Python would not evaluate it. That is how a library's input validation
(`if b is not None`, `if axis is None`, `if not SCIPY_ARRAY_API`, `if is_torch_array(x)`) takes the
path NumPy arrays take. The generated code keeps every expression as written: folding only decides.
"""

from __future__ import annotations

import ast
import builtins
import enum
import functools
import inspect
import itertools
import math
import operator
import types
import typing
import warnings
from dataclasses import replace

import numpy as np

from ..rules.values import (
    Kind,
    Operand,
    Val,
    const_key,
    constant,
    container,
    dtypes_of,
    held,
    is_constant,
    list_item,
    val_of,
)

# Builtins that only compute on their arguments (no I/O, no changes, no calls of what they are given
# beyond `__eq__`/`__hash__`-like protocol methods of known objects).
_PURE_BUILTINS = frozenset(
    getattr(builtins, n)
    for n in [
        "abs",
        "bool",
        "callable",
        "complex",
        "divmod",
        "float",
        "frozenset",
        "int",
        "isinstance",
        "issubclass",
        "len",
        "max",
        "min",
        "range",
        "repr",
        "round",
        "str",
        "tuple",
        "type",
    ]
)
_PURE_OTHERS = frozenset(
    (np.dtype, np.result_type, np.promote_types, np.issubdtype, np.isdtype, np.can_cast, np.iinfo, np.finfo)
    + (typing.cast, np.iterable, np.isscalar, np.ndim, np.any, np.all)
)
_PURE_MODULES = ("operator", "math", "_operator")
# `operator`'s functions that change their first argument (`operator.setitem`, `operator.iadd`)
_CHANGING = frozenset(("setitem", "delitem", "iconcat"))


def pure(fn) -> bool:
    """Does a call of `fn` depend on its arguments alone, and change nothing?"""
    try:
        if fn in _PURE_BUILTINS or fn in _PURE_OTHERS:
            return True
    except TypeError:  # (an object that cannot be hashed)
        return False
    if isinstance(fn, functools._lru_cache_wrapper):
        return True
    if not isinstance(fn, (types.BuiltinFunctionType, types.FunctionType)):
        return False  # (`operator.methodcaller("fill", 0)` calls what it was made with)
    name = getattr(fn, "__name__", "")
    changing = name in _CHANGING or (name.startswith("i") and hasattr(operator, name[1:]) and name != "index")
    return getattr(fn, "__module__", None) in _PURE_MODULES and not changing


def fold_call(fn, node: ast.expr, args: list[Operand], kwargs: dict[str, Operand]) -> Operand | None:
    """The call `node` of a pure `fn` on arguments all known when rewriting: its value, computed now;
    None where an argument is not known, `fn` is not pure, or the call raises (it raises when it runs,
    as the loop's does)."""
    if not pure(fn):
        return None
    found = [_choices(a) for a in [*args, *kwargs.values()]]
    choices = [c for c in found if c is not None]
    if len(choices) != len(found) or math.prod(len(c) for c in choices) > _MOST:
        return None
    values = []
    for picked in itertools.product(*choices):
        try:
            values.append(fn(*picked[: len(args)], **dict(zip(kwargs, picked[len(args) :]))))
        except Exception:
            return None
    return _agreed(node, values)


# What `inspect.signature(f)` and `inspect.getfullargspec(f)` of a Python function read of it: the
# answer is computed now and holds while each of these is the object it was (`ABSENT`: still not there)
_SIGNATURE_READS = (
    "__code__",
    "__defaults__",
    "__kwdefaults__",
    "__annotations__",
    "__wrapped__",
    "__signature__",
)
ABSENT = object()  # an attribute a rewrite found missing (specialize._valid: it must still be)


def fold_introspection(fn, args: list[Operand], kwargs: dict[str, Operand]) -> tuple[object, list] | None:
    """`inspect.signature(f)` or `inspect.getfullargspec(f)` of a function `f` known when rewriting:
    its answer now (both are immutable objects), with the attribute reads it depends on as
    `[(f, attr, value)]`; None for anything else (a class, a partial, a builtin: `inspect` reads more
    of those)."""
    if fn not in (inspect.signature, inspect.getfullargspec) or len(args) != 1 or kwargs:
        return None
    f = args[0].static if args[0].is_static else None
    chain: list[
        types.FunctionType
    ] = []  # (`inspect` follows `__wrapped__`: each function it reaches is read)
    while isinstance(f, types.FunctionType) and len(chain) < 16:
        chain.append(f)
        f = getattr(f, "__wrapped__", None)
    if not chain or f is not None:
        return None  # (a class, a partial, a builtin on the way: `inspect` reads more of those)
    try:
        value = fn(chain[0])
    except Exception:
        return None  # (it raises when it runs, as the loop's does)
    return value, [(g, attr, getattr(g, attr, ABSENT)) for g in chain for attr in _SIGNATURE_READS]


def snapshot(obj) -> Val:
    """The Val of a value a fold made now (an introspection's answer): its constants known, and its
    lists' and dicts' items one by one, as a display's are (nothing else holds them yet); a list or dict
    inside a tuple is seen as a holder sees it (`held`: changed through `spec.args`, not followed)."""
    if is_constant(obj):
        return constant(obj)
    if type(obj) is list:
        v = container(Kind.LIST, [snapshot(o) for o in obj])
        return v.with_(item=list_item(v))
    if type(obj) is tuple or isinstance(getattr(type(obj), "_fields", None), tuple):
        cls = None if type(obj) is tuple else type(obj)
        return container(Kind.TUPLE, [held(snapshot(o)) for o in obj], cls=cls)
    if isinstance(obj, (dict, types.MappingProxyType)) and all(is_constant(k) for k in obj):
        return container(Kind.DICT, [snapshot(o) for o in obj.values()], obj.keys())
    return val_of(obj)


def fold_attribute(node: ast.expr, base: Operand, attr: str) -> Operand | None:
    """An attribute of a dtype known by its kind (`x.dtype.kind`, `x.dtype.names`) where every dtype of
    that kind agrees on it."""
    choices = dtypes_of(base.val)
    if choices is None:
        return None
    try:
        return _agreed(node, [getattr(d, attr) for d in choices])
    except AttributeError:
        return None


_MOST = 64  # the most combinations of dtypes a fold tries


def _choices(a: Operand) -> tuple | None:
    """The values operand `a` may have: one when it is known; each dtype of its kind when it is a dtype
    known by its kind; None when it may be anything (or must not be given to a function now)."""
    if a.is_static or a.val.is_const:
        value = _value(a)
        return (value,) if _foldable_arg(value) else None
    if a.val.choices is not None and not a.val.batched:
        return a.val.choices
    return dtypes_of(a.val)


def _agreed(node: ast.expr, values: list) -> Operand | None:
    """The constant every value equals (or the one object they all are), else None."""
    first = values[0]
    if isinstance(first, np.bool_) and all(v is first for v in values):  # (`np.any(False)`: NumPy's own)
        return Operand(node, replace(val_of(first), const=first), first)
    if all(v is first for v in values):
        return Operand(node, _value_val(first), first)
    if is_constant(first) and all(const_key(v) == const_key(first) for v in values):
        return Operand(node, constant(first), first)
    if not all(_foldable_arg(v) for v in values):
        return None
    return Operand(node, Val(False, None, Kind.OTHER, choices=tuple(values)))  # (one of them, each call)


def _value_val(obj) -> Val:
    """The Val of a fold's answer: a constant's, or a tuple's of what it holds, each of its constants
    known (`_cls_to_namespace(type(x))`'s `(xp, info)`: a tuple cannot change); anything else's as
    `val_of` sees it (a cached list may be changed by its next reader)."""
    if is_constant(obj):
        return constant(obj)
    if type(obj) is tuple:
        return container(Kind.TUPLE, [_value_val(o) for o in obj])
    return val_of(obj)


def _value(a: Operand):
    return a.val.const if a.val.is_const else a.static


def _foldable_arg(obj) -> bool:
    # what a pure function may be given now: values that cannot change (not an array, not a list)
    immutable = (type, np.dtype, tuple, range, types.ModuleType)
    return is_constant(obj) or isinstance(obj, immutable) or callable(obj)


def fold(node: ast.expr, fn, operands: list[Operand]) -> Operand | None:
    """An operator on constants is a constant: Python computes it now; None where an operand is not
    one, the operation raises (it raises when it runs, as the loop's does) or its result is not one."""
    if not all(o.val.is_const for o in operands):
        return None
    values = [o.val.const for o in operands]
    if fn in (operator.pow, operator.lshift) and not all(_small(a) for a in values):
        return None  # (`10 ** 10 ** 9` is computed when it runs, if ever)
    try:
        value = fn(*values)
    except Exception:
        return None
    return Operand(node, constant(value), value) if is_constant(value) else None


# Python's comparisons on values (the rules' too: expressions.py)
CMPOPS = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}
_COMPARE = {
    **CMPOPS,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
    ast.Is: lambda a, b: _same(a, b),
    ast.IsNot: lambda a, b: not _same(a, b),
}


def _same(a, b) -> bool:
    """`a is b` where that identity is what the code compares (not CPython's sharing of equal constants)."""
    if not (_identity_known(a) and _identity_known(b)):
        raise TypeError("identity not known")  # (not folded)
    return a is b


def fold_compare(node: ast.Compare, ops, operands: list[Operand]) -> Operand | None:
    """A comparison of constants, or `is`/`is not` of two objects known when rewriting (`info is
    Info.numpy`, `xp is np`): identity needs no value semantics, so any objects will do."""
    if len(ops) == 1 and isinstance(ops[0], (ast.Is, ast.IsNot)):
        a, b = operands
        same = None
        if a.val.kind == Kind.NONE and b.val.kind == Kind.NONE:
            same = True  # (None is one object)
        elif Kind.NONE in (a.val.kind, b.val.kind) and never_none(
            b.val if a.val.kind == Kind.NONE else a.val
        ):
            same = False  # (`x.dtype is None`: a value of a kind that is never None)
        elif a.is_static and b.is_static and _identity_known(a.static) and _identity_known(b.static):
            same = a.static is b.static
        if same is not None:
            value = same if isinstance(ops[0], ast.Is) else not same
            return Operand(node, constant(value), value)
    if not all(o.val.is_const for o in operands):
        return None
    value = True
    try:
        for op, a, b in zip(ops, operands, operands[1:]):
            value = _COMPARE[type(op)](a.val.const, b.val.const)
            if not value:
                break
    except Exception:
        return None
    return Operand(node, constant(value), value) if is_constant(value) else None


def _identity_known(obj) -> bool:
    """Is `obj`'s identity what the code compares (a singleton, a class, a module, a function, an enum
    member), not an accident of CPython's constants (`1000 is 1000` within one code object)?"""
    if obj is None or obj is Ellipsis or obj is NotImplemented or isinstance(obj, bool):
        return True
    return isinstance(obj, (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, enum.Enum))


def never_none(v: Val) -> bool:
    """Is no value of Val `v` None: an array, a number, a container, a module, a function, a dtype?"""
    if v.or_none is not None or v.kind == Kind.UNBOUND:
        return False
    if v.kind in (Kind.ARRAY, Kind.SCALAR, Kind.TUPLE, Kind.LIST, Kind.DICT, Kind.MODULE):
        return True
    return dtypes_of(v) is not None or (v.kind == Kind.CALLABLE and v.obj is not None)


def _small(x) -> bool:
    return not isinstance(x, int) or abs(x) <= 1 << 16


def facts_of_call(fn, args: list[Operand], kwargs: dict[str, Operand]):
    """The Val of NumPy function `fn`'s result on small constant arguments (`np.asarray(1.0)`: a 0-d
    float array), from running it now; never its value (an array may change). None where an argument
    is not a small constant, or the call raises."""
    operands = [*args, *kwargs.values()]
    if not all(o.val.is_const and _small_constant(o.val.const) for o in operands):
        return None
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = fn(*(a.val.const for a in args), **{k: a.val.const for k, a in kwargs.items()})
    except Exception:
        return None
    return val_of(out) if isinstance(out, (np.ndarray, np.generic)) else None


def _small_constant(x) -> bool:
    # (a constant whose NumPy result is small: no `np.zeros(10 ** 9)` while rewriting)
    if isinstance(x, tuple):
        return len(x) <= 32 and all(_small_constant(e) for e in x)
    return (_small(x) and not isinstance(x, (str, bytes))) or (isinstance(x, str) and len(x) <= 64)


def evaluated(test: ast.expr) -> list[ast.stmt]:
    """A decided test that calls something or binds a name (`(k := 2.0) > 1`), as a statement of its
    own: Python evaluates it (it may raise, act or bind), whatever the path; nothing for a test that only
    reads."""
    return [ast.Expr(test)] if calls_something(test) else []


def calls_something(node: ast.expr) -> bool:
    """Does evaluating `node` call something or bind a name?"""
    return any(isinstance(n, (ast.Call, ast.NamedExpr)) for n in ast.walk(node))


TERMINAL = (ast.Return, ast.Raise, ast.Break, ast.Continue)
_ENDS = "_astvmap_ends_path"  # on a generated statement after which its path never goes on


def ends_path(stmt: ast.stmt) -> ast.stmt:
    """Mark generated `stmt` as one after which its path never goes on, whatever the values: it always
    raises (a call whose arguments do not fit, an item a known dict does not hold), or every path
    through it ends (a `try` whose body raises and whose handlers return)."""
    setattr(stmt, _ENDS, True)
    return stmt


def path_ends(code: list[ast.stmt]) -> bool:
    """Does generated `code` end its path: a return, a raise, a jump, a statement marked `ends_path`?"""
    return bool(code) and (isinstance(code[-1], TERMINAL) or getattr(code[-1], _ENDS, False))
