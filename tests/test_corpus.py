"""A corpus of small per-example NumPy functions, each checked against the per-example loop.

Tangent-style: the names of a function's parameters decide its per-example inputs (see ``ARGS``). Every
corpus function is run through ``oracle.check_all_placements``: every placement of the batch axis
(0..ndim and the negative forms), batch sizes 0, 1, 3, 7 and every per-example length (B == n), with
every argument mapped and, for functions of several arguments, with each argument mapped alone
(the others unbatched). No ``PerformanceWarning`` is allowed.

The second half holds the seed examples of WORKLOADS.md as their own tests.
"""

import inspect
import re
from functools import partial

import numpy as np
import pytest
from oracle import assert_vmap_equivalent, check_all_placements

import astvmap
from astvmap import vmap

# --------------------------------------------------------------------------- inputs by parameter name

ARGS = {
    "x": lambda rng: rng.normal(size=4),  # vector (4,)
    "y": lambda rng: rng.normal(size=4),  # vector (4,)
    "v": lambda rng: rng.normal(size=4),  # vector (4,)
    "z": lambda rng: rng.normal(size=3),  # vector (3,)
    "p": lambda rng: rng.uniform(0.5, 2.0, size=4),  # positive vector (4,)
    "s": lambda rng: float(rng.normal()),  # scalar float
    "t": lambda rng: float(rng.normal()),  # scalar float
    "m": lambda rng: rng.normal(size=(3, 4)),  # matrix (3, 4)
    "sqm": lambda rng: rng.normal(size=(4, 4)),  # square matrix (4, 4)
    "i": lambda rng: np.array([0, 3, 1, 2]),  # int index vector (4,), values in [0, 4)
    "k": lambda rng: 2,  # int scalar, values in [0, 3] when batched
    "mask": lambda rng: rng.random(4) < 0.5,  # bool vector (4,)
    "c": lambda rng: rng.normal(size=4) + 1j * rng.normal(size=4),  # complex vector (4,)
    "n": lambda rng: 3,  # small int, never mapped
}
UNMAPPED = {"n"}


def _params(fn):
    """Required positional parameters: those the corpus generates."""
    return [
        p.name
        for p in inspect.signature(fn).parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
    ]


def _arg_kind(name):
    base = re.sub(r"\d+$", "", name)
    assert base in ARGS, f"corpus parameter {name!r} has no input generator"
    return base


CORPUS = []


def corpus(fn=None, *, name=None):
    """Register a per-example function in the corpus."""
    if fn is None:
        return lambda f: corpus(f, name=name)
    CORPUS.append((name or fn.__name__, fn))
    return fn


def _patterns(fn):
    names = _params(fn)
    mappable = [j for j, n in enumerate(names) if _arg_kind(n) not in UNMAPPED]
    pats = [tuple(j in mappable for j in range(len(names)))]
    if len(mappable) >= 2:
        for j in mappable:
            pats.append(tuple(q == j for q in range(len(names))))
    return pats


# =========================================================================== the corpus
# ---- arithmetic, mixed ranks, Python scalars


@corpus
def add_scalar(x, s):
    return x + s


@corpus
def mixed_rank_matrix(m, x):
    return m * x + 1.0 - x[0]


@corpus
def polynomial(x):
    return 3.0 * x**2 - 2.0 * x + 1.0


@corpus
def scalar_arith(s, t):
    return s * t - s / (1.0 + t * t) + 2.0**t


@corpus
def divide_power(x, p):
    return x / p + p**0.5 - x // p + x % p


@corpus
def negation_abs(x, s):
    return -np.abs(x) + abs(s) + np.negative(x) * np.sign(s)


@corpus
def comparisons(x, y):
    return (x > y) & (x > 0) | (y == x)


@corpus
def integer_arith(i, k):
    return i * 2 + i // 2 - i % 3 + k**2


@corpus
def scalar_column_row(s, z, x):
    return s * z[:, None] + x


# ---- ufuncs


@corpus
def transcendental(x):
    return np.exp(x) + np.tanh(x) + np.sin(x) * np.cos(x) - np.arctan(x)


@corpus
def logs_roots(p):
    return np.log(p) + np.sqrt(p) + np.log1p(p) - np.exp2(-p)


