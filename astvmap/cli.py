"""`astvmap show`: print the batched NumPy code astvmap generates for the functions of a Python file.

    astvmap show model.py                       # every module-level vmapped function, rank-generic
    astvmap show model.py:predict --in-axes None,0 --shapes params.0=64,128 params.1=64 x=128
    astvmap show model.py:f --ndims x=1 --annotate

The file is imported (its top-level code runs; `if __name__ == "__main__":` blocks do not) with its
directory on `sys.path`. What is printed is exactly what runs: the generated function, then the generated
functions it calls. Exit codes: 0 printed (fallback warnings on stderr), 1 the user's file failed to
import or a function cannot be vectorized (reported at the user's line), 2 usage error.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import inspect
import linecache
import os
import sys
import traceback
import types
import warnings
from typing import Any

import numpy as np

from . import __version__
from .api import VmappedFunction, vmap
from .errors import AstvmapError, NotBatchable
from .frontend.passes import PASSES

# the code as written, after each frontend pass, after all of them, after the walker, as it runs
STAGES = ("frontend", *(p.name for p in PASSES), "normalize", "vectorize", "final")
BATCH = 2  # batch size of the example arguments built from --ndims/--shapes
NDIM_LENGTH = 3  # length of each per-example axis when only a rank is given


class UsageError(Exception):
    """Bad command line (exit 2)."""


class UserError(Exception):
    """The user's file failed to import; the message is formatted as Python would print it (exit 1)."""


