"""Liveness and reaching definitions over a `cfg.Graph`: the classic iterative data-flow problems.

Liveness (backward, may): a name is live at a point when some path from there reads it before
rebinding it. `live_in(n) = reads(n) | (live_out(n) - kills(n))`, `live_out(n) = union of live_in(succ)`.

    s = 0.0             live after: {s, x, n}
    for i in range(n):  live after the loop: {s}; `i` is not live after it (never read after)
        s = s + x[i]
    return s

Reaching definitions (forward, may): a definition (name, node) reaches a point when some path from it
to there does not rebind the name. `out(n) = defs(n) | (in(n) - killed(n))`.

Guarantees: the least fixed points (the sets only grow, so the worklists end).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from .cfg import Graph, Node

Def = tuple[str, int]  # (name, index of the node that binds it)


def liveness(g: Graph) -> tuple[list[frozenset[str]], list[frozenset[str]]]:
    """(live_in, live_out) per node index."""

    def transfer(n: Node, out: frozenset[str]) -> frozenset[str]:
        return frozenset(n.act.reads) | (out - n.kills)

    return _solve(g, backward=True, transfer=transfer)


def reaching(g: Graph) -> list[frozenset[Def]]:
    """The definitions reaching the start of each node, by node index."""

    def transfer(n: Node, into: frozenset[Def]) -> frozenset[Def]:
        return frozenset(d for d in into if d[0] not in n.kills) | {(name, n.index) for name in n.kills}

    return _solve(g, backward=False, transfer=transfer)[0]


def _solve(g: Graph, backward: bool, transfer: Callable[[Node, frozenset], frozenset]):
    """The least fixed point of a may-problem (union at joins), by a worklist: (facts where each node's
    transfer ends, facts where it starts) for a backward problem, (at its start, at its end) forward."""
    after: list[frozenset] = [frozenset()] * len(g.nodes)  # the transfer's result per node
    before: list[frozenset] = [frozenset()] * len(g.nodes)  # the join feeding it
    work = deque(reversed(g.nodes) if backward else g.nodes)
    queued = {n.index for n in g.nodes}
    while work:
        n = work.popleft()
        queued.discard(n.index)
        feeders, dependents = (n.succ, n.pred) if backward else (n.pred, n.succ)
        before[n.index] = frozenset().union(*(after[f.index] for f in feeders))
        new = transfer(n, before[n.index])
        if new != after[n.index]:
            after[n.index] = new
            for d in dependents:
                if d.index not in queued:
                    queued.add(d.index)
                    work.append(d)
    return (after, before) if backward else (before, after)
