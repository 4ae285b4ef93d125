"""`vmap`: binding arguments to `in_axes`, the specialization cache, calling, and `out_axes`.

Everything here is Python-level bookkeeping around one generated function per call signature
(NOTE [static batchedness]): mapped leaves are moved to axis 0 (a view), the generated function runs,
outputs are moved to `out_axes` and made fresh, as the per-example loop's `np.stack` would return.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import functools
import inspect
import types
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import (
    TYPE_CHECKING,
    Any,
    Generic,
    Literal,
    ParamSpec,
    Protocol,
    TypeAlias,
    TypeVar,
    Union,
    overload,
)

import numpy as np

from . import axes as axes_mod
from . import binding, pytrees, safety
from .axes import Call
from .errors import AstvmapError, NotBatchable, PerformanceWarning, RaggedBatch, error_at
from .frontend.source import FunctionSource, NoSource, check_callable, function_source, unwrap
from .kit.origins import Origin
from .rules.registry import lookup
from .rules.values import Kind, Val, unbatched, val_of
from .transform import inner_vmap, specialize
from .transform.calls import library_implementation
from .transform.callsites import InnerVmap
from .transform.context import Settings

if TYPE_CHECKING:
    from .backends.numba import Backend
    from .transform.specialize import Specialization

P = ParamSpec("P")
R = TypeVar("R")

# What `in_axes` accepts, as in jax: an int (the mapped axis), None (not mapped), or a tuple/list/dict
# nesting these to match the arguments leaf by leaf; a top-level dict maps parameter names to axes.
InAxes: TypeAlias = int | Sequence["InAxes"] | Mapping[Any, "InAxes"] | None
# What `out_axes` accepts: the same, matched against the outputs.
OutAxes: TypeAlias = int | Sequence["OutAxes"] | Mapping[Any, "OutAxes"] | None
Fallback: TypeAlias = Literal["warn", "error"]
Randomness: TypeAlias = Literal["error", "different", "same"]
# `jit=True` or a dict of options for the Numba backend (astvmap/backends/numba.py).
Jit: TypeAlias = bool | Mapping[str, Any]

_FALLBACK_MODES = ("warn", "error")


class VmapDecorator(Protocol):
    """What `vmap(in_axes=...)` returns: a decorator taking the per-example function."""

    def __call__(self, fun: Callable[P, R], /) -> VmappedFunction[P, R]: ...


@overload
def vmap(fun: Callable[P, R], /) -> VmappedFunction[P, R]: ...
@overload
def vmap(
    fun: None = None,
    /,
    in_axes: InAxes = 0,
    out_axes: OutAxes = 0,
    *,
    axis_size: int | None = None,
    fallback: Fallback = "warn",
    randomness: Randomness = "error",
    jit: Jit = False,
    chunk_size: int | None = None,
    check: int = 0,
) -> VmapDecorator: ...
@overload
def vmap(
    fun: Callable[P, R],
    /,
    in_axes: InAxes = 0,
    out_axes: OutAxes = 0,
    *,
    axis_size: int | None = None,
    fallback: Fallback = "warn",
    randomness: Randomness = "error",
    jit: Jit = False,
    chunk_size: int | None = None,
    check: int = 0,
) -> VmappedFunction[P, R]: ...
def vmap(
    fun: Callable[P, R] | None = None,
    /,
    in_axes: InAxes = 0,
    out_axes: OutAxes = 0,
    *,
    axis_size: int | None = None,
    fallback: Fallback = "warn",
    randomness: Randomness = "error",
    jit: Jit = False,
    chunk_size: int | None = None,
    check: int = 0,
) -> VmappedFunction[P, R] | VmapDecorator:
    """Vectorize `fun` over a batch axis, like `jax.vmap`, by rewriting its NumPy source.

    `vmap(f, in_axes, out_axes)(*args)` equals stacking `f` applied to each example along `out_axes`
    (same shape, dtype and values). Usable as `@vmap`, `@vmap(in_axes=...)` or `vmap(f, ...)`.

    `fallback`: "warn" runs what has no batched form as a per-example loop with a PerformanceWarning,
    "error" raises instead. `randomness` (for `np.random` draws): "error", "different" (independent draws
    per example) or "same" (one draw shared by every example), as in torch.func.vmap. `jit=True` (or a
    dict of options) compiles with Numba (the `jit` extra): see astvmap/backends/numba.py. `chunk_size=N`
    bounds memory: the batch runs N examples at a time and the results are joined (also under `jit`); the
    result is the unchunked call's, bit for bit, so with `randomness` "different" or "same" the batch
    runs whole (its draws are made for the whole batch at once). `check=k` compares k
    sampled examples of every call with the loop and raises on a difference (astvmap/safety.py);
    `astvmap.disable()` or `ASTVMAP_DISABLE=1` runs every vmapped function as the loop."""
    if fun is None:
        return _decorator(in_axes, out_axes, axis_size, fallback, randomness, jit, chunk_size, check)
    return VmappedFunction(fun, in_axes, out_axes, axis_size, fallback, randomness, jit, chunk_size, check)


def _decorator(*options: Any) -> VmapDecorator:
    """`vmap(in_axes=...)`: a decorator that applies the options to the function it is given."""

    def decorate(f: Callable[P, R], /) -> VmappedFunction[P, R]:
        return VmappedFunction(f, *options)

    return decorate


# Marks this function for the transform, which rewrites `vmap(...)` calls inside user code as nested vmaps.
setattr(vmap, "__astvmap_vmap__", True)  # noqa: B010 (an attribute the type of a function does not declare)


def show(f: VmappedFunction[..., Any], *args: Any, **kwargs: Any) -> str:
    """The generated source `f(*args, **kwargs)` runs (`f` a vmapped function), without running it."""
    if not isinstance(f, VmappedFunction):
        raise TypeError(f"astvmap.show: expected a vmapped function; got {type(f).__name__}")
    spec = f.specialize(*args, **kwargs)
    return spec.text if isinstance(spec, _LoopSpec) else specialize.full_text(spec)


# Bumped by clear_cache(): each VmappedFunction empties its own cache when it sees a new generation.
_GENERATION = [0]


def clear_cache() -> None:
    """Forget every specialization made so far, those each vmapped function keeps included (the next
    call of each vmapped function rewrites it again): for measuring first-call latency, or after
    editing code in a long session."""
    from .frontend import source

    specialize._CACHE.clear()
    source._FOUND.clear()
    _GENERATION[0] += 1


def _is_int(value: object, minimum: int) -> bool:
    """An int (a NumPy integer too, never a bool) of at least `minimum`."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and bool(value >= minimum)


