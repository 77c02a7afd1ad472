"""Property tests on hostile input: Telegram exports, media paths and media bytes.

Every file a scan reads comes from a hostile chat room, so each reader is fed generated and mutated
input and must either work or refuse with a one-line `SourceError`/`MediaError` — never another
exception, never unbounded memory. The budget here is small and derandomized so CI is reproducible;
`bench/fuzz.py` runs the same checks for minutes with fresh randomness (see docs/fuzzing.md).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import struct
import tempfile
import tracemalloc
import zlib
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from functools import cache
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

import av
import numpy as np
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from PIL import Image

from ncii_shield.errors import MediaError, NciiError, SourceError
from ncii_shield.media.decode import Decoded, decode_image
from ncii_shield.signals.analyse import Analysis, analyse_bytes
from ncii_shield.sources.base import Item
from ncii_shield.sources.folder import FolderSource
from ncii_shield.sources.paths import resolve_inside, safe_relative_path
from ncii_shield.sources.telegram import ControlEscapeFilter, TelegramExport

pytestmark = [
    pytest.mark.filterwarnings("ignore:Generating overly large repr"),  # Hypothesis, on nested strategies
    pytest.mark.filterwarnings("ignore::UserWarning:PIL.*"),  # "Corrupt EXIF data": expected here
]

ASSETS = Path(__file__).resolve().parents[1] / "src" / "ncii_shield" / "demo" / "assets"

# Derandomized for CI (same examples on every run); `bench/fuzz.py` uses "fuzz-explore".
_COMMON: dict[str, Any] = {
    "deadline": None,
    "print_blob": True,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
}
settings.register_profile("fuzz-ci", derandomize=True, database=None, **_COMMON)
settings.register_profile("fuzz-explore", derandomize=False, **_COMMON)
FUZZ = settings.get_profile(os.environ.get("NCII_FUZZ_PROFILE", "fuzz-ci"))


def note_outcome(label: str) -> None:
    """Count what readers made of the inputs (`--hypothesis-show-statistics`): shows how deep fuzzing got."""
    if currently_in_test_context():
        event(label)


def assert_one_line(exc: NciiError) -> None:
    """What a user sees is one line: no tracebacks, caret diagrams or bytes reprs spanning lines."""
    assert isinstance(exc.message, str) and exc.message.strip(), f"empty message from {exc!r}"
    text = str(exc)
    assert "\n" not in text and "\r" not in text, f"multi-line error: {text!r}"


# --- byte-level mutation, shared by the export and media fuzzers ------------------------------------

# Bytes that push a JSON/media parser into its rarely used paths.
JSON_TOKENS: tuple[bytes, ...] = (
    b"\\x",
    b"\\x0",
    b"\\x1f",
    b"\\\\x41",
    b"\\",
    b'"',
    b"\xff",
    b"\xc3",
    b"\xed\xa0\x80",
    b"\x00",
    b"[",
    b"{",
    b"]",
    b"}",
    b",",
    b":",
    b"9" * 25,
    b"1e999",
    b"-0.0e-5",
    b"null",
    b"\\ud800",
    b'"photo":"../../etc/passwd",',
    b'"id":"1",',
    b"[" * 80,
)
MEDIA_TOKENS: tuple[bytes, ...] = (
    b"\x00",
    b"\xff",
    b"\xff\xd8",
    b"\xff\xd9",
    b"\xff\xc0\x00\x11\x08\xff\xff\xff\xff",
    b"IHDR",
    b"IEND",
    b"\x00" * 64,
    b"\xff" * 64,
    b"Exif\x00\x00MM\x00*\x00\x00\x00\x08",
    b"moov",
    b"mdat",
    b"\x7f\xff\xff\xff",
)

Mutation = tuple[str, int, int, bytes]


def mutations(tokens: tuple[bytes, ...], max_ops: int = 4) -> st.SearchStrategy[list[Mutation]]:
    """Edit lists as data, so Hypothesis shrinks a failure to the fewest, smallest edits."""
    op = st.tuples(
        st.sampled_from(["flip", "truncate", "insert", "delete", "duplicate"]),
        st.integers(0, 1 << 20),  # position, taken modulo the length at the time
        st.integers(1, 255),  # xor mask for flip, length for delete/duplicate
        st.sampled_from(tokens) | st.binary(min_size=1, max_size=8),
    )
    # Intact and once-damaged inputs are common, so most examples get past the parser's first checks.
    return st.one_of(st.just([]), st.lists(op, min_size=1, max_size=1), st.lists(op, max_size=max_ops))


def apply_mutations(data: bytes, ops: list[Mutation]) -> bytes:
    buf = bytearray(data)
    for name, position, amount, token in ops:
        at = position % (len(buf) + 1)
        if name == "flip" and at < len(buf):
            buf[at] ^= amount
        elif name == "truncate":
            del buf[at:]
        elif name == "insert":
            buf[at:at] = token
        elif name == "delete":
            del buf[at : at + amount]
        elif name == "duplicate":
            buf[at:at] = buf[at : at + amount]
    return bytes(buf)


# --- Telegram export documents ----------------------------------------------------------------------

PLACEHOLDERS = (
    "(File not included. Change data exporting settings to download.)",
    "(File exceeds maximum size. Change data exporting settings to download.)",
    "(File unavailable, please try again later)",
    "(File something new)",
)
_PATH_PARTS = (
    "photos",
    "photo_12@24-08-2024_21-03-11.jpg",
    "..",
    ".",
    "",
    "...",
    "C:",
    "c:x",
    "~",
    "\x00",
    " ",
    "a\\..",
    "\\\\server",
    "files",
    "사진.jpg",
)
path_strings: st.SearchStrategy[str] = st.one_of(
    st.sampled_from(["photos/photo_1@24-08-2024_21-03-11.jpg", "files/a b.png", "video_files/v.mp4", "x"]),
    st.sampled_from(PLACEHOLDERS),
    st.tuples(
        st.sampled_from(["", "/", "\\", "./", ".\\", "C:", "C:\\", "//", "\\\\?\\"]),
        st.lists(st.sampled_from(_PATH_PARTS) | st.text(max_size=5), max_size=5),
        st.sampled_from(["/", "\\"]),
    ).map(lambda t: t[0] + t[2].join(t[1])),
    st.text(max_size=20),
)
_EDGE_DATES = (
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "2024-08-24T21:03:11",
    "2024-02-30T00:00:00",
    "",
)
date_strings: st.SearchStrategy[str] = st.one_of(
    st.sampled_from(_EDGE_DATES),
    st.builds(
        lambda when, minutes: when.replace(
            tzinfo=None if minutes is None else timezone(timedelta(minutes=minutes))
        ).isoformat(),
        st.datetimes(),
        st.none() | st.integers(-1439, 1439),
    ),
    st.text(max_size=25),
)
unix_strings: st.SearchStrategy[str] = st.one_of(
    st.integers(-(10**25), 10**25).map(str),
    st.text("0123456789٣", max_size=25),
    st.sampled_from(["1724526191", "0", "99999999999999999999", "-1", " 1", "1.5"]),
)
_INT64 = st.integers(-(2**63), 2**63 - 1)
json_any: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | _INT64
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | path_strings,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.text(max_size=8) | st.sampled_from(["id", "text", "type", "photo"]), children, max_size=4
        )
    ),
    max_leaves=12,
)


def _either(typed: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly the type Telegram writes, sometimes anything: a bool where a path goes, a list for an id."""
    return st.one_of(typed, typed, typed, json_any)


