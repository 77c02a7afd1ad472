"""Transparency statistics against a fixture computed by hand; the same numbers from the CLI, the API and the
web pages; each notice's clocks in the API and its OpenAPI schema."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ncii_shield.cases.service import open_case
from ncii_shield.read.takedown_timeline import case_timeline, verdict
from ncii_shield.read.transparency import (
    PlatformTransparency,
    SentItem,
    SentNotice,
    case_transparency,
    compute,
    nearest_rank,
    transparency,
)
from ncii_shield.store.db import Store
from ncii_shield.store.models import Item, Notice, NoticeItem, Source
from ncii_shield.takedown.smtp import SmtpSettings
from ncii_shield.web.auth import assign, create_token, create_user
from tests.conftest import cli_env
from tests.test_takedown_worker import PAGES, Desk, _earlier, _seed, _worker, desk, web  # noqa: F401
from tests.web_server import live_server

T0 = datetime(2026, 1, 1, tzinfo=UTC)
AS_OF = T0 + timedelta(hours=200)
PASSWORD = "a long enough passphrase"


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


@dataclass(frozen=True)
class Spec:
    """A notice of the fixture: platform, first send (hours after T0, None: never sent), escalated,
    and per item (hours of removal after T0 or None, status)."""

    platform: str
    sent: float | None
    items: tuple[tuple[float | None, str], ...]
    escalated: float | None = None


# The fixture. Times are hours after T0; the statistics are taken at T0 + 200 h.
FIXTURE = (
    # telegram: six removals (an even count), one exactly at 48 h, one re-uploaded; one item never removed
    # (sent 200 h ago: settled, not within 48 h); escalated once.
    Spec(
        "telegram",
        0,
        (
            (10, "removed"),
            (30, "removed"),
            (50, "reappeared"),
            (48, "removed"),
            (20, "removed"),
            (None, "still_up"),
        ),
        escalated=48,
    ),
    # …and a notice sent 20 h ago: one removal after 2 h, one item still up but not yet settled.
    Spec("telegram", 180, ((182, "removed"), (None, "sent"))),
    # A drafted notice is counted nowhere.
    Spec("telegram", None, ((None, "drafted"),)),
    # x: exactly one removal, 5.5 h after the send.
    Spec("x", 100, ((105.5, "removed"),)),
    # meta: no removal at all; both items sent 200 h ago, so settled (as not removed within 48 h).
    Spec("meta", 0, ((None, "still_up"), (None, "acknowledged"))),
    # hosting: a removal recorded an hour *before* the send (clock skew): clamped to 0 h and counted.
    Spec("hosting", 10, ((9, "removed"),)),
)

# Worked out by hand from FIXTURE (p90: nearest rank, the value at rank ceil(0.9 n), 1-based).
EXPECTED = {
    # hours [2, 10, 20, 30, 48, 50]: median (20 + 30) / 2 = 25; p90 rank ceil(5.4) = 6 -> 50;
    # within 48 h: 2, 10, 20, 30, 48 = 5 of settled 6 removed + 1 old still up = 7; still up 2 of 8;
    # re-uploads 1 of 6 removed.
    "telegram": PlatformTransparency("telegram", 2, 8, 6, 25.0, 50.0, 5, 7, 0.7143, 2, 0.25, 1, 0.1667, 1, 0),
    "x": PlatformTransparency("x", 1, 1, 1, 5.5, 5.5, 1, 1, 1.0, 0, 0.0, 0, 0.0, 0, 0),
    "meta": PlatformTransparency("meta", 1, 2, 0, None, None, 0, 2, 0.0, 2, 1.0, 0, None, 0, 0),
    "hosting": PlatformTransparency("hosting", 1, 1, 1, 0.0, 0.0, 1, 1, 1.0, 0, 0.0, 0, 0.0, 0, 1),
    # hours [0, 2, 5.5, 10, 20, 30, 48, 50]: median (10 + 20) / 2 = 15; p90 rank ceil(7.2) = 8 -> 50;
    # within 7 of settled 8 + 1 + 2 = 11; still up 4 of 12; re-uploads 1 of 8.
    "*": PlatformTransparency("*", 5, 12, 8, 15.0, 50.0, 7, 11, 0.6364, 4, 0.3333, 1, 0.125, 1, 1),
}


def _sent(spec: Spec) -> SentNotice:
    assert spec.sent is not None
    return SentNotice(
        spec.platform,
        h(spec.sent),
        h(spec.escalated) if spec.escalated is not None else None,
        tuple(SentItem(h(r) if r is not None else None, status) for r, status in spec.items),
    )


def seed(store: Store, specs: tuple[Spec, ...] = FIXTURE, pseudonym: str = "Case S") -> int:
    """A case with the fixture's notices, items and times, written as the takedown code writes them."""
    with store.session() as s:
        case = open_case(s, pseudonym, consent_by="the person", consent_method="signed form")
        source = Source(kind="folder", location="/crawl", name="crawl", fingerprint=f"{case.id:064d}")
        s.add(source)
        s.flush()
        for n, spec in enumerate(specs):
            notice = Notice(
                case_id=case.id,
                platform_id=spec.platform,
                language="en",
                channel="email",
                to="abuse@host.test",
                subject=f"Removal request {n}",
                body="Please remove it.",
                status="sent" if spec.sent is not None else "drafted",
                created_at=h(spec.sent or 0) - timedelta(hours=1),
                sent_at=h(spec.sent) if spec.sent is not None else None,
                due_at=h(spec.sent + 48) if spec.sent is not None else None,
                escalated_at=h(spec.escalated) if spec.escalated is not None else None,
            )
            s.add(notice)
            s.flush()
            for m, (removed, status) in enumerate(spec.items):
                url = f"https://{spec.platform}.test/{n}/{m}"
                item = Item(
                    source_id=source.id, external_id=f"{case.id}-{n}-{m}", kind="media", extra={"url": url}
                )
                s.add(item)
                s.flush()
                s.add(
                    NoticeItem(
                        notice_id=notice.id,
                        item_id=item.id,
                        url=url,
                        status=status,
                        removed_at=h(removed) if removed is not None else None,
                    )
                )
        return case.id


