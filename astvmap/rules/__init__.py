"""Batching rules, one family a module. Importing this package fills the registry."""

from . import (
    attributes,
    builtins,
    creation,
    elementwise,
    indexing,
    linalg,
    random,
    reductions,
    runtime_rules,  # noqa: F401
    shape,
    sorting,
)
from .registry import RULES, lookup, register

__all__ = ["RULES", "lookup", "register"]
