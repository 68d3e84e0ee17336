"""Result files: schema, atomic writes, run folders and aggregation over seeds.

A run lives in `results/runs/<machine>/<NNNN>_<commit8>_<YYYYmmdd_HHMMSS>_<suite>/`:
`result.json` (the aggregate, rewritten after every finished job), `table.md`,
`jobs/` (one fragment per model/dataset/seed, the unit of resumption and of
scale-out) and `pictures/`. A folder rather than a single file because the
pictures and fragments belong to the run; the numbering follows pytest-benchmark.
Every write goes to a temporary file in the same folder and is renamed over
the old one, so a crash or Ctrl-C never leaves a half-written file behind.
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NotRequired, TypedDict

from ganbench import __version__, protocol, result_schema
from ganbench.errors import GanbenchError, WriteFailed

SCHEMA_VERSION = 1
RESULT_FILE = "result.json"
RUN_DIR_PATTERN = re.compile(r"^(\d{4})_")


class MetricResult(TypedDict):
    metric: str  # the registered metric that produced this key (e.g. "throughput")
    mean: float | None
    std: float | None
    n: int
    per_seed: dict[str, float | None]
    unit: str
    higher_is_better: bool
    settings: dict[str, Any]
    #: Per seed, how the value came about (metrics.base.Measurement.conditions); only
    #: present when a seed has any.
    conditions: NotRequired[dict[str, dict[str, Any]]]


class JobFragment(TypedDict):
    schema_version: int
    model: str
    dataset: str
    seed: int
    status: str  # "ok" or "failed"
    error: str | None
    measurements: dict[str, dict[str, Any]]
    training: dict[str, Any] | None


def job_name(model: str, dataset: str, seed: int) -> str:
    """File stem of a job's fragment and checkpoint: `<model>__<dataset>__seed<k>`."""
    return f"{pair_name(model, dataset)}__seed{seed}"


def pair_name(model: str, dataset: str) -> str:
    """File stem of the pictures of a (model, dataset): `<model>__<dataset>`."""
    return f"{model}__{dataset}"


def write_failed(path: Path, error: OSError) -> WriteFailed:
    """One line for a failed write: the path, the reason and the errno's name."""
    code = errno.errorcode.get(error.errno or 0, "")
    return WriteFailed(
        f"{path}: cannot write: {error.strerror or error}" + (f" ({code})" if code else "")
    )


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Writes `data` to `path` so that readers see the old file or the new one, never a mix.

    Raises:
        WriteFailed: the disk is full or read-only, or the folder is not writable; the old
            file, if any, is untouched."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o644)  # mkstemp's 0600 would hide results from colleagues
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise write_failed(path, e) from None
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def _json_safe(value: Any) -> Any:
    """NaN/inf are not JSON; they are stored as null (and shown as n/a)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(_json_safe(data), indent=2, sort_keys=False) + "\n")


def read_json(path: Path, what: str) -> dict[str, Any]:
    """Reads a ganbench JSON file, with an error that names the file and what to do."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GanbenchError(f"{path}: no such {what}") from None
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
        error = "nested too deeply" if isinstance(e, RecursionError) else e
        raise GanbenchError(
            f"{path}: not a valid {what} (JSON error: {error}); "
            "restore it from version control or delete it and re-run"
        ) from None
    if not isinstance(data, dict):
        raise GanbenchError(f"{path}: not a {what}: expected a JSON object")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise GanbenchError(
            f"{path}: schema_version is {version!r}, this ganbench "
            f"({__version__}) reads {SCHEMA_VERSION}"
        )
    return data


def load_result(path: Path) -> dict[str, Any]:
    """Loads a result file (or a run folder holding one) and checks its required fields."""
    if path.is_dir():
        path = path / RESULT_FILE
    data = read_json(path, "ganbench result file")
    result_schema.check(data, result_schema.RESULT, path, "ganbench result file")
    return data


