"""Random programs that make objects of plain classes from batched values (NOTE [objects]).

`Model(x, w)` of a class whose `__init__` is Python code is made as Python makes it, with the `__init__`
rewritten and its `self.name = v` statements followed: the object is known attribute by attribute, and
its methods, properties and class attributes are read from the class. ``generate(seed)`` writes a module
with one or two such classes (attributes set from parameters, from expressions of them, from class
constants and defaults, on paths constants decide; with or without `__slots__`; a property, a static
method, methods that call each other, and, sometimes, a method that changes an attribute, which must run
per example; `__getitem__` and `type(self)`, which Python asks of the class) and a function ``f(x, w, s)`` (a batched vector, an unbatched vector, a batched number) that
makes objects from random mixes of those, calls their methods, passes them to a helper, keeps them in a
list, makes one in a loop, and returns a value read from them.
"""

from __future__ import annotations

import random

_VALUES = ["x", "w", "s", "x * 2", "w + 1", "s * w", "x + w", "np.sin(x)"]


def _class(r: random.Random, name: str, slots: bool) -> tuple[str, list[str], int]:
    """A class's source, the attributes its objects have, how many `__init__` requires."""
    attrs = ["a", "b", "c"][: r.randint(1, 3)]
    lines = [f"class {name}:", f"    K = {r.choice([1.5, 2.0, 3])}"]
    if slots:
        lines.append(f"    __slots__ = {tuple(attrs + ['d'])!r}")
    required = r.randint(1, len(attrs))  # (the others have defaults)
    params = ", ".join(f"{a}{'=1.0' if i >= required else ''}" for i, a in enumerate(attrs))
    lines.append(f"    def __init__(self, {params}, mode='m'):")
    for a in attrs:
        roll = r.random()
        if roll < 0.5:
            lines.append(f"        self.{a} = {a}")
        elif roll < 0.75:
            lines.append(f"        self.{a} = {a} * self.K")
        else:
            lines += [
                "        if mode == 'm':",
                f"            self.{a} = {a} + 1",
                "        else:",
                f"            self.{a} = {a}",
            ]
    lines.append(f"        self.d = {attrs[0]} * 0 + 1")
    expr = " + ".join(f"self.{a}" for a in attrs)
    lines += [
        "    def total(self):",
        f"        return {expr} + self.d",
        "    def scaled(self, k):",
        "        return self.total() * k + self.K",
        "    @property",
        "    def first(self):",
        f"        return self.{attrs[0]} * 2",
        "    @staticmethod",
        "    def twice(v):",
        "        return v * 2",
        "    def bump(self):",
        f"        self.{attrs[0]} = self.{attrs[0]} + 1",
        f"        return self.{attrs[0]}",
        "    def __getitem__(self, i):",  # (`o[i]`: Python calls the class's own)
        f"        return self.{attrs[-1]} * 0 + self.d * i if isinstance(i, int) else type(self)({params_of(attrs, required)})",
        "    def again(self):",
        f"        return type(self)({params_of(attrs, required)})",
    ]
    return "\n".join(lines) + "\n", attrs, required


def params_of(attrs: list[str], required: int) -> str:
    """The arguments that make another object of the class from this one's attributes."""
    return ", ".join(f"self.{a}" for a in attrs[:required])


_USES = [
    "t = t + o[2]",
    "t = t + o[1:][0]",
    "t = t + o.again().total()",
    "t = t + (1.0 if type(o) is type(o.again()) else 2.0)",
    "t = t + o.total()",
    "t = t + o.scaled(2.0)",
    "t = t + o.first",
    "t = t + o.twice(o.d)",
    "t = t + o.K * o.d",
    "t = t + helper(o)",
    "t = t + o.{a}",
    "t = t + o.bump()",
]


def generate(seed: int) -> str:
    r = random.Random(seed)
    classes, srcs = [], []
    for k in range(r.randint(1, 2)):
        src, attrs, required = _class(r, f"C{k}", slots=r.random() < 0.3)
        srcs.append(src)
        classes.append((f"C{k}", attrs, required))
    body = ["t = 0"]
    for _ in range(r.randint(1, 3)):
        name, attrs, required = r.choice(classes)
        args = ", ".join(r.choice(_VALUES) for _ in attrs[: r.randint(required, len(attrs))])
        roll = r.random()
        if roll < 0.6:
            body.append(f"o = {name}({args})")
        elif roll < 0.8:
            body += [f"objs = [{name}({args}), {name}({args})]", "o = objs[-1]"]
        else:
            body += ["for i in range(2):", f"    o = {name}({args})", "    t = t + o.total() * i"]
        for _ in range(r.randint(1, 3)):
            use = r.choice(_USES)
            if "bump" in use and r.random() < 0.7:
                continue  # (a method that changes the object: rarer, it runs per example)
            body.append(use.format(a=r.choice(attrs)))
    body.append("return t")
    helper = "def helper(obj):\n    return obj.total() * 0.5\n"
    fn = "def f(x, w, s):\n" + "".join(f"    {line}\n" for line in body)
    return "import numpy as np\n\n\n" + "\n\n".join(srcs) + "\n\n" + helper + "\n\n" + fn
