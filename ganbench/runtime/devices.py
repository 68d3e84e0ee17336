"""Devices in one place: which device a run uses, and how a device and a machine are named
(in results, in throughput's settings, in folder names and in the estimate)."""

from __future__ import annotations

import os
import platform
import re
from typing import Any

import torch

from ganbench.errors import GanbenchError


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise GanbenchError(
            f"--device {name}: not a device torch knows; use auto, cpu, cuda or cuda:N"
        ) from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise GanbenchError(
            f"--device {name}: CUDA is not available here (torch {torch.__version__}); "
            "use --device cpu or --device auto"
        )
    return device


def device_name(device: str, threads: int | None = None) -> str:
    """Human-readable device: the GPU's name, or the CPU's architecture and thread count
    (this process's, or the `threads` a job will train with)."""
    if device.startswith("cuda") and torch.cuda.is_available():
        return torch.cuda.get_device_name(torch.device(device))
    return f"cpu {platform.machine()} x{threads or torch.get_num_threads()} threads"


def device_words(device: torch.device) -> str:
    if device.type == "cuda":
        return f"this GPU ({torch.cuda.get_device_name(device)})"
    return f"this {device.type.upper()}"


def machine_info(device: torch.device) -> dict[str, Any]:
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else None
    return {
        "node": platform.node(),
        "system": platform.system(),
        "machine": platform.machine(),
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda if device.type == "cuda" else None,
        "gpu": gpu,
        "device": str(device),
    }


def machine_slug(device: torch.device) -> str:
    """Folder name per kind of machine, so that runs on a laptop and an H100 stay apart."""
    name = (
        torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu-{platform.machine()}"
    )
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
