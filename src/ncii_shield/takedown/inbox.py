"""Replies to notices: what an inbound e-mail refers to and what it says, read conservatively.

A reply is matched to its notice by reference, never by what it claims: first by the Message-ID of a message
we sent (In-Reply-To / References, or the original message a bounce carries), then by the token every notice
carries in its subject, ``[NCII-<notice id>-<hmac>]``. The token's HMAC is keyed with the deployment's data
key, so nobody who has not received the notice can write a valid one by guessing ids; a token with a wrong
HMAC, or references naming two notices, leave the message unmatched, for a human.

What a reply says is classified from its own text (quoted text cut off) and headers, and only a little is
believed: an auto-reply or a ticket number is an acknowledgement; "we removed it" is recorded as the
platform's claim, never as a removal (the worker's recheck confirms it, or a case worker marks it: a platform
mistaken about which copy it removed, or a forged reply, must not stop the re-sends); "we will not remove it"
is a refusal; a delivery-status report is a bounce (the send failed). HTML-only mails are not read here
(no HTML is parsed): they are kept for a human, with the notice their headers name, if any.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from email.parser import BytesHeaderParser
from email.utils import parseaddr, parsedate_to_datetime
from html import unescape

from ncii_shield.store.sealing import active_data_key

TOKEN_RE = re.compile(r"\[NCII-(\d{1,12})-([0-9a-f]{10})\]", re.IGNORECASE)
_MSGID_RE = re.compile(r"<[^<>\s]{1,250}>")
SNIPPET_CHARS = 2000
TEXT_CHARS = 200_000  # what classification reads of a long reply
MAX_PARTS = 200  # a reply with more MIME parts is read as far as that


def reference_token(notice_id: int) -> str:
    """The token a notice carries in its subject; only the deployment's key can make a valid one."""
    mac = hmac.new(active_data_key(), f"ncii-shield notice reference v1:{notice_id}".encode(), "sha256")
    return f"[NCII-{notice_id}-{mac.hexdigest()[:10]}]"


def with_reference(subject: str, notice_id: int) -> str:
    """The subject as sent: the notice's own, followed by its reference token (once)."""
    token = reference_token(notice_id)
    return subject if token.lower() in subject.lower() else f"{subject} {token}"


def tokens_in(text: str) -> tuple[set[int], int]:
    """(notice ids of valid tokens, how many tokens were forged or garbled) in `text`."""
    valid: set[int] = set()
    bad = 0
    for found in TOKEN_RE.finditer(text):
        notice_id = int(found.group(1))
        if hmac.compare_digest(reference_token(notice_id).lower(), found.group(0).lower()):
            valid.add(notice_id)
        else:
            bad += 1
    return valid, bad


@dataclass(frozen=True)
class Dsn:
    """What a delivery-status report (RFC 3464) says about a message we sent."""

    action: str  # failed | delayed | delivered | relayed | expanded | "" (a bounce without a report)
    status: str  # e.g. 5.1.1
    recipient: str
    original_ids: tuple[str, ...]
    original_subject: str

    @property
    def permanent(self) -> bool:
        return self.action == "failed" and not self.status.startswith("4")


@dataclass(frozen=True)
class Parsed:
    """An inbound message, as far as it could be read."""

    message_id: str | None
    references: tuple[str, ...]  # In-Reply-To then References
    subject: str
    from_addr: str
    date: datetime | None
    text: str  # its own text/plain, decoded ("" if none)
    html_only: bool
    malformed: bool
    auto: bool  # Auto-Submitted, X-Autoreply, Precedence: auto_reply…
    dsn: Dsn | None = None
    headers_only: bool = False
    defects: list[str] = field(default_factory=list)
    preview: str = ""  # an HTML-only mail's words, tags stripped: shown to a human, never classified
    returned_ids: tuple[str, ...] = ()  # what a bounce returns of our message (used for bounces only)
    returned_subject: str = ""


def _header(msg: Message, name: str) -> str:
    try:
        value = msg.get(name)
    except Exception:  # a header the parser cannot make sense of is an absent one
        return ""
    return " ".join(str(value).split()) if value is not None else ""


def _date(value: str) -> datetime | None:
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)


def _text_of(part: Message) -> str:
    try:
        content = part.get_content()  # type: ignore[attr-defined]
    except Exception:
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    return content if isinstance(content, str) else ""


def _returned(msg: Message) -> tuple[tuple[str, ...], str]:
    """(Message-IDs, subject) of the original a bounce returns (message/rfc822 or text/rfc822-headers)."""
    ids: list[str] = []
    subject = ""
    for part in msg.walk():
        ctype = part.get_content_type()
        original: Message | None = None
        if ctype == "message/rfc822":
            inner = part.get_payload()
            original = inner[0] if isinstance(inner, list) and inner else None
        elif ctype == "text/rfc822-headers":
            original = BytesHeaderParser(policy=policy.default).parsebytes(_text_of(part).encode())
        if original is not None:
            ids += _MSGID_RE.findall(_header(original, "Message-ID"))
            subject = subject or _header(original, "Subject")
    return tuple(ids), subject


