"""A `while` on a batched test: it runs while any lane is active, on the active lanes only.

Each iteration gathers the active lanes (`x_active = x[lanes]`, views while every lane is active), runs
the body there and puts the results back (`av__.put_lanes`). Finished lanes are never computed again,
so they cannot fault, and skewed trip counts cost the sum of the iterations, not B times the largest.
Every carried name is batched (lanes leave at different iterations).
"""

from __future__ import annotations

import ast

from ..analysis.activity import augmented_names
from ..rules.values import Kind, Operand, lane_join
from .context import rebound
from .controlflow import _ordered
from .loops import JumpUnderMask
from .regions import Region, RegionsMixin
from .walker import tag_line

# batched values the active-lane gather does not follow (a list or tuple of batched parts, an unknown value)
_UNGATHERABLE = (Kind.OTHER, Kind.SET, Kind.TUPLE, Kind.LIST, Kind.DICT)


class WhileMixin(RegionsMixin):
    def batched_while(self, node: ast.While, test: Operand):
        """A loop on a batched test runs while any lane is active, on the active lanes only: each
        iteration gathers them (`x_active = x[lanes]`, a view while every lane is active), runs the body
        there and puts the results back. Finished lanes are never computed again, so they cannot
        fault, and skewed trip counts cost the sum of the iterations, not B times the largest."""
        ctx = self.ctx
        act = self.facts.activity(node.body)
        carried, written = self._carried(node, act)
        # In a batched branch: the loop runs on the branch's lanes only, and writes into the arrays
        # themselves, not into the copies the branch borrowed (which are taken again after the loop).
        mask = self.region.mask if self.region is not None else None
        in_place = written + [  # arrays written in place, `y *= v` included
            n for n in augmented_names(node.body) if self.augments_in_place(n, self.env.get(n))
        ]
        refresh = {n: self.code_name(n) for n in in_place if self.buffer(n)[1]} if mask is not None else {}
        for n in refresh:
            self.renames[n] = self.buffer(n)[0]
        pre = self._carried_batched(carried)
        body, active = self._settled_iteration(node, carried)
        self._loop_bound_writes(node, act)
        saved, ctx.pending = ctx.pending, []
        truth = self.truthy(self.expr(node.test), node.test)
        if mask is not None:
            truth = ast.BinOp(truth, ast.BitAnd(), mask)
        start = ctx.pending + [ast.Assign([ast.Name(active, ast.Store())], truth)]
        ctx.pending = saved
        ctx.record_control("while")
        loop = ast.While(ctx.expr("np.any(a)", a=ast.Name(active, ast.Load())), body, [])
        after = []
        for n, borrowed in refresh.items():
            self.renames[n] = borrowed
            after += self.reborrow(n)
        for s in pre + start + [loop] + after:
            tag_line(s, node.lineno)
        return pre + start + [loop] + after

    def _carried(self, node: ast.While, act) -> tuple[list[str], list[str]]:
        """(the names the loop carries, the local arrays it writes into), or the reason it cannot run
        on the active lanes. Arrays written in place are carried too: gathered, then put back."""
        ctx = self.ctx
        if node.orelse:
            raise ctx.fail("`while ... else` on a batched test")
        if self.changes_forbidden(node.body, allow_items=True) is not None:
            raise ctx.fail("in-place changes of lists or attributes in a loop on a batched test")
        written = self._loop_writes(node, act)
        if any(isinstance(n, ast.Return) for s in node.body for n in ast.walk(s)):
            raise ctx.fail("`return` in a loop on a batched test")
        if any(isinstance(n, (ast.Break, ast.Continue)) for s in node.body for n in ast.walk(s)):
            raise JumpUnderMask("`break`/`continue` in a loop on a batched test", node)
        stores, live = list(act.binds), self.live_after(node)
        for n in stores:
            if n not in self.env and n in live:
                raise ctx.error(
                    f"`{n}` is first assigned inside a `while` on a batched test and used after it: "
                    "examples that never enter the loop would have no value; assign it before the loop",
                    node,
                )
        # (a name no later code reads, in the loop or after it, is not carried: it may have no value yet)
        read = live | self.facts.live_into_body(node)
        carried = [n for n in stores if n in self.env and n in read]
        return carried + [n for n in written if n not in stores], written

    def _settled_iteration(self, node: ast.While, carried: list[str]) -> tuple[list[ast.stmt], str]:
        """The body of one iteration, rewritten until the Vals of the carried names settle (a fixed
        point: they only grow), and the name of its active-lanes mask; the walker's env is then the
        settled one."""
        ctx = self.ctx
        mark, env0 = ctx.mark(), dict(self.env)
        for _ in range(len(carried) + 3):
            ctx.rollback(mark)
            self.env = dict(env0)
            active, lanes = ctx.namer.fresh("active"), ctx.namer.fresh("lanes")
            body, env_after = self._compacted_body(node, active, lanes, carried)
            changed = [n for n in carried if lane_join(env0[n], env_after[n]) != env0[n]]
            if not changed:
                self.env = dict(env0)
                return body, active
            for n in changed:
                env0[n] = lane_join(env0[n], env_after[n])
        raise ctx.fail("the loop's variables did not settle")

    def _carried_batched(self, carried: list[str]) -> list[ast.stmt]:
        """Every carried name is batched (lanes leave at different iterations) and owns its data (its
        lanes are written in place): the promotions that make it so, before the loop."""
        pre: list[ast.stmt] = []
        for n in carried:
            v = self.env[n]
            if v.kind == Kind.NONE:  # (a `return` in the loop: its value, None until a lane returns)
                raise self.ctx.fail(
                    "a value that is None when a loop on a batched test starts (a `return` in it)"
                )
            if not v.batched:
                code = ast.Name(self.code_name(n), ast.Load())
                promoted = self.ctx.promote(Operand(code, v), v.with_(batched=True))
                pre.append(ast.Assign([rebound(self.code_name(n), n in self.given_changed)], promoted.node))
                self.env[n] = promoted.val
        return pre

    def _loop_writes(self, node: ast.While, act) -> list[str]:
        """The local arrays the loop writes into, each gathered with the active lanes and put back. The
        loop runs when it writes into an argument or into an array another name holds during the loop
        (the gathered copy would leave that name behind), `t op= v` on a name bound in the loop
        included (a view of such an array, or a number)."""
        ctx = self.ctx
        written = act.changed("item", "out")
        augmented = augmented_names(node.body)
        for n in dict.fromkeys([*written, *augmented]):
            v = self.env.get(n)
            if n not in written and (v is None or (v.ndim == 0 and not self.augments_in_place(n, v))):
                continue  # `t += 1` on a number rebinds it (a name bound in the loop: _loop_bound_writes)
            if (
                (n in written and v is None)
                or (v is not None and v.kind != Kind.ARRAY)
                or n in self.fdef_params
            ):
                raise ctx.fail(
                    f"a write into `{n}` in a loop on a batched test (only local arrays are "
                    "gathered and put back lane by lane)"
                )
            holders = [
                m
                for m in self.facts.aliases.members(n) - {n}
                if self.may_hold_buffer(m, self.env.get(m)) or m in act.binds or m in self.fdef_params
            ]
            if holders:
                raise ctx.fail(
                    f"a write into `{n}`, whose array `{holders[0]}` may hold too, in a loop on a batched "
                    "test (its active lanes are gathered into a copy)"
                )
        return written

    def _loop_bound_writes(self, node: ast.While, act) -> None:
        """`t = m[4]; t *= 2` in the loop: once the body is rewritten, a `t` that is an array viewing
        another name's array makes the loop run as the loop (the gathered copy would miss the write)."""
        for n in augmented_names(node.body):
            v = self.env.get(n)
            if n in act.binds and self.augments_in_place(n, v):
                holders = self.facts.aliases.members(n) - {n}
                if holders:
                    raise self.ctx.fail(
                        f"`{n} op= ...` in a loop on a batched test writes into an array `{sorted(holders)[0]}` "
                        "may hold (its active lanes are gathered into a copy)"
                    )

    def _gathered(self, node: ast.While, carried) -> list[str]:
        """The batched names the loop's body reads or carries whose active lanes each iteration
        gathers (arrays and numbers, and carried values of unknown kind). Any other batched value read
        there would keep every lane while the gathered ones shrink: the loop runs instead."""
        reads = self.facts.activity(node.body + [node.test]).reads
        gathered = [
            n
            for n in _ordered(dict.fromkeys(carried), reads)
            if n in self.env
            and self.env[n].batched
            and (
                self.env[n].kind in (Kind.ARRAY, Kind.SCALAR)
                or (n in carried and self.env[n].elts is None and self.env[n].kind == Kind.OTHER)
            )
        ]
        for n in reads:
            v = self.env.get(n)
            if v is not None and v.batched and n not in gathered and v.kind in _UNGATHERABLE:
                raise self.ctx.fail(f"`{n}`, a batched {v.kind.value}, read in a loop on a batched test")
        return gathered

    def _compacted_body(self, node, active, lanes, carried):
        """One iteration on the active lanes (an "active" region): (its code, the Vals it leaves)."""
        ctx = self.ctx
        run = _Masked(ctx, active) if ctx.settings.nested else _Gathered(ctx, active, lanes)
        region = self.on_lanes(ActiveLanes(node, run, carried))
        return region.code, region.env


