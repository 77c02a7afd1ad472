"""The web app end to end, in a real headless Chromium driven by Selenium, against a real server.

The data is the benign demo (``run_demo``: a Telegram export with exact, resized, cropped, composite and
text copies, all found). ``run_demo`` ends by confirming every hit of case 1 and drafting its notices, so
a case worker would have nothing left to do there. The fixture therefore opens a second case, enrolled
with the same photos and identifiers and matched against the data already collected (as ``match_case``
does when a case is opened after a scan): every one of its hits is undecided and it has no notice. On
that case the worker's whole job is meaningful and checkable: the two hits they confirm in the browser
(one with the mouse, one with the keyboard) are exactly what the drafted notice carries. Case 1, with
its confirmed hits and notices, is what the screenshots show and what the unassigned reviewer is
refused.

One browser and one server for the module; each test starts with no cookies (signed out).
"""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageChops, ImageFilter, ImageStat
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import select

from ncii_shield.cases.service import enrol, open_case
from ncii_shield.demo.build import DEMO_NAME, read_ground_truth
from ncii_shield.demo.run import run_demo
from ncii_shield.evidence.bundle import verify_bundle
from ncii_shield.review.decisions import current
from ncii_shield.review.hits import list_hits
from ncii_shield.scan.match import match_case
from ncii_shield.scan.pipeline import Progress
from ncii_shield.store.db import Store
from ncii_shield.store.models import AuditEvent, Notice, NoticeItem
from ncii_shield.text.service import add_terms
from ncii_shield.web.auth import LoginLimiter, assign, create_user
from ncii_shield.web.i18n import STRINGS
from tests.browser import (  # skips this module where there is no Chromium
    SHOTS,
    chrome,
    console_errors,
    picture,
)
from tests.conftest import new_store
from tests.web_server import live_server

KO, EN = STRINGS["ko"], STRINGS["en"]
PASSWORD = "correct horse battery staple"
WAIT = 20  # seconds: generous for a loaded CI machine; waits end as soon as the condition holds


@dataclass(frozen=True)
class Site:
    url: str
    store: Store
    limiter: LoginLimiter
    fresh: int  # a case after the demo's: all hits undecided, no notice
    fresh_hits: int


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    out = tmp_path_factory.mktemp("web-demo")
    store = new_store(out / "data")
    assert run_demo(
        store, out, workers=2, progress_factory=nullcontext, progress_adapter=lambda _: Progress()
    )
    truth = read_ground_truth(out)
    with store.session() as session:
        case = open_case(session, "Case B (demo)", consent_by="Case B", consent_method="demo: signed form")
        enrol(session, store, case, list(truth.enrol_photos))
        add_terms(store, session, case, [("name", DEMO_NAME), ("birth_year", "2007")])
        match_case(store, session, case.id)
        fresh = case.id
        for name, role, language in (
            ("worker", "case_worker", "ko"),
            ("reviewer", "reviewer", "ko"),
            ("auditor", "auditor", "ko"),
            ("viewer", "case_worker", "en"),  # en: the test machine may have no Korean font
            ("locked", "case_worker", "ko"),
        ):
            create_user(session, name, PASSWORD, role, language=language)
        assign(session, "worker", fresh)
        assign(session, "reviewer", fresh)  # assigned to this case, not to case 1
        assign(session, "viewer", 1)
    with store.session() as session:
        rows = list_hits(session, fresh)
    assert fresh > 1 and rows and all(r.decision is None for r in rows)  # after the demo's own cases
    limiter = LoginLimiter()  # the app's own limiter, kept here so the lockout test can lift its lock
    with ExitStack() as stack:
        stack.callback(store.close)  # after the server has stopped
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr("ncii_shield.web.app.LoginLimiter", lambda: limiter)
            url = stack.enter_context(live_server(store))
        yield Site(url, store, limiter, fresh, len(rows))