@corpus
def max_min_ufunc(x, y, s):
    return np.maximum(x, y) - np.minimum(x, s) + np.fmax(y, 0.0)


@corpus
def where_three(x, y):
    return np.where(x > y, x, y * 2.0)


@corpus
def where_scalar_mixed(x, s):
    return np.where(x > s, x, s) + np.where(s > 0, 1.0, -1.0)


@corpus
def clip_relu(x):
    return np.clip(x, -0.5, 0.5) + np.maximum(x, 0) / (1.0 + np.exp(-x))


@corpus
def boolean_logic(mask, x):
    return np.logical_and(mask, x > 0) | ~mask ^ np.logical_not(x < -1)


@corpus
def complex_ops(c):
    return np.abs(c) + np.real(c * np.conj(c)) + np.imag(c) + np.angle(c)


@corpus
def complex_result(c, x):
    return c * x + 1j * np.exp(1j * x)


# ---- reductions


@corpus
def sum_all(m):
    return np.sum(m) + m.sum()


@corpus
def sum_axes(m):
    return m.sum(axis=0) + np.sum(m, axis=-1).sum() + np.sum(m, axis=(0, 1))


@corpus
def mean_keepdims(m):
    return (
        m
        - m.mean(axis=1, keepdims=True)
        + np.mean(m, axis=0, keepdims=True)
        + np.mean(m, axis=(-2, -1), keepdims=True)
    )


@corpus
def max_min_reduce(m, x):
    return np.max(m, axis=0) - np.min(m, axis=-1).mean() + x.max() + np.amin(x)


@corpus
def prod_reduce(m):
    return np.prod(m, axis=1) + m.prod(axis=(0, 1)) + np.prod(m[0])


@corpus
def std_var(m):
    return m.std(axis=1) + np.var(m, axis=-1) + np.std(m) + np.var(m, axis=1, ddof=1)


@corpus
def argmax_argmin(x, m):
    return np.argmax(x) + m.argmin(axis=1) + np.argmax(m, axis=-1) + np.argmax(m)


@corpus
def any_all(x, mask, m):
    return np.any(x > 0) & mask.all() | np.all(m > -1.0, axis=0) ^ np.any(mask)


@corpus
def cumulative(m, x):
    return np.cumsum(m, axis=1) + m.cumsum(axis=-2) + np.cumprod(x)


@corpus
def cumsum_flat(m):
    return np.cumsum(m) * 2.0


@corpus
def softmax(x):
    e = np.exp(x - np.max(x))
    return e / e.sum()


@corpus
def normalize(x):
    return x / np.sqrt(np.sum(x * x))


@corpus
def keepdims_broadcast(m):
    return np.sum(m, axis=-1, keepdims=True) * m / np.max(np.abs(m), axis=-2, keepdims=True)


# ---- contractions


@corpus
def dot_vv(x, y):
    return np.dot(x, y)


@corpus
def matvec(m, x):
    return m @ x


@corpus
def vecmat(x, sqm):
    return x @ sqm


@corpus
def matmul_mm(m, sqm):
    return np.matmul(m, sqm)


@corpus
def dot_mm(m, sqm):
    return np.dot(m, sqm) + m.dot(sqm)


@corpus
def dot_scalar(s, x):
    return np.dot(s, x) + np.dot(x, x) * s


@corpus
def vdot_real(x, y):
    return np.vdot(x, y)


@corpus
def vdot_complex(c, x):
    return np.vdot(c, c * x)


@corpus
def vdot_flattens(m):
    return np.vdot(m, m[::-1])


@corpus
def inner_outer(x, y):
    return np.inner(x, y) + np.outer(x, y).sum(axis=0)


@corpus
def tensordots(m, sqm):
    return np.tensordot(m, sqm, axes=1) + np.tensordot(m, m, axes=([0, 1], [0, 1]))


@corpus
def einsums(m, x, sqm):
    return np.einsum("ij,j->i", m, x).sum() + np.einsum("ii", sqm) + np.einsum("ij,jk->ik", m, sqm)


@corpus
def einsum_outer(x, z):
    return np.einsum("i,j->ij", z, x)


@corpus
def traces(sqm):
    return np.trace(sqm) + sqm.trace() + np.trace(sqm, offset=1)


@corpus
def quadratic_form(x, sqm):
    return x @ sqm @ x


