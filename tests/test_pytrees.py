"""Pytrees as arguments and results (NOTE [pytrees], astvmap/pytrees.py): namedtuples, dataclasses and
types given to `astvmap.register_pytree` are mapped leaf by leaf and rebuilt with their own type, as
`jax.vmap` does; `in_axes`/`out_axes` take a tree of their shape. Every case is compared with the loop
of `oracle` (which rebuilds each example's containers the same way), results by their exact type."""

import copy
import dataclasses
import warnings
from typing import NamedTuple

import numpy as np
import oracle
import pytest
from oracle import assert_vmap_equivalent

import astvmap

SIZES = (0, 1, 7)
DTYPES = ("float32", "float64", "int64")


class P(NamedTuple):
    w: np.ndarray
    b: np.ndarray


class Stats(NamedTuple):
    mean: np.ndarray
    total: np.ndarray
    scale: float = 2.0


@dataclasses.dataclass
class C:
    w: np.ndarray
    b: np.ndarray


@dataclasses.dataclass(frozen=True)
class Frozen:
    w: np.ndarray
    k: float = 3.0


@dataclasses.dataclass
class Derived:
    w: np.ndarray
    n: int = dataclasses.field(init=False, default=0)


class Pair:
    """A user container: its two arrays are children; `label` is aux (never mapped)."""

    def __init__(self, first, second, label="pair"):
        self.first, self.second, self.label = first, second, label


def _flatten_pair(p):
    return (p.first, p.second), p.label


def _unflatten_pair(label, children):
    return Pair(*children, label=label)


astvmap.register_pytree(Pair, _flatten_pair, _unflatten_pair)
oracle.register_pytree(Pair, _flatten_pair, _unflatten_pair)


def _data(rng, shape, dtype):
    if np.dtype(dtype).kind == "i":
        return rng.integers(-4, 5, size=shape).astype(dtype)
    return rng.normal(size=shape).astype(dtype)


def _at(a, axis):
    """The batch (axis 0) of `a` moved to `axis`."""
    return np.moveaxis(a, 0, axis)


def _strict(f, in_axes, out_axes, *args, **kwargs):
    """The oracle's comparison, with nothing run as a per-example loop."""
    assert_vmap_equivalent(f, in_axes, out_axes, *args, fallback="error", **kwargs)


# ---- namedtuples ---------------------------------------------------------------------------------------
def affine(p, x):
    return p.w @ x + p.b


def affine_unpacked(p, x):
    w, b = p
    return w @ x + p[1] + len(p)


