"""`astvmap show` (astvmap.cli.main), in process: options, exit codes, valid piped output, user errors."""

import ast
import os
import runpy
import sys
import textwrap

import pytest

from astvmap import cli

GOOD = """\
import numpy as np
from astvmap import vmap


@vmap
def double(x):
    return 2 * x


@vmap(in_axes=(0, None))
def scale(x, w):
    y = x * w
    return np.sum(y)


def helper(v):
    return v + 1


def plain(x, w):
    return helper(x) * w + helper(w)


def shifted(params, x):
    a, b = params
    return a * x + b


def keyed(params, x, bias=0.0):
    return params["gamma"] * x + bias


triple = vmap(lambda x: 3 * x)
alias = double

if __name__ == "__main__":
    raise RuntimeError("the __main__ block must not run")
"""


def write(tmp_path, text, name="mod.py"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def show(capsys, *argv):
    capsys.readouterr()
    code = cli.main(["show", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def good(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, GOOD)
    return "mod.py"


def defs(out):
    return [n.name for n in ast.parse(out).body if isinstance(n, ast.FunctionDef)]


# ---- help and usage -------------------------------------------------------------------------------
def test_help(capsys):
    assert cli.main(["--help"]) == 0
    assert "show" in capsys.readouterr().out
    assert cli.main(["show", "--help"]) == 0
    out = capsys.readouterr().out
    assert "imported" in out and "--ndims" in out and "--stage" in out and "Exit codes" in out


def test_no_command_is_a_usage_error(capsys):
    assert cli.main([]) == 2
    assert "usage" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["missing.py"], "no such file"),
        (["mod.py:nope"], "choose one of: double, scale, triple, helper, plain"),
        (["mod.py:plain", "--ndims", "x=1"], "give `w` a rank or a shape"),
        (["mod.py:plain", "--ndims", "x"], "expected NAME=VALUE"),
        (["mod.py:plain", "--ndims", "x=one,w=1"], "bad rank"),
        (["mod.py:plain", "--ndims", "x=-1,w=1"], "bad rank"),
        (["mod.py:plain", "--shapes", "x=3,a", "w=1"], "bad shape"),
        (["mod.py:plain", "--ndims", "x=1,z=1"], "`z` is not a parameter of plain(x, w)"),
        (["mod.py", "--ndims", "x=1"], "pick one with mod.py:NAME"),
        (["mod.py:plain", "--in-axes", "0,0,0", "--ndims", "x=1,w=1"], "in_axes has 3 entries"),
        (
            ["mod.py:shifted", "--in-axes", "None,0", "--ndims", "params.1=1,x=1"],
            "give every element params.0",
        ),
        (["mod.py:plain", "--in-axes", "2", "--ndims", "x=1,w=0"], "maps `x` on axis 2"),
    ],
)
def test_usage_errors(good, capsys, argv, message):
    code, out, err = show(capsys, *argv)
    assert code == 2 and out == ""
    assert err.startswith("astvmap show: error:") and message in err


@pytest.mark.parametrize(
    "argv",
    [
        ["--stage", "bogus", "mod.py"],
        ["--in-axes", "x", "mod.py"],
        ["--in-axes", "True", "mod.py"],
        ["--out-axes", "1.5", "mod.py"],
        [],
    ],
)
def test_argparse_errors(good, capsys, argv):
    code, out, err = show(capsys, *argv)
    assert code == 2 and "usage: astvmap show" in err


def test_file_without_vmapped_functions(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "def f(x):\n    return x\n", "plainmod.py")
    code, _, err = show(capsys, "plainmod.py")
    assert code == 2 and "no module-level vmapped function" in err and "choose one of: f" in err


def test_jit_needs_ranks(good, capsys):
    code, out, err = show(capsys, "--jit", "mod.py")
    assert code == 2 and out == "" and "--jit needs per-example ranks" in err


def test_jit_shows_the_strategy_and_code(good, capsys):
    pytest.importorskip("numba")
    code, out, err = show(capsys, "--jit", "mod.py:plain", "--ndims", "x=1,w=1")
    assert code == 0, err
    assert out.startswith("# astvmap jit: strategy ")


def test_axes_literals():
    assert cli._axes("0,None") == (0, None)
    assert cli._axes("(None, None), 0") == ((None, None), 0)
    assert cli._axes("[0, -1]") == [0, -1]
    assert cli._axes("None") is None and cli._axes("1") == 1


