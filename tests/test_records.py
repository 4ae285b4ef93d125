"""Methods and records: values read from unmapped objects (`self.w`, a namedtuple's or a dataclass's
fields, `cfg["w"]`) are static for the call, so the code around them batches; each read is a dependency
of the specialization, so a new value with other facts makes a new one."""

import dataclasses
import warnings
from typing import NamedTuple

import numpy as np
import pytest
from library_corpus import Linear  # (a model with `__call__` and a method calling it)
from oracle import assert_vmap_equivalent

import astvmap

RNG = np.random.default_rng(11)


class Params(NamedTuple):
    w: np.ndarray
    b: float


@dataclasses.dataclass
class Config:
    scale: float
    w: np.ndarray


def _strict(f, *args, in_axes=0):
    with warnings.catch_warnings():
        warnings.simplefilter("error", astvmap.PerformanceWarning)
        assert_vmap_equivalent(f, in_axes, 0, *args, fallback="error")


@pytest.mark.parametrize("B", [0, 1, 7])
def test_callable_object_and_its_methods_batch(B):
    model = Linear(RNG.normal(size=(3, 4)), RNG.normal(size=3))
    x, y = RNG.normal(size=(B, 4)), RNG.normal(size=(B, 3))
    _strict(lambda x: model(x), x)
    _strict(lambda x, y: model.loss(x, y), x, y)
    _strict(lambda m, x: m(x), model, x, in_axes=(None, 0))
    _strict(lambda m, x, y: m.loss(x, y), model, x, y, in_axes=(None, 0, 0))


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
def test_record_fields_batch(dtype):
    p = Params(RNG.normal(size=(3, 4)).astype(dtype), 2)
    cfg = Config(0.5, RNG.normal(size=4).astype(dtype))
    d = {"w": RNG.normal(size=4).astype(dtype), "k": 3}
    x = (RNG.normal(size=(6, 4)) * 3).astype(dtype)
    _strict(lambda x: p.w @ x + p.b, x)
    _strict(lambda x: cfg.scale * np.dot(cfg.w, x), x)
    _strict(lambda x: np.sum(d["w"] * x) ** d["k"], x)


def test_a_new_attribute_value_makes_a_new_specialization():
    model = Linear(RNG.normal(size=4), 0.0)
    f = astvmap.vmap(lambda x: model(x))
    x = RNG.normal(size=(5, 4))
    np.testing.assert_allclose(f(x), [model(e) for e in x])
    model.w, model.b = RNG.normal(size=(2, 4)), np.zeros(2)  # another rank: another rewrite
    np.testing.assert_allclose(f(x), [model(e) for e in x])


def _reads_attribute(x):
    return np.sum(HOLDER.w * x, axis=-1)


def _reads_global(x):
    return np.sum(W * x, axis=-1)


def _first(x):
    return _reads_attribute(x) + _reads_global(x)


def _second(x):
    return _reads_attribute(x) * _reads_global(x)


class _Holder:
    w = np.ones(4)


HOLDER, W = _Holder(), np.ones(4)


def test_a_cached_callee_passes_what_it_read_to_a_new_caller():
    # `_second` finds the callees' specializations `_first` made: what they read (an attribute, a
    # global) must be checked for `_second` too, or a new rank runs the old code
    global W
    x = RNG.normal(size=(5, 4))
    astvmap.vmap(_first)(x)
    second = astvmap.vmap(_second)
    second(x)
    HOLDER.w, W = RNG.normal(size=(3, 4)), RNG.normal(size=(3, 4))
    try:
        np.testing.assert_allclose(second(x), [_second(e) for e in x])
    finally:
        HOLDER.w, W = np.ones(4), np.ones(4)
