"""The board's re-upload alert in a real headless Chromium: the re-notice to review, approved with one click,
in English and Korean, with a clean console. NCII_TEST_SHOTS=dir keeps screenshots."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from ncii_shield.read.reuploads import reupload_alerts
from ncii_shield.store.db import Store
from ncii_shield.web.auth import assign, create_user
from tests import test_takedown_reupload as reupload
from tests.browser import (  # skips this module where there is no Chromium
    SHOTS,
    chrome,
    console_errors,
    sign_in,
)
from tests.web_server import live_server

store, web = reupload.store, reupload.web  # a store that names the sender; the loopback platform (fixtures)
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def driver() -> Iterator[WebDriver]:
    browser = chrome()
    yield browser
    browser.quit()


def _board(driver: WebDriver, base: str, case_id: int, user: str, shot: str) -> str:
    sign_in(driver, base, user, PASSWORD)
    driver.get(f"{base}/cases/{case_id}/takedown")
    WebDriverWait(driver, 20).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#alerts .reupload"))
    if SHOTS is not None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(SHOTS / f"takedown-reupload-{shot}.png"))
    assert console_errors(driver) == []
    return driver.find_element(By.ID, "alerts").text


def test_the_re_upload_alert_is_reviewed_and_approved_on_the_board(
    driver: WebDriver, store: Store, tmp_path: Path, web: str
) -> None:
    case_id, original = reupload._removed(store, tmp_path, web)
    reupload._reupload(store, tmp_path, web, case_id)
    with store.session() as s:
        (alert,) = reupload_alerts(s, case_id)
        for name, language in (("en-board", "en"), ("ko-board", "ko")):
            create_user(s, name, PASSWORD, "case_worker", language=language)
            assign(s, name, case_id)
    with live_server(store) as base:
        korean = _board(driver, base, case_id, "ko-board", "ko")
        assert "재유포" in korean and "승인하고 발송 대기열에 넣기" in korean
        english = _board(driver, base, case_id, "en-board", "en")
        assert "is a re-upload of content removed" in english and f"after notice {original}" in english
        assert f"Notice {alert.notice_id} drafted for the new location" in english
        link = driver.find_element(By.CSS_SELECTOR, f'#alerts a[href="/notices/{alert.notice_id}"]')
        assert link.text == "Review the draft"
        approve = driver.find_element(By.XPATH, "//button[normalize-space()='Approve and queue']")
        approve.click()
        WebDriverWait(driver, 20).until(
            lambda d: d.find_elements(
                By.CSS_SELECTOR, f'#alerts [data-alert="{alert.id}"][data-status="queued"]'
            )
        )
        text = driver.find_element(By.ID, "alerts").text
        assert f"Approved: notice {alert.notice_id} is queued for sending." in text
        if SHOTS is not None:
            driver.save_screenshot(str(SHOTS / "takedown-reupload-approved.png"))
        assert console_errors(driver) == []
