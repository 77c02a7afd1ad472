"""What case workers hand over: zips (read in place, bounded), several exports, and what is refused.

Every refusal is one line with what to do, exits 2, and loses nothing already stored.
"""

from __future__ import annotations

import io
import json
import stat
import zipfile
from pathlib import Path

import pytest

from ncii_shield.errors import SourceError
from ncii_shield.sources import FolderSource, TelegramExport, open_source
from ncii_shield.sources.detect import detect, open_sources
from ncii_shield.sources.tree import DirTree, ZipLimits, ZipTree
from tests.conftest import ASSETS
from tests.exports import message, write_export
from tests.test_cli import run

PHOTO = (ASSETS / "obama.jpg").read_bytes()


def export_folder(root: Path, name: str = "ChatExport_2024-08-24", chat_id: int = 777) -> Path:
    folder = root / name
    write_export(
        folder,
        [message(1, photo="photos/a.jpg"), message(2, text="hello")],
        chat_id=chat_id,
        files={"photos/a.jpg": PHOTO},
    )
    return folder


def zip_folder(folder: Path, target: Path, *, top: str | None = None) -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                name = path.relative_to(folder).as_posix()
                archive.write(path, f"{top}/{name}" if top else name)
    return target


# ------------------------------------------------------------------------------------ zips read in place


@pytest.mark.parametrize("top", [None, "ChatExport_2024-08-24"])
def test_a_zipped_export_reads_like_its_folder(tmp_path: Path, top: str | None) -> None:
    folder = export_folder(tmp_path)
    archive = zip_folder(folder, tmp_path / "export.zip", top=top)
    with open_sources(archive) as opened:
        (source,) = opened.sources
        assert isinstance(source, TelegramExport)
        zipped = list(source.iter_items())
        assert source.tree.read_bytes(zipped[0].media_path or "") == PHOTO
    unzipped = list(TelegramExport(folder).iter_items())
    assert [(i.external_id, i.media_path, i.date) for i in zipped] == [
        (i.external_id, i.media_path, i.date) for i in unzipped
    ]


def test_nothing_is_extracted(tmp_path: Path) -> None:
    (tmp_path / "z").mkdir()
    archive = zip_folder(export_folder(tmp_path / "src"), tmp_path / "z" / "export.zip")
    before = {p for p in tmp_path.rglob("*")}
    with open_sources(archive) as opened:
        for source in opened.sources:
            list(source.iter_items())
    assert {p for p in tmp_path.rglob("*")} == before


def test_several_exports_side_by_side_are_all_found(tmp_path: Path) -> None:
    export_folder(tmp_path / "all", "ChatExport_2024-08-24", chat_id=1)
    export_folder(tmp_path / "all", "ChatExport_2024-08-31", chat_id=2)
    with open_sources(tmp_path / "all") as opened:
        assert [s.root.name for s in opened.sources] == ["ChatExport_2024-08-24", "ChatExport_2024-08-31"]  # type: ignore[attr-defined]
        assert any("2 exports side by side" in note for note in opened.notes)
    archive = zip_folder(tmp_path / "all", tmp_path / "all.zip")
    with open_sources(archive) as opened:
        assert len(opened.sources) == 2


def test_json_and_html_of_one_export_read_the_json(tmp_path: Path) -> None:
    folder = export_folder(tmp_path)
    (folder / "messages.html").write_text("<html></html>")
    with open_sources(folder) as opened:
        (source,) = opened.sources
        assert isinstance(source, TelegramExport)
        assert "the JSON is read" in opened.notes[0]


def test_plain_media_in_a_zip(tmp_path: Path) -> None:
    archive = tmp_path / "photos.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("saved/a.jpg", PHOTO)
        z.writestr("saved/no-extension", PHOTO)
        z.writestr("saved/.DS_Store", b"x")
    with open_sources(archive) as opened:
        (source,) = opened.sources
        assert isinstance(source, FolderSource)
        assert [i.media_path for i in source.iter_items()] == ["saved/a.jpg", "saved/no-extension"]


def test_korean_windows_member_names_are_decoded(tmp_path: Path) -> None:
    archive = tmp_path / "cp949.zip"
    with zipfile.ZipFile(archive, "w") as z:
        info = zipfile.ZipInfo("placeholder")
        z.writestr(info, PHOTO)
    raw = archive.read_bytes().replace(b"placeholder", "사진1.jpg".encode("cp949").ljust(11, b"_"))
    archive.write_bytes(raw)
    tree = ZipTree(archive)
    assert [name for name, _ in tree.files()] == ["사진1.jpg__"]


# ------------------------------------------------------------------------------------ refused, one line


