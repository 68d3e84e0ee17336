"""The discriminator as a representation: a linear probe on its features.

Radford, Metz & Chintala 2016, "Unsupervised Representation Learning with Deep
Convolutional Generative Adversarial Networks", section 5.1: the features of a trained
DCGAN discriminator, max-pooled to 4x4 grids, feed a linear classifier that classifies
CIFAR-10 well; what the adversarial game taught the discriminator is a representation.

ganbench probes the discriminator's penultimate representation: the input of its last
layer with parameters (the one that makes the logit), max-pooled to at most 4x4 when it
is a feature map, flattened. A model can name another layer by setting
`probe_layer = "<name in discriminator.named_modules()>"` on its discriminator (that
layer's output is used). A packed discriminator (PacGAN) sees each image repeated to
fill its pack. Radford et al. pool every layer and use an L2-SVM; ganbench pools one
layer, so numbers are comparable across ganbench runs, not with the paper's.

The probe: multinomial logistic regression (L-BFGS, L2 penalty `l2`) on features
standardised with the labelled set's statistics, trained on the first k images of a
fixed permutation of the training split for each k in `labels`, scored on the first
`samples` test images. So that the number means something, the same probe runs on
a randomly initialised copy of the discriminator (every layer's `reset_parameters`,
seeded: PyTorch's default initialisation, not the model's own) and on raw pixels:
`d_probe_accuracy_K`, `d_probe_random_K`, `d_probe_pixels_K`.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from ganbench.data.images import to_model_space
from ganbench.metrics.base import EvalContext, Measurement, MetricFn
from ganbench.registry import METRICS
from ganbench.training.gan import GAN

#: Feature maps are max-pooled to at most this many cells a side (Radford et al.: 4x4).
POOLED = 4
#: The permutation of the training split from which the labelled images are taken.
LABEL_SEED = 0


def probe_layer(discriminator: nn.Module) -> tuple[nn.Module, bool]:
    """(the layer to read, whether its output is read): the one the model names with
    `probe_layer`, else its last layer with parameters, whose input is read."""
    named = getattr(discriminator, "probe_layer", None)
    modules = dict(discriminator.named_modules())
    if named is not None:
        if named not in modules:
            raise ValueError(
                f"probe_layer {named!r} is not a module of the discriminator; "
                f"its modules: {', '.join(n for n in modules if n)}"
            )
        return modules[named], True
    leaves = [
        m
        for m in discriminator.modules()
        if not list(m.children()) and any(True for _ in m.parameters(recurse=False))
    ]
    if not leaves:
        raise ValueError("the discriminator has no layer with parameters to probe")
    return leaves[-1], False


@torch.no_grad()
def discriminator_features(
    discriminator: nn.Module, images: torch.Tensor, packing: int = 1, batch_size: int = 500
) -> torch.Tensor:
    """uint8 (N, C, H, W) -> (N, D) float64 features of the probed layer, in eval mode."""
    layer, read_output = probe_layer(discriminator)
    captured: list[torch.Tensor] = []

    def keep(_module, inputs, output=None):
        x = output if read_output else inputs[0]
        if x.dim() == 3 and x.shape[0] == 1:  # a stacked layer's member dimension (mlp-gan)
            x = x[0]
        if x.dim() == 4 and max(x.shape[-2:]) > POOLED:
            x = F.adaptive_max_pool2d(x, POOLED)
        captured.append(x.flatten(1).double().clone())

    hook = (
        layer.register_forward_hook(keep)
        if read_output
        else layer.register_forward_pre_hook(lambda m, inputs: keep(m, inputs))
    )
    was_training = discriminator.training
    discriminator.eval()
    device = next(discriminator.parameters()).device
    out = []
    try:
        for i in range(0, len(images), batch_size):
            batch = to_model_space(images[i : i + batch_size].to(device))
            captured.clear()
            discriminator(torch.cat([batch] * packing))
            out.append(captured[0][: batch.shape[0]].cpu())
    finally:
        hook.remove()
        discriminator.train(was_training)
    return torch.cat(out)


def randomly_initialised(discriminator: nn.Module, seed: int = 0) -> nn.Module:
    """A copy with every layer reset to PyTorch's default initialisation (seeded)."""
    fresh = copy.deepcopy(discriminator)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for module in fresh.modules():
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()
            if hasattr(module, "reset_running_stats"):
                module.reset_running_stats()
    return fresh


