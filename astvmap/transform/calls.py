"""Calls: rule dispatch, user helper functions, local lambdas (lambda-lifted), nested vmap, fallback.

The dispatcher passes a call with no batched operand through unchanged (asking the rule's abstract
evaluation for the result's Val, `_infer`); a call with a rule goes to the rule; a Python function with source is transformed for
the pattern of batched arguments (cached); anything else runs as a per-example loop with a
`PerformanceWarning` at the user's line (DESIGN "Fallback").
"""

from __future__ import annotations

import ast
import functools
import operator
import os
import sysconfig
import types

import numpy as np

from ..analysis.aliases import sources
from ..errors import NoPieceLoop, NotBatchable
from ..frontend.source import callable_object
from ..kit import templates
from ..rules.registry import lookup
from ..rules.values import (
    NO_STATIC,
    UNKNOWN,
    Kind,
    MaskedSelection,
    Operand,
    Val,
    container,
    join,
    list_item,
    val_of,
)
from .callsites import CallSite, InnerVmap, LocalPartial, _call, _hint, _rebuilder
from .expressions import LocalFunction
from .nesting import NestingMixin

# Code never rewritten: the standard library, installed packages, and astvmap's runtime helpers (they have
# rules or run as a loop; rewriting them would batch our own bookkeeping).
_LIBRARY_DIRS = tuple({sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")})
_OWN = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# astvmap's helpers, never rewritten: each has a batching rule (tests/test_runtime_rules.py), or a call
# of it runs as the loop
_RUNTIME_FILES = {
    os.path.join(_OWN, f)
    for f in ("runtime.py", "runtime_lanes.py", "runtime_nested.py", "runtime_selection.py", "pynum.py")
}


_DISPATCHER = type(np.polyval)  # NumPy's __array_function__ dispatcher of a function


def numpy_implementation(fn: object) -> types.FunctionType | None:
    """NumPy's Python implementation of a function without a rule: a dispatcher's (`np.polyval`, which
    it calls for arrays that override nothing, NEP 18: ours are plain arrays) or one of NumPy's own
    helpers (`_isin`); None for anything else."""
    if lookup(fn) is not None:
        return None
    impl = getattr(fn, "__wrapped__", None) if isinstance(fn, _DISPATCHER) else fn
    if isinstance(impl, types.FunctionType) and (impl.__module__ or "").partition(".")[0] == "numpy":
        return impl
    return None


def is_library_file(filename: str) -> bool:
    """Is this an installed library's file (never astvmap's own)?"""
    return not filename.startswith(_OWN + os.sep) and filename.startswith(_LIBRARY_DIRS)


def is_library_code(fn) -> bool:
    """Whether calls to `fn` are never rewritten. astvmap's own files other than the runtime helpers'
    are rewritten wherever astvmap is installed (a wheel puts them among the installed packages): the
    benchmark workloads must batch under an enclosing vmap."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return True
    if code.co_filename.startswith(_OWN + os.sep):
        return code.co_filename in _RUNTIME_FILES
    return code.co_filename.startswith(_LIBRARY_DIRS) or code.co_filename.startswith("<frozen")


class CallsMixin(NestingMixin):
    # ---- dispatch ------------------------------------------------------------------------------------
    def apply(self, fn, args, kwargs, node, syntax=None, method=None, fn_node=None) -> Operand:
        ctx = self.ctx
        rebuild = _rebuilder(syntax if syntax is not None else node, fn_node, method)
        site = CallSite(fn, node, args, kwargs, rebuild, method)
        rule = lookup(fn)
        batched = any(a.batched for a in args) or any(a.batched for a in kwargs.values())
        if batched and (rule is None or "selections" not in rule.traits) and _reads_selection(args, kwargs):
            return self.fallback(site, _READS_SELECTION, fn_node)
        if rule is None:
            if not batched:
                return Operand(
                    rebuild([a.node for a in args], {k: a.node for k, a in kwargs.items()}), UNKNOWN
                )
            return self.fallback(site, "no batching rule for it", fn_node)
        if not batched and not rule.random:
            out = rebuild([a.node for a in args], {k: a.node for k, a in kwargs.items()})
            self._record(rule, site)
            return Operand(out, self._infer(rule, site))
        assert rule.signature is not None  # register() always sets it
        try:
            rule.signature.bind(ctx, *args, **kwargs)
        except TypeError:
            return self.fallback(site, "its batching rule does not take these arguments", fn_node)
        if fn is operator.getitem and len(args) == 2 and _is_mask_of(args[1], args[0]):
            return self.masked_selection(site, args[0], args[1])
        if _takes_arrays(rule, fn):
            args = [self._as_array(a) for a in args]
            kwargs = {k: self._as_array(a) for k, a in kwargs.items()}
            site = CallSite(fn, node, args, kwargs, rebuild, method)
        saved, ctx.call = ctx.call, site
        mark = ctx.mark()
        try:
            ctx.node = node
            result = rule.fn(ctx, *args, **kwargs)
        except NoPieceLoop:
            raise
        except NotBatchable as e:
            ctx.rollback(mark, pending=True)  # (what the rule emitted and recorded before it gave up)
            return self.fallback(site, e.msg, fn_node)
        finally:
            ctx.call = saved
        self._record(rule, site)
        return result

    def _record(self, rule, site: CallSite) -> None:
        """What a backend chooses by (NOTE [recorded facts]): a contraction, or a lane helper of generated
        code batched again (its own control flow)."""
        name = getattr(site.fn, "__name__", "?")
        if "contraction" in rule.traits:
            self.ctx.record_contraction(name, site.args)
        if "lanes" in rule.traits:
            self.ctx.record_control(name)

    def _infer(self, rule, site) -> Val:
        """The Val of an unbatched call: the rule's abstract evaluation (NOTE [abstract evaluation],
        rules/common.py) of the arguments bound to its signature; UNKNOWN where the rule declares none or
        the arguments do not fit (NumPy refuses them too)."""
        if rule.infer is None:
            return UNKNOWN
        try:
            bound = rule.signature.bind(self.ctx, *site.args, **site.kwargs)
        except TypeError:
            return UNKNOWN
        _, *named = bound.arguments.items()
        return rule.infer(site, **dict(named))

    def _as_array(self, op: Operand) -> Operand:
        """A batched list of per-example items (`list(x)`, a comprehension, appends) as NumPy reads it
        per example: its items stacked along per-example axis 0 (`av__.stack`; as a Python list of
        batched items NumPy would stack them along the batch's axis 0)."""
        v = op.val
        item = list_item(v) if v.kind == Kind.LIST and v.elts is None else None
        if not op.batched or item is None or not item.batched or item.kind not in (Kind.ARRAY, Kind.SCALAR):
            return op
        if item.ndim is None:
            raise self.ctx.fail("a list of per-example values of a rank not known, as an array")
        node = self.ctx.expr("av__.stack(xs, B)", xs=op.node, B=self.ctx.batch_size())
        return Operand(node, Val(True, item.ndim + 1, Kind.ARRAY, item.dtype))

    def masked_selection(self, site: CallSite, x: Operand, mask: Operand) -> Operand:
        """`x[mask]` of a batched mask of x's shape (NOTE [masked selections], runtime_selection.py): its
        length differs between examples, so it is a `Selection` of x and the mask as they are here.
        Reductions, sizes and elementwise arithmetic read it per lane; any other use runs as the loop,
        warned here unless a rule withdraws the warning."""
        ctx, node = self.ctx, site.node
        ctx.record_control("masked selection")
        self._note_loop(
            site,
            f"`{_shown(node)}` runs as a per-example loop: a selection whose length differs between examples",
            defer=True,
        )
        # per example `x[mask]` is a copy: the selection keeps its own copy of x and the mask, unless
        # the expression made them afresh (any later write, through any name or call, cannot reach them)
        fresh = (ast.BinOp, ast.UnaryOp, ast.Compare, ast.BoolOp)
        parts = (node.value, node.slice) if isinstance(node, ast.Subscript) else (None, None)
        cx, cm = (not isinstance(e, fresh) for e in parts)
        made = ctx.expr("av__.select_mask(x, m, cx, cm)", x=x.node, m=mask.node, cx=cx, cm=cm)
        key = (getattr(node, "lineno", 0), getattr(node, "col_offset", 0))
        sel = MaskedSelection(x.val.dtype, (key,))
        return Operand(made, Val(True, None, Kind.OTHER, selection=sel))

    def _note_loop(self, site: CallSite, msg: str, defer=False) -> None:
        """The bookkeeping of a per-example loop at `site`: its warning, its recorded fact, and with
        fallback="error" its error (`defer`: a later rule may still withdraw it)."""
        ctx, node = self.ctx, site.node
        if ctx.settings.fallback == "error" and not defer:
            raise ctx.error(msg + " (fallback='error')", node)
        where = (getattr(node, "lineno", 0), getattr(node, "col_offset", 0))
        if ctx.settings.fallback == "error":
            ctx.deferred_errors[where] = ctx.error(msg + " (fallback='error')", node)
        ctx.record_loop(where)
        if not ctx.src.generated:
            ctx.fallback_sites.setdefault(where, msg)

    def fallback(self, site: CallSite, reason: str, fn_node=None) -> Operand:
        """Run this one call as a per-example loop (correct; warns once per site)."""
        ctx = self.ctx
        node = site.node
        what = _shown(node) if isinstance(node, ast.AST) else str(site.fn)
        msg = f"`{what}` runs as a per-example loop: {reason}"
        if self._loop_may_break_a_view(node):
            raise ctx.fail(f"{msg}, and per example it may view an array that is written in place")
        self._note_loop(site, msg)
        if isinstance(node, ast.Attribute) and site.method is None and fn_node is None:
            # an attribute (`x.T`): per example, read it
            fn_expr = ctx.bind(operator.attrgetter(node.attr), f"get_{node.attr}")
        elif fn_node is not None and site.method is None:
            fn_expr = fn_node
        else:
            fn_expr = ctx.bind(site.fn, _hint(site.fn))
        args = ast.Tuple([_as_value(a.node) for a in site.args], ast.Load())
        flags = templates.const(tuple(batched_tree(a.val) for a in site.args))
        call = ctx.expr("av__.loop(f, B, args, flags)", f=fn_expr, B=ctx.batch_size(), args=args, flags=flags)
        assert isinstance(call, ast.Call)  # the template is a call
        if site.kwargs:
            call.args.append(
                ast.Dict([ast.Constant(k) for k in site.kwargs], [a.node for a in site.kwargs.values()])
            )
            call.args.append(
                ast.Dict(
                    [ast.Constant(k) for k in site.kwargs],
                    [ast.Constant(a.batched) for a in site.kwargs.values()],
                )
            )
        return Operand(call, Val(True, None, Kind.OTHER))

    def _loop_may_break_a_view(self, node) -> bool:
        """Per example `node`'s value may be a view of an operand's buffer (an index, a method, the
        user's function); the loop of it stacks copies. Where that buffer is written in place and the
        value is kept, the copy would miss the write, or the write the buffer: not one piece's loop."""
        facts = getattr(self, "facts", None)
        if facts is None or not isinstance(node, ast.expr) or self.ctx.src.generated:
            return False
        if isinstance(node, ast.Subscript) and not facts.aliases.is_held(node):
            return False  # consumed at once by an operator
        return any(facts.aliases.written(n) for n in sources(node))

    def attribute_rule(self, node, base: Operand) -> Operand:
        """`x.shape`, `x.T`, ... of a value: the attribute's rule, keyed by `np.ndarray`'s descriptor."""
        if base.val.kind in (Kind.ARRAY, Kind.SCALAR) or base.batched:
            fn = getattr(np.ndarray, node.attr, None)
            if fn is not None and lookup(fn) is not None:
                return self.apply(fn, [base], {}, node, syntax=node)
        if base.batched:
            raise self.ctx.fail(f"the attribute `.{node.attr}` of a batched value")
        return Operand(ast.Attribute(base.node, node.attr, ast.Load()), UNKNOWN)

    # ---- calls -----------------------------------------------------------------------------------
    def visit_Call(self, node):
        lowered = self.out_call(node)
        if lowered is not None:
            return lowered
        self.expand_written_argument(node)
        func = node.func
        if isinstance(func, ast.Attribute):
            base = self.expr(func.value)
            known = _known_object(base)
            if known is NO_STATIC:
                args, kwargs = self.call_args(node)
                self.ctx.node = node
                return self.method_call(node, base, func.attr, args, kwargs)
            try:
                obj = getattr(known, func.attr)
            except AttributeError:
                obj = NO_STATIC
            if obj is not NO_STATIC and base.val.kind != Kind.MODULE:
                self.ctx.deps.append(("attr", known, func.attr, obj))  # (it may be given a new value)
            callee = Operand(
                ast.Attribute(base.node, func.attr, ast.Load()),
                val_of(obj) if obj is not NO_STATIC else UNKNOWN,
                obj,
            )
        else:
            callee = self.expr(func)
        args, kwargs = self.call_args(node)
        self.ctx.node = node
        v = callee.val
        if v.kind == Kind.CALLABLE and isinstance(v.obj, (LocalFunction, InnerVmap)):
            return self.local_call(node, callee, v.obj, args, kwargs)
        if v.kind == Kind.CALLABLE and isinstance(v.obj, LocalPartial):
            return self.partial_call(node, callee, v.obj, args, kwargs)
        if not callee.is_static:
            if any(a.batched for a in args) or any(a.batched for a in kwargs.values()):
                site = CallSite(None, node, args, kwargs, _rebuilder(node, callee.node, None))
                return self.fallback(
                    site, "the function is not known when the code is rewritten", callee.node
                )
            return Operand(_call(callee.node, args, kwargs), UNKNOWN)
        return self.call_object(callee.static, callee.node, args, kwargs, node)

    def call_args(self, node):
        args = []
        for a in node.args:
            if isinstance(a, ast.Starred):
                inner = self.expr(a.value)
                if inner.val.elts is None:
                    if inner.batched:
                        raise self.ctx.fail("`*args` of unknown length holding batched values")
                    raise self.ctx.fail("`*args` of unknown length")
                args += [Operand(templates.index(inner.node, [i]), e) for i, e in enumerate(inner.val.elts)]
            else:
                args.append(self.expr(a))
        kwargs = {}
        for k in node.keywords:
            if k.arg is None:
                inner = self.expr(k.value)
                if inner.val.kind != Kind.DICT or inner.val.keys is None:
                    raise self.ctx.fail("`**kwargs` of unknown keys")
                assert inner.val.elts is not None  # a dict Val with known keys knows its elements
                for key, e in zip(inner.val.keys, inner.val.elts):
                    kwargs[key] = Operand(templates.index(inner.node, [key]), e)
            else:
                kwargs[k.arg] = self.expr(k.value)
        return args, kwargs

    def call_object(self, obj, fn_node, args, kwargs, node) -> Operand:
        if getattr(obj, "__astvmap_vmap__", False):
            return self.vmap_expr(node, fn_node, args, kwargs)
        if obj is functools.partial and args and args[0].is_static:
            made = LocalPartial(
                args[0].static, tuple(a.val for a in args[1:]), {k: a.val for k, a in kwargs.items()}
            )
            return Operand(_call(fn_node, args, kwargs), Val(False, None, Kind.CALLABLE, obj=made))
        if lookup(obj) is not None:
            return self.apply(obj, args, kwargs, node, fn_node=fn_node)
        method = _method_of(obj)
        if method is not None and isinstance(fn_node, ast.Attribute):
            # `rng.normal(...)`, `np.random.normal(...)`: the rule of the class's method, the receiver first
            receiver = Operand(fn_node.value, val_of(obj.__self__), obj.__self__)
            return self.apply(method, [receiver] + args, kwargs, node, method=fn_node.attr)
        batched = any(a.batched for a in args) or any(a.batched for a in kwargs.values())
        if getattr(obj, "__astvmap__", None) is not None:
            if not batched:
                return Operand(_call(fn_node, args, kwargs), UNKNOWN)
            return self.nested_call(node, InnerVmap(*obj.__astvmap__), args, kwargs)
        impl = numpy_implementation(obj)
        if impl is not None and batched and not _reads_selection(args, kwargs):
            done = self.library_call(impl, fn_node, args, kwargs, node)
            if done is not None:
                return done
        if (
            isinstance(obj, (functools.partial, types.MethodType))
            or (isinstance(obj, types.FunctionType) and not is_library_code(obj))
            or (callable_object(obj) and not is_library_code(type(obj).__call__))
        ):
            if _reads_selection(args, kwargs):
                site = CallSite(obj, node, args, kwargs, _rebuilder(node, fn_node, None))
                return self.fallback(site, _READS_SELECTION, fn_node)
            return self.user_call(obj, fn_node, args, kwargs, node, batched)
        if not batched:
            return Operand(_call(fn_node, args, kwargs), UNKNOWN)
        site = CallSite(obj, node, args, kwargs, _rebuilder(node, fn_node, None))
        return self.fallback(site, f"no batching rule for `{_hint(obj)}`", fn_node)

    def method_call(self, node, base: Operand, attr, args, kwargs) -> Operand:
        v = base.val
        if v.kind == Kind.LIST and attr in _MUTATORS:
            if not (isinstance(node.func.value, ast.Name) and node.func.value.id in self.env):
                # the loop would change it once per example; one batched call cannot
                raise self.ctx.fail(f"`.{attr}()` of a list from outside the function")
            if attr in ("append", "extend"):
                return self.list_mutation(node, base, attr, args)
            if attr == "sort" and v.batched:
                return self.sort_list(node, base, args, kwargs)
        if (
            v.kind in (Kind.DICT, Kind.OTHER)
            and attr in _MUTATORS | {"update", "setdefault", "add", "discard"}
            and not (isinstance(node.func.value, ast.Name) and node.func.value.id in self.env)
        ):
            raise self.ctx.fail(f"`.{attr}()` of an object from outside the function")
        if not v.batched and v.obj is not None and lookup(getattr(type(v.obj), attr, None)) is not None:
            return self.apply(getattr(type(v.obj), attr), [base] + args, kwargs, node, method=attr)
        if v.kind in (Kind.ARRAY, Kind.SCALAR) or (v.batched and v.kind == Kind.OTHER):
            fn = getattr(np.ndarray, attr, None)
            if fn is not None:
                return self.apply(fn, [base] + args, kwargs, node, method=attr)
        if (v.kind == Kind.DICT and not v.batched) or (not base.batched and not any(a.batched for a in args)):
            return Operand(
                _call(ast.Attribute(base.node, attr, ast.Load()), args, kwargs),
                self._container_method_val(v, attr, args),
            )
        raise self.ctx.fail(f"the method `.{attr}()` of a batched {v.kind.value}")

    def sort_list(self, node, base: Operand, args, kwargs) -> Operand:
        """`s.sort()` of a list of per-example numbers of one kind: every lane's items sorted as Python
        sorts them (`av__.sort_items`, in place: NumPy's stable sort, Python's own in a lane with NaN)."""
        ctx, item = self.ctx, list_item(base.val)
        reverse = kwargs.get("reverse")
        flag = False if reverse is None else reverse.static
        if args or set(kwargs) - {"reverse"} or not isinstance(flag, bool):
            raise ctx.fail("`list.sort()` with a key or a reverse= not known when rewriting")
        if (
            item is None
            or item.kind not in (Kind.ARRAY, Kind.SCALAR)
            or item.ndim != 0
            or item.dtype not in tuple("biuf")
        ):
            raise ctx.fail("`list.sort()` of items that are not numbers of one kind")
        self.env[node.func.value.id] = Val(True, None, Kind.LIST, item=item.with_(batched=True))
        call = ctx.expr("av__.sort_items(s, r)", s=base.node, r=flag)
        return Operand(call, Val(False, None, Kind.NONE))

    @staticmethod
    def _container_method_val(v: Val, attr, args):
        if (
            v.kind == Kind.DICT
            and attr == "get"
            and args
            and args[0].is_static
            and v.keys is not None
            and args[0].static in v.keys
        ):
            assert v.elts is not None  # a dict Val with known keys knows its elements
            return v.elts[v.keys.index(args[0].static)]
        return UNKNOWN

    def list_mutation(self, node, base, attr, args):
        ctx = self.ctx
        name = base.node.id
        lst = self.env[name]
        if attr == "append" and len(args) == 1:
            item = args[0]
            if lst.item is not None and lst.item.batched and not item.batched:
                item = ctx.promote(item, lst.item)
            if lst.elts is not None and not self.in_loop:
                new = container(Kind.LIST, list(lst.elts) + [item.val])
                self.env[name] = new.with_(item=join(lst.item, item.val) if lst.item else item.val)
            else:
                j = item.val if lst.item is None else join(lst.item, item.val)
                for e in lst.elts or ():
                    j = join(j, e)
                self.env[name] = Val(j.batched, None, Kind.LIST, item=j)
            return Operand(
                _call(ast.Attribute(base.node, attr, ast.Load()), [item], {}), Val(False, None, Kind.NONE)
            )
        if any(a.batched for a in args) or lst.batched:
            raise ctx.fail(f"`list.{attr}` with batched values")
        return Operand(
            _call(ast.Attribute(base.node, attr, ast.Load()), args, {}), Val(False, None, Kind.NONE)
        )


_MUTATORS = {"append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse"}


def _takes_arrays(rule, fn) -> bool:
    """Does this NumPy function read its operands as arrays (a list of numbers per example is one)?
    Python's operators and builtins read lists as lists (`l + l` joins them, `sum(l)` adds the items)."""
    module = getattr(fn, "__module__", None) or ""
    numpy = isinstance(fn, np.ufunc) or module.partition(".")[0] == "numpy"
    return numpy and bool(rule.traits & {"elementwise", "reduction", "contraction"})


_READS_SELECTION = "it reads a selection whose length differs between examples"


def _known_object(base: Operand):
    """The object an attribute call's receiver is at transform time, or NO_STATIC: a module, function
    or object named statically, or an unbatched object a name holds that the specialization is keyed on
    (`xp = array_namespace(x)`, a helper's result naming a global namespace: `xp.asarray` is then that
    namespace's function, rewritten like any other)."""
    v = base.val
    if base.is_static and v.kind in (Kind.MODULE, Kind.CALLABLE, Kind.OTHER):
        return base.static
    if not v.batched and v.kind == Kind.OTHER and v.obj is not None:
        return v.obj
    return NO_STATIC


def _reads_selection(args, kwargs) -> bool:
    """Does an operand hold a masked selection (NOTE [masked selections]), itself or in a container?"""

    def holds(v: Val) -> bool:
        return v.selection is not None or any(holds(e) for e in v.elts or ())

    return any(holds(a.val) for a in args) or any(holds(a.val) for a in kwargs.values())


def _shown(node: ast.AST) -> str:
    what = ast.unparse(node)
    return what if len(what) <= 60 else what[:57] + "..."


def _method_of(obj):
    """For a method bound to an object (`rng.normal`), the class attribute that has a rule, if any."""
    owner = getattr(obj, "__self__", None)
    name = getattr(obj, "__name__", None)
    if owner is None or name is None or isinstance(owner, types.ModuleType):
        return None
    fn = getattr(type(owner), name, None)
    return fn if fn is not None and lookup(fn) is not None else None


def batched_tree(v: Val):
    """Which leaves of an operand are batched, as the per-example loops read it (runtime_loops): a
    bool ("py" for a column of Python numbers), or a tuple of those for a tuple or list with batched items, or of `(key, flag)` pairs for a
    dict with batched values. A batched container whose items are not known is refused (a region or
    a loop would slice its unbatched items too)."""
    if v.batched and v.py and v.ndim == 0:
        return "py"  # per example a Python number (a column of them, batched)
    if not v.batched or v.kind not in (Kind.TUPLE, Kind.LIST, Kind.DICT):
        return v.batched
    if v.elts is None:
        if v.item is not None and v.item.batched:
            return True  # (every item batched: a list appended to per example)
        raise NotBatchable(f"a {v.kind.value} of batched and unbatched values not known item by item")
    flags = tuple(batched_tree(e) for e in v.elts)
    if v.kind != Kind.DICT:
        return flags
    keys = v.keys or ()
    if len(keys) != len(flags) or not all(isinstance(k, (str, int, bool)) for k in keys):
        raise NotBatchable("a dict of batched values with keys that are not strings or integers")
    return tuple(zip(keys, flags))


def _is_mask_of(index: Operand, x: Operand) -> bool:
    return (
        index.batched
        and index.val.dtype == "b"
        and index.val.ndim is not None
        and index.val.ndim == x.val.ndim
        and x.val.kind == Kind.ARRAY
        and not isinstance(index.node, ast.Tuple)
    )


def _as_value(node):
    """An index operand as an ordinary expression: `a:b` inside a tuple becomes `slice(a, b)`."""

    def conv(n):
        if isinstance(n, ast.Slice):
            return ast.Call(
                ast.Name("slice", ast.Load()),
                [p if p is not None else ast.Constant(None) for p in (n.lower, n.upper, n.step)],
                [],
            )
        return n

    if isinstance(node, ast.Tuple):
        return ast.Tuple([conv(e) for e in node.elts], ast.Load())
    return conv(node)
