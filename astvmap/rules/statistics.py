"""Statistics: quantiles and percentiles, histograms, `bincount`, covariance and correlation.

Shape cases: `percentile`/`quantile` reduce per-example axes k as k+1 (axis=None: every per-example axis,
never the batch's); NumPy puts q's axes first, so the batch axis, which follows them, is moved back to 0.
The rest run as `av__` helpers (runtime.py) that check each example as NumPy checks it and compute each
lane as NumPy computes that example (the nan forms of the quantiles too):

- `histogram` with bin edges the same for every example (an array of edges, or a count with a range):
  counts `(B, nbins)` and the one array of edges; edges from each example's values are the loop's;
- `bincount`: `(B, n)` when every example's length `n` is the same; otherwise the helper raises
  `RaggedBatch` and the call runs as the per-example loop (which stacks them only if the code reduces
  them first);
- `cov`/`corrcoef` of `(B, vars, obs)`: `(B, vars, vars)`, a scalar per example for one variable.

An unbatched operand of a helper is passed as `x[None]`: one batch axis of size 1, shared by every lane.
"""

from __future__ import annotations

import ast

import numpy as np

from ..kit import templates
from .common import (
    NO_STATIC,
    axes_tuple,
    dtype_kind,
    emit,
    infers,
    options,
    rank,
    refuse_out,
    respell,
    shift_axis,
    static,
)
from .registry import register
from .values import UNKNOWN, Kind, Operand, Val, array, container

_NAN_QUANTILES = (np.nanpercentile, np.nanquantile)
# methods that pick one of the values (the result keeps their dtype); the others interpolate (float)
_DISCRETE = {"inverted_cdf", "closest_observation", "lower", "higher", "nearest"}


def _given(op) -> bool:
    """Is the argument passed, and not None?"""
    return op is not None and static(op) is not None


def _lanes_node(ctx, op: Operand, what: str) -> ast.expr:
    """An array operand of a statistics helper: batched, as it is; unbatched, with one batch axis of size
    1 (shared by every lane)."""
    kinds = (Kind.ARRAY,) if op.batched else (Kind.ARRAY, Kind.SCALAR, Kind.TUPLE, Kind.LIST)
    if op.val.kind not in kinds:
        raise ctx.fail(f"`{what}` that is not an array")
    return op.node if op.batched else ctx.expr("np.asarray(x)[None]", x=op.node)


def _unbatched(ctx, **named) -> None:
    for name, op in named.items():
        if op is not None and op.batched:
            raise ctx.fail(f"`{name}` that differs between examples")


# --------------------------------------------------------------------------- percentile, quantile


def quantile_facts(
    call, a, q, axis=None, out=None, overwrite_input=None, method=None, keepdims=None, weights=None, **_
) -> Val:
    """q's axes, then a's axes left by the reduction (every one kept as size 1 with keepdims); a's kind
    for the methods that pick a value, else float. The nan forms give NumPy's nanmean for an empty
    example: without q's axes, float."""
    if static(out) is not None or _given(weights):
        return UNKNOWN  # refused by the rule
    nan = call.fn in _NAN_QUANTILES
    rq, nd, keep = rank(q), rank(a), static(keepdims, False)
    value = static(axis) if axis is not None else None
    axes = axes_tuple(value, nd) if value is not NO_STATIC else None
    if rq is None or keep is NO_STATIC or (nan and rq):
        ndim = None
    elif keep:
        ndim = None if nd is None else rq + nd
    elif value is None:
        ndim = rq
    else:
        ndim = None if axes is None or nd is None else rq + nd - len(set(axes))
    kind, how = a.val.dtype, static(method, "linear")
    if isinstance(how, str) and how in _DISCRETE:
        kind = None if nan and kind in ("b", "i", "u") else kind
    else:
        kind = "f" if isinstance(how, str) and kind in ("i", "u", "f") else None
    return array(False, ndim, kind)


