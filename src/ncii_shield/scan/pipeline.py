"""A scan: source → items → media → signals, then matching → hits.

Items are read in chunks. Each chunk is one transaction: its items, their new media and signals
commit together or not at all, so a scan killed at any point and started again skips what was
committed, redoes the rest, and ends exactly where an uninterrupted scan would. Media are keyed by
SHA-256 and decoded once, in a pool of worker processes, whatever the number of messages that
carry them.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from ncii_shield.banks.service import match_banks
from ncii_shield.errors import NciiError, SourceError
from ncii_shield.media.decode import MAX_FILE_BYTES
from ncii_shield.media.thumbs import blur_thumbnail
from ncii_shield.scan.match import match_case
from ncii_shield.signals.analyse import Analysis, analyse_bytes
from ncii_shield.signals.faces import embedding_bytes
from ncii_shield.signals.sha256 import sha256_file
from ncii_shield.sources.base import Item as SourceItem
from ncii_shield.sources.base import Source as SourceReader
from ncii_shield.sources.base import position
from ncii_shield.sources.paths import resolve_inside
from ncii_shield.store import audit
from ncii_shield.store.crypto import source_scope
from ncii_shield.store.db import Store
from ncii_shield.store.models import Case, Item, Media, Scan, Signal, Source
from ncii_shield.text.rooms import index_links

CHUNK_ITEMS = int(os.environ.get("NCII_SCAN_CHUNK", "64"))  # items per transaction


@dataclass
class ScanResult:
    scan_id: int
    source_id: int
    status: str
    items_seen: int = 0
    items_new: int = 0
    media_new: int = 0
    items_skipped: int = 0
    skip_reasons: Counter[str] = field(default_factory=Counter)
    error: str | None = None
    new_hits: Counter[str] = field(default_factory=Counter)
    bank_hits: Counter[str] = field(default_factory=Counter)  # new hits by bank name
    room_links: int = 0  # links to rooms found in the new messages


class Progress:
    """What a scan reports while it works; the CLI draws it as Rich progress bars."""

    def items(self, n: int) -> None: ...

    def media(self, n: int) -> None: ...

    def stage(self, name: str) -> None: ...

    def position(self, done: int, total: int) -> None: ...


def _warm_worker() -> None:
    """Load the models once per worker rather than on its first file."""
    from ncii_shield.signals.faces import _models
    from ncii_shield.signals.nudity import _classifier

    _models()
    _classifier()


def source_fingerprint(reader: SourceReader) -> str:
    fingerprint = getattr(reader, "fingerprint", None)
    if callable(fingerprint):
        return str(fingerprint())
    return hashlib.sha256(str(reader.root.resolve()).encode()).hexdigest()


def register_source(session: Session, reader: SourceReader, location: Path) -> Source:
    """The source row for this reader: the same export is recognised again wherever it is moved."""
    fingerprint = source_fingerprint(reader)
    row = session.scalar(select(Source).where(Source.kind == reader.kind, Source.fingerprint == fingerprint))
    if row is None:
        row = Source(
            kind=reader.kind, location=str(location), name=reader.describe(), fingerprint=fingerprint
        )
        session.add(row)
        session.flush()
    return row


def _chunks(items: Iterator[SourceItem], size: int) -> Iterator[tuple[list[SourceItem], str | None]]:
    """Chunks of items; the last chunk carries the source error that stopped reading, if any."""
    chunk: list[SourceItem] = []
    while True:
        try:
            item = next(items)
        except StopIteration:
            break
        except SourceError as exc:
            yield chunk, str(exc)
            return
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk, None
            chunk = []
    yield chunk, None


def _locate_media(root: Path, item: SourceItem) -> tuple[Path | None, str | None]:
    """The media file of an item, or the one-line reason it has none to analyse."""
    if item.extra.get("error"):
        return None, str(item.extra["error"])
    if item.media_path is None:
        return None, item.media_note
    path = resolve_inside(root, item.media_os_path or item.media_path)
    if path is None:
        return None, f"unsafe media path refused: {item.media_path[:80]!r}"
    if not path.is_file():
        return None, f"media file missing from export: {item.media_path[:120]}"
    if path.stat().st_size > MAX_FILE_BYTES:
        return None, f"media file too large ({path.stat().st_size} bytes)"
    return path, None


@dataclass
class _Run:
    """What every chunk of one scan needs."""

    store: Store
    executor: Executor | None
    reader: SourceReader
    source_id: int
    scan_id: int
    hash_only: bool  # the scan is for a hash-only case: keep no media bytes, only a blurred thumbnail
    result: ScanResult
    progress: Progress

    @property
    def scope(self) -> str:
        return source_scope(self.source_id)


def _store_media(session: Session, run: _Run, analysis: Analysis, data: bytes) -> Media:
    media = Media(
        sha256=analysis.sha256,
        size=analysis.size,
        status="refused" if analysis.error else "ok",
        error=analysis.error,
        format=analysis.format,
        width=analysis.width,
        height=analysis.height,
    )
    if analysis.error is None:
        run.store.keyring.key(session, run.scope)
        blobs = run.store.blobs
        if not run.hash_only:
            media.blob_key = blobs.put(data, namespace="media", scope=run.scope)
        if analysis.thumbnail:
            thumb = blur_thumbnail(analysis.thumbnail) if run.hash_only else analysis.thumbnail
            media.thumb_key = blobs.put(thumb, namespace="thumbs", scope=run.scope)
            media.thumb_blurred = run.hash_only
        if (
            analysis.frames
        ):  # a video: one PDQ per sampled frame (score = its time in seconds), faces per frame
            for frame in analysis.frames:
                media.signals.append(
                    Signal(
                        kind="pdq",
                        frame=frame.index,
                        value=frame.pdq,
                        quality=frame.pdq_quality,
                        score=frame.timestamp,
                    )
                )
                for index, face in enumerate(frame.faces or []):
                    media.signals.append(
                        Signal(
                            kind="face",
                            frame=frame.index,
                            idx=index,
                            sealed=embedding_bytes(face.embedding),
                            score=face.score,
                            box=list(face.box),
                        )
                    )
        elif analysis.pdq is not None:
            media.signals.append(Signal(kind="pdq", value=analysis.pdq, quality=analysis.pdq_quality))
        for index, face in enumerate(analysis.faces):
            media.signals.append(
                Signal(
                    kind="face",
                    idx=index,
                    sealed=embedding_bytes(face.embedding),
                    score=face.score,
                    box=list(face.box),
                )
            )
        if analysis.nudity is not None:
            media.signals.append(Signal(kind="nudity", score=analysis.nudity))
        if analysis.features is not None:
            media.signals.append(Signal(kind="features", sealed=analysis.features))
        for index, window in enumerate(analysis.windows):
            media.signals.append(
                Signal(
                    kind="pdq_window",
                    idx=index,
                    value=window.pdq,
                    quality=window.quality,
                    box=list(window.box),
                )
            )
    session.add(media)
    session.flush()
    return media


def _item_row(source_id: int, scan_id: int, item: SourceItem, media_id: int | None, skip: str | None) -> Item:
    return Item(
        source_id=source_id,
        scan_id=scan_id,
        external_id=item.external_id,
        kind=item.kind,
        chat_id=item.chat_id,
        chat_title=item.chat_title,
        chat_type=item.chat_type,
        message_id=item.message_id,
        sender_id=item.sender_id,
        sender_name=item.sender_name,
        date=item.date,
        forwarded_from=item.forwarded_from,
        saved_from=item.saved_from,
        reply_to=item.reply_to,
        via_bot=item.via_bot,
        text=item.text,
        links=list(item.links),
        media_path=item.media_path,
        media_kind=item.media_kind,
        media_id=media_id,
        skip_reason=skip,
        extra={k: v for k, v in item.extra.items() if _json_safe(v)},
    )


def _json_safe(value: object) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def _ingest_chunk(session: Session, run: _Run, chunk: list[SourceItem]) -> None:
    source_id, result, executor = run.source_id, run.result, run.executor
    ids = [item.external_id for item in chunk]
    known = set(
        session.scalars(
            select(Item.external_id).where(Item.source_id == source_id, Item.external_id.in_(ids))
        )
    )
    fresh = [item for item in chunk if item.external_id not in known]
    located: list[tuple[SourceItem, Path | None, str | None]] = []
    for item in fresh:
        path, reason = _locate_media(run.reader.root, item)
        located.append((item, path, reason))

    # Hash first, so media seen before (in this chunk or any earlier scan) are not decoded again.
    digests: dict[Path, str] = {}
    for _, path, _ in located:
        if path is not None and path not in digests:
            digests[path] = sha256_file(path)[0]
    stored = {
        m.sha256: m for m in session.scalars(select(Media).where(Media.sha256.in_(set(digests.values()))))
    }
    # Read each new file once: the bytes that are analysed are the bytes that are stored, even if the
    # file changes on disk meanwhile (then it is refused rather than stored under the wrong hash).
    todo: dict[str, bytes] = {}
    changed: set[str] = set()
    for path, digest in digests.items():
        if digest not in stored and digest not in todo:
            data = path.read_bytes()
            if hashlib.sha256(data).hexdigest() == digest:
                todo[digest] = data
            else:
                changed.add(digest)
    analyses = executor.map(analyse_bytes, todo.values()) if executor else map(analyse_bytes, todo.values())
    for (digest, data), analysis in zip(todo.items(), analyses, strict=True):
        stored[digest] = _store_media(session, run, analysis, data)
        result.media_new += 1
        run.progress.media(1)

    for item, path, reason in located:
        if path is not None and digests[path] in changed:
            path, reason = None, "media file changed while it was being scanned; scan again"
        media = stored[digests[path]] if path is not None else None
        if media is not None and media.status != "ok":
            reason = media.error
        session.add(_item_row(source_id, run.scan_id, item, media.id if media else None, reason))
        if reason and (item.media_path or item.media_note or item.extra.get("error")):
            result.items_skipped += 1
            result.skip_reasons[reason.split(":")[0]] += 1
    result.items_new += len(fresh)
    result.items_seen += len(chunk)
    run.progress.items(len(chunk))


def run_scan(
    store: Store,
    reader: SourceReader,
    *,
    location: Path,
    case_id: int | None,
    workers: int | None = None,
    progress: Progress | None = None,
    executor_factory: Callable[[int], Executor] | None = None,
) -> ScanResult:
    """Ingest a source, then match the case (if given) against everything stored."""
    progress = progress or Progress()
    workers = workers if workers is not None else (os.cpu_count() or 1)
    with store.session() as session:
        case = session.get(Case, case_id) if case_id is not None else None
        if case_id is not None and (case is None or case.status != "open"):
            raise NciiError(
                f"case {case_id} is not open", hint="scan for an open case (`ncii-shield case list`)"
            )
        hash_only = bool(case and case.hash_only)
        source = register_source(session, reader, location)
        for stale in session.scalars(
            select(Scan).where(Scan.source_id == source.id, Scan.status == "running")
        ):
            stale.status = "interrupted"
        scan = Scan(source_id=source.id, case_id=case_id)
        session.add(scan)
        session.flush()
        audit.record(session, "scan.started", case_id=case_id, scan_id=scan.id, source_id=source.id)
        result = ScanResult(scan_id=scan.id, source_id=source.id, status="running")

    executor: Executor | None = None
    if workers > 1:
        factory = executor_factory or (lambda n: ProcessPoolExecutor(max_workers=n, initializer=_warm_worker))
        executor = factory(workers)
    run = _Run(store, executor, reader, source.id, scan.id, hash_only, result, progress)
    try:
        progress.stage("reading")
        for chunk, error in _chunks(iter(reader.iter_items()), CHUNK_ITEMS):
            with store.session() as session:
                _ingest_chunk(session, run, chunk)
                row = session.get(Scan, scan.id)
                assert row is not None
                row.items_seen, row.items_new = result.items_seen, result.items_new
                row.media_new, row.items_skipped = result.media_new, result.items_skipped
            if (where := position(reader)) is not None:
                progress.position(*where)
            if error:
                result.error = error
    finally:
        if executor is not None:
            executor.shutdown(cancel_futures=True)

    progress.stage("matching")
    with store.session() as session:
        if case_id is not None:
            result.new_hits = match_case(store, session, case_id)
        result.bank_hits = match_banks(session)
        result.room_links = index_links(store, session)
        row = session.get(Scan, scan.id)
        if row is None:
            raise NciiError(f"scan {scan.id} vanished from the database")
        result.status = row.status = "partial" if result.error else "done"
        row.error = result.error
        row.finished_at = datetime.now(UTC)
        audit.record(
            session,
            "scan.finished",
            case_id=case_id,
            scan_id=scan.id,
            status=result.status,
            items_new=result.items_new,
            media_new=result.media_new,
            new_hits=dict(result.new_hits),
        )
    progress.stage("done")
    return result
