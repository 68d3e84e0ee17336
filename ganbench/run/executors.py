"""Where a run's groups train: in this process, in worker processes, or as Ray tasks; each
yields every group's fragments as it finishes, and the driver alone writes the run folder."""

from __future__ import annotations

import concurrent.futures
import ctypes
import multiprocessing
import os
import re
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from ganbench.errors import GanbenchError
from ganbench.options import TrainingOptions
from ganbench.results.files import (
    JobFragment,
    RunFolder,
)
from ganbench.run import ray as ray_tasks
from ganbench.run.job import RunSettings, run_worker
from ganbench.run.plan import Job, checkpoint_stem
from ganbench.runtime.devices import device_name


@dataclass(frozen=True)
class ExecutorConfig:
    """Where a run's job groups train: in this process, in `workers` local processes
    (cores/workers torch threads each), or (kind "ray") as Ray tasks on a Ray started here
    or at `address`; `cpus`/`gpus` replace [training] job_cpus/job_gpus."""

    kind: str = "local"
    workers: int = 1
    address: str | None = None
    cpus: int | None = None
    gpus: float | None = None

    def resources(self, training: TrainingOptions, device: torch.device) -> ray_tasks.Resources:
        gpus = self.gpus if self.gpus is not None else training.job_gpus
        return ray_tasks.Resources(
            self.cpus or training.job_cpus, gpus if device.type == "cuda" else 0.0
        )


def job_threads(executor: ExecutorConfig, run: RunSettings, tasks: int) -> int:
    """The torch threads each job trains with (what its throughput records): a Ray task's
    CPUs; in worker processes, the cores split so that workers x threads stays within
    them; else this process's."""
    if executor.kind == "ray":
        return executor.resources(run.suite.training, run.device).cpus
    if executor.workers > 1 and tasks > 1:
        return max(1, (os.cpu_count() or 1) // executor.workers)
    return torch.get_num_threads()


def check_threads(fragments: dict[str, JobFragment], run: RunSettings, threads: int) -> None:
    """Refuses, before any training, to continue a run whose finished jobs were timed on
    another number of torch threads: a job timed here would not aggregate with them, and
    once its fragment is written the run could not be finished on any thread count."""
    planned = device_name(str(run.device), threads)
    for name, fragment in fragments.items():
        for measurement in fragment.get("measurements", {}).values():
            theirs = measurement.get("settings", {}).get("device", planned)
            if theirs != planned and (counted := re.search(r" x(\d+) threads$", theirs)):
                wanted = counted.group(1)
                raise GanbenchError(
                    f"{run.run_dir}: job {name} was timed on {theirs!r}, and the jobs left "
                    f"would train on {planned!r}; continue with {wanted} torch thread(s) per "
                    f"job (OMP_NUM_THREADS={wanted}, --workers giving {wanted} each, or "
                    f"--job-cpus {wanted} with --executor ray), or re-run without --resume"
                )


def in_workers(
    tasks: list[tuple[list[Job], str]],
    run: RunSettings,
    workers: int,
    threads: int,
    salvaged: list[list[JobFragment]],
):
    """Runs the groups in `workers` processes of `threads` torch threads each; yields each
    group's fragments as it finishes (the driver alone writes the run folder).

    On Ctrl-C or SIGTERM the workers are stopped at once (SIGTERM, then SIGKILL after
    WORKER_GRACE_S): their checkpoints stay for --resume, and groups that finished but
    were not yet handed back go to `salvaged`, for the driver to keep."""
    print(f"{workers} worker processes, {threads} torch thread(s) each", file=sys.stderr)
    context = multiprocessing.get_context("spawn")
    pool = concurrent.futures.ProcessPoolExecutor(
        workers, mp_context=context, initializer=start_worker, initargs=(os.getpid(),)
    )
    futures = [pool.submit(run_worker, group, label, run, threads) for group, label in tasks]
    handed: set[concurrent.futures.Future] = set()
    try:
        for future in concurrent.futures.as_completed(futures):
            handed.add(future)
            yield future.result()
    except BaseException:
        # Not future.cancel(): the pool's own thread then fails a cancelled future as the
        # workers stop (InvalidStateError, a traceback under the run's message).
        processes = list(pool._processes.values())  # shutdown() forgets them
        pool.shutdown(wait=False, cancel_futures=True)
        salvaged.extend(
            f.result()
            for f in futures
            if f not in handed and f.done() and not f.cancelled() and f.exception() is None
        )
        stop_workers(processes)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


#: prctl(2)'s request for a signal when the parent dies (linux/prctl.h).
PR_SET_PDEATHSIG = 1


def start_worker(parent: int) -> None:
    """A worker's first acts: leave Ctrl-C to the run (a terminal sends it to the whole
    process group; the run stops its workers itself, and each worker's KeyboardInterrupt
    traceback buried the run's own message), and die with the run."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent(parent)


def die_with_parent(parent: int) -> None:
    """Die when the run's process dies, even by SIGKILL, which
    leaves it no chance to stop its workers (they trained on for nobody, about 800 MB
    each, then blocked: issue 34 #7). Linux signals the orphan at once; elsewhere a
    thread watches for the parent to change. Checkpoints are written atomically, so a
    kill loses only the steps since the last one."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    else:
        threading.Thread(target=_exit_when_orphaned, args=(parent,), daemon=True).start()
    if os.getppid() != parent:  # the parent died before the request was made
        os._exit(1)


def _exit_when_orphaned(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


#: Seconds a worker has to leave after SIGTERM before it is killed.
WORKER_GRACE_S = 10.0


def stop_workers(processes: list[multiprocessing.Process]) -> None:
    """Terminates worker processes, and kills those still there after WORKER_GRACE_S, so
    that none outlives the run (they would train on, holding memory, for nobody)."""
    for process in processes:
        if process.is_alive():
            process.terminate()
    deadline = time.monotonic() + WORKER_GRACE_S
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join()


def on_ray(tasks: list[tuple[list[Job], str]], run: RunSettings, executor: ExecutorConfig):
    """The groups as Ray tasks (run/ray.py), each sent its checkpoint to continue from."""
    resources = executor.resources(run.suite.training, run.device)
    specs = [
        ray_tasks.TaskSpec(
            str(run.suite.path),
            run.suite.hash,
            run.budget,
            run.device.type,
            [(j.model.label, j.dataset.label, j.seed) for j in group],
            label,
            resources.cpus,
            resumed_files(run.run_dir, group),
        )
        for group, label in tasks
    ]
    return ray_tasks.run_groups(specs, run.run_dir, resources, executor.address)


def resumed_files(run_dir: Path, group: list[Job]) -> dict[str, bytes]:
    """The files of the run folder a group continues from (its checkpoint and its best
    step's generator), for a task that runs elsewhere."""
    folder = RunFolder(run_dir)
    paths = [folder.checkpoint(checkpoint_stem(group)), folder.best(group[0].name)]
    return {str(p.relative_to(run_dir)): p.read_bytes() for p in paths if p.is_file()}
