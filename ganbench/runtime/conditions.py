"""Caveats of a measured value: how it came about, shown beside it wherever it is shown.

A value's `conditions` (metrics.base.Measurement) do not make it another metric,
but some make it a poor one: FID from the 100 samples a --quick budget allows,
throughput timed while other work competed for the CPUs. Tables mark such a
value with a dagger and a note, and `compare` will not gate on a busy timing.
"""

from __future__ import annotations

from typing import Any

#: More runnable tasks than CPUs by this many: other work competed with the timed steps.
BUSY_MARGIN = 1.0
MARK = "†"


def busy(conditions: dict[str, Any]) -> str | None:
    """Why a throughput value was timed on a busy machine, or None: its 1-minute load
    average exceeded the CPUs (plus a margin for the system's own tasks). The load
    counts the job's own threads, so a job alone on its cores stays below."""
    load, cpus = conditions.get("load_average"), conditions.get("cpu_count")
    if (
        isinstance(load, (int, float))
        and isinstance(cpus, int)
        and cpus > 0
        and load > cpus + BUSY_MARGIN
    ):
        return f"was timed at load {load:.1f} on {cpus} CPUs (busy: not comparable)"
    return None


def load_sensitive(m: dict[str, Any]) -> bool:
    """Whether a value depends on what else the machine ran: a time does, peak memory
    (unit MiB) does not, so a busy machine does not make it a poor one."""
    return m.get("unit") != "MiB"


def caveats(m: dict[str, Any]) -> list[str]:
    """What a reader must know about a metric result (MetricResult) before using it."""
    found: dict[str, None] = {}
    for seed, conditions in (m.get("conditions") or {}).items():
        if not isinstance(conditions, dict):
            continue
        if (cap := conditions.get("sample_cap")) is not None:
            found[
                f"{cap} samples (the budget's eval_samples cap): a smoke value, "
                "not comparable with full runs or published numbers"
            ] = None
        if load_sensitive(m) and (reason := busy(conditions)):
            found[f"seed {seed} {reason}"] = None
        if note := conditions.get("note"):
            found[f"seed {seed}: {note}"] = None
    return list(found)


def notes(results: dict[str, Any]) -> list[str]:
    """One line per caveat of a table's values: '† model/dataset/key: ...'."""
    return [
        f"{MARK} {model}/{dataset}/{key}: {caveat}"
        for model, datasets in results.items()
        for dataset, metrics in datasets.items()
        for key, m in metrics.items()
        for caveat in caveats(m)
    ]
