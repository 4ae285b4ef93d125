"""Find the AST of a callable: module-level and nested functions, lambdas (several on one line, told
apart by `co_positions`), methods, and functions defined in notebook cells.

Requires: the callable's file is in `linecache` (true for files, IPython cells and our own generated
code). Guarantees: a `FunctionDef` whose node positions are positions in the user's file, and whose text
is the text the running code was compiled from (NOTE [source check]); otherwise `NoSource`.

NOTE [source check]: the text in `linecache` may not be what Python runs: the file was edited after the
import, or the function was made by `exec`, in a REPL or by a pickler under a borrowed file name. So the
text is compiled the way the module was (no inherited flags, `sys.flags.optimize`) and the function's
code object must have a twin there: the same name, first and last line, arguments and flags, and the
same bytecode, names and constants. pytest rewrites the asserts of test modules (its names start with
`@py`); for a function it rewrote, the bytecode is not compared.
"""

from __future__ import annotations

import ast
import copy
import functools
import importlib.util
import inspect
import linecache
import marshal
import os
import sys
import tokenize
import types
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..errors import AstvmapError, error_at
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
    made_object: str | None = (
        None  # an `__init__` run as a function returning it: its `self` (NOTE [objects])
    )

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


def _file_text(filename: str) -> str | None:
    lines = linecache.getlines(filename)
    return "".join(lines) if lines else None


def _file_tree(filename: str, text: str) -> ast.Module | None:
    try:
        return _module_tree(filename, text)
    except SyntaxError:
        return None


def _definition_tree(filename: str, text: str, code: types.CodeType) -> ast.Module | None:
    """The tree holding the `def` of `code` (which starts at its first line, decorators included):
    that definition parsed alone, with the positions it has in the file (a library module is parsed
    whole only for its lambdas); None where it does not parse alone."""
    if code.co_name == "<lambda>":
        return None
    lines = text.splitlines(keepends=True)
    first = code.co_firstlineno
    try:
        block = inspect.getblock(lines[first - 1 :])
    except (SyntaxError, IndentationError, tokenize.TokenError, IndexError):
        return None
    indented = bool(block) and block[0][:1] in (" ", "\t")
    try:  # (an indented definition parses inside an `if`, keeping its columns)
        tree = ast.parse(("if 1:\n" if indented else "") + "".join(block), filename)
    except (SyntaxError, ValueError):
        return None
    ast.increment_lineno(tree, first - 1 - indented)
    return tree


class NoSource(AstvmapError):
    """No source text that Python's running code was compiled from: the caller runs the function as
    the per-example loop (a whole vmapped function, with a PerformanceWarning saying why)."""


def _no_source(fn, why: str) -> NoSource:
    name = getattr(fn, "__qualname__", repr(fn))
    return NoSource(
        f"no source for {name} ({why}): astvmap rewrites Python source. Define it in a .py file or a "
        "notebook cell (not with exec or eval), or register a rule for it with astvmap.register"
    )


_UNBATCHABLE_FLAGS = {
    inspect.CO_COROUTINE: "an `async def` function",
    inspect.CO_ITERABLE_COROUTINE: "a coroutine",
    inspect.CO_ASYNC_GENERATOR: "an async generator (`async def` with `yield`)",
    inspect.CO_GENERATOR: "a generator (`yield`)",
}


def check_callable(fn: Any, label: str) -> None:
    """An `AstvmapError` for functions that return no value a loop could stack: coroutines and
    generators (their call returns a coroutine or an iterator, and runs nothing yet)."""
    code = getattr(fn, "__code__", None)
    if not isinstance(code, types.CodeType):
        return
    for flag, what in _UNBATCHABLE_FLAGS.items():
        if code.co_flags & flag:
            returns = "a generator" if flag == inspect.CO_GENERATOR else "a coroutine"
            msg = (
                f"{label}: {what} cannot be vmapped: its call returns {returns}, not the example's result. "
                "Vmap the function that consumes it, or a plain `def` that returns the result"
            )
            raise error_at(msg, *_first_suspension(fn))