def _dsn(msg: Message) -> Dsn | None:
    """The report of a multipart/report; delivery-status, else None."""
    if msg.get_content_type() != "multipart/report":
        return None
    action = status = recipient = ""
    for part in msg.walk():
        if part.get_content_type() == "message/delivery-status":
            for block in part.get_payload() if isinstance(part.get_payload(), list) else []:
                action = action or _header(block, "Action").lower()
                status = status or _header(block, "Status")
                recipient = recipient or _header(block, "Final-Recipient").rpartition(";")[2].strip()
    ids, subject = _returned(msg)
    return Dsn(action, status, recipient, ids, subject)


def _is_auto(msg: Message) -> bool:
    auto = _header(msg, "Auto-Submitted").lower()
    return (
        (bool(auto) and auto != "no")
        or bool(_header(msg, "X-Autoreply") or _header(msg, "X-Autorespond"))
        or _header(msg, "Precedence").lower() in ("auto_reply", "bulk", "junk")
        or _header(msg, "X-Auto-Response-Suppress") != ""
    )


def parse(raw: bytes, *, headers_only: bool = False) -> Parsed:
    """Read what can be read; never raises (a message that cannot be read is `malformed`)."""
    try:
        msg = message_from_bytes(raw, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        from_addr = parseaddr(_header(msg, "From"))[1]
        subject = _header(msg, "Subject")
        message_id = next(iter(_MSGID_RE.findall(_header(msg, "Message-ID"))), None)
        refs = tuple(
            _MSGID_RE.findall(_header(msg, "In-Reply-To")) + _MSGID_RE.findall(_header(msg, "References"))
        )
        malformed = not (from_addr or message_id) or not len(msg.keys())
        texts, html, preview = [], False, ""
        dsn = None
        returned_ids, returned_subject = (), ""
        if not headers_only:
            dsn = _dsn(msg)
            returned_ids, returned_subject = _returned(msg)
            returned = _returned_parts(msg)
            for count, part in enumerate(msg.walk()):
                if count > MAX_PARTS:
                    break
                if (
                    part.is_multipart()
                    or part.get_content_disposition() == "attachment"
                    or id(part) in returned
                ):
                    continue
                ctype = part.get_content_type()
                if ctype == "text/plain":
                    texts.append(_text_of(part))
                elif ctype == "text/html":
                    html = True
                    preview = preview or _words_of_html(_text_of(part)[:TEXT_CHARS])
        text = "\n".join(texts)[:TEXT_CHARS]
        return Parsed(
            message_id=message_id,
            references=refs,
            subject=subject[:500],
            from_addr=from_addr[:300],
            date=_date(_header(msg, "Date")),
            text=text,
            html_only=html and not text.strip(),
            malformed=malformed,
            auto=_is_auto(msg),
            dsn=dsn,
            headers_only=headers_only,
            defects=[type(d).__name__ for d in msg.defects][:10],
            preview=preview if html and not text.strip() else "",
            returned_ids=returned_ids,
            returned_subject=returned_subject[:500],
        )
    except Exception as exc:  # whatever the bytes were, the run goes on
        return Parsed(None, (), "", "", None, "", False, True, False, defects=[type(exc).__name__])


def _words_of_html(markup: str) -> str:
    """Only the words: scripts and styles dropped, tags removed, entities decoded (for display, escaped)."""
    markup = re.sub(r"(?is)<(script|style)\b.*?</\1\s*>", " ", markup)
    return " ".join(unescape(re.sub(r"<[^>]*>", " ", markup)).split())


def _returned_parts(msg: Message) -> set[int]:
    """The parts of an original message a bounce returns (message/rfc822): not the bounce's own text."""
    inside: set[int] = set()
    for sub in msg.walk():
        if sub.get_content_type() == "message/rfc822" and id(sub) not in inside:
            inner = sub.get_payload()
            for m in inner if isinstance(inner, list) else []:
                inside.update(id(p) for p in m.walk())
    return inside


# ----------------------------------------------------------------------------------- what it says

_QUOTE_START = re.compile(
    r"^(>|On .{1,200} wrote:\s*$|-{2,}\s*Original Message\s*-{2,}|-{5,}|_{5,}|From:\s|"
    r"보낸 사람:|-----\s*원본 메시지|.{1,80}님이 작성:)",
    re.IGNORECASE,
)
_NEGATIVE = re.compile(
    r"\b(?:not|n't|unable to|cannot|can ?not|won't|will not|did not|didn't|decided not to)\b[^.\n]{0,60}?"
    r"\b(?:remov|tak(?:e|en|ing) down|delet|disabl)"
    r"|\bdoes(?: not|n't) (?:violate|go against)|\bno violation"
    r"|삭제(?:되지|하지|할 수) (?:않|없)|위반(?:되지|하지) 않|조치(?:하지|할 수) (?:않|없)|삭제가 어렵",
    re.IGNORECASE,
)
_REMOVED = re.compile(
    r"\b(?:has|have|had|was|were|is|are)\s+(?:now\s+)?(?:been\s+)?"
    r"(?:removed|taken down|deleted|disabled|blocked)\b"
    r"|\bwe(?:'ve| have)?\s+(?:removed|deleted|taken down|took down|disabled|blocked)\b"
    r"|\bno longer (?:available|accessible)\b"
    r"|삭제(?:되었|됐|했|하였|\s*조치|\s*처리)|차단(?:되었|됐|했|하였|\s*조치)",
    re.IGNORECASE,
)
_ACK = re.compile(
    r"\b(?:we(?:'ve| have)? received|has been received|thank you for (?:your|contacting)|"
    r"request received|your (?:request|report|ticket) (?:\(|#|number|has)|automatic reply|auto-?reply|"
    r"we will review|will be reviewed|under review)"
    r"|접수(?:되었|했|하였|\s*완료)|검토 (?:중|후)|자동 (?:응답|회신)",
    re.IGNORECASE,
)
_TICKET_PATTERNS = (
    re.compile(r"\[(?:ticket|case|request)\s*#\s*([A-Za-z0-9][A-Za-z0-9-]{0,39})\]", re.IGNORECASE),
    re.compile(
        r"\b(?:ticket|case|request|report|complaint)\s*(?:number|no\.?|id|#)\s*[:#]?\s*(?:is\s+)?[\[#(]?\s*"
        r"([A-Za-z0-9-]*\d[A-Za-z0-9-]*)",
        re.IGNORECASE,
    ),
    re.compile(r"\b(?:ticket|case|request|report)\s*\(\s*#?\s*(\d{3,})\s*\)", re.IGNORECASE),
    re.compile(r"\b(?:ticket|case)\s+#?\s*(\d{3,})\b", re.IGNORECASE),
    re.compile(r"(?:접수|신고|민원|처리)\s*번호\s*[:：]?\s*#?\s*([A-Za-z0-9-]*\d[A-Za-z0-9-]*)"),
)
_BOUNCE_FROM = re.compile(r"^(?:mailer-daemon|postmaster)@", re.IGNORECASE)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|delivery (?:status notification|failure|has failed)|failure notice|returned mail|"
    r"mail delivery (?:failed|subsystem)",
    re.IGNORECASE,
)