def test_nearest_rank_and_the_median_of_an_even_count() -> None:
    assert nearest_rank([7.0], 0.9) == 7.0
    assert nearest_rank([float(v) for v in range(10, 0, -1)], 0.9) == 9.0  # rank 9 of 10, unsorted input
    assert nearest_rank([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0], 0.9) == 10.0  # ceil(9.9)
    with pytest.raises(ValueError):
        nearest_rank([], 0.9)


def test_the_statistics_match_the_hand_computed_fixture_without_a_database() -> None:
    found = compute([_sent(s) for s in FIXTURE if s.sent is not None], AS_OF, cases=1)
    assert {p.platform_id: p for p in found.platforms} == {k: v for k, v in EXPECTED.items() if k != "*"}
    assert [p.platform_id for p in found.platforms] == ["hosting", "meta", "telegram", "x"]
    assert found.overall == EXPECTED["*"]
    assert found.within_hours == 48.0 and found.as_of == AS_OF


def test_the_statistics_match_the_hand_computed_fixture_from_the_store(store: Store) -> None:
    case_id = seed(store)
    seed(store, (Spec("telegram", 0, ((1, "removed"),)),), pseudonym="Another case")  # not in scope
    with store.session() as s:
        found = transparency(s, [case_id], as_of=AS_OF)
        everything = transparency(s, as_of=AS_OF)
        nothing = transparency(s, [], as_of=AS_OF)
    assert found.cases == 1 and {p.platform_id: p for p in found.platforms} == {
        k: v for k, v in EXPECTED.items() if k != "*"
    }
    assert found.overall == EXPECTED["*"]
    assert everything.cases == 2 and everything.overall is not None
    assert everything.overall.notices_sent == 6 and everything.overall.removed == 9
    assert nothing.platforms == [] and nothing.overall is None and nothing.cases == 0