def load_fragment(path: Path) -> JobFragment:
    """Loads a job fragment (jobs/*.json) and checks its fields."""
    data = read_json(path, "ganbench job fragment")
    result_schema.check(data, result_schema.FRAGMENT, path, "ganbench job fragment")
    return data


def commit_info(cwd: Path | None = None, results_dir: Path | None = None) -> dict[str, Any]:
    """The git commit of the working directory, and whether it had uncommitted changes.

    Dirty means a change to tracked files or an untracked file outside `results_dir`:
    the runs ganbench itself leaves there are not changes to the code that made them."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        changes = git("status", "--porcelain", "--untracked-files=all").splitlines()
        top = Path(git("rev-parse", "--show-toplevel"))
    except (OSError, subprocess.SubprocessError):
        return {"id": "unknown", "dirty": None}
    ignored = (results_dir or Path("results")).resolve()
    dirty = any(
        not (
            line.startswith("??") and (top / line[3:].strip('"')).resolve().is_relative_to(ignored)
        )
        for line in changes
    )
    return {"id": commit, "dirty": dirty}


@dataclass(frozen=True)
class RunFolder:
    """Every path of a run folder, named once: result.json, one fragment per job, the
    checkpoints and the pictures (the run, evaluate, report and TensorBoard code all
    find them here)."""

    path: Path

    @property
    def result(self) -> Path:
        return self.path / RESULT_FILE

    @property
    def jobs(self) -> Path:
        return self.path / "jobs"

    def fragment(self, job: str) -> Path:
        return self.jobs / f"{job}.json"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    def checkpoint(self, stem: str) -> Path:
        """A job's (or an ensemble's) checkpoint: `stem` is its job name."""
        return self.checkpoints / f"{stem}.pt"

    def best(self, job: str) -> Path:
        """The generator at a job's best evaluated step."""
        return self.checkpoints / f"{job}_best.pt"

    @property
    def pictures(self) -> Path:
        return self.path / "pictures"


def run_dirs(results_dir: Path) -> list[Path]:
    """Every run folder under `results_dir/runs`, oldest number first."""
    runs = [
        p
        for p in (results_dir / "runs").glob("*/*")
        if p.is_dir() and RUN_DIR_PATTERN.match(p.name)
    ]
    return sorted(runs, key=lambda p: (int(RUN_DIR_PATTERN.match(p.name).group(1)), p.name))


def loaded_runs(results_dir: Path, skipped: str = "skipped") -> Iterator[tuple[Path, dict]]:
    """(run folder, its result) for every run with a result.json, oldest number first;
    a damaged one is a one-line warning (`ganbench: warning: SKIPPED: ...`) and is left
    out, so that it never hides every other run."""
    for run_dir in run_dirs(results_dir):
        if not RunFolder(run_dir).result.is_file():
            continue
        try:
            yield run_dir, load_result(run_dir)
        except GanbenchError as e:
            print(f"ganbench: warning: {skipped}: {e}", file=sys.stderr)


def new_run_dir(results_dir: Path, machine: str, commit: str, suite: str) -> Path:
    """Creates the next numbered run folder (numbers are unique across machines)."""
    number = (
        max((int(RUN_DIR_PATTERN.match(p.name).group(1)) for p in run_dirs(results_dir)), default=0)
        + 1
    )
    stamp = dt.datetime.now().strftime("%Y%m%d_%H%M%S")
    while True:
        path = results_dir / "runs" / machine / f"{number:04d}_{commit[:8]}_{stamp}_{suite}"
        try:
            path.mkdir(parents=True)
            return path
        except FileExistsError:
            number += 1
        except OSError as e:
            raise write_failed(path, e) from None


