"""Inception feature extraction: ganbench vs pytorch-fid vs torch-fidelity, same images, same device.

Run with timings: pytest tests/benchmarks/test_inception_speed.py --runslow --benchmark-enable
(images/s of each in pytest-benchmark's extra_info; the group table gives the
ratios). All three run the real FID weights: the offline TorchScript's,
mapped into the torchvision layout that pytorch-fid and torch-fidelity load.
pytorch-fid is given ready float tensors (its file reading is left out), so
the ratio favours it.

FID of MNIST test vs train digits from each extractor's features:
* torch-fidelity resizes and scales exactly as TTUR (and ganbench) do: FID
  equal to 1e-4 relative (measured 2e-7 on CPU);
* pytorch-fid resizes with half-pixel centres and scales by 2x/255 - 1, which
  moves FID of upsampled 28x28 digits by 1-5% at these sample sizes (its
  pipeline's FID is kept in extra_info). Its network, fed TTUR's
  preprocessing, gives FID equal to 1e-4 relative.
"""

from __future__ import annotations

import pytest
import torch

from ganbench.data.mnist import mnist
from ganbench.features import inception as inception_module
from ganbench.features.inception import tf_legacy_resize
from ganbench.metrics.fid import frechet_distance, gaussian_stats

#: Spawns processes or runs whole pipelines: the e2e tier (pytest -m 'not e2e' skips it).
pytestmark = [pytest.mark.e2e, pytest.mark.slow]  # a benchmark: --runslow


DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")
IMAGES = 2000 if DEVICE.type == "cuda" else 32  # per set; CPU runs ~10 images/s
BATCH = 200 if DEVICE.type == "cuda" else 32


@pytest.fixture(scope="module")
def digits() -> tuple[torch.Tensor, torch.Tensor]:
    data = mnist()
    return data.test.images[:IMAGES].expand(-1, 3, -1, -1), data.train.images[:IMAGES].expand(
        -1, 3, -1, -1
    )


@pytest.fixture(scope="module")
def ours():
    return inception_module.inception(device=str(DEVICE))


@pytest.fixture(scope="module")
def weights_file(ours, tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("inception") / inception_module.PT_FILE
    torch.save({k: v.cpu() for k, v in ours.net.state_dict().items()}, path)
    return str(path)


def fid_of(extract, digits) -> float:
    """FID between the two sets, features extracted batch by batch on DEVICE."""
    stats = []
    with torch.inference_mode():
        for images in digits:
            batches = [images[i : i + BATCH].to(DEVICE) for i in range(0, len(images), BATCH)]
            if DEVICE.type == "cuda":
                torch.cuda.synchronize()
            stats.append(gaussian_stats(torch.cat([extract(b).double().cpu() for b in batches])))
    return frechet_distance(*stats)


def timed(benchmark, name: str, extract, digits) -> float:
    benchmark.group = f"inception-features-{DEVICE.type}"
    benchmark.name = name
    value = benchmark.pedantic(fid_of, args=(extract, digits), rounds=2, iterations=1)
    benchmark.extra_info["fid"] = value
    if benchmark.stats:
        benchmark.extra_info["images_per_second"] = 2 * IMAGES / benchmark.stats.stats.min
    return value


@pytest.fixture(scope="module")
def ganbench_fid(ours, digits) -> float:
    return fid_of(ours, digits)


def test_ganbench(benchmark, ours, digits, ganbench_fid):
    if benchmark.disabled:
        pytest.skip("timing only: ganbench's FID is the fixture the other two are held to")
    assert timed(benchmark, "ganbench", ours, digits) == pytest.approx(ganbench_fid, rel=1e-6)


def test_torch_fidelity(benchmark, weights_file, digits, ganbench_fid):
    fidelity = pytest.importorskip("torch_fidelity.feature_extractor_inceptionv3")
    theirs = fidelity.FeatureExtractorInceptionV3(
        "inception-v3-compat", ["2048"], feature_extractor_weights_path=weights_file
    ).to(DEVICE)
    value = timed(benchmark, "torch-fidelity", lambda x: theirs(x)[0], digits)
    assert value == pytest.approx(ganbench_fid, rel=1e-4)


def test_pytorch_fid(benchmark, ours, digits, ganbench_fid, monkeypatch):
    pytorch_fid = pytest.importorskip("pytorch_fid.inception")
    state = ours.net.state_dict()
    monkeypatch.setattr(pytorch_fid, "load_state_dict_from_url", lambda *a, **k: state)
    network = pytorch_fid.InceptionV3([3], resize_input=False, normalize_input=False)
    network = network.to(DEVICE).eval()

    def ttur_input(x: torch.Tensor) -> torch.Tensor:
        return network((tf_legacy_resize(x.float()) - 128) / 128)[0].flatten(1)

    if benchmark.disabled:  # a test: run once, its network fed TTUR's input
        value = timed(benchmark, "pytorch-fid (TTUR input)", ttur_input, digits)
    else:  # a benchmark: its own pipeline's speed; its resize moves FID (recorded, not held)
        theirs = pytorch_fid.InceptionV3([3]).to(DEVICE).eval()  # resizes and scales itself
        own = timed(
            benchmark, "pytorch-fid", lambda x: theirs(x.float() / 255)[0].flatten(1), digits
        )
        benchmark.extra_info["fid_relative_difference"] = own / ganbench_fid - 1
        value = fid_of(ttur_input, digits)
    assert value == pytest.approx(ganbench_fid, rel=1e-4)
