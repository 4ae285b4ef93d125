"""Compile generated text into a function bound to the user's globals and closure cells.

The text is compiled inside a factory whose parameters are the generated code's free names (`np`,
`av__`, transformed callees), so nothing is added to the user's module. The compiled text is registered
in `linecache`, so tracebacks and `inspect.getsource` show it.
"""

from __future__ import annotations

import itertools
import linecache
import types

_counter = itertools.count(1)
FACTORY = "__astvmap_factory__"


def load(text: str, name: str, free: dict, src):
    """(function, compiled text, filename, line offset of `text` inside it)."""
    params = sorted(set(free) | set(src.cells))
    body = "".join("    " + line + "\n" if line.strip() else "\n" for line in text.splitlines())
    full = f"def {FACTORY}({', '.join(params)}):\n{body}    return {name}\n"
    filename = f"<astvmap {name}#{next(_counter)}>"
    linecache.cache[filename] = (len(full), None, full.splitlines(True), filename)
    module = compile(full, filename, "exec")
    factory_code = next(c for c in module.co_consts if isinstance(c, types.CodeType) and c.co_name == FACTORY)
    code = next(c for c in factory_code.co_consts if isinstance(c, types.CodeType) and c.co_name == name)
    closure = tuple(
        src.cells[n] if n in src.cells and n not in free else types.CellType(free[n])
        for n in code.co_freevars
    )
    fn = types.FunctionType(code, src.globals, name, src.defaults, closure or None)
    fn.__kwdefaults__ = dict(src.kwdefaults) if src.kwdefaults else None
    return fn, full, filename, 1


def rebind(fn, cells: dict):
    """The same generated code over other closure cells (a new instance of the same lambda)."""
    closure = tuple(cells.get(n, c) for n, c in zip(fn.__code__.co_freevars, fn.__closure__ or ()))
    if all(a is b for a, b in zip(closure, fn.__closure__ or ())):
        return fn
    new = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__, fn.__defaults__, closure or None)
    new.__kwdefaults__ = fn.__kwdefaults__
    for attr in ("__astvmap_source__",):
        if hasattr(fn, attr):
            setattr(new, attr, getattr(fn, attr))
    return new
