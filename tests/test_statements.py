"""Real code's statements (issue 19): what reads no batched value runs as written, `with`/`try`/`match` keep
their meaning around batched code, static facts decide branches, and a statement with no batched form
runs as a loop over that statement only (NOTE [region loops]), each against the loop at B in {0, 1, 7}."""

import ast
import contextlib
import os
import types
import warnings

import numpy as np
import pytest
import stmtgen
from oracle import assert_vmap_equivalent

import astvmap

RNG = np.random.default_rng(19)
SIZES = [0, 1, 7]


def _x(B, *shape, dtype="float64"):
    return RNG.normal(size=(B, *shape)).astype(dtype)


def _fallbacks(f, in_axes, *args):
    """The PerformanceWarnings of one call (warned when a specialization is made: none is cached)."""
    astvmap.clear_cache()
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        astvmap.vmap(f, in_axes)(*args)
    return [str(w.message) for w in rec if issubclass(w.category, astvmap.PerformanceWarning)]


# ---- statements that read no batched value run as written ------------------------------------------
def metadata(x, w):
    meta = {k: v for k, v in zip("ab", (2, 3))}  # noqa: C416  (a comprehension, as real code has)
    order = sorted(meta, key=meta.get)
    scale = {n * 2 for n in range(3)}
    assert len(order) == 2, "two keys"
    return x * meta[order[0]] * max(scale) + w


def imports(x, w):
    try:
        import math as m
    except ImportError:
        m = None
    match m:
        case None:
            k = 1.0
        case _:
            k = m.pi
    return x * k + w


def checks(x, w):
    if w is None or x is None:
        raise ValueError("x and w are required")
    if not isinstance(x, np.ndarray) or not hasattr(x, "shape") or type(x) is not np.ndarray:
        x = np.asarray(x)
    if x.ndim != 1 or len(x.shape) != 1 or x.dtype.kind not in "fc":
        raise TypeError("a vector of floats")
    return x @ w if w is not None else x


def optional(x, w=None):
    if w is not None:
        x = x * w
    if x is None:
        return 0.0
    return x.sum()


# An array-API style namespace: a global object whose functions are Python wrappers, found through a
# helper that checks its arguments (`xp = array_namespace(x)`).
def _asarray(x, dtype=None):
    return np.asarray(x, dtype=dtype)


_NAMESPACE = types.SimpleNamespace(asarray=_asarray, exp=np.exp, sum=np.sum, float64=np.float64)


def array_namespace(*arrays):
    for a in arrays:
        if not isinstance(a, (np.ndarray, np.generic, float, int)):
            raise TypeError(f"no array namespace for {type(a).__name__}")
    return _NAMESPACE


def namespaced(x, w):
    xp = array_namespace(x, w)
    x = xp.asarray(x, dtype=xp.float64)
    e = xp.exp(x - x.max(axis=-1, keepdims=True))
    return e / xp.sum(e, axis=-1, keepdims=True) + w


def _mean_of(*args):
    total = args[0] * 0
    for a in args:
        total = total + a
    return total / len(args)


def star_args(x, w):
    parts = (x, w, x * 2)
    return _mean_of(*parts) + _mean_of(x, *parts[1:])


@pytest.mark.parametrize("B", SIZES)
@pytest.mark.parametrize("f", [metadata, imports, checks, optional, namespaced, star_args])
def test_unbatched_statements_run_as_written(f, B):
    x, w = _x(B, 3), RNG.normal(size=3)
    assert_vmap_equivalent(f, (0, None), 0, x, w, fallback="error")


class _Model:
    def __init__(self, w):
        self.w = w

    def predict(self, x):
        return np.tanh(x * self.w).sum()


