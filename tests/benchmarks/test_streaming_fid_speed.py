"""The streaming FID against torchmetrics' FrechetInceptionDistance
(tests/benchmarks/streaming_fid_speed.py) on 20 digits, as a test of what docs/api.md says
of them: two interleaved rounds timed, and the four pipelines' values.

torchmetrics with the TTUR weights as a file and antialias=False resizes as TTUR does:
its FID is ours to 1e-4 (torch-fidelity's network beside ganbench's, float32, and its
value cast to float32); with ganbench's extractor as its `feature=` module only its
estimator differs (1e-5); its default antialias=True resizes 28x28 digits with
half-pixel centres and moves FID by percent.
"""

from __future__ import annotations

import pytest

#: The real TTUR Inception in four pipelines: ~1 minute on a CPU.
pytestmark = [pytest.mark.e2e, pytest.mark.slow]  # a benchmark: --runslow


def test_torchmetrics_fid_beside_ours_on_the_same_images():
    pytest.importorskip("torchmetrics")
    from tests.benchmarks import streaming_fid_speed as bench

    report = bench.main(["--images", "20", "--batch", "5", "--rounds", "2", "--values"])
    values = report["values"]
    ours = values["ganbench"]
    assert values["torchmetrics antialias=False"] == pytest.approx(ours, rel=1e-4)
    assert values["torchmetrics feature=ganbench's extractor"] == pytest.approx(ours, rel=1e-5)
    assert abs(values["torchmetrics (default: antialias=True)"] / ours - 1) > 1e-3
    speed = report["speed"]
    assert len(speed["rounds"]) == 2
    assert speed["ratio_min"] <= speed["ratio_median"] <= speed["ratio_max"]
    assert all(r["ganbench"]["fid"] == ours for r in speed["rounds"])
