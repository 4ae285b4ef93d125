"""in_axes / out_axes semantics, call forms, metadata and error messages of ``astvmap.vmap``.

Semantics are jax.vmap's (see DESIGN.md "The promise"): expected values are written out by hand or come
from the per-example loop of ``oracle``.
"""

import os
import warnings
from functools import partial

import numpy as np
import pytest
from oracle import assert_vmap_equivalent, loop_vmap

import astvmap
from astvmap import vmap

ERRORS = (astvmap.AstvmapError, ValueError)


def _msg(excinfo):
    e = excinfo.value
    return str(e.args[0]) if e.args else str(e)


def _fresh(result, *inputs):
    assert isinstance(result, np.ndarray)
    assert result.flags.writeable
    for x in inputs:
        assert not np.shares_memory(result, x)


# --------------------------------------------------------------------------- module-level functions


def add(x, y):
    return x + y


def scale_rows(m, v):
    return m * v


def affine(params, x):
    w, b = params
    return w @ x + b


def dict_affine(d, x):
    return d["w"] @ x + d["b"]


def two_outputs(x, y):
    return x * y, x.sum() + y.sum()


def dict_outputs(x):
    return {"u": x * 2.0, "v": x.sum(), "w": (x[0], x[:2])}


def with_default(x, y=2.0):
    return x * y


def with_kwonly(x, *, scale=2.0):
    return x * scale


def identity(x):
    return x


def documented(x):
    """Doubles x."""
    return 2 * x


# --------------------------------------------------------------------------- in_axes: ints, None, negative


def test_in_axes_int_default(rng):
    X, Y = rng.normal(size=(5, 4)), rng.normal(size=(5, 4))
    np.testing.assert_allclose(vmap(add)(X, Y), X + Y)
    assert_vmap_equivalent(add, 0, 0, X, Y)


def test_in_axes_int_1(rng):
    X, Y = rng.normal(size=(4, 5)), rng.normal(size=(4, 5))
    out = vmap(add, in_axes=1)(X, Y)
    assert out.shape == (5, 4)
    np.testing.assert_allclose(out, (X + Y).T)
    assert_vmap_equivalent(add, 1, 0, X, Y)


def test_in_axes_negative(rng):
    X, Y = rng.normal(size=(3, 4, 5)), rng.normal(size=(4, 5))
    out = vmap(add, in_axes=(-1, -1))(X, Y)
    assert out.shape == (5, 3, 4)
    np.testing.assert_allclose(out, np.moveaxis(X + Y[None], -1, 0))
    assert_vmap_equivalent(add, (-1, -2), 0, X, rng.normal(size=(5, 4)))
    assert_vmap_equivalent(add, (-3, None), 0, X, rng.normal(size=(5,)))


def test_in_axes_none_entry(rng):
    X, y = rng.normal(size=(6, 4)), rng.normal(size=4)
    out = vmap(add, in_axes=(0, None))(X, y)
    np.testing.assert_allclose(out, X + y)
    assert_vmap_equivalent(add, (0, None), 0, X, y)
    assert_vmap_equivalent(add, (None, 1), 0, y, X.T.copy())


def test_in_axes_list_same_as_tuple(rng):
    X, y = rng.normal(size=(6, 4)), rng.normal(size=4)
    np.testing.assert_allclose(vmap(add, in_axes=[0, None])(X, y), vmap(add, in_axes=(0, None))(X, y))


def test_mixed_rank_batch_equal_to_length(rng):
    # batched per-example scalar meets an unbatched (n,) vector; B == n must not silently mis-broadcast
    s, y = rng.normal(size=4), rng.normal(size=4)
    out = vmap(add, in_axes=(0, None))(s, y)
    np.testing.assert_allclose(out, s[:, None] + y)
    assert out.shape == (4, 4)


def test_positional_only_vmap_signature(rng):
    X = rng.normal(size=(3, 2))
    np.testing.assert_allclose(vmap(identity, 0, 0)(X), X)


# --------------------------------------------------------------------------- nested trees