def _quantile(ctx, a, q, axis, out, overwrite_input, weights) -> Operand:
    # (B, *s), q (*t), axis=k -> NumPy's (*t, B, *s without k) with axis k+1, the batch axis moved to 0;
    # axis=None -> every per-example axis (never the batch's)
    refuse_out(ctx, out)
    if q.batched or _given(weights):
        raise ctx.fail("quantiles that differ between examples, or weights")
    if static(overwrite_input, False) not in (False, 0, None):
        raise ctx.fail("`overwrite_input=` (the loop lets NumPy overwrite each example in place)")
    extra = options(ctx.call, "a", "q", "axis")
    _unbatched(ctx, axis=axis, **extra)
    rq, nd, value = rank(q), rank(a), static(axis) if axis is not None else None
    if nd is None or nd == 0 or a.val.kind != Kind.ARRAY:
        raise ctx.fail("quantiles of a per-example scalar, or of a rank not known when the code is rewritten")
    nan = ctx.call.fn in _NAN_QUANTILES
    several = value is NO_STATIC or (isinstance(value, tuple) and 1 < len(set(value)) < nd)
    if nan and (rq is None or rq > 1) and several:
        # NumPy's nan forms then put q's axes out of order (numpy/lib/_nanfunctions_impl.py
        # `_nanquantile_ureduce_func`, axis=-1), differently for one example and for a batch
        raise ctx.fail("nanquantile/nanpercentile of a q of 2 or more axes over some of several axes")
    facts = quantile_facts(ctx.call, a, q, axis, keepdims=extra.get("keepdims"), method=extra.get("method"))
    axes = axes_tuple(value, nd) if value is not NO_STATIC else None
    whole = axes is None or len(set(axes)) == nd  # one quantile of each example: a 0-d result
    weak = q.val.kind == Kind.SCALAR or type(static(q)) in (int, float)
    if nan or rq is None or not (rq or weak or not whole):
        # the nan forms take each slice in turn, and the dtype of one quantile of an example that has a NaN
        # is a's, not q's promotion: a helper (runtime.py) gives each lane its example's result
        name = ctx.call.fn.__name__
        kw = {k: v.node for k, v in extra.items() if k in ("method", "keepdims")}
        args = [name, a.node, q.node, templates.const(None) if axis is None else axis.node]
        return emit(templates.call(ctx.expr("av__.quantile"), args, kw), facts)
    if value is None:
        node_axis = templates.const(tuple(range(1, nd + 1)) if nd > 1 else 1)
    else:
        node_axis = shift_axis(ctx, axis, nd)
    node = respell(ctx, {"a": a.node, "axis": node_axis}, keyword=("axis",))
    if rq:
        node = ctx.expr("np.moveaxis(r, k, 0)", r=node, k=rq)
    return emit(node, facts)


@register(np.percentile, np.quantile, np.nanpercentile, np.nanquantile, traits="reduction")
@infers(quantile_facts)
def batch_quantile(
    ctx, a, q, axis=None, out=None, overwrite_input=None, method=None, keepdims=None, *, weights=None
) -> Operand:
    return _quantile(ctx, a, q, axis, out, overwrite_input, weights)


# --------------------------------------------------------------------------- histogram


def _edges_vary(bins, range) -> bool:
    """Could the bin edges differ between examples (or be unknown here)? A number of bins (10 when not
    given) takes its edges from each example's values unless a range is given; an array is the edges."""
    value = 10 if bins is None else static(bins)
    if value is NO_STATIC:
        count = rank(bins) == 0
        if rank(bins) != 1 and not count:
            return True  # (a value of unknown rank)
    elif isinstance(value, str):
        return True
    else:
        count = np.ndim(value) == 0
    if not count:
        return False
    if range is None or static(range) is None:
        return True
    return static(range) is NO_STATIC and range.val.kind not in (Kind.TUPLE, Kind.LIST, Kind.ARRAY)


def _edges_kind(a, bins) -> str | None:
    """The edges' kind: a number of bins makes float edges (of real values); an array is the edges."""
    value = 10 if bins is None else static(bins)
    if value is NO_STATIC:
        if rank(bins) == 1:
            return bins.val.dtype
        return "f" if rank(bins) == 0 and a.val.dtype in ("b", "i", "u", "f") else None
    if isinstance(value, str) or np.ndim(value) == 0:
        return "f" if a.val.dtype in ("b", "i", "u", "f") else None
    try:
        return np.asarray(value).dtype.kind
    except (TypeError, ValueError):
        return None


def _counts_kind(density, weights) -> str | None:
    """Counts are ints, sums of weights the weights' kind, densities float (complex for complex
    weights)."""
    dense = False if density is None else static(density)
    if dense is NO_STATIC:
        return None
    kind = weights.val.dtype if _given(weights) else None
    if dense:
        return "c" if kind == "c" else "f" if not _given(weights) or kind in ("b", "i", "u", "f") else None
    return kind if _given(weights) else "i"


def histogram_facts(call, a, bins=None, range=None, density=None, weights=None, **_) -> Val:
    """(counts, edges): two vectors."""
    return container(
        Kind.TUPLE, [array(False, 1, _counts_kind(density, weights)), array(False, 1, _edges_kind(a, bins))]
    )


