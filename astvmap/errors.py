"""User-facing exceptions and warnings.

`AstvmapError` is a `SyntaxError` subclass so that Python prints the user's file, line and a caret under
the offending expression (Pythran does the same). It is raised at transform time for code that cannot be
rewritten and at call time for arguments that do not fit `in_axes`.
"""

from __future__ import annotations

import ast
import linecache


class PerformanceWarning(UserWarning):
    """A piece of the function runs as a per-example Python loop (correct, but slow)."""


class AstvmapError(SyntaxError):
    """Something astvmap cannot batch, reported at the user's line when one is known."""

    def __init__(
        self,
        msg: str,
        filename: str | None = None,
        lineno: int | None = None,
        offset: int | None = None,
        text: str | None = None,
        end_offset: int | None = None,
    ):
        if filename is None:
            super().__init__(msg)
        else:
            super().__init__(msg, (filename, lineno, offset, text, lineno, end_offset))


class NotBatchable(Exception):
    """Internal: a construct has no batched form. Carries the node; the caller decides between a
    fallback loop and an `AstvmapError` (see `fallback=`)."""

    def __init__(self, msg: str, node: ast.AST | None = None):
        super().__init__(msg)
        self.msg = msg
        self.node = node


class RaggedBatch(Exception):
    """Internal, at run time: batched code needed a value whose shape differs between examples (a
    masked selection of a different length per lane) as one array. The call runs as the per-example
    loop instead (`api.run_numpy`), which is what the user's code means."""


class NoPieceLoop(NotBatchable):
    """Internal: a construct no loop of that one call can stand for (it would see other values than the
    loop does, or it is the generated code's own bookkeeping): the enclosing rewrite gives up, and what
    encloses it decides (the loop of the whole function, or another form of a loop)."""


class ChangesGlobals(NoPieceLoop):
    """Internal: a call of code that binds or changes module globals, run once where the loop runs it
    once per example: no caller of it can batch, however it is called."""


def error_at(msg: str, node: ast.AST | None, filename: str | None) -> AstvmapError:
    """An `AstvmapError` pointing at `node` (whose positions are already the user's file positions)."""
    lineno: int | None = getattr(node, "lineno", None)
    if node is None or filename is None or lineno is None:
        return AstvmapError(msg)
    line = linecache.getline(filename, lineno)
    col: int = getattr(node, "col_offset", 0) or 0
    end: int | None = getattr(node, "end_col_offset", None)
    if getattr(node, "end_lineno", lineno) != lineno:
        end = None
    return AstvmapError(msg, filename, lineno, col + 1, line or None, None if end is None else end + 1)
