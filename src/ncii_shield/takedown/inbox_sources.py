"""Where replies are read from, a Maildir or an IMAP folder, and one run of `takedown inbox` over it.

Nothing is changed in the mailbox: IMAP is opened read-only (EXAMINE, BODY.PEEK), Maildir files are left
where they are. What has been processed is remembered in the store instead, by a key that names the message
where it lives (IMAP: host, user, folder, UIDVALIDITY and UID; Maildir: the file's unique name), so a run
reads only what is new. A message over the size cap is read by its headers only and kept for a human.
IMAP goes over TLS (implicit, or STARTTLS); a plain connection is refused unless the server is on loopback.
"""

from __future__ import annotations

import imaplib
import ipaddress
import logging
import mailbox
import re
import ssl
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from sqlalchemy.exc import IntegrityError

from ncii_shield.config import Settings
from ncii_shield.errors import NciiError, Unavailable
from ncii_shield.store.db import Store
from ncii_shield.takedown.inbox import parse
from ncii_shield.takedown.inbox_record import known, record_failure, record_message, sent_ids

log = logging.getLogger(__name__)
_IMAP_HINT = "set NCII_IMAP_HOST, NCII_IMAP_USER and NCII_IMAP_PASSWORD (and NCII_IMAP_TLS, NCII_IMAP_PORT)"


class Source(Protocol):
    """A mailbox: its messages' keys and sizes, and one message's bytes (whole, or its header)."""

    def listing(self) -> list[tuple[str, int]]: ...

    def fetch(self, key: str, *, whole: bool) -> bytes: ...


@dataclass
class InboxReport:
    """What one run read: inbound message ids per outcome, and the lines that went wrong."""

    matched: list[int] = field(default_factory=list)
    unmatched: list[int] = field(default_factory=list)
    duplicate: list[int] = field(default_factory=list)
    notices: list[int] = field(default_factory=list)  # the notices replied to
    skipped: int = 0  # already processed
    errors: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return dict(self.__dict__)


def process(store: Store, source: Source, max_bytes: int) -> InboxReport:
    """Read what is new in `source`, each message in its own transaction (stored and applied together)."""
    report = InboxReport()
    listing = source.listing()
    with store.session() as session:
        seen = known(session, [k for k, _ in listing])
        ids = sent_ids(session)
    for key, size in listing:
        if key in seen:
            report.skipped += 1
            continue
        whole = size <= max_bytes
        try:
            raw = source.fetch(key, whole=whole)
        except NciiError as exc:
            report.errors.append(f"{key}: {exc}")
            continue
        parsed = parse(raw, headers_only=not whole)
        try:
            with store.session() as session:
                row = record_message(
                    session, key, raw, size, parsed, ids, reason=None if whole else "too_large"
                )
                row_id, status, notice_id = row.id, row.status, row.notice_id
        except IntegrityError:  # another run stored it first
            report.skipped += 1
            continue
        except Exception as exc:  # a bug or a message nobody foresaw: kept for a human, the run goes on
            log.exception("inbox: processing %s failed", key)
            report.errors.append(f"{key}: {type(exc).__name__}: {exc}")
            try:
                with store.session() as session:
                    row_id = record_failure(session, key, raw, size, f"{type(exc).__name__}: {exc}").id
            except IntegrityError:
                continue
            report.unmatched.append(row_id)
            continue
        getattr(report, status, report.unmatched).append(row_id)
        if notice_id is not None and notice_id not in report.notices:
            report.notices.append(notice_id)
    return report


# ------------------------------------------------------------------------------------------ Maildir


class MaildirSource:
    """A Maildir (new/ and cur/), read in place."""

    def __init__(self, path: Path) -> None:
        if not (path / "new").is_dir() or not (path / "cur").is_dir():
            raise NciiError(f"{path} is not a Maildir", hint="a Maildir has new/, cur/ and tmp/ folders")
        self.path = path
        self.box = mailbox.Maildir(path, factory=None, create=False)

    def listing(self) -> list[tuple[str, int]]:
        out = []
        for key in sorted(self.box.keys()):
            try:
                size = (self.path / self.box._lookup(key)).stat().st_size  # type: ignore[attr-defined]
            except (KeyError, OSError):
                continue  # moved or deleted meanwhile
            out.append((f"maildir:{key}", size))
        return out

    def fetch(self, key: str, *, whole: bool) -> bytes:
        try:
            with self.box.get_file(key.removeprefix("maildir:")) as f:
                return f.read() if whole else _header_bytes(f.read(256 * 1024))
        except (KeyError, OSError) as exc:
            raise NciiError(f"the message {key} could not be read: {exc}") from None


def _header_bytes(head: bytes) -> bytes:
    end = re.search(rb"\r?\n\r?\n", head)
    return head[: end.end()] if end else head


# ------------------------------------------------------------------------------------------ IMAP


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_SIZE = re.compile(rb"UID (\d+)|RFC822\.SIZE (\d+)")


