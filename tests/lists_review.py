"""Reproducers a third review found: lists of objects made in the function, dicts and lists changed in
ways the rewrite must follow or refuse (tests/test_list_items.py runs each through the loop oracle).
f_<label>(x, w, s, c): x (5, 5) batched, w (5,) unbatched, s (5,) batched, c a Python float."""

import numpy as np


# ---- 1. a list of objects made in the function whose attributes differ in batchedness, iterated:
# the joined RECORD item says every field batched, but the unbatched fields are never repeated over the batch
class Sc:
    def __init__(self, mu, sd):
        self.mu = mu
        self.sd = sd

    def apply(self, v):
        return (v - self.mu) / self.sd

    def first(self):
        return self.mu[0] / self.sd


def f_objs_loop_silent(x, w, s, c):  # WRONG values (base: whole-function fallback, correct)
    objs = [Sc(np.outer(x, w), s), Sc(np.outer(w, w + 1.0), s)]
    t = 0.0
    for o in objs:
        t = t + o.first()
    return t


def f_objs_loop_scalar(x, w, s, c):  # CRASH TypeError 'float' object is not subscriptable (base: fallback)
    objs = [Sc(s, 1.0), Sc(0.0, s * 2)]
    t = 0.0
    for o in objs:
        t = t + o.apply(x)
    return t


def f_objs_comp_scalar(x, w, s, c):  # CRASH same TypeError (also inside np.stack([...]))
    objs = [Sc(s, 1.0), Sc(0.0, s * 2)]
    return [o.apply(x) for o in objs]


def f_objs_loop_index(x, w, s, c):  # CRASH IndexError too many indices (base: fallback)
    objs = [Sc(x, s), Sc(w, s)]
    t = 0.0
    for o in objs:
        t = t + o.mu[1]
    return t


def f_objs_gen_sum(x, w, s, c):  # CRASH AxisError axis 1 out of bounds (base: fallback)
    objs = [Sc(x, s), Sc(w, s)]
    return sum(o.mu.sum() for o in objs)


def f_objs_attr_comp(
    x, w, s, c
):  # CRASH AstvmapError "out_axes=0 is out of range ... shape ()" (base: fallback)
    objs = [Sc(s, 1.0), Sc(0.0, s * 2)]
    return [o.sd for o in objs]


# ---- 2. a mixed list zipped with an array in a loop that is not unrolled: `w` is taken as batched
def f_zip_array_mixed_list(x, w, s, c):  # WRONG shape (5,) vs (5, 5) (also base)
    t = 0.0
    for row, v in zip(x, [w, s]):
        t = t + row * v
    return t


# ---- 3. `lst += [batched]` on a list of unbatched items
def f_iadd_mixed(x, w, s, c):  # WRONG shape (1, 5) vs (5, 5) (also base)
    lst = [w]
    lst += [x]
    return lst[1]


# ---- 4. dict methods whose result ignores a batched argument
def f_dict_get_missing_default(x, w, s, c):  # WRONG shape (5, 5, 5) (also base)
    d = {"a": w}
    return d.get("b", x)


def f_dict_update_values(x, w, s, c):  # WRONG out[1] shape (5, 5, 5) (also base)
    d = {"a": w}
    d.update(b=x)
    return list(d.values())


def f_dict_setdefault_missing(x, w, s, c):  # WRONG shape (5, 5, 5) (also base)
    d = {"a": w}
    d.setdefault("b", x)
    return d["a"] + d["b"]


# ---- 5. a list grown while it is iterated: the unrolled loop stops at the length it had
def f_append_while_iterating(x, w, s, c):  # WRONG (also base)
    a = [w, x]
    t = 0.0
    for v in a:
        if len(a) < 3:
            a.append(s)
        t = t + v
    return t


def f_append_while_enumerating(x, w, s, c):  # WRONG (also base)
    a = [w, x]
    t = 0.0
    for i, v in enumerate(a):
        if i == 0:
            a.append(s)
        t = t + v
    return t


