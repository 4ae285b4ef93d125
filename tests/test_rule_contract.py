"""The rule contract (rules/common.py NOTE [abstract evaluation], rules/registry.py): every rule's
signature is NumPy's (or Python's), and its abstract evaluation states only what NumPy computes.

Random unbatched calls of many registered functions, with operands of random ranks and dtypes, go through
the dispatcher's abstract evaluation (`CallsMixin._infer`, as for a call with no batched operand); where
the Val it gives knows the result's rank or dtype kind, NumPy's result on the concrete values has them.
"""

from __future__ import annotations

import ast
import inspect
import math
import operator
import random
import types
import warnings

import numpy as np
import pytest

from astvmap import PerformanceWarning, vmap
from astvmap.rules import registry
from astvmap.rules.values import Kind, Operand, Val, val_of
from astvmap.transform.calls import CallsMixin
from astvmap.transform.callsites import CallSite

pytestmark = pytest.mark.filterwarnings("ignore::numpy.exceptions.ComplexWarning")

DTYPES = ["bool", "int64", "uint8", "float32", "float64", "complex128"]


def _array(r: random.Random, rank=None, dtypes=DTYPES, square=False):
    rank = r.randint(0, 3) if rank is None else rank
    n = r.randint(1, 3)
    shape = (n,) * rank if square else tuple(r.randint(1, 3) for _ in range(rank))
    values = np.arange(1, math.prod(shape) + 1).reshape(shape) % 4 + 0.5 * (rank > 1)
    return values.astype(r.choice(dtypes))


def _number(r: random.Random):
    return r.choice([True, 2, 0.5, 1.5j])


def _operand(r: random.Random, **kw):
    """An array, or (one time in four) a Python number."""
    return _number(r) if r.random() < 0.25 else _array(r, **kw)


def _axis(r: random.Random, a):
    nd = np.ndim(a)
    choices = [None] + list(range(-nd, nd)) + ([(0, nd - 1)] if nd >= 2 else [])
    return r.choice(choices)


def _call(fn, *args, **kwargs):
    return fn, list(args), kwargs


# (function, generator of (fn, args, kwargs)); each generator draws one random call
CASES = {
    "unary": lambda r: _call(
        r.choice([np.sin, np.exp, np.abs, np.negative, np.sqrt, np.floor, np.isnan, np.square, np.sign]),
        _operand(r),
    ),
    "unary_other": lambda r: _call(
        r.choice([np.conj, np.real, np.imag, abs, operator.neg, np.logical_not, np.angle]), _operand(r)
    ),
    "binary": lambda r: _call(
        r.choice(
            [np.add, np.multiply, np.divide, np.power, np.maximum, np.arctan2, np.less, np.logical_and]
            + [operator.add, operator.mul, operator.truediv, operator.lt, operator.floordiv, operator.pow]
        ),
        _operand(r),
        _operand(r),
    ),
    "where": lambda r: _call(np.where, _array(r, dtypes=["bool"]), _operand(r), _operand(r)),
    "clip": lambda r: _call(np.clip, _array(r), 0, 2),
    "round": lambda r: _call(r.choice([np.round, np.isclose]), _array(r), _operand(r, rank=0)),
    "modf": lambda r: (
        _call(r.choice([np.modf, np.frexp, np.divmod]), *[_array(r, dtypes=["float64"])] * 2)
        if r.random() < 0.5
        else _call(np.modf, _array(r, dtypes=["float64"]))
    ),
    "reduce": lambda r: _reduce(r),
    "argreduce": lambda r: _reduce(r, [np.argmax, np.argmin, np.cumsum, np.cumprod]),
    "method": lambda r: _method(r),
    "diff": lambda r: _call(np.diff, _array(r)),
    "shape": lambda r: _shape(r),
    "join": lambda r: _join(r),
    "creation": lambda r: _creation(r),
    "like": lambda r: _call(
        r.choice([np.zeros_like, np.ones_like, np.empty_like]), _operand(r), r.choice([None, "float32"])
    ),
    "array": lambda r: _call(
        r.choice([np.array, np.asarray, np.ascontiguousarray]),
        r.choice([_array(r), [1, 2.5], (True, False), [[1, 2], [3, 4]]]),
        r.choice([None, "int32", "complex64"]),
    ),
    "getitem": lambda r: _getitem(r),
    "take": lambda r: _call(np.take, _array(r), [0, 0], r.choice([None, 0])),
    "contraction": lambda r: _contraction(r),
    "linalg": lambda r: _linalg(r),
    "sorting": lambda r: _sorting(r),
    "builtins": lambda r: _builtins(r),
    "attributes": lambda r: _call(
        r.choice([np.shape, np.ndim, np.size, len]), _array(r, rank=r.randint(1, 3))
    ),
    "fft": lambda r: _fft(r),
    "statistics": lambda r: _statistics(r),
    "lstsq_pinv": lambda r: _lstsq_pinv(r),
    "cross": lambda r: _call(
        r.choice([np.cross, np.linalg.cross]),
        np.ones((2,) * r.randint(0, 2) + (3,), dtype=r.choice(DTYPES[1:])),
        r.choice(
            [[1, 2, 3], np.ones((1, 3), dtype=r.choice(DTYPES[1:])), np.ones(3, dtype=r.choice(DTYPES[1:]))]
        ),
    ),
    "kron": lambda r: _call(np.kron, _operand(r), _operand(r)),
    "vander": lambda r: _call(np.vander, _array(r, rank=1), r.choice([None, 0, 3]), r.choice([False, True])),
    "trapezoid": lambda r: _call(
        np.trapezoid,
        y := _array(r, rank=r.randint(1, 3)),
        r.choice([None, np.arange(float(y.shape[-1])), y.astype(r.choice(DTYPES))]),
        r.choice([1.0, 2, 0.5j]),
    ),
    "ediff1d": lambda r: _call(np.ediff1d, _array(r), r.choice([None, [1, 2], 0.5]), r.choice([None, 3])),
    "unwrap": lambda r: _call(
        np.unwrap,
        _array(r, rank=r.randint(1, 3)),
        **r.choice([{}, {"period": 10}, {"period": 2.5}, {"axis": 0}]),
    ),
    "gradient": lambda r: _call(
        np.gradient,
        np.arange(3.0 ** (n := r.randint(1, 3))).reshape((3,) * n).astype(r.choice(DTYPES)),
        *r.choice([(), (2.0,)]),
        **r.choice([{}, {"axis": 0}, {"axis": -1}, {"edge_order": 2}]),
    ),
    "select": lambda r: _call(
        np.select,
        [_array(r, dtypes=["bool"]), r.choice([True, _array(r, dtypes=["bool"])])],
        [_operand(r), _operand(r)],
        r.choice([0, 1.5, _operand(r)]),
    ),
    "piecewise": lambda r: _call(
        np.piecewise,
        x := r.choice([_array(r), _number(r)]),
        [np.asarray(x) > 1, np.asarray(x) < 1],
        r.choice([[np.negative, 2.0], [np.sqrt, 1, -1]]),
    ),
}


