"""The Numba loop strategy's plans: what one (specialization, argument layout) compiles to, and how a call
runs it.

- `LoopPlan`: the user's per-example function compiled as it is (`boundscheck=True`); example 0 runs first
  through `_av_one` to learn the output shapes and dtypes, the driver runs examples 1..B-1.
- `FusedPlan`: the function lowered by `numba_fuse` (small per-example array expressions as scalar loops,
  array results written straight into the output row). Its key includes the per-example shapes, which fix
  the output's shape; the lowered code checks what depends on values.

Both are validated once, when built: the plain Python function runs on a copy of example 0, and the compiled
code's example 0 must equal it (dtype, shape, values). Every call: an example that raises inside the
compiled driver is marked; the first one is re-run in Python, which raises the user's error (with a note
naming the example). If Python does not raise, the compiled code cannot be trusted for these values:
`CompiledFailed`, and the backend runs the NumPy code.
"""

from __future__ import annotations

import inspect
import types
import warnings
from typing import TYPE_CHECKING

import numpy as np

from .numba_codegen import _Ineligible, _load, _module_text, _per_example_source, check_plain
from .numba_fuse import NotFused, lower

if TYPE_CHECKING:
    from .numba_fuse import Fused

_WIDE = {"float64", "int64", "bool", "complex128"}


class CompiledFailed(Exception):
    """The compiled code raised where the Python function does not."""


class StalePlan(Exception):
    """A global the fused plan baked sizes of has another shape or type now: build the plan again."""


def signature(value):
    """What the fused lowering assumed of a global: its type, and an array's dtype and shape."""
    if isinstance(value, tuple):
        return tuple(signature(v) for v in value)
    if isinstance(value, np.ndarray):
        return (value.dtype.str, value.shape)
    return type(value).__name__


# NumPy applies a staged ufunc to every row of its buffer; rows of examples that never reach the site hold
# a value where the ufunc is quiet (no divide-by-zero or invalid warning, which the loop would not give)
_QUIET = {"log": 1.0, "log2": 1.0, "log10": 1.0}


def out_layout(ref):
    """("t", n) for a flat tuple of arrays/numbers, ("a",) for one array or number."""
    if isinstance(ref, tuple):
        if any(isinstance(r, (tuple, list, dict)) for r in ref):
            raise _Ineligible("it returns nested containers")
        return ("t", len(ref))
    if isinstance(ref, (list, dict)):
        raise _Ineligible(f"it returns a {type(ref).__name__}")
    if ref is None or isinstance(ref, str):
        raise _Ineligible(f"it returns {type(ref).__name__}")
    return ("a",)


def has_none(axes) -> bool:
    if axes is None:
        return True
    if isinstance(axes, (tuple, list)):
        return any(has_none(a) for a in axes)
    if isinstance(axes, dict):
        return any(has_none(a) for a in axes.values())
    return False


def same(ref, got) -> str | None:
    """Why the compiled example 0 differs from Python's (None when equal)."""
    if isinstance(ref, tuple):
        if not isinstance(got, tuple) or len(got) != len(ref):
            return "it returns a different structure"
        for r, g in zip(ref, got):
            why = same(r, g)
            if why:
                return why
        return None
    r, g = np.asarray(ref), np.asarray(got)
    if r.dtype != g.dtype:
        return f"the compiled function returns {g.dtype}, Python {r.dtype}"
    if r.shape != g.shape:
        return f"the compiled function returns shape {g.shape}, Python {r.shape}"
    if r.dtype.kind in "fc":
        ok = np.allclose(r, g, rtol=1e-12, atol=0, equal_nan=True)
    else:
        ok = np.array_equal(r, g)
    return None if ok else "the compiled function returns different values on example 0"


def example(entries, flat, i=0):
    """Example i as Python values, on copies (a validation or replay run must not write into user arrays)."""
    it = iter(flat)

    def build(e):
        if e[0] == "m":
            x = next(it)[i]
            return x.copy() if isinstance(x, np.ndarray) else x
        if e[0] == "u":
            v = next(it)
            return v.copy() if isinstance(v, np.ndarray) else v
        if e[0] == "none":
            return None
        return tuple(build(x) for x in e[1])

    return [build(e) for e in entries]


def call_python(fn, values):
    pos, kw = [], {}
    for p, v in zip(inspect.signature(fn).parameters.values(), values):
        if p.kind == p.KEYWORD_ONLY:
            kw[p.name] = v
        else:
            pos.append(v)
    return fn(*pos, **kw)


