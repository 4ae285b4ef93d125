"""Control flow on batched values: `if`/ternaries/`and`/`or` become selects, `while` a masked loop.

NOTE [batched if]: under a batched condition both branches run for every example and each name a
branch assigns is selected per lane (`av__.select`, which takes a branch's own value when every lane
agrees, so dtypes match the loop). A branch that could raise or warn (anything beyond plain
arithmetic and comparisons) runs only when some lane takes it, and its lanes that do not take it borrow
one active lane's values (`av__.lanes_like_active`): masked lanes repeat a computation the loop really
does, so they never fault.

A batched `while` runs while any lane is active; every carried name is updated as
`np.where(active, new, old)`, so finished lanes keep the value of their last iteration.
"""

from __future__ import annotations

import ast
import copy
from typing import cast

from ..kit import templates
from ..rules import registry
from ..rules.values import Kind, Operand, Val, join, merged_py, parallel, python_number, val_of
from .objects import refuse_protocol
from .regions import Region, RegionsMixin
from .walker import tag_line, user_line

RET = "<return>"  # the returned value, as a name a branch assigns
PARTITION = "astvmap: partition"  # directive comment on an `if` line (partitioned_if)

# Operators that never raise and never warn on any input lanes could hold (calls: the rules that declare
# the "quiet" trait, NOTE [rule traits] in rules/registry.py).
_SAFE_OPS = (
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.BitAnd,
    ast.BitOr,
    ast.BitXor,
    ast.USub,
    ast.UAdd,
    ast.Not,
    ast.Invert,
    ast.Eq,
    ast.NotEq,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.And,
    ast.Or,
)


def is_safe(nodes, env=None) -> bool:
    """Does this code only do things that cannot raise or warn, whatever the lane's values?"""
    return risk(nodes, env) == "none"


def risk(nodes, env=None) -> str:
    """ "none": cannot raise or warn; "all": can only fault alike for every lane (indexing with indices
    shared by the examples), so it needs a guard but no borrowed values; "lanes": may fault per lane."""
    env = env or {}
    level = "none"
    for root in nodes:
        for n in ast.walk(root):
            if isinstance(n, ast.Name) and n.id in env and env[n.id].selection is not None:
                return "lanes"  # a selection may be empty on some lanes (`np.max` of it raises)
            if isinstance(n, ast.Subscript):
                if any(
                    isinstance(m, ast.Call)
                    or (isinstance(m, ast.Name) and (m.id not in env or env[m.id].batched))
                    for m in ast.walk(n.slice)
                ):
                    return "lanes"
                level = "all"
                continue
            if isinstance(n, (ast.Lambda, ast.Raise, ast.Assert)):
                return "lanes"
            if (
                isinstance(n, ast.BinOp)
                and isinstance(n.op, (ast.Div, ast.FloorDiv, ast.Mod))
                and isinstance(n.right, ast.Constant)
                and isinstance(n.right.value, (int, float))
                and n.right.value != 0
            ):
                continue  # division by a nonzero constant
            if isinstance(n, (ast.BinOp, ast.UnaryOp, ast.BoolOp)) and not isinstance(n.op, _SAFE_OPS):
                return "lanes"
            if isinstance(n, ast.Compare) and not all(isinstance(o, _SAFE_OPS) for o in n.ops):
                return "lanes"
            if isinstance(n, ast.Call):
                f = n.func
                name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else None
                if name not in registry.named("quiet"):  # NOTE [rule traits]
                    return "lanes"
    return level