def test_in_axes_nested_tuple_param(rng):
    w, b = rng.normal(size=(3, 4)), rng.normal(size=(5, 3))  # b batched, w shared
    X = rng.normal(size=(5, 4))
    out = vmap(affine, in_axes=((None, 0), 0))((w, b), X)
    np.testing.assert_allclose(out, X @ w.T + b)
    assert_vmap_equivalent(affine, ((None, 0), 0), 0, (w, b), X)
    assert_vmap_equivalent(affine, ((None, 1), None), 0, (w, b.T.copy()), X[0])
    assert_vmap_equivalent(affine, (0, 0), 0, (rng.normal(size=(5, 3, 4)), b), X)  # int prefix over a tuple
    assert_vmap_equivalent(affine, ((2, -1), 0), 0, (rng.normal(size=(3, 4, 5)), b.T.copy()), X)


def test_in_axes_nested_list_param(rng):
    w, b = rng.normal(size=(3, 4)), rng.normal(size=(5, 3))
    X = rng.normal(size=(5, 4))
    assert_vmap_equivalent(affine, ([None, 0], 0), 0, [w, b], X)


def test_in_axes_nested_dict_param(rng):
    d = {"w": rng.normal(size=(3, 4)), "b": rng.normal(size=(3, 6))}
    X = rng.normal(size=(4, 6))
    out = vmap(dict_affine, in_axes=({"w": None, "b": 1}, 1))(d, X)
    np.testing.assert_allclose(out, (d["w"] @ X + d["b"]).T)
    assert_vmap_equivalent(dict_affine, ({"w": None, "b": 1}, 1), 0, d, X)
    assert_vmap_equivalent(dict_affine, ({"b": -1, "w": None}, -1), 0, d, X)


def test_dict_param_with_int_prefix(rng):
    d = {"w": rng.normal(size=(7, 3, 4)), "b": rng.normal(size=(7, 3))}
    X = rng.normal(size=(7, 4))
    assert_vmap_equivalent(dict_affine, 0, 0, d, X)
    assert_vmap_equivalent(dict_affine, (0, None), 0, d, X[0])


# --------------------------------------------------------------------------- by name, keywords, partial


def test_in_axes_top_level_dict_by_name(rng):
    X, y = rng.normal(size=(6, 4)), rng.normal(size=4)
    out = vmap(add, in_axes={"x": 0, "y": None})(X, y)
    np.testing.assert_allclose(out, X + y)
    out = vmap(add, in_axes={"y": 1, "x": None})(y, X.T.copy())
    np.testing.assert_allclose(out, X + y)
    out = vmap(add, in_axes={"y": 1})(y, X.T.copy())  # unnamed parameters unmapped
    np.testing.assert_allclose(out, X + y)


def test_keyword_argument_takes_its_parameter_entry(rng):
    X, y = rng.normal(size=(6, 4)), rng.normal(size=4)
    np.testing.assert_allclose(vmap(add, in_axes=(0, None))(X, y=y), X + y)
    np.testing.assert_allclose(vmap(add, in_axes=(None, 0))(y, y=X), X + y)
    np.testing.assert_allclose(vmap(add, in_axes=(None, 1))(y, y=X.T.copy()), X + y)
    np.testing.assert_allclose(vmap(add)(x=X, y=X), 2 * X)
    np.testing.assert_allclose(vmap(add, in_axes=(0, None))(x=X, y=y), X + y)
    np.testing.assert_allclose(vmap(add, in_axes={"x": 0, "y": None})(y=y, x=X), X + y)
    assert_vmap_equivalent(add, (0, None), 0, X, call_kwargs={"y": y})


def test_parameters_beyond_tuple_take_their_defaults(rng):
    X = rng.normal(size=(3, 4))
    np.testing.assert_allclose(vmap(with_default, in_axes=(0,))(X), X * 2.0)
    y = rng.normal(size=4)  # passed for a parameter with no entry: an error, as in jax (not unmapped)
    for call in (lambda f: f(X, y), lambda f: f(X, y=y)):
        with pytest.raises(astvmap.AstvmapError, match="in_axes has 1 entries"):
            call(vmap(with_default, in_axes=(0,)))


def test_keyword_only_parameters_are_unmapped(rng):
    X = rng.normal(size=(3, 4))
    scale = np.arange(4.0)
    np.testing.assert_allclose(vmap(with_kwonly)(X, scale=scale), X * scale)
    np.testing.assert_allclose(vmap(with_kwonly)(X), X * 2.0)


