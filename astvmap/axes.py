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

from . import binding
from .binding import Bound
from .errors import AstvmapError, error_at
from .rules.values import Kind, Val, array, val_of
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
    """Reject entries that are not int/None/containers of those."""
    if spec is None or (isinstance(spec, (int, np.integer)) and not isinstance(spec, bool)):
        return
    if isinstance(spec, (tuple, list)):
        for s in spec:
            check_axes_spec(s, what, label)
        return
    if isinstance(spec, dict):
        for s in spec.values():
            check_axes_spec(s, what, label)
        return
    raise AstvmapError(
        f"{label}: {what} entries must be int, None, or tuples/lists/dicts of those; "
        f"got {spec!r} ({type(spec).__name__})"
    )


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
    """Yield (path, leaf, axis) for every leaf of `value` under the axis tree `axes`."""
    if axes is None:
        return
    if isinstance(axes, (tuple, list)):
        if not isinstance(value, (tuple, list)) or len(value) != len(axes):
            raise AstvmapError(
                f"{label}: in_axes entry {axes!r} for `{path}` is a {type(axes).__name__} of "
                f"length {len(axes)}, so the argument must be a tuple/list of that length; got "
                f"{_describe(value)}"
            )
        for i, (v, a) in enumerate(zip(value, axes)):
            yield from flatten(v, a, f"{path}[{i}]", label)
        return
    if isinstance(axes, dict):
        if not isinstance(value, dict) or set(value) != set(axes):
            raise AstvmapError(
                f"{label}: in_axes entry for `{path}` is a dict with keys {sorted(axes)}, so the "
                f"argument must be a dict with those keys; got {_describe(value)}"
            )
        for k in axes:
            yield from flatten(value[k], axes[k], f"{path}[{k!r}]", label)
        return
    if isinstance(value, (tuple, list)):
        for i, v in enumerate(value):
            yield from flatten(v, axes, f"{path}[{i}]", label)
        return
    if isinstance(value, dict):
        for k, v in value.items():
            yield from flatten(v, axes, f"{path}[{k!r}]", label)
        return
    yield path, value, int(axes)


