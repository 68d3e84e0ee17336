"""Suite loading: every error path names the file, the key and the fix, and exits 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from ganbench.cli import main
from ganbench.data.mog import MixtureOfGaussians
from ganbench.errors import GanbenchError
from ganbench.registry import DATASETS
from ganbench.suite import load

VALID = """
name = "t"
version = 1

[[datasets]]
name = "ring-8"

[[models]]
name = "mlp-gan"
hidden = 64

[[metrics]]
name = "mode-coverage"

[budget]
steps = 10
batch_size = 8
seeds = [0, 1]

[quick]
steps = 2

[checks]
"mlp-gan/ring-8/modes_covered" = ">= 1"
"""


# A dataset without modes, to check that metrics refuse datasets they cannot measure.
@DATASETS.register("test-no-modes")
def _no_modes() -> MixtureOfGaussians:
    """A dataset without the 'modes' capability (test only)."""
    raise AssertionError("never built during validation")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "suite.toml"
    path.write_text(text)
    return path


def test_valid_suite_loads_with_quick_overlay(tmp_path):
    suite = load(write(tmp_path, VALID))
    assert (suite.budget.steps, suite.budget.seeds) == (10, (0, 1))
    assert (suite.quick.steps, suite.quick.batch_size, suite.quick.seeds) == (2, 8, (0, 1))
    assert suite.models[0].params == {"hidden": 64}
    assert [c.target for c in suite.checks] == ["mlp-gan/ring-8/modes_covered"]


def test_hash_ignores_comments_but_not_content(tmp_path):
    base = load(write(tmp_path, VALID)).hash
    assert load(write(tmp_path, "# a comment\n" + VALID)).hash == base
    assert load(write(tmp_path, VALID.replace("steps = 10", "steps = 11"))).hash != base


def test_every_repo_suite_is_valid():
    for path in sorted(Path(__file__).parents[1].glob("suites/*/suite.toml")):
        assert load(path).name == path.parent.name


BROKEN = [
    ("name = [", "invalid TOML"),
    ("modles = 1\n" + VALID, 'modles: unknown key (did you mean "models"?)'),
    (
        VALID.replace('name = "mlp-gan"', 'name = "mlp-gn"'),
        "models[0].name: unknown model 'mlp-gn' (did you mean \"mlp-gan\"?); valid models: ",
    ),
    (
        VALID.replace('name = "ring-8"', 'name = "ring8"'),
        "datasets[0].name: unknown dataset 'ring8' (did you mean \"ring-8\"?)",
    ),
    (
        VALID.replace('name = "mode-coverage"', 'name = "mode-coverag"'),
        "metrics[0].name: unknown metric 'mode-coverag' (did you mean \"mode-coverage\"?)",
    ),
    (
        VALID.replace("hidden = 64", "hiden = 64"),
        'models[0].hiden: unknown key (did you mean "hidden"?); valid keys: latent_dim, hidden',
    ),
    (VALID.replace("hidden = 64", 'hidden = "big"'), "models[0].hidden: expected int, got str"),
    (VALID.replace("hidden = 64", "hidden = true"), "models[0].hidden: expected int, got bool"),
    (VALID.replace("steps = 10", 'steps = "many"'), "budget.steps: expected int, got str 'many'"),
    (VALID.replace("steps = 10", "steps = 0"), "budget.steps: must be a positive integer"),
    (VALID.replace("seeds = [0, 1]", "seeds = []"), "budget.seeds: expected a non-empty list"),
    (VALID.replace("seeds = [0, 1]", "seeds = [0, 0]"), "budget.seeds: seeds repeat"),
    (VALID.replace("seeds = [0, 1]", 'seeds = [0, "1"]'), "budget.seeds[1]: expected int"),
    (VALID.replace("batch_size = 8\n", ""), "budget.batch_size: missing"),
    (
        VALID.replace("[quick]\nsteps = 2", "[quick]\nstep = 2"),
        'quick.step: unknown key (did you mean "steps"?)',
    ),
    (VALID.replace("version = 1", ""), "version: missing"),
    (VALID.replace('name = "t"', "name = 3"), "name: expected str, got int"),
    (
        VALID.replace('[[models]]\nname = "mlp-gan"\nhidden = 64', ""),
        "models: expected at least one [[models]] table",
    ),
    (
        VALID.replace('"mlp-gan/ring-8/modes', '"dcgan/ring-8/modes'),
        "checks.\"dcgan/ring-8/modes_covered\": model 'dcgan' is not in this suite",
    ),
    (
        VALID.replace('modes_covered" = ">= 1"', 'modes_coverd" = ">= 1"'),
        "metric 'modes_coverd' is not in this suite (did you mean \"modes_covered\"?)",
    ),
    (VALID.replace('">= 1"', '"at least 1"'), "expected 'OP NUMBER' with OP one of >= <= > < =="),
    (VALID.replace('">= 1"', '">= lots"'), "got '>= lots'"),
    (
        VALID.replace('"mlp-gan/ring-8/modes_covered"', '"mlp-gan/modes_covered"'),
        "expected MODEL/DATASET/METRIC",
    ),
    (
        VALID.replace('name = "ring-8"', 'name = "test-no-modes"').replace(
            '"mlp-gan/ring-8/modes_covered" = ">= 1"', ""
        ),
        "metric 'mode-coverage' needs a dataset with modes, which 'test-no-modes' does not have",
    ),
]


@pytest.mark.parametrize(("text", "message"), BROKEN, ids=[m[:40] for _, m in BROKEN])
def test_broken_suite_is_rejected_with_a_precise_message(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(GanbenchError) as error:
        load(path)
    assert str(error.value).startswith(f"{path}: ")
    assert message in str(error.value)


def test_validate_cli_prints_one_line_and_exits_2(tmp_path, capsys):
    path = write(tmp_path, VALID.replace('name = "mlp-gan"', 'name = "mlp-gn"'))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert 'did you mean "mlp-gan"' in err


def test_validate_cli_accepts_a_good_suite(tmp_path, capsys):
    assert main(["validate", str(write(tmp_path, VALID))]) == 0
    assert "ok — suite 't' v1" in capsys.readouterr().out


def test_missing_suite_path_lists_the_suites_found(workdir, capsys):
    assert main(["run", "suites/nope"]) == 2
    err = capsys.readouterr().err
    assert "suites/nope: no suite here" in err and "suites/mog" in err


def test_bare_suite_name_resolves_under_suites(workdir):
    assert load("mog").name == "mog"
