"""Training: the one loop every baseline runs through, on CPU or GPU."""

from ganbench.training.gan import GAN
from ganbench.training.loop import TrainingDiverged, TrainingRecord, train

__all__ = ["GAN", "TrainingDiverged", "TrainingRecord", "train"]
