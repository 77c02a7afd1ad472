"""A WARC file (ours from `crawl`, or one written elsewhere: wget --warc-file, Heritrix, Browsertrix…) as a
source: each image or video the web served becomes an item, with where and when it was fetched.

The file is read twice, never unpacked to disk. A first pass indexes it: each 2xx response (or resource
record) whose Content-Type or first bytes say image or video, its offset, its payload's SHA-256 and size,
and the link graph: the outlinks our crawler records (metadata records), the Referer of the request
records, and the redirects (3xx responses), so each image names the page that showed it. Items are then
yielded, and the scan reads each payload by seeking to its record (a .warc.gz must be compressed record by
record, as the standard asks; one gzip over the whole file is refused with the command that fixes it).

An item is the same item when its URL and its content are the same (`external_id` = URL + SHA-256), and
every WARC feeds the one web source: crawling a site again adds only what changed. A damaged or truncated
file yields what was read before the damage, then one line naming the file and the byte offset.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any, BinaryIO
from urllib.parse import urljoin, urlsplit

from ncii_shield.errors import SourceError
from ncii_shield.sources.base import Item

WARC_SUFFIXES = (".warc", ".warc.gz", ".warc.gzip")
MAX_PAYLOAD = 256 * 1024 * 1024  # the decoder's own limit (media/decode.py): bigger payloads are refused
WEB_FINGERPRINT = hashlib.sha256(b"ncii-shield: the web, as captured in WARC files").hexdigest()
_MAGIC = (b"\xff\xd8\xff", b"\x89PNG", b"GIF8", b"BM", b"II*\x00", b"MM\x00*", b"\x1aE\xdf\xa3")
_HINT = "if it was written whole by gzip, run `warcio recompress IN OUT` and scan OUT"
_KEPT = "what came before was read"
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def is_warc(path: Path) -> bool:
    """By name (.warc, .warc.gz), or by its first bytes ("WARC/", possibly gzipped)."""
    if path.name.lower().endswith(WARC_SUFFIXES):
        return True
    try:
        with path.open("rb") as handle:
            head = handle.read(512)
    except OSError:
        return False
    if head.startswith(b"\x1f\x8b"):
        import zlib

        try:
            head = zlib.decompressobj(31).decompress(head, 16)
        except zlib.error:
            return False
    return head.startswith(b"WARC/")


@dataclass(frozen=True)
class _Entry:
    """One image or video payload in the file."""

    offset: int
    url: str
    record_id: str
    record_type: str
    date: datetime | None
    status: int | None
    mime: str | None
    size: int
    sha256: str
    truncated: str | None
    digest: str | None  # "ok", "failed", or None when the record carries no digest
    concurrent: tuple[str, ...]
    problem: str | None = None  # why the payload cannot be used, found while reading it


class WarcTree:
    """The payloads of one WARC, addressed as "<offset>/<name>" paths (the Tree the scan reads from)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.label = self.path.name
        self.location = str(self.path.resolve())
        self.entries: dict[str, _Entry] = {}

    def narrowed(self, prefix: str) -> WarcTree:
        return self

    def files(self) -> Iterator[tuple[str, str | None]]:
        for relative in self.entries:
            yield relative, None

    def size(self, relative: str) -> int | None:
        entry = self.entries.get(relative)
        return None if entry is None else entry.size

    def open(self, relative: str) -> BinaryIO:
        return io.BytesIO(self.read_bytes(relative))

    def read_bytes(self, relative: str) -> bytes:
        """The payload, decoded as HTTP says (chunks, Content-Encoding), read by seeking to its record."""
        from warcio.archiveiterator import ArchiveIterator

        entry = self.entries.get(relative)
        if entry is None:
            raise SourceError(f"{relative} not found in {self.label}")
        try:
            with self.path.open("rb") as handle:
                handle.seek(entry.offset)
                record = next(iter(ArchiveIterator(handle)))
                return _read_capped(record.content_stream(), MAX_PAYLOAD + 1)
        except Exception as exc:  # warcio raises many kinds on damage: each is this file's damage
            raise SourceError(f"{self.label} byte {entry.offset}: {_one_line(exc)}") from None

    def sha256(self, relative: str) -> str:
        entry = self.entries.get(relative)
        if entry is None:
            raise SourceError(f"{relative} not found in {self.label}")
        return entry.sha256

    def close(self) -> None:
        pass