@corpus
def matvec_scaled(m, x, s):
    return (m @ x) * s + m[0] @ x


@corpus
def dot_nd(m, sqm):
    # np.dot of N-d arrays is not matmul: last axis of a with second-to-last of b
    return np.dot(np.stack([m, m * 2.0]), sqm).sum(axis=0) + np.dot(m, np.stack([sqm, sqm.T]))[:, 0, :]


@corpus
def einsum_ellipsis(m, x):
    return np.einsum("...i,...i->...", m, x) + np.einsum("ij->", m)


@corpus
def linalg_solve_vector(sqm, x):
    return np.linalg.solve(sqm + 5.0 * np.eye(4), x)


@corpus
def linalg_norms(x, m):
    return np.linalg.norm(x) + np.linalg.norm(m, axis=1).sum() + np.linalg.norm(m, axis=-1)


@corpus
def linalg_inv_det(sqm):
    a = sqm + 5.0 * np.eye(4)
    return np.linalg.inv(a) * np.linalg.det(a)


# ---- shape ops


@corpus
def reshapes(m):
    a = m.reshape(4, 3)
    b = np.reshape(m, (2, -1))
    c = m.reshape((12,))
    return a.sum(axis=1) + b[1, :4] + c[-4:]


@corpus
def ravel_flatten(m):
    return np.ravel(m) * m.flatten() + m.ravel()


@corpus
def transposes(m):
    return m.T @ m + np.transpose(m).sum() + np.transpose(m, (1, 0))[0, 0]


@corpus
def swapaxes(m, x):
    return np.swapaxes(m, 0, 1) * x[:, None] + m.swapaxes(-1, -2)


@corpus
def expand_squeeze(x):
    return (
        np.squeeze(np.expand_dims(x, 0), axis=0) + np.expand_dims(x, -1) + np.expand_dims(x, axis=1).squeeze()
    )


@corpus
def concat(x, y, z):
    return np.concatenate([x, y, z[:2]])


@corpus
def concat_axis(m, x):
    return np.concatenate([m, x[None]], axis=0) + np.concatenate((m, m), axis=-1)[:, :4].sum()


@corpus
def stacks(x, y):
    return np.stack([x, y], axis=1) + np.stack((y, x)).T + np.stack([x, y], axis=-1)


@corpus
def hv_stack(x, y):
    return np.vstack([x, y]).sum(axis=0) + np.hstack([x, y])[:4]


# ---- indexing with unbatched indices (and two batched ones)


@corpus
def slicing(x):
    return x[1:3].sum() + x[::-1] + x[-1] + x[:2].mean()


@corpus
def ellipsis_index(m):
    return m[..., 0] + m[None][0, :, 1] + m[..., -1]


@corpus
def row_col(m):
    return m[1] * m[:, 2].sum() + m[-1, ::-1]


@corpus
def newaxis_outer(x, z):
    return x[None] * z[:, None] + x[np.newaxis, :]


@corpus
def step_slices(m):
    return m[1:, ::2] + m[:-1, 1::2]


@corpus
def dynamic_index(x, k):
    return x[k] * 2.0 + x[-1]


@corpus
def gather(x, i):
    return x[i] + np.take(x, i)


@corpus
def fancy_index_unbatched(m):
    return m[[0, 2]].sum(axis=0) + m[:, [1, 3, 0, 2]].sum(axis=0) + m[[0, 1, 2, 1], [3, 2, 1, 0]]


@corpus
def fancy_index_separated(m):
    t = np.stack([m, m + 1.0])
    return t[[0, 1], :, [1, 2]] + t[1, :, [0, 3]]


# ---- creation


@corpus
def zeros_like_accumulate(x):
    z = np.zeros_like(x)
    z += x * 2
    z[0] = 1.0
    return z


@corpus
def ones_arange(x):
    return np.ones(3) * x[0] + np.arange(4) @ x


@corpus
def arange_scale(x):
    return np.arange(4) * x + np.arange(1, 5, dtype=float)


@corpus
def array_literal(x, s):
    return np.array([x[0], x[1], s]) + np.array([[x[0], 1.0, 0.0], [2.0, x[3], s]]).sum(axis=0)


@corpus
def eye_matvec(x):
    return np.eye(4) @ x + np.identity(4)[0]


@corpus
def astype_int(x):
    return (x * 10).astype(np.int64) * 2


