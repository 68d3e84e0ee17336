"""What makes two results comparable (ganbench/results/protocol.py): every option classified,
absent means default, defaults resolved, definitions versioned, and every committed
result still has the protocol that the code records for its suite today."""

from __future__ import annotations

import copy
import dataclasses
import json
import sys
from pathlib import Path

import pytest
import torch

from ganbench.cli import main
from ganbench.options import TrainingOptions
from ganbench.publishing import leaderboard
from ganbench.registry import MODELS
from ganbench.results import compare, protocol
from ganbench.run.header import run_header
from ganbench.suite import Budget, load
from ganbench.training import train
from tests.helpers import committed, committed_run, image_data

REPO = Path(__file__).resolve().parents[1]

EXAMPLE = REPO / "examples" / "ci-project"
COMMITTED = [
    *committed("results/runs/*/*/result.json"),
    EXAMPLE / "baseline" / "result.json",
]


def read(path: Path) -> dict:
    return json.loads(path.read_text())


def test_every_option_is_classified_with_a_reason():
    assert set(protocol.TRAINING_OPTIONS) == {f.name for f in dataclasses.fields(TrainingOptions)}
    assert set(protocol.BUDGET_OPTIONS) == {f.name for f in dataclasses.fields(Budget)}
    for option in [*protocol.TRAINING_OPTIONS.values(), *protocol.BUDGET_OPTIONS.values()]:
        assert option.kind in (protocol.PROTOCOL, protocol.EXECUTION) and option.reason


def _planned(path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    """The header `ganbench run` would write today for the committed run's suite, budget
    and seeds (nothing trains)."""
    committed = read(path)
    s = committed["suite"]
    root = EXAMPLE if path.is_relative_to(EXAMPLE) else REPO
    monkeypatch.chdir(root)  # a project's own module:function resolves from its folder
    monkeypatch.syspath_prepend(str(root))
    suite = load(root / s["path"])
    seeds = tuple(s["seeds"]) if s.get("seeds") else None
    budget = suite.budget_for(s["quick"], s.get("budget_name"), seeds)
    choice = (s["quick"], s.get("budget_name"), tuple(s.get("only") or ()), seeds)
    commit = {"id": "0" * 40, "dirty": False}
    return run_header(suite, budget, choice, "9999", commit, torch.device("cpu"))


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.parent.name)
def test_committed_results_keep_the_protocol_the_code_records_today(path, monkeypatch):
    """A committed baseline must compare with a fresh run of its suite: the run's
    protocol, each model's and dataset's, and each metric's definition, as recorded
    today. Run 0001 predates mlp-gan's definition 2, and is refused for exactly that."""
    committed, planned = read(path), _planned(path, monkeypatch)
    assert protocol.run_difference(committed, planned) == []
    differences = [
        difference
        for kind in ("models", "datasets")
        for label in planned["suite"]["components"][kind]
        for difference in protocol.component_difference(committed, planned, kind, label)
    ]
    if path.parent.name.startswith("0001_"):
        assert len(differences) == 1
        assert differences[0].startswith("model mlp-gan: definition 1 vs 2; definition 2 since")
    else:
        assert differences == []
    for metric in planned["suite"]["definitions"]["metrics"]:
        was, now = (protocol.metric_definition(r, metric) for r in (committed, planned))
        # A metric whose definition changed since (a line in DEFINITION_CHANGES) refuses
        # by that line; every other is compared.
        assert was == now or protocol.change_line("metrics", metric, now) is not None


def _baseline() -> dict:
    return read(EXAMPLE / "baseline" / "result.json")


def test_absent_means_default_and_a_new_option_keeps_old_results_alike(monkeypatch):
    old = _baseline()
    assert "compile_mode" not in old["suite"]["training"]  # the release that broke gates
    new = copy.deepcopy(old)
    new["suite"]["training"] = dataclasses.asdict(TrainingOptions())
    assert protocol.run_difference(old, new) == []
    assert protocol.execution_difference(old, new) == []

    # A release adds an option with a default: results made before it stay alike...
    extended = dataclasses.make_dataclass(
        "TrainingOptions", [("dropout", float, 0.0)], bases=(TrainingOptions,), frozen=True
    )
    monkeypatch.setattr(protocol, "TrainingOptions", extended)
    monkeypatch.setitem(
        protocol.TRAINING_OPTIONS, "dropout", protocol.Option(protocol.PROTOCOL, "a test's")
    )
    new["suite"]["training"] = dataclasses.asdict(extended())
    assert protocol.run_difference(old, new) == []
    # ...and a run that sets it otherwise differs, by name.
    new["suite"]["training"]["dropout"] = 0.5
    assert protocol.run_difference(old, new) == ["training.dropout 0.0 vs 0.5"]


