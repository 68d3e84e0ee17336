"""`ganbench compare` and `ganbench leaderboard` on result fixtures written here."""

from __future__ import annotations

import csv
import io
import json
import math
import re
from pathlib import Path

import pytest

from ganbench.cli import main
from ganbench.results.files import SCHEMA_VERSION, write_json
from ganbench.results.store import ResultsStore
from tests.helpers import committed, committed_run

FID_SETTINGS = {"extractor": "inception", "samples": 10000}
MODES_SETTINGS = {"samples": 2500}


def metric(mean, std=0.0, n=3, higher=False, settings=None, name="fid"):
    return {
        "metric": name,
        "mean": mean,
        "std": std,
        "n": n,
        "per_seed": {},
        "unit": "",
        "higher_is_better": higher,
        "settings": settings or dict(FID_SETTINGS),
    }


def write_run(
    results_dir,
    results,
    suite="toy",
    quick=False,
    when="2026-01-01T00:00:00",
    version=1,
    seeds=None,
):
    run_dir = ResultsStore(results_dir).new_run("cpu", "abcdef123456", suite)
    write_json(
        run_dir / "result.json",
        {
            "schema_version": SCHEMA_VERSION,
            "ganbench_version": "0",
            "run": run_dir.name[:4],
            "datetime": when,
            "complete": True,
            "commit_info": {"id": "abcdef123456", "dirty": False},
            "machine_info": {"gpu": None, "machine": "x86_64"},
            "suite": {
                "name": suite,
                "version": version,
                "hash": "h",
                "quick": quick,
                "seeds": seeds,
                "budget": {"steps": 100, "batch_size": 64, "seeds": [0, 1, 2]},
            },
            "results": results,
        },
    )
    return run_dir


def results(fid, modes, fid_settings=None):
    return {
        "dcgan": {
            "mnist": {
                "fid": metric(fid, settings=fid_settings),
                "modes_covered": metric(modes, higher=True, settings=MODES_SETTINGS, name="modes"),
            }
        }
    }


@pytest.fixture
def runs(tmp_path):
    write_run(tmp_path, results(10.0, 8))
    return tmp_path


def compare(runs, *args):
    return main(["compare", "1", "2", "--results-dir", str(runs), *args])


@pytest.mark.parametrize(
    ("fid", "modes", "rules", "code", "message"),
    [
        (13.0, 8, ["fid:+2.0"], 1, "REGRESSION dcgan/mnist/fid: 10 -> 13 (+3 > +2 allowed"),
        (11.0, 8, ["fid:+2.0"], 0, "1 rules, 0 failed"),
        (8.0, 8, ["fid:+2.0"], 0, "better"),  # an improvement is never a regression
        (10.0, 6, ["modes_covered:-1"], 1, "REGRESSION dcgan/mnist/modes_covered: 8 -> 6"),
        (10.0, 7, ["modes_covered:-1"], 0, "1 rules, 0 failed"),
        (11.5, 8, ["fid:+10%"], 1, "(+1.5 > +1 allowed by 'fid:+10%')"),
        (10.9, 8, ["fid:+10%"], 0, "1 rules, 0 failed"),
        (10.0, 8, ["modes:-1"], 0, "1 rules, 0 failed"),  # a metric name covers its keys
    ],
)
def test_compare_catches_regressions_in_the_metric_direction(
    runs, capsys, fid, modes, rules, code, message
):
    write_run(runs, results(fid, modes))
    assert compare(runs, *[a for r in rules for a in ("--fail", r)]) == code
    assert message in capsys.readouterr().out


def test_compare_refuses_values_measured_with_other_settings(runs, capsys):
    write_run(runs, results(9.0, 8, fid_settings={"extractor": "inception", "samples": 1000}))
    assert compare(runs, "--fail", "fid:+2") == 1
    out = capsys.readouterr().out
    assert "refused: protocol differs: metric fid samples 10000 vs 1000" in out
    assert "CANNOT CHECK dcgan/mnist/fid" in out


