"""A module whose global a helper binds anew (tests/state_review/r10.py)."""

X = 1.0


def bump():
    global X
    X = 2.0