class ControlFlowMixin(RegionsMixin):
    """Needs from the walker: env, renames, block(), expr(), ctx, fresh code names."""

    # ---- names under masks ---------------------------------------------------------------------------
    def code_name(self, name: str) -> str:
        return self.renames.get(name, name)

    def store_name(self, name: str) -> str:
        """The name a store to user name `name` writes in generated code (`y_then` in a region)."""
        region = self.region
        if region is None:
            return self.code_name(name)
        if name not in region.stores:
            hint = "result" if name == RET else name
            region.stores[name] = self.ctx.namer.fresh(f"{hint}_{region.suffix}")
            self.ctx.keep(region.stores[name])
            if name in region.before and self._conditional_in_region(region) and self._read_later(name):
                # a path through the region may skip this store: the region's name starts as the value
                region.starts[name] = self.code_name(name)
        self.renames[name] = region.stores[name]
        return region.stores[name]

    def _read_later(self, name: str) -> bool:
        """May the user's code read `name` after this store, in the region or after it? (A name nothing
        reads, `_`, may well be unbound before the region: its start is never read.)"""
        if name not in self.local_names or name in self.facts.captured:
            return True
        depth = self.region.depth if self.region is not None else None
        if depth is None or depth < 1:
            return True
        region_stmt = self.at[depth - 1]
        return name in self.live_after(region_stmt) or name in self.facts.activity([region_stmt]).reads

    def _conditional_in_region(self, region: Region) -> bool:
        """Is the statement being rewritten inside an `if` or a loop of `region` (a store there may not
        run on every path through it)?"""
        if region.depth is None:
            return False  # a region that names every store before its body (while_loop.py)
        return len(self.at) > region.depth + 1 or isinstance(self.at[-1], (ast.For, ast.While))

    def live_after(self, node) -> frozenset[str]:
        """Names some path after `node` reads before rebinding them (the analysis's liveness)."""
        return self.facts.live_after(node)

    def truthy(self, test: Operand, node) -> ast.expr:
        """The per-example truth value of a batched test, as a bool (B,) array."""
        refuse_protocol(self.ctx, [test.val], "the truth")
        if test.val.ndim not in (0, None):
            raise self.ctx.error(
                "a batched test must be one value per example: the loop raises ValueError (the "
                "truth value of an array with more than one element is ambiguous); use np.any() "
                "or np.all()",
                node,
            )
        if test.val.dtype == "b":
            return test.node
        return self.ctx.expr("np.asarray(t, dtype=bool)", t=test.node)

    # ---- if -----------------------------------------------------------------------------------------
    def batched_if(self, node: ast.If, test: Operand):
        if PARTITION in self.ctx.src.origin.line(node.lineno) and not self.ctx.settings.nested:
            return self.partitioned_if(node, test)
        if self.changes_forbidden(node.body + node.orelse, allow_items=True) is not None:
            raise self.ctx.fail("in-place changes of lists or attributes under a batched condition")
        ctx = self.ctx
        truth = self.truthy(test, node.test)
        cond = truth if isinstance(truth, ast.Name) else ctx.temp(truth, "cond")
        assert isinstance(cond, ast.Name)  # ctx.temp names it: the walker never runs while a rule infers
        self.promote_written_arrays(node.body + node.orelse)  # (after the test, which may read them)
        env0 = self.env
        then = self.masked_block(node.body, cond, "then")
        not_cond = ast.UnaryOp(ast.Invert(), ast.Name(cond.id, ast.Load()))
        orelse = self.masked_block(node.orelse, not_cond, "else")
        code = then.code + orelse.code
        live = self.live_after(node)
        returns = RET in then.stores or RET in orelse.stores
        for name in _ordered(then.stores, orelse.stores):
            if name in self.local_names and name not in live and name not in self.facts.captured:
                continue  # the user's code reads it no more (it may be unbound before the `if`: `_`)
            sides: list[tuple[ast.Name, Val] | None] = []
            for br in (then, orelse):
                if name in br.stores and name in br.env:  # (a batched `while` drops names dead after it)
                    sides.append((ast.Name(br.stores[name], ast.Load()), br.env[name]))
                elif name in env0:
                    sides.append((ast.Name(self.code_name(name), ast.Load()), env0[name]))
                else:
                    sides.append(None)
            if None in sides:
                if name == RET and self.loops:
                    raise ctx.fail(
                        "a `return` inside a loop under a batched condition (it ends the loop for some "
                        "examples only)"
                    )
                if name == RET:
                    raise ctx.error(
                        "under a batched condition one branch returns a value and the other returns "
                        "nothing; both branches run for every example, so both must return",
                        node,
                    )
                if name in live:
                    raise ctx.error(
                        f"`{name}` is assigned in only one branch of an `if` on a batched condition and "
                        "used after it: both branches run for every example, so it must have a value "
                        "on both paths (assign it before the `if` or in both branches)",
                        node,
                    )
                continue
            # no None in `sides`: continued above
            (a, va), (b, vb) = cast("list[tuple[ast.Name, Val]]", sides)
            self.check_select_aliasing(name, va, vb)
            code += self.select_stmt(name, cond, a, va, b, vb, node)
        if returns and self.region is None:
            ret = self.env[RET]
            self.returns.append(ret)
            self.return_sites.append((node, ret))
            code.append(ast.Return(ast.Name(self.code_name(RET), ast.Load())))
            self.env.pop(RET)
        return code

    def check_select_aliasing(self, name: str, va: Val, vb: Val) -> None:
        """After a batched `if`, `t` holds a selected copy: where `t` may name another array on some
        lanes and that array is written in place through `t`, the loop runs."""
        al = self.facts.aliases
        if (
            name in self.local_names
            and al.shared(name)
            and al.written(name)
            and any(self.may_hold_buffer(name, v, after=self.at[-1]) for v in (va, vb))
            and self.facts.changed_after(self.at[-1], al.members(name))
        ):
            raise self.ctx.fail(f"`{name}` names different arrays per example and is written through")

    def masked_block(self, body, mask: ast.expr, suffix: str) -> Region:
        """Rewrite `body` as a branch taken by the lanes in `mask` (a "masked" region).

        A name some path through the branch may not store (`Region.starts`) is the branch's name from
        the branch's start: the branch is rewritten again with those names in place, so a loop inside
        it reads the value its earlier iterations stored, never the value from before the branch."""
        mark = self.ctx.mark()
        first = self.on_lanes(MaskedBranch(body, mask, suffix, {}))
        seed = {n: first.stores[n] for n in first.starts}
        if not seed:
            return first
        self.ctx.rollback(mark)
        return self.on_lanes(MaskedBranch(body, mask, suffix, seed))

    def borrow(self, body, mask: ast.expr, suffix: str) -> list[ast.stmt]:
        """`x_then = av__.lanes_like_active(x, m)` for the batched values a branch that may fault reads
        (NOTE [batched if])."""
        assert self.region is not None  # called by MaskedBranch.enter for its region
        pre: list[ast.stmt] = []
        for name in self.facts.activity(body).reads:
            v = self.env.get(name)
            if (
                v is not None
                and v.batched
                and (v.kind in (Kind.ARRAY, Kind.SCALAR) or v.selection is not None)
            ):
                self.ctx.record_control("borrow")
                borrowed = self.ctx.namer.fresh(f"{name}_{suffix}")
                x = ast.Name(self.code_name(name), ast.Load())
                pre.append(
                    ast.Assign(
                        [ast.Name(borrowed, ast.Store())],
                        self.ctx.expr("av__.lanes_like_active(x, m)", x=x, m=mask),
                    )
                )
                self.renames[name] = borrowed
                self.region.borrowed[name] = (borrowed, mask)
        return pre

    def select_stmt(self, name, cond, a, va: Val, b, vb: Val, node):
        """`y = av__.select(cond, y_then, y_else)` (and its Val)."""
        ctx = self.ctx
        if Kind.UNBOUND in (va.kind, vb.kind):
            # no value before the first iteration (av__.UNBOUND, which av__.select replaces by the
            # branch's value), then the batched value of the iterations before
            known = va if vb.kind == Kind.UNBOUND else vb
            if not known.numeric:
                raise ctx.fail(f"`{name}`, not an array, first assigned in a loop that breaks per example")
            grown = Val(True, known.ndim, Kind.ARRAY, known.dtype, **merged_py([known]))
            va, vb = (va, grown) if vb.kind == Kind.UNBOUND else (grown, vb)
        containers = (Kind.TUPLE, Kind.LIST, Kind.DICT)
        if (va.kind in containers or vb.kind in containers) and va.batched != vb.batched:
            raise ctx.fail(f"selecting containers `{name}` of mixed batchedness")
        sequences = (Kind.TUPLE, Kind.LIST)
        if any(v.batched and v.kind in sequences for v in (va, vb)) and not parallel(va, vb):
            # a container of batched parts is no array of lanes: only parts that line up are selected
            raise ctx.fail(f"selecting `{name}`, containers of batched parts that do not line up")
        call = self._select_expr(cond, a, va, b, vb)
        target = self.store_name(name) if name != RET or self.region is not None else self.code_name(RET)
        if name == RET and self.region is None:
            target = ctx.namer.fresh("result")
            self.renames[RET] = target
        if parallel(
            va, vb, (Kind.TUPLE, Kind.LIST, Kind.RECORD)
        ):  # (as _select_expr selects it: part by part)
            val = _selected(va, vb)
        elif Kind.NONE in (va.kind, vb.kind) and (va.cls or vb.cls) and (va.batched and vb.batched):
            val = va if vb.kind == Kind.NONE else vb  # (a record a branch made, the other's placeholder)
        else:
            if Kind.NONE in (va.kind, vb.kind):  # a branch's "no lane took it" placeholder: the other
                va = vb = va if vb.kind == Kind.NONE else vb
            nd = va.ndim if va.ndim == vb.ndim else None
            if (
                va.ndim is not None
                and vb.ndim is not None
                and va.ndim != vb.ndim
                and name != RET
                and name in self.live_after(node)
            ):
                pass  # av__.select raises at run time when lanes of both branches meet
            # a Python number on every path stays one (values.join's rule)
            dtype = va.dtype if va.dtype == vb.dtype else None
            val = Val(True, nd, Kind.ARRAY, dtype, **merged_py([va, vb]))
            if va.selection is not None or vb.selection is not None:  # (NOTE [masked selections])
                val = join(va, vb).with_(batched=True)
        self.env[name] = val
        stmt = ast.Assign([ast.Name(target, ast.Store())], call)
        tag_line(stmt, node.lineno)
        return [stmt]

    def _select_expr(self, cond, a, va: Val, b, vb: Val) -> ast.expr:
        """`av__.select(cond, a, b)`; tuples and lists element by element (their batchedness may
        differ)."""
        ctx = self.ctx
        if (
            Kind.RECORD in (va.kind, vb.kind)
            and Kind.NONE not in (va.kind, vb.kind)
            and not _whole_records(va, vb)
        ):
            # (av__.select takes records part by part, each side's parts batched alike: NOTE [pytrees])
            raise ctx.fail("selecting records of different types, or with unbatched fields, per example")
        if (
            parallel(va, vb)
            and va.elts is not None
            and vb.elts is not None
            and not (va.batched and vb.batched and all(e.batched for e in va.elts + vb.elts))
        ):
            parts = [
                self._select_expr(
                    cond,
                    ast.Subscript(a, ast.Constant(i), ast.Load()),
                    x,
                    ast.Subscript(b, ast.Constant(i), ast.Load()),
                    y,
                )
                for i, (x, y) in enumerate(zip(va.elts, vb.elts))
            ]
            return ctx.build(va if va.cls is vb.cls else va.with_(cls=None), parts)
        ctx.record_control("select")
        call = ctx.expr("av__.select(c, a, b)", c=ast.Name(cond.id, ast.Load()), a=a, b=b)
        assert isinstance(call, ast.Call)  # the template is a call
        if not (va.batched and vb.batched):
            call.keywords.append(
                ast.keyword(
                    "batched", ast.Tuple([ast.Constant(va.batched), ast.Constant(vb.batched)], ast.Load())
                )
            )
        python = (python_number(va), python_number(vb))
        if python[0] != python[1] and va.numeric and vb.numeric:
            # lanes of Python numbers and lanes of NumPy scalars: the result remembers which hold which
            call.keywords.append(ast.keyword("python", templates.const(python)))
        mask = self.region.mask if self.region is not None else None
        if mask is not None:
            # in an enclosing batched branch only its lanes decide whether every lane took one side
            # (the result keeps that side's dtype, as the loop's examples do)
            call.keywords.append(ast.keyword("active", copy.deepcopy(mask)))
        return call

    def changes_forbidden(self, body, allow_items=False) -> ast.AST | None:
        """The first code in `body` that changes an object in place where lanes cannot be told apart
        (attributes, in-place methods, and item stores unless `allow_items`), or None. A function of a
        module (`np.sort(x)`) or a method of a string changes nothing."""
        act = self.facts.activity(body)
        hows = ("attr", "method", "call") if allow_items else ("attr", "method", "call", "item")
        for name in act.changed(*hows):
            v = self.env.get(name)
            if v is None and name:
                found, obj, _ = self.ctx.src.resolve(name)
                v = val_of(obj) if found else None
            if v is not None and (v.kind == Kind.MODULE or isinstance(v.obj, str)):
                continue
            return next(act.sites[(name, h)] for h in hows if (name, h) in act.sites)
        return None

    # ---- expressions ---------------------------------------------------------------------------------
    def batched_ifexp(self, node: ast.IfExp, test: Operand):
        """`a if c else b`: the statement form with a fresh name, emitted before the current statement."""
        return self._expression_if(node, node.test, node.body, node.orelse, test)

    def _expression_if(self, node, test_node, body, orelse, test=None):
        ctx = self.ctx
        name = ctx.namer.fresh("value")
        stmt = ast.If(
            test_node,
            [ast.Assign([ast.Name(name, ast.Store())], body)],
            [ast.Assign([ast.Name(name, ast.Store())], orelse)],
        )
        n: ast.AST
        for n in (stmt, stmt.body[0], stmt.orelse[0]):
            ast.copy_location(n, node)
            n.end_lineno, n.end_col_offset = node.end_lineno, node.end_col_offset
        for n in ast.walk(stmt):
            if not hasattr(n, "lineno") and isinstance(n, (ast.expr, ast.stmt)):
                ast.copy_location(n, node)
        # what is live around the lifted `if`: its value, and what the statement it came from needs
        self.facts.assume(stmt, self.facts.live_before(self.at[-1]) | {name})
        if test is None:
            test = self.expr(test_node)
        code = self.batched_if_expr(stmt, test)
        ctx.pending.extend(code)
        return Operand(ast.Name(self.code_name(name), ast.Load()), self.env[name])

    def batched_if_expr(self, stmt, test):
        return self.batched_if(stmt, test)

    def bool_fast_path(self, node: ast.BoolOp, values):
        """`a and b` of per-example bools whose right side cannot fault: `a & b` (same values, no
        masking needed)."""
        if all(v.val.dtype == "b" and v.val.ndim == 0 for v in values) and is_safe(node.values[1:], self.env):
            op = ast.BitAnd() if isinstance(node.op, ast.And) else ast.BitOr()
            return Operand(ast.BinOp(values[0].node, op, values[1].node), Val(True, 0, Kind.ARRAY, "b"))
        return None


