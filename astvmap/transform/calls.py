"""Calls: rule dispatch, user helper functions, local lambdas (lambda-lifted), nested vmap, fallback.

The dispatcher passes a call with no batched operand through unchanged (asking the rule's abstract
evaluation for the result's Val, `_infer`); a call with a rule goes to the rule; a Python function with source is transformed for
the pattern of batched arguments (cached); anything else runs as a per-example loop with a
`PerformanceWarning` at the user's line (DESIGN "Fallback").
"""

from __future__ import annotations

import ast
import builtins
import functools
import inspect
import operator
import os
import site
import sysconfig
import types
import typing

import numpy as np

from ..analysis import lists
from ..analysis.activity import MUTATING_METHODS, NP_WRITING_FUNCS
from ..analysis.aliases import sources
from ..errors import NoPieceLoop, NotBatchable
from ..frontend.source import NoSource, callable_object, function_source
from ..kit import templates
from ..rules.builtins import examples_attribute, examples_have
from ..rules.common import with_given_dtype
from ..rules.registry import lookup
from ..rules.values import (
    NO_STATIC,
    UNKNOWN,
    Kind,
    MaskedSelection,
    Operand,
    Val,
    constant,
    container,
    field_of,
    join,
    join_all,
    list_item,
    loosened,
    placed,
    set_of,
    unfixed,
    val_of,
)
from .callsites import CallSite, InnerVmap, LocalPartial, _call, _hint, _rebuilder, _shown
from .expressions import LocalFunction
from .folding import ABSENT, facts_of_call, fold_attribute, fold_call, fold_introspection, pure, snapshot
from .nesting import NestingMixin
from .objects import ObjectsMixin, made_object, plain_class, refuse_protocol

