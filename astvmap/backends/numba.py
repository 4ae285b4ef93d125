"""The Numba backend: `vmap(f, ..., jit=True)` or `jit={"parallel": True, "fastmath": False, "cache": True}`.

Strategies (decided once per specialization, read back as `vmapped.strategy`):

- "loop": the user's per-example function, compiled with `numba.njit(error_model="numpy")`, driven by a
  generated `prange` loop over the batch that writes each example's result straight into preallocated
  outputs. Example 0 runs first (through the compiled function) to learn the per-example shape and
  dtype; the outputs are allocated, example 0 stored, and the driver runs examples 1..B-1 (every example
  runs exactly once). Numba runs `if`/`while` natively: no masks, no both-branches, no gathers.
- "numpy": the batched NumPy code, exactly as without `jit`.

The heuristic (measured: see README, "Numba backend"). It looks at the generated NumPy code, comments
stripped:

1. a contraction with a BLAS form (`@`, `dot`, `vdot`, `inner`, `outer`, `matmul`, `tensordot`,
   `np.linalg`) or an `einsum` keeping a per-example axis -> "numpy". Large contractions are BLAS-bound
   and the batched form is one GEMM; small ones (neuron 5x3, custom_dot D=3, convolve 5/3, convolve_k
   1000/9) lose in a Numba loop, because every example allocates its small temporaries.
2. every contraction is an `einsum` reducing each example to one number (a per-example inner product,
   which has no GEMM form): "loop" when the inputs are float or complex and an example holds >= 64
   elements (one BLAS `ddot` per example beats einsum's generic loop: custom_dot D=256), else "numpy"
   (Numba's `np.dot` refuses integers).
3. per-example control flow (a masked `if`, a lane-compacting `while`, a per-example trip count, or a
   per-example Python-loop fallback `av__.loop`) -> "loop".
4. every mapped argument is a per-example scalar (elementwise scalar code) -> "loop".
5. anything else (elementwise work on per-example arrays) -> "numpy": NumPy's vectorized ufuncs on the
   whole batch beat a loop of small per-example arrays.

`jit={"strategy": "loop"}` or `"numpy"` overrides the heuristic (used by the tests and the benchmark).

When the heuristic picks "loop" but the loop cannot be built, the call runs the NumPy code, with one
`astvmap.PerformanceWarning` per specialization: Numba fails to compile the function, the function calls
another Python function, reads a global that is neither a module (numpy, math, cmath), a Numba function,
nor a number/array/tuple of those, draws random numbers or prints (their batched semantics differ from a
compiled loop's), takes or returns lists or dicts, or has `out_axes=None`. The first time a loop plan is
built the plain Python function also runs once on a copy of example 0, and the compiled result must
equal it (dtype, shape, values); if not, NumPy (warned). A batch of size 0 always runs the NumPy code.

Globals the function reads (`W`, `b`) are passed to the compiled function as arguments, read afresh on
every call (Numba would otherwise freeze them as constants, also in its disk cache).

Disk cache: the generated module (the per-example function and its driver) is written as a real file
to `$ASTVMAP_CACHE_DIR/numba/<parallel|serial>/` (default `~/.cache/astvmap`, or `$XDG_CACHE_HOME/astvmap`),
named by a hash of its text, the Numba and NumPy versions and the options; Numba caches the compiled code
next to it. Parallel and serial builds live in different directories and never share entries.
"""
from __future__ import annotations

import importlib.util
import inspect
import re
import sys
import types
import warnings

import numpy as np

from ..errors import PerformanceWarning
from .numba_codegen import _Ineligible, _load, _module_text, _per_example_source, cache_dir  # noqa: F401 (public)

_OPTIONS = {"parallel": True, "fastmath": False, "cache": True, "strategy": "auto"}
_STRATEGIES = ("auto", "loop", "numpy")

_CONTRACTION = re.compile(r"@|\b(einsum|dot|vdot|inner|outer|matmul|tensordot|linalg)\b")
_CONTROL = re.compile(r"\bav__\.(select|enters|active_lanes|put_lanes|merge_lanes|lanes_like_active|highest|"
                      r"lowest|loop|masked_reduce)\b|^\s*while\b", re.M)


