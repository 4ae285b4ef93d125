"""Review of constant folding (review 20): every reproducer of a wrong result, against the per-example loop.

Each case is a function the reviewer found folded, or batched, to a result (or an error) the loop does
not give. They are grouped by the rule each exercises; the cases still wrong today are strict xfails.
The functions live at module level: astvmap rewrites their real source.
"""

import collections
import dataclasses
import enum
import functools
import math
import operator
import warnings

import numpy as np
import pytest
from oracle import assert_vmap_equivalent

import astvmap

X = np.arange(6.0).reshape(3, 2)  # example sums 1, 5, 9
BAD_W = np.array([1.0, -1.0])
GOOD_W = np.array([1.0, 2.0])


def check(f, *args, in_axes=0, **kw):
    assert_vmap_equivalent(f, in_axes, 0, *args, **kw)


def check_across_change(f, change, undo):
    """One batched function called before and after ``change()``: both calls must equal the loop."""
    cache = {}
    check(f, X, vf_cache=cache)
    change()
    try:
        check(f, X, vf_cache=cache)
    finally:
        undo()


# ------------------------------------------------------------------------------------------------------
# Items of lists, dicts and records are never constants: a store into one is seen by later reads.


@dataclasses.dataclass
class Opt:
    flag: bool


def dict_item_stored(x):
    opts = {"scale": None}
    opts["scale"] = 2.0
    if opts["scale"] is None:
        return x
    return x * opts["scale"]


def list_item_stored(x):
    L = [True]
    L[0] = False
    return x + 1.0 if L[0] else x - 1.0


def dict_updated(x):
    d = {"k": True}
    d.update({"k": False})
    return x * 2.0 if d["k"] else x


def list_item_setitem_call(x):
    L = [True]
    operator.setitem(L, 0, False)
    return x + 1.0 if L[0] else x - 1.0


def dataclass_field_stored(x):
    o = Opt(True)
    o.flag = False
    return x + 1.0 if o.flag else x - 1.0


@pytest.mark.parametrize(
    "f",
    [dict_item_stored, list_item_stored, dict_updated, list_item_setitem_call, dataclass_field_stored],
)
def test_item_stores_are_seen(f):
    """Items of lists/dicts/records are forgotten when stored into, updated or handed to a writer."""
    check(f, X)


# ------------------------------------------------------------------------------------------------------
# len() of a list folds only where the function alone appends to it: any other change is seen.


def len_after_pop(x):
    lst = [None, None]
    lst.pop()
    return x * 2.0 if len(lst) == 2 else x * 3.0


def len_after_remove(x):
    lst = [None, None]
    lst.remove(None)
    return x * 2.0 if len(lst) == 2 else x * 3.0


def len_after_clear(x):
    lst = [None, None]
    lst.clear()
    return x * 2.0 if len(lst) == 2 else x * 3.0


def len_after_delitem(x):
    lst = [None, None]
    del lst[0]
    return x * 2.0 if len(lst) == 2 else x * 3.0


def len_of_popped_copy(x):
    lst = [None, None]
    c = lst[:]
    c.pop()
    return x * 2.0 if len(c) == 2 else x * 3.0


def len_after_bound_append(x):
    lst = [None]
    push = lst.append
    push(None)
    return x * 2.0 if len(lst) == 1 else x * 3.0


def len_after_nested_def_appends(x):
    lst = [None]

    def add():
        lst.append(None)

    add()
    return x * 2.0 if len(lst) == 1 else x * 3.0


def len_after_comprehension_appends(x):
    lst = [None]
    [lst.append(None) for _ in range(2)]
    return x * 2.0 if len(lst) == 1 else x * 3.0


def _append_then_len(y, a, b):
    a.append(None)
    return y * 2.0 if len(b) == 1 else y * 3.0


def len_through_aliased_params(x):
    lst = [None]
    return _append_then_len(x, lst, lst)


@pytest.mark.parametrize(
    "f",
    [
        len_after_pop,
        len_after_remove,
        len_after_clear,
        len_after_delitem,
        len_of_popped_copy,
        len_after_bound_append,
        len_after_nested_def_appends,
        len_after_comprehension_appends,
        len_through_aliased_params,
    ],
)
def test_len_of_a_changed_list(f):
    """len() of a list changed by pop/remove/clear/del, a bound method, an inner scope or an alias."""
    check(f, X)


# ------------------------------------------------------------------------------------------------------
# A decided test that calls something still runs: its raise (or side effect) is not dropped.


def validate(a):
    if np.any(a < 0):
        raise ValueError("negative weights")
    return True


