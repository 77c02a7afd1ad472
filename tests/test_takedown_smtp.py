"""Delivering a notice to a real SMTP server (aiosmtpd) on loopback: what arrives, and every way it fails."""

from __future__ import annotations

import datetime as dt
import email
import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterator
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ncii_shield.errors import NciiError
from ncii_shield.takedown.smtp import SmtpSettings, send_notice, settings_from_env

SUBJECT = "[삭제 요청] 동의 없이 게시된 불법촬영물"
BODY = (
    "안녕하세요. 아래 게시물은 당사자의 동의 없이 게시된 합성 성적 영상물입니다.\n"
    "Please remove the content listed below; it was posted without consent.\n"
    "삭제를 요청합니다.\n"
)
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40


class Recorder:
    """Stores every envelope it accepts; answers 550 for the addresses in `refuse`."""

    def __init__(self, refuse: frozenset[str] = frozenset()) -> None:
        self.refuse = refuse
        self.envelopes: list[Envelope] = []

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return "550 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_server() -> Iterator[Callable[..., tuple[Recorder, int]]]:
    """Starts aiosmtpd controllers on free loopback ports; all are stopped after the test."""
    started: list[Controller] = []

    def start(recorder: Recorder | None = None, **kwargs: Any) -> tuple[Recorder, int]:
        recorder = recorder or Recorder()
        port = free_port()
        controller = Controller(recorder, hostname="127.0.0.1", port=port, **kwargs)
        controller.start()
        started.append(controller)
        return recorder, port

    yield start
    for controller in started:
        controller.stop()


def settings(port: int, **kwargs: Any) -> SmtpSettings:
    return SmtpSettings(host="127.0.0.1", port=port, from_addr="보호 지원팀 <help@shield.example>", **kwargs)


def received(recorder: Recorder) -> EmailMessage:
    (envelope,) = recorder.envelopes
    return email.message_from_bytes(envelope.original_content, policy=policy.default)  # type: ignore[return-value]


def test_notice_arrives_intact(smtp_server: Callable[..., tuple[Recorder, int]]) -> None:
    recorder, port = smtp_server()
    receipt = send_notice(
        settings(port),
        "Abuse Desk <abuse@host.example>",
        SUBJECT,
        BODY,
        attachments=[("증거 목록.pdf", PDF, "application/pdf"), ("hashes.csv", b"sha256,pdq\n", "text/csv")],
        reply_to="case-17@shield.example",
    )

    (envelope,) = recorder.envelopes
    assert envelope.mail_from == "help@shield.example"
    assert envelope.rcpt_tos == ["abuse@host.example"]
    msg = received(recorder)
    assert msg["From"] == "보호 지원팀 <help@shield.example>"
    assert msg["To"] == "Abuse Desk <abuse@host.example>"
    assert msg["Reply-To"] == "case-17@shield.example"
    assert msg["Subject"] == SUBJECT
    assert msg["Message-ID"] == receipt.message_id
    assert receipt.message_id.endswith("@shield.example>")
    sent_date = msg["Date"].datetime
    assert abs(sent_date - receipt.sent_at) < dt.timedelta(seconds=5)
    # Text parts travel in MIME's canonical CRLF form; the lines are what was written.
    text = msg.get_body(("plain",)).get_content()
    assert text.splitlines() == BODY.splitlines()

    attachments = list(msg.iter_attachments())
    assert [(a.get_filename(), a.get_content_type()) for a in attachments] == [
        ("증거 목록.pdf", "application/pdf"),
        ("hashes.csv", "text/csv"),
    ]
    assert attachments[0].get_content() == PDF

    assert receipt.to == "abuse@host.example"
    assert receipt.sent_at.tzinfo == dt.UTC
    assert receipt.refused == {}


def test_every_notice_gets_a_fresh_message_id(smtp_server: Callable[..., tuple[Recorder, int]]) -> None:
    recorder, port = smtp_server()
    first = send_notice(settings(port), "abuse@host.example", "a", "b")
    second = send_notice(settings(port), "abuse@host.example", "a", "b")
    assert first.message_id != second.message_id
    assert len(recorder.envelopes) == 2


