"""np.fft rules (astvmap/rules/fft.py) against the per-example loop.

The transforms run through ``oracle.check_all_placements`` with ``fallback="error"``: every placement of
the batch axis, batch sizes 0, 1, 3, 7, 11 and the per-example lengths, so a fallback to the loop fails.
The traps: a default or negative axis must stay a per-example axis (B == n), axes=None means every
per-example axis and never the batch axis, an axis out of the per-example rank must raise as the loop
raises (a negative one would otherwise name the batch axis), and NumPy 2 keeps single precision.
"""

import random
import warnings

import numpy as np
import pytest
from oracle import assert_vmap_equivalent, check_all_placements
from test_rule_contract import DTYPES, _array, _check, _infer

import astvmap

F = np.fft
ONE_D = [F.fft, F.ifft, F.rfft, F.irfft, F.hfft, F.ihfft]
N_D = [F.fft2, F.ifft2, F.rfft2, F.irfft2, F.fftn, F.ifftn, F.rfftn, F.irfftn]
REAL_IN = {F.rfft, F.ihfft, F.rfft2, F.rfftn}
SIZES = [0, 1, 3, 7, 11]


def _data(rng, shape, dtype):
    if np.dtype(dtype).kind == "c":
        return (rng.normal(size=shape) + 1j * rng.normal(size=shape)).astype(dtype)
    if np.dtype(dtype).kind == "i":
        return rng.integers(-4, 5, size=shape).astype(dtype)
    return rng.normal(size=shape).astype(dtype)


def _placements(f, args, sizes=SIZES, **kw):
    lengths = {d for a in args for d in np.shape(a)}
    check_all_placements(f, args, batch_sizes=sorted(set(sizes) | lengths), fallback="error", **kw)


def _one_d(fn, form):
    """A per-example function calling `fn` in one spelling (closure: the rule sees `fn` itself)."""
    forms = {
        "default": lambda x: fn(x),
        "positional": lambda x: fn(x, 6, 0),
        "keywords": lambda x: fn(x, n=5, axis=-2, norm="ortho"),
        "by_keyword": lambda x: fn(a=x, axis=1, norm="forward"),
    }
    return forms[form]


@pytest.mark.parametrize("fn", ONE_D, ids=lambda f: f.__name__)
@pytest.mark.parametrize("form", ["default", "positional", "keywords", "by_keyword"])
def test_one_d_transforms_along_per_example_axes(fn, form, rng):
    dtype = "complex128" if fn not in REAL_IN and form == "keywords" else "float64"
    _placements(_one_d(fn, form), [_data(rng, (4, 6), dtype)])


@pytest.mark.parametrize("fn", [F.fft, F.rfft, F.irfft, F.ihfft, F.fftn, F.irfft2], ids=lambda f: f.__name__)
@pytest.mark.parametrize("dtype", ["float32", "int64", "complex64", "bool"])
def test_result_dtypes_follow_numpy(fn, dtype, rng):
    # float32 -> complex64 (single precision kept), ints and bools -> complex128, irfft -> real
    x = _data(rng, (3, 4), "float64" if dtype == "bool" else dtype)
    x = x > 0 if dtype == "bool" else x
    if fn in REAL_IN and dtype == "complex64":
        _refused(lambda v: fn(v), 0, np.stack([x, x]))  # NumPy refuses: the loop raises its TypeError
        return
    _placements(lambda v: fn(v), [x], sizes=[0, 3])


def fft2_default(x):
    return F.fft2(x)


def ifft2_axes(x):
    return F.ifft2(x, axes=(0, -1))


def rfft2_s(x):
    return F.rfft2(x, s=(3, 6), axes=(-1, 0))


def irfft2_axes_none(x):
    return F.irfft2(x, None, None)  # explicit axes=None: every axis, not the 2-D default


def fftn_default(x):
    return F.fftn(x)


def ifftn_one_axis(x):
    return F.ifftn(x, axes=[1], norm="ortho")