def main(argv=None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse: --help (0) or a usage error (2)
        return e.code if isinstance(e.code, int) else 2
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    if args.command == "bench":
        return _bench(args, own_process=argv is None)
    try:
        return _show(args)
    except UsageError as e:
        print(f"astvmap show: error: {e}", file=sys.stderr)
        return 2
    except UserError as e:
        print(str(e), end="", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    """The command line: `astvmap show` and `astvmap bench`."""
    parser = argparse.ArgumentParser(
        prog="astvmap",
        description="astvmap: jax.vmap for NumPy by source "
        "rewriting. `astvmap show FILE.py` prints the generated code; "
        "`astvmap bench` times it against its peers.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    show = sub.add_parser(
        "show",
        help="print the generated source of vmapped functions",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=__doc__.split("\n\n", 2)[2].replace("`", "")
        + "\nWithout --ndims/--shapes the rank-generic specialization is printed (what runs "
        "when a rank is unknown).",
        epilog="examples:\n  astvmap show examples/quickstart.py\n"
        "  astvmap show examples/neuron.py:neuron --ndims x=1\n"
        "  astvmap show model.py:f --in-axes 0,None --shapes x=5 w=3,5 --stage vectorize",
    )
    _add_show_inputs(show)
    _add_show_outputs(show)
    from . import bench as bench_mod

    bench = sub.add_parser(
        "bench",
        help="time astvmap against a loop, np.vectorize, hand NumPy, jax and torch",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=bench_mod.__doc__.replace("`", ""),
    )
    bench_mod.add_arguments(bench)
    return parser


def _add_show_inputs(show: argparse.ArgumentParser) -> None:
    """`astvmap show`'s options saying what to rewrite: the function, its axes, the example ranks."""
    show.add_argument(
        "target",
        metavar="FILE.py[:NAME]",
        help="the file to import; NAME selects one function (vmapped or plain) by its module-level "
        "name. Without NAME, every module-level vmapped function is shown",
    )
    show.add_argument(
        "--in-axes",
        type=_axes,
        metavar="AXES",
        help="in_axes as a Python literal: 0, None, "
        "0,None or '(None, None), 0' (default: the function's own, or 0 for a plain function)",
    )
    show.add_argument("--out-axes", type=_axes, metavar="AXES", help="out_axes, same syntax (default 0)")
    show.add_argument(
        "--ndims",
        action="append",
        default=[],
        metavar="NAME=N,...",
        help="per-example ranks, e.g. x=1,w=2; containers by path: params.0=2",
    )
    show.add_argument(
        "--shapes",
        nargs="+",
        action="extend",
        default=[],
        metavar="NAME=SHAPE",
        help="per-example shapes, e.g. x=5 w=3,5 (s= for a scalar); containers by path: params.0=64,128",
    )


def _add_show_outputs(show: argparse.ArgumentParser) -> None:
    """`astvmap show`'s options saying what to print: a stage, annotations, the jit's code, colors."""
    show.add_argument(
        "--stage",
        choices=STAGES,
        help="print the function at this stage instead: as written (frontend), after one frontend pass "
        f"({', '.join(p.name for p in PASSES)}) or all of them (normalize), batched (vectorize)",
    )
    show.add_argument(
        "--annotate",
        action="store_true",
        help="add each assigned name's batchedness and rank as trailing comments",
    )
    show.add_argument(
        "--jit",
        action="store_true",
        help="what the Numba backend runs for these ranks (needs --ndims/--shapes; runs one call on zeros)",
    )
    show.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="syntax highlighting with pygments (auto: when writing to a terminal)",
    )


def _bench(args, own_process: bool = False) -> int:
    """`astvmap bench` (astvmap.bench.run). own_process: started as the `astvmap` command, so the
    benchmark may re-exec this process to pin threads (called from Python, it uses a child process)."""
    from . import bench

    return bench.run(args, own_process=own_process)


def _axes(text: str):
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise argparse.ArgumentTypeError(
            f"not an axes literal: {text!r} (use ints, None, tuples: 0,None)"
        ) from None

    def ok(v):
        if isinstance(v, (tuple, list, dict)):
            return all(ok(e) for e in (v.values() if isinstance(v, dict) else v))
        return v is None or (isinstance(v, int) and not isinstance(v, bool))

    if not ok(value):
        raise argparse.ArgumentTypeError(f"axes must be ints, None, or tuples of those; got {text!r}")
    return value


# ---- the command -----------------------------------------------------------------------------------
def _show(args) -> int:
    path, name = args.target, None
    if not os.path.isfile(path) and ":" in path:
        path, name = path.rsplit(":", 1)
    if not os.path.isfile(path):
        raise UsageError(f"no such file: {path}")
    shapes = _parse_shapes(args.ndims, args.shapes)
    status, chunks, seen = 0, [], set[str]()
    with warnings.catch_warnings(record=True) as caught, _user_module(path) as module:
        warnings.simplefilter("default")
        for vf in _targets(module, path, name, args):
            if args.jit:
                chunks.append(_jit_text(vf, shapes))
                continue
            try:
                if shapes:
                    example_args, example_kwargs = _example_args(vf, shapes)
                    spec = vf.specialize(*example_args, **example_kwargs)
                else:
                    spec = vf.specialize_generic()
            except NotBatchable as e:  # specialize_generic does not yet fall back as specialize does
                spec = vf._loop_fallback(e)
            except AstvmapError as e:
                print(_format_syntax_error(e), end="", file=sys.stderr)
                status = 1
                continue
            chunks.append(_render(spec, args, seen))
    if any(chunks):
        _write("\n\n".join(c for c in chunks if c), args.color)
    for w in caught:
        line = linecache.getline(w.filename, w.lineno)
        sys.stderr.write(warnings.formatwarning(w.message, w.category, _rel(w.filename), w.lineno, line))
    return status


def _jit_text(vf, shapes) -> str:
    """--jit: the Numba backend's strategy for example arguments of the given ranks, and its code."""
    if not shapes:
        raise UsageError("--jit needs per-example ranks (--ndims or --shapes): the strategy depends on them")
    from .api import VmappedFunction

    jitted = VmappedFunction(vf.__wrapped__, vf.in_axes, vf.out_axes, vf.axis_size, vf.fallback, jit=True)
    example_args, example_kwargs = _example_args(jitted, shapes)
    return jitted.describe_jit(tuple(example_args), example_kwargs)


def _render(spec, args, seen: set[str]) -> str:
    stages = getattr(spec, "stages", None) or {}  # a whole-function loop fallback has only .text
    if args.stage not in (None, "final"):
        return stages.get(args.stage, spec.text).rstrip("\n") + "\n"
    texts = [stages.get("annotate", spec.text) if args.annotate else spec.text]
    for fn in _callees(getattr(spec, "callees", ())):
        texts.append(fn.__astvmap_text__)
    fresh = []
    for t in texts:
        if t not in seen:
            seen.add(t)
            fresh.append(t.rstrip("\n") + "\n")
    texts = fresh
    return "\n".join(texts)


def _callees(fns, found=None) -> list:
    """Generated functions called by the main one, and those they call (depth first, each once)."""
    found = [] if found is None else found
    for fn in fns:
        if hasattr(fn, "__astvmap_text__") and all(fn is not f for f in found):
            found.append(fn)
            closure = getattr(fn, "__closure__", None) or ()
            _callees([c.cell_contents for c in closure if c != types.CellType()], found)  # non-empty cells
    return found


def _write(text: str, color: str):
    if color == "always" or (color == "auto" and sys.stdout.isatty() and not os.environ.get("NO_COLOR")):
        try:
            from pygments import highlight
            from pygments.formatters import TerminalFormatter
            from pygments.lexers import PythonLexer
        except ImportError:
            pass
        else:
            text = highlight(text, PythonLexer(), TerminalFormatter())
    sys.stdout.write(text)


# ---- the user's module -----------------------------------------------------------------------------
@contextlib.contextmanager
def _user_module(path: str):
    """Run the file as a module named after it, its directory first on sys.path (as `python FILE.py` has
    it); a syntax error or exception in it is the user's traceback (UserError). Restores sys.path and
    sys.modules afterwards."""
    filename, name = os.path.abspath(path), os.path.splitext(os.path.basename(path))[0]
    saved, module = sys.modules.get(name), types.ModuleType(name)
    module.__file__ = filename
    sys.path.insert(0, os.path.dirname(filename))
    sys.modules[name] = module
    try:
        with open(filename, "rb") as f:
            source = f.read()
        try:
            code = compile(source, filename, "exec", dont_inherit=True)
        except SyntaxError as e:
            raise UserError(_format_syntax_error(e)) from None
        try:
            exec(code, module.__dict__)
        except (KeyboardInterrupt, GeneratorExit):
            raise
        except BaseException as e:
            tb = e.__traceback__.tb_next if e.__traceback__ is not None else None  # without this frame
            te = traceback.TracebackException(type(e), e, tb)
            for frame in te.stack:
                _ = frame.line  # read the source line before the file name changes
                frame.filename = _rel(frame.filename)
            raise UserError(f"astvmap show: importing {path} failed:\n" + "".join(te.format())) from None
        yield module
    finally:
        sys.path.remove(os.path.dirname(filename))
        if saved is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = saved


def _targets(module, path, name, args) -> list:
    """The VmappedFunctions to show, with --in-axes/--out-axes applied."""

    def rewrap(obj):
        if isinstance(obj, VmappedFunction):
            if args.in_axes is None and args.out_axes is None:
                return obj
            fun, in_axes, out_axes = obj.__wrapped__, obj.in_axes, obj.out_axes
            extra: dict[str, Any] = {"axis_size": obj.axis_size, "fallback": obj.fallback}
        else:
            fun, in_axes, out_axes, extra = obj, 0, 0, {}
        in_axes = in_axes if args.in_axes is None else args.in_axes
        out_axes = out_axes if args.out_axes is None else args.out_axes
        try:
            return vmap(fun, in_axes, out_axes, **extra)
        except AstvmapError as e:  # axes that do not fit the function: the command line's fault
            raise UsageError(f"--in-axes/--out-axes: {e.msg}") from None

    found = [(k, v) for k, v in vars(module).items() if isinstance(v, VmappedFunction)]
    found = [(k, v) for i, (k, v) in enumerate(found) if all(v is not w for _, w in found[:i])]
    if name is not None:
        obj = module
        for part in name.split("."):
            if not hasattr(obj, part):
                raise UsageError(f"{path} has no `{name}`; {_available(module, found)}")
            obj = getattr(obj, part)
        if not callable(obj):
            raise UsageError(f"`{name}` in {path} is a {type(obj).__name__}, not a function")
        return [rewrap(obj)]
    if not found:
        raise UsageError(
            f"{path} has no module-level vmapped function (made with @vmap or NAME = vmap(...)); "
            f"{_available(module, found)}"
        )
    if (args.ndims or args.shapes) and len(found) > 1:
        raise UsageError(
            f"--ndims/--shapes apply to one function; pick one with {path}:NAME "
            f"({', '.join(k for k, _ in found)})"
        )
    return [rewrap(v) for _, v in found]


def _available(module, found) -> str:
    plain = [
        k
        for k, v in vars(module).items()
        if isinstance(v, types.FunctionType) and v.__module__ == module.__name__ and not k.startswith("_")
    ]
    names = [k for k, _ in found] + plain
    return f"choose one of: {', '.join(names)}" if names else "it defines no functions"


# ---- example arguments -----------------------------------------------------------------------------
def _parse_shapes(ndims: list, shapes: list) -> dict:
    """{"x": (3,), "params.0": (3, 3)} from --ndims x=1,params.0=2 and --shapes x=3 params.0=3,3."""
    out = {}
    items = [(item, True) for group in ndims for item in group.split(",") if item] + [
        (s, False) for s in shapes
    ]
    for item, is_rank in items:
        path, eq, value = item.partition("=")
        if not eq or not path:
            raise UsageError(f"expected NAME=VALUE, got {item!r}")
        try:
            if is_rank:
                if int(value) < 0:
                    raise ValueError(value)
                shape = (NDIM_LENGTH,) * int(value)
            else:
                value = value.strip().strip("()")
                shape = tuple(int(d) for d in value.split(",") if d.strip())
        except ValueError:
            raise UsageError(f"bad {'rank' if is_rank else 'shape'} in {item!r}") from None
        out[path] = shape
    return out


def _example_args(vf: VmappedFunction, shapes: dict) -> tuple[list, dict]:
    """Zeros of each per-example shape with a batch axis of size BATCH inserted where in_axes maps it."""
    sig = inspect.signature(vf.__wrapped__)
    tree: dict = {}
    for path, shape in shapes.items():
        head, *rest = path.split(".")
        if head not in sig.parameters:
            raise UsageError(f"`{head}` is not a parameter of {vf.__name__}{sig}")
        *parents, leaf = [head] + rest
        node = tree
        for key in parents:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise UsageError(f"{path}: `{key}` was given a shape, so it cannot also be a container")
        if leaf in node:
            raise UsageError(f"{path}: given twice, or both as a container and as an array")
        node[leaf] = shape
    args, kwargs, by_keyword = [], {}, False
    positional = [
        p for p in sig.parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    for p in sig.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.name not in tree:
            if p.name in tree or (p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)):
                raise UsageError(
                    f"give `{p.name}` a rank or a shape: --ndims {p.name}=N or --shapes "
                    f"{p.name}=D1,D2 (variadic parameters cannot be given)"
                )
            by_keyword = True  # a skipped parameter: later arguments go by keyword
            continue
        ax = _entry(vf.in_axes, positional.index(p), p.name) if p in positional else None
        value = _build(tree[p.name], ax, p.name)
        if (by_keyword and p.kind != p.POSITIONAL_ONLY) or p.kind == p.KEYWORD_ONLY:
            kwargs[p.name] = value
        else:
            args.append(value)
    return args, kwargs


def _entry(axes, index, key):
    """The in_axes subtree of one parameter or container element (by position or by key)."""
    if isinstance(axes, dict):
        return axes.get(key)
    if isinstance(axes, (tuple, list)):
        return axes[index] if index is not None and index < len(axes) else None
    return axes


def _build(node, ax, path):
    if isinstance(node, tuple):
        if isinstance(ax, (tuple, list, dict)):
            raise UsageError(
                f"in_axes for `{path}` is {ax!r}, a container: give shapes of its leaves ({path}.0=...)"
            )
        shape = list(node)
        if ax is not None:
            if not -len(shape) - 1 <= ax <= len(shape):
                raise UsageError(f"in_axes maps `{path}` on axis {ax}, but its per-example shape is {node}")
            shape.insert(ax if ax >= 0 else len(shape) + 1 + ax, BATCH)
        return np.zeros(shape)
    if all(k.isdigit() for k in node):
        if sorted(int(k) for k in node) != list(range(len(node))):
            raise UsageError(f"`{path}`: give every element {path}.0 .. {path}.{len(node) - 1}")
        return tuple(_build(node[str(i)], _entry(ax, i, None), f"{path}.{i}") for i in range(len(node)))
    return {k: _build(v, _entry(ax, None, k), f"{path}.{k}") for k, v in node.items()}


# ---- reporting -------------------------------------------------------------------------------------
def _rel(filename: str) -> str:
    """A path relative to the current directory when it is below it."""
    try:
        rel = os.path.relpath(filename)
    except ValueError:  # another drive (Windows)
        return filename
    return filename if not filename or filename.startswith("<") or rel.startswith("..") else rel


def _format_syntax_error(e: SyntaxError) -> str:
    """As Python prints it: file, line, the source line, a caret, then the message."""
    te = traceback.TracebackException.from_exception(e)
    te.filename = _rel(te.filename) if te.filename else te.filename
    return "".join(te.format_exception_only())
