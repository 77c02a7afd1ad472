"""One `Settings` object reads every NCII_* variable: checked once, secrets hidden, and what the Store is
given is what its parts use (not whatever the process environment says later)."""

from __future__ import annotations

import contextvars
from pathlib import Path

import pytest
from sqlalchemy import select

from ncii_shield.config import SettingError, Settings, load_settings, read_setting
from ncii_shield.errors import NciiError
from ncii_shield.sources.tree import ZipLimits
from ncii_shield.store import audit
from ncii_shield.store.crypto import KeySource
from ncii_shield.store.db import Store
from ncii_shield.store.models import AuditEvent
from ncii_shield.takedown.recheck import check_url
from ncii_shield.takedown.smtp import SmtpSettings, smtp_settings
from ncii_shield.web.scans import import_dir
from tests.conftest import TEST_KEY, new_store, sqlite_only


def test_secrets_stay_out_of_repr() -> None:
    secrets = {
        "NCII_KEY": "ab" * 32,
        "NCII_PASSPHRASE": "correct horse",
        "NCII_NEW_PASSPHRASE": "battery staple",
        "NCII_NEW_PASSWORD": "hunter2-long",
        "NCII_BUNDLE_PASSPHRASE": "bundle phrase",
        "NCII_SMTP_PASSWORD": "smtp-secret",
        "NCII_DATABASE_URL": "postgresql://shield:db-secret@db.example/ncii",
    }
    settings = load_settings("/tmp/x", environ=secrets)
    assert settings.key == bytes.fromhex("ab" * 32) and settings.new_password == "hunter2-long"
    assert (settings.passphrase, settings.bundle_passphrase) == ("correct horse", "bundle phrase")
    shown = repr(settings)
    assert not [v for v in (*secrets.values(), "db-secret") if v in shown], shown
    assert "db.example" in shown and "NCII" not in shown, "only the password is hidden from the URL"


@pytest.mark.parametrize(
    ("name", "value", "expects"),
    [
        ("NCII_SCAN_CHUNK", "many", "not a number of messages"),
        ("NCII_SCAN_CHUNK", "0", "not a number of messages"),
        ("NCII_ZIP_MAX_RATIO", "-1", "not a number above 0"),
        ("NCII_ZIP_MAX_MEMBERS", "lots", "not a number of members"),
        ("NCII_TIMEZONE", "Mars/Olympus", "not a time zone"),
        ("NCII_RECHECK_ALLOW", "10.0.0.0/8, nonsense", "'nonsense' is not a network"),
        ("NCII_SMTP_PORT", "70000", "not a port number"),
        ("NCII_SMTP_SSL", "perhaps", "not a yes/no value"),
        ("NCII_KEY", "not-a-key-but-a-secret", "is not a key"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_variable(name: str, value: str, expects: str) -> None:
    with pytest.raises(SettingError) as caught:
        load_settings("/tmp/x", environ={name: value})
    message = str(caught.value)
    assert isinstance(caught.value, NciiError) and caught.value.exit_code == 2
    assert message.startswith(f"{name} ") and expects in message and "\n" not in message, message
    assert name != "NCII_KEY" or value not in message, "a secret is never echoed"


@sqlite_only("asserts that the default database is ncii.db in the data directory")
def test_unset_and_empty_mean_the_default() -> None:
    default = load_settings("/tmp/x", environ={})
    blank = load_settings(
        "/tmp/x", environ={"NCII_SCAN_CHUNK": "", "NCII_SMTP_STARTTLS": " ", "NCII_KEY": ""}
    )
    assert default == blank
    assert (default.scan_chunk, default.timezone, default.max_export_bytes) == (
        64,
        "Asia/Seoul",
        64 * 1024**3,
    )
    assert default.database_url == f"sqlite:///{Path('/tmp/x').resolve() / 'ncii.db'}"
    assert ZipLimits.from_settings(default) == ZipLimits()
    assert read_setting("scan_chunk", {"NCII_SCAN_CHUNK": "4"}) == 4


def test_the_store_uses_the_settings_it_was_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The key, the audit actor and the import folder come from the Settings handed to the Store."""
    for name in ("NCII_KEY", "NCII_KEY_FILE", "NCII_PASSPHRASE", "NCII_ACTOR", "NCII_IMPORT_DIR"):
        monkeypatch.delenv(name, raising=False)
    new_store(tmp_path / "d").close()
    given = {"NCII_KEY": TEST_KEY.hex(), "NCII_ACTOR": "svc-ingest", "NCII_IMPORT_DIR": str(tmp_path / "in")}
    store = Store(load_settings(tmp_path / "d", environ=given))
    try:
        assert import_dir(store) == tmp_path / "in"

        def record() -> None:
            with store.session() as session:
                audit.record(session, "settings.checked")

        contextvars.Context().run(record)  # no web user in this context
        with store.session() as session:
            event = session.scalars(select(AuditEvent).where(AuditEvent.action == "settings.checked")).one()
        assert event.actor == "svc-ingest"
    finally:
        store.close()
    with pytest.raises(NciiError):  # without the key the Settings named, the directory stays shut
        Store(load_settings(tmp_path / "d", environ={}))
    opened = Store(load_settings(tmp_path / "d", environ={}), key=KeySource(key=TEST_KEY))
    assert import_dir(opened) == opened.settings.data_dir / "imports"
    opened.close()


def test_smtp_settings_come_from_the_settings() -> None:
    settings = load_settings(
        "/tmp/x",
        environ={"NCII_SMTP_HOST": "mail.example", "NCII_SMTP_FROM": "a@b.example", "NCII_SMTP_SSL": "1"},
    )
    assert smtp_settings(settings) == SmtpSettings("mail.example", 465, "a@b.example", ssl=True)
    with pytest.raises(NciiError, match="NCII_SMTP_FROM not set"):
        smtp_settings(Settings(data_dir=Path("/tmp/x"), database_url="sqlite://", smtp_host="h"))


def test_a_recheck_uses_the_allowed_ranges_it_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    """Given `allowed`, the environment is not consulted (a bad NCII_RECHECK_ALLOW there is not read)."""
    monkeypatch.setenv("NCII_RECHECK_ALLOW", "not-a-network")
    refused = check_url("http://127.0.0.1:9/", retries=0, allowed=())
    assert refused.status == "unknown" and "loopback" in (refused.error or "")
    unread = check_url("http://127.0.0.1:9/", retries=0)
    assert unread.status == "unknown" and "NCII_RECHECK_ALLOW" in (unread.error or "")