def test_refused_recipient_is_one_error_naming_it(smtp_server: Callable[..., tuple[Recorder, int]]) -> None:
    recorder, port = smtp_server(Recorder(refuse=frozenset({"gone@host.example"})))
    with pytest.raises(NciiError) as caught:
        send_notice(settings(port), "gone@host.example", SUBJECT, BODY)
    assert "gone@host.example" in caught.value.message
    assert "550 mailbox unavailable" in caught.value.message
    assert "\n" not in caught.value.message
    assert caught.value.hint and "address" in caught.value.hint
    assert recorder.envelopes == []


def test_closed_port_could_not_connect() -> None:
    port = free_port()  # nothing listens there once the probe socket is closed
    with pytest.raises(NciiError) as caught:
        send_notice(settings(port), "abuse@host.example", SUBJECT, BODY)
    assert caught.value.message.startswith("could not connect")
    assert f"127.0.0.1:{port}" in caught.value.message
    assert "NCII_SMTP_HOST" in (caught.value.hint or "")


def test_silent_server_times_out() -> None:
    with socket.socket() as listener:  # accepts connections (backlog) but never greets
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        with pytest.raises(NciiError) as caught:
            send_notice(settings(port, timeout=0.3), "abuse@host.example", SUBJECT, BODY)
    assert "did not answer within 0.3 s" in caught.value.message


def test_login_refused(smtp_server: Callable[..., tuple[Recorder, int]]) -> None:
    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"shield", b"right")
        return AuthResult(success=ok, handled=False)  # not handled: aiosmtpd answers 535

    recorder, port = smtp_server(authenticator=authenticator, auth_require_tls=False)
    with pytest.raises(NciiError) as caught:
        send_notice(settings(port, username="shield", password="wrong"), "abuse@host.example", "s", "b")
    assert "refused the login as shield" in caught.value.message
    assert "wrong" not in str(caught.value)
    assert "NCII_SMTP_PASSWORD" in (caught.value.hint or "")

    send_notice(settings(port, username="shield", password="right"), "abuse@host.example", "s", "b")
    assert len(recorder.envelopes) == 1


def test_password_never_sent_in_clear_to_a_remote_host() -> None:
    remote = SmtpSettings("mail.example.invalid", 25, "help@shield.example", username="u", password="hunter2")
    with pytest.raises(NciiError) as caught:
        send_notice(remote, "abuse@host.example", "s", "b")
    assert "without encryption" in caught.value.message
    assert "hunter2" not in repr(remote)


def test_starttls_not_offered(smtp_server: Callable[..., tuple[Recorder, int]]) -> None:
    _, port = smtp_server()
    with pytest.raises(NciiError) as caught:
        send_notice(settings(port, starttls=True), "abuse@host.example", "s", "b")
    assert "does not offer STARTTLS" in caught.value.message


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (certificate file, key file)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file


def server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    return context