def _bomb(path: Path) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("ChatExport/result.json", b"{" + b" " * (40 * 1024 * 1024) + b"}")
    return path


def _with_member(path: Path, name: str, data: bytes = b"x", mode: int | None = None, flags: int = 0) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("ChatExport/result.json", b'{"messages": []}')
        info = zipfile.ZipInfo(name)
        if mode is not None:
            info.external_attr = mode << 16
        z.writestr(info, data)
    if flags:  # zipfile will not write an encrypted member: set the flag in both headers by hand
        raw = bytearray(path.read_bytes())
        local = raw.rindex(b"PK\x03\x04")
        central = raw.rindex(b"PK\x01\x02")
        raw[local + 6] |= flags
        raw[central + 8] |= flags
        path.write_bytes(bytes(raw))
    return path


def _truncated(path: Path, folder: Path) -> Path:
    zip_folder(folder, path)
    path.write_bytes(path.read_bytes()[:-200])
    return path


REFUSALS = {
    "ratio bomb": (lambda t: _bomb(t / "bomb.zip"), "zip bomb"),
    "zip slip": (lambda t: _with_member(t / "slip.zip", "../../evil.jpg"), "leaves the archive"),
    "absolute": (lambda t: _with_member(t / "abs.zip", "/etc/cron.d/x"), "leaves the archive"),
    "symlink": (
        lambda t: _with_member(
            t / "link.zip", "ChatExport/photos/a.jpg", b"/etc/passwd", stat.S_IFLNK | 0o777
        ),
        "symbolic link",
    ),
    "encrypted": (lambda t: _with_member(t / "enc.zip", "ChatExport/photos/a.jpg", flags=0x1), "encrypted"),
    "truncated": (lambda t: _truncated(t / "cut.zip", export_folder(t / "src")), "not a readable zip"),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_crafted_zips_are_refused_before_anything_is_read(tmp_path: Path, case: str) -> None:
    make, reason = REFUSALS[case]
    with pytest.raises(SourceError, match=reason):
        open_source(make(tmp_path))


def test_absolute_size_and_member_count_are_bounded(tmp_path: Path) -> None:
    archive = zip_folder(export_folder(tmp_path), tmp_path / "e.zip")
    with pytest.raises(SourceError, match="unpacks to more than 1,000 bytes"):
        ZipTree(archive, ZipLimits(max_bytes=1000))
    with pytest.raises(SourceError, match="over the limit of 1"):
        ZipTree(archive, ZipLimits(max_members=1))


def test_overlapping_members_are_refused(tmp_path: Path) -> None:
    """Two central-directory entries pointing at one compressed stream (Fifield's overlapping bomb)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("a.jpg", PHOTO)
        z.writestr("b.jpg", PHOTO)
    raw = bytearray(buffer.getvalue())
    central = raw.index(b"PK\x01\x02")
    second = raw.index(b"PK\x01\x02", central + 4)
    raw[second + 42 : second + 46] = (0).to_bytes(4, "little")  # b.jpg's data "starts" where a.jpg's does
    (tmp_path / "overlap.zip").write_bytes(bytes(raw))
    with pytest.raises(SourceError, match="overlapping members"):
        ZipTree(tmp_path / "overlap.zip")


def test_a_folder_with_nothing_to_scan_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.txt").write_text("hello")
    with pytest.raises(SourceError, match=r"holds no Telegram export .* and no images or videos"):
        detect(DirTree(tmp_path / "notes"))


def test_refusals_through_the_cli_are_one_line_and_lose_nothing(tmp_path: Path) -> None:
    data = tmp_path / "d"
    assert run(data, "init").returncode == 0
    assert (
        run(
            data, "case", "open", "--pseudonym", "A", "--consent-by", "p", "--consent-method", "form"
        ).returncode
        == 0
    )
    assert run(data, "enrol", "1", str(ASSETS / "obama.jpg")).returncode == 0
    good = zip_folder(export_folder(tmp_path / "good"), tmp_path / "good.zip", top="ChatExport_2024-08-24")
    scanned = run(data, "scan", "1", str(good), "--workers", "1", "--json")
    assert scanned.returncode == 0, scanned.stderr
    assert json.loads(scanned.stdout)["new_hits"] == {"exact": 1, "pdq": 1, "face": 1}
    before = run(data, "hits", "1", "--json").stdout
    for case in sorted(REFUSALS):
        crafted, reason = REFUSALS[case]
        (tmp_path / case).mkdir()
        proc = run(data, "scan", "1", str(crafted(tmp_path / case)), "--workers", "1")
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        assert proc.returncode == 2, (case, proc.stderr)
        assert len(lines) == 2 and lines[0].startswith("error: ") and reason in lines[0], (case, lines)
        assert lines[1].startswith("hint: "), lines
        assert "Traceback" not in proc.stderr and "SELECT" not in proc.stderr
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.docx").write_bytes(b"PK-not-really")
    proc = run(data, "scan", "1", str(notes))
    assert proc.returncode == 2 and "no Telegram export" in proc.stderr
    assert run(data, "hits", "1", "--json").stdout == before


def test_fields_the_store_cannot_hold_skip_that_message_only(tmp_path: Path) -> None:
    """An id past int4 (PostgreSQL's column), a sender id of 10 KB: skipped or trimmed, the rest read."""
    from ncii_shield.scan.service import scan_path
    from tests.conftest import new_store

    store = new_store(tmp_path / "data")
    export = write_export(
        tmp_path / "e",
        [message(1, text="ok"), message(2**40, text="huge id"), message(3, sender="user" + "9" * 10_000)],
    )
    (result,) = scan_path(store, export.parent, case_id=None, workers=1).results
    assert result.status == "done" and result.items_seen == 3
    assert result.skip_reasons == {"message id 1099511627776 is out of range": 1}
    store.close()


def _damage(archive: Path, member_suffix: str) -> None:
    """Flip bytes in the middle of one member's compressed data: its CRC (or deflate stream) breaks."""
    with zipfile.ZipFile(archive) as z:
        info = next(i for i in z.infolist() if i.filename.endswith(member_suffix))
    raw = bytearray(archive.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    middle = start + info.compress_size // 2
    raw[middle : middle + 16] = bytes(b ^ 0xFF for b in raw[middle : middle + 16])
    archive.write_bytes(bytes(raw))


def test_a_damaged_member_skips_its_message_and_the_rest_is_read(tmp_path: Path) -> None:
    from ncii_shield.scan.service import scan_path
    from tests.conftest import new_store

    archive = zip_folder(export_folder(tmp_path), tmp_path / "e.zip", top="ChatExport_2024-08-24")
    _damage(archive, "photos/a.jpg")
    store = new_store(tmp_path / "data")
    (result,) = scan_path(store, archive, case_id=None, workers=1).results
    assert result.status == "done" and result.items_seen == 2 and result.media_new == 0
    assert [r for r in result.skip_reasons] == ["media file could not be read"]
    store.close()


def test_a_damaged_result_json_in_a_zip_is_a_partial_scan_not_a_traceback(tmp_path: Path) -> None:
    folder = tmp_path / "big"
    write_export(folder, [message(n, text="x" * 200 + str(n)) for n in range(1, 3000)])
    archive = zip_folder(folder, tmp_path / "e.zip")
    _damage(archive, "result.json")
    with open_sources(archive) as opened, pytest.raises(SourceError, match=r"damaged|malformed"):
        list(opened.sources[0].iter_items())


def test_an_item_the_store_refuses_is_kept_as_skipped_and_the_rest_is_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure no check foresaw fails its chunk's transaction: the chunk is stored item by item, the
    failing one as a skipped placeholder, and the scan reads on."""
    from datetime import datetime

    from ncii_shield.scan import pipeline
    from ncii_shield.sources.base import Item
    from ncii_shield.sources.tree import DirTree
    from tests.conftest import new_store

    class Reader:
        kind = "test"
        tree = DirTree(tmp_path)

        def describe(self) -> str:
            return "three messages, one the store refuses"

        def iter_items(self):  # type: ignore[no-untyped-def]
            for n in (1, 2, 3):
                # message 2's date has no zone: cleaned before it reaches the store, not an error
                date = datetime(2024, 8, 24, 21, n) if n == 2 else None
                yield Item(external_id=f"c/{n}", chat_id="1", message_id=n, text=str(n), date=date)

    real = pipeline._item_row

    def refuse_three(run, item, keys, media_id, skip):  # type: ignore[no-untyped-def]
        if item.message_id == 3:  # the placeholder has no message id: it is stored
            raise ValueError("a value the store cannot hold")
        return real(run, item, keys, media_id, skip)

    monkeypatch.setattr(pipeline, "_item_row", refuse_three)
    store = new_store(tmp_path / "data")
    result = pipeline.run_scan(store, Reader(), location=tmp_path, case_id=None, workers=1)
    assert (result.status, result.items_seen, result.items_new, result.items_skipped) == ("done", 3, 3, 1)
    assert dict(result.skip_reasons) == {
        "could not be stored (ValueError); the rest of the export was read": 1
    }
    assert result.chats[0].messages == 3
    store.close()
