"""Contractions (`dot vdot inner outer matmul @ tensordot einsum trace`) and `np.linalg`.

Every contraction is first written as a per-example einsum, the batch letter is added to the batched
operands and to the output, and the result is emitted as one `@` when it is a matrix product BLAS can
do (`ij,bj->bi` is `x @ w.T`: `predict` becomes one GEMM), and as one `np.einsum` otherwise.
"""

from __future__ import annotations

import operator
import string

import numpy as np

from ..kit import templates
from .common import (
    NO_STATIC,
    align,
    dtype_kind,
    emit,
    infers,
    options,
    out,
    rank,
    refuse_out,
    respell,
    result_kind,
    shift_axis,
    static,
)
from .registry import register
from .values import UNKNOWN, Kind, Operand, Val, array

# canonical batched spec -> matmul form (A, B are the two operands)
_MATMUL = {
    "bi,ij->bj": "A @ B",
    "ij,bj->bi": "B @ A.T",
    "bi,i->b": "A @ B",
    "i,bi->b": "B @ A",
    "bij,jk->bik": "A @ B",
    "ij,bjk->bik": "A @ B",
    "bij,bjk->bik": "A @ B",
    "bij,j->bi": "A @ B",
    "i,bij->bj": "A @ B",
    "bi,ji->bj": "A @ B.T",
    "bij,kj->bik": "A @ B.mT",
    "ij,bkj->bik": "A @ B.mT",
}


def _canonical(specs, out_spec, batch):
    """Rename letters in order of first appearance (batch letter -> 'b') to look up _MATMUL."""
    names, free = {batch: "b"}, iter("ijklmnopqrstuvwxyz")

    def ren(s):
        r = ""
        for c in s:
            if c not in names:
                names[c] = next(free)
            r += names[c]
        return r

    return ",".join(ren(s) for s in specs) + "->" + ren(out_spec)


def contract(ctx, specs: list[str], out_spec: str, ops: list[Operand], dtype=None, rename=True) -> Operand:
    """The batched form of `np.einsum(','.join(specs) + '->' + out_spec, *ops)` (per-example specs).

    `rename`: letters we chose ourselves are renamed i, j, k, ... in order of appearance (readable);
    a user's einsum keeps its own letters."""
    if rename and "..." not in "".join(specs):
        names: dict[str, str] = {}
        free = iter("ijklmnopqrstuvwxyz")

        def ren(s):
            return "".join(names.setdefault(c, next(free)) for c in s)

        specs = [ren(s) for s in specs]
        out_spec = ren(out_spec)
    used = set("".join(specs) + out_spec)
    batch = next(c for c in "b" + string.ascii_letters if c not in used)
    bspecs = [(batch + s) if o.batched else s for s, o in zip(specs, ops)]
    bout = batch + out_spec
    ndim = len(out_spec.replace("...", "")) if "..." not in out_spec else None
    if len(ops) == 2 and "..." not in "".join(specs):
        form = _MATMUL.get(_canonical(bspecs, bout, batch))
        if form is not None:
            return out(ctx.expr(form, A=ops[0].node, B=ops[1].node), True, ndim, dtype)
    spec = ",".join(bspecs) + "->" + bout
    return out(templates.call(ctx.expr("np.einsum"), [spec] + [o.node for o in ops]), True, ndim, dtype)


def _letters(n, skip=""):
    return [c for c in "ijklmnopqrstuvwxyzacdefgh" if c not in skip][:n]


def _numeric(ctx, *ops):
    reason = _not_numeric(ops)
    if reason is not None:
        raise ctx.fail(reason)


def _not_numeric(ops) -> str | None:
    """Why operands cannot be contracted here (None: they can)."""
    if any(o.val.kind not in (Kind.ARRAY, Kind.SCALAR) for o in ops):
        return "a contraction of a container"
    if any(o.val.ndim is None for o in ops):
        return "a contraction whose per-example ranks are not known when the code is rewritten"
    return None


