"""Region loops: a statement with no batched form runs as a per-example loop over that statement only
(and the statements after it that read a list or dict it makes, or, if it returns from inside, the
rest of the function).

Requires: the walker's facts (liveness, activity, aliases) and the Vals of the names before the
statement. Guarantees: the statement's own text, lifted into a function of its live-in names that returns
its live-out names, run once per example by `av__.region_loop` and stacked back; the rest of the function
stays batched; one `PerformanceWarning` names the statement's lines. For example

    def f(x):                               def f_vmap(x):
        y = 2 * x                               y = 2 * x
        try:                                    def region_3(y):
            r = np.linalg.cholesky(y)              try:
        except np.linalg.LinAlgError:  ->              r = np.linalg.cholesky(y)
            r = np.eye(3)                          except np.linalg.LinAlgError:
        return r.sum() + x                             r = np.eye(3)
                                                    return (r,)
                                                (r,) = av__.region_loop(region_3, B, (y,), ...)
                                                return r.sum(axis=(1, 2)) + x

NOTE [region loops]. Per example the lifted function must see what the loop's example sees:
- every local name it reads is a parameter (a local the walker has no value for would be read as a
  global of the same name: no region);
- an object made in the function that it may change (a list, a Generator, an iterator, an object of
  unknown kind: `changed_objects`) is one per example in the loop: each example gets its own deep copy
  (one that cannot be copied runs the call as the loop), and it comes back stacked when code after the
  region reads it; an unbatched array it writes into is expanded to the batch first (`expand`), and a
  batched array it writes into is passed as each example's view;
- what comes back has the kind the code after it reads (`_stacked`; `av__.region_loop` checks it);
- an object from outside the call (an argument, a global, a cell) it may change would be changed once
  per example, in an order the code after the region could see: no region;
- a jump out of it (`break`/`continue` to an enclosing loop, a `return` below the function's top
  level) has no per-example form: no region (`return value` alone is lifted as the value, then
  returned batched; at the top level the region runs to the end of the function);
- inside a batched region (a masked branch, a batched `while`) the statement is not alone: the
  enclosing statement is the region.
Where no region can stand, the original `NotBatchable` (or a `NoPieceLoop`, for reasons any enclosing
region would meet too) goes on to the caller: the whole function runs as the loop.
"""

from __future__ import annotations

import ast
import random
import types
from collections.abc import Sequence

import numpy as np

from ..analysis.activity import MUTATING_METHODS, local_names
from ..analysis.effects import fresh_container
from ..errors import NoPieceLoop, NotBatchable
from ..frontend.normalize import walk_no_defs
from ..kit import templates
from ..rules.values import UNKNOWN, Kind, Val, loosened
from .calls import batched_tree, may_change_arguments, shared_default
from .callsites import LocalFunction
from .compound import RESTORING_MANAGERS
from .objects import made_object
from .regions import RegionsMixin

_OBJECTS = (Kind.LIST, Kind.DICT, Kind.SET, Kind.OTHER)  # what the region may change without syntax saying so


