"""The complete batched function of an inner `vmap(g, in_axes, out_axes)` as a source an outer vmap
can rewrite again (DESIGN "Calls and nesting"): entry moves, the call of g's core specialization, and
exit moves and broadcasts, all in plain NumPy. `vmap(vmap(f))` and a vmapped function called inside a
vmapped function are the same case.
"""

from __future__ import annotations

import ast
import builtins
import keyword
import linecache
import types
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import binding, pytrees, runtime
from ..errors import error_at
from ..frontend.source import FunctionSource, function_source, unwrap
from ..kit.naming import Namer
from ..kit.origins import Origin
from ..rules.values import Kind, Val, unbatched
from .callsites import InnerVmap
from .context import ParentContext


def full_source(
    core: Callable[..., Any],
    inner: InnerVmap,
    arg_vals: list[Val],
    parent: ParentContext,
    node: ast.AST | None,
) -> FunctionSource:
    """The complete batched function of `vmap(inner.fun, in_axes, out_axes)` for per-example arguments
    of Vals `arg_vals` (as one outer example sees them; the first `len(inner.lifted)` are the free names
    a lifted local function reads), as a FunctionSource a further vmap can rewrite: entry moves, the call
    of the core specialization, exit moves and broadcasts, all in plain NumPy. `core` is
    specialize.core, passed in: specialize reaches this module through the walker, so this module does
    not import it."""
    label = parent.settings.label
    base_src, pre_args, pre_kwargs, nested = _callee(inner.fun)
    names = _parameter_names(base_src, len(pre_args), len(arg_vals))
    axes = _entry_axes(inner, len(arg_vals), parent, node)
    inner_vals = [
        _mapped_val(_per_example(v), ax, name, label, node, parent)
        for name, v, ax in zip(names, arg_vals, axes)
    ]
    if base_src is None:  # a vmap of a vmapped function: rewrite that one's complete batched function
        base_src = full_source(core, InnerVmap(*nested), inner_vals, parent, node)
    try:
        vals = binding.bind_vals(base_src, inner_vals, lead=pre_args, lead_kwargs=pre_kwargs)
    except TypeError as e:
        msg = f"{label}: a nested vmap's arguments do not fit {base_src.name}: {e}"
        raise error_at(msg, node, parent.filename) from None
    spec = core(base_src, vals, parent, parent.settings.for_nesting())
    namer = Namer(set(names) | {"np", "av__"})
    core_name = namer.fresh(f"{base_src.name}_vmap")
    free: dict[str, object] = {"np": np, "av__": runtime, core_name: spec.fn}
    named = _Free(free, namer)
    lines, bname = _entry(names, axes, inner_vals, inner.axis_size, named, label, node, parent)
    call = _core_call(core_name, names, pre_args, pre_kwargs, namer, free)
    out = namer.fresh("out")
    ret = f"return {_exit(out, spec.out_val, inner.out_axes, bname, named, label, node, parent)}"
    if f"{bname})" not in ret:  # no exit broadcasts: the batch size is not needed
        lines = [line for line in lines if not line.startswith(f"{bname} = ")]
    fname = namer.fresh(base_src.name + ("_" if keyword.iskeyword(base_src.name) else ""))
    return _as_source(fname, names, [*lines, f"{out} = {call}", ret], free)


def _callee(fun: Any) -> tuple[FunctionSource | None, tuple[Any, ...], dict[str, Any], Any]:
    """(source, leading arguments, leading keyword arguments, nested) of the function an inner vmap
    maps: a lifted local function's source, or the source of the function behind a partial or a bound
    method. For a vmapped function the source is None and `nested` its `__astvmap__`."""
    if isinstance(fun, FunctionSource):
        return fun, (), {}, None
    base, pre_args, pre_kwargs = unwrap(fun)
    nested = getattr(base, "__astvmap__", None)
    return (None if nested is not None else function_source(base)), tuple(pre_args), dict(pre_kwargs), nested


def _parameter_names(src: FunctionSource | None, n_lead: int, n: int) -> list[str]:
    """The names of the complete function's `n` parameters: the source's positional parameters after
    the `n_lead` a partial passes (the names the inner vmap's user sees), then `arg{i}`."""
    a = src.fdef.args if src is not None else None
    own = [p.arg for p in a.posonlyargs + a.args][n_lead : n_lead + n] if a is not None else []
    return own + [f"arg{i}" for i in range(len(own), n)]


def _entry_axes(inner: InnerVmap, n: int, parent: ParentContext, node: ast.AST | None) -> list[Any]:
    """The in_axes entry of each of the `n` arguments (the lifted free names come first, unmapped)."""
    n_lifted = len(inner.lifted)
    explicit = n - n_lifted
    if not isinstance(inner.in_axes, (list, tuple)):
        return [None] * n_lifted + [inner.in_axes] * explicit
    if len(inner.in_axes) != explicit:
        raise error_at(
            f"{parent.settings.label}: a nested vmap's in_axes has {len(inner.in_axes)} entries but it is "
            f"called with {explicit} arguments",
            node,
            parent.filename,
        )
    return [None] * n_lifted + list(inner.in_axes)