# Code never rewritten: the standard library, installed packages, and astvmap's runtime helpers (they have
# rules or run as a loop; rewriting them would batch our own bookkeeping).
_LIBRARY_DIRS = tuple({sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")})
_OWN = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Where installed packages live (their Python functions are rewritten when a call of one is batched)
_PACKAGE_DIRS = tuple(
    {sysconfig.get_paths()[k] for k in ("purelib", "platlib")}
    | set(site.getsitepackages())
    | {site.getusersitepackages()}
)
# astvmap's helpers, never rewritten: each has a batching rule (tests/test_runtime_rules.py), or a call
# of it runs as the loop
_RUNTIME_FILES = {
    os.path.join(_OWN, f)
    for f in ("runtime.py", "runtime_lanes.py", "runtime_nested.py", "runtime_selection.py", "pynum.py")
}


_DISPATCHER = type(np.polyval)  # NumPy's __array_function__ dispatcher of a function


def library_implementation(fn: object) -> types.FunctionType | types.MethodType | None:
    """The Python code a call of library function `fn` without a rule of its own runs (NOTE [library
    source]): a NumPy dispatcher's implementation (`np.polyval`'s, which NumPy calls for arrays that
    override nothing, NEP 18: ours are plain arrays), or `fn` itself when it is an installed package's
    Python function or a method of one's object (`scipy.stats.norm.pdf`); None for anything else (C
    functions, the standard library, astvmap's own). A decorator's wrapper is the function: its
    `__wrapped__` is never followed past it (the decorator has meaning)."""
    if lookup(fn) is not None:
        return None
    impl = getattr(fn, "__wrapped__", None) if isinstance(fn, _DISPATCHER) else fn
    code = getattr(impl.__func__ if isinstance(impl, types.MethodType) else impl, "__code__", None)
    if not isinstance(impl, (types.FunctionType, types.MethodType)) or code is None:
        return None
    if code.co_filename.startswith(_OWN + os.sep) or not code.co_filename.startswith(_PACKAGE_DIRS):
        return None
    return impl


def package_path(filename: str) -> str:
    """An installed package's file as a message names it (`scipy/linalg/_misc.py`)."""
    for d in _PACKAGE_DIRS:
        if filename.startswith(d + os.sep):
            return filename[len(d) + 1 :]
    return filename


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


def _makes_new(rule, site: CallSite, val: Val) -> bool:
    """Does the call return, per example, a new array (NOTE [fresh values]): a ufunc's, an operator's
    (not an in-place one), a reduction's, or a function declared "fresh", with no `out=` given?
    (`max(a, b)` returns one of its arguments, `sum([], m)` its start, `np.real(z)` and
    `np.einsum("ii->i", a)` views of them, `np.linalg.matrix_power(a, 1)` `a` itself.)"""
    if val.kind != Kind.ARRAY or "out" in site.kwargs:
        return False
    fn, traits = site.fn, rule.traits
    if isinstance(fn, np.ufunc):
        return len(site.args) <= fn.nin  # (a positional `out`)
    if "out" in rule.signature.parameters:  # (`np.sum(a, 0, None, o)` returns `o`)
        try:
            given = rule.signature.bind(None, *site.args, **site.kwargs).arguments.get("out")
        except TypeError:
            return False
        if given is not None and given.val.kind != Kind.NONE:
            return False
    if "fresh" in traits:
        return True
    if "elementwise" in traits and getattr(fn, "__module__", None) in ("operator", "_operator"):
        return True
    return "reduction" in traits and fn not in (builtins.max, builtins.min, builtins.sum)


def _known_answer(obj, fn_node, args, kwargs) -> Operand | None:
    """Calls whose value the rewrite knows without a rule: `type(obj)` of an object made in the code is
    its class (NOTE [objects]: Python asks nothing of the object), `typing.cast(t, v)` is `v` as it is."""
    if obj is type and len(args) == 1 and not kwargs and made_object(args[0].val):
        cls = args[0].val.cls
        return Operand(_call(fn_node, args, kwargs), Val(False, None, Kind.CALLABLE, obj=cls), cls)
    if obj is typing.cast and len(args) == 2 and not kwargs:
        return Operand(_call(fn_node, args, kwargs), args[1].val, args[1].static)
    return None


def _declared_facts(ctx, rule, site) -> Val | None:
    """The rule's own facts of the call (NOTE [abstract evaluation]) with the dtype a `dtype=` asks for:
    UNKNOWN where it declares none; None where the arguments do not fit its signature (NumPy refuses
    them too)."""
    if rule.infer is None or rule.signature is None:
        return UNKNOWN
    try:
        bound = rule.signature.bind(ctx, *site.args, **site.kwargs)
    except TypeError:
        return None
    _, *named = bound.arguments.items()
    return with_given_dtype(rule.infer(site, **dict(named)), bound.arguments.get("dtype"))


class CallsMixin(NestingMixin, ObjectsMixin):
    # ---- dispatch ------------------------------------------------------------------------------------
    def apply(self, fn, args, kwargs, node, syntax=None, method=None, fn_node=None) -> Operand:
        ctx = self.ctx
        if fn is not isinstance:  # (NOTE [objects]: its answer is the object's class's)
            refuse_protocol(ctx, [a.val for a in [*args, *kwargs.values()]], f"`{_hint(fn)}`")
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
            val = self._infer(rule, site)
            return Operand(out, val, fresh=_makes_new(rule, site, val), own=True)
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
        val = self._given_dtype(rule, site, result.val)
        result = Operand(result.node, val, result.static, fresh=_makes_new(rule, site, val), own=True)
        if result.batched:  # (a value per example: it may raise for some examples only)
            ctx.batched_work += 1
            ctx.value_errors += not _raises_by_shape(rule, site)
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
        facts = _declared_facts(self.ctx, rule, site)
        if facts is None:
            return UNKNOWN
        unknown = facts.kind == Kind.ARRAY and (facts.ndim is None or facts.dtype is None)
        if (unknown or facts == UNKNOWN) and rule.pure and not rule.random:
            return facts_of_call(site.fn, site.args, site.kwargs) or facts
        return facts

    def _starred_facts(self, node: ast.Call, callee: Operand, args, kwargs) -> Val:
        """The Val of a call given `*items` of a length known only when it runs (the starred operand's
        `item` is each one's): its rule's facts where it has a rule, which read such an operand."""
        rule = lookup(callee.static) if callee.is_static else None
        if rule is None:
            return UNKNOWN
        site = CallSite(callee.static, node, args, kwargs, _rebuilder(node, callee.node, None))
        return _declared_facts(self.ctx, rule, site) or UNKNOWN

    def _given_dtype(self, rule, site, val: Val) -> Val:
        """The Val a rule gave, of the dtype a `dtype=` argument asks for (rules/common.with_given_dtype)."""
        assert rule.signature is not None  # register() always sets it
        if "dtype" not in rule.signature.parameters:
            return val
        bound = rule.signature.bind(self.ctx, *site.args, **site.kwargs)
        return with_given_dtype(val, bound.arguments.get("dtype"))

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
        where = (getattr(node, "lineno", 0), getattr(node, "col_offset", 0))
        # (library code keeps the loop of a call of a function with no source: NOTE [library source])
        if ctx.settings.fallback == "error" and not (ctx.settings.library and _no_source(site.fn)):
            if not defer:
                raise ctx.error(msg + " (fallback='error')", node)
            ctx.deferred_errors[where] = ctx.error(msg + " (fallback='error')", node)
        ctx.record_loop(where)
        if not ctx.src.generated:
            ctx.fallback_sites.setdefault(where, msg)

    def _shared_fresh_object(self, site: CallSite) -> str | None:
        """An unbatched object the function makes (`out = np.zeros(n)`, a temporary) that the call of
        `site`, run once per example, may change (a C function writing into its `output`): each example
        makes its own in the loop, one would be shared by all here. Its text, or None. Objects from
        outside the function are shared in the loop too (each call changes the same one), and NumPy's
        functions change only what `out=` names."""
        if not may_change_arguments(site.fn, site.kwargs, len(site.args)):
            return None
        for a in [*site.args, *site.kwargs.values()]:
            if not _mutable(a.val) or a.is_static:
                continue
            if self.masked:  # (under a batched condition: lanes that skip it must see no change)
                return _shown(a.node)
            if not a.batched and not self._from_outside(a.node):
                return _shown(a.node)
        return None

    def _from_outside(self, node: ast.expr) -> bool:
        """Is `node` an object from outside the function (a global, an unmapped argument never rebound),
        or a part or view of one?"""
        while isinstance(node, (ast.Subscript, ast.Attribute)):
            node = node.value
        if not isinstance(node, ast.Name):
            return False
        return node.id in self.unmapped_params or node.id not in self.local_names

    def fallback(self, site: CallSite, reason: str, fn_node=None) -> Operand:
        """Run this one call as a per-example loop (correct; warns once per site)."""
        ctx = self.ctx
        node = site.node
        what = _shown(node) if isinstance(node, ast.AST) else str(site.fn)
        msg = f"`{what}` runs as a per-example loop: {reason}"
        if self._loop_may_break_a_view(node):
            raise ctx.fail(f"{msg}, and per example it may view an array that is written in place")
        shared = self._shared_fresh_object(site)
        if shared is not None:
            raise ctx.fail(f"{msg}, and it may change `{shared}`, which each example makes for itself")
        self._note_loop(site, msg)
        if isinstance(node, ast.Attribute) and site.method is None and fn_node is None:
            # an attribute (`x.T`): per example, read it
            fn_expr = ctx.bind(operator.attrgetter(node.attr), f"get_{node.attr}")
        elif fn_node is not None and site.method is None:
            fn_expr = fn_node
        elif site.method is not None:  # `x.m(...)`: per example, the method the example has
            fn_expr = ctx.bind(_method_caller(site.method), f"call_{site.method}")
        else:
            fn_expr = ctx.bind(site.fn, _hint(site.fn))
        args = ast.Tuple([_as_value(_listed(a)) for a in site.args], ast.Load())
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
        folded = fold_attribute(ast.Attribute(base.node, node.attr, ast.Load()), base, node.attr)
        if folded is not None:
            return folded
        if base.val.kind in (Kind.ARRAY, Kind.SCALAR) or base.batched:
            fn = getattr(np.ndarray, node.attr, None)
            if fn is not None and lookup(fn) is not None:
                return self.apply(fn, [base], {}, node, syntax=node)
        if base.batched:
            alike = examples_attribute(base.val, node.attr)  # (`x.device`: NOTE [constants])
            if alike is not NO_STATIC:
                return Operand(ast.Attribute(base.node, node.attr, ast.Load()), constant(alike), alike)
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
        args, kwargs = self.call_args(node, opaque=True)
        self.ctx.node = node
        if any(isinstance(a.node, ast.Starred) for a in args):
            # `f(*shapes)` of a set or a list of a length known only when it runs: as written
            if any(a.batched for a in args) or any(a.batched for a in kwargs.values()):
                raise self.ctx.fail("`*args` of unknown length beside batched values")
            return Operand(_call(callee.node, args, kwargs), self._starred_facts(node, callee, args, kwargs))
        v = callee.val
        refuse_protocol(self.ctx, [v], "a call")
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
            self.check_unbatched_call(None, args, kwargs)
            return Operand(_call(callee.node, args, kwargs), UNKNOWN)
        return self.call_object(callee.static, callee.node, args, kwargs, node)

    def call_args(self, node, opaque=False):
        """The operands of a call's arguments (`*args` of known length spread); `opaque`: an unbatched
        `*args` of unknown length stays one starred operand (the caller runs the call as written)."""
        args = []
        for a in node.args:
            if not isinstance(a, ast.Starred):
                args.append(self.expr(a))
                continue
            inner = self.expr(a.value)
            seen = self.items_read(inner)
            if seen.elts is None or seen.kind not in (Kind.TUPLE, Kind.LIST):  # (a set: unordered)
                if inner.batched:
                    raise self.ctx.fail("`*args` of unknown length holding batched values")
                if opaque:
                    args.append(Operand(ast.Starred(inner.node, ast.Load()), seen))
                    continue
                raise self.ctx.fail("`*args` of unknown length")
            args += [_item_operand(inner.node, i, e) for i, e in enumerate(seen.elts)]
        kwargs = {}
        for k in node.keywords:
            if k.arg is not None:
                kwargs[k.arg] = self.expr(k.value)
                continue
            inner = self.expr(k.value)
            seen = self.items_read(inner)
            if seen.kind != Kind.DICT or seen.keys is None or seen.elts is None:
                raise self.ctx.fail("`**kwargs` of unknown keys")
            for key, e in zip(seen.keys, seen.elts):
                kwargs[key] = _item_operand(inner.node, key, e)
        return args, kwargs

    def call_object(self, obj, fn_node, args, kwargs, node) -> Operand:
        folded = fold_call(obj, _call(fn_node, args, kwargs), args, kwargs)
        if folded is not None:
            return folded
        introspected = fold_introspection(obj, args, kwargs)
        if introspected is not None:  # (each attribute it read: a dependency, as a static attribute's)
            value, reads = introspected
            self.ctx.deps.extend(("attr", f, attr, seen) for f, attr, seen in reads)
            return Operand(_call(fn_node, args, kwargs), snapshot(value), value, fresh=True)
        out = self._call_object(obj, fn_node, args, kwargs, node)
        self.forget_changed_arguments(obj, args, kwargs)
        return out

    def _call_object(self, obj, fn_node, args, kwargs, node) -> Operand:
        known = self._builtin_answer(obj, fn_node, args, kwargs, node) or _known_answer(
            obj, fn_node, args, kwargs
        )
        if known is not None:
            return known
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
        if batched and plain_class(obj):  # (NOTE [objects])
            built = self.construct(obj, args, kwargs, node)
            if built is not None:
                return built
        impl = library_implementation(obj)
        if impl is not None and not batched:  # its facts, from its rewrite (NOTE [library source])
            val, fresh, own = self.infer_library(impl, args, kwargs)
            return Operand(_call(fn_node, args, kwargs), val, fresh=fresh, own=own)
        if impl is not None and not _reads_selection(args, kwargs):
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
            self.check_unbatched_call(obj, args, kwargs)
            return Operand(_call(fn_node, args, kwargs), UNKNOWN)
        site = CallSite(obj, node, args, kwargs, _rebuilder(node, fn_node, None))
        return self.fallback(site, f"no batching rule for `{_hint(obj)}`", fn_node)

    def _builtin_answer(self, obj, fn_node, args, kwargs, node) -> Operand | None:
        """Python's builtins whose answer the rewrite knows from what it follows: `len` of a known length,
        `getattr`/`hasattr` of an object known when rewriting, `dict(...)`, `set(...)` of known items."""
        if obj is len and len(args) == 1 and not kwargs:
            n = self.known_length(args[0])
            return (
                None if n is None else Operand(_call(fn_node, args, kwargs), constant(n), n)
            )  # (NOTE [constants])
        if obj in (getattr, hasattr) and not kwargs and len(args) in (2, 3):
            return (
                self.getattr_call(node, fn_node, args) if obj is getattr else self.hasattr_call(fn_node, args)
            )
        if (obj is dict and len(args) <= 1) or (obj in (set, frozenset) and len(args) <= 1 and not kwargs):
            made = self._dict_of(args, kwargs) if obj is dict else self._set_of_items(args)
            return Operand(_call(fn_node, args, kwargs), made)
        return None

    def check_unbatched_call(self, fn, args, kwargs) -> None:
        """A call with no batched argument runs once for the batch. Under a batched condition, one that
        may change an object it is given (`_set0(out, v)`) would change it for the lanes that skip it
        too: that code runs as a loop."""
        if not self.masked or not self._may_write(fn, kwargs, len(args)):
            return
        for a in [*args, *kwargs.values()]:
            if _mutable(a.val) and not a.is_static:
                raise self.ctx.fail(f"a call that may change `{_shown(a.node)}` under a batched condition")

    def _may_write(self, fn, kwargs, n_args: int = 0) -> bool:
        if not may_change_arguments(fn, kwargs, n_args):
            return False
        from ..frontend.source import function_source, unwrap

        base = unwrap(fn)[0] if fn is not None else None
        try:
            return self.ctx.specializer.acts_outside(function_source(base))
        except Exception:  # (no source: what it does is not known)
            return True

    def forget_items(self, node: ast.expr, removes_only: bool = False, added: Val | None = None) -> None:
        """The object `node` names (a local list, dict or record) may have had items replaced in place: its
        Val keeps its kind, not its items (a `None` item may be a number now, NOTE [constants]). A list's
        item is what it held joined with what came in: `added` where that is known (`lst.insert(0, v)`),
        anything unbatched where not (a helper's change); nothing new where the change `removes_only`
        (`pop`, `sort`, `del`)."""
        while isinstance(node, (ast.Subscript, ast.Attribute)):
            node = node.value
        if not isinstance(node, ast.Name) or node.id not in self.env:
            return
        v = self.env[node.id]
        if v.kind == Kind.LIST and not v.batched and (v.elts is not None or not removes_only):
            came = [] if removes_only else [added if added is not None else UNKNOWN]
            items = [i for i in (list_item(v), *came) if i is not None]
            self.env[node.id] = Val(False, None, v.kind, item=unfixed(join_all(items)) if items else None)
        if v.elts is not None and v.kind in (Kind.DICT, Kind.RECORD) and not v.batched:
            self.env[node.id] = Val(False, None, v.kind)
        if v.kind == Kind.SET:  # (NOTE [sets]: a member may have gone)
            self.env[node.id] = Val(False, None, Kind.SET)
        if v.kind == Kind.TUPLE and v.elts is not None and not v.batched:  # (`t[0][0] = v`: a list inside)
            self.env[node.id] = loosened(v)
        self.forget_holders(node.id)

    def forget_holders(self, name: str) -> None:
        """`name`'s list or dict changed in place: where another name may hold it too (NOTE [list items]),
        the items of every other local container with per-call items are no longer known."""
        if not self.held_elsewhere(name):
            return
        for other, v in list(self.env.items()):
            if other != name and not v.batched and v.kind in _HOLDERS:  # (it, or a container inside it)
                self.env[other] = loosened(v)

    def forget_changed_arguments(self, fn, args, kwargs) -> None:
        """After a call that may change what it is given, the local containers given to it."""
        if may_change_arguments(fn, kwargs, len(args)):
            self.forget_given([*args, *kwargs.values()], lambda: _may_change_containers(fn))

    def forget_given(self, given: list[Operand], changes_containers) -> None:
        """After a call that may change the local containers it is `given` (`changes_containers()`: may
        it change a list or dict?), what is known of their items."""
        for a in given:
            if a.val.kind not in (Kind.LIST, Kind.DICT, Kind.SET, Kind.RECORD) or not isinstance(
                a.node, ast.Name
            ):
                continue
            if id(a.node) in self.followed:  # (its items, as the callee left them: follow_given)
                continue
            if a.val.batched and a.val.elts is not None and a.val.kind != Kind.RECORD:
                # (NOTE [list items]: items of their own batchedness cannot be forgotten, only followed)
                if changes_containers():
                    raise self.ctx.fail(
                        f"a {a.val.kind.value} of per-example items given to a function that may change it"
                    )
                continue
            self.forget_items(a.node)

    def known_length(self, op: Operand) -> int | None:
        """The length of a tuple of known items, or of a list of known items that a name of this
        function alone holds (its appends are followed; any other change forgets its items)."""
        v = op.val
        if v.kind == Kind.SET and v.elts is not None:  # (NOTE [sets]: members known, all of them)
            return len(v.elts)
        if v.elts is None or v.kind not in (Kind.TUPLE, Kind.LIST):
            return None
        made_here = op.fresh or _made_here(op.node) or self._builtin_sequence(op.node)
        if v.kind == Kind.LIST and not made_here:  # (else: read where it was made)
            name = op.node.id if isinstance(op.node, ast.Name) else None
            fdef = self.fdef
            if name is None or fdef is None or self.env.get(name) is not v or self.escapes_here(name):
                return None
        return len(v.elts)

    def _builtin_sequence(self, node: ast.expr) -> bool:
        """Is `node` a call of Python's own `zip`, `enumerate`, `list`, `tuple`, `sorted` or `reversed`: a
        new sequence of the items its arguments hold where it stands?"""
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)) or node.func.id in self.env:
            return False
        made = getattr(builtins, node.func.id, None)
        return made in _NEW_SEQUENCES and self.ctx.src.resolve(node.func.id)[1] is made

    def _dict_of(self, args: list[Operand], kwargs: dict[str, Operand]) -> Val:
        """`dict(pairs, k=v, ...)`: the pairs' items, then the keywords', the last of a key winning."""
        made = self._dict_of_pairs(args[0]) if args else container(Kind.DICT, [], [])
        if not kwargs:
            return made
        if made.keys is None or made.elts is None:
            if made.batched or any(a.batched for a in kwargs.values()):
                raise self.ctx.fail("dict() of batched items whose keys are not known when rewriting")
            return Val(False, None, Kind.DICT)
        items = dict(zip(made.keys, made.elts))
        items.update({k: placed(a) for k, a in kwargs.items()})
        return container(Kind.DICT, list(items.values()), list(items))

    def _set_of_items(self, args: list[Operand]) -> Val:
        """`set(items)`, `frozenset(items)` (NOTE [sets]): of a dict of known keys, those; of a tuple or
        list of known items, those (or one of them at least); of anything else, some set."""
        if not args:
            return set_of([])
        v = self.items_read(args[0])
        if args[0].batched and not (v.kind == Kind.DICT and v.keys is not None):
            raise self.ctx.fail("a set of batched values")
        if v.kind == Kind.DICT and v.keys is not None:
            return set_of([constant(k) for k in v.keys])
        if v.kind in (Kind.TUPLE, Kind.LIST, Kind.SET) and v.elts is not None:
            return set_of(list(v.elts))
        return Val(False, None, Kind.SET)

    def _dict_of_pairs(self, pairs: Operand) -> Val:
        """`dict(pairs)` of (key, value) pairs known one by one, keys known: a dict of those items, the
        last of a key winning, as Python builds it. Of any other batched argument: refused (which item
        goes where is not known here)."""
        v = self.items_read(pairs)
        if v.kind == Kind.DICT:
            return v  # (a new dict of the same items)
        known = v.elts if v.kind in (Kind.LIST, Kind.TUPLE) and v.cls is None else None
        if known is not None and all(
            p.kind == Kind.TUPLE and p.elts is not None and len(p.elts) == 2 and p.elts[0].is_const
            for p in known
        ):
            items = {p.elts[0].const: p.elts[1] for p in known}
            return container(Kind.DICT, list(items.values()), list(items))
        if pairs.batched:
            raise self.ctx.fail("dict() of batched items whose keys are not known when rewriting")
        return Val(False, None, Kind.DICT)

    def getattr_call(self, node, fn_node, args) -> Operand | None:
        """`getattr(x, name[, default])` with `name` known: of a batched `x`, its attribute (below); of
        an object known when rewriting, the attribute's value (a dependency, as `x.name` is)."""
        name = args[1].val.const if args[1].val.is_const else None
        if args[0].batched or args[0].val.kind == Kind.ARRAY:
            return self.array_getattr(node, *args)
        if args[0].is_static and isinstance(name, str) and (len(args) == 2 or hasattr(args[0].static, name)):
            return self.static_attribute(_call(fn_node, args, {}), args[0].static, name)
        if args[0].is_static and isinstance(name, str) and not args[0].batched:  # (missing: the default)
            self.ctx.deps.append(("attr", args[0].static, name, ABSENT))
            return Operand(_call(fn_node, args, {}), args[2].val, args[2].static)
        return None

    def hasattr_call(self, fn_node, args) -> Operand | None:
        """`hasattr(obj, name)` of an object known when rewriting and a known name: the answer now, a
        dependency on the attribute (its value, or its absence; a thread-local's, in the calling thread)."""
        name = args[1].val.const if len(args) == 2 and args[1].val.is_const else None
        if not (args[0].is_static and not args[0].batched and isinstance(name, str)):
            return None
        try:
            found = getattr(args[0].static, name, ABSENT)
        except Exception:  # (a property that raises: hasattr raises too, or not, when it runs)
            return None
        self.ctx.deps.append(("attr", args[0].static, name, found))
        return Operand(_call(fn_node, args, {}), constant(found is not ABSENT), found is not ABSENT)

    def array_getattr(self, node, obj: Operand, name: Operand, default: Operand | None = None) -> Operand:
        """`getattr(x, "dtype", d)` of an array `x` is `x.dtype` where every example has the attribute,
        `d` where none has (Python's rule), known from the examples' type."""
        attr = name.val.const if name.val.is_const and isinstance(name.val.const, str) else None
        has = examples_have(obj.val, attr) if attr is not None else None
        if has is None:
            if not obj.batched:
                return Operand(
                    _call(ast.Name("getattr", ast.Load()), [obj, name] + ([default] if default else []), {}),
                    UNKNOWN,
                )
            raise self.ctx.fail("getattr() of a batched value (its type may differ from one example's)")
        if not has:
            if default is None:
                raise self.ctx.error(f"the loop raises AttributeError: no attribute {attr!r}", node)
            return default
        assert attr is not None  # (`has` is known only for a name)
        return self.attribute_rule(ast.copy_location(ast.Attribute(obj.node, attr, ast.Load()), node), obj)

    def method_call(self, node, base: Operand, attr, args, kwargs) -> Operand:
        v = base.val
        if attr == "copy" and v.kind in (Kind.LIST, Kind.DICT) and not args and not kwargs:
            return Operand(_call(ast.Attribute(base.node, attr, ast.Load()), [], {}), v)  # (the same items)
        if made_object(v) and field_of(v, attr) is None:  # (NOTE [objects])
            done = self.object_method(node, base, attr, args, kwargs)
            if done is not None:
                return done
        if v.kind == Kind.LIST and attr in _MUTATORS:
            changed = self.list_method(node, base, attr, args, kwargs)
            if changed is not None:
                return changed
        if (
            v.kind in (Kind.DICT, Kind.OTHER, Kind.SET)
            and attr in _MUTATORS | _SET_MUTATORS | {"update", "setdefault"}
            and not (isinstance(node.func.value, ast.Name) and node.func.value.id in self.env)
        ):
            raise self.ctx.fail(f"`.{attr}()` of an object from outside the function")
        if v.kind == Kind.DICT and attr in ("update", "pop"):
            changed = self.dict_change(node, base, attr, args, kwargs)
            if changed is not None:
                return changed
        if not v.batched and v.obj is not None and lookup(getattr(type(v.obj), attr, None)) is not None:
            return self.apply(getattr(type(v.obj), attr), [base] + args, kwargs, node, method=attr)
        if v.batched and v.kind == Kind.OTHER and attr in _CONTAINERS_TOO:
            # a per-example loop's result may be a container of stacked leaves, whose `copy` is its own
            site = CallSite(None, node, [base] + args, kwargs, _rebuilder(node, None, attr), attr)
            return self.fallback(site, "a method of a per-example value of a kind not known here")
        if v.kind in (Kind.ARRAY, Kind.SCALAR) or (v.batched and v.kind == Kind.OTHER):
            fn = getattr(np.ndarray, attr, None)
            if fn is not None:
                return self.apply(fn, [base] + args, kwargs, node, method=attr)
        if attr in MUTATING_METHODS:
            added = args[-1].val if attr in ("insert", "__setitem__") and args else None
            if attr == "__setitem__" and args and not isinstance(args[0].static, int):  # (a slice: its items)
                added = list_item(args[-1].val) or UNKNOWN
            self.forget_items(node.func.value, removes_only=attr in _REMOVING, added=added)
        if v.kind == Kind.DICT and any(a.batched for a in [*args, *kwargs.values()]):
            got = self._dict_get(node, base, attr, args, kwargs)
            if got is not None:
                return got
            raise self.ctx.fail(f"the method `.{attr}()` of a dict with batched values")
        if (v.kind == Kind.DICT and not v.batched) or (not base.batched and not any(a.batched for a in args)):
            return Operand(
                _call(ast.Attribute(base.node, attr, ast.Load()), args, kwargs),
                self._container_method_val(v, attr, args),
            )
        raise self.ctx.fail(f"the method `.{attr}()` of a batched {v.kind.value}")

    def list_method(self, node, base: Operand, attr, args, kwargs) -> Operand | None:
        """A method that changes a list (NOTE [list items]): refused where the loop's change is not one
        batched change (a list from outside, a shared default, one another name holds), followed where it
        grows or sorts the list; None for the rest (they forget its items)."""
        v = base.val
        if not (isinstance(node.func.value, ast.Name) and node.func.value.id in self.env):
            # the loop would change it once per example; one batched call cannot
            # (each example's loop would change that one list: only the whole loop is right)
            raise NoPieceLoop(f"`.{attr}()` of a list from outside the function", node)
        if shared_default(self.ctx.src, node.func.value.id):
            # (the loop changes it once per example, and every later call sees it)
            raise self.ctx.fail(f"`.{attr}()` of a parameter's default list or dict, shared by all calls")
        name = node.func.value.id
        if (
            (v.batched or any(a.batched for a in args))
            and self.held_elsewhere(name)
            and not self.follows_given(name)
        ):
            # (NOTE [list items]: the facts of the other names that hold it would not change)
            raise self.ctx.fail(f"`.{attr}()` of a list another name may hold")
        if attr in ("append", "extend"):
            return self.list_mutation(node, base, attr, args)
        if attr == "sort" and v.batched:
            return self.sort_list(node, base, args, kwargs)
        return None

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

    def dict_change(self, node, base: Operand, attr, args, kwargs) -> Operand | None:
        """`d.update(other, k=v)` and `d.pop(k[, default])` of a dict of known keys this function alone
        holds so far (NOTE [list items]): its items followed key by key, as Python changes them; None
        where a key is not known or another holder would not see the change."""
        name = node.func.value.id
        v = self.items_read(base)
        if v.keys is None or v.elts is None or (self.caller_holds(name) and not self.follows_given(name)):
            return None
        if self.fdef is None or self.held_before(name):
            return None
        items = dict(zip(v.keys, v.elts))
        out: Val = Val(False, None, Kind.NONE, const=None)
        if attr == "update":
            if len(args) > 1:
                return None
            given = self._dict_of(args, kwargs)
            if given.keys is None or given.elts is None:
                return None
            items.update(zip(given.keys, given.elts))
        else:
            if kwargs or len(args) not in (1, 2) or not args[0].val.is_const:
                return None
            key = args[0].val.const
            if key not in items and len(args) == 1:
                return None  # (KeyError, when it runs)
            out = items.pop(key) if key in items else args[1].val
        self.env[name] = container(Kind.DICT, items.values(), items.keys())
        return Operand(_call(ast.Attribute(base.node, attr, ast.Load()), args, kwargs), out)

    def _dict_get(self, node, base: Operand, attr, args, kwargs) -> Operand | None:
        """`d.get(k, default)` with a batched default, `k` known and the dict's keys known: the item or
        the default, as the key is there or not; None for anything else (it runs per example)."""
        v = self.items_read(base)
        if attr != "get" or kwargs or len(args) != 2 or not args[0].val.is_const or v.keys is None:
            return None
        key = args[0].val.const
        call = _call(ast.Attribute(base.node, attr, ast.Load()), args, kwargs)
        if key in v.keys and v.elts is not None:
            return Operand(call, v.elts[v.keys.index(key)])
        return Operand(call, args[1].val, args[1].static)

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
        self.forget_holders(name)
        if attr == "append" and len(args) == 1:
            item = args[0]
            if lst.elts is not None and not self.in_loop:  # (each item keeps its own facts)
                new = container(Kind.LIST, list(lst.elts) + [item.val])
                self.env[name] = new.with_(item=join(lst.item, item.val) if lst.item else item.val)
            else:
                if lst.item is not None and lst.item.batched and not item.batched:
                    item = ctx.promote(item, lst.item)
                elif item.batched and lst.elts != () and not lst.batched:
                    # (NOTE [list items]) the items it has, repeated over the batch before it changes
                    item = Operand(ctx.temp(item.node, "item"), item.val)
                    lst = ctx.promote_list(base, in_place=name in self.given_changed).val
                j = item.val if lst.item is None else join(lst.item, item.val)
                for e in lst.elts or ():
                    j = join(j, e)
                self.env[name] = Val(j.batched, None, Kind.LIST, item=j)
            return Operand(
                _call(ast.Attribute(base.node, attr, ast.Load()), [item], {}), Val(False, None, Kind.NONE)
            )
        if any(a.batched for a in args) or lst.batched:
            raise ctx.fail(f"`list.{attr}` with batched values")
        if lst.elts is not None:  # (its items are no longer known one by one)
            self.env[name] = Val(False, None, Kind.LIST, item=list_item(lst))
        return Operand(
            _call(ast.Attribute(base.node, attr, ast.Load()), args, {}), Val(False, None, Kind.NONE)
        )


