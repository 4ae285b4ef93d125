"""The workloads' per-example functions in jax.numpy and torch, for `jax.jit(jax.vmap(f))` and
`torch.func.vmap(f)`.

Each is the per-example function of `workloads.py` written the way a user of that library writes it (the
same statements where the library allows, `lax.cond`/`lax.while_loop` where jax needs them), batched with
the library's own vmap and the same axes. Nothing here imports jax or torch until asked: they are never
dependencies of astvmap. Both run in float64 (jax with `jax_enable_x64`), like the NumPy variants, so
results compare with the hand reference at the same tolerance and times compare like with like.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from collections.abc import Callable

import numpy as np

from . import workloads as wl

PEERS = ("jax", "torch", "numba", "numba_hand")
LABELS = {
    "jax": "jax.jit(jax.vmap)",
    "torch": "torch.func.vmap",
    "numba": "astvmap jit",
    "numba_hand": "hand numba prange",
}
_PACKAGE = {"numba_hand": "numba"}


def status(name: str) -> tuple[str | None, str | None]:
    """(version, None) when the peer can be imported, else (None, why it is skipped). Does not import."""
    name = _PACKAGE.get(name, name)
    if importlib.util.find_spec(name) is None:
        return None, f"{name} is not installed (astvmap never installs it)"
    try:
        return importlib.metadata.version(name), None
    except importlib.metadata.PackageNotFoundError:
        return "unknown", None


def skip_reason(peer: str, workload: str, quick: bool) -> str | None:
    """Why a peer does not run one workload (None: it runs)."""
    if peer == "jax" and workload == "convolve_k" and quick:
        return (
            "--quick leaves jax out of convolve_k: tracing unrolls its 992-step loop, so the first "
            "call takes 10-70 s"
        )
    if peer == "torch" and workload in ("newton_sqrt", "bisection"):
        return "torch.func.vmap cannot run a while loop on a per-example condition"
    return None


def _tree_map(fn, tree):
    if isinstance(tree, tuple):
        return tuple(_tree_map(fn, t) for t in tree)
    if isinstance(tree, list):
        return [_tree_map(fn, t) for t in tree]
    if isinstance(tree, dict):
        return {k: _tree_map(fn, v) for k, v in tree.items()}
    return fn(tree) if isinstance(tree, np.ndarray) else tree


class Peer:
    """A loaded peer: `functions[workload]` is the batched function (taking the hand reference's
    arguments converted by `convert`); `to_numpy` and `block` finish a result."""

    name: str
    version: str
    functions: dict[str, Callable]

    def convert(self, args: tuple) -> tuple:
        raise NotImplementedError

    def to_numpy(self, out) -> np.ndarray:
        raise NotImplementedError

    def block(self, out):
        return out


# ---------------------------------------------------------------------------------------------------------
class JaxPeer(Peer):
    def __init__(self, threads: int):
        import jax

        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
        from jax import lax

        self.name, self.version, self._jax = "jax", jax.__version__, jax
        W, b = jnp.asarray(wl.W), jnp.asarray(wl.b)
        causal = jnp.asarray(wl.CAUSAL)
        vmap = jax.vmap

        def neuron(x):
            return jnp.sum(jnp.tanh(jnp.dot(x, W) + b))

        def predict(params, input_vec):
            w, b = params
            return jnp.tanh(jnp.dot(w, input_vec) + b)

        def sqeuclidean_distance(x, y):
            return jnp.sum((x - y) ** 2)

        def rbf_kernel(params, x, y):
            return jnp.exp(-params["gamma"] * sqeuclidean_distance(x, y))

        def gram(kernel_func, params, X, Y):
            return vmap(lambda x: vmap(lambda y: kernel_func(params, x, y))(Y))(X)

        def custom_dot(x, y):
            return jnp.dot(x, y) ** 2

        def convolve(x, w):
            output = []
            for i in range(1, len(x) - 1):
                output.append(jnp.dot(x[i - 1 : i + 2], w))
            return jnp.array(output)

        def convolve_k(x, w):
            k = len(w)
            output = []
            for i in range(len(x) - k + 1):
                output.append(jnp.dot(x[i : i + k], w))
            return jnp.array(output)

        def piecewise(x):
            return lax.cond(
                x < -1.0,
                lambda x: -x - 0.5,
                lambda x: lax.cond(x < 1.0, lambda x: 0.5 * x * x, lambda x: x - 0.5, x),
                x,
            )

        def newton_sqrt(a):
            return lax.while_loop(lambda x: jnp.abs(x * x - a) > 1e-12 * a, lambda x: 0.5 * (x + a / x), a)

        def bisection(c):
            def body(state):
                lo, hi = state
                mid = 0.5 * (lo + hi)
                up = mid * mid > c
                return jnp.where(up, lo, mid), jnp.where(up, mid, hi)

            lo, _ = lax.while_loop(
                lambda s: s[1] - s[0] > 1e-9, body, (jnp.zeros_like(c), jnp.maximum(c, 1.0))
            )
            return lo

        def mlp(params, x):
            h = jnp.tanh(params["w1"] @ x + params["b1"])
            logits = params["w2"] @ h + params["b2"]
            z = logits - jnp.max(logits)
            e = jnp.exp(z)
            return e / jnp.sum(e)

        def attention(q, k, v):
            d = q.shape[-1]
            scores = q @ k.T / jnp.sqrt(d)
            scores = jnp.where(causal, -jnp.inf, scores)
            scores = scores - jnp.max(scores, axis=-1, keepdims=True)
            weights = jnp.exp(scores)
            weights = weights / jnp.sum(weights, axis=-1, keepdims=True)
            return weights @ v

        vv = lambda x, y: jnp.vdot(x, y)  # noqa: E731 (as the seed writes it)
        mv = vmap(vv, (0, None), 0)
        batched = {
            "neuron": vmap(neuron),
            "predict": vmap(predict, in_axes=(None, 0)),
            "custom_dot_d3": vmap(custom_dot, in_axes=(0, 0)),
            "custom_dot_d256": vmap(custom_dot, in_axes=(0, 0)),
            "convolve": vmap(convolve),
            "convolve_k": vmap(convolve_k),
            "pairwise": vmap(vmap(sqeuclidean_distance, in_axes=(None, 0)), in_axes=(0, None)),
            "rbf_gram": lambda X, Y: gram(rbf_kernel, wl.RBF_PARAMS, X, Y),
            "mm": vmap(mv, (None, 1), 1),
            "piecewise": vmap(piecewise),
            "newton_sqrt": vmap(newton_sqrt),
            "bisection": vmap(bisection),
            "mlp": vmap(mlp, in_axes=(None, 0)),
            "attention": vmap(attention),
        }
        self.functions = {k: jax.jit(f) for k, f in batched.items()}
        self._jnp = jnp

    def convert(self, args):
        return _tree_map(self._jnp.asarray, args)

    def to_numpy(self, out):
        return np.asarray(out)

    def block(self, out):
        return self._jax.block_until_ready(out)


# ---------------------------------------------------------------------------------------------------------
class TorchPeer(Peer):
    def __init__(self, threads: int):
        import torch
        from torch.func import vmap

        if threads > 0:
            torch.set_num_threads(threads)
        self.name, self.version, self._torch = "torch", torch.__version__, torch
        W, b = torch.from_numpy(wl.W), torch.from_numpy(wl.b)
        causal = torch.from_numpy(wl.CAUSAL)

        def neuron(x):
            return torch.sum(torch.tanh(x @ W + b))

        def predict(params, input_vec):
            w, b = params
            return torch.tanh(w @ input_vec + b)

        def sqeuclidean_distance(x, y):
            return torch.sum((x - y) ** 2)

        def rbf_kernel(params, x, y):
            return torch.exp(-params["gamma"] * sqeuclidean_distance(x, y))

        def gram(kernel_func, params, X, Y):
            return vmap(lambda x: vmap(lambda y: kernel_func(params, x, y))(Y))(X)

        def custom_dot(x, y):
            return torch.dot(x, y) ** 2

        def convolve(x, w):
            output = []
            for i in range(1, x.shape[0] - 1):
                output.append(torch.dot(x[i - 1 : i + 2], w))
            return torch.stack(output)

        def convolve_k(x, w):
            k = w.shape[0]
            output = []
            for i in range(x.shape[0] - k + 1):
                output.append(torch.dot(x[i : i + k], w))
            return torch.stack(output)

        def piecewise(x):  # no per-example `if` under torch.func.vmap: both branches and a select
            return torch.where(x < -1.0, -x - 0.5, torch.where(x < 1.0, 0.5 * x * x, x - 0.5))

        def mlp(params, x):
            h = torch.tanh(params["w1"] @ x + params["b1"])
            logits = params["w2"] @ h + params["b2"]
            z = logits - torch.max(logits)
            e = torch.exp(z)
            return e / torch.sum(e)

        def attention(q, k, v):
            d = q.shape[-1]
            scores = q @ k.transpose(-2, -1) / d**0.5
            scores = scores.masked_fill(causal, float("-inf"))
            scores = scores - torch.amax(scores, dim=-1, keepdim=True)
            weights = torch.exp(scores)
            weights = weights / torch.sum(weights, dim=-1, keepdim=True)
            return weights @ v

        vv = lambda x, y: torch.dot(x, y)  # noqa: E731 (the seed's form; real inputs: vdot is dot)
        mv = vmap(vv, (0, None), 0)
        self.functions = {
            "neuron": vmap(neuron),
            "predict": vmap(predict, in_dims=(None, 0)),
            "custom_dot_d3": vmap(custom_dot, in_dims=(0, 0)),
            "custom_dot_d256": vmap(custom_dot, in_dims=(0, 0)),
            "convolve": vmap(convolve),
            "convolve_k": vmap(convolve_k),
            "pairwise": vmap(vmap(sqeuclidean_distance, in_dims=(None, 0)), in_dims=(0, None)),
            "rbf_gram": lambda X, Y: gram(rbf_kernel, wl.RBF_PARAMS, X, Y),
            "mm": vmap(mv, (None, 1), 1),
            "piecewise": vmap(piecewise),
            "mlp": vmap(mlp, in_dims=(None, 0)),
            "attention": vmap(attention),
        }

    def convert(self, args):
        return _tree_map(lambda a: self._torch.from_numpy(np.ascontiguousarray(a)), args)

    def to_numpy(self, out):
        return out.detach().numpy()


class NumbaPeer:
    """`astvmap.vmap(..., jit=True)`: the same per-example functions, compiled by astvmap's Numba backend
    (runner.py builds each workload's vmapped function again with jit=True)."""

    def __init__(self, threads):
        import numba

        self.version = numba.__version__
        self.functions = {}


class NumbaHandPeer(Peer):
    """Hand-written `njit(parallel=True)` prange kernels (numba_hand.py): the yardstick for astvmap jit."""

    def __init__(self, threads):
        import numba

        from . import numba_hand

        self.name, self.version = "numba_hand", numba.__version__
        self.functions = numba_hand.functions()

    def convert(self, args):
        return args

    def to_numpy(self, out):
        return out


def load(name: str, threads: int) -> Peer | NumbaPeer:
    """Import and set up a peer (ImportError or anything else if it cannot be)."""
    classes: dict[str, Callable[[int], Peer | NumbaPeer]] = {
        "jax": JaxPeer,
        "torch": TorchPeer,
        "numba": NumbaPeer,
        "numba_hand": NumbaHandPeer,
    }
    return classes[name](threads)
