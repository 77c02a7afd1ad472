"""Scanning: items with provenance, media decoded once, bad inputs skipped with a reason, no doubles."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select

from ncii_shield.cases.service import enrol, open_case
from ncii_shield.scan.match import match_case
from ncii_shield.scan.pipeline import run_scan
from ncii_shield.sources import open_source
from ncii_shield.store.db import Store
from ncii_shield.store.models import Case, Hit, Item, Media, Scan, Signal
from tests.conftest import ASSETS
from tests.exports import message, write_export
from tests.test_decode import _png_with_size


def _case(store: Store, photos: list[Path] | None = None) -> int:
    with store.session() as s:
        case = open_case(s, "Case A", consent_by="the person", consent_method="signed form")
        if photos:
            enrol(s, store, case, photos)
        return case.id


def _scan(store: Store, path: Path, case_id: int | None, workers: int = 1):  # type: ignore[no-untyped-def]
    return run_scan(store, open_source(path), location=path, case_id=case_id, workers=workers)


def _resized(path: Path, side: int) -> bytes:
    img = Image.open(path).convert("RGB")
    img.thumbnail((side, side))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=70)
    return buf.getvalue()


def _bad_export(root: Path) -> Path:
    good = (ASSETS / "obama.jpg").read_bytes()
    return write_export(
        root,
        [
            message(1, photo="photos/good.jpg", text="hello"),
            message(2, photo="photos/broken.jpg"),
            message(3, photo="photos/bomb.png"),
            message(4, photo="../outside.jpg"),
            message(5, photo="/etc/passwd"),
            message(6, photo="photos/text.jpg"),
            message(7, photo="(File not included. Change data exporting settings to download.)"),
            message(8, photo="photos/missing.jpg"),
            message(9, photo="photos/small.jpg", forwarded_from="Another room"),
            message(10, text="just text"),
        ],
        files={
            "photos/good.jpg": good,
            "photos/broken.jpg": good[: len(good) // 3],
            "photos/bomb.png": _png_with_size(60_000, 60_000),
            "photos/text.jpg": b"this is not an image\n",
            "photos/small.jpg": _resized(ASSETS / "obama.jpg", 400),
        },
    )


def test_bad_inputs_are_skipped_with_a_reason_and_the_scan_goes_on(store: Store, tmp_path: Path) -> None:
    (tmp_path / "outside.jpg").write_bytes((ASSETS / "obama.jpg").read_bytes())
    case_id = _case(store, [ASSETS / "obama.jpg"])
    result = _scan(store, _bad_export(tmp_path / "export"), case_id)
    assert result.status == "done" and result.items_seen == 10 and result.items_new == 10
    with store.session() as s:
        reasons = {i.message_id: i.skip_reason for i in s.scalars(select(Item))}
    assert reasons[1] is None and reasons[9] is None and reasons[10] is None
    assert "truncated" in reasons[2] or "corrupt" in reasons[2]
    assert "decompression bomb" in reasons[3]
    assert "unsafe media path" in reasons[4] and "unsafe media path" in reasons[5]
    assert "not an image" in reasons[6]
    assert "not included" in reasons[7]
    assert "missing from export" in reasons[8]
    assert all("\n" not in r for r in reasons.values() if r)
    assert result.items_skipped == 7
    with store.session() as s:
        hit_messages = {(i.message_id, h.kind) for h, i in s.execute(select(Hit, Item).join(Item)).all()}
    assert {(1, "exact"), (1, "pdq"), (1, "face"), (9, "pdq"), (9, "face")} <= hit_messages
    assert {m for m, _ in hit_messages} == {1, 9}, "the file outside the export must never be read"


def test_provenance_is_kept(store: Store, tmp_path: Path) -> None:
    case_id = _case(store, [ASSETS / "obama.jpg"])
    _scan(store, _bad_export(tmp_path / "export"), case_id)
    with store.session() as s:
        item = s.scalar(select(Item).where(Item.message_id == 9))
        assert item is not None
        assert (item.chat_id, item.chat_title, item.sender_id, item.forwarded_from) == (
            "777",
            "Test room",
            "user1001",
            "Another room",
        )
        assert (
            item.date is not None
            and item.date.tzinfo is not None
            and int(item.date.timestamp()) == 1_724_500_540
        )
        assert item.media_path == "photos/small.jpg"


def test_rescan_adds_nothing_twice(store: Store, tmp_path: Path) -> None:
    case_id = _case(store, [ASSETS / "obama.jpg"])
    export = _bad_export(tmp_path / "export")
    first = _scan(store, export, case_id)
    second = _scan(store, export, case_id)
    assert first.items_new == 10 and second.items_new == 0 and second.media_new == 0
    assert sum(second.new_hits.values()) == 0
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(Item)) == 10
        assert s.scalar(select(func.count()).select_from(Scan)) == 2


def test_same_media_in_many_messages_is_decoded_once(store: Store, tmp_path: Path) -> None:
    data = (ASSETS / "obama2.jpg").read_bytes()
    export = write_export(
        tmp_path / "e",
        [message(i, photo=f"photos/{i % 2}.jpg") for i in range(1, 7)],
        files={"photos/0.jpg": data, "photos/1.jpg": data},
    )
    result = _scan(store, export, None)
    assert result.media_new == 1
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(Media)) == 1
        assert s.scalar(select(func.count()).select_from(Signal).where(Signal.kind == "pdq")) == 1


def test_truncated_export_keeps_what_was_read(store: Store, tmp_path: Path) -> None:
    export = write_export(tmp_path / "e", [message(i, text=f"message {i}") for i in range(1, 200)])
    text = export.read_text()
    export.write_text(text[: len(text) // 2])
    result = _scan(store, export, None)
    assert result.status == "partial" and result.error is not None and "\n" not in result.error
    assert 50 < result.items_new < 199
    with store.session() as s:
        scan = s.get(Scan, result.scan_id)
        assert scan is not None and scan.status == "partial" and scan.error == result.error
        assert s.scalar(select(func.count()).select_from(Item)) == result.items_new


def test_enrolling_a_new_case_matches_the_backlog(store: Store, tmp_path: Path) -> None:
    _scan(store, _bad_export(tmp_path / "export"), None)
    case_id = _case(store)
    with store.session() as s:
        enrol(s, store, s.get(Case, case_id), [ASSETS / "obama2.jpg"])
        new = match_case(store, s, case_id)
    assert new["face"] == 2 and new["exact"] == 0, "obama2 differs from the posted photo: face route only"


def test_folder_source_with_worker_processes(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(_resized(ASSETS / "obama.jpg", 640))
    (folder / "b.jpg").write_bytes((ASSETS / "mate-Dune.jpg").read_bytes())
    (folder / "notes.txt").write_text("nothing to see")
    case_id = _case(store, [ASSETS / "obama.jpg"])
    result = _scan(store, folder, case_id, workers=2)
    assert result.items_new == 3 and result.media_new == 3
    with store.session() as s:
        hits = {(i.media_path, h.kind) for h, i in s.execute(select(Hit, Item).join(Item)).all()}
    assert hits == {("a.jpg", "pdq"), ("a.jpg", "face")}


def test_bad_export_loses_nothing_already_stored(store: Store, tmp_path: Path) -> None:
    case_id = _case(store, [ASSETS / "obama.jpg"])
    _scan(store, _bad_export(tmp_path / "good"), case_id)
    with store.session() as s:
        before_items = s.scalar(select(func.count()).select_from(Item))
        before_hits = sorted(s.execute(select(Hit.item_id, Hit.kind)).all())
    broken = write_export(tmp_path / "broken", [message(i, text="x") for i in range(1, 30)], chat_id=999)
    broken.write_text(broken.read_text()[:300])
    assert _scan(store, broken, case_id).status == "partial"
    not_export = tmp_path / "other" / "result.json"
    not_export.parent.mkdir()
    not_export.write_text('{"hello": "world"}')
    assert _scan(store, not_export, case_id).status == "partial"
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(Item).where(Item.chat_id == "777")) == before_items
        assert sorted(s.execute(select(Hit.item_id, Hit.kind)).all()) == before_hits


def test_export_over_the_size_limit_is_refused(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from ncii_shield.errors import SourceError

    export = write_export(tmp_path / "e", [message(i, text="x" * 100) for i in range(1, 20)])
    monkeypatch.setenv("NCII_MAX_EXPORT_BYTES", "1000")
    with pytest.raises(SourceError, match="over the limit"):
        open_source(export)
    monkeypatch.setenv("NCII_MAX_EXPORT_BYTES", "lots")
    with pytest.raises(SourceError, match="not a number"):
        open_source(export)
    monkeypatch.setenv("NCII_MAX_EXPORT_BYTES", str(10**9))
    assert open_source(export).kind == "telegram_export"


def test_scan_a_folder_with_a_name_that_is_not_utf8(store: Store, tmp_path: Path) -> None:
    import os

    folder = tmp_path / "unzipped"
    folder.mkdir()
    (folder / os.fsdecode(b"\xb9\xda-photo.jpg")).write_bytes(
        (ASSETS / "obama.jpg").read_bytes()
    )  # CP949 name
    case_id = _case(store, [ASSETS / "obama.jpg"])
    result = _scan(store, folder, case_id)
    assert result.items_new == 1 and result.media_new == 1 and result.new_hits["exact"] == 1
    with store.session() as s:
        assert s.scalar(select(Item.media_path)) == "%B9%DA-photo.jpg"
