"""Statements of the allocation-free lowering (numba_fuse.py): one pass over the function body, emitting
the lowered `_av_pe` line by line; expressions come from numba_fuse_exprs.py."""

from __future__ import annotations

import ast

from .. import analysis
from ..analysis import activity
from .numba_fuse_exprs import Expressions
from .numba_fuse_values import (
    _OPS,
    Arr,
    Emitter,
    NotFused,
    Scalar,
    _constant,
    _dim_src,
    _is_np,
    _real,
    arith_kind,
    float_kind,
)


class _Lower(Expressions):
    """One pass over the function body; `env` maps names to Scalar, Arr, tuples of those, or "list"."""

    # set by `_passes` (numba_fuse.py) after construction, with `modules` (declared on `ArrayOps`)
    out_rank: int  # the rank of example 0's result
    returned_list: str | None  # the list returned as `np.array(list)` (written into the output row)

    def __init__(self, fdef: ast.FunctionDef, env: dict, mode: str, mapped: set):
        self.fdef = fdef
        self.env = env
        self.mode = mode
        self.mapped = mapped
        self.em = Emitter()
        self.transcendental = 0
        self.loop_depth = 0
        self.stage: int | None = None  # staging (see `stage_site`): the site this pass ends at
        self.sites: list = []  # (ufunc name, shape) of the staged sites met so far
        self.macs = 0
        self.longest = 0
        self.facts = analysis.analyze(fdef)
        self.stores, self.loads = activity.occurrences(fdef)
        self.lists: dict = {}  # list name -> ("out" | array name, counter name)
        self.list_depth: dict = {}  # list name -> block depth where it is made
        self.list_counter: dict = {}  # the returned list -> its counter
        self.kinds_seen: dict = {}  # scalar name -> the kinds assigned to it (NOTE [kinds])
        self.unstable: set = set()  # names assigned with different kinds: read as "?"
        self.return_kinds: list = []  # the kind of every value returned

    def scalar_name(self, name: str, kind: str) -> Scalar:
        """A scalar variable after an assignment of this kind (NOTE [kinds])."""
        self.kinds_seen.setdefault(name, set()).add(kind)
        return Scalar(name, "?" if name in self.unstable else kind)

    # ---- statements ------------------------------------------------------------------------------------
    def body(self, stmts):
        for s in stmts:
            self.stmt(s)

    def stmt(self, s):
        em = self.em
        if isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant):
            return
        if isinstance(s, (ast.Pass, ast.Break, ast.Continue)):
            em.emit(ast.unparse(s))
        elif isinstance(s, ast.Assign):
            self.assign(s)
        elif isinstance(s, ast.AugAssign):
            self.augassign(s)
        elif isinstance(s, ast.Expr):
            self.expr_stmt(s.value)
        elif isinstance(s, ast.Assert):
            test = self.scalar(s.test)
            if _constant(test) is not True:  # `assert x.ndim == 1` is known here: nothing to check
                em.fail(f"not {test}")
        elif isinstance(s, ast.If):
            em.emit(f"if {self.scalar(s.test)}:")
            self.block(s.body)
            if s.orelse:
                em.emit("else:")
                self.block(s.orelse)
        elif isinstance(s, ast.While):
            if s.orelse:
                raise NotFused("while ... else")
            self.loop_depth += 1  # the condition runs every iteration too (no staging there)
            cond = self.scalar_expr_inline(s.test)
            em.emit(f"while {cond}:")
            self.block(s.body)
            self.loop_depth -= 1
        elif isinstance(s, ast.For):
            self.for_(s)
        elif isinstance(s, ast.Return):
            self.return_(s)
        else:
            raise NotFused(f"a {type(s).__name__} statement")

    def block(self, stmts):
        self.em.depth += 1
        n = len(self.em.lines)
        self.body(stmts)
        if len(self.em.lines) == n:
            self.em.emit("pass")
        self.em.depth -= 1

    def scalar_expr_inline(self, node) -> str:
        """A loop condition: re-evaluated every iteration, so it may not emit statements."""
        n = len(self.em.lines)
        src = self.scalar(node)
        if len(self.em.lines) != n:
            raise NotFused("a loop condition that needs statements")
        return src

    def assign(self, s):
        if len(s.targets) != 1:
            raise NotFused("chained assignment")
        t = s.targets[0]
        if isinstance(t, ast.Name):
            if isinstance(s.value, ast.List) and not s.value.elts:
                if self.env.get(t.id) is not None:
                    raise NotFused("a list name reused")
                self.env[t.id] = "list"
                self.list_depth[t.id] = self.em.depth
                if t.id == self.returned_list:  # its length is checked where it is returned
                    self.list_counter[t.id] = self.em.fresh("c")
                    self.em.emit(
                        f"{self.list_counter[t.id]} = 0  # {t.id}: filled straight into the result row"
                    )
                return
            v = self.value(s.value)
            old = self.env.get(t.id)
            if isinstance(v, Scalar):
                if isinstance(old, (Arr, tuple)) or old == "list":
                    raise NotFused(f"{t.id!r} changes from an array to a scalar")
                self.em.emit(f"{t.id} = {v.src}")
                self.env[t.id] = self.scalar_name(t.id, v.kind)
            elif isinstance(v, Arr):
                if old is not None:
                    raise NotFused(f"array {t.id!r} assigned twice")
                self.env[t.id] = self.bind_array(t.id, v)
            else:
                raise NotFused("a tuple value")
        elif isinstance(t, ast.Tuple) and all(isinstance(e, ast.Name) for e in t.elts):
            v = self.value(s.value)
            if not isinstance(v, tuple) or len(v) != len(t.elts) or not isinstance(s.value, ast.Name):
                raise NotFused("tuple unpacking of something other than a tuple argument")
            for e, part in zip(t.elts, v):
                assert isinstance(e, ast.Name)  # checked above
                if self.stores.get(e.id, 0) != 1 or not isinstance(part, Arr):
                    raise NotFused("tuple unpacking into names stored again, or of scalars")
            self.em.emit(f"{ast.unparse(t)} = {s.value.id}")
            for e, part in zip(t.elts, v):
                assert isinstance(e, ast.Name)  # checked above
                self.env[e.id] = _real(e.id, part.shape, part.kind)
                if s.value.id in self.mapped:
                    self.mapped.add(e.id)
        elif isinstance(t, ast.Subscript):
            self.item_store(t, self.scalar(s.value), "=")
        else:
            raise NotFused("an assignment target")

    def bind_array(self, name, v: Arr) -> Arr:
        """Inline a named array used once (when nothing it reads changes), else compute it into an array."""
        single = self.stores.get(name, 0) == 1 and self.loads.get(name, 0) == 1 and self.em.depth == 1
        stable = all(self.stores.get(r, 0) <= 1 for r in v.reads)
        if v.name is not None or (single and stable):
            return v
        self.em.emit(f"{name} = _av_np.empty(({', '.join(map(_dim_src, v.shape))},))")
        self.loops(v.shape, lambda idx: self.em.emit(f"{name}[{', '.join(idx)}] = {v.elem(idx, self.em)}"))
        return _real(name, v.shape, v.kind)

    def augassign(self, s):
        op = _OPS.get(type(s.op))
        if op is None:
            raise NotFused("an augmented operator")
        t = s.target
        if isinstance(t, ast.Name) and isinstance(self.env.get(t.id), Scalar):
            v = self.value(s.value)
            if not isinstance(v, Scalar):
                raise NotFused("an augmented assignment of an array to a number")
            old = self.env[t.id].kind
            self.em.emit(f"{t.id} {op}= {v.src}")
            self.env[t.id] = self.scalar_name(
                t.id, float_kind(old, v.kind) if op == "/" else arith_kind(old, v.kind)
            )
        elif isinstance(t, ast.Subscript):
            self.item_store(t, self.scalar(s.value), op + "=")
        else:
            raise NotFused("an augmented assignment to an array")

    def item_store(self, t: ast.Subscript, value: str, op: str):
        # Writing into an array is left to the plain loop: basic slices and `a = y` alias the written array
        # in NumPy, and the views here are copies (or lazy element expressions) that would not follow.
        raise NotFused("an item write (views of the written array would not see it)")

    def expr_stmt(self, node):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "append"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id in self.lists
            and len(node.args) == 1
            and not node.keywords
        ):
            name = node.func.value.id
            dest, counter = self.lists[name]
            v = self.value(node.args[0])
            if not isinstance(v, Scalar):
                raise NotFused("a list of arrays")
            if name == self.returned_list:
                self.return_kinds.append(v.kind)
            elif v.kind != "f":
                raise NotFused("a list of numbers that may not be floats")
            self.em.emit(f"{dest.format(counter)} = {v.src}")
            self.em.emit(f"{counter} += 1")
            return
        raise NotFused("an expression statement")

    def for_(self, s):
        if s.orelse or not isinstance(s.target, ast.Name):
            raise NotFused("for ... else, or a target that is not a name")
        it = s.iter
        if not (
            isinstance(it, ast.Call)
            and isinstance(it.func, ast.Name)
            and it.func.id == "range"
            and self.env.get("range") is None
            and not it.keywords
            and 1 <= len(it.args) <= 3
        ):
            raise NotFused("a for loop over something other than range(...)")
        name = s.target.id
        if name in self.facts.live_after(s) and not any(d[0] == name for d in self.facts.reaching(s)):
            # read after the loop: unbound after an empty range in Python, a leftover value in Numba
            raise NotFused(f"the loop variable {name!r} read after the loop")
        args = [self.scalar(a) for a in it.args]
        start, stop, step = (["0"] + args + ["1"])[:3] if len(args) == 1 else (args + ["1"])[:3]
        if _constant(step) is None:
            self.em.fail(f"{step} == 0")  # range() arg 3 must not be zero
        filled = self.lists_filled_by(s)
        for name in filled:
            n = self.em.fresh("n")
            self.em.emit(f"{n} = _av_range_len({start}, {stop}, {step})")
            if self.returned_list == name:
                self.em.fail(f"{n} != _av_out.shape[1]")  # another length than example 0's
                dest, counter = "_av_out[_av_i, {}]", self.list_counter[name]
            else:
                if self.em.depth != self.list_depth[name]:
                    raise NotFused("a list filled in a branch")
                dest, counter = name + "[{}]", self.em.fresh("c")
                self.em.emit(f"{name} = _av_np.empty({n})")
                self.em.emit(f"{counter} = 0")
            self.lists[name] = (dest, counter)
        self.env[s.target.id] = self.scalar_name(s.target.id, "i")
        self.em.emit(f"for {s.target.id} in range({start}, {stop}, {step}):")
        self.loop_depth += 1
        self.block(s.body)
        self.loop_depth -= 1
        for name in filled:
            dest, counter = self.lists.pop(name)
            if not dest.startswith("_av_out"):
                self.env[name] = _real(name, (counter,), "f")
            else:
                self.env[name] = "returned"

    def lists_filled_by(self, s: ast.For) -> list:
        """Lists appended once per iteration, at the loop body's top level, with no jump in the loop."""
        pending = [n for n, v in self.env.items() if v == "list"]
        filled = []
        for name in pending:
            appends = [
                n
                for n in ast.walk(s)
                if isinstance(n, ast.Call)
                and isinstance(n.func, ast.Attribute)
                and n.func.attr == "append"
                and isinstance(n.func.value, ast.Name)
                and n.func.value.id == name
            ]
            if not appends:
                continue
            top = [st for st in s.body if isinstance(st, ast.Expr) and st.value in appends]
            jumps = any(isinstance(n, (ast.Break, ast.Continue, ast.Return)) for n in ast.walk(s))
            if len(appends) != 1 or len(top) != 1 or jumps:
                raise NotFused("a list filled other than once per iteration")
            filled.append(name)
        return filled

    def return_(self, s):
        node = s.value
        if node is None:
            raise NotFused("a bare return")
        if (
            self.returned_list is not None
            and isinstance(node, ast.Call)
            and _is_np(node.func, "array", self)
            and len(node.args) == 1
            and isinstance(node.args[0], ast.Name)
            and node.args[0].id == self.returned_list
        ):
            if self.env.get(self.returned_list) != "returned":
                raise NotFused("the returned list is not filled by a loop before the return")
            self.em.fail(f"{self.list_counter[self.returned_list]} != _av_out.shape[1]")
            self.em.emit("return")
            return
        v = self.value(node)
        if isinstance(v, (Scalar, Arr)):
            self.return_kinds.append(v.kind)
        if self.mode == "scalar":
            if not isinstance(v, Scalar):
                raise NotFused("an array returned where example 0 returned a scalar")
            self.em.emit(f"_av_out[_av_i] = {v.src}")
            self.em.emit("return")
            return
        if not isinstance(v, Arr) or len(v.shape) != self.out_rank:
            raise NotFused("a result of another rank than example 0's")
        for k, d in enumerate(v.shape):
            self.em.fail(f"_av_out.shape[{k + 1}] != {_dim_src(d)}")  # another shape than example 0's
        self.loops(
            v.shape, lambda idx: self.em.emit(f"_av_out[_av_i, {', '.join(idx)}] = {v.elem(idx, self.em)}")
        )
        self.em.emit("return")
