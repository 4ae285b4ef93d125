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

from .cfg import Graph

Def = tuple[str, int]  # (name, index of the node that binds it)


def liveness(g: Graph) -> tuple[list[frozenset[str]], list[frozenset[str]]]:
    """(live_in, live_out) per node index."""
    live_in: list[frozenset[str]] = [frozenset()] * len(g.nodes)
    live_out: list[frozenset[str]] = [frozenset()] * len(g.nodes)
    work = deque(reversed(g.nodes))
    queued = {n.index for n in g.nodes}
    while work:
        n = work.popleft()
        queued.discard(n.index)
        out = frozenset().union(*(live_in[s.index] for s in n.succ))
        new = frozenset(n.act.reads) | (out - n.kills)
        live_out[n.index] = out
        if new != live_in[n.index]:
            live_in[n.index] = new
            for p in n.pred:
                if p.index not in queued:
                    queued.add(p.index)
                    work.append(p)
    return live_in, live_out


def reaching(g: Graph) -> list[frozenset[Def]]:
    """The definitions reaching the start of each node, by node index."""
    reach_in: list[frozenset[Def]] = [frozenset()] * len(g.nodes)
    reach_out: list[frozenset[Def]] = [frozenset()] * len(g.nodes)
    work = deque(g.nodes)
    queued = {n.index for n in g.nodes}
    while work:
        n = work.popleft()
        queued.discard(n.index)
        into = frozenset().union(*(reach_out[p.index] for p in n.pred))
        reach_in[n.index] = into
        out = frozenset(d for d in into if d[0] not in n.kills) | {(name, n.index) for name in n.kills}
        if out != reach_out[n.index]:
            reach_out[n.index] = out
            for s in n.succ:
                if s.index not in queued:
                    queued.add(s.index)
                    work.append(s)
    return reach_in