class ActiveLanes:
    """An iteration of a `while` on a batched test as an "active" region (NOTE [regions]): the carried
    and read batched values are taken on the active lanes (`run`: gathered, or masked), the body and
    the test run there, and the carried values are put back."""

    def __init__(self, node: ast.While, run: _Gathered | _Masked, carried: list[str]) -> None:
        self.node, self.run_on, self.carried = node, run, carried
        self.outer_names: dict[str, str] = {}
        self.tail: list[ast.stmt] = []

    def region(self, walker) -> Region:
        return Region("active", "active", compacts=self.run_on.compacts)

    def enter(self, walker, region: Region) -> list[ast.stmt]:
        self.outer_names = {n: walker.code_name(n) for n in self.carried}
        head = self.run_on.head()
        for n in walker._gathered(self.node, self.carried):
            name = walker.ctx.namer.fresh(f"{n}_active")
            head.append(
                ast.Assign(
                    [ast.Name(name, ast.Store())], self.run_on.take(ast.Name(walker.code_name(n), ast.Load()))
                )
            )
            region.stores[n] = walker.renames[n] = name
        return head

    def run(self, walker, region: Region) -> list[ast.stmt]:
        """The body, then the test (its statements and the new active lanes close the iteration)."""
        ctx, node = walker.ctx, self.node
        walker.loops.append(node)
        try:
            body = walker.block(node.body)
            outer, ctx.pending = ctx.pending, []
            test = walker.expr(node.test)
            test_code, ctx.pending = ctx.pending, outer
        finally:
            walker.loops.pop()
        tail: list[ast.stmt] = []
        for n in self.carried:
            if n in region.stores:
                outer = ast.Name(self.outer_names[n], ast.Load())
                value = self.run_on.put(walker, outer, walker.env[n], region.stores[n])
                tail.append(ast.Assign([ast.Name(self.outer_names[n], ast.Store())], value))
        truth = walker.truthy(test, node.test)
        self.tail = [
            *tail,
            *test_code,
            ast.Assign([ast.Name(self.run_on.active, ast.Store())], self.run_on.still_active(truth)),
        ]
        return body

    def leave(self, walker, region: Region, pre: list[ast.stmt], code: list[ast.stmt]) -> list[ast.stmt]:
        if region.inner_batch is not None:
            active = ast.Name(self.run_on.active, ast.Load())
            count = walker.ctx.expr("np.count_nonzero(a)", a=active)
            pre.insert(1, ast.Assign([ast.Name(region.inner_batch, ast.Store())], count))
        for s in pre + self.tail:
            tag_line(s, self.node.lineno)
        return pre + code + self.tail


