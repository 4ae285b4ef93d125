"""Discrete Fourier transforms (`np.fft`): the 1-D, 2-D and n-D transforms and `fftshift`/`ifftshift`.

Every transform works along named axes and broadcasts over the others, so the batched call is NumPy's
own with the axes shifted past the batch: (B, *s), axis=k -> axis k+1 (negative k unchanged, and the
default axis=-1 or axes=(-2, -1) kept as written). axes=None in the n-D forms and in `fftshift` names
every per-example axis, never the batch axis (given explicitly as 1..ndim); with `s` and no axes NumPy
takes the last len(s) axes (deprecated), which are per-example ones when len(s) <= ndim, so that call is
kept as written. `n`, `s` and `norm` act on the per-example axes and pass through unchanged.

Refused (the call runs as the per-example loop, which does what NumPy does, raising included): options
that differ between examples, `out=`, per-example scalars and unknown ranks (NumPy raises for all but
`fftn`, which returns a scalar as it is), axes outside the per-example rank (the batch axis is not an
example's), an n-D transform over no axes (`fftn` returns its very input), axes not known when the code
is rewritten (an `n`-D tuple; a 1-D `axis` known only at run time is checked by NumPy's
`normalize_axis_index` against the per-example rank), and dtypes NumPy refuses (complex input of
`rfft`, `ihfft`, `rfft2`, `rfftn`; anything but bool and numbers).

Result kinds: complex for the complex-output transforms (complex64 of float32 input: NumPy 2 keeps single
precision), real for `irfft`, `hfft`, `irfft2`, `irfftn`; `fftshift` keeps its operand's dtype.
"""

from __future__ import annotations

import numpy as np

from ..kit import templates
from .common import NO_STATIC, emit, infers, options, rank, refuse_out, respell, static
from .registry import register
from .values import UNKNOWN, Kind, Operand, Val, array

_FFT = np.fft
_REAL_IN = {_FFT.rfft, _FFT.ihfft, _FFT.rfft2, _FFT.rfftn}  # NumPy refuses complex input
_REAL_OUT = {_FFT.irfft, _FFT.hfft, _FFT.irfft2, _FFT.irfftn}
_TWO_D = {_FFT.fft2, _FFT.ifft2, _FFT.rfft2, _FFT.irfft2}  # default axes=(-2, -1)
_IDENTITY_WHEN_EMPTY = {_FFT.fftn, _FFT.ifftn, _FFT.fft2, _FFT.ifft2}  # over no axes: the input itself
_INTEGER = (int, np.integer)  # what NumPy takes as an axis (bool included)


def _kind(fn, kind: str | None) -> str | None:
    """The result's dtype kind for an operand of kind `kind` (None: not known, or NumPy refuses it)."""
    if kind is None or kind not in ("b", "i", "u", "f", "c") or (kind == "c" and fn in _REAL_IN):
        return None
    return "f" if fn in _REAL_OUT else "c"


def _length(op) -> int | None:
    """The length of a sequence argument (`s`), when known."""
    value = static(op)
    if isinstance(value, (tuple, list)):
        return len(value)
    if value is NO_STATIC and isinstance(op, Operand) and op.val.elts is not None:
        return len(op.val.elts)
    return None


def _count(fn, nd, s, axes) -> int | None:
    """How many axes an n-D transform goes over (None: not known): its axes; without them, s's length
    (the last len(s) axes), else every axis; the 2-D forms' default is two axes."""
    if axes is None and fn in _TWO_D:
        return 2
    value = static(axes) if axes is not None else None
    if value is NO_STATIC:
        return _length(axes)
    if value is not None:
        return len(value) if isinstance(value, (tuple, list)) else None
    return nd if s is None or static(s) is None else _length(s)


def fft_facts(call, a, out=None, **_) -> Val:
    """The operand's rank (the transformed axis resized); complex, or real for irfft/hfft."""
    nd = rank(a)
    if static(out) is not None or nd == 0:
        return UNKNOWN  # refused by the rule (NumPy raises for a scalar)
    return array(False, nd, _kind(call.fn, a.val.dtype))


def fftn_facts(call, a, s=None, axes=None, out=None, **_) -> Val:
    """The operand's rank; over no axes `fftn`/`ifftn` return the operand itself (its kind)."""
    if static(out) is not None:
        return UNKNOWN  # refused by the rule
    nd = rank(a)
    count = _count(call.fn, nd, s, axes)
    if call.fn in _IDENTITY_WHEN_EMPTY and count != 0:
        kind = None if count is None else _kind(call.fn, a.val.dtype)
    elif call.fn in _IDENTITY_WHEN_EMPTY:
        kind = a.val.dtype
    else:
        kind = _kind(call.fn, a.val.dtype)
    return array(False, nd, kind)


def shift_facts(call, x, **_) -> Val:
    """The operand's rank and kind (rolled)."""
    nd = rank(x)
    return UNKNOWN if nd == 0 else array(False, nd, x.val.dtype)


