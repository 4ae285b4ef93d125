"""One specialization: a function source plus the Val of each parameter -> a compiled batched function.

The cache key is the user's code object plus everything the generated code bakes in (the parameter
Vals, the identity of callable arguments); each entry also lists the globals and closure cells the
rewrite read (`deps`), re-checked on every lookup: `gram` called with another `kernel_func` shares
`__code__` but not the transform.
"""
from __future__ import annotations

import ast
import builtins
import keyword
import types
import warnings
from dataclasses import dataclass, field

import numpy as np

from .. import runtime
from ..codegen.emit import emit
from ..codegen.loader import load, rebind
from ..errors import AstvmapError, PerformanceWarning, error_at
from ..frontend import fence
from ..frontend.source import ASTVMAP_SOURCE, FunctionSource, function_source, unwrap
from ..kit.naming import Namer
from ..kit.origins import Origin
from ..rules.values import Kind, Val
from .context import Context, Settings
from .vectorize import Vectorizer


@dataclass
class Specialization:
    fn: types.FunctionType
    text: str
    out_val: Val
    source: FunctionSource           # the generated function as a source (for nested re-transforms)
    line_map: dict
    filename: str
    deps: list = field(default_factory=list)
    keepalive: list = field(default_factory=list)


_IMMUTABLE = (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, type, np.ufunc, int, float,
              complex, str, bytes, bool, type(None))
_CACHE: dict = {}
FILES: dict = {}        # generated filename -> (line map to user lines, user Origin), for error notes
_MISSING = object()


def signature(obj):
    """What a rewrite may bake in about a value it read: ranks and kinds of arrays, values of small
    constants, identity of everything else."""
    if isinstance(obj, (np.ndarray, np.generic)):
        return ("a", obj.ndim, obj.dtype.kind)
    if obj is None or isinstance(obj, (bool, int, float, complex, str, bytes)):
        return ("v", type(obj), obj)
    if isinstance(obj, (tuple, list)):
        return ("t", type(obj), tuple(signature(o) for o in obj))
    if isinstance(obj, dict):
        try:
            return ("d", tuple(obj), tuple(signature(v) for v in obj.values()))
        except TypeError:
            return ("id", id(obj))
    return ("id", id(obj))


def _val_ids(v: Val, out: list):
    if v.obj is not None:
        out.append(v.obj)
    for e in v.elts or ():
        _val_ids(e, out)
    if v.item is not None:
        _val_ids(v.item, out)


def cache_key(src: FunctionSource, vals: dict, settings: Settings):
    objs = []
    for v in vals.values():
        _val_ids(v, objs)
    ident = src.code if src.code is not None else id(src.fdef)
    return (ident, id(src.globals), tuple(vals.items()), tuple(id(o) for o in objs),
            settings.fallback, settings.randomness), objs


def _valid(spec: Specialization, src: FunctionSource) -> bool:
    for where, scope, name, sig, seen in spec.deps:
        if where == "global":
            obj = scope.get(name, _MISSING)
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
            continue              # the very object the rewrite read, and it cannot have changed
        if obj is _MISSING or signature(obj) != sig:
            return False
    return True