@corpus
def astype_float32(x):
    return x.astype(np.float32) * np.float32(2)


@corpus
def copy_then_write(x):
    y = x.copy()
    y[0] = 1.0
    y[1:3] *= 2
    return y


@corpus
def local_buffer_fill(x):
    a = np.zeros((2, 4))
    a[0] = x
    a[1] = np.full(4, 2.0) * x
    return a


@corpus
def ones_like_full(m):
    return np.ones_like(m) * m.mean() + np.full_like(m, 0.5)


# ---- statements


@corpus
def tuple_unpacking(x):
    a, b = x[0], x[1]
    a, b = b, a + b
    (c, d), e = (x[2], x[3]), a * b
    return a * b + c - d + e


@corpus
def augmented(x, y):
    z = x * 1.0
    z += y
    z *= 2
    z -= x
    z /= 2.0
    z **= 2
    return z


@corpus
def for_range_accumulate(x, n):
    acc = 0.0
    for i in range(n):
        acc = acc + x[i] * i
    return acc


@corpus
def for_rows_accumulate(m):
    acc = np.zeros(4)
    for row in range(m.shape[0]):
        acc += m[row] ** 2
    return acc


@corpus
def list_append_array(x):
    out = []
    for i in range(3):
        out.append(x[i] + x[i + 1])
    return np.array(out)


@corpus
def list_append_stack(x):
    rows = []
    for i in range(len(x)):
        rows.append(x * i)
    return np.stack(rows)


@corpus
def list_comprehension(x):
    return np.array([x[i] * x[-1 - i] for i in range(len(x))]) + np.stack([x[j] for j in range(2)]).sum()


@corpus
def if_unbatched_shape(x):
    if x.shape[0] > 2:
        y = x[:2] * 2
    else:
        y = x
    return y


@corpus
def ternary_unbatched(x, m):
    scale = 2.0 if m.ndim == 2 else 1.0
    return x * scale if len(x) == 4 else x


@corpus
def assert_rank(x, m):
    assert x.ndim == 1
    assert m.shape == (3, 4)
    return m @ x


@corpus
def early_return_unbatched(x, n):
    if n > 2:
        return x[:n] * 2.0
    return x


@corpus
def while_unbatched_counter(x):
    i = 0
    acc = x[0]
    while i < len(x) - 1:
        i += 1
        acc = acc * 0.5 + x[i]
    return acc


@corpus
def nested_loops(m):
    total = 0.0
    for a in range(m.shape[0]):
        for b in range(m.shape[1]):
            total += m[a, b] * (a - b)
    return total


@corpus
def tuple_output(x, m):
    return x.sum(), m @ x, (x[0], m[0])


@corpus
def dict_output(x, s):
    return {"a": x * s, "b": s, "c": [x[1], 2.0 * s]}


@corpus
def partly_unbatched(x, y):
    return y * 2.0, x.sum() + y


@corpus
def constant_and_batched(x):
    return np.ones(2), x * 0.0 + 1.0, 3.0


# ---- helpers, lambdas, partial, introspection


def _square(v):
    return v * v


def _sq_norm(v):
    return np.sum(_square(v))


def _affine(v, scale, shift=0.0):
    return v * scale + shift


@corpus
def helper_chain(x, y):
    return _sq_norm(x - y) + _square(x[0]) + _affine(y, 2.0, shift=1.0)


@corpus
def helper_batched_scalar(x, s):
    return _affine(x, s) + _affine(s, x[0])


@corpus
def local_lambda(x, s):
    f = lambda a: a * 2 + 1
    return f(x) + f(s)


@corpus
def partial_helper(x, s):
    g = partial(_affine, scale=3.0)
    h = partial(_affine, x)
    return g(x) + h(s)


@corpus
def nested_closure(x, y):
    def inner(v):
        return v * x[0] + y

    return inner(y) + inner(x)


@corpus
def shape_ndim_len(x, m):
    return x * x.shape[0] + m.ndim + len(m) + np.zeros(m.shape[1]) + x.size


corpus(lambda x, y: x * y + np.sin(x), name="module_lambda")
corpus(partial(_affine, scale=0.5, shift=-1.0), name="module_partial")


# =========================================================================== corpus tests