class RegionLoopMixin(RegionsMixin):
    def unsupported(self, following: list[ast.stmt], top: bool, why: NotBatchable) -> list[ast.stmt]:
        """`following[0]`, a statement with no batched form: as written where it reads no batched value,
        else its region's loop (`following`: it and the statements after it in its block; `top`: the
        function's body). A region may take statements after it too: `self.consumed` says how many."""
        node = following[0]
        self.consumed = 1
        if top and _returns(node) and not isinstance(node, ast.Return):
            return self._to_the_end(following, why)
        if isinstance(node, ast.Return) and node.value is not None and not self.reads_batch(node):
            return self._returned_as_written(node)
        code = self.as_written(node)
        if code is not None:
            return code
        if self.ctx.settings.fallback == "error" and _ends_raising(following):
            # (a path that always raises: its loop costs nothing where the code succeeds)
            self.consumed = len(following)
            return self.region_loop(following, why, raising=True)
        group = self._grown(following, top)
        if top and any(map(_returns, group)):
            return self._to_the_end(following, why)
        self.consumed = len(group)
        return self.region_loop(group, why)

    def _to_the_end(self, following: list[ast.stmt], why: NotBatchable) -> list[ast.stmt]:
        self.consumed = len(following)
        return self.region_to_the_end(following, why)

    def _grown(self, following: list[ast.stmt], top: bool) -> list[ast.stmt]:
        """The statements a region starting at `following[0]` covers: it, and each next one that reads
        a list or dict the region makes or changes (its items stacked are of kinds known per example
        only: code reading them would loop per example anyway, one call at a time)."""
        group = following[:1]
        for nxt in following[1:]:
            if (_jumps_out(nxt) or _returns(nxt)) and not top:
                break
            outs = self._live_outs(group)
            rebound = set(self.facts.activity(group).binds)
            made = {n for n in outs if _stacked(n, self.env.get(n), n in rebound, group).kind in _LITERALS}
            if not made & set(self.facts.activity([nxt]).reads):
                break
            group.append(nxt)
        return group

    def _live_outs(self, nodes: list[ast.stmt]) -> list[str]:
        live = self.live_after(nodes[-1]) | self.facts.captured
        return [n for n in self.facts.activity(nodes).binds if n in live]

    def as_written(self, node: ast.stmt) -> list[ast.stmt] | None:
        """`node` emitted as the user wrote it, or None. Every example would run it alike: it reads no
        batched value, runs on every lane (no enclosing batched region), changes no object from outside
        the call, jumps nowhere, and neither draws random numbers nor does I/O by name (NOTE [unbatched
        stays unbatched]: a call is trusted to act through its result and arguments only, as elsewhere)."""
        if self.region is not None or _jumps_out(node) or isinstance(node, ast.Return):
            return None
        if self.reads_batch(node):
            return None
        act = self.facts.activity([node])
        changed = self.changed_objects([node])
        if any(n not in self.env or self.from_outside(n) for n in changed):
            return None  # (a name the walker holds no value for: a global's or a cell's object)
        if any(n in self.renames for n in [*act.reads, *act.binds]) or self._draws_or_io(node):
            return None
        if self._enters_unknown_managers(node):
            return None  # (a context manager of the user's may count, log or change state per entry)
        for n in act.binds:
            self.env[n] = UNKNOWN
        for n in changed:  # (what it changes, and what holds it, the rewrite no longer knows item by item)
            self.env[n] = loosened(self.env[n])
            self.forget_holders(n)
        return [node]

    def _returned_as_written(self, node: ast.Return) -> list[ast.stmt]:
        name = self.ctx.namer.fresh("returned")
        assert node.value is not None  # (a bare `return` always has a batched form)
        assign = ast.copy_location(ast.Assign([ast.Name(name, ast.Store())], node.value), node)
        self.env[name] = UNKNOWN
        return [assign] + self.stmt(ast.copy_location(ast.Return(ast.Name(name, ast.Load())), node))

    def reads_batch(self, node: ast.AST) -> bool:
        for name in self.facts.activity([node]).reads:
            if name not in self.local_names:
                continue
            v = self.env.get(name)
            if v is None or v.kind == Kind.UNBOUND or v.batched:
                return True
            if isinstance(v.obj, LocalFunction) and self.reads_batch(v.obj.node):
                return True
        return False

    def changed_objects(self, nodes: Sequence[ast.AST]) -> set[str]:
        """The names whose objects `nodes` may change: stored into, changed in place by a call or an
        operator, or, for an object that is not an array (a list, a dict, an iterator, an object of
        unknown kind), given to any call or `with`, or iterated (`next(it)`, `helper(acc)`), or its
        method called; the same for a local function they call, of the names it shares."""
        act = self.facts.activity(nodes)
        changed = set(act.changes)
        uses = {n for n, _ in _object_uses(nodes)}
        for n in act.reads:
            v = self.env.get(n)
            if v is not None and isinstance(v.obj, LocalFunction):  # what a call of it changes
                fn = v.obj.node
                body = fn.body if isinstance(fn.body, list) else [fn.body]
                changed |= (set(self.facts.activity(body).changes) - local_names(fn)) | _free_binds(fn)
                uses |= {m for m, _ in _object_uses(body)} - local_names(fn)
        return changed | {n for n in uses if self._stateful(n)} | self._written_by_calls(nodes)

    def _written_by_calls(self, nodes: Sequence[ast.AST]) -> set[str]:
        """The names of arrays `nodes` hand to a function that may write into them (a C function's
        `output`, any function not NumPy's or Python's own: calls.may_change_arguments)."""
        out = set()
        for node in nodes:
            for n in ast.walk(node):
                if not isinstance(n, ast.Call):
                    continue
                fn = self._named_object(n.func)
                kwargs = {k.arg: k.value for k in n.keywords if k.arg is not None}
                if fn is not None and not may_change_arguments(fn, kwargs, len(n.args)):
                    continue
                args = [a.value if isinstance(a, ast.Starred) else a for a in n.args] + list(kwargs.values())
                out |= {a.id for a in args if isinstance(a, ast.Name) and a.id in self.local_names}
        return out

    def _stateful(self, name: str) -> bool:
        """Could handing `name`'s object to a call or a `with`, or iterating it, change it: not an array
        (in place only by what `activity` sees), a local function, a module, a class or a function?"""
        v = self.env.get(name)
        if v is not None:
            return v.kind in _OBJECTS and not isinstance(v.obj, LocalFunction)
        return not _inert(self._named_object(ast.Name(name, ast.Load())))

    def _enters_unknown_managers(self, node: ast.AST) -> bool:
        """Does `node` enter a context manager other than a call of one that restores what it sets
        (`with rec:`, `with open(...)`): its entry may act outside, once per example in the loop?"""
        for n in ast.walk(node):
            if isinstance(n, (ast.With, ast.AsyncWith)):
                for item in n.items:
                    e = item.context_expr
                    made_by = self._named_object(e.func) if isinstance(e, ast.Call) else None
                    if not any(made_by is m for m in RESTORING_MANAGERS):
                        return True
        return False

    def _named_object(self, node: ast.expr) -> object:
        """The object a name or a dotted name of a global or module stands for, or None."""
        if isinstance(node, ast.Attribute):
            return getattr(self._named_object(node.value), node.attr, None)
        if isinstance(node, ast.Name) and node.id not in self.local_names:
            found, obj, _ = self.ctx.src.resolve(node.id)
            return obj if found else None
        return None

    def _draws_or_io(self, node: ast.AST) -> bool:
        """Does `node` name a random generator or an I/O builtin (per example the loop draws or writes
        anew), or call a method of an object of unknown kind made in the function (its state may
        change per example)?"""
        for n in ast.walk(node):
            if isinstance(n, ast.Name):
                v = self.env.get(n.id)
                obj = v.obj if v is not None else self.ctx.src.resolve(n.id)[1]
                if _random_or_io(obj):
                    return True
            elif isinstance(n, ast.Attribute) and n.attr == "random":
                return True
        return any(self.env.get(n, Val()).kind in _OBJECTS for n in _methods_called(node))

    def region_loop(self, nodes: list[ast.stmt], why: NotBatchable, raising: bool = False) -> list[ast.stmt]:
        """`nodes` run as a per-example loop (NOTE [region loops]); `why` is raised where they cannot.
        `raising`: they end in a `raise`, so the loop runs only where the code fails: it is allowed with
        fallback="error" and not reported."""
        if self.region is not None or any(map(_jumps_out, nodes)) or self.ctx.settings.nested:
            raise why  # (code batched again by an enclosing vmap: the enclosing call loops instead)
        if any(isinstance(n, ast.NamedExpr) for s in nodes for n in ast.walk(s)):
            # (`if (b := a): b.append(v)`: what `b` holds each example's copy would not be)
            raise NoPieceLoop(f"{why.msg} (and an assignment expression binds a name there)", why.node)
        if isinstance(nodes[0], ast.Return):
            return self._returned_by_region(nodes[0], why)
        live = self.live_after(nodes[-1]) | self.facts.captured
        return self._lifted(
            nodes, why, self.facts.activity(nodes), self._live_outs(nodes), live, raising=raising
        )

    def region_to_the_end(self, rest: list[ast.stmt], why: NotBatchable) -> list[ast.stmt]:
        """The statements `rest`, from one with no batched form that returns from inside (a handler's
        `return -np.inf`) to the end of the function, run as one per-example loop whose results are the
        function's: `returned = av__.region_loop(...)`, then `return returned`. `rest` is never in a
        loop: no `break` or `continue` leaves it."""
        if self.region is not None or self.ctx.settings.nested:
            raise why
        name = self.ctx.namer.fresh("returned")
        code = self._lifted(rest, why, self.facts.activity(rest), [], frozenset(), returned=name)
        return code + self.stmt(ast.copy_location(ast.Return(ast.Name(name, ast.Load())), rest[-1]))

    def _returned_by_region(self, node: ast.Return, why: NotBatchable) -> list[ast.stmt]:
        """`return value`: the statement lifted alone (its per-example values are the results), then
        `return returned`, batched."""
        if node.value is None:
            raise why
        return self.region_to_the_end([node], why)

    def _lifted(
        self, nodes, why, act, outs: list[str], live: frozenset[str], returned=None, raising=False
    ) -> list[ast.stmt]:
        """`nodes` lifted into a function of the names flowing in, returning `outs` (or, `returned`
        given, the function's own result, bound to that name)."""
        ins: list[str] = []
        try:  # the names whose values flow in: read before the region binds them
            flowing_in = set(act.reads) & self.facts.live_before(nodes[0])
        except LookupError:  # (a statement made here: `returned = value`)
            flowing_in = set(act.reads)
        for name in [n for n in act.reads if n in flowing_in]:
            if name not in self.local_names:
                continue  # a global, a builtin or a cell: read as the loop reads it
            v = self.env.get(name)
            if v is None or v.kind == Kind.UNBOUND:
                raise NoPieceLoop(f"{why.msg} (and `{name}` may have no value there)", why.node)
            self._check_closure(name, v, why)
            ins.append(name)
        ins += [n for n in outs if n in self.env and n not in ins]  # kept where the region binds none
        free = {n for n in act.reads if n in self.local_names} - set(ins) - set(act.binds)
        assert not free, f"a region would read {free} of the batched code"  # (a lifted def's closure)
        changed_objects = self.changed_objects(nodes)
        for name in changed_objects:
            if name not in self.local_names:
                raise NoPieceLoop(
                    f"{why.msg} (and it changes `{name}`, which outlives the call, once per example)",
                    why.node,
                )
        code: list[ast.stmt] = []
        modes = {}
        for name in ins:
            changed = name in changed_objects
            modes[name] = self._lane_mode(name, why, nodes[0], code) if changed else ""
            if changed and modes[name] != "view" and name in live and name not in outs:
                outs.append(name)  # the examples' own objects, changed: stacked back
        al = self.facts.aliases
        for name in outs:
            if al.shared(name) and al.written(name):
                raise NoPieceLoop(
                    f"{why.msg} (and per example `{name}` may view an array that is written in place: "
                    "stacked, it would be a copy)",
                    why.node,
                )
        return code + self._emit(nodes, why, ins, modes, outs, returned, raising)

    def _check_closure(self, name: str, v: Val, why: NotBatchable) -> None:
        """A local function reads and changes its free names when called: the generated code's, the
        same for every example (batched ones whole, one list appended to by all)."""
        if isinstance(v.obj, LocalFunction):
            fn = v.obj.node
            reads = self.facts.activity([fn]).reads
            if any(self.env.get(n, Val()).batched for n in reads if n in self.local_names):
                raise NoPieceLoop(f"{why.msg} (and it calls a local function that reads batched values)")
            body = fn.body if isinstance(fn.body, list) else [fn.body]
            shared = (self.changed_objects(body) - local_names(fn)) | _free_binds(fn)
            if shared & self.local_names:
                raise NoPieceLoop(f"{why.msg} (and it calls a local function that changes `{min(shared)}`)")

    def _lane_mode(self, name: str, why: NotBatchable, node: ast.stmt, code: list[ast.stmt]) -> str:
        """How each example receives `name`, which the region may change: as a view of its example of
        a batched array ("view", an unbatched array expanded to the batch first: `code`), or as its own
        copy ("copy") or example ("") of a container or object."""
        v = self.env[name]
        if self.from_outside(name):
            raise NoPieceLoop(
                f"{why.msg} (and it changes `{name}`, which the caller may see, once per example)", why.node
            )
        if v.kind == Kind.ARRAY:
            if not v.batched:
                code += self.expand(name, why.node or node)
            return "view"
        if self.facts.aliases.shared(name) or (self.held_elsewhere(name)):
            # (each example's object is changed, then stacked back as a new one: NOTE [list items])
            raise NoPieceLoop(f"{why.msg} (and it changes `{name}`, which other names may hold)", why.node)
        return "" if v.batched else "copy"

    def refuse_outside_store(self, target: ast.Subscript | ast.Attribute) -> None:
        """A store into an object the caller sees (a global's, a cell's, an unmapped argument's) runs
        once per example in the loop (`w[0] = w[0] + 1` adds B): run once, it would differ."""
        root: ast.expr = target
        while isinstance(root, (ast.Subscript, ast.Attribute)):
            root = root.value
        if not isinstance(root, ast.Name) or root.id not in self.local_names or self.from_outside(root.id):
            raise self.ctx.fail(
                f"`{ast.unparse(target)} = ...` changes an object from outside the call (the loop "
                "changes it once per example)"
            )
        if shared_default(self.ctx.src, root.id):  # (each example's call sees the ones before it change it)
            raise NoPieceLoop(
                f"`{ast.unparse(target)} = ...` changes a parameter's default, shared by all calls"
            )

    def from_outside(self, name: str) -> bool:
        """May `name` hold an object the caller sees: a global's or a cell's, an unmapped argument's?"""
        for member in self.facts.aliases.members(name):
            if member not in self.local_names:
                return True
            given = member in self.fdef_params and member not in self.immutable_params
            if given and not self.env.get(member, Val()).batched:
                return True
        return False

    def _emit(self, nodes, why, ins, modes, outs, returned, raising=False) -> list[ast.stmt]:
        ctx = self.ctx
        body = templates.clone(nodes)
        if returned is None:
            results = [
                ast.Name(n, ast.Load())
                if n in ins
                else ctx.expr("locals().get(n, av__.UNBOUND)", n=ast.Constant(n))
                for n in outs
            ]
            body.append(ast.Return(ast.Tuple(results, ast.Load())))
        lifted = ast.FunctionDef(
            name=self._announce(nodes, why, raising),
            args=ast.arguments(
                posonlyargs=[], args=[ast.arg(n) for n in ins], kwonlyargs=[], kw_defaults=[], defaults=[]
            ),
            body=body,
            decorator_list=[],
            returns=None,
        )
        rebound = set(self.facts.activity(nodes).binds)
        vals = {n: _stacked(n, self.env.get(n), n in rebound, nodes) for n in outs}
        call = ctx.expr(
            "av__.region_loop(f, B, args, flags, modes, names, kinds)",
            f=ast.Name(lifted.name, ast.Load()),
            B=ctx.batch_size(),
            args=ast.Tuple([ast.Name(self.code_name(n), ast.Load()) for n in ins], ast.Load()),
            flags=templates.const(tuple(_flags(self.env[n]) for n in ins)),
            modes=templates.const(tuple(modes[n] for n in ins)),
            names=templates.const(tuple(outs) if returned is None else None),
            kinds=templates.const(tuple(vals[n].kind.value for n in outs)),
        )
        for n in rebound:
            self.env.pop(n, None)
        self.env.update(vals)
        if returned is not None:
            self.env[returned] = Val(True, None, Kind.OTHER)
            return [lifted, ast.Assign([ast.Name(returned, ast.Store())], call)]
        if not outs:
            return [lifted, ast.Expr(call)]
        targets = ast.Tuple([ast.Name(self.store_name(n), ast.Store()) for n in outs], ast.Store())
        return [lifted, ast.Assign([targets], call)]

    def _announce(self, nodes: list[ast.stmt], why: NotBatchable, raising: bool = False) -> str:
        """The region's warning (or, with fallback="error", its error), recorded; its function's name
        (a `raising` one's is neither)."""
        ctx = self.ctx
        first, last = nodes[0].lineno, getattr(nodes[-1], "end_lineno", None) or nodes[-1].lineno
        if raising:
            return ctx.namer.fresh(f"raising_{first}")
        lines = f"line {first}" if first == last else f"lines {first}-{last}"
        msg = f"{lines} run{'s' if first == last else ''} as a per-example loop: {why.msg}"
        where = (nodes[0].lineno, nodes[0].col_offset)
        if ctx.settings.fallback == "error":
            raise ctx.error(msg + " (fallback='error')", nodes[0])
        ctx.record_loop(where)
        if not ctx.src.generated:
            ctx.fallback_sites.setdefault(where, msg)
        return ctx.namer.fresh(f"region_{first}")