def _first_suspension(fn: Any) -> tuple[ast.AST | None, str | None]:
    """The first `yield` or `await` of `fn` (else its `def`) and its file, where the source is known."""
    try:
        src = function_source(fn)
    except AstvmapError:
        return None, None
    kinds = (ast.Yield, ast.YieldFrom, ast.Await)
    found = [n for stmt in src.fdef.body for n in ast.walk(stmt) if isinstance(n, kinds)]
    return (min(found, key=lambda n: (n.lineno, n.col_offset)) if found else src.fdef), src.origin.filename


# ---- NOTE [source check] -------------------------------------------------------------------------
_COMPARED_FLAGS = (
    inspect.CO_VARARGS
    | inspect.CO_VARKEYWORDS
    | inspect.CO_GENERATOR
    | inspect.CO_COROUTINE
    | inspect.CO_ASYNC_GENERATOR
    | inspect.CO_NESTED
)


@functools.lru_cache(maxsize=64)
def _compiled(filename: str, text: str, optimize: int) -> dict[tuple[str, int], list[types.CodeType]]:
    """Every code object compiled from `text`, by (name, first line): the module's cached bytecode where
    it was compiled from exactly `text` (an installed package's: loading it costs a fraction of
    compiling), else `text` compiled now."""
    top = _cached_code(filename, text, optimize)
    if top is None:
        try:
            top = compile(text, filename, "exec", dont_inherit=True, optimize=optimize)
        except (SyntaxError, ValueError):
            return {}
    found: dict[tuple[str, int], list[types.CodeType]] = {}
    for code in _nested(top):
        found.setdefault((code.co_name, code.co_firstlineno), []).append(code)
    return found


def _cached_code(filename: str, text: str, optimize: int) -> types.CodeType | None:
    """The module code CPython cached for `filename` (its `.pyc`, PEP 552), where its header says it was
    compiled from the file as it is now and the file's text is `text`; else None."""
    try:
        pyc = importlib.util.cache_from_source(filename, optimization="" if optimize == 0 else optimize)
        with open(pyc, "rb") as fh:
            data = fh.read()
        with open(filename, "rb") as fh:
            source = fh.read()
        stat = os.stat(filename)
    except (OSError, ValueError, NotImplementedError):
        return None
    if len(data) < 16 or data[:4] != importlib.util.MAGIC_NUMBER:
        return None
    if int.from_bytes(data[4:8], "little") & 1:  # (hash-based)
        fresh = data[8:16] == importlib.util.source_hash(source)
    else:
        stamp, size = int.from_bytes(data[8:12], "little"), int.from_bytes(data[12:16], "little")
        fresh = stamp == int(stat.st_mtime) & 0xFFFFFFFF and size == len(source) & 0xFFFFFFFF
    if not fresh or importlib.util.decode_source(source) != text:
        return None
    try:
        code = marshal.loads(data[16:])
    except (EOFError, ValueError, TypeError):
        return None
    return code if isinstance(code, types.CodeType) else None


def _nested(code: types.CodeType) -> Iterator[types.CodeType]:
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield const
            yield from _nested(const)


def _last_line(code: types.CodeType) -> int:
    return max((line for _, _, line in code.co_lines() if line is not None), default=code.co_firstlineno)


def _shape(code: types.CodeType) -> tuple:
    """What pytest's assert rewriting and `python -O` (matched when compiling) leave as it is."""
    nargs = code.co_argcount + code.co_kwonlyargcount
    nargs += bool(code.co_flags & inspect.CO_VARARGS) + bool(code.co_flags & inspect.CO_VARKEYWORDS)
    return (
        code.co_name,
        code.co_firstlineno,
        _last_line(code),
        code.co_argcount,
        code.co_posonlyargcount,
        code.co_kwonlyargcount,
        code.co_varnames[:nargs],
        code.co_flags & _COMPARED_FLAGS,
    )


