"""One small registry pattern for models, datasets, metrics and feature extractors.

Built-in entries live in ordinary modules that register themselves on import;
a registry imports its built-in modules the first time it is asked, so that
`ganbench ls` and suite validation see every name without the caller having to
know where things are defined.

A user's components come in the same way, as pytest finds plugins: an installed
package declares entry points in the groups `ganbench.models`,
`ganbench.datasets` and `ganbench.metrics`, and a suite may name any factory
as `module:function` (importable from the suite's folder or the current
directory). A factory may carry `ganbench_meta = {...}` (capabilities, requires,
keys, ensemble), the keyword arguments of `register`.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import inspect
import math
import sys
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganbench.errors import GanbenchError, did_you_mean
from ganbench.formatting import warn
from ganbench.options import PROCEDURE


@dataclass(frozen=True)
class Range:
    """The valid values of a numeric parameter; `value in Range(...)` checks a number, or
    every number of an array (layer widths)."""

    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False

    def __contains__(self, value: object) -> bool:
        if isinstance(value, (list, tuple)):
            return bool(value) and all(v in self for v in value)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if not math.isfinite(value):
            return False
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below

    def __str__(self) -> str:
        def bound(x: float) -> str:
            return "inf" if math.isinf(x) else str(int(x)) if x == int(x) else f"{x:g}"

        return (
            f"{'(' if self.low_open else '['}{bound(self.low)}, "
            f"{bound(self.high)}{')' if self.high_open or math.isinf(self.high) else ']'}"
        )


BUILTIN_PACKAGES = ("ganbench",)
POSITIVE = Range(0, low_open=True)
AT_LEAST_ONE = Range(1)
NON_NEGATIVE = Range(0)
FRACTION = Range(0, 1, low_open=True, high_open=True)
SEEDS = Range(0, 2**31 - 1)

#: Valid values of the parameters of built-in components, by name (a name means the same
#: thing wherever it appears); a factory's `ganbench_meta = {"choices": {...}}` may add or
#: override, with a tuple of values or a Range. tests/test_suite.py checks that every
#: numeric parameter of every built-in component is covered.
PARAMETER_RANGES: dict[str, Range | tuple] = {
    # 10 million: 200 times the 50,000 of FID papers; 1e11 was estimated at 19,284 h
    # and started all the same.
    "samples": Range(2, 10_000_000),
    "batch_size": AT_LEAST_ONE,
    "latent_dim": AT_LEAST_ONE,
    "width": AT_LEAST_ONE,
    "hidden": AT_LEAST_ONE,
    "depth": AT_LEAST_ONE,
    "d_hidden": NON_NEGATIVE,  # 0: the generator's
    "d_depth": NON_NEGATIVE,
    "g_widths": AT_LEAST_ONE,
    "d_widths": AT_LEAST_ONE,
    "maxout_pieces": NON_NEGATIVE,
    "lr": POSITIVE,
    "beta1": Range(0, 1, high_open=True),
    "g_batchnorm_eps": POSITIVE,
    "packing": AT_LEAST_ONE,
    "n_critic": AT_LEAST_ONE,
    "g_steps": AT_LEAST_ONE,
    "gp_weight": NON_NEGATIVE,
    "ema": Range(0, 1, high_open=True),
    "radius": POSITIVE,
    "spacing": POSITIVE,
    "std": POSITIVE,
    "train_points": NON_NEGATIVE,  # 0: a fresh sample every step
    "train_size": AT_LEAST_ONE,
    "test_size": AT_LEAST_ONE,
    "test_fraction": FRACTION,
    "resolution": Range(0, 4096),  # 0: as stored; 4096 px is beyond any GAN benchmark
    "channels": (1, 3),
    "splits": AT_LEAST_ONE,
    "subsets": AT_LEAST_ONE,
    "subset_size": Range(2),
    "k": AT_LEAST_ONE,
    "threshold_std": POSITIVE,
    "min_samples_per_mode": AT_LEAST_ONE,
    "quantile": FRACTION,
    "epsilon": POSITIVE,
    "trim": Range(0, 0.5, high_open=True),
    "min_share": FRACTION,
    "min_class_samples": Range(2),
    "starts": AT_LEAST_ONE,
    "steps": AT_LEAST_ONE,
    "select_steps": AT_LEAST_ONE,
    "feature_weight": NON_NEGATIVE,
    "labels": Range(2),
    "l2": NON_NEGATIVE,
}


#: What a metric's parameters may mean to ganbench, declared at registration as meta
#: "roles" (role -> the parameter's name; CONTRIBUTING, "Add a metric"). Nothing is
#: guessed from a parameter's name: a metric that declares no roles is measured as it is.
ROLES = {
    "samples": "the samples it draws per seed: a budget's eval_samples caps it, and the "
    "estimate counts the images it embeds",
    "extractor": "the feature extractor it embeds images with: a registered extractor; the "
    "estimate counts images per extractor",
    "weights": "that extractor's weights file: the estimate counts images per weights file",
    "real_split": "the real split it embeds (once, then cached): the estimate counts it",
    "preprocess": "passed to the extractor as its `preprocess`: one of the extractors' "
    "preprocessings, and only with an extractor that takes one",
}


@dataclass(frozen=True)
class Entry:
    """A registered factory and what is known about it without calling it."""

    name: str
    #: The factory, or where to import it from ("module:qualname"): a built-in entry read
    #: from builtin_components.py is imported only when something calls it.
    target: Callable[..., Any] | str
    summary: str
    meta: dict[str, Any] = field(default_factory=dict)
    #: Parameters every entry of its registry takes besides the factory's own (models: the
    #: training procedure, ganbench.options.PROCEDURE): name -> (default, choices).
    common: dict[str, tuple[Any, tuple | None]] = field(default_factory=dict)
    #: The factory's own parameters when known without importing it (builtin_components).
    own: dict[str, Any] | None = None

    @property
    def factory(self) -> Callable[..., Any]:
        if callable(self.target):
            return self.target
        module, _, qualname = self.target.partition(":")
        found: Any = importlib.import_module(module)
        for part in qualname.split("."):
            found = getattr(found, part)
        return found

    @property
    def source(self) -> str:
        """Where the factory lives, "module:qualname"."""
        if isinstance(self.target, str):
            return self.target
        return f"{self.target.__module__}:{self.target.__qualname__}"

    def own_parameters(self) -> dict[str, Any]:
        """The factory's keyword-only parameters with their defaults (the first positional
        parameters are supplied by ganbench itself and are not user settings)."""
        if self.own is not None:
            return dict(self.own)
        sig = inspect.signature(self.factory)
        return {
            p.name: p.default
            for p in sig.parameters.values()
            if p.kind is inspect.Parameter.KEYWORD_ONLY
        }

    def annotations(self) -> dict[str, Any]:
        """The keyword-only parameters' annotated types where they are plain types (int,
        float, str, bool): how a parameter without a usable default is checked."""
        if self.own is not None:
            return {}
        try:
            hints = typing.get_type_hints(self.factory)
        except Exception:  # an annotation naming what is not importable here
            return {}
        return {k: v for k, v in hints.items() if v in (int, float, str, bool)}

    def takes_any_keyword(self) -> bool:
        """The factory has **kwargs: ganbench can neither check nor record what it takes."""
        if self.own is not None:
            return False
        return any(
            p.kind is inspect.Parameter.VAR_KEYWORD
            for p in inspect.signature(self.factory).parameters.values()
        )

    def parameters(self) -> dict[str, Any]:
        """Every parameter a suite may set, with its default (inspect.Parameter.empty for
        a keyword-only parameter without one: the suite must set it)."""
        own = self.own_parameters()
        return {**own, **{k: d for k, (d, _) in self.common.items() if k not in own}}

    def choices(self) -> dict[str, tuple | Range]:
        """Valid values of the parameters: a tuple of the few it may take, or a Range.
        PARAMETER_RANGES hold for built-in components and the common (procedure)
        parameters; a user's factory may mean something else by `channels` or `k`. A
        parameter in the role of `preprocess` takes the extractors' preprocessings."""
        builtin = self.source.split(".")[0] in BUILTIN_PACKAGES
        named = self.parameters() if builtin else self.common
        ranges = {k: PARAMETER_RANGES[k] for k in named if k in PARAMETER_RANGES}
        common = {k: valid for k, (_, valid) in self.common.items() if valid is not None}
        forwarded = {p: preprocessings() for p in [self.role("preprocess")] if p}
        return {**ranges, **common, **forwarded, **self.meta.get("choices", {})}

    def role(self, role: str) -> str | None:
        """The parameter that plays `role` (ROLES), as the registration declares it."""
        return self.meta.get("roles", {}).get(role)

    def extractor(self, params: dict[str, Any]) -> str | None:
        """The extractor the metric embeds images with under `params` (its defaults
        filled in): its `extractor` role's parameter, or the one it always uses (meta
        "extractor"); None for a metric that embeds nothing."""
        chosen = self.role("extractor")
        return params.get(chosen) if chosen else self.meta.get("extractor")