def _label(fun: Callable[..., Any]) -> str:
    name = getattr(fun, "__name__", None)
    if name is None and isinstance(fun, functools.partial):
        name = f"partial({getattr(fun.func, '__name__', 'f')})"
    return name or type(fun).__name__


class VmappedFunction(Generic[P, R]):
    """The callable `vmap` returns. `.source` is the generated code of the last specialization.

    Generic over the wrapped per-example function's parameters `P` and result `R` (`__wrapped__` is a
    `Callable[P, R]`); a call takes the batched arguments, whose types are not the per-example ones."""

    __wrapped__: Callable[P, R]
    __name__: str

    def __init__(
        self,
        fun: Callable[P, R],
        in_axes: InAxes = 0,
        out_axes: OutAxes = 0,
        axis_size: int | None = None,
        fallback: Fallback = "warn",
        randomness: Randomness = "error",
        jit: Jit = False,
        chunk_size: int | None = None,
        check: int = 0,
    ) -> None:
        if not callable(fun):
            raise TypeError(f"vmap: expected a callable; got {type(fun).__name__}")
        if fallback not in _FALLBACK_MODES:
            raise ValueError(f"vmap: fallback must be one of {_FALLBACK_MODES}; got {fallback!r}")
        if chunk_size is not None and not _is_int(chunk_size, minimum=1):
            raise ValueError(f"vmap: chunk_size must be a positive int or None; got {chunk_size!r}")
        if axis_size is not None and not _is_int(axis_size, minimum=0):
            raise ValueError(f"vmap: axis_size must be an int >= 0 or None; got {axis_size!r}")
        if not _is_int(check, minimum=0):
            raise ValueError(
                f"vmap: check must be an int >= 0 (examples compared with the loop); got {check!r}"
            )
        if check and randomness != "error":
            raise ValueError(
                "vmap: check= compares with the loop, whose random draws differ; use randomness='error'"
            )
        self.check = int(check)
        self.chunk_size: int | None = chunk_size
        if randomness not in ("error", "different", "same"):
            raise ValueError(f"vmap: randomness must be 'error', 'different' or 'same'; got {randomness!r}")
        self.__wrapped__ = fun
        for attr in ("__name__", "__qualname__", "__doc__", "__module__"):
            with contextlib.suppress(AttributeError):
                setattr(self, attr, getattr(fun, attr))
        if not hasattr(self, "__name__"):
            self.__name__ = _label(fun)
        self.in_axes, self.out_axes, self.axis_size, self.fallback = in_axes, out_axes, axis_size, fallback
        self.label = f"vmap({_label(fun)}, in_axes={in_axes!r})"
        axes_mod.check_axes_spec(in_axes, "in_axes", self.label)
        axes_mod.check_axes_spec(out_axes, "out_axes", self.label)
        self._base, self._pre_args, self._pre_kwargs = unwrap(fun)
        self._base = _implementation(self._base)
        self._sig: inspect.Signature | None = None
        self._param_axes: dict[str, Any] | None = None
        self._fast_names: tuple[str, ...] = ()
        self._sig_of: tuple[object, ...] = ()
        self._read_signature()
        self._settings = Settings(fallback, randomness, self.label)
        self._jit: Backend | None = None
        if jit:
            from .backends import numba as numba_backend  # imports numba only when asked for

            self._jit = numba_backend.Backend(self, {} if jit is True else dict(jit))
        self._specs: dict[Any, Spec] = {}
        self._keepalive: list[list[object]] = []
        self._last: Spec | None = None
        self._generation = _GENERATION[0]

    # protocol read by the transform (never by importing this module): (fun, in_axes, out_axes, axis_size)
    @property
    def __astvmap__(self) -> tuple[Callable[P, R], InAxes, OutAxes, int | None]:
        return (self.__wrapped__, self.in_axes, self.out_axes, self.axis_size)

    @property
    def source(self) -> str:
        """The generated source of the last call's specialization (and of the generated functions it
        calls); before the first call, a comment saying how to see it."""
        if self._last is None:
            return f"# {self.label}: no call yet; astvmap.show(f, *example_args) shows the code for them\n"
        return self._last.text if isinstance(self._last, _LoopSpec) else specialize.full_text(self._last)

    def __repr__(self) -> str:
        return f"<astvmap {self.label}>"

    def __get__(self, obj: object, objtype: type | None = None) -> Any:
        return self if obj is None else types.MethodType(self, obj)

    # ---- calling ---------------------------------------------------------------------------------
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if safety.disabled():
            return _LoopSpec("astvmap.disable()").run(self, self.prepare(args, kwargs))
        if self.check:
            call = self.prepare(args, kwargs)
            examples = safety.take_examples(call, self.check)
            out = self._run(args, kwargs)
            safety.compare(self.__wrapped__, self.out_axes, self.label, call.B, examples, out)
            return out
        return self._run(args, kwargs)

    def _run(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return self._jit(args, kwargs) if self._jit is not None else self.call_numpy(args, kwargs)

    @property
    def strategy(self) -> str | None:
        """How calls run: "numpy" (the batched NumPy code), or the Numba backend's choice for the last
        call ("loop" or "numpy"; None before the first call)."""
        return "numpy" if self._jit is None else self._jit.strategy

    @property
    def fused(self) -> bool:
        """Whether the last call's compiled loop was the allocation-free lowering (astvmap/backends/numba_fuse.py)."""
        return self._jit is not None and self._jit.fused

    # ---- the backends' interface: what backends/numba.py uses besides calling (no private fields) ----
    @property
    def per_example_function(self) -> Callable[..., Any]:
        """The function that runs per example: `fun` itself, or the function under a partial, a bound
        method or a callable object (whose leading arguments `bind_example` adds)."""
        base: Callable[..., Any] = self._base
        return base

    def bind_example(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> inspect.BoundArguments:
        """A call's arguments (the batch's or one example's) bound to `per_example_function`'s parameters,
        after the arguments a partial or a bound method adds, defaults applied; TypeError where they do
        not fit. The signature is the one `prepare` read (again, when the function's code changed)."""
        if self._example_sig is None:
            raise TypeError(f"{self.label}: the per-example function has no signature to bind to")
        bound = binding.bind(
            self._example_sig, args, kwargs, lead=self._pre_args, lead_kwargs=self._pre_kwargs, defaults=True
        )
        assert isinstance(bound, inspect.BoundArguments)  # (`fast` not asked for)
        return bound

    def describe_jit(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
        """What `astvmap show --jit` prints: the Numba backend's strategy for these example arguments and
        the code that runs (one call). Needs `jit=`."""
        if self._jit is None:
            raise ValueError(f"{self.label}: describe_jit needs vmap(..., jit=True)")
        return self._jit.describe(args, kwargs)

    def specialization_for(self, call: Call) -> Spec:
        """The specialization a prepared call runs (made, or from the cache), kept as the last call's
        (`source`). `spec.per_example_loop` tells the whole function as the loop from generated code,
        whose facts (`spec.recorded`, NOTE [recorded facts]) a backend chooses its strategy by."""
        spec = self.specialization(call)
        self._last = spec
        return spec

    # ---- end of the backends' interface ------------------------------------------------------------

    def call_numpy(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """The call with the batched NumPy code (the backend of every call without `jit`)."""
        call = self.prepare(args, kwargs)
        return self.run_batched(call, self.specialization_for(call))

    def run_batched(self, call: Call, spec: Spec) -> Any:
        """A prepared call on its NumPy specialization, `chunk_size` examples at a time where that applies
        (also what the Numba backend falls back to). The whole function as the loop needs no chunks (it
        makes no batch-sized temporaries). With `randomness` other than "error" the batch runs whole: a
        draw is one call for the whole batch, and per chunk the draws of several sites would interleave
        differently (a chunked call must equal the unchunked one bit for bit)."""
        if (
            self.chunk_size
            and self.chunk_size < call.B
            and not isinstance(spec, _LoopSpec)
            and self._settings.randomness == "error"
        ):
            return self._run_chunks(call, spec)
        return self.run_numpy(call, spec)

    def _run_chunks(self, call: Call, spec: Specialization) -> Any:
        """`chunk_size`: run the batch `chunk_size` examples at a time, joined along `out_axes`."""
        ids = {id(leaf) for leaf in call.leaves}

        def cut(v: Any, part: slice) -> Any:
            if id(v) in ids:
                return v[part]
            n = pytrees.node(v)
            return n.rebuild(cut(x, part) for x in n.children) if n is not None else v

        assert self.chunk_size is not None
        parts = []
        for start in range(0, call.B, self.chunk_size):
            part = slice(start, start + self.chunk_size)
            leaves = [leaf[part] for leaf in call.leaves]
            chunk = Call(
                cut(list(call.args), part),
                cut(call.kwargs, part),
                call.vals,
                leaves[0].shape[0],
                leaves,
                call.bound,
            )
            parts.append(self.run_numpy(chunk, spec))
        return axes_mod.join_chunks(parts, self.out_axes, self.label)

    def run_numpy(self, call: Call, spec: Spec) -> Any:
        """Run a prepared call with its NumPy specialization (what backends fall back to)."""
        if isinstance(spec, _LoopSpec):
            return spec.run(self, call)
        try:
            out = spec.fn(*self._pre_args, *call.args, **{**self._pre_kwargs, **call.kwargs})
            return self.finish(out, spec.out_val, self.out_axes, call, spec)
        except RaggedBatch as e:
            if call.B == 0:
                with contextlib.suppress(RaggedBatch):  # (the probe's example is ragged too: the loop)
                    return self._empty_by_probe(spec, call, e)
            return self._ragged(call, spec, e)
        except Exception as e:
            if call.B == 0:
                return self._empty_by_probe(spec, call, e)
            specialize.annotate_error(e)
            raise

    def _ragged(self, call: Call, spec: Specialization, e: RaggedBatch) -> Any:
        """The batched code needed a value whose shape differs between examples as one array
        (`errors.RaggedBatch`, NOTE [masked selections]): the call runs as the per-example loop, the
        user's own code, when the batched run can have left nothing behind (`spec.acts_outside`);
        otherwise, or with fallback="error", a clear error at the user's line."""
        where = specialize.user_line(e)
        origin, line = where if where is not None else (None, None)
        at = f" at {origin.display_name}, line {line}: {origin.line(line)}" if origin is not None else ""
        msg = f"{self.label}: {e}, and the batched code{at} needs it as one array"
        if spec.acts_outside or self.fallback == "error":
            why = (
                "the function may change its arguments or other state"
                if spec.acts_outside
                else "fallback='error'"
            )
            raise AstvmapError(f"{msg}; it cannot run again as the per-example loop ({why})") from None
        msg += "; this call runs as the per-example loop"
        if origin is not None and line is not None:
            warnings.warn_explicit(msg, PerformanceWarning, origin.filename, line, registry=_RAGGED_WARNED)
        else:
            warnings.warn(msg, PerformanceWarning, stacklevel=4)
        return _LoopSpec(msg).run(self, call)

    def _empty_by_probe(self, spec: Specialization, call: Call, error: Exception) -> Any:
        """A batch of size 0 whose batched code raised on empty arrays (a constant index, say): the
        loop runs nothing, so the result is empty; its per-example shape comes from one zero-filled
        example, as the loop's result would have."""
        zeros = {id(leaf): np.zeros((1,) + leaf.shape[1:], leaf.dtype) for leaf in call.leaves}

        def swap(v: Any) -> Any:
            return _swapped(v, zeros)

        try:
            with np.errstate(all="ignore"):
                out = spec.fn(
                    *self._pre_args, *swap(list(call.args)), **{**self._pre_kwargs, **swap(call.kwargs)}
                )
        except Exception:
            specialize.annotate_error(error)
            raise error from None
        probe = Call(call.args, call.kwargs, call.vals, 1, list(zeros.values()), call.bound)
        return axes_mod.slice_empty(
            self.finish(out, spec.out_val, self.out_axes, probe, spec), self.out_axes, self.label
        )

    def specialize(self, *args: Any, **kwargs: Any) -> Spec:
        """The Specialization (generated code, result Val) for these example arguments, without running
        it: what `astvmap.show(f, *args)` prints."""
        call = self.prepare(args, kwargs)
        return self.specialization(call)

    def specialize_generic(self) -> Spec:
        """The rank-generic specialization: every mapped parameter batched with unknown rank, every
        other one unknown (what `astvmap show` prints without --ndims; it runs for any rank)."""
        try:
            return self._generic()
        except NotBatchable as e:
            return self._loop_fallback(e)

    def _generic(self) -> Specialization:
        base = self._base
        check_callable(base, self.label)
        if getattr(base, "__astvmap__", None) is not None or lookup(base) is not None:
            raise AstvmapError(
                f"{self.label}: a nested vmap (or a NumPy function) is specialized for the ranks "
                "of its arguments only; give ranks (--ndims) or example arguments"
            )
        src = function_source(base)
        try:
            vals = binding.bind_vals(src, (), lead=self._pre_args, lead_kwargs=self._pre_kwargs, partial=True)
        except TypeError as e:
            raise AstvmapError(f"{self.label}: {e}") from None
        for name, ax in (self._param_axes or {}).items():
            if name in vals or ax is None:
                continue
            vals[name] = Val(True, None, Kind.ARRAY) if isinstance(ax, int) else Val(False, None, Kind.OTHER)
        a = src.fdef.args
        for p in a.posonlyargs + a.args + a.kwonlyargs:
            vals.setdefault(p.arg, Val(False, None, Kind.ARRAY))
        ordered = {p.arg: vals[p.arg] for p in a.posonlyargs + a.args + a.kwonlyargs}
        return specialize.core(src, {**vals, **ordered}, None, self._settings, axes=self._axes_text())

    def prepare(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call:
        made_from = _made_from(self._base)
        if any(a is not b for a, b in zip(made_from, self._sig_of)):
            self._read_signature()
        return axes_mod.bind(self, args, kwargs)

    def _read_signature(self) -> None:
        """The signature the user calls (`in_axes` maps its parameters), read again whenever the function's
        code or defaults change (a new `__code__` may have other parameters; defaults are passed by value)."""
        self._sig_of = _made_from(self._base)
        try:
            self._sig = inspect.signature(self.__wrapped__)
        except (TypeError, ValueError):
            self._sig = None
        try:  # what `bind_example` binds to (read here, not on every call)
            self._example_sig: inspect.Signature | None = inspect.signature(self._base)
        except (TypeError, ValueError):
            self._example_sig = None
        self._param_axes = None
        self._fast_names = ()
        if self._sig is not None:
            self._param_axes = axes_mod.parameter_axes(self._sig, self.in_axes, self.label)
            self._fast_names = binding.fast_names(self._sig)

    def specialization(self, call: Call) -> Spec:
        if call.loop_reason is not None:  # never cached: the same Vals with plain arrays batch
            return self._loop_fallback(NotBatchable(call.loop_reason, None))
        if self._generation != _GENERATION[0]:  # clear_cache() ran since the last call
            self._specs.clear()
            self._keepalive.clear()
            self._generation = _GENERATION[0]
        key, objs = _key(call.vals, self._base)
        cached = self._specs.get(key)
        if cached is not None and (
            isinstance(cached, _LoopSpec) or specialize._valid(cached, self._src_for_valid())
        ):
            return cached
        spec: Spec
        try:
            spec = self._make_spec(call)
        except NotBatchable as e:
            spec = self._loop_fallback(e)
        except NoSource as e:
            spec = self._loop_fallback(NotBatchable(e.msg, None))
        except (AstvmapError, RecursionError, MemoryError):
            raise
        except Exception as e:  # a bug of ours: the loop is still right (and says so)
            spec = self._loop_fallback(
                NotBatchable(
                    f"astvmap could not rewrite it ({type(e).__name__}: {e}); please report this", None
                )
            )
        self._specs[key] = spec
        self._keepalive.append(objs)  # the key holds their ids: they must outlive it
        return spec

    def _src_for_valid(self) -> Any:
        base = self._base
        if isinstance(base, types.FunctionType) and not hasattr(base, "__astvmap_source__"):
            return _CellsOnly(dict(zip(base.__code__.co_freevars, base.__closure__ or ())))
        return _CellsOnly({})

    def _make_spec(self, call: Call) -> Specialization:
        base = self._base
        check_callable(base, self.label)
        pre_vals = [val_of(a) for a in self._pre_args]
        if getattr(base, "__astvmap__", None) is not None:
            arg_vals = pre_vals + [call.vals[n] for n in call.bound.arguments]
            per_example = [unbatched(v) for v in arg_vals]
            ctx = _RootContext(self._settings)
            inner = InnerVmap(*base.__astvmap__)
            src = inner_vmap.full_source(specialize.core, inner, per_example, ctx, None)
            vals = binding.bind_vals(src, arg_vals)
            return specialize.core(src, vals, ctx, self._settings, use_cache=False, axes=self._axes_text())
        if lookup(base) is not None and not isinstance(base, types.FunctionType):
            src = _synthesize(base)
        else:
            src = function_source(base)
        return specialize.core(
            src, _bind_source(src, self, call), None, self._settings, axes=self._axes_text()
        )

    def _loop_fallback(self, e: NotBatchable) -> _LoopSpec:
        src: FunctionSource | None
        user, nested = self._base, False
        while getattr(user, "__astvmap__", None) is not None:  # vmap of vmap: the user's function
            user, nested = unwrap(user.__astvmap__[0])[0], True
        try:
            src = function_source(user)
        except AstvmapError:
            src = None
        code = getattr(user, "__code__", None)
        if src is not None:
            filename, first = src.origin.filename, src.origin.firstlineno
        elif isinstance(code, types.CodeType):  # no source: still the user's file and line
            filename, first = code.co_filename, code.co_firstlineno
        else:
            filename, first = None, None
        msg = f"{self.label}: the whole function runs as a per-example loop: {e.msg}"
        if self.fallback == "error":
            raise error_at(msg + " (fallback='error')", None if nested else e.node, filename)
        # (nested, the node is in generated code: the function's own line names it)
        line = (None if nested else getattr(e.node, "lineno", None)) or first
        if filename and line:
            warnings.warn_explicit(msg, PerformanceWarning, filename, line)
        else:
            warnings.warn(msg, PerformanceWarning, stacklevel=4)
        return _LoopSpec(msg)

    def _axes_text(self) -> str:
        return f"in_axes={self.in_axes!r}, out_axes={self.out_axes!r}"

    # ---- outputs ---------------------------------------------------------------------------------
    def finish(self, out: Any, val: Val, out_axes: OutAxes, call: Call, spec: Specialization) -> Any:
        """Move batch axes to `out_axes`, broadcast unbatched outputs, make results fresh arrays (no two
        of them sharing memory: the loop's `np.stack` makes a new array for each)."""
        return axes_mod.unshared(axes_mod.finish(out, val, out_axes, call, spec, self.label))


class _CellsOnly:
    """The closure cells a cached specialization is checked against (`specialize._valid`)."""

    def __init__(self, cells: dict[str, types.CellType]) -> None:
        self.cells = cells


class _RootContext:
    """Stands in for a parent transform context at the top of a nested specialization."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stack: tuple[Any, ...] = ()
        self.deps: list[Any] = []
        self.filename: str | None = None
        self.touched: set[tuple[int, str]] = set()


class _LoopSpec:
    """The whole function as the per-example loop (correct; warned once when made)."""

    out_val = None
    per_example_loop = True  # what the jit backend asks (it does not import this module)

    def __init__(self, msg: str) -> None:
        self.text = f"# {msg}\n# (no batched code: every call loops over the examples)\n"

    def run(self, vm: VmappedFunction[..., Any], call: Call) -> Any:
        if call.B == 0:
            return self._empty(vm, call)
        moved_ids = {id(leaf) for leaf in call.leaves}
        outs = []
        for b in range(call.B):
            args = [axes_mod.slice_example(a, b, moved_ids) for a in call.args]
            kwargs = {k: axes_mod.slice_example(v, b, moved_ids) for k, v in call.kwargs.items()}
            outs.append(vm.__wrapped__(*args, **kwargs))
        return axes_mod.stack(outs, vm.out_axes, vm.label)

    def _empty(self, vm: VmappedFunction[..., Any], call: Call) -> Any:
        """A batch of size 0: the loop runs nothing; its results' shapes and dtypes are one probe's, an
        example of zeros on copies of the arguments with warnings silenced (NOTE [empty batch],
        runtime_loops.py), stacked zero times. A probe that raises is a clear error."""
        zeros = {id(leaf): np.zeros(leaf.shape[1:], leaf.dtype)[()] for leaf in call.leaves}

        def example(v: Any) -> Any:  # (other arrays copied: the probe must not write the caller's)
            return _swapped(v, zeros, lambda a: a.copy() if isinstance(a, np.ndarray) else a)

        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                out = vm.__wrapped__(*example(list(call.args)), **example(call.kwargs))
        except Exception as e:
            raise AstvmapError(
                f"{vm.label}: this function runs as a per-example loop, and with a batch of size 0 "
                f"the shape of its result is unknown (one example of zeros raised {type(e).__name__}: {e})"
            ) from None
        return axes_mod.slice_empty(axes_mod.stack([out], vm.out_axes, vm.label), vm.out_axes, vm.label)


# What a call runs: the generated code, or the whole function as the per-example loop.
Spec: TypeAlias = Union["Specialization", _LoopSpec]


# The warnings registry of calls run as the loop for a ragged value (`_ragged`): once per message and line.
_RAGGED_WARNED: dict[str | tuple[str, type[Warning], int], int] = {}


def _implementation(base: Any) -> Any:
    """What is rewritten for `base`: a NumPy function without a rule of its own is its Python
    implementation (NOTE [library source]), if it has one; any other object is itself (a decorator's
    `__wrapped__` is never followed: the wrapper is what runs)."""
    impl = library_implementation(base)
    return impl if isinstance(impl, types.FunctionType) else base


def _bind_source(src: FunctionSource, vm: VmappedFunction[..., Any], call: Call) -> dict[str, Val]:
    """{parameter of the source: Val}: the call's arguments bound as the code that runs receives them
    (`axes.runtime_vals`), after the arguments a partial or a bound method adds. Arguments that do not
    fit the source (whose parameters may not be those the user sees) run as the loop, which raises
    Python's TypeError."""
    arg_vals, kwarg_vals = axes_mod.runtime_vals(call.bound, call.vals)
    try:
        return binding.bind_vals(src, arg_vals, kwarg_vals, lead=vm._pre_args, lead_kwargs=vm._pre_kwargs)
    except TypeError as e:
        raise NotBatchable(f"arguments that do not fit {src.name}: {e}", None) from None


def _made_from(base: Any) -> tuple[object, ...]:
    """What a function's signature is made from (compared by identity): its code and its defaults."""
    if not isinstance(base, types.FunctionType):
        return ()
    return (base.__code__, base.__defaults__, base.__kwdefaults__)


def _swapped(v: Any, table: dict[int, Any], other: Callable[[Any], Any] = lambda a: a) -> Any:
    """`v` with each leaf whose id `table` holds replaced by its entry (tuples, lists and dicts
    rebuilt), and every other leaf by `other(leaf)`."""
    if id(v) in table:
        return table[id(v)]
    n = pytrees.node(v)
    if n is not None:
        return n.rebuild(_swapped(x, table, other) for x in n.children)
    return other(v)


def _key(vals: dict[str, Val], base: Any) -> tuple[Any, list[object]]:
    """A specialization's key: the arguments' Vals, the objects they name, and what the generated code
    took from the function when it was made (its code object and default values: a new `__code__`, as
    `%autoreload` sets, or new defaults need a new specialization)."""
    objs: list[object] = []
    for v in vals.values():
        specialize._val_ids(v, objs)
    names: tuple[str, ...] = ()
    if isinstance(base, types.FunctionType):
        kwdefaults = base.__kwdefaults__ or {}
        objs += [base.__code__, *(base.__defaults__ or ()), *kwdefaults.values()]
        names = tuple(kwdefaults)
    return (tuple(vals.items()), tuple(id(o) for o in objs), names), objs


def _synthesize(fn: Callable[..., Any]) -> FunctionSource:
    """A source for a function that has a rule but no Python source (`vmap(np.dot)`)."""
    import linecache

    name = getattr(fn, "__name__", "fn")
    name = name if name.isidentifier() else "fn"
    text = f"def {name}(*args, **kwargs):\n    return fn(*args, **kwargs)\n"
    filename = f"<astvmap wrapper {name}>"
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    fdef = ast.parse(text, filename).body[0]
    assert isinstance(fdef, ast.FunctionDef)
    return FunctionSource(
        fdef,
        Origin(filename, 1),
        {"__builtins__": builtins},
        {"fn": types.CellType(fn)},
        None,
        None,
        None,
        generated=True,
    )
