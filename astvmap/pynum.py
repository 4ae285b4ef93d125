"""Python's number semantics over a batch: one module for the batched NumPy code and the jit.

Per example a value made by `float()`, `int()`, `round()`, a `math` function or a literal is a Python
number, and Python's arithmetic on Python numbers raises where NumPy's returns a special value:

    1.0 / 0.0        ZeroDivisionError   (NumPy: inf and a RuntimeWarning)
    10 // 0, 7 % 0   ZeroDivisionError   (NumPy: 0 and a RuntimeWarning)
    0.0 ** -1        ZeroDivisionError   (NumPy: inf)
    int(nan)         ValueError          (NumPy: INT64_MIN)
    math.log(0.0)    ValueError          (NumPy: -inf)
    math.exp(1e3)    OverflowError       (NumPy: inf)

The batched code holds a column of such numbers as an array; the transform calls these functions only
where every operand is a Python number per example (a NumPy scalar's `1 / np.float64(0)` is inf with a
warning in the loop too). Each finds the lanes where Python would raise and raises what Python raises by
running Python's own operation on the first such lane, so type and message are the loop's.

The jit keeps the same rules: its plain loop compiles the scalar predicates below (`int_ok`, `math_ok`,
plain Python on plain numbers) with Numba, and its fused lowering emits their source-text forms
(`int_bad`, `math_bad`, `divisor_bad`, `power_bad`, `power_overflow`), so one module defines them for
both backends.
"""

from __future__ import annotations

import math
import operator

import numpy as np

from .runtime_lanes import Weak, plain_tree  # (Weak: a Python number repeated over the batch)

INT_LIMIT = 9.2e18  # |x| below this converts to int64 exactly as Python's int() does (NaN fails too)


# ---- scalar predicates (compiled by the jit as they are) --------------------------------------------
def int_ok(x) -> bool:
    """Does `int(x)` of a float fit int64 (not NaN, not inf, not past int64)?"""
    return abs(x) < INT_LIMIT


def math_ok(r, *args) -> bool:
    """Is `r`, a `math` function's NumPy result on `args`, what `math` returns (no NaN made from numbers,
    no inf made from finite numbers)?"""
    nan_in = False
    finite = True
    for a in args:
        nan_in = nan_in or a != a
        finite = finite and a - a == 0
    return not ((r != r and not nan_in) or (r - r != 0 and r == r and finite))


# ---- the same predicates as source text, for the jit's fused lowering (numba_fuse_exprs.py) -----------
def finite(v: str) -> str:
    """`v` is finite, without a library call (np.isfinite on a scalar is slow in Numba): inf - inf is NaN."""
    return f"({v} - {v} == 0)"


def infinite(v: str) -> str:
    return f"({v} - {v} != 0 and {v} == {v})"


def int_bad(t: str) -> str:
    """`int(t)` of a float raises in Python, or is past int64 (the negation of `int_ok`)."""
    return f"not (abs({t}) < {INT_LIMIT!r})"


def math_bad(r: str, args: list[str]) -> str:
    """`math`'s result `r` on `args` is one Python raises for (the negation of `math_ok`)."""
    nan_in = " or ".join(f"{a} != {a}" for a in args) or "False"
    all_finite = " and ".join(finite(a) for a in args) or "True"
    return f"({r} != {r} and not ({nan_in})) or ({infinite(r)} and {all_finite})"


def divisor_bad(d: str) -> str:
    """`/`, `//`, `%` by `d` raise ZeroDivisionError in Python."""
    return f"{d} == 0"


def power_bad(x: str, e: str) -> str:
    """`x ** e` of Python floats raises (0.0 ** negative) or is complex (negative ** fractional)."""
    return f"({x} == 0 and {e} < 0) or ({x} < 0 and {e} != _av_np.floor({e}))"


def power_overflow(r: str, x: str, e: str) -> str:
    """`r = x ** e` of Python floats overflowed: Python raises OverflowError."""
    return f"{infinite(r)} and {finite(x)} and {finite(e)}"


