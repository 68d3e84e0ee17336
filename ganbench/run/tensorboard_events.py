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

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from ganbench.errors import GanbenchError
from ganbench.formatting import file_name
from ganbench.results.files import RunFolder, job_name

EXTRA = "pip install -e '.[tensorboard]'"


def check_folder(out: Path) -> None:
    """Refuses, before anything trains, a --tensorboard that cannot take files: a file, a
    read-only or pseudo file system (/proc, /sys), a full disk."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".ganbench-probe-") as probe:
            probe.write(b"\0" * 4096)
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as e:
        raise GanbenchError(
            f"--tensorboard {out}: cannot write events there ({e.strerror or e}); give a "
            "writable folder"
        ) from None


def events_folder(out: Path, fragment: dict[str, Any]) -> Path:
    """A job's TensorBoard run: its job name, as a file name (a fragment is data)."""
    return out / file_name(job_name(fragment["model"], fragment["dataset"], fragment["seed"]))


def has_events(out: Path, fragment: dict[str, Any]) -> bool:
    return any(events_folder(out, fragment).glob("events.out.tfevents.*"))


def _writer(folder: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise GanbenchError(f"--tensorboard needs the tensorboard package; run: {EXTRA}") from None
    folder.mkdir(parents=True, exist_ok=True)
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
    folder = events_folder(out, fragment)
    # Written beside, then renamed over the old folder: a full disk leaves the old events
    # or none, never a truncated file TensorBoard would half-read.
    staging = out / f".{folder.name}.writing"
    shutil.rmtree(staging, ignore_errors=True)
    writer = _writer(staging)
    try:
        _write(writer, fragment, training, run_dir, drawn)
        writer.close()
        shutil.rmtree(folder, ignore_errors=True)  # a rerun replaces, never appends
        staging.rename(folder)
    except BaseException:
        writer.close()
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return folder


def _write(writer, fragment: dict[str, Any], training: dict, run_dir: Path, drawn: bool) -> None:
    """Scalars: losses, signals, metrics during training and at the end; sample grids."""
    import numpy as np
    from PIL import Image

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
    folder = RunFolder(run_dir)
    job = job_name(fragment["model"], fragment["dataset"], fragment["seed"])
    grids = dict(folder.step_pictures(job))
    final = folder.picture(fragment["model"], fragment["dataset"])
    if drawn and final.is_file():
        grids.setdefault(training["steps"], final)
    for step, path in sorted(grids.items()):
        with Image.open(path) as image:
            pixels = np.asarray(image.convert("RGB"))
        writer.add_image("samples", pixels, step, dataformats="HWC")
