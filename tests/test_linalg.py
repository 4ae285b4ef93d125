"""np.linalg rules against the loop oracle: every batch placement, batch sizes 0, 1, 3, 7 and the
per-example lengths, no fallback. NumPy's linalg broadcasts over leading axes, so most rules are the
same call; `solve` with a vector right-hand side is the NumPy 2 trap (a stacked vector is read as
matrices), `norm` without an axis must never reduce over the batch."""

import numpy as np
import pytest
from oracle import assert_vmap_equivalent, check_all_placements

import astvmap


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


# ---- np.linalg.lstsq ----------------------------------------------------------------------------------
# NumPy's lstsq is LAPACK gelsd per example; the batched form is one stacked SVD with gelsd's cutoff. The
# residuals are empty on an example unless its rank is n and m > n: batched, every example of one kind.


def lstsq(a, b):
    return np.linalg.lstsq(a, b, rcond=None)


def lstsq_x(a, b):
    return np.linalg.lstsq(a, b)[0]


def lstsq_duplicated_column(a, b):
    # rank n - 1 on every example: the residuals are empty, the solution the minimum-norm one
    return np.linalg.lstsq(np.concatenate([a, a[:, :1]], axis=1), b, rcond=None)


@pytest.mark.parametrize("shape", [(5, 3), (3, 3), (2, 4)], ids=["tall", "square", "wide"])
@pytest.mark.parametrize("k", [None, 2], ids=["vector", "matrix"])
def test_lstsq_against_the_loop(shape, k, rng):
    a, b = rng.normal(size=shape), rng.normal(size=shape[:1] + ((k,) if k else ()))
    for mapped in [(True, True), (True, False), (False, True)]:
        check_all_placements(lstsq, [a, b], mapped=mapped, batch_sizes=(0, 1, 3, 7, 11), rng=rng)


@pytest.mark.parametrize("shape", [(6, 3), (3, 5)], ids=["tall", "wide"])
def test_lstsq_rank_deficient_on_every_example(shape, rng):
    a, b = rng.normal(size=shape), rng.normal(size=(shape[0], 2))
    for mapped in [(True, True), (True, False), (False, True)]:
        check_all_placements(lstsq_duplicated_column, [a, b], mapped=mapped, batch_sizes=(1, 3, 7), rng=rng)


def _some_lanes_deficient(rng, m, n, B=7):
    a = rng.normal(size=(B, m, n))
    a[[1, 4], :, -1] = a[[1, 4], :, 0]  # a column repeated on two examples only
    return a


def test_lstsq_rank_deficient_on_some_examples(rng):
    # wide or square: the residuals are empty on every example whatever its rank
    for m, n in [(3, 3), (3, 5)]:
        a, b = _some_lanes_deficient(rng, m, n), rng.normal(size=(7, m))
        assert_vmap_equivalent(lstsq, 0, 0, a, b)
        assert_vmap_equivalent(lstsq, (0, None), 0, a, b[0])
        assert_vmap_equivalent(lstsq, (1, 1), (0, 1, 0, -1), np.moveaxis(a, 0, 1), b.T.copy())
    # tall: the examples' residuals differ in shape; the loop cannot stack them, nor can the batched call;
    # where only the solution is used, the call runs as the loop
    a, b = _some_lanes_deficient(rng, 6, 3), rng.normal(size=(7, 6))
    assert_vmap_equivalent(lstsq, 0, 0, a, b)
    with pytest.warns(astvmap.PerformanceWarning, match="residuals differ in shape"):
        got = astvmap.vmap(lstsq_x)(a, b)
    np.testing.assert_allclose(got, [lstsq_x(ai, bi) for ai, bi in zip(a, b)])


@pytest.mark.parametrize(
    "dtypes",
    [("float32", "float32"), ("float32", "float64"), ("complex128", "float64"), ("complex64", "float32")]
    + [("int64", "int64"), ("float64", "complex64"), ("bool", "int8")],
)
def test_lstsq_types(dtypes, rng):
    a, b = rng.normal(size=(5, 3)) * 3, rng.normal(size=(5, 2)) * 3
    a, b = a.astype(dtypes[0]), b.astype(dtypes[1])
    check_all_placements(lstsq, [a, b], batch_sizes=(3, 5), rng=rng)


