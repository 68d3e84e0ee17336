"""Published references: the verdict rule against closed forms and scipy's Welch test,
their validation in suite files, and where verdicts appear (terminal, table.md, report,
leaderboard, exit code)."""

from __future__ import annotations

import contextlib
import io
import json
import math
import re
import shutil
from pathlib import Path

import pytest
from scipy import stats

from ganbench.cli import main
from ganbench.results.references import RULE, published_std, rejudge, verdict, welch
from ganbench.suite import Budget, Reference, load


def results(values: list[float]) -> dict:
    mean = sum(values) / len(values)
    std = (
        math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
        if len(values) > 1
        else 0.0
    )
    return {"gan": {"grid-25": {"modes_covered": {"mean": mean, "std": std, "n": len(values)}}}}


def ref(**kw) -> Reference:
    return Reference("gan", "grid-25", "modes_covered", source="Paper, Table 1", **kw)


def test_welch_matches_scipy_on_two_samples():
    a, b = [17.0, 18.0, 16.5, 19.0], [23.0, 24.5, 22.0, 24.0, 23.5]
    t, df, p = welch(stats.tmean(a), stats.tvar(a), len(a), stats.tmean(b), stats.tvar(b), len(b))
    expected = stats.ttest_ind(a, b, equal_var=False)
    assert t == pytest.approx(expected.statistic, rel=1e-12)
    assert p == pytest.approx(expected.pvalue, rel=1e-9)
    assert df == pytest.approx(expected.df, rel=1e-12)


def test_equal_means_reproduce():
    v = verdict(ref(mean=17.3, std=0.8, n=10), results([16.5, 17.3, 18.1]))
    assert v.reproduced is True and v.status == "REPRODUCED"
    assert "t = 0.00" in v.statistic


def test_means_ten_standard_errors_apart_differ():
    # ours: mean 20, std 1, n = 10 -> s.e. 0.316; published 10 s.e. of the pair away
    ours = [20 + d for d in (-1.5, -1, -0.5, 0, 0, 0, 0, 0.5, 1, 1.5)]
    se_ours = stats.tstd(ours) / math.sqrt(10)
    published_sem = se_ours  # same spread on both sides
    gap = 10 * math.sqrt(se_ours**2 + published_sem**2)
    v = verdict(ref(mean=20 - gap, sem=published_sem, n=10), results(ours))
    assert v.reproduced is False and v.status == "DIFFERS"
    assert "t = 10.00" in v.statistic


def test_sem_is_converted_to_std_with_n():
    assert published_std(ref(mean=1, sem=0.5, n=16)) == pytest.approx(2.0)
    assert published_std(ref(mean=1, std=0.5, n=16)) == 0.5
    assert published_std(ref(mean=1, tolerance=1.0)) is None


def test_zero_spread_on_both_sides():
    assert verdict(ref(mean=8, sem=0.0, n=10), results([8.0, 8.0])).reproduced is True
    v = verdict(ref(mean=8, sem=0.0, n=10), results([7.0, 7.0]))
    assert v.reproduced is False and "t = -inf" in v.statistic


def test_one_seed_of_ours_is_judged_by_the_published_spread():
    """n = 1: our variance counts as 0; t = diff / published s.e., df = n_pub - 1."""
    v = verdict(ref(mean=10.0, std=1.0, n=4), results([11.0]))
    t = 1.0 / (1.0 / math.sqrt(4))
    assert f"t = {t:.2f}, df = 3.0" in v.statistic
    assert v.reproduced is bool(2 * stats.t.sf(t, 3) >= 0.01)


@pytest.mark.parametrize(
    ("tolerance", "ours", "reproduced"),
    [(0.5, [3.6], True), (0.5, [3.9], False), ("10%", [3.3 * 1.09], True), ("10%", [2.9], False)],
)
def test_tolerance_rule_without_published_spread(tolerance, ours, reproduced):
    v = verdict(ref(mean=3.3, tolerance=tolerance), results(ours))
    assert v.reproduced is reproduced
    assert ("<=" if reproduced else ">") in v.statistic