def test_a_method_of_an_unmapped_object_is_its_function_and_follows_the_object():
    x, model = _x(5, 3), _Model(RNG.normal(size=3))
    f = astvmap.vmap(lambda m, x: m.predict(x), (None, 0))
    assert_vmap_equivalent(lambda m, x: m.predict(x), (None, 0), 0, model, x, fallback="error")
    np.testing.assert_allclose(f(model, x), [model.predict(e) for e in x])
    model.w = -model.w  # the attribute read at run time
    np.testing.assert_allclose(f(model, x), [model.predict(e) for e in x])
    model.predict = lambda x: x.max()  # a new method: a new specialization
    np.testing.assert_allclose(f(model, x), [model.predict(e) for e in x])


# ---- with / try / match around batched code ----------------------------------------------------------
def errstate(x, w):
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.log(x) * w
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        z = np.sqrt(x)
    with contextlib.nullcontext() as nothing:
        assert nothing is None
    return np.where(np.isfinite(y), y, 0.0) + np.nan_to_num(z)


def static_handlers(x, w):
    try:
        y = x @ w
        t = x.sum() if hasattr(x, "sum") else y
    except (ImportError, NameError):  # (decided by the program's names: the same for every example)
        t = 0.0
    try:
        k = {"a": 1.0}["b"]
    except KeyError:
        k = 2.0
    try:
        r = x * k
    finally:
        done = True
    return r + t, done


def cases(x, w):
    match x.ndim:
        case 1:
            y = x * w
        case 2:
            y = x.sum(axis=0) * w
        case _:
            y = w
    match "fast":
        case "slow" if w.sum() > 0:
            y = y * 0
        case mode:
            y = y + len(mode)
    return y


@pytest.mark.parametrize("B", SIZES)
@pytest.mark.parametrize("f", [errstate, static_handlers, cases])
def test_compound_statements_around_batched_code(f, B):
    x, w = np.abs(_x(B, 3)) - 0.5, RNG.normal(size=3)
    assert_vmap_equivalent(f, (0, None), 0, x, w, fallback="error")


def test_match_on_a_static_fact_of_the_rank():
    x = _x(5, 3, 3)
    assert_vmap_equivalent(cases, (0, None), 0, x, RNG.normal(size=3), fallback="error")


# ---- region loops ----------------------------------------------------------------------------------------
def singular_on_some_lanes(x, w):
    y = np.outer(x, x) * w
    try:
        r = np.linalg.cholesky(y)
    except np.linalg.LinAlgError:
        r = np.eye(3)
    return r.sum() + x


def suppressed(x, w):
    y = x.copy()
    with contextlib.suppress(ZeroDivisionError):
        y[0] = 1 / float(x[0] > 0)
    return y * w


def per_lane_python_int(x, w):
    try:
        k = int(np.argmax(x))
    except ValueError:
        k = 0
    return (x * k).astype(np.float32) * k + w.astype(np.float32)


def batched_subject(x, w):
    match int(x[0] > 0):
        case 1:
            y = x * w
        case _:
            y = -x
    return y


@pytest.mark.parametrize("B", SIZES)
@pytest.mark.parametrize("f", [singular_on_some_lanes, suppressed, per_lane_python_int, batched_subject])
def test_region_loops_equal_the_loop(f, B):
    x, w = _x(B, 3), RNG.normal(size=3)
    if f is singular_on_some_lanes and B:
        x[::2] = 0.0  # some examples are not positive definite: their handler runs, the others' not
    assert_vmap_equivalent(f, (0, None), 0, x, w, allow_fallback=True)


def test_a_region_loop_warns_once_naming_its_lines():
    x, w = _x(6, 3), RNG.normal(size=3)
    msgs = _fallbacks(singular_on_some_lanes, (0, None), x, w)
    assert len(msgs) == 1 and "lines" in msgs[0] and "whole function" not in msgs[0], msgs
    line = singular_on_some_lanes.__code__.co_firstlineno + 2
    assert f"lines {line}-{line + 3}" in msgs[0]
    src = astvmap.show(astvmap.vmap(singular_on_some_lanes, (0, None)), x, w)
    assert "av__.region_loop" in src and "np.outer" in src.split("def region")[0]  # the rest batched


