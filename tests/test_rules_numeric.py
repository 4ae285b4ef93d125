"""cross, linalg.cross, kron, vander, trapezoid, ediff1d, unwrap, gradient, select and piecewise
(astvmap/rules/numeric.py) against the per-example loop.

Each case runs with `fallback="error"` (a fallback to the loop is a failure) over batch axes 0, 1 and -1
where the rank allows, an operand left unbatched (in_axes None), and batch sizes 0, 1, 3, 7 and 11; the
cases the rules refuse check that the loop's result (or its error) is what vmap gives.
"""

import contextlib
import warnings

import numpy as np
import pytest
from oracle import assert_vmap_equivalent, make_batch

import astvmap

SIZES = (0, 1, 3, 7, 11)
RNG = np.random.default_rng(18)


def batches(examples, in_axes, B, rng):
    """Arguments for vmap: each mapped example repeated B times along its in-axis (None: as it is)."""
    out = []
    for ex, ax in zip(examples, in_axes):
        if ax is None:
            out.append(ex)
        else:
            out.append(np.moveaxis(make_batch(ex, B, rng), 0, ax))
    return out


def check(f, examples, in_axes, sizes=SIZES, allow_fallback=False, **kw):
    """The oracle for every batch size, never a fallback unless allowed."""
    rng = np.random.default_rng(0)
    vmap_kw = {} if allow_fallback else {"fallback": "error"}
    for B in sizes:
        args = batches(examples, in_axes, B, rng)
        assert_vmap_equivalent(
            f,
            tuple(in_axes),
            0,
            *args,
            allow_fallback=allow_fallback,
            skip_unprobeable=False,
            **vmap_kw,
            **kw,
        )


def falls_back(f, *args, in_axes=0):
    """vmap runs `f` as the loop (a PerformanceWarning), and agrees with it."""
    with pytest.warns(astvmap.PerformanceWarning), np.errstate(all="ignore"), contextlib.suppress(Exception):
        astvmap.vmap(f, in_axes)(*args)  # (where the loop raises, the oracle checks that vmap does too)
    assert_vmap_equivalent(f, in_axes, 0, *args, allow_fallback=True)


def vec(n=3, dtype="float64"):
    if dtype[0] in "fc":
        return RNG.normal(size=n).astype(dtype)
    return RNG.integers(0 if dtype[0] == "u" else -5, 6, n).astype(dtype)


# --------------------------------------------------------------------------- cross


def cross(a, b):
    return np.cross(a, b)


def cross_axes(a, b):
    return np.cross(a, b, axisa=0, axisb=-1, axisc=0)


def cross_axis(a, b):
    return np.cross(a, b, axis=0)


def linalg_cross(a, b):
    return np.linalg.cross(a, b)


def linalg_cross_axis0(a, b):
    return np.linalg.cross(a, b, axis=0)


@pytest.mark.parametrize("in_axes", [(0, 0), (1, -1), (None, 0), (0, None)])
@pytest.mark.parametrize("dtypes", [("float64", "float64"), ("int64", "float32"), ("complex128", "int8")])
def test_cross_of_vectors(in_axes, dtypes):
    a, b = vec(3, dtypes[0]), vec(3, dtypes[1])
    check(cross, [a, b], in_axes)
    check(linalg_cross, [a, b], in_axes)


@pytest.mark.parametrize(
    "f, a, b, in_axes",
    [
        (cross, RNG.normal(size=(4, 3)), vec(3), (0, 0)),  # leading axes broadcast between the operands
        (cross, vec(3), RNG.normal(size=(4, 3)), (0, None)),  # the unbatched one has more of them
        (cross, RNG.normal(size=(2, 1, 3)), RNG.normal(size=(4, 3)), (-1, 1)),
        (cross_axes, RNG.normal(size=(3, 4)), RNG.normal(size=(4, 3)), (0, 1)),
        (cross_axes, RNG.normal(size=(3,)), RNG.normal(size=(5, 3)), (0, 0)),
        (cross_axis, RNG.normal(size=(3, 4)), RNG.normal(size=(3, 4)), (1, None)),
        (cross, vec(2), vec(3), (0, 0)),  # 2-vectors (deprecated): a 3-vector
        (cross, RNG.normal(size=(4, 2)), vec(2), (0, None)),  # two 2-vectors: scalars
        (linalg_cross, RNG.normal(size=(4, 3)), vec(3), (0, 0)),
        (linalg_cross_axis0, RNG.normal(size=(3, 4)), RNG.normal(size=(3, 4)), (-1, 0)),
    ],
)
def test_cross_ranks_and_axes(f, a, b, in_axes):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        check(f, [a, b], in_axes, sizes=(0, 1, 4, 7))


