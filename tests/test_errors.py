"""Exact behaviour of astvmap's errors and warnings (issues 2 and 3).

- call-time errors begin `vmap(<name>, in_axes=...):` and name arguments by parameter name, shape, axis;
- transform-time errors are `AstvmapError` (a `SyntaxError`) carrying the user's file and line;
- run-time NumPy errors inside generated code are re-raised unchanged with a note naming the user's line;
- fallback warnings are `astvmap.PerformanceWarning` located at the user's file and line;
- errors the loop raises (len() / indexing of a per-example scalar) still raise.
"""

import inspect
import math
import os
import re
import warnings

import numpy as np
import pytest

import astvmap
from astvmap import vmap

THIS_FILE = os.path.abspath(__file__)


def line_of(fn, text):
    """Line number in this file of the first line of ``fn``'s source containing ``text``."""
    lines, start = inspect.getsourcelines(fn)
    for k, line in enumerate(lines):
        if text in line:
            return start + k
    raise AssertionError(f"{text!r} not in the source of {fn.__name__}")


def assert_at(err, fn, text):
    """``err`` is an AstvmapError located at the line of ``fn`` holding ``text``, in this file."""
    assert isinstance(err, astvmap.AstvmapError)
    assert isinstance(err, SyntaxError)
    assert err.filename is not None and os.path.abspath(err.filename) == THIS_FILE, err.filename
    assert err.lineno == line_of(fn, text), (err.lineno, line_of(fn, text))
    if err.text is not None:
        assert text in err.text


def message(err):
    """The message without SyntaxError's `(file, line N)` suffix."""
    return err.msg if isinstance(err, SyntaxError) else str(err)


def add(x, y):
    return x + y


# =========================================================================== call-time errors


def test_inconsistent_batch_sizes_names_every_mapped_argument():
    with pytest.raises(astvmap.AstvmapError) as ei:
        vmap(add, in_axes=(0, 1))(np.ones((3, 2)), np.ones((2, 4)))
    msg = message(ei.value)
    assert msg.startswith("vmap(add, in_axes=(0, 1)):"), msg
    assert re.search(r"\bx\b.*\(3, 2\).*axis 0", msg), msg
    assert re.search(r"\by\b.*\(2, 4\).*axis 1", msg), msg
    assert "batch size" in msg


def test_inconsistent_batch_sizes_default_in_axes():
    with pytest.raises(astvmap.AstvmapError, match=r"^vmap\(add, in_axes=0\):") as ei:
        vmap(add)(np.ones((3, 2)), np.ones((4, 2)))
    msg = message(ei.value)
    assert re.search(r"\bx\b.*\(3, 2\)", msg) and re.search(r"\by\b.*\(4, 2\)", msg), msg


def test_inconsistent_batch_sizes_container_leaves():
    def f(params, x):
        w, b = params
        return w @ x + b

    with pytest.raises(astvmap.AstvmapError, match=r"^vmap\(.*f, in_axes=\(0, 0\)\):") as ei:
        vmap(f, in_axes=(0, 0))((np.ones((3, 2, 2)), np.ones((3, 2))), np.ones((5, 2)))
    msg = message(ei.value)
    assert "params" in msg and re.search(r"\bx\b.*\(5, 2\)", msg), msg


def conv(x, w):
    output = []
    for i in range(1, len(x) - 1):
        output.append(np.dot(x[i - 1 : i + 2], w))
    return np.array(output)


def test_in_axes_out_of_range_seed003():
    # seed 003's mistake: `vmap(conv, in_axes=(0, 1))` on 1-D arrays; axis 1 does not exist
    x = np.arange(5.0)
    w = np.array([1.0, 2.0, 3.0])
    with pytest.raises(astvmap.AstvmapError) as ei:
        vmap(conv, in_axes=(0, 1))(x, w)
    msg = message(ei.value)
    assert msg.startswith("vmap(conv, in_axes=(0, 1)):"), msg
    assert re.search(r"\bw\b", msg) and "axis 1" in msg and "(3,)" in msg, msg


