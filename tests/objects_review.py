"""Reproducers found reviewing objects made in the function, list and dict item constants and Val.choices
(tests/test_objects.py runs each through the loop oracle). Every f_<label>(x, w, s, c): x (5, 5) batched,
w (5,) unbatched, s (5,) batched, c a Python float unbatched."""

import functools
import math

import numpy as np


def pick(v, x):  # a branch on a Python value: a stale constant picks the wrong side
    if v == 1.0:
        return x
    return -x


def setf(l):
    l[0] = 5.0


# ---------------------------------------------------------------- A. objects: protocols run the class's own
# methods on the batch-wide attributes (the made object is a real instance holding (B, ...) arrays)
class D:
    def __init__(self, a):
        self.a = a

    def __call__(self, y):
        return y - self.a.mean()

    def __neg__(self):
        return self.a - self.a.mean()

    def __abs__(self):
        return np.abs(self.a).max()

    def __eq__(self, o):
        return float(np.abs(self.a - o.a).max())

    def __iter__(self):
        return iter([self.a, self.a * 2.0])

    def __add__(self, o):
        return D(self.a + o.a)

    def __bool__(self):
        return False

    def __len__(self):
        return 7


def f_dunder_call(x, w, s, c):  # WRONG values
    return D(x)(w)


def f_dunder_neg(x, w, s, c):  # WRONG values
    return -D(x)


def f_dunder_abs(x, w, s, c):  # WRONG shape (1,5)
    return abs(D(x)) + w


def f_dunder_eq(x, w, s, c):  # WRONG shape (1,5)
    return (D(x) == D(x * 0.5)) + w


def f_dunder_iter(x, w, s, c):  # WRONG shape (5,5,5)
    t = 0.0
    for v in D(x):
        t = t + v
    return t


def f_dunder_add(x, w, s, c):  # CRASH AttributeError
    o = D(x) + D(w)
    return o.a * o.a


def f_dunder_bool(x, w, s, c):  # CRASH ValueError (reshape)
    return x if D(s) else -x


def f_dunder_len(x, w, s, c):  # CRASH AttributeError .shape
    return x * len(D(s))


# ---------------------------------------------------------------- B. objects: other
class Aug:
    def __init__(self, v):
        self.v = v
        self.v += 1.0  # in place on the caller's array; rewritten as self.v = self.v + 1.0


def f_init_aug_inplace(x, w, s, c):  # WRONG: y not changed
    y = x.copy()
    o = Aug(y)
    return y + o.v


class Base:
    def __init__(self, a):
        self.a = a

    def get(self):
        return self.a


class Child(Base):
    def get(self):
        return super().get() * 2.0


class Child2(Base):
    def __init__(self, a, w):
        super().__init__(a)
        self.w = w


def f_super_method(x, w, s, c):  # WRONG shape (5,5,5)
    return Child(x).get() + w


def f_super_init(x, w, s, c):  # CRASH TypeError super(type, obj)
    o = Child2(x, w)
    return o.a + o.w


class Mangle:
    def __init__(self, a):
        self.__a = a

    def get(self):
        return self.__a


def f_mangle(x, w, s, c):  # CRASH AttributeError _Mangle__a
    o = Mangle(x)
    return o.get() + getattr(o, "_Mangle__a")  # noqa: B009 - the mangled name, spelled out


class Init2:
    def __init__(self, a):
        self.a = a


def f_init_replaced(x, w, s, c):  # WRONG after Init2.__init__ is replaced between calls (see main)
    return Init2(x).a


# ---------------------------------------------------------------- C. list items kept constant when the list
# is also held by a tuple/list/dict/object and read through it (items_read: non-Name node -> as is)
class P:
    def __init__(self, v, x):
        self.v = v
        self.x = x

    def setfirst(self):
        self.v[0] = 1.0