def test_cross_refusals_agree_with_the_loop():
    x = RNG.normal(size=(5, 3))
    check(cross, [vec(4), vec(3)], (0, 0), sizes=(3,))  # NumPy raises for length 4: so does vmap
    check(linalg_cross, [vec(2), vec(2)], (0, 0), sizes=(3,))  # linalg.cross takes 3-vectors only
    falls_back(lambda a: np.cross(a, a, axisc=-3), x)  # axisc out of range for the loop's rank
    falls_back(lambda a, b: np.linalg.cross(a, b, axis=0), RNG.normal(size=(5, 3, 3)), x)


# --------------------------------------------------------------------------- kron


def kron(a, b):
    return np.kron(a, b)


@pytest.mark.parametrize(
    "a, b, in_axes",
    [
        (RNG.normal(size=(2, 3)), RNG.normal(size=(2, 2)), (0, 0)),
        (RNG.normal(size=(2, 3)), RNG.normal(size=(2, 2)), (2, None)),
        (vec(3), RNG.normal(size=(2, 2)), (None, 1)),  # a's rank padded to b's
        (RNG.normal(size=(2, 1, 3)), vec(2, "int32"), (-1, 0)),
        (vec(3, "int8"), vec(4, "uint8"), (0, 0)),
        (vec(3, "complex64"), np.float32(2.0), (0, None)),  # b a scalar: a product
        (np.float64(1.5), vec(3, "float32"), (0, 0)),
    ],
)
def test_kron(a, b, in_axes):
    check(kron, [a, b], in_axes)


def test_random_shapes():
    r = np.random.default_rng(7)
    for _ in range(4):
        s, t = (tuple(int(n) for n in r.integers(1, 4, size=r.integers(0, 3))) for _ in range(2))
        dtype = r.choice(["float64", "float32", "int64", "complex128"])
        a, b = r.normal(size=s).astype(dtype), r.normal(size=t)
        check(lambda u, v: np.kron(b=v, a=u), [a, b], (0, -1), sizes=(0, 2, 5))
        check(cross, [r.normal(size=(*t, 3)).astype(dtype), r.normal(size=(*s, 3))], (-1, None), sizes=(2,))
        check(lambda g: np.gradient(g, axis=-1), [r.normal(size=(*s, 4))], (0,), sizes=(2,))
        check(lambda u, v: np.select([u > 0], [v]), [a, b], (0, None), sizes=(2,))


def test_kron_python_numbers_are_arrays_to_kron():
    # np.kron(x, 2.0) makes 2.0 an array: float64 for a float32 x (NEP 50's weak scalar would stay float32)
    check(lambda a: np.kron(a, 2.0), [vec(3, "float32")], (0,))
    check(lambda a: np.kron(a, float(a[0])), [vec(3, "float32")], (0,))


# --------------------------------------------------------------------------- vander


@pytest.mark.parametrize("dtype", ["float64", "float32", "int8", "uint8", "uint64", "bool", "complex128"])
@pytest.mark.parametrize("N, increasing", [(None, False), (4, False), (3, True), (0, False), (1, True)])
def test_vander(dtype, N, increasing):
    x = vec(5, dtype) if dtype != "bool" else np.array([True, False, True, True, False])
    check(lambda v: np.vander(v, N, increasing), [x], (0,), sizes=(0, 1, 5))
    check(lambda v: np.vander(v, N=N, increasing=increasing), [x], (-1,), sizes=(3,))


def test_vander_of_empty_examples():
    check(lambda v: np.vander(v), [np.zeros(0)], (0,), sizes=(0, 3))
    check(lambda v: np.vander(v, 2, True), [np.zeros(0, np.int16)], (0,), sizes=(3,))


def test_vander_refusals():
    falls_back(lambda v: np.vander(v, int(v.shape[0] > 2) - 1), RNG.normal(size=(3, 4)))  # N < 0: raises
    check(lambda v: np.vander(v), [RNG.normal(size=(2, 2))], (0,), sizes=(3,))  # not 1-D: raises


