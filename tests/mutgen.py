"""A random generator of per-example NumPy programs that *write into arrays*, for fuzzing ``astvmap.vmap``
against the per-example loop (the mutation / aliasing sibling of ``tests/fuzzgen.py``).

``generate(seed) -> (source_text, func_name, arg_specs)`` writes a random but valid per-example function
``f(x, m, s, i)`` with fuzzgen's conventions: ``x`` a vector ``(n,)``, ``m`` a matrix ``(n, k)``, ``s`` a
scalar, ``i`` a non-negative int ``< min(n, k)``; dtypes float64, sometimes float32 or int64 data.
A program is 3-10 statements drawn from:

- fresh arrays: ``y = x.copy()``, ``np.zeros(S)``, ``np.ones(S)``, ``np.full(len(x), x[0])``,
  ``np.empty_like(v)`` followed by a full fill, ``y = x * 2.0``;
- views and aliases: ``r = y[i]``, ``y[1:3]``, ``y[::2]``, ``y[::-1]``, ``y.T``, ``y.reshape(...)``,
  ``y[:, 0]``, ``r = y``; element reads held across later writes (``t = y[0]; y[0] = ...; ... t``);
- every store form: ``y[j] = v`` (constant, loop counter or the batched ``i`` as index, negative too),
  slices, ``y[:, j]``, fancy ``y[[a, b]] = ...``, boolean masks, tuple swaps (of elements, and of matrix
  rows: ``y[0], y[1] = y[1], y[0]`` duplicates a row in NumPy), nested and starred tuple targets,
  chained ``y[0] = y[1] = v`` and ``a = b = e``, augmented ``y[j] += v``, ``r -= x[[0, 1]]``, ``t += 1.0``
  on a scalar read, ``s += 1.0`` on the (possibly mapped) scalar argument, stores through view names,
  ufuncs with ``out=``, right sides that read the target (``y[1] = y[0] + x[0]``), and writes into the
  arguments themselves (``x[0] = ...``, ``t = m[0]; t -= 1.0``);
- all of it under per-example ``if``/``elif``/``else``, static ``for j in range(R)`` loops and capped
  per-example ``while`` loops, nested;
- algorithm templates: bubble-sort pass and full bubble sort (temporary, tuple and fancy swaps), insertion
  sort (a per-example ``while`` with a batched index), reversal by swaps, running max and cumulative sum
  in place, Gauss-Jordan row swaps with an ``argmax`` pivot (fancy, tuple-of-copies and row-duplicating
  tuple forms), rotation by a temporary, ``fill`` of columns, a Python-float accumulator carried over the
  data (float32 too), ``np.full(len(x), x[0])``;
- returns: the written arrays, sometimes with a scalar, sometimes a view of a local or an alias twice.

Shapes, dtypes and aliasing (which array every name may point into) are tracked, so every program is valid
per example and the arguments it writes into are known (a comment line ``# writes into arguments: x``).
``generate`` rejects a program that reads a name some path leaves unbound, runs it on a few random
examples and a zero one, and retries with a sub-seed if it raises (any argument found written is added to
the comment).

``run_case(seed, tmpdir, n_configs=2)`` compares ``astvmap.vmap`` with the loop for random ``in_axes`` and
batch sizes (fuzzgen's ``choose_configs``, with the written arguments always mapped and a per-example
length or 4 added to the batch sizes). A program that never writes an argument goes through
``oracle.assert_vmap_equivalent`` (which also checks that the inputs are unchanged); one that does is run
on two identical sets of arguments, the loop on one and vmap on the other, and both the results and the
arguments afterwards must be equal. Either way the results must not share memory with each other. A
function astvmap runs whole as the loop refuses B == 0 by design: that refusal is not counted (pass
``stats={}`` to ``run_case`` to count such whole-function fallbacks, which test nothing of the rewrite).
``classify(exc)`` names a failure's kind and ``shrink(seed)`` deletes statements while the same kind of
failure remains.

``avoid`` (to look past known gaps): ``"weak"`` leaves out Python numbers carried through per-example
loops and mixed with the data (a documented dtype gap with float32 data), ``"argwrite"`` leaves out
writes into the arguments.
"""

from __future__ import annotations

import ast
import copy
import itertools
import os
import random
import re
import signal
import warnings

import numpy as np
from fuzzgen import _dtypes, _example_args, load, make_args
from fuzzgen import choose_configs as _fuzz_configs

__all__ = [
    "check_case",
    "choose_configs",
    "classify",
    "generate",
    "load",
    "make_args",
    "run_case",
    "shrink",
    "written_args",
]

# ---------------------------------------------------------------------------------------------- dtypes
# "f8", "f4", "i8": NumPy values (arrays or NumPy scalars); "pf", "pi": Python float / int (weak).
_WEAK = ("pf", "pi")
_DTYPE_SYM = {"float64": "f8", "float32": "f4", "int64": "i8"}


def _promote(a, b):
    if a == b:
        return a
    if a in _WEAK and b in _WEAK:
        return "pf"
    if a in _WEAK:
        a, b = b, a
    if b == "pi":
        return a
    if b == "pf":
        return "f8" if a == "i8" else a
    return "f8"  # f8 with anything, f4 with i8


def _floaty(dt):
    """dtype of a float ufunc (np.tanh, np.sin) of a value of dtype dt."""
    return "f4" if dt == "f4" else "f8"


def _is_int(dt):
    return dt in ("i8", "pi")


class _V:
    """What a name holds: per-example shape, dtype symbol, the arrays it may point into, C-contiguous,
    and for shape () whether it is a 0-d array (`buf`: changed in place by `t += v`) or a scalar."""

    __slots__ = ("buf", "contig", "dt", "roots", "shape")

    def __init__(self, shape, dt, roots=frozenset(), contig=False, buf=False):
        self.shape = tuple(shape)
        self.dt = dt
        self.roots = frozenset(roots)
        self.contig = contig
        self.buf = buf

    def same(self, other):
        return self.shape == other.shape and self.dt == other.dt


_ARGS = ("x", "m")