def invalid(a):
    if np.any(a < 0):
        raise ValueError("negative weights")
    return False


def decided_if(x, w):
    if validate(w):
        return x * w
    return x


def decided_ifexp(x, w):
    return x * w if validate(w) else x


def decided_while(x, w):
    while invalid(w):
        pass
    return x * w


def decided_if_not(x, w):
    if not invalid(w):
        return x * w
    return x


def decided_comprehension_filter(x, w):
    t = (x, None)
    return [a * w for a in t if validate(w) and a is not None][0]  # noqa: RUF015


def decided_if_appends(x):
    lst = []
    if lst.append(3.0):
        pass
    return x * lst[0]


DECIDED_TESTS = [decided_if, decided_ifexp, decided_while, decided_if_not, decided_comprehension_filter]


@pytest.mark.parametrize("f", DECIDED_TESTS)
def test_decided_test_still_raises(f):
    """A test decided at rewrite time that calls a validator raises as the loop does."""
    check(f, X, BAD_W, in_axes=(0, None), allow_fallback=True)
    with warnings.catch_warnings(), pytest.raises(ValueError, match="negative weights"):
        warnings.simplefilter("ignore", astvmap.PerformanceWarning)
        astvmap.vmap(f, in_axes=(0, None))(X, BAD_W)


@pytest.mark.parametrize("f", DECIDED_TESTS)
def test_decided_test_passes_through(f):
    """The same decided tests with valid weights take the loop's path."""
    check(f, X, GOOD_W, in_axes=(0, None), allow_fallback=f is decided_comprehension_filter)


def test_decided_test_side_effect_runs():
    """`if lst.append(...)`: the append in a decided test runs (it raised IndexError inside the rewrite)."""
    check(decided_if_appends, X)


# ------------------------------------------------------------------------------------------------------
# A try body that branches on a per-example value, or computes on Python numbers, is not uniform: it may
# raise for some examples only.


def try_assert(x):
    ok = x.sum() > 3
    try:
        assert ok
    except AssertionError:
        return x * 0.0
    return x


def try_if_divides(x):
    ok = x.sum() > 3
    z = 0
    try:
        if ok:
            z = 1 // 0
    except ZeroDivisionError:
        z = -1
    return x * z


def try_ifexp_divides(x):
    ok = x.sum() > 3
    try:
        z = 1.0 if ok else 1 // 0
    except ZeroDivisionError:
        z = -1.0
    return x * z


def try_or_int(x):
    ok = x.sum() > 3
    try:
        z = ok or int("bad")
    except ValueError:
        z = 7
    return x * z


def try_while_divides(x):
    ok = x.sum() > 3
    z = 0
    try:
        while ok:
            z = 1 // 0
    except ZeroDivisionError:
        z = -1
    return x * z


def try_if_raise_then_work(x):
    ok = x.sum() > 3
    try:
        if ok:
            raise ValueError("no")
        y = x * 2.0
    except ValueError:
        y = x * 0.0
    return y


def try_python_floordiv(x):
    v = int(x[0])
    try:
        r = 10 // v
    except ZeroDivisionError:
        r = -1
    return x * r


def try_math_sqrt(x):
    v = float(x[0]) - 1.0
    try:
        r = math.sqrt(v)
    except ValueError:
        r = -1.0
    return x * r


@pytest.mark.parametrize(
    "f",
    [
        try_assert,
        try_if_divides,
        try_ifexp_divides,
        try_or_int,
        try_while_divides,
        try_if_raise_then_work,
        try_python_floordiv,
        try_math_sqrt,
    ],
)
def test_try_body_raising_for_some_examples(f):
    """A try body under a batched condition, or on per-example Python numbers, raises per example."""
    check(f, X, allow_fallback=True)


# ------------------------------------------------------------------------------------------------------
# Constants compare by type and value: -0.0 is not 0.0, an IntEnum member is not its int.

SHIFT = 0.0


def sign_of_global(x):
    if math.copysign(1.0, SHIFT) < 0:
        return x - 1.0
    return x + 1.0


def _shift_by_sign(y, s):
    if math.copysign(1.0, s) < 0:
        return y - 1.0
    return y + 1.0


def callee_on_both_zeros(x):
    return _shift_by_sign(x, 0.0) * 10.0 + _shift_by_sign(x, -0.0)


class Mode(enum.IntEnum):
    A = 1


def _shift_by_type(y, m):
    if isinstance(m, Mode):
        return y + 1.0
    return y - 1.0


