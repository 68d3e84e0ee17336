"""Moved to ganbench.results.store; this alias, which projects made by `ganbench init`
import, stays for one version."""

import warnings

from ganbench.results.store import *  # noqa: F403
from ganbench.results.store import ResultsStore  # noqa: F401

warnings.warn(
    "ganbench.results_store moved to ganbench.results.store", DeprecationWarning, stacklevel=2
)
