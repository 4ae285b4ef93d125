"""Objects of plain classes made in the function (NOTE [objects], transform/objects.py): made as Python
makes them, with `__init__` rewritten and its attribute stores followed; methods, properties and class
attributes read from the class. Each case is compared with the loop (tests/oracle.py)."""

import os

import fuzzgen
import numpy as np
import objects_review
import objgen
import pytest
from oracle import assert_generated_program, assert_vmap_equivalent

import astvmap

N_SEEDS = int(os.environ.get("ASTVMAP_OBJGEN_SEEDS", "40"))


def run_program(seed, tmp_path) -> None:
    src = objgen.generate(seed)
    f = fuzzgen.load(src, "f", os.path.join(str(tmp_path), f"objects_{seed}.py"))
    r = np.random.default_rng(seed)
    for B in (5, 1):
        args = (r.normal(size=(B, 5)), r.normal(size=5), r.normal(size=B))
        assert_generated_program(f, (0, None, 0), args, f"objgen seed {seed}, B={B}\n{src}")


@pytest.mark.parametrize("seed", range(N_SEEDS))
def test_generated_programs(seed, tmp_path):
    run_program(seed, tmp_path)


class Gauss:
    scale = 2.0

    def __init__(self, mu, sigma=1.0):
        self.mu = mu
        self.sigma = sigma
        self.var = sigma**2

    def logpdf(self, x):
        return -0.5 * (x - self.mu) ** 2 / self.var - np.log(self.sigma)

    @property
    def width(self):
        return self.sigma * self.scale


def gauss_logpdf(x, mu, sigma):
    g = Gauss(mu, sigma)
    return g.logpdf(x).sum() + g.width


def test_an_object_made_from_batched_values_batches():
    r = np.random.default_rng(0)
    x, mu, sigma = r.normal(size=(6, 4)), r.normal(size=4), np.abs(r.normal(size=6)) + 0.5
    assert_vmap_equivalent(gauss_logpdf, (0, None, 0), 0, x, mu, sigma)  # (no fallback)
    source = astvmap.vmap(gauss_logpdf, in_axes=(0, None, 0))
    source(x, mu, sigma)
    assert "Gauss_init_vmap" in source.source and "av__.new_object" in source.source


class Counter:
    def __init__(self, x):
        self.x = x

    def bump(self):
        self.x = self.x + 1
        return self.x


def bumped(x):
    c = Counter(x)
    c.bump()
    return c.x * 2


def test_a_method_that_changes_the_object_runs_per_example():
    x = np.random.default_rng(1).normal(size=(5, 3))
    assert_vmap_equivalent(bumped, 0, 0, x, allow_fallback=True)


class Slotted:
    __slots__ = ("a", "b")

    def __init__(self, a, b):
        self.a = a
        self.b = b

    def dot(self):
        return self.a @ self.b


def slotted_in_a_region(x, w):
    o = Slotted(x, w)
    return float(o.dot()) + o.a.sum()  # (float() runs per example: each example gets its own object)


def test_an_object_with_slots_given_to_a_per_example_piece():
    r = np.random.default_rng(2)
    assert_vmap_equivalent(
        slotted_in_a_region, (0, None), 0, r.normal(size=(5, 5)), r.normal(size=5), allow_fallback=True
    )


# ---- found by review (tests/objects_review.py) ----------------------------------------------------------
REVIEW = [getattr(objects_review, n) for n in dir(objects_review) if n.startswith("f_")]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("f", REVIEW, ids=lambda f: f.__name__)
def test_review_cases(f, dtype):
    r = np.random.default_rng(0)
    args = (r.normal(size=(5, 5)).astype(dtype), r.normal(size=5), r.normal(size=5), 0.7)
    assert_vmap_equivalent(f, (0, None, 0, None), 0, *args, allow_fallback=True)


def test_a_replaced_init_is_read_anew():
    vf = astvmap.vmap(objects_review.f_init_replaced, (0, None, 0, None))
    r = np.random.default_rng(0)
    args = (r.normal(size=(5, 5)), r.normal(size=5), r.normal(size=5), 0.7)
    np.testing.assert_allclose(vf(*args), args[0])
    saved = objects_review.Init2.__init__

    def init2(self, a):
        self.a = a * 7.0

    try:
        objects_review.Init2.__init__ = init2
        np.testing.assert_allclose(vf(*args), args[0] * 7.0)
    finally:
        objects_review.Init2.__init__ = saved


class Window:
    def __init__(self, a, scale=2.0):
        self.a = a
        self.scale = scale

    def __getitem__(self, i):
        return self.a * i if isinstance(i, int) else type(self)(self.a[..., i] * self.scale)


def windowed(x):
    w = Window(x)
    return w[3] + w[1:].a.sum() + (1.0 if type(w) is Window else 2.0)


def test_a_subscript_is_the_class_getitem_and_type_is_the_class():
    # Python answers `w[i]` with `type(w).__getitem__(w, i)` (a slice object for `w[1:]`) and `type(w)`
    # without asking the object anything: both batch (NOTE [objects])
    x = np.random.default_rng(2).normal(size=(5, 4))
    assert_vmap_equivalent(windowed, 0, 0, x, fallback="error")