def test_execution_options_are_notes_and_protocol_options_refuse():
    old, new = _baseline(), _baseline()
    new["suite"]["training"] |= {"checkpoint_every": 25, "compile": True, "precision": "tf32"}
    assert protocol.run_difference(old, new) == []
    assert protocol.execution_difference(old, new) == [
        "training.compile False vs True",
        "training.checkpoint_every 0 vs 25",
        "training.precision None vs 'tf32'",
    ]
    rows = compare.compare_results(old, new)
    assert rows and not any(r.refused for r in rows)
    new["suite"]["training"]["precision"] = "bf16"
    assert protocol.run_difference(old, new) == ["training.precision 'fp32' vs 'bf16'"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"precision": "fp8"}, "training.precision 'fp32' vs 'fp8'"),
        ({"precision": None}, "training.precision 'fp32' vs None"),
        ({"n_critic": 5}, "training.n_critic (unknown key) None vs 5"),
    ],
)
def test_options_this_ganbench_does_not_know_are_refused_by_name(change, expected):
    """issue 34 #2: every precision but bf16 compared as fp32, and an unknown key was
    ignored, so a gate compared runs trained otherwise as alike."""
    old, new = _baseline(), _baseline()
    new["suite"]["training"] |= change
    assert protocol.run_difference(old, new) == [expected]
    assert all(r.refused for r in compare.compare_results(old, new))


def _with_component(result: dict, kind: str, label: str, spec: dict) -> dict:
    out = copy.deepcopy(result)
    out["suite"]["components"] = {kind: {label: spec}}
    out["suite"].pop("defaults", None)
    return out


@pytest.mark.parametrize(
    ("kind", "label", "a", "b", "expected"),
    [
        ("models", "gan", {"name": "mlp-gan"}, {"name": "mlp-gan", "hidden": 128}, []),
        ("datasets", "ring-8", {"name": "ring-8"}, {"name": "ring-8", "radius": 2.0}, []),
        ("models", "mlp-gan", {}, {"name": "mlp-gan"}, []),  # the oldest format
        ("models", "gan", {"name": "mlp-gan"}, {"name": "mlp-gan", "loss": "ns"}, []),
        (
            "models",
            "gan",
            {"name": "mlp-gan"},
            {"name": "mlp-gan", "hidden": 256},
            ["model gan hidden 128 vs 256"],
        ),
        (
            "datasets",
            "ring-8",
            {"name": "ring-8", "radius": 1.0},
            {"name": "ring-8"},
            ["dataset ring-8 radius 1.0 vs 2.0"],
        ),
        ("models", "gan", {"name": "mlp-gan"}, {"name": "dcgan"}, ["model gan: mlp-gan vs dcgan"]),
    ],
)
def test_defaults_are_resolved_before_comparing(kind, label, a, b, expected):
    base = read(committed_run(6) / "result.json")  # suites/mog, mlp-gan definition 2
    ra, rb = (_with_component(base, kind, label, spec) for spec in (a, b))
    assert protocol.component_difference(ra, rb, kind, label) == expected


def test_a_users_component_recorded_without_defaults_takes_the_recorded_ones():
    old = _with_component(_baseline(), "models", "tinygan", {"name": "tinygan.model:make"})
    new = copy.deepcopy(old)
    new["suite"]["components"]["models"]["tinygan"]["width"] = 32
    new["suite"]["defaults"] = {"models": {"tinygan": {"latent_dim": 64, "width": 32}}}
    assert protocol.component_difference(old, new, "models", "tinygan") == []
    new["suite"]["components"]["models"]["tinygan"]["width"] = 16
    assert protocol.component_difference(old, new, "models", "tinygan") == [
        "model tinygan width 32 vs 16"
    ]


