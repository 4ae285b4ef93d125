"""The frontend passes (astvmap.frontend.passes), each as source text in, `ast.unparse` of its output out
(as Pythran tests its passes), then the pipeline as a whole and `astvmap show --stage`."""

import ast
import textwrap

import numpy as np
import pytest

import astvmap
from astvmap import cli
from astvmap.frontend import breaks, fence, normalize, passes
from astvmap.kit.naming import Namer
from astvmap.kit.origins import Origin


def parse(src: str) -> ast.FunctionDef:
    tree = ast.parse(textwrap.dedent(src)).body[0]
    assert isinstance(tree, ast.FunctionDef)
    return tree


def context(tree: ast.FunctionDef) -> passes.PassContext:
    # as specialize.core has it: the namer holds every name of the user's function
    return passes.PassContext(Namer.for_tree(tree), Origin("<passes>", 1), "vmap(f)")


def apply(run, src: str) -> str:
    tree = parse(src)
    return ast.unparse(run(tree, context(tree)))


def expected(text: str) -> str:
    return textwrap.dedent(text).strip()


# ---- fence -------------------------------------------------------------------------------------------
def test_fence_keeps_plain_code():
    src = """
    def f(x):
        return x * 2
    """
    tree = parse(src)
    assert fence.run(tree, context(tree)) is tree


@pytest.mark.parametrize(
    ("src", "line", "what"),
    [
        ("def f(x):\n    y = x + 1\n    yield y\n", 3, "a generator"),
        ("def f(x):\n    global total\n    total = x\n", 2, "a `global` statement"),
    ],
)
def test_fence_rejects_at_the_users_line(src, line, what):
    tree = parse(src)
    with pytest.raises(astvmap.AstvmapError) as ei:
        fence.run(tree, context(tree))
    assert ei.value.lineno == line and ei.value.filename == "<passes>"
    assert ei.value.msg.startswith(f"vmap(f): a batched function must be plain per-example code; got {what}")


# ---- loop_returns ------------------------------------------------------------------------------------
def test_loop_returns():
    out = apply(
        normalize.loop_returns,
        """
        def f(x, n):
            for i in range(n):
                if x[i] > 0:
                    return i
            return -1
        """,
    )
    assert out == expected(
        """
        def f(x, n):
            returned, result = (False, None)
            for i in range(n):
                if x[i] > 0:
                    returned, result = (True, i)
                    break
            if returned:
                return result
            return -1
        """
    )


def test_loop_return_flags_are_fresh_names():
    out = apply(
        normalize.loop_returns,
        """
        def f(x, returned, result):
            for i in range(3):
                if x[i] > returned:
                    return i
            return result
        """,
    )
    assert out == expected(
        """
        def f(x, returned, result):
            returned_1, result_1 = (False, None)
            for i in range(3):
                if x[i] > returned:
                    returned_1, result_1 = (True, i)
                    break
            if returned_1:
                return result_1
            return result
        """
    )


def test_loop_returns_leaves_other_code_alone():
    src = """
    def f(x):
        for i in range(3):
            for j in range(3):
                if x[i] > j:
                    return i
        return 0
    """
    tree = parse(src)
    assert normalize.loop_returns(tree, context(tree)) is tree  # the return is in a nested loop


# ---- single_exit -------------------------------------------------------------------------------------
def test_single_exit_moves_the_rest_into_the_other_branch():
    out = apply(
        normalize.single_exit,
        """
        def f(x):
            if x > 0:
                return x
            y = -x
            return y * 2
        """,
    )
    assert out == expected(
        """
        def f(x):
            if x > 0:
                return x
            else:
                y = -x
                return y * 2
        """
    )


def test_single_exit_when_the_body_goes_on():
    out = apply(
        normalize.single_exit,
        """
        def f(x):
            if x > 0:
                y = x
            else:
                return 0
            return y
        """,
    )
    assert out == expected(
        """
        def f(x):
            if x > 0:
                y = x
                return y
            else:
                return 0
        """
    )


