"""The Vendi score against its authors' package (vendi-score 0.0.3) and its closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ganbench.metrics.vendi import vendi_score


@pytest.mark.parametrize("shape", [(50, 8), (20, 64), (300, 3)])
def test_vendi_equals_the_authors_score_dual(shape):
    vendi = pytest.importorskip("vendi_score.vendi")
    x = np.random.default_rng(shape[0]).normal(size=shape)
    assert vendi_score(torch.from_numpy(x)) == pytest.approx(vendi.score_dual(x), rel=1e-6)


def test_vendi_closed_forms():
    """n identical samples: 1. k mutually orthogonal directions, equally often: k."""
    same = torch.ones(40, 5)
    assert vendi_score(same) == pytest.approx(1.0, abs=1e-9)
    eye = torch.eye(6).repeat(10, 1) * 3.0  # length does not matter: cosine similarity
    assert vendi_score(eye) == pytest.approx(6.0, rel=1e-9)
    uneven = torch.cat([torch.eye(2)[:1].repeat(30, 1), torch.eye(2)[1:].repeat(10, 1)])
    p = np.array([0.75, 0.25])
    assert vendi_score(uneven) == pytest.approx(math.exp(-(p * np.log(p)).sum()), rel=1e-9)


def test_vendi_metric_in_eval_on_mode_collapsed_and_diverse_generators(
    tmp_path, monkeypatch, capsys
):
    """A generator that draws one image scores exactly 1; noise images, which the MNIST
    classifier embeds in a few directions, more (1.69 measured)."""
    from ganbench.cli import main

    (tmp_path / "gens.py").write_text(
        "import torch\n"
        "def one(z):\n    return torch.zeros(z.shape[0], 1, 28, 28) - 1 + 0 * z[:, :1, None, None]\n"
        "def varied(z):\n    return torch.tanh(z[:, :784].reshape(-1, 1, 28, 28))\n"
    )
    monkeypatch.chdir(tmp_path)
    values = {}
    for name in ("one", "varied"):
        args = ["eval", "--generator", f"gens:{name}", "--latent-dim", "784", "--dataset", "mnist"]
        metric = "vendi:extractor=mnist-classifier,samples=200"
        assert main([*args, "--metric", metric, "--device", "cpu"]) == 0
        out = capsys.readouterr().out
        values[name] = float(out.split("vendi ↑: ")[1].split()[0])
    assert values["one"] == pytest.approx(1.0, abs=1e-6)
    assert values["varied"] > 1.3
