"""The right code: astvmap rewrites the text Python runs, for the code object that runs now.

NOTE [source check] (astvmap/frontend/source.py): a text that is not what the running code was compiled
from (a file edited after import, `exec` under a borrowed file name, no text at all) runs the whole
function as the per-example loop with one PerformanceWarning; a swapped `__code__` or new defaults get
a new specialization; `clear_cache()` empties every cache.
"""

import importlib
import sys
import textwrap
import warnings

import numpy as np
import pytest
from oracle import loop_vmap

import astvmap
from astvmap import vmap


def _module(tmp_path, monkeypatch, name, text):
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(text))
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop(name, None)
    return importlib.import_module(name), path


def _quiet(f, *args):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = f(*args)
    return out, [w for w in caught if issubclass(w.category, astvmap.PerformanceWarning)]


@pytest.mark.parametrize(
    "edit",
    [
        lambda t: t.replace("x * 2.0", "x * 3.0"),  # the same lines, another constant
        lambda t: t.replace("x * 2.0", "x + 2.0"),  # another operator
        lambda t: "# a new first line\n" + t,  # everything moved down
        lambda t: t.replace("return x * 2.0", "y = x * 3.0\n    return y"),  # one line more
    ],
)
def test_a_file_edited_after_import_runs_what_python_runs(tmp_path, monkeypatch, edit):
    text = "import numpy as np\n\n\ndef double(x):\n    return x * 2.0\n"
    mod, path = _module(tmp_path, monkeypatch, "edited_module", text)
    path.write_text(edit(text))
    X = np.arange(6.0).reshape(3, 2)
    out, warned = _quiet(vmap(mod.double), X)
    np.testing.assert_array_equal(out, X * 2.0)  # what the imported code computes
    assert len(warned) == 1 and "not what Python runs" in str(warned[0].message)
    assert warned[0].filename == str(path) and warned[0].lineno == 4


def test_a_reloaded_module_is_rewritten_from_its_new_text(tmp_path, monkeypatch):
    text = "def double(x):\n    return x * 2.0\n"
    mod, path = _module(tmp_path, monkeypatch, "reloaded_module", text)
    X = np.arange(6.0).reshape(3, 2)
    np.testing.assert_array_equal(vmap(mod.double)(X), X * 2.0)
    path.write_text(text.replace("2.0", "5.0"))
    mod = importlib.reload(mod)
    out, warned = _quiet(vmap(mod.double), X)
    np.testing.assert_array_equal(out, X * 5.0)
    assert warned == []


def test_exec_under_a_real_file_name_is_not_rewritten_from_that_file():
    # the text compiled says `x + 100`; the file at that name and line says something else
    code = compile("def borrowed(x):\n    return x + 100.0\n", __file__, "exec")
    ns = {}
    exec(code, ns)
    X = np.arange(4.0).reshape(2, 2)
    out, warned = _quiet(vmap(ns["borrowed"]), X)
    np.testing.assert_array_equal(out, X + 100.0)
    assert len(warned) == 1


def with_an_assert(x):
    assert x.shape[0] > 0, "needs an element"  # pytest rewrites this module's asserts
    return np.sum(x * x)


def test_a_function_in_a_pytest_rewritten_module_is_rewritten():
    X = np.arange(6.0).reshape(3, 2)
    out, warned = _quiet(vmap(with_an_assert), X)
    np.testing.assert_array_equal(out, loop_vmap(with_an_assert, 0, 0, (X,)))
    assert warned == []


async def coroutine(x):
    return x


async def async_generator(x):
    yield x


@pytest.mark.parametrize("fn, what", [(coroutine, "`async def`"), (async_generator, "async generator")])
def test_async_functions_are_a_clear_error(fn, what):
    with pytest.raises(astvmap.AstvmapError, match=what) as e:
        vmap(fn)(np.ones((2, 3)))
    assert e.value.filename == __file__ and e.value.lineno is not None


# --------------------------------------------------------------------------- identity and caches


def scaled(x):
    return x * 2.0


def shifted(x):
    return x + 1.0


def with_default(x, k=2.0):
    return x * k


def test_a_swapped_code_object_runs_the_new_code():
    def f(x):
        return x * 2.0

    g = vmap(f)
    X = np.arange(6.0).reshape(3, 2)
    np.testing.assert_array_equal(g(X), X * 2.0)
    f.__code__ = shifted.__code__  # what %autoreload does
    np.testing.assert_array_equal(g(X), X + 1.0)
    f.__code__ = scaled.__code__
    np.testing.assert_array_equal(g(X), X * 2.0)


def test_new_defaults_are_read_at_call_time():
    def f(x, k=2.0):
        return x * k

    g = vmap(f)
    X = np.arange(6.0).reshape(3, 2)
    np.testing.assert_array_equal(g(X), X * 2.0)
    f.__defaults__ = (5.0,)
    np.testing.assert_array_equal(g(X), X * 5.0)
    f.__defaults__ = (np.arange(2.0),)  # another rank: another specialization
    np.testing.assert_array_equal(g(X), X * np.arange(2.0))


