"""Shared fixtures for the astvmap test suite.

- ``rng``: a seeded ``numpy.random.Generator`` (each test gets a fresh one, so tests are reproducible
  and independent of order).
- ``PerformanceWarning`` is always shown (never deduplicated away), so a fallback to the per-example
  loop is visible in the pytest summary; the oracle itself turns it into a failure unless allowed.
- A hypothesis profile ("astvmap": 25 examples, no deadline) keeps the property tests fast.
- ``--update-golden`` rewrites the golden `astvmap show` outputs (same as ASTVMAP_UPDATE_GOLDEN=1).
"""

import os
import sys
import warnings

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))  # `import oracle` from every test module

try:
    from hypothesis import HealthCheck, settings

    settings.register_profile(
        "astvmap",
        max_examples=25,
        deadline=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.function_scoped_fixture,
        ],
        derandomize=False,
        print_blob=True,
    )
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "astvmap"))
except ImportError:  # pragma: no cover - hypothesis is a test extra
    pass


def pytest_addoption(parser):
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="rewrite tests/golden/ from the current `astvmap show` output",
    )


def pytest_configure(config):
    if config.getoption("--update-golden", default=False):
        os.environ["ASTVMAP_UPDATE_GOLDEN"] = "1"  # read by test_golden.py when it is imported
    try:
        import astvmap
    except Exception:  # pragma: no cover - reported by the tests themselves
        return
    config.addinivalue_line("filterwarnings", "always::astvmap.PerformanceWarning")
    warnings.simplefilter("always", astvmap.PerformanceWarning)


@pytest.fixture
def rng():
    return np.random.default_rng(20240601)


@pytest.fixture(scope="module")
def numba_cache_dir(request, tmp_path_factory):
    """ASTVMAP_CACHE_DIR for the Numba tests: pytest's cache folder (compiled code survives between runs),
    or a temporary one under -p no:cacheprovider."""
    cache = getattr(request.config, "cache", None)
    folder = cache.mkdir("astvmap-numba") if cache is not None else tmp_path_factory.mktemp("astvmap-numba")
    mp = pytest.MonkeyPatch()
    mp.setenv("ASTVMAP_CACHE_DIR", str(folder))
    yield folder
    mp.undo()