class Backend:
    """Runs a VmappedFunction's calls with the strategy chosen per specialization (module docstring)."""

    def __init__(self, vmapped, options: dict):
        try:
            found = importlib.util.find_spec("numba") is not None
        except ValueError:          # sys.modules["numba"] is None (blocked)
            found = False
        if not found or sys.modules.get("numba", False) is None:
            raise ImportError("vmap(..., jit=True) needs Numba: pip install 'astvmap[jit]'")
        unknown = set(options) - set(_OPTIONS)
        if unknown:
            raise ValueError(f"{vmapped.label}: unknown jit option(s) {sorted(unknown)}; the options are "
                             f"{sorted(_OPTIONS)}")
        opts = {**_OPTIONS, **options}
        if opts["strategy"] not in _STRATEGIES:
            raise ValueError(f"{vmapped.label}: jit strategy must be one of {_STRATEGIES}; got {opts['strategy']!r}")
        for k in ("parallel", "fastmath", "cache"):
            opts[k] = bool(opts[k])
        self.vmapped = vmapped
        self.options = opts
        self.strategy = None            # of the last call: "loop" or "numpy" (None before the first call)
        self._choice: dict = {}         # id(spec) -> the heuristic's "loop" or "numpy"
        self._plans: dict = {}          # (id(spec), argument layout) -> _LoopPlan | None (None: NumPy)
        self._sig = None
        self._keep: list = []
        self.last_text = None

    # ---- calling ---------------------------------------------------------------------------------
    def __call__(self, args, kwargs):
        vm = self.vmapped
        call = vm.prepare(args, kwargs)
        if call.B == 0:
            self.strategy = self.strategy or "numpy"
            return vm.call_numpy(args, kwargs)
        spec = vm.specialization(call)
        vm._last = spec
        choice = self._choice.get(id(spec))
        if choice is None:
            choice = self._choice[id(spec)] = self.choose(spec, call)
            self._keep.append(spec)
        if choice == "inner":
            choice = _inner_choice(call)
        if choice == "loop":
            try:
                layout, flat = _layout(self, call)
            except _Ineligible as e:
                layout, flat = ("ineligible", str(e)), None
            key = (id(spec), layout)
            if key in self._plans:
                plan = self._plans[key]
            else:
                plan = self._plans[key] = self._plan(spec, call, layout, flat)
            if plan is not None:
                self.strategy = "loop"
                self.last_text = plan.text
                return plan.run(vm, call, flat)
        self.strategy = "numpy"
        self.last_text = None
        return _run_numpy(vm, call, spec, args, kwargs)

    def describe(self, args, kwargs) -> str:
        """What `astvmap show --jit` prints: the strategy for these example arguments and the code that
        runs (the Numba module for "loop", the batched NumPy code otherwise). Runs one call."""
        self(args, kwargs)
        head = f"# astvmap jit: strategy {self.strategy!r} for these arguments (see astvmap/backends/numba.py)\n"
        if self.strategy == "loop" and self.last_text:
            return head + self.last_text
        from ..transform import specialize
        spec = self.vmapped._last
        return head + (spec.text if not hasattr(spec, "fn") else specialize.full_text(spec))

    def choose(self, spec, call) -> str:
        """The heuristic of the module docstring: "loop" or "numpy"."""
        forced = self.options["strategy"]
        if forced != "auto":
            return forced
        return choose(spec, call)

    def _plan(self, spec, call, layout, flat):
        try:
            if layout[0] == "ineligible":
                raise _Ineligible(layout[1])
            return _LoopPlan.build(self, spec, call, layout, flat)
        except _Ineligible as e:
            self._fallback(str(e))
        except Exception as e:          # Numba's typing and lowering errors, and anything else while compiling
            self._fallback(f"Numba could not compile it ({type(e).__name__}: {_first_line(e)})")
        return None

    def _fallback(self, why: str):
        warnings.warn(f"{self.vmapped.label}: jit fell back to the batched NumPy code: {why}",
                      PerformanceWarning, stacklevel=5)     # the user's call of the vmapped function


