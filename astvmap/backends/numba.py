"""The Numba backend (`vmap(..., jit=True)`): not built yet; every call runs the NumPy form."""
from __future__ import annotations

import warnings

from ..errors import PerformanceWarning


class Backend:
    strategy = "numpy"

    def __init__(self, vmapped, options: dict):
        try:
            import numba  # noqa: F401
        except ImportError:
            raise ImportError("vmap(..., jit=True) needs Numba: pip install 'astvmap[jit]'") from None
        self.vmapped = vmapped
        self.options = options
        self._warned = False

    def __call__(self, args, kwargs):
        if not self._warned:
            warnings.warn(f"{self.vmapped.label}: jit=True runs the batched NumPy code (the Numba backend is not "
                          "built yet)", PerformanceWarning, stacklevel=3)
            self._warned = True
        return self.vmapped.call_numpy(args, kwargs)