def _reduce(r, fns=None):
    fns = fns or [np.sum, np.prod, np.mean, np.max, np.any, np.std, np.median, np.count_nonzero, np.ptp]
    fn = r.choice(fns)
    a = _array(r)
    kwargs = {}
    if r.random() < 0.7:
        kwargs["axis"] = _axis(r, a)
    if r.random() < 0.4 and fn not in (np.cumsum, np.cumprod):
        kwargs["keepdims"] = r.choice([True, False])
    return fn, [a], kwargs


def _method(r):
    name = r.choice(["sum", "mean", "max", "any", "argmax", "cumsum", "ravel", "copy", "astype", "round"])
    a = _array(r)
    args = ["float32"] if name == "astype" else []
    kwargs = (
        {"axis": _axis(r, a)} if name in ("sum", "mean", "max", "any", "argmax") and r.random() < 0.5 else {}
    )
    return getattr(np.ndarray, name), [a, *args], kwargs


def _shape(r):
    a = _array(r, rank=r.randint(1, 3))
    nd = a.ndim
    choice = r.randrange(12)
    if choice == 0:
        return np.transpose, [a], {}
    if choice == 1:
        return np.swapaxes, [a, 0, nd - 1], {}
    if choice == 2:
        return np.moveaxis, [a, 0, -1], {}
    if choice == 3:
        return np.expand_dims, [a, r.choice([0, -1, (0, 1)])], {}
    if choice == 4:
        return np.squeeze, [a], r.choice([{}, {"axis": 0}])
    if choice == 5:
        return np.reshape, [a, r.choice([-1, (a.size,), (1, a.size), (a.size, 1, 1)])], {}
    if choice == 6:
        return r.choice([np.ravel, np.flip, np.atleast_2d, np.atleast_1d]), [a], {}
    if choice == 7:
        return np.roll, [a, 1], r.choice([{}, {"axis": 0}])
    if choice == 8:
        return np.tile, [a, r.choice([2, (2, 1), (1, 1, 2, 1)])], {}
    if choice == 9:
        return np.repeat, [a, 2], r.choice([{}, {"axis": 0}])
    if choice == 10:
        return np.broadcast_to, [a, (2, *a.shape)], {}
    return np.diag, [_array(r, rank=r.randint(1, 2))], {}


def _join(r):
    a = _array(r, rank=r.randint(1, 3))
    b = a.astype(r.choice(DTYPES))
    fn = r.choice([np.concatenate, np.stack, np.hstack, np.vstack])
    kwargs = (
        {"axis": r.choice([0, -1, None])} if fn in (np.concatenate, np.stack) and r.random() < 0.5 else {}
    )
    if fn is np.stack and kwargs.get("axis", 0) is None:
        kwargs = {}
    return fn, [r.choice([[a, b], (a, b)])], kwargs


def _creation(r):
    shape = r.choice([3, (2, 3), (), (1, 2, 1)])
    dtype = r.choice([None, "int32", "bool", "complex128"])
    fn = r.choice([np.zeros, np.ones, np.empty, np.full, np.arange, np.linspace, np.eye, np.identity])
    if fn is np.full:
        return fn, [shape, _number(r)], {"dtype": dtype} if dtype else {}
    if fn is np.arange:
        return fn, [r.choice([3, 2.5])], {"dtype": dtype} if dtype else {}
    if fn is np.linspace:
        return fn, [_operand(r, rank=r.randint(0, 1)), 1.0, 4], {"dtype": dtype} if dtype else {}
    if fn in (np.eye, np.identity):
        return fn, [3], {"dtype": dtype} if dtype else {}
    return fn, [shape], {"dtype": dtype} if dtype else {}


