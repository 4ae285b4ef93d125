"""Loops: `for` and `while`, with the fixed point over the names they carry.

A loop whose test or trip count is the same for every example stays a Python loop; names that become
batched inside it are batched from its start (a fixed point: batchedness only grows, so it ends).
Special forms: a list-building loop with independent iterations becomes one more batch axis
(`vectorize_loop`), a `range` with per-example bounds runs to the largest bound under a batched `if`
(`masked_range_loop`), and `break`/`continue` under batched conditions are lowered to flags
(`with_jumps_lowered`, frontend/breaks.py). Loops on batched tests are in while_loop.py.
"""

from __future__ import annotations

import ast

import numpy as np

from ..analysis import lists
from ..errors import AstvmapError, NotBatchable
from ..frontend import breaks
from ..kit import templates
from ..rules.values import UNKNOWN, Kind, Operand, Val, join, join_all, leaf_batchedness
from .callsites import InnerVmap, LocalFunction
from .context import _needs, rebound
from .folding import evaluated
from .regions import RegionsMixin
from .walker import tag_line


class JumpUnderMask(NotBatchable):
    """A `break`/`continue` under a batched condition: the loop is rewritten with flags instead."""


class BreakExits(NotBatchable):
    """A `break` leaves a name less batched than the loop's other exits: the loop is rewritten again
    with `joined`, the Vals every exit must leave (each `break` and the normal end promote to them)."""

    def __init__(self, node: ast.AST, joined: dict[str, Val]):
        super().__init__("the exits of a loop leave values of different batchedness", node)
        self.joined = joined