# ---- the pipeline ------------------------------------------------------------------------------------
FIRST_POSITIVE = """
def first_positive(x, n):
    for i in range(n):
        if x[i] > 0:
            return i
    return -1
"""


def test_pipeline_order_and_stages():
    assert [p.name for p in passes.PASSES] == ["fence", "loop_returns", "single_exit"]
    tree = parse(FIRST_POSITIVE)
    ctx = context(tree)
    out = passes.run(tree, ctx)
    assert list(ctx.stages) == ["frontend", "fence", "loop_returns", "single_exit", "normalize"]
    assert ctx.stages["frontend"] == ctx.stages["fence"] == expected(FIRST_POSITIVE)
    assert ctx.stages["loop_returns"].endswith("if returned:\n        return result\n    return -1")
    assert ctx.stages["normalize"] == ctx.stages["single_exit"] == ast.unparse(out)
    assert ast.unparse(out) == expected(
        """
        def first_positive(x, n):
            returned, result = (False, None)
            for i in range(n):
                if x[i] > 0:
                    returned, result = (True, i)
                    break
            if returned:
                return result
            else:
                return -1
        """
    )


def test_pipeline_never_mutates_its_input():
    tree = parse(FIRST_POSITIVE)
    before = ast.dump(tree, include_attributes=True)
    out = passes.run(tree, context(tree))
    assert ast.dump(tree, include_attributes=True) == before
    assert not {id(n) for n in ast.walk(tree)} & {id(n) for n in ast.walk(out)}  # no shared node
    plain = parse("def f(x):\n    return x\n")
    assert passes.run(plain, context(plain)) is not plain  # a copy even when no pass changes anything


def returns_in_loop(x, returned):
    for i in range(x.shape[0]):
        if x[i] > returned:
            return x[i] * 2
    return returned


def test_a_parameter_named_like_the_flag_end_to_end():
    X = np.array([[0.0, 3.0, 1.0], [-1.0, -2.0, -3.0], [5.0, 0.0, 0.0]])
    out = astvmap.vmap(returns_in_loop, in_axes=(0, None), fallback="error")(X, 0.5)
    np.testing.assert_allclose(out, [returns_in_loop(x, 0.5) for x in X])


# ---- breaks (on demand: the walker calls it per loop) ------------------------------------------------
def test_breaks_lower():
    tree = parse(
        """
        def f(x, n, broke):
            for i in range(n):
                if x[i] < 0:
                    break
                if x[i] == 0:
                    continue
                broke = broke + x[i]
        """
    )
    namer = Namer.for_tree(tree)
    loop = tree.body[0]
    assert isinstance(loop, ast.For) and breaks.has_jumps(loop.body)
    pre, lowered = breaks.lower(loop, namer.fresh("broke"), namer.fresh("skip"))
    assert "\n".join(ast.unparse(s) for s in [*pre, lowered]) == expected(
        """
        broke_1 = False
        skip = False
        for i in range(n):
            skip = False
            if not broke_1:
                if x[i] < 0:
                    broke_1 = True
                if not (broke_1 or skip):
                    if x[i] == 0:
                        skip = True
                    if not (broke_1 or skip):
                        broke = broke + x[i]
        """
    )


# ---- astvmap show --stage ----------------------------------------------------------------------------
EARLY_RETURN = """\
def f(x):
    if x[0] > 0:
        return x
    y = -x
    return y * 2
"""


def test_show_stage_normalize_prints_the_normalized_code(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mod.py").write_text(EARLY_RETURN)
    outs = {}
    for stage in ("frontend", "loop_returns", "normalize"):
        capsys.readouterr()
        code = cli.main(["show", "mod.py:f", "--in-axes", "0", "--shapes", "x=3", "--stage", stage])
        outs[stage], err = capsys.readouterr()
        assert code == 0, err
    assert outs["frontend"] == outs["loop_returns"] == EARLY_RETURN
    normalized = expected(
        """
        def f(x):
            if x[0] > 0:
                return x
            else:
                y = -x
                return y * 2
        """
    )
    assert outs["normalize"] == normalized + "\n"
