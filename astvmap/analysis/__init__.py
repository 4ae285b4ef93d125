"""Static analysis of one function, apart from any rewriting: the facts the rewrite consults.

    facts = analysis.analyze(fdef)
    facts.live_after(stmt)          names some path after `stmt` reads before rebinding them
    facts.activity(stmts)           names read, bound and changed in place by these statements
    facts.reaching(stmt)            definitions (name, node) reaching the start of `stmt`
    facts.binders(stmt, name)       the statements whose binding of `name` may reach `stmt`
    facts.uses_after(stmt, name)    the reads of the value `name` holds when `stmt` completes
    facts.aliases                   which names may share a buffer, and which buffers are written
    facts.captured                  names nested functions read (whenever they are called)
    facts.changed_after(stmt, names) may code after `stmt` change one of their objects in place?

`cfg.py` builds the control-flow graph, `activity.py` says what each node reads and writes,
`dataflow.py` solves liveness and reaching definitions on it, `aliases.py` says which names may hold
the same buffer. When the rewrite replaces a statement by
statements of its own (a loop whose `break` becomes a flag), `substitute` files the new statements'
facts, computed on the function as it now reads, without changing the tree (AutoGraph's pyct and its
static_analysis package are the model).
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Iterable

from . import activity as _activity
from . import aliases as _aliases
from . import cfg, dataflow
from .activity import Activity
from .aliases import Aliases


def analyze(
    fdef: ast.FunctionDef,
    bufferless: frozenset[str] = frozenset(),
    fresh: frozenset[int] = frozenset(),
    own: frozenset[int] = frozenset(),
) -> Facts:
    """The function's facts; the alias analysis may be told which names hold no buffer, which calls
    return new arrays and which return only what they were given (aliases.analyze: transform/feedback.py
    learns them)."""
    return Facts(fdef, (bufferless, fresh, own))


class Facts:
    """Facts about the statements of one function, by statement (identity)."""

    def __init__(self, fdef: ast.FunctionDef, inputs: tuple = (frozenset(), frozenset(), frozenset())):
        self.fdef = fdef
        self.inputs = inputs  # (what the alias analysis was told: analyze)
        self._subs: dict[int, tuple[ast.stmt, list[ast.stmt]]] = {}
        self._assumed: dict[int, tuple[ast.AST, frozenset[str]]] = {}
        self._solve()
        self.aliases: Aliases = _aliases.analyze(fdef, *inputs)
        # names a nested function or lambda reads: when it is called, not where it is defined
        self.captured: frozenset[str] = frozenset(
            name
            for node in ast.walk(fdef)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) and node is not fdef
            for name in _activity.of_nodes([node]).reads
        )

    def told(self, inputs: tuple) -> Facts:
        """These facts with the alias analysis told `inputs` (analyze): the flow facts are the syntax's
        and stay; only the aliases are found again."""
        if inputs == self.inputs:
            return self
        new = copy.copy(self)
        new.inputs, new.aliases = inputs, _aliases.analyze(self.fdef, *inputs)
        return new

    # ---- queries ------------------------------------------------------------------------------------
    def live_after(self, stmt: ast.AST) -> frozenset[str]:
        """Names that some path from the end of `stmt` reads before rebinding."""
        assumed = self._assumed.get(id(stmt))
        if assumed is not None and assumed[0] is stmt:
            return assumed[1]
        return self._live_out[self._after(stmt).index]

    def live_into_body(self, loop: ast.For | ast.While) -> frozenset[str]:
        """Names some path from the start of an iteration reads before rebinding them (through later
        iterations and past the loop too)."""
        return self._live_in[self._lookup(self._graph.body_first, loop).index]

    def live_before(self, stmt: ast.AST) -> frozenset[str]:
        assumed = self._assumed.get(id(stmt))
        if assumed is not None and assumed[0] is stmt:
            return assumed[1]
        return self._live_in[self._first(stmt).index]

    def reaching(self, stmt: ast.AST) -> frozenset[dataflow.Def]:
        """The definitions reaching the start of `stmt`."""
        return self._reach[self._first(stmt).index]

    def binders(self, stmt: ast.AST, name: str, after: bool = False) -> list[ast.AST | None] | None:
        """The statements whose binding of `name` may reach the start of `stmt` (its end, `after`; None
        stands for the function's entry, which binds the parameters); None when `stmt` is not of the
        analyzed code."""
        try:
            defs = self._reach[self._after(stmt).index] if after else self.reaching(stmt)
        except LookupError:
            return None
        nodes = self._graph.nodes
        return [self._original(nodes[i].stmt) for n, i in defs if n == name]

    def _original(self, stmt: ast.AST | None) -> ast.AST | None:
        return None if stmt is None else self._originals.get(id(stmt), stmt)

    def uses_after(self, stmt: ast.AST, name: str) -> list[ast.AST]:
        """The code (statements or headers) that may read the value `name` holds when `stmt` completes:
        the nodes reachable from its end along paths that do not rebind `name`, and that read it."""
        start = self._after(stmt)
        seen, todo, out = {start.index}, list(start.succ), []
        while todo:
            n = todo.pop()
            if n.index in seen:
                continue
            seen.add(n.index)
            if name in n.act.reads:
                out.append(n)
            if name not in n.kills:
                todo += n.succ
        out.sort(key=lambda n: n.index)
        return [p for n in out for p in n.parts]

    def changed_after(self, stmt: ast.AST, names: Iterable[str]) -> bool:
        """May code reachable from the end of `stmt` change in place an object one of `names` holds (an
        item, attribute or `out=` store, an in-place method or NumPy writing function, `t op= v`)?
        True when `stmt` is not a statement of the analyzed code (the safe answer)."""
        names = set(names)
        try:
            start = self._after(stmt)
        except LookupError:
            return True
        seen, todo = {start.index}, list(start.succ)
        while todo:
            n = todo.pop()
            if n.index in seen:
                continue
            seen.add(n.index)
            if names & set(n.act.changes) or any(
                isinstance(p, ast.AugAssign) and isinstance(p.target, ast.Name) and p.target.id in names
                for p in n.parts
            ):
                return True
            todo += n.succ
        return False

    @staticmethod
    def activity(nodes: Iterable[ast.AST]) -> Activity:
        """Names read, bound and changed in place anywhere in `nodes` (nested blocks included)."""
        return _activity.of_nodes(nodes)

    # ---- statements the rewrite makes ---------------------------------------------------------------
    def substitute(self, old: ast.stmt, new: list[ast.stmt]) -> None:
        """The rewrite runs `new` where the function has `old`: file facts for `new` (and everything
        else anew), leaving the tree as it is. A later substitution of `old` replaces this one."""
        self._subs[id(old)] = (old, new)
        self._solve()

    def assume(self, stmt: ast.stmt, live: frozenset[str]) -> None:
        """A statement the rewrite runs just before code it was lifted from (the `if` form of
        `a if c else b`): what is live around it and inside it is `live` (an upper bound)."""
        for s in ast.walk(stmt):
            if isinstance(s, ast.stmt):
                self._assumed[id(s)] = (s, live)

    def _solve(self) -> None:
        originals: dict[int, ast.AST] = {}
        body = self._apply(self.fdef.body, originals)
        view = copy.copy(self.fdef)
        view.body = body
        self._originals = originals
        self._graph = cfg.build(view, key=lambda s: originals.get(id(s), s))
        for old, _ in list(self._subs.values()):
            self._file_replaced(old)
        self._live_in, self._live_out = dataflow.liveness(self._graph)
        self._reach = dataflow.reaching(self._graph)

    def _file_replaced(self, old: ast.stmt) -> None:
        """A replaced statement starts where its first replacement starts and ends where its last ends."""
        g, (_, new) = self._graph, self._subs[id(old)]
        if id(old) in g.first or not new:
            return
        for s in (new[0], new[-1]):
            if id(s) in self._subs and self._subs[id(s)][0] is s:
                self._file_replaced(s)
        if id(new[0]) in g.first and id(new[-1]) in g.after:
            g.first[id(old)], g.after[id(old)] = g.first[id(new[0])], g.after[id(new[-1])]
            if id(new[-1]) in g.body_first:  # a loop stands for the loop it replaces
                g.body_first[id(old)] = g.body_first[id(new[-1])]
            g.stmts[id(old)] = old

    def _apply(self, stmts: list[ast.stmt], originals: dict[int, ast.AST]) -> list[ast.stmt]:
        """`stmts` with the substitutions made (compound statements copied where their bodies change,
        each copy filed under the statement it stands for)."""
        out: list[ast.stmt] = []
        for s in stmts:
            sub = self._subs.get(id(s))
            if sub is not None and sub[0] is s:
                out += self._apply(sub[1], originals)
                continue
            fields = {
                f: getattr(s, f)
                for f in ("body", "orelse", "finalbody", "handlers", "cases")
                if hasattr(s, f)
            }
            new_fields = {f: self._apply_field(v, originals) for f, v in fields.items()}
            if all(new_fields[f] is fields[f] for f in fields):
                out.append(s)
                continue
            twin = copy.copy(s)
            for f, v in new_fields.items():
                setattr(twin, f, v)
            originals[id(twin)] = originals.get(id(s), s)
            out.append(twin)
        return out if any(a is not b for a, b in zip(out, stmts)) or len(out) != len(stmts) else stmts

    def _apply_field(self, items, originals):
        if not items or not isinstance(items[0], ast.stmt):
            if items and isinstance(items[0], (ast.ExceptHandler, ast.match_case)):
                return self._apply_clauses(items, originals)
            return items
        return self._apply(items, originals)

    def _apply_clauses(self, clauses, originals):
        out, changed = [], False
        for c in clauses:
            body = self._apply(c.body, originals)
            if body is not c.body:
                twin = copy.copy(c)
                twin.body = body
                originals[id(twin)] = c
                c, changed = twin, True
            out.append(c)
        return out if changed else clauses

    def _first(self, stmt: ast.AST) -> cfg.Node:
        return self._lookup(self._graph.first, stmt)

    def _after(self, stmt: ast.AST) -> cfg.Node:
        return self._lookup(self._graph.after, stmt)

    def _lookup(self, table: dict[int, cfg.Node], stmt: ast.AST) -> cfg.Node:
        node = table.get(id(stmt))
        if node is None or self._graph.stmts.get(id(stmt)) is not stmt:
            raise LookupError(
                f"no facts for `{ast.unparse(stmt)[:60]}`: not a statement of the analyzed code"
            )
        return node
