"""Where a source's files live: a folder on disk or a zip archive read in place.

Exports reach a support centre zipped as often as not. A zip is never extracted: members are read
where they are, so no victim's image is written to disk in clear, and the checks below run on the
central directory before a single byte is decompressed. Both kinds answer the same few questions
(what files are there, how big, give me the bytes), so every source reads either the same way.
"""

from __future__ import annotations

import copy
import hashlib
import io
import itertools
import os
import stat
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Protocol

from ncii_shield.config import (
    DEFAULT_ZIP_MAX_BYTES,
    DEFAULT_ZIP_MAX_MEMBERS,
    DEFAULT_ZIP_MAX_RATIO,
    SettingError,
    Settings,
    read_setting,
)
from ncii_shield.errors import SourceError
from ncii_shield.sources.paths import resolve_inside, safe_relative_path

CHUNK = 1 << 20


class Tree(Protocol):
    """A read-only view of files addressed by relative POSIX paths."""

    label: str  # how to name it in a message: a folder path or "archive.zip"
    location: str  # where it is, recorded on the source: an absolute folder, or "/abs/archive.zip/folder"

    def narrowed(self, prefix: str) -> Tree:
        """The folder `prefix` ("" or "name/") of this tree, as a tree of its own."""
        ...

    def files(self) -> Iterator[tuple[str, str | None]]:
        """Every regular file as (relative path, None), or (path, why it cannot be read), sorted."""
        ...

    def size(self, relative: str) -> int | None:
        """The size of a regular file inside the tree; None if it is missing or would escape it."""
        ...

    def open(self, relative: str) -> BinaryIO: ...

    def read_bytes(self, relative: str) -> bytes: ...

    def sha256(self, relative: str) -> str: ...

    def close(self) -> None: ...


class _Reading:
    """What both trees do the same way once a file is open."""

    def open(self, relative: str) -> BinaryIO:
        raise NotImplementedError

    def read_bytes(self, relative: str) -> bytes:
        with self.open(relative) as handle:
            return handle.read()

    def sha256(self, relative: str) -> str:
        """Read in chunks: a large video never sits whole in memory for hashing."""
        digest = hashlib.sha256()
        with self.open(relative) as handle:
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
        return digest.hexdigest()


