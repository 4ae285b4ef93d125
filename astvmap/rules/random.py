"""Random draws (`np.random.*` and `np.random.Generator` methods), by `randomness=` (torch.func.vmap's
names): "error" (default) refuses at the line of the draw, since one batched draw is not what the
loop's per-example draws are; "different" draws independently for every example (one call with the
batch prepended to `size`); "same" draws once and shares the values.

Shape case ("different"): per example `rng.normal(loc, scale, size=s)` -> `rng.normal(loc, scale,
size=(B, *s))`, with batched parameters aligned to the per-example rank of the draw.
"""

from __future__ import annotations

import ast
import inspect

import numpy as np

from ..kit import templates
from .common import NO_STATIC, kw_nodes, out, static
from .registry import register
from .values import Operand

# method name -> number of distribution parameters before `size`, and the result's dtype kind
_DRAWS = {
    "normal": (2, "f"),
    "uniform": (2, "f"),
    "standard_normal": (0, "f"),
    "random": (0, "f"),
    "random_sample": (0, "f"),
    "standard_exponential": (0, "f"),
    "exponential": (1, "f"),
    "poisson": (1, "i"),
    "binomial": (2, "i"),
    "gamma": (2, "f"),
    "beta": (2, "f"),
    "laplace": (2, "f"),
    "lognormal": (2, "f"),
    "logistic": (2, "f"),
    "integers": (2, "i"),
    "randint": (2, "i"),
    "geometric": (1, "i"),
    "chisquare": (1, "f"),
    "standard_t": (1, "f"),
    "rayleigh": (1, "f"),
    "weibull": (1, "f"),
    "gumbel": (2, "f"),
}
_DIMS = {"rand": "f", "randn": "f"}  # legacy rand(d0, d1, ...): dimensions, not `size`

_METHODS = [
    getattr(cls, name)
    for cls in (np.random.Generator, np.random.RandomState)
    for name in list(_DRAWS) + list(_DIMS)
    if hasattr(cls, name)
]


def _refused(ctx, mode: str) -> None:
    """randomness="error": one batched draw is not the loop's per-example draws."""
    if mode == "error":
        raise ctx.error(
            f"`{ast.unparse(ctx.call.node)}` draws random numbers: the loop draws fresh values for every "
            "example, one batched call cannot reproduce its stream. Pass randomness='different' "
            "(independent draws per example) or randomness='same' (one draw shared by every example)"
        )


def _batched_size(ctx, size, params, batched) -> tuple[ast.expr | None, int | None]:
    """`size` with the batch in front, and the per-example rank of the draw: of `size` when given, else
    of the batched parameters (None: they set the shape themselves)."""
    B = ctx.batch_size()
    value = static(size) if size is not None else None
    if value is not None and value is not NO_STATIC:
        shape = (value,) if isinstance(value, int) else tuple(value)
        return ast.Tuple([B] + [templates.const(d) for d in shape], ast.Load()), len(shape)
    if size is not None:
        return ctx.expr("(B,) + av__.as_shape(s)", B=B, s=size.node), None
    if not batched:
        return ast.Tuple([B], ast.Load()), 0
    return None, max([p.val.ndim or 0 for p in params if p.batched] + [0])


def _aligned(op: Operand, nd: int | None) -> ast.expr:
    """A batched parameter with axes added up to the draw's per-example rank."""
    return (
        templates.batch_slice_prefix(op.node, nd - (op.val.ndim or 0))
        if op.batched and nd is not None
        else op.node
    )


def batch_random(ctx, rng, *args, **kwargs) -> Operand:
    # per example `rng.normal(loc, scale, size=s)` -> `rng.normal(loc, scale, size=(B, *s))`; the
    # parameters are the call's, as it gives them (NumPy's signature, `_draw_rule`)
    name = ctx.call.fn.__name__
    mode = ctx.settings.randomness
    _refused(ctx, mode)
    batched = any(a.batched for a in args) or any(v.batched for v in kwargs.values())
    kind = (_DRAWS.get(name) or (0, _DIMS.get(name)))[1]
    if mode == "same":
        if batched:
            raise ctx.fail("randomness='same' with parameters that differ between examples")
        return out(ctx.call.rebuild([rng.node] + [a.node for a in args], kw_nodes(kwargs)), False, None, kind)
    if name in _DIMS:
        # rand(d0, d1) per example -> rand(B, d0, d1)
        if batched:
            raise ctx.fail("dimensions that differ between examples")
        return out(
            ctx.call.rebuild([rng.node, ctx.batch_size()] + [a.node for a in args], {}), True, len(args), kind
        )
    nparams = _DRAWS[name][0]
    params, rest = list(args[:nparams]), list(args[nparams:])
    positional_size = bool(rest)
    size = rest.pop(0) if rest else kwargs.pop("size", None)
    if any(r.batched for r in rest) or (size is not None and size.batched):
        raise ctx.fail("a size or option that differs between examples")
    if batched and any(p.val.ndim is None for p in list(params) + list(kwargs.values()) if p.batched):
        raise ctx.fail("random parameters of unknown rank")
    new_size, nd = _batched_size(ctx, size, params + list(kwargs.values()), batched)
    nodes = [_aligned(p, nd) for p in params]
    kw = {k: _aligned(v, nd) for k, v in kwargs.items()}
    if new_size is not None:
        if positional_size:
            nodes.append(new_size)
        else:
            kw["size"] = new_size
    nodes += [r.node for r in rest]
    return out(ctx.call.rebuild([rng.node] + nodes, kw), True, nd, kind)


def _draw_rule(method):
    """`batch_random` with the signature of `method` (NumPy's, after a leading context), so the
    dispatcher refuses the arguments NumPy refuses."""

    def rule(ctx, *args, **kwargs) -> Operand:
        return batch_random(ctx, *args, **kwargs)

    own = inspect.signature(method)
    context = inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_ONLY)
    rule.__signature__ = own.replace(parameters=[context, *own.parameters.values()])  # type: ignore[attr-defined]
    rule.__name__ = rule.__qualname__ = f"batch_{method.__name__}"
    return rule


for _method in _METHODS:
    register(_method, random=True)(_draw_rule(_method))
