"""Unparse a generated FunctionDef with a header and `# line N: <user source>` comments.

Guarantees: the text parses; every statement group is preceded by the user line it came from; a line
map from generated lines (1-based, in this text) to user lines.
"""

from __future__ import annotations

import ast

INDENT = "    "


def describe_val(v) -> str:
    """`batched, ndim=1` (what --annotate prints for a name)."""
    kind = v.kind.value
    if kind in ("array", "scalar"):
        nd = "?" if v.ndim is None else v.ndim
        return f"{'batched' if v.batched else 'unbatched'}, ndim={nd}" + (
            f", {kind}" if kind == "scalar" else ""
        )
    return f"{'batched' if v.batched else 'unbatched'} {kind}"


class _Emitter:
    def __init__(self, origin, comment_lines: bool, annotate: bool = False):
        self.annotate = annotate
        self.origin = origin
        self.comment_lines = comment_lines
        self.lines: list[str] = []
        self.line_map: dict[int, int] = {}
        self.last_user = None
        self.current_user = None

    def add(self, depth: int, text: str, note: str | None = None):
        lines = text.splitlines()
        if note and lines:
            lines[0] += f"  # {note}"
        for line in lines:
            self.lines.append(INDENT * depth + line)
            if self.current_user is not None:
                self.line_map[len(self.lines)] = self.current_user

    def block(self, stmts, depth):
        for s in stmts:
            self.stmt(s, depth)

    def stmt(self, s, depth):
        user = getattr(s, "_user_line", None)
        if user:
            self.current_user = user
            if self.comment_lines and user != self.last_user:
                text = self.origin.line(user)
                if text:
                    self.add(depth, f"# line {user}: {text}")
            self.last_user = user
        note = None
        if self.annotate and getattr(s, "_vals", None):
            note = "; ".join(f"{n}: {describe_val(v)}" for n, v in s._vals.items())
        if isinstance(s, ast.If):
            self.add(depth, f"if {ast.unparse(s.test)}:")
            self.block(s.body, depth + 1)
            if s.orelse:
                self.add(depth, "else:")
                self.block(s.orelse, depth + 1)
        elif isinstance(s, ast.For):
            self.add(depth, f"for {ast.unparse(s.target)} in {ast.unparse(s.iter)}:", note)
            self.block(s.body, depth + 1)
            if s.orelse:
                self.add(depth, "else:")
                self.block(s.orelse, depth + 1)
        elif isinstance(s, ast.While):
            self.add(depth, f"while {ast.unparse(s.test)}:")
            self.block(s.body, depth + 1)
            if s.orelse:
                self.add(depth, "else:")
                self.block(s.orelse, depth + 1)
        else:
            self.add(depth, ast.unparse(s), note)


def emit(
    fdef: ast.FunctionDef, header: list[str], origin, comment_lines: bool = True, annotate: bool = False
):
    """(text, line_map) for `fdef`; `header` lines become leading comments; `annotate` adds each bound
    name's batchedness and rank as a trailing comment."""
    e = _Emitter(origin, comment_lines, annotate)
    for h in header:
        e.add(0, f"# {h}")
    e.add(0, f"def {fdef.name}({ast.unparse(fdef.args)}):")
    e.block(fdef.body, 1)
    return "\n".join(e.lines) + "\n", e.line_map