entities = st.fixed_dictionaries(
    {
        "type": _either(st.sampled_from(["plain", "link", "text_link", "mention", "bold", "hashtag"])),
        "text": _either(st.text(max_size=20)),
    },
    optional={"href": _either(st.text(max_size=20)), "user_id": json_any},
)
text_fields = st.one_of(
    st.just(""),
    st.text(max_size=30),
    st.lists(st.one_of(st.text(max_size=10), entities, json_any), max_size=5),
    json_any,
)
messages = st.fixed_dictionaries(
    {},
    optional={
        "id": _either(_INT64),
        "type": _either(st.sampled_from(["message", "service", "unsupported"])),
        "date": _either(date_strings),
        "date_unixtime": _either(unix_strings),
        "edited": _either(date_strings),
        "edited_unixtime": _either(unix_strings),
        "from": _either(st.text(max_size=10)),
        "from_id": _either(st.sampled_from(["user123", "channel9"]) | st.text(max_size=8)),
        "actor_id": _either(st.text(max_size=8)),
        "forwarded_from": _either(st.text(max_size=10)),
        "reply_to_message_id": _either(_INT64),
        "via_bot": _either(st.text(max_size=10)),
        "photo": _either(path_strings),
        "file": _either(path_strings),
        "thumbnail": _either(path_strings),
        "media_type": _either(st.sampled_from(["sticker", "video_file", "animation", "voice_message"])),
        "mime_type": _either(st.sampled_from(["image/jpeg", "video/mp4"])),
        "width": json_any,
        "members": json_any,
        "text": text_fields,
        "text_entities": text_fields,
    },
)