@pytest.mark.parametrize(
    ("base", "new"), [(10.0, math.nan), (math.nan, 10.0), (math.inf, 10.0), (10.0, -math.inf)]
)
def test_a_non_finite_value_cannot_pass_a_gate(tmp_path, capsys, base, new):
    """issue 14 #8: a NaN printed "worse" yet exited 0, and +inf in a baseline counted as
    "better". ganbench writes null for them; a file holding NaN or Infinity was edited by
    hand or made elsewhere, and is refused as such (issue 23 #14): exit 2, never 0."""
    for value in (base, new):  # as a hand-edited or foreign file holds them: NaN, Infinity
        path = write_run(tmp_path, results(10.0, 8)) / "result.json"
        data = json.loads(path.read_text())
        data["results"]["dcgan"]["mnist"]["fid"]["mean"] = value
        path.write_text(json.dumps(data))
    assert compare(tmp_path, "--fail", "fid:+2") == 2
    err = capsys.readouterr().err
    assert "field results.dcgan.mnist.fid.mean: expected a finite number or null" in err


def test_compare_refuses_across_suite_versions(runs, capsys):
    write_run(runs, results(10.0, 8), version=2)
    assert compare(runs) == 0
    assert "refused: protocol differs: suite version 1 vs 2" in capsys.readouterr().out


def _edit_suite(run_dir, **changes):
    path = run_dir / "result.json"
    data = json.loads(path.read_text())
    for dotted, value in changes.items():
        node = data["suite"]
        *parents, last = dotted.split("__")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    path.write_text(json.dumps(data))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"quick": True, "budget__steps": 5}, "budget.steps 100 vs 5"),
        ({"name": "other"}, "suite 'toy' vs 'other'"),
        ({"budget__steps": 5}, "steps 100 vs 5"),
        ({"budget__batch_size": 8}, "batch_size 64 vs 8"),
        ({"training": {"precision": "bf16"}}, "training.precision 'fp32' vs 'bf16'"),
        (
            {"components": {"models": {"dcgan": {"name": "dcgan", "width": 32}}}},
            "model dcgan width 64 vs 32",
        ),
    ],
)
def test_compare_refuses_unlike_runs_and_a_gate_cannot_pass_on_them(runs, capsys, changes, message):
    """issue 14 #13: a --quick run against a full one, another suite or budget or another
    model's parameters are not compared, and a --fail rule on them is CANNOT CHECK."""
    if "components" in changes:
        _edit_suite(
            only_run_dir(runs, 1), components={"models": {"dcgan": {"name": "dcgan", "width": 64}}}
        )
    _edit_suite(write_run(runs, results(10.0, 8)), **changes)
    assert compare(runs, "--fail", "fid:+2") == 1
    out = capsys.readouterr().out
    assert message in out and "CANNOT CHECK dcgan/mnist/fid" in out


def test_measuring_during_training_does_not_make_runs_unlike(runs, capsys):
    """eval_every and steps_to observe training without changing it (test_diagnostics), so
    a run with them compares with one made before they existed."""
    _edit_suite(only_run_dir(runs, 1), training={"precision": "fp32"})
    new = write_run(runs, results(10.0, 8))
    _edit_suite(new, training={"precision": "fp32", "eval_every": 500, "steps_to": {"fid": 20}})
    assert compare(runs, "--fail", "fid:+2") == 0
    assert "CANNOT CHECK" not in capsys.readouterr().out
    _edit_suite(new, training={"precision": "bf16", "eval_every": 500})
    assert compare(runs, "--fail", "fid:+2") == 1


def only_run_dir(runs, number):
    return next(p for p in (runs / "runs" / "cpu").iterdir() if p.name.startswith(f"{number:04d}"))