# --------------------------------------------------------------------------- trapezoid


def trap(y):
    return np.trapezoid(y)


def trap_axis0_dx(y):
    return np.trapezoid(y, dx=0.5, axis=0)


def trap_x(y, x):
    return np.trapezoid(y, x)


def trap_x_axis(y, x):
    return np.trapezoid(y, x=x, axis=-2)


def trap_dx(y, h):
    return np.trapezoid(y, dx=float(h))


@pytest.mark.parametrize("dtype", ["float64", "float32", "int64", "bool", "complex128"])
def test_trapezoid_spacing(dtype):
    y = RNG.normal(size=(4, 5)).astype(dtype) if dtype != "bool" else RNG.random((4, 5)) < 0.5
    check(trap, [y], (0,))
    check(trap_axis0_dx, [y], (1,), sizes=(0, 3))
    check(trap_dx, [y, np.float64(0.25)], (-1, 0), sizes=(0, 3))  # a per-example Python float stays weak


@pytest.mark.parametrize(
    "f, y, x, in_axes",
    [
        (trap_x, RNG.normal(size=(4, 5)), np.sort(RNG.normal(size=5)), (0, None)),
        (trap_x, RNG.normal(size=(4, 5)), np.sort(RNG.normal(size=5)), (1, 0)),
        (trap_x, RNG.normal(size=5), np.sort(RNG.normal(size=5)), (None, 0)),
        (trap_x_axis, RNG.normal(size=(4, 5)), np.sort(RNG.normal(size=4)), (-1, 0)),
        (trap_x, RNG.normal(size=(4, 5)), RNG.normal(size=(4, 5)), (0, -1)),  # x of y's shape
        (trap_x, RNG.normal(size=(4, 5)), RNG.normal(size=(3, 4, 5)), (0, 0)),  # x of higher rank
        (trap_x, RNG.normal(size=(4, 5)), vec(4), (0, None)),  # 4 points for 5 samples: raises
    ],
)
def test_trapezoid_sample_points(f, y, x, in_axes):
    check(f, [y, x], in_axes, sizes=(0, 1, 4))


# --------------------------------------------------------------------------- ediff1d

END = np.array([[300, 2]])


@pytest.mark.parametrize(
    "f",
    [
        lambda a: np.ediff1d(a),
        lambda a: np.ediff1d(a, to_begin=1),
        lambda a: np.ediff1d(a, [7, 8], -1),
        lambda a: np.ediff1d(a, to_end=END),  # int8: 300 wraps as NumPy's cast does
    ],
)
@pytest.mark.parametrize("dtype", ["float64", "int8", "complex64"])
def test_ediff1d(f, dtype):
    check(f, [RNG.normal(size=(2, 3)).astype(dtype)], (0,))
    check(f, [vec(4, dtype)], (-1,), sizes=(3,))
    check(f, [vec(1, dtype)[0]], (0,), sizes=(0, 3))  # a per-example scalar: no differences


def test_ediff1d_refusals_agree_with_the_loop():
    ints = np.arange(12, dtype=np.uint8).reshape(3, 4)
    falls_back(lambda a: np.ediff1d(a, to_begin=3), ints)  # int64 into uint8 is not same_kind: raises
    falls_back(lambda a: np.ediff1d(a, to_end=0.5), ints.astype(np.int32))  # raises
    check(lambda a: np.ediff1d(a), [np.array([True, False])], (0,), sizes=(3,))  # bool subtract raises


# --------------------------------------------------------------------------- unwrap


PERIOD32 = np.float32(3.0)


def wrapped(shape, scale=3.0):
    return np.cumsum(RNG.normal(scale=scale, size=shape), axis=-1) % (2 * np.pi)