def own_text(text: str) -> str:
    """The reply's own words: everything before the first quoted line or quoted-message header."""
    lines = []
    for line in text.splitlines():
        if _QUOTE_START.match(line.strip()):
            break
        lines.append(line)
    return "\n".join(lines)


def ticket_of(*texts: str) -> str | None:
    """The platform's ticket or case number, if one is written where platforms write it."""
    for text in texts:
        for pattern in _TICKET_PATTERNS:
            for found in pattern.finditer(text):
                value = found.group(1).strip("-")
                if value and not value.upper().startswith("NCII") and any(c.isdigit() for c in value):
                    return value[:100]
    return None


def is_bounce(parsed: Parsed) -> bool:
    """A delivery-status report, or a mailer daemon's message saying delivery failed."""
    if parsed.dsn is not None:
        return parsed.dsn.action in ("failed", "delayed", "")
    return bool(_BOUNCE_FROM.match(parsed.from_addr) and _BOUNCE_SUBJECT.search(parsed.subject))


def classify(parsed: Parsed) -> tuple[str, str | None]:
    """(kind, ticket): bounce | delay | declined | removal_claimed | acknowledged | reply."""
    if is_bounce(parsed):
        return ("delay" if parsed.dsn is not None and parsed.dsn.action == "delayed" else "bounce"), None
    mine = own_text(parsed.text)
    ticket = ticket_of(parsed.subject, mine)
    said = f"{parsed.subject}\n{mine}"
    if _NEGATIVE.search(said):
        return "declined", ticket
    if _REMOVED.search(mine):
        return "removal_claimed", ticket
    if parsed.auto or ticket is not None or _ACK.search(said):
        return "acknowledged", ticket
    return "reply", ticket


def sha256(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def snippet(parsed: Parsed) -> str:
    """The start of the reply's text, as a human reading the unmatched list needs it."""
    text = " ".join(parsed.text.split()) or parsed.preview
    return text[:SNIPPET_CHARS]


def same_domain(sender: str, recipient: str) -> bool:
    """Whether a reply comes from the organisation the notice went to (last two labels of the domain)."""

    def tail(addr: str) -> str:
        return ".".join(addr.rpartition("@")[2].lower().split(".")[-2:])

    return bool(sender) and "@" in recipient and tail(sender) == tail(recipient)
