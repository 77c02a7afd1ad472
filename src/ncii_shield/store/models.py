"""The schema, shaped like the flow: case → reference; source → item → media → signal; hit; audit.

Items and media are stored once, whatever case they match; a hit links an item to a case with the
evidence of why. Nothing here is ever updated to change evidence: decisions and actions are appended
as audit events.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from ncii_shield.store.sealing import active_data_key, seal, unseal


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Store UTC, always hand back timezone-aware datetimes (SQLite forgets the zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use timezone-aware UTC")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Sealed(TypeDecorator[object]):
    """A column encrypted with the deployment's data key; `purpose` binds each value to its column.

    Values are sealed with a fresh nonce each time, so sealed columns can be read, written and tested
    for NULL, but not compared, sorted or grouped on in SQL.
    """

    impl = LargeBinary
    cache_ok = True

    def __init__(self, purpose: str) -> None:
        super().__init__()
        self.purpose = purpose

    def encode(self, value: object) -> bytes:
        raise NotImplementedError

    def decode(self, data: bytes) -> object:
        raise NotImplementedError

    def process_bind_param(self, value: object, dialect: object) -> bytes | None:
        if value is None:
            return None
        return seal(active_data_key(), self.encode(value), self.purpose.encode())

    def process_result_value(self, value: bytes | None, dialect: object) -> object:
        if value is None:
            return None
        return self.decode(unseal(active_data_key(), value, self.purpose.encode()))


class SealedText(Sealed):
    cache_ok = True

    def encode(self, value: object) -> bytes:
        return str(value).encode("utf-8")

    def decode(self, data: bytes) -> str:
        return data.decode("utf-8")


class SealedJSON(Sealed):
    cache_ok = True

    def encode(self, value: object) -> bytes:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    def decode(self, data: bytes) -> object:
        return json.loads(data)


class SealedBytes(Sealed):
    cache_ok = True

    def encode(self, value: object) -> bytes:
        return bytes(value)  # type: ignore[call-overload]

    def decode(self, data: bytes) -> bytes:
        return data


class Base(DeclarativeBase):
    pass


class DataKey(Base):
    """A data key, wrapped by the deployment key. Deleting the row crypto-shreds its scope."""

    __tablename__ = "keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(100), unique=True)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    params: Mapped[dict[str, object] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Case(Base):
    """One person under protection, with the record of their consent."""

    __tablename__ = "cases"
    # ids are never reused: key scopes are named after them
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(String(20), default="open")  # open | closed | purged
    minor: Mapped[bool] = mapped_column(Boolean, default=False)
    hash_only: Mapped[bool] = mapped_column(Boolean, default=False)  # keep no media of this case's hits
    # Emptied when the case is purged; the row stays as a tombstone so the audit log still resolves.
    pseudonym: Mapped[str | None] = mapped_column(SealedText("cases.pseudonym"), nullable=True)
    consent_by: Mapped[str | None] = mapped_column(SealedText("cases.consent_by"), nullable=True)
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    consent_method: Mapped[str | None] = mapped_column(SealedText("cases.consent_method"), nullable=True)
    consent_note: Mapped[str | None] = mapped_column(SealedText("cases.consent_note"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    references: Mapped[list[Reference]] = relationship(back_populates="case", cascade="all, delete-orphan")


class Reference(Base):
    """Something the person enrolled with consent: a hash or embedding of one of their photos.

    One enrolled photo gives several rows: its SHA-256, 8 dihedral PDQ hashes, one embedding per face.
    `photo_sha256` groups the rows of one photo; the photo itself is kept only with --keep-originals.
    """

    __tablename__ = "references"
    __table_args__ = (
        UniqueConstraint("case_id", "photo_sha256", "kind", "variant", name="uq_reference"),
        Index("ix_reference_case_kind", "case_id", "kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))  # sha256 | pdq | face
    variant: Mapped[int] = mapped_column(Integer, default=0)  # dihedral index for pdq, face index for face
    photo_sha256: Mapped[str] = mapped_column(String(64))
    photo_label: Mapped[str] = mapped_column(SealedText("references.photo_label"))
    # 32-byte digest or PDQ in clear (they are matched in bulk); face embeddings sealed with the case key.
    value: Mapped[bytes] = mapped_column(LargeBinary)
    quality: Mapped[int | None] = mapped_column(Integer, nullable=True)
    blob_key: Mapped[str | None] = mapped_column(String(200), nullable=True)  # kept original, if any
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    case: Mapped[Case] = relationship(back_populates="references")


class Source(Base):
    """Where content was collected: a Telegram export, a folder. Recognised again by fingerprint."""

    __tablename__ = "sources"
    __table_args__ = (
        UniqueConstraint("kind", "fingerprint", name="uq_source"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    location: Mapped[str] = mapped_column(SealedText("sources.location"))
    name: Mapped[str] = mapped_column(SealedText("sources.name"))
    fingerprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Old exports write local times with no zone: the zone the scan assumed for them, if any were read.
    assumed_timezone: Mapped[str | None] = mapped_column(String(64), nullable=True)
    exported_on: Mapped[str | None] = mapped_column(String(10), nullable=True)  # from ChatExport_YYYY-MM-DD


class Scan(Base):
    """One run of a scan over a source: what happened, so a broken run can be seen and resumed."""

    __tablename__ = "scans"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"), nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="running")  # running | done | partial
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    items_seen: Mapped[int] = mapped_column(Integer, default=0)
    items_new: Mapped[int] = mapped_column(Integer, default=0)
    media_new: Mapped[int] = mapped_column(Integer, default=0)
    items_skipped: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(SealedText("scans.error"), nullable=True)


class SourceChat(Base):
    """One chat as one export shows it: how many messages, how many not seen in any earlier export."""

    __tablename__ = "source_chats"
    __table_args__ = (
        UniqueConstraint("source_id", "chat_id", name="uq_source_chat"),
        Index("ix_source_chat_chat", "chat_id"),
        Index("ix_source_chat_tag", "chat_tag"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    chat_id: Mapped[str] = mapped_column(String(100))
    chat_tag: Mapped[str | None] = mapped_column(String(32), nullable=True)
    chat_title: Mapped[str | None] = mapped_column(SealedText("source_chats.chat_title"), nullable=True)
    messages: Mapped[int] = mapped_column(Integer, default=0)  # read in the export
    new: Mapped[int] = mapped_column(Integer, default=0)  # not in any earlier export
    changed: Mapped[int] = mapped_column(Integer, default=0)  # in an earlier one, with other media
    first_date: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_date: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Media(Base):
    """One distinct file by content. Signals hang off it, so each file is decoded once."""

    __tablename__ = "media"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    size: Mapped[int] = mapped_column(Integer)
    format: Mapped[str | None] = mapped_column(String(20), nullable=True)
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[str] = mapped_column(String(20))  # ok | refused
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    blob_key: Mapped[str | None] = mapped_column(String(200), nullable=True)  # None: hash-only, never kept
    thumb_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    thumb_blurred: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    signals: Mapped[list[Signal]] = relationship(back_populates="media", cascade="all, delete-orphan")


class Item(Base):
    """One message/post/file with its provenance. Unique per source, so rescans add nothing twice."""

    __tablename__ = "items"
    __table_args__ = (
        UniqueConstraint("source_id", "external_id", name="uq_item"),
        Index("ix_item_media", "media_id"),
        Index("ix_item_message", "message_id"),
        Index("ix_item_chat_message", "chat_id", "message_id"),  # re-exports: the same message, by chat
        Index("ix_item_tag_message", "chat_tag", "message_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    external_id: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(20))
    chat_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    chat_title: Mapped[str | None] = mapped_column(SealedText("items.chat_title"), nullable=True)
    chat_type: Mapped[str | None] = mapped_column(String(40), nullable=True)
    # A keyed hash of the chat title: recognises the chat across exports, HTML ones having no chat id.
    chat_tag: Mapped[str | None] = mapped_column(String(32), nullable=True)
    message_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    sender_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    sender_name: Mapped[str | None] = mapped_column(SealedText("items.sender_name"), nullable=True)
    date: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    forwarded_from: Mapped[str | None] = mapped_column(SealedText("items.forwarded_from"), nullable=True)
    saved_from: Mapped[str | None] = mapped_column(SealedText("items.saved_from"), nullable=True)
    reply_to: Mapped[int | None] = mapped_column(Integer, nullable=True)
    via_bot: Mapped[str | None] = mapped_column(SealedText("items.via_bot"), nullable=True)
    text: Mapped[str] = mapped_column(SealedText("items.text"), default="")
    links: Mapped[list[str]] = mapped_column(SealedJSON("items.links"), default=list)
    media_path: Mapped[str | None] = mapped_column(SealedText("items.media_path"), nullable=True)
    media_kind: Mapped[str | None] = mapped_column(String(40), nullable=True)
    media_id: Mapped[int | None] = mapped_column(ForeignKey("media.id"), nullable=True)
    skip_reason: Mapped[str | None] = mapped_column(SealedText("items.skip_reason"), nullable=True)
    extra: Mapped[dict[str, object]] = mapped_column(SealedJSON("items.extra"), default=dict)
    scan_id: Mapped[int | None] = mapped_column(ForeignKey("scans.id"), nullable=True)
    # The same message in an earlier export, when this export shows it with other media.
    previous_id: Mapped[int | None] = mapped_column(ForeignKey("items.id"), nullable=True)

    source: Mapped[Source] = relationship()
    media: Mapped[Media | None] = relationship()


class Signal(Base):
    """A value computed once from a media file (per frame): pdq hash, face embedding, nudity score."""

    __tablename__ = "signals"
    __table_args__ = (
        UniqueConstraint("media_id", "kind", "frame", "idx", name="uq_signal"),
        Index("ix_signal_kind", "kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))  # pdq | face | nudity
    frame: Mapped[int] = mapped_column(Integer, default=0)
    idx: Mapped[int] = mapped_column(Integer, default=0)  # face number within the frame
    value: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)  # PDQ hash, in clear
    sealed: Mapped[bytes | None] = mapped_column(
        SealedBytes("signals.sealed"), nullable=True
    )  # face embedding
    quality: Mapped[int | None] = mapped_column(Integer, nullable=True)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    box: Mapped[list[int] | None] = mapped_column(JSON, nullable=True)  # left, top, right, bottom

    media: Mapped[Media] = relationship(back_populates="signals")


class Hit(Base):
    """An item matched a case, and why: kind, distance, which reference."""

    __tablename__ = "hits"
    __table_args__ = (
        UniqueConstraint("case_id", "item_id", "kind", name="uq_hit"),
        Index("ix_hit_case", "case_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    media_id: Mapped[int | None] = mapped_column(ForeignKey("media.id"), nullable=True)
    kind: Mapped[str] = mapped_column(String(20))  # exact | pdq | partial | face
    distance: Mapped[float | None] = mapped_column(Float, nullable=True)
    # How a partial copy was found: route (window or features), region of the copy, inliers, coverage.
    details: Mapped[dict[str, object] | None] = mapped_column(JSON, nullable=True)
    reference_id: Mapped[int | None] = mapped_column(
        ForeignKey("references.id", ondelete="SET NULL"), nullable=True
    )
    signal_id: Mapped[int | None] = mapped_column(ForeignKey("signals.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    item: Mapped[Item] = relationship()
    reference: Mapped[Reference | None] = relationship()


class AuditEvent(Base):
    """Append-only log of what was done, by whom, when: a hash chain (see store/chain.py)."""

    __tablename__ = "audit_events"
    __table_args__ = (UniqueConstraint("seq", name="uq_audit_seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(60))
    case_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    details: Mapped[dict[str, object]] = mapped_column(SealedJSON("audit_events.details"), default=dict)
    # The chain. NULL only on entries written before the chain existed.
    seq: Mapped[int | None] = mapped_column(Integer, nullable=True)
    details_digest: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    prev_hash: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    entry_hash: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


class AuditCheckpoint(Base):
    """The head of the audit chain at some entry, signed with the deployment's Ed25519 key."""

    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    head: Mapped[bytes] = mapped_column(LargeBinary)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    signature: Mapped[bytes] = mapped_column(LargeBinary)


