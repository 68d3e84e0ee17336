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


def test_ray_resources_take_whole_and_fractional_gpus(tmp_path):
    (tmp_path / "suite.toml").write_text(VALID + "[training]\njob_cpus = 2\njob_gpus = 1\n")
    assert (load(tmp_path).training.job_cpus, load(tmp_path).training.job_gpus) == (2, 1.0)
    (tmp_path / "suite.toml").write_text(VALID + "[training]\njob_gpus = 0.5\n")
    assert load(tmp_path).training.job_gpus == 0.5


def test_every_repo_suite_is_valid():
    for path in sorted(Path(__file__).parents[1].glob("suites/*/suite.toml")):
        assert load(path).name == path.parent.name


def test_every_numeric_parameter_of_a_built_in_component_has_a_valid_range():
    """issue 14 #6: a parameter without a declared range would accept nonsense silently."""
    from ganbench.registry import BUILTIN_PACKAGES, DATASETS, EXTRACTORS, METRICS, MODELS

    for registry in (MODELS, DATASETS, METRICS, EXTRACTORS):
        for entry in registry:
            if entry.factory.__module__.split(".")[0] not in BUILTIN_PACKAGES:
                continue  # a user's component that an earlier test registered
            choices = entry.choices()
            for name, default in entry.parameters().items():
                if isinstance(default, (int, float, tuple)) and not isinstance(default, bool):
                    assert name in choices, f"{registry.kind} {entry.name}: {name} has no range"
                    if not isinstance(default, tuple) or default:
                        assert default in choices[name], f"{entry.name}.{name} default invalid"


def test_the_built_in_components_file_is_what_the_modules_register():
    """ls and validate read builtin_components.py instead of importing torch: it must say
    what the code says."""
    from ganbench.builtin_components import COMPONENTS
    from ganbench.registry import builtin_components

    assert builtin_components() == COMPONENTS, "regenerate it: python -m ganbench.registry"


def test_the_generator_writes_the_committed_file_byte_for_byte():
    """issue 42 #5: after `python -m ganbench.registry` an 871-line diff remained until
    `ruff format` ran, and three hunks stayed because sets came out in random order. The
    generator writes it formatted, sets sorted: the committed file is its output exactly."""
    from ganbench import registry

    path = Path(registry.__file__).with_name("builtin_components.py")
    assert registry.builtin_components_source(path) == path.read_text()
    assert registry.literal({"b", "a", "c"}) == "{'a', 'b', 'c'}"
    assert registry.literal(frozenset()) == "set()" and registry.literal(("x",)) == "('x',)"


def test_the_procedures_losses_are_the_training_loops():
    from ganbench.options import LOSS_NAMES
    from ganbench.training.losses import LOSSES

    assert tuple(LOSSES) == LOSS_NAMES


def test_a_users_parameter_is_not_held_to_a_built_in_range_of_the_same_name():
    from ganbench.registry import Entry

    def make(data, *, channels: int = 4, n_critic: int = 1):
        """A user's factory whose `channels` means something else."""

    make.__module__ = "mymodels"
    choices = Entry("mymodels:make", make, "", {}, {"n_critic": (1, None)}).choices()
    assert "channels" not in choices and 0 not in choices["n_critic"]


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
    (
        VALID.replace('">= 1"', '"at least 1"'),
        "expected 'OP NUMBER' (a finite number) with OP one of >= <= > < ==",
    ),
    # issue 14 #6: values out of their range stop before any training
    (VALID.replace('">= 1"', '">= nan"'), "got '>= nan'"),
    (
        VALID.replace("hidden = 64", "hidden = -3"),
        "models[0].hidden: -3 is out of range; valid: [1, inf)",
    ),
    (
        VALID.replace("hidden = 64", "beta1 = 2.0"),
        "models[0].beta1: 2.0 is out of range; valid: [0, 1)",
    ),
    (VALID.replace("hidden = 64", "lr = -1"), "models[0].lr: -1 is out of range; valid: (0, inf)"),
    (VALID.replace("hidden = 64", "latent_dim = 0"), "models[0].latent_dim: 0 is out of range"),
    (VALID.replace("hidden = 64", "depth = -1"), "models[0].depth: -1 is out of range"),
    (VALID.replace("hidden = 64", "g_widths = [64, 0]"), "models[0].g_widths: [64, 0] is out of"),
    (
        VALID.replace("hidden = 64", "ema = 1.0"),
        "models[0].ema: 1.0 is out of range; valid: [0, 1)",
    ),
    (
        VALID.replace('name = "ring-8"', 'name = "ring-8"\nstd = -0.1'),
        "datasets[0].std: -0.1 is out of range; valid: (0, inf)",
    ),
    (
        VALID.replace('name = "ring-8"', 'name = "ring-8"\nradius = 0'),
        "datasets[0].radius: 0 is out",
    ),
    (
        VALID.replace('name = "mode-coverage"', 'name = "mode-coverage"\nmin_samples_per_mode = 0'),
        "metrics[0].min_samples_per_mode: 0 is out of range; valid: [1, inf)",
    ),
    (
        VALID.replace('name = "mode-coverage"', 'name = "mode-coverage"\nthreshold_std = -1'),
        "metrics[0].threshold_std: -1 is out of range",
    ),
    (
        VALID.replace('name = "mode-coverage"', 'name = "mode-coverage"\nsamples = 0'),
        "metrics[0].samples: 0 is out of range; valid: [2, 10000000]",
    ),
    (
        VALID.replace("seeds = [0, 1]", "seeds = [0, 12345678901234567890]"),
        "budget.seeds[1]: 12345678901234567890 is out of range; valid: [0, 2147483647]",
    ),
    (
        VALID.replace("[quick]\nsteps = 2", "[quick]\neval_samples = 1"),
        "quick.eval_samples: must be",
    ),
    (VALID + '[training]\ncompile_mode = "fast"\n', "training.compile_mode: 'fast' is not one of"),
    # issue 12: metrics during training
    (VALID + "[training]\neval_every = -5\n", "training.eval_every: must be 0"),
    (
        VALID + '[training]\neval_every = 10\neval_metrics = ["fid"]\n',
        "training.eval_metrics: 'fid' is not one of the suite's metrics that measure a "
        "generator (mode-coverage)",
    ),
    (VALID + "[training]\neval_every = 10\neval_metrics = [1]\n", "expected str, got int 1"),
    (
        VALID + "[training]\nsteps_to = {modes_covered = 4}\n",
        "training.steps_to: needs training.eval_every = N",
    ),
    (
        VALID + "[training]\neval_every = 10\nsteps_to = {fid = 4}\n",
        "training.steps_to.fid: not a measurement of the metrics measured during training "
        "(modes_covered, high_quality_fraction, kl_to_uniform)",
    ),
    (
        VALID + '[training]\neval_every = 10\nsteps_to = {modes_covered = "4"}\n',
        "training.steps_to.modes_covered: expected a number",
    ),
    (VALID + "[training]\njob_cpus = 0\n", "training.job_cpus: must be 1 or more"),
    (VALID + "[training]\njob_gpus = 0\n", "training.job_gpus: must be more than 0"),
    (VALID + "[training]\njob_gpus = nan\n", "training.job_gpus: must be more than 0"),
    (VALID + '[training]\njob_gpus = "1"\n', "training.job_gpus: expected float, got str"),
    # issue 14 #5: the name becomes a folder name
    (VALID.replace('name = "t"', 'name = "../../x"'), "name: '../../x': use 1-64 letters"),
    (VALID.replace('name = "t"', 'name = "a/b"'), "name: 'a/b': use 1-64 letters"),
    (VALID.replace('name = "t"', f'name = "{"x" * 300}"'), "use 1-64 letters, digits"),
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


