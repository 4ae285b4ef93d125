"""Expressions: every visitor returns an `Operand` (the rewritten expression and its `Val`).

NOTE [unbatched stays unbatched]: an expression none of whose parts is batched is emitted exactly as the
user wrote it; rules are only asked for the rank of its result.
"""

from __future__ import annotations

import ast
import operator
import types
import typing

from ..analysis import lists
from ..errors import NotBatchable
from ..kit import templates
from ..rules.values import (
    NO_STATIC,
    UNKNOWN,
    Kind,
    Operand,
    Val,
    Window,
    constant,
    container,
    field_of,
    join_all,
    leaf_batchedness,
    list_item,
    loosened,
    members,
    placed,
    set_of,
    static_value,
    truth,
    unfixed,
)
from .callsites import LocalFunction
from .feedback import holds_no_buffer
from .folding import CMPOPS, calls_something, fold, fold_compare, snapshot
from .objects import made_object, refuse_protocol
from .regions import RegionsMixin

BINOPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
    ast.MatMult: operator.matmul,
    ast.BitAnd: operator.and_,
    ast.BitOr: operator.or_,
    ast.BitXor: operator.xor,
    ast.LShift: operator.lshift,
    ast.RShift: operator.rshift,
}
UNARYOPS = {
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
    ast.Invert: operator.invert,
    ast.Not: operator.not_,
}


