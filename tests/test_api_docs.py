"""docs/api.md's Python blocks run, in order, as a reader would paste them into one
notebook: in a folder holding `samples/` (300 MNIST train digits as PNG).

Lightning is not installed here: its block runs with a stand-in `lightning` module that
does what Lightning does with a torchmetrics Metric logged from validation_step (on
epoch end): `validate` calls validation_step on each batch, then compute() and reset()
on each metric logged, and keeps the values in `callback_metrics`.
"""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest
import torch

from ganbench.data.mnist import mnist
from tests.helpers import write_pngs

PAGE = Path(__file__).resolve().parents[1] / "docs" / "api.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


def lightning_stand_in() -> types.ModuleType:
    module = types.ModuleType("lightning")

    class LightningModule(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.logged: dict = {}

        @property
        def device(self) -> torch.device:
            return next(self.parameters()).device

        def log(self, name: str, value, **kwargs) -> None:
            self.logged[name] = value

    class Trainer:
        def __init__(self, limit_val_batches: int | None = None, **kwargs) -> None:
            self.limit = limit_val_batches
            self.callback_metrics: dict = {}

        def validate(self, model, dataloaders) -> list[dict]:
            model.eval()
            with torch.no_grad():
                for index, batch in enumerate(dataloaders):
                    if self.limit is not None and index >= self.limit:
                        break
                    model.validation_step(batch, index)
            for name, metric in model.logged.items():
                self.callback_metrics[name] = metric.compute()
                metric.reset()
            return [dict(self.callback_metrics)]

    module.LightningModule, module.Trainer = LightningModule, Trainer
    return module


def test_the_page_has_the_examples_the_issue_asks_for():
    text = PAGE.read_text()
    for heading in (
        "## Scoring a folder against MNIST's test split",
        "## A generator in a notebook",
        "## FID inside a training loop, every N steps",
        "## Lightning logging",
    ):
        assert heading in text
    assert len(python_blocks(text)) >= 5


@pytest.mark.e2e  # the examples embed ~10,000 digits with the MNIST classifier: ~20 s
def test_every_python_block_of_the_page_runs(tmp_path, monkeypatch, capsys):
    write_pngs(tmp_path / "samples", mnist().train.images[:300])
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "lightning", lightning_stand_in())
    namespace: dict = {"__name__": "docs_api"}
    for index, block in enumerate(python_blocks(PAGE.read_text())):
        try:
            exec(compile(block, f"docs/api.md block {index + 1}", "exec"), namespace)
        except Exception as e:  # name the block, keep the traceback
            raise AssertionError(f"docs/api.md block {index + 1} failed: {e!r}") from e
    out = capsys.readouterr().out
    assert re.search(r"FID-MNIST \d+\.\d\d\n", out)
    assert re.search(r"step 200: FID-MNIST \d+\.\d\d", out)
    assert (tmp_path / "mnist-test.npz").is_file()
    # The Lightning block logged the metric, computed it at the epoch's end and reset it.
    value = namespace["trainer"].callback_metrics["val/fid"]
    assert float(value) > 0