class LoopsMixin(RegionsMixin):
    """Needs from the walker: env, ctx, block(), expr(), bind_target(), iteration(), nested_call(), lift()."""

    def visit_For(self, node):
        self.touch_calls_in(node.body)  # (a later iteration reads what an earlier one's calls changed)
        unrolled = self._unrolled(node)
        if unrolled is not None:
            return unrolled
        return self.with_jumps_lowered(node, self._visit_for)

    def _unrolled(self, node: ast.For) -> list[ast.stmt] | None:
        """`for a in args:` over a tuple or list of known length whose items differ in their facts (batched
        on some iterations only, of other ranks or kinds), that holds one item, or whose body grows a
        list: each iteration
        written out (`a = args[0]`, the body, `a = args[1]`, ...), so the loop's variable has each item's
        facts and the list is known item by item. None for any other loop (or one that jumps or has an
        `else`)."""
        if node.orelse or _jumps(node.body, (ast.Break,)):
            return None
        iterated = {n.id for n in ast.walk(node.iter) if isinstance(n, ast.Name)}
        if iterated & lists.changed_in(node):  # (a list grown while iterated: its length is not known)
            return None
        grows = self._grows_a_list(node)
        items = self._mixed_items(node.iter, grows, _bound_in(node), _read_in(node.body))
        if items is None and isinstance(node.iter, ast.Call) and _pairing(node.iter):
            items = self._mixed_call_items(node.iter, grows)
        if items is None:
            return None
        code: list[ast.stmt] = []
        body = node.body
        if _jumps(body, (ast.Continue,)):
            body = _without_continue(body) or body  # (`if c: ...; continue` -> `if c: ... else: rest`)
        for item in items:
            if _jumps(body, (ast.Continue,)):
                # a `continue` ends its own iteration: a loop of one item, `for a in (args[0],):`
                one = ast.Tuple([item], ast.Load())
                code.append(
                    ast.copy_location(
                        ast.For(templates.clone(node.target), one, templates.clone(body), []), node
                    )
                )
                continue
            code.append(ast.copy_location(ast.Assign([templates.clone(node.target)], item), node))
            code += templates.clone(body)
        self.facts.substitute(node, code)
        return self.block(code)

    def _grows_a_list(self, node: ast.For) -> bool:
        """Does the loop's body append to a list of this function (`out.append(a)`)?"""
        for n in ast.walk(ast.Module(node.body, [])):
            f = n.func if isinstance(n, ast.Call) else None
            if not (isinstance(f, ast.Attribute) and f.attr in ("append", "extend", "insert")):
                continue
            if isinstance(f.value, ast.Name) and self.env.get(f.value.id, UNKNOWN).kind == Kind.LIST:
                return True
        return False

    def _mixed_items(
        self, it: ast.expr, grows: bool, bound: set[str], read: set[str]
    ) -> list[ast.expr] | None:
        if isinstance(it, (ast.Tuple, ast.List)) and not any(isinstance(e, ast.Starred) for e in it.elts):
            mixed = len({self.reads_batch(e) for e in it.elts}) == 2
            if len(it.elts) > _UNROLLED or not (mixed or grows or len(it.elts) == 1):
                return None
        elif isinstance(it, ast.Name):
            v = self.env.get(it.id)
            if (
                v is None
                or v.kind not in (Kind.TUPLE, Kind.LIST)
                or v.elts is None
                or len(v.elts) > _UNROLLED
            ):
                return None
            if v.kind == Kind.LIST and (it.id in read or self.escapes_here(it.id)):
                return None  # (a list the body's code may grow: Python's `for` takes its new items too)
            if not (grows or _differ(v.elts) or len(v.elts) == 1):  # (one item: its own facts, exactly)
                return None
        else:
            return None
        return self._items_once(it, bound)

    def _items_once(self, it: ast.expr, bound: set[str]) -> list[ast.expr] | None:
        """The items of iterable `it` as Python's `for` takes them: `it` evaluated once, before the first
        iteration, then read item by item (`args[0]`, or `(x, y)`'s `x`); where the loop binds a name `it`
        reads (`args = ...`, `for args in args:`), from a name holding it (`items = args`)."""
        reads = {n.id for n in ast.walk(it) if isinstance(n, ast.Name)}
        plain = isinstance(it, ast.Name) or all(
            isinstance(e, (ast.Name, ast.Constant)) for e in getattr(it, "elts", [None])
        )  # (an item's expression is read when the `for` starts: `(x, z.sum())`, `(x, o.v)`)
        if plain and not reads & bound:
            if isinstance(it, ast.Name):
                return [
                    ast.Subscript(ast.Name(it.id, ast.Load()), ast.Constant(i), ast.Load())
                    for i in range(len(self.env[it.id].elts or ()))
                ]
            return list(it.elts) if isinstance(it, (ast.Tuple, ast.List)) else None
        op = self.expr(it)
        v = op.val
        if v.elts is None or v.kind not in (Kind.TUPLE, Kind.LIST):
            return None
        source = self.ctx.temp(op.node, "items")
        assert isinstance(source, ast.Name)  # (ctx.temp names it)
        self.env[source.id] = v
        return [
            ast.Subscript(ast.Name(source.id, ast.Load()), ast.Constant(i), ast.Load())
            for i in range(len(v.elts))
        ]

    def _mixed_call_items(self, it: ast.Call, grows: bool = False) -> list[ast.expr] | None:
        """`for i, a in enumerate(args):` over a call whose items are known one by one and batched on
        some iterations only: its items taken once (`items = list(enumerate(args))`), then read by
        index; None for any other call (rewritten again where it stands)."""
        mark, env = self.ctx.mark(), dict(self.env)
        try:
            op: Operand | None = self.expr(it)
        except NotBatchable:
            op = None
        v = None if op is None else op.val
        if (
            op is None
            or v is None
            or v.kind not in (Kind.TUPLE, Kind.LIST)
            or v.elts is None
            or len(v.elts) > _UNROLLED
            or not (grows or _differ(v.elts))
        ):
            self.ctx.rollback(mark, pending=True)
            self.env = env
            return None
        source = self.ctx.temp(ast.Call(ast.Name("list", ast.Load()), [op.node], []), "items")
        assert isinstance(source, ast.Name)  # (ctx.temp names it)
        self.env[source.id] = v.with_(kind=Kind.LIST)
        return [
            ast.Subscript(ast.Name(source.id, ast.Load()), ast.Constant(i), ast.Load())
            for i in range(len(v.elts))
        ]

    def visit_While(self, node):
        self.touch_calls_in([*node.body, ast.Expr(node.test)])
        mark, env = self.ctx.mark(), dict(self.env)
        test = self.test(node.test)
        if self.truth_of(test) is False:  # never entered (NOTE [constants]): its test, then its `else`
            return evaluated(test.node) + self.block(node.orelse)
        self.ctx.rollback(mark, pending=True)
        self.env = env
        return self.with_jumps_lowered(node, self._visit_while)

    def with_jumps_lowered(self, node, visit):
        """Rewrite a loop; if a `break`/`continue` sits under a batched condition, rewrite it again with
        those lowered to per-lane flags (frontend/breaks.py)."""
        ctx = self.ctx
        mark = self.checkpoint()

        for _ in range(4):
            self.loop_masks.append(self.masked)
            try:
                return visit(node)
            except JumpUnderMask:
                break
            except BreakExits as e:
                self.restore(mark)
                self.exit_targets[id(node)] = {**self.exit_targets.get(id(node), {}), **e.joined}
            finally:
                self.loop_masks.pop()
        else:
            raise ctx.fail("the values a loop's `break`s leave did not settle")
        self.restore(mark)
        counter = self._counter_read_after(node)
        unbound = self._declare_unbound(node)
        broke = ctx.namer.fresh("broke")
        pre, lowered = breaks.lower(node, broke, ctx.namer.fresh("skip"), counter and counter[:2])
        if counter is not None:  # `at` starts as any int; `ran` says whether the counter was bound
            _, at, ran = counter
            pre += [_assign(at, ast.Constant(0), node), _assign(ran, ast.Constant(False), node)]
            lowered.body.insert(0, _assign(ran, ast.Constant(True), node))
        self.facts.substitute(node, [*pre, lowered])
        for s in pre:
            for g in self.stmt(s):
                tag_line(g, node.lineno)
                ctx.pending.append(g)
        self.loop_masks.append(self.masked)
        try:
            code = visit(lowered)
        finally:
            self.loop_masks.pop()
        if counter is not None:
            code += self._counter_after_break(node, counter, broke)
        return code + [self._check_bound(n, node) for n in unbound]

    def _declare_unbound(self, node) -> list[str]:
        """Names the body of a `for` binds that have no value before the loop and are read after it:
        in Python each example's holds its value from the last iteration it ran. They start as
        `av__.UNBOUND` (what `av__.select` replaces by the branch's value)."""
        target = getattr(node, "target", None)
        if not isinstance(node, ast.For) or not isinstance(target, ast.Name):
            return []
        live, before = self.live_after(node), self.facts.live_into_body(node)
        names = [  # (a name read before it is bound in some iteration is Python's error: not tracked)
            n
            for n in self.facts.activity(node.body).binds
            if n not in self.env and n in live and n not in before and n != target.id
        ]
        for n in names:
            stmt = _assign(self.store_name(n), self.ctx.expr("av__.UNBOUND"), node)
            tag_line(stmt, node.lineno)
            self.ctx.pending.append(stmt)
            self.env[n] = Val(False, None, Kind.UNBOUND)
        return names

    def _check_bound(self, name: str, node) -> ast.stmt:
        """`y = av__.bound(y, "y")`: after a loop that never ran, reading `y` raises as in Python."""
        value = self.ctx.expr(
            "av__.bound(y, n)", y=ast.Name(self.code_name(name), ast.Load()), n=ast.Constant(name)
        )
        stmt = _assign(self.store_name(name), value, node)
        tag_line(stmt, node.lineno)
        return stmt

    def _counter_read_after(self, node) -> tuple[str, str, str] | None:
        """(loop variable, its value where each lane broke, whether it was bound) for a `for` over a
        `range` whose variable is read after the loop; None when it is not read after it."""
        target = getattr(node, "target", None)
        if not isinstance(target, ast.Name) or target.id not in self.live_after(node):
            return None
        if not breaks.has_break(node.body):
            return None  # `continue` alone: every lane runs to the end, the counter is the last value
        it = node.iter
        found, obj, _ = (
            self.ctx.src.resolve(it.func.id)
            if isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id not in self.env
            else (False, None, None)
        )
        if not found or obj is not range:
            raise self.ctx.fail(
                f"the loop variable `{target.id}` is read after a loop that ends at different "
                "iterations for different examples (only a `range` counter is tracked per example)"
            )
        i = target.id
        return i, self.ctx.namer.fresh(f"{i}_at_break"), self.ctx.namer.fresh(f"{i}_bound")

    def _counter_after_break(self, node, counter, broke) -> list[ast.stmt]:
        """After the loop, each lane's counter is where it broke, or the last value if it did not:
        `if i_bound: i = np.where(broke, i_at_break, i)`. After an empty range `i` stays unbound, as in
        Python (and reading it raises there)."""
        i, at, ran = counter
        if not self.env[broke].batched:  # every lane broke at the same iteration, or none did
            stmt = ast.If(
                ast.Name(self.code_name(broke), ast.Load()),
                [_assign(self.code_name(i), ast.Name(self.code_name(at), ast.Load()), node)],
                [],
            )
            tag_line(stmt, node.lineno)
            return [stmt]
        value = self.ctx.expr(
            "np.where(b, a, i)",
            b=ast.Name(self.code_name(broke), ast.Load()),
            a=ast.Name(self.code_name(at), ast.Load()),
            i=ast.Name(self.code_name(i), ast.Load()),
        )
        stmt = ast.If(
            ast.Name(self.code_name(ran), ast.Load()), [_assign(self.code_name(i), value, node)], []
        )
        tag_line(stmt, node.lineno)
        self.env[i] = Val(True, 0, Kind.ARRAY, "i")
        return [stmt]

    def _visit_for(self, node):
        ctx = self.ctx
        vectorized = self.vectorize_loop(node)
        if vectorized is not None:
            return vectorized
        masked = self.masked_range_loop(node)
        if masked is not None:
            return masked
        it = self.expr(node.iter)
        iter_node, elem = self.iteration(it, node.iter)
        header_pending = ctx.pending

        def body_fn():
            self.exits[id(node)] = []
            target = self.bind_target(node.target, Operand(ast.Name("_", ast.Load()), elem), store_only=True)
            return target, self.block(node.body)

        self.loops.append(node)
        try:
            (target, body), pre_stmts, end = self.fixed_point(body_fn)
            body = self._with_loop_end(node, body, end)
        finally:
            self.loops.pop()
        promoted = {t.id for s in pre_stmts for t in s.targets if isinstance(t, ast.Name)}
        if any(isinstance(n, ast.Name) and n.id in promoted for n in ast.walk(iter_node)):
            # `for i in range(y.shape[1])`: the iterable is what the loop reads before `y` is expanded
            iter_node = ctx.temp(iter_node, "iterable")
        ctx.pending = header_pending + pre_stmts
        orelse = self._join_exits(node) + self.block(node.orelse)
        return [ast.For(target, iter_node, body or [ast.Pass()], orelse)]

    def _join_exits(self, node) -> list[ast.stmt]:
        """After an unbatched loop: the Vals its `break`s left (visit_Break) joined with its normal end.
        Returns the promotions the normal end needs (the loop's `else`, which a `break` skips); raises
        BreakExits when a `break` must promote too (the loop is then rewritten with the joined Vals)."""
        exits = self.exits.pop(id(node), [])
        if not exits:
            return []
        joined = {}
        for n in set(self.env).union(*exits):
            vals = [e[n] for e in [self.env, *exits] if n in e]
            joined[n] = join_all(vals)
        if any(_needs(e[n], joined[n]) for e in exits for n in e):
            raise BreakExits(node, joined)
        code = self.promote_env(joined)
        if code and node.orelse:
            raise self.ctx.fail("a loop with `else` whose `break`s leave values of other batchedness")
        self.env.update(joined)
        return code

    def promote_env(self, target: dict[str, Val]) -> list[ast.stmt]:
        """Statements that make the names of this path as batched as `target` says."""
        code: list[ast.stmt] = []
        for n, want in target.items():
            have = self.env.get(n)
            if have is not None and _needs(have, want):
                op = self.ctx.promote(Operand(ast.Name(self.code_name(n), ast.Load()), have), want)
                code.append(ast.Assign([rebound(self.code_name(n), n in self.given_changed)], op.node))
                self.env[n] = join(want, op.val)
        return code

    def vectorize_loop(self, node):
        """`out = []; for i in range(...): out.append(f(i))` later read only as `np.array(out)`: the
        iterations are independent, so they become one more batch axis (a vmap over `i`), and slices
        `x[i:i + k]` become windows of a sliding-window view. None when the loop is not of that form
        or does not batch that way (it then stays a Python loop)."""
        ctx = self.ctx
        found = _appended_element(node)
        if found is None or self.masked:
            return None
        out_name, elt = found
        lst = self.env.get(out_name)
        if lst is None or lst.kind != Kind.LIST or lst.elts != () or out_name in self.renames:
            return None
        if not self._over_range(node.iter) or not self._read_only_as_array(node, out_name, node.target.id):
            return None
        mark, env = ctx.mark(), dict(self.env)
        try:
            result = self._map_iterations(node, out_name, elt)
        except (NotBatchable, AstvmapError):
            ctx.rollback(mark, pending=True)
            self.env = env
            return None
        item = result.val
        if item.kind not in (Kind.ARRAY, Kind.SCALAR):  # (rows of tuples: `np.array` stacks their items)
            ctx.rollback(mark, pending=True)
            self.env = env
            return None
        value = ctx.expr("av__.rows(v, B)", v=result.node, B=ctx.batch_size())
        # Only `np.array(out)` reads it, and these rows are a fresh array: that copy can be skipped.
        self.env[out_name] = Val(
            True, None if item.ndim is None else item.ndim, Kind.ARRAY, item.dtype, fresh_rows=True
        )
        return [ast.Assign([ast.Name(self.store_name(out_name), ast.Store())], value)]

    def _over_range(self, it: ast.expr) -> bool:
        """Is `it` a call of the builtin `range` with plain positional arguments?"""
        if not (
            isinstance(it, ast.Call)
            and isinstance(it.func, ast.Name)
            and not it.keywords
            and 1 <= len(it.args) <= 3
            and all(not isinstance(a, ast.Starred) for a in it.args)
        ):
            return False
        found, obj, _ = self.ctx.src.resolve(it.func.id)
        return it.func.id not in self.env and found and obj is range

    def _map_iterations(self, node: ast.For, out_name: str, elt: ast.expr) -> Operand:
        """The appended element as a vmap of `lambda i: elt` over `np.arange(*bounds)` (raises
        NotBatchable where the trip count or the element does not batch that way)."""
        ctx = self.ctx
        assert isinstance(node.iter, ast.Call) and isinstance(
            node.target, ast.Name
        )  # _over_range, _appended_element
        bounds = self.exprs(node.iter.args)
        if any(b.batched for b in bounds):
            raise NotBatchable("a per-example trip count", node)
        params = ast.arguments(
            posonlyargs=[],
            args=[ast.arg(node.target.id)],
            vararg=None,
            kwonlyargs=[],
            kw_defaults=[],
            kwarg=None,
            defaults=[],
        )
        lam = ast.Lambda(params, elt)
        ast.copy_location(lam, elt)
        lam.end_lineno, lam.end_col_offset = elt.end_lineno, elt.end_col_offset
        fun = LocalFunction(lam, out_name)
        inner = InnerVmap(fun, 0, 0, None, tuple(self.lift(fun)[1]))
        steps = Operand(
            ast.Call(ctx.expr("np.arange"), [b.node for b in bounds], []),
            Val(False, 1, Kind.ARRAY, "i", python_items=True),  # each counter a Python int
        )
        result = self.nested_call(node, inner, [steps], {})
        if not result.batched:
            raise NotBatchable("an unbatched loop body", node)
        return result

    def masked_range_loop(self, node):
        """`for i in range(n)` with a per-example `n` (or start): the counter stays one number for every
        example, running to the largest trip count, and the body runs under `if start <= i < n` (a
        batched `if`, so lanes that are done keep their values)."""
        bounds = self._per_example_range(node)
        if bounds is None:
            return None
        self._check_per_example_range(node, bounds)
        start, stop = (None, bounds[0]) if len(bounds) == 1 else bounds
        pre, lo, hi, trips = self._range_trips(start, stop, node.iter.func.id)
        i = ast.Name(node.target.id, ast.Load())
        test = ast.Compare(i, [ast.Lt()], [ast.Name(hi, ast.Load())])
        if lo is not None:
            test = ast.Compare(ast.Name(lo, ast.Load()), [ast.LtE(), ast.Lt()], [i, ast.Name(hi, ast.Load())])
        loop = ast.For(node.target, trips, [ast.If(test, node.body, [])], [])
        for n in ast.walk(loop):
            if isinstance(n, (ast.stmt, ast.expr)) and not hasattr(n, "lineno"):
                ast.copy_location(n, node)
                n.end_lineno, n.end_col_offset = node.end_lineno, node.end_col_offset
        for st in pre:
            tag_line(st, node.lineno)
        self.ctx.pending.extend(pre)
        self.facts.substitute(node, [loop])
        return self.visit_For(loop)

    def _per_example_range(self, node) -> list[Operand] | None:
        """The bounds of `for i in range(a[, b])` when some bound is batched, else None (and nothing
        emitted)."""
        ctx, it = self.ctx, node.iter
        if not (
            isinstance(it, ast.Call)
            and isinstance(it.func, ast.Name)
            and not it.keywords
            and 1 <= len(it.args) <= 2
            and isinstance(node.target, ast.Name)
            and not node.orelse
        ):
            return None
        found, obj, _ = ctx.src.resolve(it.func.id)
        if it.func.id in self.env or not found or obj is not range:
            return None
        mark = ctx.mark()
        bounds = self.exprs(it.args)
        if not any(b.batched for b in bounds):
            ctx.rollback(mark, pending=True)
            return None
        return bounds

    def _check_per_example_range(self, node, bounds: list[Operand]) -> None:
        ctx = self.ctx
        if any(b.val.ndim not in (0, None) for b in bounds):
            raise ctx.fail("a range over per-example arrays")
        if node.target.id in self.live_after(node):
            raise ctx.fail(
                f"the loop variable `{node.target.id}` is used after a loop whose length differs "
                "between examples"
            )
        jumps = (ast.Break, ast.Continue, ast.Return)
        jump = next((n for s in node.body for n in ast.walk(s) if isinstance(n, jumps)), None)
        if jump is not None:
            word = {ast.Break: "break", ast.Continue: "continue", ast.Return: "return"}[type(jump)]
            raise ctx.fail(f"`{word}` in a loop whose length differs between examples")

    def _range_trips(self, start: Operand | None, stop: Operand, range_name: str):
        """Bounds are read once, as range() reads them, and the counter runs over the union of the
        ranges: (statements before the loop, the batched start's name or None, the stop's name, the
        counter's `range(first, last)`)."""
        ctx = self.ctx
        lo = ctx.namer.fresh("start") if start is not None and start.batched else None
        hi = ctx.namer.fresh("stop")
        pre = [] if lo is None or start is None else [_let(lo, start.node)]
        pre.append(_let(hi, stop.node))
        low = ast.Name(lo, ast.Load()) if lo else (start.node if start is not None else ast.Constant(0))
        first, last = ctx.namer.fresh("first"), ctx.namer.fresh("last")
        ctx.record_control("trips")
        pre.append(_let(first, ctx.expr("av__.lowest(a)", a=low) if lo else low))
        highest = ctx.expr("av__.highest(b, a)", a=ast.Name(first, ast.Load()), b=ast.Name(hi, ast.Load()))
        pre.append(_let(last, highest))
        self.env[first] = self.env[last] = Val(False, 0, Kind.SCALAR, "i")
        self.env[hi] = stop.val
        if lo is not None and start is not None:
            self.env[lo] = start.val
        return (
            pre,
            lo,
            hi,
            ast.Call(
                ast.Name(range_name, ast.Load()),
                [ast.Name(first, ast.Load()), ast.Name(last, ast.Load())],
                [],
            ),
        )

    def _read_only_as_array(self, node, out_name, i) -> bool:
        """After the loop, is the list `out_name` built only read as `np.array(out)`/`np.asarray(out)`
        (by every code its value reaches) and `i` not at all?"""
        if i in self.live_after(node):
            return False
        uses, ok = 0, 0
        for root in self.facts.uses_after(node, out_name):
            for n in ast.walk(root):
                if isinstance(n, ast.Name) and n.id == out_name and isinstance(n.ctx, ast.Load):
                    uses += 1
                if (
                    isinstance(n, ast.Call)
                    and len(n.args) == 1
                    and not n.keywords
                    and isinstance(n.args[0], ast.Name)
                    and n.args[0].id == out_name
                    and isinstance(n.func, ast.Attribute)
                    and n.func.attr in ("array", "asarray")
                    and isinstance(n.func.value, ast.Name)
                ):
                    found, obj, _ = self.ctx.src.resolve(n.func.value.id)
                    if found and obj is np:
                        ok += 1
        return uses == ok

    def _visit_while(self, node):
        ctx = self.ctx
        header_pending = ctx.pending

        def body_fn():
            self.exits[id(node)] = []
            ctx.pending = []
            test = self.test(node.test)
            test_pending = ctx.pending
            body = self.block(node.body)
            return (test, test_pending), body

        mark, env0 = ctx.mark(), dict(self.env)
        self.loops.append(node)
        try:
            ((test, test_pending), body), pre_stmts, end = self.fixed_point(body_fn)
            body = self._with_loop_end(node, body, end)
        finally:
            self.loops.pop()
        if test.batched:
            self.exits.pop(id(node), None)
            ctx.rollback(mark)
            self.env = env0
            ctx.pending = header_pending
            return self.batched_while(node, test)
        ctx.pending = header_pending + pre_stmts
        normal_end = self._join_exits(node)
        orelse = self.block(node.orelse)
        if test_pending:
            # The test needs statements of its own: evaluate them at the top of every iteration.
            brk = ast.If(ast.UnaryOp(ast.Not(), test.node), [*normal_end, *orelse, ast.Break()], [])
            return [ast.While(ast.Constant(True), test_pending + [brk] + body, [])]
        return [ast.While(test.node, body or [ast.Pass()], normal_end + orelse)]

    def _with_loop_end(self, node, body, end):
        """The body followed by the promotions fixed_point asked for at its end."""
        if not end:
            return body
        for st in end:
            tag_line(st, node.lineno)
        return body + end

    def fixed_point(self, body_fn):
        """Rewrite a loop body until the Vals of the names it carries stop changing.

        Returns (body_fn's result, statements to run before the loop that repeat over the batch the
        names that become batched inside it, statements to run at the end of the body for names the body
        leaves unbatched)."""
        ctx = self.ctx
        env0 = dict(self.env)
        promote: dict[str, ast.stmt] = {}
        mark = ctx.mark()
        loop = id(self.loops[-1])
        for _ in range(len(env0) + 3):
            ctx.rollback(mark)
            self.env = dict(env0)
            self.heads[loop], self.continues[loop] = env0, []  # what a `continue` promotes to, leaves
            self.in_loop += 1
            try:
                result = body_fn()
            finally:
                self.in_loop -= 1
            env_end = self.env  # where the body falls through to the next iteration
            env1 = _join_envs([env_end, *self.continues.pop(loop)])
            changed = {  # a name unbound at the loop's start stays so: each iteration's value comes from it
                n: join(env0[n], env1[n])
                for n in env0
                if n in env1 and env0[n].kind != Kind.UNBOUND and join(env0[n], env1[n]) != env0[n]
            }
            if not changed:
                break
            for n, j in changed.items():
                op = ctx.promote(Operand(ast.Name(self.code_name(n), ast.Load()), env0[n]), j)
                if not (isinstance(op.node, ast.Name) and op.node.id == self.code_name(n)):
                    promote[n] = ast.Assign([rebound(self.code_name(n), n in self.given_changed)], op.node)
                env0[n] = join_all([j, op.val])
        else:
            raise ctx.fail("the loop's variables did not settle")
        # A name batched at the loop's start that the body leaves unbatched (`t = 0.0` after a batched
        # `t`) is repeated over the batch at the body's end too: the next iteration expects it batched.
        end = []
        for n in env0:
            if n in env_end and _needs(env_end[n], env0[n]):
                op = ctx.promote(Operand(ast.Name(self.code_name(n), ast.Load()), env_end[n]), env0[n])
                end.append(ast.Assign([rebound(self.code_name(n), n in self.given_changed)], op.node))
        self.heads.pop(loop, None)
        self.env = {**env1, **{n: join(env0[n], env1[n]) if n in env1 else env0[n] for n in env0}}
        return result, list(promote.values()), end


