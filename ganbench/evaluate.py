"""Measuring a user's own generator, without training: `ganbench eval`, the pytest plugin
and, from Python, `ganbench.evaluate(generator, dataset, metrics, ...)`.

A generator is any callable (an nn.Module usually) that maps latents
(N, latent_dim) to samples in the dataset's model space: images in [-1, 1]
shaped (N, C, H, W), or points (N, 2).

This module is callable: `ganbench.evaluate(...)` is `evaluate(...)` below, while
`from ganbench.evaluate import trained_gan` keeps working (projects made by `ganbench
init` import it), so the library's verb and the module share the name without either
shadowing the other.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganbench.data.base import Dataset
from ganbench.errors import GanbenchError
from ganbench.metrics.base import EvalContext, Measurement, Score
from ganbench.registry import (
    AT_LEAST_ONE,
    DATASETS,
    METRICS,
    build_dataset,
    missing_capabilities,
)
from ganbench.results.files import RunFolder, job_name, load_result
from ganbench.suite import by_name, check_parameters
from ganbench.training.build import build_model
from ganbench.training.checkpoint import read_checkpoint
from ganbench.training.gan import GAN


class FunctionModule(nn.Module):
    """Wraps a plain function so that GAN.sample can find a device and switch modes."""

    def __init__(self, fn: Callable[[torch.Tensor], torch.Tensor], device: torch.device):
        super().__init__()
        self.fn = fn
        self.register_buffer("anchor", torch.zeros(0, device=device))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.fn(z)


def load_generator(spec: str) -> Any:
    """'pkg.module:G' -> the generator G; 'pkg.module:make_g()' -> what make_g() returns."""
    module_name, _, attribute = spec.partition(":")
    call = attribute.endswith("()")
    attribute = attribute.removesuffix("()")
    if not module_name or not attribute.isidentifier():
        raise GanbenchError(
            f"--generator {spec!r}: expected MODULE:GENERATOR or "
            "MODULE:FACTORY(), e.g. mygan.models:load_generator()"
        )
    sys.path.insert(0, str(Path.cwd()))
    try:
        obj = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as e:
        raise GanbenchError(f"--generator {spec!r}: {e}") from None
    except Exception as e:  # the user's module raised while being imported
        raise GanbenchError(
            f"--generator {spec!r}: importing {module_name} raised {type(e).__name__}: {e}"
        ) from None
    if not call:
        return obj
    try:
        return obj()
    except Exception as e:
        raise GanbenchError(
            f"--generator {spec!r}: {attribute}() raised {type(e).__name__}: {e}"
        ) from None


def evaluate_generator(
    generator: Callable[[torch.Tensor], torch.Tensor],
    dataset: str,
    metrics: list[str],
    *,
    latent_dim: int | None = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
    metric_params: dict[str, dict[str, Any]] | None = None,
    dataset_params: dict[str, Any] | None = None,
) -> dict[str, Measurement]:
    """Measures `generator` on `dataset` (with `dataset_params`, e.g. a folder's path)
    with `metrics` (names from `ganbench ls`). The generator is held to the contract a
    suite's models are (callable, latents of latent_dim in, the dataset's shape out)
    before any metric runs.

    Returns measurements by key ("fid_mnist", "modes_covered", ...) and, for metrics
    that produce one key, also by metric name ("fid-mnist").
    """
    if not callable(generator):
        raise GanbenchError(
            f"the generator is a {type(generator).__name__}, not callable: give a module or "
            "function that maps a batch of latents to a batch of samples"
        )
    dataset_params = dataset_params or {}
    # every name and value checked before anything is loaded
    check_parameters(DATASETS.get(dataset), dataset_params, f"dataset {dataset}")
    entries = {name: METRICS.get(name) for name in metrics}
    metric_params = metric_params or {}
    for name in metric_params:
        if name not in entries:
            raise GanbenchError(f"parameters for metric {name!r}, which is not measured")
    for name, entry in entries.items():
        if entry.meta.get("needs_training"):
            raise GanbenchError(f"{name} measures training; it is not available in eval")
        if entry.meta.get("needs_discriminator"):
            raise GanbenchError(
                f"{name} probes a trained discriminator, which eval does not have; "
                f'measure it in a suite run ([[metrics]] name = "{name}")'
            )
        missing = missing_capabilities(entry, dataset)
        if missing:
            raise GanbenchError(
                f"metric {name!r} needs a dataset with {', '.join(missing)}; {dataset!r} has none"
            )
        check_parameters(entry, metric_params.get(name, {}), f"metric {name}")
    if latent_dim is not None and latent_dim not in AT_LEAST_ONE:
        raise GanbenchError(f"latent_dim: {latent_dim!r} is out of range; valid: {AT_LEAST_ONE}")
    latent_dim = latent_dim or getattr(generator, "latent_dim", None)
    if not latent_dim:
        raise GanbenchError(
            "latent_dim is unknown: pass latent_dim=... (--latent-dim) or give the generator "
            "a latent_dim attribute"
        )
    device = torch.device(device)
    module = generator if isinstance(generator, nn.Module) else FunctionModule(generator, device)
    module.to(device)
    gan = GAN(module, nn.Identity(), latent_dim, lr_g=0.0, lr_d=0.0)
    data = build_dataset(dataset, dataset_params)
    _check_contract(gan, data, dataset)
    ctx = EvalContext(gan, data, training=None, seed=seed)
    out: dict[str, Measurement] = {}
    for name, entry in entries.items():
        measured = entry.factory(**metric_params.get(name, {}))(ctx)
        out.update(measured)
        if len(measured) == 1:
            out[name] = next(iter(measured.values()))
    return out


def evaluate(
    generator: Callable[[torch.Tensor], torch.Tensor],
    dataset: str,
    metrics: str | list[str],
    *,
    latent_dim: int | None = None,
    seed: int = 0,
    device: str | torch.device = "auto",
    metric_params: dict[str, dict[str, Any]] | None = None,
    dataset_params: dict[str, Any] | None = None,
) -> dict[str, Score]:
    """`ganbench eval` from Python: `generator` on `dataset` with the suite metrics named
    (`ganbench ls` lists them; one name or a list), each with its parameters in
    `metric_params`, e.g. {"prdc": {"k": 3}}. `dataset` is a dataset's name ("mnist"; the
    split is each metric's real_split), or your own dataset as "module:function", which is
    imported ("mnist:test" is refused, never imported as a module). Returns Scores (floats
    with their settings) by key ("fid_mnist", "precision", ...) and, for metrics with one
    key, also by metric name ("fid-mnist"); a value that could not be measured is NaN with
    its reason in settings["unavailable"]."""
    from ganbench.runtime.devices import resolve_device

    measured = evaluate_generator(
        generator,
        dataset,
        [metrics] if isinstance(metrics, str) else list(metrics),
        latent_dim=latent_dim,
        seed=seed,
        device=resolve_device(str(device)),
        metric_params=metric_params,
        dataset_params=dataset_params,
    )
    return {key: Score.of(key, m) for key, m in measured.items()}


class _EvaluateModule(types.ModuleType):
    """`ganbench.evaluate(...)` calls evaluate(); the module's names stay importable."""

    def __call__(self, *args: Any, **kwargs: Any) -> dict[str, Score]:
        return evaluate(*args, **kwargs)


