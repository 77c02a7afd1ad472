"""The demo export is deterministic, looks like a Telegram Desktop export, and its ground truth is true.

The ground truth promises which route (exact hash, PDQ, face) finds each media file. These tests measure
every promise with the reference tools (pdqhash, dlib HOG + ResNet embeddings), so a scan that disagrees
with the ground truth is the scan's bug, not the demo's.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any

import av
import dlib
import face_recognition_models
import numpy as np
import pdqhash
import pytest
from PIL import Image

from ncii_shield.demo.build import (
    ASSETS,
    ENROLLED_ASSETS,
    FACE_BOXES,
    LABELS,
    PLACEHOLDER,
    ROUTES,
    DemoGroundTruth,
    ExpectedMedia,
    build_demo,
    read_ground_truth,
)
from ncii_shield.errors import NciiError

PDQ_MATCH = 31  # the PDQ match threshold
PDQ_MARGIN = 24  # what PDQ-route copies must reach, so a slightly different decode path still matches
PDQ_MIN_QUALITY = 50
FACE_MATCH = 0.5  # Euclidean distance between 128-d embeddings: same person below this
FACE_OTHER = 0.6  # other people must stay at or above this
FACE_MAX_SIDE = 1024  # faces are detected on the image downscaled to this longest side


# ------------------------------------------------------------------------------------------------
# Measuring tools


def _decode(path: Path) -> Image.Image:
    """RGB image of a media file: stickers flattened onto white, videos by their first frame."""
    if path.suffix == ".mp4":
        with av.open(str(path)) as container:
            frame = next(container.decode(video=0))
            return frame.to_image().convert("RGB")
    with Image.open(path) as im:
        im.load()
        if im.mode in ("RGBA", "LA", "P"):
            rgba = im.convert("RGBA")
            flat = Image.new("RGB", rgba.size, (255, 255, 255))
            flat.paste(rgba, mask=rgba.getchannel("A"))
            return flat
        return im.convert("RGB")


def _pdq(im: Image.Image) -> tuple[np.ndarray, int]:
    bits, quality = pdqhash.compute(np.asarray(im))
    return bits.astype(bool), int(quality)


@functools.cache
def _enrolled_dihedral() -> tuple[np.ndarray, ...]:
    """The 8 dihedral PDQ hashes of every enrolled photo (full RGB decode)."""
    hashes: list[np.ndarray] = []
    for name in ENROLLED_ASSETS:
        bits, _ = pdqhash.compute_dihedral(np.asarray(_decode(ASSETS / name)))
        hashes.extend(h.astype(bool) for h in bits)
    return tuple(hashes)


def _pdq_distance(im: Image.Image) -> tuple[int, int]:
    """Min Hamming distance to the enrolled dihedral hashes, and the image's PDQ quality."""
    bits, quality = _pdq(im)
    return min(int(np.count_nonzero(bits != ref)) for ref in _enrolled_dihedral()), quality


@functools.cache
def _face_models() -> tuple[Any, Any, Any]:
    detector = dlib.get_frontal_face_detector()
    shape = dlib.shape_predictor(face_recognition_models.pose_predictor_five_point_model_location())
    encoder = dlib.face_recognition_model_v1(face_recognition_models.face_recognition_model_location())
    return detector, shape, encoder


def _faces(im: Image.Image) -> list[tuple[tuple[int, int, int, int], np.ndarray]]:
    """HOG boxes (in the downscaled image) and 128-d embeddings of every face found."""
    detector, shape, encoder = _face_models()
    scale = FACE_MAX_SIDE / max(im.size)
    if scale < 1:
        im = im.resize((round(im.width * scale), round(im.height * scale)), Image.Resampling.LANCZOS)
    arr = np.asarray(im)
    out = []
    for rect in detector(arr, 1):
        emb = np.array(encoder.compute_face_descriptor(arr, shape(arr, rect), 1))
        out.append(((rect.left(), rect.top(), rect.right(), rect.bottom()), emb))
    return out