def test_clear_cache_empties_the_instances_caches_too():
    g = vmap(scaled)
    X = np.arange(6.0).reshape(3, 2)
    g(X)
    assert g._specs
    astvmap.clear_cache()
    g(X)
    assert len(g._specs) == 1 and g._generation == astvmap.api._GENERATION[0]


# --------------------------------------------------------------------------- concurrency

SCALE = 1.0


def plus_scaled(x):
    return x + SCALE * np.sum(x)


def times_scaled(x):
    return x * SCALE - 1.0


def test_swaps_between_calls_from_several_threads():
    """Threads call one vmapped function while its code and a global it reads are swapped: each result
    is the loop's under one state (never a mix of examples), and calls that start after a swap see it."""
    import threading

    global SCALE

    def f(x):
        return x + SCALE * np.sum(x)

    g = vmap(f)
    X = np.arange(12.0).reshape(4, 3)
    codes = {"plus": plus_scaled.__code__, "times": times_scaled.__code__}
    plain = {"plus": plus_scaled, "times": times_scaled}

    def expected(name, scale):
        global SCALE
        saved, SCALE = SCALE, scale
        try:
            return np.stack([plain[name](x) for x in X])
        finally:
            SCALE = saved

    states = [(name, s) for name in codes for s in (1.0, 3.0, np.float64(-2.0))]
    results = {state: expected(*state) for state in states}
    errors, stop = [], threading.Event()

    def racer():
        while not stop.is_set():
            out = g(X)
            if not any(np.array_equal(out, r) for r in results.values()):
                errors.append(out)

    threads = [threading.Thread(target=racer) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for k in range(60):  # swap while the threads call
            name, scale = states[k % len(states)]
            f.__code__, SCALE = codes[name], scale
            after = g(X)  # a call that starts after the swap
            assert np.array_equal(after, results[(name, scale)]), (name, scale)
    finally:
        stop.set()
        for t in threads:
            t.join()
        SCALE = 1.0
    assert not errors, errors[:1]


# --------------------------------------------------------------------------- attribute reads


class Config:
    w = np.ones(3)


CFG = Config()


def scaled_by_config(x):
    return x * CFG.w


def scaled_by_module(x):
    return x * np.e * CFG.w.sum()


def test_an_attribute_read_is_a_dependency_like_a_global():
    X = np.arange(6.0).reshape(2, 3)
    g = vmap(scaled_by_config)
    try:
        np.testing.assert_array_equal(g(X), X * 1.0)
        CFG.w = np.arange(12.0).reshape(4, 3)  # another rank: the code made for rank 1 no longer fits
        np.testing.assert_array_equal(g(X), loop_vmap(scaled_by_config, 0, 0, (X,)))
        CFG.w = np.full(3, 2.0)  # the same rank again: values are read at call time
        np.testing.assert_array_equal(g(X), X * 2.0)
        specs = len(g._specs)
        for k in range(5):  # a training loop reassigning cfg.w keeps its specialization
            CFG.w = np.full(3, float(k))
            np.testing.assert_array_equal(g(X), X * float(k))
        assert len(g._specs) == specs
    finally:
        CFG.w = np.ones(3)


TABLE = {"scale": 2.0, "shift": np.zeros(3)}


def _scaled(x):
    return x * TABLE["scale"]


def _shifted(x):
    return x + TABLE["shift"]


def scaled_and_shifted(x):
    return _scaled(x) + _shifted(x) + _scaled(x)


def test_a_value_many_callees_read_is_checked_once_per_call():
    # each call checks what its rewrite read; a dict three callees read is one check, not three
    g = vmap(scaled_and_shifted)
    X = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(g(X), loop_vmap(scaled_and_shifted, 0, 0, (X,)))
    (spec,) = g._specs.values()
    assert [d[2] for d in spec.deps].count("TABLE") == 1, spec.deps
    TABLE["shift"] = np.ones(3)  # (still checked: the value is read again)
    try:
        np.testing.assert_array_equal(g(X), loop_vmap(scaled_and_shifted, 0, 0, (X,)))
    finally:
        TABLE["shift"] = np.zeros(3)


class _Shapes:
    @staticmethod
    def scaled(x):  # (a method: indented, decorated)
        return x * 2


def test_a_definition_is_parsed_alone_with_its_positions_in_the_file():
    # a function's own lines are parsed (not its whole module), at the lines and columns the file has
    from astvmap.frontend.source import function_source

    src = function_source(_Shapes.scaled)
    node = src.fdef.body[0]
    assert node.lineno == _Shapes.scaled.__code__.co_firstlineno + 2
    assert node.col_offset == 8
    assert src.fdef.col_offset == 4
    X = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(vmap(_Shapes.scaled)(X), X * 2)