def lstsq_rconds(a, b, r):
    x1, _, k1, _ = np.linalg.lstsq(a, b, -1)
    x2, _, k2, _ = np.linalg.lstsq(a, b, rcond=0.5)
    x3, _, k3, _ = np.linalg.lstsq(a, b, rcond=2.0)
    x4, _, k4, _ = np.linalg.lstsq(a=a, b=b, rcond=r)
    small = np.linalg.lstsq(a * 1e-3, b, 0.5)[2]  # (the cutoff is relative to the largest singular value)
    return x1, k1, x2, k2, x3, k3, x4, k4, small


def test_lstsq_rcond(rng):
    # rcond <= 0 or >= 1 is LAPACK's machine precision; 0.5 cuts singular values per example (a wide `a`:
    # the residuals are empty on every example, whatever its rank)
    a, b = rng.normal(size=(3, 5)), rng.normal(size=3)
    check_all_placements(
        lstsq_rconds, [a, b, 0.3], mapped=(True, True, False), batch_sizes=(1, 3, 7), rng=rng
    )
    check_all_placements(lstsq_rconds, [a, b, 0.3], mapped=(False, True, False), batch_sizes=(3,), rng=rng)
    # tall: every example the same, so that rcond=0.5 cuts them alike (their residuals agree in shape)
    a, b = rng.normal(size=(6, 3)), rng.normal(size=(6, 2))
    assert_vmap_equivalent(
        lstsq_rconds, (0, 0, None), 0, a * np.ones((7, 1, 1)), b * np.ones((7, 1, 1)), 1e-3
    )


def lstsq_edges(a, b):
    return np.linalg.lstsq(a, b, rcond=None)


@pytest.mark.parametrize(
    "a_shape, b_shape", [((0, 3), (0, 2)), ((4, 0), (4,)), ((4, 2), (4, 0)), ((0, 0), (0,))]
)
def test_lstsq_empty_examples(a_shape, b_shape, rng):
    a, b = rng.normal(size=(3, *a_shape)), rng.normal(size=(3, *b_shape))
    assert_vmap_equivalent(lstsq_edges, 0, 0, a, b)
    assert_vmap_equivalent(lstsq_edges, (None, 0), 0, a[0], b)


def lstsq_rank(a, b):
    return np.linalg.lstsq(a, b)[2]


def test_lstsq_default_cutoff(rng):
    # NumPy's default rcond is eps * max(m, n): for (3, 6), 1.3e-15 of the largest singular value
    u = np.linalg.qr(rng.normal(size=(4, 6, 3)))[0]
    v = np.linalg.qr(rng.normal(size=(4, 3, 3)))[0]
    s = np.array([[1.0, 0.5, 3e-15], [1.0, 0.5, 5e-16], [1.0, 3e-15, 5e-16], [2.0, 1.0, 0.5]])
    a = u @ (s[:, :, None] * v.mT)
    assert_vmap_equivalent(lstsq_rank, (0, None), 0, a.mT.copy(), rng.normal(size=3))


def test_lstsq_types_numpy_refuses(rng):
    a, b = rng.normal(size=(3, 4, 2)), rng.normal(size=(3, 4))
    for x, y in [(a.astype(np.float16), b), (a.astype(np.longdouble), b)]:
        assert_vmap_equivalent(lstsq_x, 0, 0, x, y)  # (the loop raises TypeError: so must vmap)


def lstsq_rcond_per_example(a, b, r):
    return np.linalg.lstsq(a, b, rcond=r)[0]


def test_lstsq_refusals_run_as_the_loop(rng):
    # a stack of matrices per example: NumPy raises, and so does the loop
    assert_vmap_equivalent(lstsq_x, 0, 0, rng.normal(size=(3, 2, 4, 3)), rng.normal(size=(3, 4)))
    # an rcond per example: the loop
    a, b, r = rng.normal(size=(3, 3, 4)), rng.normal(size=(3, 3)), np.array([0.1, 0.5, 0.9])
    assert_vmap_equivalent(lstsq_rcond_per_example, 0, 0, a, b, r, allow_fallback=True)