@functools.cache
def _enrolled_embeddings() -> tuple[np.ndarray, ...]:
    embs = []
    for name in ENROLLED_ASSETS:
        faces = _faces(_decode(ASSETS / name))
        assert len(faces) == 1, f"{name}: expected one face, found {len(faces)}"
        embs.append(faces[0][1])
    return tuple(embs)


def _face_distances(im: Image.Image) -> list[tuple[float, float]]:
    """For each detected face: box width in the image's own pixels, distance to the nearest enrolled face."""
    refs = _enrolled_embeddings()
    scale = max(im.size) / min(FACE_MAX_SIDE, max(im.size))
    return [
        ((box[2] - box[0]) * scale, min(float(np.linalg.norm(emb - r)) for r in refs))
        for box, emb in _faces(im)
    ]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _load_export(export_dir: Path) -> dict[str, Any]:
    raw = (export_dir / "result.json").read_text(encoding="utf-8")
    return json.loads(raw.replace("\\x07", "\\u0007"))


def _media_path(msg: dict[str, Any]) -> str | None:
    return msg.get("photo") or msg.get("file")


# ------------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoGroundTruth:
    return build_demo(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="module")
def export(demo: DemoGroundTruth) -> dict[str, Any]:
    return _load_export(demo.export_dir)


@pytest.fixture(scope="module")
def measured(demo: DemoGroundTruth) -> dict[str, dict[str, Any]]:
    """PDQ distance, quality and face distances of every media file, measured once for all tests."""
    out: dict[str, dict[str, Any]] = {}
    for m in demo.media:
        im = _decode(demo.export_dir / m.path)
        dist, quality = _pdq_distance(im)
        faces = _face_distances(im) if m.route == "face" or not m.expect_hit else []
        out[m.path] = {
            "pdq": dist,
            "quality": quality,
            "faces": [d for _, d in faces],
            "face_widths": [w for w, _ in faces],
        }
    return out


def _by_route(demo: DemoGroundTruth, route: str | None, expect_hit: bool = True) -> list[ExpectedMedia]:
    items = [m for m in demo.media if m.route == route and m.expect_hit == expect_hit]
    assert items, f"no media with route {route!r}"
    return items


# ------------------------------------------------------------------------------------------------
# Determinism and layout


def test_two_builds_are_byte_identical(demo: DemoGroundTruth, tmp_path: Path) -> None:
    """Same seed, same bytes: the demo can be a regression fixture and a reproducible walkthrough."""
    first = demo.export_dir.parent
    second = tmp_path / "again"
    build_demo(second)

    def digests(root: Path) -> dict[str, str]:
        return {p.relative_to(root).as_posix(): _sha256(p) for p in sorted(root.rglob("*")) if p.is_file()}

    assert digests(first) == digests(second)


def test_another_seed_changes_chat_but_not_media(demo: DemoGroundTruth, tmp_path: Path) -> None:
    other = build_demo(tmp_path / "seed8", seed=8)
    assert (other.export_dir / "result.json").read_bytes() != (demo.export_dir / "result.json").read_bytes()
    mine = sorted(_sha256(demo.export_dir / m.path) for m in demo.media)
    theirs = sorted(_sha256(other.export_dir / m.path) for m in other.media)
    assert mine == theirs


def test_rebuilds_over_an_earlier_demo_but_not_over_other_files(
    demo: DemoGroundTruth, tmp_path: Path
) -> None:
    again = tmp_path / "rebuild"
    build_demo(again)
    (again / "export" / "photos" / "stray.jpg").write_bytes(b"left over")
    gt = build_demo(again)
    assert not (again / "export" / "photos" / "stray.jpg").exists()
    assert (gt.export_dir / "result.json").read_bytes() == (demo.export_dir / "result.json").read_bytes()

    foreign = tmp_path / "foreign"
    (foreign / "export").mkdir(parents=True)
    with pytest.raises(NciiError, match="not an earlier demo build"):
        build_demo(foreign)
    assert (foreign / "export").is_dir()


def test_ground_truth_file_round_trips(demo: DemoGroundTruth) -> None:
    assert read_ground_truth(demo.export_dir.parent) == demo


