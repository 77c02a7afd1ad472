"""A folder of files (or one file) as a source: every file is an item the scan can check.

Files whose extension is not a known image or video are still listed (media_kind "file"), because
a renamed or extension-less file can hold a photo: the scan decides by content, not by name.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from ncii_shield.errors import SourceError
from ncii_shield.sources.base import Item
from ncii_shield.sources.paths import resolve_inside, safe_relative_path

# extension -> (media_kind, mime type)
_MEDIA_TYPES: Final[dict[str, tuple[str, str | None]]] = {
    "jpg": ("photo", "image/jpeg"),
    "jpeg": ("photo", "image/jpeg"),
    "png": ("photo", "image/png"),
    "gif": ("photo", "image/gif"),
    "bmp": ("photo", "image/bmp"),
    "tif": ("photo", "image/tiff"),
    "tiff": ("photo", "image/tiff"),
    "heic": ("photo", "image/heic"),
    "webp": ("sticker", "image/webp"),
    "tgs": ("sticker", "application/x-tgsticker"),
    "mp4": ("video_file", "video/mp4"),
    "webm": ("video_file", "video/webm"),
    "mov": ("video_file", "video/quicktime"),
    "mkv": ("video_file", "video/x-matroska"),
}


def media_type_for(name: str) -> tuple[str, str | None]:
    """(media_kind, mime) guessed from a file name's extension; ("file", None) when unknown."""
    _, dot, extension = name.rpartition(".")
    if not dot:
        return "file", None
    return _MEDIA_TYPES.get(extension.lower(), ("file", None))


URL_INDEX = ".ncii-urls.tsv"  # a crawler's record of where each file was fetched: path <TAB> URL
_MAX_INDEX_BYTES = 64 << 20


def read_url_index(path: Path) -> dict[str, str]:
    """``relative path -> URL`` from a crawl's index file, if there is one; a bad line is a clear error."""
    if not path.is_file():
        return {}
    if path.stat().st_size > _MAX_INDEX_BYTES:
        raise SourceError(f"{path.name} is larger than 64 MiB", hint="split the crawl into several folders")
    urls: dict[str, str] = {}
    with path.open(encoding="utf-8", errors="strict") as fh:
        try:
            for number, line in enumerate(fh, 1):
                if not line.strip() or line.startswith("#"):
                    continue
                relative, _, url = line.rstrip("\r\n").partition("\t")
                if not url.startswith(("http://", "https://")) or safe_relative_path(relative) != relative:
                    raise SourceError(
                        f"{path.name} line {number}: expected 'relative/path<TAB>http(s)://…'",
                        hint="fix or remove that line; files without a line are scanned without a URL",
                    )
                urls[relative] = url.strip()
        except UnicodeDecodeError as exc:
            raise SourceError(f"{path.name} is not UTF-8 text", hint="write the index as UTF-8") from exc
    return urls


class FolderSource:
    """Every regular, non-hidden file under a folder, walked in sorted order; or a single file."""

    kind = "folder"

    def __init__(self, path: Path) -> None:
        """`path` is a folder to walk, or one file (then the root is its parent)."""
        path = Path(path)
        if path.is_dir():
            self.root = path
            self._single: str | None = None
        elif path.is_file():
            self.root = path.parent
            self._single = path.name
        else:
            raise SourceError(f"{path} not found", hint="point at a folder of collected files, or one file")
        self.urls = read_url_index(self.root / URL_INDEX)

    def describe(self) -> str:
        if self._single is not None:
            return f"File {self._single}"
        return f"Folder {self.root.name or self.root}"

    def iter_items(self) -> Iterator[Item]:
        """Yield one item per file; relative POSIX paths are the stable ids."""
        if self._single is not None:
            yield from self._file_item(self._single)
            return
        try:
            entries = _sorted_entries(self.root)
        except OSError as exc:
            raise SourceError(f"cannot list {self.root}: {exc.strerror or exc}") from exc
        yield from self._walk(entries, prefix="")

    def _walk(self, entries: list[os.DirEntry[str]], prefix: str) -> Iterator[Item]:
        for entry in entries:
            if entry.name.startswith("."):
                continue
            relative = f"{prefix}{entry.name}"
            try:
                if entry.is_symlink():
                    # A link is followed only to a file that stays inside the root; never to a folder.
                    target = resolve_inside(self.root, relative)
                    if target is not None and target.is_file():
                        yield from self._file_item(relative)
                elif entry.is_dir(follow_symlinks=False):
                    yield from self._walk(_sorted_entries(Path(entry.path)), prefix=f"{relative}/")
                elif entry.is_file(follow_symlinks=False):
                    yield from self._file_item(relative)
            except OSError as exc:
                # An unreadable folder or file is reported, not silently dropped: it may hold evidence.
                yield Item(
                    external_id=relative,
                    kind="file",
                    media_note=f"could not be read: {exc.strerror or exc}",
                )

    def _file_item(self, relative: str) -> Iterator[Item]:
        media_kind, mime = media_type_for(relative)
        if safe_relative_path(relative) != relative:
            # e.g. a backslash in a POSIX file name: the path would name a different file.
            yield Item(
                external_id=relative,
                kind="file",
                media_kind=media_kind,
                media_note=f"unsafe file name refused: {relative!r:.80}",
            )
            return
        try:
            size = (self.root / relative).stat().st_size
        except OSError as exc:
            yield Item(
                external_id=relative, kind="file", media_note=f"could not be read: {exc.strerror or exc}"
            )
            return
        storable = storable_name(relative)
        yield Item(
            external_id=storable,
            kind="file",
            media_path=storable,
            media_os_path=relative if storable != relative else None,
            media_kind=media_kind,
            media_mime=mime,
            extra={"size": size, **({"url": self.urls[relative]} if relative in self.urls else {})},
        )


def storable_name(name: str) -> str:
    """`name` as valid UTF-8: bytes that are not (e.g. CP949 names from a zip made on Korean Windows)
    become %XX, so the name can be stored and shown; the file is still opened by its OS name."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        decoded = os.fsencode(name).decode("utf-8", "surrogateescape")
        return "".join(f"%{ord(c) - 0xDC00:02X}" if 0xDC80 <= ord(c) <= 0xDCFF else c for c in decoded)
    return name


def _sorted_entries(folder: Path) -> list[os.DirEntry[str]]:
    with os.scandir(folder) as scan:
        return sorted(scan, key=lambda entry: entry.name)
