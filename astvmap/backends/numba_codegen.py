"""The Numba backend's generated code: the per-example function as Numba source (its globals made
arguments, so Numba never freezes them); the module around it — for the plain loop `_av_pe`, `_av_one` and
`_av_guard` (catches what an example raises), for the fused loop the lowered `_av_pe` (and one
`_av_pe_s<j>` per staged pass) — with its `prange` drivers `_av_drive[_s<j>]`; and loading it from a file
in the cache directory (Numba's cache needs a real file), keyed by a hash of its text, the
Numba/NumPy/Python versions and the options.
"""

from __future__ import annotations

import ast
import cmath
import copy
import hashlib
import importlib.util
import math
import os
import sys
import types

import numpy as np

from .. import analysis
from ..analysis import activity
from .numba_fuse import HELPERS
from .numba_fuse_values import MATH_BOOL, MATH_INT

_MODULES = (np, math, cmath)


class _Ineligible(Exception):
    """The loop strategy cannot be built for this call (the reason goes into the warning)."""


def cache_dir() -> str:
    """Where generated modules and Numba's compiled code are kept."""
    root = os.environ.get("ASTVMAP_CACHE_DIR")
    if not root:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = os.path.join(base, "astvmap")
    return root


def _check_value(value, name):
    if isinstance(value, tuple):
        for v in value:
            _check_value(v, name)
    elif not isinstance(value, (np.ndarray, np.generic, bool, int, float, complex)):
        raise _Ineligible(
            f"it reads the global {name!r}, a {type(value).__name__} (the compiled loop reads "
            "arrays, numbers and tuples of them)"
        )


# ---- outputs -------------------------------------------------------------------------------------------


def _exprs(entries, names, at):
    """Source expressions rebuilding each argument from the driver's flat parameters, example `at`."""
    out = []
    for e in entries:
        if e[0] == "m":
            out.append(f"{next(names)}[{at}]")
        elif e[0] == "u":
            out.append(next(names))
        elif e[0] == "none":
            out.append("None")
        else:
            inner = _exprs(e[1], names, at)
            out.append("(" + ", ".join(inner) + ("," if len(inner) == 1 else "") + ")")
    return out


# ---- the per-example function as source ------------------------------------------------------------
def _free_names(fdef: ast.FunctionDef) -> list[str]:
    """The names the function reads from its globals and closure (the analysis's activity)."""
    for node in ast.walk(fdef):
        if isinstance(node, (ast.FunctionDef, ast.Lambda)) and node is not fdef:
            raise _Ineligible("it defines a nested function or lambda")
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            raise _Ineligible("it uses global/nonlocal")
        elif isinstance(node, ast.Attribute) and node.attr == "random":
            raise _Ineligible("it draws random numbers (per-example draws differ from the batched form's)")
    act = activity.of_nodes(fdef.body)
    params = {a.arg for a in ast.walk(fdef.args) if isinstance(a, ast.arg)}
    return [n for n in act.reads if n not in act.binds and n not in params]


# The plain loop compiles the user's code as it is; these helpers keep Python's number semantics where
# Numba's differ (int(nan) is INT64_MIN, math.sqrt(-1) NaN, float() of a float32 stays float32), with the
# predicates of astvmap/pynum.py compiled as they are. Raising is safe there: `_av_guard` catches it and
# the example is re-run in Python.
PLAIN_HELPERS = """
_av_int_ok = _av_numba.njit(inline="always")(_av_pynum.int_ok)
_av_math_ok = _av_numba.njit(inline="always")(_av_pynum.math_ok)


@_av_numba.njit(inline="always")
def _av_int(x):
    if not _av_int_ok(x):
        raise ValueError("int() of NaN, inf or a number past int64")
    return int(x)


@_av_numba.njit(inline="always")
def _av_whole(x):
    if not _av_int_ok(x):
        raise ValueError("math.floor/ceil/trunc of NaN, inf or a number past int64")
    return x


@_av_numba.njit(inline="always")
def _av_float(x):
    return _av_np.float64(x)


@_av_numba.njit(inline="always")
def _av_math(r, *args):
    if not _av_math_ok(r, *args):
        raise ValueError("math domain error or overflow")
    return r
"""
_MATH_QUIET = MATH_BOOL | {"copysign", "fabs"}  # never raise in Python


