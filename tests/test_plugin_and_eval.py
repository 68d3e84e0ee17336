"""The pytest plugin (through pytester) and `ganbench eval` on a tiny hand-built generator."""

from __future__ import annotations

import textwrap

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