def test_compare_refuses_across_a_model_definition_by_name(capsys):
    """Runs 1 and 6 of suites/mog: the same suite and budget, before and after the
    stacked-layer MLP; refused for the definition, not for option drift."""
    assert main(["compare", str(committed_run(1)), str(committed_run(6))]) == 0
    out = capsys.readouterr().out
    assert "refused: protocol differs: model mlp-gan: definition 1 vs 2" in out
    assert "969288f" in out and "training." not in out.split("refused:")[1].split("\n")[0]


@pytest.mark.parametrize(
    ("when", "version"),
    [
        ("2026-11-29T10:00:00+09:00", 1),  # 01:00 UTC: before 969288f (02:10 UTC)
        ("2026-11-29T02:00:00-01:00", 2),  # 03:00 UTC: after, though it sorts before as text
        ("2026-11-29T02:10:08", 2),  # no zone: UTC, as ganbench writes
    ],
)
def test_definitions_in_force_compare_instants_not_text(when, version):
    """issue 34 #12: a result dated 10:00+09:00 compared as text after the change, and
    "same" as a run of the other definition."""
    assert protocol.definition("models", "mlp-gan", when) == version


def test_a_metric_definition_change_refuses_with_its_line(monkeypatch):
    change = protocol.Change(
        "metrics", "fid-mnist", 2, "2030-01-01T00:00:00+00:00", "abc1234", "a test's estimator"
    )
    monkeypatch.setattr(protocol, "DEFINITION_CHANGES", (*protocol.DEFINITION_CHANGES, change))
    old, new = _baseline(), _baseline()
    new["suite"]["definitions"] = {"metrics": {"fid-mnist": 2}}
    rows = {r.key: r for r in compare.compare_results(old, new)}
    assert rows["fid_mnist"].refused == (
        "protocol differs: metric fid-mnist: definition 1 vs 2; definition 2 since abc1234 "
        "(2030-01-01): a test's estimator"
    )
    assert rows["precision"].refused is None  # prdc's definition did not change


def test_a_run_records_definitions_and_a_users_declared_one(monkeypatch, tmp_path):
    module = tmp_path / "versioned_gan.py"
    module.write_text(
        "from ganbench.baselines.dcgan import dcgan\n"
        "def make(data, *, width: int = 8):\n    return dcgan(data, width=width)\n"
        "make.ganbench_meta = {'definition': 3}\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "suite.toml").write_text(
        'name = "v"\nversion = 1\n[[datasets]]\nname = "ring-8"\n[[models]]\nname = "mlp-gan"\n'
        '[[models]]\nname = "versioned_gan:make"\nlabel = "mine"\n'
        '[[metrics]]\nname = "mode-coverage"\n[budget]\nsteps = 1\nbatch_size = 1\nseeds = [0]\n'
    )
    recorded = protocol.recorded(load(tmp_path / "suite.toml"))
    assert recorded["definitions"] == {
        "models": {"mlp-gan": 2, "mine": 3},
        "datasets": {"ring-8": 1},
        "metrics": {"mode-coverage": 1},
    }
    assert recorded["defaults"]["models"]["mine"]["width"] == 8
    assert recorded["defaults"]["models"]["mine"]["loss"] == "ns"  # the procedure's
    assert recorded["defaults"]["datasets"]["ring-8"]["radius"] == 2.0