@pytest.mark.parametrize("name", ["../suites/mog", "../../names/x", "mog/../../x"])
def test_a_suite_name_is_a_plain_name(tmp_path, monkeypatch, capsys, name):
    """issue 34 #13: a path that does not exist here was looked up under the packaged
    suites: "../suites/mog" silently became the packaged mog, "../../names/x" left the
    folder."""
    monkeypatch.chdir(tmp_path)
    assert main(["validate", name]) == 2
    assert f"{name}: no suite here" in capsys.readouterr().err
    assert main(["validate", "mog"]) == 0  # a plain name still finds the packaged suite


MNIST_SUITE = """
name = "x"
version = 1
[[datasets]]
name = "mnist"
[[models]]
name = "dcgan"
[[metrics]]
{metric}
[budget]
steps = 1
batch_size = 1
seeds = [0]
"""


@pytest.mark.parametrize(
    ("metric", "message"),
    [
        ('name = "vendi"\nextractor = "nosuch"', "metrics[0].extractor: 'nosuch' is not one of"),
        (
            'name = "fid"\nextractor = "mnist-classifier"\npreprocess = "clean"',
            "metrics[0].preprocess: the mnist-classifier extractor has one preprocessing",
        ),
        (
            'name = "fid-mnist"\nsamples = 3\ninfinity = true',
            "metrics[0].samples: 3 with infinity = true: FID-infinity fits FID at 3 subset "
            "sizes or more, which needs samples >= 4",
        ),
        (
            'name = "class-coverage"\nsamples = 100000000000',
            "metrics[0].samples: 100000000000 is out of range",
        ),
    ],
)
def test_validate_refuses_what_run_would_refuse_after_training(tmp_path, capsys, metric, message):
    """issue 34 #14: validate said ok, then run refused or failed (after training, for
    FID-infinity on 3 samples), each time leaving an empty run folder."""
    path = write(tmp_path, MNIST_SUITE.format(metric=metric))
    assert main(["validate", str(path)]) == 2
    assert message in capsys.readouterr().err


def test_the_least_samples_for_fid_infinity_is_what_its_fit_needs():
    from ganbench.metrics.fid import INFINITY_MIN_SAMPLES, subset_sizes

    assert (
        len(subset_sizes(INFINITY_MIN_SAMPLES)) >= 3 > len(subset_sizes(INFINITY_MIN_SAMPLES - 1))
    )


def test_primary_names_a_metric_of_the_suite(tmp_path, capsys):
    """issue 33: leaderboards rank by the suite's primary metric, a metric or key of it."""
    assert load(write(tmp_path, 'primary = "modes_covered"\n' + VALID)).primary == "modes_covered"
    assert load(write(tmp_path, 'primary = "mode-coverage"\n' + VALID)).primary == "mode-coverage"
    assert main(["validate", str(write(tmp_path, 'primary = "fid"\n' + VALID))]) == 2
    assert "primary: 'fid' is not a metric of this suite" in capsys.readouterr().err