def _shuffled(strategy: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """Key order matters to a streaming parser (a chat's name may come after its messages)."""
    return strategy.flatmap(lambda d: st.permutations(list(d.items())).map(dict))


_chat_fields = {
    "name": _either(st.text(max_size=10)),
    "type": _either(st.sampled_from(["private_supergroup", "public_channel", "personal_chat"])),
    "id": _either(_INT64),
}
_message_lists = _either(st.lists(st.one_of(messages, messages, json_any), max_size=5))
chats = _shuffled(
    st.fixed_dictionaries({"messages": _message_lists}, optional=_chat_fields)
    | st.fixed_dictionaries({}, optional={**_chat_fields, "messages": _message_lists})
)
chat_lists = st.fixed_dictionaries(
    {"list": _either(st.lists(chats, max_size=3))}, optional={"about": st.text(max_size=5)}
)
accounts = _shuffled(
    st.fixed_dictionaries(
        {"chats": _either(chat_lists)},
        optional={
            "about": st.text(max_size=5),
            "personal_information": json_any,
            "left_chats": _either(chat_lists),
        },
    )
)
export_documents: st.SearchStrategy[Any] = st.one_of(chats, chats, accounts, json_any)


@st.composite
def export_bytes(draw: st.DrawFn) -> bytes:
    """A serialized export-like document, written the way Telegram does, then damaged."""
    document = draw(export_documents)
    raw = json.dumps(
        document, ensure_ascii=draw(st.booleans()), indent=draw(st.sampled_from([None, 1]))
    ).encode()
    if draw(st.booleans()):
        raw = raw.replace(b"\\u00", b"\\x")  # Telegram's invalid escapes for control characters
    return apply_mutations(raw, draw(mutations(JSON_TOKENS)))


def _is_safe_relative(path: str) -> bool:
    parts = PurePosixPath(path).parts
    return (
        safe_relative_path(path) == path
        and ".." not in parts
        and not path.startswith("/")
        and not PureWindowsPath(path).drive
        and not PureWindowsPath(path).root
        and "\\" not in path
        and "\x00" not in path
    )


def check_item(item: Item) -> None:
    """What the scan and the store rely on, whatever the export said."""
    assert isinstance(item, Item)
    assert isinstance(item.external_id, str) and item.external_id
    for value in (
        item.external_id,
        item.kind,
        item.chat_id,
        item.chat_title,
        item.chat_type,
        item.sender_id,
        item.sender_name,
        item.forwarded_from,
        item.saved_from,
        item.via_bot,
        item.media_kind,
        item.media_mime,
        item.media_note,
        *item.links,
    ):
        assert value is None or isinstance(value, str), f"{value!r} is not a str"
        if value is not None:
            value.encode("utf-8")  # the store and reports write UTF-8
    assert isinstance(item.text, str)
    item.text.encode("utf-8")
    assert isinstance(item.links, tuple)
    assert item.message_id is None or type(item.message_id) is int
    assert item.reply_to is None or type(item.reply_to) is int
    assert item.date is None or isinstance(item.date, datetime)
    if item.media_path is not None:
        assert _is_safe_relative(item.media_path), f"unsafe media_path {item.media_path!r}"
    thumbnail = item.extra.get("thumbnail")
    if thumbnail is not None:
        assert isinstance(thumbnail, str) and _is_safe_relative(thumbnail)
    with contextlib.suppress(TypeError, ValueError):  # the scan stores `extra` as JSON, dropping refusals
        json.dumps(item.extra)


def check_export_bytes(data: bytes) -> list[Item]:
    """Read `data` as result.json: items that pass `check_item`, possibly ended by a SourceError."""
    items: list[Item] = []
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "result.json"
        path.write_bytes(data)
        try:
            for item in TelegramExport(path).iter_items():
                check_item(item)
                items.append(item)
        except SourceError as exc:
            assert_one_line(exc)
            note_outcome(
                f"SourceError after {min(len(items), 3)}+ items: {re.sub(r'[0-9,]+', 'N', exc.message)[12:50]}"
            )
            return items
    media = min(sum(i.media_path is not None for i in items), 1)
    note_outcome(f"read to the end: {min(len(items), 3)}+ items, {media}+ media")
    return items


@settings(FUZZ, max_examples=1000)
@given(export_bytes())
def test_telegram_export_yields_safe_items_or_source_error(data: bytes) -> None:
    check_export_bytes(data)


@settings(FUZZ, max_examples=200)
@given(st.binary(max_size=300))
def test_telegram_export_of_random_bytes(data: bytes) -> None:
    check_export_bytes(b"{" + data)


def test_the_export_fuzzer_reaches_media_paths() -> None:
    """Guards the generator: a well-formed generated export with a photo must give a media item."""
    doc = {
        "id": 1,
        "messages": [{"id": 3, "photo": "photos/a.jpg", "text": ["x", {"type": "link", "text": "t.me/+a"}]}],
    }
    (item,) = check_export_bytes(json.dumps(doc).encode())
    assert (item.external_id, item.media_path, item.links) == ("1/3", "photos/a.jpg", ("t.me/+a",))


def test_an_offset_date_before_year_one_in_utc_is_dropped_not_raised(tmp_path: Path) -> None:
    """`0001-01-01T00:00+01:00` is valid ISO, but 23:00 on 31 Dec of year 0 in UTC does not exist."""
    doc = {"id": 1, "messages": [{"id": 1, "date": "0001-01-01T00:00:00+01:00"}, {"id": 2}]}
    items = check_export_bytes(json.dumps(doc).encode())
    assert [i.external_id for i in items] == ["1/1", "1/2"]
    assert items[0].date is None


def test_a_lone_surrogate_escape_is_a_source_error() -> None:
    """Found by the fuzzer: yajl passes `\\udc00` on as bytes Python refuses (UnicodeDecodeError)."""
    with pytest.raises(SourceError) as info:
        check_export_bytes_strict(b'{"messages":[{"id":1,"text":"ok"},{"id":2,"text":"a\\udc00b"}]}')
    assert_one_line(info.value)
    assert "not valid Unicode" in info.value.message


@pytest.mark.parametrize(
    "data",
    [
        b'{"messages":[' + b"[" * 20_000,  # unclosed, top level
        b'{"messages":[{"id":1,"members":' + b"[" * 5_000 + b"]" * 5_000 + b"}]}",  # closed, in a message
        b'{"chats":{"list":[' + b'{"a":' * 5_000,
    ],
    ids=["unclosed", "inside-message", "objects"],
)
def test_deep_nesting_is_refused_in_bounded_memory(data: bytes) -> None:
    """ijson.parse keeps one prefix string per open level: 100 KB of `[` took gigabytes (O(depth²))."""
    tracemalloc.start()
    try:
        with pytest.raises(SourceError) as info:
            check_export_bytes_strict(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"
    assert_one_line(info.value)
    assert "deep" in info.value.message


def check_export_bytes_strict(data: bytes) -> list[Item]:
    """Like check_export_bytes, but lets the SourceError out for a test to inspect."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "result.json"
        path.write_bytes(data)
        return list(TelegramExport(path).iter_items())


# --- ControlEscapeFilter ----------------------------------------------------------------------------


def reference_unescape(data: bytes) -> bytes:
    """Byte-by-byte definition: an `x` after an odd run of backslashes becomes `u00`."""
    out = bytearray()
    run = 0
    for byte in data:
        if byte == 0x5C:
            run += 1
            out.append(byte)
            continue
        out += b"u00" if byte == 0x78 and run % 2 == 1 else bytes([byte])
        run = 0
    return bytes(out)


def read_filtered(data: bytes, chunk_size: int, read_sizes: list[int]) -> bytes:
    """Read through the filter with a cycle of request sizes (negative: read all) until EOF."""
    stream = ControlEscapeFilter(io.BytesIO(data), chunk_size=chunk_size)
    out = bytearray()
    for step in range(10 * len(data) + 10):
        size = read_sizes[step % len(read_sizes)]
        piece = stream.read(size)
        if size > 0:
            assert len(piece) <= size
        if not piece and size != 0:
            break
        out += piece
    else:
        raise AssertionError("the filter never reached EOF")
    assert stream.read(7) == b"" and stream.bytes_read == len(data)
    return bytes(out)


escape_heavy_bytes = st.lists(
    st.sampled_from([b"\\", b"\\", b"x", b"\\x", b"a", b'"', b"0"]) | st.binary(max_size=3), max_size=60
).map(b"".join)


@settings(FUZZ, max_examples=500)
@given(
    escape_heavy_bytes,
    st.integers(1, 9),
    st.lists(st.integers(-1, 12), min_size=1, max_size=4).filter(lambda sizes: any(s != 0 for s in sizes)),
)
@example(b"\\" * 3 + b"x", 1, [1])
@example(b"a\\\\\\x\\\\x", 2, [-1])
def test_control_escape_filter_is_independent_of_chunking(
    data: bytes, chunk_size: int, reads: list[int]
) -> None:
    assert read_filtered(data, chunk_size, reads) == reference_unescape(data)


def test_the_reference_unescape_is_not_the_identity() -> None:
    assert reference_unescape(b'"\\x1f \\\\x41 \\\\\\x0a"') == b'"\\u001f \\\\x41 \\\\\\u000a"'


# --- safe_relative_path / resolve_inside ------------------------------------------------------------


@settings(FUZZ, max_examples=600)
@given(path_strings | st.text(max_size=40))
@example("./C:foo")
def test_safe_relative_path_accepts_only_clean_relative_paths(raw: str) -> None:
    clean = safe_relative_path(raw)
    if clean is None:
        return
    assert _is_safe_relative(clean), f"{raw!r} -> {clean!r}"
    assert "" not in clean.split("/") and "." not in clean.split("/")
    assert ".." not in raw.replace("\\", "/").split("/")


def _symlink_tree(base: Path) -> tuple[Path, Path]:
    """root/ with links that stay inside, leave it, go up, and loop; `outside/` beside it."""
    root, outside = base / "root", base / "outside"
    (root / "a" / "b").mkdir(parents=True)
    outside.mkdir()
    (root / "a" / "in.jpg").write_bytes(b"in")
    (outside / "secret.jpg").write_bytes(b"out")
    (root / "inside").symlink_to("a")
    (root / "out").symlink_to(outside)
    (root / "up").symlink_to("..")
    (root / "a" / "b" / "up2").symlink_to("../../..")
    (root / "abs").symlink_to(outside / "secret.jpg")
    (root / "self").symlink_to(".")
    (root / "loop").symlink_to("loop")
    (root / "chain").symlink_to("inside/b/up2")
    return root, outside


_LINK_PARTS = ("a", "b", "in.jpg", "inside", "out", "up", "up2", "abs", "self", "loop", "chain", "secret.jpg")


@pytest.fixture(scope="module")
def link_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _symlink_tree(tmp_path_factory.mktemp("links"))[0]


def _inside(root: Path, target: Path) -> bool:
    real_root = os.path.realpath(root)
    return os.path.commonpath([real_root, os.path.realpath(target)]) == real_root


@settings(FUZZ, max_examples=400)
@given(
    st.lists(
        st.sampled_from((*_LINK_PARTS, "..", ".", "", "C:")) | st.text(max_size=4), min_size=1, max_size=6
    ),
    st.sampled_from(["/", "\\"]),
)
def test_resolve_inside_never_escapes_the_root(link_root: Path, parts: list[str], separator: str) -> None:
    target = resolve_inside(link_root, separator.join(parts))
    if target is not None:
        assert _inside(link_root, target), f"{separator.join(parts)!r} -> {target}"


def test_resolve_inside_with_symlinks(tmp_path: Path) -> None:
    root, _ = _symlink_tree(tmp_path)
    real = Path(os.path.realpath(root))
    assert resolve_inside(root, "inside/in.jpg") == real / "a" / "in.jpg"
    assert resolve_inside(root, "self/self/a") == real / "a"
    for escaping in ("out/secret.jpg", "abs", "up/outside/secret.jpg", "a/b/up2", "chain", "inside/b/up2/x"):
        assert resolve_inside(root, escaping) is None, escaping
    loop = resolve_inside(root, "loop")  # a loop resolves to itself inside the root: not a file, not outside
    assert loop is None or (_inside(root, loop) and not loop.is_file())


def test_folder_source_follows_links_only_to_files_inside(tmp_path: Path) -> None:
    root, _ = _symlink_tree(tmp_path)
    (root / "a" / "b" / "file.png").write_bytes(b"png")
    (root / "b.jpg").symlink_to("a/in.jpg")
    items = list(FolderSource(root).iter_items())
    for item in items:
        check_item(item)
        if item.media_path is not None:
            target = resolve_inside(root, item.media_path)
            assert target is not None and target.is_file()
    assert sorted(i.external_id for i in items if i.media_path) == ["a/b/file.png", "a/in.jpg", "b.jpg"]


_file_names = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="/\x00"), min_size=1, max_size=12
).filter(lambda name: name not in (".", "..") and len(name.encode()) < 200)


@settings(FUZZ, max_examples=60)
@given(st.lists(st.lists(_file_names, min_size=1, max_size=3), min_size=1, max_size=5))
def test_folder_source_items_are_safe_for_any_file_names(paths: list[list[str]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        for parts in paths:
            target = root.joinpath(*parts)
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(b"x")
            except (IsADirectoryError, FileExistsError, NotADirectoryError):
                continue  # the same name generated as a file and as a folder
        for item in FolderSource(root).iter_items():
            check_item(item)
            if item.media_path is not None:
                assert item.media_path == item.external_id
                assert resolve_inside(root, item.media_path) is not None


def test_folder_source_with_a_file_name_that_is_not_utf8(tmp_path: Path) -> None:
    """A zip made on Korean Windows extracts to CP949 names: the item must still be storable (UTF-8)."""
    (tmp_path / os.fsdecode(b"\xb9\xda.jpg")).write_bytes(b"x")  # '박' in CP949
    (item,) = FolderSource(tmp_path).iter_items()
    check_item(item)
    assert item.media_path == item.external_id == "%B9%DA.jpg"
    assert item.media_os_path is not None and resolve_inside(tmp_path, item.media_os_path) is not None


# --- media decoding ---------------------------------------------------------------------------------


def _small(name: str, side: int = 64) -> Image.Image:
    with Image.open(ASSETS / name) as img:
        img.draft("RGB", (side * 2, side * 2))
        small = img.convert("RGB")
    small.thumbnail((side, side))
    return small


def _encode(img: Image.Image, fmt: str, **options: Any) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **options)
    return buf.getvalue()


def _mp4(frames: list[Image.Image]) -> bytes:
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height = frames[0].width // 2 * 2, frames[0].height // 2 * 2
        stream.pix_fmt = "yuv420p"
        for frame in frames:
            even = frame.crop((0, 0, stream.width, stream.height))
            container.mux(stream.encode(av.VideoFrame.from_image(even)))
        container.mux(stream.encode())
    return buf.getvalue()


@cache
def media_seeds() -> tuple[tuple[str, bytes], ...]:
    """Real images, scaled down to ~64 px so a mutated copy decodes in milliseconds."""
    face, scene = _small("obama.jpg"), _small("mate-Aqua.jpg")
    rgba = face.convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize(face.size))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90°, so exif_transpose runs
    palette = scene.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    return (
        ("jpeg", _encode(face, "JPEG", quality=85)),
        ("jpeg-progressive-exif", _encode(scene, "JPEG", progressive=True, exif=exif.tobytes())),
        ("png", _encode(face, "PNG")),
        ("png-rgba", _encode(rgba, "PNG")),
        ("png-palette-transparent", _encode(palette, "PNG", transparency=0)),
        ("webp", _encode(scene, "WEBP", quality=60)),
        ("webp-lossless-rgba", _encode(rgba, "WEBP", lossless=True)),
        ("gif", _encode(palette, "GIF", save_all=True, append_images=[face.convert("P")], duration=100)),
        ("tiff", _encode(face, "TIFF", exif=exif.tobytes())),
        ("bmp", _encode(scene, "BMP")),
        ("mp4", _mp4([face, scene, face])),
    )


def header_fields(data: bytes) -> list[tuple[int, int, str]]:
    """(offset, size, byte order) of width/height fields this seed's decoder trusts first."""
    fields: list[tuple[int, int, str]] = []
    if data.startswith(b"\x89PNG"):
        fields += [(16, 4, "big"), (20, 4, "big")]
    elif data.startswith(b"\xff\xd8"):
        sof = re.search(rb"\xff[\xc0-\xc3\xc5-\xc7\xc9-\xcb\xcd-\xcf]", data)
        if sof:
            fields += [(sof.start() + 5, 2, "big"), (sof.start() + 7, 2, "big")]
    elif data.startswith(b"GIF"):
        fields += [(6, 2, "little"), (8, 2, "little")]
        descriptor = data.find(b"\x2c", 13)
        if descriptor > 0:
            fields += [(descriptor + 5, 2, "little"), (descriptor + 7, 2, "little")]
    elif data.startswith(b"RIFF"):
        vp8 = data.find(b"VP8 ")
        if vp8 > 0:
            fields += [(vp8 + 14, 2, "little"), (vp8 + 16, 2, "little")]
        vp8x = data.find(b"VP8X")
        if vp8x > 0:
            fields += [(vp8x + 12, 3, "little"), (vp8x + 15, 3, "little")]
        vp8l = data.find(b"VP8L")
        if vp8l > 0:
            fields += [(vp8l + 9, 4, "little")]
    elif data[:4] in (b"II*\x00", b"MM\x00*"):
        order = "little" if data.startswith(b"II") else "big"
        ifd = int.from_bytes(data[4:8], order)
        for entry in range(ifd + 2, ifd + 2 + 12 * int.from_bytes(data[ifd : ifd + 2], order), 12):
            tag, kind = (
                int.from_bytes(data[entry : entry + 2], order),
                int.from_bytes(data[entry + 2 : entry + 4], order),
            )
            if tag in (256, 257):  # ImageWidth, ImageLength: SHORT or LONG
                fields.append((entry + 8, 2 if kind == 3 else 4, order))
    elif data.startswith(b"BM"):
        fields += [(18, 4, "little"), (22, 4, "little")]
    elif data[4:8] == b"ftyp":
        entry = data.find(b"mp4v")
        if entry > 0:
            fields += [(entry + 28, 2, "big"), (entry + 30, 2, "big")]
        tkhd = data.find(b"tkhd")
        if tkhd > 0:
            fields += [(tkhd + 80, 4, "big"), (tkhd + 84, 4, "big")]
    return [f for f in fields if f[0] + f[1] <= len(data)]


def edit_header(data: bytes, edits: list[tuple[int, int]], fix_png_crc: bool) -> bytes:
    fields = header_fields(data)
    if not fields:
        return data
    buf = bytearray(data)
    for which, value in edits:
        offset, size, order = fields[which % len(fields)]
        buf[offset : offset + size] = (value % (1 << (8 * size))).to_bytes(size, order)
    if fix_png_crc and data.startswith(b"\x89PNG"):
        buf[29:33] = struct.pack(">I", zlib.crc32(bytes(buf[12:29])))
    return bytes(buf)


_DIMENSIONS = st.sampled_from(
    [0, 1, 2, 63, 64, 255, 256, 4097, 65535, 2**24 - 1, 2**31 - 1, 2**32 - 1]
) | st.integers(0, 5000)


@st.composite
def mutated_media(draw: st.DrawFn, max_ops: int = 4) -> bytes:
    """A real image or video, with its size fields edited and its bytes damaged."""
    seeds = media_seeds()
    _, data = seeds[draw(st.integers(0, len(seeds) - 1))]
    edits = draw(st.lists(st.tuples(st.integers(0, 7), _DIMENSIONS), max_size=2))
    data = edit_header(data, edits, draw(st.booleans()))
    return apply_mutations(data, draw(mutations(MEDIA_TOKENS, max_ops)))


MAGICS = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    b"\xff\xd8\xff\xe0",
    b"GIF89a",
    b"RIFF\x00\x01\x00\x00WEBPVP8 ",
    b"II*\x00",
    b"MM\x00*",
    b"BM",
    b"\x00\x00\x00\x18ftypmp42",
    b"\x1aE\xdf\xa3",
    b"\x1f\x8b",
    b"8BPS",
    b"\x00\x00\x01\x00",
    b"icns",
    b"P6\n",
    b"",
)
random_media = st.tuples(st.sampled_from(MAGICS), st.binary(max_size=400)).map(b"".join)


def check_decode(data: bytes) -> Decoded | None:
    """decode_image gives consistent RGB pixels, or a one-line MediaError; nothing else."""
    try:
        decoded = decode_image(data)
    except MediaError as exc:
        assert_one_line(exc)
        note_outcome(f"refused: {exc.message.split(':')[0][:40]}")
        return None
    note_outcome(f"decoded: {decoded.format}")
    assert isinstance(decoded, Decoded)
    assert decoded.width > 0 and decoded.height > 0
    assert decoded.rgb.dtype == np.uint8
    assert decoded.rgb.shape == (decoded.height, decoded.width, 3)
    assert decoded.upright.dtype == np.uint8 and decoded.upright.ndim == 3 and decoded.upright.shape[2] == 3
    assert sorted(decoded.upright.shape[:2]) == sorted(decoded.rgb.shape[:2])
    assert isinstance(decoded.format, str) and decoded.format
    return decoded


def check_analyse(data: bytes) -> Analysis:
    """analyse_bytes never raises: a refused file comes back with a one-line `error`."""
    result = analyse_bytes(data)
    assert isinstance(result, Analysis) and result.size == len(data)
    if result.error is not None:
        assert result.error.strip() and "\n" not in result.error
        assert result.pdq is None and result.faces == []
    else:
        assert isinstance(result.pdq, bytes) and len(result.pdq) == 32
        assert result.width and result.height
    return result


def test_a_video_stream_in_an_unknown_codec_is_refused() -> None:
    """Found by bench/fuzz.py: FFmpeg gives such a stream no codec context, and `.name` raised AttributeError."""
    data = bytearray(dict(media_seeds())["mp4"])
    data[data.index(b"\x04\x80\x80\x80A ") + 5] = 0x01  # esds objectTypeIndication 0x20 (MPEG-4) -> 0x01
    with pytest.raises(MediaError) as info:
        decode_image(bytes(data))
    assert_one_line(info.value)


def test_analyse_bytes_of_a_one_pixel_high_strip() -> None:
    """Found by bench/fuzz.py (a JPEG whose SOF said 4097x1): detect_faces scaled the strip to 1024x0."""
    buf = io.BytesIO()
    Image.new("RGB", (4097, 1), (90, 90, 90)).save(buf, format="PNG")
    result = check_analyse(buf.getvalue())
    assert result.error is None and result.faces == []


def test_every_media_seed_decodes_at_its_real_size() -> None:
    """Guards the generator: unmutated seeds are valid, and each has size fields to edit."""
    for name, data in media_seeds():
        decoded = check_decode(data)
        assert decoded is not None, name
        assert max(decoded.width, decoded.height) <= 64, name
        assert header_fields(data), name


@settings(FUZZ, max_examples=1200)
@given(mutated_media() | random_media)
def test_decode_image_gives_pixels_or_media_error(data: bytes) -> None:
    check_decode(data)


@settings(FUZZ, max_examples=100)
@given(mutated_media(max_ops=1))
def test_analyse_bytes_never_raises(data: bytes) -> None:
    check_analyse(data)


def check_escape_filter(case: tuple[bytes, int, list[int]]) -> str:
    data, chunk_size, reads = case
    expected = reference_unescape(data)
    assert read_filtered(data, chunk_size, [size or 1 for size in reads]) == expected, (
        "differs from the reference"
    )
    return "rewritten" if expected != data else "unchanged"


def check_safe_path(raw: str) -> str:
    clean = safe_relative_path(raw)
    assert clean is None or _is_safe_relative(clean), f"{raw!r} -> {clean!r}"
    return "refused" if clean is None else "accepted"


# What bench/fuzz.py runs: group -> name -> (strategy, check). A check fails by raising anything.
TARGETS: dict[str, dict[str, tuple[st.SearchStrategy[Any], Callable[[Any], object]]]] = {
    "telegram": {
        "export": (export_bytes(), check_export_bytes),
        "export-random": (st.binary(max_size=600).map(lambda data: b"{" + data), check_export_bytes),
        "escape-filter": (
            st.tuples(
                escape_heavy_bytes, st.integers(1, 9), st.lists(st.integers(-1, 12), min_size=1, max_size=4)
            ),
            check_escape_filter,
        ),
        "safe-path": (path_strings | st.text(max_size=40), check_safe_path),
    },
    "image": {
        "decode": (mutated_media() | random_media, check_decode),
        "analyse": (mutated_media(max_ops=1), check_analyse),
    },
}


# --- Telegram Desktop HTML exports and zips -----------------------------------------------------------

HTML_TOKENS: tuple[bytes, ...] = (
    b'<div class="message default clearfix" id="message',
    b'<div class="message default clearfix joined" id="message7">',
    b'<div class="message service" id="message-3">',
    b'<div class="forwarded body">',
    b'<div class="from_name">',
    b'<a class="photo_wrap clearfix pull_left" href="../../etc/passwd">',
    b'<a class="photo_wrap clearfix pull_left" href="javascript:x">',
    b'<a class="media clearfix pull_left block_link media_video" href="',
    b'title="31.02.2024 25:61:61 UTC+99:99"',
    b'title="24.08.2024 21:03:11 UTC-13:30"',
    b'href="#go_to_message99999999999999999999999"',
    b'id="message99999999999999999999"',
    b'<a class="pagination block_link" href="messages2.html">Next messages</a>',
    b"</div>",
    b"<div>",
    b"<br>",
    b"&#x0;",
    b"&#xD800;",
    b"\xff\xfe",
    b"\x00",
    b"<!--",
    b"<![CDATA[",
    b"<script>",
)


@cache
def _html_seed() -> bytes:
    from ncii_shield.demo.html_export import write_html_export

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        messages = [
            {
                "id": 1,
                "type": "message",
                "date": "2024-08-24T21:03:11",
                "date_unixtime": "1724501000",
                "from": "Kim",
                "from_id": "user1",
                "photo": "photos/p.jpg",
                "text": "a",
                "text_entities": [],
            },
            {
                "id": 2,
                "type": "message",
                "date": "2024-08-24T21:04:11",
                "date_unixtime": "1724501060",
                "from": "Kim",
                "from_id": "user1",
                "text": "b https://t.me/+x",
                "text_entities": [],
                "reply_to_message_id": 1,
                "forwarded_from": "Chan",
            },
            {
                "id": 3,
                "type": "service",
                "date": "2024-08-24T21:05:11",
                "date_unixtime": "1724501120",
                "actor": "Lee",
                "actor_id": "user2",
                "action": "join_group_by_link",
                "text": "",
                "text_entities": [],
            },
        ]
        (root / "json").mkdir()
        (root / "json" / "result.json").write_text(
            json.dumps({"name": "Room", "type": "private_group", "id": 1, "messages": messages})
        )
        html = write_html_export(root / "json", root / "html", thumbs=False)
        return (html / "messages.html").read_bytes()


def check_html_bytes(data: bytes) -> None:
    from ncii_shield.sources.telegram_html import TelegramHtmlExport
    from ncii_shield.sources.tree import DirTree

    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "messages.html").write_bytes(data)
        try:
            items = list(TelegramHtmlExport(DirTree(Path(folder))).iter_items())
        except SourceError as exc:
            assert_one_line(exc)
            return
        for item in items:
            check_item(item)
        note_outcome(f"{min(len(items), 3)}+ items")