def test_partial_leaves_parameters_open(rng):
    X, y = rng.normal(size=(6, 4)), rng.normal(size=4)
    np.testing.assert_allclose(vmap(partial(add, y))(X), y + X)
    np.testing.assert_allclose(vmap(partial(add, y=y))(X), X + y)
    np.testing.assert_allclose(
        vmap(partial(scale_rows, rng.normal(size=(3, 4)) * 0 + 1.0))(X), np.ones((6, 3, 4)) * X[:, None, :]
    )
    p = partial(with_default, y=3.0)
    np.testing.assert_allclose(vmap(p)(X), 3.0 * X)
    assert_vmap_equivalent(partial(add, y), 0, 0, X)
    assert_vmap_equivalent(partial(add, y=y), 1, 0, X.T.copy())


def test_partial_of_partial(rng):
    X = rng.normal(size=(5, 4))
    f = partial(partial(affine), (rng.normal(size=(2, 4)), rng.normal(size=2)))
    assert_vmap_equivalent(f, 0, 0, X)


# --------------------------------------------------------------------------- out_axes


def test_out_axes_int_and_negative(rng):
    X = rng.normal(size=(5, 3, 4))
    f = lambda m: m * 2.0
    assert vmap(f, out_axes=1)(X).shape == (3, 5, 4)
    assert vmap(f, out_axes=2)(X).shape == (3, 4, 5)
    assert vmap(f, out_axes=-1)(X).shape == (3, 4, 5)
    assert vmap(f, out_axes=-2)(X).shape == (3, 5, 4)
    assert vmap(f, out_axes=-3)(X).shape == (5, 3, 4)
    np.testing.assert_allclose(vmap(f, out_axes=-1)(X), np.moveaxis(2.0 * X, 0, -1))
    for oa in (0, 1, 2, -1, -2, -3):
        assert_vmap_equivalent(f, 0, oa, X)


def test_out_axes_tuple_tree(rng):
    X, Y = rng.normal(size=(5, 4)), rng.normal(size=(5, 4))
    a, s = vmap(two_outputs, out_axes=(1, 0))(X, Y)
    np.testing.assert_allclose(a, (X * Y).T)
    np.testing.assert_allclose(s, X.sum(1) + Y.sum(1))
    assert_vmap_equivalent(two_outputs, 0, (1, 0), X, Y)
    assert_vmap_equivalent(two_outputs, 0, (-1, -1), X, Y)
    assert_vmap_equivalent(two_outputs, (0, None), (0, 0), X, Y[0])


def test_out_axes_none_for_unbatched_leaf(rng):
    X, y = rng.normal(size=(5, 4)), rng.normal(size=4)
    prod, total = vmap(lambda x, y: (x * y, y.sum()), in_axes=(0, None), out_axes=(0, None))(X, y)
    np.testing.assert_allclose(prod, X * y)
    np.testing.assert_allclose(total, y.sum())
    assert np.ndim(total) == 0


def test_out_axes_dict_tree(rng):
    X = rng.normal(size=(5, 4))
    out = vmap(dict_outputs, out_axes={"u": 1, "v": 0, "w": (0, -1)})(X)
    assert set(out) == {"u", "v", "w"}
    np.testing.assert_allclose(out["u"], (2 * X).T)
    np.testing.assert_allclose(out["v"], X.sum(1))
    assert isinstance(out["w"], tuple)
    np.testing.assert_allclose(out["w"][0], X[:, 0])
    np.testing.assert_allclose(out["w"][1], X[:, :2].T)
    assert_vmap_equivalent(dict_outputs, 0, {"u": 1, "v": 0, "w": (0, -1)}, X)
    assert_vmap_equivalent(dict_outputs, 1, -1, X.T.copy())


def test_list_output_stays_list(rng):
    X = rng.normal(size=(5, 4))
    out = vmap(lambda x: [x[0], x * 2])(X)
    assert isinstance(out, list) and len(out) == 2
    assert_vmap_equivalent(lambda x: [x[0], x * 2], 0, 0, X)


# --------------------------------------------------------------------------- freshness, broadcast


