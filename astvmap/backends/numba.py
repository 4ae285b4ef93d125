"""The Numba backend: `vmap(f, ..., jit=True)` or `jit={"parallel": True, "fastmath": False, "cache": True}`.

Strategies (decided per specialization and argument layout, read back as `vmapped.strategy`; `.fused` tells
which loop ran):

- "loop", fused: the per-example function lowered by `numba_fuse` so that small per-example array
  expressions become scalar loops with no temporaries and an array result is written straight into its
  output row; a generated `prange` driver runs it over the batch (`numba_plan.FusedPlan`).
- "loop", plain: the user's per-example function compiled as it is (`njit`, `error_model="python"`,
  `boundscheck=True`); example 0 runs first to learn the output's shape and dtype (and is checked against
  Python on every call), the driver runs the rest (`numba_plan.LoopPlan`). Numba runs `if`/`while`
  natively: no masks, no both-branches, no gathers.
- "numpy": the batched NumPy code, exactly as without `jit`.

The heuristic (measured, single thread, B=100,000, hand NumPy = 1.00; README "Numba backend"):

0. the lowering applies (float64 arrays of rank <= 2 and numbers; elementwise operators and ufuncs,
   `np.where`, `dot`/`@`, full reductions, basic slices, `for ... in range` loops filling a list, scalar
   `if`/`while`) and pays -> fused loop. It pays unless a transcendental ufunc runs on array elements where
   it cannot be staged (inside a loop, or on a shape that depends on values: NumPy's SIMD `tanh`/`exp` beat
   one libm call per element, neuron unstaged 1.9x slower than hand, staged 0.29x), a contraction with a
   shared operand has more than 4,096 multiply-adds (one GEMM in the batched form: predict 128->64), or a
   contraction or reduction runs over 64 or more elements (NumPy's SIMD and BLAS beat one scalar add per
   cycle: custom_dot D=256). Measured: neuron 0.29x hand, custom_dot D=3 0.69x, convolve 5/3 0.33x,
   convolve_k 1000/9 0.14x, piecewise 0.17x, Newton 1.02x (0.50x on two threads).
1. otherwise, a contraction (`@`, `dot`, `einsum`, `np.linalg`, ...) in the batched code -> "numpy": the
   batched form is one BLAS call or one einsum, while a plain loop allocates every example's temporaries.
2. per-example control flow (a masked `if`, a lane-compacting `while`, a per-example trip count, or a
   per-example Python-loop fallback `av__.loop`) -> plain loop.
3. every mapped argument is a per-example scalar (elementwise scalar code) -> plain loop.
4. anything else (elementwise work on per-example arrays, with transcendental ufuncs) -> "numpy".

`jit={"strategy": "loop"}` (the fused loop where the lowering applies, else the plain loop) or `"numpy"`
overrides the heuristic (used by the tests and the benchmark).

When the heuristic picks a plain loop but it cannot be built, the call runs the NumPy code, with one
`astvmap.PerformanceWarning` per specialization: Numba fails to compile the function, the function calls
another Python function, reads a global that is neither a module (numpy, math, cmath), a Numba function,
nor a number/array/tuple of those, draws random numbers or prints (their batched semantics differ from a
compiled loop's), takes or returns lists or dicts, or has `out_axes=None`. The first time a plan is built
the plain Python function also runs once on a copy of example 0, and the compiled result must equal it
(dtype, shape, values); if not, NumPy. A batch of size 0 always runs the NumPy code. An example that
fails inside the compiled loop is re-run in Python, which raises the user's error (`numba_plan`).

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
from .numba_codegen import _Ineligible, cache_dir  # noqa: F401 (public)
from .numba_fuse import NotFused
from .numba_plan import CompiledFailed, FusedPlan, LoopPlan, StalePlan

_OPTIONS = {"parallel": True, "fastmath": False, "cache": True, "strategy": "auto"}
_STRATEGIES = ("auto", "loop", "numpy")

_CONTRACTION = re.compile(r"@|\b(einsum|dot|vdot|inner|outer|matmul|tensordot|linalg)\b")
_CONTROL = re.compile(
    r"\bav__\.(select|enters|active_lanes|put_lanes|merge_lanes|lanes_like_active|highest|"
    r"lowest|loop|masked_reduce)\b|^\s*while\b",
    re.MULTILINE,
)


class Backend:
    """Runs a VmappedFunction's calls with the strategy chosen per specialization (module docstring)."""

    def __init__(self, vmapped, options: dict):
        try:
            found = importlib.util.find_spec("numba") is not None
        except ValueError:  # sys.modules["numba"] is None (blocked)
            found = False
        if not found or sys.modules.get("numba", False) is None:
            raise ImportError("vmap(..., jit=True) needs Numba: pip install 'astvmap[jit]'")
        unknown = set(options) - set(_OPTIONS)
        if unknown:
            raise ValueError(
                f"{vmapped.label}: unknown jit option(s) {sorted(unknown)}; the options are "
                f"{sorted(_OPTIONS)}"
            )
        opts = {**_OPTIONS, **options}
        if opts["strategy"] not in _STRATEGIES:
            raise ValueError(
                f"{vmapped.label}: jit strategy must be one of {_STRATEGIES}; got {opts['strategy']!r}"
            )
        for k in ("parallel", "fastmath", "cache"):
            opts[k] = bool(opts[k])
        self.vmapped = vmapped
        self.options = opts
        self.strategy: str | None = None  # of the last call: "loop" or "numpy" (None before the first call)
        self.fused = False  # the last call's loop was the allocation-free lowering
        self._choice: dict = {}  # id(spec) -> the heuristic's "loop" or "numpy"
        self._plans: dict = {}  # (id(spec), layout[, shapes]) -> LoopPlan | FusedPlan | None (NumPy)
        self._numpy_calls: set = set()  # (id(spec), per-example shapes) whose plans are all None
        self._sig = None
        self._keep: list = []
        self.last_text: str | None = None

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
        # calls already known to end in NumPy skip the argument layout (a few microseconds a call)
        known = (id(spec), tuple(leaf.shape[1:] for leaf in call.leaves))
        if self.options["strategy"] != "numpy" and known not in self._numpy_calls:
            try:
                layout, flat = _layout(self, call)
            except _Ineligible as e:
                layout, flat = ("ineligible", str(e)), None
            for attempt in range(2):  # a second one only after a global changed shape
                plan = self._loop_plan(spec, call, layout, flat, choice)
                if plan is None:
                    self._numpy_calls.add(known)
                    break
                try:
                    out = plan.run(vm, call, flat)
                except StalePlan:
                    if attempt == 0:
                        self._plans.pop(_fused_key(spec, layout, flat), None)
                        continue
                    self._fallback("a global changed while the call ran")
                except CompiledFailed as e:
                    self._fallback(str(e))
                else:
                    self.strategy, self.fused, self.last_text = "loop", plan.fused, plan.text
                    return out
                break
        self.strategy, self.fused, self.last_text = "numpy", False, None
        return vm.run_numpy(call, spec)

    def _loop_plan(self, spec, call, layout, flat, choice):
        """The compiled loop for this call, or None for the NumPy code. The lowered (fused) plan is tried
        first, keyed by the per-example shapes it was lowered for; then, where the heuristic asked for a
        loop, the plain per-example function."""
        if layout[0] != "ineligible":
            key = _fused_key(spec, layout, flat)
            if key not in self._plans:
                self._plans[key] = self._fused_plan(spec, call, layout, flat)
            plan = self._plans[key]
            if plan is not None:
                return plan
        if choice != "loop":
            return None
        key = (id(spec), layout)
        if key not in self._plans:
            self._plans[key] = self._plan(spec, call, layout, flat)
        return self._plans[key]

    def _fused_plan(self, spec, call, layout, flat):
        """A FusedPlan when the lowering applies and pays (module docstring, rule 0), else None."""
        try:
            lowered = FusedPlan.lowering(self, layout, flat)
        except (NotFused, _Ineligible):
            return None
        except Exception:
            return None
        fused = lowered[0]
        if self.options["strategy"] == "auto" and not _fused_pays(fused):
            return None
        try:
            return FusedPlan.build(self, spec, call, layout, flat, lowered)
        except Exception:
            return None

    def describe(self, args, kwargs) -> str:
        """What `astvmap show --jit` prints: the strategy for these example arguments and the code that
        runs (the Numba module for "loop", the batched NumPy code otherwise). Runs one call."""
        self(args, kwargs)
        head = (
            f"# astvmap jit: strategy {self.strategy!r} for these arguments (see astvmap/backends/numba.py)\n"
        )
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
            return LoopPlan.build(self, spec, call, layout, flat)
        except _Ineligible as e:
            self._fallback(str(e))
        except Exception as e:
            self._fallback(f"Numba could not compile it ({type(e).__name__}: {_first_line(e)})")
        return None

    def _fallback(self, why: str):
        warnings.warn(
            f"{self.vmapped.label}: jit fell back to the batched NumPy code: {why}",
            PerformanceWarning,
            stacklevel=5,
        )  # the user's call of the vmapped function


