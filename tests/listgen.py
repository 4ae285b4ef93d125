"""Random programs that build lists of batched and unbatched items (NOTE [list items], rules/values.py).

A list keeps each item's own facts while its items are known one by one (`[x, None]`, a library's `*args`);
where they stop being known (a join of two paths, an append in a loop, an `insert` or `extend`), every
item the Val then claims batched must carry the batch axis. A list that says "my items are batched" while
one of them is a per-call value makes the consumer take a row of it for each example: a wrong result.

``generate(seed)`` writes a module with ``f(x, w, s, c)`` (a batched vector, an unbatched vector, a batched
number, an unbatched number): it starts a list from a random mix of those, changes it with random
appends, inserts, extends, item stores and aliases, under conditions a constant decides, an unbatched
value decides, or each example decides (with an append on both paths, so every example's list has one
length), in loops, and reads it back in a random way: a sum, a Python loop, `enumerate`, `zip`, a comprehension, a
dict of its items, a stack, each item through a function that runs per example, or the list itself as
the result.
"""

from __future__ import annotations

import random

HEADER = '''import numpy as np


def opaque(*items):
    """Per example only (a Python float of each item)."""
    return np.array([float(np.ravel(v)[0]) for v in items])


def grow(items, v):
    """Changes the caller's list."""
    items.append(v)


def grow_twice(items, a, b):
    """Changes the caller's list through another helper."""
    grow(items, a)
    grow(items, b)


def grown(items, v):
    """Changes the caller's list and returns it."""
    items.append(v)
    return items


def grow_if(items, v, c):
    """Changes the caller's list on one path only."""
    if c > 0:
        items.append(v)


def grow_loop(items, v):
    """Changes the caller's list in a loop."""
    for i in range(2):
        items.append(v * (i + 1))


def grow_either(items, a, b, c):
    """Changes the caller's list on both paths, differently."""
    if c > 0:
        items.append(a)
    else:
        items.extend([a, b])


KEPT = []


def keep(items):
    """Keeps the caller's list (a module's list holds it from now on)."""
    KEPT.append(items)
    return len(items)


def made(v):
    """A new list of its own."""
    out = [v]
    out.append(v * 2)
    return out


def total(*items):
    t = 0
    for v in items:
        t = t + v
    return t


'''

# vectors (shape (n,) per example) and numbers; each batched (b) or not
_VECTORS = ["x", "w", "x * 2", "w + 1", "x + w", "c * w", "s * w", "np.sin(w)", "x[::-1]"]
_NUMBERS = ["c", "s", "c + 1", "s * 2", "2.0"]
_UNBATCHED_TESTS = ["c > 0", "w[0] > 0", "len(lst) > 2"]
_DECIDED_TESTS = ["True", "x.ndim == 1", "w is None"]
_BATCHED_TESTS = ["s > 0", "x[0] > w[0]"]


def _item(r: random.Random, vectors_only: bool) -> str:
    if vectors_only or r.random() < 0.75:
        return r.choice(_VECTORS)
    return r.choice(_NUMBERS)