def _first_line(e: Exception) -> str:
    """The informative line of a Numba error (its first lines name the pipeline step)."""
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", l).strip() for l in str(e).splitlines()]
    lines = [l for l in lines if l and not l.startswith(("Failed in", "During:"))]
    return (lines[0] if lines else "")[:200]


def _run_numpy(vm, call, spec, args, kwargs):
    """`vm.call_numpy(args, kwargs)` without preparing the call a second time."""
    return vm.run_numpy(call, spec)


def choose(spec, call) -> str:
    """"loop", "numpy", or "inner" (decided per call by `_inner_choice`)."""
    from ..api import _LoopSpec
    if isinstance(spec, _LoopSpec):
        return "loop"           # NumPy would run a Python loop over the examples: a compiled one wins
    from ..transform import specialize
    text = "\n".join(line.split("#", 1)[0] for line in specialize.full_text(spec).splitlines())
    blas = _CONTRACTION.findall(_EINSUM.sub("", text))
    einsums = _EINSUM.findall(text)
    if blas:
        return "numpy"
    if einsums:
        return "inner" if all(len(out) == 1 for out in einsums) else "numpy"
    if _CONTROL.search(text):
        return "loop"
    if all(_all_scalar(v) for v in call.vals.values()):
        return "loop"
    return "numpy"


_EINSUM = re.compile(r"""\beinsum\(\s*['"][^'"]*->\s*(\w*)\s*['"]""")
_INNER_MIN = 64


