"""The takedown board's clocks in a real headless Chromium: due in / overdue by, re-sends, escalation and
a send being retried, in English and Korean, with a clean console. NCII_TEST_SHOTS=dir keeps screenshots."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from ncii_shield.store.db import Store
from ncii_shield.store.models import Notice, NoticeItem
from ncii_shield.takedown.clocks import db_now
from ncii_shield.web.auth import assign, create_user
from tests.browser import (  # skips this module where there is no Chromium
    SHOTS,
    chrome,
    console_errors,
    sign_in,
)
from tests.test_takedown_worker import _seed
from tests.web_server import live_server

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def driver() -> Iterator[WebDriver]:
    browser = chrome()
    yield browser
    browser.quit()


def _board_case(store: Store) -> tuple[int, list[int]]:
    """Four notices: overdue, re-sent twice and escalated; due in 5 h; every item removed; queued, its send
    failed twice and being retried."""
    ids = _seed(
        store,
        [["https://host.test/a"], ["https://host.test/b"], ["https://host.test/c"], ["https://host.test/d"]],
    )
    with store.session() as s:
        now = db_now(s)
        overdue, due, done, retrying = (s.get(Notice, i) for i in ids)
        for notice, sent_hours_ago in ((overdue, 50), (due, 43), (done, 10)):
            assert notice is not None
            notice.status, notice.sent_at = "sent", now - timedelta(hours=sent_hours_ago)
            notice.due_at = notice.sent_at + timedelta(hours=48)
            notice.resend_at = now + timedelta(hours=3)
            for item in notice.items:
                item.status = "sent"
        assert overdue is not None and done is not None and retrying is not None
        overdue.resends, overdue.escalated_at = 2, now - timedelta(hours=2)
        for item in done.items:
            item.status, item.removed_at = "removed", now
        retrying.send_attempts, retrying.next_attempt_at = 2, now + timedelta(minutes=10)
        case_id = overdue.case_id
        for name, language in (("en-board", "en"), ("ko-board", "ko")):
            create_user(s, name, PASSWORD, "case_worker", language=language)
            assign(s, name, case_id)
        assert s.query(NoticeItem).count() == 4
    return case_id, ids


def _show(driver: WebDriver, base: str, case_id: int, user: str) -> dict[int, str]:
    sign_in(driver, base, user, PASSWORD)
    driver.get(f"{base}/cases/{case_id}/takedown")
    WebDriverWait(driver, 20).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#board .notice"))
    cards = {
        int(c.get_attribute("data-notice")): c.text
        for c in driver.find_elements(By.CSS_SELECTOR, "#board .notice")
    }
    if SHOTS is not None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(SHOTS / f"takedown-clocks-{user}.png"))
    assert console_errors(driver) == []
    return cards


def test_the_board_shows_each_notices_clock(store: Store, driver: WebDriver) -> None:
    case_id, (overdue, due, done, retrying) = _board_case(store)
    with live_server(store) as base:
        english = _show(driver, base, case_id, "en-board")
        korean = _show(driver, base, case_id, "ko-board")
    assert "overdue by 2 h" in english[overdue] and "escalated to the regulator" in english[overdue]
    assert "re-sent 2×" in english[overdue] and "TAKE IT DOWN Act, s. 3" in english[overdue]
    assert "due in 5 h" in english[due] and "next re-send" in english[due]
    assert "nothing left up" in english[done] and "due in" not in english[done]
    assert "Queued for sending" in english[retrying] and "sending failed 2×, retrying" in english[retrying]
    assert "기한 2시간 초과" in korean[overdue] and "심의기관에 신고함" in korean[overdue]
    assert "기한까지 5시간" in korean[due] and "남은 게시물 없음" in korean[done]
    assert "발송 실패 2회, 재시도 중" in korean[retrying]
