"""Delivering one takedown notice by SMTP.

A notice is evidence as much as a message: the receipt keeps the Message-ID and the moment the server
accepted it, because removal deadlines (and follow-ups) run from that moment. Every way delivery can fail
becomes one `NciiError` with a line saying what happened and a hint saying what to do: the person using
this is not expected to read an smtplib traceback.
"""

from __future__ import annotations

import ipaddress
import re
import smtplib
import socket
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr

from ncii_shield.config import Settings, load_settings
from ncii_shield.errors import NciiError

# 7bit: Korean text goes out as base64 or quoted-printable, so no relay needs 8BITMIME to pass it on intact.
_POLICY = policy.SMTP.clone(cte_type="7bit")
_ENV_HINT = (
    "set NCII_SMTP_HOST and NCII_SMTP_FROM, and as your provider needs NCII_SMTP_PORT, "
    "NCII_SMTP_STARTTLS=1 (or NCII_SMTP_SSL=1), NCII_SMTP_USER and NCII_SMTP_PASSWORD"
)


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to submit mail. The password is left out of repr so it never lands in a log."""

    host: str
    port: int
    from_addr: str
    starttls: bool = False
    ssl: bool = False  # implicit TLS from the first byte (port 465)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 20

    def __post_init__(self) -> None:
        if self.starttls and self.ssl:
            raise NciiError(
                "SMTP settings ask for both STARTTLS and implicit TLS",
                hint="use STARTTLS on port 587 or implicit TLS (ssl) on port 465, not both",
            )


@dataclass(frozen=True)
class SentReceipt:
    """What the server accepted, and when: the proof a notice was sent."""

    message_id: str
    to: str
    sent_at: datetime  # UTC, when the server accepted the message
    refused: dict[str, tuple[int, str]] = field(default_factory=dict)  # recipient -> (code, reply)


def settings_from_env(env: Mapping[str, str] | None = None) -> SmtpSettings:
    """SMTP settings from NCII_SMTP_* variables in `env` (else the process environment, as it is now)."""
    return smtp_settings(load_settings(environ=env))


def smtp_settings(settings: Settings) -> SmtpSettings:
    """How to send, from the NCII_SMTP_* settings; an error if they do not make a usable whole.

    The port defaults to what the TLS mode implies (465 implicit TLS, 587 STARTTLS, 25 otherwise), so most
    setups need only host, sender and credentials.
    """
    host, from_addr = settings.smtp_host or "", settings.smtp_from or ""
    missing = [name for name, value in (("NCII_SMTP_HOST", host), ("NCII_SMTP_FROM", from_addr)) if not value]
    if missing:
        raise NciiError(f"SMTP is not configured: {' and '.join(missing)} not set", hint=_ENV_HINT)
    starttls, use_ssl = settings.smtp_starttls, settings.smtp_ssl
    port = settings.smtp_port or (465 if use_ssl else 587 if starttls else 25)
    username, password = settings.smtp_user, settings.smtp_password
    if (username is None) != (password is None):
        raise NciiError(
            "SMTP login needs both a user and a password, only one is set",
            hint="set both NCII_SMTP_USER and NCII_SMTP_PASSWORD, or neither",
        )
    return SmtpSettings(
        host=host,
        port=port,
        from_addr=from_addr,
        starttls=starttls,
        ssl=use_ssl,
        username=username,
        password=password,
    )


def _address(value: str, what: str) -> str:
    """The bare address of one mailbox; refuses line breaks, which would let text inject headers."""
    if "\r" in value or "\n" in value:
        raise NciiError(f"the {what} address contains a line break", hint="give one e-mail address")
    _, addr = parseaddr(value)
    if "@" not in addr or addr.startswith("@") or addr.endswith("@"):
        raise NciiError(
            f"the {what} address {value!r} is not an e-mail address", hint="e.g. abuse@example.com"
        )
    return addr


def build_message(
    settings: SmtpSettings,
    to: str,
    subject: str,
    body: str,
    *,
    attachments: Sequence[tuple[str, bytes, str]] = (),
    reply_to: str | None = None,
    message_id: str | None = None,
    references: str | None = None,
) -> EmailMessage:
    """The notice as it will be sent, with a fresh Message-ID (or the one given: a retry of a send that may
    have got through is the same message) and Date; public so a notice can be previewed. `references` is the
    Message-ID a reminder follows up, so the platform's desk sees one thread."""
    _address(to, "recipient")
    _address(settings.from_addr, "sender")
    if reply_to is not None:
        _address(reply_to, "reply-to")
    if "\r" in subject or "\n" in subject:
        raise NciiError("the subject contains a line break", hint="put the subject on one line")
    msg = EmailMessage(policy=_POLICY)
    msg["From"] = settings.from_addr
    msg["To"] = to
    if reply_to:
        msg["Reply-To"] = reply_to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime.now(UTC))
    # The ID in the sender's domain, not socket.getfqdn(): no DNS lookup, and no leak of the machine's name.
    for given in (message_id, references):
        if given is not None and not re.fullmatch(r"<[^<>\s@]+@[^<>\s@]+>", given):
            raise NciiError(f"{given!r} is not a Message-ID", hint="e.g. <123.456@example.org>")
    msg["Message-ID"] = message_id or new_message_id(settings)
    if references:
        msg["In-Reply-To"] = references
        msg["References"] = references
    msg.set_content(body, charset="utf-8")
    for filename, data, mime_type in attachments:
        maintype, _, subtype = mime_type.partition("/")
        if not maintype or not subtype:
            maintype, subtype = "application", "octet-stream"
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg


def new_message_id(settings: SmtpSettings) -> str:
    """A Message-ID in the sender's domain, not socket.getfqdn(): no DNS lookup, and no leak of the machine's
    name. The worker takes one before it sends, so it can be recorded first."""
    return make_msgid(domain=_address(settings.from_addr, "sender").rpartition("@")[2])


def _reply(text: bytes | str) -> str:
    """A server reply as one short line (replies span lines and may carry any bytes)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    line = " ".join(text.split())
    return line if len(line) <= 200 else line[:199] + "…"


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def send_notice(
    settings: SmtpSettings,
    to: str,
    subject: str,
    body: str,
    *,
    attachments: Sequence[tuple[str, bytes, str]] = (),
    reply_to: str | None = None,
    message_id: str | None = None,
    references: str | None = None,
) -> SentReceipt:
    """Send one notice to one recipient; the receipt is returned only once the server has accepted it.

    `attachments` are (filename, bytes, mime type) triples. Raises one `NciiError` for any failure.
    """
    if settings.username and not (settings.starttls or settings.ssl) and not _is_loopback(settings.host):
        raise NciiError(
            f"refusing to send the SMTP password to {settings.host} without encryption",
            hint="set NCII_SMTP_STARTTLS=1 (port 587) or NCII_SMTP_SSL=1 (port 465)",
        )
    msg = build_message(
        settings,
        to,
        subject,
        body,
        attachments=attachments,
        reply_to=reply_to,
        message_id=message_id,
        references=references,
    )
    rcpt = _address(to, "recipient")
    where = f"{settings.host}:{settings.port}"
    try:
        smtp = _connect(settings)
    except Exception as exc:
        raise _failure(exc, settings, where, rcpt, connected=False) from None
    try:
        if settings.starttls:
            smtp.starttls(context=ssl.create_default_context())
        if settings.username:
            smtp.login(settings.username, settings.password or "")
        refused = smtp.send_message(msg, from_addr=_address(settings.from_addr, "sender"), to_addrs=[rcpt])
        sent_at = datetime.now(UTC)
    except Exception as exc:
        smtp.close()
        raise _failure(exc, settings, where, rcpt, connected=True) from None
    # Accepted is sent: a failed QUIT must not make the caller believe otherwise and send a duplicate.
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()
    return SentReceipt(
        message_id=str(msg["Message-ID"]),
        to=rcpt,
        sent_at=sent_at,
        refused={addr: (code, _reply(reply)) for addr, (code, reply) in refused.items()},
    )


def _connect(settings: SmtpSettings) -> smtplib.SMTP:
    if settings.ssl:
        return smtplib.SMTP_SSL(
            settings.host, settings.port, timeout=settings.timeout, context=ssl.create_default_context()
        )
    return smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)


def _failure(
    exc: BaseException, settings: SmtpSettings, where: str, rcpt: str, *, connected: bool
) -> NciiError:
    """One user-facing error for whatever smtplib, ssl or the socket raised."""
    # smtplib reports a read timeout as SMTPServerDisconnected; the TimeoutError is its context.
    if isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError):
        return NciiError(
            f"the SMTP server at {where} did not answer within {settings.timeout:g} s",
            hint="the server did not confirm the message: try again later"
            if connected
            else "check NCII_SMTP_HOST and NCII_SMTP_PORT, and that outgoing mail is not blocked",
        )
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, reply = next(iter(exc.recipients.values()), (0, b""))
        permanent = 500 <= code < 600
        return NciiError(
            f"the SMTP server refused the recipient {rcpt}: {code} {_reply(reply)}",
            hint="check the address (a 5xx answer is final: do not retry it as is)"
            if permanent
            else "a temporary refusal: try again later",
        )
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return NciiError(
            f"the SMTP server refused the sender {settings.from_addr}: {exc.smtp_code} {_reply(exc.smtp_error)}",
            hint="check NCII_SMTP_FROM: many servers only accept the address you log in as",
        )
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return NciiError(
            f"the SMTP server at {where} refused the login as {settings.username}: "
            f"{exc.smtp_code} {_reply(exc.smtp_error)}",
            hint="check NCII_SMTP_USER and NCII_SMTP_PASSWORD (many providers need an app password)",
        )
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        if "STARTTLS" in str(exc):
            return NciiError(
                f"the SMTP server at {where} does not offer STARTTLS",
                hint="use implicit TLS (NCII_SMTP_SSL=1, port 465) or check the host and port",
            )
        return NciiError(
            f"the SMTP server at {where} does not offer login",
            hint="many servers offer login only after STARTTLS: set NCII_SMTP_STARTTLS=1",
        )
    if isinstance(exc, smtplib.SMTPDataError):
        return NciiError(
            f"the SMTP server at {where} rejected the message: {exc.smtp_code} {_reply(exc.smtp_error)}",
            hint="the server's reply says why (size limit, content filter); fix that and send again",
        )
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return NciiError(
            f"the SMTP server at {where} closed the connection",
            hint="check the port and TLS mode (465 is implicit TLS, 587 STARTTLS) and try again",
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        return NciiError(
            f"the SMTP server at {where} answered {exc.smtp_code} {_reply(exc.smtp_error)}",
            hint="a 4xx answer is temporary: try again later; a 5xx answer needs the setup fixed",
        )
    if isinstance(exc, ssl.SSLCertVerificationError):
        return NciiError(
            f"the TLS certificate of {where} is not trusted: {exc.verify_message}",
            hint="check NCII_SMTP_HOST is the name on the server's certificate",
        )
    if isinstance(exc, ssl.SSLError):
        return NciiError(
            f"TLS with {where} failed: {exc.reason or exc}",
            hint="check the TLS mode: port 465 is implicit TLS (NCII_SMTP_SSL=1), 587 is STARTTLS",
        )
    if isinstance(exc, socket.gaierror):
        return NciiError(
            f"could not connect to the SMTP server {where}: the name does not resolve",
            hint="check NCII_SMTP_HOST",
        )
    if isinstance(exc, OSError) and connected:
        return NciiError(
            f"the connection to the SMTP server {where} was lost: {exc.strerror or exc}",
            hint="the server did not confirm the message: try again",
        )
    if isinstance(exc, OSError):
        return NciiError(
            f"could not connect to the SMTP server {where}: {exc.strerror or exc}",
            hint="check NCII_SMTP_HOST and NCII_SMTP_PORT, and that the server is running",
        )
    if isinstance(exc, smtplib.SMTPException):
        return NciiError(f"sending to {rcpt} by SMTP failed: {_reply(str(exc))}", hint="try again later")
    return NciiError(
        f"sending to {rcpt} by SMTP failed: {type(exc).__name__}: {_reply(str(exc))}",
        hint="try again; if it persists, report it with this line",
    )
