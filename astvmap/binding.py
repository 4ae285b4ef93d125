"""Binding a call's arguments to a function's parameters, as Python binds them: `bind`, the one
implementation every caller uses.

The callers differ only in what they bind, which `bind` takes as parameters:

- the call layer (`axes.bind`) binds the call's values to the signature the user sees, the one `in_axes`
  names (the fast path `fast` keeps this per-call step cheap);
- the transform (`bind_vals`) binds the Vals of a call's arguments to the parameters of the source it
  rewrites (`def` and current defaults), after the leading arguments a partial or a bound method adds
  (`lead`, `lead_kwargs`), with parameters left out taking their defaults;
- the Numba backend binds the call's values to the function's own signature, after those leading
  arguments, with the defaults.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .rules.values import Kind, Val, constant, container, val_of

if TYPE_CHECKING:
    from .frontend.source import FunctionSource

_EMPTY = inspect.Parameter.empty
_NONE: Mapping[str, Any] = {}


class Bound:
    """What `inspect.BoundArguments` offers, for a positional call of plain positional parameters."""

    __slots__ = ("arguments",)

    def __init__(self, arguments: dict[str, Any]) -> None:
        self.arguments = arguments

    @property
    def args(self) -> tuple[Any, ...]:
        return tuple(self.arguments.values())

    @property
    def kwargs(self) -> dict[str, Any]:
        return {}


def fast_names(sig: inspect.Signature) -> tuple[str, ...]:
    """The parameter names of `sig` when every one is positional-or-keyword without a default, else ():
    a call passing exactly that many positional arguments then binds without `inspect` (`bind`)."""
    params = sig.parameters.values()
    if all(p.kind == p.POSITIONAL_OR_KEYWORD and p.default is _EMPTY for p in params):
        return tuple(sig.parameters)
    return ()


def bind(
    sig: inspect.Signature,
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    *,
    lead: Sequence[Any] = (),
    lead_kwargs: Mapping[str, Any] = _NONE,
    defaults: bool = False,
    partial: bool = False,
    fast: tuple[str, ...] = (),
) -> Bound | inspect.BoundArguments:
    """`sig` bound to the call `f(*lead, *args, **lead_kwargs, **kwargs)`, raising Python's TypeError
    when the arguments do not fit. `lead`, `lead_kwargs`: the arguments a partial or a bound method
    passes before the call's own. `defaults`: parameters left out are bound to their defaults (the
    values `sig` holds now), after the others. `partial`: parameters may stay unbound. `fast`:
    `fast_names(sig)`, kept by the caller: a plain positional call of exactly those parameters is bound
    without `inspect` (every call of a vmapped function binds)."""
    if fast and not kwargs and not lead and not lead_kwargs and len(args) == len(fast):
        return Bound(dict(zip(fast, args)))
    every_kwarg = {**lead_kwargs, **kwargs}
    bound = (sig.bind_partial if partial else sig.bind)(*lead, *args, **every_kwarg)
    if defaults:
        fill_defaults(sig, bound)
    return bound


def fill_defaults(sig: inspect.Signature, bound: Bound | inspect.BoundArguments) -> None:
    """Bind the parameters left out that have a default to it (`*args` and `**kwargs` stay unbound)."""
    for name, p in sig.parameters.items():
        if p.default is not _EMPTY and name not in bound.arguments:
            bound.arguments[name] = p.default


def bind_vals(
    src: FunctionSource,
    args: Sequence[Val],
    kwargs: Mapping[str, Val] = _NONE,
    *,
    lead: Sequence[Any] = (),
    lead_kwargs: Mapping[str, Any] = _NONE,
    partial: bool = False,
) -> dict[str, Val]:
    """{parameter of `src`: Val}: the Vals of a call's arguments bound to the parameters of the source
    that is rewritten, after the values a partial or a bound method passes first (`lead`,
    `lead_kwargs`). A parameter left out has its default's Val; `*args` and `**kwargs` are a tuple and
    a dict Val (empty when nothing goes there). TypeError as `bind`."""
    sig = source_signature(src)
    lead_vals = [val_of(v) for v in lead]
    lead_kwarg_vals = {k: val_of(v) for k, v in lead_kwargs.items()}
    bound = bind(
        sig, args, kwargs, lead=lead_vals, lead_kwargs=lead_kwarg_vals, defaults=True, partial=partial
    )
    vals = dict(bound.arguments)
    a = src.fdef.args
    if a.vararg is not None:
        vals[a.vararg.arg] = container(Kind.TUPLE, vals.get(a.vararg.arg, ()))
    if a.kwarg is not None:
        extra = vals.get(a.kwarg.arg, {})
        vals[a.kwarg.arg] = container(Kind.DICT, extra.values(), extra.keys())
    return vals


def source_signature(src: FunctionSource) -> inspect.Signature:
    """The parameters of a source's `def`, with the Vals of the defaults the function has now
    (`src.defaults`, `src.kwdefaults`; a `def`'s written defaults may have been replaced since)."""
    P = inspect.Parameter
    a = src.fdef.args
    positional: list[tuple[str, Any]] = [(p.arg, P.POSITIONAL_ONLY) for p in a.posonlyargs]
    positional += [(p.arg, P.POSITIONAL_OR_KEYWORD) for p in a.args]
    defaults = src.defaults or ()
    first = len(positional) - len(defaults)  # the first positional parameter with a default
    params = [
        P(name, kind, default=constant(defaults[i - first]) if i >= first else _EMPTY)
        for i, (name, kind) in enumerate(positional)
    ]
    if a.vararg is not None:
        params.append(P(a.vararg.arg, P.VAR_POSITIONAL))
    kwdefaults = src.kwdefaults or {}
    params += [
        P(p.arg, P.KEYWORD_ONLY, default=constant(kwdefaults[p.arg]) if p.arg in kwdefaults else _EMPTY)
        for p in a.kwonlyargs
    ]
    if a.kwarg is not None:
        params.append(P(a.kwarg.arg, P.VAR_KEYWORD))
    return inspect.Signature(params)