def test_in_axes_negative_out_of_range():
    with pytest.raises(astvmap.AstvmapError, match=r"^vmap\(add, in_axes=\(-3, 0\)\):.*axis -3") as ei:
        vmap(add, in_axes=(-3, 0))(np.ones((2, 2)), np.ones(2))
    assert re.search(r"\bx\b", message(ei.value))


def test_in_axes_maps_a_scalar():
    with pytest.raises(astvmap.AstvmapError, match=r"^vmap\(add, in_axes=\(0, 0\)\):.*\bx\b.*scalar"):
        vmap(add, in_axes=(0, 0))(3.0, np.ones(3))


def test_in_axes_structure_mismatch_tuple_for_array():
    with pytest.raises(astvmap.AstvmapError) as ei:
        vmap(add, in_axes=((0, 0), 0))(np.ones(3), np.ones(3))
    msg = message(ei.value)
    assert msg.startswith("vmap(add, in_axes=((0, 0), 0)):"), msg
    assert re.search(r"\bx\b", msg) and "tuple" in msg, msg


def test_in_axes_too_many_entries():
    with pytest.raises(astvmap.AstvmapError, match=r"^vmap\(add, in_axes=\(0, 0, 0\)\):.*3 entries"):
        vmap(add, in_axes=(0, 0, 0))(np.ones(3), np.ones(3))


def test_in_axes_dict_unknown_parameter():
    with pytest.raises(astvmap.AstvmapError, match=r"^vmap\(add, in_axes=.*'z'"):
        vmap(add, in_axes={"x": 0, "z": 0})(np.ones(3), np.ones(3))


@pytest.mark.parametrize("bad", ["0", 1.0])
def test_in_axes_bad_entry_type(bad):
    with pytest.raises(astvmap.AstvmapError, match=r"^vmap\(add, in_axes=.*int, None"):
        vmap(add, in_axes=(bad, 0))(np.ones(3), np.ones(3))


def test_nothing_mapped_needs_axis_size():
    with pytest.raises(astvmap.AstvmapError, match=r"^vmap\(add, in_axes=None\):.*axis_size") as ei:
        vmap(add, in_axes=None)(np.ones(3), np.ones(3))
    assert "batch size" in message(ei.value)
    out = vmap(add, in_axes=None, axis_size=2)(np.ones(3), np.ones(3))
    assert out.shape == (2, 3) and out.flags.writeable


def test_axis_size_disagrees_with_mapped_size():
    with pytest.raises(astvmap.AstvmapError, match=r"^vmap\(add, in_axes=0\):.*axis_size=5.*3"):
        vmap(add, axis_size=5)(np.ones(3), np.ones(3))


def test_out_axes_tuple_length_mismatch():
    def two(x):
        return x, x

    with pytest.raises(astvmap.AstvmapError, match=r"out_axes=\(0, 0, 0\).*tuple of 2"):
        vmap(two, out_axes=(0, 0, 0))(np.ones(3))


def batched_out(x):
    y = x * 2.0
    return y + 1.0


def test_out_axes_none_with_batched_output_points_at_return():
    with pytest.raises(astvmap.AstvmapError, match=r"out_axes=None") as ei:
        vmap(batched_out, out_axes=None)(np.ones((3, 2)))
    assert message(ei.value).startswith("vmap(batched_out, in_axes=0):")
    assert_at(ei.value, batched_out, "return y + 1.0")


def test_out_axes_none_with_unbatched_output_is_fine():
    def const(x):
        return np.ones(2)

    out = vmap(const, out_axes=None)(np.ones((3, 2)))
    np.testing.assert_array_equal(out, np.ones(2))


# =========================================================================== unsupported syntax


def gen(x):
    yield x * 2


G = 0


def writes_global(x):
    global G
    G = x
    return x


def test_yield_is_an_error_at_its_line():
    with pytest.raises(astvmap.AstvmapError, match=r"^vmap\(gen, in_axes=0\):.*`yield`") as ei:
        vmap(gen)(np.ones(3))
    assert_at(ei.value, gen, "yield x * 2")