def test_an_item_still_up_counts_once_its_48_hours_have_passed() -> None:
    """The same notice, still up, read 47 h and 49 h after its send: unsettled, then not within 48 h."""
    notice = SentNotice("x", T0, None, (SentItem(None, "still_up"),))
    early = compute([notice], T0 + timedelta(hours=47), 1).platforms[0]
    late = compute([notice], T0 + timedelta(hours=49), 1).platforms[0]
    assert (early.settled_48h, early.share_within_48h, early.share_still_up) == (0, None, 1.0)
    assert (late.settled_48h, late.share_within_48h, late.share_still_up) == (1, 0.0, 1.0)


def _cli(store: Store, *args: str) -> subprocess.CompletedProcess[str]:
    data_dir = str(store.settings.data_dir)
    return subprocess.run(
        [sys.executable, "-m", "ncii_shield.cli.main", "--data-dir", data_dir, "takedown", "stats", *args],
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=120,
    )


def test_the_cli_prints_the_same_statistics(store: Store) -> None:
    case_id = seed(store)
    seed(store, (Spec("x", 0, ((1, "removed"),)),), pseudonym="Another case")
    one = _cli(store, "--case", str(case_id), "--json")
    assert one.returncode == 0, one.stderr
    body = json.loads(one.stdout)
    platforms = {p["platform_id"]: p for p in body["platforms"]}
    # Read now, 11 months after T0: every item is settled; the times to removal are as by hand.
    assert platforms["telegram"]["median_hours"] == 25.0 and platforms["telegram"]["p90_hours"] == 50.0
    assert platforms["telegram"]["within_48h"] == 5 and platforms["telegram"]["settled_48h"] == 8
    assert platforms["hosting"]["clock_skew"] == 1 and body["cases"] == 1
    assert body["overall"]["notices_sent"] == 5 and body["within_hours"] == 48.0
    every = json.loads(_cli(store, "--json").stdout)
    assert every["cases"] == 2 and every["overall"]["notices_sent"] == 6
    table = _cli(store, "--case", str(case_id))
    assert table.returncode == 0 and "telegram" in table.stdout and "25" in table.stdout
    assert "counted as 0 h" in table.stdout
    missing = _cli(store, "--case", "999")
    assert missing.returncode != 0 and "no case 999" in missing.stderr


def _login(base: str, user: str) -> httpx.Client:
    client = httpx.Client(base_url=base, follow_redirects=False, timeout=60)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)  # type: ignore[union-attr]
    done = client.post("/login", data={"username": user, "password": PASSWORD, "csrf_token": token})
    assert done.status_code == 303
    return client


def _users(store: Store, case_id: int) -> str:
    with store.session() as s:
        for name, role, language in (
            ("en-worker", "case_worker", "en"),
            ("ko-worker", "case_worker", "ko"),
            ("reviewer", "reviewer", "en"),
        ):
            create_user(s, name, PASSWORD, role, language=language)
            assign(s, name, case_id)
        return create_token(s, "en-worker", "stats", ["cases:read"])