def rfftn_s_axes(x):
    return F.rfftn(x, (2, 5), (2, 0))


def irfftn_repeated(x):
    return F.irfftn(a=x, s=[-1, 4], axes=(0, 0))


def fftn_s_only(x):
    return F.fftn(x, s=(3, 4))  # deprecated: the last len(s) axes


def ifft2_s_whole(x):
    return F.ifft2(x, s=(-1, 2))


N_D_FORMS = [
    fft2_default,
    ifft2_axes,
    rfft2_s,
    irfft2_axes_none,
    fftn_default,
    ifftn_one_axis,
    rfftn_s_axes,
    irfftn_repeated,
    fftn_s_only,
    ifft2_s_whole,
]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("f", N_D_FORMS, ids=lambda f: f.__name__)
def test_n_d_transforms_over_per_example_axes(f, rng):
    dtype = "float64" if f.__name__.startswith("rfft") else "complex128"
    _placements(f, [_data(rng, (3, 4, 5), dtype)], sizes=[0, 1, 7])


def fftshift_default(x):
    return F.fftshift(x)


def ifftshift_default(x):
    return F.ifftshift(x)


def fftshift_axis(x):
    return F.fftshift(x, 0)


def ifftshift_axes(x):
    return F.ifftshift(x, axes=[-1, 0])


def fftshift_keyword(x):
    return F.fftshift(x=x, axes=(-2,))


@pytest.mark.parametrize(
    "f",
    [fftshift_default, ifftshift_default, fftshift_axis, ifftshift_axes, fftshift_keyword],
    ids=lambda f: f.__name__,
)
@pytest.mark.parametrize("dtype", ["float64", "int64"])
def test_shifts_roll_per_example_axes(f, dtype, rng):
    _placements(f, [_data(rng, (3, 4), dtype)], sizes=[0, 1, 7])


# --------------------------------------------------------------------------- what runs as the loop


def fft_axis_batch(x):
    return F.fft(x, axis=-2)  # out of a vector's rank: as a batch axis it would be the batch


def fftn_axes_batch(x):
    return F.fftn(x, axes=(0, -2))


def fftshift_axes_batch(x):
    return F.fftshift(x, axes=-2)


def fft_of_scalar(x):
    return F.fft(x[0])


def fftn_of_scalar(x):
    return F.fftn(x[0])  # NumPy returns the scalar itself


def fftn_no_axes(x):
    return F.fftn(x, axes=())  # NumPy returns its very operand


def fft2_of_vector(x):
    return F.fft2(x)  # the default axes (-2, -1): a vector has one


def fftn_s_longer_than_rank(x):
    return F.fftn(x, s=(2, 2))  # deprecated form: the last len(s) axes, more than a vector has


def fftn_axes_integer(x):
    return F.fftn(x, axes=0)  # NumPy takes a sequence only


def fftshift_of_scalar(x):
    return F.fftshift(x[0])


@pytest.mark.parametrize(
    "f",
    [fft_axis_batch, fftn_axes_batch, fftshift_axes_batch, fft_of_scalar, fftn_of_scalar]
    + [fftn_no_axes, fftshift_of_scalar, fft2_of_vector, fftn_s_longer_than_rank, fftn_axes_integer],
    ids=lambda f: f.__name__,
)
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_what_numpy_refuses_runs_as_the_loop(f, rng):
    x = rng.normal(size=(7, 4))
    _refused(f, 0, x)


def _refused(f, in_axes, *args):
    """The rule refuses the call (an error with fallback="error"), and the loop it runs as is the
    per-example loop, raising included."""
    with pytest.raises(astvmap.AstvmapError):
        astvmap.vmap(f, in_axes, fallback="error")(*args)
    assert_vmap_equivalent(f, in_axes, 0, *args, allow_fallback=True)


def fft_n_by_example(x, n):
    return F.fft(x, n)


def fftshift_axes_at_run_time(x, axes):
    return F.fftshift(x, axes)