class Decision(Base):
    """A reviewer confirmed or rejected a case's hit on an item. Appended, never edited: the latest counts."""

    __tablename__ = "decisions"
    __table_args__ = (Index("ix_decision_case_item", "case_id", "item_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    decision: Mapped[str] = mapped_column(String(20))  # confirmed | rejected
    reason: Mapped[str] = mapped_column(SealedText("decisions.reason"))
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Bank(Base):
    """A named list of hashes from elsewhere (StopNCII, a partner, a platform), matched on every scan."""

    __tablename__ = "banks"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str | None] = mapped_column(SealedText("banks.description"), nullable=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The bank change counter (BankCounter) at this bank's last change, and at its last removal or its
    # creation: values never reused, so a bank index knows which banks it still holds exactly.
    version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    removed_at: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # HMA's matching_enabled_ratio when it is neither 1 nor 0 (only with NCII_HMA_EXACT): /m/lookup
    # matches the bank on a coin flip below it. NULL: the ratio is 1 or 0, as `enabled` says.
    matching_ratio: Mapped[float | None] = mapped_column(Float, nullable=True)


class BankCounter(Base):
    """One row: a counter moved in the same transaction as every change to a bank or its hashes.

    Every process holding a bank index (the web server, a CLI import) compares it with the value its
    index reflects: one indexed read says whether anything changed (banks/changes.py).
    """

    __tablename__ = "bank_counter"

    id: Mapped[int] = mapped_column(primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class BankSignal(Base):
    """One hash in a bank: `pdq` (32 bytes) or `sha256`/`md5` of a file."""

    __tablename__ = "bank_signals"
    __table_args__ = (
        UniqueConstraint("bank_id", "signal_type", "value", name="uq_bank_signal"),
        Index("ix_bank_signal_type", "bank_id", "signal_type"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id", ondelete="CASCADE"))
    signal_type: Mapped[str] = mapped_column(String(20))
    value: Mapped[bytes] = mapped_column(LargeBinary)
    label: Mapped[str | None] = mapped_column(SealedText("bank_signals.label"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # What HMA keeps per banked content (web/hma_content.py): a moderator's note and the platform's own
    # metadata (its content id and URI, free JSON) can name or point at a person, so both are sealed; the
    # time matching is paused until is HMA's disable_until_ts (1 enabled, 0 disabled, else a unix time).
    note: Mapped[str | None] = mapped_column(SealedText("bank_signals.note"), nullable=True)
    hma_metadata: Mapped[dict[str, object] | None] = mapped_column(
        SealedJSON("bank_signals.hma_metadata"), nullable=True
    )
    disable_until_ts: Mapped[int] = mapped_column(BigInteger, default=1, server_default="1")


class BankHit(Base):
    """An item whose media matched a bank: which bank, which hash, how close."""

    __tablename__ = "bank_hits"
    __table_args__ = (UniqueConstraint("bank_id", "item_id", "kind", name="uq_bank_hit"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"))
    bank_signal_id: Mapped[int] = mapped_column(ForeignKey("bank_signals.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))  # exact | pdq
    distance: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class FeatureCheck(Base):
    """A (case, media) pair already verified by local features, found or not: rescans skip it.

    Local-feature verification costs milliseconds per pair, so it is done once; enrolling new photos
    clears the case's checks.
    """

    __tablename__ = "feature_checks"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"), primary_key=True)


class WatchTerm(Base):
    """One identifier of the person (name, school, birth year, handle, phone) as a keyed hash only."""

    __tablename__ = "watch_terms"
    __table_args__ = (UniqueConstraint("case_id", "field", "digest", name="uq_watch_term"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    field: Mapped[str] = mapped_column(String(20))
    digest: Mapped[bytes] = mapped_column(LargeBinary)  # HMAC-SHA256 (16 bytes) under the watchlist key
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Progress(Base):
    """How far an incremental job has got, by item id: room-link indexing, each case's text matching.

    Lets a rescan or a new watch term look only at what is new instead of every message again.
    """

    __tablename__ = "progress"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)  # "room_links" | "text:<case id>"
    upto_item_id: Mapped[int] = mapped_column(Integer, default=0)


class RoomLink(Base):
    """A message pointing at a room: an invite link, a public channel link or an @channel mention.

    The target is kept sealed; ``target_key`` (a keyed hash of the normalised target) lets the links
    be grouped and joined to aliases without reading them.
    """

    __tablename__ = "room_links"
    __table_args__ = (
        UniqueConstraint("item_id", "target_key", name="uq_room_link"),
        Index("ix_room_link_target", "target_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    chat_id: Mapped[str | None] = mapped_column(String(100), nullable=True)  # the chat the message is in
    kind: Mapped[str] = mapped_column(String(20))  # invite_link | channel | mention
    target_key: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(SealedText("room_links.target"))


class RoomAlias(Base):
    """A link known to lead to a collected chat (the monitor joined it through that link)."""

    __tablename__ = "room_aliases"
    __table_args__ = (UniqueConstraint("chat_id", "target_key", name="uq_room_alias"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(100))
    target_key: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(SealedText("room_aliases.target"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Notice(Base):
    """A takedown notice to one platform for a case's confirmed hits: drafted, then sent, then tracked."""

    __tablename__ = "notices"
    __table_args__ = (Index("ix_notice_status", "status"),)  # the worker looks for queued and sent ones

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    platform_id: Mapped[str] = mapped_column(String(40))
    # What it is about: intimate_image | personal_information (takedown/registry.py Matter): its laws and clock.
    matter: Mapped[str] = mapped_column(String(30), default="intimate_image", server_default="intimate_image")
    language: Mapped[str] = mapped_column(String(5))
    channel: Mapped[str] = mapped_column(String(20))  # email | web_form
    to: Mapped[str] = mapped_column(SealedText("notices.to"))
    subject: Mapped[str] = mapped_column(SealedText("notices.subject"))
    body: Mapped[str] = mapped_column(SealedText("notices.body"))
    status: Mapped[str] = mapped_column(
        String(20), default="drafted"
    )  # drafted | queued (for the worker to send) | sent | acknowledged | closed
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    message_id: Mapped[str | None] = mapped_column(String(300), nullable=True)  # SMTP Message-ID
    # The takedown worker's (takedown/worker.py): its lease, the send in flight, the clocks (DB time).
    lease_owner: Mapped[str | None] = mapped_column(String(100), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    sending_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    outbox_id: Mapped[str | None] = mapped_column(String(300), nullable=True)  # Message-ID being sent
    send_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    resend_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    resends: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    check_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    escalate_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    items: Mapped[list[NoticeItem]] = relationship(back_populates="notice", cascade="all, delete-orphan")


class NoticeItem(Base):
    """One reported message or URL of a notice, with where it stands: sent, removed, reappeared…"""

    __tablename__ = "notice_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    url: Mapped[str | None] = mapped_column(SealedText("notice_items.url"), nullable=True)
    family: Mapped[str | None] = mapped_column(String(64), nullable=True)  # what a re-upload would match
    status: Mapped[str] = mapped_column(
        String(20), default="drafted"
    )  # drafted|sent|acknowledged|removed|still_up|reappeared
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    notice: Mapped[Notice] = relationship(back_populates="items")


class TakedownEvent(Base):
    """Append-only history of a notice or one of its items: status changes with their evidence."""

    __tablename__ = "takedown_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"))
    notice_item_id: Mapped[int | None] = mapped_column(
        ForeignKey("notice_items.id", ondelete="CASCADE"), nullable=True
    )
    status: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))
    evidence: Mapped[dict[str, object]] = mapped_column(SealedJSON("takedown_events.evidence"), default=dict)


class Alert(Base):
    """Something a case worker must see: a removed image came back (a new hit in the same family)."""

    __tablename__ = "alerts"
    __table_args__ = (UniqueConstraint("case_id", "item_id", "kind", name="uq_alert"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    kind: Mapped[str] = mapped_column(String(20))  # reappeared
    notice_item_id: Mapped[int | None] = mapped_column(
        ForeignKey("notice_items.id", ondelete="SET NULL"), nullable=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    seen: Mapped[bool] = mapped_column(Boolean, default=False)
    # What a case worker does with it (takedown/reupload.py, migration 0014_reupload): the notice drafted
    # for the new location, and new | drafted | manual (not draftable automatically) | queued | dismissed.
    status: Mapped[str] = mapped_column(String(20), default="new", server_default="new")
    notice_id: Mapped[int | None] = mapped_column(
        ForeignKey("notices.id", ondelete="SET NULL", name="fk_alerts_notice_id"), nullable=True
    )
    reason: Mapped[str | None] = mapped_column(SealedText("alerts.reason"), nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class InboxMessage(Base):
    """One inbound e-mail read by `takedown inbox` (takedown/inbox.py): remembered so it is processed once,
    matched to its notice by reference (or kept as unmatched for a human), with what it was taken to say."""

    __tablename__ = "inbox_messages"
    __table_args__ = (Index("ix_inbox_message_id", "message_id"), Index("ix_inbox_status", "status"))

    id: Mapped[int] = mapped_column(primary_key=True)
    source_key: Mapped[str] = mapped_column(String(400), unique=True)  # imap:host/user/folder/validity/uid
    message_id: Mapped[str | None] = mapped_column(String(300), nullable=True)  # the reply's own Message-ID
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)  # when it was read
    sent_date: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)  # its Date header
    from_addr: Mapped[str] = mapped_column(SealedText("inbox_messages.from_addr"))
    subject: Mapped[str] = mapped_column(SealedText("inbox_messages.subject"))
    snippet: Mapped[str] = mapped_column(SealedText("inbox_messages.snippet"))  # the start of its text
    status: Mapped[str] = mapped_column(String(20))  # matched | unmatched | attached | dismissed
    kind: Mapped[str] = mapped_column(
        String(20)
    )  # acknowledged | removal_claimed | declined | bounce | reply
    reason: Mapped[str | None] = mapped_column(String(40), nullable=True)  # why unmatched
    matched_by: Mapped[str | None] = mapped_column(String(20), nullable=True)  # message_id | token | dsn
    ticket: Mapped[str | None] = mapped_column(String(100), nullable=True)
    notice_id: Mapped[int | None] = mapped_column(
        ForeignKey("notices.id", ondelete="SET NULL"), nullable=True
    )
    suggested_notice_id: Mapped[int | None] = mapped_column(
        ForeignKey("notices.id", ondelete="SET NULL"), nullable=True
    )  # an HTML-only or too-large reply whose headers name a notice: one click for a human to attach


class User(Base):
    """A person who uses the web app or the API. Passwords are argon2id hashes; roles bound what they do."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))  # admin | case_worker | reviewer | auditor
    language: Mapped[str] = mapped_column(String(5), default="ko")
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CaseAssignment(Base):
    """Which cases a (non-admin) user may see and act on."""

    __tablename__ = "case_assignments"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)


class WebSession(Base):
    """A logged-in browser. Only the SHA-256 of the cookie value is stored; the CSRF token rides with it."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ApiToken(Base):
    """A bearer token for programs (platforms, HMA clients), with scopes; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class WatchedChat(Base):
    """A Telegram chat the monitor's account follows (`watch-chats`): how it was added, how far it was read.

    The chat's Telegram id, its title, the link or @name the operator gave and the reason of a failure are
    sealed like other chat data; the watch list is short, so it is searched in Python, never in SQL.
    """

    __tablename__ = "watched_chats"

    id: Mapped[int] = mapped_column(primary_key=True)
    peer_kind: Mapped[str] = mapped_column(String(10))  # channel | chat | user: how Telegram addresses it
    telegram_id: Mapped[str] = mapped_column(SealedText("watched_chats.telegram_id"))
    # With the id, what addresses the chat after a restart (a StringSession keeps no entity cache).
    access_hash: Mapped[str | None] = mapped_column(SealedText("watched_chats.access_hash"), nullable=True)
    title: Mapped[str | None] = mapped_column(SealedText("watched_chats.title"), nullable=True)
    chat_type: Mapped[str | None] = mapped_column(String(40), nullable=True)  # as the export names it
    added_how: Mapped[str] = mapped_column(String(20))  # invite_link | username
    joined: Mapped[bool] = mapped_column(Boolean, default=True)  # False: the account was already a member
    target: Mapped[str] = mapped_column(SealedText("watched_chats.target"))
    cases: Mapped[list[int]] = mapped_column(JSON, default=list)  # [] = every open case
    last_message_id: Mapped[int] = mapped_column(Integer, default=0)
    messages_seen: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(20), default="ok")  # ok | banned | left | error
    reason: Mapped[str | None] = mapped_column(SealedText("watched_chats.reason"), nullable=True)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class TelegramSession(Base):
    """The monitor account's Telethon StringSession, sealed with the data key: never a .session file."""

    __tablename__ = "telegram_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    session: Mapped[str] = mapped_column(SealedText("telegram_sessions.session"))
    account: Mapped[str | None] = mapped_column(SealedText("telegram_sessions.account"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
