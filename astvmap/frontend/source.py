"""Find the AST of a callable: module-level and nested functions, lambdas (several on one line, told
apart by `co_positions`), methods, and functions defined in notebook cells.

Requires: the callable's file is in `linecache` (true for files, IPython cells and our own generated
code). Guarantees: a `FunctionDef` whose node positions are positions in the user's file.
"""

from __future__ import annotations

import ast
import functools
import linecache
import types
import weakref
from dataclasses import dataclass, field
from typing import Any

from ..errors import AstvmapError
from ..kit.origins import Origin

ASTVMAP_SOURCE = "__astvmap_source__"  # generated functions carry their FunctionSource here


@dataclass
class FunctionSource:
    fdef: ast.FunctionDef
    origin: Origin
    globals: dict
    cells: dict = field(default_factory=dict)  # free variable name -> cell (live values)
    code: types.CodeType | None = None  # the user's code object (cache key), None if synthetic
    defaults: tuple | None = None
    kwdefaults: dict | None = None
    generated: bool = False  # our own generated code (no user lines to cite)

    @property
    def name(self) -> str:
        return self.fdef.name

    def resolve(self, name: str):
        """(found, value, where) for a free name: closure cell, then globals, then builtins."""
        cell = self.cells.get(name)
        if cell is not None:
            try:
                return True, cell.cell_contents, "cell"
            except ValueError:
                return False, None, "cell"
        if name in self.globals:
            return True, self.globals[name], "global"
        builtins = self.globals.get("__builtins__", __builtins__)
        if isinstance(builtins, types.ModuleType):
            builtins = builtins.__dict__
        if name in builtins:
            return True, builtins[name], "builtin"
        return False, None, "global"


_FOUND: weakref.WeakKeyDictionary[types.CodeType, tuple] = weakref.WeakKeyDictionary()


@functools.lru_cache(maxsize=64)
def _module_tree(filename: str, text: str) -> ast.Module:
    return ast.parse(text, filename)


def _file_tree(filename: str) -> ast.Module | None:
    lines = linecache.getlines(filename)
    if not lines:
        return None
    try:
        return _module_tree(filename, "".join(lines))
    except SyntaxError:
        return None


def _no_source(fn, why: str) -> AstvmapError:
    name = getattr(fn, "__qualname__", repr(fn))
    return AstvmapError(
        f"vmap({name}): astvmap rewrites Python source; got a function without source ({why}). "
        "Define it in a .py file or a notebook cell (not with exec or eval), or register a rule for it "
        "with astvmap.register"
    )


def function_source(fn) -> FunctionSource:
    """The FunctionSource of a plain Python function or lambda (not partials or methods: see unwrap)."""
    generated = getattr(fn, ASTVMAP_SOURCE, None)
    if generated is not None:
        return generated
    if not isinstance(fn, types.FunctionType):
        raise _no_source(fn, f"a {type(fn).__name__}")
    code = fn.__code__
    found = _FOUND.get(code)
    if found is None:
        tree = _file_tree(code.co_filename)
        if tree is None:
            raise _no_source(fn, f"no source text for {code.co_filename!r}")
        found = _find(tree, code)
        if found[0] is not None:
            _FOUND[code] = found  # a lambda made per call is found once, not per call
    node, name = found
    if node is None:
        raise _no_source(fn, f"no definition of {code.co_name!r} at {code.co_filename}:{code.co_firstlineno}")
    if isinstance(node, ast.Lambda):
        fdef = ast.FunctionDef(
            name=name, args=node.args, body=[ast.Return(node.body)], decorator_list=[], returns=None
        )
        ast.copy_location(fdef, node)
        fdef.body[0].lineno, fdef.body[0].col_offset = node.body.lineno, node.body.col_offset
        fdef.body[0].end_lineno, fdef.body[0].end_col_offset = node.body.end_lineno, node.body.end_col_offset
    else:
        fdef = ast.FunctionDef(
            name=node.name, args=node.args, body=node.body, decorator_list=[], returns=None
        )
        ast.copy_location(fdef, node)
    cells = dict(zip(code.co_freevars, fn.__closure__ or ()))
    return FunctionSource(
        fdef,
        Origin(code.co_filename, fdef.lineno),
        fn.__globals__,
        cells,
        code,
        fn.__defaults__,
        fn.__kwdefaults__,
    )


def _find(tree: ast.Module, code: types.CodeType):
    first = code.co_firstlineno
    if code.co_name == "<lambda>":
        lambdas = [n for n in ast.walk(tree) if isinstance(n, ast.Lambda) and n.lineno == first]
        if len(lambdas) > 1:
            # Several lambdas on one line: the one whose body holds the code's first positions.
            pos = [(ln, c) for (ln, _, c, _) in code.co_positions() if ln is not None and c is not None]
            lambdas = [n for n in lambdas if any(_inside(n.body, p) for p in pos)] or lambdas
            lambdas.sort(key=lambda n: _extent(n.body))
        if not lambdas:
            return None, None
        lam = lambdas[0]
        return lam, _lambda_name(tree, lam)
    for n in ast.walk(tree):
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == code.co_name:
            start = min([n.lineno] + [d.lineno for d in n.decorator_list])
            if start == first or n.lineno == first:
                return n, n.name
    return None, None


def _inside(node: ast.expr, pos: tuple[int, int]) -> bool:
    start = (node.lineno, node.col_offset)
    end = (node.end_lineno or node.lineno, node.end_col_offset or node.col_offset)
    return start <= pos < end


def _extent(node: ast.expr) -> tuple[int, int]:
    """(lines, columns) a node spans: the smaller, the more deeply nested."""
    end_line, end_col = node.end_lineno or node.lineno, node.end_col_offset or node.col_offset
    return end_line - node.lineno, end_col - node.col_offset


def _lambda_name(tree: ast.Module, lam: ast.Lambda) -> str:
    """`vv` for `vv = lambda x, y: ...`; otherwise `lambda`."""
    for n in ast.walk(tree):
        if (
            isinstance(n, ast.Assign)
            and n.value is lam
            and len(n.targets) == 1
            and isinstance(n.targets[0], ast.Name)
        ):
            return n.targets[0].id
    return "lambda"


def unwrap(fun: Any) -> tuple[Any, tuple[Any, ...], dict[str, Any]]:
    """(base callable, leading static args, static keywords) for partials, bound methods and
    staticmethods; the base is a function, lambda or vmapped/generated function."""
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = {}
    while True:
        if isinstance(fun, functools.partial):
            args = tuple(fun.args) + args
            kwargs = {**fun.keywords, **kwargs}
            fun = fun.func
        elif isinstance(fun, types.MethodType):
            args = (fun.__self__,) + args
            fun = fun.__func__
        elif isinstance(fun, (staticmethod, classmethod)):
            fun = fun.__func__
        else:
            return fun, args, kwargs