def has_preprocessing(extractor: str) -> bool:
    """Whether an extractor takes `preprocess` (the Inception's three ways); the others
    have one way to see an image."""
    return "preprocess" in EXTRACTORS.get(extractor).parameters()


def takes_preprocessing(entry: Entry, params: dict[str, Any]) -> bool:
    """Whether a metric, under `params` (its defaults filled in), hands images to an
    extractor with a preprocessing: it has a `preprocess` role and its extractor takes one."""
    extractor = entry.extractor(params)
    return bool(entry.role("preprocess")) and extractor is not None and has_preprocessing(extractor)


def preprocessings() -> tuple[str, ...]:
    """Every way an extractor takes an image, as the extractors declare them (their
    `preprocess` choices; features/inception.py PREPROCESSING)."""
    found: dict[str, None] = {}
    for entry in EXTRACTORS:
        found |= dict.fromkeys(entry.meta.get("choices", {}).get("preprocess", ()))
    return tuple(found)


@functools.cache
def implied_settings() -> dict[str, tuple[str, Any]]:
    """Settings an extractor records only when they are not a given value, so that a
    measurement without the key means that value (results from before the option
    existed): key -> (extractor, value), as each extractor declares (meta "implied")."""
    return {
        key: (entry.name, value)
        for entry in EXTRACTORS
        for key, value in entry.meta.get("implied", {}).items()
    }