def test_a_function_with_a_region_loop_inside_another_vmap_equals_the_loop():
    # batched again by the enclosing vmap, the inner function has no region: its call loops per example
    x, w = _x(4, 5, 3), RNG.normal(size=3)
    x[:, ::2] = 0.0
    inner = astvmap.vmap(singular_on_some_lanes, (0, None))
    assert_vmap_equivalent(lambda x, w: inner(x, w), (0, None), 0, x, w, allow_fallback=True)


def test_region_loop_keeps_python_numbers_weak():
    # per example k is a Python int: float32 * k stays float32 (NEP 50), as in the loop
    x, w = _x(4, 3, dtype="float32"), RNG.normal(size=3)
    out = astvmap.vmap(per_lane_python_int, (0, None))(x, w)
    assert out.dtype == np.float32


def writes(x, w):
    buf = np.zeros(3)
    acc = []
    y = x.copy()
    try:
        buf[int(np.argmax(x))] = 1.0
        y[0] = w[0]
        acc.append(x.sum())
    except IndexError:
        pass
    return buf + y + len(acc)


def draws(x, w):
    rng = np.random.default_rng(0)
    try:
        e = rng.normal(size=3)
    except ValueError:
        e = np.zeros(3)
    return x + e + rng.normal()


@pytest.mark.parametrize("B", SIZES)
@pytest.mark.parametrize("f", [writes, draws])
def test_region_loops_give_each_example_its_own_objects(f, B):
    assert_vmap_equivalent(f, (0, None), 0, _x(B, 3), RNG.normal(size=3), allow_fallback=True)


def changes_an_argument(x, w):
    try:  # noqa: SIM105  (the statement under test)
        w[0] = x[0]
    except ValueError:
        pass
    return w.sum() + x


def views_written_later(x, w):
    y = x.copy()
    try:
        v = y[int(np.argmax(x)) :]
    except ValueError:
        v = y
    v[0] = 100.0
    return y


def test_no_region_where_examples_would_share_or_copy_what_the_loop_aliases():
    x, w = _x(5, 3), RNG.normal(size=3)
    msgs = _fallbacks(views_written_later, (0, None), x, w)
    assert any("whole function" in m for m in msgs), msgs
    assert_vmap_equivalent(views_written_later, (0, None), 0, x, w, allow_fallback=True)
    # the loop writes every example into the caller's `w` in turn: so does the whole-function loop
    msgs = _fallbacks(changes_an_argument, (0, None), x, w.copy())
    assert any("whole function" in m for m in msgs), msgs
    w_loop, w_vmap = w.copy(), w.copy()
    want = np.stack([changes_an_argument(e, w_loop) for e in x])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = astvmap.vmap(changes_an_argument, (0, None))(x, w_vmap)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(w_vmap, w_loop)


def sometimes_bound(x, w):
    try:
        if x[0] > 0:
            raise ValueError
        t = x.sum()
    except ValueError:
        pass
    return t * w


def test_a_name_bound_on_some_examples_only_raises_where_the_loop_does():
    x = np.abs(_x(4, 3))
    with pytest.raises((UnboundLocalError, NameError)), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        astvmap.vmap(sometimes_bound, (0, None))(x, RNG.normal(size=3))
    assert_vmap_equivalent(sometimes_bound, (0, None), 0, -x, RNG.normal(size=3), allow_fallback=True)


def returns_from_a_region(x, w):
    y = x * w
    return {k: v for k, v in zip("ab", (y[0], y[1]))}["a"] + x[int(y.argmax())]  # noqa: C416


def logpdf(x, w):
    s = np.outer(x, x) + np.diag(w)  # (not positive definite for some examples)
    try:
        chol = np.linalg.cholesky(s)
    except np.linalg.LinAlgError:
        return -np.inf
    z = np.linalg.solve(chol, x)
    return -0.5 * (z @ z) - np.log(np.diag(chol)).sum()