def _mul(ctx, a, b, facts: Val):
    nodes, _ = align(ctx, [a, b])
    return emit(ctx.expr("np.multiply(x, y)", x=nodes[0], y=nodes[1]), facts)


def dot_facts(call, a, b, out=None, **_) -> Val:
    """A scalar operand multiplies; else a's axes but its last and b's but its second-to-last. NumPy's
    promotion of the kinds."""
    if static(out) is not None or _not_numeric([a, b]) is not None:
        return UNKNOWN  # refused by the rule
    ra, rb = a.val.ndim or 0, b.val.ndim or 0
    if ra == 0 or rb == 0:
        return array(False, max(ra, rb), result_kind(operator.mul, [a, b]))
    return array(False, ra + rb - 2, result_kind(np.dot, [a, b]))


@register(np.dot, traits="contraction fresh")
@infers(dot_facts)
def batch_dot(ctx, a, b, out=None) -> Operand:
    # dot(a, b): sum over a's last axis and b's second-to-last (its only one for a vector)
    refuse_out(ctx, out)
    _numeric(ctx, a, b)
    facts = dot_facts(ctx.call, a, b)
    ra, rb = a.val.ndim, b.val.ndim
    if ra == 0 or rb == 0:
        return _mul(ctx, a, b, facts)
    la = _letters(ra - 1) + ["z"]
    if rb == 1:
        lb = ["z"]
    else:
        rest = _letters(rb - 1, skip="".join(la))
        lb = rest[:-1] + ["z"] + rest[-1:]
    o = la[:-1] + [c for c in lb if c != "z"]
    return contract(ctx, ["".join(la), "".join(lb)], "".join(o), [a, b], facts.dtype)


@register(np.ndarray.dot, traits="contraction fresh")
@infers(dot_facts)
def batch_dot_method(ctx, a, b, /, out=None) -> Operand:
    return batch_dot(ctx, a, b, out)


def matmul_facts(call, a, b, **options) -> Val:
    """Vectors and matrices: the axes left after the product; stacks of matrices broadcast."""
    if any(v is not None for v in options.values()) or _not_numeric([a, b]) is not None:
        return UNKNOWN  # refused by the rule
    ra, rb = a.val.ndim or 0, b.val.ndim or 0
    if ra == 0 or rb == 0:
        return UNKNOWN  # NumPy raises
    kind = result_kind(np.matmul, [a, b])
    if ra <= 2 and rb <= 2:
        return array(False, (ra == 2) + (rb == 2), kind)
    return array(False, max(ra, rb) if ra >= 2 and rb >= 2 else max(ra, rb) - 1, kind)


def _matmul(ctx, a, b) -> Operand:
    # 1-D and 2-D operands: a per-example einsum; N-D: align stack ranks and keep `@`
    _numeric(ctx, a, b)
    ra, rb = a.val.ndim, b.val.ndim
    if ra == 0 or rb == 0:
        raise ctx.error("matmul of a per-example scalar (the loop raises ValueError)")
    facts = matmul_facts(ctx.call, a, b)
    if ra <= 2 and rb <= 2:
        sa = "ij" if ra == 2 else "j"
        sb = "jk" if rb == 2 else "j"
        o = ("i" if ra == 2 else "") + ("k" if rb == 2 else "")
        return contract(ctx, [sa, sb], o, [a, b], facts.dtype)
    if ra >= 2 and rb >= 2:
        nodes, _ = align(ctx, [a, b])
        return emit(ctx.call.rebuild(nodes, {}), facts)
    # a vector with a stack of matrices: only one operand has stack axes, so explicit letters suffice
    stack = "".join(_letters(max(ra, rb) - 2, skip="ijk"))
    if ra == 1:
        return contract(ctx, ["j", stack + "jk"], stack + "k", [a, b], facts.dtype)
    return contract(ctx, [stack + "ij", "j"], stack + "i", [a, b], facts.dtype)


@register(operator.matmul, traits="contraction fresh")
@infers(matmul_facts)
def batch_matmul_operator(ctx, a, b, /) -> Operand:
    return _matmul(ctx, a, b)