def test_global_is_an_error_at_its_line():
    with pytest.raises(astvmap.AstvmapError, match=r"^vmap\(writes_global, in_axes=0\):.*`global`") as ei:
        vmap(writes_global)(np.ones(3))
    assert_at(ei.value, writes_global, "global G")
    assert G == 0


def test_error_is_a_syntaxerror_with_a_caret():
    with pytest.raises(SyntaxError) as ei:
        vmap(gen)(np.ones(3))
    err = ei.value
    assert err.offset is not None and err.offset >= 1
    assert err.text is not None and "yield" in err.text[err.offset - 1 :]


def test_function_without_source_runs_as_the_loop():
    ns = {"np": np}
    exec("def made_by_exec(x):\n    return x + 1\n", ns)
    X = np.arange(6.0).reshape(3, 2)
    with pytest.warns(astvmap.PerformanceWarning, match=r"per-example loop: no source for made_by_exec"):
        np.testing.assert_array_equal(vmap(ns["made_by_exec"])(X), X + 1)
    with pytest.raises(astvmap.AstvmapError, match=r"no source for made_by_exec") as ei:
        vmap(ns["made_by_exec"], fallback="error")(X)
    msg = message(ei.value)
    assert msg.startswith("vmap(made_by_exec")
    assert "exec" in msg


def test_lambda_without_source_runs_as_the_loop():
    lam = eval("lambda x: x * 2")
    with pytest.warns(astvmap.PerformanceWarning, match=r"no source"):
        np.testing.assert_array_equal(vmap(lam)(np.ones((2, 3))), np.full((2, 3), 2.0))


def test_truthiness_of_per_example_array():
    def tr(x):
        if x > 0:
            return x
        return -x

    with pytest.raises(astvmap.AstvmapError, match=r"ambiguous|np\.any|np\.all") as ei:
        vmap(tr)(np.ones((3, 2)))
    assert_at(ei.value, tr, "if x > 0")


# =========================================================================== run-time errors


def shape_mismatch(x):
    y = x * 2.0
    return y + np.ones(3)


def test_runtime_numpy_error_reraised_with_note():
    with pytest.raises(ValueError, match="broadcast") as ei:
        vmap(shape_mismatch)(np.ones((2, 4)))
    e = ei.value
    assert type(e) is ValueError  # the original type, not wrapped
    assert not isinstance(e, astvmap.AstvmapError)
    notes = getattr(e, "__notes__", [])
    assert notes, "no note naming the user's line"
    note = "\n".join(notes)
    line = line_of(shape_mismatch, "return y + np.ones(3)")
    assert os.path.basename(THIS_FILE) in note, note
    assert re.search(rf"\bline {line}\b", note), note
    assert "y + np.ones(3)" in note


def test_runtime_error_in_helper_names_helper_line():
    def outer(x):
        def inner(y):
            return y + np.ones(3)

        return inner(x) * 2.0

    with pytest.raises(ValueError) as ei:
        vmap(outer)(np.ones((2, 4)))
    note = "\n".join(getattr(ei.value, "__notes__", []))
    assert os.path.basename(THIS_FILE) in note, note
    assert f"line {line_of(outer, 'return y + np.ones(3)')}" in note, note


def test_runtime_error_noted_once_and_traceback_shows_generated_code():
    with pytest.raises(ValueError) as ei:
        vmap(shape_mismatch)(np.ones((2, 4)))
    notes = [n for n in getattr(ei.value, "__notes__", []) if "astvmap" in n]
    assert len(notes) == 1, notes


# =========================================================================== fallback warnings

# Specializations are cached per code object, and a site warns once when its code is generated, so every
# test below defines its own function (its own code object): the tests do not depend on their order.


def _perf(rec):
    return [w for w in rec if issubclass(w.category, astvmap.PerformanceWarning)]


