"""One specialization: a function source plus the Val of each parameter -> a compiled batched function.

The cache key is the user's code object plus everything the generated code bakes in (the parameter
Vals, the identity of callable arguments); each entry also lists the globals and closure cells the
rewrite read (`deps`), re-checked on every lookup: `gram` called with another `kernel_func` shares
`__code__` but not the transform.
"""

from __future__ import annotations

import ast
import contextlib
import types
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ..analysis.effects import may_act_outside
from ..codegen.emit import emit
from ..codegen.loader import load, rebind
from ..errors import PerformanceWarning
from ..frontend import passes
from ..frontend.source import ASTVMAP_SOURCE, FunctionSource
from ..kit.origins import Origin
from ..rules.registry import lookup
from ..rules.values import Kind, Val, const_key
from .calls import is_library_code, is_library_file, package_path
from .compound import RESTORING_MANAGERS
from .context import RECORDED, Context, ParentContext, Recorded, Settings
from .folding import ABSENT
from .nesting import state_changed
from .vectorize import Vectorizer


@dataclass
class Specialization:
    fn: types.FunctionType
    text: str
    out_val: Val
    source: FunctionSource  # the generated function as a source (for nested re-transforms)
    line_map: dict
    filename: str
    deps: list = field(default_factory=list)
    keepalive: list = field(default_factory=list)
    recorded: Recorded = field(default_factory=Recorded)  # NOTE [recorded facts], its callees' included
    per_example_loop = False  # generated code (api._LoopSpec, the whole function as the loop, says True)
    if TYPE_CHECKING:  # set by core() once the function is loaded (not fields at run time)
        stages: dict[str, str] = field(init=False)  # the code after each stage (`astvmap show --stage`)
        callees: list[object] = field(init=False)  # the generated functions it calls
        reads: list[tuple] = field(init=False)  # what its rewrite read, as Context.deps holds it
        loops_inside: list[str] = field(init=False)  # library code's calls run per example (Context)
        changed_params: dict[str, Val] = field(init=False)  # lists given to it it changed (Context)
        returns_fresh: bool = field(init=False)  # every return gives a new array (Context)
        returns_own: bool = field(init=False)  # every return gives what it made or was given (Context)
        assigns: frozenset[tuple[int, str]] = field(init=False)  # globals it may bind (Context.assigns)
        raises_by_value: bool = field(init=False)  # may raise for some examples only (compound.visit_Try)
        acts_outside: bool = field(init=False)  # running it may change what the caller sees (effects.py)
        batched_return: ast.AST | None = field(init=False)  # a return of a batched value
        user_filename: str = field(init=False)


_IMMUTABLE = (
    types.ModuleType,
    types.FunctionType,
    types.BuiltinFunctionType,
    type,
    np.ufunc,
    int,
    float,
    complex,
    str,
    bytes,
    bool,
    type(None),
)
_CACHE: dict = {}
FILES: dict = {}  # generated filename -> (line map to user lines, user Origin), for error notes
_MISSING = object()
RAISES_BY_VALUE = (
    "__astvmap_raises_by_value__"  # on a generated function: may it raise for some examples only?
)
_NOTED = "_astvmap_noted"  # marks an exception annotate_error has added its note to


# Types whose values a rewrite knows by identity alone (checked first: a module's dict of them, such as
# `sys.modules`, is read by every array-API helper, and validated on every call)
_BY_IDENTITY = frozenset(
    {types.ModuleType, types.FunctionType, types.BuiltinFunctionType, type, types.MethodWrapperType}
)


