"""Reproducers a fourth review found: lists followed across helper calls (nesting.follow_given), each run
through the loop oracle by tests/test_list_items.py. f_<label>(x, w, s, c): x (5, 5) batched, w (5,)
unbatched, s (5,) batched, c a Python float; in_axes (0, None, 0, None)."""

import functools

import numpy as np


def _push(lst, v):
    lst.append(v)


# 1. helper that appends, called under a per-example `if` (base: whole-function fallback)
def f_under_if(x, w, s, c):
    lst = [w]
    if s > 0:
        _push(lst, x)
    return x * len(lst)


# 2. helper that appends in a loop (FLAKY: failed once, cold process, out: shape (5, 1) != expected (5, 4, 5); not reproduced since)
def _loop(lst, v):
    for i in range(3):
        lst.append(v * i)


def f_loop(x, w, s, c):
    lst = [w]
    _loop(lst, x)
    return np.stack(lst)


# 3. same list given to two parameters: h(lst, lst)
def _push_two(a, b, v):
    a.append(v)
    b.append(v * 2)


def f_same_list_twice(x, w, s, c):
    lst = [w]
    _push_two(lst, lst, x)
    return lst[1] + lst[-1] * 10


# 4. a local function shadows a module helper that returns a fresh list (resolve() sees the global)
def _mk(v):
    return [v]


def f_local_shadow(x, w, s, c):
    keep = [w]

    def _mk(v):
        return keep

    f = _mk(x)
    f.append(x)
    return keep[-1] * len(keep)


# 5. (check with globchk.py: oracle reruns f so the global grows) returns_fresh accepts `return NAME` of a global (no binding in the helper => "fresh")
_BUF = []


def _buf(v):
    return _BUF


def global_returned(x, w, s, c):
    lst = _buf(w)
    lst.append(x)
    return x * len(lst)


# 6. functools.partial of the appending helper (base: whole-function fallback)
def f_partial(x, w, s, c):
    lst = [w]
    p = functools.partial(_push, lst)
    p(x)
    return np.stack(lst)


# 7. (pre-existing, also at 8e75a9f) per-example region loop appends B times to the shared list
def _iadd(lst, v):
    lst += [v]


def f_iadd(x, w, s, c):
    lst = [w]
    _iadd(lst, x)
    return np.stack(lst)


def _star(*args):
    args[0].append(args[1])


def f_star(x, w, s, c):
    lst = [w]
    _star(lst, x)
    return np.stack(lst)