def _copies(flat):
    """The flat driver arguments with arrays copied (for validation runs)."""
    return [np.array(v) if isinstance(v, np.ndarray) else v for v in flat]


def _mapped_params(layout, params) -> set:
    def has_m(e):
        return e[0] == "m" or (e[0] == "t" and any(has_m(x) for x in e[1]))

    return {p for p, e in zip(params, layout) if has_m(e)}


class _Plan:
    text: str
    out_layout: tuple  # set by `build`: ("t", n) or ("a",) (the function `out_layout`)
    fused = False

    def __init__(self, module, src, extras, layout, spec):
        self.module, self.src, self.extras, self.layout, self.spec = module, src, extras, layout, spec

    def extra_values(self):
        return [self.src.resolve(n)[1] for n in self.extras]

    def drive(self, vm, flat, extra, outs, start, B):
        bad = np.zeros(B, dtype=np.bool_)
        if start < B:
            self.module._av_drive(start, B, *flat, *extra, *outs, bad)
        self.check(vm, flat, bad)

    def check(self, vm, flat, bad):
        """The first example the compiled loop marked, re-run in Python: the user's error, or CompiledFailed."""
        if bad.any():
            k = int(np.argmax(bad))
            try:
                with np.errstate(all="ignore"):
                    call_python(vm._base, example(self.layout, flat, k))
            except Exception as e:
                e.add_note(
                    f"astvmap: raised by example {k} of the batch (re-run in Python after the "
                    "compiled loop stopped there)"
                )
                raise
            raise CompiledFailed(f"the compiled code raised on example {k}, where Python does not")

    def finish(self, vm, call, outs):
        from ..rules.values import Kind, Val

        if self.out_layout[0] == "t":
            out = tuple(outs)
            val = Val(
                True,
                None,
                Kind.TUPLE,
                None,
                tuple(Val(True, o.ndim - 1, Kind.ARRAY, o.dtype.kind) for o in outs),
            )
        else:
            out = outs[0]
            val = Val(True, out.ndim - 1, Kind.ARRAY, out.dtype.kind)
        return vm.finish(out, val, vm.out_axes, call, self.spec)


def _prepare(backend, layout, flat):
    """The function's source, its per-example form, globals, and Python's example 0 (the reference)."""
    vm = backend.vmapped
    if has_none(vm.out_axes):
        raise _Ineligible("out_axes has None (an output shared by every example)")
    from ..frontend.source import function_source

    src = function_source(vm._base)
    pe_text, params, extras, inject = _per_example_source(src)
    with np.errstate(all="ignore"):
        ref = call_python(vm._base, example(layout, flat))
    return src, pe_text, params, extras, inject, ref


class LoopPlan(_Plan):
    @classmethod
    def build(cls, backend, spec, call, layout, flat):
        import numba  # only now: the NumPy strategy never imports it

        src, pe_text, _, extras, inject, ref = _prepare(backend, layout, flat)
        check_plain(src.fdef)
        for v in [*flat, *(src.resolve(n)[1] for n in extras)]:
            dtype = getattr(v, "dtype", None)
            if dtype is not None and dtype.name not in _WIDE:
                # NumPy 2 keeps float32 * 0.1 in float32 (NEP 50); Numba computes it in float64
                raise _Ineligible(
                    f"{dtype} values (Numba mixes them with Python numbers in 64 bits, NumPy "
                    "keeps their precision)"
                )
        extra_values = [src.resolve(n)[1] for n in extras]
        plan = cls(None, src, extras, layout, spec)
        plan.out_layout = out_layout(ref)
        ranks = [np.ndim(r) for r in (ref if plan.out_layout[0] == "t" else (ref,))]
        plan.text = _module_text(
            pe_text, layout, len(extras), plan.out_layout, backend.options, out_ranks=ranks
        )
        plan.module = _load(plan.text, backend.options, inject)
        copies = _copies(flat)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", numba.NumbaPerformanceWarning)
            got = plan.module._av_one(0, *copies, *extra_values)
            # compile the driver now (an empty range), for outputs of example 0's shapes and dtypes
            firsts = got if plan.out_layout[0] == "t" else (got,)
            outs = [np.empty((1,) + np.shape(r), np.asarray(r).dtype) for r in firsts]
            plan.module._av_drive(1, 1, *copies, *extra_values, *outs, np.zeros(1, np.bool_))
        why = same(ref, got)
        if why:
            raise _Ineligible(why)
        return plan

    def run(self, vm, call, flat):
        extra = self.extra_values()
        B = call.B
        try:
            r0 = self.module._av_one(0, *flat, *extra)
        except Exception:
            self.check(vm, flat, np.arange(B) == 0)
        # Numba types the result once for all paths (`1 if c else 0.5`: float64); Python's example 0 of this
        # call tells whether the loop's result has that dtype (NOTE [kinds] in numba_fuse_values.py)
        with np.errstate(all="ignore"):
            why = same(call_python(vm._base, example(self.layout, flat)), r0)
        if why:
            raise CompiledFailed(why)
        outs = []
        for r in list(r0) if self.out_layout[0] == "t" else [r0]:
            r = np.asarray(r)
            o = np.empty((B,) + r.shape, r.dtype)
            o[0] = r
            outs.append(o)
        self.drive(vm, flat, extra, outs, 1, B)
        return self.finish(vm, call, outs)