@register(np.histogram)
@infers(histogram_facts)
def batch_histogram(ctx, a, bins=None, range=None, density=None, weights=None) -> Operand:
    # (B, *s) with edges the same for every example -> counts (B, nbins), and the one array of edges
    _unbatched(ctx, bins=bins, range=range, density=density)
    if a.val.dtype not in ("b", "i", "u", "f", None):
        raise ctx.fail("a histogram of values that are not real numbers")
    if _edges_vary(bins, range):
        raise ctx.fail("bin edges taken from each example's values (a number of bins without a range)")
    args = [
        _lanes_node(ctx, a, "a"),
        templates.const(10) if bins is None else bins.node,
        templates.const(None) if range is None else range.node,
        templates.const(None) if density is None else density.node,
    ]
    if _given(weights):
        assert weights is not None  # (_given)
        args.append(_lanes_node(ctx, weights, "weights"))
    facts = histogram_facts(ctx.call, a, bins, range, density, weights)
    elts = facts.elts or ()
    return Operand(
        templates.call(ctx.expr("av__.histogram"), args),
        container(Kind.TUPLE, [elts[0].with_(batched=True), elts[1]]),
    )


# --------------------------------------------------------------------------- bincount


def bincount_facts(call, x, weights=None, minlength=None, **_) -> Val:
    """A vector: counts (ints), or sums of weights (float, but ints for an empty x)."""
    return array(False, 1, None if _given(weights) else "i")


@register(np.bincount)
@infers(bincount_facts)
def batch_bincount(ctx, x, /, weights=None, minlength=None) -> Operand:
    # (B, n) -> (B, m) when every example's length m = max(max(x) + 1, minlength) is the same; otherwise
    # the helper raises `RaggedBatch`, and the call runs as the per-example loop (api.run_numpy)
    _unbatched(ctx, minlength=minlength)
    if rank(x) != 1 or (_given(weights) and rank(weights) != 1):
        raise ctx.fail("bincount of per-example values that are not vectors (the loop raises)")
    if x.val.dtype in ("f", "c"):
        raise ctx.fail("bincount of values that are not integers (the loop raises)")
    kw = {}
    if _given(weights):
        assert weights is not None  # (_given)
        kw["weights"] = _lanes_node(ctx, weights, "weights")
    if minlength is not None:
        kw["minlength"] = minlength.node
    node = templates.call(ctx.expr("av__.bincount"), [_lanes_node(ctx, x, "x")], kw)
    return emit(node, bincount_facts(ctx.call, x, weights))


# --------------------------------------------------------------------------- cov, corrcoef


def cov_facts(call, m=None, y=None, dtype=None, x=None, **_) -> Val:
    """A matrix of the variables (rows; columns with rowvar=False), a scalar for one variable: of a 2-D
    example the rank is its number of variables' (known only at run time). Float, or complex; NumPy's
    empty float64 matrix for no variables."""
    m = x if m is None else m
    rm, ry = rank(m), rank(y) if _given(y) else 0
    if rm is None or ry is None or rm > 2 or ry > 2:
        return UNKNOWN  # refused by the rule
    small = rm <= 1 and ry <= 1
    ndim = None if not small else 2 if _given(y) else 0
    if _given(dtype):
        kind = dtype_kind(dtype)
    else:
        kinds = {m.val.dtype, y.val.dtype if _given(y) else "f"}
        kind = None if None in kinds else "c" if "c" in kinds else "f"
    return array(False, ndim, kind if kind == "f" or small else None)


def _cov(ctx, m, y, named: dict) -> Operand:
    # (B, vars, obs) -> (B, vars, vars) per example as NumPy computes it (the helper); options shared
    _unbatched(ctx, **named)
    facts = cov_facts(ctx.call, m, y, named.get("dtype"))
    if facts.kind != Kind.ARRAY:
        raise ctx.fail("cov/corrcoef of per-example arrays of more than 2 dimensions or of unknown rank")
    kw = {k: v.node for k, v in named.items() if v is not None}
    if _given(y):
        kw["y"] = _lanes_node(ctx, y, "y")
    helper = "av__.cov" if ctx.call.fn is np.cov else "av__.corrcoef"
    return emit(templates.call(ctx.expr(helper), [_lanes_node(ctx, m, "m")], kw), facts)


@register(np.cov)
@infers(cov_facts)
def batch_cov(
    ctx, m, y=None, rowvar=None, bias=None, ddof=None, fweights=None, aweights=None, *, dtype=None
) -> Operand:
    if _given(fweights) and _given(aweights):
        raise ctx.fail("np.cov with both fweights and aweights (NumPy multiplies them in place)")
    named = {"rowvar": rowvar, "bias": bias, "ddof": ddof, "fweights": fweights, "aweights": aweights}
    return _cov(ctx, m, y, {**named, "dtype": dtype})


@register(np.corrcoef)
@infers(cov_facts)
def batch_corrcoef(ctx, x, y=None, rowvar=None, *, dtype=None) -> Operand:
    return _cov(ctx, x, y, {"rowvar": rowvar, "dtype": dtype})