def shared_run_dir(results_dir: Path, machine: str, commit: str, suite: str, run_id: str) -> Path:
    """The run folder every shard of `run_id` writes into. The first shard to arrive creates
    it (a numbered run folder like any other) and records its place in run-ids/ID; the
    others, on this host or another sharing the folder, wait for that record (mkdir is
    atomic, also on NFS)."""
    claim = results_dir / "run-ids" / run_id
    record = claim / "run"
    try:
        claim.parent.mkdir(parents=True, exist_ok=True)
        claim.mkdir()
    except FileExistsError:
        for _ in range(300):  # the creator records it at once; allow a slow file system
            if record.is_file():
                return results_dir / "runs" / record.read_text().strip()
            time.sleep(0.1)
        raise GanbenchError(
            f"{claim}: claimed by another shard that recorded no run folder; if no shard "
            "of this run id is alive, delete it and start again"
        ) from None
    except OSError as e:
        raise write_failed(claim, e) from None
    run_dir = committed_run(results_dir, suite, run_id) or new_run_dir(
        results_dir, machine, commit, suite
    )
    atomic_write_text(record, f"{run_dir.parent.name}/{run_dir.name}\n")
    return run_dir


def committed_run(results_dir: Path, suite: str, run_id: str) -> Path | None:
    """The run folder of `run_id` that arrived without its claim: run-ids/ is this
    machine's own (not committed), so a job array whose parts run in different sessions
    or on different machines, committing their fragments in between, finds its run by the
    id its result.json records."""
    for run_dir, header in reversed(list(loaded_runs(results_dir))):
        if (header["suite"].get("run_id"), header["suite"]["name"]) == (run_id, suite):
            return run_dir
    return None


def _remedy(a: dict[str, Any], b: dict[str, Any]) -> str:
    """What to do about seeds measured with other settings: a thread count that differs
    (a run resumed with --workers, or on Ray with other --job-cpus) can be matched."""
    differ = {k for k in a.keys() | b.keys() if a.get(k) != b.get(k)}
    if differ == {"device"} and "threads" in str(a["device"]) + str(b["device"]):
        return (
            "the torch threads differ: continue with as many as the run started with "
            "(OMP_NUM_THREADS, --workers, or --job-cpus with --executor ray), or re-run "
            "without --resume"
        )
    return "re-run without --resume"


def aggregate(fragments: list[JobFragment]) -> dict[str, dict[str, dict[str, MetricResult]]]:
    """results[model][dataset][metric] = mean and sample std over the seeds that finished."""
    grouped: dict[tuple[str, str, str], list[tuple[int, dict[str, Any]]]] = {}
    for frag in fragments:
        if frag["status"] != "ok":
            continue
        for key, m in frag["measurements"].items():
            grouped.setdefault((frag["model"], frag["dataset"], key), []).append((frag["seed"], m))

    results: dict[str, dict[str, dict[str, MetricResult]]] = {}
    for (model, dataset, key), items in grouped.items():
        items.sort(key=lambda item: item[0])
        first = items[0][1]
        for seed, m in items[1:]:
            if protocol.settings(m) != protocol.settings(first):
                raise GanbenchError(
                    f"{model}/{dataset}/{key}: seed {seed} was measured with "
                    f"settings {m['settings']}, seed {items[0][0]} with "
                    f"{first['settings']}; {_remedy(m['settings'], first['settings'])}"
                )
        values = [m["value"] for _, m in items if m["value"] is not None]
        result = MetricResult(
            metric=first.get("metric", key),
            mean=statistics.fmean(values) if values else None,
            std=statistics.stdev(values) if len(values) > 1 else (0.0 if values else None),
            n=len(values),
            per_seed={str(seed): m["value"] for seed, m in items},
            unit=first["unit"],
            higher_is_better=first["higher_is_better"],
            settings=first["settings"],
        )
        if any(m.get("conditions") for _, m in items):
            result["conditions"] = {str(seed): m.get("conditions") or {} for seed, m in items}
        results.setdefault(model, {}).setdefault(dataset, {})[key] = result
    return results
