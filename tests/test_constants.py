"""What constants decide, the rewrite decides (NOTE [constants], transform/folding.py): one path of an `if`
whose test is known when rewriting, the other never rewritten; and never a stale decision when a global
the test read changes. Each case is compared with the loop (tests/oracle.py)."""

import functools
import os
import typing

import constgen
import fuzzgen
import numpy as np
import pytest
from oracle import assert_generated_program, assert_vmap_equivalent

import astvmap

RNG = np.random.default_rng(5)
N_SEEDS = int(os.environ.get("ASTVMAP_CONSTGEN_SEEDS", "40"))


def _args(seed, B, dtype="float64"):
    r = np.random.default_rng(seed)
    return r.normal(size=(B, 5)).astype(dtype), r.normal(size=B).astype(dtype)


def run_program(seed, tmp_path) -> int:
    """Generate program `seed`, compare it with the loop, change its globals, compare again."""
    src = constgen.generate(seed)
    f = fuzzgen.load(src, "f", os.path.join(str(tmp_path), f"consts_{seed}.py"))
    module = fuzzgen._loaded[f.__module__]
    count = 0
    for round_ in range(2):
        for B, dtype in ((1, "float64"), (6, "float32")):
            note = f"constgen seed {seed}, round {round_}, B={B}, {dtype}\n{src}"
            assert_generated_program(f, 0, _args(seed + B, B, dtype), note)
            count += 1
        constgen.mutate(module, seed)
    return count


@pytest.mark.parametrize("seed", range(N_SEEDS))
def test_generated_programs(seed, tmp_path):
    assert run_program(seed, tmp_path) == 4


# ---- the rules, one by one ----------------------------------------------------------------------------
FLAG = False


def _flagged(x):
    if not FLAG:
        return x * 2
    return x.tolist()  # (no batched form: rewritten only when FLAG is True)


def test_an_if_on_a_global_constant_takes_one_path_and_follows_the_global():
    global FLAG
    x = RNG.normal(size=(4, 3))
    f = astvmap.vmap(_flagged, fallback="error")
    np.testing.assert_array_equal(f(x), x * 2)  # (`x.tolist()` is never rewritten)
    FLAG = True
    try:
        with pytest.warns(astvmap.PerformanceWarning):  # (the path FLAG now takes has no batched form)
            astvmap.vmap(_flagged)(x)
        assert_vmap_equivalent(_flagged, 0, 0, x, allow_fallback=True)
    finally:
        FLAG = False


def _helper(x, axis=None, b=None, mode="sum"):
    if b is not None:
        x = x * b
    if axis is None:
        x = x.ravel()
        axis = 0
    return x.sum(axis=axis) if mode == "sum" else x.max(axis=axis)


@pytest.mark.parametrize("B", [0, 1, 7])
def test_a_callee_takes_the_path_of_its_defaults_and_its_callers_literals(B):
    x = RNG.normal(size=(B, 3, 4))
    for f in (
        lambda x: _helper(x),
        lambda x: _helper(x, 1),
        lambda x: _helper(x, axis=-1, mode="max"),
        lambda x: _helper(x, None, 2.0),
        lambda x: _helper(x, 0, x[0]),
    ):
        assert_vmap_equivalent(f, 0, 0, x, fallback="error")


def _by_dtype(x):
    if x.dtype.kind == "f" and np.isdtype(x.dtype, "real floating"):
        return x / 2
    if getattr(x, "dtype", None) is None or not np.iterable(x):
        return x.tolist()
    return x * 3


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int8", "complex128"])
def test_dtype_kind_facts_decide(dtype):
    x = (RNG.normal(size=(5, 3)) * 4).astype(dtype)
    assert_vmap_equivalent(_by_dtype, 0, 0, x, fallback="error")


def _filtered(x, w=None, *rest):
    parts = [p * 2 for p in (x, w, *rest) if p is not None]
    if len(parts) == 1 and not rest:
        return parts[0]
    return parts[0] + parts[-1]


@pytest.mark.parametrize("B", [1, 6])
def test_a_comprehension_over_items_of_different_kinds_is_written_out(B):
    x = RNG.normal(size=(B, 3))
    assert_vmap_equivalent(lambda x: _filtered(x), 0, 0, x, fallback="error")
    assert_vmap_equivalent(lambda x: _filtered(x, None, 3.0), 0, 0, x, fallback="error")
    assert_vmap_equivalent(lambda x: _filtered(x, x[0]), 0, 0, x, fallback="error")


def test_a_short_circuit_never_rewrites_what_python_never_evaluates():
    def f(x, b=None):
        if b is not None and b.ndim > 5:  # (`None.ndim` would be an error)
            return x.tolist()
        return x + 1

    assert_vmap_equivalent(f, 0, 0, RNG.normal(size=(3, 2)), fallback="error")


def test_folding_never_runs_what_is_large_or_changes_things():
    calls = []

    def noisy(k):
        calls.append(k)
        return k > 1

    def f(x):
        if noisy(3):  # (not pure: called when it runs, once per call)
            return x * 2
        return x

    out = astvmap.vmap(f)(RNG.normal(size=(3, 2)))
    assert out.shape == (3, 2) and calls  # it ran when the batch ran (rewriting may run it too)


# ---- values known to be one of a few (Val.choices) ------------------------------------------------------
@functools.cache
def _is_void(cls):
    return cls.__name__ == "VoidDType"


def _by_dtype_class(x):
    if _is_void(typing.cast(type, type(x.dtype))):
        return x.tolist()  # (no batched form: rewritten only if the test is not decided)
    return x * 2


