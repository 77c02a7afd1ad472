"""Videos and animations: sampling, per-frame signals, and finding a reference video or a clip of it.

Every video here is a benign slideshow (slow zooms and pans over the bundled nature photos, and
letterboxed official portraits) encoded with PyAV. The "copies" are what a re-upload does: cut,
scaled down, re-timed to another frame rate and re-encoded at a lower quality.
"""

from __future__ import annotations

import io
import itertools
import random
from collections.abc import Iterator
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from ncii_shield.demo.slideshow import cut as _cut
from ncii_shield.demo.slideshow import decoded as _decoded
from ncii_shield.demo.slideshow import encode as _encode
from ncii_shield.demo.slideshow import render as _render
from ncii_shield.demo.slideshow import timeline as _timeline
from ncii_shield.errors import MediaError
from ncii_shield.media.decode import decode_image
from ncii_shield.media.video import SCENE_THRESHOLD, VideoReader, sample_frames
from ncii_shield.signals.faces import SAME_PERSON_DISTANCE, STANDARD, detect_faces, face_distances
from ncii_shield.signals.pdq import pdq_hash
from ncii_shield.signals.video import (
    REFERENCE_EVERY_SECONDS,
    FrameHash,
    VideoSignals,
    match_video,
    video_signals,
)
from tests.conftest import ASSETS

Size = tuple[int, int]
Scene = tuple[str, float, str]  # asset, seconds, "zoom" | "pan" | "fit" (letterboxed portrait)

REFERENCE: list[Scene] = [
    ("mate-Aqua.jpg", 5, "zoom"),
    ("obama.jpg", 5, "fit"),
    ("mate-Elephants.jpg", 5, "pan"),
    ("mate-LadyBird.jpg", 5, "zoom"),
]
BEFORE: list[Scene] = [("mate-Dune.jpg", 9, "pan"), ("mate-Garden.jpg", 9, "zoom"), ("biden.jpg", 9, "fit")]
AFTER: list[Scene] = [
    ("mate-Storm.jpg", 9, "zoom"),
    ("mate-YellowFlower.jpg", 9, "pan"),
    ("mate-GreenMeadow.jpg", 9, "zoom"),
]
REF_SIZE, REF_FPS = (480, 270), 20
COPY_SIZE, COPY_FPS = (320, 180), 10


@pytest.fixture(scope="module")
def reference_mp4() -> bytes:
    return _encode(_timeline(REFERENCE, REF_SIZE, REF_FPS), REF_SIZE, REF_FPS)


@pytest.fixture(scope="module")
def reference_frames(reference_mp4: bytes) -> list[tuple[float, Image.Image]]:
    return _decoded(reference_mp4)


@pytest.fixture(scope="module")
def reference(reference_mp4: bytes) -> list[FrameHash]:
    """What enrolment stores for a reference video: dense per-frame PDQ."""
    return video_signals(reference_mp4, every_seconds=REFERENCE_EVERY_SECONDS, faces=False).hashes()


@pytest.fixture(scope="module")
def before() -> list[Image.Image]:
    return list(_timeline(BEFORE, COPY_SIZE, COPY_FPS))


@pytest.fixture(scope="module")
def after() -> list[Image.Image]:
    return list(_timeline(AFTER, COPY_SIZE, COPY_FPS))


# --------------------------------------------------------------------------------------------------
# Sampling


def test_one_frame_a_second_and_one_at_each_cut(reference_mp4: bytes) -> None:
    frames = sample_frames(reference_mp4)
    assert [f.timestamp for f in frames] == [float(s) for s in range(20)]
    assert frames[0].reason == "first"
    assert [f.timestamp for f in frames if f.reason == "scene"] == [5.0, 10.0, 15.0]
    assert all(f.scene_score >= SCENE_THRESHOLD for f in frames if f.reason == "scene")
    assert all(f.scene_score < SCENE_THRESHOLD for f in frames if f.reason == "interval")
    assert frames[3].rgb.shape == (270, 480, 3) and frames[3].rgb.dtype == np.uint8
    assert len(sample_frames(reference_mp4, every_seconds=0.5)) == 40


