"""`ganbench init`: a GAN project gated by ganbench, written from ganbench/project_template
(a copy of examples/ci-project less its baseline), with the install line that gives the
project the same ganbench the user has."""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path

from ganbench.errors import GanbenchError
from ganbench.results.confined import create_new

TEMPLATE = Path(__file__).resolve().parents[1] / "project_template"
TEMPLATE_FILES = (
    "README.md",
    "pyproject.toml",
    ".gitignore",
    ".github/workflows/gan-gate.yml",
    "suites/gate/suite.toml",
    "tests/test_quality.py",
    "tinygan/__init__.py",
    "tinygan/model.py",
)
#: The install requirement the template's README and workflow hold (the example's).
TEMPLATE_REQUIREMENT = '"ganbench[data]==0.1.0"'
#: Said at the top of an initialised project's README: the example's README describes
#: its committed baseline, which a new project does not have yet.
FIRST_STEPS = """\
> **Made by `ganbench init`: `baseline/` does not exist yet.** Make it once, then commit it:
> `ganbench run suites/gate && mkdir -p baseline && cp "$(ls -d results/runs/*/*_tinygan-gate | tail -1)"/result.json baseline/ && pytest -q --ganbench-save baseline/pytest.json`.
> Until then the gate lines below stop at once on the missing `baseline/result.json`.
> {install_note}

"""


def install_requirement() -> tuple[str, str]:
    """The requirement that installs this ganbench, from how it was installed (PEP 610's
    direct_url.json), and a sentence saying where it came from."""
    # A checkout's ganbench.egg-info (on sys.path from its folder) has no direct_url.json;
    # the installed copy beside it does.
    found = list(importlib.metadata.distributions(name="ganbench"))
    dist = next((d for d in found if d.read_text("direct_url.json")), found[0])
    raw = dist.read_text("direct_url.json")
    info = json.loads(raw) if raw else {}
    url = info.get("url", "")
    if vcs := info.get("vcs_info"):
        requirement = f"ganbench[data] @ {vcs['vcs']}+{url}@{vcs['commit_id']}"
        return requirement, f"The install line is the commit ganbench was installed from ({url})."
    if url.startswith("file://"):
        return (
            f"ganbench[data] @ {url}",
            f"ganbench was installed from {url}, which only this machine can reach: put a "
            "git URL or a released version in the install lines (README, workflow).",
        )
    if url:
        return f"ganbench[data] @ {url}", "The install line is the archive ganbench came from."
    return (
        f"ganbench[data]=={dist.version}",
        f"The install line is ganbench {dist.version} from the package index, as installed here.",
    )


def clashes(target: Path) -> list[str]:
    """Template files that exist in `target` (a dangling symlink too), files where a
    template folder goes, and symlinks where one goes: init never writes through a link
    (docs/security.md)."""
    found = []
    for name in TEMPLATE_FILES:
        below = [target / name, *(f for f in (target / name).parents if f.is_relative_to(target))]
        for path in reversed(below):
            if path == target:
                continue
            if path.is_symlink():
                found.append(f"{path.relative_to(target)} (a symlink)")
            elif path.exists() and (path == target / name or not path.is_dir()):
                found.append(str(path.relative_to(target)))
            else:
                continue
            break
    return list(dict.fromkeys(found))


def write_project(target: Path) -> str:
    """Writes every template file into `target`, or none: a failure part-way (a folder that
    cannot be written, /proc, a symlink loop) removes what was written, so that a rerun is
    not refused because of init's own files. Each file is created exclusively and without
    following links (results/confined.py). Returns the install note."""
    if target.exists() and not target.is_dir():
        raise GanbenchError(f"{target}: not a folder; give a new or empty project folder")
    if found := clashes(target):
        raise GanbenchError(
            f"{target}: {', '.join(found)} already exist(s); init writes only into a new or "
            "empty project folder"
        )
    requirement, note = install_requirement()
    made: list[Path] = []
    try:
        for folder in [*reversed(target.parents), target]:
            if not folder.exists():
                folder.mkdir()
                made.append(folder)
        for name in TEMPLATE_FILES:
            text = (TEMPLATE / name).read_text()
            if name == "README.md":
                title, rest = text.split("\n", 1)
                text = f"{title}\n\n{FIRST_STEPS.format(install_note=note)}{rest.lstrip()}"
            made += create_new(
                target, Path(name), text.replace(TEMPLATE_REQUIREMENT, f'"{requirement}"')
            )
    except (OSError, GanbenchError) as e:
        for path in reversed(made):
            path.rmdir() if path.is_dir() and not path.is_symlink() else path.unlink()
        if isinstance(e, GanbenchError):
            raise GanbenchError(f"{e}; init wrote nothing") from None
        raise GanbenchError(
            f"{e.filename or target}: {e.strerror or e}; init wrote nothing: give a folder "
            "you can write"
        ) from None
    return note
