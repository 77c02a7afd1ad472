"""A scan's work per message does not grow with the export: re-exports and chat summaries of many chats.

Every chat numbers its messages from 1, so looking a message up by its id alone reads that message of every
chat stored; summarising chats one query at a time costs a pass per chat. These tests hold the results of
many-chat re-exports exact and the number of SELECTs a scan issues independent of the number of chats
(bench/scan_scale.py --messages measures the time).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import event, select

from ncii_shield.demo.html_export import write_html_export
from ncii_shield.scan.service import scan_path
from ncii_shield.store.db import Store
from ncii_shield.store.models import Item
from tests.exports import message


def _account_export(root: Path, chats: int, per_chat: int, *, extra: int = 0, first_id: int = 5000) -> Path:
    """A whole-account JSON export: `chats` chats, messages 1..per_chat (+ extra) in each."""
    root.mkdir(parents=True)
    doc = {
        "about": f"test export {root.name}",
        "chats": {
            "list": [
                {
                    "name": f"Room {c}",
                    "type": "private_supergroup",
                    "id": first_id + c,
                    "messages": [
                        message(m, text=f"room {c} message {m}") for m in range(1, per_chat + extra + 1)
                    ],
                }
                for c in range(chats)
            ]
        },
    }
    (root / "result.json").write_text(json.dumps(doc), encoding="utf-8")
    return root


@contextmanager
def _selects(store: Store) -> Iterator[Counter[str]]:
    counts: Counter[str] = Counter()

    def count(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        counts[statement.lstrip().split(None, 1)[0].upper()] += 1

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        yield counts
    finally:
        event.remove(store.engine, "before_cursor_execute", count)


def test_a_reexport_of_many_chats_finds_each_message_in_its_own_chat(store: Store, tmp_path: Path) -> None:
    first = scan_path(store, _account_export(tmp_path / "ChatExport_2024-08-24", 12, 5), case_id=None)
    assert first.results[0].items_new == 60
    again = _account_export(tmp_path / "ChatExport_2024-08-31", 12, 5, extra=1)
    (result,) = scan_path(store, again, case_id=None).results
    assert (result.items_new, result.items_repeated) == (12, 60)
    assert len(result.chats) == 12
    for chat in result.chats:
        assert (chat.messages, chat.new, chat.repeated, chat.previous_export) == (6, 1, 5, "2024-08-24")
    with store.session() as session:  # each repeated message is linked to nothing: its media did not change
        assert session.scalar(select(Item.id).where(Item.previous_id.is_not(None))) is None


def test_an_html_reexport_of_many_chats_is_matched_by_title(store: Store, tmp_path: Path) -> None:
    """HTML carries no chat ids: the keyed title hash finds each chat's earlier messages."""
    export = _account_export(tmp_path / "ChatExport_2024-08-24", 3, 4)
    scan_path(store, export, case_id=None)
    html = write_html_export(_account_export(tmp_path / "later", 3, 4, extra=2), tmp_path / "html")
    (result,) = scan_path(store, html, case_id=None).results
    assert (result.items_new, result.items_repeated) == (6, 12)
    assert sorted((c.new, c.repeated, c.previous_export) for c in result.chats) == [(2, 4, "2024-08-24")] * 3


def test_the_selects_of_a_scan_do_not_grow_with_the_number_of_chats(store: Store, tmp_path: Path) -> None:
    """The same 240 messages in 4 chats or in 80: chat summaries and the re-export look-ups are per export
    and per chunk of messages, not per chat."""
    selects = []
    for chats in (4, 80):
        first = _account_export(
            tmp_path / f"c{chats}" / "ChatExport_2024-08-24", chats, 240 // chats, first_id=chats * 1000
        )
        later = _account_export(
            tmp_path / f"c{chats}" / "ChatExport_2024-08-31",
            chats,
            240 // chats,
            extra=1,
            first_id=chats * 1000,
        )
        scan_path(store, first, case_id=None)
        with _selects(store) as counts:
            (result,) = scan_path(store, later, case_id=None).results
        assert result.items_repeated == 240
        selects.append(counts["SELECT"])
    few, many = selects
    assert many <= few + 10, f"{few} SELECTs for 4 chats, {many} for 80"
