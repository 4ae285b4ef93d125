"""Reproducers of a review of the rewrite's facts about containers, sets, raising code and folded
introspection (each was a wrong result; tests/test_wrapper_review.py compares each with the loop)."""

import functools
import inspect

import numpy as np


def r1_f(x):
    s = {"a"}
    t = s
    s |= {"b"}  # same with -=, &=, ^=
    return x * len(t)


def _r2_two_pop(d, e):
    e.pop("a")
    return "a" in d


def r2_f(x):
    d = {"a": 0}
    return x * 2 if _r2_two_pop(d, d) else x * 3


def _r2_two_update(d, e):
    e.update(b=1)
    return "b" in d


def r2_g(x):
    d = {"a": 0}
    return x * 2 if _r2_two_update(d, d) else x * 3


def _r3_grow(l):
    if len(l) < 3:
        l.append(1.0)


def r3_f(x):
    lst = [1.0]
    n = 0
    for a in lst:
        n += 1
        _r3_grow(lst)
    return x * n


def r3_g(x):
    lst = [1.0]

    def more():
        if len(lst) < 3:
            lst.append(1.0)

    n = 0
    for a in lst:
        n += 1
        more()
    return x * n


def r4_f(x):
    if x.sum() > 10:
        try:
            x.reshape(5, 7)  # always ValueError
        except ValueError:
            return x * 2
    return x * 3


def _r4_one(x):
    return x * 2


def r4_g(x):
    if x.sum() > 10:
        try:
            _r4_one(x, 1)  # always TypeError
        except TypeError:
            return x * 2
    return x * 3


def r4_k(x):  # pre-existing
    if x.sum() > 10:
        try:
            y = x + x[:2]  # noqa: F841 (a ufunc that raises by shape: the point)
        except ValueError:
            return x * 2
    return x * 3


def r5_f(x):
    s = np.where(x > 5, "abc", "1.0")
    try:
        s.astype(float)  # raises only for examples holding an "abc"
    except ValueError:
        return x * 2
    return x * 3


def r5_g(x):
    s = "1.0" if x.sum() > 10 else "zz"
    try:
        np.asarray(s, dtype=float)  # raises only where s == "zz"
    except ValueError:
        return x * 2
    return x * 3


def _r5_parse(x):  # the same through a helper (its rewrite says it raises by shape only)
    return np.where(x > 5, "abc", "1.0").astype(float)


def r5_h(x):
    try:
        _r5_parse(x)
    except ValueError:
        return x * 2
    return x * 3


def _r6_check(x):
    if x[0] > 4:
        raise KeyError  # a class, not a call: no rule call counted
    return x


def r6_f(x):
    try:
        _r6_check(x)
    except KeyError:
        return x * 2
    return x * 3


def _r6_scan(x):
    i = 0
    while i < 3:
        if x[i] > 6:
            raise ValueError
        i += 1
    return x


def r6_h(x):
    try:
        y = _r6_scan(x)
    except ValueError:
        return x * 2
    return y * 3


def r7_target(a, b=1.0, *, c=2.0):
    return a


def r7_f(x):
    spec = inspect.getfullargspec(r7_target)
    spec.args[0] = "zz"
    return x * 2 if "zz" in spec.args else x * 3


def r7_g(x):
    spec = inspect.getfullargspec(r7_target)
    spec.kwonlydefaults.pop("c")
    return x * 2 if spec.kwonlydefaults else x * 3


def r7_h(x):
    spec = inspect.getfullargspec(r7_target)
    spec.annotations["k"] = int
    return x * 2 if "k" in spec.annotations else x * 3


def r8_f(x):
    t = (["a"], 0)
    t[0][0] = "zz"
    return x * 2 if "zz" in t[0] else x * 3


def r8_g(x):
    t = ({"a"}, 0)
    t[0].add("zz")
    return x * 2 if "zz" in t[0] else x * 3


def r8_h(x):
    d = {"r8_k": {"a": 1}}
    d["r8_k"].pop("a")
    return x * 2 if d["r8_k"] else x * 3


def r8_k(x):
    t = (["a"], 0)
    lst, _ = t
    lst[0] = "zz"
    return x * 2 if "zz" in t[0] else x * 3


def r9_inner(a, b=1.0):
    return a


@functools.wraps(r9_inner)
def r9_outer(*args, **kwargs):
    return r9_inner(*args, **kwargs)


def r9_f(x):
    return x * 2 if inspect.signature(r9_outer).parameters["b"].default == 5.0 else x * 3


def r10_f(x):
    d = {"a": 1}
    d.__init__(b=2)
    return x * 2 if "b" in d else x * 3


def r10_g(x):
    lst = ["a"]
    lst.__init__(["b"])
    return x * 2 if "b" in lst else x * 3


def r11_f(x):
    dicts = [{"z": 0}, {"z": 1}]
    for d in dicts:
        d.update(a=1)
    return x * 2 if "a" in dicts[0] else x * 3


def r11_g(x):
    dicts = [{"z": 0}]
    d = dicts[0]
    d.pop("z")
    return x * 2 if dicts[0] else x * 3


def r11_h(x):
    ls = [["a"]]
    for l in ls:
        l.append("b")
    return x * 2 if "b" in ls[0] else x * 3


def r11_k(x):
    dicts = [{"z": 0}, {"z": 1}]
    [d.pop("z") for d in dicts]
    return x * 2 if dicts[1] else x * 3
