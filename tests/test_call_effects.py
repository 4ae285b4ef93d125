"""A function that is not NumPy's or Python's own may write into the arrays and lists it is given (a C
function's `output`, a helper with no source): run once per example, it must get each example's own
object, as the loop gives it (calls.may_change_arguments, region_loop._written_by_calls). Random programs
make an object in the function, hand it to such a writer, and read it after; each is compared with the
loop."""

import operator
import os
import random
import warnings

import numpy as np
import pytest
from oracle import assert_vmap_equivalent

# writers with no Python source to rewrite: what they do to their arguments is not known
_set0 = eval("lambda a, v: a.__setitem__(0, v)")
_fill = eval("lambda a, v: a.fill(v)")
_add_into = eval("lambda a, v: (a.__iadd__(v), a)[1]")
_append = eval("lambda l, v: l.append(v)")
WRITERS = {
    "set0": "_set0({o}, {v})",
    "fill": "_fill({o}, {v})",
    "setitem": "operator.setitem({o}, 1, {v})",
    "copyto": "np.copyto({o}, {v})",
}
MAKERS = [
    "np.zeros(x.shape)",
    "x.copy()",
    "np.full_like(x, 3.0)",
    "np.ones(4)",
    "x * 0.0",
    "np.zeros_like(x)[:3]",
]
VALUES = ["s", "x[0]", "2.5", "s * s"]


def program(seed: int) -> str:
    r = random.Random(seed)
    lines = ["def f(x, s):", f"    out = {r.choice(MAKERS)}"]
    for _ in range(r.randint(1, 3)):
        kind = r.randrange(4)
        w = WRITERS[r.choice(list(WRITERS))].format(o="out", v=r.choice(VALUES))
        if kind == 0:
            lines.append(f"    {w}")
        elif kind == 1:
            lines += ["    if s > 0:", f"        {w}"]
        elif kind == 2:
            lines += ["    for _ in range(2):", f"        {w}"]
        else:
            lines.append(f"    out = _add_into({r.choice(MAKERS)}[:4], {r.choice(VALUES)}) + out[:4]")
    if r.random() < 0.4:
        lines += ["    acc = []", f"    _append(acc, {r.choice(VALUES)})", "    out = out + acc[0]"]
    lines.append(f"    return out * 2 + {r.choice(['x.sum()', 's', '0'])}")
    return "\n".join(lines) + "\n"


def _load(src, tmp_path, seed):
    import fuzzgen

    header = "import operator\nimport numpy as np\nfrom test_call_effects import _add_into, _append, _fill, _set0\n\n"
    return fuzzgen.load(header + src, "f", str(tmp_path / f"effects_{seed}.py"))


@pytest.mark.parametrize("seed", range(int(os.environ.get("ASTVMAP_EFFECTS_SEEDS", "40"))))
def test_written_objects_are_each_examples_own(seed, tmp_path):
    src = program(seed)
    f = _load(src, tmp_path, seed)
    r = np.random.default_rng(seed)
    for B in (1, 5):
        x, s = r.normal(size=(B, 6)), r.normal(size=B)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                assert_vmap_equivalent(f, 0, 0, x, s, allow_fallback=True)
            except Exception as e:
                e.add_note(f"effects seed {seed}, B={B}\n{src}")
                raise


def test_a_c_function_writing_its_output():
    nd = pytest.importorskip("scipy.ndimage._nd_image")

    def f(x):
        out = np.zeros(x.shape)
        nd.uniform_filter1d(x, 3, 0, out, 1, 0.0, 0)
        return out

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_vmap_equivalent(f, 0, 0, np.random.default_rng(0).normal(size=(4, 6)), allow_fallback=True)


assert operator  # (the generated programs import it)
