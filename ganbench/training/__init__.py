"""Training: the one loop every baseline runs through, on CPU or GPU."""

from ganbench.training.build import build_model
from ganbench.training.gan import GAN
from ganbench.training.loop import train
from ganbench.training.losses import Loss
from ganbench.training.record import TrainingDiverged, TrainingRecord

__all__ = ["GAN", "Loss", "TrainingDiverged", "TrainingRecord", "build_model", "train"]
