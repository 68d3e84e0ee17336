"""The streaming metrics (ganbench.FID and its siblings) against the one-shot functions on
the same images, on both of their bases (torchmetrics.Metric, and LocalMetric where
torchmetrics is not installed), with DDP's reductions checked through torchmetrics'
merge_state. torchmetrics' own FrechetInceptionDistance beside ours:
tests/benchmarks/test_streaming_fid_speed.py.

Tolerance 1e-6 relative: FID's streaming estimate sums features and their outer products
(float64) where the one-shot function centres them first (torch.cov); on 100 images of
128-d features FID's square roots of near-zero eigenvalues amplify a 1e-13 change of
sigma to ~1e-8 of the value, well inside it. KID, PRDC, CMMD and IS keep the features
themselves and are equal to the last bit.
"""

from __future__ import annotations

import pytest
import torch

import ganbench
from ganbench.api import streaming
from ganbench.api.streaming import LocalMetric, streaming_classes
from ganbench.data.mnist import mnist
from ganbench.errors import GanbenchError

CLASSIFIER = {"extractor": "mnist-classifier"}
BASES = ["torchmetrics", "local"]


@pytest.fixture(scope="module")
def digits() -> tuple[torch.Tensor, torch.Tensor]:
    data = mnist()
    return data.train.images[:100], data.test.images[:100]


def classes(base: str) -> dict[str, type]:
    """The classes as `import ganbench` gives them (on torchmetrics' Metric here), or on
    LocalMetric, as where torchmetrics is not installed."""
    if base == "torchmetrics":
        pytest.importorskip("torchmetrics")
        return streaming.CLASSES
    return streaming_classes(LocalMetric)


def fed(metric, images: torch.Tensor, real: bool = False, batch: int = 50):
    for i in range(0, images.shape[0], batch):
        metric.update(images[i : i + batch], real=real)
    return metric


@pytest.mark.parametrize("base", BASES)
def test_streaming_fid_equals_the_one_shot_function(digits, base):
    generated, real = digits
    FID = classes(base)["FID"]
    one_shot = ganbench.fid(generated, real, batch_size=50, device="cpu", **CLASSIFIER)
    with_real = fed(fed(FID(**CLASSIFIER), real, real=True), generated)
    assert float(with_real.compute()) == pytest.approx(one_shot, rel=1e-6)
    fixed = fed(FID(reference="mnist:test", samples=100, batch_size=50, **CLASSIFIER), generated)
    named = ganbench.fid(generated, "mnist:test", samples=100, batch_size=50, device="cpu",
                         **CLASSIFIER)  # fmt: skip
    assert float(fixed.compute()) == pytest.approx(named, rel=1e-6)
    # reset() forgets the generated images and keeps the reference (computed once).
    reference = fixed._reference
    fixed.reset()
    fed(fixed, generated[:50])
    assert fixed._reference is reference
    half = ganbench.fid(generated[:50], "mnist:test", samples=100, batch_size=50,
                        device="cpu", **CLASSIFIER)  # fmt: skip
    assert float(fixed.compute()) == pytest.approx(half, rel=1e-6)


@pytest.mark.parametrize("base", ["torchmetrics", pytest.param("local", marks=pytest.mark.e2e)])
def test_streaming_kid_prdc_and_is_equal_the_one_shot_functions(digits, base):
    generated, real = digits
    found = classes(base)
    options = {"device": "cpu", "batch_size": 50, **CLASSIFIER}
    kid = found["KID"](reference=real, subset_size=50, batch_size=50, **CLASSIFIER)
    fed(kid, generated)
    one_kid = ganbench.kid(generated, real, subset_size=50, **options)
    mean, std = kid.compute()
    assert (float(mean), float(std)) == (one_kid, one_kid.std)
    prdc = fed(fed(found["PRDC"](k=3, **CLASSIFIER), real, real=True), generated)
    one_prdc = ganbench.prdc(generated, real, k=3, **options)
    assert {k: float(v) for k, v in prdc.compute().items()} == one_prdc
    score = fed(found["InceptionScore"](**CLASSIFIER), generated)
    one_is = ganbench.inception_score(generated, **options)
    assert tuple(map(float, score.compute())) == (one_is, one_is.std)


def test_the_metrics_are_torchmetrics_metrics_whose_states_reduce_as_ddp_does(digits):
    """Two ranks' states merged by their dist_reduce_fx ("sum" for FID's sums, "cat" for
    features) give what one process fed everything gives."""
    torchmetrics = pytest.importorskip("torchmetrics")
    generated, real = (x[:40] for x in digits)
    for name, options in [("FID", {}), ("KID", {"subset_size": 20}), ("PRDC", {"k": 3})]:
        cls = getattr(ganbench, name)
        assert issubclass(cls, torchmetrics.Metric)
        one = fed(fed(cls(**CLASSIFIER, **options), real, real=True), generated)
        ranks = [cls(**CLASSIFIER, **options) for _ in range(2)]
        for rank, part in enumerate((slice(0, 20), slice(20, 40))):
            fed(fed(ranks[rank], real[part], real=True), generated[part])
        ranks[1].merge_state(ranks[0])  # rank 0's features first, as DDP gathers them
        expected, merged = one.compute(), ranks[1].compute()
        if isinstance(expected, dict):
            expected, merged = list(expected.values()), list(merged.values())
        # FID: two sums added in another order, amplified as the module docstring says.
        torch.testing.assert_close(merged, expected, rtol=1e-6 if name == "FID" else 0, atol=0)