@register(np.matmul, traits="contraction fresh")
@infers(matmul_facts)
def batch_matmul(
    ctx,
    a,
    b,
    /,
    out=None,
    *,
    axes=None,
    axis=None,
    keepdims=None,
    casting=None,
    order=None,
    dtype=None,
    subok=None,
    signature=None,
) -> Operand:
    if any(o is not None for o in (out, axes, axis, keepdims, casting, order, dtype, subok, signature)):
        raise ctx.fail("keyword arguments of matmul")
    return _matmul(ctx, a, b)


def vdot_facts(call, a, b, **_) -> Val:
    """A scalar."""
    if _not_numeric([a, b]) is not None:
        return UNKNOWN  # refused by the rule
    return array(False, 0, result_kind(np.vdot, [a, b]))


@register(np.vdot, traits="contraction fresh")
@infers(vdot_facts)
def batch_vdot(ctx, a, b, /) -> Operand:
    # vdot flattens both and conjugates the first: (B, *s), (*t) -> (B,)
    _numeric(ctx, a, b)
    x, y = (_flat(ctx, o) for o in (a, b))
    if a.val.dtype not in ("b", "i", "u", "f"):
        x = Operand(ctx.expr("np.conj(x)", x=x.node), x.val)
    return contract(ctx, ["i", "i"], "", [x, y], vdot_facts(ctx.call, a, b).dtype)


def _flat(ctx, o: Operand) -> Operand:
    if o.val.ndim == 1:
        return o
    node = ctx.expr("av__.flatten(x)", x=o.node) if o.batched else ctx.expr("np.ravel(x)", x=o.node)
    return Operand(node, Val(o.batched, 1, Kind.ARRAY, o.val.dtype))


def inner_facts(call, a, b, **_) -> Val:
    """A scalar operand multiplies; else the axes of both but their last."""
    if _not_numeric([a, b]) is not None:
        return UNKNOWN  # refused by the rule
    ra, rb = a.val.ndim or 0, b.val.ndim or 0
    if ra == 0 or rb == 0:
        return array(False, max(ra, rb), result_kind(operator.mul, [a, b]))
    return array(False, ra + rb - 2, result_kind(np.inner, [a, b]))


@register(np.inner, traits="contraction fresh")
@infers(inner_facts)
def batch_inner(ctx, a, b, /) -> Operand:
    # inner: sum over the last axes of both
    _numeric(ctx, a, b)
    facts = inner_facts(ctx.call, a, b)
    ra, rb = a.val.ndim, b.val.ndim
    if ra == 0 or rb == 0:
        return _mul(ctx, a, b, facts)
    la = _letters(ra - 1) + ["z"]
    lb = _letters(rb - 1, skip="".join(la)) + ["z"]
    return contract(ctx, ["".join(la), "".join(lb)], "".join(la[:-1] + lb[:-1]), [a, b], facts.dtype)


def outer_facts(call, a, b, out=None, **_) -> Val:
    """A matrix (both operands flattened)."""
    if static(out) is not None or _not_numeric([a, b]) is not None:
        return UNKNOWN  # refused by the rule
    return array(False, 2, result_kind(np.outer, [a, b]))


@register(np.outer, traits="contraction fresh")
@infers(outer_facts)
def batch_outer(ctx, a, b, out=None) -> Operand:
    # outer flattens both: (B, *s), (*t) -> (B, prod(s), prod(t))
    refuse_out(ctx, out)
    _numeric(ctx, a, b)
    x, y = _flat(ctx, a), _flat(ctx, b)
    return contract(ctx, ["i", "j"], "ij", [x, y], outer_facts(ctx.call, a, b).dtype)


def _tensordot_axes(a, b, axes):
    """The contracted axes of a and of b (non-negative), or None when not known."""
    value = 2 if axes is None else static(axes)
    ra, rb = a.val.ndim, b.val.ndim
    if value is NO_STATIC or ra is None or rb is None:
        return None
    try:
        if isinstance(value, int):
            ax_a, ax_b = list(range(ra - value, ra)), list(range(value))
        else:
            ax_a, ax_b = ([x] if isinstance(x, int) else list(x) for x in value)
        return [x % ra for x in ax_a], [x % rb for x in ax_b]
    except (TypeError, ValueError, ZeroDivisionError):
        return None  # not axes NumPy takes


