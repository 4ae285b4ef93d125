"""Stores: every assignment form through one path, with Python's order and NumPy's aliasing.

Python evaluates the whole right side first, then assigns the targets left to right (`y[0], y[1] =
y[1], y[0]`, `a = b = v`). `store` keeps that order: a statement whose targets are names, or that has one
target, is emitted as written; otherwise (tuple or chained targets with an item or attribute among them)
the right side's parts go into temporaries first and each target is then one store. Temporaries alias
what the loop's values alias: an element read (`y[1]`: a scalar copy per example, a column view of the
batch) is copied when its buffer is written in place somewhere in the function (`analysis/aliases.py`); a
row read stays a view, so a 2-D row "swap" duplicates a row exactly as NumPy does per example.

A store into an item, `y[i] = v`, writes every example's `y` (`y[:, i] = v`; per-example integer indices
`y[arange(B), k] = v`; a per-example mask a `where`); under a batched condition only the branch's lanes
(`masked_write`). An unbatched array that receives batched values is expanded to the batch: by rebinding
its name when no other name may hold its buffer, else where each buffer of its alias class is made
(`ExpandAtBirth`: the function is rewritten with those names batched from their first binding, so every
view is taken of the expanded array). Batched data written into an unmapped argument or a global is an
error: the loop would write every example into the one shared array.

An augmented assignment follows the per-example value: on an array it writes in place, through every
name of the buffer; on a number it rebinds. A 0-d value is either (`np.asarray(s)` is an array, `y[0]` a
NumPy scalar): `analysis/buffers.py` tells which from how it was made (`augments_in_place`).
"""

from __future__ import annotations

import ast
import types

from ..analysis.activity import out_arguments, root_name, written_argument
from ..analysis.aliases import ARRAY_MUTATING_METHODS, sources
from ..analysis.buffers import holds_buffer, keeps_an_axis
from ..errors import NoPieceLoop, NotBatchable
from ..rules.values import UNKNOWN, Kind, Operand, Val
from .expressions import BINOPS
from .folding import ends_path
from .regions import RegionsMixin


class ExpandAtBirth(NotBatchable):
    """An array that several names may hold receives batched values: rewrite the function with `names`
    batched where they are bound (Vectorizer.run)."""

    def __init__(self, names, node: ast.AST | None):
        super().__init__("an array several names hold receives batched values", node)
        self.names = frozenset(names)


