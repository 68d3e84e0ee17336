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

import contextlib
import errno
import json
import math
import os
import re
import statistics
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NotRequired, TypedDict

from ganbench import __version__
from ganbench.errors import GanbenchError, WriteFailed
from ganbench.formatting import file_name
from ganbench.results import lock, protocol
from ganbench.results import schema as result_schema
from ganbench.untrusted import read_regular

SCHEMA_VERSION = 1
RESULT_FILE = "result.json"
#: The largest result file or fragment read (the committed ones are below 250 KB): a
#: symlink to /dev/zero or a 10 GB file is refused before it fills the memory.
JSON_MAX = 64 * 2**20
#: A run folder's name: its number first, `NNNN_<commit8>_<YYYYmmdd_HHMMSS>_<suite>`.
RUN_NAME = re.compile(r"^(\d{4})_")


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


def job_model(name: str) -> str:
    """The model of a job name (job_name's first part), read back as text: a hand-edited
    seed of 5,000 digits is no number Python parses, and none is needed."""
    return name.rsplit("__", 2)[0]


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for one value): the ± of every table."""
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


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
    """Reads a ganbench JSON file, with an error that names the file and what to do. The
    file comes from others (docs/security.md): only a regular file, not a symlink (which
    may lead out of the results tree), of at most JSON_MAX bytes is read, and a number
    Python will not parse (5,000 digits) is a damaged file like any other."""
    try:
        data = json.loads(read_regular(path, JSON_MAX, follow_symlinks=False).decode("utf-8"))
    except FileNotFoundError:
        raise GanbenchError(f"{path}: no such {what}") from None
    except OSError as e:
        raise GanbenchError(f"{path}: cannot read this {what}: {e.strerror or e}") from None
    except (ValueError, RecursionError) as e:  # JSON, UTF-8, an integer of 5,000 digits
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
    """A run folder, known here alone: its number and machine, and every path in it
    (result.json, one fragment per job, the checkpoints, the table, the report and the
    pictures), with the writes that keep them whole. The run, evaluate, report and
    TensorBoard code all find their files here; ResultsStore finds the folders. A model,
    dataset or job name becomes a file name through formatting.file_name: a suite's labels
    are their own file names, and a name from a result file or fragment
    (docs/security.md) stays one file inside the folder."""

    path: Path

    @staticmethod
    def named(path: Path) -> bool:
        """Whether `path` has a run folder's name (NNNN_...)."""
        return bool(RUN_NAME.match(path.name))

    @property
    def number(self) -> int:
        """The run's number (unique across the machines of one results folder)."""
        return int(RUN_NAME.match(self.path.name).group(1))

    @property
    def run(self) -> str:
        """The number as result.json records it ("0007")."""
        return f"{self.number:04d}"

    @property
    def machine(self) -> str:
        """The machine the run was started on: the folder it lies in (runs/<machine>/)."""
        return self.path.parent.name

    @property
    def ref(self) -> str:
        """MACHINE/NAME: the run under runs/, as a job array's claim records it."""
        return f"{self.machine}/{self.path.name}"

    @property
    def result(self) -> Path:
        return self.path / RESULT_FILE

    @property
    def jobs(self) -> Path:
        return self.path / "jobs"

    def fragment(self, job: str) -> Path:
        return self.jobs / f"{file_name(job)}.json"

    def fragments(self, jobs: list[str]) -> dict[str, JobFragment]:
        """The fragments on disk of `jobs` (by job name), checked; the others are left out."""
        return {job: load_fragment(path) for job in jobs if (path := self.fragment(job)).is_file()}

    def write_fragment(self, fragment: JobFragment) -> None:
        name = job_name(fragment["model"], fragment["dataset"], fragment["seed"])
        write_json(self.fragment(name), fragment)

    def write_result(self, result: dict[str, Any]) -> None:
        write_json(self.result, result)

    def write_table(self, markdown: str) -> None:
        atomic_write_text(self.table, markdown)

    def locked(self, name: str = lock.LOCK_FILE) -> contextlib.AbstractContextManager[None]:
        """This process alone writes the folder (results/lock.py); a shard of a job array
        holds a lock of its own (`name`): shards share the folder, not the jobs."""
        return lock.locked(self.path, name)

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    def checkpoint(self, stem: str) -> Path:
        """A job's (or an ensemble's) checkpoint: `stem` is its job name."""
        return self.checkpoints / f"{file_name(stem)}.pt"

    def best(self, job: str) -> Path:
        """The generator at a job's best evaluated step."""
        return self.checkpoints / f"{file_name(job)}_best.pt"

    @property
    def pictures(self) -> Path:
        return self.path / "pictures"

    @property
    def table(self) -> Path:
        """The run's table in markdown, written when the run completes."""
        return self.path / "table.md"

    @property
    def report(self) -> Path:
        """`ganbench report`'s page."""
        return self.path / "report.html"

    def picture(self, model: str, dataset: str, kind: str = "samples") -> Path:
        """A (model, dataset) picture of one of PAIR_PICTURES' kinds: the first seed's
        samples, or every seed's curves."""
        if kind not in PAIR_PICTURES:
            raise ValueError(f"no picture kind {kind!r}; kinds: {', '.join(PAIR_PICTURES)}")
        suffix = "" if kind == "samples" else f"_{kind}"
        return self.pictures / f"{self.pair_stem(model, dataset)}{suffix}.png"

    def pair_stem(self, model: str, dataset: str) -> str:
        """The file stem of a (model, dataset)'s pictures, which the report's own pictures
        start with too."""
        return file_name(pair_name(model, dataset))

    def step_picture(self, job: str, step: int) -> Path:
        """A job's samples at a checkpoint before the last step."""
        return self.pictures / f"{file_name(job)}_step{step}.png"

    def step_pictures(self, job: str) -> list[tuple[int, Path]]:
        """(step, picture) of every checkpoint's samples of `job`, in step order."""
        found = []
        for path in self.pictures.glob(f"{file_name(job)}_step*.png"):
            step = path.stem.rsplit("_step", 1)[1]
            if step.isdigit():
                found.append((int(step), path))
        return sorted(found)


#: The pictures of each (model, dataset) in a run, and what each shows.
PAIR_PICTURES = {
    "samples": "samples",
    "losses": "training losses",
    "signals": "discriminator signals and gradient norms",
    "metrics": "metrics measured during training",
}


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
        mean, std = mean_std(values) if values else (None, None)
        result = MetricResult(
            metric=first.get("metric", key),
            mean=mean,
            std=std,
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
