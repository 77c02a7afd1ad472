"""The schema, shaped like the flow: case → reference; source → item → media → signal; hit; audit.

Items and media are stored once, whatever case they match; a hit links an item to a case with the
evidence of why. Nothing here is ever updated to change evidence: decisions and actions are appended
as audit events.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
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


class Base(DeclarativeBase):
    pass


class Case(Base):
    """One person under protection, with the record of their consent."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    pseudonym: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="open")  # open | closed
    consent_by: Mapped[str] = mapped_column(String(200))
    consent_at: Mapped[datetime] = mapped_column(UTCDateTime())
    consent_method: Mapped[str] = mapped_column(String(200))
    consent_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

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
    photo_label: Mapped[str] = mapped_column(String(200))
    value: Mapped[bytes] = mapped_column(LargeBinary)  # 32-byte digest/PDQ, or float32 embedding bytes
    quality: Mapped[int | None] = mapped_column(Integer, nullable=True)
    blob_key: Mapped[str | None] = mapped_column(String(200), nullable=True)  # kept original, if any
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    case: Mapped[Case] = relationship(back_populates="references")


class Source(Base):
    """Where content was collected: a Telegram export, a folder. Recognised again by fingerprint."""

    __tablename__ = "sources"
    __table_args__ = (UniqueConstraint("kind", "fingerprint", name="uq_source"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    location: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(String(300))
    fingerprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


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
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


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
    blob_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    thumb_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    signals: Mapped[list[Signal]] = relationship(back_populates="media", cascade="all, delete-orphan")


class Item(Base):
    """One message/post/file with its provenance. Unique per source, so rescans add nothing twice."""

    __tablename__ = "items"
    __table_args__ = (
        UniqueConstraint("source_id", "external_id", name="uq_item"),
        Index("ix_item_media", "media_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    external_id: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(20))
    chat_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    chat_title: Mapped[str | None] = mapped_column(Text, nullable=True)
    chat_type: Mapped[str | None] = mapped_column(String(40), nullable=True)
    message_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    sender_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    sender_name: Mapped[str | None] = mapped_column(Text, nullable=True)
    date: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    forwarded_from: Mapped[str | None] = mapped_column(Text, nullable=True)
    saved_from: Mapped[str | None] = mapped_column(Text, nullable=True)
    reply_to: Mapped[int | None] = mapped_column(Integer, nullable=True)
    via_bot: Mapped[str | None] = mapped_column(String(200), nullable=True)
    text: Mapped[str] = mapped_column(Text, default="")
    links: Mapped[list[str]] = mapped_column(JSON, default=list)
    media_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    media_kind: Mapped[str | None] = mapped_column(String(40), nullable=True)
    media_id: Mapped[int | None] = mapped_column(ForeignKey("media.id"), nullable=True)
    skip_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    extra: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    scan_id: Mapped[int | None] = mapped_column(ForeignKey("scans.id"), nullable=True)

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
    value: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
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
    kind: Mapped[str] = mapped_column(String(20))  # exact | pdq | face
    distance: Mapped[float | None] = mapped_column(Float, nullable=True)
    reference_id: Mapped[int | None] = mapped_column(
        ForeignKey("references.id", ondelete="SET NULL"), nullable=True
    )
    signal_id: Mapped[int | None] = mapped_column(ForeignKey("signals.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    item: Mapped[Item] = relationship()
    reference: Mapped[Reference | None] = relationship()


class AuditEvent(Base):
    """Append-only log of what was done, by whom, when. Later issues chain and sign it."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(60))
    case_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    details: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
