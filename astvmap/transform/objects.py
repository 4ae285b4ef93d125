"""Objects of plain classes made in the function (NOTE [objects]).

NOTE [objects]
`at(x, idx)` of a class whose instances `object.__new__` makes and whose `__init__` is Python code, called
with batched arguments, makes the object as Python does: `av__.new_object(at)`, then `__init__` rewritten
like any function, as one that returns its `self` (`made_by_init`). Its `self.name = v` statements are
followed one by one: the object is a RECORD Val of its class, keyed by attribute in the order `__init__`
sets them. Its attributes are read by name, its class's other attributes (constants, methods,
properties) from the class (a dependency, as a global is), and `obj.method(y)` is the class's function
called with the object first; so is `obj[i]`, Python's `type(obj).__getitem__(obj, i)` (a subscript asks
nothing else of the object), and `type(obj)` is its class. Only `__init__`'s own statements set attributes: a method that sets one,
or an `__init__` that gives `self` to something else, runs per example, where each example gets its own
copy of the object (`runtime_loops`). A class that decides its attributes itself (`__setattr__`,
`__getattr__`, a metaclass) or is a record (NOTE [pytrees]) is a call like any other.
"""

from __future__ import annotations

import ast
import copy
import dataclasses
import inspect
import types

from ..errors import NoPieceLoop
from ..frontend.source import FunctionSource, function_source
from ..kit.classes import plain_class, vars_of
from ..rules.values import Kind, Operand, Val, container, placed
from .callsites import _call
from .walker import Walker


def made_by_init(src: FunctionSource, cls: type) -> FunctionSource | None:
    """`__init__` as a function that returns the object it sets up (each `return` of its own, and its end,
    return `self`), named for its class; None where it binds `self` anew, has no `self`, calls `super()`
    (its class cell is the class body's) or changes an attribute in place (`self.v += 1` writes into
    what `v` held)."""
    if src.code is not None and "__class__" in src.code.co_freevars:
        return None
    if any(isinstance(n, ast.AugAssign) and isinstance(n.target, ast.Attribute) for n in ast.walk(src.fdef)):
        return None
    fdef = copy.deepcopy(src.fdef)
    fdef.name = f"{cls.__name__}_init"
    params = [*fdef.args.posonlyargs, *fdef.args.args]
    if not params:
        return None
    me = params[0].arg
    if any(
        isinstance(n, ast.Name) and n.id == me and not isinstance(n.ctx, ast.Load) for n in ast.walk(fdef)
    ):
        return None
    for n in _own_nodes(fdef):
        if isinstance(n, ast.Return):
            n.value = ast.copy_location(ast.Name(me, ast.Load()), n)
    end = ast.Return(ast.Name(me, ast.Load()))
    fdef.body.append(ast.copy_location(end, fdef.body[-1]))
    ast.fix_missing_locations(fdef)
    return dataclasses.replace(src, fdef=fdef, code=None, made_object=me)


def _own_nodes(fdef: ast.FunctionDef):
    """The nodes of `fdef`'s own code (not of the functions and lambdas it defines)."""
    todo: list[ast.AST] = list(fdef.body)
    while todo:
        n = todo.pop()
        yield n
        if not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            todo.extend(ast.iter_child_nodes(n))


def with_attribute(v: Val, name: str, value: Val) -> Val:
    """The RECORD Val of an object after `obj.name = value`."""
    keys = list(v.keys or ())
    elts = list(v.elts or ())
    if name in keys:
        elts[keys.index(name)] = value
    else:
        keys.append(name)
        elts.append(value)
    return container(Kind.RECORD, elts, keys, v.cls)


def made_object(v: Val) -> bool:
    """Is `v` the Val of an object of a plain class made in the code (NOTE [objects])?"""
    return v.kind == Kind.RECORD and v.cls is not None and plain_class(v.cls)


def refuse_protocol(ctx, vals, what: str) -> None:
    """An operator, a builtin, iteration, truth or a call that Python would answer with the class's own
    special methods (`__add__`, `__iter__`, `__bool__`, `__call__`): given an object made in the code,
    they would run on its whole-batch attributes, so the statement runs per example."""
    if any(made_object(v) for v in vals):
        raise ctx.fail(
            f"{what} of an object made in the function (its class's own methods would run on the whole batch)"
        )