def _flags(v: Val):
    """`batched_tree(v)`, with a record (a RECORD Val, NOTE [pytrees]) flagged child by child, one flag
    a child as for a tuple: flagged whole, each of its fields would be sliced as batched."""
    if not v.batched or v.elts is None or not _holds_record(v):
        return batched_tree(v)
    if v.kind == Kind.DICT and not all(isinstance(k, (str, int, bool)) for k in v.keys or ()):
        return batched_tree(v)  # (refused: the keys the loops read are strings or integers)
    flags = tuple(_flags(e) for e in v.elts)
    return tuple(zip(v.keys or (), flags)) if v.kind == Kind.DICT or made_object(v) else flags


def _holds_record(v: Val) -> bool:
    return v.kind == Kind.RECORD or any(_holds_record(e) for e in v.elts or ())


def _stacked(name: str, before: Val | None, rebound: bool, nodes: list[ast.stmt]) -> Val:
    """What is known of a live-out stacked over the batch: a list or dict stays one (of per-example
    values) where it was one and the region changes it in place or binds it to a new one of its kind
    only; anything else is an array (`av__.region_loop` checks each example's value is one, or the call
    runs as the loop: its kind is known only per example)."""
    kind: Kind | None = before.kind if before is not None and before.kind != Kind.UNBOUND else None
    if rebound:
        made = _made_as(nodes, name)
        kind = made if kind in (None, made) else None
    if kind in _LITERALS:
        return Val(True, None, kind, item=Val(True, None, Kind.OTHER))
    return Val(True, None, Kind.OTHER)


