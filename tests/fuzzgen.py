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

__all__ = ["choose_configs", "generate", "load", "make_args", "run_case"]

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

    # ------------------------------------------------------------------ program

    def program(self):
        r = self.r
        self.env = {"x": (self.n,), "m": (self.n, self.k), "s": ()}
        self.ints = {"i": self.imax}
        body = []
        nst = r.randint(1, 6)
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
    ("jumps": loops that ``break``/``continue`` per example, their counters read after them).
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


def run_case(seed, tmpdir, n_configs=3, check=None, avoid=(), extra=(), **vmap_kwargs):
    """Generate program `seed`, write it under tmpdir, and compare vmap (with `vmap_kwargs`) with the loop.

    Raises (AssertionError or whatever astvmap raised) on a mismatch. Returns the number of comparisons.
    """
    from oracle import assert_vmap_equivalent

    src, fname, specs = generate(seed, avoid, extra)
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