def test_compare_refuses_throughput_timed_on_a_busy_machine(runs, capsys):
    """issue 14 #20: 3,260 vs 69,629 samples/s on a shared CPU is load, not a regression."""

    def speed(value, load):
        m = metric(value, higher=True, settings={"device": "cpu"}, name="throughput")
        m["conditions"] = {"0": {"load_average": load, "cpu_count": 2, "timed_steps": 90}}
        return {"dcgan": {"mnist": {"samples_per_second": m}}}

    quiet, loaded = speed(69629.0, 1.9), speed(3260.0, 6.3)
    for first, second, code in ((quiet, loaded, 1), (quiet, speed(52000.0, 2.2), 1)):
        write_run(runs, first)
        write_run(runs, second)
        n = len(list((runs / "runs" / "cpu").iterdir()))
        assert (
            main(
                [
                    "compare",
                    str(n - 1),
                    str(n),
                    "--results-dir",
                    str(runs),
                    "--fail",
                    "samples_per_second:-10%",
                ]
            )
            == code
        )
    out = capsys.readouterr().out
    assert "B seed 0 was timed at load 6.3 on 2 CPUs (busy: not comparable)" in out
    assert "CANNOT CHECK dcgan/mnist/samples_per_second" in out
    assert "REGRESSION dcgan/mnist/samples_per_second" in out  # the quiet pair is gated


def test_compare_says_when_a_difference_is_within_seed_noise(runs, capsys):
    write_run(runs, {"dcgan": {"mnist": {"fid": metric(10.5, std=1.0)}}})
    assert compare(runs) == 0
    assert "worse, within seed noise" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("fid:-2", "fid is lower-is-better, so a regression is an increase; write fid:+2"),
        ("modes_covered:+1", "write modes_covered:-1"),
        ("is:-1", "no metric 'is' in both runs"),
        # issue 34 #1: a metric-name rule whose sign fits none of its keys checked nothing
        # and passed any regression ("fid-mnist:-5" on FID-MNIST 238 -> 900)
        (
            "modes:+1",
            "none of metric modes's values gets worse by an increase, so the rule would "
            "check nothing; its keys: modes_covered (higher-is-better); write modes:-1",
        ),
        ("fid+2", "expected METRIC:+N"),
    ],
)
def test_compare_rejects_bad_rules_with_exit_2(runs, capsys, rule, message):
    write_run(runs, results(10.0, 8))
    assert compare(runs, "--fail", rule) == 2
    assert message in capsys.readouterr().err


def test_compare_unknown_run_number(runs, capsys):
    assert main(["compare", "1", "7", "--results-dir", str(runs)]) == 2
    assert "run 7: no runs with that number" in capsys.readouterr().err


def board(runs, fmt, *extra):
    return main(["leaderboard", str(runs), "--suite", "toy", "--format", fmt, *extra])


def test_leaderboard_csv_parses_back_to_the_newest_results(runs, capsys):
    write_run(
        runs, {"mlp-gan": {"mnist": {"fid": metric(30.0, std=2.0)}}}, when="2026-02-01T00:00:00"
    )
    write_run(runs, results(9.0, 8), when="2026-03-01T00:00:00")  # newer dcgan
    assert board(runs, "csv") == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    got = {
        (r["model"], r["metric"]): (float(r["mean"]), float(r["std"]), int(r["n"]), r["run"])
        for r in rows
    }
    assert got == {
        ("dcgan", "fid"): (9.0, 0.0, 3, "0003"),
        ("dcgan", "modes_covered"): (8.0, 0.0, 3, "0003"),
        ("mlp-gan", "fid"): (30.0, 2.0, 3, "0002"),
    }


