"""Personal-information notices: a message that doxxes the person gets its own notice, template and legal
basis, never described as an image, with the message masked as the review page masks it; a case with both
kinds of hit is split into two notices per platform, each on its own laws' clock."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ncii_shield.errors import NciiError
from ncii_shield.read.takedown import takedown_status
from ncii_shield.review.decisions import decide
from ncii_shield.store.db import Store
from ncii_shield.store.models import Case, Notice
from ncii_shield.takedown.clocks import notice_clocks
from ncii_shield.takedown.notices import NoticeItem, render_notice
from ncii_shield.takedown.service import draft, mark
from ncii_shield.text.service import add_terms
from tests.conftest import ASSETS, cli_env, new_store
from tests.exports import message, write_export
from tests.test_scan import _case, _scan
from tests.test_takedown_notices import REGISTRY, _request

NOW = datetime(2026, 6, 1, 9, 30, tzinfo=UTC)
MASKED = "[school] [birth year]년생 [name] 아시는 분? 갠텔 주세요"
PERSON = [("name", "김하린"), ("name", "Harin Kim"), ("school", "한빛여고"), ("birth_year", "2007")]
DOXXING = "한빛여고 07년생 김하린 아시는 분? 갠텔 주세요"
# Words that describe imagery: none may describe a doxxing message (only "not an image" may say what it is not).
IMAGE_WORDS = re.compile(r"\b(?:images?|imagery|videos?|deepfakes?|depictions?|SHA-256)\b", re.IGNORECASE)
IMAGE_WORDS_KO = ("영상물", "이미지·영상", "딥페이크", "파일 SHA-256", "종류: 이미지", "종류: 영상")


def _doxx(n: int = 9, **changes: object) -> NoticeItem:
    fields: dict[str, object] = {
        "url": f"https://t.me/example_room/{n}",
        "match_kinds": ("text",),
        "content": "personal_details",
        "excerpt": MASKED,
        "collected_at": NOW,
        **changes,
    }
    return NoticeItem(**fields)  # type: ignore[arg-type]


def _image(n: int = 4711) -> NoticeItem:
    return NoticeItem(url=f"https://t.me/example_room/{n}", match_kinds=("pdq",), collected_at=NOW)


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("platform_id", [p.id for p in REGISTRY.platforms])
def test_a_doxxing_notice_has_its_basis_and_no_image_wording_in_english(platform_id: str) -> None:
    platform = REGISTRY.platform(platform_id)
    notice = render_notice(REGISTRY, _request(platform_id, "en", items=(_doxx(), _doxx(10))))
    body = notice.body
    assert notice.matter == "personal_information"
    assert "personal details" in notice.subject and not IMAGE_WORDS.search(notice.subject)
    assert "Items 1, 2 are messages that expose the person's personal details" in body
    assert "They are not images." in body
    assert not IMAGE_WORDS.search(body.replace("not images", "")), IMAGE_WORDS.search(body)
    assert "TAKE IT DOWN" not in body and "48 hours" not in body  # intimate depictions only
    assert f'Message (identifiers masked): "{MASKED}"' in body
    laws = REGISTRY.laws_for(platform, "personal_information")
    assert laws and {law.jurisdiction for law in laws} <= set(platform.jurisdictions)
    for law in laws:
        for citation in law.citations:
            assert citation.en in body
    if "KR" in platform.jurisdictions:
        assert "Act on the Prevention of Sexual Violence and Protection of Victims" in body
        assert "Article 44-2" in body and "Personal Information Protection Act" in body
    if "EU" in platform.jurisdictions:
        assert "Regulation (EU) 2016/679" in body and "Article 17 (right to erasure)" in body
    if platform.privacy_policy and "global" in platform.jurisdictions:
        assert platform.privacy_policy in body
    assert (
        platform.policy is None or platform.policy == platform.privacy_policy or platform.policy not in body
    )


@pytest.mark.parametrize("platform_id", [p.id for p in REGISTRY.platforms])
def test_a_doxxing_notice_in_korean(platform_id: str) -> None:
    notice = render_notice(REGISTRY, _request(platform_id, "ko", items=(_doxx(),)))
    body = notice.body
    assert "개인정보" in notice.subject and "허위영상물" not in notice.subject
    assert "1번 게시물은 이미지가 아니라" in body
    assert not [w for w in IMAGE_WORDS_KO if w in body]
    assert "TAKE IT DOWN" not in body
    assert f'메시지(식별 정보 가림): "{MASKED}"' in body
    if "KR" in REGISTRY.platform(platform_id).jurisdictions:
        assert "성폭력방지 및 피해자보호 등에 관한 법률" in body and "2025년" in body
        assert "정보통신망 이용촉진 및 정보보호 등에 관한 법률 제44조의2" in body
        assert "개인정보 보호법" in body
    endings = re.findall(r"(\S+다)\.(?:\s|$)", body)  # 합쇼체 throughout, as the image notices
    assert endings and all(word.endswith("니다") for word in endings), endings


def test_the_masked_message_is_plain_text_and_bounded() -> None:
    notice = render_notice(
        REGISTRY, _request("telegram", "en", items=(_doxx(excerpt="a\r\nBcc: x@y.z\u202e"),))
    )
    assert 'Message (identifiers masked): "a Bcc: x@y.z"' in notice.body
    without = render_notice(REGISTRY, _request("telegram", "en", items=(_doxx(excerpt=None),))).body
    assert "identifiers masked):" not in without
    with pytest.raises(NciiError, match="excerpt"):
        _doxx(excerpt="x" * 1001)


def test_a_doxxing_notice_goes_where_the_platform_takes_privacy_reports() -> None:
    x = REGISTRY.platform("x")
    privacy = render_notice(REGISTRY, _request("x", "en", items=(_doxx(),)))
    images = render_notice(REGISTRY, _request("x", "en", items=(_image(),)))
    assert (privacy.channel, privacy.to) == ("web_form", x.privacy_form_url)
    assert (images.channel, images.to) == ("web_form", x.form_url) and x.form_url != x.privacy_form_url
    telegram = render_notice(REGISTRY, _request("telegram", "en", items=(_doxx(),)))
    assert (telegram.channel, telegram.to) == ("email", "abuse@telegram.org")  # no separate privacy desk
    hosting = render_notice(REGISTRY, _request("hosting", "en", items=(_doxx(),)))
    assert hosting.to == "abuse@hosting.example"


def test_the_regulator_gets_a_korean_form_for_personal_information() -> None:
    body = render_notice(REGISTRY, _request("kcsc", "ko", items=(_doxx(),))).body
    assert "[신고서 기재 사항]" in body
    assert "- 신고 유형: 개인정보(신상정보) 노출 정보" in body
    assert "- 사이트명: t.me" in body and "- 참조번호: NCII-2026-0001" in body
    assert "심의 신청" in render_notice(REGISTRY, _request("kcsc", "ko", items=(_doxx(),))).subject


def test_personal_information_clocks_are_not_the_take_it_down_acts() -> None:
    telegram = REGISTRY.platform("telegram")
    assert REGISTRY.clock(telegram).basis == "law" and "TAKE IT DOWN" in REGISTRY.clock(telegram).label_en
    assert REGISTRY.clock(telegram, "personal_information").basis == "default"
    assert REGISTRY.clock(REGISTRY.platform("kcsc"), "personal_information").hours == 36


# --------------------------------------------------------------------------------------------
# Drafting from a case: the split, and the mask
# --------------------------------------------------------------------------------------------


def _mixed_case(store: Store, tmp_path: Path) -> int:
    photo = ASSETS / "obama.jpg"
    case_id = _case(store, [photo])
    with store.session() as s:
        add_terms(store, s, s.get(Case, case_id), PERSON)
    export = write_export(
        tmp_path / "e",
        [message(1, photo="a.jpg"), message(2, text=DOXXING), message(3, text="오늘 급식 뭐야")],
        chat_id=1801234567,
        name="잡담방",
        files={"a.jpg": photo.read_bytes()},
    )
    result = _scan(store, export, case_id)
    assert result.new_hits.get("text") == 1
    with store.session() as s:
        decide(s, case_id, "confirmed", "hers", undecided_only=True)
    return case_id


def test_a_mixed_case_is_split_into_an_image_notice_and_a_personal_information_notice(
    store: Store, tmp_path: Path
) -> None:
    case_id = _mixed_case(store, tmp_path)
    out = tmp_path / "notices"
    with store.session() as s:
        notices = draft(
            s,
            case_id,
            reporter_organisation="Desk",
            reporter_email="desk@support.test",
            regulator=True,
            out_dir=out,
        )
        got = {(n.platform_id, n.matter): n for n in notices}
        assert set(got) == {
            ("telegram", "intimate_image"),
            ("telegram", "personal_information"),
            ("kcsc", "intimate_image"),
            ("kcsc", "personal_information"),
        }
        images, personal = got["telegram", "intimate_image"], got["telegram", "personal_information"]
        assert [i.item_id for i in personal.items] != [i.item_id for i in images.items]
        assert len(images.items) == len(personal.items) == 1
        assert "What it is: image" in images.body and "personal details" not in images.subject
        assert "What it is: message exposing personal details" not in images.body
        body = personal.body
        assert "What it is: message exposing personal details" in body and "What it is: image" not in body
        # the message as the review page shows it: the person's identifiers replaced by their kind
        assert "Message (identifiers masked):" in body and "[name]" in body and "[school]" in body
        for _, value in PERSON:
            assert value not in body and value not in personal.subject, value
        assert "07년생" not in body and "김하린" not in got["kcsc", "personal_information"].body
        assert "TAKE IT DOWN" in images.body and "TAKE IT DOWN" not in body
        korean = got["kcsc", "personal_information"].body
        assert "[신고서 기재 사항]" in korean and "1번 게시물은 이미지가 아니라" in korean
        assert "메시지(식별 정보 가림): " in korean and "[name]" in korean and "[school]" in korean
        assert not [w for w in IMAGE_WORDS_KO if w in korean]
        refs = {re.search(r"NCII-\d{4}-\d{4}-\d+", n.body).group(0) for n in notices}  # type: ignore[union-attr]
        assert len(refs) == 4  # one reference per notice, so replies match the right one
        again = draft(
            s, case_id, reporter_organisation="Desk", reporter_email="desk@support.test", regulator=True
        )
        assert again == []
    names = sorted(p.name for p in out.iterdir())
    assert sum(name.endswith("-personal.txt") for name in names) == 2 and len(names) == 4


def test_each_notice_of_a_split_case_runs_on_its_own_clock(store: Store, tmp_path: Path) -> None:
    case_id = _mixed_case(store, tmp_path)
    with store.session() as s:
        notices = draft(s, case_id, reporter_organisation="Desk", reporter_email="desk@support.test")
        for n in notices:
            mark(s, n.id, "sent", note="through the form")
        s.flush()
        matters = {n.id: n.matter for n in s.query(Notice).where(Notice.case_id == case_id)}
        clocks = {c.notice_id: c for c in notice_clocks(s, case_id)}
        board = {row.notice_id: row.matter for row in takedown_status(s, case_id).notices}
    assert board == matters  # the board and `takedown status --json` tell the two apart
    by_matter = {matters[i]: c for i, c in clocks.items()}
    assert by_matter["intimate_image"].clock_basis == "law"
    assert "TAKE IT DOWN" in by_matter["intimate_image"].clock_en
    assert by_matter["personal_information"].clock_basis == "default"
    assert "TAKE IT DOWN" not in by_matter["personal_information"].clock_en
    assert all(c.due_at is not None for c in clocks.values())


def test_the_cli_drafts_both_notices_with_the_trusted_flagger_setting(tmp_path: Path) -> None:
    """`takedown draft` passes NCII_TRUSTED_FLAGGER to the notices of EU platforms, and `status --json`
    tells the two notices apart."""
    data = tmp_path / "d"
    store = new_store(data)
    case_id = _mixed_case(store, tmp_path)
    store.close()
    env = cli_env(NCII_TRUSTED_FLAGGER="Coimisiún na Meán, 2025-03-01")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "ncii_shield.cli.main", "--data-dir", str(data), *args]
        return subprocess.run(command, capture_output=True, text=True, env=env)

    drafted = cli(
        "takedown", "draft", str(case_id), "--org", "Desk", "--email", "desk@support.test", "--json"
    )
    assert drafted.returncode == 0, drafted.stderr
    ids = [n["id"] for n in json.loads(drafted.stdout)]
    assert len(ids) == 2
    shown = {i: cli("takedown", "show", str(i)).stdout for i in ids}
    assert all("trusted flagger under Article 22" in text for text in shown.values())
    assert all("by Coimisiún na Meán on 2025-03-01" in text for text in shown.values())
    status = json.loads(cli("takedown", "status", str(case_id), "--json").stdout)
    assert sorted(n["matter"] for n in status["notices"]) == ["intimate_image", "personal_information"]
    bad = subprocess.run(
        [sys.executable, "-m", "ncii_shield.cli.main", "--data-dir", str(data), "takedown", "status", "1"],
        capture_output=True,
        text=True,
        env=cli_env(NCII_TRUSTED_FLAGGER="yes"),
    )
    assert bad.returncode != 0 and "NCII_TRUSTED_FLAGGER" in bad.stderr


def test_an_overdue_personal_information_notice_escalates_as_one(store: Store, tmp_path: Path) -> None:
    from ncii_shield.takedown.drafting import draft_escalation

    case_id = _mixed_case(store, tmp_path)
    with store.session() as s:
        notices = draft(s, case_id, reporter_organisation="Desk", reporter_email="desk@support.test")
        personal = next(n for n in notices if n.matter == "personal_information")
        mark(s, personal.id, "sent")
        (escalated,) = draft_escalation(
            s, personal, "kcsc", reporter_organisation="Desk", reporter_email="desk@support.test"
        )
        assert (escalated.platform_id, escalated.matter, escalated.language) == (
            "kcsc",
            "personal_information",
            "ko",
        )
        assert (
            "- 신고 유형: 개인정보(신상정보) 노출 정보" in escalated.body and "김하린" not in escalated.body
        )


def test_the_board_tells_a_personal_information_notice_apart(store: Store) -> None:
    """In a real headless Chromium, in English and Korean, with a clean console (NCII_TEST_SHOTS keeps the
    screenshots)."""
    pytest.importorskip("selenium")
    from ncii_shield.web.auth import assign, create_user
    from tests.browser import chrome
    from tests.test_takedown_board_browser import PASSWORD, _show
    from tests.web_server import live_server

    case_id = _mixed_case(store, store.settings.data_dir.parent)
    with store.session() as s:
        notices = draft(s, case_id, reporter_organisation="Desk", reporter_email="desk@support.test")
        matters = {n.id: n.matter for n in notices}
        for name, language in (("en-board", "en"), ("ko-board", "ko")):
            create_user(s, name, PASSWORD, "case_worker", language=language)
            assign(s, name, case_id)
    driver = chrome()
    try:
        with live_server(store) as base:
            english = _show(driver, base, case_id, "en-board")
            korean = _show(driver, base, case_id, "ko-board")
    finally:
        driver.quit()
    for notice_id, matter in matters.items():
        personal = matter == "personal_information"
        assert ("Personal details (doxxing)" in english[notice_id]) == personal
        assert ("개인정보 노출" in korean[notice_id]) == personal