def test_unbatched_output_is_broadcast_fresh_and_writeable(rng):
    X, w = rng.normal(size=(5, 4)), rng.normal(size=3)
    out = vmap(lambda x, w: w * 2.0, in_axes=(0, None))(X, w)
    assert out.shape == (5, 3)
    np.testing.assert_allclose(out, np.broadcast_to(2 * w, (5, 3)))
    _fresh(out, X, w)
    out[0, 0] = 123.0
    assert out[1, 0] != 123.0, "unbatched output must be a real copy per example, not a broadcast view"


def test_unbatched_output_returning_an_input_is_copied(rng):
    X, w = rng.normal(size=(5, 4)), rng.normal(size=3)
    out = vmap(lambda x, w: w, in_axes=(0, None))(X, w)
    np.testing.assert_allclose(out, np.broadcast_to(w, (5, 3)))
    _fresh(out, X, w)
    w_before = w.copy()
    out[2] = 0.0
    np.testing.assert_array_equal(w, w_before)
    np.testing.assert_allclose(out[1], w)


def test_constant_output_broadcast(rng):
    X = rng.normal(size=(5, 4))
    out = vmap(lambda x: 1.0)(X)
    assert isinstance(out, np.ndarray) and out.shape == (5,) and out.dtype == np.float64
    np.testing.assert_array_equal(out, np.ones(5))
    out2 = vmap(lambda x: 7, out_axes=0)(X)
    assert out2.shape == (5,) and out2.dtype.kind == "i"
    _fresh(out, X)
    out3 = vmap(lambda x: np.arange(3), out_axes=1)(X)
    np.testing.assert_array_equal(out3, np.repeat(np.arange(3)[:, None], 5, axis=1))
    _fresh(out3, X)


@pytest.mark.parametrize("in_axis", [0, 1, -1])
def test_return_input_is_fresh(rng, in_axis):
    X = rng.normal(size=(4, 5))
    before = X.copy()
    out = vmap(identity, in_axes=in_axis)(X)
    np.testing.assert_array_equal(out, np.moveaxis(before, in_axis, 0))
    _fresh(out, X)
    out[...] = -1.0
    np.testing.assert_array_equal(X, before)


def test_return_input_fresh_with_out_axes(rng):
    X = rng.normal(size=(4, 5))
    before = X.copy()
    out = vmap(identity, in_axes=0, out_axes=0)(X)
    _fresh(out, X)
    out2 = vmap(identity, in_axes=1, out_axes=1)(X)
    np.testing.assert_array_equal(out2, X)
    _fresh(out2, X)
    out2[0, 0] = 99.0
    np.testing.assert_array_equal(X, before)


def test_tuple_of_inputs_fresh(rng):
    X, Y = rng.normal(size=(3, 2)), rng.normal(size=(3, 2))
    a, b = vmap(lambda x, y: (y, x))(X, Y)
    np.testing.assert_array_equal(a, Y)
    np.testing.assert_array_equal(b, X)
    _fresh(a, X, Y)
    _fresh(b, X, Y)


# --------------------------------------------------------------------------- axis_size, B == 0


def test_axis_size_when_nothing_mapped(rng):
    w = rng.normal(size=(2, 3))
    out = vmap(lambda w: w * 2.0, in_axes=None, axis_size=4)(w)
    assert out.shape == (4, 2, 3)
    np.testing.assert_allclose(out, np.broadcast_to(2 * w, (4, 2, 3)))
    _fresh(out, w)
    out = vmap(lambda w: w.sum(), in_axes=None, axis_size=3, out_axes=-1)(w)
    np.testing.assert_allclose(out, np.full(3, w.sum()))
    assert_vmap_equivalent(lambda w: w * 2.0, None, 1, w, axis_size=4)
    assert_vmap_equivalent(lambda w: w * 2.0, None, 0, w, axis_size=0)


def test_axis_size_no_arguments():
    out = vmap(lambda: np.ones(2), axis_size=3)()
    assert out.shape == (3, 2)
    _fresh(out)


def test_axis_size_agrees_with_mapped(rng):
    X = rng.normal(size=(3, 2))
    np.testing.assert_allclose(vmap(identity, axis_size=3)(X), X)