def signature(obj):
    """What a rewrite may bake in about a value it read: ranks and kinds of arrays, values of small
    constants, identity of everything else."""
    if type(obj) in _BY_IDENTITY:
        return ("id", id(obj))
    if isinstance(obj, (np.ndarray, np.generic)):
        return ("a", obj.ndim, obj.dtype.kind)
    if isinstance(obj, (float, complex)):
        return ("v", type(obj), repr(obj))  # (-0.0 is not 0.0: a constant of the rewrite)
    if obj is None or isinstance(obj, (bool, int, str, bytes)):
        return ("v", type(obj), obj)
    if isinstance(obj, (tuple, list)):
        return ("t", type(obj), tuple(signature(o) for o in obj))
    if type(obj) in (set, frozenset):
        try:  # (by its members, as a tuple's by its items)
            return ("s", type(obj), frozenset(const_key(o) for o in obj))
        except TypeError:
            return ("id", id(obj))
    if isinstance(obj, dict):
        try:
            return ("d", tuple(obj), tuple(signature(v) for v in obj.values()))
        except TypeError:
            return ("id", id(obj))
    if isinstance(obj, types.MethodType):  # (made anew on every attribute read)
        return ("m", id(obj.__func__), id(obj.__self__))
    return ("id", id(obj))


def _val_ids(v: Val, out: list):
    if v.obj is not None:
        out.append(v.obj)
    for e in v.elts or ():
        _val_ids(e, out)
    if v.item is not None:
        _val_ids(v.item, out)


def cache_key(src: FunctionSource, vals: dict, settings: Settings):
    objs: list[object] = []
    for v in vals.values():
        _val_ids(v, objs)
    ident = src.code if src.code is not None else id(src.fdef)
    return (
        ident,
        id(src.globals),
        tuple(vals.items()),
        tuple(id(o) for o in objs),
        settings.fallback,
        settings.randomness,
        settings.nested,
        settings.library,
    ), objs


def _valid(spec: Specialization, src: FunctionSource) -> bool:
    for where, scope, name, sig, seen in spec.deps:
        if where == "global":
            obj = scope.get(name, _MISSING)
        elif where == "attr":
            try:
                obj = getattr(scope, name, _MISSING)
            except Exception:  # a property that raises now
                obj = _MISSING
        elif where == "topcell":
            cell = src.cells.get(name)
            try:
                obj = cell.cell_contents if cell is not None else _MISSING
            except ValueError:
                obj = _MISSING
        else:
            try:
                obj = scope.cell_contents
            except ValueError:
                obj = _MISSING
        if obj is seen and isinstance(obj, _IMMUTABLE):
            continue  # the very object the rewrite read, and it cannot have changed
        if seen is ABSENT:
            if obj is _MISSING:
                continue  # (an attribute that was not there, and still is not)
            return False
        if obj is _MISSING or signature(obj) != sig:
            return False
    return True


def core(
    src: FunctionSource,
    vals: dict,
    parent: ParentContext | None = None,
    settings: Settings | None = None,
    use_cache: bool = True,
    axes: str | None = None,
) -> Specialization:
    """The batched function of `src` for parameter Vals `vals` (batched values at axis 0, outputs raw).

    `axes` (the top-level call's `in_axes=..., out_axes=...`) goes into the header."""
    settings = settings or (parent.settings if parent is not None else Settings())
    use_cache = use_cache and src.code is not None  # lifted and generated sources are made afresh
    vals = _in_order(src, vals)
    touched = frozenset(getattr(parent, "touched", ()))  # (globals its caller's code may have bound anew)
    key, objs = cache_key(src, vals, settings)
    key = (*key, touched) if touched else key
    cached = _cached(key, src) if use_cache else None
    if cached is not None:
        if parent is not None:  # what the callee's rewrite read, the caller's depends on too
            parent.deps.extend(cached.reads)
        return cached
    stack = (parent.stack if parent is not None else ()) + ((src.code,) if src.code is not None else ())
    ctx = Context(src, settings, stack)
    ctx.specializer = _SPECIALIZER
    ctx.touched = set(touched)
    ctx.assigns = set(state_changed(src))  # (not a module whose `np.add` reads like a set's)
    fdef, out_val, stages = _rewrite(src, vals, ctx)
    spec = _specialization(src, ctx, fdef, out_val, stages, _header(src, vals, axes), objs)
    if parent is not None:
        parent.deps.extend(ctx.deps)
    spec.loops_inside = ctx.loops_inside
    spec.changed_params = ctx.changed_params
    spec.returns_fresh = ctx.returns_fresh
    spec.returns_own = ctx.returns_own
    spec.assigns = frozenset(ctx.assigns)
    spec.raises_by_value = bool(ctx.value_errors) or bool(ctx.fallback_sites) or bool(ctx.loops_inside)
    setattr(spec.fn, RAISES_BY_VALUE, spec.raises_by_value)  # (read by compound.visit_Try)
    for (line, _), msg in sorted(ctx.fallback_sites.items()):
        if settings.library:  # (reported at the user's line: NOTE [library source])
            what, _, why = msg.partition(" runs as a per-example loop: ")
            spec.loops_inside.append(f"{what} ({package_path(src.origin.filename)}, line {line}: {why})")
        else:
            warnings.warn_explicit(f"{settings.label}: {msg}", PerformanceWarning, src.origin.filename, line)
    if use_cache:
        _CACHE.setdefault(key, []).append(spec)
    return spec


