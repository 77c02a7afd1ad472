"""A file of named numpy arrays, saved atomically and checked on load.

Layout: an 8-byte magic, a little-endian uint32 header length and the header's CRC-32, the header
(JSON: file size, metadata, and per array its offset, dtype, shape and CRC-32), then each array's raw
bytes at a 64-byte aligned offset. Loading reads each array straight into its final buffer (no second
copy, so peak memory is the index itself) and checks size and checksums, so a truncated or damaged
file fails in one line instead of answering searches wrongly.
"""

from __future__ import annotations

import json
import os
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from ncii_shield.errors import NciiError

MAGIC = b"NCIIPDQ1"
_PREAMBLE = len(MAGIC) + 8
_ALIGN = 64
_IO_CHUNK = 1 << 24  # 16 MB per read/write call and per CRC update


class IndexFileError(NciiError):
    """An index file cannot be read: missing, truncated, corrupt or of another format."""


def _aligned(offset: int) -> int:
    return -(-offset // _ALIGN) * _ALIGN


def _chunks(array: np.ndarray) -> list[memoryview]:
    if array.nbytes == 0:
        return []
    flat = memoryview(np.ascontiguousarray(array)).cast("B")
    return [flat[i : i + _IO_CHUNK] for i in range(0, len(flat), _IO_CHUNK)]


def save_arrays(path: Path, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """Write `arrays` and `meta` to `path` atomically: temp file, fsync, rename, fsync the folder."""
    path = Path(path)
    specs: dict[str, dict[str, Any]] = {}
    crcs: dict[str, int] = {}
    for name, array in arrays.items():
        crc = 0
        for chunk in _chunks(array):
            crc = zlib.crc32(chunk, crc)
        crcs[name] = crc
    # The header holds the offsets, which depend on the header's length: grow the room until it fits.
    start = _aligned(_PREAMBLE + 512)
    while True:
        offset = start
        for name, array in arrays.items():
            offset = _aligned(offset)
            specs[name] = {
                "offset": offset,
                "dtype": array.dtype.str,
                "shape": list(array.shape),
                "crc32": crcs[name],
            }
            offset += array.nbytes
        header = json.dumps({"size": offset, "meta": meta, "arrays": specs}, sort_keys=True).encode()
        if _PREAMBLE + len(header) <= start:
            break
        start = _aligned(_PREAMBLE + len(header) + _ALIGN)
    header += b" " * (start - _PREAMBLE - len(header))  # pad inside the JSON: the CRC covers it
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        # Owner-only like everything in the data directory: an index says which hashes a bank holds.
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
            f.write(MAGIC)
            f.write(len(header).to_bytes(4, "little"))
            f.write(zlib.crc32(header).to_bytes(4, "little"))
            f.write(header)
            for name, array in arrays.items():
                f.seek(specs[name]["offset"])
                for chunk in _chunks(array):
                    f.write(chunk)
            f.truncate(offset)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. Windows: directories cannot be opened; the rename is still atomic
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def load_arrays(path: Path, *, kind: str = "index") -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(meta, arrays) from a file written by `save_arrays`; IndexFileError if anything is off."""
    path = Path(path)
    hint = f"restore the {kind} from a backup or rebuild it from its source"
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below; the errors need the size first
    except FileNotFoundError:
        raise IndexFileError(f"{kind} file {path} does not exist", "check the path") from None
    except OSError as exc:
        raise IndexFileError(f"cannot open {kind} file {path}: {exc.strerror}") from None
    with f:
        actual = os.fstat(f.fileno()).st_size
        preamble = f.read(_PREAMBLE)
        if not preamble.startswith(MAGIC) and not (len(preamble) < len(MAGIC) and MAGIC.startswith(preamble)):
            raise IndexFileError(f"{path} is not an ncii-shield {kind} file (bad magic bytes)", hint)
        if len(preamble) < _PREAMBLE:
            raise IndexFileError(f"{kind} file {path} is truncated ({actual} bytes, header cut)", hint)
        length = int.from_bytes(preamble[8:12], "little")
        crc = int.from_bytes(preamble[12:16], "little")
        header = f.read(length)
        if len(header) < length:
            raise IndexFileError(f"{kind} file {path} is truncated ({actual} bytes, header cut)", hint)
        if zlib.crc32(header) != crc:
            raise IndexFileError(f"{kind} file {path} is corrupt (header checksum mismatch)", hint)
        try:
            info = json.loads(header)
            size, meta, specs = int(info["size"]), info["meta"], info["arrays"]
            if not isinstance(meta, dict) or not isinstance(specs, dict):
                raise TypeError("meta and arrays must be objects")
        except (ValueError, KeyError, TypeError):
            raise IndexFileError(f"{kind} file {path} is corrupt (unreadable header)", hint) from None
        if actual < size:
            raise IndexFileError(f"{kind} file {path} is truncated: {actual} of {size} bytes", hint)
        if actual > size:
            raise IndexFileError(f"{kind} file {path} is corrupt: {actual} bytes, expected {size}", hint)
        arrays: dict[str, np.ndarray] = {}
        for name, spec in specs.items():
            try:
                dtype, shape = np.dtype(spec["dtype"]), tuple(int(x) for x in spec["shape"])
                offset, expected = int(spec["offset"]), int(spec["crc32"])
                nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            except (ValueError, KeyError, TypeError):
                raise IndexFileError(f"{kind} file {path} is corrupt (bad entry for {name})", hint) from None
            if dtype.kind not in "biu" or min(shape, default=0) < 0 or offset < 0 or offset + nbytes > size:
                raise IndexFileError(f"{kind} file {path} is corrupt (bad entry for {name})", hint)
            array = np.empty(shape, dtype=dtype)  # only plain numbers: raw bytes are never objects
            f.seek(offset)
            crc = 0
            for chunk in _chunks(array):
                if f.readinto(chunk) != len(chunk):
                    raise IndexFileError(f"{kind} file {path} is truncated (inside {name})", hint)
                crc = zlib.crc32(chunk, crc)
            if crc != expected:
                raise IndexFileError(f"{kind} file {path} is corrupt (checksum mismatch in {name})", hint)
            arrays[name] = array
    return meta, arrays
