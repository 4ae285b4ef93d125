"""What a pass of the rewrite tells the alias analysis (NOTE [fresh values], transform/feedback.py): new
arrays, names that hold no buffer, module functions that return what they were given. Each reproducer of
tests/fresh_review.py is compared with the loop, with the module state it writes."""

import abc
import typing
import warnings

import fresh_review
import fresh_review_state
import numpy as np
import pytest
from oracle import assert_vmap_equivalent, loop_vmap

import astvmap

CASES = [getattr(fresh_review, n) for n in dir(fresh_review) if n.startswith("f_")]


@pytest.mark.parametrize("f", CASES, ids=lambda f: f.__name__)
def test_review_cases(f):
    # the loop and vmap each from the same state: outputs, the unmapped argument and the module's arrays
    x = np.arange(3.0) + 1
    fresh_review_state.reset()
    m_loop = np.zeros((2, 2))
    expected = loop_vmap(f, (0, None), 0, (x, m_loop))
    loop_state = fresh_review_state.state()
    fresh_review_state.reset()
    m_vmap = np.zeros((2, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", astvmap.PerformanceWarning)
        got = astvmap.vmap(f, in_axes=(0, None))(x, m_vmap)
    np.testing.assert_allclose(got, expected)
    np.testing.assert_array_equal(m_vmap, m_loop)
    for a, b in zip(fresh_review_state.state(), loop_state):
        np.testing.assert_array_equal(a, b)


@typing.runtime_checkable
class HasShape(typing.Protocol):
    shape: tuple


class PositiveFirst(type):
    def __instancecheck__(cls, obj):
        return bool(obj[0] > 0)


class Positive(metaclass=PositiveFirst):
    pass


def is_shaped(x):
    return isinstance(x, (_no_such_classes(), HasShape))


def is_positive(x):
    return isinstance(x, (_no_such_classes(), Positive))


def _no_such_classes():
    return getattr(__import__("sys").modules.get("astvmap_no_such_module"), "C", abc.ABC)


def test_isinstance_asks_each_example_where_a_class_answers_by_value():
    # a Protocol with data members has no issubclass(); a metaclass may look at the object
    x = np.arange(6.0).reshape(3, 2) + 1
    assert_vmap_equivalent(is_shaped, 0, 0, x)
    assert_vmap_equivalent(is_positive, 0, 0, x)
    with pytest.raises(astvmap.AstvmapError, match="differ between the examples"):
        astvmap.vmap(is_positive)(x * np.array([[1], [-1], [1]]))