def positives(x, w):
    found = []
    y = x * w
    try:
        for v in y:
            if v > 0:
                found.append(v)  # (how many differs per example)
    except ValueError:
        found = []
    return len(found) + y.sum()


def first_two(x, w):
    pair = []
    y = x * w
    with contextlib.suppress(IndexError):
        pair.append(y[int(np.argmax(y))])
        pair.append(y[0])
    return pair[0] - pair[1] + len(pair)


@pytest.mark.parametrize("B", SIZES)
@pytest.mark.parametrize("f", [logpdf, positives, first_two])
def test_regions_that_return_or_leave_ragged_values_equal_the_loop(f, B):
    x, w = _x(B, 3), RNG.normal(size=3)
    assert_vmap_equivalent(f, (0, None), 0, x, w, allow_fallback=True)


def test_a_region_returning_from_inside_runs_to_the_end_of_the_function():
    x, w = _x(6, 3), np.array([0.5, -1.0, 0.5])
    src = astvmap.show(astvmap.vmap(logpdf, (0, None)), x, w)
    assert "np.einsum" in src.split("def region")[0]  # the statement before it stays batched
    assert "returned = av__.region_loop" in src


def test_code_reading_a_regions_list_joins_the_region():
    # per example `found` has 2 or 3 items: the statement reading it runs in the region, never stacked
    x, w = np.array([[1.0, -1.0, 2.0], [1.0, 1.0, 1.0]]), np.ones(3)
    msgs = _fallbacks(positives, (0, None), x, w)
    line = positives.__code__.co_firstlineno + 3
    assert len(msgs) == 1 and f"lines {line}-{line + 6}" in msgs[0], msgs
    assert_vmap_equivalent(positives, (0, None), 0, x, w, allow_fallback=True)


def ragged_then_batched(x, w):
    found = []
    try:
        for v in x:
            if v > 0:
                found.append(v)
    except ValueError:
        found = []
    n = len(found)
    return n * w if n > 1 else x


def test_a_list_of_varying_length_stacked_runs_the_call_as_the_loop():
    x, w = np.array([[1.0, -1.0, 2.0], [1.0, 1.0, 1.0]]), np.ones(3)
    assert_vmap_equivalent(ragged_then_batched, (0, None), 0, x, w, allow_fallback=True)


def test_a_return_value_with_no_batched_form_is_lifted_alone():
    x, w = _x(6, 3), RNG.normal(size=3)
    msgs = _fallbacks(returns_from_a_region, (0, None), x, w)
    assert msgs and not any("whole function" in m for m in msgs), msgs
    for B in SIZES:
        assert_vmap_equivalent(returns_from_a_region, (0, None), 0, _x(B, 3), w, allow_fallback=True)


# ---- the empty batch ---------------------------------------------------------------------------------------
def _without_source():
    ns = {"np": np}
    exec("def scaled(x, w):\n    return (x * w).astype(np.float32), len(x)\n", ns)  # (no file: no source)
    return ns["scaled"]


def test_the_empty_batch_of_a_whole_function_loop_has_the_probe_shape():
    scaled = _without_source()
    msgs = _fallbacks(scaled, (0, None), _x(2, 3), RNG.normal(size=3))
    assert any("whole function" in m for m in msgs), msgs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out, n = astvmap.vmap(scaled, (0, None))(_x(0, 3), RNG.normal(size=3))
    assert out.shape == (0, 3) and out.dtype == np.float32 and n.shape == (0,) and n.dtype.kind == "i"


def failing_probe(x):
    return np.linalg.cholesky(np.zeros((3, 3)) + x[0])


def test_an_empty_batch_whose_probe_raises_is_a_clear_error():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="batch of size 0"):
            astvmap.vmap(lambda x: {k: failing_probe(x) for k in "a"}["a"])(_x(0, 3))


