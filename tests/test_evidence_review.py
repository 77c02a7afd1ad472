"""Review with evidence, on the demo's ground truth: what each route recorded, shown beside the enrolled photo.

A face hit must carry the face's box on the copy and a distance under the face threshold; a partial copy
found by its features the region and at least the minimum inliers; a PDQ copy its distance under 31 bits; a
text hit its cues. The enrolled photo is served blurred like the copy, and revealing it is one more audited
reveal, refused to roles without the reveal permission. The HTML report carries the same spread figures as
the Spread tab, drawn by the same SVG builder.
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from sqlalchemy import select, update

from ncii_shield.demo.run import run_demo
from ncii_shield.evidence.assemble import build_report_data
from ncii_shield.evidence.report import render_report
from ncii_shield.read.evidence import MIN_INLIERS, _evidence, hit_evidence
from ncii_shield.read.families import case_families
from ncii_shield.read.hits import list_hits
from ncii_shield.scan.pipeline import Progress
from ncii_shield.signals.registry import BY_NAME
from ncii_shield.store.db import Store
from ncii_shield.store.models import AuditEvent, Hit
from ncii_shield.web.auth import assign, create_user
from ncii_shield.web.i18n import STRINGS
from tests.conftest import new_store
from tests.web_server import live_server

PASSWORD = "a long enough passphrase"
EN = STRINGS["en"]


@dataclass(frozen=True)
class Site:
    url: str
    store: Store


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    out = tmp_path_factory.mktemp("evidence-demo")
    store = new_store(out / "data")
    assert run_demo(
        store, out, workers=2, progress_factory=nullcontext, progress_adapter=lambda _: Progress()
    )
    with store.session() as s:
        for role in ("case_worker", "reviewer", "auditor"):
            create_user(s, role, PASSWORD, role, language="en")
            assign(s, role, 1)
    with live_server(store) as url:
        yield Site(url, store)
    store.close()


def _login(url: str, role: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=url, follow_redirects=False, timeout=60)
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    done = client.post("/login", data={"username": role, "password": PASSWORD, "csrf_token": token})
    assert done.status_code == 303, done.status_code
    landing = client.get(done.headers["location"])
    found = re.search(r'name="csrf_token" value="([^"]+)"', landing.text)
    return client, found.group(1) if found else ""


def _inside(box: tuple[float, float, float, float] | None) -> bool:
    return box is not None and 0 <= box[0] < box[2] <= 1 and 0 <= box[1] < box[3] <= 1


def test_each_route_shows_its_evidence_on_the_demo(site: Site) -> None:
    with site.store.session() as s:
        rows = list_hits(s, 1)
        evidence = hit_evidence(s, 1, [r.item_id for r in rows])
    routes = [ev for r in rows for ev in evidence[r.item_id].routes]
    assert {ev.kind for ev in routes} >= {"exact", "pdq", "partial", "face", "text"}
    assert all(ev.recorded for ev in routes)  # every route of a new hit keeps its evidence
    face = [ev for ev in routes if ev.kind == "face"]
    assert face and all(_inside(ev.box) for ev in face)
    assert all(ev.distance is not None and ev.distance < BY_NAME["face"].threshold for ev in face)
    pdq = [ev for ev in routes if ev.kind == "pdq"]
    assert pdq and all(ev.distance is not None and ev.distance <= 31 == ev.threshold for ev in pdq)
    partial = [ev for ev in routes if ev.kind == "partial"]
    assert partial and all(_inside(ev.region) for ev in partial)
    features = [ev for ev in partial if ev.route == "features"]
    assert features and all(
        ev.inliers is not None and ev.inliers >= MIN_INLIERS == ev.min_inliers for ev in features
    )
    for ev in features:  # the photo's outline on the copy; clipped to the copy, it is the region
        assert ev.quad is not None and len(ev.quad) == 4 and ev.region is not None
        xs, ys = [min(max(x, 0), 1) for x, _ in ev.quad], [min(max(y, 0), 1) for _, y in ev.quad]
        assert (min(xs), min(ys), max(xs), max(ys)) == pytest.approx(ev.region, abs=1e-3)
    text = [ev for ev in routes if ev.kind == "text"]
    assert text and all(ev.cues for ev in text)
    # Each image copy is shown beside the enrolled photo it matched (demo photos are reposted as they are).
    images = [evidence[r.item_id] for r in rows if r.media_sha256]
    assert images and all(e.reference_label and e.reference_shown for e in images)
    assert {e.reference_label for e in images} == {r.reference for r in rows if r.media_sha256}


def test_video_evidence_from_what_the_route_stores() -> None:
    row = SimpleNamespace(
        kind="video",
        distance=12.0,
        details={"query_range": [3.0, 9.5], "reference_range": [0.0, 6.5], "query_percent": 82.0},
        signal_id=None,
        photo_sha256="a" * 64,
        photo_label="clip.mp4",
        width=640,
        height=360,
    )
    ev = _evidence(row, {"video": 31.0}, {})
    assert ev.recorded and ev.time_range == (3.0, 9.5) and ev.reference_range == (0.0, 6.5)
    assert ev.match_percent == 82.0 and ev.within


def test_the_queue_draws_the_evidence_beside_the_enrolled_photo(site: Site) -> None:
    client, _ = _login(site.url, "reviewer")
    page = client.get("/cases/1/review?kind=face")
    assert page.status_code == 200
    assert page.text.count('<tr class="hit') == page.text.count('class="side reference"') > 0
    assert '<svg class="overlay"' in page.text and 'class="ev-face"' in page.text
    assert "/items/" in page.text and "/reference/reveal" in page.text
    partial = client.get("/cases/1/review?kind=partial").text
    assert 'class="ev-partial"' in partial and "matched points agree" in partial
    assert '<polygon class="ev-partial" points="' in partial  # drawn as the photo lies, not as a box
    text = client.get("/cases/1/review?kind=text").text
    assert "cues:" in text and "ev-" not in text.split('<table id="queue">')[1].split("</table>")[0].replace(
        "evidence-cell", ""
    )


@pytest.mark.parametrize(
    "stored",
    [
        None,
        "0,0,1,1",
        [[0, 0], [1, 0], [1, 1]],
        [[0, 0], [1, 0], [1, 1], ["a", 1]],
        [[0, 0], [1, 0], [1, 1], [1e9, 1]],
        [[0, 0], [1, 0], [1, 1], [float("nan"), 1]],
        [[0, 0], [1, 0], [1, 1], [0, 1, 2]],
    ],
)
def test_a_stored_quad_that_is_not_four_corners_is_not_drawn(stored: object) -> None:
    row = SimpleNamespace(
        kind="partial",
        distance=None,
        details={"route": "features", "inliers": 30, "region": [0.1, 0.1, 0.9, 0.9], "quad": stored},
        signal_id=None,
        photo_sha256="a" * 64,
        photo_label="p.jpg",
        width=640,
        height=480,
    )
    ev = _evidence(row, {}, {})
    assert ev.quad is None and ev.region == (0.1, 0.1, 0.9, 0.9) and ev.recorded


def test_filters_by_chat_decision_and_date(site: Site) -> None:
    client, _ = _login(site.url, "reviewer")
    with site.store.session() as s:
        rows = list_hits(s, 1)
    chat = next(r.chat for r in rows if r.chat)
    page = client.get("/cases/1/review", params={"chat": chat})
    assert page.text.count('<tr class="hit') == sum(1 for r in rows if (r.chat or r.chat_id) == chat)
    day = min(r.date for r in rows if r.date)
    since = client.get("/cases/1/review", params={"since": f"{day:%Y-%m-%d}", "until": f"{day:%Y-%m-%d}"})
    assert since.text.count('<tr class="hit') == sum(
        1 for r in rows if r.date and r.date.date() == day.date()
    )
    undecided = client.get("/cases/1/review", params={"decision": "undecided"})
    assert undecided.text.count('<tr class="hit') == sum(1 for r in rows if r.decision is None)
    bad = client.get("/cases/1/review", params={"since": "yesterday"})
    assert bad.status_code == 400 and "YYYY-MM-DD" in bad.text


def test_a_save_keeps_the_filters_and_says_what_is_left(site: Site) -> None:
    client, csrf = _login(site.url, "case_worker")
    with site.store.session() as s:
        rows = list_hits(s, 1)
    chat = next(r.chat for r in rows if r.chat and "face" in r.kinds)
    target = next(r for r in rows if r.chat == chat and "face" in r.kinds)
    done = client.post(
        "/cases/1/review",
        data={
            "csrf_token": csrf,
            "item": str(target.item_id),
            "decision": "rejected",
            "reason": "test",
            "keep_kind": "face",
            "keep_chat": chat,
        },
    )
    assert done.status_code == 303
    where = done.headers["location"]
    assert "kind=face" in where and "saved=1" in where and "decision_saved=rejected" in where
    page = client.get(where).text
    left = sum(1 for r in rows if r.chat == chat and "face" in r.kinds and r.decision is None)
    left -= target.decision is None
    assert EN["saved_n"].format(n=1, decision=EN["rejected"], left=left) in page


def test_revealing_the_enrolled_photo_is_audited_and_needs_the_permission(site: Site) -> None:
    with site.store.session() as s:
        item = next(r.item_id for r in list_hits(s, 1) if r.media_sha256)
    reviewer, csrf = _login(site.url, "reviewer")
    blurred = reviewer.get(f"/cases/1/items/{item}/reference/thumb")
    assert blurred.status_code == 200 and blurred.headers["content-type"] == "image/jpeg"
    clear = reviewer.post(f"/cases/1/items/{item}/reference/reveal", data={"csrf_token": csrf})
    assert clear.status_code == 200 and clear.content != blurred.content
    with site.store.session() as s:
        events = s.scalars(select(AuditEvent).where(AuditEvent.action == "media.revealed")).all()
    assert any(e.details.get("what") == "reference" and e.details.get("item") == item for e in events)
    assert any(e.actor == "reviewer" or e.details.get("user") == "reviewer" for e in events)
    auditor, csrf = _login(site.url, "auditor")
    assert (
        auditor.post(f"/cases/1/items/{item}/reference/reveal", data={"csrf_token": csrf}).status_code == 403
    )
    assert auditor.get(f"/cases/1/items/{item}/reference/thumb").status_code == 403


def test_an_old_hit_without_evidence_says_not_recorded(site: Site) -> None:
    with site.store.session() as s:
        only_face = next(r for r in list_hits(s, 1) if r.kinds == ("face",))
        where = (Hit.item_id == only_face.item_id, Hit.kind == "face")
        signal_id = s.scalar(select(Hit.signal_id).where(*where))
        s.execute(update(Hit).where(*where).values(signal_id=None))  # as a hit written without its face
    try:
        with site.store.session() as s:
            ev = hit_evidence(s, 1, [only_face.item_id])[only_face.item_id].routes[0]
        assert not ev.recorded and ev.box is None
        client, _ = _login(site.url, "reviewer")
        page = client.get("/cases/1/review?kind=face").text
        assert EN["ev_not_recorded"].format(kind="face") in page
    finally:
        with site.store.session() as s:  # the other tests read the demo as it was
            s.execute(update(Hit).where(*where).values(signal_id=signal_id))


def test_the_report_shows_the_spread_figures_of_the_spread_tab(site: Site, tmp_path: Path) -> None:
    with site.store.session() as s:
        data = build_report_data(s, site.store.blobs, 1)
        families = case_families(s, 1)
    assert [f.key for f in data.families] == [f.key for f in families]
    html = render_report(data, language="en")
    section = html.split('<section id="families">')[1].split("</section>")[0]
    cells = {
        tuple(
            html_lib.unescape(re.sub(r"<[^>]+>", "", cell)).strip()
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", tr)
        )
        for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", section.replace("\n", ""))
    }
    for f in families:
        assert f'data-family="{f.key}"' in section
        if f.first and f.first.date:
            assert f"{f.first.date:%Y-%m-%d %H:%M}" in section  # first appearance
        for room in f.rooms:  # each room with its counts
            assert (room.chat, str(room.copies)) in {c[:2] for c in cells}
        for p in f.paths:  # each forward path
            assert (p.from_source, p.to_chat, str(p.copies)) in {c[:3] for c in cells}
    assert section.count('<svg class="timeline"') == sum(1 for f in families if any(r.date for r in f.copies))
    assert section.count('<svg class="paths"') == sum(1 for f in families if f.paths) > 0
    # The Spread tab draws the same figures with the same builder.
    client, _ = _login(site.url, "case_worker")
    page = client.get("/cases/1/spread").text
    assert page.count('<svg class="timeline"') == section.count('<svg class="timeline"')
    assert page.count('<svg class="paths"') == section.count('<svg class="paths"')
    ko = render_report(data, language="ko")
    assert "사진별 유포 범위" in ko and '<svg class="timeline"' in ko
