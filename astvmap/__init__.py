"""astvmap: `jax.vmap` for NumPy, by rewriting the per-example function's source into batched NumPy.

    @astvmap.vmap(in_axes=(None, 0))
    def predict(params, x):
        w, b = params
        return np.tanh(w @ x + b)

`predict.source` shows the generated code; `astvmap show file.py` prints it from the command line.
"""

from . import backends, rules  # noqa: F401  (rules: fills the registry; backends: Numba loads only when used)
from .api import InAxes, OutAxes, VmapDecorator, VmappedFunction, clear_cache, show, vmap
from .errors import AstvmapError, PerformanceWarning
from .pytrees import register_pytree
from .rules.registry import register
from .safety import disable

__all__ = [
    "AstvmapError",
    "InAxes",
    "OutAxes",
    "PerformanceWarning",
    "VmapDecorator",
    "VmappedFunction",
    "clear_cache",
    "disable",
    "register",
    "register_pytree",
    "show",
    "vmap",
]
__version__ = "0.1.0"