def test_a_published_fid_is_compared_only_with_the_papers_preprocessing():
    """A reference that names its paper's preprocessing: a value measured with another
    (absent means ttur) is NOT COMPARABLE and the line says what to set; measured alike,
    the usual rule applies."""
    published = Reference(
        "dcgan", "cifar10", "fid", mean=30.0, sem=0.5, n=5, source="P", preprocess="pytorch-fid"
    )
    measured = {"mean": 30.2, "std": 1.0, "n": 3, "settings": {"extractor": "inception"}}
    v = verdict(published, {"dcgan": {"cifar10": {"fid": measured}}})
    assert v.status == "NOT COMPARABLE" and v.reproduced is None
    assert 'set preprocess = "pytorch-fid" on the metric' in v.statistic
    measured["settings"]["preprocess"] = "pytorch-fid"
    assert verdict(published, {"dcgan": {"cifar10": {"fid": measured}}}).status == "REPRODUCED"


def test_few_noisy_seeds_far_from_the_paper_are_inconclusive_not_reproduced():
    """PacGAN's GAN high-quality fraction 0.948 ± 0.007 (s.e., n = 10: std 0.022); three
    seeds at 0.30, 0.48, 0.64 (mean 0.474, std 0.17) are not significantly different at
    1 % (Welch df 2, p 0.04) but 21 published stds away: INCONCLUSIVE. Within 3 stds the
    same noisy seeds reproduce."""
    published = ref(mean=0.948, sem=0.007, n=10)
    v = verdict(published, results([0.30, 0.48, 0.64]))
    assert v.status == "INCONCLUSIVE" and v.reproduced is None
    assert "p = 0.04" in v.statistic and "21.4 of the paper's" in v.statistic
    near = verdict(ref(mean=0.50, sem=0.007, n=10), results([0.30, 0.48, 0.64]))
    assert near.status == "REPRODUCED"


def test_a_paper_whose_protocol_differs_is_shown_never_judged():
    """issue 32: Lucic et al.'s MNIST FID is the best of a hyperparameter search with
    another architecture: equal numbers would not be a reproduction, nor far ones a
    difference. The verdict says NOT COMPARABLE and why; a spread needs no n here."""
    differs = "InfoGAN architecture, best of a search"
    for ours in ([6.8, 6.8], [60.0, 70.0]):
        v = verdict(ref(mean=6.8, std=0.5, protocol_differs=differs), results(ours))
        assert v.status == "NOT COMPARABLE" and v.reproduced is None
        assert v.statistic == f"the paper's protocol differs: {differs}"
    assert v.published() == "6.8 ± 0.5, Paper, Table 1"


def test_a_smoke_value_from_a_sample_cap_is_not_compared():
    """A value measured at a budget's eval_samples cap is not the paper's measurement:
    NOT COMPARABLE, whatever the numbers (here they are equal)."""
    measured = {
        "mean": 17.3,
        "std": 0.8,
        "n": 2,
        "conditions": {"0": {"sample_cap": 2600}, "1": {"sample_cap": 2600}},
    }
    v = verdict(ref(mean=17.3, std=0.8, n=10), {"gan": {"grid-25": {"modes_covered": measured}}})
    assert v.status == "NOT COMPARABLE" and "2600 samples" in v.statistic


def budget(steps: int, batch_size: int = 100) -> Budget:
    return Budget(steps, batch_size, (0, 1, 2))


