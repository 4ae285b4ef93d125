"""Batching rules, one family a module. Importing this package fills the registry."""

# Imported for their side effect: each module registers its rules.
from . import (  # noqa: F401
    attributes,
    builtins,
    creation,
    elementwise,
    fft,
    indexing,
    lane_rules,
    linalg,
    numeric,
    random,
    records,
    reductions,
    runtime_rules,
    shape,
    sorting,
    statistics,
)
from .registry import RULES, lookup, register

__all__ = ["RULES", "lookup", "register"]
