"""TensorBoard event files of a run: one TensorBoard run per (model, dataset, seed).

Written from a finished job's fragment and pictures, not from inside the
training loop: the loop stays free of logging calls, a resumed job writes the
same events as an uninterrupted one (its folder is rewritten, never appended
to), and a job that ran in a worker process or on another host is exported the
same way. Scalars: losses, discriminator signals, metrics measured during
training (at their steps) and the final measurements (at the last step); images:
the sample grids drawn at checkpoints and at the end.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ganbench.errors import GanbenchError
from ganbench.results import job_name, pair_name

EXTRA = "pip install -e '.[tensorboard]'"


def _writer(folder: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise GanbenchError(f"--tensorboard needs the tensorboard package; run: {EXTRA}") from None
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("events.out.tfevents.*"):  # a rerun replaces, never appends
        old.unlink()
    return SummaryWriter(log_dir=str(folder))


def _series(writer, tag: str, steps: list[int], values: list[Any]) -> None:
    for step, value in zip(steps, values, strict=True):
        if value is not None:
            writer.add_scalar(tag, value, step)


def write_job(fragment: dict[str, Any], run_dir: Path, out: Path, drawn: bool) -> Path | None:
    """The job's events under `out`/<job name>; None for a job that did not finish.
    `drawn`: this seed's final samples are the (model, dataset) picture of the run."""
    training = fragment.get("training")
    if fragment["status"] != "ok" or not training:
        return None
    import numpy as np
    from PIL import Image

    name = job_name(fragment["model"], fragment["dataset"], fragment["seed"])
    folder = out / name
    writer = _writer(folder)
    try:
        steps = training["loss_steps"]
        _series(writer, "loss/discriminator", steps, training["loss_d"])
        _series(writer, "loss/generator", steps, training["loss_g"])
        for signal, values in (training.get("signals") or {}).items():
            _series(writer, f"signals/{signal}", steps, values)
        evaluations = training.get("evaluations") or {}
        for key, values in evaluations.get("values", {}).items():
            _series(writer, f"during_training/{key}", evaluations["steps"], values)
        for key, m in fragment["measurements"].items():
            if m["value"] is not None:
                writer.add_scalar(f"final/{key}", m["value"], training["steps"])
        pictures = run_dir / "pictures"
        grids = {
            int(m.group(1)): p
            for p in pictures.glob(f"{name}_step*.png")
            if (m := re.fullmatch(rf"{re.escape(name)}_step(\d+)\.png", p.name))
        }
        final = pictures / f"{pair_name(fragment['model'], fragment['dataset'])}.png"
        if drawn and final.is_file():
            grids.setdefault(training["steps"], final)
        for step, path in sorted(grids.items()):
            with Image.open(path) as image:
                pixels = np.asarray(image.convert("RGB"))
            writer.add_image("samples", pixels, step, dataformats="HWC")
    finally:
        writer.close()
    return folder
