"""Random programs with the statements real code wraps its work in (issue 19), for the loop oracle.

``wrap(src, seed)`` takes a program of ``fuzzgen.generate`` (``def f(x, m, s, i)``) and wraps one to three
random runs of consecutive statements of ``f`` (in any block: the body, a branch, a loop) in one of

- ``try:`` with a handler of an exception static facts decide (``TypeError``, ``KeyError``, ...): the
  statements batched as written, the handler a copy of them;
- ``try:`` with a handler of an exception that could differ per example (``ValueError``, ``Exception``,
  ``np.linalg.LinAlgError``, ``ZeroDivisionError``): the run becomes a region loop (its live-in and
  live-out names, arrays it writes into, names it binds only sometimes);
- ``try:``/``finally:``; ``with np.errstate(...)``, ``warnings.catch_warnings()``,
  ``contextlib.nullcontext()`` (kept around batched code), ``contextlib.suppress(...)`` (a context manager
  of unknown meaning: a region loop);
- ``match`` on a per-example static fact (``x.ndim``, ``len(m.shape)``) or a constant;

and may add, at the top of ``f``, statements that read no batched value in syntax the transform does not
batch (a dict comprehension over metadata, a ``try`` around an import, a ``match`` on a constant, an
``assert``) and static checks of the arguments (``x is None``, ``isinstance``, ``hasattr``, ``type``).
With fuzzgen's "stores" extra the wrapped runs also write into arrays, through views and aliases.
"""

from __future__ import annotations

import ast
import copy
import random

HEADER = "import contextlib\nimport warnings\n\nimport numpy as np\n"

_STATIC = ["TypeError", "KeyError", "(AttributeError, NameError)", "ImportError", "NotImplementedError"]
_PER_EXAMPLE = ["ValueError", "Exception", "np.linalg.LinAlgError", "ZeroDivisionError", "FloatingPointError"]
_WITH = [
    'np.errstate(all="ignore")',
    'np.errstate(divide="ignore", invalid="ignore")',
    "warnings.catch_warnings()",
    "contextlib.nullcontext()",
    "contextlib.suppress(ZeroDivisionError)",
]
_SUBJECTS = ["x.ndim", "len(m.shape)", "2", "np.ndim(s)"]

_PROLOGUE = [
    'meta = {k: v for k, v in zip("ab", (1, 2))}',
    "try:\n    import math as _m\nexcept ImportError:\n    _m = None",
    'match "ab":\n    case "ab":\n        tag = 1\n    case _:\n        tag = 2',
    "assert len(x.shape) == 1, 'a vector'",
    "if x is None:\n    raise ValueError('x is required')",
    "if not isinstance(m, np.ndarray) or not hasattr(m, 'shape'):\n    m = np.asarray(m)",
    "if type(x) is not np.ndarray:\n    x = np.asarray(x)",
    (
        "names = {n: k for k, n in enumerate(('x', 'm', 's'))}\nwith warnings.catch_warnings():\n"
        "    warnings.simplefilter('ignore')\n    order = sorted(names, key=names.get)"
    ),
]


def wrap(src: str, seed: int) -> str:
    """`src` with runs of statements of `f` wrapped (module docstring above); the same for the same seed."""
    r = random.Random(seed * 7717 + 19)
    tree = ast.parse(src)
    f = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "f")
    for _ in range(r.randint(1, 3)):
        blocks = [b for b in _blocks(f) if b]
        body = r.choice(blocks)
        lo = r.randrange(len(body))
        hi = r.randint(lo + 1, min(len(body), lo + 3))
        body[lo:hi] = [_wrapped(body[lo:hi], r)]
    if r.random() < 0.6:
        f.body[:0] = [s for text in r.sample(_PROLOGUE, r.randint(1, 3)) for s in ast.parse(text).body]
    return HEADER + ast.unparse(ast.fix_missing_locations(tree)) + "\n"


def _blocks(f: ast.FunctionDef) -> list[list[ast.stmt]]:
    """Every statement list in `f`'s own code (not in nested functions)."""
    out = [f.body]
    for node in ast.walk(f):
        if node is f or isinstance(node, (ast.FunctionDef, ast.Lambda)):
            continue
        for field in ("body", "orelse", "finalbody"):
            stmts = getattr(node, field, None)
            if isinstance(stmts, list) and stmts and isinstance(stmts[0], ast.stmt):
                out.append(stmts)
    return out


def _wrapped(run: list[ast.stmt], r: random.Random) -> ast.stmt:
    kind = r.choice(["static", "per_example", "finally", "with", "match"])
    if kind in ("static", "per_example"):
        caught = r.choice(_STATIC if kind == "static" else _PER_EXAMPLE)
        handler = copy.deepcopy(run) if r.random() < 0.7 else ast.parse("raise").body
        text = f"try:\n    pass\nexcept {caught}:\n    pass"
        node = ast.parse(text).body[0]
        node.body, node.handlers[0].body = run, handler
        return node
    if kind == "finally":
        node = ast.parse("try:\n    pass\nfinally:\n    _done = True").body[0]
        node.body = run
        return node
    if kind == "with":
        node = ast.parse(f"with {r.choice(_WITH)}:\n    pass").body[0]
        node.body = run
        return node
    subject = r.choice(_SUBJECTS)
    node = ast.parse(f"match {subject}:\n    case 1:\n        pass\n    case _:\n        pass").body[0]
    node.cases[0].body, node.cases[1].body = run, copy.deepcopy(run)
    return node
