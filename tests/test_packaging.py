"""ganbench as a release would ship it (issue 24): sdist and wheel built and checked, the
wheel installed outside the checkout, and the reference suites run by name from an empty
folder, with nothing but `ganbench` in site-packages."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from ganbench.cli import main
from ganbench.cli.project_init import (
    FIRST_STEPS,
    TEMPLATE_FILES,
    TEMPLATE_REQUIREMENT,
    install_requirement,
)

REPO = Path(__file__).resolve().parents[1]


def _run(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=600
    )


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    built = _run("-m", "build", "--no-isolation", "--outdir", str(out), str(REPO), cwd=REPO)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    return out


@pytest.mark.e2e
def test_the_sdist_and_wheel_build_and_pass_the_metadata_check(dist):
    (wheel,) = dist.glob("*.whl")
    (sdist,) = dist.glob("*.tar.gz")
    checked = _run("-m", "twine", "check", "--strict", str(wheel), str(sdist), cwd=dist)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {
        "ganbench",
        wheel.name.split("-py3")[0] + ".dist-info",
    }
    assert "ganbench/baselines/dcgan.py" in names and "ganbench/suites/mnist-ci/suite.toml" in names
    assert "ganbench/features/weights/mnist_classifier.pt" in names
    assert not any("/baseline/" in n for n in names)  # the example's baseline is not a template
    metadata = zipfile.ZipFile(wheel).read(f"{wheel.name.split('-py3')[0]}.dist-info/METADATA")
    for field in (b"License-Expression: MIT", b"Requires-Python: >=3.11", b"Classifier:"):
        assert field in metadata


@pytest.mark.slow  # over 10 s on 2 quiet cores: --runslow
@pytest.mark.e2e
def test_the_installed_wheel_runs_the_reference_suites_by_name_from_anywhere(dist, tmp_path):
    (wheel,) = dist.glob("*.whl")
    target, empty = tmp_path / "site", tmp_path / "project"
    empty.mkdir()
    installed = _run(
        "-m", "pip", "install", "--no-deps", "--target", str(target), str(wheel), cwd=tmp_path
    )
    assert installed.returncode == 0, installed.stderr[-2000:]
    assert sorted(p.name for p in target.iterdir() if not p.name.endswith(".dist-info")) == [
        "bin",
        "ganbench",
    ]
    env = {**os.environ, "PYTHONPATH": str(target)}
    where = _run("-c", "import ganbench; print(ganbench.__file__)", cwd=empty, env=env)
    assert where.stdout.strip().startswith(str(target))
    assert _run("-c", "import baselines", cwd=empty, env=env).returncode != 0
    listed = _run("-m", "ganbench", "ls", "--suites", cwd=empty, env=env)
    assert listed.returncode == 0, listed.stderr
    assert re.search(r"^mnist-ci +packaged ", listed.stdout, re.MULTILINE), listed.stdout
    for suite in ("mog", "mnist-ci"):
        ran = _run("-m", "ganbench", "run", suite, "--quick", cwd=empty, env=env)
        assert ran.returncode == 0, ran.stderr[-3000:]
    assert len(list((empty / "results" / "runs").glob("*/*"))) == 2


def test_init_starts_a_project_like_the_example_and_refuses_to_overwrite(tmp_path, capsys):
    """Like the example, but for the install line (issue 34 #16: the example's
    ganbench==0.1.0 is on no index) and a first step saying that baseline/ is to make."""
    assert main(["init", str(tmp_path / "mygan")]) == 0
    requirement, note = install_requirement()
    example = REPO / "examples" / "ci-project"
    for name in TEMPLATE_FILES:
        made, source = (tmp_path / "mygan" / name).read_text(), (example / name).read_text()
        if name == "README.md":
            assert "`baseline/` does not exist yet" in made and note in made
            made = made.replace(FIRST_STEPS.format(install_note=note), "")
        assert made == source.replace(TEMPLATE_REQUIREMENT, f'"{requirement}"'), name
    assert note in capsys.readouterr().out
    assert not (tmp_path / "mygan" / "baseline").exists()
    assert main(["init", str(tmp_path / "mygan")]) == 2
    assert "already exist" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("make", "target", "message"),
    [
        (lambda t: (t / "afile").write_text("x"), "afile", "afile: not a folder"),
        (
            lambda t: (t / "afile").write_text("x"),
            "afile/sub",
            "afile/sub: Not a directory; init wrote nothing",
        ),
        (lambda t: None, "/proc/ganbench-init", "/proc/ganbench-init"),
        (lambda t: (t / "loop").symlink_to(t / "loop"), "loop", "loop"),
        (lambda t: (t / "tinygan").write_text("x"), ".", "tinygan already exist"),
    ],
)
def test_init_refuses_a_target_it_cannot_fill_and_writes_nothing(
    tmp_path, monkeypatch, capsys, make, target, message
):
    """issue 34 #5: tracebacks for a file, /proc, a file's subfolder or a symlink loop; and
    beside a file named tinygan, 6 of 8 files written, then a rerun refused for them."""
    monkeypatch.chdir(tmp_path)
    make(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(["init", target]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == before


@pytest.mark.parametrize(
    ("direct_url", "expected"),
    [
        (
            {
                "url": "https://github.com/o/ganbench",
                "vcs_info": {"vcs": "git", "commit_id": "abc"},
            },
            "ganbench[data] @ git+https://github.com/o/ganbench@abc",
        ),
        (
            {"url": "file:///home/u/ganbench", "dir_info": {}},
            "ganbench[data] @ file:///home/u/ganbench",
        ),
        (None, "ganbench[data]==0.1.0"),
    ],
)
def test_init_installs_the_ganbench_the_user_has(monkeypatch, direct_url, expected):
    """PEP 610: a VCS URL pins its commit, a local folder is said to be this machine's
    only, and an index install pins its version."""
    import importlib.metadata

    class Dist:
        version = "0.1.0"

        def read_text(self, name):
            return json.dumps(direct_url) if direct_url and name == "direct_url.json" else None

    monkeypatch.setattr(importlib.metadata, "distributions", lambda name: [Dist()])
    requirement, note = install_requirement()
    assert requirement == expected
    if direct_url and direct_url["url"].startswith("file://"):
        assert "only this machine can reach" in note
