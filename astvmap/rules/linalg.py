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
from .common import NO_STATIC, align, kw_nodes, out, result_kind, shift_axis, static
from .registry import register
from .values import Kind, Operand, Val

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
    for o in ops:
        if o.val.kind not in (Kind.ARRAY, Kind.SCALAR):
            raise ctx.fail("a contraction of a container")
        if o.val.ndim is None:
            raise ctx.fail("a contraction whose per-example ranks are not known when the code is rewritten")


def _mul(ctx, a, b):
    nodes, nd = align(ctx, [a, b])
    return out(
        ctx.expr("np.multiply(x, y)", x=nodes[0], y=nodes[1]), True, nd, result_kind(operator.mul, [a, b])
    )


@register(np.dot, np.ndarray.dot)
def batch_dot(ctx, a, b, out_=None) -> Operand:
    # dot(a, b): sum over a's last axis and b's second-to-last (its only one for a vector)
    if out_ is not None:
        raise ctx.fail("`out=`")
    _numeric(ctx, a, b)
    ra, rb = a.val.ndim, b.val.ndim
    if ra == 0 or rb == 0:
        return _mul(ctx, a, b)
    la = _letters(ra - 1) + ["z"]
    if rb == 1:
        lb = ["z"]
    else:
        rest = _letters(rb - 1, skip="".join(la))
        lb = rest[:-1] + ["z"] + rest[-1:]
    o = la[:-1] + [c for c in lb if c != "z"]
    return contract(ctx, ["".join(la), "".join(lb)], "".join(o), [a, b], result_kind(np.dot, [a, b]))


@register(np.matmul, operator.matmul)
def batch_matmul(ctx, a, b, **kwargs) -> Operand:
    # 1-D and 2-D operands: a per-example einsum; N-D: align stack ranks and keep `@`
    if kwargs:
        raise ctx.fail("keyword arguments of matmul")
    _numeric(ctx, a, b)
    ra, rb = a.val.ndim, b.val.ndim
    if ra == 0 or rb == 0:
        raise ctx.error("matmul of a per-example scalar (the loop raises ValueError)")
    kind = result_kind(np.matmul, [a, b])
    if ra <= 2 and rb <= 2:
        sa = "ij" if ra == 2 else "j"
        sb = "jk" if rb == 2 else "j"
        o = ("i" if ra == 2 else "") + ("k" if rb == 2 else "")
        return contract(ctx, [sa, sb], o, [a, b], kind)
    if ra >= 2 and rb >= 2:
        nodes, nd = align(ctx, [a, b])
        return out(ctx.call.rebuild(nodes, {}), True, nd, kind)
    # a vector with a stack of matrices: only one operand has stack axes, so explicit letters suffice
    stack = "".join(_letters(max(ra, rb) - 2, skip="ijk"))
    if ra == 1:
        return contract(ctx, ["j", stack + "jk"], stack + "k", [a, b], kind)
    return contract(ctx, [stack + "ij", "j"], stack + "i", [a, b], kind)


@register(np.vdot)
def batch_vdot(ctx, a, b) -> Operand:
    # vdot flattens both and conjugates the first: (B, *s), (*t) -> (B,)
    _numeric(ctx, a, b)
    x, y = (_flat(ctx, o) for o in (a, b))
    if a.val.dtype not in ("b", "i", "u", "f"):
        x = Operand(ctx.expr("np.conj(x)", x=x.node), x.val)
    return contract(ctx, ["i", "i"], "", [x, y], result_kind(np.vdot, [a, b]))


def _flat(ctx, o: Operand) -> Operand:
    if o.val.ndim == 1:
        return o
    node = ctx.expr("av__.flatten(x)", x=o.node) if o.batched else ctx.expr("np.ravel(x)", x=o.node)
    return Operand(node, Val(o.batched, 1, Kind.ARRAY, o.val.dtype))


@register(np.inner)
def batch_inner(ctx, a, b) -> Operand:
    # inner: sum over the last axes of both
    _numeric(ctx, a, b)
    ra, rb = a.val.ndim, b.val.ndim
    if ra == 0 or rb == 0:
        return _mul(ctx, a, b)
    la = _letters(ra - 1) + ["z"]
    lb = _letters(rb - 1, skip="".join(la)) + ["z"]
    return contract(
        ctx, ["".join(la), "".join(lb)], "".join(la[:-1] + lb[:-1]), [a, b], result_kind(np.inner, [a, b])
    )


@register(np.outer)
def batch_outer(ctx, a, b, out_=None) -> Operand:
    # outer flattens both: (B, *s), (*t) -> (B, prod(s), prod(t))
    _numeric(ctx, a, b)
    x, y = _flat(ctx, a), _flat(ctx, b)
    return contract(ctx, ["i", "j"], "ij", [x, y], result_kind(np.outer, [a, b]))