def test_enrol_photos_are_the_assets_outside_the_export(demo: DemoGroundTruth) -> None:
    assert [p.name for p in demo.enrol_photos] == list(ENROLLED_ASSETS)
    for p in demo.enrol_photos:
        assert p.read_bytes() == (ASSETS / p.name).read_bytes()
        assert demo.export_dir not in p.parents


def test_export_structure(demo: DemoGroundTruth, export: dict[str, Any]) -> None:
    chats = export["chats"]["list"]
    assert [c["name"] for c in chats] == list(demo.chats)
    assert [c["type"] for c in chats] == ["private_supergroup", "public_channel", "private_group"]
    messages = [m for c in chats for m in c["messages"]]
    assert 250 <= len(messages) <= 350
    with_media = [m for m in messages if _media_path(m)]
    assert 60 <= len(with_media) <= 90
    placeholders = [m for m in with_media if _media_path(m) == PLACEHOLDER]
    assert len(placeholders) == demo.missing_placeholders == 3

    for chat in chats:
        ids = [m["id"] for m in chat["messages"]]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)
        unix = [int(m["date_unixtime"]) for m in chat["messages"]]
        assert unix == sorted(unix)
        assert all(isinstance(m["date_unixtime"], str) for m in chat["messages"])

    paths = {_media_path(m) for m in with_media} - {PLACEHOLDER}
    assert paths == {m.path for m in demo.media}, "ground truth must list each media file once"
    for path in paths:
        assert (demo.export_dir / path).is_file(), path
    on_disk = {p.relative_to(demo.export_dir).as_posix() for p in demo.export_dir.rglob("*") if p.is_file()}
    assert on_disk == paths | {"result.json"}


def test_export_has_the_parser_corner_cases(demo: DemoGroundTruth, export: dict[str, Any]) -> None:
    raw = (demo.export_dir / "result.json").read_text(encoding="utf-8")
    with pytest.raises(json.JSONDecodeError):
        json.loads(raw)  # Telegram's \x07 escape is invalid JSON, on purpose
    assert raw.count("\\x07") == 2  # once in `text`, once in `text_entities` of the same message

    messages = [m for c in export["chats"]["list"] for m in c["messages"]]
    actions = Counter(m.get("action") for m in messages if m["type"] == "service")
    for action in ("create_group", "invite_members", "join_group_by_link", "pin_message"):
        assert actions[action] >= 1, action
    assert any(m["type"] == "message" and m["from"] is None for m in messages)
    assert any("reply_to_message_id" in m for m in messages)
    assert any("edited" in m for m in messages)
    assert any(isinstance(m["text"], str) and m["text"] for m in messages)
    hidden = [
        part["href"]
        for m in messages
        if isinstance(m["text"], list)
        for part in m["text"]
        if isinstance(part, dict) and part.get("type") == "text_link"
    ]
    assert "https://t.me/+AbCdEf123" in hidden
    assert all(
        "t.me/+" not in part
        for m in messages
        if isinstance(m["text"], list)
        for part in m["text"]
        if isinstance(part, str)
    )
    bell = [m for m in messages if isinstance(m["text"], str) and "\x07" in m["text"]]
    assert len(bell) == 1


def test_media_spread_across_chats(demo: DemoGroundTruth, export: dict[str, Any]) -> None:
    """Reposts reuse the file path; forwards carry forwarded_from; hits show up in several chats."""
    chats_of: dict[str, set[str]] = {}
    forwards = 0
    for chat in export["chats"]["list"]:
        for m in chat["messages"]:
            path = _media_path(m)
            if path and path != PLACEHOLDER:
                chats_of.setdefault(path, set()).add(chat["name"])
                forwards += "forwarded_from" in m
    assert forwards >= 10
    spread = [m for m in demo.media if m.expect_hit and len(chats_of[m.path]) >= 2]
    assert len(spread) >= 10
    assert any(len(chats_of[m.path]) == 3 for m in demo.media)