def _appended_element(node: ast.For) -> tuple[str, ast.expr] | None:
    """(`out`, `elt`) of `for i in ...: out.append(elt)` where `elt` does not read `out`, else None."""
    body = node.body
    if (
        node.orelse
        or not isinstance(node.target, ast.Name)
        or len(body) != 1
        or not isinstance(body[0], ast.Expr)
    ):
        return None
    call = body[0].value
    if not (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Attribute)
        and call.func.attr == "append"
        and isinstance(call.func.value, ast.Name)
        and len(call.args) == 1
        and not call.keywords
    ):
        return None
    out_name, elt = call.func.value.id, call.args[0]
    if any(isinstance(n, ast.Name) and n.id == out_name for n in ast.walk(elt)):
        return None
    return out_name, elt


def _pairing(it: ast.expr) -> bool:
    """`enumerate(...)` or `zip(...)` of names and displays (whose items may be known one by one)."""
    return (
        isinstance(it, ast.Call)
        and isinstance(it.func, ast.Name)
        and it.func.id in ("enumerate", "zip")
        and not it.keywords
        and all(isinstance(a, (ast.Name, ast.Tuple, ast.List, ast.Subscript, ast.Constant)) for a in it.args)
    )


def _let(name: str, value: ast.expr) -> ast.Assign:
    return ast.Assign([ast.Name(name, ast.Store())], value)


