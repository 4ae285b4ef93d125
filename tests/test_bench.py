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
    failed = [(r["workload"], r["size"], name, v) for r in run["rows"] for name, v in r["variants"].items()
              if v["status"] not in ("ok", "skipped")]
    assert failed == []
    assert code == 0 and run["checks_passed"]
    for row in run["rows"]:
        assert row["checks_passed"], row
        for name in ("loop", "vectorize", "astvmap"):
            assert row["variants"][name]["check"]["passed"], (row["workload"], name)
        assert row["variants"]["astvmap"]["first_call"] > 0


def test_quick_run_has_every_workload_and_variant(quick):
    _, run = quick
    assert [r["workload"] for r in run["rows"]] == [
        w.name for w in workloads.WORKLOADS for _ in w.quick]
    for row in run["rows"]:
        assert {"loop", "vectorize", "hand", "astvmap"} <= set(row["variants"])
        for name, info in run["peers"].items():       # a peer is timed, or says why not
            assert "version" in info and name in row["variants"] or info["skipped"]
        for v in row["variants"].values():
            assert v["status"] == "ok" and v["median"] > 0 or v["status"] == "skipped" and v["reason"]
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
    assert len({line.count("|") for line in table}) == 1            # every row has every column


def test_plot(quick, tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "bench.png"
    report.plot(quick[1], str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_in_process_run_and_its_table(capsys, tmp_path):
    path = tmp_path / "one.json"
    code = cli.main(["bench", "--workload", "neuron", "piecewise", "--batch", "50,200", "--peers", "none",
                     "--threads", "0", "--budget", "0.005", "--markdown", "--json", str(path)])
    out = capsys.readouterr().out
    assert code == 0
    assert "| neuron | B=50 |" in out and "| piecewise | B=200 |" in out
    run = json.loads(path.read_text())
    assert [(r["workload"], r["batch"]) for r in run["rows"]] == [
        ("neuron", 50), ("neuron", 200), ("piecewise", 50), ("piecewise", 200)]
    assert run["peers"] == {} and run["environment"]["thread_pinning"].startswith("not pinned")


def test_group_names_select_workloads():
    assert [w.name for w in workloads.select(["custom_dot", "mm"])] == ["custom_dot_d3", "custom_dot_d256", "mm"]


@pytest.mark.parametrize("argv, message", [
    (["--workload", "nope"], "unknown workload nope"),
    (["--batch", "10,x"], "batch sizes"),
    (["--batch", "0"], "positive"),
    (["--peers", "numpy"], "unknown peer numpy"),
])
def test_usage_errors(argv, message, capsys):
    assert cli.main(["bench", *argv]) == 2
    assert message in capsys.readouterr().err


def test_plot_without_matplotlib_says_so(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(report, "have_matplotlib", lambda: False)
    assert cli.main(["bench", "--quick", "--plot", str(tmp_path / "p.png")]) == 2
    assert "pip install 'astvmap[bench]'" in capsys.readouterr().err


def test_a_wrong_variant_is_reported_not_timed():
    case = workloads.WORKLOADS[0].case(20)
    case.astvmap = lambda: (lambda X: case.hand(X) + 1.0)
    row = runner.run_case(case, runner.Settings(budget=0.001, peers=()))
    assert row["variants"]["astvmap"]["status"] == "mismatch" and "median" not in row["variants"]["astvmap"]
    assert not row["checks_passed"]
    assert "MISMATCH" in report.terminal({"environment": runner.environment(runner.Settings(), "-"),
                                          "peers": {}, "rows": [row]})
