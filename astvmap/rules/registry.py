"""One registry of batching rules, keyed by the real Python object (`np.sum`, `np.ndarray.sum`,
`operator.add`, `math.exp`, `len`), so aliases just work.

A rule's signature mirrors NumPy's after a leading context: `def rule(ctx, a, axis=None, ...)`. The
dispatcher (transform/calls.py) binds the call's operands to it, so a keyword the rule does not accept
becomes a per-example fallback (or an error with `fallback="error"`) for free. The dispatcher passes calls
with no batched operand through unchanged; it asks the rule's abstract evaluation for the result's Val
(NOTE [abstract evaluation], rules/common.py).

NOTE [rule traits]: what other parts need to know about a function is declared once, where its rule is
registered (`@register(np.tanh, traits="elementwise transcendental")`), and read from here, never kept in
a list of names of their own (`TRAITS` says who reads each). One rule function may be registered several
times with different traits for subsets of its objects; the decorator applied last (the upper one) wins.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

TRAITS = {
    "elementwise": "works element by element, operands broadcast (the fused Numba lowering's domain)",
    "transcendental": "calls libm per element: NumPy's SIMD beats a scalar loop (the Numba cost model)",
    "reduction": "reduces along axes",
    "contraction": "sums products over axes, one BLAS call or einsum batched (the Numba strategy)",
    "numba": "its batched form compiles under Numba",
    "lanes": "a helper of generated per-example control flow (the Numba strategy, when batched again)",
    "selections": "reads a masked selection per lane (NOTE [masked selections]): the dispatcher gives it one",
    "quiet": "never raises or warns by the values it is given (the batched `if` runs it on every lane)",
    "fresh": "returns a new array, never an argument or a view of one (the alias analysis: transform/calls.py)",
    "shaped": "of numbers, raises only by its operands' shapes and dtypes, never by their values, "
    "FloatingPointError aside (a `try` around it: transform/compound.py)",
}


@dataclass(frozen=True)
class Rule:
    fn: Callable
    pure: bool = True  # no side effects, no hidden state
    random: bool = False  # draws random numbers: always reaches the rule (randomness modes)
    traits: frozenset[str] = frozenset()  # names from TRAITS
    signature: inspect.Signature | None = None
    # abstract evaluation: the result's Val from the operands' (rules/common.infers); None: unknown
    infer: Callable | None = None


RULES: dict = {}
_OBJECTS: dict = {}  # registry key -> the object registered under it (for its name)
_NAMED: dict[str, frozenset[str]] = {}  # trait -> names of the objects whose rule has it (cache)
# Rules for families of objects no list can hold (every ufunc, also other libraries'): (test, rule), in
# the order registered; an object's own rule comes first.
FAMILIES: list[tuple[Callable[[object], bool], Rule]] = []


def _key(obj):
    try:
        hash(obj)
        return obj
    except TypeError:
        return id(obj)


def _traits(text: str) -> frozenset[str]:
    found = frozenset(text.split())
    unknown = found - set(TRAITS)
    if unknown:
        raise ValueError(f"unknown rule trait(s) {sorted(unknown)}; the traits are {sorted(TRAITS)}")
    return found


def _infer(rule_fn) -> Callable | None:
    """The abstract evaluation a rule declares (`@infers(facts)` under its `@register`, rules/common.py)."""
    return getattr(rule_fn, "infer", None)


def register(*fns, pure: bool = True, random: bool = False, traits: str = ""):
    """Register the decorated rule for every object in `fns` (users may register their own); `traits`: a
    space-separated list of names from `TRAITS` true of every object in `fns`."""

    def deco(rule_fn):
        rule = Rule(rule_fn, pure, random, _traits(traits), inspect.signature(rule_fn), _infer(rule_fn))
        for fn in fns:
            if fn is not None:
                RULES[_key(fn)] = rule
                _OBJECTS[_key(fn)] = fn
        _NAMED.clear()
        return rule_fn

    return deco


def register_family(member: Callable[[object], bool], *, pure: bool = True, traits: str = ""):
    """Register the decorated rule for every object `member(obj)` accepts that has no rule of its own
    (`traits`: what is true of every member)."""

    def deco(rule_fn):
        rule = Rule(rule_fn, pure, False, _traits(traits), inspect.signature(rule_fn), _infer(rule_fn))
        FAMILIES.append((member, rule))
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


def has(obj, trait: str) -> bool:
    """Does `obj`'s rule declare `trait`? (False without a rule.)"""
    rule = lookup(obj)
    return rule is not None and trait in rule.traits


def named(trait: str) -> frozenset[str]:
    """The names (`__name__`) of the objects registered with `trait`: for code that sees a call only by
    its name (`x.sum()`, `np.tanh`), before anything resolves it."""
    found = _NAMED.get(trait)
    if found is None:
        found = _NAMED[trait] = frozenset(
            getattr(_OBJECTS[key], "__name__", "") for key, rule in RULES.items() if trait in rule.traits
        )
    return found
