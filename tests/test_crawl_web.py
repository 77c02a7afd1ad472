"""The case's *Sources and scans* tab lists its web crawls, from the audit log (issue 17, item 4's web part):
when, the WARC, what was fetched, refused and disallowed, and a robots.txt override; in real Chromium, in
English and Korean, with a clean console."""

from __future__ import annotations

import dataclasses
import ipaddress
from pathlib import Path

from selenium.webdriver.common.by import By

from ncii_shield.crawl.crawler import Limits
from ncii_shield.crawl.service import run_crawl
from ncii_shield.read.crawls import case_crawls
from ncii_shield.web.auth import assign, create_user
from ncii_shield.web.i18n import STRINGS
from tests.browser import chrome, console_errors, picture, sign_in  # skips this module without Chromium
from tests.conftest import new_store
from tests.crawl_site import site
from tests.test_scan import _case
from tests.web_server import live_server

PASSWORD = "correct horse battery staple"
FAST = Limits(rate=200, max_bytes=1 << 20, timeout=5)


def test_the_scans_tab_lists_the_case_crawls(tmp_path: Path) -> None:
    store = new_store(tmp_path / "data")
    store.settings = dataclasses.replace(store.settings, crawl_allow=(ipaddress.ip_network("127.0.0.1/32"),))
    case_id = _case(store)
    with site() as web:
        first = run_crawl(store, [f"{web.url}/"], case_id=case_id, limits=FAST)
        second = run_crawl(
            store,
            [f"{web.url}/"],
            case_id=case_id,
            limits=FAST,
            robots_override="posts moved under /private/",
        )
    with store.session() as s:
        rows = case_crawls(s, case_id)
        for language in ("en", "ko"):
            create_user(s, f"worker-{language}", PASSWORD, "case_worker", language=language)
            assign(s, f"worker-{language}", case_id)
    assert [r.warc for r in rows] == [Path(second.warc).name, Path(first.warc).name]  # latest first
    assert rows[0].robots_ignored and not rows[1].robots_ignored
    assert rows[1].refused == len(first.refused) and rows[1].robots_blocked == len(first.robots_blocked) > 0
    assert rows[1].responses == first.responses and rows[1].warc_sha256 == first.warc_sha256
    driver = chrome()
    try:
        with live_server(store) as url:
            for language in ("en", "ko"):
                sign_in(driver, url, f"worker-{language}", PASSWORD)
                driver.get(f"{url}/cases/{case_id}/scans")
                assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == language
                table = driver.find_element(By.ID, "crawls")
                cells = [
                    r.find_elements(By.TAG_NAME, "td")
                    for r in table.find_elements(By.CSS_SELECTOR, "tbody tr")
                ]
                assert [c[1].text for c in cells] == [r.warc for r in rows]
                assert cells[1][3].text == str(rows[1].refused) and cells[1][4].text == str(
                    rows[1].robots_blocked
                )
                assert STRINGS[language]["crawl_robots_ignored"] in cells[0][5].text
                assert STRINGS[language]["web_crawls"] in driver.page_source
                driver.execute_script("document.getElementById('crawls').scrollIntoView()")
                picture(driver, f"crawls-{language}", tmp_path)
                assert console_errors(driver) == []
    finally:
        driver.quit()
        store.close()
