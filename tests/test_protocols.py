"""Paper-protocol pieces of the reference MLP GAN: packing, maxout, batch-norm groups,
the minimax loss, simultaneous updates, finite training sets, and seeds trained as one
ensemble, each against a hand computation or an independent implementation."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ganbench.baselines.mlp_gan import BatchNorm, MLPDiscriminator, MLPGenerator
from ganbench.baselines.stacked_layers import StackedBatchNorm, StackedLinear, StackedMaxout
from ganbench.data.mog import grid_25, ring_8
from ganbench.training import ensemble
from ganbench.training.build import build_model
from ganbench.training.gan import GAN
from ganbench.training.loop import train
from ganbench.training.losses import LOSSES
from tests.helpers import assert_same_weights

CPU = torch.device("cpu")
PACGAN = dict(
    latent_dim=2,
    hidden=16,
    depth=2,
    d_hidden=8,
    d_depth=2,
    g_batchnorm=True,
    g_bias=False,
    maxout_pieces=5,
    init="normal-0.02",
    lr=1e-4,
    beta1=0.8,
    updates="simultaneous",
)


def test_stacked_linear_equals_nn_linear_with_the_same_draws():
    """Default init draws what nn.Linear draws (old runs keep their seeds), and the
    forward pass is the same map."""
    torch.manual_seed(3)
    reference = nn.Linear(5, 7)
    torch.manual_seed(3)
    layer = StackedLinear(5, 7)
    assert torch.equal(layer.weight[0].T, reference.weight)
    assert torch.equal(layer.bias[0], reference.bias)
    x = torch.randn(11, 5)
    torch.testing.assert_close(layer(x[None])[0], reference(x), rtol=1e-6, atol=1e-6)


def test_maxout_against_hand_computed_pieces():
    layer = StackedMaxout(2, 2, pieces=3)
    with torch.no_grad():
        layer.linear.weight.zero_()
        layer.linear.bias.copy_(torch.tensor([[1.0, -2.0, 0.5, 4.0, 3.0, -1.0]]))
        layer.linear.weight[0, 0] = torch.tensor([1.0, 0.0, 0.0, 0.0, 0.0, 2.0])
    # unit 0 pieces: (x0 + 1, -2, 0.5); unit 1 pieces: (4, 3, 2 x0 - 1)
    out = layer(torch.tensor([[[0.0, 9.0], [3.0, 9.0]]]))
    assert out.tolist() == [[[1.0, 4.0], [4.0, 5.0]]]


def test_packing_concatenates_real_with_real_and_fake_with_fake():
    """Packed example j holds row j of each of the m blocks the loop draws; a discriminator
    that sums its first and third inputs sees two samples of one kind, never a mix."""
    d = MLPDiscriminator((4,), (2,), packing=2, activation="relu")
    captured = []
    d.net = nn.Sequential(nn.Identity())
    d.net.register_forward_hook(lambda m, i, o: captured.append(i[0]))
    real = torch.arange(8.0).view(4, 2)  # two blocks of batch 2: rows 0,1 | 2,3
    d(real)
    assert captured[0][0].tolist() == [[0.0, 1.0, 4.0, 5.0], [2.0, 3.0, 6.0, 7.0]]
    # In the loop, real and fake go through the discriminator in separate calls.
    fake = -torch.arange(8.0).view(4, 2)
    d(fake)
    assert (captured[1] <= 0).all() and (captured[0] >= 0).all()


def test_batchnorm_groups_normalise_each_block_alone():
    bn = StackedBatchNorm(1, momentum=0.5, eps=0.0)
    x = torch.tensor([[[1.0], [3.0], [10.0], [30.0]]])  # two groups of two
    bn.groups = 2
    out = bn(x)
    assert out.flatten().tolist() == [-1.0, 1.0, -1.0, 1.0]
    # running stats move halfway to the mean over groups of (mean, biased var)
    assert bn.running_mean.item() == pytest.approx(0.5 * (2 + 20) / 2)
    assert bn.running_var.item() == pytest.approx(0.5 + 0.5 * (1 + 100) / 2)


def test_minimax_and_ns_losses_against_hand_values():
    logits = torch.tensor([0.0, 2.0])
    d = torch.sigmoid(logits)
    assert LOSSES["minimax"].generator(logits).item() == pytest.approx(
        torch.log(1 - d).mean().item()
    )
    assert LOSSES["ns"].generator(logits).item() == pytest.approx(-torch.log(d).mean().item())
    real, fake = torch.tensor([1.0, -1.0]), torch.tensor([0.5, 3.0])
    expected = -torch.log(torch.sigmoid(real)).mean() - torch.log(1 - torch.sigmoid(fake)).mean()
    for name in ("ns", "minimax"):
        assert LOSSES[name].discriminator(real, fake).item() == pytest.approx(expected.item())
    # per member: (members, batch) -> one loss per member
    assert LOSSES["ns"].generator(torch.zeros(3, 4)).shape == (3,)


def test_simultaneous_updates_use_gradients_at_the_same_parameters():
    """One simultaneous step equals Adam's first step computed by hand from gradients taken
    at the initial parameters of both networks. Adam's first step is lr * g / (|g| + eps),
    i.e. lr * sign(g) up to lr * eps / |g| (< 1e-4 here); an alternating update, whose
    G gradient sees the already-updated D, moves G by a different sign pattern (0.2)."""
    data = ring_8()
    torch.manual_seed(0)
    gan = build_model(
        "mlp-gan", data, dict(latent_dim=2, hidden=4, depth=1, lr=0.1, updates="simultaneous")
    )
    g0 = [p.detach().clone() for p in gan.generator.parameters()]
    d0 = [p.detach().clone() for p in gan.discriminator.parameters()]
    torch.manual_seed(0)
    twin = build_model(
        "mlp-gan", data, dict(latent_dim=2, hidden=4, depth=1, lr=0.1, updates="simultaneous")
    )
    train(gan, data, steps=1, batch_size=8, device=CPU, seed=5, log_points=1)

    # Adam's first step moves every parameter by lr * sign(grad) (m/sqrt(v) = g/|g|).
    real = data.sampler(8, CPU, 5)()
    z = torch.randn(8, 2, generator=torch.Generator().manual_seed(5 + 1_000_003))
    fake = twin.generator(z)
    real_logits, fake_logits = twin.discriminator(real), twin.discriminator(fake)
    d_loss = F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
    g_loss = F.softplus(-fake_logits).mean()
    d_grads = torch.autograd.grad(d_loss, list(twin.discriminator.parameters()), retain_graph=True)
    g_grads = torch.autograd.grad(g_loss, list(twin.generator.parameters()))
    for before, grad, after in zip(d0, d_grads, gan.discriminator.parameters(), strict=True):
        torch.testing.assert_close(after.detach(), before - 0.1 * grad.sign(), rtol=0, atol=1e-4)
    for before, grad, after in zip(g0, g_grads, gan.generator.parameters(), strict=True):
        torch.testing.assert_close(after.detach(), before - 0.1 * grad.sign(), rtol=0, atol=1e-4)


def test_finite_training_set_is_iterated_in_epochs():
    data = grid_25(train_points=10)
    batches = data.sampler(5, CPU, seed=1)
    epoch = torch.cat([batches(), batches()])
    again = data.sampler(5, CPU, seed=1)
    assert torch.equal(torch.cat([again(), again()]), epoch)  # seeded
    # one epoch is a permutation of the 10 points drawn once for this seed
    assert sorted(epoch.tolist()) == sorted(batches.samples.tolist())
    third = batches()
    assert any(torch.equal(third[0], row) for row in epoch)  # the next epoch reuses them


def _pacgan(seed: int, packing: int) -> GAN:
    torch.manual_seed(seed)
    return build_model("mlp-gan", grid_25(train_points=500), {"packing": packing, **PACGAN})


@pytest.mark.e2e  # trains a run: the full tier
@pytest.mark.parametrize("packing", [1, 2])
def test_ensemble_trains_each_seed_as_it_trains_alone(packing):
    """Seeds 3, 4, 5 stacked give, member by member, the weights and losses of three
    separate runs. Tolerance 1e-5: a batched matmul may round differently from a single
    one; over 30 steps that stays below 1e-6 here, while swapping two seeds' data or
    noise would change weights by about 1e-3."""
    data = grid_25(train_points=500)
    seeds = [3, 4, 5]
    singles = []
    for seed in seeds:
        gan = _pacgan(seed, packing)
        record = train(gan, data, steps=30, batch_size=16, device=CPU, seed=seed, log_points=30)
        singles.append((gan, record))
    stacked = ensemble.stack([_pacgan(seed, packing) for seed in seeds])
    record = train(stacked, data, steps=30, batch_size=16, device=CPU, seed=seeds, log_points=30)
    for index, ((single, single_record), member_record) in enumerate(
        zip(singles, record.members(), strict=True)
    ):
        member = ensemble.member(stacked, index)
        assert_same_weights(member.generator, single.generator)
        torch.testing.assert_close(
            torch.tensor(member_record.loss_d),
            torch.tensor(single_record.loss_d),
            rtol=1e-5,
            atol=1e-5,
        )
        samples = member.sample(100, seed=7)
        torch.testing.assert_close(samples, single.sample(100, seed=7), rtol=1e-5, atol=1e-5)


def test_ensemble_members_diverge_alone():
    """A member whose loss turns NaN is reported; the others train on unharmed."""
    data = ring_8()
    gans = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        gans.append(build_model("mlp-gan", data, dict(hidden=8)))
    with torch.no_grad():
        gans[1].generator.net[0].weight.fill_(math.nan)
    stacked = ensemble.stack(gans)
    record = train(stacked, data, steps=5, batch_size=8, device=CPU, seed=[0, 1], log_points=5)
    first, second = record.members()
    assert first.diverged == [None] and math.isfinite(first.loss_g[-1])
    assert "not finite" in second.diverged[0]


def test_generator_output_shapes_single_and_stacked():
    g = MLPGenerator(3, (8, 8), (2,), False, batchnorm=BatchNorm(), groups=2)
    assert g(torch.randn(10, 3)).shape == (10, 2)
    stacked = ensemble.stack([GAN(g, MLPDiscriminator((4,), (2,)), 3, 1e-3, 1e-3)] * 2)
    assert stacked.generator(torch.randn(2, 10, 3)).shape == (2, 10, 2)


def test_dcgan_packing_stacks_images_of_one_kind_along_channels():
    """PacDCGAN2: the first convolution sees 2 x channels; packed example j stacks image j
    of each block, so a batch of reals never meets a fake inside one example."""
    from ganbench.baselines.dcgan import DCGANDiscriminator

    d = DCGANDiscriminator(8, 3, 28, packing=2)
    assert d.net[0].in_channels == 6
    seen = []
    d.net[0].register_forward_hook(lambda m, i, o: seen.append(i[0]))
    images = torch.arange(4.0).view(4, 1, 1, 1).expand(4, 3, 28, 28)  # blocks: 0,1 | 2,3
    assert d(images).shape == (2,)
    assert seen[0][:, :, 0, 0].tolist() == [[0.0] * 3 + [2.0] * 3, [1.0] * 3 + [3.0] * 3]


def test_two_generator_steps_and_uniform_latents():
    """g_steps = 2 moves the generator twice per discriminator step (Adam's first two
    steps of lr each, in the direction of the gradient's sign); U(-1, 1) latents stay in range."""
    data = ring_8()
    torch.manual_seed(0)
    gan = build_model(
        "mlp-gan", data, dict(latent_dim=3, hidden=4, depth=1, lr=0.01, g_steps=2, latent="uniform")
    )
    z = gan.latents(1000, torch.Generator().manual_seed(0))
    assert z.min() >= -1 and z.max() <= 1 and z.abs().mean() == pytest.approx(0.5, abs=0.03)
    before = gan.generator.net[-2].bias.detach().clone()
    train(gan, data, steps=1, batch_size=8, device=CPU, seed=0, log_points=1)
    moved = (gan.generator.net[-2].bias.detach() - before).abs()
    # two Adam steps of lr 0.01 move a parameter by up to 0.02 (one step: at most 0.01)
    assert moved.max() > 0.015


def test_hinge_lsgan_and_wasserstein_losses_against_hand_values():
    real, fake = torch.tensor([2.0, 0.5]), torch.tensor([-3.0, 0.25])
    # hinge: mean(max(0, 1 - r)) + mean(max(0, 1 + f)) = (0 + 0.5)/2 + (0 + 1.25)/2
    assert LOSSES["hinge"].discriminator(real, fake).item() == pytest.approx(0.875)
    assert LOSSES["hinge"].generator(fake).item() == pytest.approx(1.375)  # -mean(f)
    # lsgan: 0.5 mean((r - 1)^2) + 0.5 mean(f^2) = 0.5 (1 + 0.25)/2 + 0.5 (9 + 0.0625)/2
    assert LOSSES["lsgan"].discriminator(real, fake).item() == pytest.approx(0.3125 + 2.265625)
    assert LOSSES["lsgan"].generator(fake).item() == pytest.approx(0.5 * (16 + 0.5625) / 2)
    # wasserstein critic: mean(f) - mean(r)
    assert LOSSES["wgan-gp"].discriminator(real, fake).item() == pytest.approx(-1.375 - 1.25)
    assert LOSSES["wgan-gp"].penalty and not LOSSES["hinge"].penalty


@pytest.mark.parametrize("packing", [1, 2])
def test_gradient_penalty_of_a_linear_critic(packing):
    """A linear critic D(x) = w . x has gradient w everywhere: the penalty is
    (||w|| - 1)^2 whatever the interpolation, with w the whole packed weight."""
    from ganbench.training.losses import gradient_penalty

    d = MLPDiscriminator((), (2,), packing=packing)
    d.net = nn.Sequential(StackedLinear(2 * packing, 1))
    w = d.net[0].weight.detach().flatten()
    real, fake = torch.randn(6 * packing, 2), torch.randn(6 * packing, 2)
    eps = torch.rand(6 * packing, 1)
    penalty = gradient_penalty(d, real, fake, eps, packing)
    assert penalty.item() == pytest.approx(((w.norm() - 1) ** 2).item(), rel=1e-5)


def test_wgan_gp_critic_steps_and_ema_after_k_steps():
    """n_critic = 3: the critic's Adam state counts 3 steps per generator step. ema: the
    average is decay^k x initial + sum of (1 - decay) decay^(k-i) x the weights after step i."""
    data = ring_8()
    torch.manual_seed(0)
    gan = build_model("mlp-gan", data, {"hidden": 8, "loss": "wgan-gp", "n_critic": 3, "ema": 0.5})
    initial = gan.generator.net[0].bias.detach().clone()
    history = []
    recorded = []
    original = torch.optim.Adam.step

    def spy(self, *args, **kwargs):
        out = original(self, *args, **kwargs)
        recorded.append(self)
        if self.param_groups[0]["params"][0] is gan.generator.net[0].weight:
            history.append(gan.generator.net[0].bias.detach().clone())
        return out

    torch.optim.Adam.step = spy
    try:
        record = train(gan, data, steps=2, batch_size=8, device=CPU, seed=0, log_points=2)
    finally:
        torch.optim.Adam.step = original
    d_opt = next(
        o for o in recorded if o.param_groups[0]["params"][0] is not gan.generator.net[0].weight
    )
    state = d_opt.state[d_opt.param_groups[0]["params"][0]]
    assert int(state["step"]) == 6  # 2 generator steps x 3 critic steps
    assert len(history) == 2 and all(math.isfinite(v) for v in record.loss_d)
    expected = 0.25 * initial + 0.5 * 0.5 * history[0] + 0.5 * history[1]
    torch.testing.assert_close(gan.ema_generator.net[0].bias.detach(), expected)
    # samples come from the average, not from the last weights
    plain = GAN(gan.generator, gan.discriminator, gan.latent_dim, 1e-3, 1e-3)
    assert not torch.equal(gan.sample(10, seed=1), plain.sample(10, seed=1))


def test_procedure_parameters_apply_to_any_model_and_are_validated(tmp_path, capsys):
    from ganbench.cli import main
    from ganbench.registry import MODELS

    params = MODELS.get("dcgan").parameters()
    assert params["loss"] == "ns" and params["n_critic"] == 1 and params["ema"] == 0.0
    suite = tmp_path / "suite.toml"
    suite.write_text(
        'name = "t"\nversion = 1\n[[datasets]]\nname = "ring-8"\n[[models]]\n'
        'name = "mlp-gan"\nloss = "wgan"\n[[metrics]]\nname = "throughput"\n'
        "[budget]\nsteps = 2\nbatch_size = 4\nseeds = [0]\n"
    )
    assert main(["validate", str(suite)]) == 2
    err = capsys.readouterr().err
    assert "models[0].loss: 'wgan' is not one of ns, minimax, hinge, lsgan, wgan-gp" in err


@pytest.mark.e2e  # trains a run: the full tier
def test_a_non_default_procedure_is_part_of_every_measurements_settings(workdir):
    """Two runs with different losses must never look like the same measurement; a
    default-procedure run keeps the settings runs always had."""
    import json

    from ganbench.cli import main

    base = (
        'name = "{name}"\nversion = 1\n[[datasets]]\nname = "ring-8"\n[[models]]\nname = "mlp-gan"\n'
        'hidden = 8\n{extra}[[metrics]]\nname = "mode-coverage"\nsamples = 100\n'
        "[budget]\nsteps = 3\nbatch_size = 8\nseeds = [0]\n"
    )
    settings = []
    for extra in ("", 'loss = "hinge"\nema = 0.9\n'):
        folder = workdir / "suites" / f"t{len(settings)}"
        folder.mkdir()
        (folder / "suite.toml").write_text(base.format(name=folder.name, extra=extra))
        assert main(["run", str(folder)]) == 0
        (run,) = [
            r for r in (workdir / "results" / "runs").glob("*/*") if r.name.endswith(folder.name)
        ]
        result = json.loads((run / "result.json").read_text())
        settings.append(result["results"]["mlp-gan"]["ring-8"]["modes_covered"]["settings"])
    assert "training" not in settings[0]
    assert settings[1]["training"] == {"loss": "hinge", "ema": 0.9}
    assert {k: v for k, v in settings[1].items() if k != "training"} == settings[0]
