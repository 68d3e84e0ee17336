"""Images from a folder, decoded to uint8 tensors at one size, with the checks that make a
bad file one line naming it."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from ganbench.errors import GanbenchError
from ganbench.features.base import ImageList
from ganbench.untrusted import open_regular

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"}


def read_folder(
    folder: Path,
    grayscale: bool,
    resolution: int = 0,
    mismatch_fix: str = "resize the folder to one size first (resizing changes FID)",
    mixed_sizes: bool = False,
) -> torch.Tensor | ImageList:
    """Every image below `folder` as one uint8 tensor (N, C, H, W): resized to
    `resolution` square (bicubic) when set, else all must share a size, or with
    `mixed_sizes` (what the metrics read) come as an ImageList when they do not, for the
    extractor to resize each on its own as its reference does."""
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise GanbenchError(f"{folder}: no images ({', '.join(sorted(IMAGE_SUFFIXES))}) found")
    images, decoded = [], 0  # decoded: the elements of the images read so far
    for path in paths:
        try:
            with open_regular(path) as raw:  # a FIFO named 7.png would hang the reader
                with warnings.catch_warnings():
                    # PIL only warns between 89 and 179 megapixels: as much memory, an error
                    warnings.simplefilter("error", Image.DecompressionBombWarning)
                    f = Image.open(raw)
                with f:
                    image = eight_bit(f, path).convert("L" if grayscale else "RGB")
                    if resolution:
                        image = image.resize((resolution, resolution), Image.Resampling.BICUBIC)
                    pixels = np.asarray(image)
        except (OSError, UnidentifiedImageError) as e:
            raise GanbenchError(f"{path}: cannot decode image ({e})") from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
            # a 20000x20000 PNG would fill the memory
            raise GanbenchError(f"{path}: image too large to decode safely ({e})") from None
        image = torch.from_numpy(pixels.copy()).reshape(*pixels.shape[:2], -1).permute(2, 0, 1)
        if images and image.shape != images[0].shape and not mixed_sizes:
            raise GanbenchError(
                f"{path}: size {tuple(image.shape[1:])} differs from "
                f"{paths[0].name}'s {tuple(images[0].shape[1:])}; {mismatch_fix}"
            )
        if not images:  # all images share its size: will they fit in memory?
            fits(
                len(paths) * 2 * image.numel(),
                folder,
                f"{len(paths)} images of {tuple(image.shape)}",
            )
        decoded += image.numel()
        if images and mixed_sizes:  # a small first image says nothing of the rest's size
            fits(2 * decoded, folder, f"the first {len(images) + 1} of {len(paths)} images")
        images.append(image)
    if any(image.shape != images[0].shape for image in images):
        return ImageList(images)
    return torch.stack(images)


def eight_bit(image: Image.Image, path: Path) -> Image.Image:
    """16-bit (and 32-bit integer) images scaled to 8 bits: PIL's convert("L") clips them
    at 255, which turns nearly every pixel of a 16-bit PNG white."""
    if image.mode not in ("I;16", "I;16B", "I;16L", "I"):
        return image
    pixels = np.asarray(image).astype(np.int64)
    if pixels.min() < 0 or pixels.max() > 65535:
        raise GanbenchError(
            f"{path}: {image.mode} pixels in [{pixels.min()}, {pixels.max()}]; save it as an "
            "8-bit or 16-bit image"
        )
    return Image.fromarray(((pixels * 255 + 32767) // 65535).astype(np.uint8), "L")


def fits(size: int, where: Path, what: str) -> None:
    """Refuses to decode more bytes than half the machine's memory, before decoding them:
    a MemoryError (or the OOM killer) late in a run says less than this."""
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # no sysconf: no check
        return
    if size > memory // 2:
        raise GanbenchError(
            f"{where}: {what} need {size / 2**30:.1f} GiB, more than half of this machine's "
            f"{memory / 2**30:.1f} GiB of memory; set a smaller resolution or use fewer images"
        )
