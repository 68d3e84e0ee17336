"""Training: the one loop every baseline runs through, on CPU or GPU."""

from ganbench.training.gan import GAN
from ganbench.training.loop import TrainingDiverged, TrainingRecord, train
from ganbench.training.losses import Loss

__all__ = ["GAN", "Loss", "TrainingDiverged", "TrainingRecord", "train"]
