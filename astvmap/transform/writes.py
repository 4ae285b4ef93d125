"""Writes into arrays, as the loop does them: `y[i] = v` becomes `y[:, i] = v` (every example's `y`),
`y[k] = v` with per-example integers `y[arange(B), k] = v`, `y[mask] = v` a where, and an unbatched local
array that receives batched values is repeated over the batch first. Batched data written into an
unmapped argument is an error: the loop would write every example into the one shared array.
"""

from __future__ import annotations

import ast

from ..kit import templates
from ..rules.values import Kind, Operand
from .walker import Walker


def selection_ndim_after(ndim, index):
    """The per-example rank of `y[index]` where per-example integers count as integers."""
    from ..rules.indexing import _classify, components

    if ndim is None:
        return None
    kinds = [_classify(c) for c in components(index)]
    return ndim - kinds.count("int") if all(k in ("int", "slice") for k in kinds) else None


class WritesMixin(Walker):
    """Needs from the walker: cx, env, expr(), unmapped_params, aligned_value."""

    def setitem(self, target: ast.Subscript, value: Operand):
        """`x[i] = v`: written into every example's `x` (NOTE [batch axis at 0])."""
        cx = self.cx
        base = self.expr(target.value)
        index = self.expr(target.slice)
        if (
            index.batched
            and index.val.dtype == "b"
            and base.batched
            and index.val.ndim == base.val.ndim
            and not isinstance(target.slice, ast.Tuple)
            and value.val.ndim == 0
            and value.val.kind in (Kind.ARRAY, Kind.SCALAR)
        ):
            # y[mask] = v with a per-example mask of y's shape and one value: y[:] = where(mask, v, y)
            v = templates.batch_slice_prefix(value.node, base.val.ndim) if value.batched else value.node  # type: ignore[arg-type]  # None if both ranks are unknown: a known bug
            self.aligned_value = cx.expr("np.where(m, v, y)", m=index.node, v=v, y=base.node)
            return ast.Subscript(base.node, ast.Slice(), ast.Store())
        if index.batched:
            rows = self.per_lane_index(index)
            if rows is None or not base.batched:
                raise cx.fail("a write at per-example positions (batched index)")
            sel = selection_ndim_after(base.val.ndim, index)
            if value.batched and value.val.ndim is not None and sel is not None and value.val.ndim < sel:
                self.aligned_value = templates.batch_slice_prefix(value.node, sel - value.val.ndim)
            return ast.Subscript(base.node, rows, ast.Store())
        if not base.batched and not value.batched:
            return ast.Subscript(base.node, index.node, ast.Store())
        if base.val.kind != Kind.ARRAY:
            raise cx.fail(f"writing batched values into a {base.val.kind.value}")
        if not base.batched:
            if not isinstance(target.value, ast.Name):
                raise cx.fail("writing batched values into part of an unbatched value")
            name = target.value.id
            if name in self.unmapped_params:
                raise cx.error(
                    f"`{ast.unparse(target)} = ...` writes batched values into the unmapped argument "
                    f"`{name}`: the loop would write every example into the same array. Copy it first "
                    f"(`{name} = {name}.copy()`) or map it",
                    target,
                )
            promoted = cx.promote(Operand(ast.Name(name, ast.Load()), base.val), base.val.with_(batched=True))
            cx.pending.append(ast.Assign([ast.Name(name, ast.Store())], promoted.node))
            self.env[name] = promoted.val
            base = Operand(ast.Name(name, ast.Load()), promoted.val)
        from ..rules.indexing import batched_index, selection_ndim

        sel = selection_ndim(base.val.ndim, index)
        if value.batched and value.val.ndim != sel:
            if value.val.ndim is None or sel is None:
                raise cx.fail("a write whose per-example ranks are not known when the code is rewritten")
            if value.val.ndim < sel:
                self.aligned_value = templates.batch_slice_prefix(value.node, sel - value.val.ndim)
        return ast.Subscript(base.node, batched_index(cx, index), ast.Store())

    def per_lane_index(self, index: Operand):
        """`y[k]`, `y[k, 2]` with per-example integers k: the index `(arange(B), k, 2)` (one element per
        lane, so writes never collide), or None for other batched indices."""
        from ..rules.indexing import _classify, components

        comps = components(index)
        kinds = [_classify(c) for c in comps]
        if any(k not in ("int", "slice") for k in kinds) or any(
            c.batched and (c.val.ndim != 0 or c.val.dtype not in ("i", "u")) for c in comps
        ):
            return None
        rows = self.cx.expr("np.arange(B)", B=self.cx.batch_size())
        return ast.Tuple([rows] + [c.node for c in comps], ast.Load())
