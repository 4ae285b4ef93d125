"""The analysis layer (astvmap/analysis): control-flow graph, activity, liveness, reaching definitions.

Small before/after facts on hand-written functions, then the rule liveness must follow, proven on
random programs: a name the analysis says is dead after a statement can be overwritten there with a
poison value (any use of it raises) without changing what the program does.
"""

import ast
import os
import random
import textwrap

import pytest

from astvmap import analysis
from astvmap.analysis import activity


def _fn(src: str) -> ast.FunctionDef:
    fdef = ast.parse(textwrap.dedent(src)).body[0]
    assert isinstance(fdef, ast.FunctionDef)
    return fdef


# ---- activity ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "code, reads, binds, changes",
    [
        ("y[i] = v + t", ["v", "t", "y", "i"], [], {"y": {"item"}}),
        ("t += 1", ["t"], ["t"], {}),
        ("out.append(f(k))", ["out", "f", "k"], [], {"out": {"method"}}),
        ("g = lambda a: a * w", ["w"], ["g"], {}),
        ("z = [e * s for e in xs if e]", ["xs", "s"], ["z"], {}),
        ("self.w = v", ["v", "self"], [], {"self": {"attr"}}),
        ("np.add(a, b, out=c)", ["np", "a", "b", "c"], [], {"np": {"method"}, "c": {"out"}}),
        ("a, (b, *c) = d", ["d"], ["a", "b", "c"], {}),
        ("del x", [], ["x"], {}),
        ("del y[0]", ["y"], [], {"y": {"item"}}),
        ("n = (m := k + 1) * 2", ["k"], ["m", "n"], {}),
        ("r = [(q := e) for e in xs]", ["xs"], ["q", "r"], {}),
    ],
)
def test_activity_of_a_statement(code, reads, binds, changes):
    act = activity.of_nodes(ast.parse(code).body)
    assert sorted(act.reads) == sorted(reads)
    assert sorted(act.binds) == sorted(binds)
    assert act.changes == changes


def test_a_nested_function_reads_its_free_names_where_it_is_defined():
    fdef = _fn(
        """
        def f(x):
            def g(a, b=d):
                c = a + w
                return c * x
            return g
        """
    )
    act = activity.of_nodes([fdef.body[0]])
    assert sorted(act.reads) == ["d", "w", "x"]
    assert list(act.binds) == ["g"]


# ---- liveness and reaching definitions -----------------------------------------------------------------
F = _fn(
    """
    def f(x, n):
        s = 0.0
        for _ in range(2):
            while x > 1.0:
                y = x * 0.5
                x = y
        for i in range(n):
            if x[i] < 0:
                break
            s = s + x[i]
        out = []
        for k in range(3):
            out.append(k)
        z = np.array(out)
        return s + z
    """
)


def test_liveness_is_exact_across_loops_and_breaks():
    facts = analysis.analyze(F)
    outer, inner_while = F.body[1], F.body[1].body[0]
    assert "y" not in facts.live_after(inner_while)  # written before it is read in every iteration
    assert {"x", "s", "n"} <= facts.live_after(inner_while)
    assert "i" not in facts.live_after(F.body[2])  # the counter is never read after its loop
    assert "y" not in facts.live_after(outer)
    brk = F.body[2].body[0].body[0]
    assert {"s", "np"} <= facts.live_after(brk)  # a break goes to the loop's end
    assert "x" not in facts.live_after(F.body[-2])


def test_reaching_definitions_and_the_uses_of_a_value():
    facts = analysis.analyze(F)
    ret = F.body[-1]
    s_defs = {d for d in facts.reaching(ret) if d[0] == "s"}
    assert len(s_defs) == 2  # `s = 0.0` (an empty range) and `s = s + x[i]`
    uses = facts.uses_after(F.body[4], "out")
    assert [ast.unparse(u) for u in uses] == ["z = np.array(out)"]


def test_a_substituted_statement_keeps_its_facts_and_files_its_replacement():
    fdef = _fn(
        """
        def f(x):
            s = 0.0
            for i in range(4):
                if x[i] > 0:
                    break
                s = s + x[i]
            return s
        """
    )
    facts = analysis.analyze(fdef)
    loop = fdef.body[1]
    new = _fn(
        """
        def g():
            broke = False
            for i in range(4):
                if not broke:
                    s = s + x[i]
        """
    ).body
    facts.substitute(loop, new)
    assert "s" in facts.live_after(loop)  # filed under the statement it replaces
    assert "s" in facts.live_after(new[1].body[0])
    assert facts.live_before(loop) == facts.live_before(new[0])
    with pytest.raises(LookupError):
        facts.live_after(ast.Pass())


# ---- the rule, on random programs ------------------------------------------------------------------------
NAMES = ["a", "b", "c", "d"]


class Poison:
    """What a dead name is overwritten with: any use raises."""

    def __getattr__(self, name):
        raise AssertionError("a poisoned (dead) name was read")

    def _raise(self, *args):
        raise AssertionError("a poisoned (dead) name was read")

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __lt__ = __gt__ = __bool__ = _raise
    __index__ = __int__ = __eq__ = __hash__ = __mod__ = __rmod__ = _raise


