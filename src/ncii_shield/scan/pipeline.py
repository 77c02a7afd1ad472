"""A scan: source → items → media → signals, then matching → hits.

Items are read in chunks. Each chunk is one transaction: its items, their new media and signals
commit together or not at all, so a scan killed at any point and started again skips what was
committed, redoes the rest, and ends exactly where an uninterrupted scan would. Media are keyed by
SHA-256 and decoded once, in a pool of worker processes, whatever the number of messages that
carry them.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Collection, Iterable
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import closing, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from ncii_shield.banks.service import match_banks
from ncii_shield.errors import NciiError, SourceError
from ncii_shield.scan import cluster_prefetch
from ncii_shield.scan.cluster_prefetch import Ahead, ChunkFiles, prefetched
from ncii_shield.scan.exports import (
    CHATS_SCOPE,
    ChatSeen,
    Earlier,
    chat_key,
    chat_tag,
    earlier_versions,
    record_chats,
)
from ncii_shield.scan.match import match_case
from ncii_shield.scan.media_store import BlobKeys, RemoteMedia, store_media
from ncii_shield.scan.reading import json_safe, locate_media, read_chunks, register_source
from ncii_shield.scan.results import Progress, ScanResult, Tally
from ncii_shield.signals.analyse import Analysis, analyse_bytes
from ncii_shield.sources.base import Item as SourceItem
from ncii_shield.sources.base import Source as SourceReader
from ncii_shield.store import audit
from ncii_shield.store.crypto import source_scope
from ncii_shield.store.db import Store
from ncii_shield.store.models import Case, Item, Media, Scan, Source
from ncii_shield.text.room_links import index_links


def _warm_worker() -> None:
    """Load the models once per worker rather than on its first file."""
    from ncii_shield.signals.analyse import prepare_worker

    prepare_worker()


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
    tag_secret: bytes = b""
    chats: dict[str, ChatSeen] = field(default_factory=dict)
    remote: RemoteMedia | None = None
    _tags: dict[str | None, str | None] = field(default_factory=dict)

    def chat_keys(self, item: SourceItem) -> tuple[str | None, str | None]:
        """(chat id to store, keyed title hash); the hash is computed once per title, not per message."""
        if item.chat_title not in self._tags:
            self._tags[item.chat_title] = chat_tag(self.tag_secret, item.chat_title)
        tag = self._tags[item.chat_title]
        return chat_key(item, tag), tag


def _item_row(
    run: _Run, item: SourceItem, keys: tuple[str | None, str | None], media_id: int | None, skip: str | None
) -> Item:
    chat_id, tag = keys
    return Item(
        source_id=run.source_id,
        scan_id=run.scan_id,
        external_id=item.external_id,
        kind=item.kind,
        chat_id=chat_id,
        chat_tag=tag,
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
        extra={k: v for k, v in item.extra.items() if json_safe(v)},
    )


@dataclass
class _Prepared:
    """A chunk before its media work: what is new in it, and its files hashed and the new ones read."""

    keys: dict[str, tuple[str | None, str | None]]
    earlier: dict[str, Earlier]
    located: list[tuple[SourceItem, str | None, str | None]]
    repeated: set[str]
    stored: dict[str, Media]
    files: ChunkFiles


def _prepare(
    session: Session,
    run: _Run,
    chunk: list[SourceItem],
    ahead: ChunkFiles | None = None,
    pending: Collection[str] = (),
) -> _Prepared:
    """Everything of a chunk up to its media work. `ahead`: its files as hashed and read when the chunk was
    prepared ahead (nothing is read twice); `pending`: media that chunks before it, not yet committed, are
    analysing (not read or analysed again for this one)."""
    source_id, tree = run.source_id, run.reader.tree
    ahead = ahead or ChunkFiles()
    keys = {item.external_id: run.chat_keys(item) for item in chunk}
    known = set(
        session.scalars(
            select(Item.external_id).where(Item.source_id == source_id, Item.external_id.in_(keys))
        )
    )
    fresh = [item for item in chunk if item.external_id not in known]
    earlier = earlier_versions(session, source_id, ((i, *keys[i.external_id]) for i in fresh))
    located = [(item, *locate_media(tree, item)) for item in fresh]

    # Hash first, so media seen before (in this chunk or any earlier scan) are not decoded again.
    digests: dict[str, str] = {}
    unreadable: dict[str, str] = {}  # path -> why: a damaged zip member, an I/O error
    for _, path, _ in located:
        if path is not None and path not in digests and path not in unreadable:
            if _copy(path, ahead.digests, digests) or _copy(path, ahead.unreadable, unreadable):
                continue
            try:
                digests[path] = tree.sha256(path)
            except (OSError, SourceError) as exc:
                unreadable[path] = f"media file could not be read: {exc}"[:300]
    # A message seen in an earlier export with the same media: nothing of it is stored again.
    repeated = {
        item.external_id
        for item, path, _ in located
        if (previous := earlier.get(item.external_id)) is not None
        and previous.media_sha256 == (digests.get(path) if path is not None else None)
    }
    stored = {
        m.sha256: m for m in session.scalars(select(Media).where(Media.sha256.in_(set(digests.values()))))
    }
    # Read each new file once: the bytes that are analysed are the bytes that are stored, even if the
    # file changes on disk meanwhile (then it is refused rather than stored under the wrong hash).
    todo: dict[str, bytes] = {}
    changed: set[str] = set()
    for item, path, _ in located:
        if path is None or item.external_id in repeated:
            continue
        digest = digests.get(path)
        if digest is None or digest in stored or digest in todo or digest in pending:
            continue
        if _copy(digest, ahead.todo, todo) or _copy(path, ahead.unreadable, unreadable):
            continue
        if digest in ahead.changed:
            changed.add(digest)
            continue
        try:
            data = tree.read_bytes(path)
        except (OSError, SourceError) as exc:
            unreadable[path] = f"media file could not be read: {exc}"[:300]
            continue
        if hashlib.sha256(data).hexdigest() == digest:
            todo[digest] = data
        else:
            changed.add(digest)
    files = ChunkFiles(digests, unreadable, todo, changed)
    return _Prepared(keys, earlier, located, repeated, stored, files)


def _copy(key: str, source: dict[str, Any], to: dict[str, Any]) -> bool:
    if key in source:
        to[key] = source[key]
        return True
    return False


def _start_ahead(run: _Run, chunk: list[SourceItem], in_flight: list[Ahead]) -> Ahead:
    """A chunk prepared and its media work started on the cluster while the chunks before it (`in_flight`)
    are still analysed or written; in a read-only session. Writing it (_ingest_chunk) checks everything
    again in its own transaction: what changed meanwhile is redone there, so the rows are the same."""
    assert run.remote is not None
    pending = {digest for before in in_flight for digest in before.files.todo}
    try:
        with run.store.session() as session:
            files = _prepare(session, run, chunk, pending=pending).files
    except (SQLAlchemyError, ValueError, OSError, SourceError):
        return Ahead(ChunkFiles(), None)  # prepared when it is written, where a crafted item is dealt with
    if not files.todo:
        return Ahead(files, None)
    started = run.remote.analyse(
        list(files.todo.values()),
        settings=run.store.settings,
        source_id=run.source_id,
        hash_only=run.hash_only,
    )
    return Ahead(files, started)


def _ingest_chunk(session: Session, run: _Run, chunk: list[SourceItem], ahead: Ahead | None = None) -> Tally:
    source_id, executor = run.source_id, run.executor
    tally = Tally(items_seen=len(chunk))
    prepared = _prepare(session, run, chunk, ahead.files if ahead is not None else None)
    keys, earlier, located, repeated = prepared.keys, prepared.earlier, prepared.located, prepared.repeated
    stored, files = prepared.stored, prepared.files
    digests, unreadable, todo, changed = files.digests, files.unreadable, files.todo, files.changed
    # A hash-only case keeps only a blurred thumbnail, so its nudity score (for ordering review) is taken
    # now; otherwise match_case scores the few media with a hit, from the stored thumbnail (scan/ranking.py).
    face_detail = run.store.settings.face_detail
    done: Iterable[tuple[Analysis, BlobKeys | None]] | None
    if run.remote is not None and todo:
        done = ahead.take(todo) if ahead is not None else None  # started ahead for exactly these files?
        if done is None:
            done = run.remote.analyse(
                list(todo.values()), settings=run.store.settings, source_id=source_id, hash_only=run.hash_only
            )
    else:
        work = partial(analyse_bytes, with_nudity=run.hash_only, face_detail=face_detail)
        analyses = executor.map(work, todo.values()) if executor else map(work, todo.values())
        done = ((analysis, None) for analysis in analyses)
    with closing(done) if hasattr(done, "close") else nullcontext():  # an error releases the tasks left
        for (digest, data), (analysis, written) in zip(todo.items(), done, strict=True):
            stored[digest] = store_media(
                session, run.store, source_id, run.hash_only, analysis, data, written
            )
            tally.media_new += 1
            run.progress.media(1)

    for item, path, reason in located:
        if item.external_id in repeated:
            tally.items_repeated += 1
            continue
        if path is not None and path in unreadable:
            path, reason = None, unreadable[path]
        digest = digests.get(path) if path is not None else None
        if digest is not None and digest in changed:
            path, reason = None, "media file changed while it was being scanned; scan again"
        media = stored[digest] if path is not None and digest is not None else None
        if media is not None and media.status != "ok":
            reason = media.error
        row = _item_row(run, item, keys[item.external_id], media.id if media else None, reason)
        previous = earlier.get(item.external_id)
        row.previous_id = previous.item_id if previous is not None else None
        session.add(row)
        tally.items_new += 1
        if reason and (item.media_path or item.media_note or item.extra.get("error")):
            tally.items_skipped += 1
            tally.skip_reasons[reason.split(":")[0]] += 1
    return tally


def _count_chats(run: _Run, chunk: list[SourceItem]) -> None:
    """Every message read, per chat, new or not: the export's own view of each chat."""
    for item in chunk:
        if item.message_id is not None:
            chat, tag = run.chat_keys(item)
            if chat is not None:
                run.chats.setdefault(chat, ChatSeen(item.chat_title, tag)).add(item)


