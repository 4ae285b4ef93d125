"""The walker's shared state: what the mixins of the `Vectorizer` (vectorize.py) read and write, and the
methods they call on each other, declared once.

`Walker` is the base of every mixin. Its fields are set by `Vectorizer.__init__` and `Vectorizer.run`;
its methods are declared for the type checker only (`if TYPE_CHECKING:`), so at run time the class is
empty and every method resolves to its one implementation in a mixin or in the `Vectorizer`.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..analysis import Facts
    from ..frontend.source import FunctionSource
    from ..rules.values import Operand, Val
    from .callsites import CallSite, InnerVmap, LocalFunction
    from .context import Context

USER_LINE = "_user_line"  # the user line a generated statement came from (codegen/emit.py reads it)
VALS = "_vals"  # the Vals of the names a statement assigns (`astvmap show --annotate`)


def tag_line(node: ast.AST, line: int) -> None:
    """Record on a generated node the user line it came from (a marker the AST classes do not declare)."""
    setattr(node, USER_LINE, line)


def user_line(node: ast.AST) -> int:
    """The user line recorded on a generated node by `tag_line`."""
    return getattr(node, USER_LINE)


class Walker:
    """The walker's shared state, and the methods one mixin calls on another (declared for the type
    checker only: each is implemented once, in the mixin or `Vectorizer` named beside it)."""

    ctx: Context
    env: dict[str, Val]  # user name -> Val
    renames: dict[str, str]  # user name -> name in generated code (branches, masks)
    masked: int  # how many regions enclose the statement (regions.py)
    loops: list[ast.AST]  # the enclosing loops
    facts: Facts  # liveness, activity, reaching definitions of the function (analysis/)
    at: list[ast.stmt]  # the statements being rewritten, innermost last
    not_run: set[int]  # the nodes of the branches decided not taken
    container_params: set[str]  # the parameters given a list, dict, set or object (vectorize.py)
    exits: dict[int, list[dict[str, Val]]]  # id(loop) -> the envs its `break`s leave
    exit_targets: dict[int, dict[str, Val]]  # id(loop) -> the Vals its `break`s must leave
    heads: dict[int, dict[str, Val]]  # id(loop) -> the Vals its next iteration expects
    continues: dict[int, list[dict[str, Val]]]  # id(loop) -> the envs its `continue`s leave
    loop_masks: list[int]  # `masked` depth where each enclosing loop starts
    chosen_per_example: set[int]  # ids of the `a if c else b` whose `c` is batched (stores.held_view)
    fdef: ast.FunctionDef | None
    fdef_params: set[str]  # the parameters of the function being rewritten
    immutable_params: set[str]  # those given None or a Python number (nothing of theirs can change)
    in_loop: int  # > 0 while a loop body is rewritten (fixed_point)
    returns: list[Val]  # the Vals of the returns met so far
    return_sites: list[tuple[ast.AST, Val]]  # (node, Val) of each return
    ret_target: Val | None  # the Val every return is promoted to (when some are batched)
    unmapped_params: set[str]
    followed: dict[int, ast.AST]  # argument nodes whose lists a callee changed (nesting.follow_given)
    given_changed: set[str]  # parameters whose caller's list this rewrite changes (follows_given)
    born_batched: frozenset[str]  # names batched where they are bound (stores.py, ExpandAtBirth)
    local_names: set[str]  # the names the function binds (parameters included)
    held_reads: set[str]  # names the held right side of the tuple store being rewritten reads
    consumed: int  # how many statements the last region took (region_loop.py)

    if TYPE_CHECKING:
        # Vectorizer (vectorize.py)
        def block(self, stmts: list[ast.stmt]) -> list[ast.stmt]: ...

        def stmt(self, node: ast.stmt) -> list[ast.stmt]: ...

        def merge(
            self, paths: list[tuple[dict[str, Val], list[ast.stmt]]], dead: frozenset[str] = frozenset()
        ) -> dict[str, Val]: ...

        def dead_after(self, node: ast.AST) -> frozenset[str]: ...

        # RegionLoopMixin (region_loop.py)
        def reads_batch(self, node: ast.AST) -> bool: ...

        def from_outside(self, name: str) -> bool: ...

        def refuse_outside_store(self, target: ast.Subscript | ast.Attribute) -> None: ...

        # StoresMixin (stores.py)
        def bind_target(self, target: ast.expr, value: Operand, store_only: bool = False) -> ast.expr: ...

        def binding_seen(self, target: ast.Name, val: Val) -> None: ...

        def expand(self, name: str, why: ast.AST) -> list[ast.stmt]: ...

        def element_copy(self, user: ast.Subscript, value: Operand) -> Operand: ...

        def may_hold_buffer(self, name: str, v: Val | None, after: ast.AST | None = None) -> bool: ...

        def augments_in_place(self, name: str, v: Val | None, at: ast.AST | None = None) -> bool: ...

        def out_call(self, node: ast.Call) -> Operand | None: ...

        def expand_written_argument(self, node: ast.Call) -> None: ...

        # LoopsMixin (loops.py)
        def promote_env(self, target: dict[str, Val]) -> list[ast.stmt]: ...

        # ExpressionsMixin (expressions.py)
        def expr(self, node: ast.expr) -> Operand: ...

        def exprs(self, nodes: list[ast.expr]) -> list[Operand]: ...

        def iteration(self, it: Operand, node: ast.expr) -> tuple[ast.expr, Val]: ...

        # ControlFlowMixin (controlflow.py)
        def code_name(self, name: str) -> str: ...

        def store_name(self, name: str) -> str: ...

        def live_after(self, node: ast.AST) -> frozenset[str]: ...

        def truthy(self, test: Operand, node: ast.expr) -> ast.expr: ...

        def changes_forbidden(self, body: list[ast.stmt], allow_items: bool = False) -> ast.AST | None: ...

        def batched_ifexp(self, node: ast.IfExp, test: Operand) -> Operand: ...

        def check_select_aliasing(self, name: str, va: Val, vb: Val) -> None: ...

        def bool_fast_path(self, node: ast.BoolOp, values: list[Operand]) -> Operand | None: ...

        # PartitionMixin (partition.py), WhileMixin (while_loop.py), WritesMixin (writes.py)
        def partitioned_if(self, node: ast.If, test: Operand) -> list[ast.stmt]: ...

        def batched_while(self, node: ast.While, test: Operand) -> list[ast.stmt]: ...

        def per_lane_index(self, index: Operand) -> ast.Tuple | None: ...

        def setitem(self, target: ast.Subscript, value: Operand) -> tuple[ast.expr, ast.expr]: ...

        def masked_write(self, target: ast.Subscript, value: Operand, node: ast.AST) -> list[ast.stmt]: ...

        def promote_written_arrays(self, body: list[ast.stmt]) -> None: ...

        def buffer(self, name: str) -> tuple[str, list[tuple[str, str, ast.expr]]]: ...

        def reborrow(self, name: str) -> list[ast.stmt]: ...

        # CallsMixin (calls.py)
        def apply(
            self,
            fn: object,
            args: list[Operand],
            kwargs: dict[str, Operand],
            node: ast.AST,
            syntax: ast.AST | None = None,
            method: str | None = None,
            fn_node: ast.expr | None = None,
        ) -> Operand: ...

        def fallback(self, site: CallSite, reason: str, fn_node: ast.expr | None = None) -> Operand: ...

        def attribute_rule(self, node: ast.Attribute, base: Operand) -> Operand: ...

        def static_attribute(self, new: ast.expr, obj: Any, attr: str) -> Operand: ...

        def known_length(self, op: Operand) -> int | None: ...

        def truth_of(self, op: Operand) -> bool | None: ...

        def test(self, node: ast.expr) -> Operand: ...

        def items_read(self, op: Operand) -> Val: ...

        def forget_items(
            self, node: ast.expr, removes_only: bool = False, added: Val | None = None
        ) -> None: ...

        def forget_given(self, given: list[Operand], changes_containers: Callable[[], bool]) -> None: ...

        def forget_holders(self, name: str) -> None: ...

        def check_unbatched_call(self, fn: Any, args: list[Operand], kwargs: dict[str, Operand]) -> None: ...

        def call_object(
            self,
            obj: object,
            fn_node: ast.expr,
            args: list[Operand],
            kwargs: dict[str, Operand],
            node: ast.AST,
        ) -> Operand: ...

        def held_before(self, name: str) -> bool: ...

        def touch_calls_in(self, body: list[ast.stmt]) -> None: ...

        def escapes_here(self, name: str) -> bool: ...

        # Vectorizer (vectorize.py)
        def held_elsewhere(self, name: str) -> bool: ...

        def caller_holds(self, name: str) -> bool: ...

        def follows_given(self, name: str) -> bool: ...

        def follow_given(
            self,
            changed: dict[str, Val],
            src: FunctionSource,
            args: list[Operand],
            kwargs: dict[str, Operand],
            lead: int,
        ) -> None: ...

        # ObjectsMixin (objects.py)
        def construct(
            self, cls: type, args: list[Operand], kwargs: dict[str, Operand], node: ast.AST
        ) -> Operand | None: ...

        def object_store(self, target: ast.Attribute, value: Operand) -> ast.expr: ...

        def object_method(
            self, node: ast.AST, base: Operand, attr: str, args: list[Operand], kwargs: dict[str, Operand]
        ) -> Operand | None: ...

        def object_attribute(self, node: ast.Attribute, base: Operand) -> Operand | None: ...

        def object_item(self, node: ast.Subscript, base: Operand, index: Operand) -> Operand | None: ...

        # NestingMixin (nesting.py)
        def bound_params(
            self, src: FunctionSource, args: list[Operand], kwargs: dict[str, Operand], node: ast.AST
        ) -> dict[str, Val]: ...

        def lift(self, local: LocalFunction) -> tuple[FunctionSource, list[str]]: ...

        def nested_call(
            self, node: ast.AST, inner: InnerVmap, args: list[Operand], kwargs: dict[str, Operand]
        ) -> Operand: ...
