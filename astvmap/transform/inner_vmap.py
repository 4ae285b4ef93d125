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

import numpy as np

from .. import runtime
from ..errors import AstvmapError, error_at
from ..frontend.source import FunctionSource, function_source, unwrap
from ..kit.naming import Namer
from ..kit.origins import Origin
from ..rules.values import PYTHON_ITEMS, Kind, Val
from .context import ParentContext
from .specialize import _Specializer, core


def full_source(
    fun, n_lifted: int, in_axes, out_axes, axis_size, arg_vals: list, parent: ParentContext, node
):
    """The complete batched function of `vmap(fun, in_axes, out_axes)` for per-example arguments of Vals
    `arg_vals` (as one outer example sees them), as a FunctionSource a further vmap can rewrite:
    entry moves, the core call, exit moves and broadcasts, all in plain NumPy."""
    label = parent.settings.label
    pre_kwargs: dict[str, object]
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
        names = [p.arg for p in a.posonlyargs + a.args][len(pre_args) :]
    else:
        names = [f"arg{i}" for i in range(len(arg_vals))]
    names = names[: len(arg_vals)]
    if len(names) < len(arg_vals):
        names += [f"arg{i}" for i in range(len(names), len(arg_vals))]
    explicit = len(arg_vals) - n_lifted
    if isinstance(in_axes, (list, tuple)):
        if len(in_axes) != explicit:
            raise error_at(
                f"{label}: a nested vmap's in_axes has {len(in_axes)} entries but it is called with "
                f"{explicit} arguments",
                node,
                parent.filename,
            )
        axes = [None] * n_lifted + list(in_axes)
    else:
        axes = [None] * n_lifted + [in_axes] * explicit
    inner_vals = []
    for name, v, ax in zip(names, arg_vals, axes):
        inner_vals.append(
            _mapped_val(
                v.with_(batched=False) if v.kind != Kind.TUPLE else _unbatch(v), ax, name, label, node, parent
            )
        )
    namer = Namer(set(names) | {"np", "av__"})
    free: dict[str, object] = {"np": np, "av__": runtime}
    if base_src is None:
        assert inner is not None  # base_src is None only for a vmapped function
        inner_src = full_source(inner[0], 0, inner[1], inner[2], inner[3], list(inner_vals), parent, node)
        base_src = inner_src
    vals = bind_params(base_src, pre_args, pre_kwargs, names, inner_vals)
    spec = core(base_src, vals, parent, parent.settings.for_nesting())
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
        lines = [line for line in lines if not line.startswith(f"{bname} = ")]
    fname = namer.fresh(base_src.name + ("_" if keyword.iskeyword(base_src.name) else ""))
    text = f"def {fname}({', '.join(names)}):\n" + "".join(f"    {line}\n" for line in lines)
    filename = f"<astvmap nested {fname}>"
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    fdef = ast.parse(text, filename).body[0]
    assert isinstance(fdef, ast.FunctionDef)  # the text is one def
    cells = {k: types.CellType(v) for k, v in free.items()}
    return FunctionSource(
        fdef, Origin(filename, 1), {"__builtins__": builtins}, cells, None, None, None, generated=True
    )


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
            return Val(
                True,
                None,
                v.kind,
                None,
                tuple(_mapped_val(e, ax, name, label, node, parent) for e in v.elts),
                v.keys,
            )
        if v.ndim is not None and not (-v.ndim <= ax < v.ndim):
            raise error_at(
                f"{label}: a nested vmap maps `{name}` on axis {ax}, but one example of it has ndim {v.ndim}",
                node,
                parent.filename,
            )
        py = v.obj == PYTHON_ITEMS and v.ndim == 1  # a `range`'s counter: a Python int per example
        return Val(True, None if v.ndim is None else v.ndim - 1, Kind.ARRAY, v.dtype, py=py)
    if isinstance(ax, (tuple, list)) and v.elts is not None and len(ax) == len(v.elts):
        return Val(
            True,
            None,
            v.kind,
            None,
            tuple(_mapped_val(e, a, name, label, node, parent) for e, a in zip(v.elts, ax)),
            v.keys,
        )
    if isinstance(ax, dict) and v.keys is not None:
        assert v.elts is not None  # a dict Val with known keys knows its elements
        return Val(
            True,
            None,
            v.kind,
            None,
            tuple(_mapped_val(e, ax.get(k), name, label, node, parent) for k, e in zip(v.keys, v.elts)),
            v.keys,
        )
    raise error_at(
        f"{label}: a nested vmap's in_axes entry {ax!r} does not match `{name}`", node, parent.filename
    )


def bind_params(src: FunctionSource, pre_args, pre_kwargs, names, inner_vals) -> dict:
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
        vals[a.vararg.arg] = Val(
            any(v.batched for v in all_vals[len(positional) :]),
            None,
            Kind.TUPLE,
            None,
            tuple(all_vals[len(positional) :]),
        )
    elif a.vararg is not None:
        vals[a.vararg.arg] = Val(False, None, Kind.TUPLE, None, ())
    for k, v in pre_kwargs.items():
        vals[k] = val_of(v)
    defaults = src.defaults or ()
    for p, d in zip(positional[len(positional) - len(defaults) :], defaults):
        vals.setdefault(p, val_of(d))
    for k, d in (src.kwdefaults or {}).items():
        vals.setdefault(k, val_of(d))
    if a.kwarg is not None:
        vals.setdefault(a.kwarg.arg, Val(False, None, Kind.DICT, None, (), ()))
    return vals


def _exit(out: str, v: Val, out_axes, bname, label, node, parent) -> str:
    """The expression giving the output with its batch axes at `out_axes` (leaf by leaf)."""
    if (
        v.kind in (Kind.TUPLE, Kind.LIST)
        and v.elts is not None
        and not isinstance(out_axes, int)
        and out_axes is not None
    ):
        if len(out_axes) != len(v.elts):
            raise error_at(
                f"{label}: out_axes {out_axes!r} does not match an output of {len(v.elts)} values",
                node,
                parent.filename,
            )
        parts = [
            _exit(f"{out}[{i}]", e, a, bname, label, node, parent)
            for i, (e, a) in enumerate(zip(v.elts, out_axes))
        ]
        return (
            "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"
            if v.kind == Kind.TUPLE
            else "[" + ", ".join(parts) + "]"
        )
    if v.kind in (Kind.TUPLE, Kind.LIST) and v.elts is not None:
        parts = [_exit(f"{out}[{i}]", e, out_axes, bname, label, node, parent) for i, e in enumerate(v.elts)]
        return (
            "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"
            if v.kind == Kind.TUPLE
            else "[" + ", ".join(parts) + "]"
        )
    if v.kind == Kind.DICT and v.elts is not None:
        assert v.keys is not None  # a dict Val with known elements knows its keys
        axes = out_axes if isinstance(out_axes, dict) else dict.fromkeys(v.keys, out_axes)
        return (
            "{"
            + ", ".join(
                f"{k!r}: " + _exit(f"{out}[{k!r}]", e, axes[k], bname, label, node, parent)
                for k, e in zip(v.keys, v.elts)
            )
            + "}"
        )
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


_Specializer.full_source = staticmethod(full_source)