@pytest.mark.parametrize("dtype", ["float64", "float32", "int64", ">f8"])
def test_a_pure_function_of_a_dtype_class_decides_where_every_class_agrees(dtype):
    x = RNG.normal(size=(4, 3)).astype(dtype)
    assert_vmap_equivalent(_by_dtype_class, 0, 0, x)  # (no fallback)


def _by_writeable(x, w):
    y = x * 1.0
    return y * 2.0 if y.flags.writeable and w.flags.writeable else y * 3.0


def test_flags_writeable_of_a_batched_array_is_each_examples():
    x, w = RNG.normal(size=(4, 3)), RNG.normal(size=3)
    assert_vmap_equivalent(_by_writeable, (0, None), 0, x, w)
    w.flags.writeable = False
    assert_vmap_equivalent(_by_writeable, (0, None), 0, x, w)


def test_a_range_and_a_slice_are_constants_a_callee_decides_by():
    def pick(x, i):
        return x[i].sum() if isinstance(i, slice) else x[i]

    def f(x):
        axes = tuple(range(x.ndim))  # (0, 1): the axes NumPy reduces over
        return x.sum(axis=axes) + pick(x[0], slice(1, None)) + pick(x[1], 0)

    assert_vmap_equivalent(f, 0, 0, RNG.normal(size=(3, 2, 4)), fallback="error")


def test_a_set_of_shapes_knows_its_items():
    # `{a.shape for a in args}` holds one shape at least, each of the examples' rank: broadcasting them
    # (`np.broadcast_shapes(*shapes)`, a length known only when it runs) gives a shape of that rank
    def f(a, b):
        args = [a, b]
        shapes = {arg.shape for arg in args}
        shape = np.broadcast_shapes(*shapes) if len(shapes) != 1 else args[0].shape
        out = np.broadcast_to(a, shape)
        return out * 2 if out.ndim == 1 else out.tolist()

    x = RNG.normal(size=(3, 4))
    assert_vmap_equivalent(f, 0, 0, x, x + 1, fallback="error")


def test_dict_of_keywords_knows_its_keys():
    def options(**kwargs):
        return kwargs["scale"] * kwargs["shift"]

    def f(x):
        kw = dict(scale=x, shift=2.0)  # noqa: C408 (the call is what is tested)
        more = dict(kw, shift=3.0)
        return options(**kw) + options(**more)

    assert_vmap_equivalent(f, 0, 0, RNG.normal(size=(3, 2)), fallback="error")


class _Holder:
    pass


HOLDER = _Holder()
NAMES = {"numpy", "cupy"}


def _by_presence(x):
    if hasattr(HOLDER, "scale"):
        return x * getattr(HOLDER, "scale")  # noqa: B009 (getattr is what is folded)
    return x * getattr(HOLDER, "missing", 2.0)


def _by_membership(x):
    return x * 3 if "jax" in NAMES else x * 2


def test_presence_of_an_attribute_and_members_of_a_global_set_are_dependencies():
    # (hasattr and getattr's default decide now, and the rewrite follows the attribute coming and going;
    # a global set's members decide, and the rewrite follows a member added between calls)
    x = RNG.normal(size=(4, 3))
    vf, vg = astvmap.vmap(_by_presence), astvmap.vmap(_by_membership)
    for scale in (None, 5.0, None):
        if scale is None:
            HOLDER.__dict__.pop("scale", None)
        else:
            HOLDER.scale = scale
        np.testing.assert_array_equal(vf(x), np.stack([_by_presence(e) for e in x]))
    for member in (None, "jax"):
        if member is not None:
            NAMES.add(member)
        np.testing.assert_array_equal(vg(x), np.stack([_by_membership(e) for e in x]))
    NAMES.discard("jax")
    assert_vmap_equivalent(_by_presence, 0, 0, x)  # (batched: no per-example loop)


def _named_on_the_way(x, names=("a", "bb")):
    widths = []
    for n in names:
        if (k := len(n)) > 1:
            widths.append(k)
    return x * widths[0]


def test_an_assignment_expression_of_a_value_per_call_binds_where_it_stands():
    assert_vmap_equivalent(_named_on_the_way, 0, 0, RNG.normal(size=(4, 3)))


SETTING = 1.0


def _raise_setting():
    global SETTING
    SETTING = 2.0


def _reads_setting(x):
    return x * 3 if SETTING > 1.5 else x * 2


def _after_a_helper_sets_it(x):
    _raise_setting()
    if SETTING > 1.5:
        return x * 3
    return x * 2


def _a_callee_reads_it_after(x):
    _raise_setting()
    return _reads_setting(x)


@pytest.mark.parametrize("f", [_after_a_helper_sets_it, _a_callee_reads_it_after])
def test_a_global_a_helper_assigns_is_read_as_it_is_then(f):
    # (the rewrite begins before the helper runs: SETTING was 1.0 then; Python reads 2.0 after it)
    global SETTING
    x = RNG.normal(size=(4, 3))
    SETTING = 1.0
    got = astvmap.vmap(f)(x)
    SETTING = 1.0
    want = np.stack([f(e) for e in x])
    SETTING = 1.0
    np.testing.assert_array_equal(got, want)


def _adds_with_numpy(a):
    return np.add(a, 1.0)  # (a module's function, not a set's `add`: nothing outlives the call)


def _after_a_helper_calls_np_add(x):
    y = _adds_with_numpy(x)
    return np.sum(y) if np.ndim(y) else y


def test_a_modules_function_named_like_a_change_changes_no_state():
    assert_vmap_equivalent(_after_a_helper_calls_np_add, 0, 0, RNG.normal(size=(4, 3)))
