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
   `if`/`while`) and pays -> fused loop. It pays unless a transcendental ufunc (its rule's trait) runs on
   array elements where it cannot be staged (inside a loop, or on a shape that depends on values: NumPy's
   SIMD `tanh`/`exp` beat one libm call per element, neuron unstaged 1.9x slower than hand, staged 0.29x),
   a contraction with a shared operand has more than 4,096 multiply-adds (one GEMM in the batched form:
   predict 128->64), or a contraction or reduction runs over 64 or more elements (NumPy's SIMD and BLAS
   beat one scalar add per cycle: custom_dot D=256). Measured: neuron 0.29x hand, custom_dot D=3 0.69x,
   convolve 5/3 0.33x, convolve_k 1000/9 0.14x, piecewise 0.17x, Newton 1.02x (0.50x on two threads).
1. otherwise, a contraction (`@`, `dot`, `einsum`, `np.linalg`, ...) in the batched code -> "numpy": the
   batched form is one BLAS call or one einsum, while a plain loop allocates every example's temporaries.
2. per-example control flow (a masked `if`, a lane-compacting `while`, a per-example trip count, or a
   per-example Python-loop fallback `av__.loop`) -> plain loop.
3. every mapped argument is a per-example scalar (elementwise scalar code) -> plain loop.
4. anything else (elementwise work on per-example arrays, with transcendental ufuncs) -> "numpy".

Rules 1 and 2 read what the rewrite recorded on the specialization (NOTE [recorded facts] in
transform/context.py: the dispatcher records each call of a rule with the "contraction" trait and each
loop fallback, the walker each select, guard, masked or gathered `while` and per-example trip count; a
called function's or an inner vmap's facts are its caller's), never the generated text.

`jit={"strategy": "loop"}` (the fused loop where the lowering applies, else the plain loop) or `"numpy"`
overrides the heuristic (used by the tests and the benchmark).

When the heuristic picks a plain loop but it cannot be built, the call runs the NumPy code, with one
`astvmap.PerformanceWarning` per specialization and reason: Numba fails to compile the function, the
function calls another Python function, reads a global that is neither a module (numpy, math, cmath), a
Numba function, nor a number/array/tuple of those, draws random numbers or prints (their batched semantics
differ from a compiled loop's), takes or returns lists or dicts, has `out_axes=None`, or may write into a
global or an unmapped argument (shared by every example). On every call the plain Python function runs on
example 0 (on copies of what it may write) and the compiled example 0 must equal it (dtype, shape, values);
if not, NumPy, for this call only: what runs never depends on an earlier call (NOTE [one call decides] in
numba_plan.py). A batch of size 0 always runs the NumPy code. An example that fails inside the compiled
loop is re-run in Python, which raises the user's error (`numba_plan`).

Writes into mapped arguments (`x[0] = ...`) run on copies, kept only when the whole batch succeeded (NOTE
[compiled writes] in numba_writes.py). `chunk_size` bounds temporaries as without jit: the compiled driver
runs a chunk at a time into the result (staging buffers, copies and failure marks are a chunk's), and a
fall back to NumPy runs the chunked NumPy code; a chunked call equals the unchunked one bit for bit.

Globals the function reads (`W`, `b`) are passed to the compiled function as arguments, read afresh on
every call (Numba would otherwise freeze them as constants, also in its disk cache).

Disk cache: the generated module (the per-example function and its driver) is written as a real file
to `$ASTVMAP_CACHE_DIR/numba/<parallel|serial>/` (default `~/.cache/astvmap`, or `$XDG_CACHE_HOME/astvmap`),
named by a hash of its text, the Numba and NumPy versions and the options; Numba caches the compiled code
next to it. Parallel and serial builds live in different directories and never share entries.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import types
import warnings

import numpy as np

from ..errors import PerformanceWarning
from .numba_codegen import _Ineligible, cache_dir  # noqa: F401 (public)
from .numba_plan import (
    CompiledFailed,
    FusedPlan,
    Job,
    LoopPlan,
    Mismatch,
    NoReference,
    Static,
    result_signature,
    signature,
)

_OPTIONS = {"parallel": True, "fastmath": False, "cache": True, "strategy": "auto"}
_STRATEGIES = ("auto", "loop", "numpy")


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
        self._static: dict = {}  # id(spec) -> numba_plan.Static, or the _Ineligible it raised
        # plans by what they were compiled for (NOTE [one call decides] in numba_plan.py); None: cannot be
        self._fused_plans: dict = {}
        self._loop_plans: dict = {}
        self._warned: set = set()  # (id(spec), reason) of the fall backs warned about
        self._keep: list = []
        self.last_text: str | None = None

    # ---- calling ---------------------------------------------------------------------------------
    def __call__(self, args, kwargs):
        vm = self.vmapped
        call = vm.prepare(args, kwargs)
        if call.B == 0:
            self.strategy = self.strategy or "numpy"
            return vm.call_numpy(args, kwargs)
        spec = vm.specialization_for(call)
        if self.options["strategy"] != "numpy":
            done, out = self._compiled(spec, call)
            if done:
                return out
        self.strategy, self.fused, self.last_text = "numpy", False, None
        return vm.run_batched(call, spec)  # chunked as without jit

    def _compiled(self, spec, call):
        """(True, result) of the call on a compiled loop, or (False, None) for the NumPy code. The lowered
        (fused) plan is tried first; then, where the heuristic asked for a loop, the plain per-example
        function. What decides is this call alone (NOTE [one call decides] in numba_plan.py)."""
        choice = self._choice.get(id(spec))
        if choice is None:
            choice = self._choice[id(spec)] = self.choose(spec, call)
            self._keep.append(spec)
        try:
            layout, flat = _layout(self, call)
            static = self._static_of(spec)
            job = Job(self.vmapped, static, layout, flat)
        except _Ineligible as e:
            if choice == "loop":
                self._fallback(str(e), spec)
            return False, None
        B = call.B
        chunk = min(self.vmapped.chunk_size or B, B)
        for build in (self._fused_plan, self._plan):
            try:
                plan = build(spec, static, job, choice)
                if plan is None:
                    continue
                out = plan.run(self.vmapped, call, job, chunk)
            except NoReference:  # Python raises on example 0: so will the NumPy code
                return False, None
            except Mismatch as e:
                if plan.fused:
                    continue  # the plain loop may still do
                self._fallback(str(e))
            except CompiledFailed as e:
                self._fallback(str(e))
            else:
                self.strategy, self.fused, self.last_text = "loop", plan.fused, plan.text
                return True, out
            break
        return False, None

    def _static_of(self, spec):
        found = self._static.get(id(spec))
        if found is None:
            try:
                found = Static(self.vmapped)
            except _Ineligible as e:
                found = e
            self._static[id(spec)] = found
            self._keep.append(spec)
        if isinstance(found, _Ineligible):
            raise found
        return found

    def _fused_plan(self, spec, static, job, choice):
        """A FusedPlan when the lowering applies and pays (module docstring, rule 0), else None. Keyed by
        what it is lowered for; the result's rank and kind are the specialization's where it knows them
        (then a call that ends in NumPy never runs Python's example 0), else example 0's."""
        out = _result_kind(spec)
        shapes = tuple(np.shape(v) for v in job.flat)
        sig = tuple(signature(v) for v in job.extra)
        key = (id(spec), job.layout, shapes, sig, out or result_signature(job.ref))
        if key not in self._fused_plans:
            try:
                fused = FusedPlan.lowering(static, job, out)
            except NoReference:
                raise
            except Exception:  # NotFused, _Ineligible, or a lowering bug: the other strategies stay right
                fused = None
            if fused is not None and self.options["strategy"] == "auto" and not _fused_pays(fused):
                fused = None
            self._fused_plans[key] = fused and self._build_fused(spec, static, job, fused)
        return self._fused_plans[key]

    def _build_fused(self, spec, static, job, fused):
        job.ref  # noqa: B018 (found before the try: NoReference is this call's, never the plan's)
        try:
            return FusedPlan.build(self, static, spec, job, fused)
        except Exception:
            return None

    def _plan(self, spec, static, job, choice):
        """The plain compiled loop, where the heuristic asked for a loop, else None."""
        if choice != "loop":
            return None
        key = (id(spec), job.layout, result_signature(job.ref, shapes=False))  # NoReference: no plan
        if key not in self._loop_plans:
            try:
                plan = LoopPlan.build(self, static, spec, job)
            except _Ineligible as e:
                plan = None
                self._fallback(str(e), spec)
            except Exception as e:
                plan = None
                self._fallback(f"Numba could not compile it ({type(e).__name__}: {_first_line(e)})", spec)
            self._loop_plans[key] = plan
        return self._loop_plans[key]

    def describe(self, args, kwargs) -> str:
        """What `astvmap show --jit` prints: the strategy for these example arguments and the code that
        runs (the Numba module for "loop", the batched NumPy code otherwise). Runs one call."""
        self(args, kwargs)
        head = (
            f"# astvmap jit: strategy {self.strategy!r} for these arguments (see astvmap/backends/numba.py)\n"
        )
        if self.strategy == "loop" and self.last_text:
            return head + self.last_text
        return head + self.vmapped.source

    def choose(self, spec, call) -> str:
        """The heuristic of the module docstring: "loop" or "numpy"."""
        forced = self.options["strategy"]
        if forced != "auto":
            return forced
        return choose(spec, call)

    def _fallback(self, why: str, spec=None):
        """Warn that this call runs the NumPy code; with `spec`, once per specialization and reason (what is
        found from the specialization and the argument types is found again, and is quiet, on every call)."""
        if spec is not None:
            if (id(spec), why) in self._warned:
                return
            self._warned.add((id(spec), why))
        warnings.warn(
            f"{self.vmapped.label}: jit fell back to the batched NumPy code: {why}",
            PerformanceWarning,
            stacklevel=_user_level(),
        )


def _user_level() -> int:
    """The stacklevel of the first frame outside astvmap (the user's call of the vmapped function)."""
    import os

    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    frame: types.FrameType | None = sys._getframe(1)
    level = 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package + os.sep):
        frame, level = frame.f_back, level + 1
    return level


def _first_line(e: Exception) -> str:
    """The informative line of a Numba error (its first lines name the pipeline step)."""
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line).strip() for line in str(e).splitlines()]
    lines = [line for line in lines if line and not line.startswith(("Failed in", "During:"))]
    return (lines[0] if lines else "")[:200]


def choose(spec, call) -> str:
    """Rules 1-4 of the module docstring (rule 0 is tried first, per layout): "loop" or "numpy", from the
    facts the rewrite recorded on the specialization (NOTE [recorded facts] in transform/context.py)."""
    if spec.per_example_loop:
        return "loop"  # NumPy would run a Python loop over the examples: a compiled one wins
    facts = spec.recorded
    if facts.contractions:
        return "numpy"
    if facts.control or facts.loops:
        return "loop"
    if all(_all_scalar(v) for v in call.vals.values()):
        return "loop"
    return "numpy"


_FUSED_MACS_MAX = 4096  # rule 0: a bigger contraction with a shared operand is one GEMM in NumPy
_FUSED_EXTENT_MAX = 64  # rule 0: NumPy's SIMD/BLAS win from here on (custom_dot D=256)


def _result_kind(spec) -> tuple[int, str] | None:
    """The per-example result's rank and lowering kind ("f", "i", "b") as the specialization knows them."""
    val = getattr(spec, "out_val", None)
    if val is None or val.ndim is None or not val.numeric or val.dtype not in ("f", "i", "b"):
        return None
    return (val.ndim, val.dtype)


def _fused_pays(fused) -> bool:
    return fused.transcendental == 0 and fused.macs <= _FUSED_MACS_MAX and fused.longest < _FUSED_EXTENT_MAX


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
    base = vm.per_example_function
    if not isinstance(base, types.FunctionType) or getattr(base, "__astvmap__", None) is not None:
        raise _Ineligible(f"{type(base).__name__} is not a plain Python function")
    try:
        bound = vm.bind_example(call.args, call.kwargs)
    except TypeError as e:
        raise _Ineligible(str(e)) from None
    params = bound.signature.parameters
    for p in params.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise _Ineligible(f"*{p.name} parameters are not compiled")
    mapped = {id(leaf) for leaf in call.leaves}
    flat: list = []
    entries = tuple(_entry(bound.arguments[p], mapped, flat) for p in params)
    return entries, flat


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
