"""The takedown timeline in the evidence bundle: every step of each notice with its time, the clocks and how
they ended, the case's transparency table; in the HTML reports too; covered by the signed manifest, so an
edited timeline fails offline verification."""

from __future__ import annotations

import json
import shutil
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ncii_shield.cases.service import open_case
from ncii_shield.evidence.bundle import export_bundle, signature_path, verify_bundle
from ncii_shield.store.models import Item, Notice, NoticeItem, Source, TakedownEvent
from tests.conftest import new_store

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


# (notice, platform, channel, status, sent, escalated, items as (url, status, removed), events as
# (hours, step, item index or None, evidence)).
NOTICES = [
    (
        "hosting",
        "email",
        "sent",
        0.0,
        48.0,
        [("https://host.test/a.jpg", "removed", 30.0), ("https://host.test/b.jpg", "removed", 60.0)],
        [
            (-1.0, "drafted", None, {"items": 2}),
            (-0.5, "queued", None, {"note": ""}),
            (0.0, "sending", None, {"message_id": "<n1@desk.test>", "resend": False}),
            (0.0, "sent", None, {"channel": "smtp", "message_id": "<n1@desk.test>", "worker": "host:1:abc"}),
            (24.0, "still_up", 0, {"response": {"http_status": 200, "body_sha256": "ab" * 32}}),
            (24.0, "resent", None, {"message_id": "<n1r@desk.test>", "reminder": 1}),
            (30.0, "removed", 0, {"response": {"http_status": 404, "body_sha256": "cd" * 32}}),
            (48.0, "escalated", None, {"to": "kcsc", "notices": [2], "due_at": at(48).isoformat()}),
            (60.0, "removed", 1, {"response": {"http_status": 410}}),
        ],
    ),
    (
        "kcsc",
        "web_form",
        "drafted",
        None,
        None,
        [("https://host.test/b.jpg", "drafted", None)],
        [(48.0, "drafted", None, {"items": 1})],
    ),
    (
        "telegram",
        "email",
        "sent",
        2.0,
        None,
        [("https://t.me/c/1/2", "removed", 12.0)],
        [(2.0, "sent", None, {"channel": "by hand", "note": "form"}), (12.0, "removed", 0, {"response": {}})],
    ),
]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    tmp = tmp_path_factory.mktemp("timeline")
    store = new_store(tmp / "data")
    with store.session() as s:
        case = open_case(s, "Case T", consent_by="the person", consent_method="signed form")
        source = Source(kind="folder", location="/crawl", name="crawl", fingerprint="1" * 64)
        s.add(source)
        s.flush()
        for n, (platform, channel, status, sent, escalated, items, events) in enumerate(NOTICES):
            notice = Notice(
                case_id=case.id,
                platform_id=platform,
                language="en",
                channel=channel,
                to="abuse@host.test",
                subject="Removal request",
                body="Please remove it.",
                status=status,
                created_at=at(-1),
                sent_at=at(sent) if sent is not None else None,
                due_at=at(sent + 48) if sent is not None else None,
                escalated_at=at(escalated) if escalated is not None else None,
                resends=1 if platform == "hosting" else 0,
            )
            s.add(notice)
            s.flush()
            rows = []
            for m, (url, item_status, removed) in enumerate(items):
                item = Item(source_id=source.id, external_id=f"{n}-{m}", kind="media", extra={"url": url})
                s.add(item)
                s.flush()
                row = NoticeItem(
                    notice_id=notice.id,
                    item_id=item.id,
                    url=url,
                    status=item_status,
                    removed_at=at(removed) if removed is not None else None,
                )
                s.add(row)
                s.flush()
                rows.append(row)
            for hours, step, index, evidence in events:
                s.add(
                    TakedownEvent(
                        notice_id=notice.id,
                        notice_item_id=rows[index].id if index is not None else None,
                        status=step,
                        actor="cli:desk",
                        evidence=evidence,
                        at=at(hours),
                    )
                )
        case_id = case.id
    out = tmp / "out" / "bundle.zip"
    with store.session() as s:
        export_bundle(store, s, case_id, out, media="none")
    store.close()
    return out, case_id