def test_options_that_differ_between_examples_run_as_the_loop(rng):
    x = rng.normal(size=(5, 4))
    _refused(fft_n_by_example, (0, 0), x, np.full(5, 6))
    _refused(fftshift_axes_at_run_time, (0, None), x, (0,))


def fft_axis_at_run_time(x, k):
    return F.rfft(x, axis=k)


@pytest.mark.parametrize("k", [0, 1, -1, -2, -3, 2, 1.0])
def test_an_axis_known_at_run_time_is_checked_against_the_per_example_rank(k, rng):
    # out of range (or not an integer) the loop raises, and so must the batched call
    x = rng.normal(size=(4, 3, 5))
    assert_vmap_equivalent(fft_axis_at_run_time, (0, None), 0, x, k, fallback="error")


# --------------------------------------------------------------------------- nested vmap


def _nested(f, x):
    """vmap(vmap(f)) over the first two axes against the two loops."""
    vv = astvmap.vmap(astvmap.vmap(f, fallback="error"), fallback="error")
    got = vv(x)
    want = np.stack([np.stack([f(e) for e in row]) for row in x])
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize(
    "f",
    [
        _one_d(F.fft, "keywords"),
        _one_d(F.ihfft, "positional"),
        _one_d(F.hfft, "default"),
        fft2_default,
        irfft2_axes_none,
        rfftn_s_axes,
        ifftn_one_axis,
        ifftshift_axes,
        fftshift_default,
    ],
)
def test_nested_vmap(f, rng):
    _nested(f, rng.normal(size=(3, 4, 6, 7, 5)))


def test_nested_vmap_with_an_axis_known_at_run_time(rng):
    x = rng.normal(size=(2, 3, 4, 6))
    vv = astvmap.vmap(astvmap.vmap(fft_axis_at_run_time, (0, None)), (0, None), fallback="error")
    for k in (0, -1):
        want = np.stack([np.stack([fft_axis_at_run_time(e, k) for e in row]) for row in x])
        np.testing.assert_allclose(vv(x, k), want)
    with pytest.raises(np.exceptions.AxisError):
        vv(x, -3)


# --------------------------------------------------------------------------- facts


def _fft_case(r):
    """A random unbatched np.fft call (tests/test_rule_contract.py `CASES["fft"]` draws the same)."""
    fn = r.choice([F.fft, F.ifft, F.rfft, F.irfft, F.hfft, F.ihfft, F.fftshift, F.ifftshift] + N_D)
    a = _array(r, dtypes=DTYPES + ["float32", "complex64"])
    nd, kwargs = a.ndim, {}
    if fn in (F.fftshift, F.ifftshift):
        kwargs = r.choice([{}, {"axes": None}, {"axes": -1}, {"axes": (0,)}, {"axes": ()}])
    elif fn.__name__.endswith(("2", "n")):
        kwargs = r.choice([{}, {"axes": None}, {"axes": ()}, {"axes": (-1,)}, {"axes": (0, -1)}])
        kwargs |= r.choice([{}, {"s": (2,) * len(kwargs.get("axes") or (0,) * min(nd, 2))}])
    else:
        kwargs = r.choice([{}, {"n": 4}, {"axis": 0}, {"n": 3, "axis": -1, "norm": "ortho"}])
    return fn, [a], kwargs


def test_facts_state_what_numpy_computes():
    # the rank, and the dtype kind: complex, real for irfft/hfft, the operand's for fftshift and for
    # fftn over no axes (NumPy returns its operand)
    r = random.Random("fft")
    checked = 0
    for _ in range(300):
        fn, args, kwargs = _fft_case(r)
        facts = _infer(fn, args, kwargs)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                result = fn(*args, **kwargs)
        except (TypeError, ValueError, IndexError):
            continue  # NumPy refuses these operands: any facts will do
        _check(facts, result, f"{fn.__name__}{np.shape(args[0])} {args[0].dtype} {kwargs}")
        checked += facts.ndim is not None and facts.dtype is not None
    assert checked > 100