@pytest.mark.parametrize(
    ("trained", "reason"),
    [
        (budget(10_000), "trained 10,000 of the paper's 400,000 steps (2.5 %)"),
        (budget(20_000), "trained 20,000 of the paper's 400,000 steps (5 %)"),
        (budget(300), "trained 300 of the paper's 400,000 steps (0.075 %)"),
        (budget(800_000), "trained 800,000 steps, more than the paper's 400,000 (200 %)"),
        (budget(400_000, 64), "at batch 64, the paper's 100"),
        (
            budget(200_000, 64),
            "trained 200,000 of the paper's 400,000 steps (50 %); at batch 64, the paper's 100",
        ),
    ],
)
def test_a_run_of_another_budget_than_the_papers_is_not_compared(trained, reason):
    """issue 43 #1: pacgan-mog's CPU budget (2.5 % of the paper's steps) was judged
    REPRODUCED. Equal numbers trained for less are a trend, not a reproduction: NOT
    COMPARABLE, saying how much shorter; our value still stands beside the paper's."""
    v = verdict(
        ref(mean=17.3, sem=0.8, n=10), results([17.0, 17.3, 17.6]), trained, budget(400_000)
    )
    assert (v.status, v.statistic) == ("NOT COMPARABLE", reason)
    assert v.ours_mean == pytest.approx(17.3) and v.reproduced is None
    recorded = v.to_dict()
    assert recorded["rule"] == RULE and recorded["published"]["steps"] == 400_000


def test_the_papers_budget_with_other_seeds_is_judged():
    """The seeds are the spread Welch weighs, not the protocol: a run of the paper's steps
    and batch size on 3 seeds against its 10 runs is judged."""
    v = verdict(
        ref(mean=17.3, sem=0.8, n=10), results([17.0, 17.3, 17.6]), budget(400_000), budget(400_000)
    )
    assert v.status == "REPRODUCED"


def test_a_verdict_of_the_older_rule_is_judged_again_on_the_numbers_it_recorded():
    """issue 43 #1: committed runs recorded REPRODUCED at the CPU budget under rule 1.
    With the suite file, the paper's budget is its [budget]; without it (results outlive
    their suite files), a run of a named budget is not the [budget] every rule-1
    reference was measured under. A verdict of today's rule is kept as recorded."""
    measured = results([17.0, 17.3, 17.6])["gan"]["grid-25"]["modes_covered"]
    old = verdict(ref(mean=17.3, sem=0.8, n=10), results([17.0, 17.3, 17.6])).to_dict()
    old.pop("rule")
    assert old["verdict"] == "REPRODUCED"
    again = rejudge(old, measured, budget(10_000), "budgets.cpu", budget(400_000))
    assert again["verdict"] == "NOT COMPARABLE" and again["rule"] == RULE
    assert again["statistic"] == "trained 10,000 of the paper's 400,000 steps (2.5 %)"
    gone = rejudge(old, measured, budget(10_000), "budgets.cpu", None)
    assert gone["verdict"] == "NOT COMPARABLE"
    assert gone["statistic"] == (
        "trained under [budgets.cpu] (10,000 steps), not the suite's [budget] that the "
        "paper's number is for"
    )
    assert rejudge(old, measured, budget(400_000), None, None)["verdict"] == "REPRODUCED"
    kept = {**again, "verdict": "DIFFERS"}
    assert rejudge(kept, measured, budget(400_000), None, budget(400_000)) is kept


def test_the_committed_pacgan_leaderboard_claims_nothing_at_the_cpu_budgets(capsys):
    """issue 43, done when: results/leaderboard/pacgan-mog.md shows no REPRODUCED, DIFFERS
    or INCONCLUSIVE in its budgets.cpu and budgets.trend sections, and says why."""
    repo = Path(__file__).resolve().parents[1]
    assert main(["leaderboard", str(repo / "results"), "--suite", "pacgan-mog"]) == 0
    out = capsys.readouterr().out
    committed = (repo / "results" / "leaderboard" / "pacgan-mog.md").read_text()
    for board in (out, committed):
        sections = re.split(r"^## ", board, flags=re.M)
        reduced = [s for s in sections if s.startswith(("budgets.cpu", "budgets.trend"))]
        assert len(reduced) >= 2
        for section in reduced:
            assert not re.search(r"REPRODUCED|DIFFERS|INCONCLUSIVE", section), section
        assert "trained 10,000 of the paper's 400,000 steps (2.5 %)" in board
        assert "trained 20,000 of the paper's 400,000 steps (5 %)" in board


