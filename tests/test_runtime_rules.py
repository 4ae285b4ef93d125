"""A ratchet on the `av__` helpers generated code calls: each one a rule or the rewrite emits has a
batching rule of its own, so generated code can be batched again (a vmapped function called inside a
vmapped function, nested vmaps), or is listed below until it has one. The list only shrinks."""

import pathlib
import re

import astvmap
from astvmap import runtime
from astvmap.rules import registry

ROOT = pathlib.Path(astvmap.__file__).parent

# Helpers emitted without a batching rule of their own: a value, and the gathered form of a batched `while`
# and of `# astvmap: partition` (the lanes each enclosing example gathers would differ in number). Code
# an enclosing vmap batches again is written without them (Settings.nested: the `while` runs masked, the
# directive is not followed): test_nested_form_needs_no_gathering_helpers. A region's loop and an
# augmented assignment of rank known only at run time are not emitted there either (the enclosing call
# loops). The list only shrinks.
WITHOUT_RULE = {
    "UNBOUND",  # a value, not a call
    "active_lanes",
    "augment",
    "region_loop",
    "merge_lanes",
    "put_lanes",
}


def _emitted() -> set[str]:
    names = set()
    for sub in ("rules", "transform", "kit"):
        for path in (ROOT / sub).glob("*.py"):
            names |= set(re.findall(r"av__\.([A-Za-z_]\w*)", path.read_text()))
    return names


def test_every_emitted_helper_exists():
    missing = {n for n in _emitted() if not hasattr(runtime, n)}
    assert not missing, f"generated code would call helpers astvmap.runtime does not define: {missing}"


def test_every_emitted_helper_has_a_rule_or_is_listed():
    emitted = _emitted()
    unruled = {n for n in emitted if registry.lookup(getattr(runtime, n, None)) is None}
    new = unruled - WITHOUT_RULE
    assert not new, f"helpers emitted without a batching rule (write one, or list it here): {sorted(new)}"
    stale = WITHOUT_RULE - unruled
    assert not stale, (
        f"these now have a rule or are no longer emitted: remove them from WITHOUT_RULE: {stale}"
    )