def check_values(entry: Entry, params: dict[str, Any]) -> None:
    """Raises GanbenchError("KEY: VALUE is ...") for a value outside its choices or range,
    or a combination the component would refuse when it runs (after training), as its
    registration declares: its roles (ROLES) and rules (meta "rules"). So that nonsense
    (a negative std, beta1 = 2, an extractor that does not exist) stops before training."""
    choices = entry.choices()
    for name, value in params.items():
        valid = choices.get(name)
        if valid is None or value in valid:
            continue
        if isinstance(valid, Range):
            raise GanbenchError(f"{name}: {value!r} is out of range; valid: {valid}")
        raise GanbenchError(f"{name}: {value!r} is not one of {', '.join(map(str, valid))}")
    merged = {**entry.parameters(), **params}
    chosen = entry.role("extractor")
    if chosen and merged.get(chosen) is not None and merged[chosen] not in EXTRACTORS:
        raise GanbenchError(
            f"{chosen}: {merged.get(chosen)!r} is not one of {', '.join(e.name for e in EXTRACTORS)}"
        )
    forwarded, extractor = entry.role("preprocess"), entry.extractor(merged)
    changed = forwarded and merged[forwarded] != entry.parameters()[forwarded]
    if changed and extractor and not has_preprocessing(extractor):
        takes = ", ".join(f'"{e.name}"' for e in EXTRACTORS if has_preprocessing(e.name))
        raise GanbenchError(
            f"{forwarded}: the {extractor} extractor has one preprocessing; {forwarded} "
            f"applies to extractor = {takes}"
        )
    for rule in entry.meta.get("rules", ()):
        _check_rule(rule, merged)


def _check_rule(rule: dict[str, Any], params: dict[str, Any]) -> None:
    """A declared rule: `param` at least `at_least` when every parameter in `when` has
    its value, `because` saying why (meta "rules", e.g. FID-infinity's samples)."""
    if any(params.get(k) != v for k, v in rule.get("when", {}).items()):
        return
    name, least, value = rule["param"], rule["at_least"], params.get(rule["param"])
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value < least:
        given = " and ".join(f"{k} = {_toml(v)}" for k, v in rule.get("when", {}).items())
        raise GanbenchError(
            f"{name}: {value}{f' with {given}' if given else ''}: {rule['because']}, which "
            f"needs {name} >= {least}"
        )


