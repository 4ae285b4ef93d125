"""Golden files: `astvmap show` output for every example and for tests/golden/sources/*.py.

Each case is one `astvmap show` command line, run from the repository root (headers hold paths relative
to the current directory). Its stdout is stored in tests/golden/NAME.txt and its stderr (fallback
warnings), when there is any, in tests/golden/NAME.stderr.txt.

When the generated code changes on purpose, refresh the files and review the diff:

    python -m pytest tests/test_golden.py -q --update-golden     (or ASTVMAP_UPDATE_GOLDEN=1)
    git diff tests/golden/
"""

import ast
import os
import pathlib
import re

import pytest

from astvmap import cli

ROOT = pathlib.Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"
UPDATE = os.environ.get("ASTVMAP_UPDATE_GOLDEN") == "1"
SRC = "tests/golden/sources"

CASES = {
    # examples/ (module-level vmapped functions are shown as written; plain ones by NAME with ranks)
    "quickstart": ["examples/quickstart.py"],
    "quickstart_shapes": [
        "examples/quickstart.py:predict",
        "--shapes",
        "params.0=64,128",
        "params.1=64",
        "x=128",
    ],
    "neuron": ["examples/neuron.py:neuron", "--ndims", "x=1"],
    "neuron_in_axes_1": ["examples/neuron.py:neuron", "--in-axes", "1", "--ndims", "x=1"],
    "predict": [
        "examples/predict.py:predict",
        "--in-axes",
        "None,0",
        "--shapes",
        "params.0=64,128",
        "params.1=64",
        "input_vec=128",
    ],
    "custom_dot": ["examples/custom_dot.py:custom_dot", "--in-axes", "0,0", "--ndims", "x=1,y=1"],
    "custom_dot_scalars": ["examples/custom_dot.py:custom_dot", "--ndims", "x=0,y=0"],
    "distances_sqeuclidean": ["examples/distances.py:sqeuclidean_distance", "--ndims", "x=1,y=1"],
    "distances_euclidean": [
        "examples/distances.py:euclidean_distance",
        "--in-axes",
        "None,0",
        "--ndims",
        "x=1,y=1",
    ],
    "kernels_rbf": [
        "examples/kernels.py:rbf_kernel",
        "--in-axes",
        "None,0,None",
        "--shapes",
        "params.gamma=",
        "x=3",
        "y=3",
    ],
    "convolve_square": ["examples/convolve.py:square", "--ndims", "x=0"],
    "convolve": ["examples/convolve.py:convolve", "--ndims", "x=1,w=1"],
    "convolve_k": ["examples/convolve.py:convolve_k", "--in-axes", "0,None", "--ndims", "x=1,w=1"],
    "matmul_from_vdot_mv": ["examples/matmul_from_vdot.py:mv", "--ndims", "x=1,y=1"],
    "matmul_from_vdot_mm": ["examples/matmul_from_vdot.py:mm", "--ndims", "x=2,y=1"],
    # small control-flow functions
    "piecewise": [f"{SRC}/piecewise.py"],
    "piecewise_softplus": [f"{SRC}/piecewise.py:softplus", "--ndims", "x=0"],
    "piecewise_clip_norm": [f"{SRC}/piecewise.py:clip_norm", "--ndims", "v=1", "--shapes", "limit="],
    "loops": [f"{SRC}/loops.py"],
    "loops_newton_sqrt": [f"{SRC}/loops.py:newton_sqrt", "--ndims", "a=0"],
    "loops_cumulative_max_annotate": [f"{SRC}/loops.py:cumulative_max", "--ndims", "x=1", "--annotate"],
    "loops_cumulative_max_vectorize": [
        f"{SRC}/loops.py:cumulative_max",
        "--ndims",
        "x=1",
        "--stage",
        "vectorize",
    ],
    "piecewise_three_branches": [f"{SRC}/piecewise.py:piecewise3", "--ndims", "x=0"],
    "piecewise_nested_if": [f"{SRC}/piecewise.py:nested_if", "--ndims", "x=0,y=0"],
    "loops_break": [f"{SRC}/loops.py:sum_until_negative", "--ndims", "x=1"],
    "loops_in_place_update": [f"{SRC}/loops.py:clip_in_place", "--ndims", "x=1,t=0"],
}
SKIP_EXAMPLES = {"_check.py", "benchmark.py"}


def run_show(argv, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    capsys.readouterr()
    code = cli.main(["show", "--color", "never", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name, capsys, monkeypatch):
    code, out, err = run_show(CASES[name], capsys, monkeypatch)
    assert code == 0, err
    ast.parse(out)  # piped output is valid Python
    assert not re.search(r"<astvmap [^>]*#\d+>", out + err), "a generated filename leaked into the output"
    assert str(ROOT) not in out + err, "paths must be relative to the current directory"
    stdout_file, stderr_file = GOLDEN / f"{name}.txt", GOLDEN / f"{name}.stderr.txt"
    if UPDATE:
        stdout_file.write_text(out)
        if err:
            stderr_file.write_text(err)
        elif stderr_file.exists():
            stderr_file.unlink()
        return
    assert stdout_file.exists(), f"no golden file {stdout_file.name}; run with ASTVMAP_UPDATE_GOLDEN=1"
    assert out == stdout_file.read_text(), f"{name}: output changed; refresh with ASTVMAP_UPDATE_GOLDEN=1"
    expected_err = stderr_file.read_text() if stderr_file.exists() else ""
    assert err == expected_err, f"{name}: warnings changed; refresh with ASTVMAP_UPDATE_GOLDEN=1"


def test_every_example_has_a_golden_case():
    covered = {pathlib.Path(argv[0].split(":")[0]).name for argv in CASES.values()}
    examples = {p.name for p in (ROOT / "examples").glob("*.py")} - SKIP_EXAMPLES
    assert examples <= covered, f"examples without a golden case: {sorted(examples - covered)}"
    sources = {p.name for p in (GOLDEN / "sources").glob("*.py")}
    assert sources <= covered, f"golden sources without a case: {sorted(sources - covered)}"


def test_no_stale_golden_files():
    names = {p.name.removesuffix(".stderr.txt").removesuffix(".txt") for p in GOLDEN.glob("*.txt")}
    assert names <= set(CASES), f"golden files without a case: {sorted(names - set(CASES))}"