def core(src: FunctionSource, vals: dict, parent: Context | None = None, settings: Settings | None = None,
         use_cache: bool = True, axes: str | None = None) -> Specialization:
    """The batched function of `src` for parameter Vals `vals` (batched values at axis 0, outputs raw).

    `axes` (the top-level call's `in_axes=..., out_axes=...`) goes into the header."""
    settings = settings or (parent.settings if parent is not None else Settings())
    use_cache = use_cache and src.code is not None     # lifted and generated sources are made afresh
    a = src.fdef.args
    order = [p.arg for p in a.posonlyargs + a.args] + ([a.vararg.arg] if a.vararg else []) + \
        [p.arg for p in a.kwonlyargs] + ([a.kwarg.arg] if a.kwarg else [])
    vals = {**{n: vals[n] for n in order if n in vals}, **vals}
    key, objs = cache_key(src, vals, settings)
    if use_cache:
        for spec in _CACHE.get(key, ()):
            if _valid(spec, src):
                if src.cells and spec.source.code is None:
                    return _rebound(spec, src)
                return spec
    stack = (parent.stack if parent is not None else ()) + ((src.code,) if src.code is not None else ())
    cx = Context(src, settings, stack)
    cx.specializer = _SPECIALIZER
    fence.run(src.fdef, src.origin.filename, settings.label)
    stages = {"frontend": ast.unparse(src.fdef)}
    stages["normalize"] = stages["frontend"]
    vectorizer = Vectorizer(cx)
    fdef, out_val = vectorizer.run(src.fdef, vals)
    cx.return_sites = vectorizer.return_sites
    if cx.deferred_errors:
        raise next(iter(cx.deferred_errors.values()))
    stages["vectorize"] = ast.unparse(fdef)
    header = _header(src, vals, axes)
    text, line_map = emit(fdef, header, src.origin, comment_lines=not src.generated)
    stages["final"] = text
    stages["annotate"] = emit(fdef, header, src.origin, comment_lines=not src.generated, annotate=True)[0]
    fn, full, filename, offset = load(text, fdef.name, cx.free, src)
    spec = Specialization(fn, text, out_val, None, {k + offset: v for k, v in line_map.items()}, filename,
                          _deps(cx, src), objs + [obj for _, _, _, obj in cx.deps])   # ids stay unique
    spec.stages = stages
    spec.callees = [v for v in cx.free.values() if hasattr(v, ASTVMAP_SOURCE)]
    fn.__astvmap_text__ = text
    fn.__astvmap_callees__ = spec.callees
    spec.source = _generated_source(fn, full, filename, fdef.name, src, cx)
    if not src.generated:
        FILES[filename] = (spec.line_map, src.origin)
    spec.batched_return = next((n for n, v in cx.return_sites if v.batched), None)
    spec.user_filename = src.origin.filename
    setattr(fn, ASTVMAP_SOURCE, spec.source)
    if parent is not None:
        parent.deps += [d for d in cx.deps]
    for (line, _), msg in sorted(cx.fallback_sites.items()):
        warnings.warn_explicit(f"{settings.label}: {msg}", PerformanceWarning, src.origin.filename, line)
    if use_cache:
        _CACHE.setdefault(key, []).append(spec)
    return spec


def full_text(spec) -> str:
    """The specialization's text followed by the generated functions it calls (each once)."""
    out, seen, todo = [spec.text], {id(spec.fn)}, list(getattr(spec, "callees", ()))
    while todo:
        fn = todo.pop(0)
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        out.append(fn.__astvmap_text__)
        todo += [v for v in fn.__astvmap_callees__]
    return "\n".join(out)


def _rebound(spec, src):
    fn = rebind(spec.fn, src.cells)
    if fn is spec.fn:
        return spec
    return Specialization(fn, spec.text, spec.out_val, spec.source, spec.line_map, spec.filename, spec.deps,
                          spec.keepalive)


def _deps(cx: Context, top: FunctionSource) -> list:
    out = []
    for where, src, name, obj in cx.deps:
        if src.generated and where == "cell":
            continue              # our own free names: fixed when the code was made
        if where == "global":
            out.append(("global", src.globals, name, signature(obj), obj))
        elif where == "cell":
            if src.code is not None and src.code is top.code:
                out.append(("topcell", None, name, signature(obj), obj))
            else:
                out.append(("cell", src.cells[name], name, signature(obj), obj))
    return out


def _generated_source(fn, full, filename, name, src, cx) -> FunctionSource:
    tree = ast.parse(full, filename)
    factory = tree.body[0]
    fdef = next(n for n in factory.body if isinstance(n, ast.FunctionDef) and n.name == name)
    cells = dict(zip(fn.__code__.co_freevars, fn.__closure__ or ()))
    return FunctionSource(fdef, Origin(filename, fdef.lineno), src.globals, cells, None, fn.__defaults__,
                          fn.__kwdefaults__, generated=True)


def _header(src, vals, axes) -> list[str]:
    where = f"{src.origin.display_name}:{src.origin.firstlineno}" if not src.generated else "nested vmap"
    parts = ", ".join(f"{name}: {_describe(v)}" for name, v in vals.items()) or "no arguments"
    if axes:
        return [f"astvmap: {src.name} ({where}), {axes}; per example {parts}.",
                "Batched values carry the batch axis first. Do not edit."]
    return [f"astvmap: {src.name} ({where}) called with {parts}.",
            "Batched values carry the batch axis first. Do not edit."]


def _describe(v: Val) -> str:
    if v.elts is not None and v.kind in (Kind.TUPLE, Kind.LIST, Kind.DICT):
        inner = ", ".join(_describe(e) for e in v.elts)
        return f"({inner})" if v.kind == Kind.TUPLE else f"[{inner}]" if v.kind == Kind.LIST else "{" + inner + "}"
    if v.kind in (Kind.ARRAY, Kind.SCALAR):
        nd = "?" if v.ndim is None else v.ndim
        return f"{'batched' if v.batched else 'unbatched'} ndim {nd}"
    return v.kind.value