@pytest.fixture(scope="module")
def downloads(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def driver(downloads: Path) -> Iterator[WebDriver]:
    # A Korean browser, as at a Korean support centre: pages follow Accept-Language until a language is chosen.
    browser = chrome(
        "--lang=ko-KR",
        prefs={
            "intl.accept_languages": "ko-KR,ko",
            "download.default_directory": str(downloads),
            "download.prompt_for_download": False,
            "credentials_enable_service": False,
            "profile.password_manager_enabled": False,
            "profile.password_manager_leak_detection": False,
        },
    )
    browser.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    yield browser
    browser.quit()


@pytest.fixture
def browser(driver: WebDriver, site: Site) -> WebDriver:
    """The shared browser, signed out, with its console log emptied."""
    driver.get(site.url + "/login")
    driver.delete_all_cookies()
    driver.get_log("browser")
    return driver


# ------------------------------------------------------------------------------------------ helpers


def wait(driver: WebDriver, condition: Callable[[Any], Any], timeout: float = WAIT) -> Any:
    return WebDriverWait(driver, timeout).until(condition)


def navigate(driver: WebDriver, element: WebElement | None = None, keys: str = "") -> None:
    """Click something (or type keys) that loads a new page, and wait until the new page has loaded.

    The old page is marked and the wait is for a loaded document without the mark: ``staleness_of``
    races with chromedriver, which may answer "node does not belong to the document" mid-navigation.
    """
    driver.execute_script("document.documentElement.dataset.testOldPage = '1'")
    if element is not None:
        element.click()
    else:
        ActionChains(driver).send_keys(keys).perform()
    WebDriverWait(driver, WAIT, ignored_exceptions=(WebDriverException,)).until(
        lambda d: d.execute_script(
            "return document.readyState === 'complete' && !document.documentElement.dataset.testOldPage"
        )
    )


def open_page(driver: WebDriver, url: str) -> None:
    driver.get(url)
    wait(driver, lambda d: d.execute_script("return document.readyState") == "complete")


def sign_in(driver: WebDriver, site: Site, username: str, password: str = PASSWORD) -> None:
    open_page(driver, site.url + "/login")
    driver.find_element(By.ID, "username").send_keys(username)
    driver.find_element(By.ID, "password").send_keys(password)
    navigate(driver, driver.find_element(By.ID, "login-button"))


def path(driver: WebDriver, site: Site) -> str:
    return str(driver.current_url).removeprefix(site.url)


def loaded(driver: WebDriver, image: WebElement) -> bool:
    return bool(driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", image))


def pixels(driver: WebDriver, image: WebElement) -> Image.Image:
    """The image as the browser decoded it, at its natural size (drawn on a canvas: same origin)."""
    data_url = driver.execute_script(
        "const img = arguments[0], c = document.createElement('canvas');"
        "c.width = img.naturalWidth; c.height = img.naturalHeight;"
        "c.getContext('2d').drawImage(img, 0, 0); return c.toDataURL('image/png');",
        image,
    )
    return Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1]))).convert("RGB")


def colourfulness(im: Image.Image) -> int:
    """The largest difference between two channels of any pixel: 0 for a grey image."""
    r, g, b = im.split()
    return max(ImageChops.difference(r, g).getextrema()[1], ImageChops.difference(g, b).getextrema()[1])


def sharpness(im: Image.Image) -> float:
    """Edge energy at a common size: a blurred image has little."""
    edges = im.convert("L").resize((128, 128)).filter(ImageFilter.FIND_EDGES)
    return float(ImageStat.Stat(edges).stddev[0])


def row(driver: WebDriver, item: str) -> WebElement:
    return driver.find_element(By.CSS_SELECTOR, f'table#queue tr.hit[data-item="{item}"]')


# ------------------------------------------------------------------------------------------ scenario 1


