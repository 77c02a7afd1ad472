"""Acknowledgements, removals and unmatched replies from the web, clicked in a real headless Chromium: a
case worker records the platform's ticket number on the board, marks one item removed (with when) on the
notice page, and attaches one unmatched reply to a notice and dismisses another; each is audited. In
English and Korean, with a clean console. NCII_TEST_SHOTS=dir keeps screenshots."""

from __future__ import annotations

import mailbox
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.expected_conditions import staleness_of
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import select

from ncii_shield.store.db import Store
from ncii_shield.store.models import AuditEvent, InboxMessage, Notice
from ncii_shield.takedown.inbox_sources import read_inbox
from ncii_shield.web.auth import assign, create_user
from tests.browser import (  # skips this module where there is no Chromium
    chrome,
    console_errors,
    picture,
    sign_in,
)
from tests.test_takedown_inbox import _events, _notice, _sent, _settings, fixture
from tests.web_server import live_server

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def driver() -> Iterator[WebDriver]:
    browser = chrome()
    yield browser
    browser.quit()


def _login(driver: WebDriver, base: str, user: str) -> None:
    sign_in(driver, base, user, PASSWORD)


def _submit(driver: WebDriver, form: WebElement, wait_for: str) -> None:
    """Click the form's button and wait for the page it leads to (the form gone, the address as expected)."""
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(driver, 20).until(staleness_of(form))
    WebDriverWait(driver, 20).until(lambda d: wait_for in d.current_url)


def test_a_case_worker_records_replies_from_the_web(store: Store, driver: WebDriver, tmp_path: Path) -> None:
    (a, _, _, _), (b, b_mid, _, _) = _sent(
        store, [["https://host.test/a1", "https://host.test/a2"], ["https://host.test/b"]]
    )
    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    box.add(fixture("meta_html_only.eml", MSGID=b_mid))  # for a human: the notice is suggested
    box.add(fixture("newsletter.eml"))
    read_inbox(store, _settings(store), maildir=tmp_path / "Maildir")
    with store.session() as s:
        case_id = s.get(Notice, a).case_id  # type: ignore[union-attr]
        for name, language in (("en-desk", "en"), ("ko-desk", "ko")):
            create_user(s, name, PASSWORD, "case_worker", language=language)
            assign(s, name, case_id)
        html_only, newsletter = s.scalars(select(InboxMessage.id).order_by(InboxMessage.id)).all()
    with live_server(store) as base:
        _login(driver, base, "en-desk")
        # The board: acknowledged, with the platform's ticket number.
        driver.get(f"{base}/cases/{case_id}/takedown")
        card = driver.find_element(By.CSS_SELECTOR, f'#board .notice[data-notice="{a}"]')
        card.find_element(By.NAME, "ticket").send_keys("48213")
        picture(driver, "takedown-board-ack", tmp_path)
        _submit(driver, card.find_element(By.CSS_SELECTOR, "form.ack"), "/takedown")
        assert console_errors(driver) == []
        # The notice page: the ticket shown, one of two items marked removed, with when.
        driver.get(f"{base}/notices/{a}")
        assert driver.find_element(By.ID, "ticket").text == "48213"
        assert driver.find_element(By.ID, "notice-status").text == "Acknowledged"
        first = driver.find_elements(By.CSS_SELECTOR, "#notice-items tbody tr")[0]
        item_id = int(first.get_attribute("data-item"))
        sent_at = _notice(store, a).sent_at
        assert sent_at is not None
        when = first.find_element(By.NAME, "removed_at")
        driver.execute_script(  # a datetime-local's value, as a person would pick it
            "arguments[0].value = arguments[1]", when, f"{sent_at:%Y-%m-%dT%H:%M}"
        )
        _submit(driver, first.find_element(By.CSS_SELECTOR, "form.mark-removed"), f"/notices/{a}")
        rows = driver.find_elements(By.CSS_SELECTOR, "#notice-items tbody tr")
        assert "Removed" in rows[0].text and f"{sent_at:%Y-%m-%d %H:%M} UTC" in rows[0].text
        assert rows[1].find_elements(By.CSS_SELECTOR, "form.mark-removed"), "the other item is still up"
        picture(driver, "takedown-notice-marked", tmp_path)
        assert console_errors(driver) == []
        # The unmatched replies: the HTML-only one attached to its suggested notice, the newsletter dismissed.
        driver.find_element(By.CSS_SELECTOR, f"a[href='/cases/{case_id}/takedown']").click()
        driver.find_element(By.ID, "inbox-link").click()
        WebDriverWait(driver, 20).until(lambda d: "/takedown/inbox" in d.current_url)
        kept = driver.find_element(By.CSS_SELECTOR, f'.inbox-message[data-message="{html_only}"]')
        assert "HTML only" in kept.text and "We removed the content you reported." in kept.text
        assert kept.find_element(By.NAME, "notice").get_attribute("value") == str(b)
        picture(driver, "takedown-inbox-unmatched", tmp_path)
        _submit(driver, kept.find_element(By.CSS_SELECTOR, "form.attach"), f"/notices/{b}")
        assert "Your report" in driver.find_element(By.ID, "replies").text
        driver.get(f"{base}/takedown/inbox")
        junk = driver.find_element(By.CSS_SELECTOR, f'.inbox-message[data-message="{newsletter}"]')
        _submit(driver, junk.find_element(By.CSS_SELECTOR, "form.dismiss"), "/takedown/inbox")
        assert driver.find_elements(By.ID, "inbox-empty")
        assert console_errors(driver) == []
        _login(driver, base, "ko-desk")
        driver.get(f"{base}/notices/{a}")
        assert driver.find_element(By.ID, "notice-status").text == "접수됨"
        assert "삭제됨" in driver.find_elements(By.CSS_SELECTOR, "#notice-items tbody tr")[0].text
        driver.get(f"{base}/takedown/inbox")
        assert "기다리는 회신이 없습니다." in driver.find_element(By.ID, "inbox-empty").text
        picture(driver, "takedown-inbox-ko", tmp_path)
        assert console_errors(driver) == []
    notice = _notice(store, a)
    items = {i.id: i for i in notice.items}
    assert items[item_id].status == "removed" and items[item_id].removed_at == sent_at
    assert notice.status == "acknowledged" and "acknowledged" in _events(store, a)
    assert _events(store, b)[-1] == "reply"
    with store.session() as s:
        actions = set(s.scalars(select(AuditEvent.action).where(AuditEvent.action.like("takedown.%"))))
    assert {"takedown.acknowledged", "takedown.removed_by_hand", "takedown.reply_attached"} <= actions
    assert "takedown.reply_dismissed" in actions
