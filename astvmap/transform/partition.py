"""The partition escape hatch: `if c:  # astvmap: partition` runs each branch on its own lanes only.

A batched `if` normally runs both branches for every lane and selects. When one branch is far more
expensive and taken by few lanes, the directive gathers each branch's lanes (`x_then = x[lanes_then]`),
runs the branch there, and puts the results back lane by lane (`av__.merge_lanes`): jax issue 3103's
workaround, built in.
"""

from __future__ import annotations

import ast
from typing import cast

from ..rules.values import Kind, Operand, Val, container, parallel
from .controlflow import RET, _ordered, _placeholder
from .regions import Region, RegionsMixin
from .walker import tag_line, user_line


class PartitionMixin(RegionsMixin):
    def partitioned_if(self, node: ast.If, test: Operand):
        """`if c:  # astvmap: partition` — each branch runs on its own lanes only (gathered), and the
        results are put back lane by lane: for a branch far more expensive than the other and taken by
        few lanes, that beats computing it for every lane (jax issue 3103's workaround, built in)."""
        ctx = self.ctx
        if self.changes_forbidden(node.body + node.orelse) is not None:
            raise ctx.fail("in-place writes in a partitioned `if`")
        truth = self.truthy(test, node.test)
        cond = truth if isinstance(truth, ast.Name) else ctx.temp(truth, "cond")
        assert isinstance(cond, ast.Name)  # ctx.temp names it: the walker never runs while a rule infers
        env0 = self.env
        lanes = ctx.namer.fresh("lanes_then"), ctx.namer.fresh("lanes_else")
        for name, select in zip(lanes, ("np.flatnonzero(c)", "np.flatnonzero(~c)")):
            ctx.pending.append(ast.Assign([ast.Name(name, ast.Store())], ctx.expr(select, c=cond)))
        then = self.gathered_block(node.body, lanes[0], "then")
        orelse = self.gathered_block(node.orelse, lanes[1], "else")
        code = then.code + orelse.code
        live = self.live_after(node)
        for name in _ordered(then.stores, orelse.stores):
            parts = [_part(name, br, env0, self.code_name(name)) for br in (then, orelse)]
            if None in parts:
                if name == RET or name in live:
                    raise ctx.error(
                        f"`{'the returned value' if name == RET else name}` has a value on one path "
                        "only of an `if` on a batched condition",
                        node,
                    )
                continue
            code.append(self._merged(name, cond, lanes, cast("list[tuple[ast.Name, Val, str]]", parts), node))
        if RET in self.env and self.region is None and (RET in then.stores or RET in orelse.stores):
            ret = self.env.pop(RET)
            self.returns.append(ret)
            self.return_sites.append((node, ret))
            code.append(ast.Return(ast.Name(self.code_name(RET), ast.Load())))
        return code

    def _merged(self, name: str, cond: ast.Name, lanes: tuple[str, str], parts, node: ast.If) -> ast.stmt:
        """`y = av__.merge_lanes(c, lanes_then, y_then, lanes_else, y_else, kinds)` (and y's Val)."""
        ctx = self.ctx
        ctx.record_control("partition")
        call, self.env[name] = self._merge(cond, lanes, *parts)
        if name != RET or self.region is not None:
            target = self.store_name(name)
        else:
            target = self.renames[RET] = ctx.namer.fresh("result")
        stmt = ast.Assign([ast.Name(target, ast.Store())], call)
        tag_line(stmt, node.lineno)
        return stmt

    def _merge(self, cond: ast.Name, lanes: tuple[str, str], side_a, side_b) -> tuple[ast.expr, Val]:
        """One value merged lane by lane, and its Val. A tuple or list of known elements is merged
        element by element, as `av__.select` does: the rewrite keeps a batched container as a container
        of batched parts, so `r = (1.0, 2.0)` on one side and `r = (x[1], x[2])` on the other stays a
        tuple of two columns."""
        (a, va, ka), (b, vb, kb) = side_a, side_b
        if parallel(va, vb):
            assert va.elts is not None and vb.elts is not None  # parallel() checked
            parts = [
                self._merge(cond, lanes, _element(a, i, ea, ka), _element(b, i, eb, kb))
                for i, (ea, eb) in enumerate(zip(va.elts, vb.elts))
            ]
            typed = va if va.cls is vb.cls else va.with_(cls=None)  # (a namedtuple stays one: NOTE [pytrees])
            val = container(va.kind, [p[1] for p in parts], cls=typed.cls)
            return self.ctx.build(typed, [p[0] for p in parts]), val
        if any(v.batched and v.kind in (Kind.TUPLE, Kind.LIST, Kind.DICT, Kind.RECORD) for v in (va, vb)):
            # per lane a container of batched parts on one side and not the same container on the other:
            # merge_lanes sees arrays, and a container of columns is no array of lanes
            raise self.ctx.fail("a partitioned `if` whose branches give containers that do not line up")
        call = self.ctx.expr(
            "av__.merge_lanes(c, t, a, e, b, kinds)",
            c=ast.Name(cond.id, ast.Load()),
            t=ast.Name(lanes[0], ast.Load()),
            a=a,
            e=ast.Name(lanes[1], ast.Load()),
            b=b,
            kinds=(ka, kb),
        )
        nd = va.ndim if va.ndim == vb.ndim else None
        return call, Val(True, nd, Kind.ARRAY, va.dtype if va.dtype == vb.dtype else None)

    def gathered_block(self, body, lanes: str, suffix: str) -> Region:
        """`body` on the lanes `lanes` only (a "gathered" region): batched inputs gathered
        (`x_then = x[lanes_then]`)."""
        return self.on_lanes(GatheredBranch(body, lanes, suffix))

    def _gather(self, name: str, target: str, lanes: str) -> ast.stmt:
        """`x_then = x[lanes_then]` (a value shared by the lanes as it is)."""
        value: ast.expr = ast.Name(self.code_name(name), ast.Load())
        if _lanewise(self.env.get(name)):
            value = self.ctx.expr("x[i]", x=value, i=ast.Name(lanes, ast.Load()))
        return ast.Assign([ast.Name(target, ast.Store())], value)


