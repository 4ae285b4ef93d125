"""`astvmap bench`: one --quick run (the results are never asserted against times: only that every workload
is there and every correctness check passed), the report from its JSON, and the command line's errors."""

import json

import pytest

from astvmap import cli
from astvmap.bench import report, runner, workloads


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    path = tmp_path_factory.mktemp("bench") / "results.json"
    code = cli.main(["bench", "--quick", "--json", str(path)])
    with open(path) as f:
        return code, json.load(f)


def test_quick_run_passes_every_check(quick):
    code, run = quick
    failed = [
        (r["workload"], r["size"], name, v)
        for r in run["rows"]
        for name, v in r["variants"].items()
        if v["status"] not in ("ok", "skipped")
    ]
    assert failed == []
    assert code == 0 and run["checks_passed"]
    for row in run["rows"]:
        assert row["checks_passed"], row
        for name in ("loop", "vectorize", "astvmap"):
            assert row["variants"][name]["check"]["passed"], (row["workload"], name)
        assert row["variants"]["astvmap"]["first_call"] > 0


def test_quick_run_has_every_workload_and_variant(quick):
    _, run = quick
    assert [r["workload"] for r in run["rows"]] == [w.name for w in workloads.WORKLOADS for _ in w.quick]
    for row in run["rows"]:
        assert {"loop", "vectorize", "hand", "astvmap"} <= set(row["variants"])
        for name, info in run["peers"].items():  # a peer is timed, or says why not
            assert ("version" in info and name in row["variants"]) or info["skipped"]
        for v in row["variants"].values():
            assert (v["status"] == "ok" and v["median"] > 0) or (v["status"] == "skipped" and v["reason"])
    assert run["environment"]["threads"] == 1 and run["environment"]["quick"]


def test_table_and_markdown_name_every_workload(quick):
    _, run = quick
    for text in (report.terminal(run), report.markdown(run)):
        for name in workloads.NAMES:
            assert name in text
        assert "astvmap/hand" in text and "All correctness checks passed." in text
        assert "FAILED" not in text and "MISMATCH" not in text
    table = [line for line in report.markdown(run).splitlines() if line.startswith("|")]
    assert len(table) == 2 + len(run["rows"])
    assert len({line.count("|") for line in table}) == 1  # every row has every column


def test_plot(quick, tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "bench.png"
    report.plot(quick[1], str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_in_process_run_and_its_table(capsys, tmp_path):
    path = tmp_path / "one.json"
    code = cli.main(
        [
            "bench",
            "--workload",
            "neuron",
            "piecewise",
            "--batch",
            "50,200",
            "--peers",
            "none",
            "--threads",
            "0",
            "--budget",
            "0.005",
            "--markdown",
            "--json",
            str(path),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "| neuron | B=50 |" in out and "| piecewise | B=200 |" in out
    run = json.loads(path.read_text())
    assert [(r["workload"], r["batch"]) for r in run["rows"]] == [
        ("neuron", 50),
        ("neuron", 200),
        ("piecewise", 50),
        ("piecewise", 200),
    ]
    assert run["peers"] == {} and run["environment"]["thread_pinning"].startswith("not pinned")


def test_group_names_select_workloads():
    assert [w.name for w in workloads.select(["custom_dot", "mm"])] == [
        "custom_dot_d3",
        "custom_dot_d256",
        "mm",
    ]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--workload", "nope"], "unknown workload nope"),
        (["--batch", "10,x"], "batch sizes"),
        (["--batch", "0"], "positive"),
        (["--peers", "numpy"], "unknown peer numpy"),
    ],
)
def test_usage_errors(argv, message, capsys):
    assert cli.main(["bench", *argv]) == 2
    assert message in capsys.readouterr().err


def test_plot_without_matplotlib_says_so(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(report, "have_matplotlib", lambda: False)
    assert cli.main(["bench", "--quick", "--plot", str(tmp_path / "p.png")]) == 2
    assert "pip install 'astvmap[bench]'" in capsys.readouterr().err


def test_a_wrong_variant_is_reported_not_timed():
    case = workloads.WORKLOADS[0].case(20)
    case.astvmap = lambda: lambda X: case.hand(X) + 1.0
    row = runner.run_case(case, runner.Settings(budget=0.001, peers=()))
    assert row["variants"]["astvmap"]["status"] == "mismatch" and "median" not in row["variants"]["astvmap"]
    assert not row["checks_passed"]
    assert "MISMATCH" in report.terminal(
        {"environment": runner.environment(runner.Settings(), "-"), "peers": {}, "rows": [row]}
    )


class _FakePeer:
    """A stand-in for jax (not installed here): the hand reference as its batched function."""

    name, version = "jax", "0-fake"

    def __init__(self):
        self.functions = {"neuron": workloads.neuron_hand, "convolve_k": workloads.convolve_hand}

    convert = staticmethod(lambda args: args)
    to_numpy = staticmethod(lambda out: out)
    block = staticmethod(lambda out: out)


def test_a_peer_gets_its_columns_and_skips_say_why():
    settings = runner.Settings(budget=0.001, max_calls=20, quick=True, peers=("jax",))
    settings.loaded["jax"] = _FakePeer()
    rows = runner.run([workloads.WORKLOADS[0], *workloads.select(["convolve_k", "mm"])], [30], settings)
    jax = [r["variants"]["jax"] for r in rows]
    assert jax[0]["status"] == "ok" and jax[0]["check"]["passed"] and jax[0]["first_call"] > 0
    assert jax[1]["status"] == "skipped" and "992" in jax[1]["reason"]  # --quick: not on convolve_k
    assert jax[2]["status"] == "skipped" and "no jax version of mm" in jax[2]["reason"]
    run = {
        "environment": runner.environment(settings, "-"),
        "peers": {"jax": {"version": "0-fake"}},
        "rows": rows,
    }
    header, table, notes = report.table_rows(run)
    assert header[-4:] == ["jax.jit(jax.vmap)", "jax/hand", "jax 1st call", "check"]
    assert table[1][-4].startswith("skipped [") and any("convolve_k" in n and "992" in n for n in notes)
    assert all(row[-1] == "ok" for row in table)


def test_missing_peers_are_skipped_with_the_reason(monkeypatch):
    from astvmap.bench import peers

    assert peers.status("astvmap_no_such_module") == (
        None,
        "astvmap_no_such_module is not installed (astvmap never installs it)",
    )
    monkeypatch.setattr(
        peers, "status", lambda name: (None, f"{name} is not installed (astvmap never installs it)")
    )
    settings = runner.Settings(peers=("jax", "torch"))
    info = runner.load_peers(settings)
    assert settings.loaded == {} and "not installed" in info["jax"]["skipped"] and "torch" in info
    lines = report.table_rows({"peers": info, "rows": []})[2]
    assert lines == [
        "jax.jit(jax.vmap): skipped, jax is not installed (astvmap never installs it)",
        "torch.func.vmap: skipped, torch is not installed (astvmap never installs it)",
    ]


def test_pinning_in_process_leaves_the_thread_variables_as_they_were():
    # `NUMBA_NUM_THREADS` left set after a pinned run broke every later parallel Numba compilation
    pytest.importorskip("threadpoolctl")
    import os

    from astvmap.bench import threads

    before = {v: os.environ.get(v) for v in threads.THREAD_VARS}
    with threads._pinned_here(1, threads.wanted_env(1)):
        assert (
            "NUMBA_NUM_THREADS" not in os.environ
            or os.environ["NUMBA_NUM_THREADS"] == before["NUMBA_NUM_THREADS"]
        )
    assert {v: os.environ.get(v) for v in threads.THREAD_VARS} == before
