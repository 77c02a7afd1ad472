"""A folder of files (or one file) as a source: every file is an item the scan can check.

Files whose extension is not a known image or video are still listed (media_kind "file"), because
a renamed or extension-less file can hold a photo: the scan decides by content, not by name.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from ncii_shield.errors import SourceError
from ncii_shield.sources.base import Item
from ncii_shield.sources.paths import safe_relative_path
from ncii_shield.sources.tree import DirTree, Tree

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
    try:
        text = path.read_bytes().decode("utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        raise SourceError(f"{path.name} is not UTF-8 text", hint="write the index as UTF-8") from exc
    urls: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        relative, _, url = line.partition("\t")
        if not url.startswith(("http://", "https://")) or safe_relative_path(relative) != relative:
            raise SourceError(
                f"{path.name} line {number}: expected 'relative/path<TAB>http(s)://…'",
                hint="fix or remove that line; files without a line are scanned without a URL",
            )
        urls[relative] = url.strip()
    return urls


class FolderSource:
    """Every regular, non-hidden file under a folder (or inside a zip), in sorted order; or a single file."""

    kind = "folder"

    def __init__(self, path: Path | None = None, *, tree: Tree | None = None, root: str = "") -> None:
        """`path` is a folder to walk, or one file (then the root is its parent); or a tree (a zip) and
        the folder inside it to list."""
        self._single: str | None = None
        self.root_path = root
        if tree is not None:
            self.tree: Tree = tree
            self.root = None
            self.urls: dict[str, str] = {}
            return
        path = Path(path or ".")
        if path.is_dir():
            self.root = path
        elif path.is_file():
            self.root = path.parent
            self._single = path.name
        else:
            raise SourceError(f"{path} not found", hint="point at a folder of collected files, or one file")
        self.tree = DirTree(self.root)
        self.urls = read_url_index(self.root / URL_INDEX)

    def fingerprint(self) -> str:
        """A folder is known by where it is; a folder inside a zip by the zip's directory."""
        zipped = getattr(self.tree, "fingerprint", None)
        if self.root is None and callable(zipped):
            return str(zipped(self.root_path))
        return hashlib.sha256(str(Path(self.root or ".").resolve()).encode()).hexdigest()

    def describe(self) -> str:
        if self._single is not None:
            return f"File {self._single}"
        if self.root is None:
            return f"Folder {self.root_path.rstrip('/') or self.tree.label}"
        return f"Folder {self.root.name or self.root}"

    def iter_items(self) -> Iterator[Item]:
        """Yield one item per file; relative POSIX paths are the stable ids."""
        if self._single is not None:
            yield from self._file_item(self._single)
            return
        for relative, error in self.tree.files():
            if not relative.startswith(self.root_path):
                continue
            if error is not None:
                # An unreadable folder or file is reported, not silently dropped: it may hold evidence.
                yield Item(external_id=relative, kind="file", media_note=error)
                continue
            yield from self._file_item(relative)

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
            size = self.tree.size(relative)
        except OSError as exc:
            yield Item(
                external_id=relative, kind="file", media_note=f"could not be read: {exc.strerror or exc}"
            )
            return
        if size is None:
            yield Item(external_id=relative, kind="file", media_note="could not be read: not a regular file")
            return
        storable = storable_name(relative)
        shown = storable[len(self.root_path) :] if self.root_path else storable
        yield Item(
            external_id=shown,
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
