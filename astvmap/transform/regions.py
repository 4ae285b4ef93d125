"""Regions: a block of the user's code that runs on some lanes only, and the one skeleton that rewrites it.

NOTE [regions]: three kinds of code run on part of the batch, and each is a `Region` entered with
`RegionsMixin.entered` (which scopes the walker's env, renames, the current region and, where the
region compacts its lanes, the batch size's name) and rewritten by `on_lanes` with a strategy:

- "masked" (`controlflow.MaskedBranch`): a branch of a batched `if`. Every lane computes; the branch's
  stores are selected per lane afterwards; where the branch may fault, lanes outside it borrow an
  active lane's values. Its `mask` is the branch's lanes, enclosing masks included.
- "gathered" (`partition.GatheredBranch`): `if c:  # astvmap: partition`. The branch's lanes are
  gathered (`x_then = x[lanes_then]`) and the branch runs on them: inside, the batch is their count.
- "active" (`while_loop.ActiveLanes`): one iteration of a `while` on a batched test, on the active
  lanes (gathered, or masked where an enclosing vmap batches the code again).

Inside a region a store to user name `y` writes a region-local name (`y_then`, `stores`); the code
after the region decides what `y` is (a select, a merge, a put back).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

from .walker import Walker

if TYPE_CHECKING:
    from ..rules.values import Val
    from .context import Mark

RegionKind = Literal["masked", "gathered", "active"]


@dataclass(eq=False)
class Region:
    """A block run on some lanes (NOTE [regions]).

    `stores`: user name -> the region-local name its stores write. `starts`: a name some path through
    the region may not store starts as its code name from before the region (every path then leaves the
    region's name bound to the right value). `borrowed`: user name -> (the copy a masked branch
    borrowed, its lanes). `depth`: `len(walker.at)` where the region starts (None: every store is
    named before the body runs). After the region: `env` (the Vals its body leaves), `code`, and
    `inner_batch` (the name its body gave its own batch size, for a region that `compacts` its lanes)."""

    kind: RegionKind
    suffix: str
    mask: ast.expr | None = None
    parent: Region | None = None
    outer: dict[str, str] = field(default_factory=dict)
    stores: dict[str, str] = field(default_factory=dict)
    starts: dict[str, str] = field(default_factory=dict)
    borrowed: dict[str, tuple[str, ast.expr]] = field(default_factory=dict)
    depth: int | None = None
    before: frozenset[str] = frozenset()
    env: dict[str, Val] = field(default_factory=dict)
    code: list[ast.stmt] = field(default_factory=list)
    inner_batch: str | None = None
    compacts: bool = False  # the body runs on fewer lanes than the code around it: its batch is theirs

    def chain(self) -> Iterator[Region]:
        """This region and the masked regions it is nested in, innermost first."""
        r: Region | None = self
        while r is not None:
            yield r
            r = r.parent


class LaneStrategy(Protocol):
    """How a region's body runs on its lanes: `region` builds it (before the walker enters it), `enter`
    emits what the body reads first (borrowed or gathered values), `run` rewrites the body, and `leave`
    (after the walker left it) wraps the code: guards, put-backs, the first values of `starts`."""

    def region(self, walker: RegionsMixin) -> Region: ...

    def enter(self, walker: RegionsMixin, region: Region) -> list[ast.stmt]: ...

    def run(self, walker: RegionsMixin, region: Region) -> list[ast.stmt]: ...

    def leave(
        self, walker: RegionsMixin, region: Region, pre: list[ast.stmt], code: list[ast.stmt]
    ) -> list[ast.stmt]: ...


class RegionsMixin(Walker):
    region: Region | None  # the innermost region being rewritten (None: every lane runs)

    def on_lanes(self, strategy: LaneStrategy) -> Region:
        """Rewrite a block with `strategy` (NOTE [regions]); the region carries its code and env."""
        region = strategy.region(self)
        with self.entered(region):
            pre = strategy.enter(self, region)
            code = strategy.run(self, region)
        region.code = strategy.leave(self, region, pre, code)
        return region

    @contextmanager
    def entered(self, region: Region) -> Iterator[Region]:
        """The walker inside `region`: env and renames are the region's own copies, stores write the
        region's names, and a compacting region's body names its own batch size. Everything is restored
        on the way out; `region.env` keeps the Vals the body left, the region's names are released."""
        ctx = self.ctx
        saved = (self.env, self.renames, self.region, ctx.batch_name)
        self.env, self.renames, self.region = dict(self.env), dict(self.renames), region
        if region.compacts:
            ctx.batch_name = None
        self.masked += 1
        try:
            yield region
        finally:
            self.masked -= 1
            region.env = self.env
            if region.compacts:
                region.inner_batch = ctx.batch_name
            ctx.release(region.stores.values())
            self.env, self.renames, self.region = saved[:3]
            if region.compacts:
                ctx.batch_name = saved[3]

    def checkpoint(self) -> Checkpoint:
        """What `restore` needs to rewrite a statement again from here (loops.with_jumps_lowered)."""
        ctx = self.ctx
        return Checkpoint(dict(self.env), dict(self.renames), list(self.returns), ctx.mark())

    def restore(self, mark: Checkpoint) -> None:
        self.env, self.renames, self.returns = dict(mark.env), dict(mark.renames), list(mark.returns)
        self.ctx.rollback(mark.rewrite, pending=True)


@dataclass(frozen=True)
class Checkpoint:
    """The walker's state before a statement: its env, renames and returns, and where the rewrite stood
    (`Context.mark`)."""

    env: dict
    renames: dict
    returns: list
    rewrite: Mark
