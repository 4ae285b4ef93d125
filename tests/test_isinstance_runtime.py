"""`isinstance(x, classes)` of a batched array with classes known only when the code runs (a module found in
`sys.modules`, as libraries look for pandas): every example is an ndarray, so the answer is the same
for all, computed when it runs (`av__.arrays_are`)."""

import sys

import numpy as np
from oracle import assert_vmap_equivalent


def _frame_classes():
    found = sys.modules.get("astvmap_no_such_frame_library")  # (None: not imported)
    return (getattr(found, "DataFrame", np.matrix), np.ma.MaskedArray)


def is_frame(x):
    return isinstance(x, _frame_classes())


def is_array(x):
    return isinstance(x, (np.ndarray,) + _frame_classes()[1:])


def scaled_unless_frame(x):
    if isinstance(x, _frame_classes()):
        return x
    return x * 2


def test_isinstance_with_classes_known_when_it_runs():
    x = np.random.default_rng(0).normal(size=(4, 3))
    for f in (is_frame, is_array, scaled_unless_frame):
        assert_vmap_equivalent(f, 0, 0, x, fallback="error")
