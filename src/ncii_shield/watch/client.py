"""The monitor account's Telethon client: made from the settings and the sealed StringSession.

The synchronous flavour (`telethon.sync`) is used so the runner is plain code that tests drive with a fake
client exposing the same calls (get_entity, iter_messages, download_media, and calling a request).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ncii_shield.config import Settings
from ncii_shield.errors import NciiError, Unavailable
from ncii_shield.store.db import Store
from ncii_shield.watch.service import load_session, save_session


def api_credentials(settings: Settings) -> tuple[int, str]:
    """(api id, api hash), or one line saying which settings to set."""
    if settings.telegram_api_id is None or not settings.telegram_api_hash:
        raise NciiError(
            "NCII_TELEGRAM_API_ID and NCII_TELEGRAM_API_HASH must be set to use watch-chats",
            hint="create an application for the monitor account at my.telegram.org and set both",
        )
    return settings.telegram_api_id, settings.telegram_api_hash


def connect(store: Store) -> Any:
    """A connected client on the stored session (Unavailable if `watch-chats login` was never run)."""
    api_id, api_hash = api_credentials(store.settings)
    session = load_session(store)
    from telethon.sessions import StringSession
    from telethon.sync import TelegramClient

    try:
        stored = StringSession(session)
    except ValueError as exc:  # binascii.Error included: the sealed value opened, but is no session
        raise NciiError(
            "the stored Telegram session cannot be read", hint="run `watch-chats login` again"
        ) from exc
    client = TelegramClient(stored, api_id, api_hash)
    try:
        client.connect()
    except (ConnectionError, OSError, TimeoutError) as exc:
        raise Unavailable(
            f"cannot reach Telegram ({type(exc).__name__}: {exc})"[:200],
            hint="check the network; `watch-chats run` under systemd restarts and resumes by itself",
        ) from exc
    if not client.is_user_authorized():
        client.disconnect()
        raise NciiError(
            "the stored Telegram session is no longer valid", hint="run `watch-chats login` again"
        )
    return client


def login(
    store: Store,
    *,
    phone: Callable[[], str],
    code: Callable[[], str],
    password: Callable[[], str],
) -> str:
    """Interactive login through Telethon's start() (phone, code, 2FA password); stores the session sealed.

    Returns the account's name for the operator to check. The session lives only in memory until sealed."""
    api_id, api_hash = api_credentials(store.settings)
    from telethon.sessions import StringSession
    from telethon.sync import TelegramClient

    client = TelegramClient(StringSession(), api_id, api_hash)
    try:
        client.start(phone=phone, code_callback=code, password=password)
        me = client.get_me()
        account = " ".join(p for p in (me.first_name, me.last_name) if p) or str(me.id)
        if me.username:
            account += f" (@{me.username})"
        save_session(store, client.session.save(), account)
        return account
    finally:
        client.disconnect()
