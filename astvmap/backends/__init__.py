"""Optional backends. `numba.py` compiles with Numba (`vmap(..., jit=True)`); importing it does not
import Numba, which loads only when a loop strategy is compiled."""

from . import numba  # noqa: F401