# ---- raising what Python raises ------------------------------------------------------------------------
def _raise_at(bad, op, *args) -> None:
    """Run Python's `op` on the lanes where `bad` holds, in order: the first that raises raises the
    loop's error (each lane `bad` marks raises in Python; where one would not, nothing is raised)."""
    if not np.any(bad):
        return
    shape = np.broadcast_shapes(np.shape(bad), *[np.shape(a) for a in args])
    lanes = [np.broadcast_to(a, shape) for a in args]
    for i in np.flatnonzero(np.broadcast_to(bad, shape)):
        op(*[a.flat[i].item() for a in lanes])


def _by_nonzero(op, ufunc, name: str):
    """Python's `op` (`/`, `//`, `%`, `divmod`) of Python numbers, computed by `ufunc`: ZeroDivisionError
    where the divisor is 0, as the loop raises it."""

    def checked(a, b):
        _raise_at(np.asarray(b) == 0, op, a, b)
        return ufunc(a, b)

    checked.__name__ = checked.__qualname__ = name
    return checked


py_truediv = _by_nonzero(operator.truediv, np.true_divide, "py_truediv")
py_floordiv = _by_nonzero(operator.floordiv, np.floor_divide, "py_floordiv")
py_mod = _by_nonzero(operator.mod, np.remainder, "py_mod")
py_divmod = _by_nonzero(divmod, np.divmod, "py_divmod")


def py_pow(a, b):
    """`a ** b` of Python numbers: ZeroDivisionError for 0 ** negative. An int to a negative int power is
    a float in Python and a float of that example only: the loop's stacked result is float64 when any
    example has one, which the rewrite cannot know before the call, so it raises a clear error there."""
    a, b = np.asarray(a), np.asarray(b)
    _raise_at((a == 0) & (b < 0), operator.pow, a, b)
    if a.dtype.kind in "iub" and b.dtype.kind in "iub" and np.any(b < 0):
        raise TypeError(
            "astvmap: an int raised to a per-example negative int power gives a float for that example "
            "only (Python's int ** int); write float(a) ** b to batch it"
        )
    if "f" in (a.dtype.kind, b.dtype.kind) and a.dtype.kind != "c":  # negative ** fractional: complex
        frac = (a < 0) & (b != np.trunc(b)) & np.isfinite(b)
        if np.any(frac):
            raise TypeError(
                "astvmap: a negative float raised to a fractional per-example power is a complex number "
                "in Python (a float elsewhere); write complex(a) ** b to batch it"
            )
    if a.dtype.kind in "iu" and b.dtype.kind in "iu":
        with np.errstate(over="ignore"):
            if np.any(np.abs(np.power(a.astype(np.float64), b)) >= 2.0**63):
                raise OverflowError(
                    "astvmap: an int power past int64 per example (Python's int would be exact); "
                    "write float(a) ** b to batch it"
                )
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.power(a, b)
    if out.dtype.kind == "f":  # a float power past the largest float raises OverflowError in Python
        _raise_at(np.isinf(out) & np.isfinite(a) & np.isfinite(b), operator.pow, a, b)
    return out


_PYTHON_CHECKED = {
    np.true_divide: py_truediv,
    np.floor_divide: py_floordiv,
    np.remainder: py_mod,
    np.divmod: py_divmod,
    np.power: py_pow,
}


# ---- a Python number beside NumPy operands --------------------------------------------------------------
_KIND_DUMMY = {"b": True, "i": 0, "u": 0, "f": 0.0, "c": 0j}


class PyColumn(np.ndarray):
    """A column of per-example Python numbers. In a ufunc beside NumPy operands it is first cast to the
    dtype NumPy gives one Python number of its kind there (NEP 50: `float(k) * x` is float32 for a
    float32 `x`), as the loop casts each number; a Python int that does not fit raises as NumPy does.
    Results are plain arrays; anything else sees a plain array."""

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        plain = [_plain(i) for i in inputs]
        others = [np.asarray(p).dtype for i, p in zip(inputs, plain) if not _python_number(i)]
        if method == "__call__" and others:
            plain = [_cast(p, others) if isinstance(i, PyColumn) else p for i, p in zip(inputs, plain)]
        if out is not None:
            kwargs["out"] = tuple(_plain(o) for o in out)
        elif method == "__call__" and not others and type(self) is PyColumn and not kwargs:
            return _python_arithmetic(ufunc, plain)
        return getattr(ufunc, method)(*plain, **kwargs)

    def __array_function__(self, func, types, args, kwargs):
        return func(*plain_tree(args, PyColumn), **plain_tree(kwargs, PyColumn))