def tensordot_facts(call, a, b, axes=None, **_) -> Val:
    """The axes of both that are not contracted."""
    found = _tensordot_axes(a, b, axes)
    if found is None or _not_numeric([a, b]) is not None:
        return UNKNOWN  # refused by the rule
    ndim = (a.val.ndim or 0) + (b.val.ndim or 0) - len(found[0]) - len(found[1])
    return array(False, ndim, result_kind(np.dot, [a, b]))


@register(np.tensordot, traits="contraction fresh")
@infers(tensordot_facts)
def batch_tensordot(ctx, a, b, axes=None) -> Operand:
    # tensordot(a, b, axes): an einsum over the named axes
    _numeric(ctx, a, b)
    found = _tensordot_axes(a, b, axes)
    if found is None:
        raise ctx.fail("tensordot axes known only at run time")
    ax_a, ax_b = found
    la = _letters(a.val.ndim)
    lb = _letters(b.val.ndim, skip="".join(la))
    for i, j in zip(ax_a, ax_b):
        lb[j] = la[i]
    o = [c for i, c in enumerate(la) if i not in ax_a] + [c for j, c in enumerate(lb) if j not in ax_b]
    return contract(
        ctx, ["".join(la), "".join(lb)], "".join(o), [a, b], tensordot_facts(ctx.call, a, b, axes).dtype
    )


def _einsum_specs(subscripts) -> tuple[list[str], str] | None:
    """The per-operand specs and the output spec of a literal einsum string (None when not literal)."""
    spec = static(subscripts)
    if not isinstance(spec, str):
        return None
    ins, arrow, outs = spec.replace(" ", "").partition("->")
    if not arrow:
        letters = [c for c in ins if c.isalpha()]
        outs = ("..." if "..." in ins else "") + "".join(
            sorted(c for c in set(letters) if letters.count(c) == 1)
        )
    return ins.split(","), outs


def einsum_facts(call, operands=(), out=None, dtype=None, order=None, casting=None, **_) -> Val:
    """As many axes as the output spec names (not known with `...`)."""
    specs = _einsum_specs(operands[0]) if operands else None
    if specs is None or any(o is not None for o in (out, dtype, order, casting)):
        return UNKNOWN  # refused by the rule
    if _not_numeric(operands[1:]) is not None:
        return UNKNOWN
    return array(False, None if "..." in specs[1] else len(specs[1]))


@register(np.einsum, traits="contraction")
@infers(einsum_facts)
def batch_einsum(ctx, *operands, out=None, optimize=None, dtype=None, order=None, casting=None) -> Operand:
    # per-example spec 'ij,j->i' becomes 'ij,bj->bi' (the batch letter on batched operands and output)
    specs = _einsum_specs(operands[0]) if operands else None
    if specs is None:
        raise ctx.fail("an einsum whose subscripts are not a literal string")
    if any(o is not None for o in (out, dtype, order, casting)):
        raise ctx.fail("einsum keyword arguments other than optimize")
    _numeric(ctx, *operands[1:])
    return contract(ctx, specs[0], specs[1], list(operands[1:]), None, rename=False)


def diagonal_facts(call, a, dtype=None, out=None, **_) -> Val:
    """trace: two axes fewer (NumPy's sum kind, or the dtype's); diagonal: one fewer, the same kind."""
    nd = a.val.ndim
    if static(out) is not None:
        return UNKNOWN  # refused by the rule
    if call.fn in (np.trace, np.ndarray.trace):
        kind = dtype_kind(dtype, {"b": "i"}.get(a.val.dtype, a.val.dtype))
        return array(False, None if nd is None else nd - 2, kind)
    return array(False, None if nd is None else nd - 1, a.val.dtype)


