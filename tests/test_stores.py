"""Python's store and alias rules in the batched code: one test per rule, each against the loop.

The mutation fuzzer (test_mutation.py) proves the rules on random programs; these are the forms that
broke them, found by review, each the smallest program that failed. ``LOOPED`` functions run as the
per-example loop by design (a warning, never a wrong result); every other one must batch.
"""

import copy
import warnings

import numpy as np
import pytest
from oracle import assert_vmap_equivalent

import astvmap
from astvmap import analysis
from astvmap.runtime import Weak, batch_broadcast


# ---- the whole right side before any target; what a held value views --------------------------------
def ellipsis_read_is_a_view(x):
    y = x.copy()
    a = y[0, ...]  # a 0-d view per example, not a copy
    y[0] = 100.0
    return a


def held_row_then_expanded(x):
    y = np.zeros((2, 4))
    y[0], y[1] = x, y[0]  # y[0] is held as a view, then written: y[1] gets x
    return y


def held_name_then_expanded(x):
    a = np.zeros(4)
    b = np.zeros(4)
    a[:], b[:] = x, a
    return a, b


def element_in_a_dict(x):
    y = x.copy()
    d = {"a": y[0]}
    y[0] = 100.0
    return d["a"]


def element_in_a_list(x):
    y = x.copy()
    out = [y[0]]
    y[0] = -1.0
    return out[0] + y[0]


# ---- names of one buffer ---------------------------------------------------------------------------
def chained_names(x):
    a = b = np.zeros(4)
    a[0] = x[0]
    return b


def closure_reads_after_a_branch(x):
    def g():
        return t + 1.0

    if x[0] > 0:
        t = x[1]
    else:
        t = x[2]
    return g()


# ---- augmented assignment and out= keep the array's dtype and casting ------------------------------
def float32_plus_equals(x):
    y = np.zeros(4, np.float32)
    y += x
    return y


def out_into_int(x):
    y = np.zeros(4, dtype=int)
    np.add(x, 1.0, out=y)  # the loop raises (same_kind casting)
    return y


def ufunc_out_under_if(x):
    y = x.copy()
    if x[0] > 0:
        np.add(y, 1.0, out=y)
    return y


def copyto_local(x):
    y = np.zeros(4)
    np.copyto(y, x)
    return y


def fill_local(x):
    y = np.zeros(4)
    y.fill(x[0])
    return y


def nested_branch_write(x):
    y = x.copy()
    if x[0] > -1:
        y[0] = 2.0 * x[0]
        if x[1] > 0:
            y[3] = y[1] * x[2]
    return y


def while_in_branch_writes(x):
    y = np.zeros(4)
    if x[1] > 0:
        k = 0
        while x[0] + k < 3 and k < 4:
            y[k % 4] = x[k % 4] + 1.0
            k += 1
    return y


# ---- Python numbers are weak ------------------------------------------------------------------------
def accumulate(x):
    acc = 0.0
    for j in range(3):
        acc = acc + x[j] * x[j]
    return acc


def horner(x):
    acc = 0.0
    for j in range(3):
        acc = acc * x[j] + 1.0
    return acc


def counter_meets_int32(x):
    k = 0
    for j in range(2):
        k = k + x[j]
    return k


def row_at_index_by_tuple(x):
    y = np.zeros((4, 4))
    (r,) = (y[int(x[0]) % 4],)  # a row view per example, held through a tuple target
    r[:] = 1.0
    return y


def chained_store_of_a_row(x):
    y = np.outer(x, x)
    y[:, 0] = y[:, 1] = y[int(x[1]) % 4]
    return y


def alias_rebound_on_a_path_not_taken(x, flag=False):
    y = np.zeros(4)
    r = y
    if flag:
        r = x * 1.0
    y[0] = 1.0
    return r


def condition_reads_what_the_body_writes(x):
    y = np.ones(4)
    if y[int(x[0]) % 4] > x[1]:
        y += 1.0
    return y


def unread_name_in_a_loop_branch(x):
    for j in range(3):
        if x[0] > 0:
            a, (b, _) = (x[1], (x[2], x[3]))
        else:
            a, (b, _) = (x[2], (x[1], x[0]))
    return a + b


def while_in_branch_scales(x):
    y = x.copy()
    if x[0] < 0:
        k = 0
        while x[1] * 3 > k and k < 4:
            y *= 0.5
            k += 1
    return y