def _getitem(r):
    a = _array(r, rank=r.randint(1, 3))
    nd = a.ndim
    index = r.choice(
        [0, -1, slice(0, 1), (0,) * nd, (Ellipsis, 0), (None, 0), (slice(None), None), [0, 0]]
        + ([(0, slice(None), 0), (slice(None), [0, 0])] if nd >= 2 else [])
    )
    return operator.getitem, [a, index], {}


def _contraction(r):
    fn = r.choice([np.dot, np.matmul, np.inner, np.outer, np.vdot, np.tensordot, np.einsum, operator.matmul])
    n = r.randint(1, 3)
    a = _array(r, rank=r.randint(0, 2)).reshape(-1)[:n] if r.random() < 0.5 else np.ones((2, n))
    a = a.astype(r.choice(DTYPES))
    b = np.ones((n,) + ((2,) if r.random() < 0.5 else ()), dtype=r.choice(DTYPES))
    if fn is np.tensordot:
        return fn, [a, b], {"axes": 1}
    if fn is np.einsum:
        spec = {1: "i,i...", 2: "ji,i..."}.get(a.ndim, "i")
        return fn, [spec.replace("...", "j" if b.ndim == 2 else "") + "->", a, b], {}
    return fn, [a, b], {}


def _linalg(r):
    a = _array(r, rank=r.choice([2, 3]), dtypes=["float64", "complex128"], square=True)
    a = a + np.eye(a.shape[-1]) * 3
    fn = r.choice(
        [np.linalg.inv, np.linalg.det, np.linalg.eigvals, np.linalg.eigh, np.linalg.svd, np.linalg.qr]
        + [np.linalg.slogdet, np.linalg.norm, np.trace, np.diagonal, np.linalg.matrix_power]
    )
    if fn is np.linalg.matrix_power:
        return fn, [a, 2], {}
    if fn is np.linalg.svd and r.random() < 0.5:
        return fn, [a], {"compute_uv": False}
    if fn is np.linalg.norm and r.random() < 0.5:
        return fn, [a], {"axis": -1}
    return fn, [a], {}


_FFT_1D = [np.fft.fft, np.fft.ifft, np.fft.rfft, np.fft.irfft, np.fft.hfft, np.fft.ihfft]
_FFT_ND = [np.fft.fft2, np.fft.ifft2, np.fft.rfft2, np.fft.irfft2, np.fft.fftn, np.fft.ifftn]
_FFT_ND += [np.fft.rfftn, np.fft.irfftn]


def _fft(r):
    fn = r.choice(_FFT_1D + _FFT_ND + [np.fft.fftshift, np.fft.ifftshift])
    a = _array(r, dtypes=DTYPES + ["float32", "complex64"])
    if fn in (np.fft.fftshift, np.fft.ifftshift):
        return fn, [a], r.choice([{}, {"axes": None}, {"axes": -1}, {"axes": (0,)}, {"axes": ()}])
    if fn in _FFT_1D:
        return fn, [a], r.choice([{}, {"n": 4}, {"axis": 0}, {"n": 3, "axis": -1, "norm": "ortho"}])
    kwargs = r.choice([{}, {"axes": None}, {"axes": ()}, {"axes": (-1,)}, {"axes": (0, -1)}])
    if r.random() < 0.5:  # s: one size per transformed axis (with axes None, deprecated)
        kwargs["s"] = (2,) * len(kwargs.get("axes") or (0,) * min(a.ndim, 2))
    return fn, [a], kwargs


def _quantile_call(r, fn, a):
    q = r.choice([50, 10.0, [5, 95], np.array([[0.2], [0.9]]) * 100])
    q = np.divide(q, 100) if fn in (np.quantile, np.nanquantile) else q
    kwargs = {"axis": _axis(r, a)} if r.random() < 0.6 else {}
    if r.random() < 0.3:
        kwargs["keepdims"] = r.choice([True, False])
    if r.random() < 0.3:
        kwargs["method"] = r.choice(["lower", "nearest", "midpoint", "weibull"])
    return fn, [a, q], kwargs


def _statistics(r):
    fn = r.choice([np.percentile, np.quantile, np.nanpercentile, np.nanquantile, np.histogram, np.bincount])
    fn = r.choice([fn, np.average, np.cov, np.corrcoef])
    a = _array(r, rank=r.randint(1, 3), dtypes=["int64", "float32", "float64", "bool"])
    if fn in (np.percentile, np.nanpercentile, np.quantile, np.nanquantile):
        return _quantile_call(r, fn, a)
    if fn is np.histogram:
        kwargs = {"range": (0, 3)} if r.random() < 0.7 else {}
        if r.random() < 0.4:
            kwargs["weights"] = np.ones(a.shape, dtype=r.choice(["float64", "int64", "complex128"]))
        if r.random() < 0.3:
            kwargs["density"] = True
        return fn, [a, r.choice([3, [0.0, 1.0, 2.5], np.array([0, 2, 4])])], kwargs
    if fn is np.bincount:
        x = (np.arange(r.randint(0, 4)) % 3).astype(r.choice(["int64", "uint8", "bool"]))
        return fn, [x], r.choice([{}, {"minlength": 4}, {"weights": np.ones(x.size)}])
    if fn is np.average:
        kwargs = {"axis": _axis(r, a)} if r.random() < 0.5 else {}
        if r.random() < 0.6:
            kwargs["weights"] = np.ones(a.shape, dtype=r.choice(["float32", "int64", "complex128"]))
        if r.random() < 0.3:
            kwargs["returned"] = True
        return fn, [a], kwargs
    m = _array(r, rank=r.randint(1, 2), dtypes=["int64", "float32", "float64", "complex128"])
    kwargs = {"y": m + 1} if r.random() < 0.3 else {}
    if r.random() < 0.3:
        kwargs["rowvar"] = False
    return fn, [m], kwargs


