"""The demo's ground truth, end to end: what `make demo` runs, asserted rather than printed."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ncii_shield.demo.build import DemoGroundTruth, read_ground_truth
from ncii_shield.demo.run import run_demo
from ncii_shield.demo.score import score
from ncii_shield.review.hits import HitRow, list_hits
from ncii_shield.scan.pipeline import Progress, run_scan
from ncii_shield.sources import open_source
from ncii_shield.store.db import Store
from ncii_shield.store.models import Item, Media
from tests.conftest import cli_env, new_store

PDQ_ROUTE_LABELS = {"recompressed", "resized", "mirrored", "brightness", "animation", "video"}


@pytest.fixture(scope="module")
def demo(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Store, DemoGroundTruth, list[HitRow], bool]]:
    out = tmp_path_factory.mktemp("demo")
    store = new_store(out / "data")
    ok = run_demo(store, out, workers=2, progress_factory=nullcontext, progress_adapter=lambda _: Progress())
    truth = read_ground_truth(out)
    with store.session() as session:
        rows = list_hits(session, 1)
    yield store, truth, rows, ok
    store.close()


def _routes(rows: list[HitRow]) -> dict[str, set[str]]:
    routes: dict[str, set[str]] = {}
    for row in rows:
        routes.setdefault(row.media_path or "", set()).update(row.kinds)
    return routes


def test_demo_reports_success(demo) -> None:  # type: ignore[no-untyped-def]
    _, truth, rows, ok = demo
    assert ok
    assert len(truth.media) >= 40 and rows


def test_every_copy_of_the_enrolled_photos_is_found(demo) -> None:  # type: ignore[no-untyped-def]
    _, truth, rows, _ = demo
    routes = _routes(rows)
    expected = [m for m in truth.media if m.expect_hit]
    assert {m.label for m in expected} >= {"exact", "resized", "mirrored", "cropped", "sticker", "composite"}
    for media in expected:
        assert media.path in routes, f"missed {media.label}: {media.path}"
        assert media.route in routes[media.path], f"{media.path} not found via {media.route}"
    for media in truth.media:
        if media.label == "exact":
            assert "exact" in routes[media.path]
        if media.label in PDQ_ROUTE_LABELS:
            assert "pdq" in routes[media.path], f"{media.label} {media.path} should be a PDQ match"


def test_composites_are_found_through_the_face_route(demo) -> None:  # type: ignore[no-untyped-def]
    """A face pasted onto another photo: never a whole-image hash match; always the face route. A face taken
    from a photo that was never enrolled can only be found that way; one cut from an enrolled photo may also
    be found as a partial copy (part of that photo is in it)."""
    _, truth, rows, _ = demo
    routes = _routes(rows)
    composites = [m for m in truth.media if m.label == "composite"]
    assert len(composites) >= 6
    for media in composites:
        assert "face" in routes[media.path] and not routes[media.path] & {"exact", "pdq"}, media.path
        if media.source_asset == "obama3.jpg":
            assert routes[media.path] == {"face"}, media.path
    assert any(m.source_asset == "obama3.jpg" for m in composites)


def test_no_hit_on_other_people_or_unrelated_photos(demo) -> None:  # type: ignore[no-untyped-def]
    _, truth, rows, _ = demo
    routes = _routes(rows)
    negatives = [m for m in truth.media if not m.expect_hit]
    assert {m.label for m in negatives} >= {"other_face", "other_face_composite", "unrelated"}
    assert [m.path for m in negatives if m.path in routes] == []
    scores = score(truth, rows)
    assert sum(s.false_hits for s in scores.values()) == 0


def test_hits_carry_provenance_and_spread(demo) -> None:  # type: ignore[no-untyped-def]
    _, truth, rows, _ = demo
    assert all(r.chat and r.message_id and r.date and r.date.tzinfo for r in rows)
    forwarded = [r for r in rows if r.forwarded_from]
    assert forwarded, "the demo forwards copies between chats"
    chats_per_file: dict[str, set[str]] = {}
    for r in rows:
        chats_per_file.setdefault(r.media_path or "", set()).add(r.chat or "")
    assert max(len(c) for c in chats_per_file.values()) >= 2
    assert {r.chat for r in rows} <= set(truth.chats)


def test_placeholders_are_recorded_as_skipped(demo) -> None:  # type: ignore[no-untyped-def]
    store, truth, _, _ = demo
    with store.session() as session:
        skipped = session.scalars(select(Item.skip_reason).where(Item.skip_reason.is_not(None))).all()
    assert len(skipped) == truth.missing_placeholders
    assert all("not included" in reason for reason in skipped)


def test_report_is_written_with_blurred_thumbnails(demo) -> None:  # type: ignore[no-untyped-def]
    store, truth, _, _ = demo
    report = (truth.export_dir.parent / "report.html").read_text(encoding="utf-8")
    assert all(chat in report for chat in truth.chats)
    assert "data:image/jpeg;base64," in report
    with store.session() as session:
        keys = session.scalars(select(Media.thumb_key).where(Media.thumb_key.is_not(None))).all()
    assert keys
    for key in keys:
        clear = base64.b64encode(store.blobs.get(key)).decode()
        assert clear[:200] not in report, "a clear thumbnail must not be in the default report"


def test_rescanning_the_demo_adds_nothing(demo) -> None:  # type: ignore[no-untyped-def]
    store, truth, rows, _ = demo
    with store.session() as session:
        before = session.scalar(select(func.count()).select_from(Item))
    result = run_scan(store, open_source(truth.export_dir), location=truth.export_dir, case_id=1, workers=1)
    assert result.items_new == 0 and result.media_new == 0 and sum(result.new_hits.values()) == 0
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(Item)) == before
        assert len(list_hits(session, 1)) == len(rows)


def test_cli_hits_json(demo) -> None:  # type: ignore[no-untyped-def]
    store, _, rows, _ = demo
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "ncii_shield.cli.main",
            "--data-dir",
            str(store.settings.data_dir),
            "hits",
            "1",
            "--json",
        ],
        check=True,
        capture_output=True,
        text=True,
        env=cli_env(),
    ).stdout
    data = json.loads(out)
    assert len(data) == len(rows)
    first = data[0]
    for key in (
        "kind",
        "kinds",
        "distances",
        "media_path",
        "chat",
        "message_id",
        "sender",
        "sender_id",
        "date",
        "forwarded_from",
    ):
        assert key in first
    assert {d["kind"] for d in data} == {"exact", "pdq", "partial", "face", "text"}
    named = [d for d in data if d["kind"] == "text"]
    assert named and all("name" in d["details"]["text"]["fields"] for d in named)
    assert any(set(d["details"]["text"]["fields"]) == {"name", "birth_year"} for d in named)
    partial = [d for d in data if d["kind"] == "partial"]
    assert all(d["details"]["partial"]["route"] in ("window", "features") for d in partial)
    face_only = [d for d in data if d["kinds"] == ["face"]]
    assert face_only and all(d["distances"]["face"] < 0.5 for d in face_only)


def test_cli_report(demo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store, *_ = demo
    out = tmp_path / "r.html"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "ncii_shield.cli.main",
            "--data-dir",
            str(store.settings.data_dir),
            "report",
            "1",
            "--out",
            str(out),
        ],
        check=True,
        capture_output=True,
        env=cli_env(),
    )
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_demo_text_hits_rank_the_solicitation_first_and_are_redacted(demo) -> None:  # type: ignore[no-untyped-def]
    _, truth, rows, _ = demo
    text_rows = [r for r in rows if "text" in r.kinds]
    assert {(r.chat, r.message_id) for r in text_rows} == set(truth.named_messages)
    assert len(truth.named_messages) == 2
    first = text_rows[0]
    assert (first.chat, first.message_id) == truth.solicitation
    assert first.details and first.details["text"]["label"] == "solicitation"  # type: ignore[index]
    assert text_rows[1].details["text"]["label"] != "solicitation"  # type: ignore[index]
    assert "서윤" not in (first.excerpt or "") and "[name]" in (first.excerpt or "")
    assert "아시는 분" in (first.excerpt or "")
    report = (truth.export_dir.parent / "report.html").read_text(encoding="utf-8")
    assert "아시는 분? 갠텔 주세요" in report and "07년생 서윤" not in report


def test_demo_room_graph(demo) -> None:  # type: ignore[no-untyped-def]
    store, truth, _, _ = demo
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "ncii_shield.cli.main",
            "--data-dir",
            str(store.settings.data_dir),
            "rooms",
            "1",
            "--json",
        ],
        check=True,
        capture_output=True,
        text=True,
        env=cli_env(),
    ).stdout
    graph = json.loads(out)
    titles = {c["chat_id"]: c["title"] for c in graph["chats"]}
    edges = {(titles[e["from_chat"]], e["target"], titles.get(e["to_chat"])) for e in graph["edges"]}
    assert edges == set(truth.room_links), "exactly the expected links: no contact handle taken for a room"
    assert graph["chats"][0]["title"] == truth.chats[0], "the school room holds most of the case's hits"
    assert all(sum(c["hits"].values()) > 0 for c in graph["chats"])


def test_demo_ends_with_notices_and_a_verified_bundle(demo) -> None:  # type: ignore[no-untyped-def]
    from ncii_shield.evidence.bundle import verify_bundle

    _, truth, rows, _ = demo
    out = truth.export_dir.parent
    notices = sorted((out / "notices").glob("notice-*.txt"))
    platforms = {p.name.split("-")[2] for p in notices}
    assert platforms == {"telegram", "kcsc"}
    telegram = next(p for p in notices if "-telegram-" in p.name).read_text(encoding="utf-8")
    assert "https://t.me/c/1801234567/" in telegram and "서윤" not in telegram
    check = verify_bundle(out / "evidence-bundle.zip")
    assert check.ok and check.whole_file_signed and check.hits == len(rows)


def test_families_follow_the_ground_truth(demo: tuple[Store, DemoGroundTruth, list[HitRow], bool]) -> None:
    """Every copy lands in the family of the enrolled photo it was made from; the spread figures are the
    copies' own dates, rooms and senders."""
    from collections import Counter

    from ncii_shield.read.families import TEXT_FAMILY, case_families

    store, truth, rows, _ = demo
    with store.session() as session:
        families = case_families(session, 1)
    enrolled = {p.name for p in truth.enrol_photos}
    assert {f.label for f in families} == enrolled | {TEXT_FAMILY}
    assert sum(len(f.copies) for f in families) == len(rows)  # every hit in exactly one family
    family_of = {r.item_id: f.label for f in families for r in f.copies}
    made_from = {m.path: m.source_asset for m in truth.media}
    for row in rows:
        source = made_from.get(row.media_path or "")
        if row.kind in ("exact", "pdq") and source in enrolled:
            assert family_of[row.item_id] == source, (row.media_path, source)
    text = next(f for f in families if f.label == TEXT_FAMILY)
    assert {(r.chat, r.message_id) for r in text.copies} <= set(truth.named_messages)
    for family in families:
        dated = [r for r in family.copies if r.date]
        assert family.first is not None and family.first.date == min(r.date for r in dated)  # type: ignore[type-var]
        assert sum(room.copies for room in family.rooms) == len(family.copies)
        senders = Counter(r.sender_id or r.sender for r in family.copies if r.sender_id or r.sender)
        assert family.top_spreader is not None and family.top_spreader.copies == max(senders.values())
        forwards = sum(1 for r in family.copies if r.forwarded_from)
        assert sum(p.copies for p in family.paths) == forwards == sum(room.forwarded for room in family.rooms)