def _first_line(e: Exception) -> str:
    """The informative line of a Numba error (its first lines name the pipeline step)."""
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line).strip() for line in str(e).splitlines()]
    lines = [line for line in lines if line and not line.startswith(("Failed in", "During:"))]
    return (lines[0] if lines else "")[:200]


def choose(spec, call) -> str:
    """Rules 1-4 of the module docstring (rule 0 is tried first, per layout): "loop" or "numpy"."""
    from ..api import _LoopSpec

    if isinstance(spec, _LoopSpec):
        return "loop"  # NumPy would run a Python loop over the examples: a compiled one wins
    from ..transform import specialize

    text = "\n".join(line.split("#", 1)[0] for line in specialize.full_text(spec).splitlines())
    if _CONTRACTION.search(text):
        return "numpy"
    if _CONTROL.search(text):
        return "loop"
    if all(_all_scalar(v) for v in call.vals.values()):
        return "loop"
    return "numpy"


_FUSED_MACS_MAX = 4096  # rule 0: a bigger contraction with a shared operand is one GEMM in NumPy
_FUSED_EXTENT_MAX = 64  # rule 0: NumPy's SIMD/BLAS win from here on (custom_dot D=256)


def _fused_pays(fused) -> bool:
    return fused.transcendental == 0 and fused.macs <= _FUSED_MACS_MAX and fused.longest < _FUSED_EXTENT_MAX


def _fused_key(spec, layout, flat):
    """A fused plan's key: its sizes are the per-example shapes it was lowered for."""
    return id(spec), layout, tuple(np.shape(v) for v in flat)


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
        return (
            value.dtype.str,
            value.ndim,
            "C" if f.c_contiguous else "F" if f.f_contiguous else "A",
            f.writeable,
            f.aligned,
        )
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
    raise _Ineligible(
        f"an argument is a {type(value).__name__} (the compiled loop takes arrays, numbers and "
        "tuples of them)"
    )
