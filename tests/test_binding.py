"""binding.py: one binding of a call's arguments to parameters, as Python binds them, for the call layer
(values, the signature the user sees), the transform (Vals, a source's own parameters) and the Numba
backend (values, the function's own parameters after a partial's)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from astvmap import binding
from astvmap.frontend.source import function_source
from astvmap.rules.values import Kind, Val, array, constant, container, val_of


def f(a, b, /, c, d=4, *rest, e, g=7, **extra):
    return a


SIG = inspect.signature(f)


def test_bind_is_pythons_binding_after_the_leading_arguments():
    bound = binding.bind(SIG, (2, 3), {"e": 5, "g": 8}, lead=(1,), lead_kwargs={"g": 0, "h": 9})
    assert bound.arguments == {"a": 1, "b": 2, "c": 3, "e": 5, "g": 8, "extra": {"h": 9}}


def test_bind_defaults_come_after_the_passed_arguments():
    bound = binding.bind(SIG, (1, 2, 3), {"e": 5}, defaults=True)
    assert list(bound.arguments) == ["a", "b", "c", "e", "d", "g"]  # no `*rest`, `**extra`
    assert (bound.arguments["d"], bound.arguments["g"]) == (4, 7)


def test_bind_partial_leaves_parameters_unbound():
    assert binding.bind(SIG, (), {}, lead=(1,), partial=True).arguments == {"a": 1}


@pytest.mark.parametrize("args, kwargs", [((1,), {"e": 5}), ((1, 2, 3), {}), ((1, 2, 3), {"e": 5, "c": 0})])
def test_bind_raises_pythons_type_error(args, kwargs):
    with pytest.raises(TypeError):
        binding.bind(SIG, args, kwargs)


def test_the_fast_path_binds_as_inspect_does():
    def plain(x, y):
        return x

    sig = inspect.signature(plain)
    fast = binding.fast_names(sig)
    assert fast == ("x", "y")
    bound = binding.bind(sig, (1, 2), {}, fast=fast)
    assert isinstance(bound, binding.Bound)
    assert (bound.arguments, bound.args, bound.kwargs) == (sig.bind(1, 2).arguments, (1, 2), {})
    assert isinstance(binding.bind(sig, (1,), {"y": 2}, fast=fast), inspect.BoundArguments)
    assert binding.fast_names(SIG) == ()


def test_bind_vals_packs_star_parameters_and_takes_the_defaults_values_now():
    def h(x, scale=2.0, *rest, axis=0, **options):
        return x

    x = array(True, 1, "f")
    vals = binding.bind_vals(function_source(h), [x], {})
    # (a default's value is a constant of the rewrite: NOTE [constants])
    assert vals["x"] == x and vals["scale"] == constant(2.0) and vals["axis"] == constant(0)
    assert vals["rest"] == container(Kind.TUPLE, ()) and vals["rest"].const == ()
    assert vals["options"] == Val(False, None, Kind.DICT, None, (), ())
    vals = binding.bind_vals(function_source(h), [x, x, x], {"k": x})
    assert vals["scale"] == x and vals["rest"] == Val(True, None, Kind.TUPLE, None, (x,))
    assert vals["options"] == Val(True, None, Kind.DICT, None, (x,), ("k",))
    h.__defaults__ = (np.float32(1.0),)
    assert binding.bind_vals(function_source(h), [x], {})["scale"] == val_of(np.float32(1.0))


def test_bind_vals_after_a_partials_values():
    def h(self, x, *, k):
        return x

    x = array(True, 1, "f")
    vals = binding.bind_vals(function_source(h), [x], {}, lead=(object(),), lead_kwargs={"k": 3})
    assert vals["self"].kind == Kind.OTHER and vals["x"] == x and vals["k"] == val_of(3)
    with pytest.raises(TypeError):
        binding.bind_vals(function_source(h), [x, x], {}, lead=(object(),))