def _in_order(src: FunctionSource, vals: dict) -> dict:
    """`vals` in the order of the source's parameters (the cache key and the header follow it)."""
    a = src.fdef.args
    order = (
        [p.arg for p in a.posonlyargs + a.args]
        + ([a.vararg.arg] if a.vararg else [])
        + [p.arg for p in a.kwonlyargs]
        + ([a.kwarg.arg] if a.kwarg else [])
    )
    return {**{n: vals[n] for n in order if n in vals}, **vals}


def _rewrite(src: FunctionSource, vals: dict, ctx: Context) -> tuple[ast.FunctionDef, Val, dict[str, str]]:
    """The frontend's passes, then the walker: the batched function's tree, its result's Val, and the
    code after each stage so far ("frontend", one entry per pass, "normalize", "vectorize")."""
    frontend = passes.PassContext(ctx.namer, src.origin, ctx.settings.label)
    normalized = passes.run(src.fdef, frontend)  # a copy: the cached src.fdef never changes
    stages = frontend.stages
    vectorizer = Vectorizer(ctx)
    fdef, out_val = vectorizer.run(normalized, vals)
    ctx.return_sites = vectorizer.return_sites
    if ctx.deferred_errors:
        raise next(iter(ctx.deferred_errors.values()))
    stages["vectorize"] = ast.unparse(fdef)
    return fdef, out_val, stages


def _specialization(src, ctx: Context, fdef, out_val: Val, stages: dict, header, objs) -> Specialization:
    """Emit and load the batched function; the Specialization that holds it and what it was made from."""
    text, line_map = emit(fdef, header, src.origin, comment_lines=not src.generated)
    stages["final"] = text
    stages["annotate"] = emit(fdef, header, src.origin, comment_lines=not src.generated, annotate=True)[0]
    fn, full, filename, offset = load(text, fdef.name, ctx.free, src)
    spec = Specialization(
        fn,
        text,
        out_val,
        _generated_source(fn, full, filename, fdef.name, src, ctx),
        {k + offset: v for k, v in line_map.items()},
        filename,
        _deps(ctx, src),
        objs + [obj for _, _, _, obj in ctx.deps],  # ids stay unique
        ctx.recorded,
    )
    spec.stages = stages
    spec.reads = list(ctx.deps)
    spec.callees = [v for v in ctx.free.values() if hasattr(v, ASTVMAP_SOURCE)]
    spec.acts_outside = _acts_outside(src, any(_user_code(v) for v in ctx.free.values()))
    fn.__astvmap_text__ = text
    fn.__astvmap_callees__ = spec.callees
    fn.__astvmap_acts_outside__ = spec.acts_outside
    RECORDED[fn.__code__] = ctx.recorded
    if not src.generated:
        FILES[filename] = (spec.line_map, src.origin)
    spec.batched_return = next((n for n, v in ctx.return_sites if v.batched), None)
    spec.user_filename = src.origin.filename
    setattr(fn, ASTVMAP_SOURCE, spec.source)
    return spec


def _acts_outside(src: FunctionSource, calls_user: bool) -> bool:
    """effects.may_act_outside of `src`, its calls judged by the objects they call."""
    modules = {n for n in _free_names(src) if isinstance(src.resolve(n)[1], types.ModuleType)}
    return may_act_outside(src.fdef, calls_user, _pure_calls(src), frozenset(modules))