def _change(r: random.Random, vo: bool, depth: int = 0) -> list[str]:
    """One change of `lst`, as lines indented by four."""
    roll = r.random()
    if roll < 0.22:
        return [f"lst.append({_item(r, vo)})"]
    if roll < 0.36:
        test = r.choice(_UNBATCHED_TESTS + _DECIDED_TESTS)
        lines = [f"if {test}:", f"    lst.append({_item(r, vo)})"]
        if r.random() < 0.5:
            lines += ["else:", f"    lst.append({_item(r, vo)})"]
        return lines
    if roll < 0.46:
        # a per-example condition: both paths append items of one shape, so every example's list has
        # one length and one shape at each place
        pool = _VECTORS if vo or r.random() < 0.75 else _NUMBERS
        return [
            f"if {r.choice(_BATCHED_TESTS)}:",
            f"    lst.append({r.choice(pool)})",
            "else:",
            f"    lst.append({r.choice(pool)})",
        ]
    if roll < 0.56:
        return [f"for i in range({r.randint(1, 3)}):", f"    lst.append({_item(r, vo)} * (i + 1))"]
    if roll < 0.64:
        return [f"lst.extend([{_item(r, vo)}, {_item(r, vo)}])"]
    if roll < 0.72:
        return [f"lst.insert({r.randint(0, 1)}, {_item(r, vo)})"]
    if roll < 0.80:
        return [f"lst[0] = {_item(r, vo)}"]
    if roll < 0.84:
        return ["alias = lst", f"alias.append({_item(r, vo)})"]
    if roll < 0.86:
        return ["alias = lst", f"alias[0] = {_item(r, vo)}"]
    if roll < 0.88:
        return r.choice(
            [
                [f"grow(lst, {_item(r, vo)})"],
                [f"grow_twice(lst, {_item(r, vo)}, {_item(r, vo)})"],
                [f"grow_if(lst, {_item(r, vo)}, c)"],
                [f"grow_loop(lst, {_item(r, vo)})"],
                [f"grow_either(lst, {_item(r, vo)}, {_item(r, vo)}, c)"],
                [f"lst = grown(lst, {_item(r, vo)})"],
                ["keep(lst)", f"grow(lst, {_item(r, vo)})"],
                [f"lst = lst + made({_item(r, vo)})"],
                ["if c > 0:", f"    grow(lst, {_item(r, vo)})"],
                ["for i in range(2):", f"    grow(lst, {_item(r, vo)} * (i + 1))"],
            ]
        )
    if roll < 0.94 and depth == 0:
        inner = _change(r, vo, depth + 1)
        return [f"if {r.choice(_UNBATCHED_TESTS)}:"] + ["    " + s for s in inner]
    if roll < 0.96:
        return [
            r.choice(
                [
                    "lst = lst * 2",
                    "lst = lst * (2 if c > 0 else 1)",
                    "lst = [*lst, lst[0]]",
                    "lst = lst[int(c > 0) :] or lst",
                    "lst = lst.copy()",
                    "lst.pop()",
                    "del lst[-1]",
                    "lst.reverse()",
                ]
            )
        ]
    if roll < 0.98:
        return ["k = len(lst) - 1 if c > 0 else 0", f"lst[k] = {_item(r, vo)}"]
    return [f"lst = lst + [{_item(r, vo)}]"]


_CONSUMERS = {
    "sum": ["return sum(lst)"],
    "loop": ["t = 0", "for v in lst:", "    t = t + v", "return t"],
    "loop_first": ["t = lst[0] * 0", "for v in lst:", "    t = t * 0.5 + v", "return t"],
    "stack": ["return np.stack(lst)"],
    "opaque": ["return opaque(*lst)"],
    "list": ["return lst"],
    "last": ["return lst[-1] + lst[0]"],
    "spread": ["return total(*lst)"],
    "enumerate": ["t = 0", "for i, v in enumerate(lst):", "    t = t + v * (i + 1)", "return t"],
    "zip": ["t = 0", "for a, b in zip(lst, lst[::-1]):", "    t = t + a * b", "return t"],
    "comprehension": ["v = w * 10", "return [v + x for v in lst]"],
    "dict": ["d = {}", "for i, v in enumerate(lst):", "    d[i] = v", "return d[0] + d[len(lst) - 1]"],
    "count": ["return x * len(lst)"],
}


def generate(seed: int) -> str:
    r = random.Random(seed)
    consumer = r.choice(sorted(_CONSUMERS))
    vo = consumer in ("stack", "list", "loop_first", "comprehension")
    lines = [
        f"lst = [{', '.join(_item(r, vo) for _ in range(r.randint(0 if consumer == 'stack' else 1, 3)))}]"
    ]
    if consumer == "stack" and lines[0] == "lst = []":
        lines[0] = "lst = [x]"
    for _ in range(r.randint(1, 4)):
        lines += _change(r, vo)
    lines += _CONSUMERS[consumer]
    return HEADER + "def f(x, w, s, c):\n" + "".join("    " + s + "\n" for s in lines)