def _lstsq_pinv(r):
    a = _array(r, rank=2, dtypes=["float32", "float64", "complex128", "int64", "bool"])
    if r.random() < 0.5:
        b = np.ones((a.shape[0],) + ((2,) if r.random() < 0.5 else ()), dtype=r.choice(DTYPES))
        return np.linalg.lstsq, [a, b], r.choice([{}, {"rcond": None}, {"rcond": 0.5}])
    a = r.choice([a, np.stack([a, a])])
    return np.linalg.pinv, [a], r.choice([{}, {"rcond": 0.1}, {"rtol": 0.1}, {"hermitian": False}])


def _sorting(r):
    a = _array(r, rank=r.randint(1, 2), dtypes=["int64", "float64", "bool"])
    fn = r.choice([np.sort, np.argsort, np.partition, np.searchsorted, np.interp, np.pad, np.convolve])
    if fn is np.partition:
        return fn, [a, 0], {}
    if fn is np.searchsorted:
        return fn, [np.arange(3.0), a], {}
    if fn is np.interp:
        return fn, [a, np.arange(3.0), np.arange(3.0)], {}
    if fn is np.pad:
        return fn, [a, 1], {}
    if fn is np.convolve:
        return fn, [a.reshape(-1), np.ones(2)], {}
    return fn, [a], r.choice([{}, {"axis": None}, {"axis": 0}])


def _builtins(r):
    x = _array(r, rank=0, dtypes=["bool", "int64", "float64"])[()]
    fn = r.choice([float, int, bool, round, max, min, math.exp, math.floor, math.isnan, sum])
    if fn in (max, min):
        return fn, [x, _number(r) if r.random() < 0.5 else x], {}
    if fn is sum:
        return fn, [_array(r, rank=1)], {}
    return fn, [x], {}


def _as_operand(value) -> Operand:
    """An operand as the walker has it: an array by its facts, a small Python value also static."""
    node = ast.Name("v", ast.Load())
    if isinstance(value, np.ndarray | np.generic):
        return Operand(node, val_of(value))
    if isinstance(value, list | tuple) and any(isinstance(v, np.ndarray) for v in value):
        elts = tuple(_as_operand(v).val for v in value)
        kind = Kind.LIST if isinstance(value, list) else Kind.TUPLE
        return Operand(node, Val(False, None, kind, None, elts))
    return Operand(node, val_of(value), value)


def _infer(fn, args, kwargs) -> Val:
    """What the dispatcher states of this call with no batched operand."""
    rule = registry.lookup(fn)
    assert rule is not None, fn
    name = getattr(fn, "__name__", None)
    method = name if isinstance(fn, types.MethodDescriptorType | types.GetSetDescriptorType) else None
    site = CallSite(
        fn,
        ast.Constant(None),
        [_as_operand(a) for a in args],
        {k: _as_operand(v) for k, v in kwargs.items()},
        None,
        method,
    )
    walker = types.SimpleNamespace(ctx=None)
    return CallsMixin._infer(walker, rule, site)  # type: ignore[arg-type]


def _check(facts: Val, result, what: str) -> None:
    """Where `facts` knows the rank or dtype kind of `result`, they agree."""
    if facts.kind == Kind.TUPLE and facts.elts is not None:
        assert isinstance(result, tuple) and len(result) == len(facts.elts), what
        for e, x in zip(facts.elts, result):
            _check(e, x, what)
        return
    if facts.kind not in (Kind.ARRAY, Kind.SCALAR):
        return
    if facts.ndim is not None:
        assert np.ndim(result) == facts.ndim, f"{what}: rank {facts.ndim}, NumPy's {np.ndim(result)}"
    if facts.dtype is not None:
        kind = np.asarray(result).dtype.kind
        assert kind == facts.dtype, f"{what}: kind {facts.dtype!r}, NumPy's {kind!r}"
    assert not facts.batched, what


@pytest.mark.parametrize("family", sorted(CASES))
def test_abstract_evaluation_states_what_numpy_computes(family):
    r = random.Random(family)
    checked = 0
    for _ in range(60):
        fn, args, kwargs = CASES[family](r)
        what = f"{getattr(fn, '__qualname__', fn)}{tuple(np.shape(a) if isinstance(a, np.ndarray) else a for a in args)} {kwargs}"
        facts = _infer(fn, args, kwargs)
        try:
            with np.errstate(all="ignore"):
                result = fn(*args, **kwargs)
        except (TypeError, ValueError, ArithmeticError, IndexError, np.linalg.LinAlgError):
            continue  # NumPy refuses these operands: any facts will do
        _check(facts, result, what)
        checked += facts.ndim is not None or facts.dtype is not None or facts.elts is not None
    assert checked > 10, f"{family}: the facts knew too little to test"


