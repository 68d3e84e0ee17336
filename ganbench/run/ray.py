"""Runs a suite's jobs as Ray tasks: on a Ray started on this machine, or on a cluster.

A task is sent only what pickles plainly (the suite's path and hash, the budget, the
device type and its jobs' keys), and builds its own dataset, model and metrics, as a
worker process does (metric objects holding networks do not travel). It works in a
scratch folder on its node and sends back its fragments and the files it wrote
(pictures, checkpoints), which the driver writes into the run folder: the cluster needs
no shared file system, only the same suite files, datasets and ganbench on every node.
An unfinished job's checkpoint travels to its task, so `--resume` continues it there.
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganbench.errors import GanbenchError
from ganbench.results.files import atomic_write_bytes
from ganbench.runtime.environment import INPUT_ENVS
from ganbench.runtime.ray_cluster import MISSING

#: Seconds cancelled tasks have to clean up before the Ray started for the run stops.
CANCEL_GRACE_S = 10


@dataclass(frozen=True)
class Resources:
    """What each task reserves; torch runs `cpus` threads in it."""

    cpus: int
    gpus: float

    def describe(self) -> str:
        return f"{self.cpus} CPU(s)" + (f" and {self.gpus:g} GPU(s)" if self.gpus else "")


def require_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise GanbenchError(MISSING) from None
    return ray


@dataclass(frozen=True)
class TaskSpec:
    """One group of jobs, as a task receives it."""

    suite_path: str
    suite_hash: str
    budget: Any  # suite.Budget: a frozen dataclass of plain values
    device_type: str
    keys: list[tuple[str, str, int]]  # (model label, dataset label, seed)
    label: str
    threads: int
    #: Files of the run folder the group continues from (its checkpoint), by relative path.
    inputs: dict[str, bytes]


def run_task(spec: TaskSpec) -> tuple[list[dict[str, Any]], dict[str, bytes]]:
    """Runs on a Ray worker: trains and measures one group in a scratch folder and returns
    its fragments and every file it wrote there."""
    import torch

    from ganbench import suite as suite_module
    from ganbench.run.job import RunSettings, run_worker
    from ganbench.run.plan import Job
    from ganbench.runtime.devices import machine_slug

    suite = suite_module.load(spec.suite_path)
    if suite.hash != spec.suite_hash:
        raise GanbenchError(
            f"{spec.suite_path} on node {platform.node()}: differs from the driver's (suite "
            f"hash {suite.hash} vs {spec.suite_hash}); give every node the same suite files"
        )
    models = {c.label: c for c in suite.models}
    datasets = {c.label: c for c in suite.datasets}
    group = [Job(datasets[d], models[m], seed) for m, d, seed in spec.keys]
    device = torch.device(spec.device_type)  # Ray makes the task's GPU the only visible one
    with tempfile.TemporaryDirectory(prefix="ganbench-task-") as scratch:
        root = Path(scratch)
        for relative, data in spec.inputs.items():
            (root / relative).parent.mkdir(parents=True, exist_ok=True)
            (root / relative).write_bytes(data)
        settings = RunSettings(suite, spec.budget, device, root)
        fragments = run_worker(group, spec.label, settings, spec.threads)
        files = {
            str(path.relative_to(root)): path.read_bytes()
            for path in sorted(root.rglob("*"))
            if path.is_file()
        }
    here = {"node": platform.node(), "machine": machine_slug(device), "torch": torch.__version__}
    for fragment in fragments:
        fragment["provenance"] = here
    return fragments, files


def run_groups(
    specs: list[TaskSpec],
    run_dir: Path,
    resources: Resources,
    address: str | None,
) -> Iterator[list[dict[str, Any]]]:
    """Submits every group as a task and yields each one's fragments as it finishes, after
    writing its files into `run_dir`. Closing the iterator (Ctrl-C, an error) cancels the
    tasks still outstanding; a Ray started here is shut down."""
    ray = require_ray()
    started_here = not ray.is_initialized()
    if started_here:
        # Each job's progress lines, not "[repeated 8x across cluster]".
        os.environ.setdefault("RAY_DEDUP_LOGS", "0")
        try:
            ray.init(
                address=address,
                include_dashboard=False,
                runtime_env={"env_vars": {k: os.environ[k] for k in INPUT_ENVS if k in os.environ}},
            )
        except (ConnectionError, RuntimeError, ValueError) as e:
            where = f"at --address {address}" if address else "on this machine"
            message = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise GanbenchError(f"cannot start or reach Ray {where}: {message}") from None
    pending: dict[Any, str] = {}
    try:
        _announce(ray, len(specs), resources, started_here)
        task = ray.remote(run_task).options(
            num_cpus=resources.cpus, num_gpus=resources.gpus, max_retries=0
        )
        started = time.perf_counter()
        pending = {task.remote(spec): spec.label for spec in specs}
        while pending:
            (ref,), _ = ray.wait(list(pending), num_returns=1)
            label = pending.pop(ref)
            fragments, files = ray.get(ref)
            for relative, data in files.items():
                atomic_write_bytes(run_dir / relative, data)
            node = fragments[0]["provenance"]["node"] if fragments else "?"
            print(
                f"{label}: finished on {node} ({time.perf_counter() - started:.0f} s since "
                f"start; {len(pending)} tasks left)",
                file=sys.stderr,
            )
            yield fragments
    finally:
        # A KeyboardInterrupt in each task, so that it removes its scratch folder; a task
        # that does not stop within the grace is killed with its Ray (or left to its own).
        for ref in pending:
            ray.cancel(ref)
        ray.wait(list(pending), num_returns=len(pending), timeout=CANCEL_GRACE_S)
        if started_here:
            ray.shutdown()


def _announce(ray: Any, tasks: int, resources: Resources, started_here: bool) -> None:
    """How many tasks the cluster runs at once; none fitting is an error on a Ray started
    for the run (it would wait forever), a warning on a cluster that may grow."""
    cluster = ray.cluster_resources()
    cpus, gpus = cluster.get("CPU", 0), cluster.get("GPU", 0)
    room = int(min(cpus // resources.cpus, gpus // resources.gpus if resources.gpus else tasks))
    if room < 1:
        message = (
            f"each task needs {resources.describe()}, and the Ray has {cpus:g} CPUs and "
            f"{gpus:g} GPUs; lower --job-cpus/--job-gpus ([training] job_cpus/job_gpus)"
        )
        if started_here:
            raise GanbenchError(message)
        print(f"ganbench: warning: {message}, or wait for the cluster to grow", file=sys.stderr)
    print(
        f"Ray: {tasks} tasks of {resources.describe()} each on {cpus:g} CPUs, {gpus:g} GPUs: "
        f"up to {min(tasks, room)} at once (the estimate above is for one at a time)",
        file=sys.stderr,
    )
