"""Pytrees: which values are containers `vmap` maps leaf by leaf, and how each is rebuilt with its type.

NOTE [pytrees]: a value is a node of a tree when it is a tuple or a list (a namedtuple is a tuple: its
fields are its children), a dict, an instance of a dataclass (its fields, all of them with init=True,
in declaration order), or an instance of a type given to `register_pytree` (its `flatten`'s children,
exactly that type: a subclass is not registered with it). Anything else is a leaf. `node(value)` gives
a node's children and rebuilds a value of the same type from new ones: a namedtuple as `cls(*items)`,
a tuple or list as `cls(items)`, a dict as a plain dict of the same keys in the same order, a dataclass
as `dataclasses.replace` does (`__init__`, and `__post_init__` if any, run on the new fields, as jax's
unflatten does), a registered type as `unflatten(aux, children)`. Every walk over arguments and results
(the call layer's flatten and rebuild, the per-example loops' slicing and stacking, a batched `if`'s
selection part by part) asks `node`, so one rule decides what a container is.

A dataclass with a field that has init=False is no node: `__init__` computes that field, so it cannot be
rebuilt from its mapped fields (`refusal` says so, and the call layer raises it for a mapped argument or
a result). Imports the standard library only: the generated code's runtime reads it.
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Callable, Iterable
from typing import Any, cast

Flatten = Callable[[Any], tuple[Iterable[Any], Any]]
Unflatten = Callable[[Any, tuple[Any, ...]], Any]

_REGISTERED: dict[type, tuple[Flatten, Unflatten]] = {}
_BUILTIN = (tuple, list, dict)


def register_pytree(cls: type, flatten: Flatten, unflatten: Unflatten) -> None:
    """Map instances of `cls` child by child, as `jax.tree_util.register_pytree_node`: `flatten(obj)`
    returns `(children, aux)`, where `children` are the values mapped (each a tree itself) and `aux`
    whatever else rebuilding needs (kept as it is, never mapped); `unflatten(aux, children)` returns a
    new `cls` holding the children given (a tuple, in the order flatten gave them). Registering a class
    again replaces its functions. A registered dataclass or namedtuple is flattened by its functions."""
    if not isinstance(cls, type):
        raise TypeError(f"register_pytree: expected a class; got {cls!r}")
    if cls in _BUILTIN or cls is type(None):
        raise ValueError(f"register_pytree: {cls.__name__} is a built-in container or leaf of every tree")
    if not callable(flatten) or not callable(unflatten):
        raise TypeError("register_pytree: flatten and unflatten must be callables")
    _REGISTERED[cls] = (flatten, unflatten)


class Node:
    """One container's children and how to rebuild it with new ones (NOTE [pytrees]). `kind`:
    "sequence" (a tuple, a list, a namedtuple), "dict", "dataclass" or "registered"; `keys`: each
    child's index, dict key or field name; `type`: the container's type."""

    __slots__ = ("_rebuild", "children", "keys", "kind", "type")

    def __init__(
        self, kind: str, typ: type, keys: tuple[Any, ...], children: tuple[Any, ...], rebuild: Callable
    ) -> None:
        self.kind, self.type, self.keys, self.children, self._rebuild = kind, typ, keys, children, rebuild

    def __len__(self) -> int:
        return len(self.children)

    def rebuild(self, children: Iterable[Any]) -> Any:
        """A container of this one's type (and keys, fields, aux) holding `children`, in order."""
        return self._rebuild(tuple(children))

    def path(self, path: str, i: int) -> str:
        """The path of child `i` under `path`, as messages name it: `p[0]`, `d['k']`, `c.w`."""
        key = self.keys[i]
        if self.kind == "dict":
            return f"{path}[{key!r}]"
        if self.kind == "dataclass":
            return f"{path}.{key}"
        return f"{path}[{key}]"


def node(value: Any) -> Node | None:
    """`value`'s Node when it is a container (NOTE [pytrees]), else None (a leaf)."""
    t = type(value)
    if t is tuple or t is list:
        return Node("sequence", t, tuple(range(len(value))), tuple(value), t)
    if t is dict:
        return Node("dict", dict, tuple(value), tuple(value.values()), _dict_of(tuple(value)))
    registered = _REGISTERED.get(t)
    if registered is not None:
        return _registered_node(value, *registered)
    if isinstance(value, (tuple, list)):
        fields = getattr(t, "_fields", None)
        rebuild = (lambda items: t(*items)) if isinstance(value, tuple) and fields is not None else t
        return Node("sequence", t, tuple(range(len(value))), tuple(value), rebuild)
    if isinstance(value, dict):  # (a subclass: rebuilt as a plain dict, as before)
        return Node("dict", dict, tuple(value), tuple(value.values()), _dict_of(tuple(value)))
    if is_dataclass_instance(value) and refusal(value) is None:
        names = tuple(f.name for f in dataclasses.fields(value))
        children = tuple(getattr(value, n) for n in names)
        return Node(
            "dataclass",
            t,
            names,
            children,
            lambda items: dataclasses.replace(value, **dict(zip(names, items))),
        )
    return None