def test_case_worker_reviews_drafts_exports_and_signs_out(
    browser: WebDriver, site: Site, downloads: Path
) -> None:
    d, case = browser, site.fresh

    # Sign in through the form: the case list shows the one case assigned to this worker.
    sign_in(d, site, "worker")
    assert path(d, site) == "/cases"
    links = d.find_elements(By.CSS_SELECTOR, "a.case-link")
    assert [a.get_attribute("href") for a in links] == [f"{site.url}/cases/{case}"]

    # The case dashboard: image, face and text hits.
    navigate(d, links[0])
    assert path(d, site) == f"/cases/{case}"
    kinds = {b.text for b in d.find_elements(By.CSS_SELECTOR, "#by-kind .badge")}
    assert {"exact", "pdq", "face", "text"} <= kinds

    # The review queue: every hit, every image a blurred grey thumbnail that loads.
    navigate(d, d.find_element(By.ID, "tab-review"))
    assert path(d, site) == f"/cases/{case}/review"
    rows = d.find_elements(By.CSS_SELECTOR, "table#queue tr.hit[data-item]")
    assert len(rows) == site.fresh_hits
    thumbs = d.find_elements(By.CSS_SELECTOR, "table#queue img.thumb")
    assert thumbs and all(
        str(t.get_attribute("src")).startswith(f"{site.url}/cases/{case}/items/")
        and t.get_attribute("src").endswith("/thumb")
        for t in thumbs
    )
    wait(d, lambda drv: all(loaded(drv, t) for t in thumbs))
    assert {td.text for td in d.find_elements(By.CSS_SELECTOR, "table#queue td.decision")} == {
        KO["undecided"]
    }

    # Reveal one: the clear image replaces the blurred one, and the reveal is in the audit chain.
    thumb = thumbs[0]
    revealed_item = thumb.find_element(By.XPATH, "ancestor::tr").get_attribute("data-item")
    blurred = pixels(d, thumb)
    thumb.find_element(By.XPATH, "following-sibling::button[contains(@class, 'reveal')]").click()
    wait(
        d,
        lambda drv: (
            str(thumb.get_attribute("src")).startswith(("blob:", "data:image/")) and loaded(drv, thumb)
        ),
    )
    clear = pixels(d, thumb)
    assert colourfulness(blurred) <= 2 < 30 < colourfulness(clear), "grey until revealed, then in colour"
    assert sharpness(clear) > 2 * sharpness(blurred), "blurred until revealed"
    assert not thumb.find_elements(By.XPATH, "following-sibling::button[contains(@class, 'reveal')]")
    with site.store.session() as session:
        reveals = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "media.revealed", AuditEvent.case_id == case)
        ).all()
        assert [(e.details["item"], e.details["user"]) for e in reveals] == [(int(revealed_item), "worker")]
    assert console_errors(d) == [], "a reveal must not break the page's CSP"

    # Confirm one hit with the mouse: select it, give a reason, confirm.
    first = rows[0].get_attribute("data-item")
    rows[0].find_element(By.CSS_SELECTOR, "input.pick").click()
    d.find_element(By.ID, "reason").send_keys("the enrolled photo, checked by eye")
    navigate(d, d.find_element(By.ID, "confirm-selected"))
    left = len(d.find_elements(By.CSS_SELECTOR, "table#queue tr.hit:not(.decided)"))
    assert left == len(rows) - 1  # the flash says what was saved and what is left, not just "saved"
    assert d.find_element(By.CSS_SELECTOR, "p.flash").text == KO["saved_n"].format(
        n=1, decision=KO["confirmed"], left=left
    )
    assert row(d, first).find_element(By.CSS_SELECTOR, "td.decision").text == KO["confirmed"]
    assert "decided" in str(row(d, first).get_attribute("class"))

    # And one with the keyboard: j moves to the second row, x selects it, c confirms.
    d.find_element(By.ID, "reason").send_keys("same photo, recompressed")
    d.execute_script("document.activeElement.blur()")  # shortcuts are off while typing in a field
    rows = d.find_elements(By.CSS_SELECTOR, "table#queue tr.hit[data-item]")
    second = rows[1].get_attribute("data-item")
    assert second != first and "decided" not in str(rows[1].get_attribute("class"))
    ActionChains(d).send_keys("j").perform()
    wait(d, lambda _: "cursor" in str(rows[1].get_attribute("class")))
    ActionChains(d).send_keys("x").perform()
    wait(d, lambda _: rows[1].find_element(By.CSS_SELECTOR, "input.pick").is_selected())
    navigate(d, keys="c")
    assert row(d, second).find_element(By.CSS_SELECTOR, "td.decision").text == KO["confirmed"]
    with site.store.session() as session:
        decided = current(session, case)
    assert {i: c.decision for i, c in decided.items()} == {int(first): "confirmed", int(second): "confirmed"}

    # The takedown board: no notice yet; drafting makes one, for exactly the two confirmed hits.
    navigate(d, d.find_element(By.ID, "tab-takedown"))
    assert d.find_elements(By.CSS_SELECTOR, "#board .notice") == []
    d.find_element(By.ID, "organisation").send_keys("Test Support Centre (fictional)")
    d.find_element(By.ID, "email").send_keys("desk@support-centre.example")
    navigate(d, d.find_element(By.ID, "draft-button"))
    assert path(d, site) == f"/cases/{case}/takedown"
    cards = d.find_elements(By.CSS_SELECTOR, "#board .notice")
    assert len(cards) == 1
    assert "telegram" in cards[0].text and f"{KO['drafted']} 2" in cards[0].text
    with site.store.session() as session:
        items = session.scalars(select(NoticeItem.item_id).join(Notice).where(Notice.case_id == case)).all()
    assert sorted(items) == sorted([int(first), int(second)])

    # The evidence bundle: downloaded as a zip that verifies offline.
    navigate(d, d.find_element(By.ID, "tab-evidence"))
    bundle = downloads / f"case-{case}-evidence.zip"
    d.find_element(By.ID, "export-button").click()
    wait(d, lambda _: bundle.is_file() and not list(downloads.glob("*.crdownload")), timeout=30)
    check = verify_bundle(bundle)
    assert check.ok, check.problems
    assert check.hits == site.fresh_hits and check.audit_entries > 0

    # Language: the same page, in English, then back in Korean.
    here = path(d, site)
    assert d.find_element(By.TAG_NAME, "html").get_attribute("lang") == "ko"
    assert d.find_element(By.ID, "tab-evidence").text == KO["evidence"]
    navigate(d, d.find_element(By.ID, "language"))
    assert path(d, site) == here, "switching language stays on the page"
    assert d.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
    assert d.find_element(By.ID, "tab-evidence").text == EN["evidence"]
    assert d.find_element(By.ID, "export-button").text == EN["download"]
    navigate(d, d.find_element(By.ID, "language"))
    assert d.find_element(By.ID, "tab-evidence").text == KO["evidence"]

    assert console_errors(d) == []

    # Sign out: back on the login page, and the old session opens nothing.
    navigate(d, d.find_element(By.ID, "logout"))
    assert path(d, site) == "/login"
    assert d.find_element(By.ID, "login-button").is_displayed()
    open_page(d, f"{site.url}/cases/{case}/review")
    assert path(d, site) == "/login"