def callee_on_enum_and_int(x):
    return _shift_by_type(x, Mode.A) * 10.0 + _shift_by_type(x, 1)


def test_global_zero_becomes_negative_zero():
    """A global 0.0 rebound to -0.0 between calls is a new constant."""

    def set_shift(v):
        global SHIFT
        SHIFT = v

    check_across_change(sign_of_global, lambda: set_shift(-0.0), lambda: set_shift(0.0))


@pytest.mark.parametrize("f", [callee_on_both_zeros, callee_on_enum_and_int])
def test_callee_specialized_by_type_and_value(f):
    """A callee's specialization for 0.0 (or Mode.A) is not reused for -0.0 (or 1)."""
    check(f, X)


# ------------------------------------------------------------------------------------------------------
# dtype kinds include non-native byte orders; only type-level array attributes fold.


def by_isnative(x):
    return x * 2.0 if x.dtype.isnative else x * 3.0


def by_byteorder(x):
    return x * 2.0 if x.dtype.byteorder == "=" else x * 3.0


def by_itemsize(x):
    return x * 2.0 if x.itemsize == 8 else x * 3.0


def by_nbytes(x):
    return x * 2.0 if x.nbytes == 8 else x * 3.0


def by_base(x):
    return x * 2.0 if x.base is None else x * 3.0


def by_kind_of_bool_sum(x):
    s = sum([bool(v) for v in x])
    return np.ones(2) * (1.0 if np.asarray(s).dtype.kind == "b" else 2.0)


@pytest.mark.parametrize("f", [by_isnative, by_byteorder])
def test_dtype_of_big_endian_examples(f):
    """A big-endian '>f8' example is not a native float64: isnative and byteorder answer as the loop."""
    check(f, X.astype(">f8"))


@pytest.mark.parametrize(
    ("f", "x"),
    [(by_itemsize, X.astype(np.float32)), (by_nbytes, X), (by_base, X)],  # the loop's x[i] is a view
    ids=["itemsize-float32", "nbytes", "base"],
)
def test_array_attributes_not_folded_from_float64(f, x):
    """Array attributes that are not type-level are never answered from a float64 example (a loop is fine)."""
    check(f, x, allow_fallback=True)


@pytest.mark.xfail(
    strict=True, reason="sum() of Python bools folds the kind 'b' of its items, but its value is an int"
)
def test_kind_of_a_sum_of_python_bools():
    """The kind of sum([bool, ...]) is 'i', not the kind of its items."""
    check(by_kind_of_bool_sum, X)


# ------------------------------------------------------------------------------------------------------
# `is` folds only for singletons, classes, modules, functions and enum members: never for equal literals.


def is_of_equal_literals(x):
    a = 1000
    b = 1000
    return x + 1.0 if a is b else x - 1.0


def is_of_folded_power(x):
    a = 2**20
    b = 1048576
    return x + 1.0 if a is b else x - 1.0


@pytest.mark.parametrize("f", [is_of_equal_literals, is_of_folded_power])
def test_is_of_equal_literals(f):
    """`a is b` of two equal int literals is whatever CPython says (one code object merges co_consts)."""
    check(f, X)


# ------------------------------------------------------------------------------------------------------
# Comprehensions with inner scopes (lambdas) are not written out: their late binding is kept.


def late_binding_lambdas(x):
    t = (None, x, 3.0)
    fs = [lambda: a for a in t if a is not None]
    return x * fs[0]()


def star_lambda_over_loop_name(x):
    t = (x, None)
    return x * [(lambda *a: a[0])(5.0) for a in t if a is not None][0]  # noqa: RUF015


@pytest.mark.parametrize("f", [late_binding_lambdas, star_lambda_over_loop_name])
def test_comprehension_with_lambdas(f):
    """A lambda in an unrolled comprehension sees the last value of the loop name, or its own `a`."""
    check(f, X, allow_fallback=True)


# ------------------------------------------------------------------------------------------------------
# Truth of records and values that change between calls of one batched function.


class FalseyPair(collections.namedtuple("FalseyPair", "a b")):
    def __bool__(self):
        return False


def truth_of_record(x, p):
    return x + 1.0 if p else x - 1.0


def test_namedtuple_subclass_with_bool():
    """A namedtuple subclass with __bool__ is not truthy because it is a non-empty tuple."""
    check(truth_of_record, X, FalseyPair(1, 2), in_axes=(0, None))


class Cfg:
    pass


def by_hasattr(x):
    return x * 2.0 if hasattr(Cfg, "scale") else x


