"""What the call rewriting passes around: the call a rule rewrites (`CallSite`), callable values made
inside a rewritten function (`LocalPartial`, `InnerVmap`), and how a call is written again."""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class CallSite:
    """What a rule knows about the call it rewrites (`ctx.call`)."""

    fn: object
    node: ast.AST
    args: list
    kwargs: dict
    # rebuild(arg_nodes, kw_nodes) -> the call in the user's spelling
    rebuild: Callable[[list[ast.expr], dict[str, ast.expr]], ast.expr]
    method: str | None = None  # `x.sum(...)`: the first operand is `x`


@dataclass
class LocalPartial:
    """`functools.partial(f, *args, **kw)` made inside the function being rewritten (a value); calls
    pass the partial's own stored arguments, so they are the values from when it was made."""

    fn: object
    args: tuple
    kwargs: dict


@dataclass
class InnerVmap:
    """`vmap(g, in_axes, out_axes)` met inside a function being rewritten (a value)."""

    fun: object  # LocalFunction, or a static callable
    in_axes: object
    out_axes: object
    axis_size: object = None
    lifted: tuple = field(default=())


def _call(fn_node, args, kwargs) -> ast.Call:
    return ast.Call(fn_node, [a.node for a in args], [ast.keyword(k, a.node) for k, a in kwargs.items()])


def _hint(fn) -> str:
    name = getattr(fn, "__name__", None) or type(fn).__name__
    return name if name.isidentifier() else "fn"


def _rebuilder(syntax, fn_node, method):
    """A function that writes the call again with new operand nodes, in the user's spelling."""

    def rebuild(args, kwargs):
        kws = [ast.keyword(k, v) for k, v in kwargs.items()]
        if isinstance(syntax, ast.BinOp):
            return ast.BinOp(args[0], syntax.op, args[1])
        if isinstance(syntax, ast.UnaryOp):
            return ast.UnaryOp(syntax.op, args[0])
        if isinstance(syntax, ast.Compare):
            return ast.Compare(args[0], syntax.ops[:1], [args[1]])
        if isinstance(syntax, ast.Subscript):
            return ast.Subscript(args[0], args[1], ast.Load())
        if isinstance(syntax, ast.Attribute) and method is None and not isinstance(syntax.ctx, ast.Store):
            return ast.Attribute(args[0], syntax.attr, ast.Load())
        if method is not None:
            return ast.Call(ast.Attribute(args[0], method, ast.Load()), list(args[1:]), kws)
        func = fn_node if fn_node is not None else syntax.func
        return ast.Call(func, list(args), kws)

    return rebuild


class LocalFunction:
    """A lambda or nested def of the function being rewritten (a value: lifted when called batched)."""

    def __init__(self, node: ast.FunctionDef | ast.Lambda, name: str) -> None:
        self.node, self.name = node, name


def _shown(node: ast.AST) -> str:
    """A call's text for a message (long ones cut)."""
    what = ast.unparse(node)
    return what if len(what) <= 60 else what[:57] + "..."