_LITERALS = {Kind.LIST: list, Kind.DICT: dict}


def _made_as(nodes: list[ast.stmt], name: str) -> Kind | None:
    """LIST or DICT where every binding of `name` in `nodes` is `name = <a new list or dict>` (or a
    starred target: a new list)."""
    every = [n for node in nodes for n in ast.walk(node)]
    made: dict[int, type | None] = {}
    for n in every:
        if isinstance(n, ast.Assign):
            made.update((id(t), fresh_container(n.value)) for t in n.targets if isinstance(t, ast.Name))
        elif isinstance(n, ast.Starred) and isinstance(n.value, ast.Name):
            made[id(n.value)] = list  # (`a, *rest = ...`: a new list)
        elif isinstance(n, ast.withitem) and isinstance(n.optional_vars, ast.Name) and _records(n):
            made[id(n.optional_vars)] = list  # (`with warnings.catch_warnings(record=True) as caught`)
    types_ = {
        made.get(id(n))
        for n in every
        if isinstance(n, ast.Name) and n.id == name and not isinstance(n.ctx, ast.Load)
    }
    return next((k for k, t in _LITERALS.items() if types_ == {t}), None)


def _records(item: ast.withitem) -> bool:
    """`warnings.catch_warnings(record=True)`, by its spelling."""
    e = item.context_expr
    return (
        isinstance(e, ast.Call)
        and ast.unparse(e.func) in ("warnings.catch_warnings", "catch_warnings")
        and any(k.arg == "record" and isinstance(k.value, ast.Constant) and k.value.value for k in e.keywords)
    )


