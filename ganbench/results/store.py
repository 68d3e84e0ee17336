"""The results folder, owned by one class: run numbering, job-array claims, listing and
loading every run (a damaged one a one-line warning), and finding a run by number, path
or run id. The layout (as pytest-benchmark's storage keeps one folder per machine):

    results/runs/<machine>/<NNNN>_<commit>_<date>_<suite>/   one run (results.RunFolder)
    results/run-ids/<ID>/run                                  a job array's claim (not committed)
"""

from __future__ import annotations

import datetime as dt
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganbench.errors import GanbenchError
from ganbench.results.files import RunFolder, atomic_write_text, load_result, write_failed

RUN_DIR_PATTERN = re.compile(r"^(\d{4})_")
#: A run named by number ("3", "0003") or MACHINE/NUMBER ("cpu-x86-64/3").
RUN_REF = re.compile(r"^(?:(?P<machine>[\w.-]+)/)?(?P<number>\d+)$")


def run_number(run_dir: Path) -> int:
    return int(RUN_DIR_PATTERN.match(run_dir.name).group(1))


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
        """Every run folder, oldest number first."""
        found = [p for p in self.runs.glob("*/*") if p.is_dir() and RUN_DIR_PATTERN.match(p.name)]
        return sorted(found, key=lambda p: (run_number(p), p.name))

    @staticmethod
    def run_key(run_dir: Path) -> tuple[str, str]:
        """(machine, folder name) of a run folder: what tells apart two runs of one number
        once results made on different machines are merged into one tree."""
        return run_dir.parent.name, run_dir.name

    def loaded(self, skipped: str = "skipped") -> Iterator[tuple[Path, dict[str, Any]]]:
        """(run folder, its result) for every run with a result.json, oldest number first;
        a damaged one is a one-line warning (`ganbench: warning: SKIPPED: ...`) and is left
        out, so that it never hides every other run."""
        for run_dir in self.run_dirs():
            if not RunFolder(run_dir).result.is_file():
                continue
            try:
                yield run_dir, load_result(run_dir)
            except GanbenchError as e:
                print(f"ganbench: warning: {skipped}: {e}", file=sys.stderr)

    def new_run(self, machine: str, commit: str, suite: str) -> Path:
        """Creates the next numbered run folder (numbers are unique across machines)."""
        number = max(map(run_number, self.run_dirs()), default=0) + 1
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
                    return self.runs / record.read_text().strip()
                time.sleep(0.1)
            raise GanbenchError(
                f"{claim}: claimed by another shard that recorded no run folder; if no shard "
                "of this run id is alive, delete it and start again"
            ) from None
        except OSError as e:
            raise write_failed(claim, e) from None
        run_dir = self.committed_run(run_id, suite) or self.new_run(machine, commit, suite)
        atomic_write_text(record, f"{run_dir.parent.name}/{run_dir.name}\n")
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
        for path in (Path(ref), self.runs / ref):  # also what run-ids/ID/run holds
            if path.exists():
                return path, load_result(path)
        record = self.claim(ref) / "run"
        if record.is_file():
            run_dir = self.runs / record.read_text().strip()
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
            if run_number(p) == int(match["number"]) and match["machine"] in (None, p.parent.name)
        ]
        if len(matches) != 1:
            known = ", ".join(
                f"{p.parent.name}/{p.name}" for p in (matches or self.run_dirs()[-10:])
            )
            hint = "; name one as MACHINE/N" if len(matches) > 1 else ""
            raise GanbenchError(
                f"run {ref}: {'no' if not matches else len(matches)} runs with that "
                f"number in {self.runs} ({'these' if matches else 'latest'}: {known or 'none'}){hint}"
            )
        return matches[0], load_result(matches[0])