class ExpressionsMixin(RegionsMixin):
    """Needs: self.ctx (Context), self.env (dict name -> Val), self.call_(node) from CallsMixin."""

    def expr(self, node: ast.expr) -> Operand:
        self.ctx.node = node
        method = getattr(self, "visit_" + type(node).__name__, None)
        if method is None:
            raise NotBatchable(f"`{ast.unparse(node)}` ({type(node).__name__}) is not supported", node)
        return method(node)

    def exprs(self, nodes) -> list[Operand]:
        return [self.expr(n) for n in nodes]

    # ---- leaves ------------------------------------------------------------------------------------
    def visit_Constant(self, node):
        return Operand(node, constant(node.value), node.value)

    def visit_Name(self, node):
        if node.id in self.env:
            v = self.env[node.id]
            if v.kind == Kind.SET and v.elts is not None and self.fdef and self.escapes_here(node.id):
                v = Val(False, None, Kind.SET)  # (NOTE [sets]: changed where the rewrite does not look)
            if v.is_const:
                static = v.const
            elif v.kind in (Kind.CALLABLE, Kind.MODULE) and not isinstance(v.obj, LocalFunction):
                static = v.obj if v.obj is not None else NO_STATIC
            else:
                static = NO_STATIC
            return Operand(ast.Name(self.code_name(node.id), ast.Load()), v, static)
        found, obj, where = self.ctx.src.resolve(node.id)
        if not found:
            return Operand(ast.Name(node.id, ast.Load()), UNKNOWN)
        if where == "global" and (id(self.ctx.src.globals), node.id) in self.ctx.touched:
            # (code that ran before may have bound it anew, or changed it: as it is when read)
            return Operand(ast.Name(node.id, ast.Load()), UNKNOWN)
        self.record_dep(where, node.id, obj)  # (its value, where it is a constant: NOTE [constants])
        return Operand(ast.Name(node.id, ast.Load()), constant(obj), obj)

    def record_dep(self, where, name, obj):
        self.ctx.deps.append((where, self.ctx.src, name, obj))

    def visit_Attribute(self, node):
        if node.attr == "writeable" and isinstance(node.value, ast.Attribute) and node.value.attr == "flags":
            writeable = self._writeable(node.value)
            if writeable is not None:
                return writeable
        base = self.expr(node.value)
        self.ctx.node = node
        if base.fresh and base.is_static and base.val.kind in (Kind.OTHER, Kind.TUPLE):
            # an attribute of what a fold made now (`inspect.signature(f).parameters`): made with it
            new = ast.Attribute(base.node, node.attr, ast.Load())
            try:
                value = getattr(base.static, node.attr)
            except Exception:
                value = NO_STATIC
            if value is not NO_STATIC:
                return Operand(new, snapshot(value), value, fresh=True)
        if (
            base.is_static
            and not base.val.batched
            and (
                base.val.kind in (Kind.MODULE, Kind.CALLABLE, Kind.OTHER)
                or (base.val.kind == Kind.TUPLE and hasattr(type(base.static), "_fields"))  # a record
            )
        ):
            return self.static_attribute(
                ast.Attribute(base.node, node.attr, ast.Load()), base.static, node.attr
            )
        field = field_of(base.val, node.attr)
        if field is not None:  # `p.w` of a record known field by field (NOTE [pytrees])
            return Operand(ast.Attribute(base.node, node.attr, ast.Load()), field)
        v = base.val
        if made_object(v):  # (NOTE [objects])
            got = self.object_attribute(node, base)
            if got is not None:
                return got
        if not v.batched and v.kind == Kind.OTHER and v.obj is not None:
            # an unmapped argument's attribute (`cfg.w`): the specialization is keyed on the object
            return self.static_attribute(ast.Attribute(base.node, node.attr, ast.Load()), v.obj, node.attr)
        return self.attribute_rule(node, base)

    def _writeable(self, flags: ast.Attribute) -> Operand | None:
        """`x.flags.writeable` of a batched array: each example's array is a view of the batch's, and a
        view is writeable where its base is (other flags, the layout's, differ between the two)."""
        base = self.expr(flags.value)
        if not (base.batched and base.val.kind == Kind.ARRAY):
            return None
        node = ast.Attribute(ast.Attribute(base.node, "flags", ast.Load()), "writeable", ast.Load())
        return Operand(node, Val(False, 0, Kind.SCALAR, "b"))

    def static_attribute(self, new: ast.expr, obj, attr: str) -> Operand:
        """Attribute `attr` of an object known when rewriting (`cfg.w`, `mod.W`, `getattr(mod, name)`):
        its value, a dependency like a global's (the object may be given a new value)."""
        try:
            value = getattr(obj, attr)
        except AttributeError:
            return Operand(new, UNKNOWN)
        if isinstance(obj, types.ModuleType) and (id(obj.__dict__), attr) in self.ctx.touched:
            return Operand(new, UNKNOWN)  # (`helper.X` after code that binds it anew: as it is when read)
        self.ctx.deps.append(("attr", obj, attr, value))
        return Operand(new, constant(value), value)

    # ---- operators ---------------------------------------------------------------------------------
    def visit_BinOp(self, node):
        left, right = self.expr(node.left), self.expr(node.right)
        self.ctx.node = node
        folded = fold(ast.BinOp(left.node, node.op, right.node), BINOPS[type(node.op)], [left, right])
        if folded is not None:
            return folded
        a, b = members(left.val), members(right.val)
        if a is not None and b is not None and type(node.op) in _SET_OPS:  # (NOTE [sets])
            made = _SET_OPS[type(node.op)](a, b)
            return Operand(ast.BinOp(left.node, node.op, right.node), set_of([constant(m) for m in made]))
        if _SEQUENCES & {left.val.kind, right.val.kind} and isinstance(node.op, (ast.Add, ast.Mult)):
            joined = self.sequence_op(node, left, right)
            if joined is not None:
                return joined
        return self.apply(BINOPS[type(node.op)], [left, right], {}, node, syntax=node)

    def sequence_op(self, node: ast.BinOp, left: Operand, right: Operand) -> Operand | None:
        """`a + b` of two lists (or tuples), `s * n` of one and an int: a new one of their items in order
        (NOTE [list items]: where the items are not known one by one, every item as batched as any)."""
        a, b = left.val, right.val
        if isinstance(node.op, ast.Mult):
            seq, n = (left, right) if a.kind in _SEQUENCES else (right, left)
            if n.batched:
                raise self.ctx.fail("a list or tuple repeated a number of times each example chooses")
            times = n.val.const if n.val.is_const and isinstance(n.val.const, int) else None
            v = seq.val
            if v.elts is not None and times is not None and v.cls is None:
                return Operand(
                    ast.BinOp(left.node, node.op, right.node), _sequence_of(v.kind, v.elts * max(times, 0))
                )
            if v.elts is not None and v.batched:  # (NOTE [list items]: its items no longer known one by one)
                if v.kind != Kind.LIST:
                    raise self.ctx.fail("a tuple of per-example items repeated a number of times not known")
                seq = self.ctx.promote(seq, Val(True, None, Kind.LIST, item=Val(True, None)))
            v = Val(v.batched, None, v.kind, item=list_item(seq.val)) if v.elts is not None else v
            operands = (seq.node, n.node) if a.kind in _SEQUENCES else (n.node, seq.node)
            return Operand(ast.BinOp(operands[0], node.op, operands[1]), v)
        if a.kind != b.kind or a.cls is not None or b.cls is not None:
            return None
        if a.elts is not None and b.elts is not None:
            made = _sequence_of(a.kind, a.elts + b.elts)
            return Operand(
                ast.BinOp(left.node, ast.Add(), right.node), made, made.const if made.is_const else NO_STATIC
            )
        items = [i for i in (list_item(a), list_item(b)) if i is not None]
        item = join_all(items) if items else None
        if item is None:
            return Operand(ast.BinOp(left.node, ast.Add(), right.node), Val(False, None, a.kind))
        want = Val(item.batched, None, a.kind, item=item)
        left, right = self.ctx.promote(left, want), self.ctx.promote(right, want)
        return Operand(ast.BinOp(left.node, ast.Add(), right.node), want)

    def visit_UnaryOp(self, node):
        operand = self.expr(node.operand)
        self.ctx.node = node
        if (
            operand.is_static
            and isinstance(operand.static, (int, float, complex))
            and isinstance(node.op, (ast.USub, ast.UAdd))
        ):
            value = -operand.static if isinstance(node.op, ast.USub) else operand.static
            return Operand(ast.UnaryOp(node.op, operand.node), constant(value), value)
        known = self.truth_of(operand)
        if isinstance(node.op, ast.Not) and known is not None:
            value = not known
            return Operand(ast.UnaryOp(node.op, operand.node), constant(value), value)
        folded = fold(ast.UnaryOp(node.op, operand.node), UNARYOPS[type(node.op)], [operand])
        if folded is not None:
            return folded
        if isinstance(node.op, ast.Not) and not operand.batched:
            return Operand(ast.UnaryOp(ast.Not(), operand.node), Val(False, 0, Kind.SCALAR, "b"))
        return self.apply(UNARYOPS[type(node.op)], [operand], {}, node, syntax=node)

    def visit_Compare(self, node):
        left = self.expr(node.left)
        rights = self.exprs(node.comparators)
        self.ctx.node = node
        ops = [left] + rights
        if not any(o.batched for o in ops):
            new = ast.Compare(left.node, node.ops, [r.node for r in rights])
            folded = fold_compare(new, node.ops, ops)
            if folded is not None:
                return folded
            answer = self.known_comparison(node.ops, ops)
            if answer is not None:
                return Operand(new, constant(answer), answer)
            fn = CMPOPS.get(type(node.ops[0]))
            if len(rights) == 1 and fn is not None:
                return Operand(new, self.apply(fn, ops, {}, node, syntax=new).val)
            return Operand(new, Val(False, None, Kind.OTHER))
        fact = _is_none(node.ops, ops)
        if fact is not None:
            return Operand(ast.Constant(fact), constant(fact), fact)
        parts = []
        for op, a, b in zip(node.ops, ops, ops[1:]):
            fn = CMPOPS.get(type(op))
            if fn is None:
                raise self.ctx.fail(f"`{type(op).__name__}` comparison of a batched value")
            parts.append(self.apply(fn, [a, b], {}, node, syntax=ast.Compare(a.node, [op], [b.node])))
        out = parts[0]
        for p in parts[1:]:
            # a < b < c per example is `(a < b) and (b < c)`: for per-example scalars that is `&`.
            if out.val.ndim != 0 or p.val.ndim != 0:
                raise self.ctx.fail("a chained comparison of per-example arrays (the loop would raise)")
            out = Operand(ast.BinOp(out.node, ast.BitAnd(), p.node), Val(True, 0, Kind.ARRAY, "b"))
        return out

    def test(self, node: ast.expr) -> Operand:
        """The operand of a test (`if`, `while`, `assert`, a filter): batched only where each example's
        truth may differ. A list's, a dict's, a set's or a tuple's is its length, one for all examples
        whatever its items are."""
        op = self.expr(node)
        if not op.batched or self.truth_of_each(op):
            return op
        return Operand(op.node, Val(False, 0, Kind.SCALAR, "b"), op.static)

    def truth_of_each(self, op: Operand) -> bool:
        """May examples differ in the truth of `op`?"""
        return op.batched and op.val.kind not in (Kind.LIST, Kind.DICT, Kind.SET, Kind.TUPLE)

    def truth_of(self, op: Operand) -> bool | None:
        """`bool()` of `op` where the rewrite knows it (values.truth), a list's or dict's too where its
        length or keys are known as they are read here."""
        v = op.val
        if v.kind == Kind.LIST:
            n = self.known_length(op)
            return None if n is None else n > 0
        if v.kind == Kind.DICT:
            keys = self.items_read(op).keys
            return None if keys is None else bool(keys)
        return truth(v)

    def known_comparison(self, ops: list[ast.cmpop], operands: list[Operand]) -> bool | None:
        """`key in d`, `key in s`, `key in lst` of a constant among known keys, members or constant items,
        and `s == t` of sets of known members: Python's answer, computed now; None where not known."""
        if len(ops) != 1:
            return None
        op, (a, b) = ops[0], operands
        if isinstance(op, (ast.Eq, ast.NotEq)):
            sa, sb = members(a.val), members(b.val)
            if sa is None or sb is None:
                return None
            return (sa == sb) == isinstance(op, ast.Eq)
        if not isinstance(op, (ast.In, ast.NotIn)) or not a.val.is_const:
            return None
        found = _member(a.val.const, self.items_read(b) if b.val.kind in (Kind.LIST, Kind.DICT) else b.val)
        return None if found is None else found == isinstance(op, ast.In)

    def visit_BoolOp(self, node):
        # `a and b` is `b if a else a`, `a or b` is `a if a else b` (a evaluated once): Python's
        # short-circuit, and its choice of operand as the result, carry over to batched tests.
        if len(node.values) > 2:
            inner = ast.copy_location(ast.BoolOp(node.op, node.values[:-1]), node)
            inner.end_lineno, inner.end_col_offset = node.end_lineno, node.end_col_offset
            node = ast.copy_location(ast.BoolOp(node.op, [inner, node.values[-1]]), node)
        mark = len(self.ctx.pending)
        left = self.expr(node.values[0])
        known = self.truth_of(left)
        if known is not None:  # Python's short-circuit, decided now (NOTE [constants])
            if known == isinstance(node.op, ast.Or):
                return left  # (`b` is never evaluated)
            right = self.expr(node.values[1])
            return Operand(ast.BoolOp(node.op, [left.node, right.node]), right.val, right.static)
        right = self.lazy(lambda: self.expr(node.values[1]))
        self.ctx.node = node
        if not left.batched and not right.batched:
            return Operand(ast.BoolOp(node.op, [left.node, right.node]), join_all([left.val, right.val]))
        fast = self.bool_fast_path(node, [left, right]) if self.truth_of_each(left) else None
        if fast is not None:  # (a list's truth is one for all examples: the `if` below, per call)
            return fast
        del self.ctx.pending[mark:]
        left = self.expr(node.values[0])
        if not isinstance(left.node, (ast.Name, ast.Constant)):
            left = Operand(self.ctx.temp(left.node, "value"), left.val)
            assert isinstance(
                left.node, ast.Name
            )  # ctx.temp names it: the walker never runs while a rule infers
            self.renames.pop(left.node.id, None)  # a fresh name: any rename is a redone rewrite's
        name = left.node.id if isinstance(left.node, ast.Name) else None
        if name is not None and name not in self.env:
            self.env[name] = left.val
        ref = ast.copy_location(ast.Name(name, ast.Load()), node) if name else left.node
        if isinstance(node.op, ast.And):
            ifexp = ast.IfExp(ref, node.values[1], ref)
        else:
            ifexp = ast.IfExp(ref, ref, node.values[1])
        ast.copy_location(ifexp, node)
        ifexp.end_lineno, ifexp.end_col_offset = node.end_lineno, node.end_col_offset
        return self.visit_IfExp(ifexp)

    def visit_IfExp(self, node):
        test = self.test(node.test)
        self.ctx.node = node
        if test.batched:
            self.chosen_per_example.add(id(node))
            return self.batched_ifexp(node, test)
        known = self.truth_of(test)
        if known is not None:  # one path (NOTE [constants]); the other may not even rewrite
            if calls_something(test.node):  # (the test still runs, before the path)
                taken = self.lazy(lambda: self.expr(node.body if known else node.orelse))
                return Operand(ast.IfExp(test.node, taken.node, taken.node), taken.val, taken.static)
            return self.expr(node.body if known else node.orelse)  # (as a decided `if` keeps its path)
        body, orelse = self.lazy(lambda: self.expr(node.body)), self.lazy(lambda: self.expr(node.orelse))
        val = join_all([body.val, orelse.val])
        body = self.lazy(lambda: self.ctx.promote(body, val))
        orelse = self.lazy(lambda: self.ctx.promote(orelse, val))
        return Operand(ast.IfExp(test.node, body.node, orelse.node), val)

    in_iterables = 0  # (rewriting a comprehension's iterable: `lazy` may bind no temporaries there)
    in_comprehension = 0  # (rewriting a comprehension: an assignment expression there is refused)
    in_lazy = 0  # (rewriting a part Python may skip: an assignment expression there is refused)

    def iterable(self, node: ast.expr) -> Operand:
        """A comprehension's iterable, rewritten."""
        self.in_iterables += 1
        try:
            return self.expr(node)
        finally:
            self.in_iterables -= 1

    def lazy(self, rewrite) -> Operand:
        """The operand `rewrite()` gives, for a part of an expression Python may not evaluate (a branch of
        `a if t else b`, the right side of `and`/`or`): the temporaries its code needs are bound inside
        it, as it runs (`(t := ..., t * 2)[-1]`), never in a statement before the whole one."""
        mark = len(self.ctx.pending)
        self.in_lazy += 1
        try:
            op = rewrite()
        finally:
            self.in_lazy -= 1
        added = self.ctx.pending[mark:]
        if not added:
            return op
        if self.in_iterables:  # (Python refuses an assignment expression in a comprehension's iterable)
            raise self.ctx.fail("a part of a comprehension's iterable Python may skip that needs temporaries")
        steps: list[ast.expr] = []
        for s in added:
            if not (isinstance(s, ast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], ast.Name)):
                raise self.ctx.fail(
                    "a part of an expression Python may skip that needs statements of its own"
                )
            steps.append(ast.NamedExpr(ast.Name(s.targets[0].id, ast.Store()), s.value))
        del self.ctx.pending[mark:]
        node = ast.Subscript(ast.Tuple([*steps, op.node], ast.Load()), ast.Constant(-1), ast.Load())
        return Operand(node, op.val, op.static, fresh=op.fresh)

    # ---- displays ------------------------------------------------------------------------------
    def visit_Tuple(self, node):
        elts = self._elts(node.elts)
        return Operand(
            ast.Tuple([e.node for e in elts], ast.Load()),
            container(Kind.TUPLE, [placed(e) for e in elts]),
            _static_seq(elts, tuple),
        )

    def visit_List(self, node):
        elts = self._elts(node.elts)
        v = container(Kind.LIST, [placed(e) for e in elts])
        return Operand(
            ast.List([e.node for e in elts], ast.Load()), v.with_(item=list_item(v)), _static_seq(elts, list)
        )

    def _elts(self, nodes):
        out = []
        for n in nodes:
            if isinstance(n, ast.Starred):
                inner = self.expr(n.value)
                if inner.val.elts is None or inner.val.kind not in (Kind.TUPLE, Kind.LIST):
                    raise self.ctx.fail("a starred element of unknown length")
                for i, e in enumerate(inner.val.elts):
                    out.append(Operand(templates.index(inner.node, [i]), e))
            else:
                out.append(self.expr(n))
        return out

    def visit_Dict(self, node):
        if any(k is None for k in node.keys):
            raise self.ctx.fail("`**` in a dict display")
        keys = [static_value(k) for k in node.keys]
        values = self.exprs(node.values)
        new = ast.Dict([self.expr(k).node for k in node.keys], [v.node for v in values])
        if any(k is NO_STATIC for k in keys):
            if any(v.batched for v in values):
                raise self.ctx.fail("a dict with computed keys holding batched values")
            return Operand(new, Val(False, None, Kind.DICT))
        return Operand(new, container(Kind.DICT, [placed(v) for v in values], keys))

    def visit_Set(self, node):
        elts = self.exprs(node.elts)
        if any(e.batched for e in elts):
            raise self.ctx.fail("a set of batched values")
        return Operand(ast.Set([e.node for e in elts]), _set_of(elts))

    def visit_JoinedStr(self, node):
        values = [self.expr(v.value) for v in node.values if isinstance(v, ast.FormattedValue)]
        if any(v.batched for v in values):
            raise self.ctx.fail("formatting a batched value into a string")
        text = _formatted(node, [v.val for v in values])  # (`f"atleast_{ndim}d"` of a constant)
        return (
            Operand(node, constant(text), text)
            if text is not None
            else Operand(node, Val(False, None, Kind.OTHER))
        )

    def visit_Slice(self, node):
        parts = [None if p is None else self.expr(p) for p in (node.lower, node.upper, node.step)]
        if any(p is not None and p.batched for p in parts):
            length = _static_length(node.lower, node.upper)
            if (
                length is None
                and node.lower is not None
                and isinstance(node.upper, ast.BinOp)
                and isinstance(node.upper.op, ast.Add)
                and ast.dump(node.upper.left) == ast.dump(node.lower)
            ):
                size = self.expr(node.upper.right)  # x[i:i + k] with k the same for every example
                length = None if size.batched or size.val.ndim not in (0, None) else size
            if (
                node.step is None
                and length is not None
                and (not isinstance(length, int) or length >= 0)
                and parts[0] is not None  # always: a known length needs both bounds
                and parts[0].val.ndim == 0
            ):
                assert parts[1] is not None  # a known length needs both bounds
                new = ast.Slice(parts[0].node, parts[1].node)
                return Operand(new, Val(True, None, Kind.OTHER), Window(parts[0], length))
            raise self.ctx.fail("a slice with per-example bounds (the result's shape would vary by example)")
        new = ast.Slice(*(None if p is None else p.node for p in parts))
        static = (
            slice(*(None if p is None else p.static for p in parts))
            if all(p is None or p.is_static for p in parts)
            else NO_STATIC
        )
        return Operand(new, Val(False, None, Kind.OTHER), static)

    def visit_Starred(self, node):
        raise self.ctx.fail("a starred expression here")

    # ---- subscripts ----------------------------------------------------------------------------------
    def visit_Subscript(self, node):
        value = self.expr(node.value)
        index = self.expr(node.slice)
        self.ctx.node = node
        if made_object(value.val) and not (index.batched and isinstance(index.node, ast.Slice)):
            got = self.object_item(node, value, index)  # (NOTE [objects])
            if got is not None:
                return got
        v = self.items_read(value)
        container = v.kind in (Kind.TUPLE, Kind.LIST, Kind.DICT)
        if container and v.elts is not None and index.is_static and not index.batched:
            elt = self._static_element(v, index.static)
            if elt is not None:
                return Operand(ast.Subscript(value.node, index.node, ast.Load()), elt, _static_of(elt))
            if _no_item(v, index.static) and (
                not value.is_static or type(value.static) in (dict, list, tuple)
            ):
                # Python raises KeyError or IndexError here, whatever the values (`sys.modules["pandas"]`)
                missing = self.ctx.expr("av__.item_missing(c, k)", c=value.node, k=index.node)
                return Operand(missing, UNKNOWN, raises=True)
        item: Val | None  # the Val of an element, when one Val covers them
        if v.kind == Kind.LIST and not index.batched and v.elts is None:
            item = v.item or UNKNOWN
            if isinstance(node.slice, ast.Slice):
                return Operand(ast.Subscript(value.node, index.node, ast.Load()), v)
            return Operand(ast.Subscript(value.node, index.node, ast.Load()), item)
        if container and not index.batched:
            item = list_item(v) if v.kind != Kind.DICT else join_all(list(v.elts or ())) if v.elts else None
            mixed = item is not None and item.batched and any(e != item for e in (v.elts or ()))
            if mixed:
                raise self.ctx.fail(
                    "indexing a container whose elements differ in batchedness "
                    "with an index known only at run time"
                )
            if isinstance(node.slice, ast.Slice) and v.elts is not None:  # (which items: not known here)
                v = Val(v.batched, None, v.kind, item=item) if v.kind != Kind.DICT else UNKNOWN
            return Operand(
                ast.Subscript(value.node, index.node, ast.Load()),
                item
                if item is not None and not isinstance(node.slice, ast.Slice)
                else (v if isinstance(node.slice, ast.Slice) else UNKNOWN),
            )
        return self.element_copy(node, self.apply(operator.getitem, [value, index], {}, node, syntax=node))

    @staticmethod
    def _static_element(v: Val, key):
        assert v.elts is not None  # the caller checks
        if v.kind == Kind.DICT:
            assert v.keys is not None  # a dict Val with known elements knows its keys
            try:
                return v.elts[v.keys.index(key)]
            except (ValueError, TypeError):
                return None
        if isinstance(key, int) and -len(v.elts) <= key < len(v.elts):
            return v.elts[key]
        if isinstance(key, slice):
            return container(v.kind, v.elts[key])
        return None

    def items_read(self, op: Operand) -> Val:
        """The Val of the list or dict `op` as a read of its items sees it: its items one by one where one
        name of this function alone holds it; else (NOTE [list items]: another holder may have changed
        them) per-call items as one joined item, per-example ones without their values."""
        v = op.val
        if v.kind not in (Kind.LIST, Kind.DICT) or v.elts is None:
            return v
        if not isinstance(op.node, ast.Name) or op.node.id not in self.local_names:
            return v  # (a value read where it is made, or a global's: what it was when rewriting)
        if self.fdef is not None and not self.held_before(op.node.id):
            return v
        if not v.batched:
            return Val(False, None, v.kind, item=list_item(v) if v.kind == Kind.LIST else None)
        return v.with_(elts=tuple(unfixed(e) for e in v.elts))

    def held_before(self, name: str) -> bool:
        """May another holder have the list `name` holds before the end of the statement being rewritten
        and of the node being read (lists.held_before), or anywhere, where either is not known?"""
        assert self.fdef is not None
        if self.caller_holds(name) and any(
            p in self.container_params for p in lists.parameters_changed(self.fdef) - {name}
        ):
            return True  # (the caller may have given it as another parameter, which the function changes)
        end = self._read_point()
        if end is None:
            return lists.held_elsewhere(self.fdef, name, caller=False)
        return lists.held_before(self.fdef, name, end, frozenset(self.not_run))

    def escapes_here(self, name: str) -> bool:
        """May the list `name` holds have changed other than as the rewrite followed, before the end of
        the statement being rewritten (lists.escapes_before)?"""
        assert self.fdef is not None
        end = self._read_point()
        if end is None:
            return lists.escapes(self.fdef, name)
        return lists.escapes_before(self.fdef, name, end, frozenset(self.not_run))

    def _read_point(self) -> tuple[int, int] | None:
        """Where the statement being rewritten (a compound one's header: its test, its iterable), and
        the node being read, end (the later of the two; None where either is not known)."""
        at = self.at[-1] if self.at else None
        header = {ast.If: "test", ast.While: "test", ast.For: "iter"}.get(type(at))
        ends = [
            (n.end_lineno, n.end_col_offset)
            for n in (getattr(at, header) if header else at, self.ctx.node)
            if isinstance(n, (ast.stmt, ast.expr))
            and n.end_lineno is not None
            and n.end_col_offset is not None
        ]
        return max(ends) if len(ends) == 2 else None

    # ---- comprehensions ----------------------------------------------------------------------------
    def visit_ListComp(self, node):
        unrolled = self._unrolled_comprehension(node)
        if unrolled is not None:
            v = container(Kind.LIST, [e.val for e in unrolled])
            return Operand(ast.List([e.node for e in unrolled], ast.Load()), v.with_(item=list_item(v)))
        return self._comprehension(node, ast.ListComp)

    def visit_SetComp(self, node):
        unrolled = self._unrolled_comprehension(node)
        if unrolled is None:
            whole = self._comprehension(node, ast.SetComp)
            if whole.batched:
                raise self.ctx.fail("a set of batched values")
            made = whole.val.elts  # (one per item iterated, where that is known)
            if made is None:
                return Operand(whole.node, Val(False, None, Kind.SET))
            return Operand(whole.node, set_of(list(made)))
        if any(e.batched for e in unrolled):
            raise self.ctx.fail("a set of batched values")
        if not unrolled:
            return Operand(ast.Call(ast.Name("set", ast.Load()), [], []), _set_of(()))
        return Operand(ast.Set([e.node for e in unrolled]), _set_of(unrolled))

    def visit_GeneratorExp(self, node):
        return self._comprehension(node, ast.GeneratorExp)

    def _unrolled_comprehension(self, node) -> list[Operand] | None:
        """`[f(a) for a in args if a is not None]` over a tuple or list of known length whose items differ
        in what is known of them (a batched array and None, as a library's `*args` holds), are constants
        (`[kwds.pop(p) for p in ("a", "b")]`) or that filters them (the result's length is then known):
        written out item by item, `[f(args[0])]`, each with
        its item's facts, where every filter is known when rewriting (over nothing: `[]`, its item never
        computed); None for any other comprehension (it is rewritten whole, its items' facts joined)."""
        if any(isinstance(n, ast.NamedExpr) for n in ast.walk(node)):
            return None  # (an assignment expression binds the enclosing scope's name: rewritten whole)
        g = node.generators[0]
        if len(node.generators) != 1 or g.is_async or not isinstance(g.target, ast.Name):
            return None
        if _rebinds(node, g.target.id):
            return None
        mark, env = self.ctx.mark(), dict(self.env)
        it = self.iterable(g.iter)
        n = self.known_length(it) if it.val.kind in (Kind.TUPLE, Kind.LIST) else None  # (a set: no order)
        elts = it.val.elts or ()
        if (
            n is None
            or not 0 <= n <= _UNROLLED
            or (
                len({(leaf_batchedness(e), e.kind, e.ndim) for e in elts}) == 1
                and not g.ifs
                and not all(e.is_const for e in elts)  # (constants: each item's value may decide)
            )
        ):
            self.ctx.rollback(mark, pending=True)
            self.env = env
            return None
        # the iterable evaluated once, as Python does; its items read by index
        source = it.node if isinstance(it.node, ast.Name) else self.ctx.temp(it.node, "items")
        assert isinstance(source, ast.Name)  # (ctx.temp names it)
        self.env.setdefault(source.id, it.val)
        out = []
        for i in range(n):
            item = ast.Subscript(templates.clone(source), ast.Constant(i), ast.Load())
            filters = [self.expr(_substitute(t, g.target.id, item)) for t in g.ifs]
            tests = [self.truth_of(f) for f in filters]
            if None in tests or any(calls_something(f.node) for f in filters):
                self.ctx.rollback(mark, pending=True)
                self.env = env
                return None
            if all(tests):
                out.append(self.expr(_substitute(node.elt, g.target.id, item)))
        if source is not it.node:
            del self.env[source.id]
        return out

    def _comprehension(self, node, cls):
        # a comprehension's targets are its own scope: whatever names they get, they leave no trace
        self.in_comprehension += 1
        try:
            return self._comprehension_as_written(node, cls)
        finally:
            self.in_comprehension -= 1

    def _comprehension_as_written(self, node, cls):
        saved, saved_renames = dict(self.env), dict(self.renames)
        region = self.region
        region_stores = set(region.stores) if region is not None else set()
        gens, first_length = [], None
        try:
            for g in node.generators:
                it = self.iterable(g.iter)
                if g is node.generators[0]:
                    first_length = self.known_length(it)
                self.ctx.node = g
                if g.is_async:
                    raise self.ctx.fail("an async comprehension")
                iter_node, elem = self.iteration(it, g.iter)
                target = self.bind_target(g.target, Operand(ast.Name("_", ast.Load()), elem), store_only=True)
                before = len(self.ctx.pending)
                ifs = [self.test(i) for i in g.ifs]
                _no_statements(self.ctx, before)
                if any(i.batched for i in ifs):
                    raise self.ctx.fail(
                        "a comprehension filter on a batched test (the length would vary by example)"
                    )
                gens.append(ast.comprehension(target, iter_node, [i.node for i in ifs], 0))
            before = len(self.ctx.pending)
            elt = self.expr(node.elt)
            _no_statements(self.ctx, before)
        finally:
            self.env, self.renames = saved, saved_renames
            if region is not None:
                for name in set(region.stores) - region_stores:
                    del region.stores[name]
                    region.starts.pop(name, None)
        changed = lists.changed_in(node)
        for name in changed & set(self.env):  # (NOTE [list items]: changed per item)
            self.forget_items(ast.Name(name, ast.Load()))
        if changed:  # (`[d.pop(k) for d in dicts]`: the containers inside what it reads)
            read = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} & set(self.env)
            for name in read:
                self.env[name] = loosened(self.env[name], itself=False)
        out = Val(elt.val.batched, None, Kind.LIST, item=elt.val)
        if len(gens) == 1 and not gens[0].ifs and cls is not ast.GeneratorExp and first_length is not None:
            out = container(Kind.LIST, [elt.val] * first_length).with_(item=elt.val)  # (one per item)
        return Operand(cls(elt.node, gens), out)

    def visit_Lambda(self, node):
        return Operand(node, Val(False, None, Kind.CALLABLE, obj=LocalFunction(node, "lambda")))

    def visit_NamedExpr(self, node):
        """`(name := value)` of a value per call that holds no array (a string, a number, a module):
        bound where it stands, as Python binds it (a decided test that holds one still runs:
        `folding.evaluated`). A per-example value, one that may hold a buffer (the alias analysis would
        have to follow it), one in a part Python may skip, or one inside a comprehension or a region
        (whose names are its own) is refused."""
        value = self.expr(node.value)
        name = node.target.id
        holds_nothing = holds_no_buffer(value.val) or value.val.kind in (Kind.MODULE, Kind.CALLABLE)
        if value.batched or not holds_nothing or self.region is not None or self.in_comprehension:
            raise self.ctx.fail("an assignment expression (`:=`) of a value that may hold an array")
        if self.in_lazy or self.masked:  # (it binds only where Python evaluates it: not known here)
            raise self.ctx.fail("an assignment expression (`:=`) in a part Python may skip")
        if self.code_name(name) != name:
            raise self.ctx.fail("an assignment expression (`:=`) of a name renamed here")
        self.env[name] = value.val
        return Operand(ast.NamedExpr(ast.Name(name, ast.Store()), value.node), value.val, value.static)

    # ---- iteration -----------------------------------------------------------------------------------
    def iteration(self, it: Operand, node) -> tuple[ast.expr, Val]:
        """(iterable expression, element Val) for `for ... in it`."""
        v = it.val
        refuse_protocol(self.ctx, [v], "iterating")
        if v.batched and (v.kind == Kind.OTHER or v.selection is not None):
            # (a masked selection, a loop's result of a kind not known: iterating it would iterate the lanes)
            raise self.ctx.fail("iterating over a per-example value of a kind not known when rewriting")
        if v.batched and v.kind == Kind.ARRAY:
            if v.ndim == 0:
                raise self.ctx.error(
                    "iterating over a per-example scalar (the loop raises TypeError: "
                    "iteration over a 0-d array)",
                    node,
                )
            # Rows of each example: iterate the per-example axis 0, which is axis 1 of the batch.
            return self.ctx.expr("np.moveaxis(x, 1, 0)", x=it.node), Val(
                True, None if v.ndim is None else v.ndim - 1, Kind.ARRAY, v.dtype
            )
        if v.batched and v.kind in (Kind.LIST, Kind.TUPLE):
            item = list_item(v)
            if (item is None or any(e != item for e in (v.elts or ()))) and v.elts is not None:
                if len({leaf_batchedness(e) for e in v.elts}) > 1 or not all(e.batched for e in v.elts):
                    # (the loop's variable would be batched on some iterations only: code written for a
                    # batched one would treat an unbatched item's first axis as the batch)

                    raise self.ctx.fail("iterating over a tuple or list of batched and unbatched values")
                return it.node, join_all(list(v.elts))
            return it.node, item  # type: ignore[return-value]  # None for a tuple of unknown elements: a known bug
        if v.kind == Kind.ARRAY:
            return it.node, Val(False, None if v.ndim is None else max(v.ndim - 1, 0), Kind.ARRAY, v.dtype)
        if v.kind in (Kind.LIST, Kind.TUPLE):
            return it.node, list_item(v) or UNKNOWN
        if v.item is not None:
            return it.node, v.item
        return it.node, UNKNOWN