class WarcSource:
    """The images and videos of one WARC file, with their web provenance."""

    kind = "warc"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise SourceError(f"{path} not found", hint="point at a .warc or .warc.gz file")
        self.tree = WarcTree(self.path)
        self._read = 0
        self._total = self.path.stat().st_size

    def fingerprint(self) -> str:
        """Every WARC feeds one source, so the same URL with the same content is one item across crawls."""
        return WEB_FINGERPRINT

    def describe(self) -> str:
        return "Web captures (WARC)"

    def position(self) -> tuple[int, int]:
        return self._read, self._total

    def iter_items(self) -> Iterator[Item]:
        index = _Index(self.path, self.tree)
        damage = index.run(self)
        seen: set[str] = set()
        for relative, entry in self.tree.entries.items():
            key = f"{entry.url} sha256:{entry.sha256}"
            if key in seen:  # the same content at the same URL, fetched twice into this file
                continue
            seen.add(key)
            yield _item(key, relative, entry, index)
        if damage:
            raise SourceError(damage, hint=_HINT if "gzip" in damage else None)


class _Index:
    """The first pass: payload entries into the tree, and the link graph."""

    def __init__(self, path: Path, tree: WarcTree) -> None:
        self.path, self.tree = path, tree
        self.outlinks: dict[str, str] = {}  # url -> the page whose outlinks name it (first one)
        self.referers: dict[str, str] = {}  # record id (request or its concurrent response) -> Referer
        self.referer_by_url: dict[str, str] = {}
        self.redirects: dict[str, str] = {}  # target url -> the url that redirected to it
        self.revisits = 0

    def run(self, source: WarcSource) -> str | None:
        """Index the file; the one-line damage message if reading stopped early."""
        from warcio.archiveiterator import ArchiveIterator

        with self.path.open("rb") as handle:
            iterator = ArchiveIterator(handle, check_digests=True)
            offset = 0
            try:
                for record in iterator:
                    offset = iterator.offset  # where this record starts (its gzip member, if compressed)
                    self._record(record, offset)
                    source._read = offset
                    if getattr(record.raw_stream, "limit", 0):
                        return f"{self.path.name}: cut short inside the record at byte {offset}; {_KEPT}"
            except Exception as exc:  # whatever warcio, gzip or the parser raise: damage at this offset
                offset = max(offset, getattr(iterator, "offset", 0) or 0)
                return f"{self.path.name}: damaged at byte {offset}: {_one_line(exc)}; {_KEPT}"
        return None

    def _record(self, record: Any, offset: int) -> None:
        headers = record.rec_headers
        kind = record.rec_type
        url = headers.get_header("WARC-Target-URI") or ""
        if kind == "request":
            referer = record.http_headers.get_header("Referer") if record.http_headers else None
            if referer:
                for key in (headers.get_header("WARC-Record-ID"), *_concurrent(headers)):
                    if key:
                        self.referers[key] = referer
                self.referer_by_url[url] = referer
        elif kind == "metadata":
            self._outlinks(record, url)
        elif kind == "revisit":
            self.revisits += 1
        elif kind in ("response", "resource"):
            self._payload(record, offset, kind, url)
        _drain(record)

    def _outlinks(self, record: Any, page: str) -> None:
        body = _read_capped(record.content_stream(), 8 << 20).decode("utf-8", errors="replace")
        for line in body.splitlines():
            name, _, value = line.partition(":")
            if name.strip().lower() == "outlink" and value.split():
                self.outlinks.setdefault(value.split()[0], page)

    def _payload(self, record: Any, offset: int, kind: str, url: str) -> None:
        status, mime = None, record.rec_headers.get_header("Content-Type")
        if kind == "response":
            if record.http_headers is None or record.http_headers.protocol.upper().startswith("WARC"):
                return  # dns:, whois: and other non-HTTP responses
            status = _status(record.http_headers.get_statuscode())
            mime = record.http_headers.get_header("Content-Type")
            location = record.http_headers.get_header("Location")
            if status is not None and 300 <= status < 400 and location:
                self.redirects.setdefault(urljoin(url, location.strip()), url)
            if status is None or not 200 <= status < 300:
                return
        mime = (mime or "").split(";")[0].strip().lower() or None
        problem = None
        try:
            stream = record.content_stream()
            head = stream.read(16)
            if not (mime or "").startswith(("image/", "video/")) and not _is_media(head):
                return
            digest, size = hashlib.sha256(head), len(head)
            while size <= MAX_PAYLOAD and (chunk := stream.read(1 << 20)):
                digest.update(chunk)
                size += len(chunk)
        except Exception as exc:  # the HTTP body cannot be decoded (a bad Content-Encoding): this record's
            _drain(record)  # problem, unless the file itself is damaged (then this raises, and reading stops)
            if not (mime or "").startswith(("image/", "video/")):
                return
            problem = f"the payload could not be decoded: {_one_line(exc)}"
            digest, size = hashlib.sha256(), 0
        _drain(record)
        checker = getattr(record, "digest_checker", None)
        passed = getattr(checker, "passed", None)
        headers = record.rec_headers
        relative = f"{offset}/{_name(url)}"
        self.tree.entries[relative] = _Entry(
            offset=offset,
            url=url,
            record_id=headers.get_header("WARC-Record-ID") or "",
            record_type=kind,
            date=_date(headers.get_header("WARC-Date")),
            status=status,
            mime=mime,
            size=size,
            sha256=digest.hexdigest(),
            truncated=headers.get_header("WARC-Truncated") or _short(record),
            digest=None if passed is None else ("ok" if passed else "failed"),
            concurrent=(headers.get_header("WARC-Record-ID") or "", *_concurrent(headers)),
            problem=problem,
        )

    def linked_from(self, entry: _Entry) -> tuple[str | None, list[str]]:
        """The page that showed this URL, and the URLs that redirected to it (nearest first): the page
        whose outlinks name the URL or one that redirected to it, else the Referer its request sent."""
        chain = [entry.url]
        while (previous := self.redirects.get(chain[-1])) is not None and previous not in chain:
            chain.append(previous)
            if len(chain) > 10:
                break
        for url in chain:
            if url in self.outlinks:
                return self.outlinks[url], chain[1:]
        page = next((self.referers[k] for k in entry.concurrent if k in self.referers), None)
        page = page or next((self.referer_by_url[u] for u in chain if u in self.referer_by_url), None)
        return page, chain[1:]