def test_nothing_mapped_without_axis_size_is_an_error(rng):
    w = rng.normal(size=(2, 3))
    with pytest.raises(ERRORS) as ei:
        vmap(lambda w: w * 2.0, in_axes=None)(w)
    assert _msg(ei).startswith("vmap(")
    assert "axis_size" in _msg(ei)
    with pytest.raises(ERRORS):
        vmap(lambda: np.ones(2))()


@pytest.mark.parametrize("in_axis", [0, 1, -1])
def test_batch_size_zero(rng, in_axis):
    shape = [4, 3]
    shape.insert(in_axis if in_axis >= 0 else len(shape) + 1 + in_axis, 0)
    X = np.zeros(shape)
    y = rng.normal(size=(4, 3))
    out = vmap(add, in_axes=(in_axis, None))(X, y)
    assert out.shape == (0, 4, 3) and out.dtype == np.float64
    out = vmap(lambda x: x.sum(axis=-1), in_axes=in_axis)(X)
    assert out.shape == (0, 4)
    out = vmap(lambda x: (x @ x.T, x[0, 0]), in_axes=in_axis, out_axes=(2, 0))(X)
    assert out[0].shape == (4, 4, 0) and out[1].shape == (0,)


def test_batch_size_zero_int_and_bool(rng):
    ints = np.zeros((0, 3), dtype=np.int32)
    out = vmap(lambda i: i * 2)(ints)
    assert out.shape == (0, 3) and out.dtype == np.int32
    out = vmap(lambda i: i > 0)(ints)
    assert out.shape == (0, 3) and out.dtype == np.bool_
    out = vmap(lambda i: np.sum(i))(ints)
    assert out.shape == (0,) and out.dtype == np.sum(np.zeros(3, np.int32)).dtype


# --------------------------------------------------------------------------- call forms, metadata


def test_decorator_forms(rng):
    X, y = rng.normal(size=(5, 4)), rng.normal(size=4)

    @vmap
    def double(x):
        return 2.0 * x

    @vmap(in_axes=(0, None))
    def plus(x, y):
        return x + y

    @vmap(in_axes=1, out_axes=1)
    def triple(x):
        return 3.0 * x

    np.testing.assert_allclose(double(X), 2 * X)
    np.testing.assert_allclose(plus(X, y), X + y)
    np.testing.assert_allclose(triple(X), 3 * X)
    np.testing.assert_allclose(vmap(add, (0, None), 0)(X, y), X + y)
    np.testing.assert_allclose(vmap(add, in_axes=(0, None), out_axes=1)(X, y), (X + y).T)


def test_functools_metadata(rng):
    vf = vmap(documented)
    assert vf.__wrapped__ is documented
    assert vf.__name__ == "documented"
    assert vf.__doc__ == "Doubles x."
    np.testing.assert_allclose(vf(np.arange(3.0)), 2 * np.arange(3.0))

    @vmap
    def decorated(x):
        """Docs."""
        return x

    assert decorated.__name__ == "decorated"
    assert decorated.__doc__ == "Docs."
    assert callable(decorated.__wrapped__)


def test_source_is_generated_code(rng):
    vf = vmap(add, in_axes=(0, None))
    vf(rng.normal(size=(3, 4)), rng.normal(size=4))
    assert isinstance(vf.source, str)
    assert "def" in vf.source


def test_nested_vmap_call(rng):
    X, Y = rng.normal(size=(3, 4)), rng.normal(size=(5, 4))
    f = vmap(vmap(lambda x, y: np.dot(x, y), in_axes=(None, 0)), in_axes=(0, None))
    np.testing.assert_allclose(f(X, Y), X @ Y.T)


def test_performance_warning_is_user_warning():
    assert issubclass(astvmap.PerformanceWarning, UserWarning)
    assert issubclass(astvmap.AstvmapError, SyntaxError)


def test_repeated_calls_with_different_shapes(rng):
    vf = vmap(lambda x: x.sum() * x)
    for shape in [(3, 4), (4, 3), (0, 2), (4, 4), (2, 2, 2)]:
        X = rng.normal(size=shape)
        np.testing.assert_allclose(vf(X), loop_vmap(lambda x: x.sum() * x, 0, 0, (X,)))
    vi = vmap(lambda x: x * 2)
    assert vi(np.arange(6).reshape(2, 3)).dtype.kind == "i"
    assert vi(np.ones((2, 3))).dtype.kind == "f"
    assert vi(np.ones((2, 3), dtype=np.complex128)).dtype.kind == "c"


