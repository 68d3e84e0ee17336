"""The FID variant of Inception-v3: the 2015-12-05 TensorFlow graph, in torchvision's layout.

The TensorFlow graph that FID (Heusel et al. 2017) and the Inception Score
(Salimans et al. 2016) were defined with differs from torchvision's
Inception-v3 in three places, and each changes the features:

* the 3x3 average pools inside Mixed_5b-d, Mixed_6b-e and Mixed_7b ignore the
  zero padding (TF "SAME" pooling: count_include_pad=False);
* Mixed_7c pools its pool branch with a 3x3 *max* pool (a quirk of the graph);
* batch norm has no scale (gamma = 1) and eps = 1e-3; the classifier has 1008
  outputs.

Parameter names follow torchvision, so pytorch-fid's weights file
(pt_inception-2015-12-05-6726825d.pth) and torch-fidelity's load into it
unchanged. `from_torchscript` maps the offline TorchScript copy of the same
graph (TF names such as mixed_10.tower_1_mixed_conv_1) into the same layout;
tests/test_inception.py shows the two give identical pool3 features and
that this module equals pytorch-fid's and torch-fidelity's networks.
"""

from __future__ import annotations

import hashlib

import torch
import torch.nn.functional as F
from torchvision.models.inception import (
    BasicConv2d,
    Inception3,
    InceptionA,
    InceptionAux,
    InceptionB,
    InceptionC,
    InceptionD,
    InceptionE,
)

CLASSES = 1008
#: Inception3's layers from the input to Mixed_7c, in order (no dropout, no classifier).
POOL3_LAYERS = (
    *("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1"),
    *("Conv2d_3b_1x1", "Conv2d_4a_3x3", "maxpool2"),
    *("Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d"),
    *("Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c"),
)


def _avg_pool_same(x: torch.Tensor) -> torch.Tensor:
    """TF "SAME" 3x3 average pooling: border windows average only the real pixels."""
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


def _max_pool_same(x: torch.Tensor) -> torch.Tensor:
    return F.max_pool2d(x, kernel_size=3, stride=1, padding=1)


class _MixedA(InceptionA):
    def _forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [
            self.branch1x1(x),
            self.branch5x5_2(self.branch5x5_1(x)),
            self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
            self.branch_pool(_avg_pool_same(x)),
        ]


class _MixedC(InceptionC):
    def _forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d7 = self.branch7x7dbl_1(x)
        for conv in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4):
            d7 = conv(d7)
        return [self.branch1x1(x), b7, self.branch7x7dbl_5(d7), self.branch_pool(_avg_pool_same(x))]


class _MixedE(InceptionE):
    #: Mixed_7b averages, Mixed_7c takes the max (set after construction).
    pool = staticmethod(_avg_pool_same)

    def _forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        b3 = self.branch3x3_1(x)
        d3 = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        return [
            self.branch1x1(x),
            torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1),
            torch.cat([self.branch3x3dbl_3a(d3), self.branch3x3dbl_3b(d3)], 1),
            self.branch_pool(self.pool(x)),
        ]


class FIDInception(Inception3):
    """Takes (N, 3, 299, 299) floats already scaled to [-1, 1]; gives pool3 and logits."""

    def __init__(self) -> None:
        blocks = [BasicConv2d, _MixedA, InceptionB, _MixedC, InceptionD, _MixedE, InceptionAux]
        super().__init__(
            num_classes=CLASSES, aux_logits=False, inception_blocks=blocks, init_weights=False
        )
        self.Mixed_7c.pool = _max_pool_same
        self.has_classifier = True
        #: pool3_fingerprint, set by whoever loads the weights.
        self.pool3_sha1 = ""
        self.eval()

    def pool3(self, x: torch.Tensor) -> torch.Tensor:
        """The 2048-d features FID uses (global average of Mixed_7c)."""
        for name in POOL3_LAYERS:
            x = getattr(self, name)(x)
        return x.mean((2, 3))

    def logits(self, pool3: torch.Tensor) -> torch.Tensor:
        """The 1008 logits without the bias, as the original Inception Score code
        (openai/improved-gan) and torch-fidelity's "logits_unbiased" take them."""
        return pool3 @ self.fc.weight.T


def from_torchscript(state: dict[str, torch.Tensor]) -> FIDInception:
    """The TorchScript TTUR Inception's parameters in FIDInception (without a classifier).

    The TorchScript stores each conv as weight / beta / mean / var under TF
    names; its layers come in the graph's order, which is also the order in
    which torchvision registers the corresponding BasicConv2d modules (stem,
    then per block: 1x1, the towers in order, the pool branch). The layers are
    paired by that order and every pair must agree in shape, so a mismatch is
    an error, never a silently different network.
    """
    weights = [k for k in state if k.endswith(".weight")]
    net = FIDInception()
    convs = [m for m in net.modules() if isinstance(m, BasicConv2d)]
    if len(weights) != len(convs):
        raise ValueError(f"expected {len(convs)} conv layers, found {len(weights)}")
    with torch.no_grad():
        for key, layer in zip(weights, convs, strict=True):
            prefix = key.removesuffix(".weight")
            if state[key].shape != layer.conv.weight.shape:
                raise ValueError(
                    f"{prefix}: shape {tuple(state[key].shape)}, expected "
                    f"{tuple(layer.conv.weight.shape)}"
                )
            layer.conv.weight.copy_(state[key])
            layer.bn.weight.fill_(1.0)
            layer.bn.bias.copy_(state[f"{prefix}.beta"])
            layer.bn.running_mean.copy_(state[f"{prefix}.mean"])
            layer.bn.running_var.copy_(state[f"{prefix}.var"])
        net.fc.weight.zero_()
        net.fc.bias.zero_()
    net.has_classifier = False
    return net


def pool3_fingerprint(net: FIDInception) -> str:
    """SHA-1 of every parameter that pool3 depends on (not the classifier).

    Two weight files give the same FID exactly when their fingerprints match,
    whatever their format, so results from pytorch-fid's file and from the
    offline TorchScript are comparable when (and only when) this agrees.
    """
    digest = hashlib.sha1()
    for name, tensor in sorted(net.state_dict().items()):
        if name.startswith("fc.") or name.endswith("num_batches_tracked"):
            continue
        digest.update(name.encode())
        digest.update(tensor.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return digest.hexdigest()
