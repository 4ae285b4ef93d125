"""Calls into code we rewrite too: user helper functions (transformed for the pattern of batched
arguments they get, cached), partials, local lambdas and defs (lambda-lifted: the enclosing function's
locals and closure cells they read become parameters), and nested vmap (DESIGN "Calls and nesting":
the inner vmap's complete batched function is rewritten again with the outer batch).

NOTE [library source]: a call of a library's Python function with no rule of its own (a NumPy
dispatcher's implementation, NEP 18, or any installed package's function or method:
`calls.library_implementation`) is rewritten from the library's source like a user function, over the
library module's own globals. Batched, it is rewritten with `Settings.strict()`: no piece of it may loop
but calls of functions with no Python source (a BLAS routine), which run per example and are reported
once at the user's line; anything else, or any failure, rolls the rewrite back and the one call runs as
the loop at the user's line. Warnings and errors never point into a library's files. Unbatched, its
rewrite gives the call's Val (`infer_library`): a library's checks of its input are decided by constants
(NOTE [constants], transform/folding.py) and by static facts of batched arrays (`isinstance`,
`hasattr`, `x.ndim`, `x.dtype.kind`).
"""

from __future__ import annotations

import ast
import types
from dataclasses import replace

from .. import binding
from ..analysis import activity, lists
from ..analysis.effects import assigned_globals, unrepeatable_globals
from ..errors import AstvmapError, ChangesGlobals, NoPieceLoop, NotBatchable
from ..kit import templates
from ..rules.values import NO_STATIC, UNKNOWN, Kind, Operand, Val, is_constant, val_of
from .callsites import CallSite, InnerVmap, LocalPartial, _call, _rebuilder, _shown
from .expressions import LocalFunction
from .walker import Walker

# Library calls whose source does not batch whole, by code object and operand facts: not tried again
# (library code does not change while the process runs; NOTE [library source]).
_UNBATCHED_LIBRARY_CALLS: set[tuple] = set()
_UNINFERRED: set[tuple] = set()  # unbatched library calls whose rewrite fails


def _key(impl, args, kwargs) -> tuple | None:
    """A library call's code object and operand facts (None where a fact cannot be hashed)."""
    fn = impl.__func__ if isinstance(impl, types.MethodType) else impl
    owner = id(impl.__self__) if isinstance(impl, types.MethodType) else None
    key = (
        fn.__code__,
        owner,
        tuple(_constant(a) for a in args),
        tuple((k, _constant(a)) for k, a in kwargs.items()),
    )
    try:
        hash(key)
    except TypeError:
        return None
    return key


def _rewritten_call(obj, callee, fn_node, args, kwargs, pre_args: bool, pre_kwargs: bool) -> ast.expr:
    """The call of `obj`'s rewrite `callee`: a partial's bound values stay in the partial
    (`f_vmap(*p.args, x, **p.keywords)`), a bound method's object and a callable object are `self`."""
    if not (pre_args or pre_kwargs):
        return _call(callee, args, kwargs)
    from ..frontend.source import callable_object

    p = fn_node
    star: list[ast.expr] = [ast.Starred(ast.Attribute(p, "args", ast.Load()), ast.Load())] if pre_args else []
    kws = [ast.keyword(None, ast.Attribute(p, "keywords", ast.Load()))] if pre_kwargs else []
    if isinstance(obj, types.MethodType):
        star = [ast.Attribute(p, "__self__", ast.Load())]
    elif callable_object(obj):  # `model(x)`: the instance is `self`
        star = [p]
    return ast.Call(
        callee, star + [a.node for a in args], kws + [ast.keyword(k, a.node) for k, a in kwargs.items()]
    )


def state_changes(src, names: frozenset[str]) -> set[str]:
    """Those of `names` (changed by `src`'s code: effects.assigned_globals) that name data outliving the
    call: a global's or a closure cell's object, not a module, a function or a class (`np.add(...)` calls
    a function of a module, not a set's `add`)."""
    out = set()
    for name in names:
        found, obj, _ = src.resolve(name)
        if not found or not isinstance(
            obj, (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, type)
        ):
            out.add(name)
    return out


def state_changed(src) -> frozenset[tuple[int, str]]:
    """What `src`'s code may bind or change of the state outliving the call, as `Context.touched` holds
    it: (id of the module's dict, name)."""
    return frozenset((id(src.globals), n) for n in state_changes(src, assigned_globals(src.fdef)))