sys.modules[__name__].__class__ = _EvaluateModule


def _check_contract(gan: GAN, data: Any, dataset: str) -> None:
    """Two latents through the generator: a wrong latent_dim or output shape is one line
    naming both, not a traceback inside the first metric."""
    latents = gan.latents(2, torch.Generator().manual_seed(0))
    try:
        with torch.no_grad():
            fake = gan.generator(latents)
    except Exception as e:
        raise GanbenchError(
            f"the generator failed on 2 latents of dimension {gan.latent_dim}: "
            f"{type(e).__name__}: {e}; is --latent-dim right?"
        ) from None
    expected = (2, *data.sample_shape)
    if not isinstance(fake, torch.Tensor) or tuple(fake.shape) != expected:
        got = tuple(fake.shape) if isinstance(fake, torch.Tensor) else type(fake).__name__
        raise GanbenchError(
            f"the generator returns {got} for 2 latents; {dataset} needs {expected} "
            "(images in [-1, 1], channels first)"
        )


def trained_gan(
    run_dir: Path, model: str, dataset: str, seed: int, result: dict[str, Any] | None = None
) -> tuple[GAN, Dataset]:
    """The GAN a run trained for (model, dataset, seed), rebuilt from its checkpoint, with
    its dataset: to measure, draw or test what a `ganbench run` produced (e.g. a project's
    pytest on the run its CI just made). The generator is the weights' moving average
    when the run kept one, as its metrics measured."""
    result = result or load_result(run_dir)
    checkpoint = RunFolder(run_dir).checkpoint(job_name(model, dataset, seed))
    components = result["suite"].get("components")
    if not checkpoint.is_file() or components is None:
        raise GanbenchError(
            f"{checkpoint}: no checkpoint of {model}/{dataset} seed {seed} in this run"
            + ("" if components is None else f" (models: {', '.join(components['models'])})")
        )
    # {label: {**params, "name": registered name}}; files from before labels hold params only.
    data_spec = dict(components["datasets"].get(dataset, {}))
    model_spec = dict(components["models"].get(model, {}))
    data_name, model_name = data_spec.pop("name", dataset), model_spec.pop("name", model)
    _users_code_declared(result, run_dir, (data_name, model_name))
    try:
        data = build_dataset(data_name, data_spec)
        torch.manual_seed(seed)
        gan = build_model(model_name, data, model_spec)
    except GanbenchError:
        raise
    except Exception as e:  # parameters from a damaged or foreign result file
        raise GanbenchError(
            f"{RunFolder(run_dir).result}: cannot rebuild {model}/{dataset} from its recorded "
            f"components: {type(e).__name__}: {e}"
        ) from None
    state = read_checkpoint(checkpoint)
    try:
        gan.generator.load_state_dict(state.get("generator_ema", state["generator"]))
        gan.discriminator.load_state_dict(state["discriminator"])
    except (KeyError, RuntimeError) as e:
        raise GanbenchError(
            f"{checkpoint}: does not fit {model} as the run recorded it ({type(e).__name__}: "
            f"{str(e).splitlines()[0]})"
        ) from None
    gan.generator.eval()
    return gan, data


def _users_code_declared(result: dict[str, Any], run_dir: Path, names: tuple[str, ...]) -> None:
    """A result file is data (docs/security.md): a user's `module:function` it names is
    imported only when a suite of ./suites (or a packaged one) of the run's suite name
    declares that same component, so the code comes from the suite, never from the file."""
    users = [n for n in names if not isinstance(n, str) or ":" in n]
    if not users:
        return
    suite_name = result["suite"].get("name")
    found = by_name(suite_name) if isinstance(suite_name, str) else None
    declared = {c.name for c in (*found.models, *found.datasets)} if found else set()
    for name in users:
        if name not in declared:
            raise GanbenchError(
                f"{RunFolder(run_dir).result}: its components name {name!r}, code that no suite "
                f"named {suite_name!r} in ./suites declares; ganbench imports a user's model "
                "only through its suite file (run this from the project that holds the suite)"
            )