def _raises_by_shape(rule, site: CallSite) -> bool:
    """Does this call raise, whatever the values, only by its operands' shapes and dtypes: a rule that
    says so (trait "shaped": a change of shape, a conversion) of operands of numbers, an elementwise ufunc,
    a reduction, a product (values raise only FloatingPointError, and only under
    `np.errstate(all="raise")`), or indexing by an index the same for every example? Not powers
    (integers to negative integer powers raise ValueError), nor `np.linalg` (LinAlgError)."""
    fn = site.fn
    if "shaped" in rule.traits:  # (of numbers: a conversion of strings or objects raises by their values)
        return all(
            a.val.dtype in tuple("biufc") for a in [*site.args, *site.kwargs.values()] if a.val.numeric
        )
    if fn in (operator.pow, np.power, operator.ipow):
        return False
    if any(a.val.py or a.val.py_some for a in site.args):
        return False  # (Python's numbers raise by value: `10 // k`, `math.sqrt(-1.0)`)
    if fn is operator.getitem:
        return len(site.args) == 2 and not site.args[1].batched
    module = getattr(fn, "__module__", None) or ""
    if "linalg" in module:
        return False  # (a singular example raises LinAlgError, a ValueError)
    if not (
        isinstance(fn, np.ufunc) or module.partition(".")[0] == "numpy" or module in ("operator", "_operator")
    ):
        return False  # (`math`, builtins: Python's rules)
    return bool(rule.traits & {"elementwise", "reduction", "contraction"})


