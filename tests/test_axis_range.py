"""A per-example axis names an axis of the example (NumPy's rule; a negative one past the example's rank
would name the batch axis, where the loop raises AxisError). Random calls of axis-taking functions, with
axes in and out of range, static or known only at run time, against the loop."""

import warnings

import numpy as np
import pytest

import astvmap

FUNCTIONS = [
    lambda x, k: np.sum(x, axis=k),
    lambda x, k: np.mean(x, axis=k),
    lambda x, k: np.flip(x, axis=k),
    lambda x, k: np.roll(x, 1, axis=k),
    lambda x, k: np.cumsum(x, axis=k),
    lambda x, k: np.sort(x, axis=k),
    lambda x, k: np.argmax(x, axis=k),
    lambda x, k: np.take(x, [0], axis=k),
    lambda x, k: np.diff(x, axis=k),
    lambda x, k: np.expand_dims(x, k),
    lambda x, k: np.stack([x, x], axis=k),
    lambda x, k: np.moveaxis(x, k, 0),
    lambda x, k: np.percentile(x, 50, axis=k),
    lambda x, k: np.fft.fft(x, axis=k),
    lambda x, k: np.gradient(x, axis=k),
    lambda x, k: np.concatenate([x, x], axis=k),
]


def _outcome(thunk):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return np.asarray(thunk())
        except (ValueError, TypeError, IndexError, np.exceptions.AxisError) as e:
            return type(e)


@pytest.mark.parametrize("seed", range(60))
def test_random_axes_match_the_loop(seed):
    r = np.random.default_rng(seed)
    f = FUNCTIONS[seed % len(FUNCTIONS)]
    nd = int(r.integers(1, 4))
    x = r.normal(size=(3,) + tuple(int(n) for n in r.integers(2, 4, size=nd)))
    k = int(r.integers(-nd - 2, nd + 2))
    for in_axes, args in (((0, None), (x, k)), ((0,), (x,))):
        g = f if len(args) == 2 else (lambda v, f=f, k=k: f(v, k))
        want = _outcome(lambda: np.stack([np.asarray(g(*((e,) + args[1:]))) for e in x]))
        got = _outcome(lambda: astvmap.vmap(g, in_axes=in_axes)(*args))
        if isinstance(want, type):
            assert isinstance(got, type), (
                f"axis {k} of rank {nd}: the loop raises {want.__name__}, vmap returns"
            )
        else:
            assert not isinstance(got, type), f"axis {k} of rank {nd}: vmap raises {got.__name__}"
            np.testing.assert_allclose(got, want)
