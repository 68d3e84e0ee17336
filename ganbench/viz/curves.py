"""Curves over training steps, one line per seed: the D and G losses, the discriminator's
signals (mean logits on real and generated samples, gradient norms), and the metrics
measured during training with their best step."""

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


def save_signal_curves(curves: dict[str, dict], path: Path, title: str) -> Path:
    """Mean D logit on real (solid) and generated (dashed) samples; gradient norms of D
    (solid) and G (dashed), log scale: a D that wins outright shows as diverging logits
    and a vanishing G gradient."""
    fig, (ax_logit, ax_norm) = plt.subplots(1, 2, figsize=(9, 3.2), dpi=110, sharex=True)
    for index, (seed, c) in enumerate(sorted(curves.items(), key=lambda item: int(item[0]))):
        colour, signals, steps = f"C{index}", c["signals"], c["loss_steps"]
        if not signals:
            continue
        ax_logit.plot(steps, signals["d_real"], lw=1, color=colour, label=f"seed {seed}")
        ax_logit.plot(steps, signals["d_fake"], lw=1, color=colour, ls="--")
        ax_norm.plot(steps, signals["grad_norm_d"], lw=1, color=colour, label=f"seed {seed}")
        ax_norm.plot(steps, signals["grad_norm_g"], lw=1, color=colour, ls="--")
    ax_logit.set(title="mean D logit: real —, generated --", xlabel="step")
    ax_norm.set(title="gradient norm: D —, G --", xlabel="step", yscale="log")
    ax_logit.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    write_atomically(path, fig.savefig)
    plt.close(fig)
    return path


def save_metric_curves(curves: dict[str, dict], path: Path, title: str) -> Path:
    """One panel per measurement taken during training; the best step of each seed's
    first measurement is marked."""
    keys = list(
        dict.fromkeys(k for c in curves.values() for k in c["evaluations"].get("values", {}))
    )
    fig, axes = plt.subplots(
        1, len(keys), figsize=(3.6 * len(keys), 3.2), dpi=110, squeeze=False, sharex=True
    )
    for ax, key in zip(axes[0], keys, strict=True):
        for index, (seed, c) in enumerate(sorted(curves.items(), key=lambda i: int(i[0]))):
            evaluations = c["evaluations"]
            values = evaluations.get("values", {}).get(key)
            if not values:
                continue
            points = [
                (s, v) for s, v in zip(evaluations["steps"], values, strict=True) if v is not None
            ]
            ax.plot(
                *zip(*points, strict=True),
                lw=1,
                marker=".",
                color=f"C{index}",
                label=f"seed {seed}",
            )
            best = evaluations.get("best")
            if best and best["key"] == key:
                ax.plot(best["step"], best["value"], marker="*", ms=10, color=f"C{index}")
        ax.set(title=key, xlabel="step")
    axes[0][0].legend(fontsize=8)
    fig.suptitle(f"{title}: metrics during training (* best)")
    fig.tight_layout()
    write_atomically(path, fig.savefig)
    plt.close(fig)
    return path


def save_fid_infinity_plot(fits: dict[str, dict], key: str, path: Path, title: str) -> Path:
    """FID_N against 1/N with the fitted line to 1/N = 0 (FID-infinity), one colour per
    seed: `fits[seed] = {"sizes": [...], "fids": [...], "slope": b}` and the intercept
    in `fits[seed]["value"]`."""
    fig, ax = plt.subplots(figsize=(5, 3.4), dpi=110)
    for index, (seed, fit) in enumerate(sorted(fits.items(), key=lambda item: int(item[0]))):
        x = [1 / n for n in fit["sizes"]]
        ax.scatter(x, fit["fids"], s=10, color=f"C{index}", label=f"seed {seed}: FID_N")
        ends = [0.0, max(x)]
        ax.plot(
            ends,
            [fit["value"] + fit["slope"] * e for e in ends],
            color=f"C{index}",
            lw=1,
            label=f"fit: {key} = {fit['value']:.4g}",
        )
    ax.set(xlabel="1 / N", ylabel="FID_N", title=title)
    ax.set_xlim(left=0)
    ax.legend(fontsize=7)
    fig.tight_layout()
    write_atomically(path, fig.savefig)
    plt.close(fig)
    return path


def fid_infinity_pictures(ctx) -> list[tuple[Path, str]]:
    """FID_N against 1/N with the fit, for each FID-infinity value (the fid and fid-mnist
    metrics' report hook, metrics/extras.py): the fit's points are in its conditions."""
    out = []
    for key, m in ctx.measured.items():
        per_seed = {
            seed: {**c["fit"], "value": m["per_seed"][seed]}
            for seed, c in (m.get("conditions") or {}).items()
            if isinstance(c, dict) and "fit" in c and m["per_seed"].get(seed) is not None
        }
        if per_seed:
            path = save_fid_infinity_plot(
                per_seed, key, ctx.pictures / f"{ctx.stem}_{key}.png", ctx.title
            )
            out.append((path, f"{key}: FID_N against 1/N and the line fitted to 1/N = 0"))
    return out
