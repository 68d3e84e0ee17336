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


#: No machine's load average reaches this; a larger one was written by hand.
BUSY_LOAD_MAX = 1e9


def busy(conditions: dict[str, Any]) -> str | None:
    """Why a throughput value was timed on a busy machine, or None: its 1-minute load
    average exceeded the CPUs (plus a margin for the system's own tasks). The load
    counts the job's own threads, so a job alone on its cores stays below."""
    load, cpus = conditions.get("load_average"), conditions.get("cpu_count")
    if (
        isinstance(load, (int, float))
        and abs(load) < BUSY_LOAD_MAX  # a hand-edited 10**400 is no float to print
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


def caveats(m: dict[str, Any], busy_seeds: bool = True) -> list[str]:
    """What a reader must know about a metric result (MetricResult) before using it;
    `busy_seeds=False` leaves out the busy timings (said once per metric by `notes`)."""
    found: dict[str, None] = {}
    for seed, conditions in (m.get("conditions") or {}).items():
        if not isinstance(conditions, dict):
            continue
        if (cap := conditions.get("sample_cap")) is not None:
            found[
                f"{cap} samples (the budget's eval_samples cap): a smoke value, "
                "not comparable with full runs or published numbers"
            ] = None
        if busy_seeds and load_sensitive(m) and (reason := busy(conditions)):
            found[f"seed {seed} {reason}"] = None
        if note := conditions.get("note"):
            found[f"seed {seed}: {note}"] = None
    return list(found)


def load_span(loads: list[float]) -> str:
    """`3.5–4.0`, or `3.8` when the loads agree to a tenth."""
    low, high = min(loads), max(loads)
    return f"{low:.1f}" + (f"–{high:.1f}" if high - low >= 0.05 else "")


def notes(results: dict[str, Any]) -> list[str]:
    """One line per caveat of a run's values, each said once: a busy timing once per
    metric key, naming the pairs and the range of loads their seeds were timed at; the
    other caveats once each, naming the values it holds for ('† model/dataset/key, ...:
    ...')."""
    timed: dict[str, tuple[dict[str, None], list[float], set[int]]] = {}
    lines: dict[str, dict[str, None]] = {}  # caveat -> the values it holds for
    for model, datasets in results.items():
        for dataset, metrics in datasets.items():
            for key, m in metrics.items():
                for conditions in (m.get("conditions") or {}).values():
                    if isinstance(conditions, dict) and load_sensitive(m) and busy(conditions):
                        pairs, loads, cpus = timed.setdefault(key, ({}, [], set()))
                        pairs[f"{model}/{dataset}"] = None
                        loads.append(conditions["load_average"])
                        cpus.add(conditions["cpu_count"])
                for caveat in caveats(m, busy_seeds=False):
                    lines.setdefault(caveat, {})[f"{model}/{dataset}/{key}"] = None
    busy_lines = [
        f"{MARK} {key} ({', '.join(pairs)}): timed at load {load_span(loads)} on "
        f"{'/'.join(map(str, sorted(cpus)))} CPUs (busy: not comparable)"
        for key, (pairs, loads, cpus) in timed.items()
    ]
    return busy_lines + [f"{MARK} {', '.join(where)}: {caveat}" for caveat, where in lines.items()]
