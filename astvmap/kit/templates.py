"""Build AST expressions from small Python templates (Tangent's idea).

    expr("np.moveaxis(x, 0, k)", x=node, k=1)

Template names listed as keywords are replaced by the given AST node (deep-copied) or, for plain Python
values, by the equivalent constant expression. Templates read like the code they produce.
"""

from __future__ import annotations

import ast
from functools import lru_cache
from typing import cast


@lru_cache(maxsize=512)
def _parse(template: str) -> ast.expr:
    return ast.parse(template, mode="eval").body


def const(value) -> ast.expr:
    """An AST expression for a Python value: None, bool, numbers, str, and tuples/lists of those."""
    if isinstance(value, ast.AST):
        return cast(ast.expr, value)  # a node passed through: the caller's expression
    if isinstance(value, tuple):
        return ast.Tuple([const(v) for v in value], ast.Load())
    if isinstance(value, list):
        return ast.List([const(v) for v in value], ast.Load())
    if isinstance(value, slice):
        return ast.Slice(*(None if p is None else const(p) for p in (value.start, value.stop, value.step)))
    if value is Ellipsis:
        return ast.Constant(Ellipsis)
    return ast.Constant(value)


def clone(node):
    """A deep copy of an AST (a node, or a list of them): every node new, with its fields and markers
    (`copy.deepcopy` does the same through the generic copy protocol, several times slower)."""
    if isinstance(node, ast.AST):
        new = type(node).__new__(type(node))
        new.__dict__.update({k: clone(v) for k, v in node.__dict__.items()})
        return new
    if isinstance(node, list):
        return [clone(n) for n in node]
    return node  # (a field name, a constant, a line number; a marker dict is shared, never changed)


class _Substitute(ast.NodeTransformer):
    def __init__(self, subs):
        self.subs = subs

    def visit_Name(self, node):
        if node.id in self.subs:
            return clone(const(self.subs[node.id]))
        return node


def expr(template: str, **subs) -> ast.expr:
    """The template's expression with `subs` substituted."""
    tree = clone(_parse(template))
    tree = _Substitute(subs).visit(tree)
    return ast.fix_missing_locations(tree) if not subs else tree


def call(func: ast.expr | str, args=(), keywords=None) -> ast.Call:
    """`func(*args, **keywords)` with AST (or Python value) arguments."""
    if isinstance(func, str):
        func = expr(func)
    kws = [ast.keyword(k, const(v)) for k, v in (keywords or {}).items()]
    return ast.Call(func, [const(a) for a in args], kws)


def index(value: ast.expr, items) -> ast.Subscript:
    """`value[items...]` where `items` are AST nodes or Python values (slices, None, ints, Ellipsis)."""
    elts = [const(i) for i in items]
    sl = elts[0] if len(elts) == 1 else ast.Tuple(elts, ast.Load())
    return ast.Subscript(value, sl, ast.Load())


def batch_slice_prefix(node: ast.expr, n_new: int) -> ast.expr:
    """`x[:, None, ...]` with `n_new` new axes after the batch axis (NOTE [mixed ranks])."""
    if n_new <= 0:
        return node
    return index(node, [slice(None)] + [None] * n_new)