def _random_or_io(obj: object) -> bool:
    if isinstance(obj, (np.random.Generator, np.random.RandomState, np.random.BitGenerator)):
        return True
    if obj is random or obj is np.random or isinstance(obj, random.Random):
        return True
    return any(obj is f for f in (print, open, input, breakpoint))


def _jumps_out(node: ast.stmt) -> bool:
    """Does control leave `node` other than by its end or an exception (`return` anywhere in it but a
    lone `return value`, `break`/`continue` of a loop around it)?"""

    def walk(n: ast.AST, in_loop: bool) -> bool:
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            return False
        if isinstance(n, ast.Return) and n is not node:
            return True
        if isinstance(n, (ast.Break, ast.Continue)) and not in_loop:
            return True
        inner = in_loop or isinstance(n, (ast.For, ast.While, ast.AsyncFor))
        return any(walk(c, inner and not _is_loop_else(n, c)) for c in ast.iter_child_nodes(n))

    return walk(node, False)


def _ends_raising(stmts: list[ast.stmt]) -> bool:
    """Do `stmts` (the rest of a block) always end in a `raise`, leaving no other way?"""
    return (
        isinstance(stmts[-1], ast.Raise) and not any(map(_jumps_out, stmts)) and not any(map(_returns, stmts))
    )


