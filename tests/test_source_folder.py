"""The folder source and `open_source`, on real files and symlinks in tmp_path."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ncii_shield.errors import SourceError
from ncii_shield.sources import folder as folder_module
from ncii_shield.sources import open_source
from ncii_shield.sources.folder import FolderSource
from ncii_shield.sources.telegram import TelegramExport


def make_files(root: Path, names: list[str]) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * (len(name) + 1))


def ids(source: FolderSource) -> list[str]:
    return [item.external_id for item in source.iter_items()]


def test_walks_recursively_in_sorted_order_with_relative_posix_ids(tmp_path: Path) -> None:
    make_files(tmp_path, ["b.jpg", "a/z.png", "a/b/c.mp4", "a.txt", "c/d/e.webp"])
    source = FolderSource(tmp_path)
    assert ids(source) == ["a/b/c.mp4", "a/z.png", "a.txt", "b.jpg", "c/d/e.webp"]
    assert source.root == tmp_path
    assert source.kind == "folder"
    assert source.describe() == f"Folder {tmp_path.name}"


def test_items_carry_path_kind_and_no_chat(tmp_path: Path) -> None:
    make_files(tmp_path, ["dir/photo.JPG"])
    (item,) = FolderSource(tmp_path).iter_items()
    assert item.external_id == item.media_path == "dir/photo.JPG"
    assert (item.kind, item.media_kind, item.media_mime) == ("file", "photo", "image/jpeg")
    assert item.chat_title is None
    assert item.date is None
    assert item.media_note is None
    assert item.extra["size"] == len("dir/photo.JPG") + 1


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("a.jpeg", "photo"),
        ("a.png", "photo"),
        ("a.gif", "photo"),
        ("a.bmp", "photo"),
        ("a.tif", "photo"),
        ("a.tiff", "photo"),
        ("a.heic", "photo"),
        ("a.webp", "sticker"),
        ("a.tgs", "sticker"),
        ("a.mp4", "video_file"),
        ("a.webm", "video_file"),
        ("a.MOV", "video_file"),
        ("a.mkv", "video_file"),
        ("notes.pdf", "file"),
        ("no_extension", "file"),
    ],
)
def test_media_kind_follows_the_extension_and_other_files_are_still_listed(
    tmp_path: Path, name: str, kind: str
) -> None:
    make_files(tmp_path, [name])
    (item,) = FolderSource(tmp_path).iter_items()
    assert item.media_kind == kind
    assert item.media_path == name


def test_hidden_files_and_folders_are_skipped(tmp_path: Path) -> None:
    make_files(tmp_path, [".DS_Store", ".cache/a.jpg", "ok/.hidden.jpg", "ok/shown.jpg"])
    assert ids(FolderSource(tmp_path)) == ["ok/shown.jpg"]


def test_symlink_pointing_outside_the_root_is_skipped(tmp_path: Path) -> None:
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    make_files(root, ["real.jpg"])
    make_files(outside, ["secret.jpg"])
    (root / "escape.jpg").symlink_to(outside / "secret.jpg")
    (root / "inside_link.jpg").symlink_to(root / "real.jpg")
    assert ids(FolderSource(root)) == ["inside_link.jpg", "real.jpg"]


def test_symlinked_folders_are_not_followed(tmp_path: Path) -> None:
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    make_files(root, ["sub/a.jpg"])
    make_files(outside, ["b.jpg"])
    (root / "linked_out").symlink_to(outside, target_is_directory=True)
    (root / "linked_in").symlink_to(root / "sub", target_is_directory=True)
    assert ids(FolderSource(root)) == ["sub/a.jpg"]


def test_broken_symlink_and_special_files_are_skipped(tmp_path: Path) -> None:
    make_files(tmp_path, ["a.jpg"])
    (tmp_path / "dangling.jpg").symlink_to(tmp_path / "missing.jpg")
    os.mkfifo(tmp_path / "pipe.jpg")
    assert ids(FolderSource(tmp_path)) == ["a.jpg"]


def test_a_single_file_is_its_own_source(tmp_path: Path) -> None:
    make_files(tmp_path, ["pics/one.png", "pics/two.png"])
    source = FolderSource(tmp_path / "pics" / "two.png")
    assert source.root == tmp_path / "pics"
    assert ids(source) == ["two.png"]
    assert source.describe() == "File two.png"


def test_missing_path_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="not found"):
        FolderSource(tmp_path / "nope")


def test_file_name_with_backslash_is_not_turned_into_another_path(tmp_path: Path) -> None:
    make_files(tmp_path, ["a\\b.jpg"])
    (item,) = FolderSource(tmp_path).iter_items()
    assert item.external_id == "a\\b.jpg"
    assert item.media_path is None
    assert item.media_note is not None and item.media_note.startswith("unsafe file name refused")


def test_unreadable_folder_is_reported_not_dropped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Simulated, because permissions do not stop root (tests often run as root in containers).
    make_files(tmp_path, ["locked/a.jpg", "open/b.jpg"])
    real_scandir = os.scandir

    def scandir(path: str | os.PathLike[str]) -> object:
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(folder_module.os, "scandir", scandir)
    items = list(FolderSource(tmp_path).iter_items())
    assert [i.external_id for i in items] == ["locked", "open/b.jpg"]
    assert items[0].media_path is None
    assert items[0].media_note == "could not be read: Permission denied"


# --- open_source -----------------------------------------------------------------------------------


def _export(folder: Path) -> Path:
    folder.mkdir(parents=True)
    result = folder / "result.json"
    result.write_text(json.dumps({"name": "R", "type": "private_group", "id": 1, "messages": []}))
    return result


def test_open_source_picks_telegram_for_result_json_or_its_folder(tmp_path: Path) -> None:
    result = _export(tmp_path / "export")
    by_file = open_source(result)
    by_folder = open_source(result.parent)
    assert isinstance(by_file, TelegramExport)
    assert isinstance(by_folder, TelegramExport)
    assert by_file.root == by_folder.root == result.parent


def test_open_source_falls_back_to_a_folder(tmp_path: Path) -> None:
    make_files(tmp_path, ["x/a.jpg", "other.json"])
    assert isinstance(open_source(tmp_path / "x"), FolderSource)
    # Anything that is neither an export nor media is refused with the reason, never "scanned" as one
    # skipped file that lets the case worker believe the export was read.
    with pytest.raises(SourceError, match=r"other\.json is not an export, an image or a video"):
        open_source(tmp_path / "other.json")