class NestingMixin(Walker):
    """Needs from the walker: ctx, env, expr(), fallback(), call_object()."""

    # ---- user functions -----------------------------------------------------------------------------
    def infer_library(self, impl, args, kwargs) -> tuple[Val, bool, bool]:
        """The Val an unbatched call of a library function returns: its rewrite's for these arguments'
        facts (cached like any rewrite), so `is_torch_array(None)` is the constant False and the rank
        of `np.linspace(...)` is known (NOTE [library source]); UNKNOWN where it does not rewrite."""
        from ..frontend.source import unwrap

        key = _key(impl, args, kwargs)
        if key is not None and key in _UNINFERRED:
            return UNKNOWN, False, False
        saved, self.ctx.settings = self.ctx.settings, self.ctx.settings.strict()
        try:
            base, pre_args, pre_kwargs = unwrap(impl)
            out, fresh, own = self._try_infer_user(base, pre_args, pre_kwargs, args, kwargs)
        finally:
            self.ctx.settings = saved
        if out is UNKNOWN and key is not None:
            _UNINFERRED.add(key)
        return out, fresh, own

    def library_call(self, impl, fn_node, args, kwargs, node) -> Operand | None:
        """A batched call of a library's Python function, rewritten like the user's own where it batches
        (no piece of it a loop but calls of functions without source, NOTE [library source]); None where
        it does not (the caller runs the one call as the loop, warned at the user's line)."""
        ctx = self.ctx
        key = _key(impl, args, kwargs)
        if key is not None and key in _UNBATCHED_LIBRARY_CALLS:
            return None
        mark, inside = ctx.mark(), len(ctx.loops_inside)
        saved, ctx.settings = ctx.settings, ctx.settings.strict()
        try:
            done = self.user_call(impl, fn_node, args, kwargs, node, True, strict=True)
        except Exception:  # (NotBatchable, AstvmapError, or an error of ours in library code: its loop)
            ctx.rollback(mark, pending=True)
            del ctx.loops_inside[inside:]
            if key is not None:
                _UNBATCHED_LIBRARY_CALLS.add(key)
            return None
        finally:
            ctx.settings = saved
        if len(ctx.loops_inside) > inside and not saved.library:  # the user's call: say so there
            pieces = "; ".join(dict.fromkeys(ctx.loops_inside[inside:]))
            ctx.fallback_sites.setdefault(
                (getattr(node, "lineno", 0), getattr(node, "col_offset", 0)),
                f"`{_shown(node)}` runs a piece per example: {pieces}",
            )
            del ctx.loops_inside[inside:]
        return done

    def user_call(self, obj, fn_node, args, kwargs, node, batched, strict=False) -> Operand:
        ctx = self.ctx
        from ..frontend.source import function_source, unwrap

        base, pre_args, pre_kwargs = unwrap(obj)
        if not batched:
            self.check_unbatched_call(obj, args, kwargs)
            out_val, fresh, own = self._try_infer_user(base, pre_args, pre_kwargs, args, kwargs)
            return Operand(_call(fn_node, args, kwargs), out_val, fresh=fresh, own=own)
        if getattr(base, "__astvmap__", None) is not None:
            pre = (
                [
                    Operand(templates.index(ast.Attribute(fn_node, "args", ast.Load()), [i]), val_of(a))
                    for i, a in enumerate(pre_args)
                ]
                if pre_args
                else []
            )
            return self.nested_call(node, InnerVmap(*base.__astvmap__), pre + args, kwargs)
        try:
            src = function_source(base)
        except AstvmapError as e:
            if strict:
                raise
            site = CallSite(obj, node, args, kwargs, _rebuilder(node, fn_node, None))
            return self.fallback(site, str(e.msg), fn_node)
        if src.code is not None and src.code in ctx.stack:
            if strict:
                raise NotBatchable("a recursive call", node)
            site = CallSite(obj, node, args, kwargs, _rebuilder(node, fn_node, None))
            return self.fallback(site, "a recursive call", fn_node)
        vals = self._bind_params(src, args, kwargs, node, pre_args, pre_kwargs)
        if vals is None:  # (Python raises TypeError when it calls it, before its body runs: as written)
            return Operand(_call(fn_node, args, kwargs), UNKNOWN, raises=True)
        self.refuse_global_changes(src)
        spec = ctx.specializer.core(src, vals, ctx)
        self.bound_globals(getattr(spec, "assigns", frozenset()))
        self.follow_given(getattr(spec, "changed_params", {}), src, args, kwargs, len(pre_args))
        if not spec.per_example_loop:  # (its rewrite changed only what it handed back: the rest is as it was)
            self.followed.update(
                (id(a.node), a.node) for a in [*args, *kwargs.values()] if isinstance(a.node, ast.Name)
            )
        ctx.loops_inside += spec.loops_inside
        ctx.batched_work += 1
        ctx.value_errors += getattr(spec, "raises_by_value", True)
        callee = ctx.bind(spec.fn, f"{src.name}_vmap")
        call = _rewritten_call(obj, callee, fn_node, args, kwargs, bool(pre_args), bool(pre_kwargs))
        fresh, own = getattr(spec, "returns_fresh", False), getattr(spec, "returns_own", False)
        own = own and not pre_args and not pre_kwargs  # (a partial's or a bound method's are given here)
        return Operand(call, spec.out_val, fresh=fresh, own=own)

    def follow_given(self, changed: dict[str, Val], src, args, kwargs, lead: int) -> None:
        """The lists and dicts the callee changed (NOTE [list items], `Context.changed_params`): each
        argument name of this code takes what the callee left in its list (its own caller is told in
        turn, where it was given that list); a list displayed in the call is no one else's. Any other
        argument (an attribute's list, a default) cannot be followed: the call runs per example."""
        if not changed:
            return
        params = [a.arg for a in (*src.fdef.args.posonlyargs, *src.fdef.args.args)][lead:]
        given = {**dict(zip(params, args)), **kwargs}
        names = [a.node.id for a in [*args, *kwargs.values()] if isinstance(a.node, ast.Name)]
        for param, val in changed.items():
            a = given.get(param)
            if a is not None and isinstance(a.node, (ast.List, ast.Dict, ast.ListComp, ast.DictComp)):
                continue
            name = a.node.id if a is not None and isinstance(a.node, ast.Name) else None
            if (
                name is None
                or name not in self.env
                or self.masked  # (under a batched condition: every lane's list would change)
                or names.count(name) > 1  # (one list given twice: the callee took them for two)
                or (self.held_elsewhere(name) and not self.follows_given(name))
            ):
                # (each example's loop would change that one list: only the whole loop is right)
                raise NoPieceLoop(
                    f"a list or dict the call changes, given as `{param}`, is not followed here"
                )
            assert a is not None  # (a name was found)
            self.env[name] = val
            self.followed[id(a.node)] = a.node

    def _try_infer_user(self, base, pre_args, pre_kwargs, args, kwargs) -> tuple[Val, bool, bool]:
        from ..frontend.source import function_source

        try:
            src = function_source(base)
        except Exception:
            src = None  # (no source: what it changes is not known, as for any call of a C function)
        if src is not None:
            self.refuse_global_changes(src)  # (it runs once here, once per example in the loop)
        return self._infer_user(base, pre_args, pre_kwargs, args, kwargs)

    def _infer_user(self, base, pre_args, pre_kwargs, args, kwargs) -> tuple[Val, bool, bool]:
        """The Val an unbatched call to a user function returns (its rank helps later rules), and whether
        it is a new array (NOTE [fresh values]): the callee's own rewrite for unbatched arguments, which
        is cached; UNKNOWN when that fails."""
        from ..frontend.source import function_source

        try:
            src = function_source(base)
            if src.code is not None and src.code in self.ctx.stack:
                return UNKNOWN, False, False
            vals = self._bind_params(src, args, kwargs, self.ctx.node, pre_args, pre_kwargs)
            if vals is None:
                return UNKNOWN, False, False
            spec = self.ctx.specializer.core(src, vals, self.ctx)
            self.bound_globals(getattr(spec, "assigns", frozenset()))
            own = getattr(spec, "returns_own", False) and not pre_args and not pre_kwargs
            return spec.out_val, getattr(spec, "returns_fresh", False), own
        except ChangesGlobals:
            raise  # (what it calls changes module globals: it may not run once for the batch either)
        except Exception:
            return UNKNOWN, False, False

    def refuse_global_changes(self, src) -> None:
        """A call of a function whose change of a module global or a closure cell leaves another state when
        run again (`COUNT += 1`, `LOG.append(v)`) runs once per example in the loop, and each example's
        code after it sees the ones before it: only the whole function as the loop is right. A repeatable
        change (`memo[key] = value`) leaves what the loop's calls leave: what follows reads it as it is."""
        changed = state_changes(src, unrepeatable_globals(src.fdef))
        if changed:
            raise ChangesGlobals(
                f"`{src.name}` changes `{min(changed)}`, which outlives the call", self.ctx.node
            )
        self.bound_globals(state_changed(src))

    def touch_calls_in(self, body: list[ast.stmt]) -> None:
        """Before a loop: the globals the functions its body calls by name may change are read as they are
        when read, from the first iteration on (a later iteration runs after an earlier one's calls)."""
        from ..frontend.source import function_source

        for n in (m for s in body for m in ast.walk(s)):
            if not (isinstance(n, ast.Call) and isinstance(n.func, ast.Name)) or n.func.id in self.env:
                continue
            found, obj, _ = self.ctx.src.resolve(n.func.id)
            if found and isinstance(obj, types.FunctionType):
                try:
                    src = function_source(obj)
                except Exception:
                    continue
                self.bound_globals(state_changed(src))

    def bound_globals(self, assigns: frozenset[tuple[int, str]]) -> None:
        """A call ran code that may bind these module globals anew: what follows reads them as they are
        then (NOTE [constants]), and this function's callers learn it too (`Context.assigns`)."""
        self.ctx.touched |= assigns
        self.ctx.assigns |= assigns

    def _bind_params(self, src, args, kwargs, node, pre_args=(), pre_kwargs=None) -> dict[str, Val] | None:
        """{parameter of the callee `src`: Val} for a call of operands `args`, `kwargs` after the values a
        partial or a bound method passes first (binding.bind_vals); None for a call that does not fit
        (Python raises TypeError when the call runs, whatever the values, as the loop's would)."""
        arg_vals = [_constant(a) for a in args]
        kwarg_vals = {k: _constant(a) for k, a in kwargs.items()}
        try:
            return binding.bind_vals(src, arg_vals, kwarg_vals, lead=pre_args, lead_kwargs=pre_kwargs or {})
        except TypeError:
            return None

    def bound_params(self, src, args, kwargs, node) -> dict[str, Val]:
        """`_bind_params` where the call is the rewrite's own to make (a local function's, a class's
        `__init__`): one that does not fit is an error at its line."""
        try:
            return binding.bind_vals(
                src, [_constant(a) for a in args], {k: _constant(a) for k, a in kwargs.items()}
            )
        except TypeError as e:
            raise self.ctx.error(f"calling `{src.name}`: {e}", node) from None

    def partial_call(self, node, callee: Operand, p: LocalPartial, args, kwargs) -> Operand:
        """Call a partial made in this function: `f_vmap(*h.args, x, **h.keywords)`."""
        pre = [
            Operand(templates.index(ast.Attribute(callee.node, "args", ast.Load()), [i]), v)
            for i, v in enumerate(p.args)
        ]
        pre_kw = {
            k: Operand(templates.index(ast.Attribute(callee.node, "keywords", ast.Load()), [k]), v)
            for k, v in p.kwargs.items()
        }
        return self.call_object(
            p.fn, ast.Attribute(callee.node, "func", ast.Load()), pre + args, {**pre_kw, **kwargs}, node
        )

    # ---- local functions and nested vmap ---------------------------------------------------------------
    def local_call(self, node, callee: Operand, obj, args, kwargs) -> Operand:
        batched = any(a.batched for a in args) or any(a.batched for a in kwargs.values())
        if isinstance(obj, InnerVmap):
            lifted = [self.expr(ast.Name(n, ast.Load())) for n in obj.lifted]
            if not batched and not any(v.batched for v in lifted):
                return Operand(_call(callee.node, args, kwargs), UNKNOWN)
            return self.nested_call(node, obj, args, kwargs)
        src, lifted_names = self.lift(obj)
        lifted = [self.expr(ast.Name(n, ast.Load())) for n in lifted_names]
        vals = self.bound_params(src, lifted + args, kwargs, node)
        out = self._local_call(node, callee, src, lifted_names, lifted, vals, args, kwargs, batched)
        # (the free names it reads are lifted ones it is given: it may change their items)
        self.forget_given([*lifted, *args, *kwargs.values()], lambda: lists.may_change_containers(src.fdef))
        return out

    def _local_call(self, node, callee, src, lifted_names, lifted, vals, args, kwargs, batched) -> Operand:
        # called as written only when it reads its free names where they are: a name a batched branch
        # holds under another name (`b_then`) is passed to the lifted function instead
        verbatim = all(self.code_name(n) == n for n in lifted_names)
        if verbatim and not batched and not any(v.batched for v in lifted):
            try:
                out_val = self.ctx.specializer.core(src, vals, self.ctx).out_val
            except Exception:
                out_val = UNKNOWN
            return Operand(_call(callee.node, args, kwargs), out_val)
        spec = self.ctx.specializer.core(src, vals, self.ctx)
        fn = self.ctx.bind(spec.fn, f"{src.name}_vmap")
        return Operand(_call(fn, lifted + args, kwargs), spec.out_val)

    def lift(self, local: LocalFunction):
        """A FunctionSource for a local lambda/def whose free local names become leading parameters."""
        from ..frontend.source import FunctionSource

        node = local.node
        if isinstance(node, ast.Lambda):
            fdef = ast.FunctionDef(
                name=local.name, args=node.args, body=[ast.Return(node.body)], decorator_list=[], returns=None
            )
            ast.copy_location(fdef, node)
            ast.copy_location(fdef.body[0], node.body)
        else:
            fdef = node
        # Locals of this function and its own closure cells become parameters: the lifted function then
        # reads the values of this call, never cells captured when it was rewritten.
        free = activity.of_nodes([node]).reads  # the names the local function reads from this one
        loads = [n for n in free if n in self.env or n in self.ctx.src.cells]
        lifted_args = [ast.arg(n) for n in loads]
        new_args = ast.arguments(
            posonlyargs=[],
            args=lifted_args + fdef.args.posonlyargs + fdef.args.args,
            vararg=fdef.args.vararg,
            kwonlyargs=fdef.args.kwonlyargs,
            kw_defaults=fdef.args.kw_defaults,
            kwarg=fdef.args.kwarg,
            defaults=fdef.args.defaults,
        )
        lifted = ast.FunctionDef(
            name=fdef.name, args=new_args, body=fdef.body, decorator_list=[], returns=None
        )
        ast.copy_location(lifted, fdef)
        defaults = tuple(self._static_default(d) for d in fdef.args.defaults) or None
        src = FunctionSource(
            lifted,
            self.ctx.src.origin,
            self.ctx.src.globals,
            {},
            None,
            defaults,
            None,
            self.ctx.src.generated,
        )
        return src, loads

    def _static_default(self, node):
        value = ast.literal_eval(node) if isinstance(node, ast.Constant) else NO_STATIC
        if value is NO_STATIC:
            raise self.ctx.fail("a local function with a computed default value")
        return value

    def vmap_expr(self, node, fn_node, args, kwargs) -> Operand:
        """`vmap(g, in_axes, out_axes)` as a value: static axes, and `g` known when rewriting."""
        ctx = self.ctx
        names = ["fun", "in_axes", "out_axes"]
        bound = dict(zip(names, args))
        bound.update(kwargs)
        g = bound.get("fun")
        if g is None:
            raise ctx.fail("`vmap` used as a decorator factory inside a batched function")
        axes = {}
        for k in ("in_axes", "out_axes", "axis_size"):
            op = bound.get(k)
            if op is not None and not op.is_static:
                raise ctx.fail(f"`{k}` of a nested vmap must be a literal")
            axes[k] = (0 if k != "axis_size" else None) if op is None else op.static
        extra = set(bound) - {"fun", "in_axes", "out_axes", "axis_size", "fallback"}
        if extra:
            raise ctx.fail(f"nested vmap with {sorted(extra)}")
        if isinstance(g.val.obj, LocalFunction):
            fun, lifted = g.val.obj, tuple(self.lift(g.val.obj)[1])
        elif g.is_static:
            fun, lifted = g.static, ()
        else:
            raise ctx.fail("the function given to a nested vmap is not known when the code is rewritten")
        inner = InnerVmap(fun, axes["in_axes"], axes["out_axes"], axes["axis_size"], lifted)
        return Operand(_call(fn_node, args, kwargs), Val(False, None, Kind.CALLABLE, obj=inner))

    def nested_call(self, node, inner: InnerVmap, args, kwargs) -> Operand:
        """Call a vmapped function with operands batched by the outer vmap: re-transform the inner
        vmap's complete batched function with the outer batch (DESIGN "Calls and nesting")."""
        ctx = self.ctx
        if kwargs:
            raise ctx.fail("keyword arguments to a nested vmap")
        lifted = [self.expr(ast.Name(n, ast.Load())) for n in inner.lifted]
        if isinstance(inner.fun, LocalFunction):
            inner = replace(inner, fun=self.lift(inner.fun)[0])
        full = ctx.specializer.full_source(inner, [a.val for a in lifted + args], ctx, node)
        vals = self.bound_params(full, lifted + args, {}, node)
        spec = ctx.specializer.core(full, vals, ctx)
        fn = ctx.bind(spec.fn, full.name)
        return Operand(_call(fn, lifted + args, {}), spec.out_val)


def _constant(a: Operand) -> Val:
    """The Val a callee's parameter gets from argument `a`: a constant where the caller knows its value
    (a literal, a global constant: NOTE [constants]), so the callee's `if axis is None` takes one path."""
    if a.val.is_const or not a.is_static or not is_constant(a.static):
        return a.val
    return a.val.with_(const=a.static)
