"""A user's own model in a suite: `module:function` beside the suite file, trained and
measured like a built-in; every broken factory is one line and exit 2, before training."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ganbench.cli import main

SUITE = """
name = "mine"
version = 1
[[datasets]]
name = "ring-8"
[[models]]
name = "{model}"
{params}
[[metrics]]
name = "mode-coverage"
samples = 200
[budget]
steps = 20
batch_size = 16
seeds = [0, 1]
[checks]
"{label}/ring-8/modes_covered" = ">= 0"
"""

MODULE = '''
import torch
from torch import nn
from ganbench.training import GAN


def make(data, *, width=8):
    """A tiny MLP GAN written outside ganbench."""
    g = nn.Sequential(nn.Linear(4, width), nn.ReLU(), nn.Linear(width, 2))
    d = nn.Sequential(nn.Linear(2, width), nn.ReLU(), nn.Linear(width, 1), nn.Flatten(0))
    return GAN(g, d, latent_dim=4, lr_g=1e-3, lr_d=1e-3)


def wrong_shape(data):
    g = nn.Linear(4, 3)
    d = nn.Sequential(nn.Linear(2, 1), nn.Flatten(0))
    return GAN(g, d, latent_dim=4, lr_g=1e-3, lr_d=1e-3)


def raises(data):
    raise RuntimeError("no GPU here")


def not_a_gan(data):
    return "generator"


def one_logit_per_dimension(data):
    g = nn.Linear(4, 2)
    d = nn.Linear(2, 2)
    return GAN(g, d, latent_dim=4, lr_g=1e-3, lr_d=1e-3)
'''


@pytest.fixture
def suite_dir(workdir: Path) -> Path:
    folder = workdir / "suites" / "mine"
    folder.mkdir()
    (folder / "my_gans.py").write_text(MODULE)
    return folder


def write(folder: Path, model: str, params: str = "", label: str | None = None) -> None:
    label = label or model.replace(":", ".")
    (folder / "suite.toml").write_text(SUITE.format(model=model, params=params, label=label))


@pytest.mark.e2e  # trains a run: the full tier
def test_a_user_model_beside_the_suite_trains_and_is_measured(suite_dir, workdir, capsys):
    write(suite_dir, "my_gans:make", "width = 16")
    assert main(["run", str(suite_dir)]) == 0
    out = capsys.readouterr().out
    assert "PASSED my_gans.make/ring-8/modes_covered >= 0" in out
    (run_dir,) = list((workdir / "results" / "runs").glob("*/*"))
    result = json.loads((run_dir / "result.json").read_text())
    assert result["results"]["my_gans.make"]["ring-8"]["modes_covered"]["n"] == 2
    assert result["suite"]["components"]["models"]["my_gans.make"] == {
        "width": 16,
        "name": "my_gans:make",
    }
    # parameters are validated like a built-in's
    write(suite_dir, "my_gans:make", "widht = 16")
    assert main(["validate", str(suite_dir)]) == 2
    assert 'models[0].widht: unknown key (did you mean "width"?)' in capsys.readouterr().err


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("no_such_module:make", "cannot import 'no_such_module'"),
        ("my_gans:mkae", "module 'my_gans' (" and "has no 'mkae' (did you mean \"make\"?)"),
        ("my_gans:raises", "the factory raised RuntimeError: no GPU here"),
        ("my_gans:not_a_gan", "the factory returned str, not ganbench.training.GAN"),
        (
            "my_gans:wrong_shape",
            "the generator returns shape (2, 3) for 2 latents; the dataset needs (2, 2)",
        ),
        ("my_gans:one_logit_per_dimension", "the discriminator returns shape (2, 2)"),
    ],
)
def test_a_broken_factory_is_one_line_and_exit_2_before_training(
    suite_dir, workdir, capsys, model, message
):
    write(suite_dir, model)
    assert main(["run", str(suite_dir)]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not (workdir / "results").exists()  # nothing was started


def test_entry_points_register_installed_components(tmp_path, monkeypatch, capsys):
    """An installed package's `ganbench.models` entry point is a model like any other;
    a broken one is a warning, not a failure of every command."""
    import importlib.metadata
    import sys

    from ganbench.registry import Registry

    (tmp_path / "their_pkg.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    points = [
        importlib.metadata.EntryPoint("their-gan", "their_pkg:make", "ganbench.models"),
        importlib.metadata.EntryPoint("broken", "their_pkg:nothing_here", "ganbench.models"),
    ]
    monkeypatch.setattr(
        importlib.metadata,
        "entry_points",
        lambda group: points if group == "ganbench.models" else [],
    )
    registry = Registry("model")
    entry = registry.get("their-gan")
    assert entry.summary == "A tiny MLP GAN written outside ganbench."
    assert entry.parameters() == {"width": 8}
    assert "broken" not in registry
    assert "entry point broken = their_pkg:nothing_here" in capsys.readouterr().err
    sys.modules.pop("their_pkg", None)


KEYWORDS = """
from ganbench.baselines.mlp_gan import mlp_gan

def required(data, *, hidden: int):
    return mlp_gan(data, hidden=hidden)

def optional(data, *, hidden=None):
    return mlp_gan(data, hidden=hidden or 16)

def anything(data, **kwargs):
    return mlp_gan(data, **kwargs)
"""


@pytest.mark.parametrize(
    ("factory", "value", "message"),
    [
        ("required", "16", None),
        ("required", '"16"', "models[0].hidden: expected int, got str"),
        ("required", None, "models[0].hidden: missing: keywords:required has no default for it"),
        ("optional", "16", None),
        ("optional", '"wide"', None),  # a None default says nothing of the type: any value
        ("anything", "16", "models[0].hidden: keywords:anything takes **kwargs"),
    ],
)
def test_factory_keywords_without_a_usable_default(tmp_path, capsys, factory, value, message):
    """issue 23 #12: a keyword-only parameter without a default was 'expected type, got
    int 16', a None default 'expected NoneType', and **kwargs an unexplained unknown key."""
    (tmp_path / "keywords.py").write_text(KEYWORDS)
    setting = f"hidden = {value}\n" if value is not None else ""
    (tmp_path / "suite.toml").write_text(
        f'name = "k"\nversion = 1\n[[datasets]]\nname = "ring-8"\n[[models]]\n'
        f'name = "keywords:{factory}"\n{setting}[[metrics]]\nname = "mode-coverage"\n'
        "[budget]\nsteps = 1\nbatch_size = 2\nseeds = [0]\n"
    )
    code = main(["validate", str(tmp_path / "suite.toml")])
    err = capsys.readouterr().err
    if message is None:
        assert code == 0, err
    else:
        assert code == 2 and message in err, err