def test_a_cut_off_the_grid_restarts_the_clock() -> None:
    scenes: list[Scene] = [("mate-Aqua.jpg", 2.3, "zoom"), ("mate-Storm.jpg", 3.0, "pan")]
    frames = sample_frames(_encode(_timeline(scenes, (160, 90), 30), (160, 90), 30))
    assert [(round(f.timestamp, 2), f.reason) for f in frames] == [
        (0.0, "first"),
        (1.0, "interval"),
        (2.0, "interval"),
        (2.3, "scene"),  # sampled at the cut, 0.3 s after the previous frame ...
        (3.3, "interval"),  # ... and the one-second clock runs from the cut
        (4.3, "interval"),
    ]


def test_variable_frame_rate_is_sampled_by_timestamp() -> None:
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height = 64, 48
        stream.pix_fmt = "yuv420p"
        stream.time_base = stream.codec_context.time_base = Fraction(1, 1000)
        for ms in [0, 100, 150, 900, 2700, 2750, 3900, 4000, 4100]:
            frame = av.VideoFrame.from_ndarray(
                np.full((48, 64, 3), 100 + ms // 100, np.uint8), format="rgb24"
            )
            frame.pts, frame.time_base = ms, Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    # 2.7 s is the first frame after 1 s; a frame that late restarts the clock, so 3.9 is next, not 4.0.
    assert [f.timestamp for f in sample_frames(buf.getvalue())] == [0.0, 2.7, 3.9]


def test_rotation_metadata_is_applied() -> None:
    """A phone stores portrait video sideways with a display rotation; faces are only found upright."""
    upright = np.asarray(_render("obama.jpg", 0, 1, (270, 480), "fit"))
    sideways = np.rot90(upright, k=-1)  # the stored pixels: 480 wide, 270 high
    data = _encode([sideways] * 3, (480, 270), 10, rotation=90)
    with VideoReader(data) as reader:
        frames = list(reader.frames())
        assert (reader.info.rotation, reader.info.width, reader.info.height) == (90, 270, 480)
    assert frames[0].rgb.shape == (480, 270, 3)
    assert np.abs(frames[0].rgb.astype(int) - upright).mean() < 8
    assert detect_faces(frames[0].rgb)
    assert not detect_faces(
        np.ascontiguousarray(sideways), replace(STANDARD, turns=())
    )  # the upright pass alone misses it
    assert detect_faces(frames[0].rgb)[0].tilt == 0  # with the rotation applied the face is upright


def test_a_long_video_is_capped_and_says_so() -> None:
    frames = []
    for i in range(700):  # 700 s at one frame a second
        im = np.full((48, 64, 3), 60, np.uint8)
        im[:, (i % 60) : (i % 60) + 4] = 220
        frames.append(im)
    data = _encode(frames, (64, 48), 1)
    with VideoReader(data) as reader:
        sampled = list(reader.frames())
        assert reader.capped
    assert len(sampled) == 600 and sampled[-1].timestamp == 599.0
    signals = video_signals(data, faces=False)
    assert signals.capped and len(signals.frames) == 600
    with VideoReader(data) as reader:
        assert len(list(reader.frames(max_frames=700))) == 700 and not reader.capped


# --------------------------------------------------------------------------------------------------
# Bad input


def test_corrupt_truncated_and_empty_videos_are_refused(reference_mp4: bytes) -> None:
    with pytest.raises(MediaError, match="empty"):
        sample_frames(b"")
    for bad in (reference_mp4[: len(reference_mp4) // 2], b"\x00\x00\x00\x18ftypisom" + bytes(4000)):
        with pytest.raises(MediaError) as info:
            video_signals(bad)
        assert "\n" not in info.value.message
    head = bytearray(reference_mp4)
    head[: len(head) // 3] = bytes(len(head) // 3)
    with pytest.raises(MediaError):
        sample_frames(bytes(head))


def test_an_audio_file_has_no_video_stream() -> None:
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4") as container:
        stream = container.add_stream("aac", rate=16000)
        for i in range(10):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 16000, i * 1024
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    with pytest.raises(MediaError, match="no video stream"):
        sample_frames(buf.getvalue())


def test_a_cut_off_download_keeps_its_frames_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "faststart.mp4"  # index up front: the way streamed files are written
    with av.open(str(path), mode="w", format="mp4", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height = 160, 90
        stream.pix_fmt = "yuv420p"
        for im in _timeline([("mate-Aqua.jpg", 10, "pan")], (160, 90), 10):
            container.mux(stream.encode(av.VideoFrame.from_image(im)))
        container.mux(stream.encode(None))
    data = path.read_bytes()
    with VideoReader(data[: len(data) * 6 // 10]) as reader:
        frames = list(reader.frames())
        assert reader.damaged is not None and "truncated" in reader.damaged
    assert 2 <= len(frames) < 10
    with VideoReader(data) as reader:
        assert len(list(reader.frames())) == 10 and reader.damaged is None


# --------------------------------------------------------------------------------------------------
# Signals


def test_faces_are_found_on_sampled_frames_of_a_slideshow(reference_mp4: bytes) -> None:
    signals = video_signals(reference_mp4)
    assert (signals.width, signals.height, signals.codec) == (480, 270, "h264")
    assert signals.fps == 20 and abs(signals.duration - 20.0) < 0.1
    assert len(signals.frames) == 20 and all(f.pdq_quality >= 50 for f in signals.frames)
    looked = [f for f in signals.frames if f.faces is not None]
    # The subset: the first frame, every cut, every 2nd frame; not every frame.
    assert {0.0, 5.0, 10.0, 15.0} <= {f.timestamp for f in looked} and len(looked) < len(signals.frames)
    enrolled = detect_faces(decode_image((ASSETS / "obama.jpg").read_bytes()).upright)[0].embedding
    with_face = [f for f in looked if f.faces]
    assert with_face and all(5.0 <= f.timestamp < 10.0 for f in with_face)  # only in the portrait scene
    best = min(
        float(face_distances(np.stack([x.embedding for x in f.faces]), enrolled).min()) for f in with_face
    )  # type: ignore[union-attr]
    assert best < SAME_PERSON_DISTANCE


def test_animation_and_one_frame_video(
    reference_frames: list[tuple[float, Image.Image]], reference: list[FrameHash]
) -> None:
    gif = _encode(_cut(reference_frames, 11.0, 3.0, (320, 180), 10), (320, 180), 10, crf=30)
    signals = video_signals(gif, faces=False)
    assert [f.timestamp for f in signals.frames] == [0.0, 1.0, 2.0] and signals.decoded_frames == 30
    m = match_video(signals, reference)
    assert m is not None and m.kind == "query_in_reference" and m.query_match_percent == 100
    assert m.reference_range[0] >= 10.5 and m.reference_range[1] <= 13.5

    single = _encode(_cut(reference_frames, 16.0, 0.0, (320, 180), 10), (320, 180), 10)
    with VideoReader(single) as reader:
        frames = list(reader.frames())
        assert reader.decoded_frames == 1 and reader.damaged is None
    assert [(f.timestamp, f.reason) for f in frames] == [(0.0, "first")]
    m = match_video(video_signals(single, faces=False), reference)
    assert m is not None and m.query_range == (0.0, 0.0) and abs(m.reference_range[0] - 16.0) <= 0.5


# --------------------------------------------------------------------------------------------------
# Matching videos


def test_a_clip_is_found_inside_a_longer_video(
    reference_frames: list[tuple[float, Image.Image]],
    reference: list[FrameHash],
    before: list[Image.Image],
    after: list[Image.Image],
) -> None:
    """6 s from 7.4 s of the 20 s reference, re-encoded smaller and at half the frame rate, at 27-33 s."""
    clip = _cut(reference_frames, 7.4, 6.0, COPY_SIZE, COPY_FPS)
    query = video_signals(
        _encode(itertools.chain(before, clip, after), COPY_SIZE, COPY_FPS, crf=32), faces=False
    )
    assert abs(query.duration - 60.0) < 0.2
    m = match_video(query, reference)
    assert m is not None and m.kind == "clip"
    assert 26.9 <= m.query_range[0] <= 28.1 and 31.9 <= m.query_range[1] <= 33.0
    assert abs(m.reference_range[0] - (7.4 + m.query_range[0] - 27.0)) <= 0.3
    assert abs(m.offset - (27.0 - 7.4)) <= 0.3
    assert m.matched_frames >= 5 and m.coverage >= 0.8 and m.median_distance <= 31
    assert m.query_match_percent < 20 and m.reference_match_percent < 50  # vPDQ's 80 % rule alone misses it


def test_a_reference_is_found_whole_inside_a_longer_video(
    reference_frames: list[tuple[float, Image.Image]],
    reference: list[FrameHash],
    before: list[Image.Image],
    after: list[Image.Image],
) -> None:
    whole = _cut(reference_frames, 0.0, 20.0, COPY_SIZE, COPY_FPS)
    frames = itertools.chain(before[: 10 * COPY_FPS], whole, after[: 10 * COPY_FPS])
    m = match_video(video_signals(_encode(frames, COPY_SIZE, COPY_FPS, crf=32), faces=False), reference)
    assert m is not None and m.kind == "reference_in_query"
    assert m.reference_match_percent >= 90 and 40 <= m.query_match_percent <= 60
    assert abs(m.query_range[0] - 10.0) <= 0.5 and abs(m.query_range[1] - 29.0) <= 1.0
    assert m.reference_range[0] <= 0.5 and m.reference_range[1] >= 18.5


def test_a_re_encoded_copy_is_the_same_video(reference_mp4: bytes, reference: list[FrameHash]) -> None:
    copy = _encode(_decoded_images(reference_mp4), COPY_SIZE, COPY_FPS, crf=32)
    m = match_video(video_signals(copy, faces=False), reference)
    assert (
        m is not None and m.kind == "same" and m.query_match_percent >= 95 and m.reference_match_percent >= 95
    )


def _decoded_images(data: bytes) -> Iterator[Image.Image]:
    for _, im in _decoded(data)[::2]:  # 20 fps to 10 fps
        yield im.resize(COPY_SIZE, Image.Resampling.BILINEAR)


def test_unrelated_videos_do_not_match(
    reference: list[FrameHash], before: list[Image.Image], after: list[Image.Image]
) -> None:
    # The same style and even the same person in another photograph: no shared footage, no match.
    other: list[Scene] = [
        ("obama2.jpg", 6, "fit"),
        ("mate-Blinds.jpg", 6, "pan"),
        ("astronaut.jpg", 6, "fit"),
    ]
    for frames in (itertools.chain(before, after), _timeline(other, COPY_SIZE, COPY_FPS)):
        query = video_signals(_encode(frames, COPY_SIZE, COPY_FPS, crf=28), faces=False)
        assert match_video(query, reference) is None
        assert match_video(reference, query) is None


# --------------------------------------------------------------------------------------------------
# Matching from stored rows (pure functions, exact numbers)


def _noise(rng: random.Random) -> bytes:
    return rng.randbytes(32)


def _flip(value: bytes, bits: int, rng: random.Random) -> bytes:
    as_int = int.from_bytes(value, "big")
    for b in rng.sample(range(256), bits):
        as_int ^= 1 << b
    return as_int.to_bytes(32, "big")


def test_matching_from_stored_rows_with_dihedral_references_and_quality() -> None:
    rng = random.Random(7)
    ref_hashes = [_noise(rng) for _ in range(80)]  # 20 s sampled every 0.25 s
    reference = [(i * 0.25, h, 90) for i, h in enumerate(ref_hashes)]
    # 8 variants per reference frame (as enrolment may store); only one is the frame itself.
    dihedral = [(t, v, q) for t, h, q in reference for v in [h, *(_noise(rng) for _ in range(7))]]
    # Query: 30 s unrelated, then 5 s showing reference 6.0-10.0 s (20 bits off), then 25 s unrelated.
    query = [(float(t), _noise(rng), 90) for t in range(30)]
    query += [(30.0 + k, _flip(ref_hashes[int((6.0 + k) / 0.25)], 20, rng), 90) for k in range(5)]
    query += [(float(t), _noise(rng), 90) for t in range(35, 60)]
    for ref in (reference, dihedral):
        m = match_video(query, ref)
        assert m is not None and m.kind == "clip"
        assert (m.query_range, m.reference_range, m.offset) == ((30.0, 34.0), (6.0, 10.0), 24.0)
        assert m.matched_frames == 5 and m.coverage == 1.0 and m.median_distance == 20
    low = [(t, h, 40 if 30 <= t < 35 else q) for t, h, q in query]  # flat frames are not evidence
    assert match_video(low, reference) is None
    far = [(t, _flip(h, 40, rng) if 30 <= t < 35 else h, q) for t, h, q in query]  # 40 bits: over 31
    assert match_video(far, reference) is None


def test_one_stray_frame_is_not_a_clip() -> None:
    rng = random.Random(11)
    ref_hashes = [_noise(rng) for _ in range(40)]
    reference = [FrameHash(i * 0.25, h, 90) for i, h in enumerate(ref_hashes)]
    query = [FrameHash(float(t), _noise(rng), 90) for t in range(60)]
    query[20] = FrameHash(20.0, ref_hashes[12], 90)
    query[40] = FrameHash(40.0, ref_hashes[30], 90)  # a second look-alike at another offset
    assert match_video(query, reference) is None
    query[21] = FrameHash(21.0, ref_hashes[16], 90)
    query[22] = FrameHash(22.0, ref_hashes[20], 90)  # three aligned frames over 2 s: a clip
    m = match_video(query, reference)
    assert (
        m is not None
        and m.kind == "clip"
        and m.query_range == (20.0, 22.0)
        and m.reference_range == (3.0, 5.0)
    )


def test_signals_give_the_rows_matching_needs(reference_frames: list[tuple[float, Image.Image]]) -> None:
    data = _encode(_cut(reference_frames, 4.0, 2.0, (320, 180), 10), (320, 180), 10)
    signals = video_signals(data, faces=False)
    assert isinstance(signals, VideoSignals) and len(signals.sha256) == 64 and signals.size == len(data)
    rows = signals.hashes()
    assert [tuple(r) for r in rows] == [(f.timestamp, f.pdq, f.pdq_quality) for f in signals.frames]
    assert all(len(r.pdq) == 32 for r in rows)
    assert signals.thumbnail is not None and Image.open(io.BytesIO(signals.thumbnail)).size == (256, 144)
    first = np.asarray(_cut(reference_frames, 4.0, 0.0, (320, 180), 10).__next__())
    assert sum((a ^ b).bit_count() for a, b in zip(rows[0].pdq, pdq_hash(first)[0], strict=True)) <= 16


def test_matching_survives_hostile_timestamps() -> None:
    """Stored rows are data from files an attacker made: timestamps hours apart must not blow memory up."""
    rng = random.Random(5)
    same = rng.randbytes(32)
    query = [(rng.random() * 1e9, same, 90) for _ in range(600)]
    reference = [(rng.random() * 1e9, same, 90) for _ in range(600)]
    m = match_video(query, reference)
    assert m is not None and m.kind == "same"