# ---- 6. a helper's mutable default list changed: state outliving the call is changed once, not per example
def _dflt(v, acc=[]):  # noqa: B006
    acc.append(1.0)
    return v * len(acc)


def mutable_default(x, w, s, c):  # WRONG, no warning: acc grew by 2, the loop grows it by 2*B (also base)
    return _dflt(x) + _dflt(w)


# ---- 7. crashes of dict() / np.array of mixed pairs
def f_dict_of_zip(
    x, w, s, c
):  # CRASH TypeError unhashable 'slice' in runtime.getitem_any (base: line fallback, ok)
    d = dict(zip(["a", "b"], [w, x]))
    return d["a"] * 2 + d["b"]


def f_dict_of_pairs(x, w, s, c):  # CRASH same TypeError (also base)
    d = dict([("a", w), ("b", x)])  # noqa: C406 - the form under test
    return d["a"] + d["b"]


def f_array_of_appended_tuples(
    x, w, s, c
):  # CRASH AttributeError 'tuple' object has no attribute 'shape' (also base)
    pairs = []
    for i in range(3):
        pairs.append((x[i], x[i] ** 2))
    return np.array(pairs)


# ---- 8. a batched ternary whose branches differ in rank though the results stack
def f_ternary_ranks(
    x, w, s, c
):  # ValueError "the loop's results could not be stacked" although they can (also base)
    v = w if s > 0 else 1.0
    return v * x


# ---- ordinary code that builds lists across helpers (the third review's regressions) ----------------
def _feats(x):
    return [x.mean(), x.std()]


def r_helper_list_append(x):
    f = _feats(x)
    f.append(x.max())
    return np.array(f)


def _build(x, w):
    out = []
    for i in range(2):
        out.append(x * w[i])
    return out


def r_helper_list_then_append(x, w):
    lst = _build(x, w)
    lst.append(x)
    return np.stack(lst)


def _fill(out, x):
    for i in range(3):
        out.append(x[i] * 2)
    return out


def r_helper_fills_given_list(x):
    return np.array(_fill([], x))


def _push(lst, v):
    lst.append(v)


def r_helper_appends_to_given(x):
    out = [x[0]]
    _push(out, x[1])
    return np.array(out)


def r_np_split_append(x):
    parts = np.split(x, 2)
    parts.append(np.zeros(4))
    return np.stack(parts)


def _collect(v, acc=None):
    if acc is None:
        acc = []
    acc.append(v)
    return acc


def r_accumulator_none_default(x, w):
    a = _collect(w)
    a = _collect(x, a)
    return a[0] + a[1]


# A statement-level fallback became a whole-function one:
# base: "`list(reversed(lst))` runs as a per-example loop"; HEAD: "the whole function runs as a per-example
# loop: a list of per-example items given to a function that may change it"
def r_reversed_mixed_list(x, w):
    lst = [w, x]
    r = list(reversed(lst))
    return r[0] * 2 + r[1]


# ---- lists a helper changes for its caller, on paths, in loops, rebound (follow_given) ------------------
def push_loop(items, v):
    for i in range(2):
        items.append(v * (i + 1))


def push_branch(items, v, c):
    if c > 0:
        items.append(v)
    else:
        items.append(v * 2)


def push_maybe(items, v, c):
    if c > 0:
        items.append(v)


def rebind(items, v):
    items = items + [v]
    items.append(v)
    return len(items)


def f_given_1(x, w, s, c):
    lst = [w]
    push_loop(lst, x)
    return np.stack(lst[1:]) + lst[0]


def f_given_2(x, w, s, c):
    lst = [w, w * 2]
    push_branch(lst, x, c)
    return lst[-1] + lst[0]


def f_given_3(x, w, s, c):
    lst = [w]
    push_maybe(lst, x, c)
    t = 0
    for v in lst:
        t = t + v
    return t


def f_given_4(x, w, s, c):
    lst = [w]
    n = rebind(lst, x)
    return x * n + len(lst)
