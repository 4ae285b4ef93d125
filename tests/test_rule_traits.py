"""Rule metadata is declared once, where a rule is registered (NOTE [rule traits] in rules/registry.py),
and the parts that need it read it there: the batched `if`'s region fallback (`quiet`), the Numba
backend's cost model (`transcendental`) and strategy (`contraction`, `lanes`, through the facts the
dispatcher records)."""

from __future__ import annotations

import math
import operator

import numpy as np
import pytest

from astvmap import runtime
from astvmap.rules import registry


def test_an_unknown_trait_is_refused():
    with pytest.raises(ValueError, match="unknown rule trait"):
        registry.register(object(), traits="elementwise fast")(lambda ctx, x: x)


@pytest.mark.parametrize(
    "obj, traits",
    [
        (np.tanh, {"elementwise", "transcendental", "quiet", "numba", "selections"}),
        (np.exp, {"elementwise", "transcendental", "numba", "selections"}),
        (np.add, {"elementwise", "numba", "selections"}),
        (operator.add, {"elementwise", "numba", "selections"}),
        (np.floor, {"elementwise", "quiet", "numba", "selections"}),
        (np.sum, {"reduction", "quiet", "selections"}),
        (np.median, {"reduction"}),
        (np.nansum, {"reduction"}),
        (np.dot, {"contraction", "fresh"}),
        (operator.matmul, {"contraction", "fresh"}),
        (np.linalg.solve, {"contraction", "fresh"}),
        (runtime.select, {"lanes"}),
        (runtime.loop, {"lanes"}),
        (math.isnan, {"elementwise", "quiet"}),
    ],
)
def test_traits_as_declared(obj, traits):
    rule = registry.lookup(obj)
    assert rule is not None and rule.traits == traits


_SAFE_CALLS_BEFORE = (
    "abs min max where maximum minimum fmax fmin sign clip logical_and logical_or logical_not isnan "
    "isfinite isinf real imag conj copy square negative positive floor ceil trunc rint tanh sin cos "
    "arctan exp2 sum any all zeros_like ones_like astype"
)


def test_quiet_names_are_what_the_region_fallback_knew():
    # the names `_SAFE_CALLS` in transform/controlflow.py listed before the trait, plus two that are
    # quiet too (np.conj's name is "conjugate"; np.empty_like is registered with zeros_like)
    before = set(_SAFE_CALLS_BEFORE.split())
    assert registry.named("quiet") == before | {"conjugate", "empty_like"}


def test_the_fused_lowering_knows_only_functions_of_their_kind():
    pytest.importorskip("numba")
    from astvmap.backends.numba_fuse_values import BINARY, REDUCTIONS, UNARY

    for name in UNARY | BINARY:
        assert registry.has(getattr(np, name), "elementwise"), name
    for name in REDUCTIONS:
        assert registry.has(getattr(np, name), "reduction"), name
