"""Module state the fresh-values reproducers (tests/fresh_review.py) read and write through."""

import functools

import numpy as np

ARR = np.zeros(3)


def get_arr():
    return ARR


class Holder:
    ARR = np.zeros(3)


def reset():
    ARR[...] = 0
    Holder.ARR[...] = 0
    BOX.arr[...] = 0


def state():
    return ARR.copy(), Holder.ARR.copy(), BOX.arr.copy()


# (helpers a second review found judged as returning only what they were given: each returns module state)
class Box:
    def __init__(self):
        self.arr = np.zeros(3)

    def get(self):
        return self.arr


BOX = Box()


def _raw():
    return ARR


def _ret(a):
    return a


def get_via_helper():
    return _raw()


def get_via_globals():
    return globals()["ARR"]


def get_via_closure():
    def inner():
        return ARR

    return inner()


def get_default(a=ARR):
    return a


get_bound = BOX.get
get_partial = functools.partial(_ret, ARR)