def test_the_preprocessing_names_are_the_inceptions_own_in_every_place():
    """issue 42 #3: written out in suite.py, registry.py, cli/common.py and protocol.py
    beside features/inception.py; now the extractor declares them and the others ask."""
    from ganbench.cli import build_parser
    from ganbench.features.inception import PREPROCESSING
    from ganbench.registry import EXTRACTORS, METRICS, implied_settings, preprocessings

    assert preprocessings() == tuple(PREPROCESSING) == ("ttur", "pytorch-fid", "clean")
    assert EXTRACTORS.get("inception").choices()["preprocess"] == preprocessings()
    assert METRICS.get("fid").choices()["preprocess"] == preprocessings()
    assert implied_settings() == {"preprocess": ("inception", "ttur")}
    fid = next(a for a in build_parser()._actions if a.dest == "command").choices["fid"]
    (option,) = [a for a in fid._actions if a.dest == "preprocess"]
    assert tuple(option.choices) == preprocessings()


def test_missing_value_has_no_verdict():
    v = verdict(ref(mean=3.3, tolerance=1.0), {})
    assert v.reproduced is None and v.status == "NO VALUE"


SUITE = """
name = "refs"
version = 1
[[datasets]]
name = "grid-25"
[[models]]
name = "mlp-gan"
label = "gan"
hidden = 16
[[models]]
name = "mlp-gan"
label = "pacgan2"
hidden = 16
packing = 2
[[metrics]]
name = "mode-coverage"
samples = 200
[budget]
steps = 20
batch_size = 32
seeds = [0, 1]
[budgets.tiny]
steps = 10
seeds = [3]
[training]
ensemble = true
[[references]]
key = "gan/grid-25/modes_covered"
mean = 0.0
std = 0.0
n = 10
source = "Nobody 2030, Table 9"
[[references]]
key = "pacgan2/grid-25/modes_covered"
mean = 25
tolerance = 0.5
source = "Nobody 2030, Table 9"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "suite.toml"
    path.write_text(text)
    return path


def test_suite_references_labels_and_budgets_load(tmp_path):
    suite = load(write(tmp_path, SUITE))
    assert [m.label for m in suite.models] == ["gan", "pacgan2"]
    assert [r.target for r in suite.references] == [
        "gan/grid-25/modes_covered",
        "pacgan2/grid-25/modes_covered",
    ]
    assert suite.budget_for(False, "tiny").seeds == (3,)
    assert suite.budget_for(False, "tiny").batch_size == 32
    assert [suite.budget_of(r).steps for r in suite.references] == [20, 20]


def test_a_reference_may_name_the_budget_it_was_measured_under(tmp_path):
    """Absent: the suite's [budget] (old suites keep their meaning)."""
    text = SUITE.replace(
        'source = "Nobody 2030, Table 9"\n[[references]]',
        'source = "Nobody 2030, Table 9"\nbudget = "tiny"\n[[references]]',
        1,
    )
    suite = load(write(tmp_path, text))
    assert [r.budget for r in suite.references] == ["tiny", None]
    assert [suite.budget_of(r).steps for r in suite.references] == [10, 20]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("std = 0.0\nn = 10\n", ""), "the paper's spread is missing"),
        (("n = 10\n", ""), "references[0].n: missing: a std or sem needs the number of runs"),
        (('source = "Nobody 2030, Table 9"', ""), "references[0].source: missing"),
        (("std = 0.0", "std = 0.0\nsem = 1.0"), "give std or sem, not both"),
        (("std = 0.0", "std = -1.0"), "references[0].std: must be a finite number >= 0.0"),
        (("tolerance = 0.5", 'tolerance = "ten"'), 'a percentage like "10%"'),
        (('key = "gan/grid-25', 'key = "gam/grid-25'), 'did you mean "gan"'),
        (('label = "pacgan2"', 'label = "gan"'), "gan listed more than once; give each entry"),
        (('label = "pacgan2"', 'label = "../x"'), "models[1].label: '../x': use 1-64 letters"),
        (("packing = 2", 'loss = "wgan"'), "models[1].loss: 'wgan' is not one of ns, minimax"),
        (("[budgets.tiny]", "[budgets.quick]"), "budgets.quick: use letters"),
        (('name = "mode-coverage"', 'name = "fid-mnist"'), "metrics"),
        # issue 23 #11: verdicts that could only ever be one thing
        (("tolerance = 0.5", 'tolerance = "inf%"'), "tolerance: expected a finite number"),
        (("tolerance = 0.5", 'tolerance = "nan%"'), "tolerance: expected a finite number"),
        (("std = 0.0\nn = 10", "std = 5.0\nn = 1"), "references[0].n: 1 run has no spread"),
        (("n = 10\n", 'n = 10\npreprocess = "tf"\n'), "references[0].preprocess: 'tf': the"),
        # issue 34 #9: a reference that could only be NOT COMPARABLE, telling the user to
        # set a key the metric does not have
        (
            ("n = 10\n", 'n = 10\npreprocess = "clean"\n'),
            "references[0].preprocess: modes_covered is not measured through the Inception "
            "network, so it has no preprocessing to compare",
        ),
        (("n = 10\n", "n = 10\nprotocol_differs = 3\n"), "references[0].protocol_differs"),
        (
            ("n = 10\n", 'n = 10\nbudget = "cpu"\n'),
            "references[0].budget: 'cpu' is not a [budgets.NAME] of this suite; valid: tiny "
            "(leave it out for the suite's [budget])",
        ),
        (("n = 10\n", "n = 10\nbudget = 3\n"), "references[0].budget: expected str"),
    ],
)
def test_bad_references_and_labels_name_the_key(tmp_path, capsys, change, message):
    path = write(tmp_path, SUITE.replace(*change, 1))
    assert main(["validate", str(path)]) == 2
    assert message in capsys.readouterr().err


