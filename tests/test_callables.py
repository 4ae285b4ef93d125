"""Any callable, the right code for it: NumPy's C functions and dispatchers, every library's ufuncs,
gufuncs by their core dimensions, builtins, decorators, callable objects (against the loop oracle).

The rule they follow: the code that runs is bound to the arguments exactly as the call passes them
(`axes.runtime_vals`), whatever names the signature the user sees has; `in_axes` follows that signature.
"""

import functools
import math
import warnings

import numpy as np
import pytest
from oracle import assert_vmap_equivalent

import astvmap
from astvmap import vmap

DTYPES = [np.float64, np.float32, np.int64]


def _arr(rng, shape, dtype=np.float64):
    return (rng.normal(size=shape) * 3).astype(dtype)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize(
    "fn, ranks",
    [
        (np.sin, (1,)),
        (np.add, (1, 1)),
        (np.dot, (1, 1)),
        (np.dot, (2, 1)),
        (np.linalg.norm, (1,)),
        (np.linalg.norm, (2,)),
        (np.outer, (1, 1)),
        (np.maximum, (2, 1)),
        (np.arctan2, (1, 1)),
        (np.modf, (1,)),
    ],
    ids=lambda v: getattr(v, "__name__", str(v)),
)
def test_numpy_functions_vmapped_directly(rng, seed, fn, ranks):
    r = np.random.default_rng(seed)
    B, n = int(r.integers(0, 5)), int(r.integers(1, 4))
    dtype = DTYPES[seed % len(DTYPES)] if fn not in (np.linalg.norm,) else np.float64
    args, axes = [], []
    for k in ranks:
        ax = int(r.integers(-1, k + 1)) if k else 0
        ax = None if ax == -1 and len(args) else max(ax, 0)
        shape = [n] * k
        if ax is not None:
            shape.insert(ax, B)
        args.append(_arr(rng, tuple(shape), dtype))
        axes.append(ax)
    if all(a is None for a in axes):
        axes[0] = 0
        args[0] = _arr(rng, (B,) + (n,) * ranks[0], dtype)
    assert_vmap_equivalent(fn, tuple(axes), 0, *args)


@pytest.mark.parametrize("B", [0, 1, 3])
def test_math_functions_and_builtins(rng, B):
    p, q = rng.normal(size=B), rng.normal(size=B)
    assert_vmap_equivalent(math.hypot, 0, 0, p, q)
    assert_vmap_equivalent(math.atan2, (0, None), 0, p, np.float64(0.5))
    assert_vmap_equivalent(abs, 0, 0, p)


def test_a_builtin_without_a_rule_runs_as_the_loop(rng):
    words = np.array([1.0, 2.0, 3.0])
    with pytest.warns(astvmap.PerformanceWarning):
        out = vmap(math.frexp)(words)
    assert [tuple(o) for o in zip(*out)] == [math.frexp(w) for w in words]


def test_numpy_dispatchers_run_their_python_implementation(rng):
    X, p = rng.normal(size=(4, 3)), rng.normal(size=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", astvmap.PerformanceWarning)
        assert_vmap_equivalent(np.polyval, (None, 0), 0, p, X, allow_fallback=True)
        assert_vmap_equivalent(np.polyval, (0, None), 0, X, 0.5, allow_fallback=True)


def test_other_libraries_ufuncs_broadcast_like_numpys(rng):
    special = pytest.importorskip("scipy.special")
    X = rng.normal(size=(5, 3))
    for fn in (special.expit, special.erf, special.gammaln):
        assert_vmap_equivalent(fn, 0, 0, X)
        assert_vmap_equivalent(lambda x, y: fn(x) * y, (0, None), 0, X, X[0])
    assert_vmap_equivalent(special.xlogy, (0, 1), 0, np.abs(X), np.abs(X).T.copy())


GUFUNCS = [getattr(np, n) for n in ("vecdot", "matvec", "vecmat") if hasattr(np, n)]


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("fn", GUFUNCS, ids=lambda f: f.__name__)
def test_gufuncs_broadcast_loop_dimensions_only(rng, seed, fn):
    # core ranks: vecdot (n),(n)->(); matvec (m,n),(n)->(m); vecmat (n),(n,m)->(m)
    r = np.random.default_rng(seed)
    core = {"vecdot": (1, 1), "matvec": (2, 1), "vecmat": (1, 2)}[fn.__name__]
    B, n = int(r.integers(0, 4)), 3
    loops = [int(r.integers(0, 2)) for _ in core]
    batched = [bool(r.integers(0, 2)) for _ in core] if seed else [True, False]
    if not any(batched):
        batched[0] = True
    args, axes = [], []
    for c, lp, b in zip(core, loops, batched):
        shape = (2,) * lp + (n,) * c
        if b:
            ax = int(r.integers(0, len(shape) + 1))
            shape = shape[:ax] + (B,) + shape[ax:]
        args.append(_arr(rng, shape))
        axes.append(ax if b else None)

    def f(*xs):
        return fn(*xs)

    assert_vmap_equivalent(f, tuple(axes), 0, *args)


def test_np_matvec_with_a_shared_matrix(rng):
    if not hasattr(np, "matvec"):
        pytest.skip("np.matvec needs NumPy 2.2")
    M, X = rng.normal(size=(3, 3)), rng.normal(size=(4, 3))
    out = vmap(np.matvec, in_axes=(None, 0))(M, X)
    assert out.shape == (4, 3)  # was (4, 1, 3): the batch axis taken for a core dimension
    np.testing.assert_allclose(out, X @ M.T)


# --------------------------------------------------------------------------- decorators, objects


def adds_hundred(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs) + 100.0

    return wrapper


@adds_hundred
def scaled(x, k=2.0, *, shift=0.0):
    return x * k + shift


def test_a_functools_wraps_decorator_runs_the_wrapper(rng):
    X = rng.normal(size=(4, 3))
    assert_vmap_equivalent(scaled, 0, 0, X)
    assert_vmap_equivalent(scaled, (0, None), 0, X, 3.0)
    assert_vmap_equivalent(scaled, (0, 0), 0, X, X[:, 0] + 1.0)
    assert_vmap_equivalent(scaled, (0,), 0, X, call_kwargs={"shift": 1.5})


class Affine:
    def __init__(self, w, b):
        self.w, self.b = w, b

    def __call__(self, x):
        return self.w @ x + self.b


def test_a_callable_object_runs_its_bound_call(rng):
    model = Affine(rng.normal(size=(2, 3)), rng.normal(size=2))
    X = rng.normal(size=(5, 3))
    assert_vmap_equivalent(model, 0, 0, X)
    assert_vmap_equivalent(model, 1, 1, X.T.copy())


def test_a_vmapped_function_keeps_its_inner_signature(rng):
    inner = vmap(scaled, in_axes=(0, None))
    X = rng.normal(size=(2, 4, 3))
    out = vmap(inner, in_axes=(0, None))(X, 3.0)
    np.testing.assert_allclose(out, X * 3.0 + 100.0)