def _python_arithmetic(ufunc, operands):
    """A ufunc of Python numbers only (a column a per-example loop stacked, beside Python numbers): per
    example Python's arithmetic, so its result is a column of Python numbers again, and division by
    zero raises as Python raises it."""
    checked = _PYTHON_CHECKED.get(ufunc)
    result = checked(*operands) if checked is not None and len(operands) == 2 else ufunc(*operands)
    if isinstance(result, tuple):
        return tuple(weak(r) for r in result)
    return weak(result) if np.asarray(result).dtype.kind in "biufc" else result


def weak(column):
    """`column` (per example a Python number) as a PyColumn: NumPy operands decide its dtype."""
    return np.asarray(column).view(PyColumn)


class SomePyColumn(PyColumn):
    """A column holding Python numbers on some lanes and NumPy scalars of `numpy_dtype` on the others
    (`av__.select` of a Python number and a NumPy scalar marks it; None: no lane holds a NumPy scalar;
    unmarked, its own dtype stands for theirs). Beside NumPy operands the loop's Python lanes take the
    dtype a Python number of `python_kind` gets there and its NumPy lanes the dtype their scalars
    promote to; the column computes at that dtype (where the two differ, at their promotion: what the
    loop's stacked results take). Results are plain arrays (what the transform knows of them:
    values.Val.py_some)."""

    numpy_dtype: np.dtype | None
    python_kind: str
    any_python: bool

    def __array_finalize__(self, obj) -> None:
        self.numpy_dtype = getattr(obj, "numpy_dtype", self.dtype)
        self.python_kind = getattr(obj, "python_kind", self.dtype.kind)
        self.any_python = getattr(obj, "any_python", True)

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        others = [np.asarray(_plain(i)).dtype for i in inputs if i is not self and not _python_number(i)]
        plain = self.view(np.ndarray)
        if method != "__call__" or out is not None:
            return PyColumn.__array_ufunc__(
                self, ufunc, method, *_swap(inputs, self, plain), out=out, **kwargs
            )
        if not others:  # beside Python numbers only: each lane computes alike
            return PyColumn.__array_ufunc__(self, ufunc, method, *_swap(inputs, self, plain), **kwargs)
        if not self.any_python:
            column = plain.astype(self.numpy_dtype, copy=False)
        elif self.numpy_dtype is None:
            column = plain.view(PyColumn)
        else:
            # each kind of lane at its own dtype; where they differ, the loop's stacked results take
            # the promoted one, and every lane computes at it (a narrower lane's values agree but for
            # its own overflow and rounding)
            as_python = np.result_type(*others, _KIND_DUMMY[self.python_kind])
            as_numpy = np.result_type(*others, self.numpy_dtype)
            column = plain.astype(np.result_type(as_python, as_numpy), copy=False)
        return getattr(ufunc, method)(*_swap(inputs, self, column), **kwargs)


def _swap(inputs, old, new):
    return tuple(new if i is old else i for i in inputs)


def _mark_some(result, numpy_dtype, python_kind: str, any_python: bool):
    result = np.asarray(result).view(SomePyColumn)
    result.numpy_dtype, result.python_kind, result.any_python = numpy_dtype, python_kind, any_python
    return result


def some_python(result, python_side, numpy_side, python_lanes, numpy_lanes):
    """`av__.select`'s result where `python_lanes` took a side of Python numbers and `numpy_lanes` a
    side of NumPy scalars (lanes an enclosing branch masks are in neither): a SomePyColumn that
    remembers which dtype each kind of lane has."""
    if python_side is None or numpy_side is None or result is None:
        return result
    numpy_dtype = getattr(numpy_side, "numpy_dtype", np.asarray(numpy_side).dtype)
    return _mark_some(
        result,
        numpy_dtype if numpy_lanes.any() else None,
        np.asarray(python_side).dtype.kind,
        bool(python_lanes.any()) or getattr(numpy_side, "any_python", False),
    )


