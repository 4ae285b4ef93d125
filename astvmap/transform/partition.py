"""The partition escape hatch: `if c:  # astvmap: partition` runs each branch on its own lanes only.

A batched `if` normally runs both branches for every lane and selects. When one branch is far more
expensive and taken by few lanes, the directive gathers each branch's lanes (`x_then = x[lanes_then]`),
runs the branch there, and puts the results back lane by lane (`av__.merge_lanes`): jax issue 3103's
workaround, built in.
"""

from __future__ import annotations

import ast
from typing import cast

from ..rules.values import Kind, Operand, Val
from .controlflow import RET, _ordered, _placeholder
from .walker import BranchResult, Walker, tag_line, user_line


class PartitionMixin(Walker):
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
        env0, renames0 = self.env, dict(self.renames)
        lanes_t, lanes_e = ctx.namer.fresh("lanes_then"), ctx.namer.fresh("lanes_else")
        ctx.pending.append(
            ast.Assign([ast.Name(lanes_t, ast.Store())], ctx.expr("np.flatnonzero(c)", c=cond))
        )
        ctx.pending.append(
            ast.Assign([ast.Name(lanes_e, ast.Store())], ctx.expr("np.flatnonzero(~c)", c=cond))
        )
        then = self.gathered_block(node.body, lanes_t, "then")
        orelse = self.gathered_block(node.orelse, lanes_e, "else")
        self.env, self.renames = env0, renames0
        code = then["code"] + orelse["code"]
        live = self.live_after(node)
        for name in _ordered(then["stores"], orelse["stores"]):
            parts: list[tuple[ast.Name, Val, str] | None] = []
            for br, _lanes in ((then, lanes_t), (orelse, lanes_e)):
                if name in br["stores"]:
                    v = br["env"][name]
                    parts.append(
                        (ast.Name(br["stores"][name], ast.Load()), v, "lanes" if v.batched else "one")
                    )
                elif name in env0:
                    v = env0[name]
                    parts.append(
                        (ast.Name(self.code_name(name), ast.Load()), v, "all" if v.batched else "one")
                    )
                else:
                    parts.append(None)
            if None in parts:
                if name == RET or name in live:
                    raise ctx.error(
                        f"`{'the returned value' if name == RET else name}` has a value on one path "
                        "only of an `if` on a batched condition",
                        node,
                    )
                continue
            # no None in `parts`: continued above
            (a, va, ka), (b, vb, kb) = cast("list[tuple[ast.Name, Val, str]]", parts)
            call = ctx.expr(
                "av__.merge_lanes(c, t, a, e, b, kinds)",
                c=ast.Name(cond.id, ast.Load()),
                t=ast.Name(lanes_t, ast.Load()),
                a=a,
                e=ast.Name(lanes_e, ast.Load()),
                b=b,
                kinds=(ka, kb),
            )
            nd = va.ndim if va.ndim == vb.ndim else None
            self.env[name] = Val(True, nd, Kind.ARRAY, va.dtype if va.dtype == vb.dtype else None)
            target = (
                self.store_name(name) if name != RET or self.branch is not None else ctx.namer.fresh("result")
            )
            if name == RET and self.branch is None:
                self.renames[RET] = target
            stmt = ast.Assign([ast.Name(target, ast.Store())], call)
            tag_line(stmt, node.lineno)
            code.append(stmt)
        if RET in self.env and self.branch is None and (RET in then["stores"] or RET in orelse["stores"]):
            ret = self.env.pop(RET)
            self.returns.append(ret)
            self.return_sites.append((node, ret))
            code.append(ast.Return(ast.Name(self.code_name(RET), ast.Load())))
        return code

    def gathered_block(self, body, lanes: str, suffix: str) -> BranchResult:
        """`body` on the lanes `lanes` only: batched inputs gathered (`x_then = x[lanes_then]`)."""
        ctx = self.ctx
        outer_branch = self.branch
        saved = (self.env, self.renames, ctx.batch_name)
        self.env, self.renames = dict(self.env), dict(self.renames)
        self.branch = {
            "stores": {},
            "suffix": suffix,
            "mask": None,
            "outer": dict(saved[1]),
            "borrowed": {},
            "depth": len(self.at),
            "before": frozenset(self.env),
        }
        pre = []
        for name in self.facts.activity(body).reads:
            if _lanewise(self.env.get(name)):
                gathered = ctx.namer.fresh(f"{name}_{suffix}")
                pre.append(self._gather(name, gathered, lanes))
                self.renames[name] = gathered
        ctx.batch_name = None
        self.masked += 1
        try:
            code = self.block(body)
        finally:
            self.masked -= 1
            result: BranchResult = {"code": [], "env": self.env, "stores": self.branch["stores"]}
            ctx.release(result["stores"].values())
            starts = self.branch.get("starts", {})
            inner_batch = ctx.batch_name
            self.branch = outer_branch
            self.env, self.renames, ctx.batch_name = saved
        # a store that some path skips: the branch's name starts as the lanes' value
        pre += [self._gather(name, result["stores"][name], lanes) for name in starts]
        if inner_batch is not None:
            pre.insert(
                0,
                ast.Assign(
                    [ast.Name(inner_batch, ast.Store())], ctx.expr("i.size", i=ast.Name(lanes, ast.Load()))
                ),
            )
        for s in pre:
            tag_line(s, body[0].lineno if body else 0)
        code = pre + code
        if code:
            placeholders: list[ast.stmt] = [
                ast.Assign([ast.Name(c, ast.Store())], _placeholder(result["env"].get(n)))
                for n, c in result["stores"].items()
            ]
            guard = ast.If(ctx.expr("i.size", i=ast.Name(lanes, ast.Load())), code, placeholders)
            tag_line(guard, user_line(code[0]))
            code = [guard]
        result["code"] = code
        return result

    def _gather(self, name: str, target: str, lanes: str) -> ast.stmt:
        """`x_then = x[lanes_then]` (a value shared by the lanes as it is)."""
        value: ast.expr = ast.Name(self.code_name(name), ast.Load())
        if _lanewise(self.env.get(name)):
            value = self.ctx.expr("x[i]", x=value, i=ast.Name(lanes, ast.Load()))
        return ast.Assign([ast.Name(target, ast.Store())], value)


def _lanewise(v: Val | None) -> bool:
    """Does a value of Val `v` hold one entry per lane (gathered by lanes)?"""
    return v is not None and v.batched and v.kind in (Kind.ARRAY, Kind.SCALAR)