def test_the_api_sends_each_notices_clocks_and_the_statistics(store: Store) -> None:
    case_id = seed(store)
    other = seed(store, (Spec("x", 0, ((1, "removed"),)),), pseudonym="Not assigned")
    token = _users(store, case_id)
    with store.session() as s:
        create_user(s, "boss", PASSWORD, "admin")
        admin = create_token(s, "boss", "stats", ["cases:read"])
    with live_server(store) as base:
        every = httpx.get(f"{base}/api/v1/transparency", headers={"Authorization": f"Bearer {admin}"}).json()
        api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60)
        body = api.get(f"/api/v1/cases/{case_id}/takedown").json()
        case_stats = api.get(f"/api/v1/cases/{case_id}/transparency").json()
        org_stats = api.get("/api/v1/transparency").json()
        assert api.get(f"/api/v1/cases/{other}/transparency").status_code == 403
        spec = httpx.get(f"{base}/api/v1/openapi.json").json()
    first, later, drafted = body["notices"][:3]
    assert (first["platform_id"], first["status"], first["items"]) == ("telegram", "sent", {
        "removed": 4, "reappeared": 1, "still_up": 1})  # fmt: skip
    assert datetime.fromisoformat(first["due_at"]) == h(48) and first["overdue"] is True
    assert datetime.fromisoformat(first["escalated_at"]) == h(48) and first["next_resend_at"] is None
    assert first["seconds_left"] < 0 and first["done"] is False and first["clock_basis"] == "law"
    assert datetime.fromisoformat(later["due_at"]) == h(228) and later["escalated_at"] is None
    assert drafted["due_at"] is None and drafted["overdue"] is False and drafted["sent_at"] is None
    # The same fields and clocks as `takedown status --json`.
    status = subprocess.run(
        [sys.executable, "-m", "ncii_shield.cli.main", "--data-dir", str(store.settings.data_dir), "takedown",
         "status", str(case_id), "--json"],
        capture_output=True, text=True, env=cli_env(), timeout=120,
    )  # fmt: skip
    cli_first = json.loads(status.stdout)["notices"][0]
    assert set(cli_first) == set(first)
    times = ("due_at", "escalated_at", "sent_at", "created_at")  # the same instants, written two ways
    for key in times:
        assert datetime.fromisoformat(cli_first[key]) == datetime.fromisoformat(first[key]), key
    rest = set(first) - {*times, "seconds_left"}  # seconds_left: read a moment apart
    assert {k: cli_first[k] for k in rest} == {k: first[k] for k in rest}
    done = next(n for n in body["notices"] if n["platform_id"] == "x")
    assert done["done"] is True and done["overdue"] is False, "every item removed: nothing overdue"
    # The case's statistics and the organisation's (this user's one case) are the fixture's.
    assert case_stats["cases"] == 1 and case_stats == {**org_stats, "as_of": case_stats["as_of"]}
    assert every["cases"] == 2 and every["overall"]["notices_sent"] == 6, "an admin's: every case"
    telegram = next(p for p in case_stats["platforms"] if p["platform_id"] == "telegram")
    assert (telegram["median_hours"], telegram["p90_hours"], telegram["reupload_rate"]) == (
        25.0,
        50.0,
        0.1667,
    )
    # The OpenAPI document describes every clock field and the statistics.
    schemas = spec["components"]["schemas"]
    notice = schemas["NoticeOut"]["properties"]
    for field in ("due_at", "overdue", "next_resend_at", "escalated_at", "seconds_left", "clock_basis"):
        assert field in notice and notice[field].get("description"), field
    assert "first send" in notice["due_at"]["description"]
    assert "nearest-rank" in schemas["PlatformTransparency"]["properties"]["p90_hours"]["description"]
    takedown = spec["paths"]["/api/v1/cases/{case_id}/takedown"]["get"]
    assert takedown["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/TakedownOut"
    )
    for path in ("/api/v1/transparency", "/api/v1/cases/{case_id}/transparency"):
        ref = spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        assert ref.endswith("/TransparencyOut"), path


def test_the_transparency_pages_in_english_and_korean(store: Store) -> None:
    case_id = seed(store)
    _users(store, case_id)
    with live_server(store) as base:
        english = _login(base, "en-worker")
        page = english.get(f"/cases/{case_id}/transparency")
        org = english.get("/transparency")
        jump = english.get("/transparency", params={"case": case_id})
        korean = _login(base, "ko-worker").get("/transparency").text
        refused = _login(base, "reviewer").get("/transparency")
        board = english.get(f"/cases/{case_id}/takedown").text
    assert page.status_code == 200 and org.status_code == 200
    link = f'<a href="/cases/{case_id}/transparency" id="transparency-link">'
    assert link in board  # reached from the board
    row = re.search(r'data-platform="telegram".*?</tr>', page.text, re.S).group(0)  # type: ignore[union-attr]
    cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
    assert cells == ["telegram", "2", "8", "6", "25", "50", "62% (5/8)", "25% (2)", "17% (1)", "1"]
    assert 'data-platform="*"' in page.text and "All platforms" in page.text
    assert re.search(r'id="skew">1 removal\(s\) were recorded before[^<]*count as 0 hours', page.text)
    assert "nearest rank" in page.text and 'href="/transparency"' in page.text
    assert re.search(r'data-platform="telegram".*?25.*?50', org.text, re.S)
    assert jump.status_code == 303 and jump.headers["location"] == f"/cases/{case_id}/transparency"
    assert "투명성 통계" in korean and "재유포율" in korean and "48시간 안에 삭제" in korean
    assert refused.status_code == 403


