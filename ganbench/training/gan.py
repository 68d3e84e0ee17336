"""What a model factory hands the training loop."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
from torch import nn

from ganbench.training.losses import Loss


@dataclass
class GAN:
    """A generator/discriminator pair with the optimiser settings its paper uses.

    The settings travel with the networks because they are part of what makes a
    baseline the baseline: DCGAN without Adam(2e-4, beta1=0.5) is another model.
    """

    generator: nn.Module
    discriminator: nn.Module
    latent_dim: int
    lr_g: float
    lr_d: float
    betas: tuple[float, float] = (0.5, 0.999)
    #: The discriminator judges this many samples at once (PacGAN); each training step
    #: draws batch_size x packing real and generated samples.
    packing: int = 1
    #: A name in ganbench.training.losses.LOSSES, or a model's own
    #: ganbench.training.losses.Loss (its discriminator and generator functions).
    loss: str | Loss = "ns"
    #: "alternating": a D step, then a G step against the updated D; "simultaneous":
    #: both gradients from one forward pass, applied together (ALI/PacGAN, VEEGAN code).
    updates: str = "alternating"
    #: Generator updates per discriminator update (alternating only; PacGAN's DCGAN code
    #: runs two "to make sure that d_loss does not go to zero").
    g_steps: int = 1
    #: Discriminator updates per generator update (alternating; WGAN-GP uses 5).
    n_critic: int = 1
    #: Weight of the gradient penalty of loss "wgan-gp" (Gulrajani et al. 2017: 10).
    gp_weight: float = 10.0
    #: "normal": z ~ N(0, I); "uniform": z ~ U(-1, 1) (DCGAN-tensorflow).
    latent: str = "normal"
    #: Decay of an exponential moving average of the generator's weights (0: none). With
    #: it, samples and metrics come from the average (Yazici et al. 2019).
    ema: float = 0.0
    ema_generator: nn.Module | None = None
    #: Spectrally normalise every weight of the discriminator (Miyato et al. 2018);
    #: ganbench.training.build.build_model applies it to what the factory returned.
    spectral_norm: bool = False
    #: Seeds stacked in the networks' leading dimension (ganbench.training.ensemble).
    ensemble: int = 1

    def to(self, device: torch.device) -> GAN:
        self.generator.to(device)
        self.discriminator.to(device)
        return self

    @property
    def device(self) -> torch.device:
        """Where the generator lives: its first parameter's device, or its first buffer's
        (a wrapped plain function has only a buffer)."""
        tensors = itertools.chain(self.generator.parameters(), self.generator.buffers())
        return next(tensors, torch.empty(0)).device

    def latents(self, n: int, generator: torch.Generator) -> torch.Tensor:
        shape, device = (n, self.latent_dim), generator.device
        if self.latent == "uniform":
            return torch.rand(shape, generator=generator, device=device) * 2 - 1
        return torch.randn(shape, generator=generator, device=device)

    def sobol_latents(self, n: int, seed: int) -> torch.Tensor:
        """`n` latents from a scrambled Sobol sequence through the prior's inverse CDF:
        they fill the prior more evenly than random draws, so a statistic of the samples
        varies less (Chong & Forsyth 2020 draw FID-infinity's latents so)."""
        engine = torch.quasirandom.SobolEngine(self.latent_dim, scramble=True, seed=seed)
        u = engine.draw(n, dtype=torch.float64)
        if self.latent == "uniform":
            z = u * 2 - 1
        else:  # Sobol's first point is 0: the inverse CDF needs (0, 1)
            z = torch.special.ndtri(u.clamp(1e-7, 1 - 1e-7))
        return z.float().to(self.device)

    @torch.no_grad()
    def sample(
        self,
        n: int,
        seed: int,
        batch_size: int = 2048,
        on_device: bool = False,
        latents: str = "random",
    ) -> torch.Tensor:
        """`n` generated samples, in eval mode, deterministic per seed (from the weights'
        moving average when the model keeps one): on the CPU, or where the generator is
        (`on_device`: evaluation keeps them there, for the extractor). `latents` "sobol":
        from sobol_latents instead of random draws."""
        rng = torch.Generator(device=self.device).manual_seed(seed)
        out = self.device if on_device else torch.device("cpu")
        generator = self.ema_generator or self.generator
        was_training = generator.training
        generator.eval()
        sobol = self.sobol_latents(n, seed) if latents == "sobol" else None
        try:
            chunks = [
                generator(
                    self.latents(min(batch_size, n - i), rng)
                    if sobol is None
                    else sobol[i : i + batch_size]
                )
                .float()
                .to(out)
                for i in range(0, n, batch_size)
            ]
        finally:
            generator.train(was_training)
        return torch.cat(chunks)