def _members(out: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(out) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def test_the_bundle_holds_each_notices_timeline_and_clock(exported: tuple[Path, int]) -> None:
    out, case_id = exported
    members = _members(out)
    manifest = json.loads(members["manifest.json"])
    assert "takedown-timeline.json" in {f["path"] for f in manifest["files"]}, "the manifest covers it"
    timeline = json.loads(members["takedown-timeline.json"])
    assert timeline["case_id"] == case_id
    hosting, kcsc, telegram = timeline["notices"]
    steps = [(datetime.fromisoformat(s["at"]), s["step"]) for s in hosting["steps"]]
    assert steps == [(at(h), step) for h, step, _, _ in NOTICES[0][6]], "every step, in order, with its time"
    removed = [s for s in hosting["steps"] if s["step"] == "removed"]
    assert [s["item_id"] for s in removed] == [i["item_id"] for i in hosting["items"]]
    assert removed[0]["detail"] == {"http_status": 404, "body_sha256": "cd" * 32}
    sent = next(s for s in hosting["steps"] if s["step"] == "sent")
    assert sent["detail"] == {"channel": "smtp", "message_id": "<n1@desk.test>"}, "no worker host"
    assert datetime.fromisoformat(hosting["due_at"]) == at(48) and hosting["clock_hours"] == 48
    assert hosting["verdict"] == "late" and hosting["resends"] == 1
    assert datetime.fromisoformat(hosting["escalated_at"]) == at(48)
    assert [i["hours_to_removal"] for i in hosting["items"]] == [30.0, 60.0]
    assert kcsc["verdict"] == "unsent" and kcsc["due_at"] is None and kcsc["sent_at"] is None
    assert telegram["verdict"] == "met" and telegram["items"][0]["hours_to_removal"] == 10.0
    stats = {p["platform_id"]: p for p in timeline["transparency"]["platforms"]}
    assert set(stats) == {"hosting", "telegram"}, "the drafted regulator's notice is not counted"
    assert (stats["hosting"]["median_hours"], stats["hosting"]["p90_hours"]) == (45.0, 60.0)
    assert (stats["hosting"]["within_48h"], stats["hosting"]["escalations"]) == (1, 1)
    assert timeline["transparency"]["overall"]["removed"] == 3


def test_the_reports_show_the_timeline_in_both_languages(exported: tuple[Path, int]) -> None:
    members = _members(exported[0])
    english = members["report-en.html"].decode()
    korean = members["report-ko.html"].decode()
    section = english.split('<section id="takedown">')[1].split("</section>")[0]
    first = json.loads(members["takedown-timeline.json"])["notices"][0]["notice_id"]
    assert f"<h3>Notice {first} – hosting</h3>" in section
    assert 'data-verdict="late"' in section and 'data-verdict="met"' in section
    assert "re-sent (reminder)" in section and "escalated to the regulator" in section
    assert "2026-03-04 09:00:00 (TAKE IT DOWN Act, s. 3, 48 h)" in section
    assert "http_status: 404" in section and "Time to removal per platform" in section
    assert '<a href="#takedown">' in english
    ko = korean.split('<section id="takedown">')[1].split("</section>")[0]
    assert "기한 후 삭제" in ko and "재요청 발송" in ko and "심의기관 신고" in ko and "48시간" in ko


def test_an_edited_timeline_fails_verification(exported: tuple[Path, int], tmp_path: Path) -> None:
    out, _ = exported
    assert verify_bundle(out).ok
    members = _members(out)
    timeline = json.loads(members["takedown-timeline.json"])
    timeline["notices"][0]["verdict"] = "met"  # someone makes a late removal look on time
    timeline["notices"][0]["items"][1]["removed_at"] = at(40).isoformat()
    edited = json.dumps(timeline, ensure_ascii=False, indent=1, sort_keys=True).encode()
    target = tmp_path / "edited.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, body in members.items():
            zf.writestr(name, edited if name == "takedown-timeline.json" else body)
    check = verify_bundle(target)
    assert (
        not check.ok
        and "takedown-timeline.json was changed (SHA-256 differs from the manifest)" in check.problems
    )
    shutil.copy(signature_path(out), signature_path(target))  # with the detached signature beside it too
    problems = verify_bundle(target).problems
    assert any("differs from what was signed" in p for p in problems)
    assert any("takedown-timeline.json was changed" in p for p in problems)
    removed = tmp_path / "removed.zip"
    with zipfile.ZipFile(removed, "w") as zf:
        for name, body in members.items():
            if name != "takedown-timeline.json":
                zf.writestr(name, body)
    assert "takedown-timeline.json is listed in the manifest but missing" in verify_bundle(removed).problems


def test_the_pdf_reports_carry_the_timeline_too(exported: tuple[Path, int]) -> None:
    from tests.test_report_i18n_pdf import characters_drawn

    members = _members(exported[0])
    korean = characters_drawn(members["report-ko.pdf"])
    for text in ("기한 준수 여부", "기한 후 삭제", "재요청 발송", "플랫폼별 삭제 소요 시간", "미발송"):
        assert set(text) <= korean, text
    assert set("Deadline outcome; re-sent (reminder)") <= characters_drawn(members["report-en.pdf"])
