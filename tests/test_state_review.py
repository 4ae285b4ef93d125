"""A review's reproducers of state that outlives the call (tests/state_review/): a global or an object's
attribute a helper binds or changes before the code reads it (`hasattr` after `setattr`, `"jax" in
NAMES` after `NAMES.add`, `helper.X` after `helper.bump()`, a read in a loop before the call that
changes it), helpers whose change is not repeatable (`COUNT += 1`: the whole function as the loop),
`:=` in a decided test or a part Python may skip, dict subclasses that answer `in` and truth their own
way, and a slice store's items. Each runs as vmap first, then as the loop, from the same state."""

import importlib
import pkgutil
import warnings

import numpy as np
import pytest
import state_review

import astvmap

CASES = [
    (module.name, i)
    for module in pkgutil.iter_modules(state_review.__path__)
    if module.name.startswith("r") and not module.name.endswith("helper")
    for i in range(len(importlib.import_module(f"state_review.{module.name}").CASES))
]


@pytest.mark.parametrize("name, i", CASES)
def test_review_cases(name, i):
    f, in_axes, args, reset = (importlib.import_module(f"state_review.{name}").CASES[i] + (lambda: None,))[:4]
    axes = in_axes if isinstance(in_axes, tuple) else (in_axes,) * len(args)
    B = next(a.shape[0] for a, ax in zip(args, axes) if ax is not None)
    reset()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", astvmap.PerformanceWarning)
        got = astvmap.vmap(f, in_axes=in_axes)(*args)
    reset()
    want = np.stack([f(*[a if ax is None else a[b] for a, ax in zip(args, axes)]) for b in range(B)])
    reset()
    np.testing.assert_array_equal(got, want)