def test_leaderboard_marks_the_best_and_footnotes_differing_settings(runs, capsys):
    write_run(runs, {"mlp-gan": {"mnist": {"fid": metric(30.0)}}})
    write_run(runs, {"wgan": {"mnist": {"fid": metric(5.0, settings={"samples": 500})}}})
    assert board(runs, "md") == 0
    out = capsys.readouterr().out
    # best of equals; the column's settings marked in its header, a cell's own where they differ
    assert "| FID ↓ [1] " in out
    assert "| **10 ± 0** (std, n = 3) " in out and "| 30 ± 0 (std, n = 3) " in out
    assert "5 ± 0 (std, n = 3) [3]" in out and "**5" not in out  # not ranked against them
    assert "- [3] samples 500" in out
    assert "mlp-gan 30 ± 0; wgan 5 ± 0 (other settings)." in out  # the summary says so too
    # ranked by the first metric among values measured alike; other settings after them
    rows = [line.split("|")[1].strip() for line in out.splitlines() if line.startswith("| ")]
    assert rows[1:] == ["dcgan", "mlp-gan", "wgan"]


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("latex", r"\textbf{10 $\pm$ 0} (std, n = 3)"),
        ("html", '<span class="v"><b>10 ± 0</b></span> <span class="n">std, n = 3</span>'),
    ],
)
def test_leaderboard_latex_and_html(runs, capsys, fmt, expected):
    write_run(runs, {"mlp-gan": {"mnist": {"fid": metric(30.0)}}})
    assert board(runs, fmt) == 0
    assert expected in capsys.readouterr().out


def test_leaderboard_skips_quick_runs_unless_asked(tmp_path, capsys):
    write_run(tmp_path, results(10.0, 8), quick=True)
    assert board(tmp_path, "md") == 2
    assert "no complete full run of suite 'toy'" in capsys.readouterr().err
    assert board(tmp_path, "md", "--include-quick", "--out", str(tmp_path / "lb.md")) == 0
    assert (tmp_path / "lb.md").read_text().startswith("# ganbench leaderboard: toy")


def test_leaderboard_keeps_the_baseline_over_a_newer_one_seed_ci_rerun(tmp_path, capsys):
    """A CI gate's rerun (`--seeds 17`, one seed) is newer than the 5-seed baseline but
    must not replace it on the leaderboard."""
    write_run(tmp_path, results(10.0, 8))
    write_run(tmp_path, results(99.0, 8), when="2026-02-01T00:00:00", seeds=[17])
    assert board(tmp_path, "csv") == 0
    out = capsys.readouterr().out
    assert "10" in out and "99" not in out


def test_runs_with_one_number_on_two_machines_are_named_machine_slash_number(runs, capsys):
    """issue 14, smaller: two machines' results merged into one results/ share numbers."""
    other = runs / "runs" / "nvidia-h100" / only_run_dir(runs, 1).name
    other.parent.mkdir()
    write_run(runs, results(12.0, 8))
    only_run_dir(runs, 2).rename(other)  # a run 0001 of another machine
    assert main(["compare", "1", "1", "--results-dir", str(runs)]) == 2
    assert "2 runs with that number" in capsys.readouterr().err
    assert main(["compare", "cpu/1", "nvidia-h100/1", "--results-dir", str(runs)]) == 0
    assert re.search(r"fid ↓ +10 ± 0 \(n=3\) +12 ± 0 \(n=3\)", capsys.readouterr().out)


def test_a_hand_edited_nan_is_refused_by_the_schema(runs, capsys):
    """issue 23 #14: a NaN typed into result.json was printed by leaderboards as a number."""
    path = only_run_dir(runs, 1) / "result.json"
    path.write_text(path.read_text().replace('"mean": 10.0', '"mean": NaN', 1))
    assert main(["leaderboard", str(runs), "--suite", "toy"]) == 2
    assert "expected a finite number or null, got nan" in capsys.readouterr().err


def test_deeply_nested_json_is_a_damaged_file_not_a_traceback(runs, capsys):
    """issue 34 #3: 200,000 '[' gave a RecursionError traceback in compare and killed a
    whole leaderboard, whose damaged runs are skipped with a warning."""
    run_dir = write_run(runs, results(11.0, 8))
    (run_dir / "result.json").write_text("[" * 200_000)
    assert compare(runs) == 2
    assert "not a valid ganbench result file (JSON error: nested too deeply)" in (
        capsys.readouterr().err
    )
    assert board(runs, "csv") == 0
    out, err = capsys.readouterr()
    assert "warning: skipped" in err and "nested too deeply" in err
    assert "10" in out