# ------------------------------------------------------------------------------------------ scenario 2


def test_reviewer_is_refused_a_case_not_assigned_to_them(browser: WebDriver, site: Site) -> None:
    d = browser
    sign_in(d, site, "reviewer")
    open_page(d, f"{site.url}/cases/{site.fresh}/review")  # assigned: the queue
    assert d.find_elements(By.CSS_SELECTOR, "table#queue tr.hit")
    open_page(d, f"{site.url}/cases/1/review")  # not assigned: the 403 page, and nothing of the case
    assert d.find_element(By.TAG_NAME, "h1").text == "403"
    assert KO["forbidden"] in d.find_element(By.TAG_NAME, "main").text
    assert not d.find_elements(By.CSS_SELECTOR, "table#queue, img.thumb")


def test_auditor_lands_on_the_audit_log(browser: WebDriver, site: Site) -> None:
    d = browser
    sign_in(d, site, "auditor")
    assert path(d, site) == "/audit"
    assert d.find_element(By.ID, "chain-ok").text.startswith(KO["chain_ok"])
    assert d.find_elements(By.CSS_SELECTOR, "table#audit tbody tr")


def test_wrong_password_is_refused(browser: WebDriver, site: Site) -> None:
    d = browser
    sign_in(d, site, "worker", "not the password at all")
    assert path(d, site) == "/login"
    assert d.find_element(By.CSS_SELECTOR, "p.error").text == KO["login_failed"]
    assert d.get_cookie("ncii_session") is None
    open_page(d, site.url + "/cases")
    assert path(d, site) == "/login"