def _diagonal(ctx, a, offset, axis1, axis2, dtype=None, out=None) -> Operand:
    # trace/diagonal over per-example axes (axis1, axis2) -> (axis1 + 1, axis2 + 1)
    refuse_out(ctx, out)
    nd = a.val.ndim
    a1 = shift_axis(ctx, axis1, nd) if axis1 is not None else templates.const(1)
    a2 = shift_axis(ctx, axis2, nd) if axis2 is not None else templates.const(2)
    args = [a.node] + ([offset.node] if offset is not None else [])
    kw = {"axis1": a1, "axis2": a2, **({"dtype": dtype.node} if dtype is not None else {})}
    return emit(ctx.call.rebuild(args, kw), diagonal_facts(ctx.call, a, dtype))


@register(np.trace)
@infers(diagonal_facts)
def batch_trace(ctx, a, offset=None, axis1=None, axis2=None, dtype=None, out=None) -> Operand:
    return _diagonal(ctx, a, offset, axis1, axis2, dtype, out)


@register(np.ndarray.trace)
@infers(diagonal_facts)
def batch_trace_method(ctx, a, /, offset=None, axis1=None, axis2=None, dtype=None, out=None) -> Operand:
    return _diagonal(ctx, a, offset, axis1, axis2, dtype, out)


@register(np.diagonal)
@infers(diagonal_facts)
def batch_diagonal(ctx, a, offset=None, axis1=None, axis2=None) -> Operand:
    return _diagonal(ctx, a, offset, axis1, axis2)


@register(np.ndarray.diagonal)
@infers(diagonal_facts)
def batch_diagonal_method(ctx, a, /, offset=None, axis1=None, axis2=None) -> Operand:
    return _diagonal(ctx, a, offset, axis1, axis2)


# ---- np.linalg ----------------------------------------------------------------------------------
# axes each function drops from a stack of matrices (a tuple: per result)
_DROPS: dict[object, int | tuple[int, ...]] = {
    np.linalg.inv: 0,
    np.linalg.det: 2,
    np.linalg.cholesky: 0,
    np.linalg.eigvalsh: 1,
    np.linalg.eigvals: 1,
    np.linalg.matrix_rank: 2,
    np.linalg.slogdet: (2, 2),
    np.linalg.eigh: (1, 0),
    np.linalg.eig: (1, 0),
    np.linalg.svd: (0, 1, 0),
    np.linalg.qr: (0, 0),
}


def linalg_facts(call, a=None, A=None, compute_uv=None, mode=None, **_) -> Val:
    """A stack of matrices loses the axes the function reduces (a tuple of results for eig, svd, ...);
    `svd(compute_uv=False)` and `qr(mode="r")` give one array."""
    nd = (A if a is None else a).val.ndim
    if nd is None or nd < 2:
        return UNKNOWN  # refused by the rule
    drops = _DROPS[call.fn]
    if not isinstance(drops, tuple):
        return array(False, nd - drops)
    if call.fn is np.linalg.svd and static(compute_uv, True) is False:
        return array(False, nd - 1)
    if call.fn is np.linalg.qr and static(mode, "reduced") == "r":
        return array(False, nd)
    if NO_STATIC in (static(compute_uv), static(mode)):
        return UNKNOWN  # the result's structure is known only at run time
    return Val(False, None, Kind.TUPLE, None, tuple(array(False, nd - d) for d in drops))


def _linalg(ctx, a, compute_uv=None, mode=None) -> Operand:
    # NumPy's linalg broadcasts over leading axes: (B, n, n) -> (B, ...) with the same call; a tuple of
    # results is a tuple of batched arrays
    if any(o.batched for o in options(ctx.call, "a", "A").values()):
        raise ctx.fail("linalg options that differ between examples")
    facts = linalg_facts(ctx.call, a, compute_uv=compute_uv, mode=mode)
    if facts.kind == Kind.OTHER:
        raise ctx.fail(
            "linalg of a per-example array of rank < 2, or options that decide the result's structure"
        )
    node = respell(ctx, {})  # the same call (NOTE [arguments by parameter], rules/common.py)
    if facts.kind == Kind.TUPLE:
        elts = tuple(e.with_(batched=True) for e in facts.elts or ())
        return Operand(ctx.expr("tuple(r)", r=node), facts.with_(batched=True, elts=elts))
    return emit(node, facts)