@pytest.mark.parametrize(
    "f, p, in_axes",
    [
        (lambda p: np.unwrap(p), wrapped(7), (0,)),
        (lambda p: np.unwrap(p), wrapped(7).astype(np.float32), (-1,)),
        (lambda p: np.unwrap(p, axis=0), wrapped((6, 3)), (1,)),
        (lambda p: np.unwrap(p, discont=4.0, axis=-2), wrapped((6, 3)), (-1,)),
        (lambda p: np.unwrap(p, period=10), RNG.integers(0, 10, 8), (0,)),  # integers: the exact path
        (lambda p: np.unwrap(p, period=7), RNG.integers(-20, 20, 8).astype(np.int8), (0,)),  # odd period
        (lambda p: np.unwrap(p, period=PERIOD32), wrapped(6, 1.0).astype(np.float16), (0,)),
        (lambda p: np.unwrap(p, period=2.5), RNG.integers(0, 3, 6), (0,)),
        (lambda p: np.unwrap(p), np.array([True, False, False, True]), (0,)),
    ],
)
def test_unwrap(f, p, in_axes):
    check(f, [p], in_axes)


def test_unwrap_per_example_discontinuity():
    check(lambda p, d: np.unwrap(p, d), [wrapped(7), np.float64(2.0)], (0, 0))
    check(lambda p, d: np.unwrap(p, float(d)), [wrapped(7), np.float64(2.0)], (-1, 0), sizes=(3,))
    check(lambda p: np.unwrap(p), [np.array([1 + 1j, 2j])], (0,), sizes=(3,))  # complex mod raises


# --------------------------------------------------------------------------- gradient


@pytest.mark.parametrize(
    "f, example",
    [
        (lambda g: np.gradient(g), vec(6)),
        (lambda g: np.gradient(g, 0.5, edge_order=2), vec(6, "float32")),
        (lambda g: np.gradient(g), RNG.normal(size=(4, 5))),  # a tuple, one array per axis
        (lambda g: np.gradient(g, 2.0, np.arange(5.0) ** 2), RNG.normal(size=(4, 5))),
        (lambda g: np.gradient(g, axis=0), RNG.integers(-9, 9, (4, 5))),  # ints: float64
        (lambda g: np.gradient(g, axis=(-1, 0)), vec(3, "complex128").reshape(3, 1) * np.ones(4)),
        (lambda g: np.gradient(g, edge_order=2), vec(2)),  # too short for edge_order=2: raises
    ],
)
def test_gradient(f, example):
    check(f, [example], (0,))
    check(f, [example], (-1,), sizes=(3,))


# --------------------------------------------------------------------------- select


def sel(x):
    return np.select([x > 0.5, x < -0.5], [x, -2 * x], default=0.25)


def sel_shared_choices(x, c):
    return np.select((x > 0,), [c])


def sel_scalar_cond(x, c):
    return np.select([x[0] > 0, c > 1], [c, 2.0])


@pytest.mark.parametrize("dtype", ["float64", "float32", "int32"])
def test_select(dtype):
    x = (
        RNG.normal(size=(3, 4)).astype(dtype)
        if dtype[0] == "f"
        else RNG.integers(-2, 3, (3, 4)).astype(dtype)
    )
    check(sel, [x], (0,))
    check(sel, [x], (2,), sizes=(3,))
    check(lambda v: np.select([v > 0], [v], 7), [x], (1,), sizes=(0, 4))


def test_select_broadcasts_per_example():
    check(sel_shared_choices, [vec(4), vec(4, "int16")], (0, None))
    check(sel_shared_choices, [vec(4, "int8"), RNG.normal(size=(3, 4))], (0, None))  # unbatched of more axes
    check(sel_scalar_cond, [vec(2), vec(4, "float32")], (0, 0))  # a per-example scalar condition
    check(sel_scalar_cond, [vec(2), vec(4, "float32")], (None, 0))
    check(lambda x: np.select([x], [x]), [vec(3)], (0,), sizes=(3,))  # not boolean: raises
    # a per-example Python number stays weak in select: the batched column would not
    falls_back(
        lambda x: np.select([x > 0, x < 0], [x, float(x[0])]), RNG.normal(size=(3, 4)).astype(np.float32)
    )


# --------------------------------------------------------------------------- piecewise


def double(v):
    return 2 * v


def pw_lambda(x):
    return np.piecewise(x, [x > 0], [lambda v: v * 2, 0.0])


def pw_otherwise(x):
    return np.piecewise(x, [x < -0.5, x > 0.5], [lambda v: np.log(-v), double, lambda v: v**2 + 1])


def pw_local_def(x):
    def cube(v):
        return v * v * v

    return np.piecewise(x, [x > 0, x <= 0], [cube, np.sqrt])


def pw_overlap(x):
    return np.piecewise(x, [x > 0, x > 1], [1, 2.7])  # the later condition wins; cast into x's dtype


