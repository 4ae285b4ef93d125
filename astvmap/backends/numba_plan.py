"""The Numba loop strategy's plans: what one (specialization, argument layout, result type) compiles to, and
how a call runs it.

- `LoopPlan`: the user's per-example function compiled as it is (`boundscheck=True`); example 0 runs first
  through `_av_one`, for the output shapes and dtypes, then the driver runs the batch.
- `FusedPlan`: the function lowered by `numba_fuse` (small per-example array expressions as scalar loops,
  array results written straight into the output row). Its key includes the per-example shapes, which fix
  the output's shape; the lowered code checks what depends on values.

NOTE [one call decides]: what runs depends on this call only, never on an earlier one: plans are keyed by
what they were compiled for (the specialization, the argument types, for `FusedPlan` the per-example
shapes and the globals' shapes, and the type of Python's example 0 of this call), a plan is cached only
when it could be compiled (compiling depends on types alone, never on values), and every call checks its
own example 0 against Python's (dtype, shape, values) before the batch runs. An example that raises inside
the compiled driver is marked; the first one is re-run in Python, which raises the user's error (with a
note naming the example). If Python does not raise, the compiled code cannot be trusted for these values:
`CompiledFailed`, and the backend runs the NumPy code for the whole call. With `chunk_size`, the driver
runs a chunk at a time (temporaries stay a chunk's) and the decisions are the unchunked call's: example 0
of the call, the first failing example of the batch; so a chunked call equals the unchunked one bit for bit.

Writes into arguments: NOTE [compiled writes] in numba_writes.py.
"""

from __future__ import annotations

import functools
import inspect
import types
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np

from ..errors import AstvmapError
from .numba_codegen import _Ineligible, _load, _module_text, _per_example_source, check_plain
from .numba_fuse import NotFused, lower
from .numba_writes import written

if TYPE_CHECKING:
    from .numba_fuse import Fused

_WIDE = {"float64", "int64", "bool", "complex128"}


class CompiledFailed(Exception):
    """The compiled code raised where the Python function does not."""


class Mismatch(CompiledFailed):
    """The compiled example 0 of this call differs from Python's (dtype, shape or values)."""


def signature(value):
    """What the fused lowering assumed of a global: its type, and an array's dtype and shape."""
    if isinstance(value, tuple):
        return tuple(signature(v) for v in value)
    if isinstance(value, np.ndarray):
        return (value.dtype.str, value.shape)
    return type(value).__name__


def result_signature(ref, shapes: bool = True):
    """What a plan is compiled for of Python's example 0: its structure, dtypes and shapes (or ranks)."""
    if isinstance(ref, tuple):
        return tuple(result_signature(r, shapes) for r in ref)
    if isinstance(ref, (np.ndarray, np.generic, bool, int, float, complex)):
        r = np.asarray(ref)
        return (r.dtype.str, r.shape if shapes else r.ndim)
    return type(ref).__name__


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
    if r.shape == () and r.dtype.kind in "fc":  # every call checks one number: np.allclose costs 30 us
        a, b = r.item(), g.item()
        ok = a == b or abs(a - b) <= 1e-12 * abs(b) or (a != a and b != b)
    elif r.dtype.kind in "fc":
        ok = np.allclose(r, g, rtol=1e-12, atol=0, equal_nan=True)
    else:
        ok = np.array_equal(r, g)
    return None if ok else "the compiled function returns different values on example 0"


def example(entries, flat, i: int = 0, in_place: bool = False):
    """Example i as Python values: copies of the mapped arguments' rows (a validation run must not write
    into the caller's arrays, whatever NOTE [compiled writes] found), or, `in_place`, views of them (a
    replay of the loop); unmapped arguments as they are (a function that may write into one is not
    compiled)."""
    it = iter(flat)

    def build(e):
        if e[0] == "m":
            x = next(it)[i]
            return x.copy() if isinstance(x, np.ndarray) and not in_place else x
        if e[0] == "u":
            return next(it)
        if e[0] == "none":
            return None
        return tuple(build(x) for x in e[1])

    return [build(e) for e in entries]


@functools.lru_cache(maxsize=256)
def _keyword_only(fn, code) -> tuple[tuple[str, bool], ...]:
    """(name, keyword-only) of each parameter of `fn` with this code (read once, not on every call)."""
    return tuple((p.name, p.kind == p.KEYWORD_ONLY) for p in inspect.signature(fn).parameters.values())


def call_python(fn, values):
    pos, kw = [], {}
    for (name, keyword), v in zip(_keyword_only(fn, getattr(fn, "__code__", None)), values):
        if keyword:
            kw[name] = v
        else:
            pos.append(v)
    return fn(*pos, **kw)