def test_lstsq_nested(rng):
    inner = astvmap.vmap(lstsq, in_axes=(0, 0))
    a, b = rng.normal(size=(3, 4, 5, 2)), rng.normal(size=(3, 4, 5))
    assert_vmap_equivalent(inner, (0, 0), 0, a, b)
    assert_vmap_equivalent(inner, (None, 0), 0, a[0], b)
    assert_vmap_equivalent(astvmap.vmap(lstsq, in_axes=(None, 0)), (0, 1), 0, a[:, 0], b)
    assert_vmap_equivalent(astvmap.vmap(lstsq, in_axes=(0, None)), (None, 0), 0, a[0], b)


# ---- np.linalg.pinv -------------------------------------------------------------------------------


def pinvs(a, r):
    return (
        np.linalg.pinv(a),
        np.linalg.pinv(a, 0.3),
        np.linalg.pinv(a, rtol=0.3),
        np.linalg.pinv(a, rtol=None),
        np.linalg.pinv(a=a, rcond=r),
    )


@pytest.mark.parametrize("shape", [(4, 2), (2, 4), (2, 3, 3)], ids=["tall", "wide", "stacked"])
def test_pinv_against_the_loop(shape, rng):
    check_all_placements(pinvs, [rng.normal(size=shape), 0.1], mapped=(True, False), rng=rng)


@pytest.mark.parametrize("dtype", ["float32", "complex128", "complex64", "int64"])
def test_pinv_types(dtype, rng):
    a = (rng.normal(size=(4, 3)) * 3).astype(dtype)
    check_all_placements(pinv, [a], batch_sizes=(0, 1, 3), rng=rng)


def pinv_hermitian(a):
    return np.linalg.pinv(a + a.T, hermitian=True), np.linalg.pinv(a @ a.T, 1e-10, True)


def test_pinv_hermitian(rng):
    check_all_placements(pinv_hermitian, [rng.normal(size=(3, 3))], batch_sizes=(0, 1, 3, 7), rng=rng)


def pinv_hermitian_flag(a, h):
    return np.linalg.pinv(a @ a.T, hermitian=h)


def test_pinv_hermitian_per_example_runs_as_the_loop(rng):
    a, h = rng.normal(size=(3, 3, 3)), np.array([True, False, True])
    assert_vmap_equivalent(pinv_hermitian_flag, 0, 0, a, h, allow_fallback=True)


def pinv_tolerance(a, r):
    return np.linalg.pinv(a, r), np.linalg.pinv(a, rtol=r)


def test_pinv_tolerance_per_example(rng):
    # a tolerance per example: after the batch axis, 1s for the stack axes it lacks
    for a, r in [
        (rng.normal(size=(4, 3)), 0.3),
        (rng.normal(size=(2, 4, 3)), 0.3),
        (rng.normal(size=(2, 4, 3)), np.array([0.2, 0.6])),
    ]:
        check_all_placements(pinv_tolerance, [a, r], batch_sizes=(1, 2, 3), rng=rng)
        check_all_placements(pinv_tolerance, [a, r], mapped=(False, True), batch_sizes=(2, 3), rng=rng)


RCONDS = np.array([0.1, 0.2, 0.3])


def pinv_global_rcond(a):
    return np.linalg.pinv(a, RCONDS)


def rank_global_tol(a):
    return np.linalg.matrix_rank(a, RCONDS * 10)


def test_tolerance_of_more_axes_than_the_stack(rng):
    # per example a (4, 2) with rcond (3,): pinv raises in NumPy, matrix_rank gives one rank per tolerance;
    # the stacked calls with B == 3 would give another result (and with B != 3 raise): the loop
    assert_vmap_equivalent(pinv_global_rcond, 0, 0, rng.normal(size=(3, 4, 2)), allow_fallback=True)
    for B in (3, 5):
        assert_vmap_equivalent(rank_global_tol, 0, 0, rng.normal(size=(B, 4, 2)) * 3, allow_fallback=True)


def test_pinv_nested(rng):
    a, r = rng.normal(size=(2, 3, 4, 3)), rng.uniform(0.1, 0.9, size=(2, 3))
    assert_vmap_equivalent(astvmap.vmap(pinvs, in_axes=(0, None)), (0, None), 0, a, 0.1)
    assert_vmap_equivalent(astvmap.vmap(pinv_tolerance, in_axes=(0, 0)), (0, 0), 0, a, r)
    assert_vmap_equivalent(astvmap.vmap(pinv_tolerance, in_axes=(None, 0)), (0, 1), 0, a[:, 0], r.T.copy())