def test_media_kinds_match_telegram_folders(demo: DemoGroundTruth, export: dict[str, Any]) -> None:
    folders = {"photos", "files", "stickers", "animations", "video_files"}
    assert {m.path.split("/", 1)[0] for m in demo.media} == folders
    for chat in export["chats"]["list"]:
        for m in chat["messages"]:
            if "file" in m:
                kind = m.get("media_type")
                folder = m["file"].split("/", 1)[0]
                assert {
                    "sticker": "stickers",
                    "animation": "animations",
                    "video_file": "video_files",
                    None: "files",
                }[kind] == folder
    for m in demo.media:
        if m.path.endswith(".mp4"):
            size = (demo.export_dir / m.path).stat().st_size
            assert size < 300_000
            with av.open(str(demo.export_dir / m.path)) as container:
                frames = list(container.decode(video=0))
            assert len(frames) == 10 and max(frames[0].width, frames[0].height) == 480
        if m.path.startswith("stickers/"):
            with Image.open(demo.export_dir / m.path) as im:
                assert im.format == "WEBP" and im.mode == "RGBA" and max(im.size) == 512


def test_labels_and_routes_are_known(demo: DemoGroundTruth) -> None:
    labels = Counter(m.label for m in demo.media)
    assert set(labels) <= set(LABELS)
    assert set(labels) == set(LABELS)  # the demo shows every case
    for m in demo.media:
        assert m.route in (*ROUTES, None)
        assert m.expect_hit == (m.route is not None)
        assert (ASSETS / m.source_asset).is_file()
    assert 6 <= labels["composite"] <= 8
    assert 8 <= labels["unrelated"] <= 10


# ------------------------------------------------------------------------------------------------
# The ground truth is true


def test_face_boxes_are_what_hog_finds() -> None:
    """The builder's hard-coded face boxes must be dlib's, or composites land off the face."""
    for name, box in FACE_BOXES.items():
        found = [b for b, _ in _faces(_decode(ASSETS / name))]
        assert box in found, f"{name}: {box} not in {found}"


def test_exact_route(demo: DemoGroundTruth) -> None:
    enrolled = {_sha256(p) for p in demo.enrol_photos}
    for m in _by_route(demo, "exact"):
        assert _sha256(demo.export_dir / m.path) in enrolled, m
    for m in demo.media:
        if m.route != "exact":
            assert _sha256(demo.export_dir / m.path) not in enrolled, m


def test_pdq_route(demo: DemoGroundTruth, measured: dict[str, dict[str, Any]]) -> None:
    for m in _by_route(demo, "pdq"):
        got = measured[m.path]
        assert got["quality"] >= PDQ_MIN_QUALITY, (m, got)
        assert got["pdq"] <= PDQ_MARGIN, (m, got)


def test_everything_else_is_beyond_pdq(demo: DemoGroundTruth, measured: dict[str, dict[str, Any]]) -> None:
    """Face-route media and non-hits must not be found by PDQ, or the route claims are wrong."""
    for m in demo.media:
        if m.route in ("face", None):
            assert measured[m.path]["pdq"] > PDQ_MATCH, (m, measured[m.path])


def test_face_route(demo: DemoGroundTruth, measured: dict[str, dict[str, Any]]) -> None:
    for m in _by_route(demo, "face"):
        faces = measured[m.path]["faces"]
        assert faces and min(faces) < FACE_MATCH, (m, faces)


def test_other_people_are_not_matched(demo: DemoGroundTruth, measured: dict[str, dict[str, Any]]) -> None:
    for m in _by_route(demo, None, expect_hit=False):
        faces = measured[m.path]["faces"]
        if m.label in ("other_face", "other_face_composite"):
            assert faces, f"{m.path}: another person's face must be detected to test the negative"
        assert all(d >= FACE_OTHER for d in faces), (m, faces)


def test_composite_face_sizes(demo: DemoGroundTruth, measured: dict[str, dict[str, Any]]) -> None:
    """Pasted faces span the sizes a scan meets: small in a big photo up to close-ups."""
    widths = []
    for m in demo.media:
        if m.label == "composite":
            got = measured[m.path]
            best = min(range(len(got["faces"])), key=lambda i: got["faces"][i])
            widths.append(got["face_widths"][best])
    assert min(widths) < 110 and max(widths) > 220, widths
    assert all(80 <= w <= 280 for w in widths), widths