def pw_keywords(x):
    return np.piecewise(x, condlist=[x > 0.5], funclist=[np.exp, np.tanh])


def pw_bare(x):
    return np.piecewise(x, x > 0, [np.abs, lambda v: -v])


def pw_shared_x(x, t):
    return np.piecewise(x, [x > t], [lambda v: v + np.pi, -1])


def pw_int_power(x):
    return np.piecewise(x, [x >= 0], [lambda v: 2**v, 0])  # `2 ** v` raises for negative ints


@pytest.mark.parametrize(
    "f", [pw_lambda, pw_otherwise, pw_local_def, pw_overlap, pw_keywords, pw_bare, pw_int_power]
)
@pytest.mark.parametrize("dtype", ["float64", "float32", "int64"])
def test_piecewise(f, dtype):
    x = RNG.normal(size=(3, 5)) * 2
    x = x.astype(dtype) if dtype[0] == "f" else np.round(x).astype(dtype)
    with np.errstate(all="ignore"):
        check(f, [x[0]], (0,), sizes=(0, 1, 7))
        check(f, [x], (1,), sizes=(3,)) if f is not pw_bare else None
        check(f, [np.asarray(x[0, 0])], (0,), sizes=(4,)) if f is not pw_bare else None  # 0-d examples


def test_piecewise_shared_operands():
    check(pw_shared_x, [vec(5), np.float64(0.0)], (None, 0))
    check(pw_shared_x, [vec(5, "float32"), np.float64(0.0)], (0, None))
    check(lambda x, c: np.piecewise(x, [c], [double]), [vec(4), np.array([True, False] * 2)], (0, None))


