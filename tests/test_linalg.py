"""np.linalg rules against the loop oracle: every batch placement, batch sizes 0, 1, 3, 7 and the
per-example lengths, no fallback. NumPy's linalg broadcasts over leading axes, so most rules are the
same call; `solve` with a vector right-hand side is the NumPy 2 trap (a stacked vector is read as
matrices), `norm` without an axis must never reduce over the batch."""

import numpy as np
import pytest
from oracle import check_all_placements


def _spd(rng, n=3):
    a = rng.normal(size=(n, n))
    return a @ a.T + n * np.eye(n)


def inv(a):
    return np.linalg.inv(a)


def det_slogdet(a):
    sign, logdet = np.linalg.slogdet(a)
    return np.linalg.det(a), sign * np.exp(logdet)


def chol(a):
    return np.linalg.cholesky(a)


def eigh_values(a):
    w, v = np.linalg.eigh(a)
    return w, np.abs(v[:, -1])  # eigenvectors up to sign


def eigvalsh(a):
    return np.linalg.eigvalsh(a)


def svd_values(a):
    return np.linalg.svd(a, compute_uv=False)


def qr_r(a):
    q, r = np.linalg.qr(a)
    return np.abs(np.diag(r))


def pinv(a):
    return np.linalg.pinv(a)


def power(a):
    return np.linalg.matrix_power(a, 3)


def solve_vector(a, b):
    return np.linalg.solve(a, b)


def norms(a, v):
    return np.linalg.norm(a), np.linalg.norm(v), np.linalg.norm(a, axis=-1), np.linalg.norm(a, ord=1)


@pytest.mark.parametrize("f", [inv, det_slogdet, chol, eigh_values, eigvalsh, svd_values, qr_r, pinv, power])
def test_stacked_linalg(f, rng):
    check_all_placements(f, [_spd(rng)], mapped=(True,), rng=rng)


def test_solve_with_a_vector_right_hand_side(rng):
    # B == n is the case NumPy 2 would silently read as matrices
    check_all_placements(solve_vector, [_spd(rng), rng.normal(size=3)], mapped=(True, True), rng=rng)
    check_all_placements(solve_vector, [_spd(rng), rng.normal(size=3)], mapped=(False, True), rng=rng)
    check_all_placements(solve_vector, [_spd(rng), rng.normal(size=3)], mapped=(True, False), rng=rng)


def test_norms_never_reduce_over_the_batch(rng):
    check_all_placements(norms, [rng.normal(size=(3, 4)), rng.normal(size=4)], mapped=(True, True), rng=rng)


def diags(a, v):
    return np.diag(a), np.diag(v), np.diag(v, 1), np.diag(a, -1)


def test_diag(rng):
    check_all_placements(diags, [rng.normal(size=(3, 4)), rng.normal(size=3)], mapped=(True, True), rng=rng)
