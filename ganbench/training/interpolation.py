"""Paths between latent points: linear, and spherical (White 2016, "Sampling Generative
Networks"), which keeps the path at the norm typical of Gaussian latents where linear
interpolation dips towards the origin."""

from __future__ import annotations

import torch


def lerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Points at fractions `t` (broadcast against a's leading dimensions, with a trailing
    dimension of 1) of the straight lines from rows of `a` to rows of `b`."""
    return a + t * (b - a)


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Points at fractions `t` of the great-circle arcs from `a` to `b` (their norms
    interpolated with the same weights); linear where a and b are (anti)parallel."""
    cos = torch.nn.functional.cosine_similarity(a, b, dim=-1).clamp(-1, 1)
    omega = torch.acos(cos)[..., None]
    sin = torch.sin(omega).clamp(min=1e-8)
    out = (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / sin
    return torch.where(omega < 1e-4, lerp(a, b, t), out)
