"""The checks every table of a suite file shares: known keys, a value's type, a positive
integer, a finite number; each error names the file and the key."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ganbench.errors import GanbenchError, did_you_mean


class TableReader:
    """Validation helpers that know which file they are reading, for error messages."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def error(self, key: str, message: str) -> GanbenchError:
        return GanbenchError(f"{self.path}: {key}: {message}" if message else f"{self.path}: {key}")

    def unknown_keys(self, table: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
        for key in table:
            if key not in allowed:
                raise self.error(
                    f"{where}{key}",
                    f"unknown key{did_you_mean(key, allowed)}; valid keys: {', '.join(allowed)}",
                )

    def typed(self, value: Any, kind: type | tuple[type, ...], key: str) -> Any:
        # bool is an int in Python but never a valid count or seed in a suite.
        if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
            names = (
                kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            )
            raise self.error(key, f"expected {names}, got {type(value).__name__} {value!r}")
        return value

    def positive_int(self, value: Any, key: str) -> int:
        if self.typed(value, int, key) <= 0:
            raise self.error(key, f"must be a positive integer, got {value}")
        return value

    def number(self, value: Any, key: str, minimum: float = -math.inf) -> float:
        number = float(self.typed(value, (int, float), key))
        if not math.isfinite(number) or number < minimum:
            raise self.error(key, f"must be a finite number >= {minimum}, got {value!r}")
        return number