def test_case_spread_cli(demo: tuple[Store, DemoGroundTruth, list[HitRow], bool]) -> None:
    store, _, rows, _ = demo

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ncii_shield.cli.main", "--data-dir", str(store.settings.data_dir), *args],
            capture_output=True,
            text=True,
            env=cli_env(),
            timeout=120,
        )

    listed = json.loads(run("case", "spread", "1", "--json").stdout)
    assert sum(f["copies"] for f in listed) == len(rows)
    assert sorted(i for f in listed for i in f["items"]) == sorted(r.item_id for r in rows)
    assert all(f["first"]["date"] <= min(r["first_at"] for r in f["rooms"] if r["first_at"]) for f in listed)
    table = run("case", "spread", "1")
    assert table.returncode == 0 and "where the photos went" in table.stdout
    missing = run("case", "spread", "99")
    assert missing.returncode == 2 and "no case 99" in missing.stderr and "Traceback" not in missing.stderr


def test_actors_account_for_every_post(demo: tuple[Store, DemoGroundTruth, list[HitRow], bool]) -> None:
    """Every hit with a sender is one actor's post or forward; the forward origins add up; the CLI agrees."""
    from ncii_shield.read.actors import case_actors

    store, _, rows, _ = demo
    with store.session() as session:
        actors = case_actors(session, 1)
    with_sender = [r for r in rows if r.sender_id or r.sender]
    assert sum(a.posted + a.forwarded for a in actors) == len(with_sender)
    assert sorted(i for a in actors for i in a.items) == sorted(r.item_id for r in with_sender)
    assert sum(a.origin_of for a in actors) == sum(1 for r in rows if r.forwarded_from)
    top = actors[0]
    assert top.posted + top.forwarded + top.origin_of == max(
        a.posted + a.forwarded + a.origin_of for a in actors
    )
    listed = subprocess.run(
        [
            sys.executable,
            "-m",
            "ncii_shield.cli.main",
            "--data-dir",
            str(store.settings.data_dir),
            *("case", "actors", "1", "--json"),
        ],
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=120,
    )
    assert [a["key"] for a in json.loads(listed.stdout)] == [a.key for a in actors]