@pytest.mark.parametrize("B", SIZES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axes", [(0, 0, 0), (2, 1, 1), (-1, -1, 0), (1, None, -1)])
def test_a_namedtuple_argument_maps_field_by_field(B, dtype, axes, rng):
    aw, ab, ax = axes
    w = _at(_data(rng, (B, 3, 4), dtype), aw)
    b = _data(rng, (3,), dtype) if ab is None else _at(_data(rng, (B, 3), dtype), ab)
    x = _at(_data(rng, (B, 4), dtype), ax)
    in_axes = (P(w=aw, b=ab), ax)
    _strict(affine, in_axes, 0, P(w, b), x)
    _strict(affine_unpacked, in_axes, 0, P(w, b), x)
    if ab is not None and aw == ab:  # (a single int entry for the whole namedtuple)
        _strict(affine, (aw, ax), 0, P(w, b), x)


def positional(x):
    return P(x * 2, x.sum())


def by_keyword(x):
    return P(b=x.sum(), w=x * 2)


def with_default(x):
    s = Stats(x.mean(axis=-1), total=x.sum())
    return s, s.mean * s.scale, s[1]


@pytest.mark.parametrize("B", SIZES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("f", [positional, by_keyword, with_default])
def test_a_namedtuple_result_comes_back_as_itself(B, dtype, f, rng):
    x = _data(rng, (B, 3, 2), dtype)
    _strict(f, 0, 0, x)
    out = astvmap.vmap(f)(x)
    record = out[0] if isinstance(out, tuple) and type(out) is tuple else out
    assert type(record) in (P, Stats)
    assert record._fields == type(record)._fields
    assert all(isinstance(v, np.ndarray) for v in record[:2])


@pytest.mark.parametrize("B", SIZES)
@pytest.mark.parametrize("out_axes", [P(w=1, b=0), P(w=-1, b=None), (0, None)])
def test_out_axes_per_field(B, out_axes, rng):
    def f(x):
        return P(x * 2, np.float64(1.5))

    x = _data(rng, (B, 3), "float64")
    _strict(f, 0, out_axes, x)
    assert type(astvmap.vmap(f, out_axes=out_axes)(x)) is P


def pick(x):
    if x.sum() > 0:
        p = P(x, x * 2)
    else:
        p = P(-x, x.sum() * np.ones(3))
    return p


def pick_expression(x):
    p = P(x, x.sum()) if x[0] > 0 else P(x * 3, x.max())
    return p.w + p.b


@pytest.mark.parametrize("B", SIZES)
@pytest.mark.parametrize("f", [pick, pick_expression])
def test_a_namedtuple_chosen_per_example_keeps_its_type(B, f, rng):
    _strict(f, 0, 0, _data(rng, (B, 3), "float64"))


# ---- dataclasses -------------------------------------------------------------------------------------
def dc_affine(c, x):
    return C(w=c.w @ x, b=c.b * 2)


def frozen_scale(f, x):
    return Frozen(f.w * x * f.k) if f.k > 1 else Frozen(f.w)


@pytest.mark.parametrize("B", SIZES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axes", [(0, 0, 0), (2, 0, 1), (-1, None, 0)])
def test_a_dataclass_argument_and_result_map_field_by_field(B, dtype, axes, rng):
    aw, ab, ax = axes
    w = _at(_data(rng, (B, 3, 4), dtype), aw)
    b = _data(rng, (3,), dtype) if ab is None else _at(_data(rng, (B, 3), dtype), ab)
    x = _at(_data(rng, (B, 4), dtype), ax)
    _strict(dc_affine, (C(w=aw, b=ab), ax), 0, C(w, b), x)
    _strict(dc_affine, (C(w=aw, b=ab), ax), C(w=-1, b=0), C(w, b), x)
    assert type(astvmap.vmap(dc_affine, (C(w=aw, b=ab), ax))(C(w, b), x)) is C


@pytest.mark.parametrize("B", SIZES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_a_frozen_dataclass_with_an_unmapped_field(B, dtype, rng):
    w, x = _data(rng, (B, 4), dtype), _data(rng, (B, 4), dtype)
    _strict(frozen_scale, (Frozen(w=0, k=None), 0), 0, Frozen(w, 2.0), x)
    _strict(frozen_scale, (Frozen(w=1, k=None), 0), Frozen(w=1, k=None), Frozen(_at(w, 1), 0.5), x)


def passthrough(c):
    return c


@pytest.mark.parametrize("B", SIZES)
def test_a_dataclass_returned_as_given_is_fresh(B, rng):
    c = C(_data(rng, (B, 2), "float64"), _data(rng, (B,), "int64"))
    _strict(passthrough, 0, 0, c)  # (the oracle checks no result shares memory with an input)


def test_an_unmapped_dataclass_is_read_statically(rng):
    c, x = C(np.ones((2, 3)), np.zeros(2)), _data(rng, (5, 3), "float64")
    _strict(lambda c, x: c.w @ x + c.b, (None, 0), 0, c, x)


# ---- nesting -------------------------------------------------------------------------------------------
def nested(p, x):
    inner = p.w["c"]
    return P(w={"c": C(w=inner.w * x, b=inner.b + p.b)}, b=p.b)


@pytest.mark.parametrize("B", SIZES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "axes",
    [0, (P(w={"c": C(w=1, b=0)}, b=0), 0), (P(w={"c": C(w=0, b=None)}, b=-1), 1)],
    ids=["int", "per-field", "unmapped-field"],
)
def test_a_namedtuple_holding_a_dict_holding_a_dataclass(B, dtype, axes, rng):
    entry, ax = axes if isinstance(axes, tuple) else (P(w={"c": C(w=0, b=0)}, b=0), 0)
    spec = entry.w["c"]
    cw = _at(_data(rng, (B, 3), dtype), spec.w)
    cb = _data(rng, (3,), dtype) if spec.b is None else _at(_data(rng, (B, 3), dtype), spec.b)
    pb = _at(_data(rng, (B, 3), dtype), entry.b)
    x = _at(_data(rng, (B, 3), dtype), ax)
    p = P(w={"c": C(cw, cb)}, b=pb)
    _strict(nested, axes, 0, p, x)
    out = astvmap.vmap(nested, axes)(p, x)
    assert type(out) is P and type(out.w) is dict and type(out.w["c"]) is C


# ---- registered types ----------------------------------------------------------------------------------
def pair_sum(p, x):
    return p.first * x + p.second


def swap(p):
    return Pair(p.second, p.first, label=p.label)


@pytest.mark.parametrize("B", SIZES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axes", [0, (1, 0)])
def test_a_registered_type_maps_its_children(B, dtype, axes, rng):
    a1, a2 = (axes, axes) if isinstance(axes, int) else axes
    first, second = _at(_data(rng, (B, 2, 3), dtype), a1), _at(_data(rng, (B, 2, 3), dtype), 0)
    x = _data(rng, (B, 2, 3), dtype)
    pair = Pair(first, second, label="p")
    _strict(pair_sum, (Pair(a1, a2), 0), 0, pair, x)
    # built in the code by the user's own constructor: the call runs per example, and the stacked
    # results are a Pair again (its aux, the label, the first example's)
    assert_vmap_equivalent(swap, (Pair(a1, a2),), Pair(1, 0), pair, allow_fallback=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", astvmap.PerformanceWarning)
        out = astvmap.vmap(swap, (Pair(a1, a2),))(pair)
    assert type(out) is Pair and out.label == "p"


# ---- nested vmaps ---------------------------------------------------------------------------------------
def field_sum(q):
    return q.w.sum() + q.b


def outer_of_records(r):
    return astvmap.vmap(field_sum)(r)


def outer_making_records(x):
    return astvmap.vmap(lambda y: P(y, y.sum()))(x)


FIELD_AXES = C(w=1, b=0)  # (a nested vmap's axes are static: a literal or a global)


def outer_making_dataclasses(x):
    return astvmap.vmap(lambda y: C(w=y * 2, b=y.max()), out_axes=FIELD_AXES)(x)


@pytest.mark.parametrize("B", SIZES)
@pytest.mark.parametrize("make", [P, C])
def test_nested_vmaps_take_and_give_records(B, make, rng):
    r = make(_data(rng, (B, 4, 2), "float64"), _data(rng, (B, 4), "float64"))
    # (first: with B=0 the oracle probes an example, which itself needs the nested vmap to work)
    assert astvmap.vmap(outer_of_records)(r).shape == (B, 4)
    made = astvmap.vmap(outer_making_dataclasses)(r.w)
    assert type(made) is C and made.w.shape == (B, 2, 4) and made.b.shape == (B, 4)
    _strict(outer_of_records, 0, 0, r)
    _strict(outer_making_records, 0, 0, r.w)
    _strict(outer_making_dataclasses, 0, 0, r.w)


# ---- the call layer: chunks, checks, the loop ------------------------------------------------------------
@pytest.mark.parametrize("B", SIZES)
def test_chunks_checks_and_the_loop_rebuild_records(B, rng):
    p, x = P(_data(rng, (B, 3, 2), "float64"), _data(rng, (B, 3), "float64")), _data(rng, (B, 2), "float64")

    def f(p, x):
        return C(w=p.w @ x, b=P(p.b, x))

    _strict(f, 0, 0, p, x, chunk_size=3)
    _strict(f, 0, 0, p, x, check=2)
    expected = oracle.loop_vmap(f, 0, 0, (p, x))
    with astvmap.disable():
        got = astvmap.vmap(f)(p, x)
    assert type(got) is C and type(got.b) is P
    np.testing.assert_allclose(got.w, expected.w)


# ---- what cannot work ----------------------------------------------------------------------------------
def test_a_dataclass_with_init_false_fields_is_a_clear_error():
    d = Derived(np.ones((4, 2)))
    with pytest.raises(
        astvmap.AstvmapError, match=r"in_axes maps `d`, but it is a Derived.*init=False \(n\)"
    ):
        astvmap.vmap(lambda d: d.w * 2)(d)
    with pytest.raises(astvmap.AstvmapError, match=r"result is a Derived.*init=False"):
        astvmap.vmap(lambda x: Derived(x))(np.ones((4, 2)))
    unmapped = astvmap.vmap(lambda d, x: d.w * x, (None, 0))(d, np.ones((4, 2)))  # (never rebuilt: fine)
    np.testing.assert_array_equal(unmapped, np.ones((4, 4, 2)))


@pytest.mark.parametrize(
    "in_axes, match",
    [
        ((C(0, 0), 0), r"in_axes entry C\(.*for `p` is a C.*must be a C .*got a P of length 2"),
        (((0, 0, 0), 0), r"for `p`.*tuple/list of that length \(3\); got a P of length 2"),
        ((0, C(0, 0)), r"for `x` is a C .*must be a C .*got an array of shape"),
    ],
)
def test_in_axes_of_another_structure_is_a_clear_error(in_axes, match):
    p, x = P(np.ones((3, 2, 2)), np.ones((3, 2))), np.ones((3, 2))
    with pytest.raises(astvmap.AstvmapError, match=match):
        astvmap.vmap(affine, in_axes)(p, x)


def test_out_axes_of_another_structure_is_a_clear_error():
    with pytest.raises(astvmap.AstvmapError, match=r"out_axes=C\(.*output is a P of 2 values.*must be a C"):
        astvmap.vmap(positional, out_axes=C(0, 0))(np.ones((3, 2)))
    with pytest.raises(astvmap.AstvmapError, match=r"in_axes must be an int, None, a tuple or list"):
        astvmap.vmap(affine, C(0, 0))(P(np.ones((3, 2, 2)), np.ones((3, 2))), np.ones((3, 2)))


def copied(c, x):
    d = copy.copy(c)  # (a call with no batched form: it runs per example, given the whole record)
    return d.w * x + d.b.sum()


def test_a_record_passed_whole_to_a_loop_is_never_sliced_by_guess(rng):
    # `c.b` is unmapped but has as many rows as the batch: slicing it too would be silently wrong
    B = 3
    c, x = C(_data(rng, (B, 2), "float64"), _data(rng, (B, 2), "float64")), _data(rng, (B, 2), "float64")
    expected = oracle.loop_vmap(copied, (C(0, None), 0), 0, (c, x))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", astvmap.PerformanceWarning)
            got = astvmap.vmap(copied, (C(0, None), 0))(c, x)
    except astvmap.AstvmapError as e:
        assert "passed whole to a per-example loop" in str(e)
    else:
        np.testing.assert_allclose(got, expected)


def test_register_pytree_checks_its_arguments():
    with pytest.raises(TypeError, match="expected a class"):
        astvmap.register_pytree(Pair(1, 2), _flatten_pair, _unflatten_pair)
    with pytest.raises(ValueError, match="built-in container"):
        astvmap.register_pytree(tuple, _flatten_pair, _unflatten_pair)
    with pytest.raises(TypeError, match="callables"):
        astvmap.register_pytree(Derived, None, _unflatten_pair)