def test_six_wrong_passwords_lock_the_account_out(browser: WebDriver, site: Site) -> None:
    d = browser
    keys = ("user:locked", "ip:127.0.0.1")
    site.limiter.succeeded(*keys)  # whatever earlier tests left
    try:
        for attempt in range(1, 7):
            sign_in(d, site, "locked", f"wrong password number {attempt}")
            expected = KO["login_failed"] if attempt <= 5 else KO["login_blocked"]
            assert d.find_element(By.CSS_SELECTOR, "p.error").text == expected, attempt
        sign_in(d, site, "locked")  # the right password does not help while locked out
        assert path(d, site) == "/login"
        assert d.find_element(By.CSS_SELECTOR, "p.error").text == KO["login_blocked"]
        assert d.get_cookie("ncii_session") is None
    finally:
        site.limiter.succeeded(*keys)  # the lock lasts minutes; the next tests sign in from this address


# ------------------------------------------------------------------------------------------ scenario 3


def test_pages_render_and_log_no_errors(browser: WebDriver, site: Site, tmp_path: Path) -> None:
    """Screenshots of the main pages are real pictures, and no page logs an error (the CSP has no
    'unsafe-inline': a violation would be logged here)."""
    d = browser
    sign_in(d, site, "viewer")
    errors: dict[str, list[str]] = {}
    for name, url, ready in (
        ("cases", "/cases", "table#cases a.case-link"),
        ("dashboard", "/cases/1", "#by-kind .badge"),
        ("review", "/cases/1/review", "table#queue tr.hit"),
        ("takedown", "/cases/1/takedown", "#board .notice"),
        ("spread", "/cases/1/spread", "table#families tr[data-family]"),
        ("actors", "/cases/1/actors", "table#actors tr[data-actor]"),
    ):
        open_page(d, site.url + url)
        wait(d, EC.visibility_of_element_located((By.CSS_SELECTOR, ready)))
        if name == "review":
            thumbs = d.find_elements(By.CSS_SELECTOR, "img.thumb")
            wait(d, lambda drv, thumbs=thumbs: all(loaded(drv, t) for t in thumbs))
        d.execute_async_script(
            "const done = arguments[arguments.length - 1]; document.fonts.ready.then(() => done());"
        )
        shot = SHOTS / f"{name}.png" if SHOTS else tmp_path / f"{name}.png"
        shot.write_bytes(d.get_screenshot_as_png())
        with Image.open(shot) as im:
            rgb = im.convert("RGB")
        colours = rgb.getcolors(maxcolors=1 << 24) or []
        spread = sum(ImageStat.Stat(rgb).stddev) / 3
        assert rgb.size[0] >= 1000 and len(colours) >= 100 and spread > 15, (name, len(colours), spread)
        errors[name] = console_errors(d)
    assert errors == {name: [] for name in errors}


# ------------------------------------------------------------------------------------------ language and fonts


def test_korean_renders_with_the_bundled_font(browser: WebDriver, site: Site, tmp_path: Path) -> None:
    """This machine has no system CJK font (fc-list :lang=ko is empty in CI): the pages must bring their
    own, or every Korean word is a row of boxes. The font is served, loaded for Hangul, and used."""
    d = browser
    d.delete_all_cookies()
    open_page(d, site.url + "/login?lang=ko")
    assert d.find_element(By.ID, "login-button").text == KO["login"]
    loaded = d.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "document.fonts.load('15px ncii-hangul', '한국어').then(f => done(f.map(x => x.status)), e => done(String(e)));"
    )
    assert loaded == ["loaded"], loaded  # the stylesheet declares it and the server sends it
    family = d.execute_script("return getComputedStyle(document.getElementById('login-button')).fontFamily")
    assert "ncii-hangul" in family
    # Drawn with the font, Hangul has strokes: a box glyph (tofu) is one empty rectangle of the same width.
    width = d.execute_script(
        "const c = document.createElement('canvas').getContext('2d');"
        "c.font = '40px ncii-hangul'; const a = c.measureText('한글').width;"
        "c.font = '40px monospace'; return [a, c.measureText('한글').width];"
    )
    assert width[0] > 0 and width[0] != width[1], width
    if SHOTS:
        (SHOTS / "login-ko.png").write_bytes(d.get_screenshot_as_png())
        sign_in(d, site, "worker")
        open_page(d, site.url + f"/cases/{site.fresh}/spread")
        d.execute_async_script(
            "const done = arguments[arguments.length - 1]; document.fonts.ready.then(() => done());"
        )
        (SHOTS / "spread-ko.png").write_bytes(d.get_screenshot_as_png())
    assert console_errors(d) == []


