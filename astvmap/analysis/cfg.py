"""A control-flow graph per function, one node per simple statement or compound-statement header.

    def f(x, n):                 entry (binds x, n)
        s = 0.0                  s = 0.0
        for i in range(n):       iter: range(n) ─▶ head ◀───────────────────────────┐
            if x[i] < 0:                            │  └─▶ target: binds i            │
                break                               │      └─▶ test: x[i] < 0         │
            s = s + x[i]                            │           ├─▶ break ────────────┼──┐
        return s                                    │           └─▶ s = s + x[i] ─────┘  │
                                 after (the for) ◀──┴────────────────────────────────────┘
                                 return s ─▶ exit

A `for` has three nodes: `iter` (its iterable, evaluated once), `head` (is there a next item? the back
edge returns there, and the loop ends there) and `target` (binds the loop variable to the item). Each compound statement ends at an `after` node that every
path completing it reaches: the facts "after a statement" are the facts at its `after` node (for a
simple statement, on leaving its own node). `break` goes to the loop's `after`, `continue` to its head,
`return` and `raise` to the exit (through the handlers of an enclosing `try`). A `with` may skip its
body (a context manager can suppress an exception), a `try` handler may be entered from any point of
its body. Nested functions and lambdas are single nodes of their definition (their bodies are their own).

Requires: a function's statements (any syntax Python accepts). Guarantees: every statement of the tree
given has its nodes (`Graph.first`, `Graph.after`, `Graph.span`), in creation order.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from .activity import Activity, of_header, of_nodes


@dataclass(eq=False)
class Node:
    """One point of the graph: the statement it belongs to, its role there, what it runs."""

    index: int
    stmt: ast.AST | None  # the statement (None for the function's entry and exit)
    role: str  # "stmt", "test", "iter", "head", "with", "subject", "case", "handler", "after", ...
    parts: list[ast.AST]  # the code this node runs (for a header: its expressions)
    act: Activity
    kills: frozenset[str]  # names this node certainly rebinds or deletes
    succ: list[Node] = field(default_factory=list)
    pred: list[Node] = field(default_factory=list)


@dataclass
class Graph:
    nodes: list[Node]
    entry: Node
    exit: Node
    first: dict[int, Node]  # id(stmt) -> the node where it starts
    after: dict[int, Node]  # id(stmt) -> the node reached on completing it
    span: dict[int, tuple[int, int]]  # id(stmt) -> node indices [start, end) created for it
    body_first: dict[int, Node]  # id(loop) -> the first node of its body
    stmts: dict[int, ast.AST]  # id(stmt) -> stmt (keeps every key alive)


def build(fdef: ast.FunctionDef | ast.Lambda, key=lambda s: s) -> Graph:
    """The graph of `fdef`'s body. `key(stmt)` names the statement the facts of a node are filed
    under (a copy made for a rewrite files its facts under the statement it stands for)."""
    return _Builder(key).function(fdef)


class _Builder:
    def __init__(self, key):
        self.key = key
        self.nodes: list[Node] = []
        self.first: dict[int, Node] = {}
        self.after: dict[int, Node] = {}
        self.span: dict[int, tuple[int, int]] = {}
        self.body_first: dict[int, Node] = {}
        self.stmts: dict[int, ast.AST] = {}
        self.loops: list[tuple[Node, list[Node]]] = []  # (head, the breaks)
        self.handlers: list[list[Node]] = []  # entries of the enclosing `try` handlers
        self.exit: Node | None = None

    def node(self, stmt, role: str, parts: list[ast.AST], act: Activity | None = None) -> Node:
        act = act if act is not None else of_nodes(parts)
        kills = frozenset(act.binds)
        n = Node(len(self.nodes), stmt, role, parts, act, kills)
        self.nodes.append(n)
        if self.handlers and role != "after":
            for h in self.handlers[-1]:
                _link([n], h)  # an exception raised here may be caught
        return n

    def function(self, fdef) -> Graph:
        a = fdef.args
        params = Activity()
        for arg in a.posonlyargs + a.args + a.kwonlyargs + [a.vararg, a.kwarg]:
            if arg is not None:
                params.bind(arg.arg)
        entry = self.node(None, "entry", [], params)
        self.exit = Node(-1, None, "exit", [], Activity(), frozenset())
        body = fdef.body if isinstance(fdef.body, list) else [ast.Return(fdef.body)]
        _link(self.block(body, [entry]), self.exit)
        self.exit.index = len(self.nodes)
        self.nodes.append(self.exit)
        return Graph(
            self.nodes, entry, self.exit, self.first, self.after, self.span, self.body_first, self.stmts
        )

    def block(self, stmts: list[ast.stmt], preds: list[Node]) -> list[Node]:
        for s in stmts:
            preds = self.stmt(s, preds)
        return preds

    def stmt(self, s: ast.stmt, preds: list[Node]) -> list[Node]:
        k = id(self.key(s))
        self.stmts[k] = self.key(s)
        start = len(self.nodes)
        method = getattr(self, "_" + type(s).__name__, None)
        if method is not None:
            out = method(s, preds)
        else:
            n = self.node(s, "stmt", [s])
            _link(preds, n)
            self.after[k] = n
            out = [n] if not isinstance(s, (ast.Return, ast.Raise)) else self._leave(n)
        self.first[k] = self.nodes[start]
        self.span[k] = (start, len(self.nodes))
        return out

    def _leave(self, n: Node) -> list[Node]:
        assert self.exit is not None  # set before any statement is built
        _link([n], self.exit)
        return []

    def _ends(self, s: ast.stmt, outs: list[Node]) -> list[Node]:
        after = self.node(s, "after", [])
        _link(outs, after)
        self.after[id(self.key(s))] = after
        return [after]

    # ---- compound statements ------------------------------------------------------------------------
    def _If(self, s: ast.If, preds):
        test = self.node(s, "test", of_header(s))
        _link(preds, test)
        return self._ends(s, self.block(s.body, [test]) + self.block(s.orelse, [test]))

    def _loop(self, s, head: Node, body_preds: list[Node]):
        breaks: list[Node] = []
        self.loops.append((head, breaks))
        start = len(self.nodes)
        try:
            _link(self.block(s.body, body_preds), head)
            self.body_first[id(self.key(s))] = self.nodes[start]
        finally:
            self.loops.pop()
        return self._ends(s, self.block(s.orelse, [head]) + breaks)

    def _For(self, s: ast.For, preds):
        it = self.node(s, "iter", of_header(s))
        _link(preds, it)
        head = self.node(s, "head", [])  # is there a next item? (binds nothing: an exhausted loop
        _link([it], head)  # leaves its variable as it was, or unbound)
        target = self.node(s, "target", [s.target], _target(s.target))
        _link([head], target)
        return self._loop(s, head, [target])

    _AsyncFor = _For

    def _While(self, s: ast.While, preds):
        test = self.node(s, "test", of_header(s))
        _link(preds, test)
        return self._loop(s, test, [test])

    def _Break(self, s: ast.Break, preds):
        n = self.node(s, "stmt", [])
        _link(preds, n)
        self.after[id(self.key(s))] = n
        self.loops[-1][1].append(n)
        return []

    def _Continue(self, s: ast.Continue, preds):
        n = self.node(s, "stmt", [])
        _link(preds, n)
        self.after[id(self.key(s))] = n
        _link([n], self.loops[-1][0])
        return []

    def _With(self, s: ast.With, preds):
        head = self.node(s, "with", of_header(s))
        _link(preds, head)
        return self._ends(s, self.block(s.body, [head]) + [head])  # the body may be skipped

    _AsyncWith = _With

    def _Try(self, s: ast.Try, preds):
        start = self.node(s, "try", [])  # (the point before it: the body and every handler follow)
        _link(preds, start)
        preds = [start]
        entries = [
            self.node(h, "handler", [h.type] if h.type is not None else [], _handler(h)) for h in s.handlers
        ]
        self.handlers.append(entries)
        try:
            if entries:
                _link(preds, *entries)  # raised before the body's first statement
            body = self.block(s.body, preds)
        finally:
            self.handlers.pop()
        outs = self.block(s.orelse, body)
        for h, e in zip(s.handlers, entries):
            outs += self.block(h.body, [e])
        if s.finalbody:
            outs = self.block(s.finalbody, outs + entries)  # `finally` runs on every path
        return self._ends(s, outs)

    _TryStar = _Try

    def _Match(self, s: ast.Match, preds):
        subject = self.node(s, "subject", of_header(s))
        _link(preds, subject)
        outs, tried = [], [subject]
        for case in s.cases:
            parts: list[ast.AST] = [case.pattern] + ([case.guard] if case.guard is not None else [])
            c = self.node(case, "case", parts)
            _link(tried, c)
            outs += self.block(case.body, [c])
            tried = [c]  # the next case is tried when this one does not match
        return self._ends(s, outs + tried)


def _link(preds: list[Node], *succs: Node) -> None:
    for p in preds:
        for n in succs:
            p.succ.append(n)
            n.pred.append(p)


def _target(target: ast.expr) -> Activity:
    act = Activity()
    if isinstance(target, ast.Name):
        act.bind(target.id)
        return act
    return of_nodes([ast.Assign([target], ast.Constant(None))])


def _handler(h: ast.ExceptHandler) -> Activity:
    act = of_nodes([h.type] if h.type is not None else [])
    if h.name:
        act.bind(h.name)
    return act
