"""One small registry pattern for models, datasets, metrics and feature extractors.

Built-in entries live in ordinary modules that register themselves on import;
a registry imports its built-in modules the first time it is asked, so that
`ganbench ls` and suite validation see every name without the caller having to
know where things are defined.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ganbench.errors import GanbenchError, did_you_mean


@dataclass(frozen=True)
class Entry:
    """A registered factory and what is known about it without calling it."""

    name: str
    factory: Callable[..., Any]
    summary: str
    meta: dict[str, Any] = field(default_factory=dict)

    def parameters(self) -> dict[str, Any]:
        """Keyword parameters a suite may set, with their defaults (the first positional
        parameters are supplied by ganbench itself and are not user settings)."""
        sig = inspect.signature(self.factory)
        return {
            p.name: p.default
            for p in sig.parameters.values()
            if p.kind is inspect.Parameter.KEYWORD_ONLY
        }


class Registry:
    """Name -> factory, with "did you mean" errors for unknown names."""

    def __init__(self, kind: str, builtin_modules: tuple[str, ...] = ()) -> None:
        self.kind = kind
        self._builtin_modules = builtin_modules
        self._entries: dict[str, Entry] = {}
        self._loaded = False

    def register(
        self, name: str, **meta: Any
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator: registers `factory` under `name`; `meta` is free-form (e.g. capabilities)."""

        def decorate(factory: Callable[..., Any]) -> Callable[..., Any]:
            existing = self._entries.get(name)
            # A module imported again (reload, pytester) re-registers its own factory: fine.
            if existing and (existing.factory.__module__, existing.factory.__qualname__) != (
                factory.__module__,
                factory.__qualname__,
            ):
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            doc = inspect.getdoc(factory) or ""
            self._entries[name] = Entry(name, factory, doc.splitlines()[0] if doc else "", meta)
            return factory

        return decorate

    def _load_builtins(self) -> None:
        if not self._loaded:
            self._loaded = True
            for module in self._builtin_modules:
                importlib.import_module(module)

    def get(self, name: str) -> Entry:
        """Returns the entry, or raises a GanbenchError listing the valid names."""
        self._load_builtins()
        try:
            return self._entries[name]
        except KeyError:
            raise GanbenchError(
                f"unknown {self.kind} {name!r}{did_you_mean(name, self._entries)}; "
                f"valid {self.kind}s: {', '.join(sorted(self._entries))}"
            ) from None

    def __contains__(self, name: object) -> bool:
        self._load_builtins()
        return name in self._entries

    def __iter__(self) -> Iterator[Entry]:
        self._load_builtins()
        return iter(sorted(self._entries.values(), key=lambda e: e.name))


def missing_capabilities(entry: Entry, dataset: str) -> list[str]:
    """What a model or metric requires (meta "requires") that the dataset does not offer
    (meta "capabilities"), sorted; empty when they fit."""
    has = DATASETS.get(dataset).meta.get("capabilities", set())
    return sorted(set(entry.meta.get("requires", set())) - set(has))


MODELS = Registry("model", ("baselines.mlp_gan", "baselines.dcgan"))
DATASETS = Registry(
    "dataset",
    (
        "ganbench.data.mog",
        "ganbench.data.mnist",
        "ganbench.data.cifar10",
        "ganbench.data.stacked_mnist",
    ),
)
METRICS = Registry(
    "metric",
    (
        "ganbench.metrics.mode_coverage",
        "ganbench.metrics.throughput",
        "ganbench.metrics.fid",
        "ganbench.metrics.kid",
        "ganbench.metrics.inception_score",
        "ganbench.metrics.prdc",
        "ganbench.metrics.stacked_mnist",
    ),
)
EXTRACTORS = Registry(
    "extractor", ("ganbench.features.inception", "ganbench.features.mnist_classifier")
)