def _offset(node):
    """(expression without its constant offset, the offset): `i + 2` -> (i, 2)."""
    if (
        isinstance(node, ast.BinOp)
        and isinstance(node.op, (ast.Add, ast.Sub))
        and isinstance(node.right, ast.Constant)
        and isinstance(node.right.value, int)
    ):
        base, c = _offset(node.left)
        return base, c + (node.right.value if isinstance(node.op, ast.Add) else -node.right.value)
    if (
        isinstance(node, ast.BinOp)
        and isinstance(node.op, ast.Add)
        and isinstance(node.left, ast.Constant)
        and isinstance(node.left.value, int)
    ):
        base, c = _offset(node.right)
        return base, c + node.left.value
    return ast.dump(node), 0


def _static_length(lower, upper):
    """`b - a` for `x[i + a : i + b]` (the same `i`), else None."""
    if lower is None or upper is None:
        return None
    (bl, cl), (bu, cu) = _offset(lower), _offset(upper)
    return cu - cl if bl == bu else None


def _static_seq(elts, cls):
    if all(e.is_static for e in elts):
        return cls(e.static for e in elts)
    return NO_STATIC


def _is_none(ops: list[ast.cmpop], operands: list[Operand]) -> bool | None:
    """`x is None` / `x is not None` of a batched value: per example never None (its Val holds no None
    on any path), so a fact known when rewriting; None where it is not that comparison."""
    if len(ops) != 1 or not isinstance(ops[0], (ast.Is, ast.IsNot)):
        return None
    a, b = operands
    value, other = (a, b) if a.batched else (b, a)
    if other.batched or other.val.kind != Kind.NONE or value.val.or_none is not None:
        return None
    if value.val.kind in (Kind.NONE, Kind.OTHER, Kind.UNBOUND):
        return None
    return isinstance(ops[0], ast.IsNot)