def _toml(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else repr(value)


def checked_meta(kind: str, name: str, meta: Any) -> dict[str, Any]:
    """A user's `factory.ganbench_meta`, checked when the component is loaded: a value of
    the wrong type (`{"definition": "2"}`) would be written into result.json, which
    ganbench's own loader then refuses for ever."""
    where = f"{kind} {name!r}: ganbench_meta"
    if not isinstance(meta, dict):
        raise GanbenchError(f"{where} must be a dict, got {type(meta).__name__}")
    if kind == "metric" and "keys" not in meta:
        raise GanbenchError(
            f"metric {name!r}: declare the keys it returns, e.g. "
            '`factory.ganbench_meta = {"keys": ("my_score",)}`'
        )
    version = meta.get("definition", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise GanbenchError(
            f"{where}['definition'] must be a whole number >= 1 (e.g. 2), got {version!r}"
        )
    roles = meta.get("roles", {})
    if not isinstance(roles, dict) or not all(
        r in ROLES and isinstance(p, str) for r, p in roles.items()
    ):
        raise GanbenchError(
            f"{where}['roles'] must map roles ({', '.join(ROLES)}) to parameter names, "
            f"e.g. {{'samples': 'n'}}, got {roles!r}"
        )
    for field_name in ("keys", "capabilities", "requires"):
        names = meta.get(field_name, ())
        if not isinstance(names, (list, tuple, set, frozenset)) or not all(
            isinstance(n, str) for n in names
        ):
            raise GanbenchError(
                f"{where}[{field_name!r}] must be a tuple of names, e.g. ('my_score',), "
                f"got {names!r}"
            )
    return dict(meta)


class Registry:
    """Name -> factory, with "did you mean" errors for unknown names."""

    def __init__(
        self,
        kind: str,
        builtin_modules: tuple[str, ...] = (),
        common: dict[str, tuple[Any, tuple | None]] | None = None,
    ) -> None:
        self.kind = kind
        self._builtin_modules = builtin_modules
        self._common = common or {}
        self._entries: dict[str, Entry] = {}
        self._loaded = False

    def register(
        self, name: str, **meta: Any
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator: registers `factory` under `name`; `meta` is free-form (e.g. capabilities)."""

        def decorate(factory: Callable[..., Any]) -> Callable[..., Any]:
            existing = self._entries.get(name)
            # A module imported again (reload, pytester), or a built-in one known from
            # builtin_components, registers its own factory: fine.
            if existing and existing.source != f"{factory.__module__}:{factory.__qualname__}":
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = self._entry(name, factory, meta)
            return factory

        return decorate

    def _load_builtins(self) -> None:
        """The built-in entries, from builtin_components.py (importing no module of theirs:
        ganbench ls and validate stay free of torch), then the installed plugins'."""
        if not self._loaded:
            self._loaded = True
            from ganbench.builtin_components import COMPONENTS

            for item in COMPONENTS[self.kind]:
                self._entries.setdefault(item["name"], Entry(**item, common=self._common))
            for point in importlib.metadata.entry_points(group=f"ganbench.{self.kind}s"):
                if point.name in self._entries:
                    continue
                try:
                    self._add(point.name, point.load())
                except Exception as e:  # a broken plugin must not break every command
                    warn(
                        f"entry point {point.name} = {point.value} (group "
                        f"ganbench.{self.kind}s) failed to load: {type(e).__name__}: {e}"
                    )

    def _add(self, name: str, factory: Any) -> Entry:
        if not callable(factory):
            raise GanbenchError(f"{self.kind} {name!r}: {factory!r} is not callable")
        meta = checked_meta(self.kind, name, getattr(factory, "ganbench_meta", {}))
        entry = self._entry(name, factory, meta)
        self._entries[name] = entry
        return entry

    def _entry(self, name: str, factory: Callable[..., Any], meta: dict[str, Any]) -> Entry:
        """An entry whose summary is the first paragraph of the factory's docstring, on one
        line (its first line alone cut sentences: "...and KL of its")."""
        doc = inspect.getdoc(factory) or ""
        summary = " ".join(doc.split("\n\n")[0].split())
        return Entry(name, factory, summary, meta, self._common)

    def _import(self, spec: str) -> Entry:
        """`module:function`, imported from sys.path (the suite's folder and the current
        directory are on it, see ganbench.suite.load)."""
        module_name, _, attribute = spec.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            raise GanbenchError(
                f"{self.kind} {spec!r}: cannot import {module_name!r} ({e}); put "
                f"{module_name.replace('.', '/')}.py next to the suite file or in the current "
                "directory, or install its package"
            ) from None
        except Exception as e:
            raise GanbenchError(
                f"{self.kind} {spec!r}: importing {module_name!r} raised {type(e).__name__}: {e}"
            ) from None
        if not hasattr(module, attribute):
            raise GanbenchError(
                f"{self.kind} {spec!r}: module {module_name!r} ({module.__file__}) has no "
                f"{attribute!r}{did_you_mean(attribute, [n for n in dir(module) if not n.startswith('_')])}"
            )
        return self._add(spec, getattr(module, attribute))

    def get(self, name: str) -> Entry:
        """Returns the entry, or raises a GanbenchError listing the valid names."""
        self._load_builtins()
        if name not in self._entries and ":" in name:
            own = name.partition(":")[0]
            if own in self._entries:  # "mnist:test" names ganbench's mnist, never a module
                split = " (a split is each metric's real_split)" * (self.kind == "dataset")
                raise GanbenchError(
                    f"{self.kind} {name!r}: {own!r} is ganbench's own {self.kind}, not a "
                    f"module to import (MODULE:FUNCTION); give {own!r} alone{split}"
                )
            return self._import(name)
        try:
            return self._entries[name]
        except KeyError:
            raise GanbenchError(
                f"unknown {self.kind} {name!r}{did_you_mean(name, self._entries)}; "
                f"valid {self.kind}s: {', '.join(sorted(self._entries))}, or your own "
                "as module:function"
            ) from None

    def __contains__(self, name: object) -> bool:
        self._load_builtins()
        return name in self._entries

    def __iter__(self) -> Iterator[Entry]:
        self._load_builtins()
        return iter(sorted(self._entries.values(), key=lambda e: e.name))


def builtin_components() -> dict[str, list[dict[str, Any]]]:
    """What the built-in modules register, read from the modules themselves: the contents
    of builtin_components.py (`python -m ganbench.registry` rewrites it)."""
    out = {}
    for registry in (MODELS, DATASETS, METRICS, EXTRACTORS):
        for module in registry._builtin_modules:
            importlib.import_module(module)
        out[registry.kind] = [
            {
                "name": e.name,
                "target": e.source,
                "summary": e.summary,
                "meta": e.meta,
                "own": e.own_parameters(),
            }
            for e in sorted(registry._entries.values(), key=lambda e: e.name)
            # Not a suite's `module:function` (whose functools.wraps may name a built-in
            # module) nor an installed plugin's entry point.
            if ":" not in e.name and e.source.partition(":")[0] in registry._builtin_modules
        ]
    return out


def builtin_meta(kind: str, name: Any) -> dict[str, Any]:
    """A built-in component's meta (its display names, auxiliary keys), read from
    builtin_components.py alone: a name read from a result file never imports code, and
    a user's component or an unknown name has none ({})."""
    from ganbench.builtin_components import COMPONENTS

    return next((c["meta"] for c in COMPONENTS.get(kind, ()) if c["name"] == name), {})


#: Capabilities that imply others: MNIST-like digits are classes (of the MNIST classifier).
IMPLIED_CAPABILITIES = {"digits": {"classes"}}


def capabilities(entry: Entry) -> frozenset[str]:
    """A dataset entry's capabilities (meta "capabilities"), with those they imply."""
    has = set(entry.meta.get("capabilities", ()))
    for capability in list(has):
        has |= IMPLIED_CAPABILITIES.get(capability, set())
    return frozenset(has)


def missing_capabilities(entry: Entry, dataset: str) -> list[str]:
    """What a model or metric requires (meta "requires") that the dataset does not offer
    (its capabilities), sorted; empty when they fit."""
    return sorted(set(entry.meta.get("requires", set())) - capabilities(DATASETS.get(dataset)))


def build_dataset(name: str, params: dict[str, Any] | None = None) -> Any:
    """The dataset `name` built with `params`, carrying its registered capabilities and
    classifier (a metric asks them of the loaded data, whatever name it gives itself)."""
    entry = DATASETS.get(name)
    data = entry.factory(**(params or {}))
    data.capabilities = capabilities(entry)
    data.classifier = entry.meta.get("classifier", "mnist-classifier")
    return data


def has_capability(data: Any, capability: str) -> bool:
    """Whether loaded data offers `capability` (build_dataset stamps them)."""
    return capability in getattr(data, "capabilities", ())


def classifier_of(data: Any) -> str:
    """The extractor that classifies a labelled dataset's images (meta "classifier";
    MNIST's CNN for digits)."""
    return getattr(data, "classifier", "mnist-classifier")


MODELS = Registry(
    "model", ("ganbench.baselines.mlp_gan", "ganbench.baselines.dcgan"), common=PROCEDURE
)


DATASETS = Registry(
    "dataset",
    (
        "ganbench.data.mog",
        "ganbench.data.mnist",
        "ganbench.data.cifar10",
        "ganbench.data.stacked_mnist",
        "ganbench.data.files",
    ),
)
METRICS = Registry(
    "metric",
    (
        "ganbench.metrics.mode_coverage",
        "ganbench.metrics.throughput",
        "ganbench.metrics.fid",
        "ganbench.metrics.fd",
        "ganbench.metrics.cmmd",
        "ganbench.metrics.kid",
        "ganbench.metrics.inception_score",
        "ganbench.metrics.prdc",
        "ganbench.metrics.stacked_mnist",
        "ganbench.metrics.memorisation",
        "ganbench.metrics.path_length",
        "ganbench.metrics.vendi",
        "ganbench.metrics.inversion",
        "ganbench.metrics.d_probe",
        "ganbench.metrics.classes",
    ),
)
EXTRACTORS = Registry(
    "extractor",
    (
        "ganbench.features.inception",
        "ganbench.features.mnist_classifier",
        "ganbench.features.dinov2",
        "ganbench.features.clip",
    ),
)


GENERATED_HEADER = (
    '"""Generated by `python -m ganbench.registry` from the modules that register ganbench\'s\n'
    "built-in components: what ganbench ls and validate need to know of them without\n"
    'importing torch. tests/test_suite.py holds it equal to the modules."""\n\n'
)


def literal(value: Any) -> str:
    """`value` as Python source that reads back equal, the same every time: sets sorted
    (their iteration order changes from one interpreter to the next), dicts in their
    order."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (set, frozenset)):
        return "{" + ", ".join(sorted(map(literal, value))) + "}" if value else "set()"
    if isinstance(value, tuple):
        return "(" + ", ".join(map(literal, value)) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, list):
        return "[" + ", ".join(map(literal, value)) + "]"
    if isinstance(value, str) and len(value) > STRING_CHUNK:
        return " ".join(repr(chunk) for chunk in _chunks(value))
    if value is None or isinstance(value, (bool, int, float, str)):
        return repr(value)
    raise TypeError(f"{value!r}: not a literal builtin_components.py can hold")


#: A long string (a summary) is written as adjacent literals of at most this many
#: characters, broken after a space, which ruff keeps on lines of their own.
STRING_CHUNK = 72


def _chunks(text: str) -> list[str]:
    chunks, current = [], ""
    for word in text.split(" "):
        piece = word if not current else f"{current} {word}"
        if current and len(piece) > STRING_CHUNK:
            chunks.append(current + " ")
            current = word
        else:
            current = piece
    return [*chunks, current]


def builtin_components_source(path: Path) -> str:
    """builtin_components.py's text: the registrations as literals, formatted by ruff
    (the dev extra's) as `ruff format --check` expects, so that the file needs no
    further step; without ruff, unformatted (and a warning says to run it)."""
    import subprocess

    text = f"{GENERATED_HEADER}COMPONENTS = {literal(builtin_components())}\n"
    try:
        formatted = subprocess.run(
            [sys.executable, "-m", "ruff", "format", "--stdin-filename", str(path), "-"],
            input=text,
            capture_output=True,
            text=True,
            check=True,
            cwd=path.parent,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError):
        warn(f"ruff did not run; format {path} with: ruff format {path}")
        return text
    return formatted.stdout


if __name__ == "__main__":  # the registries of the imported module, not of __main__
    from ganbench import registry

    target = Path(__file__).with_name("builtin_components.py")
    target.write_text(registry.builtin_components_source(target))
    print(f"wrote {target}")
