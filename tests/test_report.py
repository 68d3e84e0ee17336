"""`ganbench report`: the page holds every section and every picture, embedded."""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from ganbench.cli import main
from tests.helpers import TINY, images_in, write_cifar_folder

TINY_IMAGES = """
name = "tiny-images"
version = 1
[[datasets]]
name = "cifar10"
[[models]]
name = "dcgan"
width = 8
[[metrics]]
name = "throughput"
[budget]
steps = 4
batch_size = 16
seeds = [0]
[training]
checkpoint_every = 2
"""


def test_report_of_a_mog_run_has_tables_checks_and_every_picture(workdir, capsys):
    (workdir / "suites" / "tiny").mkdir()
    (workdir / "suites" / "tiny" / "suite.toml").write_text(
        TINY + '[checks]\n"mlp-gan/ring-8/modes_covered" = ">= 0"\n'
    )
    assert main(["run", "suites/tiny"]) == 0
    assert main(["report", "1"]) == 0
    path = capsys.readouterr().out.split("wrote ")[-1].strip()
    page = Path(path).read_text(encoding="utf-8")
    assert '<h2 id="results">Results</h2>' in page and "modes_covered ↑" in page
    assert "PASSED mlp-gan/ring-8/modes_covered" in page
    # issue 43 #4: the run's settings as a readable list, not a Python dict
    assert '<ul class="facts">' in page and "{&#x27;" not in page and "{'" not in page
    assert images_in(page) == [
        "samples, seed 0",
        "training losses",
        "discriminator signals and gradient norms",
        "linear interpolation between latent points",
        "spherical interpolation (slerp)",
        "latent walk along the first latent coordinate, -3 to 3",
    ]


def test_report_of_an_image_run_has_grids_at_checkpoints(workdir, capsys):
    write_cifar_folder(workdir / "data", per_batch=16)  # ./data is a default data root
    (workdir / "suites" / "tiny-images").mkdir()
    (workdir / "suites" / "tiny-images" / "suite.toml").write_text(TINY_IMAGES)
    assert main(["run", "suites/tiny-images"]) == 0
    assert main(["report", "1"]) == 0
    path = capsys.readouterr().out.split("wrote ")[-1].strip()
    alts = images_in(Path(path).read_text(encoding="utf-8"))
    assert alts[:2] == ["samples, seed 0", "training losses"]
    assert "spherical interpolation (slerp)" in alts and "samples at step 2" in alts


def test_report_of_a_missing_run_is_a_clear_error(workdir, capsys):
    assert main(["report", "9"]) == 2
    assert "run 9: no runs with that number" in capsys.readouterr().err


@pytest.mark.skipif(
    shutil.which("chromium") is None,
    reason="headless check needs Debian's chromium (apt-get install chromium)",
)
def test_report_renders_in_headless_chromium(workdir, capsys):
    (workdir / "suites" / "tiny").mkdir()
    (workdir / "suites" / "tiny" / "suite.toml").write_text(TINY)
    assert main(["run", "suites/tiny"]) == 0
    assert main(["report", "1"]) == 0
    page = Path(capsys.readouterr().out.split("wrote ")[-1].strip()).resolve()
    shot = workdir / "report.png"
    subprocess.run(
        [
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={workdir / 'profile'}",
            "--window-size=1200,1600",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    image = shot.read_bytes()
    assert image[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", image[16:24])
    assert (width, height) == (1200, 1600)
    # A blank page compresses to a few kB; tables and five pictures do not.
    assert len(image) > 50_000


def test_the_curves_measured_during_training_are_tabled_as_mean_and_std_over_seeds():
    """Two seeds evaluated at steps 10 and 20 (the second seed also at 15, which only it
    has): the table holds 10 and 20, each value the mean ± sample std of the two."""
    from ganbench.publishing.report import _curve_table

    def seed(steps, modes):
        return {"evaluations": {"steps": steps, "values": {"modes_covered": modes}}}

    html = _curve_table({"0": seed([10, 20], [4, 8]), "1": seed([10, 15, 20], [6, 1, 8])})[0]
    assert "mean ± std over 2 seeds" in html
    cells = [c.strip() for c in re.findall(r"<td[^>]*>([^<]*)</td>", html)]
    assert cells == ["10", "5 ± 1.414", "20", "8 ± 0"]


TOY_METRIC = """
from pathlib import Path

from ganbench.metrics.base import Measurement


def passes(params):
    return 1000 * params["rounds"]


def pictures(ctx):
    from PIL import Image

    path = ctx.pictures / f"{ctx.stem}_toy.png"
    Image.new("L", (8, 8), 128).save(path)
    return [(path, f"toy picture of {ctx.title}: {ctx.measured['toy']['mean']}")]


def make(*, rounds: int = 3):
    def measure(ctx):
        return {"toy": Measurement(float(rounds), "", True, {"rounds": rounds})}
    return measure


make.ganbench_meta = {"keys": ("toy",), "cost": "toymetric:passes", "report": "toymetric:pictures"}
"""


def test_a_metric_brings_its_cost_and_its_picture_with_no_edit_elsewhere(workdir, capsys):
    """issue 35 #3: the estimate and the report ask the metric (its `cost` and `report`
    hooks, metrics/extras.py) instead of naming metrics."""
    from ganbench.run import estimate
    from ganbench.suite import load

    folder = workdir / "suites" / "toy"
    folder.mkdir()
    (folder / "toymetric.py").write_text(TOY_METRIC)
    (folder / "suite.toml").write_text(
        TINY.replace("[[metrics]]", '[[metrics]]\nname = "toymetric:make"\n[[metrics]]', 1)
    )
    suite = load(folder)
    # 3,000 passes per seed, 2 seeds, each costed as a training sample of 32 at 64 ms a step
    seconds = estimate.search_seconds(suite, suite.budget, {("mlp-gan", "ring-8"): 0.064})
    assert seconds == pytest.approx(3000 * 2 * 0.064 / 32)
    assert main(["run", str(folder)]) == 0
    assert main(["report", "1"]) == 0
    page = Path(capsys.readouterr().out.split("wrote ")[-1].strip()).read_text()
    assert "toy picture of mlp-gan on ring-8: 3.0" in page


def test_a_committed_runs_facts_read_as_words_and_its_busy_timings_as_one_note():
    """issue 43 #4: report.html printed `training {'precision': 'fp32', 'compile': False,
    ...}` and a timing note per seed (run 0012: one per seed and model)."""
    from ganbench.publishing.tables import run_facts
    from ganbench.runtime.conditions import notes

    repo = Path(__file__).resolve().parents[1]
    path = next((repo / "results" / "runs").glob("*/0012_*_fashion-mnist/result.json"))
    result = json.loads(path.read_text())
    facts = run_facts(result)
    assert "budget: 5,000 steps at batch 128, seeds 0, 1, 2" in facts
    training = next(f for f in facts if f.startswith("training: "))
    assert training.startswith("training: precision fp32, compile off, compile_mode default, ")
    assert "{" not in training and "False" not in training
    assert notes(result["results"]) == [
        "† samples_per_second (mlp-gan/fashion-mnist, dcgan/fashion-mnist): timed at load "
        "3.0–4.2 on 2 CPUs (busy: not comparable)"
    ]
