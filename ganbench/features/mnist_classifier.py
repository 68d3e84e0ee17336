"""A small MNIST CNN trained by ganbench itself: a cheap FID for 28x28 digits.

Its 128-d penultimate activations give "FID-MNIST", far cheaper than
Inception on CPU and more sensitive to digit shape; its logits classify each
channel of Stacked-MNIST. The committed weights (weights/mnist_classifier.pt)
were produced by:

    python -m ganbench.features.mnist_classifier --epochs 3 --out ganbench/features/weights/mnist_classifier.pt

on the packaged MNIST train split (seed 0); the command prints the test
accuracy (the test suite checks >= 99% on the real test split). The same network
trained the same way on Fashion-MNIST (extractor "fashion-classifier", for the class
metrics of that dataset) was produced by:

    python -m ganbench.features.mnist_classifier --dataset fashion-mnist --epochs 3 --out ganbench/features/weights/fashion_classifier.pt
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ganbench.errors import GanbenchError
from ganbench.features.base import ImageList
from ganbench.registry import EXTRACTORS

WEIGHTS = Path(__file__).parent / "weights" / "mnist_classifier.pt"
FASHION_WEIGHTS = Path(__file__).parent / "weights" / "fashion_classifier.pt"
#: Each extractor's training set and committed weights (the same network, trained alike).
CLASSIFIERS = {
    "mnist-classifier": ("mnist", WEIGHTS),
    "fashion-classifier": ("fashion-mnist", FASHION_WEIGHTS),
}
MEAN, STD = 0.1307, 0.3081  # MNIST train pixel statistics, the usual normalisation


class MnistCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 5, padding=2)
        self.conv2 = nn.Conv2d(32, 64, 5, padding=2)
        self.fc1 = nn.Linear(64 * 7 * 7, 128)
        self.fc2 = nn.Linear(128, 10)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (N, 1, 28, 28) -> 128-d penultimate activations; floats in [0, 255] are
        taken as they are (the path length measures unquantised images, in float64)."""
        x = images if images.is_floating_point() else images.float()
        x = (x / 255 - MEAN) / STD
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return F.relu(self.fc1(x.flatten(1)))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.features(images))


def file_sha1(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


def load_classifier(path: Path = WEIGHTS, device: torch.device | str = "cpu") -> MnistCNN:
    if not path.is_file():
        raise GanbenchError(
            f"{path}: MNIST classifier weights missing; reinstall ganbench or "
            "train them: python -m ganbench.features.mnist_classifier"
        )
    model = MnistCNN()
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.eval().to(device)


class MnistFeatures:
    """The classifier's 128-d penultimate features, as an extractor (`name`: which of
    CLASSIFIERS' weights)."""

    dim = 128
    has_classifier = True

    def __init__(self, device: torch.device | str = "cpu", name: str = "mnist-classifier") -> None:
        self.name = name
        weights = CLASSIFIERS[name][1]
        self.model = load_classifier(weights, device=device)
        self.settings = {
            "extractor": self.name,
            "weights_sha1": file_sha1(weights),
            "layer": "fc1 (128, after ReLU)",
            "resize": "none (28x28 only)",
        }

    def _check(self, images: torch.Tensor) -> torch.Tensor:
        if isinstance(images, ImageList):  # the network has one input size and no resize
            raise GanbenchError(
                f"{self.name} features need 1x28x28 images, and these differ in size "
                f"(the largest {images.largest()}); use the inception extractor"
            )
        if images.shape[1:] != (1, 28, 28):
            raise GanbenchError(
                f"{self.name} features need 1x28x28 images, got "
                f"{tuple(images.shape[1:])}; use the inception extractor"
            )
        return images

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return self.model.features(self._check(images))

    def head(self, features: torch.Tensor) -> torch.Tensor:
        """The 10 digit logits from the 128-d features (is-mnist)."""
        return self.model.fc2(features)

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self(images))

    def classifier_sha1(self) -> str:
        return self.settings["weights_sha1"]


@EXTRACTORS.register("mnist-classifier", channels=1)
def mnist_classifier(*, device: str = "cpu") -> MnistFeatures:
    """128-d features of ganbench's MNIST CNN (>= 99% test accuracy), 28x28 grayscale only."""
    return MnistFeatures(device)


@EXTRACTORS.register("fashion-classifier", channels=1)
def fashion_classifier(*, device: str = "cpu") -> MnistFeatures:
    """128-d features of the same CNN trained on Fashion-MNIST, 28x28 grayscale only."""
    return MnistFeatures(device, "fashion-classifier")


def accuracy(model: MnistCNN, images: torch.Tensor, labels: torch.Tensor) -> float:
    with torch.inference_mode():
        predictions = torch.cat(
            [model(images[i : i + 1000]).argmax(1) for i in range(0, len(images), 1000)]
        )
    return (predictions == labels).float().mean().item()


def train_classifier(epochs: int, seed: int = 0, dataset: str = "mnist") -> tuple[MnistCNN, float]:
    from ganbench.registry import build_dataset
    from ganbench.runtime.progress import Progress

    data = build_dataset(dataset)
    torch.manual_seed(seed)
    model = MnistCNN()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    images, labels = data.train.images, data.train.labels
    batch = 128
    steps_per_epoch = len(images) // batch
    progress = Progress(f"{dataset} classifier", epochs * steps_per_epoch)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, 3e-3, total_steps=epochs * steps_per_epoch
    )
    g = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        order = torch.randperm(len(images), generator=g)
        for step in range(steps_per_epoch):
            index = order[step * batch : (step + 1) * batch]
            loss = F.cross_entropy(model(images[index]), labels[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            progress.update(epoch * steps_per_epoch + step + 1, f"loss {loss.item():.4f}")
    progress.close()
    model.eval()
    return model, accuracy(model, data.test.images, data.test.labels)


def main() -> None:
    parser = argparse.ArgumentParser(description="Train ganbench's MNIST-style classifiers.")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--dataset", choices=("mnist", "fashion-mnist"), default="mnist")
    parser.add_argument("--out", type=Path, default=WEIGHTS)
    args = parser.parse_args()
    model, test_accuracy = train_classifier(args.epochs, dataset=args.dataset)
    print(f"test accuracy {test_accuracy:.4f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), args.out)
    print(f"wrote {args.out} (sha1 {file_sha1(args.out)})")


if __name__ == "__main__":
    main()