class _Gathered:
    """Each iteration gathers the active lanes (`x_active = x[lanes]`) and puts the results back."""

    compacts = True

    def __init__(self, ctx, active: str, lanes: str) -> None:
        self.ctx, self.active, self.lanes = ctx, active, lanes

    def head(self) -> list[ast.stmt]:
        self.ctx.record_control("gather")
        lanes = self.ctx.expr("av__.active_lanes(a)", a=ast.Name(self.active, ast.Load()))
        return [ast.Assign([ast.Name(self.lanes, ast.Store())], lanes)]

    def take(self, x: ast.expr) -> ast.expr:
        return self.ctx.expr("x[i]", x=x, i=ast.Name(self.lanes, ast.Load()))

    def put(self, walker, outer: ast.expr, val, store: str) -> ast.expr:
        i, v = ast.Name(self.lanes, ast.Load()), ast.Name(store, ast.Load())
        return self.ctx.expr("av__.put_lanes(x, i, v)", x=outer, i=i, v=v)

    def still_active(self, truth: ast.expr) -> ast.expr:
        a, i = ast.Name(self.active, ast.Load()), ast.Name(self.lanes, ast.Load())
        return self.ctx.expr("av__.put_lanes(a, i, t)", a=a, i=i, t=truth)


class _Masked:
    """Code an enclosing vmap batches again (Settings.nested): every lane runs each iteration, finished
    lanes on an active lane's values (`av__.lanes_like_active`, so they cannot fault), and each carried
    name takes the iteration's value on the active lanes only (`av__.select`). Under an enclosing batch
    every helper here has a batching rule; the gathered form's lane counts would differ per example."""

    compacts = False

    def __init__(self, ctx, active: str) -> None:
        self.ctx, self.active = ctx, active

    def head(self) -> list[ast.stmt]:
        return []

    def take(self, x: ast.expr) -> ast.expr:
        return self.ctx.expr("av__.lanes_like_active(x, a)", x=x, a=ast.Name(self.active, ast.Load()))

    def put(self, walker, outer: ast.expr, val, store: str) -> ast.expr:
        cond = ast.Name(self.active, ast.Load())
        return walker._select_expr(cond, ast.Name(store, ast.Load()), val, outer, val.with_(batched=True))

    def still_active(self, truth: ast.expr) -> ast.expr:
        return self.ctx.expr("a & t", a=ast.Name(self.active, ast.Load()), t=truth)
