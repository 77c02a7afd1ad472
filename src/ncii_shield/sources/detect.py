"""What did the case worker hand over? A clear answer before anything is scanned.

A path is a folder, a zip or one file. Inside, it may hold a JSON export, an HTML export (the app's
default), several exports side by side, or plain media. Anything else is refused with the reason and
what to do, never "scanned" as one skipped file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import tzinfo
from pathlib import Path

from ncii_shield.errors import SourceError
from ncii_shield.sources.base import Source
from ncii_shield.sources.folder import FolderSource, media_type_for
from ncii_shield.sources.html_layout import page_number
from ncii_shield.sources.telegram import EXPORT_FILE_NAME, TelegramExport
from ncii_shield.sources.telegram_html import TelegramHtmlExport
from ncii_shield.sources.tree import DirTree, Tree, ZipLimits, ZipTree, is_zip
from ncii_shield.sources.warc import WarcSource, is_warc

_HTML_MARKERS = ("messages.html", "export_results.html", "lists/chats.html")
# Magic numbers of the media a scan can read, for files whose name says nothing.
_MAGIC = (b"\xff\xd8\xff", b"\x89PNG", b"GIF8", b"RIFF", b"BM", b"II*\x00", b"MM\x00*", b"\x1aE\xdf\xa3")
_REFUSED = (
    "point at the folder Telegram Desktop wrote (ChatExport_…), its zip, "
    "or a folder of collected images and videos (or a WARC file of web captures)"
)


@dataclass
class Found:
    """What was recognised where: `kind` is json, html or media; `root` is "" or "folder/"."""

    kind: str
    root: str
    member: str = EXPORT_FILE_NAME  # a JSON export renamed by whoever passed it on keeps its new name


@dataclass
class Opened:
    """The sources found under a path, and what was noticed on the way (shown to the user)."""

    sources: list[Source]
    notes: list[str] = field(default_factory=list)


@dataclass
class _Listing:
    """The tree's files, indexed once: what is directly in each folder, and which folders hold the
    first page of a full-account chat (chats/chat_NNN/messages.html)."""

    files: set[str]
    in_folder: dict[str, set[str]]  # "" or "folder/" -> names directly in it
    account_roots: set[str]  # "" or "folder/" under which chats/chat_NNN/messages.html exists

    @classmethod
    def of(cls, tree: Tree) -> _Listing:
        files = {relative for relative, error in tree.files() if error is None}
        in_folder: dict[str, set[str]] = {}
        roots: set[str] = set()
        for relative in files:
            folder, _, name = relative.rpartition("/")
            in_folder.setdefault(f"{folder}/" if folder else "", set()).add(name)
            match = _ACCOUNT_PAGE.match(relative)
            if match:
                roots.add(match.group(1))
        return cls(files, in_folder, roots)


_ACCOUNT_PAGE = re.compile(r"^((?:[^/]+/)?)chats/chat_\d+/messages\.html$")


def detect(tree: Tree) -> tuple[list[Found], list[str]]:
    """Exports at the top of the tree, or one level down (ChatExport_…/ inside a zip); else plain media."""
    listing = _Listing.of(tree)
    files = listing.files
    notes: list[str] = []
    found = _export_at(tree, listing, "", notes)
    if found is not None:
        return [found], notes
    tops = sorted({relative.split("/", 1)[0] + "/" for relative in files if "/" in relative})
    exports = [f for f in (_export_at(tree, listing, top, notes) for top in tops) if f is not None]
    if exports:
        if len(exports) > 1:
            notes.append(f"{len(exports)} exports side by side: each is scanned")
        loose = [r for r in files if not any(r.startswith(f.root) for f in exports)]
        if any(_looks_like_media(tree, r) for r in loose[:200]):
            notes.append(f"{len(loose)} files outside the exports were not scanned; scan them on their own")
        return exports, notes
    if any(_looks_like_media(tree, relative) for relative in sorted(files)):
        return [Found("media", "")], notes
    raise SourceError(
        f"{tree.label} holds no Telegram export (result.json or messages.html) and no images or videos",
        hint=_REFUSED,
    )


def _export_at(tree: Tree, listing: _Listing, root: str, notes: list[str]) -> Found | None:
    html = root in listing.account_roots or any(f"{root}{m}" in listing.files for m in _HTML_MARKERS)
    here = listing.in_folder.get(root, set())
    member = EXPORT_FILE_NAME if EXPORT_FILE_NAME in here else _renamed_json(tree, here, root)
    if member is not None:
        if html:
            notes.append(
                f"{root or './'} holds the same export as JSON and HTML: the JSON is read (it has chat "
                "and sender ids), the HTML pages are not"
            )
        if member != EXPORT_FILE_NAME:
            notes.append(f"{root}{member} read as a Telegram Desktop JSON export (result.json renamed)")
        return Found("json", root, member)
    return Found("html", root) if html else None


def _renamed_json(tree: Tree, names: set[str], root: str) -> str | None:
    """The one .json file in the folder, if it starts like a Telegram export."""
    candidates = [name for name in names if name.endswith(".json")]
    if len(candidates) != 1 or not _looks_like_export(tree, f"{root}{candidates[0]}"):
        return None
    return candidates[0]


def _looks_like_export(tree: Tree, relative: str) -> bool:
    try:
        with tree.open(relative) as handle:
            head = handle.read(4096)
    except (OSError, SourceError):
        return False
    return head.lstrip().startswith(b"{") and (b'"messages"' in head or b'"chats"' in head)


def _looks_like_media(tree: Tree, relative: str) -> bool:
    if media_type_for(relative)[0] != "file":
        return True
    try:
        with tree.open(relative) as handle:
            head = handle.read(16)
    except (OSError, SourceError):
        return False
    return head.startswith(_MAGIC) or head[4:8] == b"ftyp"


@contextmanager
def open_sources(
    path: Path, *, assumed_timezone: tzinfo | None = None, limits: ZipLimits | None = None
) -> Iterator[Opened]:
    """Open every source under `path`, closing any zip afterwards; SourceError says why not."""
    opened, tree = open_all(path, assumed_timezone=assumed_timezone, limits=limits)
    try:
        yield opened
    finally:
        if tree is not None:
            tree.close()


def open_all(
    path: Path, *, assumed_timezone: tzinfo | None = None, limits: ZipLimits | None = None
) -> tuple[Opened, Tree | None]:
    """The sources under `path`, and the tree to close when done with them (a zip), if any."""
    path = Path(path)
    if path.is_file() and is_zip(path):
        tree: Tree = ZipTree(path, limits)
        try:
            found, notes = detect(tree)
            return Opened([_open(tree, f, assumed_timezone) for f in found], notes), tree
        except BaseException:
            tree.close()
            raise
    if path.is_file():
        return Opened([_single_file(path, assumed_timezone)]), None
    if not path.is_dir():
        raise SourceError(f"{path} not found", hint=_REFUSED)
    tree = DirTree(path)
    warcs = _warcs_in(path)
    try:
        found, notes = detect(tree)
    except SourceError:
        if not warcs:
            raise
        return Opened([WarcSource(w) for w in warcs], [f"{len(warcs)} WARC files: each is scanned"]), None
    if warcs:
        notes.append(f"{len(warcs)} WARC files beside the export were not scanned; scan them on their own")
    if found == [Found("media", "")]:
        return Opened([FolderSource(path)], notes), None  # keeps the crawl's URL index, if any
    return Opened([_open(tree, f, assumed_timezone) for f in found], notes), None


def _open(tree: Tree, found: Found, assumed_timezone: tzinfo | None) -> Source:
    """The reader for one export, over the tree narrowed to it: paths inside are relative to its root."""
    if found.kind == "json" and isinstance(tree, DirTree):
        return TelegramExport(tree.root / found.root / found.member, assumed_timezone=assumed_timezone)
    inner = tree.narrowed(found.root)
    if found.kind == "json":
        return TelegramExport(tree=inner, member=found.member, assumed_timezone=assumed_timezone)
    if found.kind == "html":
        return TelegramHtmlExport(inner, assumed_timezone=assumed_timezone)
    return FolderSource(tree=inner)


def _warcs_in(folder: Path) -> list[Path]:
    """The WARC files directly in a folder (a crawl's output folder), by name, sorted."""
    try:
        return sorted(p for p in folder.iterdir() if p.is_file() and p.name.lower().endswith(WARC_NAMES))
    except OSError:
        return []


WARC_NAMES = (".warc", ".warc.gz", ".warc.gzip")


def _single_file(path: Path, assumed_timezone: tzinfo | None) -> Source:
    """result.json or messages.html stand for their export; a WARC for its captures; any other file must
    be an image or video."""
    if is_warc(path):
        return WarcSource(path)
    if path.name == EXPORT_FILE_NAME or (
        path.suffix.lower() == ".json" and _looks_like_export(DirTree(path.parent), path.name)
    ):
        return TelegramExport(path, assumed_timezone=assumed_timezone)
    if page_number(path.name) is not None:
        return TelegramHtmlExport(DirTree(path.parent), assumed_timezone=assumed_timezone)
    if not _looks_like_media(DirTree(path.parent), path.name):
        raise SourceError(f"{path.name} is not an export, an image or a video", hint=_REFUSED)
    return FolderSource(path)
