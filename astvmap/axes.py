"""`in_axes`/`out_axes` trees against arguments: normalization, per-parameter axes, batch sizes.

Semantics follow `jax.vmap`, with one deliberate improvement: an argument passed by keyword takes its
parameter's `in_axes` entry (jax maps keyword arguments on axis 0, torch never batches them).
"""
from __future__ import annotations

import inspect

import numpy as np

from .errors import AstvmapError

_EMPTY = inspect.Parameter.empty
_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def describe(label_fn: str, in_axes) -> str:
    return f"vmap({label_fn}, in_axes={in_axes!r})"


def check_axes_spec(spec, what: str, label: str):
    """Reject entries that are not int/None/containers of those."""
    if spec is None or isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
        return
    if isinstance(spec, (tuple, list)):
        for s in spec:
            check_axes_spec(s, what, label)
        return
    if isinstance(spec, dict):
        for s in spec.values():
            check_axes_spec(s, what, label)
        return
    raise AstvmapError(f"{label}: {what} entries must be int, None, or tuples/lists/dicts of those; "
                       f"got {spec!r} ({type(spec).__name__})")


def parameter_axes(sig: inspect.Signature, in_axes, label: str) -> dict:
    """{parameter name: axis tree} for the parameters of `sig` (of the callable as the user calls it).

    int/None: every positional parameter (and each `*args` element) gets it; keyword-only parameters
    are unmapped. tuple/list: one entry per positional parameter in order, extra entries go to
    `*args`; parameters past the end are unmapped. dict: by parameter name."""
    params = list(sig.parameters.values())
    positional = [p.name for p in params if p.kind in _POSITIONAL]
    var = next((p.name for p in params if p.kind == inspect.Parameter.VAR_POSITIONAL), None)
    if isinstance(in_axes, dict):
        unknown = set(in_axes) - {p.name for p in params}
        if unknown:
            raise AstvmapError(f"{label}: in_axes names parameters {sorted(unknown)} that the function does not "
                               f"have; its parameters are {[p.name for p in params]}")
        return dict(in_axes)
    if in_axes is None or isinstance(in_axes, (int, np.integer)):
        out = {name: in_axes for name in positional}
        if var is not None:
            out[var] = ("*", in_axes)
        return out
    entries = list(in_axes)
    out = dict(zip(positional, entries))
    rest = entries[len(positional):]
    if rest:
        if var is None:
            raise AstvmapError(f"{label}: in_axes has {len(entries)} entries but the function has "
                               f"{len(positional)} positional parameters ({', '.join(positional)}); give one "
                               "entry per positional parameter")
        out[var] = ("*", tuple(rest))
    return out


def flatten(value, axes, path, label):
    """Yield (path, leaf, axis) for every leaf of `value` under the axis tree `axes`."""
    if axes is None:
        return
    if isinstance(axes, (tuple, list)):
        if not isinstance(value, (tuple, list)) or len(value) != len(axes):
            raise AstvmapError(f"{label}: in_axes entry {axes!r} for `{path}` is a {type(axes).__name__} of "
                               f"length {len(axes)}, so the argument must be a tuple/list of that length; got "
                               f"{_describe(value)}")
        for i, (v, a) in enumerate(zip(value, axes)):
            yield from flatten(v, a, f"{path}[{i}]", label)
        return
    if isinstance(axes, dict):
        if not isinstance(value, dict) or set(value) != set(axes):
            raise AstvmapError(f"{label}: in_axes entry for `{path}` is a dict with keys {sorted(axes)}, so the "
                               f"argument must be a dict with those keys; got {_describe(value)}")
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


def _describe(value) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    if isinstance(value, (tuple, list, dict)):
        return f"a {type(value).__name__} of length {len(value)}"
    return f"a {type(value).__name__}"


def rebuild(value, axes, moved: dict, path):
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


def out_leaves(out_axes, structure_len=None):
    return out_axes
