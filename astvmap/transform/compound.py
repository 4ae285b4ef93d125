"""`with`, `try` and `match`: the user's statement kept, its blocks rewritten, where that is the loop's meaning.

Requires: the walker (vectorize.py). Guarantees: each statement below is emitted as the same statement
around its rewritten blocks, or raises `NotBatchable` (the walker then runs it as written, if it reads
no batched value, or as a region loop: region_loop.py).

- `with cm:` whose context manager is unbatched and only scopes state for its body (`np.errstate`,
  `warnings.catch_warnings()` that records nothing, `contextlib.nullcontext`, `np.printoptions`): its
  meaning is the same around the batched body as around each example's; `contextlib.suppress` and
  `warnings.catch_warnings(record=True)` around a body that touches no batched value (every example
  would run it alike). Any other context manager (one of the user's may count or log each entry).
- `try:` whose body touches no batched value, or whose handlers catch only exceptions that types,
  names and static keys decide (`TypeError`, `AttributeError`, `KeyError`, a failed import, a missing
  name: the same for every example) and whose body raises none itself nor runs anything per example
  (a loop over the examples, a function of the user's), or that has no handlers (`try/finally`: an exception escapes for the whole call, as in
  the loop). A handler that could catch an exception raised for some examples only (`ValueError`,
  `KeyError` at a per-example key, `np.linalg.LinAlgError`, `Exception`) would run for all of them: no
  batched form.
- `match` on an unbatched subject with unbatched guards: each case's body rewritten, their names joined
  as after an `if`.
"""

from __future__ import annotations

import ast
import contextlib
import warnings

import numpy as np

from ..errors import AstvmapError
from ..frontend.normalize import walk_no_defs
from ..frontend.source import ASTVMAP_SOURCE
from ..rules.values import UNKNOWN, Val
from .folding import ends_path, path_ends
from .regions import RegionsMixin

# Context managers whose only effect is a setting restored at exit, whatever their body computes.
_SCOPED = (np.errstate, warnings.catch_warnings, contextlib.nullcontext, np.printoptions)

# Context managers that leave nothing changed after their block (what they catch or set ends with it).
RESTORING_MANAGERS = (*_SCOPED, contextlib.suppress)

# Exceptions that types, names and static keys decide: the same for every example, where the body
# raises none itself (`raise` under a per-example condition) and runs nothing per example (a loop over
# the examples, at a per-example key, say; a function of the user's, which may raise). An `IndexError`
# or a `ValueError` may follow the values.
_STATIC_EXCEPTIONS = (ImportError, NameError, TypeError, AttributeError, KeyError, NotImplementedError)