def _mutable(v: Val) -> bool:
    """May a value of Val `v` be changed in place (an array, a list, a dict, an object, or a tuple of
    those)?"""
    if v.kind == Kind.TUPLE:
        return v.elts is None or any(_mutable(e) for e in v.elts)
    return v.kind in (Kind.ARRAY, Kind.LIST, Kind.DICT, Kind.SET, Kind.OTHER) and not v.is_const


def may_change_arguments(fn, kwargs, n_args: int = 0) -> bool:
    """May a call of `fn` with `n_args` positional arguments change an object it is given? NumPy's
    functions and ufuncs change only their `out` (by keyword or position: `np.clip(a, 0, 1, a)`) and
    `np.copyto`'s kind their first argument; Python's builtins (`len`, `sorted`, `dict`) nothing;
    anything else may."""
    if pure(fn):  # (`operator.getitem`, `math.exp`, `isinstance`: NOTE [constants])
        return False
    module = getattr(fn, "__module__", None) or ""
    if isinstance(fn, np.ufunc):
        return "out" in kwargs or n_args > fn.nin
    if module.partition(".")[0] == "numpy":
        return "out" in kwargs or getattr(fn, "__name__", None) in NP_WRITING_FUNCS or _out_given(fn, n_args)
    return (
        not (isinstance(fn, types.BuiltinFunctionType) and module == "builtins") and fn not in _BUILTIN_TYPES
    )