def test_ensemble_needs_a_stackable_model(tmp_path, capsys):
    text = """
name = "images"
version = 1
[[datasets]]
name = "mnist"
[[models]]
name = "dcgan"
[[metrics]]
name = "throughput"
[budget]
steps = 20
batch_size = 32
seeds = [0, 1]
[training]
ensemble = true
"""
    assert main(["validate", str(write(tmp_path, text))]) == 2
    assert "training.ensemble: model 'dcgan' cannot train as an ensemble" in capsys.readouterr().err


@pytest.fixture(scope="module")
def ran_once(tmp_path_factory: pytest.TempPathFactory):
    """A tiny run of SUITE (seconds of training), made once for the tests below."""
    workdir = tmp_path_factory.mktemp("refs-run")
    folder = workdir / "suites" / "refs"
    folder.mkdir(parents=True)
    (folder / "suite.toml").write_text(SUITE)
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(out):
        patch.chdir(workdir)
        code = main(["run", str(folder), "--only", "*/grid-25"])
    return code, out.getvalue(), workdir


@pytest.fixture
def ran(ran_once, tmp_path, monkeypatch):
    """That run's verdicts on the terminal, and a copy of its folder to work in (in
    result.json, table.md, report): what one test adds, the next does not see."""
    code, out, made = ran_once
    workdir = tmp_path / "copy"
    shutil.copytree(made, workdir)
    monkeypatch.chdir(workdir)
    return code, out, workdir