def test_what_a_training_loop_gets_wrong_is_one_line(digits):
    generated, real = digits
    fid = ganbench.FID(reference="mnist:test", **CLASSIFIER)
    with pytest.raises(GanbenchError, match=r"fixed reference \(mnist:test\)"):
        fid.update(real, real=True)
    with pytest.raises(GanbenchError, match="float32 images need value_range"):
        fid.update(generated.float())
    with pytest.raises(GanbenchError, match="0 fake images; a covariance needs at least 2"):
        fid.compute()
    with pytest.raises(GanbenchError, match="takes generated images only"):
        ganbench.InceptionScore(**CLASSIFIER).update(generated, real=True)
    with pytest.raises(GanbenchError, match="k = 5 nearest neighbours need more than k"):
        fed(fed(ganbench.PRDC(**CLASSIFIER), real[:4], real=True), generated[:4]).compute()
    with pytest.raises(GanbenchError, match="extractor='inception'; valid: dinov2"):
        ganbench.FD(extractor="inception")
    with pytest.raises(GanbenchError, match="statistics serve FID and FD only"):
        ganbench.KID(reference="stats.npz", **CLASSIFIER)  # named wrong: said at once
    with pytest.raises(GanbenchError, match="mnist:tset: no such file or folder"):
        ganbench.FID(reference="mnist:tset", **CLASSIFIER)
    local = streaming_classes(LocalMetric)["FID"]
    with pytest.raises(GanbenchError, match="sync_on_compute: torchmetrics' options"):
        local(sync_on_compute=False)


def test_a_tanh_generators_output_is_read_as_its_images(digits):
    """update() of floats in [-1, 1] with value_range=(-1, 1): the uint8 images a suite
    would make of them, so the value is the uint8 images' value."""
    generated, real = digits
    floats = generated.float() / 127.5 - 1
    a = fed(ganbench.FID(reference=real, value_range=(-1, 1), **CLASSIFIER), floats)
    b = fed(ganbench.FID(reference=real, **CLASSIFIER), generated)
    assert float(a.compute()) == float(b.compute())


def test_a_statistics_file_serves_as_a_reference_with_its_settings_checked(digits, tmp_path):
    generated, real = digits
    stats = tmp_path / "real.npz"
    ganbench.statistics(real, out=stats, device="cpu", **CLASSIFIER)
    fid = fed(ganbench.FID(reference=str(stats), **CLASSIFIER), generated)
    assert float(fid.compute()) == pytest.approx(
        ganbench.fid(generated, real, device="cpu", **CLASSIFIER), rel=1e-6
    )
    other = fed(ganbench.FID(reference=str(stats), extractor="fashion-classifier"), generated)
    with pytest.raises(GanbenchError, match="made with other extractor settings"):
        other.compute()


@pytest.mark.e2e  # random DINOv2 and CLIP networks on 224 x 224 inputs: ~10 s on a CPU
def test_streaming_fd_and_cmmd_equal_the_one_shot_functions(digits, tmp_path):
    from tests.test_feature_spaces import random_clip_checkpoint, random_dinov2_checkpoint

    generated, real = (x[:12] for x in digits)
    dino, clip = tmp_path / "dinov2_vits14_pretrain.pth", tmp_path / "ViT-B-32.pt"
    torch.save(random_dinov2_checkpoint(), dino)
    torch.save(random_clip_checkpoint(), clip)
    for name, cls, function, weights in [
        ("dinov2-vit-s14", ganbench.FD, ganbench.fd, dino),
        ("clip-vit-b32", ganbench.CMMD, ganbench.cmmd, clip),
    ]:
        options = {"extractor": name, "weights": str(weights)}
        metric = fed(fed(cls(**options), real, real=True, batch=4), generated, batch=4)
        expected = function(generated, real, batch_size=4, device="cpu", **options)
        assert float(metric.compute()) == pytest.approx(expected, rel=1e-6)


@pytest.mark.gpu
def test_on_a_gpu_the_features_stay_there_and_the_value_is_the_cpus(digits):
    """Images on the GPU go through an extractor on the GPU; the sums live where the
    metric lives; the value equals the CPU's to float32 convolution rounding."""
    generated, real = digits
    on_cpu = fed(fed(ganbench.FID(**CLASSIFIER), real, real=True), generated)
    on_gpu = ganbench.FID(**CLASSIFIER).to("cuda")
    fed(fed(on_gpu, real.cuda(), real=True), generated.cuda())
    assert on_gpu.fake_sum.device.type == "cuda" and on_gpu.real_outer.device.type == "cuda"
    assert float(on_gpu.compute()) == pytest.approx(float(on_cpu.compute()), rel=1e-4)