def test_a_resent_notices_clock_runs_from_its_first_send(
    store: Store,
    desk: tuple[SmtpSettings, Desk],  # noqa: F811 (fixtures imported above)
    web: str,  # noqa: F811
) -> None:
    """Through the worker against a local SMTP server and platform: sent, re-sent a day later, removed 30 h
    after the first send; the statistics and the timeline count 30 h, not the 6 h since the reminder."""
    smtp, inbox = desk
    PAGES["/stats/a"] = 200
    (notice_id,) = _seed(store, [[f"{web}/stats/a"]])
    worker = _worker(store, smtp)
    assert worker.run_once().sent == [notice_id]
    _earlier(store, notice_id, timedelta(hours=24, seconds=1), "sent_at", "due_at", "resend_at", "check_at")
    assert worker.run_once().resent == [notice_id]
    PAGES["/stats/a"] = 404
    _earlier(store, notice_id, timedelta(hours=6), "sent_at", "due_at", "resend_at", "check_at")
    assert worker.run_once().removed == [notice_id]
    assert len(inbox.received) == 2
    with store.session() as s:
        case_id = s.get(Notice, notice_id).case_id  # type: ignore[union-attr]
        stats = case_transparency(s, case_id)
        timeline = case_timeline(s, case_id)
    (hosting,) = stats.platforms
    assert hosting.median_hours is not None and 30.0 <= hosting.median_hours < 30.1
    assert hosting.within_48h == 1 and hosting.removed == 1 and hosting.clock_skew == 0
    (notice,) = timeline.notices
    assert [s.step for s in notice.steps if s.step in ("sent", "resent", "removed")] == [
        "sent",
        "resent",
        "removed",
    ]
    assert notice.items[0].hours_to_removal == hosting.median_hours and notice.verdict == "met"


def test_how_each_notices_clock_ended() -> None:
    due = h(48)
    assert verdict(None, None, [None], h(100)) == "unsent"
    assert verdict(h(0), due, [h(10), h(48)], h(100)) == "met", "removed at the deadline itself: met"
    assert verdict(h(0), due, [h(10), h(49)], h(100)) == "late"
    assert verdict(h(0), due, [h(10), None], h(49)) == "overdue"
    assert verdict(h(0), due, [h(10), None], h(47)) == "running"
    assert verdict(h(0), due, [], h(47)) == "running", "a notice without items is never met"


_times = st.one_of(st.none(), st.floats(min_value=-30, max_value=400, allow_nan=False))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["telegram", "x", "meta"]),
            st.floats(min_value=0, max_value=300, allow_nan=False),
            st.booleans(),
            st.lists(st.tuples(_times, st.sampled_from(["removed", "reappeared", "still_up"])), max_size=6),
        ),
        max_size=12,
    )
)
def test_the_statistics_hold_together_for_any_notices(
    specs: list[tuple[str, float, bool, list[tuple[float | None, str]]]],
) -> None:
    notices = [
        SentNotice(
            p,
            h(sent),
            h(sent) if escalated else None,
            tuple(SentItem(h(sent + r) if r is not None else None, status) for r, status in items),
        )
        for p, sent, escalated, items in specs
    ]
    found = compute(notices, AS_OF, 1)
    rows = [*found.platforms, *([found.overall] if found.overall else [])]
    for p in rows:
        assert p.removed + p.still_up == p.items_reported
        assert p.within_48h <= p.removed <= p.settled_48h <= p.items_reported
        assert p.reappeared <= p.removed and p.clock_skew <= p.removed and p.escalations <= p.notices_sent
        for share in (p.share_within_48h, p.share_still_up, p.reupload_rate):
            assert share is None or 0 <= share <= 1
        if p.removed:
            assert p.median_hours is not None and p.p90_hours is not None
            assert 0 <= p.median_hours <= p.p90_hours + 0.01
        else:
            assert p.median_hours is None and p.p90_hours is None and p.reupload_rate is None
    if found.overall is not None:
        for field in (
            "notices_sent",
            "items_reported",
            "removed",
            "within_48h",
            "settled_48h",
            "escalations",
        ):
            assert getattr(found.overall, field) == sum(getattr(p, field) for p in found.platforms), field
