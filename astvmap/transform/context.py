"""The state of one specialization's rewrite, and the API rules use (`RuleContext`).

Rules build expressions with `ctx.expr("np.sum(x, axis=k)", x=..., k=...)`, ask for the batch size with
`ctx.batch_size()`, emit temporaries with `ctx.temp(...)`, and give up with `raise ctx.fail("why")`
(the dispatcher then runs that call as a per-example loop, or raises with `fallback="error"`).
"""

from __future__ import annotations

import ast
import types
import weakref
from dataclasses import dataclass, field, is_dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from .. import runtime
from ..errors import NotBatchable, error_at
from ..kit import templates
from ..kit.classes import plain_class
from ..kit.naming import Namer
from ..rules.values import Kind, Operand, Val, container, list_item, python_number

if TYPE_CHECKING:
    from collections.abc import Callable

    from .callsites import CallSite


class Settings:
    """A vmap's options, as its specializations see them. `nested`: the code is written to be batched
    again by an enclosing vmap (inner_vmap.full_source), so it uses only helpers that have batching
    rules: a batched `while` runs masked rather than on gathered lanes (each enclosing example would
    gather a different number), and `# astvmap: partition` is not followed."""

    __slots__ = ("fallback", "label", "library", "nested", "randomness")

    def __init__(
        self,
        fallback: str = "warn",
        randomness: str = "error",
        label: str = "vmap",
        nested: bool = False,
        library: bool = False,
    ) -> None:
        self.fallback, self.randomness, self.label, self.nested = fallback, randomness, label, nested
        self.library = library

    def for_nesting(self) -> Settings:
        return Settings(self.fallback, self.randomness, self.label, nested=True)

    def strict(self) -> Settings:
        """The settings a library function is rewritten with (NOTE [library source]): no piece of it run
        as a loop, but for calls of functions with no Python source (`library`: a BLAS routine, a C
        function), which are run per example and reported at the user's line; with the user's
        fallback="error", not even those."""
        library = self.library or self.fallback != "error"
        return Settings("error", self.randomness, self.label, self.nested, library=library)


@dataclass(frozen=True)
class Contraction:
    """A contraction the batched code runs: the function's name, its operands' per-example ranks (None:
    unknown), and whether an operand is the same for every example (then the batched form is one GEMM).
    Sizes are not known when the code is rewritten (only ranks): the fused lowering counts them."""

    name: str
    ranks: tuple[int | None, ...]
    shared: bool


@dataclass
class Recorded:
    """NOTE [recorded facts]: what the rewrite did that a backend chooses its strategy by
    (backends/numba.py `choose`), recorded where it happens instead of read back from the generated
    text. `contractions`: one `Contraction` per call of a rule with the "contraction" trait (batched or
    not); `control`: the kinds of per-example control flow emitted ("select", "guard", "borrow",
    "while", "gather", "trips", "partition", or a lane helper's name when generated code is batched
    again); `loops`: the sites run as a per-example loop (`av__.loop`). A generated function's facts are
    merged into those of the code that calls it (`Context.bind`): a called function's, an inner vmap's."""

    contractions: list[Contraction] = field(default_factory=list)
    control: set[str] = field(default_factory=set)
    loops: set[tuple] = field(default_factory=set)

    def merge(self, other: Recorded) -> None:
        self.contractions += [c for c in other.contractions if c not in self.contractions]
        self.control |= other.control
        self.loops |= other.loops

    def copy(self) -> Recorded:
        return Recorded(list(self.contractions), set(self.control), set(self.loops))


@dataclass(frozen=True)
class Mark:
    """Where a rewrite stands (`Context.mark`): the statements pending, the names taken and the facts
    recorded, which a rewrite redone from here forgets (`Context.rollback`)."""

    pending: int
    names: frozenset[str]
    recorded: Recorded


# The facts of each generated function, by its code object (a closure rebound to other cells shares it):
# a function whose generated code calls another takes that one's facts too (`Context.bind`).
RECORDED: weakref.WeakKeyDictionary[types.CodeType, Recorded] = weakref.WeakKeyDictionary()


class Specializer(Protocol):
    """What the walker calls back into (specialize._Specializer; a protocol so that this module does not
    import the one that drives the walker)."""

    @property
    def core(self) -> Callable[..., Any]: ...
    @property
    def full_source(self) -> Callable[..., Any]: ...
    @property
    def acts_outside(self) -> Callable[..., bool]: ...


class ParentContext(Protocol):
    """What a nested specialization reads of the context it is made in: a `Context`, or at the top of a
    vmap of a vmap, the call's stand-in (api._RootContext)."""

    @property
    def settings(self) -> Settings: ...
    @property
    def stack(self) -> tuple: ...
    @property
    def deps(self) -> list: ...
    @property
    def filename(self) -> str | None: ...
    @property
    def touched(self) -> set[tuple[int, str]]: ...


