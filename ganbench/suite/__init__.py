"""Suite files: what to train, on what, for how long, and which checks must hold.

model.py holds what a suite says (the dataclasses the rest of ganbench takes), reader.py
reads and validates a suite.toml (`load`), find.py finds one by folder, file or name.
What a metric's or model's parameters may be is declared where the component registers
(registry.py), not here."""

from ganbench.suite.claims import with_preprocessing
from ganbench.suite.find import PACKAGED, by_name, importable, is_name, known_suites, resolve
from ganbench.suite.model import (
    CHECK_OPERATORS,
    LABEL_CHARACTERS,
    SUITE_FILE,
    Budget,
    Check,
    Component,
    Reference,
    Suite,
    evaluated_metrics,
)
from ganbench.suite.reader import check_parameters, load

__all__ = [
    "CHECK_OPERATORS",
    "LABEL_CHARACTERS",
    "PACKAGED",
    "SUITE_FILE",
    "Budget",
    "Check",
    "Component",
    "Reference",
    "Suite",
    "by_name",
    "check_parameters",
    "evaluated_metrics",
    "importable",
    "is_name",
    "known_suites",
    "load",
    "resolve",
    "with_preprocessing",
]