# --------------------------------------------------------------------------- errors


def test_error_inconsistent_batch_sizes(rng):
    with pytest.raises(ERRORS) as ei:
        vmap(add)(rng.normal(size=(3, 4)), rng.normal(size=(5, 4)))
    msg = _msg(ei)
    assert msg.startswith("vmap(")
    assert "x" in msg and "y" in msg
    assert "3" in msg and "5" in msg


def test_error_inconsistent_batch_sizes_named(rng):
    def f(alpha, beta):
        return alpha * beta

    with pytest.raises(ERRORS) as ei:
        vmap(f, in_axes=(0, 1))(rng.normal(size=(3, 2)), rng.normal(size=(2, 4)))
    msg = _msg(ei)
    assert msg.startswith("vmap(")
    assert "alpha" in msg and "beta" in msg


def convolve(x, w):
    output = []
    for i in range(1, len(x) - 1):
        output.append(np.dot(x[i - 1 : i + 2], w))
    return np.array(output)


def test_error_axis_out_of_range(rng):
    with pytest.raises(ERRORS) as ei:
        vmap(convolve, in_axes=(0, 1))(rng.normal(size=(3, 5)), rng.normal(size=3))
    msg = _msg(ei)
    assert msg.startswith("vmap(")
    assert "w" in msg


def test_error_axis_out_of_range_negative(rng):
    def f(vec):
        return vec * 2

    with pytest.raises(ERRORS) as ei:
        vmap(f, in_axes=-3)(rng.normal(size=(3, 5)))
    msg = _msg(ei)
    assert msg.startswith("vmap(")
    assert "vec" in msg


def test_error_in_axes_structure_mismatch(rng):
    w, b = rng.normal(size=(3, 4)), rng.normal(size=(5, 3))
    X = rng.normal(size=(5, 4))
    with pytest.raises(ERRORS) as ei:
        vmap(affine, in_axes=((None, 0, 0), 0))((w, b), X)
    msg = _msg(ei)
    assert msg.startswith("vmap(")
    assert "params" in msg


def test_error_in_axes_dict_keys_mismatch(rng):
    d = {"w": rng.normal(size=(3, 4)), "b": rng.normal(size=(3, 6))}
    with pytest.raises(ERRORS) as ei:
        vmap(dict_affine, in_axes=({"w": None, "bias": 1}, 1))(d, rng.normal(size=(4, 6)))
    msg = _msg(ei)
    assert msg.startswith("vmap(")
    assert "d" in msg


def test_error_in_axes_container_for_array(rng):
    with pytest.raises(ERRORS) as ei:
        vmap(add, in_axes=((0, 0), 0))(rng.normal(size=(3, 4)), rng.normal(size=(3, 4)))
    msg = _msg(ei)
    assert msg.startswith("vmap(")
    assert "x" in msg


def test_error_out_axes_none_with_batched_output(rng):
    with pytest.raises(ERRORS) as ei:
        vmap(lambda x: x * 2.0, out_axes=None)(rng.normal(size=(3, 4)))
    msg = _msg(ei)
    assert msg.startswith("vmap(")
    assert "out_axes" in msg


def test_error_out_axes_out_of_range(rng):
    with pytest.raises(ERRORS):
        vmap(lambda x: x * 2.0, out_axes=3)(rng.normal(size=(3, 4)))


def test_error_in_axes_on_scalar_argument():
    with pytest.raises(ERRORS) as ei:
        vmap(add, in_axes=(0, 0))(np.arange(3.0), 2.0)
    assert _msg(ei).startswith("vmap(")


def test_error_is_raised_not_warned(rng):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ERRORS):
            vmap(add)(rng.normal(size=(3, 4)), rng.normal(size=(5, 4)))


# --------------------------------------------------------------------------- fallback knob


def _opaque(v):
    # a pure-Python per-example function over array elements; may or may not have a rule
    return float(sum(float(e) for e in v))


