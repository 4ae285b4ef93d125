"""A random program generator for fuzzing ``astvmap.vmap`` against the per-example loop.

``generate(seed) -> (source_text, func_name, arg_specs)`` writes a random but valid per-example NumPy
function ``f(x, m, s, i)`` (plus, sometimes, helper functions it calls) as module source text:

- ``x``: a vector ``(n,)``; ``m``: a matrix ``(n, k)`` (``k`` may equal ``n``); ``s``: a scalar;
  ``i``: a small non-negative int (``i < min(n, k)``, so ``x[i]``, ``m[i]`` and ``m[:, i]`` are valid).
- 2-8 statements: assignments of expressions (``+ - * /`` with guarded denominators, ``**2``, ufuncs,
  reductions with a random ``axis``/``keepdims``, ``dot``/``@``/``outer``/``einsum``, indexing with
  constants, slices and the batched int ``i``, ``np.where``, ``reshape``/``transpose``/``.T``, ternaries,
  ``and``/``or`` of scalars); ``if``/``else`` on a per-example scalar condition; ``for j in range(R)``
  accumulations and list building with ``append`` + ``np.array``; capped ``while`` loops on a per-example
  condition; calls to helper functions of the same module; tuple returns.

With ``extra=("stores",)`` statements may also write into arrays, never into the arguments (a local copy
first: ``y = x.copy()``, ``m.copy()``, ``np.zeros(S)``, ``(expr).copy()``...): view names of them
(``r = y[1:3]``, ``y[::-1]``, ``y.T``, ``y[0]``, ``y[:, j]``) written through (``r[0] = e``, ``r += e``) and
through their base; item stores with constant, loop-counter and batched ``i`` indices and slices; tuple item
stores (``y[0], y[1] = y[1], y[0]``), chained item stores (``y[0] = y[1] = e``); element reads ``t = y[0]``
then ``t += 1.0``; tuple targets of names (``a, b = e1, e2``, swaps and rotations, ``a, b = b, a + e``, two
views at once, nested ``a, (b, c) = ...``, unpacking a tuple built inline or returned by a helper that may
write into a copy of its argument); chained names (``a = b = np.zeros(S)`` written through one, read
through the other; ``a = b = y[1:]``); all of it also under per-example ``if``/``else`` and inside
``for j in range(R)``; the returns then often include the arrays written into and the views.
Which names may be written into is tracked: a name rebound by an ordinary statement (which may make it an
alias of an argument) is not written through afterwards.

Shapes are tracked exactly (``n`` and ``k`` are concrete), so every program is valid per example;
``generate`` also runs the program once on random arguments and retries with another sub-seed if it
raises.

``run_case(seed, tmpdir, ...)`` writes the module to a file, imports it (astvmap needs real source),
builds random batched arguments with random ``in_axes`` (mapped or ``None``, batch axis anywhere,
negative too) and batch sizes from {0, 1, 3, 7, n}, and compares ``astvmap.vmap`` with the loop through
``oracle.assert_vmap_equivalent``.
"""

from __future__ import annotations

import importlib.util
import os
import random
import sys
import warnings

import numpy as np

import astvmap

__all__ = ["choose_configs", "generate", "load", "make_args", "run_case", "run_nested"]

_UNARY = [
    "np.tanh({})",
    "np.sin({})",
    "np.abs({})",
    "np.sqrt(np.abs({}))",
    "np.exp(np.tanh({}))",
    "np.exp({})",
]
_REDUCE = ["np.sum", "np.mean", "np.max"]


def _fmt(c):
    return f"({c!r})" if c < 0 else repr(c)