class FusedPlan(_Plan):
    fused = True
    # set by `build`
    out_shape: tuple[int, ...]  # per example
    out_dtype: np.dtype
    lowered: Fused
    globals: list  # the `signature` of each global read, as lowered

    @classmethod
    def lowering(cls, backend, layout, flat):
        """(Fused, prepared) or raises NotFused/_Ineligible; no compiling."""
        prepared = _prepare(backend, layout, flat)
        src, _, params, extras, inject, ref = prepared
        if out_layout(ref) != ("a",):
            raise NotFused("a tuple result")
        ref = np.asarray(ref)
        if ref.dtype.kind not in "fiub":
            raise NotFused(f"a {ref.dtype} result")
        modules = {n: v.__name__ for n, v in inject.items() if isinstance(v, types.ModuleType)}
        values = example(layout, flat) + [src.resolve(n)[1] for n in extras]
        out_kind = {"float64": "f", "int64": "i", "bool": "b"}.get(ref.dtype.name)
        if out_kind is None:
            raise NotFused(f"a {ref.dtype} result")
        fused = lower(
            src.fdef, params + extras, values, _mapped_params(layout, params), modules, ref.ndim, out_kind
        )
        return fused, prepared

    @classmethod
    def build(cls, backend, spec, call, layout, flat, lowered):
        import numba

        fused, (src, _, _, extras, inject, ref) = lowered
        ref = np.asarray(ref)
        plan = cls(None, src, extras, layout, spec)
        plan.out_layout = ("a",)
        plan.out_shape, plan.out_dtype = ref.shape, ref.dtype
        plan.lowered = fused
        plan.globals = [signature(src.resolve(n)[1]) for n in extras]
        plan.text = _module_text(fused.text, layout, len(extras), plan.out_layout, backend.options, fused)
        plan.module = _load(plan.text, backend.options, inject)
        out = np.empty((1,) + ref.shape, ref.dtype)
        bad = np.zeros(1, np.bool_)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", numba.NumbaPerformanceWarning)
            plan.stages(_copies(flat), [src.resolve(n)[1] for n in extras], out, bad, 1)
        if bad[0]:
            raise _Ineligible("the lowered code raised on example 0")
        why = same(ref, out[0])
        if why:
            raise _Ineligible(why)
        return plan

    def stages(self, flat, extra, out, bad, B):
        """Run the staged passes (numba_fuse, NOTE [staging]) and the final one over examples 0..B-1."""
        m = self.module
        bufs = [np.full((B,) + shape, _QUIET.get(ufunc, 0.0)) for _, ufunc, shape in self.lowered.stages]
        try:
            for j, (_, ufunc, _) in enumerate(self.lowered.stages):
                getattr(m, f"_av_drive_s{j}")(0, B, *flat, *extra, *bufs, out, bad)
                getattr(np, ufunc)(bufs[j], out=bufs[j])
            m._av_drive(0, B, *flat, *extra, *bufs, out, bad)
        except (FloatingPointError, KeyboardInterrupt):
            raise  # the user's np.errstate on a staged ufunc, as in the loop
        except Exception as e:
            raise CompiledFailed(f"the compiled loop raised {type(e).__name__}") from None

    def run(self, vm, call, flat):
        extra = self.extra_values()
        if [signature(v) for v in extra] != self.globals:
            raise StalePlan
        out = np.empty((call.B,) + self.out_shape, self.out_dtype)
        bad = np.zeros(call.B, dtype=np.bool_)
        self.stages(flat, extra, out, bad, call.B)
        self.check(vm, flat, bad)
        return self.finish(vm, call, [out])