def _numpy_params(fn) -> list[inspect.Parameter] | None:
    try:
        return list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return None  # a builtin without a text signature


def _numpy_functions():
    """Every NumPy function with a rule and a signature (methods: `test_method_rule_takes_what_numpy_takes`)."""
    found = {}
    for key, rule in registry.RULES.items():
        obj = registry._OBJECTS[key]
        if isinstance(obj, (type, np.ufunc, types.MethodDescriptorType, types.GetSetDescriptorType)):
            continue
        if (getattr(obj, "__module__", None) or "").startswith("numpy") and _numpy_params(obj) is not None:
            found[id(obj)] = obj
    return sorted(found.values(), key=lambda f: f"{f.__module__}.{f.__qualname__}")


@pytest.mark.parametrize(
    "fn",
    [np.matmul, np.add, np.modf] + _numpy_functions(),
    ids=lambda f: getattr(f, "__qualname__", str(f)),
)
def test_rule_signature_is_numpys(fn):
    """A rule's parameters after its context are NumPy's: names, order, kinds (a ufunc's are its
    operands and its keywords)."""
    rule = registry.lookup(fn)
    assert rule is not None and rule.signature is not None
    ours = list(rule.signature.parameters.values())[1:]
    theirs = _numpy_params(fn)
    if isinstance(fn, np.ufunc) and ours[0].kind == inspect.Parameter.VAR_POSITIONAL:
        assert {p.name for p in ours[1:]} >= {"out", "where", "casting", "order", "dtype", "subok"}
        return
    assert theirs is not None
    assert not any(p.kind == inspect.Parameter.VAR_KEYWORD for p in ours) or any(
        p.kind == inspect.Parameter.VAR_KEYWORD for p in theirs
    ), "a rule takes **kwargs where NumPy names its parameters"
    named = [(p.name, p.kind) for p in theirs if p.kind != inspect.Parameter.VAR_KEYWORD]
    assert [(p.name, p.kind) for p in ours if p.kind != inspect.Parameter.VAR_KEYWORD][: len(named)] == [
        (n, k) if k != inspect.Parameter.POSITIONAL_ONLY else (p.name, k) for (n, k), p in zip(named, ours)
    ]


def _rules():
    seen = {id(rule.fn): rule for rule in registry.RULES.values()}
    seen.update({id(rule.fn): rule for _, rule in registry.FAMILIES})
    return sorted(seen.values(), key=lambda rule: rule.fn.__qualname__)


@pytest.mark.parametrize(
    "rule", [r for r in _rules() if r.infer is not None], ids=lambda r: r.fn.__qualname__
)
def test_facts_take_their_rules_arguments(rule):
    """The dispatcher passes a rule's arguments to its facts by name: every name must be taken."""
    names = list(rule.signature.parameters)[1:]
    inspect.signature(rule.infer).bind(None, **dict.fromkeys(names))


def _loop(fn, x):
    return np.stack([fn(e) for e in x])


IDX = (0, 1)


def _static_tuple_index(x):
    return x[IDX]


def test_a_static_tuple_index_indexes_one_axis_per_element():
    """`x[IDX]` with a global tuple `IDX = (0, 1)` is `x[0, 1]`, not an advanced index along axis 0."""
    x = np.arange(18.0).reshape(2, 3, 3)
    np.testing.assert_array_equal(vmap(_static_tuple_index)(x), _loop(_static_tuple_index, x))


def _contiguous_scalar(x):
    return np.ascontiguousarray(x[0, 0])


def test_ascontiguousarray_of_a_scalar_is_a_vector():
    """`np.ascontiguousarray` returns at least one axis: of a per-example scalar, a vector each."""
    x = np.arange(18.0).reshape(2, 3, 3)
    with pytest.warns(PerformanceWarning):
        got = vmap(_contiguous_scalar)(x)
    np.testing.assert_array_equal(got, _loop(_contiguous_scalar, x))


def test_every_rule_family_module_is_imported_by_the_package():
    """A new family module registers its rules when `astvmap.rules` imports it: a module that registers
    rules but is missing from the package's import list would leave its functions without rules."""
    import ast as _ast
    import pathlib

    import astvmap.rules as rules_pkg

    folder = pathlib.Path(rules_pkg.__file__).parent
    init = _ast.parse((folder / "__init__.py").read_text())
    imported = {
        alias.name
        for node in _ast.walk(init)
        if isinstance(node, _ast.ImportFrom) and node.level == 1 and node.module is None
        for alias in node.names
    }
    registering = {
        path.stem
        for path in folder.glob("*.py")
        if path.stem not in ("__init__", "registry")
        and any(
            isinstance(node, _ast.Call) and getattr(node.func, "id", None) in ("register", "register_family")
            for node in _ast.walk(_ast.parse(path.read_text()))
        )
    }
    assert len(registering) >= 12, sorted(registering)
    assert registering <= imported, (
        f"not imported by astvmap/rules/__init__.py: {sorted(registering - imported)}"
    )