# ---- what is shown ----------------------------------------------------------------------------------
def test_every_module_level_vmapped_function(good, capsys):
    code, out, err = show(capsys, "mod.py")
    assert code == 0, err
    assert defs(out) == [
        "double_vmap",
        "scale_vmap",
        "lambda_vmap",
    ]  # `alias` is `double`; `plain` is not vmapped
    assert "# astvmap: double (mod.py:" in out  # header path relative to the current directory
    assert "# line 7: return 2 * x" in out
    assert "w: unbatched" in out  # the decorator's in_axes=(0, None)
    assert "<astvmap" not in out + err  # no generated file names


def test_piped_output_is_valid_python(good, capsys):
    for argv in (
        ["mod.py"],
        ["mod.py:plain", "--ndims", "x=1,w=1"],
        ["mod.py:scale", "--annotate"],
        *[["mod.py:scale", "--stage", s] for s in cli.STAGES],
    ):
        code, out, _ = show(capsys, *argv)
        assert code == 0
        ast.parse(out)


def test_select_one_plain_function_with_ranks_and_callees(good, capsys):
    code, out, err = show(capsys, "mod.py:plain", "--ndims", "x=1,w=1")
    assert code == 0, err
    assert "x: batched ndim 1, w: batched ndim 1" in out
    names = defs(out)
    assert names[0] == "plain_vmap" and "helper_vmap" in names  # the callee follows the main function
    assert len(names) == len(set(names))  # each generated function once
    assert "\n\n# astvmap: helper" in out  # separated by a blank line


def test_in_axes_and_shapes(good, capsys):
    code, out, _ = show(capsys, "mod.py:plain", "--in-axes", "0,None", "--shapes", "x=5", "w=")
    assert code == 0 and "x: batched ndim 1, w: unbatched ndim 0" in out
    code, out2, _ = show(capsys, "mod.py:plain", "--in-axes", "None,-1", "--ndims", "x=0", "--ndims", "w=2")
    assert code == 0 and "x: unbatched ndim 0, w: batched ndim 2" in out2


def test_in_axes_overrides_the_decorator(good, capsys):
    _, before, _ = show(capsys, "mod.py:scale", "--ndims", "x=1,w=1")
    _, after, _ = show(capsys, "mod.py:scale", "--in-axes", "0", "--ndims", "x=1,w=1")
    assert "w: unbatched ndim 1" in before and "w: batched ndim 1" in after


def test_out_axes_is_accepted(good, capsys):
    code, out, _ = show(capsys, "mod.py:double", "--out-axes", "0", "--ndims", "x=1")
    assert code == 0 and "double_vmap" in out


def test_container_arguments_by_path(good, capsys):
    code, out, err = show(
        capsys, "mod.py:shifted", "--in-axes", "None,0", "--shapes", "params.0=3", "params.1=3", "x=3"
    )
    assert code == 0, err
    assert "params: (unbatched ndim 1, unbatched ndim 1)" in out
    code, out, err = show(capsys, "mod.py:keyed", "--in-axes", "None,0", "--shapes", "params.gamma=", "x=4")
    assert code == 0, err
    assert "x: batched ndim 1" in out


def test_example_arguments_insert_the_batch_axis():
    vf = cli.vmap(lambda p, x, w: x, in_axes=((None, 1), -1, None))
    args, kwargs = cli._example_args(vf, {"p.0": (3,), "p.1": (4, 5), "x": (6,), "w": (7, 8)})
    assert kwargs == {}
    assert [a.shape for a in args[0]] == [(3,), (4, 2, 5)]
    assert args[1].shape == (6, 2) and args[2].shape == (7, 8)


def test_stages_and_annotate(good, capsys):
    _, frontend, _ = show(capsys, "mod.py:scale", "--stage", "frontend")
    assert frontend.startswith("def scale(x, w):") and "np.sum(y)" in frontend
    _, vectorize, _ = show(capsys, "mod.py:scale", "--ndims", "x=1,w=0", "--stage", "vectorize")
    assert vectorize.startswith("def scale_vmap(x, w):") and "# line" not in vectorize
    _, final, _ = show(capsys, "mod.py:scale", "--ndims", "x=1,w=0", "--stage", "final")
    _, default, _ = show(capsys, "mod.py:scale", "--ndims", "x=1,w=0")
    assert final == default and final.startswith("# astvmap: scale")
    _, annotated, _ = show(capsys, "mod.py:scale", "--ndims", "x=1,w=0", "--annotate")
    assert "# y: batched, ndim=1" in annotated


def test_color(good, capsys, monkeypatch):
    pytest.importorskip("pygments")
    _, plain, _ = show(capsys, "mod.py:double")
    assert "\x1b[" not in plain  # captured output is not a terminal
    _, colored, _ = show(capsys, "--color", "always", "mod.py:double")
    assert "\x1b[" in colored
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    _, tty, _ = show(capsys, "mod.py:double")
    assert "\x1b[" in tty
    monkeypatch.setenv("NO_COLOR", "1")
    _, no_color, _ = show(capsys, "mod.py:double")
    assert "\x1b[" not in no_color