# ---- nesting ------------------------------------------------------------------------------------------
def full_source(fun, n_lifted: int, in_axes, out_axes, axis_size, arg_vals: list, parent: Context, node):
    """The complete batched function of `vmap(fun, in_axes, out_axes)` for per-example arguments of Vals
    `arg_vals` (as one outer example sees them), as a FunctionSource a further vmap can rewrite:
    entry moves, the core call, exit moves and broadcasts, all in plain NumPy."""
    label = parent.settings.label
    pre_args, pre_kwargs = (), {}
    if isinstance(fun, FunctionSource):
        base_src = fun
    else:
        base, pre_args, pre_kwargs = unwrap(fun)
        inner = getattr(base, "__astvmap__", None)
        if inner is not None:
            base_src = None
        else:
            base_src = function_source(base)
    # Parameter names as the inner vmap's user sees them.
    if base_src is not None:
        a = base_src.fdef.args
        names = [p.arg for p in a.posonlyargs + a.args][len(pre_args):]
    else:
        names = [f"arg{i}" for i in range(len(arg_vals))]
    names = names[:len(arg_vals)]
    if len(names) < len(arg_vals):
        names += [f"arg{i}" for i in range(len(names), len(arg_vals))]
    explicit = len(arg_vals) - n_lifted
    if isinstance(in_axes, (list, tuple)):
        if len(in_axes) != explicit:
            raise error_at(f"{label}: a nested vmap's in_axes has {len(in_axes)} entries but it is called with "
                           f"{explicit} arguments", node, parent.filename)
        axes = [None] * n_lifted + list(in_axes)
    else:
        axes = [None] * n_lifted + [in_axes] * explicit
    inner_vals = []
    for name, v, ax in zip(names, arg_vals, axes):
        inner_vals.append(_mapped_val(v.with_(batched=False) if v.kind != Kind.TUPLE else _unbatch(v), ax,
                                      name, label, node, parent))
    namer = Namer(set(names) | {"np", "av__"})
    free = {"np": np, "av__": runtime}
    if base_src is None:
        inner_src = full_source(inner[0], 0, inner[1], inner[2], inner[3],
                                [val for val in inner_vals], parent, node)
        base_src = inner_src
    vals = _bind(base_src, pre_args, pre_kwargs, names, inner_vals)
    spec = core(base_src, vals, parent)
    core_name = namer.fresh(f"{base_src.name}_vmap")
    free[core_name] = spec.fn
    lines = []
    bname = None
    for name, ax in zip(names, axes):
        if ax is None:
            continue
        if isinstance(ax, int):
            if ax != 0:
                lines.append(f"{name} = np.moveaxis({name}, {ax}, 0)")
            if bname is None:
                bname = namer.fresh("B")
                lines.append(f"{bname} = {name}.shape[0]")
        else:
            lines.append(f"{name} = av__.move_tree({name}, {ax!r})")
    if bname is None:
        if axis_size is None:
            raise error_at(f"{label}: a nested vmap maps no argument; pass axis_size=", node, parent.filename)
        bname = namer.fresh("B")
        lines.append(f"{bname} = {int(axis_size)}")
    if pre_args or pre_kwargs:
        pname = namer.fresh("bound")
        free[pname] = functools_partial_holder(pre_args, pre_kwargs)
        call = f"{core_name}(*{pname}.args, {', '.join(names)}, **{pname}.keywords)"
    else:
        call = f"{core_name}({', '.join(names)})"
    out = namer.fresh("out")
    lines.append(f"{out} = {call}")
    lines.append(f"return {_exit(out, spec.out_val, out_axes, bname, label, node, parent)}")
    if f"{bname})" not in lines[-1]:
        lines = [l for l in lines if not l.startswith(f"{bname} = ")]
    fname = namer.fresh(base_src.name + ("_" if keyword.iskeyword(base_src.name) else ""))
    text = f"def {fname}({', '.join(names)}):\n" + "".join(f"    {l}\n" for l in lines)
    filename = f"<astvmap nested {fname}>"
    import linecache
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    fdef = ast.parse(text, filename).body[0]
    cells = {k: types.CellType(v) for k, v in free.items()}
    return FunctionSource(fdef, Origin(filename, 1), {"__builtins__": builtins}, cells, None, None, None,
                          generated=True)


class functools_partial_holder:
    """Holds a partial's bound arguments for nested generated code (`bound.args`, `bound.keywords`)."""

    def __init__(self, args, keywords):
        self.args, self.keywords = tuple(args), dict(keywords)


def _unbatch(v: Val) -> Val:
    if v.elts is not None:
        return Val(False, v.ndim, v.kind, v.dtype, tuple(_unbatch(e) for e in v.elts), v.keys)
    return v.with_(batched=False)