def f_obj_holds_list(x, w, s, c):  # WRONG
    lst = [1.0, 2.0]
    o = P(lst, x)
    lst[0] = 5.0
    return pick(o.v[0], o.x)


def f_attr_list_store(x, w, s, c):  # WRONG
    o = P([1.0, 2.0], x)
    o.v[0] = 5.0
    return pick(o.v[0], x)


def f_attr_list_method(x, w, s, c):  # WRONG
    o = P([5.0, 2.0], x)
    o.setfirst()
    return pick(o.v[0], o.x)


def f_tuple_holds_list(x, w, s, c):  # WRONG
    lst = [1.0, 2.0]
    t = (lst, x)
    lst[0] = 5.0
    return pick(t[0][0], x)


def f_list_holds_list(x, w, s, c):  # WRONG
    lst = [1.0, 0.0]
    outer = [lst]
    setf(lst)
    return pick(outer[0][0], x)


def f_tuple_holds_dict(x, w, s, c):  # WRONG
    d = {"a": 1.0}
    t = (d,)
    d["a"] = 5.0
    return pick(t[0]["a"], x)


def f_tuple_list_reverse(x, w, s, c):  # WRONG
    lst = [1.0, 0.0]
    t = (lst, 1)
    lst.reverse()
    return pick(t[0][1], x)


def f_zip_holds_list(x, w, s, c):  # WRONG
    lst = [1.0, 0.0]
    pairs = list(zip([lst], [0]))
    lst[0] = 5.0
    return pick(pairs[0][0][0], x)


# ---------------------------------------------------------------- D. changes inside comprehensions not followed
def f_comp_reverse(x, w, s, c):  # WRONG
    lst = [1.0, 2.0]
    [lst.reverse() for _ in range(1)]
    return pick(lst[0], x)


def f_comp_pop(x, w, s, c):  # WRONG
    lst = [5.0, 1.0]
    [lst.pop(0) for _ in range(1)]
    return pick(lst[0], x)


def f_genexp_reverse(x, w, s, c):  # WRONG
    lst = [2.0, 1.0]
    any(lst.reverse() for _ in range(1))
    return pick(lst[0], x)


def f_dictcomp_update(x, w, s, c):  # CRASH ValueError (also before this commit)
    d = {"a": 5.0}
    {k: d.update(a=1.0) for k in "z"}
    return pick(d["a"], x)


# ---------------------------------------------------------------- E. Val.choices
FLOATS = (np.dtypes.Float16DType, np.dtypes.Float32DType, np.dtypes.Float64DType, np.dtypes.LongDoubleDType)


def which(t, x):
    if issubclass(t, FLOATS):
        return x
    return -x


def f_choices_helper_key(x, w, s, c):  # WRONG: which() specialized for float choices reused for int ones
    i = (x > 0).astype(int)
    return which(type(x.dtype), x) + which(type(i.dtype), x)


@functools.cache
def negzero(t):
    return -0.0 if t is np.dtypes.Float64DType else 0.0


def f_negzero_agreed(x, w, s, c):  # WRONG: _agreed takes -0.0 == 0.0 as agreeing
    if math.copysign(1.0, negzero(type(x.dtype))) > 0:
        return x
    return -x


# ---------------------------------------------------------------- F. unnecessary fallbacks / errors
class WithList:
    def __init__(self, x):
        self.hist = []
        self.hist.append(x)


def f_fallback_init_list(x, w, s, c):  # whole loop: ".append() of a list from outside"
    return WithList(x).hist[0]


def f_fallback_branch_obj(x, w, s, c):  # whole loop: "a call that may change `w` under a batched condition"
    o = P(x, 1.0) if s > 0 else P(w, 2.0)
    return o.v * o.x


def f_fallback_dunder_dict(x, w, s, c):  # whole loop ("the attribute ...")
    d = P(x, w).__dict__
    return d["v"] + len(d)


def f_error_bound_method(x, w, s, c):  # AstvmapError, same message
    m = D(x).__neg__
    return m()