def linear_probe(
    train: torch.Tensor,
    train_labels: torch.Tensor,
    test: torch.Tensor,
    test_labels: torch.Tensor,
    l2: float = 1e-3,
    iterations: int = 200,
) -> float:
    """Test accuracy of a multinomial logistic regression fitted by L-BFGS to `train`
    (standardised with its own mean and std; the same applied to `test`)."""
    mean, std = train.mean(0), train.std(0).clamp(min=1e-6)
    x, t = (train - mean) / std, (test - mean) / std
    x = torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], 1)
    t = torch.cat([t, torch.ones(len(t), 1, dtype=t.dtype)], 1)
    classes = int(max(train_labels.max(), test_labels.max())) + 1
    weights = torch.zeros(x.shape[1], classes, dtype=x.dtype, requires_grad=True)
    optimizer = torch.optim.LBFGS(
        [weights], max_iter=iterations, line_search_fn="strong_wolfe", tolerance_grad=1e-9
    )

    def objective() -> torch.Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(x @ weights, train_labels) + l2 / 2 * weights[:-1].square().sum()
        loss.backward()
        return loss

    optimizer.step(objective)
    with torch.no_grad():
        return float(((t @ weights).argmax(1) == test_labels).double().mean())


@METRICS.register(
    "d-probe",
    requires={"images", "classes"},
    needs_discriminator=True,
    keys=tuple(
        f"d_probe_{kind}_{k}" for k in (1000, 10000) for kind in ("accuracy", "random", "pixels")
    ),
    names={
        f"d_probe_{kind}_{k}": f"probe on {what}, {k:,} labels"
        for k in (1000, 10000)
        for kind, what in (
            ("accuracy", "D's features"),
            ("random", "a random D's"),
            ("pixels", "pixels"),
        )
    },
    roles={"samples": "samples"},
)
def d_probe(
    *, labels: tuple[int, ...] = (1000, 10000), samples: int = 10000, l2: float = 1e-3
) -> MetricFn:
    """Test accuracy of a linear classifier on the trained discriminator's penultimate
    features, per number of labels, beside a random discriminator and raw pixels."""

    def measure(ctx: EvalContext) -> dict[str, Measurement]:
        data, gan = ctx.data, ctx.gan
        if getattr(data.train, "labels", None) is None:
            raise ValueError(f"d-probe needs a labelled dataset; {data.name} has no labels")
        if max(labels) > len(data.train.images):
            raise ValueError(
                f"d-probe labels = {max(labels)}: {data.name}'s training split has "
                f"{len(data.train.images)} labelled images; set labels to at most that"
            )
        order = torch.randperm(
            len(data.train.images), generator=torch.Generator().manual_seed(LABEL_SEED)
        )[: max(labels)]
        train_images, train_labels = data.train.images[order], data.train.labels[order].long()
        test_images = data.test.images[:samples]
        test_labels = data.test.labels[:samples].long()
        features = {
            "accuracy": _features(gan, gan.discriminator, train_images, test_images),
            "random": _features(
                gan, randomly_initialised(gan.discriminator), train_images, test_images
            ),
            "pixels": (train_images.flatten(1).double(), test_images.flatten(1).double()),
        }
        settings = {
            "labels": list(labels),
            "test_samples": len(test_images),
            "label_seed": LABEL_SEED,
            "layer": "input of the last layer, max-pooled to <= 4x4",
            "probe": f"logistic regression, L-BFGS, l2 {l2}",
        }
        out = {}
        for k in labels:
            for kind, (train, test) in features.items():
                accuracy = linear_probe(train[:k], train_labels[:k], test, test_labels, l2)
                out[f"d_probe_{kind}_{k}"] = Measurement(
                    accuracy, "fraction", True, {**settings, "features": kind}
                )
        return out

    return measure


def _features(
    gan: GAN, discriminator: nn.Module, train: torch.Tensor, test: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    return tuple(discriminator_features(discriminator, x, gan.packing) for x in (train, test))