_BUILTIN_TYPES = (dict, list, tuple, set, frozenset, str, int, float, complex, bool, range, zip, enumerate)


def _out_given(fn, n_args: int) -> bool:
    """Does a NumPy function take an `out` parameter at a position `n_args` arguments reach (or is its
    signature not known)?"""
    try:
        params = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return n_args > 1
    return "out" in params and params.index("out") < n_args


def _listed(a: Operand) -> ast.expr:
    """A batched list made by a call (`zip(keys, xs)`, `enumerate(x)`: an iterator, as the loop's own
    would be) as a list the loop can take apart by example; it is consumed there, as it would be."""
    if a.batched and a.val.kind == Kind.LIST and isinstance(a.node, ast.Call):
        return ast.Call(ast.Name("list", ast.Load()), [a.node], [])
    return a.node


def _item_operand(container: ast.expr, key, v: Val) -> Operand:
    """`container[key]`, an item whose Val is `v` (its value, where that is a constant)."""
    return Operand(templates.index(container, [key]), v, v.const if v.is_const else NO_STATIC)


def shared_default(src, name: str) -> bool:
    """Is `name` a parameter whose default is a list, dict or set (one object for every call)?"""
    args = src.fdef.args
    positional = [a.arg for a in (*args.posonlyargs, *args.args)]
    defaults = dict(zip(positional[len(positional) - len(src.defaults or ()) :], src.defaults or ()))
    defaults.update(src.kwdefaults or {})
    return isinstance(defaults.get(name), (list, dict, set))


