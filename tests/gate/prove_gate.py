"""Does a CI gate on suites/mnist-ci tell a healthy model from a broken one?

    python -m tests.gate.prove_gate results/runs/<machine>/<NNNN>_..._mnist-ci

1. From the committed 5-seed baseline, one `--fail` rule per gated metric: a
   regression is a move in the worse direction by more than K standard
   deviations of the baseline's seeds (K = 4: a healthy seed's distance from a
   5-seed mean has std sqrt(1 + 1/5) of a seed's, so 4 std is 3.7 of those,
   about 1 false alarm in 10,000 per metric if the values are normal). The
   rules are fixed before any rerun is seen.
2. Healthy reruns: the suite as CI runs it, one fresh seed each (`--seeds S`),
   then `ganbench compare BASELINE NEW --fail ...`; each exit 1 is a false alarm.
3. Defects (tests/gate/defects.py): the same suite with the model replaced by a
   broken DCGAN under the label "dcgan"; a caught one makes the compare exit 1.
   The script exits 0 with no false alarm and at least MIN_CAUGHT defects caught.

Every run and compare is the `ganbench` command line in a subprocess, as in CI.
The record (rules, every value, exit codes, wall times) is written as markdown
to --out and printed.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ganbench.results import atomic_write_text, run_dirs
from tests.gate.defects import DEFECTS

REPO = Path(__file__).resolve().parents[2]
SUITE = REPO / "suites" / "mnist-ci"
#: (metric key, direction of a regression): "+" lower is better, "-" higher is better.
GATED = (("fid_mnist", "+"), ("mnist_score", "-"), ("precision", "-"), ("recall", "-"))
K_STD = 4.0
#: The proof holds with no false alarm and at least this many defects caught (issue 10).
MIN_CAUGHT = 3


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


def ganbench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ganbench", *args], capture_output=True, text=True, cwd=REPO
    )


def run_and_compare(
    suite: Path, seed: int, results: Path, baseline: Path, rules: list[str]
) -> dict:
    start = time.perf_counter()
    run = ganbench("run", str(suite), "--seeds", str(seed), "--results-dir", str(results))
    wall = time.perf_counter() - start
    if run.returncode not in (0, 1):
        raise RuntimeError(f"ganbench run {suite} failed:\n{run.stderr[-3000:]}")
    run_dir = run_dirs(results)[-1]
    measured = json.loads((run_dir / "result.json").read_text())["results"]["dcgan"]["mnist"]
    fail_args = [arg for rule in rules for arg in ("--fail", rule)]
    compare = ganbench("compare", str(baseline), str(run_dir), *fail_args)
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


def defect_suite(name: str, folder: Path) -> Path:
    """suites/mnist-ci with its model replaced by the defect, labelled as the original."""
    folder.mkdir(parents=True)
    text = (SUITE / "suite.toml").read_text()
    model = 'name = "dcgan"'
    if text.count(model) != 1:
        raise RuntimeError(f"{SUITE}/suite.toml: expected one {model!r}")
    (folder / "suite.toml").write_text(
        text.replace(model, f'name = "tests.gate.defects:{name}"\nlabel = "dcgan"')
    )
    return folder


def record(baseline: Path, base: dict, rules: list[str], healthy: list, defects: dict) -> str:
    values = base["results"]["dcgan"]["mnist"]
    keys = [key for key, _ in GATED]
    lines = [
        "# CI gate proof: suites/mnist-ci",
        "",
        f"Baseline: `{baseline.relative_to(REPO) if baseline.is_relative_to(REPO) else baseline}`"
        f" (commit {base['commit_info']['id'][:8]}, {values['fid_mnist']['n']} seeds).",
        "",
        "| metric | baseline mean | seed std | rule (4 std) |",
        "| --- | --- | --- | --- |",
    ]
    for (key, _), rule in zip(GATED, rules, strict=True):
        lines.append(f"| {key} | {values[key]['mean']:.4g} | {values[key]['std']:.3g} | `{rule}` |")
    lines += [
        "",
        "Command of every row: `ganbench run SUITE --seeds S` then",
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
        caught = ", ".join(
            next(t for t in r.split() if "/" in t).rsplit("/", 1)[-1].rstrip(":")
            for r in d["regressions"]
        )
        lines.append(f"| {name}: {DEFECTS[name].__doc__} | {cells} | {d['exit']} | {caught} |")
    caught = sum(d["exit"] == 1 for d in defects.values())
    lines += ["", f"Caught: {caught} of {len(defects)}.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("baseline", type=Path, help="the 5-seed run folder of suites/mnist-ci")
    parser.add_argument("--healthy", default="5,6,7,8,9", help="seeds of the healthy reruns")
    parser.add_argument("--defect-seed", type=int, default=5)
    parser.add_argument("--defects", default=",".join(DEFECTS))
    parser.add_argument("--out", type=Path, default=REPO / "results" / "gate" / "mnist-ci.md")
    parser.add_argument(
        "--add",
        action="store_true",
        help="keep the rows already recorded in --out's .json (same baseline and rules)",
    )
    args = parser.parse_args(argv)
    baseline = args.baseline.resolve()
    base = json.loads((baseline / "result.json").read_text())
    rules = rules_from(base)
    print("rules:", " ".join(rules), flush=True)
    rows_file = args.out.with_suffix(".json")
    healthy, defects = [], {}
    if args.add:
        kept = json.loads(rows_file.read_text())
        if (kept["baseline"], kept["rules"]) != (base["commit_info"]["id"], rules):
            raise SystemExit(f"{rows_file}: recorded against another baseline or rules")
        healthy, defects = kept["healthy"], kept["defects"]
    work = Path(tempfile.mkdtemp(prefix="ganbench-gate-"))
    try:
        for seed in (int(s) for s in args.healthy.split(",") if s):
            healthy.append(run_and_compare(SUITE, seed, work / "healthy", baseline, rules))
            print("healthy", healthy[-1], flush=True)
        for name in (n for n in args.defects.split(",") if n):
            suite = defect_suite(name, work / "suites" / name)
            defects[name] = run_and_compare(
                suite, args.defect_seed, work / "defects" / name, baseline, rules
            )
            print("defect", name, defects[name], flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rows = {"baseline": base["commit_info"]["id"], "rules": rules}
    atomic_write_text(
        rows_file, json.dumps({**rows, "healthy": healthy, "defects": defects}) + "\n"
    )
    text = record(baseline, base, rules, healthy, defects)
    atomic_write_text(args.out, text + "\n")
    print(text)
    alarms = sum(h["exit"] != 0 for h in healthy)
    caught = sum(d["exit"] == 1 for d in defects.values())
    return 1 if alarms or caught < MIN_CAUGHT else 0


if __name__ == "__main__":
    sys.exit(main())
