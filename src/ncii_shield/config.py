"""Settings: every ``NCII_*`` environment variable, read once, checked, and passed down.

This is the one module that reads the environment (tests/test_docs.py fails on a read anywhere else), so a
setting cannot hide in a corner of the code, be read at import time, or be read twice with two meanings.
`load_settings()` reads them all into one frozen `Settings`; the entry points make it once and hand it to
the `Store` (``store.settings``), and each part takes its values from there. A bad value stops start-up
with one line naming the variable and what it expects. Each field carries its variable and a one-line
description (`describe()`), which the docs test checks README.md against. Standard library only: the CLI
imports this before anything else.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from ncii_shield.config_parse import (  # each variable's parser; five names re-exported (__all__)
    KEY_BYTES,
    Network,
    _blob_url,
    _choice,
    _count,
    _endpoint,
    _flag,
    _hosts,
    _networks,
    _path,
    _port,
    _ratio,
    _secret,
    _text,
    _trusted_flagger,
    _zone,
    decode_key,
    parse_networks,
    trusted_flagger_parts,
)
from ncii_shield.errors import NciiError

__all__ = [
    "DEFAULT_DATA_DIR",
    "DEFAULT_TIMEZONE",
    "KEY_BYTES",
    "Network",
    "SettingError",
    "Settings",
    "decode_key",
    "describe",
    "load_settings",
    "parse_networks",
    "read_setting",
    "trusted_flagger_parts",
    "variable",
    "without_password",
]

DEFAULT_DATA_DIR = "./ncii-data"
# Old Telegram exports write local times with no zone; NCII_TIMEZONE or --export-timezone names it.
DEFAULT_TIMEZONE = "Asia/Seoul"
DEFAULT_MAX_EXPORT_BYTES = 64 * 1024**3  # a result.json beyond 64 GiB is refused unless the limit is raised
DEFAULT_ZIP_MAX_BYTES = 64 * 1024**3  # total uncompressed size of a zip
DEFAULT_ZIP_MAX_MEMBERS = 500_000
DEFAULT_ZIP_MAX_RATIO = 250.0  # uncompressed/compressed, for members over 1 MiB; deflate tops out near 1,030
DEFAULT_SCAN_CHUNK = 64  # items per scan transaction
DEFAULT_UPLOAD_MAX_MB = (
    4096  # the largest export a browser may upload (MiB); bigger ones go in the import folder
)
DEFAULT_TELEGRAM_MAX_MEDIA_BYTES = 64 * 1024**2  # a larger file in a watched chat is recorded, not fetched


class SettingError(NciiError):
    """An ``NCII_*`` variable holds a value it cannot take."""


# ----------------------------------------------------------------------------------------- settings

_KEY_HINT = "use 64 hex characters (e.g. `openssl rand -hex 32`)"


def _setting(
    variable: str,
    about: str,
    default: Any = None,
    *,
    parse: Callable[[str], Any] = _text,
    secret: bool = False,
    hint: str | None = None,
) -> Any:
    """A field read from `variable`; `about` is its one line in the docs."""
    meta = {"variable": variable, "about": about, "parse": parse, "secret": secret, "hint": hint}
    return field(default=default, metadata=meta)


@dataclass(frozen=True, repr=False)
class Settings:
    """Everything the environment configures. Secrets are kept out of repr() so they never reach a log."""

    data_dir: Path = field(
        metadata={"variable": "NCII_DATA_DIR", "about": "the data directory (default ./ncii-data)"}
    )
    database_url: str = field(
        metadata={
            "variable": "NCII_DATABASE_URL",
            "about": "another database than the SQLite file in the data directory (e.g. PostgreSQL)",
        }
    )
    blob_url: str | None = _setting(
        "NCII_BLOB_URL",
        "where media blobs live: unset = <data dir>/blobs; file:///path = a directory elsewhere (e.g. a shared"
        " filesystem); s3://bucket/prefix = S3-compatible object storage (credentials from the AWS chain)",
        parse=_blob_url,
        hint="e.g. file:///mnt/shared/ncii-blobs or s3://ncii-blobs/prod",
    )
    s3_endpoint: str | None = _setting(
        "NCII_S3_ENDPOINT",
        "the S3-compatible server for s3:// blobs (e.g. http://minio:9000); unset: AWS's, or AWS_ENDPOINT_URL",
        parse=_endpoint,
        hint="e.g. https://s3.example.org or http://127.0.0.1:9000",
    )
    key: bytes | None = _setting(
        "NCII_KEY", "the deployment key, hex", parse=decode_key, secret=True, hint=_KEY_HINT
    )
    key_file: Path | None = _setting(  # noqa: RUF009 (a field; paths are immutable)
        "NCII_KEY_FILE", "a file holding the deployment key", parse=_path
    )
    passphrase: str | None = _setting(
        "NCII_PASSPHRASE", "the passphrase the deployment key is derived from", parse=_secret, secret=True
    )
    new_passphrase: str | None = _setting(
        "NCII_NEW_PASSPHRASE", "the new passphrase for `keys rotate`", parse=_secret, secret=True
    )
    new_password: str | None = _setting(
        "NCII_NEW_PASSWORD", "the password for `user add` (else asked twice)", parse=_secret, secret=True
    )
    bundle_passphrase: str | None = _setting(
        "NCII_BUNDLE_PASSPHRASE",
        "the passphrase of originals in an evidence bundle (`evidence export --media encrypted`)",
        parse=_secret,
        secret=True,
    )
    actor: str | None = _setting(
        "NCII_ACTOR", "the name the audit log gives a service account's actions (default: the OS user)"
    )
    timezone: str = _setting(
        "NCII_TIMEZONE",
        "the zone assumed for old exports' offset-less dates (default Asia/Seoul)",
        DEFAULT_TIMEZONE,
        parse=_zone,
        hint="give an IANA name such as Asia/Seoul, Europe/London or UTC",
    )
    max_export_bytes: int = _setting(
        "NCII_MAX_EXPORT_BYTES",
        "the largest result.json accepted (default 64 GiB)",
        DEFAULT_MAX_EXPORT_BYTES,
        parse=_count("a number of bytes"),
    )
    zip_max_bytes: int = _setting(
        "NCII_ZIP_MAX_BYTES",
        "the most a zip may unpack to (default 64 GiB)",
        DEFAULT_ZIP_MAX_BYTES,
        parse=_count("a number of bytes"),
    )
    zip_max_members: int = _setting(
        "NCII_ZIP_MAX_MEMBERS",
        "the most members a zip may have (default 500,000)",
        DEFAULT_ZIP_MAX_MEMBERS,
        parse=_count("a number of members"),
    )
    zip_max_ratio: float = _setting(
        "NCII_ZIP_MAX_RATIO",
        "the highest compression ratio of a zip member over 1 MiB (default 250)",
        DEFAULT_ZIP_MAX_RATIO,
        parse=_ratio,
    )
    scan_chunk: int = _setting(
        "NCII_SCAN_CHUNK",
        "messages per scan transaction (default 64)",
        DEFAULT_SCAN_CHUNK,
        parse=_count("a number of messages"),
    )
    face_detail: str = _setting(
        "NCII_FACE_DETAIL",
        "how hard scans look for faces: standard (upright from ~40 px, turned from ~80 px) or fine (from ~28 and"
        " ~40 px, ~4x the detection time)",
        "standard",
        parse=_choice("standard", "fine"),
        hint="set {name} to standard or fine",
    )
    cluster: str | None = _setting(
        "NCII_CLUSTER",
        "run scans' media work on a Dask cluster: a scheduler address (tcp://host:8786) or local:N (N local"
        " workers); unset: a local process pool",
    )
    import_dir: Path | None = _setting(  # noqa: RUF009 (a field; paths are immutable)
        "NCII_IMPORT_DIR",
        "the folder the web app offers exports from (default <data dir>/imports)",
        parse=_path,
    )
    upload_max_mb: int = _setting(
        "NCII_UPLOAD_MAX_MB",
        "the largest export a case worker may upload from the browser, in MiB (default 4096)",
        DEFAULT_UPLOAD_MAX_MB,
        parse=_count("a number of MiB"),
    )
    reporter_org: str | None = _setting(
        "NCII_REPORTER_ORG", "who reports, in notices (`takedown draft --org`)"
    )
    reporter_email: str | None = _setting(
        "NCII_REPORTER_EMAIL", "where platforms answer, in notices (`takedown draft --email`)"
    )
    trusted_flagger: str | None = _setting(
        "NCII_TRUSTED_FLAGGER",
        "the organisation's trusted-flagger status under DSA Art. 22: the awarding Digital Services "
        "Coordinator and the date (e.g. 'Coimisiún na Meán, 2025-03-01'); printed in notices to EU platforms",
        parse=_trusted_flagger,
        hint="set {name} to '<Digital Services Coordinator>, <YYYY-MM-DD>', or leave it empty",
    )
    smtp_host: str | None = _setting("NCII_SMTP_HOST", "the SMTP server notices are sent through")
    smtp_port: int | None = _setting(
        "NCII_SMTP_PORT",
        "its port (default 465 with SSL, 587 with STARTTLS, else 25)",
        parse=_port,
        hint="e.g. 587 or 465",
    )
    smtp_from: str | None = _setting("NCII_SMTP_FROM", "the sender of notices")
    smtp_user: str | None = _setting("NCII_SMTP_USER", "the SMTP login")
    smtp_password: str | None = _setting("NCII_SMTP_PASSWORD", "its password", parse=_secret, secret=True)
    smtp_starttls: bool = _setting(
        "NCII_SMTP_STARTTLS",
        "1 to upgrade the connection with STARTTLS (port 587)",
        False,
        parse=_flag,
        hint="set {name} to 1 or 0",
    )
    smtp_ssl: bool = _setting(
        "NCII_SMTP_SSL", "1 for implicit TLS (port 465)", False, parse=_flag, hint="set {name} to 1 or 0"
    )
    imap_host: str | None = _setting("NCII_IMAP_HOST", "the IMAP server replies to notices are read from")
    imap_port: int | None = _setting(
        "NCII_IMAP_PORT",
        "its port (default 993 with TLS, 143 with STARTTLS or none)",
        parse=_port,
        hint="e.g. 993 or 143",
    )
    imap_user: str | None = _setting("NCII_IMAP_USER", "the IMAP login")
    imap_password: str | None = _setting("NCII_IMAP_PASSWORD", "its password", parse=_secret, secret=True)
    imap_folder: str = _setting(
        "NCII_IMAP_FOLDER", "the IMAP folder replies arrive in (default INBOX)", "INBOX"
    )
    imap_tls: str = _setting(
        "NCII_IMAP_TLS",
        "tls (implicit, port 993; the default), starttls (port 143) or none (only to a loopback server)",
        "tls",
        parse=_choice("tls", "starttls", "none"),
        hint="set {name} to tls, starttls or none",
    )
    inbox_maildir: Path | None = _setting(  # noqa: RUF009 (a field; paths are immutable)
        "NCII_INBOX_MAILDIR", "a Maildir replies to notices are read from (instead of IMAP)", parse=_path
    )
    inbox_max_bytes: int = _setting(
        "NCII_INBOX_MAX_BYTES",
        "the largest reply read whole (default 5 MiB); bigger ones are kept, by their headers, for a human",
        5 * 1024**2,
        parse=_count("a number of bytes"),
    )
    telegram_api_id: int | None = _setting(
        "NCII_TELEGRAM_API_ID",
        "the monitor account's Telegram API id (my.telegram.org), for `watch-chats`",
        parse=_count("a number (the api_id from my.telegram.org)"),
    )
    telegram_api_hash: str | None = _setting(
        "NCII_TELEGRAM_API_HASH",
        "its API hash, for `watch-chats`",
        parse=_secret,
        secret=True,
    )
    telegram_max_media_bytes: int = _setting(
        "NCII_TELEGRAM_MAX_MEDIA_BYTES",
        "the largest file `watch-chats run` downloads from a chat (default 64 MiB)",
        DEFAULT_TELEGRAM_MAX_MEDIA_BYTES,
        parse=_count("a number of bytes"),
    )
    recheck_allow: tuple[Network, ...] = _setting(
        "NCII_RECHECK_ALLOW",
        "address ranges rechecks may reach besides the public internet (e.g. 10.1.0.0/16)",
        (),
        parse=_networks,
        hint="comma-separated networks, e.g. 127.0.0.0/8",
    )
    crawl_allow: tuple[Network, ...] = _setting(
        "NCII_CRAWL_ALLOW",
        "address ranges `crawl` may reach besides the public internet (e.g. 127.0.0.1/32 for a local test"
        " site); loopback, private, link-local and reserved addresses are refused otherwise",
        (),
        parse=_networks,
        hint="comma-separated networks, e.g. 127.0.0.1/32",
    )
    crawl_hosts: tuple[str, ...] = _setting(
        "NCII_CRAWL_HOSTS",
        "if set, the only hosts `crawl` fetches from (comma-separated; example.org covers its subdomains)",
        (),
        parse=_hosts(networks_too=False),
        hint="comma-separated host names, e.g. example.org,cdn.example.net",
    )
    crawl_deny: tuple[str, ...] = _setting(
        "NCII_CRAWL_DENY",
        "hosts and address ranges `crawl` never fetches from (comma-separated; a host covers its subdomains)",
        (),
        parse=_hosts(networks_too=True),
        hint="comma-separated host names or networks, e.g. ads.example.org,203.0.113.0/24",
    )
    hma_exact: bool = _setting(
        "NCII_HMA_EXACT",
        "1: the HMA API answers exactly as HMA where it is stricter by default (partial matching ratios, "
        "unknown banks in ?banks=)",
        False,
        parse=_flag,
        hint="set {name} to 1 or 0",
    )

    @property
    def blob_dir(self) -> Path | None:
        """The directory of blob files: <data dir>/blobs, or NCII_BLOB_URL's file:// one; None when blobs
        are objects in S3-compatible storage (store/blobs.py `open_blob_store` picks the backend)."""
        if self.blob_url is None:
            return self.data_dir / "blobs"
        if self.blob_url.startswith("file:"):
            return Path(unquote(urlsplit(self.blob_url).path))
        return None

    @property
    def upload_dir(self) -> Path:
        """Exports uploaded from the browser, per case, until their scan has read them (web/uploads.py)."""
        return self.data_dir / "uploads"

    def __repr__(self) -> str:
        shown = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.metadata.get("secret") and value is not None:
                text = "'***'"
            elif f.name == "database_url":
                text = repr(without_password(value))
            else:
                text = repr(value)
            shown.append(f"{f.name}={text}")
        return f"Settings({', '.join(shown)})"


def without_password(url: str, mask: str = "***") -> str:
    """A database URL with its password masked (for a repr), or left out with ``mask=""`` (for a task)."""
    return re.sub(r"(://[^/:@]*):[^/@]*@", rf"\1{':' + mask if mask else ''}@", url)


def describe() -> Iterator[tuple[str, str, str]]:
    """(field, variable, one-line description) of every setting, in the order they are declared."""
    for f in fields(Settings):
        yield f.name, f.metadata["variable"], f.metadata["about"]


def variable(name: str) -> str:
    """The environment variable of the setting `name` (for hints: "set NCII_SMTP_HOST")."""
    return Settings.__dataclass_fields__[name].metadata["variable"]


def read_setting(name: str, environ: Mapping[str, str] | None = None) -> Any:
    """One setting from the environment, for callers given no `Settings` (library use, tests)."""
    f = Settings.__dataclass_fields__[name]
    if "parse" not in f.metadata:
        return getattr(load_settings(environ=environ), name)
    return _read(f.metadata, os.environ if environ is None else environ, f.default)


def _read(meta: Mapping[str, Any], environ: Mapping[str, str], default: Any) -> Any:
    name = meta["variable"]
    raw = environ.get(name, "")
    if not (raw if meta["parse"] is _secret else raw.strip()):
        return default  # an empty variable is an unset one
    try:
        value = meta["parse"](raw)
    except ValueError as exc:
        hint = meta["hint"]
        raise SettingError(f"{name} {exc}", hint=hint.format(name=name) if hint else None) from None
    return default if value is None else value


def load_settings(data_dir: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Every setting, from `environ` (default: the process environment); `data_dir` beats NCII_DATA_DIR.

    NCII_DATABASE_URL selects another database (e.g. PostgreSQL); NCII_BLOB_URL moves the media elsewhere.
    """
    env = os.environ if environ is None else environ
    chosen = Path(data_dir or env.get("NCII_DATA_DIR") or DEFAULT_DATA_DIR).expanduser().resolve()
    url = env.get("NCII_DATABASE_URL") or f"sqlite:///{chosen / 'ncii.db'}"
    values = {f.name: _read(f.metadata, env, f.default) for f in fields(Settings) if "parse" in f.metadata}
    return Settings(data_dir=chosen, database_url=url, **values)
