"""Lower `break` and `continue` to flags, so a loop can end or skip per example (AutoGraph does the
same before its control-flow rewrite):

    for i in range(n):                 broke = False
        if x[i] < 0:                   for i in range(n):
            break              ->          if not broke:
        s = s + x[i]                           if x[i] < 0:
                                                   broke = True
                                               if not broke:
                                                   s = s + x[i]

Statements after a point that may break or continue run under `if not <flag>`; the body of a `for`
as a whole runs under `if not broke` (a `while` tests `not broke and <test>` instead). Loops nested inside are left alone (their own breaks are theirs).
Guarantees: the same behaviour for every input, except that the loop variable keeps running: when the
caller reads it after the loop it passes `counter=(i, at)`, and the lowering records `at = i` where the
loop broke (the caller then takes `at` for the lanes that broke).
"""

from __future__ import annotations

import ast


def has_jumps(stmts) -> bool:
    """Does this loop body break or continue (its own loop, not a nested one)?"""
    return any(True for _ in _jumps(stmts))


def has_break(stmts) -> bool:
    """Does this loop body break its own loop?"""
    return any(isinstance(j, ast.Break) for j in _jumps(stmts))


def _jumps(stmts):
    for s in stmts:
        if isinstance(s, (ast.Break, ast.Continue)):
            yield s
        elif isinstance(s, ast.If):
            yield from _jumps(s.body)
            yield from _jumps(s.orelse)
        elif isinstance(s, (ast.With, ast.Try)):
            yield from _jumps(getattr(s, "body", []))


def lower(
    loop: ast.For | ast.While, broke: str, skip: str, counter: tuple[str, str] | None = None
) -> tuple[list[ast.stmt], ast.For | ast.While]:
    """(statements before the loop, the loop with flags instead of jumps)."""
    uses_continue = any(isinstance(j, ast.Continue) for j in _jumps(loop.body))
    uses_break = any(isinstance(j, ast.Break) for j in _jumps(loop.body))
    flags = [broke] * uses_break + [skip] * uses_continue
    body = _block(loop.body, broke, skip, flags, counter)
    if uses_break and isinstance(loop, ast.For):  # a `while` tests `not broke` itself (below)
        body = [_at(ast.If(_not(broke, loop), body, []), loop)]
    if uses_continue:
        body = [_at(ast.Assign([ast.Name(skip, ast.Store())], ast.Constant(False)), loop)] + body
    new = type(loop)(**{f: getattr(loop, f) for f in loop._fields})
    new.body = body
    if uses_break and loop.orelse:  # `else` runs where the loop ended without a `break`
        new.orelse = [_at(ast.If(_not(broke, loop), loop.orelse, []), loop.orelse[0])]
    if isinstance(new, ast.While) and uses_break:  # new is a copy of loop: the same class and test
        # a broken lane is done: it must not test (or loop) again
        new.test = _at(ast.BoolOp(ast.And(), [_not(broke, loop), new.test]), loop)
    ast.copy_location(new, loop)
    new.end_lineno, new.end_col_offset = loop.end_lineno, loop.end_col_offset
    pre = [_at(ast.Assign([ast.Name(f, ast.Store())], ast.Constant(False)), loop) for f in flags]
    return pre, new


def _block(stmts, broke, skip, flags, counter=None):
    out = []
    for i, s in enumerate(stmts):
        if isinstance(s, ast.Break):
            out.append(_at(ast.Assign([ast.Name(broke, ast.Store())], ast.Constant(True)), s))
            if counter is not None:  # the loop variable where this lane stopped
                out.append(_at(ast.Assign([ast.Name(counter[1], ast.Store())], _name(counter[0], s)), s))
            return out
        if isinstance(s, ast.Continue):
            out.append(_at(ast.Assign([ast.Name(skip, ast.Store())], ast.Constant(True)), s))
            return out
        if isinstance(s, ast.If) and has_jumps([s]):
            new = ast.If(
                s.test,
                _block(s.body, broke, skip, flags, counter) or [ast.Pass()],
                _block(s.orelse, broke, skip, flags, counter),
            )
            out.append(_at(new, s))
            rest = _block(stmts[i + 1 :], broke, skip, flags, counter)
            if rest:
                test = (
                    _not(flags[0], s)
                    if len(flags) == 1
                    else _at(ast.UnaryOp(ast.Not(), ast.BoolOp(ast.Or(), [_name(f, s) for f in flags])), s)
                )
                out.append(_at(ast.If(test, rest, []), stmts[i + 1]))
            return out
        out.append(s)
    return out


def _name(n, where):
    return _at(ast.Name(n, ast.Load()), where)


def _not(flag, where):
    return _at(ast.UnaryOp(ast.Not(), _name(flag, where)), where)


def _at(node, where):
    for n in ast.walk(node):
        if isinstance(n, (ast.stmt, ast.expr)) and not hasattr(n, "lineno"):
            ast.copy_location(n, where)
            n.end_lineno, n.end_col_offset = where.end_lineno, where.end_col_offset
    return node