def _assign(name: str, value: ast.expr, where: ast.AST) -> ast.Assign:
    stmt = ast.Assign([ast.Name(name, ast.Store())], value)
    ast.copy_location(stmt, where)
    for n in ast.walk(stmt):
        ast.copy_location(n, where)
    return stmt


def _join_envs(envs: list[dict[str, Val]]) -> dict[str, Val]:
    """The Vals of the names bound on every one of these paths, joined."""
    first, *rest = envs
    return {n: join_all([e[n] for e in envs]) for n in first if all(n in e for e in rest)}


_UNROLLED = 8  # the longest tuple whose iterations are written out


def _bound_in(node: ast.For) -> set[str]:
    """The names a loop binds: its target's and its body's (never a nested scope's own)."""
    names = {n.id for n in ast.walk(node.target) if isinstance(n, ast.Name)}
    for s in node.body:
        names |= {n.id for n in ast.walk(s) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
    return names


def _read_in(body: list[ast.stmt]) -> set[str]:
    """The names code in `body` reads (a helper given one may change the list it holds)."""
    return {
        n.id for s in body for n in ast.walk(s) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
    }


def _differ(items) -> bool:
    """Do the items' facts differ (batched on some only, of other ranks, kinds or dtypes)?"""
    return len({leaf_batchedness(e) for e in items}) > 1 or len(set(items)) > 1


def _without_continue(body: list[ast.stmt]) -> list[ast.stmt] | None:
    """`body` with each `continue` that ends a branch of an `if` of the body itself turned into the
    statements after that `if` going to the other branch (`if c: a; continue` then `b` is `if c: a
    else: b`); None where a `continue` sits anywhere else."""
    out: list[ast.stmt] = []
    for i, stmt in enumerate(body):
        if isinstance(stmt, ast.Continue):
            return out
        if isinstance(stmt, ast.If) and _jumps([stmt], (ast.Continue,)):
            rest = body[i + 1 :]
            then = _branch_without_continue(stmt.body, rest)
            orelse = _branch_without_continue(stmt.orelse, rest)
            if then is None or orelse is None:
                return None
            then = then or [ast.copy_location(ast.Pass(), stmt)]
            return out + [ast.copy_location(ast.If(stmt.test, then, orelse), stmt)]
        if _jumps([stmt], (ast.Continue,)):
            return None
        out.append(stmt)
    return out


def _branch_without_continue(branch: list[ast.stmt], rest: list[ast.stmt]) -> list[ast.stmt] | None:
    """A branch of an `if` and the `rest` of the body after it (which the branch's paths that do not
    `continue` reach), without `continue`s."""
    return _without_continue(list(branch) + [templates.clone(s) for s in rest])


def _jumps(body: list[ast.stmt], kinds=(ast.Break, ast.Continue)) -> bool:
    """A `break` or `continue` (of `kinds`) of the loop whose body is `body` (not of a loop inside it)."""
    todo: list[ast.AST] = list(body)
    while todo:
        n = todo.pop()
        if isinstance(n, kinds):
            return True
        if not isinstance(n, (ast.For, ast.While, ast.AsyncFor, ast.FunctionDef, ast.Lambda, ast.ClassDef)):
            todo.extend(ast.iter_child_nodes(n))
    return False
