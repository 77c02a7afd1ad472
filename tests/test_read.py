"""The read layer: hit counts mean one thing everywhere and carry their labels.

One case whose hits include a message found three ways (exact, pdq, face), a resized copy and a text
hit: the counts are worked out from the hit rows here, then checked against the read layer, the API and
the pages, which must all show the same numbers under the same names.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from ncii_shield.kinds import KIND_ORDER
from ncii_shield.read.cases import case_detail, list_cases
from ncii_shield.read.hits import HitCounts, count_hits, list_hits
from ncii_shield.read.rooms import room_graph
from ncii_shield.store.db import Store
from ncii_shield.store.models import Case, Hit
from ncii_shield.text.service import add_terms
from ncii_shield.web.auth import assign, create_token, create_user
from tests.conftest import ASSETS
from tests.exports import message, write_export
from tests.test_scan import _case, _resized, _scan
from tests.test_web_authz import PASSWORD, _login
from tests.web_server import live_server


def test_count_hits_labels_messages_routes_and_strongest() -> None:
    counts = count_hits([(1, "face"), (1, "exact"), (1, "pdq"), (2, "face"), (2, "pdq"), (3, "text")])
    assert counts == HitCounts(
        messages=3,
        routes={"exact": 1, "pdq": 2, "face": 2, "text": 1},
        strongest={"exact": 1, "pdq": 1, "text": 1},
    )
    assert list(counts.routes) == [k for k in KIND_ORDER if k in counts.routes], "in route order"
    assert sum(counts.strongest.values()) == counts.messages < sum(counts.routes.values())
    assert count_hits([]) == HitCounts(0, {}, {})


def _in_route_order(counts: Counter[str]) -> dict[str, int]:
    return {k: counts[k] for k in KIND_ORDER if counts[k]}


@dataclass
class Site:
    url: str
    store: Store
    case_id: int
    token: str
    expected: HitCounts


@pytest.fixture
def site(store: Store, tmp_path: Path) -> Iterator[Site]:
    photo = ASSETS / "obama.jpg"
    case_id = _case(store, [photo])
    with store.session() as s:
        add_terms(store, s, s.get(Case, case_id), [("name", "김하린")])
    export = write_export(
        tmp_path / "e",
        [
            message(1, photo="p/a.jpg"),
            message(2, photo="p/b.jpg"),
            message(3, text="김하린 사진 교환 갠텔 주세요"),
        ],
        files={"p/a.jpg": photo.read_bytes(), "p/b.jpg": _resized(photo, 400)},
    )
    _scan(store, export, case_id)
    with store.session() as s:
        rows = s.execute(select(Hit.item_id, Hit.kind).where(Hit.case_id == case_id)).all()
        create_user(s, "worker", PASSWORD, "case_worker", language="en")
        assign(s, "worker", case_id)
        token = create_token(s, "worker", "r", ["cases:read"])
    kinds: dict[int, set[str]] = {}
    for item_id, kind in rows:
        kinds.setdefault(item_id, set()).add(kind)
    expected = HitCounts(
        messages=len(kinds),
        routes=_in_route_order(Counter(kind for _, kind in rows)),
        strongest=_in_route_order(Counter(min(k, key=KIND_ORDER.index) for k in kinds.values())),
    )
    assert expected.messages == 3 and sum(expected.routes.values()) > expected.messages + 1, expected
    with live_server(store) as url:
        yield Site(url, store, case_id, token, expected)


def test_the_read_layer_counts_as_the_hit_rows_say(site: Site) -> None:
    with site.store.session() as s:
        [summary] = list_cases(s, [site.case_id])
        detail = case_detail(s, site.case_id)
        rows = list_hits(s, site.case_id)
        graph = room_graph(site.store, s, site.case_id)
    assert summary.hit_counts == detail.hit_counts == site.expected
    assert summary.items == len(rows) == site.expected.messages
    assert summary.hits == site.expected.routes
    assert dict(Counter(r.kind for r in rows)) == site.expected.strongest, "a row's kind is its strongest"
    assert summary.decisions.undecided == site.expected.messages
    assert sum(c.hit_counts.messages for c in graph.chats) == site.expected.messages
    assert all(c.hits == c.hit_counts.strongest for c in graph.chats)


def test_the_api_and_the_pages_show_the_same_counts(site: Site) -> None:
    api = httpx.Client(base_url=site.url, headers={"Authorization": f"Bearer {site.token}"}, timeout=60)
    [listed] = api.get("/api/v1/cases").json()
    detail = api.get(f"/api/v1/cases/{site.case_id}").json()
    expected = site.expected.__dict__
    for case in (listed, detail):
        assert case["hit_counts"] == expected
        assert case["items"] == expected["messages"] and case["hits"] == expected["routes"]
        assert case["decisions"]["undecided"] == expected["messages"]
    rooms = api.get(f"/api/v1/cases/{site.case_id}/rooms").json()
    assert sum(c["hit_counts"]["messages"] for c in rooms["chats"]) == expected["messages"]
    assert len(api.get(f"/api/v1/cases/{site.case_id}/hits").json()) == expected["messages"]

    client, _ = _login(site.url, "worker")
    overview = client.get("/cases").text
    assert ">Messages with hits</th>" in overview and ">Routes</th>" in overview
    row = re.search(rf'<tr><td><a href="/cases/{site.case_id}".*?</tr>', overview, re.S)
    assert row is not None
    cells = re.findall(r'<td class="num">(\d+)</td>', row.group(0))
    assert cells == [str(expected["messages"]), str(expected["messages"])], "messages, then to review"
    assert re.findall(r'class="badge k-(\w+)">\w+ (\d+)</span>', row.group(0)) == [
        (k, str(n)) for k, n in expected["routes"].items()
    ]
    dashboard = client.get(f"/cases/{site.case_id}").text
    assert f'id="hit-messages">{expected["messages"]}<' in dashboard
    assert f'id="hit-routes">{sum(expected["routes"].values())}<' in dashboard
    by_kind = re.findall(
        r'<tr><td><span class="badge k-(\w+)"[^>]*>\w+</span></td><td class="num">(\d+)</td>'
        r'<td class="num">(\d+)</td>',
        dashboard,
    )
    assert by_kind == [
        (k, str(expected["strongest"].get(k, 0)), str(n)) for k, n in expected["routes"].items()
    ]


def test_the_pages_and_the_api_run_no_queries_of_their_own() -> None:
    """Pages, API, HMA routes and CLI commands render what the read layer returns (and call services to write); a query here would be a
    second place a number is worked out."""
    import ncii_shield.web

    web = Path(ncii_shield.web.__file__).parent
    import ncii_shield.cli

    cli = Path(ncii_shield.cli.__file__).parent
    modules = [
        *web.glob("api*.py"),
        *web.glob("pages*.py"),
        *web.glob("hma*.py"),
        web / "render.py",
        web / "scans.py",
        *cli.glob("*.py"),
    ]
    assert len(modules) >= 20
    query = re.compile(r"\bselect\(|\b(session|s)\.(get|execute|scalars?|query)\(|from sqlalchemy import")
    assert [p.name for p in modules if query.search(p.read_text(encoding="utf-8"))] == []


def test_dates_sort_earliest_first_and_undated_last_naive_or_aware() -> None:
    """Exports give naive and aware dates, and messages with none: sorting them must never raise (the
    actors page did, on a tie between an undated sender and a dated one)."""
    from datetime import UTC, datetime, timedelta, timezone

    from ncii_shield.read.families import when_key

    aware = datetime(2024, 8, 20, 12, tzinfo=UTC)
    naive = datetime(2024, 8, 20, 11)  # read as UTC
    seoul = datetime(2024, 8, 20, 20, 30, tzinfo=timezone(timedelta(hours=9)))  # 11:30 UTC
    assert sorted([None, aware, naive, seoul], key=when_key) == [naive, seoul, aware, None]