def test_a_leaderboard_says_when_a_models_newest_run_failed(runs, capsys):
    """issue 23 #14: it silently showed the older run's row."""
    run_dir = write_run(runs, {}, when="2026-02-01T00:00:00")
    data = json.loads((run_dir / "result.json").read_text())
    data["jobs"] = {"total": 1, "finished": 1, "failed": {"dcgan__mnist__seed0": "RuntimeError"}}
    (run_dir / "result.json").write_text(json.dumps(data))
    assert main(["leaderboard", str(runs), "--suite", "toy"]) == 0
    assert "dcgan: its newest run 0002 failed; the leaderboard shows its last run with " in (
        capsys.readouterr().err
    )


def _patched(run_dir, **suite_fields):
    path = run_dir / "result.json"
    data = json.loads(path.read_text())
    data["suite"].update(suite_fields)
    path.write_text(json.dumps(data))


def _md_tables(out: str) -> dict[str, list[list[str]]]:
    """Each table of a markdown leaderboard ('## section' / '### table') -> its rows,
    split into cells."""
    found: dict[str, list[list[str]]] = {}
    section = heading = None
    for line in out.splitlines():
        if line.startswith("## "):
            section = line[3:].split(":")[0]
        elif line.startswith("### "):
            heading = f"{section} / {line[4:]}"
            found[heading] = []
        elif line.startswith("| ") and heading:
            found[heading].append([c.strip() for c in line.split("|")[1:-1]])
    return found


def test_a_leaderboard_has_a_section_per_protocol_and_keeps_older_cells(tmp_path, capsys):
    """issue 33 #1: a run of another budget shared the table; a newer run that measured one
    dataset hid the other's values (pacgan-mog lost its ring-8 rows)."""
    two = {
        "dcgan": {
            "mnist": {"fid": metric(10.0)},
            "fashion": {"fid": metric(30.0)},
        }
    }
    write_run(tmp_path, two)
    write_run(tmp_path, {"dcgan": {"mnist": {"fid": metric(9.0)}}}, when="2026-02-01T00:00:00")
    cpu = write_run(tmp_path, {"dcgan": {"mnist": {"fid": metric(50.0)}}}, when="2026-03-01")
    _patched(cpu, budget_name="cpu")
    assert board(tmp_path, "md") == 0
    tables = _md_tables(capsys.readouterr().out)
    assert list(tables) == ["budget / mnist", "budget / fashion", "budgets.cpu / mnist"]
    header, row = tables["budget / mnist"]
    assert row[header.index("FID ↓ [1]")].startswith("9 ± 0")  # the newest
    assert row[-1] == "0002"
    header, row = tables["budget / fashion"]
    assert row[header.index("FID ↓ [1]")].startswith("30 ± 0")  # kept from the older run
    assert row[-1] == "0001"
    assert tables["budgets.cpu / mnist"][1][1].startswith("50 ± 0")


def _timed(value, loads, ensemble=None, unit="samples/s", key="samples_per_second"):
    settings = {"batch_size": 64} | ({"ensemble": ensemble} if ensemble else {})
    m = metric(value, higher=unit != "MiB", settings=settings, name="throughput")
    m["unit"] = unit
    m["conditions"] = {
        str(s): {"load_average": load, "cpu_count": 2} for s, load in enumerate(loads)
    }
    return key, m