def test_hasattr_then_attribute_set():
    """hasattr(Cfg, ...) is asked again once the class gains the attribute."""
    check_across_change(by_hasattr, lambda: setattr(Cfg, "scale", 2.0), lambda: delattr(Cfg, "scale"))


MODE = "a"


@functools.lru_cache
def mode():
    return MODE


def by_cached_mode(x):
    return x + 1.0 if mode() == "a" else x - 1.0


def _set_mode(v):
    global MODE
    MODE = v
    mode.cache_clear()


@pytest.mark.xfail(
    strict=True, reason="an lru_cache function's folded result is kept after cache_clear() changes it"
)
def test_lru_cache_function_cache_cleared():
    """An lru_cache'd function whose cache is cleared between calls answers anew."""
    check_across_change(by_cached_mode, lambda: _set_mode("b"), lambda: _set_mode("a"))


def _by_default_list(y, opts=[True]):  # noqa: B006 - the mutable default is the case
    return y + 1.0 if opts[0] else y - 1.0


def calls_with_default_list(x):
    return _by_default_list(x)


def test_callee_default_list_mutated():
    """A callee's mutable default changed between calls is read anew."""
    defaults = _by_default_list.__defaults__[0]
    check_across_change(
        calls_with_default_list,
        lambda: defaults.__setitem__(0, False),
        lambda: defaults.__setitem__(0, True),
    )


# ------------------------------------------------------------------------------------------------------
# Rewrites that broke the function: `continue` elimination, set displays spread by index.


def continue_on_none(x):
    out = x * 0.0
    for a in (x, None, 2.0):
        if a is None:
            continue
        out = out + a
    return out


def star_of_set_display(x):
    return np.broadcast_to(x, np.broadcast_shapes(*{x.shape}))


def list_of_starred_set(x):
    return x * len([*{x.shape}])


def test_continue_on_none_is_rewritten():
    """`if a is None: continue` over a tuple is eliminated without an internal error."""
    check(continue_on_none, X)


@pytest.mark.parametrize("f", [star_of_set_display, list_of_starred_set])
def test_set_display_never_spread_by_index(f):
    """A set display spread with * is never rewritten as `{...}[0]` (a loop is fine)."""
    check(f, X, allow_fallback=True)


def test_continue_elimination_without_fallback():
    """The `continue` elimination batches with fallback='error' (it raised an internal error)."""
    check(continue_on_none, X, fallback="error")


# ------------------------------------------------------------------------------------------------------
# Writers: a callable with no source, methodcaller, and positional out= of NumPy functions count as writes.

source_less_writer = eval("lambda b, v: b.__setitem__(0, v)")  # no source to read


def source_less_writer_on_comprehension_variable(x):
    bufs = [np.zeros(2) for _ in range(2)]
    [source_less_writer(b, x[0]) for b in bufs]
    return bufs[0] + bufs[1]


def setitem_dunder_region(x):
    buf = np.zeros(2)
    buf.__setitem__(0, x[0])
    return buf * 1.0


def methodcaller_fill(x):
    buf = np.ones(2)
    if x.sum() > 3:
        operator.methodcaller("fill", 0.0)(buf)
    return x * buf


def clip_positional_out(x):
    buf = np.ones(2)
    if x.sum() > 3:
        np.clip(buf, 5.0, 6.0, buf)
    return x * buf


def dot_positional_out(x):
    buf = np.ones(2)
    if x.sum() > 3:
        np.dot(np.eye(2), np.full(2, 3.0), buf)
    return x * buf


def test_methodcaller_is_a_writer():
    """operator.methodcaller('fill', ...)(buf) under a batched if writes buf for those examples only."""
    check(methodcaller_fill, X, allow_fallback=True)


@pytest.mark.xfail(
    strict=True,
    reason="a source-less writer called per example on a comprehension variable: warned, wrong result",
)
def test_source_less_writer_on_comprehension_variable():
    """A writer without source, called on each buffer of a comprehension, writes every buffer."""
    check(source_less_writer_on_comprehension_variable, X, allow_fallback=True)


def test_setitem_dunder_region_loop():
    """buf.__setitem__(0, per-example value) gives each example its own buffer (the method is a change of
    buf, as `buf[0] = v` is: activity.MUTATING_METHODS)."""
    check(setitem_dunder_region, X, allow_fallback=True)


@pytest.mark.parametrize("f", [clip_positional_out, dot_positional_out])
def test_positional_out_under_batched_if(f):
    """np.clip(buf, lo, hi, buf) and np.dot(a, b, buf) under a batched if write buf per example."""
    check(f, X, allow_fallback=True)