def _mapped_val(v: Val, ax, name, label, node, parent) -> Val:
    if ax is None:
        return v
    if isinstance(ax, int):
        if v.kind in (Kind.TUPLE, Kind.LIST, Kind.DICT) and v.elts is not None:
            return Val(True, None, v.kind, None, tuple(_mapped_val(e, ax, name, label, node, parent) for e in v.elts),
                       v.keys)
        if v.ndim is not None and not (-v.ndim <= ax < v.ndim):
            raise error_at(f"{label}: a nested vmap maps `{name}` on axis {ax}, but one example of it has "
                           f"ndim {v.ndim}", node, parent.filename)
        return Val(True, None if v.ndim is None else v.ndim - 1, Kind.ARRAY, v.dtype)
    if isinstance(ax, (tuple, list)) and v.elts is not None and len(ax) == len(v.elts):
        return Val(True, None, v.kind, None,
                   tuple(_mapped_val(e, a, name, label, node, parent) for e, a in zip(v.elts, ax)), v.keys)
    if isinstance(ax, dict) and v.keys is not None:
        return Val(True, None, v.kind, None,
                   tuple(_mapped_val(e, ax.get(k), name, label, node, parent) for k, e in zip(v.keys, v.elts)), v.keys)
    raise error_at(f"{label}: a nested vmap's in_axes entry {ax!r} does not match `{name}`", node, parent.filename)


def _bind(src: FunctionSource, pre_args, pre_kwargs, names, inner_vals) -> dict:
    from ..rules.values import val_of
    a = src.fdef.args
    positional = [p.arg for p in a.posonlyargs + a.args]
    vals = {}
    all_vals = [val_of(p) for p in pre_args] + list(inner_vals)
    for p, v in zip(positional, all_vals):
        vals[p] = v
    if len(all_vals) > len(positional):
        if a.vararg is None:
            raise AstvmapError(f"too many arguments for {src.name}")
        vals[a.vararg.arg] = Val(any(v.batched for v in all_vals[len(positional):]), None, Kind.TUPLE, None,
                                 tuple(all_vals[len(positional):]))
    elif a.vararg is not None:
        vals[a.vararg.arg] = Val(False, None, Kind.TUPLE, None, ())
    for k, v in pre_kwargs.items():
        vals[k] = val_of(v)
    defaults = src.defaults or ()
    for p, d in zip(positional[len(positional) - len(defaults):], defaults):
        vals.setdefault(p, val_of(d))
    for k, d in (src.kwdefaults or {}).items():
        vals.setdefault(k, val_of(d))
    if a.kwarg is not None:
        vals.setdefault(a.kwarg.arg, Val(False, None, Kind.DICT, None, (), ()))
    return vals


def _exit(out: str, v: Val, out_axes, bname, label, node, parent) -> str:
    """The expression giving the output with its batch axes at `out_axes` (leaf by leaf)."""
    if v.kind in (Kind.TUPLE, Kind.LIST) and v.elts is not None and not isinstance(out_axes, int) and out_axes is not None:
        if len(out_axes) != len(v.elts):
            raise error_at(f"{label}: out_axes {out_axes!r} does not match an output of {len(v.elts)} values",
                           node, parent.filename)
        parts = [_exit(f"{out}[{i}]", e, a, bname, label, node, parent) for i, (e, a) in enumerate(zip(v.elts, out_axes))]
        return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")" if v.kind == Kind.TUPLE else "[" + ", ".join(parts) + "]"
    if v.kind in (Kind.TUPLE, Kind.LIST) and v.elts is not None:
        parts = [_exit(f"{out}[{i}]", e, out_axes, bname, label, node, parent) for i, e in enumerate(v.elts)]
        return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")" if v.kind == Kind.TUPLE else "[" + ", ".join(parts) + "]"
    if v.kind == Kind.DICT and v.elts is not None:
        axes = out_axes if isinstance(out_axes, dict) else {k: out_axes for k in v.keys}
        return "{" + ", ".join(f"{k!r}: " + _exit(f"{out}[{k!r}]", e, axes[k], bname, label, node, parent)
                               for k, e in zip(v.keys, v.elts)) + "}"
    if out_axes is None:
        if v.batched:
            raise error_at(f"{label}: out_axes=None, but the output depends on the mapped arguments", node,
                           parent.filename)
        return out
    expr = out if v.batched else f"av__.batch_broadcast({out}, {bname})"
    return expr if out_axes == 0 else f"np.moveaxis({expr}, 0, {out_axes})"


class _Specializer:
    core = staticmethod(core)
    full_source = staticmethod(full_source)


_SPECIALIZER = _Specializer()