def _part(name: str, branch: Region, env0: dict[str, Val], before: str) -> tuple[ast.Name, Val, str] | None:
    """What one branch leaves in `name` for `av__.merge_lanes`: (its code name, Val, "lanes" for one
    value per lane of the branch, "all" for one per lane of the batch, "one" for a value every lane
    shares), or None where the name has no value on that path."""
    if name in branch.stores:
        v = branch.env[name]
        return ast.Name(branch.stores[name], ast.Load()), v, "lanes" if v.batched else "one"
    if name in env0:
        v = env0[name]
        return ast.Name(before, ast.Load()), v, "all" if v.batched else "one"
    return None


def _element(node: ast.expr, i: int, v: Val, kind: str) -> tuple[ast.expr, Val, str]:
    """Element `i` of one side of a merge: its code, Val and kind (a shared element is "one")."""
    return ast.Subscript(node, ast.Constant(i), ast.Load()), v, kind if v.batched else "one"


def _lanewise(v: Val | None) -> bool:
    """Does a value of Val `v` hold one entry per lane (gathered by lanes)?"""
    return v is not None and v.batched and v.kind in (Kind.ARRAY, Kind.SCALAR)


class GatheredBranch:
    """A branch of a partitioned `if` as a "gathered" region (NOTE [regions]): the batched values it
    reads are gathered to its lanes, it runs there (its batch is their count), and it runs only when
    some lane takes it."""

    def __init__(self, body: list[ast.stmt], lanes: str, suffix: str) -> None:
        self.body, self.lanes, self.suffix = body, lanes, suffix

    def region(self, walker) -> Region:
        return Region(
            "gathered",
            self.suffix,
            outer=dict(walker.renames),
            depth=len(walker.at),
            before=frozenset(walker.env),
            compacts=True,
        )

    def enter(self, walker, region: Region) -> list[ast.stmt]:
        pre = []
        for name in walker.facts.activity(self.body).reads:
            if _lanewise(walker.env.get(name)):
                gathered = walker.ctx.namer.fresh(f"{name}_{self.suffix}")
                pre.append(walker._gather(name, gathered, self.lanes))
                walker.renames[name] = gathered
        return pre

    def run(self, walker, region: Region) -> list[ast.stmt]:
        return walker.block(self.body)

    def leave(self, walker, region: Region, pre: list[ast.stmt], code: list[ast.stmt]) -> list[ast.stmt]:
        ctx, lanes = walker.ctx, ast.Name(self.lanes, ast.Load())
        # a store that some path skips: the branch's name starts as the lanes' value
        pre += [walker._gather(name, region.stores[name], self.lanes) for name in region.starts]
        if region.inner_batch is not None:
            pre.insert(
                0, ast.Assign([ast.Name(region.inner_batch, ast.Store())], ctx.expr("i.size", i=lanes))
            )
        for s in pre:
            tag_line(s, self.body[0].lineno if self.body else 0)
        code = pre + code
        if not code:
            return code
        placeholders: list[ast.stmt] = [
            ast.Assign([ast.Name(c, ast.Store())], _placeholder(region.env.get(n), ctx))
            for n, c in region.stores.items()
        ]
        guard = ast.If(ctx.expr("i.size", i=lanes), code, placeholders)
        tag_line(guard, user_line(code[0]))
        return [guard]