# ---- run as the loop, by design -----------------------------------------------------------------------
def reshape_of_transpose(x):
    y = np.zeros((2, 2)).T
    r = y.reshape(4)  # a copy per example (not contiguous); batched it could be a view
    r[0] = x[0]
    return y


def select_of_aliases(x):
    y = x.copy()
    if x[0] > 0:
        t = y
    else:
        t = np.zeros(4)
    t[2] = 9.0
    return y


# ---- a 0-d value is an array or a NumPy scalar by how it was made (analysis/buffers.py) -------------
def zero_d_array_named_twice(x):
    y = np.asarray(np.sum(x))  # a 0-d array: `z += 1` writes into y too
    z = y
    z += 1.0
    return y, z


def zero_d_copy_named_twice(x):
    y = np.array(x[0])
    z = y
    z *= 2.0
    return y + 0.0, z


def zero_d_view_written(x):
    y = x.copy()
    r = y[1, ...]  # a 0-d view of y
    r += 1.0
    return y


def numpy_scalar_named_twice(x):
    s = x[0]  # a NumPy scalar: `t += 1` rebinds t, s keeps its value
    t = s
    t += 1.0
    return s, t


def where_result_named_twice(x):
    m = np.where(x[0] > 0, x[1], x[2])  # a 0-d array
    n = m
    n -= 1.0
    return m


def view_at_a_shifted_index(x, i=2):
    y = x.copy()
    a = y[i - 1, ...]  # an unbatched index: a 0-d view, batched as a column
    a += 1.0
    return y


def zero_d_of_unknown_kind(x):
    def pick(v):
        return v[0]

    y = pick(x)  # array or scalar: only the call tells
    if x[1] > 0:
        y = np.asarray(y)
    z = y
    z += 1.0
    return y, z


def looped_piece_views_a_written_array(x):
    y = x.copy()
    a = np.trim_zeros(y)  # no rule: a loop of this piece would stack copies of views of y
    a += 1.0
    return y


def split_pieces_hold_views(x):
    y = x.copy()
    parts = np.split(y, 2)  # a list of views of y (NumPy's source, rewritten: its `try` is static)
    parts[0][0] = 7.0
    return y


def looped_piece_holds_views(x):
    y = x.copy()
    parts = np.array_split(y, int(np.argmax(y)) + 1)  # a per-example number of views: the loop
    parts[0][0] = 7.0
    return y


BATCHED = [
    ellipsis_read_is_a_view,
    held_row_then_expanded,
    held_name_then_expanded,
    element_in_a_dict,
    element_in_a_list,
    chained_names,
    closure_reads_after_a_branch,
    float32_plus_equals,
    ufunc_out_under_if,
    nested_branch_write,
    while_in_branch_writes,
    accumulate,
    horner,
    alias_rebound_on_a_path_not_taken,
    condition_reads_what_the_body_writes,
    unread_name_in_a_loop_branch,
    while_in_branch_scales,
    zero_d_array_named_twice,
    zero_d_copy_named_twice,
    zero_d_view_written,
    numpy_scalar_named_twice,
    where_result_named_twice,
    view_at_a_shifted_index,
    split_pieces_hold_views,
]
LOOPED = [
    reshape_of_transpose,
    select_of_aliases,
    copyto_local,
    fill_local,
    row_at_index_by_tuple,
    chained_store_of_a_row,
    zero_d_of_unknown_kind,
    looped_piece_views_a_written_array,
    looped_piece_holds_views,
]


def _args(f, B, dtype):
    x = (np.arange(B * 4, dtype=np.float64).reshape(B, 4) % 7 - 2.5).astype(dtype)
    if f is counter_meets_int32:
        x = x.astype(np.int32)
    return (x,)


@pytest.mark.parametrize("f", BATCHED + [counter_meets_int32], ids=lambda f: f.__name__)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("B", [1, 3, 4])
def test_store_rules_batch_as_the_loop(f, dtype, B):
    assert_vmap_equivalent(f, 0, 0, *_args(f, B, dtype))
    assert_vmap_equivalent(f, -1, 0, *[np.moveaxis(a, 0, -1) for a in _args(f, B, dtype)])


@pytest.mark.parametrize("f", LOOPED, ids=lambda f: f.__name__)
def test_forms_that_run_as_the_loop_say_so(f):
    (x,) = _args(f, 3, np.float64)
    with pytest.warns(astvmap.PerformanceWarning):
        astvmap.vmap(f)(x.copy())
    assert_vmap_equivalent(f, 0, 0, x, allow_fallback=True)