@register(np.linalg.inv, np.linalg.det, np.linalg.eigvals, traits="contraction fresh")
@register(np.linalg.slogdet, np.linalg.eig, traits="contraction")
@infers(linalg_facts)
def batch_linalg(ctx, a) -> Operand:
    return _linalg(ctx, a)


@register(np.linalg.cholesky, traits="contraction fresh")
@infers(linalg_facts)
def batch_cholesky(ctx, a, /, *, upper=None) -> Operand:
    return _linalg(ctx, a)


@register(np.linalg.eigvalsh, np.linalg.eigh, traits="contraction fresh")
@infers(linalg_facts)
def batch_eigh(ctx, a, UPLO=None) -> Operand:
    return _linalg(ctx, a)


def matrix_rank_facts(call, A, tol=None, rtol=None, **_) -> Val:
    """The stack's leading axes (a tolerance of more axes adds its own: not stated)."""
    if _tolerance_refusal(A, (tol, rtol)) is not None:
        return UNKNOWN  # refused by the rule
    return linalg_facts(call, A=A)


@register(np.linalg.matrix_rank, traits="contraction fresh")
@infers(matrix_rank_facts)
def batch_matrix_rank(ctx, A, tol=None, hermitian=None, *, rtol=None) -> Operand:
    reason = _tolerance_refusal(A, (tol, rtol))
    if reason is not None:
        raise ctx.fail(reason)
    return _linalg(ctx, A)


@register(np.linalg.svd, traits="contraction")
@infers(linalg_facts)
def batch_svd(ctx, a, full_matrices=None, compute_uv=None, hermitian=None) -> Operand:
    return _linalg(ctx, a, compute_uv=compute_uv)


@register(np.linalg.qr, traits="contraction")
@infers(linalg_facts)
def batch_qr(ctx, a, mode=None) -> Operand:
    return _linalg(ctx, a, mode=mode)


def diag_facts(call, v, k=None, **_) -> Val:
    """A matrix's diagonal (a vector), or a vector's diagonal matrix."""
    if k is not None and static(k) is NO_STATIC:
        return UNKNOWN  # refused by the rule
    return {2: array(False, 1, v.val.dtype), 1: array(False, 2, v.val.dtype)}.get(v.val.ndim, UNKNOWN)


@register(np.diag)
@infers(diag_facts)
def batch_diag(ctx, v, k=None) -> Operand:
    # 2-D examples: their k-th diagonal (a copy), (B, n, m) -> (B, d); 1-D: a diagonal matrix, (B, n) ->
    # (B, n + |k|, n + |k|)
    if k is not None and (k.batched or static(k) is NO_STATIC):
        raise ctx.fail("a diagonal offset known only at run time")
    off, facts = 0 if k is None else static(k), diag_facts(ctx.call, v, k)
    if v.val.ndim == 2:
        return emit(ctx.expr("np.diagonal(x, k, axis1=1, axis2=2).copy()", x=v.node, k=off), facts)
    if v.val.ndim == 1:
        return emit(ctx.expr("av__.diag_matrix(x, k)", x=v.node, k=off), facts)
    raise ctx.fail("np.diag of a per-example array that is not 1-D or 2-D")


def solve_facts(call, a, b, **_) -> Val:
    """A matrix with a vector or matrix: b's rank."""
    if a.val.ndim != 2 or b.val.ndim not in (1, 2):
        return UNKNOWN  # refused by the rule
    return array(False, b.val.ndim)


