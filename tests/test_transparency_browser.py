"""The transparency page and the evidence report's takedown section in a real headless Chromium: the table
per platform in English and Korean, a clean console, screenshots that are pages (NCII_TEST_SHOTS=dir keeps
them)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from ncii_shield.store.db import Store
from ncii_shield.web.auth import assign, create_user
from tests.browser import (  # skips this module where there is no Chromium
    chrome,
    console_errors,
    picture,
    sign_in,
)
from tests.test_bundle_timeline import exported  # noqa: F401 (the fixture)
from tests.test_takedown_stats import PASSWORD, seed
from tests.web_server import live_server


@pytest.fixture(scope="module")
def driver() -> Iterator[WebDriver]:
    browser = chrome()
    yield browser
    browser.quit()


def _sign_in(driver: WebDriver, base: str, user: str) -> None:
    sign_in(driver, base, user, PASSWORD)


def test_the_transparency_page_in_a_browser(store: Store, driver: WebDriver, tmp_path: Path) -> None:
    case_id = seed(store)
    with store.session() as s:
        for name, language in (("en-stats", "en"), ("ko-stats", "ko")):
            create_user(s, name, PASSWORD, "case_worker", language=language)
            assign(s, name, case_id)
    rows: dict[str, dict[str, list[str]]] = {}
    with live_server(store) as base:
        for user in ("en-stats", "ko-stats"):
            _sign_in(driver, base, user)
            driver.find_element(By.ID, "nav-transparency").click()
            WebDriverWait(driver, 20).until(
                lambda d: d.find_elements(By.CSS_SELECTOR, "#transparency tbody tr")
            )
            driver.find_element(By.NAME, "case").send_keys(str(case_id))
            driver.find_element(By.CSS_SELECTOR, "#case-form button").click()
            WebDriverWait(driver, 20).until(
                lambda d: d.current_url.endswith(f"/cases/{case_id}/transparency")
            )
            rows[user] = {
                r.get_attribute("data-platform"): [c.text for c in r.find_elements(By.TAG_NAME, "td")]
                for r in driver.find_elements(By.CSS_SELECTOR, "#transparency tbody tr")
            }
            picture(driver, f"transparency-{user}", tmp_path)
            assert console_errors(driver) == []
            heading = driver.find_element(By.TAG_NAME, "h1").text
            assert heading == (
                "Time to removal per platform in this case"
                if user == "en-stats"
                else "이 사건의 플랫폼별 삭제 소요 시간"
            )
    english, korean = rows["en-stats"], rows["ko-stats"]
    assert list(english) == ["hosting", "meta", "telegram", "x", "*"]
    assert english["telegram"] == [
        "telegram",
        "2",
        "8",
        "6",
        "25",
        "50",
        "62% (5/8)",
        "25% (2)",
        "17% (1)",
        "1",
    ]
    assert english["*"][0] == "All platforms" and korean["*"][0] == "전체 플랫폼"
    assert korean["telegram"][1:] == english["telegram"][1:]


def test_the_reports_takedown_section_in_a_browser(
    exported: tuple[Path, int],  # noqa: F811
    driver: WebDriver,
    tmp_path: Path,
) -> None:
    import zipfile

    with zipfile.ZipFile(exported[0]) as zf:
        for language in ("en", "ko"):
            page = tmp_path / f"report-{language}.html"
            page.write_bytes(zf.read(f"report-{language}.html"))
            driver.get(page.as_uri() + "#takedown")
            section = driver.find_element(By.ID, "takedown")
            driver.execute_script("arguments[0].scrollIntoView()", section)
            picture(driver, f"report-takedown-{language}", tmp_path)
            assert console_errors(driver) == []
            verdicts = [b.text for b in section.find_elements(By.CSS_SELECTOR, "dd .badge")]
            expected = (
                ["late", "not sent", "met"]
                if language == "en"
                else ["기한 후 삭제", "미발송", "기한 내 삭제"]
            )
            assert verdicts == expected
