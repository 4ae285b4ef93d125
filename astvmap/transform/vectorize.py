"""The statement walker: one user statement in, its batched statements out, in the user's order.

Requires: a fenced `FunctionDef` and the Val of every parameter. Guarantees: a `FunctionDef` whose
batched values carry the batch axis at 0 (NOTE [batch axis at 0]), each statement tagged with the user
line it came from (`_user_line`), and the Val of the returned value.

Loops and unbatched `if`s join the Vals of the names they assign; a name that becomes batched inside a
loop is batched from the loop's start (a fixed point: batchedness only grows, so it ends).
"""

from __future__ import annotations

import ast
import importlib
import types

from ..analysis import lists
from ..analysis.activity import local_names
from ..analysis.effects import unrepeatable_globals
from ..errors import ChangesGlobals, NoPieceLoop, NotBatchable
from ..frontend.normalize import ends_with_return
from ..frontend.source import NoSource, function_source
from ..kit import templates
from ..rules.values import UNKNOWN, Kind, Operand, Val, join_all, val_of
from .calls import CallsMixin, shared_default
from .compound import CompoundMixin
from .context import Context, _needs, rebound
from .controlflow import RET, ControlFlowMixin
from .expressions import ExpressionsMixin, LocalFunction
from .feedback import Feedback
from .folding import TERMINAL, ends_path, evaluated, path_ends
from .loops import JumpUnderMask, LoopsMixin
from .nesting import state_changed, state_changes
from .partition import PartitionMixin
from .region_loop import RegionLoopMixin
from .stores import ExpandAtBirth, StoresMixin
from .walker import USER_LINE, VALS, tag_line
from .while_loop import WhileMixin
from .writes import WritesMixin

_NOT_CONTAINERS = (Kind.ARRAY, Kind.SCALAR, Kind.NONE, Kind.CALLABLE, Kind.MODULE)


def _unkept_arguments(call: ast.Call, fdef: ast.FunctionDef) -> set[int]:
    """The ids of `call`'s argument expressions bound to parameters of `fdef` it keeps nothing of."""
    if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
        return set()
    kept = lists.kept_parameters(fdef)
    positional = [a.arg for a in (*fdef.args.posonlyargs, *fdef.args.args)]
    out = {id(a) for p, a in zip(positional, call.args) if p not in kept}
    return out | {id(k.value) for k in call.keywords if k.arg is not None and k.arg not in kept}


def _source_of(fn) -> ast.FunctionDef | None:
    """The definition of a plain Python function, or None."""
    if not isinstance(fn, types.FunctionType):
        return None
    try:
        return function_source(fn).fdef
    except NoSource:
        return None