def _item(key: str, relative: str, entry: _Entry, index: _Index) -> Item:
    page, via = index.linked_from(entry)
    host = (urlsplit(entry.url).hostname or "").lower()
    kind = "video_file" if (entry.mime or "").startswith("video/") else "photo"
    extra: dict[str, object] = {
        "url": entry.url,
        "fetched_at": entry.date.isoformat() if entry.date else None,
        "http_status": entry.status,
        "warc_record_id": entry.record_id,
        "warc_file": index.path.name,
        "warc_offset": entry.offset,
        "linked_from": page,
        "content_type": entry.mime,
        "size": entry.size,
    }
    if via:
        extra["redirected_from"] = via
    if entry.digest is not None:
        extra["warc_digest"] = entry.digest
    note = entry.problem or _note(entry)
    return Item(
        external_id=key,
        kind="file",
        chat_id=f"web:{host}" if host else None,
        chat_title=host or None,
        chat_type="website",
        date=entry.date,
        media_path=None if note else relative,
        media_kind=kind,
        media_mime=entry.mime,
        media_note=note,
        extra=extra,
    )


def _note(entry: _Entry) -> str | None:
    """Why a payload is kept as an item but not scanned as a whole, trustworthy file."""
    if entry.truncated:
        return f"the capture was cut short (WARC-Truncated: {entry.truncated}): not a whole file"
    if entry.digest == "failed":
        return "the payload does not match the digest the WARC records: altered or damaged"
    return None


def _concurrent(headers: Any) -> list[str]:
    return [v for k, v in headers.headers if k.lower() == "warc-concurrent-to"]


def _drain(record: Any) -> None:
    while record.raw_stream.read(1 << 20):
        pass


def _short(record: Any) -> str | None:
    """A record whose body ends before its Content-Length: the file was cut here."""
    return (
        "length (the WARC file ends inside this record)" if getattr(record.raw_stream, "limit", 0) else None
    )


def _read_capped(stream: IO[bytes], cap: int) -> bytes:
    chunks, size = [], 0
    while size < cap and (chunk := stream.read(min(1 << 20, cap - size))):
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _is_media(head: bytes) -> bool:
    return head.startswith(_MAGIC) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP") or head[4:8] == b"ftyp"


def _status(code: object) -> int | None:
    try:
        return int(str(code))
    except ValueError:
        return None


def _date(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


def _name(url: str) -> str:
    last = urlsplit(url).path.rsplit("/", 1)[-1]
    return (_SAFE_NAME.sub("_", last).strip("._") or "payload")[:80]


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:199] + "…"
