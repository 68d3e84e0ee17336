"""The pytest plugin (through pytester) and `ganbench eval` on a tiny hand-built generator."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from ganbench.cli import main

GENERATOR = textwrap.dedent("""
    import math
    import torch
    from torch import nn

    class RingGenerator(nn.Module):
        '''Puts every sample exactly on one of the first k means of ring-8.'''
        latent_dim = 4

        def __init__(self, k):
            super().__init__()
            self.k = k
            self.anchor = nn.Parameter(torch.zeros(1))

        def forward(self, z):
            mode = (z[:, 0].abs() * 1000).long() % self.k
            angle = 2 * math.pi * mode / 8
            return torch.stack([2 * torch.cos(angle), 2 * torch.sin(angle)], 1)

    def make(k=8):
        return RingGenerator(k)
""")

TESTS = GENERATOR + textwrap.dedent("""
    import os

    def test_gate(ganbench_eval, ganbench_baseline):
        k = int(os.environ.get("MODES", "8"))
        r = ganbench_eval(generator=RingGenerator(k), dataset="ring-8", metrics=["mode-coverage"])
        assert r["modes_covered"] >= 3
        if ganbench_baseline is not None:
            assert r["modes_covered"] >= ganbench_baseline["modes_covered"]
""")


def test_plugin_gates_on_quality_and_on_a_stored_baseline(pytester, monkeypatch):
    pytester.makepyfile(test_gan=TESTS)
    monkeypatch.setenv("MODES", "8")
    pytester.runpytest("-p", "no:cacheprovider", "--ganbench-save", "base.json").assert_outcomes(
        passed=1
    )
    assert '"modes_covered"' in (pytester.path / "base.json").read_text()

    monkeypatch.setenv("MODES", "5")  # still >= 3, but worse than the baseline's 8
    result = pytester.runpytest("-p", "no:cacheprovider", "--ganbench-baseline", "base.json")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*assert 5 >= 8*"])

    monkeypatch.setenv("MODES", "2")  # below the absolute gate
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(failed=1)


def test_plugin_reports_bad_metric_names_without_a_traceback(pytester):
    pytester.makepyfile(
        test_bad=GENERATOR
        + textwrap.dedent("""
        def test_bad(ganbench_eval):
            ganbench_eval(generator=RingGenerator(8), dataset="ring-8", metrics=["mode-coverag"])
    """)
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(['*unknown metric*did you mean "mode-coverage"*'])


def test_eval_cli_measures_a_user_generator(tmp_path, monkeypatch, capsys):
    (tmp_path / "mygen.py").write_text(GENERATOR)
    monkeypatch.chdir(tmp_path)
    assert (
        main(
            [
                "eval",
                "--generator",
                "mygen:make()",
                "--dataset",
                "ring-8",
                "--metrics",
                "mode-coverage",
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "modes_covered ↑: 8" in out and "high_quality_fraction ↑: 1" in out
    assert "kl_to_uniform ↓:" in out and "samples=2500" in out


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("mygen", "expected MODULE:GENERATOR or MODULE:FACTORY()"),
        ("nosuchmodule:make()", "No module named 'nosuchmodule'"),
    ],
)
def test_eval_cli_bad_generator_spec(tmp_path, monkeypatch, capsys, spec, message):
    monkeypatch.chdir(tmp_path)
    assert (
        main(["eval", "--generator", spec, "--dataset", "ring-8", "--metrics", "mode-coverage"])
        == 2
    )
    assert message in capsys.readouterr().err


def test_a_plain_function_is_a_generator_too():
    import math

    import torch

    from ganbench.evaluate import evaluate_generator

    def on_four_modes(z):  # no nn.Module, no parameters
        angle = 2 * math.pi * ((z[:, 0].abs() * 1000).long() % 4) / 8
        return torch.stack([2 * torch.cos(angle), 2 * torch.sin(angle)], 1)

    measured = evaluate_generator(on_four_modes, "ring-8", ["mode-coverage"], latent_dim=4)
    assert measured["modes_covered"].value == 4


def _eval(tmp_path, monkeypatch, *args):
    (tmp_path / "mygen.py").write_text(GENERATOR)
    monkeypatch.chdir(tmp_path)
    return main(["eval", "--generator", "mygen:make()", "--device", "cpu", *args])


def test_eval_takes_metric_parameters_checked_like_a_suite(tmp_path, monkeypatch, capsys):
    """issue 14 #18: --metric NAME:KEY=VALUE sets a metric's parameters."""
    args = ["--dataset", "ring-8", "--metric", "mode-coverage:samples=300,threshold_std=2.5"]
    assert _eval(tmp_path, monkeypatch, *args) == 0
    out = capsys.readouterr().out
    assert "samples=300" in out and "threshold_std=2.5" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--metric", "mode-coverage:samples=0"],
            "metric mode-coverage: samples: 0 is out of range",
        ),
        (["--metric", "mode-coverage:sample=10"], 'sample: unknown key (did you mean "samples"?)'),
        (["--metric", "mode-coverage:samples=many"], "samples: expected int, got str 'many'"),
        (
            ["--metric", "mode-coverag"],
            "unknown metric 'mode-coverag' (did you mean \"mode-coverage\"?)",
        ),
        ([], "name the metrics"),
        (["--metrics", "mode-coverage", "--latent-dim", "0"], "latent_dim: 0 is out of range"),
    ],
)
def test_eval_refuses_bad_metric_parameters_before_loading_anything(
    tmp_path, monkeypatch, capsys, args, message
):
    assert _eval(tmp_path, monkeypatch, "--dataset", "ring-8", *args) == 2
    assert message in capsys.readouterr().err


