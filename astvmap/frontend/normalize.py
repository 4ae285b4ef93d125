"""Single exit: two passes (passes.py) after which every `return` ends a branch, so a batched `if` can
select the returned value per example like any other name.

`loop_returns`: a `return` in a loop becomes a flag and a `break`, and the loop is followed by
`if flag: return value` (see its docstring). `single_exit`: the statements after an `if` one of whose
branches returns move into the other branch:

    if x > 0:                      if x > 0:
        return x          ->           return x
    y = -x                         else:
    return y * 2                       y = -x
                                       return y * 2

When both branches go on, the rest is copied into both.
Requires: a fenced `FunctionDef`. Guarantees: the same behaviour for every input; a new tree when
something changed, else the input itself (the input is never changed).
"""

from __future__ import annotations

import ast
import copy
from typing import TYPE_CHECKING

from ..kit import templates
from ..kit.naming import Namer

if TYPE_CHECKING:
    from .pass_context import PassContext


def loop_returns(tree: ast.FunctionDef, ctx: PassContext) -> ast.FunctionDef:
    """The pass lowering returns in the function's top-level loops; the flags are fresh names from
    `ctx.namer` (never one of the user's: a parameter may be called `returned`)."""
    body = _loop_returns(tree.body, ctx.namer)
    if body is tree.body:
        return tree
    new = copy.copy(tree)
    new.body = body
    return new


def single_exit(tree: ast.FunctionDef, ctx: PassContext) -> ast.FunctionDef:
    """The pass moving the statements after each `if` that returns into its other branch."""
    if not any(isinstance(n, ast.If) and _has_return(n) for n in ast.walk(tree)):
        return tree
    new = copy.copy(tree)
    new.body = _block(tree.body)
    return new


def _loop_returns(stmts, namer: Namer):
    """A `return v` inside a loop becomes `returned = True; result = v; break`, and the loop is followed
    by `if returned: return result` (single_exit then moves the rest of the block into its else):

        for i in range(n):                  returned, result = False, None
            if x[i] > 0:                    for i in range(n):
                return i          ->            if x[i] > 0:
        return -1                                   returned, result = True, i
                                                    break
                                            if returned:
                                                return result
                                            return -1

    Only loops whose returns are not inside a nested loop; the walker lowers the `break` to a per-lane
    flag when its condition is batched (breaks.py)."""
    out, changed = [], False
    for s in stmts:
        if (
            isinstance(s, (ast.For, ast.While))
            and not s.orelse
            and _returns_in(s.body)
            and not _returns_in(s.body, nested_only=True)
        ):
            flag, value = namer.fresh("returned"), namer.fresh("result")
            loop = copy.copy(s)
            loop.body = _replace_returns(s.body, flag, value)
            init = _at(
                ast.Assign(
                    [ast.Tuple([ast.Name(flag, ast.Store()), ast.Name(value, ast.Store())], ast.Store())],
                    ast.Tuple([ast.Constant(False), ast.Constant(None)], ast.Load()),
                ),
                s,
            )
            after = _at(ast.If(ast.Name(flag, ast.Load()), [ast.Return(ast.Name(value, ast.Load()))], []), s)
            after.end_lineno, after.end_col_offset = s.end_lineno, s.end_col_offset
            out += [init, loop, after]
            changed = True
        else:
            out.append(s)
    return out if changed else stmts


def _returns_in(stmts, nested_only=False) -> bool:
    """Does a `return` sit in `stmts` (`nested_only`: inside a loop of theirs)?"""
    return any(
        isinstance(n, ast.Return) and (not nested_only or _depth(s, n) >= 1)
        for s in stmts
        for n in walk_no_defs(s)
    )


def _depth(root, target) -> int:
    """How many loops (below `root`, root included) enclose `target`."""

    def walk(node, d):
        if node is target:
            return d
        inner = d + isinstance(node, (ast.For, ast.While))
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.Lambda, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            r = walk(child, inner)
            if r is not None:
                return r
        return None

    r = walk(root, 0)
    return 0 if r is None else r


def _replace_returns(stmts, flag, value):
    out = []
    for s in stmts:
        if isinstance(s, ast.Return):
            out.append(
                _at(
                    ast.Assign(
                        [ast.Tuple([ast.Name(flag, ast.Store()), ast.Name(value, ast.Store())], ast.Store())],
                        ast.Tuple([ast.Constant(True), s.value or ast.Constant(None)], ast.Load()),
                    ),
                    s,
                )
            )
            out.append(_at(ast.Break(), s))
        elif isinstance(s, ast.If):
            new = copy.copy(s)
            new.body = _replace_returns(s.body, flag, value)
            new.orelse = _replace_returns(s.orelse, flag, value)
            out.append(new)
        else:
            out.append(s)
    return out


def _at(node, where):
    for n in ast.walk(node):
        if isinstance(n, (ast.stmt, ast.expr)) and not hasattr(n, "lineno"):
            ast.copy_location(n, where)
            n.end_lineno, n.end_col_offset = where.end_lineno, where.end_col_offset
    return node


def _has_return(node) -> bool:
    return any(
        isinstance(n, ast.Return) for b in (node.body, node.orelse) for s in b for n in walk_no_defs(s)
    )


def walk_no_defs(node):
    """`node` and the nodes inside it, not inside the functions and classes it defines."""
    yield node
    for child in ast.iter_child_nodes(node):
        if not isinstance(child, (ast.FunctionDef, ast.Lambda, ast.AsyncFunctionDef, ast.ClassDef)):
            yield from walk_no_defs(child)


def ends_with_return(stmts, withs: bool = False) -> bool:
    """Does every path through `stmts` end in a `return` or `raise`? (`withs`: a `with` whose body
    does: the transform keeps only context managers that never suppress an exception.)"""
    if not stmts:
        return False
    last = stmts[-1]
    if isinstance(last, (ast.Return, ast.Raise)):
        return True
    if isinstance(last, ast.If):
        return ends_with_return(last.body, withs) and ends_with_return(last.orelse, withs)
    if isinstance(last, ast.With) and withs:
        return ends_with_return(last.body, withs)
    if isinstance(last, ast.Match):
        exhaustive = last.cases[-1].guard is None and _irrefutable(last.cases[-1].pattern)
        return exhaustive and all(ends_with_return(c.body, withs) for c in last.cases)
    if isinstance(last, ast.Try):
        if ends_with_return(last.finalbody, withs):
            return True
        normal = ends_with_return(last.orelse, withs) or ends_with_return(last.body, withs)
        return normal and all(ends_with_return(h.body, withs) for h in last.handlers)
    return False


def _irrefutable(p: ast.pattern) -> bool:
    return isinstance(p, ast.MatchAs) and (p.pattern is None or _irrefutable(p.pattern))


def _block(stmts):
    out = []
    for i, s in enumerate(stmts):
        if isinstance(s, ast.If) and _has_return(s):
            # Every path through the `if` that does not return continues with the rest of the block.
            rest = stmts[i + 1 :]
            body = s.body if ends_with_return(s.body) else s.body + rest
            orelse = s.orelse if ends_with_return(s.orelse) else s.orelse + templates.clone(rest)
            out.append(_copy_if(s, _block(body), _block(orelse)))
            return out
        out.append(s)
    return out


def _copy_if(s: ast.If, body, orelse) -> ast.If:
    new = ast.If(s.test, body, orelse)
    ast.copy_location(new, s)
    new.end_lineno, new.end_col_offset = s.end_lineno, s.end_col_offset
    return new