class _Gen:
    def __init__(self, rng: random.Random):
        self.rng = rng

    def expr(self) -> str:
        r = self.rng
        a = r.choice(NAMES + ["x[0]", "x[1]", "1", "2"])
        return (
            a if r.random() < 0.3 else f"({a} {r.choice(['+', '-', '*'])} {r.choice(NAMES + ['1', '3'])}) % 7"
        )

    def block(self, depth: int, in_loop: bool, n: int) -> list[str]:
        return [line for _ in range(n) for line in self.stmt(depth, in_loop)]

    def stmt(self, depth: int, in_loop: bool) -> list[str]:
        r = self.rng
        kind = r.choice(
            ["assign"] * 4 + (["if", "for", "while", "try"] if depth < 3 else []) + ["jump"] * in_loop
        )
        if kind == "assign":
            op = r.choice(["=", "=", "+="])
            return [f"{r.choice(NAMES)} {op} {self.expr()}"]
        if kind == "jump":
            return [f"if {self.expr()} > 3:", f"    {r.choice(['break', 'continue'])}"]
        inner = [
            "    " + s for s in self.block(depth + 1, in_loop or kind not in ("if", "try"), r.randint(1, 3))
        ]
        if kind == "try":  # (a handler that may run after part of the body, a `finally` after both)
            raises = [f"    if {self.expr()} > 4:", "        raise ValueError"] if r.random() < 0.6 else []
            handler = ["    " + s for s in self.block(depth + 1, in_loop, r.randint(1, 2))]
            final = (
                ["finally:", *("    " + s for s in self.block(depth + 1, False, 1))]
                if r.random() < 0.3 and not in_loop  # (a jump through `finally`: not modelled, below)
                else []
            )
            return ["try:", *inner, *raises, "except ValueError:", *handler, *final]
        if kind == "if":
            orelse = (
                ["else:"] + ["    " + s for s in self.block(depth + 1, in_loop, 1)]
                if r.random() < 0.5
                else []
            )
            return [f"if {self.expr()} > 2:", *inner, *orelse]
        if kind == "for":
            return [f"for {r.choice(NAMES + ['i'])} in range({r.choice(['x[2]', '3', 'a % 4'])}):", *inner]
        w = f"w{depth}"  # a while with its own fuel, so every program ends
        return [f"{w} = 0", f"while {self.expr()} > 1 and {w} < 4:", f"    {w} += 1", *inner]


def random_program(seed: int) -> str:
    rng = random.Random(seed)
    g = _Gen(rng)
    init = [f"{n} = {rng.randint(0, 5)}" for n in NAMES if rng.random() < 0.7]
    body = init + g.block(0, False, rng.randint(2, 6)) + [f"return {rng.choice(NAMES)}, {rng.choice(NAMES)}"]
    return "def prog(x):\n" + "\n".join("    " + line for line in body) + "\n"


def _poisoned(fdef: ast.FunctionDef) -> ast.FunctionDef:
    """`fdef` with every name the analysis calls dead before or after a statement overwritten right
    there."""
    facts = analysis.analyze(fdef)
    tracked = set(NAMES) | {"i"}

    def block(stmts):
        out = []
        for s in stmts:
            for part in [s, *getattr(s, "handlers", [])]:
                for field in ("body", "orelse", "finalbody"):
                    if isinstance(getattr(part, field, None), list):
                        setattr(part, field, block(getattr(part, field)))
            if isinstance(s, ast.Try):  # (what is dead before a `try` is dead on every path into it)
                out += [ast.parse(f"{n} = POISON").body[0] for n in sorted(tracked - facts.live_before(s))]
            out.append(s)
            if not isinstance(s, (ast.Return, ast.Break, ast.Continue)):
                out += [ast.parse(f"{n} = POISON").body[0] for n in sorted(tracked - facts.live_after(s))]
        return out

    fdef.body = block(fdef.body)  # the facts were computed on the tree before any poison
    return ast.fix_missing_locations(fdef)


def _run(tree_or_src, x):
    ns = {"POISON": Poison()}
    code = compile(
        ast.Module([tree_or_src], []) if isinstance(tree_or_src, ast.AST) else tree_or_src, "p", "exec"
    )
    exec(code, ns)
    try:
        return ns["prog"](x)
    except NameError:  # UnboundLocalError too: poisoning a name makes it local
        return "unbound"


SEEDS = range(int(os.environ.get("ASTVMAP_ANALYSIS_SEEDS", "300")))


@pytest.mark.parametrize("seed", SEEDS)
def test_dead_names_can_be_poisoned_on_random_programs(seed):
    src = random_program(seed)
    poisoned = _poisoned(_fn(src))
    rng = random.Random(seed)
    for _ in range(4):
        x = [rng.randint(0, 6) for _ in range(3)]
        want = _run(src, x)
        try:
            got = _run(poisoned, x)
        except AssertionError as e:
            raise AssertionError(f"{e}\n{ast.unparse(poisoned)}\nx={x}") from None
        assert got == want, f"{ast.unparse(poisoned)}\nx={x}"