def test_a_ufunc_out_casting_error_is_the_loops():
    (x,) = _args(out_into_int, 3, np.float64)
    with pytest.raises(TypeError):
        out_into_int(x[0])
    with pytest.raises(TypeError):
        astvmap.vmap(out_into_int)(x)


def test_a_float32_accumulator_keeps_float32():
    x = np.ones((5, 3), np.float32)
    assert astvmap.vmap(accumulate)(x).dtype == np.float32
    assert astvmap.vmap(horner)(x).dtype == np.float32


def view_bound_in_an_outer_branch(x, m, s, i):
    y1 = x.copy()
    for j5 in range(4):
        y7 = np.copy(y1)
        a8 = y7[j5, ...]
    if x[0] >= 0.0:
        r10 = y1[:]  # a view of the copy the outer branch borrowed
        if s > -0.86:
            t13 = x[i] - s
            _, (y1[1], r10[1:]) = (a8, (t13 * a8, (y1[0:3] - x[0:3]) * 0.5))
    return y1


def unknown_value_read_in_a_batched_while(x):
    a4 = x[int(x[0] > 0) + 1, ...]  # a piece's loop: a value of unknown kind, batched
    k = 0
    t = 0.0
    while k < np.abs(x[0]) * 3 and k < 4:  # lanes stop at different iterations
        t = t + a4
        k += 1
    return t


def test_nested_branches_and_batched_whiles_run_as_the_loop_where_lanes_would_not_follow():
    rng = np.random.default_rng(1)
    args = (rng.normal(size=(4, 4)), rng.normal(size=(4, 4, 4)), rng.normal(size=4), rng.integers(0, 4, 4))
    x = np.array([[0.5, 1.0, 2.0, 3.0], [2.0, 1.0, 5.0, 3.0], [1.0, 4.0, 2.0, 3.0]])
    for f, a in [(view_bound_in_an_outer_branch, args), (unknown_value_read_in_a_batched_while, (x,))]:
        with pytest.warns(astvmap.PerformanceWarning):
            astvmap.vmap(f)(*[np.copy(v) for v in a])
        assert_vmap_equivalent(f, 0, 0, *a, allow_fallback=True)


# ---- the alias facts ----------------------------------------------------------------------------------
def _facts(src):
    import ast

    return analysis.analyze(ast.parse(src).body[0]).aliases


def test_alias_classes_follow_views_not_copies():
    al = _facts(
        "def f(x):\n"
        "    y = np.zeros(5)\n    r = y[1:3]\n    t = y.T\n    z = y * 2.0\n    c = y.copy()\n"
        "    a = b = np.ones(3)\n    q = z.reshape(5)\n    r[0] = 1.0\n"
    )
    assert al.members("y") == {"y", "r", "t"}
    assert al.written("t") and not al.written("z")
    assert al.members("c") == {"c"} and al.members("a") == {"a", "b"}
    assert al.layout_dependent("z") and not al.layout_dependent("y")


def test_item_stores_and_list_methods_join_no_class():
    al = _facts("def f(x, w):\n    y = np.zeros(3)\n    y[0] = w[0]\n    lst = []\n    lst.append(x)\n")
    assert al.members("y") == {"y"} and not al.written("w") and not al.written("lst")


def test_starred_targets_pair_element_by_element():
    al = _facts("def f(x, y):\n    a, *rest = (x, y, y)\n")
    assert al.members("a") == {"a", "x"} and "x" not in al.members("rest")


def test_numpy_functions_may_view_their_arguments_unless_known_fresh():
    al = _facts(
        "def f(x):\n    y = x.copy()\n    a = np.trim_zeros(y)\n    p = np.split(y, 2)\n"
        "    s = np.sum(y)\n    e = np.exp(y)\n    c = np.concatenate([y, y])\n"
    )
    assert {"a", "p"} <= al.members("y")
    assert not {"s", "e", "c"} & al.members("y")