CASES = [
    pytest.param(fn, pat, id=f"{name}-{''.join('B' if b else 'u' for b in pat)}")
    for name, fn in CORPUS
    for pat in _patterns(fn)
]


def test_corpus_is_large_enough():
    assert len(CORPUS) >= 45
    assert len({name for name, _ in CORPUS}) == len(CORPUS), "corpus names must be unique"


@pytest.mark.parametrize("fn, pattern", CASES)
def test_corpus(fn, pattern, rng):
    """Every placement, batch sizes 0, 1, 3, 7, 4 (== len(x)), no fallback."""
    args = [ARGS[_arg_kind(name)](rng) for name in _params(fn)]
    check_all_placements(fn, args, mapped=pattern, rng=rng)


# =========================================================================== seed examples (WORKLOADS.md)

_seed_rng = np.random.default_rng(0)
W = _seed_rng.normal(size=(5, 3))
b = _seed_rng.normal(size=3)


def neuron(x):
    assert x.ndim == 1
    return np.sum(np.tanh(np.dot(x, W) + b))


def test_seed000_neuron(rng):
    X = rng.normal(size=(6, 5))
    out = vmap(neuron)(X)
    np.testing.assert_allclose(out, np.tanh(X @ W + b).sum(axis=1), rtol=1e-10)
    check_all_placements(neuron, [rng.normal(size=5)], rng=rng)


def predict(params, input_vec):
    w, b = params
    output_vec = np.dot(w, input_vec) + b
    return np.tanh(output_vec)


def test_seed001_predict(rng):
    w, bias = rng.normal(size=(6, 8)), rng.normal(size=6)
    params = (w, bias)
    X = rng.normal(size=(5, 8))
    hand = np.tanh(X @ w.T + bias)
    np.testing.assert_allclose(vmap(partial(predict, params))(X), hand, rtol=1e-10)
    np.testing.assert_allclose(vmap(predict, in_axes=(None, 0))(params, X), hand, rtol=1e-10)
    assert_vmap_equivalent(partial(predict, params), 0, 0, X)
    assert_vmap_equivalent(predict, (None, 0), 0, params, X)
    assert_vmap_equivalent(predict, (None, 1), 0, params, X.T.copy())
    assert_vmap_equivalent(predict, (None, 0), 0, params, X[:0])
    check_all_placements(partial(predict, params), [rng.normal(size=8)], rng=rng)
    check_all_placements(predict, [params, rng.normal(size=8)], mapped=(False, True), rng=rng)
    # the parameters batched too (one network per example)
    check_all_placements(
        predict, [params, rng.normal(size=8)], mapped=(True, True), rng=rng, batch_sizes=(0, 1, 3, 6, 8)
    )


def sqeuclidean_distance(x, y):
    return np.sum((x - y) ** 2)


def euclidean_distance(x, y, square=False):
    d = np.sum((x - y) ** 2)
    return d if square else np.sqrt(d)


def test_seed001_pairwise_nested(rng):
    X, Y = rng.normal(size=(5, 3)), rng.normal(size=(4, 3))
    hand = ((X[:, None, :] - Y[None, :, :]) ** 2).sum(-1)
    pairwise = vmap(vmap(partial(euclidean_distance, square=True), in_axes=(None, 0)), in_axes=(0, None))
    np.testing.assert_allclose(pairwise(X, Y), hand, rtol=1e-10)
    pairwise_sq = vmap(vmap(sqeuclidean_distance, in_axes=(None, 0)), in_axes=(0, None))
    np.testing.assert_allclose(pairwise_sq(X, Y), hand, rtol=1e-10)
    pairwise_sqrt = vmap(vmap(euclidean_distance, in_axes=(None, 0)), in_axes=(0, None))
    np.testing.assert_allclose(pairwise_sqrt(X, Y), np.sqrt(hand), rtol=1e-10)
    # B == D and B == 0 on either level
    X3, Y3 = rng.normal(size=(3, 3)), rng.normal(size=(3, 3))
    np.testing.assert_allclose(pairwise(X3, Y3), ((X3[:, None] - Y3[None]) ** 2).sum(-1), rtol=1e-10)
    assert pairwise(X[:0], Y).shape == (0, 4)
    assert pairwise(X, Y[:0]).shape == (5, 0)
    inner = vmap(partial(euclidean_distance, square=True), in_axes=(None, 0))
    assert_vmap_equivalent(inner, (0, None), 0, X, Y)
    check_all_placements(
        partial(euclidean_distance, square=True), [rng.normal(size=3), rng.normal(size=3)], rng=rng
    )
    check_all_placements(
        euclidean_distance, [rng.normal(size=3), rng.normal(size=3)], mapped=(True, False), rng=rng
    )


