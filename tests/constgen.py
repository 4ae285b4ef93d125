"""Random programs whose control flow constants decide (NOTE [constants], transform/folding.py).

A rewrite folds what constants decide: literals, the defaults of parameters left out, a caller's literal
arguments, global constants, the rank and dtype kind of batched arrays, `is None`, the truth of a tuple of
known length, calls of pure functions, and `and`/`or`/`not`/`if`/conditional expressions of those; it
takes one path and never rewrites the other. ``generate(seed)`` writes a module whose function ``f(x, s)``
(a batched vector and a batched number) calls a helper ``h(x, s, k=..., mode=..., w=None, *rest)`` with
random literal arguments; both bodies branch on random mixtures of such tests, and on tests constants do
not decide (the batched ``s > 0``), so a wrong fold picks a wrong path. The module's globals ``G`` and
``MODE`` are read by the tests: ``mutate(module, seed)`` gives them new values between calls, and a
specialization that kept a folded global would return the old path's values.
"""

from __future__ import annotations

import random

HEADER = "import numpy as np\n\nG = {g!r}\nMODE = {mode!r}\n\n"

# tests whose value constants decide (in `h`: k, mode, w and rest are its parameters)
_DECIDED = [
    "k > 1",
    "k == 2",
    "mode == 'a'",
    "mode in ('a', 'b')",
    "w is None",
    "w is not None",
    "G[0] < k",
    "len(G) == 2",
    "MODE == 'fast'",
    "isinstance(k, int)",
    "not rest",
    "len(rest) > 1",
    "x.ndim == 1",
    "x.dtype.kind == 'f'",
    "np.isdtype(x.dtype, 'real floating')",
    "np.iterable(x)",
    "getattr(x, 'dtype', None) is not None",
    "type(mode) is str",
    "len([p for p in (x, w, k) if p is not None]) == 3",
]
# tests a constant does not decide (a per-example condition: the batched path)
_UNDECIDED = ["s > 0", "x[0] > x[-1]"]
_F_TESTS = ["s > 0", "x[0] > x[-1]", "MODE == 'fast'", "len(G) == 2", "x.ndim == 1", "not G"]
_F_EXPRS = ["x + s", "np.sin(x) * 2", "x[::-1] - s", "x - x.mean()", "x * len(G)"]
_EXPRS = ["x * k", "x + s", "np.sin(x) * 2", "x[::-1] - s", "x - x.mean()", "x * len(G)"]


def _test(r: random.Random) -> str:
    a = r.choice(_DECIDED)
    roll = r.random()
    if roll < 0.15:
        return f"not ({a})"
    if roll < 0.3:
        return f"({a}) and ({r.choice(_DECIDED)})"
    if roll < 0.45:
        return f"({a}) or ({r.choice(_DECIDED)})"
    if roll < 0.55:
        return f"({a}) and ({r.choice(_UNDECIDED)})"
    return a


def _statement(r: random.Random, depth: int = 0) -> list[str]:
    kind = r.randrange(8 if depth == 0 else 5)
    e1, e2 = r.choice(_EXPRS), r.choice(_EXPRS)
    if kind == 0:
        return [f"if {_test(r)}:", f"    y = y + {e1}", "else:", f"    y = y - {e2}"]
    if kind == 1:
        return [f"y = y + ({e1} if {_test(r)} else {e2})"]
    if kind == 2:
        return [f"t = ({_test(r)}) and k or 3", "y = y * t"]
    if kind == 3:
        return ["parts = [p * 2 for p in (x, w, k, None) if p is not None]", "y = y + parts[0] + parts[-1]"]
    if kind == 4:
        return [f"while {r.choice(['False', 'k < 0', 'w is not None and False'])}:", "    y = y + 100"]
    if kind == 5:
        inner = _statement(r, depth + 1)
        return [f"if {_test(r)}:"] + ["    " + s for s in inner] + ["else:", f"    y = y * {r.randint(2, 4)}"]
    if kind == 6:
        return [
            f"if {r.choice(_UNDECIDED)}:",
            f"    y = y + {e1}",
            "else:",
            f"    y = y - ({e2} if {_test(r)} else x)",
        ]
    return ["if x.ndim == 0:", "    return x.item()"]  # (never: the rank is known)


def _body(r: random.Random, n: int) -> list[str]:
    lines = ["y = x * 0.0"]
    for _ in range(n):
        lines += _statement(r)
    return lines + ["return y"]


def _call(r: random.Random) -> str:
    args = ["x", "s"]
    if r.random() < 0.7:
        args.append(str(r.choice([0, 1, 2, 3])))
        if r.random() < 0.6:
            args.append(repr(r.choice(["a", "b", "c"])))
            if r.random() < 0.5:
                args.append(r.choice(["None", "s", "x[0]"]))
                args += [str(r.randint(0, 9)) for _ in range(r.randrange(3))]
    elif r.random() < 0.5:
        args.append(f"mode={r.choice(['a', 'b'])!r}")
    return f"h({', '.join(args)})"


def generate(seed: int) -> str:
    """The module's source: `h` and `f`, and the globals their tests read."""
    r = random.Random(seed * 104729 + 7)
    head = HEADER.format(g=(r.randint(0, 3), r.randint(0, 3)), mode=r.choice(["fast", "slow"]))
    h = [f"def h(x, s, k={r.choice([1, 2, 3])}, mode={r.choice(['a', 'b'])!r}, w=None, *rest):"]
    h += ["    " + s for s in _body(r, r.randint(2, 5))]
    f = ["def f(x, s):", "    y = " + _call(r)]
    for _ in range(r.randint(0, 2)):  # (`f` has no `k`, `mode`, `w` or `rest`: tests of its own names)
        e1, e2 = r.choice(_F_EXPRS), r.choice(_F_EXPRS)
        f += [f"    if {r.choice(_F_TESTS)}:", f"        y = y + {e1}", "    else:", f"        y = y - {e2}"]
    f += ["    return y + " + _call(r)]
    return head + "\n".join(h) + "\n\n\n" + "\n".join(f) + "\n"


def mutate(module, seed: int) -> None:
    """New values for the globals the tests read (a new tuple length, a new mode)."""
    r = random.Random(seed * 31 + 1)
    module.G = tuple(r.randint(0, 3) for _ in range(r.choice([1, 2, 3])))
    module.MODE = r.choice(["fast", "slow"])