def _entry(names, axes, vals, axis_size, named: _Free, label, node, parent) -> tuple[list[str], str]:
    """The statements moving each mapped argument's batch axis to 0 (a container's leaf by leaf,
    `av__.move_tree`) and binding the batch size (a batched leaf of the first mapped argument that has
    one gives it, else `axis_size`), and the batch size's name."""
    lines: list[str] = []
    bname = None
    for name, ax, v in zip(names, axes, vals):
        if ax is None:
            continue
        if not isinstance(ax, int) or (v.elts is not None and v.kind in _CONTAINERS):
            lines.append(f"{name} = av__.move_tree({name}, {named.axes(ax)})")
        elif ax != 0:
            lines.append(f"{name} = np.moveaxis({name}, {ax}, 0)")
        leaf = _batched_leaf(name, v) if bname is None else None
        if leaf is not None:
            bname = named.namer.fresh("B")
            lines.append(f"{bname} = {leaf}.shape[0]")
    if bname is None:
        if axis_size is None:
            raise error_at(f"{label}: a nested vmap maps no argument; pass axis_size=", node, parent.filename)
        bname = named.namer.fresh("B")
        lines.append(f"{bname} = {int(axis_size)}")
    return lines, bname


_CONTAINERS = (Kind.TUPLE, Kind.LIST, Kind.DICT, Kind.RECORD)


class _Free:
    """The free names of a complete function's text: the objects it names (a record's class, an axes
    tree that is no literal: a namedtuple's or a dataclass's, NOTE [pytrees])."""

    def __init__(self, free: dict[str, object], namer: Namer) -> None:
        self.free, self.namer = free, namer

    def name(self, obj: object, hint: str) -> str:
        found = next((k for k, o in self.free.items() if o is obj), None)
        if found is None:
            found = self.namer.fresh(hint)
            self.free[found] = obj
        return found

    def axes(self, ax: Any) -> str:
        return repr(ax) if _literal(ax) else self.name(ax, "axes")


def _literal(ax: Any) -> bool:
    """Is `ax` written back by its repr: an int, None, or plain tuples, lists and dicts of those?"""
    if ax is None or type(ax) is int:
        return True
    if type(ax) in (tuple, list):
        return all(_literal(a) for a in ax)
    return type(ax) is dict and all(type(k) in (str, int) and _literal(a) for k, a in ax.items())


def _batched_leaf(text: str, v: Val) -> str | None:
    """An expression of a batched array in the value `text` of Val `v`: itself, an item, a field."""
    if not v.batched:
        return None
    if v.kind == Kind.ARRAY or v.elts is None:
        return text if v.kind == Kind.ARRAY else None
    for k, e in zip(_keys(v), v.elts):
        part = _part(text, v, k)
        found = _batched_leaf(part, e) if part is not None else None
        if found is not None:
            return found
    return None


def _keys(v: Val) -> list[Any]:
    assert v.elts is not None  # (a container Val known element by element)
    return list(v.keys or ()) if v.kind in (Kind.DICT, Kind.RECORD) else list(range(len(v.elts)))


def _part(text: str, v: Val, key: Any) -> str | None:
    """The text of element `key` of `text`, a container of Val `v` (a record's field by its attribute;
    a registered type's child no attribute holds has none)."""
    if v.kind == Kind.RECORD:
        return f"{text}.{key}" if isinstance(key, str) else None
    return f"{text}[{key!r}]"


def _core_call(core_name, names, pre_args, pre_kwargs, namer: Namer, free: dict[str, object]) -> str:
    """The call of the core specialization. A partial's leading arguments stay values the generated
    code reads from a holder (`bound.args`, `bound.keywords`), which joins the free names."""
    if not (pre_args or pre_kwargs):
        return f"{core_name}({', '.join(names)})"
    pname = namer.fresh("bound")
    free[pname] = _PartialArguments(pre_args, pre_kwargs)
    return f"{core_name}(*{pname}.args, {', '.join(names)}, **{pname}.keywords)"


def _as_source(fname: str, names: list[str], lines: list[str], free: dict[str, object]) -> FunctionSource:
    """`def fname(*names): lines` as a generated FunctionSource whose free names are `free` (closure
    cells), its text registered in `linecache` (tracebacks and a further rewrite read it)."""
    text = f"def {fname}({', '.join(names)}):\n" + "".join(f"    {line}\n" for line in lines)
    filename = f"<astvmap nested {fname}>"
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    fdef = ast.parse(text, filename).body[0]
    assert isinstance(fdef, ast.FunctionDef)  # the text is one def
    cells = {k: types.CellType(v) for k, v in free.items()}
    return FunctionSource(
        fdef, Origin(filename, 1), {"__builtins__": builtins}, cells, None, None, None, generated=True
    )


class _PartialArguments:
    """A partial's leading arguments, as nested generated code reads them (`bound.args`, `bound.keywords`)."""

    def __init__(self, args, keywords):
        self.args, self.keywords = tuple(args), dict(keywords)