class _PythonNumbers(ast.NodeTransformer):
    """int(x) -> _av_int(x), float(x) -> _av_float(x), math.f(a) -> _av_math(math.f(a), a) (floor, ceil and
    trunc check their argument like int())."""

    def __init__(self, math_names):
        self.math_names = math_names

    def visit_Call(self, node):
        self.generic_visit(node)
        f = node.func
        if isinstance(f, ast.Name) and f.id in ("int", "float") and len(node.args) == 1 and not node.keywords:
            return ast.Call(ast.Name(f"_av_{f.id}", ast.Load()), node.args, [])
        if (
            isinstance(f, ast.Attribute)
            and isinstance(f.value, ast.Name)
            and f.value.id in self.math_names
            and not node.keywords
            and f.attr not in _MATH_QUIET
        ):
            if f.attr in MATH_INT:
                node.args = [ast.Call(ast.Name("_av_whole", ast.Load()), node.args, [])]
                return node
            return ast.Call(ast.Name("_av_math", ast.Load()), [node, *node.args], [])
        return node


def check_plain(fdef: ast.FunctionDef):
    """The plain loop compiles the user's code as it is; where Numba's meaning differs from Python's in a way
    no run-time check shows, the function is left to NumPy: a power with a computed or negative exponent
    (Numba's int ** negative int is 0, Python's a float), arithmetic on comparison results (np.bool_ +
    np.bool_ is a logical or, Numba adds ints), a loop variable read after its loop (unbound after an empty
    range in Python). The fused lowering knows its operands' kinds and handles these itself."""
    facts = analysis.analyze(fdef)
    from_compare = {
        t.id
        for n in ast.walk(fdef)
        if isinstance(n, ast.Assign) and isinstance(n.value, (ast.Compare, ast.BoolOp, ast.UnaryOp))
        for t in n.targets
        if isinstance(t, ast.Name)
    }

    def boolish(e):
        return isinstance(e, (ast.Compare, ast.BoolOp)) or (isinstance(e, ast.Name) and e.id in from_compare)

    for node in ast.walk(fdef):
        if (
            isinstance(node, ast.BinOp)
            and isinstance(node.op, ast.Pow)
            and not (
                isinstance(node.right, ast.Constant)
                and isinstance(node.right.value, (int, float))
                and not isinstance(node.right.value, bool)
                and node.right.value >= 0
            )
        ):
            raise _Ineligible(
                "it raises to a computed or negative power (Numba's int ** negative int is 0, "
                "Python's a float)"
            )
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("power", "pow")
        ):
            raise _Ineligible(
                "it calls power() (integers to a negative power raise in NumPy, are 0 in Numba)"
            )
        if (isinstance(node, ast.BinOp) and (boolish(node.left) or boolish(node.right))) or (
            isinstance(node, ast.UnaryOp) and not isinstance(node.op, ast.Not) and boolish(node.operand)
        ):
            raise _Ineligible("it computes with comparison results (np.bool_ arithmetic differs in Numba)")
        if isinstance(node, ast.For) and isinstance(node.target, ast.Name):
            name = node.target.id
            if name in facts.live_after(node) and not any(d[0] == name for d in facts.reaching(node)):
                raise _Ineligible(
                    f"it reads the loop variable {name!r} after its loop (unbound after an "
                    "empty range in Python)"
                )