def _owners(layout, params) -> list[tuple[str, str]]:
    """(parameter, "m" or "u") of every flat driver argument, in order."""
    out: list[tuple[str, str]] = []

    def walk(p, e):
        if e[0] in ("m", "u"):
            out.append((p, e[0]))
        elif e[0] == "t":
            for x in e[1]:
                walk(p, x)

    for p, e in zip(params, layout):
        walk(p, e)
    return out


def _mapped_params(layout, params) -> set:
    return {p for p, kind in _owners(layout, params) if kind == "m"}


def _copy(v):
    """A copy of a driver argument the function may write (read-only stays read-only: Numba types it so)."""
    c = np.array(v)
    c.setflags(write=v.flags.writeable)
    return c


class Static:
    """What every plan of one specialization shares, found once: the source, its per-example form, the
    globals it reads, and which parameters and globals it may write (NOTE [compiled writes])."""

    def __init__(self, vm) -> None:
        if has_none(vm.out_axes):
            raise _Ineligible("out_axes has None (an output shared by every example)")
        from ..frontend.source import function_source

        self.fn = vm.per_example_function
        self.src = function_source(vm.per_example_function)
        self.pe_text, self.params, self.extras, self.inject = _per_example_source(self.src)
        self._written: dict[tuple, set[str]] = {}  # by layout and which globals are tuples

    def extra_values(self) -> list:
        return [self.src.resolve(n)[1] for n in self.extras]

    def written(self, layout, extra: list) -> set[str]:
        """The parameters and globals the function may write; tuples hold their elements' aliases."""
        key = (layout, tuple(isinstance(v, tuple) for v in extra))
        if key not in self._written:
            tuples = [p for p, e in zip(self.params, layout) if e[0] == "t"]
            tuples += [n for n, v in zip(self.extras, extra) if isinstance(v, tuple)]
            roots = self.params + self.extras
            self._written[key] = written(self.src.fdef, roots, self.inject, set(tuples))
        return self._written[key]


class NoReference(Exception):
    """Python raises on example 0: the NumPy code runs the call (and raises as it does)."""


class Job:
    """One call, as the compiled plans take it. `ref`, Python's example 0 (what every plan is checked
    against), is found when a plan needs it: a call that ends in NumPy for static reasons does without."""

    _MISSING = object()

    def __init__(self, vm, static: Static, layout, flat: list) -> None:
        self.fn, self.layout, self.flat = vm.per_example_function, layout, flat
        self.extra = static.extra_values()
        self.copied = writes_of(static, layout, flat, self.extra)
        self._ref: Any = Job._MISSING

    @property
    def ref(self) -> Any:
        if self._ref is Job._MISSING:
            try:
                with np.errstate(all="ignore"):
                    self._ref = call_python(self.fn, example(self.layout, self.flat))
            except Exception:
                raise NoReference from None
        return self._ref


def writes_of(static: Static, layout, flat: list, extra: list) -> frozenset[int]:
    """The flat positions of the mapped arguments the function may write (run on copies), or
    _Ineligible: it may write into a global, an unmapped argument, or an array that shares memory with
    another argument (a copy would part what Python writes through one and reads through the other)."""
    names = static.written(layout, extra)
    if not names:
        return frozenset()
    for n in static.extras:
        if n in names:
            raise _Ineligible(f"it writes into the global {n!r} (shared by every example)")
    copied = set()
    for j, (p, kind) in enumerate(_owners(layout, static.params)):
        if p in names and kind == "m":
            copied.add(j)
        elif p in names and isinstance(flat[j], np.ndarray):
            raise _Ineligible(f"it writes into the unmapped argument {p!r} (shared by every example)")
    arrays = [v for v in flat + extra if isinstance(v, np.ndarray)]
    for j in copied:
        if sum(np.may_share_memory(flat[j], a) for a in arrays) > 1:
            raise _Ineligible("it writes into an argument that shares memory with another one")
    return frozenset(copied)