def _describe(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    if isinstance(value, (tuple, list, dict)):
        return f"a {type(value).__name__} of length {len(value)}"
    return f"a {type(value).__name__}"


def rebuild(value: Any, axes: Any, moved: dict[str, np.ndarray], path: str) -> Any:
    """`value` with each mapped leaf replaced by `moved[path]` (its batch axis moved to 0)."""
    if axes is None:
        return value
    if isinstance(axes, (tuple, list)):
        return type(value)(rebuild(v, a, moved, f"{path}[{i}]") for i, (v, a) in enumerate(zip(value, axes)))
    if isinstance(axes, dict):
        return {k: rebuild(value[k], axes[k], moved, f"{path}[{k!r}]") for k in value}
    if isinstance(value, (tuple, list)):
        return type(value)(rebuild(v, axes, moved, f"{path}[{i}]") for i, v in enumerate(value))
    if isinstance(value, dict):
        return {k: rebuild(v, axes, moved, f"{path}[{k!r}]") for k, v in value.items()}
    return moved[path]


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
            new[name] = rebuild(value, _axes_of(name, value, param_axes, vm.label), moved, name)
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
    if isinstance(value, (tuple, list)):
        return next((why for v in value if (why := special_input(v))), None)
    if isinstance(value, dict):
        return next((why for v in value.values() if (why := special_input(v))), None)
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
    if isinstance(out, (tuple, list)):
        ax = split_axes(out_axes, len(out), type(out), label)
        return type(out)(slice_empty(o, a, label) for o, a in zip(out, ax))
    if isinstance(out, dict):
        return {
            k: slice_empty(o, out_axes[k] if isinstance(out_axes, dict) else out_axes, label)
            for k, o in out.items()
        }
    if out_axes is None:
        return out
    return np.take(out, np.arange(0), axis=out_axes)


def slice_example(value: Any, b: int, moved_ids: set[int]) -> Any:
    if id(value) in moved_ids:
        return value[b]
    if isinstance(value, (tuple, list)):
        return type(value)(slice_example(v, b, moved_ids) for v in value)
    if isinstance(value, dict):
        return {k: slice_example(v, b, moved_ids) for k, v in value.items()}
    return value


def combine(
    parts: list[Any], out_axes: Any, label: str, join: Callable[[list[np.ndarray], int], np.ndarray]
) -> Any:
    """Results of several calls combined leaf by leaf along `out_axes` with `join(leaves, axis)` (a
    leaf with out_axes None: the first call's)."""
    first = parts[0]
    if isinstance(first, (tuple, list)):
        ax = split_axes(out_axes, len(first), type(first), label)
        return type(first)(combine([p[i] for p in parts], a, label, join) for i, a in enumerate(ax))
    if isinstance(first, dict):
        return {
            k: combine(
                [p[k] for p in parts], out_axes[k] if isinstance(out_axes, dict) else out_axes, label, join
            )
            for k in first
        }
    if out_axes is None:
        return first
    return join([np.asarray(p) for p in parts], out_axes)


def stack(outs: list[Any], out_axes: Any, label: str) -> Any:
    """The loop's results of every example stacked along `out_axes`."""

    def join(leaves: list[np.ndarray], axis: int) -> np.ndarray:
        check_out_axis(axis, leaves[0].ndim + 1, leaves[0].shape, label)
        return np.stack(leaves, axis=axis)

    return combine(outs, out_axes, label, join)


def split_axes(out_axes: Any, n: int, typ: type, label: str) -> list[Any]:
    if isinstance(out_axes, (tuple, list)):
        if len(out_axes) != n:
            raise AstvmapError(
                f"{label}: out_axes={out_axes!r} has {len(out_axes)} entries but the output is a "
                f"{typ.__name__} of {n} values"
            )
        return list(out_axes)
    if isinstance(out_axes, dict):
        raise AstvmapError(f"{label}: out_axes is a dict but the output is a {typ.__name__}")
    return [out_axes] * n


def elements(val: Val | None, n: int) -> list[Val | None]:
    if val is not None and val.elts is not None and len(val.elts) == n:
        return list(val.elts)
    item = val.item if val is not None and val.item is not None else val
    return [item] * n


def arg_val(value: Any, moved: dict[str, np.ndarray], path: str) -> Val:
    if path in moved:
        arr = moved[path]
        return array(True, arr.ndim - 1, arr.dtype.kind)
    if isinstance(value, (tuple, list)):
        elts = tuple(arg_val(v, moved, f"{path}[{i}]") for i, v in enumerate(value))
        return Val(
            any(e.batched for e in elts),
            None,
            Kind.TUPLE if isinstance(value, tuple) else Kind.LIST,
            None,
            elts,
        )
    if isinstance(value, dict):
        elts = tuple(arg_val(v, moved, f"{path}[{k!r}]") for k, v in value.items())
        return Val(any(e.batched for e in elts), None, Kind.DICT, None, elts, tuple(value))
    return val_of(value)


def example_of(out: Any, out_axes: Any, b: int) -> Any:
    """Example `b` of a batched result whose batch axes are at `out_axes` (None: the same for all)."""
    if isinstance(out, (tuple, list)):
        ax = out_axes if isinstance(out_axes, (tuple, list)) else [out_axes] * len(out)
        return type(out)(example_of(o, a, b) for o, a in zip(out, ax))
    if isinstance(out, dict):
        return {
            k: example_of(o, out_axes[k] if isinstance(out_axes, dict) else out_axes, b)
            for k, o in out.items()
        }
    return out if out_axes is None else np.take(out, b, axis=out_axes)


def join_chunks(parts: list[Any], out_axes: Any, label: str) -> Any:
    """Results of consecutive chunks of the batch joined along `out_axes`."""
    return combine(parts, out_axes, label, lambda leaves, axis: np.concatenate(leaves, axis=axis))


def finish(out: Any, val: Any, out_axes: Any, call: Call, spec: Any, label: str) -> Any:
    """A generated function's raw output as the loop returns it: batch axes moved to `out_axes`,
    unbatched outputs repeated over the batch, and results fresh arrays (never a view of an input)."""
    if isinstance(out, (tuple, list)):
        elts = elements(val, len(out))
        ax = split_axes(out_axes, len(out), type(out), label)
        return type(out)(finish(o, v, a, call, spec, label) for o, v, a in zip(out, elts, ax))
    if isinstance(out, dict):
        if isinstance(out_axes, dict) and set(out_axes) != set(out):
            raise AstvmapError(
                f"{label}: out_axes has keys {sorted(out_axes)} but the output has keys {sorted(out)}"
            )
        by_key = dict(zip(val.keys, val.elts)) if val.keys is not None else {}
        return {
            k: finish(
                o,
                by_key.get(k, val),
                out_axes[k] if isinstance(out_axes, dict) else out_axes,
                call,
                spec,
                label,
            )
            for k, o in out.items()
        }
    if isinstance(out_axes, (tuple, list, dict)):
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
        if isinstance(value, (tuple, list)):
            return type(value)(walk(v) for v in value)
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, np.ndarray):
            if any(np.may_share_memory(value, s) for s in seen):
                value = value.copy()
            seen.append(value)
        return value

    if not isinstance(out, (tuple, list, dict)):
        return out
    return walk(out)


def check_out_axis(axis: int, ndim: int, example_shape: tuple[int, ...], label: str) -> None:
    """An int out_axes must name an axis of the result, whose rank is the example's plus the batch's."""
    if not -ndim <= axis < ndim:
        raise AstvmapError(
            f"{label}: out_axes={axis} is out of range for an output of per-example shape {example_shape}: "
            f"with the batch axis it has rank {ndim}, so choose an axis in [{-ndim}, {ndim - 1}]"
        )