def _per_example_source(src):
    """(text of `_av_pe`, extra parameter names, modules to inject, getters of the extra values)."""
    fdef = src.fdef
    a = fdef.args
    if a.vararg is not None or a.kwarg is not None:
        raise _Ineligible("*args/**kwargs parameters are not compiled")
    params = [p.arg for p in a.posonlyargs + a.args + a.kwonlyargs]
    inject, extras = {}, []
    for name in _free_names(fdef):
        found, value, where = src.resolve(name)
        if not found:
            raise _Ineligible(f"the name {name!r} is not defined")
        if where == "builtin":
            if name == "print":
                raise _Ineligible("it prints (the batched form prints once per call)")
            continue
        if isinstance(value, types.ModuleType):
            if value not in _MODULES:
                raise _Ineligible(f"it uses the module {value.__name__} (numpy, math and cmath compile)")
            inject[name] = value
        elif type(value).__module__.startswith("numba") and hasattr(value, "py_func"):
            inject[name] = value  # a Numba function: called as is
        elif callable(value) and not isinstance(value, (np.ndarray, np.generic)):
            if isinstance(value, np.ufunc) or getattr(value, "__module__", "") in ("numpy", "math", "cmath"):
                inject[name] = value
            else:
                raise _Ineligible(
                    f"it calls {name!r}, a Python function (only the function itself is compiled)"
                )
        else:
            _check_value(value, name)
            extras.append(name)
    new_args = ast.arguments(
        posonlyargs=[],
        args=[ast.arg(n) for n in params + extras],
        vararg=None,
        kwonlyargs=[],
        kw_defaults=[],
        kwarg=None,
        defaults=[],
    )
    math_names = {n for n, v in inject.items() if v is math}
    body = [_PythonNumbers(math_names).visit(stmt) for stmt in copy.deepcopy(fdef.body)]
    fn = ast.FunctionDef(  # type: ignore[call-arg]  # type_params: a field from Python 3.12 on (mypy checks 3.11)
        name="_av_pe", args=new_args, body=body, decorator_list=[], returns=None, type_params=[]
    )
    ast.fix_missing_locations(fn)
    return ast.unparse(fn), params, extras, inject


def _module_text(pe_text, layout, n_extras, out_layout, options, fused=None, out_ranks=None) -> str:
    """The module: `_av_pe`, `_av_one` (example i, for the first example's shapes; unfused only) and the
    driver `_av_drive(start, stop, *arguments, *globals, *outputs, bad)`. The driver catches what an
    example raises and marks it in `bad` (an exception inside `prange` is lost or garbled by Numba's
    threads); the caller re-runs the first bad example in Python. `fused` is a `numba_fuse.Fused`."""
    names = [f"a{k}" for k in range(_count_flat(layout))]
    extras = [f"g{k}" for k in range(n_extras)]
    n_out = out_layout[1] if out_layout[0] == "t" else 1
    outs = [f"out{k}" for k in range(n_out)]
    call_args = ", ".join(_exprs(layout, iter(names), "i") + extras)
    flags = f"error_model='numpy', fastmath={options['fastmath']}, cache={options['cache']}"
    if fused is not None:
        # staged passes (numba_fuse, NOTE [staging]) each get a driver `_av_drive_s<j>`; buffers follow the globals
        bufs = [f"_av_T{j}" for j in range(len(fused.stages))]
        params = ", ".join(names + extras + bufs)
        call_args = ", ".join([call_args, *bufs] if call_args else bufs)
        head, body = _fused_parts(fused, call_args, params, flags, options)
        kind = "allocation-free lowering (backends/numba_fuse.py)"
    else:
        params = ", ".join(names + extras)
        head, body = _plain_parts(pe_text, call_args, params, outs, out_layout, out_ranks, flags)
        kind = "per-example function"
    lead = ", " if params else ""
    return f"""\
# Generated by astvmap (the Numba backend, {kind}): the per-example function and its batch driver.
import numpy as _av_np
import numba as _av_numba
from astvmap import pynum as _av_pynum


{head}


@_av_numba.njit(parallel={options["parallel"]}, {flags})
def _av_drive(start, stop{lead}{params}, {", ".join(outs)}, _av_bad):
    for i in _av_numba.prange(start, stop):
{body}
"""


def _count_flat(entries) -> int:
    """How many flat values (mapped and unmapped leaves) a layout takes."""
    return sum(1 if e[0] in ("m", "u") else _count_flat(e[1]) if e[0] == "t" else 0 for e in entries)


