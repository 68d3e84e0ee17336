"""Real vs generated points over the modes of a mixture of Gaussians.

The picture that shows mode collapse at a glance: each mode drawn with its
3-std high-quality circle, real samples in grey, generated ones in colour.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch

from ganbench.data.mog import MixtureOfGaussians
from ganbench.viz.files import write_atomically


def save_scatter(
    data: MixtureOfGaussians,
    real: torch.Tensor,
    generated: torch.Tensor,
    path: Path,
    title: str,
    threshold_std: float = 3.0,
) -> Path:
    """Writes a PNG of `real` and `generated` points over the modes of `data`."""
    fig, ax = plt.subplots(figsize=(5, 5), dpi=120)
    ax.scatter(real[:, 0], real[:, 1], s=3, c="0.7", label="real", linewidths=0)
    ax.scatter(
        generated[:, 0],
        generated[:, 1],
        s=3,
        c="tab:blue",
        alpha=0.6,
        label="generated",
        linewidths=0,
    )
    for mean in data.means.tolist():
        ax.add_patch(
            plt.Circle(mean, threshold_std * data.std, fill=False, color="tab:red", lw=0.8)
        )
    span = float(data.means.abs().max()) * 1.5 + 0.5
    ax.set(xlim=(-span, span), ylim=(-span, span), aspect="equal", title=title)
    ax.legend(loc="upper right", markerscale=4, fontsize=8)
    fig.tight_layout()
    write_atomically(path, fig.savefig)
    plt.close(fig)
    return path