class StoresMixin(RegionsMixin):
    """Needs from the walker: ctx, env, expr(), facts, branch, unmapped_params, born_batched."""

    # ---- statements ----------------------------------------------------------------------------------
    def visit_Assign(self, node):
        value = self.expr(node.value)
        self.ctx.node = node
        if value.raises:  # (the right side raises before any target is bound: the path ends here)
            return [ends_path(ast.Assign(node.targets, value.node))]
        return self.store(node.targets, value, node)

    def visit_AnnAssign(self, node):
        if node.value is None:
            return []
        return self.visit_Assign(ast.copy_location(ast.Assign([node.target], node.value), node))

    def store(self, targets: list[ast.expr], value: Operand, node) -> list[ast.stmt]:
        """`targets[0] = targets[1] = ... = value`, in Python's order."""
        if not any(_writes_object(t) for t in targets):
            return self._bind_names(targets, value, node)
        if len(targets) == 1 and not isinstance(targets[0], (ast.Tuple, ast.List)):
            if isinstance(targets[0], ast.Subscript) and sources(node.value) & self.facts.aliases.members(
                root_name(targets[0])
            ):
                # `y[1] = y[:, i]`: per example a view of the target's own array, whose overlap NumPy
                # resolves in its own copy order; the batch gathers a copy
                self.held_view(node.value, value)
            return self._store_one(targets[0], value, node)
        if len(targets) > 1:
            self.held_view(node.value, value)
            held = self._hold(value)
            pairs = [p for t in targets for p in self._unpack(t, held, node.value)]
        else:
            pairs = self._unpack(targets[0], value, node.value)
        code: list[ast.stmt] = []
        ctx, saved = self.ctx, self.ctx.pending
        # the held right side may view these: expanding one by rebinding would leave the view behind
        self.held_reads = {n.id for n in ast.walk(node.value) if isinstance(n, ast.Name)}
        try:
            for t, v in pairs:  # each store after the one before (an expansion of `y` included)
                ctx.pending = []
                stmts = self._store_one(t, v, node)
                code += ctx.pending + stmts
        finally:
            ctx.pending, self.held_reads = saved, set()
        return code

    def _bind_names(self, targets, value: Operand, node) -> list[ast.stmt]:
        """Targets that are names (or tuples of names): one assignment, as written."""
        if len(targets) > 1 and not isinstance(value.node, (ast.Name, ast.Constant)):
            value = Operand(self.ctx.temp(value.node, "value"), value.val, value.static)
        user = getattr(node, "value", None)
        self.held_view(user, value)
        value = self._unpackable(targets, value, user)
        new = [self.bind_target(t, value) for t in targets]
        return [ast.Assign(new, value.node), *self.born(targets, getattr(node, "value", None))]

    def _store_one(self, target, value: Operand, node) -> list[ast.stmt]:
        ctx = self.ctx
        if isinstance(target, ast.Name):
            new = self.bind_target(target, value)
            return [ast.Assign([new], value.node), *self.born([target], None)]
        if isinstance(target, ast.Subscript):
            if self.region is not None and self.region.mask is not None:
                return self.masked_write(target, value, node)
            new, v = self.setitem(target, value)
            return [ast.Assign([new], v)]
        if isinstance(target, ast.Attribute):
            return [ast.Assign([self.bind_target(target, value)], value.node)]
        raise ctx.fail(f"assignment to `{ast.unparse(target)}`")

    def _hold(self, value: Operand) -> Operand:
        """`value` in a temporary (the right side is evaluated before any target is assigned)."""
        if isinstance(value.node, ast.Constant):
            return value
        return Operand(self.ctx.temp(value.node, "value"), value.val, value.static)

    def _unpack(self, target, value: Operand, user: ast.expr | None) -> list[tuple[ast.expr, Operand]]:
        """(leaf target, its value) pairs of `target = value`, the right side held in temporaries."""
        if not isinstance(target, (ast.Tuple, ast.List)):
            return [(target, value)]
        ctx, n = self.ctx, len(target.elts)
        if any(isinstance(e, ast.Starred) for e in target.elts):
            raise ctx.fail("starred unpacking into items or attributes")
        node, v = value.node, value.val
        if isinstance(node, (ast.Tuple, ast.List)) and len(node.elts) == n and v.elts and len(v.elts) == n:
            users = (
                user.elts if isinstance(user, (ast.Tuple, ast.List)) and len(user.elts) == n else [None] * n
            )
            for u, e, ev in zip(users, node.elts, v.elts):
                self.held_view(u, Operand(e, ev))
            parts = [self._hold(Operand(e, ev)) for e, ev in zip(node.elts, v.elts)]
        else:
            value = self._unpackable([target], value, user)
            v = value.val
            if v.elts is not None and len(v.elts) == n:
                elts = list(v.elts)
            elif v.item is not None:
                elts = [v.item] * n
            elif not value.batched:
                elts = [UNKNOWN] * n
            else:
                raise ctx.fail("unpacking a batched value of unknown structure")
            names = [ctx.namer.fresh("value") for _ in range(n)]
            store = ast.Tuple([ast.Name(m, ast.Store()) for m in names], ast.Store())
            ctx.pending.append(ast.Assign([store], value.node, lineno=0))
            parts = [Operand(ast.Name(m, ast.Load()), e) for m, e in zip(names, elts)]
            users = [None] * n
        return [p for t, part, u in zip(target.elts, parts, users) for p in self._unpack(t, part, u)]

    def _unpackable(self, targets, value: Operand, user: ast.expr | None) -> Operand:
        """`a, b = x` of a batched array unpacks the per-example axis 0 (axis 1 of the batch); rows of a
        vector are numbers per example, so they are copied when its buffer is written in place."""
        if not (
            any(isinstance(t, (ast.Tuple, ast.List)) for t in targets)
            and value.batched
            and value.val.kind == Kind.ARRAY
        ):
            return value
        nd = value.val.ndim
        if nd == 0:
            raise self.ctx.error("unpacking a per-example scalar (the loop raises TypeError)", targets[0])
        template = "np.moveaxis(x, 1, 0)"
        if nd == 1 and user is not None and self._written(user):
            template = "np.moveaxis(x, 1, 0).copy()"
        item = Val(True, None if nd is None else nd - 1, Kind.ARRAY, value.val.dtype)
        return Operand(self.ctx.expr(template, x=value.node), Val(True, None, Kind.OTHER, item=item))

    def element_copy(self, user: ast.Subscript, value: Operand) -> Operand:
        """An element read (`y[1]`) that is held (bound, kept in a container, passed on) from a buffer
        written in place somewhere in the function: a copy, as per example (the batch's column is a view
        of `y`, which a later write would change under it). Rows and slices stay views, as they are per
        example; so does `y[0, ...]`, a 0-d view. A read an operator consumes at once is not copied."""
        if (
            value.batched
            and value.val.kind == Kind.ARRAY
            and value.val.ndim == 0
            and self.facts.aliases.is_held(user)
            and not any(isinstance(n, ast.Constant) and n.value is Ellipsis for n in ast.walk(user.slice))
            and self._written(user)
        ):
            return Operand(self.ctx.expr("np.array(v)", v=value.node), value.val)
        return value

    def held_view(self, user: ast.expr | None, value: Operand) -> None:
        """A row held in a name (`t = y[i]`, `a, t = y, y[i]`) at a per-example index views `y` per
        example; the batch gathers a copy. Where `y`'s buffer is written in place, that code runs as the
        loop. So does a held per-example choice of arrays (`(y if c else z,)`), which the batch copies."""
        if isinstance(user, (ast.Tuple, ast.List)):
            elts = (
                value.val.elts
                if value.val.elts is not None and len(value.val.elts) == len(user.elts)
                else None
            )
            nodes = value.node.elts if isinstance(value.node, (ast.Tuple, ast.List)) else None
            for k, u in enumerate(user.elts):
                v = Val(value.batched, None, Kind.OTHER) if elts is None else elts[k]
                self.held_view(
                    u, Operand(nodes[k] if nodes and len(nodes) == len(user.elts) else value.node, v)
                )
            return
        if isinstance(user, ast.IfExp) and value.batched and id(user) in self.chosen_per_example:
            for m in sources(user):
                if m in self.env:
                    self.check_select_aliasing(m, self.env[m], self.env[m])
            return
        if (
            isinstance(user, ast.Subscript)
            and value.batched
            and value.val.kind == Kind.ARRAY
            and (value.val.ndim != 0 or keeps_an_axis(user.slice))
            and self._per_lane_index(user)
            and self._written(user)
        ):
            raise self.ctx.fail(
                f"`{ast.unparse(user)}` at a per-example index views an array that is written in place"
            )

    def may_hold_buffer(self, name: str, v: Val | None, after: ast.AST | None = None) -> bool:
        """May `name`, holding a `v` (where statement `after` ends, when given), hold an array per
        example (a buffer in-place writes change)? An array of rank >= 1 does, a 0-d value when it may
        be an array rather than a NumPy scalar."""
        if v is None or v.kind != Kind.ARRAY:
            return False
        return v.ndim != 0 or self._zero_d_buffer(name, after, after=True) is not False

    def augments_in_place(self, name: str, v: Val | None, at: ast.AST | None = None) -> bool:
        """Per example, does `name op= value` (statement `at`) write into `name`'s array (True) or
        rebind a number (False)? Where a 0-d value or one of unknown kind may be either and another
        name may hold it, the loop runs."""
        if v is not None and v.kind == Kind.OTHER and self.facts.aliases.shared(name):
            raise self.ctx.fail(
                f"`{name} op= ...` on a value of unknown kind that may be an array another name holds "
                f"(`{sorted(self.facts.aliases.members(name) - {name})[0]}`)"
            )
        if v is None or v.kind != Kind.ARRAY:
            return False
        if v.ndim != 0:
            return True
        answer = self._zero_d_buffer(name, at)
        if answer is None and self.facts.aliases.shared(name):
            raise self.ctx.fail(
                f"`{name} op= ...` on a 0-d value that may be an array (written in place, which "
                f"`{sorted(self.facts.aliases.members(name) - {name})[0]}` would see) or a NumPy scalar "
                "(rebound)"
            )
        return bool(answer)

    def _zero_d_buffer(self, name: str, at: ast.AST | None = None, after: bool = False) -> bool | None:
        def rank(n: str) -> int | None:
            v = self.env.get(n)
            return v.ndim if v is not None and v.kind == Kind.ARRAY else None

        scalar_params = frozenset(n for n in self.fdef_params if n in self.env and self.env[n].batched)
        return holds_buffer(self.facts.aliases, name, rank, scalar_params, at, self.facts.binders, after)

    def _per_lane_index(self, user: ast.Subscript) -> bool:
        """Is `user` a basic selection (a view per example) at an index that reads a batched name (a
        gather, which copies, in the batched code)? A list or mask index copies per example too."""
        if any(isinstance(n, (ast.List, ast.Compare)) for n in ast.walk(user.slice)):
            return False
        return self._reads_batched(user.slice)

    def _reads_batched(self, node: ast.expr) -> bool:
        return any(
            isinstance(n, ast.Name) and n.id in self.env and self.env[n.id].batched for n in ast.walk(node)
        )

    def _written(self, user: ast.expr) -> bool:
        return any(self.facts.aliases.written(n) for n in sources(user))

    def bind_target(self, target, value: Operand, store_only=False):
        """Bind the names of an assignment target to `value`'s Val; return the new target node (a loop's
        or comprehension's target, or the names of an assignment)."""
        if isinstance(target, ast.Name):
            self.env[target.id] = value.val
            self.binding_seen(target, value.val)
            self.unmapped_params.discard(target.id)
            return ast.Name(self.store_name(target.id), ast.Store())
        if isinstance(target, (ast.Tuple, ast.List)):
            if any(isinstance(e, ast.Starred) for e in target.elts):
                if value.batched:
                    raise self.ctx.fail("starred unpacking of batched values")
                for e in target.elts:
                    self._bind_unknown(e.value if isinstance(e, ast.Starred) else e)
                return target
            v = value.val
            if v.elts is not None and len(v.elts) == len(target.elts):
                vals = list(v.elts)
            elif v.item is not None:
                vals = [v.item] * len(target.elts)
            elif not value.batched:
                vals = [UNKNOWN] * len(target.elts)
            else:
                raise self.ctx.fail("unpacking a batched value of unknown structure")
            elts = [
                self.bind_target(t, Operand(ast.Name("_", ast.Load()), e)) for t, e in zip(target.elts, vals)
            ]
            return type(target)(elts, ast.Store())
        if isinstance(target, ast.Subscript):
            new, aligned = self.setitem(target, value)
            if aligned is not value.node:
                raise self.ctx.fail(f"a loop target `{ast.unparse(target)}` that needs its values aligned")
            return new
        if isinstance(target, ast.Attribute):
            if isinstance(target.value, ast.Name) and target.value.id == self.ctx.src.made_object:
                return self.object_store(target, value)  # (`self.x = v` in `__init__`: NOTE [objects])
            if value.batched:
                raise self.ctx.fail("storing a batched value in an attribute")
            base = self.expr(target.value)
            if base.batched:
                raise self.ctx.fail("setting an attribute of a batched value")
            self.refuse_outside_store(target)
            self.forget_items(target.value)
            return ast.Attribute(base.node, target.attr, ast.Store())
        raise self.ctx.fail(f"assignment to `{ast.unparse(target)}`")

    def _bind_unknown(self, t):
        for n in ast.walk(t):
            if isinstance(n, ast.Name):
                self.env[n.id] = UNKNOWN

    # ---- names batched where they are bound -----------------------------------------------------------
    def born(self, targets, user: ast.expr | None) -> list[ast.stmt]:
        """`y = av__.batch_broadcast(y, B)` after a binding of a name whose buffer must be batched from
        its start (ExpandAtBirth); `a = b = v` expands one buffer, both names hold it. The loop runs
        when that buffer may be the caller's or a global's, or when reshapes of it may view or copy."""
        ctx, out = self.ctx, list[ast.stmt]()
        first: tuple[str, str] | None = None  # (user name, code name) of the buffer this statement expanded
        for t in targets:
            for n in ast.walk(t):
                if not (isinstance(n, ast.Name) and n.id in self.born_batched):
                    continue
                v = self.env.get(n.id)
                if v is None or v.batched or v.kind not in (Kind.ARRAY, Kind.SCALAR):
                    continue
                if self.may_hold_buffer(n.id, v):  # (an element read is a copy per example)
                    self._check_shared_source(n.id, user)
                code = self.store_name(n.id)
                if first is not None and t is n:  # a chained target: the same object
                    out.append(ast.Assign([ast.Name(code, ast.Store())], ast.Name(first[1], ast.Load())))
                    self.env[n.id] = self.env[first[0]]
                    continue
                op = ctx.promote(Operand(ast.Name(code, ast.Load()), v), v.with_(batched=True))
                out.append(ast.Assign([ast.Name(code, ast.Store())], op.node))
                self.env[n.id] = op.val
                first = (n.id, code) if t is n else first
        return out

    def _check_shared_source(self, name: str, user: ast.expr | None) -> None:
        """`y = w` where `w` is an unmapped argument or a global array: every example would write into
        that one array, so the loop runs. So it does where a reshape of the buffer views or copies
        depending on the layout, which expanding the buffer changes."""
        if self.facts.aliases.layout_dependent(name):
            raise self.ctx.fail(f"a reshape of `{name}`, written in place, may view or copy it")
        for m in sources(user) if user is not None else ():
            if m in self.unmapped_params:
                raise self.ctx.fail(
                    f"batched values may be written into the unmapped argument `{m}` through `{name}`"
                )
            if m not in self.local_names and not isinstance(self.ctx.src.resolve(m)[1], types.ModuleType):
                raise self.ctx.fail(f"batched values written into the global `{m}` through `{name}`")

    def expand(self, name: str, why: ast.AST) -> list[ast.stmt]:
        """Expand the unbatched array `name` to the batch before a batched write into it: rebinding the
        name when no other name may hold its buffer, else from its birth (ExpandAtBirth)."""
        ctx = self.ctx
        if name in self.unmapped_params:
            raise ctx.error(
                f"`{ast.unparse(why)} = ...` writes batched values into the unmapped argument `{name}`: the "
                f"loop would write every example into the same array. Copy it first (`{name} = "
                f"{name}.copy()`) or map it",
                why,
            )
        if name not in self.local_names:  # each example writes into the one global array, in order
            raise ctx.fail(f"batched values written into the global `{name}`")
        v = self.env[name]
        members = self.facts.aliases.members(name)
        if len(members) > 1 or name in self.held_reads:
            if members <= self.born_batched:
                raise ctx.fail(f"expanding `{name}`, which other names may hold, to the batch")
            raise ExpandAtBirth(members, why)
        code = self.code_name(name)
        op = ctx.promote(Operand(ast.Name(code, ast.Load()), v), v.with_(batched=True))
        self.env[name] = op.val
        return [ast.Assign([ast.Name(code, ast.Store())], op.node)]

    # ---- a call's `out=` ----------------------------------------------------------------------------
    def out_call(self, node: ast.Call) -> Operand | None:
        """`np.add(y, v, out=y)` touching the batch: the call without `out=`, then a store of its value
        into `out` (only the branch's lanes under a batched condition; `out` expanded to the batch when
        it was unbatched); the call's value is `out`. None when the call is emitted as written."""
        outs = out_arguments(node)
        if not outs:
            return None
        names = [n.id for n in ast.walk(node) if isinstance(n, ast.Name) and n.id in self.env]
        if not self.masked and not any(self.env[n].batched for n in names):
            return None
        out = outs[0]
        if len(outs) > 1 or not isinstance(out, ast.Name) or out.id not in self.env:
            raise self.ctx.fail("`out=` of several outputs or into an expression, with batched values")
        call = ast.Call(
            node.func,
            [a for a in node.args if a is not out],
            [k for k in node.keywords if k.value is not out],
        )
        ast.copy_location(call, node)
        value = self.expr(call)
        self.ctx.node = node
        target = ast.Subscript(ast.Name(out.id, ast.Load()), ast.Constant(...), ast.Store())
        stores = self._store_one(target, value, node)
        store = stores[0]
        if isinstance(store, ast.Assign) and isinstance(store.targets[0], ast.Subscript):
            # as the ufunc writes its out=: casting only within a kind (float into int raises)
            where = ast.Subscript(store.targets[0].value, store.targets[0].slice, ast.Load())
            copy = self.ctx.expr("np.copyto(o, v, casting='same_kind')", o=where, v=store.value)
            stores[0] = ast.Expr(copy)
        self.ctx.pending += stores
        return self.expr(ast.Name(out.id, ast.Load()))

    def expand_written_argument(self, node: ast.Call) -> None:
        """`np.copyto(y, x)`, `y.fill(v)` with batched values and an unbatched local `y`: `y` is expanded
        to the batch first, so the call writes each example's `y` (the loop would write into one)."""
        target = written_argument(node)
        f = node.func
        if target is None and isinstance(f, ast.Attribute) and f.attr in ARRAY_MUTATING_METHODS:
            target = f.value
        if not isinstance(target, ast.Name) or target.id not in self.env:
            return
        v = self.env[target.id]
        names = [n.id for n in ast.walk(node) if isinstance(n, ast.Name) and n.id in self.env]
        if not v.batched and v.kind == Kind.ARRAY and any(self.env[n].batched for n in names):
            self.ctx.pending += self.expand(target.id, node)

    # ---- augmented assignment ------------------------------------------------------------------------
    def visit_AugAssign(self, node):
        ctx = self.ctx
        target = node.target
        load = _as_load(target)
        cur = self.expr(load)
        value = self.expr(node.value)
        ctx.node = node
        containers = (Kind.LIST, Kind.DICT, Kind.SET)
        if cur.val.kind in containers or value.val.kind in containers:
            return self._augment_container(node, cur, value)
        res = self.apply(
            BINOPS[type(node.op)], [cur, value], {}, node, syntax=ast.BinOp(cur.node, node.op, value.node)
        )
        if isinstance(target, ast.Name):
            return self._augment_name(node, cur, res)
        return self._store_one(target, res, node)

    def _augment_container(self, node: ast.AugAssign, cur: Operand, value: Operand) -> list[ast.stmt]:
        """`lst += items` (`lst *= n`, `d |= other`, `s -= t`) changes the list, dict or set in place (NOTE
        [list items]): where one name of this function alone holds it, that is `lst = lst + items`,
        followed; else it runs per example (another holder's facts would not change)."""
        target = node.target
        if not isinstance(target, ast.Name) or self.fdef is None or self.held_elsewhere(target.id):
            # (each example's loop would change that one list: only the whole loop is right)
            raise NoPieceLoop(f"`{ast.unparse(node)}` changes a list or dict another name may hold", node)
        same = value.val.kind == cur.val.kind or (
            isinstance(node.op, ast.Mult) and value.val.kind == Kind.SCALAR
        )
        if not same:  # (`lst += arr` extends by rows, where `lst + arr` adds elementwise)
            raise self.ctx.fail(f"`{ast.unparse(node)}` of a list or dict and a value of another kind")
        res = self.expr(ast.copy_location(ast.BinOp(_as_load(target), node.op, node.value), node))
        return self.store([target], res, node)

    def _augment_name(self, node: ast.AugAssign, cur: Operand, res: Operand) -> list[ast.stmt]:
        """`t += v`: per example an array changes in place (every name of its buffer sees it, and it
        keeps its dtype), a number is rebound (the batched `t` may be a view of the caller's array or of
        another name's: never write through it)."""
        assert isinstance(node.target, ast.Name)  # visit_AugAssign's case
        name, region = node.target.id, self.region
        code = self.code_name(name)
        v = cur.val
        unknown = v.kind == Kind.OTHER or (v.kind == Kind.ARRAY and v.ndim is None)
        if (
            cur.batched
            and unknown
            and region is None
            and not (v.kind == Kind.OTHER and self.facts.aliases.shared(name))
        ):
            if self.ctx.settings.nested:  # (one batch axis assumed: batched again, the call loops)
                raise NotBatchable("an augmented assignment of unknown rank", node)
            # per example an array (in place, keeping its dtype) or a number (rebound): known at run time
            self.env[name] = v if res.val.kind == v.kind else Val(True, None, Kind.OTHER)
            call = self.ctx.expr("av__.augment(t, v)", t=ast.Name(code, ast.Load()), v=res.node)
            return [ast.Assign([ast.Name(code, ast.Store())], call)]
        in_place = self.augments_in_place(name, cur.val, node)
        whole = ast.Subscript(ast.Name(name, ast.Load()), ast.Constant(...), ast.Store())
        if in_place and region is not None and region.mask is not None:
            if cur.val.ndim is None:
                raise self.ctx.fail("an augmented assignment of unknown rank under a batched condition")
            if cur.batched:
                return self.masked_write(whole, res, node)
            if self.facts.aliases.shared(name):  # a view, bound in the branch, of an unbatched array
                raise ExpandAtBirth(self.facts.aliases.members(name), node)
        if in_place and (cur.batched or not res.batched):
            r = res.node
            if isinstance(r, ast.BinOp) and type(r.op) is type(node.op) and _is_name(r.left, code):
                self.env[name] = cur.val if cur.batched else res.val
                return [ast.AugAssign(ast.Name(code, ast.Store()), node.op, r.right)]
            if cur.batched and cur.val.ndim is not None:
                call = self.ctx.expr(
                    "np.copyto(t, v, casting='same_kind')", t=ast.Name(code, ast.Load()), v=r
                )
                return [ast.Expr(call)]
        if in_place and not cur.batched and res.batched and region is None:
            # `y += x` with batched x: y expanded (every name of its buffer sees it), then written in
            # place, keeping its dtype (float32 += float64 stays float32; float into int raises)
            held = self.ctx.temp(res.node, "value")
            pre = self.expand(name, node.target)
            copy = self.ctx.expr("np.copyto(y, v, casting='same_kind')", y=ast.Name(code, ast.Load()), v=held)
            return [*pre, ast.Expr(copy)]
        self.env[name] = res.val
        return [ast.Assign([ast.Name(self.store_name(name), ast.Store())], res.node)]


def _is_name(node: ast.expr, name: str) -> bool:
    return isinstance(node, ast.Name) and node.id == name


def _writes_object(target: ast.expr) -> bool:
    """Does assigning to `target` store into an object (an item or an attribute), not only bind names?"""
    if isinstance(target, (ast.Tuple, ast.List)):
        return any(_writes_object(e) for e in target.elts)
    if isinstance(target, ast.Starred):
        return _writes_object(target.value)
    return isinstance(target, (ast.Subscript, ast.Attribute))


def _as_load(node):
    if isinstance(node, ast.Name):
        return ast.copy_location(ast.Name(node.id, ast.Load()), node)
    if isinstance(node, ast.Subscript):
        return ast.copy_location(ast.Subscript(node.value, node.slice, ast.Load()), node)
    if isinstance(node, ast.Attribute):
        return ast.copy_location(ast.Attribute(node.value, node.attr, ast.Load()), node)
    raise NotBatchable(f"augmented assignment to `{ast.unparse(node)}`", node)
