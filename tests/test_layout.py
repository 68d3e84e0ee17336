"""The package's layout shows its architecture: a few top-level modules, and packages
that import only from the layers below them (docs/development.md)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "ganbench"

#: Lowest first; a module may import from its own layer and those before it.
LAYERS = [
    "errors",
    "untrusted",
    "runtime",
    "formatting",
    "options",
    "builtin_components",
    "registry",
    "suite",
    "results",
    "features",
    "data",
    "training",
    "baselines",
    "metrics",
    "viz",
    "evaluate",
    "api",
    "publishing",
    "run",
    "pytest_plugin",
    "results_store",
    "cli",
    "__main__",
]


def part(module: str) -> str:
    """ganbench.results.files -> results; ganbench.suite -> suite."""
    return module.split(".")[1] if "." in module else module


def imports() -> list[tuple[str, str, str]]:
    """(importing file, its part, the imported part) for every ganbench import."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] in ("project_template", "suites") or (
            path.name == "__init__.py" and len(relative.parts) == 1
        ):
            continue
        here = relative.parts[0].removesuffix(".py")
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("ganbench"):
                if node.module == "ganbench":
                    targets = [a.name for a in node.names if a.name != "__version__"]
                else:
                    targets = [part(node.module)]
                found += [(str(relative), here, t) for t in targets]
    return found


def test_every_import_goes_down_the_layers():
    rank = {name: i for i, name in enumerate(LAYERS)}
    upward = [
        f"{file} imports {target}"
        for file, here, target in imports()
        if here != target and rank[target] > rank[here]
    ]
    assert not upward, upward


def test_at_most_twelve_modules_lie_loose_in_the_package():
    loose = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(loose) <= 12, loose
    assert {p.removesuffix(".py") for p in loose} <= {*LAYERS, "__init__"}


def test_the_old_import_paths_of_a_project_made_by_init_still_work_with_a_warning():
    """Projects made by `ganbench init` before the move import these; for one version
    they still work, and say where the names went."""
    import importlib
    import sys
    import warnings

    from ganbench.results.files import load_result as moved

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from ganbench.results import load_result

        sys.modules.pop("ganbench.results_store", None)
        store = importlib.import_module("ganbench.results_store")
    assert load_result is moved and store.ResultsStore.__module__ == "ganbench.results.store"
    said = [str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)]
    assert "ganbench.results.load_result moved to ganbench.results.files.load_result" in said
    assert "ganbench.results_store moved to ganbench.results.store" in said


#: How a run folder's layout was parsed outside results/ (issue 42 #4): the number from
#: the folder's name, the machine from its parent's, the step pictures' names rebuilt.
PARSED_LAYOUT = (
    re.compile(r"\.name\[:4\]"),
    re.compile(r"\.parent\.name"),
    re.compile(r"_step\*|_step\(\\d"),
    re.compile(r"\(\\d\{4\}\)_"),
    re.compile(r"[\"']run-ids[\"']"),
)


def test_only_the_results_package_knows_a_run_folders_layout():
    """RunFolder (results/files.py) and ResultsStore (results/store.py) answer a run's
    number, machine and every file's name; the code that runs, reports and publishes
    asks them."""
    users = [PACKAGE / "evaluate.py"] + [
        p
        for folder in ("run", "publishing", "cli", "viz")
        for p in (PACKAGE / folder).rglob("*.py")
    ]
    found = [
        f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}"
        for path in sorted(users)
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if any(pattern.search(line) for pattern in PARSED_LAYOUT)
    ]
    assert found == []
    assert {p.name for p in (PACKAGE / "results").glob("*.py")} >= {"files.py", "store.py"}


#: The longest a function may be, its signature and docstring included: one that grows
#: past it holds more than one step (issue 42 #3: train was 118 lines, suite.load 102).
LONGEST_FUNCTION = 80


def test_no_function_is_over_eighty_lines():
    long = [
        f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}: {length} lines"
        for path in sorted(PACKAGE.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and (length := node.end_lineno - node.lineno + 1) > LONGEST_FUNCTION
    ]
    assert long == []