@settings(FUZZ, max_examples=400)
@given(mutations(HTML_TOKENS, max_ops=6))
def test_telegram_html_yields_safe_items_or_source_error(ops: list[Mutation]) -> None:
    check_html_bytes(apply_mutations(_html_seed(), ops))


@settings(FUZZ, max_examples=100)
@given(st.binary(max_size=400))
def test_telegram_html_of_random_bytes(data: bytes) -> None:
    check_html_bytes(b'<div class="message default clearfix" id="message1">' + data)


@cache
def _zip_seed() -> bytes:
    buffer = io.BytesIO()
    import zipfile

    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("ChatExport/messages.html", _html_seed())
        z.writestr("ChatExport/photos/p.jpg", (ASSETS / "obama.jpg").read_bytes()[:4000])
    return buffer.getvalue()


@settings(FUZZ, max_examples=300)
@given(mutations((b"PK\x01\x02", b"PK\x03\x04", b"PK\x05\x06", b"\xff\xff\xff\xff", b"\x00" * 8)))
def test_a_mutated_zip_opens_and_reads_or_is_refused_in_one_line(ops: list[Mutation]) -> None:
    from ncii_shield.sources.detect import open_sources

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "export.zip"
        path.write_bytes(apply_mutations(_zip_seed(), ops))
        try:
            with open_sources(path) as opened:
                for source in opened.sources:
                    for item in source.iter_items():
                        check_item(item)
                        if item.media_path:
                            with contextlib.suppress(OSError, SourceError):
                                source.tree.read_bytes(item.media_path)
        except SourceError as exc:
            assert_one_line(exc)