def _inner_choice(call) -> str:
    """Every contraction is an einsum reducing each example to one number (a per-example inner product: no
    GEMM form): a per-example `np.dot` in the loop (one BLAS ddot) beats einsum once the vectors are long
    (measured: D=256 loop 3.4 ms vs 4.6 ms; D=3 loop 2.4 ms vs 0.45 ms). Numba's dot takes floats only."""
    leaves = call.leaves
    if not leaves or any(l.dtype.kind not in "fc" for l in leaves):
        return "numpy"
    per_example = max(l.size // l.shape[0] if l.shape[0] else 0 for l in leaves)
    return "loop" if per_example >= _INNER_MIN else "numpy"


def _all_scalar(val) -> bool:
    if not val.batched:
        return True
    if val.elts is not None:
        return all(_all_scalar(e) for e in val.elts)
    return val.ndim == 0


# ---- arguments ---------------------------------------------------------------------------------------
def _layout(backend, call):
    """The per-example function's arguments, in parameter order, as a hashable layout and the flat list of
    values the driver takes. Layout entries: ("m",) mapped leaf, ("u", type) unmapped value,
    ("t", entries) tuple, ("none",)."""
    vm = backend.vmapped
    sig = backend._sig
    if sig is None:
        base = vm._base
        if not isinstance(base, types.FunctionType) or getattr(base, "__astvmap__", None) is not None:
            raise _Ineligible(f"{type(base).__name__} is not a plain Python function")
        sig = backend._sig = _signature(base)
    try:
        bound = sig.bind(*vm._pre_args, *call.args, **{**vm._pre_kwargs, **call.kwargs})
    except TypeError as e:
        raise _Ineligible(str(e)) from None
    bound.apply_defaults()
    mapped = {id(leaf) for leaf in call.leaves}
    flat: list = []
    entries = tuple(_entry(bound.arguments[p], mapped, flat) for p in sig.parameters)
    return entries, flat


def _signature(fn):
    sig = inspect.signature(fn)
    for p in sig.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise _Ineligible(f"*{p.name} parameters are not compiled")
    return sig


def _type_key(value):
    """What Numba compiles a value's code for (so a new one gets a new, validated, plan)."""
    if isinstance(value, np.ndarray):
        f = value.flags
        return (value.dtype.str, value.ndim, "C" if f.c_contiguous else "F" if f.f_contiguous else "A",
                f.writeable, f.aligned)
    if isinstance(value, np.generic):
        return value.dtype.str
    return type(value).__name__


def _entry(value, mapped, flat):
    if id(value) in mapped:
        flat.append(value)
        return ("m", _type_key(value))
    if value is None:
        return ("none",)
    if isinstance(value, tuple):
        return ("t", tuple(_entry(v, mapped, flat) for v in value))
    if isinstance(value, (np.ndarray, np.generic, bool, int, float, complex)):
        flat.append(value)
        return ("u", _type_key(value))
    raise _Ineligible(f"an argument is a {type(value).__name__} (the compiled loop takes arrays, numbers and "
                      "tuples of them)")


def _out_layout(ref):
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


def _has_none(axes) -> bool:
    if axes is None:
        return True
    if isinstance(axes, (tuple, list)):
        return any(_has_none(a) for a in axes)
    if isinstance(axes, dict):
        return any(_has_none(a) for a in axes.values())
    return False


def _same(ref, got) -> str | None:
    """Why the compiled example 0 differs from Python's (None when equal)."""
    if isinstance(ref, tuple):
        if not isinstance(got, tuple) or len(got) != len(ref):
            return "it returns a different structure"
        for r, g in zip(ref, got):
            why = _same(r, g)
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


def _copy_example(entries, flat, i=0):
    """Example 0 as Python values, on copies (the validation run must not write into user arrays)."""
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


# ---- the loop plan --------------------------------------------------------------------------------------
class _LoopPlan:
    def __init__(self, module, src, extras, out_layout, spec):
        self.module, self.src, self.extras, self.out_layout, self.spec = module, src, extras, out_layout, spec

    @classmethod
    def build(cls, backend, spec, call, layout, flat):
        vm = backend.vmapped
        if _has_none(vm.out_axes):
            raise _Ineligible("out_axes has None (an output shared by every example)")
        import numba                # only now: the NumPy strategy never imports it
        from ..frontend.source import function_source
        src = function_source(vm._base)
        pe_text, params, extras, inject = _per_example_source(src)
        extra_values = [src.resolve(n)[1] for n in extras]
        # Python's example 0 on copies: the reference the compiled function must equal, and the output layout.
        with np.errstate(all="ignore"):
            ref = _call_python(vm._base, _copy_example(layout, flat))
        out_layout = _out_layout(ref)
        text = _module_text(pe_text, layout, len(extras), out_layout, backend.options)
        module = _load(text, backend.options, inject)
        copies = _copy_example_flat(layout, flat)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", numba.NumbaPerformanceWarning)
            got = module._av_one(0, *copies, *extra_values)
            # compile the driver now (an empty range), for outputs of example 0's shapes and dtypes
            outs = [np.empty((1,) + np.shape(r), np.asarray(r).dtype) for r in (got if out_layout[0] == "t" else (got,))]
            module._av_drive(1, 1, *copies, *extra_values, *outs)
        why = _same(ref, got)
        if why:
            raise _Ineligible(why)
        plan = cls(module, src, extras, out_layout, spec)
        plan.text = text
        return plan

    def run(self, vm, call, flat):
        from ..rules.values import Kind, Val
        extra_values = [self.src.resolve(n)[1] for n in self.extras]
        m = self.module
        B = call.B
        r0 = m._av_one(0, *flat, *extra_values)
        if self.out_layout[0] == "t":
            firsts = list(r0)
        else:
            firsts = [r0]
        outs = []
        for r in firsts:
            r = np.asarray(r)
            o = np.empty((B,) + r.shape, r.dtype)
            o[0] = r
            outs.append(o)
        if B > 1:
            m._av_drive(1, B, *flat, *extra_values, *outs)
        if self.out_layout[0] == "t":
            out = tuple(outs)
            val = Val(True, None, Kind.TUPLE, None, tuple(Val(True, o.ndim - 1, Kind.ARRAY, o.dtype.kind)
                                                          for o in outs))
        else:
            out = outs[0]
            val = Val(True, out.ndim - 1, Kind.ARRAY, out.dtype.kind)
        return vm.finish(out, val, vm.out_axes, call, self.spec)


def _call_python(fn, values):
    pos, kw = [], {}
    for p, v in zip(inspect.signature(fn).parameters.values(), values):
        if p.kind == p.KEYWORD_ONLY:
            kw[p.name] = v
        else:
            pos.append(v)
    return fn(*pos, **kw)


def _copy_example_flat(layout, flat):
    """The flat driver arguments with mapped leaves and arrays copied (for the validation call of `_av_one`)."""
    return [np.array(v) if isinstance(v, np.ndarray) else v for v in flat]