class Vectorizer(
    LoopsMixin,
    WhileMixin,
    PartitionMixin,
    ControlFlowMixin,
    StoresMixin,
    WritesMixin,
    ExpressionsMixin,
    CallsMixin,
    CompoundMixin,
    RegionLoopMixin,
):
    def __init__(self, ctx: Context):
        # the walker's shared state, declared in walker.py
        self.ctx = ctx
        self.calls_known: tuple[frozenset[int], frozenset[int]] | None = None  # (once per function)
        self.followed: dict[int, ast.AST] = {}  # argument nodes whose lists a callee changed (kept alive)
        self.env = {}
        self.renames = {}  # user name -> name in generated code (branches, masks)
        self.region = None  # the region being rewritten (regions.py)
        self.masked = 0
        self.loops = []
        self.at = []  # the statements being rewritten, innermost last
        self.not_run: set[int] = set()  # the nodes of the branches decided not taken
        self.exits = {}  # id(loop) -> the envs its `break`s leave (loops.py)
        self.heads = {}  # id(loop) -> the Vals its next iteration expects (loops.py)
        self.continues = {}  # id(loop) -> the envs its `continue`s leave (loops.py)
        self.exit_targets = {}  # id(loop) -> the Vals its `break`s must leave (loops.py)
        self.loop_masks = [0]  # `masked` depth where each enclosing loop starts
        self.fdef = None
        self.in_loop = 0
        self.returns = []
        self.ret_target = None
        self.unmapped_params = set()
        self.born_batched = frozenset()  # names batched where they are bound (stores.py)
        self.local_names = set()
        self.held_reads = set()  # names the held right side of a tuple store reads (stores.py)
        self.consumed = 1  # statements the last region took (region_loop.py)
        self.chosen_per_example: set[int] = set()  # ids of the `a if c else b` whose `c` is batched

    # ---- the function ----------------------------------------------------------------------------
    def held_elsewhere(self, name: str) -> bool:
        """May another name, object or the caller hold the list or dict `name` holds (NOTE [list items])?
        A parameter the caller gave no container (None: `acc=None`, then `acc = []`) holds only what
        this function made."""
        if self.fdef is None:
            return False
        fresh, keeping_none = self._calls_known()
        return lists.held_elsewhere(self.fdef, name, name in self.container_params, fresh, keeping_none)

    def caller_holds(self, name: str) -> bool:
        """Is `name` a parameter given a list or dict the caller holds too (not `*args` or `**kwargs`,
        the call's own)?"""
        a = self.fdef.args if self.fdef is not None else None
        own = {p.arg for p in (a.vararg, a.kwarg) if p is not None} if a is not None else set()
        return name in self.container_params and name not in own

    def follows_given(self, name: str) -> bool:
        """Is `name` a parameter whose list or dict the caller gave and alone holds besides this function,
        so that a change made here is handed back to the caller's rewrite (`Context.changed_params`)
        rather than run per example? Only in a called function: the top-level function's arguments are
        the user's objects, which the loop changes once per example."""
        if not self.ctx.nested or self.fdef is None or name not in self.container_params:
            return False
        if shared_default(self.ctx.src, name):
            return False
        if lists.held_elsewhere(self.fdef, name, False, *self._calls_known()) or lists.rebinds(
            self.fdef, name
        ):
            return False  # (another holder here, or the name given another list: not the caller's then)
        self.given_changed.add(name)
        return True

    def _calls_known(self) -> tuple[frozenset[int], frozenset[int]]:
        """The calls of this function's code of Python functions that return a list they made
        (`lists.returns_fresh`: `feats = _features(x)` holds a new list), and the arguments given to
        parameters their function keeps nothing of (`lists.kept_parameters`: `_push(out, v)` leaves
        `out` this function's alone); the callees are dependencies of the rewrite, as every function it
        calls is."""
        if self.calls_known is None:
            assert self.fdef is not None  # (held_elsewhere checks)
            fresh, unkept = set(), set()
            for n in ast.walk(self.fdef):
                if (
                    isinstance(n, ast.Call)
                    and isinstance(n.func, ast.Name)
                    and n.func.id not in self.local_names
                ):
                    ok, fn, _ = self.ctx.src.resolve(n.func.id)
                    fdef = _source_of(fn) if ok else None
                    if fdef is None:
                        continue
                    if lists.returns_fresh(fdef):
                        fresh.add(id(n))
                    unkept |= _unkept_arguments(n, fdef)
            self.calls_known = (frozenset(fresh), frozenset(unkept))
        return self.calls_known

    def run(self, fdef: ast.FunctionDef, params: dict[str, Val]):
        ctx = self.ctx
        changed = state_changes(ctx.src, unrepeatable_globals(fdef))
        if changed:  # (each example's run changes them, and sees the runs before it: the loop's own)
            raise ChangesGlobals(f"`{fdef.name}` changes `{min(changed)}`, which outlives the call", fdef)
        # (what its own code changes, repeatably, it reads as it is when read: `setattr(HOLDER, ...)`)
        ctx.touched |= state_changed(ctx.src)
        self.fdef = fdef
        self.local_names = local_names(fdef)
        self.fdef_params = {a.arg for a in ast.walk(fdef.args) if isinstance(a, ast.arg)}
        # (parameters given None or a Python number: nothing of theirs can be changed)
        self.immutable_params = {n for n, v in params.items() if v.kind in (Kind.NONE, Kind.SCALAR)}
        self.feedback = Feedback(fdef)
        self.facts = self.feedback.facts(self.immutable_params)
        self.unmapped_params = {n for n, v in params.items() if not v.batched and v.kind == Kind.ARRAY}
        # (parameters given a list or dict, or what may be one: the caller's object)
        self.container_params = {n for n, v in params.items() if v.kind not in _NOT_CONTAINERS}
        self.calls_known = None
        self.given_changed: set[str] = set()
        body = self._passes(fdef, params)
        ctx.changed_params = self._given_at_the_end()
        ctx.returns_fresh = bool(self.fresh_returns) and all(self.fresh_returns)
        ctx.returns_own = all(self.own_returns)
        used = ctx.batch_name is not None and any(
            isinstance(n, ast.Name) and n.id == ctx.batch_name for st in body for n in ast.walk(st)
        )
        if used:
            body.insert(0, self._batch_size_stmt(params, fdef))
        new = ast.FunctionDef(
            name=ctx.namer.fresh(f"{fdef.name}_vmap"),
            args=self._signature(fdef.args),
            body=body or [ast.Pass()],
            decorator_list=[],
            returns=None,
        )
        return ast.fix_missing_locations(new), join_all(self.returns)

    def _passes(self, fdef: ast.FunctionDef, params: dict[str, Val]) -> list[ast.stmt]:
        """The body rewritten again until a pass settles: with names batched from their birth
        (`ExpandAtBirth`), with what earlier passes learned (NOTE [fresh values]), with the join of the
        returns as every return's target."""
        ctx, snapshot = self.ctx, self.ctx.mark()
        self.refreshes = 2  # (the most times a pass's feedback rewrites the function again: feedback.py)
        for _ in range(len(self.local_names) + 4 + 2 * self.refreshes):
            self.env, self.returns, self.return_sites, self.renames = dict(params), [], [], {}
            self.fresh_returns: list[bool] = []
            self.own_returns: list[bool] = []  # (each return gives what the function made or was given)
            self.exit_envs: list[dict[str, Val]] = []
            try:
                body = self.block(fdef.body)
            except NoPieceLoop:  # (what this pass learned may let the next one batch)
                ctx.rollback(snapshot)
                if not self._learn():
                    raise
                continue
            except ExpandAtBirth as e:  # rewrite with those names batched from their first binding
                ctx.rollback(snapshot)
                if self._learn():  # (fewer names may share buffers)
                    continue
                if e.names <= self.born_batched:
                    raise
                self.born_batched |= e.names
                continue
            if not self._facts_hold():  # (this pass bound a name as the analysis did not assume)
                ctx.rollback(snapshot)
                continue
            if not (ends_with_return(body, withs=True) or path_ends(body)):  # (it falls off its end)
                self.fresh_returns.append(False)
                self.returns.append(Val(False, None, Kind.NONE))
                self.exit_envs.append(self.env)
            out = join_all(self.returns)
            if self.ret_target is not None or not any(_needs(v, out) for v in self.returns):
                return body
            self.ret_target = out  # some return is unbatched where another is batched
            ctx.rollback(snapshot)
        raise NotBatchable("the rewrite of this function does not settle", fdef)

    def _learn(self) -> bool:
        """Take up what the passes so far learned (NOTE [fresh values]), where it tells the analysis more
        and the budget of passes allows."""
        facts = self.feedback.facts(self.immutable_params, self.facts)
        if not self.refreshes or facts.inputs == self.facts.inputs:
            return False
        self.facts, self.refreshes = facts, self.refreshes - 1
        return True

    def _facts_hold(self) -> bool:
        """Does what the analysis was told of bindings and calls still hold after this pass (a pass
        with names batched from birth may bind a name to an array where an earlier one bound None)?
        Where not, the analysis that holds is the one the next pass reads (NOTE [fresh values])."""
        now = self.feedback.facts(self.immutable_params, self.facts)
        if all(used <= seen for used, seen in zip(self.facts.inputs, now.inputs)):
            return True
        self.facts = now
        return False

    def binding_seen(self, target: ast.Name, val: Val) -> None:
        """A pass bound `target` (a name node of the function) to a value of Val `val` (NOTE [fresh values])."""
        self.feedback.bound(target, val)

    def visit_Call(self, node):
        out = super().visit_Call(node)
        self.feedback.called(node, out, self._module_function(node))
        return out

    def _module_function(self, node: ast.Call) -> bool:
        """Is the call's function a module's (`xpx.atleast_nd(a)`: the module is no argument of it)?"""
        f = node.func
        if not (isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name)):
            return False
        name = f.value.id
        v = self.env.get(name) if name in self.local_names else None
        if v is not None:
            return v.kind == Kind.MODULE and not v.batched
        return name not in self.local_names and isinstance(self.ctx.src.resolve(name)[1], types.ModuleType)

    def _given_at_the_end(self) -> dict[str, Val]:
        """What each list or dict the caller gave and this function changed holds where it returns: one
        Val on every exit, else the change is not one the caller can follow."""
        out = {}
        for name in sorted(self.given_changed):
            at_exits = {env.get(name, UNKNOWN) for env in self.exit_envs}
            if len(at_exits) != 1:
                raise NotBatchable(
                    f"the list given as `{name}` holds other items on different paths", self.fdef
                )
            out[name] = at_exits.pop()
        return out

    def _signature(self, args: ast.arguments) -> ast.arguments:
        # Default values are re-bound from the user's function object; the text keeps literals only.
        def lit(d):
            return d if isinstance(d, ast.Constant) else ast.Constant(None)

        return ast.arguments(
            posonlyargs=args.posonlyargs,
            args=args.args,
            vararg=args.vararg,
            kwonlyargs=args.kwonlyargs,
            kw_defaults=[None if d is None else lit(d) for d in args.kw_defaults],
            kwarg=args.kwarg,
            defaults=[lit(d) for d in args.defaults],
        )

    def _batch_size_stmt(self, params, fdef):
        assert self.ctx.batch_name is not None  # called only when the body reads the batch size
        for name, v in params.items():
            node = _batched_leaf(ast.Name(name, ast.Load()), v)
            if node is not None:
                stmt = ast.Assign(
                    [ast.Name(self.ctx.batch_name, ast.Store())],
                    ast.Subscript(ast.Attribute(node, "shape", ast.Load()), ast.Constant(0), ast.Load()),
                )
                tag_line(stmt, 0)  # part of the signature: no user line of its own
                return stmt
        raise NotBatchable("the batch size is needed but no argument is batched", fdef)

    # ---- blocks ----------------------------------------------------------------------------------
    def block(self, stmts) -> list[ast.stmt]:
        out = []
        saved = self.ctx.pending
        try:
            top = self.fdef is not None and stmts is self.fdef.body
            i = 0
            while i < len(stmts):
                s = stmts[i]
                self.ctx.pending = []
                self.ctx.node = s
                self.at.append(s)
                try:
                    new, taken = self.stmt_or_region(stmts[i:], top)
                finally:
                    self.at.pop()
                i += taken
                for g in self.ctx.pending + new:
                    if not hasattr(g, USER_LINE):
                        tag_line(g, s.lineno)
                if new and isinstance(s, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.For)):
                    # what `astvmap show --annotate` prints beside the statement
                    target = s.target if not isinstance(s, ast.Assign) else ast.Tuple(s.targets, ast.Store())
                    names = [n.id for n in ast.walk(target) if isinstance(n, ast.Name) and n.id in self.env]
                    setattr(new[0], VALS, {n: self.env[n] for n in names})
                out += self.ctx.pending + new
                if isinstance(s, TERMINAL) or path_ends(new):
                    break  # (an `if` of a constant test whose path returns: what follows is dead)
        finally:
            self.ctx.pending = saved
        return out

    def stmt_or_region(self, following: list[ast.stmt], top: bool) -> tuple[list[ast.stmt], int]:
        """`following[0]` rewritten, and how many statements of `following` (it and the statements after
        it in its block; `top`: the function's body) that took: where it has no batched form it runs as
        written or as a region's loop, which may take statements after it (region_loop.py)."""
        node = following[0]
        ctx, env = self.ctx, dict(self.env)
        mark, sites, deferred = ctx.mark(), dict(ctx.fallback_sites), dict(ctx.deferred_errors)
        try:
            return self.stmt(node), 1
        except NotBatchable as e:
            if type(e) is not NotBatchable:  # the walker's own signals (ExpandAtBirth, ...)
                raise
            self.env, ctx.fallback_sites, ctx.deferred_errors = env, sites, deferred
            ctx.rollback(mark, pending=True)
            ctx.node = node
            return self.unsupported(following, top, e), self.consumed

    def stmt(self, node) -> list[ast.stmt]:
        method = getattr(self, "visit_" + type(node).__name__, None)
        if method is None:
            raise NotBatchable(f"the statement `{type(node).__name__}` is not supported", node)
        return method(node)

    # ---- simple statements ---------------------------------------------------------------------------
    def visit_Expr(self, node):
        if isinstance(node.value, ast.Constant):
            return []  # a docstring or a bare constant: nothing to run
        value = self.expr(node.value)
        stmt = ast.Expr(value.node)
        return [ends_path(stmt) if value.raises else stmt]  # (what follows it on its path never runs)

    def visit_Pass(self, node):
        return [ast.Pass()]

    def visit_Break(self, node):
        if self.masked > self.loop_masks[-1]:
            raise JumpUnderMask("`break` under a batched condition", node)
        loop = id(self.loops[-1])
        code = self.promote_env(self.exit_targets.get(loop, {}))  # as batched as every exit
        if loop in self.exits:
            self.exits[loop].append(dict(self.env))
        return [*code, ast.Break()]

    def visit_Continue(self, node):
        if self.masked > self.loop_masks[-1]:
            raise JumpUnderMask("`continue` under a batched condition", node)
        loop = id(self.loops[-1])
        code = self.promote_env(self.heads.get(loop, {}))  # as batched as the next iteration expects
        if loop in self.continues:
            self.continues[loop].append(dict(self.env))
        return [*code, ast.Continue()]

    def visit_Return(self, node):
        value = (
            self.expr(node.value)
            if node.value is not None
            else Operand(ast.Constant(None), Val(False, None, Kind.NONE))
        )
        self.fresh_returns.append(value.fresh and self.region is None and self.ret_target is None)
        self.own_returns.append(node.value is None or self.feedback.gives_own(node.value))
        if self.region is not None:
            # in a batched region the returned value is selected per lane like any other name
            self.env[RET] = value.val
            return [ast.Assign([ast.Name(self.store_name(RET), ast.Store())], value.node)]
        if self.ret_target is not None:
            value = self.ctx.promote(value, self.ret_target)
        self.exit_envs.append(dict(self.env))
        self.returns.append(value.val)
        self.return_sites.append((node, value.val))
        return [ast.Return(value.node)]

    def visit_Assert(self, node):
        test = self.test(node.test)
        msg = self.expr(node.msg) if node.msg is not None else None
        if msg is not None and msg.batched:
            raise self.ctx.fail("an assert message built from batched values")
        if not test.batched:
            return [ast.Assert(test.node, msg.node if msg is not None else None)]
        if test.val.ndim != 0:
            raise self.ctx.error(
                "assert on a per-example array: the loop raises ValueError (the truth value "
                "of an array is ambiguous); use np.all(...) or np.any(...)",
                node.test,
            )
        self.ctx.value_errors += 1  # (it raises for some examples only: compound.visit_Try)
        return [ast.Assert(self.ctx.expr("np.all(t)", t=test.node), msg.node if msg is not None else None)]

    def visit_Raise(self, node):
        if node.exc is not None and self.expr(node.exc).batched:
            raise self.ctx.fail("raising an exception built from batched values")
        if self.masked or self.region is not None:  # (under a batched condition: for some examples only)
            self.ctx.value_errors += 1
        return [node]

    def visit_Import(self, node):
        for alias in node.names:
            name = alias.asname or alias.name.split(".")[0]
            module = self._module(alias.name if alias.asname else alias.name.split(".")[0])
            self.env[name] = val_of(module) if module is not None else UNKNOWN
        return [node]

    def visit_ImportFrom(self, node):
        module = self._module("." * node.level + (node.module or ""))
        for alias in node.names:
            obj = getattr(module, alias.name, None) if module is not None else None
            self.env[alias.asname or alias.name] = val_of(obj) if obj is not None else UNKNOWN
        return [node]

    def _module(self, name: str):
        """The module an import in the function binds (relative to the function's package), or None
        where importing fails: the statement stays as written, and raises when it runs, as the loop's
        would (a library's `if is_jax(xp): import jax` never runs for NumPy arrays)."""
        try:
            return importlib.import_module(name, self.ctx.src.globals.get("__package__"))
        except ImportError:
            return None

    def visit_FunctionDef(self, node):
        if node.decorator_list:
            raise self.ctx.fail("a decorated local function")
        self.env[node.name] = Val(False, None, Kind.CALLABLE, obj=LocalFunction(node, node.name))
        return [node]

    def visit_Delete(self, node):
        targets: list[ast.expr] = []
        for t in node.targets:
            if isinstance(t, ast.Name):
                self.env.pop(t.id, None)
                targets.append(t)
                continue
            if not isinstance(t, (ast.Subscript, ast.Attribute)):
                raise self.ctx.fail(f"`del {ast.unparse(t)}`")
            base = self.expr(t.value)
            if base.batched:
                raise self.ctx.fail("`del` of a part of a batched value")
            if self.masked or self.region is not None:  # (the lanes that skip it must keep the item)
                raise self.ctx.fail("`del` of a part of a value under a batched condition")
            self.refuse_outside_store(t)  # (the loop deletes once per example)
            self.forget_items(t.value, removes_only=True)  # (its items are no longer where they were)
            if isinstance(t, ast.Attribute):
                targets.append(ast.Attribute(base.node, t.attr, ast.Del()))
            else:
                targets.append(ast.Subscript(base.node, self.expr(t.slice).node, ast.Del()))
        return [ast.copy_location(ast.Delete(targets), node)]

    # ---- control flow on unbatched tests ----------------------------------------------------------------
    def visit_If(self, node):
        test = self.test(node.test)
        if test.batched:
            return self.batched_if(node, test)
        if isinstance(test.node, ast.Constant):  # known when rewriting (`isinstance` of an array): one path
            self.never_runs(node.orelse if test.node.value else node.body)
            return self.block(node.body if test.node.value else node.orelse)
        known = self.truth_of(test)
        if known is not None:  # known when rewriting (NOTE [constants]): one path, the test still run
            self.never_runs(node.orelse if known else node.body)
            return evaluated(test.node) + self.block(node.body if known else node.orelse)
        env0 = self.env
        self.env = dict(env0)
        body = self.block(node.body)
        env_b = self.env
        self.env = dict(env0)
        orelse = self.block(node.orelse)
        env_o = self.env
        self.env = self.merge([(env_b, body), (env_o, orelse)], self.dead_after(node))
        made = ast.If(test.node, body or [ast.Pass()], orelse)
        return [ends_path(made) if path_ends(body) and path_ends(orelse) else made]

    def never_runs(self, block: list[ast.stmt]) -> None:
        """The branch `block` of a decided `if` never runs in this rewrite: what it would do to a list
        (keep it elsewhere) cannot happen (expressions.held_before; by node, not by position: the
        frontend may have copied code into both branches). Outside loops only (a loop's body may be
        rewritten again with other facts)."""
        if not self.in_loop:
            self.not_run |= {id(n) for s in block for n in ast.walk(s)}

    def dead_after(self, node) -> frozenset[str]:
        """The user's names no code reads after `node` before rebinding them (nested functions read
        their names whenever they are called: never dead)."""
        live = self.live_after(node)
        return frozenset(n for n in self.local_names if n not in live and n not in self.facts.captured)

    def _promotion_keeps_aliases(self, name: str, v: Val) -> None:
        """Repeating `name`'s array over the batch rebinds it: where another name may hold that array and
        it is written in place, the function is rewritten with the buffer batched from its birth."""
        al = self.facts.aliases
        if self.may_hold_buffer(name, v) and al.shared(name) and al.written(name):
            if al.members(name) <= self.born_batched:
                raise self.ctx.fail(f"repeating `{name}`, which other names may hold, over the batch")
            raise ExpandAtBirth(al.members(name), self.ctx.node)

    def merge(self, paths, dead=frozenset()):
        """Join the envs of paths that flow on (not ending in return/raise/break/continue), promoting
        a name in the paths where it is unbatched but batched in another (not a `dead` one: it may be
        unbound on a path, and nothing reads it)."""
        live = [(env, code) for env, code in paths if not path_ends(code)]
        if not live:
            return paths[0][0]
        names = set().union(*(env.keys() for env, _ in live))
        merged = {}
        for name in names:
            vals = [env[name] for env, _ in live if name in env]
            j = join_all(vals)
            merged[name] = j
            for env, code in live:
                if name in env and _needs(env[name], j) and (name not in dead or name in self.given_changed):
                    self._promotion_keeps_aliases(name, env[name])
                    op = self.ctx.promote(Operand(ast.Name(self.code_name(name), ast.Load()), env[name]), j)
                    code.append(
                        ast.Assign([rebound(self.code_name(name), name in self.given_changed)], op.node)
                    )
                    merged[name] = join_all([j, op.val])
        return merged


def _batched_leaf(node: ast.expr, v: Val) -> ast.expr | None:
    """An expression of a batched array in the parameter `node` of Val `v` (its axis 0 is the batch),
    or None: the parameter itself, an item of a container, a record's field by its attribute (NOTE
    [pytrees]; a registered type's child no attribute holds is not reached)."""
    if not v.batched:
        return None
    if v.kind == Kind.ARRAY:
        return node
    if v.elts is None:
        return None
    keys = v.keys if v.kind in (Kind.DICT, Kind.RECORD) else range(len(v.elts))
    assert keys is not None  # a dict or record Val with known elements knows its keys
    for k, e in zip(keys, v.elts):
        if v.kind == Kind.RECORD and not isinstance(k, str):
            continue
        part = ast.Attribute(node, k, ast.Load()) if v.kind == Kind.RECORD else templates.index(node, [k])
        found = _batched_leaf(part, e)
        if found is not None:
            return found
    return None