def _may_change_containers(fn) -> bool:
    """May a call of `fn` change a list or dict it is given (True for anything but a Python function
    whose source shows it cannot)?"""
    fn = getattr(fn, "__func__", fn)
    if not isinstance(fn, types.FunctionType):
        return True
    try:
        return lists.may_change_containers(function_source(fn).fdef)
    except NoSource:
        return True


_NEW_SEQUENCES = (zip, enumerate, list, tuple, sorted, reversed)
_HOLDERS = (Kind.LIST, Kind.DICT, Kind.SET, Kind.TUPLE, Kind.RECORD)  # what may hold a changed container


def _method_caller(name: str):
    """`obj.name(*args, **kwargs)` as a function of `obj` (a per-example loop of a method: each example's
    own, not `np.ndarray.name`, which an example of a kind not known here may not be)."""

    def call(obj, *args, **kwargs):
        return getattr(obj, name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = f"call_{name}"
    return call


def _made_here(node: ast.expr) -> bool:
    """Is `node` a list made where it stands (a display, `a + b`, a slice), whose items nothing else has
    had a chance to change?"""
    if isinstance(node, ast.Subscript):
        return isinstance(node.slice, ast.Slice)
    return isinstance(node, (ast.List, ast.ListComp, ast.BinOp))


def _no_source(fn) -> bool:
    """Is `fn` a callable with no Python source to rewrite (a C function, a BLAS routine, an object not
    known when rewriting)? Library code keeps the per-call loop for those (NOTE [library source])."""
    return not isinstance(
        fn, (types.FunctionType, types.MethodType, functools.partial)
    ) and not callable_object(fn)


_MUTATORS = {"append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse"}
# methods an array and a list or dict both have (a per-example value of unknown kind may be either)
_CONTAINERS_TOO = frozenset(
    a for a in dir(np.ndarray) if not a.startswith("_") and (hasattr(list, a) or hasattr(dict, a))
)
_REMOVING = {"pop", "remove", "clear", "sort", "reverse", "discard", "popitem", "__delitem__"}
_SET_MUTATORS = {"add", "discard", "update", "intersection_update", "difference_update"} | {
    "symmetric_difference_update"
}


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
    if v.batched and v.kind == Kind.RECORD and v.elts is None:
        raise NotBatchable("a record or object whose fields are not known")
    if v.batched and v.kind == Kind.RECORD and v.elts is not None:  # (a child's flag each: NOTE [pytrees])
        flags = tuple(batched_tree(e) for e in v.elts)
        return tuple(zip(v.keys or (), flags)) if made_object(v) else flags  # (an object's by name)
    if not v.batched or v.kind not in (Kind.TUPLE, Kind.LIST, Kind.DICT):
        return v.batched
    if v.elts is None:
        if v.item is not None and _all_batched(v.item):
            return True  # (every item batched: a list appended to per example)
        raise NotBatchable(f"a {v.kind.value} of batched and unbatched values not known item by item")
    flags = tuple(batched_tree(e) for e in v.elts)
    if v.kind != Kind.DICT:
        return flags
    keys = v.keys or ()
    if len(keys) != len(flags) or not all(isinstance(k, (str, int, bool)) for k in keys):
        raise NotBatchable("a dict of batched values with keys that are not strings or integers")
    return tuple(zip(keys, flags))


def _all_batched(v: Val) -> bool:
    """Is every leaf of `v` batched (a list of `(name, x)` pairs is not: each name is one object)?"""
    if v.kind in (Kind.TUPLE, Kind.LIST, Kind.DICT) and v.elts is not None:
        return all(_all_batched(e) for e in v.elts)
    return v.batched


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