class _Plan:
    text: str
    out_layout: tuple  # set by `build`: ("t", n) or ("a",) (the function `out_layout`)
    fused = False

    def __init__(self, module, static: Static, layout, spec) -> None:
        self.module, self.static, self.layout, self.spec = module, static, layout, spec
        self.mapped = [kind == "m" for _, kind in _owners(layout, static.params)]

    def rows(self, job: Job, start: int, stop: int) -> list:
        """The driver's arguments for examples start..stop-1: mapped arguments sliced, copied where the
        function may write (NOTE [compiled writes])."""
        out = []
        for j, (v, m) in enumerate(zip(job.flat, self.mapped)):
            part = v[start:stop] if m else v
            out.append(_copy(part) if j in job.copied else part)
        return out

    def drive(self, vm, job: Job, outs: list, chunk: int, kernel: Callable, verify=None) -> None:
        """Run `kernel(arguments, outputs, bad)` over the batch, `chunk` examples at a time; `verify(bad)`
        after the first chunk (example 0 against Python's). Writes are kept (copied back) only once every
        example succeeded: with one chunk, after it; with several, a first pass checks every chunk on
        copies and a second runs them again keeping the writes (the copies stay a chunk's, and a fall back
        to NumPy never finds a write applied)."""
        B = len(outs[0])
        spans = [(s, min(s + chunk, B)) for s in range(0, B, chunk)]
        passes = (False, True) if job.copied and len(spans) > 1 else (True,)
        for keep in passes:
            for s, e in spans:
                work = self.rows(job, s, e)
                bad = np.zeros(e - s, dtype=np.bool_)
                try:
                    _guarded(kernel, work, [o[s:e] for o in outs], bad)
                    if verify is not None and s == 0 and keep == passes[0]:
                        verify(bad)
                    if bad.any():
                        self.check(vm, job, s + int(np.argmax(bad)))
                except CompiledFailed as err:
                    if len(passes) == 2 and keep:  # the first pass ran these very examples
                        raise AstvmapError(
                            f"{vm.label}: the compiled loop is not deterministic: {err}"
                        ) from None
                    raise
                if keep:
                    for j in job.copied:
                        if job.flat[j].flags.writeable:  # else Numba compiled no write into it
                            job.flat[j][s:e] = work[j]

    def check(self, vm, job: Job, k: int) -> NoReturn:
        """Example k, marked by the compiled loop, re-run in Python (on copies of what it may write): the
        user's error, or CompiledFailed."""
        try:
            with np.errstate(all="ignore"):
                call_python(vm.per_example_function, example(self.layout, job.flat, k))
        except Exception as e:
            err = (self.replay(vm, job, k) if job.copied else None) or e
            err.add_note(
                f"astvmap: raised by example {k} of the batch (re-run in Python after the "
                "compiled loop stopped there)"
            )
            raise err from None
        raise CompiledFailed(f"the compiled code raised on example {k}, where Python does not")

    def replay(self, vm, job: Job, k: int) -> Exception | None:
        """The loop's writes up to the example that raises: the compiled run wrote only copies, so examples
        0..k run in Python on the caller's arrays, as the loop does; what example k raises."""
        with np.errstate(all="ignore"):
            for b in range(k):
                call_python(vm.per_example_function, example(self.layout, job.flat, b, in_place=True))
            try:
                call_python(vm.per_example_function, example(self.layout, job.flat, k, in_place=True))
            except Exception as e:
                return e
        return None

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


def _guarded(kernel: Callable, work: list, outs: list, bad) -> None:
    """A compiled driver run; what escapes it (Numba compiling for new argument types and failing) is
    CompiledFailed, except the user's np.errstate on a staged ufunc and an interrupt."""
    try:
        kernel(work, outs, bad)
    except (FloatingPointError, KeyboardInterrupt, CompiledFailed):
        raise
    except Exception as e:
        raise CompiledFailed(f"the compiled loop raised {type(e).__name__}") from None


def _compile_only(run: Callable[[], object]) -> None:
    """Run a compiled function once to compile it: what the example raises is the call's business, only
    Numba's own errors (typing, lowering) make the plan ineligible."""
    from numba.core.errors import NumbaError

    try:
        run()
    except NumbaError:
        raise
    except Exception:
        pass