def _starts(starts: dict[str, str], stores: dict[str, str]) -> list[ast.stmt]:
    """`y_then = y` for the names a branch may leave unassigned on some path (`Region.starts`)."""
    return [
        ast.Assign([ast.Name(stores[n], ast.Store())], ast.Name(code, ast.Load()))
        for n, code in starts.items()
    ]


def _selected(x: Val, y: Val) -> Val:
    """The Val of a value selected lane by lane between one of Val `x` and one of Val `y`: containers
    that line up part by part (a record keeps its type, NOTE [pytrees]), each part batched."""
    if parallel(x, y, (Kind.TUPLE, Kind.LIST, Kind.DICT, Kind.RECORD)):
        assert x.elts is not None and y.elts is not None  # parallel() checked
        parts = tuple(_selected(a, b) for a, b in zip(x.elts, y.elts))
        return Val(True, None, x.kind, None, parts, x.keys, cls=x.cls if x.cls is y.cls else None)
    return Val(True, x.ndim if x.ndim == y.ndim else None, Kind.ARRAY, **merged_py([x, y]))


def _whole_records(va: Val, vb: Val) -> bool:
    """Records of one type on both paths whose every leaf is batched: selected whole, part by part."""
    return parallel(va, vb, (Kind.RECORD,)) and _every_leaf_batched(va) and _every_leaf_batched(vb)