class Context:
    specializer: Specializer  # set by specialize.core: the walker calls back into it
    return_sites: list[tuple[ast.AST, Val]]  # set by specialize.core from the walker: (node, Val)

    def __init__(self, src, settings: Settings, stack=()):
        self.src = src
        self.settings = settings
        self.stack = stack  # code objects being transformed (recursion guard)
        self.namer = Namer.for_tree(src.fdef, extra=src.cells.keys())
        self.free: dict[str, object] = {}  # generated code's free names -> objects
        self._free_ids: dict[int, str] = {}
        self.deps: list = []  # (where, scope, name, signature): see specialize.validate
        # module globals (id of the module's dict, name) that code run before this point of the call may
        # have bound anew (a helper's `global X; X = ...`): read as they are then, never as constants
        self.touched: set[tuple[int, str]] = set()
        # the ones this rewrite's own code and the functions it calls may bind (Specialization.assigns)
        self.assigns: set[tuple[int, str]] = set()
        self.pending: list[ast.stmt] = []  # statements emitted before the current one
        self.node: ast.AST | None = None  # the user node being rewritten
        self.fallback_sites: dict = {}  # (line, col) -> message
        # the calls of functions without source that library code this rewrite calls runs per example
        # (NOTE [library source]): "`call` (file, line n)"
        self.loops_inside: list[str] = []
        # the lists and dicts the caller gave that this rewrite changed, by parameter, with what they hold
        # at the end (NOTE [list items]: the caller follows them); only a called function's (`nested`)
        self.changed_params: dict[str, Val] = {}
        self.returns_fresh = False  # every return gives a new array (NOTE [fresh values])
        self.returns_own = False  # every return gives what the function made or was given
        self.nested = len(stack) > 1  # called from another rewrite (its arguments are that code's objects)
        self.batched_work = 0  # rules and calls run on batched values so far (compound.visit_Try)
        self.value_errors = 0  # of those, the ones that may raise by the values (not only by shapes)
        self.deferred_errors: dict = {}  # (line, col) -> AstvmapError, raised unless withdrawn
        self.batch_name: str | None = None
        self.kept: set[str] = set()  # fresh names a rewrite being redone must not forget (keep())
        self.call: CallSite | None = None  # CallSite of the rule being applied
        self.recorded = Recorded()  # NOTE [recorded facts]
        found, obj, _ = src.resolve("np")
        self.np_name = (
            "np" if (found and obj is np) or "np" not in self.namer.taken else self.namer.fresh("numpy")
        )
        self.namer.reserve(self.np_name)
        self.free[self.np_name] = np
        found, obj, _ = src.resolve("av__")
        self.av_name = "av__" if found and obj is runtime else self.namer.fresh("av__")
        self.namer.reserve(self.av_name)
        self.free[self.av_name] = runtime

    # ---- building code -------------------------------------------------------------------------
    def expr(self, template: str, **subs) -> ast.expr:
        """A template expression; `np` and `av__` name NumPy and the runtime helpers."""
        subs.setdefault("np", ast.Name(self.np_name, ast.Load()))
        subs.setdefault("av__", ast.Name(self.av_name, ast.Load()))
        return templates.expr(template, **subs)

    def batch_size(self) -> ast.Name:
        """The batch size as a name defined at the top of the generated function."""
        if self.batch_name is None:
            self.batch_name = self.namer.fresh("B")
        return ast.Name(self.batch_name, ast.Load())

    def mark(self) -> Mark:
        return Mark(len(self.pending), frozenset(self.namer.taken), self.recorded.copy())

    def rollback(self, mark: Mark, pending: bool = False) -> None:
        """Forget what the rewrite did since `mark` (it is being redone, or given up): the names it took
        (`reset_names`), the facts it recorded (only the code that stays may decide a backend's
        strategy) and, with `pending`, the statements it emitted before the current one."""
        self.reset_names(mark.names)
        self.recorded = mark.recorded.copy()
        if pending:
            del self.pending[mark.pending :]

    def reset_names(self, snapshot) -> None:
        """Forget fresh names made since `snapshot` (a rewrite being redone), but never the names that
        outlive it: the batch size, the generated code's free names, and kept names."""
        batch = {self.batch_name} if self.batch_name else set()
        self.namer.taken = set(snapshot) | set(self.free) | batch | self.kept

    def keep(self, name: str) -> None:
        """`name` outlives any redone rewrite until `release` (a batched branch's name for a store,
        which the branch keeps while a loop inside it is rewritten again)."""
        self.namer.reserve(name)
        self.kept.add(name)

    def release(self, names) -> None:
        self.kept.difference_update(names)

    def temp(self, node: ast.expr, hint: str = "name") -> ast.expr:
        """Bind `node` to a fresh name in a statement before the current one."""
        name = self.namer.fresh(hint)
        self.pending.append(ast.Assign([ast.Name(name, ast.Store())], node, lineno=0))
        return ast.Name(name, ast.Load())

    def bind(self, obj, hint: str) -> ast.Name:
        """A free name of the generated code holding `obj`. A generated function's facts become this
        code's (NOTE [recorded facts]): a called function's control flow, an inner vmap's contractions."""
        name = self._free_ids.get(id(obj))
        if name is None:
            name = self.namer.fresh(hint)
            self.free[name] = obj
            self._free_ids[id(obj)] = name
        code = getattr(obj, "__code__", None)
        callee = RECORDED.get(code) if isinstance(code, types.CodeType) else None
        if callee is not None:  # (on every binding: a rewrite redone forgot what it merged before)
            self.recorded.merge(callee)
        return ast.Name(name, ast.Load())

    def withdraw_fallback(self, site) -> None:
        """A loop emitted at `site` turned out unneeded (a later rule did better)."""
        self.fallback_sites.pop(site, None)
        self.deferred_errors.pop(site, None)
        self.recorded.loops.discard(self._where(site))

    # ---- facts for the backends (NOTE [recorded facts]) -----------------------------------------------
    def record_control(self, kind: str) -> None:
        """The rewrite emits per-example control flow of this kind (a select, a guard, a gathered or
        masked `while`, ...): a compiled loop runs it natively, without masks or gathers."""
        self.recorded.control.add(kind)

    def record_contraction(self, name: str, operands: list[Operand]) -> None:
        ranks = tuple(o.val.ndim for o in operands)
        shared = any(not o.batched for o in operands)
        self.recorded.contractions.append(Contraction(name, ranks, shared))

    def record_loop(self, site: tuple) -> None:
        """The call at `site` (line, column) runs as a per-example loop (`av__.loop`)."""
        self.recorded.loops.add(self._where(site))

    def _where(self, site: tuple) -> tuple:
        """A site of this source, told apart from the same line and column of a merged nested one."""
        return (self.src.origin.filename, self.src.origin.firstlineno, *site)

    # ---- giving up -----------------------------------------------------------------------------
    def fail(self, msg: str) -> NotBatchable:
        return NotBatchable(msg, self.node)

    def error(self, msg: str, node=None):
        return error_at(f"{self.settings.label}: {msg}", node or self.node, self.filename)

    @property
    def filename(self) -> str:
        return self.src.origin.filename

    # ---- batched forms of unbatched values -------------------------------------------------------
    def promote(self, op: Operand, target: Val) -> Operand:
        """`op` as a value of `target`'s batchedness: unbatched leaves where `target` is batched are
        repeated over the batch (a fresh array: the loop would hold one value per example)."""
        v = op.val
        if not _needs(v, target):
            return op
        if v.kind == Kind.NONE:
            # a name that holds None until a branch gives it a value (a loop's `result`): `av__.select`
            # treats None as "no lane took that branch", so it needs no repeating
            return Operand(op.node, Val(True, None, Kind.OTHER))
        if (
            v.kind in (Kind.TUPLE, Kind.LIST, Kind.DICT, Kind.RECORD)
            and v.elts is not None
            and target.elts is not None
            and len(v.elts) == len(target.elts)
        ):
            base = op.node if isinstance(op.node, ast.Name) else self.temp(op.node, "value")
            keys = v.keys if v.kind in (Kind.DICT, Kind.RECORD) else range(len(v.elts))
            assert keys is not None  # a dict Val with known elements knows its keys
            parts = [
                self.promote(Operand(self.element(base, v, k), e), t)
                for k, e, t in zip(keys, v.elts, target.elts)
            ]
            node = self.build(v, [p.node for p in parts])
            return Operand(
                node, Val(True, None, v.kind, None, tuple(p.val for p in parts), v.keys, cls=v.cls)
            )
        if v.kind == Kind.LIST:
            return self._promote_items(op)
        node = self.expr("av__.batch_broadcast(v, B)", v=op.node, B=self.batch_size())
        kind = Kind.ARRAY if v.kind in (Kind.SCALAR, Kind.ARRAY) else v.kind
        return Operand(node, Val(True, v.ndim, kind, v.dtype, py=python_number(v)))

    def promote_list(self, op: Operand, in_place: bool = False) -> Operand:
        """The list `op` names with its per-call items repeated over the batch, rebound before the
        statement being rewritten (`lst = [lst[0], av__.batch_broadcast(lst[1], B)]`): the list is about
        to hold per-example items it will not know one by one (NOTE [list items]; its name is the only
        holder). `in_place`: the caller's list, which it follows back, is filled anew (`lst[:] = ...`)."""
        assert isinstance(op.node, ast.Name)  # (the caller checks)
        promoted = self.promote(op, Val(True, None, Kind.LIST, item=Val(True, None)))
        if promoted is not op:
            self.pending.append(ast.Assign([rebound(op.node.id, in_place)], promoted.node))
        return Operand(ast.Name(op.node.id, ast.Load()), promoted.val)

    def _promote_items(self, op: Operand) -> Operand:
        """A list whose per-call items are repeated over the batch (NOTE [list items]): item by item
        where they are known (a new list), else all of them. An item that cannot carry the batch axis
        (None, an object) is refused: a list of such items and per-example values runs per example."""
        v = op.val
        if v.elts is None:
            if v.item is None or (not v.item.batched and not _repeatable(v.item)):
                raise self.fail("a list of per-call objects (None, ...) given per-example items")
            node = self.expr("av__.batch_broadcast(v, B)", v=op.node, B=self.batch_size())
            item = v.item if v.item.batched else self.promote(Operand(node, v.item), Val(True, None)).val
            return Operand(node, Val(True, None, Kind.LIST, item=item))
        if not all(e.batched or _repeatable(e) for e in v.elts):
            raise self.fail("a list of per-call objects (None, ...) and per-example values")
        base = op.node if isinstance(op.node, ast.Name) else self.temp(op.node, "value")
        parts = [
            self.promote(Operand(templates.index(base, [k]), e), Val(True, None))
            for k, e in enumerate(v.elts)
        ]
        out = container(Kind.LIST, [p.val for p in parts])
        return Operand(ast.List([p.node for p in parts], ast.Load()), out.with_(item=list_item(out)))

    def element(self, base: ast.expr, v: Val, key) -> ast.expr:
        """The element `key` of a container of Val `v`: `base[key]`, a record's field `base.key`."""
        if v.kind == Kind.RECORD:
            if not isinstance(key, str) or not (is_dataclass(v.cls) or plain_class(v.cls)):
                raise self.fail("a registered pytree's children taken apart")
            return ast.Attribute(base, key, ast.Load())
        return templates.index(base, [key])

    def build(self, v: Val, parts: list[ast.expr]) -> ast.expr:
        """A container like one of Val `v` (its kind, keys and type: a namedtuple or a dataclass is
        built by its class, NOTE [pytrees]) holding the values of `parts`, in its order."""
        if v.kind == Kind.DICT:
            assert v.keys is not None  # a dict Val with known elements knows its keys
            return ast.Dict([templates.const(k) for k in v.keys], parts)
        if v.cls is not None and v.kind == Kind.RECORD and plain_class(v.cls):  # (an object: NOTE [objects])
            attributes = ast.Dict([templates.const(k) for k in v.keys or ()], parts)
            return self.expr("av__.object_with(c, a)", c=self.bind(v.cls, v.cls.__name__), a=attributes)
        if v.cls is not None and v.kind == Kind.RECORD:
            kws = [ast.keyword(k, p) for k, p in zip(v.keys or (), parts)]
            return ast.Call(self.bind(v.cls, v.cls.__name__), [], kws)
        if v.cls is not None and v.kind == Kind.TUPLE:
            return ast.Call(self.bind(v.cls, v.cls.__name__), parts, [])
        return (ast.Tuple if v.kind == Kind.TUPLE else ast.List)(parts, ast.Load())