def test_one_language_from_the_login_page_to_the_error_pages(browser: WebDriver, site: Site) -> None:
    """English chosen on the login page stays English; signing in switches to the account's language,
    and the error pages then agree with the rest."""
    d = browser
    d.delete_all_cookies()
    open_page(d, site.url + "/login?lang=en")
    assert d.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
    open_page(d, site.url + "/no/such/page")
    assert d.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
    sign_in(d, site, "worker")  # a Korean account
    assert d.get_cookie("ncii_lang")["value"] == "ko"  # type: ignore[index]
    open_page(d, site.url + "/no/such/page")
    assert d.find_element(By.TAG_NAME, "html").get_attribute("lang") == "ko"


def test_a_scan_started_from_the_web_speaks_the_page_language(browser: WebDriver, site: Site) -> None:
    """The job card says each stage in Korean, the bar ends full (it used to stop where reading ended), and
    the finished scan appears in the table."""
    from tests.conftest import ASSETS
    from tests.exports import message, write_export

    folder = site.store.settings.import_dir or site.store.settings.data_dir / "imports"
    write_export(
        folder / "web-scan-export",
        [message(1, photo="photos/a.jpg", text="hello"), message(2, text="plain")],
        files={"photos/a.jpg": (ASSETS / "obama2.jpg").read_bytes()},
    )
    d = browser
    sign_in(d, site, "worker")
    open_page(d, site.url + f"/cases/{site.fresh}/scans")
    rows_before = len(d.find_elements(By.CSS_SELECTOR, "table#scans tbody tr"))
    d.find_element(By.CSS_SELECTOR, "#scan-name option[value='web-scan-export'], #scan-name").send_keys(
        "web-scan-export"
    )
    navigate(d, d.find_element(By.ID, "scan-button"))
    stages = {KO[f"stage_{s}"] for s in ("queued", "reading", "matching", "done")}
    seen: set[str] = set()

    def finished(drv: WebDriver) -> bool:
        text = drv.find_elements(By.ID, "job-text")
        if not text:  # reloaded without the job card: finished
            return True
        seen.add(text[0].text.split(":")[0])
        bar = drv.find_element(By.ID, "job-bar")
        return bar.get_attribute("value") == "100"

    wait(d, finished, timeout=120)
    assert seen and seen <= stages, seen  # never "done:" or "matching:" untranslated
    wait(d, lambda drv: not drv.find_elements(By.ID, "job-text"), timeout=30)
    assert len(d.find_elements(By.CSS_SELECTOR, "table#scans tbody tr")) == rows_before + 1
    assert console_errors(d) == []


def test_a_whole_family_is_decided_at_once(browser: WebDriver, site: Site) -> None:
    """From the spread page to one family's queue: select all, confirm; every copy of that photo is decided,
    nothing of the other families is."""
    from ncii_shield.read.families import case_families

    with site.store.session() as session:
        families = case_families(session, site.fresh)
    target = min((f for f in families if f.label != "messages" and f.undecided), key=lambda f: len(f.copies))
    d = browser
    sign_in(d, site, "worker")
    open_page(d, site.url + f"/cases/{site.fresh}/spread")
    link = d.find_element(By.CSS_SELECTOR, f'tr[data-family="{target.key}"] a[href*="review?family="]')
    navigate(d, link)
    shown = {r.get_attribute("data-item") for r in d.find_elements(By.CSS_SELECTOR, "table#queue tr.hit")}
    assert shown == {str(r.item_id) for r in target.copies}
    d.find_element(By.ID, "select-all").click()
    d.find_element(By.ID, "reason").send_keys("every copy of this photo, checked")
    navigate(d, d.find_element(By.ID, "confirm-selected"))
    assert f"family={target.key}" in d.current_url  # back to the same family
    assert d.find_element(By.CSS_SELECTOR, "p.flash").text == KO["saved_n"].format(
        n=target.undecided, decision=KO["confirmed"], left=0
    )
    with site.store.session() as session:
        after = {f.key: f for f in case_families(session, site.fresh)}
    assert after[target.key].undecided == 0
    assert all(after[f.key].undecided == f.undecided for f in families if f.key != target.key)
    assert console_errors(d) == []