def _plain(x):
    return x.view(np.ndarray) if isinstance(x, PyColumn) else x


def _python_number(x) -> bool:
    if isinstance(x, SomePyColumn):  # NumPy scalars on some lanes: Python numbers beside it are cast
        return False
    return isinstance(x, (PyColumn, bool, int, float, complex)) or (
        isinstance(x, Weak) and x.scalar is not None
    )


def _cast(column: np.ndarray, others) -> np.ndarray:
    dtype = np.result_type(*others, _KIND_DUMMY[column.dtype.kind])
    if dtype == column.dtype:
        return column
    cast = column.astype(dtype)
    if dtype.kind in "iu" and column.dtype.kind in "iu" and np.any(cast != column):
        bad = column[cast != column].flat[0]
        raise OverflowError(f"Python integer {int(bad)} out of bounds for {dtype}")
    return cast


# ---- conversions ----------------------------------------------------------------------------------------
def _past_int64(x, what: str) -> None:
    if not np.all(int_ok(x)):  # finite, but Python's int is exact where a batch holds int64
        raise OverflowError(f"astvmap: {what} of a number past int64 (Python's int would be exact)")


def to_int(x):
    """Python's `int(x)` of per-example numbers: truncates; NaN/inf raise as in Python."""
    x = np.asarray(x)
    if x.dtype.kind == "c":
        raise TypeError(
            "int() argument must be a string, a bytes-like object or a real number, not 'complex'"
        )
    if x.dtype.kind == "f":
        _raise_at(~int_ok(x), int, x)
        _past_int64(x, "int()")
        return np.trunc(x).astype(np.int64)
    return x.astype(np.int64)


def to_round(x, ndigits=None):
    """Python's `round(x[, ndigits])`: half to even; an int without `ndigits`."""
    x = np.asarray(x)
    if ndigits is not None:
        return np.round(x, ndigits)
    if x.dtype.kind == "f":
        _raise_at(~int_ok(x), round, x)
        _past_int64(x, "round()")
    return np.round(x).astype(np.int64)


# `math` functions and the NumPy ufunc computing each on a batch
MATH_UFUNCS = {
    math.exp: np.exp,
    math.log: np.log,
    math.log10: np.log10,
    math.log2: np.log2,
    math.log1p: np.log1p,
    math.expm1: np.expm1,
    math.sqrt: np.sqrt,
    math.sin: np.sin,
    math.cos: np.cos,
    math.tan: np.tan,
    math.asin: np.arcsin,
    math.acos: np.arccos,
    math.atan: np.arctan,
    math.sinh: np.sinh,
    math.cosh: np.cosh,
    math.tanh: np.tanh,
    math.asinh: np.arcsinh,
    math.acosh: np.arccosh,
    math.atanh: np.arctanh,
    math.atan2: np.arctan2,
    math.hypot: np.hypot,
    math.pow: np.power,
    math.fabs: np.fabs,
}
_MATH_OF = {u: f for f, u in MATH_UFUNCS.items()}


def math_fn(fn, *args):
    """`math.f(*args)` of per-example numbers, computed by its ufunc `fn`: float64 results; where `math`
    raises (a domain error, an overflow) the loop's error, type and message."""
    arrays = [np.asarray(a, dtype=np.float64) for a in args]
    with np.errstate(all="ignore"):
        out = fn(*arrays)
    if out.size:
        nan_in = np.zeros(out.shape, bool)
        finite = np.ones(out.shape, bool)
        for a in arrays:
            nan_in = nan_in | np.isnan(a)
            finite = finite & np.isfinite(a)
        bad = (np.isnan(out) & ~nan_in) | (np.isinf(out) & finite)
        if bad.any():
            _raise_at(bad, _MATH_OF.get(fn, fn), *arrays)
    return out