def rebound(name: str, in_place: bool) -> ast.expr:
    """The target that gives `name` a promoted value: the name itself, or, `in_place`, its list's items
    (`name[:]`: the object a caller holds too, and follows back, stays the one it holds)."""
    if in_place:
        return ast.Subscript(ast.Name(name, ast.Load()), ast.Slice(), ast.Store())
    return ast.Name(name, ast.Store())


def _repeatable(v: Val) -> bool:
    """Can a per-call value of Val `v` be repeated over the batch (a number, an array, a tuple or list
    of those)?"""
    if v.kind in (Kind.ARRAY, Kind.SCALAR):
        return True
    if v.kind in (Kind.TUPLE, Kind.LIST):
        items = [*(v.elts or ()), *([v.item] if v.item is not None else [])]
        return bool(items) and all(_repeatable(e) for e in items)
    return False


def _needs(v: Val, target: Val) -> bool:
    """Does a value of Val `v` need promotion to be used where `target` is expected?"""
    if not target.batched or v.kind == Kind.UNBOUND:
        return False
    if v.elts is not None and target.elts is not None and len(v.elts) == len(target.elts):
        return any(_needs(a, b) for a, b in zip(v.elts, target.elts))
    if v.kind == Kind.LIST:
        # (NOTE [list items]: a list whose items are not known one by one claims all of them batched)
        want = target.item if target.item is not None else Val(True, None)
        return any(_needs(e, want) for e in v.elts or ()) or (v.item is not None and _needs(v.item, want))
    return not v.batched
