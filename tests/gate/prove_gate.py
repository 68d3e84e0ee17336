"""Does a CI gate tell a healthy model from a broken one?

    python -m tests.gate.prove_gate results/runs/<machine>/<NNNN>_..._mnist-ci
    python -m tests.gate.prove_gate --gate example examples/ci-project/baseline

Two gates ship: README's suites/mnist-ci (gate "mnist-ci": built-in DCGAN, rules of
K standard deviations) and the example project's (gate "example": its own tinygan,
the rules of its workflow file).

1. The rules: mnist-ci's, from the committed 5-seed baseline, one `--fail` rule per
   gated metric: a regression is a move in the worse direction by more than K
   standard deviations of the baseline's seeds (K = 4: a healthy seed's distance
   from a 5-seed mean has std sqrt(1 + 1/5) of a seed's, so 4 std is 3.7 of those,
   about 1 false alarm in 10,000 per metric if the values are normal). The
   example's, as its workflow writes them. Fixed before any rerun is seen.
2. Healthy reruns: the suite as CI runs it, one fresh seed each (`--seeds S`),
   then `ganbench compare BASELINE NEW --fail ...`; each exit 1 is a false alarm.
3. Defects (tests/gate/defects.py): the same suite and model name, the model's
   factory broken in the `ganbench run` process, as a push that broke the model
   would; a caught one makes the compare exit 1 naming a worse metric (a CANNOT
   CHECK is not a catch). The script exits 0 with no false alarm and at least
   MIN_CAUGHT defects caught.

Every run and compare is the `ganbench` command line in a subprocess, as in CI.
The record (rules, every value, exit codes, wall times) is written as markdown
to --out and printed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ganbench.results.files import atomic_write_text
from ganbench.results.store import ResultsStore
from tests.gate.defects import DEFECTS

REPO = Path(__file__).resolve().parents[2]
#: (metric key, direction of a regression): "+" lower is better, "-" higher is better.
GATED = (("fid_mnist", "+"), ("mnist_score", "-"), ("precision", "-"), ("recall", "-"))
K_STD = 4.0
#: The proof holds with no false alarm and at least this many defects caught (issue 10).
MIN_CAUGHT = 3
EXAMPLE = REPO / "examples" / "ci-project"
WORKFLOW = EXAMPLE / ".github" / "workflows" / "gan-gate.yml"


@dataclass(frozen=True)
class Gate:
    """A shipped CI gate: where its commands run, its suite and the model it gates."""

    name: str
    cwd: Path
    suite: str  # relative to cwd, as the gate's commands name it
    model: str  # the label its results are under
    factory: str  # the model's name in the suite: a built-in or "module:function"
    out: Path

    def rules(self, baseline: dict) -> list[str]:
        if self.name == "example":
            return workflow_rules()
        return rules_from(baseline, model=self.model)


GATES = {
    "mnist-ci": Gate(
        "mnist-ci", REPO, "suites/mnist-ci", "dcgan", "dcgan", REPO / "results/gate/mnist-ci.md"
    ),
    "example": Gate(
        "example",
        EXAMPLE,
        "suites/gate",
        "tinygan",
        "tinygan.model:make",
        REPO / "results/gate/example.md",
    ),
}


def workflow_rules() -> list[str]:
    """The --fail rules of the example project's workflow file, as CI runs them."""
    rules = re.findall(r'--fail "([^"]+)"', WORKFLOW.read_text())
    if not rules:
        raise RuntimeError(f"{WORKFLOW}: no --fail rules")
    return rules


def rules_from(
    baseline: dict, k: float = K_STD, model: str = "dcgan", dataset: str = "mnist"
) -> list[str]:
    """`metric:±threshold` per gated metric, k x the baseline's seed std (2 significant
    digits, rounded up so that the rule is never tighter than k std)."""
    rules = []
    for key, sign in GATED:
        entry = baseline["results"][model][dataset][key]
        threshold = k * entry["std"]
        digits = 1 - math.floor(math.log10(threshold))
        rounded = math.ceil(threshold * 10**digits) / 10**digits
        rules.append(f"{key}:{sign}{rounded:g}")
    return rules


#: `ganbench` with a defect installed in its process (tests/gate/defects.py).
BROKEN = (
    "import sys; from tests.gate.defects import install; install(sys.argv.pop(1), "
    "sys.argv.pop(1)); from ganbench.cli import main; sys.exit(main(sys.argv[1:]))"
)


def ganbench(gate: Gate, *args: str, defect: str | None = None) -> subprocess.CompletedProcess:
    command = ["-c", BROKEN, defect, gate.factory] if defect else ["-m", "ganbench"]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    return subprocess.run(
        [sys.executable, *command, *args], capture_output=True, text=True, cwd=gate.cwd, env=env
    )


def run_and_compare(
    gate: Gate,
    seed: int,
    results: Path,
    baseline: Path,
    rules: list[str],
    defect: str | None = None,
) -> dict:
    start = time.perf_counter()
    run = ganbench(
        gate, "run", gate.suite, "--seeds", str(seed), "--results-dir", str(results), defect=defect
    )
    wall = time.perf_counter() - start
    if run.returncode not in (0, 1):
        raise RuntimeError(f"ganbench run {gate.suite} failed:\n{run.stderr[-3000:]}")
    run_dir = ResultsStore(results).run_dirs()[-1]
    measured = json.loads((run_dir / "result.json").read_text())["results"][gate.model]["mnist"]
    fail_args = [arg for rule in rules for arg in ("--fail", rule)]
    compare = ganbench(gate, "compare", str(baseline), str(run_dir), *fail_args)
    return {
        "seed": seed,
        "wall_s": round(wall, 1),
        "values": {key: measured[key]["mean"] for key, _ in GATED},
        "exit": compare.returncode,
        "regressions": [
            line
            for line in compare.stdout.splitlines()
            if line.startswith(("REGRESSION", "CANNOT"))
        ],
    }


