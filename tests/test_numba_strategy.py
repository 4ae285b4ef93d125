"""The Numba backend's heuristic reads facts the rewrite records on the specialization (contractions,
per-example control flow, per-example loops), never the generated text: a local named `outer` is not an
outer product. The strategies of the benchmark workloads are pinned (what `numba.choose` picked when it
still read the text), so a change of the heuristic shows here first."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

pytest.importorskip("numba")

from astvmap import vmap
from astvmap.api import VmappedFunction
from astvmap.backends import numba as backend
from astvmap.bench import workloads

# the heuristic's choice (rules 1-4 of backends/numba.py) for each workload at a small batch
PINNED = {
    "neuron": "numpy",
    "predict": "numpy",
    "custom_dot_d3": "numpy",
    "custom_dot_d256": "numpy",
    "convolve": "numpy",
    "convolve_k": "numpy",
    "pairwise": "numpy",
    "mm": "numpy",
    "piecewise": "loop",
    "newton_sqrt": "loop",
    "bisection": "loop",
    "mlp": "numpy",
    "attention": "numpy",
}


def _choice(vm, *args):
    call = vm.prepare(args, {})
    return backend.choose(vm.specialization(call), call)


@pytest.mark.parametrize("name", sorted(PINNED))
def test_workload_strategies_are_pinned(name):
    workload = next(w for w in workloads.WORKLOADS if w.name == name)
    case = workload.case(1_000)
    vm = case.astvmap()
    assert isinstance(vm, VmappedFunction)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert _choice(vm, *case.make_args(np.random.default_rng(0))) == PINNED[name]


def local_outer(x):
    outer = x * 2.0
    return outer + 1.0


def local_dot(x):
    dot = x * x
    return dot - 1.0


def says_linalg(x):
    label = "np.linalg @ einsum"
    return x + len(label)


def unbatched_while(x):
    i = 0
    while i < 3:
        x = x * 2.0
        i += 1
    return x


@pytest.mark.parametrize("fn", [local_outer, local_dot, says_linalg])
def test_names_in_the_code_do_not_pick_the_strategy(fn):
    # elementwise code on per-example scalars: the compiled loop (rule 3), whatever its names say
    assert _choice(vmap(fn), np.arange(5.0)) == "loop"


def test_a_while_on_an_unbatched_test_is_not_per_example_control_flow():
    # the same trip count for every example: elementwise work on per-example arrays (rule 4)
    assert _choice(vmap(unbatched_while), np.ones((4, 3))) == "numpy"


def helper_with_if(x):
    return x * 2.0 if np.sum(x) > 0 else x


def calls_helper(x):
    return helper_with_if(x) + 1.0


def test_a_called_functions_control_flow_counts():
    # the batched `if` is in the called function's specialization: its facts reach the caller's
    assert _choice(vmap(helper_with_if), np.ones((4, 3))) == "loop"
    assert _choice(vmap(calls_helper), np.ones((4, 3))) == "loop"  # also when the callee is cached


def test_an_inner_vmaps_control_flow_counts():
    assert _choice(vmap(vmap(helper_with_if)), np.ones((2, 4, 3))) == "loop"


def contracts(x, w):
    return np.tanh(x @ w)


def test_a_contraction_picks_numpy():
    assert _choice(vmap(contracts, in_axes=(0, None)), np.ones((4, 3)), np.ones((3, 2))) == "numpy"