def test_main_block_does_not_run_and_state_is_restored(good, capsys):
    path_before, had_mod = list(sys.path), "mod" in sys.modules
    code, _, err = show(capsys, "mod.py")
    assert code == 0 and "must not run" not in err
    assert sys.path == path_before and ("mod" in sys.modules) == had_mod


def test_the_files_directory_is_on_sys_path(tmp_path, monkeypatch, capsys):
    (tmp_path / "pkg").mkdir()
    write(tmp_path / "pkg", "def bump(x):\n    return x + 1\n", "sibling_helpers.py")
    write(
        tmp_path / "pkg",
        "from astvmap import vmap\nfrom sibling_helpers import bump\n\n"
        "@vmap\ndef f(x):\n    return bump(x) * 2\n",
        "user.py",
    )
    monkeypatch.chdir(tmp_path)
    code, out, err = show(capsys, "pkg/user.py", "--ndims", "x=1")
    assert code == 0, err
    assert "(pkg/user.py:5)" in out and "bump_vmap" in out


def test_python_dash_m(good, capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["astvmap", "show", "mod.py:double"])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_module("astvmap", run_name="__main__", alter_sys=True)
    assert exit_info.value.code == 0
    assert "def double_vmap(x):" in capsys.readouterr().out


# ---- the user's errors ------------------------------------------------------------------------------
def test_syntax_error_in_the_users_file(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "import numpy as np\n\ndef f(x:\n    return x\n", "broken.py")
    code, out, err = show(capsys, "broken.py")
    assert code == 1 and out == ""
    assert 'File "broken.py", line 3' in err and "def f(x:" in err and "^" in err and "SyntaxError" in err


def test_exception_at_import_is_the_users_traceback(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "def helper():\n    return undefined_name\n\nX = helper()\n", "boom.py")
    path_before = list(sys.path)
    code, out, err = show(capsys, "boom.py")
    assert code == 1 and out == "" and sys.path == path_before and "boom" not in sys.modules
    assert "Traceback (most recent call last):" in err
    assert 'File "boom.py", line 4, in <module>' in err and 'File "boom.py", line 2, in helper' in err
    assert err.rstrip().endswith("NameError: name 'undefined_name' is not defined")
    assert "cli.py" not in err  # not an astvmap crash


def test_system_exit_at_import(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "import sys\nsys.exit(3)\n", "quits.py")
    code, _, err = show(capsys, "quits.py")
    assert code == 1 and "SystemExit: 3" in err


@pytest.mark.parametrize(
    "body, line, text, what",
    [
        ("    y = x + 1\n    yield y\n", 8, "    yield y", "a generator (`yield`)"),
        ("    global Z\n    Z = x\n    return x\n", 7, "    global Z", "a `global` statement"),
    ],
)
def test_unvectorizable_function_points_at_the_users_line(
    tmp_path, monkeypatch, capsys, body, line, text, what
):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "import numpy as np\nfrom astvmap import vmap\n\n\n@vmap\ndef f(x):\n" + body, "bad.py")
    code, out, err = show(capsys, "bad.py")
    assert code == 1 and out == ""
    lines = err.splitlines()
    assert lines[0] == f'  File "bad.py", line {line}'
    assert lines[1] == text
    assert set(lines[2].strip()) == {"^"} and lines[2].index("^") == 4
    assert lines[3].startswith("astvmap.errors.AstvmapError: vmap(f, in_axes=0): ") and what in lines[3]


def test_one_bad_function_does_not_hide_the_others(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    write(
        tmp_path,
        "from astvmap import vmap\n\n@vmap\ndef good(x):\n    return x + 1\n\n"
        "@vmap\ndef bad(x):\n    yield x\n",
        "mixed.py",
    )
    code, out, err = show(capsys, "mixed.py")
    assert code == 1
    assert defs(out) == ["good_vmap"] and 'File "mixed.py", line 9' in err


def test_fallback_warning_on_stderr_with_the_users_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    write(
        tmp_path,
        "import numpy as np\nfrom astvmap import vmap\n\n\n@vmap\ndef solve(x):\n"
        "    return np.lexsort((x, np.eye(3)[0]))\n",
        "fallback.py",
    )
    code, out, err = show(capsys, "fallback.py:solve", "--ndims", "x=1")
    assert code == 0 and "def solve_vmap(x):" in out
    assert err.startswith("fallback.py:7: PerformanceWarning: vmap(solve, in_axes=0): ")
    assert "\n  return np.lexsort((x, np.eye(3)[0]))\n" in err  # the line, as warnings shows it
    assert os.sep + "fallback.py" not in err  # relative to the current directory
