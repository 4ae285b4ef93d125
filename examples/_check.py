"""Shared by the example scripts: print astvmap's result beside the loop's, then OK or MISMATCH."""

import sys

import numpy as np

_results: list[bool] = []


def _show(value) -> str:
    text = np.array2string(np.asarray(value), precision=4, threshold=12, edgeitems=2)
    return text.replace("\n", "\n             ")


def check(label: str, got, expected) -> bool:
    """Compare astvmap's result with the per-example loop's: same shape, same dtype kind, allclose."""
    got, expected = np.asarray(got), np.asarray(expected)
    ok = got.shape == expected.shape and got.dtype.kind == expected.dtype.kind and np.allclose(got, expected)
    print(label)
    print(f"  astvmap:   {_show(got)}   shape {got.shape}, {got.dtype}")
    print(f"  loop:      {_show(expected)}   shape {expected.shape}, {expected.dtype}")
    print("  OK" if ok else "  MISMATCH")
    _results.append(ok)
    return ok


def check_raises(label: str, call) -> bool:
    """The loop cannot run this either: astvmap must raise a clear error, not return something."""
    print(label)
    try:
        value = call()
    except Exception as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        print(f"  raises {type(error).__name__}: {first_line}")
        print("  OK")
        _results.append(True)
        return True
    print(f"  returned {_show(value)} instead of raising")
    print("  MISMATCH")
    _results.append(False)
    return False


def finish() -> None:
    """Print a summary line and exit non-zero if any check failed."""
    failed = _results.count(False)
    print(f"\n{len(_results) - failed} OK, {failed} MISMATCH")
    sys.exit(1 if failed else 0)
