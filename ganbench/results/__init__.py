"""Results and their identity: the result file and its schema (files.py, schema.py),
the results tree and its run folders (store.py, lock.py), what makes two results
comparable (protocol.py), and what is judged from them (compare.py, checks.py,
references.py). Nothing here imports torch: `compare` and `leaderboard` start fast."""

from __future__ import annotations

import warnings
from typing import Any

SUBMODULES = ("files", "schema", "store", "lock", "protocol", "compare", "references", "checks")


def __getattr__(name: str) -> Any:
    """`from ganbench.results import load_result` (the module before 0.2, which projects
    made by `ganbench init` import) still works, for one version, with a warning."""
    if name.startswith("_") or name in SUBMODULES:  # let the import system find those
        raise AttributeError(f"module 'ganbench.results' has no attribute {name!r}")
    from ganbench.results import files

    if not hasattr(files, name):
        raise AttributeError(f"module 'ganbench.results' has no attribute {name!r}")
    warnings.warn(
        f"ganbench.results.{name} moved to ganbench.results.files.{name}",
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(files, name)
