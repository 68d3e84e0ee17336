"""Training-loss curves: D and G losses over steps, one line per seed."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from ganbench.viz.files import write_atomically


def save_loss_curves(curves: dict[str, dict[str, list]], path: Path, title: str) -> Path:
    """`curves[seed] = {"loss_steps": [...], "loss_d": [...], "loss_g": [...]}`."""
    fig, (ax_d, ax_g) = plt.subplots(1, 2, figsize=(9, 3.2), dpi=110, sharex=True)
    for seed, c in sorted(curves.items(), key=lambda item: int(item[0])):
        ax_d.plot(c["loss_steps"], c["loss_d"], lw=1, label=f"seed {seed}")
        ax_g.plot(c["loss_steps"], c["loss_g"], lw=1, label=f"seed {seed}")
    ax_d.set(title="discriminator loss", xlabel="step")
    ax_g.set(title="generator loss", xlabel="step")
    ax_g.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    write_atomically(path, fig.savefig)
    plt.close(fig)
    return path