def caught_by(row: dict) -> list[str]:
    """The metrics a compare named as regressions (a CANNOT CHECK names none)."""
    return [
        next(t for t in r.split() if "/" in t).rsplit("/", 1)[-1].rstrip(":")
        for r in row["regressions"]
        if r.startswith("REGRESSION")
    ]


def is_caught(row: dict) -> bool:
    return row["exit"] == 1 and bool(caught_by(row))


def record(
    gate: Gate, baseline: Path, base: dict, rules: list[str], healthy: list, defects: dict
) -> str:
    values = base["results"][gate.model]["mnist"]
    keys = [key for key, _ in GATED]
    where = baseline.relative_to(REPO) if baseline.is_relative_to(REPO) else baseline
    lines = [
        f"# CI gate proof: {gate.name} ({gate.suite}, model {gate.model})",
        "",
        f"Baseline: `{where}` (commit {base['commit_info']['id'][:8]}, "
        f"{values['fid_mnist']['n']} seeds).",
        "",
        "| metric | baseline mean | seed std | rule |",
        "| --- | --- | --- | --- |",
    ]
    for (key, _), rule in zip(GATED, rules, strict=True):
        lines.append(f"| {key} | {values[key]['mean']:.4g} | {values[key]['std']:.3g} | `{rule}` |")
    lines += [
        "",
        f"Command of every row, in {f'`{gate.cwd.relative_to(REPO)}`' if gate.cwd != REPO else 'the repository'}: "
        f"`ganbench run {gate.suite} --seeds S` then",
        f"`ganbench compare BASELINE NEW {' '.join(f'--fail {r}' for r in rules)}`.",
        "",
        "## Healthy reruns (must pass)",
        "",
        f"| seed | {' | '.join(keys)} | wall | compare exit |",
        "| --- |" + " --- |" * (len(keys) + 2),
    ]
    for h in healthy:
        cells = " | ".join(f"{h['values'][k]:.4g}" for k in keys)
        lines.append(f"| {h['seed']} | {cells} | {h['wall_s']:.0f} s | {h['exit']} |")
    alarms = sum(h["exit"] != 0 for h in healthy)
    lines += [
        "",
        f"False alarms: {alarms} of {len(healthy)}.",
        "",
        "## Injected defects (must fail)",
        "",
        f"| defect | {' | '.join(keys)} | compare exit | caught by |",
        "| --- |" + " --- |" * (len(keys) + 2),
    ]
    for name, d in defects.items():
        cells = " | ".join(f"{d['values'][k]:.4g}" for k in keys)
        caught = ", ".join(caught_by(d)) or "; ".join(d["regressions"]) or "-"
        lines.append(f"| {name}: {DEFECTS[name].__doc__} | {cells} | {d['exit']} | {caught} |")
    caught = sum(is_caught(d) for d in defects.values())
    lines += ["", f"Caught: {caught} of {len(defects)}.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("baseline", type=Path, help="the baseline's run folder (its result.json)")
    parser.add_argument("--gate", choices=GATES, default="mnist-ci")
    parser.add_argument("--healthy", default="5,6,7,8,9", help="seeds of the healthy reruns")
    parser.add_argument("--defect-seed", type=int, default=5)
    parser.add_argument("--defects", default=",".join(DEFECTS))
    parser.add_argument("--out", type=Path, help="default: results/gate/GATE.md")
    parser.add_argument(
        "--add",
        action="store_true",
        help="keep the rows already recorded in --out's .json (same baseline and rules)",
    )
    args = parser.parse_args(argv)
    gate = GATES[args.gate]
    out = args.out or gate.out
    baseline = args.baseline.resolve()
    base = json.loads((baseline / "result.json").read_text())
    rules = gate.rules(base)
    print("rules:", " ".join(rules), flush=True)
    rows_file = out.with_suffix(".json")
    healthy, defects = [], {}
    if args.add:
        kept = json.loads(rows_file.read_text())
        if (kept["baseline"], kept["rules"]) != (base["commit_info"]["id"], rules):
            raise SystemExit(f"{rows_file}: recorded against another baseline or rules")
        healthy, defects = kept["healthy"], kept["defects"]
    work = Path(tempfile.mkdtemp(prefix="ganbench-gate-"))
    try:
        for seed in (int(s) for s in args.healthy.split(",") if s):
            healthy.append(run_and_compare(gate, seed, work / "healthy", baseline, rules))
            print("healthy", healthy[-1], flush=True)
        for name in (n for n in args.defects.split(",") if n):
            defects[name] = run_and_compare(
                gate, args.defect_seed, work / "defects" / name, baseline, rules, defect=name
            )
            print("defect", name, defects[name], flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rows = {"baseline": base["commit_info"]["id"], "rules": rules}
    atomic_write_text(
        rows_file, json.dumps({**rows, "healthy": healthy, "defects": defects}) + "\n"
    )
    text = record(gate, baseline, base, rules, healthy, defects)
    atomic_write_text(out, text + "\n")
    print(text)
    alarms = sum(h["exit"] != 0 for h in healthy)
    caught = sum(is_caught(d) for d in defects.values())
    return 1 if alarms or caught < MIN_CAUGHT else 0


if __name__ == "__main__":
    sys.exit(main())