class _Gen:
    def __init__(self, seed, avoid=(), extra=()):
        self.avoid = frozenset(avoid)
        self.extra = frozenset(extra)
        r = self.r = random.Random(seed)
        self.n = r.choice([2, 3, 4, 5])
        self.k = r.choice([self.n, self.n, 2, 3, 4])
        self.imax = min(self.n, self.k)
        self.env = {}  # name -> per-example shape (tuple of ints), float or int data
        self.ints = {}  # name -> bound: non-negative ints usable as indices (value < bound)
        self.helpers = []  # helper function sources
        self.nvar = 0
        self.nhelp = 0
        self.in_helper = False
        self.loop_depth = 0
        # "stores": names bound to arrays (ndim >= 1) that alias no argument, so they may be written into;
        # names written into (or whose buffer was), for the returns; a view name's base
        self.wr = set()
        self.written = []
        self.base = {}

    # ------------------------------------------------------------------ shapes

    def pool(self):
        n, k = self.n, self.k
        return [(), (), (n,), (n,), (k,), (n, k), (n, n), (k, n)]

    def depth(self):
        return self.r.choice([1, 2, 2, 3])

    def fresh(self, prefix="v"):
        self.nvar += 1
        return f"{prefix}{self.nvar}"

    # ------------------------------------------------------------------ leaves

    def const(self):
        r = self.r
        if r.random() < 0.2:
            return _fmt(r.choice([1, 2, 3, -1]))
        return _fmt(round(r.uniform(-2.0, 2.0), 2))

    def index_for(self, length, in_tuple=False):
        """A constant or an int variable that is a valid index into an axis of this length."""
        r = self.r
        cands = [nm for nm, b in self.ints.items() if b <= length]
        if in_tuple and "tuple_int_index" in self.avoid:
            cands = []
        if cands and r.random() < 0.5:
            nm = r.choice(cands)
            if r.random() < 0.15:
                return f"(-1 - {nm})"
            return nm
        c = r.randrange(length)
        if r.random() < 0.3:
            c = c - length  # negative constant index
        return str(c)

    def leaf(self, S):
        r = self.r
        cands = []
        for nm, sh in self.env.items():
            if sh == S:
                cands += [nm] * 3
            if len(sh) == 1:
                L = sh[0]
                if S == ():
                    cands.append(f"{nm}[{self.index_for(L)}]")
                elif len(S) == 1:
                    if S[0] + 1 == L:
                        cands.append(r.choice([f"{nm}[1:]", f"{nm}[:-1]"]))
                    if S[0] == L:
                        cands.append(f"{nm}[::-1]")
                elif len(S) == 2 and S == (L, 1):
                    cands.append(
                        r.choice([f"{nm}[:, None]", f"{nm}.reshape({L}, 1)", f"{nm}.reshape(-1, 1)"])
                    )
                elif len(S) == 2 and S == (1, L):
                    cands.append(r.choice([f"{nm}[None, :]", f"{nm}.reshape(1, -1)"]))
                elif len(S) == 2 and S[0] * S[1] == L:
                    cands.append(f"{nm}.reshape({S[0]}, {S[1]})")
            elif len(sh) == 2:
                R, C = sh
                if S == ():
                    cands.append(f"{nm}[{self.index_for(R, True)}, {self.index_for(C, True)}]")
                elif len(S) == 1:
                    if S[0] == R:
                        cands.append(f"{nm}[:, {self.index_for(C, True)}]")
                    if S[0] == C:
                        cands.append(f"{nm}[{self.index_for(R)}]")
                    if S[0] == R * C:
                        cands.append(r.choice([f"{nm}.reshape(-1)", f"{nm}.ravel()", f"{nm}.flatten()"]))
                    if S[0] == C - 1:
                        cands.append(f"{nm}[{self.index_for(R, True)}, 1:]")
                elif len(S) == 2:
                    if S == (C, R):
                        cands.append(r.choice([f"{nm}.T", f"np.transpose({nm})", f"{nm}.transpose()"]))
                    if S[0] * S[1] == R * C and sh != S:
                        cands.append(f"{nm}.reshape({S[0]}, {S[1]})")
                    if S == (R - 1, C):
                        cands.append(f"{nm}[1:]")
                    if S == (R, C - 1):
                        cands.append(f"{nm}[:, :-1]")
        if S == ():
            cands += [self.const()] * 2
        if not cands:
            sc = self.leaf(())
            return r.choice(
                [f"(np.ones({S}) * {sc})", f"np.full({S}, {self.const()})", f"(np.zeros({S}) + {sc})"]
            )
        return r.choice(cands)

    # ------------------------------------------------------------------ expressions

    def bexpr(self, S, d):
        """An expression whose shape broadcasts to S (without changing it)."""
        r = self.r
        opts = ["same", "scalar"]
        if len(S) == 2:
            opts += ["row", "keep_last", "keep_first", "col"]
        if len(S) == 1:
            opts += ["keep1"]
        o = r.choice(opts)
        if o == "same":
            return self.expr(S, d)
        if o == "scalar":
            return self.expr((), d)
        if o == "row":
            return self.expr(S[1:], d)
        if o == "col":
            return f"{self.expr((S[0],), d)}[:, None]"
        red = r.choice(_REDUCE)
        if o == "keep_last":
            c = r.choice([self.n, self.k])
            return f"{red}({self.expr((S[0], c), d)}, axis={r.choice(['-1', '1'])}, keepdims=True)"
        if o == "keep_first":
            c = r.choice([self.n, self.k])
            return f"{red}({self.expr((c, S[1]), d)}, axis=0, keepdims=True)"
        # keep1: a (1,) vector
        c = r.choice([self.n, self.k])
        ax = r.choice(["None", "0", "-1"])
        return f"{red}({self.expr((c,), d)}, axis={ax}, keepdims=True)"

    def cond(self, d=1):
        r = self.r
        u = r.random()
        if u < 0.15 and d > 0:
            return f"({self.cond(d - 1)} {r.choice(['and', 'or'])} {self.cond(d - 1)})"
        if u < 0.2 and d > 0:
            return f"(not {self.cond(d - 1)})"
        opts = [self.leaf(()), self.expr((), 1)]
        if not self.in_helper:
            opts += ["s", "np.sum(x)", f"x[{self.index_for(self.n)}]", "np.max(m)", "np.mean(x)"]
        a = r.choice(opts)
        op = r.choice([">", "<", ">=", "<="])
        b = r.choice(["0", "0.0", self.const(), self.leaf(())])
        return f"{a} {op} {b}"

    def expr(self, S, d):
        r = self.r
        if d <= 0 or r.random() < 0.25:
            return self.leaf(S)
        d1 = d - 1
        kinds = (
            ["bin"] * 4
            + ["unary"] * 2
            + ["div", "pow", "where", "ternary", "reduce", "reduce", "contract", "contract", "shape"]
        )
        if not self.in_helper and self.nhelp < 2:
            kinds.append("helper")
        if S == ():
            kinds += ["andor"]
        kind = r.choice(kinds)
        if kind == "bin":
            op = r.choice(["+", "-", "*"])
            a, b = self.expr(S, d1), self.bexpr(S, d1)
            if r.random() < 0.5:
                a, b = b, a
            return f"({a} {op} {b})"
        if kind == "unary":
            return r.choice(_UNARY).format(self.expr(S, d1))
        if kind == "div":
            return f"({self.expr(S, d1)} / (1.0 + {self.bexpr(S, d1)} * {self.bexpr(S, d1)}))"
        if kind == "pow":
            return f"({self.expr(S, d1)} ** 2)"
        if kind == "where":
            return f"np.where({self.expr(S, d1)} > {self.const()}, {self.expr(S, d1)}, {self.bexpr(S, d1)})"
        if kind == "ternary":
            return f"({self.expr(S, d1)} if {self.cond()} else {self.expr(S, d1)})"
        if kind == "andor":
            if r.random() < 0.5:
                return f"({self.cond(0)} and {self.expr((), d1)})"
            return f"({self.expr((), d1)} {r.choice(['and', 'or'])} {self.expr((), d1)})"
        if kind == "reduce":
            return self.reduce_to(S, d1)
        if kind == "contract":
            return self.contract_to(S, d1)
        if kind == "shape":
            return self.shape_to(S, d1)
        if kind == "helper":
            return self.helper_call(S, d1)
        raise AssertionError(kind)

    def reduce_to(self, S, d):
        r = self.r
        red = r.choice(_REDUCE)
        meth = r.random() < 0.2
        c = r.choice([self.n, self.k])
        if S == ():
            src = r.choice([(), (c,), (self.n, self.k), (c,)])
            if src and r.random() < 0.5 and len(src) == 1:
                ax = r.choice(["0", "-1"])
            else:
                ax = "None"
            if meth and src != ():  # a Python float has no .sum()
                e = self.expr(src, d)
                return f"({e}).{red[3:]}()" if ax == "None" else f"({e}).{red[3:]}(axis={ax})"
            if ax == "None" and r.random() < 0.5:
                return f"{red}({self.expr(src, d)})"
            return f"{red}({self.expr(src, d)}, axis={ax})"
        if len(S) == 1:
            if r.random() < 0.5:
                src, ax = (S[0], c), r.choice(["-1", "1"])
            else:
                src, ax = (c, S[0]), r.choice(["0", "-2"])
            if meth:
                return f"({self.expr(src, d)}).{red[3:]}(axis={ax})"
            return f"{red}({self.expr(src, d)}, axis={ax})"
        # 2-d: keepdims reductions broadcast back
        return f"({self.expr(S, d)} - {red}({self.expr(S, d)}, axis={r.choice(['0', '-1', 'None'])}, keepdims=True))"

    def contract_to(self, S, d):
        r = self.r
        c = r.choice([self.n, self.k])
        if S == ():
            a, b = self.expr((c,), d), self.expr((c,), d)
            return r.choice(
                [
                    f"np.dot({a}, {b})",
                    f"({a} @ {b})",
                    f"np.einsum('i,i->', {a}, {b})",
                    f"np.sum({a} * {b})",
                    f"np.vdot({a}, {b})",
                    f"np.inner({a}, {b})",
                ]
            )
        if len(S) == 1:
            if r.random() < 0.5:
                M, v = self.expr((S[0], c), d), self.expr((c,), d)
                return r.choice(
                    [
                        f"({M} @ {v})",
                        f"np.dot({M}, {v})",
                        f"np.einsum('ij,j->i', {M}, {v})",
                        f"np.matmul({M}, {v})",
                    ]
                )
            M, v = self.expr((c, S[0]), d), self.expr((c,), d)
            return r.choice(
                [f"({v} @ {M})", f"np.dot({v}, {M})", f"np.einsum('j,ji->i', {v}, {M})", f"({M}.T @ {v})"]
            )
        R, C = S
        u = r.random()
        if u < 0.4:
            a, b = self.expr((R,), d), self.expr((C,), d)
            return r.choice(
                [
                    f"np.outer({a}, {b})",
                    f"np.einsum('i,j->ij', {a}, {b})",
                    f"({a}[:, None] * {b}[None, :])",
                    f"({a}[:, None] * {b})",
                ]
            )
        A, B = self.expr((R, c), d), self.expr((c, C), d)
        return r.choice(
            [f"({A} @ {B})", f"np.dot({A}, {B})", f"np.einsum('ij,jk->ik', {A}, {B})", f"np.matmul({A}, {B})"]
        )

    def shape_to(self, S, d):
        r = self.r
        if S == ():
            return self.leaf(())
        if len(S) == 1:
            L = S[0]
            o = r.random()
            if o < 0.4:
                return f"{self.expr((L, 1), d)}.reshape(-1)"
            if o < 0.7:
                return f"{self.expr((1, L), d)}[0]"
            return f"{self.expr(S, d)}[::-1]"
        R, C = S
        o = r.random()
        if o < 0.4:
            return r.choice([f"{self.expr((C, R), d)}.T", f"np.transpose({self.expr((C, R), d)})"])
        if o < 0.7:
            return f"{self.expr((R * C,), d)}.reshape({R}, {C})"
        return f"np.reshape({self.expr((C, R), d)}, ({R}, {C}))"

    # ------------------------------------------------------------------ helpers

    def helper_call(self, S, d):
        r = self.r
        self.nhelp += 1
        name = f"helper{self.nhelp}"
        SA = r.choice(self.pool())
        saved = (self.env, self.ints, self.in_helper)
        self.env, self.ints, self.in_helper = {"a": SA, "b": ()}, {}, True
        lines = [f"def {name}(a, b):"]
        for _ in range(r.randint(0, 2)):
            T = r.choice(self.pool())
            v = self.fresh("t")
            lines.append(f"    {v} = {self.expr(T, 2)}")
            self.env[v] = T
        if r.random() < 0.3:
            lines.append(f"    if {self.cond(0)}:")
            lines.append(f"        return {self.expr(S, 2)}")
        lines.append(f"    return {self.expr(S, 2)}")
        self.env, self.ints, self.in_helper = saved
        self.helpers.append("\n".join(lines))
        return f"{name}({self.expr(SA, d)}, {self.expr((), d)})"

    # ------------------------------------------------------------------ statements

    def assign(self, ind, new=True):
        r = self.r
        if not new and self.env:
            v = r.choice(sorted(self.env))
            if v in ("x", "m", "s") and r.random() < 0.7:
                v = None
            if v is not None:
                self.wr.discard(v)  # may now alias an argument
                return [f"{ind}{v} = {self.expr(self.env[v], self.depth())}"], v
        S = r.choice(self.pool())
        v = self.fresh()
        line = f"{ind}{v} = {self.expr(S, self.depth())}"
        self.env[v] = S
        return [line], v

    def stmt(self, ind, depth):
        r = self.r
        u = r.random()
        if "jumps" in self.extra and depth == 0 and r.random() < 0.35:
            return self.for_jump(ind) if r.random() < 0.7 else self.while_jump(ind)
        if "stores" in self.extra and r.random() < (0.55 if depth == 0 else 0.4):
            return self.store_stmt(ind, depth)
        if depth >= 1 or u < 0.45:
            return self.assign(ind, new=r.random() < 0.7)[0]
        if u < 0.65:
            return self.if_stmt(ind, depth)
        if u < 0.77:
            return self.for_acc(ind, depth)
        if u < 0.87:
            return self.for_list(ind)
        return self.while_stmt(ind)

    def if_stmt(self, ind, depth):
        r = self.r
        lines = [f"{ind}if {self.cond()}:"]
        outs = []
        nout = r.randint(1, 2)
        for _ in range(nout):
            if self.env and r.random() < 0.4:
                v = r.choice(sorted(self.env))
                outs.append((v, self.env[v], False))
            else:
                outs.append((self.fresh(), r.choice(self.pool()), True))
        for v, _, _ in outs:
            self.wr.discard(v)  # may now alias an argument, in the body already
        before = dict(self.env)
        for v, S, _ in outs:
            lines.append(f"{ind}    {v} = {self.expr(S, self.depth())}")
        if r.random() < 0.3:
            lines += self.stmt(ind + "    ", depth + 1)
        self.env = dict(before)
        if r.random() < 0.15 and all(not new for _, _, new in outs):
            pass  # no else: only pre-existing names are assigned
        else:
            lines.append(f"{ind}else:")
            for v, S, _ in outs:
                lines.append(f"{ind}    {v} = {self.expr(S, self.depth())}")
        for v, S, _ in outs:
            self.env[v] = S
        return lines

    def for_acc(self, ind, depth):
        r = self.r
        R = r.randint(1, 3) if r.random() < 0.7 else self.imax
        R = min(R, self.imax)
        S = r.choice([(), (), (self.n,), (self.k,), (self.n, self.k)])
        acc = self.fresh("acc")
        init = "0.0" if S == () and r.random() < 0.6 else f"np.zeros({S})"
        if S == () and r.random() < 0.3:
            init = "s"
        j = self.fresh("j")
        lines = [f"{ind}{acc} = {init}", f"{ind}for {j} in range({R}):"]
        self.env[acc] = S
        self.ints[j] = R
        self.env[j] = ()
        term = self.expr(S, 2)
        u = r.random()
        if u < 0.3:
            term = f"x[{j}] * s" if S == () else f"x[{j}] * {self.expr(S, 1)}"
        elif u < 0.5:
            term = f"{self.leaf(())} * {term}"
        lines.append(f"{ind}    {acc} = {acc} + {term}")
        if r.random() < 0.25:
            lines += self.stmt(ind + "    ", depth + 1)
        del self.ints[j]
        del self.env[j]
        return lines

    def for_jump(self, ind):
        """An accumulation whose loop may `break` or `continue` per example; its counter may be read
        after the loop (then it holds where each example stopped)."""
        r = self.r
        R = min(r.randint(1, 4), self.imax)
        acc, j = self.fresh("acc"), self.fresh("j")
        lines = [f"{ind}{acc} = {r.choice(['0.0', 's'])}", f"{ind}for {j} in range({R}):"]
        self.ints[j] = R
        self.env[j] = ()
        self.env[acc] = ()
        if r.random() < 0.3:
            lines += self.assign(ind + "    ")[0]
        jump = r.choice(["break", "break", "continue"])
        lines += [f"{ind}    if {self.cond()}:", f"{ind}        {jump}"]
        lines.append(f"{ind}    {acc} = {acc} + x[{j}] * {self.expr((), 1)}")
        if r.random() < 0.3:
            lines += [f"{ind}    if {self.cond()}:", f"{ind}        {r.choice(['break', 'continue'])}"]
        del self.ints[j]
        if r.random() < 0.5:
            del self.env[j]  # not read after the loop
        else:
            self.ints[j] = R  # a counter read after its loop (the loop always runs: R >= 1)
        return lines

    def while_jump(self, ind):
        """A capped `while` that may `break` per example."""
        r = self.r
        t, kk = self.fresh("t"), self.fresh("k")
        lines = [
            f"{ind}{t} = np.abs({self.expr((), 2)}) * {r.choice(['4.0', '10.0'])}",
            f"{ind}{kk} = 0",
            f"{ind}while {t} > 1.0 and {kk} < 20:",
            f"{ind}    {t} = {t} / 2.0",
            f"{ind}    if {self.cond()}:",
            f"{ind}        break",
            f"{ind}    {kk} = {kk} + 1",
        ]
        self.env[t] = ()
        self.env[kk] = ()
        return lines

    def for_list(self, ind):
        r = self.r
        R = min(r.randint(1, 3), self.imax)
        S = r.choice([(), (), (self.n,), (self.k,)])
        lst = self.fresh("lst")
        j = self.fresh("j")
        self.ints[j] = R
        self.env[j] = ()
        lines = [
            f"{ind}{lst} = []",
            f"{ind}for {j} in range({R}):",
            f"{ind}    {lst}.append({self.expr(S, 2)})",
        ]
        del self.ints[j]
        del self.env[j]
        arr = self.fresh("arr")
        lines.append(f"{ind}{arr} = {r.choice(['np.array', 'np.stack', 'np.asarray'])}({lst})")
        self.env[arr] = (R,) + S
        return lines

    def while_stmt(self, ind):
        r = self.r
        t = self.fresh("t")
        kk = self.fresh("k")
        lines = [
            f"{ind}{t} = np.abs({self.expr((), 2)}) * {r.choice(['4.0', '10.0', '3.0'])}",
            f"{ind}{kk} = 0",
            f"{ind}while {t} > 1.0 and {kk} < 20:",
            f"{ind}    {t} = {t} / 2.0",
            f"{ind}    {kk} = {kk} + 1",
        ]
        self.env[t] = ()
        if r.random() < 0.4:
            vs = [v for v in sorted(self.env) if v not in ("x", "m", "s", t)]
            if vs:
                v = r.choice(vs)
                lines.append(f"{ind}    {v} = {v} * 0.5 + {self.expr(self.env[v], 1)}")
        self.env[kk] = ()
        return lines

    # ------------------------------------------------------------------ stores ("stores" in extra)

    def _writable(self, S=None):
        """Names that may be written into (sorted: a set's order is not reproducible)."""
        return [
            v
            for v in sorted(self.wr)
            if v in self.env and len(self.env[v]) >= 1 and (S is None or self.env[v] == S)
        ]

    def _rebindable(self):
        """Local names a statement may rebind: not an argument, not an int used as an index."""
        return [v for v in sorted(self.env) if v not in ("x", "m", "s", "i") and v not in self.ints]

    def _mark(self, *names):
        for v in names:
            if v not in self.written:
                self.written.append(v)
            b = self.base.get(v)
            if b is not None and b not in self.written:
                self.written.append(b)

    def fresh_arr(self, sh):
        """An expression for a new array of shape sh (ndim >= 1) that aliases nothing: it may be written."""
        r = self.r
        n, k = self.n, self.k
        opts = ["zeros", "ones", "full", "copy", "array"]
        if sh == (n,):
            opts += ["x"] * 4
        if sh == (n, k):
            opts += ["m"] * 4
        if sh == (k, n):
            opts += ["mT"] * 2
        o = r.choice(opts)
        if o == "x":
            return r.choice(
                ["x.copy()", "np.copy(x)", "x[::-1].copy()", "x.astype(np.float64)", "np.array(x)"]
            )
        if o == "m":
            return r.choice(["m.copy()", "np.copy(m)", "np.array(m)", "m.astype(np.float64)"])
        if o == "mT":
            return r.choice(["m.T.copy()", "np.array(m.T)"])
        if o == "zeros":
            return f"np.zeros({sh})"
        if o == "ones":
            return f"np.ones({sh})"
        if o == "full":
            return f"np.full({sh}, {self.expr((), 1)})"
        if o == "copy":
            return f"({self.expr(sh, self.depth())}).copy()"
        return f"np.array({self.expr(sh, self.depth())})"

    def slice_for(self, L):
        """(slice text, length) of a non-empty slice of an axis of length L."""
        opts = [("::-1", L), (":", L), ("::2", (L + 1) // 2)]
        if L >= 2:
            opts += [("1:", L - 1), (":-1", L - 1)]
        if L >= 3:
            opts += [("1:3", 2), ("1:3", 2), ("-2:", 2), ("::-2", (L + 1) // 2)]
        return self.r.choice(opts)

    def view_of(self, w):
        """(text, shape) of a view of the array named w (a basic index that keeps an axis)."""
        r = self.r
        S = self.env[w]
        if len(S) == 1:
            t, L2 = self.slice_for(S[0])
            return r.choice([(f"{w}[{t}]", (L2,))] * 3 + [(f"{w}[::-1]", S), (f"{w}.T", S), (f"{w}[:]", S)])
        R, C = S
        o = r.choice(["T", "row", "row", "col", "rows", "cols", "rev", "Trow"])
        if o == "T":
            return f"{w}.T", (C, R)
        if o == "row":
            return f"{w}[{self.index_for(R)}]", (C,)
        if o == "col":
            return f"{w}[:, {self.index_for(C, True)}]", (R,)
        if o == "rows":
            t, R2 = self.slice_for(R)
            return f"{w}[{t}]", (R2, C)
        if o == "cols":
            t, C2 = self.slice_for(C)
            return f"{w}[:, {t}]", (R, C2)
        if o == "rev":
            return f"{w}[::-1, ::-1]", S
        return f"{w}.T[{self.index_for(C)}]", (R,)

    def target(self, w, form=None):
        """(text, shape, form) of an item-store target in the array named w."""
        r = self.r
        S = self.env[w]
        if form is None:
            forms = (
                ["elem", "elem", "slice", "all"]
                if len(S) == 1
                else ["elem", "row", "row", "col", "rows", "all"]
            )
            form = r.choice(forms)
        if form == "elem":
            if len(S) == 1:
                return f"{w}[{self.index_for(S[0])}]", (), form
            return f"{w}[{self.index_for(S[0], True)}, {self.index_for(S[1], True)}]", (), form
        if form == "row":
            return f"{w}[{self.index_for(S[0])}]", (S[1],), form
        if form == "col":
            return f"{w}[:, {self.index_for(S[1], True)}]", (S[0],), form
        if form in ("slice", "rows"):
            t, L2 = self.slice_for(S[0])
            return f"{w}[{t}]", (L2,) + S[1:], form
        return r.choice([f"{w}[:]", f"{w}[...]"]), S, form

    def same_form(self, w):
        """A target form of w whose shape does not depend on the index."""
        return self.r.choice(["elem"] if len(self.env[w]) == 1 else ["elem", "row", "col"])

    def rhs(self, T, d=None):
        d = self.depth() if d is None else d
        return self.expr((), d) if T == () else self.bexpr(T, d)

    def store_stmt(self, ind, depth):
        r = self.r
        if not self._writable() or r.random() < 0.12:
            lines = self.local_copy(ind)
            if r.random() < 0.6:
                lines += self.inplace(ind, depth)
            return lines
        kinds = ["view", "view", "item", "tuple_item", "chain_item", "aug", "elem"]
        kinds += ["tuple_names", "swap", "unpack", "chain_names"]
        if depth == 0:
            kinds += ["if_block", "if_block", "for_block", "for_block"]
        kind = r.choice(kinds)
        if kind == "view":
            return self.view_stmt(ind, depth)
        if kind == "tuple_names":
            return self.tuple_names(ind, depth)
        if kind == "swap":
            return self.swap_names(ind, depth) or self.item(ind)
        if kind == "unpack":
            return self.unpack(ind, depth)
        if kind == "chain_names":
            return self.chain_names(ind, depth)
        if kind == "if_block":
            return self.if_block(ind, depth)
        if kind == "for_block":
            return self.for_block(ind, depth)
        return self.inplace(ind, depth, kind)

    def local_copy(self, ind):
        S = self.r.choice(self.pool()[2:])
        y = self.fresh("y")
        line = f"{ind}{y} = {self.fresh_arr(S)}"
        self.env[y] = S
        self.wr.add(y)
        return [line]

    def inplace(self, ind, depth, kind=None):
        """A statement that writes into arrays (names it binds are read only after it in its block)."""
        r = self.r
        if not self._writable():
            return []
        kinds = ["item", "item", "item", "tuple_item", "chain_item", "aug", "aug", "elem", "view", "swap"]
        if depth < 2:
            kinds.append("if_block")
        kind = kind or r.choice(kinds)
        if kind == "item":
            return self.item(ind)
        if kind == "tuple_item":
            return self.tuple_item(ind)
        if kind == "chain_item":
            return self.chain_item(ind)
        if kind == "aug":
            return self.aug(ind)
        if kind == "elem":
            return self.elem(ind)
        if kind == "view":
            return self.view_stmt(ind, depth)
        if kind == "swap":
            return self.swap_names(ind, max(depth, 1)) or self.item(ind)
        return self.if_block(ind, depth)

    def item(self, ind):
        w = self.r.choice(self._writable())
        t, T, _ = self.target(w)
        self._mark(w)
        return [f"{ind}{t} = {self.rhs(T)}"]

    def aug(self, ind):
        r = self.r
        w = r.choice(self._writable())
        op = r.choice(["+=", "-=", "*="])
        self._mark(w)
        if r.random() < 0.5:
            return [f"{ind}{w} {op} {self.rhs(self.env[w])}"]
        t, T, _ = self.target(w)
        return [f"{ind}{t} {op} {self.rhs(T)}"]

    def tuple_item(self, ind):
        r = self.r
        ws = self._writable()
        w = r.choice(ws)
        u = r.random()
        if u < 0.45:  # swap within one array: y[0], y[1] = y[1], y[0]
            form = self.same_form(w)
            t1, _, _ = self.target(w, form)
            t2, _, _ = self.target(w, form)
            self._mark(w)
            if r.random() < 0.3:
                return [f"{ind}{t1}, {t2} = {t2}, {t1} * {self.const()}"]
            return [f"{ind}{t1}, {t2} = {t2}, {t1}"]
        w2 = r.choice(ws)
        if u < 0.65:  # elements of two arrays (maybe one a view of the other)
            t1, _, _ = self.target(w, "elem")
            t2, _, _ = self.target(w2, "elem")
            self._mark(w, w2)
            return [f"{ind}{t1}, {t2} = {t2}, {t1}"]
        t1, T1, _ = self.target(w)
        t2, T2, _ = self.target(w2)
        self._mark(w, w2)
        return [f"{ind}{t1}, {t2} = {self.rhs(T1)}, {self.rhs(T2)}"]

    def chain_item(self, ind):
        r = self.r
        ws = self._writable()
        w = r.choice(ws)
        if r.random() < 0.6:
            form = self.same_form(w)
            ts = [self.target(w, form) for _ in range(r.choice([2, 2, 3]))]
            self._mark(w)
        else:
            w2 = r.choice(ws)
            ts = [self.target(w, "elem"), self.target(w2, "elem")]
            self._mark(w, w2)
        return [f"{ind}{' = '.join(t for t, _, _ in ts)} = {self.rhs(ts[0][1])}"]

    def elem(self, ind):
        """`t = y[0]` (a copy), `t += 1.0` rebinds t; sometimes y is written in between."""
        r = self.r
        w = r.choice(self._writable())
        tt, _, _ = self.target(w, "elem")
        t = self.fresh("t")
        lines = [f"{ind}{t} = {tt}"]
        if r.random() < 0.4:
            t2, T2, _ = self.target(w)
            lines.append(f"{ind}{t2} = {self.rhs(T2, 1)}")
            self._mark(w)
        self.env[t] = ()
        lines.append(f"{ind}{t} {r.choice(['+=', '-=', '*='])} {r.choice(['1.0', '2.0', self.expr((), 1)])}")
        self._mark(t)
        return lines

    def view_stmt(self, ind, depth):
        r = self.r
        w = r.choice(self._writable())
        text, S2 = self.view_of(w)
        v = self.fresh("r")
        lines = [f"{ind}{v} = {text}"]
        self.env[v] = S2
        self.wr.add(v)
        self.base[v] = w
        self._mark(v)
        for _ in range(r.choice([0, 1, 1, 2])):
            if r.random() < 0.2:
                lines += [f"{ind}{v} {r.choice(['+=', '-=', '*='])} {self.rhs(S2)}"]
            else:
                ww = v if r.random() < 0.6 else w
                t, T, _ = self.target(ww)
                lines.append(f"{ind}{t} = {self.rhs(T)}")
        return lines

    def _new_targets(self, nested):
        """A target list of new names, flat or nested: (text, [(name, shape)])."""
        r = self.r
        names = []

        def one():
            v = self.fresh()
            names.append((v, r.choice(self.pool())))
            return v

        if nested:
            a, b, c = one(), one(), one()
            text = r.choice(
                [f"{a}, ({b}, {c})", f"({a}, ({b}, {c}))", f"({a}, {b}), {c}", f"[{a}, ({b}, {c})]"]
            )
        else:
            vs = [one() for _ in range(r.choice([2, 2, 3]))]
            text = ", ".join(vs) if r.random() < 0.7 else "(" + ", ".join(vs) + ")"
        return text, names

    def _value_tuple(self, names, text):
        """The right side for a target list `text` of `names`: same nesting, one expression per name."""
        exprs = iter([self.expr(S, self.depth()) for _, S in names])
        out, i = [], 0
        while i < len(text):
            ch = text[i]
            if ch.isalpha():
                j = i
                while j < len(text) and text[j].isalnum():
                    j += 1
                out.append(next(exprs))
                i = j
            else:
                out.append(ch)
                i += 1
        return "".join(out)

    def tuple_names(self, ind, depth):
        r = self.r
        u = r.random()
        if u < 0.35:  # new names, fresh arrays or any values
            k = r.choice([2, 2, 3])
            vs, rhs = [], []
            for _ in range(k):
                v = self.fresh()
                if r.random() < 0.5:
                    S = r.choice(self.pool()[2:])
                    rhs.append(self.fresh_arr(S))
                    self.wr.add(v)
                else:
                    S = r.choice(self.pool())
                    rhs.append(self.expr(S, self.depth()))
                vs.append((v, S))
            for v, S in vs:
                self.env[v] = S
            return [f"{ind}{', '.join(v for v, _ in vs)} = {', '.join(rhs)}"]
        if u < 0.5:  # nested new names
            text, names = self._new_targets(True)
            line = f"{ind}{text} = {self._value_tuple(names, text)}"
            for v, S in names:
                self.env[v] = S
            return [line]
        if u < 0.7:  # two views at once
            w = r.choice(self._writable())
            (t1, S1), (t2, S2) = self.view_of(w), self.view_of(w)
            a, b = self.fresh("r"), self.fresh("r")
            for v, S in ((a, S1), (b, S2)):
                self.env[v] = S
                self.wr.add(v)
                self.base[v] = w
            lines = [f"{ind}{a}, {b} = {t1}, {t2}"]
            tt, T, _ = self.target(r.choice([a, b]))
            lines.append(f"{ind}{tt} = {self.rhs(T)}")
            self._mark(a, b)
            return lines
        # rebind existing names, the right side reading them (all of it before any target)
        cands = self._rebindable()
        if len(cands) < 2:
            return self.item(ind)
        a, b = r.sample(cands, 2)
        Sa, Sb = self.env[a], self.env[b]
        if Sa == Sb and r.random() < 0.6 and (depth == 0 or (a in self.wr) == (b in self.wr)):
            # a, b = b, a + e
            ea = f"({a} {r.choice(['+', '-', '*'])} {self.bexpr(Sa, 1)})"
            if depth == 0:
                wa, wb = b in self.wr, len(Sa) >= 1
                self.wr.discard(a)
                self.wr.discard(b)
                if wa:
                    self.wr.add(a)
                if wb:
                    self.wr.add(b)
            return [f"{ind}{a}, {b} = {b}, {ea}"]
        self.wr.discard(a)
        self.wr.discard(b)
        return [f"{ind}{a}, {b} = {self.expr(Sa, self.depth())}, {self.expr(Sb, self.depth())}"]

    def swap_names(self, ind, depth):
        """`a, b = b, a` (or a rotation of three) of same-shaped local names; [] if there are none."""
        r = self.r
        by_shape = {}
        for v in self._rebindable():
            key = (self.env[v], v in self.wr) if depth > 0 else self.env[v]
            by_shape.setdefault(key, []).append(v)
        groups = [vs for _, vs in sorted(by_shape.items(), key=lambda kv: repr(kv[0])) if len(vs) >= 2]
        if not groups:
            return []
        vs = r.choice(groups)
        k = 3 if len(vs) >= 3 and r.random() < 0.3 else 2
        names = r.sample(vs, k)
        rot = names[1:] + names[:1]
        if depth == 0:
            status = [v in self.wr for v in rot]
            for v, st in zip(names, status):
                self.wr.discard(v)
                if st:
                    self.wr.add(v)
        self._mark(*[v for v in names if v in self.wr])
        return [f"{ind}{', '.join(names)} = {', '.join(rot)}"]

    def tuple_helper(self, shapes, nested):
        """A helper returning a tuple of values of these shapes (nested: (a, (b, c))); its call text."""
        r = self.r
        self.nhelp += 1
        name = f"helper{self.nhelp}"
        SA = r.choice(self.pool())
        saved = (self.env, self.ints, self.in_helper)
        self.env, self.ints, self.in_helper = {"a": SA, "b": ()}, {}, True
        lines = [f"def {name}(a, b):"]
        if len(SA) >= 1 and r.random() < 0.6:  # write into a local copy of an argument
            c = self.fresh("c")
            lines.append(f"    {c} = {r.choice(['a.copy()', 'np.array(a)', 'np.copy(a)'])}")
            self.env[c] = SA
            t, T, _ = self.target(c)
            lines.append(f"    {t} {r.choice(['=', '+='])} {self.rhs(T, 1)}")
        if r.random() < 0.3:
            v = self.fresh("t")
            T = r.choice(self.pool())
            lines.append(f"    {v} = {self.expr(T, 2)}")
            self.env[v] = T
        es = [self.expr(S, 2) for S in shapes]
        if nested:
            ret = f"{es[0]}, ({es[1]}, {es[2]})"
        else:
            ret = ", ".join(es)
        if r.random() < 0.25:
            lines.append(f"    if {self.cond(0)}:")
            alt = [self.expr(S, 1) for S in shapes]
            lines.append(
                f"        return {alt[0]}, ({alt[1]}, {alt[2]})"
                if nested
                else f"        return {', '.join(alt)}"
            )
        lines.append(f"    return {ret}")
        self.env, self.ints, self.in_helper = saved
        self.helpers.append("\n".join(lines))
        return f"{name}({self.expr(SA, 1)}, {self.expr((), 1)})"

    def unpack(self, ind, depth):
        r = self.r
        nested = r.random() < 0.3
        k = 3 if nested else r.choice([2, 2, 3])
        names = [(self.fresh(), r.choice(self.pool())) for _ in range(k)]
        vs = [v for v, _ in names]
        if nested:
            tgt = r.choice([f"{vs[0]}, ({vs[1]}, {vs[2]})", f"({vs[0]}, ({vs[1]}, {vs[2]}))"])
        else:
            tgt = ", ".join(vs) if r.random() < 0.7 else "[" + ", ".join(vs) + "]"
        lines = []
        u = r.random()
        if u < 0.5 and self.nhelp < 4:
            val = self.tuple_helper([S for _, S in names], nested)
        else:
            es = [self.expr(S, self.depth()) for _, S in names]
            val = f"({es[0]}, ({es[1]}, {es[2]}))" if nested else r.choice(["(", "["]) + ", ".join(es)
            if not nested:
                val += ")" if val[0] == "(" else "]"
        if r.random() < 0.4:
            tp = self.fresh("tp")
            lines.append(f"{ind}{tp} = {val}")
            val = tp
        lines.append(f"{ind}{tgt} = {val}")
        for v, S in names:
            self.env[v] = S
        return lines

    def chain_names(self, ind, depth):
        r = self.r
        u = r.random()
        a, b = self.fresh(), self.fresh()
        if u < 0.55:  # a = b = <new array>, written through one, read through the other
            S = r.choice(self.pool()[2:])
            lines = [f"{ind}{a} = {b} = {self.fresh_arr(S)}"]
            for v in (a, b):
                self.env[v] = S
                self.wr.add(v)
            self.base[b] = a
            if r.random() < 0.7:
                p, q = r.sample([a, b], 2)
                t, T, _ = self.target(p)
                if r.random() < 0.3:
                    lines.append(f"{ind}{p} {r.choice(['+=', '-=', '*='])} {self.rhs(S)}")
                else:
                    lines.append(f"{ind}{t} = {self.rhs(T)}")
                self._mark(p, q)
                if r.random() < 0.5:
                    c = self.fresh()
                    lines.append(f"{ind}{c} = ({q} {r.choice(['+', '-', '*'])} {self.bexpr(S, 1)})")
                    self.env[c] = S
            return lines
        if u < 0.75 and self._writable():  # a = b = <view>
            w = r.choice(self._writable())
            text, S = self.view_of(w)
            lines = [f"{ind}{a} = {b} = {text}"]
            for v in (a, b):
                self.env[v] = S
                self.wr.add(v)
                self.base[v] = w
            t, T, _ = self.target(r.choice([a, b]))
            lines.append(f"{ind}{t} = {self.rhs(T)}")
            self._mark(a, b)
            return lines
        S = r.choice(self.pool())
        cands = [v for v in self._rebindable() if self.env[v] == S]
        if cands and r.random() < 0.5:
            b = r.choice(cands)
            self.wr.discard(b)
        line = f"{ind}{a} = {b} = {self.expr(S, self.depth())}"
        self.env[a] = self.env[b] = S
        return [line]

    def if_block(self, ind, depth):
        """Writes under a per-example `if` (and `else`): names bound inside are dropped after it."""
        r = self.r
        lines = [f"{ind}if {self.cond()}:"]
        before = dict(self.env)
        for _ in range(r.randint(1, 2)):
            lines += self.inplace(ind + "    ", depth + 1)
        if len(lines) == 1:
            lines.append(f"{ind}    pass")
        self.env = dict(before)
        if r.random() < 0.5:
            body = []
            for _ in range(r.randint(1, 2)):
                body += self.inplace(ind + "    ", depth + 1)
            if body:
                lines += [f"{ind}else:"] + body
            self.env = dict(before)
        return lines

    def for_block(self, ind, depth):
        """Writes inside `for j in range(R)` (j an index), maybe carrying an element read `t += ...`."""
        r = self.r
        R = min(r.randint(1, 3), self.imax) if r.random() < 0.7 else self.imax
        j = self.fresh("j")
        lines = []
        acc = None
        if r.random() < 0.35:
            w = r.choice(self._writable())
            tt, _, _ = self.target(w, "elem")
            acc = self.fresh("t")
            lines.append(f"{ind}{acc} = {tt}")
        lines.append(f"{ind}for {j} in range({R}):")
        before = dict(self.env)
        self.ints[j] = R
        self.env[j] = ()
        body = []
        if acc is not None:
            self.env[acc] = ()
            body.append(f"{ind}    {acc} += {self.expr((), 1)}")
        for _ in range(r.randint(1, 3)):
            body += self.inplace(ind + "    ", depth + 1)
        lines += body or [f"{ind}    pass"]
        del self.ints[j]
        self.env = before
        if acc is not None:
            self.env[acc] = ()
            self._mark(acc)
        return lines

    # ------------------------------------------------------------------ program

    def program(self):
        r = self.r
        self.env = {"x": (self.n,), "m": (self.n, self.k), "s": ()}
        self.ints = {"i": self.imax}
        body = []
        nst = r.randint(1, 6)
        if "stores" in self.extra:
            nst += r.randint(1, 3)
        for _ in range(nst):
            body += self.stmt("    ", 0)
        # returns
        locals_ = [v for v in self.env if v not in ("x", "m", "s")]
        nret = r.choice([1, 1, 2, 3])
        rets = []
        for _ in range(nret):
            if locals_ and r.random() < 0.7:
                rets.append(r.choice(locals_))
            else:
                rets.append(self.expr(r.choice(self.pool()), 2))
        if "stores" in self.extra:  # the written arrays and views
            wn = [v for v in self.written if v in self.env]
            if wn and r.random() < 0.85:
                rets += r.sample(wn, min(len(wn), r.choice([1, 1, 2, 3])))
            nret = len(rets)
        ret = rets[0] if nret == 1 else "(" + ", ".join(rets) + ")" if r.random() < 0.5 else ", ".join(rets)
        body.append(f"    return {ret}")
        src = "import numpy as np\n\n\n"
        for h in self.helpers:
            src += h + "\n\n\n"
        src += "def f(x, m, s, i):\n" + "\n".join(body) + "\n"
        return src


def _dtypes(r):
    u = r.random()
    if u < 0.7:
        return {"x": "float64", "m": "float64", "s": "float64"}
    if u < 0.85:
        return {"x": "float32", "m": "float32", "s": r.choice(["float32", "float64"])}
    return {"x": "int64", "m": r.choice(["int64", "float64"]), "s": "float64"}


def _example_args(specs, rng):
    out = []
    for name, shape, dtype, bound in specs:
        out.append(_random_data(rng, (), shape, dtype, bound))
    return out


def _random_data(rng, lead, shape, dtype, bound):
    full = tuple(lead) + tuple(shape)
    dt = np.dtype(dtype)
    if bound is not None:
        a = rng.integers(0, bound, size=full).astype(dt)
    elif dt.kind == "i":
        a = rng.integers(-3, 4, size=full).astype(dt)
    else:
        a = rng.normal(size=full).astype(dt)
    return a


def _scalarize(a, name, dtype, r):
    """Per-example value of an unmapped scalar argument: a Python number or a NumPy scalar."""
    if r.random() < 0.5:
        return a.item()
    return np.dtype(dtype).type(a.item())


def generate(seed, avoid=(), extra=()):
    """(source_text, func_name, arg_specs): arg_specs is [(name, per-example shape, dtype, int_bound)].

    ``avoid``: grammar features to leave out, to look past a known bug ("tuple_int_index": no batched int
    inside a tuple index such as ``m[i, 0]`` or ``m[:, i]``). ``extra``: features left out by default
    ("jumps": loops that ``break``/``continue`` per example, their counters read after them; "stores":
    writes into local arrays through views, aliases, tuple and chained targets). Programs of a seed without
    an extra are the same whatever extras exist: a new feature draws random numbers only when asked for.
    """
    for attempt in range(50):
        g = _Gen(seed * 1000 + attempt, avoid, extra)
        src = g.program()
        dts = _dtypes(g.r)
        specs = [
            ("x", (g.n,), dts["x"], None),
            ("m", (g.n, g.k), dts["m"], None),
            ("s", (), dts["s"], None),
            ("i", (), "int64", g.imax),
        ]
        ns = {}
        try:
            exec(compile(src, f"<fuzz {seed}>", "exec"), ns)
            rng = np.random.default_rng(seed)
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                for _ in range(2):
                    args = _example_args(specs, rng)
                    args = [a[()] if a.ndim == 0 else a for a in args]
                    ns["f"](*args)
        except Exception:
            continue
        return src, "f", specs
    raise RuntimeError(f"no valid program for seed {seed}")


_loaded = {}


def load(src, func_name, path):
    """Write src to path and import it from there (astvmap reads the function's real source)."""
    with open(path, "w") as fh:
        fh.write(src)
    modname = "astvmap_fuzz_" + os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(modname, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[modname] = mod
    spec.loader.exec_module(mod)
    _loaded[modname] = mod
    return getattr(mod, func_name)


def choose_configs(seed, specs, n_configs=3):
    """[(in_axes, batch_sizes, out_axes, axis_size_needed)] for this program."""
    r = random.Random(seed + 7919)
    n = specs[0][1][0]
    configs = []
    for c in range(n_configs):
        axes = []
        for name, shape, dtype, bound in specs:
            if r.random() < (0.75 if name in ("x", "m") else 0.5):
                nd = len(shape)
                axes.append(r.randint(-(nd + 1), nd))
            else:
                axes.append(None)
        if all(a is None for a in axes) and r.random() < 0.8:
            axes[0] = r.choice([0, -1])
        sizes = [r.choice([1, 3, 7, n]), r.choice([3, n])]
        if r.random() < 0.2:
            sizes.append(0)
        out_axes = 0 if r.random() < 0.8 else -1
        configs.append((tuple(axes), sorted(set(sizes)), out_axes))
    return configs


def make_args(seed, specs, in_axes, B):
    rng = np.random.default_rng(seed * 31 + B)
    r = random.Random(seed * 17 + B)
    args = []
    for (name, shape, dtype, bound), ax in zip(specs, in_axes):
        if ax is None:
            a = _random_data(rng, (), shape, dtype, bound)
            args.append(_scalarize(a, name, dtype, r) if a.ndim == 0 else a)
        else:
            a = _random_data(rng, (B,), shape, dtype, bound)
            args.append(np.moveaxis(a, 0, ax))
    return args


def run_case(seed, tmpdir, n_configs=3, check=None, avoid=(), extra=(), rewrite=None, **vmap_kwargs):
    """Generate program `seed`, write it under tmpdir, and compare vmap (with `vmap_kwargs`) with the loop.
    `rewrite(src, seed)`, when given, changes the program's text first (stmtgen.py wraps statements).

    Raises (AssertionError or whatever astvmap raised) on a mismatch. Returns the number of comparisons.
    """
    from oracle import assert_vmap_equivalent

    src, fname, specs = generate(seed, avoid, extra)
    if rewrite is not None:
        src = rewrite(src, seed)
    f = load(src, fname, os.path.join(str(tmpdir), f"fuzz_{seed}.py"))
    count = 0
    for in_axes, sizes, out_axes in choose_configs(seed, specs, n_configs):
        for B in sizes:
            args = make_args(seed, specs, in_axes, B)
            kw = {"axis_size": B} if all(a is None for a in in_axes) else {}
            kw.update(vmap_kwargs)
            try:
                with warnings.catch_warnings(record=True) as rec:
                    warnings.simplefilter("always")
                    assert_vmap_equivalent(
                        f, in_axes, out_axes, *args, allow_fallback=True, skip_unprobeable=False, **kw
                    )
            except Exception as e:
                e.add_note(
                    f"fuzz seed {seed}: B={B}, in_axes={in_axes}, out_axes={out_axes}, "
                    f"shapes={[(nm, sh, dt) for nm, sh, dt, _ in specs]}\n{src}"
                )
                raise
            for w in rec:
                if "please report" in str(w.message):
                    raise AssertionError(
                        f"internal error masked as a fallback: {w.message}\n"
                        f"fuzz seed {seed}: B={B}, in_axes={in_axes}\n{src}"
                    )
            if check is not None:
                check(rec)
            count += 1
    return count


def run_nested(seed, tmpdir, extra=(), depth=2):
    """Program `seed` under `depth` nested vmaps (`vmap(vmap(f, inner_axes), outer_axes)`, the outer ones
    mapping each argument at 0 or not at all): the generated code of each level is batched again by the
    next, every `av__` helper through its own rule. Compared with the nested loops: raises on a mismatch,
    and where vmap raises and the loops do not. Returns the PerformanceWarnings' messages."""
    src, fname, specs = generate(seed, (), extra)
    f = load(src, fname, os.path.join(str(tmpdir), f"nest_{seed}_{depth}_{'_'.join(extra)}.py"))
    r = random.Random(seed + 104729)
    warned = []
    for c, (in_axes, sizes, out_axes) in enumerate(choose_configs(seed, specs, 2)):
        B = max(sizes)
        kw = {"axis_size": B} if all(a is None for a in in_axes) else {}
        fn, loop = (
            astvmap.vmap(f, in_axes, out_axes, **kw),
            _looped(f, in_axes, out_axes, kw.get("axis_size")),
        )
        levels = []
        for _ in range(depth - 1):
            outer = tuple(0 if r.random() < 0.7 else None for _ in specs)
            levels.append(
                (outer if any(a is not None for a in outer) else (0,) + outer[1:], r.choice([1, 2, 3]))
            )
            fn, loop = astvmap.vmap(fn, levels[-1][0], 0), _looped(loop, levels[-1][0], 0, None)
        args = _nested_args(seed * 7 + c, specs, in_axes, B, levels)
        warned += _compare_nested(fn, loop, args, f"fuzz seed {seed} nested {levels}, inner {in_axes}\n{src}")
    return warned


def _looped(f, in_axes, out_axes, axis_size):
    from oracle import loop_vmap

    return lambda *a: loop_vmap(f, in_axes, out_axes, a, axis_size=axis_size)


def _nested_args(seed, specs, in_axes, B, levels):
    """Arguments for nested vmaps: each level stacks that many sets of the level inside it (an argument
    it does not map is the first set's)."""
    if not levels:
        return make_args(seed, specs, in_axes, B)
    outer, Bo = levels[-1]
    sets = [_nested_args(seed * 13 + k, specs, in_axes, B, levels[:-1]) for k in range(Bo)]
    return [
        np.stack([np.asarray(s[k]) for s in sets]) if ax == 0 else sets[0][k] for k, ax in enumerate(outer)
    ]


def _compare_nested(fn, loop, args, where):
    from oracle import _array_leaves, _compare, expand_axes

    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            expected, expected_exc = loop(*args), None
    except Exception as e:
        expected, expected_exc = None, e
    with warnings.catch_warnings(record=True) as rec, np.errstate(all="ignore"):
        warnings.simplefilter("always")
        try:
            result = fn(*args)
        except Exception as e:
            if expected_exc is None:
                raise AssertionError(
                    f"vmap raised {type(e).__name__}: {e}; the loops did not\n{where}"
                ) from e
            return []
    if expected_exc is not None:
        raise AssertionError(
            f"the loops raise {type(expected_exc).__name__}: {expected_exc}; vmap did not\n{where}"
        )
    messages = [str(w.message) for w in rec if issubclass(w.category, astvmap.PerformanceWarning)]
    for m in messages:
        if "please report" in m:
            raise AssertionError(f"internal error masked as a fallback: {m}\n{where}")
    try:
        _compare(result, expected, expand_axes(0, expected, "out_axes"), _array_leaves(list(args)))
    except AssertionError as e:
        e.add_note(where)
        raise
    return messages