# ---- methods: what NumPy takes positionally -------------------------------------------------------------
# A value NumPy accepts for each parameter of a method's rule (`*` for a `*args` parameter). NumPy's
# reduction methods pass their positional arguments on to numpy/_core/_methods.py, whose order their
# docstrings do not show (`x.any(axis, dtype, out, keepdims)`): calling NumPy is the only way to know.
_METHOD_VALUES: dict[str, dict] = {
    "sum": {"axis": 0, "dtype": "float32", "out": None, "keepdims": True, "initial": 1.0, "where": True},
    "prod": {"axis": 0, "dtype": "float32", "out": None, "keepdims": True, "initial": 2.0, "where": True},
    "max": {"axis": 0, "out": None, "keepdims": True, "initial": -9.0, "where": True},
    "min": {"axis": 0, "out": None, "keepdims": True, "initial": 9.0, "where": True},
    "mean": {"axis": 0, "dtype": "float32", "out": None, "keepdims": True, "where": True},
    "std": {
        "axis": 0,
        "dtype": "float32",
        "out": None,
        "ddof": 1,
        "keepdims": True,
        "where": True,
        "mean": None,
    },
    "var": {
        "axis": 0,
        "dtype": "float32",
        "out": None,
        "ddof": 1,
        "keepdims": True,
        "where": True,
        "mean": None,
    },
    "any": {"axis": 0, "dtype": None, "out": None, "keepdims": True, "where": True},
    "all": {"axis": 0, "dtype": None, "out": None, "keepdims": True, "where": True},
    "argmax": {"axis": 0, "out": None, "keepdims": True},
    "argmin": {"axis": 0, "out": None, "keepdims": True},
    "cumsum": {"axis": 0, "dtype": "float32", "out": None},
    "cumprod": {"axis": 0, "dtype": "float32", "out": None},
    "clip": {
        "min": 1.5,
        "max": 4.0,
        "out": None,
        "where": True,
        "casting": "same_kind",
        "order": "K",
        "dtype": None,
    }
    | {"subok": True, "signature": "ddd->d"},
    "round": {"decimals": 1, "out": None},
    "dot": {"b": np.ones((3, 2)), "out": None},
    "trace": {"offset": 1, "axis1": 0, "axis2": 1, "dtype": "float32", "out": None},
    "diagonal": {"offset": 1, "axis1": 0, "axis2": 1},
    "transpose": {"*": (1, 0)},
    "swapaxes": {"axis1": 0, "axis2": 1},
    "squeeze": {"axis": None},
    "reshape": {"*": (3, 2), "order": "F", "copy": None},
    "ravel": {"order": "F"},
    "flatten": {"order": "F"},
    "copy": {"order": "F"},
    "repeat": {"repeats": 2, "axis": 0},
    "astype": {"dtype": "float32", "order": "K", "casting": "unsafe", "subok": True, "copy": True},
    "item": {"*": (1,)},
    "argsort": {"axis": 0, "kind": "stable", "order": None, "stable": None},
    "argpartition": {"kth": 1, "axis": 1, "kind": "introselect", "order": None},
    "searchsorted": {"v": 2.5, "side": "right", "sorter": None},
    "conj": {},
    "conjugate": {},
}


def _method_rules():
    found = {}
    for key, rule in registry.RULES.items():
        obj = registry._OBJECTS[key]
        if isinstance(obj, types.MethodDescriptorType) and getattr(obj, "__objclass__", None) is np.ndarray:
            found[obj.__name__] = rule
    return sorted(found.items())


def _same(a, b) -> bool:
    return np.shape(a) == np.shape(b) and np.asarray(a).dtype == np.asarray(b).dtype and np.array_equal(a, b)


@pytest.mark.parametrize("name, rule", _method_rules(), ids=lambda v: v if isinstance(v, str) else "")
def test_method_rule_takes_what_numpy_takes(name, rule):
    """A method's rule takes positionally exactly what NumPy's method takes positionally, in the same
    order and meaning the same (the positional call equals the call by keyword), and its keyword-only
    parameters only by keyword. (ndarray methods have no reliable `inspect.signature`.)"""
    assert name in _METHOD_VALUES, f"ndarray.{name} has a rule: give its parameters' values here"
    values = _METHOD_VALUES[name]
    P = inspect.Parameter
    params = list(rule.signature.parameters.values())[2:]  # after the context and the array
    positional = [p for p in params if p.kind in (P.POSITIONAL_ONLY, P.POSITIONAL_OR_KEYWORD)]
    var = [p for p in params if p.kind == P.VAR_POSITIONAL]
    keyword_only = [p for p in params if p.kind == P.KEYWORD_ONLY]
    assert set(values) == {p.name for p in positional + keyword_only} | ({"*"} if var else set())
    x = np.arange(1.0, 7.0) if name == "searchsorted" else np.arange(1.0, 7.0).reshape(2, 3)
    method = getattr(x, name)
    args = [values[p.name] for p in positional] + list(values.get("*", ()))
    rule.signature.bind(None, x, *args)  # the rule takes them
    got = method(*args)  # and so does NumPy
    if not var:
        leading = [values[p.name] for p in positional if p.kind == P.POSITIONAL_ONLY]
        by_name = {p.name: values[p.name] for p in positional if p.kind == P.POSITIONAL_OR_KEYWORD}
        assert _same(method(*leading, **by_name), got), f"x.{name}: positional and keyword calls differ"
        if keyword_only:
            more = values[keyword_only[0].name]
            with pytest.raises(TypeError):
                rule.signature.bind(None, x, *args, more)
            with pytest.raises(TypeError):  # NumPy takes no more positionally than the rule
                method(*args, more)
    for p in keyword_only:
        method(*args, **{p.name: values[p.name]})  # NumPy takes it by keyword


