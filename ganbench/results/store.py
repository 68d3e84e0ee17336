"""The results folder, owned by one class: run numbering, job-array claims, listing and
loading every run (a damaged one a one-line warning), finding a run by number, path or
run id, and the one door `ganbench run` takes into it: a run folder created, claimed by
a shard, resumed or refused, locked, in `open_run`. The layout (as pytest-benchmark's
storage keeps one folder per machine):

    results/runs/<machine>/<NNNN>_<commit>_<date>_<suite>/   one run (results.files.RunFolder)
    results/run-ids/<ID>/run                                  a job array's claim (not committed)
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganbench.errors import GanbenchError
from ganbench.formatting import say, warn
from ganbench.results.files import (
    JobFragment,
    RunFolder,
    atomic_write_text,
    load_result,
    write_failed,
)
from ganbench.results.lock import LOCK_FILE
from ganbench.untrusted import read_regular

#: A run named by number ("3", "0003") or MACHINE/NUMBER ("cpu-x86-64/3").
RUN_REF = re.compile(r"^(?:(?P<machine>[\w.-]+)/)?(?P<number>\d+)$")
#: A job array's claim records one MACHINE/NAME; anything longer is not one ganbench wrote.
RECORD_MAX = 4096


@dataclass(frozen=True)
class RunRequest:
    """What `ganbench run` asks of the results folder. The suite (name and content hash)
    and the options that choose its jobs (--quick, --budget, --only, --seeds) are what
    a --resume must match; `run_id` and `shard` name a job array's run and this
    process's part of it; `force` continues a run started by another commit or machine
    (recorded in result.json)."""

    suite: str
    suite_hash: str
    quick: bool = False
    budget_name: str | None = None
    only: tuple[str, ...] = ()
    seeds: tuple[int, ...] | None = None
    resume: bool = False
    force: bool = False
    run_id: str | None = None
    shard: tuple[int, int] | None = None

    def matches(self, suite: dict[str, Any]) -> bool:
        """Whether a result's `suite` section records this suite and these options."""
        recorded = (
            suite.get("name"),
            suite.get("hash"),
            suite.get("quick"),
            suite.get("budget_name"),
            suite.get("only") or [],
            suite.get("seeds"),
        )
        seeds = list(self.seeds) if self.seeds else None
        return recorded == (
            self.suite,
            self.suite_hash,
            self.quick,
            self.budget_name,
            list(self.only),
            seeds,
        )

    @property
    def lock_name(self) -> str:
        """A shard's own lock (shards share the folder, not the jobs), or the run's."""
        return f".lock-shard-{self.shard[0]}-of-{self.shard[1]}" if self.shard else LOCK_FILE


@dataclass
class OpenRun:
    """A run folder this process holds (locked): its result so far (None for a new run,
    or a job array's before any shard recorded one) and the fragments of the asked jobs
    already on disk (finished earlier, or by other shards)."""

    folder: RunFolder
    result: dict[str, Any] | None
    fragments: dict[str, JobFragment] = field(default_factory=dict)


def resume_mismatch(result: dict[str, Any], here: dict[str, Any], folder: RunFolder) -> str | None:
    """What differs between where a run started and where it would be continued, or None."""
    started = {
        "commit": result["commit_info"]["id"],
        "machine": folder.machine,
        "torch": result["machine_info"].get("torch"),
    }
    diffs = [f"{k} {started[k]} -> {here[k]}" for k in started if started[k] != here[k]]
    return "; ".join(diffs) or None


def continue_here(
    result: dict[str, Any], here: dict[str, Any], folder: RunFolder, force: bool, joining: bool
) -> None:
    """Refuses to continue a run started elsewhere unless forced, and records a resume
    in `result` (a shard joining its run is not one: each fragment records where it was
    made)."""
    mismatch = resume_mismatch(result, here, folder)
    if mismatch and not force:
        raise GanbenchError(
            f"{folder.path}: started elsewhere ({mismatch}); continuing it would mix their "
            "numbers in one result. Start a new run (without --resume or with another "
            "--run-id), or add --force to continue it anyway (recorded in result.json)"
        )
    if joining:
        return
    result.setdefault("resumes", []).append(
        {
            "datetime": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            **here,
            "forced": mismatch,
        }
    )


