"""The training loop's clock and memory gauge, in one place because throughput is only
as good as its timing: the timed window opens after warm-up, pauses (device synchronised)
around checkpoints and evaluations, and its steps and seconds accumulate in the record so
that a resumed job continues them. Also the CUDA switches that hold for training only, and
the per-job peak-memory reset."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import resource
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import torch

from ganbench.training.record import TrainingRecord


@contextlib.contextmanager
def cuda_switches(device: torch.device, precision: str) -> Iterator[None]:
    """On CUDA, for training only: cuDNN picks the fastest convolution algorithms for the
    fixed batch shape (cudnn.benchmark), and "tf32" allows TensorFloat-32; the previous
    settings are restored after, so that evaluation keeps full fp32."""
    if device.type != "cuda":
        yield
        return
    saved = (
        torch.backends.cudnn.benchmark,
        torch.backends.cuda.matmul.allow_tf32,
        torch.backends.cudnn.allow_tf32,
    )
    torch.backends.cudnn.benchmark = True
    tf32 = precision == "tf32"
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = tf32
    try:
        yield
    finally:
        (
            torch.backends.cudnn.benchmark,
            torch.backends.cuda.matmul.allow_tf32,
            torch.backends.cudnn.allow_tf32,
        ) = saved


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


#: Linux: writing "5" here restarts the process's peak resident set size (VmHWM) from its
#: current size, so that a job's peak is its own and not the largest of every job before.
CLEAR_REFS = Path("/proc/self/clear_refs")
STATUS = Path("/proc/self/status")


def memory_kind(device: torch.device) -> str:
    if device.type == "cuda":
        return "cuda_max_allocated"
    return "job_peak_rss" if CLEAR_REFS.exists() else "process_max_rss"


def reset_peak_memory(device: torch.device) -> None:
    """Starts this job's peak memory from now (what `memory_kind` says is measured). On the
    CPU the memory earlier jobs freed is first returned to the system (glibc keeps freed
    heap otherwise), so that it does not count in this job's resident set."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    elif CLEAR_REFS.exists():
        gc.collect()
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        with contextlib.suppress(OSError):
            CLEAR_REFS.write_text("5")


@contextlib.contextmanager
def frozen_heap() -> Iterator[None]:
    """Leaves the objects alive now (imported modules, the suite, the data) out of the
    collection that reset_peak_memory makes before each job: a full collection over torch's
    and matplotlib's objects took 0.3 s a job, as long as training a small model, and the
    run's estimate trains several probes. They are collected once here, and unfrozen after,
    so that a long-lived process (pytest, a notebook) collects them as before. A heap that
    its program froze itself is left as it is: unfreezing it is not ganbench's to do."""
    if gc.get_freeze_count():
        yield
        return
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _peak_memory(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    if CLEAR_REFS.exists():
        with contextlib.suppress(OSError, ValueError, StopIteration):
            line = next(x for x in STATUS.read_text().splitlines() if x.startswith("VmHWM:"))
            return int(line.split()[1]) / 2**10  # kB
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return rss / (2**20 if sys.platform == "darwin" else 2**10)


class StepTimer:
    """Times the steps of one training segment into `record`.

    The window of timed steps opens after warm-up (a tenth of the segment's steps, at
    most 50: compilation, allocator and cuDNN warm-up), closes at each checkpoint,
    evaluation and the last step (synchronised, so that queued kernels are counted), and
    reopens after; what happens while it is closed is not training time."""

    def __init__(
        self, record: TrainingRecord, device: torch.device, first: int, steps: int, samples: int
    ) -> None:
        self.record, self.device, self.samples = record, device, samples
        remaining = steps - first + 1
        self.warmup_end = first - 1 + (min(max(remaining // 10, 1), 50) if remaining > 1 else 0)
        self.segment_start = time.perf_counter()
        self.window: tuple[int, float] | None = None  # (last untimed step, its time)

    def stepped(self, step: int) -> None:
        """After each step: opens the window once warm-up is over."""
        if step == self.warmup_end:
            synchronize(self.device)
            self.window = (step, time.perf_counter())

    def pause(self, step: int) -> None:
        """Adds this segment's time, and the steps timed since the window opened, to the
        record (synchronised), so that a checkpoint written now carries the timing so far."""
        record = self.record
        synchronize(self.device)
        now = time.perf_counter()
        record.seconds += now - self.segment_start
        self.segment_start = now
        if self.window is not None and step > self.window[0]:
            record.timed_steps += step - self.window[0]
            record.timed_seconds += now - self.window[1]
            record.samples_per_second = record.timed_steps * self.samples / record.timed_seconds
            record.peak_memory_mib = max(_peak_memory(self.device), record.peak_memory_mib or 0.0)
            load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
            if load is not None:
                record.load_average = max(load, record.load_average or 0.0)
            record.cpu_count, record.threads = os.cpu_count() or 0, torch.get_num_threads()

    def resume(self, step: int) -> None:
        """After a pause: what ran meanwhile (evaluation, checkpoint) is not counted."""
        self.segment_start = time.perf_counter()
        if self.window is not None:
            self.window = (step, self.segment_start)


def timed_on_other_threads(record: TrainingRecord, device: torch.device) -> bool:
    """A checkpoint's steps were timed on another number of CPU threads than this segment
    runs on: its figure and this segment's would not be one measurement."""
    return device.type == "cpu" and record.threads not in (0, torch.get_num_threads())


def discard_timing(record: TrainingRecord) -> None:
    record.timed_steps, record.timed_seconds, record.samples_per_second = 0, 0.0, None