# ---- a generator of programs wrapped in real code's statements (tests/stmtgen.py) -----------------------
# Seeds of the samples that fail today, each for a reason the unwrapped program shares (test_fuzz's
# KNOWN_FAILING): at B=0 a per-example branch's dtype is that of a zero example's branch.
WRAPPED_KNOWN = [10]


def _seeds(env: str, default: str, known: tuple[int, ...] = ()) -> list[int]:
    lo, _, hi = os.environ.get(env, default).partition("-")
    return [s for s in range(int(lo), int(hi or lo) + 1) if env in os.environ or s not in known]


@pytest.mark.parametrize("seed", _seeds("ASTVMAP_STMT_SEEDS", "0-59", tuple(WRAPPED_KNOWN)))
def test_wrapped_programs(seed, tmp_path):
    import fuzzgen

    assert fuzzgen.run_case(seed, tmp_path, n_configs=2, rewrite=stmtgen.wrap) > 0


@pytest.mark.parametrize("seed", _seeds("ASTVMAP_STMT_STORE_SEEDS", "0-29"))
def test_wrapped_programs_with_stores(seed, tmp_path):
    import fuzzgen

    assert fuzzgen.run_case(seed, tmp_path, n_configs=2, extra=("stores",), rewrite=stmtgen.wrap) > 0


# ---- what a region may not share between examples, and effects the loop has once per example ----------
def raises_key_error_on_some(x, w):
    try:
        if x[0] < 0:
            raise KeyError("negative")
        y = x * 2
    except KeyError:
        y = x * 0
    return y + w


_TABLE = {0: 1.0, 1: 2.0}


def looks_up_a_per_example_key(x, w):
    try:
        v = _TABLE[int(x[0] > 0) + int(x[1] > 0)]
    except KeyError:
        v = 0.0
    return x * v + w


def mixed_dict(x, w):
    opts = {"k": x[0], "w": np.arange(10.0)}
    try:
        y = x * opts["k"] + opts["w"].sum() + w
        if y[0] > 1e9:
            raise ValueError
    except ValueError:
        y = x
    return y


def _sum_all(*args):
    total = 0.0
    for a in args:  # (a batched item on some iterations only)
        try:
            total = total + float(a.sum())
        except ValueError:
            total = -1.0
    return total


def mixed_star_args(x, w):
    return _sum_all(x, w)


def shared_iterator(x, w):
    it = iter([10.0, 20.0, 30.0])
    try:
        v = next(it) + x.sum()
        if v > 1e9:
            raise ValueError
    except ValueError:
        v = 0.0
    return v + w


def closure_appends(x, w):
    acc = []

    def add(v):
        acc.append(v)

    try:
        add(float(x[0]))
        if x[1] > 1e9:
            raise ValueError
    except ValueError:
        pass
    return np.array(acc) + w


def keys_per_example(x, w):
    d = {}
    try:  # noqa: SIM105  (the statement under test)
        d["pos" if x[0] > 0 else "neg"] = float(x[0])
    except ValueError:
        pass
    return len(d) + w


def list_made_by_a_call(x, w):
    try:
        idx = np.argsort(x).tolist()
        if x[0] > 1e9:
            raise ValueError
    except ValueError:
        idx = [0, 0, 0]
    return np.array(idx) + w


def bound_on_some_examples_read_on_those(x, w):
    try:
        if x[0] > 0:
            y = x * 2
        if x[1] > 1e9:
            raise ValueError
    except ValueError:
        pass
    if x[0] > 0:
        return y + w
    return x


class _Fields:
    a = 1.5


def getattr_per_example(x, w):
    try:
        v = getattr(_Fields, "a" if x[0] > 0 else "c")  # (an AttributeError on some examples)
    except AttributeError:
        v = 0.0
    try:
        n = x.shape[0]  # (an AttributeError for every example or none: batched as written)
    except AttributeError:
        n = 1
    return x * v * n + w