def _per_example(v: Val) -> Val:
    """An argument's Val as one outer example sees it (a tuple's and a record's elements too)."""
    return unbatched(v) if v.kind in (Kind.TUPLE, Kind.RECORD) else v.with_(batched=False)


def _mapped_val(v: Val, ax, name, label, node, parent) -> Val:
    if ax is None:
        return v
    if isinstance(ax, int) and not (v.elts is not None and v.kind in _CONTAINERS):
        if v.ndim is not None and not (-v.ndim <= ax < v.ndim):
            raise error_at(
                f"{label}: a nested vmap maps `{name}` on axis {ax}, but one example of it has ndim {v.ndim}",
                node,
                parent.filename,
            )
        py = v.python_items and v.ndim == 1  # a `range`'s counter: a Python int per example
        return Val(True, None if v.ndim is None else v.ndim - 1, Kind.ARRAY, v.dtype, py=py)
    children = _entry_children(v, ax)
    if children is None:
        raise error_at(
            f"{label}: a nested vmap's in_axes entry {ax!r} does not match `{name}`", node, parent.filename
        )
    assert v.elts is not None  # (children were found for its elements)
    elts = tuple(_mapped_val(e, a, name, label, node, parent) for e, a in zip(v.elts, children))
    return Val(True, None, v.kind, None, elts, v.keys, cls=v.cls)


def _entry_children(v: Val, ax: Any) -> list[Any] | None:
    """The in_axes entry of each element of a container argument of Val `v` under its entry `ax`."""
    if v.elts is None:
        return None
    if isinstance(ax, int):
        return [ax] * len(v.elts)
    if isinstance(ax, dict) and v.keys is not None and v.kind == Kind.DICT:
        return [ax.get(k) for k in v.keys]
    an = pytrees.node(ax)
    if an is None or len(an) != len(v.elts):
        return None
    if v.kind == Kind.RECORD:
        return list(an.children) if an.type is v.cls else None
    return list(an.children) if an.kind == "sequence" else None


def _exit(out: str, v: Val, out_axes, bname, named: _Free, label, node, parent) -> str:
    """The expression giving the output with its batch axes at `out_axes` (leaf by leaf; a container
    rebuilt as its kind and type: a namedtuple or a dataclass by its class, NOTE [pytrees])."""
    children = _exit_children(v, out_axes, label, node, parent)
    if children is not None:
        assert v.elts is not None  # (children were found for its elements)
        keys = _keys(v)
        parts = [
            _exit(str(_part(out, v, k)), e, a, bname, named, label, node, parent)
            for k, e, a in zip(keys, v.elts, children)
        ]
        return _built(v, keys, parts, named)
    if out_axes is None:
        if v.batched:
            raise error_at(
                f"{label}: out_axes=None, but the output depends on the mapped arguments",
                node,
                parent.filename,
            )
        return out
    expr = out if v.batched else f"av__.batch_broadcast({out}, {bname})"
    return expr if out_axes == 0 else f"np.moveaxis({expr}, 0, {out_axes})"


def _exit_children(v: Val, out_axes, label, node, parent) -> list[Any] | None:
    """The out_axes of each element of an output container of Val `v`; None for a leaf (a registered
    type whose children no attribute holds is one: batched whole at 0, or not supported)."""
    if v.elts is None or v.kind not in _CONTAINERS:
        return None
    if v.kind == Kind.RECORD and not all(isinstance(k, str) for k in v.keys or (None,)):
        if out_axes == 0 and _every_leaf_batched(v):
            return None
        msg = f"{label}: a nested vmap returns a {getattr(v.cls, '__name__', 'record')} whose children it cannot take apart"
        raise error_at(msg + " (out_axes other than 0, or unbatched children)", node, parent.filename)
    if isinstance(out_axes, dict) and v.kind == Kind.DICT:
        return [out_axes[k] for k in v.keys or ()]
    children = _entry_children(v, out_axes) if out_axes is not None else [None] * len(v.elts)
    if children is None:
        raise error_at(
            f"{label}: out_axes {out_axes!r} does not match an output of {len(v.elts)} values",
            node,
            parent.filename,
        )
    return children


def _every_leaf_batched(v: Val) -> bool:
    return all(_every_leaf_batched(e) for e in v.elts) if v.elts is not None else v.batched


def _built(v: Val, keys: list[Any], parts: list[str], named: _Free) -> str:
    """The text of a container like one of Val `v` holding `parts` (its elements `keys`)."""
    if v.kind == Kind.DICT:
        return "{" + ", ".join(f"{k!r}: {p}" for k, p in zip(keys, parts)) + "}"
    if v.kind == Kind.RECORD:
        assert v.cls is not None  # (a record Val knows its type)
        return (
            f"{named.name(v.cls, v.cls.__name__)}(" + ", ".join(f"{k}={p}" for k, p in zip(keys, parts)) + ")"
        )
    if v.kind == Kind.TUPLE and v.cls is not None:
        return f"{named.name(v.cls, v.cls.__name__)}(" + ", ".join(parts) + ")"
    if v.kind == Kind.TUPLE:
        return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"
    return "[" + ", ".join(parts) + "]"