@register(np.tensordot)
def batch_tensordot(ctx, a, b, axes=None) -> Operand:
    # tensordot(a, b, axes): an einsum over the named axes
    _numeric(ctx, a, b)
    value = 2 if axes is None else static(axes)
    if value is NO_STATIC:
        raise ctx.fail("tensordot axes known only at run time")
    ra, rb = a.val.ndim, b.val.ndim
    if isinstance(value, int):
        ax_a, ax_b = list(range(ra - value, ra)), list(range(value))
    else:
        ax_a, ax_b = value
        ax_a = [ax_a] if isinstance(ax_a, int) else list(ax_a)
        ax_b = [ax_b] if isinstance(ax_b, int) else list(ax_b)
    ax_a, ax_b = [x % ra for x in ax_a], [x % rb for x in ax_b]
    la = _letters(ra)
    lb = _letters(rb, skip="".join(la))
    for i, j in zip(ax_a, ax_b):
        lb[j] = la[i]
    o = [c for i, c in enumerate(la) if i not in ax_a] + [c for j, c in enumerate(lb) if j not in ax_b]
    return contract(ctx, ["".join(la), "".join(lb)], "".join(o), [a, b], result_kind(np.dot, [a, b]))


@register(np.einsum)
def batch_einsum(ctx, subscripts, *operands, **kwargs) -> Operand:
    # per-example spec 'ij,j->i' becomes 'ij,bj->bi' (the batch letter on batched operands and output)
    spec = static(subscripts)
    if not isinstance(spec, str):
        raise ctx.fail("an einsum whose subscripts are not a literal string")
    if set(kwargs) - {"optimize"}:
        raise ctx.fail("einsum keyword arguments other than optimize")
    _numeric(ctx, *operands)
    spec = spec.replace(" ", "")
    ins, _, outs = spec.partition("->")
    in_specs = ins.split(",")
    if not _:
        letters = [c for c in ins if c.isalpha()]
        outs = ("..." if "..." in ins else "") + "".join(
            sorted(c for c in set(letters) if letters.count(c) == 1)
        )
    return contract(ctx, in_specs, outs, list(operands), None, rename=False)


@register(np.trace, np.ndarray.trace, np.diagonal, np.ndarray.diagonal)
def batch_trace(ctx, a, offset=None, axis1=None, axis2=None, **kwargs) -> Operand:
    # trace/diagonal over per-example axes (axis1, axis2) -> (axis1 + 1, axis2 + 1)
    if "out" in kwargs:
        raise ctx.fail("`out=`")
    nd = a.val.ndim
    kw = {k: v.node for k, v in kwargs.items()}
    a1 = shift_axis(ctx, axis1, nd) if axis1 is not None else templates.const(1)
    a2 = shift_axis(ctx, axis2, nd) if axis2 is not None else templates.const(2)
    args = [a.node] + ([offset.node] if offset is not None else [])
    fn = ctx.call.fn
    is_trace = fn in (np.trace, np.ndarray.trace)
    ndim = None if nd is None else nd - 2 if is_trace else nd - 1
    return out(ctx.call.rebuild(args, {"axis1": a1, "axis2": a2, **kw}), True, ndim, a.val.dtype)


# ---- np.linalg ----------------------------------------------------------------------------------
_STACKED = [
    np.linalg.inv,
    np.linalg.det,
    np.linalg.cholesky,
    np.linalg.eigvalsh,
    np.linalg.eigvals,
    np.linalg.pinv,
    np.linalg.matrix_rank,
]
_STACKED_TUPLE = {
    np.linalg.slogdet: 2,
    np.linalg.eigh: 2,
    np.linalg.eig: 2,
    np.linalg.svd: 3,
    np.linalg.qr: 2,
}


@register(*_STACKED)
def batch_linalg_stacked(ctx, a, *args, **kwargs) -> Operand:
    # NumPy's linalg broadcasts over leading axes: (B, n, n) -> (B, ...) with the same call
    if any(x.batched for x in list(args) + list(kwargs.values())):
        raise ctx.fail("linalg options that differ between examples")
    if a.val.ndim is None or a.val.ndim < 2:
        raise ctx.fail("linalg of a per-example array of rank < 2")
    fn = ctx.call.fn
    drop = (
        2
        if fn in (np.linalg.det, np.linalg.matrix_rank)
        else 1
        if fn in (np.linalg.eigvalsh, np.linalg.eigvals)
        else 0
    )
    return out(ctx.call.rebuild([a.node] + [x.node for x in args], kw_nodes(kwargs)), True, a.val.ndim - drop)