class _Gen:
    def __init__(self, seed, avoid=()):
        self.avoid = frozenset(avoid)
        r = self.r = random.Random(seed)
        self.n = r.choice([2, 3, 4, 5])
        self.k = r.choice([self.n, self.n, 2, 3, 4])
        self.imax = min(self.n, self.k)
        self.dts = _dtypes(r)
        self.arg_ok = "argwrite" not in self.avoid and r.random() < 0.3
        self.env = {}
        self.ints = {}  # name -> exclusive upper bound of its (non-negative) value
        self.loopvars = set()  # static `for` counters (Python ints)
        self.written = set()  # roots written into
        self.nvar = 0
        self.nroot = 0
        self.perex = 0  # depth of per-example constructs (if / while) around the current statement
        self.loops = 0  # depth of loops around the current statement

    # ------------------------------------------------------------------ names

    def fresh(self, prefix):
        self.nvar += 1
        return f"{prefix}{self.nvar}"

    def new_root(self):
        self.nroot += 1
        return f"@{self.nroot}"

    def arrays(self, ndim=None, writable=False, minlen=1):
        out = []
        for nm, v in self.env.items():
            if not v.shape or (ndim is not None and len(v.shape) != ndim) or min(v.shape) < minlen:
                continue
            if writable and not self.arg_ok and v.roots & set(_ARGS):
                continue
            out.append(nm)
        return sorted(out)

    # ------------------------------------------------------------------ indices and slices

    def idx(self, L):
        """A valid index into an axis of length L: a constant (negative too), a loop counter, `i`, ..."""
        r = self.r
        cands = [nm for nm, b in self.ints.items() if b <= L]
        if cands and r.random() < 0.5:
            nm = r.choice(sorted(cands))
            b = self.ints[nm]
            u = r.random()
            if u < 0.12:
                return f"(-1 - {nm})"
            if u < 0.24 and b + 1 <= L:
                return f"{nm} + 1"
            if u < 0.32:
                return f"{nm} - 1"  # -1 is the last element
            if u < 0.4:
                return f"({nm} + {r.randrange(1, L + 1)}) % {L}"
            return nm
        c = r.randrange(L)
        if r.random() < 0.2:
            c -= L
        return str(c)

    def slc(self, L):
        """(slice text, length) of a non-empty basic slice of an axis of length L."""
        r = self.r
        opts = ["ab", "ab", "all"]
        if L >= 2:
            opts += ["step", "rev", "tail", "head"]
        o = r.choice(opts)
        if o == "ab":
            a = r.randrange(L)
            b = r.randint(a + 1, L)
            return (f"{a}:{b}" if a else f":{b}"), b - a
        if o == "all":
            return ":", L
        if o == "step":
            return "::2", (L + 1) // 2
        if o == "rev":
            return "::-1", L
        if o == "tail":
            return "1:", L - 1
        return ":-1", L - 1

    # ------------------------------------------------------------------ expressions

    def const(self, integer=False):
        r = self.r
        if integer or r.random() < 0.15:
            c = r.choice([1, 2, 3, -1, 0])
            return (f"({c})" if c < 0 else str(c)), "pi"
        c = round(r.uniform(-2.0, 2.0), 2)
        return (f"({c!r})" if c < 0 else repr(c)), "pf"

    def leaf(self, S, integer=False, allow_const=True):
        """(text, dtype) of something whose shape broadcasts to S (S itself unless a constant)."""
        r = self.r
        cands = []
        for nm, v in sorted(self.env.items()):
            if integer and not _is_int(v.dt):
                continue
            sh = v.shape
            if sh == S:
                cands += [(nm, v.dt)] * 3
            if len(sh) == 1:
                L = sh[0]
                if S == ():
                    cands.append((f"{nm}[{self.idx(L)}]", v.dt))
                elif len(S) == 1 and S[0] == L:
                    cands.append((f"{nm}[::-1]", v.dt))
                elif len(S) == 1 and S[0] < L:
                    a = r.randrange(L - S[0] + 1)
                    cands.append((f"{nm}[{a}:{a + S[0]}]", v.dt))
                if S == (2,) and L >= 2:
                    a, b = r.sample(range(L), 2)
                    cands.append((f"{nm}[[{a}, {b}]]", v.dt))
                if len(S) == 2 and S[0] * S[1] == L:
                    cands.append((f"{nm}.reshape({S[0]}, {S[1]})", v.dt))
            elif len(sh) == 2:
                R, C = sh
                if S == ():
                    cands.append((f"{nm}[{self.idx(R)}, {self.idx(C)}]", v.dt))
                elif len(S) == 1:
                    if S[0] == C:
                        cands.append((f"{nm}[{self.idx(R)}]", v.dt))
                    if S[0] == R:
                        cands.append((f"{nm}[:, {self.idx(C)}]", v.dt))
                    if S[0] == R * C:
                        cands.append((f"{nm}.ravel()", v.dt))
                elif S == (C, R) and R != C:
                    cands.append((f"{nm}.T", v.dt))
        if S == ():
            for nm in sorted(self.ints):
                if nm in self.env:
                    continue
                if "weak" in self.avoid and nm not in self.loopvars and nm != "i":
                    continue  # a per-example Python counter mixed with the data
                cands.append((nm, "i8" if nm == "i" else "pi"))
        if allow_const and (S == () or r.random() < 0.3):
            cands += [self.const(integer)] * 2
        if not cands:
            c, dt = self.const(integer)
            return f"np.full({S}, {c})", ("i8" if dt == "pi" else "f8")
        return r.choice(cands)

    def expr(self, S, d=2, integer=False):
        r = self.r
        if d <= 0 or r.random() < 0.35:
            return self.leaf(S, integer)
        u = r.random()
        if u < 0.55:
            op = r.choice(["+", "-", "*"])
            a = self.expr(S, d - 1, integer)
            b = self.expr(S if r.random() < 0.5 else (), d - 1, integer)
            if r.random() < 0.5:
                a, b = b, a
            return f"({a[0]} {op} {b[0]})", _promote(a[1], b[1])
        if integer:
            a = self.expr(S, d - 1, True)
            if r.random() < 0.5:
                return f"np.abs({a[0]})", "i8"
            return f"(-{a[0]})", a[1]
        if u < 0.7:
            a = self.expr(S, d - 1)
            fn = r.choice(["np.tanh", "np.sin", "np.cos"])
            return f"{fn}({a[0]})", _floaty(a[1])
        if u < 0.8:
            a, b = self.expr(S, d - 1), self.expr(S, d - 1)
            dt = _promote(a[1], _promote("pf", b[1]))
            return f"({a[0]} / (1.0 + {b[0]} * {b[0]}))", ("f8" if dt == "i8" else dt)
        if u < 0.9 and S == ():
            arrs = self.arrays()
            if arrs:
                nm = r.choice(arrs)
                v = self.env[nm]
                red = r.choice(["np.sum", "np.max", "np.min", "np.mean"])
                dt = _floaty(v.dt) if red == "np.mean" else v.dt
                if r.random() < 0.3:
                    return f"{nm}.{red[3:]}()", dt
                return f"{red}({nm})", dt
        if u < 0.9:
            a, b = self.expr(S, d - 1), self.expr(S, d - 1)
            fn = r.choice(["np.maximum", "np.minimum"])
            return f"{fn}({a[0]}, {b[0]})", _promote(a[1], b[1])
        a = self.expr(S, d - 1)
        return f"({a[0]} * 0.5)", _promote(a[1], "pf")

    def exact(self, S):
        """(text, dtype) of a fresh array of shape exactly S computed from data (never a view)."""
        r = self.r
        a = self.leaf(S, allow_const=False)
        if a[0].startswith("np.full"):
            return a
        if r.random() < 0.6:
            b = self.expr(S if r.random() < 0.4 else (), 1)
            op = r.choice(["+", "-", "*"])
            return f"({a[0]} {op} {b[0]})", _promote(a[1], b[1])
        return f"{a[0]}.copy()", a[1]

    def cond(self, d=1):
        r = self.r
        u = r.random()
        if u < 0.15 and d > 0:
            return f"({self.cond(d - 1)} {r.choice(['and', 'or'])} {self.cond(d - 1)})"
        if u < 0.2 and d > 0:
            return f"(not {self.cond(d - 1)})"
        lv = [nm for nm in self.loopvars if nm in self.ints]
        if lv and u < 0.3:
            return f"{r.choice(sorted(lv))} % 2 == {r.choice([0, 1])}"  # shared by every example
        opts = [f"x[{self.idx(self.n)}]", "s", self.leaf(())[0], self.expr((), 1)[0]]
        a = r.choice(opts)
        op = r.choice([">", "<", ">=", "<="])
        b = r.choice(["0", "0.0", self.const()[0], "0.5"])
        return f"{a} {op} {b}"

    # ------------------------------------------------------------------ bindings

    def bind(self, nm, v):
        self.env[nm] = v
        self.ints.pop(nm, None)
        self.loopvars.discard(nm)

    def write(self, nm):
        self.written |= self.env[nm].roots

    def fresh_array(self, ind, S=None):
        r = self.r
        n, k = self.n, self.k
        if S is None:
            S = r.choice([(n,), (n,), (k,), (n, k), (n, k), (k, n), (n + 1,), (2, n)])
        y = self.fresh("y")
        u = r.random()
        srcs = [nm for nm in self.arrays() if self.env[nm].shape == S]
        lines = []
        if srcs and u < 0.35:
            src = r.choice(srcs)
            text = r.choice([f"{src}.copy()", f"np.copy({src})", f"np.array({src})"])
            dt = self.env[src].dt
        elif u < 0.55:
            fn = r.choice(["np.zeros", "np.ones"])
            text, dt = f"{fn}({S[0] if len(S) == 1 and r.random() < 0.5 else S})", "f8"
        elif u < 0.65 and len(S) == 1:
            c = self.leaf(())
            text = f"np.full({S[0]}, {c[0]})"
            if S[0] == n and r.random() < 0.5:
                text = f"np.full(len(x), {c[0]})"
            dt = "f8" if c[1] == "pf" else "i8" if c[1] == "pi" else c[1]
        elif u < 0.75 and srcs:
            src = r.choice(srcs)
            text, dt = f"np.empty_like({src})", self.env[src].dt
            lines.append(f"{ind}{y} = {text}")
            fill = r.random()
            if fill < 0.4:
                e = self.exact(S)
                lines.append(f"{ind}{y}[{r.choice([':', '...'])}] = {e[0]}")
            elif fill < 0.7 and len(S) == 1:
                j = self.fresh("j")
                self.ints[j], self.loopvars = S[0], self.loopvars | {j}
                e = self.expr((), 2)
                lines += [f"{ind}for {j} in range({S[0]}):", f"{ind}    {y}[{j}] = {e[0]}"]
                del self.ints[j]
                self.loopvars.discard(j)
            else:
                lines.append(f"{ind}{y}.fill({self.const(_is_int(dt))[0]})")
            self.bind(y, _V(S, dt, {self.new_root()}, True))
            return lines, y
        else:
            e = self.exact(S)
            text, dt = e[0], ("f8" if e[1] == "pf" else "i8" if e[1] == "pi" else e[1])
            if r.random() < 0.3:
                text = f"{text} * 2.0"
                dt = _promote(dt, "pf")
        lines.append(f"{ind}{y} = {text}")
        self.bind(y, _V(S, dt, {self.new_root()}, True))
        return lines, y

    def view(self, ind):
        """`r = <a view (or alias) of an array>`."""
        r = self.r
        arrs = self.arrays()
        if not arrs:
            return self.fresh_array(ind)[0]
        src = r.choice(arrs)
        v = self.env[src]
        nm = self.fresh("r")
        o = r.random()
        if len(v.shape) == 1:
            L = v.shape[0]
            if o < 0.15:
                text, S, contig = src, v.shape, v.contig
            elif o < 0.7:
                sl, ln = self.slc(L)
                text, S = f"{src}[{sl}]", (ln,)
                contig = v.contig and "::" not in sl
            elif o < 0.78 and L % 2 == 0:  # views through NumPy functions (a rule or a piece's loop)
                j = r.randrange(2)
                text, S, contig = r.choice(
                    [
                        (f"np.split({src}, 2)[{j}]", (L // 2,), v.contig),
                        (f"np.array_split({src}, 2)[{j}]", (L // 2,), v.contig),
                        (f"np.flip({src})", (L,), False),
                    ]
                )
            elif v.contig and o < 0.85:
                S = r.choice([(1, L), (L, 1)] + ([(2, L // 2)] if L % 2 == 0 else []))
                text, contig = r.choice([f"{src}.reshape{S}", f"{src}.reshape({S[0]}, -1)"]), True
            else:
                text, S, contig = f"{src}[:]", v.shape, v.contig
        else:
            R, C = v.shape
            if o < 0.1:
                text, S, contig = src, v.shape, v.contig
            elif o < 0.4:
                text, S, contig = f"{src}[{self.idx(R)}]", (C,), v.contig
            elif o < 0.6:
                text, S, contig = f"{src}[:, {self.idx(C)}]", (R,), False
            elif o < 0.72:
                text, S, contig = r.choice([f"{src}.T", f"np.transpose({src})"]), (C, R), False
            elif o < 0.78 and R % 2 == 0:  # views through NumPy functions
                text, S, contig = r.choice(
                    [
                        (f"np.vsplit({src}, 2)[{r.randrange(2)}]", (R // 2, C), v.contig),
                        (f"np.flipud({src})", (R, C), False),
                    ]
                )
            elif o < 0.84:
                sl, ln = self.slc(R)
                text, S, contig = f"{src}[{sl}]", (ln, C), v.contig and "::" not in sl
            elif v.contig and o < 0.92:
                text, S, contig = r.choice([f"{src}.reshape(-1)", f"{src}.ravel()"]), (R * C,), True
            else:
                sl, ln = self.slc(C)
                text, S, contig = f"{src}[{self.idx(R)}, {sl}]", (ln,), False
        self.bind(nm, _V(S, v.dt, v.roots, contig))
        return [f"{ind}{nm} = {text}"]

    def read(self, ind):
        """`t = y[0]` (a scalar, or a row view of a matrix), sometimes held across a write of that element."""
        r = self.r
        arrs = self.arrays()
        if not arrs:
            return self.fresh_array(ind)[0]
        if r.random() < 0.3:
            return self.zero_d(ind)
        src = r.choice(arrs)
        v = self.env[src]
        t = self.fresh("t")
        if len(v.shape) == 1 or r.random() < 0.5:
            ix = (
                self.idx(v.shape[0])
                if len(v.shape) == 1
                else f"{self.idx(v.shape[0])}, {self.idx(v.shape[1])}"
            )
            self.bind(t, _V((), v.dt))
        else:  # a row of a matrix: a view
            ix = self.idx(v.shape[0])
            self.bind(t, _V(v.shape[1:], v.dt, v.roots, v.contig))
        lines = [f"{ind}{t} = {src}[{ix}]"]
        wr = self.arrays(writable=True)
        if src in wr and r.random() < 0.6:  # write the element it came from, then read t
            e = self.expr(self.env[t].shape, 1, integer=False)
            lines.append(f"{ind}{src}[{ix}] = {e[0]}")
            self.write(src)
            if r.random() < 0.7:
                lines += self.scalar_aug(ind, t)
        elif r.random() < 0.4:
            lines += self.scalar_aug(ind, t)
        return lines

    def zero_d(self, ind):
        """A 0-d array: `a = y[i, ...]` (a view of y) or `a = np.asarray(e)` / `np.array(e)` (a new one),
        sometimes named again (`b = a`), then `b op= e`: in place, seen through every name of it."""
        r = self.r
        a = self.fresh("a")
        arrs = self.arrays(ndim=1)
        if arrs and r.random() < 0.5:
            src = r.choice(arrs)
            v = self.env[src]
            text, dt, roots = f"{src}[{self.idx(v.shape[0])}, ...]", v.dt, v.roots
        else:
            e = self.expr((), 1)
            held = self.env.get(e[0])
            if held is not None and held.buf and r.random() < 0.5:  # the same 0-d array
                text, dt, roots = f"np.asarray({e[0]})", held.dt, held.roots
            else:
                text, dt, roots = (
                    f"np.array({e[0]})",
                    {"pf": "f8", "pi": "i8"}.get(e[1], e[1]),
                    {self.new_root()},
                )
        self.bind(a, _V((), dt, roots, buf=True))
        lines = [f"{ind}{a} = {text}"]
        if r.random() < 0.6:
            b = self.fresh("a")
            self.bind(b, _V((), dt, roots, buf=True))
            lines.append(f"{ind}{b} = {a}")
            a = b
        return lines + self.scalar_aug(ind, a)

    def scalar_aug(self, ind, t):
        """`t += 1.0` / `t -= x[0]`: rebinds a scalar, writes into a row view or a 0-d array."""
        r = self.r
        v = self.env[t]
        op = r.choice(["+=", "-=", "*="])
        if v.shape or v.buf:
            if not self.arg_ok and v.roots & set(_ARGS):
                return []
            e = self.expr(v.shape if r.random() < 0.5 else (), 1, integer=_is_int(v.dt))
            self.write(t)
            return [f"{ind}{t} {op} {e[0]}"]
        e = self.expr((), 1) if r.random() < 0.5 else self.const()
        ndt = _promote(v.dt, e[1])
        if self.perex and ndt != v.dt:
            return []  # would change its dtype on some examples only
        if "weak" in self.avoid and self.loops and v.dt in _WEAK and ndt != v.dt:
            return []  # a Python number carried through a loop into the data's dtype
        self.bind(t, _V((), ndt))
        return [f"{ind}{t} {op} {e[0]}"]

    def scalar_stmt(self, ind):
        r = self.r
        u = r.random()
        if u < 0.35:
            return self.scalar_aug(ind, "s")
        if u < 0.55:
            t = self.fresh("t")
            e = self.expr((), 2)
            if r.random() < 0.4:  # chained `a = b = expr`
                t2 = self.fresh("t")
                self.bind(t, _V((), e[1]))
                self.bind(t2, _V((), e[1]))
                return [f"{ind}{t} = {t2} = {e[0]}"]
            self.bind(t, _V((), e[1]))
            return [f"{ind}{t} = {e[0]}"]
        if u < 0.8:  # starred and nested tuple targets binding scalars
            a, b = self.fresh("t"), self.fresh("t")
            e1, e2, e3 = self.expr((), 1), self.expr((), 1), self.expr((), 1)
            self.bind(a, _V((), e1[1]))
            if r.random() < 0.5:
                rest = self.fresh("rest")
                return [f"{ind}{a}, *{rest} = ({e1[0]}, {e2[0]}, {e3[0]})"]
            self.bind(b, _V((), e3[1]))
            return [f"{ind}({a}, ({b}, _)) = ({e1[0]}, ({e3[0]}, {e2[0]}))"]
        scal = [nm for nm, v in self.env.items() if v.shape == () and nm not in ("s",)]
        if scal:
            return self.scalar_aug(ind, r.choice(sorted(scal)))
        return self.read(ind)

    # ------------------------------------------------------------------ stores

    def region(self, nm):
        """(subscript text, shape of the region, scalar_only) of a store target inside array nm."""
        r = self.r
        v = self.env[nm]
        u = r.random()
        if len(v.shape) == 1:
            L = v.shape[0]
            if u < 0.45:
                return f"[{self.idx(L)}]", (), False
            if u < 0.75:
                sl, ln = self.slc(L)
                return f"[{sl}]", (ln,), False
            if u < 0.85 and L >= 2:
                a, b = r.sample(range(L), 2)
                return f"[[{a}, {b}]]", (2,), False
            if u < 0.93:
                c = self.const()[0]
                m = r.choice([f"{nm} > {c}", f"{nm} < {c}", f"np.abs({nm}) > 1.0"])
                if self.env.get("x") and self.env["x"].shape == v.shape and r.random() < 0.3:
                    m = "x > 0"
                return f"[{m}]", (), True
            return f"[{r.choice([':', '...'])}]", v.shape, False
        R, C = v.shape
        if u < 0.3:
            return f"[{self.idx(R)}]", (C,), False
        if u < 0.5:
            return f"[{self.idx(R)}, {self.idx(C)}]", (), False
        if u < 0.7:
            return f"[:, {self.idx(C)}]", (R,), False
        if u < 0.8:
            sl, ln = self.slc(R)
            return f"[{sl}]", (ln, C), False
        if u < 0.87:
            sl, ln = self.slc(C)
            return f"[{self.idx(R)}, {sl}]", (ln,), False
        if u < 0.94:
            return f"[{nm} > {self.const()[0]}]", (), True
        return "[:]", v.shape, False

    def value(self, S, scalar_only=False, integer=False):
        r = self.r
        if scalar_only or not S or r.random() < 0.25:
            return self.expr((), 2, integer)
        return self.expr(S, 2, integer)

    def store(self, ind):
        r = self.r
        wr = self.arrays(writable=True)
        if not wr:
            return self.fresh_array(ind)[0]
        nm = r.choice(wr)
        v = self.env[nm]
        integer = _is_int(v.dt)
        u = r.random()
        if u < 0.22:  # plain subscript store
            reg, S, so = self.region(nm)
            if r.random() < 0.3 and S == ():  # the right side reads the target array
                same = f"[{self.idx(v.shape[0])}]"
                if len(v.shape) == 2:
                    same = f"[{self.idx(v.shape[0])}, {self.idx(v.shape[1])}]"
                lines = [f"{ind}{nm}{reg} = {nm}{same} * 0.5 + {self.expr((), 1)[0]}"]
            else:
                lines = [f"{ind}{nm}{reg} = {self.value(S, so)[0]}"]
        elif u < 0.38:  # augmented on a region
            reg, S, so = self.region(nm)
            op = r.choice(["+=", "-=", "*="])
            # `y[mask] op= v` and `y[1:3] op= v` work in place on an array: an int one takes ints only
            lines = [f"{ind}{nm}{reg} {op} {self.value(S, so, integer and (S != () or so))[0]}"]
        elif u < 0.48:  # augmented on the whole array (a view name writes its base)
            op = r.choice(["+=", "-=", "*="])
            e = self.value(v.shape, integer=integer)[0]
            if v.shape == (2,) and not integer and r.random() < 0.5:
                e = "x[[0, 1]]"
            lines = [f"{ind}{nm} {op} {e}"]
        elif u < 0.58:  # ufunc with out=, on the array or on a slice of it
            t, St = nm, v.shape
            if len(v.shape) == 1 and v.shape[0] >= 3 and r.random() < 0.3:
                t, St = f"{nm}[1:3]", (2,)
            if integer:
                forms = [
                    "np.add({t}, 1, out={t})",
                    "np.negative({t}, out={t})",
                    "np.maximum({t}, 0, out={t})",
                ]
            else:
                c = self.const()[0]
                forms = [
                    f"np.add({{t}}, {c}, out={{t}})",
                    f"np.multiply({{t}}, {c}, out={{t}})",
                    "np.maximum({t}, 0.0, out={t})",
                    "np.negative({t}, out={t})",
                    "np.abs({t}, out={t})",
                    f"np.add({{t}}, {self.exact(St)[0]}, out={{t}})",
                ]
            lines = [f"{ind}{r.choice(forms).format(t=t)}"]
        elif u < 0.7:  # tuple swaps
            lines = self.swap(ind, nm)
        elif u < 0.78:  # chained `y[0] = y[1] = v`, possibly into two arrays
            reg1, S1, _ = self.region(nm)
            nm2 = r.choice(wr)
            reg2, S2, _ = self.region(nm2)
            e = self.expr((), 1)
            if S1 == S2 and S1 and r.random() < 0.5:
                e = self.expr(S1, 1)
            lines = [f"{ind}{nm}{reg1} = {nm2}{reg2} = {e[0]}"]
            self.write(nm2)
        elif u < 0.88:  # several targets at once, nested or starred
            reg1, S1, so1 = self.region(nm)
            nm2 = r.choice(wr)
            reg2, S2, so2 = self.region(nm2)
            e1, e2 = self.value(S1, so1), self.value(S2, so2)
            w = r.random()
            if w < 0.4:
                lines = [f"{ind}{nm}{reg1}, {nm2}{reg2} = {e1[0]}, {e2[0]}"]
            elif w < 0.7:
                t = self.fresh("t")
                e3 = self.expr((), 1)
                lines = [f"{ind}({t}, ({nm}{reg1}, {nm2}{reg2})) = ({e3[0]}, ({e1[0]}, {e2[0]}))"]
                self.bind(t, _V((), e3[1]))
            else:
                rest = self.fresh("rest")
                e3 = self.expr((), 1)
                lines = [f"{ind}{nm}{reg1}, *{rest} = ({e1[0]}, {e3[0]}, {e2[0]})"]
                if r.random() < 0.5 and not so2:
                    lines.append(f"{ind}{nm2}{reg2} = {rest}[-1]")
                    self.write(nm2)
        elif u < 0.94:  # the right side reads the target
            if len(v.shape) == 1:
                a, b = self.idx(v.shape[0]), self.idx(v.shape[0])
                lines = [f"{ind}{nm}[{a}] = {nm}[{b}] {r.choice(['+', '-', '*'])} {self.expr((), 1)[0]}"]
            else:
                R = v.shape[0]
                a, b = self.idx(R), self.idx(R)
                lines = [f"{ind}{nm}[{a}] = {nm}[{b}] * 0.5 + {self.expr((v.shape[1],), 1)[0]}"]
        else:  # boolean mask on its own values
            c = self.const()[0]
            val = self.const(integer)[0]
            lines = [f"{ind}{nm}[{nm} {r.choice(['>', '<'])} {c}] {r.choice(['=', '*=', '+='])} {val}"]
        self.write(nm)
        # a store whose value shape does not fit is weeded out by generate's trial run
        return lines

    def swap(self, ind, nm):
        r = self.r
        v = self.env[nm]
        L = v.shape[0]
        if L < 2:
            return [f"{ind}{nm}[0] = {self.expr((), 1)[0]}"] if len(v.shape) == 1 else []
        a = self.idx(L)
        b = self.idx(L)
        if a == b:
            b = str((int(a) + 1) % L) if a.lstrip("-").isdigit() else "0"
        u = r.random()
        if len(v.shape) == 2:
            if u < 0.35:
                return [f"{ind}{nm}[{a}], {nm}[{b}] = {nm}[{b}], {nm}[{a}]"]  # duplicates a row
            if u < 0.65:
                return [f"{ind}{nm}[{a}], {nm}[{b}] = {nm}[{b}].copy(), {nm}[{a}].copy()"]
            if u < 0.8:
                return [f"{ind}{nm}[[{a}, {b}]] = {nm}[[{b}, {a}]]"]
            C = v.shape[1]
            if C >= 2:
                c1, c2 = r.sample(range(C), 2)
                return [f"{ind}{nm}[:, {c1}], {nm}[:, {c2}] = {nm}[:, {c2}].copy(), {nm}[:, {c1}].copy()"]
            return [f"{ind}{nm}[{a}], {nm}[{b}] = {nm}[{b}], {nm}[{a}]"]
        if u < 0.5:
            return [f"{ind}{nm}[{a}], {nm}[{b}] = {nm}[{b}], {nm}[{a}]"]
        if u < 0.75:
            t = self.fresh("t")
            self.bind(t, _V((), v.dt))
            return [f"{ind}{t} = {nm}[{a}]", f"{ind}{nm}[{a}] = {nm}[{b}]", f"{ind}{nm}[{b}] = {t}"]
        if u < 0.87:
            return [f"{ind}{nm}[[{a}, {b}]] = {nm}[[{b}, {a}]]"]
        return [f"{ind}{nm}[{a}], {nm}[{b}] = {nm}[{b}], {nm}[{a}] + {self.const()[0]}"]

    # ------------------------------------------------------------------ control flow

    def merge(self, envs, intss):
        """Names bound on every path with one shape and dtype survive (their roots joined)."""
        first = envs[0]
        out = {}
        for nm, v in first.items():
            if all(nm in e and e[nm].same(v) for e in envs):
                roots = frozenset().union(*(e[nm].roots for e in envs))
                contig = all(e[nm].contig for e in envs)
                out[nm] = _V(
                    v.shape, v.dt, roots, contig, any(e[nm].buf for e in envs)
                )  # (may be a 0-d array)
        ints = {}
        for nm, b in intss[0].items():
            if all(nm in i for i in intss):
                ints[nm] = max(i[nm] for i in intss)
        self.env, self.ints = out, ints

    def if_stmt(self, ind, depth):
        r = self.r
        before, bints = dict(self.env), dict(self.ints)
        envs, intss = [], []
        lines = [f"{ind}if {self.cond()}:"]
        self.perex += 1
        nbr = r.choice([1, 1, 2, 2, 3])  # if / if-else / if-elif-else
        for b in range(nbr):
            self.env, self.ints = dict(before), dict(bints)
            if b == 1 and nbr == 3:
                lines.append(f"{ind}elif {self.cond()}:")
            elif b >= 1:
                lines.append(f"{ind}else:")
            lines += self.block(ind + "    ", depth + 1, 1, 3)
            envs.append(self.env)
            intss.append(self.ints)
        if nbr == 1:
            envs.append(before)
            intss.append(bints)
        self.perex -= 1
        self.merge(envs, intss)
        return lines

    def for_stmt(self, ind, depth):
        r = self.r
        R = r.randint(1, self.n + 1) if r.random() < 0.6 else self.imax
        j = self.fresh("j")
        rng = f"range({R})"
        if r.random() < 0.2:
            rng = f"range(1, {R + 1})"
        self.ints[j] = R + 1 if rng.startswith("range(1") else R
        self.loopvars.add(j)
        lines = [f"{ind}for {j} in {rng}:"]
        self.loops += 1
        lines += self.block(ind + "    ", depth + 1, 1, 3)
        self.loops -= 1
        self.ints.pop(j, None)
        self.loopvars.discard(j)
        return lines

    def while_stmt(self, ind, depth):
        r = self.r
        kk = self.fresh("k")
        cap = r.randint(2, 4)
        lines = [f"{ind}{kk} = 0"]
        c = r.choice(
            [f"x[{self.idx(self.n)}] * 3 > {kk}", f"s + {kk} < 2.0", f"{kk} < np.abs(x[0]) * 3", "True"]
        )
        if r.random() < 0.3:
            c = f"{self.cond(0)} and {c}"
        lines.append(f"{ind}while {c} and {kk} < {cap}:")
        before, bints = dict(self.env), dict(self.ints)
        self.perex += 1
        self.loops += 1
        lines += self.block(ind + "    ", depth + 1, 1, 2)
        lines.append(f"{ind}    {kk} += 1")
        self.perex -= 1
        self.loops -= 1
        self.merge([self.env, before], [self.ints, bints])
        self.ints[kk] = cap + 1
        return lines

    # ------------------------------------------------------------------ templates

    def vec_target(self, ind, minlen=2):
        """A 1-D array to sort/scan in place: an existing writable one or a fresh copy."""
        r = self.r
        cands = self.arrays(ndim=1, writable=True, minlen=minlen)
        if cands and r.random() < 0.5:
            return [], r.choice(cands)
        srcs = self.arrays(ndim=1, minlen=minlen) or ["x"]
        if self.n < minlen:
            srcs = [s for s in srcs if s != "x"]
        if not srcs:
            lines, y = self.fresh_array(ind, (max(minlen, self.n + 1),))
            return lines, y
        src = r.choice(srcs)
        y = self.fresh("y")
        v = self.env[src]
        self.bind(y, _V(v.shape, v.dt, {self.new_root()}, True))
        return [f"{ind}{y} = {src}.copy()"], y

    def swap_lines(self, ind, y, a, b, style):
        if style == "tmp":
            t = self.fresh("t")
            return [f"{ind}{t} = {y}[{a}]", f"{ind}{y}[{a}] = {y}[{b}]", f"{ind}{y}[{b}] = {t}"]
        if style == "tuple":
            return [f"{ind}{y}[{a}], {y}[{b}] = {y}[{b}], {y}[{a}]"]
        return [f"{ind}{y}[[{a}, {b}]] = {y}[[{b}, {a}]]"]

    def template(self, ind):
        r = self.r
        kinds = [
            "bubble",
            "bubble_full",
            "insertion",
            "reverse",
            "runmax",
            "cumsum",
            "gauss",
            "rotate",
            "fill",
        ]
        kinds += ["full", "acc"] if "weak" not in self.avoid else ["full"]
        kind = r.choice(kinds)
        style = r.choice(["tmp", "tuple", "fancy"])
        if kind in ("bubble", "bubble_full", "insertion", "reverse", "runmax", "cumsum", "rotate"):
            lines, y = self.vec_target(ind)
            L = self.env[y].shape[0]
            self.write(y)
            lenL = r.choice([str(L), f"len({y})", f"{y}.shape[0]"])
            j, p = self.fresh("j"), self.fresh("p")
            if kind == "bubble":
                lines += [f"{ind}for {j} in range({lenL} - 1):", f"{ind}    if {y}[{j}] > {y}[{j} + 1]:"]
                lines += self.swap_lines(ind + "        ", y, j, f"{j} + 1", style)
            elif kind == "bubble_full":
                lines += [
                    f"{ind}for {p} in range({lenL} - 1):",
                    f"{ind}    for {j} in range({lenL} - 1 - {p}):",
                    f"{ind}        if {y}[{j}] > {y}[{j} + 1]:",
                ]
                lines += self.swap_lines(ind + "            ", y, j, f"{j} + 1", style)
            elif kind == "insertion":
                key, q = self.fresh("key"), self.fresh("q")
                lo = r.choice(["1", str(L - 1)]) if r.random() < 0.3 else "1"
                lines += [
                    f"{ind}for {j} in range({lo}, {lenL}):",
                    f"{ind}    {key} = {y}[{j}]",
                    f"{ind}    {q} = {j} - 1",
                    f"{ind}    while {q} >= 0 and {y}[{q}] > {key}:",
                    f"{ind}        {y}[{q} + 1] = {y}[{q}]",
                    f"{ind}        {q} -= 1",
                    f"{ind}    {y}[{q} + 1] = {key}",
                ]
            elif kind == "reverse":
                lines += [f"{ind}for {j} in range({L} // 2):"]
                lines += self.swap_lines(ind + "    ", y, j, f"{L - 1} - {j}", style)
            elif kind == "runmax":
                body = r.choice(
                    [
                        [f"{y}[{j}] = np.maximum({y}[{j}], {y}[{j} - 1])"],
                        [f"{y}[{j}] = max({y}[{j}], {y}[{j} - 1])"],
                        [f"if {y}[{j} - 1] > {y}[{j}]:", f"    {y}[{j}] = {y}[{j} - 1]"],
                    ]
                )
                lines += [f"{ind}for {j} in range(1, {lenL}):"] + [f"{ind}    {b}" for b in body]
            elif kind == "cumsum":
                lines += [f"{ind}for {j} in range(1, {lenL}):", f"{ind}    {y}[{j}] += {y}[{j} - 1]"]
            else:  # rotate left by one through a temporary
                t = self.fresh("t")
                lines += [
                    f"{ind}{t} = {y}[0]",
                    f"{ind}for {j} in range({L - 1}):",
                    f"{ind}    {y}[{j}] = {y}[{j} + 1]",
                    f"{ind}{y}[{L - 1}] = {t}",
                ]
            return lines
        if kind == "gauss":
            cands = [nm for nm in self.arrays(ndim=2, writable=True) if self.env[nm].shape[0] >= 2]
            if cands and r.random() < 0.4:
                a, lines = r.choice(cands), []
            else:
                a = self.fresh("a")
                v = self.env["m"]
                self.bind(a, _V(v.shape, v.dt, {self.new_root()}, True))
                lines = [f"{ind}{a} = m.copy()"]
            R, C = self.env[a].shape
            self.write(a)
            p = self.fresh("p")
            if r.random() < 0.5:  # one pivot step on column 0
                lines.append(f"{ind}{p} = np.argmax(np.abs({a}[:, 0]))")
                w = r.random()
                if w < 0.4:
                    lines.append(f"{ind}{a}[[0, {p}]] = {a}[[{p}, 0]]")
                elif w < 0.75:
                    lines.append(f"{ind}{a}[0], {a}[{p}] = {a}[{p}].copy(), {a}[0].copy()")
                else:
                    lines.append(f"{ind}{a}[0], {a}[{p}] = {a}[{p}], {a}[0]")
                if r.random() < 0.5:
                    lines.append(
                        f"{ind}{a}[1:] = {a}[1:] - np.outer({a}[1:, 0], {a}[0]) / (1.0 + np.abs({a}[0, 0]))"
                    )
                self.ints[p] = R
                return lines
            c = self.fresh("c")
            lines += [
                f"{ind}for {c} in range({min(R, C)}):",
                f"{ind}    {p} = {c} + np.argmax(np.abs({a}[{c}:, {c}]))",
            ]
            w = r.random()
            if w < 0.4:
                lines.append(f"{ind}    {a}[[{c}, {p}]] = {a}[[{p}, {c}]]")
            elif w < 0.75:
                lines.append(f"{ind}    {a}[{c}], {a}[{p}] = {a}[{p}].copy(), {a}[{c}].copy()")
            else:
                lines.append(f"{ind}    {a}[{c}], {a}[{p}] = {a}[{p}], {a}[{c}]")
            lines.append(f"{ind}    {a}[{c}] = {a}[{c}] / (1.0 + np.abs({a}[{c}, {c}]))")
            if r.random() < 0.5:
                outer = f"np.outer({a}[{c} + 1:, {c}], {a}[{c}]) * 0.5"
                if _is_int(self.env[a].dt):  # an int array cannot take `-=` of floats in place
                    lines.append(f"{ind}    {a}[{c} + 1:] = {a}[{c} + 1:] - {outer}")
                else:
                    lines.append(f"{ind}    {a}[{c} + 1:] -= {outer}")
            return lines
        if kind == "fill":
            z, j = self.fresh("z"), self.fresh("j")
            A, Bc = r.choice([(3, 4), (2, self.n), (self.n, self.k), (4, 3)])
            src = r.choice(["x", "x", "m[0]"] if self.k == self.n else ["x"])
            val = r.choice([f"{src}[{j} % {self.n}]", f"{src}[{j} % {self.n}] * s"])
            rngt = r.choice([f"range({z}.shape[1])", f"range({Bc})"])
            lines = [
                f"{ind}{z} = np.zeros(({A}, {Bc}))",
                f"{ind}for {j} in {rngt}:",
                f"{ind}    {z}[:, {j}] = {val}",
            ]
            self.bind(z, _V((A, Bc), "f8", {self.new_root()}, True))
            self.write(z)
            return lines
        if kind == "full":
            z = self.fresh("z")
            text = r.choice(
                ["np.full(len(x), x[0])", f"np.full({self.n}, s)", f"np.full(({self.n}, {self.k}), x[i])"]
            )
            S = (self.n, self.k) if "x[i]" in text else (self.n,)
            dt = self.env["s"].dt if ", s)" in text else self.env["x"].dt
            self.bind(z, _V(S, dt, {self.new_root()}, True))
            lines = [f"{ind}{z} = {text}"]
            if r.random() < 0.6:
                lines += (
                    self.store(ind)
                    if r.random() < 0.3
                    else [f"{ind}{z}[{self.idx(S[0])}] = {self.expr(S[1:], 1)[0]}"]
                )
                self.write(z)
            return lines
        # acc: a Python float carried over the data
        acc, j = self.fresh("acc"), self.fresh("j")
        R = min(self.n, r.randint(1, 4))
        init = r.choice(["0.0", "1.0", "0.0"])
        body = r.choice([f"{acc} * x[{j}] + 1.0", f"{acc} + x[{j}] * x[{j}]", f"{acc} * 0.5 + x[{j}]"])
        self.bind(acc, _V((), _promote("pf", self.env["x"].dt)))
        return [f"{ind}{acc} = {init}", f"{ind}for {j} in range({R}):", f"{ind}    {acc} = {body}"]

    # ------------------------------------------------------------------ statements and program

    def block(self, ind, depth, nmin, nmax):
        lines = []
        for _ in range(self.r.randint(nmin, nmax)):
            lines += self.stmt(ind, depth)
        if not lines:
            lines = [f"{ind}pass"]
        return lines

    def stmt(self, ind, depth):
        r = self.r
        u = r.random()
        if depth >= 2:
            u = u * 0.62  # no further nesting
        if u < 0.10:
            return self.fresh_array(ind)[0]
        if u < 0.20:
            return self.view(ind)
        if u < 0.28:
            return self.read(ind)
        if u < 0.52:
            return self.store(ind)
        if u < 0.57:
            return self.scalar_stmt(ind)
        if u < 0.62:
            if self.perex:  # a template's fresh names would be dropped; store instead
                return self.store(ind)
            return self.template(ind)
        if u < 0.77:
            return self.if_stmt(ind, depth)
        if u < 0.9:
            return self.for_stmt(ind, depth)
        return self.while_stmt(ind, depth)

    def returns(self):
        r = self.r
        written = [nm for nm in self.arrays() if self.env[nm].roots & self.written]
        bases = [nm for nm in written if nm[0] in "yaz" and nm not in _ARGS]
        cands = bases * 3 + written
        scal = [nm for nm, v in self.env.items() if v.shape == () and nm != "i"]
        if not cands:
            cands = self.arrays() or ["x"]
        rets = [r.choice(cands)]
        u = r.random()
        if u < 0.25 and scal:
            rets.append(r.choice(sorted(scal)))
        elif u < 0.4:
            rets.append(r.choice(cands))
        elif u < 0.5:  # a view of a local
            nm = rets[0]
            v = self.env[nm]
            rets[0] = r.choice(
                [f"{nm}[1:]", f"{nm}[::-1]"] if len(v.shape) == 1 else [f"{nm}.T", f"{nm}[0]", f"{nm}[:, 0]"]
            )
            if len(v.shape) == 1 and v.shape[0] < 2:
                rets[0] = nm
        if len(rets) == 1:
            return f"    return {rets[0]}"
        return f"    return {', '.join(rets)}" if r.random() < 0.5 else f"    return ({', '.join(rets)})"

    def program(self):
        r = self.r
        n, k = self.n, self.k
        sym = {nm: _DTYPE_SYM[d] for nm, d in self.dts.items()}
        self.env = {
            "x": _V((n,), sym["x"], {"x"}),
            "m": _V((n, k), sym["m"], {"m"}),
            "s": _V((), sym["s"]),
        }
        self.ints = {"i": self.imax}
        body = self.fresh_array("    ")[0] if r.random() < 0.7 else self.template("    ")
        for _ in range(r.randint(2, 9)):
            body += self.stmt("    ", 0)
        if not self.written - set(_ARGS):
            body += self.store("    ")
        body.append(self.returns())
        writes = sorted(self.written & set(_ARGS))
        src = "import numpy as np\n\n\n"
        src += "def f(x, m, s, i):\n" + "\n".join(body) + "\n"
        return src, writes


# ------------------------------------------------------------------------------------------ generate

_WRITES_RE = re.compile(r"^# writes into arguments: (.*)$", re.M)


def written_args(src):
    """The arguments a generated program may write into (from its header comment)."""
    mt = _WRITES_RE.search(src)
    return [w.strip() for w in mt.group(1).split(",") if w.strip()] if mt else []


def _with_writes(src, writes):
    body = _WRITES_RE.sub("", src).lstrip("\n")
    if writes:
        return f"# writes into arguments: {', '.join(writes)}\n" + body
    return body


def _specs(g):
    return [
        ("x", (g.n,), g.dts["x"], None),
        ("m", (g.n, g.k), g.dts["m"], None),
        ("s", (), g.dts["s"], None),
        ("i", (), "int64", g.imax),
    ]


def _trial(src, specs, seed, n_examples=3):
    """Run the program on random examples (and a zero example): the argument names it wrote into.
    Raises whatever the program raises."""
    ns = {}
    exec(compile(src, f"<mutgen {seed}>", "exec"), ns)
    rng = np.random.default_rng(seed)
    wrote = set()
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        for e in range(n_examples + 1):
            args = _example_args(specs, rng)
            if e == n_examples:
                args = [np.zeros_like(a) for a in args]
            args = [a[()] if a.ndim == 0 else a for a in args]
            before = [np.array(a, copy=True) for a in args]
            ns["f"](*args)
            for (name, *_), a, b in zip(specs, args, before):
                if isinstance(a, np.ndarray) and not np.array_equal(a, b, equal_nan=True):
                    wrote.add(name)
    return wrote


def generate(seed, avoid=()):
    """(source_text, func_name, arg_specs), arg_specs [(name, per-example shape, dtype, int_bound)] as
    fuzzgen's. The source starts with ``# writes into arguments: ...`` when the program may write into
    arguments (see ``written_args``). ``avoid``: "weak", "argwrite" (see the module docstring)."""
    for attempt in range(100):
        g = _Gen(seed * 1000 + attempt, avoid)
        src, writes = g.program()
        specs = _specs(g)
        if not _bound_ok(src):
            continue
        try:
            wrote = _trial(src, specs, seed)
        except Exception:
            continue
        if "argwrite" in avoid and wrote:
            continue
        return _with_writes(src, sorted(set(writes) | wrote | _static_writes(src))), "f", specs
    raise RuntimeError(f"no valid program for seed {seed}")


def _root(node):
    while isinstance(node, (ast.Subscript, ast.Attribute, ast.Starred)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _static_writes(src):
    """The array arguments some statement of the program may write into (an item store, an augmented
    assignment, a ufunc's ``out=``), whether or not the trial examples reach it."""
    found = set()
    for n in ast.walk(ast.parse(src)):
        if isinstance(n, ast.Subscript) and isinstance(n.ctx, ast.Store):
            found.add(_root(n))
        elif isinstance(n, ast.AugAssign) and isinstance(n.target, ast.Name):
            found.add(n.target.id)
        elif isinstance(n, ast.keyword) and n.arg == "out":
            found.add(_root(n.value))
    return found & {"x", "m"}


def choose_configs(seed, specs, n_configs=2, writes=()):
    """fuzzgen's configs, with the arguments the program writes into mapped (a write into an unmapped
    argument is shared by every example of the loop) and a per-example length (or 4) among the sizes."""
    r = random.Random(seed + 104729)
    out = []
    for in_axes, sizes, out_axes in _fuzz_configs(seed, specs, n_configs):
        axes = list(in_axes)
        for j, (name, shape, _, _) in enumerate(specs):
            if name in writes and axes[j] is None:
                axes[j] = r.randint(-(len(shape) + 1), len(shape))
        sizes = set(sizes)
        if r.random() < 0.5:
            sizes.add(r.choice([specs[1][1][1], 4, 5, 2]))
        out.append((tuple(axes), sorted(sizes), out_axes))
    return out


# ------------------------------------------------------------------------------------------ checking


def _leaf_arrays(tree):
    import oracle

    return [a for a in oracle._leaves(tree) if isinstance(a, np.ndarray)]


def _check_writes(f, in_axes, out_axes, fresh_args, axis_size=None):
    """The loop on one set of arguments, vmap on an identical one: equal results, equal arguments after."""
    import oracle

    import astvmap

    pristine, args_loop, args_vm = fresh_args(), fresh_args(), fresh_args()
    try:
        expected = oracle.loop_vmap(f, in_axes, out_axes, args_loop, axis_size=axis_size)
        expected_exc = None
    except oracle.ProbeFailed:
        return
    except Exception as e:
        expected, expected_exc = None, e
    kw = {} if axis_size is None else {"axis_size": axis_size}
    with np.errstate(all="ignore"):
        if expected_exc is not None:
            try:
                astvmap.vmap(f, in_axes, out_axes, **kw)(*args_vm)
            except Exception:
                return
            raise AssertionError(
                f"the loop raises {type(expected_exc).__name__}: {expected_exc}, but vmap returned normally"
            )
        result = astvmap.vmap(f, in_axes, out_axes, **kw)(*args_vm)
    for j, (p, a, b) in enumerate(zip(pristine, args_loop, args_vm)):
        if isinstance(p, np.ndarray) and not np.array_equal(a, b, equal_nan=True):
            how = "wrote an input the loop leaves alone" if np.array_equal(a, p, equal_nan=True) else "writes"
            bad = np.argwhere(~np.isclose(np.asarray(a, float), np.asarray(b, float), equal_nan=True))[:4]
            raise AssertionError(
                f"input modified: argument {j} differs after the call from the loop's (vmap {how} it); "
                f"first differing indices {bad.tolist()}"
            )
    oaxes = oracle.expand_axes(out_axes, expected, "out_axes")
    oracle._compare(result, expected, oaxes, _leaf_arrays(args_vm))
    return result


def _check_outputs_distinct(result):
    outs = _leaf_arrays(result)
    for a in range(len(outs)):
        for b in range(a + 1, len(outs)):
            if outs[a].size and outs[b].size and np.shares_memory(outs[a], outs[b]):
                raise AssertionError(f"output shares memory: results {a} and {b} share memory")


def check_case(f, specs, seed, in_axes, B, out_axes, writes):
    """One comparison of vmap with the loop (raises on a difference)."""
    import oracle

    import astvmap

    kw = {"axis_size": B} if all(a is None for a in in_axes) else {}
    if not writes:
        args = make_args(seed, specs, in_axes, B)
        oracle.assert_vmap_equivalent(
            f, in_axes, out_axes, *args, allow_fallback=True, skip_unprobeable=False, **kw
        )
        if B:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = astvmap.vmap(f, in_axes, out_axes, **kw)(*make_args(seed, specs, in_axes, B))
            _check_outputs_distinct(result)
        return
    result = _check_writes(
        f, in_axes, out_axes, lambda: make_args(seed, specs, in_axes, B), kw.get("axis_size")
    )
    if result is not None:
        _check_outputs_distinct(result)


# A function astvmap runs whole as the per-example loop (correct, with a PerformanceWarning) refuses a batch
# of size 0 by design, where the loop would probe a zero example: not counted as a failure.
_B0_LOOP_REFUSAL = "runs as a per-example loop, and with a batch of size 0"


def _run_checked(f, specs, seed, in_axes, B, out_axes, writes):
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        try:
            check_case(f, specs, seed, in_axes, B, out_axes, writes)
        except Exception as e:
            if B == 0 and _B0_LOOP_REFUSAL in str(e):
                return rec
            raise
    for w in rec:
        if "please report" in str(w.message):
            raise AssertionError(f"internal error masked as a fallback: {w.message}")
    return rec


_WHOLE = "the whole function runs as a per-example loop: "


def _record(stats, rec):
    for w in rec:
        msg = str(w.message)
        if _WHOLE in msg:
            key = "whole function loop: " + msg.split(_WHOLE, 1)[1].split("\n")[0][:100]
        elif "per-example loop" in msg:
            key = "partial fallback"
        else:
            continue
        stats[key] = stats.get(key, 0) + 1


def run_case(seed, tmpdir, n_configs=2, avoid=(), stats=None):
    """Generate program `seed`, write it under tmpdir, compare vmap with the loop; raises on a mismatch
    (the note holds the program and the configuration). Returns the number of comparisons. ``stats``: a
    dict counting the fallbacks seen ("whole function loop: <reason>", "partial fallback"): a program
    run whole as the loop passes without testing the rewrite."""
    src, fname, specs = generate(seed, avoid)
    writes = written_args(src)
    f = load(src, fname, os.path.join(str(tmpdir), f"mut_{seed}.py"))
    count = 0
    for in_axes, sizes, out_axes in choose_configs(seed, specs, n_configs, writes):
        for B in sizes:
            try:
                rec = _run_checked(f, specs, seed, in_axes, B, out_axes, writes)
            except Exception as e:
                e.add_note(
                    f"mutgen seed {seed}: B={B}, in_axes={in_axes}, out_axes={out_axes}, "
                    f"shapes={[(nm, sh, dt) for nm, sh, dt, _ in specs]}\n{src}"
                )
                raise
            if stats is not None:
                _record(stats, rec)
            count += 1
    return count


# ------------------------------------------------------------------------------------------ triage

KINDS = (
    "wrong value",
    "wrong dtype",
    "wrong shape",
    "input modified",
    "output shares memory",
    "raise mismatch",
    "masked internal error",
    "crash",
)


def classify(exc):
    """(kind, detail): kind one of KINDS; detail the exception type and first line for a crash."""
    msg = str(exc)
    if isinstance(exc, AssertionError):
        if "input modified" in msg or "mutated its inputs" in msg:
            return "input modified", ""
        if "shares memory" in msg or "broadcast view" in msg or "not writeable" in msg:
            return "output shares memory", ""
        if "dtype" in msg and "!= expected" in msg:
            return "wrong dtype", ""
        if "shape" in msg and "!= expected" in msg:
            return "wrong shape", ""
        if "the loop raises" in msg:
            return "raise mismatch", msg.splitlines()[0][:120]
        if "please report" in msg:
            return "masked internal error", msg.splitlines()[0][:160]
        if "expected" in msg and "got" in msg:
            return "wrong shape", msg.splitlines()[0][:120]
        return "wrong value", ""
    first = msg.strip().splitlines()[0] if msg.strip() else ""
    return "crash", f"{type(exc).__name__}: {first[:160]}"


def _first_failure(f, specs, seed, configs, writes):
    for in_axes, sizes, out_axes in configs:
        for B in sizes:
            try:
                _run_checked(f, specs, seed, in_axes, B, out_axes, writes)
            except Exception as e:
                return (in_axes, B, out_axes), e
    return None, None


def _stmt_lists(fn):
    """Every statement list in the function, in a fixed order, with the names tested by the `while`
    loops around it."""
    out = []

    def walk(stmts, guarded):
        out.append((stmts, guarded))
        for st in stmts:
            g = guarded
            if isinstance(st, ast.While):
                g = guarded | {nd.id for nd in ast.walk(st.test) if isinstance(nd, ast.Name)}
            for field in ("body", "orelse"):
                sub = getattr(st, field, None)
                if isinstance(sub, list) and sub and isinstance(sub[0], ast.stmt):
                    walk(sub, g if field == "body" else guarded)

    walk(fn.body, frozenset())
    return out


def _candidates(src, protected=frozenset()):
    """Smaller programs: one statement deleted, a compound statement replaced by a branch or its body, an
    `else` dropped, a tuple return cut to one element. The counter step of a `while` is never deleted
    (that loop would not end)."""
    tree = ast.parse(src)
    for li, (stmts, guarded) in enumerate(_stmt_lists(tree.body[-1])):
        for si, st in enumerate(stmts):
            variants = []
            steps = (
                isinstance(st, ast.AugAssign) and isinstance(st.target, ast.Name) and st.target.id in guarded
            )
            if ast.unparse(st) in protected:
                continue
            if not isinstance(st, ast.Return) and not steps:
                variants.append([])
            if isinstance(st, ast.If):
                variants.append(st.body)
                if st.orelse:
                    variants.append(st.orelse)
                    variants.append([ast.If(test=st.test, body=st.body, orelse=[])])
            if isinstance(st, ast.For):
                variants.append(st.body)
            if isinstance(st, ast.Return) and isinstance(st.value, ast.Tuple) and len(st.value.elts) > 1:
                variants += [[ast.Return(value=e)] for e in st.value.elts]
            for rep in variants:
                t2 = ast.parse(src)
                target = _stmt_lists(t2.body[-1])[li][0]
                target[si : si + 1] = [copy.deepcopy(x) for x in rep]
                if not target:
                    target.append(ast.Pass())
                yield ast.unparse(ast.fix_missing_locations(t2)) + "\n"


class _Timeout(Exception):
    pass


def _trial_bounded(src, specs, seed, seconds=2):
    def alarm(signum, frame):
        raise _Timeout

    old = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        return _trial(src, specs, seed)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _bound_ok(src):
    """Every name read is bound on every path to it (a `for` body runs at least once, a `while` body
    maybe never, an `if` binds what both branches bind): the shrinker's guard against programs valid on
    the trial examples only."""
    import builtins

    fn = ast.parse(src).body[-1]
    known = set(dir(builtins)) | {"np"}

    def loads_ok(node, bound):
        return all(
            nd.id in bound or nd.id in known
            for nd in ast.walk(node)
            if isinstance(nd, ast.Name) and isinstance(nd.ctx, ast.Load)
        )

    def stores(node):
        return {nd.id for nd in ast.walk(node) if isinstance(nd, ast.Name) and isinstance(nd.ctx, ast.Store)}

    def block(stmts, bound):
        for st in stmts:
            bound = stmt(st, bound)
            if bound is None:
                return None
        return bound

    def stmt(st, bound):
        if isinstance(st, ast.If):
            if not loads_ok(st.test, bound):
                return None
            a, b = block(st.body, set(bound)), block(st.orelse, set(bound))
            return None if a is None or b is None else a & b
        if isinstance(st, ast.For):
            if not loads_ok(st.iter, bound):
                return None
            return block(st.body, bound | stores(st.target))
        if isinstance(st, ast.While):
            if not loads_ok(st.test, bound) or block(st.body, set(bound)) is None:
                return None
            return bound
        if isinstance(st, ast.AugAssign):
            if isinstance(st.target, ast.Name) and st.target.id not in bound:
                return None
            return bound if loads_ok(st, bound) else None
        if not loads_ok(st, bound):
            return None
        return bound | stores(st)

    return block(fn.body, {a.arg for a in fn.args.args}) is not None


def _signature(kind, detail):
    """What must stay the same while shrinking: the kind and, for a crash, the exception type and the
    start of its message with names and numbers taken out."""
    if kind not in ("crash", "masked internal error"):
        return kind
    d = re.sub(r"vmap\([^)]*\)\)?", "", detail)
    d = re.sub(r"`[^`]*`|'[^']*'|\d+", "_", d)
    return kind, d[:70]


def _protected(src):
    """The statement after each `np.empty_like` (its fill): deleting it would read uninitialized memory."""
    out = set()
    for stmts, _ in _stmt_lists(ast.parse(src).body[-1]):
        for a, b in itertools.pairwise(stmts):
            if "empty_like" in ast.unparse(a):
                out.add(ast.unparse(b))
    return out


def shrink(seed, tmpdir=None, n_configs=2, avoid=(), max_checks=400):
    """A smaller program failing like program `seed` (same kind; for a crash, same exception type) on
    the first configuration it fails, by deleting statements while that holds. Returns
    (source, (in_axes, B, out_axes), kind, detail), or None if the seed passes."""
    import tempfile

    tmpdir = tmpdir or tempfile.mkdtemp(prefix="mutgen_shrink_")
    src, fname, specs = generate(seed, avoid)
    writes = written_args(src)
    f = load(src, fname, os.path.join(str(tmpdir), f"mut_{seed}.py"))
    conf, exc = _first_failure(f, specs, seed, choose_configs(seed, specs, n_configs, writes), writes)
    if exc is None:
        return None
    kind, detail = classify(exc)
    want = _signature(kind, detail)
    in_axes, B, out_axes = conf
    checks = 0

    def fails_alike(cand):
        nonlocal checks, exc
        if not _bound_ok(cand):
            return False
        try:
            wrote = _trial_bounded(cand, specs, seed)
        except Exception:
            return False
        checks += 1
        try:
            g = load(cand, fname, os.path.join(str(tmpdir), f"mut_{seed}_s{checks}.py"))
            _run_checked(g, specs, seed, in_axes, B, out_axes, sorted(set(wrote) | set(writes)))
        except Exception as e:
            if _signature(*classify(e)) == want:
                exc = e
                return True
        return False

    best = ast.unparse(ast.parse(src)) + "\n"
    if "empty_like" in best:  # zeros instead, when it fails alike: then any statement may go
        cand = best.replace("np.empty_like(", "np.zeros_like(")
        if fails_alike(cand):
            best = cand
    protected = _protected(best)
    improved = True
    while improved and checks < max_checks:
        improved = False
        for cand in _candidates(best, protected):
            if checks >= max_checks:
                break
            if fails_alike(cand):
                best, improved = cand, True
                break
    return (
        _with_writes(best, [w for w in writes if w in best]),
        conf,
        kind,
        detail or str(exc).splitlines()[0][:160],
    )
