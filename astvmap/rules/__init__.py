"""Batching rules, one family a module. Importing this package fills the registry."""
from . import builtins, creation, elementwise, indexing, linalg, reductions, runtime_rules, shape, sorting  # noqa: F401
from .registry import RULES, lookup, register

__all__ = ["RULES", "lookup", "register"]
