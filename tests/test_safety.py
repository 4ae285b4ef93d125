"""The safety switches (astvmap/safety.py): `check=k` compares sampled examples with the loop on every
call, `astvmap.disable()` and `ASTVMAP_DISABLE=1` run every vmapped function as the plain loop."""

import threading

import numpy as np
import pytest

import astvmap
from astvmap import safety, vmap


def norm_and_scale(x, s):
    return np.sqrt(np.sum(x * x)) * s, {"sum": x.sum()}


def counted(x):
    print("counted")  # batched: once per call (it prints the batch); the loop: once per example
    return x * 2.0


def _calls(capsys) -> int:
    return capsys.readouterr().out.count("counted")


def test_sample_takes_first_and_last_and_is_seeded():
    assert safety.sample(0, 3) == []
    assert safety.sample(2, 5) == [0, 1]
    picked = safety.sample(100, 5)
    assert picked[0] == 0 and picked[-1] == 99 and len(set(picked)) == 5
    assert safety.sample(100, 5) == picked
    assert safety.sample(100, 1) == [0]


def test_check_passes_on_a_correct_rewrite(rng):
    X, s = rng.normal(size=(50, 4)), rng.normal(size=50)
    out = vmap(norm_and_scale, check=4)(X, s)
    np.testing.assert_allclose(out[0], np.sqrt((X * X).sum(1)) * s)


def test_check_raises_on_a_difference(rng, monkeypatch):
    X, s = rng.normal(size=(20, 4)), rng.normal(size=20)
    f = vmap(norm_and_scale, check=3)
    real = astvmap.VmappedFunction._run

    def wrong(self, args, kwargs):  # a batched result off in example 19 only
        out = real(self, args, kwargs)
        out[0][19] += 1.0
        return out

    monkeypatch.setattr(astvmap.VmappedFunction, "_run", wrong)
    with pytest.raises(astvmap.AstvmapError, match="example 19 of 20 differing from the loop"):
        f(X, s)


def test_check_sees_the_arguments_before_the_call_writes_into_them(rng):
    def bump(x):
        x += 1.0
        return x.sum()

    X = rng.normal(size=(6, 3))
    expected = (X + 1.0).sum(1)
    np.testing.assert_allclose(vmap(bump, check=6)(X), expected)


@pytest.mark.parametrize("bad", [-1, 1.5, True])
def test_check_must_be_a_count(bad):
    with pytest.raises(ValueError, match="check must be an int"):
        vmap(counted, check=bad)
    with pytest.raises(ValueError, match="random draws differ"):
        vmap(counted, check=2, randomness="different")


def test_disable_runs_the_loop(rng, monkeypatch, capsys):
    X = rng.normal(size=(5, 3))
    f = vmap(counted)
    with astvmap.disable():
        np.testing.assert_allclose(f(X), X * 2.0)
    assert _calls(capsys) == 5 and "no call yet" in f.source  # nothing was rewritten
    f(X)
    assert _calls(capsys) == 1  # batched again: the rewritten body ran once, not once per example
    monkeypatch.setenv("ASTVMAP_DISABLE", "1")
    f(X)
    assert _calls(capsys) == 5


def test_disable_holds_for_its_own_thread_only(rng, capsys):
    X = rng.normal(size=(4, 3))
    f = vmap(counted)
    f(X)
    _calls(capsys)
    seen = []
    entered, done = threading.Event(), threading.Event()

    def other():
        entered.wait()
        f(X)
        seen.append(_calls(capsys))
        done.set()

    t = threading.Thread(target=other)
    t.start()
    with astvmap.disable():
        entered.set()
        done.wait(30)
    t.join()
    assert seen == [1]  # the other thread ran the batched body once, not the loop's four times