@pytest.mark.parametrize(
    "body, name, expected",
    [
        ("y = np.asarray(np.sum(x))", "y", True),  # made by np.asarray: an array
        ("y = x[0]", "y", False),  # a full integer index: a NumPy scalar
        ("y = x[1, ...]", "y", True),  # `...` keeps an array (a view)
        ("y = np.where(x[0] > 0, x[1], x[2])", "y", True),
        ("y = np.sum(x) * 2.0", "y", False),  # an operator gives a scalar
        ("s = x[0]\n    y = s.copy()", "y", False),  # the copy of a scalar is a scalar
        ("a = np.array(1.0)\n    y = a.copy()", "y", True),
        ("y = x[0]\n    y = np.asarray(y)", "y", None),  # bound both ways
        ("y = g(x)", "y", None),  # the user's function: unknown
        ("y = x[0]\n    z = y", "z", False),
    ],
)
def test_a_zero_d_value_is_an_array_or_a_scalar_by_how_it_was_made(body, name, expected):
    from astvmap.analysis.buffers import holds_buffer

    al = _facts(f"def f(x):\n    {body}\n")
    assert holds_buffer(al, name, lambda n: 1 if n == "x" else 0, frozenset()) is expected


def test_a_zero_d_kind_follows_the_bindings_that_reach_the_statement():
    import ast

    from astvmap.analysis.buffers import holds_buffer

    src = (
        "def f(x, s):\n    t = x[0]\n    v = s\n    for j in range(2):\n        t += 1.0\n"
        "        v, t = t, v\n    if x[1] > 0:\n        u = np.asarray(t)\n    else:\n        u = x[2]\n"
        "    w = s\n    if x[1] > 0:\n        w = x[1]\n    else:\n        w = x[2]\n"
    )
    fdef = ast.parse(src).body[0]
    facts = analysis.analyze(fdef)
    aug = next(n for n in ast.walk(fdef) if isinstance(n, ast.AugAssign))
    ifs = [n for n in fdef.body if isinstance(n, ast.If)]
    rank = lambda n: 1 if n == "x" else None
    # t: a scalar on the first iteration, and `v` (the scalar `s`, or `t`) after it: a cycle that defers
    assert holds_buffer(facts.aliases, "t", rank, frozenset({"s"}), aug, facts.binders) is False
    assert holds_buffer(facts.aliases, "u", rank, frozenset({"s"}), ifs[0], facts.binders, after=True) is None
    # w after the second `if`: only its branches' scalars reach there, not the unmapped `s`
    assert holds_buffer(facts.aliases, "w", rank, frozenset(), ifs[1], facts.binders, after=True) is False
    assert holds_buffer(facts.aliases, "w", rank, frozenset()) is None


# ---- Weak: a Python number repeated over the batch ---------------------------------------------------
def test_a_python_number_over_the_batch_is_weak():
    w = batch_broadcast(0.0, 3)
    x = np.ones(3, np.float32)
    assert isinstance(w, Weak) and w.dtype == np.float64
    assert (w * x).dtype == np.float32 and (x + w).dtype == np.float32
    assert isinstance(w + 1.0, Weak) and (w + 1.0).scalar == 1.0  # Python's `+` of two Python floats
    assert not isinstance(np.tanh(w), Weak)  # a NumPy function of a Python number is a NumPy scalar
    assert isinstance(w[1:], Weak) and w[1:].scalar == 0.0
    with pytest.raises(ZeroDivisionError):
        w / 0.0
    w[0] = 5.0
    assert (w * x).dtype == np.float64  # written: a plain array of the stacked numbers


def test_weak_never_reaches_the_caller():
    def zero_trips(x, n):
        acc = 0.0
        for j in range(n):
            acc = acc + x[j]
        return acc

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = astvmap.vmap(zero_trips, in_axes=(0, None))(np.ones((3, 2), np.float32), 0)
    assert type(out) is np.ndarray and out.dtype == np.float64
    assert type(copy.deepcopy(out)) is np.ndarray


@pytest.mark.parametrize(
    "f", [accumulate, horner, chained_names, element_in_a_list], ids=lambda f: f.__name__
)
def test_nested_vmaps_keep_the_rules(f):
    """Generated code batched again (vmap of vmap) keeps Python numbers weak and stores in order."""
    x = (np.arange(24, dtype=np.float32).reshape(2, 3, 4) % 5 - 2.0).astype(np.float32)
    with warnings.catch_warnings():
        # (the stores may run as the loop when nested: ranks of the inner code's expansions are unknown)
        warnings.simplefilter("error" if f in (accumulate, horner) else "ignore", astvmap.PerformanceWarning)
        got = astvmap.vmap(astvmap.vmap(f))(x)
    want = np.stack([np.stack([f(e) for e in row]) for row in x])
    assert got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=1e-6)