@pytest.mark.parametrize(
    ("meta", "message"),
    [
        ("{'definition': '2'}", "ganbench_meta['definition'] must be a whole number >= 1"),
        ("{'definition': 0}", "ganbench_meta['definition'] must be a whole number >= 1"),
        ("{'capabilities': 'images'}", "ganbench_meta['capabilities'] must be a tuple of names"),
        ("['definition', 2]", "ganbench_meta must be a dict, got list"),
    ],
)
def test_a_users_bad_ganbench_meta_is_refused_when_loaded(
    tmp_path, monkeypatch, capsys, meta, message
):
    """issue 34 #4: {"definition": "2"} was accepted by run, which wrote a result.json that
    ganbench's own loader then refused for ever."""
    (tmp_path / "badmeta_gan.py").write_text(
        "from ganbench.baselines.mlp_gan import mlp_gan\n"
        f"def make(data):\n    return mlp_gan(data)\nmake.ganbench_meta = {meta}\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "badmeta_gan", raising=False)
    (tmp_path / "suite.toml").write_text(
        'name = "v"\nversion = 1\n[[datasets]]\nname = "ring-8"\n'
        '[[models]]\nname = "badmeta_gan:make"\n'
        '[[metrics]]\nname = "mode-coverage"\n[budget]\nsteps = 1\nbatch_size = 1\nseeds = [0]\n'
    )
    assert main(["validate", str(tmp_path / "suite.toml")]) == 2
    assert message in capsys.readouterr().err


def _weights(options: TrainingOptions, tmp_path: Path) -> dict[str, torch.Tensor]:
    data = image_data(1, 28)
    torch.manual_seed(0)
    gan = MODELS.get("dcgan").factory(data, width=8)
    train(
        gan,
        data,
        steps=6,
        batch_size=8,
        device=torch.device("cpu"),
        seed=0,
        options=options,
        checkpoint=tmp_path / f"{options.channels_last}-{options.checkpoint_every}.pt",
    )
    return {k: v.float() for k, v in gan.generator.state_dict().items()}


def test_execution_options_move_values_at_float_rounding_only(tmp_path):
    """checkpoint_every and channels_last are classified as execution: the first leaves
    the weights bit-identical, the second within float32 rounding (6 DCGAN steps)."""
    plain = _weights(TrainingOptions(channels_last=False), tmp_path)
    saved = _weights(TrainingOptions(channels_last=False, checkpoint_every=2), tmp_path)
    assert all(torch.equal(plain[k], saved[k]) for k in plain)
    last = _weights(TrainingOptions(channels_last=True), tmp_path)
    for k in plain:
        torch.testing.assert_close(last[k], plain[k], rtol=1e-4, atol=1e-5)


def _leaderboard_run(runs: Path, number: int, model: str, fid: float, steps: int) -> None:
    result = copy.deepcopy(_baseline())
    result["run"] = f"{number:04d}"
    result["datetime"] = f"2026-12-0{number}T00:00:00+00:00"
    result["suite"]["budget"]["steps"] = steps
    result["results"] = {
        model: {
            "mnist": {
                "fid_mnist": _baseline()["results"]["tinygan"]["mnist"]["fid_mnist"] | {"mean": fid}
            }
        }
    }
    result["references"] = []
    folder = runs / "runs" / "cpu" / f"{number:04d}_abcdef12_2026120{number}_000000_tinygan-gate"
    folder.mkdir(parents=True)
    (folder / "result.json").write_text(json.dumps(result))


def test_a_leaderboard_marks_rows_of_other_protocols_and_ranks_them_apart(tmp_path):
    _leaderboard_run(tmp_path, 1, "a", 300.0, 1500)
    _leaderboard_run(tmp_path, 2, "b", 200.0, 1500)
    alike = leaderboard.render(leaderboard.collect(tmp_path, "tinygan-gate"), "g", "md")
    assert "P2" not in alike and "**200" in alike
    _leaderboard_run(tmp_path, 3, "c", 100.0, 5000)  # trained longer: not a fair row
    text = leaderboard.render(leaderboard.collect(tmp_path, "tinygan-gate"), "g", "md")
    assert "| a (P1)" in text and "| c (P2)" in text
    assert "P2: protocol differs from P1: budget.steps 1500 vs 5000" in text
    assert "**200" in text and "**100" not in text  # best among its own protocol only


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.parent.name)
def test_results_of_earlier_schemas_load_compare_and_appear_in_leaderboards(path, tmp_path):
    """The committed results span the formats ganbench has written (parameters without a
    name, [training] before compile_mode, throughput's timed_steps in its settings): each
    loads, compares with itself without a refusal (but for throughput timed on a busy
    machine, which compare rightly never gates on), and makes a leaderboard."""
    result = read(path)
    rows = compare.compare_results(result, result)
    assert not [r for r in rows if r.refused and "(busy: not comparable)" not in r.refused]
    if not result.get("complete"):
        # a job array's run whose parts are committed as they finish (suites/mnist on a
        # CPU): what it has compares; leaderboards wait for the whole run
        return
    assert rows
    name = f"{result['run']}_{result['commit_info']['id'][:8]}_20260101_000000_{result['suite']['name']}"
    folder = tmp_path / "runs" / "cpu" / name
    folder.mkdir(parents=True)
    (folder / "result.json").write_text(path.read_text())
    include = bool(result["suite"].get("quick") or result["suite"].get("seeds"))
    entries = leaderboard.collect(tmp_path, result["suite"]["name"], include_quick=include)
    text = leaderboard.render(entries, result["suite"]["name"], "md")
    assert all(f"| {model}" in text for model in result["results"])