_UNROLLED = 8  # the longest tuple a comprehension over it is written out for


_SEQUENCES = frozenset({Kind.LIST, Kind.TUPLE})


def _no_statements(ctx, before: int) -> None:
    """A comprehension's items are expressions: one that needs a statement of its own (a temporary the
    rewrite binds, `aligned = av__.align(...)`) would run once, before the comprehension, not per item."""
    if len(ctx.pending) != before:
        raise ctx.fail("a comprehension whose items need statements of their own")


def _static_of(v: Val):
    """The Python value of an item whose Val is a constant (NOTE [constants]), else NO_STATIC."""
    return v.const if v.is_const else NO_STATIC


def _sequence_of(kind: Kind, elts) -> Val:
    """A list or tuple of these items (a list's joined item too)."""
    made = container(kind, elts)
    return made.with_(item=list_item(made)) if kind == Kind.LIST else made


_SET_OPS = {
    ast.BitAnd: operator.and_,
    ast.BitOr: operator.or_,
    ast.Sub: operator.sub,
    ast.BitXor: operator.xor,
}


def _member(key, v: Val) -> bool | None:
    """Is constant `key` in a value of Val `v`, as Python's `in` answers: among a dict's known keys, a
    set's known members or a tuple's or list's items, all constants? None where that is not known."""
    within: typing.Container | None
    if v.kind == Kind.DICT and v.keys is not None:
        within = dict.fromkeys(v.keys)
    elif v.kind == Kind.SET:
        within = members(v)
    elif v.kind in (Kind.TUPLE, Kind.LIST) and v.elts is not None and all(e.is_const for e in v.elts):
        within = tuple(e.const for e in v.elts)
    else:
        return None
    try:
        return None if within is None else key in within
    except TypeError:  # (an unhashable key: Python raises when it runs)
        return None


