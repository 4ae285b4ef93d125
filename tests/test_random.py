"""randomness= for np.random draws (issue 6): "error" refuses at the line of the draw, "different" draws
independently per example, "same" shares one draw. Tests check shapes, independence across lanes and the
distribution (the loop's stream cannot be reproduced by one batched call, by design)."""

import numpy as np
import pytest

import astvmap
from astvmap import vmap

GEN = np.random.default_rng(1)


def jitter(x):
    return x + GEN.normal(0.0, 1.0, size=3)


def scaled_uniform(x, g):
    return x * g.uniform() + np.random.normal(x, 0.1)


def draw_ints(n):
    return GEN.integers(0, 10, size=(2, 2)) + n


def test_error_mode_points_at_the_draw():
    with pytest.raises(astvmap.AstvmapError, match="randomness='different'") as info:
        vmap(jitter)(np.zeros((4, 3)))
    assert info.value.lineno == jitter.__code__.co_firstlineno + 1


@pytest.mark.parametrize("B", [1, 7, 2000])
def test_different_draws_independent_values_per_example(B):
    out = vmap(jitter, randomness="different")(np.zeros((B, 3)))
    assert out.shape == (B, 3) and out.dtype == np.float64
    if B == 2000:
        assert abs(out.mean()) < 0.1 and abs(out.std() - 1.0) < 0.1
        assert abs(np.corrcoef(out[:, 0], out[:, 1])[0, 1]) < 0.1
        assert len(np.unique(out[:, 0])) == B


def test_same_shares_one_draw():
    out = vmap(jitter, randomness="same")(np.zeros((5, 3)))
    assert out.shape == (5, 3)
    assert np.all(out == out[0])


def test_different_with_batched_parameters_and_an_unmapped_generator():
    x = np.arange(3000.0).reshape(1000, 3)
    out = vmap(scaled_uniform, in_axes=(0, None), randomness="different")(x, np.random.default_rng(2))
    assert out.shape == (1000, 3)
    per_lane_scale = out - x  # x*u + N(x, 0.1) - x
    assert np.all(np.isfinite(per_lane_scale))


def test_integer_draws_keep_their_dtype():
    out = vmap(draw_ints, randomness="different")(np.arange(6))
    assert out.shape == (6, 2, 2) and out.dtype.kind == "i"
    assert np.all((out - np.arange(6)[:, None, None] >= 0) & (out - np.arange(6)[:, None, None] < 10))


def test_invalid_randomness_mode():
    with pytest.raises(ValueError, match="randomness"):
        vmap(jitter, randomness="sometimes")