def test_cost_is_a_table_of_its_own_with_notes_said_once(tmp_path, capsys):
    """issue 33 #1, #3: throughput and memory in their own table; a busy timing is never
    bold and is noted once per run and metric with its load range; an ensemble's single
    timing is n = 1, never ± 0; peak memory is not marked busy."""
    busy = dict([_timed(900.0, [3.5, 4.0, 3.8])])
    quiet = dict([_timed(500.0, [0.5, 0.6, 0.5], ensemble=3)])
    memory = dict([_timed(700.0, [3.5, 4.0, 3.8], unit="MiB", key="peak_memory_mib")])
    write_run(
        tmp_path,
        {
            "dcgan": {"mnist": {"fid": metric(10.0), **busy, **memory}},
            "mlp-gan": {"mnist": {"fid": metric(20.0), **quiet}},
        },
    )
    assert board(tmp_path, "md") == 0
    out = capsys.readouterr().out
    tables = _md_tables(out)
    assert list(tables) == ["budget / mnist", "budget / cost on cpu x86_64"]
    assert all("throughput" not in h for h in tables["budget / mnist"][0])
    header, *rows = tables["budget / cost on cpu x86_64"]
    assert header[1:3] == ["throughput (samples/s) ↑ [2]", "peak memory (MiB) ↓ [2]"]
    cost = {row[0]: row for row in rows}
    assert cost["dcgan"][1] == "900.0 ± 0 † (std, n = 3)"  # busy: never bold
    assert cost["mlp-gan"][1] == "500.0 (n = 1) [3]"  # one timing of 3 seeds, other settings
    assert "†" not in cost["dcgan"][2]  # memory does not depend on the load
    timing = [line for line in out.splitlines() if line.startswith("- †")]
    assert timing == [
        "- † run 0001, samples_per_second: timed at load 3.5–4.0 on 2 CPUs (busy: not "
        "comparable, never bold)"
    ]
    assert "- n = 1 in a cost column: the seeds trained as one ensemble, timed once" in out


def test_one_timing_copied_to_every_seed_of_an_old_run_shows_n_1(tmp_path, capsys):
    """issue 43 #4: run 0002 (before throughput recorded an ensemble's size) copied one
    ensemble timing to its three seeds, shown as `662.4 ± 0 (n=3)`."""
    key, m = _timed(662.4, [0.5, 0.5, 0.5])
    m["per_seed"] = {"0": 662.4, "1": 662.4, "2": 662.4}
    separate = dict(m, mean=600.0, per_seed={"0": 600.0, "1": 600.1, "2": 599.9}, std=0.1)
    write_run(tmp_path, {"pacgan2": {"grid-25": {key: m}}, "gan": {"grid-25": {key: separate}}})
    assert board(tmp_path, "md") == 0
    cost = {r[0]: r for r in _md_tables(capsys.readouterr().out)["budget / cost on cpu x86_64"]}
    assert cost["pacgan2"][1] == "**662.4** (n = 1)"
    assert cost["gan"][1] == "600.00 ± 0.10 (std, n = 3)"
    assert board(tmp_path, "csv") == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {r["model"]: r["n"] for r in rows} == {"pacgan2": "1", "gan": "3"}


def test_a_suite_ranks_by_its_primary_metric(runs, capsys):
    """issue 33 #1: rows ranked by the suite's primary metric, here a higher-is-better one."""
    from ganbench.publishing.leaderboard import collect, render

    write_run(
        runs,
        {
            "mlp-gan": {
                "mnist": {
                    "fid": metric(5.0),
                    "modes_covered": metric(9, higher=True, settings=MODES_SETTINGS, name="modes"),
                }
            }
        },
    )
    out = render(collect(runs, "toy"), "mnist", "md", primary="modes")
    rows = [line.split("|")[1].strip() for line in out.splitlines() if line.startswith("| ")]
    assert rows[1:] == ["mlp-gan", "dcgan"] and "ranked by modes" in out
    out = render(collect(runs, "toy"), "mnist", "md", primary="fid")
    assert [line.split("|")[1].strip() for line in out.splitlines() if line.startswith("| ")][
        1:
    ] == ["mlp-gan", "dcgan"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("unit", "px", "refused: protocol differs: metric fid unit '' vs 'px'"),
        ("higher_is_better", True, "metric fid higher_is_better False vs True"),
    ],
)
def test_a_hand_edited_unit_or_direction_is_not_alike(runs, capsys, field, value, message):
    """issue 34, smaller: they compared as alike (a flipped direction even flipped the gate)."""
    path = write_run(runs, results(10.0, 8)) / "result.json"
    data = json.loads(path.read_text())
    data["results"]["dcgan"]["mnist"]["fid"][field] = value
    path.write_text(json.dumps(data))
    assert compare(runs) == 0
    assert message in capsys.readouterr().out