REVIEWED = [
    getattr_per_example,
    raises_key_error_on_some,
    looks_up_a_per_example_key,
    mixed_dict,
    mixed_star_args,
    shared_iterator,
    closure_appends,
    keys_per_example,
    list_made_by_a_call,
    bound_on_some_examples_read_on_those,
]


@pytest.mark.parametrize("B", SIZES)
@pytest.mark.parametrize("f", REVIEWED, ids=lambda f: f.__name__)
def test_regions_give_each_example_what_the_loop_gives_it(f, B):
    x = _x(B, 3)
    x[::2, 0] = -np.abs(x[::2, 0])  # examples on both sides of every per-example condition
    assert_vmap_equivalent(f, (0, None), 0, x, RNG.normal(size=3), allow_fallback=True)


_LOG: list = []


def appends_to_a_global(x):
    _LOG.append(1)
    return x * 2


def appends_in_finally(x):
    try:
        y = x * 2
    finally:
        _LOG.append(1)
    return y


class _Counter:
    def __init__(self):
        self.calls = 0

    def scaled(self, v):
        self.calls += 1
        return v * 2.0

    def __enter__(self):
        self.calls += 1

    def __exit__(self, *exc):
        return False


def counts_calls(m, x):
    return m.scaled(x)


def enters(x, m):
    with m:
        k = 3
    return x * k


def increments_an_argument(x, w):
    w[0] = w[0] + 1
    return x + w[0]


def test_effects_outside_the_call_happen_once_per_example():
    x = _x(3, 2)
    for f in (appends_to_a_global, appends_in_finally):
        _LOG.clear()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            astvmap.vmap(f)(x)
        assert len(_LOG) == 3, f.__name__
    for f, in_axes in ((counts_calls, (None, 0)), (enters, (0, None))):
        m = _Counter()
        args = (m, x) if in_axes[0] is None else (x, m)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            astvmap.vmap(f, in_axes)(*args)
        assert m.calls == 3, f.__name__
    w = np.zeros(2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = astvmap.vmap(increments_an_argument, (0, None))(np.zeros((3, 2)), w)
    assert w[0] == 3 and out[:, 0].tolist() == [1.0, 2.0, 3.0]


def python_number_of_an_item(x, w):
    k = x[0].item()
    if isinstance(k, int):  # per example a Python int: true in the loop
        return x * 2 + k
    return x * 3 + k


@pytest.mark.parametrize("dtype", ["int64", "float32", "bool"])
def test_an_items_python_number_is_one_per_example(dtype):
    x = (RNG.normal(size=(5, 3)) * 4).astype(dtype)
    assert_vmap_equivalent(python_number_of_an_item, (0, None), 0, x, None, allow_fallback=True)


def _unset_setting(x):
    s = os.environ.get("ASTVMAP_A_SETTING_NO_TEST_SETS")  # (None: a value the rewrite cannot know)
    return x * s if s is not None else x + 1


def _unset_setting_and(x):
    s = os.environ.get("ASTVMAP_A_SETTING_NO_TEST_SETS")
    return s is not None and x * s


@pytest.mark.parametrize("f", [_unset_setting, _unset_setting_and])
def test_a_part_python_skips_binds_its_temporaries_inside_it(f):
    # Python never evaluates the branch it does not take, nor the right side of a decided `and`: the
    # temporaries that branch's code needs are bound inside it, not in a statement before the whole one
    x = np.arange(6.0).reshape(3, 2)
    assert_vmap_equivalent(f, 0, 0, x)
    vf = astvmap.vmap(f)
    vf(x)
    body = ast.parse(vf.source).body[0].body
    hoisted = [s for s in body if isinstance(s, ast.Assign) and "align" in ast.unparse(s)]
    assert not hoisted, vf.source  # (`x * s` aligns its operands inside the branch)