@register(np.linalg.solve, traits="contraction fresh")
@infers(solve_facts)
def batch_solve(ctx, a, b) -> Operand:
    # NumPy 2 treats a stacked b as matrices: a batched vector b is solved as b[..., None] (silently
    # wrong otherwise when B == n)
    facts = solve_facts(ctx.call, a, b)
    if facts.ndim is None:
        raise ctx.fail("solve of per-example ranks other than (2, 1|2)")
    if b.val.ndim == 1 and b.batched:
        node = ctx.expr("np.linalg.solve(A, y[..., None])[..., 0]", A=a.node, y=b.node)
    else:
        node = ctx.call.rebuild([a.node, b.node], {})
    return emit(node, facts)


def norm_facts(call, x, ord=None, axis=None, keepdims=None, **_) -> Val:
    """Without an axis, a vector's or a matrix's norm (of higher ranks, the flattened vector's); with
    one, the axes left; float."""
    nd, keep = x.val.ndim, static(keepdims, False) if keepdims is not None else False
    if keep is NO_STATIC:
        return array(False, None, "f")
    if axis is None or static(axis) is None:
        if nd is not None and nd > 2 and (ord is not None or keep):
            return UNKNOWN  # refused by the rule
        return array(False, nd if keep else 0, "f")
    n_ax = static(axis)
    if nd is None or n_ax is NO_STATIC:
        return array(False, None, "f")
    return array(False, nd if keep else nd - (len(n_ax) if isinstance(n_ax, tuple) else 1), "f")


@register(np.linalg.norm, traits="contraction fresh")
@infers(norm_facts)
def batch_norm(ctx, x, ord=None, axis=None, keepdims=None) -> Operand:
    # norm without axis: a vector norm for 1-D examples, a matrix norm for 2-D ones (never over the batch)
    nd, facts = x.val.ndim, norm_facts(ctx.call, x, ord, axis, keepdims)
    kw = {k: o.node for k, o in (("ord", ord), ("keepdims", keepdims)) if o is not None}
    if axis is not None and static(axis) is not None:
        kw["axis"] = shift_axis(ctx, axis, nd)
    elif nd in (1, 2):
        kw["axis"] = templates.const(1 if nd == 1 else (1, 2))
    elif ord is None and not static(keepdims, False):
        return emit(ctx.expr("np.linalg.norm(av__.flatten(x), axis=1)", x=x.node), facts)
    else:
        raise ctx.fail("norm of a per-example array of rank > 2 (or unknown) with ord or keepdims")
    return emit(ctx.call.rebuild([x.node], kw), facts)


def matrix_power_facts(call, a, **_) -> Val:
    """The same stack of matrices."""
    return array(False, a.val.ndim, a.val.dtype)


@register(np.linalg.matrix_power, traits="contraction")
@infers(matrix_power_facts)
def batch_matrix_power(ctx, a, n) -> Operand:
    # (B, k, k) stacked; n must be the same for every example
    if n.batched:
        raise ctx.fail("a matrix power that differs between examples")
    return emit(ctx.call.rebuild([a.node, n.node], {}), matrix_power_facts(ctx.call, a))


# ---- pinv and lstsq: tolerances, and results whose shape is per example ------------------------------
def _tolerance_refusal(a, tolerances) -> str | None:
    """Why `pinv` or `matrix_rank` of this per-example `a` with these tolerances cannot be batched (None:
    it can). NumPy broadcasts a tolerance against the stack's leading axes: one of more axes than that
    stack would reach the batch axis (per example, pinv raises and matrix_rank gives more axes; stacked,
    the lengths meet the batch's: a result of another shape, or an error)."""
    nd = a.val.ndim
    if nd is None or nd < 2:
        return "pinv or matrix_rank of a per-example array of rank < 2 (or not known)"
    for tol in tolerances:
        if tol is None or static(tol) is None:
            continue
        r = rank(tol)
        if r is None or r > nd - 2:
            return "a tolerance of more axes than the stack of matrices (or of a rank not known)"
    return None


def pinv_facts(call, a, rcond=None, rtol=None, **_) -> Val:
    """Each matrix of the stack transposed: the same rank, float or complex (an empty stack of integers
    keeps its type)."""
    if _tolerance_refusal(a, (rcond, rtol)) is not None:
        return UNKNOWN  # refused by the rule
    return array(False, a.val.ndim, {"f": "f", "c": "c"}.get(a.val.dtype or ""))


