"""Datasets: what a GAN is trained on and compared against."""

from ganbench.data.base import Dataset

__all__ = ["Dataset"]
