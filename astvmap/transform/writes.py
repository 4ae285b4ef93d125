"""Writes into items, as the loop does them: `y[i] = v` becomes `y[:, i] = v` (every example's `y`),
`y[k] = v` with per-example integers `y[arange(B), k] = v`, `y[mask] = v` a where; under a batched
condition only the branch's lanes change (`masked_write`). An unbatched array that receives batched
values is expanded to the batch first (`StoresMixin.expand`), after the right side that may read it.
"""

from __future__ import annotations

import ast

from ..analysis.activity import augmented_names
from ..kit import templates
from ..rules.values import UNKNOWN, Kind, Operand, Val, container, join, list_item
from .regions import RegionsMixin


def selection_ndim_after(ndim, index):
    """The per-example rank of `y[index]` where per-example integers count as integers."""
    from ..rules.indexing import _classify, components

    if ndim is None:
        return None
    kinds = [_classify(c) for c in components(index)]
    return ndim - kinds.count("int") if all(k in ("int", "slice") for k in kinds) else None


class WritesMixin(RegionsMixin):
    """Needs from the walker: ctx, env, expr(), expand(), facts, branch."""

    def setitem(self, target: ast.Subscript, value: Operand) -> tuple[ast.expr, ast.expr]:
        """`x[i] = v`, written into every example's `x` (NOTE [batch axis at 0]): (the target, the value
        to store, aligned to the selection)."""
        ctx = self.ctx
        base = self.expr(target.value)
        index = self.expr(target.slice)
        if base.val.kind in (Kind.LIST, Kind.DICT) and (base.batched or value.batched):
            return self._item_store(target, base, index, value)
        if not base.batched and (value.batched or index.batched):
            if base.val.kind != Kind.ARRAY:
                raise ctx.fail(f"writing batched values into a {base.val.kind.value}")
            if not isinstance(target.value, ast.Name):
                raise ctx.fail("writing batched values into part of an unbatched value")
            name = target.value.id
            code = self.code_name(name)
            if _reads(value.node, code):  # the right side and the index read `y` before it expands
                value = Operand(ctx.temp(value.node, "value"), value.val, value.static)
            if _reads(index.node, code):
                index = Operand(ctx.temp(index.node, "index"), index.val, index.static)
            ctx.pending += self.expand(name, target)
            base = Operand(ast.Name(self.code_name(name), ast.Load()), self.env[name])
        if index.batched:
            return self._per_lane_setitem(target, base, index, value)
        if not base.batched and not value.batched:
            self.refuse_outside_store(target)
            followed = self._followed_store(target, base, index, value)
            if followed is None:  # (its items: no longer what they were made with; a slice's, its items)
                added = list_item(value.val) or UNKNOWN if isinstance(target.slice, ast.Slice) else value.val
                self.forget_items(target.value, added=added)
            return ast.Subscript(base.node, index.node, ast.Store()), value.node
        from ..rules.indexing import batched_index, selection_ndim

        sel = selection_ndim(base.val.ndim, index)
        v = value.node
        if value.batched and (value.val.ndim != sel or sel is None):
            if value.val.ndim is None or sel is None:
                raise ctx.fail("a write whose per-example ranks are not known when the code is rewritten")
            if value.val.ndim < sel:
                v = templates.batch_slice_prefix(value.node, sel - value.val.ndim)
        return ast.Subscript(base.node, batched_index(ctx, index), ast.Store()), v

    def _followed_store(self, target, base: Operand, index: Operand, value: Operand) -> Val | None:
        """`d["a"] = w` into a list or dict of known items that one name of this function alone holds,
        at a key known here: its items, followed (NOTE [list items]); else None."""
        name = target.value.id if isinstance(target.value, ast.Name) else None
        if base.val.kind not in (Kind.LIST, Kind.DICT) or name is None or name not in self.env:
            return None
        if self.fdef is None or self.held_elsewhere(name) or not index.val.is_const:
            return None
        new = _with_item(base.val, index.val.const, value.val)
        if new is not None:
            self.env[name] = new
        return new

    def _item_store(self, target, base: Operand, index: Operand, value: Operand):
        """`lst[i] = v`, `d[k] = v` where the container or `v` is batched (NOTE [list items]): the item is
        replaced, the others kept as they are; with `i` known it takes `v`'s own facts, else `v` is as
        batched as every item."""
        ctx, v = self.ctx, base.val
        name = target.value.id if isinstance(target.value, ast.Name) else None
        if index.batched:
            raise ctx.fail(f"an item of a {v.kind.value} chosen by each example")
        if name is None or name not in self.env or self.fdef is None or self.held_elsewhere(name):
            raise ctx.fail(f"storing a batched value into a {v.kind.value} another name may hold")
        key = index.val.const if index.val.is_const else None
        new = _with_item(v, key, value.val)
        if new is None:
            if v.kind != Kind.LIST:
                raise ctx.fail("storing into a dict at a key not known when rewriting")
            # (NOTE [list items]) which item changes is not known: every item as batched as any
            value = Operand(ctx.temp(value.node, "value"), value.val)
            index = Operand(ctx.temp(index.node, "index"), index.val)
            base = ctx.promote_list(base, in_place=name in self.given_changed)
            value = ctx.promote(value, Val(True, None))
            item = list_item(base.val)
            new = Val(True, None, Kind.LIST, item=value.val if item is None else join(item, value.val))
        self.env[name] = new
        return ast.Subscript(base.node, index.node, ast.Store()), value.node

    def _per_lane_setitem(self, target, base: Operand, index: Operand, value: Operand):
        ctx = self.ctx
        if (
            index.val.dtype == "b"
            and index.val.ndim == base.val.ndim
            and not isinstance(target.slice, ast.Tuple)
            and value.val.ndim == 0
            and value.val.kind in (Kind.ARRAY, Kind.SCALAR)
        ):
            # y[mask] = v with a per-example mask of y's shape and one value: y[:] = where(mask, v, y)
            v = templates.batch_slice_prefix(value.node, base.val.ndim) if value.batched else value.node  # type: ignore[arg-type]  # None if both ranks are unknown: a known bug
            where = ctx.expr("np.where(m, v, y)", m=index.node, v=v, y=base.node)
            return ast.Subscript(base.node, ast.Slice(), ast.Store()), where
        rows = self.per_lane_index(index)
        if rows is None:
            raise ctx.fail("a write at per-example positions (batched index)")
        sel = selection_ndim_after(base.val.ndim, index)
        v = value.node
        if value.batched and (value.val.ndim is None or sel is None):
            raise ctx.fail("a write at per-example positions whose per-example ranks are not known")
        if value.batched and value.val.ndim < sel:
            v = templates.batch_slice_prefix(value.node, sel - value.val.ndim)
        return ast.Subscript(base.node, rows, ast.Store()), v

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
        rows = self.ctx.expr("np.arange(B)", B=self.ctx.batch_size())
        return ast.Tuple([rows] + [c.node for c in comps], ast.Load())

    # ---- under a batched condition -------------------------------------------------------------------
    def promote_written_arrays(self, body):
        """Arrays written under a batched condition hold one value per example from here on: an
        unbatched one is expanded to the batch before the `if` (an unmapped argument cannot be)."""
        act = self.facts.activity(body)
        augments = augmented_names(body)
        written = act.changed("item", "out")
        for name in dict.fromkeys([*written, *augments]):
            site = act.sites.get((name, "item")) or act.sites.get((name, "out")) or augments[name]
            v = self.env.get(name)
            if name not in written and (v is None or (v.ndim == 0 and not self.augments_in_place(name, v))):
                continue  # `t += v` on a number rebinds it (a name bound in the branch: _augment_name)
            for member in sorted(self.facts.aliases.members(name)):  # every name of the buffer
                m = self.env.get(member)
                if (
                    m is None
                    or m.batched
                    or m.kind != Kind.ARRAY
                    or (member != name and not self.may_hold_buffer(member, m))
                ):
                    continue  # (a number holds no buffer)
                if member != name and member in self.unmapped_params:
                    raise self.ctx.fail(
                        f"a write under a batched condition into an array that may be the unmapped "
                        f"argument `{member}`"
                    )
                self.ctx.pending += self.expand(member, site)

    def masked_write(self, target: ast.Subscript, value: Operand, node) -> list[ast.stmt]:
        """`y[i] = v` in a batched branch: only the branch's lanes change,
        `y[:, i] = np.where(lanes, v, y[:, i])`, written into the array itself (not a borrowed copy)."""
        ctx = self.ctx
        from ..rules.indexing import batched_index, selection_ndim

        assert self.region is not None and self.region.mask is not None  # in a masked region only
        if not isinstance(target.value, ast.Name) or target.value.id not in self.env:
            raise ctx.fail("a write into an expression under a batched condition")
        name = target.value.id
        v = self.env[name]
        if not v.batched or v.kind != Kind.ARRAY:
            raise ctx.fail("a write into a value that is not a batched array under a batched condition")
        real, _ = self.buffer(name)
        if self._bound_in_a_branch(name) and self._views_a_borrowed_copy(name):
            raise ctx.fail(f"a write through `{name}`, which may view a copy a batched branch borrowed")
        index = self.expr(target.slice)
        rows = self.per_lane_index(index) if index.batched else None
        if index.batched and rows is None:
            raise ctx.fail("a write at per-example positions (batched index) under a batched condition")
        sel = selection_ndim(v.ndim, index) if rows is None else selection_ndim_after(v.ndim, index)
        if sel is None or (value.batched and value.val.ndim is None):
            raise ctx.fail("a write whose per-example ranks are not known when the code is rewritten")
        val = value.node
        if value.batched and value.val.ndim < sel:
            val = templates.batch_slice_prefix(val, sel - value.val.ndim)
        lanes = self.region.mask
        if sel:
            lanes = ctx.expr(
                "m.reshape(s)", m=lanes, s=ast.Tuple([ast.Constant(-1), *[ast.Constant(1)] * sel], ast.Load())
            )
        idx = batched_index(ctx, index) if rows is None else rows
        where = ast.Subscript(ast.Name(real, ast.Load()), idx, ast.Load())
        out: list[ast.stmt] = [
            ast.Assign(
                [ast.Subscript(ast.Name(real, ast.Load()), idx, ast.Store())],
                ctx.expr("np.where(m, v, old)", m=lanes, v=val, old=where),
            )
        ]
        return out + self.reborrow(name)

    def buffer(self, name: str) -> tuple[str, list[tuple[str, str, ast.expr]]]:
        """(the code name of the array `name` holds here, past the copies that batched branches
        borrowed of it; those copies, outermost first, as (copy, what it copies, lanes))."""
        code, chain = self.code_name(name), []
        for region in self._regions():  # the masked regions this one is nested in, innermost first
            entry = region.borrowed.get(name)
            if entry is not None and entry[0] == code:
                source = region.outer.get(name, name)
                chain.append((entry[0], source, entry[1]))
                code = source
        return code, chain[::-1]

    def _regions(self):
        return self.region.chain() if self.region is not None else iter(())

    def _bound_in_a_branch(self, name: str) -> bool:
        """Was `name` bound inside this batched branch or an enclosing one (a view it holds may be of a
        copy the branch borrowed)?"""
        return any(name in region.stores for region in self._regions())

    def _views_a_borrowed_copy(self, name: str) -> bool:
        """Was some name of `name`'s buffer borrowed (copied) by an enclosing batched branch? A view
        taken of the copy would miss the real array."""
        others = self.facts.aliases.members(name) - {name}
        return any(m in region.borrowed for region in self._regions() for m in others)

    def reborrow(self, name: str) -> list[ast.stmt]:
        """After a masked write into `name`'s buffer, the copies batched branches borrowed of every name
        of that buffer are taken again, outermost first and in place (they must read what was written,
        and so must the views of them the branch holds)."""
        out: list[ast.stmt] = []
        for member in sorted(self.facts.aliases.members(name)):
            if member not in self.env:
                continue
            for borrowed, source, mask in self.buffer(member)[1]:
                # in place: views taken of the copy (a row held in a temporary) see the write too
                out.append(
                    ast.Assign(
                        [ast.Subscript(ast.Name(borrowed, ast.Load()), ast.Constant(...), ast.Store())],
                        self.ctx.expr("av__.lanes_like_active(x, m)", x=ast.Name(source, ast.Load()), m=mask),
                    )
                )
        return out


def _reads(node: ast.AST, name: str) -> bool:
    return any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(node))


def _with_item(v: Val, key, item: Val) -> Val | None:
    """The Val of a list or dict of known items `v` after `v[key] = item` (None where the key is not
    known when rewriting or the items are not known one by one)."""
    if v.elts is None or isinstance(key, (bool, ast.AST)):
        return None
    elts = list(v.elts)
    if v.kind == Kind.LIST and isinstance(key, int) and -len(elts) <= key < len(elts):
        elts[key] = item
        out = container(Kind.LIST, elts)
        return out.with_(item=list_item(out))
    if v.kind == Kind.DICT and v.keys is not None and key is not None:
        keys = list(v.keys)
        if key in keys:
            elts[keys.index(key)] = item
        else:
            keys.append(key)
            elts.append(item)
        return container(Kind.DICT, elts, tuple(keys))
    return None