@pytest.mark.parametrize("mode", ["starttls", "ssl"])
def test_tls_with_a_trusted_certificate(
    mode: str,
    smtp_server: Callable[..., tuple[Recorder, int]],
    certificate: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The client verifies against the default trust store; SSL_CERT_FILE makes our certificate that store.
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    context = server_context(certificate)
    # aiosmtpd only counts STARTTLS as encryption when deciding to offer AUTH; implicit TLS is just as safe.
    tls = (
        {"tls_context": context}
        if mode == "starttls"
        else {"ssl_context": context, "auth_require_tls": False}
    )
    recorder, port = smtp_server(
        authenticator=lambda *args: AuthResult(success=args[-1].password == b"secret", handled=False), **tls
    )
    receipt = send_notice(
        settings(port, username="shield", password="secret", **{mode: True}),
        "abuse@host.example",
        SUBJECT,
        BODY,
    )
    assert received(recorder)["Message-ID"] == receipt.message_id


def test_untrusted_certificate_refused(
    smtp_server: Callable[..., tuple[Recorder, int]], certificate: tuple[Path, Path]
) -> None:
    _, port = smtp_server(tls_context=server_context(certificate))
    with pytest.raises(NciiError) as caught:
        send_notice(settings(port, starttls=True), "abuse@host.example", "s", "b")
    assert "certificate" in caught.value.message
    assert "not trusted" in caught.value.message


def test_line_breaks_cannot_inject_headers(smtp_server: Callable[..., tuple[Recorder, int]]) -> None:
    recorder, port = smtp_server()
    with pytest.raises(NciiError, match="line break"):
        send_notice(settings(port), "abuse@host.example\nBcc: someone@else.example", "s", "b")
    with pytest.raises(NciiError, match="line break"):
        send_notice(settings(port), "abuse@host.example", "s\r\nBcc: someone@else.example", "b")
    with pytest.raises(NciiError, match="not an e-mail address"):
        send_notice(settings(port), "nobody", "s", "b")
    assert recorder.envelopes == []


def test_settings_from_env() -> None:
    got = settings_from_env(
        {
            "NCII_SMTP_HOST": "smtp.example.org",
            "NCII_SMTP_FROM": "help@shield.example",
            "NCII_SMTP_STARTTLS": "yes",
            "NCII_SMTP_USER": "shield",
            "NCII_SMTP_PASSWORD": "pw",
        }
    )
    assert got == SmtpSettings(
        "smtp.example.org", 587, "help@shield.example", starttls=True, username="shield", password="pw"
    )
    assert "pw" not in repr(got)
    implicit = settings_from_env(
        {"NCII_SMTP_HOST": "h", "NCII_SMTP_FROM": "a@b.example", "NCII_SMTP_SSL": "1"}
    )
    assert (implicit.port, implicit.ssl) == (465, True)
    plain = settings_from_env(
        {"NCII_SMTP_HOST": "h", "NCII_SMTP_FROM": "a@b.example", "NCII_SMTP_PORT": "2525"}
    )
    assert (plain.port, plain.starttls, plain.ssl, plain.username) == (2525, False, False, None)


def test_settings_from_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NCII_SMTP_HOST", "localhost")
    monkeypatch.setenv("NCII_SMTP_FROM", "help@shield.example")
    for name in ("PORT", "STARTTLS", "SSL", "USER", "PASSWORD"):
        monkeypatch.delenv(f"NCII_SMTP_{name}", raising=False)
    assert settings_from_env() == SmtpSettings("localhost", 25, "help@shield.example")


CONFIGURED = {"NCII_SMTP_HOST": "h", "NCII_SMTP_FROM": "a@b.example"}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "NCII_SMTP_HOST and NCII_SMTP_FROM not set"),
        ({"NCII_SMTP_HOST": "h"}, "NCII_SMTP_FROM not set"),
        ({"NCII_SMTP_FROM": "a@b.example", "NCII_SMTP_HOST": " "}, "NCII_SMTP_HOST not set"),
        ({**CONFIGURED, "NCII_SMTP_PORT": "smtp"}, "NCII_SMTP_PORT is 'smtp'"),
        ({**CONFIGURED, "NCII_SMTP_PORT": "70000"}, "not a port number"),
        ({**CONFIGURED, "NCII_SMTP_STARTTLS": "maybe"}, "NCII_SMTP_STARTTLS is 'maybe'"),
        ({**CONFIGURED, "NCII_SMTP_USER": "shield"}, "needs both a user and a password"),
        ({**CONFIGURED, "NCII_SMTP_STARTTLS": "1", "NCII_SMTP_SSL": "1"}, "both STARTTLS and implicit TLS"),
    ],
)
def test_settings_from_env_errors(env: dict[str, str], message: str) -> None:
    with pytest.raises(NciiError) as caught:
        settings_from_env(env)
    assert message in caught.value.message
    assert caught.value.hint
    if "not set" in message:
        assert "NCII_SMTP_HOST" in caught.value.hint and "NCII_SMTP_FROM" in caught.value.hint