def test_fallback_warning_location_lexsort():
    def uses_lexsort(x):
        a = np.eye(3)
        return np.lexsort((x, a[0]))

    x = np.arange(12.0).reshape(4, 3)[:, ::-1]
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        out = vmap(uses_lexsort)(x)
    np.testing.assert_array_equal(out, np.argsort(x, axis=1, kind="stable"))
    perf = _perf(rec)
    assert len(perf) == 1, [str(w.message) for w in rec]
    w = perf[0]
    assert os.path.abspath(w.filename) == THIS_FILE
    assert w.lineno == line_of(uses_lexsort, "np.lexsort")
    assert issubclass(w.category, UserWarning)
    assert re.search(r"^vmap\(uses_lexsort, in_axes=0\):.*lexsort.*per-example loop", str(w.message)), str(
        w.message
    )


def test_fallback_warning_location_c_extension():
    def uses_gcd(a, b):
        return math.gcd(a, b)

    a = np.array([4, 6, 10, 7])
    b = np.array([6, 9, 4, 3])
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        out = vmap(uses_gcd)(a, b)
    np.testing.assert_array_equal(out, [2, 3, 2, 1])
    perf = _perf(rec)
    assert len(perf) == 1
    assert os.path.abspath(perf[0].filename) == THIS_FILE
    assert perf[0].lineno == line_of(uses_gcd, "math.gcd")
    assert "gcd" in str(perf[0].message)


def test_fallback_warns_once_per_site():
    def uses_lexsort(x):
        a = np.eye(3)
        return np.lexsort((x, a[0]))

    vf = vmap(uses_lexsort)
    x = np.arange(12.0).reshape(4, 3)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        vf(x)
        vf(x)
    assert len(_perf(rec)) == 1


def test_fallback_error_mode():
    def uses_lexsort(x):
        a = np.eye(3)
        return np.lexsort((x, a[0]))

    with pytest.raises(astvmap.AstvmapError, match=r"^vmap\(uses_lexsort, in_axes=0\):.*lexsort") as ei:
        vmap(uses_lexsort, fallback="error")(np.ones((2, 3)))
    assert_at(ei.value, uses_lexsort, "np.lexsort")


def test_fallback_error_mode_c_extension():
    def uses_gcd(a, b):
        return math.gcd(a, b)

    with pytest.raises(astvmap.AstvmapError, match="gcd") as ei:
        vmap(uses_gcd, fallback="error")(np.array([4, 6]), np.array([6, 9]))
    assert_at(ei.value, uses_gcd, "math.gcd")


# =========================================================================== errors the loop raises


def len_of_scalar(s):
    return len(s)


def index_of_scalar(s):
    return s[0]


def test_len_of_per_example_scalar_raises():
    with pytest.raises((astvmap.AstvmapError, TypeError)) as ei:
        vmap(len_of_scalar)(np.ones(3))
    if isinstance(ei.value, astvmap.AstvmapError):
        assert_at(ei.value, len_of_scalar, "len(s)")


def test_index_of_per_example_scalar_raises():
    with pytest.raises((astvmap.AstvmapError, IndexError)) as ei:
        vmap(index_of_scalar)(np.ones(3))
    if isinstance(ei.value, astvmap.AstvmapError):
        assert_at(ei.value, index_of_scalar, "s[0]")


def test_loop_error_raises_even_when_unmapped_vector_is_fine():
    # per-example x is a vector (len works); the same function on per-example scalars must raise
    def f(x):
        return len(x) * x

    out = vmap(f)(np.ones((2, 3)))
    np.testing.assert_array_equal(out, 3 * np.ones((2, 3)))
    with pytest.raises((astvmap.AstvmapError, TypeError)):
        vmap(f)(np.ones(3))


def test_fallback_error_mode_not_hidden_by_cached_warn_mode():
    # the cache must key on `fallback=`: a warn-mode specialization must not serve an error-mode call
    def uses_lexsort(x):
        return np.lexsort((x, np.eye(3)[0]))

    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        vmap(uses_lexsort)(np.ones((2, 3)))
    with pytest.raises(astvmap.AstvmapError, match="lexsort"):
        vmap(uses_lexsort, fallback="error")(np.ones((2, 3)))