def _ingest(run: _Run, chunk: list[SourceItem], ahead: Ahead | None = None) -> Tally:
    """One chunk in one transaction; if it cannot be stored, each item in its own, and an item that
    still fails is kept as skipped with the reason: whatever a crafted export holds, the rest is read."""
    try:
        with run.store.session() as session:
            return _ingest_chunk(session, run, chunk, ahead)
    except (SQLAlchemyError, ValueError, OSError, SourceError):
        pass
    tally = Tally()
    for item in chunk:
        try:
            with run.store.session() as session:
                part = _ingest_chunk(session, run, [item], ahead)
        except (SQLAlchemyError, ValueError, OSError, SourceError) as exc:
            reason = f"could not be stored ({type(exc).__name__}); the rest of the export was read"
            placeholder = SourceItem(
                external_id=item.external_id[:300], kind="invalid", extra={"error": reason}
            )
            with run.store.session() as session:
                part = _ingest_chunk(session, run, [placeholder])
        part.add_to(tally)
    return tally


def run_scan(
    store: Store,
    reader: SourceReader,
    *,
    location: Path,
    case_id: int | None,
    workers: int | None = None,
    progress: Progress | None = None,
    executor_factory: Callable[[int], Executor] | None = None,
    remote: RemoteMedia | None = None,
) -> ScanResult:
    """Ingest a source, then match the case (if given) against everything stored; with `remote`, the
    media work runs there (a cluster) instead of in a local pool."""
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
    if remote is not None:  # workers seal blobs under the source's key: it must be committed first
        with store.session() as session:
            store.keyring.key(session, source_scope(source.id))
    elif workers > 1:
        factory = executor_factory or (lambda n: ProcessPoolExecutor(max_workers=n, initializer=_warm_worker))
        executor = factory(workers)
    run = _Run(store, executor, reader, source.id, scan.id, hash_only, result, progress, remote=remote)
    with store.session() as session:
        run.tag_secret = store.keyring.key(session, CHATS_SCOPE)
    # On a cluster, the next chunk's media work starts before this one is written (scan/cluster_prefetch.py).
    start = (lambda read, in_flight: _start_ahead(run, read[0], in_flight)) if remote is not None else None
    try:
        progress.stage("reading")
        chunks = prefetched(
            read_chunks(reader, store.settings.scan_chunk), start, cluster_prefetch.CHUNKS_IN_FLIGHT
        )
        with closing(chunks):
            for (chunk, error, where), ahead in chunks:
                _count_chats(run, chunk)
                _ingest(run, chunk, ahead).add_to(result)
                run.progress.items(len(chunk))
                with store.session() as session:
                    row = session.get(Scan, scan.id)
                    assert row is not None
                    row.items_seen, row.items_new = result.items_seen, result.items_new
                    row.media_new, row.items_skipped = result.media_new, result.items_skipped
                if where is not None:
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
        source_row = session.get(Source, source.id)
        assert source_row is not None
        if getattr(reader, "dates_assumed", 0):
            zone = getattr(reader, "assumed_timezone", None)
            source_row.assumed_timezone = str(zone) if zone is not None else "unknown"
            result.dates_assumed = reader.dates_assumed  # type: ignore[attr-defined]
        result.chats = record_chats(session, source_row, run.chats)
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