def _no_item(v: Val, key) -> bool:
    """Does a dict of known keys, or a tuple or list of known length, of Val `v` hold no item `key`?"""
    assert v.elts is not None  # (the caller checks)
    if v.kind == Kind.DICT and v.keys is not None:
        try:
            return key not in dict.fromkeys(v.keys)
        except TypeError:  # (a key that cannot be hashed: TypeError when it runs, not KeyError)
            return False
    if v.kind in (Kind.TUPLE, Kind.LIST) and isinstance(key, int):
        return not -len(v.elts) <= key < len(v.elts)
    return False


def _set_of(items) -> Val:
    """The Val of a set display (NOTE [sets]): of constants, its members; of at most one item, its
    length (`len({x.shape}) == 1`); of more, one of them at least."""
    if any(isinstance(e.node, ast.Starred) for e in items):
        return Val(False, None, Kind.SET)
    return set_of([e.val for e in items])


def _formatted(node: ast.JoinedStr, vals: list[Val]) -> str | None:
    """The text of an f-string whose formatted values are constants (and written without a format
    spec that is itself formatted), or None."""
    if not all(v.is_const for v in vals):
        return None
    parts, consts = [], iter(v.const for v in vals)
    for part in node.values:
        if isinstance(part, ast.Constant):
            parts.append(str(part.value))
            continue
        assert isinstance(part, ast.FormattedValue)
        spec = part.format_spec
        if spec is not None and not all(isinstance(p, ast.Constant) for p in spec.values):  # type: ignore[attr-defined]
            return None
        value = next(consts)
        if part.conversion == 115:  # !s
            value = str(value)
        elif part.conversion in (114, 97):  # !r, !a
            value = repr(value) if part.conversion == 114 else ascii(value)
        try:
            parts.append(format(value, "".join(p.value for p in spec.values) if spec else ""))  # type: ignore[attr-defined]
        except Exception:
            return None
    return "".join(parts)


def _rebinds(node: ast.AST, name: str) -> bool:
    """Could writing comprehension `node` out item by item change what `name` means in it: a scope inside
    it (a lambda, a nested comprehension: its closures would see each item, Python's see the last), or
    an assignment expression?"""
    own = node.generators if isinstance(node, ast.ListComp | ast.SetComp) else []
    return any(
        (isinstance(n, (ast.Lambda, ast.comprehension)) and n not in own) or isinstance(n, ast.NamedExpr)
        for n in ast.walk(node)
    )


def _substitute(expr: ast.expr, name: str, item: ast.expr) -> ast.expr:
    """`expr` with every read of `name` replaced by `item` (a copy; positions kept)."""

    class Sub(ast.NodeTransformer):
        def visit_Name(self, n):
            if n.id == name and isinstance(n.ctx, ast.Load):
                return ast.copy_location(templates.clone(item), n)
            return n

    return Sub().visit(templates.clone(expr))