def _free_names(src: FunctionSource) -> set[str]:
    return {n.id for n in ast.walk(src.fdef) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


# Methods of arrays (and by convention of any value) that make a new value and change nothing.
_PURE_METHODS = frozenset({"tolist", "item", "copy", "astype", "tobytes", "view", "flatten", "ravel"})


def _pure_calls(src: FunctionSource):
    """Whether a call of `src` is known to change nothing: the object it calls (a global or builtin, or an
    attribute of a module or class) has a pure batching rule that draws no random numbers, or it is a
    method of a value with such a rule on arrays (`x.sum()`), or a context manager of a `with` that
    restores what it sets (`np.errstate`, `contextlib.suppress`)."""
    local = {n.id for n in ast.walk(src.fdef) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    local |= {a.arg for a in ast.walk(src.fdef.args) if isinstance(a, ast.arg)}

    def resolve(node: ast.expr):
        if isinstance(node, ast.Name):
            found, obj, _ = src.resolve(node.id) if node.id not in local else (False, None, None)
            return obj if found else None
        if isinstance(node, ast.Attribute):
            base = resolve(node.value)
            if isinstance(base, (types.ModuleType, type)):
                return getattr(base, node.attr, None)
        return None

    managers = {id(i.context_expr) for n in ast.walk(src.fdef) if isinstance(n, ast.With) for i in n.items}

    def pure(call: ast.Call) -> bool:
        obj = resolve(call.func)
        if id(call) in managers and any(obj is m for m in RESTORING_MANAGERS):
            return True  # `with np.errstate(...)`: a setting restored at the end of the block
        if obj is None and isinstance(call.func, ast.Attribute):
            if call.func.attr in _PURE_METHODS:
                return True
            obj = getattr(np.ndarray, call.func.attr, None)  # a method of a value: pure only as an array's
        rule = lookup(obj) if obj is not None else None
        return rule is not None and rule.pure and not rule.random

    return pure


def _user_code(obj) -> bool:
    """Does calling `obj` run code of the user's that may act outside (a generated function whose source
    may, or a user's function run as written by a loop)?"""
    if hasattr(obj, ASTVMAP_SOURCE):
        return getattr(obj, "__astvmap_acts_outside__", True)
    return isinstance(obj, types.FunctionType) and not is_library_code(obj)


def _cached(key, src: FunctionSource) -> Specialization | None:
    """A cached specialization still valid for `src` (NOTE [static batchedness]), or None."""
    for spec in _CACHE.get(key, ()):
        if _valid(spec, src):
            return _rebound(spec, src) if src.cells and spec.source.code is None else spec
    return None


def full_text(spec) -> str:
    """The specialization's text followed by the generated functions it calls (each once)."""
    out, seen, todo = [spec.text], {id(spec.fn)}, list(getattr(spec, "callees", ()))
    while todo:
        fn = todo.pop(0)
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        out.append(fn.__astvmap_text__)
        todo += list(fn.__astvmap_callees__)
    return "\n".join(out)


def _rebound(spec, src):
    fn = rebind(spec.fn, src.cells)
    if fn is spec.fn:
        return spec
    new = Specialization(
        fn,
        spec.text,
        spec.out_val,
        spec.source,
        spec.line_map,
        spec.filename,
        spec.deps,
        spec.keepalive,
        spec.recorded,
    )
    made: tuple[str, ...] = ("stages", "reads", "callees", "acts_outside", "loops_inside", "raises_by_value")
    made += ("changed_params", "returns_fresh", "returns_own", "assigns")
    for made_later in made:
        if hasattr(spec, made_later):
            setattr(new, made_later, getattr(spec, made_later))
    return new


def _deps(ctx: Context, top: FunctionSource) -> list:
    """What the rewrite read, each once (a value read by many callees is checked once per call)."""
    out = []
    seen = set()
    for where, src, name, obj in ctx.deps:
        scope = src if where == "attr" else src.globals if where == "global" else src.cells.get(name)
        key = (where, id(scope), name, id(obj))
        if key in seen:
            continue
        seen.add(key)
        if where == "attr":  # src is the object whose attribute was read
            out.append(("attr", src, name, signature(obj), obj))
            continue
        if src.generated and where == "cell":
            continue  # our own free names: fixed when the code was made
        if where == "global":
            out.append(("global", src.globals, name, signature(obj), obj))
        elif where == "cell":
            if src.code is not None and src.code is top.code:
                out.append(("topcell", None, name, signature(obj), obj))
            else:
                out.append(("cell", src.cells[name], name, signature(obj), obj))
    return out


def _generated_source(fn, full, filename, name, src, ctx) -> FunctionSource:
    tree = ast.parse(full, filename)
    factory = tree.body[0]
    fdef = next(n for n in factory.body if isinstance(n, ast.FunctionDef) and n.name == name)
    cells = dict(zip(fn.__code__.co_freevars, fn.__closure__ or ()))
    return FunctionSource(
        fdef,
        Origin(filename, fdef.lineno),
        src.globals,
        cells,
        None,
        fn.__defaults__,
        fn.__kwdefaults__,
        generated=True,
    )


def _header(src, vals, axes) -> list[str]:
    where = f"{src.origin.display_name}:{src.origin.firstlineno}" if not src.generated else "nested vmap"
    parts = ", ".join(f"{name}: {_describe(v)}" for name, v in vals.items()) or "no arguments"
    if axes:
        return [
            f"astvmap: {src.name} ({where}), {axes}; per example {parts}.",
            "Batched values carry the batch axis first. Do not edit.",
        ]
    return [
        f"astvmap: {src.name} ({where}) called with {parts}.",
        "Batched values carry the batch axis first. Do not edit.",
    ]


def _describe(v: Val) -> str:
    if v.elts is not None and v.kind in (Kind.TUPLE, Kind.LIST, Kind.DICT):
        inner = ", ".join(_describe(e) for e in v.elts)
        return (
            f"({inner})"
            if v.kind == Kind.TUPLE
            else f"[{inner}]"
            if v.kind == Kind.LIST
            else "{" + inner + "}"
        )
    if v.kind in (Kind.ARRAY, Kind.SCALAR):
        nd = "?" if v.ndim is None else v.ndim
        return f"{'batched' if v.batched else 'unbatched'} ndim {nd}"
    return v.kind.value


class _Specializer:
    """What the walker calls back into (a Context's `specializer`): `core`, `full_source`, and
    `acts_outside`."""

    core = staticmethod(core)

    @staticmethod
    def acts_outside(src: FunctionSource) -> bool:
        """Could `src`, run as written, change what its caller sees (an argument, a global)?"""
        calls_user = any(found and _user_code(obj) for found, obj, _ in map(src.resolve, _free_names(src)))
        return _acts_outside(src, calls_user)

    @staticmethod
    def full_source(*args) -> FunctionSource:
        """inner_vmap.full_source (an inner vmap's complete batched function) built on `core`: that
        module is given `core` and imports nothing that drives the walker, so importing it makes no cycle."""
        from .inner_vmap import full_source

        return full_source(core, *args)


_SPECIALIZER = _Specializer()


def user_line(e: BaseException):
    """(origin, line) of the user's line whose batched form raised `e` (the innermost generated frame
    of a user's function), or None."""
    tb = e.__traceback__
    frames = []
    while tb is not None:
        frames.append((tb.tb_frame.f_code.co_filename, tb.tb_lineno))
        tb = tb.tb_next
    for filename, line in reversed(frames):
        hit = FILES.get(filename)
        if hit is not None and not is_library_file(hit[1].filename):  # (the user's, not NumPy's source)
            line_map, origin = hit
            user = line_map.get(line)
            return None if user is None else (origin, user)
    return None


def annotate_error(e: BaseException):
    """Add a note naming the user line whose batched form raised (the exception is otherwise unchanged)."""
    where = user_line(e)
    if where is not None and not getattr(e, _NOTED, False):
        origin, user = where
        e.add_note(
            f"astvmap: raised by the batched form of {origin.display_name}, line {user}: {origin.line(user)}"
        )
        with contextlib.suppress(AttributeError):
            setattr(e, _NOTED, True)