# ---- arguments by keyword (NOTE [arguments by parameter], rules/common.py) --------------------------------
# A call of every NumPy function with a rule that batches it, written positionally; `x` is a per-example
# vector (3,), `m` a per-example matrix (3, 3), `s` a per-example scalar. The test writes each call again
# with its arguments by keyword from each position on (`np.sum(a=m, axis=0)`, `np.sum(m, axis=0)`), where
# NumPy's parameters there take keywords, and the rewrite must batch it as it batches the positional call.
_BY_KEYWORD: dict = {
    **dict.fromkeys(
        [np.sum, np.prod, np.mean, np.std, np.var, np.max, np.min, np.amax, np.amin, np.ptp, np.median],
        ("m", "0"),
    ),
    **dict.fromkeys(
        [np.nansum, np.nanprod, np.nanmean, np.nanstd, np.nanvar, np.nanmax, np.nanmin], ("m", "1")
    ),
    **dict.fromkeys([np.nanmedian, np.count_nonzero, np.argmax, np.argmin], ("m", "1")),
    np.average: ("m", "1", "m * m", "True"),
    **dict.fromkeys(
        [np.nanargmax, np.nanargmin, np.cumsum, np.cumprod, np.nancumsum, np.nancumprod], ("m", "0")
    ),
    np.any: ("m > 0", "1"),
    np.all: ("m > 0", "0"),
    np.diff: ("x", "1"),
    **dict.fromkeys([np.angle, np.real, np.imag, np.real_if_close, np.i0, np.sinc, np.isreal], ("x",)),
    **dict.fromkeys([np.iscomplex, np.nan_to_num, np.copy, np.ravel, np.sort, np.argsort], ("x",)),
    **dict.fromkeys([np.round, np.around], ("x", "1")),
    np.clip: ("x", "0.0", "s"),
    **dict.fromkeys([np.iterable, np.isscalar], ("x",)),
    np.can_cast: ("x", "np.float64"),
    np.isclose: ("x", "s"),
    **dict.fromkeys([np.array, np.asanyarray, np.ascontiguousarray], ("x",)),
    np.asarray: ("x", "float"),
    np.broadcast_to: ("x", "(2, 3)"),
    **dict.fromkeys([np.hstack, np.vstack], ("(x, x)",)),
    np.stack: ("(x, x)", "1"),
    np.concatenate: ("(x, x)", "0"),
    **dict.fromkeys([np.convolve, np.correlate], ("x", "[1.0, 2.0]")),
    np.diag: ("x", "1"),
    **dict.fromkeys([np.diagonal, np.trace], ("m", "1")),
    np.dot: ("m", "x"),
    np.outer: ("x", "x"),
    np.tensordot: ("m", "x", "1"),
    **dict.fromkeys([np.zeros_like, np.ones_like], ("x",)),
    np.empty_like: ("x", "float"),
    np.full_like: ("x", "s"),
    np.full: ("3", "s"),
    np.expand_dims: ("x", "0"),
    np.flip: ("m", "0"),
    **dict.fromkeys([np.moveaxis, np.swapaxes], ("m", "0", "1")),
    np.squeeze: ("x[None]", "0"),
    np.transpose: ("m", "(1, 0)"),
    np.reshape: ("m", "(9,)"),
    **dict.fromkeys([np.repeat, np.roll, np.tile], ("x", "2")),
    np.interp: ("x", "[0.0, 1.0]", "[1.0, 2.0]"),
    np.searchsorted: ("np.sort(x)", "s"),
    **dict.fromkeys([np.partition, np.argpartition], ("x", "1")),
    np.sort_complex: ("x",),
    np.pad: ("x", "1"),
    np.lib.stride_tricks.sliding_window_view: ("x", "2"),
    np.take: ("x", "[0, 1]"),
    np.take_along_axis: ("m", "np.argsort(m, axis=1)", "1"),
    **dict.fromkeys([np.linalg.det, np.linalg.inv, np.linalg.slogdet, np.linalg.matrix_rank], ("m",)),
    **dict.fromkeys([np.linalg.eigvals, np.linalg.pinv], ("m",)),
    **dict.fromkeys([np.linalg.eigh, np.linalg.eigvalsh], ("m + m.T", "'U'")),
    np.linalg.matrix_power: ("m", "2"),
    np.linalg.norm: ("m", "None", "1"),
    np.linalg.qr: ("m", "'r'"),
    np.linalg.solve: ("m", "x"),
    np.linalg.svd: ("m", "False", "False"),
    **dict.fromkeys([np.linspace, np.logspace], ("s", "1.0", "4")),
    **dict.fromkeys([np.ndim, np.shape, np.size], ("m",)),
    **dict.fromkeys([np.percentile, np.nanpercentile], ("m", "30", "1")),
    **dict.fromkeys([np.quantile, np.nanquantile], ("m", "[0.25, 0.75]", "1")),
    np.histogram: ("x", "3", "(-1.0, 1.0)"),
    np.bincount: ("(x > 0).astype(int)", "x", "3"),
    np.cov: ("m", "x", "False"),
    np.corrcoef: ("m", "x"),
    np.linalg.lstsq: ("m", "x", "None"),
    **dict.fromkeys([np.fft.fft, np.fft.ifft, np.fft.rfft, np.fft.hfft, np.fft.ihfft], ("x", "3", "0")),
    np.fft.irfft: ("x", "4", "0"),
    **dict.fromkeys([np.fft.fft2, np.fft.ifft2, np.fft.rfft2, np.fft.irfft2], ("m", "(2, 2)", "(0, 1)")),
    **dict.fromkeys([np.fft.fftn, np.fft.ifftn, np.fft.rfftn, np.fft.irfftn], ("m", "(2, 2)", "(0, 1)")),
    **dict.fromkeys([np.fft.fftshift, np.fft.ifftshift], ("m", "0")),
    np.cross: ("m", "x", "0", "-1", "-1"),
    np.linalg.cross: ("m", "x"),
    np.kron: ("m", "x"),
    np.vander: ("x", "3", "True"),
    np.trapezoid: ("m", "x", "1.0", "0"),
    np.ediff1d: ("m", "[1.0]", "0.5"),
    np.unwrap: ("m", "1.0", "0"),
    np.gradient: ("m", "2.0"),
    np.select: ("[x > 0, x < 0]", "[x, s]", "0.5"),
    np.piecewise: ("x", "[x > 0]", "[np.sin, 1.0]"),
}
# NumPy functions with rules that no call with a batched operand batches, or that take no keyword operands
_NOT_BY_KEYWORD = {
    np.result_type: "its arrays and dtypes are positional only",
    np.broadcast_shapes: "its shapes are positional only",
    np.zeros: "creation from a shape: batched, a size per example",
    np.ones: "creation from a shape",
    np.empty: "creation from a shape",
    np.eye: "creation from a shape",
    np.identity: "creation from a shape",
    np.arange: "creation from a shape",
    np.column_stack: "no batched form",
    np.dstack: "no batched form",
    np.linalg.eig: "eigenvector order and signs: tests/test_linalg.py",
    np.einsum: "operands are *operands",
    np.atleast_1d: "operands are *arys",
    np.atleast_2d: "operands are *arys",
    np.where: "positional-only",
    np.inner: "positional-only",
    np.vdot: "positional-only",
    np.linalg.cholesky: "positional-only, then keyword-only",
}


