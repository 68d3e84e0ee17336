"""A random FIDInception state dict with activations of order 1 through all 94 layers.

For the tests, which check that pipelines compute the same thing with the same weights, and
for .ci/gpu-check on a machine without the real weights (speed does not depend on their
values): `python3 -m tests.random_inception PATH` writes one.
"""

from __future__ import annotations

import sys

import torch


def random_inception_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """He-initialised convolutions and mild batch-norm statistics: activations neither die
    nor explode through the network, so features and FIDs are informative numbers."""
    from ganbench.features.inception_net import FIDInception

    g = torch.Generator().manual_seed(seed)
    state = {}
    for name, tensor in FIDInception().state_dict().items():
        if name.endswith("num_batches_tracked"):
            state[name] = tensor
        elif name.endswith("conv.weight"):
            fan_in = tensor[0].numel()
            state[name] = torch.randn(tensor.shape, generator=g) * (2 / fan_in) ** 0.5
        elif name.endswith("running_var"):
            state[name] = torch.rand(tensor.shape, generator=g) + 0.5
        elif name.endswith("bn.weight"):
            state[name] = 1 + 0.1 * torch.randn(tensor.shape, generator=g)
        else:  # bn bias and running mean, fc
            state[name] = 0.1 * torch.randn(tensor.shape, generator=g)
    return state


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python3 -m tests.random_inception PATH")
    torch.save(random_inception_state(), sys.argv[1])