def test_eval_names_a_bad_dataset_before_an_unknown_latent_dim(tmp_path, monkeypatch, capsys):
    """issue 14, smaller: --latent-dim 0 said "latent_dim is unknown" and hid this error."""
    (tmp_path / "plain.py").write_text("def g(z):\n    return z[:, :2]\n")  # no latent_dim
    monkeypatch.chdir(tmp_path)
    argv = ["eval", "--generator", "plain:g", "--dataset", "ring8", "--metrics", "mode-coverage"]
    assert main([*argv, "--latent-dim", "0"]) == 2
    assert "unknown dataset 'ring8'" in capsys.readouterr().err


def test_eval_help_lists_the_metrics(capsys):
    with pytest.raises(SystemExit):
        main(["eval", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "prdc:extractor=mnist-" in out and "--metric NAME:KEY=VALUE" in out
    assert "fid-mnist" in out and "mode-coverage" in out and "throughput" not in out


def test_a_generator_factory_that_raises_is_one_line(tmp_path, monkeypatch, capsys):
    """issue 14, smaller: a factory that raises was a traceback."""
    (tmp_path / "broken.py").write_text("def make():\n    raise RuntimeError('no weights')\n")
    monkeypatch.chdir(tmp_path)
    argv = ["eval", "--generator", "broken:make()", "--dataset", "ring-8"]
    assert main([*argv, "--metrics", "mode-coverage"]) == 2
    assert "make() raised RuntimeError: no weights" in capsys.readouterr().err


BROKEN_GENERATORS = """
import torch
G = 42
def flat(z):
    return torch.zeros(z.shape[0], 5)
def linear(z):
    return z @ torch.ones(16, 2)
linear.latent_dim = 16
def images(z):
    return torch.tanh(z[:, :1, None, None].expand(-1, 1, 28, 28)).contiguous()
"""


@pytest.mark.parametrize(
    ("spec", "extra", "message"),
    [
        ("bad:G", ["--latent-dim", "4"], "the generator is a int, not callable"),
        ("bad:flat", ["--latent-dim", "4"], "returns (2, 5) for 2 latents; ring-8 needs (2, 2)"),
        ("bad:linear", ["--latent-dim", "8"], "failed on 2 latents of dimension 8"),
    ],
)
def test_eval_holds_the_generator_to_the_contract(
    tmp_path, monkeypatch, capsys, spec, extra, message
):
    """issue 23 #10: each was a traceback inside the first metric."""
    (tmp_path / "bad.py").write_text(BROKEN_GENERATORS)
    monkeypatch.chdir(tmp_path)
    args = ["eval", "--generator", spec, "--dataset", "ring-8", "--metrics", "mode-coverage"]
    assert main([*args, *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_eval_takes_a_folder_dataset_with_its_path(tmp_path, monkeypatch, capsys):
    """issue 23 #10: `--dataset folder` had no way to give its path."""
    from PIL import Image

    (tmp_path / "bad.py").write_text(BROKEN_GENERATORS)
    (tmp_path / "imgs").mkdir()
    for i in range(40):
        Image.fromarray(np.full((28, 28), 6 * i, np.uint8)).save(tmp_path / "imgs" / f"{i}.png")
    monkeypatch.chdir(tmp_path)
    args = [
        "eval",
        "--generator",
        "bad:images",
        "--latent-dim",
        "4",
        "--metric",
        "prdc:extractor=mnist-classifier,samples=4,k=2",
    ]
    assert main([*args, "--dataset", "folder"]) == 2
    assert "--dataset folder:path=..." in capsys.readouterr().err
    assert main([*args, "--dataset", "folder:path=imgs,channels=1", "--device", "cpu"]) == 0
    assert "precision ↑:" in capsys.readouterr().out


def test_a_missing_pytest_baseline_is_one_line_saying_how_to_make_it(pytester):
    """issue 34 #16: a 29-line INTERNALERROR (FileNotFoundError), exit 3."""
    pytester.makepyfile(test_gan=TESTS)
    result = pytester.runpytest("-p", "no:cacheprovider", "--ganbench-baseline", "nope.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*--ganbench-baseline nope.json: no such file; make it once with `pytest "
            "--ganbench-save nope.json`*"
        ]
    )
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()


def test_help_gives_each_component_a_whole_sentence(capsys):
    """issue 34, smaller: `eval --help` cut descriptions mid-sentence ("...and KL of its")."""
    from ganbench.registry import DATASETS, METRICS, MODELS

    for registry in (METRICS, MODELS, DATASETS):
        for entry in registry:
            if ":" not in entry.name:  # built-in (other tests register users' components)
                assert entry.summary.endswith((".", ")")), (entry.name, entry.summary)
