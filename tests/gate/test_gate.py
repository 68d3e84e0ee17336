"""The defects the CI gates are proven against, and the gates' rules; the proofs
themselves (about 30 and 10 min on 2 CPU cores) are the slow tests at the end."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from ganbench.data.images import ImageDataset, Split
from ganbench.registry import MODELS
from ganbench.results import protocol
from ganbench.suite import load
from ganbench.training.build import build_model
from ganbench.training.losses import discriminator_loss
from tests.gate import defects, prove_gate
from tests.helpers import committed_run


def _digits() -> ImageDataset:
    split = Split(torch.randint(0, 256, (8, 1, 28, 28), dtype=torch.uint8), torch.zeros(8))
    return ImageDataset("digits", split, split, "test")


@pytest.fixture
def isolated_models(monkeypatch):
    """The model registry as it was, after a test installs a defect in it."""
    monkeypatch.setattr(MODELS, "_entries", dict(MODELS._entries))


def _gan(name: str):
    """A DCGAN built through the registry's "dcgan" with the defect installed: what a
    proof's `ganbench run` trains under the healthy model's own name."""
    saved = dict(MODELS._entries)
    try:
        defects.install(name, "dcgan")
        torch.manual_seed(0)
        return build_model("dcgan", _digits(), {"width": 8})
    finally:
        MODELS._entries.clear()
        MODELS._entries.update(saved)


def test_each_defect_breaks_exactly_its_one_thing():
    healthy = build_model("dcgan", _digits(), {"width": 8})
    assert any(isinstance(m, nn.BatchNorm2d) for m in healthy.generator.modules())
    assert not any(
        isinstance(m, nn.BatchNorm2d) for m in _gan("no_g_batchnorm").generator.modules()
    )
    assert any(
        isinstance(m, nn.BatchNorm2d) for m in _gan("no_g_batchnorm").discriminator.modules()
    )
    assert _gan("lr_x10").lr_g == pytest.approx(10 * healthy.lr_g)
    assert not any(isinstance(m, nn.Tanh) for m in _gan("tanh_to_identity").generator.modules())
    assert isinstance(_gan("sigmoid_output").generator.net[-1], nn.Sigmoid)
    assert isinstance(healthy.generator.net[-1], nn.Tanh)


def test_label_swap_swaps_every_tenth_discriminator_loss():
    loss = _gan("label_swap").loss.discriminator
    real, fake = torch.tensor([2.0, 1.0]), torch.tensor([-1.0, 0.5])
    values = [float(loss(real, fake)) for _ in range(20)]
    right, swapped = float(discriminator_loss(real, fake)), float(discriminator_loss(fake, real))
    assert swapped > right
    assert [i for i, v in enumerate(values, 1) if v == pytest.approx(swapped)] == [10, 20]
    assert sum(v == pytest.approx(right) for v in values) == 18


def test_rules_are_k_standard_deviations_rounded_up():
    stds = {"fid_mnist": 2.34, "mnist_score": 0.0213, "precision": 0.011, "recall": 0.5}
    base = {"results": {"dcgan": {"mnist": {k: {"std": v} for k, v in stds.items()}}}}
    assert prove_gate.rules_from(base, k=4) == [
        "fid_mnist:+9.4",  # 9.36 up to 2 significant digits
        "mnist_score:-0.086",  # 0.0852
        "precision:-0.044",
        "recall:-2",
    ]


def test_an_installed_defect_keeps_the_models_name_parameters_and_definition(
    tmp_path, monkeypatch, isolated_models
):
    """A defect is a push that broke the model: the run records what the baseline's did,
    so compare compares it (a CANNOT CHECK would be no catch)."""
    suite = load(prove_gate.REPO / "suites" / "mnist-ci" / "suite.toml")
    healthy = protocol.recorded(suite)
    defects.install("lr_x10", "dcgan")
    assert protocol.recorded(suite) == healthy
    assert build_model("dcgan", _digits(), {"width": 8}).lr_g == pytest.approx(2e-3)
    project = tmp_path / "project"
    (project / "mygan").mkdir(parents=True)
    (project / "mygan" / "__init__.py").write_text(
        "from ganbench.baselines.dcgan import dcgan\ndef make(data, *, width: int = 8):\n"
        "    return dcgan(data, width=width)\n"
    )
    monkeypatch.syspath_prepend(str(project))
    defects.install("tanh_to_identity", "mygan:make")
    gan = build_model("mygan:make", _digits(), {})
    assert not any(isinstance(m, nn.Tanh) for m in gan.generator.modules())


def test_the_example_gates_rules_are_its_workflows():
    assert prove_gate.GATES["example"].rules({}) == [
        "fid_mnist:+140",
        "mnist_score:-1.1",
        "precision:-0.12",
        "recall:-0.21",
    ]


@pytest.mark.slow
def test_the_gate_passes_healthy_seeds_and_fails_every_defect(tmp_path):
    """The proof as recorded in results/gate/mnist-ci.md, rerun against the committed
    baseline (run 0004): no false alarm on 5 healthy seeds, at least 3 defects caught."""
    baseline = committed_run(4)
    assert json.loads((baseline / "result.json").read_text())["suite"]["name"] == "mnist-ci"
    assert prove_gate.main([str(baseline), "--out", str(tmp_path / "gate.md")]) == 0


@pytest.mark.slow
def test_the_example_projects_gate_passes_healthy_seeds_and_fails_every_defect(tmp_path):
    """The proof recorded in results/gate/example.md: the example project's workflow,
    with its committed tinygan and baseline, 5 fresh seeds and the defects."""
    baseline = prove_gate.EXAMPLE / "baseline"
    out = tmp_path / "example.md"
    assert prove_gate.main([str(baseline), "--gate", "example", "--out", str(out)]) == 0