class DirTree(_Reading):
    """A folder. Symlinks are followed only to files that stay inside it; hidden entries are skipped."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.label = str(self.root)
        self.location = str(self.root.resolve())

    def narrowed(self, prefix: str) -> DirTree:
        return DirTree(self.root / prefix) if prefix else self

    def files(self) -> Iterator[tuple[str, str | None]]:
        yield from self._walk(self.root, "")

    def _walk(self, folder: Path, prefix: str) -> Iterator[tuple[str, str | None]]:
        try:
            with os.scandir(folder) as scan:
                entries = sorted(scan, key=lambda entry: entry.name)
        except OSError as exc:
            if not prefix:
                raise SourceError(f"cannot list {folder}: {exc.strerror or exc}") from exc
            yield prefix.rstrip("/"), f"could not be read: {exc.strerror or exc}"
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            relative = f"{prefix}{entry.name}"
            try:
                if entry.is_symlink():
                    target = resolve_inside(self.root, relative)
                    if target is not None and target.is_file():
                        yield relative, None
                elif entry.is_dir(follow_symlinks=False):
                    yield from self._walk(Path(entry.path), f"{relative}/")
                elif entry.is_file(follow_symlinks=False):
                    yield relative, None
            except OSError as exc:  # an unreadable entry may hold evidence: report it, never drop it
                yield relative, f"could not be read: {exc.strerror or exc}"

    def _path(self, relative: str) -> Path | None:
        path = resolve_inside(self.root, relative)
        return path if path is not None and path.is_file() else None

    def size(self, relative: str) -> int | None:
        path = self._path(relative)
        return None if path is None else path.stat().st_size

    def open(self, relative: str) -> BinaryIO:
        path = self._path(relative)
        if path is None:
            raise SourceError(f"{relative} not found in {self.label}")
        return path.open("rb")

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class ZipLimits:
    """Bounds checked on the central directory before anything is decompressed."""

    max_bytes: int = DEFAULT_ZIP_MAX_BYTES  # total uncompressed size
    max_members: int = DEFAULT_ZIP_MAX_MEMBERS
    max_ratio: float = DEFAULT_ZIP_MAX_RATIO  # uncompressed/compressed, for members over 1 MiB

    @classmethod
    def from_settings(cls, settings: Settings) -> ZipLimits:
        """NCII_ZIP_MAX_BYTES, NCII_ZIP_MAX_MEMBERS and NCII_ZIP_MAX_RATIO, as the settings read them."""
        return cls(settings.zip_max_bytes, settings.zip_max_members, settings.zip_max_ratio)

    @classmethod
    def from_env(cls) -> ZipLimits:
        """For a caller given no settings: the three variables as they are now."""
        try:
            return cls(
                *(read_setting(name) for name in ("zip_max_bytes", "zip_max_members", "zip_max_ratio"))
            )
        except SettingError as exc:
            raise SourceError(exc.message, hint=exc.hint) from exc


def is_zip(path: Path) -> bool:
    """By content, not name: exports arrive as '.zip', '.ZIP', or with no extension at all."""
    try:
        with path.open("rb") as handle:
            return handle.read(4) in (b"PK\x03\x04", b"PK\x05\x06")
    except OSError:
        return False


def _member_name(info: zipfile.ZipInfo) -> str:
    """The name as the person who zipped it saw it: zips made on Korean Windows use CP949, not CP437."""
    if info.flag_bits & 0x800:
        return info.filename
    raw = info.filename.encode("cp437", errors="replace")
    for encoding in ("utf-8", "cp949"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return info.filename


class ZipTree(_Reading):
    """A zip archive, validated whole on opening; `prefix` narrows it to one folder inside."""

    def __init__(self, path: Path, limits: ZipLimits | None = None, prefix: str = "") -> None:
        self.path = Path(path)
        self._set_prefix(prefix)
        limits = limits or ZipLimits.from_env()
        try:
            self._zip = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
            raise SourceError(
                f"{self.path.name} is not a readable zip ({_one_line(exc)})",
                hint="the archive may be truncated or damaged: copy it again, or unzip it and scan the folder",
            ) from exc
        try:
            self._members = _validated(self._zip, self.path, limits)
        except BaseException:
            self._zip.close()
            raise

    def _set_prefix(self, prefix: str) -> None:
        shown = prefix.rstrip("/")
        self.prefix = prefix
        self.label = f"{self.path.name}/{shown}" if shown else self.path.name
        self.location = str(self.path.resolve()) + (f"/{shown}" if shown else "")

    def narrowed(self, prefix: str) -> ZipTree:
        """The same archive seen from one folder inside it (shares the open file and its checked members)."""
        view = copy.copy(self)
        view._set_prefix(self.prefix + prefix)
        return view

    def files(self) -> Iterator[tuple[str, str | None]]:
        for name in sorted(self._members):
            if name.startswith(self.prefix):
                relative = name[len(self.prefix) :]
                if not any(part.startswith(".") for part in PurePosixPath(relative).parts):
                    yield relative, None

    def _info(self, relative: str) -> zipfile.ZipInfo | None:
        clean = safe_relative_path(relative)
        return None if clean is None else self._members.get(self.prefix + clean)

    def size(self, relative: str) -> int | None:
        info = self._info(relative)
        return None if info is None else info.file_size

    def open(self, relative: str) -> BinaryIO:
        """A member as a stream whose damage (bad CRC, broken deflate data) surfaces as OSError."""
        info = self._info(relative)
        if info is None:
            raise SourceError(f"{relative} not found in {self.label}")
        try:
            return _Member(self._zip.open(info), f"{relative} in {self.path.name}")  # type: ignore[return-value]
        except (*_DAMAGE, RuntimeError) as exc:
            raise OSError(f"{relative} in {self.path.name} cannot be read: {_one_line(exc)}") from exc

    def fingerprint(self, relative_root: str = "") -> str:
        """Names, sizes and CRCs from the central directory: recognises the same export without reading it."""
        digest = hashlib.sha256()
        for name in sorted(self._members):
            if name.startswith(self.prefix + relative_root):
                info = self._members[name]
                digest.update(f"{name[len(self.prefix) :]}\0{info.file_size}\0{info.CRC}\n".encode())
        return digest.hexdigest()

    def close(self) -> None:
        self._zip.close()


_DAMAGE = (zipfile.BadZipFile, zlib.error, EOFError, ValueError, OSError)


class _Member(io.RawIOBase):
    """A zip member's stream. zipfile reports damage as BadZipFile or zlib.error, which callers reading
    files do not expect: here it is the OSError any damaged file gives, naming the member."""

    def __init__(self, raw: BinaryIO, name: str) -> None:
        super().__init__()
        self._raw, self._name = raw, name

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        try:
            return self._raw.read(size)
        except _DAMAGE as exc:
            raise OSError(f"{self._name} is damaged: {_one_line(exc)}") from exc

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def seekable(self) -> bool:
        return self._raw.seekable()

    def seek(self, offset: int, whence: int = 0) -> int:
        try:
            return self._raw.seek(offset, whence)
        except _DAMAGE as exc:
            raise OSError(f"{self._name} is damaged: {_one_line(exc)}") from exc

    def tell(self) -> int:
        return self._raw.tell()

    def close(self) -> None:
        self._raw.close()
        super().close()


def _validated(archive: zipfile.ZipFile, path: Path, limits: ZipLimits) -> dict[str, zipfile.ZipInfo]:
    """name -> member for the regular files; refuses the whole archive on anything crafted."""
    infos = archive.infolist()
    name = path.name
    if len(infos) > limits.max_members:
        raise SourceError(
            f"{name} has {len(infos):,} members, over the limit of {limits.max_members:,}",
            hint="split the archive, or raise NCII_ZIP_MAX_MEMBERS if this is expected",
        )
    total = 0
    members: dict[str, zipfile.ZipInfo] = {}
    spans: list[tuple[int, int]] = []
    for info in infos:
        shown = _member_name(info)
        if info.flag_bits & 0x1:
            raise SourceError(
                f"{name} is encrypted (member {shown!r:.80})",
                hint="decrypt it with the password you were given (e.g. `7z x`), then scan the folder",
            )
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise SourceError(
                f"{name} holds a symbolic link ({shown!r:.80}); archives with links are refused",
                hint="a link can point anywhere on this machine: re-zip the export without links",
            )
        clean = safe_relative_path(shown.rstrip("/"))
        if clean is None:
            raise SourceError(
                f"{name} has a member whose path leaves the archive ({shown!r:.80})",
                hint="this archive was crafted, not made by zipping an export; do not unzip it either",
            )
        total += info.file_size
        if total > limits.max_bytes:
            raise SourceError(
                f"{name} unpacks to more than {limits.max_bytes:,} bytes",
                hint="split the archive, or raise NCII_ZIP_MAX_BYTES if this size is expected",
            )
        if info.file_size > CHUNK and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            raise SourceError(
                f"{name}: {shown!r:.80} would expand {info.file_size / max(info.compress_size, 1):,.0f}-fold "
                "(a zip bomb)",
                hint="no real export compresses like this; if it is genuine raise NCII_ZIP_MAX_RATIO",
            )
        # The smallest a local header can be (30 bytes + the name): data ends no earlier than this.
        minimum_end = (
            info.header_offset
            + 30
            + len(info.orig_filename.encode("utf-8" if info.flag_bits & 0x800 else "cp437"))
            + info.compress_size
        )
        spans.append((info.header_offset, minimum_end))
        if info.is_dir():
            continue
        members[clean] = info
    spans.sort()
    for (_, end), (start, _) in itertools.pairwise(spans):
        if start < end:  # members sharing compressed data: the overlapping-file zip bomb
            raise SourceError(
                f"{name} has overlapping members (a zip bomb)", hint="this archive was crafted; refuse it"
            )
    return members


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