def test_fallback_error_or_correct(rng):
    """With fallback="error" either the function is rewritten (correct, no warning) or AstvmapError."""
    X = rng.normal(size=(4, 3))
    try:
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            out = vmap(_opaque, fallback="error")(X)
    except astvmap.AstvmapError:
        return
    assert not [w for w in rec if issubclass(w.category, astvmap.PerformanceWarning)]
    np.testing.assert_allclose(out, X.sum(1))


def test_fallback_warn_is_still_correct(rng):
    X = rng.normal(size=(4, 3))
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        out = vmap(_opaque)(X)
    np.testing.assert_allclose(out, X.sum(1))
    assert_vmap_equivalent(_opaque, 0, 0, X, allow_fallback=True)


def lexsort_rows(A, y):
    return np.lexsort((y, A[:, 0]))


def test_fallback_warns_at_user_line_and_is_correct(rng):
    """np.lexsort has no batching rule: it runs as the loop, with a PerformanceWarning."""
    A, Y = rng.normal(size=(5, 4, 3)), rng.normal(size=(5, 4))
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        out = vmap(lexsort_rows)(A, Y)
    perf = [w for w in rec if issubclass(w.category, astvmap.PerformanceWarning)]
    assert perf, "a per-example fallback must warn"
    assert any(os.path.basename(w.filename) == os.path.basename(__file__) for w in perf), [
        w.filename for w in perf
    ]
    np.testing.assert_array_equal(out, np.stack([lexsort_rows(a, y) for a, y in zip(A, Y)]))
    assert_vmap_equivalent(lexsort_rows, 0, 0, A, Y, allow_fallback=True)
    assert_vmap_equivalent(lexsort_rows, (None, 1), 0, A[0], Y.T.copy(), allow_fallback=True)


def test_fallback_error_raises_astvmap_error(rng):
    A, Y = rng.normal(size=(5, 4, 3)), rng.normal(size=(5, 4))
    with pytest.raises(astvmap.AstvmapError) as ei:
        vmap(lexsort_rows, fallback="error")(A, Y)
    assert _msg(ei).startswith("vmap(")


# --------------------------------------------------------------------------- argument checks, as jax's


def add_default(x, y=1.0):
    return x + y


def test_argument_without_an_in_axes_entry_is_an_error(rng):
    X = rng.normal(size=(4, 3))
    for call in (lambda f: f(X, X), lambda f: f(X, y=X)):
        with pytest.raises(astvmap.AstvmapError) as e:
            call(vmap(add, in_axes=(0,)))
        assert "`y`" in _msg(e) and "in_axes has 1 entries" in _msg(e)
    # a parameter left to its default needs no entry
    np.testing.assert_allclose(vmap(add_default, in_axes=(0,))(X), X + 1.0)
    np.testing.assert_allclose(vmap(add_default, in_axes=[0])(X), X + 1.0)


@pytest.mark.parametrize("bad", [2.5, -1, True, "3", np.float64(2.0)])
def test_axis_size_must_be_a_non_negative_int(bad):
    with pytest.raises(ValueError, match="axis_size must be an int"):
        vmap(add, in_axes=None, axis_size=bad)


@pytest.mark.parametrize("bad", [0, -2, True, False, 1.5, np.float32(4)])
def test_chunk_size_must_be_a_positive_int(bad):
    with pytest.raises(ValueError, match="chunk_size must be a positive int"):
        vmap(add, chunk_size=bad)


def test_numpy_integers_are_ints(rng):
    X = rng.normal(size=(4, 3))
    out = vmap(add, in_axes=(0, None), axis_size=np.int64(4), chunk_size=np.int32(3))(X, X[0])
    np.testing.assert_allclose(out, X + X[0])


@pytest.mark.parametrize("out_axes", [2, -3, 7])
def test_out_of_range_out_axes_names_the_axis_and_shape(rng, out_axes):
    X = rng.normal(size=(4, 3))
    for f in (vmap(add, out_axes=out_axes), vmap(add, in_axes=(None, None), axis_size=4, out_axes=out_axes)):
        with pytest.raises(astvmap.AstvmapError) as e:
            f(X, X) if f.in_axes == 0 else f(X[0], X[0])
        assert f"out_axes={out_axes} is out of range" in _msg(e) and "(3,)" in _msg(e)