def _dict_of(keys: tuple[Any, ...]) -> Callable[[tuple[Any, ...]], dict]:
    return lambda items: dict(zip(keys, items))


def _registered_node(value: Any, flatten: Flatten, unflatten: Unflatten) -> Node:
    children, aux = flatten(value)
    children = tuple(children)
    return Node(
        "registered", type(value), tuple(range(len(children))), children, lambda items: unflatten(aux, items)
    )


def is_dataclass_instance(value: Any) -> bool:
    return hasattr(type(value), "__dataclass_fields__") and not isinstance(value, type)


def refusal(value: Any) -> str | None:
    """Why `value`, a container by its look, cannot be mapped and rebuilt, or None: a dataclass (not
    registered) with fields that have init=False, which `__init__` computes from the others."""
    if type(value) in _REGISTERED or not is_dataclass_instance(value):
        return None
    hidden = [f.name for f in dataclasses.fields(value) if not f.init]
    if not hidden:
        return None
    return (
        f"a {type(value).__name__}, a dataclass with fields that have init=False ({', '.join(hidden)}), "
        "which its __init__ computes: it cannot be rebuilt from batched fields (register the class with "
        "astvmap.register_pytree to say how)"
    )


def is_record_type(cls: Any) -> bool:
    """Is `cls` a class whose calls build a record the rewrite knows field by field: a namedtuple class,
    or a dataclass whose fields all have init=True (and neither is registered)?"""
    if not isinstance(cls, type) or cls in _REGISTERED:
        return False
    if issubclass(cls, tuple):
        return isinstance(getattr(cls, "_fields", None), tuple)
    fields = getattr(cls, "__dataclass_fields__", None)
    return isinstance(fields, dict) and all(f.init for f in dataclasses.fields(cast(Any, cls)))


def attribute_names(value: Any, n: Node) -> tuple[str | None, ...]:
    """The attribute each child of a record is read by (`p.w`): a namedtuple's or a dataclass's field
    names; for a registered type, the attribute of the object (in its `__dict__` or `__slots__`) that
    holds that very child, or None where none does."""
    if n.kind == "dataclass":
        return tuple(n.keys)
    fields = getattr(n.type, "_fields", None)
    if n.kind == "sequence" and isinstance(fields, tuple):
        return fields
    if n.kind != "registered":
        return (None,) * len(n)
    attrs = dict(getattr(value, "__dict__", {}))
    for cls in type(value).__mro__:
        slots = cls.__dict__.get("__slots__", ())
        for slot in (slots,) if isinstance(slots, str) else slots:
            if slot not in attrs and hasattr(value, slot):
                attrs[slot] = getattr(value, slot)
    names: list[str | None] = []
    for child in n.children:
        names.append(next((a for a, v in attrs.items() if v is child and a not in names), None))
    return tuple(names)


def is_axis(spec: Any) -> bool:
    """An entry of `in_axes`/`out_axes` that is no container: an int (a NumPy integer too, never a
    bool), or None."""
    return spec is None or (isinstance(spec, numbers.Integral) and not isinstance(spec, bool))


def axes_children(axes: Any, n: Node) -> list[Any] | None:
    """The axis tree of each child of the container `n` under its entry `axes` in `in_axes` or
    `out_axes`, or None where they do not match. An int or None applies to every child; a container
    must have the value's structure, as jax asks: a tuple or list (a namedtuple too) of as many entries
    for a tuple, list or namedtuple, a dict of the same keys for a dict, an instance of the same type
    for a dataclass or a registered type (its children are the axes)."""
    if is_axis(axes):
        return [axes] * len(n)
    an = node(axes)
    if an is None or len(an) != len(n):
        return None
    if n.kind == "dict":
        return [axes[k] for k in n.keys] if an.kind == "dict" and set(an.keys) == set(n.keys) else None
    if (n.kind == "sequence" and an.kind == "sequence") or (
        n.kind in ("dataclass", "registered") and an.type is n.type
    ):
        return list(an.children)
    return None
