"""A user's images as the extractors take them: uint8 (N, C, H, W).

The library takes what a training loop or a notebook holds: a torch tensor or a numpy
array, channels first (NCHW) or last (NHWC), uint8 as saved images hold them, or floats
with the range they were declared to span (`value_range=(-1, 1)` for a tanh generator).
Floats become uint8 exactly as ganbench turns a generator's output into images
(data/images.py: to_uint8, torchvision's save_image rounding), so a tensor scored here
gives the features that a suite, `ganbench eval` or a folder of saved PNGs gives.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
import torch

from ganbench.errors import GanbenchError

#: Channel counts an image may have: grey, or RGB.
CHANNELS = (1, 3)


def channels_first(images: torch.Tensor, what: str) -> torch.Tensor:
    """(N, C, H, W) from NCHW or NHWC, C being 1 or 3 (a 3-d tensor is one grey channel).
    NHWC is recognised by its last axis, so a 3x3 image in NCHW stays as it is."""
    if images.ndim == 3:
        images = images[:, None]
    if images.ndim != 4:
        raise GanbenchError(
            f"{what}: images of shape {tuple(images.shape)}; expected (N, C, H, W) or "
            "(N, H, W, C) with C = 1 or 3"
        )
    if images.shape[1] in CHANNELS:
        return images
    if images.shape[3] in CHANNELS:
        return images.permute(0, 3, 1, 2)
    raise GanbenchError(
        f"{what}: images of shape {tuple(images.shape)} have neither 1 nor 3 channels on "
        "axis 1 (NCHW) or axis 3 (NHWC)"
    )


def as_tensor(images: Any, what: str) -> torch.Tensor:
    """A torch tensor of `images` (a tensor, a numpy array), sharing memory where it can:
    a sparse tensor made dense, a big-endian array read in the machine's byte order."""
    if isinstance(images, torch.Tensor):
        if images.is_meta:
            raise GanbenchError(f"{what}: a tensor on the meta device holds no values")
        return images.detach().to_dense() if images.layout != torch.strided else images.detach()
    if isinstance(images, np.ndarray):
        if images.dtype == object or not (
            np.issubdtype(images.dtype, np.number) or images.dtype == bool
        ):
            raise GanbenchError(f"{what}: a {images.dtype} array; expected numbers")
        if not images.dtype.isnative:
            images = images.astype(images.dtype.newbyteorder("="))
        return torch.from_numpy(np.ascontiguousarray(images))
    raise GanbenchError(
        f"{what}: a {type(images).__name__}; expected a torch tensor or numpy array of images"
    )


def check_value_range(value_range: Any) -> tuple[float, float] | None:
    """(low, high) from a pair of finite real numbers, low < high; None stays None."""
    if value_range is None:
        return None
    pair = value_range if isinstance(value_range, (tuple, list)) else None
    if pair is None or len(pair) != 2 or not all(_is_number(v) for v in pair):
        raise GanbenchError(
            f"value_range={value_range!r}: expected a pair of numbers (low, high), e.g. (-1, 1) "
            "or (0, 1)"
        )
    low, high = float(pair[0]), float(pair[1])
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise GanbenchError(f"value_range={value_range!r}: expected finite low < high")
    return low, high


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


#: How far beyond its declared value_range a float image may reach (a share of the span)
#: before it is refused; what lies within is clamped, as a suite and the reference tools
#: clamp a generator's output. Half a span lets through the overshoot of generators
#: without a final tanh (StyleGAN's outputs pass +-1), and refuses a wrong declaration:
#: floats of 0..255 declared (0, 1) or (-1, 1), which would all be clamped to white.
RANGE_TOLERANCE = 0.5


def check_within(images: torch.Tensor, span: tuple[float, float], what: str) -> None:
    """Refuses float images reaching beyond `span` by more than RANGE_TOLERANCE of it."""
    low, high = span
    margin = RANGE_TOLERANCE * (high - low)
    least, most = float(images.min()), float(images.max())
    if least < low - margin or most > high + margin:
        raise GanbenchError(
            f"{what}: values from {least:.4g} to {most:.4g}, beyond value_range=({low:g}, "
            f"{high:g}); declare the range they span (value_range=(0, 255) for 0..255 floats), "
            "or clamp them to it first if going beyond it is meant to be clipped"
        )


def to_uint8(images: torch.Tensor, value_range: tuple[float, float]) -> torch.Tensor:
    """Floats spanning `value_range` -> uint8 [0, 255], rounding as data/images.py's
    to_uint8 does: for (-1, 1) the very same operations, (x + 1) * 127.5 + 0.5."""
    low, high = value_range
    return images.sub(low).mul(255 / (high - low)).add_(0.5).clamp_(0, 255).to(torch.uint8)


def as_uint8_images(images: Any, value_range: Any = None, what: str = "images") -> torch.Tensor:
    """uint8 (N, C, H, W) on the images' own device from any of the forms above; uint8
    images are taken as they are, floats are read through `value_range` and refused where
    they reach beyond it."""
    span = check_value_range(value_range)
    x = channels_first(as_tensor(images, what), what)
    if x.dtype == torch.uint8:  # value_range is the floats' (one may serve both sides)
        return x
    if not x.is_floating_point():
        raise GanbenchError(
            f"{what}: {x.dtype} images; expected uint8, or floats with value_range=(low, high)"
        )
    if span is None:
        raise GanbenchError(
            f"{what}: {x.dtype} images need value_range=(low, high): (-1, 1) for a tanh "
            "generator's output, (0, 1) for ToTensor()'s"
        )
    if not bool(torch.isfinite(x).all()):
        raise GanbenchError(
            f"{what}: the images hold NaN or infinite values; a generator that diverged "
            "gives no meaningful score"
        )
    if x.numel():
        check_within(x, span, what)
    return to_uint8(x.float() if x.dtype != torch.float64 else x, span)