def test_cli_hits_by_family_with_counts_that_say_what_they_count(
    demo: tuple[Store, DemoGroundTruth, list[HitRow], bool],
) -> None:
    store, _, _, _ = demo
    scanned = store.settings.data_dir
    env = cli_env(COLUMNS="80")
    rows = json.loads(
        subprocess.run(
            _demo_cli(scanned, "hits", "1", "--json"), env=env, capture_output=True, text=True, check=True
        ).stdout
    )
    families: dict[str, list[dict]] = {}
    for row in rows:
        families.setdefault(row["family_label"], []).append(row)
    assert len(families) >= 3 and all(row["family"] for row in rows)  # two photos and the text
    out = subprocess.run(
        _demo_cli(scanned, "hits", "1"), env=env, capture_output=True, text=True, check=True
    ).stdout
    lines = out.splitlines()
    assert all(len(line) <= 80 for line in lines)
    files = len({r["media_sha256"] for r in rows if r["media_sha256"]})
    assert (
        f"Case 1: {len(rows)} messages with hits · {len(families)} families · {files} distinct files" in out
    )
    for label, members in families.items():
        title = next(
            line for line in lines if f" {len(members)} message" in line and label.split()[0] in line
        )
        # each family's table lists exactly its own messages, right under its title
        start = lines.index(title)
        end = next(
            (i for i in range(start + 1, len(lines)) if "·" in lines[i] and "┃" not in lines[i]), len(lines)
        )
        listed = {
            int(line.split("│")[1])
            for line in lines[start:end]
            if line.startswith("│ ") and line.split("│")[1].strip().isdigit()
        }
        assert listed == {r["item_id"] for r in members}, label
    wide = subprocess.run(
        _demo_cli(scanned, "hits", "1", "--wide"), env=env, capture_output=True, text=True, check=True
    )
    header = next(line for line in wide.stdout.splitlines() if "item" in line)
    assert header.count("┃") == 11  # all ten columns, folded
    assert "hidden" not in wide.stderr


def _demo_cli(data: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "ncii_shield.cli.main", "--data-dir", str(data), *args]
