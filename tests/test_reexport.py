"""The same room exported again a week later: only what is new is added, no hit is duplicated."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from ncii_shield.demo.html_export import write_html_export, zip_export
from ncii_shield.scan.service import scan_path
from ncii_shield.store.db import Store
from ncii_shield.store.models import Hit, Item, SourceChat
from tests.conftest import ASSETS, cli_env
from tests.exports import message, write_export
from tests.test_scan import _case

OBAMA = (ASSETS / "obama.jpg").read_bytes()
OTHER = (ASSETS / "mate-Dune.jpg").read_bytes()


def _export(root: Path, count: int, *, changed: int | None = None) -> Path:
    """Messages 1..count; every third carries the person's photo; `changed` shows another photo."""
    messages, files = [], {}
    for n in range(1, count + 1):
        if n % 3 == 0:
            path = f"photos/photo_{n}{'_edited' if n == changed else ''}.jpg"
            messages.append(message(n, photo=path))
            files[path] = OTHER if n == changed else OBAMA
        else:
            messages.append(message(n, text=f"message {n}"))
    return write_export(root, messages, files=files).parent


def _hits(store: Store) -> int:
    with store.session() as s:
        return s.scalar(select(func.count()).select_from(Hit)) or 0


def test_a_reexport_adds_exactly_the_new_messages(store: Store, tmp_path: Path) -> None:
    case_id = _case(store, [ASSETS / "obama.jpg"])
    first = scan_path(store, _export(tmp_path / "ChatExport_2024-08-24", 20), case_id=case_id, workers=1)
    hits = _hits(store)
    assert first.results[0].items_new == 20 and hits == 6 * 3  # 6 photos x exact, pdq, face

    second = scan_path(store, _export(tmp_path / "ChatExport_2024-08-31", 23), case_id=case_id, workers=1)
    (result,) = second.results
    (chat,) = result.chats
    assert (result.items_new, result.items_repeated) == (3, 20)
    assert (chat.new, chat.repeated, chat.previous_export) == (3, 20, "2024-08-24")
    assert _hits(store) == hits + 3, "one new photo (message 21): three routes, nothing duplicated"


def test_a_reexport_as_html_or_zip_is_the_same_chat(store: Store, tmp_path: Path) -> None:
    """Week 1 as JSON, week 2 as the app's default HTML, zipped: the HTML has no chat id, the title ties them."""
    case_id = _case(store, [ASSETS / "obama.jpg"])
    scan_path(store, _export(tmp_path / "ChatExport_2024-08-24", 20), case_id=case_id, workers=1)
    hits = _hits(store)
    html = write_html_export(_export(tmp_path / "json2", 23), tmp_path / "html", messages_per_page=7)
    archive = zip_export(html, tmp_path / "ChatExport_2024-08-31.zip", top="ChatExport_2024-08-31")
    (result,) = scan_path(store, archive, case_id=case_id, workers=1).results
    assert (result.items_new, result.items_repeated) == (3, 20)
    assert result.chats[0].previous_export == "2024-08-24"
    assert _hits(store) == hits + 3


def test_a_message_whose_media_changed_keeps_both_linked(store: Store, tmp_path: Path) -> None:
    case_id = _case(store, [ASSETS / "obama.jpg"])
    scan_path(store, _export(tmp_path / "ChatExport_2024-08-24", 12), case_id=case_id, workers=1)
    (result,) = scan_path(
        store, _export(tmp_path / "ChatExport_2024-08-31", 12, changed=6), case_id=case_id, workers=1
    ).results
    assert (result.items_new, result.items_repeated, result.chats[0].changed) == (1, 11, 1)
    with store.session() as s:
        versions = s.execute(
            select(Item.id, Item.previous_id).where(Item.message_id == 6).order_by(Item.id)
        ).all()
        assert len(versions) == 2 and versions[1].previous_id == versions[0].id
        rows = s.execute(
            select(SourceChat.source_id, SourceChat.messages, SourceChat.new, SourceChat.changed)
        ).all()
    assert sorted(tuple(r)[1:] for r in rows) == [(12, 0, 1), (12, 12, 0)]  # (read, new, changed)


def test_scanning_the_same_reexport_twice_adds_nothing(store: Store, tmp_path: Path) -> None:
    case_id = _case(store, [ASSETS / "obama.jpg"])
    scan_path(store, _export(tmp_path / "ChatExport_2024-08-24", 9), case_id=case_id, workers=1)
    again = _export(tmp_path / "ChatExport_2024-08-31", 12)
    scan_path(store, again, case_id=case_id, workers=1)
    hits = _hits(store)
    (result,) = scan_path(store, again, case_id=case_id, workers=1).results
    assert result.items_new == 0 and result.chats[0].new == 3, "the export's own count stays right"
    assert _hits(store) == hits


