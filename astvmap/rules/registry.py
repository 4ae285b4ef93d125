"""One registry of batching rules, keyed by the real Python object (`np.sum`, `np.ndarray.sum`,
`operator.add`, `math.exp`, `len`), so aliases just work.

A rule's signature mirrors NumPy's after a leading context: `def rule(ctx, a, axis=None, ...)`. The
dispatcher (transform/calls.py) binds the call's operands to it, so a keyword the rule does not accept
becomes a per-example fallback (or an error with `fallback="error"`) for free. The dispatcher passes calls
with no batched operand through unchanged; it still asks the rule for the result's rank.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    fn: Callable
    pure: bool = True  # no side effects, no hidden state
    random: bool = False  # draws random numbers: always reaches the rule (randomness modes)
    numba: bool = False  # the batched form it emits compiles under Numba
    signature: inspect.Signature | None = None


RULES: dict = {}
# Rules for families of objects no list can hold (every ufunc, also other libraries'): (test, rule), in
# the order registered; an object's own rule comes first.
FAMILIES: list[tuple[Callable[[object], bool], Rule]] = []


def _key(obj):
    try:
        hash(obj)
        return obj
    except TypeError:
        return id(obj)


def register(*fns, pure: bool = True, random: bool = False, numba: bool = False):
    """Register the decorated rule for every object in `fns` (users may register their own)."""

    def deco(rule_fn):
        rule = Rule(rule_fn, pure, random, numba, inspect.signature(rule_fn))
        for fn in fns:
            if fn is not None:
                RULES[_key(fn)] = rule
        return rule_fn

    return deco


def register_family(member: Callable[[object], bool], *, pure: bool = True, numba: bool = False):
    """Register the decorated rule for every object `member(obj)` accepts that has no rule of its own
    (`numba`: whether the batched form compiles under Numba for every member)."""

    def deco(rule_fn):
        FAMILIES.append((member, Rule(rule_fn, pure, False, numba, inspect.signature(rule_fn))))
        return rule_fn

    return deco


def lookup(obj) -> Rule | None:
    try:
        rule = RULES.get(_key(obj))
    except Exception:  # objects with odd __eq__ / __hash__
        return None
    if rule is not None:
        return rule
    for member, family_rule in FAMILIES:
        try:
            if member(obj):
                return family_rule
        except Exception:
            continue
    return None
