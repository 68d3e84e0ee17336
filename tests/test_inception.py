"""The FID Inception architecture and the Inception Score, against independent references.

pytorch-fid's and torch-fidelity's weights cannot be downloaded here, so the
architecture is checked twice:

* real weights: the offline TorchScript's parameters mapped into FIDInception
  give the TorchScript's own pool3 features;
* random weights (a random state dict loaded into both): FIDInception equals
  pytorch-fid's network and torch-fidelity's whole extractor (uint8 in, pool3
  and unbiased logits out), which also checks the resize and the scaling.

Tolerances: the networks run the same float32 convolutions in a different
order of memory formats and fusions; 94 layers of float32 rounding leave
differences of ~1e-6 on features of ~0.2, so 1e-4 relative / 1e-5 absolute
is tight enough to catch any difference in architecture (a wrong pool moves
features by > 1e-2).
"""

from __future__ import annotations

import re
import warnings

import pytest
import torch

from ganbench.cli import main
from ganbench.errors import GanbenchError
from ganbench.features import inception as inception_module
from ganbench.features.inception import TTUR_POOL3, tf_legacy_resize
from ganbench.features.inception_net import FIDInception, from_torchscript, pool3_fingerprint
from ganbench.metrics.inception_score import inception_score

TOLERANCE = {"rtol": 1e-4, "atol": 1e-5}


def uint8_images(n: int, channels: int, size: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, channels, size, size), dtype=torch.uint8, generator=g)


