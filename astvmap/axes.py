"""`in_axes`/`out_axes` trees against arguments: normalization, per-parameter axes, batch sizes.

Semantics follow `jax.vmap`, with one deliberate improvement: an argument passed by keyword takes its
parameter's `in_axes` entry (jax maps keyword arguments on axis 0, torch never batches them).
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import numpy as np

from . import binding, pytrees
from .binding import Bound
from .errors import AstvmapError, error_at
from .rules.values import Kind, Val, array, container, val_of
from .runtime_lanes import batch_broadcast


class Vmapped(Protocol):
    """What binding a call reads of the vmapped function (api.VmappedFunction)."""

    in_axes: Any
    axis_size: int | None
    label: str
    _sig: inspect.Signature | None
    _param_axes: dict[str, Any] | None
    _fast_names: tuple[str, ...]  # binding.fast_names(_sig)
    _base: Any


_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def check_axes_spec(spec: Any, what: str, label: str) -> None:
    """Reject entries that are not int/None/containers of those (NOTE [pytrees]: a namedtuple, a
    dataclass or a registered type's instance is a container too)."""
    if pytrees.is_axis(spec):
        return
    n = pytrees.node(spec)
    if n is not None:
        for s in n.children:
            check_axes_spec(s, what, label)
        return
    raise AstvmapError(
        f"{label}: {what} entries must be int, None, or tuples/lists/dicts of those (or namedtuples, "
        f"dataclasses, registered pytrees); got {spec!r} ({type(spec).__name__})"
    )


def _in_children(axes: Any, n: pytrees.Node, path: str, label: str) -> list[Any]:
    """`axes_children`, or the error saying how the argument at `path` does not fit its in_axes entry."""
    children = pytrees.axes_children(axes, n)
    if children is not None:
        return children
    an = pytrees.node(axes)
    if isinstance(axes, dict) and n.kind == "dict":
        raise AstvmapError(
            f"{label}: in_axes entry for `{path}` is a dict with keys {sorted(map(str, axes))}, so the "
            f"argument must be a dict with those keys; got one with keys {sorted(map(str, n.keys))}"
        )
    raise AstvmapError(
        f"{label}: in_axes entry {axes!r} for `{path}` is a {type(axes).__name__} of length "
        f"{len(an) if an is not None else '?'}, so the argument must be {_expected(axes, an)}; got a "
        f"{n.type.__name__} of length {len(n)}"
    )


def _out_children(out_axes: Any, n: pytrees.Node, label: str) -> list[Any]:
    """`axes_children` for a result, or the error saying how it does not fit `out_axes`."""
    children = pytrees.axes_children(out_axes, n)
    if children is not None:
        return children
    if isinstance(out_axes, dict) and n.kind == "dict":
        raise AstvmapError(
            f"{label}: out_axes has keys {sorted(map(str, out_axes))} but the output has keys "
            f"{sorted(map(str, n.keys))}"
        )
    an = pytrees.node(out_axes)
    raise AstvmapError(
        f"{label}: out_axes={out_axes!r} has {len(an) if an is not None else '?'} entries but the "
        f"output is a {n.type.__name__} of {len(n)} values; it must be {_expected(out_axes, an)}"
    )


def _expected(axes: Any, an: pytrees.Node | None) -> str:
    if an is None:
        return "a leaf"
    if an.kind == "sequence":
        return f"a tuple/list of that length ({len(an)})"
    if an.kind == "dict":
        return "a dict with those keys"
    return f"a {type(axes).__name__} (of {len(an)} children)"


def parameter_axes(sig: inspect.Signature, in_axes: Any, label: str) -> dict[str, Any]:
    """{parameter name: axis tree} for the parameters of `sig` (of the callable as the user calls it).

    int/None: every positional parameter (and each `*args` element) gets it; keyword-only parameters
    are unmapped. tuple/list: one entry per positional parameter in order, extra entries go to
    `*args`; parameters past the end have no entry (an argument passed for one is an error, `_check_entries`).
    dict: by parameter name."""
    params = list(sig.parameters.values())
    positional = [p.name for p in params if p.kind in _POSITIONAL]
    var = next((p.name for p in params if p.kind == inspect.Parameter.VAR_POSITIONAL), None)
    if isinstance(in_axes, dict):
        unknown = set(in_axes) - {p.name for p in params}
        if unknown:
            raise AstvmapError(
                f"{label}: in_axes names parameters {sorted(unknown)} that the function does not "
                f"have; its parameters are {[p.name for p in params]}"
            )
        return dict(in_axes)
    if not isinstance(in_axes, (tuple, list)) and not pytrees.is_axis(in_axes):
        raise AstvmapError(
            f"{label}: in_axes must be an int, None, a tuple or list (one entry per positional "
            f"parameter) or a dict of parameter names; got a {type(in_axes).__name__} (a container "
            "shaped like an argument goes inside, as that argument's entry)"
        )
    if in_axes is None or isinstance(in_axes, (int, np.integer)):
        out: dict[str, Any] = dict.fromkeys(positional, in_axes)
        if var is not None:
            out[var] = ("*", in_axes)
        return out
    entries = list(in_axes)
    out = dict(zip(positional, entries))
    rest = entries[len(positional) :]
    if rest:
        if var is None:
            raise AstvmapError(
                f"{label}: in_axes has {len(entries)} entries but the function has "
                f"{len(positional)} positional parameters ({', '.join(positional)}); give one "
                "entry per positional parameter"
            )
        out[var] = ("*", tuple(rest))
    return out


def flatten(value: Any, axes: Any, path: str, label: str) -> Iterator[tuple[str, Any, int]]:
    """Yield (path, leaf, axis) for every leaf of `value` under the axis tree `axes` (NOTE [pytrees])."""
    if axes is None:
        return
    n = pytrees.node(value)
    if n is None:
        why = pytrees.refusal(value)
        if why is not None:
            raise AstvmapError(f"{label}: in_axes maps `{path}`, but it is {why}; give it in_axes None")
        if not pytrees.is_axis(axes):
            an = pytrees.node(axes)
            raise AstvmapError(
                f"{label}: in_axes entry {axes!r} for `{path}` is a {type(axes).__name__} of length "
                f"{len(an) if an is not None else '?'}, so the argument must be {_expected(axes, an)}; "
                f"got {_describe(value)}"
            )
        yield path, value, int(axes)
        return
    for i, (v, a) in enumerate(zip(n.children, _in_children(axes, n, path, label))):
        yield from flatten(v, a, n.path(path, i), label)


def _describe(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    if isinstance(value, (tuple, list, dict)):
        return f"a {type(value).__name__} of length {len(value)}"
    return f"a {type(value).__name__}"


def rebuild(value: Any, axes: Any, moved: dict[str, np.ndarray], path: str, label: str = "vmap") -> Any:
    """`value` with each mapped leaf replaced by `moved[path]` (its batch axis moved to 0), every
    container rebuilt with its own type (NOTE [pytrees])."""
    if axes is None:
        return value
    n = pytrees.node(value)
    if n is None:
        return moved[path]
    children = _in_children(axes, n, path, label)
    parts = [
        rebuild(v, a, moved, n.path(path, i), label) for i, (v, a) in enumerate(zip(n.children, children))
    ]
    return rebuilt(n, parts, path, label)


def rebuilt(n: pytrees.Node, children: list[Any], path: str, label: str) -> Any:
    """`n`'s container rebuilt with `children`; a type whose construction refuses them (a dataclass's
    `__post_init__` checking a shape, a registered `unflatten`) is a clear error."""
    try:
        return n.rebuild(children)
    except Exception as e:
        raise AstvmapError(
            f"{label}: `{path}`, a {n.type.__name__}, cannot be rebuilt with batched fields "
            f"({type(e).__name__}: {e}); its construction must accept them (NOTE [pytrees])"
        ) from None


# ---- calls: binding arguments to in_axes ------------------------------------------------------------
def bind(vm: Vmapped, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call:
    """Bind a call's arguments to the parameters of `vm` (a VmappedFunction), check every mapped leaf
    against its axis, move the batch axes to 0 (views) and compute the batch size."""
    sig = vm._sig
    if sig is None:
        sig = inspect.Signature(
            [inspect.Parameter(f"arg{i}", inspect.Parameter.POSITIONAL_ONLY) for i in range(len(args))]
        )
        vm._param_axes = parameter_axes(sig, vm.in_axes, vm.label)
    try:
        bound = binding.bind(sig, args, kwargs, fast=vm._fast_names)
    except TypeError as e:
        raise TypeError(f"{vm.label}: {e}") from None
    param_axes = vm._param_axes
    assert param_axes is not None  # set with the signature
    _check_entries(sig, bound.arguments, param_axes, vm)
    leaves = []
    for name, value in bound.arguments.items():
        ax = _axes_of(name, value, param_axes, vm.label)
        leaves += [(name, path, leaf, a) for path, leaf, a in flatten(value, ax, name, vm.label)]
    sizes: dict[str, tuple[int, tuple[int, ...], int]] = {}
    moved: dict[str, np.ndarray] = {}
    special = next((why for value in bound.arguments.values() if (why := special_input(value))), None)
    for _name, path, leaf, a in leaves:
        arr = np.asanyarray(leaf) if special else np.asarray(leaf)  # the loop slices the subclass itself
        if arr.ndim == 0:
            raise AstvmapError(
                f"{vm.label}: in_axes maps `{path}` on axis {a}, but it is a scalar "
                f"({type(leaf).__name__}); only arrays of rank >= 1 can be mapped (use None "
                "for arguments shared by every example)"
            )
        if not -arr.ndim <= a < arr.ndim:
            raise AstvmapError(
                f"{vm.label}: in_axes maps `{path}` on axis {a}, but it has shape "
                f"{arr.shape} (ndim {arr.ndim}); choose an axis in [{-arr.ndim}, {arr.ndim - 1}] "
                "or None"
            )
        a %= arr.ndim
        sizes[path] = (arr.shape[a], arr.shape, a)
        moved[path] = np.moveaxis(arr, a, 0) if a else arr
    B = _batch_size(sizes, vm)
    new: dict[str, Any] = {}
    mapped_params = {name for name, _, _, _ in leaves}
    for name, value in bound.arguments.items():
        if name in mapped_params:
            new[name] = rebuild(value, _axes_of(name, value, param_axes, vm.label), moved, name, vm.label)
        else:
            new[name] = value
    bound.arguments.update(new)
    if isinstance(vm._base, types.FunctionType):  # (a nested vmap reads its own function's defaults)
        # passed explicitly, with the values the function has now (the generated code's own are those it
        # was made with); never mapped: a parameter left to its default is the same for every example
        binding.fill_defaults(sig, bound)
    vals: dict[str, Val] = {}
    for name, value in bound.arguments.items():
        vals[name] = arg_val(value, moved, name)
    call = Call(bound.args, bound.kwargs, vals, B, list(moved.values()), bound)
    call.loop_reason = special
    return call


def special_input(value: Any) -> str | None:
    """Why an argument needs the per-example loop, or None: an ndarray subclass other than `np.memmap`
    (a masked array's mask, a matrix's rank-2 semantics: the batched code would drop them), or an
    object array (its elements are Python objects the rules know nothing of)."""
    n = pytrees.node(value)
    if n is not None:
        return next((why for v in n.children if (why := special_input(v))), None)
    if isinstance(value, np.ndarray):
        if type(value) is not np.ndarray and not isinstance(value, np.memmap):
            return f"an argument is a {type(value).__module__}.{type(value).__name__}"
        if value.dtype.kind == "O":
            return "an argument is an object array"
    return None


def _axes_of(name: str, value: Any, param_axes: dict[str, Any], label: str) -> Any:
    """The axis tree of one parameter's argument; for `*args` (`("*", axes)`), one entry per element."""
    ax = param_axes.get(name)
    if isinstance(ax, tuple) and len(ax) == 2 and ax[0] == "*":
        ax = ax[1] if not isinstance(ax[1], int) and ax[1] is not None else (ax[1],) * len(value)
        if len(ax) != len(value):
            raise AstvmapError(
                f"{label}: in_axes gives {len(ax)} entries for *{name}; got {len(value)} arguments"
            )
    return ax


def _batch_size(sizes: dict[str, tuple[int, tuple[int, ...], int]], vm: Vmapped) -> int:
    """The one batch size of the mapped leaves ({path: (size, shape, axis)}), or `axis_size`."""
    if not sizes:
        if vm.axis_size is None:
            raise AstvmapError(
                f"{vm.label}: no argument is mapped (every in_axes entry is None), so the "
                "batch size is unknown; pass axis_size="
            )
        return int(vm.axis_size)
    batch = {s for s, _, _ in sizes.values()}
    if len(batch) > 1:
        detail = "; ".join(
            f"`{p}` has shape {shape}, axis {a} of size {s}" for p, (s, shape, a) in sizes.items()
        )
        raise AstvmapError(
            f"{vm.label}: the mapped arguments have different batch sizes: {detail}. "
            "Every mapped axis must have the same size"
        )
    B = batch.pop()
    if vm.axis_size is not None and vm.axis_size != B:
        raise AstvmapError(
            f"{vm.label}: axis_size={vm.axis_size} but the mapped arguments have batch size {B}"
        )
    return B


def runtime_vals(
    bound: Bound | inspect.BoundArguments, vals: dict[str, Val]
) -> tuple[list[Val], dict[str, Val]]:
    """The Vals of the arguments exactly as the call passes them on (`bound.args`, `bound.kwargs`, which
    this mirrors): what the code that runs is bound to, whatever names the signature the user sees has
    (a `functools.wraps` wrapper's own `*args`, the positional arguments of a C function)."""
    if isinstance(bound, Bound):
        return [vals[n] for n in bound.arguments], {}
    args: list[Val] = []
    kwargs: dict[str, Val] = {}
    keywords = False  # past the positional arguments: the rest goes by keyword
    for name, p in bound.signature.parameters.items():
        if p.kind in (p.KEYWORD_ONLY, p.VAR_KEYWORD) or name not in bound.arguments:
            keywords = True
        if name not in bound.arguments:
            continue
        v = vals[name]
        if p.kind == p.VAR_POSITIONAL and not keywords:
            args += list(v.elts or ())
        elif p.kind == p.VAR_KEYWORD:
            kwargs.update(zip(v.keys or (), v.elts or ()))
        elif keywords:
            kwargs[name] = v
        else:
            args.append(v)
    return args, kwargs


def _check_entries(
    sig: inspect.Signature, passed: dict[str, Any], param_axes: dict[str, Any], vm: Vmapped
) -> None:
    """As jax: with in_axes a tuple or list, every positional parameter given an argument needs an entry
    (one left to its default needs none). Keyword-only parameters and `**kwargs` are unmapped unless a
    dict names them, and a dict leaves the parameters it does not name unmapped."""
    if not isinstance(vm.in_axes, (tuple, list)):
        return
    missing = [n for n in passed if n not in param_axes and sig.parameters[n].kind in _POSITIONAL]
    if missing:
        raise AstvmapError(
            f"{vm.label}: in_axes has {len(vm.in_axes)} entries, but an argument was passed for "
            f"{', '.join(f'`{n}`' for n in missing)}, which has none; give one in_axes entry per "
            "positional argument passed (None for an argument every example shares)"
        )


class Call:
    """One call of a vmapped function, bound: arguments with mapped leaves moved to axis 0, their Vals,
    the batch size and the moved leaves."""

    __slots__ = ("B", "args", "bound", "kwargs", "leaves", "loop_reason", "vals")

    def __init__(
        self,
        args: tuple[Any, ...] | list[Any],
        kwargs: dict[str, Any],
        vals: dict[str, Val],
        B: int,
        leaves: list[np.ndarray],
        bound: Bound | inspect.BoundArguments,
    ) -> None:
        self.args, self.kwargs, self.vals, self.B, self.leaves, self.bound = (
            args,
            kwargs,
            vals,
            B,
            leaves,
            bound,
        )
        self.loop_reason: str | None = None  # why this call runs as the per-example loop


# ---- outputs: stacking along out_axes ---------------------------------------------------------------
def slice_empty(out: Any, out_axes: Any, label: str) -> Any:
    """Results of a one-example probe (batch axis first) as empty results at `out_axes`."""
    n = pytrees.node(out)
    if n is not None:
        parts = [slice_empty(o, a, label) for o, a in zip(n.children, _out_children(out_axes, n, label))]
        return rebuilt(n, parts, "the output", label)
    if out_axes is None:
        return out
    return np.take(out, np.arange(0), axis=out_axes)


def slice_example(value: Any, b: int, moved_ids: set[int]) -> Any:
    if id(value) in moved_ids:
        return value[b]
    n = pytrees.node(value)
    if n is not None:
        return n.rebuild(slice_example(v, b, moved_ids) for v in n.children)
    return value


def combine(
    parts: list[Any], out_axes: Any, label: str, join: Callable[[list[np.ndarray], int], np.ndarray]
) -> Any:
    """Results of several calls combined leaf by leaf along `out_axes` with `join(leaves, axis)` (a
    leaf with out_axes None: the first call's), each container rebuilt as the first call's is."""
    n = pytrees.node(parts[0])
    if n is not None:
        ax = _out_children(out_axes, n, label)
        columns = zip(*(_same_children(p, n, label) for p in parts))
        children = [combine(list(c), a, label, join) for c, a in zip(columns, ax)]
        return rebuilt(n, children, "the output", label)
    why = pytrees.refusal(parts[0])
    if why is not None:
        raise AstvmapError(f"{label}: the function returns {why}")
    if out_axes is None:
        return parts[0]
    return join([np.asarray(p) for p in parts], out_axes)


def _same_children(part: Any, n: pytrees.Node, label: str) -> tuple[Any, ...]:
    """The children of `part`, one call's result, in the order of `n`'s (the first call's): a dict's by
    key; a result of another structure cannot be stacked with the first."""
    m = pytrees.node(part)
    if m is not None and m.type is n.type and len(m) == len(n):
        if n.kind != "dict":
            return m.children
        if set(m.keys) == set(n.keys):
            return tuple(part[k] for k in n.keys)
    raise AstvmapError(
        f"{label}: the function returns a {n.type.__name__} of {len(n)} in one example and "
        f"{_describe(part)} in another; the results cannot be stacked"
    )


def stack(outs: list[Any], out_axes: Any, label: str) -> Any:
    """The loop's results of every example stacked along `out_axes`."""

    def join(leaves: list[np.ndarray], axis: int) -> np.ndarray:
        check_out_axis(axis, leaves[0].ndim + 1, leaves[0].shape, label)
        return np.stack(leaves, axis=axis)

    return combine(outs, out_axes, label, join)


def child_vals(val: Val | None, n: pytrees.Node) -> list[Val | None]:
    """The Val of each child of a result container `n` whose Val is `val` (a dict's by key; where the
    Val knows no elements, its own, or its items')."""
    if val is not None and n.kind == "dict" and val.keys is not None and val.elts is not None:
        by_key = dict(zip(val.keys, val.elts))
        return [by_key.get(k, val) for k in n.keys]
    if val is not None and val.elts is not None and len(val.elts) == len(n):
        return list(val.elts)
    item = val.item if val is not None and val.item is not None else val
    return [item] * len(n)


def arg_val(value: Any, moved: dict[str, np.ndarray], path: str) -> Val:
    """The Val of an argument whose mapped leaves (by path) are in `moved`. A container is known
    element by element; a dataclass or a registered type's instance with a mapped leaf is a RECORD
    (its children, the attributes that hold them, its type), one with none the object itself."""
    if path in moved:
        arr = moved[path]
        return array(True, arr.ndim - 1, arr.dtype.kind)
    n = pytrees.node(value)
    if n is None:
        return val_of(value)
    elts = tuple(arg_val(v, moved, n.path(path, i)) for i, v in enumerate(n.children))
    if n.kind == "dict":
        return Val(any(e.batched for e in elts), None, Kind.DICT, None, elts, n.keys)
    if n.kind == "sequence":
        cls = n.type if isinstance(getattr(n.type, "_fields", None), tuple) else None
        kind = Kind.TUPLE if isinstance(value, tuple) else Kind.LIST
        return Val(any(e.batched for e in elts), None, kind, None, elts, cls=cls)
    if not any(e.batched for e in elts):
        return val_of(value)  # (an unmapped record: its fields are read from the object, statically)
    return container(Kind.RECORD, elts, pytrees.attribute_names(value, n), n.type)


def example_of(out: Any, out_axes: Any, b: int) -> Any:
    """Example `b` of a batched result whose batch axes are at `out_axes` (None: the same for all)."""
    n = pytrees.node(out)
    if n is not None:
        ax = pytrees.axes_children(out_axes, n) or [out_axes] * len(n)
        return n.rebuild(example_of(o, a, b) for o, a in zip(n.children, ax))
    return out if out_axes is None else np.take(out, b, axis=out_axes)


def join_chunks(parts: list[Any], out_axes: Any, label: str) -> Any:
    """Results of consecutive chunks of the batch joined along `out_axes`."""
    return combine(parts, out_axes, label, lambda leaves, axis: np.concatenate(leaves, axis=axis))


def finish(out: Any, val: Any, out_axes: Any, call: Call, spec: Any, label: str) -> Any:
    """A generated function's raw output as the loop returns it: batch axes moved to `out_axes`,
    unbatched outputs repeated over the batch, and results fresh arrays (never a view of an input);
    every container rebuilt with its own type (NOTE [pytrees])."""
    n = pytrees.node(out)
    if n is not None:
        ax = _out_children(out_axes, n, label)
        parts = [finish(o, v, a, call, spec, label) for o, v, a in zip(n.children, child_vals(val, n), ax)]
        return rebuilt(n, parts, "the output", label)
    why = pytrees.refusal(out)
    if why is not None:
        raise AstvmapError(f"{label}: the function returns {why}")
    if not pytrees.is_axis(out_axes):
        raise AstvmapError(
            f"{label}: out_axes={out_axes!r} is a container but the output is a single {type(out).__name__}"
        )
    if not val.batched:
        if out_axes is None:
            return out
        res = np.asarray(batch_broadcast(out, call.B))  # (a plain array: the stacked Python numbers)
        check_out_axis(out_axes, np.ndim(res), np.shape(res)[1:], label)
        return np.moveaxis(res, 0, out_axes) if out_axes else res
    if out_axes is None:
        node = getattr(spec, "batched_return", None)
        raise error_at(
            f"{label}: out_axes=None, but this output depends on the mapped arguments, so it "
            "differs between examples; give it an int out_axes",
            node,
            getattr(spec, "user_filename", None),
        )
    arr = np.asarray(out)
    check_out_axis(out_axes, arr.ndim, arr.shape[1:], label)
    if not arr.flags.writeable or any(np.may_share_memory(arr, leaf) for leaf in call.leaves):
        arr = arr.copy()
    return np.moveaxis(arr, 0, out_axes) if out_axes else arr


def unshared(out: Any) -> Any:
    """`out` with every array leaf that shares memory with an earlier one copied (`return y, y`)."""
    seen: list[np.ndarray] = []

    def walk(value: Any) -> Any:
        n = pytrees.node(value)
        if n is not None:  # (rebuilt only where a leaf was copied: a dataclass is not made again)
            parts = [walk(v) for v in n.children]
            return value if all(p is c for p, c in zip(parts, n.children)) else n.rebuild(parts)
        if isinstance(value, np.ndarray):
            if any(np.may_share_memory(value, s) for s in seen):
                value = value.copy()
            seen.append(value)
        return value

    if pytrees.node(out) is None:
        return out
    return walk(out)


def check_out_axis(axis: int, ndim: int, example_shape: tuple[int, ...], label: str) -> None:
    """An int out_axes must name an axis of the result, whose rank is the example's plus the batch's."""
    if not -ndim <= axis < ndim:
        raise AstvmapError(
            f"{label}: out_axes={axis} is out of range for an output of per-example shape {example_shape}: "
            f"with the batch axis it has rank {ndim}, so choose an axis in [{-ndim}, {ndim - 1}]"
        )
