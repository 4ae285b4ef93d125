"""NumPy's rule for a `dtype=` argument: the result is of the dtype given (rules/common.with_given_dtype).
Random programs (tests/dtypegen.py) branch on the dtype of such a result; each is compared with the loop."""

import os

import dtypegen
import fuzzgen
import numpy as np
import pytest
from oracle import assert_generated_program

N_SEEDS = int(os.environ.get("ASTVMAP_DTYPEGEN_SEEDS", "60"))


def _operands(r, xdt, wdt, B):
    x = (r.normal(size=(B, 4)) * 3).astype(xdt) if xdt != "complex128" else r.normal(size=(B, 4)) + 1j
    w = (r.normal(size=4) * 3).astype(wdt) if wdt != "complex128" else r.normal(size=4) - 1j
    return x, w


def run_program(seed, tmp_path) -> None:
    src, xdt, wdt = dtypegen.generate(seed)
    f = fuzzgen.load(src, "f", os.path.join(str(tmp_path), f"dtypes_{seed}.py"))
    r = np.random.default_rng(seed)
    for B in (3, 1):
        x, w = _operands(r, xdt, wdt, B)
        assert_generated_program(f, (0, None), (x, w), f"dtypegen seed {seed} x {xdt} w {wdt}, B={B}\n{src}")


@pytest.mark.parametrize("seed", range(N_SEEDS))
def test_generated_programs(seed, tmp_path):
    run_program(seed, tmp_path)


def test_sum_with_a_float_dtype_of_integers_is_a_float(tmp_path):
    # the reported form: the fact said "integer" and the float path was never taken
    src = "import numpy as np\n\ndef f(x):\n    s = np.sum(x, dtype=np.float64)\n    if s.dtype.kind == 'f':\n        return s * 0 + 1.5\n    return s\n"
    f = fuzzgen.load(src, "f", os.path.join(str(tmp_path), "sum_dtype.py"))
    assert_generated_program(f, 0, (np.arange(12).reshape(3, 4),), src)


def test_std_of_a_scalar_with_an_integer_dtype_is_per_example(tmp_path):
    # per example NumPy converts a scalar's root to the dtype; batched, its root in place would raise
    src = "import numpy as np\n\ndef f(x):\n    return np.std(x, dtype=np.int32)\n"
    f = fuzzgen.load(src, "f", os.path.join(str(tmp_path), "std_dtype.py"))
    assert_generated_program(f, 0, (np.arange(12.0).reshape(3, 4),), src)
