"""One generation and one extractor pass per job, with the values of each metric alone (issue 11).

The metric sets of suites/mnist and suites/cifar10 (plus KID and PRDC on the same
features) are measured twice on one untrained DCGAN: each metric with its own
EvalContext (the old path: every metric samples and embeds for itself) and all of
them with one shared context. The values must be equal bit for bit, and the shared
context must have generated each sample count once.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganbench.data.images import to_uint8
from ganbench.features.base import batched
from ganbench.metrics.base import EvalContext
from ganbench.registry import DATASETS, EXTRACTORS, METRICS
from ganbench.training.build import build_model
from ganbench.training.gan import GAN


class CountingGAN(GAN):
    """A GAN that counts its sample() calls."""

    calls: list[int]

    def sample(self, n: int, seed: int, **options) -> torch.Tensor:
        self.calls.append(n)
        return super().sample(n, seed, **options)


def dcgan(data) -> CountingGAN:
    torch.manual_seed(0)
    gan = build_model("dcgan", data, {"width": 8})
    counting = CountingGAN(**{f: getattr(gan, f) for f in gan.__dataclass_fields__})
    counting.calls = []
    return counting


def measure(metrics: dict[str, dict], data, shared: bool) -> tuple[dict, list[int]]:
    gan = dcgan(data)
    ctx = EvalContext(gan, data, None, seed=3)
    values = {}
    for name, params in metrics.items():
        run_ctx = ctx if shared else EvalContext(gan, data, None, seed=3)
        for key, m in METRICS.get(name).factory(**params)(run_ctx).items():
            values[key] = m.value
    return values, gan.calls


def assert_same_values_with_fewer_passes(metrics: dict[str, dict], data) -> dict:
    alone, alone_calls = measure(metrics, data, shared=False)
    together, together_calls = measure(metrics, data, shared=True)
    assert together == alone  # bit for bit, every key
    assert sorted(together_calls) == sorted(set(alone_calls))  # one generation per count
    return together


MNIST_KEYS = {"fid_mnist", "mnist_score", "fid", "kid", "precision", "coverage"}


@pytest.mark.e2e
def test_the_mnist_suites_metrics_share_one_generation_and_pass(random_weights, monkeypatch):
    monkeypatch.setenv("GANBENCH_INCEPTION_WEIGHTS", str(random_weights[1]))
    mnist = {"samples": 120, "batch_size": 50}
    inception = {"samples": 10, "batch_size": 5}
    values = assert_same_values_with_fewer_passes(
        {
            "fid-mnist": mnist,
            "is-mnist": {**mnist, "splits": 2},
            "prdc": {**mnist, "extractor": "mnist-classifier", "k": 3},
            "fid": inception,
            "kid": {**inception, "subsets": 3, "subset_size": 5},
        },
        DATASETS.get("mnist").factory(),
    )
    assert set(values) >= MNIST_KEYS and all(np.isfinite(values[k]) for k in MNIST_KEYS)


@pytest.mark.slow  # over 10 s on 2 quiet cores: --runslow
@pytest.mark.e2e
def test_the_cifar_suites_fid_and_is_share_one_inception_pass(
    random_weights, monkeypatch, tmp_path
):
    """FID and IS at the same sample count: one pass gives pool3 and the logits; the
    logits equal the separate logits() pass of the old IS path exactly."""
    monkeypatch.setenv("GANBENCH_INCEPTION_WEIGHTS", str(random_weights[1]))
    g = np.random.default_rng(0)
    arrays = tmp_path / "cifar-like.npz"
    np.savez(
        arrays,
        train=g.integers(0, 256, (64, 32, 32, 3), dtype=np.uint8),
        test=g.integers(0, 256, (32, 32, 32, 3), dtype=np.uint8),
    )
    data = DATASETS.get("arrays").factory(path=str(arrays))
    metrics = {
        "fid": {"samples": 8, "batch_size": 4},
        "is": {"samples": 8, "splits": 2, "batch_size": 4},
    }
    values = assert_same_values_with_fewer_passes(metrics, data)
    gan, device = dcgan(data), torch.device("cpu")
    extractor = EXTRACTORS.get("inception").factory(device="cpu")
    old_logits = batched(extractor.logits, to_uint8(gan.sample(6, seed=3)), 4, device)
    ctx = EvalContext(gan, data, None, seed=3)
    assert torch.equal(ctx.embedded(extractor, 6, 4).logits, old_logits)
    assert np.isfinite(values["inception_score"]) and np.isfinite(values["fid"])


@pytest.mark.gpu
def test_statistics_on_the_gpu_agree_with_the_cpu_to_1e_10():
    """issue 11: evaluation keeps features on the device and computes FID's float64
    statistics there; they must give the CPU's number to 1e-10 relative."""
    from ganbench.metrics.fid import frechet_distance, gaussian_stats

    g = torch.Generator().manual_seed(0)
    a = torch.relu(torch.randn(3000, 2048, generator=g, dtype=torch.float64))
    b = torch.relu(torch.randn(3000, 2048, generator=g, dtype=torch.float64) + 0.05)
    on_cpu = frechet_distance(gaussian_stats(a), gaussian_stats(b))
    on_gpu = frechet_distance(gaussian_stats(a.cuda()), gaussian_stats(b.cuda()))
    assert on_gpu == pytest.approx(on_cpu, rel=1e-10)