@pytest.mark.e2e  # trains a whole suite: the full tier
def test_run_prints_verdicts_and_keeps_exit_0_by_default(ran):
    code, out, workdir = ran
    assert code == 0
    assert "REPRODUCED gan/grid-25/modes_covered" not in out or "DIFFERS" in out
    lines = [line for line in out.splitlines() if "grid-25/modes_covered" in line]
    assert len(lines) == 2 and all(line.split()[0] in ("REPRODUCED", "DIFFERS") for line in lines)
    # pacgan2 cannot cover 25 +- 0.5 modes in 20 steps: a DIFFERS, counted in the summary
    assert any(line.startswith("DIFFERS pacgan2/grid-25") for line in lines)
    assert "differ in" in out and "no value" not in out
    (run_dir,) = list((workdir / "results" / "runs").glob("*/*"))
    result = json.loads((run_dir / "result.json").read_text())
    assert [v["target"] for v in result["references"]] == [
        "gan/grid-25/modes_covered",
        "pacgan2/grid-25/modes_covered",
    ]
    assert "## Published references" in (run_dir / "table.md").read_text()
    assert main(["report", str(run_dir)]) == 0
    page = (run_dir / "report.html").read_text()
    assert 'id="references"' in page and "Nobody 2030, Table 9" in page


@pytest.mark.e2e  # trains a whole suite: the full tier
def test_require_references_turns_differs_into_exit_1(ran, capsys):
    assert main(["run", "suites/refs", "--require-references", "--budget", "tiny"]) == 1
    # issue 43 #5: a reduced-budget run gives NOT COMPARABLE with the percentage
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if "grid-25/modes_covered" in line]
    assert len(lines) == 2
    for line in lines:
        assert line.startswith("NOT COMPARABLE ")
        assert line.endswith("(trained 10 of the paper's 20 steps (50 %))")


def test_leaderboard_shows_the_published_row_beside_ours(ran, capsys):
    assert main(["leaderboard", "results", "--suite", "refs", "--format", "md"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("|") and "(published)" in line]
    assert sorted(r.split("|")[1].strip() for r in rows) == [
        "gan (published)",
        "pacgan2 (published)",
    ]
    # issue 33: the verdict is a word in the cell, the source in the row's last column
    for row in rows:
        cells = [c.strip() for c in row.split("|")[2:-1]]
        assert cells[-1] == "Nobody 2030, Table 9"
        assert any(
            re.search(r" · (REPRODUCED|DIFFERS|INCONCLUSIVE|NOT COMPARABLE)$", c) for c in cells
        )


def test_only_leaves_the_references_of_pairs_it_did_not_run(workdir, capsys):
    folder = workdir / "suites" / "refs2"
    folder.mkdir(parents=True)
    (folder / "suite.toml").write_text(SUITE.replace('name = "refs"', 'name = "refs2"'))
    assert main(["run", str(folder), "--only", "gan/*"]) == 0
    out = capsys.readouterr().out
    assert "gan/grid-25/modes_covered" in out and "pacgan2/grid-25" not in out
    assert "NO VALUE" not in out


def test_a_reference_added_after_the_run_is_judged_by_the_leaderboard(ran, capsys):
    """issue 32: a literature row added to a suite file after its run was made (run 0011
    of suites/mnist predates its Lucic et al. row) shows on the leaderboard with the
    verdict a run of today's suite would record, and a NOT COMPARABLE says why."""
    toml = Path("suites/refs/suite.toml")
    toml.write_text(
        toml.read_text()
        + '\n[[references]]\nkey = "gan/grid-25/kl_to_uniform"\nmean = 0.3\nstd = 0.1\n'
        'source = "Later 2031, Table 1"\nprotocol_differs = "their MLP is wider"\n'
    )
    assert main(["leaderboard", "results", "--suite", "refs", "--format", "md"]) == 0
    out = capsys.readouterr().out
    (row,) = [line for line in out.splitlines() if "Later 2031, Table 1" in line]
    assert "0.3 ± 0.1 (std) · NOT COMPARABLE" in row
    why = "the paper's protocol differs: their MLP is wider"
    assert f"budget: NOT COMPARABLE (gan; KL to uniform on grid-25): {why}" in out
