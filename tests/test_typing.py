"""What a type checker sees of the public API (the package ships `py.typed`).

A user file decorates functions in the three forms `vmap` takes; mypy and pyright (each where installed:
the `dev` extra has both) must reveal `VmappedFunction[...]` generic over the per-example signature,
accept `.source` as `str` and the `in_axes` forms of jax, and report no error.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

USER_FILE = textwrap.dedent(
    """
    import numpy as np

    import astvmap


    @astvmap.vmap
    def norm(x: np.ndarray) -> float:
        return float(np.sqrt(np.sum(x * x)))


    @astvmap.vmap(in_axes=(None, 0))
    def predict(params: tuple[np.ndarray, np.ndarray], x: np.ndarray) -> float:
        w, b = params
        return float(np.sum(w @ x + b))


    def dot(x: np.ndarray, y: np.ndarray) -> float:
        return float(np.dot(x, y))


    batched_dot = astvmap.vmap(dot, in_axes=[0, None], out_axes=0, chunk_size=64)
    by_name = astvmap.vmap(dot, in_axes={"x": 0, "y": None}, jit={"strategy": "loop"})
    nested = astvmap.vmap(astvmap.vmap(dot, (0, None)), (None, 1), 1)
    source: str = predict.source
    strategy: str | None = predict.strategy
    axes: astvmap.InAxes = ((None, 0), {"w": 1})
    reveal_type(norm)
    reveal_type(predict)
    reveal_type(batched_dot)
    reveal_type(predict.__wrapped__)
    """
)

REVEALED = {
    "norm": "VmappedFunction[",
    "predict": "VmappedFunction[",
    "batched_dot": "VmappedFunction[",
    "predict.__wrapped__": "-> float",
}


@pytest.fixture
def user_file(tmp_path):
    path = tmp_path / "user_code.py"
    path.write_text(USER_FILE)
    return path


def test_mypy_reveals_vmapped_functions(user_file):
    api = pytest.importorskip("mypy.api")
    env_path = os.environ.get("MYPYPATH")
    os.environ["MYPYPATH"] = str(ROOT)  # the package as checked out (an editable install hides it)
    try:
        out, err, status = api.run(
            ["--strict", "--no-incremental", "--follow-imports=silent", "--config-file=", str(user_file)]
        )
    finally:
        if env_path is None:
            del os.environ["MYPYPATH"]
        else:
            os.environ["MYPYPATH"] = env_path
    notes = [line for line in out.splitlines() if "Revealed type" in line]
    assert status == 0, out + err
    assert len(notes) == len(REVEALED), out
    for line, expected in zip(notes, REVEALED.values()):
        assert expected in line and 'Any"' not in line, line


@pytest.mark.skipif(shutil.which("pyright") is None, reason="pyright is not installed (the dev extra has it)")
def test_pyright_reveals_vmapped_functions(user_file):
    run = subprocess.run(
        ["pyright", "--outputjson", "--pythonpath", sys.executable, str(user_file)],
        capture_output=True,
        text=True,
        cwd=user_file.parent,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=600,
    )
    report = json.loads(run.stdout)
    errors = [d for d in report["generalDiagnostics"] if d["severity"] == "error"]
    assert not errors, errors
    infos = [d["message"] for d in report["generalDiagnostics"] if d["severity"] == "information"]
    assert len(infos) == len(REVEALED), infos
    for message, expected in zip(infos, REVEALED.values()):
        assert expected in message, message
