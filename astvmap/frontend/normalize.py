"""Single exit for early returns in `if` branches: the statements after an `if` one of whose branches
returns move into the other branch, so every `return` ends a branch (then a batched `if` can select the
returned value per example like any other name).

    if x > 0:                      if x > 0:
        return x          ->           return x
    y = -x                         else:
    return y * 2                       y = -x
                                       return y * 2

When both branches go on, the rest is copied into both. Returns inside loops are left alone.
Guarantees: the same behaviour for every input.
"""
from __future__ import annotations

import ast
import copy


def run(fdef: ast.FunctionDef) -> ast.FunctionDef:
    if not any(isinstance(n, ast.If) and _has_return(n) for n in ast.walk(fdef)):
        return fdef
    new = copy.copy(fdef)
    new.body = _block(fdef.body)
    return new


def _has_return(node) -> bool:
    return any(isinstance(n, ast.Return) for b in (node.body, node.orelse) for s in b for n in _walk_no_defs(s))


def _walk_no_defs(node):
    yield node
    for child in ast.iter_child_nodes(node):
        if not isinstance(child, (ast.FunctionDef, ast.Lambda, ast.AsyncFunctionDef, ast.ClassDef)):
            yield from _walk_no_defs(child)


def ends_with_return(stmts) -> bool:
    if not stmts:
        return False
    last = stmts[-1]
    if isinstance(last, (ast.Return, ast.Raise)):
        return True
    if isinstance(last, ast.If):
        return ends_with_return(last.body) and ends_with_return(last.orelse)
    return False


def _block(stmts):
    out = []
    for i, s in enumerate(stmts):
        if isinstance(s, ast.If) and _has_return(s):
            # Every path through the `if` that does not return continues with the rest of the block.
            rest = stmts[i + 1:]
            body = s.body if ends_with_return(s.body) else s.body + rest
            orelse = s.orelse if ends_with_return(s.orelse) else s.orelse + copy.deepcopy(rest)
            out.append(_copy_if(s, _block(body), _block(orelse)))
            return out
        out.append(s)
    return out


def _copy_if(s: ast.If, body, orelse) -> ast.If:
    new = ast.If(s.test, body, orelse)
    ast.copy_location(new, s)
    new.end_lineno, new.end_col_offset = s.end_lineno, s.end_col_offset
    if getattr(s, "_elif", False):
        new._elif = True
    return new