def _returns(node: ast.stmt) -> bool:
    """Is `node` a `return`, or is there one inside it (not in a function it defines)?"""
    return any(isinstance(n, ast.Return) for n in walk_no_defs(node))


def _is_loop_else(loop: ast.AST, child: ast.AST) -> bool:
    return isinstance(loop, (ast.For, ast.While)) and any(child is s for s in loop.orelse)


def _methods_called(node: ast.AST) -> set[str]:
    """The names whose methods `node` calls (`rng.normal()`: an object's state may change)."""
    return {n for n, how in _object_uses([node]) if how == "method"}


def _inert(obj: object) -> bool:
    """Is `obj` a module, class, function or constant (no state a call or a method could change)?"""
    kinds = (types.ModuleType, type, types.FunctionType, types.BuiltinFunctionType, np.ufunc)
    return isinstance(obj, kinds) or obj is None or isinstance(obj, (bool, int, float, complex, str))


def _object_uses(nodes: Sequence[ast.AST]) -> list[tuple[str, str]]:
    """(name, how) for each name `nodes` hand to code that may change its object: "method" (`a.f()`),
    "argument" (`f(a)`, `f(*a)`, `f(k=a)`), "with" (`with a:`), "iterated" (`for v in a`)."""
    uses = []
    for node in nodes:
        for n in ast.walk(node):
            if isinstance(n, ast.Attribute) and n.attr in MUTATING_METHODS and isinstance(n.value, ast.Name):
                uses.append((n.value.id, "method"))  # (`map(lst.append, items)`: called where it goes)
            if isinstance(n, ast.Call):
                if isinstance(n.func, ast.Attribute) and isinstance(n.func.value, ast.Name):
                    uses.append((n.func.value.id, "method"))
                args = [a.value if isinstance(a, ast.Starred) else a for a in n.args]
                args += [k.value for k in n.keywords]
                uses += [(a.id, "argument") for a in args if isinstance(a, ast.Name)]
            elif isinstance(n, (ast.With, ast.AsyncWith)):
                items = [i.context_expr for i in n.items]
                uses += [(e.id, "with") for e in items if isinstance(e, ast.Name)]
            elif isinstance(n, (ast.For, ast.AsyncFor, ast.comprehension)) and isinstance(n.iter, ast.Name):
                uses.append((n.iter.id, "iterated"))
    return uses


def _free_binds(fn: ast.AST) -> set[str]:
    """The names a local function rebinds in its enclosing function (`nonlocal`)."""
    return {name for n in ast.walk(fn) if isinstance(n, ast.Nonlocal) for name in n.names}
