"""Reproducers a review of the fresh-values feedback found (NOTE [fresh values], transform/feedback.py),
each compared with the loop by tests/test_fresh_values.py: f_<label>(x, m), x (B,) batched, m (2, 2)
unmapped. Several first write a batched value through a second name (`w = z; w[0] = x`), so that the
function is analysed again with what the first pass learned."""

import fresh_review_state
import numpy as np
from fresh_review_state import Holder


# 1. matrix_power(a, 1) is `a` itself: a contraction is not a new array by its trait
def f_matrix_power_local(x, m):
    a = np.zeros((2, 2))
    b = np.linalg.matrix_power(a, 1)
    b[0, 0] = x
    return a


def f_matrix_power_unmapped(x, m):
    y = np.linalg.matrix_power(m, 1)
    z = np.zeros(2)
    w = z
    w[0] = x
    y[0, 0] = y[0, 0] + 1  # (the loop adds B to the caller's m)
    return z + y[0, 0]


# 2. a name bound to a module or a class holds their arrays: it is not one that holds no buffer
def f_module_alias(x, m):
    mod = fresh_review_state
    z = np.zeros(2)
    w = z
    w[0] = x
    y = mod.ARR
    y[0] = y[0] + 1
    return z + y[0]


def f_class_alias(x, m):
    cls = Holder
    z = np.zeros(2)
    w = z
    w[0] = x
    y = cls.ARR
    y[0] = y[0] + 1
    return z + y[0]


def f_tuple_of_modules(x, m):
    ms = (fresh_review_state, np)
    z = np.zeros(2)
    w = z
    w[0] = x
    y = ms[0].ARR
    y[0] = y[0] + 1
    return z + y[0]


# 3. a module's function may return the module's array
def f_module_function(x, m):
    y = fresh_review_state.get_arr()
    y[0] = y[0] + 1
    return x + y[0]


# 4. an assignment expression in a comprehension binds the function's name
def f_walrus_in_comprehension(x, m):
    y = None
    z = np.zeros(2)
    w = z
    w[0] = x
    [(y := m) for _ in range(1)]
    y[0] += 1
    return z + y[0, 0]


# 5. a branch's temporaries in a comprehension's iterable (no assignment expression there)
def f_branch_in_iterable(x, m):
    v = m[0] + x
    return np.array([r.sum() for r in (np.vander(v) if m.shape[0] > 1 else v[:, None])])


# 6. an unrolled loop takes its items once, whatever the body binds
def f_loop_rebinds_its_iterable(x, m):
    args = [x, m[0], 1.0]
    out = []
    for a in args:
        out.append(np.sum(a))
        args = [m, m, m]
    return out[0] + out[1] + out[2]


def f_loop_target_is_its_iterable(x, m):
    args = (x, m[0])
    acc = []
    for args in args:  # noqa: B020 (what is tested)
        acc.append(args * 2)
    return acc[0] + acc[1]


# 7. (older) `out` given by position: `np.sum(a, 0, None, o)` writes into `o` and returns it
def f_out_by_position(x, m):
    o = np.zeros(3)
    r = np.sum(np.ones((2, 3)) * x, 0, None, o)
    z = np.zeros(2)
    w = z
    w[0] = x
    r[0] = 7.0
    return o + z[0]


# found by a second review
# 8. a module's function is "own" only where each return gives what it made or its caller gave
def f_own_via_helper(x, m):
    y = fresh_review_state.get_via_helper()
    y[0] = y[0] + 1  # (the loop adds B to the module's array)
    return x + y[0]


def f_own_via_globals(x, m):
    y = fresh_review_state.get_via_globals()
    y[0] = y[0] + 1
    return x + y[0]


def f_own_via_closure(x, m):
    y = fresh_review_state.get_via_closure()
    y[0] = y[0] + 1
    return x + y[0]


def f_own_default(x, m):
    y = fresh_review_state.get_default()
    y[0] = y[0] + 1
    return x + y[0]


def f_own_bound(x, m):
    y = fresh_review_state.get_bound()
    y[0] = y[0] + 1
    return x + y[0]


def f_own_partial(x, m):
    y = fresh_review_state.get_partial()
    y[0] = y[0] + 1
    return x + y[0]


# 9. `*shapes` of a list built by appends may be empty
def f_broadcast_shapes_of_none(x, m):
    xs = []
    for _ in range(int(m[0, 0])):
        xs.append((2,))
    s = np.broadcast_shapes(*xs)
    return x * 2 if len(s) == 1 else x


# 10. an unrolled loop's items are read when the loop starts
def _bump_into(z):
    z += 10


def f_items_read_at_start(x, m):
    z = np.ones(2)
    acc = []
    for a in (x, z.sum()):
        _bump_into(z)
        acc.append(a * 1.0)
    return acc[0] + acc[1]


# 11. NumPy results that may be an argument itself
def f_diff_of_order_zero(x, m):
    a = np.zeros(2)
    d = np.diff(a, n=0)
    d[0] = x
    return a


def f_einsum_view(x, m):
    a = np.zeros((2, 2))
    d = np.einsum("ii->i", a)
    d[0] = x
    return a


def f_sum_of_nothing(x, m):
    a = np.zeros(2)
    s = sum([], a)
    s[0] = x
    return a