@register(np.linalg.pinv, traits="contraction fresh")
@infers(pinv_facts)
def batch_pinv(ctx, a, rcond=None, hermitian=None, *, rtol=None) -> Operand:
    # (B, *s, m, n) -> (B, *s, n, m): the same call. A tolerance that differs between examples, (B, *t)
    # with t no longer than s, broadcasts against the stack as (B, 1, ..., *t); the matrices are then
    # repeated over the batch if they are the same for every example
    reason = _tolerance_refusal(a, (rcond, rtol))
    if reason is not None:
        raise ctx.fail(reason)
    if hermitian is not None and hermitian.batched:
        raise ctx.fail("`hermitian` that differs between examples")
    nd = a.val.ndim
    assert nd is not None  # (_tolerance_refusal)
    nodes = {}
    for name, tol in (("rcond", rcond), ("rtol", rtol)):
        if tol is not None and tol.batched:
            nodes[name] = templates.batch_slice_prefix(tol.node, nd - 2 - (rank(tol) or 0))
    if nodes and not a.batched:
        nodes["a"] = ctx.promote(a, a.val.with_(batched=True)).node
    return emit(respell(ctx, nodes), pinv_facts(ctx.call, a, rcond, rtol))


def _lstsq_refusal(a, b, rcond) -> str | None:
    """Why `lstsq` of these per-example operands cannot be batched (None: it can): NumPy takes a matrix
    and a vector or a matrix, and one real `rcond`."""
    if a.val.kind != Kind.ARRAY or a.val.ndim != 2 or rank(b) not in (1, 2):
        return "lstsq of a per-example `a` that is not a matrix, or a `b` not a vector or a matrix"
    if rcond is None or static(rcond) is None:
        return None
    if rcond.batched:
        return "an lstsq `rcond` that differs between examples"
    value = static(rcond)
    if value is NO_STATIC:
        return None if rank(rcond) == 0 else "an lstsq `rcond` that may not be a number"
    if isinstance(value, (bool, int, float, np.integer, np.floating)):
        return None
    return "an lstsq `rcond` that is not a real number"


def lstsq_facts(call, a, b, rcond=None, **_) -> Val:
    """(x, residuals, rank, s): x of b's rank (complex if an operand is), the residuals and the singular
    values real vectors, the rank an int."""
    if _lstsq_refusal(a, b, rcond) is not None:
        return UNKNOWN  # refused by the rule
    kinds = (a.val.dtype, b.val.dtype)
    kind = "c" if "c" in kinds else "f" if all(k in ("b", "i", "u", "f") for k in kinds) else None
    real = array(False, 1, "f")
    return Val(False, None, Kind.TUPLE, None, (array(False, rank(b), kind), real, array(False, 0, "i"), real))


@register(np.linalg.lstsq, traits="contraction")
@infers(lstsq_facts)
def batch_lstsq(ctx, a, b, rcond=None) -> Operand:
    # (B, m, n) and (B, m) or (B, m, k), one of them maybe the same for every example (a leading axis of
    # 1): one stacked SVD (runtime.lstsq). The residuals are empty on an example unless its rank is n and
    # m > n: where examples differ there, their results differ in shape (ragged), an error as stacking
    # the loop's results is
    reason = _lstsq_refusal(a, b, rcond)
    if reason is not None:
        raise ctx.fail(reason)
    operands = [o.node if o.batched else ctx.expr("np.expand_dims(x, 0)", x=o.node) for o in (a, b)]
    node = ctx.expr(
        "av__.lstsq(A, Y, r, vector=v)",
        A=operands[0],
        Y=operands[1],
        r=None if rcond is None else rcond.node,
        v=rank(b) == 1,
    )
    facts = lstsq_facts(ctx.call, a, b, rcond)
    return Operand(
        node, facts.with_(batched=True, elts=tuple(e.with_(batched=True) for e in facts.elts or ()))
    )
