"""Training throughput and peak memory.

Read from the training loop's own timing: samples per second over the steps
after warm-up, the device synchronised at both ends (see training/loop.py),
and peak memory (CUDA allocator peak on a GPU; on a Linux CPU the process's
peak resident set size since the job's training began, reset per job so that
in-process jobs do not inherit each other's peaks).
Each value carries the machine's load while it was timed (ganbench/runtime/conditions.py):
a number measured while other work competed for the CPUs is shown as such and
not gated on.
"""

from __future__ import annotations

import torch

from ganbench.metrics.base import EvalContext, Measurement, MetricFn
from ganbench.registry import METRICS
from ganbench.runtime.devices import device_name


@METRICS.register(
    "throughput",
    keys=("samples_per_second", "peak_memory_mib"),
    names={"samples_per_second": "throughput", "peak_memory_mib": "peak memory"},
    needs_training=True,
)
def throughput_metric() -> MetricFn:
    """Training samples (images or points) per second after warm-up, and peak memory."""

    def measure(ctx: EvalContext) -> dict[str, Measurement]:
        t = ctx.training
        settings = {
            "device": device_name(t.device),
            "batch_size": t.batch_size,
            "torch": torch.__version__,
        }
        if t.ensemble > 1:  # this seed's share of an ensemble's samples/s: another measurement
            settings["ensemble"] = t.ensemble
        conditions = {
            "timed_steps": t.timed_steps,
            "load_average": t.load_average,
            "cpu_count": t.cpu_count,
            "threads": t.threads,
        }
        if t.samples_per_second is None:
            conditions["note"] = f"not timed: {t.steps} step(s) leave none after warm-up"
        if t.resumed_from is not None:
            conditions["resumed_from"] = t.resumed_from
        return {
            "samples_per_second": Measurement(
                t.samples_per_second, "samples/s", True, settings, conditions
            ),
            "peak_memory_mib": Measurement(
                t.peak_memory_mib,
                "MiB",
                False,
                {**settings, "memory_kind": t.memory_kind},
                conditions,
            ),
        }

    return measure