class CompoundMixin(RegionsMixin):
    def visit_With(self, node: ast.With) -> list[ast.stmt]:
        items = []
        env0 = dict(self.env)
        for item in node.items:
            cm = self.expr(item.context_expr)
            if cm.batched:
                raise self.ctx.fail(f"`with {ast.unparse(item.context_expr)}` on a batched value")
            if item.optional_vars is not None:
                if not isinstance(item.optional_vars, ast.Name):
                    raise self.ctx.fail("a `with ... as` target other than a name")
                self.env[item.optional_vars.id] = UNKNOWN
            items.append(ast.withitem(cm.node, item.optional_vars))
        restoring = [
            i.context_expr for i in node.items if not self._made_by(i.context_expr, RESTORING_MANAGERS)
        ]
        if restoring:  # (a context manager of unknown meaning may count or log each entry: per example)
            raise self.ctx.fail(f"`with {ast.unparse(restoring[0])}`")
        body = self.block(node.body) or [ast.Pass()]
        if self._touches_batch(node.body, env0, self.env):
            # one that catches exceptions acts on what each example raises: per example
            unscoped = [i.context_expr for i in node.items if not self._scopes_only(i.context_expr)]
            if unscoped:
                raise self.ctx.fail(f"`with {ast.unparse(unscoped[0])}` around batched code")
        return [ast.With(items, body)]

    def _made_by(self, expr: ast.expr, managers: tuple) -> bool:
        """Is `expr` a call of one of `managers`?"""
        if not isinstance(expr, ast.Call):
            return False
        fn = self.expr(expr.func).val.obj
        return any(fn is m for m in managers)

    def _scopes_only(self, expr: ast.expr) -> bool:
        if not isinstance(expr, ast.Call) or not self._made_by(expr, _SCOPED):
            return False
        record = next((k.value for k in expr.keywords if k.arg == "record"), None)
        return record is None or (isinstance(record, ast.Constant) and not record.value)

    def visit_Try(self, node: ast.Try) -> list[ast.stmt]:
        if self.region is not None and any(isinstance(n, ast.Return) for n in walk_no_defs(node)):
            # (a region's `return` is a store its lanes' path goes on past: the `try` would not end it)
            raise self.ctx.fail("a `return` inside a `try` under a batched condition")
        env0, work, valued = dict(self.env), self.ctx.batched_work, self.ctx.value_errors
        static = all(self._static_handler(h) for h in node.handlers) and not _raises(node.body)
        per_example = "a `try` whose handler may catch an exception raised for some examples only"
        try:
            body = self.block(node.body)
        except AstvmapError:
            if static or not self.reads_batch(node):
                raise
            raise self.ctx.fail(per_example) from None  # (a region loop is the answer, not the error)
        env_b = self.env
        # a body that computes no value per example (`np.broadcast_shapes(*shapes)` of per-example
        # shapes, every example's the same) raises for every example or for none, as one example's would;
        # so does one whose per-example values come from functions that raise only by shapes, for a
        # handler that does not catch FloatingPointError (`except ValueError:` around `np.sum(d * y)`)
        by_shape = self.ctx.value_errors == valued and not any(self._catches_fpe(h) for h in node.handlers)
        uniform = (
            (self.ctx.batched_work == work or by_shape)
            and not self._runs_per_example(self.ctx.pending + body)
            and not self._decides_per_example(node.body, env0)
        )
        touched = self._touches_batch(node.body, env0, env_b) and not uniform
        if touched and node.handlers and self._runs_per_example(self.ctx.pending + body):
            raise self.ctx.fail(
                "a `try` around code run per example, whose handler may catch what one raises"
            )
        handlers, paths = [], []
        for h in node.handlers:
            if touched and not static:
                raise self.ctx.fail(per_example)
            self.env = self._handler_env(env0, env_b, h)
            kind = self.expr(h.type).node if h.type is not None else None
            if h.name is not None:
                self.env[h.name] = UNKNOWN
            code = self.block(h.body)
            if h.name is not None:
                self.env.pop(h.name, None)  # (Python deletes it at the handler's end)
            handlers.append(ast.ExceptHandler(kind, h.name, code))
            paths.append((self.env, code))
        self.env = env_b
        orelse = self.block(node.orelse) if not path_ends(body) else []  # (after a body that ends: never)
        paths.insert(0, (self.env, body if path_ends(body) else orelse))
        self.env = self.merge(paths, self.dead_after(node))
        final = self.block(node.finalbody)
        for h in handlers:
            h.body = h.body or [ast.Pass()]  # (filled once the paths are joined: promotions go there)
        made = ast.Try(body or [ast.Pass()], handlers, orelse, final)
        return [ends_path(made) if all(path_ends(code) for _, code in paths) else made]

    def _decides_per_example(self, body: list[ast.stmt], before: dict[str, Val]) -> bool:
        """Does `body` branch on a per-example value (an `if`, `while`, conditional expression, `and`/`or`,
        `assert` or comprehension filter whose test reads a batched name, before or after the body)?
        Then what it runs, and raises, differs between examples."""
        tests: list[ast.AST] = []
        for n in (m for s in body for m in walk_no_defs(s)):
            if isinstance(n, (ast.If, ast.While, ast.IfExp, ast.Assert)):
                tests.append(n.test)
            elif isinstance(n, ast.BoolOp):
                tests += n.values[:-1]
            elif isinstance(n, ast.comprehension):
                tests += n.ifs
        if not tests:
            return False
        after, self.env = self.env, before
        try:
            early = any(self.reads_batch(t) for t in tests)
        finally:
            self.env = after
        return early or any(self.reads_batch(t) for t in tests)

    def _catches_fpe(self, handler: ast.ExceptHandler) -> bool:
        """May `handler` catch a FloatingPointError (a bare `except:`, a class not known now, or one of
        FloatingPointError's bases)?"""
        if handler.type is None:
            return True
        kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        for k in kinds:
            found = self.expr(k)
            if not (isinstance(found.static, type) and not issubclass(FloatingPointError, found.static)):
                return True
        return False

    def _touches_batch(self, body: list[ast.stmt], before: dict[str, Val], after: dict[str, Val]) -> bool:
        act = self.facts.activity(body)
        return any(before.get(n, Val()).batched for n in act.reads if n in self.local_names) or any(
            after.get(n, Val()).batched for n in act.binds
        )

    def _runs_per_example(self, code: list[ast.stmt]) -> bool:
        """Does generated `code` run something per example (a loop over the examples, a function of the
        user's rewritten that may raise for some examples only)?"""
        av, free = self.ctx.av_name, self.ctx.free
        for n in (n for s in code for n in ast.walk(s)):
            if isinstance(n, ast.Attribute) and _is_loop_helper(n, av):
                return True
            called = n.func.id if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) else None
            fn = free.get(called) if called is not None else None
            if hasattr(fn, ASTVMAP_SOURCE) and getattr(fn, "__astvmap_raises_by_value__", True):
                return True
        return False

    def _static_handler(self, h: ast.ExceptHandler) -> bool:
        if h.type is None:
            return False
        parts = h.type.elts if isinstance(h.type, ast.Tuple) else [h.type]
        kinds = [self.expr(p).val.obj for p in parts]
        return all(isinstance(k, type) and issubclass(k, _STATIC_EXCEPTIONS) for k in kinds)

    def _handler_env(
        self, env0: dict[str, Val], env_b: dict[str, Val], h: ast.ExceptHandler
    ) -> dict[str, Val]:
        """The names a handler starts with: bound before the `try`, or by part of its body. A name the
        body makes batched holds a batched or an unbatched value there: a handler must not read it."""
        reads = self.facts.activity([h]).reads
        env = dict(env0)
        for name, v in env_b.items():
            old = env0.get(name)
            if old is None or old.batched != v.batched:
                if v.batched and name in reads:
                    raise self.ctx.fail(f"a `try` handler that reads `{name}`, batched in its body")
                if old is None or v.batched:
                    env[name] = v
        return env

    def visit_Match(self, node: ast.Match) -> list[ast.stmt]:
        subject = self.expr(node.subject)
        if subject.batched:
            raise self.ctx.fail("`match` on a batched value")
        env0, cases, paths = dict(self.env), [], []
        for case in node.cases:
            self.env = dict(env0)
            if self._pattern_reads_batch(case.pattern):
                raise self.ctx.fail("a `case` pattern that reads a batched value")
            for n in ast.walk(case.pattern):
                name = getattr(n, "name", None)
                if isinstance(n, (ast.MatchAs, ast.MatchStar)) and name is not None:
                    whole = isinstance(n, ast.MatchAs) and n.pattern is None and n is case.pattern
                    self.env[name] = subject.val if whole else UNKNOWN
                if isinstance(n, ast.MatchMapping) and n.rest is not None:
                    self.env[n.rest] = UNKNOWN
            guard = self.expr(case.guard) if case.guard is not None else None
            if guard is not None and guard.batched:
                raise self.ctx.fail("a `case` guard that reads a batched value")
            body = self.block(case.body)
            cases.append(ast.match_case(case.pattern, guard.node if guard else None, body))
            paths.append((self.env, body))
        if not _irrefutable(node.cases[-1]):  # no case matches: the names as before
            rest: list[ast.stmt] = []
            paths.append((dict(env0), rest))
            cases.append(ast.match_case(ast.MatchAs(), None, rest))
        self.env = self.merge(paths, self.dead_after(node))
        if not _irrefutable(node.cases[-1]) and not cases[-1].body:
            cases.pop()  # (nothing to promote where no case matched)
        for c in cases:
            c.body = c.body or [ast.Pass()]  # (filled once the paths are joined: promotions go there)
        return [ast.Match(subject.node, cases)]

    def _pattern_reads_batch(self, pattern: ast.pattern) -> bool:
        return any(
            isinstance(n, ast.Name) and n.id in self.local_names and self.env.get(n.id, Val()).batched
            for n in ast.walk(pattern)
        )


def _irrefutable(case: ast.match_case) -> bool:
    p = case.pattern
    return case.guard is None and isinstance(p, ast.MatchAs) and p.pattern is None


def _raises(body: list[ast.stmt]) -> bool:
    """Does `body` hold a `raise` statement (outside the functions it defines)?"""
    return any(isinstance(n, ast.Raise) for s in body for n in walk_no_defs(s))


def _is_loop_helper(node: ast.Attribute, av: str) -> bool:
    """`av__.loop`, `av__.loop_nested`, `av__.region_loop`: the per-example loops."""
    loops = ("loop", "loop_nested", "region_loop")
    return isinstance(node.value, ast.Name) and node.value.id == av and node.attr in loops