def test_piecewise_never_computes_the_excluded_values():
    # the loop calls log on the selected elements only: no warning, no error, under errstate(raise)
    x = RNG.normal(size=(7, 5))
    with np.errstate(all="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        got = astvmap.vmap(pw_otherwise, fallback="error")(x)
        ints = np.arange(-8, 7).reshape(3, 5)
        np.testing.assert_array_equal(
            astvmap.vmap(pw_int_power, fallback="error")(ints), [pw_int_power(r) for r in ints]
        )
    np.testing.assert_array_equal(got, np.stack([pw_otherwise(r) for r in x]))
    negative = -np.arange(1, 16).reshape(3, 5)  # never selected: the loop never calls 2 ** v
    check(pw_int_power, [negative[0]], (0,), sizes=(3,))


def pw_shadow(x):
    SHIFT = x[0]  # a local of the global's name
    return np.piecewise(x, [x > 0], [lambda v: v + SHIFT, 0])


def some_python(x):
    y = 0.0  # a Python float on the examples that skip the branch, a float32 on the others
    if x[0] > 0:
        y = x[1]
    return np.kron(y, x), np.piecewise(y, [y > 0], [lambda v: v * 3, 1])


def noisy(v):
    print(end="")  # a statement: not one expression
    return v


def test_piecewise_refuses_per_example_numbers():
    x = RNG.normal(size=(6, 3)).astype(np.float32)
    with pytest.warns(astvmap.PerformanceWarning):
        got = astvmap.vmap(some_python)(x)
    for g, e in zip(got, zip(*[some_python(r) for r in x])):
        assert g.dtype == np.stack(e).dtype
        np.testing.assert_array_equal(g, np.stack(e))
    falls_back(lambda x: np.piecewise(x, [x > 0], [noisy]), x)
    falls_back(lambda x: np.piecewise(x, [x > 0, x < 0], [float(x[0]), 1]), RNG.normal(size=(4, 5)))
    u8 = np.arange(12, dtype=np.uint8).reshape(3, 4)
    falls_back(lambda x: np.piecewise(x, [x > 2], [int(x[0]) + 300]), u8)  # a Python int: OverflowError


def test_piecewise_casts_as_numpy_does():
    u8 = np.arange(12, dtype=np.uint8).reshape(3, 4)
    check(lambda x: np.piecewise(x, [x > 3], [lambda v: v * 2.9]), [u8[0]], (0,), sizes=(3,))
    check(lambda x: np.piecewise(x, [x > 3], [300]), [u8[0]], (0,), sizes=(3,))  # OverflowError in both
    check(lambda x: np.piecewise(x, [x > 3], [lambda v: v + 0.5j]), [vec(4)], (0,), sizes=(3,))
    check(lambda x: np.piecewise(x, [x > 3, x < 1], [1]), [vec(4)], (0,), sizes=(3,))  # too few functions
    check(lambda x, c: np.piecewise(x, [c], [1]), [vec(4), vec(3)], (0, 0), sizes=(3,))  # shapes differ
    check(lambda x, c: np.piecewise(x, [c > 0], [1]), [vec(4), vec(1)], (0, 0), sizes=(3,))  # would broadcast


SHIFT = 2


def pw_outer(x):
    k = 2.0
    return np.piecewise(x, [x > 0], [lambda v: v * k, 0])  # reads a local of its function


def pw_helper(x, fn):
    return np.piecewise(x, [x > 0], [fn, 0])


def pw_passes_a_lambda(x):
    return pw_helper(x, lambda v: v + SHIFT)


def pw_passes_a_closure(x):
    k = x[0]
    return pw_helper(x, lambda v: v * k)  # the helper's loop would see the batch's k


@pytest.mark.parametrize(
    "f",
    [
        lambda x: np.piecewise(x, [x > 0], [lambda v: v - v.mean()]),  # sees the selection as a whole
        lambda x: np.piecewise(x, [x > 0], [lambda v: np.cumsum(v)]),
        lambda x: np.piecewise(x, [x > 0], [lambda v, s=2: v * s]),
        lambda x: np.piecewise(x, [x > 0], [lambda v: v if v.size > 2 else -v]),
        lambda x: np.piecewise(x, [x > 0], [lambda v: v, 0], 3),  # an extra argument
        lambda x: np.piecewise(x, [x > 0], [np.sort]),
        pw_outer,
        pw_passes_a_lambda,
        pw_passes_a_closure,
        pw_shadow,
    ],
)
def test_piecewise_falls_back_unless_elementwise(f):
    falls_back(f, RNG.normal(size=(4, 5)))


SCALE = 2.0


def pw_global(x):
    return np.piecewise(x, [x > 0], [lambda v: v * SCALE, 0])


def test_piecewise_reads_globals_as_they_are_now():
    global SCALE
    x = np.array([[1.0, -1, 2, -2], [-3, 3, 4, -4], [5, 5, -5, -5]])  # two selected per example
    vf = astvmap.vmap(pw_global, fallback="error")
    np.testing.assert_array_equal(vf(x), [pw_global(r) for r in x])
    SCALE = np.arange(4.0)  # no longer a number: per example (2,) * (4,) raises
    try:
        with pytest.raises(ValueError):
            pw_global(x[0])
        with pytest.raises(astvmap.AstvmapError):  # rewritten again: now a loop, refused
            vf(x)
    finally:
        SCALE = 2.0


# --------------------------------------------------------------------------- nested vmap


@pytest.mark.parametrize(
    "f, examples",
    [
        (cross, [RNG.normal(size=(2, 3)), vec(3)]),
        (linalg_cross, [vec(3), RNG.normal(size=(2, 3))]),
        (kron, [RNG.normal(size=(2, 2)), vec(3)]),
        (lambda v: np.vander(v, 3), [vec(4)]),
        (lambda v: np.vander(v), [vec(4, "int8")]),
        (trap_x, [RNG.normal(size=(3, 4)), vec(4)]),
        (lambda a: np.ediff1d(a, to_begin=[0, 1]), [RNG.normal(size=(2, 3))]),
        (lambda p: np.unwrap(p), [wrapped(6)]),
        (lambda g: np.gradient(g), [RNG.normal(size=(3, 4))]),
        (sel, [vec(5)]),
        (pw_otherwise, [vec(5)]),
        (pw_overlap, [vec(5)]),
    ],
)
def test_nested_vmap(f, examples):
    rng = np.random.default_rng(1)
    args = [make_batch(make_batch(e, 3, rng), 4, rng) for e in examples]
    inner = astvmap.vmap(f, fallback="error")
    with np.errstate(all="ignore"):
        assert_vmap_equivalent(astvmap.vmap(inner, fallback="error"), 0, 0, *args)
        assert_vmap_equivalent(
            astvmap.vmap(astvmap.vmap(f), in_axes=1), 1, 0, *[np.moveaxis(a, 0, 1) for a in args]
        )