@pytest.mark.parametrize(("field", "value"), [("n", -3), ("std", -0.5)])
def test_a_negative_count_or_spread_is_refused_by_the_schema(runs, capsys, field, value):
    path = only_run_dir(runs, 1) / "result.json"
    data = json.loads(path.read_text())
    data["results"]["dcgan"]["mnist"]["fid"][field] = value
    path.write_text(json.dumps(data))
    assert main(["leaderboard", str(runs), "--suite", "toy"]) == 2
    assert f"field results.dcgan.mnist.fid.{field}: expected" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.007, "0.007"),
        (0.00734, "0.00734"),
        (0.0005, "5.00e-04"),
        (0.913, "0.913"),
        (1563.2, "1,563"),
    ],
)
def test_numbers_read_as_the_papers_print_them(value, text):
    """PacGAN's ± 0.007 was shown as 7.00e-03 beside our 0.913."""
    from ganbench.formatting import format_number

    assert format_number(value) == text


REPO = Path(__file__).resolve().parents[1]


def _cells(lines: list[str]) -> list[list[str]]:
    """A markdown table's rows as stripped cells, its settings markers left out."""
    return [
        [re.sub(r" \[\d+\]", "", c).strip() for c in line.split("|")[1:-1]]
        for line in lines
        if line.startswith("|") and not set(line) <= set("|-: ")
    ]


def test_the_committed_leaderboards_are_what_the_formatter_writes(monkeypatch, committed_results):
    """issue 43 #6: every committed leaderboard is regenerated from the results by today's
    formatter (`ganbench leaderboard results --suite NAME --format md|csv --out ...`), so a
    change of the tables' words or rounding shows in the files that readers read. From
    the committed runs only: a user's own run of a suite would change its board."""
    from ganbench.publishing.leaderboard import collect, render
    from ganbench.suite import by_name

    monkeypatch.chdir(REPO)  # the suite files, for the primary metric and the references
    loaded = list(ResultsStore(committed_results).loaded())  # read once
    committed_boards = committed("results/leaderboard/*.*")
    assert len(committed_boards) >= 12
    for path in committed_boards:
        entries = collect(committed_results, path.stem, results=loaded)
        text = render(entries, path.stem, path.suffix[1:], by_name(path.stem).primary)
        assert text == path.read_text(), f"{path.name}: regenerate it"


def test_the_readme_tables_are_the_leaderboards_and_the_run_table(capsys):
    """issue 43 #6: README's result tables are the committed leaderboards' (less the
    settings markers, whose notes are in the leaderboard), and the quick start's the table
    `ganbench run` prints for run 0006; the values are the results' own."""
    from ganbench.publishing import tables

    readme = (REPO / "README.md").read_text()
    marked = re.findall(r"<!-- (results/leaderboard/\S+): (\S+) / (\S+) -->\n((?:\|.*\n)+)", readme)
    assert {m[0] for m in marked} == {
        "results/leaderboard/mnist.md",
        "results/leaderboard/fashion-mnist.md",
    }
    for file, section, heading, table in marked:
        board = (REPO / file).read_text()
        part = board.split(f"## {section}:")[1].split(f"### {heading}\n\n")[1].split("\n\n")[0]
        assert _cells(table.splitlines()) == _cells(part.splitlines()), file
    result = json.loads((committed_run(6) / "result.json").read_text())
    printed = tables.render(result["results"], "terminal")
    assert f"<!-- run 0006's table as `ganbench run` prints it -->\n```\n{printed}\n```" in readme