@pytest.fixture(scope="module")
def torchscript() -> torch.jit.ScriptModule:
    path = inception_module.packaged_weights()
    if path is None:
        pytest.fail(
            f"the offline FID Inception is part of the install: {inception_module.INSTALL_HINT}"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return torch.jit.load(str(path)).eval()


def test_torchscript_weights_in_fid_inception_give_identical_pool3(torchscript):
    net = from_torchscript(torchscript.state_dict())
    assert pool3_fingerprint(net) == TTUR_POOL3
    x = (tf_legacy_resize(uint8_images(3, 3, 32).float()) - 128) / 128
    with torch.inference_mode():
        expected = torchscript(x)
        torch.testing.assert_close(net.pool3(x), expected, **TOLERANCE)
        # The extractor as the metrics use it: uint8 in, resize and scaling inside.
        extractor = inception_module.inception()
        torch.testing.assert_close(extractor(uint8_images(3, 3, 32)), expected, **TOLERANCE)
    assert extractor.settings["weights"] == "tf-inception-2015-12-05"
    assert not extractor.has_classifier


def test_fid_inception_equals_pytorch_fids_network(random_weights, monkeypatch):
    pytorch_fid_inception = pytest.importorskip("pytorch_fid.inception")
    state, _ = random_weights
    monkeypatch.setattr(pytorch_fid_inception, "load_state_dict_from_url", lambda *a, **k: state)
    theirs = pytorch_fid_inception.fid_inception_v3().eval()
    pool3 = pytorch_fid_inception.InceptionV3(
        [3], resize_input=False, normalize_input=False, use_fid_inception=True
    ).eval()
    ours = FIDInception()
    ours.load_state_dict(state)
    x = (tf_legacy_resize(uint8_images(2, 3, 40, seed=1).float()) - 128) / 128
    with torch.inference_mode():
        features = ours.pool3(x)
        assert features.std() > 0.01  # the random network does not collapse
        torch.testing.assert_close(features, pool3(x)[0].flatten(1), **TOLERANCE)
        torch.testing.assert_close(ours.fc(features), theirs(x), **TOLERANCE)


@pytest.mark.e2e  # the real Inception through torch-fidelity: the full tier
def test_extractor_equals_torch_fidelity_end_to_end(random_weights, capsys):
    torch_fidelity = pytest.importorskip("torch_fidelity.feature_extractor_inceptionv3")
    _, path = random_weights
    theirs = torch_fidelity.FeatureExtractorInceptionV3(
        "inception-v3-compat", ["2048", "logits_unbiased"], feature_extractor_weights_path=str(path)
    )
    inception_module.load_network.cache_clear()  # the warning comes once per loaded file
    ours = inception_module.inception(path=str(path))
    assert "not the TTUR Inception" in capsys.readouterr().err  # random weights are flagged
    assert ours.has_classifier and ours.settings["weights"] == pool3_fingerprint(ours.net)
    images = uint8_images(2, 3, 32, seed=2)
    with torch.inference_mode():
        features, logits = theirs(images)
        torch.testing.assert_close(ours(images), features, **TOLERANCE)
        torch.testing.assert_close(ours.logits(images), logits, **TOLERANCE)


def test_weights_that_are_neither_format_are_refused_with_the_fix(tmp_path):
    garbage = tmp_path / "inception.pth"
    garbage.write_bytes(b"not weights")
    with pytest.raises(GanbenchError, match=f"{re.escape(str(garbage))}: neither the FID"):
        inception_module.inception(path=str(garbage))
    wrong = tmp_path / "wrong.pth"
    torch.save({"fc.weight": torch.zeros(1008, 2048)}, wrong)
    with pytest.raises(GanbenchError, match=r"Missing key\(s\).*Conv2d_1a_3x3"):
        inception_module.inception(path=str(wrong))
    with pytest.raises(GanbenchError, match="no such Inception weights file"):
        inception_module.inception(path=str(tmp_path / "absent.pth"))


def test_no_weights_anywhere_says_how_to_get_them(monkeypatch):
    monkeypatch.setattr(inception_module, "packaged_weights", lambda: None)
    with pytest.raises(GanbenchError, match=re.escape(inception_module.INSTALL_HINT)) as error:
        inception_module.inception()
    assert inception_module.PT_FILE in str(error.value)


# --- Inception Score --------------------------------------------------------------------------


def test_inception_score_closed_forms():
    # Uniform predictions: p(y|x) = p(y), KL = 0, IS = 1.
    assert inception_score(torch.zeros(100, 1008)) == pytest.approx((1.0, 0.0), abs=1e-12)
    # Confident predictions, K classes used equally in every split: IS = K.
    for k in (2, 7, 1008):
        labels = torch.arange(10 * k) % k
        logits = torch.nn.functional.one_hot(labels, 1008).double() * 100
        mean, std = inception_score(logits, splits=10)
        assert mean == pytest.approx(k, rel=1e-9) and std == pytest.approx(0, abs=1e-9)


def test_inception_score_equals_torch_fidelity():
    isc = pytest.importorskip("torch_fidelity.metric_isc")
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(1000, 1008, generator=g, dtype=torch.float64) * 3
    expected = isc.isc_features_to_metric(logits, splits=10, shuffle=False)
    mean, std = inception_score(logits, splits=10)
    # Both in float64 with the same formula: they agree to rounding.
    assert mean == pytest.approx(expected["inception_score_mean"], rel=1e-9)
    assert std == pytest.approx(expected["inception_score_std"], rel=1e-6)


def test_inception_score_needs_enough_samples():
    with pytest.raises(ValueError, match="at least 10 samples"):
        inception_score(torch.zeros(5, 1008))


@pytest.mark.e2e  # the real Inception through the CLI and torch-fidelity: the full tier
def test_is_command_on_a_folder_equals_torch_fidelity(random_weights, tmp_path, capsys):
    from PIL import Image

    torch_fidelity = pytest.importorskip("torch_fidelity.feature_extractor_inceptionv3")
    isc = pytest.importorskip("torch_fidelity.metric_isc")
    _, path = random_weights
    images = uint8_images(8, 3, 16, seed=3)
    folder = tmp_path / "samples"
    folder.mkdir()
    for i, image in enumerate(images):
        Image.fromarray(image.permute(1, 2, 0).numpy()).save(folder / f"{i}.png")
    args = ["is", str(folder), "--inception-weights", str(path), "--splits", "2", "--device", "cpu"]
    assert main(args) == 0
    printed = re.search(r"Inception Score: ([\d.]+) ± ([\d.]+)", capsys.readouterr().out)
    theirs = torch_fidelity.FeatureExtractorInceptionV3(
        "inception-v3-compat", ["logits_unbiased"], feature_extractor_weights_path=str(path)
    )
    with torch.inference_mode():
        (logits,) = theirs(images)
    expected = isc.isc_features_to_metric(logits, splits=2, shuffle=False)
    assert float(printed[1]) == pytest.approx(expected["inception_score_mean"], rel=1e-4)
    assert float(printed[2]) == pytest.approx(expected["inception_score_std"], rel=1e-3, abs=1e-5)


def test_is_without_classifier_weights_is_unavailable_with_the_reason(tmp_path, capsys):
    assert main(["is", str(tmp_path), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "needs the Inception classifier layer" in err and inception_module.PT_FILE in err
    assert "Traceback" not in err


def _score(metric: str, images: torch.Tensor, **params) -> dict:
    from torch import nn

    from ganbench.metrics.base import EvalContext
    from ganbench.registry import METRICS
    from ganbench.training.gan import GAN
    from tests.helpers import Replay

    gan = GAN(Replay(images), nn.Identity(), latent_dim=1, lr_g=0, lr_d=0)
    return METRICS.get(metric).factory(samples=images.shape[0], **params)(
        EvalContext(gan, None, None, seed=0)
    )


@pytest.mark.e2e  # accuracy on thousands of real images: the full tier
def test_mnist_score_of_real_digits_nears_the_label_entropy_bound():
    from ganbench.data.mnist import mnist

    test = mnist().test
    # A perfect, confident classifier gives exp(H(label frequencies)) (9.98 on the test
    # split), and no classifier can exceed it in expectation; ours (99.4%) loses a little
    # confidence. One digit alone scores close to 1.
    p = torch.bincount(test.labels, minlength=10).double() / test.labels.numel()
    bound = float(torch.exp(-(p * p.log()).sum()))
    score = _score("is-mnist", test.images)
    assert bound - 0.3 < score["mnist_score"].value <= bound
    assert score["mnist_score"].settings["classifier_sha1"]
    ones = test.images[test.labels == 1]
    assert _score("is-mnist", ones)["mnist_score"].value < 1.1


def test_is_metric_without_classifier_weights_reports_unavailable_with_the_reason():
    measured = _score("is", uint8_images(10, 3, 8))
    for key in ("inception_score", "inception_score_std"):
        assert measured[key].value is None
        assert inception_module.PT_FILE in measured[key].settings["unavailable"]


def test_is_metric_with_pytorch_fid_format_weights(random_weights, monkeypatch):
    _, path = random_weights
    monkeypatch.setenv(inception_module.WEIGHTS_ENV, str(path))
    images = uint8_images(10, 3, 8, seed=4)
    measured = _score("is", images, splits=2)
    extractor = inception_module.inception()
    with torch.inference_mode():
        expected = inception_score(extractor.logits(images), splits=2)
    assert (measured["inception_score"].value, measured["inception_score_std"].value) == (
        pytest.approx(expected[0], rel=1e-6),
        pytest.approx(expected[1], rel=1e-4),
    )
    assert measured["inception_score"].settings["classifier_sha1"] == extractor.classifier_sha1()


def test_download_failure_says_where_to_put_the_file(monkeypatch):
    def offline(url, dst, progress=True):
        raise OSError("Network is unreachable")

    monkeypatch.setattr(inception_module, "packaged_weights", lambda: None)
    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    monkeypatch.setenv("GANBENCH_DOWNLOAD", "1")
    with pytest.raises(GanbenchError, match="could not download") as error:
        inception_module.inception()
    assert str(inception_module.hub_weights()) in str(error.value)


def test_unavailable_values_are_noted_once_per_reason():
    from ganbench.cli.common import unavailable_notes as _unavailable_notes

    settings = {
        "dcgan/cifar10/inception_score": {"unavailable": "no classifier"},
        "dcgan/cifar10/inception_score_std": {"unavailable": "no classifier"},
        "dcgan/cifar10/fid": {"extractor": "inception"},
    }
    assert _unavailable_notes(settings) == [
        "note: dcgan/cifar10/inception_score, dcgan/cifar10/inception_score_std "
        "unavailable: no classifier"
    ]


def test_is_refuses_a_state_dict_whose_classifier_is_all_zeros(torchscript, tmp_path, capsys):
    """issue 14 #15: ganbench's own TorchScript mapping, saved as a state dict, has an
    all-zero classifier; it used to load as a classifier and print IS 1.000000, exit 0."""
    inception_module.load_network.cache_clear()
    net = from_torchscript(torchscript.state_dict())
    weights = tmp_path / "mapped.pt"
    torch.save(net.state_dict(), weights)
    images = tmp_path / "images"
    images.mkdir()
    from PIL import Image

    for i, image in enumerate(uint8_images(12, 3, 32)):
        Image.fromarray(image.permute(1, 2, 0).numpy()).save(images / f"{i}.png")
    code = main(["is", str(images), "--inception-weights", str(weights), "--splits", "2"])
    captured = capsys.readouterr()
    assert code == 2 and "Inception Score" not in captured.out
    assert "needs the Inception classifier layer" in captured.err
