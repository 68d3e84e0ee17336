"""Finding a suite: a folder or file, a name under ./suites, or a suite shipped with
ganbench; and, for a result file's suite name, only those (docs/security.md)."""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

from ganbench.errors import GanbenchError
from ganbench.suite.model import SUITE_FILE, Suite
from ganbench.untrusted import read_regular

#: The reference suites shipped in the package (in a checkout, the repository's suites/).
PACKAGED = Path(__file__).resolve().parents[1] / "suites"


#: The largest suite file read (the packaged ones are below 10 KB).
SUITE_MAX = 2**20


def read_toml(file: Path) -> dict:
    """A suite file's TOML, or one line naming it: a syntax error, text that is not UTF-8,
    an integer Python will not parse (5,000 digits) or arrays nested 3,000 deep (which
    exhaust tomllib's stack) are each an invalid file, as is one that is not a regular
    file of at most SUITE_MAX bytes.

    Raises:
        GanbenchError: any of these.
        OSError: it cannot be read (FileNotFoundError: missing)."""
    try:
        return tomllib.loads(read_regular(file, SUITE_MAX).decode("utf-8"))
    except UnicodeDecodeError as e:
        raise GanbenchError(f"{file}: not UTF-8 text: {e}") from None
    except (ValueError, RecursionError) as e:  # TOMLDecodeError is a ValueError
        error = "nested too deeply" if isinstance(e, RecursionError) else e
        raise GanbenchError(f"{file}: invalid TOML: {error}") from None


def known_suites(local: Path = Path("suites")) -> list[tuple[str, Path, str]]:
    """(name, suite.toml, where from) of every suite found by name: those under `local`
    (the project's own, or a checkout's), then the packaged ones they do not shadow."""
    found: dict[str, tuple[Path, str]] = {}
    for folder in (local, PACKAGED):
        for path in sorted(folder.glob(f"*/{SUITE_FILE}")):
            origin = "packaged" if folder is PACKAGED else str(path.parent)
            found.setdefault(path.parent.name, (path, origin))
    return [(name, path, origin) for name, (path, origin) in sorted(found.items())]


def resolve(path: str | Path) -> Path:
    """A suite folder, its suite.toml, a name under ./suites, or the name of a suite that
    ships with ganbench (`ganbench run mnist-ci` from any folder)."""
    candidate = Path(path)
    # A name is a plain name: "../suites/mog" that does not exist here must not become the
    # packaged mog, nor "../../x" a folder outside the packaged suites.
    by_name = [Path("suites") / candidate, PACKAGED / candidate] if is_name(str(path)) else []
    for option in (candidate, *by_name):
        if option.is_dir() and (option / SUITE_FILE).is_file():
            return option / SUITE_FILE
        if option.is_file():
            return option
    known = [
        origin if origin != "packaged" else f"{name} (packaged)"
        for name, _, origin in known_suites()
    ]
    raise GanbenchError(
        f"{path}: no suite here: expected a folder holding {SUITE_FILE}, a .toml file or "
        "a suite's name" + (f"; suites found: {', '.join(known)}" if known else "")
    )


def is_name(text: str) -> bool:
    """A suite's name (mnist-ci), as opposed to a path."""
    return bool(re.fullmatch(r"[A-Za-z0-9][\w.-]*", text)) and text not in (".", "..")


def by_name(name: str) -> Suite | None:
    """The suite a result file names, by its plain name, from ./suites or the packaged
    ones only (the first whose `name` it is); None when there is none or its file is
    invalid (results outlive their suite files). A name from a result file is data
    (docs/security.md): never a path, so it can never make ganbench load a suite, or
    import the code one names, from anywhere else."""
    if not isinstance(name, str) or not is_name(name):
        return None
    for _, file, _ in known_suites():
        try:
            declared = read_toml(file).get("name")
        except (OSError, GanbenchError):  # ganbench validate and ls name what is wrong
            continue
        if declared == name:
            try:
                from ganbench.suite.reader import load  # which imports this module

                return load(file)
            except GanbenchError:
                return None
    return None


def importable(folder: Path) -> None:
    """Puts the suite's folder and the current directory on sys.path, so that a suite
    can name `mymodels:make` from a file beside it or from the project it runs in."""
    for entry in (str(folder.resolve()), str(Path.cwd())):
        if entry not in sys.path:
            sys.path.insert(0, entry)