@pytest.mark.parametrize(
    ("mean", "spread", "text"),
    [
        (23.743921, 1.532250, "23.7 ± 1.5"),  # the examples, from mnist.csv
        (139.994349, 6.905204, "140 ± 7"),
        (254.839425, 34.437400, "255 ± 34"),
        (0.0101, 0.003464, "0.0101 ± 0.0035"),
        (7.048516, 0.036362, "7.05 ± 0.04"),
        (1052.345844, 189.230368, "1,050 ± 190"),
        (17.0, 3.0, "17.0 ± 3.0"),
        (5.0, 0.354, "5.00 ± 0.35"),  # 354: two digits
        (5.0, 0.355, "5.0 ± 0.4"),  # 355: one
        (5.0, 0.949, "5.0 ± 0.9"),
        (5.0, 0.95, "5.0 ± 1.0"),  # 950-999 round up to the next power: two digits there
        (5.0, 9.996, "5 ± 10"),
        (-0.0004, 0.02, "0.000 ± 0.020"),  # no "-0.000"
        (25.0, 0.0, "25 ± 0"),  # seeds that agree: the mean's own digits
        (25.0, None, "25"),
    ],
)
def test_a_value_is_rounded_to_what_its_spread_supports(mean, spread, text):
    """issue 43 #2: `23.744 ± 1.532` and `140.0 ± 6.905` said more than three seeds know.
    The Particle Data Group's rule: the spread's first three digits 100-354 keep two
    significant digits, 355-949 one, 950-999 round up to two of the next power; the mean
    is rounded to the same place."""
    from ganbench.formatting import measured

    assert measured(mean, spread) == text


def test_every_built_in_metric_names_its_keys_for_readers():
    """A key with an underscore is a program's name; each built-in metric declares the
    name a reader knows (issue 43 #2), and its auxiliary keys are among its keys."""
    from ganbench.builtin_components import COMPONENTS

    for component in COMPONENTS["metric"]:
        meta = component["meta"]
        names = meta.get("names", {})
        unnamed = [k for k in meta["keys"] if "_" in k and k not in names]
        assert not unnamed, (component["name"], unnamed)
        assert set(names) <= set(meta["keys"]), component["name"]
        assert set(meta.get("auxiliary", ())) <= set(meta["keys"]), component["name"]


@pytest.mark.parametrize(
    ("key", "m", "name"),
    [
        ("fid", {"metric": "fid", "unit": ""}, "FID"),
        ("fid_mnist", {"metric": "fid-mnist", "unit": ""}, "FID, MNIST classifier"),
        (
            "modes_covered",
            {"metric": "mode-coverage", "unit": "modes", "settings": {"num_modes": 25}},
            "modes (of 25)",
        ),
        ("modes_covered", {"metric": "mode-coverage", "unit": "modes"}, "modes"),  # older
        (
            "stacked_modes",
            {"metric": "stacked-mnist-modes", "unit": "modes", "settings": {"modes": "{0}"}},
            "modes",  # a format spec on a string from a result file: left out, no error
        ),
        ("kl_to_uniform", {"metric": "mode-coverage", "unit": "nats"}, "KL to uniform (nats)"),
        (
            "high_quality_fraction",
            {"metric": "mode-coverage", "unit": "fraction"},
            "high-quality share",
        ),
        (
            "samples_per_second",
            {"metric": "throughput", "unit": "samples/s"},
            "throughput (samples/s)",
        ),
        ("my_score", {"metric": "mine:score", "unit": ""}, "my_score"),  # a user's: its key
    ],
)
def test_headers_are_the_names_readers_know(key, m, name):
    from ganbench.publishing.tables import auxiliary, display_name

    assert display_name(key, m) == name
    assert auxiliary("mnist_score_std", {"metric": "is-mnist"})
    assert not auxiliary("mnist_score", {"metric": "is-mnist"})


def test_auxiliary_keys_are_shown_when_asked(runs, capsys):
    score = metric(7.0, std=0.1, higher=True, settings={"splits": 10}, name="is-mnist")
    spread = metric(0.08, std=0.01, settings={"splits": 10}, name="is-mnist")
    write_run(runs, {"mlp-gan": {"mnist": {"mnist_score": score, "mnist_score_std": spread}}})
    assert board(runs, "md") == 0
    out = capsys.readouterr().out
    assert "MNIST score ↑" in out and "std over splits" not in out
    assert board(runs, "md", "--all-keys") == 0
    assert "MNIST score, std over splits ↓" in capsys.readouterr().out
    assert board(runs, "csv") == 0
    assert ",mnist_score_std," in capsys.readouterr().out  # CSV: every key