def _fused_parts(fused, call_args: str, params: str, flags: str, options) -> tuple[str, str]:
    """The fused module's functions (the lowered `_av_pe`, each staged pass with its driver) and the
    driver's loop body."""
    lead = ", " if params else ""
    pe_call = f"({call_args}{', ' if call_args else ''}out0, _av_bad, i)"
    parts = [HELPERS]
    for j, (text, _, _) in enumerate(fused.stages):
        parts.append(f"@_av_numba.njit({flags})\n{text}")
        parts.append(f"""@_av_numba.njit(parallel={options["parallel"]}, {flags})
def _av_drive_s{j}(start, stop{lead}{params}, out0, _av_bad):
    for i in _av_numba.prange(start, stop):
        _av_pe_s{j}{pe_call}""")
    parts.append(f"@_av_numba.njit({flags})\n{fused.text}")
    return "\n\n\n".join(parts), f"        _av_pe{pe_call}"


def _plain_parts(pe_text, call_args: str, params: str, outs, out_layout, out_ranks, flags) -> tuple[str, str]:
    """The plain module's functions (`_av_pe` as the user wrote it, `_av_one`, `_av_guard`) and the
    driver's loop body.

    The user's indices are checked as in Python (an out-of-range read would be a wrong value), and what
    an example raises is caught in `_av_guard`: an exception inside `prange` is lost by Numba's threads,
    and a `try` in the `prange` body itself makes Numba run the loop serially. A result of another shape
    than example 0's would be broadcast into its row: it raises instead. error_model="python": a division
    by zero raises as with Python's numbers; where the example's values are NumPy scalars (inf in Python
    too), the re-run in Python shows it and NumPy runs the call."""
    lead = ", " if params else ""
    parts = [f"r[{k}]" for k in range(len(outs))] if out_layout[0] == "t" else ["r"]
    lines = [f"        r = _av_pe({call_args})"]
    for k, (o, part) in enumerate(zip(outs, parts)):
        if out_ranks is None or out_ranks[k]:
            lines.append(f"        if _av_np.shape({part}) != {o}.shape[1:]:")
            lines.append("            raise ValueError('a result of another shape than example 0')")
        lines.append(f"        {o}[i] = {part}")
    store = "\n".join(lines)
    plain = flags.replace("error_model='numpy'", "error_model='python'")
    head = f"""{PLAIN_HELPERS}

@_av_numba.njit({plain}, boundscheck=True)
{pe_text}


@_av_numba.njit({flags})
def _av_one(i{lead}{params}):
    return _av_pe({call_args})


@_av_numba.njit({flags})
def _av_guard(i{lead}{params}, {", ".join(outs)}, _av_bad):
    try:
{store}
    except Exception:
        _av_bad[i] = True"""
    return head, f"        _av_guard(i{lead}{params}, {', '.join(outs)}, _av_bad)"


_LOADED: dict = {}


def _load(text: str, options: dict, inject: dict):
    import numba

    key = hashlib.sha256(
        "\n".join(
            [text, numba.__version__, np.__version__, sys.version, repr(sorted(options.items()))]
        ).encode()
    ).hexdigest()[:24]
    mod_name = f"astvmap_numba_{key}"
    # Modules injected under the user's names are part of what the compiled code means.
    inj_key = tuple(sorted((k, getattr(v, "__name__", repr(v))) for k, v in inject.items()))
    hit = _LOADED.get((mod_name, inj_key))
    if hit is not None:
        return hit
    folder = os.path.join(cache_dir(), "numba", "parallel" if options["parallel"] else "serial")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, mod_name + ".py")
    if not os.path.exists(path):
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, path)  # never rewritten once there: Numba's cache index keys on its timestamp
    spec = importlib.util.spec_from_file_location(mod_name, path)
    assert spec is not None and spec.loader is not None  # a .py file always has a spec and a loader
    module = importlib.util.module_from_spec(spec)
    module.__dict__.update(inject)
    sys.modules[mod_name] = module
    spec.loader.exec_module(module)
    _LOADED[(mod_name, inj_key)] = module
    return module