@register(*_STACKED_TUPLE)
def batch_linalg_tuple(ctx, a, *args, **kwargs) -> Operand:
    # (B, n, n) -> a tuple of batched results
    if any(x.batched for x in list(args) + list(kwargs.values())):
        raise ctx.fail("linalg options that differ between examples")
    if a.val.ndim is None or a.val.ndim < 2:
        raise ctx.fail("linalg of a per-example array of rank < 2")
    node = ctx.call.rebuild([a.node] + [x.node for x in args], kw_nodes(kwargs))
    fn = ctx.call.fn
    single = (fn is np.linalg.svd and static(kwargs.get("compute_uv"), True) is False) or (
        fn is np.linalg.qr and static(kwargs.get("mode"), "reduced") == "r"
    )
    if single:  # svd(compute_uv=False), qr(mode="r"): one array, not a tuple
        return out(node, True, a.val.ndim - 1 if fn is np.linalg.svd else a.val.ndim)
    if any(static(v, NO_STATIC) is NO_STATIC for v in kwargs.values()) or len(args) > 0:
        raise ctx.fail("linalg options that decide the result's structure known only at run time")
    nd = a.val.ndim
    drops = {
        np.linalg.slogdet: (2, 2),
        np.linalg.eigh: (1, 0),
        np.linalg.eig: (1, 0),
        np.linalg.svd: (0, 1, 0),
        np.linalg.qr: (0, 0),
    }[fn]
    elts = tuple(Val(True, nd - d, Kind.ARRAY) for d in drops)
    return Operand(ctx.expr("tuple(r)", r=node), Val(True, None, Kind.TUPLE, None, elts))


@register(np.diag)
def batch_diag(ctx, v, k=None) -> Operand:
    # 2-D examples: their k-th diagonal (a copy), (B, n, m) -> (B, d); 1-D: a diagonal matrix, (B, n) ->
    # (B, n + |k|, n + |k|)
    if k is not None and (k.batched or static(k) is NO_STATIC):
        raise ctx.fail("a diagonal offset known only at run time")
    off = 0 if k is None else static(k)
    if v.val.ndim == 2:
        return out(
            ctx.expr("np.diagonal(x, k, axis1=1, axis2=2).copy()", x=v.node, k=off), True, 1, v.val.dtype
        )
    if v.val.ndim == 1:
        return out(ctx.expr("av__.diag_matrix(x, k)", x=v.node, k=off), True, 2, v.val.dtype)
    raise ctx.fail("np.diag of a per-example array that is not 1-D or 2-D")


@register(np.linalg.solve)
def batch_solve(ctx, a, b) -> Operand:
    # NumPy 2 treats a stacked b as matrices: a batched vector b is solved as b[..., None] (silently
    # wrong otherwise when B == n)
    if a.val.ndim != 2 or b.val.ndim not in (1, 2):
        raise ctx.fail("solve of per-example ranks other than (2, 1|2)")
    if b.val.ndim == 1 and b.batched:
        node = ctx.expr("np.linalg.solve(A, y[..., None])[..., 0]", A=a.node, y=b.node)
    else:
        node = ctx.call.rebuild([a.node, b.node], {})
    return out(node, True, b.val.ndim)


@register(np.linalg.norm)
def batch_norm(ctx, x, ord=None, axis=None, keepdims=None) -> Operand:
    # norm without axis: a vector norm for 1-D examples, a matrix norm for 2-D ones (never over the batch)
    nd = x.val.ndim
    kw = {}
    if ord is not None:
        kw["ord"] = ord.node
    if keepdims is not None:
        kw["keepdims"] = keepdims.node
    keep = static(keepdims, False) if keepdims is not None else False
    if axis is None or static(axis) is None:
        if nd == 1:
            kw["axis"] = templates.const(1)
        elif nd == 2:
            kw["axis"] = templates.const((1, 2))
        elif ord is None and not keep:
            return out(ctx.expr("np.linalg.norm(av__.flatten(x), axis=1)", x=x.node), True, 0, "f")
        else:
            raise ctx.fail("norm of a per-example array of rank > 2 with ord or keepdims")
        ndim = nd if keep else 0
    else:
        kw["axis"] = shift_axis(ctx, axis, nd)
        n_ax = static(axis)
        ndim = (
            None
            if nd is None or n_ax is NO_STATIC
            else nd
            if keep
            else nd - (len(n_ax) if isinstance(n_ax, tuple) else 1)
        )
    return out(ctx.call.rebuild([x.node], kw), True, ndim, "f")


@register(np.linalg.matrix_power)
def batch_matrix_power(ctx, a, n) -> Operand:
    # (B, k, k) stacked; n must be the same for every example
    if n.batched:
        raise ctx.fail("a matrix power that differs between examples")
    return out(ctx.call.rebuild([a.node, n.node], {}), True, a.val.ndim, a.val.dtype)
