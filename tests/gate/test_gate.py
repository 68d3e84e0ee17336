"""The defects the CI gate is proven against, and the gate's rules; the proof itself
(about 30 min on 2 CPU cores) is the slow test at the end."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from ganbench.data.images import ImageDataset, Split
from ganbench.registry import build_model
from ganbench.training.losses import discriminator_loss
from tests.gate import prove_gate


def _digits() -> ImageDataset:
    split = Split(torch.randint(0, 256, (8, 1, 28, 28), dtype=torch.uint8), torch.zeros(8))
    return ImageDataset("digits", split, split, "test")


def _gan(name: str):
    torch.manual_seed(0)
    return build_model(f"tests.gate.defects:{name}", _digits(), {"width": 8})


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


def test_a_defect_suite_is_the_ci_suite_with_its_model_swapped(tmp_path):
    folder = prove_gate.defect_suite("lr_x10", tmp_path / "lr")
    text = (folder / "suite.toml").read_text()
    original = (prove_gate.SUITE / "suite.toml").read_text()
    assert 'name = "tests.gate.defects:lr_x10"\nlabel = "dcgan"' in text
    assert (
        text.replace('name = "tests.gate.defects:lr_x10"\nlabel = "dcgan"', 'name = "dcgan"')
        == original
    )


@pytest.mark.slow
def test_the_gate_passes_healthy_seeds_and_fails_every_defect(tmp_path):
    """The proof as recorded in results/gate/mnist-ci.md, rerun against the committed
    baseline: no false alarm on 5 healthy seeds, at least 3 defects caught."""
    runs = sorted(prove_gate.REPO.glob("results/runs/*/*_mnist-ci"))
    complete = [r for r in runs if json.loads((r / "result.json").read_text())["complete"]]
    assert complete, "no committed suites/mnist-ci baseline under results/runs"
    assert prove_gate.main([str(complete[-1]), "--out", str(tmp_path / "gate.md")]) == 0