def _every_leaf_batched(v: Val) -> bool:
    if v.elts is not None:
        return all(_every_leaf_batched(e) for e in v.elts)
    return v.batched


def _placeholder(v: Val | None, ctx) -> ast.expr:
    """What a skipped branch leaves in its names (never selected: no lane took the branch): a tuple or
    list of placeholders where the branch's value is one (a namedtuple of its type: NOTE [pytrees])."""
    if v is not None and v.kind in (Kind.TUPLE, Kind.LIST) and v.elts is not None:
        return ctx.build(v, [_placeholder(e, ctx) for e in v.elts])
    return ast.Constant(None)


def _ordered(a: dict, b: dict):
    out = list(a)
    out += [n for n in b if n not in a]
    return out


class MaskedBranch:
    """A branch of a batched `if` as a "masked" region (NOTE [regions], NOTE [batched if]): every lane
    runs it, lanes outside `mask` on borrowed values where it may fault, inside `av__.enters(mask)`
    where it may fault at all. `seed`: names the branch stores on some paths only, named up front."""

    def __init__(self, body: list[ast.stmt], mask: ast.expr, suffix: str, seed: dict[str, str]) -> None:
        self.body, self.mask, self.suffix, self.seed = body, mask, suffix, seed
        self.level = "none"

    def region(self, walker) -> Region:
        outer = walker.region
        lanes = (
            self.mask
            if outer is None or outer.mask is None
            else ast.BinOp(outer.mask, ast.BitAnd(), self.mask)
        )
        return Region(
            "masked",
            self.suffix,
            mask=lanes,
            parent=outer,
            outer=dict(walker.renames),
            depth=len(walker.at),
            before=frozenset(walker.env),
        )

    def enter(self, walker, region: Region) -> list[ast.stmt]:
        self.level = risk(self.body, walker.env)
        pre = walker.borrow(self.body, self.mask, self.suffix) if self.level == "lanes" else []
        region.starts = {n: walker.code_name(n) for n in self.seed}
        for n, branch_name in self.seed.items():
            region.stores[n] = walker.renames[n] = branch_name
            walker.ctx.keep(branch_name)
        return pre

    def run(self, walker, region: Region) -> list[ast.stmt]:
        return walker.block(self.body)

    def leave(self, walker, region: Region, pre: list[ast.stmt], code: list[ast.stmt]) -> list[ast.stmt]:
        pre += _starts(region.starts, region.stores)
        for s in pre:
            tag_line(s, self.body[0].lineno if self.body else 0)
        code = pre + code
        if self.level == "none" or not code:
            return code
        placeholders: list[ast.stmt] = [
            ast.Assign([ast.Name(name, ast.Store())], _placeholder(region.env.get(n), walker.ctx))
            for n, name in region.stores.items()
        ]
        walker.ctx.record_control("guard")
        guard = ast.If(walker.ctx.expr("av__.enters(m)", m=self.mask), code, placeholders)
        tag_line(guard, user_line(code[0]))
        return [guard]
