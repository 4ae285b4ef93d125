"""Classes whose objects the rewrite can make and follow (NOTE [objects], transform/objects.py)."""

from __future__ import annotations

import types
from typing import Any, cast

from .. import pytrees


def plain_class(cls: Any) -> bool:
    """Are `cls`'s instances made by `object.__new__` and its Python `__init__`, their attributes plain
    (no `__setattr__`, `__getattr__` or `__getattribute__` of its own; slots are), and no record?"""
    if not isinstance(cls, type) or type(cls) is not type or pytrees.is_record_type(cls):
        return False
    if cls in pytrees._REGISTERED or cls.__module__ == "builtins" or hasattr(cls, "__dataclass_fields__"):
        return False  # (a dataclass is a pytree's business: NOTE [pytrees])
    plain = cast(Any, object)
    if cls.__new__ is not plain.__new__ or not isinstance(vars_of(cls, "__init__"), types.FunctionType):
        return False
    if vars_of(cls, "__setattr__") is not plain.__setattr__:
        return False
    if vars_of(cls, "__getattribute__") is not plain.__getattribute__:
        return False
    return not hasattr(cls, "__getattr__")


def vars_of(cls: type, name: str) -> Any:
    """`cls.name` as the class gives it (a plain function for a method)."""
    return getattr(cls, name, None)