def rbf_kernel(params, x, y):
    return np.exp(-params["gamma"] * sqeuclidean_distance(x, y))


def linear_kernel(params, x, y):
    return params["scale"] * np.dot(x, y)


def gram(kernel_func, params, X, Y):
    return vmap(lambda x: vmap(lambda y: kernel_func(params, x, y))(Y))(X)


def test_seed001_gram(rng):
    X, Y = rng.normal(size=(5, 3)), rng.normal(size=(4, 3))
    params = {"gamma": 0.5}
    hand = np.exp(-0.5 * ((X[:, None, :] - Y[None, :, :]) ** 2).sum(-1))
    with _no_fallback():
        np.testing.assert_allclose(gram(rbf_kernel, params, X, Y), hand, rtol=1e-10)
        # same code object, different closure values: must not share a cached transform
        np.testing.assert_allclose(
            gram(rbf_kernel, {"gamma": 2.0}, X, Y),
            np.exp(-2.0 * ((X[:, None, :] - Y[None, :, :]) ** 2).sum(-1)),
            rtol=1e-10,
        )
        np.testing.assert_allclose(gram(linear_kernel, {"scale": 3.0}, X, Y), 3.0 * X @ Y.T, rtol=1e-10)
        np.testing.assert_allclose(gram(rbf_kernel, params, X, Y), hand, rtol=1e-10)
        X4 = rng.normal(size=(3, 3))
        np.testing.assert_allclose(
            gram(rbf_kernel, params, X4, X4),
            np.exp(-0.5 * ((X4[:, None] - X4[None]) ** 2).sum(-1)),
            rtol=1e-10,
        )
        assert gram(rbf_kernel, params, X[:0], Y).shape == (0, 4)


def covariance_matrix(kernel_func, x, y):
    mapx1 = vmap(lambda x, y: kernel_func(x, y), in_axes=(0, None), out_axes=0)
    mapx2 = vmap(lambda x, y: mapx1(x, y), in_axes=(None, 0), out_axes=1)
    return mapx2(x, y)


def test_seed001_covariance_matrix(rng):
    X, Y = rng.normal(size=(5, 3)), rng.normal(size=(4, 3))
    with _no_fallback():
        K = covariance_matrix(sqeuclidean_distance, X, Y)
        np.testing.assert_allclose(K, ((X[:, None, :] - Y[None, :, :]) ** 2).sum(-1), rtol=1e-10)
        K2 = covariance_matrix(lambda a, c: np.exp(-np.sum((a - c) ** 2)), X, Y)
        np.testing.assert_allclose(K2, np.exp(-((X[:, None, :] - Y[None, :, :]) ** 2).sum(-1)), rtol=1e-10)
        K3 = covariance_matrix(np.dot, X, Y)
        np.testing.assert_allclose(K3, X @ Y.T, rtol=1e-10)


vv = lambda x, y: np.vdot(x, y)


def test_seed001_mv_mm_from_vdot(rng):
    mv = vmap(vv, (0, None), 0)  # ([b, a], [a]) -> [b]
    mm = vmap(mv, (None, 1), 1)  # ([b, a], [a, c]) -> [b, c]
    A, Bm, v = rng.normal(size=(3, 5)), rng.normal(size=(5, 4)), rng.normal(size=5)
    with _no_fallback():
        np.testing.assert_allclose(mv(A, v), A @ v, rtol=1e-10)
        np.testing.assert_allclose(mm(A, Bm), A @ Bm, rtol=1e-10)
        Sq = rng.normal(size=(4, 4))
        np.testing.assert_allclose(mm(Sq, Sq), Sq @ Sq, rtol=1e-10)
        assert mm(A[:0], Bm).shape == (0, 4)
        assert mm(A, Bm[:, :0]).shape == (3, 0)
    assert_vmap_equivalent(vv, (0, None), 0, A, v)
    assert_vmap_equivalent(mv, (None, 1), 1, A, Bm)


