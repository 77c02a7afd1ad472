"""Replies read from a real IMAP server on loopback: pymap (an asyncio IMAP4rev1 server, in-memory
backend) started as a subprocess, plain and with STARTTLS under a self-signed certificate. The mailbox is
only read (EXAMINE, BODY.PEEK): nothing is marked seen, and each message is processed once, by its UID."""

from __future__ import annotations

import contextlib
import imaplib
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ncii_shield.config import Settings
from ncii_shield.errors import NciiError
from ncii_shield.store.db import Store
from ncii_shield.takedown.inbox_sources import read_inbox
from tests.test_takedown_inbox import _events, _notice, _sent, _settings, fixture
from tests.test_takedown_smtp import certificate  # noqa: F401 - the fixture

pytest.importorskip("pymap")
USER, PASSWORD = "desk", "imap test password"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def imap_server(tmp_path: Path) -> Iterator[Callable[..., int]]:
    """Starts pymap on a free loopback port (with `tls`: STARTTLS under the given certificate)."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(tls: tuple[Path, Path] | None = None) -> int:
        port = _free_port()
        args = ["--host", "127.0.0.1", "--port", str(port), "--no-service", "admin"]
        args += ["--cert", str(tls[0]), "--key", str(tls[1])] if tls else ["--no-tls"]
        code = "import sys; from pymap.main import main; sys.argv[0] = 'pymap'; main()"
        proc = subprocess.Popen(
            [sys.executable, "-c", code, *args, "dict", "--demo-user", USER, "--demo-password", PASSWORD],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=tmp_path,
        )
        procs.append(proc)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return port
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError(proc.stderr.read().decode() if proc.stderr else "pymap died") from None
                time.sleep(0.05)
        raise RuntimeError("pymap did not start")

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=10)


def _append(port: int, *messages: bytes, context: ssl.SSLContext | None = None) -> None:
    client = imaplib.IMAP4("127.0.0.1", port)
    if context is not None:
        client.starttls(ssl_context=context)
    client.login(USER, PASSWORD)
    for raw in messages:
        typ, _ = client.append("INBOX", None, None, raw)
        assert typ == "OK"
    client.logout()


def _imap_settings(store: Store, port: int, tls: str = "none") -> Settings:
    return _settings(
        store,
        NCII_IMAP_HOST="127.0.0.1",
        NCII_IMAP_PORT=str(port),
        NCII_IMAP_USER=USER,
        NCII_IMAP_PASSWORD=PASSWORD,
        NCII_IMAP_TLS=tls,
    )


def test_replies_are_read_from_imap_once_each_and_left_unseen(
    store: Store, imap_server: Callable[..., int]
) -> None:
    port = imap_server()
    (a, a_mid, a_subject, _), (b, b_mid, b_subject, _) = _sent(
        store, [["https://host.test/a"], ["https://host.test/b"]]
    )
    _append(
        port,
        fixture("zendesk_ack.eml", SUBJECT=a_subject),
        fixture("bounce_dsn.eml", SUBJECT=b_subject, MSGID=b_mid),
        fixture("newsletter.eml"),
    )
    settings = _imap_settings(store, port)
    first = read_inbox(store, settings, imap=True)
    assert not first.errors and len(first.matched) == 2 and len(first.unmatched) == 1, first
    assert _notice(store, a).status == "acknowledged" and _events(store, b)[-1] == "bounced"
    again = read_inbox(store, settings, imap=True)
    assert again.skipped == 3 and not again.matched and not again.unmatched
    _append(port, fixture("removal_claim.eml", SUBJECT=a_subject, MSGID=a_mid))
    third = read_inbox(store, settings, imap=True)
    assert third.skipped == 3 and len(third.matched) == 1 and third.notices == [a]
    assert _events(store, a)[-1] == "removal_claimed"
    client = imaplib.IMAP4("127.0.0.1", port)
    client.login(USER, PASSWORD)
    client.select("INBOX", readonly=True)
    typ, unseen = client.search(None, "UNSEEN")
    assert typ == "OK" and len(unseen[0].split()) == 4, "the reader marks nothing seen"
    client.logout()


def test_imap_with_starttls_and_a_wrong_password(
    store: Store,
    imap_server: Callable[..., int],
    certificate: tuple[Path, Path],  # noqa: F811
) -> None:
    port = imap_server(tls=certificate)
    trusting = ssl.create_default_context(cafile=str(certificate[0]))
    ((a, a_mid, a_subject, _),) = _sent(store, [["https://host.test/a"]])
    _append(port, fixture("google_noreply.eml", SUBJECT=a_subject, MSGID=a_mid), context=trusting)
    settings = _imap_settings(store, port, tls="starttls")
    read = read_inbox(store, settings, imap=True, context=trusting)
    assert read.notices == [a] and _notice(store, a).status == "acknowledged"
    with pytest.raises(NciiError, match="could not connect"):  # the default trust store: not this cert
        read_inbox(store, settings, imap=True)
    wrong = _settings(
        store,
        NCII_IMAP_HOST="127.0.0.1",
        NCII_IMAP_PORT=str(port),
        NCII_IMAP_USER=USER,
        NCII_IMAP_PASSWORD="not the password",
        NCII_IMAP_TLS="starttls",
    )
    with pytest.raises(NciiError, match="refused the login"):
        read_inbox(store, wrong, imap=True, context=trusting)


def _tls_front(port: int, cert: tuple[Path, Path]) -> int:
    """Implicit TLS (IMAPS) in front of the plain server: what a provider's port 993 is."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*cert)
    listener = socket.create_server(("127.0.0.1", 0))

    def pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for end in (src, dst):
                with contextlib.suppress(OSError):
                    end.close()

    def serve() -> None:
        while True:
            try:
                raw, _ = listener.accept()
                client = context.wrap_socket(raw, server_side=True)
            except OSError:
                continue
            backend = socket.create_connection(("127.0.0.1", port))
            threading.Thread(target=pipe, args=(client, backend), daemon=True).start()
            threading.Thread(target=pipe, args=(backend, client), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    return int(listener.getsockname()[1])


def test_imaps_with_implicit_tls(
    store: Store,
    imap_server: Callable[..., int],
    certificate: tuple[Path, Path],  # noqa: F811
) -> None:
    port = imap_server()
    ((a, _, a_subject, _),) = _sent(store, [["https://host.test/a"]])
    _append(port, fixture("zendesk_ack.eml", SUBJECT=a_subject))
    settings = _imap_settings(store, _tls_front(port, certificate), tls="tls")
    trusting = ssl.create_default_context(cafile=str(certificate[0]))
    read = read_inbox(store, settings, imap=True, context=trusting)
    assert read.notices == [a] and _notice(store, a).status == "acknowledged"


def test_an_imap_server_that_is_not_there(store: Store) -> None:
    with pytest.raises(NciiError, match="could not connect"):
        read_inbox(store, _imap_settings(store, _free_port()), imap=True)