@dataclass(frozen=True)
class ResultsStore:
    root: Path

    @property
    def runs(self) -> Path:
        return self.root / "runs"

    def claim(self, run_id: str) -> Path:
        """Where the first shard of job array `run_id` records its run folder."""
        return self.root / "run-ids" / run_id

    def run_dirs(self) -> list[Path]:
        """Every run folder, oldest number first. A machine or run folder that is a symlink
        is not one (links() names them): it may lead anywhere, and a results tree is read
        from inside itself alone (docs/security.md)."""
        found = [
            p
            for p in self.runs.glob("*/*")
            if RunFolder.named(p) and not p.parent.is_symlink() and not p.is_symlink()
            if p.is_dir()
        ]
        return sorted(found, key=lambda p: (RunFolder(p).number, p.name))

    def links(self) -> list[Path]:
        """The symlinks among the machine folders and run folders, which run_dirs leaves
        out."""
        machines = sorted(self.runs.glob("*"))
        runs = (p for m in machines if not m.is_symlink() for p in sorted(m.glob("*")))
        return [p for p in machines if p.is_symlink()] + [
            p for p in runs if RunFolder.named(p) and p.is_symlink()
        ]

    @staticmethod
    def run_key(run_dir: Path) -> tuple[str, str]:
        """(machine, folder name) of a run folder: what tells apart two runs of one number
        once results made on different machines are merged into one tree."""
        return RunFolder(run_dir).machine, run_dir.name

    def loaded(self, skipped: str = "skipped") -> Iterator[tuple[Path, dict[str, Any]]]:
        """(run folder, its result) for every run with a result.json, oldest number first;
        a damaged one is a one-line warning (`ganbench: warning: SKIPPED: ...`) and is left
        out, so that it never hides every other run."""
        for link in self.links():
            warn(f"{skipped}: {link}: a symlink; only folders inside {self.runs} are read")
        for run_dir in self.run_dirs():
            if not os.path.lexists(RunFolder(run_dir).result):
                continue
            try:
                yield run_dir, load_result(run_dir)
            except GanbenchError as e:
                warn(f"{skipped}: {e}")

    def new_run(self, machine: str, commit: str, suite: str) -> Path:
        """Creates the next numbered run folder (numbers are unique across machines)."""
        number = max((RunFolder(p).number for p in self.run_dirs()), default=0) + 1
        stamp = dt.datetime.now().strftime("%Y%m%d_%H%M%S")
        while True:
            path = self.runs / machine / f"{number:04d}_{commit[:8]}_{stamp}_{suite}"
            try:
                path.mkdir(parents=True)
                return path
            except FileExistsError:
                number += 1
            except OSError as e:
                raise write_failed(path, e) from None

    def shared_run(self, machine: str, commit: str, suite: str, run_id: str) -> Path:
        """The run folder every shard of `run_id` writes into. The first shard to arrive
        finds it (committed_run) or creates it, and records its place in run-ids/ID; the
        others, on this host or another sharing the folder, wait for that record (mkdir
        is atomic, also on NFS)."""
        claim = self.claim(run_id)
        record = claim / "run"
        try:
            claim.parent.mkdir(parents=True, exist_ok=True)
            claim.mkdir()
        except FileExistsError:
            for _ in range(300):  # the creator records it at once; allow a slow file system
                if record.is_file():
                    return self.recorded_run(record)
                time.sleep(0.1)
            raise GanbenchError(
                f"{claim}: claimed by another shard that recorded no run folder; if no shard "
                "of this run id is alive, delete it and start again"
            ) from None
        except OSError as e:
            raise write_failed(claim, e) from None
        run_dir = self.committed_run(run_id, suite) or self.new_run(machine, commit, suite)
        atomic_write_text(record, f"{RunFolder(run_dir).ref}\n")
        return run_dir

    def recorded_run(self, record: Path) -> Path:
        """The run folder a job array's claim (run-ids/ID/run) records: MACHINE/NNNN_...,
        a folder inside runs/ with no symlink on the way. The record is a file in the
        results tree, and so data: it never chooses where ganbench writes.

        Raises:
            GanbenchError: it names anything else (an absolute path, a `..`, a symlink)."""
        text = read_regular(record, RECORD_MAX).decode("utf-8", "replace").strip()
        machine, _, name = text.partition("/")
        run_dir = self.runs / machine / name
        plain = all(part not in ("", ".", "..") and "/" not in part for part in (machine, name))
        if not (
            plain
            and RunFolder.named(run_dir)
            and not (self.runs / machine).is_symlink()
            and not run_dir.is_symlink()
            and run_dir.is_dir()
        ):
            raise GanbenchError(
                f"{record}: names {text!r}, not a run folder MACHINE/NNNN_... inside "
                f"{self.runs} (a symlink is not one either); delete {record.parent} and "
                "start the job array again"
            )
        return run_dir

    def committed_run(self, run_id: str, suite: str | None = None) -> Path | None:
        """The newest run folder whose result.json records `run_id` (of `suite`, if given):
        run-ids/ is this machine's own (not committed), so a job array whose parts run in
        different sessions or on different machines, committing their fragments in
        between, finds its run by the id its result records."""
        for run_dir, header in reversed(list(self.loaded())):
            s = header["suite"]
            if s.get("run_id") == run_id and suite in (None, s["name"]):
                return run_dir
        return None

    def resolve(self, ref: str) -> tuple[Path, dict[str, Any]]:
        """A run by path (its folder or result.json), by number ("3", "0003"), by
        MACHINE/NUMBER ("cpu-x86-64/3": numbers of runs made on different machines may
        collide once their results are merged), or by a job array's run id (run-ids/ID,
        or the id its result records)."""
        for path in (Path(ref), self.runs / ref):
            if _exists(path):
                return path, load_result(path)
        record = self.claim(ref) / "run"
        if _exists(record):
            run_dir = self.recorded_run(record)
            return run_dir, load_result(run_dir)
        match = RUN_REF.match(ref)
        if not match:
            if run_dir := self.committed_run(ref):
                return run_dir, load_result(run_dir)
            raise GanbenchError(
                f"{ref}: no such file, no run with that run id, and not a run number "
                "(N or MACHINE/N)"
            )
        matches = [
            p
            for p in self.run_dirs()
            if RunFolder(p).number == int(match["number"])
            and match["machine"] in (None, RunFolder(p).machine)
        ]
        if len(matches) != 1:
            known = ", ".join(RunFolder(p).ref for p in (matches or self.run_dirs()[-10:]))
            hint = ""
            if len(matches) > 1:  # MACHINE/N selects one only if each is on its own machine
                one_each = len({RunFolder(p).machine for p in matches}) == len(matches)
                example = (
                    "as MACHINE/N"
                    if one_each
                    else f"by its folder, e.g. {RunFolder(matches[0]).ref}"
                )
                hint = f"; name one {example}"
            raise GanbenchError(
                f"run {ref}: {'no' if not matches else len(matches)} runs with that "
                f"number in {self.runs} ({'these' if matches else 'latest'}: {known or 'none'}){hint}"
            )
        return matches[0], load_result(matches[0])

    def resumable(self, request: RunRequest) -> RunFolder | None:
        """The newest run of the request's suite and options, if it is unfinished (a job
        array's runs are left to their shards' --run-id)."""
        for run_dir, result in reversed(list(self.loaded("skipped for --resume"))):
            if not result["suite"].get("run_id") and request.matches(result["suite"]):
                return None if result.get("complete") else RunFolder(run_dir)
        return None

    @contextlib.contextmanager
    def open_run(
        self, request: RunRequest, here: dict[str, Any], jobs: list[str]
    ) -> Iterator[OpenRun]:
        """The run folder `ganbench run` writes, locked while the block runs: a job
        array's (claimed by its first shard), the run --resume continues, or a new one.
        A run continued here that started elsewhere (`here`: commit, machine, torch) is
        refused unless forced. A new folder the block leaves without writing into (a
        missing dataset, a broken factory) is removed, with the folders made for it."""
        with contextlib.ExitStack() as stack:
            if request.run_id is not None:
                folder = RunFolder(
                    self.shared_run(here["machine"], here["commit"], request.suite, request.run_id)
                )
            else:
                folder = self.resumable(request) if request.resume else None
                if folder is None and request.resume:
                    say(
                        f"nothing to resume for suite {request.suite!r} in {self.root}; "
                        "starting a new run",
                        file=sys.stderr,
                    )
            made: list[Path] = []
            if folder is None:
                machine = self.runs / here["machine"]
                made = [p for p in (self.root, self.runs, machine) if not p.exists()]
                folder = RunFolder(self.new_run(here["machine"], here["commit"], request.suite))
                made.append(folder.path)
                stack.push(lambda *exc: _remove_if_empty(made, exc[0] is not None))
            stack.enter_context(folder.locked(request.lock_name))
            result = None
            if not made and folder.result.is_file():
                result = load_result(folder.path)
                continue_here(result, here, folder, request.force, request.shard is not None)
            yield OpenRun(folder, result, folder.fragments(jobs))


def _exists(path: Path) -> bool:
    """Whether `path` exists; a name longer than the file system allows does not."""
    try:
        return path.exists()
    except OSError:
        return False


def _remove_if_empty(made: list[Path], failed: bool) -> bool:
    """After a failed start: the new run folder and the folders made for it, newest first,
    each only if it is empty (another run may have arrived beside it)."""
    if failed:
        for path in reversed(made):
            try:
                path.rmdir()
            except OSError:
                break
    return False