class ObjectsMixin(Walker):
    """Needs from the walker: ctx, env, code_name(), bound_params(), call_object(), static_attribute()."""

    def construct(self, cls: type, args: list[Operand], kwargs: dict[str, Operand], node) -> Operand | None:
        """`cls(*args, **kwargs)` with batched arguments: the object, made as Python makes it, with its
        `__init__` rewritten (None where that cannot be: the call is then one like any other)."""
        ctx = self.ctx
        init = vars_of(cls, "__init__")
        made = made_by_init(function_source(init), cls)
        if made is None:  # (each example's object would flow on: only the whole loop makes them)
            raise NoPieceLoop(f"an object of `{cls.__name__}` whose `__init__` cannot be followed", node)
        ctx.deps.append(("attr", cls, "__init__", init))  # (a class may be given another `__init__`)
        new = Operand(
            ctx.expr("av__.new_object(c)", c=ctx.bind(cls, cls.__name__)), container(Kind.RECORD, [], [], cls)
        )
        vals = self.bound_params(made, [new, *args], kwargs, node)
        spec = ctx.specializer.core(made, vals, ctx)
        ctx.loops_inside += spec.loops_inside
        ctx.batched_work += 1
        ctx.value_errors += getattr(spec, "raises_by_value", True)
        callee = ctx.bind(spec.fn, f"{made.name}_vmap")
        return Operand(_call(callee, [new, *args], kwargs), spec.out_val)

    def object_store(self, target: ast.Attribute, value: Operand) -> ast.expr:
        """`self.name = v` in a rewritten `__init__`: the object's attribute, followed."""
        assert isinstance(target.value, ast.Name)  # (the caller checks)
        me = target.value.id
        v = self.env.get(me)
        if v is None or v.kind != Kind.RECORD:
            raise self.ctx.fail("an attribute set on an object whose attributes are not known")
        self.env[me] = with_attribute(v, target.attr, placed(value))
        return ast.Attribute(ast.Name(self.code_name(me), ast.Load()), target.attr, ast.Store())

    def object_method(self, node, base: Operand, attr: str, args, kwargs) -> Operand | None:
        """`obj.method(*args)` of an object made in the code: the class's function, the object first
        (a static or class method without it); None for an attribute the class does not define so."""
        cls = base.val.cls
        assert cls is not None  # (made_object checked)
        found = inspect.getattr_static(cls, attr, None)
        fn = found.__func__ if isinstance(found, (staticmethod, classmethod)) else found
        if not isinstance(fn, types.FunctionType):
            return None
        if "__class__" in fn.__code__.co_freevars:  # (`super()` reads the class body's cell)
            raise self.ctx.fail(f"the method `{attr}` of an object made in the function calls super()")
        self.ctx.deps.append(("attr", cls, attr, getattr(cls, attr)))
        fn_node = self.ctx.bind(fn, f"{cls.__name__}_{attr}")
        first = [] if isinstance(found, staticmethod) else [base]
        if isinstance(found, classmethod):
            first = [Operand(self.ctx.bind(cls, cls.__name__), Val(False, None, Kind.OTHER, obj=cls), cls)]
        return self.call_object(fn, fn_node, [*first, *args], kwargs, node)

    def object_item(self, node: ast.Subscript, base: Operand, index: Operand) -> Operand | None:
        """`obj[i]` of an object made in the code: its class's `__getitem__`, called as Python calls it
        (looked up on the class, never the instance); None where the class has no such function."""
        if isinstance(index.node, ast.Slice):  # (`obj[a:b]` gives `__getitem__` the slice object)
            parts = [
                p if p is not None else ast.Constant(None)
                for p in (index.node.lower, index.node.upper, index.node.step)
            ]
            made = _call(self.ctx.bind(slice, "slice"), [Operand(p, index.val) for p in parts], {})
            index = Operand(made, index.val, index.static)
        return self.object_method(node, base, "__getitem__", [index], {})

    def object_attribute(self, node: ast.Attribute, base: Operand) -> Operand | None:
        """`obj.name` of an object made in the code that is no attribute `__init__` set: a property's
        value, or the class's attribute (a dependency); None where the class has none."""
        cls = base.val.cls
        assert cls is not None  # (made_object checked)
        found = inspect.getattr_static(cls, node.attr, None)
        if isinstance(found, property) and isinstance(found.fget, types.FunctionType):
            if "__class__" in found.fget.__code__.co_freevars:
                raise self.ctx.fail(
                    f"the property `{node.attr}` of an object made in the function calls super()"
                )
            self.ctx.deps.append(("attr", cls, node.attr, found))
            return self.call_object(found.fget, self.ctx.bind(found.fget, node.attr), [base], {}, node)
        if isinstance(found, (types.FunctionType, staticmethod, classmethod)):
            # (a bound method held: each example's would flow on; only the whole loop makes them)
            raise NoPieceLoop(f"the method `{node.attr}` of an object made in the function, not called", node)
        if found is None or isinstance(found, property):
            return None
        if hasattr(found, "__get__"):
            return None  # (another descriptor)
        return self.static_attribute(ast.Attribute(base.node, node.attr, ast.Load()), cls, node.attr)