class LoopPlan(_Plan):
    @classmethod
    def build(cls, backend, static: Static, spec, job: Job):
        import numba  # only now: the NumPy strategy never imports it

        check_plain(static.src.fdef)
        for v in [*job.flat, *job.extra]:
            dtype = getattr(v, "dtype", None)
            if dtype is not None and dtype.name not in _WIDE:
                # NumPy 2 keeps float32 * 0.1 in float32 (NEP 50); Numba computes it in float64
                raise _Ineligible(
                    f"{dtype} values (Numba mixes them with Python numbers in 64 bits, NumPy "
                    "keeps their precision)"
                )
        plan = cls(None, static, job.layout, spec)
        plan.out_layout = out_layout(job.ref)
        firsts = job.ref if plan.out_layout[0] == "t" else (job.ref,)
        plan.text = _module_text(
            static.pe_text,
            job.layout,
            len(static.extras),
            plan.out_layout,
            backend.options,
            out_ranks=[np.ndim(r) for r in firsts],
        )
        plan.module = _load(plan.text, backend.options, static.inject)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", numba.NumbaPerformanceWarning)
            _compile_only(lambda: plan.module._av_one(0, *plan.rows(job, 0, 1), *job.extra))
            # the driver, for outputs of example 0's shapes and dtypes, over no example
            outs = [np.empty((0,) + np.shape(r), np.asarray(r).dtype) for r in firsts]
            plan.module._av_drive(0, 0, *plan.rows(job, 0, 0), *job.extra, *outs, np.zeros(0, np.bool_))
        return plan

    def run(self, vm, call, job: Job, chunk: int):
        try:
            r0 = self.module._av_one(0, *self.rows(job, 0, 1), *job.extra)
        except Exception:
            self.check(vm, job, 0)
        # Numba types the result once for all paths (`1 if c else 0.5`: float64); Python's example 0 of this
        # call tells whether the loop's result has that dtype (NOTE [kinds] in numba_fuse_values.py)
        why = same(job.ref, r0)
        if why:
            raise CompiledFailed(why)
        outs = []
        for r in list(r0) if self.out_layout[0] == "t" else [r0]:
            r = np.asarray(r)
            outs.append(np.empty((call.B,) + r.shape, r.dtype))

        def kernel(work, parts, bad):
            self.module._av_drive(0, len(bad), *work, *job.extra, *parts, bad)

        self.drive(vm, job, outs, chunk, kernel)
        return self.finish(vm, call, outs)


class FusedPlan(_Plan):
    fused = True
    # set by `build`
    out_shape: tuple[int, ...]  # per example
    out_dtype: np.dtype
    lowered: Fused
    globals: list  # the `signature` of each global read, as lowered

    @classmethod
    def lowering(cls, static: Static, job: Job, out: tuple[int, str] | None) -> Fused:
        """The lowered function, or raises NotFused/_Ineligible; no compiling. `out`: the result's rank and
        kind ("f", "i", "b") as the specialization knows them, else Python's example 0 tells."""
        if out is None:
            if out_layout(job.ref) != ("a",):
                raise NotFused("a tuple result")
            ref = np.asarray(job.ref)
            kind = {"float64": "f", "int64": "i", "bool": "b"}.get(ref.dtype.name)
            if kind is None:
                raise NotFused(f"a {ref.dtype} result")
            out = (ref.ndim, kind)
        modules = {n: v.__name__ for n, v in static.inject.items() if isinstance(v, types.ModuleType)}
        values = example(job.layout, job.flat) + job.extra
        params = static.params + static.extras
        mapped = _mapped_params(job.layout, static.params)
        return lower(static.src.fdef, params, values, mapped, modules, out[0], out[1])

    @classmethod
    def build(cls, backend, static: Static, spec, job: Job, fused: Fused):
        import numba

        plan = cls(None, static, job.layout, spec)
        plan.out_layout = ("a",)
        # the per-example shapes (in the key) fix the result's shape; its dtype is the lowering's kind
        plan.out_shape = np.shape(job.ref)
        plan.out_dtype = np.dtype({"f": np.float64, "i": np.int64, "b": np.bool_}[fused.out_kind])
        plan.lowered = fused
        plan.globals = [signature(v) for v in job.extra]
        plan.text = _module_text(
            fused.text, job.layout, len(static.extras), plan.out_layout, backend.options, fused
        )
        plan.module = _load(plan.text, backend.options, static.inject)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", numba.NumbaPerformanceWarning)
            empty = np.empty((0,) + plan.out_shape, plan.out_dtype)
            plan.stages(plan.rows(job, 0, 0), job.extra, empty, np.zeros(0, np.bool_), 0)  # compiles
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

    def run(self, vm, call, job: Job, chunk: int):
        if [signature(v) for v in job.extra] != self.globals:  # the key holds them: never here
            raise Mismatch("a global has another shape than the lowering's")
        out = np.empty((call.B,) + self.out_shape, self.out_dtype)

        def kernel(work, parts, bad):
            self.stages(work, job.extra, parts[0], bad, len(bad))

        def verify(bad):
            # example 0 against Python's, on every call (NOTE [one call decides]), before any write is kept
            why = "the lowered code fails on example 0" if bad[0] else same(job.ref, out[0])
            if why:
                raise Mismatch(why)

        self.drive(vm, job, [out], chunk, kernel, verify)
        return self.finish(vm, call, [out])