def custom_dot(x, y):
    return np.dot(x, y) ** 2


def test_seed002_custom_dot_ints():
    out = vmap(custom_dot, in_axes=[0, 0])(
        np.asarray([[2, 2, 2], [3, 3, 3]]), np.asarray([[4, 4, 4], [5, 5, 5]])
    )
    np.testing.assert_array_equal(out, np.array([576, 2025]))
    assert out.dtype.kind == "i"
    assert out.dtype == np.stack([custom_dot(np.asarray([2, 2, 2]), np.asarray([4, 4, 4]))] * 2).dtype


def test_seed002_custom_dot(rng):
    X, Y = rng.normal(size=(6, 3)), rng.normal(size=(6, 3))
    np.testing.assert_allclose(
        vmap(custom_dot, in_axes=[0, 0])(X, Y), np.einsum("bi,bi->b", X, Y) ** 2, rtol=1e-10
    )
    # per-example scalars
    x, y = rng.normal(size=5), rng.normal(size=5)
    np.testing.assert_allclose(vmap(custom_dot, in_axes=[0, 0])(x, y), (x * y) ** 2, rtol=1e-10)
    check_all_placements(custom_dot, [rng.normal(size=3), rng.normal(size=3)], rng=rng)
    check_all_placements(custom_dot, [1.5, -2.0], rng=rng)
    check_all_placements(custom_dot, [np.array([1, 2, 3]), np.array([0, 4, 2])], rng=rng)


def test_seed003_square_lambda():
    out = vmap(lambda x: x * x, in_axes=(0,))(np.array([1, 2, 3]))
    np.testing.assert_array_equal(out, [1, 4, 9])
    assert out.dtype.kind == "i"


def convolve(x, w):
    output = []
    for i in range(1, len(x) - 1):
        output.append(np.dot(x[i - 1 : i + 2], w))
    return np.array(output)


def convolve_k(x, w):
    k = len(w)
    output = []
    for i in range(len(x) - k + 1):
        output.append(np.dot(x[i : i + k], w))
    return np.array(output)


def _hand_conv(X, Wb, k):
    from numpy.lib.stride_tricks import sliding_window_view

    return np.einsum("bij,bj->bi", sliding_window_view(X, k, axis=1), Wb)


def test_seed003_convolve(rng):
    xs, ws = rng.normal(size=(7, 5)), rng.normal(size=(7, 3))
    np.testing.assert_allclose(vmap(convolve)(xs, ws), _hand_conv(xs, ws, 3), rtol=1e-10)
    w = rng.normal(size=3)
    np.testing.assert_allclose(
        vmap(convolve, in_axes=[0, None])(xs, w), _hand_conv(xs, np.broadcast_to(w, (7, 3)), 3), rtol=1e-10
    )
    check_all_placements(convolve, [rng.normal(size=5), rng.normal(size=3)], rng=rng)
    check_all_placements(convolve, [rng.normal(size=5), rng.normal(size=3)], mapped=(True, False), rng=rng)
    check_all_placements(convolve, [rng.normal(size=5), rng.normal(size=3)], mapped=(False, True), rng=rng)


def test_seed003_convolve_k(rng):
    xs, ws = rng.normal(size=(4, 12)), rng.normal(size=(4, 4))
    np.testing.assert_allclose(vmap(convolve_k)(xs, ws), _hand_conv(xs, ws, 4), rtol=1e-10)
    check_all_placements(convolve_k, [rng.normal(size=8), rng.normal(size=3)], rng=rng)
    check_all_placements(convolve_k, [rng.normal(size=8), rng.normal(size=3)], mapped=(False, True), rng=rng)


def test_seed003_in_axes_1_on_1d_is_an_error(rng):
    with pytest.raises((astvmap.AstvmapError, ValueError)):
        vmap(convolve, in_axes=(0, 1))(rng.normal(size=(3, 5)), rng.normal(size=3))


# --------------------------------------------------------------------------- helpers


class _no_fallback:
    """Turn PerformanceWarning into an error inside the block."""

    def __enter__(self):
        import warnings

        self._cm = warnings.catch_warnings()
        self._cm.__enter__()
        warnings.simplefilter("error", astvmap.PerformanceWarning)
        return self

    def __exit__(self, *exc):
        return self._cm.__exit__(*exc)