def _operand(ctx, a, transform: bool = True) -> int:
    """The per-example rank of the transformed operand, after refusing what the batched call could not
    do as the loop does; the other arguments must be the same for every example."""
    if not a.batched or a.val.kind != Kind.ARRAY or a.val.ndim is None:
        raise ctx.fail("an FFT of a value that is not a batched array of known rank")
    if a.val.ndim == 0:
        raise ctx.fail("an FFT of a per-example scalar (NumPy raises, or returns it as it is)")
    if transform and a.val.dtype is not None and _kind(ctx.call.fn, a.val.dtype) is None:
        raise ctx.fail(f"an FFT of dtype kind {a.val.dtype!r} (NumPy refuses it)")
    others = options(ctx.call, "a", "x")
    refuse_out(ctx, others.get("out"))
    if any(isinstance(v, Operand) and v.batched for v in others.values()):
        raise ctx.fail("FFT options (n, s, axes, norm) that differ between examples")
    return a.val.ndim


def _shifted(ctx, value, nd: int):
    """Static per-example axes (an int, or a tuple/list of ints) as batch axes; refused where NumPy
    raises (not integers, out of the per-example range: the batch axis is no example's)."""
    items = (value,) if isinstance(value, _INTEGER) else value
    if not isinstance(items, (tuple, list)) or not all(isinstance(v, _INTEGER) for v in items):
        raise ctx.fail("FFT axes that are not integers (NumPy raises)")
    if not all(-nd <= v < nd for v in items):
        raise ctx.fail("FFT axes out of the per-example rank (NumPy raises)")
    out = tuple(int(v) + 1 if v >= 0 else int(v) for v in items)
    return out[0] if isinstance(value, _INTEGER) else out


def _axis_node(ctx, axis, nd: int):
    """A 1-D transform's axis, shifted past the batch; one known only at run time is checked by NumPy
    against the per-example rank (AxisError or TypeError as the loop raises them)."""
    value = static(axis)
    if value is NO_STATIC:
        template = "np.lib.array_utils.normalize_axis_index(k, nd) + 1"
        return ctx.expr(template, k=axis.node, nd=templates.const(nd))
    if not isinstance(value, _INTEGER):
        raise ctx.fail("an FFT axis that is not an integer (NumPy raises)")
    return templates.const(_shifted(ctx, value, nd))


def _fft(ctx, a, axis) -> Operand:
    # (B, *s), axis=k -> the same transform along k+1 (the default axis=-1 kept)
    nd = _operand(ctx, a)
    nodes = {"a": a.node}
    if axis is not None:
        nodes["axis"] = _axis_node(ctx, axis, nd)
    return emit(respell(ctx, nodes, keyword=("axis",)), fft_facts(ctx.call, a))


@register(_FFT.fft, _FFT.ifft, _FFT.rfft, _FFT.irfft, _FFT.hfft, _FFT.ihfft)
@infers(fft_facts)
def batch_fft(ctx, a, n=None, axis=None, norm=None, out=None) -> Operand:
    return _fft(ctx, a, axis)


def _axes_node(ctx, nd: int, s, axes):
    """An n-D transform's axes as the batched call's (None: keep the call's own)."""
    value = static(axes) if axes is not None else None
    if value is NO_STATIC:
        raise ctx.fail("FFT axes known only at run time")
    if value is None and axes is None and ctx.call.fn in _TWO_D:
        value = (-2, -1)  # the default, kept as written
    if value is None:
        if s is None or static(s) is None:
            return templates.const(tuple(range(1, nd + 1)))  # every per-example axis
        count = _length(s)
        if count is None or not 1 <= count <= nd:
            raise ctx.fail("an FFT whose `s` names axes the rewrite cannot place (no `axes` given)")
        return None  # NumPy's last len(s) axes are per-example ones
    if isinstance(value, (tuple, list)) and not value:
        raise ctx.fail("an n-D FFT over no axes (NumPy returns its operand itself, or raises)")
    if isinstance(value, _INTEGER):
        raise ctx.fail("n-D FFT axes given as an integer (NumPy raises)")
    shifted = _shifted(ctx, value, nd)
    return None if axes is None else templates.const(shifted)


def _fftn(ctx, a, s, axes) -> Operand:
    # (B, *s), axes=(k, ...) -> the same transform over (k+1, ...); axes=None -> over 1..ndim
    nd = _operand(ctx, a)
    node = _axes_node(ctx, nd, s, axes)
    nodes = {"a": a.node} if node is None else {"a": a.node, "axes": node}
    return emit(respell(ctx, nodes, keyword=("axes",)), fftn_facts(ctx.call, a, s, axes))


@register(_FFT.fft2, _FFT.ifft2, _FFT.rfft2, _FFT.irfft2)
@register(_FFT.fftn, _FFT.ifftn, _FFT.rfftn, _FFT.irfftn)
@infers(fftn_facts)
def batch_fftn(ctx, a, s=None, axes=None, norm=None, out=None) -> Operand:
    return _fftn(ctx, a, s, axes)


@register(_FFT.fftshift, _FFT.ifftshift)
@infers(shift_facts)
def batch_fftshift(ctx, x, axes=None) -> Operand:
    # (B, *s), axes=None -> roll every per-example axis (1..ndim), never the batch; axes=k -> k+1
    nd = _operand(ctx, x, transform=False)
    value = static(axes) if axes is not None else None
    if value is NO_STATIC:
        raise ctx.fail("fftshift axes known only at run time")
    node = tuple(range(1, nd + 1)) if value is None else _shifted(ctx, value, nd)
    return emit(
        respell(ctx, {"x": x.node, "axes": templates.const(node)}, keyword=("axes",)),
        shift_facts(ctx.call, x),
    )