def _keyword_spellings(fn, args):
    """The call `fn(*args)` written with its arguments by keyword from each position on, as NumPy takes."""
    params = list(inspect.signature(fn).parameters.values())
    for start in range(len(args)):
        if all(p.kind == inspect.Parameter.POSITIONAL_OR_KEYWORD for p in params[start : len(args)]):
            yield [*args[:start], *(f"{p.name}={a}" for p, a in zip(params[start:], args[start:]))]


def _spell(fn, args) -> str:
    name = {np.lib.stride_tricks.sliding_window_view: "np.lib.stride_tricks.sliding_window_view"}.get(fn)
    if name is None:
        name = "np." + ("linalg." if fn.__module__ == "numpy.linalg" else "") + fn.__name__
    return f"{name}({', '.join(args)})"


def test_every_numpy_rule_has_a_call_by_keyword():
    """Every NumPy function with a rule and a signature is in `_BY_KEYWORD` or says why not."""
    missing = [
        f.__qualname__ for f in _numpy_functions() if f not in _BY_KEYWORD and f not in _NOT_BY_KEYWORD
    ]
    missing = [m for m in missing if not m.startswith(("Generator.", "RandomState."))]  # tests/test_random.py
    assert not missing, f"add a positional call of these to _BY_KEYWORD: {missing}"


def _by_keyword_cases():
    for fn, args in _BY_KEYWORD.items():
        for spelled in [list(args), *_keyword_spellings(fn, args)]:
            yield pytest.param(_spell(fn, spelled), id=_spell(fn, spelled))


@pytest.mark.parametrize("call", list(_by_keyword_cases()))
def test_arguments_by_keyword_batch_as_positional_ones(call, tmp_path):
    """An operand (or any argument) passed by keyword is rewritten as the same argument passed positionally:
    never passed twice (`np.asarray(a=x)` raised), never counted among the options (`np.sum(a=x)` ran as a
    loop); compared with the loop, and with no fallback."""
    from oracle import assert_vmap_equivalent

    path = tmp_path / "by_keyword_case.py"
    body = f"return np.zeros_like({call})" if call.startswith("np.empty_like") else f"return {call}"
    if call.startswith(("np.linalg.slogdet", "np.linalg.eigh(")):
        body = f"a, b = {call}\n    return a, b"  # (the loop stacks tuples, not named tuples)
    path.write_text(f"import numpy as np\n\n\ndef f(x, m, s):\n    {body}\n")
    spec = __import__("importlib.util").util.spec_from_file_location(f"by_keyword_{abs(hash(call))}", path)
    mod = __import__("importlib.util").util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    rng = np.random.default_rng(0)
    x, s = rng.normal(size=(4, 3)), rng.normal(size=4)
    m = rng.normal(size=(4, 3, 3)) + 3 * np.eye(3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # (nan-functions, logs of negative values)
        assert_vmap_equivalent(mod.f, 0, 0, x, m, s)
