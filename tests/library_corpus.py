"""Real library calls, written as a user writes a per-example function around them.

Each case is a per-example function, the per-example arguments it takes (made from a seed), which of them
are mapped, and the library it needs. The suite (tests/test_library_corpus.py) compares each with the
loop at several batch sizes; `benchmarks/library_corpus.py` times each against the loop and reports how it
ran (batched, region loop, whole loop) and the first call's cost. No case is special-cased anywhere in
astvmap: the calls batch because the libraries' own source is rewritten.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    fn: Callable
    make: Callable[[np.random.Generator], tuple]  # one example's arguments
    in_axes: Any = 0
    needs: str = "numpy"  # the top-level package the case imports
    rtol: float | None = None


CASES: list[Case] = []


def case(make, in_axes=0, needs="numpy", name=None, rtol=None):
    def register(fn):
        CASES.append(Case(name or fn.__name__, fn, make, in_axes, needs, rtol))
        return fn

    return register


# ---- argument makers (one example) ---------------------------------------------------------------------
def vec(n=16):
    return lambda r: (r.normal(size=n),)


def two(n=16):
    return lambda r: (r.normal(size=n), r.normal(size=n))


def pos(n=16):
    return lambda r: (r.uniform(0.5, 2.0, size=n),)


def prob2(n=16):
    def make(r):
        p, q = r.uniform(0.1, 1, size=n), r.uniform(0.1, 1, size=n)
        return p / p.sum(), q / q.sum()

    return make


def bools(n=16):
    return lambda r: (r.random(n) < 0.5, r.random(n) < 0.5)


def mat(n=5, m=6):
    return lambda r: (r.normal(size=(n, m)),)


# ---- scipy.special -------------------------------------------------------------------------------------
SP = "scipy"


@case(vec(), needs=SP)
def special_logsumexp(x):
    from scipy.special import logsumexp

    return logsumexp(x)


@case(two(), needs=SP)
def special_logsumexp_weighted(x, b):
    from scipy.special import logsumexp

    return logsumexp(x, b=np.abs(b))


@case(mat(), needs=SP)
def special_logsumexp_axis(x):
    from scipy.special import logsumexp

    return logsumexp(x, axis=1)


@case(vec(), needs=SP)
def special_softmax(x):
    from scipy.special import softmax

    return softmax(x)


@case(mat(), needs=SP)
def special_softmax_axis(x):
    from scipy.special import softmax

    return softmax(x, axis=0)


@case(vec(), needs=SP)
def special_log_softmax(x):
    from scipy.special import log_softmax

    return log_softmax(x)


@case(prob2(), needs=SP)
def special_rel_entr(p, q):
    from scipy.special import rel_entr

    return rel_entr(p, q).sum()


@case(two(), needs=SP)
def special_expit_dot(x, w):
    from scipy.special import expit

    return expit(x) @ w


# ---- scipy.stats ---------------------------------------------------------------------------------------
@case(prob2(), needs=SP, in_axes=(0, None))
def stats_entropy(p, q):
    from scipy.stats import entropy

    return entropy(p)


@case(prob2(), needs=SP)
def stats_entropy_kl(p, q):
    from scipy.stats import entropy

    return entropy(p, q)


@case(vec(), needs=SP)
def stats_zscore(x):
    from scipy.stats import zscore

    return zscore(x)


@case(vec(), needs=SP)
def stats_skew(x):
    from scipy.stats import skew

    return skew(x)


@case(vec(), needs=SP)
def stats_kurtosis(x):
    from scipy.stats import kurtosis

    return kurtosis(x)


@case(pos(), needs=SP)
def stats_gmean(x):
    from scipy.stats import gmean

    return gmean(x)


@case(pos(), needs=SP)
def stats_hmean(x):
    from scipy.stats import hmean

    return hmean(x)


@case(vec(), needs=SP)
def stats_sem(x):
    from scipy.stats import sem

    return sem(x)


@case(pos(), needs=SP)
def stats_variation(x):
    from scipy.stats import variation

    return variation(x)


@case(vec(), needs=SP)
def stats_moment(x):
    from scipy.stats import moment

    return moment(x, order=3)


@case(vec(), needs=SP)
def stats_iqr(x):
    from scipy.stats import iqr

    return iqr(x)


@case(two(), needs=SP)
def stats_pearsonr(x, y):
    from scipy.stats import pearsonr

    return pearsonr(x, y).statistic


@case(vec(), needs=SP)
def stats_trim_mean(x):
    from scipy.stats import trim_mean

    return trim_mean(x, 0.1)


@case(vec(), needs=SP)
def stats_median_abs_deviation(x):
    from scipy.stats import median_abs_deviation

    return median_abs_deviation(x)


@case(mat(), needs=SP)
def stats_zscore_axis(x):
    from scipy.stats import zscore

    return zscore(x, axis=1)


@case(vec(), needs=SP)
def stats_describe(x):
    from scipy.stats import describe

    d = describe(x)
    return d.mean, d.variance, d.skewness


# ---- scipy.spatial.distance ----------------------------------------------------------------------------
def _distance(metric, make=None, **kw):
    def fn(u, v):
        from scipy.spatial import distance

        return getattr(distance, metric)(u, v, **kw)

    fn.__name__ = fn.__qualname__ = f"distance_{metric}"
    return case(make or two(), needs=SP, name=f"distance_{metric}")(fn)


for _metric in (
    "euclidean",
    "sqeuclidean",
    "cityblock",
    "chebyshev",
    "cosine",
    "correlation",
    "braycurtis",
    "canberra",
):
    _distance(_metric)
_distance("jensenshannon", prob2())
_distance("hamming", bools())
_distance("jaccard", bools())


@case(two(), needs=SP)
def distance_minkowski(u, v):
    from scipy.spatial.distance import minkowski

    return minkowski(u, v, 3)


@case(
    lambda r: (r.normal(size=8), r.normal(size=8), r.uniform(0.5, 2, size=8)), needs=SP, in_axes=(0, 0, None)
)
def distance_seuclidean(u, v, var):
    from scipy.spatial.distance import seuclidean

    return seuclidean(u, v, var)


_VI = np.linalg.inv(np.cov(np.random.default_rng(0).normal(size=(8, 30))))


@case(lambda r: (r.normal(size=8), r.normal(size=8)), needs=SP)
def distance_mahalanobis(u, v):
    from scipy.spatial.distance import mahalanobis

    return mahalanobis(u, v, _VI)


@case(
    lambda r: (r.normal(size=8), r.normal(size=8), r.uniform(0.5, 2, size=8)), needs=SP, in_axes=(0, 0, None)
)
def distance_minkowski_weighted(u, v, w):
    from scipy.spatial.distance import minkowski

    return minkowski(u, v, 2, w)


# ---- scipy.integrate, signal, linalg, ndimage ---------------------------------------------------------
@case(lambda r: (np.sort(r.uniform(0, 1, 16)), r.normal(size=16)), needs=SP)
def integrate_trapezoid(t, y):
    from scipy.integrate import trapezoid

    return trapezoid(y, t)


@case(vec(17), needs=SP)
def integrate_simpson(y):
    from scipy.integrate import simpson

    return simpson(y, dx=0.1)


@case(vec(), needs=SP)
def integrate_cumulative_trapezoid(y):
    from scipy.integrate import cumulative_trapezoid

    return cumulative_trapezoid(y, initial=0)


@case(vec(), needs=SP)
def signal_detrend(x):
    from scipy.signal import detrend

    return detrend(x)


@case(vec(), needs=SP)
def signal_detrend_constant(x):
    from scipy.signal import detrend

    return detrend(x, type="constant")


@case(lambda r: (r.normal(size=32),), needs=SP)
def signal_lfilter(x):
    from scipy.signal import lfilter

    return lfilter([0.2, 0.3], [1.0, -0.5], x)


@case(mat(4, 4), needs=SP)
def linalg_norm(m):
    from scipy.linalg import norm

    return norm(m)


@case(lambda r: (r.normal(size=(4, 4)) + 4 * np.eye(4), r.normal(size=4)), needs=SP)
def linalg_solve(a, b):
    from scipy.linalg import solve

    return solve(a, b)


@case(vec(32), needs=SP)
def ndimage_uniform_filter1d(x):
    from scipy.ndimage import uniform_filter1d

    return uniform_filter1d(x, 3)


# ---- NumPy's Python-level functions --------------------------------------------------------------------
@case(mat(3, 10))
def numpy_cov(x):
    return np.cov(x)


@case(two())
def numpy_corrcoef(x, y):
    return np.corrcoef(x, y)[0, 1]


@case(vec())
def numpy_median(x):
    return np.median(x)


@case(vec())
def numpy_percentile(x):
    return np.percentile(x, [10, 90])


@case(lambda r: (r.normal(size=16), r.uniform(0.1, 1, size=16)))
def numpy_average_weighted(x, w):
    return np.average(x, weights=w)


@case(vec())
def numpy_gradient(x):
    return np.gradient(x)


@case(vec())
def numpy_trapezoid(y):
    return np.trapezoid(y, dx=0.5)


@case(lambda r: (r.normal(size=3), r.normal(size=3)))
def numpy_cross(a, b):
    return np.cross(a, b)


@case(lambda r: (r.normal(size=(2, 2)), r.normal(size=(3, 3))))
def numpy_kron(a, b):
    return np.kron(a, b)


@case(lambda r: (np.cumsum(r.uniform(0, 2, size=16)),))
def numpy_unwrap(p):
    return np.unwrap(p)


@case(vec())
def numpy_histogram(x):
    return np.histogram(x, bins=4, range=(-3, 3))[0]


@case(lambda r: (np.sort(r.uniform(0, 1, 16)), r.normal(size=16)))
def numpy_interp(xp, fp):
    return np.interp(np.linspace(0, 1, 5), xp, fp)


@case(mat(4, 4))
def numpy_linalg_norm(m):
    return np.linalg.norm(m, ord="fro"), np.linalg.norm(m[0])


@case(vec())
def numpy_ptp_and_var(x):
    return np.ptp(x) / np.sqrt(np.var(x, ddof=1))


@case(lambda r: (r.normal(size=4), r.normal(size=10)))
def numpy_polyval(c, x):
    return np.polyval(c, x)


@case(vec())
def numpy_nanmean(x):
    x = np.where(x > 1.5, np.nan, x)
    return np.nanmean(x), np.nanstd(x)


# ---- sklearn.metrics -----------------------------------------------------------------------------------
SK = "sklearn"


def _metric(name, make=None, **kw):
    def fn(y, p):
        from sklearn import metrics

        return getattr(metrics, name)(y, p, **kw)

    fn.__name__ = fn.__qualname__ = f"sklearn_{name}"
    return case(make or two(), needs=SK, name=f"sklearn_{name}")(fn)


for _name in (
    "r2_score",
    "mean_squared_error",
    "mean_absolute_error",
    "explained_variance_score",
    "max_error",
    "median_absolute_error",
    "mean_absolute_percentage_error",
):
    _metric(_name)
_metric("accuracy_score", lambda r: (r.integers(0, 3, 16), r.integers(0, 3, 16)))


# ---- user-style code: classes, records, configs --------------------------------------------------------
class Linear:
    def __init__(self, w, b):
        self.w, self.b = w, b

    def __call__(self, x):
        return np.tanh(self.w @ x + self.b)

    def loss(self, x, y):
        return np.mean((self(x) - y) ** 2)


_R = np.random.default_rng(1)
MODEL = Linear(_R.normal(size=(4, 8)), _R.normal(size=4))


@case(vec(8))
def method_call(x):
    return MODEL(x)


@case(lambda r: (r.normal(size=8), r.normal(size=4)))
def method_loss(x, y):
    return MODEL.loss(x, y)


class Params(NamedTuple):
    w: np.ndarray
    b: np.ndarray


PARAMS = Params(_R.normal(size=(4, 8)), _R.normal(size=4))


@case(vec(8))
def namedtuple_fields(x):
    return PARAMS.w @ x + PARAMS.b


@dataclasses.dataclass
class Config:
    scale: float
    w: np.ndarray


CONFIG = Config(0.5, _R.normal(size=8))
CFG = {"w": _R.normal(size=8), "k": 3}


@case(vec(8))
def dataclass_fields(x):
    return CONFIG.scale * np.dot(CONFIG.w, x)


@case(vec(8))
def dict_config(x):
    return np.sum(CFG["w"] * x) ** CFG["k"]


class Stats(NamedTuple):
    mean: Any
    spread: Any


@case(vec())
def namedtuple_result(x):
    return Stats(x.mean(), x.std())
