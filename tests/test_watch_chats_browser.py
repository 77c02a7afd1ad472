"""The case's sources page in a real headless Chromium with Telegram chats watched live: one followed, one that
banned the account, each with its status, last message read and last and next run (Korean and English)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser import (  # skips this module where there is no Chromium
    chrome,
    console_errors,
    picture,
    sign_in,
)

pytest.importorskip("telethon")

from selenium.webdriver.common.by import By
from telethon import errors

from ncii_shield.watch.runner import run_once
from ncii_shield.watch.service import add_chat
from ncii_shield.web.auth import assign, create_user
from ncii_shield.web.i18n import STRINGS
from tests.conftest import ASSETS, new_store
from tests.test_watch_chats import CHAT_ID, Clock, FakeClient, _case, _history
from tests.web_server import live_server

PASSWORD = "correct horse battery staple"


@pytest.mark.parametrize("language", ["en", "ko"])
def test_the_sources_page_shows_each_watched_chat_and_its_runs(tmp_path: Path, language: str) -> None:
    store = new_store(tmp_path / "data")
    driver = chrome()
    try:
        case = _case(store, [ASSETS / "obama.jpg"])
        with store.session() as s:
            create_user(s, "worker", PASSWORD, "case_worker", language=language)
            assign(s, "worker", case)
        client = FakeClient(*_history())
        room = add_chat(store, client, "https://t.me/+AbCdEfGh12").id
        news = add_chat(store, client, "@news").id
        run_once(store, client, hooks=Clock().hooks(), every=120)
        client.entity_errors[2000] = errors.ChannelPrivateError(request=None)
        client.entity_errors.pop(CHAT_ID, None)
        run_once(store, client, hooks=Clock().hooks(), every=120)
        with live_server(store) as url:
            sign_in(driver, url, "worker", PASSWORD)
            driver.get(f"{url}/cases/{case}/scans")
            card = driver.find_element(By.ID, "watched-chats")
            words = STRINGS[language]
            assert words["watched_chats"] in card.text
            followed = driver.find_element(By.CSS_SELECTOR, f'tr[data-watched="{room}"]').text
            banned = driver.find_element(By.CSS_SELECTOR, f'tr[data-watched="{news}"]').text
            assert "Test room" in followed and words["watch_ok"] in followed and " 7 " in f" {followed} "
            assert words["watch_banned"] in banned and "ChannelPrivateError" in banned
            driver.execute_script("document.getElementById('watched-chats').scrollIntoView()")
            picture(driver, f"watched-chats-{language}", tmp_path)
            assert not console_errors(driver)
    finally:
        driver.quit()
        store.close()