def _rewritten_by_pytest(code: types.CodeType) -> bool:
    return any(n.startswith("@py") for n in code.co_names + code.co_varnames) or any(
        _rewritten_by_pytest(c) for c in _nested(code)
    )


def _fingerprint(code: types.CodeType) -> tuple:
    consts = tuple(
        _fingerprint(c) if isinstance(c, types.CodeType) else (type(c), repr(c)) for c in code.co_consts
    )
    return (_shape(code), code.co_code, code.co_names, code.co_freevars, code.co_cellvars, consts)


def _twin_in(text: str, code: types.CodeType) -> bool:
    """Whether `text` compiles to a twin of `code` (NOTE [source check])."""
    candidates = _compiled(code.co_filename, text, sys.flags.optimize).get(
        (code.co_name, code.co_firstlineno), []
    )
    if _rewritten_by_pytest(code):
        return any(_shape(c) == _shape(code) for c in candidates)
    return any(_fingerprint(c) == _fingerprint(code) for c in candidates)


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
        text = _file_text(code.co_filename)
        tree = None if text is None else _definition_tree(code.co_filename, text, code)
        if text is not None and (tree is None or _find(tree, code)[0] is None):
            tree = _file_tree(code.co_filename, text)
        if text is None or tree is None:
            raise _no_source(fn, f"no source text for {code.co_filename!r}")
        if not _twin_in(text, code):
            linecache.checkcache(code.co_filename)  # a module reloaded after an edit: the new text runs
            fresh = _file_text(code.co_filename)
            if fresh is not None and fresh != text and _twin_in(fresh, code):
                text, tree = fresh, _file_tree(code.co_filename, fresh)
        if tree is None or not _twin_in(text, code):
            raise _no_source(
                fn,
                f"the text of {code.co_filename} at line {code.co_firstlineno} is not what Python runs: "
                "the file changed since it was imported, or the code was compiled from another text",
            )
        found = _find(tree, code)
        if found[0] is not None:
            found = (_mangled(found[0], code.co_qualname), found[1])
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


def _mangled(node, qualname: str):
    """`node` with its private names (`self.__a`) spelled as Python compiled them inside their class
    (`self._C__a`), for code defined in a class body; `node` itself where there are none."""
    cls = _enclosing_class(qualname)
    prefix = "_" + cls.lstrip("_") if cls is not None and cls.lstrip("_") else None
    if prefix is None or not any(_private(getattr(n, f, None)) for n in ast.walk(node) for f in _NAMED):
        return node
    node = copy.deepcopy(node)
    for n in ast.walk(node):
        for slot in _NAMED:
            name = getattr(n, slot, None)
            if _private(name):
                setattr(n, slot, prefix + str(name))
    return node


_NAMED = ("id", "attr", "arg")  # the fields of the nodes that spell a name (Name, Attribute, arg, keyword)


def _enclosing_class(qualname: str) -> str | None:
    """The innermost class around the code named `qualname` (`C.m.<locals>.g` -> `C`), or None."""
    parts = qualname.split(".")[:-1]
    for i in range(len(parts) - 1, -1, -1):
        if parts[i] != "<locals>" and (i + 1 == len(parts) or parts[i + 1] != "<locals>"):
            return parts[i]
    return None


def _private(name) -> bool:
    """Is `name` one Python mangles inside a class (`__a`, not `__a__`)?"""
    return isinstance(name, str) and name.startswith("__") and not name.endswith("__")


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


def callable_object(obj: Any) -> bool:
    """An instance whose class defines `__call__` in Python (not a function, class or vmapped function):
    a call runs that method with the instance as `self`."""
    if isinstance(obj, (type, types.FunctionType, types.BuiltinFunctionType)):
        return False
    call = inspect.getattr_static(type(obj), "__call__", None)
    return isinstance(call, types.FunctionType) and not hasattr(type(obj), "__astvmap__")


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
        elif callable_object(fun):
            args = (fun,) + args
            fun = type(fun).__call__
        else:
            return fun, args, kwargs