# ------------------------------------------------------------------------------------------ the whole walk


def _walk_export(folder: Path) -> Path:
    """A zipped Telegram export as a case worker receives it: a new room where a member posts a mirrored,
    recompressed copy of the enrolled photo and another forwards it from the demo's school room."""
    import zipfile

    from tests.conftest import ASSETS
    from tests.exports import message, write_export

    root = folder / "ChatExport_2024-09-02"
    copy = io.BytesIO()
    Image.open(ASSETS / "obama.jpg").convert("RGB").transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(
        copy, "JPEG", quality=81
    )
    write_export(
        root,
        [
            message(1, photo="photos/a.jpg", text="누구인지 아는 사람?", sender="user7700001"),
            message(2, photo="photos/a.jpg", sender="user7700002", forwarded_from="○○고 겹지인방 (demo)"),
            message(3, text="nothing here", sender="user7700003"),
        ],
        chat_id=1807700001,
        name="Walk room (test)",
        files={"photos/a.jpg": copy.getvalue()},
    )
    out = folder / "ChatExport_2024-09-02.zip"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for member in sorted(root.rglob("*")):
            archive.write(member, f"{root.name}/{member.relative_to(root)}")
    return out


def test_the_whole_walk_upload_scan_review_a_family_spread_actors_notice(
    browser: WebDriver, site: Site, tmp_path: Path
) -> None:
    """What a case worker does with a new export, start to end, in the browser: upload it (zip, chunks, bar),
    scan it, review the family its copies joined (copy beside the enrolled photo, both revealed on purpose and
    audited), confirm the family at once, see where the photo went (the new room and the forward into it), who
    posted and forwarded it, and draft the notice that names those messages as images, with when they were
    collected. Every page is a real picture and the console stays clean."""
    from ncii_shield.read.families import case_families

    d, case = browser, site.fresh
    export = _walk_export(tmp_path)
    shots: list[str] = []

    def shot(name: str) -> None:
        picture(d, f"walk-{name}", tmp_path)
        shots.append(name)

    # 1. Upload the zipped export from the scans page; the scan runs and the page shows the new hits.
    sign_in(d, site, "worker")
    open_page(d, site.url + f"/cases/{case}/scans")
    d.find_element(By.ID, "upload-file").send_keys(str(export))
    d.find_element(By.ID, "upload-button").click()
    # (an earlier scan's summary may be on the page already: wait for this export's row and its summary)
    wait(
        d,
        lambda drv: (
            drv.find_elements(By.ID, "upload-deleted")
            and "ChatExport_2024-09-02" in drv.find_element(By.ID, "scans").text
        ),
        timeout=240,
    )
    assert int(d.find_element(By.ID, "new-hits").get_attribute("data-n") or 0) >= 2
    shot("scanned")
    with site.store.session() as session:
        families = case_families(session, case)
    family = next(f for f in families if any(r.chat == "Walk room (test)" for r in f.copies))
    new_items = {r.item_id for r in family.copies if r.chat == "Walk room (test)"}
    assert family.label == "obama.jpg" and len(new_items) == 2 and family.undecided >= 2

    # 2. From the spread page to that family's review queue.
    open_page(d, site.url + f"/cases/{case}/spread")
    navigate(d, d.find_element(By.CSS_SELECTOR, f'tr[data-family="{family.key}"] a[href*="review?family="]'))
    shown = {r.get_attribute("data-item") for r in d.find_elements(By.CSS_SELECTOR, "table#queue tr.hit")}
    assert {str(i) for i in new_items} <= shown
    item = min(new_items)
    hit_row = row(d, str(item))
    copy = hit_row.find_element(By.CSS_SELECTOR, "figure.side.copy img.thumb")
    reference = hit_row.find_element(By.CSS_SELECTOR, "figure.side.reference img.thumb")
    wait(d, lambda drv: loaded(drv, copy) and loaded(drv, reference))
    assert colourfulness(pixels(d, copy)) <= 2 and colourfulness(pixels(d, reference)) <= 2
    assert hit_row.find_elements(By.CSS_SELECTOR, "svg.overlay"), "the route's evidence is drawn on the copy"

    # 3. Reveal both, on purpose: in colour, each reveal in the audit chain.
    for side, image in (("copy", copy), ("reference", reference)):
        hit_row.find_element(By.CSS_SELECTOR, f"figure.side.{side} button.reveal").click()
        wait(d, lambda drv, image=image: str(image.get_attribute("src")).startswith(("blob:", "data:image/")))
        wait(d, lambda drv, image=image: loaded(drv, image) and colourfulness(pixels(drv, image)) > 30)
    shot("review")
    with site.store.session() as session:
        reveals = [
            (e.details["item"], e.details.get("what"))
            for e in session.scalars(
                select(AuditEvent).where(AuditEvent.action == "media.revealed", AuditEvent.case_id == case)
            )
        ]
    assert (item, "reference") in reveals and any(i == item and w != "reference" for i, w in reveals)

    # 4. Confirm the whole family at once: the count says what was saved and that nothing is left.
    d.find_element(By.ID, "select-all").click()
    d.find_element(By.ID, "reason").send_keys("her photo, mirrored; the person confirmed it")
    navigate(d, d.find_element(By.ID, "confirm-selected"))
    assert d.find_element(By.CSS_SELECTOR, "p.flash").text == KO["saved_n"].format(
        n=family.undecided, decision=KO["confirmed"], left=0
    )
    with site.store.session() as session:
        after = {f.key: f for f in case_families(session, case)}
    assert after[family.key].undecided == 0

    # 5. Where it went: the new room, with both copies, and the forward from the school room into it.
    open_page(d, site.url + f"/cases/{case}/spread")
    table = d.find_element(By.CSS_SELECTOR, f'tr[data-family="{family.key}"]')
    assert table.find_elements(By.TAG_NAME, "td")[-1].text == "0"  # nothing left to review
    page = d.find_element(By.TAG_NAME, "main").text
    assert "Walk room (test)" in page
    paths = [p.text for p in d.find_elements(By.CSS_SELECTOR, "table.paths tbody tr")]
    assert any("○○고 겹지인방 (demo)" in p and "Walk room (test)" in p for p in paths), paths
    shot("spread")

    # 6. Who: the poster and the forwarder of the new copies, by sender id, with their messages.
    open_page(d, site.url + f"/cases/{case}/actors")
    actors = {
        r.get_attribute("data-actor"): r.text for r in d.find_elements(By.CSS_SELECTOR, "tr[data-actor]")
    }
    for sender in ("user7700001", "user7700002"):
        entry = next(text for key, text in actors.items() if sender in key or sender in text)
        assert "Walk room (test)" in entry
    shot("actors")

    # 7. The notice: the two new messages, each said to be an image, with when it was collected.
    open_page(d, site.url + f"/cases/{case}/takedown")
    for field, value in (
        ("organisation", "Test Support Centre (fictional)"),
        ("email", "desk@support-centre.example"),
    ):
        d.find_element(By.ID, field).clear()
        d.find_element(By.ID, field).send_keys(value)
    navigate(d, d.find_element(By.ID, "draft-button"))
    with site.store.session() as session:
        notice_id = session.scalars(
            select(NoticeItem.notice_id)
            .where(NoticeItem.item_id == item)
            .order_by(NoticeItem.notice_id.desc())
        ).first()
    assert notice_id is not None
    open_page(d, site.url + f"/notices/{notice_id}")
    text = d.find_element(By.ID, "notice-text").text
    # Each of the two messages is one numbered block: where it is, what it is, when it was collected.
    blocks = [
        b for b in re.split(r"\n(?=\d+\) )", text) if "t.me/c/1807700001/" in b or "Walk room (test)" in b
    ]
    assert len(blocks) == 2, text
    for block in blocks:
        assert ("종류: 이미지" in block) or ("What it is: image" in block), block
        assert re.search(r"(수집 일시|Collected): \d{4}-\d{2}-\d{2}", block), block
    shot("notice")
    assert console_errors(d) == []
    assert shots == ["scanned", "review", "spread", "actors", "notice"]