class ImapSource:
    """One IMAP folder, opened read-only for the time of a `with` block."""

    def __init__(self, settings: Settings, *, context: ssl.SSLContext | None = None, timeout: float = 30):
        host, user, password = settings.imap_host, settings.imap_user, settings.imap_password
        if not host or not user or password is None:
            raise NciiError("IMAP is not configured", hint=_IMAP_HINT)
        self.tls = settings.imap_tls
        if self.tls == "none" and not _is_loopback(host):
            raise NciiError(
                f"refusing to send the IMAP password to {host} without encryption",
                hint="set NCII_IMAP_TLS=tls (port 993) or starttls (port 143)",
            )
        self.host, self.user, self.password = host, user, password
        self.port = settings.imap_port or (993 if self.tls == "tls" else 143)
        self.folder = settings.imap_folder
        self.context = context or ssl.create_default_context()
        self.timeout = timeout
        self.conn: imaplib.IMAP4 | None = None
        self.prefix = ""

    @contextmanager
    def opened(self) -> Iterator[ImapSource]:
        where = f"{self.host}:{self.port}"
        try:
            if self.tls == "tls":
                conn: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                    self.host, self.port, ssl_context=self.context, timeout=self.timeout
                )
            else:
                conn = imaplib.IMAP4(self.host, self.port, timeout=self.timeout)
                if self.tls == "starttls":
                    conn.starttls(ssl_context=self.context)
        except (OSError, imaplib.IMAP4.error, ssl.SSLError) as exc:
            raise Unavailable(
                f"could not connect to the IMAP server {where}: {exc}",
                hint="check NCII_IMAP_HOST, NCII_IMAP_PORT and NCII_IMAP_TLS",
            ) from None
        self.conn = conn
        try:
            try:
                conn.login(self.user, self.password)
            except imaplib.IMAP4.error:
                raise NciiError(
                    f"the IMAP server at {where} refused the login as {self.user}",
                    hint="check NCII_IMAP_USER and NCII_IMAP_PASSWORD",
                ) from None
            typ, _ = conn.select(_quote(self.folder), readonly=True)
            if typ != "OK":
                raise NciiError(f"there is no IMAP folder {self.folder!r}", hint="check NCII_IMAP_FOLDER")
            validity = (conn.untagged_responses.get("UIDVALIDITY") or [b"0"])[-1]
            self.prefix = f"imap:{self.host}/{self.user}/{self.folder}/{validity.decode()}/"
            yield self
        except (OSError, imaplib.IMAP4.abort) as exc:
            raise Unavailable(
                f"the IMAP connection to {where} failed: {exc}", hint="try again later"
            ) from None
        finally:
            with suppress(OSError, imaplib.IMAP4.error):
                conn.logout()
            self.conn = None

    def listing(self) -> list[tuple[str, int]]:
        assert self.conn is not None
        typ, data = self.conn.uid("FETCH", "1:*", "(RFC822.SIZE)")
        if typ != "OK":
            raise Unavailable("the IMAP server did not list the folder", hint="try again later")
        out = []
        for line in data:
            text = line[0] if isinstance(line, tuple) else line
            if not isinstance(text, bytes):
                continue
            uid = size = None
            for found in _SIZE.finditer(text):
                uid = found.group(1) or uid
                size = found.group(2) or size
            if uid is not None and size is not None:
                out.append((f"{self.prefix}{int(uid)}", int(size)))
        return sorted(out, key=lambda pair: int(pair[0].rpartition("/")[2]))

    def fetch(self, key: str, *, whole: bool) -> bytes:
        assert self.conn is not None
        uid = key.rpartition("/")[2]
        part = "BODY.PEEK[]" if whole else "BODY.PEEK[HEADER]"
        typ, data = self.conn.uid("FETCH", uid, f"({part})")
        for line in data if typ == "OK" else []:
            if isinstance(line, tuple) and len(line) == 2 and isinstance(line[1], bytes):
                return line[1]
        raise NciiError(f"the IMAP server did not return message {uid}")


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def read_inbox(
    store: Store,
    settings: Settings,
    *,
    maildir: Path | None = None,
    imap: bool = False,
    context: ssl.SSLContext | None = None,
) -> InboxReport:
    """One run over the Maildir or IMAP folder given (else the configured one; NciiError: none)."""
    maildir = maildir or (None if imap else settings.inbox_maildir)
    if maildir is not None:
        return process(store, MaildirSource(maildir), settings.inbox_max_bytes)
    if not imap and not settings.imap_host:
        raise NciiError("no inbox is configured", hint=f"give --maildir DIR, or {_IMAP_HINT}")
    source = ImapSource(settings, context=context)
    try:
        with source.opened():
            return process(store, source, settings.inbox_max_bytes)
    except TimeoutError:
        raise Unavailable("the IMAP server did not answer in time", hint="try again later") from None


def configured(settings: Settings) -> bool:
    """Whether the worker has an inbox to poll."""
    return settings.inbox_maildir is not None or bool(settings.imap_host)