def test_the_cli_says_how_many_messages_are_new_since_which_export(tmp_path: Path) -> None:
    data = tmp_path / "d"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ncii_shield.cli.main", "--data-dir", str(data), *args],
            capture_output=True,
            text=True,
            env=cli_env(),
        )

    run("init")
    run("case", "open", "--pseudonym", "A", "--consent-by", "p", "--consent-method", "form")
    assert (
        run("scan", "1", str(_export(tmp_path / "ChatExport_2024-08-24", 10)), "--workers", "1").returncode
        == 0
    )
    proc = run("scan", "1", str(_export(tmp_path / "ChatExport_2024-08-31", 13)), "--workers", "1")
    assert proc.returncode == 0, proc.stderr
    assert "chat Test room: 3 new messages since the export of 2024-08-24 (10 already seen)" in proc.stdout
    listed = json.loads(run("sources", "--json").stdout)
    assert [s["chats"][0]["new"] for s in listed] == [10, 3]


def test_an_old_exports_assumed_zone_is_recorded_and_shown_in_the_evidence(
    store: Store, tmp_path: Path
) -> None:
    """No date_unixtime (Telegram Desktop before ~2021): the scan assumes a zone, says so, keeps it."""
    from ncii_shield.evidence.assemble import build_report_data
    from ncii_shield.store.models import Source

    case_id = _case(store, [ASSETS / "obama.jpg"])
    old = message(3, photo="photos/p.jpg", date="2021-03-01T21:03:11")
    del old["date_unixtime"]
    folder = write_export(tmp_path / "old", [old], files={"photos/p.jpg": OBAMA}).parent
    (result,) = scan_path(store, folder, case_id=case_id, workers=1, timezone="Europe/Berlin").results
    assert result.dates_assumed == 1 and result.new_hits
    with store.session() as s:
        assert s.scalar(select(Source.assumed_timezone)) == "Europe/Berlin"
        assert s.scalar(select(Item.date)).isoformat() == "2021-03-01T20:03:11+00:00"
        data = build_report_data(s, store.blobs, case_id)
    sources = {s.source for group in data.groups for copy in group.copies for s in copy.sightings}
    assert sources == {"Telegram export old; date had no time zone, read as Europe/Berlin"}


def test_two_rooms_that_share_a_title_stay_apart(store: Store, tmp_path: Path) -> None:
    """Both JSON exports carry ids, and they differ: same title, same message id and date, other room."""
    case_id = _case(store, [ASSETS / "obama.jpg"])
    one = write_export(tmp_path / "a", [message(1, text="x")], chat_id=1, name="3반").parent
    two = write_export(tmp_path / "b", [message(1, text="x")], chat_id=2, name="3반").parent
    shifted = write_export(tmp_path / "c", [message(1, text="x")], chat_id=1 + 2**33, name="3반").parent
    assert scan_path(store, one, case_id=case_id, workers=1).results[0].items_new == 1
    assert scan_path(store, two, case_id=case_id, workers=1).results[0].items_new == 1
    # An old app version wrote the same channel's id with its type shift: the same room.
    assert scan_path(store, shifted, case_id=case_id, workers=1).results[0].items_repeated == 1


def test_a_repeated_message_id_is_stored_not_dropped(store: Store, tmp_path: Path) -> None:
    """A hand-edited or damaged export repeats an id: the second message (here her photo) still counts."""
    case_id = _case(store, [ASSETS / "obama.jpg"])
    export = write_export(
        tmp_path / "e",
        [message(5, text="first"), message(5, photo="photos/p.jpg"), message(6, text="next")],
        files={"photos/p.jpg": OBAMA},
    ).parent
    (result,) = scan_path(store, export, case_id=case_id, workers=1).results
    assert (result.items_seen, result.items_new) == (3, 3)
    assert result.new_hits == {"exact": 1, "pdq": 1, "face": 1}
    html = write_html_export(export, tmp_path / "html")
    fresh = _case(store, [ASSETS / "obama.jpg"])
    assert scan_path(store, html, case_id=fresh, workers=1).results[0].items_seen == 3


def test_rooms_sharing_a_title_are_not_called_earlier_exports_of_each_other(
    store: Store, tmp_path: Path
) -> None:
    scan_path(store, write_export(tmp_path / "a", [message(1)], chat_id=1, name="test").parent, case_id=None)
    (result,) = scan_path(
        store, write_export(tmp_path / "b", [message(2)], chat_id=2, name="test").parent, case_id=None
    ).results
    assert result.chats[0].previous_export is None
